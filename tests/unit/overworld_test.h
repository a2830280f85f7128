/*
 * overworld_test.h - what test_overworld.c and test_overworld_quest.c
 * share: the overworld env made the way the core makes it (the real plugin
 * host: gnarl_plugin_open, params parsed from YAML and checked against the
 * plugin's table, gnarl_plugin_host_create), its host arrays, the RAM
 * image's addresses (shared/notes/gameboy.md) and tile ids (configs/
 * README.md), and where frames a person should look at are written.
 * Everything is static inline: each test program uses a part of it.
 */
#ifndef GNARL_TEST_OVERWORLD_H
#define GNARL_TEST_OVERWORLD_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "image.h"
#include "plugin_host.h"
#include "value.h"

/* Work-RAM image offsets of the real game's addresses. */
#define A_DEATHS 0x061e
#define A_KILLED 0x0620
#define A_B_ITEM 0x0680
#define A_TREASURES 0x0692
#define A_HEALTH 0x06a2
#define A_MAX_HEALTH 0x06a3
#define A_RUPEES 0x06a5
#define A_SWORD 0x06ac
#define A_TEXT 0x0ba0
#define A_GROUP 0x0c49
#define A_ROOM 0x0c4c
#define A_DUNGEON 0x0c55
#define A_COLLISIONS 0x0e00
#define A_LAYOUT 0x0f00
#define A_LINK 0x1000   /* bank 1 $D000: +8 direction, +0x0b y, +0x0d x */
#define A_ITEM(k) (0x1040 + (k) * 0x100)
#define A_ENEMY(k) (0x1080 + (k) * 0x100)

/* Tile ids at $CF00 and item ids in the item slots. */
enum { T_FLOOR, T_TREE, T_ROCK, T_WALL, T_WATER, T_BUSH, T_DOOR, T_LOCKED, T_MAKU };
enum { ITEM_HEART = 1, ITEM_RUPEE, ITEM_SWORD, ITEM_RUPEES };
enum { NOP, UP, DOWN, LEFT, RIGHT, A, B };

struct envx {
	struct gnarl_plugin_lib *lib;
	struct gnarl_tree *params;
	struct gnarl_plugin_host *host;
	const struct gnarl_plugin *desc;
	const struct gnarl_env_ops *ops;
	void *env;
	uint32_t n, obs_dim;
	float *obs;
	struct gnarl_game_state *st;
	int32_t *act;
	float *rew;
	uint8_t *done, *want, *frames;
	struct gnarl_env_io io;
	long steps;
};

/* N overworld envs with `yaml` params ("{width: 3}"; NULL: defaults),
 * each reset with seed 100 + i. */
static inline struct envx *env_open(const char *yaml, uint32_t n)
{
	struct envx *x = calloc(1, sizeof(*x));
	char err[GNARL_ERR_SIZE] = "";
	struct gnarl_env_spaces sp;

	assert_non_null(x);
	yaml = yaml ? yaml : "{}";
	if (gnarl_plugin_open("overworld", GNARL_KIND_ENV, NULL, &x->lib, err) ||
	    gnarl_tree_parse(yaml, strlen(yaml), "params", &x->params, err))
		fail_msg("%s", err);
	x->desc = gnarl_plugin_desc(x->lib);
	x->ops = x->desc->ops.env;
	if (gnarl_config_check_params(NULL, gnarl_tree_root(x->params), x->desc->params, "params",
	                              err) ||
	    gnarl_plugin_host_create(x->lib, gnarl_tree_root(x->params), NULL, 1, "env", &x->host,
	                             err))
		fail_msg("%s", err);
	x->env = x->ops->create(gnarl_plugin_host_table(x->host), n, err);
	if (!x->env)
		fail_msg("create: %s", err);
	x->ops->spaces(x->env, &sp);
	x->n = n;
	x->obs_dim = sp.obs_dim;
	x->obs = calloc((size_t)n * sp.obs_dim, sizeof(float));
	x->st = calloc(n, sizeof(*x->st));
	x->act = calloc(n, sizeof(*x->act));
	x->rew = calloc(n, sizeof(*x->rew));
	x->done = calloc(n, 1);
	x->want = calloc(n, 1);
	x->frames = calloc(n, GNARL_FRAME_BYTES);
	x->io = (struct gnarl_env_io){sizeof(x->io), sp.obs_dim, x->obs, x->st, x->act,
	                              x->rew, x->done, x->want, x->frames};
	for (uint32_t i = 0; i < n; i++)
		x->ops->reset(x->env, &x->io, i, 100 + i);
	return x;
}

static inline void env_close(struct envx *x)
{
	x->ops->destroy(x->env);
	gnarl_plugin_host_free(x->host);
	gnarl_tree_free(x->params);
	gnarl_plugin_close(x->lib);
	free(x->obs);
	free(x->st);
	free(x->act);
	free(x->rew);
	free(x->done);
	free(x->want);
	free(x->frames);
	free(x);
}

/* One step of env 0 alone. */
static inline uint8_t act(struct envx *x, int a)
{
	x->act[0] = a;
	x->ops->step(x->env, &x->io, 0, 1);
	x->steps++;
	return x->done[0];
}

static inline const uint8_t *ram(const struct envx *x)
{
	return x->st[0].ram;
}

static inline int tile(const struct envx *x, int tx, int ty)
{
	return ram(x)[A_LAYOUT + ty * 16 + tx];
}

/* Is object slot group `first_slot` (enemies or items) using tile (tx, ty)? */
static inline bool object_at(const uint8_t *m, int first_slot, int tx, int ty)
{
	for (int k = 0; k < 16; k++) {
		const uint8_t *o = m + first_slot + k * 0x100;
		if (o[0] && o[0x0d] / 16 == tx && o[0x0b] / 16 == ty)
			return true;
	}
	return false;
}

static inline int lcg_action(uint64_t *r)
{
	*r = *r * 6364136223846793005ull + 1442695040888963407ull;
	return (int)((*r >> 33) % 7);
}

/* <build>/overworld_frames/<name>.png, through the core's PNG writer. */
static inline void write_png(const char *name, const uint8_t *rgb)
{
	char path[1024], err[GNARL_ERR_SIZE];
	int rc;

	mkdir(GNARL_BUILD_DIR "/overworld_frames", 0755);
	snprintf(path, sizeof(path), "%s/overworld_frames/%s.png", GNARL_BUILD_DIR, name);
	rc = gnarl_image_write_png(path, rgb, GNARL_FRAME_WIDTH, GNARL_FRAME_HEIGHT, err);
	if (rc)
		fail_msg("%s", err);
}

#endif /* GNARL_TEST_OVERWORLD_H */
