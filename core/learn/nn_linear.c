/*
 * nn_linear.c - one layer of the network, y = act(x W + b): its forward
 * and backward on core/matmul.h's kernels, the large products split over
 * threads, and the activations (tanh, ReLU).
 *
 * Entry points: gnarl_nn_linear_forward_parts, _backward_parts
 * (nn_internal.h, what nn.c runs), gnarl_nn_linear_forward, _backward and
 * gnarl_nn_tanh (nn.h, for tests).
 *
 * Bias and activation run as the forward product's epilogue, on blocks of
 * rows while they are in cache; the activation derivative and the bias
 * gradient in one pass over dy, before the two products of the backward.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"
#include "matmul.h"
#include "nn.h"
#include "nn_internal.h"
#include "pool.h"

/* Products of fewer multiply-adds run whole: a fork and join costs about
 * a microsecond, 2^20 multiply-adds five. */
#define SPLIT_MACS (1ull << 20)

/* tanh without branches so loops vectorise (core/fastmath.h):
 *     tanh(|x|) = -expm1(-2|x|) / (2 + expm1(-2|x|)),
 * with an expm1 that keeps the relative accuracy of small |x|.  |x| >= 9
 * gives +-1. */
static inline float tanh_fast(float x)
{
	float a = fabsf(x);
	float em1 = gnarl_fastmath_expm1(-2.0f * (a < 9.0f ? a : 9.0f));

	return copysignf(-em1 / (2.0f + em1), x);
}

void gnarl_nn_tanh(float *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = tanh_fast(x[i]);
}

/* y(B,out) += b, then activation, in one pass. */
static void bias_act(float *restrict y, const float *restrict b, uint32_t B,
                     uint32_t out, enum gnarl_nn_activation act)
{
	for (uint32_t i = 0; i < B; i++) {
		float *restrict row = y + (size_t)i * out;
		switch (act) {
		case GNARL_NN_TANH:
			for (uint32_t j = 0; j < out; j++)
				row[j] = tanh_fast(row[j] + b[j]);
			break;
		case GNARL_NN_RELU:
			for (uint32_t j = 0; j < out; j++) {
				float z = row[j] + b[j];
				row[j] = z > 0.0f ? z : 0.0f;
			}
			break;
		case GNARL_NN_IDENTITY:
			for (uint32_t j = 0; j < out; j++)
				row[j] += b[j];
			break;
		}
	}
}

/* Columns [0, cols) of dy (B rows, stride out): dy <- dy * act'(y) in
 * place, db = their column sums, row after row.  With cols the constant
 * ACT_BLOCK the sums stay in registers. */
#define ACT_BLOCK 64
static inline __attribute__((always_inline)) void act_backward_cols(
    float *restrict dy, float *restrict db, const float *restrict y, uint32_t B,
    uint32_t out, uint32_t cols, enum gnarl_nn_activation act)
{
	float sum[ACT_BLOCK] = {0};

	for (uint32_t i = 0; i < B; i++) {
		float *restrict d = dy + (size_t)i * out;
		const float *restrict yr = y + (size_t)i * out;
		for (uint32_t j = 0; j < cols; j++) {
			float v = act == GNARL_NN_TANH   ? d[j] * (1.0f - yr[j] * yr[j])
			          : act == GNARL_NN_RELU ? (yr[j] > 0.0f ? d[j] : 0.0f)
			                                 : d[j];
			d[j] = v;
			sum[j] += v;
		}
	}
	memcpy(db, sum, cols * sizeof(float));
}

/* One block of columns; a full block with its width a constant. */
static inline __attribute__((always_inline)) void act_backward_block(
    float *dy, float *db, const float *y, uint32_t B, uint32_t out, uint32_t cols,
    enum gnarl_nn_activation act)
{
	if (cols == ACT_BLOCK)
		act_backward_cols(dy, db, y, B, out, ACT_BLOCK, act);
	else
		act_backward_cols(dy, db, y, B, out, cols, act);
}

/* dy <- dy * act'(y) in place and db = column sums, in one pass. */
static void act_backward(float *restrict dy, float *restrict db,
                         const float *restrict y, uint32_t B, uint32_t out,
                         enum gnarl_nn_activation act)
{
	for (uint32_t j = 0; j < out; j += ACT_BLOCK) {
		uint32_t cols = out - j < ACT_BLOCK ? out - j : ACT_BLOCK;
		if (act == GNARL_NN_TANH)
			act_backward_block(dy + j, db + j, y + j, B, out, cols, GNARL_NN_TANH);
		else if (act == GNARL_NN_RELU)
			act_backward_block(dy + j, db + j, y + j, B, out, cols, GNARL_NN_RELU);
		else
			act_backward_block(dy + j, db + j, y + j, B, out, cols, GNARL_NN_IDENTITY);
	}
}

struct epilogue {
	const float *b;
	uint32_t out;
	enum gnarl_nn_activation act;
};

/* The forward product's epilogue: bias and activation on finished rows. */
static void bias_act_rows(void *ctx, float *y, uint32_t first, uint32_t rows)
{
	const struct epilogue *e = ctx;

	(void)first;
	bias_act(y, e->b, rows, e->out, e->act);
}

/* One product of a layer (matmul.h): c = a b in the op's sense, split in
 * `parts` row ranges, part i with scratch + i * scratch_stride. */
