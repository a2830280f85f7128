/*
 * cmd_bench.c - `gnarl bench -c FILE [--steps N] [--json]`: how fast the
 * config trains, and how close to the FLOP bound of its own products.
 *
 * Measures, in this order:
 *   env_sps         env steps/s of the rollout alone (uniform random
 *                   actions, rewards and episode bookkeeping, no network);
 *   learner_sps     samples/s of the learner alone: values, GAE and the
 *                   PPO update, repeated on one filled buffer;
 *   end_to_end_sps  env steps/s of a real training of N steps (no run
 *                   directory, no metrics output);
 *   phases          a second such training with the learner's clock on:
 *                   the share of the wall time each thread spends acting,
 *                   stepping envs, on values, GAE, forward, backward,
 *                   Adam, and waiting for the other thread;
 *   products        every matrix product one iteration runs (acting,
 *                   values, update), each timed alone with both kernels
 *                   (core/matmul.h) on 1 thread;
 *   FLOP bound      the steps/s the learner's threads would reach doing
 *                   nothing but those products at that speed, each with its
 *                   faster kernel, all threads at once (bench_products.h);
 *                   the learner alone has its own (no acting); the same
 *                   with every product on OpenBLAS is printed beside it;
 *   sgemm peak      for comparison, GFLOP/s of a 1024^3 OpenBLAS sgemm on
 *                   1 thread and on the learner's (last: a threaded
 *                   OpenBLAS call leaves its threads spinning for a while).
 * flops_per_step counts the network's work per env step: one forward of
 * policy and value at collection, then per epoch a forward and a backward
 * (weight and input gradients); gflops = flops_per_step * end_to_end_sps.
 *
 * Entry point: gnarl_cmd_bench (registered in cli.c).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_products.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "episode.h"
#include "error.h"
#include "gb_speed.h"
#include "nn.h"
#include "pool.h"
#include "ppo.h"
#include "rng.h"
#include "rollout.h"
#include "trainer.h"

int gnarl_cmd_bench(int argc, char **argv);

const char gnarl_cmd_bench_usage[] =
    "usage: gnarl bench -c FILE [--steps N] [--set KEY=VALUE]... [--json]\n"
    "\n"
    "Measure env steps/s alone, learner samples/s alone, end-to-end steps/s of a\n"
    "training of N steps and where its time goes, the speed of every matrix\n"
    "product the learner runs with each kernel, and the FLOP bound those set: the\n"
    "steps/s of doing nothing but the products.  Nothing is written to disk.\n"
    "\n"
    "  -c FILE            the config (default configs/env.yaml, else the installed one)\n"
    "  --steps N          env steps per measurement (default ppo.total_steps)\n"
    "  --set KEY=VALUE    override any key; repeatable\n"
    "  --json             print one JSON object on stdout\n";

/* Shares of the wall time: the learner's phases, then env and the rest. */
enum { ENV = GNARL_PPO_PHASES, OTHER, SHARES };

struct results {
	uint64_t steps, batch;
	uint32_t envs, minibatch, epochs, learner_threads, stacks, parts;
	double env_sps, learner_sps, end_to_end_sps;
	double flops_per_step, gflops, peak1, peak;
	double bound, bound_1, learner_bound;
	double blas_bound;                /* the products all on OpenBLAS */
	double rollout_share, return_mean;
	double share[2][SHARES];          /* [thread][phase] of the timed run */
	double env_fps, raw_fps;          /* emulator envs: frames/s of the env alone
	                                     and of the emulator alone (1 thread) */
	uint32_t env_threads;
	bool has_raw;
	struct gnarl_bench_product products[GNARL_BENCH_MAX_PRODUCTS];
	uint32_t n_products;
};

static int make_trainer(struct gnarl_config *cfg, uint64_t steps, struct gnarl_trainer **t)
{
	struct gnarl_trainer_options opt = {.no_run_dir = true, .quiet = true,
	                                    .total_steps = steps};
	char err[GNARL_ERR_SIZE] = "";
	int rc = gnarl_trainer_create(cfg, &opt, t, err);

	return rc ? gnarl_cli_fail(rc, "%s", err) : 0;
}

