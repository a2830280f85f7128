/*
 * test_archive.c - the archive of start states (core/learn/archive.c,
 * core/learn/archive_io.c) on the real overworld env, and the one-env state ops
 * (ABI 1.1) it needs, on the overworld and cartpole envs.
 *
 * One-env states: saved from one env and loaded into another (of another
 * instance), the env plays on exactly as the first (observations, game
 * states, work RAM), saving again gives the same bytes; a state of another
 * world or a damaged one is refused and changes nothing.  The archive:
 * cells hold states that really are in them; a draw depends only on the
 * reset seed; save, load and save again give the same bytes; a merge is
 * the same whatever rank computes it and adds up the visits; the cap
 * evicts the least useful; a state the env refuses drops its cell; a
 * config or env the archive cannot work with is refused with the key.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "archive.h"
#include "archive_internal.h"
#include "overworld_test.h"

/* ---- helpers ------------------------------------------------------------ */

static struct gnarl_config *config(const char *const *sets, int n)
{
	struct gnarl_config *cfg = NULL;
	char err[GNARL_ERR_SIZE] = "";

	if (gnarl_config_load(NULL, sets, n, &cfg, err))
		fail_msg("%s", err);
	return cfg;
}

/* Step every env of x once with actions from *rng, resetting finished
 * ones, then let the archive see them (a may be NULL). */
static void step_all(struct envx *x, struct gnarl_archive *a, uint64_t *rng, uint64_t *resets)
{
	for (uint32_t i = 0; i < x->n; i++)
		x->act[i] = lcg_action(rng);
	x->ops->step(x->env, &x->io, 0, x->n);
	for (uint32_t i = 0; i < x->n; i++) {
		if (!x->done[i])
			continue;
		if (!gnarl_archive_start(a, &x->io, i, 7777 + (*resets)++))
			x->ops->reset(x->env, &x->io, i, 5555 + *resets);
	}
	gnarl_archive_observe(a, x->st);
}

static uint8_t *save_archive(const struct gnarl_archive *a, size_t *len)
{
	uint8_t *b;

	*len = gnarl_archive_size(a);
	b = malloc(*len);
	assert_non_null(b);
	assert_int_equal(gnarl_archive_save(a, b, *len), 0);
	return b;
}

static struct gnarl_archive *open_archive(struct gnarl_config *cfg, struct envx *x)
{
	struct gnarl_archive *a = NULL;
	char err[GNARL_ERR_SIZE] = "";

	if (gnarl_archive_create(cfg, "overworld", x->ops, x->env, x->n, NULL, &a, err))
		fail_msg("%s", err);
	assert_non_null(a);
	return a;
}

#define ON "archive.enabled=true"
#define WORLD "{enemies_per_screen: 0.5, max_steps: 300}"

/* An archive grown by `steps` random steps of 4 envs seeded `seed`. */
static struct gnarl_archive *grown(struct gnarl_config *cfg, struct envx *x, uint64_t seed,
                                   int steps)
{
	struct gnarl_archive *a = open_archive(cfg, x);
	uint64_t rng = seed, resets = 0;

	for (int s = 0; s < steps; s++) {
		if (s % 64 == 0)
			gnarl_archive_begin(a, (uint64_t)s * x->n);
		step_all(x, a, &rng, &resets);
	}
	gnarl_archive_end(a);
	return a;
}

/* ---- one env's state ----------------------------------------------------- */

static void play_same(struct envx *x, uint32_t i, struct envx *y, uint32_t j, int steps)
{
	uint64_t rng = 42;

	for (int s = 0; s < steps; s++) {
		int a = lcg_action(&rng);
		x->act[i] = y->act[j] = a;
		x->ops->step(x->env, &x->io, i, 1);
		y->ops->step(y->env, &y->io, j, 1);
		assert_memory_equal(x->obs + (size_t)i * x->obs_dim, y->obs + (size_t)j * y->obs_dim,
		                    x->obs_dim * sizeof(float));
		assert_int_equal(x->st[i].room, y->st[j].room);
		assert_int_equal(x->st[i].frame, y->st[j].frame);
		assert_memory_equal(x->st[i].ram, y->st[j].ram, 0x8000);
		assert_int_equal(x->done[i], y->done[j]);
		if (x->done[i])
			break;
	}
}