struct product {
	enum gnarl_matmul_op op;
	float *c;                 /* y, dw or dx */
	const float *a, *b;       /* forward: x, w; weight grad: x, dy; input grad: dy, w */
	uint32_t B, in, out, parts;
	bool accumulate;
	float *scratch;
	size_t scratch_stride;
	struct epilogue *epilogue;
};

static void product_part(const struct product *pr, uint32_t part)
{
	enum gnarl_matmul_kernel k = gnarl_matmul_choose(pr->op, pr->B, pr->in, pr->out);
	float *scratch = pr->scratch + part * pr->scratch_stride;

	switch (pr->op) {
	case GNARL_MATMUL_FORWARD:
		gnarl_matmul_forward(k, pr->c, pr->a, pr->b, pr->B, pr->in, pr->out, scratch,
		                     bias_act_rows, pr->epilogue, part, pr->parts);
		break;
	case GNARL_MATMUL_WEIGHT_GRAD:
		gnarl_matmul_weight_grad(k, pr->c, pr->a, pr->b, pr->B, pr->in, pr->out, scratch,
		                         part, pr->parts);
		break;
	case GNARL_MATMUL_INPUT_GRAD:
		gnarl_matmul_input_grad(k, pr->c, pr->a, pr->b, pr->B, pr->in, pr->out,
		                        pr->accumulate, scratch, part, pr->parts);
		break;
	}
}

static void product_task(void *ctx, uint32_t task, uint32_t thread)
{
	(void)thread;
	product_part(ctx, task);
}

/* Run a product, split over `parts` threads of pool when it is worth a
 * fork and join. */
static void product(struct gnarl_pool *pool, uint32_t parts, struct product *pr)
{
	pr->parts = 1;
	if (parts > 1 && (uint64_t)pr->B * pr->in * pr->out >= SPLIT_MACS &&
	    gnarl_matmul_choose(pr->op, pr->B, pr->in, pr->out) == GNARL_MATMUL_TILED) {
		pr->parts = parts;
		gnarl_pool_run(pool, product_task, pr, pr->parts);
		return;
	}
	product_part(pr, 0);
}

void gnarl_nn_linear_forward_parts(struct gnarl_pool *pool, uint32_t parts, float *y,
                                   const float *x, const float *w, const float *b,
                                   uint32_t B, uint32_t in, uint32_t out,
                                   enum gnarl_nn_activation act, float *scratch,
                                   size_t scratch_stride)
{
	struct epilogue e = {b, out, act};
	struct product pr = {GNARL_MATMUL_FORWARD, y, x, w, B, in, out, 1, false,
	                     scratch, scratch_stride, &e};

	product(pool, parts, &pr);
}

void gnarl_nn_linear_backward_parts(struct gnarl_pool *pool, uint32_t parts, float *dx,
                                    float *dw, float *db, float *dy, const float *y,
                                    const float *x, const float *w, uint32_t B, uint32_t in,
                                    uint32_t out, enum gnarl_nn_activation act,
                                    bool accumulate, float *scratch, size_t scratch_stride)
{
	struct product wg = {GNARL_MATMUL_WEIGHT_GRAD, dw, x, dy, B, in, out, 1, false,
	                     scratch, scratch_stride, NULL};
	struct product ig = {GNARL_MATMUL_INPUT_GRAD, dx, dy, w, B, in, out, 1, accumulate,
	                     scratch, scratch_stride, NULL};

	act_backward(dy, db, y, B, out, act);
	product(pool, parts, &wg);
	if (dx)
		product(pool, parts, &ig);
}

/* The public primitives (for tests) bring their own scratch: the
 * network's products never allocate.  Without memory they use the BLAS
 * kernel, which needs none. */
void gnarl_nn_linear_forward(float *y, const float *x, const float *w,
                             const float *b, uint32_t B, uint32_t in,
                             uint32_t out, enum gnarl_nn_activation act)
{
	float *scratch = malloc(gnarl_matmul_scratch_floats(in, out) * sizeof(float));
	struct epilogue e = {b, out, act};

	if (scratch)
		gnarl_nn_linear_forward_parts(NULL, 1, y, x, w, b, B, in, out, act, scratch, 0);
	else
		gnarl_matmul_forward(GNARL_MATMUL_BLAS, y, x, w, B, in, out, NULL, bias_act_rows, &e,
		                     0, 1);
	free(scratch);
}

void gnarl_nn_linear_backward(float *dx, float *dw, float *db, float *dy,
                              const float *y, const float *x, const float *w,
                              uint32_t B, uint32_t in, uint32_t out,
                              enum gnarl_nn_activation act, bool accumulate)
{
	float *scratch = malloc(gnarl_matmul_scratch_floats(in, out) * sizeof(float));

	if (scratch) {
		gnarl_nn_linear_backward_parts(NULL, 1, dx, dw, db, dy, y, x, w, B, in, out, act,
		                               accumulate, scratch, 0);
	} else {
		act_backward(dy, db, y, B, out, act);
		gnarl_matmul_weight_grad(GNARL_MATMUL_BLAS, dw, x, dy, B, in, out, NULL, 0, 1);
		if (dx)
			gnarl_matmul_input_grad(GNARL_MATMUL_BLAS, dx, dy, w, B, in, out, accumulate,
			                        NULL, 0, 1);
	}
	free(scratch);
}

