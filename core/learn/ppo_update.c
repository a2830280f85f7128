/*
 * ppo_update.c - PPO's clipped loss, minibatch gradients and the update
 * (see ppo.h): epochs over shuffled minibatches, the global gradient-norm
 * clip and Adam, on one thread or two, alone or data-parallel.
 *
 * Entry points: gnarl_ppo_update, gnarl_ppo_minibatch_grad,
 * gnarl_ppo_use_threads (ppo_internal.h).
 *
 * Threads: with threads >= 2 and a pool of >= 2 threads, a separate actor
 * and critic are updated on two threads, the actor (stack 0) on the
 * caller and the critic (stack 1) on a pool worker.  They meet once per
 * minibatch at a barrier to add their squared gradient norms (in a fixed
 * order) and then step Adam on their own halves, so the arithmetic is the
 * same as with one thread: results do not depend on the thread count.
 * A shared network instead has each large product's rows and Adam's
 * range split over the two threads (gnarl_nn_set_parts), the same bits
 * again.  When the waits show another process holding a core, both fall
 * back to one thread for a while (see CONTENDED).
 *
 * Data-parallel runs (config dist, several processes): each minibatch's
 * gradients are averaged over the ranks on the caller's thread after both
 * halves are done (one more barrier), and the norm, the clip and Adam use
 * the average, so every rank takes the same step; the target-KL test uses
 * the mean KL, so every rank stops at the same epoch.
 */
#include <math.h>
#include <string.h>

#include "dist.h"
#include "fastmath.h"
#include "matmul.h"
#include "nn.h"
#include "pool.h"
#include "ppo.h"
#include "ppo_internal.h"

/* Two threads unless contention sent us solo: a separate actor and critic
 * split the update by stack (update_task), a shared network its products
 * (the network's parts, also for the values). */
void gnarl_ppo_use_threads(struct gnarl_ppo *p)
{
	p->split = p->can_split && p->updates >= p->solo_until;
	if (p->n_stacks == 1)
		gnarl_nn_set_parts(p->nn, p->pool, p->split ? 2 : 1);
}

/* ---- loss --------------------------------------------------------------- */

/* The policy loss's passes over all rows at once, one per function so
 * that their restrict pointers let every loop vectorise. */

/* m = max(m, l); sum += (p = e^(l - m)) for one action's row of logits l. */
static void softmax_max(size_t B, const float *restrict l, float *restrict m)
{
	for (size_t i = 0; i < B; i++)
		m[i] = l[i] > m[i] ? l[i] : m[i];
}

static void softmax_exp(size_t B, const float *restrict l, const float *restrict m,
                        float *restrict p, float *restrict sum)
{
	for (size_t i = 0; i < B; i++) {
		p[i] = gnarl_fastmath_exp(l[i] - m[i]);
		sum[i] += p[i];
	}
}

static void softmax_lse(size_t B, const float *restrict m, const float *restrict sum,
                        float *restrict lse)
{
	for (size_t i = 0; i < B; i++)
		lse[i] = m[i] + gnarl_fastmath_log(sum[i]);
}

/* Action j's probabilities p (normalised in place), its part of the
 * entropy h, and its logit where it was the action taken (la). */
static void softmax_prob(size_t B, int32_t j, const float *restrict l,
                         const int32_t *restrict actions, const float *restrict sum,
                         const float *restrict lse, float *restrict p, float *restrict h,
                         float *restrict la)
{
	for (size_t i = 0; i < B; i++) {
		float pj = p[i] / sum[i];
		p[i] = pj;
		h[i] -= pj * (l[i] - lse[i]);
		la[i] += actions[i] == j ? l[i] : 0.0f;
	}
}

/* Per row: the ratio, the clipped surrogate (pgr), d pg / d logp(a) (g),
 * the KL estimate (klr) and whether the ratio is clipped (clr). */
