/*
 * test_llm_guidance.c - guidance end to end: a YAML config with an `llm`
 * list, loaded and opened by the core (config, registry, plugin host), the
 * real llm_vision and llm_text plugins talking to the real test server
 * process, the real overworld env stepping 8 envs, and core/guidance.c in
 * between, the way the rollout will drive it: draw, env step (frames where
 * wanted), resets, update.
 *
 * Checks: plugin defaults filled from the config (probability null), the
 * draw order (vision first), requests carry the env's real state and a
 * decodable 160x144 PNG of its frame, suggestions land in the advice block
 * as the server's action, the alignment bonus is paid exactly when the
 * action taken equals the suggestion shown, gauges of both the plugins and
 * guidance exist, and everything is torn down with requests in flight.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "gauges.h"
#include "guidance.h"
#include "plugin_host.h"
#include "registry.h"
#include "rng.h"

#include "llm_server.h"
#include "llm_test_host.h"

#define N 8

static struct llm_server server;

struct gauge_probe {
	const char *name;
	double value;
};

static void probe_each(void *ctx, const char *name, double value)
{
	struct gauge_probe *p = ctx;

	if (strcmp(p->name, name) == 0)
		p->value = value;
}

static double gauge(struct gnarl_gauges *g, const char *name)
{
	struct gauge_probe p = {name, -1};

	gnarl_gauges_each(g, probe_each, &p);
	return p.value;
}

static void write_config(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
	        "run: {seed: 3}\n"
	        "env:\n"
	        "  plugin: overworld\n"
	        "  num_envs: %d\n"
	        "  params: {world_seed: 2}\n"
	        "rewards: []\n"
	        "llm:\n"
	        "  - plugin: llm_text\n"
	        "    ttl: 24\n"
	        "    params: {endpoint: \"%s\", max_retries: 0, timeout_ms: 4000}\n"
	        "  - plugin: llm_vision\n"
	        "    probability: 0.05\n"
	        "    ttl: 24\n"
	        "    params: {endpoint: \"%s/v1\", image_format: png, image_scale: 1}\n",
	        N, server.base, server.base);
	fclose(f);
}

struct env {
	const struct gnarl_env_ops *ops;
	void *env;
	struct gnarl_plugin_host *host;
	struct gnarl_env_spaces sp;
	struct gnarl_env_io io;
	uint32_t stride, offset;
	float *obs;
	struct gnarl_game_state states[N];
	int32_t actions[N];
	float rewards[N];
	uint8_t dones[N], want[N];
	uint8_t *frames;
};

static void env_open(struct env *e, const struct gnarl_registry *reg,
                     const struct gnarl_host_context *ctx)
{
	const struct gnarl_registry_entry *en = gnarl_registry_env(reg);
	char err[GNARL_ERR_SIZE];

	memset(e, 0, sizeof(*e));
	e->ops = en->desc->ops.env;
	assert_int_equal(gnarl_registry_host(en, ctx, &e->host, err), 0);
	e->env = e->ops->create(gnarl_plugin_host_table(e->host), N, err);
	if (!e->env)
		fail_msg("env: %s", err);
	e->sp.size = sizeof(e->sp);
	e->ops->spaces(e->env, &e->sp);
	assert_true(e->sp.has_frames && e->sp.has_game_state);
	e->offset = e->sp.obs_dim;
	e->stride = e->sp.obs_dim + gnarl_guidance_advice_size(e->sp.n_actions);
	e->obs = calloc((size_t)N * e->stride, sizeof(float));
	e->frames = calloc(N, GNARL_FRAME_BYTES);
	assert_true(e->obs && e->frames);
	e->io = (struct gnarl_env_io){sizeof(e->io), e->stride, e->obs, e->states, e->actions,
	                              e->rewards, e->dones, e->want, e->frames};
	for (uint32_t n = 0; n < N; n++)
		e->ops->reset(e->env, &e->io, n, 1000 + n);
}

static void env_close(struct env *e)
{
	e->ops->destroy(e->env);
	gnarl_plugin_host_free(e->host);
	free(e->obs);
	free(e->frames);
}

/* draw, env step with frames where wanted, resets, update. */
static void guided_step(struct gnarl_guidance *g, struct env *e, uint64_t seed)
{
	struct gnarl_guidance_step st = {e->dones, e->states, e->frames, e->obs,
	                                 e->stride, e->offset};

	gnarl_guidance_draw(g, e->actions, e->want);
	e->ops->step(e->env, &e->io, 0, N);
	for (uint32_t n = 0; n < N; n++)
		if (e->dones[n])
			e->ops->reset(e->env, &e->io, n, seed + n);
	gnarl_guidance_update(g, &st);
}

