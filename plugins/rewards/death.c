/*
 * death.c - reward term: dying pays `penalty` (negative by default), once
 * per death.
 *
 * A death is the game's death counter rising (state.deaths) or, with
 * `on_zero_health`, health falling to 0 while max health is known; the
 * real game counts the death some frames after health hits 0, so one
 * death event is paid once and the term re-arms only when Link has health
 * again.  Entry point: gnarl_plugin_entry.  Invariants: the per-env flag
 * clears at episode_start; compute never allocates.
 * Checkpoints save the per-env flags (reward_state.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include <gnarl/plugin.h>

#include "reward_state.h"

struct term {
	float penalty;
	bool on_zero_health;
	uint32_t n_envs;
	uint8_t *dead;          /* n_envs: this death is already paid */
};

static const struct gnarl_param params[] = {
	{"penalty", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "-50", -1e6, 1e6,
	 "paid once per death (a penalty: negative)", NULL},
	{"on_zero_health", GNARL_PARAM_BOOL, 0, 0, "true", 0, 0,
	 "count health reaching 0 as a death, not only a rise of the death counter", NULL},
	GNARL_PARAMS_END,
};

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t)
		goto oom;
	t->penalty = (float)gnarl_param_float(host, "penalty", -50.0);
	t->on_zero_health = gnarl_param_bool(host, "on_zero_health", true);
	t->n_envs = n_envs;
	t->dead = calloc(n_envs ? n_envs : 1, 1);
	if (!t->dead)
		goto oom;
	return t;
oom:
	snprintf(err, GNARL_ERR_SIZE, "death: out of memory for %u envs", n_envs);
	free(t);
	return NULL;
}

static void destroy(void *self)
{
	struct term *t = self;

	if (!t)
		return;
	free(t->dead);
	free(t);
}

static void episode_start(void *self, uint32_t index, const struct gnarl_game_state *s)
{
	struct term *t = self;

	t->dead[index] = 0;
}

static void compute(void *self, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	struct term *t = self;

	for (uint32_t i = first; i < first + count; i++) {
		const struct gnarl_game_state *c = &cur[i];
		bool counted = c->deaths > prev[i].deaths;
		bool zero = t->on_zero_health && c->max_health > 0 && c->health <= 0;
		out[i] = 0.0f;
		if ((counted || zero) && !t->dead[i]) {
			out[i] = t->penalty;
			t->dead[i] = 1;
		} else if (!counted && c->health > 0) {
			t->dead[i] = 0;
		}
	}
}

RS_DENSE_OPS("death", dead)

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
	.name = "death",
	.version = "1.0.0",
	.summary = "charges once per death",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
