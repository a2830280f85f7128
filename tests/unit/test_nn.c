/*
 * test_nn.c - the network: tanh accuracy, finite-difference checks of
 * every backward (linear layer with each activation, whole networks with
 * both heads, shared and separate), orthogonal initialisation, Adam
 * against a hand-computed step, gradient-norm clipping, tensor views.
 *
 * Finite differences: central, eps 1e-2 on float32 forwards whose loss is
 * summed in double; the tolerance is |analytic - numeric| <= 2e-3 +
 * 1e-2 * |numeric|.
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
#include "rng.h"

#define FD_EPS 1e-2f
#define FD_ABS 2e-3
#define FD_REL 1e-2

static void fill(float *x, size_t n, struct gnarl_rng *rng, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = scale * (2.0f * gnarl_rng_float(rng) - 1.0f);
}

static void assert_close(double analytic, double numeric, const char *what, size_t i)
{
	double tol = FD_ABS + FD_REL * fabs(numeric);

	if (fabs(analytic - numeric) > tol)
		fail_msg("%s[%zu]: analytic %.7g, finite difference %.7g", what, i, analytic,
		         numeric);
}

static void test_tanh_accuracy(void **state)
{
	enum { N = 200001 };
	float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
	double worst = 0.0, worst_rel = 0.0;

	(void)state;
	for (int i = 0; i < N; i++)
		x[i] = -20.0f + 40.0f * (float)i / (N - 1);
	gnarl_nn_tanh(y, x, N);
	for (int i = 0; i < N; i++) {
		double e = fabs(y[i] - tanh((double)x[i]));
		worst = e > worst ? e : worst;
		if (fabs(x[i]) > 1e-6) {
			double r = e / fabs(tanh((double)x[i]));
			worst_rel = r > worst_rel ? r : worst_rel;
		}
	}
	/* Small arguments keep their relative accuracy (the Taylor branch). */
	x[0] = 1e-30f;
	x[1] = -3e-5f;
	x[2] = 0.0f;
	gnarl_nn_tanh(y, x, 3);
	assert_true(y[0] == 1e-30f);
	assert_true(fabs(y[1] - tanh((double)x[1])) <= 2e-7 * fabs(tanh((double)x[1])));
	assert_true(y[2] == 0.0f);
	free(x);
	free(y);
	if (worst > 2e-7 || worst_rel > 3e-7)
		fail_msg("tanh: max abs error %.3g, max rel error %.3g", worst, worst_rel);
}

/* L = sum c .* act(x W^T + b), in double. */
static double linear_loss(const float *x, const float *w, const float *b, const float *c,
                          uint32_t B, uint32_t in, uint32_t out,
                          enum gnarl_nn_activation act, float *y)
{
	double L = 0.0;

	gnarl_nn_linear_forward(y, x, w, b, B, in, out, act);
	for (uint32_t i = 0; i < B * out; i++)
		L += (double)c[i] * y[i];
	return L;
}

/* Central difference of linear_loss w.r.t. v[i]; *kink when a ReLU
 * changed side between the two evaluations (then the check is skipped). */
static double linear_fd(float *v, size_t i, const float *x, const float *w, const float *b,
                        const float *c, uint32_t B, uint32_t in, uint32_t out,
                        enum gnarl_nn_activation act, float *y, bool *kink)
{
	float keep = v[i], *y2 = malloc((size_t)B * out * sizeof(float));
	double lp, lm;

	v[i] = keep + FD_EPS;
	lp = linear_loss(x, w, b, c, B, in, out, act, y);
	v[i] = keep - FD_EPS;
	lm = linear_loss(x, w, b, c, B, in, out, act, y2);
	v[i] = keep;
	*kink = false;
	if (act == GNARL_NN_RELU)
		for (uint32_t k = 0; k < B * out; k++)
			*kink |= (y[k] > 0.0f) != (y2[k] > 0.0f);
	free(y2);
	return (lp - lm) / (2.0 * FD_EPS);
}

