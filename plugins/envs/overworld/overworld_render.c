/*
 * overworld_render.c - draws one env as a 160x144 RGB frame, the Game Boy
 * screen: a 16-pixel status bar on top (B and A item boxes, rupees, hearts
 * in quarters) and the room's 10 x 8 tiles of 16 x 16 pixels below, with
 * items, enemies, Link facing his direction (flashing while invulnerable),
 * his sword on the tile he swings at, and the text box while the Maku Tree
 * speaks.
 *
 * Entry point: gnarl_overworld_render_frame.  Sprites are character art:
 * one letter per pixel, '.' transparent, other letters index the palette.
 * Invariant: reads the env, writes only the frame; never allocates.
 */
#include <string.h>

#include "overworld.h"

#define FRAME_W GNARL_FRAME_WIDTH
#define FRAME_H GNARL_FRAME_HEIGHT
#define HUD_H 16

static const uint8_t palette[128][3] = {
	['k'] = {16, 16, 24},    ['w'] = {248, 248, 248}, ['g'] = {64, 168, 64},
	['G'] = {24, 96, 48},    ['l'] = {120, 200, 96},  ['s'] = {248, 192, 144},
	['b'] = {152, 96, 40},   ['B'] = {88, 48, 16},    ['r'] = {216, 40, 40},
	['R'] = {128, 16, 16},   ['u'] = {48, 96, 216},   ['c'] = {136, 184, 248},
	['y'] = {248, 216, 64},  ['o'] = {232, 136, 40},  ['d'] = {72, 72, 88},
	['a'] = {136, 136, 152}, ['A'] = {200, 200, 208}, ['p'] = {248, 136, 168},
	['e'] = {40, 200, 120},  ['E'] = {16, 120, 72},
};

static const char *const link_down[16] = {
	"......kkkk......", "....kkggggkk....", "...kggggggggk...", "..kggggggggggk..",
	"..kyyggggggyyk..", ".kyyssssssssyyk.", ".kyskssssssksyk.", ".kyssssssssssyk.",
	"..kssssrrssssk..", "...kksssssskk...", "..kggkkkkkkggk..", ".ksggggggggggsk.",
	".ksgggbbbbgggsk.", "..kggggggggggk..", "..kbbbk..kbbbk..", "..kkkkk..kkkkk..",
};

static const char *const link_up[16] = {
	"......kkkk......", "....kkggggkk....", "...kggggggggk...", "..kggggggggggk..",
	"..kggggggggggk..", ".kyyggggggggyyk.", ".kyyyyggggyyyyk.", ".kyyyyyyyyyyyyk.",
	"..kyyyyyyyyyyk..", "...kksssssskk...", "..kggkkkkkkggk..", ".ksggggggggggsk.",
	".ksgggbbbbgggsk.", "..kggggggggggk..", "..kbbbk..kbbbk..", "..kkkkk..kkkkk..",
};

/* Facing right; mirrored for left. */
static const char *const link_side[16] = {
	"....kkkkkk......", "..kkggggggkk....", ".kgggggggggk....", "kgggggggggggk...",
	"kggyyyyyyyyyk...", ".kyysssssssssk..", ".kyssssssskssk..", ".kysssssssssssk.",
	"..kyssssssssrk..", "...kkssssssk....", "..kgggkkkkggk...", "..ksgggggggsk...",
	"..kgggbbbbbggk..", "..kgggggggggk...", "...kbbbk.kbbbk..", "...kkkkk.kkkkk..",
};

static const char *const octorok[16] = {
	"................", ".....kkkkkk.....", "...kkrrrrrrkk...", "..krrrrrrrrrrk..",
	".krrwwrrrrwwrrk.", ".krwkkwrrwkkwrk.", ".krwkkwrrwkkwrk.", ".krrwwrrrrwwrrk.",
	".krrrrrrrrrrrrk.", ".krrrrrkkrrrrrk.", "..krrrrkkrrrrk..", "..krrrrrrrrrrk..",
	"..krrkrrrrkrrk..", ".krrk.krrk.krrk.", ".kkk..kkkk..kkk.", "................",
};

static const char *const tree[16] = {
	"....kkkkkkkk....", "..kkGGGGGGGGkk..", ".kGGlGGGGGlGGGk.", ".kGlllGGGlllGGk.",
	"kGGGlGGGGGlGGGGk", "kGGGGGGGGGGGGGGk", "kGGlGGGGGGGlGGGk", "kGllGGGGGGlllGGk",
	"kGGGGGlGGGGGGGGk", ".kGGGllGGGGGGGk.", ".kGGGGGGGGlGGGk.", "..kkGGGGGGGGkk..",
	"....kkkBBkkk....", "......kBBk......", ".....kBBBBk.....", "....kkkkkkkk....",
};

