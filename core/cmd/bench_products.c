/*
 * bench_products.c - the matrix products of one training iteration, their
 * speed with each kernel, and the FLOP bound (see bench_products.h).
 *
 * Entry points: gnarl_bench_products_list, _time, _bound.
 *
 * The list follows ppo.c and ppo_update.c: acting runs the policy's layers
 * on N rows T times (a shared network all of its layers: its values come
 * in the same pass); the critic's values run in chunks of the network's
 * max batch, plus next_obs (truncated episodes' final observations, a few
 * rows, are left out); every minibatch runs each layer's forward, weight
 * gradient and, but for a first layer, input gradient.
 *
 * The bound: each thread times its own lists (a thread descheduled by
 * another process does not hold back the other's figure), best of
 * BOUND_ROUNDS; the threads' steps/s add up.
 *
 * Timing: each product alone on random data that stays in cache between
 * calls, as it does in training, best of ROUNDS rounds of >= ROUND_S
 * (short rounds, so that on a busy machine some fall between the other
 * processes' time slices).
 * OpenBLAS runs single-threaded here (the learner's threads split the
 * work themselves; only products past the rule's size give OpenBLAS its
 * own threads).
 */
#include "bench_products.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "nn.h"
#include "pool.h"
#include "ppo.h"

#define ROUNDS 15
#define ROUND_S 5e-4
#define BOUND_ROUNDS 7
#define BOUND_S 1e-2          /* the bound's lists run for at least this */

double gnarl_bench_product_flops(const struct gnarl_bench_product *p)
{
	return 2.0 * p->B * p->in * p->out;
}

double gnarl_bench_product_best(const struct gnarl_bench_product *p)
{
	return p->seconds[0] < p->seconds[1] ? p->seconds[0] : p->seconds[1];
}

/* ---- the list ------------------------------------------------------------ */

struct list {
	struct gnarl_bench_product *out;
	uint32_t n, max;
};

static void add(struct list *L, const char *phase, const struct gnarl_nn_layer *ly,
                enum gnarl_matmul_op op, uint32_t B, uint64_t calls)
{
	if (!calls || !B)
		return;
	if (L->n < L->max) {
		struct gnarl_bench_product *p = &L->out[L->n];
		memset(p, 0, sizeof(*p));
		p->phase = phase;
		snprintf(p->layer, sizeof(p->layer), "%s", ly->name);
		p->op = op;
		p->B = B;
		p->in = ly->in;
		p->out = ly->out;
		p->calls = calls;
		p->kernel = gnarl_matmul_choose(op, B, ly->in, ly->out);
	}
	L->n++;
}

/* Forwards of the layers of `stack` that `outputs` needs, on `rows` rows
 * in calls of at most `chunk` rows. */
static void forwards(struct list *L, const struct gnarl_nn *nn, const char *phase,
                     uint32_t stack, unsigned outputs, uint64_t rows, uint32_t chunk,
                     uint64_t times)
{
	for (uint32_t l = 0; l < gnarl_nn_layers(nn); l++) {
		struct gnarl_nn_layer ly;
		gnarl_nn_layer(nn, l, &ly);
		if (ly.stack != stack || (ly.head && !(ly.head & outputs)))
			continue;
		add(L, phase, &ly, GNARL_MATMUL_FORWARD, chunk, times * (rows / chunk));
		add(L, phase, &ly, GNARL_MATMUL_FORWARD, (uint32_t)(rows % chunk), times);
	}
}

uint32_t gnarl_bench_products_list(const struct gnarl_nn *nn,
                                   const struct gnarl_ppo_config *c, bool learner_only,
                                   struct gnarl_bench_product *out, uint32_t max)
{
	struct list L = {out, 0, max};
	const uint64_t TN = (uint64_t)c->T * c->N, mb = c->minibatch;
	const uint32_t chunk = gnarl_nn_spec(nn)->max_batch;
	const bool shared = gnarl_nn_stacks(nn) == 1;
	const uint32_t critic = shared ? 0 : 1;

