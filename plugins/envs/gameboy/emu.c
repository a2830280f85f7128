/*
 * emu.c - what every emulator backend of the gameboy env shares (emu.h):
 * opening the backend the `emulator` param names, and the check that a
 * backend's save states restore exactly.
 *
 * Entry points: gb_emu_open, gb_emu_check_exact, gb_emu_fail.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "gameboy.h"

int gb_emu_fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, GNARL_ERR_SIZE, fmt, ap);
	va_end(ap);
	return code;
}

int gb_emu_open(const struct gb_emu_spec *spec, struct gb_emu **out,
                char err[GNARL_ERR_SIZE])
{
	*out = NULL;
	if (!spec->emulator || !*spec->emulator)
		return gb_emu_fail(err, GNARL_ECONFIG, "params.emulator: empty: use libmgba, or a "
		            "libretro core's name (gambatte) or path");
	if (!strcmp(spec->emulator, "libmgba"))
		return gb_emu_mgba_open(spec, out, err);
#ifdef GNARL_HAVE_LIBRETRO
	return gb_emu_retro_open(spec, out, err);
#else
	return gb_emu_fail(err, GNARL_EUNSUPPORTED, "params.emulator: '%s' is a libretro core, "
	            "and this gnarl was built without libretro support (Debian's "
	            "retroarch-dev provides libretro.h: install it and rebuild), or set "
	            "params.emulator: libmgba", spec->emulator);
#endif
}

/* ------------------------------------------------------------------------ */
/* Exactness.                                                               */

/* The buttons of frame f of the check: each held 8 frames, so the game
 * sees presses and releases. */
static uint32_t check_keys(int f)
{
	static const uint32_t keys[] = {
		GB_KEY_RIGHT, 0, GB_KEY_A, GB_KEY_DOWN, GB_KEY_B, GB_KEY_LEFT, GB_KEY_UP, 0,
	};

	return keys[(f / 8) % (int)(sizeof(keys) / sizeof(keys[0]))];
}

/* Frames [from, to) of the check, the last one rendered. */
static void check_run(struct gb_emu *e, int from, int to)
{
	for (int f = from; f < to; f++) {
		e->ops->set_keys(e, check_keys(f));
		e->ops->run_frame(e, f == to - 1);
	}
	e->ops->set_keys(e, 0);
}

struct exact_bufs {
	uint8_t *state, *again, *ram, *frame;
};

static void free_bufs(struct exact_bufs *b)
{
	free(b->state);
	free(b->again);
	free(b->ram);
	free(b->frame);
}

static bool alloc_bufs(struct exact_bufs *b, size_t n)
{
	b->state = malloc(n);
	b->again = malloc(n);
	b->ram = malloc(GB_WRAM_SIZE);
	b->frame = malloc(GNARL_FRAME_BYTES);
	return b->state && b->again && b->ram && b->frame;
}

/* Where the machine is now: its state (saved twice: the same machine must
 * give the same bytes), work RAM and picture. */
static bool snapshot(struct gb_emu *e, struct exact_bufs *b, size_t n)
{
	memset(b->again, 0xA5, n);
	if (!e->ops->save_state(e, b->state) || !e->ops->save_state(e, b->again))
		return false;
	memcpy(b->ram, e->ops->wram(e), GB_WRAM_SIZE);
	e->ops->frame(e, b->frame);
	return true;
}

int gb_emu_check_exact(struct gb_emu *e, const void *state, int frames,
                       char err[GNARL_ERR_SIZE])
{
	const struct gb_emu_ops *op = e->ops;
	size_t n = op->state_size(e);
	struct exact_bufs straight = {0}, split = {0};
	uint8_t *mid = malloc(n);
	int half = frames / 2, rc = 0;
	const char *what = NULL;

	if (!mid || !alloc_bufs(&straight, n) || !alloc_bufs(&split, n)) {
		rc = gb_emu_fail(err, GNARL_ENOMEM, "out of memory for the exactness check");
		goto out;
	}
	/* Straight: the state, then all frames. */
	if (!op->load_state(e, state))
		goto refused;
	check_run(e, 0, frames);
	if (!snapshot(e, &straight, n))
		goto refused;
	/* Split: halfway saved, the machine power-cycled and run elsewhere,
	 * the half loaded back over it, the rest run. */
	if (!op->load_state(e, state))
		goto refused;
	check_run(e, 0, half);
	if (!op->save_state(e, mid))
		goto refused;
	op->power_on(e);
	check_run(e, 0, 3);
	if (!op->load_state(e, mid))
		goto refused;
	check_run(e, half, frames);
	if (!snapshot(e, &split, n))
		goto refused;

	if (memcmp(straight.state, straight.again, n) || memcmp(split.state, split.again, n))
		what = "saving the same machine twice gives different bytes";
	else if (memcmp(straight.ram, split.ram, GB_WRAM_SIZE))
		what = "the work RAM differs";
	else if (op->same_machine ? !op->same_machine(e, straight.state, split.state)
	                          : memcmp(straight.state, split.state, n) != 0)
		what = "the machine state differs";
	else if (e->on_request && memcmp(straight.frame, split.frame, GNARL_FRAME_BYTES))
		what = "the picture differs";
	if (what)
		rc = gb_emu_fail(err, GNARL_EINCOMPAT, "%s does not restore its save states exactly "
		          "(%d frames straight vs. saved after %d, loaded and run on: %s), so "
		          "resets, checkpoints and resumed runs would not replay the same game: "
		          "use another emulator (params.emulator: libmgba)", e->name, frames,
		          half, what);
	goto out;

refused:
	rc = gb_emu_fail(err, GNARL_EINCOMPAT, "%s refused to save or load its own state: use "
	          "another emulator (params.emulator: libmgba)", e->name);
out:
	free(mid);
	free_bufs(&straight);
	free_bufs(&split);
	return rc;
}