static const char *const bush[16] = {
	"................", "................", ".....kkkkkk.....", "...kkgggggglk...",
	"..kgglgggglgggk.", "..kglllggllllgk.", ".kgggglggglgggGk", ".kggggggggggggGk",
	".kglgggglgggglGk", ".kgllggglllggGGk", "..kggggggggGGGk.", "..kGgggGgggGGGk.",
	"...kkGGGGGGGkk..", ".....kkkkkkk....", "................", "................",
};

static const char *const rock[16] = {
	"................", ".....kkkkkk.....", "...kkAAAAAAkk...", "..kAAwwAAAAAak..",
	".kAAwwAAAAAAaak.", ".kAAAAAAAAAaaak.", "kAAAAAAAAAaaaadk", "kaAAAAAAAaaaaadk",
	"kaaAAAAAaaaaaddk", "kaaaaaaaaaaaaddk", "kdaaaaaaaaaadddk", ".kddaaaaaaaddk..",
	"..kkddddddddk...", "....kkkkkkkk....", "................", "................",
};

static const char *const water[16] = {
	"uuuuuuuuuuuuuuuu", "uuuuuuuuuuuuuuuu", "uuccuuuuuuuuuuuu", "ucuucuuuuuuuuuuu",
	"uuuuuuuuuuuccuuu", "uuuuuuuuuucuucuu", "uuuuuuuuuuuuuuuu", "uuuuuccuuuuuuuuu",
	"uuuucuucuuuuuuuu", "uuuuuuuuuuuuuuuu", "uuuuuuuuuuuuuccu", "uccuuuuuuuuucuuc",
	"cuucuuuuuuuuuuuu", "uuuuuuuuccuuuuuu", "uuuuuuucuucuuuuu", "uuuuuuuuuuuuuuuu",
};

static const char *const wall[16] = {
	"dddddddddddddddd", "aaaaaaakaaaaaaak", "aAAAAAAkaAAAAAAk", "aAAAAAAkaAAAAAAk",
	"aaaaaaakaaaaaaak", "kkkkkkkkkkkkkkkk", "aaakaaaaaaakaaaa", "AAAkaAAAAAAkaAAA",
	"AAAkaAAAAAAkaAAA", "aaakaaaaaaakaaaa", "kkkkkkkkkkkkkkkk", "aaaaaaakaaaaaaak",
	"aAAAAAAkaAAAAAAk", "aAAAAAAkaAAAAAAk", "aaaaaaakaaaaaaak", "kkkkkkkkkkkkkkkk",
};

static const char *const door[16] = {
	"BBBBBBBBBBBBBBBB", "BBBBkkkkkkkkBBBB", "BBkkkkkkkkkkkkBB", "Bkkkkkkkkkkkkkkb",
	"bkkkkkkkkkkkkkkb", "bkkkkkkkkkkkkkkb", "bkkkkkkkkkkkkkkb", "bkkkkkkkkkkkkkkb",
	"bkkkkkkkkkkkkkkb", "bkkkkkkkkkkkkkkb", "bkkkkkkkkkkkkkkb", "bkkkkkkkkkkkkkkb",
	"bkkkkkkkkkkkkkkb", "bkkkkkkkkkkkkkkb", "bkkkkkkkkkkkkkkb", "bkkkkkkkkkkkkkkb",
};

static const char *const locked[16] = {
	"dddddddddddddddd", "ddddkkkkkkkkdddd", "ddkkbbbbbbbbkkdd", "dkbbbbbbbbbbbbkd",
	"dkbBbbbbbbbbBbkd", "dkbbbbbbbbbbbbkd", "dkbbbbbyybbbbbkd", "dkbbbbykkybbbbkd",
	"dkbBbbykkybbBbkd", "dkbbbbbykybbbbkd", "dkbbbbbykybbbbkd", "dkbbbbbyyybbbbkd",
	"dkbBbbbbbbbbBbkd", "dkbbbbbbbbbbbbkd", "dkbbbbbbbbbbbbkd", "dkkkkkkkkkkkkkkd",
};

/* The Maku Tree's left half, top and bottom quadrants (mirrored for the
 * right half): a crown over a trunk with a sleepy face. */