static void test_env_state_overworld(void **unused)
{
	struct envx *x = env_open(WORLD, 3), *y = env_open(WORLD, 2), *other;
	size_t S = x->ops->env_state_size(x->env);
	uint8_t *a = malloc(S), *b = malloc(S), *before = malloc(S);
	char err[GNARL_ERR_SIZE] = "";
	uint64_t rng = 9, resets = 0;

	assert_true(S > 16 && S == y->ops->env_state_size(y->env));
	for (int s = 0; s < 120; s++)
		step_all(x, NULL, &rng, &resets);
	/* env 2 of x into env 1 of y: exact, and the two play on alike */
	assert_int_equal(x->ops->save_env_state(x->env, 2, a, S), 0);
	assert_int_equal(y->ops->load_env_state(y->env, &y->io, 1, a, S, err), 0);
	assert_int_equal(y->ops->save_env_state(y->env, 1, b, S), 0);
	assert_memory_equal(a, b, S);
	assert_memory_equal(x->obs + 2 * x->obs_dim, y->obs + 1 * y->obs_dim,
	                    x->obs_dim * sizeof(float));
	assert_memory_equal(x->st[2].ram, y->st[1].ram, 0x8000);
	play_same(x, 2, y, 1, 200);
	/* the wrong size, a damaged header and another world: refused, env 0 as it was */
	assert_int_equal(y->ops->save_env_state(y->env, 0, before, S), 0);
	assert_int_equal(y->ops->save_env_state(y->env, 0, b, S - 1), GNARL_EINVAL);
	a[0] ^= 0xff;
	assert_int_equal(y->ops->load_env_state(y->env, &y->io, 0, a, S, err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "not an overworld env's"));
	other = env_open("{world_seed: 2, enemies_per_screen: 0.5, max_steps: 300}", 1);
	if (other->ops->env_state_size(other->env) == S) {
		assert_int_equal(other->ops->save_env_state(other->env, 0, a, S), 0);
		assert_int_equal(y->ops->load_env_state(y->env, &y->io, 0, a, S, err),
		                 GNARL_EINCOMPAT);
		assert_non_null(strstr(err, "another world"));
	}
	assert_int_equal(y->ops->load_env_state(y->env, &y->io, 0, a, S - 3, err) < 0, 1);
	assert_int_equal(y->ops->save_env_state(y->env, 0, b, S), 0);
	assert_memory_equal(before, b, S);
	env_close(other);
	env_close(x);
	env_close(y);
	free(a);
	free(b);
	free(before);
}

static void test_env_state_cartpole(void **unused)
{
	struct gnarl_plugin_lib *lib;
	struct gnarl_plugin_host *host;
	struct gnarl_tree *params;
	const struct gnarl_env_ops *ops;
	char err[GNARL_ERR_SIZE] = "";
	float obs[3 * 4];
	int32_t act[3] = {1, 0, 1};
	uint8_t done[3], s1[64], s2[64];
	float rew[3];
	struct gnarl_env_io io = {sizeof(io), 4, obs, NULL, act, rew, done, NULL, NULL};
	void *env;
	size_t S;

	if (gnarl_plugin_open("cartpole", GNARL_KIND_ENV, NULL, &lib, err) ||
	    gnarl_tree_parse("{}", 2, "params", &params, err) ||
	    gnarl_config_check_params(NULL, gnarl_tree_root(params),
	                              gnarl_plugin_desc(lib)->params, "params", err) ||
	    gnarl_plugin_host_create(lib, gnarl_tree_root(params), NULL, 1, "env", &host, err))
		fail_msg("%s", err);
	ops = gnarl_plugin_desc(lib)->ops.env;
	env = ops->create(gnarl_plugin_host_table(host), 3, err);
	assert_non_null(env);
	for (uint32_t i = 0; i < 3; i++)
		ops->reset(env, &io, i, 10 + i);
	for (int s = 0; s < 5; s++)
		ops->step(env, &io, 0, 3);
	S = ops->env_state_size(env);
	assert_true(S <= sizeof(s1));
	assert_int_equal(ops->save_env_state(env, 0, s1, S), 0);
	assert_int_equal(ops->load_env_state(env, &io, 2, s1, S, err), 0);
	assert_memory_equal(obs, obs + 8, 4 * sizeof(float));
	assert_int_equal(ops->save_env_state(env, 2, s2, S), 0);
	assert_memory_equal(s1, s2, S);
	act[0] = act[2] = 0;
	ops->step(env, &io, 0, 3);
	assert_memory_equal(obs, obs + 8, 4 * sizeof(float));
	s1[1] ^= 1;
	assert_int_equal(ops->load_env_state(env, &io, 1, s1, S, err), GNARL_ECORRUPT);
	ops->destroy(env);
	gnarl_plugin_host_free(host);
	gnarl_tree_free(params);
	gnarl_plugin_close(lib);
}

