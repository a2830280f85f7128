/*
 * game.c - the gnarl test cartridge: a tiny Zelda-like for the Game Boy
 * (Color), built with `sdcc -msm83 --no-peep` (see CMakeLists.txt).
 *
 * It stands in for Oracle of Seasons in tests, so its work RAM keeps the
 * real game's addresses for every field of the RAM map (group $CC49, room
 * $CC4C, dungeon $CC55, season $CC4E, Link's object in WRAM bank 1 at $D000,
 * health $C6A2, rupees $C6A5 in BCD, deaths $C61E in BCD, kills $C620,
 * treasures $C692, collisions $CE00, ...), and the same reward plugins and
 * RAM-map config run on both.
 *
 * The game: a title screen waits for START.  Link (16x16 sprite) walks 1
 * pixel per frame with the D-pad through a 3x3 overworld (group 0, rooms
 * $00-$22, room = row * 16 + column) whose screens change at openings in the
 * edges.  A cave door in room $01 leads into a three-room dungeon (group 4,
 * rooms $05, $04 and the large room $06, dungeon index 0).  Rooms (world.h)
 * have typed collisions as the real game's: quarter-tile masks, water that
 * hurts, bridges.  Rooms marked 'E' hold an enemy (object slot $D080) that
 * walks towards Link; touching it costs half a heart, B swings the sword in
 * Link's direction and kills it (kill counter +1, rupees +1).  At 0 health
 * the death counter rises and Link starts again in room $11 with full
 * health.  The sword (treasure $05) lies in room $10 and a small key in
 * room $04.  START opens and closes a menu ($CBCB); picking up the sword
 * opens a "text box" ($CBA0) that A closes.
 *
 * Like the real game: a screen transition ($CD00 wScrollMode 8 while the
 * screen scrolls, 2 through a door, 1 when still) changes the room first
 * and Link's x/y only TRANSITION_FRAMES later (x runs on past the edge in
 * between); the room's size is at $CD0A/$CD0B (8-pixel units) and
 * $CC4A says "large"; a large room scrolls with Link.
 *
 * Invariants: the main loop does one game frame per VBlank (HALT in
 * between); VRAM is written only in VBlank or with the LCD off; WRAM bank 1
 * stays selected.
 */
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Hardware registers.                                                */

#define REG(a) (*(volatile uint8_t *)(a))
#define P1 REG(0xFF00)
#define DIV REG(0xFF04)
#define TIMA REG(0xFF05)
#define TAC REG(0xFF07)
#define LCDC REG(0xFF40)
#define SCY REG(0xFF42)
#define SCX REG(0xFF43)
#define LY REG(0xFF44)
#define BGP REG(0xFF47)
#define OBP0 REG(0xFF48)
#define OBP1 REG(0xFF49)
#define VBK REG(0xFF4F)
#define BCPS REG(0xFF68)
#define BCPD REG(0xFF69)
#define OCPS REG(0xFF6A)
#define OCPD REG(0xFF6B)
#define IF_REG REG(0xFF0F)
#define IE_REG REG(0xFFFF)

#define LCDC_ON 0x93     /* LCD on, tiles at $8000, map $9800, OBJ 8x8 */
#define TAC_4096HZ 0x04  /* timer on, TIMA +1 every 1024 cycles */
#define VRAM_TILES ((volatile uint8_t *)0x8000)
#define VRAM_MAP ((volatile uint8_t *)0x9800)
#define SHADOW_OAM ((volatile uint8_t *)0xC000) /* copied to OAM by DMA */

#define PAD_A 0x01
#define PAD_B 0x02
#define PAD_START 0x08
#define PAD_RIGHT 0x10
#define PAD_LEFT 0x20
#define PAD_UP 0x40
#define PAD_DOWN 0x80

/* ------------------------------------------------------------------ */
/* The real game's work RAM.                                          */

