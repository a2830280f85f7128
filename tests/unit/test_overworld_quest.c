/*
 * test_overworld_quest.c - the overworld env's game played through the ABI
 * by an autopilot that sees only what any env user sees: the game state
 * and the work-RAM image (tile ids at $CF00, enemies and items in the
 * object slots of bank 1).
 *
 * The autopilot searches breadth-first inside a room and depth-first over
 * rooms: it takes the sword, cuts the bush before the Maku Tree, talks to
 * it and opens the dungeon with the Gnarled Key, on one world step by step
 * (test_quest) and on 200 worlds of many sizes (test_worlds_solvable); it
 * fights (sword kills, drops) and gets hurt (contact damage,
 * invulnerability, death).  Frames of the quest are written as PNGs to
 * <build>/overworld_frames/ for a person to look at.
 */
#include <stdbool.h>
#include <stdint.h>

#include "overworld_test.h"

static const int dir_action[4] = {UP, RIGHT, DOWN, LEFT};
static const int ddx[4] = {0, 1, 0, -1}, ddy[4] = {-1, 0, 1, 0};

static int link_tx(const struct envx *x)
{
	return x->st[0].x / 16;
}

static int link_ty(const struct envx *x)
{
	return x->st[0].y / 16;
}

static int room_key(const struct envx *x)
{
	return (x->st[0].group & 7) << 8 | (x->st[0].room & 0xff);
}

static bool enemy_at(const struct envx *x, int tx, int ty)
{
	return object_at(ram(x), A_ENEMY(0), tx, ty);
}

/* Step env 0 once more with its frame wanted and save it. */
static void snapshot(struct envx *x, const char *name)
{
	x->want[0] = 1;
	act(x, NOP);
	x->want[0] = 0;
	write_png(name, x->frames);
}

/* ------------------------------------------------------------------------ */
/* The autopilot: breadth-first search inside the room, depth-first search */
/* over rooms.                                                               */

typedef bool (*cell_fn)(const struct envx *x, int tx, int ty, const void *ctx);
typedef bool (*want_fn)(struct envx *x);

static bool passable(const struct envx *x, int tx, int ty)
{
	int t = tile(x, tx, ty);
	return !enemy_at(x, tx, ty) && (t == T_FLOOR || (t == T_BUSH && x->st[0].sword_level));
}

/* The first step (a direction) towards the nearest cell where goal()
 * holds, entering it even if it is a door; -1 when Link stands on one, -2
 * when none is reachable. */
static int plan(const struct envx *x, cell_fn goal, const void *ctx)
{
	int from[80], queue[80], head = 0, tail = 0, start = link_ty(x) * 10 + link_tx(x);
	int found = -1, c, d;

	for (int i = 0; i < 80; i++)
		from[i] = -2;
	from[start] = -1;
	queue[tail++] = start;
	while (head < tail) {
		c = queue[head++];
		if (goal(x, c % 10, c / 10, ctx)) {
			found = c;
			break;
		}
		for (d = 0; d < 4; d++) {
			int nx = c % 10 + ddx[d], ny = c / 10 + ddy[d], n = ny * 10 + nx;
			if (nx < 0 || ny < 0 || nx >= 10 || ny >= 8 || from[n] != -2)
				continue;
			if (!passable(x, nx, ny) && !goal(x, nx, ny, ctx))
				continue;
			from[n] = c;
			queue[tail++] = n;
		}
	}
	if (found < 0)
		return -2;
	if (found == start)
		return -1;
	for (c = found; from[c] != start; c = from[c])
		;
	for (d = 0; d < 4 && c != start + ddy[d] * 10 + ddx[d]; d++)
		;
	return d;
}

/* One action towards the nearest goal cell (cutting a bush in the way);
 * false when there is none or Link stands on it. */
