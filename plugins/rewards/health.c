/*
 * health.c - reward term: each quarter heart lost pays `lost_per_quarter`
 * (negative by default), each quarter heart gained `gained_per_quarter`.
 *
 * Entry point: gnarl_plugin_entry.  Reads state.health (quarter hearts)
 * of the step's two states.  Invariants: stateless per episode; compute
 * never allocates.
 */
#include <stdio.h>
#include <stdlib.h>

#include <gnarl/plugin.h>

struct term {
	float lost, gained;
};

static const struct gnarl_param params[] = {
	{"lost_per_quarter", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "-0.1",
	 -1e6, 1e6, "paid per quarter heart lost (a penalty: negative)", NULL},
	{"gained_per_quarter", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "0.1",
	 -1e6, 1e6, "paid per quarter heart gained", NULL},
	GNARL_PARAMS_END,
};

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, GNARL_ERR_SIZE, "health: out of memory");
		return NULL;
	}
	t->lost = (float)gnarl_param_float(host, "lost_per_quarter", -0.1);
	t->gained = (float)gnarl_param_float(host, "gained_per_quarter", 0.1);
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
		int32_t d = cur[i].health - prev[i].health;
		out[i] = d < 0 ? t->lost * (float)-d : t->gained * (float)d;
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
	.name = "health",
	.version = "1.0.0",
	.summary = "pays per quarter heart gained, charges per quarter heart lost",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
