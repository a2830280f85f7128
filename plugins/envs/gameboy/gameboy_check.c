/*
 * gameboy_check.c - the RAM map checked on the running game: a wrong
 * address stops the run with the field, its address and what was seen,
 * instead of training on noise.
 *
 * Entry point: gnarl_gameboy_check_run (create time, on env 0's emulator,
 * from the start state; `self_check: quick` at every start, `full` for
 * `gnarl gb check`).
 *
 * What is checked:
 *   1. ranges at the start state: group 0-7, dungeon none or 0-15, room size
 *      from the game within the collision map, x and y inside the room,
 *      direction 0-3, 1 <= max_health <= 80, 0 <= health <= max_health,
 *      BCD fields hold decimal digits, season 0-3, sword level 0-4, keys
 *      0-99, and Link in control (no text box, no menu, screen still);
 *   2. each direction held for 32 frames from the start state moves Link
 *      that way or not at all (never back, little sideways: the game slides
 *      him round corners), sets `direction` to it, and each axis moves for
 *      one of its two directions (a probe where Link was hit proves
 *      nothing and is skipped);
 *   3. a walk (breadth-first over open tiles) to the nearest screen edge
 *      and through it changes the room, sets the transition flag on the
 *      way, and puts Link on the far side of the new room (full: every
 *      reachable edge);
 *   and throughout, health stays within 0..max_health.
 * A walk that gets stuck (an NPC in the way) is not evidence against the
 * map: it is logged and that part is skipped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "gameboy.h"

#define PROBE_FRAMES 32
#define SIDEWAYS_PX 12
#define MOVED_PX 4
#define EDGE_FRAMES 240
#define TILE_FRAMES 64
#define SETTLE_STEPS 64
#define SETTLE_FRAMES 16
#define MAX_PATH 64

static const char *const field_names[GB_F_COUNT] = {
	"group", "room", "dungeon", "x", "y", "direction", "health", "max_health",
	"rupees", "keys", "sword_level", "enemies_killed", "deaths", "text_active",
	"menu_open", "season", "treasures",
};

/* The four directions: keys, the game's direction code, a unit step. */
static const struct {
	const char *name;
	uint32_t key;
	int code, dx, dy;
} dirs[4] = {
	{"UP", GB_KEY_UP, GNARL_DIR_UP, 0, -1},
	{"RIGHT", GB_KEY_RIGHT, GNARL_DIR_RIGHT, 1, 0},
	{"DOWN", GB_KEY_DOWN, GNARL_DIR_DOWN, 0, 1},
	{"LEFT", GB_KEY_LEFT, GNARL_DIR_LEFT, -1, 0},
};

struct checker {
	const struct gb_check_spec *c;
	struct gb_emu *e;
	char *err;
	int rc;
	struct gnarl_game_state s;  /* the state after the last frame */
	int frames;                 /* run since the last load */
	bool hit;                   /* health fell since the last load */
};

/* "x ($D00D bank 1)" for field f. */
static void where(const struct gb_ram_map *m, int f, char *buf, size_t size)
{
	const struct gb_field_spec *spec = &m->field[f];
	unsigned off = spec->offset;

	if (off < 0x1000)
		snprintf(buf, size, "%s ($%04X)", field_names[f], 0xC000 + off);
	else
		snprintf(buf, size, "%s ($%04X bank %u)", field_names[f], 0xD000 + off % 0x1000,
		         off / 0x1000);
}