static bool toward(struct envx *x, cell_fn goal, const void *ctx)
{
	int d = plan(x, goal, ctx);

	if (d < 0)
		return false;
	if (tile(x, link_tx(x) + ddx[d], link_ty(x) + ddy[d]) == T_BUSH &&
	    x->st[0].direction == d)
		act(x, B);   /* facing the bush: cut it */
	else
		act(x, dir_action[d]);
	return true;
}

/* Walk until goal() holds at Link's cell, or the room changes; true when
 * either happened. */
static bool walk(struct envx *x, cell_fn goal, const void *ctx)
{
	int room = room_key(x);

	for (int budget = 0; budget < 400; budget++) {
		if (room_key(x) != room || goal(x, link_tx(x), link_ty(x), ctx))
			return true;
		if (!toward(x, goal, ctx))
			return false;
	}
	return false;
}

static bool is_cell(const struct envx *x, int tx, int ty, const void *ctx)
{
	const int *c = ctx;
	return tx == c[0] && ty == c[1];
}

static bool on_edge(const struct envx *x, int tx, int ty, const void *ctx)
{
	int d = *(const int *)ctx;
	bool edge = (d == 0 && ty == 0) || (d == 2 && ty == 7) || (d == 3 && tx == 0) ||
	            (d == 1 && tx == 9);
	return edge && tile(x, tx, ty) == T_FLOOR;
}

/* Leave the room through its side d; true when the room changed. */
static bool cross_edge(struct envx *x, int d)
{
	int room = room_key(x);

	if (!walk(x, on_edge, &d) || room_key(x) != room)
		return false;
	act(x, dir_action[d]);
	return room_key(x) != room;
}

static bool enterable(const struct envx *x, int tx, int ty)
{
	int t = tile(x, tx, ty);
	return t == T_DOOR || (t == T_LOCKED && gnarl_has_treasure(&x->st[0], 0x42));
}

static bool enter_door(struct envx *x, int tx, int ty)
{
	int room = room_key(x), cell[2] = {tx, ty};

	return walk(x, is_cell, cell) && room_key(x) != room;
}

/* Back through the door next to Link (where every door lands him). */
static bool back_through_door(struct envx *x)
{
	for (int d = 0; d < 4; d++) {
		int nx = link_tx(x) + ddx[d], ny = link_ty(x) + ddy[d];
		if (nx >= 0 && ny >= 0 && nx < 10 && ny < 8 && enterable(x, nx, ny))
			return enter_door(x, nx, ny);
	}
	return false;
}

/* Depth-first over rooms until want() holds (Link stays there). */
static bool explore(struct envx *x, want_fn want, uint8_t *seen)
{
	int here = room_key(x);

	if (want(x))
		return true;
	seen[here] = 1;
	for (int d = 0; d < 4; d++) {
		if (!cross_edge(x, d))
			continue;
		if (!seen[room_key(x)] && explore(x, want, seen))
			return true;
		assert_true(cross_edge(x, (d + 2) % 4));
		assert_int_equal(room_key(x), here);
	}
	for (int c = 0; c < 80; c++) {
		if (!enterable(x, c % 10, c / 10) || !enter_door(x, c % 10, c / 10))
			continue;
		if (!seen[room_key(x)] && explore(x, want, seen))
			return true;
		assert_true(back_through_door(x));
		assert_int_equal(room_key(x), here);
	}
	return false;
}

static bool seek(struct envx *x, want_fn want)
{
	uint8_t seen[8 * 256] = {0};
	return explore(x, want, seen);
}

static bool has_sword(struct envx *x)
{
	/* In the sword's cave, walk onto the sword (an item slot) first. */
	for (int k = 0; k < 4 && !x->st[0].sword_level && x->st[0].group == 3; k++) {
		const uint8_t *o = ram(x) + A_ITEM(k);
		int cell[2] = {o[0x0d] / 16, o[0x0b] / 16};
		if (o[0] && o[1] == ITEM_SWORD)
			walk(x, is_cell, cell);
	}
	return x->st[0].sword_level > 0;
}

