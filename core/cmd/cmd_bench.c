/*
 * cmd_bench.c - `gnarl bench -c FILE [--steps N] [--json]`: how fast the
 * config trains, and how close to the OpenBLAS bound.
 *
 * Measures, in this order:
 *   env_sps         env steps/s of the rollout alone (uniform random
 *                   actions, rewards and episode bookkeeping, no network);
 *   learner_sps     samples/s of the learner alone: values, GAE and the
 *                   PPO update, repeated on one filled buffer;
 *   end_to_end_sps  env steps/s of a real training of N steps (no run
 *                   directory, no metrics output);
 *   sgemm peak      GFLOP/s of a 1024^3 sgemm, on 1 thread and on the
 *                   learner's thread count (last: a threaded OpenBLAS call
 *                   leaves OpenBLAS's threads spinning for a while).
 * flops_per_step counts the network's work per env step: one forward of
 * policy and value at collection, then per epoch a forward and a backward
 * (weight and input gradients).  gflops = flops_per_step * end_to_end_sps;
 * flop_bound_sps = sgemm peak / flops_per_step.
 *
 * Entry point: gnarl_cmd_bench (registered in cli.c).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "gb_speed.h"
#include "config.h"
#include "episode.h"
#include "error.h"
#include "nn.h"
#include "ppo.h"
#include "rng.h"
#include "rollout.h"
#include "trainer.h"

int gnarl_cmd_bench(int argc, char **argv);

const char gnarl_cmd_bench_usage[] =
    "usage: gnarl bench -c FILE [--steps N] [--set KEY=VALUE]... [--json]\n"
    "\n"
    "Measure env steps/s alone, learner samples/s alone, end-to-end steps/s of a\n"
    "training of N steps, the network's FLOPs per env step, the achieved GFLOP/s and\n"
    "the steps/s a measured sgemm peak would allow.  Nothing is written to disk.\n"
    "\n"
    "  -c FILE            the config (default configs/env.yaml, else the installed one)\n"
    "  --steps N          env steps per measurement (default ppo.total_steps)\n"
    "  --set KEY=VALUE    override any key; repeatable\n"
    "  --json             print one JSON object on stdout\n";

struct results {
	uint64_t steps, batch;
	uint32_t envs, learner_threads;
	double env_sps, learner_sps, end_to_end_sps;
	double flops_per_step, gflops, peak1, peak, flop_bound_sps, flop_bound_1;
	double rollout_share, return_mean;
	double env_fps, raw_fps;          /* emulator envs: frames/s of the env alone
	                                     and of the emulator alone (1 thread) */
	uint32_t env_threads;
	bool has_raw;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
	t0 = now();
	for (uint64_t r = 0; r < rounds; r++) {
		for (uint32_t n = 0; n < N; n++)
			actions[n] = (int32_t)gnarl_rng_below(&rng, A);
		gnarl_rollout_step(ro, actions);
	}
	t0 = now() - t0;
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
	t0 = now();
	for (uint64_t r = 0; r < rounds; r++) {
		/* begin forgets the values computed while acting: finish then
		 * computes them all, as a learner without the overlap would. */
		gnarl_ppo_begin(p);
		gnarl_ppo_finish(p);
		gnarl_ppo_update(p, c->learning_rate, gnarl_trainer_rng(t), &st);
	}
	t0 = now() - t0;
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
		double t0 = now();
		for (int r = 0; r < 4; r++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, M, M, 1.0f, a, M, b,
			            M, 0.0f, c, M);
		t0 = now() - t0;
		if (4.0 * 2.0 * M * M * M / t0 * 1e-9 > best)
			best = 4.0 * 2.0 * M * M * M / t0 * 1e-9;
	}
out:
	free(a);
	free(b);
	free(c);
	return best;
}

/* A real training of `steps` steps, iteration by iteration. */
static double end_to_end(struct gnarl_trainer *t, struct results *r)
{
	struct gnarl_trainer_iteration it;
	struct gnarl_episode_means m;
	double t0 = now(), rollout = 0.0, learn = 0.0;

	gnarl_trainer_start(t);
	while (!gnarl_trainer_done(t)) {
		gnarl_trainer_iterate(t, &it);
		rollout += it.rollout_seconds;
		learn += it.learn_seconds;
	}
	t0 = now() - t0;
	gnarl_episode_means(gnarl_rollout_episodes(gnarl_trainer_rollout(t)), &m);
	r->return_mean = m.count ? m.ret : 0.0;
	r->rollout_share = rollout / (rollout + learn);
	return (double)gnarl_trainer_env_steps(t) / t0;
}

