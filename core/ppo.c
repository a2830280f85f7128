/*
 * ppo.c - PPO's buffer, normalisers, GAE, loss and update (see ppo.h).
 *
 * Entry points: gnarl_ppo_create/free, _begin/_act/_record/_finish (one
 * rollout), _update, and the pure pieces _gae, _lr, _minibatch_grad.
 *
 * Threads: with threads >= 2 and a pool of >= 2 threads, a separate actor
 * and critic are updated on two threads, the actor (stack 0) on the
 * caller and the critic (stack 1) on a pool worker.  They meet once per
 * minibatch at a barrier to add their squared gradient norms (in a fixed
 * order) and then step Adam on their own halves, so the arithmetic is the
 * same as with one thread: results do not depend on the thread count.
 * With overlap_values the critic's values of each finished chunk of the
 * rollout are computed on that worker while the caller goes on acting.
 * A shared network instead has each large product's rows and Adam's
 * range split over the two threads (gnarl_nn_set_parts), the same bits
 * again.  When the waits show another process holding a core, both fall
 * back to one thread for a while (see CONTENDED).
 *
 * Data-parallel runs (config dist, several processes): each minibatch's
 * gradients are averaged over the ranks on the caller's thread after both
 * halves are done (one more barrier), and the norm, the clip and Adam use
 * the average, so every rank takes the same step; the target-KL test uses
 * the mean KL, so every rank stops at the same epoch.  The normalisers
 * keep, besides their statistics, the base of the last merge and this
 * rank's rows since (gnarl_ppo_merge_stats).
 *
 * Invariants: every buffer lives in one slab allocated at create; nothing
 * after create allocates.  Normaliser statistics are doubles.
 */
#include "ppo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "error.h"
#include "nn.h"
#include "pool.h"

#define RMS_EPS 1e-8
#define RMS_COUNT0 1e-4

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
};

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
};

/* ---- construction ------------------------------------------------------- */

static size_t round64(size_t n)
{
	return (n + 63) / 64 * 64;
}

/* Carve `bytes` off the slab cursor (NULL slab: only count). */
static void *carve(char **cur, char *base, size_t bytes)
{
	void *p = base ? *cur : NULL;

	*cur += round64(bytes);
	return p;
}

static void layout(struct gnarl_ppo *p, char *base, size_t *total)
{
	const struct gnarl_ppo_config *c = &p->c;
	size_t TN = (size_t)c->T * c->N, B = c->minibatch, O = c->O;
	struct gnarl_ppo_buffer *b = &p->buf;
	char *cur = base;

	b->obs = carve(&cur, base, TN * O * sizeof(float));
	b->actions = carve(&cur, base, TN * sizeof(int32_t));
	b->logp = carve(&cur, base, TN * sizeof(float));
	b->values = carve(&cur, base, TN * sizeof(float));
	b->rewards = carve(&cur, base, TN * sizeof(float));
	b->dones = carve(&cur, base, TN);
	b->final_values = carve(&cur, base, TN * sizeof(float));
	b->adv = carve(&cur, base, TN * sizeof(float));
	b->ret = carve(&cur, base, TN * sizeof(float));
	b->next_obs = carve(&cur, base, (size_t)c->N * O * sizeof(float));
	b->next_values = carve(&cur, base, c->N * sizeof(float));
	b->trunc_index = carve(&cur, base, TN * sizeof(uint32_t));
	b->trunc_obs = carve(&cur, base, TN * O * sizeof(float));
	for (int k = 0; k < 2; k++) {
		struct scratch *s = &p->s[k];
		s->obs = carve(&cur, base, B * O * sizeof(float));
		s->actions = carve(&cur, base, B * sizeof(int32_t));
		s->logp = carve(&cur, base, B * sizeof(float));
		s->adv = carve(&cur, base, B * sizeof(float));
		s->values = carve(&cur, base, B * sizeof(float));
		s->ret = carve(&cur, base, B * sizeof(float));
		s->dlogits = carve(&cur, base, B * p->A * sizeof(float));
		s->dvalues = carve(&cur, base, B * sizeof(float));
	}
	p->perm = carve(&cur, base, (size_t)c->epochs * TN * sizeof(uint32_t));
	*total = (size_t)(cur - base);
}