static void surrogate(size_t B, float clip, float inv_b, const float *restrict la,
                      const float *restrict lse, const float *restrict old_logp,
                      const float *restrict adv, float *restrict g, float *restrict pgr,
                      float *restrict klr, float *restrict clr)
{
	for (size_t i = 0; i < B; i++) {
		float logratio = (la[i] - lse[i]) - old_logp[i];
		float ratio = gnarl_fastmath_exp(logratio);
		float rc = ratio < 1.0f - clip ? 1.0f - clip : ratio > 1.0f + clip ? 1.0f + clip : ratio;
		float pg1 = -adv[i] * ratio, pg2 = -adv[i] * rc;
		/* the unclipped branch when it is the max (inside the clip
		 * range both are equal and it is the same) */
		g[i] = pg1 >= pg2 ? pg1 * inv_b : 0.0f;
		pgr[i] = pg1 >= pg2 ? pg1 : pg2;
		klr[i] = (ratio - 1.0f) - logratio;
		clr[i] = fabsf(ratio - 1.0f) > clip ? 1.0f : 0.0f;
	}
}

/* Action j's gradient, written over its probabilities p. */
static void policy_grad(size_t B, int32_t j, float ent, const float *restrict l,
                        const int32_t *restrict actions, const float *restrict lse,
                        const float *restrict h, const float *restrict g, float *restrict p)
{
	for (size_t i = 0; i < B; i++)
		p[i] = -g[i] * p[i] + ent * p[i] * ((l[i] - lse[i]) + h[i]) +
		       (actions[i] == j ? g[i] : 0.0f);
}

/* Clipped surrogate and entropy bonus for B rows: logits (B, A) ->
 * dlogits (B, A), the gradient of pg - ent_coef * entropy.  adv is
 * already normalised.  Computed action by action over all rows (the
 * logits transposed to (A, B) in work, GNARL_PPO_POLICY_WORK(A, B)
 * floats); per-row results are summed in double in row order. */
static void policy_loss(const struct gnarl_ppo_config *c, uint32_t A, uint32_t B,
                        const float *logits, const int32_t *actions, const float *old_logp,
                        const float *adv, float *dlogits, float *work,
                        struct gnarl_ppo_loss *out)
{
	const float clip = (float)c->clip_coef, ent = (float)c->ent_coef / (float)B;
	float *L = work, *P = L + (size_t)A * B;                 /* (A, B) */
	float *m = P + (size_t)A * B, *sum = m + B, *lse = sum + B; /* (B) each */
	float *h = lse + B, *la = h + B, *g = la + B, *pgr = g + B, *klr = pgr + B, *clr = klr + B;
	double pg = 0.0, entropy = 0.0, kl = 0.0, clipped = 0.0;

	gnarl_matmul_transpose(L, logits, B, A);
	memcpy(m, L, B * sizeof(float));
	for (uint32_t j = 1; j < A; j++)
		softmax_max(B, L + (size_t)j * B, m);
	memset(sum, 0, B * sizeof(float));
	for (uint32_t j = 0; j < A; j++)
		softmax_exp(B, L + (size_t)j * B, m, P + (size_t)j * B, sum);
	softmax_lse(B, m, sum, lse);
	memset(h, 0, 2 * B * sizeof(float)); /* h and la */
	for (uint32_t j = 0; j < A; j++)
		softmax_prob(B, (int32_t)j, L + (size_t)j * B, actions, sum, lse, P + (size_t)j * B, h,
		             la);
	surrogate(B, clip, 1.0f / (float)B, la, lse, old_logp, adv, g, pgr, klr, clr);
	for (uint32_t j = 0; j < A; j++)
		policy_grad(B, (int32_t)j, ent, L + (size_t)j * B, actions, lse, h, g, P + (size_t)j * B);
	gnarl_matmul_transpose(dlogits, P, A, B);
	for (uint32_t i = 0; i < B; i++) {
		pg += pgr[i];
		entropy += h[i];
		kl += klr[i];
		clipped += clr[i];
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
                       struct gnarl_ppo_loss *loss, uint32_t thread, double *t)
{
	unsigned outs = gnarl_nn_stack_outputs(p->nn, s);

