/*
 * test_llm_plugins.c - the real llm_text and llm_vision plugins against the
 * real test server process (tests/llm/server.py) on 127.0.0.1.
 *
 * Usage: test_llm_plugins <group>, group one of
 *   wire     request path, headers, JSON body, prompt filling, endpoint
 *            forms, no key in logs, the image part (checked in Python)
 *   parse    ACTION lines, JSON replies, garbage, truncated replies
 *   retry    429 + Retry-After, 500/503 retried; 400/401/404/quota not;
 *            retries exhausted; deadline
 *   breaker  opens after N failures (logged once), refuses calls, a failed
 *            probe reopens quietly, closes (logged once) when answers return
 *   flow     in-flight cap, request() never stalls on a slow or dead
 *            endpoint, destroy with requests in flight returns promptly
 * Each group starts its own server and stops it by PID.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dlfcn.h>
#include <jansson.h>

#include <gnarl/plugin.h>

#include "llm_server.h"
#include "llm_test_host.h"

static const char *const actions[] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};
#define N_ACTIONS 7
enum { NOP, UP, DOWN, LEFT, RIGHT, BTN_A, BTN_B };

static struct llm_server server;
static uint8_t frame[GNARL_FRAME_BYTES];

/* A plugin instance with its own test host. */
struct inst {
	void *so;
	const struct gnarl_plugin *desc;
	const struct gnarl_llm_ops *ops;
	void *llm;
	struct test_host th;
	char err[GNARL_ERR_SIZE];
	char prefix[32];
};

/* The frame check_image.py expects (its frame_pattern()). */
static void fill_frame(void)
{
	for (int y = 0; y < GNARL_FRAME_HEIGHT; y++)
		for (int x = 0; x < GNARL_FRAME_WIDTH; x++) {
			uint8_t *p = frame + ((size_t)y * GNARL_FRAME_WIDTH + x) * 3;

			p[0] = (uint8_t)(x * 255 / (GNARL_FRAME_WIDTH - 1));
			p[1] = (uint8_t)(y * 255 / (GNARL_FRAME_HEIGHT - 1));
			p[2] = ((x / 8 + y / 8) % 2) ? 200 : 40;
		}
}

static void state_init(struct gnarl_game_state *s)
{
	memset(s, 0, sizeof(*s));
	s->size = GNARL_GAME_STATE_V1_SIZE;
	s->group = 0;
	s->room = 0x12;
	s->dungeon = -1;
	s->x = 40;
	s->y = 56;
	s->direction = GNARL_DIR_DOWN;
	s->health = 11;
	s->max_health = 12;
	s->rupees = 42;
	s->keys = 1;
	s->sword_level = 1;
	s->enemies_visible = 2;
	s->season = 1;
	gnarl_set_treasure(s, GNARL_TREASURE_SWORD);
	gnarl_set_treasure(s, GNARL_TREASURE_GNARLED_KEY);
}

/* Params every test starts from: the server, quick retries. */
static void inst_init(struct inst *in, const char *plugin)
{
	memset(in, 0, sizeof(*in));
	th_init(&in->th, 42);
	snprintf(in->prefix, sizeof(in->prefix), "%s", plugin);
	in->desc = th_load(plugin, &in->so);
	assert_non_null(in->desc);
	assert_int_equal(in->desc->kind, GNARL_KIND_LLM);
	in->ops = in->desc->ops.llm;
	th_set_string(&in->th, "endpoint", server.base);
	th_set_int(&in->th, "retry_backoff_ms", 20);
	th_set_int(&in->th, "timeout_ms", 5000);
}

static void inst_create(struct inst *in)
{
	in->llm = in->ops->create(&in->th.host, 4, in->err);
	if (!in->llm)
		fail_msg("create failed: %s", in->err);
}

static void inst_fini(struct inst *in)
{
	if (in->ops)
		in->ops->destroy(in->llm);
	if (in->so)
		dlclose(in->so);
	th_fini(&in->th);
}

static double metric(struct inst *in, const char *what)
{
	char name[96];

	snprintf(name, sizeof(name), "%s/%s", in->prefix, what);
	return th_metric(&in->th, name);
}

static bool wait_metric(struct inst *in, const char *what, double value, int timeout_ms)
{
	char name[96];

	snprintf(name, sizeof(name), "%s/%s", in->prefix, what);
	return th_wait_metric(&in->th, name, value, timeout_ms);
}

