/*
 * storage_s3_bench.c - how long a checkpoint-sized object (3 MB, about a
 * checkpoint of the default network) takes to put and get through the
 * `s3` plugin against the fixture's Ceph gateway, and through `local` for
 * comparison.  Prints numbers; it asserts only that the bytes came back.
 *
 *     storage_s3_bench [bytes] [rounds]      (default 3000000 and 20)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage_s3_util.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int bench(const char *plugin, const char *root, struct test_host *t, size_t size,
                 int rounds)
{
	struct tstore ts;
	char err[GNARL_ERR_SIZE];
	unsigned char *in = malloc(size), *out;
	double *put = calloc((size_t)rounds, sizeof(double));
	double *get = calloc((size_t)rounds, sizeof(double));
	size_t len;
	int rc = 0;

	s3t_fill(in, size, 3);
	if (tstore_open(&ts, plugin, root, t, err) != 0) {
		fprintf(stderr, "open %s: %s\n", root, err);
		return 1;
	}
	for (int i = 0; i < rounds && rc == 0; i++) {
		double t0 = now_ms(), t1, t2;

		rc = tstore_put(&ts, "bench/checkpoint.bin", in, size, err);
		t1 = now_ms();
		if (rc == 0)
			rc = tstore_get(&ts, "bench/checkpoint.bin", &out, &len, err);
		t2 = now_ms();
		if (rc == 0 && (len != size || memcmp(in, out, size) != 0))
			rc = -1;
		if (rc == 0)
			free(out);
		put[i] = t1 - t0;
		get[i] = t2 - t1;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", root, rc == -1 ? "bytes differ" : err);
	} else {
		qsort(put, (size_t)rounds, sizeof(double), cmp);
		qsort(get, (size_t)rounds, sizeof(double), cmp);
		printf("%-6s %zu bytes x %d: put median %.1f ms (min %.1f, max %.1f), "
		       "get median %.1f ms (min %.1f, max %.1f)\n",
		       plugin, size, rounds, put[rounds / 2], put[0], put[rounds - 1], get[rounds / 2],
		       get[0], get[rounds - 1]);
	}
	tstore_close(&ts);
	free(in);
	free(put);
	free(get);
	return rc != 0;
}

int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoull(argv[1], NULL, 10) : 3000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 20;
	char bucket[64], root[128], dir[] = "/tmp/gnarl-bench.XXXXXX", cmd[128];
	struct test_host t;
	int rc;

	s3t_load_fixture();
	if (rounds < 1 || size == 0 || s3t_create_bucket(bucket, sizeof(bucket), "bench") < 0)
		return 1;
	th_init(&t);
	snprintf(root, sizeof(root), "s3://%s/run", bucket);
	rc = bench("s3", root, &t, size, rounds);
	if (!mkdtemp(dir))
		return 1;
	th_init(&t);
	rc |= bench("local", dir, &t, size, rounds);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return rc | (system(cmd) != 0);
}
