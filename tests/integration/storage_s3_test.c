/*
 * storage_s3_test.c - the `s3` storage plugin against a real S3 server:
 * the single-node Ceph RADOS gateway the `s3` CTest fixture starts
 * (tests/s3/start.sh), which checks SigV4 signatures like AWS.
 *
 * Round trips (small, empty, odd keys, multipart with checksums and the
 * multipart ETag), listings over several pages, the user-facing errors
 * (wrong secret -> 403 message, missing bucket, unreachable endpoint),
 * create_bucket, virtual-host URLs, and concurrent use.  Error paths the
 * gateway will not produce on demand (503, 429, 500, a cut download, a
 * stall, a failing part) are in storage_s3_faults_test.c, through
 * tests/s3/fault_proxy.py.  Tests also check that the secret key never
 * reached the plugin's log or an error message.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage_s3_util.h"

static char bucket[64];        /* created once for the whole program */

static void no_secret_in(const struct tstore *ts, const char *err)
{
	const char *secret = s3t_env("S3_SECRET_ACCESS_KEY");

	assert_null(strstr(ts->th.log, secret));
	assert_null(strstr(err, secret));
}

/* Open s3://<bucket>/<prefix> with the fixture's env credentials. */
static void open_store(struct tstore *ts, const char *prefix, struct test_host *t)
{
	struct test_host local;
	char root[256], err[GNARL_ERR_SIZE];

	if (!t) {
		th_init(&local);
		t = &local;
	}
	snprintf(root, sizeof(root), "s3://%s/%s", bucket, prefix);
	if (tstore_open(ts, "s3", root, t, err) != 0)
		fail_msg("open %s: %s", root, err);
}

static void test_small_round_trip(void **state)
{
	struct tstore ts;
	char err[GNARL_ERR_SIZE];
	unsigned char *data;
	size_t len;
	const char *text = "hello, gnarl\n";

	open_store(&ts, "small", NULL);
	assert_int_equal(tstore_put(&ts, "a/b.txt", text, strlen(text), err), 0);
	assert_int_equal(tstore_get(&ts, "a/b.txt", &data, &len, err), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(data, text, len);
	free(data);
	/* The URI's prefix is part of the object key. */
	{
		char path[256], etag[256];
		snprintf(path, sizeof(path), "/%s/small/a/b.txt", bucket);
		assert_int_equal(s3t_raw("HEAD", path, NULL, etag), 200);
	}
	assert_int_equal(ts.ops->exists(ts.store, "a/b.txt", err), 1);
	assert_int_equal(ts.ops->exists(ts.store, "a/missing", err), 0);
	assert_int_equal(ts.ops->remove(ts.store, "a/b.txt", err), 0);
	assert_int_equal(ts.ops->exists(ts.store, "a/b.txt", err), 0);
	assert_int_equal(ts.ops->remove(ts.store, "a/b.txt", err), 0); /* missing is fine */
	assert_int_equal(tstore_get(&ts, "a/b.txt", &data, &len, err), GNARL_ENOENT);
	assert_non_null(strstr(err, "small/a/b.txt"));
	/* Empty objects and overwrite. */
	assert_int_equal(tstore_put(&ts, "empty", "", 0, err), 0);
	assert_int_equal(tstore_get(&ts, "empty", &data, &len, err), 0);
	assert_int_equal(len, 0);
	free(data);
	assert_int_equal(tstore_put(&ts, "empty", "x", 1, err), 0);
	assert_int_equal(tstore_get(&ts, "empty", &data, &len, err), 0);
	assert_int_equal(len, 1);
	free(data);
	/* Keys the plugin must refuse (curl would rewrite them). */
	assert_int_equal(tstore_put(&ts, "a/../b", "x", 1, err), GNARL_EINVAL);
	assert_int_equal(tstore_put(&ts, "/abs", "x", 1, err), GNARL_EINVAL);
	no_secret_in(&ts, err);
	tstore_close(&ts);
}

/* Keys with characters that need URL encoding and XML escaping. */
static void test_odd_keys(void **state)
{
	static const char *keys[] = {"odd/a b+c=d&e.txt", "odd/caf\xc3\xa9 \xe2\x82\xac~_-.bin",
	                             "odd/q?x#y%z'\"<>"};
	struct tstore ts;
	char err[GNARL_ERR_SIZE], *text, want[256];
	unsigned char *data;
	size_t len, count;

	open_store(&ts, "", NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tstore_put(&ts, keys[i], keys[i], strlen(keys[i]), err), 0);
		assert_int_equal(tstore_get(&ts, keys[i], &data, &len, err), 0);
		assert_int_equal(len, strlen(keys[i]));
		assert_memory_equal(data, keys[i], len);
		free(data);
	}
	assert_int_equal(tstore_list(&ts, "odd/", &text, &count, err), 0);
	assert_int_equal(count, 3);
	/* Byte order: "a" < "c" < "q"; sizes are the keys' lengths. */
	snprintf(want, sizeof(want), "%s %zu\n%s %zu\n%s %zu\n", keys[0], strlen(keys[0]), keys[1],
	         strlen(keys[1]), keys[2], strlen(keys[2]));
	assert_string_equal(text, want);
	free(text);
	tstore_close(&ts);
}

