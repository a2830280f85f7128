/*
 * test_matmul.c - the learner's products (core/base/matmul.h) on both kernels
 * against a double-precision reference: every shape class the tiled
 * kernel has a path for (full and masked vectors, row tails, thin outputs
 * of 1-4, chunks of k, one row), the accumulate flag, the epilogue seeing
 * each row once, nothing written outside the output, the same bits on a
 * second run, the same bits again when split in parts (each part run on
 * its own, as threads would), and the rule's choice.
 *
 * Tolerance: |got - ref| <= 1e-6 * (K + 1) with inputs in [-1, 1] (each of
 * K float products and sums rounds by at most 2^-24 of a partial sum of
 * size <= K).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "matmul.h"
#include "rng.h"

#define GUARD 64            /* floats after every output, must stay untouched */
#define SENTINEL 12345.0f

static const enum gnarl_matmul_kernel kernels[] = {GNARL_MATMUL_TILED, GNARL_MATMUL_BLAS};

static float *alloc_filled(size_t n, struct gnarl_rng *rng)
{
	float *p = malloc((n + GUARD) * sizeof(float));

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = 2.0f * gnarl_rng_float(rng) - 1.0f;
	for (size_t i = n; i < n + GUARD; i++)
		p[i] = SENTINEL;
	return p;
}

static void check_guard(const float *p, size_t n, const char *what)
{
	for (size_t i = n; i < n + GUARD; i++)
		if (p[i] != SENTINEL)
			fail_msg("%s: wrote past the end (+%zu)", what, i - n);
}

/* |got - ref| within tolerance, elementwise over n. */
static void check_close(const float *got, const double *ref, size_t n, uint32_t K,
                        const char *what, uint32_t B, uint32_t in, uint32_t out)
{
	double tol = 1e-6 * (K + 1);

	for (size_t i = 0; i < n; i++)
		if (fabs(got[i] - ref[i]) > tol)
			fail_msg("%s B=%u in=%u out=%u [%zu]: %.9g, reference %.9g", what, B, in, out,
			         i, got[i], ref[i]);
}

struct rows_seen {
	uint32_t *count;            /* (B) */
	uint32_t next;              /* rows arrive in order */
	const float *y;
	uint32_t out;
};

static void count_rows(void *ctx, float *y, uint32_t first, uint32_t rows)
{
	struct rows_seen *s = ctx;

	assert_int_equal(first, s->next);
	assert_ptr_equal(y, s->y + (size_t)first * s->out);
	for (uint32_t r = first; r < first + rows; r++)
		s->count[r]++;
	s->next = first + rows;
}

/* The products in `parts` parts, one after the other. */
static void forward(enum gnarl_matmul_kernel k, uint32_t parts, float *y, const float *x,
                    const float *w, uint32_t B, uint32_t in, uint32_t out, float *scratch,
                    gnarl_matmul_epilogue_fn epilogue, void *ctx)
{
	for (uint32_t p = 0; p < parts; p++)
		gnarl_matmul_forward(k, y, x, w, B, in, out, scratch, epilogue, ctx, p, parts);
}

static void weight_grad(enum gnarl_matmul_kernel k, uint32_t parts, float *dw, const float *x,
                        const float *dy, uint32_t B, uint32_t in, uint32_t out, float *scratch)
{
	for (uint32_t p = 0; p < parts; p++)
		gnarl_matmul_weight_grad(k, dw, x, dy, B, in, out, scratch, p, parts);
}

static void input_grad(enum gnarl_matmul_kernel k, uint32_t parts, float *dx, const float *dy,
                       const float *w, uint32_t B, uint32_t in, uint32_t out, bool accumulate,
                       float *scratch)
{
	for (uint32_t p = 0; p < parts; p++)
		gnarl_matmul_input_grad(k, dx, dy, w, B, in, out, accumulate, scratch, p, parts);
}

