/*
 * emu.h - one Game Boy emulator, whichever library runs it: the seam
 * between the gameboy env (gameboy.c: episodes, steps, state ops) and an
 * emulator backend (emu_mgba.c: libmgba; others beside it).
 *
 * An emulator is a struct gb_emu whose first member is the backend's ops
 * table; a backend embeds it at the start of its own struct.  The env
 * calls only through these ops, never into a library.  gb_emu_open (emu.c)
 * picks the backend the `emulator` param names: libmgba (emu_mgba.c) or a
 * libretro core such as Gambatte (emu_retro.c).
 *
 * Invariants every backend keeps:
 *   - deterministic: the same ROM, state and keys give the same frames and
 *     the same work RAM, on every thread and every run;
 *   - wram() is the whole 32 KiB of CGB work RAM laid out as gameboy.h says
 *     (bank n at n * 0x1000), valid until the next power_on;
 *   - save_state writes exactly state_size() bytes, identical for identical
 *     emulated machines (no timestamps, no uninitialised bytes), and
 *     load_state of those bytes restores the machine exactly;
 *   - the step path (set_keys, run_frame, wram, frame, save/load_state)
 *     neither allocates nor fails on valid input;
 *   - one thread at a time per emulator; emulators are independent.
 */
#ifndef GNARL_GAMEBOY_EMU_H
#define GNARL_GAMEBOY_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

/* Joypad bits, as both the hardware's two nibbles and mGBA number them. */
enum {
	GB_KEY_A = 1,
	GB_KEY_B = 2,
	GB_KEY_SELECT = 4,
	GB_KEY_START = 8,
	GB_KEY_RIGHT = 16,
	GB_KEY_LEFT = 32,
	GB_KEY_UP = 64,
	GB_KEY_DOWN = 128,
};

/* What an emulator is opened with.  All pointers are borrowed for the
 * duration of open. */
struct gb_emu_spec {
	/* "libmgba", or a libretro core: a name ("gambatte": its
	 * <name>_libretro.so in the standard libretro folders) or a path
	 * containing '/' to the core's .so. */
	const char *emulator;
	const char *rom_path;  /* the cartridge image */
	const char *model;     /* CGB, AGB, DMG, MGB, SGB: forced for a dual-mode cartridge */
	bool video;            /* frames may be asked for (false: never render) */
	/* Frames per env step.  A backend that cannot render a chosen frame
	 * (see on_request below) renders the last frame of every run of
	 * step_frames frames after power_on instead. */
	int step_frames;
	bool on_request;       /* ask for rendering only of requested frames */
};

struct gb_emu;

struct gb_emu_ops {
	void (*close)(struct gb_emu *e);                    /* NULL-safe in gb_emu_close */
	/* Power-cycle the machine (the ROM stays loaded); keys released.
	 * Afterwards the next frame renders (the phase of every-step rendering
	 * starts here). */
	void (*power_on)(struct gb_emu *e);
	void (*set_keys)(struct gb_emu *e, uint32_t keys);
	/* Emulate one frame; `render` asks for its picture (a backend with
	 * on_request false renders by its own phase and ignores it). */
	void (*run_frame)(struct gb_emu *e, bool render);
	/* Work RAM image, 32 KiB; borrowed, valid until the next power_on. */
	uint8_t *(*wram)(struct gb_emu *e);
	/* The last rendered picture as 160x144 RGB bytes (GNARL_FRAME_BYTES). */
	void (*frame)(const struct gb_emu *e, uint8_t *rgb);
	size_t (*state_size)(const struct gb_emu *e);
	bool (*save_state)(struct gb_emu *e, void *buf);
	bool (*load_state)(struct gb_emu *e, const void *buf);
	/* Do two states of this emulator hold the same machine, as far as the
	 * game can tell?  NULL: when they are the same bytes.  (Gambatte's
	 * noise-channel shift register, heard but never read by the game,
	 * restores out of step until the channel is next triggered.) */
	bool (*same_machine)(const struct gb_emu *e, const void *a, const void *b);
	/* Load a state file saved by the library's own application (mGBA's
	 * .ss, a frontend's raw libretro state).  0 or a GNARL_E* code with a
	 * message naming `param` and the path. */
	int (*load_state_file)(struct gb_emu *e, const char *path, const char *param,
	                       char err[GNARL_ERR_SIZE]);
};

#define GB_EMU_NAME_SIZE 32

struct gb_emu {
	const struct gb_emu_ops *ops;
	bool on_request;       /* renders exactly the frames asked for */
	/* The emulator whose states save_state writes ("libmgba",
	 * "gambatte"): what a checkpoint records and messages name. */
	char name[GB_EMU_NAME_SIZE];
};

/* Open the emulator spec->emulator names (emu.c): an emulator powered on
 * with the ROM loaded.  *out owned by the caller (gb_emu_close); NULL and
 * a message saying what to do on failure. */
int gb_emu_open(const struct gb_emu_spec *spec, struct gb_emu **out,
                char err[GNARL_ERR_SIZE]);

/* Does `state` restore exactly?  Loads it, runs `frames` frames with a
 * fixed button pattern, and compares (state bytes, work RAM, the last
 * frame) with the same frames run after a save, a power cycle and a load
 * of the state saved halfway.  The emulator is left anywhere: load a state
 * afterwards.  0, or GNARL_EINCOMPAT with a message naming the emulator. */
int gb_emu_check_exact(struct gb_emu *e, const void *state, int frames,
                       char err[GNARL_ERR_SIZE]);

/* Write a message into err; returns code (the backends' one error path). */
int gb_emu_fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Open the libmgba backend: an emulator powered on with the ROM loaded.
 * *out owned by the caller (gb_emu_close); NULL and a message on failure. */
int gb_emu_mgba_open(const struct gb_emu_spec *spec, struct gb_emu **out,
                     char err[GNARL_ERR_SIZE]);

/* Open a libretro core's backend (spec->emulator names the core). */
int gb_emu_retro_open(const struct gb_emu_spec *spec, struct gb_emu **out,
                      char err[GNARL_ERR_SIZE]);

/* Install the process-wide quiet logger of libmgba (idempotent); call
 * before the first libmgba core exists. */
void gb_emu_mgba_quiet(void);

static inline void gb_emu_close(struct gb_emu *e)
{
	if (e)
		e->ops->close(e);
}

#endif /* GNARL_GAMEBOY_EMU_H */
