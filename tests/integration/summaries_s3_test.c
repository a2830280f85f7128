/*
 * summaries_s3_test.c - core/summaries.c against the fixture's Ceph
 * gateway, reached the trainer's way (a config's storage.s3 section and
 * gnarl_storage_open on an s3:// URI): summaries land in the bucket with
 * every field intact; with the gateway stopped (tests/s3/gateway.sh),
 * pushes still return at once, drops and failed writes are counted and
 * logged once, and after the gateway is back new summaries land.
 */
#define _GNU_SOURCE /* timegm, RUSAGE_THREAD */
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"
#include "gauges.h"
#include "storage.h"
#include "storage_s3_util.h"
#include "summaries.h"
#include "summaries_check.h"

extern char **environ;

static char bucket[64];
static char tmp_dir[64];
static bool gateway_down;
static struct sc_read rd;

/* The fixture's store, retrying briefly so an outage shows quickly. */
static struct gnarl_storage *open_store(struct gnarl_config **cfg)
{
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE], path[128], uri[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/s3.yaml", tmp_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "storage:\n"
	           "  s3:\n"
	           "    endpoint: ${S3_ENDPOINT_URL}\n"
	           "    access_key: ${S3_ACCESS_KEY_ID}\n"
	           "    secret_key: ${S3_SECRET_ACCESS_KEY}\n"
	           "    connect_timeout_ms: 1000\n"
	           "    timeout_ms: 5000\n"
	           "    max_retries: 1\n"
	           "    retry_base_ms: 100\n");
	fclose(f);
	if (gnarl_config_load(path, NULL, 0, cfg, err) != 0)
		fail_msg("config: %s", err);
	snprintf(uri, sizeof(uri), "s3://%s/runs", bucket);
	if (gnarl_storage_open(*cfg, uri, &st, err) != 0)
		fail_msg("open %s: %s", uri, err);
	return st;
}