static int check_config(const struct gnarl_ppo_config *c, const struct gnarl_nn *nn,
                        char err[GNARL_ERR_SIZE])
{
	const struct gnarl_nn_spec *sp = gnarl_nn_spec(nn);

	if (c->T == 0 || c->N == 0)
		return gnarl_err(err, GNARL_EINVAL,
		                 "ppo.rollout_steps (%u) and env.num_envs (%u) must be positive",
		                 c->T, c->N);
	if (c->epochs == 0 || c->minibatch == 0)
		return gnarl_err(err, GNARL_EINVAL,
		                 "ppo.epochs (%u) and ppo.minibatch_size (%u) must be positive",
		                 c->epochs, c->minibatch);
	if (c->minibatch > c->T * c->N)
		return gnarl_err(err, GNARL_EINVAL,
		                 "ppo.minibatch_size %u is larger than the batch "
		                 "(ppo.rollout_steps x env.num_envs = %u); lower it",
		                 c->minibatch, c->T * c->N);
	if (c->O_env > c->O || sp->inputs != c->O)
		return gnarl_err(err, GNARL_EINVAL,
		                 "ppo: observation size %u (env part %u) does not match the "
		                 "network's %u inputs",
		                 c->O, c->O_env, sp->inputs);
	if (sp->max_batch < c->minibatch || sp->max_batch < c->N)
		return gnarl_err(err, GNARL_EINVAL,
		                 "ppo: the network's max batch %u is below the minibatch "
		                 "(%u) or the env count (%u)",
		                 sp->max_batch, c->minibatch, c->N);
	return 0;
}

int gnarl_ppo_create(const struct gnarl_ppo_config *c, struct gnarl_nn *nn,
                     struct gnarl_pool *pool, struct gnarl_ppo **out,
                     char err[GNARL_ERR_SIZE])
{
	struct gnarl_ppo *p;
	size_t bytes;
	int rc;

	*out = NULL;
	rc = check_config(c, nn, err);
	if (rc)
		return rc;
	p = calloc(1, sizeof(*p));
	if (!p)
		return gnarl_err(err, GNARL_ENOMEM, "ppo: out of memory");
	p->c = *c;
	p->nn = nn;
	p->pool = pool;
	p->A = gnarl_nn_spec(nn)->n_actions;
	p->n_stacks = gnarl_nn_stacks(nn);
	p->can_split = c->threads >= 2 && gnarl_pool_threads(pool) >= 2;
	p->can_overlap = c->overlap_values && p->n_stacks == 2 && gnarl_pool_threads(pool) >= 2;
	p->backoff = SOLO_MIN;
	gnarl_pool_barrier_init(&p->barrier, 2);
	layout(p, NULL, &bytes);
	p->slab = aligned_alloc(64, bytes);
	p->stats = calloc(2 * (size_t)c->O_env + c->N + 1, sizeof(double));
	if (!p->slab || !p->stats) {
		gnarl_ppo_free(p);
		return gnarl_err(err, GNARL_ENOMEM,
		                 "ppo: out of memory for a rollout buffer of %zu bytes", bytes);
	}
	memset(p->slab, 0, bytes);
	layout(p, p->slab, &bytes);
	p->obs_mean = p->stats;
	p->obs_var = p->stats + c->O_env;
	p->ret_acc = p->stats + 2 * (size_t)c->O_env;
	for (uint32_t i = 0; i < c->O_env; i++)
		p->obs_var[i] = 1.0;
	p->obs_count = RMS_COUNT0;
	p->ret_var = 1.0;
	p->ret_count = RMS_COUNT0;
	if (c->dist) {
		size_t E = c->O_env, K = (size_t)gnarl_dist_size(c->dist);

		p->dist_on = true;
		p->dist_slab = calloc(4 * E + K * (2 * E + 4) + 1, sizeof(double));
		if (!p->dist_slab) {
			gnarl_ppo_free(p);
			return gnarl_err(err, GNARL_ENOMEM, "ppo: out of memory");
		}
		p->base_mean = p->dist_slab;
		p->base_var = p->base_mean + E;
		p->rows_mean = p->base_var + E;
		p->rows_var = p->rows_mean + E;
		p->all = p->rows_var + E;
		gnarl_ppo_rebase_stats(p);
	}
	*out = p;
	return 0;
}

void gnarl_ppo_free(struct gnarl_ppo *p)
{
	if (!p)
		return;
	gnarl_pool_barrier_destroy(&p->barrier);
	free(p->slab);
	free(p->stats);
	free(p->dist_slab);
	free(p);
}

const struct gnarl_ppo_config *gnarl_ppo_config(const struct gnarl_ppo *p)
{
	return &p->c;
}

struct gnarl_ppo_buffer *gnarl_ppo_buffer(struct gnarl_ppo *p)
{
	return &p->buf;
}

/* ---- normalisers -------------------------------------------------------- */

/* Chan et al.'s parallel update of (mean, var, count) with a batch. */
static void rms_update(double *mean, double *var, double *count, double bmean,
                       double bvar, double bcount)
{
	double delta = bmean - *mean, tot = *count + bcount;
	double m2 = *var * *count + bvar * bcount + delta * delta * *count * bcount / tot;

	*mean += delta * bcount / tot;
	*var = m2 / tot;
	*count = tot;
}

