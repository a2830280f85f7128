/*
 * trainer.h - the training loop of one process: the plugins a config
 * names (env, reward terms), the network, PPO, the rollout, the run
 * directory and the metrics, and the iteration loop over them.
 *
 * One iteration: T steps of N envs (sample actions, step, record), then
 * values and GAE, then the PPO update, then metrics.  Same seed, same
 * machine: bit-identical runs, whatever env.threads and ppo.blas_threads.
 *
 * Checkpoints (the seam for core/checkpoint.c): gnarl_trainer_tensors()
 * lists every number the learner needs to continue (views, written in
 * place on restore); after writing them call gnarl_trainer_restored(),
 * which resets the envs and continues at the restored iteration + 1.
 *
 * Data-parallel (opts.dist with several processes, core/dist.h): every
 * rank steps its own N envs (seeded by run.seed and its rank; rank 0's
 * seeds are a plain run's), the update averages the gradients so the
 * weights stay identical (a hash of them is compared every iteration),
 * and after each iteration the ranks merge the normalisers' statistics
 * and their episode means.  A batch is then K x N x T steps: env_steps,
 * ppo.total_steps and sps count every rank's.  Rank 0 alone writes the
 * run directory (config.yaml, metrics; checkpoints in core/resume.c);
 * every rank writes its episode summaries (workers/worker_<rank>/).
 */
#ifndef GNARL_TRAINER_H
#define GNARL_TRAINER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "ppo.h"
#include "rng.h"
#include "tensor.h"

struct gnarl_config;
struct gnarl_dist;
struct gnarl_episode_means;
struct gnarl_nn;
struct gnarl_ppo;
struct gnarl_rollout;
struct gnarl_storage;
struct gnarl_metrics;
struct gnarl_train_console;
struct gnarl_registry;
struct gnarl_guidance;
struct gnarl_archive;

struct gnarl_trainer_options {
	bool no_run_dir;          /* no storage, no config.yaml, no progress files
	                             (benchmarks); the progress line still prints
	                             unless quiet */
	bool quiet;               /* no progress line, no info logs */
	bool no_archive;          /* no archive of start states, whatever the
	                             config's archive.enabled (evaluation) */
	bool no_guidance;         /* leave the config's `llm:` plugins unstarted
	                             (evaluation: the advice block stays zero) */
	uint64_t total_steps;     /* 0: ppo.total_steps */
	struct gnarl_dist *dist;  /* borrowed; NULL: one process (see the top) */
};

/* What one iteration did. */
struct gnarl_trainer_iteration {
	uint64_t iteration;       /* 1-based */
	uint64_t env_steps;       /* after the iteration */
	double rollout_seconds;   /* acting and env stepping */
	double learn_seconds;     /* values, GAE and the update */
	double sps;               /* env steps per second of the iteration (the
	                             `sps` metric is the run's average so far) */
	struct gnarl_ppo_stats ppo;
	double allreduce_seconds; /* data-parallel: in the gradient averaging,
	                             waits for slower ranks included (0 alone) */
};

struct gnarl_trainer;

/* Build everything from a loaded config (the registry opens and checks
 * the plugins; the run directory <run.storage>/<run.name>/ is opened and
 * gets config.yaml).  cfg is borrowed and must outlive the trainer; opts
 * may be NULL.  Errors name the config key or plugin at fault. */
int gnarl_trainer_create(struct gnarl_config *cfg, const struct gnarl_trainer_options *opts,
                         struct gnarl_trainer **out, char err[GNARL_ERR_SIZE]);
void gnarl_trainer_free(struct gnarl_trainer *t);  /* accepts NULL */

/* Start fresh: reset every env and log "starting fresh". */
void gnarl_trainer_start(struct gnarl_trainer *t);
/* After a checkpoint wrote gnarl_trainer_tensors(): reset every env (their
 * episode numbers continue) and continue after the restored iteration.
 * The planned iterations become the restored one plus what is left of the
 * total steps at this run's batch size. */
void gnarl_trainer_restored(struct gnarl_trainer *t);
/* The same without resetting: the checkpoint also restored every env's
 * running episode and the rollout's raw observations (core/resume.c), so
 * the next rollout starts from them, normalised with the restored
 * statistics (not updating them), exactly as the saved run would have. */
void gnarl_trainer_continued(struct gnarl_trainer *t);

/* Called by gnarl_trainer_run after each iteration's report (checkpoints
 * use it); it may set the run's stop flag.  NULL: none. */
