/*
 * llm_plugin.c - the part of llm_text and llm_vision that is the same:
 * read and check the parameters, resolve the endpoint and the key, compile
 * the prompts, build each request's JSON body (on the client's worker
 * thread), and forward request/poll to the client.
 *
 * Entry points: gnarl_llm_plugin_create/_destroy/_request/_poll.
 * Invariant: request and poll only forward to the client, which copies
 * into preallocated slots; nothing here runs on the step path otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include "llm_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "llm_client.h"
#include "llm_image.h"
#include "llm_prompt.h"

struct gnarl_llm_plugin {
	const struct gnarl_llm_kind *kind;
	const struct gnarl_host *host;
	struct gnarl_llm_client *client;
	struct gnarl_llm_template *system, *user;
	struct gnarl_llm_rooms *rooms;
	char *model;
	int64_t max_tokens;
	double temperature;
	enum gnarl_llm_image_format format;
	int quality;
	uint32_t w, h;
	uint8_t *scaled;               /* w*h*3, the worker's scratch */
	struct gnarl_llm_buf image;    /* the worker's scratch */
};

/* ---- request bodies (worker thread) ----------------------------------------- */

static json_t *user_content(struct gnarl_llm_plugin *p, const struct gnarl_llm_job *job,
                            const char *text, char err[GNARL_ERR_SIZE])
{
	json_t *parts, *image;

	if (!p->kind->vision || !job->frame)
		return json_string(text);
	gnarl_llm_image_scale(job->frame, p->w, p->h, p->scaled);
	gnarl_llm_buf_clear(&p->image);
	if (gnarl_llm_image_data_url(p->format, p->scaled, p->w, p->h, p->quality, &p->image, err,
	                             GNARL_ERR_SIZE) < 0)
		return NULL;
	image = json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url", "url", p->image.data);
	parts = json_pack("[{s:s, s:s}, o]", "type", "text", "text", text, image);
	return parts;
}

static int build_body(void *ctx, const struct gnarl_llm_job *job, struct gnarl_llm_buf *body,
                      char err[GNARL_ERR_SIZE])
{
	struct gnarl_llm_plugin *p = ctx;
	struct gnarl_llm_prompt_input in = {&job->state, job->last_suggestion, job->n_actions,
	                                    (const char(*)[GNARL_LLM_NAME_MAX])job->names, p->rooms};
	struct gnarl_llm_buf sys = {0}, user = {0};
	json_t *root = NULL, *messages, *content;
	char *text = NULL;
	int rc = -1;

	gnarl_llm_err(err, "out of memory building the request");
	if (gnarl_llm_template_render(p->system, &in, &sys) < 0 ||
	    gnarl_llm_template_render(p->user, &in, &user) < 0)
		goto out;
	gnarl_llm_err(err, "the prompt is not valid UTF-8 (check system_prompt, user_prompt, room_names)");
	if (!(messages = json_array()))
		goto out;
	root = json_pack("{s:o, s:I, s:f}", "messages", messages, "max_tokens",
	                 (json_int_t)p->max_tokens, "temperature", p->temperature);
	if (!root)
		goto out;
	if (p->model && json_object_set_new(root, "model", json_string(p->model)) < 0)
		goto out;
	if (sys.len && json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "system",
	                                                         "content", sys.data)) < 0)
		goto out;
	if (!(content = user_content(p, job, user.data, err)))
		goto out;
	if (json_array_append_new(messages, json_pack("{s:s, s:o}", "role", "user", "content",
	                                              content)) < 0)
		goto out;
	if (!(text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9))) || gnarl_llm_buf_puts(body, text) < 0)
		goto out;
	rc = 0;
out:
	free(text);
	json_decref(root);
	gnarl_llm_buf_free(&sys);
	gnarl_llm_buf_free(&user);
	return rc;
}

/* ---- create ------------------------------------------------------------------ */

static bool ends_with(const char *s, size_t n, const char *tail)
{
	size_t t = strlen(tail);

	return n >= t && memcmp(s + n - t, tail, t) == 0;
}

