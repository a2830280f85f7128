/*
 * test_storage.c - core/storage.c with the real `local` plugin (found
 * through GNARL_PLUGIN_PATH, as ctest sets it): URI splitting, scheme ->
 * plugin, whole-object helpers, key checks, and the local plugin's
 * contract (atomic put, parents created, sorted recursive listing, remove
 * of missing keys, exists, file:// roots, storage.local params).
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"
#include "storage.h"

static char tmp_root[256];

static int make_tmp(void **state)
{
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/gnarl-test-storage.XXXXXX");
	return mkdtemp(tmp_root) ? 0 : -1;
}

static int rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

static int drop_tmp(void **state)
{
	return rm_rf(tmp_root) == 0 ? 0 : -1;
}

static struct gnarl_storage *open_root(const char *root)
{
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE];

	if (gnarl_storage_open(NULL, root, &st, err) != 0)
		fail_msg("open %s: %s", root, err);
	return st;
}

static void split(const char *uri, const char *root, const char *key)
{
	char *r, *k, err[GNARL_ERR_SIZE];

	if (gnarl_storage_split_uri(uri, &r, &k, err) != 0)
		fail_msg("split %s: %s", uri, err);
	assert_string_equal(r, root);
	assert_string_equal(k, key);
	free(r);
	free(k);
}

static void test_split_uri(void **state)
{
	char *r, *k, err[GNARL_ERR_SIZE];

	split("s3://b/runs/x/checkpoints/checkpoint_000150", "s3://b/runs/x/checkpoints",
	      "checkpoint_000150");
	split("s3://b/ckpt/", "s3://b", "ckpt");
	split("s3://b/k", "s3://b", "k");
	split("runs/x/checkpoints/checkpoint_000001", "runs/x/checkpoints", "checkpoint_000001");
	split("ckpt", ".", "ckpt");
	split("/ckpt", "/", "ckpt");
	split("/data/runs/c//", "/data/runs", "c");
	split("file:///data/c", "file:///data", "c");
	split("file:///c", "file:///", "c");
	split("../up/c", "../up", "c");
	assert_int_equal(gnarl_storage_split_uri("s3://b", &r, &k, err), GNARL_EINVAL);
	assert_non_null(strstr(err, "s3://b"));
	assert_int_equal(gnarl_storage_split_uri("s3://b/", &r, &k, err), GNARL_EINVAL);
	assert_int_equal(gnarl_storage_split_uri("", &r, &k, err), GNARL_EINVAL);
	assert_int_equal(gnarl_storage_split_uri("a/..", &r, &k, err), GNARL_EINVAL);
	assert_null(r);
	assert_null(k);
}

static void test_round_trip(void **state)
{
	struct gnarl_storage *st = open_root(tmp_root);
	char err[GNARL_ERR_SIZE], path[512];
	void *data;
	size_t len;
	struct stat sb;

	assert_string_equal(gnarl_storage_plugin_name(st), "local");
	assert_string_equal(gnarl_storage_root(st), tmp_root);
	assert_int_equal(gnarl_storage_put(st, "deep/er/obj.txt", "hello", 5, err), 0);
	snprintf(path, sizeof(path), "%s/deep/er/obj.txt", tmp_root);
	assert_int_equal(stat(path, &sb), 0); /* parents were created */
	assert_int_equal(sb.st_size, 5);
	assert_int_equal(gnarl_storage_get(st, "deep/er/obj.txt", &data, &len, err), 0);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello"); /* NUL appended */
	free(data);
	assert_int_equal(gnarl_storage_put(st, "deep/er/obj.txt", "", 0, err), 0);
	assert_int_equal(gnarl_storage_get(st, "deep/er/obj.txt", &data, &len, err), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);
	assert_int_equal(gnarl_storage_exists(st, "deep/er/obj.txt", err), 1);
	assert_int_equal(gnarl_storage_exists(st, "deep/er", err), 0); /* a directory */
	assert_int_equal(gnarl_storage_exists(st, "nope", err), 0);
	assert_int_equal(gnarl_storage_get(st, "nope/x", &data, &len, err), GNARL_ENOENT);
	assert_non_null(strstr(err, "nope/x"));
	assert_null(data);
	assert_int_equal(gnarl_storage_remove(st, "deep/er/obj.txt", err), 0);
	assert_int_equal(gnarl_storage_exists(st, "deep/er/obj.txt", err), 0);
	assert_int_equal(gnarl_storage_remove(st, "deep/er/obj.txt", err), 0); /* missing: fine */
	snprintf(path, sizeof(path), "%s/deep", tmp_root);
	assert_int_not_equal(stat(path, &sb), 0);     /* emptied directories go */
	assert_int_equal(stat(tmp_root, &sb), 0);     /* but never the root */
	gnarl_storage_close(st);
}

