/*
 * gameboy.c - the `gameboy` env plugin: the user's own Game Boy (Color)
 * cartridge under libmgba, one emulator per env, with the game state read
 * from work RAM through the config's RAM map (gameboy_ram.c).
 *
 * Entry: gnarl_plugin_entry -> descriptor `gameboy` (ops: create, destroy,
 * spaces, reset, step).
 *
 * Lifecycle.  create builds env 0's core, reaches the episode start (the
 * config's save_state, or boot_frames frames + START + start_frames frames)
 * and keeps it as one raw mGBA state in memory, plus the frame showing it.
 * Every env then starts from that state; reset is a loadState (a few µs),
 * never an emulator rebuild, followed by 0..reset_noop_max frames with no
 * button drawn from the reset seed (the emulator being deterministic,
 * that is what makes parallel envs start apart; the same seed gives the
 * same episode start).  A step holds the action's buttons for
 * frames_per_action frames, releases them for release_frames, decodes the
 * game state, and writes the observation.  The episode terminates when the
 * death counter rises and is truncated at max_steps.
 *
 * Frames.  Nothing is rendered unless io->want_frame asks.  In `auto` mode
 * the renderer sleeps (mGBA's frameskip counter held high) and is woken for
 * the last frame of a step that wants a frame; this pokes one field of
 * mGBA's internal video state, used only after a layout check at create.
 * `frameskip` mode (also the fallback) renders the last frame of every step
 * through mGBA's public frameskip option, phase-aligned to the steps.
 *
 * Speed.  create publishes gauge gameboy/frames_per_step (frames_per_action
 * + release_frames) and, with measure_raw_fps > 0, gameboy/raw_fps: libmgba
 * alone on a throw-away core without video, the baseline of the env's
 * frames/s in benchmarks.
 *
 * Invariants: nothing of mGBA reaches stdout (a no-op logger is installed
 * once per process, before any core exists); each core is touched by one
 * thread at a time (the host steps disjoint ranges); the step path neither
 * allocates nor fails; the shared start state and frame are read-only after
 * create.
 */
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE */

#include <mgba/flags.h> /* first: it fixes the layout of struct mCore */
#include <mgba/core/config.h>
#include <mgba/core/core.h>
#include <mgba/core/log.h>
#include <mgba/core/serialize.h>
#include <mgba/internal/gb/gb.h>
#include <mgba-util/vfs.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gnarl/plugin.h>

#include "gameboy.h"

#define GB_N_ACTIONS 7
#define START_KEY 8
#define START_HOLD_FRAMES 8
#define SLEEP_FRAMESKIP (1 << 30)  /* "never render" in auto mode */
#define MAX_ROM_SIZE (8u << 20)

/* Defaults, shared by the parameter table and the fallbacks of reads. */
#define DEF_BOOT_FRAMES 600
#define DEF_START_FRAMES 120
#define DEF_FPA 16
#define DEF_RELEASE 0
#define DEF_MAX_STEPS 4096
#define DEF_WINDOW 9
#define DEF_ENEMY_SLOTS 4
#define DEF_NOOP_MAX 30
#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const action_names[GB_N_ACTIONS] = {
	"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B",
};

/* mGBA key bits of each action: A=1 B=2 Right=16 Left=32 Up=64 Down=128. */
static const uint32_t action_keys[GB_N_ACTIONS] = {0, 64, 128, 32, 16, 1, 2};

struct gb_env {
	struct mCore *core;
	struct GB *gb;          /* core->board, only touched in auto render mode */
	uint8_t *wram;          /* 32 KiB, borrowed from the core */
	uint32_t *video;        /* owned; the renderer's output */
	uint32_t steps;
	int32_t deaths;         /* death counter after the last step */
	uint64_t frames;        /* frames since the episode started */
};

struct gameboy {
	const struct gnarl_host *host;
	uint32_t n;
	struct gb_env *envs;
	struct gb_ram_map map;
	struct gb_obs_shape shape;
	uint32_t obs_dim;
	char *rom_path;         /* owned, resolved against config_dir */
	const char *model;      /* borrowed param */
	int fpa, release, max_steps;
	int noop_max;           /* reset_noop_max */
	bool terminate_on_death, auto_render;
	size_t video_stride, video_rows;
	void *start_state;      /* owned; raw mGBA state of the episode start */
	size_t state_size;
	uint8_t *start_frame;   /* owned; GNARL_FRAME_BYTES, the start's picture */
};

/* ------------------------------------------------------------------------ */
/* Process-wide: the logger.                                                */