/* The rollout alone under uniformly random actions. */
static double env_alone(struct gnarl_trainer *t, uint64_t steps)
{
	struct gnarl_rollout *ro = gnarl_trainer_rollout(t);
	uint32_t N = (uint32_t)gnarl_ppo_config(gnarl_trainer_ppo(t))->N;
	uint32_t A = gnarl_rollout_spaces(ro)->n_actions;
	uint64_t rounds = steps / N ? steps / N : 1;
	int32_t *actions = calloc(N, sizeof(*actions));
	struct gnarl_rng rng;
	double t0;

	if (!actions)
		return 0.0;
	gnarl_rng_seed(&rng, 12345);
	t0 = gnarl_clock_monotonic();
	for (uint64_t r = 0; r < rounds; r++) {
		for (uint32_t n = 0; n < N; n++)
			actions[n] = (int32_t)gnarl_rng_below(&rng, A);
		gnarl_rollout_step(ro, actions);
	}
	t0 = gnarl_clock_monotonic() - t0;
	free(actions);
	return (double)(rounds * N) / t0;
}

/* Values, GAE and the update, again and again on one real buffer. */
static double learner_alone(struct gnarl_trainer *t, uint64_t steps, uint64_t *batch)
{
	struct gnarl_ppo *p = gnarl_trainer_ppo(t);
	const struct gnarl_ppo_config *c = gnarl_ppo_config(p);
	struct gnarl_trainer_iteration it;
	struct gnarl_ppo_stats st;
	uint64_t rounds;
	double t0;

	*batch = (uint64_t)c->T * c->N;
	rounds = steps / *batch ? steps / *batch : 1;
	gnarl_trainer_iterate(t, &it);
	t0 = gnarl_clock_monotonic();
	for (uint64_t r = 0; r < rounds; r++) {
		/* begin forgets the values computed while acting: finish then
		 * computes them all, as a learner without the overlap would. */
		gnarl_ppo_begin(p);
		gnarl_ppo_finish(p);
		gnarl_ppo_update(p, c->learning_rate, gnarl_trainer_rng(t), &st);
	}
	t0 = gnarl_clock_monotonic() - t0;
	return (double)(rounds * *batch) / t0;
}

/* GFLOP/s of repeated 1024^3 sgemm on `threads` OpenBLAS threads. */
static double sgemm_peak(int threads)
{
	enum { M = 1024 };
	float *a = malloc(sizeof(float) * M * M), *b = malloc(sizeof(float) * M * M);
	float *c = malloc(sizeof(float) * M * M);
	double best = 0.0;

	if (!a || !b || !c)
		goto out;
	for (size_t i = 0; i < (size_t)M * M; i++) {
		a[i] = (float)(i % 13) * 0.01f;
		b[i] = (float)(i % 7) * 0.02f;
	}
	openblas_set_num_threads(threads);
	for (int round = 0; round < 5; round++) {
		double t0 = gnarl_clock_monotonic();
		for (int r = 0; r < 4; r++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, M, M, 1.0f, a, M, b,
			            M, 0.0f, c, M);
		t0 = gnarl_clock_monotonic() - t0;
		if (4.0 * 2.0 * M * M * M / t0 * 1e-9 > best)
			best = 4.0 * 2.0 * M * M * M / t0 * 1e-9;
	}
out:
	free(a);
	free(b);
	free(c);
	return best;
}

/* A real training of `steps` steps, iteration by iteration; with `timed`
 * the learner's clock runs and the shares of the wall time go to r. */
