/*
 * gameboy.c - the `gameboy` env plugin: the user's own Game Boy (Color)
 * cartridge, one emulator per env (emu.h: libmgba in emu_mgba.c, or a
 * libretro core such as Gambatte in emu_retro.c, as params.emulator says),
 * with the game state read from work RAM through the config's RAM map
 * (gameboy_ram.c).
 *
 * Entry: gnarl_plugin_entry -> descriptor `gameboy` (ops: create, destroy,
 * spaces, reset, step, state ops).
 *
 * Lifecycle.  create reads the cartridge (gameboy_rom.c), builds env 0's
 * emulator and brings it to the episode start: the config's save_state, or
 * its boot file replayed from power-on (gameboy_start.c, with a cache), and
 * keeps that as one raw emulator state in memory, plus the frame showing
 * it; a copy goes to the run directory (gameboy/start.gbstate).  Env 0's
 * emulator then proves that its states restore exactly
 * (gb_emu_check_exact), or create refuses it.  Unless
 * self_check is off, the RAM map is then checked on the running game
 * (gameboy_check.c) and a failure stops create.  Every env starts from the
 * start state; reset is a state load (µs), never an emulator rebuild,
 * followed by 0..reset_noop_max frames with no button drawn from the reset
 * seed (the emulator being deterministic, that is what makes parallel envs
 * start apart).
 *
 * A step holds the action's buttons for frames_per_action frames, releases
 * them for release_frames; then, while a text box is open or the screen is
 * changing (the map's text_active and transition entries), it runs more
 * whole steps' worth of frames, with A pressed for the first half of each
 * while text is open (advance_text), up to wait_for_control of them: the
 * agent's next decision comes when the game listens again.  The episode
 * terminates when the death counter rises and is truncated at max_steps.
 *
 * Frames.  Nothing is rendered unless io->want_frame asks.  In `auto` mode
 * the emulator renders only the last frame of a step (and of each waiting
 * step) that wants a frame; `frameskip` mode (also the fallback of an
 * emulator that cannot render on request) renders the last frame of every
 * step, its phase aligned to the steps at power-on: waits and no-op frames
 * come in whole steps there.
 *
 * Speed.  create publishes gauge gameboy/frames_per_step (frames_per_action
 * + release_frames) and, with measure_raw_fps > 0, gameboy/raw_fps: the
 * emulator alone on a throw-away instance without video, the baseline of
 * the env's frames/s in benchmarks; each reset of env 0 publishes
 * gameboy/wait_share, the share of its last episode's frames spent waiting
 * for control.
 *
 * Invariants: each emulator is touched by one thread at a time (the host
 * steps disjoint ranges); the step path neither allocates nor fails; the
 * shared start state and frame are read-only after create.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, clock_gettime */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnarl/plugin.h>

#include "emu.h"
#include "gameboy.h"

#define MAX_ACTIONS 32

/* Defaults, shared by the parameter table and the fallbacks of reads. */
#define DEF_FPA 16
#define DEF_RELEASE 0
#define DEF_MAX_STEPS 4096
#define DEF_WINDOW 9
#define DEF_ENEMY_SLOTS 4
#define DEF_NOOP_MAX 30
#define DEF_EMULATOR "libmgba"
#define EXACT_CHECK_FRAMES 64
#define DEF_WAIT 64
#define STR_(x) #x
#define STR(x) STR_(x)

struct gb_env {
	struct gb_emu *emu;     /* owned */
	uint32_t steps;
	int32_t deaths;         /* death counter after the last step */
	uint64_t frames;        /* frames since the episode started */
	uint64_t waited;        /* of them, frames waiting for control */
};

struct gameboy {
	const struct gnarl_host *host;
	uint32_t n;
	struct gb_env *envs;
	struct gb_ram_map map;
	struct gb_obs_shape shape;
	uint32_t obs_dim;
	char *rom_path;         /* owned, resolved against config_dir */
	char *emulator;         /* owned: libmgba, a core's name, or its resolved path */
	struct gb_rom rom;
	const char *model;      /* borrowed param */
	int fpa, release, max_steps;
	int noop_max;           /* reset_noop_max */
	int wait_steps;         /* wait_for_control */
	bool advance_text;
	bool terminate_on_death;
	uint32_t n_actions;
	const char *action_names[MAX_ACTIONS]; /* borrowed params */
	uint32_t action_keys[MAX_ACTIONS];
	bool on_request;        /* the emulators render only requested frames */
	void *start_state;      /* owned; the emulator's raw state of the episode start */
	size_t state_size;
	uint8_t *start_frame;   /* owned; GNARL_FRAME_BYTES, the start's picture */
};

