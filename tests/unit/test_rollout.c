/*
 * test_rollout.c - stepping envs: the cartpole plugin (dlopen'ed from the
 * build tree through its entry point, with a host table filled here) for
 * CartPole-v1's physics, termination, truncation and seeded resets; thread
 * independence of a whole rollout; and, with an env and two reward terms
 * written here, the reward sum, prev/cur states, episode_start calls and
 * the episode records built from game states.
 */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "episode.h"
#include "pool.h"
#include "rng.h"
#include "rollout.h"
#include "term.h"

#define CARTPOLE GNARL_BUILD_DIR "/plugins/cartpole.so"

/* ---- a host table for plugins ------------------------------------------ */

static struct gnarl_value max_steps_value = {.type = GNARL_VALUE_INT};

static const struct gnarl_value *host_param(const struct gnarl_host *h, const char *name)
{
	(void)h;
	if (!strcmp(name, "max_steps") && max_steps_value.as.i > 0)
		return &max_steps_value;
	return NULL;
}

static void host_log(const struct gnarl_host *h, enum gnarl_log_level l, const char *fmt, ...)
{
	(void)h;
	(void)l;
	(void)fmt;
}

static const struct gnarl_host host = {
    .size = sizeof(struct gnarl_host),
    .abi_version = GNARL_ABI_VERSION,
    .log = host_log,
    .param = host_param,
    .seed = 1,
};

struct cartpole {
	void *so;
	const struct gnarl_env_ops *ops;
	void *env;
};

static struct cartpole cartpole_open(uint32_t n, int64_t max_steps)
{
	struct cartpole c;
	char err[GNARL_ERR_SIZE] = "";
	gnarl_plugin_entry_fn entry;
	const struct gnarl_plugin *desc;

	c.so = dlopen(CARTPOLE, RTLD_NOW | RTLD_LOCAL);
	if (!c.so)
		fail_msg("dlopen %s: %s (build the cartpole target)", CARTPOLE, dlerror());
	*(void **)&entry = dlsym(c.so, "gnarl_plugin_entry");
	assert_non_null(entry);
	desc = entry();
	assert_int_equal(desc->kind, GNARL_KIND_ENV);
	assert_string_equal(desc->name, "cartpole");
	c.ops = desc->ops.env;
	max_steps_value.as.i = max_steps;
	c.env = c.ops->create(&host, n, err);
	if (!c.env)
		fail_msg("cartpole create: %s", err);
	return c;
}

static void cartpole_close(struct cartpole *c)
{
	c->ops->destroy(c->env);
	dlclose(c->so);
}

static struct gnarl_rollout *rollout(struct cartpole *c, uint32_t n, uint32_t O,
                                     uint64_t seed, uint32_t threads,
                                     struct gnarl_pool *pool)
{
	struct gnarl_rollout_config rc = {n, O, seed, threads, 100};
	struct gnarl_rollout *r;
	char err[GNARL_ERR_SIZE];

	if (gnarl_rollout_create(&rc, c->ops, c->env, NULL, 0, pool, &r, err))
		fail_msg("rollout: %s", err);
	return r;
}

/* ---- cartpole ----------------------------------------------------------- */

static void test_cartpole_physics(void **state)
{
	struct cartpole c = cartpole_open(1, 0);
	struct gnarl_rollout *r = rollout(&c, 1, 7, 3, 1, NULL);
	const struct gnarl_env_spaces *sp = gnarl_rollout_spaces(r);
	const int32_t right = 1;
	float *obs;
	double x, xd, th, thd;

	(void)state;
	assert_int_equal(sp->obs_dim, 4);
	assert_int_equal(sp->n_actions, 2);
	assert_string_equal(sp->action_names[0], "LEFT");
	assert_string_equal(sp->action_names[1], "RIGHT");
	assert_false(sp->has_game_state);
	assert_false(sp->has_frames);
	assert_null(gnarl_rollout_states(r));
	gnarl_rollout_reset_all(r);
	obs = gnarl_rollout_obs(r);
	for (int j = 0; j < 4; j++)
		assert_true(obs[j] >= -0.05f && obs[j] <= 0.05f && obs[j] != 0.0f);
	x = obs[0], xd = obs[1], th = obs[2], thd = obs[3];
	assert_int_equal(gnarl_rollout_step(r, &right), 0);
	/* Gymnasium CartPole-v1, Euler: force +10 N. */
	double temp = (10.0 + 0.05 * thd * thd * sin(th)) / 1.1;
	double thacc = (9.8 * sin(th) - cos(th) * temp) /
	               (0.5 * (4.0 / 3.0 - 0.1 * cos(th) * cos(th) / 1.1));
	double xacc = temp - 0.05 * thacc * cos(th) / 1.1;
	assert_float_equal(obs[0], x + 0.02 * xd, 1e-6);
	assert_float_equal(obs[1], xd + 0.02 * xacc, 1e-6);
	assert_float_equal(obs[2], th + 0.02 * thd, 1e-6);
	assert_float_equal(obs[3], thd + 0.02 * thacc, 1e-6);
	assert_float_equal(gnarl_rollout_rewards(r)[0], 1.0, 0);
	assert_int_equal(gnarl_rollout_dones(r)[0], 0);
	/* The advice block (floats 4..6) is the core's: the env leaves it. */
	assert_true(obs[4] == 0.0f && obs[5] == 0.0f && obs[6] == 0.0f);
	gnarl_rollout_free(r);
	cartpole_close(&c);
}