static int submit(struct inst *in, uint32_t env, uint64_t id, const struct gnarl_game_state *s,
                  int32_t last)
{
	struct gnarl_llm_request req = {
		.size = sizeof(req),
		.env = env,
		.id = id,
		.state = s,
		.frame = (in->ops->flags & GNARL_LLM_WANTS_FRAME) ? frame : NULL,
		.last_suggestion = last,
		.n_actions = N_ACTIONS,
		.action_names = actions,
	};

	return in->ops->request(in->llm, &req);
}

/* Poll until one suggestion arrives (true) or timeout. */
static bool wait_suggestion(struct inst *in, struct gnarl_llm_suggestion *out, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (th_now_ms() < end) {
		if (in->ops->poll(in->llm, out, 1) == 1)
			return true;
		th_sleep_ms(2);
	}
	return in->ops->poll(in->llm, out, 1) == 1;
}

static void control(const char *fmt, ...)
{
	char body[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	assert_int_equal(llm_server_control(&server, body), 0);
}

/* The recorded request i (negative: from the end), parsed; borrowed from log. */
static json_t *request_at(json_t *log, long i)
{
	size_t n = json_array_size(log);

	assert_true(n > 0);
	return json_array_get(log, i < 0 ? (size_t)((long)n + i) : (size_t)i);
}

static json_t *body_of(json_t *req)
{
	return json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
}

static const char *header(json_t *req, const char *name)
{
	return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static int setup_server(void **state)
{
	(void)state;
	fill_frame();
	return llm_server_start(&server, NULL);
}

static int teardown_server(void **state)
{
	(void)state;
	llm_server_stop(&server);
	return 0;
}

/* ---- wire ------------------------------------------------------------------ */

static void test_wire_text_full(void **unused)
{
	struct gnarl_value rooms = {0}, room_items[1] = {{0}};
	const char *room_keys[] = {"0/0x12"};
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	json_t *log, *req, *body, *msgs;

	(void)unused;
	setenv("GNARL_TEST_LLM_KEY", "sk-test-secret-123", 1);
	control("{\"default\": {\"kind\": \"action\", \"action\": \"LEFT\"}, \"clear_log\": true}");
	inst_init(&in, "llm_text");
	th_set_string(&in.th, "model", "test-model");
	th_set_string(&in.th, "api_key_env", "GNARL_TEST_LLM_KEY");
	th_set_int(&in.th, "max_tokens", 77);
	th_set_float(&in.th, "temperature", 0.5);
	th_set_string(&in.th, "system_prompt", "Pick one of {actions}. {{literal}}");
	th_set_string(&in.th, "user_prompt",
	              "where={location} hp={hearts} rupees={rupees} keys={keys} sword={sword} "
	              "items={items} enemies={enemies} last={last_suggestion} "
	              "at=({x},{y}) facing {direction} in {season}, dungeon {dungeon}");
	room_items[0].type = GNARL_VALUE_STRING;
	room_items[0].as.s = "Horon Village";
	rooms.type = GNARL_VALUE_MAP;
	rooms.count = 1;
	rooms.items = room_items;
	rooms.keys = room_keys;
	th_set_value(&in.th, "room_names", &rooms);
	inst_create(&in);

	state_init(&st);
	assert_int_equal(submit(&in, 3, 1234, &st, DOWN), 0);
	assert_true(wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.env, 3);
	assert_int_equal(sug.id, 1234);
	assert_int_equal(sug.action, LEFT);
	assert_true(wait_metric(&in, "successes", 1, 2000));
	assert_int_equal((int)metric(&in, "calls"), 1);

	log = llm_server_log(&server);
	assert_int_equal(json_array_size(log), 1);
	req = request_at(log, 0);
	assert_string_equal(json_string_value(json_object_get(req, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(req, "path")), "/v1/chat/completions");
	assert_string_equal(header(req, "authorization"), "Bearer sk-test-secret-123");
	assert_string_equal(header(req, "content-type"), "application/json");
	body = body_of(req);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "model")), "test-model");
	assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 77);
	assert_true(json_real_value(json_object_get(body, "temperature")) == 0.5);
	msgs = json_object_get(body, "messages");
	assert_int_equal(json_array_size(msgs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
	                    "system");
	assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
	                    "Pick one of NOP, UP, DOWN, LEFT, RIGHT, A, B. {literal}");
	assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "role")),
	                    "user");
	assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
	                    "where=Horon Village (overworld, room 0x12) hp=2.75/3 rupees=42 keys=1 "
	                    "sword=level 1 items=sword, Gnarled Key enemies=2 last=DOWN "
	                    "at=(40,56) facing down in summer, dungeon none");
	json_decref(body);
	json_decref(log);
	/* The key never reaches a log line; the endpoint does. */
	assert_int_equal(th_log_count(&in.th, "sk-test-secret"), 0);
	assert_true(th_log_count(&in.th, server.base) >= 1);
	inst_fini(&in);
	unsetenv("GNARL_TEST_LLM_KEY");
}

