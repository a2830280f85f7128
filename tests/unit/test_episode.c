/*
 * test_episode.c - per-env episode accounting from game states (rooms by
 * (group, room), dungeons, enemy counter delta, milestones gained), reward
 * sums, the window of the last episodes and the checkpoint views.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "episode.h"

static struct gnarl_game_state state(int group, int room, int dungeon, int kills)
{
	struct gnarl_game_state s;

	memset(&s, 0, sizeof(s));
	s.size = GNARL_GAME_STATE_V1_SIZE;
	s.group = group;
	s.room = room;
	s.dungeon = dungeon;
	s.enemies_killed = kills;
	return s;
}

static void test_from_states(void **state_)
{
	struct gnarl_episode *e;
	struct gnarl_episode_record rec;
	char err[GNARL_ERR_SIZE];
	struct gnarl_game_state s[6];
	const float terms[2 * 2] = {1.5f, 0.0f, -0.25f, 0.0f}; /* (K=2, stride 2) */

	(void)state_;
	assert_int_equal(gnarl_episode_create(2, 2, 100, &e, err), 0);
	s[0] = state(0, 5, -1, 10);
	gnarl_set_treasure(&s[0], 0x30); /* an unrelated treasure */
	s[1] = state(0, 5, -1, 10);
	s[2] = state(0, 6, -1, 11);
	gnarl_set_treasure(&s[2], GNARL_TREASURE_SWORD);
	s[3] = state(3, 5, -1, 12);      /* room 5 again, but indoors: new */
	gnarl_set_treasure(&s[3], GNARL_TREASURE_SWORD);
	s[4] = state(GNARL_GROUP_MAKU_TREE, 5, -1, 12);
	gnarl_set_treasure(&s[4], GNARL_TREASURE_SWORD);
	s[5] = state(4, 1, 0, 13);       /* dungeon 0 */
	gnarl_set_treasure(&s[5], GNARL_TREASURE_SWORD);

	gnarl_episode_begin(e, 1, &s[0]);
	for (int i = 1; i < 6; i++)
		gnarl_episode_step(e, 1, 2.0f, 0.75f, terms, 2, &s[i]);
	assert_int_equal(gnarl_episode_number(e, 1), 0);
	gnarl_episode_end(e, 1, GNARL_DONE_TRUNCATED, &rec);
	assert_int_equal(rec.env, 1);
	assert_int_equal(rec.episode, 0);
	assert_int_equal(rec.length, 5);
	assert_float_equal(rec.ret, 10.0, 1e-12);
	assert_float_equal(rec.env_reward, 3.75, 1e-12);
	assert_int_equal(rec.n_terms, 2);
	assert_float_equal(rec.terms[0], 7.5, 1e-12);
	assert_float_equal(rec.terms[1], -1.25, 1e-12);
	assert_true(rec.has_state);
	/* (0,5) (0,6) (3,5) (2,5) (4,1) */
	assert_int_equal(rec.rooms, 5);
	assert_int_equal(rec.dungeons, 1);
	assert_int_equal(rec.enemies_killed, 3);
	assert_int_equal(rec.milestones, GNARL_MILESTONE_SWORD | GNARL_MILESTONE_MAKU_TREE |
	                                     GNARL_MILESTONE_DUNGEON);
	assert_false(rec.terminated);
	assert_true(rec.truncated);
	assert_int_equal(gnarl_episode_number(e, 1), 1);
	assert_int_equal(gnarl_episode_number(e, 0), 0);

	/* A milestone held from the start is not gained; sums restart. */
	gnarl_episode_begin(e, 1, &s[5]);
	gnarl_episode_step(e, 1, 1.0f, 1.0f, terms, 2, &s[5]);
	gnarl_episode_end(e, 1, GNARL_DONE_TERMINATED, &rec);
	assert_int_equal(rec.episode, 1);
	assert_int_equal(rec.milestones, 0);
	assert_int_equal(rec.rooms, 1);
	assert_int_equal(rec.enemies_killed, 0);
	assert_float_equal(rec.terms[0], 1.5, 1e-12);
	assert_true(rec.terminated);
	gnarl_episode_free(e);
}

/* Mid-transition states (GNARL_STATE_TRANSITION) count no room or
 * dungeon: the room may be the next one before Link is there. */
