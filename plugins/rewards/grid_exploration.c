/*
 * grid_exploration.c - reward term: standing in a cell of the room's grid
 * (cell_size x cell_size pixels: 2 x 2 tiles by default) not visited this
 * episode pays `new_cell`.
 *
 * Entry point: gnarl_plugin_entry.  Cells are keyed by (group, room, x /
 * cell_size, y / cell_size) in a per-env open-addressing set sized from
 * `max_cells`; once an episode has visited that many cells, further cells
 * pay nothing, and so do steps of a screen transition
 * (GNARL_STATE_TRANSITION: x, y may be the last room's).  Invariants: the
 * sets clear at episode_start; compute touches only its envs' sets and
 * never allocates.
 * Checkpoints save the cell size and each env's cells as a list
 * (reward_state.h); loaded under another cell_size, the cells are dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

#include "reward_state.h"

struct term {
	float new_cell;
	int32_t cell;
	uint32_t n_envs, cap, max_cells; /* cap: slots per env, a power of two */
	uint32_t *count;                 /* n_envs cells stored */
	uint32_t *slots;                 /* n_envs x cap: key + 1, 0 empty */
};

static const struct gnarl_param params[] = {
	{"new_cell", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "5", -1e6, 1e6,
	 "paid on entering a grid cell of a room not visited this episode", NULL},
	{"cell_size", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "32", 1, 256,
	 "cell side in pixels (32: 2 x 2 tiles of 16 px)", NULL},
	{"max_cells", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "4096", 16,
	 1048576, "most cells remembered per episode (8 to 16 bytes each per env)", NULL},
	GNARL_PARAMS_END,
};

static uint32_t cell_key(const struct gnarl_game_state *s, int32_t cell)
{
	uint32_t cx = (uint32_t)(s->x < 0 ? 0 : s->x / cell) & 0xffu;
	uint32_t cy = (uint32_t)(s->y < 0 ? 0 : s->y / cell) & 0xffu;
	return ((uint32_t)s->group & 0xffu) << 24 | ((uint32_t)s->room & 0xffu) << 16 | cy << 8 | cx;
}

/* Insert key into env i's set; true when it was not there (and fitted). */
static bool insert(struct term *t, uint32_t i, uint32_t key)
{
	uint32_t *slots = t->slots + (size_t)i * t->cap, mask = t->cap - 1;
	uint32_t h = (key * 0x9e3779b1u) & mask;

	while (slots[h]) {
		if (slots[h] == key + 1)
			return false;
		h = (h + 1) & mask;
	}
	if (t->count[i] >= t->max_cells)
		return false;
	slots[h] = key + 1;
	t->count[i]++;
	return true;
}

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));
	size_t n = n_envs ? n_envs : 1;

	if (!t)
		goto oom;
	t->new_cell = (float)gnarl_param_float(host, "new_cell", 5.0);
	t->cell = (int32_t)gnarl_param_int(host, "cell_size", 32);
	t->max_cells = (uint32_t)gnarl_param_int(host, "max_cells", 4096);
	t->n_envs = n_envs;
	/* At most half full, so probes stay short and always end. */
	for (t->cap = 32; t->cap < 2 * t->max_cells; t->cap *= 2)
		;
	t->count = calloc(n, sizeof(*t->count));
	t->slots = calloc(n * t->cap, sizeof(*t->slots));
	if (!t->count || !t->slots)
		goto oom;
	return t;
oom:
	snprintf(err, GNARL_ERR_SIZE,
	         "grid_exploration: out of memory for %u envs x %u cells; lower max_cells", n_envs,
	         t ? t->max_cells : 0);
	if (t) {
		free(t->count);
		free(t->slots);
	}
	free(t);
	return NULL;
}

static void destroy(void *self)
{
	struct term *t = self;

	if (!t)
		return;
	free(t->count);
	free(t->slots);
	free(t);
}