#define W_DEATHS 0xC61E      /* 2 bytes BCD, little-endian */
#define W_KILLS 0xC620       /* 2 bytes binary */
#define W_KEYS 0xC66E        /* one byte per dungeon */
#define W_TREASURES 0xC692   /* 16-byte bitset */
#define W_HEALTH 0xC6A2      /* quarter hearts */
#define W_MAX_HEALTH 0xC6A3
#define W_RUPEES 0xC6A5      /* 2 bytes BCD, little-endian */
#define W_SWORD 0xC6AC
#define W_TEXT 0xCBA0
#define W_MENU 0xCBCB
#define W_GROUP 0xCC49
#define W_ROOM 0xCC4C
#define W_SEASON 0xCC4E
#define W_DUNGEON 0xCC55
#define W_LARGE 0xCC4A       /* wRoomIsLarge */
#define W_SCROLL 0xCD00      /* wScrollMode: 1 still, 8 scrolling, 2 door */
#define W_ROOM_W 0xCD0A      /* wRoomWidth, 8-pixel units */
#define W_ROOM_H 0xCD0B      /* wRoomHeight */
#define W_COLLISIONS 0xCE00  /* 16 bytes per row */
#define W_LAYOUT 0xCF00
#define W_LINK 0xD000        /* bank 1 */
#define W_ENEMY 0xD080       /* bank 1: the first enemy slot */

/* Object fields, as in the real game's object struct. */
#define O_ENABLED 0x00
#define O_ID 0x01
#define O_DIR 0x08
#define O_Y 0x0B
#define O_X 0x0D

#define RAM8(a) (*(volatile uint8_t *)(a))

#define DIR_UP 0
#define DIR_RIGHT 1
#define DIR_DOWN 2
#define DIR_LEFT 3

#define TREASURE_SWORD 0x05
#define ENEMY_ID 0x09
#define START_ROOM 0x11
#define DUNGEON_GROUP 4
#define DUNGEON_ENTRY_ROOM 0x05
#define TRANSITION_FRAMES 24
#define DOOR_FRAMES 16

/* Layout codes kept in $CF00 (what the map strings spell, world.h). */
#define L_FLOOR 0
#define L_WALL 1
#define L_DOOR 2
#define L_SWORD 3
#define L_KEY 4
#define L_WATER 5
#define L_BRIDGE 6
#define L_WALL_TOP 7   /* wall in the top half of the metatile */
#define L_WALL_BOT 8   /* wall in the bottom half */

#include "gfx.h"
#include "world.h"

/* ------------------------------------------------------------------ */
/* The cartridge's own state (C globals at $C100, zeroed by crt0).    */

uint8_t boot_a;                /* A at power-on: 0x11 on a Game Boy Color */
static uint8_t cgb;
static uint8_t pad, pad_prev;
static uint8_t invuln, swing, cooldown, text_timer, enemy_tick;
static uint8_t room_dirty, hud_dirty, hud_pending;
static uint8_t hud_tiles[20];  /* the HUD's top row, drawn in VBlank */
static uint8_t key_taken;
static uint8_t frame;
static uint8_t room_w, room_h;       /* metatiles */
static uint8_t cam_x, cam_y;         /* scroll of a large room */
static uint8_t trans_timer;          /* a transition is running */
static int8_t trans_dx, trans_dy;    /* Link's drift past the edge meanwhile */
static uint8_t trans_x, trans_y;     /* where he appears when it ends */
static uint8_t entry_x, entry_y;     /* where he came into this room */

void wait_vblank(void);        /* crt0.s */
void oam_dma(void);            /* crt0.s: SHADOW_OAM -> OAM, in VBlank */

/* ------------------------------------------------------------------ */
/* Small helpers.                                                     */

static uint8_t read_pad(void)
{
	uint8_t d, b;
	P1 = 0x20;                 /* select the D-pad */
	d = P1;
	d = P1;
	P1 = 0x10;                 /* select the buttons */
	b = P1;
	b = P1;
	P1 = 0x30;
	return (uint8_t)~(((d & 0x0F) << 4) | (b & 0x0F));
}

