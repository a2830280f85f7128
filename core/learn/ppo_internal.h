/*
 * ppo_internal.h - what ppo.c (buffer, normalisers, rollout, GAE) and
 * ppo_update.c (loss, minibatch gradients, the update on one or two
 * threads or several processes) share: the state of a PPO learner.
 */
#ifndef GNARL_PPO_INTERNAL_H
#define GNARL_PPO_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pool.h"
#include "ppo.h"

/* Two threads pay off only while both get a core.  When another process
 * holds one, a barrier per minibatch can cost a scheduler time slice, so
 * an iteration whose waits slept CONTENDED times or more switches to one
 * thread for a spell of SOLO_MIN..SOLO_MAX updates (doubling while the
 * contention lasts).  Both ways compute the same numbers. */
#define CONTENDED 2
#define SOLO_MIN 8
#define SOLO_MAX 256

/* Minibatch rows of one stack, gathered from the buffer. */
struct scratch {
	float *obs;                   /* (B, O) */
	int32_t *actions;
	float *logp, *adv, *values, *ret; /* (B) */
	float *dlogits;               /* (B, A) */
	float *dvalues;               /* (B) */
	float *work;                  /* the policy loss's: GNARL_PPO_POLICY_WORK */
};

/* Floats of the policy loss's work space for A actions and B rows. */
#define GNARL_PPO_POLICY_WORK(A, B) ((2 * (size_t)(A) + 9) * (size_t)(B))

/* Loss sums over minibatches, in double, per stack. */
struct acc {
	double pg, v, ent, kl, clipfrac, grad_norm;
	uint32_t n;
};

struct gnarl_ppo {
	struct gnarl_ppo_config c;
	struct gnarl_nn *nn;
	struct gnarl_pool *pool;
	uint32_t A, n_stacks;
	struct gnarl_ppo_buffer buf;
	struct scratch s[2];
	uint32_t *perm;               /* (E, T * N) this update's shuffles */
	void *slab;
	/* normalisers (doubles, own slab) */
	double *obs_mean, *obs_var;   /* (O_env) */
	double obs_count;
	double ret_mean, ret_var, ret_count;
	double *ret_acc;              /* (N) */
	double *stats;
	/* data-parallel runs (dist_on): the statistics of the last merge and
	 * this rank's rows since, each (mean, var, count); `all` receives
	 * every rank's rows, (K, 2 * O_env + 4) */
	bool dist_on;
	double *base_mean, *base_var, base_count;   /* (O_env) */
	double *rows_mean, *rows_var, rows_count;   /* (O_env) */
	double base_ret[3], rows_ret[3];
	double *all, *dist_slab;
	double mb_kl;                 /* KL of the actor's minibatch, for the test */
	/* update state shared by the two halves */
	struct gnarl_pool_barrier barrier;
	double sq[2][2];              /* [minibatch parity][stack]: a fast
	                                 thread may write the next minibatch's
	                                 norm before the other read this one */
	double lr;
	bool stop;
	bool can_split, can_overlap;  /* the config and the pool allow it */
	bool split;                   /* the update on two threads now: actor and
	                                 critic, or a shared network's products */
	bool overlap;                 /* critic values computed while acting now */
	uint64_t updates;             /* updates so far */
	uint64_t solo_until;          /* contention seen: one thread until then */
	uint32_t backoff;             /* updates of the next solo spell */
	uint64_t sleeps_mark;         /* waits that slept, at the last update */
	uint32_t values_done;         /* steps of this rollout with values */
	uint32_t async_first, async_end; /* steps of the values job in flight */
	uint32_t n_mb, epochs_run;
	struct acc acc[2];
	bool timing;                  /* gnarl_ppo_set_timing */
	double phase_s[2][GNARL_PPO_PHASES];
};

static inline double gnarl_ppo_clock(const struct gnarl_ppo *p)
{
	struct timespec ts;

	if (!p->timing)
		return 0.0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* With timing on: the time since *t goes to phase ph of `thread`, and *t
 * moves to now. */
static inline void gnarl_ppo_mark(struct gnarl_ppo *p, uint32_t thread,
                                  enum gnarl_ppo_phase ph, double *t)
{
	double now;

	if (!p->timing)
		return;
	now = gnarl_ppo_clock(p);
	p->phase_s[thread][ph] += now - *t;
	*t = now;
}

/* Set the threads of the next rollout's values and update: two unless
 * contention sent the learner solo (ppo_update.c). */
void gnarl_ppo_use_threads(struct gnarl_ppo *p);

#endif /* GNARL_PPO_INTERNAL_H */