static int bad(struct checker *k, int f, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fail naming field f (-1: no field) and what was seen. */
static int bad(struct checker *k, int f, const char *fmt, ...)
{
	char what[GNARL_ERR_SIZE / 2], field[64] = "";
	va_list ap;

	if (k->rc)
		return k->rc;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (f >= 0)
		where(k->c->map, f, field, sizeof(field));
	snprintf(k->err, GNARL_ERR_SIZE, "self-check of params.ram_map failed: %s%s%s (gnarl gb "
	         "check -c CONFIG reports every field; self_check: off skips this)", field,
	         f >= 0 ? ": " : "", what);
	k->rc = GNARL_ECONFIG;
	return k->rc;
}

static const uint8_t *wram(const struct checker *k)
{
	return k->e->ops->wram(k->e);
}

static void decode(struct checker *k)
{
	gnarl_gameboy_ram_decode(k->c->map, wram(k), &k->s);
}

static void load_start(struct checker *k)
{
	k->e->ops->load_state(k->e, k->c->start);
	k->frames = 0;
	k->hit = false;
	decode(k);
}

/* Run n frames holding keys; health is checked after each. */
static int run(struct checker *k, uint32_t keys, int n)
{
	const struct gb_ram_map *m = k->c->map;

	k->e->ops->set_keys(k->e, keys);
	for (int f = 0; f < n && !k->rc; f++) {
		int32_t health = k->s.health;

		k->e->ops->run_frame(k->e, false);
		k->frames++;
		decode(k);
		k->hit |= k->s.health < health;
		if (m->field[GB_F_HEALTH].present && m->field[GB_F_MAX_HEALTH].present &&
		    (k->s.health < 0 || k->s.health > k->s.max_health))
			bad(k, GB_F_HEALTH, "%d with max_health %d, %d frames into a probe",
			    k->s.health, k->s.max_health, k->frames);
	}
	k->e->ops->set_keys(k->e, 0);
	return k->rc;
}

static bool in_control(const struct checker *k)
{
	return !gnarl_gameboy_ram_text_open(k->c->map, wram(k)) &&
	       !gnarl_gameboy_ram_in_transition(k->c->map, wram(k));
}

/* No button until the game listens again (at most SETTLE_STEPS steps). */
static int settle(struct checker *k)
{
	for (int w = 0; w < SETTLE_STEPS && !in_control(k) && !k->rc; w++)
		run(k, 0, k->c->step_frames);
	return k->rc;
}

static bool bcd_ok(const struct gb_field_spec *f, const uint8_t *w)
{
	for (int b = 0; f->present && f->bcd && b < f->width; b++)
		if ((w[f->offset + b] & 0x0F) > 9 || w[f->offset + b] >> 4 > 9)
			return false;
	return true;
}

static void range(struct checker *k, int f, int32_t v, int32_t lo, int32_t hi)
{
	if (k->c->map->field[f].present && (v < lo || v > hi))
		bad(k, f, "reads %d at the start state; it must be %d..%d", v, lo, hi);
}

/* 1. Every field in range at the start state. */
static int check_ranges(struct checker *k)
{
	const struct gb_ram_map *m = k->c->map;
	const struct gnarl_game_state *s = &k->s;
	const uint8_t *w = wram(k);
	int width, height;

	if (m->has_transition && gnarl_gameboy_ram_in_transition(m, w))
		return bad(k, -1, "transition ($%04X) reads $%02X, not idle ($%02X): the start "
		           "state is mid screen change, or the address is wrong (make a start "
		           "state where Link can walk)", 0xC000 + m->transition_offset,
		           w[m->transition_offset], m->transition_idle);
	range(k, GB_F_GROUP, s->group, 0, 7);
	range(k, GB_F_DUNGEON, s->dungeon, -1, 15);
	range(k, GB_F_DIRECTION, m->field[GB_F_DIRECTION].present ? w[m->field[GB_F_DIRECTION].offset]
	                                                         : 0, 0, 3);
	range(k, GB_F_MAX_HEALTH, s->max_health, 1, 80);
	range(k, GB_F_HEALTH, s->health, 0, s->max_health);
	range(k, GB_F_SEASON, s->season, 0, 3);
	range(k, GB_F_SWORD_LEVEL, s->sword_level, 0, 4);
	range(k, GB_F_KEYS, s->keys, 0, 99);
	range(k, GB_F_TEXT_ACTIVE, s->text_active, 0, 0);
	range(k, GB_F_MENU_OPEN, s->menu_open, 0, 0);
	for (int f = 0; f < GB_F_TREASURES && !k->rc; f++)
		if (!bcd_ok(&m->field[f], w))
			bad(k, f, "holds a byte that is not two decimal digits (encoding: bcd): not a "
			    "BCD counter");
	if (k->rc || !m->has_collisions)
		return k->rc;
	if (m->coll_sized) {
		int gw = w[m->coll_width_offset] * m->coll_unit / 16;
		int gh = w[m->coll_height_offset] * m->coll_unit / 16;

		if (gw < 1 || gw > m->coll_stride || gh < 1 || gh > m->coll_max_height)
			return bad(k, -1, "collisions.width_at/height_at ($%04X, $%04X) read $%02X, "
			           "$%02X: a room of %d x %d tiles, not within the map's %u x %u",
			           0xC000 + m->coll_width_offset, 0xC000 + m->coll_height_offset,
			           w[m->coll_width_offset], w[m->coll_height_offset], gw, gh,
			           m->coll_stride, m->coll_max_height);
	}
	gnarl_gameboy_ram_room_size(m, w, &width, &height);
	if (m->field[GB_F_X].present && (s->x < 0 || s->x >= width * 16))
		return bad(k, GB_F_X, "reads %d at the start state, outside the room's %d pixels",
		           s->x, width * 16);
	if (m->field[GB_F_Y].present && (s->y < 0 || s->y >= height * 16))
		return bad(k, GB_F_Y, "reads %d at the start state, outside the room's %d pixels",
		           s->y, height * 16);
	return 0;
}

/* Is the tile next to Link's in direction d open (free and in the room)?
 * Without a collision map every direction counts as open. */
static bool open_ahead(const struct checker *k, int d)
{
	const struct gb_ram_map *m = k->c->map;
	int width, height, tx, ty;

	if (!m->has_collisions)
		return true;
	gnarl_gameboy_ram_room_size(m, wram(k), &width, &height);
	tx = (k->s.x >> 4) + dirs[d].dx;
	ty = (k->s.y >> 4) + dirs[d].dy;
	return tx >= 0 && ty >= 0 && tx < width && ty < height &&
	       wram(k)[m->coll_offset + ty * m->coll_stride + tx] == 0;
}

/* 2. Each direction from the start state. */
static int check_directions(struct checker *k)
{
	const struct gb_ram_map *m = k->c->map;
	const struct gnarl_host *h = k->c->host;
	bool moved[2] = {false, false}, expected[2] = {false, false};
	int last[2] = {0, 0};

	if (!m->field[GB_F_X].present || !m->field[GB_F_Y].present)
		return 0;
	for (int d = 0; d < 4 && !k->rc; d++) {
		int x0, y0, room0, dx, dy, along, side, axis = dirs[d].dx ? 0 : 1;
		bool open;

		load_start(k);
		x0 = k->s.x;
		y0 = k->s.y;
		room0 = k->s.room;
		open = open_ahead(k, d);
		if (run(k, dirs[d].key, PROBE_FRAMES) || settle(k))
			return k->rc;
		if (m->field[GB_F_DIRECTION].present && k->s.direction != dirs[d].code)
			return bad(k, GB_F_DIRECTION, "reads %d after holding %s for %d frames; the "
			           "game's code for %s is %d", k->s.direction, dirs[d].name,
			           PROBE_FRAMES, dirs[d].name, dirs[d].code);
		if (k->s.room != room0 || k->hit)
			continue; /* through an edge, or knocked back: proves nothing here */
		dx = k->s.x - x0;
		dy = k->s.y - y0;
		along = axis == 0 ? dx * dirs[d].dx : dy * dirs[d].dy;
		side = axis == 0 ? dy : dx;
		if (along < 0)
			return bad(k, axis == 0 ? GB_F_X : GB_F_Y, "holding %s for %d frames from the "
			           "start state took it from %d to %d, the wrong way", dirs[d].name,
			           PROBE_FRAMES, axis == 0 ? x0 : y0,
			           axis == 0 ? k->s.x : k->s.y);
		if (side < -SIDEWAYS_PX || side > SIDEWAYS_PX)
			return bad(k, axis == 0 ? GB_F_Y : GB_F_X, "holding %s took it from %d to %d, "
			           "sideways to the way Link was sent", dirs[d].name,
			           axis == 0 ? y0 : x0, axis == 0 ? k->s.y : k->s.x);
		/* Only an open tile ahead makes standing still evidence. */
		expected[axis] |= open;
		moved[axis] |= along >= MOVED_PX;
		last[axis] = axis == 0 ? x0 : y0;
	}
	for (int axis = 0; axis < 2; axis++)
		if (expected[axis] && !moved[axis])
			return bad(k, axis == 0 ? GB_F_X : GB_F_Y, "stayed %d while %s and %s were held "
			           "from the start state with open tiles ahead: not Link's %s",
			           last[axis], axis == 0 ? "RIGHT" : "UP", axis == 0 ? "LEFT" : "DOWN",
			           axis == 0 ? "x" : "y");
	if (k->c->full)
		h->log(h, GNARL_LOG_INFO, "self-check: x, y and direction follow the joypad");
	return k->rc;
}

/* ------------------------------------------------------------------------ */
/* 3. Screen edges.                                                         */

struct grid {
	int w, h;
	const uint8_t *coll;        /* the map, stride m->coll_stride */
};

static bool open_tile(const struct checker *k, const struct grid *g, int x, int y)
{
	const struct gb_ram_map *m = k->c->map;
	size_t cell = (size_t)y * m->coll_stride + (size_t)x;

	return g->coll[cell] == 0 &&
	       !gnarl_gameboy_ram_door(m, k->s.group, wram(k)[m->doors.offset + cell]);
}

/* Breadth-first from Link's tile over open tiles to an edge tile from which
 * `dir` leaves the room (dir < 0: any).  Fills path (tiles, Link's first)
 * and *exit; returns the path's length, 0 when there is none. */
static int find_exit(const struct checker *k, int dir, int path[MAX_PATH][2], int *exit)
{
	const struct gb_ram_map *m = k->c->map;
	struct grid g = {.coll = wram(k) + m->coll_offset};
	int from[16 * 16], queue[16 * 16], head = 0, tail = 0, sx = k->s.x >> 4, sy = k->s.y >> 4;

	gnarl_gameboy_ram_room_size(m, wram(k), &g.w, &g.h);
	if (g.w > 16 || g.h > 16 || sx < 0 || sy < 0 || sx >= g.w || sy >= g.h)
		return 0;
	for (int i = 0; i < 16 * 16; i++)
		from[i] = -1;
	from[sy * 16 + sx] = sy * 16 + sx;
	queue[tail++] = sy * 16 + sx;
	while (head < tail) {
		int at = queue[head++], x = at % 16, y = at / 16;

		for (int d = 0; d < 4; d++) {
			int nx = x + dirs[d].dx, ny = y + dirs[d].dy;

			if ((dir < 0 || d == dir) && (nx < 0 || ny < 0 || nx >= g.w || ny >= g.h)) {
				int n = 0, rev[MAX_PATH];

				for (int t = at; n < MAX_PATH; t = from[t]) {
					rev[n++] = t;
					if (from[t] == t)
						break;
				}
				for (int i = 0; i < n; i++) {
					path[i][0] = rev[n - 1 - i] % 16;
					path[i][1] = rev[n - 1 - i] / 16;
				}
				*exit = d;
				return n;
			}
			if (nx < 0 || ny < 0 || nx >= g.w || ny >= g.h || from[ny * 16 + nx] >= 0 ||
			    !open_tile(k, &g, nx, ny))
				continue;
			from[ny * 16 + nx] = at;
			queue[tail++] = ny * 16 + nx;
		}
	}
	return 0;
}

/* Walk from tile path[i-1] into path[i] (Link's centre in it). */
static bool walk_tile(struct checker *k, int tx, int ty)
{
	for (int f = 0; f < TILE_FRAMES && !k->rc; f += 4) {
		int x = k->s.x >> 4, y = k->s.y >> 4;
		uint32_t key = tx > x ? GB_KEY_RIGHT : tx < x ? GB_KEY_LEFT
		             : ty > y ? GB_KEY_DOWN : ty < y ? GB_KEY_UP : 0;

		if (!key) {
			/* In the tile: on to its middle, so the next turn clears walls. */
			int mx = (k->s.x & 15) - 8, my = (k->s.y & 15) - 8;

			if (mx >= -3 && mx <= 3 && my >= -3 && my <= 3)
				return true;
			key = mx < -3 ? GB_KEY_RIGHT : mx > 3 ? GB_KEY_LEFT
			    : my < -3 ? GB_KEY_DOWN : GB_KEY_UP;
		}
		run(k, key, 4);
	}
	return false;
}

/* Walk out through edge `dir` (< 0: the nearest): false when there is no
 * way or Link got stuck (logged); else the room must change. */
static int check_edge(struct checker *k, int dir, bool *crossed)
{
	const struct gb_ram_map *m = k->c->map;
	const struct gnarl_host *h = k->c->host;
	int path[MAX_PATH][2], exit = 0, n, room0, group0, width, height;
	bool flagged = false;

	*crossed = false;
	load_start(k);
	room0 = k->s.room;
	group0 = k->s.group;
	gnarl_gameboy_ram_room_size(m, wram(k), &width, &height);
	if (!(n = find_exit(k, dir, path, &exit)))
		return 0;
	for (int i = 1; i < n; i++)
		if (!walk_tile(k, path[i][0], path[i][1])) {
			h->log(h, GNARL_LOG_WARN, "self-check: Link got stuck walking to the %s edge "
			       "(at pixel %d,%d, for tile %d,%d): that edge is not checked",
			       dirs[exit].name, k->s.x, k->s.y, path[i][0], path[i][1]);
			return k->rc;
		}
	for (int f = 0, still = 0, x = k->s.x, y = k->s.y; f < EDGE_FRAMES && !k->rc; f++) {
		run(k, dirs[exit].key, 1);
		flagged |= (k->s.flags & GNARL_STATE_TRANSITION) != 0;
		if (k->s.room != room0 || k->s.group != group0)
			break;
		/* The screen changed (a transition came and went, and the screen
		 * has been still since SETTLE_FRAMES: the game's warps blink between
		 * their stages, and clear Link's object on the way) and the room
		 * did not. */
		still = flagged && !(k->s.flags & GNARL_STATE_TRANSITION) ? still + 1 : 0;
		if (still >= SETTLE_FRAMES)
			return bad(k, GB_F_ROOM, "stayed $%02X while Link went out through the %s edge "
			           "(x %d, y %d -> x %d, y %d%s)", room0, dirs[exit].name, x, y, k->s.x,
			           k->s.y, flagged ? ", a screen transition" : "");
	}
	if (k->rc)
		return k->rc;
	if (k->s.room == room0 && k->s.group == group0) {
		h->log(h, GNARL_LOG_WARN, "self-check: walking out through the %s edge did not "
		       "change the room within %d frames (x %d, y %d; blocked?): not checked",
		       dirs[exit].name, EDGE_FRAMES, k->s.x, k->s.y);
		return 0;
	}
	if (settle(k))
		return k->rc;
	flagged |= (k->s.flags & GNARL_STATE_TRANSITION) != 0;
	if (m->has_transition && !flagged)
		return bad(k, -1, "transition ($%04X) stayed $%02X (idle) while the room changed from "
		           "$%02X to $%02X: not the game's screen-transition byte",
		           0xC000 + m->transition_offset, m->transition_idle, room0, k->s.room);
	gnarl_gameboy_ram_room_size(m, wram(k), &width, &height);
	/* Out through the right edge, in at the left of the next room, ... */
	if (k->s.group == group0 &&
	    ((exit == 1 && k->s.x > width * 8) || (exit == 3 && k->s.x < width * 8)))
		return bad(k, GB_F_X, "is %d after Link left room $%02X through its %s edge (room "
		           "$%02X is %d pixels wide): he should come in on the other side", k->s.x,
		           room0, dirs[exit].name, k->s.room, width * 16);
	if (k->s.group == group0 &&
	    ((exit == 2 && k->s.y > height * 8) || (exit == 0 && k->s.y < height * 8)))
		return bad(k, GB_F_Y, "is %d after Link left room $%02X through its %s edge (room "
		           "$%02X is %d pixels high): he should come in on the other side", k->s.y,
		           room0, dirs[exit].name, k->s.room, height * 16);
	*crossed = true;
	h->log(h, k->c->full ? GNARL_LOG_INFO : GNARL_LOG_DEBUG, "self-check: out through the %s "
	       "edge of room $%02X, in room $%02X at x %d, y %d after %d frames", dirs[exit].name,
	       room0, k->s.room, k->s.x, k->s.y, k->frames);
	return 0;
}

static int check_edges(struct checker *k)
{
	bool crossed = false, any = false;

	if (!k->c->map->has_collisions || !k->c->map->field[GB_F_ROOM].present)
		return 0;
	if (!k->c->full)
		return check_edge(k, -1, &crossed);
	for (int d = 0; d < 4 && !k->rc; d++) {
		check_edge(k, d, &crossed);
		any |= crossed;
	}
	if (!any && !k->rc)
		k->c->host->log(k->c->host, GNARL_LOG_WARN, "self-check: no screen edge could be "
		                "walked through from the start state: room changes not checked");
	return k->rc;
}

static void report(const struct checker *k)
{
	const struct gnarl_host *h = k->c->host;
	const struct gnarl_game_state *s = &k->s;
	char buf[64];
	int width = 0, height = 0;

	for (int f = 0; f < GB_F_COUNT; f++)
		if (k->c->map->field[f].present) {
			where(k->c->map, f, buf, sizeof(buf));
			h->log(h, GNARL_LOG_INFO, "self-check: %s mapped", buf);
		}
	if (k->c->map->has_collisions)
		gnarl_gameboy_ram_room_size(k->c->map, wram(k), &width, &height);
	h->log(h, GNARL_LOG_INFO, "self-check: start state: group %d, room $%02X, x %d, y %d, "
	       "health %d/%d, room %d x %d tiles", s->group, s->room, s->x, s->y, s->health,
	       s->max_health, width, height);
}

int gnarl_gameboy_check_run(const struct gb_check_spec *c, struct gb_emu *e,
                            char err[GNARL_ERR_SIZE])
{
	struct checker k = {.c = c, .e = e, .err = err};

	load_start(&k);
	if (c->full)
		report(&k);
	if (!check_ranges(&k) && !check_directions(&k))
		check_edges(&k);
	if (!k.rc)
		c->host->log(c->host, c->full ? GNARL_LOG_INFO : GNARL_LOG_DEBUG,
		             "self-check of the RAM map passed");
	return k.rc;
}