	if (!learner_only)
		forwards(&L, nn, "act", 0, GNARL_NN_POLICY | (shared ? GNARL_NN_VALUE : 0), c->N,
		         c->N, c->T);
	if (learner_only || !shared)
		forwards(&L, nn, "values", critic, GNARL_NN_VALUE, TN, chunk, 1);
	forwards(&L, nn, "values", critic, GNARL_NN_VALUE, c->N, c->N, 1);
	for (uint32_t l = 0; l < gnarl_nn_layers(nn); l++) {
		struct gnarl_nn_layer ly;
		gnarl_nn_layer(nn, l, &ly);
		for (int part = 0; part < 2; part++) {
			uint32_t B = part ? (uint32_t)(TN % mb) : (uint32_t)mb;
			uint64_t times = (uint64_t)c->epochs * (part ? 1 : TN / mb);
			add(&L, "update", &ly, GNARL_MATMUL_FORWARD, B, times);
			add(&L, "update", &ly, GNARL_MATMUL_WEIGHT_GRAD, B, times);
			if (!ly.first)
				add(&L, "update", &ly, GNARL_MATMUL_INPUT_GRAD, B, times);
		}
	}
	return L.n;
}

/* ---- timing ---------------------------------------------------------------- */

/* Operands for any product of the list, and a scratch. */
struct operands {
	float *a, *b, *c, *scratch;
};

/* Floats of the largest operand (which 0) or scratch (1) in the list. */
static size_t most_floats(const struct gnarl_bench_product *p, uint32_t n, int which)
{
	size_t most = 1;

	for (uint32_t i = 0; i < n; i++) {
		size_t v = (size_t)p[i].B * p[i].in, bo = (size_t)p[i].B * p[i].out;
		size_t io = (size_t)p[i].in * p[i].out;
		v = bo > v ? bo : v;
		v = io > v ? io : v;
		if (which == 1)
			v = gnarl_matmul_scratch_floats(p[i].in, p[i].out);
		most = v > most ? v : most;
	}
	return most;
}

static void operands_free(struct operands *o)
{
	free(o->a);
	free(o->b);
	free(o->c);
	free(o->scratch);
}

static int operands_alloc(struct operands *o, const struct gnarl_bench_product *p, uint32_t n,
                          uint64_t seed)
{
	size_t n_op = most_floats(p, n, 0), n_scratch = most_floats(p, n, 1);

	/* a: x or dy; b: w or dy; c: y, dw or dx */
	o->a = malloc(n_op * sizeof(float));
	o->b = malloc(n_op * sizeof(float));
	o->c = calloc(n_op, sizeof(float));
	o->scratch = malloc(n_scratch * sizeof(float));
	if (!o->a || !o->b || !o->c || !o->scratch) {
		operands_free(o);
		return GNARL_ENOMEM;
	}
	for (size_t i = 0; i < n_op; i++) {
		o->a[i] = (float)((i * 2654435761u + seed) % 2001) * 1e-3f - 1.0f;
		o->b[i] = (float)((i * 40503u + seed) % 1999) * 1e-3f - 1.0f;
	}
	return 0;
}

static void run(const struct gnarl_bench_product *p, enum gnarl_matmul_kernel k,
                struct operands *o)
{
	switch (p->op) {
	case GNARL_MATMUL_FORWARD:
		gnarl_matmul_forward(k, o->c, o->a, o->b, p->B, p->in, p->out, o->scratch, NULL, NULL,
		                     0, 1);
		break;
	case GNARL_MATMUL_WEIGHT_GRAD:
		gnarl_matmul_weight_grad(k, o->c, o->a, o->b, p->B, p->in, p->out, o->scratch, 0, 1);
		break;
	case GNARL_MATMUL_INPUT_GRAD:
		gnarl_matmul_input_grad(k, o->c, o->a, o->b, p->B, p->in, p->out, false, o->scratch, 0,
		                        1);
		break;
	}
}

/* Seconds per call of p with kernel k, best of ROUNDS. */
static double time_one(const struct gnarl_bench_product *p, enum gnarl_matmul_kernel k,
                       struct operands *o)
{
	double best = 1e30;
	uint64_t reps = 1;

	run(p, k, o); /* warm the caches and OpenBLAS */
	for (int round = 0; round < ROUNDS; round++) {
		double t0 = gnarl_clock_monotonic(), t;
		for (uint64_t r = 0; r < reps; r++)
			run(p, k, o);
		t = gnarl_clock_monotonic() - t0;
		if (t < ROUND_S && round == 0) {
			reps = (uint64_t)(reps * ROUND_S / (t > 1e-7 ? t : 1e-7)) + 1;
			round = -1; /* the calibration round does not count */
			continue;
		}
		best = t / (double)reps < best ? t / (double)reps : best;
	}
	return best;
}

