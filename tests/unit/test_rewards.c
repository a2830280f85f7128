/*
 * test_rewards.c - the reward term plugins (plugins/rewards/, one .so per term), loaded
 * through the ABI with dlopen and fed hand-built state sequences: each
 * term's rule, its per-episode reset, its parameters, compute over
 * disjoint env ranges from two threads at once, and the memory the host
 * keeps for them (ABI 1.1): which terms have it, that it carries an
 * episode on, and that the blobs they saved before ABI 1.1 load into it (exact resume is
 * played in test_overworld_state.c).  Instances are made and run the way
 * the core does, through term.h.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gnarl/plugin.h>

#include "config.h"
#include "plugin_host.h"
#include "term.h"
#include "value.h"

/* ------------------------------------------------------------------------ */
/* A plugin instance made the way the core makes one: the real plugin host, */
/* params parsed from YAML and checked against the plugin's table.          */

struct inst {
	struct gnarl_plugin_lib *lib;
	struct gnarl_tree *params;
	struct gnarl_plugin_host *host;
	const struct gnarl_plugin *desc;
	const struct gnarl_param *table;
	struct gnarl_term *term;
	uint32_t n_envs;
};

static void inst_open(struct inst *in, const char *name, const char *yaml, uint32_t n_envs)
{
	char err[GNARL_ERR_SIZE] = "";

	memset(in, 0, sizeof(*in));
	yaml = yaml ? yaml : "{}";
	if (gnarl_plugin_open(name, GNARL_KIND_REWARD, NULL, &in->lib, err) ||
	    gnarl_tree_parse(yaml, strlen(yaml), "params", &in->params, err))
		fail_msg("%s", err);
	in->desc = gnarl_plugin_desc(in->lib);
	in->table = in->desc->params;
	assert_string_equal(in->desc->name, name);
	if (gnarl_config_check_params(NULL, gnarl_tree_root(in->params), in->table, "params", err) ||
	    gnarl_plugin_host_create(in->lib, gnarl_tree_root(in->params), NULL, 1, name, &in->host,
	                             err))
		fail_msg("%s", err);
	in->n_envs = n_envs;
	if (gnarl_term_create(in->desc->ops.reward, gnarl_plugin_host_table(in->host), n_envs,
	                      &in->term, err))
		fail_msg("create %s: %s", name, err);
}

static void inst_close(struct inst *in)
{
	gnarl_term_free(in->term);
	gnarl_plugin_host_free(in->host);
	gnarl_tree_free(in->params);
	gnarl_plugin_close(in->lib);
}

/* ------------------------------------------------------------------------ */
/* Hand-built states and one-env steps.                                     */

static struct gnarl_game_state at(int group, int room, int x, int y)
{
	struct gnarl_game_state s;

	memset(&s, 0, sizeof(s));
	s.size = GNARL_GAME_STATE_V1_SIZE;
	s.group = group;
	s.room = room;
	s.dungeon = -1;
	s.x = x;
	s.y = y;
	s.health = s.max_health = 12;
	return s;
}

/* Env `env` of `in` goes from *prev to next: the term's reward.  The
 * other envs get idle transitions, so a rule that reads the wrong row
 * shows up. */
static float step(struct inst *in, uint32_t env, struct gnarl_game_state *prev,
                  struct gnarl_game_state next)
{
	struct gnarl_game_state p[4], c[4];
	int32_t actions[4] = {0};
	float out[4] = {-1e9f, -1e9f, -1e9f, -1e9f};

	assert_true(in->n_envs <= 4 && env < in->n_envs);
	for (uint32_t i = 0; i < in->n_envs; i++)
		p[i] = c[i] = at(0, 0x77, 8, 8);
	p[env] = *prev;
	c[env] = next;
	gnarl_term_compute(in->term, env, 1, p, c, actions, out);
	for (uint32_t i = 0; i < in->n_envs; i++)
		if (i != env)
			assert_true(out[i] == -1e9f);  /* rows outside the range untouched */
	*prev = next;
	return out[env];
}

static void start(struct inst *in, uint32_t env, const struct gnarl_game_state *s)
{
	gnarl_term_episode_start(in->term, env, s);
}

/* ------------------------------------------------------------------------ */