static void check_linear(enum gnarl_nn_activation act)
{
	const uint32_t B = 5, in = 6, out = 4;
	float x[5 * 6], w[4 * 6], b[4], c[5 * 4], y[5 * 4], dy[5 * 4];
	float dx[5 * 6], dw[4 * 6], db[4];
	struct gnarl_rng rng;
	uint32_t checked = 0, skipped = 0;
	bool kink;

	gnarl_rng_seed(&rng, 42 + act);
	fill(x, B * in, &rng, 1.0f);
	fill(w, out * in, &rng, 0.8f);
	fill(b, out, &rng, 0.5f);
	fill(c, B * out, &rng, 1.0f);
	linear_loss(x, w, b, c, B, in, out, act, y);
	memcpy(dy, c, sizeof(dy));
	/* dx starts non-zero: accumulate must add to it. */
	for (uint32_t i = 0; i < B * in; i++)
		dx[i] = 1.0f;
	gnarl_nn_linear_backward(dx, dw, db, dy, y, x, w, B, in, out, act, true);
	for (uint32_t i = 0; i < B * in; i++) {
		double n = linear_fd(x, i, x, w, b, c, B, in, out, act, y, &kink);
		if (kink) {
			skipped++;
			continue;
		}
		assert_close(dx[i] - 1.0f, n, "dx", i);
		checked++;
	}
	for (uint32_t i = 0; i < out * in; i++) {
		double n = linear_fd(w, i, x, w, b, c, B, in, out, act, y, &kink);
		if (kink) {
			skipped++;
			continue;
		}
		assert_close(dw[i], n, "dw", i);
		checked++;
	}
	for (uint32_t i = 0; i < out; i++) {
		double n = linear_fd(b, i, x, w, b, c, B, in, out, act, y, &kink);
		if (kink) {
			skipped++;
			continue;
		}
		assert_close(db[i], n, "db", i);
		checked++;
	}
	/* B*in + out*in + out = 58 gradients */
	assert_int_equal(checked + skipped, 58);
	assert_true(checked >= 50);
}

static void test_linear_identity(void **state)
{
	(void)state;
	check_linear(GNARL_NN_IDENTITY);
}

static void test_linear_tanh(void **state)
{
	(void)state;
	check_linear(GNARL_NN_TANH);
}

static void test_linear_relu(void **state)
{
	(void)state;
	check_linear(GNARL_NN_RELU);
}

/* The accumulate flag: false overwrites dx, true adds. */
static void test_linear_dx_overwrite(void **state)
{
	float x[2] = {1, 2}, w[2] = {3, 4}, y[1], dy[1] = {1}, dx[2] = {100, 100}, dw[2], db[1];

	(void)state;
	gnarl_nn_linear_forward(y, x, w, (float[]){0.5f}, 1, 2, 1, GNARL_NN_IDENTITY);
	assert_true(y[0] == 11.5f);
	gnarl_nn_linear_backward(dx, dw, db, dy, y, x, w, 1, 2, 1, GNARL_NN_IDENTITY, false);
	assert_true(dx[0] == 3.0f && dx[1] == 4.0f);
	assert_true(dw[0] == 1.0f && dw[1] == 2.0f && db[0] == 1.0f);
}

/* L = sum c .* logits + sum d .* values over a network, in double. */
static double net_loss(struct gnarl_nn *nn, const float *x, uint32_t B, const float *c,
                       const float *d)
{
	const uint32_t A = gnarl_nn_spec(nn)->n_actions;
	double L = 0.0;

	gnarl_nn_forward(nn, x, B, GNARL_NN_POLICY | GNARL_NN_VALUE);
	for (uint32_t i = 0; i < B * A; i++)
		L += (double)c[i] * gnarl_nn_logits(nn)[i];
	for (uint32_t i = 0; i < B; i++)
		L += (double)d[i] * gnarl_nn_values(nn)[i];
	return L;
}

static void check_network(bool shared, enum gnarl_nn_activation act)
{
	struct gnarl_nn_spec spec = {.inputs = 5, .n_actions = 3, .n_hidden = 2,
	                             .hidden = {6, 7}, .activation = act, .shared = shared,
	                             .max_batch = 4};
	const uint32_t B = 4;
	float x[4 * 5], c[4 * 3], d[4];
	char err[GNARL_ERR_SIZE];
	struct gnarl_nn *nn;
	struct gnarl_rng rng;
	float *p, *g, *grads;
	size_t n;
	uint32_t checked = 0, skipped = 0;

	assert_int_equal(gnarl_nn_create(&spec, 7, &nn, err), 0);
	gnarl_rng_seed(&rng, 3);
	fill(x, B * 5, &rng, 1.0f);
	fill(c, B * 3, &rng, 1.0f);
	fill(d, B, &rng, 1.0f);
	p = gnarl_nn_params(nn);
	g = gnarl_nn_grads(nn);
	n = gnarl_nn_size(nn);
	/* Initial heads are tiny (gain 0.01): spread the parameters so every
	 * gradient is well above the finite-difference noise. */
	fill(p, n, &rng, 0.6f);
	net_loss(nn, x, B, c, d);
	gnarl_nn_backward(nn, x, B, c, d);
	grads = malloc(n * sizeof(float));
	memcpy(grads, g, n * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		float keep = p[i];
		double lp, lm;
		p[i] = keep + FD_EPS;
		lp = net_loss(nn, x, B, c, d);
		p[i] = keep - FD_EPS;
		lm = net_loss(nn, x, B, c, d);
		p[i] = keep;
		/* ReLU kinks: compare against a one-sided difference too. */
		if (act == GNARL_NN_RELU) {
			double l0 = net_loss(nn, x, B, c, d);
			double fwd = (lp - l0) / FD_EPS, bwd = (l0 - lm) / FD_EPS;
			if (fabs(fwd - bwd) > FD_ABS + FD_REL * fabs(fwd)) {
				skipped++;
				continue;
			}
		}
		assert_close(grads[i], (lp - lm) / (2.0 * FD_EPS), "param", i);
		checked++;
	}
	free(grads);
	assert_true(checked > 10 * skipped);
	gnarl_nn_free(nn);
}

