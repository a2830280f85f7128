/*
 * reward_rupees.c - an example gnarl reward plugin: pays for rupees
 * gained, optionally charges for rupees spent, and stops paying once an
 * episode has earned `episode_cap`.
 *
 * Build it out of tree with one line:
 *     cc -shared -fPIC -o reward_rupees.so reward_rupees.c $(pkg-config --cflags gnarl-plugin)
 * or with the four-line CMakeLists.txt next to it.  Then:
 *     gnarl plugins show ./reward_rupees.so
 * and list it in a config:
 *     rewards:
 *       - plugin: ./reward_rupees.so      # or its name, if on GNARL_PLUGIN_PATH
 *         weight: 1.0
 *         params: {per_rupee: 2.0}
 *
 * gnarl/reward.h writes the plugin around two things: the parameters
 * (declared, never parsed: the host checks types and ranges and fills
 * defaults, and `gnarl plugins show` prints them) and what one env's step
 * pays.  What the term remembers per env (here: what the episode earned)
 * is memory the host keeps: zeroed when an episode starts, saved in
 * checkpoints.  sdk/README.md has the rules.
 */
#include <gnarl/reward.h>

#define PARAMS(X)                                                                         \
	X(float, per_rupee, FLOAT, 1.0, 0, 1000, "paid per rupee gained")                     \
	X(float, spent_cost, FLOAT, 0.0, 0, 1e6, "charged per rupee spent (0: spending is free)") \
	X(float, episode_cap, FLOAT, 0.0, 0, 1e9,                                             \
	  "stop paying after this much per episode; 0: no cap")
GNARL_REWARD_PARAMS(PARAMS)

/* The step path: no allocation, no failure, touches only this env's memory. */
static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	float *earned = memory;
	int32_t delta = cur->rupees - prev->rupees;
	float r = delta > 0 ? p->per_rupee * (float)delta : p->spent_cost * (float)delta;

	(void)action;
	if (r > 0 && p->episode_cap > 0) {
		float room = p->episode_cap - *earned;

		r = r < room ? r : (room > 0 ? room : 0);
	}
	if (r > 0)
		*earned += r;
	return r;
}

GNARL_REWARD(reward_rupees, "1.1.0", "example: pays for rupees gained, charges for rupees spent",
             pay, NULL, sizeof(float))
