/*
 * test_term.c - core/plugin/term.c: a reward term's instance and the
 * per-env memory the host keeps for it (ABI 1.1).  Terms here are ops
 * tables of this file: one with memory that records what the host did, a
 * 1.1 term without destroy or episode_start, a 1.0 one (no memory ops in
 * its table's size), one whose create fails and one asking for more memory
 * than exists.  The real terms are in test_rewards.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "term.h"

#define N 3
#define M 16

/* A term with memory: each compute pays the env's memory's first byte and
 * counts its steps in the second; episode_start writes 7 into the third
 * (after the host zeroed the block) and checks the block was zero. */
struct recorder {
	unsigned char *memory;
	int connects, starts, dirty_starts, computes_before_connect;
	size_t asked;
};

static struct recorder *last;
static int connects; /* connect_memory calls of every instance */

static void *rec_create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	(void)host;
	(void)n_envs;
	(void)err;
	last = calloc(1, sizeof(*last));
	last->asked = M;
	return last;
}

static void rec_destroy(void *term)
{
	free(term);
}

static size_t rec_memory_size(void *term)
{
	return ((struct recorder *)term)->asked;
}

static void rec_connect(void *term, void *memory)
{
	struct recorder *r = term;

	r->memory = memory;
	r->connects++;
	connects++;
}

static void rec_start(void *term, uint32_t n, const struct gnarl_game_state *s)
{
	struct recorder *r = term;
	unsigned char *m = r->memory + (size_t)n * M;

	(void)s;
	for (int i = 0; i < M; i++)
		r->dirty_starts += m[i] != 0;
	m[2] = 7;
	r->starts++;
}

static void rec_compute(void *term, uint32_t first, uint32_t count,
                        const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                        const int32_t *actions, float *out)
{
	struct recorder *r = term;

	(void)prev;
	(void)cur;
	(void)actions;
	if (!r->memory) {
		r->computes_before_connect++;
		return;
	}
	for (uint32_t n = first; n < first + count; n++) {
		unsigned char *m = r->memory + (size_t)n * M;
		out[n] = m[0];
		m[1]++;
	}
}

static const struct gnarl_reward_ops rec_ops = {
	.size = sizeof(struct gnarl_reward_ops),
	.create = rec_create,
	.destroy = rec_destroy,
	.episode_start = rec_start,
	.compute = rec_compute,
	.memory_size = rec_memory_size,
	.connect_memory = rec_connect,
};

static void test_memory_lifecycle(void **unused)
{
	struct gnarl_term *t;
	char err[GNARL_ERR_SIZE];
	float out[N] = {0};
	unsigned char saved[N * M];

	(void)unused;
	assert_int_equal(gnarl_term_create(&rec_ops, NULL, N, &t, err), 0);
	assert_int_equal(t->memory_size, M);
	assert_int_equal(last->connects, 1);
	assert_ptr_equal(last->memory, t->memory);
	for (size_t i = 0; i < N * M; i++)
		assert_int_equal(t->memory[i], 0);
	/* Env 1 plays: its memory fills, a new episode zeroes it first. */
	gnarl_term_episode_start(t, 1, NULL);
	t->memory[M + 0] = 5;
	gnarl_term_compute(t, 0, N, NULL, NULL, NULL, out);
	assert_true(out[0] == 0 && out[1] == 5 && out[2] == 0);
	assert_int_equal(t->memory[M + 1], 1);
	assert_int_equal(t->memory[M + 2], 7);
	gnarl_term_episode_start(t, 1, NULL);
	assert_int_equal(last->dirty_starts, 0);
	assert_int_equal(t->memory[M + 0], 0);
	assert_int_equal(t->memory[0 * M + 1], 1); /* env 0 untouched */
	/* Saved memory comes back whole, or not at all. */
	memcpy(saved, t->memory, sizeof(saved));
	saved[2 * M] = 9;
	assert_int_equal(gnarl_term_set_memory(t, saved, N + 1, M, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "4 envs x 16 bytes, this run's 3 x 16"));
	assert_int_equal(gnarl_term_set_memory(t, saved, N, M - 1, err), GNARL_EINCOMPAT);
	assert_int_equal(t->memory[2 * M], 0);
	assert_int_equal(gnarl_term_set_memory(t, saved, N, M, err), 0);
	gnarl_term_compute(t, 2, 1, NULL, NULL, NULL, out);
	assert_true(out[2] == 9);
	assert_int_equal(last->computes_before_connect, 0);
	gnarl_term_free(t);
	gnarl_term_free(NULL);
}