static const char *const maku_top[16] = {
	"..........kkkkkk", "......kkkkGGGGGG", "....kkGGGGGlllGG", "...kGGGlllGGGGGG",
	"..kGGGlllllGGGGG", ".kGGGGGlllGGGlll", ".kGGlGGGGGGGllll", "kGGlllGGGGGGGllG",
	"kGGGlGGGGlllGGGG", "kGGGGGGGlllllGGG", "kGGllGGGGlllGGGG", ".kGlllGGGGGGGGGG",
	".kGGlGGGGGlGGGGG", "..kGGGGGGlllGGGG", "...kkGGGGGlGGGGG", ".....kkkkGGGGGGG",
};

static const char *const maku_bottom[16] = {
	"........kkkkkkkk", ".......kBbbbbbbb", ".......kBbbbbbbb", "......kBbbbbkkkb",
	"......kBbbbkwwkb", "......kBbbbkwkkb", "......kBbbbbkkkb", "......kBbbbbbbbb",
	"......kBbbbbbbbb", "......kBbbbbbbkk", ".....kBBbbbbbbbk", "....kBBbbbbbbbbb",
	"...kBBbbbbbbbbbb", "..kBBbbbbkkbbbbb", ".kBBbbbbk..kbbbb", ".kkkkkkk....kkkk",
};

static const char *const sword[16] = {
	"................", "............kkk.", "...........kwAk.", "..........kwAk..",
	".........kwAk...", "........kwAk....", ".......kwAk.....", "..kk..kwAk......",
	"..kyk.kAk.......", "...kykAk........", "....kyk.........", "...kbkyk........",
	"..kbk.kyk.......", ".kbk...kk.......", ".kk.............", "................",
};

static const char *const heart[16] = {
	"................", "................", "................", "....kkk..kkk....",
	"...krrrkkrrrk...", "..krwrrrrrrrrk..", "..krrrrrrrrrrk..", "..krrrrrrrrrrk..",
	"...krrrrrrrrk...", "....krrrrrrk....", ".....krrrrk.....", "......krrk......",
	".......kk.......", "................", "................", "................",
};

static const char *const rupee[16] = {
	"................", ".......kk.......", "......kwek......", ".....kwweek.....",
	".....kweeek.....", "....kweeeeEk....", "....kweeeeEk....", "....keeeeeEk....",
	"....keeeeeEk....", "....keeeeeEk....", "....keeeeEEk....", ".....keeeEk.....",
	".....keeEEk.....", "......kEEk......", ".......kk.......", "................",
};

static const char *const rupees[16] = {
	"................", "..kk.......kk...", ".kwek.....kwek..", ".kweek...kweek..",
	".kweEk...kweEk..", ".keeEk...keeEk..", ".keeEk.kk.keEk..", "..kEk.kwek.kk...",
	"...k.kweek......", ".....kweEk......", ".....keeEk......", ".....keeEk......",
	"......kEk.......", ".......k........", "................", "................",
};

static const char *const key_icon[16] = {
	"................", "................", "....kkkk........", "...kyyyyk.......",
	"..kyykkyyk......", "..kyk..kyk......", "..kyykkyyk......", "...kyyyyk.......",
	"....kyyk........", "....kyyk........", "....kyyykk......", "....kyyyyk......",
	"....kyyk........", "....kyyyk.......", ".....kkk........", "................",
};

/* 3 x 5 glyphs, rows top to bottom, '1' lit. */
static const char *const font_digits[10] = {
	"111101101101111", "010110010010111", "111001111100111", "111001111001111",
	"101101111001001", "111100111001111", "111100111101111", "111001001001001",
	"111101111101111", "111101111001111",
};

static const char *const font_letters[26] = {
	"010101111101101", "110101110101110", "011100100100011", "110101101101110",
	"111100110100111", "111100110100100", "011100101101011", "101101111101101",
	"111010010010111", "001001001101010", "101101110101101", "100100100100111",
	"101111111101101", "110101101101101", "010101101101010", "110101110100100",
	"010101101110011", "110101110101101", "011100010001110", "111010010010010",
	"101101101101111", "101101101101010", "101101111111101", "101101010101101",
	"101101010010010", "111001010100111",
};

static void put_px(uint8_t *rgb, int x, int y, const uint8_t c[3])
{
	if (x < 0 || y < 0 || x >= FRAME_W || y >= FRAME_H)
		return;
	memcpy(rgb + (y * FRAME_W + x) * 3, c, 3);
}