int gnarl_bench_products_time(struct gnarl_bench_product *p, uint32_t n,
                              char err[GNARL_ERR_SIZE])
{
	int blas_threads = openblas_get_num_threads();
	struct operands o;

	if (operands_alloc(&o, p, n, 1))
		return gnarl_err(err, GNARL_ENOMEM, "bench: out of memory for the products");
	openblas_set_num_threads(1);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t same = i;
		for (uint32_t j = 0; j < i; j++)
			if (p[j].op == p[i].op && p[j].B == p[i].B && p[j].in == p[i].in &&
			    p[j].out == p[i].out)
				same = j;
		if (same != i) {
			memcpy(p[i].seconds, p[same].seconds, sizeof(p[i].seconds));
			continue;
		}
		p[i].seconds[GNARL_MATMUL_TILED] = time_one(&p[i], GNARL_MATMUL_TILED, &o);
		p[i].seconds[GNARL_MATMUL_BLAS] = time_one(&p[i], GNARL_MATMUL_BLAS, &o);
	}
	openblas_set_num_threads(blas_threads);
	operands_free(&o);
	return 0;
}

/* ---- the bound --------------------------------------------------------------- */

struct bound_run {
	const struct gnarl_bench_product *p;
	uint32_t n;
	struct operands o[2];
	uint64_t lists;               /* lists per thread per round */
	bool openblas;                /* every product on OpenBLAS */
	double seconds[2];            /* each thread's time of its lists, this round */
};

/* One thread: `lists` times every product of the list, faster kernel. */
static void bound_task(void *ctx, uint32_t task, uint32_t thread)
{
	struct bound_run *b = ctx;
	double t0 = gnarl_clock_monotonic();

	(void)thread;
	for (uint64_t r = 0; r < b->lists; r++)
		for (uint32_t i = 0; i < b->n; i++) {
			const struct gnarl_bench_product *p = &b->p[i];
			enum gnarl_matmul_kernel k =
			    b->openblas || p->seconds[GNARL_MATMUL_TILED] > p->seconds[GNARL_MATMUL_BLAS]
			        ? GNARL_MATMUL_BLAS
			        : GNARL_MATMUL_TILED;
			for (uint64_t c = 0; c < p->calls; c++)
				run(p, k, &b->o[task]);
		}
	b->seconds[task] = gnarl_clock_monotonic() - t0;
}

double gnarl_bench_products_bound(const struct gnarl_bench_product *p, uint32_t n,
                                  uint64_t batch, struct gnarl_pool *pool, uint32_t threads,
                                  bool openblas, char err[GNARL_ERR_SIZE])
{
	struct bound_run b = {p, n, {{0}}, 1, openblas, {0.0, 0.0}};
	int blas_threads = openblas_get_num_threads();
	double one = 0.0, best[2] = {1e30, 1e30}, sps = 0.0;

	threads = threads < 1 ? 1 : threads > 2 ? 2 : threads;
	for (uint32_t t = 0; t < threads; t++)
		if (operands_alloc(&b.o[t], p, n, t + 1)) {
			for (uint32_t u = 0; u < t; u++)
				operands_free(&b.o[u]);
			return gnarl_err(err, GNARL_ENOMEM, "bench: out of memory for the products");
		}
	for (uint32_t i = 0; i < n; i++)
		one += (double)p[i].calls * (openblas ? p[i].seconds[GNARL_MATMUL_BLAS]
		                                      : gnarl_bench_product_best(&p[i]));
	b.lists = (uint64_t)(BOUND_S / (one > 1e-9 ? one : 1e-9)) + 1;
	openblas_set_num_threads(1);
	for (int round = 0; round < BOUND_ROUNDS; round++) {
		gnarl_pool_run(pool, bound_task, &b, threads);
		for (uint32_t t = 0; t < threads; t++)
			best[t] = b.seconds[t] < best[t] ? b.seconds[t] : best[t];
	}
	openblas_set_num_threads(blas_threads);
	for (uint32_t t = 0; t < threads; t++) {
		operands_free(&b.o[t]);
		sps += (double)batch * (double)b.lists / best[t];
	}
	return sps;
}
