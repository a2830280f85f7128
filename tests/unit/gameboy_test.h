/*
 * gameboy_test.h - what the gameboy env's unit tests share
 * (test_gameboy*.c): opening env instances the trainer's way on the free
 * test cartridge (tests/integration/gameboy_harness.h), stepping them with
 * action strings ("RRNB"), an independent decoder of the real game's
 * addresses to check decoded states against, and save states made the
 * way a user makes them (playing the cartridge with libmgba directly, or a
 * libretro core's raw state).  Everything is static inline: each test
 * program uses a part of it.
 *
 * The emulator under test is GNARL_EMULATOR (libmgba when unset):
 * CTest runs each program once per emulator (tests/integration/
 * gameboy.cmake).  Built without libmgba or sdcc (GNARL_TEST_ROM
 * undefined), every test skips (SKIP_WITHOUT_ROM); so does every test of
 * an emulator that is not installed.  Under CI=true both fail instead.
 */
#ifndef GNARL_TEST_GAMEBOY_H
#define GNARL_TEST_GAMEBOY_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnarl/plugin.h>

#include "config.h"
#include "plugin_host.h"
#include "value.h"

#include "../cannot_run.h"
#include "../integration/gameboy_harness.h"

#ifdef GNARL_TEST_ROM
#define TEST_ROM GNARL_TEST_ROM
#include <mgba/flags.h>
#include <mgba/core/config.h>
#include <mgba/core/core.h>
#include <mgba/core/serialize.h>
#include <mgba-util/vfs.h>
#else
#define TEST_ROM ""
#endif

enum { NOP, UP, DOWN, LEFT, RIGHT, BTN_A, BTN_B };

/* Write text to path (a test's temporary file). */
static inline void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}


/* ------------------------------------------------------------------------ */
/* Opening env instances the trainer's way (tests/integration/gameboy_harness.h). */

#define TEST_CONFIG GNARL_SOURCE_DIR "/configs/test-cartridge.yaml"

/* The emulator under test: GNARL_EMULATOR, or libmgba. */
static inline const char *test_emulator(void)
{
	const char *e = getenv("GNARL_EMULATOR");

	return e && *e ? e : "libmgba";
}

static inline bool on_libmgba(void)
{
	return !strcmp(test_emulator(), "libmgba");
}

/* Open n envs of config (NULL: the test cartridge's) under `emulator`
 * with the --set overrides.  Every episode starts from the same frame
 * unless the test sets reset_noop_max itself (a later --set wins). */
static inline int gb_open_on(const char *emulator, struct gb_harness *g, uint32_t n,
                             const char *config, const char *const *sets, int n_sets,
                             char err[GNARL_ERR_SIZE])
{
	char emu[256];
	const char *all[16] = {"env.params.reset_noop_max=0", emu};

	assert_true(n_sets < 15);
	snprintf(emu, sizeof(emu), "env.params.emulator=%s", emulator);
	for (int k = 0; k < n_sets; k++)
		all[k + 2] = sets[k];
	return gb_harness_open(g, config ? config : TEST_CONFIG, all, n_sets + 2, n, err);
}

/* The same under the emulator under test. */
static inline int gb_open(struct gb_harness *g, uint32_t n, const char *config,
                          const char *const *sets, int n_sets, char err[GNARL_ERR_SIZE])
{
	return gb_open_on(test_emulator(), g, n, config, sets, n_sets, err);
}

static inline void gb_must_open(struct gb_harness *g, uint32_t n, const char *const *sets,
                                int n_sets)
{
	char err[GNARL_ERR_SIZE];

	if (gb_open(g, n, NULL, sets, n_sets, err))
		fail_msg("create failed: %s", err);
}

static inline int action_of(char c)
{
	switch (c) {
	case 'U': return UP;
	case 'D': return DOWN;
	case 'L': return LEFT;
	case 'R': return RIGHT;
	case 'A': return BTN_A;
	case 'B': return BTN_B;
	default: return NOP;
	}
}

/* Step env i through the actions spelt by seq (N U D L R A B). */
static inline void gb_run(struct gb_harness *g, uint32_t i, const char *seq)
{
	for (; *seq; seq++) {
		g->actions[i] = action_of(*seq);
		g->ops->step(g->env, &g->io, i, 1);
	}
}

/* Opening one env fails, the error holding want1 and want2 (when given). */
static inline void expect_open_error(const char *config, const char *const *sets, int n_sets,
                                     const char *want1, const char *want2)
{
	struct gb_harness g;
	char err[GNARL_ERR_SIZE];

	assert_int_not_equal(gb_open(&g, 1, config, sets, n_sets, err), 0);
	if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("error '%s' lacks '%s' / '%s'", err, want1, want2 ? want2 : "");
	gb_harness_close(&g);
}

#define SKIP_WITHOUT_ROM()                                                    \
	do {                                                                      \
		if (!rom_available() || !emulator_available(test_emulator()))         \
			skip();                                                           \
	} while (0)

