/*
 * emu_retro.c - the libretro backend of the gameboy env (emu.h): a minimal
 * libretro frontend running one emulator core (Gambatte, or another Game
 * Boy core) per env.
 *
 * Entry point: gb_emu_retro_open.
 *
 * One copy of the core per emulator.  Cores keep their machine in globals
 * (Gambatte: one static GB object), and dlopen of the same file returns the
 * same copy.  So each emulator copies the core's .so into an anonymous
 * memory file (memfd) and dlopens it as /proc/self/fd/N: glibc maps a new
 * object, with its own globals, and RTLD_LOCAL keeps its symbols out of the
 * other copies' lookups.  The fd stays open while the copy is loaded, so no
 * two live copies share a name (glibc matches loaded objects by name before
 * it looks at the file).  dlmopen would also isolate copies, but glibc
 * allows only 15 extra namespaces and loads a libc and libstdc++ into each.
 *
 * Callbacks.  libretro's callbacks carry no context pointer, so each call
 * into a core first sets `running` (thread-local) to the emulator it is
 * made for; an emulator is used by one thread at a time (emu.h).
 *
 * Frames.  A core renders every frame it emulates; `render` only tells a
 * core that honours RETRO_ENVIRONMENT_GET_AUDIO_VIDEO_ENABLE whether the
 * picture is wanted.  The picture is the last one the core handed over,
 * converted from its pixel format when asked for.
 *
 * Known cores.  Gambatte (library name "Gambatte") paces its frames against
 * its audio clock: a retro_run that hands over no picture (NULL) emulated
 * nothing, so run_frame runs it again; without that, the frames a run
 * emulates would depend on counters outside its save state.  Gambatte's
 * model and colour options are set from the spec.  Other cores get their
 * defaults, and the exactness check at create (emu.c) catches a core whose
 * states do not restore the game.
 *
 * Work RAM.  RETRO_MEMORY_SYSTEM_RAM must expose all 8 banks of CGB work
 * RAM as one 32 KiB block, bank n at n * 0x1000; where the core also
 * declares a memory map (RETRO_ENVIRONMENT_SET_MEMORY_MAPS), its C000 and
 * D000 windows must point into that block at bank 0 and at a bank 1-7.
 * Otherwise the backend refuses at open, saying why.
 */
#define _GNU_SOURCE /* memfd_create */

#include <libretro.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu.h"
#include "gameboy.h"

#ifndef GNARL_LIBRETRO_DIRS
#define GNARL_LIBRETRO_DIRS "/usr/lib/libretro:/usr/local/lib/libretro"
#endif

#define MAX_MEMDESC 32
#define MAX_DUPES 100000   /* NULL pictures in a row before a frame counts */
#define LOG_SIZE 256
#define STACK_CLEAR 16384  /* bytes of stack cleared before a save */

/* The libretro entry points gnarl calls, resolved in one copy. */
struct retro_api {
	void (*set_environment)(retro_environment_t);
	void (*set_video_refresh)(retro_video_refresh_t);
	void (*set_audio_sample)(retro_audio_sample_t);
	void (*set_audio_sample_batch)(retro_audio_sample_batch_t);
	void (*set_input_poll)(retro_input_poll_t);
	void (*set_input_state)(retro_input_state_t);
	void (*init)(void);
	void (*deinit)(void);
	unsigned (*api_version)(void);
	void (*get_system_info)(struct retro_system_info *);
	void (*set_controller_port_device)(unsigned, unsigned);
	void (*reset)(void);
	void (*run)(void);
	size_t (*serialize_size)(void);
	bool (*serialize)(void *, size_t);
	bool (*unserialize)(const void *, size_t);
	bool (*load_game)(const struct retro_game_info *);
	void (*unload_game)(void);
	void *(*get_memory_data)(unsigned);
	size_t (*get_memory_size)(unsigned);
};

/* One window of the core's memory map (RETRO_ENVIRONMENT_SET_MEMORY_MAPS). */
struct memdesc {
	const uint8_t *ptr;  /* ptr + offset of the descriptor */
	size_t start, len;
};

