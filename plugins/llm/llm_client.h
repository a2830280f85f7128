/*
 * llm_client.h - the OpenAI-compatible chat-completions client shared by
 * llm_text and llm_vision.
 *
 * One worker thread per client runs every HTTP transfer on libcurl's multi
 * interface.  The host's thread only calls gnarl_llm_client_request() (copy
 * the request into a free slot, push it on a lock-free ring, wake the
 * worker if it naps) and gnarl_llm_client_poll() (pop finished requests):
 * neither touches the network, allocates, takes a lock or waits.  Both
 * must be called from one thread at a time (the host's step loop).
 *
 * A slot is taken by request() and given back by the poll() after its
 * request ended (with a suggestion or not), so max_in_flight bounds queued +
 * running + waiting-to-retry + finished-but-unpolled requests, and
 * request() answers GNARL_EBUSY when none is free or the circuit breaker
 * is open.
 *
 * Per request: a deadline of timeout_ms from request() covering every
 * attempt; retries with exponential backoff and jitter on 429 (Retry-After
 * honoured, never on an insufficient_quota 429), 500, 502, 503 (backoff
 * doubled) and 504, as long as the deadline allows; no retry on anything
 * else (400, 401, 404, connection errors).  A circuit breaker opens after
 * breaker_failures consecutive failed requests, refuses calls for
 * breaker_cooldown_ms, then lets one probe through: a reply closes it, a
 * failure reopens it.  Opening and closing are each logged once.
 *
 * Gauges, "<name>/<x>", set at create and then by the worker: calls,
 * successes, parse_failures, truncated, timeouts, http_errors,
 * transport_errors, retries, busy, failures, latency_p50_ms, latency_p95_ms,
 * in_flight, breaker_open, breaker_open_ms, breaker_opens.  Counters are
 * cumulative over the instance's life.
 */
#ifndef GNARL_LLM_CLIENT_H
#define GNARL_LLM_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "llm_buf.h"
#include "llm_prompt.h"

/* A request as the worker sees it: everything copied out of the host's
 * struct gnarl_llm_request at request() time. */
struct gnarl_llm_job {
	uint32_t env;
	uint64_t id;
	struct gnarl_game_state state;   /* copy; state.ram is NULL */
	int32_t last_suggestion;
	uint32_t n_actions;
	char names[GNARL_LLM_MAX_ACTIONS][GNARL_LLM_NAME_MAX];
	const uint8_t *frame;            /* GNARL_FRAME_BYTES copy, NULL when none */
};

/* Append the JSON body of `job` to body (worker thread; may allocate).
 * 0, or -1 with a message in err. */
typedef int (*gnarl_llm_body_fn)(void *ctx, const struct gnarl_llm_job *job,
                                 struct gnarl_llm_buf *body, char err[GNARL_ERR_SIZE]);

struct gnarl_llm_client_config {
	const struct gnarl_host *host;   /* borrowed; log and metric; outlives the client */
	const char *name;                /* gauge prefix and log name ("llm_text"); copied */
	const char *url;                 /* full .../chat/completions URL; copied */
	const char *api_key;             /* NULL: none; copied, wiped at destroy, never logged */
	uint32_t max_in_flight;          /* >= 1 */
	uint32_t timeout_ms;             /* deadline per request, retries included */
	uint32_t max_retries;
	uint32_t retry_backoff_ms;       /* first backoff; doubles per attempt */
	uint32_t breaker_failures;       /* >= 1 */
	uint32_t breaker_cooldown_ms;
	bool wants_frames;               /* request() copies req->frame */
	uint64_t seed;                   /* backoff jitter */
	gnarl_llm_body_fn body;
	void *body_ctx;                  /* borrowed; outlives the client */
};

struct gnarl_llm_client;

/* Allocate every slot, start the worker.  0 or a GNARL_E* code with a
 * message in err. */
int gnarl_llm_client_create(const struct gnarl_llm_client_config *cfg,
                            struct gnarl_llm_client **out, char err[GNARL_ERR_SIZE]);
/* Stop the worker (abandoning transfers in flight) and free everything.
 * Returns without waiting for the network.  Accepts NULL. */
void gnarl_llm_client_destroy(struct gnarl_llm_client *c);

/* Queue a request (copies what it needs).  0; GNARL_EBUSY when no slot is
 * free or the breaker refuses; GNARL_EINVAL for a request it cannot carry
 * (no actions, more than GNARL_LLM_MAX_ACTIONS, a name of
 * GNARL_LLM_NAME_MAX bytes or more, no frame when frames are wanted). */
int gnarl_llm_client_request(struct gnarl_llm_client *c, const struct gnarl_llm_request *req);

/* Move up to max finished requests into out; returns how many.  Every
 * accepted request comes out exactly once: with its action, or with
 * action -1 when it failed (timeout, HTTP or transport error, no action in
 * the reply, a body that could not be built). */
uint32_t gnarl_llm_client_poll(struct gnarl_llm_client *c, struct gnarl_llm_suggestion *out,
                               uint32_t max);

#endif /* GNARL_LLM_CLIENT_H */
