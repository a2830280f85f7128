/*
 * room_discovery.c - reward term: entering a (group, room) not seen this
 * episode pays `new_room`; entering a room seen before pays
 * `novelty * min(1, steps_since_last_visit / novelty_window)`, so coming
 * back to a room left long ago is worth a little and bouncing between two
 * rooms is worth almost nothing.
 *
 * Rooms are keyed by (group & 7, room & 0xff): groups reuse room numbers,
 * so the room alone never names a screen.  Memory: per env, the last step
 * each room was occupied this episode.  Steps of a screen transition
 * (GNARL_STATE_TRANSITION) pay nothing and do not count: the room may be
 * the next one before Link is, so a room pays once he stands in it.
 */
#include <gnarl/reward.h>

#define ROOM_KEYS (8 * 256)

struct env_rooms {
	uint32_t step;              /* steps counted this episode */
	uint32_t last[ROOM_KEYS];   /* 1 + last step spent in the room, 0: never */
};

#define PARAMS(X)                                                                         \
	X(float, new_room, FLOAT, 20, -1e6, 1e6,                                              \
	  "paid on entering a (group, room) not seen this episode")                           \
	X(float, novelty, FLOAT, 1.0, -1e6, 1e6,                                              \
	  "most a revisit pays, after novelty_window steps away")                             \
	X(double, novelty_window, INT, 500, 1, 1e9,                                           \
	  "steps away from a room after which a revisit pays the whole novelty")
GNARL_REWARD_PARAMS(PARAMS)

static unsigned room_key(const struct gnarl_game_state *s)
{
	return ((unsigned)s->group & 7u) << 8 | ((unsigned)s->room & 0xffu);
}

static void start(const struct params *p, void *memory, const struct gnarl_game_state *s)
{
	struct env_rooms *e = memory;

	e->last[room_key(s)] = 1;  /* the start room is seen, not discovered */
}

static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	struct env_rooms *e = memory;
	unsigned k = room_key(cur);
	float r = 0.0f;

	if (cur->flags & GNARL_STATE_TRANSITION)
		return 0.0f;
	e->step++;
	/* last[k] == step: Link was in k at the previous counted step (prev
	 * may be a transition's, so it cannot say). */
	if (e->last[k] != e->step) {
		if (e->last[k] == 0) {
			r = p->new_room;
		} else {
			double away = (double)(e->step - (e->last[k] - 1));
			r = p->novelty * (float)(away < p->novelty_window ? away / p->novelty_window
			                                                  : 1.0);
		}
	}
	e->last[k] = e->step + 1;
	return r;
}

GNARL_REWARD(room_discovery, "1.1.0",
             "pays for each (group, room) discovered this episode, a little for old revisits", pay,
             start, sizeof(struct env_rooms))
