/*
 * nn_internal.h - what nn.c (the network) and nn_linear.c (one layer on
 * the matrix kernels) share.
 */
#ifndef GNARL_NN_INTERNAL_H
#define GNARL_NN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn.h"

struct gnarl_pool;

/* y (B, out) = act(x (B, in) W (in, out) + b).  Products of >= 2^20
 * multiply-adds split their rows over `parts` threads of pool (parts 1:
 * all on the caller; pool may then be NULL); part i uses scratch + i *
 * scratch_stride (gnarl_matmul_scratch_floats(in, out) each).  Never
 * allocates. */
void gnarl_nn_linear_forward_parts(struct gnarl_pool *pool, uint32_t parts, float *y,
                                   const float *x, const float *w, const float *b,
                                   uint32_t B, uint32_t in, uint32_t out,
                                   enum gnarl_nn_activation act, float *scratch,
                                   size_t scratch_stride);

/* The backward of the forward above (y its output): dy (B, out) holds
 * dL/dy on entry and dL/d(pre-activation) on return; writes dw (in, out)
 * and db (out); dx (B, in) is written (accumulate false) or added to,
 * skipped when NULL. */
void gnarl_nn_linear_backward_parts(struct gnarl_pool *pool, uint32_t parts, float *dx,
                                    float *dw, float *db, float *dy, const float *y,
                                    const float *x, const float *w, uint32_t B, uint32_t in,
                                    uint32_t out, enum gnarl_nn_activation act,
                                    bool accumulate, float *scratch, size_t scratch_stride);

#endif /* GNARL_NN_INTERNAL_H */
