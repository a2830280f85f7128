/*
 * death.c - reward term: dying pays `penalty` (negative by default), once
 * per death.
 *
 * A death is the game's death counter rising (state.deaths) or, with
 * `on_zero_health`, health falling to 0 while max health is known; the
 * real game counts the death some frames after health hits 0, so one
 * death event is paid once and the term re-arms only when Link has health
 * again.  Memory: one flag per env (this death is already paid), cleared
 * when an episode starts.
 */
#include <gnarl/reward.h>

#define PARAMS(X)                                                                         \
	X(float, penalty, FLOAT, -50, -1e6, 1e6, "paid once per death (a penalty: negative)") \
	X(bool, on_zero_health, BOOL, true, 0, 0,                                             \
	  "count health reaching 0 as a death, not only a rise of the death counter")
GNARL_REWARD_PARAMS(PARAMS)

static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	uint8_t *dead = memory;
	bool counted = cur->deaths > prev->deaths;
	bool zero = p->on_zero_health && cur->max_health > 0 && cur->health <= 0;

	if ((counted || zero) && !*dead) {
		*dead = 1;
		return p->penalty;
	}
	if (!counted && cur->health > 0)
		*dead = 0;
	return 0.0f;
}

GNARL_REWARD(death, "1.1.0", "charges once per death", pay, NULL, sizeof(uint8_t))
