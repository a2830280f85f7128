/*
 * fixture_wideparams.c - a reward plugin as a later minor of the ABI could
 * build it: its struct gnarl_param grew a field, so its table's entries
 * are wider than this gnarl's, and it says so in param_size.  The host
 * must read the table with that stride (every name, default and range
 * right) and ignore the field it does not know.
 */
#include <stdlib.h>

#include <gnarl/plugin.h>

struct wide_param {
	struct gnarl_param p;
	const char *unit;         /* the later minor's field */
};

static const struct wide_param params[] = {
	{{"speed", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "2.5", 0, 10,
	  "how fast", NULL}, "m/s"},
	{{"count", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN, "7", 1, 0, "how many", NULL}, "1"},
	{{"mode", GNARL_PARAM_STRING, 0, 0, "b", 0, 0, "which", "a|b|c"}, ""},
	{{0}, NULL},
};

struct term {
	float speed;
	int64_t count;
};

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct term *t = calloc(1, sizeof(*t));

	(void)n_envs;
	(void)err;
	if (!t)
		return NULL;
	t->speed = (float)gnarl_param_float(host, "speed", -1);
	t->count = gnarl_param_int(host, "count", -1);
	return t;
}

/* Pays speed * count every step: what the host read, seen from outside. */
static void compute(void *term, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	const struct term *t = term;

	(void)prev;
	(void)cur;
	(void)actions;
	for (uint32_t i = first; i < first + count; i++)
		out[i] = t->speed * (float)t->count;
}

static void destroy(void *term)
{
	free(term);
}

static const struct gnarl_reward_ops ops = {
	.size = sizeof(struct gnarl_reward_ops),
	.create = create,
	.destroy = destroy,
	.compute = compute,
};

static const struct gnarl_plugin plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_REWARD,
	.name = "fixture_wideparams",
	.version = "1.0.0",
	.summary = "test fixture: parameters of a later minor's (wider) struct",
	.params = &params[0].p,
	.ops.reward = &ops,
	.param_size = sizeof(struct wide_param),
};

GNARL_PLUGIN_ENTRY(&plugin)
