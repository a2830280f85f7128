/*
 * bench_products.h - the matrix products one training iteration of a
 * config runs, their speed on this machine with each kernel, and the FLOP
 * bound they set (for gnarl bench).
 */
#ifndef GNARL_BENCH_PRODUCTS_H
#define GNARL_BENCH_PRODUCTS_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "matmul.h"

struct gnarl_nn;
struct gnarl_pool;
struct gnarl_ppo_config;

#define GNARL_BENCH_MAX_PRODUCTS 160

struct gnarl_bench_product {
	const char *phase;              /* "act", "values" or "update" (static) */
	char layer[48];                 /* the weight's tensor name */
	enum gnarl_matmul_op op;
	uint32_t B, in, out;            /* rows, and the layer's shape */
	uint64_t calls;                 /* per iteration */
	enum gnarl_matmul_kernel kernel; /* what the rule picks */
	double seconds[2];              /* per call on 1 thread: [TILED], [BLAS] */
};

/* The products of one iteration (T steps of N envs, then the update) as
 * ppo.c and ppo_update.c run them; learner_only: as `gnarl bench`'s
 * learner measurement runs them (no acting; every value in chunks).
 * Writes up to max; returns how many there are. */
uint32_t gnarl_bench_products_list(const struct gnarl_nn *nn,
                                   const struct gnarl_ppo_config *c, bool learner_only,
                                   struct gnarl_bench_product *out, uint32_t max);

/* Time every product alone with both kernels (seconds[]).  0 or
 * GNARL_ENOMEM. */
int gnarl_bench_products_time(struct gnarl_bench_product *p, uint32_t n,
                              char err[GNARL_ERR_SIZE]);

/* The faster kernel's time of one call (after _time). */
double gnarl_bench_product_best(const struct gnarl_bench_product *p);

/* Steps/s if the learner's `threads` threads did nothing but these
 * products, back to back, each with its faster kernel (openblas: all on
 * OpenBLAS): every thread runs the whole list at the same time (so the
 * threads' shared clock and caches count), and the threads' batch / (time
 * of one list) add up.  pool must have >= threads threads.  > 0, or
 * GNARL_ENOMEM. */
double gnarl_bench_products_bound(const struct gnarl_bench_product *p, uint32_t n,
                                  uint64_t batch, struct gnarl_pool *pool, uint32_t threads,
                                  bool openblas, char err[GNARL_ERR_SIZE]);

/* FLOPs of one call. */
double gnarl_bench_product_flops(const struct gnarl_bench_product *p);

#endif /* GNARL_BENCH_PRODUCTS_H */
