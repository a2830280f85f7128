/*
 * trainer_internal.h - the trainer's state, shared by the files of one
 * object: trainer.c (construction and the loop), trainer_report.c (an
 * iteration's scalars, videos and frame to metrics, TensorBoard and the HUD)
 * and trainer_parts.c (its checkpointed state and the parts resume and the
 * commands reach).  Nothing outside core/run/trainer*.c includes it.
 */
#ifndef GNARL_TRAINER_INTERNAL_H
#define GNARL_TRAINER_INTERNAL_H

#include "plugin_host.h"
#include "rng.h"
#include "storage.h"
#include "trainer.h"

struct term {
	struct gnarl_plugin_host *host;
	struct gnarl_term *term;  /* the instance and its memory */
	char metric[96];          /* "reward/<name>" */
};

struct gnarl_trainer {
	struct gnarl_config *cfg;
	struct gnarl_trainer_options opts;
	struct gnarl_registry *reg;
	struct gnarl_gauges *gauges;
	struct gnarl_storage *st;
	char *run_prefix;
	struct gnarl_run_dir run_dir; /* st and run_prefix, for plugins' run_put */
	struct gnarl_host_context ctx;
	struct gnarl_metrics *metrics;
	struct gnarl_summaries *summaries; /* NULL: metrics.episodes off or no run dir */
	struct gnarl_plugin_host *env_host;
	const struct gnarl_env_ops *env_ops;
	void *env;
	struct term *terms;
	struct gnarl_rollout_reward *rewards;
	uint32_t n_terms;
	struct gnarl_pool *pool;
	struct gnarl_nn *nn;
	struct gnarl_ppo *ppo;
	struct gnarl_rollout *ro;
	struct gnarl_guidance *guid; /* LLM guidance (no sources without `llm:`) */
	struct gnarl_archive *archive; /* start states (archive.enabled); NULL: off */
	struct gnarl_rng rng;
	uint64_t iteration, env_steps, total_iters;
	double start_time;        /* of this process's part of the run */
	uint64_t start_steps;     /* env_steps then */
	uint32_t N, T, learner_threads;
	bool direct_obs;              /* the env writes into the learner's buffer */
	bool has_state, has_frames;
	gnarl_trainer_hook_fn hook; /* after each report (checkpoints) */
	void *hook_ctx;
	struct gnarl_hud *hud;    /* web HUD (hud.port); NULL: off */
	struct gnarl_train_console *console; /* progress on stderr; NULL: quiet or rank > 0 */
	struct gnarl_recorder *rec; /* episode videos (video.every); NULL: off */
	/* data-parallel */
	struct gnarl_dist *dist;
	int rank, world;
	struct gnarl_trainer_sync *sync; /* NULL alone */
	bool joined;
	uint64_t updates;         /* minibatch updates of this process */
};

/* The video the recorder finished since the last call, if any: TensorBoard,
 * the HUD, a line (trainer_report.c). */
void gnarl_trainer_take_video(struct gnarl_trainer *t, const struct gnarl_trainer_iteration *it);

#endif