/* ------------------------------------------------------------------------ */
/* Parameters.                                                              */

static const struct gnarl_param gameboy_params[] = {
	{"rom", GNARL_PARAM_STRING, 0, GNARL_PARAM_REQUIRED, NULL, 0, 0,
	 "the cartridge image (.gb/.gbc), relative to the config's directory", NULL},
	{"emulator", GNARL_PARAM_STRING, 0, 0, DEF_EMULATOR, 0, 0,
	 "libmgba, or a libretro core: its name (gambatte: gambatte_libretro.so in "
	 "the standard libretro folder) or the path to its .so (relative to the config)",
	 NULL},
	{"save_state", GNARL_PARAM_STRING, 0, 0, "null", 0, 0,
	 "episode start: a gnarl state (gnarl gb peek --save-state, a run's "
	 "gameboy/start.gbstate) or the emulator's own (libmgba: mGBA's .ss; a libretro "
	 "core: its raw state), relative to the config; wins over boot", NULL},
	{"boot", GNARL_PARAM_STRING, 0, 0, "null", 0, 0,
	 "without save_state: a boot file replayed from power-on to the episode start "
	 "(configs/oracle-of-seasons.boot), relative to the config", NULL},
	{"boot_stop", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "0", 0, 1e6,
	 "replay the boot file's lines before this one only (to look at the game "
	 "there with gnarl gb peek); 0: all", NULL},
	{"boot_cache", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0,
	 "keep the boot file's end state in GNARL_CACHE_DIR (else $XDG_CACHE_HOME/gnarl, "
	 "~/.cache/gnarl), keyed by cartridge, file, backend and model", NULL},
	{"actions", GNARL_PARAM_LIST, GNARL_PARAM_STRING, 0,
	 "[NOP, UP, DOWN, LEFT, RIGHT, A, B]", 0, 0,
	 "the agent's actions: NOP first, then buttons (A B SELECT START RIGHT LEFT UP "
	 "DOWN) or combinations (UP+A)", NULL},
	{"wait_for_control", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_WAIT), 0, 100000,
	 "while a text box is open or the screen changes after a step, run up to this many "
	 "more steps' worth of frames before the agent decides again; 0: never wait", NULL},
	{"advance_text", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0,
	 "while waiting on a text box, press A for the first half of each step (closes "
	 "text; picks a question's first answer)", NULL},
	{"self_check", GNARL_PARAM_STRING, 0, 0, "quick", 0, 0,
	 "check the RAM map on the running game at create: quick (ranges, the four "
	 "directions, a screen edge), full (every reachable edge, a report of each field; "
	 "gnarl gb check), off", "quick|full|off"},
	{"frames_per_action", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_FPA), 1, 600, "frames each action's buttons are held", NULL},
	{"release_frames", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_RELEASE), 0, 600, "frames with no button held after each action", NULL},
	{"max_steps", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 STR(DEF_MAX_STEPS), 1, 1e9, "steps before an episode is truncated", NULL},
	{"model", GNARL_PARAM_STRING, 0, 0, "CGB", 0, 0,
	 "hardware model for a dual-mode cartridge (header $143 = $80); a colour-only "
	 "one ($C0, Oracle of Seasons) refuses DMG, MGB and SGB",
	 "CGB|AGB|DMG|MGB|SGB"},
	{"ram_map", GNARL_PARAM_MAP, 0, GNARL_PARAM_REQUIRED, NULL, 0, 0,
	 "game-state field -> {address, bank, width, encoding, none, index}, plus "
	 "collisions, doors, transition and enemies (see configs/oracle-of-seasons.yaml)",
	 NULL},
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
	 "at create, run this many frames of the emulator alone (a throw-away one, no "
	 "video, from the episode start) and publish its speed as gauge "
	 "gameboy/raw_fps, for benchmarks; 0: do not measure", NULL},
	GNARL_PARAMS_END,
};

int gnarl_gameboy_fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, GNARL_ERR_SIZE, fmt, ap);
	va_end(ap);
	return code;
}

