/*
 * test_overworld_state.c - resuming mid-episode exactly: the overworld
 * env's state_size/save_state/load_state and every reward term's memory
 * (the host's, ABI 1.1), on the default config's env and terms (configs/
 * env.yaml, made through the registry as the core makes them).  A game
 * saved mid-episode and loaded into fresh instances steps on, under the
 * same actions, to the same observations, game states (work RAM included),
 * done flags and rewards; a state from another world, another env count
 * or a damaged one is refused and changes nothing.
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
#include "plugin_host.h"
#include "registry.h"
#include "term.h"
#include "value.h"

#define MAX_TERMS 16

/* The default config's env and reward terms, N envs, stepped together. */
struct game {
	struct gnarl_config *cfg;
	struct gnarl_registry *reg;
	struct gnarl_plugin_host *hosts[MAX_TERMS + 1];
	const struct gnarl_env_ops *ops;
	void *env;
	struct gnarl_term *terms[MAX_TERMS];
	float weights[MAX_TERMS];
	uint32_t N, K, O;
	float *obs, *env_rewards, *total, *out;
	struct gnarl_game_state *states, *prev;
	int32_t *actions;
	uint8_t *dones;
	struct gnarl_env_io io;
};

static void *make(struct game *g, const struct gnarl_registry_entry *e, uint32_t slot)
{
	struct gnarl_host_context ctx = {.config = g->cfg, .world_size = 1};
	char err[GNARL_ERR_SIZE] = "";
	struct gnarl_term *term;
	void *inst;

	if (gnarl_registry_host(e, &ctx, &g->hosts[slot], err))
		fail_msg("%s", err);
	if (e->desc->kind == GNARL_KIND_ENV) {
		inst = e->desc->ops.env->create(gnarl_plugin_host_table(g->hosts[slot]), g->N, err);
		if (!inst)
			fail_msg("create %s: %s", e->slot, err);
		return inst;
	}
	if (gnarl_term_create(e->desc->ops.reward, gnarl_plugin_host_table(g->hosts[slot]), g->N,
	                      &term, err))
		fail_msg("create %s: %s", e->slot, err);
	return term;
}

/* configs/env.yaml with `extra` --set overrides (NULL-terminated). */
static struct game *game_open(uint32_t N, const char *const *extra)
{
	const char *sets[16] = {"env.params.width=4", "env.params.height=4",
	                        "env.params.enemies_per_screen=3", "env.params.drop_prob=1",
	                        "env.params.sword_distance=0"};
	struct gnarl_env_spaces sp = {.size = sizeof(sp)};
	struct game *g = calloc(1, sizeof(*g));
	char err[GNARL_ERR_SIZE] = "";
	int n_sets = 5;

	assert_non_null(g);
	while (extra && *extra)
		sets[n_sets++] = *extra++;
	if (gnarl_config_load(GNARL_SOURCE_DIR "/configs/env.yaml", sets, n_sets, &g->cfg, err) ||
	    gnarl_registry_open(g->cfg, &g->reg, err))
		fail_msg("%s", err);
	g->N = N;
	g->ops = gnarl_registry_env(g->reg)->desc->ops.env;
	g->env = make(g, gnarl_registry_env(g->reg), MAX_TERMS);
	g->K = (uint32_t)gnarl_registry_count(g->reg, GNARL_KIND_REWARD);
	assert_true(g->K == 9);
	for (uint32_t k = 0; k < g->K; k++) {
		const struct gnarl_registry_entry *e = gnarl_registry_get(g->reg, GNARL_KIND_REWARD, k);
		g->terms[k] = make(g, e, k);
		g->weights[k] = (float)gnarl_value_float(gnarl_value_get(e->section, "weight"), 1.0);
	}
	g->ops->spaces(g->env, &sp);
	g->O = sp.obs_dim;
	g->obs = calloc((size_t)N * g->O, sizeof(float));
	g->env_rewards = calloc(3 * N, sizeof(float));
	g->total = g->env_rewards + N;
	g->out = g->total + N;
	g->states = calloc(2 * N, sizeof(*g->states));
	g->prev = g->states + N;
	g->actions = calloc(N, sizeof(*g->actions));
	g->dones = calloc(N, 1);
	g->io = (struct gnarl_env_io){.size = sizeof(g->io), .obs_stride = g->O, .obs = g->obs,
	                              .states = g->states, .actions = g->actions,
	                              .rewards = g->env_rewards, .dones = g->dones};
	return g;
}

static void game_close(struct game *g)
{
	for (uint32_t k = 0; k < g->K; k++)
		gnarl_term_free(g->terms[k]);
	g->ops->destroy(g->env);
	for (int i = 0; i <= MAX_TERMS; i++)
		gnarl_plugin_host_free(g->hosts[i]);
	gnarl_registry_free(g->reg);
	gnarl_config_free(g->cfg);
	free(g->obs);
	free(g->env_rewards);
	free(g->states);
	free(g->actions);
	free(g->dones);
	free(g);
}