/* tests/s3/gateway.sh stop|start on the fixture; waits for it. */
static void gateway(const char *verb)
{
	char script[4096];
	char *argv[] = {script, (char *)verb, (char *)s3t_env("GNARL_S3_DIR"), NULL};
	pid_t pid;
	int status;

	snprintf(script, sizeof(script), "%s/tests/s3/gateway.sh", GNARL_SOURCE_DIR);
	assert_int_equal(posix_spawn(&pid, script, NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	gateway_down = !strcmp(verb, "stop");
}

static void test_summaries_land(void **state)
{
	struct gnarl_config *cfg = NULL;
	struct gnarl_storage *st = open_store(&cfg);
	struct gnarl_summaries *s;
	struct gnarl_summaries_stats ss;
	struct gnarl_summaries_tuning tune = {
	    .batch_records = 16, .batch_ms = 100, .retries = 1, .backoff_ms = 100};
	double t0, t1;
	uint32_t i;

	(void)state;
	s = sc_create(st, "run-1/", 2, 256, NULL, &tune);
	t0 = sc_now();
	for (i = 0; i < 100; i++)
		assert_int_equal(sc_push(s, i, i % 5), 0);
	t1 = sc_now();
	sc_flush(s, 60000);
	gnarl_summaries_stats(s, &ss);
	assert_int_equal(ss.written, 100);
	assert_int_equal(ss.dropped_full + ss.dropped_failed + ss.failed_writes, 0);
	gnarl_summaries_free(s);

	sc_read_dir(st, "run-1/workers/worker_2/", 2, &rd);
	assert_int_equal(rd.n_lines, 100);
	assert_int_equal(rd.n_objects, ss.objects);
	for (i = 0; i < 100; i++)
		sc_check(rd.lines[i], 2, i, i, i % 5, t0, t1);
	sc_read_free(&rd);
	gnarl_storage_close(st);
	gnarl_config_free(cfg);
}

static double ns_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e9 + (double)(b.tv_nsec - a->tv_nsec);
}

static void test_gateway_outage(void **state)
{
	struct gnarl_config *cfg = NULL;
	struct gnarl_storage *st = open_store(&cfg);
	struct gnarl_gauges *g;
	struct gnarl_summaries *s;
	struct gnarl_summaries_stats ss;
	struct gnarl_summaries_tuning tune = {
	    .batch_records = 8, .batch_ms = 50, .retries = 2, .backoff_ms = 200};
	struct capture cap;
	struct rusage ru0, ru1;
	double ns, max_ns = 0, sum_ns = 0;
	char *log;
	uint32_t i, busy = 0;

	(void)state;
	assert_int_equal(gnarl_gauges_create(&g), 0);
	s = sc_create(st, "run-1/", 0, 32, g, &tune);
	for (i = 0; i < 10; i++)
		assert_int_equal(sc_push(s, i, i % 2), 0);
	sc_flush(s, 60000);

	capture_start(&cap, tmp_dir);
	gateway("stop");
	assert_int_equal(getrusage(RUSAGE_THREAD, &ru0), 0);
	for (i = 10; i < 210; i++) {
		struct timespec t;
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &t);
		rc = sc_push(s, i, i % 2);
		ns = ns_since(&t);
		sum_ns += ns;
		max_ns = ns > max_ns ? ns : max_ns;
		assert_true(rc == 0 || rc == GNARL_EBUSY);
		busy += rc == GNARL_EBUSY;
	}
	assert_int_equal(getrusage(RUSAGE_THREAD, &ru1), 0);
	assert_int_equal(ru1.ru_nvcsw - ru0.ru_nvcsw, 0); /* no push slept */
	/* Everything queued is handled within the retries: refused by a full
	 * queue, or in batches whose writes failed and which the store (down)
	 * cannot say are not there: unconfirmed until it can. */
	sc_flush(s, 120000);
	gnarl_summaries_stats(s, &ss);
	printf("gateway down: 200 pushes, mean %.0f ns, max %.0f ns; %u refused (queue full), "
	       "%llu dropped after retries, %llu unconfirmed, %llu failed writes\n",
	       sum_ns / 200, max_ns, busy, (unsigned long long)ss.dropped_failed,
	       (unsigned long long)ss.unconfirmed, (unsigned long long)ss.failed_writes);
	assert_true(busy > 0);
	assert_int_equal(ss.dropped_full, busy);
	assert_true(ss.unconfirmed > 0);
	assert_int_equal(ss.dropped_full + ss.dropped_failed + ss.unconfirmed, 200);
	assert_true(ss.failed_writes >= 3);
	assert_int_equal(ss.written, 10);
	assert_float_equal(gauge(g, "summaries/dropped"),
	                   (double)(ss.dropped_full + ss.dropped_failed), 0);
	assert_float_equal(gauge(g, "summaries/unconfirmed"), (double)ss.unconfirmed, 0);
	assert_float_equal(gauge(g, "summaries/failed_writes"), (double)ss.failed_writes, 0);
	assert_float_equal(gauge(g, "summaries/written"), 10, 0);

	gateway("start");
	for (i = 210; i < 230; i++)
		assert_int_equal(sc_push(s, i, i % 2), 0);
	sc_flush(s, 120000);
	gnarl_summaries_stats(s, &ss);
	assert_int_equal(ss.written, 30);
	/* Asked once the store answered again: none of those batches landed. */
	assert_int_equal(ss.unconfirmed, 0);
	assert_int_equal(ss.dropped_full + ss.dropped_failed, 200);
	assert_float_equal(gauge(g, "summaries/written"), 30, 0);
	assert_float_equal(gauge(g, "summaries/dropped"), 200, 0);
	gnarl_summaries_free(s);
	log = capture_end(&cap);
	assert_int_equal(count(log, "gnarl[summaries]: warning:"), 1);
	assert_int_equal(count(log, "again after"), 1);
	assert_int_equal(count(log, "200 summaries dropped"), 1);
	free(log);

	/* In the bucket: the 10 before and the 20 after, nothing else. */
	sc_read_dir(st, "run-1/workers/worker_0/", 0, &rd);
	assert_int_equal(rd.n_lines, 30);
	for (i = 0; i < 230; i++) {
		if (i >= 10 && i < 210) {
			assert_null(rd.lines[i]);
			continue;
		}
		sc_check(rd.lines[i], 0, i, i, i % 2, 0, 0);
	}
	sc_read_free(&rd);
	gnarl_gauges_free(g);
	gnarl_storage_close(st);
	gnarl_config_free(cfg);
}

/* A failed test must not leave the gateway down for the tests after it. */
static int restart_gateway(void **state)
{
	(void)state;
	sc_read_free(&rd);
	if (gateway_down)
		gateway("start");
	return 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/gnarl-sum-s3.XXXXXX");
	if (!mkdtemp(tmp_dir))
		return -1;
	return s3t_create_bucket(bucket, sizeof(bucket), "summaries") < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_summaries_land, restart_gateway),
	    cmocka_unit_test_teardown(test_gateway_outage, restart_gateway),
	};

	s3t_load_fixture();
	return cmocka_run_group_tests_name("summaries_s3", tests, setup, teardown);
}