#define fail gnarl_gameboy_fail

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

/* One action: "NOP" or buttons joined by '+'. */
static int parse_action(const struct gnarl_value *v, uint32_t *keys, char err[GNARL_ERR_SIZE])
{
	char bad[64];

	*keys = 0;
	if (!strcasecmp(v->as.s, "NOP"))
		return 0;
	if (gnarl_gameboy_buttons(v->as.s, keys, bad, sizeof(bad)))
		return fail(err, GNARL_ECONFIG, "params.actions (line %d): '%s' is not a button (A B "
		            "SELECT START RIGHT LEFT UP DOWN, joined by '+', or NOP)", v->line, bad);
	return 0;
}

static int read_actions(struct gameboy *g, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *list = g->host->param(g->host, "actions");
	int rc;

	if (!list || list->count == 0 || list->count > MAX_ACTIONS)
		return fail(err, GNARL_ECONFIG, "params.actions: give 1 to %d actions (NOP first)",
		            MAX_ACTIONS);
	for (size_t a = 0; a < list->count; a++) {
		if ((rc = parse_action(&list->items[a], &g->action_keys[a], err)))
			return rc;
		g->action_names[a] = list->items[a].as.s;
		for (size_t b = 0; b < a; b++)
			if (g->action_keys[b] == g->action_keys[a])
				return fail(err, GNARL_ECONFIG, "params.actions (line %d): '%s' presses "
				            "the same buttons as '%s'", list->items[a].line,
				            list->items[a].as.s, g->action_names[b]);
	}
	if (g->action_keys[0] != 0)
		return fail(err, GNARL_ECONFIG, "params.actions (line %d): the first action must be "
		            "NOP (no button; gnarl's tools play it as 'do nothing')",
		            list->items[0].line);
	g->n_actions = (uint32_t)list->count;
	return 0;
}

static int read_params(struct gameboy *g, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = g->host;
	const char *rom = gnarl_param_string(h, "rom", NULL);
	const char *render = gnarl_param_string(h, "render", "auto");
	const char *emulator = gnarl_param_string(h, "emulator", DEF_EMULATOR);
	int rc;

	if (!rom || !*rom)
		return fail(err, GNARL_ECONFIG, "params.rom: missing: set it to your "
		            "cartridge image (.gb/.gbc)");
	g->rom_path = resolve(h, rom);
	if (!g->rom_path)
		return fail(err, GNARL_ENOMEM, "out of memory");
	if ((rc = gnarl_gameboy_rom_read(g->rom_path, &g->rom, err)))
		return rc;
	/* A core given by path is found relative to the config, like the ROM. */
	g->emulator = strchr(emulator, '/') ? resolve(h, emulator) : strdup(emulator);
	if (!g->emulator)
		return fail(err, GNARL_ENOMEM, "out of memory");
	g->model = gnarl_param_string(h, "model", "CGB");
	if (gnarl_gameboy_rom_colour_only(&g->rom) && strcmp(g->model, "CGB") &&
	    strcmp(g->model, "AGB"))
		return fail(err, GNARL_ECONFIG, "params.model: %s, but \"%s\" is a Game Boy Color "
		            "cartridge only (header byte 0x143 = 0x%02X): it runs in colour on a "
		            "CGB or AGB and not at all on a %s; set model: CGB", g->model,
		            g->rom.title, g->rom.cgb, g->model);
	g->fpa = (int)gnarl_param_int(h, "frames_per_action", DEF_FPA);
	g->release = (int)gnarl_param_int(h, "release_frames", DEF_RELEASE);
	g->max_steps = (int)gnarl_param_int(h, "max_steps", DEF_MAX_STEPS);
	g->noop_max = (int)gnarl_param_int(h, "reset_noop_max", DEF_NOOP_MAX);
	g->wait_steps = (int)gnarl_param_int(h, "wait_for_control", DEF_WAIT);
	g->advance_text = gnarl_param_bool(h, "advance_text", true);
	g->terminate_on_death = gnarl_param_bool(h, "terminate_on_death", true);
	g->on_request = strcmp(render, "frameskip") != 0;
	g->shape.window = (uint32_t)gnarl_param_int(h, "collision_window", DEF_WINDOW);
	g->shape.enemy_slots = (uint32_t)gnarl_param_int(h, "enemy_slots", DEF_ENEMY_SLOTS);
	if (g->shape.window % 2 == 0)
		return fail(err, GNARL_ECONFIG, "params.collision_window: %u is even: use an "
		            "odd width so the window is centred on Link", g->shape.window);
	g->obs_dim = gnarl_gameboy_ram_obs_dim(&g->shape);
	if ((rc = read_actions(g, err)))
		return rc;
	return gnarl_gameboy_ram_parse(h->param(h, "ram_map"), &g->map, err);
}