static void quiet_log(struct mLogger *logger, int category, enum mLogLevel level,
                      const char *format, va_list args)
{
	(void)logger;
	(void)category;
	(void)level;
	(void)format;
	(void)args;
}

/* Written once under pthread_once, then only read by libmgba: with no
 * logger installed, mGBA prints every message to stdout. */
static struct mLogger quiet_logger = {.log = quiet_log, .filter = NULL};
static pthread_once_t logger_once = PTHREAD_ONCE_INIT;

static void install_logger(void)
{
	Dl_info info;

	mLogSetDefaultLogger(&quiet_logger);
	/* libmgba keeps a pointer into this object: never unload it, so a
	 * host that closes and reopens plugins cannot leave it dangling. */
	if (dladdr((void *)&quiet_logger, &info) && info.dli_fname)
		dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/* ------------------------------------------------------------------------ */
/* Parameters.                                                              */

static const struct gnarl_param gameboy_params[] = {
	{"rom", GNARL_PARAM_STRING, 0, GNARL_PARAM_REQUIRED, NULL, 0, 0,
	 "the cartridge image (.gb/.gbc), relative to the config's directory", NULL},
	{"save_state", GNARL_PARAM_STRING, 0, 0, "null", 0, 0,
	 "episode start: a raw mGBA state or a .ss file saved in mGBA (relative to "
	 "the config); null boots the ROM and presses START", NULL},
	{"boot_frames", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_BOOT_FRAMES), 0, 1e7,
	 "without save_state: frames run after power-on before START is pressed", NULL},
	{"start_frames", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_START_FRAMES), 0, 1e7,
	 "without save_state: frames run after START before the episode starts", NULL},
	{"frames_per_action", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_FPA), 1, 600, "frames each action's buttons are held", NULL},
	{"release_frames", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_RELEASE), 0, 600, "frames with no button held after each action", NULL},
	{"max_steps", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_MAX_STEPS), 1, 1e9, "steps before an episode is truncated", NULL},
	{"model", GNARL_PARAM_STRING, 0, 0, "CGB", 0, 0,
	 "hardware model forced for a dual-mode cartridge (mGBA's cgb.hybridModel)",
	 "CGB|AGB|DMG|MGB|SGB"},
	{"ram_map", GNARL_PARAM_MAP, 0, GNARL_PARAM_REQUIRED, NULL, 0, 0,
	 "game-state field -> {address, bank, width, encoding, none, index}, plus "
	 "collisions and enemies (see configs/oracle-of-seasons.yaml)", NULL},
	{"collision_window", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_WINDOW), 1, 31,
	 "odd width of the square of collision tiles around Link in the observation",
	 NULL},
	{"enemy_slots", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_ENEMY_SLOTS), 0, 16, "nearest enemies described in the observation",
	 NULL},
	{"terminate_on_death", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0,
	 "end the episode when the death counter rises", NULL},
	{"render", GNARL_PARAM_STRING, 0, 0, "auto", 0, 0,
	 "auto: render only requested frames; frameskip: render the last frame of "
	 "every step (mGBA's public option)", "auto|frameskip"},
	{"reset_noop_max", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_NOOP_MAX), 0, 3600,
	 "each reset runs 0..N frames with no button after the start state, drawn from "
	 "the reset seed, so parallel envs do not play in lockstep (render: frameskip "
	 "rounds the count down to whole steps); 0: identical starts", NULL},
	{"measure_raw_fps", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 "0", 0, 1e7,
	 "at create, run this many frames of libmgba alone (a throw-away core, no "
	 "video, from the episode start) and publish its speed as gauge "
	 "gameboy/raw_fps, for benchmarks; 0: do not measure", NULL},
	GNARL_PARAMS_END,
};

static int fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, GNARL_ERR_SIZE, fmt, ap);
	va_end(ap);
	return code;
}

/* path made absolute against the config's directory; owned. */
static char *resolve(const struct gnarl_host *host, const char *path)
{
	const char *dir = host->config_dir && *host->config_dir ? host->config_dir : ".";
	size_t n;
	char *out;

	if (path[0] == '/')
		return strdup(path);
	n = strlen(dir) + strlen(path) + 2;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", dir, path);
	return out;
}

/* A Game Boy ROM's header checksum (byte 0x14D over 0x134-0x14C), which
 * the console's boot ROM checks and mGBA, skipping it, does not. */
