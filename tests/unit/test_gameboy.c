/*
 * test_gameboy.c - the gameboy env plugin on the free test cartridge
 * (tests/rom), through the plugin ABI: the built gameboy.so is dlopen'ed
 * from GNARL_PLUGIN_PATH, its params come from configs/test-cartridge.yaml
 * through the real config loader (with --set style overrides), and libmgba
 * runs the ROM built by tests/rom/CMakeLists.txt.
 *
 * What is checked: the ROM's header; decoding of every RAM-map field
 * against the work-RAM bytes at the real game's addresses; each action;
 * room changes at edges; the door into the dungeon (group 4); a kill; a hit;
 * death ends the episode; max_steps truncates; resets and threads are
 * bit-identical (with reset_noop_max 0, which gameboy_test.h's gb_open
 * sets; test_gameboy_reset.c covers the no-op frames); frames (written as PNG, checked for the game's colours,
 * equal in both render modes, untouched unless requested); save states
 * (raw and mGBA .ss, a libretro core's raw state); nothing on stdout; clear
 * create errors.
 *
 * Runs under the emulator GNARL_EMULATOR names (gameboy_test.h).
 * Built without libmgba or sdcc (GNARL_TEST_ROM undefined), every test
 * skips.
 */
#include "gameboy_test.h"
#include "image.h"

/* ------------------------------------------------------------------------ */
/* Tests.                                                                   */

/* First, before anything else in this process loads libmgba: mGBA prints
 * to stdout unless the plugin installs its logger. */
static void test_nothing_on_stdout(void **state)
{
	char path[] = "/tmp/gnarl-gb-stdout-XXXXXX";
	int fd, saved;
	struct gb_harness g;
	struct stat st;
	char err[GNARL_ERR_SIZE];
	int rc;

	(void)state;
	SKIP_WITHOUT_ROM();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	/* Boot path (no save state), steps into the dungeon, a bad save state. */
	rc = gb_open(&g, 2, NULL, NULL, 0, err);
	if (!rc) {
		gb_run(&g, 0, "RRRRRRNNNNBBBBUUUUULUUUUD");
		gb_harness_close(&g);
	}
	{
		/* mGBA has things to say about a state it cannot load. */
		char junk[] = "/tmp/gnarl-gb-junk-XXXXXX", set[64];
		const char *bad[] = {set};
		struct gb_harness g2;
		int jfd = mkstemp(junk);

		assert_true(jfd >= 0);
		assert_int_equal(write(jfd, "junk", 4), 4);
		close(jfd);
		snprintf(set, sizeof(set), "env.params.save_state=%s", junk);
		assert_int_not_equal(gb_open(&g2, 1, NULL, bad, 1, err), 0);
		gb_harness_close(&g2);
		unlink(junk);
	}
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	assert_int_equal(rc, 0);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	unlink(path);
	assert_int_equal(st.st_size, 0);
}

static void test_rom_header(void **state)
{
	(void)state;
	SKIP_WITHOUT_ROM();
#ifdef GNARL_TEST_ROM
	FILE *f = fopen(GNARL_TEST_ROM, "rb");
	uint8_t rom[0x150];

	assert_non_null(f);
	assert_int_equal(fread(rom, 1, sizeof(rom), f), sizeof(rom));
	fseek(f, 0, SEEK_END);
	assert_int_equal(ftell(f), 32768);
	fclose(f);
	assert_memory_equal(rom + 0x134, "GNARLTEST", 9);
	assert_int_equal(rom[0x143], 0x80);     /* dual-mode: colour on a CGB */
	assert_int_equal(rom[0x100], 0x00);     /* nop; jp init */
	assert_int_equal(rom[0x101], 0xC3);
#endif
}