static void test_wire_text_minimal(void **unused)
{
	char url[128];
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	json_t *log, *req, *body, *msgs;

	(void)unused;
	control("{\"default\": {\"kind\": \"action\", \"action\": \"UP\"}, \"clear_log\": true}");
	/* A full .../chat/completions URL is used as is; no model, no key. */
	inst_init(&in, "llm_text");
	snprintf(url, sizeof(url), "%s/v1/chat/completions/", server.base);
	th_set_string(&in.th, "endpoint", url);
	inst_create(&in);
	state_init(&st);
	assert_int_equal(submit(&in, 0, 1, &st, -1), 0);
	assert_true(wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.action, UP);
	log = llm_server_log(&server);
	req = request_at(log, -1);
	assert_string_equal(json_string_value(json_object_get(req, "path")), "/v1/chat/completions");
	assert_null(header(req, "authorization"));
	body = body_of(req);
	assert_null(json_object_get(body, "model"));
	assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 64);
	msgs = json_object_get(body, "messages");
	/* The default prompts: ACTION format asked for, the state described. */
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
	                       "ACTION: <one of NOP, UP, DOWN, LEFT, RIGHT, A, B>"));
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
	                       "Location: overworld room 0x12. "));
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
	                       "Last suggestion: none."));
	json_decref(body);
	json_decref(log);
	inst_fini(&in);
}

static void test_wire_endpoint_env(void **unused)
{
	char base[128];
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	json_t *log;

	(void)unused;
	control("{\"clear_log\": true}");
	/* No endpoint param: LLM_ENDPOINT, here an Ollama-style .../v1 base. */
	snprintf(base, sizeof(base), "%s/v1", server.base);
	setenv("LLM_ENDPOINT", base, 1);
	inst_init(&in, "llm_text");
	th_clear(&in.th);
	inst_create(&in);
	state_init(&st);
	assert_int_equal(submit(&in, 1, 7, &st, -1), 0);
	assert_true(wait_suggestion(&in, &sug, 5000));
	log = llm_server_log(&server);
	assert_string_equal(json_string_value(json_object_get(request_at(log, -1), "path")),
	                    "/v1/chat/completions");
	json_decref(log);
	inst_fini(&in);
	unsetenv("LLM_ENDPOINT");
}

static void test_wire_create_errors(void **unused)
{
	struct inst in;

	(void)unused;
	unsetenv("LLM_ENDPOINT");
	inst_init(&in, "llm_text");
	th_clear(&in.th);
	assert_null(in.ops->create(&in.th.host, 1, in.err));
	assert_non_null(strstr(in.err, "LLM_ENDPOINT"));

	th_set_string(&in.th, "endpoint", "ftp://127.0.0.1/");
	assert_null(in.ops->create(&in.th.host, 1, in.err));
	assert_non_null(strstr(in.err, "http://"));

	th_set_string(&in.th, "endpoint", server.base);
	th_set_string(&in.th, "user_prompt", "where={locaton}");
	assert_null(in.ops->create(&in.th.host, 1, in.err));
	assert_non_null(strstr(in.err, "{locaton}"));

	th_set_string(&in.th, "user_prompt", "ok");
	th_set_string(&in.th, "api_key_env", "GNARL_TEST_NO_SUCH_VARIABLE");
	assert_null(in.ops->create(&in.th.host, 1, in.err));
	assert_non_null(strstr(in.err, "GNARL_TEST_NO_SUCH_VARIABLE"));
	in.llm = NULL;
	inst_fini(&in);
}