/* Split in 2 and 3 parts: the same bits as whole (c holds the whole). */
static void check_parts(enum gnarl_matmul_kernel k, const float *c, float *y, const float *x,
                        const float *w, const float *dy, const float *dx0, uint32_t B,
                        uint32_t in, uint32_t out, float *scratch)
{
	size_t n = (size_t)B * in;

	for (uint32_t parts = 2; parts <= 3; parts++) {
		uint32_t *count = calloc(B, sizeof(uint32_t));
		struct rows_seen seen = {count, 0, y, out};

		forward(k, parts, y, x, w, B, in, out, scratch, count_rows, &seen);
		assert_memory_equal(y, c, (size_t)B * out * sizeof(float));
		for (uint32_t b = 0; b < B; b++)
			assert_int_equal(count[b], 1);
		free(count);
		weight_grad(k, parts, y, x, dy, B, in, out, scratch);
		assert_memory_equal(y, c + (size_t)B * out, (size_t)in * out * sizeof(float));
		memcpy(y, dx0, n * sizeof(float));
		input_grad(k, parts, y, dy, w, B, in, out, true, scratch);
		assert_memory_equal(y, c + (size_t)B * out + (size_t)in * out, n * sizeof(float));
	}
}

static void check_shape(uint32_t B, uint32_t in, uint32_t out)
{
	struct gnarl_rng rng;
	float *x, *w, *dy, *y, *dw, *dx, *dx0, *y2, *scratch, *whole, *work;
	double *ref;
	size_t nmax = (size_t)B * in > (size_t)in * out ? (size_t)B * in : (size_t)in * out;

	if ((size_t)B * out > nmax)
		nmax = (size_t)B * out;
	gnarl_rng_seed(&rng, (uint64_t)B * 1000003u + in * 1009u + out);
	x = alloc_filled((size_t)B * in, &rng);
	w = alloc_filled((size_t)in * out, &rng);
	dy = alloc_filled((size_t)B * out, &rng);
	dx0 = alloc_filled((size_t)B * in, &rng);
	y = alloc_filled((size_t)B * out, &rng);
	y2 = alloc_filled((size_t)B * out, &rng);
	dw = alloc_filled((size_t)in * out, &rng);
	dx = alloc_filled((size_t)B * in, &rng);
	scratch = alloc_filled(gnarl_matmul_scratch_floats(in, out), &rng);
	ref = malloc(nmax * sizeof(double));
	whole = malloc(3 * nmax * sizeof(float));
	work = malloc(nmax * sizeof(float));
	assert_non_null(ref);
	assert_non_null(whole);
	assert_non_null(work);

	for (size_t kk = 0; kk < sizeof(kernels) / sizeof(kernels[0]); kk++) {
		enum gnarl_matmul_kernel k = kernels[kk];
		uint32_t *count = calloc(B, sizeof(uint32_t));
		struct rows_seen seen = {count, 0, y, out};

		/* forward */
		forward(k, 1, y, x, w, B, in, out, scratch, count_rows, &seen);
		for (uint32_t b = 0; b < B; b++)
			for (uint32_t o = 0; o < out; o++) {
				double s = 0.0;
				for (uint32_t i = 0; i < in; i++)
					s += (double)x[(size_t)b * in + i] * w[(size_t)i * out + o];
				ref[(size_t)b * out + o] = s;
			}
		check_close(y, ref, (size_t)B * out, in, "forward", B, in, out);
		check_guard(y, (size_t)B * out, "forward");
		for (uint32_t b = 0; b < B; b++)
			assert_int_equal(count[b], 1);
		free(count);
		forward(k, 1, y2, x, w, B, in, out, scratch, NULL, NULL);
		assert_memory_equal(y, y2, (size_t)B * out * sizeof(float));

		/* weight gradient */
		weight_grad(k, 1, dw, x, dy, B, in, out, scratch);
		for (uint32_t i = 0; i < in; i++)
			for (uint32_t o = 0; o < out; o++) {
				double s = 0.0;
				for (uint32_t b = 0; b < B; b++)
					s += (double)x[(size_t)b * in + i] * dy[(size_t)b * out + o];
				ref[(size_t)i * out + o] = s;
			}
		check_close(dw, ref, (size_t)in * out, B, "weight-grad", B, in, out);
		check_guard(dw, (size_t)in * out, "weight-grad");

		/* input gradient, written and accumulated */
		for (uint32_t b = 0; b < B; b++)
			for (uint32_t i = 0; i < in; i++) {
				double s = 0.0;
				for (uint32_t o = 0; o < out; o++)
					s += (double)dy[(size_t)b * out + o] * w[(size_t)i * out + o];
				ref[(size_t)b * in + i] = s;
			}
		memcpy(dx, dx0, (size_t)B * in * sizeof(float));
		input_grad(k, 1, dx, dy, w, B, in, out, false, scratch);
		check_close(dx, ref, (size_t)B * in, out, "input-grad", B, in, out);
		check_guard(dx, (size_t)B * in, "input-grad");
		for (size_t i = 0; i < (size_t)B * in; i++)
			ref[i] += dx0[i];
		memcpy(dx, dx0, (size_t)B * in * sizeof(float));
		input_grad(k, 1, dx, dy, w, B, in, out, true, scratch);
		check_close(dx, ref, (size_t)B * in, out + 1, "input-grad +=", B, in, out);
		check_guard(dx, (size_t)B * in, "input-grad +=");
		check_guard(scratch, gnarl_matmul_scratch_floats(in, out), "scratch");

		/* whole results side by side, then the parts against them */
		memcpy(whole, y, (size_t)B * out * sizeof(float));
		memcpy(whole + (size_t)B * out, dw, (size_t)in * out * sizeof(float));
		memcpy(whole + (size_t)B * out + (size_t)in * out, dx, (size_t)B * in * sizeof(float));
		check_parts(k, whole, work, x, w, dy, dx0, B, in, out, scratch);
	}
	free(ref);
	free(whole);
	free(work);
	free(x);
	free(w);
	free(dy);
	free(dx0);
	free(y);
	free(y2);
	free(dw);
	free(dx);
	free(scratch);
}