static void fill(uint8_t *rgb, int x0, int y0, int w, int h, uint8_t r, uint8_t g, uint8_t b)
{
	const uint8_t c[3] = {r, g, b};

	for (int y = y0; y < y0 + h; y++)
		for (int x = x0; x < x0 + w; x++)
			put_px(rgb, x, y, c);
}

/* Draw 16 x 16 art at (x0, y0); mirror flips it left-right; `tint`
 * replaces green ('g') by red (Link flashing while invulnerable). */
static void blit(uint8_t *rgb, int x0, int y0, const char *const art[16], bool mirror, bool tint)
{
	for (int y = 0; y < 16; y++) {
		for (int x = 0; x < 16; x++) {
			unsigned char ch = (unsigned char)art[y][mirror ? 15 - x : x];
			if (ch == '.' || ch >= 128)
				continue;
			if (tint && ch == 'g')
				ch = 'r';
			put_px(rgb, x0 + x, y0 + y, palette[ch]);
		}
	}
}

static void text(uint8_t *rgb, int x0, int y0, const char *s, uint8_t r, uint8_t g, uint8_t b)
{
	const uint8_t c[3] = {r, g, b};

	for (; *s; s++, x0 += 4) {
		const char *glyph = NULL;
		if (*s >= '0' && *s <= '9')
			glyph = font_digits[*s - '0'];
		else if (*s >= 'A' && *s <= 'Z')
			glyph = font_letters[*s - 'A'];
		if (!glyph)
			continue;
		for (int i = 0; i < 15; i++)
			if (glyph[i] == '1')
				put_px(rgb, x0 + i % 3, y0 + i / 3, c);
	}
}

static void floor_tile(uint8_t *rgb, int px, int py, int group, int x, int y)
{
	uint8_t r = 176, g = 216, b = 120;

	if (group == GNARL_GROUP_INDOORS) {
		r = 168;
		g = 128;
		b = 96;
	} else if (group == GNARL_GROUP_DUNGEON) {
		r = 120;
		g = 128;
		b = 168;
	}
	fill(rgb, px, py, 16, 16, r, g, b);
	if (group == GNARL_GROUP_DUNGEON) {
		fill(rgb, px, py + 15, 16, 1, 88, 96, 136);
		fill(rgb, px + 15, py, 1, 16, 88, 96, 136);
	} else if ((x * 7 + y * 13) % 3 == 0) {
		/* A tuft of grass or a pebble, so floors do not look flat. */
		fill(rgb, px + 4, py + 5, 1, 2, r - 48, g - 48, b - 48);
		fill(rgb, px + 6, py + 4, 1, 3, r - 48, g - 48, b - 48);
		fill(rgb, px + 11, py + 10, 1, 2, r - 48, g - 48, b - 48);
	}
}

static void draw_tile(uint8_t *rgb, const struct ow_env *e, int group, int x, int y)
{
	int px = x * 16, py = HUD_H + y * 16, t = e->tiles[y * OW_COLS + x];

	floor_tile(rgb, px, py, group, x, y);
	switch (t) {
	case OW_TREE:
		blit(rgb, px, py, tree, false, false);
		break;
	case OW_ROCK:
		blit(rgb, px, py, rock, false, false);
		break;
	case OW_WALL:
		blit(rgb, px, py, wall, false, false);
		break;
	case OW_WATER:
		blit(rgb, px, py, water, false, false);
		break;
	case OW_BUSH:
		blit(rgb, px, py, bush, false, false);
		break;
	case OW_DOOR:
		blit(rgb, px, py, door, false, false);
		break;
	case OW_LOCKED:
		blit(rgb, px, py, ow_has_key(e) ? door : locked, false, false);
		break;
	case OW_MAKU: {
		bool right = x > 0 && e->tiles[y * OW_COLS + x - 1] == OW_MAKU;
		bool bottom = y > 0 && e->tiles[(y - 1) * OW_COLS + x] == OW_MAKU;
		blit(rgb, px, py, bottom ? maku_bottom : maku_top, right, false);
		break;
	}
	default:
		break;
	}
}

static void draw_heart(uint8_t *rgb, int x0, int y0, int quarters)
{
	/* A 7 x 6 heart; the first `quarters` quarters (by columns) are red. */
	static const char *const shape[6] = {
		".kk.kk.", "krrkrrk", "krrrrrk", ".krrrk.", "..krk..", "...k...",
	};
	for (int y = 0; y < 6; y++) {
		for (int x = 0; x < 7; x++) {
			char ch = shape[y][x];
			if (ch == '.')
				continue;
			if (ch == 'r' && x * 4 >= quarters * 7)
				ch = 'w';
			put_px(rgb, x0 + x, y0 + y, palette[(unsigned char)ch]);
		}
	}
}

