/*
 * test_ppo.c - PPO: GAE against hand-computed values (termination,
 * truncation, both), the clipped loss and its gradients against hand
 * values, a finite-difference check of the full loss w.r.t. every
 * parameter (shared and separate networks), the normalisers against
 * direct formulas, sampling frequencies, truncation bootstrapping through
 * record/finish, the update's determinism across thread counts and its
 * target-KL stop.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn.h"
#include "pool.h"
#include "ppo.h"
#include "rng.h"

static struct gnarl_ppo_config base_config(uint32_t T, uint32_t N, uint32_t O,
                                           uint32_t B)
{
	struct gnarl_ppo_config c = {
	    .T = T, .N = N, .O = O, .O_env = O, .epochs = 4, .minibatch = B,
	    .learning_rate = 2.5e-4, .gamma = 0.99, .gae_lambda = 0.95, .clip_coef = 0.2,
	    .value_clip = 0.2, .ent_coef = 0.01, .vf_coef = 0.5, .max_grad_norm = 0.5,
	    .norm_adv = true, .obs_clip = 10.0, .reward_clip = 10.0, .adam_eps = 1e-5,
	    .threads = 1,
	};
	return c;
}

static struct gnarl_nn *make_nn(uint32_t O, uint32_t A, uint32_t n_hidden, bool shared,
                                uint32_t max_batch, uint64_t seed)
{
	struct gnarl_nn_spec spec = {.inputs = O, .n_actions = A, .n_hidden = n_hidden,
	                             .hidden = {5, 6}, .activation = GNARL_NN_TANH,
	                             .shared = shared, .max_batch = max_batch};
	char err[GNARL_ERR_SIZE];
	struct gnarl_nn *nn = NULL;

	assert_int_equal(gnarl_nn_create(&spec, seed, &nn, err), 0);
	return nn;
}

static float *tensor_data(struct gnarl_nn *nn, const char *name)
{
	struct gnarl_tensor t[64];
	uint32_t n = gnarl_nn_tensors(nn, t, 64);

	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return t[i].data;
	fail_msg("no tensor %s", name);
	return NULL;
}

/* ---- GAE ---------------------------------------------------------------- */

static void test_gae_hand(void **state)
{
	/* gamma 0.9, lambda 0.8 (so gamma * lambda = 0.72); arrays (T=3, N=3). */
	const float rewards[9] = {1, 1, 1, 2, 1, 1, 3, 1, 1};
	const float values[9] = {0.5f, 2, 2, 1.0f, 3, 3, 1.5f, 4, 4};
	const uint8_t dones[9] = {0, 0, 0, 0, GNARL_DONE_TRUNCATED, 0,
	                          0, GNARL_DONE_TERMINATED,
	                          GNARL_DONE_TERMINATED | GNARL_DONE_TRUNCATED};
	float final_values[9] = {0};
	const float next_values[3] = {2.0f, 7.0f, 5.0f};
	float adv[9], ret[9];

	(void)state;
	final_values[1 * 3 + 1] = 10.0f;
	final_values[2 * 3 + 2] = 100.0f; /* terminated wins: never read */
	gnarl_ppo_gae(3, 3, 0.9, 0.8, rewards, values, dones, final_values, next_values, adv,
	              ret);
	/* env 0, no episode end: bootstraps from next_values[0] = 2.
	 *   d2 = 3 + 0.9*2 - 1.5 = 3.3          A2 = 3.3
	 *   d1 = 2 + 0.9*1.5 - 1 = 2.35         A1 = 2.35 + 0.72*3.3 = 4.726
	 *   d0 = 1 + 0.9*1 - 0.5 = 1.4          A0 = 1.4 + 0.72*4.726 = 4.80272 */
	assert_float_equal(adv[6], 3.3, 1e-5);
	assert_float_equal(adv[3], 4.726, 1e-5);
	assert_float_equal(adv[0], 4.80272, 1e-5);
	/* env 1: truncated at t=1 (bootstrap from V(final) = 10), terminated
	 * at t=2 (from 0).
	 *   A2 = 1 + 0 - 4 = -3
	 *   A1 = 1 + 0.9*10 - 3 = 7             (the recursion stops)
	 *   A0 = 1 + 0.9*3 - 2 + 0.72*7 = 6.74 */
	assert_float_equal(adv[7], -3.0, 1e-5);
	assert_float_equal(adv[4], 7.0, 1e-5);
	assert_float_equal(adv[1], 6.74, 1e-5);
	/* env 2: terminated and truncated at t=2 counts as terminated.
	 *   A2 = 1 - 4 = -3;  A1 = 1 + 0.9*4 - 3 + 0.72*(-3) = -0.56
	 *   A0 = 1 + 0.9*3 - 2 + 0.72*(-0.56) = 1.2968 */
	assert_float_equal(adv[8], -3.0, 1e-5);
	assert_float_equal(adv[5], -0.56, 1e-5);
	assert_float_equal(adv[2], 1.2968, 1e-5);
	for (int i = 0; i < 9; i++)
		assert_float_equal(ret[i], adv[i] + values[i], 1e-5);
}