struct retro_emu {
	struct gb_emu base;       /* first: the env holds a struct gb_emu * */
	struct retro_api api;
	void *dl;                 /* this emulator's copy of the core */
	int fd;                   /* its memfd, open while dl is loaded */
	char path[PATH_MAX];      /* the core's .so */
	bool initialised, loaded; /* retro_init / retro_load_game done */
	bool gambatte;            /* the core is Gambatte (see the header) */
	char model[8];            /* params.model */
	bool cgb_only;            /* the cartridge's header says colour-only */
	bool video_wanted;        /* what GET_AUDIO_VIDEO_ENABLE answers */
	uint32_t keys;            /* GB_KEY_* bits held */
	uint8_t *wram;            /* 32 KiB, borrowed from the core */
	size_t state_size;
	enum retro_pixel_format format;
	const void *picture;      /* the core's last picture, borrowed */
	unsigned width, height;
	size_t pitch;             /* bytes per row of picture */
	bool drew;                /* the last retro_run handed over a picture */
	uint64_t quirks;          /* RETRO_SERIALIZATION_QUIRK_* */
	struct memdesc map[MAX_MEMDESC];
	unsigned n_map;
	char log[LOG_SIZE];       /* the core's last warning or error */
};

/* The emulator whose core this thread is calling (see the header). */
static _Thread_local struct retro_emu *running;


/* ------------------------------------------------------------------------ */
/* Callbacks from the core.                                                 */

static void core_log(enum retro_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Kept for messages, never printed: the env prints nothing of its own. */
static void core_log(enum retro_log_level level, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!running || level < RETRO_LOG_WARN)
		return;
	va_start(ap, fmt);
	vsnprintf(running->log, sizeof(running->log), fmt, ap);
	va_end(ap);
	n = strlen(running->log);
	while (n > 0 && isspace((unsigned char)running->log[n - 1]))
		running->log[--n] = '\0';
}

/* The core options gnarl sets; anything else keeps the core's default. */
static const char *option(const struct retro_emu *r, const char *key)
{
	if (!strcmp(key, "gambatte_gb_hwmode")) {
		/* The model is forced only for a dual-mode cartridge, as with
		 * mGBA's cgb.hybridModel. */
		if (r->cgb_only || !strcmp(r->model, "CGB"))
			return "Auto";
		return !strcmp(r->model, "AGB") ? "GBA" : "GB";
	}
	/* Raw CGB colours, as libmgba draws them. */
	if (!strcmp(key, "gambatte_gbc_color_correction"))
		return "disabled";
	if (!strcmp(key, "gambatte_gb_colorization"))
		return "disabled";
	return NULL;
}

static void keep_memory_map(struct retro_emu *r, const struct retro_memory_map *m)
{
	r->n_map = 0;
	for (unsigned i = 0; m && i < m->num_descriptors && r->n_map < MAX_MEMDESC; i++) {
		const struct retro_memory_descriptor *d = &m->descriptors[i];

		if (!d->ptr || (d->addrspace && *d->addrspace))
			continue;
		r->map[r->n_map++] = (struct memdesc){
			(const uint8_t *)d->ptr + d->offset, d->start, d->len};
	}
}

