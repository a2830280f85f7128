/*
 * milestones.c - reward term: the steps of the opening quest, each paid
 * once per episode: the sword obtained (`sword`), the Maku Tree's screen
 * reached (`maku_reached`), the Maku Tree talked to (`maku_talked`: a text
 * box opening on its screen), the Gnarled Key obtained (`gnarled_key`).
 *
 * Which treasure ids and which group/room mean "sword", "key" and "Maku
 * Tree" are parameters too (the real game's by default), so the term runs
 * unchanged on the built-in overworld and on the cartridge.  Memory: one
 * mask per env of the milestones paid this episode; a milestone already
 * true in the state an episode starts from is marked paid.
 */
#include <gnarl/reward.h>

enum milestone { M_SWORD = 1, M_REACHED = 2, M_TALKED = 4, M_KEY = 8 };

#define PARAMS(X)                                                                         \
	X(float, sword, FLOAT, 200, -1e6, 1e6, "paid when the sword is obtained")             \
	X(float, maku_reached, FLOAT, 100, -1e6, 1e6,                                         \
	  "paid when the Maku Tree's screen is reached")                                      \
	X(float, maku_talked, FLOAT, 500, -1e6, 1e6,                                          \
	  "paid when a text box opens on the Maku Tree's screen")                             \
	X(float, gnarled_key, FLOAT, 500, -1e6, 1e6, "paid when the Gnarled Key is obtained") \
	X(unsigned, sword_treasure, INT, 5, 0, 127,                                           \
	  "treasure id of the sword (or sword_level > 0)")                                    \
	X(unsigned, key_treasure, INT, 66, 0, 127, "treasure id of the Gnarled Key (0x42)")   \
	X(int32_t, maku_group, INT, 2, 0, 255, "group of the Maku Tree's screen")             \
	X(int32_t, maku_room, INT, -1, -1, 255,                                               \
	  "room of the Maku Tree's screen within maku_group; -1: any room of the group")
GNARL_REWARD_PARAMS(PARAMS)

static bool has_sword(const struct params *p, const struct gnarl_game_state *s)
{
	return s->sword_level > 0 || gnarl_has_treasure(s, p->sword_treasure);
}

static bool at_maku(const struct params *p, const struct gnarl_game_state *s)
{
	return s->group == p->maku_group && (p->maku_room < 0 || s->room == p->maku_room);
}

static void start(const struct params *p, void *memory, const struct gnarl_game_state *s)
{
	uint8_t m = 0;

	if (has_sword(p, s))
		m |= M_SWORD;
	if (at_maku(p, s))
		m |= M_REACHED;
	if (at_maku(p, s) && s->text_active)
		m |= M_TALKED;
	if (gnarl_has_treasure(s, p->key_treasure))
		m |= M_KEY;
	*(uint8_t *)memory = m;
}

static float pay(const struct params *p, void *memory, const struct gnarl_game_state *prev,
                 const struct gnarl_game_state *cur, int32_t action)
{
	uint8_t *paid = memory, now = 0, fresh;
	float r = 0.0f;

	if (has_sword(p, cur))
		now |= M_SWORD;
	if (at_maku(p, cur))
		now |= M_REACHED;
	if (at_maku(p, cur) && cur->text_active && !prev->text_active)
		now |= M_TALKED;
	if (gnarl_has_treasure(cur, p->key_treasure))
		now |= M_KEY;
	fresh = now & (uint8_t)~*paid;
	if (fresh & M_SWORD)
		r += p->sword;
	if (fresh & M_REACHED)
		r += p->maku_reached;
	if (fresh & M_TALKED)
		r += p->maku_talked;
	if (fresh & M_KEY)
		r += p->gnarled_key;
	*paid |= fresh;
	return r;
}

GNARL_REWARD(milestones, "1.1.0",
             "pays once per episode for the sword, the Maku Tree (reached, talked) and the key",
             pay, start, sizeof(uint8_t))
