/*
 * milestones.c - reward term: the steps of the opening quest, each paid
 * once per episode: the sword obtained (`sword`), the Maku Tree's screen
 * reached (`maku_reached`), the Maku Tree talked to (`maku_talked`: a text
 * box opening on its screen), the Gnarled Key obtained (`gnarled_key`).
 *
 * Which treasure ids and which group/room mean "sword", "key" and "Maku
 * Tree" are parameters too (the real game's by default), so the term runs
 * unchanged on the built-in overworld and on the cartridge.  Entry point:
 * gnarl_plugin_entry.  Invariants: a milestone already true in the state
 * an episode starts from is marked paid; the per-env masks reset at
 * episode_start; compute never allocates.
 * Checkpoints save the per-env masks (reward_state.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include <gnarl/plugin.h>

#include "reward_state.h"

enum milestone { M_SWORD = 1, M_REACHED = 2, M_TALKED = 4, M_KEY = 8 };

struct term {
	float sword, reached, talked, key;
	unsigned sword_id, key_id;
	int32_t maku_group, maku_room;
	uint32_t n_envs;
	uint8_t *paid;         /* n_envs masks of enum milestone */
};

#define REWARD(name, def, help)                                                                \
	{name, GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, def, -1e6, 1e6, help, \
	 NULL}

static const struct gnarl_param params[] = {
	REWARD("sword", "200", "paid when the sword is obtained"),
	REWARD("maku_reached", "100", "paid when the Maku Tree's screen is reached"),
	REWARD("maku_talked", "500", "paid when a text box opens on the Maku Tree's screen"),
	REWARD("gnarled_key", "500", "paid when the Gnarled Key is obtained"),
	{"sword_treasure", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "5", 0, 127,
	 "treasure id of the sword (or sword_level > 0)", NULL},
	{"key_treasure", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "66", 0, 127,
	 "treasure id of the Gnarled Key (0x42)", NULL},
	{"maku_group", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "2", 0, 255,
	 "group of the Maku Tree's screen", NULL},
	{"maku_room", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "-1", -1, 255,
	 "room of the Maku Tree's screen within maku_group; -1: any room of the group", NULL},
	GNARL_PARAMS_END,
};

static bool has_sword(const struct term *t, const struct gnarl_game_state *s)
{
	return s->sword_level > 0 || gnarl_has_treasure(s, t->sword_id);
}

static bool at_maku(const struct term *t, const struct gnarl_game_state *s)
{
	return s->group == t->maku_group && (t->maku_room < 0 || s->room == t->maku_room);
}

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t)
		goto oom;
	t->sword = (float)gnarl_param_float(host, "sword", 200.0);
	t->reached = (float)gnarl_param_float(host, "maku_reached", 100.0);
	t->talked = (float)gnarl_param_float(host, "maku_talked", 500.0);
	t->key = (float)gnarl_param_float(host, "gnarled_key", 500.0);
	t->sword_id = (unsigned)gnarl_param_int(host, "sword_treasure", GNARL_TREASURE_SWORD);
	t->key_id = (unsigned)gnarl_param_int(host, "key_treasure", GNARL_TREASURE_GNARLED_KEY);
	t->maku_group = (int32_t)gnarl_param_int(host, "maku_group", GNARL_GROUP_MAKU_TREE);
	t->maku_room = (int32_t)gnarl_param_int(host, "maku_room", -1);
	t->n_envs = n_envs;
	t->paid = calloc(n_envs ? n_envs : 1, 1);
	if (!t->paid)
		goto oom;
	return t;
oom:
	snprintf(err, GNARL_ERR_SIZE, "milestones: out of memory for %u envs", n_envs);
	free(t);
	return NULL;
}

static void destroy(void *self)
{
	struct term *t = self;

	if (!t)
		return;
	free(t->paid);
	free(t);
}

static void episode_start(void *self, uint32_t index, const struct gnarl_game_state *s)
{
	struct term *t = self;
	uint8_t m = 0;

	if (has_sword(t, s))
		m |= M_SWORD;
	if (at_maku(t, s))
		m |= M_REACHED;
	if (at_maku(t, s) && s->text_active)
		m |= M_TALKED;
	if (gnarl_has_treasure(s, t->key_id))
		m |= M_KEY;
	t->paid[index] = m;
}

static void compute(void *self, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	struct term *t = self;

	for (uint32_t i = first; i < first + count; i++) {
		const struct gnarl_game_state *c = &cur[i];
		uint8_t now = 0, fresh;
		float r = 0.0f;
		if (has_sword(t, c))
			now |= M_SWORD;
		if (at_maku(t, c))
			now |= M_REACHED;
		if (at_maku(t, c) && c->text_active && !prev[i].text_active)
			now |= M_TALKED;
		if (gnarl_has_treasure(c, t->key_id))
			now |= M_KEY;
		fresh = now & (uint8_t)~t->paid[i];
		if (fresh & M_SWORD)
			r += t->sword;
		if (fresh & M_REACHED)
			r += t->reached;
		if (fresh & M_TALKED)
			r += t->talked;
		if (fresh & M_KEY)
			r += t->key;
		t->paid[i] |= fresh;
		out[i] = r;
	}
}

RS_DENSE_OPS("milestones", paid)

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
	.name = "milestones",
	.version = "1.0.0",
	.summary = "pays once per episode for the sword, the Maku Tree (reached, talked) and the key",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