static void start(struct game *g, uint32_t n, uint64_t seed)
{
	g->ops->reset(g->env, &g->io, n, seed);
	for (uint32_t k = 0; k < g->K; k++)
		gnarl_term_episode_start(g->terms[k], n, &g->states[n]);
}

/* One step of every env with actions drawn from *r; envs that finish
 * start again from a seed of step t.  Returns how many finished. */
static int game_step(struct game *g, uint64_t *r, int t)
{
	int finished = 0;

	for (uint32_t n = 0; n < g->N; n++) {
		*r = *r * 6364136223846793005ull + 1442695040888963407ull;
		g->actions[n] = (int32_t)((*r >> 33) % 7);
	}
	memcpy(g->prev, g->states, g->N * sizeof(*g->states));
	g->ops->step(g->env, &g->io, 0, g->N);
	memcpy(g->total, g->env_rewards, g->N * sizeof(float));
	for (uint32_t k = 0; k < g->K; k++) {
		gnarl_term_compute(g->terms[k], 0, g->N, g->prev, g->states, g->actions, g->out);
		for (uint32_t n = 0; n < g->N; n++)
			g->total[n] += g->weights[k] * g->out[n];
	}
	for (uint32_t n = 0; n < g->N; n++)
		if (g->dones[n]) {
			start(g, n, 5000u + (uint64_t)t * 16 + n);
			finished++;
		}
	return finished;
}

/* Everything the game remembers: the env's state, then each term's. */
struct saved {
	size_t size[MAX_TERMS + 1];
	uint8_t *blob[MAX_TERMS + 1];   /* [0] env, [1 + k] term k (NULL: none) */
};

static void game_save(struct game *g, struct saved *s)
{
	memset(s, 0, sizeof(*s));
	s->size[0] = g->ops->state_size(g->env);
	s->blob[0] = malloc(s->size[0]);
	assert_int_equal(g->ops->save_state(g->env, s->blob[0], s->size[0]), 0);
	for (uint32_t k = 0; k < g->K; k++) {
		const struct gnarl_term *t = g->terms[k];
		if (!t->memory)
			continue;
		s->size[1 + k] = (size_t)t->n_envs * t->memory_size;
		s->blob[1 + k] = malloc(s->size[1 + k]);
		memcpy(s->blob[1 + k], t->memory, s->size[1 + k]);
	}
}

static void game_load(struct game *g, const struct saved *s)
{
	char err[GNARL_ERR_SIZE] = "";

	if (g->ops->load_state(g->env, &g->io, s->blob[0], s->size[0], err))
		fail_msg("env load_state: %s", err);
	for (uint32_t k = 0; k < g->K; k++)
		if (s->blob[1 + k] &&
		    gnarl_term_set_memory(g->terms[k], s->blob[1 + k], g->N, g->terms[k]->memory_size,
		                          err))
			fail_msg("term %u memory: %s", k, err);
}

static void saved_free(struct saved *s)
{
	for (int i = 0; i <= MAX_TERMS; i++)
		free(s->blob[i]);
}

/* Same observations, game states (RAM bytes included) and done flags. */
static bool same_envs(const struct game *a, const struct game *b)
{
	if (memcmp(a->obs, b->obs, (size_t)a->N * a->O * sizeof(float)) ||
	    memcmp(a->dones, b->dones, a->N))
		return false;
	for (uint32_t n = 0; n < a->N; n++) {
		struct gnarl_game_state x = a->states[n], y = b->states[n];
		if (memcmp(x.ram, y.ram, x.ram_size) || x.ram_size != y.ram_size)
			return false;
		x.ram = y.ram = NULL;
		if (memcmp(&x, &y, sizeof(x)))
			return false;
	}
	return true;
}

/* Only the env's state: the terms keep what they had. */
static void game_load_env(struct game *g, const struct saved *s)
{
	char err[GNARL_ERR_SIZE] = "";

	if (g->ops->load_state(g->env, &g->io, s->blob[0], s->size[0], err))
		fail_msg("env load_state: %s", err);
}

static void round_trip(struct game *a, struct game *b)
{
	struct saved s, again;

	game_save(a, &s);
	game_load(b, &s);
	game_save(b, &again);
	for (uint32_t i = 0; i <= a->K; i++) {
		assert_true(s.size[i] == again.size[i]);
		if (s.size[i] && memcmp(s.blob[i], again.blob[i], s.size[i]))
			fail_msg("blob %u differs after a round trip", i);
	}
	saved_free(&s);
	saved_free(&again);
}