static void test_room_discovery(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 0x10, 72, 72);

	inst_open(&in, "room_discovery", "{novelty: 2, novelty_window: 10}", 2);
	start(&in, 0, &s);
	start(&in, 1, &s);
	assert_float_equal(step(&in, 0, &s, at(0, 0x10, 88, 72)), 0.0, 1e-6);   /* same room */
	assert_float_equal(step(&in, 0, &s, at(0, 0x11, 8, 72)), 20.0, 1e-6);   /* new room */
	/* Back to 0x10, left 2 steps ago: 2 * 2/10. */
	assert_float_equal(step(&in, 0, &s, at(0, 0x10, 152, 72)), 0.4, 1e-6);
	/* Same room number in another group is another screen. */
	assert_float_equal(step(&in, 0, &s, at(3, 0x10, 72, 104)), 20.0, 1e-6);
	for (int i = 0; i < 20; i++)
		assert_float_equal(step(&in, 0, &s, at(3, 0x10, 72, 104)), 0.0, 1e-6);
	/* 0x11 last occupied 23 steps ago, beyond the window: the whole novelty. */
	assert_float_equal(step(&in, 0, &s, at(0, 0x11, 8, 72)), 2.0, 1e-6);
	/* Env 1 has its own memory: 0x11 is new there. */
	struct gnarl_game_state s1 = at(0, 0x10, 72, 72);
	assert_float_equal(step(&in, 1, &s1, at(0, 0x11, 8, 72)), 20.0, 1e-6);
	/* A new episode forgets the rooms. */
	s = at(0, 0x10, 72, 72);
	start(&in, 0, &s);
	assert_float_equal(step(&in, 0, &s, at(3, 0x10, 72, 104)), 20.0, 1e-6);
	assert_float_equal(step(&in, 0, &s, at(0, 0x10, 72, 72)), 2 * 2.0 / 10, 1e-6);
	inst_close(&in);

	inst_open(&in, "room_discovery", NULL, 1);   /* defaults: 20, 1, 500 */
	s = at(4, 0x01, 72, 72);
	start(&in, 0, &s);
	assert_float_equal(step(&in, 0, &s, at(4, 0x02, 72, 8)), 20.0, 1e-6);
	assert_float_equal(step(&in, 0, &s, at(4, 0x01, 72, 120)), 1.0 * 2 / 500, 1e-7);
	inst_close(&in);
}

static void test_grid_exploration(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 0x10, 8, 8);

	inst_open(&in, "grid_exploration", NULL, 2);
	start(&in, 1, &s);
	assert_float_equal(step(&in, 1, &s, at(0, 0x10, 24, 8)), 0.0, 1e-6);  /* same 32 px cell */
	assert_float_equal(step(&in, 1, &s, at(0, 0x10, 40, 8)), 5.0, 1e-6);
	assert_float_equal(step(&in, 1, &s, at(0, 0x10, 40, 40)), 5.0, 1e-6);
	assert_float_equal(step(&in, 1, &s, at(0, 0x10, 8, 8)), 0.0, 1e-6);   /* the start cell */
	assert_float_equal(step(&in, 1, &s, at(0, 0x11, 8, 8)), 5.0, 1e-6);   /* other room */
	assert_float_equal(step(&in, 1, &s, at(3, 0x11, 8, 8)), 5.0, 1e-6);   /* other group */
	assert_float_equal(step(&in, 1, &s, at(3, 0x11, 8, 8)), 0.0, 1e-6);
	s = at(0, 0x10, 8, 8);
	start(&in, 1, &s);
	assert_float_equal(step(&in, 1, &s, at(0, 0x10, 40, 8)), 5.0, 1e-6);  /* new episode */
	inst_close(&in);

	/* 16 px cells, at most 16 cells an episode (the start one included). */
	inst_open(&in, "grid_exploration", "{cell_size: 16, max_cells: 16, new_cell: 1.5}", 1);
	s = at(0, 0, 8, 8);
	start(&in, 0, &s);
	assert_float_equal(step(&in, 0, &s, at(0, 0, 24, 8)), 1.5, 1e-6);
	float sum = 0;
	for (int x = 0; x < 10; x++)
		for (int y = 0; y < 8; y++)
			sum += step(&in, 0, &s, at(0, 0, x * 16 + 8, y * 16 + 8));
	assert_float_equal(sum, 14 * 1.5, 1e-5);
	inst_close(&in);
}