void gnarl_ppo_normalize_obs(struct gnarl_ppo *p, const float *raw, float *out,
                             uint32_t n, bool update)
{
	const uint32_t O = p->c.O, E = p->c.O_env;
	const float clip = (float)p->c.obs_clip;

	if (!p->c.normalize_obs) {
		if (out != raw)
			memmove(out, raw, (size_t)n * O * sizeof(float));
		return;
	}
	if (update)
		for (uint32_t j = 0; j < E; j++) {
			double s = 0.0, ss = 0.0, m;
			for (uint32_t i = 0; i < n; i++)
				s += raw[(size_t)i * O + j];
			m = s / n;
			for (uint32_t i = 0; i < n; i++) {
				double d = raw[(size_t)i * O + j] - m;
				ss += d * d;
			}
			double c = p->obs_count;
			rms_update(&p->obs_mean[j], &p->obs_var[j], &c, m, ss / n, n);
			if (p->dist_on) {
				c = p->rows_count;
				rms_update(&p->rows_mean[j], &p->rows_var[j], &c, m, ss / n, n);
			}
		}
	if (update)
		p->obs_count += n;
	if (update && p->dist_on)
		p->rows_count += n;
	for (uint32_t i = 0; i < n; i++) {
		const float *x = raw + (size_t)i * O;
		float *y = out + (size_t)i * O;
		for (uint32_t j = 0; j < E; j++) {
			float v = (float)((x[j] - p->obs_mean[j]) / sqrt(p->obs_var[j] + RMS_EPS));
			y[j] = v < -clip ? -clip : v > clip ? clip : v;
		}
		if (y != x)
			memcpy(y + E, x + E, (O - E) * sizeof(float));
	}
}

/* rewards (N) -> out (N), scaled by the running std of discounted returns
 * (SB3's VecNormalize: a return restarts at any episode end). */
static void scale_rewards(struct gnarl_ppo *p, const float *r, const uint8_t *dones,
                          float *out)
{
	const uint32_t N = p->c.N;
	const float clip = (float)p->c.reward_clip;
	double s = 0.0, ss = 0.0, m, scale;

	if (!p->c.normalize_reward) {
		memcpy(out, r, N * sizeof(float));
		return;
	}
	for (uint32_t n = 0; n < N; n++) {
		p->ret_acc[n] = p->ret_acc[n] * p->c.gamma + r[n];
		s += p->ret_acc[n];
	}
	m = s / N;
	for (uint32_t n = 0; n < N; n++)
		ss += (p->ret_acc[n] - m) * (p->ret_acc[n] - m);
	rms_update(&p->ret_mean, &p->ret_var, &p->ret_count, m, ss / N, N);
	if (p->dist_on)
		rms_update(&p->rows_ret[0], &p->rows_ret[1], &p->rows_ret[2], m, ss / N, N);
	scale = 1.0 / sqrt(p->ret_var + RMS_EPS);
	for (uint32_t n = 0; n < N; n++) {
		float v = (float)(r[n] * scale);
		out[n] = v < -clip ? -clip : v > clip ? clip : v;
		if (dones[n])
			p->ret_acc[n] = 0.0;
	}
}

void gnarl_ppo_rebase_stats(struct gnarl_ppo *p)
{
	const size_t E = p->c.O_env;

	if (!p->dist_on)
		return;
	memcpy(p->base_mean, p->obs_mean, E * sizeof(double));
	memcpy(p->base_var, p->obs_var, E * sizeof(double));
	p->base_count = p->obs_count;
	p->base_ret[0] = p->ret_mean;
	p->base_ret[1] = p->ret_var;
	p->base_ret[2] = p->ret_count;
	memset(p->rows_mean, 0, 2 * E * sizeof(double));
	p->rows_count = 0.0;
	memset(p->rows_ret, 0, sizeof(p->rows_ret));
}

/* A rank's row of `all`: its rows' obs count, obs mean (O_env), obs var
 * (O_env), then ret mean, var and count. */
void gnarl_ppo_merge_stats(struct gnarl_ppo *p)
{
	const size_t E = p->c.O_env, V = 2 * E + 4;
	const int K = gnarl_dist_size(p->c.dist);
	double *mine = p->all + (size_t)gnarl_dist_rank(p->c.dist) * V;

	if (!p->dist_on)
		return;
	mine[0] = p->rows_count;
	memcpy(mine + 1, p->rows_mean, E * sizeof(double));
	memcpy(mine + 1 + E, p->rows_var, E * sizeof(double));
	memcpy(mine + 1 + 2 * E, p->rows_ret, sizeof(p->rows_ret));
	gnarl_dist_allgather_f64(p->c.dist, mine, V, p->all);
	memcpy(p->obs_mean, p->base_mean, E * sizeof(double));
	memcpy(p->obs_var, p->base_var, E * sizeof(double));
	p->obs_count = p->base_count;
	p->ret_mean = p->base_ret[0];
	p->ret_var = p->base_ret[1];
	p->ret_count = p->base_ret[2];
	for (int r = 0; r < K; r++) {
		const double *v = p->all + (size_t)r * V, *ret = v + 1 + 2 * E;
		if (v[0] > 0.0) {
			for (size_t j = 0; j < E; j++) {
				double c = p->obs_count;
				rms_update(&p->obs_mean[j], &p->obs_var[j], &c, v[1 + j], v[1 + E + j],
				           v[0]);
			}
			p->obs_count += v[0];
		}
		if (ret[2] > 0.0)
			rms_update(&p->ret_mean, &p->ret_var, &p->ret_count, ret[0], ret[1], ret[2]);
	}
	gnarl_ppo_rebase_stats(p);
}