/* ------------------------------------------------------------------------ */
/* One emulator per env.                                                    */

/* Open env e's emulator, powered on; without `video` it never renders
 * (the raw-speed measurement). */
static int env_open(const struct gameboy *g, struct gb_env *e, bool video,
                    char err[GNARL_ERR_SIZE])
{
	struct gb_emu_spec spec = {
		.emulator = g->emulator,
		.rom_path = g->rom_path,
		.model = g->model,
		.video = video,
		.step_frames = g->fpa + g->release,
		.on_request = g->on_request,
	};

	return gb_emu_open(&spec, &e->emu, err);
}

static void env_close(struct gb_env *e)
{
	gb_emu_close(e->emu);
	memset(e, 0, sizeof(*e));
}

static uint8_t *env_wram(const struct gb_env *e)
{
	return e->emu->ops->wram(e->emu);
}

static void copy_frame(const struct gb_env *e, uint8_t *out)
{
	e->emu->ops->frame(e->emu, out);
}

/* Bring env 0 to the episode start: the user's state, or a boot file. */
static int reach_start(struct gameboy *g, struct gb_env *e, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = g->host;
	const char *state = gnarl_param_string(h, "save_state", NULL);
	const char *boot = gnarl_param_string(h, "boot", NULL);
	struct gb_start_spec spec = {
		.host = h,
		.rom = &g->rom,
		.model = g->model,
		.boot_stop = (int)gnarl_param_int(h, "boot_stop", 0),
		.cache = gnarl_param_bool(h, "boot_cache", true),
	};
	char *state_path = state && *state ? resolve(h, state) : NULL;
	char *boot_path = !state_path && boot && *boot ? resolve(h, boot) : NULL;
	int rc;

	if ((state && *state && !state_path) || (!state_path && boot && *boot && !boot_path))
		rc = fail(err, GNARL_ENOMEM, "out of memory");
	else {
		spec.save_state = state_path;
		spec.boot = boot_path;
		rc = gnarl_gameboy_start_reach(&spec, e->emu, err);
	}
	free(state_path);
	free(boot_path);
	return rc;
}

/* Power-cycle an emulator and put it at the start state, with the
 * renderer's every-step phase (when it has one) on the last frame of each
 * step: power_on makes the next frame render, so that one frame comes
 * before the state is loaded. */
static int env_enter_start(struct gameboy *g, struct gb_env *e, char err[GNARL_ERR_SIZE])
{
	const struct gb_emu_ops *op = e->emu->ops;

	op->power_on(e->emu);
	op->run_frame(e->emu, false);
	if (!op->load_state(e->emu, g->start_state))
		return fail(err, GNARL_EINCOMPAT, "%s refused its own save state", e->emu->name);
	return 0;
}

/* Make the shared start state and its picture from env 0. */
static int capture_start(struct gameboy *g, struct gb_env *e, char err[GNARL_ERR_SIZE])
{
	const struct gb_emu_ops *op = e->emu->ops;
	int rc;

	g->state_size = op->state_size(e->emu);
	g->start_state = malloc(g->state_size);
	g->start_frame = malloc(GNARL_FRAME_BYTES);
	if (!g->start_state || !g->start_frame)
		return fail(err, GNARL_ENOMEM, "out of memory for the start state");
	if ((rc = reach_start(g, e, err)))
		return rc;
	if (!op->save_state(e->emu, g->start_state))
		return fail(err, GNARL_EIO, "%s cannot save a state", e->emu->name);
	/* After power_on the first frame renders: one frame from the loaded
	 * state gives the start state and a picture of exactly that state. */
	op->power_on(e->emu);
	if (!op->load_state(e->emu, g->start_state))
		return fail(err, GNARL_EINCOMPAT, "%s refused its own save state", e->emu->name);
	op->run_frame(e->emu, true);
	copy_frame(e, g->start_frame);
	if (!op->save_state(e->emu, g->start_state))
		return fail(err, GNARL_EIO, "%s cannot save a state", e->emu->name);
	return 0;
}