/* Add 1 to the little-endian 2-byte BCD number at addr (caps at 9999). */
static void bcd_inc(uint16_t addr)
{
	uint8_t lo = RAM8(addr), hi = RAM8(addr + 1);
	if (lo == 0x99 && hi == 0x99)
		return;
	lo++;
	if ((lo & 0x0F) == 0x0A)
		lo += 6;
	if (lo == 0xA0) {
		lo = 0;
		hi++;
		if ((hi & 0x0F) == 0x0A)
			hi += 6;
	}
	RAM8(addr) = lo;
	RAM8(addr + 1) = hi;
}

static int16_t absdiff(int16_t a, int16_t b)
{
	return a > b ? a - b : b - a;
}

/* Is the room pixel (px, py) in a wall?  Collision bytes as the real game
 * has them: below $10 a mask of the metatile's quarters (bit 0
 * bottom-right, 1 bottom-left, 2 top-right, 3 top-left), $10 water and
 * $11-$1F bridges walkable.  Outside the room is open: that is where Link
 * walks through an edge opening into the next screen. */
static uint8_t solid(int16_t px, int16_t py)
{
	uint8_t c, bit;
	if (px < 0 || px >= (int16_t)(room_w << 4) || py < 0 || py >= (int16_t)(room_h << 4))
		return 0;
	c = RAM8(W_COLLISIONS + ((py >> 4) << 4) + (px >> 4));
	if (c >= 0x20)
		return 1;
	if (c >= 0x10)
		return 0;
	bit = (uint8_t)(((py & 8) ? 0 : 2) + ((px & 8) ? 0 : 1));
	return (c >> bit) & 1;
}

/* An 8x8 box centred on (x, y), as Link and the enemy use against walls. */
static uint8_t blocked(int16_t x, int16_t y)
{
	return solid(x - 4, y - 4) || solid(x + 3, y - 4) ||
	       solid(x - 4, y + 3) || solid(x + 3, y + 3);
}

static uint8_t layout_at(int16_t x, int16_t y)
{
	if (x < 0 || x >= (int16_t)(room_w << 4) || y < 0 || y >= (int16_t)(room_h << 4))
		return L_FLOOR;
	return RAM8(W_LAYOUT + ((y >> 4) << 4) + (x >> 4));
}

#include "video.h"

/* ------------------------------------------------------------------ */
/* Rooms.                                                             */

static const struct room_def *find_room(uint8_t group, uint8_t room)
{
	uint8_t i;
	for (i = 0; i < N_ROOMS; i++)
		if (rooms[i].group == group && rooms[i].room == room)
			return &rooms[i];
	return 0;
}

/* Fill collisions ($CE00) and layout ($CF00) from the room's map, set the
 * room's size, spawn its enemy, and ask for a redraw.  Rows are 16 bytes
 * apart, as in the real game; what a room does not cover stays 0. */