/* ---- the archive --------------------------------------------------------- */

/* Every cell's state puts an env into that cell. */
static void test_cells_hold_their_states(void **unused)
{
	const char *sets[] = {ON};
	struct gnarl_config *cfg = config(sets, 1);
	struct envx *x = env_open(WORLD, 4);
	struct gnarl_archive *a = grown(cfg, x, 3, 600);
	struct gnarl_archive_info info;
	struct gnarl_archive_stats st;
	char err[GNARL_ERR_SIZE] = "";
	size_t len;
	uint8_t *blob = save_archive(a, &len);

	gnarl_archive_stats(a, &st);
	assert_true(st.cells > 10 && st.rooms > 1 && st.cells <= st.max_cells);
	assert_int_equal(st.bytes, len);
	assert_int_equal(gnarl_archive_info(blob, len, &info, err), 0);
	assert_int_equal(info.cells, st.cells);
	assert_string_equal(gnarl_archive_field_name(info.field[2]), "x");
	for (uint32_t i = 0; i < info.cells; i++) {
		struct gnarl_archive_cell c;
		gnarl_archive_info_cell(&info, i, &c);
		assert_int_equal(x->ops->load_env_state(x->env, &x->io, 0, c.state, info.state_bytes,
		                                        err), 0);
		assert_int_equal(c.key[0], x->st[0].group);
		assert_int_equal(c.key[1], x->st[0].room);
		assert_int_equal(c.key[2], x->st[0].x / 48);
		assert_int_equal(c.key[3], x->st[0].y / 48);
		assert_true(c.visits >= 1);
		/* -frame: the score is minus the step count the state was at */
		assert_true(c.score == -(double)x->st[0].frame);
	}
	free(blob);
	gnarl_archive_free(a);
	env_close(x);
	gnarl_config_free(cfg);
}

/* A draw depends on the reset seed alone; start_prob 0 never starts. */
static void test_draws(void **unused)
{
	const char *sets[] = {ON, "archive.start_prob=1.0"};
	struct gnarl_config *cfg = config(sets, 2);
	struct envx *x = env_open(WORLD, 4);
	struct gnarl_archive *a = grown(cfg, x, 4, 400);
	uint8_t *s1, *s2;
	size_t S = x->ops->env_state_size(x->env);
	int distinct = 0;

	s1 = malloc(S);
	s2 = malloc(S);
	gnarl_archive_begin(a, 10000);
	for (uint64_t seed = 1; seed <= 20; seed++) {
		assert_true(gnarl_archive_start(a, &x->io, 0, seed));
		x->ops->save_env_state(x->env, 0, s1, S);
		assert_true(gnarl_archive_start(a, &x->io, 1, seed));
		x->ops->save_env_state(x->env, 1, s2, S);
		assert_memory_equal(s1, s2, S);
		assert_true(gnarl_archive_start(a, &x->io, 1, seed + 1000));
		x->ops->save_env_state(x->env, 1, s2, S);
		distinct += memcmp(s1, s2, S) != 0;
	}
	assert_true(distinct > 10);
	gnarl_archive_observe(a, x->st);
	gnarl_archive_free(a);
	gnarl_config_free(cfg);

	const char *never[] = {ON, "archive.start_prob=0"};
	cfg = config(never, 2);
	a = grown(cfg, x, 4, 100);
	gnarl_archive_begin(a, 10000);
	for (uint64_t seed = 1; seed <= 50; seed++)
		assert_false(gnarl_archive_start(a, &x->io, 0, seed));
	gnarl_archive_free(a);
	gnarl_config_free(cfg);
	free(s1);
	free(s2);
	env_close(x);
}

