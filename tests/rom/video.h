/*
 * video.h - the test cartridge's drawing (included once, by game.c, after
 * its globals): tiles and palettes into VRAM, the room's metatiles (a large
 * room fills 30 x 22 map cells and scrolls with Link), the HUD row, the
 * sprites, and what VBlank copies.  VRAM is written only with the LCD off
 * or in VBlank.
 */
#ifndef GNARL_TEST_ROM_VIDEO_H
#define GNARL_TEST_ROM_VIDEO_H

static void load_tiles(void)
{
	volatile uint8_t *dst = VRAM_TILES;
	uint8_t t, row, px;
	for (t = 0; t < N_TILES; t++) {
		const char *src = tiles[t];
		for (row = 0; row < 8; row++) {
			uint8_t lo = 0, hi = 0;
			for (px = 0; px < 8; px++) {
				uint8_t v = (uint8_t)(*src++ - '0');
				lo = (uint8_t)((lo << 1) | (v & 1));
				hi = (uint8_t)((hi << 1) | (v >> 1));
			}
			*dst++ = lo;
			*dst++ = hi;
		}
	}
}

static void load_palettes(void)
{
	uint8_t p, c;
	BGP = 0xE4;
	OBP0 = 0xE4;
	OBP1 = 0xE4;
	BCPS = 0x80;
	for (p = 0; p < 5; p++)
		for (c = 0; c < 4; c++) {
			BCPD = (uint8_t)bg_palettes[p][c];
			BCPD = (uint8_t)(bg_palettes[p][c] >> 8);
		}
	OCPS = 0x80;
	for (p = 0; p < 3; p++)
		for (c = 0; c < 4; c++) {
			OCPD = (uint8_t)obj_palettes[p][c];
			OCPD = (uint8_t)(obj_palettes[p][c] >> 8);
		}
}

/* Write tile t with palette pal at map cell (col, row); LCD off or VBlank. */
static void put_tile(uint8_t col, uint8_t row, uint8_t t, uint8_t pal)
{
	volatile uint8_t *cell = VRAM_MAP + ((uint16_t)row << 5) + col;
	if (cgb) {
		VBK = 1;
		*cell = pal;
		VBK = 0;
	}
	*cell = t;
}

/* The four 8x8 tiles of a metatile (top-left, top-right, bottom-left,
 * bottom-right). */
static void put_meta(uint8_t c, uint8_t r, uint8_t top, uint8_t bottom, uint8_t pal)
{
	uint8_t col = (uint8_t)(c << 1), row = (uint8_t)((r << 1) + 2);
	put_tile(col, row, top, pal);
	put_tile((uint8_t)(col + 1), row, top, pal);
	put_tile(col, (uint8_t)(row + 1), bottom, pal);
	put_tile((uint8_t)(col + 1), (uint8_t)(row + 1), bottom, pal);
}

static void draw_room(void)
{
	uint8_t r, c, wall, floor, pal, code;
	uint8_t dungeon = RAM8(W_GROUP) == DUNGEON_GROUP;
	wall = dungeon ? T_DWALL : T_WALL;
	floor = dungeon ? T_DFLOOR : T_FLOOR;
	pal = dungeon ? 2 : 0;
	for (r = 0; r < room_h; r++)
		for (c = 0; c < room_w; c++) {
			code = RAM8(W_LAYOUT + (r << 4) + c);
			if (code == L_WALL)
				put_meta(c, r, wall, wall, pal);
			else if (code == L_WALL_TOP)
				put_meta(c, r, wall, floor, pal);
			else if (code == L_WALL_BOT)
				put_meta(c, r, floor, wall, pal);
			else if (code == L_DOOR)
				put_meta(c, r, T_DOOR, T_DOOR, pal);
			else if (code == L_WATER)
				put_meta(c, r, T_WATER, T_WATER, 2);
			else if (code == L_BRIDGE)
				put_meta(c, r, T_BRIDGE, T_BRIDGE, pal);
			else if (code == L_SWORD)
				put_meta(c, r, T_SWORD, T_SWORD, dungeon ? 4 : 3);
			else if (code == L_KEY)
				put_meta(c, r, T_KEY, T_KEY, dungeon ? 4 : 3);
			else
				put_meta(c, r, floor, floor, pal);
		}
}

/* The HUD row as tile ids, computed outside VBlank. */
static void compute_hud(void)
{
	uint8_t i, health = RAM8(W_HEALTH), hearts = RAM8(W_MAX_HEALTH) >> 2;
	uint8_t lo = RAM8(W_RUPEES), hi = RAM8(W_RUPEES + 1);
	for (i = 0; i < 20; i++)
		hud_tiles[i] = T_BLANK;
	for (i = 0; i < 5; i++) {
		uint8_t t = T_BLANK;
		if (i < hearts) {
			uint8_t full = (uint8_t)((i + 1) << 2);
			if (health >= full)
				t = T_HEART;
			else if (health + 2 >= full)
				t = T_HALF;
			else
				t = T_EMPTY;
		}
		hud_tiles[i + 1] = t;
	}
	hud_tiles[12] = T_RUPEE;
	hud_tiles[13] = (uint8_t)(T_DIGIT0 + (hi & 0x0F));
	hud_tiles[14] = (uint8_t)(T_DIGIT0 + (lo >> 4));
	hud_tiles[15] = (uint8_t)(T_DIGIT0 + (lo & 0x0F));
	if (RAM8(W_SWORD))
		hud_tiles[17] = T_SWORD;
	if (RAM8(W_KEYS))
		hud_tiles[18] = T_KEY;
	hud_tiles[19] = (uint8_t)(T_DIGIT0 + (RAM8(W_KEYS) % 10));
}

