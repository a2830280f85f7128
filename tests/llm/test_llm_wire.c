/*
 * test_llm_wire.c - the groups "wire" and "parse" of test_llm_plugins (see
 * its header): what llm_text and llm_vision send (path, headers, JSON body,
 * filled prompts, endpoint forms, the image part, decoded in Python) and
 * how they read replies.
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
#include <jansson.h>

#include <gnarl/plugin.h>

#include "llm_fixture.h"

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
	fx_control("{\"default\": {\"kind\": \"action\", \"action\": \"LEFT\"}, \"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
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
	fx_inst_create(&in);

	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 3, 1234, &st, DOWN), 0);
	assert_true(fx_wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.env, 3);
	assert_int_equal(sug.id, 1234);
	assert_int_equal(sug.action, LEFT);
	assert_true(fx_wait_metric(&in, "successes", 1, 2000));
	assert_int_equal((int)fx_metric(&in, "calls"), 1);

	log = llm_server_log(&fx_server);
	assert_int_equal(json_array_size(log), 1);
	req = fx_request_at(log, 0);
	assert_string_equal(json_string_value(json_object_get(req, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(req, "path")), "/v1/chat/completions");
	assert_string_equal(fx_header(req, "authorization"), "Bearer sk-test-secret-123");
	assert_string_equal(fx_header(req, "content-type"), "application/json");
	body = fx_body_of(req);
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
	assert_true(th_log_count(&in.th, fx_server.base) >= 1);
	fx_inst_fini(&in);
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
	fx_control("{\"default\": {\"kind\": \"action\", \"action\": \"UP\"}, \"clear_log\": true}");
	/* A full .../chat/completions URL is used as is; no model, no key. */
	fx_inst_init(&in, "llm_text");
	snprintf(url, sizeof(url), "%s/v1/chat/completions/", fx_server.base);
	th_set_string(&in.th, "endpoint", url);
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 0, 1, &st, -1), 0);
	assert_true(fx_wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.action, UP);
	log = llm_server_log(&fx_server);
	req = fx_request_at(log, -1);
	assert_string_equal(json_string_value(json_object_get(req, "path")), "/v1/chat/completions");
	assert_null(fx_header(req, "authorization"));
	body = fx_body_of(req);
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
	fx_inst_fini(&in);
}

static void test_wire_endpoint_env(void **unused)
{
	char base[128];
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	json_t *log;

	(void)unused;
	fx_control("{\"clear_log\": true}");
	/* No endpoint param: LLM_ENDPOINT, here an Ollama-style .../v1 base. */
	snprintf(base, sizeof(base), "%s/v1", fx_server.base);
	setenv("LLM_ENDPOINT", base, 1);
	fx_inst_init(&in, "llm_text");
	th_clear(&in.th);
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 1, 7, &st, -1), 0);
	assert_true(fx_wait_suggestion(&in, &sug, 5000));
	log = llm_server_log(&fx_server);
	assert_string_equal(json_string_value(json_object_get(fx_request_at(log, -1), "path")),
	                    "/v1/chat/completions");
	json_decref(log);
	fx_inst_fini(&in);
	unsetenv("LLM_ENDPOINT");
}

static void test_wire_create_errors(void **unused)
{
	struct inst in;

	(void)unused;
	unsetenv("LLM_ENDPOINT");
	fx_inst_init(&in, "llm_text");
	th_clear(&in.th);
	assert_null(in.ops->create(&in.th.host, 1, in.err));
	assert_non_null(strstr(in.err, "LLM_ENDPOINT"));

	th_set_string(&in.th, "endpoint", "ftp://127.0.0.1/");
	assert_null(in.ops->create(&in.th.host, 1, in.err));
	assert_non_null(strstr(in.err, "http://"));

	th_set_string(&in.th, "endpoint", fx_server.base);
	th_set_string(&in.th, "user_prompt", "where={locaton}");
	assert_null(in.ops->create(&in.th.host, 1, in.err));
	assert_non_null(strstr(in.err, "{locaton}"));

	th_set_string(&in.th, "user_prompt", "ok");
	th_set_string(&in.th, "api_key_env", "GNARL_TEST_NO_SUCH_VARIABLE");
	assert_null(in.ops->create(&in.th.host, 1, in.err));
	assert_non_null(strstr(in.err, "GNARL_TEST_NO_SUCH_VARIABLE"));
	in.llm = NULL;
	fx_inst_fini(&in);
}

