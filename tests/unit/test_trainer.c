/*
 * test_trainer.c - the trainer on configs/cartpole.yaml (plugins from
 * GNARL_PLUGIN_PATH, no run directory): the learner state it lists is
 * complete, i.e. copying it into a fresh trainer and resuming gives the
 * same iterations, bit for bit, as the trainer it came from (both reset
 * their envs at the resume point, as a restore does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "nn.h"
#include "trainer.h"

#define CONFIG GNARL_SOURCE_DIR "/configs/cartpole.yaml"
#define MAX_TENSORS 128

struct run {
	struct gnarl_config *cfg;
	struct gnarl_trainer *t;
};

static struct run make(const char *threads)
{
	/* Normalisers on, so their state must travel too. */
	const char *sets[] = {"ppo.total_steps=20480", threads, "ppo.normalize_obs=true",
	                      "ppo.normalize_reward=true"};
	struct gnarl_trainer_options opt = {.no_run_dir = true, .quiet = true};
	char err[GNARL_ERR_SIZE];
	struct run r;

	if (gnarl_config_load(CONFIG, sets, 4, &r.cfg, err))
		fail_msg("config: %s", err);
	if (gnarl_trainer_create(r.cfg, &opt, &r.t, err))
		fail_msg("trainer: %s (is GNARL_PLUGIN_PATH set?)", err);
	return r;
}

static void drop(struct run *r)
{
	gnarl_trainer_free(r->t);
	gnarl_config_free(r->cfg);
}

static size_t bytes_of(const struct gnarl_tensor *t)
{
	return gnarl_dtype_size(t->dtype) * gnarl_tensor_numel(t);
}

/* Ten iterations; their losses in out (2 per iteration). */
static void ten(struct gnarl_trainer *t, double *out)
{
	struct gnarl_trainer_iteration it;

	for (int i = 0; i < 10; i++) {
		gnarl_trainer_iterate(t, &it);
		out[2 * i] = it.ppo.policy_loss;
		out[2 * i + 1] = it.ppo.value_loss;
	}
}

static void check_resume(const char *threads_a, const char *threads_b)
{
	struct run a = make(threads_a), b;
	struct gnarl_tensor ta[MAX_TENSORS], tb[MAX_TENSORS];
	void *saved[MAX_TENSORS];
	double la[20], lb[20];
	uint32_t n, nb;

	gnarl_trainer_start(a.t);
	ten(a.t, la);
	n = gnarl_trainer_tensors(a.t, ta, MAX_TENSORS);
	assert_true(n < MAX_TENSORS);
	for (uint32_t i = 0; i < n; i++) {
		saved[i] = malloc(bytes_of(&ta[i]) + 1);
		memcpy(saved[i], ta[i].data, bytes_of(&ta[i]));
	}
	/* A continues after an env reset at iteration 10 ... */
	gnarl_trainer_restored(a.t);
	ten(a.t, la);

	/* ... and B, fresh, gets the saved state and does the same. */
	b = make(threads_b);
	nb = gnarl_trainer_tensors(b.t, tb, MAX_TENSORS);
	assert_int_equal(nb, n);
	for (uint32_t i = 0; i < n; i++) {
		assert_string_equal(ta[i].name, tb[i].name);
		assert_int_equal(ta[i].dtype, tb[i].dtype);
		assert_int_equal(bytes_of(&ta[i]), bytes_of(&tb[i]));
		memcpy(tb[i].data, saved[i], bytes_of(&tb[i]));
		free(saved[i]);
	}
	assert_int_equal(gnarl_trainer_iteration_count(b.t), 10);
	gnarl_trainer_restored(b.t);
	ten(b.t, lb);
	assert_memory_equal(la, lb, sizeof(la));
	assert_int_equal(gnarl_trainer_iteration_count(b.t), 20);
	assert_int_equal(gnarl_trainer_env_steps(b.t), 20 * 512);
	assert_int_equal(gnarl_trainer_episodes(b.t), gnarl_trainer_episodes(a.t));
	assert_memory_equal(gnarl_nn_params(gnarl_trainer_nn(a.t)),
	                    gnarl_nn_params(gnarl_trainer_nn(b.t)),
	                    gnarl_nn_size(gnarl_trainer_nn(a.t)) * sizeof(float));
	assert_true(gnarl_trainer_done(b.t) == false);
	drop(&a);
	drop(&b);
}

static void test_resume_exact(void **state)
{
	(void)state;
	check_resume("ppo.blas_threads=1", "ppo.blas_threads=1");
}

/* The state does not depend on the thread count either. */
static void test_resume_other_threads(void **state)
{
	(void)state;
	check_resume("ppo.blas_threads=2", "env.threads=2");
}

static void test_tensor_names(void **state)
{
	struct run r = make("ppo.blas_threads=1");
	struct gnarl_tensor t[MAX_TENSORS];
	const char *want[] = {"actor.0.weight", "critic.2.bias", "adam.m.actor.1.weight",
	                      "adam.v.critic.0.bias", "adam.step", "obs_rms.mean",
	                      "obs_rms.count", "ret_rms.var", "ret_rms.returns",
	                      "episode.numbers", "episode.window", "trainer.rng",
	                      "trainer.iteration", "trainer.env_steps"};
	uint32_t n;

	(void)state;
	n = gnarl_trainer_tensors(r.t, t, MAX_TENSORS);
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			if (!strcmp(t[i].name, t[j].name))
				fail_msg("tensor %s listed twice", t[i].name);
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		uint32_t i = 0;
		while (i < n && strcmp(t[i].name, want[w]))
			i++;
		if (i == n)
			fail_msg("no tensor %s", want[w]);
	}
	/* A short list is filled up to max and still counts everything. */
	assert_int_equal(gnarl_trainer_tensors(r.t, t, 3), n);
	assert_int_equal(gnarl_trainer_total_iterations(r.t), 40);
	drop(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resume_exact),
	    cmocka_unit_test(test_resume_other_threads),
	    cmocka_unit_test(test_tensor_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
