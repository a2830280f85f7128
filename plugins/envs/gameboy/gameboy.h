/*
 * gameboy.h - internals shared by the files of the gameboy env plugin
 * (gameboy.c: the ABI glue and the episodes; emu.h: the emulator backends;
 * gameboy_ram.c: the RAM map from the config, game-state decoding and the
 * observation).  Nothing here crosses the plugin boundary and nothing here
 * knows about an emulator: the RAM side works on a plain 32 KiB image of
 * CGB work RAM.
 *
 * Work RAM image: bank 0 (C000-CFFF) at offset 0, bank n (D000-DFFF when
 * SVBK selects n, n = 1..7) at offset n * 0x1000, as libmgba lays it out.
 */
#ifndef GNARL_GAMEBOY_H
#define GNARL_GAMEBOY_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#define GB_WRAM_SIZE 0x8000

/* Fields of struct gnarl_game_state a RAM map may declare, in the order
 * they are decoded (an indexed field may only name an earlier one). */
enum gb_field {
	GB_F_GROUP,
	GB_F_ROOM,
	GB_F_DUNGEON,
	GB_F_X,
	GB_F_Y,
	GB_F_DIRECTION,
	GB_F_HEALTH,
	GB_F_MAX_HEALTH,
	GB_F_RUPEES,
	GB_F_KEYS,
	GB_F_SWORD_LEVEL,
	GB_F_ENEMIES_KILLED,
	GB_F_DEATHS,
	GB_F_TEXT_ACTIVE,
	GB_F_MENU_OPEN,
	GB_F_SEASON,
	GB_F_TREASURES,
	GB_F_COUNT
};

/* One declared field: where it lives and how to read it. */
struct gb_field_spec {
	bool present;
	uint16_t offset;           /* into the work-RAM image */
	uint8_t width;             /* bytes, little-endian (treasures: 1-16) */
	bool bcd;                  /* two decimal digits per byte */
	int32_t none;              /* raw value that means "none" (-1), or -1 */
	int index;                 /* field whose value selects an entry, or -1 */
	uint8_t count;             /* entries when indexed */
};

struct gb_ram_map {
	struct gb_field_spec field[GB_F_COUNT];
	/* The room's collision map: one byte per 16x16 tile, `stride` bytes
	 * per row; the room is width x height tiles. */
	bool has_collisions;
	uint16_t coll_offset;
	uint8_t coll_stride, coll_width, coll_height;
	/* Enemy object slots: `count` slots `stride` bytes apart; in each,
	 * +0x00 enabled (non-zero), +0x01 id, +0x0B y, +0x0D x (pixels). */
	bool has_enemies;
	uint16_t enemy_offset, enemy_stride;
	uint8_t enemy_count;
};

/* Sizes of the observation's variable blocks. */
struct gb_obs_shape {
	uint32_t window;           /* collision window is window x window tiles */
	uint32_t enemy_slots;      /* nearest enemies described */
};

#define GB_OBS_FIXED 28        /* floats before the collision window */
#define GB_OBS_PER_ENEMY 4

/* Parse and validate the `ram_map` parameter into *out.  Messages name
 * the entry and its config line. */
int gnarl_gameboy_ram_parse(const struct gnarl_value *map, struct gb_ram_map *out,
                            char err[GNARL_ERR_SIZE]);

/* Decode the game state from a work-RAM image (never fails).  Sets every
 * field of ABI 1.0 except `frame`, `ram` and `ram_size`. */
void gnarl_gameboy_ram_decode(const struct gb_ram_map *m, const uint8_t *wram,
                              struct gnarl_game_state *s);

/* Floats in an observation of this shape. */
uint32_t gnarl_gameboy_ram_obs_dim(const struct gb_obs_shape *shape);

/* Write the observation (obs_dim floats) for decoded state s; time_frac is
 * the elapsed share of the episode's step limit, in [0, 1]. */
void gnarl_gameboy_ram_obs(const struct gb_ram_map *m, const struct gb_obs_shape *shape,
                           const uint8_t *wram, const struct gnarl_game_state *s,
                           float time_frac, float *obs);

#endif /* GNARL_GAMEBOY_H */
