/*
 * storage_s3_core_test.c - S3 the way the trainer reaches it: a YAML
 * config with a `storage.s3` section (credentials as ${VAR}), loaded by
 * the core, and gnarl_storage_open() on an s3:// URI, which finds the s3
 * plugin, validates its params and lends it a host.  Against the
 * fixture's Ceph gateway.  Checks the round trip, that the config copy
 * keeps secrets out, the 403 code through the core, a param error with
 * its file:line, and gnarl_storage_split_uri on a checkpoint URI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"
#include "storage.h"
#include "storage_s3_util.h"
#include "value.h"

static char bucket[64];

/* Write a config with `extra` lines under storage.s3 and load it. */
static int load(const char *extra, struct gnarl_config **cfg, char err[GNARL_ERR_SIZE])
{
	char path[128];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/tmp/gnarl-s3-core-%ld.yaml", (long)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "storage:\n"
	           "  s3:\n"
	           "    endpoint: ${S3_ENDPOINT_URL}\n"
	           "    access_key: ${S3_ACCESS_KEY_ID}\n"
	           "    secret_key: ${S3_SECRET_ACCESS_KEY}\n"
	           "    list_page_size: 2\n"
	           "%s",
	        extra);
	fclose(f);
	rc = gnarl_config_load(path, NULL, 0, cfg, err);
	unlink(path);
	return rc;
}

static void test_round_trip_through_core(void **state)
{
	struct gnarl_config *cfg = NULL;
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE], uri[128], *root, *key, *yaml;
	void *data;
	size_t len;

	assert_int_equal(load("", &cfg, err), 0);
	snprintf(uri, sizeof(uri), "s3://%s/runs/r1", bucket);
	if (gnarl_storage_open(cfg, uri, &st, err) != 0)
		fail_msg("open %s: %s", uri, err);
	assert_string_equal(gnarl_storage_plugin_name(st), "s3");
	for (int i = 0; i < 5; i++) {
		char k[64];
		snprintf(k, sizeof(k), "checkpoints/checkpoint_%06d/manifest.json", i);
		assert_int_equal(gnarl_storage_put(st, k, "{}", 2, err), 0);
	}
	assert_int_equal(gnarl_storage_get(st, "checkpoints/checkpoint_000003/manifest.json", &data,
	                                   &len, err), 0);
	assert_int_equal(len, 2);
	assert_string_equal(data, "{}");
	free(data);
	assert_int_equal(gnarl_storage_exists(st, "checkpoints/checkpoint_000004/manifest.json", err),
	                 1);
	gnarl_storage_close(st);

	/* A checkpoint URI splits into a root the s3 plugin opens + a key. */
	snprintf(uri, sizeof(uri), "s3://%s/runs/r1/checkpoints/checkpoint_000003", bucket);
	assert_int_equal(gnarl_storage_split_uri(uri, &root, &key, err), 0);
	assert_int_equal(gnarl_storage_open(cfg, root, &st, err), 0);
	assert_string_equal(key, "checkpoint_000003");
	assert_int_equal(gnarl_storage_exists(st, "checkpoint_000003/manifest.json", err), 1);
	gnarl_storage_close(st);
	free(root);
	free(key);

	/* The config as the run copies it: no secret, the ${VAR} instead. */
	yaml = gnarl_value_to_yaml(cfg->root, false);
	assert_non_null(yaml);
	assert_null(strstr(yaml, s3t_env("S3_SECRET_ACCESS_KEY")));
	assert_non_null(strstr(yaml, "${S3_SECRET_ACCESS_KEY}"));
	free(yaml);
	gnarl_config_free(cfg);
}

static void test_wrong_secret_through_core(void **state)
{
	struct gnarl_config *cfg = NULL;
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE], uri[128];
	const char *secret = getenv("S3_SECRET_ACCESS_KEY");
	char saved[256];

	snprintf(saved, sizeof(saved), "%s", secret);
	setenv("S3_SECRET_ACCESS_KEY", "wrong-secret-for-this-test", 1);
	assert_int_equal(load("", &cfg, err), 0);
	setenv("S3_SECRET_ACCESS_KEY", saved, 1);
	snprintf(uri, sizeof(uri), "s3://%s/runs", bucket);
	assert_int_equal(gnarl_storage_open(cfg, uri, &st, err), 0);
	assert_int_equal(gnarl_storage_put(st, "x", "x", 1, err), GNARL_EACCES);
	assert_non_null(strstr(err, "access denied by"));
	assert_null(strstr(err, "wrong-secret-for-this-test"));
	gnarl_storage_close(st);
	gnarl_config_free(cfg);
}

static void test_param_error_names_the_line(void **state)
{
	struct gnarl_config *cfg = NULL;
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE], uri[128];

	assert_int_equal(load("    part_size: 1024\n", &cfg, err), 0);
	snprintf(uri, sizeof(uri), "s3://%s/runs", bucket);
	assert_int_equal(gnarl_storage_open(cfg, uri, &st, err), GNARL_ECONFIG);
	assert_null(st);
	assert_non_null(strstr(err, ":7:"));
	assert_non_null(strstr(err, "storage.s3.part_size"));
	gnarl_config_free(cfg);
}

static int setup(void **state)
{
	return s3t_create_bucket(bucket, sizeof(bucket), "core");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_through_core),
		cmocka_unit_test(test_wrong_secret_through_core),
		cmocka_unit_test(test_param_error_names_the_line),
	};

	s3t_load_fixture();
	return cmocka_run_group_tests_name("storage_s3_core", tests, setup, NULL);
}
