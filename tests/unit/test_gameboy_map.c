/*
 * test_gameboy_map.c - the gameboy env's reading of the room and of who has
 * control, on the free test cartridge through the plugin ABI (helpers in
 * gameboy_test.h): the large room at the game's size, typed collision
 * planes (blocked share, hazard, door, outside), the transition flag and
 * steps that wait transitions and text boxes out (or not), the actions
 * param (START opens the menu), and the self-check stopping create on a
 * wrong address with the field, its address and what was seen.
 */
#include "gameboy_test.h"

#define W 9                     /* collision_window */
#define PLANE (W * W)
enum { BLOCKED, HAZARD, DOOR, OUTSIDE };

/* Plane p of the window at room tile (tx, ty), Link at (x, y). */
static float tile_obs(const struct gb_harness *g, uint32_t i, int p, int tx, int ty)
{
	const struct gnarl_game_state *s = &g->states[i];
	int dx = tx - (s->x >> 4) + W / 2, dy = ty - (s->y >> 4) + W / 2;

	assert_true(dx >= 0 && dx < W && dy >= 0 && dy < W);
	return g->obs[(size_t)i * g->sp.obs_dim + 28 + (size_t)p * PLANE + (size_t)(dy * W + dx)];
}

/* The dungeon's entry room, then east into the large room $06. */
#define TO_DUNGEON "UUUUUUUULUUU"
#define TO_LARGE TO_DUNGEON "RRRRRRR"

static void test_large_room(void **state)
{
	struct gb_harness g;
	const struct gnarl_game_state *s;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	gb_run(&g, 0, TO_LARGE);
	assert_int_equal(s->group, GNARL_GROUP_DUNGEON);
	assert_int_equal(s->room, 0x06);
	assert_int_equal(s->flags, 0);
	assert_int_equal(W0(s->ram, 0xCC4A), 1);       /* wRoomIsLarge */
	assert_int_equal(W0(s->ram, 0xCD0A), 30);      /* 15 tiles */
	assert_int_equal(W0(s->ram, 0xCD0B), 22);      /* 11 tiles */
	check_against_ram(s);
	/* East into the room's far half: past the 10 x 8 of a small room. */
	gb_run(&g, 0, "RRRRRRRRRR");
	assert_true(s->x >= 176);
	assert_int_equal(s->room, 0x06);
	/* Column 14 is the room's east wall, column 15 beyond it; row 8 is
	 * inside (11 rows), not outside as in a small room. */
	assert_float_equal(tile_obs(&g, 0, BLOCKED, 14, 4), 1.0, 0);
	assert_float_equal(tile_obs(&g, 0, OUTSIDE, 14, 4), 0.0, 0);
	assert_float_equal(tile_obs(&g, 0, OUTSIDE, 15, 4), 1.0, 0);
	assert_float_equal(tile_obs(&g, 0, BLOCKED, 15, 4), 0.0, 0);
	assert_float_equal(tile_obs(&g, 0, OUTSIDE, (s->x >> 4), 8), 0.0, 0);
	assert_float_equal(tile_obs(&g, 0, BLOCKED, 11, 5), 0.5, 0);  /* '_' $03 */
	assert_float_equal(tile_obs(&g, 0, BLOCKED, 10, 2), 0.5, 0);  /* '^' $0C */
	gb_harness_close(&g);
}

/* Water ($10): no wall, a hazard; the bridge ($19): half its pixel rows
 * solid; doors ($0C in room $01): the door plane. */