static double end_to_end(struct gnarl_trainer *t, struct results *r, bool timed)
{
	struct gnarl_ppo *p = gnarl_trainer_ppo(t);
	struct gnarl_trainer_iteration it;
	struct gnarl_episode_means m;
	double t0, wall, rollout = 0.0, learn = 0.0, s[GNARL_PPO_PHASES];

	gnarl_trainer_start(t);
	gnarl_ppo_set_timing(p, timed);
	t0 = gnarl_clock_monotonic();
	while (!gnarl_trainer_done(t)) {
		gnarl_trainer_iterate(t, &it);
		rollout += it.rollout_seconds;
		learn += it.learn_seconds;
	}
	wall = gnarl_clock_monotonic() - t0;
	if (timed) {
		for (uint32_t th = 0; th < 2; th++) {
			double busy = 0.0;
			gnarl_ppo_phase_seconds(p, th, s);
			for (int ph = 0; ph < GNARL_PPO_PHASES; ph++) {
				r->share[th][ph] = s[ph] / wall;
				busy += s[ph];
			}
			/* thread 0 steps the envs in the rollout's time not spent acting */
			r->share[th][ENV] = th ? 0.0 : (rollout - s[GNARL_PPO_ACT]) / wall;
			busy += r->share[th][ENV] * wall;
			r->share[th][OTHER] = 1.0 - busy / wall;
		}
		gnarl_ppo_set_timing(p, false);
		return 0.0;
	}
	gnarl_episode_means(gnarl_rollout_episodes(gnarl_trainer_rollout(t)), &m);
	r->return_mean = m.count ? m.ret : 0.0;
	r->rollout_share = rollout / (rollout + learn);
	return (double)gnarl_trainer_env_steps(t) / wall;
}

/* The products of an iteration: their speed and the bounds they set. */
static int products(struct gnarl_trainer *t, struct results *r)
{
	struct gnarl_nn *nn = gnarl_trainer_nn(t);
	const struct gnarl_ppo_config *c = gnarl_ppo_config(gnarl_trainer_ppo(t));
	struct gnarl_bench_product learner[GNARL_BENCH_MAX_PRODUCTS];
	struct gnarl_pool *pool = NULL;
	char err[GNARL_ERR_SIZE];
	uint32_t n;
	int rc;

	r->n_products = gnarl_bench_products_list(nn, c, false, r->products,
	                                          GNARL_BENCH_MAX_PRODUCTS);
	n = gnarl_bench_products_list(nn, c, true, learner, GNARL_BENCH_MAX_PRODUCTS);
	if (r->n_products > GNARL_BENCH_MAX_PRODUCTS || n > GNARL_BENCH_MAX_PRODUCTS)
		return gnarl_cli_fail(GNARL_EINVAL, "bench: the network has more products (%u) than "
		                      "the bench lists (%d)", r->n_products, GNARL_BENCH_MAX_PRODUCTS);
	rc = gnarl_bench_products_time(r->products, r->n_products, err);
	if (!rc)
		rc = gnarl_bench_products_time(learner, n, err);
	if (!rc)
		rc = gnarl_pool_create(2, &pool, err);
	if (rc)
		return gnarl_cli_fail(rc, "%s", err);
	r->bound_1 = gnarl_bench_products_bound(r->products, r->n_products, r->batch, pool, 1,
	                                        false, err);
	r->bound = r->learner_threads > 1 ? gnarl_bench_products_bound(r->products, r->n_products,
	                                                               r->batch, pool, 2, false, err)
	                                  : r->bound_1;
	r->learner_bound = gnarl_bench_products_bound(learner, n, r->batch, pool,
	                                              r->learner_threads, false, err);
	r->blas_bound = gnarl_bench_products_bound(r->products, r->n_products, r->batch, pool,
	                                           r->learner_threads, true, err);
	gnarl_pool_free(pool);
	if (r->bound_1 < 0 || r->bound < 0 || r->learner_bound < 0 || r->blas_bound < 0)
		return gnarl_cli_fail(GNARL_ENOMEM, "%s", err);
	return 0;
}

static const char *split_text(const struct results *r)
{
	if (r->learner_threads < 2)
		return "1 thread";
	if (r->stacks == 2)
		return "2 threads: actor and critic each on its own, the critic's values on the "
		       "second while acting";
	return "2 threads: the rows of every product of >= 2^20 multiply-adds, and Adam's "
	       "range, split between them";
}