/* explore_steps: an episode started from a cell is over after that many
 * steps, one started normally is not; 0 never ends one. */
static void test_explore_steps(void **unused)
{
	const char *sets[] = {ON, "archive.start_prob=1", "archive.explore_steps=5"};
	struct gnarl_config *cfg = config(sets, 3);
	struct envx *x = env_open(WORLD, 2);
	struct gnarl_archive *a = grown(cfg, x, 13, 50);

	gnarl_archive_begin(a, 100000);
	assert_true(gnarl_archive_start(a, &x->io, 0, 77));
	for (int s = 1; s < 5; s++)
		assert_false(gnarl_archive_explored(a, 0));
	assert_true(gnarl_archive_explored(a, 0));
	/* a normal start (the archive empty for it: start_prob drawn away) */
	gnarl_archive_free(a);
	gnarl_config_free(cfg);
	const char *never[] = {ON, "archive.start_prob=0", "archive.explore_steps=5"};
	cfg = config(never, 3);
	a = grown(cfg, x, 13, 50);
	gnarl_archive_begin(a, 100000);
	assert_false(gnarl_archive_start(a, &x->io, 1, 77));
	for (int s = 0; s < 20; s++)
		assert_false(gnarl_archive_explored(a, 1));
	gnarl_archive_free(a);
	gnarl_config_free(cfg);
	const char *off[] = {ON, "archive.start_prob=1"};
	cfg = config(off, 2);
	a = grown(cfg, x, 13, 50);
	gnarl_archive_begin(a, 100000);
	assert_true(gnarl_archive_start(a, &x->io, 1, 77));
	for (int s = 0; s < 3000; s++)
		assert_false(gnarl_archive_explored(a, 1));
	gnarl_archive_free(a);
	gnarl_config_free(cfg);
	env_close(x);
}

/* save -> load -> save: the same bytes. */
static void test_round_trip(void **unused)
{
	const char *sets[] = {ON};
	struct gnarl_config *cfg = config(sets, 1);
	struct envx *x = env_open(WORLD, 4);
	struct gnarl_archive *a = grown(cfg, x, 5, 500), *b = open_archive(cfg, x);
	char err[GNARL_ERR_SIZE] = "";
	size_t la, lb;
	uint8_t *ba = save_archive(a, &la), *bb;

	assert_int_equal(gnarl_archive_load(b, ba, la, err), 0);
	bb = save_archive(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	/* damaged: refused, b unchanged */
	ba[la / 2] ^= 0x55;
	ba[0] ^= 1;
	assert_int_equal(gnarl_archive_load(b, ba, la, err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "GARC"));
	assert_int_equal(gnarl_archive_load(b, ba + 1, la - 1, err), GNARL_ECORRUPT);
	free(bb);
	bb = save_archive(b, &lb);
	ba[0] ^= 1;
	ba[la / 2] ^= 0x55;
	assert_memory_equal(ba, bb, la);
	free(ba);
	free(bb);
	gnarl_archive_free(a);
	gnarl_archive_free(b);
	env_close(x);
	gnarl_config_free(cfg);
}

/* Another cell declaration: refused, naming it. */
static void test_load_refused(void **unused)
{
	const char *sets[] = {ON}, *other[] = {ON, "archive.cell={room: 1, group: 1}"};
	struct gnarl_config *cfg = config(sets, 1), *cfg2 = config(other, 2);
	struct envx *x = env_open(WORLD, 2);
	struct gnarl_archive *a = grown(cfg, x, 6, 100), *b = open_archive(cfg2, x);
	char err[GNARL_ERR_SIZE] = "";
	size_t len;
	uint8_t *blob = save_archive(a, &len);

	assert_int_equal(gnarl_archive_load(b, blob, len, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "archive.cell changed"));
	free(blob);
	gnarl_archive_free(a);
	gnarl_archive_free(b);
	env_close(x);
	gnarl_config_free(cfg);
	gnarl_config_free(cfg2);
}

static uint8_t *message(const struct gnarl_archive *a, size_t *len)
{
	uint8_t *b;

	*len = gnarl_archive_message_size(a);
	b = malloc(*len);
	assert_non_null(b);
	assert_int_equal(gnarl_archive_message(a, b, *len), 0);
	return b;
}

static uint64_t visits_of(const struct gnarl_archive *a)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < a->C; i++)
		v += a->cells[i].visits;
	return v;
}

