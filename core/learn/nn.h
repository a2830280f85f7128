/*
 * nn.h - the policy/value network: an MLP on OpenBLAS with Adam.
 *
 * Dimensions: B rows per call (B <= spec.max_batch), O inputs per row,
 * H hidden units, A actions.  Weights are stored (in, out) row-major, so a
 * layer computes y(B,out) = x(B,in) W + b: the transpose of a
 * torch.nn.Linear weight.  (With 4 rows, as when acting for 4 envs,
 * OpenBLAS multiplies by an untransposed 64x64 W in half the time of a
 * transposed one; in the update the two layouts cost the same.)
 *
 * Layout: either a shared trunk with a policy head and a value head (one
 * "stack"), or a separate actor and critic (two stacks: 0 actor, 1
 * critic).  Stacks own disjoint, contiguous ranges of the slabs and their
 * own activation buffers, so two threads may run forward/backward/Adam of
 * different stacks at the same time.
 *
 * Slabs: parameters, gradients, Adam m and Adam v are one allocation each;
 * every tensor is a view at an offset (aligned to 64 bytes; the padding is
 * zero and stays zero).  Forward, backward and Adam never allocate.
 */
#ifndef GNARL_NN_H
#define GNARL_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "tensor.h"

#define GNARL_NN_MAX_HIDDEN 8

enum gnarl_nn_activation {
	GNARL_NN_IDENTITY = 0,
	GNARL_NN_TANH = 1,
	GNARL_NN_RELU = 2,
};

/* Which outputs a forward computes (bit mask). */
enum gnarl_nn_output {
	GNARL_NN_POLICY = 1 << 0,   /* logits (B, A) */
	GNARL_NN_VALUE = 1 << 1,    /* values (B) */
};

struct gnarl_nn_spec {
	uint32_t inputs;            /* O */
	uint32_t n_actions;         /* A */
	uint32_t n_hidden;          /* hidden layers, 0..GNARL_NN_MAX_HIDDEN */
	uint32_t hidden[GNARL_NN_MAX_HIDDEN];
	enum gnarl_nn_activation activation; /* TANH or RELU */
	bool shared;                /* shared trunk + 2 heads; else actor + critic */
	uint32_t max_batch;         /* largest B of any call */
};

/* Hyperparameters in double: coefficients like 1 - beta2 are formed in
 * double and rounded once, as PyTorch does. */
struct gnarl_nn_adam {
	double lr, beta1, beta2, eps;
};

struct gnarl_nn;
struct gnarl_pool;

/* Allocate and initialise (orthogonal: gain sqrt 2 hidden, 0.01 policy
 * head, 1 value head; biases 0; Adam moments 0) from `seed`.  *out owned:
 * gnarl_nn_free().  GNARL_EINVAL for a bad spec, GNARL_ENOMEM. */
int gnarl_nn_create(const struct gnarl_nn_spec *spec, uint64_t seed,
                    struct gnarl_nn **out, char err[GNARL_ERR_SIZE]);
void gnarl_nn_free(struct gnarl_nn *nn);  /* accepts NULL */
const struct gnarl_nn_spec *gnarl_nn_spec(const struct gnarl_nn *nn);

/* 1 (shared) or 2 (actor, critic).  Outputs produced by stack s. */
uint32_t gnarl_nn_stacks(const struct gnarl_nn *nn);
unsigned gnarl_nn_stack_outputs(const struct gnarl_nn *nn, uint32_t s);

/* Forward rows x (B, O), contiguous, through every stack needed for
 * `outputs` (a gnarl_nn_output mask).  Results stay in the network's
 * buffers until the next forward of the same stack. */
void gnarl_nn_forward(struct gnarl_nn *nn, const float *x, uint32_t B,
                      unsigned outputs);
void gnarl_nn_forward_stack(struct gnarl_nn *nn, uint32_t s, const float *x,
                            uint32_t B, unsigned outputs);
/* Threads: with parts 2, the products of forwards and backwards large
 * enough to pay for a fork and join split their rows over two threads of
 * pool, and Adam its range; 1 (the default) runs everything on the
 * calling thread.  Every element is computed the same way either way, so
 * the bits do not change.  Call forward, backward and Adam from the
 * thread that runs pool (never from one of its tasks) while parts > 1.
 * pool is borrowed and must outlive that use; parts is capped at the
 * pool's threads and at 2. */
void gnarl_nn_set_parts(struct gnarl_nn *nn, struct gnarl_pool *pool, uint32_t parts);
uint32_t gnarl_nn_parts(const struct gnarl_nn *nn);

/* Borrowed views of the last forward: logits (B, A) and values (B). */
const float *gnarl_nn_logits(const struct gnarl_nn *nn);
const float *gnarl_nn_values(const struct gnarl_nn *nn);