static void print_shares(const struct results *r)
{
	static const char *const extra[] = {"env", "other"};

	printf("time per phase  (share of the wall time of a second, timed run)\n  %-9s", "");
	for (int ph = 0; ph < SHARES; ph++)
		printf(" %8s", ph < GNARL_PPO_PHASES ? gnarl_ppo_phase_name(ph) : extra[ph - ENV]);
	printf("\n");
	for (uint32_t th = 0; th < (r->learner_threads > 1 && r->stacks == 2 ? 2u : 1u); th++) {
		printf("  thread %u ", th);
		for (int ph = 0; ph < SHARES; ph++)
			printf(" %7.1f%%", 100.0 * r->share[th][ph]);
		printf("%s\n", th ? "  (other: idle)" : "");
	}
	if (r->learner_threads > 1 && r->stacks == 1)
		printf("  (thread 1 runs parts of thread 0's products)\n");
}

static void print_products(const struct results *r)
{
	double total = 0.0;

	for (uint32_t i = 0; i < r->n_products; i++)
		total += (double)r->products[i].calls * gnarl_bench_product_best(&r->products[i]);
	printf("products        (per iteration; GFLOP/s of one call on 1 thread, the rule's "
	       "kernel first)\n");
	printf("  %-7s %-20s %-12s %16s %6s  %-13s %8s %8s %6s\n", "phase", "layer", "product",
	       "B x in x out", "calls", "kernel", "GFLOP/s", "other", "time");
	for (uint32_t i = 0; i < r->n_products; i++) {
		const struct gnarl_bench_product *p = &r->products[i];
		char shape[48];
		double f = gnarl_bench_product_flops(p) * 1e-9;
		snprintf(shape, sizeof(shape), "%u x %u x %u", p->B, p->in, p->out);
		printf("  %-7s %-20s %-12s %16s %6llu  %-13s %8.1f %8.1f %5.1f%%\n", p->phase,
		       p->layer, gnarl_matmul_op_name(p->op), shape, (unsigned long long)p->calls,
		       gnarl_matmul_kernel_name(p->kernel), f / p->seconds[p->kernel],
		       f / p->seconds[!p->kernel],
		       100.0 * (double)p->calls * gnarl_bench_product_best(p) / total);
	}
}

static void print_text(const struct results *r)
{
	printf("steps %llu, %u envs, batch %llu, minibatch %u, %u epochs\n",
	       (unsigned long long)r->steps, r->envs, (unsigned long long)r->batch, r->minibatch,
	       r->epochs);
	printf("learner         %s\n", split_text(r));
	printf("env alone       %12.0f steps/s\n", r->env_sps);
	if (r->has_raw)
		printf("emulator        %12.0f frames/s env alone (%.0f per env thread), "
		       "%.0f frames/s raw on 1 thread\n",
		       r->env_fps, r->env_fps / r->env_threads, r->raw_fps);
	printf("learner alone   %12.0f samples/s  (%.0f%% of its FLOP bound, %.0f)\n",
	       r->learner_sps, 100.0 * r->learner_sps / r->learner_bound, r->learner_bound);
	printf("end to end      %12.0f steps/s  (%.0f%% of the FLOP bound; %.0f%% of the time "
	       "acting and stepping envs; final mean return %.1f)\n",
	       r->end_to_end_sps, 100.0 * r->end_to_end_sps / r->bound, 100.0 * r->rollout_share,
	       r->return_mean);
	printf("network         %12.0f FLOP per env step, %.1f GFLOP/s achieved\n",
	       r->flops_per_step, r->gflops);
	printf("FLOP bound      %12.0f steps/s on %u thread%s (%.0f on 1): the products "
	       "below alone, each at its measured speed\n",
	       r->bound, r->learner_threads, r->learner_threads > 1 ? "s" : "", r->bound_1);
	printf("OpenBLAS bound  %12.0f steps/s: the same with every product on OpenBLAS "
	       "(end to end is %.0f%% of it)\n",
	       r->blas_bound, 100.0 * r->end_to_end_sps / r->blas_bound);
	printf("sgemm 1024^3    %12.1f GFLOP/s OpenBLAS on 1 thread, %.1f on %u (%.0f steps/s "
	       "at that speed)\n",
	       r->peak1, r->peak, r->learner_threads, r->peak * 1e9 / r->flops_per_step);
	print_shares(r);
	print_products(r);
}