static int print(const struct gnarl_cli_opts *o, const struct results *r)
{
	json_t *j;

	if (!o->json) {
		printf("steps %llu, %u envs, batch %llu, learner threads %u\n",
		       (unsigned long long)r->steps, r->envs, (unsigned long long)r->batch,
		       r->learner_threads);
		printf("env alone       %12.0f steps/s\n", r->env_sps);
		if (r->has_raw)
			printf("emulator        %12.0f frames/s env alone (%.0f per env thread), "
			       "%.0f frames/s raw on 1 thread\n",
			       r->env_fps, r->env_fps / r->env_threads, r->raw_fps);
		printf("learner alone   %12.0f samples/s\n", r->learner_sps);
		printf("end to end      %12.0f steps/s  (%.0f%% of the time acting and "
		       "stepping envs; final mean return %.1f)\n",
		       r->end_to_end_sps, 100.0 * r->rollout_share, r->return_mean);
		printf("network         %12.0f FLOP per env step, %.1f GFLOP/s achieved\n",
		       r->flops_per_step, r->gflops);
		printf("sgemm peak      %12.1f GFLOP/s on 1 thread, %.1f on %u\n", r->peak1,
		       r->peak, r->learner_threads);
		printf("FLOP bound      %12.0f steps/s (%.0f on 1 thread); end to end is %.0f%% "
		       "of it\n",
		       r->flop_bound_sps, r->flop_bound_1, 100.0 * r->end_to_end_sps / r->flop_bound_sps);
		return GNARL_EXIT_OK;
	}
	j = json_object();
	json_object_set_new(j, "steps", json_integer((json_int_t)r->steps));
	json_object_set_new(j, "num_envs", json_integer(r->envs));
	json_object_set_new(j, "batch", json_integer((json_int_t)r->batch));
	json_object_set_new(j, "learner_threads", json_integer(r->learner_threads));
	json_object_set_new(j, "env_sps", json_real(r->env_sps));
	if (r->has_raw) {
		json_object_set_new(j, "env_fps", json_real(r->env_fps));
		json_object_set_new(j, "raw_fps", json_real(r->raw_fps));
		json_object_set_new(j, "env_threads", json_integer(r->env_threads));
	}
	json_object_set_new(j, "learner_sps", json_real(r->learner_sps));
	json_object_set_new(j, "end_to_end_sps", json_real(r->end_to_end_sps));
	json_object_set_new(j, "rollout_share", json_real(r->rollout_share));
	json_object_set_new(j, "final_return_mean", json_real(r->return_mean));
	json_object_set_new(j, "flops_per_step", json_real(r->flops_per_step));
	json_object_set_new(j, "gflops", json_real(r->gflops));
	json_object_set_new(j, "sgemm_peak_gflops_1thread", json_real(r->peak1));
	json_object_set_new(j, "sgemm_peak_gflops", json_real(r->peak));
	json_object_set_new(j, "flop_bound_sps", json_real(r->flop_bound_sps));
	json_object_set_new(j, "flop_bound_sps_1thread", json_real(r->flop_bound_1));
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

int gnarl_cmd_bench(int argc, char **argv)
{
	struct gnarl_cli_opts o = {0};
	struct gnarl_config *cfg = NULL;
	struct gnarl_trainer *t = NULL;
	struct results r = {0};
	struct gnarl_nn *nn;
	struct gnarl_gb_speed gs;
	char err[GNARL_ERR_SIZE];
	double fwd, bwd;
	uint32_t epochs;
	int rc;

	if (parse(argc, argv, &o, &r.steps) < 0)
		return GNARL_EXIT_USAGE;
	rc = gnarl_cli_load_config(&o, &cfg);
	if (rc)
		return rc;
	if (!r.steps)
		r.steps = (uint64_t)gnarl_value_int(gnarl_value_at(cfg->root, "ppo.total_steps"), 0);
	/* An emulator env (gameboy) measures its emulator alone first, while
	 * nothing else runs: same cartridge, same start, one thread. */
	rc = gnarl_gb_speed_measure(cfg, 50000, &gs, err);
	if (rc && rc != GNARL_EUNSUPPORTED) {
		rc = gnarl_cli_fail(rc, "%s", err);
		goto out;
	}
	r.has_raw = rc == 0;
	r.raw_fps = gs.raw_fps;
	r.env_threads = (uint32_t)gnarl_value_int(gnarl_value_at(cfg->root, "env.threads"), 1);
	rc = make_trainer(cfg, r.steps, &t);
	if (rc)
		goto out;
	nn = gnarl_trainer_nn(t);
	fwd = (double)gnarl_nn_flops_forward(nn, GNARL_NN_POLICY | GNARL_NN_VALUE);
	bwd = (double)gnarl_nn_flops_backward(nn);
	epochs = gnarl_ppo_config(gnarl_trainer_ppo(t))->epochs;
	r.flops_per_step = fwd + epochs * (fwd + bwd);
	r.envs = gnarl_ppo_config(gnarl_trainer_ppo(t))->N;
	r.learner_threads = gnarl_trainer_learner_threads(t);
	gnarl_trainer_start(t);
	r.env_sps = env_alone(t, r.steps);
	r.env_fps = r.env_sps * gs.frames_per_step;
	r.learner_sps = learner_alone(t, r.steps, &r.batch);
	gnarl_trainer_free(t);
	t = NULL;
	rc = make_trainer(cfg, r.steps, &t);
	if (rc)
		goto out;
	r.end_to_end_sps = end_to_end(t, &r);
	/* Last: OpenBLAS's own threads spin for a while after a threaded call. */
	r.peak1 = sgemm_peak(1);
	r.peak = r.learner_threads > 1 ? sgemm_peak((int)r.learner_threads) : r.peak1;
	r.gflops = r.flops_per_step * r.end_to_end_sps * 1e-9;
	r.flop_bound_sps = r.peak * 1e9 / r.flops_per_step;
	r.flop_bound_1 = r.peak1 * 1e9 / r.flops_per_step;
	rc = print(&o, &r);
out:
	gnarl_trainer_free(t);
	gnarl_config_free(cfg);
	return rc;
}
