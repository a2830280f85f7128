/*
 * overworld_obs.c - what the overworld env shows: the observation vector,
 * the game state (struct gnarl_game_state) and the work-RAM image.
 *
 * Entry points: gnarl_overworld_obs_dim, _obs_write, _obs_state,
 * _obs_ram_room (room-level RAM: group, room, collisions, layout),
 * _obs_ram_step (everything else, once per step), _obs_ram_tile.
 *
 * Observation layout (O = 29 + (2r+1)^2 * 7 floats, r = view_radius;
 * O = 204 for the default r = 2).  All values lie in [0, 1].
 *    0  Link's column in the room, tx / 9
 *    1  Link's row in the room, ty / 7
 *    2  room column on its group's grid (overworld W, dungeon 4), 0 else
 *    3  room row on its group's grid
 *  4-7  group one-hot: overworld, Maku Tree, indoors, dungeon
 *  8-11 facing one-hot: up, right, down, left
 *   12  health / max health
 *   13  has the sword
 *   14  has the Gnarled Key
 *   15  in a dungeon
 *   16  invulnerability left / invuln_steps
 *   17  a text box is open
 * 18-21 the room's side is open (an exit): up, right, down, left
 * 22-25 the room beyond that side was visited this episode (the grid
 *       neighbour on the overworld even behind a closed side; elsewhere
 *       the room behind an open side; 0 when there is none)
 *   26  steps / max_steps
 *   27  share of the world's rooms visited this episode
 *   28  enemies alive in the room / 4
 *  29.. a (2r+1) x (2r+1) window centred on Link, rows top to bottom,
 *       7 channels per cell: solid (tree, rock, wall, or beyond a closed
 *       side), water, bush, door (1: a door or the exit beyond an open
 *       side, or the dungeon entrance once the key is held; 0.5: the locked
 *       entrance), enemy, item, Maku Tree.  A floor cell is all zeros.
 *
 * RAM image: 32 KiB laid out as the real CGB work RAM (bank n at offset
 * n * 0x1000, so $C000-$CFFF at 0 and bank 1's $D000-$DFFF at 0x1000), with
 * the fields of shared/notes/gameboy.md at their real addresses.  Tile ids
 * at $CF00 and collision bytes at $CE00 (rows of 16) are this env's own
 * (enum ow_tile; 0 walkable, 0x0f solid).  Enemies sit in the enemy slots
 * $D080 + 0x100 k, loose items in the interaction slots $D040 + 0x100 k
 * (+0 enabled, +1 id, +0x0b y, +0x0d x); a slot is zeroed whole when its
 * object goes, so the image is a function of the env's state.
 */
#include <string.h>

#include "overworld.h"

#define RAM_GROUP 0x0c49
#define RAM_ROOM 0x0c4c
#define RAM_SEASON 0x0c4e
#define RAM_DUNGEON 0x0c55
#define RAM_DEATHS 0x061e
#define RAM_KILLED 0x0620
#define RAM_SMALL_KEYS 0x066e
#define RAM_B_ITEM 0x0680
#define RAM_TREASURES 0x0692
#define RAM_HEALTH 0x06a2
#define RAM_MAX_HEALTH 0x06a3
#define RAM_RUPEES 0x06a5
#define RAM_SWORD_LEVEL 0x06ac
#define RAM_TEXT 0x0ba0
#define RAM_COLLISIONS 0x0e00
#define RAM_LAYOUT 0x0f00
#define RAM_LINK 0x1000
#define RAM_OBJ_SIZE 0x40
#define RAM_OBJ_DIR 0x08
#define RAM_OBJ_Y 0x0b
#define RAM_OBJ_X 0x0d
#define RAM_ENEMY_HP 0x29
#define RAM_ENEMY_ID 0x09  /* an Octorok */

enum channel { CH_SOLID, CH_WATER, CH_BUSH, CH_DOOR, CH_ENEMY, CH_ITEM, CH_MAKU };

uint32_t gnarl_overworld_obs_dim(const struct ow_params *p)
{
	uint32_t side = 2u * (uint32_t)p->view_radius + 1u;
	return OW_OBS_FIXED + side * side * OW_CHANNELS;
}

static int grid_width(const struct ow_world *w, const struct ow_room *r)
{
	if (r->group == GNARL_GROUP_OVERWORLD)
		return w->p.width;
	return r->group == GNARL_GROUP_DUNGEON ? OW_DUNGEON_GRID : 1;
}

static int grid_height(const struct ow_world *w, const struct ow_room *r)
{
	if (r->group == GNARL_GROUP_OVERWORLD)
		return w->p.height;
	return r->group == GNARL_GROUP_DUNGEON ? OW_DUNGEON_GRID : 1;
}

/* The room beyond side d, or -1. */
static int neighbour(const struct ow_world *w, const struct ow_room *r, int d)
{
	int nx = r->gx + ow_dx[d], ny = r->gy + ow_dy[d];

	if (r->exit[d] >= 0)
		return r->exit[d];
	if (r->group != GNARL_GROUP_OVERWORLD || nx < 0 || ny < 0 || nx >= w->p.width ||
	    ny >= w->p.height)
		return -1;
	return ny * w->p.width + nx;
}