static void check_multipart(size_t size, const char *key, int expect_parts)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], path[256], etag[256], suffix[16];
	unsigned char *in = malloc(size), *out, a[32], b[32];
	size_t len;

	assert_non_null(in);
	s3t_fill(in, size, size);
	th_init(&t);
	th_int(&t, "multipart_threshold", 5 * 1024 * 1024);
	th_int(&t, "part_size", 5 * 1024 * 1024);
	open_store(&ts, "multi", &t);
	assert_int_equal(tstore_put(&ts, key, in, size, err), 0);
	assert_int_equal(tstore_get(&ts, key, &out, &len, err), 0);
	assert_int_equal(len, size);
	s3t_sha256(in, size, a);
	s3t_sha256(out, len, b);
	assert_memory_equal(a, b, 32);
	/* A multipart object's ETag ends in "-<parts>"; a plain one has none. */
	snprintf(path, sizeof(path), "/%s/multi/%s", bucket, key);
	assert_int_equal(s3t_raw("HEAD", path, NULL, etag), 200);
	if (expect_parts) {
		snprintf(suffix, sizeof(suffix), "-%d\"", expect_parts);
		assert_non_null(strstr(etag, suffix));
	} else {
		assert_null(strchr(etag, '-'));
	}
	free(in);
	free(out);
	tstore_close(&ts);
}

static void test_multipart_12mib(void **state)
{
	check_multipart(12u << 20, "big/twelve.bin", 3); /* 5 + 5 + 2 MiB */
}

static void test_below_threshold_is_one_put(void **state)
{
	check_multipart(3u << 20, "big/three.bin", 0);
}

static void test_list_pages(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], key[64], *text, *p;
	size_t count;
	int i;

	th_init(&t);
	th_int(&t, "list_page_size", 7);
	open_store(&ts, "list/root", &t);
	/* 25 keys + 3 outside the listed prefix; written in reverse order. */
	for (i = 24; i >= 0; i--) {
		snprintf(key, sizeof(key), "run/k%03d", i);
		assert_int_equal(tstore_put(&ts, key, key, (size_t)i, err), 0);
	}
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "other/k%d", i);
		assert_int_equal(tstore_put(&ts, key, key, 1, err), 0);
	}
	assert_int_equal(tstore_list(&ts, "run/", &text, &count, err), 0);
	assert_int_equal(count, 25); /* 4 pages of at most 7 */
	p = text;
	for (i = 0; i < 25; i++) {
		char want[64];
		snprintf(want, sizeof(want), "run/k%03d %d\n", i, i);
		assert_memory_equal(p, want, strlen(want));
		p += strlen(want);
	}
	free(text);
	assert_int_equal(tstore_list(&ts, "", &text, &count, err), 0);
	assert_int_equal(count, 28);
	assert_memory_equal(text, "other/k0 1\n", 11); /* relative to the root */
	free(text);
	assert_int_equal(tstore_list(&ts, "run/k02", &text, &count, err), 0);
	assert_int_equal(count, 5);
	free(text);
	assert_int_equal(tstore_list(&ts, "none/", &text, &count, err), 0);
	assert_int_equal(count, 0);
	free(text);
	tstore_close(&ts);
}

static void test_wrong_secret(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], want[256];
	unsigned char *data;
	size_t len;

	th_init(&t);
	th_str(&t, "secret_key", "not-the-secret-0123456789");
	open_store(&ts, "denied", &t);
	assert_int_equal(tstore_put(&ts, "x", "x", 1, err), GNARL_EACCES);
	snprintf(want, sizeof(want), "access denied by %s for key id %s: the secret key may be wrong",
	         s3t_env("S3_ENDPOINT_URL"), s3t_env("S3_ACCESS_KEY_ID"));
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "clock skewed (S3 said: SignatureDoesNotMatch) during put"));
	fprintf(stderr, "  403 message: %s\n", err);
	assert_null(strstr(err, "not-the-secret"));
	assert_null(strstr(ts.th.log, "not-the-secret"));
	no_secret_in(&ts, err);
	assert_int_equal(tstore_get(&ts, "x", &data, &len, err), GNARL_EACCES);
	tstore_close(&ts);
}

