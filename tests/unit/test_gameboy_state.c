/*
 * test_gameboy_state.c - the gameboy env's state ops (a checkpoint's
 * running episodes) on the free test cartridge, through the plugin ABI.
 *
 * What is checked: envs saved mid-episode (different rooms, positions,
 * step counts, in both render modes) and loaded into a fresh instance
 * publish the same observations and game states, and then step on exactly
 * as the saved ones do under the same actions (RAM, observations, dones,
 * the frames of each step's last frame), and saved again give the same
 * blob (header, counters, the same machines); a buffer of another env
 * count or a damaged one is refused with a message, and the env is still
 * usable; a version 1 checkpoint loads under libmgba and is refused under
 * another emulator, as is a state another emulator saved.
 */
#include "gameboy_test.h"

/* Envs 0..2 of g played apart: env 0 walked right, env 1 up and into the
 * next screens, env 2 only reset. */
static void play_apart(struct gb_harness *g)
{
	for (uint32_t i = 0; i < g->n; i++)
		g->ops->reset(g->env, &g->io, i, i);
	gb_run(g, 0, "RRRRNRRB");
	gb_run(g, 1, "UUUUUUUUUUUUUUUULLLLLLLLLLLLLLLLLLLLL");
}

/* Everything g publishes for env i equals h's. */
static void same_env(struct gb_harness *g, struct gb_harness *h, uint32_t i)
{
	const struct gnarl_game_state *a = &g->states[i], *b = &h->states[i];

	assert_int_equal(a->group, b->group);
	assert_int_equal(a->room, b->room);
	assert_int_equal(a->x, b->x);
	assert_int_equal(a->y, b->y);
	assert_int_equal(a->health, b->health);
	assert_int_equal(a->deaths, b->deaths);
	assert_int_equal(a->enemies_killed, b->enemies_killed);
	assert_int_equal(a->frame, b->frame);
	assert_memory_equal(a->ram, b->ram, 32768);
	assert_memory_equal(g->obs + (size_t)i * g->sp.obs_dim, h->obs + (size_t)i * h->sp.obs_dim,
	                    g->sp.obs_dim * sizeof(float));
}

static void save_load_steps_on(const char *const *sets, int n_sets)
{
	struct gb_harness a, b;
	uint8_t *buf;
	size_t size;
	char err[GNARL_ERR_SIZE];

	gb_must_open(&a, 3, sets, n_sets);
	gb_must_open(&b, 3, sets, n_sets);
	assert_non_null(a.ops->state_size);
	play_apart(&a);
	assert_int_not_equal(a.states[0].x, a.states[2].x);
	assert_int_not_equal(a.states[1].room, a.states[2].room);

	size = a.ops->state_size(a.env);
	assert_int_equal(b.ops->state_size(b.env), size);
	buf = malloc(size);
	assert_int_equal(a.ops->save_state(a.env, buf, size), 0);
	if (b.ops->load_state(b.env, &b.io, buf, size, err))
		fail_msg("load_state: %s", err);
	for (uint32_t i = 0; i < 3; i++)
		same_env(&a, &b, i);

	/* the same actions from here: the same game, step for step, until an
	 * episode ends (truncation counts the restored steps too) */
	for (int s = 0; s < 40; s++) {
		const char *act = "RDLUBANR";

		for (uint32_t i = 0; i < 3; i++) {
			a.actions[i] = b.actions[i] = action_of(act[(s + (int)i) % 8]);
			a.want[i] = b.want[i] = (uint8_t)(s % 3 == 0);
		}
		a.ops->step(a.env, &a.io, 0, 3);
		b.ops->step(b.env, &b.io, 0, 3);
		assert_memory_equal(a.dones, b.dones, 3);
		for (uint32_t i = 0; i < 3; i++)
			same_env(&a, &b, i);
		if (s % 3 == 0)
			assert_memory_equal(a.frames, b.frames, 3 * (size_t)GNARL_FRAME_BYTES);
	}
	/* saved again, the same machines: nothing of the load lingers (the same
	 * bytes under libmgba; under Gambatte but for what it does not restore
	 * and the game never reads, gameboy_test.h) */
	{
		uint8_t *again = malloc(size), *first = malloc(size);
		size_t n = (size - BLOB_HEADER) / 3 - BLOB_ENV;
		size_t at = BLOB_HEADER;

		assert_int_equal(n, gnarl_get_u64(buf + 16));
		memset(first, 0xAA, size); /* what was in the buffer must not matter */
		memset(again, 0x55, size);
		assert_int_equal(a.ops->save_state(a.env, first, size), 0);
		assert_int_equal(b.ops->save_state(b.env, again, size), 0);
		assert_memory_equal(first, again, BLOB_HEADER);
		for (uint32_t i = 0; i < 3; i++, at += BLOB_ENV + n) {
			assert_memory_equal(first + at, again + at, BLOB_ENV);
			assert_true(same_emulator_state(first + at + BLOB_ENV, again + at + BLOB_ENV, n));
		}
		free(again);
		free(first);
	}
	free(buf);
	gb_harness_close(&b);
	gb_harness_close(&a);
}