static void test_network_separate_tanh(void **state)
{
	(void)state;
	check_network(false, GNARL_NN_TANH);
}

static void test_network_shared_tanh(void **state)
{
	(void)state;
	check_network(true, GNARL_NN_TANH);
}

static void test_network_separate_relu(void **state)
{
	(void)state;
	check_network(false, GNARL_NN_RELU);
}

static void test_network_shared_relu(void **state)
{
	(void)state;
	check_network(true, GNARL_NN_RELU);
}

static const struct gnarl_tensor *find(const struct gnarl_tensor *t, uint32_t n,
                                       const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	fail_msg("no tensor %s", name);
	return NULL;
}

/* W is (in, out): its columns (out <= in) or its rows (out > in) are
 * orthogonal with norm gain. */
static void check_orthogonal(const struct gnarl_tensor *t, double gain)
{
	const float *w = t->data;
	uint32_t in = (uint32_t)t->shape[0], out = (uint32_t)t->shape[1];
	bool cols = out <= in;
	uint32_t k = cols ? out : in, len = cols ? in : out;

	for (uint32_t a = 0; a < k; a++)
		for (uint32_t b = 0; b < k; b++) {
			double dot = 0.0;
			for (uint32_t i = 0; i < len; i++)
				dot += cols ? (double)w[i * out + a] * w[i * out + b]
				            : (double)w[a * out + i] * w[b * out + i];
			if (fabs(dot - (a == b ? gain * gain : 0.0)) > 1e-5 * (1 + gain * gain))
				fail_msg("%s not orthogonal: <%u,%u> = %g", t->name, a, b, dot);
		}
}