static void test_descriptor(void **state)
{
	struct gnarl_plugin_lib *lib = NULL;
	const struct gnarl_plugin *d;
	char err[GNARL_ERR_SIZE];
	const char *need[] = {"rom", "save_state", "frames_per_action", "release_frames",
	                      "max_steps", "ram_map", "boot_frames", "model", "emulator"};

	(void)state;
	SKIP_WITHOUT_ROM();
	if (gnarl_plugin_open("gameboy", GNARL_KIND_ENV, NULL, &lib, err))
		fail_msg("%s", err);
	d = gnarl_plugin_desc(lib);
	assert_int_equal(d->kind, GNARL_KIND_ENV);
	assert_string_equal(d->name, "gameboy");
	assert_int_equal(d->abi_version >> 16, GNARL_ABI_MAJOR);
	for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
		const struct gnarl_param *p = d->params;

		while (p->name && strcmp(p->name, need[k]))
			p++;
		assert_non_null(p->name);
	}
	gnarl_plugin_close(lib);
}

static void test_start_state_decodes(void **state)
{
	struct gb_harness g;
	const struct gnarl_game_state *s;
	const float *o;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	o = g.obs;
	assert_int_equal(g.sp.n_actions, 7);
	assert_string_equal(g.sp.action_names[6], "B");
	assert_int_equal(g.sp.obs_dim, 28 + 81 + 16);
	assert_true(strstr(g.log, "no save_state: booting") != NULL);
	check_against_ram(s);
	/* What the cartridge writes at the start of a game. */
	assert_int_equal(s->group, 0);
	assert_int_equal(s->room, 0x11);
	assert_int_equal(s->dungeon, -1);
	assert_int_equal(s->x, 80);
	assert_int_equal(s->y, 64);
	assert_int_equal(s->direction, GNARL_DIR_DOWN);
	assert_int_equal(s->health, 12);
	assert_int_equal(s->max_health, 12);
	assert_int_equal(s->rupees, 99);
	assert_int_equal(s->season, 1);
	assert_int_equal(s->deaths, 0);
	assert_int_equal(s->enemies_visible, 0);
	assert_int_equal(s->frame, 0);
	/* Observation: position, direction one-hot, health ratio. */
	assert_float_equal(o[0], 80 / 256.0, 1e-6);
	assert_float_equal(o[1], 64 / 256.0, 1e-6);
	assert_float_equal(o[2 + GNARL_DIR_DOWN], 1.0, 0);
	assert_float_equal(o[6], 1.0, 0);
	assert_float_equal(o[18], 1.0, 0); /* season 1 */
	/* Collision window 9x9 around tile (5, 4): its top row is room row 0
	 * ("####..####", columns 1-9), its bottom row is below the room. */
	const float top[9] = {1, 1, 1, 0, 0, 1, 1, 1, 1};
	for (int c = 0; c < 9; c++) {
		assert_float_equal(o[28 + c], top[c], 0);
		assert_float_equal(o[28 + 8 * 9 + c], 1.0, 0);
	}
	assert_float_equal(o[28 + 4 * 9 + 4], 0.0, 0); /* Link's own tile */
	for (int k = 0; k < 16; k++)
		assert_float_equal(o[28 + 81 + k], 0.0, 0); /* no enemy */
	gb_harness_close(&g);
}

static void test_actions_move_link(void **state)
{
	struct gb_harness g;
	const struct gnarl_game_state *s;
	struct {
		char action;
		int dx, dy, dir;
	} moves[] = {
	    {'R', 16, 0, GNARL_DIR_RIGHT}, {'L', -16, 0, GNARL_DIR_LEFT},
	    {'U', 0, -16, GNARL_DIR_UP},   {'D', 0, 16, GNARL_DIR_DOWN},
	    {'N', 0, 0, GNARL_DIR_DOWN},   {'A', 0, 0, GNARL_DIR_DOWN},
	    {'B', 0, 0, GNARL_DIR_DOWN},
	};

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	for (size_t k = 0; k < sizeof(moves) / sizeof(moves[0]); k++) {
		int x = s->x, y = s->y;
		char seq[2] = {moves[k].action, 0};

		gb_run(&g, 0, seq);
		assert_int_equal(s->x, x + moves[k].dx);
		assert_int_equal(s->y, y + moves[k].dy);
		assert_int_equal(s->direction, moves[k].dir);
		assert_int_equal(s->frame, 16 * (k + 1));
		assert_int_equal(g.dones[0], 0);
		assert_float_equal(g.rewards[0], 0.0, 0);
		check_against_ram(s);
	}
	gb_harness_close(&g);
}