/* The chat completions URL from a base URL or a full one; owned. */
static char *resolve_url(const char *name, const char *endpoint, char err[GNARL_ERR_SIZE])
{
	size_t n;
	char *url;

	if (!endpoint || !endpoint[0]) {
		gnarl_llm_err(err, "%s: no endpoint: set params.endpoint or LLM_ENDPOINT (e.g. "
		        "http://127.0.0.1:8000 for vLLM, http://127.0.0.1:11434/v1 for Ollama)", name);
		return NULL;
	}
	if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
		gnarl_llm_err(err, "%s: endpoint '%s' must start with http:// or https://", name, endpoint);
		return NULL;
	}
	n = strlen(endpoint);
	while (n && endpoint[n - 1] == '/')
		n--;
	url = malloc(n + sizeof("/v1/chat/completions"));
	if (!url) {
		gnarl_llm_err(err, "%s: out of memory", name);
		return NULL;
	}
	memcpy(url, endpoint, n);
	url[n] = '\0';
	if (ends_with(url, n, "/chat/completions"))
		return url;
	strcat(url, ends_with(url, n, "/v1") ? "/chat/completions" : "/v1/chat/completions");
	return url;
}

/* url without any user:password@ part, for logs. */
static void redact(const char *url, char *out, size_t size)
{
	const char *host = strstr(url, "://");
	const char *at, *slash;

	host = host ? host + 3 : url;
	slash = strchr(host, '/');
	at = strchr(host, '@');
	if (at && (!slash || at < slash))
		snprintf(out, size, "%.*s***%s", (int)(host - url), url, at);
	else
		snprintf(out, size, "%s", url);
}

static int read_image_params(struct gnarl_llm_plugin *p, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = p->host;
	const char *format = gnarl_param_string(h, "image_format",
	                                        GNARL_LLM_YAML(GNARL_LLM_IMAGE_FORMAT));
	double scale = gnarl_param_float(h, "image_scale", GNARL_LLM_IMAGE_SCALE);

	if (strcmp(format, "png") == 0) {
		p->format = GNARL_LLM_IMAGE_PNG;
	} else if (strcmp(format, "jpeg") == 0) {
		p->format = GNARL_LLM_IMAGE_JPEG;
	} else {
		gnarl_llm_err(err, "%s: image_format '%s' is not png or jpeg", p->kind->name, format);
		return GNARL_ECONFIG;
	}
	if (!gnarl_llm_image_supported(p->format)) {
		gnarl_llm_err(err, "%s: image_format %s: this build has no libjpeg; use png", p->kind->name,
		        format);
		return GNARL_EUNSUPPORTED;
	}
	if (!(scale > 0.0) || scale > 8.0) {
		gnarl_llm_err(err, "%s: image_scale %g is outside (0, 8]", p->kind->name, scale);
		return GNARL_ECONFIG;
	}
	p->quality = (int)gnarl_param_int(h, "image_quality", GNARL_LLM_IMAGE_QUALITY);
	gnarl_llm_image_size(scale, &p->w, &p->h);
	if (!(p->scaled = malloc((size_t)p->w * p->h * 3))) {
		gnarl_llm_err(err, "%s: out of memory", p->kind->name);
		return GNARL_ENOMEM;
	}
	return 0;
}

static int read_prompts(struct gnarl_llm_plugin *p, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = p->host;
	const char *sys = gnarl_param_string(h, "system_prompt", GNARL_LLM_SYSTEM_PROMPT);
	const char *user = gnarl_param_string(h, "user_prompt", p->kind->user_prompt);
	char msg[GNARL_ERR_SIZE];

	if (gnarl_llm_template_compile(sys, "system_prompt", &p->system, msg) < 0 ||
	    gnarl_llm_template_compile(user, "user_prompt", &p->user, msg) < 0 ||
	    gnarl_llm_rooms_create(h->param(h, "room_names"), &p->rooms, msg) < 0) {
		gnarl_llm_err(err, "%s: %s", p->kind->name, msg);
		return GNARL_ECONFIG;
	}
	return 0;
}

static int read_key(struct gnarl_llm_plugin *p, const char **key, char err[GNARL_ERR_SIZE])
{
	const char *var = gnarl_param_string(p->host, "api_key_env", NULL);

	*key = NULL;
	if (!var || !var[0])
		return 0;
	*key = getenv(var);
	if (!*key || !(*key)[0]) {
		gnarl_llm_err(err, "%s: api_key_env names %s, but that environment variable is not set "
		        "(export it, or set api_key_env: null for a server without keys)",
		        p->kind->name, var);
		return GNARL_ECONFIG;
	}
	return 0;
}

