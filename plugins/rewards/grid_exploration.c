/*
 * grid_exploration.c - reward term: standing in a cell of the room's grid
 * (cell_size x cell_size pixels: 2 x 2 tiles by default) not visited this
 * episode pays `new_cell`.
 *
 * Entry point: gnarl_plugin_entry.  Cells are keyed by (group, room, x /
 * cell_size, y / cell_size) in a per-env open-addressing set sized from
 * `max_cells`; once an episode has visited that many cells, further cells
 * pay nothing.  Invariants: the sets clear at episode_start; compute
 * touches only its envs' sets and never allocates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

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

	for (uint32_t i = first; i < first + count; i++)
		out[i] = insert(t, i, cell_key(&cur[i], t->cell)) ? t->new_cell : 0.0f;
}

static const struct gnarl_reward_ops ops = {
	.size = sizeof(struct gnarl_reward_ops),
	.create = create,
	.destroy = destroy,
	.episode_start = episode_start,
	.compute = compute,
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
