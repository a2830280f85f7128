/*
 * combat.c - reward term: each enemy killed pays `per_kill`, read from the
 * rise of the game's cumulative counter (state.enemies_killed).
 *
 * Entry point: gnarl_plugin_entry.  A fall of the counter (a reset) pays
 * nothing; a rise above `max_kills_per_step` in one step counts as that
 * many, so a garbled counter cannot pay a fortune.  Invariants: stateless
 * per episode; compute never allocates.
 */
#include <stdio.h>
#include <stdlib.h>

#include <gnarl/plugin.h>

struct term {
	float per_kill;
	int32_t max_per_step;
};

static const struct gnarl_param params[] = {
	{"per_kill", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "10", -1e6, 1e6,
	 "paid per enemy killed", NULL},
	{"max_kills_per_step", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "8", 1,
	 65535, "most kills counted in one step (a larger jump of the counter is clipped)", NULL},
	GNARL_PARAMS_END,
};

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, GNARL_ERR_SIZE, "combat: out of memory");
		return NULL;
	}
	t->per_kill = (float)gnarl_param_float(host, "per_kill", 10.0);
	t->max_per_step = (int32_t)gnarl_param_int(host, "max_kills_per_step", 8);
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

	for (uint32_t i = first; i < first + count; i++) {
		int64_t kills = (int64_t)cur[i].enemies_killed - prev[i].enemies_killed;
		if (kills < 0)
			kills = 0;
		if (kills > t->max_per_step)
			kills = t->max_per_step;
		out[i] = t->per_kill * (float)kills;
	}
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
	.name = "combat",
	.version = "1.0.0",
	.summary = "pays per enemy killed (the game's kill counter)",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