static void test_movement(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 0x10, 72, 72);
	float r;

	inst_open(&in, "movement", NULL, 1);
	start(&in, 0, &s);
	/* Walking into a wall: same position, nothing. */
	assert_float_equal(step(&in, 0, &s, at(0, 0x10, 72, 72)), 0.0, 1e-7);
	/* One step spent in the room: 0.1 * (2 + (0.5 - 2) * 1/200). */
	assert_float_equal(step(&in, 0, &s, at(0, 0x10, 88, 72)), 0.1 * (2 - 1.5 / 200), 1e-6);
	for (int i = 0; i < 300; i++)
		step(&in, 0, &s, at(0, 0x10, 72 + 16 * (i & 1), 72));
	/* Stale room: the floor of the scale. */
	assert_float_equal(step(&in, 0, &s, at(0, 0x10, 56, 72)), 0.05, 1e-6);
	/* Another room: fresh again, more than in the stale one. */
	r = step(&in, 0, &s, at(0, 0x11, 56, 72));
	assert_float_equal(r, 0.2, 1e-6);
	assert_float_equal(step(&in, 0, &s, at(0, 0x11, 56, 72)), 0.0, 1e-7);
	/* The same room number indoors is a fresh room. */
	assert_float_equal(step(&in, 0, &s, at(3, 0x10, 56, 72)), 0.2, 1e-6);
	/* A new episode forgets the time spent. */
	s = at(0, 0x10, 72, 72);
	start(&in, 0, &s);
	assert_float_equal(step(&in, 0, &s, at(0, 0x10, 88, 72)), 0.2, 1e-6);
	inst_close(&in);

	inst_open(&in, "movement", "{reward: 1, fresh_scale: 1, stale_scale: 0, stale_steps: 4}", 1);
	s = at(0, 0, 8, 8);
	start(&in, 0, &s);
	float want[6] = {1, 0.75, 0.5, 0.25, 0, 0};
	for (int i = 0; i < 6; i++)
		assert_float_equal(step(&in, 0, &s, at(0, 0, 8 + 16 * ((i + 1) & 1), 8)), want[i], 1e-6);
	inst_close(&in);
}

static void test_dungeon_entry(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 0x10, 72, 72), d0 = at(4, 0x31, 72, 120), d1 = d0;

	d0.dungeon = 0;
	d1.dungeon = 1;
	inst_open(&in, "dungeon_entry", NULL, 3);
	start(&in, 2, &s);
	assert_float_equal(step(&in, 2, &s, at(0, 0x11, 72, 72)), 0.0, 1e-6);
	assert_float_equal(step(&in, 2, &s, d0), 200.0, 1e-6);
	assert_float_equal(step(&in, 2, &s, d0), 0.0, 1e-6);
	assert_float_equal(step(&in, 2, &s, at(0, 0x11, 72, 72)), 0.0, 1e-6);
	assert_float_equal(step(&in, 2, &s, d0), 0.0, 1e-6);   /* once per episode */
	assert_float_equal(step(&in, 2, &s, d1), 200.0, 1e-6); /* each dungeon */
	s = at(0, 0x10, 72, 72);
	start(&in, 2, &s);
	assert_float_equal(step(&in, 2, &s, d0), 200.0, 1e-6);
	/* Starting inside dungeon 0: entering it is not news. */
	s = d0;
	start(&in, 2, &s);
	assert_float_equal(step(&in, 2, &s, d0), 0.0, 1e-6);
	assert_float_equal(step(&in, 2, &s, d1), 200.0, 1e-6);
	inst_close(&in);
}

/* While the screen changes (GNARL_STATE_TRANSITION) the room may be the
 * next one and x, y the last one's: no term pays for rooms, cells,
 * movement or a dungeon then; the room pays once Link stands in it. */
static struct gnarl_game_state moving(struct gnarl_game_state s)
{
	s.flags = GNARL_STATE_TRANSITION;
	return s;
}