static int print_json(const struct results *r)
{
	static const char *const extra[] = {"env", "other"};
	json_t *j = json_object(), *ph = json_object(), *list = json_array();

	json_object_set_new(j, "steps", json_integer((json_int_t)r->steps));
	json_object_set_new(j, "num_envs", json_integer(r->envs));
	json_object_set_new(j, "batch", json_integer((json_int_t)r->batch));
	json_object_set_new(j, "learner_threads", json_integer(r->learner_threads));
	json_object_set_new(j, "thread_split", json_string(split_text(r)));
	json_object_set_new(j, "env_sps", json_real(r->env_sps));
	if (r->has_raw) {
		json_object_set_new(j, "env_fps", json_real(r->env_fps));
		json_object_set_new(j, "raw_fps", json_real(r->raw_fps));
		json_object_set_new(j, "env_threads", json_integer(r->env_threads));
	}
	json_object_set_new(j, "learner_sps", json_real(r->learner_sps));
	json_object_set_new(j, "learner_bound_sps", json_real(r->learner_bound));
	json_object_set_new(j, "end_to_end_sps", json_real(r->end_to_end_sps));
	json_object_set_new(j, "rollout_share", json_real(r->rollout_share));
	json_object_set_new(j, "final_return_mean", json_real(r->return_mean));
	json_object_set_new(j, "flops_per_step", json_real(r->flops_per_step));
	json_object_set_new(j, "gflops", json_real(r->gflops));
	json_object_set_new(j, "flop_bound_sps", json_real(r->bound));
	json_object_set_new(j, "flop_bound_sps_1thread", json_real(r->bound_1));
	json_object_set_new(j, "openblas_bound_sps", json_real(r->blas_bound));
	json_object_set_new(j, "sgemm_peak_gflops_1thread", json_real(r->peak1));
	json_object_set_new(j, "sgemm_peak_gflops", json_real(r->peak));
	for (uint32_t th = 0; th < 2; th++) {
		json_t *t = json_object();
		for (int k = 0; k < SHARES; k++)
			json_object_set_new(t, k < GNARL_PPO_PHASES ? gnarl_ppo_phase_name(k)
			                                            : extra[k - ENV],
			                    json_real(r->share[th][k]));
		json_object_set_new(ph, th ? "thread1" : "thread0", t);
	}
	json_object_set_new(j, "phases", ph);
	for (uint32_t i = 0; i < r->n_products; i++) {
		const struct gnarl_bench_product *p = &r->products[i];
		json_t *o = json_object();
		json_object_set_new(o, "phase", json_string(p->phase));
		json_object_set_new(o, "layer", json_string(p->layer));
		json_object_set_new(o, "op", json_string(gnarl_matmul_op_name(p->op)));
		json_object_set_new(o, "B", json_integer(p->B));
		json_object_set_new(o, "in", json_integer(p->in));
		json_object_set_new(o, "out", json_integer(p->out));
		json_object_set_new(o, "calls", json_integer((json_int_t)p->calls));
		json_object_set_new(o, "kernel", json_string(gnarl_matmul_kernel_name(p->kernel)));
		json_object_set_new(o, "tiled_gflops",
		                    json_real(gnarl_bench_product_flops(p) * 1e-9 / p->seconds[0]));
		json_object_set_new(o, "openblas_gflops",
		                    json_real(gnarl_bench_product_flops(p) * 1e-9 / p->seconds[1]));
		json_array_append_new(list, o);
	}
	json_object_set_new(j, "products", list);
	return gnarl_cli_print_json(j);
}

static int parse(int argc, char **argv, struct gnarl_cli_opts *o, uint64_t *steps)
{
	for (int i = 1; i < argc; i++) {
		int rc = gnarl_cli_option(o, argc, argv, &i);
		char *end;

		if (rc < 0)
			return -1;
		if (rc > 0)
			continue;
		if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
			double v = strtod(argv[++i], &end);
			if (*end || v < 1 || v > 1e15) {
				gnarl_cli_usage_error("bench", "--steps wants a positive number, not '%s'",
				                      argv[i]);
				return -1;
			}
			*steps = (uint64_t)v;
			continue;
		}
		gnarl_cli_usage_error("bench", "unknown argument '%s'", argv[i]);
		return -1;
	}
	return 0;
}