static uint64_t total_visits(const uint8_t *blob, size_t len)
{
	struct gnarl_archive_info info;
	char err[GNARL_ERR_SIZE];
	uint64_t v = 0;

	assert_int_equal(gnarl_archive_info(blob, len, &info, err), 0);
	for (uint32_t i = 0; i < info.cells; i++) {
		struct gnarl_archive_cell c;
		gnarl_archive_info_cell(&info, i, &c);
		v += c.visits;
	}
	return v;
}

/* Two "ranks": each merges both archives (in rank order) into its own;
 * both get the same bytes, every cell of either, the visits summed.  A
 * second merge adds only what was visited since. */
static void test_merge(void **unused)
{
	const char *sets[] = {ON};
	struct gnarl_config *cfg = config(sets, 1);
	struct envx *x = env_open(WORLD, 4), *y = env_open(WORLD, 4);
	struct gnarl_archive *r0 = grown(cfg, x, 7, 400), *r1 = grown(cfg, y, 8, 400);
	char err[GNARL_ERR_SIZE] = "";
	struct gnarl_archive_stats s0, s1, m;
	size_t l0, l1, lens[2], la, lb;
	uint8_t *b0 = message(r0, &l0), *b1 = message(r1, &l1), *both, *ma, *mb;
	uint64_t v0, v1;

	gnarl_archive_stats(r0, &s0);
	gnarl_archive_stats(r1, &s1);
	v0 = visits_of(r0);
	v1 = visits_of(r1);
	both = malloc(l0 + l1);
	memcpy(both, b0, l0);
	memcpy(both + l0, b1, l1);
	lens[0] = l0;
	lens[1] = l1;
	assert_int_equal(gnarl_archive_merge(r0, both, lens, 2, err), 0);
	assert_int_equal(gnarl_archive_merge(r1, both, lens, 2, err), 0);
	ma = save_archive(r0, &la);
	mb = save_archive(r1, &lb);
	assert_int_equal(la, lb);
	/* the clock and counters in the header are each rank's own */
	assert_memory_equal(ma + 88, mb + 88, la - 88);
	gnarl_archive_stats(r0, &m);
	assert_true(m.cells >= s0.cells && m.cells >= s1.cells && m.cells < s0.cells + s1.cells);
	assert_int_equal(total_visits(ma, la), v0 + v1);
	/* more steps on rank 0 only, then merge again: + those visits only */
	{
		uint64_t rng = 99, resets = 0, before = total_visits(ma, la), grew;
		size_t l2;
		uint8_t *b2;
		for (int s = 0; s < 50; s++)
			step_all(x, r0, &rng, &resets);
		grew = visits_of(r0) - before;
		free(mb);
		mb = message(r1, &lb);
		b2 = message(r0, &l2);
		assert_true(grew > 0);
		free(both);
		both = malloc(l2 + lb);
		memcpy(both, b2, l2);
		memcpy(both + l2, mb, lb);
		lens[0] = l2;
		lens[1] = lb;
		assert_int_equal(gnarl_archive_merge(r1, both, lens, 2, err), 0);
		assert_int_equal(visits_of(r1), before + grew);
		free(b2);
	}
	free(b0);
	free(b1);
	free(both);
	free(ma);
	free(mb);
	gnarl_archive_free(r0);
	gnarl_archive_free(r1);
	env_close(x);
	env_close(y);
	gnarl_config_free(cfg);
}

