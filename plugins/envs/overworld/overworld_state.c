/*
 * overworld_state.c - the running episodes of the overworld env as bytes,
 * for checkpoints that resume mid-episode exactly (the optional
 * state_size/save_state/load_state env ops; overworld.c adds the header).
 *
 * Entry points: gnarl_overworld_state_env_bytes, _save_env, _check_env,
 * _load_env, _fingerprint.
 *
 * One env's record, little-endian, fixed order: the RNG (u64); room, tile
 * x/y, direction, health, max health, rupees, sword, kills, deaths,
 * invulnerability, text, steps, rooms visited, enemies (i32 each); done
 * and swing flags; treasures (16); live tiles (80); 4 enemies (x, y, hp,
 * alive, spawn); 4 loose items (x, y, kind); then visited, kill mask and
 * taken flags of every room.  The work-RAM image is not saved: it is a
 * function of that state (overworld_obs.c clears a slot whole when its
 * object goes), so loading rebuilds it byte for byte.
 *
 * Invariants: saving reads and loading writes only the env given; a record
 * is checked whole (_check_env) before anything is loaded, so a bad blob
 * changes nothing.
 */
#include <stdio.h>
#include <string.h>

#include "overworld.h"

#define OW_STATE_FIXED (8 + 15 * 4 + 2 + 16 + OW_TILES + OW_MAX_ENEMIES * 5 + OW_MAX_ITEMS * 3)

size_t gnarl_overworld_state_env_bytes(const struct ow_world *w)
{
	return OW_STATE_FIXED + 3 * (size_t)w->n_rooms;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	gnarl_put_u32(p, v);
	return p + 4;
}