static void vision_case(const char *format, double scale, int quality, const char *w,
                        const char *h, const char *max_err)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	const char *args[] = {"--log", server.log_path, "--format", format, "--width", w,
	                      "--height", h, "--max-mean-error", max_err, NULL};

	control("{\"default\": {\"kind\": \"json\", \"action\": \"A\"}}");
	inst_init(&in, "llm_vision");
	assert_true(in.ops->flags & GNARL_LLM_WANTS_FRAME);
	th_set_string(&in.th, "image_format", format);
	th_set_float(&in.th, "image_scale", scale);
	th_set_int(&in.th, "image_quality", quality);
	inst_create(&in);
	state_init(&st);
	/* A request without its frame is refused, not sent half-empty. */
	{
		struct gnarl_llm_request req = {sizeof(req), 0, 1, &st, NULL, -1, N_ACTIONS, actions};

		assert_int_equal(in.ops->request(in.llm, &req), GNARL_EINVAL);
	}
	assert_int_equal(submit(&in, 2, 99, &st, -1), 0);
	assert_true(wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.action, BTN_A);
	assert_int_equal(sug.env, 2);
	inst_fini(&in);
	assert_int_equal(llm_run_checker(args), 0);
}

static void test_wire_vision_png(void **unused)
{
	(void)unused;
	vision_case("png", 2.0, 75, "320", "288", "0");
}

static void test_wire_vision_jpeg(void **unused)
{
	(void)unused;
	vision_case("jpeg", 1.5, 90, "240", "216", "6");
}

static void test_wire_vision_png_small(void **unused)
{
	(void)unused;
	vision_case("png", 0.5, 75, "80", "72", "0");
}

/* ---- parse ------------------------------------------------------------------ */

struct reply_case {
	const char *behaviour;  /* server behaviour JSON */
	int32_t action;         /* expected, -1: a parse failure */
};

static void test_parse_replies(void **unused)
{
	static const struct reply_case cases[] = {
		{"{\"kind\": \"action\", \"action\": \"RIGHT\"}", RIGHT},
		{"{\"kind\": \"text\", \"text\": \"SCENE: a cave\\naction: right\"}", RIGHT},
		{"{\"kind\": \"text\", \"text\": \"**ACTION:** `B`\"}", BTN_B},
		{"{\"kind\": \"text\", \"text\": \"Action: nop.\"}", NOP},
		{"{\"kind\": \"json\", \"action\": \"down\"}", DOWN},
		{"{\"kind\": \"text\", \"text\": \"```json\\n{\\\"action\\\": \\\"A\\\"}\\n```\"}", BTN_A},
		{"{\"kind\": \"garbage\"}", -1},
		{"{\"kind\": \"truncated\"}", -1},
		{"{\"kind\": \"text\", \"text\": \"ACTION: UPWARDS\"}", -1},
		{"{\"kind\": \"text\", \"text\": \"ACTION: go UP\"}", -1},
		{"{\"kind\": \"text\", \"text\": \"I say UP\"}", -1},
		{"{\"kind\": \"text\", \"text\": \"{\\\"action\\\": \\\"JUMP\\\"}\"}", -1},
		{"{\"kind\": \"text\", \"text\": \"REACTION: UP\"}", -1},
		{"{\"kind\": \"not_json\"}", -1},
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	struct gnarl_game_state st;
	struct inst in;
	int ok = 0, bad = 0;

	(void)unused;
	inst_init(&in, "llm_text");
	inst_create(&in);
	state_init(&st);
	for (size_t i = 0; i < n; i++) {
		struct gnarl_llm_suggestion sug;

		control("{\"script\": [%s]}", cases[i].behaviour);
		assert_int_equal(submit(&in, 0, i, &st, -1), 0);
		if (cases[i].action >= 0) {
			if (!wait_suggestion(&in, &sug, 5000))
				fail_msg("case %zu (%s): no suggestion", i, cases[i].behaviour);
			assert_int_equal(sug.id, i);
			if (sug.action != cases[i].action)
				fail_msg("case %zu (%s): action %d, want %d", i, cases[i].behaviour,
				         sug.action, cases[i].action);
			ok++;
		} else {
			bad++;
			if (!wait_metric(&in, "parse_failures", bad, 5000))
				fail_msg("case %zu (%s): not counted as a parse failure", i,
				         cases[i].behaviour);
			assert_int_equal(in.ops->poll(in.llm, &sug, 1), 0);
		}
	}
	assert_int_equal((int)metric(&in, "successes"), ok);
	assert_int_equal((int)metric(&in, "parse_failures"), bad);
	assert_int_equal((int)metric(&in, "truncated"), 1);
	/* Parse failures are answers: they never count against the endpoint. */
	assert_int_equal((int)metric(&in, "failures"), 0);
	assert_int_equal((int)metric(&in, "http_errors"), 0);
	inst_fini(&in);
}

/* ---- retry ------------------------------------------------------------------ */

static double request_time(json_t *log, size_t i)
{
	return json_real_value(json_object_get(json_array_get(log, i), "time"));
}

static void test_retry_after_honoured(void **unused)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	json_t *log;

	(void)unused;
	control("{\"script\": [{\"kind\": \"status\", \"status\": 429, \"retry_after\": 1}, "
	        "{\"kind\": \"action\", \"action\": \"B\"}], \"default\": {\"kind\": \"action\", "
	        "\"action\": \"UP\"}, \"clear_log\": true}");
	inst_init(&in, "llm_text");
	inst_create(&in);
	state_init(&st);
	assert_int_equal(submit(&in, 0, 5, &st, -1), 0);
	assert_true(wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.action, BTN_B);
	log = llm_server_log(&server);
	assert_int_equal(json_array_size(log), 2);
	/* backoff is 20 ms; the server asked for 1 s */
	assert_true(request_time(log, 1) - request_time(log, 0) >= 0.99);
	json_decref(log);
	assert_int_equal((int)metric(&in, "retries"), 1);
	assert_int_equal((int)metric(&in, "http_errors"), 1);
	inst_fini(&in);
}