/* Row tails (1-7 rows past a tile), vector tails, thin outputs. */
static void test_small_shapes(void **state)
{
	static const uint32_t rows[] = {1, 2, 4, 5, 6, 7, 13, 48, 49, 128};
	static const uint32_t widths[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 64, 65};

	(void)state;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
		for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
			for (size_t o = 0; o < sizeof(widths) / sizeof(widths[0]); o++)
				check_shape(rows[r], widths[i], widths[o]);
}

/* PPO's shapes, and k past one chunk (in > 256, B > 256). */
static void test_network_shapes(void **state)
{
	(void)state;
	check_shape(128, 7, 64);
	check_shape(128, 64, 64);
	check_shape(128, 64, 2);
	check_shape(128, 64, 1);
	check_shape(4, 64, 64);
	check_shape(512, 300, 256);
	check_shape(300, 257, 130);
	check_shape(257, 8, 3);
}

static void test_rule(void **state)
{
	(void)state;
	/* PPO-sized products stay on the tiled kernel ... */
	assert_int_equal(gnarl_matmul_choose(GNARL_MATMUL_FORWARD, 128, 64, 64), GNARL_MATMUL_TILED);
	assert_int_equal(gnarl_matmul_choose(GNARL_MATMUL_WEIGHT_GRAD, 512, 256, 256),
	                 GNARL_MATMUL_TILED);
	assert_int_equal(gnarl_matmul_choose(GNARL_MATMUL_INPUT_GRAD, 4, 64, 2), GNARL_MATMUL_TILED);
	/* ... large ones go to OpenBLAS */
	assert_int_equal(gnarl_matmul_choose(GNARL_MATMUL_FORWARD, 8192, 1024, 1024),
	                 GNARL_MATMUL_BLAS);
	assert_int_equal(gnarl_matmul_choose(GNARL_MATMUL_INPUT_GRAD, 4096, 4096, 64),
	                 GNARL_MATMUL_BLAS);
	assert_string_equal(gnarl_matmul_kernel_name(GNARL_MATMUL_BLAS), "openblas");
	assert_true(!strncmp(gnarl_matmul_kernel_name(GNARL_MATMUL_TILED), "tiled-", 6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_shapes),
	    cmocka_unit_test(test_network_shapes),
	    cmocka_unit_test(test_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
