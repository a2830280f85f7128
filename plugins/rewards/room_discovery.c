/*
 * room_discovery.c - reward term: entering a (group, room) not seen this
 * episode pays `new_room`; entering a room seen before pays
 * `novelty * min(1, steps_since_last_visit / novelty_window)`, so coming
 * back to a room left long ago is worth a little and bouncing between two
 * rooms is worth almost nothing.
 *
 * Entry point: gnarl_plugin_entry.  Rooms are keyed by (group & 7, room &
 * 0xff): groups reuse room numbers, so the room alone never names a
 * screen.  Invariants: per-env tables (last step each room was occupied)
 * reset at episode_start; compute touches only its envs' rows and never
 * allocates.  Steps of a screen transition (GNARL_STATE_TRANSITION) pay
 * nothing and do not count: a room pays once Link stands in it.
 * Checkpoints save the per-env tables (reward_state.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

#include "reward_state.h"

#define ROOM_KEYS (8 * 256)

struct env_rooms {
	uint32_t step;              /* transitions seen this episode */
	uint32_t last[ROOM_KEYS];   /* 1 + last step spent in the room, 0: never */
};

struct term {
	float new_room, novelty;
	double window;
	uint32_t n_envs;
	struct env_rooms *envs;
};

static const struct gnarl_param params[] = {
	{"new_room", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "20", -1e6, 1e6,
	 "paid on entering a (group, room) not seen this episode", NULL},
	{"novelty", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "1.0", -1e6, 1e6,
	 "most a revisit pays, after novelty_window steps away", NULL},
	{"novelty_window", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "500", 1,
	 1e9, "steps away from a room after which a revisit pays the whole novelty", NULL},
	GNARL_PARAMS_END,
};

static unsigned room_key(const struct gnarl_game_state *s)
{
	return ((unsigned)s->group & 7u) << 8 | ((unsigned)s->room & 0xffu);
}

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t)
		goto oom;
	t->new_room = (float)gnarl_param_float(host, "new_room", 20.0);
	t->novelty = (float)gnarl_param_float(host, "novelty", 1.0);
	t->window = (double)gnarl_param_int(host, "novelty_window", 500);
	t->n_envs = n_envs;
	t->envs = calloc(n_envs ? n_envs : 1, sizeof(*t->envs));
	if (!t->envs)
		goto oom;
	return t;
oom:
	snprintf(err, GNARL_ERR_SIZE, "room_discovery: out of memory for %u envs", n_envs);
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
	struct env_rooms *e = &t->envs[index];

	memset(e, 0, sizeof(*e));
	e->last[room_key(s)] = 1;  /* the start room is seen, not discovered */
}

static void compute(void *self, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	struct term *t = self;

	(void)prev;
	for (uint32_t i = first; i < first + count; i++) {
		struct env_rooms *e = &t->envs[i];
		unsigned k = room_key(&cur[i]);
		float r = 0.0f;

		/* Mid-transition the room may be the next one before Link is:
		 * such steps do not count, and the room pays when he is in it. */
		if (cur[i].flags & GNARL_STATE_TRANSITION) {
			out[i] = 0.0f;
			continue;
		}
		e->step++;
		/* last[k] == step: Link was in k at the previous counted step. */
		if (e->last[k] != e->step) {
			if (e->last[k] == 0) {
				r = t->new_room;
			} else {
				double away = (double)(e->step - (e->last[k] - 1));
				r = t->novelty * (float)(away < t->window ? away / t->window : 1.0);
			}
		}
		e->last[k] = e->step + 1;
		out[i] = r;
	}
}

RS_DENSE_OPS("room_discovery", envs)

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
	.name = "room_discovery",
	.version = "1.0.0",
	.summary = "pays for each (group, room) discovered this episode, a little for old revisits",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
