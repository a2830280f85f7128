/*
 * gb_view.c - a Game Boy env's RAM map read back from its config (see
 * gb_view.h).  Collision bytes are typed as Oracle of Seasons' code reads
 * them (the disassembly's checkGivenCollision_allowHoles): $00 open, $01-
 * $0F quarter-tile masks ($0F whole), $10 a hole, water or lava, $11-$1F
 * bridges and stairs, anything else solid.
 */
#include "gb_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

bool gnarl_gb_view_locate(const struct gnarl_value *entry, size_t ram_size, long extra,
                          long width, struct gnarl_gb_loc *out)
{
	const struct gnarl_value *a = gnarl_value_get(entry, "address");
	const struct gnarl_value *b = gnarl_value_get(entry, "bank");
	long address = -1;

	if (a && a->type == GNARL_VALUE_INT) {
		address = (long)a->as.i;
	} else if (a && a->type == GNARL_VALUE_STRING) {
		const char *s = a->as.s + (a->as.s[0] == '$');
		char *end;

		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			s += 2;
		address = *s ? strtol(s, &end, 16) : -1;
		if (*s && *end)
			address = -1;
	}
	if (address < 0xC000 || address > 0xDFFF)
		return false;
	out->address = address;
	out->bank = address < 0xD000 ? 0 : (int)gnarl_value_int(b, 1);
	out->offset = address < 0xD000 ? (size_t)(address - 0xC000)
	                               : (size_t)out->bank * 0x1000 + (size_t)(address - 0xD000);
	out->offset += (size_t)extra;
	return out->bank >= 0 && out->bank < 8 && out->offset + (size_t)width <= ram_size;
}

void gnarl_gb_view_address(const struct gnarl_gb_loc *l, char *buf, size_t size)
{
	if (l->bank > 0)
		snprintf(buf, size, "$%04lX bank %d", l->address, l->bank);
	else
		snprintf(buf, size, "$%04lX", l->address);
}

/* A byte of bank 0 named by a key of entry (width_at: 0xCD0A), or -1. */
static int byte_at(const struct gnarl_value *entry, const char *key,
                   const struct gnarl_game_state *s)
{
	const struct gnarl_value *v = gnarl_value_get(entry, key);
	struct gnarl_value node = {.type = GNARL_VALUE_MAP};
	const char *keys[] = {"address"};
	struct gnarl_gb_loc l;

	if (!v)
		return -1;
	node.count = 1;
	node.keys = keys;
	node.items = v;
	return gnarl_gb_view_locate(&node, s->ram_size, 0, 1, &l) ? s->ram[l.offset] : -1;
}

static void read_doors(const struct gnarl_value *map, const struct gnarl_game_state *s,
                       struct gnarl_gb_grid *g)
{
	const struct gnarl_value *e = gnarl_value_get(map, "doors");
	const struct gnarl_value *tiles = gnarl_value_get(e, "tiles"), *list = NULL;
	char group[16];

	snprintf(group, sizeof(group), "%d", s->group);
	list = gnarl_value_get(tiles, group);
	if (!e || !gnarl_gb_view_locate(e, s->ram_size, 0, g->stride * g->height, &g->layout))
		return;
	g->has_doors = true;
	for (size_t k = 0; list && list->type == GNARL_VALUE_LIST && k < list->count; k++) {
		long t = (long)gnarl_value_int(&list->items[k], -1);

		if (t >= 0 && t < 256)
			g->doors[t / 8] |= (unsigned char)(1u << (t % 8));
	}
}

struct gnarl_gb_grid gnarl_gb_view_grid(const struct gnarl_value *map,
                                        const struct gnarl_game_state *s)
{
	const struct gnarl_value *e = gnarl_value_get(map, "collisions");
	struct gnarl_gb_grid g;
	int w, h;

	memset(&g, 0, sizeof(g));
	if (!e || !s->ram)
		return g;
	g.stride = (long)gnarl_value_int(gnarl_value_get(e, "stride"), 16);
	g.width = (long)gnarl_value_int(gnarl_value_get(e, "width"), 10);
	g.height = (long)gnarl_value_int(gnarl_value_get(e, "height"), 8);
	w = byte_at(e, "width_at", s);
	h = byte_at(e, "height_at", s);
	if (w > 0 && h > 0) {
		long unit = (long)gnarl_value_int(gnarl_value_get(e, "unit_px"), 8);

		g.sized = true;
		if (w * unit / 16 >= 1 && w * unit / 16 <= g.stride && h * unit / 16 <= 16) {
			g.width = w * unit / 16;
			g.height = h * unit / 16;
		}
	}
	g.ok = g.stride > 0 && g.width > 0 && g.height > 0 && g.height <= 64 &&
	       g.width <= g.stride &&
	       gnarl_gb_view_locate(e, s->ram_size, 0, g.stride * g.height, &g.l);
	if (g.ok)
		read_doors(map, s, &g);
	return g;
}

struct gnarl_gb_slots gnarl_gb_view_slots(const struct gnarl_value *map,
                                          const struct gnarl_game_state *s)
{
	const struct gnarl_value *e = gnarl_value_get(map, "enemies");
	struct gnarl_gb_slots sl;

	memset(&sl, 0, sizeof(sl));
	if (!e || !s->ram)
		return sl;
	sl.stride = (long)gnarl_value_int(gnarl_value_get(e, "stride"), 0x100);
	sl.count = (long)gnarl_value_int(gnarl_value_get(e, "count"), 16);
	sl.ok = sl.stride >= 0x0E && sl.count > 0 && sl.count <= 16 &&
	        gnarl_gb_view_locate(e, s->ram_size, 0, sl.stride * (sl.count - 1) + 0x0E, &sl.l);
	return sl;
}

const unsigned char *gnarl_gb_view_slot(const struct gnarl_game_state *s,
                                        const struct gnarl_gb_slots *slots, long k)
{
	return s->ram + slots->l.offset + (size_t)(k * slots->stride);
}

static char tile_char(unsigned char c)
{
	if (c == 0x00)
		return '.';
	if (c < 0x0F)
		return '+';
	if (c == 0x10)
		return '~';
	if (c > 0x10 && c < 0x20)
		return '=';
	return '#';
}

void gnarl_gb_view_row(const struct gnarl_game_state *s, const struct gnarl_gb_grid *g,
                       const struct gnarl_gb_slots *slots, long y, char *out)
{
	const unsigned char *row = s->ram + g->l.offset + (size_t)(y * g->stride);
	const unsigned char *tiles = s->ram + g->layout.offset + (size_t)(y * g->stride);

	for (long x = 0; x < g->width; x++) {
		out[x] = tile_char(row[x]);
		if (g->has_doors && (g->doors[tiles[x] / 8] >> (tiles[x] % 8)) & 1u)
			out[x] = 'D';
	}
	out[g->width] = '\0';
	for (long k = 0; slots->ok && k < slots->count; k++) {
		const unsigned char *e = gnarl_gb_view_slot(s, slots, k);

		if (e[0] && e[0x0B] >> 4 == y && e[0x0D] >> 4 < g->width)
			out[e[0x0D] >> 4] = 'E';
	}
	if (s->y >> 4 == y && s->x >= 0 && s->x >> 4 < g->width)
		out[s->x >> 4] = 'L';
}