static void test_lr_schedule(void **state)
{
	struct gnarl_ppo_config c = base_config(1, 1, 1, 1);

	(void)state;
	assert_float_equal(gnarl_ppo_lr(&c, 1, 100), 2.5e-4, 0);
	assert_float_equal(gnarl_ppo_lr(&c, 77, 100), 2.5e-4, 0);
	c.lr_linear = true;
	assert_float_equal(gnarl_ppo_lr(&c, 1, 100), 2.5e-4, 1e-15);
	assert_float_equal(gnarl_ppo_lr(&c, 51, 100), 1.25e-4, 1e-15);
	assert_float_equal(gnarl_ppo_lr(&c, 100, 100), 2.5e-6, 1e-15);
}

/* ---- loss --------------------------------------------------------------- */

/* A network without hidden layers whose weights are 0: logits and value
 * are the biases, so the loss can be computed by hand. */
static void test_loss_hand(void **state)
{
	struct gnarl_nn *nn = make_nn(2, 2, 0, false, 3, 1);
	struct gnarl_ppo_config c = base_config(3, 1, 2, 3);
	struct gnarl_ppo *p;
	struct gnarl_ppo_loss l;
	char err[GNARL_ERR_SIZE];
	const float obs[6] = {1, 0, 0, 1, 1, 1};
	const int32_t actions[3] = {1, 0, 1};
	/* ratios 1.5 (clipped), 0.5 (clipped), 1.1 (inside) */
	const float logp[3] = {(float)(log(0.75) - log(1.5)), (float)(log(0.25) - log(0.5)),
	                       (float)(log(0.75) - log(1.1))};
	const float adv[3] = {1.0f, -1.0f, 0.5f};
	const float values[3] = {1.5f, 0.9f, 0.5f}, ret[3] = {2.0f, 0.0f, 1.2f};
	struct gnarl_ppo_minibatch mb = {3, obs, actions, logp, adv, values, ret};
	double total;

	(void)state;
	c.norm_adv = false;
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), 0);
	memset(gnarl_nn_params(nn), 0, gnarl_nn_size(nn) * sizeof(float));
	tensor_data(nn, "actor.0.bias")[1] = (float)log(3.0); /* p = (0.25, 0.75) */
	tensor_data(nn, "critic.0.bias")[0] = 1.0f;           /* V = 1 */
	total = gnarl_ppo_minibatch_grad(p, &mb, &l);
	/* pg: max(-1.5, -1.2) = -1.2; max(0.5, 0.8) = 0.8; -0.55 -> mean -0.95/3 */
	assert_float_equal(l.policy_loss, -0.95 / 3, 1e-6);
	double H = -(0.25 * log(0.25) + 0.75 * log(0.75));
	assert_float_equal(l.entropy, H, 1e-6);
	double kl = (0.5 - log(1.5)) + (-0.5 - log(0.5)) + (0.1 - log(1.1));
	assert_float_equal(l.approx_kl, kl / 3, 1e-6);
	assert_float_equal(l.clipfrac, 2.0 / 3, 1e-12);
	/* value: max(1, 0.49) = 1; inside the clip: 1; max(0.04, 0.25) = 0.25 */
	assert_float_equal(l.value_loss, (0.5 + 0.5 + 0.125) / 3, 1e-6);
	assert_float_equal(total, -0.95 / 3 - 0.01 * H + 0.5 * 0.375, 1e-6);
	/* Gradients.  Policy bias: only row 2 is unclipped, g = -0.55/3, times
	 * (onehot - p); the entropy part per row is 0.01/3 * p_j (log p_j + H). */
	float *g = gnarl_nn_grads(nn), *bias = tensor_data(nn, "actor.0.bias");
	size_t off = (size_t)(bias - gnarl_nn_params(nn));
	double e0 = 0.01 / 3 * 0.25 * (log(0.25) + H);
	assert_float_equal(g[off + 0], 3 * e0 + (-0.55 / 3) * (0 - 0.25), 1e-6);
	assert_float_equal(g[off + 1], -3 * e0 + (-0.55 / 3) * (1 - 0.75), 1e-6);
	/* Value weights: 0.5/3 * sum_i dv_i x_i with dv = (-1, 1, 0 (clipped
	 * branch outside the range)). */
	float *cw = tensor_data(nn, "critic.0.weight");
	off = (size_t)(cw - gnarl_nn_params(nn));
	assert_float_equal(g[off + 0], 0.5 / 3 * -1.0, 1e-6);
	assert_float_equal(g[off + 1], 0.5 / 3 * 1.0, 1e-6);
	gnarl_ppo_free(p);

	/* Per-minibatch advantage normalisation uses the unbiased std (as
	 * torch.std): adv (1, -1, 0.5) has mean 1/6 and std sqrt(13/12). */
	c.norm_adv = true;
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), 0);
	gnarl_ppo_minibatch_grad(p, &mb, &l);
	double sd = sqrt(13.0 / 12.0) + 1e-8, a0 = (1 - 1.0 / 6) / sd, a1 = (-1 - 1.0 / 6) / sd,
	       a2 = (0.5 - 1.0 / 6) / sd;
	assert_float_equal(l.policy_loss, (-a0 * 1.2 + -a1 * 0.8 + -a2 * 1.1) / 3, 1e-6);
	gnarl_ppo_free(p);
	gnarl_nn_free(nn);
}

