/*
 * fixture_llm.c - a good LLM plugin for the tests that never answers;
 * its default probability and bonus let the registry's fill-in be seen.
 * Also the "wrong kind" fixture when listed under rewards:.
 */
#include <stdlib.h>

#include <gnarl/plugin.h>

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	(void)host;
	(void)n_envs;
	(void)err;
	return malloc(1);
}

static void destroy(void *llm)
{
	free(llm);
}

static int request(void *llm, const struct gnarl_llm_request *req)
{
	(void)llm;
	(void)req;
	return GNARL_EBUSY;
}

static uint32_t poll_(void *llm, struct gnarl_llm_suggestion *out, uint32_t max)
{
	(void)llm;
	(void)out;
	(void)max;
	return 0;
}

static const struct gnarl_llm_ops ops = {
	.size = sizeof(struct gnarl_llm_ops),
	.default_probability = 0.25,
	.default_alignment_bonus = 0.5,
	.create = create,
	.destroy = destroy,
	.request = request,
	.poll = poll_,
};

static const struct gnarl_param params[] = {GNARL_PARAMS_END};

static const struct gnarl_plugin plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_LLM,
	.name = "fixture_llm",
	.version = "0.0.1",
	.summary = "test fixture: an LLM that is always busy",
	.params = params,
	.ops.llm = &ops,
};

GNARL_PLUGIN_ENTRY(&plugin)
