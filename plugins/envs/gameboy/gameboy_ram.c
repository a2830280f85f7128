/*
 * gameboy_ram.c - the RAM map of the gameboy env: parsed from the config's
 * `ram_map` parameter, used every step to decode struct gnarl_game_state
 * from a 32 KiB work-RAM image and to build the observation.
 *
 * Entry points: gnarl_gameboy_ram_parse (create time: validation, messages
 * with the config line), gnarl_gameboy_ram_decode and gnarl_gameboy_ram_obs
 * (step path: no allocation, no failure; every offset was bounds-checked at
 * parse time so reads stay inside the image).
 *
 * A RAM-map entry, in YAML:
 *     health:  {address: 0xC6A2}                    # bank 0, 1 byte, binary
 *     x:       {address: 0xD00D, bank: 1}
 *     rupees:  {address: 0xC6A5, width: 2, encoding: bcd}
 *     dungeon: {address: 0xCC55, none: 0xFF}         # $FF decodes as -1
 *     keys:    {address: 0xC66E, index: dungeon, count: 16}  # keys[dungeon]
 *     treasures: {address: 0xC692, width: 16}        # a bitset, copied
 *     collisions: {address: 0xCE00, stride: 16, width: 10, height: 8}
 *     enemies: {address: 0xD080, bank: 1, stride: 0x100, count: 16}
 * Addresses are integers or "$CC49"/"0xCC49" strings.  Multi-byte values
 * are little-endian; BCD holds two decimal digits per byte.
 *
 * The observation (O = 28 + W*W + 4*K floats; W = collision_window,
 * K = enemy_slots):
 *   0  x / 256             1  y / 256
 *   2-5 direction one-hot (up, right, down, left)
 *   6  health / max_health 7  max_health / 80
 *   8  rupees / 999        9  keys / 10        10 sword_level / 4
 *   11 group / 8           12 room / 256       13 (dungeon + 1) / 16
 *   14 in a dungeon (dungeon >= 0)
 *   15 text box open       16 menu open
 *   17-20 season one-hot   21 enemies_visible / 16
 *   22 has the sword (treasure 0x05)  23 has the Gnarled Key (0x42)
 *   24 treasures obtained / 128
 *   25 (x mod 16) / 16     26 (y mod 16) / 16 (position within the tile)
 *   27 elapsed share of the episode's step limit
 *   28.. collision window: W x W tiles centred on Link's tile, row-major
 *        from the top-left; 1 = solid (non-zero collision byte) or outside
 *        the room, 0 = open
 *   then K nearest enabled enemies (by |dx| + |dy|, ties by slot), each
 *        present (1), dx / 160, dy / 128 (enemy minus Link), id / 255;
 *        zeros when fewer are present
 * Values are clamped to [0, 1] where a ratio could exceed it.
 */
#include "gameboy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const field_names[GB_F_COUNT] = {
	"group", "room", "dungeon", "x", "y", "direction", "health", "max_health",
	"rupees", "keys", "sword_level", "enemies_killed", "deaths", "text_active",
	"menu_open", "season", "treasures",
};

#define KNOWN_ENTRIES                                                          \
	"group, room, dungeon, x, y, direction, health, max_health, rupees, keys, " \
	"sword_level, enemies_killed, deaths, text_active, menu_open, season, "    \
	"treasures, collisions, enemies"

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */

