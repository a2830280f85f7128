/*
 * test_gameboy_reset.c - the gameboy env's reset diversity and speed
 * gauges on the free test cartridge, through the plugin ABI (like
 * test_gameboy.c, whose helpers are in gameboy_test.h).
 *
 * What is checked: a reset runs 0..reset_noop_max no-button frames drawn
 * from the seed (state.frame says how many; the same seed gives the same
 * start, byte for byte; the state and frame are exactly those of the start
 * state plus that many frames); render: frameskip rounds them down to whole
 * steps and keeps rendering each step's last frame; from a save state with
 * an enemy walking, envs reset with different seeds are in different
 * states; create publishes gameboy/frames_per_step and, when asked,
 * gameboy/raw_fps; gnarl_gb_speed_measure (core/gb_speed.c, for `gnarl
 * bench`) reads them from a config and refuses an env that cannot measure.
 */
#include "gameboy_test.h"

#include <math.h>

#include "gb_speed.h"

struct gauge_find {
	const char *name;
	double value;
	int found;
};

static void on_gauge(void *ctx, const char *name, double value)
{
	struct gauge_find *f = ctx;

	if (!strcmp(name, f->name)) {
		f->value = value;
		f->found++;
	}
}

/* The gauge's value, or NAN when the env never set it. */
static double gauge(struct gb_harness *g, const char *name)
{
	struct gauge_find f = {name, 0.0, 0};

	gnarl_gauges_each(g->gauges, on_gauge, &f);
	return f.found ? f.value : NAN;
}

/* Reset env i of g with seed, asking for its frame. */
static void reset_with_frame(struct gb_harness *g, uint32_t i, uint64_t seed)
{
	g->want[i] = 1;
	g->ops->reset(g->env, &g->io, i, seed);
	g->want[i] = 0;
}

/* A reset is the start state plus k NOP frames, k = state.frame drawn from
 * the seed: compared with an env that steps NOP one frame at a time. */
static void test_noop_frames_from_seed(void **state)
{
	const char *noops[] = {"env.params.reset_noop_max=30"};
	const char *one_frame[] = {"env.params.frames_per_action=1"};
	struct gb_harness a, b;
	int seen[31] = {0}, distinct = 0;
	uint8_t *ram, *frame;
	int64_t max_steps;

	(void)state;
	SKIP_WITHOUT_ROM();
	ram = malloc(32768);
	frame = malloc(GNARL_FRAME_BYTES);
	gb_must_open(&a, 1, noops, 1);
	gb_must_open(&b, 1, one_frame, 1);
	max_steps = gnarl_value_int(gnarl_value_at(b.cfg->root, "env.params.max_steps"), 0);
	assert_true(max_steps >= 30);
	for (uint64_t seed = 0; seed < 100; seed++) {
		uint64_t k;

		reset_with_frame(&a, 0, seed);
		k = a.states[0].frame;
		assert_true(k <= 30);
		distinct += !seen[k]++;
		check_against_ram(&a.states[0]);
		if (seed % 10)
			continue;
		/* The same seed again: the same start, byte for byte. */
		memcpy(ram, a.states[0].ram, 32768);
		memcpy(frame, a.frames, GNARL_FRAME_BYTES);
		reset_with_frame(&a, 0, seed);
		assert_int_equal(a.states[0].frame, k);
		assert_memory_equal(ram, a.states[0].ram, 32768);
		assert_memory_equal(frame, a.frames, GNARL_FRAME_BYTES);
		/* k frames with no button from the start state. */
		reset_with_frame(&b, 0, seed);
		assert_int_equal(b.states[0].frame, 0);
		b.want[0] = 1;
		for (uint64_t f = 0; f < k; f++)
			gb_run(&b, 0, "N");
		b.want[0] = 0;
		assert_int_equal(b.states[0].frame, k);
		assert_memory_equal(ram, b.states[0].ram, 32768);
		if (k > 0)
			assert_memory_equal(frame, b.frames, GNARL_FRAME_BYTES);
		/* The same observation, but for b's elapsed steps (float 27). */
		assert_float_equal(a.obs[27], 0.0, 0);
		assert_float_equal(b.obs[27], (double)k / (double)max_steps, 1e-6);
		assert_memory_equal(a.obs, b.obs, 27 * sizeof(float));
		assert_memory_equal(a.obs + 28, b.obs + 28, (a.sp.obs_dim - 28) * sizeof(float));
	}
	/* 100 seeds spread over the 31 counts. */
	assert_true(distinct >= 20);
	assert_true(seen[0] > 0 || seen[1] > 0);
	assert_true(seen[30] > 0 || seen[29] > 0);
	/* Episodes then run as usual: 16 frames a step. */
	a.ops->reset(a.env, &a.io, 0, 1);
	{
		uint64_t k = a.states[0].frame;

		gb_run(&a, 0, "RR");
		assert_int_equal(a.states[0].frame, k + 32);
		assert_int_equal(a.states[0].x, 80 + 32);
	}
	free(ram);
	free(frame);
	gb_harness_close(&b);
	gb_harness_close(&a);
}

