/*
 * gb_view.h - a Game Boy env's RAM map read back from its config, on the
 * work-RAM image its game state lends (state.ram), independently of the
 * env plugin's own decoder: what `gnarl gb peek` and `gnarl gb check` show
 * next to the decoded values, so a wrong decoder and a wrong map disagree
 * on screen.  The image lays bank 0 at 0 and bank n at n * 0x1000, as the
 * gameboy env does.
 */
#ifndef GNARL_GB_VIEW_H
#define GNARL_GB_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include <gnarl/plugin.h>

/* Where a map entry's bytes are in the image. */
struct gnarl_gb_loc {
	long address;
	int bank;
	size_t offset;
};

/* entry's address (+ extra bytes) as a location with `width` bytes inside
 * an image of ram_size bytes; false when it is not. */
bool gnarl_gb_view_locate(const struct gnarl_value *entry, size_t ram_size, long extra,
                          long width, struct gnarl_gb_loc *out);

/* "$D00D bank 1" or "$CC49". */
void gnarl_gb_view_address(const struct gnarl_gb_loc *l, char *buf, size_t size);

/* The collision map (`collisions`), with the room's size from the game
 * when the entry has width_at/height_at, and the door tiles of Link's
 * group (`doors`). */
struct gnarl_gb_grid {
	bool ok;
	struct gnarl_gb_loc l;
	long stride, width, height;
	bool sized;                   /* width and height read from the game */
	bool has_doors;
	struct gnarl_gb_loc layout;
	unsigned char doors[32];      /* bit t: layout tile t warps, in this group */
};

/* The enemy object slots (`enemies`). */
struct gnarl_gb_slots {
	bool ok;
	struct gnarl_gb_loc l;
	long stride, count;
};

struct gnarl_gb_grid gnarl_gb_view_grid(const struct gnarl_value *map,
                                        const struct gnarl_game_state *s);
struct gnarl_gb_slots gnarl_gb_view_slots(const struct gnarl_value *map,
                                          const struct gnarl_game_state *s);

/* Enemy slot k's bytes. */
const unsigned char *gnarl_gb_view_slot(const struct gnarl_game_state *s,
                                        const struct gnarl_gb_slots *slots, long k);

/* Row y of the room as characters (g->width of them and a NUL): . open,
 * + partly solid, # solid, ~ hole/water/lava, = bridge or stairs, D door,
 * then E an enemy, L Link on top. */
void gnarl_gb_view_row(const struct gnarl_game_state *s, const struct gnarl_gb_grid *g,
                       const struct gnarl_gb_slots *slots, long y, char *out);

#define GNARL_GB_VIEW_LEGEND \
	". open, + partly solid, # solid, ~ hole/water, = bridge/stairs, D door, L Link, E enemy"

#endif /* GNARL_GB_VIEW_H */