static void test_transitions_pay_nothing(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 0x10, 152, 72), d0 = at(4, 0x31, 152, 72);

	d0.dungeon = 0;
	inst_open(&in, "room_discovery", NULL, 1);
	start(&in, 0, &s);
	assert_float_equal(step(&in, 0, &s, moving(at(0, 0x11, 160, 72))), 0.0, 0);
	assert_float_equal(step(&in, 0, &s, moving(at(0, 0x11, 168, 72))), 0.0, 0);
	assert_float_equal(step(&in, 0, &s, at(0, 0x11, 8, 72)), 20.0, 1e-6);
	assert_float_equal(step(&in, 0, &s, at(0, 0x11, 24, 72)), 0.0, 0);
	/* Into the next room's transition and straight back: nothing. */
	assert_float_equal(step(&in, 0, &s, moving(at(0, 0x12, 168, 72))), 0.0, 0);
	assert_float_equal(step(&in, 0, &s, at(0, 0x11, 152, 72)), 0.0, 0);
	inst_close(&in);

	inst_open(&in, "grid_exploration", NULL, 1);
	s = at(0, 0x10, 152, 72);
	start(&in, 0, &s);
	assert_float_equal(step(&in, 0, &s, moving(at(0, 0x11, 168, 72))), 0.0, 0);
	assert_float_equal(step(&in, 0, &s, moving(at(0, 0x11, 40, 40))), 0.0, 0);
	assert_float_equal(step(&in, 0, &s, at(0, 0x11, 8, 72)), 5.0, 1e-6);
	inst_close(&in);

	inst_open(&in, "movement", NULL, 1);
	s = at(0, 0x10, 152, 72);
	start(&in, 0, &s);
	assert_float_equal(step(&in, 0, &s, moving(at(0, 0x11, 168, 72))), 0.0, 0);
	assert_true(step(&in, 0, &s, at(0, 0x11, 8, 72)) > 0.0f);
	inst_close(&in);

	inst_open(&in, "dungeon_entry", NULL, 1);
	s = at(0, 0x10, 72, 72);
	start(&in, 0, &s);
	assert_float_equal(step(&in, 0, &s, moving(d0)), 0.0, 0);
	assert_float_equal(step(&in, 0, &s, d0), 200.0, 1e-6);
	inst_close(&in);
}

static void test_combat(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 1, 8, 8), n;

	inst_open(&in, "combat", NULL, 1);
	start(&in, 0, &s);
	n = s;
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	n.enemies_killed = 1;
	assert_float_equal(step(&in, 0, &s, n), 10.0, 1e-6);
	n.enemies_killed = 4;
	assert_float_equal(step(&in, 0, &s, n), 30.0, 1e-6);
	n.enemies_killed = 0;                          /* a counter reset */
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	n.enemies_killed = 1000;                       /* a garbled jump: clipped */
	assert_float_equal(step(&in, 0, &s, n), 80.0, 1e-6);
	inst_close(&in);
}

static void test_health(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 1, 8, 8), n;

	inst_open(&in, "health", NULL, 1);
	start(&in, 0, &s);
	n = s;
	n.health = 10;
	assert_float_equal(step(&in, 0, &s, n), -0.2, 1e-6);
	n.health = 12;
	assert_float_equal(step(&in, 0, &s, n), 0.2, 1e-6);
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	inst_close(&in);
	inst_open(&in, "health", "{lost_per_quarter: -1, gained_per_quarter: 0}", 1);
	s = at(0, 1, 8, 8);
	n = s;
	n.health = 9;
	assert_float_equal(step(&in, 0, &s, n), -3.0, 1e-6);
	n.health = 12;
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	inst_close(&in);
}

static void test_death(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 1, 8, 8), n;

	inst_open(&in, "death", NULL, 1);
	start(&in, 0, &s);
	n = s;
	n.health = 0;                       /* health hits 0 ... */
	assert_float_equal(step(&in, 0, &s, n), -50.0, 1e-6);
	n.deaths = 1;                       /* ... the counter follows later */
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	n.health = 12;                      /* respawned */
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	n.deaths = 2;                       /* counter first this time */
	assert_float_equal(step(&in, 0, &s, n), -50.0, 1e-6);
	n.health = 0;
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	/* A new episode re-arms even while health still reads 0. */
	start(&in, 0, &s);
	n.deaths = 3;
	assert_float_equal(step(&in, 0, &s, n), -50.0, 1e-6);
	inst_close(&in);

	inst_open(&in, "death", "{penalty: -7, on_zero_health: false}", 1);
	s = at(0, 1, 8, 8);
	start(&in, 0, &s);
	n = s;
	n.health = 0;
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	n.deaths = 1;
	assert_float_equal(step(&in, 0, &s, n), -7.0, 1e-6);
	inst_close(&in);
}