static void test_edges_change_room(void **state)
{
	struct gb_harness g;
	const struct gnarl_game_state *s;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	gb_run(&g, 0, "LLLL");
	assert_int_equal(s->room, 0x11);
	gb_run(&g, 0, "L");             /* through the west opening */
	assert_int_equal(s->group, 0);
	assert_int_equal(s->room, 0x10);
	assert_true(s->x > 140);
	assert_int_equal(s->season, 0); /* the cartridge's seasons follow columns */
	check_against_ram(s);
	gb_run(&g, 0, "RR");            /* and back east */
	assert_int_equal(s->room, 0x11);
	gb_run(&g, 0, "LLLLLLLLLLLL");  /* west again, onto the sword */
	assert_int_equal(s->room, 0x10);
	assert_true(gnarl_has_treasure(s, GNARL_TREASURE_SWORD));
	assert_int_equal(s->sword_level, 1);
	assert_float_equal(g.obs[22], 1.0, 0);
	check_against_ram(s);
	gb_harness_close(&g);
}

static void test_door_leads_to_dungeon(void **state)
{
	struct gb_harness g;
	const struct gnarl_game_state *s;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	gb_run(&g, 0, "UUUUULUUU");
	assert_int_equal(s->room, 0x01);
	assert_int_equal(s->group, 0);
	gb_run(&g, 0, "U");             /* into the cave door */
	assert_int_equal(s->group, GNARL_GROUP_DUNGEON);
	assert_int_equal(s->room, 0x05);
	assert_int_equal(s->dungeon, 0);
	assert_int_equal(s->enemies_visible, 1);
	assert_float_equal(g.obs[14], 1.0, 0);
	check_against_ram(s);
	gb_run(&g, 0, "UULLLLLL");      /* west room of the dungeon */
	assert_int_equal(s->room, 0x04);
	assert_int_equal(s->dungeon, 0);
	check_against_ram(s);
	gb_harness_close(&g);

	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	gb_run(&g, 0, "UUUUULUUUUD");   /* in and straight out again */
	assert_int_equal(s->group, 0);
	assert_int_equal(s->room, 0x01);
	assert_int_equal(s->dungeon, -1);
	check_against_ram(s);
	gb_harness_close(&g);
}

static void test_kill_and_hit(void **state)
{
	struct gb_harness g;
	const struct gnarl_game_state *s;
	int health;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 2, NULL, 0);
	s = &g.states[0];
	gb_run(&g, 0, "RRRRR");          /* into room $12 and its enemy */
	assert_int_equal(s->room, 0x12);
	assert_int_equal(s->enemies_visible, 1);
	const float *e = g.obs + 28 + 81;
	assert_float_equal(e[0], 1.0, 0);                    /* present */
	assert_float_equal(e[1], (W1(s->ram, 0xD08D) - s->x) / 160.0, 1e-6);
	assert_float_equal(e[2], (W1(s->ram, 0xD08B) - s->y) / 128.0, 1e-6);
	assert_true(e[1] > 0);                              /* to the east */
	assert_float_equal(e[3], 9 / 255.0, 1e-6);           /* its id */
	gb_run(&g, 0, "RNNNNBBBB");      /* let it come, then swing */
	assert_int_equal(s->enemies_killed, 1);
	assert_int_equal(s->enemies_visible, 0);
	assert_int_equal(s->rupees, 100); /* BCD 0099 -> 0100 */
	assert_int_equal(s->health, 12);
	check_against_ram(s);

	/* Env 1 waits instead: the enemy reaches Link and costs half a heart. */
	s = &g.states[1];
	gb_run(&g, 1, "RRRRRR");
	health = s->health;
	assert_int_equal(health, 12);
	for (int k = 0; k < 20 && s->health == health; k++)
		gb_run(&g, 1, "N");
	assert_int_equal(s->health, 10);
	assert_int_equal(s->enemies_killed, 0);
	check_against_ram(s);
	gb_harness_close(&g);
}