	gnarl_nn_forward_stack(p->nn, s, sc->obs, B, outs);
	if (outs & GNARL_NN_POLICY) {
		if (p->c.norm_adv)
			normalize_adv(sc->adv, B);
		policy_loss(&p->c, p->A, B, gnarl_nn_logits(p->nn), sc->actions, sc->logp,
		            sc->adv, sc->dlogits, sc->work, loss);
	}
	if (outs & GNARL_NN_VALUE)
		value_loss(&p->c, B, gnarl_nn_values(p->nn), sc->values, sc->ret, sc->dvalues,
		           loss);
	gnarl_ppo_mark(p, thread, GNARL_PPO_FORWARD, t);
	gnarl_nn_backward_stack(p->nn, s, sc->obs, B, sc->dlogits, sc->dvalues);
	gnarl_ppo_mark(p, thread, GNARL_PPO_BACKWARD, t);
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
		stack_grad(p, s, sc, B, loss, 0, &(double){0.0});
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
static void average_grads(struct gnarl_ppo *p, uint32_t task, double *sqs, bool last,
                          double *t)
{
	gnarl_pool_barrier_wait(&p->barrier);
	if (task != 0)
		return;
	gnarl_dist_average_f32(p->c.dist, gnarl_nn_grads(p->nn), gnarl_nn_size(p->nn));
	gnarl_ppo_mark(p, task, GNARL_PPO_SYNC, t);
	for (uint32_t s = 0; s < p->n_stacks; s++)
		sqs[s] = gnarl_nn_grad_sqnorm(p->nn, s);
	gnarl_ppo_mark(p, task, GNARL_PPO_ADAM, t);
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
	double clock = gnarl_ppo_clock(p);

	for (uint32_t e = 0; e < p->c.epochs; e++) {
		for (uint32_t mb = 0; mb < p->n_mb; mb++) {
			double *sqs = p->sq[(t + 1) % 2];
			const uint32_t *idx = p->perm + (size_t)e * TN + (size_t)mb * Bmax;
			uint32_t B = TN - mb * Bmax < Bmax ? TN - mb * Bmax : Bmax;
			for (uint32_t s = s0; s < s1; s++) {
				struct gnarl_ppo_loss loss = {0};
				gather(p, s, idx, B);
				stack_grad(p, s, &p->s[s], B, &loss, task, &clock);
				add_loss(&p->acc[s], &loss);
				if (p->dist_on && s == 0)
					p->mb_kl = loss.approx_kl;
				if (p->dist_on)
					continue; /* norms and the KL test after averaging */
				sqs[s] = gnarl_nn_grad_sqnorm(p->nn, s);
				gnarl_ppo_mark(p, task, GNARL_PPO_ADAM, &clock);
				if (s == 0 && mb + 1 == p->n_mb && p->c.target_kl > 0.0 &&
				    loss.approx_kl > p->c.target_kl)
					p->stop = true;
			}
			if (p->dist_on)
				average_grads(p, task, sqs, mb + 1 == p->n_mb, &clock);
			gnarl_pool_barrier_wait(&p->barrier);
			gnarl_ppo_mark(p, task, GNARL_PPO_SYNC, &clock);
			double sq = sqs[0] + (p->n_stacks > 1 ? sqs[1] : 0.0);
			float scale = gnarl_nn_clip_scale(sq, p->c.max_grad_norm);
			t++;
			for (uint32_t s = s0; s < s1; s++)
				gnarl_nn_adam_stack(p->nn, s, &hp, scale, t);
			gnarl_ppo_mark(p, task, GNARL_PPO_ADAM, &clock);
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
	gnarl_ppo_use_threads(p);
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

/* ---- timing ------------------------------------------------------------- */

void gnarl_ppo_set_timing(struct gnarl_ppo *p, bool on)
{
	p->timing = on;
	memset(p->phase_s, 0, sizeof(p->phase_s));
}

void gnarl_ppo_phase_seconds(const struct gnarl_ppo *p, uint32_t thread,
                             double out[GNARL_PPO_PHASES])
{
	memcpy(out, p->phase_s[thread < 2 ? thread : 1], sizeof(p->phase_s[0]));
}

const char *gnarl_ppo_phase_name(enum gnarl_ppo_phase ph)
{
	static const char *const names[GNARL_PPO_PHASES] = {
	    "act", "values", "gae", "forward", "backward", "adam", "sync"};
	return ph < GNARL_PPO_PHASES ? names[ph] : "?";
}
