/*
 * gameboy_bench.c - speed and memory of the gameboy env on the test
 * cartridge, printed as numbers (a benchmark, not a test: nothing here
 * passes or fails on time).
 *
 *   gameboy_bench [--config FILE] [--frames N] [--steps N] [--envs N]
 *                 [--emulators "libmgba;gambatte"] [--set KEY=VALUE]... [--json]
 *
 * Every env measurement below runs once per emulator of --emulators
 * (default libmgba), side by side in one process; --set overrides the
 * config (e.g. env.params.rom=... and env.params.save_state=... for the
 * real game from a gameplay state).
 *
 * Measures, in CPU seconds of the measuring thread (the machine is shared):
 *   raw_fps          libmgba alone, no video buffer, same button sequence
 *   raw_fps_plugin   the plugin's own measurement (measure_raw_fps, gauge
 *                    gameboy/raw_fps), what `gnarl bench` reports
 *   raw_render_fps   libmgba alone, rendering every frame
 *   env_sps/env_fps  the plugin, 1 env, no frame requested
 *   env_fps_frameskip   the plugin in render: frameskip mode
 *   env_fps_frames   the plugin, every step's frame requested
 *   reset_us         one reset (a state load; reset_noop_max is 0 throughout,
 *                    a reset with no-op frames costs those frames on top)
 *   rss_per_env_kb   resident memory of --envs envs, per env
 *   state_bytes      one emulator's state; save_us/load_us one env's
 *                    state saved/loaded through the env's state ops
 * The env's params come from configs/test-cartridge.yaml (GNARL_TEST_ROM
 * is set to the build's cartridge unless already set).
 */
#include <mgba/flags.h>
#include <mgba/core/config.h>
#include <mgba/core/core.h>
#include <mgba/core/log.h>
#include <mgba-util/vfs.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnarl/plugin.h>

#include "gameboy_harness.h"

#define FPA 16

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The action sequence of every measurement: a new action every step. */
static int next_action(uint64_t *r)
{
	*r = *r * 6364136223846793005ULL + 1442695040888963407ULL;
	return (int)((*r >> 33) % 7);
}

static const uint32_t action_keys[7] = {0, 64, 128, 32, 16, 1, 2};

/* ------------------------------------------------------------------------ */

static double raw_fps(const char *rom, long frames, bool render)
{
	static uint32_t video[160 * 144];
	struct mCore *c = mCoreCreate(mPLATFORM_GB);
	struct mCoreOptions o = {.skipBios = true, .mute = true};
	uint64_t r = 1;
	double t0, t;

	if (!c || !c->init(c))
		return 0;
	mCoreInitConfig(c, NULL);
	mCoreConfigLoadDefaults(&c->config, &o);
	mCoreConfigSetValue(&c->config, "cgb.hybridModel", "CGB");
	mCoreLoadForeignConfig(c, &c->config);
	if (render)
		c->setVideoBuffer(c, (color_t *)video, 160);
	if (!c->loadROM(c, VFileOpen(rom, O_RDONLY)))
		return 0;
	c->reset(c);
	for (int f = 0; f < 60; f++)
		c->runFrame(c);
	c->setKeys(c, 8);
	for (int f = 0; f < 8; f++)
		c->runFrame(c);
	c->setKeys(c, 0);
	for (int f = 0; f < 30; f++)
		c->runFrame(c);
	t0 = cpu_now();
	for (long f = 0; f < frames; f++) {
		if (f % FPA == 0)
			c->setKeys(c, action_keys[next_action(&r)]);
		c->runFrame(c);
	}
	t = cpu_now() - t0;
	mCoreConfigDeinit(&c->config);
	c->deinit(c);
	return (double)frames / t;
}

#define MAX_SETS 16

static const char *user_sets[MAX_SETS];
static int n_user_sets;

/* The env the config names under `emulator`, render mode forced, no no-op
 * frames at reset; raw > 0 asks the plugin to measure the emulator alone
 * for that many frames. */