static void test_save_load_auto(void **state)
{
	(void)state;
	SKIP_WITHOUT_ROM();
	save_load_steps_on(NULL, 0);
}

static void test_save_load_frameskip(void **state)
{
	const char *fs[] = {"env.params.render=frameskip"};

	(void)state;
	SKIP_WITHOUT_ROM();
	save_load_steps_on(fs, 1);
}

static void test_refusals(void **state)
{
	struct gb_harness a, c;
	uint8_t *buf;
	size_t size;
	char err[GNARL_ERR_SIZE];

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&a, 3, NULL, 0);
	gb_must_open(&c, 2, NULL, 0);
	play_apart(&a);
	size = a.ops->state_size(a.env);
	buf = malloc(size);
	assert_int_equal(a.ops->save_state(a.env, buf, size), 0);
	assert_int_equal(a.ops->save_state(a.env, buf, size - 1), GNARL_EINVAL);

	/* another env count */
	err[0] = '\0';
	assert_int_equal(c.ops->load_state(c.env, &c.io, buf, size, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "3 envs"));
	assert_non_null(strstr(err, "this env has 2"));
	/* not a state at all, or cut short */
	buf[0] ^= 0xFF;
	assert_int_equal(a.ops->load_state(a.env, &a.io, buf, size, err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "not a gnarl Game Boy state"));
	buf[0] ^= 0xFF;
	assert_int_equal(a.ops->load_state(a.env, &a.io, buf, size - 10, err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "truncated"));
	/* still usable */
	c.ops->reset(c.env, &c.io, 0, 0);
	gb_run(&c, 0, "RR");
	assert_int_equal(c.states[0].x, 80 + 32);
	free(buf);
	gb_harness_close(&c);
	gb_harness_close(&a);
}

/* Version 1 states (gnarl before boot files and the libretro backend: a
 * 24-byte header, no emulator or cartridge named) are libmgba's and keep
 * loading there; elsewhere they are refused, naming libmgba and the param
 * to set.  A state of another emulator is refused by this one, naming
 * both. */
static void test_old_and_foreign_states(void **state)
{
	struct gb_harness a, b;
	uint8_t *buf, *v1;
	size_t size, v1_size;
	char err[GNARL_ERR_SIZE];

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&a, 2, NULL, 0);
	gb_must_open(&b, 2, NULL, 0);
	play_apart(&a);
	size = a.ops->state_size(a.env);
	buf = malloc(size);
	assert_int_equal(a.ops->save_state(a.env, buf, size), 0);
	assert_int_equal(gnarl_get_u32(buf + 4), 2);
	assert_int_equal(gnarl_get_u32(buf + 12), BLOB_HEADER);
	assert_string_equal((const char *)buf + 24, test_emulator());
	/* The same episodes as version 1 wrote them: magic, version, envs, 0,
	 * the emulator state's size, then the envs.  (The test cartridge has
	 * no cartridge RAM, so libmgba's states are what version 1 saved.) */
	v1_size = size - (BLOB_HEADER - BLOB_V1_HEADER);
	v1 = malloc(v1_size);
	memcpy(v1, buf, BLOB_V1_HEADER);
	gnarl_put_u32(v1 + 4, 1);
	gnarl_put_u32(v1 + 12, 0);
	memcpy(v1 + BLOB_V1_HEADER, buf + BLOB_HEADER, size - BLOB_HEADER);
	err[0] = '\0';
	if (on_libmgba()) {
		if (b.ops->load_state(b.env, &b.io, v1, v1_size, err))
			fail_msg("a version 1 state: %s", err);
		for (uint32_t i = 0; i < 2; i++)
			same_env(&a, &b, i);
		/* cut short, it is still refused */
		assert_int_equal(b.ops->load_state(b.env, &b.io, v1, v1_size - 1, err),
		                 GNARL_ECORRUPT);
		assert_non_null(strstr(err, "truncated"));
	} else {
		assert_int_equal(b.ops->load_state(b.env, &b.io, v1, v1_size, err),
		                 GNARL_EINCOMPAT);
		assert_non_null(strstr(err, "saved by the libmgba emulator backend"));
		assert_non_null(strstr(err, "set env.params.emulator to libmgba"));
	}
	/* Another emulator's name: refused, saying which. */
	memset(buf + 24, 0, 32);
	memcpy(buf + 24, "otheremu", 8);
	assert_int_equal(b.ops->load_state(b.env, &b.io, buf, size, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "saved by the otheremu emulator backend"));
	assert_non_null(strstr(err, "set env.params.emulator to otheremu"));
	assert_non_null(strstr(err, test_emulator()));
	free(v1);
	free(buf);
	gb_harness_close(&b);
	gb_harness_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_save_load_auto),
	    cmocka_unit_test(test_save_load_frameskip),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_old_and_foreign_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