static int check_rom_header(const char *path, char err[GNARL_ERR_SIZE])
{
	uint8_t h[0x150], sum = 0;
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(h, 1, sizeof(h), f) : 0;

	if (f)
		fclose(f);
	if (n != sizeof(h))
		return fail(err, GNARL_EIO, "params.rom: cannot read the header of '%s'", path);
	for (int i = 0x134; i <= 0x14C; i++)
		sum = (uint8_t)(sum - h[i] - 1);
	if (sum != h[0x14D])
		return fail(err, GNARL_ECONFIG, "params.rom: '%s' is not a Game Boy ROM image "
		            "(header checksum at 0x14D is 0x%02X, the header sums to 0x%02X)",
		            path, h[0x14D], sum);
	return 0;
}

static int read_params(struct gameboy *g, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = g->host;
	const char *rom = gnarl_param_string(h, "rom", NULL);
	const char *render = gnarl_param_string(h, "render", "auto");
	struct stat st;
	int rc;

	if (!rom || !*rom)
		return fail(err, GNARL_ECONFIG, "params.rom: missing: set it to your "
		            "cartridge image (.gb/.gbc)");
	g->rom_path = resolve(h, rom);
	if (!g->rom_path)
		return fail(err, GNARL_ENOMEM, "out of memory");
	if (stat(g->rom_path, &st) != 0 || !S_ISREG(st.st_mode))
		return fail(err, GNARL_ENOENT, "params.rom: cannot open '%s': %s (gnarl ships "
		            "no ROM: point params.rom at your own cartridge image; a relative "
		            "path is relative to the config's directory)", g->rom_path,
		            errno ? strerror(errno) : "not a regular file");
	if (st.st_size < 0x150 || (uint64_t)st.st_size > MAX_ROM_SIZE)
		return fail(err, GNARL_ECONFIG, "params.rom: '%s' is %lld bytes: not a Game "
		            "Boy ROM (0x150 bytes to 8 MiB)", g->rom_path,
		            (long long)st.st_size);
	if ((rc = check_rom_header(g->rom_path, err)))
		return rc;
	g->model = gnarl_param_string(h, "model", "CGB");
	g->fpa = (int)gnarl_param_int(h, "frames_per_action", DEF_FPA);
	g->release = (int)gnarl_param_int(h, "release_frames", DEF_RELEASE);
	g->max_steps = (int)gnarl_param_int(h, "max_steps", DEF_MAX_STEPS);
	g->noop_max = (int)gnarl_param_int(h, "reset_noop_max", DEF_NOOP_MAX);
	g->terminate_on_death = gnarl_param_bool(h, "terminate_on_death", true);
	g->auto_render = strcmp(render, "frameskip") != 0;
	g->shape.window = (uint32_t)gnarl_param_int(h, "collision_window", DEF_WINDOW);
	g->shape.enemy_slots = (uint32_t)gnarl_param_int(h, "enemy_slots", DEF_ENEMY_SLOTS);
	if (g->shape.window % 2 == 0)
		return fail(err, GNARL_ECONFIG, "params.collision_window: %u is even: use an "
		            "odd width so the window is centred on Link", g->shape.window);
	g->obs_dim = gnarl_gameboy_ram_obs_dim(&g->shape);
	rc = gnarl_gameboy_ram_parse(h->param(h, "ram_map"), &g->map, err);
	if (rc)
		return rc;
	/* An SGB model may draw its 256x224 border into the buffer. */
	g->video_stride = strstr(g->model, "SGB") ? 256 : GNARL_FRAME_WIDTH;
	g->video_rows = strstr(g->model, "SGB") ? 224 : GNARL_FRAME_HEIGHT;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* One emulator.                                                            */

static void env_close(struct gb_env *e)
{
	if (e->core) {
		mCoreConfigDeinit(&e->core->config);
		e->core->deinit(e->core);
	}
	free(e->video);
	memset(e, 0, sizeof(*e));
}

/* Refetch the work-RAM pointer: reset re-allocates WRAM. */
static int env_map_wram(struct gb_env *e, char err[GNARL_ERR_SIZE])
{
	size_t size = 0;

	e->wram = e->core->getMemoryBlock(e->core, GB_REGION_WORKING_RAM_BANK0, &size);
	if (!e->wram || size < GB_WRAM_SIZE)
		return fail(err, GNARL_EINCOMPAT, "the emulator exposes %zu bytes of work "
		            "RAM, not the 32 KiB of a Game Boy Color: use a model with "
		            "colour (params.model: CGB)", size);
	return 0;
}

/* Create, configure and power on a core running the ROM; without `video`
 * it gets no video buffer (nothing is drawn: the raw-speed measurement). */
static int env_open(struct gameboy *g, struct gb_env *e, bool video,
                    char err[GNARL_ERR_SIZE])
{
	struct mCoreOptions opts = {0};
	struct VFile *vf;
	struct mCore *core;

	e->video = video ? calloc(g->video_stride * g->video_rows, sizeof(*e->video)) : NULL;
	if (video && !e->video)
		return fail(err, GNARL_ENOMEM, "out of memory for a video buffer");
	core = mCoreCreate(mPLATFORM_GB);
	if (!core)
		return fail(err, GNARL_ENOMEM, "libmgba: cannot create a Game Boy core");
	if (!core->init(core)) {
		free(core);
		return fail(err, GNARL_ENOMEM, "libmgba: cannot initialise a Game Boy core");
	}
	e->core = core;
	/* Our own settings only: mCoreLoadConfig would read ~/.config/mgba. */
	mCoreInitConfig(core, NULL);
	opts.skipBios = true;
	opts.useBios = false;
	opts.mute = true;
	opts.volume = 0;
	opts.frameskip = g->auto_render ? SLEEP_FRAMESKIP : g->fpa + g->release - 1;
	mCoreConfigLoadDefaults(&core->config, &opts);
	mCoreConfigSetValue(&core->config, "cgb.hybridModel", g->model);
	mCoreConfigSetIntValue(&core->config, "sgb.borders", 0);
	mCoreLoadForeignConfig(core, &core->config);
	/* Before reset: reset is what attaches the software renderer. */
	if (video)
		core->setVideoBuffer(core, (color_t *)e->video, g->video_stride);
	vf = VFileOpen(g->rom_path, O_RDONLY);
	if (!vf)
		return fail(err, GNARL_ENOENT, "params.rom: cannot open '%s': %s", g->rom_path,
		            strerror(errno));
	if (!core->loadROM(core, vf)) /* the core owns vf even on failure */
		return fail(err, GNARL_ECONFIG, "params.rom: libmgba cannot load '%s' as a "
		            "Game Boy ROM", g->rom_path);
	core->reset(core);
	e->gb = core->board;
	return env_map_wram(e, err);
}

/* Does mGBA's internal struct GB match the headers we were built with?
 * Checked on live values before `auto` mode touches the frameskip counter. */
static bool layout_ok(struct gb_env *e)
{
	struct mCore *c = e->core;

	for (int i = 0; i < 3; i++)
		c->runFrame(c);
	return e->gb->video.frameCounter == c->frameCounter(c) && e->gb->cpu == c->cpu &&
	       e->gb->video.frameskip == SLEEP_FRAMESKIP &&
	       e->gb->video.frameskipCounter > 0 &&
	       e->gb->video.frameskipCounter <= SLEEP_FRAMESKIP;
}

static void copy_frame(const struct gameboy *g, const struct gb_env *e, uint8_t *out)
{
	for (int y = 0; y < GNARL_FRAME_HEIGHT; y++) {
		const uint8_t *src = (const uint8_t *)(e->video + (size_t)y * g->video_stride);
		uint8_t *dst = out + (size_t)y * GNARL_FRAME_WIDTH * 3;

		/* mGBA's pixels are bytes R, G, B, unused. */
		for (int x = 0; x < GNARL_FRAME_WIDTH; x++) {
			dst[3 * x + 0] = src[4 * x + 0];
			dst[3 * x + 1] = src[4 * x + 1];
			dst[3 * x + 2] = src[4 * x + 2];
		}
	}
}

/* Bring env 0 to the episode start: the user's state, or a boot. */
static int reach_start(struct gameboy *g, struct gb_env *e, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = g->host;
	const char *state = gnarl_param_string(h, "save_state", NULL);
	struct mCore *c = e->core;

	if (state && *state) {
		char *path = resolve(h, state);
		struct VFile *vf;
		bool ok;

		if (!path)
			return fail(err, GNARL_ENOMEM, "out of memory");
		vf = VFileOpen(path, O_RDONLY);
		if (!vf) {
			fail(err, GNARL_ENOENT, "params.save_state: cannot open '%s': %s (the "
			     "path is relative to the config's directory)", path, strerror(errno));
			free(path);
			return GNARL_ENOENT;
		}
		ok = mCoreLoadStateNamed(c, vf, 0);
		vf->close(vf);
		if (!ok) {
			fail(err, GNARL_ECONFIG, "params.save_state: '%s' is not an mGBA save "
			     "state of this ROM (make one in mGBA with File > Save State, or "
			     "set save_state: null to boot)", path);
			free(path);
			return GNARL_ECONFIG;
		}
		h->log(h, GNARL_LOG_INFO, "episodes start from save state %s", path);
		free(path);
		return 0;
	}
	int boot = (int)gnarl_param_int(h, "boot_frames", DEF_BOOT_FRAMES);
	int after = (int)gnarl_param_int(h, "start_frames", DEF_START_FRAMES);

	h->log(h, GNARL_LOG_INFO, "no save_state: booting the ROM for %d frames, pressing "
	       "START, then %d frames (set params.save_state to start from your own state)",
	       boot, after);
	for (int i = 0; i < boot; i++)
		c->runFrame(c);
	c->setKeys(c, START_KEY);
	for (int i = 0; i < START_HOLD_FRAMES; i++)
		c->runFrame(c);
	c->setKeys(c, 0);
	for (int i = 0; i < after; i++)
		c->runFrame(c);
	return 0;
}

/* Power-cycle a core and put it at the start state, with the renderer
 * asleep (auto) or its frameskip phase on the last frame of each step. */
static int env_enter_start(struct gameboy *g, struct gb_env *e, char err[GNARL_ERR_SIZE])
{
	struct mCore *c = e->core;
	int rc;

	c->reset(c);           /* frameskip counter 0: the next frame renders */
	if ((rc = env_map_wram(e, err)))
		return rc;
	c->runFrame(c);        /* counter now SLEEP_FRAMESKIP, or steps' length - 1 */
	if (!c->loadState(c, g->start_state))
		return fail(err, GNARL_EINCOMPAT, "libmgba refused its own save state");
	c->setKeys(c, 0);
	return 0;
}

/* Make the shared start state and its picture from env 0. */
static int capture_start(struct gameboy *g, struct gb_env *e, char err[GNARL_ERR_SIZE])
{
	struct mCore *c = e->core;
	int rc;

	g->state_size = c->stateSize(c);
	g->start_state = malloc(g->state_size);
	g->start_frame = malloc(GNARL_FRAME_BYTES);
	if (!g->start_state || !g->start_frame)
		return fail(err, GNARL_ENOMEM, "out of memory for the start state");
	if ((rc = reach_start(g, e, err)))
		return rc;
	if (!c->saveState(c, g->start_state))
		return fail(err, GNARL_EIO, "libmgba cannot save a state");
	/* After a reset the first frame renders: one frame from the loaded
	 * state gives the start state and a picture of exactly that state. */
	c->reset(c);
	if ((rc = env_map_wram(e, err)))
		return rc;
	if (!c->loadState(c, g->start_state))
		return fail(err, GNARL_EINCOMPAT, "libmgba refused its own save state");
	c->setKeys(c, 0);
	c->runFrame(c);
	copy_frame(g, e, g->start_frame);
	if (!c->saveState(c, g->start_state))
		return fail(err, GNARL_EIO, "libmgba cannot save a state");
	return 0;
}

/* A small deterministic generator (splitmix64): plugins link nothing of
 * gnarl, so they carry their own. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double thread_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* libmgba alone on this cartridge, for comparison with the env: a
 * throw-away core with no video buffer, from the episode start, a new
 * action's buttons every frames_per_action frames.  Frames per CPU-second
 * of the calling thread (the machine may be shared). */
static int measure_raw_fps(struct gameboy *g, long frames, double *fps,
                           char err[GNARL_ERR_SIZE])
{
	struct gb_env e = {0};
	uint64_t r = 1;
	double t0, t;
	int rc = env_open(g, &e, false, err);

	if (!rc && !e.core->loadState(e.core, g->start_state))
		rc = fail(err, GNARL_EINCOMPAT, "libmgba refused its own save state");
	if (rc) {
		env_close(&e);
		return rc;
	}
	t0 = thread_seconds();
	for (long f = 0; f < frames; f++) {
		if (f % g->fpa == 0)
			e.core->setKeys(e.core, action_keys[(r = mix64(r)) % GB_N_ACTIONS]);
		e.core->runFrame(e.core);
	}
	t = thread_seconds() - t0;
	env_close(&e);
	*fps = t > 0 ? (double)frames / t : 0.0;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Ops.                                                                     */

static void gameboy_destroy(void *env)
{
	struct gameboy *g = env;

	if (!g)
		return;
	for (uint32_t i = 0; g->envs && i < g->n; i++)
		env_close(&g->envs[i]);
	free(g->envs);
	free(g->start_state);
	free(g->start_frame);
	free(g->rom_path);
	free(g);
}

static int open_first(struct gameboy *g, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = g->host;
	int rc = env_open(g, &g->envs[0], true, err);

	if (rc || !g->auto_render)
		return rc;
	if (layout_ok(&g->envs[0])) {
		env_close(&g->envs[0]);  /* boot from power-on, not 3 frames in */
		return env_open(g, &g->envs[0], true, err);
	}
	h->log(h, GNARL_LOG_WARN, "libmgba's internal video state does not match the "
	       "headers gnarl was built with: rendering the last frame of every step "
	       "(render: frameskip) instead of only requested frames");
	env_close(&g->envs[0]);
	g->auto_render = false;
	return env_open(g, &g->envs[0], true, err);
}

static void *gameboy_create(const struct gnarl_host *host, uint32_t n_envs,
                            char err[GNARL_ERR_SIZE])
{
	struct gameboy *g;
	int64_t raw;
	int rc;

	pthread_once(&logger_once, install_logger);
	if (n_envs == 0) {
		fail(err, GNARL_EINVAL, "gameboy: n_envs is 0");
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		fail(err, GNARL_ENOMEM, "out of memory");
		return NULL;
	}
	g->host = host;
	g->n = n_envs;
	if ((rc = read_params(g, err)))
		goto fail_g;
	g->envs = calloc(n_envs, sizeof(*g->envs));
	if (!g->envs) {
		fail(err, GNARL_ENOMEM, "out of memory for %u envs", n_envs);
		goto fail_g;
	}
	if ((rc = open_first(g, err)) || (rc = capture_start(g, &g->envs[0], err)))
		goto fail_g;
	for (uint32_t i = 1; i < n_envs; i++)
		if ((rc = env_open(g, &g->envs[i], true, err)) ||
		    (rc = env_enter_start(g, &g->envs[i], err)))
			goto fail_g;
	/* What a step is in frames, so sps converts to frames/s. */
	host->metric(host, "gameboy/frames_per_step", g->fpa + g->release);
	if ((raw = gnarl_param_int(host, "measure_raw_fps", 0)) > 0) {
		double fps;

		if ((rc = measure_raw_fps(g, (long)raw, &fps, err)))
			goto fail_g;
		host->metric(host, "gameboy/raw_fps", fps);
		host->log(host, GNARL_LOG_INFO, "libmgba alone: %.0f frames/s (%lld frames from "
		          "the episode start, no video)", fps, (long long)raw);
	}
	host->log(host, GNARL_LOG_INFO, "%u envs on %s (model %s, %d+%d frames per "
	          "action, %zu-byte start state, render %s)", n_envs, g->rom_path, g->model,
	          g->fpa, g->release, g->state_size,
	          g->auto_render ? "on request" : "every step's last frame");
	return g;

fail_g:
	gameboy_destroy(g);
	return NULL;
}

static void gameboy_spaces(void *env, struct gnarl_env_spaces *out)
{
	struct gameboy *g = env;

	out->size = sizeof(*out);
	out->obs_dim = g->obs_dim;
	out->n_actions = GB_N_ACTIONS;
	out->action_names = action_names;
	out->has_frames = true;
	out->has_game_state = true;
}

/* Decode, observe, and (if asked) copy the frame of env i. */
static void publish(struct gameboy *g, struct gb_env *e, const struct gnarl_env_io *io,
                    uint32_t i, const uint8_t *frame)
{
	struct gnarl_game_state *s = &io->states[i];

	memset(s, 0, sizeof(*s));
	gnarl_gameboy_ram_decode(&g->map, e->wram, s);
	s->frame = e->frames;
	s->ram = e->wram;
	s->ram_size = GB_WRAM_SIZE;
	gnarl_gameboy_ram_obs(&g->map, &g->shape, e->wram, s,
	                      (float)e->steps / (float)g->max_steps,
	                      io->obs + (size_t)i * io->obs_stride);
	if (frame && io->want_frame && io->want_frame[i] && io->frames)
		memcpy(io->frames + (size_t)i * GNARL_FRAME_BYTES, frame, GNARL_FRAME_BYTES);
}

/* Run n frames with keys held; wake the renderer for the very last frame
 * of the step when asked (auto mode). */
static void run_frames(struct gameboy *g, struct gb_env *e, uint32_t keys, int n,
                       bool render_last)
{
	struct mCore *c = e->core;

	c->setKeys(c, keys);
	for (int f = 0; f < n; f++) {
		if (render_last && f == n - 1)
			e->gb->video.frameskipCounter = 0;
		c->runFrame(c);
	}
}

/* Frames with no button after the start state for a reset from `seed`:
 * 0..reset_noop_max, whole steps in frameskip mode (whose render phase
 * must stay on step boundaries). */
static int noop_frames(const struct gameboy *g, uint64_t seed)
{
	int step = g->fpa + g->release;
	int k;

	if (g->noop_max <= 0)
		return 0;
	k = (int)(mix64(seed) % (uint64_t)(g->noop_max + 1));
	return g->auto_render ? k : k - k % step;
}

/* The emulator is deterministic: only the seed's no-op frames make two
 * episodes start apart.  state.frame counts them. */
static void gameboy_reset(void *env, const struct gnarl_env_io *io, uint32_t index,
                          uint64_t seed)
{
	struct gameboy *g = env;
	struct gb_env *e = &g->envs[index];
	int k = noop_frames(g, seed);
	bool want = io->want_frame && io->want_frame[index] && io->frames;

	e->core->loadState(e->core, g->start_state);
	e->core->setKeys(e->core, 0);
	if (k > 0)
		run_frames(g, e, 0, k, want && g->auto_render);
	e->steps = 0;
	e->frames = (uint64_t)k;
	publish(g, e, io, index, k > 0 ? NULL : g->start_frame);
	if (k > 0 && want)
		copy_frame(g, e, io->frames + (size_t)index * GNARL_FRAME_BYTES);
	e->deaths = io->states[index].deaths;
}

static void gameboy_step(void *env, const struct gnarl_env_io *io, uint32_t first,
                         uint32_t count)
{
	struct gameboy *g = env;

	for (uint32_t i = first; i < first + count; i++) {
		struct gb_env *e = &g->envs[i];
		int32_t a = io->actions[i];
		uint32_t keys = a >= 0 && a < GB_N_ACTIONS ? action_keys[a] : 0;
		bool want = io->want_frame && io->want_frame[i] && io->frames;
		bool wake = want && g->auto_render;
		uint8_t done = 0;

		run_frames(g, e, keys, g->fpa, wake && g->release == 0);
		if (g->release > 0)
			run_frames(g, e, 0, g->release, wake);
		e->steps++;
		e->frames += (uint64_t)(g->fpa + g->release);
		if (want)
			copy_frame(g, e, io->frames + (size_t)i * GNARL_FRAME_BYTES);
		publish(g, e, io, i, NULL);
		if (g->terminate_on_death && io->states[i].deaths > e->deaths)
			done |= GNARL_DONE_TERMINATED;
		else if (e->steps >= (uint32_t)g->max_steps)
			done |= GNARL_DONE_TRUNCATED;
		e->deaths = io->states[i].deaths;
		io->dones[i] = done;
		if (io->rewards)
			io->rewards[i] = 0.0f;
	}
}

/* ------------------------------------------------------------------------ */
/* The running episodes, for checkpoints: a header (magic, version, env
 * count, bytes of one core's state), then per env its counters and
 * libmgba's own state of its core (CPU, memory, video, timers).  Only
 * whole steps are saved, so in frameskip mode the renderer's phase (set
 * when the core entered the start state) stays on step boundaries. */

#define GB_STATE_MAGIC 0x54534247u /* "GBST" */
#define GB_STATE_VERSION 1u
#define GB_STATE_HEADER 24
#define GB_ENV_HEADER 16

static size_t gameboy_state_size(void *env)
{
	struct gameboy *g = env;

	return GB_STATE_HEADER + (size_t)g->n * (GB_ENV_HEADER + g->state_size);
}

static int gameboy_save_state(void *env, void *buf, size_t size)
{
	struct gameboy *g = env;
	uint8_t *p = buf;

	if (size != gameboy_state_size(env))
		return GNARL_EINVAL;
	gnarl_put_u32(p, GB_STATE_MAGIC);
	gnarl_put_u32(p + 4, GB_STATE_VERSION);
	gnarl_put_u32(p + 8, g->n);
	gnarl_put_u32(p + 12, 0);
	gnarl_put_u64(p + 16, g->state_size);
	p += GB_STATE_HEADER;
	for (uint32_t i = 0; i < g->n; i++) {
		struct gb_env *e = &g->envs[i];

		gnarl_put_u32(p, e->steps);
		gnarl_put_u32(p + 4, (uint32_t)e->deaths);
		gnarl_put_u64(p + 8, e->frames);
		/* libmgba leaves the state's reserved bytes as they were: zero
		 * them, or the same game would save different bytes */
		memset(p + GB_ENV_HEADER, 0, g->state_size);
		if (!e->core->saveState(e->core, p + GB_ENV_HEADER))
			return GNARL_EIO;
		p += GB_ENV_HEADER + g->state_size;
	}
	return 0;
}

static int gameboy_load_state(void *env, const struct gnarl_env_io *io, const void *buf,
                              size_t size, char err[GNARL_ERR_SIZE])
{
	struct gameboy *g = env;
	const uint8_t *p = buf;

	if (size < GB_STATE_HEADER || gnarl_get_u32(p) != GB_STATE_MAGIC ||
	    gnarl_get_u32(p + 4) != GB_STATE_VERSION)
		return fail(err, GNARL_ECORRUPT, "not a saved state of this gameboy env (%zu bytes)",
		            size);
	if (gnarl_get_u32(p + 8) != g->n || gnarl_get_u64(p + 16) != g->state_size ||
	    size != gameboy_state_size(env))
		return fail(err, GNARL_EINCOMPAT,
		            "saved state of %u envs with %llu-byte cores; this env has %u with "
		            "%zu-byte cores (another libmgba or model?)",
		            gnarl_get_u32(p + 8), (unsigned long long)gnarl_get_u64(p + 16), g->n,
		            g->state_size);
	p += GB_STATE_HEADER;
	for (uint32_t i = 0; i < g->n; i++) {
		struct gb_env *e = &g->envs[i];

		if (!e->core->loadState(e->core, p + GB_ENV_HEADER))
			return fail(err, GNARL_ECORRUPT, "libmgba refused the saved state of env %u",
			            i);
		e->core->setKeys(e->core, 0);
		e->steps = gnarl_get_u32(p);
		e->deaths = (int32_t)gnarl_get_u32(p + 4);
		e->frames = gnarl_get_u64(p + 8);
		publish(g, e, io, i, NULL);
		e->deaths = io->states[i].deaths;
		p += GB_ENV_HEADER + g->state_size;
	}
	return 0;
}

/* One env's state (the archive of start states): "GBE1", the core's state
 * size (u32), then the env's record as in the running episodes above. */
#define GB_ENV_MAGIC 0x31454247u /* "GBE1" */

static size_t gameboy_env_state_size(void *env)
{
	return 8 + GB_ENV_HEADER + ((struct gameboy *)env)->state_size;
}

static int gameboy_save_env_state(void *env, uint32_t index, void *buf, size_t size)
{
	struct gameboy *g = env;
	struct gb_env *e;
	uint8_t *p = buf;

	if (index >= g->n || size != gameboy_env_state_size(env))
		return GNARL_EINVAL;
	e = &g->envs[index];
	gnarl_put_u32(p, GB_ENV_MAGIC);
	gnarl_put_u32(p + 4, (uint32_t)g->state_size);
	gnarl_put_u32(p + 8, e->steps);
	gnarl_put_u32(p + 12, (uint32_t)e->deaths);
	gnarl_put_u64(p + 16, e->frames);
	memset(p + 8 + GB_ENV_HEADER, 0, g->state_size);
	return e->core->saveState(e->core, p + 8 + GB_ENV_HEADER) ? 0 : GNARL_EIO;
}

static int gameboy_load_env_state(void *env, const struct gnarl_env_io *io, uint32_t index,
                                  const void *buf, size_t size, char err[GNARL_ERR_SIZE])
{
	struct gameboy *g = env;
	struct gb_env *e;
	const uint8_t *p = buf;

	if (index >= g->n || size != gameboy_env_state_size(env) ||
	    gnarl_get_u32(p) != GB_ENV_MAGIC || gnarl_get_u32(p + 4) != g->state_size)
		return fail(err, GNARL_EINCOMPAT, "not one env's state of this gameboy env "
		            "(%zu bytes; %zu-byte cores here)", size, g->state_size);
	e = &g->envs[index];
	if (!e->core->loadState(e->core, p + 8 + GB_ENV_HEADER))
		return fail(err, GNARL_ECORRUPT, "libmgba refused the env state");
	e->core->setKeys(e->core, 0);
	e->steps = gnarl_get_u32(p + 8);
	e->frames = gnarl_get_u64(p + 16);
	publish(g, e, io, index, NULL);
	e->deaths = io->states[index].deaths;
	return 0;
}

static const struct gnarl_env_ops gameboy_ops = {
	.size = sizeof(struct gnarl_env_ops),
	.create = gameboy_create,
	.destroy = gameboy_destroy,
	.spaces = gameboy_spaces,
	.reset = gameboy_reset,
	.step = gameboy_step,
	.state_size = gameboy_state_size,
	.save_state = gameboy_save_state,
	.load_state = gameboy_load_state,
	.env_state_size = gameboy_env_state_size,
	.save_env_state = gameboy_save_env_state,
	.load_env_state = gameboy_load_env_state,
};

static const struct gnarl_plugin gameboy_plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_ENV,
	.name = "gameboy",
	.version = "1.1.0",
	.summary = "your own Game Boy (Color) cartridge under libmgba, game state read "
	           "through a RAM map",
	.params = gameboy_params,
	.ops.env = &gameboy_ops,
};

GNARL_PLUGIN_ENTRY(&gameboy_plugin)
