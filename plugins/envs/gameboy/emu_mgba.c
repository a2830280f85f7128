/*
 * emu_mgba.c - the libmgba backend of the gameboy env (emu.h).
 *
 * Entry points: gb_emu_mgba_open, gb_emu_mgba_quiet.
 *
 * Rendering.  mGBA renders a frame when its frameskip counter is zero.
 * On request (on_request): the counter is held high ("never") and set to
 * zero just before a frame that is asked for; this pokes one field of
 * mGBA's internal video state, used only after a layout check on a live
 * core at open.  Otherwise (and when the check fails) mGBA's public
 * frameskip option renders the last frame of every step_frames frames
 * after power_on.
 *
 * Facts this file relies on (see /work/shared/notes/gameboy.md): include
 * <mgba/flags.h> first; never mCoreLoadConfig (it reads the user's mGBA
 * config); set the video buffer before reset; reset re-allocates work RAM
 * (the pointer is fetched again); with no logger mGBA prints to stdout.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "gameboy.h"

#define SLEEP_FRAMESKIP (1 << 30) /* "never render" while on request */

struct mgba_emu {
	struct gb_emu base;    /* first: the env holds a struct gb_emu * */
	struct mCore *core;
	struct GB *gb;         /* core->board, touched only when on request */
	uint8_t *wram;         /* 32 KiB, borrowed from the core */
	uint8_t *sram;         /* the cartridge's RAM, borrowed, or NULL */
	size_t sram_size;
	size_t raw_size;       /* bytes of libmgba's own state */
	uint32_t *video;       /* owned; the renderer's output, or NULL */
	size_t stride;         /* pixels per row of video */
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

/* Written once under pthread_once, then only read by libmgba. */
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

void gb_emu_mgba_quiet(void)
{
	pthread_once(&logger_once, install_logger);
}

/* ------------------------------------------------------------------------ */
/* Ops.                                                                     */


static void deinit_core(struct mgba_emu *m)
{
	if (m->core) {
		mCoreConfigDeinit(&m->core->config);
		m->core->deinit(m->core);
		m->core = NULL;
	}
}

static void mgba_close(struct gb_emu *e)
{
	struct mgba_emu *m = (struct mgba_emu *)e;

	deinit_core(m);
	free(m->video);
	free(m);
}

/* Refetch the work-RAM and cartridge-RAM pointers: reset re-allocates
 * WRAM.  The sizes are checked once at open; afterwards they cannot
 * change. */
static size_t map_wram(struct mgba_emu *m)
{
	size_t size = 0;

	m->sram = m->core->getMemoryBlock(m->core, GB_REGION_EXTERNAL_RAM, &m->sram_size);
	if (!m->sram)
		m->sram_size = 0;
	m->wram = m->core->getMemoryBlock(m->core, GB_REGION_WORKING_RAM_BANK0, &size);
	return m->wram ? size : 0;
}

static void mgba_power_on(struct gb_emu *e)
{
	struct mgba_emu *m = (struct mgba_emu *)e;

	m->core->reset(m->core); /* frameskip counter 0: the next frame renders */
	m->core->setKeys(m->core, 0);
	map_wram(m);
}

static void mgba_set_keys(struct gb_emu *e, uint32_t keys)
{
	struct mgba_emu *m = (struct mgba_emu *)e;

	m->core->setKeys(m->core, keys);
}

static void mgba_run_frame(struct gb_emu *e, bool render)
{
	struct mgba_emu *m = (struct mgba_emu *)e;

	if (render && e->on_request && m->video)
		m->gb->video.frameskipCounter = 0;
	m->core->runFrame(m->core);
}

static uint8_t *mgba_wram(struct gb_emu *e)
{
	return ((struct mgba_emu *)e)->wram;
}

static void mgba_frame(const struct gb_emu *e, uint8_t *out)
{
	const struct mgba_emu *m = (const struct mgba_emu *)e;

	if (!m->video) {
		memset(out, 0, GNARL_FRAME_BYTES);
		return;
	}
	for (int y = 0; y < GNARL_FRAME_HEIGHT; y++) {
		const uint8_t *src = (const uint8_t *)(m->video + (size_t)y * m->stride);
		uint8_t *dst = out + (size_t)y * GNARL_FRAME_WIDTH * 3;

		/* mGBA's pixels are bytes R, G, B, unused. */
		for (int x = 0; x < GNARL_FRAME_WIDTH; x++) {
			dst[3 * x + 0] = src[4 * x + 0];
			dst[3 * x + 1] = src[4 * x + 1];
			dst[3 * x + 2] = src[4 * x + 2];
		}
	}
}

/* A state: libmgba's raw state, then the cartridge's RAM, which the raw
 * state leaves out (a game writing its save file, as Oracle's file menu
 * does, would otherwise play on differently after a load). */
static size_t mgba_state_size(const struct gb_emu *e)
{
	const struct mgba_emu *m = (const struct mgba_emu *)e;

	return m->raw_size + m->sram_size;
}

static bool mgba_save_state(struct gb_emu *e, void *buf)
{
	struct mgba_emu *m = (struct mgba_emu *)e;

	/* libmgba leaves the state's reserved bytes as they were: zero them,
	 * or the same machine would save different bytes */
	memset(buf, 0, m->raw_size);
	if (m->sram_size)
		memcpy((uint8_t *)buf + m->raw_size, m->sram, m->sram_size);
	return m->core->saveState(m->core, buf);
}

static bool mgba_load_state(struct gb_emu *e, const void *buf)
{
	struct mgba_emu *m = (struct mgba_emu *)e;

	if (!m->core->loadState(m->core, buf))
		return false;
	if (m->sram_size)
		memcpy(m->sram, (const uint8_t *)buf + m->raw_size, m->sram_size);
	m->core->setKeys(m->core, 0);
	return true;
}

/* mGBA's own .ss files (File > Save State in the mGBA app). */
static int mgba_load_state_file(struct gb_emu *e, const char *path, const char *param,
                                char err[GNARL_ERR_SIZE])
{
	struct mgba_emu *m = (struct mgba_emu *)e;
	struct VFile *vf = VFileOpen(path, O_RDONLY);
	bool ok;

	if (!vf)
		return gb_emu_fail(err, GNARL_ENOENT, "%s: cannot open '%s': %s (the path is relative "
		            "to the config's directory)", param, path, strerror(errno));
	ok = mCoreLoadStateNamed(m->core, vf, 0);
	vf->close(vf);
	if (!ok)
		return gb_emu_fail(err, GNARL_ECONFIG, "%s: '%s' is not an mGBA save state of this "
		            "ROM (make one in mGBA with File > Save State, or set "
		            "save_state: null to boot)", param, path);
	m->core->setKeys(m->core, 0);
	return 0;
}

static const struct gb_emu_ops mgba_ops = {
	.close = mgba_close,
	.power_on = mgba_power_on,
	.set_keys = mgba_set_keys,
	.run_frame = mgba_run_frame,
	.wram = mgba_wram,
	.frame = mgba_frame,
	.state_size = mgba_state_size,
	.save_state = mgba_save_state,
	.load_state = mgba_load_state,
	.load_state_file = mgba_load_state_file,
};

/* ------------------------------------------------------------------------ */
/* Opening.                                                                 */

/* Create, configure and power on a core running the ROM. */
static int make_core(struct mgba_emu *m, const struct gb_emu_spec *spec,
                     char err[GNARL_ERR_SIZE])
{
	struct mCoreOptions opts = {0};
	struct mCore *core = mCoreCreate(mPLATFORM_GB);
	struct VFile *vf;
	size_t wram;

	if (!core)
		return gb_emu_fail(err, GNARL_ENOMEM, "libmgba: cannot create a Game Boy core");
	if (!core->init(core)) {
		free(core);
		return gb_emu_fail(err, GNARL_ENOMEM, "libmgba: cannot initialise a Game Boy core");
	}
	m->core = core;
	/* Our own settings only: mCoreLoadConfig would read ~/.config/mgba. */
	mCoreInitConfig(core, NULL);
	opts.skipBios = true;
	opts.useBios = false;
	opts.mute = true;
	opts.volume = 0;
	opts.frameskip = m->base.on_request ? SLEEP_FRAMESKIP : spec->step_frames - 1;
	mCoreConfigLoadDefaults(&core->config, &opts);
	mCoreConfigSetValue(&core->config, "cgb.hybridModel", spec->model);
	mCoreConfigSetIntValue(&core->config, "sgb.borders", 0);
	mCoreLoadForeignConfig(core, &core->config);
	/* Before reset: reset is what attaches the software renderer. */
	if (m->video)
		core->setVideoBuffer(core, (color_t *)m->video, m->stride);
	vf = VFileOpen(spec->rom_path, O_RDONLY);
	if (!vf)
		return gb_emu_fail(err, GNARL_ENOENT, "params.rom: cannot open '%s': %s",
		            spec->rom_path, strerror(errno));
	if (!core->loadROM(core, vf)) /* the core owns vf even on failure */
		return gb_emu_fail(err, GNARL_ECONFIG, "params.rom: libmgba cannot load '%s' as a "
		            "Game Boy ROM", spec->rom_path);
	core->reset(core);
	m->gb = core->board;
	m->raw_size = core->stateSize(core);
	if ((wram = map_wram(m)) < GB_WRAM_SIZE)
		return gb_emu_fail(err, GNARL_EINCOMPAT, "the emulator exposes %zu bytes of work "
		            "RAM, not the 32 KiB of a Game Boy Color: use a model with "
		            "colour (params.model: CGB)", wram);
	return 0;
}

/* Does mGBA's internal struct GB match the headers we were built with?
 * Checked on live values before on-request rendering touches the
 * frameskip counter. */
static bool layout_ok(struct mgba_emu *m)
{
	struct mCore *c = m->core;

	for (int i = 0; i < 3; i++)
		c->runFrame(c);
	return m->gb->video.frameCounter == c->frameCounter(c) && m->gb->cpu == c->cpu &&
	       m->gb->video.frameskip == SLEEP_FRAMESKIP &&
	       m->gb->video.frameskipCounter > 0 &&
	       m->gb->video.frameskipCounter <= SLEEP_FRAMESKIP;
}

int gb_emu_mgba_open(const struct gb_emu_spec *spec, struct gb_emu **out,
                     char err[GNARL_ERR_SIZE])
{
	struct mgba_emu *m = calloc(1, sizeof(*m));
	/* An SGB model may draw its 256x224 border into the buffer. */
	bool sgb = strstr(spec->model, "SGB") != NULL;
	int rc;

	*out = NULL;
	if (!m)
		return gb_emu_fail(err, GNARL_ENOMEM, "out of memory");
	gb_emu_mgba_quiet();
	m->base.ops = &mgba_ops;
	snprintf(m->base.name, sizeof(m->base.name), "libmgba");
	m->base.on_request = spec->on_request && spec->video;
	m->stride = sgb ? 256 : GNARL_FRAME_WIDTH;
	if (spec->video) {
		m->video = calloc(m->stride * (sgb ? 224 : GNARL_FRAME_HEIGHT), sizeof(*m->video));
		if (!m->video) {
			mgba_close(&m->base);
			return gb_emu_fail(err, GNARL_ENOMEM, "out of memory for a video buffer");
		}
	}
	rc = make_core(m, spec, err);
	if (!rc && m->base.on_request) {
		/* Probe on a live core, then boot again from power-on, not 3
		 * frames in; a mismatch falls back to every-step rendering,
		 * which the caller sees in on_request. */
		m->base.on_request = layout_ok(m);
		deinit_core(m);
		rc = make_core(m, spec, err);
	}
	if (rc) {
		mgba_close(&m->base);
		return rc;
	}
	*out = &m->base;
	return 0;
}