/* render: frameskip renders every step's last frame by phase: its no-op
 * counts are whole steps, and its frames stay those of auto mode. */
static void test_noop_frames_whole_steps_in_frameskip(void **state)
{
	const char *fs[] = {"env.params.reset_noop_max=40", "env.params.render=frameskip"};
	struct gb_harness a, b;
	bool seen[3] = {false, false, false};

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&a, 1, fs, 2);
	gb_must_open(&b, 1, NULL, 0);
	for (uint64_t seed = 0; seed < 24; seed++) {
		uint64_t k;

		reset_with_frame(&a, 0, seed);
		k = a.states[0].frame;
		assert_int_equal(k % 16, 0);
		assert_true(k <= 32);
		seen[k / 16] = true;
		reset_with_frame(&b, 0, 0);
		b.want[0] = 1;
		for (uint64_t s = 0; s < k / 16; s++)
			gb_run(&b, 0, "N");
		if (k > 0)
			assert_memory_equal(a.frames, b.frames, GNARL_FRAME_BYTES);
		assert_memory_equal(a.states[0].ram, b.states[0].ram, 32768);
		/* The next step's frame is still its last one. */
		a.want[0] = 1;
		gb_run(&a, 0, "R");
		gb_run(&b, 0, "R");
		assert_memory_equal(a.frames, b.frames, GNARL_FRAME_BYTES);
		a.want[0] = b.want[0] = 0;
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	gb_harness_close(&b);
	gb_harness_close(&a);
}

/* From a start with an enemy walking towards Link, different no-op counts
 * put the enemy in different places: parallel envs do not play alike. */
static void test_noops_decorrelate_envs(void **state)
{
	(void)state;
	SKIP_WITHOUT_ROM();
#ifdef GNARL_TEST_ROM
	enum { N = 8 };
	char dir[] = "/tmp/gnarl-gb-noop-XXXXXX", path[4200], set[4300];
	const char *sets[] = {set, "env.params.reset_noop_max=30"};
	struct gb_harness g;
	int distinct = 0;

	/* The plugin installs mGBA's quiet logger before this test's core. */
	gb_must_open(&g, 1, NULL, 0);
	gb_harness_close(&g);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/room12.state", dir);
	save_room_12(path);
	snprintf(set, sizeof(set), "env.params.save_state=%s", path);

	gb_must_open(&g, N, sets, 2);
	for (uint32_t i = 0; i < N; i++) {
		g.ops->reset(g.env, &g.io, i, 1000 + i);
		assert_int_equal(g.states[i].room, 0x12);
		assert_int_equal(g.states[i].enemies_visible, 1);
	}
	for (uint32_t i = 0; i < N; i++) {
		bool unique = true;

		for (uint32_t j = 0; j < i; j++) {
			const uint8_t *ri = g.states[i].ram, *rj = g.states[j].ram;
			int64_t dk = (int64_t)g.states[i].frame - (int64_t)g.states[j].frame;

			if (dk == 0) {
				unique = false;
				assert_memory_equal(ri, rj, 32768);
			} else if (dk >= 2 || dk <= -2) {
				/* The enemy walks one pixel every other frame. */
				assert_true(W1(ri, 0xD08D) != W1(rj, 0xD08D) ||
				            W1(ri, 0xD08B) != W1(rj, 0xD08B));
			}
		}
		distinct += unique;
	}
	assert_true(distinct >= 4);
	gb_harness_close(&g);
	unlink(path);
	rmdir(dir);
#endif
}