static void test_init_and_tensors(void **state)
{
	struct gnarl_nn_spec spec = {.inputs = 7, .n_actions = 2, .n_hidden = 2,
	                             .hidden = {64, 64}, .activation = GNARL_NN_TANH,
	                             .shared = false, .max_batch = 128};
	struct gnarl_tensor t[64];
	char err[GNARL_ERR_SIZE];
	struct gnarl_nn *nn, *nn2, *nn3;
	uint32_t n;

	(void)state;
	assert_int_equal(gnarl_nn_create(&spec, 1, &nn, err), 0);
	assert_int_equal(gnarl_nn_stacks(nn), 2);
	n = gnarl_nn_tensors(nn, t, 64);
	/* 3 layers x 2 stacks x (weight, bias) x (param, m, v) + adam.step */
	assert_int_equal(n, 37);
	const struct gnarl_tensor *w0 = find(t, n, "actor.0.weight");
	assert_int_equal(w0->ndim, 2);
	assert_int_equal(w0->shape[0], 7); /* (in, out) */
	assert_int_equal(w0->shape[1], 64);
	check_orthogonal(w0, sqrt(2.0));
	check_orthogonal(find(t, n, "actor.1.weight"), sqrt(2.0));
	check_orthogonal(find(t, n, "actor.2.weight"), 0.01);
	check_orthogonal(find(t, n, "critic.0.weight"), sqrt(2.0));
	check_orthogonal(find(t, n, "critic.2.weight"), 1.0);
	assert_int_equal(find(t, n, "critic.2.weight")->shape[0], 64);
	assert_int_equal(find(t, n, "critic.2.weight")->shape[1], 1);
	const struct gnarl_tensor *b = find(t, n, "critic.1.bias");
	for (uint32_t i = 0; i < 64; i++)
		assert_true(((float *)b->data)[i] == 0.0f);
	assert_int_equal(find(t, n, "adam.m.actor.0.weight")->shape[0], 7);
	assert_int_equal(find(t, n, "adam.v.critic.2.bias")->shape[0], 1);
	assert_int_equal(find(t, n, "adam.step")->dtype, GNARL_DTYPE_U64);
	assert_int_equal(find(t, n, "adam.step")->ndim, 0);
	/* CleanRL's network: 2*(7*64 + 64*64 + 64*2) + 2*(7*64 + 64*64 + 64) */
	assert_int_equal(gnarl_nn_flops_forward(nn, GNARL_NN_POLICY | GNARL_NN_VALUE), 18560);
	assert_int_equal(gnarl_nn_flops_forward(nn, GNARL_NN_POLICY), 9344);
	/* weights' gradients (18560) + inputs' gradients except the first layer */
	assert_int_equal(gnarl_nn_flops_backward(nn), 18560 + 2 * (64 * 64 + 64 * 2) +
	                                                  2 * (64 * 64 + 64));

	/* Same seed, same weights; another seed, other weights. */
	assert_int_equal(gnarl_nn_create(&spec, 1, &nn2, err), 0);
	assert_int_equal(gnarl_nn_create(&spec, 2, &nn3, err), 0);
	assert_memory_equal(gnarl_nn_params(nn), gnarl_nn_params(nn2),
	                    gnarl_nn_size(nn) * sizeof(float));
	assert_memory_not_equal(gnarl_nn_params(nn), gnarl_nn_params(nn3),
	                        gnarl_nn_size(nn) * sizeof(float));
	gnarl_nn_free(nn);
	gnarl_nn_free(nn2);
	gnarl_nn_free(nn3);

	spec.shared = true;
	spec.activation = GNARL_NN_RELU;
	assert_int_equal(gnarl_nn_create(&spec, 1, &nn, err), 0);
	n = gnarl_nn_tensors(nn, t, 64);
	assert_int_equal(n, 4 * 2 * 3 + 1);
	check_orthogonal(find(t, n, "trunk.1.weight"), sqrt(2.0));
	check_orthogonal(find(t, n, "policy.weight"), 0.01);
	check_orthogonal(find(t, n, "value.weight"), 1.0);
	gnarl_nn_free(nn);
}

static void test_bad_spec(void **state)
{
	struct gnarl_nn_spec spec = {.inputs = 4, .n_actions = 2, .n_hidden = 1,
	                             .hidden = {0}, .activation = GNARL_NN_TANH,
	                             .max_batch = 8};
	char err[GNARL_ERR_SIZE];
	struct gnarl_nn *nn;

	(void)state;
	assert_int_equal(gnarl_nn_create(&spec, 1, &nn, err), GNARL_EINVAL);
	assert_non_null(strstr(err, "policy.hidden[0]"));
	assert_null(nn);
	spec.hidden[0] = 8;
	spec.n_hidden = GNARL_NN_MAX_HIDDEN + 1;
	assert_int_equal(gnarl_nn_create(&spec, 1, &nn, err), GNARL_EINVAL);
	gnarl_nn_free(NULL);
}

/* Two Adam steps computed by hand in double (PyTorch's formula). */
static void test_adam_hand(void **state)
{
	const struct gnarl_nn_adam hp = {0.01, 0.9, 0.999, 1e-8};
	float p[3] = {1.0f, -2.0f, 0.5f}, m[3] = {0}, v[3] = {0};
	const float g1[3] = {0.1f, -0.3f, 0.0f}, g2[3] = {0.2f, 0.1f, -0.4f};
	double P[3] = {1.0, -2.0, 0.5}, M[3] = {0}, V[3] = {0};

	(void)state;
	gnarl_nn_adam_apply(p, g1, m, v, 3, &hp, 1.0f, 1);
	/* Step 1: m_hat = g, v_hat = g^2, so p -= lr * g / (|g| + eps). */
	assert_float_equal(p[0], 1.0 - 0.01 * 0.1 / (0.1 + 1e-8), 1e-6);
	assert_float_equal(p[1], -2.0 + 0.01, 1e-6);
	assert_float_equal(p[2], 0.5, 0.0);
	for (int t = 1; t <= 2; t++) {
		const float *g = t == 1 ? g1 : g2;
		for (int i = 0; i < 3; i++) {
			M[i] = 0.9 * M[i] + 0.1 * g[i];
			V[i] = 0.999 * V[i] + 0.001 * (double)g[i] * g[i];
			double mh = M[i] / (1 - pow(0.9, t)), vh = V[i] / (1 - pow(0.999, t));
			P[i] -= 0.01 * mh / (sqrt(vh) + 1e-8);
		}
	}
	/* grad_scale 0.5 on doubled gradients is the same step. */
	const float g2x2[3] = {0.4f, 0.2f, -0.8f};
	gnarl_nn_adam_apply(p, g2x2, m, v, 3, &hp, 0.5f, 2);
	for (int i = 0; i < 3; i++) {
		assert_float_equal(p[i], P[i], 1e-6);
		assert_float_equal(m[i], M[i], 1e-6 * fabs(M[i]));
		assert_float_equal(v[i], V[i], 1e-6 * fabs(V[i]));
	}
}