static void test_death_terminates(void **state)
{
	struct gb_harness g;
	const struct gnarl_game_state *s;
	int steps = 0;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, NULL, 0);
	s = &g.states[0];
	gb_run(&g, 0, "RRRRRR");
	while (g.dones[0] == 0 && steps < 100) {
		assert_int_equal(s->deaths, 0);
		gb_run(&g, 0, "N");
		steps++;
	}
	assert_int_equal(g.dones[0], GNARL_DONE_TERMINATED);
	assert_int_equal(s->deaths, 1);       /* final state of the episode */
	assert_int_equal(s->health, 12);      /* the cartridge restores Link */
	assert_int_equal(s->room, 0x11);
	check_against_ram(s);
	g.ops->reset(g.env, &g.io, 0, 7);
	assert_int_equal(s->deaths, 0);
	assert_int_equal(s->frame, 0);
	gb_harness_close(&g);
}

static void test_max_steps_truncates(void **state)
{
	const char *sets[] = {"env.params.max_steps=5"};
	struct gb_harness g;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, sets, 1);
	for (int k = 0; k < 4; k++) {
		gb_run(&g, 0, "N");
		assert_int_equal(g.dones[0], 0);
	}
	assert_float_equal(g.obs[27], 4 / 5.0, 1e-6);
	gb_run(&g, 0, "N");
	assert_int_equal(g.dones[0], GNARL_DONE_TRUNCATED);
	gb_harness_close(&g);
}

static void expect_create_error(const char *config, const char *set, const char *want1,
                                const char *want2)
{
	struct gb_harness g;
	char err[GNARL_ERR_SIZE];
	const char *sets[] = {set};

	assert_int_not_equal(gb_open(&g, 1, config, sets, set ? 1 : 0, err), 0);
	if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("error '%s' lacks '%s' / '%s'", err, want1, want2 ? want2 : "");
	gb_harness_close(&g);
}

/* With a release gap the buttons are held for frames_per_action frames and
 * the step lasts that plus release_frames; the frame is still the last. */
static void test_release_frames(void **state)
{
	const char *auto_sets[] = {"env.params.release_frames=4"};
	const char *fs_sets[] = {"env.params.release_frames=4", "env.params.render=frameskip"};
	struct gb_harness g, h;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 1, auto_sets, 1);
	gb_must_open(&h, 1, fs_sets, 2);
	g.want[0] = h.want[0] = 1;
	gb_run(&g, 0, "RR");
	gb_run(&h, 0, "RR");
	assert_int_equal(g.states[0].x, 80 + 32);
	assert_int_equal(g.states[0].frame, 2 * 20);
	assert_memory_equal(g.frames, h.frames, GNARL_FRAME_BYTES);
	assert_memory_equal(g.states[0].ram, h.states[0].ram, 32768);
	gb_harness_close(&h);
	gb_harness_close(&g);
}

/* A model without colour has 8 KiB of work RAM: refused, saying why. */
static void test_model_without_colour(void **state)
{
	(void)state;
	SKIP_WITHOUT_ROM();
	expect_create_error(NULL, "env.params.model=DMG", "32 KiB", "model: CGB");
}

/* Record the states and observations of one episode of fixed actions. */
static void record(struct gb_harness *g, uint32_t i, const int *acts, int n, uint8_t *ram,
                   float *obs)
{
	g->ops->reset(g->env, &g->io, i, 3);
	for (int k = 0; k < n; k++) {
		g->actions[i] = acts[k];
		g->ops->step(g->env, &g->io, i, 1);
		memcpy(ram + (size_t)k * 32768, g->states[i].ram, 32768);
		memcpy(obs + (size_t)k * g->sp.obs_dim, g->obs + (size_t)i * g->sp.obs_dim,
		       g->sp.obs_dim * sizeof(float));
	}
}