static bool at_maku(struct envx *x)
{
	return x->st[0].group == GNARL_GROUP_MAKU_TREE;
}

static bool next_to_maku(const struct envx *x, int tx, int ty, const void *ctx)
{
	for (int d = 0; d < 4; d++) {
		int nx = tx + ddx[d], ny = ty + ddy[d];
		if (nx >= 0 && ny >= 0 && nx < 10 && ny < 8 && tile(x, nx, ny) == T_MAKU &&
		    tile(x, tx, ty) == T_FLOOR)
			return true;
	}
	return false;
}

/* At the Maku Tree: walk up to it, face it, press A. */
static void talk_to_maku(struct envx *x)
{
	assert_true(walk(x, next_to_maku, NULL));
	for (int d = 0; d < 4; d++) {
		int nx = link_tx(x) + ddx[d], ny = link_ty(x) + ddy[d];
		if (nx >= 0 && ny >= 0 && nx < 10 && ny < 8 && tile(x, nx, ny) == T_MAKU) {
			act(x, dir_action[d]);
			assert_int_equal(x->st[0].direction, d);   /* turned, did not move */
			act(x, A);
			return;
		}
	}
	fail_msg("not next to the Maku Tree");
}

static bool has_locked_door(struct envx *x)
{
	for (int c = 0; c < 80; c++)
		if (tile(x, c % 10, c / 10) == T_LOCKED)
			return true;
	return false;
}

/* Push against the locked entrance from the tile below it. */
static void push_locked_door(struct envx *x)
{
	for (int c = 0; c < 80; c++) {
		int cell[2] = {c % 10, c / 10 + 1};
		if (tile(x, c % 10, c / 10) != T_LOCKED)
			continue;
		assert_true(walk(x, is_cell, cell));
		act(x, UP);
		return;
	}
	fail_msg("no locked door here");
}

/* A cell from which one step in some direction ends next to an enemy,
 * facing it (Link faces where he last walked). */
static int run_up_dir(const struct envx *x, int tx, int ty)
{
	for (int d = 0; d < 4; d++) {
		int mx = tx + ddx[d], my = ty + ddy[d];
		if (tile(x, tx, ty) == T_FLOOR && mx >= 0 && my >= 0 && mx < 10 && my < 8 &&
		    passable(x, mx, my) && enemy_at(x, mx + ddx[d], my + ddy[d]))
			return d;
	}
	return -1;
}

static bool run_up_cell(const struct envx *x, int tx, int ty, const void *ctx)
{
	return run_up_dir(x, tx, ty) >= 0;
}

static bool enemy_here(struct envx *x)
{
	return plan(x, run_up_cell, NULL) != -2;
}

/* Step up to an enemy head-on; returns the direction Link faces it in. */
static int approach_enemy(struct envx *x)
{
	int d;

	assert_true(walk(x, run_up_cell, NULL));
	d = run_up_dir(x, link_tx(x), link_ty(x));
	act(x, dir_action[d]);
	assert_int_equal(x->st[0].direction, d);
	assert_true(enemy_at(x, link_tx(x) + ddx[d], link_ty(x) + ddy[d]));
	return d;
}

/* ------------------------------------------------------------------------ */

#define QUIET "enemies_per_screen: 0, dungeon_enemies: 0, max_steps: 1000000"