/* Channel and value of the tile at (x, y), which may lie outside the room. */
static void cell_code(const struct ow_env *e, int x, int y, int *ch, float *v)
{
	int cx = x < 0 ? 0 : x >= OW_COLS ? OW_COLS - 1 : x;
	int cy = y < 0 ? 0 : y >= OW_ROWS ? OW_ROWS - 1 : y;
	int t = e->tiles[cy * OW_COLS + cx];

	*v = 1.0f;
	if (cx != x || cy != y) {
		/* Beyond the edge: an exit where the edge tile is an opening. */
		*ch = t == OW_FLOOR && (cx == x || cy == y) ? CH_DOOR : CH_SOLID;
		return;
	}
	switch (t) {
	case OW_FLOOR:
		*ch = -1;
		break;
	case OW_WATER:
		*ch = CH_WATER;
		break;
	case OW_BUSH:
		*ch = CH_BUSH;
		break;
	case OW_DOOR:
		*ch = CH_DOOR;
		break;
	case OW_LOCKED:
		*ch = CH_DOOR;
		*v = ow_has_key(e) ? 1.0f : 0.5f;
		break;
	case OW_MAKU:
		*ch = CH_MAKU;
		break;
	default:
		*ch = CH_SOLID;
		break;
	}
}

static void write_window(const struct ow_world *w, const struct ow_env *e, float *win)
{
	int r = w->p.view_radius, side = 2 * r + 1;

	for (int dy = -r; dy <= r; dy++) {
		for (int dx = -r; dx <= r; dx++) {
			float *cell = win + ((dy + r) * side + (dx + r)) * OW_CHANNELS, v;
			int ch;
			cell_code(e, e->tx + dx, e->ty + dy, &ch, &v);
			if (ch >= 0)
				cell[ch] = v;
		}
	}
	for (int i = 0; i < e->n_enemies; i++) {
		int dx = e->enemies[i].tx - e->tx, dy = e->enemies[i].ty - e->ty;
		if (e->enemies[i].alive && dx >= -r && dx <= r && dy >= -r && dy <= r)
			win[((dy + r) * side + (dx + r)) * OW_CHANNELS + CH_ENEMY] = 1.0f;
	}
	for (int i = 0; i < OW_MAX_ITEMS; i++) {
		int dx = e->items[i].tx - e->tx, dy = e->items[i].ty - e->ty;
		if (e->items[i].kind && dx >= -r && dx <= r && dy >= -r && dy <= r)
			win[((dy + r) * side + (dx + r)) * OW_CHANNELS + CH_ITEM] = 1.0f;
	}
}

void gnarl_overworld_obs_write(const struct ow_world *w, const struct ow_env *e, float *obs)
{
	const struct ow_room *r = &w->rooms[e->room];
	int gw = grid_width(w, r), gh = grid_height(w, r), alive = 0;

	memset(obs, 0, gnarl_overworld_obs_dim(&w->p) * sizeof(*obs));
	obs[0] = (float)e->tx / (OW_COLS - 1);
	obs[1] = (float)e->ty / (OW_ROWS - 1);
	obs[2] = gw > 1 ? (float)r->gx / (float)(gw - 1) : 0.0f;
	obs[3] = gh > 1 ? (float)r->gy / (float)(gh - 1) : 0.0f;
	switch (r->group) {
	case GNARL_GROUP_OVERWORLD:
		obs[4] = 1.0f;
		break;
	case GNARL_GROUP_MAKU_TREE:
		obs[5] = 1.0f;
		break;
	case GNARL_GROUP_INDOORS:
		obs[6] = 1.0f;
		break;
	default:
		obs[7] = 1.0f;
		break;
	}
	obs[8 + e->dir] = 1.0f;
	obs[12] = (float)e->health / (float)e->max_health;
	obs[13] = e->sword ? 1.0f : 0.0f;
	obs[14] = ow_has_key(e) ? 1.0f : 0.0f;
	obs[15] = r->dungeon >= 0 ? 1.0f : 0.0f;
	obs[16] = w->p.invuln_steps > 0 ? (float)e->invuln / (float)w->p.invuln_steps : 0.0f;
	obs[17] = e->text > 0 ? 1.0f : 0.0f;
	for (int d = 0; d < 4; d++) {
		int n = neighbour(w, r, d);
		obs[18 + d] = r->exit[d] >= 0 ? 1.0f : 0.0f;
		obs[22 + d] = n >= 0 && e->visited[n] ? 1.0f : 0.0f;
	}
	obs[26] = (float)e->steps / (float)w->p.max_steps;
	obs[27] = (float)e->n_visited / (float)w->n_rooms;
	for (int i = 0; i < e->n_enemies; i++)
		alive += e->enemies[i].alive;
	obs[28] = (float)alive / OW_MAX_ENEMIES;
	write_window(w, e, obs + OW_OBS_FIXED);
}

void gnarl_overworld_obs_state(const struct ow_world *w, const struct ow_env *e,
                               struct gnarl_game_state *s)
{
	const struct ow_room *r = &w->rooms[e->room];
	int alive = 0;