static void test_milestones(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 0x23, 72, 72), n;

	inst_open(&in, "milestones", NULL, 1);
	for (int episode = 0; episode < 2; episode++) {
		s = at(0, 0x23, 72, 72);
		start(&in, 0, &s);
		n = s;
		assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
		gnarl_set_treasure(&n, GNARL_TREASURE_SWORD);
		n.sword_level = 1;
		assert_float_equal(step(&in, 0, &s, n), 200.0, 1e-6);
		assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
		n.treasures[0] = 0;                            /* lost and found again */
		n.sword_level = 0;
		step(&in, 0, &s, n);
		gnarl_set_treasure(&n, GNARL_TREASURE_SWORD);
		assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
		n.group = GNARL_GROUP_MAKU_TREE;
		n.room = 0x0b;
		assert_float_equal(step(&in, 0, &s, n), 100.0, 1e-6);
		n.text_active = 1;
		gnarl_set_treasure(&n, GNARL_TREASURE_GNARLED_KEY);
		assert_float_equal(step(&in, 0, &s, n), 1000.0, 1e-6);  /* talked + key */
		n.text_active = 0;
		step(&in, 0, &s, n);
		n.text_active = 1;
		assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
		n.group = 0;
		step(&in, 0, &s, n);
		n.group = GNARL_GROUP_MAKU_TREE;
		assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	}
	/* An episode starting with the sword and at the tree pays neither. */
	s = at(GNARL_GROUP_MAKU_TREE, 0x0b, 72, 72);
	s.sword_level = 1;
	start(&in, 0, &s);
	n = s;
	n.x += 16;
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	n.text_active = 1;                                 /* talking still pays */
	assert_float_equal(step(&in, 0, &s, n), 500.0, 1e-6);
	inst_close(&in);

	/* Which screen is the tree's and which treasure is the key: params. */
	inst_open(&in, "milestones", "{maku_room: 5, key_treasure: 9, gnarled_key: 1}", 1);
	s = at(0, 1, 8, 8);
	start(&in, 0, &s);
	n = at(GNARL_GROUP_MAKU_TREE, 4, 8, 8);
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	n.room = 5;
	assert_float_equal(step(&in, 0, &s, n), 100.0, 1e-6);
	gnarl_set_treasure(&n, GNARL_TREASURE_GNARLED_KEY);
	assert_float_equal(step(&in, 0, &s, n), 0.0, 1e-6);
	gnarl_set_treasure(&n, 9);
	assert_float_equal(step(&in, 0, &s, n), 1.0, 1e-6);
	inst_close(&in);
}

static void test_time_penalty(void **unused)
{
	struct inst in;
	struct gnarl_game_state s = at(0, 1, 8, 8);

	inst_open(&in, "time_penalty", NULL, 1);
	start(&in, 0, &s);
	assert_float_equal(step(&in, 0, &s, s), -0.0001, 1e-9);
	inst_close(&in);
	inst_open(&in, "time_penalty", "{per_step: -0.5}", 1);
	assert_float_equal(step(&in, 0, &s, s), -0.5, 1e-9);
	inst_close(&in);
}

/* ------------------------------------------------------------------------ */
/* Disjoint ranges from two threads give what one call gives.               */

#define CN 64   /* envs */
#define CT 400  /* steps */

struct trajectories {
	struct gnarl_game_state states[CT + 1][CN];
	int32_t actions[CN];
};

struct worker {
	struct inst *in;
	const struct trajectories *tr;
	uint32_t first, count;
	float (*out)[CN];
};

/* A random walk over a few rooms, groups and dungeons, with kills,
 * damage, deaths, treasures and text, different for every env. */