/* The index of the first recorded request whose user content has parts. */
static long first_vision_request(json_t *log, long *text_index)
{
	long vision = -1;

	*text_index = -1;
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *body = json_loads(json_string_value(json_object_get(json_array_get(log, i),
		                                                             "body")), 0, NULL);
		json_t *msgs = json_object_get(body, "messages");
		json_t *content = json_object_get(json_array_get(msgs, json_array_size(msgs) - 1),
		                                  "content");

		if (json_is_array(content) && vision < 0)
			vision = (long)i;
		if (json_is_string(content) && *text_index < 0)
			*text_index = (long)i;
		json_decref(body);
	}
	return vision;
}

static void test_guidance_end_to_end(void **unused)
{
	char path[400], err[GNARL_ERR_SIZE], index[32];
	struct gnarl_config *cfg = NULL;
	struct gnarl_registry *reg = NULL;
	struct gnarl_gauges *gauges = NULL;
	struct gnarl_guidance *g = NULL;
	struct gnarl_rng rng;
	struct env e;
	const float *bonus[2];
	int32_t shown[N];
	long paid = 0, shown_steps = 0, matched = 0, text_i;
	json_t *log;

	(void)unused;
	assert_int_equal(llm_server_control(&server, "{\"default\": {\"kind\": \"action\", "
	                                              "\"action\": \"RIGHT\", \"delay_ms\": 20}}"),
	                 0);
	snprintf(path, sizeof(path), "%s/config.yaml", server.dir);
	write_config(path);
	if (gnarl_config_load(path, NULL, 0, &cfg, err) != 0 ||
	    gnarl_registry_open(cfg, &reg, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(gnarl_gauges_create(&gauges), 0);
	struct gnarl_host_context ctx = {.config = cfg, .gauges = gauges, .world_size = 1};

	env_open(&e, reg, &ctx);
	struct gnarl_guidance_spec spec = {N, e.sp.n_actions, e.sp.action_names, true, true, 11};

	if (gnarl_guidance_open(reg, &ctx, &spec, &g, err) != 0)
		fail_msg("guidance: %s", err);
	assert_int_equal(gnarl_guidance_count(g), 2);
	assert_string_equal(gnarl_guidance_name(g, 0), "llm_text");
	assert_string_equal(gnarl_guidance_name(g, 1), "llm_vision");
	/* The plugins' gauges exist from create on, next to guidance's. */
	assert_true(gauge(gauges, "llm_text/calls") == 0);
	assert_true(gauge(gauges, "llm_vision/breaker_open") == 0);
	assert_true(gauge(gauges, "llm_text/requests") == 0);
	/* probability null took llm_text's default; alignment bonus defaults too. */
	assert_true(gauge(gauges, "llm_text/bonus") == 5.0);
	assert_true(gauge(gauges, "llm_vision/bonus") == 50.0);

	gnarl_guidance_write_advice(g, e.obs, e.stride, e.offset);
	gnarl_rng_seed(&rng, 5);
	for (int t = 0; t < 3000; t++) {
		for (uint32_t n = 0; n < N; n++) {
			const float *adv = e.obs + (size_t)n * e.stride + e.offset;

			shown[n] = -1;
			for (uint32_t a = 0; a < e.sp.n_actions; a++)
				if (adv[a] == 1.0f)
					shown[n] = (int32_t)a;
			/* half the time do what the advice says, else anything */
			e.actions[n] = shown[n] >= 0 && gnarl_rng_below(&rng, 2)
			                   ? shown[n] : (int32_t)gnarl_rng_below(&rng, e.sp.n_actions);
		}
		guided_step(g, &e, 5000 + (uint64_t)t * N);
		bonus[0] = gnarl_guidance_bonus(g, 0);
		bonus[1] = gnarl_guidance_bonus(g, 1);
		for (uint32_t n = 0; n < N; n++) {
			bool match = shown[n] >= 0 && e.actions[n] == shown[n];
			float b = bonus[0][n] + bonus[1][n];

			if (shown[n] >= 0) {
				shown_steps++;
				assert_int_equal(shown[n], 4);  /* the server only says RIGHT */
			}
			matched += match;
			paid += b > 0;
			/* paid exactly when the action equals the advice shown */
			assert_true(match == (b == 5.0f || b == 50.0f));
		}
		th_sleep_ms(1);  /* an env at ~1000 steps/s: replies land within ttl */
	}
	gnarl_guidance_publish(g);
	print_message("3000 steps x %d envs: text requests %.0f, vision requests %.0f, "
	              "suggestions %.0f + %.0f, advice shown %ld env-steps, bonus paid %ld, "
	              "plugin calls %.0f + %.0f, latency p50 %.0f ms\n", N,
	              gauge(gauges, "llm_text/requests"), gauge(gauges, "llm_vision/requests"),
	              gauge(gauges, "llm_text/suggestions"), gauge(gauges, "llm_vision/suggestions"),
	              shown_steps, paid, gauge(gauges, "llm_text/calls"),
	              gauge(gauges, "llm_vision/calls"), gauge(gauges, "llm_vision/latency_p50_ms"));
	assert_true(gauge(gauges, "llm_text/requests") >= 5);
	assert_true(gauge(gauges, "llm_vision/requests") >= 5);
	assert_true(gauge(gauges, "llm_text/suggestions") >= 1);
	assert_true(gauge(gauges, "llm_vision/suggestions") >= 1);
	assert_true(shown_steps > 0 && matched > 0);
	assert_int_equal(paid, matched);
	/* guidance's requests are the plugins' calls (none was invalid); the
	 * plugin's worker publishes its gauges within 250 ms */
	for (double end = th_now_ms() + 3000; th_now_ms() < end; th_sleep_ms(10))
		if (gauge(gauges, "llm_vision/calls") == gauge(gauges, "llm_vision/requests") &&
		    gauge(gauges, "llm_text/calls") == gauge(gauges, "llm_text/requests"))
			break;
	assert_true(gauge(gauges, "llm_vision/calls") == gauge(gauges, "llm_vision/requests"));
	assert_true(gauge(gauges, "llm_text/calls") == gauge(gauges, "llm_text/requests"));

	/* Tear down with requests in flight: the server now holds every reply
	 * until released, so a free that waited for one would never return. */
	assert_int_equal(llm_server_control(&server, "{\"default\": {\"kind\": \"action\", "
	                                              "\"action\": \"RIGHT\", \"hold\": true}}"),
	                 0);
	/* Steps at an env's pace until a request is held: the plugin's worker
	 * sends it when the scheduler lets it (seconds on a loaded machine). */
	for (uint64_t t = 0, end = (uint64_t)th_now_ms() + 120000;
	     llm_server_count(&server, "held") < 1 && (uint64_t)th_now_ms() < end; t++) {
		guided_step(g, &e, 90000 + t * N);
		th_sleep_ms(1);
	}
	assert_true(llm_server_count(&server, "held") >= 1);
	/* Every request the server has is answered or held (those that came
	 * before the change are answered at once): nothing else can reply. */
	while (llm_server_count(&server, "answered") + llm_server_count(&server, "held") <
	       llm_server_requests(&server))
		th_sleep_ms(5);
	long before = llm_server_count(&server, "answered");
	gnarl_guidance_free(g);
	assert_int_equal(llm_server_count(&server, "answered"), before);
	assert_int_equal(llm_server_control(&server, "{\"release\": true}"), 0);

	/* What went over the wire: the env's real state and frame. */
	log = llm_server_log(&server);
	long vision_i = first_vision_request(log, &text_i);

	assert_true(vision_i >= 0 && text_i >= 0);
	{
		json_t *body = json_loads(json_string_value(json_object_get(
		                              json_array_get(log, (size_t)text_i), "body")), 0, NULL);
		json_t *msgs = json_object_get(body, "messages");
		const char *user = json_string_value(json_object_get(json_array_get(msgs, 1),
		                                                     "content"));

		assert_non_null(strstr(user, "Location: "));
		assert_non_null(strstr(user, "Hearts: "));
		assert_null(strstr(user, "{"));  /* every placeholder filled */
		json_decref(body);
	}
	json_decref(log);
	snprintf(index, sizeof(index), "%ld", vision_i);
	{
		const char *args[] = {"--log", server.log_path, "--index", index, "--format", "png",
		                      "--width", "160", "--height", "144", "--size-only", NULL};

		assert_int_equal(llm_run_checker(args), 0);
	}
	env_close(&e);
	gnarl_registry_free(reg);
	gnarl_config_free(cfg);
	gnarl_gauges_free(gauges);
}

static int setup(void **state)
{
	(void)state;
	return llm_server_start(&server, NULL);
}

static int teardown(void **state)
{
	char path[400];

	(void)state;
	snprintf(path, sizeof(path), "%s/config.yaml", server.dir);
	unlink(path);
	llm_server_stop(&server);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guidance_end_to_end),
	};

	return cmocka_run_group_tests_name("llm_guidance", tests, setup, teardown);
}