/* 1.1 lets a term leave destroy and episode_start out. */
static int bare_instance;

static void *bare_create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	(void)host;
	(void)n_envs;
	(void)err;
	return &bare_instance;
}

static void bare_compute(void *term, uint32_t first, uint32_t count,
                         const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                         const int32_t *actions, float *out)
{
	(void)term;
	(void)prev;
	(void)cur;
	(void)actions;
	for (uint32_t n = first; n < first + count; n++)
		out[n] = 1.5f;
}

static const struct gnarl_reward_ops bare_ops = {
	.size = sizeof(struct gnarl_reward_ops),
	.create = bare_create,
	.compute = bare_compute,
};

/* A 1.0 table: its size ends at load, so the memory ops (which this
 * static table has, set to trap) are not read. */
static size_t trap_memory_size(void *term)
{
	(void)term;
	fail_msg("memory_size read beyond a 1.0 ops table");
	return 0;
}

static const struct gnarl_reward_ops v10_ops = {
	.size = offsetof(struct gnarl_reward_ops, load) + sizeof(void (*)(void)),
	.create = bare_create,
	.compute = bare_compute,
	.memory_size = trap_memory_size,
	.connect_memory = rec_connect,
};

static void test_optional_ops(void **unused)
{
	const struct gnarl_reward_ops *tables[] = {&bare_ops, &v10_ops};
	char err[GNARL_ERR_SIZE];

	(void)unused;
	for (int k = 0; k < 2; k++) {
		struct gnarl_term *t;
		float out[N] = {0};
		assert_int_equal(gnarl_term_create(tables[k], NULL, N, &t, err), 0);
		assert_int_equal(t->memory_size, 0);
		assert_null(t->memory);
		gnarl_term_episode_start(t, 0, NULL);
		gnarl_term_compute(t, 0, N, NULL, NULL, NULL, out);
		assert_true(out[0] == 1.5f && out[2] == 1.5f);
		assert_int_equal(gnarl_term_set_memory(t, "", N, 0, err), 0);
		gnarl_term_free(t);
	}
}

static void *failing_create(const struct gnarl_host *host, uint32_t n_envs,
                            char err[GNARL_ERR_SIZE])
{
	(void)host;
	snprintf(err, GNARL_ERR_SIZE, "no room for %u envs", n_envs);
	return NULL;
}

static const struct gnarl_reward_ops failing_ops = {
	.size = sizeof(struct gnarl_reward_ops),
	.create = failing_create,
	.compute = bare_compute,
};

static int huge_destroyed;

static size_t huge_memory_size(void *term)
{
	(void)term;
	return SIZE_MAX / 2;
}

static void huge_destroy(void *term)
{
	free(term);
	huge_destroyed++;
}

static const struct gnarl_reward_ops huge_ops = {
	.size = sizeof(struct gnarl_reward_ops),
	.create = rec_create,
	.destroy = huge_destroy,
	.compute = rec_compute,
	.memory_size = huge_memory_size,
	.connect_memory = rec_connect,
};

static void test_refusals(void **unused)
{
	struct gnarl_term *t = (struct gnarl_term *)1;
	char err[GNARL_ERR_SIZE] = "old text";

	(void)unused;
	/* The plugin's own message, for the caller to say where. */
	assert_int_equal(gnarl_term_create(&failing_ops, NULL, 4, &t, err), GNARL_ECONFIG);
	assert_null(t);
	assert_string_equal(err, "no room for 4 envs");
	/* More memory than N x M can count: refused, never connected, the
	 * instance destroyed. */
	connects = 0;
	assert_int_equal(gnarl_term_create(&huge_ops, NULL, N, &t, err), GNARL_EINVAL);
	assert_null(t);
	assert_non_null(strstr(err, "too much for 3 envs"));
	assert_int_equal(huge_destroyed, 1);
	assert_int_equal(connects, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_lifecycle),
		cmocka_unit_test(test_optional_ops),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
