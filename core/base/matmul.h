/*
 * matmul.h - the learner's matrix products, for a layer that maps B rows
 * of `in` floats to `out` floats with W (in, out), all row-major:
 *
 *     forward          y (B, out)  = x (B, in) W
 *     weight gradient  dW (in, out) = x^T dy
 *     input gradient   dx (B, in)  = dy W^T   (or +=)
 *
 * Two kernels.  TILED: register-tiled loops of our own, compiled for the
 * build machine's vectors (AVX-512, else AVX2 with FMA, else plain C),
 * with no packing and no per-call set-up, made for PPO's small products
 * (a minibatch of 64-512 rows times 64-256 units); a layer with a thin
 * output (a policy or value head) gets dot-product and transposed forms.
 * BLAS: OpenBLAS's sgemm, for products large enough that its packing and
 * cache blocking pay.  gnarl_matmul_choose picks one per product from the
 * shape alone (a fixed rule, so a run's arithmetic never depends on a
 * timing); each kernel gives the same bits every time on one machine.
 *
 * None of these allocate; `scratch` is caller-owned, at least
 * gnarl_matmul_scratch_floats(in, out) floats.
 */
#ifndef GNARL_MATMUL_H
#define GNARL_MATMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gnarl_matmul_kernel {
	GNARL_MATMUL_TILED = 0,
	GNARL_MATMUL_BLAS = 1,
};

enum gnarl_matmul_op {
	GNARL_MATMUL_FORWARD = 0,     /* y = x W */
	GNARL_MATMUL_WEIGHT_GRAD = 1, /* dW = x^T dy */
	GNARL_MATMUL_INPUT_GRAD = 2,  /* dx = dy W^T */
};

/* The rule: TILED up to 2^28 multiply-adds (B * in * out), BLAS beyond
 * (see matmul.c). */
enum gnarl_matmul_kernel gnarl_matmul_choose(enum gnarl_matmul_op op, uint32_t B,
                                             uint32_t in, uint32_t out);

/* "tiled-avx512", "tiled-avx2", "tiled-c" or "openblas" (static). */
const char *gnarl_matmul_kernel_name(enum gnarl_matmul_kernel k);
/* "forward", "weight-grad", "input-grad" (static). */
const char *gnarl_matmul_op_name(enum gnarl_matmul_op op);

/* Called on rows [first, first + rows) of y as soon as they are final
 * (in blocks of a few dozen rows, while they are in cache): the place
 * for bias and activation.  y points at row `first`, stride out. */
typedef void (*gnarl_matmul_epilogue_fn)(void *ctx, float *y, uint32_t first,
                                         uint32_t rows);

/* Floats of scratch a layer of in x out needs (per part). */
size_t gnarl_matmul_scratch_floats(uint32_t in, uint32_t out);

/* Each product may be split over threads: part `part` of `parts` (0 of 1:
 * all of it) computes its own rows of the output, with its own scratch,
 * every element exactly as the whole product would (so the result does
 * not depend on the split).  A part may get no rows; the BLAS kernel and
 * the thin weight gradient are done by part 0 alone (OpenBLAS has its
 * own threads). */

/* y (B, out) = x (B, in) w (in, out), then the epilogue (may be NULL)
 * over the part's rows.  x and y must not overlap. */
void gnarl_matmul_forward(enum gnarl_matmul_kernel k, float *y, const float *x,
                          const float *w, uint32_t B, uint32_t in, uint32_t out,
                          float *scratch, gnarl_matmul_epilogue_fn epilogue,
                          void *ctx, uint32_t part, uint32_t parts);
/* dw (in, out) = x^T dy. */
void gnarl_matmul_weight_grad(enum gnarl_matmul_kernel k, float *dw, const float *x,
                              const float *dy, uint32_t B, uint32_t in, uint32_t out,
                              float *scratch, uint32_t part, uint32_t parts);
/* dx (B, in) = dy (B, out) w^T, or += when accumulate. */
void gnarl_matmul_input_grad(enum gnarl_matmul_kernel k, float *dx, const float *dy,
                             const float *w, uint32_t B, uint32_t in, uint32_t out,
                             bool accumulate, float *scratch, uint32_t part,
                             uint32_t parts);

/* dst (cols, rows) = src (rows, cols)^T; dst and src must not overlap. */
void gnarl_matmul_transpose(float *dst, const float *src, uint32_t rows, uint32_t cols);

#endif /* GNARL_MATMUL_H */