/* The cap: never more cells than max_cells, and room made at begin. */
static void test_cap(void **unused)
{
	const char *sets[] = {ON, "archive.max_cells=16"};
	struct gnarl_config *cfg = config(sets, 2);
	struct envx *x = env_open(WORLD, 4);
	struct gnarl_archive *a = grown(cfg, x, 10, 800);
	struct gnarl_archive_stats st;

	gnarl_archive_stats(a, &st);
	assert_true(st.cells <= 16 && st.cells >= 14);
	assert_true(st.evicted > 0);
	gnarl_archive_begin(a, 1u << 20);
	gnarl_archive_stats(a, &st);
	assert_true(st.cells <= 15);
	gnarl_archive_free(a);
	env_close(x);
	gnarl_config_free(cfg);
}

/* Eviction takes the least useful: under `rare`, the most visited; no
 * cell kept is less useful than one evicted. */
static void test_eviction_order(void **unused)
{
	const char *sets[] = {ON, "archive.weighting=rare"};
	struct gnarl_config *cfg = config(sets, 2);
	struct envx *x = env_open(WORLD, 4);
	struct gnarl_archive *a = grown(cfg, x, 12, 600);
	uint32_t before = a->C, keep = a->C / 2;
	uint64_t *hashes = malloc(before * sizeof(*hashes)), *visits = malloc(before * 8);
	uint64_t most_kept = 0, least_evicted = UINT64_MAX;
	int64_t k[GNARL_ARCHIVE_MAX_FIELDS];

	assert_true(before > 20);
	for (uint32_t i = 0; i < before; i++) {
		hashes[i] = a->cells[i].hash;
		visits[i] = a->cells[i].visits;
	}
	/* keys of the cells, to look them up after the slots moved */
	int64_t *keys = malloc((size_t)before * a->F * sizeof(*keys));
	memcpy(keys, a->keys, (size_t)before * a->F * sizeof(*keys));
	gnarl_archive_evict_to(a, keep);
	assert_int_equal(a->C, keep);
	for (uint32_t i = 0; i < before; i++) {
		memcpy(k, keys + (size_t)i * a->F, a->F * sizeof(*k));
		if (gnarl_archive_find(a, hashes[i], k) >= 0)
			most_kept = visits[i] > most_kept ? visits[i] : most_kept;
		else
			least_evicted = visits[i] < least_evicted ? visits[i] : least_evicted;
	}
	assert_true(most_kept <= least_evicted);
	/* the table still finds every cell kept at its slot */
	for (uint32_t i = 0; i < a->C; i++)
		assert_int_equal(gnarl_archive_find(a, a->cells[i].hash, a->keys + (size_t)i * a->F),
		                 (int32_t)i);
	free(hashes);
	free(visits);
	free(keys);
	gnarl_archive_free(a);
	env_close(x);
	gnarl_config_free(cfg);
}

/* A state the env refuses (another world of the same size): its cell is
 * dropped and counted, and the env resets normally. */
static void test_refused_state(void **unused)
{
	const char *sets[] = {ON, "archive.start_prob=1"};
	struct gnarl_config *cfg = config(sets, 2);
	struct envx *x = env_open(WORLD, 2);
	struct envx *y = env_open("{world_seed: 5, enemies_per_screen: 0.5, max_steps: 300}", 2);
	struct gnarl_archive *a = grown(cfg, x, 11, 100), *b;
	struct gnarl_archive_stats st;
	char err[GNARL_ERR_SIZE] = "";
	size_t len;
	uint8_t *blob = save_archive(a, &len);

	if (y->ops->env_state_size(y->env) != x->ops->env_state_size(x->env)) {
		/* a world of another size: the archive itself is refused */
		struct gnarl_archive *c = open_archive(cfg, y);
		assert_int_equal(gnarl_archive_load(c, blob, len, err), GNARL_EINCOMPAT);
		gnarl_archive_free(c);
		goto out;
	}
	b = open_archive(cfg, y);
	assert_int_equal(gnarl_archive_load(b, blob, len, err), 0);
	gnarl_archive_begin(b, 0);
	assert_false(gnarl_archive_start(b, &y->io, 0, 1));
	assert_non_null(strstr(b->env_err[0], "another world"));
	gnarl_archive_end(b);
	gnarl_archive_stats(b, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.archive_starts, 0);
	gnarl_archive_free(b);
out:
	free(blob);
	gnarl_archive_free(a);
	env_close(x);
	env_close(y);
	gnarl_config_free(cfg);
}