static void make_trajectories(struct trajectories *tr)
{
	uint64_t r = 12345;

	memset(tr, 0, sizeof(*tr));
	for (int i = 0; i < CN; i++)
		tr->states[0][i] = at(0, i % 5, 72, 72);
	for (int t = 1; t <= CT; t++) {
		for (int i = 0; i < CN; i++) {
			struct gnarl_game_state s = tr->states[t - 1][i];
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			unsigned u = (unsigned)(r >> 33);
			s.x = 8 + 16 * (int)(u % 10);
			s.y = 8 + 16 * (int)(u / 10 % 8);
			if (u % 7 == 0)
				s.room = (int)(u / 7 % 6);
			if (u % 11 == 0)
				s.group = (int)(u / 11 % 5);
			s.dungeon = s.group == 4 ? (int)(u % 2) : -1;
			s.enemies_killed += u % 13 == 0;
			s.health = (int)(u % 17 == 0 ? 0 : 4 + u % 9);
			s.deaths += u % 19 == 0;
			s.text_active = u % 23 == 0;
			if (u % 29 == 0)
				gnarl_set_treasure(&s, u % 2 ? GNARL_TREASURE_SWORD : GNARL_TREASURE_GNARLED_KEY);
			tr->states[t][i] = s;
		}
	}
}

static void *run_range(void *arg)
{
	struct worker *w = arg;

	for (uint32_t i = w->first; i < w->first + w->count; i++)
		gnarl_term_episode_start(w->in->term, i, &w->tr->states[0][i]);
	for (int t = 1; t <= CT; t++)
		gnarl_term_compute(w->in->term, w->first, w->count, w->tr->states[t - 1],
		                   w->tr->states[t], w->tr->actions, w->out[t - 1]);
	return NULL;
}

static void test_concurrent_ranges(void **unused)
{
	static const char *const terms[] = {
		"room_discovery", "grid_exploration", "movement", "dungeon_entry", "combat",
		"health",         "death",            "milestones", "time_penalty",
	};
	struct trajectories *tr = malloc(sizeof(*tr));
	float (*one)[CN] = calloc(CT, sizeof(*one)), (*two)[CN] = calloc(CT, sizeof(*two));

	assert_non_null(tr);
	make_trajectories(tr);
	for (size_t k = 0; k < sizeof(terms) / sizeof(terms[0]); k++) {
		struct inst a, b;
		struct worker whole, lo, hi;
		pthread_t tl, th;
		double total = 0;

		inst_open(&a, terms[k], NULL, CN);
		inst_open(&b, terms[k], NULL, CN);
		whole = (struct worker){&a, tr, 0, CN, one};
		run_range(&whole);
		lo = (struct worker){&b, tr, 0, 29, two};
		hi = (struct worker){&b, tr, 29, CN - 29, two};
		assert_int_equal(pthread_create(&tl, NULL, run_range, &lo), 0);
		assert_int_equal(pthread_create(&th, NULL, run_range, &hi), 0);
		pthread_join(tl, NULL);
		pthread_join(th, NULL);
		for (int t = 0; t < CT; t++)
			for (int i = 0; i < CN; i++) {
				if (one[t][i] != two[t][i])
					fail_msg("%s: step %d env %d: %g alone, %g in ranges", terms[k], t, i,
					         one[t][i], two[t][i]);
				total += one[t][i] < 0 ? -one[t][i] : one[t][i];
			}
		assert_true(total > 0);  /* the walk exercised the term */
		inst_close(&a);
		inst_close(&b);
	}
	free(one);
	free(two);
	free(tr);
}

/* Earn something every term remembers in env 0 of `in`: a room, a cell,
 * steps, the dungeon, a death, the sword. */
static void earn(struct inst *in)
{
	struct gnarl_game_state s = at(0, 0x10, 72, 72);

	start(in, 0, &s);
	s.dungeon = 0;
	s.group = 4;
	s.health = 0;
	gnarl_set_treasure(&s, GNARL_TREASURE_SWORD);
	step(in, 0, &s, at(4, 0x21, 40, 40));
	s.dungeon = 0;
	s.health = 0;
	gnarl_set_treasure(&s, GNARL_TREASURE_SWORD);
	step(in, 0, &s, s);
}

/* What env 0 of `in` is paid for three more steps that revisit what earn()
 * earned: equal for two instances only if they remember the same. */
static void replay(struct inst *in, float got[3])
{
	struct gnarl_game_state s = at(1, 0x50, 8, 8);

	for (int t = 0; t < 3; t++) {
		struct gnarl_game_state next = at(4, 0x21 + t, 40, 40);
		next.dungeon = 0;
		next.health = t == 0 ? 0 : 12;
		gnarl_set_treasure(&next, GNARL_TREASURE_SWORD);
		got[t] = step(in, 0, &s, next);
	}
}