/* log-softmax of row i of the network's last logits, entry a. */
static float logp_of(struct gnarl_nn *nn, uint32_t A, uint32_t i, int32_t a)
{
	const float *l = gnarl_nn_logits(nn) + (size_t)i * A;
	double m = l[0], s = 0.0;

	for (uint32_t j = 1; j < A; j++)
		m = l[j] > m ? l[j] : m;
	for (uint32_t j = 0; j < A; j++)
		s += exp(l[j] - m);
	return (float)(l[a] - m - log(s));
}

/* A random offset in [-0.6, 0.6] at least 0.06 away from the kinks at
 * -hi and +lo (so finite differences never cross a clip boundary). */
static float away_from(struct gnarl_rng *rng, double lo, double hi)
{
	for (;;) {
		double o = 1.2 * gnarl_rng_double(rng) - 0.6;
		if (fabs(o - lo) > 0.06 && fabs(o + hi) > 0.06)
			return (float)o;
	}
}

static void check_loss_fd(bool shared)
{
	enum { B = 8, O = 4, A = 3 };
	const double eps = 2e-3;
	struct gnarl_nn *nn = make_nn(O, A, 2, shared, B, 11);
	struct gnarl_ppo_config c = base_config(B, 1, O, B);
	struct gnarl_ppo *p;
	struct gnarl_ppo_loss l;
	struct gnarl_rng rng;
	char err[GNARL_ERR_SIZE];
	float obs[B * O], logp[B], adv[B], values[B], ret[B];
	int32_t actions[B];
	struct gnarl_ppo_minibatch mb = {B, obs, actions, logp, adv, values, ret};
	float *prm, *grads;
	size_t n;

	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), 0);
	gnarl_rng_seed(&rng, 5);
	prm = gnarl_nn_params(nn);
	n = gnarl_nn_size(nn);
	/* Spread the parameters (the policy head starts at gain 0.01). */
	for (size_t i = 0; i < n; i++)
		prm[i] += 0.4f * (2.0f * gnarl_rng_float(&rng) - 1.0f);
	for (int i = 0; i < B * O; i++)
		obs[i] = 2.0f * gnarl_rng_float(&rng) - 1.0f;
	gnarl_nn_forward(nn, obs, B, GNARL_NN_POLICY | GNARL_NN_VALUE);
	for (int i = 0; i < B; i++) {
		actions[i] = (int32_t)gnarl_rng_below(&rng, A);
		/* log ratio away from log(0.8) and log(1.2); value delta from +-0.2 */
		logp[i] = logp_of(nn, A, i, actions[i]) - away_from(&rng, log(1.2), -log(0.8));
		values[i] = gnarl_nn_values(nn)[i] - away_from(&rng, 0.2, 0.2);
		adv[i] = 2.0f * gnarl_rng_float(&rng) - 1.0f;
		ret[i] = values[i] + 2.0f * gnarl_rng_float(&rng) - 1.0f;
	}
	gnarl_ppo_minibatch_grad(p, &mb, &l);
	assert_true(l.clipfrac > 0.1 && l.clipfrac < 0.9); /* both branches covered */
	grads = malloc(n * sizeof(float));
	memcpy(grads, gnarl_nn_grads(nn), n * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		float keep = prm[i];
		double lp, lm, fd;
		prm[i] = (float)(keep + eps);
		lp = gnarl_ppo_minibatch_grad(p, &mb, &l);
		prm[i] = (float)(keep - eps);
		lm = gnarl_ppo_minibatch_grad(p, &mb, &l);
		prm[i] = keep;
		fd = (lp - lm) / (2 * eps);
		if (fabs(grads[i] - fd) > 2e-4 + 1e-2 * fabs(fd))
			fail_msg("%s net, param %zu: analytic %.7g, finite difference %.7g",
			         shared ? "shared" : "separate", i, grads[i], fd);
	}
	free(grads);
	gnarl_ppo_free(p);
	gnarl_nn_free(nn);
}

