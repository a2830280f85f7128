/*
 * refusal.c - one reward plugin, compiled once per defect the host must
 * refuse (CMakeLists.txt defines DEFECT_<name>); without a defect macro it
 * would be a good plugin, so each refusal test changes exactly one thing.
 *
 *   fixture_noentry     exports no gnarl_plugin_entry
 *   fixture_abi2        built for ABI major 2
 *   fixture_short       descriptor smaller than ABI 1.0's
 *   fixture_noops       no ops table
 *   fixture_shortops    ops table smaller than ABI 1.0's
 *   fixture_missingop   ops without compute
 *   fixture_badparams   a parameter whose default breaks its own range
 *   fixture_halfmemory  memory_size without connect_memory (ABI 1.1)
 *   fixture_narrowparams  param_size smaller than ABI 1.0's struct
 *   fixture_createfail  loads fine; create fails with its own message
 *                       unless the REQUIRED `answer` is 42
 */
#include <stdio.h>
#include <stdlib.h>

#include <gnarl/plugin.h>

#ifndef FIXTURE_NAME
#error "define FIXTURE_NAME"
#endif

static const struct gnarl_param params[] = {
#if defined(DEFECT_badparams)
	{"rate", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MAX, "2.0", 0, 1, "a rate", NULL},
#elif defined(DEFECT_createfail)
	{"answer", GNARL_PARAM_INT, 0, GNARL_PARAM_REQUIRED, NULL, 0, 0, "must be 42", NULL},
#endif
	GNARL_PARAMS_END,
};

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	(void)n_envs;
#if defined(DEFECT_createfail)
	int64_t answer = gnarl_param_int(host, "answer", 0);

	if (answer != 42) {
		snprintf(err, GNARL_ERR_SIZE, "answer must be 42, got %lld", (long long)answer);
		return NULL;
	}
#else
	(void)host;
	(void)err;
#endif
	return malloc(1);
}

static void destroy(void *term)
{
	free(term);
}

static void episode_start(void *term, uint32_t index, const struct gnarl_game_state *state)
{
	(void)term;
	(void)index;
	(void)state;
}

#if defined(DEFECT_missingop)
__attribute__((unused))
#endif
static void compute(void *term, uint32_t first, uint32_t count,
                    const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                    const int32_t *actions, float *out)
{
	(void)term;
	(void)prev;
	(void)cur;
	(void)actions;
	for (uint32_t i = first; i < first + count; i++)
		out[i] = 0;
}

#if defined(DEFECT_halfmemory)
static size_t memory_size(void *term)
{
	(void)term;
	return 4;
}
#endif

#if defined(DEFECT_noops)
__attribute__((unused))
#endif
static const struct gnarl_reward_ops ops = {
#if defined(DEFECT_shortops)
	.size = 8,
#else
	.size = sizeof(struct gnarl_reward_ops),
#endif
	.create = create,
	.destroy = destroy,
	.episode_start = episode_start,
#if !defined(DEFECT_missingop)
	.compute = compute,
#endif
#if defined(DEFECT_halfmemory)
	.memory_size = memory_size,
#endif
};

static const struct gnarl_plugin plugin = {
#if defined(DEFECT_abi2)
	.abi_version = (2u << 16) | 0,
#else
	.abi_version = GNARL_ABI_VERSION,
#endif
#if defined(DEFECT_short)
	.size = 16,
#else
	.size = sizeof(struct gnarl_plugin),
#endif
	.kind = GNARL_KIND_REWARD,
	.name = FIXTURE_NAME,
	.version = "0.0.1",
	.summary = "test fixture: " FIXTURE_NAME,
	.params = params,
#if !defined(DEFECT_noops)
	.ops.reward = &ops,
#endif
#if defined(DEFECT_narrowparams)
	.param_size = 8,
#else
	.param_size = sizeof(struct gnarl_param),
#endif
};

#if defined(DEFECT_noentry)
/* Something to export instead, so the .so is otherwise normal. */
GNARL_EXPORT const struct gnarl_plugin *fixture_not_the_entry(void);
GNARL_EXPORT const struct gnarl_plugin *fixture_not_the_entry(void)
{
	return &plugin;
}
#else
GNARL_PLUGIN_ENTRY(&plugin)
#endif