static void test_resets_are_identical(void **state)
{
	enum { N = 40 };
	struct gb_harness g;
	int acts[N];
	uint64_t r = 12345;
	uint8_t *ram1 = malloc((size_t)N * 32768), *ram2 = malloc((size_t)N * 32768);
	float *obs1, *obs2;
	uint8_t start[32768];

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 2, NULL, 0);
	obs1 = calloc((size_t)N * g.sp.obs_dim, sizeof(float));
	obs2 = calloc((size_t)N * g.sp.obs_dim, sizeof(float));
	for (int k = 0; k < N; k++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		acts[k] = (int)(r >> 33) % 7;
	}
	memcpy(start, g.states[0].ram, sizeof(start));
	record(&g, 0, acts, N, ram1, obs1);
	record(&g, 0, acts, N, ram2, obs2);   /* same env, second episode */
	assert_memory_equal(ram1, ram2, (size_t)N * 32768);
	assert_memory_equal(obs1, obs2, (size_t)N * g.sp.obs_dim * sizeof(float));
	record(&g, 1, acts, N, ram2, obs2);   /* another emulator */
	assert_memory_equal(ram1, ram2, (size_t)N * 32768);
	g.ops->reset(g.env, &g.io, 0, 99);
	assert_memory_equal(start, g.states[0].ram, sizeof(start));
	/* The episode did go somewhere: the RAM changed along the way. */
	assert_true(memcmp(start, ram1 + (size_t)(N - 1) * 32768, 32768) != 0);
	free(obs1);
	free(obs2);
	free(ram1);
	free(ram2);
	gb_harness_close(&g);
}

struct range_job {
	struct gb_harness *g;
	uint32_t first, count;
};

static void *step_range(void *arg)
{
	struct range_job *j = arg;

	for (int k = 0; k < 30; k++)
		j->g->ops->step(j->g->env, &j->g->io, j->first, j->count);
	return NULL;
}

static void test_threads_match_sequential(void **state)
{
	struct gb_harness g;
	pthread_t th[2];
	struct range_job jobs[2];
	uint8_t ram_seq[4][32768];

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 4, NULL, 0);
	for (uint32_t i = 0; i < 4; i++)
		g.actions[i] = (int32_t)(1 + i);   /* UP, DOWN, LEFT, RIGHT */
	for (int k = 0; k < 30; k++)
		g.ops->step(g.env, &g.io, 0, 4);
	for (uint32_t i = 0; i < 4; i++) {
		memcpy(ram_seq[i], g.states[i].ram, 32768);
		g.ops->reset(g.env, &g.io, i, i);
	}
	for (int t = 0; t < 2; t++) {
		jobs[t] = (struct range_job){&g, (uint32_t)(2 * t), 2};
		pthread_create(&th[t], NULL, step_range, &jobs[t]);
	}
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	for (uint32_t i = 0; i < 4; i++)
		assert_memory_equal(ram_seq[i], g.states[i].ram, 32768);
	gb_harness_close(&g);
}

/* ------------------------------------------------------------------------ */
/* Frames.                                                                  */

static void write_png(const char *path, const uint8_t *rgb)
{
	char err[GNARL_ERR_SIZE];

	if (gnarl_image_write_png(path, rgb, GNARL_FRAME_WIDTH, GNARL_FRAME_HEIGHT, err))
		fail_msg("%s", err);
}

/* Is there a pixel near colour (r5, g5, b5) (5-bit CGB components) in the
 * screen rectangle [x0, x1) x [y0, y1)? */
static bool has_colour(const uint8_t *rgb, int x0, int y0, int x1, int y1, int r5, int g5,
                       int b5)
{
	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++) {
			const uint8_t *p = rgb + ((size_t)y * GNARL_FRAME_WIDTH + x) * 3;

			if (abs(p[0] - r5 * 8) <= 8 && abs(p[1] - g5 * 8) <= 8 &&
			    abs(p[2] - b5 * 8) <= 8)
				return true;
		}
	return false;
}

