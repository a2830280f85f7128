/*
 * movement.c - reward term: Link's position changed (another pixel
 * position or another room) pays `reward` times a freshness scale; a step
 * that leaves him where he was (walking into a wall, NOP, a closed text
 * box, a screen transition) pays nothing.
 *
 * The scale falls linearly from `fresh_scale`, for a room Link has just
 * entered for the first time this episode, to `stale_scale` once he has
 * spent `stale_steps` steps in it this episode, so moving pays more where
 * he has been less.
 *
 * Entry point: gnarl_plugin_entry.  Rooms are keyed by (group & 7, room &
 * 0xff).  Invariants: per-env step counts reset at episode_start; compute
 * touches only its envs' rows and never allocates.
 * Checkpoints save the per-env step counts (reward_state.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

#include "reward_state.h"

#define ROOM_KEYS (8 * 256)

struct env_steps {
	uint32_t in_room[ROOM_KEYS];   /* steps spent in each room this episode */
};

struct term {
	float reward, fresh, stale;
	double stale_steps;
	uint32_t n_envs;
	struct env_steps *envs;
};

static const struct gnarl_param params[] = {
	{"reward", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "0.1", -1e6, 1e6,
	 "paid per step that changes Link's position, before the freshness scale", NULL},
	{"fresh_scale", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "2.0", 0, 1e3,
	 "scale in a room where Link has spent no steps yet this episode", NULL},
	{"stale_scale", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "0.5", 0, 1e3,
	 "scale in a room where Link has spent stale_steps steps or more this episode", NULL},
	{"stale_steps", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "200", 1, 1e9,
	 "steps in a room over which the scale falls from fresh_scale to stale_scale", NULL},
	GNARL_PARAMS_END,
};

static unsigned room_key(const struct gnarl_game_state *s)
{
	return ((unsigned)s->group & 7u) << 8 | ((unsigned)s->room & 0xffu);
}

static bool moved(const struct gnarl_game_state *a, const struct gnarl_game_state *b)
{
	return a->x != b->x || a->y != b->y || a->room != b->room || a->group != b->group;
}

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t)
		goto oom;
	t->reward = (float)gnarl_param_float(host, "reward", 0.1);
	t->fresh = (float)gnarl_param_float(host, "fresh_scale", 2.0);
	t->stale = (float)gnarl_param_float(host, "stale_scale", 0.5);
	t->stale_steps = (double)gnarl_param_int(host, "stale_steps", 200);
	t->n_envs = n_envs;
	t->envs = calloc(n_envs ? n_envs : 1, sizeof(*t->envs));
	if (!t->envs)
		goto oom;
	return t;
oom:
	snprintf(err, GNARL_ERR_SIZE, "movement: out of memory for %u envs", n_envs);
	free(t);
	return NULL;
}

static void destroy(void *self)
{
	struct term *t = self;

	if (!t)
		return;
	free(t->envs);
	free(t);
}

static void episode_start(void *self, uint32_t index, const struct gnarl_game_state *s)
{
	struct term *t = self;

	memset(&t->envs[index], 0, sizeof(t->envs[index]));
}

static void compute(void *self, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	struct term *t = self;

	for (uint32_t i = first; i < first + count; i++) {
		uint32_t *n = &t->envs[i].in_room[room_key(&cur[i])];
		double f = *n < t->stale_steps ? *n / t->stale_steps : 1.0;
		/* A transition moves the screen, not Link. */
		out[i] = moved(&prev[i], &cur[i]) && !(cur[i].flags & GNARL_STATE_TRANSITION)
		             ? t->reward * (float)(t->fresh + (t->stale - t->fresh) * f)
		             : 0.0f;
		if (*n < UINT32_MAX)
			(*n)++;
	}
}

RS_DENSE_OPS("movement", envs)

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
	.name = "movement",
	.version = "1.0.0",
	.summary = "pays for moving, more in rooms seen little this episode; nothing into walls",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
