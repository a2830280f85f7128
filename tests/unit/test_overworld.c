/*
 * test_overworld.c - the overworld env plugin through the ABI: its
 * descriptor and spaces, truncation, the observation and the RAM image
 * agreeing with the game state at every step of random play, bit-identical
 * runs for a seed, disjoint env ranges stepped from two threads, and
 * frames.  The game's mechanics are played in test_overworld_quest.c.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "overworld_test.h"

static void test_descriptor(void **unused)
{
	struct envx *x = env_open(NULL, 1);
	struct gnarl_env_spaces sp;
	static const char *const names[] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};
	char err[GNARL_ERR_SIZE] = "";

	assert_int_equal(x->desc->kind, GNARL_KIND_ENV);
	assert_string_equal(x->desc->name, "overworld");
	x->ops->spaces(x->env, &sp);
	assert_int_equal(sp.n_actions, 7);
	for (int i = 0; i < 7; i++)
		assert_string_equal(sp.action_names[i], names[i]);
	assert_int_equal(sp.obs_dim, 29 + 25 * 7);   /* view_radius 2 */
	assert_true(sp.has_frames && sp.has_game_state);
	if (gnarl_config_check_table(x->desc->params, "overworld", err))
		fail_msg("%s", err);
	for (const struct gnarl_param *p = x->desc->params; p->name; p++) {
		assert_non_null(p->help);
		assert_non_null(p->default_yaml);
		if (p->type != GNARL_PARAM_BOOL)
			assert_true((p->flags & GNARL_PARAM_HAS_MIN) && (p->flags & GNARL_PARAM_HAS_MAX));
	}
	/* The start: overworld, full health, no sword, facing down, at a tile
	 * centre in pixels. */
	assert_int_equal(x->st[0].group, 0);
	assert_int_equal(x->st[0].dungeon, -1);
	assert_int_equal(x->st[0].health, 12);
	assert_int_equal(x->st[0].max_health, 12);
	assert_int_equal(x->st[0].sword_level, 0);
	assert_int_equal(x->st[0].direction, GNARL_DIR_DOWN);
	assert_int_equal(x->st[0].x % 16, 8);
	assert_int_equal(x->st[0].y % 16, 8);
	assert_int_equal(x->st[0].ram_size, 0x8000);
	env_close(x);
	x = env_open("{view_radius: 4}", 1);
	x->ops->spaces(x->env, &sp);
	assert_int_equal(sp.obs_dim, 29 + 81 * 7);
	env_close(x);
}

static void test_truncation(void **unused)
{
	struct envx *x = env_open("{max_steps: 50}", 2);

	for (int t = 1; t <= 50; t++) {
		x->act[0] = NOP;
		x->act[1] = LEFT;
		x->ops->step(x->env, &x->io, 0, 2);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(x->st[i].frame, t);
			assert_int_equal(x->done[i], t == 50 ? GNARL_DONE_TRUNCATED : 0);
			assert_true(x->rew[i] == 0.0f);
		}
		assert_float_equal(x->obs[26], t / 50.0, 1e-6);
	}
	env_close(x);
}

static int bcd(int lo, int hi)
{
	return (lo & 15) + (lo >> 4) * 10 + ((hi & 15) + (hi >> 4) * 10) * 100;
}

/* The observation's tile window says what the RAM's layout and object
 * slots say; beyond the room's edge, an exit straight past an opening. */
static void check_window(const uint8_t *m, const float *win, int tx, int ty, int radius)
{
	int side = 2 * radius + 1;

	for (int dy = -radius; dy <= radius; dy++) {
		for (int dx = -radius; dx <= radius; dx++) {
			const float *c = win + ((dy + radius) * side + dx + radius) * 7;
			int cx = tx + dx, cy = ty + dy, t, solid, door;
			if (cx >= 0 && cy >= 0 && cx < 10 && cy < 8) {
				t = m[A_LAYOUT + cy * 16 + cx];
				assert_int_equal(m[A_COLLISIONS + cy * 16 + cx] != 0,
				                 t != T_FLOOR && t != T_DOOR);
				solid = t == T_TREE || t == T_ROCK || t == T_WALL;
				door = t == T_DOOR || t == T_LOCKED;
				assert_true(c[1] == (t == T_WATER) && c[2] == (t == T_BUSH));
				assert_true(c[6] == (t == T_MAKU));
				assert_true(c[4] == object_at(m, A_ENEMY(0), cx, cy));
				assert_true(c[5] == object_at(m, A_ITEM(0), cx, cy));
			} else {
				int ex = cx < 0 ? 0 : cx > 9 ? 9 : cx, ey = cy < 0 ? 0 : cy > 7 ? 7 : cy;
				door = (ex == cx || ey == cy) && m[A_LAYOUT + ey * 16 + ex] == T_FLOOR;
				solid = !door;
			}
			assert_true(c[0] == solid);
			assert_true((c[3] > 0) == door);
		}
	}
}