static inline bool rom_available(void)
{
#ifdef GNARL_TEST_ROM
	setenv("GNARL_TEST_ROM", GNARL_TEST_ROM, 1);
	/* Boot files' end states go to the build tree, not ~/.cache. */
	setenv("GNARL_CACHE_DIR", GNARL_BUILD_DIR "/test-cache", 0);
	return true;
#else
	return false;
#endif
}

/* Can `emulator` run here?  A libretro core that is not installed (or a
 * build without libretro.h) skips its tests with the env's own message,
 * said once; under CI=true, where the core is installed, that fails. */
static inline bool emulator_available(const char *emulator)
{
	static char checked[256];
	static bool available;
	struct gb_harness g;
	char err[GNARL_ERR_SIZE];
	const char *ci = getenv("CI");

	if (!strcmp(emulator, "libmgba"))
		return true; /* the plugin is built on it */
	if (!strcmp(checked, emulator))
		return available;
	snprintf(checked, sizeof(checked), "%s", emulator);
	available = gb_open_on(emulator, &g, 1, NULL, NULL, 0, err) == 0;
	gb_harness_close(&g);
	if (available)
		return true;
	if (!strstr(err, "no libretro core") && !strstr(err, "without libretro support"))
		fail_msg("the test cartridge does not start under %s: %s", emulator, err);
	if (ci && !strcmp(ci, "true"))
		fail_msg("CI=true and the emulator %s is not available: %s", emulator, err);
	fprintf(stderr, "skipping the %s tests: %s\n", emulator, err);
	return false;
}

/* ------------------------------------------------------------------------ */
/* An independent decoder: the real game's addresses, spelt out.            */

#define W0(w, a) ((w)[(a) - 0xC000])          /* bank 0 */
#define W1(w, a) ((w)[0x1000 + (a) - 0xD000]) /* bank 1 */

static inline int bcd2(uint8_t lo, uint8_t hi)
{
	return (hi >> 4) * 1000 + (hi & 15) * 100 + (lo >> 4) * 10 + (lo & 15);
}

static inline void check_against_ram(const struct gnarl_game_state *s)
{
	const uint8_t *w = s->ram;
	int dungeon = W0(w, 0xCC55) == 0xFF ? -1 : W0(w, 0xCC55), enemies = 0;

	assert_non_null(w);
	assert_int_equal(s->ram_size, 32768);
	assert_int_equal(s->size, GNARL_GAME_STATE_V1_SIZE);
	/* wScrollMode $CD00: 1 when the screen is still. */
	assert_int_equal(s->flags, W0(w, 0xCD00) != 1 ? GNARL_STATE_TRANSITION : 0);
	assert_int_equal(s->group, W0(w, 0xCC49));
	assert_int_equal(s->room, W0(w, 0xCC4C));
	assert_int_equal(s->dungeon, dungeon);
	assert_int_equal(s->season, W0(w, 0xCC4E));
	assert_int_equal(s->x, W1(w, 0xD00D));
	assert_int_equal(s->y, W1(w, 0xD00B));
	assert_int_equal(s->direction, W1(w, 0xD008));
	assert_int_equal(s->health, W0(w, 0xC6A2));
	assert_int_equal(s->max_health, W0(w, 0xC6A3));
	assert_int_equal(s->rupees, bcd2(W0(w, 0xC6A5), W0(w, 0xC6A6)));
	assert_int_equal(s->keys, dungeon >= 0 ? W0(w, 0xC66E + dungeon) : 0);
	assert_int_equal(s->sword_level, W0(w, 0xC6AC));
	assert_int_equal(s->enemies_killed, W0(w, 0xC620) | W0(w, 0xC621) << 8);
	assert_int_equal(s->deaths, bcd2(W0(w, 0xC61E), W0(w, 0xC61F)));
	assert_int_equal(s->text_active, W0(w, 0xCBA0) != 0);
	assert_int_equal(s->menu_open, W0(w, 0xCBCB) != 0);
	assert_memory_equal(s->treasures, &W0(w, 0xC692), 16);
	for (int k = 0; k < 16; k++)
		enemies += W1(w, 0xD080 + k * 0x100) != 0;
	assert_int_equal(s->enemies_visible, enemies);
}

/* ------------------------------------------------------------------------ */
/* The cartridge under libmgba directly, as a user plays it in mGBA.         */

#ifdef GNARL_TEST_ROM
/* Play the cartridge like a user in mGBA: boot, START, walk into room $12
 * and wait there until the screen transition is over. */
static inline struct mCore *play_to_room_12(uint32_t *video)
{
	struct mCore *c = mCoreCreate(mPLATFORM_GB);
	struct mCoreOptions o = {.skipBios = true, .mute = true};
	const uint32_t seq[] = {0, 8, 0, 16, 0};
	const int frames[] = {60, 8, 30, 80, 40};

	assert_non_null(c);
	assert_true(c->init(c));
	mCoreInitConfig(c, NULL);
	mCoreConfigLoadDefaults(&c->config, &o);
	mCoreConfigSetValue(&c->config, "cgb.hybridModel", "CGB");
	mCoreLoadForeignConfig(c, &c->config);
	c->setVideoBuffer(c, (color_t *)video, GNARL_FRAME_WIDTH);
	assert_true(c->loadROM(c, VFileOpen(GNARL_TEST_ROM, O_RDONLY)));
	c->reset(c);
	for (int k = 0; k < 5; k++) {
		c->setKeys(c, seq[k]);
		for (int f = 0; f < frames[k]; f++)
			c->runFrame(c);
	}
	c->setKeys(c, 0);
	return c;
}