static void test_frames(void **state)
{
	struct gb_harness g, h;
	const char *fs[] = {"env.params.render=frameskip"};
	uint8_t *first, *other;
	char path[4096];
	int x, y;

	(void)state;
	SKIP_WITHOUT_ROM();
	gb_must_open(&g, 2, NULL, 0);
	gb_must_open(&h, 1, fs, 1);
	first = malloc(GNARL_FRAME_BYTES);
	other = malloc(GNARL_FRAME_BYTES);

	/* The frame of a reset is the start state's picture. */
	g.want[0] = 1;
	g.ops->reset(g.env, &g.io, 0, 0);
	memcpy(first, g.frames, GNARL_FRAME_BYTES);
	/* Link's green tunic around his position (the room starts 16 pixels
	 * down, below the HUD), the brown wall blocks in the top-left corner,
	 * red hearts in the HUD. */
	assert_true(has_colour(first, 72, 72, 88, 88, 4, 20, 4));
	assert_true(has_colour(first, 0, 16, 16, 32, 16, 10, 4));
	assert_true(has_colour(first, 8, 0, 16, 8, 28, 4, 4));
	assert_false(has_colour(first, 0, 16, 16, 32, 4, 20, 4));

	/* A step's frame is its last frame: Link 16 pixels to the right. */
	memset(g.frames, 0xAB, 2 * GNARL_FRAME_BYTES);
	gb_run(&g, 0, "R");
	x = g.states[0].x;
	y = g.states[0].y;
	assert_int_equal(x, 96);
	assert_true(has_colour(g.frames, x - 8, y + 8, x + 8, y + 24, 4, 20, 4));
	assert_false(has_colour(g.frames, 72, 72, 80, 88, 4, 20, 4));
	/* Env 1 did not ask: its frame stays untouched. */
	for (size_t k = 0; k < GNARL_FRAME_BYTES; k++)
		if (g.frames[GNARL_FRAME_BYTES + k] != 0xAB)
			fail_msg("frame of env 1 written at byte %zu without a request", k);
	snprintf(path, sizeof(path), "%s/tests/gameboy-frame.png", GNARL_BUILD_DIR);
	write_png(path, g.frames);

	/* Both render modes draw the same pictures, whatever the step. */
	h.want[0] = 1;
	gb_run(&h, 0, "R");
	assert_memory_equal(g.frames, h.frames, GNARL_FRAME_BYTES);
	g.want[0] = 0;
	h.want[0] = 0;
	gb_run(&g, 0, "RRRR");
	gb_run(&h, 0, "RRRR");
	g.want[0] = 1;
	h.want[0] = 1;
	gb_run(&g, 0, "N");
	gb_run(&h, 0, "N");
	assert_int_equal(g.states[0].room, 0x12);
	assert_memory_equal(g.frames, h.frames, GNARL_FRAME_BYTES);
	assert_true(has_colour(g.frames, 0, 16, 160, 144, 30, 8, 6)); /* the enemy */
	snprintf(path, sizeof(path), "%s/tests/gameboy-frame-enemy.png", GNARL_BUILD_DIR);
	write_png(path, g.frames);
	memcpy(other, g.frames, GNARL_FRAME_BYTES);
	assert_true(memcmp(first, other, GNARL_FRAME_BYTES) != 0);
	free(first);
	free(other);
	gb_harness_close(&h);
	gb_harness_close(&g);
}


/* ------------------------------------------------------------------------ */
/* Save states made the way users make them: under libmgba a raw state and
 * an mGBA .ss file (libmgba itself), under a libretro core its raw state
 * (what a libretro frontend writes); under both, the emulator's state as
 * the env saved it.                                                        */