static void clear_screen(void)
{
	uint8_t r, c;
	for (r = 0; r < 18; r++)
		for (c = 0; c < 20; c++)
			put_tile(c, r, T_BLANK, 1);
}

/* One 8x8 sprite; y and x are screen pixels of its top-left corner. */
static void put_sprite(uint8_t i, int16_t y, int16_t x, uint8_t t, uint8_t attr)
{
	volatile uint8_t *o = SHADOW_OAM + (i << 2);
	o[0] = (uint8_t)(y + 16);
	o[1] = (uint8_t)(x + 8);
	o[2] = t;
	o[3] = attr;
}

static void hide_sprite(uint8_t i)
{
	SHADOW_OAM[i << 2] = 0;
}

/* A 16x16 object centred on room pixel (x, y), mirrored left/right. */
static void put_object(uint8_t i, int16_t x, int16_t y, uint8_t top, uint8_t pal)
{
	int16_t sy = y - 8 + 16, sx = x - 8;
	uint8_t attr = (uint8_t)(pal | (pal ? 0x10 : 0));
	put_sprite(i, sy, sx, top, attr);
	put_sprite((uint8_t)(i + 1), sy, sx + 8, top, (uint8_t)(attr | 0x20));
	put_sprite((uint8_t)(i + 2), sy + 8, sx, (uint8_t)(top + 1), attr);
	put_sprite((uint8_t)(i + 3), sy + 8, sx + 8, (uint8_t)(top + 1),
	           (uint8_t)(attr | 0x20));
}

static void draw_sprites(void)
{
	int16_t x = (int16_t)RAM8(W_LINK + O_X) - cam_x, y = (int16_t)RAM8(W_LINK + O_Y) - cam_y;
	uint8_t i;
	if (trans_timer || (invuln && (frame & 4)))
		for (i = 0; i < 4; i++)
			hide_sprite(i);
	else
		put_object(0, x, y, T_LINK_TOP, 0);
	if (RAM8(W_ENEMY + O_ENABLED) && !trans_timer)
		put_object(4, (int16_t)RAM8(W_ENEMY + O_X) - cam_x,
		           (int16_t)RAM8(W_ENEMY + O_Y) - cam_y, T_ENEMY_TOP, 1);
	else
		for (i = 4; i < 8; i++)
			hide_sprite(i);
	if (swing) {
		uint8_t d = RAM8(W_LINK + O_DIR);
		int16_t sy = y - 4 + 16, sx = x - 4;
		if (d == DIR_UP)
			put_sprite(8, sy - 12, sx, T_BLADE_V, 0x12);
		else if (d == DIR_DOWN)
			put_sprite(8, sy + 12, sx, T_BLADE_V, 0x52);
		else if (d == DIR_LEFT)
			put_sprite(8, sy, sx - 12, T_BLADE_H, 0x32);
		else
			put_sprite(8, sy, sx + 12, T_BLADE_H, 0x12);
	} else {
		hide_sprite(8);
	}
}

/* A large room's camera follows Link, within the room. */
static void follow_link(void)
{
	int16_t x = (int16_t)RAM8(W_LINK + O_X) - 80, y = (int16_t)RAM8(W_LINK + O_Y) - 64;
	int16_t max_x = (int16_t)(room_w << 4) - 160, max_y = (int16_t)(room_h << 4) - 128;
	if (trans_timer)
		return;
	cam_x = (uint8_t)(x < 0 ? 0 : x > max_x ? max_x : x);
	cam_y = (uint8_t)(y < 0 ? 0 : y > max_y ? max_y : y);
}

/* With the LCD off there are no frames, and each emulator cuts the time
 * into frames of its own (libmgba and Gambatte: one every 70224 cycles
 * from the switch-off, give or take their timing).  Switched on again at
 * an arbitrary moment, the LCD may come on a few cycles before one
 * emulator's cut and after the other's, and one game then runs a frame
 * ahead of the other from there on.  So the LCD comes back on half a frame
 * after a cut: at the first mark (k + 1/2) frames after the switch-off
 * that the drawing has not passed.  TIMA (1024 cycles a tick) counts from
 * the switch-off; the arithmetic is in 16-cycle units (a frame is 4389),
 * good for 14 frames of drawing. */
#define HALF_FRAME_16 2194
#define FRAME_16 4389

static uint16_t dark_ticks(uint16_t ticks, uint8_t *last)
{
	uint8_t now = TIMA;
	ticks += (uint8_t)(now - *last);
	*last = now;
	return ticks;
}

static void stay_dark(void)
{
	uint8_t last = 0;
	uint16_t ticks = dark_ticks(0, &last), mark = HALF_FRAME_16;
	while ((ticks << 6) >= mark)
		mark += FRAME_16;
	while ((ticks << 6) < mark)
		ticks = dark_ticks(ticks, &last);
}

/* Everything the screen needs, once per VBlank, prepared beforehand: the
 * sprites by DMA, the HUD row as plain tile ids.  A new room is drawn with
 * the LCD off (blank frames, like a screen transition). */
static void vblank_update(void)
{
	uint8_t c;
	oam_dma();
	SCX = cam_x;
	SCY = cam_y;
	if (room_dirty) {
		LCDC = 0;
		DIV = 0;               /* restarts the prescaler: TIMA counts from here */
		TIMA = 0;
		for (c = 0; c < 20; c++) {
			put_tile(c, 0, hud_tiles[c], 1);
			put_tile(c, 1, T_BLANK, 1);
		}
		draw_room();
		stay_dark();
		LCDC = LCDC_ON;
		room_dirty = 0;
		hud_pending = 0;
	} else if (hud_pending) {
		for (c = 0; c < 20; c++)
			VRAM_MAP[c] = hud_tiles[c];
		hud_pending = 0;
	}
}

#endif /* GNARL_TEST_ROM_VIDEO_H */