/* The RAM image says what the state says, and so does the observation. */
static void check_views(const struct envx *e, uint32_t i, int radius)
{
	const struct gnarl_game_state *s = &e->st[i];
	const uint8_t *m = s->ram;
	const float *o = e->obs + (size_t)i * e->obs_dim;
	int enemies = 0;

	assert_int_equal(m[A_GROUP], s->group);
	assert_int_equal(m[A_ROOM], s->room);
	assert_int_equal(m[A_DUNGEON], s->dungeon < 0 ? 0xff : s->dungeon);
	assert_int_equal(m[A_LINK + 0x0d], s->x);
	assert_int_equal(m[A_LINK + 0x0b], s->y);
	assert_int_equal(m[A_LINK + 0x08], s->direction);
	assert_int_equal(m[A_HEALTH], s->health);
	assert_int_equal(m[A_MAX_HEALTH], s->max_health);
	assert_int_equal(bcd(m[A_RUPEES], m[A_RUPEES + 1]), s->rupees);
	assert_int_equal(bcd(m[A_DEATHS], m[A_DEATHS + 1]), s->deaths);
	assert_int_equal(m[A_KILLED] | m[A_KILLED + 1] << 8, s->enemies_killed);
	assert_int_equal(m[A_SWORD], s->sword_level);
	assert_int_equal(m[A_TEXT], s->text_active);
	assert_memory_equal(m + A_TREASURES, s->treasures, 16);
	for (int k = 0; k < 16; k++)
		enemies += m[A_ENEMY(k)] != 0;
	assert_int_equal(enemies, s->enemies_visible);
	/* (cmocka's macro casts its first operand only: parenthesise) */
	assert_float_equal(o[0], ((s->x / 16) / 9.0), 1e-6);
	assert_float_equal(o[1], ((s->y / 16) / 7.0), 1e-6);
	assert_true(o[4 + (s->group == 2 ? 1 : s->group == 3 ? 2 : s->group == 4 ? 3 : 0)] == 1.0f);
	assert_true(o[8 + s->direction] == 1.0f);
	assert_float_equal(o[12], (double)s->health / s->max_health, 1e-6);
	assert_true(o[13] == (s->sword_level > 0));
	assert_true(o[15] == (s->dungeon >= 0));
	assert_float_equal(o[28], enemies / 4.0, 1e-6);
	check_window(m, o + 29, s->x / 16, s->y / 16, radius);
}

static void test_views_agree(void **unused)
{
	static const char *const params[] = {"{enemies_per_screen: 3, drop_prob: 1}",
	                                     "{view_radius: 4, world_seed: 3, sword_distance: 0}"};
	for (int p = 0; p < 2; p++) {
		struct envx *x = env_open(params[p], 3);
		uint64_t r = 99;
		int radius = p == 0 ? 2 : 4, resets = 0;
		for (uint32_t i = 0; i < 3; i++)
			check_views(x, i, radius);
		for (int t = 0; t < 4000; t++) {
			for (uint32_t i = 0; i < 3; i++)
				x->act[i] = lcg_action(&r);
			x->ops->step(x->env, &x->io, 0, 3);
			for (uint32_t i = 0; i < 3; i++) {
				check_views(x, i, radius);
				if (x->done[i]) {
					x->ops->reset(x->env, &x->io, i, (uint64_t)t);
					check_views(x, i, radius);
					resets++;
				}
			}
		}
		assert_true(resets > 0);
		env_close(x);
	}
}

/* Run 4 envs for `steps` fixed actions, with frames of env 1; the
 * trajectory is hashed into *h (states without their RAM pointer). */
static void run_fixed(struct envx *x, int steps, uint64_t *h)
{
	uint64_t r = 7;

	for (uint32_t i = 0; i < x->n; i++)
		x->ops->reset(x->env, &x->io, i, 1000 + i);
	for (int t = 0; t < steps; t++) {
		for (uint32_t i = 0; i < x->n; i++)
			x->act[i] = lcg_action(&r);
		x->want[1] = t % 50 == 0;
		x->ops->step(x->env, &x->io, 0, x->n);
		for (uint32_t i = 0; i < x->n; i++) {
			struct gnarl_game_state s = x->st[i];
			const uint8_t *bytes[4] = {(const uint8_t *)&s, (const uint8_t *)(x->obs + i * x->obs_dim),
			                           s.ram, &x->done[i]};
			size_t len[4] = {sizeof(s), x->obs_dim * sizeof(float), 0x8000, 1};
			s.ram = NULL;
			for (int b = 0; b < 4; b++)
				for (size_t k = 0; k < len[b]; k++)
					*h = (*h ^ bytes[b][k]) * 1099511628211ull;
			if (x->done[i])
				x->ops->reset(x->env, &x->io, i, (uint64_t)t * 31 + i);
		}
		if (x->want[1])
			for (size_t k = 0; k < GNARL_FRAME_BYTES; k++)
				*h = (*h ^ x->frames[GNARL_FRAME_BYTES + k]) * 1099511628211ull;
	}
}