static void test_transition_counts_nothing(void **state_)
{
	struct gnarl_episode *e;
	struct gnarl_episode_record rec;
	char err[GNARL_ERR_SIZE];
	struct gnarl_game_state s0 = state(0, 5, -1, 0), mid = state(0, 6, -1, 0);
	struct gnarl_game_state door = state(4, 1, 0, 0);

	(void)state_;
	mid.flags = GNARL_STATE_TRANSITION;
	door.flags = GNARL_STATE_TRANSITION;
	assert_int_equal(gnarl_episode_create(1, 0, 10, &e, err), 0);
	gnarl_episode_begin(e, 0, &s0);
	gnarl_episode_step(e, 0, 0.0f, 0.0f, NULL, 1, &mid);  /* scrolled back: never in 6 */
	gnarl_episode_step(e, 0, 0.0f, 0.0f, NULL, 1, &s0);
	gnarl_episode_step(e, 0, 0.0f, 0.0f, NULL, 1, &door);
	gnarl_episode_end(e, 0, GNARL_DONE_TRUNCATED, &rec);
	assert_int_equal(rec.rooms, 1);
	assert_int_equal(rec.dungeons, 0);
	mid.flags = 0;                                       /* settled in room 6 */
	gnarl_episode_begin(e, 0, &s0);
	gnarl_episode_step(e, 0, 0.0f, 0.0f, NULL, 1, &mid);
	gnarl_episode_end(e, 0, GNARL_DONE_TRUNCATED, &rec);
	assert_int_equal(rec.rooms, 2);
	gnarl_episode_free(e);
}

static void test_without_state(void **state_)
{
	struct gnarl_episode *e;
	struct gnarl_episode_record rec;
	char err[GNARL_ERR_SIZE];

	(void)state_;
	assert_int_equal(gnarl_episode_create(1, 0, 10, &e, err), 0);
	gnarl_episode_begin(e, 0, NULL);
	for (int i = 0; i < 3; i++)
		gnarl_episode_step(e, 0, 1.0f, 1.0f, NULL, 1, NULL);
	gnarl_episode_end(e, 0, GNARL_DONE_TERMINATED, &rec);
	assert_false(rec.has_state);
	assert_int_equal(rec.rooms, 0);
	assert_int_equal(rec.length, 3);
	assert_float_equal(rec.ret, 3.0, 0);
	gnarl_episode_free(e);
}

static void test_window(void **state_)
{
	struct gnarl_episode *e;
	struct gnarl_episode_record rec;
	struct gnarl_episode_means m;
	struct gnarl_tensor t[8];
	char err[GNARL_ERR_SIZE];
	float term[1];
	struct gnarl_game_state s = state(0, 1, -1, 0);

	(void)state_;
	assert_int_equal(gnarl_episode_create(3, 1, 100, &e, err), 0);
	gnarl_episode_means(e, &m);
	assert_int_equal(m.count, 0);
	assert_float_equal(m.ret, 0.0, 0);
	/* 150 episodes of return k and length k (k = 1..150), spread over 3 envs. */
	for (int k = 1; k <= 150; k++) {
		uint32_t env = (uint32_t)(k % 3);
		gnarl_episode_begin(e, env, &s);
		term[0] = 0.5f;
		for (int i = 0; i < k; i++)
			gnarl_episode_step(e, env, 1.0f, 1.0f, term, 1, &s);
		gnarl_episode_end(e, env, GNARL_DONE_TERMINATED, &rec);
		gnarl_episode_add(e, &rec);
	}
	gnarl_episode_means(e, &m);
	assert_int_equal(m.count, 100);
	assert_float_equal(m.ret, 100.5, 1e-9); /* mean of 51..150 */
	assert_float_equal(m.length, 100.5, 1e-9);
	assert_float_equal(m.terms[0], 50.25, 1e-9);
	assert_float_equal(m.rooms, 1.0, 0);
	assert_int_equal(gnarl_episode_total(e), 150);
	assert_int_equal(gnarl_episode_tensors(e, t, 8), 5);
	assert_string_equal(t[0].name, "episode.numbers");
	assert_int_equal(t[0].shape[0], 3);
	assert_int_equal(((uint64_t *)t[0].data)[0], 50);
	assert_int_equal(*(uint64_t *)t[1].data, 150);
	/* Writing the view (a restore) moves the episode numbers. */
	((uint64_t *)t[0].data)[2] = 1000;
	assert_int_equal(gnarl_episode_number(e, 2), 1000);

	/* The window restored into a fresh tracker gives the same means. */
	struct gnarl_episode *e2;
	struct gnarl_tensor t2[8];
	struct gnarl_episode_means m2;
	assert_int_equal(gnarl_episode_create(3, 1, 100, &e2, err), 0);
	gnarl_episode_tensors(e2, t2, 8);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(t[i].name, t2[i].name);
		assert_int_equal(t[i].ndim, t2[i].ndim);
		assert_memory_equal(t[i].shape, t2[i].shape, sizeof(t[i].shape));
		size_t bytes = 8;
		for (uint32_t d = 0; d < t[i].ndim; d++)
			bytes *= t[i].shape[d];
		memcpy(t2[i].data, t[i].data, bytes);
	}
	gnarl_episode_means(e2, &m2);
	assert_int_equal(m2.count, 100);
	assert_float_equal(m2.ret, 100.5, 1e-9);
	assert_float_equal(m2.terms[0], 50.25, 1e-9);
	assert_int_equal(gnarl_episode_total(e2), 150);
	gnarl_episode_free(e2);
	gnarl_episode_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_from_states),
	    cmocka_unit_test(test_transition_counts_nothing),
	    cmocka_unit_test(test_without_state),
	    cmocka_unit_test(test_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