/* The whole quest on one world, checking each step's mechanics. */
static void test_quest(void **unused)
{
	struct envx *x = env_open("{" QUIET ", talk_steps: 3}", 1);
	int room;

	snapshot(x, "00_start");
	/* The locked entrance does not open without the key. */
	assert_true(seek(x, has_locked_door));
	room = room_key(x);
	push_locked_door(x);
	assert_int_equal(room_key(x), room);
	assert_int_equal(x->st[0].group, 0);
	snapshot(x, "01_locked_entrance");

	assert_true(seek(x, has_sword));
	assert_int_equal(x->st[0].group, GNARL_GROUP_INDOORS);
	assert_true(gnarl_has_treasure(&x->st[0], GNARL_TREASURE_SWORD));
	assert_int_equal(ram(x)[A_SWORD], 1);
	assert_int_equal(ram(x)[A_B_ITEM], GNARL_TREASURE_SWORD);
	assert_true(x->obs[13] == 1.0f);
	snapshot(x, "02_sword");

	assert_true(seek(x, at_maku));
	assert_int_equal(x->st[0].room, 0x0b);
	assert_false(gnarl_has_treasure(&x->st[0], GNARL_TREASURE_GNARLED_KEY));
	snapshot(x, "03_maku_tree");
	talk_to_maku(x);
	assert_int_equal(x->st[0].text_active, 1);
	assert_int_equal(ram(x)[A_TEXT], 1);
	assert_true(gnarl_has_treasure(&x->st[0], GNARL_TREASURE_GNARLED_KEY));
	assert_true(ram(x)[A_TREASURES + 0x42 / 8] & (1 << (0x42 % 8)));
	assert_true(x->obs[14] == 1.0f && x->obs[17] == 1.0f);
	snapshot(x, "04_gnarled_key");   /* text still open: 2 of 3 steps */
	/* While the text box is open, actions do nothing. */
	int tx = link_tx(x), ty = link_ty(x);
	act(x, DOWN);
	assert_int_equal(link_tx(x) * 100 + link_ty(x), tx * 100 + ty);
	assert_int_equal(x->st[0].text_active, 1);
	act(x, DOWN);
	assert_int_equal(link_tx(x) * 100 + link_ty(x), tx * 100 + ty);
	assert_int_equal(x->st[0].text_active, 0);

	assert_true(seek(x, has_locked_door));
	push_locked_door(x);
	assert_int_equal(x->st[0].group, GNARL_GROUP_DUNGEON);
	assert_int_equal(x->st[0].dungeon, 0);
	assert_int_equal(ram(x)[A_GROUP], 4);
	assert_int_equal(ram(x)[A_DUNGEON], 0);
	assert_true(x->obs[7] == 1.0f && x->obs[15] == 1.0f);
	snapshot(x, "05_dungeon");
	env_close(x);
}

/* Worlds of many seeds and sizes are generated, identical for a seed and
 * solvable by the autopilot. */
static void test_worlds_solvable(void **unused)
{
	char params[256];
	int distinct = 0;
	uint32_t hashes[200];

	for (int seed = 1; seed <= 200; seed++) {
		int w = 2 + seed % 15, h = 2 + seed / 15 % 15;   /* 2 .. 16 */
		struct envx *x, *y;
		uint32_t hsh = 2166136261u;
		snprintf(params, sizeof(params), "{" QUIET ", world_seed: %d, width: %d, height: %d}",
		         seed, w, h);
		x = env_open(params, 1);
		y = env_open(params, 1);
		assert_memory_equal(ram(x), ram(y), 0x8000);
		for (int i = 0; i < 0x8000; i++)
			hsh = (hsh ^ ram(x)[i]) * 16777619u;
		hashes[seed - 1] = hsh;
		if (!seek(x, has_sword) || !seek(x, at_maku))
			fail_msg("world %d (%d x %d): sword or Maku Tree out of reach", seed, w, h);
		talk_to_maku(x);
		if (!seek(x, has_locked_door))
			fail_msg("world %d: no dungeon entrance found", seed);
		push_locked_door(x);
		assert_int_equal(x->st[0].group, GNARL_GROUP_DUNGEON);
		env_close(x);
		env_close(y);
	}
	for (int i = 0; i < 200; i++) {
		bool dup = false;
		for (int j = 0; j < i; j++)
			dup |= hashes[j] == hashes[i];
		distinct += !dup;
	}
	assert_true(distinct > 150);
}

