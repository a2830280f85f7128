/*
 * ppo.h - proximal policy optimisation on a gnarl_nn: the rollout buffer,
 * action sampling, observation normalisation and reward scaling, GAE with
 * terminated versus truncated episodes, the clipped loss and the update
 * (epochs over shuffled minibatches, Adam, global gradient-norm clip).
 *
 * Dimensions: T steps per rollout, N envs, O floats per observation row
 * (the first O_env are the env's and get normalised, the rest is the
 * advice block, copied as is), A actions, B rows per minibatch.
 * Buffer arrays are (T, N) row-major: index t * N + n.
 *
 * One iteration, as the trainer drives it:
 *     gnarl_ppo_begin(p);
 *     for t in 0..T-1:
 *         gnarl_ppo_act(p, t, rng);              actions, logp of step t
 *         ... step the envs with buffer->actions + t * N ...
 *         gnarl_ppo_record(p, t, rewards, dones, next_obs, final_obs);
 *     gnarl_ppo_finish(p);                       values, GAE
 *     gnarl_ppo_update(p, lr, rng, &stats);
 * None of these allocate or fail.
 */
#ifndef GNARL_PPO_H
#define GNARL_PPO_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "rng.h"
#include "tensor.h"

struct gnarl_dist;
struct gnarl_nn;
struct gnarl_pool;

struct gnarl_ppo_config {
	uint32_t T, N;                /* rollout steps, envs */
	uint32_t O, O_env;            /* floats per obs row; leading floats normalised */
	uint32_t epochs, minibatch;   /* E, B */
	double learning_rate;
	bool lr_linear;               /* anneal to 0 over the run, else constant */
	double gamma, gae_lambda;
	double clip_coef;
	double value_clip;            /* range of the clipped value loss; 0: off */
	double ent_coef, vf_coef;
	double max_grad_norm;         /* <= 0: no clipping */
	double target_kl;             /* <= 0: off */
	bool norm_adv;
	bool normalize_obs, normalize_reward;
	double obs_clip, reward_clip;
	double adam_eps;
	uint32_t threads;             /* 2: actor and critic updated on two threads */
	bool overlap_values;          /* with a separate critic and a pool of >= 2
	                                 threads: compute the critic's values of
	                                 finished chunks of the rollout on worker 1
	                                 while acting goes on (the pool must not be
	                                 stepping envs meanwhile) */
	struct gnarl_dist *dist;      /* borrowed; NULL: alone.  Else the update
	                                 averages each minibatch's gradients,
	                                 the target-KL test's KL and the stats
	                                 it returns over dist's processes, and
	                                 the normalisers keep their rows for
	                                 gnarl_ppo_merge_stats (core/dist.h;
	                                 the trainer passes one only with
	                                 several processes: merged statistics
	                                 differ from one process's running
	                                 ones in the last bits) */
};

struct gnarl_ppo_stats {
	double policy_loss, value_loss, entropy;
	double approx_kl;             /* mean of (ratio - 1) - log ratio */
	double clipfrac;              /* fraction with |ratio - 1| > clip_coef */
	double explained_variance;    /* 1 - Var(ret - V) / Var(ret) over the buffer */
	double grad_norm;             /* before clipping, mean over minibatches */
	double lr;
	uint32_t epochs, minibatches; /* run (target KL may stop early) */
};

/* Views of the rollout buffer (borrowed from the ppo object; one slab). */
struct gnarl_ppo_buffer {
	float *obs;                   /* (T, N, O) normalised policy inputs */
	int32_t *actions;             /* (T, N) */
	float *logp;                  /* (T, N) log pi(a|s) at sampling */
	float *values;                /* (T, N) V(s) before the update */
	float *rewards;               /* (T, N) scaled rewards */
	uint8_t *dones;               /* (T, N) enum gnarl_done of the transition */
	float *final_values;          /* (T, N) V(final obs) where truncated */
	float *adv, *ret;             /* (T, N) GAE advantages and returns */
	float *next_obs;              /* (N, O) observation after step T-1 */
	float *next_values;           /* (N) V(next_obs) */
	uint32_t n_trunc;             /* truncated transitions this rollout */
	uint32_t *trunc_index;        /* (T * N) their t * N + n */
	float *trunc_obs;             /* (T * N, O) their final observations */
};

struct gnarl_ppo;

/* nn must have inputs == O and max_batch >= max(B, N); it is borrowed and
 * must outlive the ppo object, as must pool (may be NULL).  *out owned:
 * gnarl_ppo_free().  GNARL_EINVAL (message says which key) or ENOMEM. */
int gnarl_ppo_create(const struct gnarl_ppo_config *c, struct gnarl_nn *nn,
                     struct gnarl_pool *pool, struct gnarl_ppo **out,
                     char err[GNARL_ERR_SIZE]);
void gnarl_ppo_free(struct gnarl_ppo *p);  /* accepts NULL */
const struct gnarl_ppo_config *gnarl_ppo_config(const struct gnarl_ppo *p);
struct gnarl_ppo_buffer *gnarl_ppo_buffer(struct gnarl_ppo *p);

/* Observation normaliser: update the running statistics with raw rows
 * (n, O) when `update`, then write normalised rows to out (may equal
 * raw).  With normalize_obs off this is a copy. */
void gnarl_ppo_normalize_obs(struct gnarl_ppo *p, const float *raw, float *out,
                             uint32_t n, bool update);
/* Set the observation the next rollout starts from (raw (N, O), e.g.
 * after resetting every env); updates the normaliser. */
void gnarl_ppo_set_obs(struct gnarl_ppo *p, const float *raw);

