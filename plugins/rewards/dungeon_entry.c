/*
 * dungeon_entry.c - reward term: the first step inside each dungeon
 * (state.dungeon >= 0) in an episode pays `reward` (once the screen has
 * settled: not during a GNARL_STATE_TRANSITION).
 *
 * Memory: one bit set per env of the dungeons 0..63 entered this episode;
 * an episode that starts inside a dungeon has that one marked as entered
 * (nothing to pay for).
 */
#include <gnarl/reward.h>

#define MAX_DUNGEONS 64

#define PARAMS(X)                                                                         \
	X(float, reward, FLOAT, 200, -1e6, 1e6,                                               \
	  "paid on the first entry into each dungeon in an episode")
GNARL_REWARD_PARAMS(PARAMS)

static uint64_t dungeon_bit(const struct gnarl_game_state *s)
{
	return s->dungeon >= 0 && s->dungeon < MAX_DUNGEONS ? 1ull << s->dungeon : 0;
}

static void start(const struct params *p, void *memory, const struct gnarl_game_state *s)
{
	*(uint64_t *)memory = dungeon_bit(s);
}

static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	/* Mid-transition: paid when Link stands in the dungeon. */
	uint64_t *entered = memory;
	uint64_t bit = cur->flags & GNARL_STATE_TRANSITION ? 0 : dungeon_bit(cur);
	float r = bit && !(*entered & bit) ? p->reward : 0.0f;

	*entered |= bit;
	return r;
}

GNARL_REWARD(dungeon_entry, "1.1.0", "pays once per dungeon per episode on entering it", pay,
             start, sizeof(uint64_t))