static void test_bad_keys(void **state)
{
	static const char *bad[] = {"", "/abs", "../up", "a/../b", "a//b", "a/./b", "a/", "."};
	struct gnarl_storage *st = open_root(tmp_root);
	char err[GNARL_ERR_SIZE];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(gnarl_storage_put(st, bad[i], "x", 1, err), GNARL_EINVAL);
		assert_int_equal(gnarl_storage_exists(st, bad[i], err), GNARL_EINVAL);
	}
	assert_int_equal(gnarl_storage_list(st, "../", NULL, NULL, err), GNARL_EINVAL);
	gnarl_storage_close(st);
}

struct collected {
	char text[4096];
	int count;
};

static int collect(void *ctx, const char *key, uint64_t size)
{
	struct collected *c = ctx;
	size_t n = strlen(c->text);

	snprintf(c->text + n, sizeof(c->text) - n, "%s=%llu;", key, (unsigned long long)size);
	c->count++;
	return 0;
}

static void list_is(struct gnarl_storage *st, const char *prefix, const char *want)
{
	struct collected c = {{0}, 0};
	char err[GNARL_ERR_SIZE];

	if (gnarl_storage_list(st, prefix, collect, &c, err) != 0)
		fail_msg("list '%s': %s", prefix, err);
	assert_string_equal(c.text, want);
}

static void test_list(void **state)
{
	static const char *keys[] = {"b", "a/z", "a/b/c", "a0", "a/b/d/e", "ab"};
	char root[300], err[GNARL_ERR_SIZE], path[600];
	struct gnarl_storage *st;
	FILE *f;

	snprintf(root, sizeof(root), "file://%s/listing", tmp_root);
	st = open_root(root);
	list_is(st, "", ""); /* the root does not exist yet */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(gnarl_storage_put(st, keys[i], keys[i], strlen(keys[i]), err), 0);
	/* A temporary file a crash left behind is never listed. */
	snprintf(path, sizeof(path), "%s/listing/a/.gnarl-tmp.z.1.0", tmp_root);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	/* Byte order: '/' (0x2f) sorts before '0' and 'b'. */
	list_is(st, "", "a/b/c=5;a/b/d/e=7;a/z=3;a0=2;ab=2;b=1;");
	list_is(st, "a/", "a/b/c=5;a/b/d/e=7;a/z=3;");
	list_is(st, "a", "a/b/c=5;a/b/d/e=7;a/z=3;a0=2;ab=2;");
	list_is(st, "a/b", "a/b/c=5;a/b/d/e=7;");
	list_is(st, "a/b/d/", "a/b/d/e=7;");
	list_is(st, "zz", "");
	list_is(st, "a/q/", "");
	gnarl_storage_close(st);
}

static int stop_after_one(void *ctx, const char *key, uint64_t size)
{
	(*(int *)ctx)++;
	return 1;
}

static void test_list_stops(void **state)
{
	struct gnarl_storage *st = open_root(tmp_root);
	char err[GNARL_ERR_SIZE];
	int calls = 0;

	assert_int_equal(gnarl_storage_put(st, "s/1", "1", 1, err), 0);
	assert_int_equal(gnarl_storage_put(st, "s/2", "2", 1, err), 0);
	assert_int_equal(gnarl_storage_list(st, "s/", stop_after_one, &calls, err),
	                 GNARL_EINTERRUPTED);
	assert_int_equal(calls, 1);
	gnarl_storage_close(st);
}