static void vision_case(const char *format, double scale, int quality, const char *w,
                        const char *h, const char *max_err)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	const char *args[] = {"--log", fx_server.log_path, "--format", format, "--width", w,
	                      "--height", h, "--max-mean-error", max_err, NULL};

	fx_control("{\"default\": {\"kind\": \"json\", \"action\": \"A\"}}");
	fx_inst_init(&in, "llm_vision");
	assert_true(in.ops->flags & GNARL_LLM_WANTS_FRAME);
	th_set_string(&in.th, "image_format", format);
	th_set_float(&in.th, "image_scale", scale);
	th_set_int(&in.th, "image_quality", quality);
	fx_inst_create(&in);
	fx_state_init(&st);
	/* A request without its frame is refused, not sent half-empty. */
	{
		struct gnarl_llm_request req = {sizeof(req), 0, 1, &st, NULL, -1, N_ACTIONS, fx_actions};

		assert_int_equal(in.ops->request(in.llm, &req), GNARL_EINVAL);
	}
	assert_int_equal(fx_submit(&in, 2, 99, &st, -1), 0);
	assert_true(fx_wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.action, BTN_A);
	assert_int_equal(sug.env, 2);
	fx_inst_fini(&in);
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
	fx_inst_init(&in, "llm_text");
	fx_inst_create(&in);
	fx_state_init(&st);
	for (size_t i = 0; i < n; i++) {
		struct gnarl_llm_suggestion sug;

		fx_control("{\"script\": [%s]}", cases[i].behaviour);
		assert_int_equal(fx_submit(&in, 0, i, &st, -1), 0);
		if (cases[i].action >= 0) {
			if (!fx_wait_suggestion(&in, &sug, 5000))
				fail_msg("case %zu (%s): no suggestion", i, cases[i].behaviour);
			assert_int_equal(sug.id, i);
			if (sug.action != cases[i].action)
				fail_msg("case %zu (%s): action %d, want %d", i, cases[i].behaviour,
				         sug.action, cases[i].action);
			ok++;
		} else {
			bad++;
			if (!fx_wait_metric(&in, "parse_failures", bad, 5000))
				fail_msg("case %zu (%s): not counted as a parse failure", i,
				         cases[i].behaviour);
			fx_expect_failed(&in, 0, i);
			assert_int_equal(in.ops->poll(in.llm, &sug, 1), 0);
		}
	}
	assert_int_equal((int)fx_metric(&in, "successes"), ok);
	assert_int_equal((int)fx_metric(&in, "parse_failures"), bad);
	assert_int_equal((int)fx_metric(&in, "truncated"), 1);
	/* Parse failures are answers: they never count against the endpoint. */
	assert_int_equal((int)fx_metric(&in, "failures"), 0);
	assert_int_equal((int)fx_metric(&in, "http_errors"), 0);
	fx_inst_fini(&in);
}

int fx_run_wire(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_text_full),
		cmocka_unit_test(test_wire_text_minimal),
		cmocka_unit_test(test_wire_endpoint_env),
		cmocka_unit_test(test_wire_create_errors),
		cmocka_unit_test(test_wire_vision_png),
		cmocka_unit_test(test_wire_vision_jpeg),
		cmocka_unit_test(test_wire_vision_png_small),
	};

	return cmocka_run_group_tests_name("llm_wire", tests, fx_setup_server, fx_teardown_server);
}

int fx_run_parse(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_replies),
	};

	return cmocka_run_group_tests_name("llm_parse", tests, fx_setup_server,
	                                   fx_teardown_server);
}