uint32_t gnarl_ppo_tensors(struct gnarl_ppo *p, struct gnarl_tensor *out,
                           uint32_t max)
{
	struct {
		const char *name;
		void *data;
		uint32_t ndim;
		uint64_t dim;
	} t[] = {
	    {"obs_rms.mean", p->obs_mean, 1, p->c.O_env},
	    {"obs_rms.var", p->obs_var, 1, p->c.O_env},
	    {"obs_rms.count", &p->obs_count, 0, 0},
	    {"ret_rms.mean", &p->ret_mean, 0, 0},
	    {"ret_rms.var", &p->ret_var, 0, 0},
	    {"ret_rms.count", &p->ret_count, 0, 0},
	    {"ret_rms.returns", p->ret_acc, 1, p->c.N},
	};
	uint32_t n = sizeof(t) / sizeof(t[0]);

	for (uint32_t i = 0; i < n && i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].name = t[i].name;
		out[i].dtype = GNARL_DTYPE_F64;
		out[i].ndim = t[i].ndim;
		out[i].shape[0] = t[i].dim;
		out[i].data = t[i].data;
	}
	return n;
}

/* ---- rollout ------------------------------------------------------------ */

void gnarl_ppo_set_obs(struct gnarl_ppo *p, const float *raw)
{
	gnarl_ppo_normalize_obs(p, raw, p->buf.next_obs, p->c.N, true);
}

/* Two threads unless contention sent us solo: a separate actor and critic
 * split the update by stack (update_task), a shared network its products
 * (the network's parts, also for the values). */
static void use_threads(struct gnarl_ppo *p)
{
	p->split = p->can_split && p->updates >= p->solo_until;
	if (p->n_stacks == 1)
		gnarl_nn_set_parts(p->nn, p->pool, p->split ? 2 : 1);
}

void gnarl_ppo_begin(struct gnarl_ppo *p)
{
	memcpy(p->buf.obs, p->buf.next_obs, (size_t)p->c.N * p->c.O * sizeof(float));
	p->buf.n_trunc = 0;
	p->values_done = 0;
	p->overlap = p->can_overlap && p->updates >= p->solo_until;
	use_threads(p);
}

void gnarl_ppo_sample(struct gnarl_ppo *p, const float *x, uint32_t n,
                      struct gnarl_rng *rng, int32_t *actions, float *logp)
{
	const uint32_t A = p->A;
	const float *logits;

	gnarl_nn_forward(p->nn, x, n, GNARL_NN_POLICY);
	logits = gnarl_nn_logits(p->nn);
	for (uint32_t i = 0; i < n; i++) {
		const float *l = logits + (size_t)i * A;
		float u = gnarl_rng_float(rng), m = l[0], s = 0.0f, cum = 0.0f;
		uint32_t a = A - 1;

		for (uint32_t j = 1; j < A; j++)
			m = l[j] > m ? l[j] : m;
		for (uint32_t j = 0; j < A; j++)
			s += expf(l[j] - m);
		u *= s; /* compare unnormalised cumulative weights */
		for (uint32_t j = 0; j + 1 < A; j++) {
			cum += expf(l[j] - m);
			if (u < cum) {
				a = j;
				break;
			}
		}
		actions[i] = (int32_t)a;
		logp[i] = l[a] - m - logf(s);
	}
}

void gnarl_ppo_act(struct gnarl_ppo *p, uint32_t t, struct gnarl_rng *rng)
{
	const uint32_t N = p->c.N;

	gnarl_ppo_sample(p, p->buf.obs + (size_t)t * N * p->c.O, N, rng,
	                 p->buf.actions + (size_t)t * N, p->buf.logp + (size_t)t * N);
}

/* values[i] = V(x[i]) for n rows, in chunks of the network's max batch. */
static void values_of(struct gnarl_ppo *p, const float *x, uint32_t n, float *values)
{
	const uint32_t chunk = gnarl_nn_spec(p->nn)->max_batch, O = p->c.O;

	for (uint32_t i = 0; i < n; i += chunk) {
		uint32_t m = n - i < chunk ? n - i : chunk;
		gnarl_nn_forward(p->nn, x + (size_t)i * O, m, GNARL_NN_VALUE);
		memcpy(values + i, gnarl_nn_values(p->nn), m * sizeof(float));
	}
}

/* Worker 1: the critic's values of steps [async_first, async_end). */
static void values_job(void *ctx, uint32_t task, uint32_t thread)
{
	struct gnarl_ppo *p = ctx;
	size_t row = (size_t)p->async_first * p->c.N;

	(void)task;
	(void)thread;
	values_of(p, p->buf.obs + row * p->c.O, (p->async_end - p->async_first) * p->c.N,
	          p->buf.values + row);
}

