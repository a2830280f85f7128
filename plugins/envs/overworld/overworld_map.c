/*
 * overworld_map.c - the generated world as JSON, for tools that plan on it
 * (the exploration experiments' advisor, tests/llm/server.py): with the
 * `export_map` param the env stores it as world.json in the run directory.
 *
 * Entry point: gnarl_overworld_map_json.
 *
 * The document: {"width", "height", "start": [room, tx, ty], "sword_cave",
 * "maku_room", "dungeon_first" (room indices), "rooms": [{"group", "id",
 * "gx", "gy", "exits": [up, right, down, left] (room index, -1 none),
 * "tiles": 80 digits, row-major (enum ow_tile: 0 floor, 1 tree, 2 rock,
 * 3 wall, 4 water, 5 bush, 6 door, 7 locked, 8 Maku Tree), "doors": [[tx,
 * ty, to room, to tx, to ty], ...], "item": [kind, tx, ty] (enum ow_item,
 * kind 0: none)}, ...]}.  Moving off a room's side through an exit lands on
 * the opposite side of the room it names, at the same row or column;
 * stepping onto a door (or the locked entrance, with the Gnarled Key) lands
 * where the door says.
 */
#include <stdio.h>
#include <stdlib.h>

#include "overworld.h"

/* Enough for any room: 80 tile digits, 2 doors and the numbers. */
#define ROOM_JSON 512

int gnarl_overworld_map_json(const struct ow_world *w, char **out, size_t *len)
{
	size_t cap = 256 + (size_t)w->n_rooms * ROOM_JSON, n;
	char *p = malloc(cap);

	*out = NULL;
	if (!p)
		return GNARL_ENOMEM;
	n = (size_t)snprintf(p, cap, "{\"width\":%d,\"height\":%d,\"start\":[%d,%d,%d],"
	                     "\"sword_cave\":%d,\"maku_room\":%d,\"dungeon_first\":%d,\"rooms\":[",
	                     w->p.width, w->p.height, w->start_room, w->start_tx, w->start_ty,
	                     w->sword_cave, w->maku_room, w->dungeon_first);
	for (int i = 0; i < w->n_rooms; i++) {
		const struct ow_room *r = &w->rooms[i];
		n += (size_t)snprintf(p + n, cap - n, "%s{\"group\":%u,\"id\":%u,\"gx\":%u,\"gy\":%u,"
		                      "\"exits\":[%d,%d,%d,%d],\"tiles\":\"", i ? "," : "", r->group,
		                      r->id, r->gx, r->gy, r->exit[0], r->exit[1], r->exit[2],
		                      r->exit[3]);
		for (int t = 0; t < OW_TILES; t++)
			p[n++] = (char)('0' + r->tiles[t]);
		n += (size_t)snprintf(p + n, cap - n, "\",\"doors\":[");
		for (int d = 0; d < r->n_doors; d++)
			n += (size_t)snprintf(p + n, cap - n, "%s[%u,%u,%d,%u,%u]", d ? "," : "",
			                      r->doors[d].tx, r->doors[d].ty, r->doors[d].to_room,
			                      r->doors[d].to_tx, r->doors[d].to_ty);
		n += (size_t)snprintf(p + n, cap - n, "],\"item\":[%u,%u,%u]}", r->item, r->item_tx,
		                      r->item_ty);
	}
	n += (size_t)snprintf(p + n, cap - n, "]}\n");
	*out = p;
	*len = n;
	return 0;
}
