/*
 * reward_rupees.c - an example gnarl reward plugin: pays for rupees
 * gained, optionally charges for rupees spent, and stops paying once an
 * episode has earned `episode_cap`.
 *
 * Build it out of tree with one line:
 *     cc -shared -fPIC -o reward_rupees.so reward_rupees.c $(pkg-config --cflags gnarl-plugin)
 * or with the four-line CMakeLists.txt next to it.  Then:
 *     gnarl plugins show ./reward_rupees.so
 * and list it in a config:
 *     rewards:
 *       - plugin: ./reward_rupees.so      # or its name, if on GNARL_PLUGIN_PATH
 *         weight: 1.0
 *         params: {per_rupee: 2.0}
 *
 * The rules it follows (sdk/README.md has them all): one exported entry
 * returning a const descriptor; parameters declared, never parsed; memory
 * allocated in create, never in compute; nothing printed, everything
 * logged through the host.
 */
#include <stdio.h>
#include <stdlib.h>

#include <gnarl/plugin.h>

/* Every number the plugin uses is a declared parameter: the host checks
 * types and ranges, fills defaults, and `gnarl plugins show` prints this. */
static const struct gnarl_param params[] = {
	{.name = "per_rupee", .type = GNARL_PARAM_FLOAT, .default_yaml = "1.0",
	 .flags = GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, .min = 0, .max = 1000,
	 .help = "paid per rupee gained"},
	{.name = "spent_cost", .type = GNARL_PARAM_FLOAT, .default_yaml = "0.0",
	 .flags = GNARL_PARAM_HAS_MIN, .min = 0,
	 .help = "charged per rupee spent (0: spending is free)"},
	{.name = "episode_cap", .type = GNARL_PARAM_FLOAT, .default_yaml = "null",
	 .flags = GNARL_PARAM_HAS_MIN, .min = 0,
	 .help = "stop paying after this much per episode; null: no cap"},
	GNARL_PARAMS_END,
};

struct rupees {
	float per_rupee, spent_cost, cap; /* cap < 0: none */
	float *earned;                    /* per env, this episode */
};

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct rupees *r = calloc(1, sizeof(*r));

	if (!r || !(r->earned = calloc(n_envs, sizeof(*r->earned)))) {
		free(r);
		snprintf(err, GNARL_ERR_SIZE, "out of memory for %u envs", n_envs);
		return NULL;
	}
	r->per_rupee = (float)gnarl_param_float(host, "per_rupee", 1.0);
	r->spent_cost = (float)gnarl_param_float(host, "spent_cost", 0.0);
	r->cap = (float)gnarl_param_float(host, "episode_cap", -1.0);
	host->log(host, GNARL_LOG_INFO, "paying %g per rupee for %u envs",
	          (double)r->per_rupee, n_envs);
	return r;
}

static void destroy(void *term)
{
	struct rupees *r = term;

	if (r)
		free(r->earned);
	free(r);
}

static void episode_start(void *term, uint32_t index, const struct gnarl_game_state *state)
{
	struct rupees *r = term;

	(void)state;
	r->earned[index] = 0;
}

/* The step path: no allocation, no failure, touches only [first, first+count). */
static void compute(void *term, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	struct rupees *r = term;

	(void)actions;
	for (uint32_t i = first; i < first + count; i++) {
		int32_t delta = cur[i].rupees - prev[i].rupees;
		float pay = delta > 0 ? r->per_rupee * (float)delta : r->spent_cost * (float)delta;

		if (pay > 0 && r->cap >= 0) {
			float room = r->cap - r->earned[i];

			pay = pay < room ? pay : (room > 0 ? room : 0);
		}
		if (pay > 0)
			r->earned[i] += pay;
		out[i] = pay;
	}
}

static const struct gnarl_reward_ops ops = {
	.size = sizeof(struct gnarl_reward_ops),
	.create = create,
	.destroy = destroy,
	.episode_start = episode_start,
	.compute = compute,
	/* save_size/save/load: NULL, this term keeps nothing across episodes. */
};

static const struct gnarl_plugin plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_REWARD,
	.name = "reward_rupees",
	.version = "1.0.0",
	.summary = "example: pays for rupees gained, charges for rupees spent",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&plugin)