/* After step t: hand the finished chunk of steps to worker 1. */
static void overlap_values(struct gnarl_ppo *p, uint32_t t)
{
	uint32_t chunk = gnarl_nn_spec(p->nn)->max_batch / p->c.N;

	if (!p->overlap || t + 1 >= p->c.T || (t + 1) % (chunk ? chunk : 1))
		return;
	gnarl_pool_wait(p->pool);
	p->async_first = p->values_done;
	p->async_end = t + 1;
	p->values_done = t + 1;
	gnarl_pool_submit(p->pool, values_job, p);
}

void gnarl_ppo_record(struct gnarl_ppo *p, uint32_t t, const float *rewards,
                      const uint8_t *dones, const float *next_raw,
                      const float *final_raw)
{
	const uint32_t N = p->c.N, O = p->c.O;
	struct gnarl_ppo_buffer *b = &p->buf;
	size_t row = (size_t)t * N;
	float *next = t + 1 < p->c.T ? b->obs + (row + N) * O : b->next_obs;

	scale_rewards(p, rewards, dones, b->rewards + row);
	memcpy(b->dones + row, dones, N);
	/* Final observations are normalised with the statistics they were
	 * collected under, before the new observations update them. */
	for (uint32_t n = 0; n < N; n++) {
		if (!(dones[n] & GNARL_DONE_TRUNCATED) || (dones[n] & GNARL_DONE_TERMINATED))
			continue;
		b->trunc_index[b->n_trunc] = (uint32_t)(row + n);
		gnarl_ppo_normalize_obs(p, final_raw + (size_t)n * O,
		                        b->trunc_obs + (size_t)b->n_trunc * O, 1, false);
		b->n_trunc++;
	}
	gnarl_ppo_normalize_obs(p, next_raw, next, N, true);
	overlap_values(p, t);
}

void gnarl_ppo_finish(struct gnarl_ppo *p)
{
	const uint32_t T = p->c.T, N = p->c.N;
	struct gnarl_ppo_buffer *b = &p->buf;
	float *tv = b->adv; /* scratch until GAE writes it */
	size_t row = (size_t)p->values_done * N;

	gnarl_pool_wait(p->pool);
	values_of(p, b->obs + row * p->c.O, (T - p->values_done) * N, b->values + row);
	values_of(p, b->next_obs, N, b->next_values);
	values_of(p, b->trunc_obs, b->n_trunc, tv);
	for (uint32_t k = 0; k < b->n_trunc; k++)
		b->final_values[b->trunc_index[k]] = tv[k];
	gnarl_ppo_gae(T, N, p->c.gamma, p->c.gae_lambda, b->rewards, b->values, b->dones,
	              b->final_values, b->next_values, b->adv, b->ret);
}

void gnarl_ppo_gae(uint32_t T, uint32_t N, double gamma, double lambda,
                   const float *rewards, const float *values,
                   const uint8_t *dones, const float *final_values,
                   const float *next_values, float *adv, float *ret)
{
	for (uint32_t n = 0; n < N; n++) {
		double last = 0.0;
		for (uint32_t t = T; t-- > 0;) {
			size_t i = (size_t)t * N + n;
			double next_v, delta;
			bool cont = false;

			if (dones[i] & GNARL_DONE_TERMINATED)
				next_v = 0.0;
			else if (dones[i] & GNARL_DONE_TRUNCATED)
				next_v = final_values[i];
			else {
				next_v = t + 1 < T ? values[i + N] : next_values[n];
				cont = t + 1 < T;
			}
			delta = rewards[i] + gamma * next_v - values[i];
			last = delta + (cont ? gamma * lambda * last : 0.0);
			adv[i] = (float)last;
			ret[i] = (float)(last + values[i]);
		}
	}
}

double gnarl_ppo_lr(const struct gnarl_ppo_config *c, uint64_t it, uint64_t n)
{
	if (!c->lr_linear || n == 0)
		return c->learning_rate;
	return c->learning_rate * (1.0 - (double)(it - 1) / (double)n);
}

/* ---- loss --------------------------------------------------------------- */

/* Clipped surrogate and entropy bonus for B rows: logits (B, A) ->
 * dlogits (B, A), the gradient of pg - ent_coef * entropy.  adv is
 * already normalised. */
static void policy_loss(const struct gnarl_ppo_config *c, uint32_t A, uint32_t B,
                        const float *logits, const int32_t *actions,
                        const float *old_logp, const float *adv, float *dlogits,
                        struct gnarl_ppo_loss *out)
{
	const float clip = (float)c->clip_coef, ent = (float)c->ent_coef / (float)B;
	const float inv_b = 1.0f / (float)B;
	double pg = 0.0, entropy = 0.0, kl = 0.0, clipped = 0.0;