static void test_deterministic(void **unused)
{
	uint64_t h1 = 14695981039346656037ull, h2 = h1, h3 = h1;
	struct envx *a = env_open("{world_seed: 7, enemies_per_screen: 2}", 4);
	struct envx *b = env_open("{world_seed: 7, enemies_per_screen: 2}", 4);
	struct envx *c = env_open("{world_seed: 8, enemies_per_screen: 2}", 4);

	run_fixed(a, 3000, &h1);
	run_fixed(b, 3000, &h2);
	run_fixed(c, 3000, &h3);
	assert_true(h1 == h2);
	assert_true(h1 != h3);
	env_close(a);
	env_close(b);
	env_close(c);
}

struct range_job {
	struct envx *x;
	uint32_t first, count;
};

static void *step_range(void *arg)
{
	struct range_job *j = arg;

	j->x->ops->step(j->x->env, &j->x->io, j->first, j->count);
	return NULL;
}

/* Disjoint ranges stepped from two threads give what one call gives. */
static void test_concurrent_ranges(void **unused)
{
	struct envx *a = env_open("{enemies_per_screen: 2}", 16);
	struct envx *b = env_open("{enemies_per_screen: 2}", 16);
	uint64_t r = 3;

	for (int t = 0; t < 2000; t++) {
		struct range_job lo = {b, 0, 7}, hi = {b, 7, 9};
		pthread_t tl, th;
		for (uint32_t i = 0; i < 16; i++)
			a->act[i] = b->act[i] = lcg_action(&r);
		a->ops->step(a->env, &a->io, 0, 16);
		assert_int_equal(pthread_create(&tl, NULL, step_range, &lo), 0);
		assert_int_equal(pthread_create(&th, NULL, step_range, &hi), 0);
		pthread_join(tl, NULL);
		pthread_join(th, NULL);
		assert_memory_equal(a->obs, b->obs, 16 * a->obs_dim * sizeof(float));
		assert_memory_equal(a->done, b->done, 16);
		for (uint32_t i = 0; i < 16; i++) {
			assert_memory_equal(a->st[i].ram, b->st[i].ram, 0x8000);
			if (a->done[i]) {
				a->ops->reset(a->env, &a->io, i, (uint64_t)t);
				b->ops->reset(b->env, &b->io, i, (uint64_t)t);
			}
		}
	}
	env_close(a);
	env_close(b);
}

static const uint8_t *pixel(const uint8_t *frame, int x, int y)
{
	return frame + (y * GNARL_FRAME_WIDTH + x) * 3;
}

static void test_frames(void **unused)
{
	struct envx *x = env_open(NULL, 2);
	uint8_t *before = malloc(GNARL_FRAME_BYTES);
	const uint8_t *link;
	int px, py;

	/* Not wanted: not written. */
	memset(x->frames, 0xab, 2 * GNARL_FRAME_BYTES);
	x->ops->reset(x->env, &x->io, 0, 1);
	act(x, NOP);
	for (size_t k = 0; k < 2 * GNARL_FRAME_BYTES; k++)
		assert_int_equal(x->frames[k], 0xab);
	/* Wanted on reset: the status bar's bottom line is black, and Link
	 * (facing down) is drawn at his tile: the green of his tunic at row
	 * 11, column 3 of his sprite, skin at row 6, column 3. */
	x->want[0] = 1;
	x->ops->reset(x->env, &x->io, 0, 1);
	assert_true(x->frames[GNARL_FRAME_BYTES] == 0xab);  /* env 1 untouched */
	for (int i = 0; i < GNARL_FRAME_WIDTH; i++)
		assert_true(pixel(x->frames, i, 15)[0] < 32);
	px = x->st[0].x - 8;
	py = 16 + x->st[0].y - 8;
	link = pixel(x->frames, px + 3, py + 11);
	assert_true(link[1] > 150 && link[0] < 100 && link[2] < 100);
	link = pixel(x->frames, px + 3, py + 6);
	assert_true(link[0] > 240 && link[1] > 180 && link[2] > 130);
	write_png("09_reset", x->frames);
	memcpy(before, x->frames, GNARL_FRAME_BYTES);
	/* Turning changes the picture. */
	act(x, UP);
	act(x, LEFT);
	assert_memory_not_equal(before, x->frames, GNARL_FRAME_BYTES);
	free(before);
	env_close(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),   cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_views_agree),  cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_concurrent_ranges), cmocka_unit_test(test_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
