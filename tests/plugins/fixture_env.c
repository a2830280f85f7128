/*
 * fixture_env.c - a good, tiny env plugin for the host's and registry's
 * tests: 4 observations (a step counter), 3 actions, episodes of `length`
 * steps.  Built a second time as fixture_env_halfstate
 * (FIXTURE_HALF_ENV_STATE): one of the three one-env state ops only, which
 * the host refuses.
 */
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

static const struct gnarl_param params[] = {
	{"length", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN, "10", 1, 0, "steps per episode", NULL},
	GNARL_PARAMS_END,
};

static const char *const actions[] = {"NOP", "LEFT", "RIGHT"};

struct env {
	uint32_t n, length;
	uint32_t *t;
};

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct env *e = calloc(1, sizeof(*e));

	(void)err;
	if (!e || !(e->t = calloc(n_envs, sizeof(*e->t)))) {
		free(e);
		return NULL;
	}
	e->n = n_envs;
	e->length = (uint32_t)gnarl_param_int(host, "length", 10);
	return e;
}

static void destroy(void *env)
{
	struct env *e = env;

	if (e)
		free(e->t);
	free(e);
}

static void spaces(void *env, struct gnarl_env_spaces *out)
{
	(void)env;
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->obs_dim = 4;
	out->n_actions = 3;
	out->action_names = actions;
}

static void write_obs(const struct env *e, const struct gnarl_env_io *io, uint32_t i)
{
	float *o = io->obs + (size_t)i * io->obs_stride;

	o[0] = (float)e->t[i];
	o[1] = o[2] = o[3] = 0;
}

static void reset(void *env, const struct gnarl_env_io *io, uint32_t index, uint64_t seed)
{
	struct env *e = env;

	(void)seed;
	e->t[index] = 0;
	write_obs(e, io, index);
}

static void step(void *env, const struct gnarl_env_io *io, uint32_t first, uint32_t count)
{
	struct env *e = env;

	for (uint32_t i = first; i < first + count; i++) {
		e->t[i]++;
		io->rewards[i] = io->actions[i] == 2 ? 1.0f : 0.0f;
		io->dones[i] = e->t[i] >= e->length ? GNARL_DONE_TRUNCATED : 0;
		write_obs(e, io, i);
	}
}

#ifdef FIXTURE_HALF_ENV_STATE
static int save_env_state(void *env, uint32_t index, void *buf, size_t size)
{
	(void)env;
	(void)index;
	(void)buf;
	(void)size;
	return GNARL_EINVAL;
}
#define FIXTURE_NAME "fixture_env_halfstate"
#else
#define FIXTURE_NAME "fixture_env"
#endif

static const struct gnarl_env_ops ops = {
	.size = sizeof(struct gnarl_env_ops),
	.create = create,
	.destroy = destroy,
	.spaces = spaces,
	.reset = reset,
	.step = step,
#ifdef FIXTURE_HALF_ENV_STATE
	.save_env_state = save_env_state,  /* without env_state_size and load_env_state */
#endif
};

static const struct gnarl_plugin plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_ENV,
	.name = FIXTURE_NAME,
	.version = "0.0.1",
	.summary = "test fixture: a step counter",
	.params = params,
	.ops.env = &ops,
};

GNARL_PLUGIN_ENTRY(&plugin)