/* What the config is: sizes, FLOPs, threads. */
static void describe(struct gnarl_trainer *t, struct results *r)
{
	struct gnarl_nn *nn = gnarl_trainer_nn(t);
	const struct gnarl_ppo_config *c = gnarl_ppo_config(gnarl_trainer_ppo(t));
	double fwd = (double)gnarl_nn_flops_forward(nn, GNARL_NN_POLICY | GNARL_NN_VALUE);
	double bwd = (double)gnarl_nn_flops_backward(nn);

	r->epochs = c->epochs;
	r->minibatch = c->minibatch;
	r->flops_per_step = fwd + r->epochs * (fwd + bwd);
	r->envs = c->N;
	r->batch = (uint64_t)c->T * c->N;
	r->stacks = gnarl_nn_stacks(nn);
	r->learner_threads = gnarl_trainer_learner_threads(t);
}

int gnarl_cmd_bench(int argc, char **argv)
{
	struct gnarl_cli_opts o = {0};
	struct gnarl_config *cfg = NULL;
	struct gnarl_trainer *t = NULL;
	struct results *r = calloc(1, sizeof(*r));
	struct gnarl_gb_speed gs;
	char err[GNARL_ERR_SIZE];
	int rc;

	if (!r)
		return gnarl_cli_fail(GNARL_ENOMEM, "bench: out of memory");
	if (parse(argc, argv, &o, &r->steps) < 0) {
		free(r);
		return GNARL_EXIT_USAGE;
	}
	rc = gnarl_cli_load_config(&o, &cfg);
	if (rc)
		goto out;
	if (!r->steps)
		r->steps = (uint64_t)gnarl_value_int(gnarl_value_at(cfg->root, "ppo.total_steps"), 0);
	/* An emulator env (gameboy) measures its emulator alone first, while
	 * nothing else runs: same cartridge, same start, one thread. */
	rc = gnarl_gb_speed_measure(cfg, 50000, &gs, err);
	if (rc && rc != GNARL_EUNSUPPORTED) {
		rc = gnarl_cli_fail(rc, "%s", err);
		goto out;
	}
	r->has_raw = rc == 0;
	r->raw_fps = gs.raw_fps;
	r->env_threads = (uint32_t)gnarl_value_int(gnarl_value_at(cfg->root, "env.threads"), 1);
	rc = make_trainer(cfg, r->steps, &t);
	if (rc)
		goto out;
	describe(t, r);
	gnarl_trainer_start(t);
	r->env_sps = env_alone(t, r->steps);
	r->env_fps = r->env_sps * gs.frames_per_step;
	r->learner_sps = learner_alone(t, r->steps, &r->batch);
	gnarl_trainer_free(t);
	t = NULL;
	for (int timed = 0; timed < 2; timed++) {
		rc = make_trainer(cfg, r->steps, &t);
		if (rc)
			goto out;
		if (timed)
			end_to_end(t, r, true);
		else
			r->end_to_end_sps = end_to_end(t, r, false);
		if (timed)
			rc = products(t, r);
		gnarl_trainer_free(t);
		t = NULL;
		if (rc)
			goto out;
	}
	/* Last: OpenBLAS's own threads spin for a while after a threaded call. */
	r->peak1 = sgemm_peak(1);
	r->peak = r->learner_threads > 1 ? sgemm_peak((int)r->learner_threads) : r->peak1;
	r->gflops = r->flops_per_step * r->end_to_end_sps * 1e-9;
	if (o.json) {
		rc = print_json(r);
	} else {
		print_text(r);
		rc = GNARL_EXIT_OK;
	}
out:
	gnarl_trainer_free(t);
	gnarl_config_free(cfg);
	free(r);
	return rc;
}
