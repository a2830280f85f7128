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
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#define GB_WRAM_SIZE 0x8000

/* Fill err from fmt and return code: every file's error helper. */
int gnarl_gameboy_fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Buttons named in s ("A", "UP+A", any case) as emu.h key bits.  0, or
 * -1 with the first unknown name in bad. */
int gnarl_gameboy_buttons(const char *s, uint32_t *keys, char *bad, size_t size);

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

/* Per group (0-7), the room-layout tiles (bytes at the layout address)
 * that warp when Link walks into them: doors, stairs, cave mouths. */
struct gb_doors {
	uint16_t offset;           /* the layout: one byte per tile, the collision
	                              map's geometry */
	uint8_t tiles[8][32];      /* bit t of group g: tile t is a door */
};

struct gb_ram_map {
	struct gb_field_spec field[GB_F_COUNT];
	/* The room's collision map: one byte per 16x16 tile, `stride` bytes
	 * per row; the room is width x height tiles, or, with `sized`, the
	 * size the game keeps at width_offset/height_offset in units of
	 * `unit` pixels (Oracle of Seasons: $CD0A/$CD0B in 8-pixel units,
	 * 10 x 8 tiles for a small room, 15 x 11 for a large one). */
	bool has_collisions;
	uint16_t coll_offset;
	uint8_t coll_stride, coll_width, coll_height;
	uint8_t coll_max_height;   /* rows that fit below $D000 (or $E000) */
	bool coll_sized;
	uint16_t coll_width_offset, coll_height_offset;
	uint8_t coll_unit;
	bool has_doors;
	struct gb_doors doors;
	/* The screen is changing (a scroll, a fade, a room being loaded)
	 * whenever the byte at transition_offset is not transition_idle
	 * (Oracle of Seasons: wScrollMode $CD00, 1 when settled). */
	bool has_transition;
	uint16_t transition_offset;
	uint8_t transition_idle;
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
#define GB_OBS_TILE_PLANES 4   /* blocked, hazard, door, outside */
#define GB_OBS_PER_ENEMY 4

/* What a collision byte means to Link, as Oracle of Seasons' code reads
 * it (checkGivenCollision_allowHoles in the disassembly's code/bank0.s). */
struct gb_tile {
	float blocked;             /* share of the tile Link cannot enter, 0..1 */
	bool hazard;               /* hole, water or lava ($10): walkable, deadly */
};

/* Parse and validate the `ram_map` parameter into *out.  Messages name
 * the entry and its config line. */
int gnarl_gameboy_ram_parse(const struct gnarl_value *map, struct gb_ram_map *out,
                            char err[GNARL_ERR_SIZE]);

/* Decode the game state from a work-RAM image (never fails).  Sets every
 * field of ABI 1.0 except `frame`, `ram` and `ram_size`, and the flag
 * GNARL_STATE_TRANSITION while the screen is changing. */
void gnarl_gameboy_ram_decode(const struct gb_ram_map *m, const uint8_t *wram,
                              struct gnarl_game_state *s);

/* The room's size in tiles as the game reports it now (the defaults when
 * it reports nothing sensible, as during a room load). */
void gnarl_gameboy_ram_room_size(const struct gb_ram_map *m, const uint8_t *wram, int *width,
                                 int *height);

/* Is a text box open (the map's text_active field non-zero)? */
bool gnarl_gameboy_ram_text_open(const struct gb_ram_map *m, const uint8_t *wram);

/* Is the screen changing (the map's transition byte not idle)? */
bool gnarl_gameboy_ram_in_transition(const struct gb_ram_map *m, const uint8_t *wram);

/* The meaning of collision byte c. */
struct gb_tile gnarl_gameboy_ram_tile(uint8_t c);

/* Is layout tile t of group g a door? */
bool gnarl_gameboy_ram_door(const struct gb_ram_map *m, int group, uint8_t t);

/* Floats in an observation of this shape. */
uint32_t gnarl_gameboy_ram_obs_dim(const struct gb_obs_shape *shape);

/* Write the observation (obs_dim floats) for decoded state s; time_frac is
 * the elapsed share of the episode's step limit, in [0, 1]. */
void gnarl_gameboy_ram_obs(const struct gb_ram_map *m, const struct gb_obs_shape *shape,
                           const uint8_t *wram, const struct gnarl_game_state *s,
                           float time_frac, float *obs);

/* ------------------------------------------------------------------------ */
/* The cartridge (gameboy_rom.c).                                           */

struct gb_rom {
	char title[17];            /* header $134.., printable bytes up to a NUL */
	uint8_t cgb;               /* header $143: $80 dual-mode, $C0 colour only */
	char md5[33];              /* of the whole image, lowercase hex */
	uint64_t size;
	const char *known;         /* a cartridge gnarl knows by its MD5, or NULL */
};

/* Read the ROM image's header and MD5; refuses a file that is not a Game
 * Boy ROM (size, header checksum) with a message naming params.rom. */
int gnarl_gameboy_rom_read(const char *path, struct gb_rom *out, char err[GNARL_ERR_SIZE]);

/* Runs only on a Game Boy Color (header byte $143 = $C0). */
bool gnarl_gameboy_rom_colour_only(const struct gb_rom *rom);

/* ------------------------------------------------------------------------ */
/* Boot files (gameboy_boot.c): power-on to the episode start as text.      */

struct gnarl_gameboy_boot;
struct gb_emu;

/* Called after every replayed frame (frames since power-on, the line of
 * the statement running). */
typedef void (*gnarl_gameboy_boot_frame_fn)(void *ctx, long frame, int line);

/* Parse a boot file's text (path for messages).  *out owned by the caller
 * (gnarl_gameboy_boot_free).  GNARL_ECONFIG with "boot file PATH line N:
 * ..." in err. */
int gnarl_gameboy_boot_parse(const char *path, const char *text, size_t len,
                             struct gnarl_gameboy_boot **out, char err[GNARL_ERR_SIZE]);

/* Read and parse the file at path; `param` names the setting in messages. */
int gnarl_gameboy_boot_load(const char *path, const char *param,
                            struct gnarl_gameboy_boot **out, char err[GNARL_ERR_SIZE]);

void gnarl_gameboy_boot_free(struct gnarl_gameboy_boot *b);

/* Is rom a cartridge the file's `rom` line names (any, without one)?  If
 * not, `what` gets the file's description of its cartridges. */
bool gnarl_gameboy_boot_rom_ok(const struct gnarl_gameboy_boot *b, const struct gb_rom *rom,
                               char *what, size_t size);

/* Replay the file on e from where it is (the caller powers it on first),
 * statements on lines before stop_line only (0: all).  *frames gets the
 * frames run.  0, or GNARL_ECONFIG with the line whose condition did not
 * hold in time. */
int gnarl_gameboy_boot_run(const struct gnarl_gameboy_boot *b, struct gb_emu *e, int stop_line,
                           gnarl_gameboy_boot_frame_fn on_frame, void *ctx, long *frames,
                           char err[GNARL_ERR_SIZE]);

/* MD5 of data as 32 lowercase hex digits (and a NUL); GNARL_EIO if
 * libcrypto fails. */
int gnarl_gameboy_md5_hex(const void *data, size_t len, char hex[33]);

/* The hex MD5 of the boot file's text (what the boot cache is keyed by). */
const char *gnarl_gameboy_boot_md5(const struct gnarl_gameboy_boot *b);

/* ------------------------------------------------------------------------ */
/* gnarl's state blobs (gameboy_state.c): checkpoints, start-state files,   */
/* the boot cache.  Layout in gameboy_state.c.                              */

#define GB_STATE_HEADER 128
#define GB_ENV_HEADER 16       /* per env: steps, deaths, frames */

/* What a blob must have been saved by and for. */
struct gb_state_id {
	const char *backend;       /* the emulator's name (struct gb_emu) */
	const char *rom_md5, *rom_title;
	uint64_t state_size;       /* bytes of one emulator state */
};

/* Bytes of a blob of n_envs emulator states of emu_state bytes each. */
size_t gnarl_gameboy_state_size(uint32_t n_envs, size_t emu_state);

/* Write the header of a blob of n_envs envs (GB_STATE_HEADER bytes). */
void gnarl_gameboy_state_put_header(void *buf, const struct gb_state_id *id, uint32_t n_envs);

/* Does buf start with the blob magic? */
bool gnarl_gameboy_state_is_blob(const void *buf, size_t size);

/* Check a blob of `size` bytes against `want`: its backend, cartridge,
 * emulator-state size and length; *n_envs, *header (bytes before the
 * first env) and *per_env (bytes of each emulator state: less than
 * want->state_size only in a version 1 libmgba blob) on success.  `what` names the blob in messages ("params.
 * save_state 'x.gbstate'").  GNARL_ECORRUPT, GNARL_EVERSION or
 * GNARL_EINCOMPAT with a message saying what to do. */
int gnarl_gameboy_state_check_header(const void *buf, size_t size, const struct gb_state_id *want,
                                     const char *what, uint32_t *n_envs, size_t *header,
                                     size_t *per_env, char err[GNARL_ERR_SIZE]);

/* Read a whole file (at most 64 MiB) into *out (owned by the caller). */
int gnarl_gameboy_state_read_file(const char *path, const char *what, void **out, size_t *size,
                                  char err[GNARL_ERR_SIZE]);

/* Write a whole file atomically (a temporary beside it, then rename). */
int gnarl_gameboy_state_write_file(const char *path, const void *buf, size_t size,
                                   char err[GNARL_ERR_SIZE]);

/* ------------------------------------------------------------------------ */
/* The episode start (gameboy_start.c).                                     */

struct gb_start_spec {
	const struct gnarl_host *host;  /* for log */
	const struct gb_rom *rom;
	const char *model;
	const char *save_state;         /* resolved path, or NULL */
	const char *boot;               /* resolved path, or NULL */
	int boot_stop;                  /* replay lines before this one (0: all) */
	bool cache;                     /* use and fill the boot cache */
};

/* Bring emulator e, just powered on, to the episode start: the save
 * state, or the boot file (its cached end state when there is one).
 * Messages name the param, the file and its line. */
int gnarl_gameboy_start_reach(const struct gb_start_spec *spec, struct gb_emu *e,
                              char err[GNARL_ERR_SIZE]);

/* A blob of one env holding emulator state `state` (state_size bytes);
 * *out owned by the caller, *size its length. */
int gnarl_gameboy_start_blob(const struct gb_state_id *id, const void *state, void **out,
                             size_t *size, char err[GNARL_ERR_SIZE]);

/* ------------------------------------------------------------------------ */
/* The self-check of the RAM map (gameboy_check.c).                         */

struct gb_check_spec {
	const struct gnarl_host *host;  /* for log */
	const struct gb_ram_map *map;
	int step_frames;                /* frames of one env step */
	bool full;                      /* every edge and a report of every field */
	const void *start;              /* the start state, state_size bytes */
};

/* From the start state: every field in range, each direction moves Link
 * the right way (and sets his direction), a screen edge changes the room,
 * health stays within 0..max_health.  Leaves e anywhere (the caller loads
 * the start state again).  GNARL_ECONFIG naming the field, its address and
 * what was seen. */
int gnarl_gameboy_check_run(const struct gb_check_spec *c, struct gb_emu *e,
                            char err[GNARL_ERR_SIZE]);

#endif /* GNARL_GAMEBOY_H */
