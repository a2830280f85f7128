/*
 * movement.c - reward term: Link's position changed (another pixel
 * position or another room) pays `reward` times a freshness scale; a step
 * that leaves him where he was (walking into a wall, NOP, a closed text
 * box, a screen transition) pays nothing.
 *
 * The scale falls linearly from `fresh_scale`, for a room Link has just
 * entered for the first time this episode, to `stale_scale` once he has
 * spent `stale_steps` steps in it this episode, so moving pays more where
 * he has been less.  Rooms are keyed by (group & 7, room & 0xff).
 * Memory: per env, the steps spent in each room this episode.
 */
#include <gnarl/reward.h>

#define ROOM_KEYS (8 * 256)

struct env_steps {
	uint32_t in_room[ROOM_KEYS];   /* steps spent in each room this episode */
};

#define PARAMS(X)                                                                         \
	X(float, reward, FLOAT, 0.1, -1e6, 1e6,                                               \
	  "paid per step that changes Link's position, before the freshness scale")           \
	X(float, fresh_scale, FLOAT, 2.0, 0, 1e3,                                             \
	  "scale in a room where Link has spent no steps yet this episode")                   \
	X(float, stale_scale, FLOAT, 0.5, 0, 1e3,                                             \
	  "scale in a room where Link has spent stale_steps steps or more this episode")      \
	X(double, stale_steps, INT, 200, 1, 1e9,                                              \
	  "steps in a room over which the scale falls from fresh_scale to stale_scale")
GNARL_REWARD_PARAMS(PARAMS)

static unsigned room_key(const struct gnarl_game_state *s)
{
	return ((unsigned)s->group & 7u) << 8 | ((unsigned)s->room & 0xffu);
}

static bool moved(const struct gnarl_game_state *a, const struct gnarl_game_state *b)
{
	return a->x != b->x || a->y != b->y || a->room != b->room || a->group != b->group;
}

static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	struct env_steps *e = memory;
	uint32_t *n = &e->in_room[room_key(cur)];
	double f = *n < p->stale_steps ? *n / p->stale_steps : 1.0;
	/* A transition moves the screen, not Link. */
	float r = moved(prev, cur) && !(cur->flags & GNARL_STATE_TRANSITION)
	              ? p->reward * (float)(p->fresh_scale + (p->stale_scale - p->fresh_scale) * f)
	              : 0.0f;

	if (*n < UINT32_MAX)
		(*n)++;
	return r;
}

GNARL_REWARD(movement, "1.1.0",
             "pays for moving, more in rooms seen little this episode; nothing into walls", pay,
             NULL, sizeof(struct env_steps))