static void test_cartpole_termination(void **state)
{
	struct cartpole c = cartpole_open(1, 0);
	struct gnarl_rollout *r = rollout(&c, 1, 4, 5, 1, NULL);
	struct gnarl_episode *ep = gnarl_rollout_episodes(r);
	const int32_t right = 1;
	uint32_t steps = 0;
	const float *fin;
	const struct gnarl_episode_record *rec;

	(void)state;
	gnarl_rollout_reset_all(r);
	while (!gnarl_rollout_step(r, &right)) {
		steps++;
		assert_true(steps < 200);
		/* Still inside the limits. */
		const float *o = gnarl_rollout_obs(r);
		assert_true(fabsf(o[0]) <= 2.4f && fabsf(o[2]) <= 0.20944f);
	}
	steps++;
	assert_int_equal(gnarl_rollout_dones(r)[0], GNARL_DONE_TERMINATED);
	fin = gnarl_rollout_final_obs(r);
	assert_true(fabsf(fin[0]) > 2.4f || fabsf(fin[2]) > 12.0 * 2.0 * 3.14159265358979 / 360.0);
	rec = gnarl_rollout_record(r, 0);
	assert_int_equal(rec->length, steps);
	assert_float_equal(rec->ret, steps, 0);
	assert_true(rec->terminated && !rec->truncated);
	assert_int_equal(rec->episode, 0);
	assert_int_equal(gnarl_episode_number(ep, 0), 1);
	/* Reset already happened: a fresh state. */
	for (int j = 0; j < 4; j++)
		assert_true(fabsf(gnarl_rollout_obs(r)[j]) <= 0.05f);
	gnarl_rollout_free(r);
	cartpole_close(&c);
}

static void test_cartpole_truncation(void **state)
{
	struct cartpole c = cartpole_open(2, 5);
	struct gnarl_rollout *r = rollout(&c, 2, 4, 5, 1, NULL);
	const int32_t alternate[2][2] = {{0, 1}, {1, 0}};
	float before[8];

	(void)state;
	gnarl_rollout_reset_all(r);
	for (int t = 0; t < 4; t++)
		assert_int_equal(gnarl_rollout_step(r, alternate[t % 2]), 0);
	memcpy(before, gnarl_rollout_obs(r), sizeof(before));
	assert_int_equal(gnarl_rollout_step(r, alternate[0]), 2);
	for (uint32_t n = 0; n < 2; n++) {
		const struct gnarl_episode_record *rec = gnarl_rollout_record(r, n);
		assert_int_equal(gnarl_rollout_dones(r)[n], GNARL_DONE_TRUNCATED);
		assert_true(rec->truncated && !rec->terminated);
		assert_int_equal(rec->length, 5);
		/* The final observation moved on from the one before it. */
		assert_true(gnarl_rollout_final_obs(r)[n * 4] != before[n * 4]);
	}
	gnarl_rollout_free(r);
	cartpole_close(&c);
}

/* Observations, rewards and dones of `steps` random steps, hashed. */
static uint64_t run_hash(uint32_t n, uint64_t seed, uint32_t threads, uint32_t steps)
{
	struct cartpole c = cartpole_open(n, 60);
	struct gnarl_pool *pool = NULL;
	struct gnarl_rollout *r;
	struct gnarl_rng rng;
	char err[GNARL_ERR_SIZE];
	int32_t actions[16];
	uint64_t h = 1469598103934665603ull;
	uint32_t finished = 0;

	if (threads > 1)
		assert_int_equal(gnarl_pool_create(threads, &pool, err), 0);
	r = rollout(&c, n, 5, seed, threads, pool);
	gnarl_rollout_reset_all(r);
	gnarl_rng_seed(&rng, 77);
	for (uint32_t t = 0; t < steps; t++) {
		for (uint32_t i = 0; i < n; i++)
			actions[i] = (int32_t)gnarl_rng_below(&rng, 2);
		finished += gnarl_rollout_step(r, actions);
		const unsigned char *b = (const unsigned char *)gnarl_rollout_obs(r);
		for (size_t k = 0; k < n * 5 * sizeof(float); k++)
			h = (h ^ b[k]) * 1099511628211ull;
		for (uint32_t i = 0; i < n; i++)
			h = (h ^ gnarl_rollout_dones(r)[i]) * 1099511628211ull;
	}
	assert_true(finished > n); /* resets happened along the way */
	gnarl_rollout_free(r);
	gnarl_pool_free(pool);
	cartpole_close(&c);
	return h;
}

