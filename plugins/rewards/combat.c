/*
 * combat.c - reward term: each enemy killed pays `per_kill`, read from the
 * rise of the game's cumulative counter (state.enemies_killed).
 *
 * A fall of the counter (a reset) pays nothing; a rise above
 * `max_kills_per_step` in one step counts as that many, so a garbled
 * counter cannot pay a fortune.  Stateless.
 */
#include <gnarl/reward.h>

#define PARAMS(X)                                                                         \
	X(float, per_kill, FLOAT, 10, -1e6, 1e6, "paid per enemy killed")                     \
	X(int32_t, max_kills_per_step, INT, 8, 1, 65535,                                      \
	  "most kills counted in one step (a larger jump of the counter is clipped)")
GNARL_REWARD_PARAMS(PARAMS)

static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	int64_t kills = (int64_t)cur->enemies_killed - prev->enemies_killed;

	if (kills < 0)
		kills = 0;
	if (kills > p->max_kills_per_step)
		kills = p->max_kills_per_step;
	return p->per_kill * (float)kills;
}

GNARL_REWARD(combat, "1.1.0", "pays per enemy killed (the game's kill counter)", pay, NULL, 0)