static bool environment(unsigned cmd, void *data)
{
	struct retro_emu *r = running;

	if (!r)
		return false;
	switch (cmd) {
	case RETRO_ENVIRONMENT_GET_LOG_INTERFACE:
		((struct retro_log_callback *)data)->log = core_log;
		return true;
	case RETRO_ENVIRONMENT_GET_CAN_DUPE:
		*(bool *)data = true;
		return true;
	case RETRO_ENVIRONMENT_SET_PIXEL_FORMAT: {
		enum retro_pixel_format f = *(const enum retro_pixel_format *)data;

		if (f != RETRO_PIXEL_FORMAT_XRGB8888 && f != RETRO_PIXEL_FORMAT_RGB565 &&
		    f != RETRO_PIXEL_FORMAT_0RGB1555)
			return false;
		r->format = f;
		return true;
	}
	case RETRO_ENVIRONMENT_GET_VARIABLE: {
		struct retro_variable *v = data;

		v->value = v->key ? option(r, v->key) : NULL;
		return v->value != NULL;
	}
	case RETRO_ENVIRONMENT_GET_VARIABLE_UPDATE:
		*(bool *)data = false;
		return true;
	case RETRO_ENVIRONMENT_SET_MEMORY_MAPS:
		keep_memory_map(r, data);
		return true;
	case RETRO_ENVIRONMENT_SET_SERIALIZATION_QUIRKS:
		r->quirks = *(const uint64_t *)data;
		return true;
	case RETRO_ENVIRONMENT_GET_AUDIO_VIDEO_ENABLE:
		*(int *)data = r->video_wanted ? 1 : 0; /* bit 0 video; no audio */
		return true;
	case RETRO_ENVIRONMENT_GET_INPUT_BITMASKS:
		return true;
	case RETRO_ENVIRONMENT_GET_LIBRETRO_PATH:
		*(const char **)data = r->path;
		return true;
	case RETRO_ENVIRONMENT_GET_SYSTEM_DIRECTORY:
	case RETRO_ENVIRONMENT_GET_SAVE_DIRECTORY:
		*(const char **)data = NULL; /* no BIOS, no files written */
		return false;
	/* Declarations gnarl takes note of and needs nothing from. */
	case RETRO_ENVIRONMENT_SET_VARIABLES:
	case RETRO_ENVIRONMENT_SET_PERFORMANCE_LEVEL:
	case RETRO_ENVIRONMENT_SET_INPUT_DESCRIPTORS:
	case RETRO_ENVIRONMENT_SET_CONTROLLER_INFO:
	case RETRO_ENVIRONMENT_SET_SUPPORT_ACHIEVEMENTS:
	case RETRO_ENVIRONMENT_SET_GEOMETRY:
	case RETRO_ENVIRONMENT_SET_SYSTEM_AV_INFO:
	case RETRO_ENVIRONMENT_SET_SUBSYSTEM_INFO:
		return true;
	default:
		return false;
	}
}

static void video_refresh(const void *data, unsigned width, unsigned height, size_t pitch)
{
	struct retro_emu *r = running;

	if (!data)
		return; /* the previous picture again */
	r->drew = true;
	r->picture = data;
	r->width = width;
	r->height = height;
	r->pitch = pitch;
}

static void audio_sample(int16_t left, int16_t right)
{
	(void)left;
	(void)right;
}

static size_t audio_batch(const int16_t *data, size_t frames)
{
	(void)data;
	return frames;
}

static void input_poll(void)
{
}

/* libretro's joypad ids, in their order (B, Y, SELECT, START, UP, DOWN,
 * LEFT, RIGHT, A): the Game Boy's buttons. */
static const uint32_t joypad_key[] = {
	[RETRO_DEVICE_ID_JOYPAD_B] = GB_KEY_B,
	[RETRO_DEVICE_ID_JOYPAD_SELECT] = GB_KEY_SELECT,
	[RETRO_DEVICE_ID_JOYPAD_START] = GB_KEY_START,
	[RETRO_DEVICE_ID_JOYPAD_UP] = GB_KEY_UP,
	[RETRO_DEVICE_ID_JOYPAD_DOWN] = GB_KEY_DOWN,
	[RETRO_DEVICE_ID_JOYPAD_LEFT] = GB_KEY_LEFT,
	[RETRO_DEVICE_ID_JOYPAD_RIGHT] = GB_KEY_RIGHT,
	[RETRO_DEVICE_ID_JOYPAD_A] = GB_KEY_A,
};

#define N_JOYPAD ((unsigned)(sizeof(joypad_key) / sizeof(joypad_key[0])))