static void episode_start(void *self, uint32_t index, const struct gnarl_game_state *s)
{
	struct term *t = self;

	memset(t->slots + (size_t)index * t->cap, 0, t->cap * sizeof(*t->slots));
	t->count[index] = 0;
	insert(t, index, cell_key(s, t->cell));  /* the start cell is free */
}

static void compute(void *self, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	struct term *t = self;

	/* Mid-transition x, y may still be the last room's: no cell then. */
	for (uint32_t i = first; i < first + count; i++)
		out[i] = !(cur[i].flags & GNARL_STATE_TRANSITION) &&
		                 insert(t, i, cell_key(&cur[i], t->cell))
		             ? t->new_cell
		             : 0.0f;
}

/* ---- checkpoints: the cell size, then per env its count and its keys --- */
/* (u32 words, read and written with memcpy: the host's buffer may sit at
 * any offset of a checkpoint file) */

static uint32_t word(const uint8_t *p, size_t i)
{
	uint32_t v;

	memcpy(&v, p + 4 * i, 4);
	return v;
}

static uint8_t *put_word(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

static size_t save_size(void *self)
{
	const struct term *t = self;
	size_t env = 4;

	for (uint32_t i = 0; i < t->n_envs; i++)
		env += 4 + 4 * (size_t)t->count[i];
	return rs_size(0, env);
}

static int save(void *self, void *buf, size_t size)
{
	const struct term *t = self;
	uint8_t *p;

	if (size != save_size(self))
		return GNARL_EINVAL;
	p = rs_put_header(buf, "grid_exploration", t->n_envs, 0, size - RS_HEADER_SIZE);
	p = put_word(p, (uint32_t)t->cell);
	for (uint32_t i = 0; i < t->n_envs; i++) {
		const uint32_t *slots = t->slots + (size_t)i * t->cap;
		p = put_word(p, t->count[i]);
		for (uint32_t h = 0; h < t->cap; h++)
			if (slots[h])
				p = put_word(p, slots[h] - 1);
	}
	return 0;
}

/* Do the n words at w hold the cell size and n_envs lists (count, keys)? */
static bool lists_fit(const uint8_t *w, size_t n, uint32_t n_envs)
{
	size_t at = 1;

	for (uint32_t i = 0; i < n_envs; i++) {
		if (at >= n || word(w, at) > n - at - 1)
			return false;
		at += 1 + (size_t)word(w, at);
	}
	return at == n;
}

static int load(void *self, const void *buf, size_t size, char err[GNARL_ERR_SIZE])
{
	struct term *t = self;
	struct rs_view v;
	size_t at = 1;
	int rc = rs_get_header(buf, size, "grid_exploration", t->n_envs, &v, err);

	if (rc || !v.env)
		return rc;
	if (v.env_bytes % 4 || !lists_fit(v.env, v.env_bytes / 4, t->n_envs)) {
		snprintf(err, GNARL_ERR_SIZE, "grid_exploration: the saved cell lists do not add up "
		         "(damaged checkpoint?)");
		return GNARL_ECORRUPT;
	}
	/* Cells of another size are other cells: the episodes go on without
	 * them (their cells pay once more). */
	if (word(v.env, 0) != (uint32_t)t->cell)
		return 0;
	for (uint32_t i = 0; i < t->n_envs; i++) {
		uint32_t n = word(v.env, at++);
		memset(t->slots + (size_t)i * t->cap, 0, t->cap * sizeof(*t->slots));
		t->count[i] = 0;
		for (uint32_t k = 0; k < n; k++)
			insert(t, i, word(v.env, at++));
	}
	return 0;
}

static const struct gnarl_reward_ops ops = {
	.size = sizeof(struct gnarl_reward_ops),
	.create = create,
	.destroy = destroy,
	.episode_start = episode_start,
	.compute = compute,
	.save_size = save_size,
	.save = save,
	.load = load,
};

static const struct gnarl_plugin descriptor = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_REWARD,
	.name = "grid_exploration",
	.version = "1.0.0",
	.summary = "pays for each new 2x2-tile cell of a room visited this episode",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