/* A long vector exercises the blocked, vectorised path and its tail. */
static void test_adam_blocks(void **state)
{
	enum { N = 1000 };
	const struct gnarl_nn_adam hp = {0.003, 0.9, 0.999, 1e-5};
	float *p = calloc(N, sizeof(float)), *g = calloc(N, sizeof(float));
	float *m = calloc(N, sizeof(float)), *v = calloc(N, sizeof(float));

	(void)state;
	for (int i = 0; i < N; i++)
		g[i] = (float)(i % 7) - 3.0f;
	gnarl_nn_adam_apply(p, g, m, v, N, &hp, 1.0f, 1);
	for (int i = 0; i < N; i++) {
		double expect = g[i] == 0.0f ? 0.0 : -0.003 * g[i] / (fabs(g[i]) + 1e-5);
		assert_float_equal(p[i], expect, 1e-7);
	}
	free(p);
	free(g);
	free(m);
	free(v);
}

static void test_clip(void **state)
{
	struct gnarl_nn_spec spec = {.inputs = 3, .n_actions = 2, .n_hidden = 1,
	                             .hidden = {4}, .activation = GNARL_NN_TANH,
	                             .max_batch = 2};
	char err[GNARL_ERR_SIZE];
	struct gnarl_nn *nn;
	size_t b0, e0, b1, e1;
	double sq;

	(void)state;
	assert_int_equal(gnarl_nn_create(&spec, 1, &nn, err), 0);
	gnarl_nn_stack_range(nn, 0, &b0, &e0);
	gnarl_nn_stack_range(nn, 1, &b1, &e1);
	assert_true(e0 <= b1);
	assert_int_equal(e1, gnarl_nn_size(nn));
	gnarl_nn_grads(nn)[b0] = 3.0f;
	gnarl_nn_grads(nn)[b1 + 1] = 4.0f;
	assert_float_equal(gnarl_nn_grad_sqnorm(nn, 0), 9.0, 1e-12);
	sq = gnarl_nn_grad_sqnorm(nn, 0) + gnarl_nn_grad_sqnorm(nn, 1);
	assert_float_equal(sq, 25.0, 1e-12);
	/* Norm 5 clipped to 0.5 (PyTorch: max / (norm + 1e-6)). */
	assert_float_equal(gnarl_nn_clip_scale(sq, 0.5), 0.5 / (5.0 + 1e-6), 1e-9);
	assert_true(gnarl_nn_clip_scale(sq, 10.0) == 1.0f);
	assert_true(gnarl_nn_clip_scale(sq, 0.0) == 1.0f);

	/* Adam on a stack touches only that stack's range. */
	float before = gnarl_nn_params(nn)[b1 + 1];
	const struct gnarl_nn_adam hp = {0.1, 0.9, 0.999, 1e-5};
	gnarl_nn_adam_stack(nn, 0, &hp, 1.0f, 1);
	assert_true(gnarl_nn_params(nn)[b1 + 1] == before);
	gnarl_nn_adam_stack(nn, 1, &hp, 1.0f, 1);
	assert_float_equal(gnarl_nn_params(nn)[b1 + 1], before - 0.1f, 1e-5);
	gnarl_nn_free(nn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tanh_accuracy),
	    cmocka_unit_test(test_linear_identity),
	    cmocka_unit_test(test_linear_tanh),
	    cmocka_unit_test(test_linear_relu),
	    cmocka_unit_test(test_linear_dx_overwrite),
	    cmocka_unit_test(test_network_separate_tanh),
	    cmocka_unit_test(test_network_shared_tanh),
	    cmocka_unit_test(test_network_separate_relu),
	    cmocka_unit_test(test_network_shared_relu),
	    cmocka_unit_test(test_init_and_tensors),
	    cmocka_unit_test(test_bad_spec),
	    cmocka_unit_test(test_adam_hand),
	    cmocka_unit_test(test_adam_blocks),
	    cmocka_unit_test(test_clip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