static void test_typed_planes(void **state)
{
	struct gb_harness g;
	const struct gnarl_game_state *s;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	gb_run(&g, 0, TO_LARGE);
	assert_int_equal(s->room, 0x06);
	gb_run(&g, 0, "RR");                       /* the pond in the window */
	assert_float_equal(tile_obs(&g, 0, HAZARD, 3, 2), 1.0, 0);
	assert_float_equal(tile_obs(&g, 0, BLOCKED, 3, 2), 0.0, 0);
	assert_float_equal(tile_obs(&g, 0, BLOCKED, 5, 5), 0.5, 0);   /* bridge */
	assert_float_equal(tile_obs(&g, 0, HAZARD, 5, 5), 0.0, 0);
	assert_float_equal(tile_obs(&g, 0, HAZARD, 6, 5), 1.0, 0);
	assert_float_equal(tile_obs(&g, 0, OUTSIDE, -1, 3), 1.0, 0);  /* the west opening */
	gb_harness_close(&g);

	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	gb_run(&g, 0, "UUUUUUUUL");                /* room $01, below its door */
	assert_int_equal(s->room, 0x01);
	for (int tx = 3; tx <= 4; tx++) {
		assert_float_equal(tile_obs(&g, 0, DOOR, tx, 2), 1.0, 0);
		assert_float_equal(tile_obs(&g, 0, BLOCKED, tx, 2), 0.5, 0);
	}
	assert_float_equal(tile_obs(&g, 0, DOOR, 2, 2), 0.0, 0);
	assert_float_equal(tile_obs(&g, 0, BLOCKED, 2, 2), 1.0, 0);
	gb_harness_close(&g);
}

/* Water hurts and puts Link back where he came in. */
static void test_water_hurts(void **state)
{
	struct gb_harness g;
	const struct gnarl_game_state *s;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	int health;

	gb_run(&g, 0, TO_LARGE "UU");
	health = s->health;                        /* the dungeon's enemy may have hit */
	assert_int_equal(s->y, 72 - 32);           /* row 2, west of the pond */
	gb_run(&g, 0, "RR");                       /* into it */
	assert_int_equal(s->health, health - 2);
	assert_true(s->x < 48);                    /* back where he came in, */
	assert_int_equal(s->y, 72);                /* row 4 */
	assert_int_equal(s->room, 0x06);
	check_against_ram(s);
	gb_harness_close(&g);
}

/* Without waiting, a step can end mid-transition: the room is already the
 * next one, x still the last room's, and the flag says so.  With the
 * default wait, steps end when the screen is still. */
static void test_transition_flag(void **state)
{
	const char *no_wait[] = {"env.params.wait_for_control=0"};
	struct gb_harness g;
	const struct gnarl_game_state *s;
	bool flagged = false;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, no_wait, 1);
	s = &g.states[0];
	gb_run(&g, 0, "LLLLL");
	assert_int_equal(s->room, 0x10);
	assert_true(s->flags & GNARL_STATE_TRANSITION);
	assert_true(s->x < 140 || s->x > 160);         /* not yet the new room's 155 */
	assert_int_equal(s->frame, 5 * 16);
	check_against_ram(s);
	for (int k = 0; k < 3 && (s->flags & GNARL_STATE_TRANSITION); k++)
		gb_run(&g, 0, "N");
	assert_int_equal(s->flags, 0);
	assert_int_equal(s->x, 155);
	gb_harness_close(&g);

	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	for (int k = 0; k < 5; k++) {
		gb_run(&g, 0, "L");
		flagged |= (s->flags & GNARL_STATE_TRANSITION) != 0;
	}
	assert_false(flagged);
	assert_int_equal(s->room, 0x10);
	assert_int_equal(s->x, 155);
	assert_int_equal(s->frame, 5 * 16 + 32);       /* two steps waited out */
	gb_harness_close(&g);
}

/* The sword's text box: closed by the env's A (advance_text), or left to
 * the agent after wait_for_control steps. */
static void test_text_boxes(void **state)
{
	const char *keep[] = {"env.params.advance_text=false", "env.params.wait_for_control=3"};
	struct gb_harness g;
	const struct gnarl_game_state *s;
	uint64_t frame = 0;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	gb_run(&g, 0, "LLLLLLLLLLLL");
	assert_true(gnarl_has_treasure(s, GNARL_TREASURE_SWORD));
	assert_int_equal(s->text_active, 0);
	gb_harness_close(&g);

	gb_must_open(&g, 1, keep, 2);
	s = &g.states[0];
	for (int k = 0; k < 12 && !gnarl_has_treasure(s, GNARL_TREASURE_SWORD); k++) {
		frame = s->frame;
		gb_run(&g, 0, "L");
	}
	assert_true(gnarl_has_treasure(s, GNARL_TREASURE_SWORD));
	assert_int_equal(s->text_active, 1);
	assert_int_equal(s->frame - frame, 16 * (1 + 3));  /* the step and its 3 waits */
	gb_run(&g, 0, "A");
	assert_int_equal(s->text_active, 0);
	check_against_ram(s);
	gb_harness_close(&g);
}