static void test_save_states(void **state)
{
	(void)state;
	SKIP_WITHOUT_ROM();
#ifdef GNARL_TEST_ROM
	char dir[] = "/tmp/gnarl-gb-state-XXXXXX", path[3][4200], junk[4200], rz[4200];
	char set[3][4300], set_junk[4300], set_rz[4300];
	struct gb_harness g;
	FILE *f;
	char err[GNARL_ERR_SIZE];
	int n = 0;

	/* The plugin installs the quiet logger; this test's own core relies on
	 * it, so create an env first. */
	gb_must_open(&g, 1, NULL, 0);
	gb_harness_close(&g);
	assert_non_null(mkdtemp(dir));
	snprintf(path[n++], sizeof(path[0]), "%s/room12-env.state", dir);
	save_room_12_env(path[0]);
	if (on_libmgba()) {
		snprintf(path[n++], sizeof(path[0]), "%s/room12.state", dir);
		snprintf(path[n++], sizeof(path[0]), "%s/room12.ss", dir);
		save_room_12_mgba(path[1], path[2]);
	}
	snprintf(junk, sizeof(junk), "%s/junk.ss", dir);
	f = fopen(junk, "wb");
	fputs("not a save state at all", f);
	fclose(f);

	for (int k = 0; k < n; k++) {
		const char *sets[] = {set[k]};

		snprintf(set[k], sizeof(set[k]), "env.params.save_state=%.4200s", path[k]);
		gb_must_open(&g, 2, sets, 1);
		assert_true(strstr(g.log, "episodes start from save state") != NULL);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(g.states[i].group, 0);
			assert_int_equal(g.states[i].room, 0x12);
			assert_int_equal(g.states[i].enemies_visible, 1);
			check_against_ram(&g.states[i]);
		}
		gb_run(&g, 1, "RB");
		g.ops->reset(g.env, &g.io, 1, 0);
		assert_memory_equal(g.states[0].ram, g.states[1].ram, 32768);
		gb_harness_close(&g);
	}
	snprintf(set_junk, sizeof(set_junk), "env.params.save_state=%s", junk);
	const char *bad[] = {set_junk};
	assert_int_not_equal(gb_open(&g, 1, NULL, bad, 1, err), 0);
	if (on_libmgba())
		assert_non_null(strstr(err, "not an mGBA save state"));
	else
		assert_non_null(strstr(err, "save state of this ROM"));
	assert_non_null(strstr(err, junk));
	gb_harness_close(&g);
	if (!on_libmgba()) {
		/* RetroArch compresses its state files by default: said so. */
		snprintf(rz, sizeof(rz), "%s/room12.rzip", dir);
		f = fopen(rz, "wb");
		fputs("#RZIPv1#", f);
		fclose(f);
		snprintf(set_rz, sizeof(set_rz), "env.params.save_state=%s", rz);
		const char *compressed[] = {set_rz};
		assert_int_not_equal(gb_open(&g, 1, NULL, compressed, 1, err), 0);
		assert_non_null(strstr(err, "compressed"));
		gb_harness_close(&g);
		unlink(rz);
	}
	for (int k = 0; k < n; k++)
		unlink(path[k]);
	unlink(junk);
	rmdir(dir);
#endif
}

/* ------------------------------------------------------------------------ */
/* Errors.                                                                  */

static void test_bad_rom(void **state)
{
	(void)state;
	SKIP_WITHOUT_ROM();
	expect_create_error(NULL, "env.params.rom=/nonexistent/zelda.gbc", "cannot open",
	                    "/nonexistent/zelda.gbc");
	expect_create_error(NULL, "env.params.rom=no-such-rom.gb", "cannot open",
	                    "configs/no-such-rom.gb");
	expect_create_error(NULL, "env.params.rom=" GNARL_SOURCE_DIR "/tests/rom/crt0.s",
	                    "not a Game Boy ROM", "header checksum");
}