static void test_resume_exact(void **unused)
{
	struct game *a = game_open(4, NULL), *b = game_open(4, NULL), *c = game_open(4, NULL);
	uint64_t ra = 11, rb = 12, rc;
	struct saved s;
	double paid = 0.0;
	int finished = 0, rooms = 0, diverged = 0;

	for (uint32_t n = 0; n < 4; n++) {
		start(a, n, 100 + n);
		start(b, n, 900 + n);   /* b and c play other episodes before the load */
		start(c, n, 900 + n);
	}
	/* Round trips all along the way: what a fresh load saves again is what
	 * was saved, byte for byte, whatever the moment (hits, text boxes,
	 * drops, rooms changing). */
	for (int t = 0; t < 1500; t++) {
		game_step(a, &ra, t);
		if (t % 5 == 0)
			round_trip(a, c);
	}
	for (uint32_t n = 0; n < 4; n++)
		start(c, n, 900 + n);
	for (int t = 0; t < 200; t++) {
		game_step(b, &rb, t);
		game_step(c, &rb, t);
	}
	assert_false(same_envs(a, b));
	game_save(a, &s);
	game_load(b, &s);
	game_load_env(c, &s);
	/* load_state writes every env's observation and state, as reset does. */
	assert_true(same_envs(a, b) && same_envs(a, c));
	rb = rc = ra;
	for (int t = 1500; t < 4500; t++) {
		finished += game_step(a, &ra, t);
		game_step(b, &rb, t);
		game_step(c, &rc, t);
		if (!same_envs(a, b) || memcmp(a->total, b->total, a->N * sizeof(float)))
			fail_msg("step %d: the loaded game left the saved one", t);
		diverged += memcmp(a->total, c->total, a->N * sizeof(float)) != 0;
		for (uint32_t n = 0; n < a->N; n++) {
			paid += a->total[n] < 0 ? -a->total[n] : a->total[n];
			rooms += a->states[n].room != a->prev[n].room;
		}
	}
	/* The walk exercised the memory: episodes ended, rooms changed, terms
	 * paid, and the terms' memory mattered (c, which loaded the env but
	 * not the terms, was paid otherwise). */
	assert_true(finished > 0 && rooms > 10 && paid > 0.0 && diverged > 0);
	saved_free(&s);
	game_close(a);
	game_close(b);
	game_close(c);
}

static int load_env(struct game *g, const uint8_t *blob, size_t size, char *err)
{
	return g->ops->load_state(g->env, &g->io, blob, size, err);
}

static void test_state_refused(void **unused)
{
	static const char *const seed2[] = {"env.params.world_seed=2", NULL};
	static const char *const longer[] = {"env.params.max_steps=5000",
	                                     "env.params.enemy_damage=3", NULL};
	struct game *a = game_open(3, NULL), *other_world = game_open(3, seed2);
	struct game *fewer = game_open(2, NULL), *rules = game_open(3, longer);
	char err[GNARL_ERR_SIZE] = "";
	uint64_t r = 5;
	struct saved s;
	uint8_t *bad;
	float *obs;

	for (uint32_t n = 0; n < 3; n++) {
		start(a, n, n);
		start(other_world, n, n);
		start(rules, n, n);
	}
	for (uint32_t n = 0; n < 2; n++)
		start(fewer, n, n);
	for (int t = 0; t < 300; t++)
		game_step(a, &r, t);
	game_save(a, &s);
	bad = malloc(s.size[0]);
	obs = malloc((size_t)a->N * a->O * sizeof(float));
	memcpy(obs, other_world->obs, (size_t)a->N * a->O * sizeof(float));
	assert_int_equal(load_env(other_world, s.blob[0], s.size[0], err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "world"));
	assert_memory_equal(obs, other_world->obs, (size_t)a->N * a->O * sizeof(float));
	assert_int_equal(load_env(fewer, s.blob[0], s.size[0], err), GNARL_EINCOMPAT);
	assert_int_equal(load_env(a, s.blob[0], s.size[0] - 1, err), GNARL_ECORRUPT);
	assert_int_equal(load_env(a, s.blob[0], 3, err), GNARL_ECORRUPT);
	memcpy(bad, s.blob[0], s.size[0]);
	bad[0] ^= 1;
	assert_int_equal(load_env(a, bad, s.size[0], err), GNARL_ECORRUPT);
	memcpy(bad, s.blob[0], s.size[0]);
	bad[4] = 9;   /* format */
	assert_int_equal(load_env(a, bad, s.size[0], err), GNARL_EVERSION);
	/* Env 2's room index (after the header and two records) past the
	 * world's rooms: refused before env 0 or 1 changes. */
	memcpy(bad, s.blob[0], s.size[0]);
	memset(bad + 28 + 2 * (s.size[0] - 28) / 3 + 8, 0x7f, 4);
	for (int t = 0; t < 5; t++)
		game_step(a, &r, 300 + t);
	memcpy(obs, a->obs, (size_t)a->N * a->O * sizeof(float));
	assert_int_equal(load_env(a, bad, s.size[0], err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "env 2"));
	assert_memory_equal(obs, a->obs, (size_t)a->N * a->O * sizeof(float));
	/* Rules may change on resume (episode length, damage): same world. */
	assert_int_equal(load_env(rules, s.blob[0], s.size[0], err), 0);
	free(bad);
	free(obs);
	saved_free(&s);
	game_close(a);
	game_close(other_world);
	game_close(fewer);
	game_close(rules);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_exact),
		cmocka_unit_test(test_state_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
