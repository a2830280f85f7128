/*
 * formats_bench.c - how long a checkpoint of the default network takes:
 * save (serialise, SHA-256, two puts with fsync, latest), open (read,
 * verify checksums, validate the safetensors) and load (copy into the
 * slabs), on a local store.  Prints numbers; asserts nothing about time.
 *
 * The tensors mirror what the learner saves for the default config:
 * a shared 3 x 256 ReLU trunk on O = 150 inputs, a 7-action policy head
 * and a value head, with Adam's first and second moments of each.
 *
 * Usage: formats_bench DIR [REPEATS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "error.h"
#include "storage.h"

#define O 150
#define H 256
#define A 7
#define LAYERS 5 /* three trunk layers, policy head, value head */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const uint32_t in[LAYERS] = {O, H, H, H, H}, out[LAYERS] = {H, H, H, A, 1};
	static const char *const part[3] = {"param", "adam_m", "adam_v"};
	static char names[3 * LAYERS * 2][64];
	struct gnarl_tensor t[3 * LAYERS * 2 + 1];
	struct gnarl_checkpoint_retention keep = {.keep_last = 2, .keep_best = false};
	static const char *const actions[A] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};
	struct gnarl_manifest_info info = {.obs_size = O, .n_actions = A, .action_names = actions};
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE];
	size_t n = 0, params = 0;
	int repeats = argc > 2 ? atoi(argv[2]) : 20;
	double *ts[3];
	float *slab[3];
	int64_t step = 1;

	if (argc < 2 || repeats < 1) {
		fprintf(stderr, "usage: formats_bench DIR [REPEATS]\n");
		return 2;
	}
	for (int l = 0; l < LAYERS; l++)
		params += (size_t)in[l] * out[l] + out[l];
	for (int p = 0; p < 3; p++) {
		slab[p] = malloc(params * sizeof(float));
		ts[p] = calloc((size_t)repeats, sizeof(double));
		for (size_t i = 0; i < params; i++)
			slab[p][i] = (float)((i * 2654435761u) % 1000) * 1e-3f;
		size_t at = 0;
		for (int l = 0; l < LAYERS; l++) {
			snprintf(names[n], sizeof(names[n]), "%s.layer%d.weight", part[p], l);
			t[n] = (struct gnarl_tensor){names[n], GNARL_DTYPE_F32, 2, {out[l], in[l]},
			                             slab[p] + at};
			at += (size_t)in[l] * out[l];
			n++;
			snprintf(names[n], sizeof(names[n]), "%s.layer%d.bias", part[p], l);
			t[n] = (struct gnarl_tensor){names[n], GNARL_DTYPE_F32, 1, {out[l]}, slab[p] + at};
			at += out[l];
			n++;
		}
	}
	t[n++] = (struct gnarl_tensor){"adam.step", GNARL_DTYPE_I64, 0, {0}, &step};
	if (gnarl_storage_open(NULL, argv[1], &st, err) < 0) {
		fprintf(stderr, "formats_bench: %s\n", err);
		return 1;
	}
	for (int r = 0; r < repeats; r++) {
		struct gnarl_checkpoint *ck = NULL;
		double t0 = now(), t1, t2;

		info.iteration = (uint64_t)r + 1;
		if (gnarl_checkpoint_save(st, "bench", t, n, &info, &keep, NULL, err) < 0)
			goto fail;
		t1 = now();
		if (gnarl_checkpoint_open(NULL, st, "bench", "latest", 0, &ck, err) < 0)
			goto fail;
		t2 = now();
		if (gnarl_checkpoint_load(ck, t, n, 0, err) < 0)
			goto fail;
		ts[2][r] = now() - t2;
		ts[1][r] = t2 - t1;
		ts[0][r] = t1 - t0;
		gnarl_checkpoint_close(ck);
	}
	for (int p = 0; p < 3; p++)
		qsort(ts[p], (size_t)repeats, sizeof(double), cmp);
	printf("checkpoint of %zu parameters x 3 (params, Adam m, v) = %.2f MB, %d repeats\n",
	       params, 3.0 * params * 4 / 1e6, repeats);
	printf("  save   median %7.2f ms  max %7.2f ms\n", ts[0][repeats / 2] * 1e3,
	       ts[0][repeats - 1] * 1e3);
	printf("  verify median %7.2f ms  max %7.2f ms  (read, SHA-256, validate)\n",
	       ts[1][repeats / 2] * 1e3, ts[1][repeats - 1] * 1e3);
	printf("  load   median %7.2f ms  max %7.2f ms\n", ts[2][repeats / 2] * 1e3,
	       ts[2][repeats - 1] * 1e3);
	printf("  total  median %7.2f ms\n",
	       (ts[0][repeats / 2] + ts[1][repeats / 2] + ts[2][repeats / 2]) * 1e3);
	gnarl_storage_close(st);
	for (int p = 0; p < 3; p++) {
		free(slab[p]);
		free(ts[p]);
	}
	return 0;
fail:
	fprintf(stderr, "formats_bench: %s\n", err);
	return 1;
}