static uint32_t get32(const uint8_t **p)
{
	uint32_t v = gnarl_get_u32(*p);

	*p += 4;
	return v;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

void gnarl_overworld_state_save_env(const struct ow_world *w, const struct ow_env *e,
                                    uint8_t *out)
{
	const int32_t ints[15] = {e->room,  e->tx,     e->ty,     e->dir,    e->health,
	                          e->max_health, e->rupees, e->sword,  e->killed, e->deaths,
	                          e->invuln, e->text,   e->steps,  e->n_visited, e->n_enemies};
	uint8_t *p = put32(put32(out, (uint32_t)e->rng), (uint32_t)(e->rng >> 32));

	for (int i = 0; i < 15; i++)
		p = put32(p, (uint32_t)ints[i]);
	*p++ = e->done;
	*p++ = e->swing;
	p = put_bytes(p, e->treasures, sizeof(e->treasures));
	p = put_bytes(p, e->tiles, OW_TILES);
	for (int i = 0; i < OW_MAX_ENEMIES; i++) {
		const struct ow_enemy *m = &e->enemies[i];
		*p++ = m->tx;
		*p++ = m->ty;
		*p++ = m->hp;
		*p++ = m->alive;
		*p++ = m->spawn;
	}
	for (int i = 0; i < OW_MAX_ITEMS; i++) {
		*p++ = e->items[i].tx;
		*p++ = e->items[i].ty;
		*p++ = e->items[i].kind;
	}
	p = put_bytes(p, e->visited, (size_t)w->n_rooms);
	p = put_bytes(p, e->kill_mask, (size_t)w->n_rooms);
	put_bytes(p, e->taken, (size_t)w->n_rooms);
}

/* The record's 15 i32 fields (after the RNG). */
static void read_ints(const uint8_t *rec, int32_t out[15])
{
	const uint8_t *p = rec + 8;

	for (int i = 0; i < 15; i++)
		out[i] = (int32_t)get32(&p);
}

bool gnarl_overworld_state_check_env(const struct ow_world *w, const uint8_t *rec,
                                     uint32_t index, char err[GNARL_ERR_SIZE])
{
	int32_t v[15];
	const uint8_t *tiles = rec + 8 + 15 * 4 + 2 + 16, *mon = tiles + OW_TILES;
	const uint8_t *items = mon + OW_MAX_ENEMIES * 5;
	const char *bad = NULL;

	read_ints(rec, v);
	if (v[0] < 0 || v[0] >= w->n_rooms)
		bad = "room";
	else if (v[1] < 0 || v[1] >= OW_COLS || v[2] < 0 || v[2] >= OW_ROWS)
		bad = "position";
	else if (v[3] < 0 || v[3] > 3)
		bad = "direction";
	else if (v[5] <= 0 || v[4] < 0 || v[4] > v[5])
		bad = "health";
	else if (v[13] < 0 || v[13] > w->n_rooms || v[14] < 0 || v[14] > OW_MAX_ENEMIES)
		bad = "counts";
	for (int i = 0; i < OW_TILES && !bad; i++)
		if (tiles[i] >= OW_TILE_KINDS)
			bad = "tiles";
	for (int i = 0; i < OW_MAX_ENEMIES && !bad; i++)
		if (mon[5 * i] >= OW_COLS || mon[5 * i + 1] >= OW_ROWS || mon[5 * i + 4] >= OW_MAX_ENEMIES)
			bad = "enemies";
	for (int i = 0; i < OW_MAX_ITEMS && !bad; i++)
		if (items[3 * i] >= OW_COLS || items[3 * i + 1] >= OW_ROWS ||
		    items[3 * i + 2] > OW_ITEM_RUPEES)
			bad = "items";
	if (!bad)
		return true;
	snprintf(err, GNARL_ERR_SIZE, "overworld: saved state of env %u has an impossible %s; the "
	         "checkpoint is damaged or from another world (start fresh)", index, bad);
	return false;
}

void gnarl_overworld_state_load_env(const struct ow_world *w, struct ow_env *e,
                                    const uint8_t *rec)
{
	const uint8_t *p = rec;
	int32_t v[15];

	e->rng = get32(&p);
	e->rng |= (uint64_t)get32(&p) << 32;
	read_ints(rec, v);
	p += 15 * 4;
	e->room = v[0];
	e->tx = v[1];
	e->ty = v[2];
	e->dir = v[3];
	e->health = v[4];
	e->max_health = v[5];
	e->rupees = v[6];
	e->sword = v[7];
	e->killed = v[8];
	e->deaths = v[9];
	e->invuln = v[10];
	e->text = v[11];
	e->steps = v[12];
	e->n_visited = v[13];
	e->n_enemies = v[14];
	e->done = *p++;
	e->swing = *p++;
	memcpy(e->treasures, p, sizeof(e->treasures));
	p += sizeof(e->treasures);
	memcpy(e->tiles, p, OW_TILES);
	p += OW_TILES;
	for (int i = 0; i < OW_MAX_ENEMIES; i++, p += 5) {
		e->enemies[i].tx = p[0];
		e->enemies[i].ty = p[1];
		e->enemies[i].hp = p[2];
		e->enemies[i].alive = p[3];
		e->enemies[i].spawn = p[4];
	}
	for (int i = 0; i < OW_MAX_ITEMS; i++, p += 3) {
		e->items[i].tx = p[0];
		e->items[i].ty = p[1];
		e->items[i].kind = p[2];
	}
	memcpy(e->visited, p, (size_t)w->n_rooms);
	memcpy(e->kill_mask, p + w->n_rooms, (size_t)w->n_rooms);
	memcpy(e->taken, p + 2 * w->n_rooms, (size_t)w->n_rooms);
	/* The RAM image from the state, as reset and the steps build it. */
	memset(e->ram, 0, OW_RAM_SIZE);
	gnarl_overworld_obs_ram_room(w, e);
	gnarl_overworld_obs_ram_step(w, e);
}

/* FNV-1a over the generated world (every room's template, the start): two
 * instances with the same fingerprint play in the same world.  Numbers of
 * the rules (max_steps, damage, probabilities) may differ: a resumed run
 * may change them, and the saved state stays valid under them. */
uint64_t gnarl_overworld_state_fingerprint(const struct ow_world *w)
{
	const int32_t start[] = {w->n_rooms, w->n_overworld, w->start_room, w->start_tx,
	                         w->start_ty};
	uint64_t h = 0xcbf29ce484222325ull;
	const uint8_t *b = (const uint8_t *)w->rooms;

	for (size_t i = 0; i < (size_t)w->n_rooms * sizeof(w->rooms[0]); i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	b = (const uint8_t *)start;
	for (size_t i = 0; i < sizeof(start); i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}
