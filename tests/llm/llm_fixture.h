/*
 * llm_fixture.h - what the tests of the real LLM plugins share: one test
 * server process per group (fx_server), a plugin instance on a test host
 * (struct inst), a game state and a frame to send, and helpers that wait
 * for gauges and suggestions.  Each helper fails the current cmocka test
 * on error.
 */
#ifndef GNARL_LLM_FIXTURE_H
#define GNARL_LLM_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <gnarl/plugin.h>

#include "llm_server.h"
#include "llm_test_host.h"

#define N_ACTIONS 7
enum { NOP, UP, DOWN, LEFT, RIGHT, BTN_A, BTN_B };

extern const char *const fx_actions[N_ACTIONS];
extern struct llm_server fx_server;
extern uint8_t fx_frame[GNARL_FRAME_BYTES];  /* check_image.py's frame_pattern() */

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

void fx_fill_frame(void);
/* Overworld room 0x12, 2.75 of 3 hearts, 42 rupees, a key, the sword and
 * the Gnarled Key, 2 enemies. */
void fx_state_init(struct gnarl_game_state *s);
/* Load `plugin` with params endpoint = the server, retry_backoff_ms 20,
 * timeout_ms 5000 (tests add more before fx_inst_create). */
void fx_inst_init(struct inst *in, const char *plugin);
void fx_inst_create(struct inst *in);
void fx_inst_fini(struct inst *in);
/* Gauge "<plugin>/<what>" (-1: never set), and waiting for it to reach value. */
double fx_metric(struct inst *in, const char *what);
bool fx_wait_metric(struct inst *in, const char *what, double value, int timeout_ms);
/* request() with fx_actions and, for frame-wanting plugins, fx_frame. */
int fx_submit(struct inst *in, uint32_t env, uint64_t id, const struct gnarl_game_state *s,
              int32_t last);
/* Wait for the next finished request (a suggestion, or action -1 for a
 * failed one: the plugin hands out every accepted request once). */
bool fx_wait_suggestion(struct inst *in, struct gnarl_llm_suggestion *out, int timeout_ms);
/* Wait for request `id` to come out of poll as a failure (action -1 and
 * the env it was made for); fails the test otherwise. */
void fx_expect_failed(struct inst *in, uint32_t env, uint64_t id);
/* POST /control with a printf-formatted JSON body. */
void fx_control(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Recorded request i of log (negative: from the end), its parsed body
 * (owned), one of its headers (lower-case name). */
json_t *fx_request_at(json_t *log, long i);
json_t *fx_body_of(json_t *req);
const char *fx_header(json_t *req, const char *name);
/* cmocka group setup/teardown: start/stop the server process. */
int fx_setup_server(void **state);
int fx_teardown_server(void **state);

/* The groups defined in test_llm_wire.c. */
int fx_run_wire(void);
int fx_run_parse(void);

#endif /* GNARL_LLM_FIXTURE_H */