static void test_retry_5xx(void **unused)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;

	(void)unused;
	control("{\"script\": [{\"kind\": \"status\", \"status\": 500}, {\"kind\": \"status\", "
	        "\"status\": 503}, {\"kind\": \"action\", \"action\": \"RIGHT\"}], \"clear_log\": true}");
	inst_init(&in, "llm_text");
	inst_create(&in);
	state_init(&st);
	assert_int_equal(submit(&in, 0, 6, &st, -1), 0);
	assert_true(wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.action, RIGHT);
	assert_int_equal(llm_server_requests(&server), 3);
	assert_true(wait_metric(&in, "successes", 1, 2000));
	assert_int_equal((int)metric(&in, "retries"), 2);
	assert_int_equal((int)metric(&in, "failures"), 0);
	inst_fini(&in);
}

/* One request answered by `behaviour`: expect no retry, one failure. */
static void no_retry_case(const char *behaviour)
{
	struct gnarl_game_state st;
	struct inst in;

	control("{\"script\": [%s], \"clear_log\": true}", behaviour);
	inst_init(&in, "llm_text");
	inst_create(&in);
	state_init(&st);
	assert_int_equal(submit(&in, 0, 1, &st, -1), 0);
	if (!wait_metric(&in, "failures", 1, 5000))
		fail_msg("%s: the request did not fail", behaviour);
	th_sleep_ms(200);  /* a retry would be due after 20-25 ms */
	assert_int_equal(llm_server_requests(&server), 1);
	assert_int_equal((int)metric(&in, "retries"), 0);
	assert_int_equal((int)metric(&in, "http_errors"), 1);
	assert_int_equal((int)metric(&in, "successes"), 0);
	inst_fini(&in);
}

static void test_no_retry_400(void **unused)
{
	(void)unused;
	no_retry_case("{\"kind\": \"status\", \"status\": 400}");
}

static void test_no_retry_401(void **unused)
{
	(void)unused;
	no_retry_case("{\"kind\": \"status\", \"status\": 401}");
}

static void test_no_retry_404(void **unused)
{
	(void)unused;
	no_retry_case("{\"kind\": \"status\", \"status\": 404}");
}

static void test_no_retry_quota(void **unused)
{
	(void)unused;
	no_retry_case("{\"kind\": \"quota\"}");
}

static void test_retries_exhausted(void **unused)
{
	struct gnarl_game_state st;
	struct inst in;

	(void)unused;
	control("{\"script\": [], \"default\": {\"kind\": \"status\", \"status\": 503}, "
	        "\"clear_log\": true}");
	inst_init(&in, "llm_text");
	th_set_int(&in.th, "max_retries", 2);
	inst_create(&in);
	state_init(&st);
	assert_int_equal(submit(&in, 0, 1, &st, -1), 0);
	assert_true(wait_metric(&in, "failures", 1, 5000));
	th_sleep_ms(300);
	assert_int_equal(llm_server_requests(&server), 3);
	assert_int_equal((int)metric(&in, "retries"), 2);
	assert_int_equal((int)metric(&in, "http_errors"), 3);
	inst_fini(&in);
}

