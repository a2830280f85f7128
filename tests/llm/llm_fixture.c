/*
 * llm_fixture.c - the shared part of the LLM plugin tests (see
 * llm_fixture.h): the test server of the group, plugin instances on test
 * hosts, and waiting for what the plugins' worker threads do.
 */
#define _POSIX_C_SOURCE 200809L

#include "llm_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dlfcn.h>

const char *const fx_actions[N_ACTIONS] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};
struct llm_server fx_server;
uint8_t fx_frame[GNARL_FRAME_BYTES];

/* The frame check_image.py expects (its frame_pattern()). */
void fx_fill_frame(void)
{
	for (int y = 0; y < GNARL_FRAME_HEIGHT; y++)
		for (int x = 0; x < GNARL_FRAME_WIDTH; x++) {
			uint8_t *p = fx_frame + ((size_t)y * GNARL_FRAME_WIDTH + x) * 3;

			p[0] = (uint8_t)(x * 255 / (GNARL_FRAME_WIDTH - 1));
			p[1] = (uint8_t)(y * 255 / (GNARL_FRAME_HEIGHT - 1));
			p[2] = ((x / 8 + y / 8) % 2) ? 200 : 40;
		}
}

void fx_state_init(struct gnarl_game_state *s)
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
void fx_inst_init(struct inst *in, const char *plugin)
{
	memset(in, 0, sizeof(*in));
	th_init(&in->th, 42);
	snprintf(in->prefix, sizeof(in->prefix), "%s", plugin);
	in->desc = th_load(plugin, &in->so);
	assert_non_null(in->desc);
	assert_int_equal(in->desc->kind, GNARL_KIND_LLM);
	in->ops = in->desc->ops.llm;
	th_set_string(&in->th, "endpoint", fx_server.base);
	th_set_int(&in->th, "retry_backoff_ms", 20);
	th_set_int(&in->th, "timeout_ms", 5000);
}

void fx_inst_create(struct inst *in)
{
	in->llm = in->ops->create(&in->th.host, 4, in->err);
	if (!in->llm)
		fail_msg("create failed: %s", in->err);
}

void fx_inst_fini(struct inst *in)
{
	if (in->ops)
		in->ops->destroy(in->llm);
	if (in->so)
		dlclose(in->so);
	th_fini(&in->th);
}

double fx_metric(struct inst *in, const char *what)
{
	char name[96];

	snprintf(name, sizeof(name), "%s/%s", in->prefix, what);
	return th_metric(&in->th, name);
}

bool fx_wait_metric(struct inst *in, const char *what, double value, int timeout_ms)
{
	char name[96];

	snprintf(name, sizeof(name), "%s/%s", in->prefix, what);
	return th_wait_metric(&in->th, name, value, timeout_ms);
}

int fx_submit(struct inst *in, uint32_t env, uint64_t id, const struct gnarl_game_state *s,
              int32_t last)
{
	struct gnarl_llm_request req = {
		.size = sizeof(req),
		.env = env,
		.id = id,
		.state = s,
		.frame = (in->ops->flags & GNARL_LLM_WANTS_FRAME) ? fx_frame : NULL,
		.last_suggestion = last,
		.n_actions = N_ACTIONS,
		.action_names = fx_actions,
	};

	return in->ops->request(in->llm, &req);
}

/* Poll until one finished request comes out (true) or timeout. */
bool fx_wait_suggestion(struct inst *in, struct gnarl_llm_suggestion *out, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (th_now_ms() < end) {
		if (in->ops->poll(in->llm, out, 1) == 1)
			return true;
		th_sleep_ms(2);
	}
	return in->ops->poll(in->llm, out, 1) == 1;
}

void fx_expect_failed(struct inst *in, uint32_t env, uint64_t id)
{
	struct gnarl_llm_suggestion sug;

	if (!fx_wait_suggestion(in, &sug, 5000))
		fail_msg("request %llu never came out of poll", (unsigned long long)id);
	if (sug.id != id || sug.env != env || sug.action != -1)
		fail_msg("poll gave request %llu env %u action %d; want request %llu env %u failed",
		         (unsigned long long)sug.id, sug.env, sug.action, (unsigned long long)id, env);
}

void fx_control(const char *fmt, ...)
{
	char body[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	assert_int_equal(llm_server_control(&fx_server, body), 0);
}

/* The recorded request i (negative: from the end), parsed; borrowed from log. */
json_t *fx_request_at(json_t *log, long i)
{
	size_t n = json_array_size(log);

	assert_true(n > 0);
	return json_array_get(log, i < 0 ? (size_t)((long)n + i) : (size_t)i);
}

json_t *fx_body_of(json_t *req)
{
	return json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
}

const char *fx_header(json_t *req, const char *name)
{
	return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

int fx_setup_server(void **state)
{
	(void)state;
	fx_fill_frame();
	return llm_server_start(&fx_server, NULL);
}

int fx_teardown_server(void **state)
{
	(void)state;
	llm_server_stop(&fx_server);
	return 0;
}