static void test_loss_fd_separate(void **state)
{
	(void)state;
	check_loss_fd(false);
}

static void test_loss_fd_shared(void **state)
{
	(void)state;
	check_loss_fd(true);
}

/* ---- normalisers -------------------------------------------------------- */

static void test_obs_normalizer(void **state)
{
	enum { O = 3, E = 2, N = 2 };
	struct gnarl_nn *nn = make_nn(O, 2, 1, false, 4, 1);
	struct gnarl_ppo_config c = base_config(2, N, O, 4);
	struct gnarl_ppo *p;
	char err[GNARL_ERR_SIZE];
	const float batches[3][N * O] = {{1, 10, 0.5f, 3, 20, 0.25f},
	                                 {-2, 15, 0.75f, 0, 12, 1.0f},
	                                 {5, 11, 0.0f, 1, 30, 0.5f}};
	float out[N * O];
	double sum[E] = {0}, count = 1e-4;

	(void)state;
	c.O_env = E;
	c.normalize_obs = true;
	c.obs_clip = 1.5;
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), 0);
	for (int b = 0; b < 3; b++) {
		gnarl_ppo_normalize_obs(p, batches[b], out, N, true);
		count += N;
		for (int j = 0; j < E; j++) {
			/* Direct formula: the prior (mean 0, var 1, weight 1e-4) and
			 * every sample so far. */
			double m, m2;
			sum[j] += batches[b][j] + batches[b][O + j];
			m = sum[j] / count;
			m2 = 1e-4 * (1.0 + m * m);
			for (int bb = 0; bb <= b; bb++)
				for (int i = 0; i < N; i++)
					m2 += pow(batches[bb][i * O + j] - m, 2);
			for (int i = 0; i < N; i++) {
				double z = (batches[b][i * O + j] - m) / sqrt(m2 / count + 1e-8);
				z = z > 1.5 ? 1.5 : z < -1.5 ? -1.5 : z;
				assert_float_equal(out[i * O + j], z, 1e-5);
			}
		}
		/* The advice block is copied, never normalised. */
		assert_true(out[2] == batches[b][2] && out[O + 2] == batches[b][O + 2]);
	}
	/* Without update the statistics do not move. */
	float out2[N * O];
	gnarl_ppo_normalize_obs(p, batches[2], out2, N, false);
	assert_memory_equal(out, out2, sizeof(out));
	/* The state is exposed for checkpoints. */
	struct gnarl_tensor t[8];
	assert_int_equal(gnarl_ppo_tensors(p, t, 8), 7);
	assert_string_equal(t[0].name, "obs_rms.mean");
	assert_int_equal(t[0].shape[0], E);
	assert_float_equal(*(double *)t[2].data, count, 1e-12);
	assert_string_equal(t[6].name, "ret_rms.returns");
	assert_int_equal(t[6].shape[0], N);
	gnarl_ppo_free(p);
	gnarl_nn_free(nn);
}