static void test_retry_after_beyond_deadline(void **unused)
{
	struct gnarl_game_state st;
	struct inst in;
	double t0;

	(void)unused;
	/* Retry-After 30 s with a 1 s deadline: give up now, do not sleep on it. */
	control("{\"script\": [{\"kind\": \"status\", \"status\": 429, \"retry_after\": 30}], "
	        "\"default\": {\"kind\": \"action\", \"action\": \"UP\"}, \"clear_log\": true}");
	inst_init(&in, "llm_text");
	th_set_int(&in.th, "timeout_ms", 1000);
	inst_create(&in);
	state_init(&st);
	t0 = th_now_ms();
	assert_int_equal(submit(&in, 0, 1, &st, -1), 0);
	assert_true(wait_metric(&in, "failures", 1, 5000));
	assert_true(th_now_ms() - t0 < 900);
	assert_int_equal(llm_server_requests(&server), 1);
	inst_fini(&in);
}

static void test_timeout(void **unused)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;

	(void)unused;
	control("{\"script\": [{\"kind\": \"action\", \"action\": \"UP\", \"delay_ms\": 3000}], "
	        "\"clear_log\": true}");
	inst_init(&in, "llm_text");
	th_set_int(&in.th, "timeout_ms", 300);
	inst_create(&in);
	state_init(&st);
	assert_int_equal(submit(&in, 0, 1, &st, -1), 0);
	assert_true(wait_metric(&in, "timeouts", 1, 5000));
	assert_int_equal((int)metric(&in, "failures"), 1);
	assert_int_equal(in.ops->poll(in.llm, &sug, 1), 0);
	inst_fini(&in);
}

/* ---- breaker ------------------------------------------------------------------ */

/* Ask until the breaker lets one request through (its cooldown is over and
 * the worker has noticed); return ms waited, or -1 after 5 s. */
static double submit_when_admitted(struct inst *in, uint64_t id,
                                   const struct gnarl_game_state *st)
{
	double t0 = th_now_ms();

	while (th_now_ms() - t0 < 5000) {
		if (submit(in, 0, id, st, -1) == 0)
			return th_now_ms() - t0;
		th_sleep_ms(5);
	}
	return -1;
}

static void test_breaker(void **unused)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	int busy = 0;

	(void)unused;
	control("{\"script\": [], \"default\": {\"kind\": \"status\", \"status\": 500}, "
	        "\"clear_log\": true}");
	inst_init(&in, "llm_text");
	th_set_int(&in.th, "max_retries", 0);
	th_set_int(&in.th, "breaker_failures", 3);
	th_set_int(&in.th, "breaker_cooldown_ms", 600);
	inst_create(&in);
	state_init(&st);
	assert_int_equal((int)metric(&in, "breaker_open"), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(submit(&in, 0, (uint64_t)i, &st, -1), 0);
		assert_true(wait_metric(&in, "failures", i + 1, 5000));
	}
	assert_true(wait_metric(&in, "breaker_open", 1, 2000));
	assert_int_equal((int)metric(&in, "breaker_opens"), 1);
	assert_int_equal(th_log_count(&in.th, "circuit breaker open"), 1);
	/* Open: refused at once, nothing reaches the server. */
	for (int i = 0; i < 10; i++)
		busy += submit(&in, 1, 100 + (uint64_t)i, &st, -1) == GNARL_EBUSY;
	assert_int_equal(busy, 10);
	th_sleep_ms(100);
	assert_int_equal(llm_server_requests(&server), 3);

	/* After the cooldown one probe goes through; it fails: open again, quietly. */
	assert_true(submit_when_admitted(&in, 200, &st) >= 0);
	assert_int_equal(submit(&in, 0, 201, &st, -1), GNARL_EBUSY);  /* one probe only */
	assert_true(wait_metric(&in, "failures", 4, 5000));
	assert_int_equal(submit(&in, 0, 202, &st, -1), GNARL_EBUSY);
	assert_int_equal(llm_server_requests(&server), 4);
	assert_int_equal(th_log_count(&in.th, "circuit breaker open"), 1);

	/* The server recovers: the next probe closes the breaker. */
	control("{\"default\": {\"kind\": \"action\", \"action\": \"LEFT\"}}");
	assert_true(submit_when_admitted(&in, 300, &st) >= 0);
	assert_true(wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.id, 300);
	assert_int_equal(sug.action, LEFT);
	assert_true(wait_metric(&in, "successes", 1, 2000));
	assert_int_equal((int)metric(&in, "breaker_open"), 0);
	assert_int_equal(th_log_count(&in.th, "circuit breaker closed"), 1);
	assert_int_equal(th_log_count(&in.th, "circuit breaker open"), 1);
	/* open from the 3rd failure to the good probe: two cooldowns at least */
	assert_true(metric(&in, "breaker_open_ms") >= 1200);
	/* Closed: calls flow again. */
	assert_int_equal(submit(&in, 0, 301, &st, -1), 0);
	assert_true(wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.id, 301);
	inst_fini(&in);
}

