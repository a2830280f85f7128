/*
 * test_overworld_gen.c - the overworld env's world generator
 * (plugins/envs/overworld/overworld_gen.c, linked in directly: tests/integration/
 * overworld.cmake), checked on the worlds it makes: the sword's cave, the
 * Maku Tree's gate and the dungeon entrance lie at the screen distances
 * the params ask for, counted as the shortest walk over open screen edges
 * from the start screen (configs/overworld-hard.yaml's 16 x 16 world with
 * 2, 6 and 12 on many seeds), and the quest stays solvable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugins/envs/overworld/overworld.h"

/* The defaults of the overworld's parameter table (overworld.c). */
static struct ow_params defaults(void)
{
	struct ow_params p = {
	    .world_seed = 1, .width = 8, .height = 8, .max_steps = 2048, .extra_exits = 0.25,
	    .obstacle_density = 0.18, .water_share = 0.3, .bush_density = 0.06,
	    .enemies_per_screen = 1.0, .dungeon_enemies = 2.0, .enemy_move_prob = 0.5,
	    .drop_prob = 0.35, .heart_drop_share = 0.5, .bush_drop_prob = 0.1, .enemy_hp = 1,
	    .enemy_damage = 2, .invuln_steps = 8, .start_hearts = 3, .sword_distance = 1,
	    .maku_distance = 3, .dungeon_distance = 5, .dungeon_rooms = 5, .caves = 3,
	    .talk_steps = 3, .view_radius = 2, .rupee_pile = 5,
	};
	return p;
}

/* Screens between the start screen and `to`, walking over open edges. */
static int distance(const struct ow_world *w, int to)
{
	int dist[OW_MAX_GRID * OW_MAX_GRID], queue[OW_MAX_GRID * OW_MAX_GRID];
	int head = 0, tail = 0;

	for (int i = 0; i < w->n_overworld; i++)
		dist[i] = -1;
	dist[w->start_room] = 0;
	queue[tail++] = w->start_room;
	while (head < tail) {
		int r = queue[head++];
		for (int d = 0; d < 4; d++) {
			int n = w->rooms[r].exit[d];
			if (n >= 0 && dist[n] < 0) {
				dist[n] = dist[r] + 1;
				queue[tail++] = n;
			}
		}
	}
	return dist[to];
}

static struct ow_world *make(const struct ow_params *p)
{
	struct ow_world *w = malloc(sizeof(*w));
	char err[GNARL_ERR_SIZE] = "";

	assert_non_null(w);
	if (gnarl_overworld_gen_world(p, w, err))
		fail_msg("world_seed %llu: %s", (unsigned long long)p->world_seed, err);
	return w;
}

/* configs/overworld-hard.yaml's world on 40 seeds: exact distances. */
static void test_hard_distances(void **unused)
{
	struct ow_params p = defaults();

	p.width = p.height = 16;
	p.sword_distance = 2;
	p.maku_distance = 6;
	p.dungeon_distance = 12;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct ow_world *w;
		p.world_seed = seed;
		w = make(&p);
		assert_int_equal(w->n_overworld, 256);
		assert_int_equal(distance(w, w->sword_screen), 2);
		assert_int_equal(distance(w, w->maku_screen), 6);
		assert_int_equal(distance(w, w->dungeon_screen), 12);
		assert_true(gnarl_overworld_gen_solvable(w));
		free(w);
	}
}

/* Other distances are honoured too, the default world's among them, and
 * the three places are three different screens. */
static void test_other_distances(void **unused)
{
	static const int want[][3] = {{0, 3, 5}, {1, 3, 5}, {4, 9, 20}, {2, 4, 7}};

	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		struct ow_params p = defaults();
		struct ow_world *w;
		p.width = p.height = want[k][2] > 10 ? 16 : 8;
		p.sword_distance = want[k][0];
		p.maku_distance = want[k][1];
		p.dungeon_distance = want[k][2];
		w = make(&p);
		assert_int_equal(distance(w, w->sword_screen), want[k][0]);
		assert_int_equal(distance(w, w->maku_screen), want[k][1]);
		assert_int_equal(distance(w, w->dungeon_screen), want[k][2]);
		assert_true(w->maku_screen != w->dungeon_screen);
		assert_true(w->sword_screen != w->maku_screen && w->sword_screen != w->dungeon_screen);
		free(w);
	}
}

/* A distance the maze cannot offer (a 2 x 2 world has none beyond 3)
 * takes the nearest the maze has: the world is still made and solvable. */
static void test_too_far(void **unused)
{
	struct ow_params p = defaults();
	struct ow_world *w;

	p.width = p.height = 2;
	p.sword_distance = 0;
	p.maku_distance = 30;
	p.dungeon_distance = 30;
	w = make(&p);
	assert_true(distance(w, w->maku_screen) >= 1 && distance(w, w->maku_screen) <= 3);
	assert_true(distance(w, w->dungeon_screen) >= 1 && distance(w, w->dungeon_screen) <= 3);
	assert_true(gnarl_overworld_gen_solvable(w));
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hard_distances),
	    cmocka_unit_test(test_other_distances),
	    cmocka_unit_test(test_too_far),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