static void test_missing_bucket(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], root[128], want[256];

	snprintf(root, sizeof(root), "s3://gnarl-missing-%ld/p", (long)getpid());
	th_init(&t);
	assert_int_equal(tstore_open(&ts, "s3", root, &t, err), 0);
	assert_int_equal(tstore_put(&ts, "x", "x", 1, err), GNARL_ENOENT);
	snprintf(want, sizeof(want), "bucket 'gnarl-missing-%ld' does not exist at %s", (long)getpid(),
	         s3t_env("S3_ENDPOINT_URL"));
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "create_bucket: true"));
	fprintf(stderr, "  404 message: %s\n", err);
	/* A missing bucket is an error for remove too, not "already gone". */
	assert_int_equal(ts.ops->remove(ts.store, "x", err), GNARL_ENOENT);
	tstore_close(&ts);
}

static void test_create_bucket(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], root[128], path[128];
	unsigned char *data;
	size_t len;

	snprintf(root, sizeof(root), "s3://gnarl-created-%ld/run", (long)getpid());
	th_init(&t);
	th_bool(&t, "create_bucket", true);
	for (int round = 0; round < 2; round++) { /* the second finds it ours */
		if (tstore_open(&ts, "s3", root, &t, err) != 0)
			fail_msg("create_bucket round %d: %s", round, err);
		assert_int_equal(tstore_put(&ts, "k", "v", 1, err), 0);
		assert_int_equal(tstore_get(&ts, "k", &data, &len, err), 0);
		assert_int_equal(len, 1);
		free(data);
		tstore_close(&ts);
	}
	snprintf(path, sizeof(path), "/gnarl-created-%ld/run/k", (long)getpid());
	assert_int_equal(s3t_raw("HEAD", path, NULL, err), 200);
}

static void test_unreachable(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], want[128];

	/* Port 9 on loopback: nothing listens (discard is not running). */
	th_init(&t);
	th_str(&t, "endpoint", "http://127.0.0.1:9");
	th_int(&t, "max_retries", 2);
	th_int(&t, "retry_base_ms", 10);
	open_store(&ts, "x", &t);
	assert_int_equal(tstore_put(&ts, "k", "v", 1, err), GNARL_ECONN);
	snprintf(want, sizeof(want), "cannot reach S3 endpoint http://127.0.0.1:9");
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "3 attempts"));
	fprintf(stderr, "  unreachable message: %s\n", err);
	tstore_close(&ts);
}

static void test_virtual_host_style(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], endpoint[128], *text;
	const char *port = strrchr(s3t_env("S3_ENDPOINT_URL"), ':') + 1;
	unsigned char *data;
	size_t len, count;

	/* curl resolves *.localhost to loopback; the gateway's rgw dns name
	 * is localhost, so <bucket>.localhost:<port> is the bucket. */
	snprintf(endpoint, sizeof(endpoint), "http://localhost:%s", port);
	th_init(&t);
	th_str(&t, "endpoint", endpoint);
	th_bool(&t, "path_style", false);
	open_store(&ts, "vhost", &t);
	assert_int_equal(tstore_put(&ts, "dir/k", "vhost", 5, err), 0);
	assert_int_equal(tstore_get(&ts, "dir/k", &data, &len, err), 0);
	assert_int_equal(len, 5);
	free(data);
	assert_int_equal(tstore_list(&ts, "dir/", &text, &count, err), 0);
	assert_int_equal(count, 1);
	assert_string_equal(text, "dir/k 5\n");
	free(text);
	tstore_close(&ts);
}

/* Several threads on one store: puts and gets of their own keys. */
struct worker {
	struct tstore *ts;
	int id, failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char key[32], err[GNARL_ERR_SIZE];
	unsigned char buf[4096], *out;
	size_t len;

	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "w%d/%02d", w->id, i);
		s3t_fill(buf, sizeof(buf), (uint64_t)(w->id * 100 + i));
		if (tstore_put(w->ts, key, buf, sizeof(buf), err) != 0 ||
		    tstore_get(w->ts, key, &out, &len, err) != 0) {
			w->failures++;
			continue;
		}
		if (len != sizeof(buf) || memcmp(out, buf, len) != 0)
			w->failures++;
		free(out);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct tstore ts;
	struct worker w[4];
	pthread_t th[4];
	char err[GNARL_ERR_SIZE], *text;
	size_t count;

	open_store(&ts, "threads", NULL);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.ts = &ts, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(tstore_list(&ts, "", &text, &count, err), 0);
	assert_int_equal(count, 80);
	free(text);
	tstore_close(&ts);
}

static int setup(void **state)
{
	return s3t_create_bucket(bucket, sizeof(bucket), "test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_round_trip),
		cmocka_unit_test(test_odd_keys),
		cmocka_unit_test(test_multipart_12mib),
		cmocka_unit_test(test_below_threshold_is_one_put),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_wrong_secret),
		cmocka_unit_test(test_missing_bucket),
		cmocka_unit_test(test_create_bucket),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_virtual_host_style),
		cmocka_unit_test(test_threads),
	};

	s3t_load_fixture();
	return cmocka_run_group_tests_name("storage_s3", tests, setup, NULL);
}