static void test_speed_gauges(void **state)
{
	const char *measure[] = {"env.params.measure_raw_fps=3000",
	                         "env.params.release_frames=4"};
	const char *bad[] = {"env.params.measure_raw_fps=-1"};
	struct gb_harness g;
	char err[GNARL_ERR_SIZE];

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	assert_float_equal(gauge(&g, "gameboy/frames_per_step"), 16.0, 0);
	assert_true(isnan(gauge(&g, "gameboy/raw_fps")));
	gb_harness_close(&g);

	gb_must_open(&g, 2, measure, 2);
	assert_float_equal(gauge(&g, "gameboy/frames_per_step"), 20.0, 0);
	assert_true(gauge(&g, "gameboy/raw_fps") > 0.0);
	assert_non_null(strstr(g.log, " alone: "));
	assert_non_null(strstr(g.log, test_emulator()));
	/* The measurement ran on its own core: the envs are at the start. */
	assert_int_equal(g.states[1].room, 0x11);
	assert_int_equal(g.states[1].x, 80);
	assert_int_equal(g.states[1].frame, 0);
	gb_harness_close(&g);

	assert_int_not_equal(gb_open(&g, 1, NULL, bad, 1, err), 0);
	assert_non_null(strstr(err, "measure_raw_fps"));
	gb_harness_close(&g);
}

/* What `gnarl bench` calls: the config's env measures and reports. */
static void test_raw_speed_helper(void **state)
{
	char emu[256];
	const char *sets[] = {"env.params.release_frames=2", "env.num_envs=64", emu};
	const char *bad_rom[] = {"env.params.rom=/nonexistent/zelda.gbc"};
	struct gnarl_config *cfg = NULL;
	struct gnarl_gb_speed sp;
	char err[GNARL_ERR_SIZE];

	(void)state;
	SKIP_WITHOUT_ROM();
	snprintf(emu, sizeof(emu), "env.params.emulator=%s", test_emulator());
	assert_int_equal(gnarl_config_load(TEST_CONFIG, sets, 3, &cfg, err), 0);
	if (gnarl_gb_speed_measure(cfg, 2000, &sp, err))
		fail_msg("%s", err);
	assert_true(sp.raw_fps > 0.0);
	assert_float_equal(sp.frames_per_step, 18.0, 0);
	/* cfg itself is untouched (the helper loads its own copy). */
	assert_int_equal(gnarl_value_int(gnarl_value_at(cfg->root, "env.params.measure_raw_fps"),
	                                 -1), 0);
	gnarl_config_free(cfg);

	assert_int_equal(gnarl_config_load(TEST_CONFIG, bad_rom, 1, &cfg, err), 0);
	assert_int_equal(gnarl_gb_speed_measure(cfg, 2000, &sp, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "/nonexistent/zelda.gbc"));
	gnarl_config_free(cfg);

	/* The overworld has no emulator to measure. */
	assert_int_equal(gnarl_config_load(GNARL_SOURCE_DIR "/configs/env.yaml", NULL, 0, &cfg,
	                                   err), 0);
	assert_int_equal(gnarl_gb_speed_measure(cfg, 2000, &sp, err), GNARL_EUNSUPPORTED);
	assert_non_null(strstr(err, "measure_raw_fps"));
	assert_float_equal(sp.raw_fps, 0.0, 0);
	assert_float_equal(sp.frames_per_step, 1.0, 0);
	gnarl_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_noop_frames_from_seed),
	    cmocka_unit_test(test_noop_frames_whole_steps_in_frameskip),
	    cmocka_unit_test(test_noops_decorrelate_envs),
	    cmocka_unit_test(test_speed_gauges),
	    cmocka_unit_test(test_raw_speed_helper),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