static void expect_config_error(const char *set, const char *want)
{
	const char *sets[] = {ON, set};
	struct gnarl_config *cfg = config(sets, 2);
	char err[GNARL_ERR_SIZE] = "";

	assert_int_equal(gnarl_archive_check(cfg, "overworld", NULL, err), GNARL_ECONFIG);
	if (!strstr(err, want))
		fail_msg("'%s': expected '%s' in: %s", set, want, err);
	gnarl_config_free(cfg);
}

static void test_config_refused(void **unused)
{
	expect_config_error("archive.cell={room: 1, hat: 2}", "archive.cell.hat: not a game-state "
	                                                      "field");
	expect_config_error("archive.cell={room: 0}", "archive.cell.room: expected a bucket size");
	expect_config_error("archive.cell={treasures: 2}", "treasures are a set");
	expect_config_error("archive.cell={}", "archive.cell: expected a map");
	expect_config_error("archive.score=-hat", "archive.score: '-hat' is not a game-state field");
}

/* Envs the archive cannot use: refused, naming archive.enabled. */
static void test_env_refused(void **unused)
{
	const char *sets[] = {ON};
	struct gnarl_config *cfg = config(sets, 1);
	struct gnarl_plugin_lib *lib;
	struct gnarl_archive *a = NULL;
	char err[GNARL_ERR_SIZE] = "";
	struct gnarl_env_ops no_env_ops;

	/* the fixture env has no state ops at all */
	if (gnarl_plugin_open(GNARL_FIXTURE_DIR "/fixture_env.so", GNARL_KIND_ENV, NULL, &lib, err))
		fail_msg("%s", err);
	assert_int_equal(gnarl_archive_check(cfg, "fixture_env",
	                                     gnarl_plugin_desc(lib)->ops.env, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "archive.enabled: env 'fixture_env' cannot save and load "
	                            "one env's state"));
	gnarl_plugin_close(lib);
	/* one op of the three: the host refuses the plugin, naming them */
	assert_int_equal(gnarl_plugin_open(GNARL_FIXTURE_DIR "/fixture_env_halfstate.so",
	                                   GNARL_KIND_ENV, NULL, &lib, err), GNARL_EINVAL);
	assert_non_null(strstr(err, "env_state_size/save_env_state/load_env_state (all three or "
	                            "none)"));
	/* a 1.0 ops table (no room for the new ops) is the same */
	{
		struct envx *x = env_open(WORLD, 1);
		no_env_ops = *x->ops;
		no_env_ops.size = (uint32_t)offsetof(struct gnarl_env_ops, env_state_size);
		assert_int_equal(gnarl_archive_create(cfg, "overworld", &no_env_ops, x->env, 1, NULL,
		                                      &a, err), GNARL_ECONFIG);
		assert_null(a);
		env_close(x);
	}
	/* off: nothing is checked against the env, nothing made */
	gnarl_config_free(cfg);
	const char *off[] = {"archive.enabled=false"};
	cfg = config(off, 1);
	assert_int_equal(gnarl_archive_create(cfg, "overworld", &no_env_ops, NULL, 1, NULL, &a, err),
	                 0);
	assert_null(a);
	gnarl_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_env_state_overworld),
	    cmocka_unit_test(test_env_state_cartpole),
	    cmocka_unit_test(test_cells_hold_their_states),
	    cmocka_unit_test(test_draws),
	    cmocka_unit_test(test_explore_steps),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_load_refused),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_eviction_order),
	    cmocka_unit_test(test_refused_state),
	    cmocka_unit_test(test_config_refused),
	    cmocka_unit_test(test_env_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