static void draw_hud(uint8_t *rgb, const struct ow_env *e)
{
	char digits[4];
	int hearts = (e->max_health + 3) / 4;

	fill(rgb, 0, 0, FRAME_W, HUD_H, 248, 240, 200);
	fill(rgb, 0, HUD_H - 1, FRAME_W, 1, 16, 16, 24);
	/* B and A item boxes, as in the real status bar. */
	text(rgb, 2, 2, "B", 16, 16, 24);
	fill(rgb, 7, 1, 16, 14, 16, 16, 24);
	if (e->sword)
		blit(rgb, 7, 0, sword, false, false);
	text(rgb, 26, 2, "A", 16, 16, 24);
	fill(rgb, 31, 1, 16, 14, 16, 16, 24);
	if (ow_has_key(e))
		blit(rgb, 32, 0, key_icon, false, false);
	blit(rgb, 50, 0, rupee, false, false);
	digits[0] = (char)('0' + e->rupees / 100 % 10);
	digits[1] = (char)('0' + e->rupees / 10 % 10);
	digits[2] = (char)('0' + e->rupees % 10);
	digits[3] = 0;
	text(rgb, 64, 6, digits, 16, 16, 24);
	for (int i = 0; i < hearts && i < 16; i++) {
		int q = e->health - 4 * i;
		q = q < 0 ? 0 : q > 4 ? 4 : q;
		draw_heart(rgb, 84 + (i % 8) * 9, 1 + (i / 8) * 7, q);
	}
}

static void draw_item(uint8_t *rgb, int kind, int x, int y)
{
	int px = x * 16, py = HUD_H + y * 16;

	if (kind == OW_ITEM_HEART)
		blit(rgb, px, py, heart, false, false);
	else if (kind == OW_ITEM_RUPEE)
		blit(rgb, px, py, rupee, false, false);
	else if (kind == OW_ITEM_RUPEES)
		blit(rgb, px, py, rupees, false, false);
	else if (kind == OW_ITEM_SWORD)
		blit(rgb, px, py, sword, false, false);
}

static void draw_link(uint8_t *rgb, const struct ow_env *e)
{
	int px = e->tx * 16, py = HUD_H + e->ty * 16;
	bool tint = e->invuln > 0 && (e->invuln & 1);

	switch (e->dir) {
	case GNARL_DIR_UP:
		blit(rgb, px, py, link_up, false, tint);
		break;
	case GNARL_DIR_DOWN:
		blit(rgb, px, py, link_down, false, tint);
		break;
	default:
		blit(rgb, px, py, link_side, e->dir == GNARL_DIR_LEFT, tint);
		break;
	}
}

void gnarl_overworld_render_frame(const struct ow_world *w, const struct ow_env *e, uint8_t *rgb)
{
	const struct ow_room *r = &w->rooms[e->room];

	draw_hud(rgb, e);
	for (int y = 0; y < OW_ROWS; y++)
		for (int x = 0; x < OW_COLS; x++)
			draw_tile(rgb, e, r->group, x, y);
	for (int i = 0; i < OW_MAX_ITEMS; i++)
		if (e->items[i].kind)
			draw_item(rgb, e->items[i].kind, e->items[i].tx, e->items[i].ty);
	for (int i = 0; i < e->n_enemies; i++)
		if (e->enemies[i].alive)
			blit(rgb, e->enemies[i].tx * 16, HUD_H + e->enemies[i].ty * 16, octorok, false,
			     false);
	draw_link(rgb, e);
	if (e->swing)
		blit(rgb, (e->tx + ow_dx[e->dir]) * 16, HUD_H + (e->ty + ow_dy[e->dir]) * 16, sword,
		     e->dir == GNARL_DIR_LEFT, false);
	if (e->text > 0) {
		fill(rgb, 8, HUD_H + 88, FRAME_W - 16, 32, 16, 16, 24);
		fill(rgb, 10, HUD_H + 90, FRAME_W - 20, 28, 248, 248, 248);
		fill(rgb, 11, HUD_H + 91, FRAME_W - 22, 26, 16, 16, 24);
		text(rgb, 16, HUD_H + 96, "YOU RECEIVED THE", 248, 248, 248);
		text(rgb, 16, HUD_H + 106, "GNARLED KEY", 248, 216, 64);
	}
}