/* The framing of a term's memory before ABI 1.1 (the blob the in-tree
 * terms saved in checkpoints): a 56-byte header, then every env's records. */
static uint8_t *legacy_blob(const char *name, const struct gnarl_term *t, size_t *size)
{
	uint32_t head[2] = {0x31575247u, 1}, tail[3] = {t->n_envs, 0, 0};
	size_t env = (size_t)t->n_envs * t->memory_size;
	uint8_t *b = calloc(1, 56 + env);

	assert_non_null(b);
	tail[2] = (uint32_t)env;
	memcpy(b, head, 8);
	memcpy(b + 8, name, strlen(name));
	memcpy(b + 44, tail, 12);
	memcpy(b + 56, t->memory, env);
	*size = 56 + env;
	return b;
}

/* Set the episode-memory size a legacy blob's header states. */
static void tail_bytes(uint8_t *blob, uint32_t env_bytes)
{
	memcpy(blob + 52, &env_bytes, 4);
}

/* Memory: terms that remember keep it in host memory (ABI 1.1) and have no
 * save ops, the stateless ones have none.  Copied into another instance it
 * carries the episode on (what a checkpoint does); a new episode forgets
 * it; a blob saved before ABI 1.1 loads into it when it holds the same records,
 * and is refused otherwise, changing nothing. */
static void test_memory(void **unused)
{
	static const char *const remember[] = {"room_discovery", "movement", "dungeon_entry",
	                                       "death",          "milestones", "grid_exploration"};
	static const char *const stateless[] = {"combat", "health", "time_penalty"};
	char err[GNARL_ERR_SIZE] = "";

	for (size_t k = 0; k < sizeof(stateless) / sizeof(stateless[0]); k++) {
		struct inst in;
		inst_open(&in, stateless[k], NULL, 1);
		assert_int_equal(in.term->memory_size, 0);
		assert_null(in.term->memory);
		assert_null(in.desc->ops.reward->save_size);
		inst_close(&in);
	}
	for (size_t k = 0; k < sizeof(remember) / sizeof(remember[0]); k++) {
		struct inst a, copy, fresh, old;
		float from_a[3], from_copy[3], from_fresh[3], from_old[3];
		uint8_t *blob;
		size_t size;

		inst_open(&a, remember[k], NULL, 2);
		inst_open(&copy, remember[k], NULL, 2);
		inst_open(&fresh, remember[k], NULL, 2);
		inst_open(&old, remember[k], NULL, 2);
		assert_true(a.term->memory_size > 0);
		assert_null(a.desc->ops.reward->save_size);
		earn(&a);
		/* The checkpoint's copy carries the episode on. */
		assert_int_equal(gnarl_term_set_memory(copy.term, a.term->memory, 2,
		                                       a.term->memory_size, err), 0);
		blob = legacy_blob(remember[k], a.term, &size);
		replay(&a, from_a);
		replay(&copy, from_copy);
		replay(&fresh, from_fresh);
		assert_memory_equal(from_a, from_copy, sizeof(from_a));
		if (!memcmp(from_a, from_fresh, sizeof(from_a)))
			fail_msg("%s: remembering changed nothing", remember[k]);
		/* Another shape is refused and changes nothing. */
		assert_int_equal(gnarl_term_set_memory(copy.term, a.term->memory, 3,
		                                       a.term->memory_size, err), GNARL_EINCOMPAT);
		assert_int_equal(gnarl_term_set_memory(copy.term, a.term->memory, 2,
		                                       a.term->memory_size + 1, err), GNARL_EINCOMPAT);
		/* A new episode forgets. */
		struct gnarl_game_state s = at(0, 0x10, 72, 72);
		start(&copy, 0, &s);
		earn(&fresh);
		earn(&copy);
		replay(&fresh, from_fresh);
		replay(&copy, from_copy);
		assert_memory_equal(from_fresh, from_copy, sizeof(from_a));
		/* A blob from before 1.1: another term's, a truncated one, one for
		 * another env count are refused; the right one loads. */
		assert_int_equal(gnarl_term_set_legacy_memory(old.term, "other", blob, size, err),
		                 GNARL_EINCOMPAT);
		assert_int_equal(gnarl_term_set_legacy_memory(old.term, remember[k], blob, size - 1, err),
		                 GNARL_ECORRUPT);
		assert_int_equal(gnarl_term_set_legacy_memory(old.term, remember[k], blob, 20, err),
		                 GNARL_ECORRUPT);
		blob[44] = 3;
		assert_int_equal(gnarl_term_set_legacy_memory(old.term, remember[k], blob, size, err),
		                 GNARL_EINCOMPAT);
		blob[44] = 2;
		if (!strcmp(remember[k], "grid_exploration")) {
			/* Before 1.1 grid saved its cells as lists, not as today's
			 * records: that blob is refused (the term starts empty). */
			uint32_t lists[4] = {32, 1, 0x00100202u, 0};
			tail_bytes(blob, sizeof(lists));
			memcpy(blob + 56, lists, sizeof(lists));
			assert_int_equal(gnarl_term_set_legacy_memory(old.term, remember[k], blob,
			                                              56 + sizeof(lists), err),
			                 GNARL_EINCOMPAT);
		} else {
			assert_int_equal(gnarl_term_set_legacy_memory(old.term, remember[k], blob, size,
			                                              err), 0);
			replay(&old, from_old);
			assert_memory_equal(from_old, from_a, sizeof(from_a));
		}
		free(blob);
		inst_close(&a);
		inst_close(&copy);
		inst_close(&fresh);
		inst_close(&old);
	}
}

