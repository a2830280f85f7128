/*
 * fixture_reward.c - a good reward plugin for the host's tests: pays
 * `bonus` per rupee gained, declares a parameter of every type, logs and
 * sets a gauge at create so tests can see the host table working.
 */
#include <stdlib.h>

#include <gnarl/plugin.h>

static const struct gnarl_param params[] = {
	{"bonus", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "1.5", 0, 100,
	 "paid per rupee gained", NULL},
	{"mode", GNARL_PARAM_STRING, 0, 0, "add", 0, 0, "how to pay", "add|mul"},
	{"sizes", GNARL_PARAM_LIST, GNARL_PARAM_INT, GNARL_PARAM_HAS_MIN, "[1, 2]", 1, 0,
	 "a list of ints", NULL},
	{"verbose", GNARL_PARAM_BOOL, 0, 0, "false", 0, 0, "log more", NULL},
	{"token", GNARL_PARAM_STRING, 0, GNARL_PARAM_SECRET, "null", 0, 0, "a secret", NULL},
	{"extra", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "free-form", NULL},
	GNARL_PARAMS_END,
};

struct term {
	float bonus;
};

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	(void)n_envs;
	(void)err;
	if (!t)
		return NULL;
	t->bonus = (float)gnarl_param_float(host, "bonus", 0);
	host->log(host, GNARL_LOG_DEBUG, "created with bonus %g", (double)t->bonus);
	host->metric(host, "fixture_reward/created", 1.0);
	return t;
}

static void destroy(void *term)
{
	free(term);
}

static void episode_start(void *term, uint32_t index, const struct gnarl_game_state *state)
{
	(void)term;
	(void)index;
	(void)state;
}

static void compute(void *term, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	const struct term *t = term;

	(void)actions;
	for (uint32_t i = first; i < first + count; i++)
		out[i] = t->bonus * (float)(cur[i].rupees - prev[i].rupees);
}

static const struct gnarl_reward_ops ops = {
	.size = sizeof(struct gnarl_reward_ops),
	.create = create,
	.destroy = destroy,
	.episode_start = episode_start,
	.compute = compute,
};

static const struct gnarl_plugin plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_REWARD,
	.name = "fixture_reward",
	.version = "1.2.3",
	.summary = "test fixture: pays bonus per rupee gained",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&plugin)