static void test_reward_scaling(void **state)
{
	enum { N = 2, T = 3 };
	struct gnarl_nn *nn = make_nn(1, 2, 1, false, 4, 1);
	struct gnarl_ppo_config c = base_config(T, N, 1, 2);
	struct gnarl_ppo *p;
	char err[GNARL_ERR_SIZE];
	const float r[T][N] = {{1, 2}, {3, -1}, {0.5f, 4}};
	const uint8_t d[T][N] = {{0, 0}, {GNARL_DONE_TERMINATED, 0}, {0, 0}};
	const float obs[N] = {0, 0};
	double acc[N] = {0}, seen[T * N];
	int n_seen = 0;

	(void)state;
	c.gamma = 0.5;
	c.normalize_reward = true;
	c.reward_clip = 5.0;
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), 0);
	gnarl_ppo_set_obs(p, obs);
	gnarl_ppo_begin(p);
	for (int t = 0; t < T; t++) {
		gnarl_ppo_record(p, (uint32_t)t, r[t], d[t], obs, obs);
		for (int n = 0; n < N; n++)
			seen[n_seen++] = acc[n] = acc[n] * 0.5 + r[t][n];
		double s = 0, m, m2;
		for (int k = 0; k < n_seen; k++)
			s += seen[k];
		m = s / (n_seen + 1e-4);
		m2 = 1e-4 * (1 + m * m);
		for (int k = 0; k < n_seen; k++)
			m2 += (seen[k] - m) * (seen[k] - m);
		for (int n = 0; n < N; n++) {
			double want = r[t][n] / sqrt(m2 / (n_seen + 1e-4) + 1e-8);
			want = want > 5 ? 5 : want < -5 ? -5 : want;
			assert_float_equal(gnarl_ppo_buffer(p)->rewards[t * N + n], want, 1e-5);
			if (d[t][n])
				acc[n] = 0;
		}
	}
	gnarl_ppo_free(p);
	gnarl_nn_free(nn);
}

/* ---- sampling, bootstrapping, update ------------------------------------ */

static void test_sampling(void **state)
{
	enum { O = 2, A = 3, ROWS = 64, ROUNDS = 500 };
	struct gnarl_nn *nn = make_nn(O, A, 0, false, ROWS, 1);
	struct gnarl_ppo_config c = base_config(1, ROWS, O, ROWS);
	struct gnarl_ppo *p;
	struct gnarl_rng rng;
	char err[GNARL_ERR_SIZE];
	float x[ROWS * O] = {0}, logp[ROWS];
	int32_t actions[ROWS];
	double count[A] = {0};
	const double prob[A] = {0.2, 0.5, 0.3};

	(void)state;
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), 0);
	memset(gnarl_nn_params(nn), 0, gnarl_nn_size(nn) * sizeof(float));
	for (int j = 0; j < A; j++)
		tensor_data(nn, "actor.0.bias")[j] = (float)log(prob[j]);
	gnarl_rng_seed(&rng, 9);
	for (int r = 0; r < ROUNDS; r++) {
		gnarl_ppo_sample(p, x, ROWS, &rng, actions, logp);
		for (int i = 0; i < ROWS; i++) {
			assert_true(actions[i] >= 0 && actions[i] < A);
			assert_float_equal(logp[i], log(prob[actions[i]]), 1e-6);
			count[actions[i]]++;
		}
	}
	for (int j = 0; j < A; j++) {
		double n = ROWS * ROUNDS, sd = sqrt(n * prob[j] * (1 - prob[j]));
		if (fabs(count[j] - n * prob[j]) > 5 * sd)
			fail_msg("action %d drawn %.0f times, expected %.0f +- %.0f", j, count[j],
			         n * prob[j], sd);
	}
	gnarl_ppo_free(p);
	gnarl_nn_free(nn);
}

/* A truncated transition bootstraps from V(its final observation): record
 * keeps it, finish evaluates it, GAE uses it. */