static void load_room(const struct room_def *def)
{
	const char *m = def->map;
	uint8_t r, c, code, coll;
	uint16_t i;
	for (i = 0; i < 0xC0; i++) {
		RAM8(W_COLLISIONS + i) = 0;
		RAM8(W_LAYOUT + i) = 0;
	}
	RAM8(W_ENEMY + O_ENABLED) = 0;
	room_w = def->width;
	room_h = def->height;
	for (r = 0; r < room_h; r++)
		for (c = 0; c < room_w; c++) {
			char ch = *m++;
			code = L_FLOOR;
			coll = 0;
			if (ch == '#') {
				code = L_WALL;
				coll = 0x0F;
			} else if (ch == '^' || ch == 'D') {
				code = ch == '^' ? L_WALL_TOP : L_DOOR;
				coll = 0x0C;
			} else if (ch == '_' || ch == 'd') {
				code = ch == '_' ? L_WALL_BOT : L_DOOR;
				coll = 0x03;
			} else if (ch == '~') {
				code = L_WATER;
				coll = 0x10;
			} else if (ch == '=') {
				code = L_BRIDGE;
				coll = 0x19;
			} else if (ch == 'S' && !(RAM8(W_TREASURES) & (1 << TREASURE_SWORD))) {
				code = L_SWORD;
			} else if (ch == 'K' && !key_taken) {
				code = L_KEY;
			} else if (ch == 'E') {
				RAM8(W_ENEMY + O_ENABLED) = 1;
				RAM8(W_ENEMY + O_ID) = ENEMY_ID;
				RAM8(W_ENEMY + O_DIR) = DIR_DOWN;
				RAM8(W_ENEMY + O_Y) = (uint8_t)((r << 4) + 8);
				RAM8(W_ENEMY + O_X) = (uint8_t)((c << 4) + 8);
			}
			RAM8(W_LAYOUT + (r << 4) + c) = code;
			RAM8(W_COLLISIONS + (r << 4) + c) = coll;
		}
	RAM8(W_GROUP) = def->group;
	RAM8(W_ROOM) = def->room;
	RAM8(W_LARGE) = room_w > 10;
	RAM8(W_ROOM_W) = (uint8_t)(room_w << 1);
	RAM8(W_ROOM_H) = (uint8_t)(room_h << 1);
	if (def->group == DUNGEON_GROUP) {
		RAM8(W_DUNGEON) = 0;
	} else {
		RAM8(W_DUNGEON) = 0xFF;
		RAM8(W_SEASON) = def->room & 0x0F;   /* one season per column */
	}
	swing = 0;
	cam_x = 0;
	cam_y = 0;
	room_dirty = 1;
	hud_dirty = 1;
}

static void place_link(int16_t x, int16_t y, uint8_t dir)
{
	RAM8(W_LINK + O_X) = (uint8_t)x;
	RAM8(W_LINK + O_Y) = (uint8_t)y;
	RAM8(W_LINK + O_DIR) = dir;
	entry_x = (uint8_t)x;
	entry_y = (uint8_t)y;
}

/* Start a transition into room def: the room (and its map) changes now,
 * Link appears at (x, y) after `frames` frames, drifting (dx, dy) a frame
 * meanwhile, as the real game's x runs on past the edge. */
static void start_transition(const struct room_def *def, int16_t x, int16_t y, int8_t dx,
                             int8_t dy, uint8_t frames, uint8_t mode)
{
	/* First: loading the room takes longer than a frame, and the screen
	 * is changing from its first byte. */
	RAM8(W_SCROLL) = mode;
	load_room(def);
	trans_x = (uint8_t)x;
	trans_y = (uint8_t)y;
	trans_dx = dx;
	trans_dy = dy;
	trans_timer = frames;
}

/* One frame of a running transition; at its end Link is in the room. */
static void run_transition(void)
{
	RAM8(W_LINK + O_X) = (uint8_t)(RAM8(W_LINK + O_X) + trans_dx);
	RAM8(W_LINK + O_Y) = (uint8_t)(RAM8(W_LINK + O_Y) + trans_dy);
	if (--trans_timer)
		return;
	place_link(trans_x, trans_y, RAM8(W_LINK + O_DIR));
	RAM8(W_SCROLL) = 1;
}

/* Scroll to room r of the current group if it exists; else stay put. */
static uint8_t go_room(uint8_t r, int16_t x, int16_t y, int8_t dx, int8_t dy)
{
	const struct room_def *def = find_room(RAM8(W_GROUP), r);
	if (!def)
		return 0;
	start_transition(def, x, y, dx, dy, TRANSITION_FRAMES, 8);
	return 1;
}

static void start_life(void)
{
	RAM8(W_SCROLL) = 2;        /* a fade: the room loads over frames */
	RAM8(W_HEALTH) = RAM8(W_MAX_HEALTH);
	load_room(find_room(0, START_ROOM));
	place_link(80, 64, DIR_DOWN);
	invuln = 0;
	trans_timer = 0;
	RAM8(W_SCROLL) = 1;
	hud_dirty = 1;
}

