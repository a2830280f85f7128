/*
 * time_penalty.c - reward term: every step pays `per_step` (a small
 * negative number by default), so dawdling costs.  Stateless.
 */
#include <gnarl/reward.h>

#define PARAMS(X) \
	X(float, per_step, FLOAT, -0.0001, -1e6, 1e6, "paid every step (a penalty: negative)")
GNARL_REWARD_PARAMS(PARAMS)

static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	return p->per_step;
}

GNARL_REWARD(time_penalty, "1.1.0", "a small cost per step", pay, NULL, 0)