static void test_threads_and_seeds(void **state)
{
	uint64_t one = run_hash(7, 11, 1, 400);

	(void)state;
	assert_true(run_hash(7, 11, 1, 400) == one);
	assert_true(run_hash(7, 11, 2, 400) == one);
	assert_true(run_hash(7, 11, 3, 400) == one);
	assert_true(run_hash(7, 12, 1, 400) != one);
	assert_true(gnarl_rollout_reset_seed(1, 0, 0) != gnarl_rollout_reset_seed(1, 1, 0));
	assert_true(gnarl_rollout_reset_seed(1, 0, 0) != gnarl_rollout_reset_seed(1, 0, 1));
	assert_true(gnarl_rollout_reset_seed(1, 0, 0) != gnarl_rollout_reset_seed(2, 0, 0));
}

/* ---- an env with game states and two reward terms ----------------------- */

/* Env: each step moves to room (steps % 3) of group 0, kills one enemy on
 * even steps, and ends its episode after 4 steps (terminated).  Reset puts
 * it in room 7 with the kill counter at 100 * seed % 7. */
struct fake_env {
	uint32_t n;
	uint32_t steps[8];
	int32_t kills[8];
};

static const char *const fake_actions[] = {"A", "B", "C"};

static void *fake_create(const struct gnarl_host *h, uint32_t n, char err[GNARL_ERR_SIZE])
{
	struct fake_env *e = calloc(1, sizeof(*e));

	(void)h;
	(void)err;
	e->n = n;
	return e;
}

static void fake_destroy(void *env)
{
	free(env);
}

static void fake_spaces(void *env, struct gnarl_env_spaces *out)
{
	(void)env;
	out->size = sizeof(*out);
	out->obs_dim = 2;
	out->n_actions = 3;
	out->action_names = fake_actions;
	out->has_frames = false;
	out->has_game_state = true;
}

static void fake_write(struct fake_env *e, const struct gnarl_env_io *io, uint32_t i)
{
	struct gnarl_game_state *s = &io->states[i];

	memset(s, 0, sizeof(*s));
	s->size = GNARL_GAME_STATE_V1_SIZE;
	s->frame = e->steps[i];
	s->room = e->steps[i] == 0 ? 7 : (int32_t)(e->steps[i] % 3);
	s->dungeon = -1;
	s->enemies_killed = e->kills[i];
	io->obs[i * io->obs_stride] = (float)e->steps[i];
	io->obs[i * io->obs_stride + 1] = (float)i;
}

static void fake_reset(void *env, const struct gnarl_env_io *io, uint32_t i, uint64_t seed)
{
	struct fake_env *e = env;

	e->steps[i] = 0;
	e->kills[i] = (int32_t)(seed % 7) * 100;
	fake_write(e, io, i);
}

static void fake_step(void *env, const struct gnarl_env_io *io, uint32_t first, uint32_t count)
{
	struct fake_env *e = env;

	for (uint32_t i = first; i < first + count; i++) {
		e->steps[i]++;
		if (e->steps[i] % 2 == 0)
			e->kills[i]++;
		fake_write(e, io, i);
		io->rewards[i] = 0.5f;
		io->dones[i] = e->steps[i] == 4 ? GNARL_DONE_TERMINATED : 0;
	}
}

static const struct gnarl_env_ops fake_env_ops = {
    .size = sizeof(struct gnarl_env_ops),
    .create = fake_create,
    .destroy = fake_destroy,
    .spaces = fake_spaces,
    .reset = fake_reset,
    .step = fake_step,
};

/* Term: action + 1, and it checks that prev is the state one step back. */
struct fake_term {
	uint32_t starts[8];
	int bad_prev;
};

static void term_start(void *t, uint32_t i, const struct gnarl_game_state *s)
{
	struct fake_term *ft = t;

	ft->starts[i]++;
	if (s->frame != 0)
		ft->bad_prev++;
}