static void new_game(void)
{
	uint8_t i;
	for (i = 0; i < 16; i++)
		RAM8(W_TREASURES + i) = 0;
	RAM8(W_DEATHS) = 0;
	RAM8(W_DEATHS + 1) = 0;
	RAM8(W_KILLS) = 0;
	RAM8(W_KILLS + 1) = 0;
	RAM8(W_KEYS) = 0;
	RAM8(W_SWORD) = 0;
	RAM8(W_MAX_HEALTH) = 12;
	RAM8(W_RUPEES) = 0x99;     /* 99: the first kill carries into 100 */
	RAM8(W_RUPEES + 1) = 0x00;
	RAM8(W_TEXT) = 0;
	RAM8(W_MENU) = 0;
	RAM8(W_LINK + O_ENABLED) = 1;
	RAM8(W_LINK + O_ID) = 0;
	start_life();
}

/* ------------------------------------------------------------------ */
/* Game logic, once per frame.                                        */

static void move_link(void)
{
	int16_t x = RAM8(W_LINK + O_X), y = RAM8(W_LINK + O_Y);
	int16_t dx = 0, dy = 0;
	uint8_t dir;
	if (pad & PAD_UP) {
		dy = -1;
		dir = DIR_UP;
	} else if (pad & PAD_DOWN) {
		dy = 1;
		dir = DIR_DOWN;
	} else if (pad & PAD_LEFT) {
		dx = -1;
		dir = DIR_LEFT;
	} else if (pad & PAD_RIGHT) {
		dx = 1;
		dir = DIR_RIGHT;
	} else {
		return;
	}
	RAM8(W_LINK + O_DIR) = dir;
	if (blocked(x + dx, y + dy))
		return;
	x += dx;
	y += dy;
	/* The next room's side, 4 pixels in, after a scroll. */
	if (y < 4 && go_room((uint8_t)(RAM8(W_ROOM) - 16), x, 123, 0, -1))
		return;
	if (y > (int16_t)(room_h << 4) - 4 &&
	    go_room((uint8_t)(RAM8(W_ROOM) + 16), x, 4, 0, 1))
		return;
	if (x < 4 && go_room((uint8_t)(RAM8(W_ROOM) - 1), 155, y, -1, 0))
		return;
	if (x > (int16_t)(room_w << 4) - 4 && go_room((uint8_t)(RAM8(W_ROOM) + 1), 4, y, 1, 0))
		return;
	if (x < 0 || x >= (int16_t)(room_w << 4) || y < 0 || y >= (int16_t)(room_h << 4))
		return;                /* an opening with no room behind it */
	RAM8(W_LINK + O_X) = (uint8_t)x;
	RAM8(W_LINK + O_Y) = (uint8_t)y;
}

/* Water under Link's centre: half a heart, and back where he came in. */
static uint8_t hurt(uint8_t amount);

/* Doors and items under Link's centre. */
static void tile_events(void)
{
	int16_t x = RAM8(W_LINK + O_X), y = RAM8(W_LINK + O_Y);
	uint16_t cell = W_LAYOUT + ((y >> 4) << 4) + (x >> 4);
	uint8_t code = layout_at(x, y);
	if (code == L_DOOR) {
		/* Group and room change now, Link's x/y after the fade. */
		if (RAM8(W_GROUP) == DUNGEON_GROUP)
			start_transition(find_room(0, 0x01), 64, 56, 0, 0, DOOR_FRAMES, 2);
		else
			start_transition(find_room(DUNGEON_GROUP, DUNGEON_ENTRY_ROOM), 80, 104, 0, 0,
			                 DOOR_FRAMES, 2);
	} else if (code == L_WATER) {
		if (!hurt(2))
			place_link(entry_x, entry_y, RAM8(W_LINK + O_DIR));
	} else if (code == L_SWORD) {
		RAM8(W_TREASURES) |= 1 << TREASURE_SWORD;
		RAM8(W_SWORD) = 1;
		RAM8(W_TEXT) = 1;      /* open until A, after a moment */
		text_timer = 16;
		RAM8(cell) = L_FLOOR;
		room_dirty = 1;
	} else if (code == L_KEY) {
		RAM8(W_KEYS) = (uint8_t)(RAM8(W_KEYS) + 1);
		key_taken = 1;
		RAM8(cell) = L_FLOOR;
		room_dirty = 1;
	}
}