/* Every declared parameter has help, a default and a range that holds it;
 * the core accepts each table, and a misspelt key is refused with the
 * closest declared name. */
static void test_misspelt_param(void **unused)
{
	struct gnarl_plugin_lib *lib;
	struct gnarl_tree *t;
	char err[GNARL_ERR_SIZE] = "";
	const char *yaml = "{novelty_windw: 10}";

	assert_int_equal(gnarl_plugin_open("room_discovery", GNARL_KIND_REWARD, NULL, &lib, err), 0);
	assert_int_equal(gnarl_tree_parse(yaml, strlen(yaml), "params", &t, err), 0);
	assert_int_equal(gnarl_config_check_params(NULL, gnarl_tree_root(t),
	                                           gnarl_plugin_desc(lib)->params, "params", err),
	                 GNARL_ECONFIG);
	assert_non_null(strstr(err, "novelty_window"));
	gnarl_tree_free(t);
	gnarl_plugin_close(lib);
}

static void test_declarations(void **unused)
{
	static const char *const terms[] = {
		"room_discovery", "grid_exploration", "movement", "dungeon_entry", "combat",
		"health",         "death",            "milestones", "time_penalty",
	};
	for (size_t k = 0; k < sizeof(terms) / sizeof(terms[0]); k++) {
		struct inst in;
		char err[GNARL_ERR_SIZE] = "";
		inst_open(&in, terms[k], NULL, 1);
		assert_int_equal(in.desc->kind, GNARL_KIND_REWARD);
		if (gnarl_config_check_table(in.table, terms[k], err))
			fail_msg("%s", err);
		assert_int_equal(in.desc->ops.reward->size, sizeof(struct gnarl_reward_ops));
		for (const struct gnarl_param *p = in.table; p->name; p++) {
			assert_non_null(p->help);
			if (p->type == GNARL_PARAM_INT || p->type == GNARL_PARAM_FLOAT) {
				double v = strtod(p->default_yaml, NULL);
				assert_true(p->flags & GNARL_PARAM_HAS_MIN);
				assert_true(p->flags & GNARL_PARAM_HAS_MAX);
				assert_true(v >= p->min && v <= p->max);
			}
		}
		inst_close(&in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_room_discovery),  cmocka_unit_test(test_grid_exploration),
		cmocka_unit_test(test_movement),        cmocka_unit_test(test_dungeon_entry),
		cmocka_unit_test(test_combat),          cmocka_unit_test(test_health),
		cmocka_unit_test(test_death),           cmocka_unit_test(test_milestones),
		cmocka_unit_test(test_time_penalty),    cmocka_unit_test(test_concurrent_ranges),
		cmocka_unit_test(test_transitions_pay_nothing),
		cmocka_unit_test(test_declarations),    cmocka_unit_test(test_misspelt_param),
		cmocka_unit_test(test_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
