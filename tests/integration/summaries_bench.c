/*
 * summaries_bench.c - what episode summaries cost: gnarl_summaries_push()
 * in ns (mean over a loop, and percentiles of single timed calls, while
 * the writer drains to local disk), and the writer's rate to local disk
 * and to the fixture's Ceph gateway, one object per record vs batches
 * (the measurement behind the batching in core/summaries.h).
 *
 * Prints numbers; fails only when a summary is lost.  The S3 part runs
 * when GNARL_S3_ENV names a running fixture (as under ctest).
 */
#define _GNU_SOURCE /* timegm, RUSAGE_THREAD */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"
#include "storage.h"
#include "storage_s3_util.h"
#include "summaries.h"
#include "summaries_check.h"

#define CAP     (1u << 17)
#define SAMPLES 100000

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct gnarl_summaries *make(struct gnarl_storage *st, const char *prefix, uint32_t batch)
{
	struct gnarl_summaries_tuning tune = {
	    .batch_records = batch, .batch_ms = 5000, .retries = 3, .backoff_ms = 1000};

	return sc_create(st, prefix, 0, CAP, NULL, &tune);
}

static void push_cost(struct gnarl_storage *st)
{
	static double ns[SAMPLES];
	struct gnarl_summaries *s = make(st, "push/", 1024);
	struct gnarl_summaries_stats ss;
	struct sc_case c[64];
	char err[GNARL_ERR_SIZE];
	struct timespec a, b;
	struct rusage ru0, ru1;
	double t0, dt;
	uint32_t i;

	for (i = 0; i < 64; i++)
		sc_make(&c[i], i, i % 16);
	getrusage(RUSAGE_THREAD, &ru0);
	t0 = mono();
	for (i = 0; i < SAMPLES; i++)
		gnarl_summaries_push(s, &c[i % 64].rec);
	dt = mono() - t0;
	getrusage(RUSAGE_THREAD, &ru1);
	if (gnarl_summaries_flush(s, 120000, err) != 0) /* room for the second pass */
		fail_msg("flush: %s", err);
	for (i = 0; i < SAMPLES; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		gnarl_summaries_push(s, &c[i % 64].rec);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns[i] = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	}
	if (gnarl_summaries_flush(s, 120000, err) != 0)
		fail_msg("flush: %s", err);
	gnarl_summaries_stats(s, &ss);
	assert_int_equal(ss.written, 2 * SAMPLES);
	qsort(ns, SAMPLES, sizeof(ns[0]), cmp_double);
	printf("push: mean %.0f ns over %d calls in a loop (%ld voluntary context switches: "
	       "sleeps; %ld involuntary: preemptions); single calls timed one by one (min %.0f ns, "
	       "mostly the two clock reads) p50 %.0f ns, p99 %.0f ns, p99.9 %.0f ns, max %.0f ns "
	       "(writer draining to "
	       "local disk meanwhile; the tail is the scheduler)\n",
	       dt / SAMPLES * 1e9, SAMPLES, ru1.ru_nvcsw - ru0.ru_nvcsw,
	       ru1.ru_nivcsw - ru0.ru_nivcsw, ns[0], ns[SAMPLES / 2], ns[SAMPLES * 99 / 100],
	       ns[SAMPLES * 999 / 1000], ns[SAMPLES - 1]);
	gnarl_summaries_free(s);
}

struct sizes {
	uint64_t bytes, objects;
};

static int add_size(void *ctx, const char *key, uint64_t size)
{
	struct sizes *z = ctx;

	(void)key;
	z->bytes += size;
	z->objects++;
	return 0;
}

/* n records queued at once (no drops: n <= CAP), timed to flush's end. */
static void write_rate(struct gnarl_storage *st, const char *where, const char *prefix,
                       uint32_t batch, uint32_t n)
{
	struct gnarl_summaries *s = make(st, prefix, batch);
	struct gnarl_summaries_stats ss;
	struct sizes z = {0};
	struct sc_case c;
	char err[GNARL_ERR_SIZE], dir[128];
	double t0, dt;
	uint32_t i;

	t0 = mono();
	for (i = 0; i < n; i++) {
		sc_make(&c, i, i % 16);
		assert_int_equal(gnarl_summaries_push(s, &c.rec), 0);
	}
	if (gnarl_summaries_flush(s, 600000, err) != 0)
		fail_msg("flush: %s", err);
	dt = mono() - t0;
	gnarl_summaries_stats(s, &ss);
	assert_int_equal(ss.written, n);
	gnarl_summaries_free(s);
	snprintf(dir, sizeof(dir), "%sworkers/worker_0/", prefix);
	assert_int_equal(gnarl_storage_list(st, dir, add_size, &z, err), 0);
	assert_int_equal(z.objects, ss.objects);
	printf("%-6s batch %5u: %6u records in %6.3f s: %8.0f records/s, %6.0f objects/s, "
	       "%6.1f MB/s (%.0f bytes/record)\n",
	       where, batch, n, dt, n / dt, ss.objects / dt, z.bytes / dt / 1e6,
	       (double)z.bytes / n);
}

static void bench(void **state)
{
	struct gnarl_config *cfg = NULL;
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE], dir[64], cmd[128], uri[128], path[128];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/gnarl-sum-bench.XXXXXX");
	assert_non_null(mkdtemp(dir));
	if (gnarl_storage_open(NULL, dir, &st, err) != 0)
		fail_msg("open %s: %s", dir, err);
	push_cost(st);
	write_rate(st, "local", "one/", 1, 2000);
	write_rate(st, "local", "batch/", 1024, 100000);
	gnarl_storage_close(st);

	if (getenv("GNARL_S3_ENV")) {
		char bucket[64];

		s3t_load_fixture();
		assert_int_equal(s3t_create_bucket(bucket, sizeof(bucket), "sumbench"), 0);
		snprintf(path, sizeof(path), "%s/s3.yaml", dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "storage:\n  s3:\n    endpoint: ${S3_ENDPOINT_URL}\n"
		           "    access_key: ${S3_ACCESS_KEY_ID}\n"
		           "    secret_key: ${S3_SECRET_ACCESS_KEY}\n");
		fclose(f);
		assert_int_equal(gnarl_config_load(path, NULL, 0, &cfg, err), 0);
		snprintf(uri, sizeof(uri), "s3://%s/runs", bucket);
		if (gnarl_storage_open(cfg, uri, &st, err) != 0)
			fail_msg("open %s: %s", uri, err);
		write_rate(st, "s3", "one/", 1, 2000);
		write_rate(st, "s3", "batch/", 1024, 100000);
		gnarl_storage_close(st);
		gnarl_config_free(cfg);
	} else {
		printf("s3: skipped (GNARL_S3_ENV is not set)\n");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bench),
	};

	return cmocka_run_group_tests_name("summaries_bench", tests, NULL, NULL);
}
