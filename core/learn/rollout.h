/*
 * rollout.h - N envs of one env plugin stepped together: env step, reward
 * plugins, the total reward, episode bookkeeping and automatic reset, for
 * disjoint env ranges on a thread pool.
 *
 * Dimensions: N envs, O floats per observation row (obs_stride; the env
 * writes the first obs_dim, the rest is the core's advice block), K reward
 * terms, G LLM guidance sources.  Total reward of env n = env-native
 * reward + sum_k weight_k * term_k + the G alignment bonuses (core/
 * guidance.h), which the episode records carry as terms K..K+G-1.  Each env's reset seed derives from the run seed, the env index
 * and its episode number, so results do not depend on the thread count.
 *
 * gnarl_rollout_step never allocates and never fails.
 */
#ifndef GNARL_ROLLOUT_H
#define GNARL_ROLLOUT_H

#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_pool;
struct gnarl_term;
struct gnarl_episode;
struct gnarl_guidance;
struct gnarl_episode_record;
struct gnarl_archive;

/* One reward term.  All pointers borrowed; they must outlive the rollout. */
struct gnarl_rollout_reward {
	const char *name;                     /* "room_discovery" */
	struct gnarl_term *term;              /* the instance and its memory (term.h) */
	float weight;
};

struct gnarl_rollout_config {
	uint32_t n_envs;                      /* N, as the env was created with */
	uint32_t obs_stride;                  /* O >= the env's obs_dim */
	uint64_t seed;                        /* the run seed */
	uint32_t threads;                     /* env ranges stepped in parallel */
	uint32_t window;                      /* episodes in the means (100) */
};

struct gnarl_rollout;

/* ops/env: a created env instance of config->n_envs envs (borrowed).
 * rewards: n_rewards terms (the array is copied, its pointers borrowed).
 * pool: borrowed, may be NULL (then everything runs on the caller).
 * Does not reset the envs: call gnarl_rollout_reset_all.  *out owned:
 * gnarl_rollout_free(). */
int gnarl_rollout_create(const struct gnarl_rollout_config *config,
                         const struct gnarl_env_ops *ops, void *env,
                         const struct gnarl_rollout_reward *rewards,
                         uint32_t n_rewards, struct gnarl_pool *pool,
                         struct gnarl_rollout **out, char err[GNARL_ERR_SIZE]);
/* The same with LLM guidance (core/guidance.h), borrowed (it must outlive
 * the rollout); NULL or no sources: none, exactly gnarl_rollout_create.
 * Guidance needs O >= obs_dim + A + 1 (the advice block at obs_dim). */
int gnarl_rollout_create_guided(const struct gnarl_rollout_config *config,
                                const struct gnarl_env_ops *ops, void *env,
                                const struct gnarl_rollout_reward *rewards,
                                uint32_t n_rewards, struct gnarl_guidance *guidance,
                                struct gnarl_pool *pool, struct gnarl_rollout **out,
                                char err[GNARL_ERR_SIZE]);
void gnarl_rollout_free(struct gnarl_rollout *r);  /* accepts NULL */

/* Resets from now on may start an env from the archive of start states
 * (core/learn/archive.h: gnarl_archive_start, in place of the env's reset);
 * borrowed, it must outlive the rollout; NULL: normal starts only. */
void gnarl_rollout_set_archive(struct gnarl_rollout *r, struct gnarl_archive *archive);
/* Start a new episode in every env (reset, episode_start of every term,
 * gnarl_rollout_forget_advice). */
void gnarl_rollout_reset_all(struct gnarl_rollout *r);
/* Guidance forgets every env's suggestion and the advice blocks of obs
 * become zeros (after a restore that put saved observations in obs). */
void gnarl_rollout_forget_advice(struct gnarl_rollout *r);
/* Step every env with actions (N).  Envs that finish get their record
 * (gnarl_rollout_record), their final observation kept and a reset.
 * Returns the number of envs that finished. */
uint32_t gnarl_rollout_step(struct gnarl_rollout *r, const int32_t *actions);

/* The rows the env writes its observations into (and guidance its advice
 * blocks) from the next reset, step or state load on: obs (N, O),
 * borrowed, e.g. the learner's buffer row of the next step, so that
 * nothing is copied between the two.  NULL: the rollout's own rows (the
 * default).  Without guidance the advice blocks of obs are left as they
 * are (zeros in a fresh buffer). */
void gnarl_rollout_set_obs_rows(struct gnarl_rollout *r, float *obs);

/* Borrowed views, valid until gnarl_rollout_free; contents change with
 * every step.  gnarl_rollout_obs is the rows set last. */
const struct gnarl_env_spaces *gnarl_rollout_spaces(const struct gnarl_rollout *r);
float *gnarl_rollout_obs(struct gnarl_rollout *r);        /* (N, O) raw, after any reset */
const float *gnarl_rollout_final_obs(const struct gnarl_rollout *r); /* (N, O), rows of finished envs */
const float *gnarl_rollout_rewards(const struct gnarl_rollout *r);   /* (N) total of the last step */
const uint8_t *gnarl_rollout_dones(const struct gnarl_rollout *r);   /* (N) enum gnarl_done */
/* (N) current game states, or NULL when the env has none. */
const struct gnarl_game_state *gnarl_rollout_states(const struct gnarl_rollout *r);
/* The record of env n's episode that ended in the last step (dones[n]). */
const struct gnarl_episode_record *gnarl_rollout_record(const struct gnarl_rollout *r,
                                                        uint32_t n);
/* The rollout's episode tracker (owned by the rollout). */
struct gnarl_episode *gnarl_rollout_episodes(struct gnarl_rollout *r);
uint32_t gnarl_rollout_n_rewards(const struct gnarl_rollout *r);
const char *gnarl_rollout_reward_name(const struct gnarl_rollout *r, uint32_t k);

/* For checkpoints (core/resume.c): the env plugin's instance and ops and
 * the host arrays it writes (all borrowed), so env states can be saved and
 * loaded (load_state writes obs and game states through io), and reward
 * term k (borrowed, k < gnarl_rollout_n_rewards). */
void *gnarl_rollout_env(struct gnarl_rollout *r, const struct gnarl_env_ops **ops,
                        const struct gnarl_env_io **io);
const struct gnarl_rollout_reward *gnarl_rollout_reward(const struct gnarl_rollout *r,
                                                        uint32_t k);

/* Reset seed of env n's episode `episode` under run seed `seed`. */
uint64_t gnarl_rollout_reset_seed(uint64_t seed, uint32_t n, uint64_t episode);

#endif /* GNARL_ROLLOUT_H */