static void test_actions_param(void **state)
{
	const char *menu[] = {"env.params.actions=[NOP, UP, START, up+a]"};
	const char *bad[][1] = {{"env.params.actions=[UP, NOP]"},
	                        {"env.params.actions=[NOP, JUMP]"},
	                        {"env.params.actions=[NOP, A, a]"},
	                        {"env.params.actions=[]"}};
	const char *want[] = {"first action must be NOP", "'JUMP' is not a button",
	                      "presses the same buttons as 'A'", "give 1 to 32 actions"};
	struct gb_harness g;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, menu, 1);
	assert_int_equal(g.sp.n_actions, 4);
	assert_string_equal(g.sp.action_names[2], "START");
	assert_string_equal(g.sp.action_names[3], "up+a");
	g.actions[0] = 2;
	g.ops->step(g.env, &g.io, 0, 1);
	assert_int_equal(g.states[0].menu_open, 1);
	g.actions[0] = 0;
	g.ops->step(g.env, &g.io, 0, 1);
	g.actions[0] = 2;
	g.ops->step(g.env, &g.io, 0, 1);
	assert_int_equal(g.states[0].menu_open, 0);
	g.actions[0] = 3;                               /* UP+A: up, A swings nothing */
	g.ops->step(g.env, &g.io, 0, 1);
	assert_int_equal(g.states[0].y, 64 - 16);
	gb_harness_close(&g);
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		expect_open_error(NULL, bad[k], 1, "params.actions", want[k]);
}

/* One wrong address, and the self-check says which field, where, and what
 * it saw; self_check: off lets it through. */
static void test_self_check_wrong_address(void **state)
{
	static const struct {
		const char *set, *want1, *want2;
	} cases[] = {
	    {"env.params.ram_map.x.address=0xD00C", "x ($D00C bank 1)", "not Link's x"},
	    {"env.params.ram_map.y.address=0xD00A", "y ($D00A bank 1)", "not Link's y"},
	    {"env.params.ram_map.direction.address=0xD009", "direction ($D009 bank 1)",
	     "the game's code for"},
	    {"env.params.ram_map.room.address=0xCC4D", "room ($CC4D)", "stayed $00 while Link"},
	    {"env.params.ram_map.group.address=0xCC4C", "group ($CC4C)", "reads 17"},
	    {"env.params.ram_map.max_health.address=0xC6A4", "max_health ($C6A4)", "reads 0"},
	    {"env.params.ram_map.rupees.address=0xC6A3", "rupees ($C6A3)", "decimal digits"},
	    {"env.params.ram_map.transition.address=0xCD01", "transition ($CD01)", "not idle"},
	    {"env.params.ram_map.transition.idle=0", "transition ($CD00)", "not idle"},
	};
	const char *off[] = {cases[0].set, "env.params.self_check=off"};
	struct gb_harness g;

	(void)state;
	SKIP_WITHOUT_ROM();
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const char *sets[] = {cases[k].set};

		expect_open_error(NULL, sets, 1, cases[k].want1, cases[k].want2);
		expect_open_error(NULL, sets, 1, "self-check of params.ram_map failed", NULL);
	}
	gb_must_open(&g, 1, off, 2);
	gb_harness_close(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_large_room),
	    cmocka_unit_test(test_typed_planes),
	    cmocka_unit_test(test_water_hurts),
	    cmocka_unit_test(test_transition_flag),
	    cmocka_unit_test(test_text_boxes),
	    cmocka_unit_test(test_actions_param),
	    cmocka_unit_test(test_self_check_wrong_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