/* ---- flow --------------------------------------------------------------------- */

static void test_in_flight_cap(void **unused)
{
	struct gnarl_llm_suggestion sug[4];
	struct gnarl_game_state st;
	struct inst in;
	uint32_t got = 0;

	(void)unused;
	control("{\"script\": [], \"default\": {\"kind\": \"action\", \"action\": \"UP\", "
	        "\"delay_ms\": 300}, \"clear_log\": true}");
	inst_init(&in, "llm_text");
	th_set_int(&in.th, "max_in_flight", 2);
	inst_create(&in);
	state_init(&st);
	assert_int_equal(submit(&in, 0, 1, &st, -1), 0);
	assert_int_equal(submit(&in, 1, 2, &st, -1), 0);
	assert_int_equal(submit(&in, 2, 3, &st, -1), GNARL_EBUSY);
	assert_true(wait_metric(&in, "in_flight", 2, 2000));
	/* Finished but unpolled suggestions still hold their slots. */
	assert_true(wait_metric(&in, "successes", 2, 5000));
	assert_int_equal(submit(&in, 2, 4, &st, -1), GNARL_EBUSY);
	for (double end = th_now_ms() + 2000; got < 2 && th_now_ms() < end;)
		got += in.ops->poll(in.llm, sug + got, 4 - got);
	assert_int_equal(got, 2);
	assert_int_equal(sug[0].id + sug[1].id, 3);
	assert_int_equal(submit(&in, 2, 5, &st, -1), 0);
	assert_true(wait_metric(&in, "busy", 2, 1000));
	inst_fini(&in);
}

/* Call request() and poll() like a fast training loop for `ms`; report the
 * longest single call.  Returns accepted requests. */
static int hammer(struct inst *in, int ms, double *max_request_ms, double *max_poll_ms,
                  int *suggestions)
{
	struct gnarl_game_state st;
	struct gnarl_llm_suggestion sug[16];
	int accepted = 0;
	uint64_t id = 0;

	state_init(&st);
	*max_request_ms = *max_poll_ms = 0;
	*suggestions = 0;
	for (double end = th_now_ms() + ms; th_now_ms() < end;) {
		double t0 = th_now_ms(), t1, t2;

		accepted += submit(in, (uint32_t)(id % 4), id, &st, -1) == 0;
		id++;
		t1 = th_now_ms();
		*suggestions += (int)in->ops->poll(in->llm, sug, 16);
		t2 = th_now_ms();
		if (t1 - t0 > *max_request_ms)
			*max_request_ms = t1 - t0;
		if (t2 - t1 > *max_poll_ms)
			*max_poll_ms = t2 - t1;
		th_sleep_ms(1);
	}
	return accepted;
}

static void test_slow_server_never_stalls(void **unused)
{
	double max_req, max_poll;
	struct inst in;
	int accepted, got;

	(void)unused;
	control("{\"script\": [], \"default\": {\"kind\": \"action\", \"action\": \"UP\", "
	        "\"delay_ms\": 500}, \"clear_log\": true}");
	inst_init(&in, "llm_text");
	inst_create(&in);
	accepted = hammer(&in, 1500, &max_req, &max_poll, &got);
	print_message("slow server (500 ms): %d accepted, %d suggestions, max request() %.3f ms, "
	              "max poll() %.3f ms\n", accepted, got, max_req, max_poll);
	assert_true(accepted >= 8);
	assert_true(got >= 8);
	/* A blocking call would take the server's 500 ms; bench_llm reports the
	 * real distribution (tens of ns; ms-long outliers are preemption). */
	assert_true(max_req < 400);
	assert_true(max_poll < 400);
	inst_fini(&in);
}

static void test_dead_endpoint(void **unused)
{
	char url[64];
	double max_req, max_poll;
	struct inst in;
	int accepted, got;

	(void)unused;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", llm_dead_port());
	inst_init(&in, "llm_vision");
	th_set_string(&in.th, "endpoint", url);
	th_set_int(&in.th, "breaker_failures", 5);
	th_set_int(&in.th, "breaker_cooldown_ms", 200);
	inst_create(&in);
	accepted = hammer(&in, 1500, &max_req, &max_poll, &got);
	print_message("dead endpoint: %d accepted, transport errors %.0f, breaker opens %.0f, "
	              "max request() %.3f ms, max poll() %.3f ms\n", accepted,
	              metric(&in, "transport_errors"), metric(&in, "breaker_opens"), max_req,
	              max_poll);
	assert_int_equal(got, 0);
	assert_true(metric(&in, "transport_errors") >= 5);
	assert_true(metric(&in, "breaker_opens") >= 1);
	assert_true(metric(&in, "busy") >= 1);
	assert_int_equal((int)metric(&in, "successes"), 0);
	assert_int_equal(th_log_count(&in.th, "circuit breaker open"), 1);
	assert_true(max_req < 400);
	assert_true(max_poll < 400);
	inst_fini(&in);
}

