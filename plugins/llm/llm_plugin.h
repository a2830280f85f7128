/*
 * llm_plugin.h - what llm_text and llm_vision share: their parameters, and
 * create/destroy/request/poll built on the OpenAI-compatible client.  Each
 * plugin file only declares its descriptor, its default prompts and, for
 * vision, the image parameters.
 */
#ifndef GNARL_LLM_PLUGIN_H
#define GNARL_LLM_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

/* A C string literal as YAML text: a C literal without adjacent-literal
 * concatenation is a valid YAML double-quoted scalar (same \n, \", \\). */
#define GNARL_LLM_YAML_(x) #x
#define GNARL_LLM_YAML(x) GNARL_LLM_YAML_(x)

/* Defaults: one place for the param tables and the code's fallbacks. */
#define GNARL_LLM_MAX_TOKENS 64
#define GNARL_LLM_TEMPERATURE 0.2
#define GNARL_LLM_MAX_IN_FLIGHT 8
#define GNARL_LLM_TIMEOUT_MS 10000
#define GNARL_LLM_MAX_RETRIES 2
#define GNARL_LLM_RETRY_BACKOFF_MS 250
#define GNARL_LLM_BREAKER_FAILURES 5
#define GNARL_LLM_BREAKER_COOLDOWN_MS 30000
#define GNARL_LLM_IMAGE_FORMAT png
#define GNARL_LLM_IMAGE_SCALE 2.0
#define GNARL_LLM_IMAGE_QUALITY 75

/* The system prompt both plugins default to. */
#define GNARL_LLM_SYSTEM_PROMPT                                                               \
	"You guide a player of The Legend of Zelda: Oracle of Seasons (Game Boy Color), who \
explores the world, fights enemies and looks for the next dungeon. Reply with exactly two \
lines:\nSCENE: <one short sentence>\nACTION: <one of {actions}>"

/* The parameters both plugins declare, in table order (no terminator). */
#define GNARL_LLM_COMMON_PARAMS(user_prompt)                                                  \
	{"endpoint", GNARL_PARAM_STRING, 0, 0, "null", 0, 0,                                  \
	 "server base URL (http://host:port or .../v1) or full .../chat/completions URL; "    \
	 "null: $LLM_ENDPOINT", NULL},                                                         \
	{"model", GNARL_PARAM_STRING, 0, 0, "null", 0, 0,                                     \
	 "model name sent to the server; null: none (servers with one model)", NULL},         \
	{"api_key_env", GNARL_PARAM_STRING, 0, 0, "null", 0, 0,                               \
	 "name of the environment variable holding the API key (sent as a bearer token, "     \
	 "never logged); null: no key", NULL},                                                 \
	{"max_tokens", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,         \
	 GNARL_LLM_YAML(GNARL_LLM_MAX_TOKENS), 1, 32768, "max_tokens of each reply", NULL},     \
	{"temperature", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,      \
	 GNARL_LLM_YAML(GNARL_LLM_TEMPERATURE), 0, 2, "sampling temperature", NULL},            \
	{"system_prompt", GNARL_PARAM_STRING, 0, 0, GNARL_LLM_YAML(GNARL_LLM_SYSTEM_PROMPT),   \
	 0, 0, "system message template ({placeholders}: see README); \"\": none", NULL},      \
	{"user_prompt", GNARL_PARAM_STRING, 0, 0, GNARL_LLM_YAML(user_prompt), 0, 0,           \
	 "user message template, filled from the game state", NULL},                          \
	{"room_names", GNARL_PARAM_MAP, 0, 0, "null", 0, 0,                                   \
	 "names of rooms for {location}: {\"<group>/<room>\": name}, e.g. {\"0/0x12\": "      \
	 "\"Horon Village\"}", NULL},                                                          \
	{"max_in_flight", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,      \
	 GNARL_LLM_YAML(GNARL_LLM_MAX_IN_FLIGHT), 1, 256,                                      \
	 "requests queued, running or unpolled at once; more are skipped", NULL},             \
	{"timeout_ms", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,         \
	 GNARL_LLM_YAML(GNARL_LLM_TIMEOUT_MS), 10, 600000,                                     \
	 "deadline of a request, retries included", NULL},                                    \
	{"max_retries", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,        \
	 GNARL_LLM_YAML(GNARL_LLM_MAX_RETRIES), 0, 20,                                         \
	 "retries on 429 (not insufficient_quota), 500, 502, 503, 504", NULL},                \
	{"retry_backoff_ms", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,   \
	 GNARL_LLM_YAML(GNARL_LLM_RETRY_BACKOFF_MS), 1, 600000,                                \
	 "first retry delay, doubled per attempt (and for 503); Retry-After wins if longer",  \
	 NULL},                                                                                \
	{"breaker_failures", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,   \
	 GNARL_LLM_YAML(GNARL_LLM_BREAKER_FAILURES), 1, 100000,                                \
	 "consecutive failed requests that open the circuit breaker", NULL},                  \
	{"breaker_cooldown_ms", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,\
	 GNARL_LLM_YAML(GNARL_LLM_BREAKER_COOLDOWN_MS), 10, 86400000,                          \
	 "how long an open breaker refuses calls before one probe", NULL}