/* Can a box at (x, y) stand there, 8 pixels clear of the room's edges? */
static uint8_t inside(int16_t x, int16_t y)
{
	return !blocked(x, y) && x >= 8 && x <= (int16_t)(room_w << 4) - 8 && y >= 8 &&
	       y <= (int16_t)(room_h << 4) - 8;
}

static void update_enemy(void)
{
	int16_t ex, ey, dx, dy, nx, ny;
	if (!RAM8(W_ENEMY + O_ENABLED))
		return;
	if (++enemy_tick & 1)
		return;                /* half Link's speed */
	ex = RAM8(W_ENEMY + O_X);
	ey = RAM8(W_ENEMY + O_Y);
	dx = (int16_t)RAM8(W_LINK + O_X) - ex;
	dy = (int16_t)RAM8(W_LINK + O_Y) - ey;
	nx = ex;
	ny = ey;
	if (absdiff(dx, 0) >= absdiff(dy, 0))
		nx += dx > 0 ? 1 : (dx < 0 ? -1 : 0);
	else
		ny += dy > 0 ? 1 : -1;
	if (!inside(nx, ny)) {
		nx = ex;               /* try the other axis */
		ny = ey;
		if (absdiff(dx, 0) >= absdiff(dy, 0))
			ny += dy > 0 ? 1 : (dy < 0 ? -1 : 0);
		else
			nx += dx > 0 ? 1 : (dx < 0 ? -1 : 0);
		if (!inside(nx, ny))
			return;
	}
	RAM8(W_ENEMY + O_X) = (uint8_t)nx;
	RAM8(W_ENEMY + O_Y) = (uint8_t)ny;
}

static void sword_hit(void)
{
	int16_t hx = RAM8(W_LINK + O_X), hy = RAM8(W_LINK + O_Y);
	uint8_t d = RAM8(W_LINK + O_DIR);
	if (!RAM8(W_ENEMY + O_ENABLED))
		return;
	if (d == DIR_UP)
		hy -= 12;
	else if (d == DIR_DOWN)
		hy += 12;
	else if (d == DIR_LEFT)
		hx -= 12;
	else
		hx += 12;
	if (absdiff(RAM8(W_ENEMY + O_X), hx) < 12 &&
	    absdiff(RAM8(W_ENEMY + O_Y), hy) < 12) {
		uint16_t kills = RAM8(W_KILLS) | ((uint16_t)RAM8(W_KILLS + 1) << 8);
		kills++;
		RAM8(W_KILLS) = (uint8_t)kills;
		RAM8(W_KILLS + 1) = (uint8_t)(kills >> 8);
		RAM8(W_ENEMY + O_ENABLED) = 0;
		bcd_inc(W_RUPEES);
		hud_dirty = 1;
	}
}

static void knock_back(int16_t dx, int16_t dy)
{
	int16_t x = RAM8(W_LINK + O_X), y = RAM8(W_LINK + O_Y);
	uint8_t i;
	for (i = 0; i < 16; i++) {
		int16_t nx = x + dx, ny = y + dy;
		if (!inside(nx, ny))
			break;
		x = nx;
		y = ny;
	}
	RAM8(W_LINK + O_X) = (uint8_t)x;
	RAM8(W_LINK + O_Y) = (uint8_t)y;
}

/* Lose amount quarter hearts; at 0 the death counter rises and Link starts
 * again.  Returns 1 when he died. */