	for (uint32_t i = 0; i < B; i++) {
		const float *l = logits + (size_t)i * A;
		float *d = dlogits + (size_t)i * A;
		float m = l[0], sum = 0.0f, lse, h = 0.0f;
		uint32_t a = (uint32_t)actions[i];

		for (uint32_t j = 1; j < A; j++)
			m = l[j] > m ? l[j] : m;
		for (uint32_t j = 0; j < A; j++) {
			d[j] = expf(l[j] - m); /* d holds p_j until the gradient */
			sum += d[j];
		}
		lse = m + logf(sum);
		for (uint32_t j = 0; j < A; j++) {
			d[j] /= sum;
			h -= d[j] * (l[j] - lse);
		}
		float logratio = (l[a] - lse) - old_logp[i], ratio = expf(logratio);
		float rc = ratio < 1.0f - clip ? 1.0f - clip : ratio > 1.0f + clip ? 1.0f + clip : ratio;
		float pg1 = -adv[i] * ratio, pg2 = -adv[i] * rc;
		/* d pg / d logp(a): the unclipped branch when it is the max
		 * (inside the clip range both are equal and it is the same). */
		float g = pg1 >= pg2 ? pg1 * inv_b : 0.0f;
		for (uint32_t j = 0; j < A; j++) {
			float pj = d[j];
			d[j] = -g * pj + ent * pj * ((l[j] - lse) + h);
		}
		d[a] += g;
		pg += pg1 >= pg2 ? pg1 : pg2;
		entropy += h;
		kl += (ratio - 1.0f) - logratio;
		clipped += fabsf(ratio - 1.0f) > clip;
	}
	out->policy_loss = pg / B;
	out->entropy = entropy / B;
	out->approx_kl = kl / B;
	out->clipfrac = clipped / B;
}

/* 0.5 * (V - ret)^2, or with value_clip > 0 the max of it and the clipped
 * version around the old value; dvalues gets vf_coef * its gradient. */
static void value_loss(const struct gnarl_ppo_config *c, uint32_t B, const float *v,
                       const float *old, const float *ret, float *dv,
                       struct gnarl_ppo_loss *out)
{
	const float vc = (float)c->value_clip, k = (float)c->vf_coef / (float)B;
	double loss = 0.0;

	for (uint32_t i = 0; i < B; i++) {
		float e = v[i] - ret[i];
		if (vc > 0.0f) {
			float dlt = v[i] - old[i];
			bool inside = dlt >= -vc && dlt <= vc;
			float ec = old[i] + (inside ? dlt : dlt < 0.0f ? -vc : vc) - ret[i];
			if (e * e >= ec * ec) {
				loss += 0.5 * e * e;
				dv[i] = k * e;
			} else {
				loss += 0.5 * ec * ec;
				dv[i] = inside ? k * ec : 0.0f;
			}
		} else {
			loss += 0.5 * e * e;
			dv[i] = k * e;
		}
	}
	out->value_loss = loss / B;
}

/* Minibatch rows idx[0..B) of the buffer into stack s's scratch. */
static void gather(struct gnarl_ppo *p, uint32_t s, const uint32_t *idx, uint32_t B)
{
	const struct gnarl_ppo_buffer *b = &p->buf;
	const uint32_t O = p->c.O;
	unsigned outs = gnarl_nn_stack_outputs(p->nn, s);
	struct scratch *sc = &p->s[s];

	for (uint32_t i = 0; i < B; i++) {
		uint32_t r = idx[i];
		memcpy(sc->obs + (size_t)i * O, b->obs + (size_t)r * O, O * sizeof(float));
		if (outs & GNARL_NN_POLICY) {
			sc->actions[i] = b->actions[r];
			sc->logp[i] = b->logp[r];
			sc->adv[i] = b->adv[r];
		}
		if (outs & GNARL_NN_VALUE) {
			sc->values[i] = b->values[r];
			sc->ret[i] = b->ret[r];
		}
	}
}

/* Normalise advantages in place: (x - mean) / (std + 1e-8), std with
 * Bessel's correction as torch.std. */
static void normalize_adv(float *adv, uint32_t B)
{
	double s = 0.0, ss = 0.0, mean, sd;

	for (uint32_t i = 0; i < B; i++)
		s += adv[i];
	mean = s / B;
	for (uint32_t i = 0; i < B; i++)
		ss += (adv[i] - mean) * (adv[i] - mean);
	sd = B > 1 ? sqrt(ss / (B - 1)) : 0.0;
	for (uint32_t i = 0; i < B; i++)
		adv[i] = (float)((adv[i] - mean) / (sd + 1e-8));
}

/* Forward, loss and backward of stack s on its scratch (B rows). */
static void stack_grad(struct gnarl_ppo *p, uint32_t s, struct scratch *sc, uint32_t B,
                       struct gnarl_ppo_loss *loss)
{
	unsigned outs = gnarl_nn_stack_outputs(p->nn, s);

