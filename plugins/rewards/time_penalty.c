/*
 * time_penalty.c - reward term: every step pays `per_step` (a small
 * negative number by default), so dawdling costs.
 *
 * Entry point: gnarl_plugin_entry.  Invariants: stateless; compute never
 * allocates.
 */
#include <stdio.h>
#include <stdlib.h>

#include <gnarl/plugin.h>

struct term {
	float per_step;
};

static const struct gnarl_param params[] = {
	{"per_step", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "-0.0001", -1e6,
	 1e6, "paid every step (a penalty: negative)", NULL},
	GNARL_PARAMS_END,
};

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, GNARL_ERR_SIZE, "time_penalty: out of memory");
		return NULL;
	}
	t->per_step = (float)gnarl_param_float(host, "per_step", -0.0001);
	return t;
}

static void destroy(void *self)
{
	free(self);
}

static void episode_start(void *self, uint32_t index, const struct gnarl_game_state *s)
{
}

static void compute(void *self, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	const struct term *t = self;

	for (uint32_t i = first; i < first + count; i++)
		out[i] = t->per_step;
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
	.name = "time_penalty",
	.version = "1.0.0",
	.summary = "a small cost per step",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