static uint8_t hurt(uint8_t amount)
{
	uint8_t health = RAM8(W_HEALTH);
	health = health > amount ? health - amount : 0;
	RAM8(W_HEALTH) = health;
	hud_dirty = 1;
	if (health)
		return 0;
	bcd_inc(W_DEATHS);
	start_life();
	return 1;
}

static void enemy_contact(void)
{
	int16_t dx, dy;
	if (!RAM8(W_ENEMY + O_ENABLED) || invuln)
		return;
	dx = (int16_t)RAM8(W_LINK + O_X) - RAM8(W_ENEMY + O_X);
	dy = (int16_t)RAM8(W_LINK + O_Y) - RAM8(W_ENEMY + O_Y);
	if (absdiff(dx, 0) >= 12 || absdiff(dy, 0) >= 12)
		return;
	if (hurt(2))
		return;
	invuln = 48;
	if (absdiff(dx, 0) >= absdiff(dy, 0))
		knock_back(dx >= 0 ? 1 : -1, 0);
	else
		knock_back(0, dy >= 0 ? 1 : -1);
}

static void game_frame(void)
{
	uint8_t pressed;
	pad_prev = pad;
	pad = read_pad();
	pressed = pad & (uint8_t)~pad_prev;
	frame++;
	if (trans_timer) {
		run_transition();   /* the joypad is not read meanwhile */
		return;
	}
	if (RAM8(W_MENU)) {
		if (pressed & PAD_START)
			RAM8(W_MENU) = 0;
		return;
	}
	if (pressed & PAD_START) {
		RAM8(W_MENU) = 1;
		return;
	}
	if (RAM8(W_TEXT)) {
		if (text_timer)
			text_timer--;
		else if (pressed & PAD_A)
			RAM8(W_TEXT) = 0;
		return;
	}
	if (invuln)
		invuln--;
	if (cooldown)
		cooldown--;
	if (swing)
		swing--;
	if ((pad & PAD_B) && cooldown == 0) {
		swing = 8;
		cooldown = 16;
	}
	if (swing)
		sword_hit();
	else
		move_link();
	tile_events();
	update_enemy();
	enemy_contact();
}

/* ------------------------------------------------------------------ */

static void title_screen(void)
{
	uint8_t r, c;
	for (r = 0; r < 18; r++)
		for (c = 0; c < 20; c++) {
			uint8_t edge = r < 2 || r > 15 || c < 2 || c > 17;
			put_tile(c, r, edge ? T_WALL : T_FLOOR, 0);
		}
	put_tile(9, 8, T_SWORD, 3);
	put_tile(10, 8, T_SWORD, 3);
	LCDC = LCDC_ON;
	for (;;) {
		wait_vblank();
		oam_dma();
		pad_prev = pad;
		pad = read_pad();
		if (pad & (uint8_t)~pad_prev & PAD_START)
			break;
	}
}

void main(void)
{
	uint8_t i;
	cgb = boot_a == 0x11;
	while (LY < 144)
		;                      /* the LCD may only be switched off in VBlank */
	LCDC = 0;                  /* off: VRAM is free to write */
	SCX = 0;
	SCY = 0;
	load_tiles();
	load_palettes();
	clear_screen();
	for (i = 0; i < 40; i++)
		hide_sprite(i);
	TAC = TAC_4096HZ;          /* TIMA times the LCD's dark spells (video.h) */
	IF_REG = 0;
	IE_REG = 0x01;             /* VBlank only */
	__asm__("ei");
	title_screen();            /* returns in VBlank with the LCD on */
	new_game();                /* the first vblank_update draws the room */
	compute_hud();
	hud_dirty = 0;
	draw_sprites();
	for (;;) {
		wait_vblank();
		vblank_update();
		game_frame();
		follow_link();
		draw_sprites();
		if (hud_dirty) {
			compute_hud();
			hud_dirty = 0;
			hud_pending = 1;
		}
	}
}