static int start_client(struct gnarl_llm_plugin *p, const char *url, const char *key,
                        char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = p->host;
	struct gnarl_llm_client_config cfg = {
		.host = h,
		.name = p->kind->name,
		.url = url,
		.api_key = key,
		.max_in_flight = (uint32_t)gnarl_param_int(h, "max_in_flight", GNARL_LLM_MAX_IN_FLIGHT),
		.timeout_ms = (uint32_t)gnarl_param_int(h, "timeout_ms", GNARL_LLM_TIMEOUT_MS),
		.max_retries = (uint32_t)gnarl_param_int(h, "max_retries", GNARL_LLM_MAX_RETRIES),
		.retry_backoff_ms =
		    (uint32_t)gnarl_param_int(h, "retry_backoff_ms", GNARL_LLM_RETRY_BACKOFF_MS),
		.breaker_failures =
		    (uint32_t)gnarl_param_int(h, "breaker_failures", GNARL_LLM_BREAKER_FAILURES),
		.breaker_cooldown_ms =
		    (uint32_t)gnarl_param_int(h, "breaker_cooldown_ms", GNARL_LLM_BREAKER_COOLDOWN_MS),
		.wants_frames = p->kind->vision,
		.seed = h->seed,
		.body = build_body,
		.body_ctx = p,
	};

	if (cfg.max_in_flight < 1 || cfg.breaker_failures < 1 || cfg.timeout_ms < 1) {
		gnarl_llm_err(err, "%s: max_in_flight, breaker_failures and timeout_ms must be >= 1",
		        p->kind->name);
		return GNARL_ECONFIG;
	}
	return gnarl_llm_client_create(&cfg, &p->client, err);
}

void *gnarl_llm_plugin_create(const struct gnarl_llm_kind *kind, const struct gnarl_host *host,
                              uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct gnarl_llm_plugin *p = calloc(1, sizeof(*p));
	const char *endpoint, *model, *key;
	char *url = NULL;
	char shown[512];

	(void)n_envs;
	if (!p) {
		gnarl_llm_err(err, "%s: out of memory", kind->name);
		return NULL;
	}
	p->kind = kind;
	p->host = host;
	endpoint = gnarl_param_string(host, "endpoint", NULL);
	if (!endpoint || !endpoint[0])
		endpoint = getenv("LLM_ENDPOINT");
	if (!(url = resolve_url(kind->name, endpoint, err)))
		goto fail;
	model = gnarl_param_string(host, "model", NULL);
	if (model && model[0] && !(p->model = strdup(model))) {
		gnarl_llm_err(err, "%s: out of memory", kind->name);
		goto fail;
	}
	p->max_tokens = gnarl_param_int(host, "max_tokens", GNARL_LLM_MAX_TOKENS);
	p->temperature = gnarl_param_float(host, "temperature", GNARL_LLM_TEMPERATURE);
	if (read_prompts(p, err) < 0 || read_key(p, &key, err) < 0)
		goto fail;
	if (kind->vision && read_image_params(p, err) < 0)
		goto fail;
	if (start_client(p, url, key, err) < 0)
		goto fail;
	redact(url, shown, sizeof(shown));
	if (kind->vision)
		host->log(host, GNARL_LOG_INFO, "asking %s (model %s%s) with %ux%u %s frames", shown,
		          p->model ? p->model : "unset", key ? ", with an API key" : "", p->w, p->h,
		          p->format == GNARL_LLM_IMAGE_PNG ? "PNG" : "JPEG");
	else
		host->log(host, GNARL_LOG_INFO, "asking %s (model %s%s)", shown,
		          p->model ? p->model : "unset", key ? ", with an API key" : "");
	free(url);
	return p;
fail:
	free(url);
	gnarl_llm_plugin_destroy(p);
	return NULL;
}

void gnarl_llm_plugin_destroy(void *plugin)
{
	struct gnarl_llm_plugin *p = plugin;

	if (!p)
		return;
	gnarl_llm_client_destroy(p->client);  /* first: the worker uses the rest */
	gnarl_llm_template_free(p->system);
	gnarl_llm_template_free(p->user);
	gnarl_llm_rooms_free(p->rooms);
	gnarl_llm_buf_free(&p->image);
	free(p->scaled);
	free(p->model);
	free(p);
}

int gnarl_llm_plugin_request(void *plugin, const struct gnarl_llm_request *req)
{
	struct gnarl_llm_plugin *p = plugin;

	return gnarl_llm_client_request(p->client, req);
}

uint32_t gnarl_llm_plugin_poll(void *plugin, struct gnarl_llm_suggestion *out, uint32_t max)
{
	struct gnarl_llm_plugin *p = plugin;

	return gnarl_llm_client_poll(p->client, out, max);
}