	gnarl_nn_forward_stack(p->nn, s, sc->obs, B, outs);
	if (outs & GNARL_NN_POLICY) {
		if (p->c.norm_adv)
			normalize_adv(sc->adv, B);
		policy_loss(&p->c, p->A, B, gnarl_nn_logits(p->nn), sc->actions, sc->logp,
		            sc->adv, sc->dlogits, loss);
	}
	if (outs & GNARL_NN_VALUE)
		value_loss(&p->c, B, gnarl_nn_values(p->nn), sc->values, sc->ret, sc->dvalues,
		           loss);
	gnarl_nn_backward_stack(p->nn, s, sc->obs, B, sc->dlogits, sc->dvalues);
}

double gnarl_ppo_minibatch_grad(struct gnarl_ppo *p,
                                const struct gnarl_ppo_minibatch *mb,
                                struct gnarl_ppo_loss *loss)
{
	struct scratch *sc = &p->s[0];
	uint32_t B = mb->B < p->c.minibatch ? mb->B : p->c.minibatch;

	memset(loss, 0, sizeof(*loss));
	memcpy(sc->obs, mb->obs, (size_t)B * p->c.O * sizeof(float));
	memcpy(sc->actions, mb->actions, B * sizeof(int32_t));
	memcpy(sc->logp, mb->logp, B * sizeof(float));
	memcpy(sc->adv, mb->adv, B * sizeof(float));
	memcpy(sc->values, mb->values, B * sizeof(float));
	memcpy(sc->ret, mb->ret, B * sizeof(float));
	for (uint32_t s = 0; s < p->n_stacks; s++)
		stack_grad(p, s, sc, B, loss);
	return loss->policy_loss - p->c.ent_coef * loss->entropy +
	       p->c.vf_coef * loss->value_loss;
}

/* ---- update ------------------------------------------------------------- */

static void add_loss(struct acc *a, const struct gnarl_ppo_loss *l)
{
	a->pg += l->policy_loss;
	a->v += l->value_loss;
	a->ent += l->entropy;
	a->kl += l->approx_kl;
	a->clipfrac += l->clipfrac;
	a->n++;
}

/* Data-parallel: after both halves' backward, task 0 (the caller's
 * thread, the one that talks to MPI) replaces the minibatch gradients by
 * their mean over the ranks and writes the squared norms of the mean;
 * on the epoch's last minibatch the target-KL test uses the mean KL, so
 * every rank stops at the same epoch.  The barrier after it (in
 * update_task) publishes both. */
static void average_grads(struct gnarl_ppo *p, uint32_t task, double *sqs, bool last)
{
	gnarl_pool_barrier_wait(&p->barrier);
	if (task != 0)
		return;
	gnarl_dist_average_f32(p->c.dist, gnarl_nn_grads(p->nn), gnarl_nn_size(p->nn));
	for (uint32_t s = 0; s < p->n_stacks; s++)
		sqs[s] = gnarl_nn_grad_sqnorm(p->nn, s);
	if (last && p->c.target_kl > 0.0) {
		double kl = p->mb_kl;
		gnarl_dist_average_f64(p->c.dist, &kl, 1);
		if (kl > p->c.target_kl)
			p->stop = true;
	}
}

/* One update on one thread: task 0 (actor) and 1 (critic) when split,
 * else task 0 does every stack. */
static void update_task(void *ctx, uint32_t task, uint32_t thread)
{
	struct gnarl_ppo *p = ctx;
	const uint32_t TN = p->c.T * p->c.N, Bmax = p->c.minibatch;
	const bool halves = p->barrier.n == 2;
	const uint32_t s0 = halves ? task : 0, s1 = halves ? task + 1 : p->n_stacks;
	const struct gnarl_nn_adam hp = {p->lr, 0.9, 0.999, p->c.adam_eps};
	uint64_t t = gnarl_nn_adam_steps(p->nn);

	for (uint32_t e = 0; e < p->c.epochs; e++) {
		for (uint32_t mb = 0; mb < p->n_mb; mb++) {
			double *sqs = p->sq[(t + 1) % 2];
			const uint32_t *idx = p->perm + (size_t)e * TN + (size_t)mb * Bmax;
			uint32_t B = TN - mb * Bmax < Bmax ? TN - mb * Bmax : Bmax;
			for (uint32_t s = s0; s < s1; s++) {
				struct gnarl_ppo_loss loss = {0};
				gather(p, s, idx, B);
				stack_grad(p, s, &p->s[s], B, &loss);
				add_loss(&p->acc[s], &loss);
				if (p->dist_on && s == 0)
					p->mb_kl = loss.approx_kl;
				if (p->dist_on)
					continue; /* norms and the KL test after averaging */
				sqs[s] = gnarl_nn_grad_sqnorm(p->nn, s);
				if (s == 0 && mb + 1 == p->n_mb && p->c.target_kl > 0.0 &&
				    loss.approx_kl > p->c.target_kl)
					p->stop = true;
			}
			if (p->dist_on)
				average_grads(p, task, sqs, mb + 1 == p->n_mb);
			gnarl_pool_barrier_wait(&p->barrier);
			double sq = sqs[0] + (p->n_stacks > 1 ? sqs[1] : 0.0);
			float scale = gnarl_nn_clip_scale(sq, p->c.max_grad_norm);
			t++;
			for (uint32_t s = s0; s < s1; s++)
				gnarl_nn_adam_stack(p->nn, s, &hp, scale, t);
			if (task == 0)
				p->acc[0].grad_norm += sqrt(sq);
		}
		if (task == 0)
			p->epochs_run = e + 1;
		if (p->stop)
			break;
	}
}