static void test_sword_kills(void **unused)
{
	struct envx *x = env_open("{enemies_per_screen: 4, enemy_move_prob: 0, enemy_hp: 2, "
	                          "drop_prob: 1, heart_drop_share: 0, max_steps: 100000}", 1);
	int d, killed, visible;

	/* Without the sword, B does nothing to an enemy. */
	assert_true(seek(x, enemy_here));
	approach_enemy(x);
	visible = x->st[0].enemies_visible;
	assert_true(visible > 0);
	act(x, B);
	assert_int_equal(x->st[0].enemies_killed, 0);
	assert_int_equal(x->st[0].enemies_visible, visible);
	assert_true(seek(x, has_sword));
	assert_true(seek(x, enemy_here));
	visible = x->st[0].enemies_visible;
	d = approach_enemy(x);
	act(x, B);                            /* enemy_hp 2: first hit */
	assert_int_equal(x->st[0].enemies_killed, 0);
	x->want[0] = 1;
	act(x, B);
	x->want[0] = 0;
	write_png("06_sword_swing", x->frames);
	killed = x->st[0].enemies_killed;
	assert_int_equal(killed, 1);
	assert_int_equal(ram(x)[A_KILLED], 1);
	assert_int_equal(x->st[0].enemies_visible, visible - 1);
	assert_false(enemy_at(x, link_tx(x) + ddx[d], link_ty(x) + ddy[d]));
	/* drop_prob 1, all rupees: one lies where the enemy stood. */
	int rupees = x->st[0].rupees;
	act(x, dir_action[d]);
	assert_int_equal(x->st[0].rupees, rupees + 1);
	assert_int_equal(ram(x)[A_RUPEES], rupees + 1);   /* BCD below 10 */
	snapshot(x, "07_rupee_taken");
	env_close(x);
}

/* Contact costs enemy_damage quarter hearts, then invuln_steps steps of
 * safety; health 0 ends the episode with one death. */
static void test_damage_and_death(void **unused)
{
	struct envx *x = env_open("{enemies_per_screen: 4, enemy_move_prob: 0, enemy_damage: 3, "
	                          "invuln_steps: 5, start_hearts: 2, max_steps: 100000}", 1);
	int d, hits[3], n = 0;

	assert_true(seek(x, enemy_here));
	d = approach_enemy(x);
	assert_int_equal(x->st[0].health, 8);
	assert_int_equal(act(x, dir_action[d]), 0);       /* onto the enemy */
	assert_int_equal(x->st[0].health, 5);
	assert_int_equal(ram(x)[A_HEALTH], 5);
	assert_true(x->obs[16] == 1.0f);                  /* invulnerable */
	assert_float_equal(x->obs[12], 5.0 / 8.0, 1e-6);
	hits[n++] = (int)x->steps;
	snapshot(x, "08_hurt");
	for (int i = 0; i < 20 && !x->done[0]; i++) {
		int before = x->st[0].health;
		act(x, NOP);
		if (x->st[0].health < before)
			hits[n++] = (int)x->steps;
	}
	/* 8 -> 5 -> 2 -> 0: three hits, five steps apart; the last one ends
	 * the episode. */
	assert_int_equal(n, 3);
	assert_int_equal(hits[1] - hits[0], 5);
	assert_int_equal(hits[2] - hits[1], 5);
	assert_int_equal(x->st[0].health, 0);
	assert_int_equal(x->done[0], GNARL_DONE_TERMINATED);
	assert_int_equal(x->st[0].deaths, 1);
	assert_int_equal(ram(x)[A_DEATHS], 0x01);
	/* A reset starts over: full health, no deaths, the start screen. */
	x->ops->reset(x->env, &x->io, 0, 5);
	assert_int_equal(x->st[0].health, 8);
	assert_int_equal(x->st[0].deaths, 0);
	assert_int_equal(x->st[0].frame, 0);
	env_close(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quest),
		cmocka_unit_test(test_worlds_solvable),
		cmocka_unit_test(test_sword_kills),
		cmocka_unit_test(test_damage_and_death),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