/* Writers replace one key with whole 64 KiB blocks of one byte value
 * while a reader checks it always sees one whole block. */
#define BLOCK 65536

struct race {
	struct gnarl_storage *st;
	int id;
	int bad;
};

static void *writer(void *arg)
{
	struct race *r = arg;
	char err[GNARL_ERR_SIZE];
	unsigned char *buf = malloc(BLOCK);

	memset(buf, 'A' + r->id, BLOCK);
	for (int i = 0; i < 30; i++)
		if (gnarl_storage_put(r->st, "race/key", buf, BLOCK, err) != 0)
			r->bad++;
	free(buf);
	return NULL;
}

static void *reader(void *arg)
{
	struct race *r = arg;
	char err[GNARL_ERR_SIZE];
	unsigned char *data;
	size_t len;

	for (int i = 0; i < 60; i++) {
		if (gnarl_storage_get(r->st, "race/key", (void **)&data, &len, err) != 0) {
			r->bad++;
			continue;
		}
		if (len != BLOCK)
			r->bad++;
		for (size_t j = 1; j < len; j++)
			if (data[j] != data[0]) {
				r->bad++;
				break;
			}
		free(data);
	}
	return NULL;
}

static void test_atomic_put(void **state)
{
	struct gnarl_storage *st = open_root(tmp_root);
	struct race r[4];
	pthread_t th[4];
	char err[GNARL_ERR_SIZE], path[600];
	unsigned char *first = malloc(BLOCK);
	struct dirent *de;
	DIR *d;

	memset(first, 'Z', BLOCK);
	assert_int_equal(gnarl_storage_put(st, "race/key", first, BLOCK, err), 0);
	free(first);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct race){.st = st, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, i < 3 ? writer : reader, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].bad, 0);
	}
	/* No temporary file is left next to the object. */
	snprintf(path, sizeof(path), "%s/race", tmp_root);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)))
		assert_true(de->d_name[0] == '.' ? strncmp(de->d_name, ".gnarl-tmp", 10) != 0
		                                 : strcmp(de->d_name, "key") == 0);
	closedir(d);
	gnarl_storage_close(st);
}

static void test_unknown_scheme(void **state)
{
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE];

	assert_int_not_equal(gnarl_storage_open(NULL, "nosuchscheme://b/p", &st, err), 0);
	assert_null(st);
	assert_non_null(strstr(err, "no plugin for scheme 'nosuchscheme'"));
	assert_int_not_equal(gnarl_storage_open(NULL, "", &st, err), 0);
}

static void test_params_from_config(void **state)
{
	const char *good[] = {"storage.local.fsync=false"};
	const char *bad[] = {"storage.local.fsyn=false"};
	struct gnarl_config *cfg = NULL;
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE];
	void *data;
	size_t len;

	assert_int_equal(gnarl_config_load(NULL, good, 1, &cfg, err), 0);
	if (gnarl_storage_open(cfg, tmp_root, &st, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(gnarl_storage_put(st, "nofsync", "x", 1, err), 0);
	assert_int_equal(gnarl_storage_get(st, "nofsync", &data, &len, err), 0);
	free(data);
	gnarl_storage_close(st);
	gnarl_config_free(cfg);

	assert_int_equal(gnarl_config_load(NULL, bad, 1, &cfg, err), 0);
	assert_int_equal(gnarl_storage_open(cfg, tmp_root, &st, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "storage.local.fsyn"));
	assert_non_null(strstr(err, "fsync")); /* did you mean */
	assert_null(st);
	gnarl_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_uri),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_list_stops),
		cmocka_unit_test(test_atomic_put),
		cmocka_unit_test(test_unknown_scheme),
		cmocka_unit_test(test_params_from_config),
	};

	return cmocka_run_group_tests_name("storage", tests, make_tmp, drop_tmp);
}