/* Play to room $12 (an enemy walking towards Link) and save there: a raw
 * mGBA state at `raw`, and an mGBA .ss file (what the mGBA app writes) at
 * `ss` unless NULL.  Create an env first: this core relies on the plugin's
 * quiet logger. */
static inline void save_room_12_mgba(const char *raw, const char *ss)
{
	uint32_t *video = calloc(GNARL_FRAME_WIDTH * GNARL_FRAME_HEIGHT, 4);
	struct mCore *c = play_to_room_12(video);
	size_t size = c->stateSize(c);
	void *buf = malloc(size);
	FILE *f = fopen(raw, "wb");

	assert_non_null(f);
	assert_true(c->saveState(c, buf));
	assert_int_equal(fwrite(buf, 1, size, f), size);
	fclose(f);
	if (ss) {
		struct VFile *vf = VFileOpen(ss, O_CREAT | O_TRUNC | O_RDWR);

		assert_non_null(vf);
		assert_true(mCoreSaveStateNamed(c, vf, SAVESTATE_SCREENSHOT | SAVESTATE_METADATA));
		vf->close(vf);
	}
	mCoreConfigDeinit(&c->config);
	c->deinit(c);
	free(buf);
	free(video);
}
#endif

/* Do two states of the emulator under test hold the same machine?  libmgba:
 * the same bytes.  Gambatte: the same fields but for those it does not
 * restore and the game never reads (emu_retro.c, gambatte_unread: the
 * noise channel's shift register, the PPU's per-line scratch, the clock of
 * a cartridge without one). */
static inline bool same_emulator_state(const uint8_t *a, const uint8_t *b, size_t n)
{
	static const char *const unread[] = {"lfsrreg", "csprite", "spattr", "endx",
	                                     "rtcbase", "rtchalt"};
	size_t i = 5 + ((size_t)a[2] << 16 | (size_t)a[3] << 8 | a[4]);

	if (on_libmgba())
		return !memcmp(a, b, n);
	if (memcmp(a, b, i))
		return false;
	while (i < n) {
		const uint8_t *nul = memchr(a + i, 0, n - i);
		size_t v = (size_t)(nul - a) + 4, end;
		bool skip = false;

		assert_non_null(nul);
		end = v + ((size_t)nul[1] << 16 | (size_t)nul[2] << 8 | nul[3]);
		assert_true(end <= n);
		for (size_t k = 0; k < sizeof(unread) / sizeof(unread[0]); k++)
			skip |= !strcmp((const char *)a + i, unread[k]);
		if (memcmp(a + i, b + i, v - i) || (!skip && memcmp(a + v, b + v, end - v)))
			return false;
		i = end;
	}
	return true;
}

/* A gnarl state blob, as gameboy_state.c documents it: a header of
 * BLOB_HEADER bytes (the emulator's state size at +16, its name at +24),
 * then per env BLOB_ENV bytes of counters and the emulator's state.
 * Version 1 had a header of BLOB_V1_HEADER bytes and no name. */
enum { BLOB_HEADER = 128, BLOB_ENV = 16, BLOB_V1_HEADER = 24 };

/* The emulator's own state of env 0 in a checkpoint buffer of the env. */
static inline const uint8_t *emulator_state_of(const uint8_t *buf, size_t *size)
{
	*size = (size_t)gnarl_get_u64(buf + 16);
	return buf + BLOB_HEADER + BLOB_ENV;
}

/* The same place as save_room_12_mgba (boot, START, 80 frames walking
 * right) saved by the emulator under test into `raw`, as its own
 * application would (a libretro frontend writes the core's raw state). */
static inline void save_room_12_env(const char *raw)
{
	struct gb_harness g;
	char err[GNARL_ERR_SIZE];
	size_t size, n;
	uint8_t *buf;
	const uint8_t *state;
	FILE *f;

	if (gb_open(&g, 1, NULL, NULL, 0, err))
		fail_msg("create failed: %s", err);
	gb_run(&g, 0, "RRRRR");
	assert_int_equal(g.states[0].room, 0x12);
	size = g.ops->state_size(g.env);
	buf = malloc(size);
	assert_int_equal(g.ops->save_state(g.env, buf, size), 0);
	state = emulator_state_of(buf, &n);
	f = fopen(raw, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(state, 1, n, f), n);
	fclose(f);
	free(buf);
	gb_harness_close(&g);
}

/* A raw state of room $12 in the emulator under test's own format. */
static inline void save_room_12(const char *raw)
{
#ifdef GNARL_TEST_ROM
	if (on_libmgba()) {
		save_room_12_mgba(raw, NULL);
		return;
	}
#endif
	save_room_12_env(raw);
}

#endif /* GNARL_TEST_GAMEBOY_H */