/* What differs between the two plugins. */
struct gnarl_llm_kind {
	const char *name;          /* "llm_text", "llm_vision" */
	bool vision;               /* sends the frame as an image part */
	const char *user_prompt;   /* the default user template */
};

/* Define the plugin's kind, create, ops, descriptor and exported entry. */
#define GNARL_LLM_PLUGIN(name_text, vision_flag, user_prompt_text, ops_flags, probability,    \
                         bonus, summary_text, param_table)                                    \
	static const struct gnarl_llm_kind llm_kind = {                                       \
		.name = (name_text),                                                          \
		.vision = (vision_flag),                                                      \
		.user_prompt = (user_prompt_text),                                            \
	};                                                                                    \
	static void *llm_create(const struct gnarl_host *host, uint32_t n_envs,               \
	                        char err[GNARL_ERR_SIZE])                                     \
	{                                                                                     \
		return gnarl_llm_plugin_create(&llm_kind, host, n_envs, err);                 \
	}                                                                                     \
	static const struct gnarl_llm_ops llm_ops = {                                         \
		.size = sizeof(struct gnarl_llm_ops),                                         \
		.flags = (ops_flags),                                                         \
		.default_probability = (probability),                                         \
		.default_alignment_bonus = (bonus),                                           \
		.create = llm_create,                                                         \
		.destroy = gnarl_llm_plugin_destroy,                                          \
		.request = gnarl_llm_plugin_request,                                          \
		.poll = gnarl_llm_plugin_poll,                                                \
	};                                                                                    \
	static const struct gnarl_plugin llm_descriptor = {                                   \
		.abi_version = GNARL_ABI_VERSION,                                             \
		.size = sizeof(struct gnarl_plugin),                                          \
		.kind = GNARL_KIND_LLM,                                                       \
		.version = "1.0.0",                                                           \
		.name = (name_text),                                                          \
		.summary = (summary_text),                                                    \
		.params = (param_table),                                                      \
		.ops.llm = &llm_ops,                                                          \
	};                                                                                    \
	GNARL_PLUGIN_ENTRY(&llm_descriptor)

void *gnarl_llm_plugin_create(const struct gnarl_llm_kind *kind, const struct gnarl_host *host,
                              uint32_t n_envs, char err[GNARL_ERR_SIZE]);
void gnarl_llm_plugin_destroy(void *plugin);
int gnarl_llm_plugin_request(void *plugin, const struct gnarl_llm_request *req);
uint32_t gnarl_llm_plugin_poll(void *plugin, struct gnarl_llm_suggestion *out, uint32_t max);

#endif /* GNARL_LLM_PLUGIN_H */
