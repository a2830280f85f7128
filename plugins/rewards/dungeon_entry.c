/*
 * dungeon_entry.c - reward term: the first step inside each dungeon
 * (state.dungeon >= 0) in an episode pays `reward` (once the screen has
 * settled: not during a GNARL_STATE_TRANSITION).
 *
 * Entry point: gnarl_plugin_entry.  Dungeon indices 0..63 are tracked in a
 * per-env bit set; an episode that starts inside a dungeon has that one
 * marked as entered (nothing to pay for).  Invariants: the sets clear at
 * episode_start; compute touches only its envs' rows and never allocates.
 * Checkpoints save the per-env sets (reward_state.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include <gnarl/plugin.h>

#include "reward_state.h"

#define MAX_DUNGEONS 64

struct term {
	float reward;
	uint32_t n_envs;
	uint64_t *entered;     /* n_envs bit sets */
};

static const struct gnarl_param params[] = {
	{"reward", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "200", -1e6, 1e6,
	 "paid on the first entry into each dungeon in an episode", NULL},
	GNARL_PARAMS_END,
};

static uint64_t dungeon_bit(const struct gnarl_game_state *s)
{
	return s->dungeon >= 0 && s->dungeon < MAX_DUNGEONS ? 1ull << s->dungeon : 0;
}

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t)
		goto oom;
	t->reward = (float)gnarl_param_float(host, "reward", 200.0);
	t->n_envs = n_envs;
	t->entered = calloc(n_envs ? n_envs : 1, sizeof(*t->entered));
	if (!t->entered)
		goto oom;
	return t;
oom:
	snprintf(err, GNARL_ERR_SIZE, "dungeon_entry: out of memory for %u envs", n_envs);
	free(t);
	return NULL;
}

static void destroy(void *self)
{
	struct term *t = self;

	if (!t)
		return;
	free(t->entered);
	free(t);
}

static void episode_start(void *self, uint32_t index, const struct gnarl_game_state *s)
{
	struct term *t = self;

	t->entered[index] = dungeon_bit(s);
}

static void compute(void *self, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	struct term *t = self;

	for (uint32_t i = first; i < first + count; i++) {
		/* Mid-transition: paid when Link stands in the dungeon. */
		uint64_t bit = cur[i].flags & GNARL_STATE_TRANSITION ? 0 : dungeon_bit(&cur[i]);
		out[i] = bit && !(t->entered[i] & bit) ? t->reward : 0.0f;
		t->entered[i] |= bit;
	}
}

RS_DENSE_OPS("dungeon_entry", entered)

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
	.name = "dungeon_entry",
	.version = "1.0.0",
	.summary = "pays once per dungeon per episode on entering it",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
