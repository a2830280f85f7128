/*
 * grid_exploration.c - reward term: standing in a cell of the room's grid
 * (cell_size x cell_size pixels: 2 x 2 tiles by default) not visited this
 * episode pays `new_cell`.
 *
 * Cells are keyed by (group, room, x / cell_size, y / cell_size).  Memory:
 * per env, the number of cells visited this episode, then an
 * open-addressing set of them (key + 1, 0 empty) sized from `max_cells`;
 * once an episode has visited that many cells, further cells pay nothing,
 * and so do steps of a screen transition (GNARL_STATE_TRANSITION: x, y may
 * be the last room's).
 */
#include <gnarl/reward.h>

#define PARAMS(X)                                                                         \
	X(float, new_cell, FLOAT, 5, -1e6, 1e6,                                               \
	  "paid on entering a grid cell of a room not visited this episode")                  \
	X(int32_t, cell_size, INT, 32, 1, 256, "cell side in pixels (32: 2 x 2 tiles of 16 px)") \
	X(uint32_t, max_cells, INT, 4096, 16, 1048576,                                        \
	  "most cells remembered per episode (8 to 16 bytes each per env)")
GNARL_REWARD_PARAMS(PARAMS)

/* Slots of an env's set: a power of two at most half full, so probes stay
 * short and always end. */
static uint32_t slots(const struct params *p)
{
	uint32_t cap;

	for (cap = 32; cap < 2 * p->max_cells; cap *= 2)
		;
	return cap;
}

/* An env's memory: the count, then the slots. */
static size_t memory_bytes(const struct params *p)
{
	return (1 + (size_t)slots(p)) * sizeof(uint32_t);
}

static uint32_t cell_key(const struct gnarl_game_state *s, int32_t cell)
{
	uint32_t cx = (uint32_t)(s->x < 0 ? 0 : s->x / cell) & 0xffu;
	uint32_t cy = (uint32_t)(s->y < 0 ? 0 : s->y / cell) & 0xffu;
	return ((uint32_t)s->group & 0xffu) << 24 | ((uint32_t)s->room & 0xffu) << 16 | cy << 8 | cx;
}

/* Insert key into an env's set; true when it was not there (and fitted). */
static bool insert(const struct params *p, uint32_t *memory, uint32_t key)
{
	uint32_t *count = memory, *set = memory + 1, mask = slots(p) - 1;
	uint32_t h = (key * 0x9e3779b1u) & mask;

	while (set[h]) {
		if (set[h] == key + 1)
			return false;
		h = (h + 1) & mask;
	}
	if (*count >= p->max_cells)
		return false;
	set[h] = key + 1;
	(*count)++;
	return true;
}

static void start(const struct params *p, void *memory, const struct gnarl_game_state *s)
{
	insert(p, memory, cell_key(s, p->cell_size));  /* the start cell is free */
}

static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	/* Mid-transition x, y may still be the last room's: no cell then. */
	if (cur->flags & GNARL_STATE_TRANSITION)
		return 0.0f;
	return insert(p, memory, cell_key(cur, p->cell_size)) ? p->new_cell : 0.0f;
}

GNARL_REWARD(grid_exploration, "1.1.0",
             "pays for each new 2x2-tile cell of a room visited this episode", pay, start,
             memory_bytes(p))
