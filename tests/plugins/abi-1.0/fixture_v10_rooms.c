/*
 * fixture_v10_rooms.c - a reward term written for ABI 1.0 and compiled
 * against the frozen 1.0 header next to it (gnarl/plugin.h as ABI 1.0
 * shipped it): the proof that 1.0 plugins keep loading in a 1.1 gnarl.
 *
 * Pays `new_room` for each (group, room) first entered in an episode.  It
 * keeps its memory the 1.0 way: its own per-env sets, a mandatory
 * episode_start and destroy, and save_size/save/load in a framing of its
 * own (a magic word, n_envs, then every env's set; little-endian through
 * gnarl_put_u32), so a checkpoint carries its running episodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

#if GNARL_ABI_MAJOR != 1 || GNARL_ABI_MINOR != 0
#error "this fixture is built against the frozen ABI 1.0 header (tests/plugins/abi-1.0)"
#endif

#define ROOM_KEYS (8 * 256)
#define SET_WORDS (ROOM_KEYS / 32)
#define MAGIC 0x31304652u /* "RF01" */

struct term {
	float new_room;
	uint32_t n_envs;
	uint32_t (*seen)[SET_WORDS]; /* n_envs sets of (group & 7, room) */
};

static const struct gnarl_param params[] = {
	{"new_room", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "3", 0, 100,
	 "paid on entering a (group, room) not seen this episode", NULL},
	GNARL_PARAMS_END,
};

static unsigned room_key(const struct gnarl_game_state *s)
{
	return ((unsigned)s->group & 7u) << 8 | ((unsigned)s->room & 0xffu);
}

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t || !(t->seen = calloc(n_envs ? n_envs : 1, sizeof(*t->seen)))) {
		free(t);
		snprintf(err, GNARL_ERR_SIZE, "out of memory for %u envs", n_envs);
		return NULL;
	}
	t->new_room = (float)gnarl_param_float(host, "new_room", 3.0);
	t->n_envs = n_envs;
	return t;
}

static void destroy(void *self)
{
	struct term *t = self;

	if (t)
		free(t->seen);
	free(t);
}

static void episode_start(void *self, uint32_t index, const struct gnarl_game_state *s)
{
	struct term *t = self;
	unsigned k = room_key(s);

	memset(t->seen[index], 0, sizeof(t->seen[index]));
	t->seen[index][k / 32] |= 1u << (k % 32);
}

static void compute(void *self, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	struct term *t = self;

	(void)prev;
	(void)actions;
	for (uint32_t i = first; i < first + count; i++) {
		unsigned k = room_key(&cur[i]);
		uint32_t bit = 1u << (k % 32);
		out[i] = t->seen[i][k / 32] & bit ? 0.0f : t->new_room;
		t->seen[i][k / 32] |= bit;
	}
}

static size_t save_size(void *self)
{
	const struct term *t = self;

	return 8 + (size_t)t->n_envs * SET_WORDS * 4;
}

static int save(void *self, void *buf, size_t size)
{
	const struct term *t = self;
	unsigned char *p = buf;

	if (size != save_size(self))
		return GNARL_EINVAL;
	gnarl_put_u32(p, MAGIC);
	gnarl_put_u32(p + 4, t->n_envs);
	for (uint32_t i = 0; i < t->n_envs; i++)
		for (uint32_t w = 0; w < SET_WORDS; w++)
			gnarl_put_u32(p + 8 + ((size_t)i * SET_WORDS + w) * 4, t->seen[i][w]);
	return 0;
}

static int load(void *self, const void *buf, size_t size, char err[GNARL_ERR_SIZE])
{
	struct term *t = self;
	const unsigned char *p = buf;

	if (size < 8 || gnarl_get_u32(p) != MAGIC) {
		snprintf(err, GNARL_ERR_SIZE, "not this term's memory");
		return GNARL_ECORRUPT;
	}
	if (gnarl_get_u32(p + 4) != t->n_envs)
		return 0; /* another env count: the host starts new episodes */
	if (size != save_size(self)) {
		snprintf(err, GNARL_ERR_SIZE, "%zu bytes, %zu expected", size, save_size(self));
		return GNARL_ECORRUPT;
	}
	for (uint32_t i = 0; i < t->n_envs; i++)
		for (uint32_t w = 0; w < SET_WORDS; w++)
			t->seen[i][w] = gnarl_get_u32(p + 8 + ((size_t)i * SET_WORDS + w) * 4);
	return 0;
}

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

static const struct gnarl_plugin plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_REWARD,
	.name = "fixture_v10_rooms",
	.version = "1.0.0",
	.summary = "test fixture built against ABI 1.0: pays for rooms new this episode",
	.params = params,
	.ops.reward = &ops,
};

GNARL_PLUGIN_ENTRY(&plugin)
