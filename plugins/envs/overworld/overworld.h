/*
 * overworld.h - internals shared by the files of the overworld env plugin
 * (overworld.c: the ABI glue; overworld_gen.c: world generation and the
 * solvability check; overworld_sim.c: one step of the game;
 * overworld_obs.c: observation, game state and work-RAM image;
 * overworld_state.c: running episodes as bytes for checkpoints;
 * overworld_map.c: the world as JSON for tools;
 * overworld_render.c: 160x144 frames).  Nothing here crosses the plugin
 * boundary: only gnarl_plugin_entry is exported.
 *
 * Geometry follows the real game: a screen is 10 x 8 tiles of 16 x 16
 * pixels, Link's pixel position is tile * 16 + 8, room ids of the
 * overworld are row * 16 + column, groups mean what they mean in Oracle of
 * Seasons (0 overworld, 2 Maku Tree, 3 indoors, 4 dungeon).
 */
#ifndef GNARL_OVERWORLD_H
#define GNARL_OVERWORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#define OW_COLS 10
#define OW_ROWS 8
#define OW_TILES (OW_COLS * OW_ROWS)
#define OW_TILE_PX 16
#define OW_MAX_GRID 16           /* overworld up to 16 x 16 screens */
#define OW_MAX_CAVES 8           /* caves besides the sword's */
#define OW_MAX_DUNGEON_ROOMS 16  /* on a 4 x 4 dungeon grid */
#define OW_DUNGEON_GRID 4
#define OW_MAX_ROOMS (OW_MAX_GRID * OW_MAX_GRID + 1 + 1 + OW_MAX_CAVES + OW_MAX_DUNGEON_ROOMS)
#define OW_MAX_ENEMIES 4         /* per room */
#define OW_MAX_ITEMS 4           /* loose items (drops, static item) per room */
#define OW_MAX_DOORS 2
#define OW_RAM_SIZE 0x8000       /* CGB work RAM: bank n at n * 0x1000 */
#define OW_N_ACTIONS 7
#define OW_CHANNELS 7            /* tile-window channels, see overworld_obs.c */
#define OW_OBS_FIXED 29          /* observation slots before the window */
#define OW_MAKU_ROOM_ID 0x0b     /* the Maku Tree's room id in group 2 */
#define OW_CAVE_ROOM_BASE 0x10   /* cave room ids in group 3 */
#define OW_DUNGEON_INDEX 0       /* the one dungeon: the Gnarled Root's index */

enum ow_action { OW_NOP = 0, OW_UP, OW_DOWN, OW_LEFT, OW_RIGHT, OW_A, OW_B };

/* Tile kinds; also the tile ids written at $CF00 of the RAM image. */
enum ow_tile {
	OW_FLOOR = 0,
	OW_TREE,    /* solid: overworld borders and groves */
	OW_ROCK,    /* solid */
	OW_WALL,    /* solid: cave and dungeon walls */
	OW_WATER,   /* solid */
	OW_BUSH,    /* solid until cut with the sword (B) */
	OW_DOOR,    /* warp: cave mouth, gate, stairs, dungeon exit */
	OW_LOCKED,  /* dungeon entrance: a door once Link has the Gnarled Key */
	OW_MAKU,    /* the Maku Tree: solid; A facing it talks */
	OW_TILE_KINDS
};

/* Loose item kinds; also the ids written in the RAM image's
 * interaction slots. */
enum ow_item {
	OW_ITEM_NONE = 0,
	OW_ITEM_HEART,    /* +1 heart (4 quarters), up to max */
	OW_ITEM_RUPEE,    /* +1 rupee */
	OW_ITEM_SWORD,    /* the sword: treasure 0x05, sword level 1 */
	OW_ITEM_RUPEES,   /* a pile of `rupee_pile` rupees, in caves */
};

/* Every number of the env, read from declared parameters. */
struct ow_params {
	uint64_t world_seed;
	int width, height, max_steps;
	double extra_exits, obstacle_density, water_share, bush_density;
	double enemies_per_screen, dungeon_enemies, enemy_move_prob;
	double drop_prob, heart_drop_share, bush_drop_prob;
	int enemy_hp, enemy_damage, invuln_steps, start_hearts;
	int sword_distance, maku_distance, dungeon_distance;
	int dungeon_rooms, caves, talk_steps, view_radius, rupee_pile;
	bool enemies_respawn, export_map;
};

struct ow_door {
	uint8_t tx, ty;          /* the door tile */
	uint8_t to_tx, to_ty;    /* where Link lands */
	int16_t to_room;         /* room index */
	uint8_t to_dir;          /* direction Link faces on landing */
};

/* One screen of the world: its template (live copies are per env). */
struct ow_room {
	uint8_t tiles[OW_TILES];         /* enum ow_tile, row-major */
	int16_t exit[4];                 /* neighbour room index per
	                                    gnarl_direction, -1 blocked */
	uint8_t group, id;               /* the real game's meanings */
	uint8_t gx, gy;                  /* position on its group's grid */
	int8_t dungeon;                  /* dungeon index, -1 outside */
	uint8_t n_doors, n_spawns;
	uint8_t item, item_tx, item_ty;  /* static item (enum ow_item) */
	struct ow_door doors[OW_MAX_DOORS];
	uint8_t spawn_tx[OW_MAX_ENEMIES], spawn_ty[OW_MAX_ENEMIES];
};