static int fail(char err[GNARL_ERR_SIZE], const char *entry, const struct gnarl_value *v,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(char err[GNARL_ERR_SIZE], const char *entry, const struct gnarl_value *v,
                const char *fmt, ...)
{
	char msg[GNARL_ERR_SIZE / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (v && v->line > 0)
		snprintf(err, GNARL_ERR_SIZE, "params.ram_map%s%s (line %d, column %d): %s",
		         entry ? "." : "", entry ? entry : "", v->line, v->column, msg);
	else
		snprintf(err, GNARL_ERR_SIZE, "params.ram_map%s%s: %s", entry ? "." : "",
		         entry ? entry : "", msg);
	return GNARL_ECONFIG;
}

static int get_int(const char *entry, const struct gnarl_value *v, const char *key,
                   long lo, long hi, long *out, char err[GNARL_ERR_SIZE])
{
	if (v->type != GNARL_VALUE_INT)
		return fail(err, entry, v, "%s must be an integer", key);
	if (v->as.i < lo || v->as.i > hi)
		return fail(err, entry, v, "%s %lld is out of range (%ld..%ld)", key,
		            (long long)v->as.i, lo, hi);
	*out = (long)v->as.i;
	return 0;
}

static int get_address(const char *entry, const struct gnarl_value *v, long *out,
                       char err[GNARL_ERR_SIZE])
{
	long a;

	if (v->type == GNARL_VALUE_STRING) {
		const char *s = v->as.s;
		char *end;

		if (s[0] == '$')
			s++;
		else if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			s += 2;
		a = *s ? strtol(s, &end, 16) : -1;
		if (!*s || *end)
			return fail(err, entry, v, "address '%s' is not a number (write 0xCC49 "
			            "or \"$CC49\")", v->as.s);
	} else if (v->type == GNARL_VALUE_INT) {
		a = (long)v->as.i;
	} else {
		return fail(err, entry, v, "address must be a number such as 0xCC49");
	}
	if (a < 0xC000 || a > 0xDFFF)
		return fail(err, entry, v, "address 0x%lX is outside work RAM "
		            "(0xC000-0xDFFF)", a);
	*out = a;
	return 0;
}

/* The work-RAM image offset of [address, address + size) in bank. */
static int locate(const char *entry, const struct gnarl_value *node, long address,
                  const struct gnarl_value *bank_v, long size, uint16_t *offset,
                  char err[GNARL_ERR_SIZE])
{
	long bank = address >= 0xD000 ? 1 : 0, region_end = address >= 0xD000 ? 0xE000 : 0xD000;
	int rc;

	if (bank_v) {
		rc = get_int(entry, bank_v, "bank", 0, 7, &bank, err);
		if (rc)
			return rc;
		if (address < 0xD000 && bank != 0)
			return fail(err, entry, bank_v, "bank %ld: 0x%lX is in C000-CFFF, which "
			            "is always bank 0 (drop the bank)", bank, address);
		if (address >= 0xD000 && bank == 0)
			return fail(err, entry, bank_v, "bank 0: D000-DFFF shows banks 1-7 "
			            "(SVBK 0 selects bank 1: write bank: 1)");
	}
	if (address + size > region_end)
		return fail(err, entry, node, "0x%lX + %ld bytes runs past 0x%lX", address,
		            size, region_end - 1);
	*offset = (uint16_t)(address < 0xD000 ? address - 0xC000
	                                      : bank * 0x1000 + (address - 0xD000));
	return 0;
}

static int field_index(const char *name)
{
	for (int f = 0; f < GB_F_COUNT; f++)
		if (!strcmp(field_names[f], name))
			return f;
	return -1;
}

/* Every key of entry node must be one of `allowed` ("a|b|c"). */
static int check_keys(const char *entry, const struct gnarl_value *node,
                      const char *allowed, char err[GNARL_ERR_SIZE])
{
	for (size_t k = 0; k < node->count; k++) {
		const char *key = node->keys[k], *p = allowed;
		size_t n = strlen(key);
		bool ok = false;

		while (*p && !ok) {
			const char *bar = strchr(p, '|');
			size_t len = bar ? (size_t)(bar - p) : strlen(p);

			ok = len == n && !strncmp(p, key, n);
			p += len + (bar ? 1 : 0);
		}
		if (!ok) {
			char list[128];
			size_t j;

			snprintf(list, sizeof(list), "%s", allowed);
			for (j = 0; list[j]; j++)
				if (list[j] == '|')
					list[j] = '/';
			return fail(err, entry, &node->items[k], "unknown key '%s' (an entry "
			            "takes %s)", key, list);
		}
	}
	return 0;
}

static int parse_field(int f, const struct gnarl_value *node, struct gb_ram_map *m,
                       const struct gnarl_value *root, char err[GNARL_ERR_SIZE])
{
	const char *name = field_names[f];
	struct gb_field_spec *spec = &m->field[f];
	const struct gnarl_value *v;
	bool treasures = f == GB_F_TREASURES;
	long address, width = treasures ? 16 : 1, none = -1, count = 1;
	int rc;

	rc = check_keys(name, node, treasures ? "address|bank|width"
	                                      : "address|bank|width|encoding|none|index|count",
	                err);
	if (rc)
		return rc;
	v = gnarl_value_get(node, "address");
	if (!v)
		return fail(err, name, node, "address is missing (e.g. address: 0xCC49)");
	if ((rc = get_address(name, v, &address, err)))
		return rc;
	if ((v = gnarl_value_get(node, "width")) &&
	    (rc = get_int(name, v, "width", 1, treasures ? 16 : 2, &width, err)))
		return rc;
	spec->width = (uint8_t)width;
	spec->bcd = false;
	if ((v = gnarl_value_get(node, "encoding"))) {
		if (v->type != GNARL_VALUE_STRING ||
		    (strcmp(v->as.s, "binary") && strcmp(v->as.s, "bcd")))
			return fail(err, name, v, "encoding must be binary or bcd");
		spec->bcd = !strcmp(v->as.s, "bcd");
	}
	if ((v = gnarl_value_get(node, "none")) &&
	    (rc = get_int(name, v, "none", 0, width == 2 ? 0xFFFF : 0xFF, &none, err)))
		return rc;
	spec->none = (int32_t)none;
	spec->index = -1;
	if ((v = gnarl_value_get(node, "index"))) {
		int idx = v->type == GNARL_VALUE_STRING ? field_index(v->as.s) : -1;

		if (idx < 0 || idx >= f || idx == GB_F_TREASURES)
			return fail(err, name, v, "index must name a field decoded before %s "
			            "(such as dungeon)", name);
		if (!gnarl_value_get(root, field_names[idx]))
			return fail(err, name, v, "index: %s is not in the ram_map", v->as.s);
		if (m->field[idx].index >= 0)
			return fail(err, name, v, "index: %s is itself indexed", v->as.s);
		spec->index = idx;
		count = 16;
		if ((v = gnarl_value_get(node, "count")) &&
		    (rc = get_int(name, v, "count", 1, 255, &count, err)))
			return rc;
	} else if ((v = gnarl_value_get(node, "count"))) {
		return fail(err, name, v, "count only applies with index");
	}
	spec->count = (uint8_t)count;
	rc = locate(name, node, address, gnarl_value_get(node, "bank"),
	            width + (count - 1), &spec->offset, err);
	if (rc)
		return rc;
	spec->present = true;
	return 0;
}

static int parse_collisions(const struct gnarl_value *node, struct gb_ram_map *m,
                            char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *v;
	long address, stride = 16, width = 10, height = 8;
	int rc;

	if ((rc = check_keys("collisions", node, "address|bank|stride|width|height", err)))
		return rc;
	if (!(v = gnarl_value_get(node, "address")))
		return fail(err, "collisions", node, "address is missing (e.g. 0xCE00)");
	if ((rc = get_address("collisions", v, &address, err)))
		return rc;
	if ((v = gnarl_value_get(node, "stride")) &&
	    (rc = get_int("collisions", v, "stride", 1, 64, &stride, err)))
		return rc;
	if ((v = gnarl_value_get(node, "width")) &&
	    (rc = get_int("collisions", v, "width", 1, stride, &width, err)))
		return rc;
	if ((v = gnarl_value_get(node, "height")) &&
	    (rc = get_int("collisions", v, "height", 1, 64, &height, err)))
		return rc;
	rc = locate("collisions", node, address, gnarl_value_get(node, "bank"),
	            stride * (height - 1) + width, &m->coll_offset, err);
	if (rc)
		return rc;
	m->coll_stride = (uint8_t)stride;
	m->coll_width = (uint8_t)width;
	m->coll_height = (uint8_t)height;
	m->has_collisions = true;
	return 0;
}

static int parse_enemies(const struct gnarl_value *node, struct gb_ram_map *m,
                         char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *v;
	long address, stride = 0x100, count = 16;
	int rc;

	if ((rc = check_keys("enemies", node, "address|bank|stride|count", err)))
		return rc;
	if (!(v = gnarl_value_get(node, "address")))
		return fail(err, "enemies", node, "address is missing (e.g. 0xD080)");
	if ((rc = get_address("enemies", v, &address, err)))
		return rc;
	if ((v = gnarl_value_get(node, "stride")) &&
	    (rc = get_int("enemies", v, "stride", 0x0E, 0x1000, &stride, err)))
		return rc;
	if ((v = gnarl_value_get(node, "count")) &&
	    (rc = get_int("enemies", v, "count", 1, 16, &count, err)))
		return rc;
	/* A slot is read up to +0x0D (x). */
	rc = locate("enemies", node, address, gnarl_value_get(node, "bank"),
	            stride * (count - 1) + 0x0E, &m->enemy_offset, err);
	if (rc)
		return rc;
	m->enemy_stride = (uint16_t)stride;
	m->enemy_count = (uint8_t)count;
	m->has_enemies = true;
	return 0;
}

int gnarl_gameboy_ram_parse(const struct gnarl_value *map, struct gb_ram_map *out,
                            char err[GNARL_ERR_SIZE])
{
	int rc;

	memset(out, 0, sizeof(*out));
	for (int f = 0; f < GB_F_COUNT; f++)
		out->field[f].index = -1;
	if (!map || map->type != GNARL_VALUE_MAP)
		return fail(err, NULL, map, "must be a map of field: {address: ...} entries");
	for (size_t k = 0; k < map->count; k++)
		if (field_index(map->keys[k]) < 0 && strcmp(map->keys[k], "collisions") &&
		    strcmp(map->keys[k], "enemies"))
			return fail(err, map->keys[k], &map->items[k], "unknown field (known: "
			            KNOWN_ENTRIES ")");
	for (size_t k = 0; k < map->count; k++)
		if (map->items[k].type != GNARL_VALUE_MAP)
			return fail(err, map->keys[k], &map->items[k], "must be a map such as "
			            "{address: 0xCC49}");
	/* Decode order, so an index can be checked against its target. */
	for (int f = 0; f < GB_F_COUNT; f++) {
		const struct gnarl_value *node = gnarl_value_get(map, field_names[f]);

		if (node && (rc = parse_field(f, node, out, map, err)))
			return rc;
	}
	if (gnarl_value_get(map, "collisions") &&
	    (rc = parse_collisions(gnarl_value_get(map, "collisions"), out, err)))
		return rc;
	if (gnarl_value_get(map, "enemies") &&
	    (rc = parse_enemies(gnarl_value_get(map, "enemies"), out, err)))
		return rc;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */

static int32_t read_field(const struct gb_field_spec *f, const uint8_t *wram,
                          const int32_t *vals)
{
	uint32_t off = f->offset, raw = 0;
	int32_t v = 0;

	if (!f->present)
		return 0;
	if (f->index >= 0) {
		int32_t i = vals[f->index];

		if (i < 0 || i >= f->count)
			return 0;
		off += (uint32_t)i;
	}
	for (int b = f->width - 1; b >= 0; b--)
		raw = raw << 8 | wram[off + (uint32_t)b];
	if (f->none >= 0 && raw == (uint32_t)f->none)
		return -1;
	if (!f->bcd)
		return (int32_t)raw;
	for (int b = f->width - 1; b >= 0; b--) {
		uint8_t byte = wram[off + (uint32_t)b];

		v = v * 100 + (byte >> 4) * 10 + (byte & 0x0F);
	}
	return v;
}

void gnarl_gameboy_ram_decode(const struct gb_ram_map *m, const uint8_t *wram,
                              struct gnarl_game_state *s)
{
	int32_t vals[GB_F_COUNT];
	int32_t enemies = 0;

	for (int f = 0; f < GB_F_TREASURES; f++)
		vals[f] = read_field(&m->field[f], wram, vals);
	if (!m->field[GB_F_DUNGEON].present)
		vals[GB_F_DUNGEON] = -1;
	memset(s->treasures, 0, sizeof(s->treasures));
	if (m->field[GB_F_TREASURES].present)
		memcpy(s->treasures, wram + m->field[GB_F_TREASURES].offset,
		       m->field[GB_F_TREASURES].width);
	for (uint32_t i = 0; m->has_enemies && i < m->enemy_count; i++)
		enemies += wram[m->enemy_offset + i * m->enemy_stride] != 0;

	s->size = GNARL_GAME_STATE_V1_SIZE;
	s->flags = 0;
	s->group = vals[GB_F_GROUP];
	s->room = vals[GB_F_ROOM];
	s->dungeon = vals[GB_F_DUNGEON];
	s->x = vals[GB_F_X];
	s->y = vals[GB_F_Y];
	s->direction = vals[GB_F_DIRECTION] & 3;
	s->health = vals[GB_F_HEALTH];
	s->max_health = vals[GB_F_MAX_HEALTH];
	s->rupees = vals[GB_F_RUPEES];
	s->keys = vals[GB_F_KEYS];
	s->sword_level = vals[GB_F_SWORD_LEVEL];
	s->enemies_killed = vals[GB_F_ENEMIES_KILLED];
	s->deaths = vals[GB_F_DEATHS];
	s->enemies_visible = enemies;
	s->text_active = vals[GB_F_TEXT_ACTIVE] != 0;
	s->menu_open = vals[GB_F_MENU_OPEN] != 0;
	s->season = (uint8_t)vals[GB_F_SEASON];
	s->pad0 = 0;
}

/* ------------------------------------------------------------------------ */
/* Observation                                                              */

uint32_t gnarl_gameboy_ram_obs_dim(const struct gb_obs_shape *shape)
{
	return GB_OBS_FIXED + shape->window * shape->window +
	       GB_OBS_PER_ENEMY * shape->enemy_slots;
}

static float unit(double v)
{
	return v < 0 ? 0.0f : v > 1 ? 1.0f : (float)v;
}

static void obs_fields(const struct gnarl_game_state *s, float time_frac, float *o)
{
	int treasures = 0;

	for (int i = 0; i < 16; i++)
		treasures += __builtin_popcount(s->treasures[i]);
	memset(o, 0, GB_OBS_FIXED * sizeof(*o));
	o[0] = unit(s->x / 256.0);
	o[1] = unit(s->y / 256.0);
	o[2 + (s->direction & 3)] = 1.0f;
	o[6] = s->max_health > 0 ? unit((double)s->health / s->max_health) : 0.0f;
	o[7] = unit(s->max_health / 80.0);
	o[8] = unit(s->rupees / 999.0);
	o[9] = unit(s->keys / 10.0);
	o[10] = unit(s->sword_level / 4.0);
	o[11] = unit(s->group / 8.0);
	o[12] = unit(s->room / 256.0);
	o[13] = s->dungeon >= 0 ? unit((s->dungeon + 1) / 16.0) : 0.0f;
	o[14] = s->dungeon >= 0 ? 1.0f : 0.0f;
	o[15] = s->text_active ? 1.0f : 0.0f;
	o[16] = s->menu_open ? 1.0f : 0.0f;
	o[17 + (s->season & 3)] = 1.0f;
	o[21] = unit(s->enemies_visible / 16.0);
	o[22] = gnarl_has_treasure(s, GNARL_TREASURE_SWORD) ? 1.0f : 0.0f;
	o[23] = gnarl_has_treasure(s, GNARL_TREASURE_GNARLED_KEY) ? 1.0f : 0.0f;
	o[24] = treasures / 128.0f;
	o[25] = (float)(s->x & 15) / 16.0f;
	o[26] = (float)(s->y & 15) / 16.0f;
	o[27] = unit(time_frac);
}

static void obs_window(const struct gb_ram_map *m, uint32_t w, const uint8_t *wram,
                       const struct gnarl_game_state *s, float *o)
{
	int r = (int)w / 2, tx = s->x >> 4, ty = s->y >> 4;

	if (!m->has_collisions) {
		memset(o, 0, (size_t)w * w * sizeof(*o));
		return;
	}
	for (int dy = 0; dy < (int)w; dy++)
		for (int dx = 0; dx < (int)w; dx++) {
			int cx = tx + dx - r, cy = ty + dy - r;
			bool solid = cx < 0 || cy < 0 || cx >= m->coll_width || cy >= m->coll_height ||
			             wram[m->coll_offset + cy * m->coll_stride + cx] != 0;

			o[dy * (int)w + dx] = solid ? 1.0f : 0.0f;
		}
}

static void obs_enemies(const struct gb_ram_map *m, uint32_t k_max, const uint8_t *wram,
                        const struct gnarl_game_state *s, float *o)
{
	int slot[16], dist[16], n = 0;

	memset(o, 0, (size_t)k_max * GB_OBS_PER_ENEMY * sizeof(*o));
	for (int i = 0; m->has_enemies && i < m->enemy_count; i++) {
		const uint8_t *e = wram + m->enemy_offset + i * m->enemy_stride;
		int d, j;

		if (!e[0x00])
			continue;
		d = abs(e[0x0D] - s->x) + abs(e[0x0B] - s->y);
		for (j = n; j > 0 && dist[j - 1] > d; j--) {
			slot[j] = slot[j - 1];
			dist[j] = dist[j - 1];
		}
		slot[j] = i;
		dist[j] = d;
		n++;
	}
	for (int j = 0; j < n && j < (int)k_max; j++) {
		const uint8_t *e = wram + m->enemy_offset + slot[j] * m->enemy_stride;
		float *q = o + j * GB_OBS_PER_ENEMY;

		q[0] = 1.0f;
		q[1] = (float)(e[0x0D] - s->x) / 160.0f;
		q[2] = (float)(e[0x0B] - s->y) / 128.0f;
		q[3] = e[0x01] / 255.0f;
	}
}

void gnarl_gameboy_ram_obs(const struct gb_ram_map *m, const struct gb_obs_shape *shape,
                           const uint8_t *wram, const struct gnarl_game_state *s,
                           float time_frac, float *obs)
{
	obs_fields(s, time_frac, obs);
	obs_window(m, shape->window, wram, s, obs + GB_OBS_FIXED);
	obs_enemies(m, shape->enemy_slots, wram, s,
	            obs + GB_OBS_FIXED + shape->window * shape->window);
}