static void test_truncation_bootstrap(void **state)
{
	enum { T = 2, N = 2, O = 3 };
	struct gnarl_nn *nn = make_nn(O, 2, 1, false, 4, 3);
	struct gnarl_ppo_config c = base_config(T, N, O, 4);
	struct gnarl_ppo *p;
	struct gnarl_ppo_buffer *b;
	struct gnarl_rng rng;
	char err[GNARL_ERR_SIZE];
	const float obs0[N * O] = {0.1f, 0.2f, 0.3f, -0.1f, 0.0f, 0.4f};
	const float next[N * O] = {0.5f, 0.5f, 0.5f, -0.5f, -0.5f, -0.5f};
	const float final[N * O] = {9, 9, 9, 0.7f, -0.3f, 0.2f};
	const float rew[N] = {1.0f, 2.0f};
	const uint8_t none[N] = {0, 0}, trunc[N] = {0, GNARL_DONE_TRUNCATED};
	float vf, adv[T * N], ret[T * N];

	(void)state;
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), 0);
	b = gnarl_ppo_buffer(p);
	gnarl_rng_seed(&rng, 1);
	gnarl_ppo_set_obs(p, obs0);
	gnarl_ppo_begin(p);
	assert_memory_equal(b->obs, obs0, sizeof(obs0));
	gnarl_ppo_act(p, 0, &rng);
	gnarl_ppo_record(p, 0, rew, trunc, next, final);
	assert_memory_equal(b->obs + N * O, next, sizeof(next));
	assert_int_equal(b->n_trunc, 1);
	assert_int_equal(b->trunc_index[0], 1);
	gnarl_ppo_act(p, 1, &rng);
	gnarl_ppo_record(p, 1, rew, none, obs0, final);
	assert_memory_equal(b->next_obs, obs0, sizeof(obs0));
	gnarl_ppo_finish(p);
	gnarl_nn_forward(nn, final + O, 1, GNARL_NN_VALUE);
	vf = gnarl_nn_values(nn)[0];
	assert_true(b->final_values[1] == vf);
	gnarl_nn_forward(nn, obs0, N, GNARL_NN_VALUE);
	assert_true(b->values[0] == gnarl_nn_values(nn)[0]);
	assert_true(b->next_values[1] == gnarl_nn_values(nn)[1]);
	/* Env 1's step 0: r + gamma * V(final) - V(s0), no continuation. */
	assert_float_equal(b->adv[1], 2.0 + 0.99 * vf - b->values[1], 1e-5);
	gnarl_ppo_gae(T, N, 0.99, 0.95, b->rewards, b->values, b->dones, b->final_values,
	              b->next_values, adv, ret);
	assert_memory_equal(adv, b->adv, sizeof(adv));
	assert_memory_equal(ret, b->ret, sizeof(ret));
	gnarl_ppo_free(p);
	gnarl_nn_free(nn);
}

/* Fill the buffer of p with a fixed pseudo-random rollout. */
static void fill_buffer(struct gnarl_ppo *p, uint64_t seed)
{
	const struct gnarl_ppo_config *c = gnarl_ppo_config(p);
	struct gnarl_ppo_buffer *b = gnarl_ppo_buffer(p);
	struct gnarl_rng rng;

	gnarl_rng_seed(&rng, seed);
	for (uint32_t i = 0; i < c->T * c->N; i++) {
		for (uint32_t j = 0; j < c->O; j++)
			b->obs[i * c->O + j] = gnarl_rng_float(&rng) - 0.5f;
		b->actions[i] = (int32_t)gnarl_rng_below(&rng, 2);
		b->logp[i] = -0.69f;
		b->adv[i] = gnarl_rng_float(&rng) - 0.5f;
		b->values[i] = gnarl_rng_float(&rng);
		b->ret[i] = b->values[i] + b->adv[i];
	}
}

static void run_updates(uint32_t threads, double target_kl, float *params_out, size_t n,
                        struct gnarl_ppo_stats *st)
{
	struct gnarl_nn *nn = make_nn(7, 2, 2, false, 128, 1);
	struct gnarl_ppo_config c = base_config(128, 4, 7, 128);
	struct gnarl_pool *pool;
	struct gnarl_ppo *p;
	struct gnarl_rng rng;
	char err[GNARL_ERR_SIZE];