/* The generated world, shared read-only by every env of an instance. */
struct ow_world {
	struct ow_params p;
	int n_rooms, n_overworld;        /* overworld screens are 0..n_overworld-1 */
	int start_room, start_tx, start_ty;
	int sword_cave, sword_screen, maku_room, maku_screen;
	int dungeon_screen, dungeon_first;
	int attempts;                    /* generation attempts it took */
	struct ow_room rooms[OW_MAX_ROOMS];
};

struct ow_enemy {
	uint8_t tx, ty, hp, alive, spawn; /* spawn: index in the room's list */
};

struct ow_loose {
	uint8_t tx, ty, kind;             /* kind OW_ITEM_NONE: free slot */
};

/* One env's whole mutable state; per-room arrays and the RAM image live
 * right after it in the instance's slab. */
struct ow_env {
	uint64_t rng;                     /* splitmix64 state */
	int32_t room, tx, ty, dir;
	int32_t health, max_health, rupees, sword;
	int32_t killed, deaths, invuln, text, steps;
	int32_t n_visited, n_enemies;
	uint8_t done;
	uint8_t swing;                    /* swung the sword this step (drawn) */
	uint8_t treasures[16];
	uint8_t tiles[OW_TILES];          /* live tiles of the current room */
	struct ow_enemy enemies[OW_MAX_ENEMIES];
	struct ow_loose items[OW_MAX_ITEMS];
	uint8_t *visited;                 /* n_rooms: visited this episode */
	uint8_t *kill_mask;               /* n_rooms: spawns killed this episode */
	uint8_t *taken;                   /* n_rooms: static item collected */
	uint8_t *ram;                     /* OW_RAM_SIZE work-RAM image */
};

/* Direction deltas indexed by enum gnarl_direction. */
static const int ow_dx[4] = {0, 1, 0, -1};
static const int ow_dy[4] = {-1, 0, 1, 0};

static inline uint64_t ow_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double ow_rand_unit(uint64_t *s)
{
	return (double)(ow_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [0, n) for n >= 1. */
static inline int ow_rand_below(uint64_t *s, int n)
{
	return (int)(((ow_rand(s) >> 32) * (uint64_t)n) >> 32);
}

static inline bool ow_has_key(const struct ow_env *e)
{
	return (e->treasures[GNARL_TREASURE_GNARLED_KEY / 8] >>
	        (GNARL_TREASURE_GNARLED_KEY % 8)) & 1u;
}

/* overworld_gen.c */
int gnarl_overworld_gen_world(const struct ow_params *p, struct ow_world *w,
                              char err[GNARL_ERR_SIZE]);
bool gnarl_overworld_gen_solvable(const struct ow_world *w);

/* overworld_sim.c */
void gnarl_overworld_sim_reset(const struct ow_world *w, struct ow_env *e, uint64_t seed);
/* Returns enum gnarl_done flags. */
uint8_t gnarl_overworld_sim_step(const struct ow_world *w, struct ow_env *e, int action);

/* overworld_obs.c */
uint32_t gnarl_overworld_obs_dim(const struct ow_params *p);
void gnarl_overworld_obs_write(const struct ow_world *w, const struct ow_env *e, float *obs);
void gnarl_overworld_obs_state(const struct ow_world *w, const struct ow_env *e,
                               struct gnarl_game_state *s);
void gnarl_overworld_obs_ram_room(const struct ow_world *w, struct ow_env *e);
void gnarl_overworld_obs_ram_step(const struct ow_world *w, struct ow_env *e);
void gnarl_overworld_obs_ram_tile(struct ow_env *e, int x, int y);

/* overworld_state.c: one env's running episode as a record of
 * gnarl_overworld_state_env_bytes bytes (checkpoints). */
size_t gnarl_overworld_state_env_bytes(const struct ow_world *w);
void gnarl_overworld_state_save_env(const struct ow_world *w, const struct ow_env *e,
                                    uint8_t *out);
bool gnarl_overworld_state_check_env(const struct ow_world *w, const uint8_t *rec,
                                     uint32_t index, char err[GNARL_ERR_SIZE]);
void gnarl_overworld_state_load_env(const struct ow_world *w, struct ow_env *e,
                                    const uint8_t *rec);
uint64_t gnarl_overworld_state_fingerprint(const struct ow_world *w);

/* overworld_map.c: the world as JSON (*out owned: free).  0 or GNARL_ENOMEM. */
int gnarl_overworld_map_json(const struct ow_world *w, char **out, size_t *len);

/* overworld_render.c */
void gnarl_overworld_render_frame(const struct ow_world *w, const struct ow_env *e,
                                  uint8_t *rgb);

#endif /* GNARL_OVERWORLD_H */