static void state_id(const struct gameboy *g, struct gb_state_id *id)
{
	id->backend = g->envs[0].emu->name;
	id->rom_md5 = g->rom.md5;
	id->rom_title = g->rom.title;
	id->state_size = g->state_size;
}

/* A copy of the start state in the run directory, loadable as
 * save_state: the run can be repeated or moved without its boot file.
 * Outside training (gnarl gb, eval) there is no run: nothing to do. */
static void store_start(struct gameboy *g)
{
	const struct gnarl_host *h = g->host;
	char err[GNARL_ERR_SIZE];
	struct gb_state_id id;
	void *blob = NULL;
	size_t size;
	int rc;

	state_id(g, &id);
	rc = gnarl_gameboy_start_blob(&id, g->start_state, &blob, &size, err);
	if (!rc)
		rc = h->run_put(h, "gameboy/start.gbstate", blob, size, err);
	if (rc && rc != GNARL_EUNSUPPORTED)
		h->log(h, GNARL_LOG_WARN, "the start state is not stored with the run: %s", err);
	free(blob);
}

/* The RAM map on the running game, from the start state, on env 0's
 * emulator (which then enters the start state again). */
static int self_check(struct gameboy *g, char err[GNARL_ERR_SIZE])
{
	const char *mode = gnarl_param_string(g->host, "self_check", "quick");
	struct gb_check_spec c = {
		.host = g->host,
		.map = &g->map,
		.step_frames = g->fpa + g->release,
		.full = !strcmp(mode, "full"),
		.start = g->start_state,
	};
	int rc;

	if (!strcmp(mode, "off"))
		return 0;
	rc = gnarl_gameboy_check_run(&c, g->envs[0].emu, err);
	return rc ? rc : env_enter_start(g, &g->envs[0], err);
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

/* The emulator alone on this cartridge, for comparison with the env: a
 * throw-away one with no video, from the episode start, a new
 * action's buttons every frames_per_action frames.  Frames per CPU-second
 * of the calling thread (the machine may be shared). */
static int measure_raw_fps(struct gameboy *g, long frames, double *fps,
                           char err[GNARL_ERR_SIZE])
{
	struct gb_env e = {0};
	uint64_t r = 1;
	double t0, t;
	int rc = env_open(g, &e, false, err);

	if (!rc && !e.emu->ops->load_state(e.emu, g->start_state))
		rc = fail(err, GNARL_EINCOMPAT, "%s refused its own save state",
		          e.emu->name);
	if (rc) {
		env_close(&e);
		return rc;
	}
	t0 = thread_seconds();
	for (long f = 0; f < frames; f++) {
		if (f % g->fpa == 0)
			e.emu->ops->set_keys(e.emu, g->action_keys[(r = mix64(r)) % g->n_actions]);
		e.emu->ops->run_frame(e.emu, false);
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
	free(g->emulator);
	free(g);
}

/* Env 0's emulator; when it cannot render on request, every env renders
 * the last frame of each step instead (said once). */
static int open_first(struct gameboy *g, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = g->host;
	int rc = env_open(g, &g->envs[0], true, err);

	if (rc || !g->on_request || g->envs[0].emu->on_request)
		return rc;
	h->log(h, GNARL_LOG_WARN, "%s cannot render only requested frames (its internal "
	       "video state does not match the headers gnarl was built with): rendering "
	       "the last frame of every step (render: frameskip) instead",
	       g->envs[0].emu->name);
	env_close(&g->envs[0]);
	g->on_request = false;
	return env_open(g, &g->envs[0], true, err);
}

static void *gameboy_create(const struct gnarl_host *host, uint32_t n_envs,
                            char err[GNARL_ERR_SIZE])
{
	struct gameboy *g;
	int64_t raw;
	int rc;

	gb_emu_mgba_quiet();
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
	if ((rc = open_first(g, err)) || (rc = capture_start(g, &g->envs[0], err)) ||
	    (rc = gb_emu_check_exact(g->envs[0].emu, g->start_state, EXACT_CHECK_FRAMES,
	                             err)) ||
	    (rc = env_enter_start(g, &g->envs[0], err)) || (rc = self_check(g, err)))
		goto fail_g;
	store_start(g);
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
		host->log(host, GNARL_LOG_INFO, "%s alone: %.0f frames/s (%lld frames from "
		          "the episode start, no video)", g->envs[0].emu->name, fps,
		          (long long)raw);
	}
	host->log(host, GNARL_LOG_INFO, "%u envs on %s (\"%s\"%s%s, md5 %s; %s, model %s, "
	          "%d+%d frames per action, %u actions, %zu-byte start state, render %s)",
	          n_envs, g->rom_path, g->rom.title, g->rom.known ? ": " : "",
	          g->rom.known ? g->rom.known : "", g->rom.md5, g->envs[0].emu->name,
	          g->model, g->fpa, g->release, g->n_actions, g->state_size,
	          g->on_request ? "on request" : "every step's last frame");
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
	out->n_actions = g->n_actions;
	out->action_names = g->action_names;
	out->has_frames = true;
	out->has_game_state = true;
}

/* Decode, observe, and (if asked) copy the frame of env i. */
static void publish(struct gameboy *g, struct gb_env *e, const struct gnarl_env_io *io,
                    uint32_t i, const uint8_t *frame)
{
	struct gnarl_game_state *s = &io->states[i];
	const uint8_t *wram = env_wram(e);

	memset(s, 0, sizeof(*s));
	gnarl_gameboy_ram_decode(&g->map, wram, s);
	s->frame = e->frames;
	s->ram = wram;
	s->ram_size = GB_WRAM_SIZE;
	gnarl_gameboy_ram_obs(&g->map, &g->shape, wram, s,
	                      (float)e->steps / (float)g->max_steps,
	                      io->obs + (size_t)i * io->obs_stride);
	if (frame && io->want_frame && io->want_frame[i] && io->frames)
		memcpy(io->frames + (size_t)i * GNARL_FRAME_BYTES, frame, GNARL_FRAME_BYTES);
}

/* Run n frames with keys held; render the very last one when asked. */
static void run_frames(struct gameboy *g, struct gb_env *e, uint32_t keys, int n,
                       bool render_last)
{
	const struct gb_emu_ops *op = e->emu->ops;

	op->set_keys(e->emu, keys);
	for (int f = 0; f < n; f++)
		op->run_frame(e->emu, render_last && f == n - 1);
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
	return g->on_request ? k : k - k % step;
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

	if (index == 0 && e->frames > 0)
		g->host->metric(g->host, "gameboy/wait_share", (double)e->waited / (double)e->frames);
	e->emu->ops->load_state(e->emu, g->start_state);
	if (k > 0)
		run_frames(g, e, 0, k, want && g->on_request);
	e->steps = 0;
	e->frames = (uint64_t)k;
	e->waited = 0;
	publish(g, e, io, index, k > 0 ? NULL : g->start_frame);
	if (k > 0 && want)
		copy_frame(e, io->frames + (size_t)index * GNARL_FRAME_BYTES);
	e->deaths = io->states[index].deaths;
}

/* Has the game stopped listening to the joypad for now? */
static bool lost_control(const struct gameboy *g, const uint8_t *wram, bool *text)
{
	*text = gnarl_gameboy_ram_text_open(&g->map, wram);
	return *text || gnarl_gameboy_ram_in_transition(&g->map, wram);
}

/* One step of env e: the action, then whole steps' worth of frames while
 * the game is not listening (a text box, a screen transition). */
static void play_step(struct gameboy *g, struct gb_env *e, uint32_t keys, bool wake)
{
	int step = g->fpa + g->release, half = step / 2;
	bool text;

	run_frames(g, e, keys, g->fpa, wake && g->release == 0);
	if (g->release > 0)
		run_frames(g, e, 0, g->release, wake);
	e->frames += (uint64_t)step;
	for (int w = 0; w < g->wait_steps && lost_control(g, env_wram(e), &text); w++) {
		run_frames(g, e, text && g->advance_text ? GB_KEY_A : 0, half, false);
		run_frames(g, e, 0, step - half, wake);
		e->frames += (uint64_t)step;
		e->waited += (uint64_t)step;
	}
}

static void gameboy_step(void *env, const struct gnarl_env_io *io, uint32_t first,
                         uint32_t count)
{
	struct gameboy *g = env;

	for (uint32_t i = first; i < first + count; i++) {
		struct gb_env *e = &g->envs[i];
		int32_t a = io->actions[i];
		uint32_t keys = a >= 0 && (uint32_t)a < g->n_actions ? g->action_keys[a] : 0;
		bool want = io->want_frame && io->want_frame[i] && io->frames;
		uint8_t done = 0;

		play_step(g, e, keys, want && g->on_request);
		e->steps++;
		if (want)
			copy_frame(e, io->frames + (size_t)i * GNARL_FRAME_BYTES);
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
/* The running episodes, for checkpoints: a gnarl state blob
 * (gameboy_state.c: backend, cartridge, sizes), per env its counters and
 * the emulator's own state (CPU, memory, video, timers).  Only whole steps
 * are saved, so in frameskip mode the renderer's phase (set when the
 * emulator entered the start state) stays on step boundaries. */

static size_t gameboy_state_size(void *env)
{
	struct gameboy *g = env;

	return gnarl_gameboy_state_size(g->n, g->state_size);
}

static int gameboy_save_state(void *env, void *buf, size_t size)
{
	struct gameboy *g = env;
	struct gb_state_id id;
	uint8_t *p = buf;

	if (size != gameboy_state_size(env))
		return GNARL_EINVAL;
	state_id(g, &id);
	gnarl_gameboy_state_put_header(p, &id, g->n);
	p += GB_STATE_HEADER;
	for (uint32_t i = 0; i < g->n; i++) {
		struct gb_env *e = &g->envs[i];

		gnarl_put_u32(p, e->steps);
		gnarl_put_u32(p + 4, (uint32_t)e->deaths);
		gnarl_put_u64(p + 8, e->frames);
		if (!e->emu->ops->save_state(e->emu, p + GB_ENV_HEADER))
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
	struct gb_state_id id;
	uint32_t n;
	size_t header, per_env;
	uint8_t *whole = NULL;
	int rc;

	state_id(g, &id);
	if ((rc = gnarl_gameboy_state_check_header(buf, size, &id, "the saved env state", &n,
	                                           &header, &per_env, err)))
		return rc;
	if (n != g->n)
		return fail(err, GNARL_EINCOMPAT, "saved state of %u envs; this env has %u", n, g->n);
	if (per_env < g->state_size && !(whole = malloc(g->state_size)))
		return fail(err, GNARL_ENOMEM, "out of memory");
	p += header;
	for (uint32_t i = 0; i < g->n; i++) {
		struct gb_env *e = &g->envs[i];
		const uint8_t *state = p + GB_ENV_HEADER;

		if (whole) { /* version 1: the saved part over the machine's own */
			e->emu->ops->save_state(e->emu, whole);
			memcpy(whole, state, per_env);
			state = whole;
		}
		if (!e->emu->ops->load_state(e->emu, state)) {
			free(whole);
			return fail(err, GNARL_ECORRUPT, "%s refused the saved state of env %u",
			            e->emu->name, i);
		}
		e->steps = gnarl_get_u32(p);
		e->deaths = (int32_t)gnarl_get_u32(p + 4);
		e->frames = gnarl_get_u64(p + 8);
		e->waited = 0;
		publish(g, e, io, i, NULL);
		e->deaths = io->states[i].deaths;
		p += GB_ENV_HEADER + per_env;
	}
	free(whole);
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
	return e->emu->ops->save_state(e->emu, p + 8 + GB_ENV_HEADER) ? 0 : GNARL_EIO;
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
		            "(%zu bytes; %zu-byte %s states here)", size, g->state_size,
		            g->envs[0].emu->name);
	e = &g->envs[index];
	if (!e->emu->ops->load_state(e->emu, p + 8 + GB_ENV_HEADER))
		return fail(err, GNARL_ECORRUPT, "%s refused the env state", e->emu->name);
	e->emu->ops->set_keys(e->emu, 0);
	e->waited = 0;
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
	.version = "1.2.0",
	.summary = "your own Game Boy (Color) cartridge under libmgba or a libretro core "
	           "(Gambatte), game state read through a RAM map",
	.params = gameboy_params,
	.ops.env = &gameboy_ops,
};

GNARL_PLUGIN_ENTRY(&gameboy_plugin)