/* A config whose ram_map has one bad entry on a known line. */
static void test_bad_ram_map(void **state)
{
	static const struct {
		const char *entry, *want1, *want2;
	} cases[] = {
	    {"health: {address: 0xE000}", "ram_map.health (line 9", "outside work RAM"},
	    {"helth: {address: 0xC6A2}", "ram_map.helth (line 9", "unknown field"},
	    {"rupees: {address: 0xC6A5, width: 3}", "ram_map.rupees (line 9", "width"},
	    {"x: {address: 0xD00D, bank: 0}", "ram_map.x (line 9", "bank 0"},
	    {"health: {address: 0xC6A2, bank: 2}", "ram_map.health (line 9", "bank 0"},
	    {"rupees: {address: 0xC6A5, encoding: bcd2}", "ram_map.rupees (line 9",
	     "binary or bcd"},
	    {"keys: {address: 0xC66E, index: sword_level}", "ram_map.keys (line 9",
	     "index"},
	    {"health: {adress: 0xC6A2}", "ram_map.health (line 9", "unknown key 'adress'"},
	    {"deaths: {address: 0xCFFF, width: 2}", "ram_map.deaths (line 9", "runs past"},
	    {"season: 0xCC4E", "ram_map.season (line 9", "must be a map"},
	};
	char dir[] = "/tmp/gnarl-gb-map-XXXXXX", path[4200];

	(void)state;
	SKIP_WITHOUT_ROM();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		FILE *f = fopen(path, "w");

		fprintf(f, "env:\n"
		           "  plugin: gameboy\n"
		           "  params:\n"
		           "    rom: %s\n"
		           "    ram_map:\n"
		           "      group: {address: 0xCC49}\n"
		           "      room: {address: 0xCC4C}\n"
		           "      dungeon: {address: 0xCC55, none: 0xFF}\n"
		           "      %s\n",
		        TEST_ROM, cases[k].entry);
		fclose(f);
		expect_create_error(path, NULL, cases[k].want1, cases[k].want2);
	}
	unlink(path);
	rmdir(dir);
}

/* The two shipped configs declare the same RAM map. */
static void test_configs_share_ram_map(void **state)
{
	struct gnarl_config *a = NULL, *b = NULL;
	char err[GNARL_ERR_SIZE];

	(void)state;
	SKIP_WITHOUT_ROM();
	assert_int_equal(gnarl_config_load(GNARL_SOURCE_DIR "/configs/test-cartridge.yaml",
	                                   NULL, 0, &a, err), 0);
	assert_int_equal(gnarl_config_load(GNARL_SOURCE_DIR "/configs/oracle-of-seasons.yaml",
	                                   NULL, 0, &b, err), 0);
	assert_true(gnarl_value_equal(gnarl_value_at(a->root, "env.params.ram_map"),
	                              gnarl_value_at(b->root, "env.params.ram_map")));
	assert_true(gnarl_value_equal(gnarl_value_at(a->root, "rewards"),
	                              gnarl_value_at(b->root, "rewards")));
	assert_int_equal(gnarl_value_int(gnarl_value_at(b->root,
	                                 "env.params.frames_per_action"), 0), 16);
	gnarl_config_free(a);
	gnarl_config_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nothing_on_stdout),
	    cmocka_unit_test(test_rom_header),
	    cmocka_unit_test(test_descriptor),
	    cmocka_unit_test(test_start_state_decodes),
	    cmocka_unit_test(test_actions_move_link),
	    cmocka_unit_test(test_edges_change_room),
	    cmocka_unit_test(test_door_leads_to_dungeon),
	    cmocka_unit_test(test_kill_and_hit),
	    cmocka_unit_test(test_death_terminates),
	    cmocka_unit_test(test_max_steps_truncates),
	    cmocka_unit_test(test_release_frames),
	    cmocka_unit_test(test_model_without_colour),
	    cmocka_unit_test(test_resets_are_identical),
	    cmocka_unit_test(test_threads_match_sequential),
	    cmocka_unit_test(test_frames),
	    cmocka_unit_test(test_save_states),
	    cmocka_unit_test(test_bad_rom),
	    cmocka_unit_test(test_bad_ram_map),
	    cmocka_unit_test(test_configs_share_ram_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