static void env_open(struct gb_harness *e, const char *config, const char *emulator,
                     uint32_t n, const char *render, long raw)
{
	char err[GNARL_ERR_SIZE], set[64], set_raw[64], set_emu[300];
	const char *sets[4 + MAX_SETS] = {set, "env.params.reset_noop_max=0", set_raw, set_emu};

	snprintf(set, sizeof(set), "env.params.render=%s", render);
	snprintf(set_raw, sizeof(set_raw), "env.params.measure_raw_fps=%ld", raw);
	snprintf(set_emu, sizeof(set_emu), "env.params.emulator=%s", emulator);
	for (int k = 0; k < n_user_sets; k++)
		sets[4 + k] = user_sets[k];
	if (gb_harness_open(e, config, sets, 4 + n_user_sets, n, err)) {
		fprintf(stderr, "gameboy_bench: %s\n", err);
		exit(1);
	}
}

static void on_gauge(void *ctx, const char *name, double value)
{
	if (!strcmp(name, "gameboy/raw_fps"))
		*(double *)ctx = value;
}

/* Steps per CPU second of env 0 with the bench's action sequence. */
static double env_sps(struct gb_harness *e, long steps, bool frames)
{
	uint64_t r = 1;
	double t0 = cpu_now();

	e->want[0] = frames;
	for (long s = 0; s < steps; s++) {
		e->actions[0] = next_action(&r);
		e->ops->step(e->env, &e->io, 0, 1);
		if (e->dones[0])
			e->ops->reset(e->env, &e->io, 0, (uint64_t)s);
	}
	e->want[0] = 0;
	return (double)steps / (cpu_now() - t0);
}

struct emu_result {
	double raw_plugin, sps, sps_fs, sps_frames, reset_us, save_us, load_us, rss_per_env;
	size_t state_bytes;
};

/* One env's state saved and loaded through the env's state ops, in µs. */
static void state_times(struct gb_harness *e, struct emu_result *r)
{
	size_t size = e->ops->state_size(e->env);
	uint8_t *buf = malloc(size);
	char err[GNARL_ERR_SIZE];
	double t0;
	int k, n = 2000;

	t0 = cpu_now();
	for (k = 0; k < n; k++)
		e->ops->save_state(e->env, buf, size);
	r->save_us = (cpu_now() - t0) / n * 1e6;
	r->state_bytes = (size_t)gnarl_get_u64(buf + 16);
	t0 = cpu_now();
	for (k = 0; k < n; k++)
		if (e->ops->load_state(e->env, &e->io, buf, size, err)) {
			fprintf(stderr, "gameboy_bench: %s\n", err);
			exit(1);
		}
	r->load_us = (cpu_now() - t0) / n * 1e6;
	free(buf);
}

static void measure(const char *config, const char *emulator, long frames, long steps,
                    long n_envs, struct emu_result *r)
{
	struct gb_harness e;
	long rss0, rss1;
	double t0;

	env_open(&e, config, emulator, 1, "auto", frames);
	gnarl_gauges_each(e.gauges, on_gauge, &r->raw_plugin);
	r->sps = env_sps(&e, steps, false);
	r->sps_frames = env_sps(&e, steps / 4, true);
	t0 = cpu_now();
	for (int k = 0; k < 10000; k++)
		e.ops->reset(e.env, &e.io, 0, (uint64_t)k);
	r->reset_us = (cpu_now() - t0) / 10000 * 1e6;
	state_times(&e, r);
	gb_harness_close(&e);
	env_open(&e, config, emulator, 1, "frameskip", 0);
	r->sps_fs = env_sps(&e, steps, false);
	gb_harness_close(&e);

	rss0 = rss_kb();
	env_open(&e, config, emulator, (uint32_t)n_envs, "auto", 0);
	for (uint32_t i = 0; i < e.n; i++)
		e.actions[i] = (int32_t)(i % 7);
	for (int k = 0; k < 20; k++)
		e.ops->step(e.env, &e.io, 0, e.n);
	rss1 = rss_kb();
	gb_harness_close(&e);
	r->rss_per_env = (double)(rss1 - rss0) / (double)n_envs;
}