	for (int i = 0; i < e->n_enemies; i++)
		alive += e->enemies[i].alive;
	memset(s, 0, sizeof(*s));
	s->size = GNARL_GAME_STATE_V1_SIZE;
	s->frame = (uint64_t)e->steps;
	s->group = r->group;
	s->room = r->id;
	s->dungeon = r->dungeon;
	s->x = e->tx * OW_TILE_PX + OW_TILE_PX / 2;
	s->y = e->ty * OW_TILE_PX + OW_TILE_PX / 2;
	s->direction = e->dir;
	s->health = e->health;
	s->max_health = e->max_health;
	s->rupees = e->rupees;
	s->sword_level = e->sword;
	s->enemies_killed = e->killed;
	s->deaths = e->deaths;
	s->enemies_visible = alive;
	s->text_active = e->text > 0;
	memcpy(s->treasures, e->treasures, sizeof(s->treasures));
	s->ram = e->ram;
	s->ram_size = OW_RAM_SIZE;
}

static uint8_t collision(uint8_t tile)
{
	return tile == OW_FLOOR || tile == OW_DOOR ? 0x00 : 0x0f;
}

void gnarl_overworld_obs_ram_tile(struct ow_env *e, int x, int y)
{
	uint8_t t = e->tiles[y * OW_COLS + x];

	e->ram[RAM_COLLISIONS + y * 16 + x] = collision(t);
	e->ram[RAM_LAYOUT + y * 16 + x] = t;
}

void gnarl_overworld_obs_ram_room(const struct ow_world *w, struct ow_env *e)
{
	const struct ow_room *r = &w->rooms[e->room];

	e->ram[RAM_GROUP] = r->group;
	e->ram[RAM_ROOM] = r->id;
	e->ram[RAM_DUNGEON] = r->dungeon >= 0 ? (uint8_t)r->dungeon : 0xff;
	for (int y = 0; y < OW_ROWS; y++)
		for (int x = 0; x < OW_COLS; x++)
			gnarl_overworld_obs_ram_tile(e, x, y);
}

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

static void put_object(uint8_t *obj, int id, int x, int y)
{
	obj[0] = 1;
	obj[1] = (uint8_t)id;
	obj[RAM_OBJ_Y] = (uint8_t)(y * OW_TILE_PX + OW_TILE_PX / 2);
	obj[RAM_OBJ_X] = (uint8_t)(x * OW_TILE_PX + OW_TILE_PX / 2);
}

/* A slot whose object is gone is zeroed whole, as the game deletes
 * objects: the image is then a function of the env's state alone, which
 * is what lets a checkpoint rebuild it (overworld_state.c). */
static void clear_object(uint8_t *obj)
{
	if (obj[0])
		memset(obj, 0, RAM_OBJ_SIZE);
}

void gnarl_overworld_obs_ram_step(const struct ow_world *w, struct ow_env *e)
{
	uint8_t *ram = e->ram;

	ram[RAM_SEASON] = 0;
	ram[RAM_DEATHS] = bcd(e->deaths % 100);
	ram[RAM_DEATHS + 1] = bcd(e->deaths / 100);
	ram[RAM_KILLED] = (uint8_t)(e->killed & 0xff);
	ram[RAM_KILLED + 1] = (uint8_t)((e->killed >> 8) & 0xff);
	ram[RAM_SMALL_KEYS + OW_DUNGEON_INDEX] = 0;
	ram[RAM_B_ITEM] = e->sword ? GNARL_TREASURE_SWORD : 0;
	memcpy(ram + RAM_TREASURES, e->treasures, sizeof(e->treasures));
	ram[RAM_HEALTH] = (uint8_t)e->health;
	ram[RAM_MAX_HEALTH] = (uint8_t)e->max_health;
	ram[RAM_RUPEES] = bcd(e->rupees % 100);
	ram[RAM_RUPEES + 1] = bcd(e->rupees / 100);
	ram[RAM_SWORD_LEVEL] = (uint8_t)e->sword;
	ram[RAM_TEXT] = e->text > 0;
	put_object(ram + RAM_LINK, 0, e->tx, e->ty);
	ram[RAM_LINK + RAM_OBJ_DIR] = (uint8_t)e->dir;
	for (int k = 0; k < OW_MAX_ENEMIES; k++) {
		uint8_t *obj = ram + RAM_LINK + k * 0x100 + 0x80;
		const struct ow_enemy *m = &e->enemies[k];
		if (k < e->n_enemies && m->alive) {
			put_object(obj, RAM_ENEMY_ID, m->tx, m->ty);
			obj[RAM_ENEMY_HP] = m->hp;
		} else {
			clear_object(obj);
		}
	}
	for (int k = 0; k < OW_MAX_ITEMS; k++) {
		uint8_t *obj = ram + RAM_LINK + k * 0x100 + 0x40;
		if (e->items[k].kind)
			put_object(obj, e->items[k].kind, e->items[k].tx, e->items[k].ty);
		else
			clear_object(obj);
	}
}