typedef void (*gnarl_trainer_hook_fn)(void *ctx, struct gnarl_trainer *t,
                                      const struct gnarl_trainer_iteration *it);
void gnarl_trainer_set_hook(struct gnarl_trainer *t, gnarl_trainer_hook_fn fn, void *ctx);

/* Run one iteration (never fails, never allocates). */
void gnarl_trainer_iterate(struct gnarl_trainer *t, struct gnarl_trainer_iteration *out);
/* Metrics of the iteration: progress line, progress.csv, TensorBoard. */
int gnarl_trainer_report(struct gnarl_trainer *t, const struct gnarl_trainer_iteration *it,
                         char err[GNARL_ERR_SIZE]);
/* Iterate and report until total_steps or until *stop becomes non-zero
 * (checked between iterations: SIGINT/SIGTERM finish the current one;
 * data-parallel, the ranks agree: a flag set on any rank stops them all
 * after the same iteration, and sets *stop on every rank).
 * Then sync the metrics.  A report that fails during the run is logged
 * and training goes on (the files are kept and retried); returns 0, or
 * the error of the final metrics sync. */
int gnarl_trainer_run(struct gnarl_trainer *t, volatile sig_atomic_t *stop,
                      char err[GNARL_ERR_SIZE]);
/* True when the run has done its total_steps. */
bool gnarl_trainer_done(const struct gnarl_trainer *t);

/* The learner state as tensor views (borrowed from t): the network's
 * parameters, Adam moments and step (gnarl_nn_tensors), the normalisers
 * (gnarl_ppo_tensors), the episode numbers (gnarl_episode_tensors), and
 * "trainer.rng" (U64, 4: the run's action/shuffle RNG), "trainer.iteration",
 * "trainer.env_steps" (U64 scalars).  Writes up to max; returns the count. */
uint32_t gnarl_trainer_tensors(struct gnarl_trainer *t, struct gnarl_tensor *out,
                               uint32_t max);

/* Counters (iteration done so far, env steps, finished episodes: every
 * rank's) and the planned number of iterations. */
uint64_t gnarl_trainer_iteration_count(const struct gnarl_trainer *t);
uint64_t gnarl_trainer_env_steps(const struct gnarl_trainer *t);
uint64_t gnarl_trainer_episodes(const struct gnarl_trainer *t);
uint64_t gnarl_trainer_total_iterations(const struct gnarl_trainer *t);
/* Means over the last episodes (of every rank's window, data-parallel;
 * terms borrowed from t until the next iteration). */
void gnarl_trainer_episode_means(struct gnarl_trainer *t, struct gnarl_episode_means *out);
/* This process's rank and the process count (0 and 1 alone); rank 0
 * writes the run directory. */
int gnarl_trainer_rank(const struct gnarl_trainer *t);
int gnarl_trainer_world_size(const struct gnarl_trainer *t);

/* Parts, borrowed, for benchmarks and the checkpoint code. */
const struct gnarl_registry *gnarl_trainer_registry(const struct gnarl_trainer *t);
struct gnarl_guidance *gnarl_trainer_guidance(struct gnarl_trainer *t);
struct gnarl_archive *gnarl_trainer_archive(struct gnarl_trainer *t);  /* NULL: off */
struct gnarl_nn *gnarl_trainer_nn(struct gnarl_trainer *t);
struct gnarl_ppo *gnarl_trainer_ppo(struct gnarl_trainer *t);
struct gnarl_rollout *gnarl_trainer_rollout(struct gnarl_trainer *t);
struct gnarl_rng *gnarl_trainer_rng(struct gnarl_trainer *t);
struct gnarl_storage *gnarl_trainer_storage(struct gnarl_trainer *t);  /* NULL: none */
const char *gnarl_trainer_run_prefix(const struct gnarl_trainer *t);   /* "<run.name>/" */
struct gnarl_metrics *gnarl_trainer_metrics(struct gnarl_trainer *t);  /* NULL: none */
/* The progress on stderr and the summary (train_console.h); NULL when
 * quiet or on ranks other than 0. */
struct gnarl_train_console *gnarl_trainer_console(struct gnarl_trainer *t);
/* Whether the env renders frames (videos, the HUD's view). */
bool gnarl_trainer_has_frames(const struct gnarl_trainer *t);
/* Threads the learner's matrix work uses: 2 with actor and critic on
 * their own threads, else OpenBLAS's thread count. */
uint32_t gnarl_trainer_learner_threads(const struct gnarl_trainer *t);

#endif /* GNARL_TRAINER_H */