static void term_compute(void *t, uint32_t first, uint32_t count,
                         const struct gnarl_game_state *prev,
                         const struct gnarl_game_state *cur, const int32_t *actions,
                         float *out)
{
	struct fake_term *ft = t;

	for (uint32_t i = first; i < first + count; i++) {
		if (cur[i].frame != prev[i].frame + 1)
			ft->bad_prev++;
		out[i] = (float)(actions[i] + 1);
	}
}

static const struct gnarl_reward_ops term_ops = {
    .size = sizeof(struct gnarl_reward_ops),
    .episode_start = term_start,
    .compute = term_compute,
};

static void test_rewards_and_states(void **state)
{
	struct fake_env *env = fake_create(NULL, 3, NULL);
	struct fake_term t1 = {0}, t2 = {0};
	/* Instances made here, so terms without host memory filled by hand. */
	struct gnarl_term g1 = {&term_ops, &t1, 3, 0, NULL}, g2 = {&term_ops, &t2, 3, 0, NULL};
	struct gnarl_rollout_reward terms[2] = {{"one", &g1, 2.0f}, {"two", &g2, -0.5f}};
	struct gnarl_rollout_config rc = {3, 4, 9, 1, 10};
	struct gnarl_rollout *r;
	char err[GNARL_ERR_SIZE];
	const int32_t actions[3] = {0, 1, 2};

	(void)state;
	assert_int_equal(gnarl_rollout_create(&rc, &fake_env_ops, env, terms, 2, NULL, &r, err),
	                 0);
	assert_int_equal(gnarl_rollout_n_rewards(r), 2);
	assert_string_equal(gnarl_rollout_reward_name(r, 1), "two");
	gnarl_rollout_reset_all(r);
	assert_int_equal(t1.starts[2], 1);
	for (int s = 0; s < 3; s++) {
		assert_int_equal(gnarl_rollout_step(r, actions), 0);
		for (uint32_t n = 0; n < 3; n++) /* 0.5 + 2 (a+1) - 0.5 (a+1) */
			assert_float_equal(gnarl_rollout_rewards(r)[n], 0.5 + 1.5 * (n + 1), 1e-6);
	}
	assert_int_equal(gnarl_rollout_step(r, actions), 3);
	for (uint32_t n = 0; n < 3; n++) {
		const struct gnarl_episode_record *rec = gnarl_rollout_record(r, n);
		assert_int_equal(rec->length, 4);
		assert_float_equal(rec->ret, 4 * (0.5 + 1.5 * (n + 1)), 1e-5);
		assert_float_equal(rec->env_reward, 2.0, 1e-6);
		assert_float_equal(rec->terms[0], 4 * 2.0 * (n + 1), 1e-5);
		assert_float_equal(rec->terms[1], 4 * -0.5 * (n + 1), 1e-5);
		/* rooms 7, 1, 2, 0 (+ group 0); kills on steps 2 and 4 */
		assert_int_equal(rec->rooms, 4);
		assert_int_equal(rec->enemies_killed, 2);
		assert_int_equal(rec->dungeons, 0);
		assert_true(rec->terminated);
		/* the new episode started with episode_start and state frame 0 */
		assert_int_equal(t1.starts[n], 2);
		assert_int_equal(t2.starts[n], 2);
		assert_int_equal(gnarl_rollout_states(r)[n].frame, 0);
		/* the final observation is the one of step 4 */
		assert_float_equal(gnarl_rollout_final_obs(r)[n * 4], 4.0, 0);
		assert_float_equal(gnarl_rollout_obs(r)[n * 4], 0.0, 0);
	}
	assert_int_equal(t1.bad_prev + t2.bad_prev, 0);
	gnarl_rollout_free(r);
	fake_destroy(env);
}

static void test_bad_stride(void **state)
{
	struct fake_env *env = fake_create(NULL, 2, NULL);
	struct gnarl_rollout_config rc = {2, 1, 9, 1, 10};
	struct gnarl_rollout *r;
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(gnarl_rollout_create(&rc, &fake_env_ops, env, NULL, 0, NULL, &r, err),
	                 GNARL_EINVAL);
	assert_non_null(strstr(err, "stride"));
	assert_null(r);
	gnarl_rollout_free(NULL);
	fake_destroy(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cartpole_physics),
	    cmocka_unit_test(test_cartpole_termination),
	    cmocka_unit_test(test_cartpole_truncation),
	    cmocka_unit_test(test_threads_and_seeds),
	    cmocka_unit_test(test_rewards_and_states),
	    cmocka_unit_test(test_bad_stride),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