	c.threads = threads;
	c.target_kl = target_kl;
	assert_int_equal(gnarl_pool_create(threads, &pool, err), 0);
	assert_int_equal(gnarl_ppo_create(&c, nn, pool, &p, err), 0);
	fill_buffer(p, 5);
	gnarl_rng_seed(&rng, 7);
	for (int k = 0; k < 3; k++)
		gnarl_ppo_update(p, 2.5e-4, &rng, st);
	assert_int_equal(gnarl_nn_size(nn), n);
	memcpy(params_out, gnarl_nn_params(nn), n * sizeof(float));
	if (target_kl <= 0.0)
		assert_int_equal(gnarl_nn_adam_steps(nn), 3 * 4 * 4);
	gnarl_ppo_free(p);
	gnarl_pool_free(pool);
	gnarl_nn_free(nn);
}

/* Three updates on 1 and on 2 threads: identical parameters and stats. */
static void compare_threads(double target_kl, struct gnarl_ppo_stats *s1)
{
	struct gnarl_nn *probe = make_nn(7, 2, 2, false, 128, 1);
	size_t n = gnarl_nn_size(probe);
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
	struct gnarl_ppo_stats s2;

	gnarl_nn_free(probe);
	run_updates(1, target_kl, a, n, s1);
	run_updates(2, target_kl, b, n, &s2);
	assert_memory_equal(a, b, n * sizeof(float));
	assert_true(s1->policy_loss == s2.policy_loss && s1->value_loss == s2.value_loss);
	assert_int_equal(s1->epochs, s2.epochs);
	free(a);
	free(b);
}

static void test_update_threads(void **state)
{
	struct gnarl_ppo_stats s;

	(void)state;
	compare_threads(0.0, &s);
	assert_int_equal(s.epochs, 4);
	assert_int_equal(s.minibatches, 16);
	assert_true(s.grad_norm > 0.0);
}

static void test_target_kl(void **state)
{
	struct gnarl_ppo_stats s;

	(void)state;
	/* The first minibatch has ratio 1 only if old logp matched; here it
	 * does not (-0.69 for every row), so KL > 1e-9 at once: one epoch. */
	compare_threads(1e-9, &s);
	assert_int_equal(s.epochs, 1);
	assert_int_equal(s.minibatches, 4);
}

/* A shared network wide enough that its products are split over two
 * threads (128 x 192 x 192 >= 2^20 multiply-adds) and Adam's range too:
 * values, GAE and two updates give the same bits as on one thread. */
static void run_shared(uint32_t threads, float *params_out, size_t n, float *values)
{
	struct gnarl_nn_spec spec = {.inputs = 7, .n_actions = 2, .n_hidden = 2,
	                             .hidden = {192, 192}, .activation = GNARL_NN_RELU,
	                             .shared = true, .max_batch = 128};
	struct gnarl_ppo_config c = base_config(128, 4, 7, 128);
	char err[GNARL_ERR_SIZE];
	struct gnarl_ppo_stats st;
	struct gnarl_nn *nn;
	struct gnarl_pool *pool;
	struct gnarl_ppo *p;
	struct gnarl_rng rng;

	c.threads = threads;
	assert_int_equal(gnarl_nn_create(&spec, 3, &nn, err), 0);
	assert_int_equal(gnarl_pool_create(threads, &pool, err), 0);
	assert_int_equal(gnarl_ppo_create(&c, nn, pool, &p, err), 0);
	fill_buffer(p, 9);
	gnarl_rng_seed(&rng, 11);
	gnarl_ppo_begin(p);
	assert_int_equal(gnarl_nn_parts(nn), threads); /* until contention, if any */
	gnarl_ppo_finish(p);
	memcpy(values, gnarl_ppo_buffer(p)->values, 128 * 4 * sizeof(float));
	for (int k = 0; k < 2; k++)
		gnarl_ppo_update(p, 2.5e-4, &rng, &st);
	assert_int_equal(gnarl_nn_size(nn), n);
	memcpy(params_out, gnarl_nn_params(nn), n * sizeof(float));
	gnarl_ppo_free(p);
	gnarl_pool_free(pool);
	gnarl_nn_free(nn);
}