int main(int argc, char **argv)
{
	const char *config = GNARL_SOURCE_DIR "/configs/test-cartridge.yaml";
	const char *rom;
	char emulators[512] = "libmgba";
	long frames = 200000, steps = 10000, n_envs = 64;
	bool json = false;
	struct gb_harness e;
	double raw, raw_r;
	struct emu_result res[4];
	char *names[4], *save = NULL;
	int n_emu = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (!strcmp(argv[i], "--frames") && i + 1 < argc)
			frames = atol(argv[++i]);
		else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
			steps = atol(argv[++i]);
		else if (!strcmp(argv[i], "--envs") && i + 1 < argc)
			n_envs = atol(argv[++i]);
		else if (!strcmp(argv[i], "--emulators") && i + 1 < argc)
			snprintf(emulators, sizeof(emulators), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--set") && i + 1 < argc && n_user_sets < MAX_SETS)
			user_sets[n_user_sets++] = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--config FILE] [--frames N] [--steps N] "
			        "[--envs N] [--emulators \"libmgba;gambatte\"] [--set KEY=VALUE]... "
			        "[--json]\n", argv[0]);
			return 2;
		}
	}
	setenv("GNARL_TEST_ROM", GNARL_TEST_ROM, 0);
	rom = getenv("GNARL_TEST_ROM");
	for (char *t = strtok_r(emulators, ";,", &save); t && n_emu < 4;
	     t = strtok_r(NULL, ";,", &save))
		names[n_emu++] = t;

	/* The plugin installs mGBA's quiet logger; open it before raw cores. */
	env_open(&e, config, "libmgba", 1, "auto", 0);
	gb_harness_close(&e);
	raw = raw_fps(rom, frames, false);
	raw_r = raw_fps(rom, frames / 4, true);
	for (int k = 0; k < n_emu; k++)
		measure(config, names[k], frames, steps, n_envs, &res[k]);

	if (json) {
		printf("{\"raw_fps\": %.0f, \"raw_render_fps\": %.0f", raw, raw_r);
		for (int k = 0; k < n_emu; k++) {
			const struct emu_result *r = &res[k];
			const char *p = k == 0 ? "" : names[k];
			const char *u = k == 0 ? "" : "_";

			printf(", \"%s%sraw_fps_plugin\": %.0f, \"%s%senv_sps\": %.0f, "
			       "\"%s%senv_fps\": %.0f, \"%s%senv_fps_frameskip\": %.0f, "
			       "\"%s%senv_fps_frames\": %.0f, \"%s%senv_over_raw\": %.3f, "
			       "\"%s%sreset_us\": %.2f, \"%s%sstate_bytes\": %zu, "
			       "\"%s%ssave_us\": %.2f, \"%s%sload_us\": %.2f, "
			       "\"%s%srss_per_env_kb\": %.0f",
			       p, u, r->raw_plugin, p, u, r->sps, p, u, r->sps * FPA, p, u,
			       r->sps_fs * FPA, p, u, r->sps_frames * FPA, p, u,
			       r->sps * FPA / r->raw_plugin, p, u, r->reset_us, p, u, r->state_bytes,
			       p, u, r->save_us, p, u, r->load_us, p, u, r->rss_per_env);
		}
		printf("}\n");
		return 0;
	}
	printf("raw libmgba on the test cartridge, no video: %8.0f frames/s\n", raw);
	printf("raw libmgba on the test cartridge, every frame: %5.0f frames/s\n", raw_r);
	for (int k = 0; k < n_emu; k++) {
		const struct emu_result *r = &res[k];

		printf("--- %s\n", names[k]);
		printf("emulator alone (plugin's gauge): %8.0f frames/s\n", r->raw_plugin);
		printf("env, no frames requested:    %8.0f steps/s  %8.0f frames/s  (%.1f%% of "
		       "alone)\n", r->sps, r->sps * FPA, 100.0 * r->sps * FPA / r->raw_plugin);
		printf("env, render: frameskip:      %8.0f steps/s  %8.0f frames/s\n", r->sps_fs,
		       r->sps_fs * FPA);
		printf("env, every frame requested:  %8.0f steps/s  %8.0f frames/s\n",
		       r->sps_frames, r->sps_frames * FPA);
		printf("reset (state load):          %8.2f us\n", r->reset_us);
		printf("state: %zu bytes, save %.2f us, load %.2f us (one env, env state ops)\n",
		       r->state_bytes, r->save_us, r->load_us);
		printf("memory per env (%ld envs):   %8.0f kB resident\n", n_envs, r->rss_per_env);
	}
	return 0;
}
