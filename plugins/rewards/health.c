/*
 * health.c - reward term: each quarter heart lost pays `lost_per_quarter`
 * (negative by default), each quarter heart gained `gained_per_quarter`.
 *
 * Reads state.health (quarter hearts) of the step's two states.  Stateless.
 */
#include <gnarl/reward.h>

#define PARAMS(X)                                                                         \
	X(float, lost_per_quarter, FLOAT, -0.1, -1e6, 1e6,                                    \
	  "paid per quarter heart lost (a penalty: negative)")                                \
	X(float, gained_per_quarter, FLOAT, 0.1, -1e6, 1e6, "paid per quarter heart gained")
GNARL_REWARD_PARAMS(PARAMS)

static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	int32_t d = cur->health - prev->health;

	return d < 0 ? p->lost_per_quarter * (float)-d : p->gained_per_quarter * (float)d;
}

GNARL_REWARD(health, "1.1.0", "pays per quarter heart gained, charges per quarter heart lost", pay,
             NULL, 0)