/* Backward of the last forward of stack s (same x and B, all of the
 * stack's outputs computed): dlogits (B, A) and dvalues (B) are the loss
 * gradients of the outputs the stack produces (the other may be NULL).
 * Overwrites the stack's gradients. */
void gnarl_nn_backward_stack(struct gnarl_nn *nn, uint32_t s, const float *x,
                             uint32_t B, const float *dlogits,
                             const float *dvalues);
void gnarl_nn_backward(struct gnarl_nn *nn, const float *x, uint32_t B,
                       const float *dlogits, const float *dvalues);

/* The slabs (borrowed; n floats each, stack s owns [begin, end)). */
size_t gnarl_nn_size(const struct gnarl_nn *nn);
float *gnarl_nn_params(struct gnarl_nn *nn);
float *gnarl_nn_grads(struct gnarl_nn *nn);
void gnarl_nn_stack_range(const struct gnarl_nn *nn, uint32_t s, size_t *begin,
                          size_t *end);

/* Sum of squared gradients of stack s (double accumulation, fixed order). */
double gnarl_nn_grad_sqnorm(const struct gnarl_nn *nn, uint32_t s);
/* Factor that scales gradients of total squared norm `sqnorm` to norm at
 * most max_norm (PyTorch's clip_grad_norm_: max/(norm + 1e-6), capped at
 * 1); 1 when max_norm <= 0. */
float gnarl_nn_clip_scale(double sqnorm, double max_norm);

/* One Adam step (PyTorch's formula: bias-corrected, eps added to the
 * corrected sqrt(v)) on stack s, gradients multiplied by grad_scale
 * first; t >= 1 is the step number.  gnarl_nn_adam_apply is the same on
 * plain arrays.  The network counts steps: set it after each step. */
void gnarl_nn_adam_stack(struct gnarl_nn *nn, uint32_t s,
                         const struct gnarl_nn_adam *hp, float grad_scale,
                         uint64_t t);
void gnarl_nn_adam_apply(float *p, const float *g, float *m, float *v, size_t n,
                         const struct gnarl_nn_adam *hp, float grad_scale,
                         uint64_t t);
uint64_t gnarl_nn_adam_steps(const struct gnarl_nn *nn);
void gnarl_nn_set_adam_steps(struct gnarl_nn *nn, uint64_t t);

/* The learner state of the network as tensor views (names borrowed from
 * nn): every parameter ("actor.0.weight" (O, H), "actor.0.bias" (H), ...,
 * "critic.N.weight"; shared: "trunk.i.*", "policy.*", "value.*"), its Adam
 * moments ("adam.m.<name>", "adam.v.<name>") and "adam.step" (U64
 * scalar).  Writes up to max entries; returns how many exist. */
uint32_t gnarl_nn_tensors(struct gnarl_nn *nn, struct gnarl_tensor *out,
                          uint32_t max);

/* Layer l of n (gnarl_nn_layers), in the order a forward runs them:
 * its weight's tensor name, shape, stack, which head it is (0 for a
 * hidden layer, else GNARL_NN_POLICY or GNARL_NN_VALUE) and whether it
 * reads the network's input (then a backward computes no input
 * gradient for it).  Names borrowed from nn. */
struct gnarl_nn_layer {
	const char *name;             /* "actor.0.weight" */
	uint32_t in, out, stack;
	unsigned head;
	bool first;
};
uint32_t gnarl_nn_layers(const struct gnarl_nn *nn);
void gnarl_nn_layer(const struct gnarl_nn *nn, uint32_t l, struct gnarl_nn_layer *out);

/* FLOPs per row (multiply-adds count 2): a forward of `outputs`, and a
 * backward of everything (weight and input gradients). */
uint64_t gnarl_nn_flops_forward(const struct gnarl_nn *nn, unsigned outputs);
uint64_t gnarl_nn_flops_backward(const struct gnarl_nn *nn);

/* The layer primitives the network is made of, public for tests.
 * Forward: y(B,out) = act(x(B,in) W(in,out) + b).
 * Backward: on entry dy (B,out) holds dL/dy; it is overwritten with
 * dL/d(pre-activation).  Writes dw (in,out) and db (out); dx (B,in) is
 * written (accumulate false) or added to (true), skipped when NULL. */
void gnarl_nn_linear_forward(float *y, const float *x, const float *w,
                             const float *b, uint32_t B, uint32_t in,
                             uint32_t out, enum gnarl_nn_activation act);
void gnarl_nn_linear_backward(float *dx, float *dw, float *db, float *dy,
                              const float *y, const float *x, const float *w,
                              uint32_t B, uint32_t in, uint32_t out,
                              enum gnarl_nn_activation act, bool accumulate);

/* Elementwise tanh used by the network (vectorisable; absolute and
 * relative error below 2e-7 and 3e-7). */
void gnarl_nn_tanh(float *y, const float *x, size_t n);

#endif /* GNARL_NN_H */