/* 1 - Var(y - pred) / Var(y) over the batch; data-parallel, over every
 * rank's batch together (each the same size), not a mean of the ranks'. */
static double explained_variance(const struct gnarl_ppo *p, const float *pred, const float *y,
                                 size_t n)
{
	double sy = 0.0, sd = 0.0, my, md, vy = 0.0, vd = 0.0;

	for (size_t i = 0; i < n; i++) {
		sy += y[i];
		sd += y[i] - pred[i];
	}
	my = sy / n;
	md = sd / n;
	for (size_t i = 0; i < n; i++) {
		vy += (y[i] - my) * (y[i] - my);
		vd += (y[i] - pred[i] - md) * (y[i] - pred[i] - md);
	}
	if (p->dist_on) {
		/* the ranks' means and mean squares give the whole batch's */
		double v[4] = {my, md, vy / (double)n + my * my, vd / (double)n + md * md};

		gnarl_dist_average_f64(p->c.dist, v, 4);
		vy = v[2] - v[0] * v[0];
		vd = v[3] - v[1] * v[1];
	}
	return vy <= 0.0 ? NAN : 1.0 - vd / vy;
}

/* After an update: did the waits of this iteration (acting and update)
 * sleep?  Then go solo for a while. */
static void watch_contention(struct gnarl_ppo *p)
{
	uint64_t sleeps = atomic_load(&p->barrier.sleeps) + gnarl_pool_sleeps(p->pool);
	bool two = p->split || p->overlap;

	if (two && sleeps - p->sleeps_mark >= CONTENDED) {
		p->solo_until = p->updates + 1 + p->backoff;
		p->backoff = p->backoff * 2 > SOLO_MAX ? SOLO_MAX : p->backoff * 2;
	} else if (two) {
		p->backoff = SOLO_MIN;
	}
	p->sleeps_mark = sleeps;
	p->updates++;
}

void gnarl_ppo_update(struct gnarl_ppo *p, double lr, struct gnarl_rng *rng,
                      struct gnarl_ppo_stats *out)
{
	const uint32_t TN = p->c.T * p->c.N;
	uint32_t *perm = p->perm;
	struct acc a;

	for (uint32_t i = 0; i < TN; i++)
		perm[i] = i;
	for (uint32_t e = 0; e < p->c.epochs; e++) {
		uint32_t *cur = perm + (size_t)e * TN;
		if (e > 0)
			memcpy(cur, cur - TN, TN * sizeof(uint32_t));
		for (uint32_t i = TN - 1; i > 0; i--) {
			uint32_t j = gnarl_rng_below(rng, i + 1), tmp = cur[i];
			cur[i] = cur[j];
			cur[j] = tmp;
		}
	}
	p->lr = lr;
	p->n_mb = (TN + p->c.minibatch - 1) / p->c.minibatch;
	p->stop = false;
	p->epochs_run = 0;
	memset(p->acc, 0, sizeof(p->acc));
	use_threads(p);
	p->barrier.n = p->split && p->n_stacks == 2 ? 2 : 1;
	if (p->barrier.n == 2)
		gnarl_pool_run(p->pool, update_task, p, 2);
	else
		update_task(p, 0, 0);
	watch_contention(p);
	gnarl_nn_set_adam_steps(p->nn, gnarl_nn_adam_steps(p->nn) +
	                                   (uint64_t)p->epochs_run * p->n_mb);

	a = p->acc[0];
	if (p->n_stacks > 1)
		a.v = p->acc[1].v;
	memset(out, 0, sizeof(*out));
	if (a.n) {
		out->policy_loss = a.pg / a.n;
		out->value_loss = a.v / a.n;
		out->entropy = a.ent / a.n;
		out->approx_kl = a.kl / a.n;
		out->clipfrac = a.clipfrac / a.n;
		out->grad_norm = a.grad_norm / a.n;
	}
	out->explained_variance = explained_variance(p, p->buf.values, p->buf.ret, TN);
	if (p->dist_on) {
		double v[5] = {out->policy_loss, out->value_loss, out->entropy, out->approx_kl,
		               out->clipfrac};

		gnarl_dist_average_f64(p->c.dist, v, 5);
		out->policy_loss = v[0];
		out->value_loss = v[1];
		out->entropy = v[2];
		out->approx_kl = v[3];
		out->clipfrac = v[4];
	}
	out->lr = lr;
	out->epochs = p->epochs_run;
	out->minibatches = a.n;
}
