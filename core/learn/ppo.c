/*
 * ppo.c - PPO's rollout side (see ppo.h): the buffer, the normalisers,
 * acting, the critic's values and GAE.  The loss and the update are in
 * ppo_update.c; the state both share is in ppo_internal.h.
 *
 * Entry points: gnarl_ppo_create/free, _begin/_act/_record/_finish (one
 * rollout), the normalisers (_normalize_obs, _merge_stats, _tensors), and
 * the pure pieces _gae and _lr.
 *
 * Threads: with overlap_values (a separate critic, a pool of >= 2
 * threads) the critic's values of each finished chunk of the rollout are
 * computed on worker 1 while the caller goes on acting.
 *
 * Data-parallel runs (config dist, several processes): the normalisers
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
#include "fastmath.h"
#include "nn.h"
#include "pool.h"
#include "ppo_internal.h"

#define RMS_EPS 1e-8
#define RMS_COUNT0 1e-4

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
		s->work = carve(&cur, base, GNARL_PPO_POLICY_WORK(p->A, B) * sizeof(float));
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

void gnarl_ppo_begin(struct gnarl_ppo *p)
{
	memcpy(p->buf.obs, p->buf.next_obs, (size_t)p->c.N * p->c.O * sizeof(float));
	p->buf.n_trunc = 0;
	p->values_done = 0;
	p->overlap = p->can_overlap && p->updates >= p->solo_until;
	gnarl_ppo_use_threads(p);
}

/* Actions and their log-probabilities from logits (n, A). */
static void sample_logits(uint32_t A, const float *logits, uint32_t n, struct gnarl_rng *rng,
                          int32_t *actions, float *logp)
{
	for (uint32_t i = 0; i < n; i++) {
		const float *l = logits + (size_t)i * A;
		float u = gnarl_rng_float(rng), m = l[0], s = 0.0f, cum = 0.0f;
		uint32_t a = A - 1;

		for (uint32_t j = 1; j < A; j++)
			m = l[j] > m ? l[j] : m;
		for (uint32_t j = 0; j < A; j++)
			s += gnarl_fastmath_exp(l[j] - m);
		u *= s; /* compare unnormalised cumulative weights */
		for (uint32_t j = 0; j + 1 < A; j++) {
			cum += gnarl_fastmath_exp(l[j] - m);
			if (u < cum) {
				a = j;
				break;
			}
		}
		actions[i] = (int32_t)a;
		logp[i] = l[a] - m - gnarl_fastmath_log(s);
	}
}

void gnarl_ppo_sample(struct gnarl_ppo *p, const float *x, uint32_t n,
                      struct gnarl_rng *rng, int32_t *actions, float *logp)
{
	gnarl_nn_forward(p->nn, x, n, GNARL_NN_POLICY);
	sample_logits(p->A, gnarl_nn_logits(p->nn), n, rng, actions, logp);
}

/* A shared trunk feeds both heads: its values come with the policy in one
 * pass (each row's arithmetic is the same as in a pass of its own), and
 * finish has only next_obs and truncations left to evaluate. */
void gnarl_ppo_act(struct gnarl_ppo *p, uint32_t t, struct gnarl_rng *rng)
{
	const uint32_t N = p->c.N;
	const float *x = p->buf.obs + (size_t)t * N * p->c.O;
	int32_t *actions = p->buf.actions + (size_t)t * N;
	float *logp = p->buf.logp + (size_t)t * N;
	double t0 = gnarl_ppo_clock(p);

	if (p->n_stacks == 1 && p->values_done == t) {
		gnarl_nn_forward(p->nn, x, N, GNARL_NN_POLICY | GNARL_NN_VALUE);
		memcpy(p->buf.values + (size_t)t * N, gnarl_nn_values(p->nn), N * sizeof(float));
		p->values_done = t + 1;
		sample_logits(p->A, gnarl_nn_logits(p->nn), N, rng, actions, logp);
	} else {
		gnarl_ppo_sample(p, x, N, rng, actions, logp);
	}
	gnarl_ppo_mark(p, 0, GNARL_PPO_ACT, &t0);
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

	double t0 = gnarl_ppo_clock(p);

	(void)task;
	(void)thread;
	values_of(p, p->buf.obs + row * p->c.O, (p->async_end - p->async_first) * p->c.N,
	          p->buf.values + row);
	gnarl_ppo_mark(p, 1, GNARL_PPO_VALUES, &t0);
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
	size_t row;
	double t0 = gnarl_ppo_clock(p);

	gnarl_pool_wait(p->pool);
	gnarl_ppo_mark(p, 0, GNARL_PPO_SYNC, &t0);
	row = (size_t)p->values_done * N;
	values_of(p, b->obs + row * p->c.O, (T - p->values_done) * N, b->values + row);
	values_of(p, b->next_obs, N, b->next_values);
	values_of(p, b->trunc_obs, b->n_trunc, tv);
	for (uint32_t k = 0; k < b->n_trunc; k++)
		b->final_values[b->trunc_index[k]] = tv[k];
	gnarl_ppo_mark(p, 0, GNARL_PPO_VALUES, &t0);
	gnarl_ppo_gae(T, N, p->c.gamma, p->c.gae_lambda, b->rewards, b->values, b->dones,
	              b->final_values, b->next_values, b->adv, b->ret);
	gnarl_ppo_mark(p, 0, GNARL_PPO_GAE, &t0);
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