static int16_t input_state(unsigned port, unsigned device, unsigned index, unsigned id)
{
	uint32_t keys = running->keys;
	int16_t mask = 0;

	(void)index;
	if (port != 0 || (device & RETRO_DEVICE_MASK) != RETRO_DEVICE_JOYPAD)
		return 0;
	if (id == RETRO_DEVICE_ID_JOYPAD_MASK) {
		for (unsigned b = 0; b < N_JOYPAD; b++)
			if (keys & joypad_key[b])
				mask |= (int16_t)(1 << b);
		return mask;
	}
	return id < N_JOYPAD && (keys & joypad_key[id]) ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Ops.                                                                     */

static void retro_close_emu(struct gb_emu *e)
{
	struct retro_emu *r = (struct retro_emu *)e;
	struct retro_emu *was = running;

	running = r;
	if (r->loaded)
		r->api.unload_game();
	if (r->initialised)
		r->api.deinit();
	running = was == r ? NULL : was;
	if (r->dl)
		dlclose(r->dl);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

static void fetch_wram(struct retro_emu *r)
{
	r->wram = r->api.get_memory_data(RETRO_MEMORY_SYSTEM_RAM);
}

static void retro_power_on(struct gb_emu *e)
{
	struct retro_emu *r = (struct retro_emu *)e;

	running = r;
	r->keys = 0;
	r->api.reset();
	fetch_wram(r);
}

static void retro_set_keys(struct gb_emu *e, uint32_t keys)
{
	((struct retro_emu *)e)->keys = keys;
}

static void retro_run_frame(struct gb_emu *e, bool render)
{
	struct retro_emu *r = (struct retro_emu *)e;

	running = r;
	r->video_wanted = render;
	for (int k = 0; k < MAX_DUPES; k++) {
		r->drew = false;
		r->api.run();
		if (r->drew || !r->gambatte)
			break;
	}
}

static uint8_t *retro_wram(struct gb_emu *e)
{
	return ((struct retro_emu *)e)->wram;
}

/* One pixel of the core's picture as 8-bit R, G, B. */
static void pixel_rgb(enum retro_pixel_format f, const uint8_t *row, int x, uint8_t *out)
{
	uint32_t p, r5, g, b5;
	uint16_t q;

	if (f == RETRO_PIXEL_FORMAT_XRGB8888) {
		memcpy(&p, row + 4 * x, 4);
		out[0] = (uint8_t)(p >> 16);
		out[1] = (uint8_t)(p >> 8);
		out[2] = (uint8_t)p;
		return;
	}
	memcpy(&q, row + 2 * x, 2);
	if (f == RETRO_PIXEL_FORMAT_RGB565) {
		r5 = q >> 11;
		g = (q >> 5) & 63;
		g = (g << 2) | (g >> 4);
	} else {
		r5 = (q >> 10) & 31;
		g = (q >> 5) & 31;
		g = (g << 3) | (g >> 2);
	}
	b5 = q & 31;
	out[0] = (uint8_t)((r5 << 3) | (r5 >> 2));
	out[1] = (uint8_t)g;
	out[2] = (uint8_t)((b5 << 3) | (b5 >> 2));
}

static void retro_frame(const struct gb_emu *e, uint8_t *out)
{
	const struct retro_emu *r = (const struct retro_emu *)e;
	/* A core drawing a Super Game Boy border puts the screen at (48, 40). */
	unsigned x0 = r->width >= 256 && r->height >= 224 ? 48 : 0;
	unsigned y0 = x0 ? 40 : 0;

	memset(out, 0, GNARL_FRAME_BYTES);
	if (!r->picture)
		return;
	for (unsigned y = 0; y < GNARL_FRAME_HEIGHT && y0 + y < r->height; y++) {
		const uint8_t *row = (const uint8_t *)r->picture + (y0 + y) * r->pitch;
		uint8_t *dst = out + (size_t)y * GNARL_FRAME_WIDTH * 3;

		for (unsigned x = 0; x < GNARL_FRAME_WIDTH && x0 + x < r->width; x++)
			pixel_rgb(r->format, row, (int)(x0 + x), dst + 3 * x);
	}
}

static size_t retro_state_size(const struct gb_emu *e)
{
	return ((const struct retro_emu *)e)->state_size;
}

/* Gambatte builds its state in a struct on the stack and leaves the
 * fields a cartridge does not use (the ROM bank of a ROM without a mapper)
 * as whatever the stack held: clear the stack the core is about to use,
 * so those bytes are the same in every save. */
static __attribute__((noinline)) void clear_stack(void)
{
	unsigned char pad[STACK_CLEAR];

	explicit_bzero(pad, sizeof(pad));
	__asm__ volatile("" : : "r"(pad) : "memory");
}

static bool retro_save_state(struct gb_emu *e, void *buf)
{
	struct retro_emu *r = (struct retro_emu *)e;

	running = r;
	/* Bytes a core leaves unwritten must not differ between saves. */
	memset(buf, 0, r->state_size);
	clear_stack();
	return r->api.serialize(buf, r->state_size);
}

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* Fields of Gambatte's state that do not round-trip and that the game
 * never sees: the noise channel's shift register ("lfsrreg") restores out
 * of step (the channel's timing is reloaded from the save, not where it
 * was) until the channel is next triggered, audio only; the PPU's
 * per-line scratch ("csprite", "spattr", "endx": the sprite and tile
 * position of the line being drawn) is dead at a frame boundary, where
 * every save is taken, and reloads as defaults; the clock ("rtcbase",
 * "rtchalt") holds the host's time, which only a cartridge with a clock
 * reads, and those are refused at open. */
static const char *const gambatte_unread[] = {
	"lfsrreg", "csprite", "spattr", "endx", "rtcbase", "rtchalt",
};

static bool gambatte_unread_field(const char *label)
{
	for (size_t k = 0; k < sizeof(gambatte_unread) / sizeof(gambatte_unread[0]); k++)
		if (!strcmp(label, gambatte_unread[k]))
			return true;
	return false;
}

/* Gambatte's state: 2 version bytes, a 3-byte big-endian length and that
 * many bytes of picture, then fields: a NUL-terminated label, a 3-byte
 * big-endian size and the value.  Equal but for the unread fields. */
static bool gambatte_same(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 5 + (n >= 5 ? get24(a + 2) : 0);

	if (i > n || memcmp(a, b, i))
		return false;
	while (i < n) {
		const uint8_t *nul = memchr(a + i, 0, n - i);
		size_t value = nul ? (size_t)(nul - a) + 4 : n;
		size_t end = nul && value <= n ? value + get24(nul + 1) : n + 1;

		if (end > n)
			return !memcmp(a + i, b + i, n - i);
		if (memcmp(a + i, b + i, value - i) ||
		    (!gambatte_unread_field((const char *)a + i) &&
		     memcmp(a + value, b + value, end - value)))
			return false;
		i = end;
	}
	return true;
}

static bool retro_same_machine(const struct gb_emu *e, const void *a, const void *b)
{
	const struct retro_emu *r = (const struct retro_emu *)e;

	if (r->gambatte)
		return gambatte_same(a, b, r->state_size);
	return !memcmp(a, b, r->state_size);
}

static bool retro_load_state(struct gb_emu *e, const void *buf)
{
	struct retro_emu *r = (struct retro_emu *)e;

	running = r;
	if (!r->api.unserialize(buf, r->state_size))
		return false;
	r->keys = 0;
	return true;
}

/* A raw state of this core, as frontends save it (RetroArch's .state with
 * compression off). */
static int retro_load_state_file(struct gb_emu *e, const char *path, const char *param,
                                 char err[GNARL_ERR_SIZE])
{
	struct retro_emu *r = (struct retro_emu *)e;
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;
	int rc = 0;

	if (!f)
		return gb_emu_fail(err, GNARL_ENOENT, "%s: cannot open '%s': %s (the path is relative "
		            "to the config's directory)", param, path, strerror(errno));
	buf = malloc(r->state_size + 1);
	n = buf ? fread(buf, 1, r->state_size + 1, f) : 0;
	fclose(f);
	if (!buf)
		return gb_emu_fail(err, GNARL_ENOMEM, "out of memory for a save state");
	if (n >= 6 && !memcmp(buf, "#RZIP", 5))
		rc = gb_emu_fail(err, GNARL_ECONFIG, "%s: '%s' is a compressed RetroArch state: save it "
		          "again with compression off (Settings > Saving > Savestate "
		          "Compression), or set save_state: null to boot", param, path);
	else if (n != r->state_size || !retro_load_state(e, buf))
		rc = gb_emu_fail(err, GNARL_ECONFIG, "%s: '%s' is not a %s save state of this ROM "
		          "(%zu bytes; its states are %zu): save one with this core (RetroArch: "
		          "Save State, compression off), or set save_state: null to boot",
		          param, path, e->name, n > r->state_size ? r->state_size + 1 : n,
		          r->state_size);
	free(buf);
	return rc;
}

static const struct gb_emu_ops retro_ops = {
	.close = retro_close_emu,
	.power_on = retro_power_on,
	.set_keys = retro_set_keys,
	.run_frame = retro_run_frame,
	.wram = retro_wram,
	.frame = retro_frame,
	.state_size = retro_state_size,
	.save_state = retro_save_state,
	.load_state = retro_load_state,
	.same_machine = retro_same_machine,
	.load_state_file = retro_load_state_file,
};

/* ------------------------------------------------------------------------ */
/* Finding and loading a copy of the core.                                  */

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* r->path: the core spec->emulator names. */
static int find_core(struct retro_emu *r, const char *emulator, char err[GNARL_ERR_SIZE])
{
	const char *dirs = GNARL_LIBRETRO_DIRS;

	if (strchr(emulator, '/')) {
		if (snprintf(r->path, sizeof(r->path), "%s", emulator) >= (int)sizeof(r->path) ||
		    !is_file(r->path))
			return gb_emu_fail(err, GNARL_ENOENT, "params.emulator: no libretro core at '%s' "
			            "(a path is relative to the config's directory)", emulator);
		return 0;
	}
	for (const char *c = emulator; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
			return gb_emu_fail(err, GNARL_ECONFIG, "params.emulator: '%s' is neither libmgba, "
			            "a libretro core's name (letters, digits, _ and -: gambatte) "
			            "nor a path to its .so", emulator);
	for (const char *d = dirs; *d;) {
		size_t len = strcspn(d, ":");

		snprintf(r->path, sizeof(r->path), "%.*s/%s_libretro.so", (int)len, d, emulator);
		if (is_file(r->path))
			return 0;
		d += len + (d[len] == ':');
	}
	return gb_emu_fail(err, GNARL_ENOENT, "params.emulator: no libretro core '%s' "
	            "(%s_libretro.so) in %s: install it (Debian: libretro-%s), give the "
	            "core's path, or set params.emulator: libmgba", emulator, emulator,
	            dirs, emulator);
}

/* Copy the file at r->path into a new memfd; r->fd. */
static int copy_core(struct retro_emu *r, char err[GNARL_ERR_SIZE])
{
	char buf[65536];
	int in = open(r->path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0;

	if (in < 0)
		return gb_emu_fail(err, GNARL_ENOENT, "params.emulator: cannot open '%s': %s", r->path,
		            strerror(errno));
	r->fd = memfd_create("gnarl-libretro-core", MFD_CLOEXEC);
	while (r->fd >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(r->fd, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (r->fd < 0 || n < 0)
		return gb_emu_fail(err, GNARL_EIO, "cannot copy the libretro core '%s' into memory: %s",
		            r->path, strerror(errno));
	return 0;
}

#define RESOLVE(field, sym)                                                   \
	do {                                                                      \
		*(void **)&r->api.field = dlsym(r->dl, #sym);                         \
		if (!r->api.field)                                                    \
			return gb_emu_fail(err, GNARL_ECONFIG, "params.emulator: '%s' is not a "  \
			            "libretro core (it has no " #sym ")", r->path);        \
	} while (0)

static int load_copy(struct retro_emu *r, char err[GNARL_ERR_SIZE])
{
	char name[64];
	int rc;

	if ((rc = copy_core(r, err)))
		return rc;
	snprintf(name, sizeof(name), "/proc/self/fd/%d", r->fd);
	r->dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!r->dl)
		return gb_emu_fail(err, GNARL_ECONFIG, "params.emulator: cannot load the libretro core "
		            "'%s': %s", r->path, dlerror());
	RESOLVE(set_environment, retro_set_environment);
	RESOLVE(set_video_refresh, retro_set_video_refresh);
	RESOLVE(set_audio_sample, retro_set_audio_sample);
	RESOLVE(set_audio_sample_batch, retro_set_audio_sample_batch);
	RESOLVE(set_input_poll, retro_set_input_poll);
	RESOLVE(set_input_state, retro_set_input_state);
	RESOLVE(init, retro_init);
	RESOLVE(deinit, retro_deinit);
	RESOLVE(api_version, retro_api_version);
	RESOLVE(get_system_info, retro_get_system_info);
	RESOLVE(set_controller_port_device, retro_set_controller_port_device);
	RESOLVE(reset, retro_reset);
	RESOLVE(run, retro_run);
	RESOLVE(serialize_size, retro_serialize_size);
	RESOLVE(serialize, retro_serialize);
	RESOLVE(unserialize, retro_unserialize);
	RESOLVE(load_game, retro_load_game);
	RESOLVE(unload_game, retro_unload_game);
	RESOLVE(get_memory_data, retro_get_memory_data);
	RESOLVE(get_memory_size, retro_get_memory_size);
	if (r->api.api_version() != RETRO_API_VERSION)
		return gb_emu_fail(err, GNARL_EVERSION, "params.emulator: '%s' speaks libretro API "
		            "version %u, gnarl speaks %u", r->path, r->api.api_version(),
		            RETRO_API_VERSION);
	return 0;
}

/* "Gambatte" -> "gambatte": the name the `emulator` param and checkpoints
 * know the core by. */
static void set_name(struct retro_emu *r, const char *library)
{
	size_t i = 0;

	for (; library && library[i] && i + 1 < sizeof(r->base.name); i++) {
		unsigned char c = (unsigned char)library[i];

		r->base.name[i] = isalnum(c) ? (char)tolower(c) : '_';
	}
	r->base.name[i] = '\0';
	if (!i)
		snprintf(r->base.name, sizeof(r->base.name), "libretro");
}

/* ------------------------------------------------------------------------ */
/* Opening.                                                                 */

/* The models a core can be asked for: Gambatte's hardware-mode option. */
static int check_model(struct retro_emu *r, const char *library, char err[GNARL_ERR_SIZE])
{
	bool gambatte = library && !strcmp(library, "Gambatte");
	const char *m = r->model;

	if (r->cgb_only || !strcmp(m, "CGB"))
		return 0;
	if (gambatte && (!strcmp(m, "AGB") || !strcmp(m, "DMG")))
		return 0;
	return gb_emu_fail(err, GNARL_EUNSUPPORTED, "params.model: %s cannot emulate a %s "
	            "(it runs CGB%s): use one of those, or params.emulator: libmgba", r->base.name,
	            m, gambatte ? ", AGB and DMG" : " only, its own choice for this cartridge");
}

/* retro_load_game with stdout pointed at /dev/null: Gambatte's cartridge
 * loader printf()s what it found, and gnarl's stdout carries command
 * output (JSON).  Envs are created before any thread steps or prints. */
static bool quiet_load_game(struct retro_emu *r, const struct retro_game_info *game)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int saved = -1;
	bool ok;

	fflush(stdout);
	if (null >= 0 && (saved = fcntl(1, F_DUPFD_CLOEXEC, 3)) >= 0)
		dup2(null, 1);
	ok = r->api.load_game(game);
	fflush(stdout);
	if (saved >= 0) {
		dup2(saved, 1);
		close(saved);
	}
	if (null >= 0)
		close(null);
	return ok;
}

/* Read the ROM and hand it to the core. */
static int load_rom(struct retro_emu *r, const char *rom_path, const struct retro_system_info *si,
                    char err[GNARL_ERR_SIZE])
{
	struct retro_game_info game = {.path = rom_path};
	FILE *f = fopen(rom_path, "rb");
	uint8_t *data = NULL;
	long size = -1;
	bool ok;

	if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0x150 &&
	    fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)size)) &&
	    fread(data, 1, (size_t)size, f) != (size_t)size)
		size = -1;
	if (f)
		fclose(f);
	if (!data || size < 0x150) {
		free(data);
		return gb_emu_fail(err, GNARL_EIO, "params.rom: cannot read '%s'", rom_path);
	}
	r->cgb_only = data[0x143] == 0xC0;
	/* MBC3 with a timer: Gambatte's clock reads the host's, so the same
	 * inputs would not give the same game. */
	if (r->gambatte && (data[0x147] == 0x0F || data[0x147] == 0x10)) {
		free(data);
		return gb_emu_fail(err, GNARL_EUNSUPPORTED, "params.rom: '%s' has a real-time "
		                   "clock, which %s runs on the host's clock: episodes would not "
		                   "replay; use params.emulator: libmgba", rom_path, r->base.name);
	}
	if (!si->need_fullpath) {
		game.data = data;
		game.size = (size_t)size;
	}
	ok = quiet_load_game(r, &game);
	free(data); /* libretro: the core copies what it keeps */
	if (!ok)
		return gb_emu_fail(err, GNARL_ECONFIG, "params.rom: %s cannot load '%s' as a Game Boy "
		            "ROM%s%s", r->base.name, rom_path, *r->log ? ": " : "", r->log);
	r->loaded = true;
	return 0;
}

/* All 8 banks of CGB work RAM in one block, as gameboy.h lays them out. */
static int map_wram(struct retro_emu *r, char err[GNARL_ERR_SIZE])
{
	size_t size = r->api.get_memory_size(RETRO_MEMORY_SYSTEM_RAM);

	fetch_wram(r);
	if (!r->wram || size < GB_WRAM_SIZE)
		return gb_emu_fail(err, GNARL_EINCOMPAT, "the emulator %s exposes %zu bytes of work RAM "
		            "(RETRO_MEMORY_SYSTEM_RAM), not the 32 KiB of a Game Boy Color's 8 "
		            "banks: use a model with colour (params.model: CGB), or "
		            "params.emulator: libmgba", r->base.name, r->wram ? size : 0);
	for (unsigned i = 0; i < r->n_map; i++) {
		const struct memdesc *d = &r->map[i];
		ptrdiff_t at = d->ptr - r->wram;

		if (d->start == 0xC000 && d->ptr != r->wram)
			return gb_emu_fail(err, GNARL_EINCOMPAT, "the emulator %s maps C000 outside the "
			            "work RAM it exposes: its banks cannot be read as one block; use "
			            "params.emulator: libmgba", r->base.name);
		if (d->start == 0xD000 &&
		    (at < 0x1000 || at > 7 * 0x1000 || at % 0x1000 != 0))
			return gb_emu_fail(err, GNARL_EINCOMPAT, "the emulator %s maps D000 outside banks "
			            "1-7 of the work RAM it exposes: its banks cannot be read as one "
			            "block; use params.emulator: libmgba", r->base.name);
	}
	return 0;
}

/* Start the core and load the game: a powered-on emulator. */
static int start_core(struct retro_emu *r, const struct gb_emu_spec *spec,
                      char err[GNARL_ERR_SIZE])
{
	struct retro_system_info si = {0};
	int rc;

	r->api.set_environment(environment);
	r->api.set_video_refresh(video_refresh);
	r->api.set_audio_sample(audio_sample);
	r->api.set_audio_sample_batch(audio_batch);
	r->api.set_input_poll(input_poll);
	r->api.set_input_state(input_state);
	r->api.init();
	r->initialised = true;
	r->api.get_system_info(&si);
	set_name(r, si.library_name);
	r->gambatte = si.library_name && !strcmp(si.library_name, "Gambatte");
	if ((rc = load_rom(r, spec->rom_path, &si, err)) ||
	    (rc = check_model(r, si.library_name, err)))
		return rc;
	r->api.set_controller_port_device(0, RETRO_DEVICE_JOYPAD);
	if (r->quirks & (RETRO_SERIALIZATION_QUIRK_INCOMPLETE |
	                 RETRO_SERIALIZATION_QUIRK_SINGLE_SESSION |
	                 RETRO_SERIALIZATION_QUIRK_CORE_VARIABLE_SIZE))
		return gb_emu_fail(err, GNARL_EINCOMPAT, "the emulator %s declares its save states "
		            "incomplete, single-session or of varying size (serialization quirks "
		            "0x%llx): resets and checkpoints need exact states; use "
		            "params.emulator: libmgba", r->base.name, (unsigned long long)r->quirks);
	r->state_size = r->api.serialize_size();
	if (r->state_size == 0)
		return gb_emu_fail(err, GNARL_EINCOMPAT, "the emulator %s has no save states: resets "
		            "and checkpoints need them; use params.emulator: libmgba",
		            r->base.name);
	return map_wram(r, err);
}

int gb_emu_retro_open(const struct gb_emu_spec *spec, struct gb_emu **out,
                      char err[GNARL_ERR_SIZE])
{
	struct retro_emu *r = calloc(1, sizeof(*r));
	struct retro_emu *was = running;
	int rc;

	*out = NULL;
	if (!r)
		return gb_emu_fail(err, GNARL_ENOMEM, "out of memory");
	r->fd = -1;
	r->base.ops = &retro_ops;
	r->base.on_request = true; /* every frame is drawn; any can be read */
	snprintf(r->model, sizeof(r->model), "%s", spec->model);
	r->format = RETRO_PIXEL_FORMAT_0RGB1555; /* libretro's default */
	snprintf(r->base.name, sizeof(r->base.name), "%s", spec->emulator);
	running = r;
	rc = find_core(r, spec->emulator, err);
	if (!rc)
		rc = load_copy(r, err);
	if (!rc)
		rc = start_core(r, spec, err);
	running = was;
	if (rc) {
		retro_close_emu(&r->base);
		return rc;
	}
	*out = &r->base;
	return 0;
}