/* Start a rollout: obs[0] = next_obs, no truncations yet. */
void gnarl_ppo_begin(struct gnarl_ppo *p);
/* Sample actions for step t from obs[t] with rng; writes actions and
 * logp of step t.  gnarl_ppo_sample is the same on any rows. */
void gnarl_ppo_act(struct gnarl_ppo *p, uint32_t t, struct gnarl_rng *rng);
void gnarl_ppo_sample(struct gnarl_ppo *p, const float *x, uint32_t n,
                      struct gnarl_rng *rng, int32_t *actions, float *logp);
/* Step t's outcome: raw rewards (N), dones (N), the raw observations the
 * envs continue from (N, O; after any reset) and the raw final
 * observations (N, O; rows read where dones is set).  Scales rewards,
 * normalises observations into obs[t + 1] (next_obs for t = T - 1) and
 * keeps truncated final observations for bootstrapping. */
void gnarl_ppo_record(struct gnarl_ppo *p, uint32_t t, const float *rewards,
                      const uint8_t *dones, const float *next_raw,
                      const float *final_raw);
/* Values of the buffer, of next_obs and of truncated final observations,
 * then GAE. */
void gnarl_ppo_finish(struct gnarl_ppo *p);
/* E epochs over shuffled minibatches (permutations drawn from rng) at
 * learning rate lr. */
void gnarl_ppo_update(struct gnarl_ppo *p, double lr, struct gnarl_rng *rng,
                      struct gnarl_ppo_stats *out);

/* Data-parallel runs (config dist set; a collective: every rank calls it
 * at the same point).  Between merges each rank
 * normalises with the statistics of the last merge updated by its own
 * rows; the merge combines every rank's rows since the last merge with
 * the last merge's statistics (Chan's parallel mean/variance, in rank
 * order), so afterwards every rank holds the same numbers.  A no-op
 * without dist.  gnarl_ppo_rebase_stats makes the current statistics the
 * base (after a checkpoint wrote them), forgetting rows since. */
void gnarl_ppo_merge_stats(struct gnarl_ppo *p);
void gnarl_ppo_rebase_stats(struct gnarl_ppo *p);

/* lr at 1-based iteration `it` of `n` (CleanRL: lr * (1 - (it-1)/n)). */
double gnarl_ppo_lr(const struct gnarl_ppo_config *c, uint64_t it, uint64_t n);

/* GAE(gamma, lambda) over (T, N) arrays.  A transition flagged
 * GNARL_DONE_TERMINATED bootstraps from 0, one flagged only
 * GNARL_DONE_TRUNCATED from final_values[t*N+n]; either ends the
 * recursion.  Otherwise step t bootstraps from values[t+1] (next_values
 * for t = T - 1).  ret = adv + values. */
void gnarl_ppo_gae(uint32_t T, uint32_t N, double gamma, double lambda,
                   const float *rewards, const float *values,
                   const uint8_t *dones, const float *final_values,
                   const float *next_values, float *adv, float *ret);

/* One minibatch, for tests and the update: forward every stack on obs
 * (B, O), the clipped PPO loss, backward (gradients overwritten).
 * Advantages are normalised inside when norm_adv.  `loss` gets the
 * minibatch's means; returns the total loss
 *     pg - ent_coef * entropy + vf_coef * value_loss. */
struct gnarl_ppo_minibatch {
	uint32_t B;
	const float *obs;             /* (B, O) */
	const int32_t *actions;       /* (B) */
	const float *logp;            /* (B) at sampling */
	const float *adv;             /* (B) raw advantages */
	const float *values;          /* (B) at sampling */
	const float *ret;             /* (B) */
};
struct gnarl_ppo_loss {
	double policy_loss, value_loss, entropy, approx_kl, clipfrac;
};
double gnarl_ppo_minibatch_grad(struct gnarl_ppo *p,
                                const struct gnarl_ppo_minibatch *mb,
                                struct gnarl_ppo_loss *loss);

/* Where the learner's time goes (gnarl bench), per thread: 0 the caller,
 * 1 the pool worker that runs the critic or the values.  Off by default:
 * each phase boundary reads the clock (tens of nanoseconds). */
enum gnarl_ppo_phase {
	GNARL_PPO_ACT = 0,       /* the policy's forward and sampling (and a
	                            shared network's values) while acting */
	GNARL_PPO_VALUES,        /* the critic's values of the rollout */
	GNARL_PPO_GAE,
	GNARL_PPO_FORWARD,       /* a minibatch's gathering, forward and loss */
	GNARL_PPO_BACKWARD,
	GNARL_PPO_ADAM,          /* gradient norm, clip and Adam */
	GNARL_PPO_SYNC,          /* waiting for the other thread or processes */
	GNARL_PPO_PHASES
};
/* Start (zeroing the sums) or stop timing. */
void gnarl_ppo_set_timing(struct gnarl_ppo *p, bool on);
/* Seconds per phase so far on `thread` (0 or 1). */
void gnarl_ppo_phase_seconds(const struct gnarl_ppo *p, uint32_t thread,
                             double out[GNARL_PPO_PHASES]);
const char *gnarl_ppo_phase_name(enum gnarl_ppo_phase ph);

/* The normalisers as tensor views (borrowed): "obs_rms.mean",
 * "obs_rms.var" (F64, O_env), "obs_rms.count", "ret_rms.mean",
 * "ret_rms.var", "ret_rms.count" (F64 scalars), "ret_rms.returns" (F64, N:
 * each env's discounted return so far).  Returns how many exist. */
uint32_t gnarl_ppo_tensors(struct gnarl_ppo *p, struct gnarl_tensor *out,
                           uint32_t max);

#endif /* GNARL_PPO_H */