static void test_update_threads_shared(void **state)
{
	size_t n;
	float *a, *b, va[512], vb[512];
	struct gnarl_nn_spec spec = {.inputs = 7, .n_actions = 2, .n_hidden = 2,
	                             .hidden = {192, 192}, .activation = GNARL_NN_RELU,
	                             .shared = true, .max_batch = 128};
	char err[GNARL_ERR_SIZE];
	struct gnarl_nn *probe;

	(void)state;
	assert_int_equal(gnarl_nn_create(&spec, 3, &probe, err), 0);
	n = gnarl_nn_size(probe);
	gnarl_nn_free(probe);
	a = malloc(n * sizeof(float));
	b = malloc(n * sizeof(float));
	run_shared(1, a, n, va);
	run_shared(2, b, n, vb);
	assert_memory_equal(va, vb, sizeof(va));
	assert_memory_equal(a, b, n * sizeof(float));
	free(a);
	free(b);
}

/* The critic's values computed on worker 1 while acting are the ones
 * computed after the rollout. */
static void collect_values(bool overlap, float *values)
{
	enum { T = 40, N = 4, O = 5 };
	struct gnarl_nn *nn = make_nn(O, 2, 2, false, 32, 4);
	struct gnarl_ppo_config c = base_config(T, N, O, 32);
	struct gnarl_pool *pool;
	struct gnarl_ppo *p;
	struct gnarl_rng rng, env;
	char err[GNARL_ERR_SIZE];
	float obs[N * O], rew[N] = {1, 1, 1, 1};
	const uint8_t dones[N] = {0};

	c.threads = 2;
	c.overlap_values = overlap;
	assert_int_equal(gnarl_pool_create(2, &pool, err), 0);
	assert_int_equal(gnarl_ppo_create(&c, nn, pool, &p, err), 0);
	gnarl_rng_seed(&rng, 1);
	gnarl_rng_seed(&env, 2);
	for (int i = 0; i < N * O; i++)
		obs[i] = gnarl_rng_float(&env);
	gnarl_ppo_set_obs(p, obs);
	gnarl_ppo_begin(p);
	for (uint32_t t = 0; t < T; t++) {
		gnarl_ppo_act(p, t, &rng);
		for (int i = 0; i < N * O; i++)
			obs[i] = gnarl_rng_float(&env);
		gnarl_ppo_record(p, t, rew, dones, obs, obs);
	}
	gnarl_ppo_finish(p);
	memcpy(values, gnarl_ppo_buffer(p)->values, T * N * sizeof(float));
	gnarl_ppo_free(p);
	gnarl_pool_free(pool);
	gnarl_nn_free(nn);
}

static void test_overlap_values(void **state)
{
	float a[160], b[160];

	(void)state;
	collect_values(false, a);
	collect_values(true, b);
	assert_memory_equal(a, b, sizeof(a));
	assert_true(a[0] != a[159]);
}

static void test_bad_config(void **state)
{
	struct gnarl_nn *nn = make_nn(4, 2, 1, false, 64, 1);
	struct gnarl_ppo_config c = base_config(8, 4, 4, 64);
	struct gnarl_ppo *p;
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), GNARL_EINVAL);
	assert_non_null(strstr(err, "minibatch_size"));
	c = base_config(32, 4, 5, 64);
	assert_int_equal(gnarl_ppo_create(&c, nn, NULL, &p, err), GNARL_EINVAL);
	assert_non_null(strstr(err, "observation size"));
	gnarl_ppo_free(NULL);
	gnarl_nn_free(nn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gae_hand),
	    cmocka_unit_test(test_lr_schedule),
	    cmocka_unit_test(test_loss_hand),
	    cmocka_unit_test(test_loss_fd_separate),
	    cmocka_unit_test(test_loss_fd_shared),
	    cmocka_unit_test(test_obs_normalizer),
	    cmocka_unit_test(test_reward_scaling),
	    cmocka_unit_test(test_sampling),
	    cmocka_unit_test(test_truncation_bootstrap),
	    cmocka_unit_test(test_update_threads),
	    cmocka_unit_test(test_update_threads_shared),
	    cmocka_unit_test(test_target_kl),
	    cmocka_unit_test(test_overlap_values),
	    cmocka_unit_test(test_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