static void test_destroy_in_flight(void **unused)
{
	struct gnarl_game_state st;
	struct inst in;
	double t0, took;

	(void)unused;
	control("{\"script\": [], \"default\": {\"kind\": \"action\", \"action\": \"UP\", "
	        "\"delay_ms\": 5000}, \"clear_log\": true}");
	inst_init(&in, "llm_vision");
	th_set_int(&in.th, "max_in_flight", 6);
	th_set_int(&in.th, "timeout_ms", 20000);
	inst_create(&in);
	state_init(&st);
	for (int i = 0; i < 6; i++)
		assert_int_equal(submit(&in, (uint32_t)i % 4, (uint64_t)i, &st, -1), 0);
	assert_true(llm_server_wait_requests(&server, 6, 5000));
	t0 = th_now_ms();
	in.ops->destroy(in.llm);
	took = th_now_ms() - t0;
	in.llm = NULL;
	print_message("destroy with 6 requests in flight: %.3f ms\n", took);
	assert_true(took < 1000);  /* the server holds each for 5000 ms */
	inst_fini(&in);
}

static void test_destroy_waiting_retry(void **unused)
{
	struct gnarl_game_state st;
	struct inst in;
	double t0;

	(void)unused;
	control("{\"script\": [], \"default\": {\"kind\": \"status\", \"status\": 429, "
	        "\"retry_after\": 10}, \"clear_log\": true}");
	inst_init(&in, "llm_text");
	th_set_int(&in.th, "timeout_ms", 60000);
	inst_create(&in);
	state_init(&st);
	assert_int_equal(submit(&in, 0, 1, &st, -1), 0);
	assert_true(wait_metric(&in, "retries", 1, 5000));
	t0 = th_now_ms();
	in.ops->destroy(in.llm);
	in.llm = NULL;
	assert_true(th_now_ms() - t0 < 1000);
	inst_fini(&in);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest wire[] = {
		cmocka_unit_test(test_wire_text_full),
		cmocka_unit_test(test_wire_text_minimal),
		cmocka_unit_test(test_wire_endpoint_env),
		cmocka_unit_test(test_wire_create_errors),
		cmocka_unit_test(test_wire_vision_png),
		cmocka_unit_test(test_wire_vision_jpeg),
		cmocka_unit_test(test_wire_vision_png_small),
	};
	const struct CMUnitTest parse[] = {
		cmocka_unit_test(test_parse_replies),
	};
	const struct CMUnitTest retry[] = {
		cmocka_unit_test(test_retry_after_honoured),
		cmocka_unit_test(test_retry_5xx),
		cmocka_unit_test(test_no_retry_400),
		cmocka_unit_test(test_no_retry_401),
		cmocka_unit_test(test_no_retry_404),
		cmocka_unit_test(test_no_retry_quota),
		cmocka_unit_test(test_retries_exhausted),
		cmocka_unit_test(test_retry_after_beyond_deadline),
		cmocka_unit_test(test_timeout),
	};
	const struct CMUnitTest breaker[] = {
		cmocka_unit_test(test_breaker),
	};
	const struct CMUnitTest flow[] = {
		cmocka_unit_test(test_in_flight_cap),
		cmocka_unit_test(test_slow_server_never_stalls),
		cmocka_unit_test(test_dead_endpoint),
		cmocka_unit_test(test_destroy_in_flight),
		cmocka_unit_test(test_destroy_waiting_retry),
	};
	const char *group = argc > 1 ? argv[1] : "";

#define RUN(name)                                                                             \
	if (strcmp(group, #name) == 0)                                                        \
		return cmocka_run_group_tests_name("llm_" #name, name, setup_server, teardown_server);
	RUN(wire)
	RUN(parse)
	RUN(retry)
	RUN(breaker)
	RUN(flow)
#undef RUN
	fprintf(stderr, "usage: %s wire|parse|retry|breaker|flow\n", argv[0]);
	return 2;
}
