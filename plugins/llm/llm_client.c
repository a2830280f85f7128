/*
 * llm_client.c - the LLM plugins' HTTP client: a worker thread driving
 * libcurl's multi interface, fixed request slots, retries, deadline and a
 * circuit breaker.  See llm_client.h for the contract.
 *
 * Entry points: gnarl_llm_client_create/_destroy (setup), _request and
 * _poll (the host's step path: no allocation, no lock, no waiting; the
 * only system call is one wakeup write per worker nap, in request()).
 *
 * The host's thread and the worker share no lock.  Slot life: the host
 * pops a free slot (a stack only the host touches), copies the request into
 * it and pushes its index on the `submit` ring; the worker pops it, runs
 * it (possibly waiting for retries) and pushes it on the `done` ring with
 * an action, or -1 when it produced none; poll() pops `done`, reports each
 * (failures with action -1, so every accepted request comes out exactly
 * once) and puts every slot back on the free stack.  Both rings are
 * single-producer single-consumer with acquire/release indices, so a slot
 * belongs to exactly one thread at a time.  The breaker's state, the probe
 * flag and the host's counters are atomics; everything else is the
 * worker's alone.  Slots of failed requests return at the next poll().
 */
#define _GNU_SOURCE  /* gettid, for the worker's nice value */

#include "llm_client.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <gnarl/version.h>

#define REPLY_MAX (1u << 20)    /* bytes of an HTTP reply we keep */
#define LATENCY_WINDOW 512      /* latencies behind p50/p95 */
#define PUBLISH_EVERY_MS 250.0
#define WAIT_MAX_MS 250

enum breaker { CLOSED = 0, OPEN, HALF_OPEN };

enum metric {
	M_CALLS, M_SUCCESSES, M_PARSE_FAILURES, M_TRUNCATED, M_TIMEOUTS, M_HTTP_ERRORS,
	M_TRANSPORT_ERRORS, M_RETRIES, M_BUSY, M_FAILURES, M_P50, M_P95, M_IN_FLIGHT,
	M_BREAKER_OPEN, M_BREAKER_OPEN_MS, M_BREAKER_OPENS, M_COUNT
};

static const char *const metric_names[M_COUNT] = {
	"calls", "successes", "parse_failures", "truncated", "timeouts", "http_errors",
	"transport_errors", "retries", "busy", "failures", "latency_p50_ms", "latency_p95_ms",
	"in_flight", "breaker_open", "breaker_open_ms", "breaker_opens",
};

/* Failure classes, each warned about once (later ones go to debug). */
enum warn_class { W_TIMEOUT = 1, W_TRANSPORT = 2, W_HTTP = 4, W_QUOTA = 8, W_BODY = 16 };

/* A single-producer single-consumer ring of slot indices; cap is a power
 * of two, head and tail run freely and wrap. */
struct ring {
	uint32_t *items;
	uint32_t cap;
	atomic_uint head, tail;
};

struct slot {
	struct gnarl_llm_job job;
	uint32_t index;             /* in slots[] */
	int32_t action;             /* set before the push on `done`; -1: none */
	/* worker only */
	CURL *easy;
	struct gnarl_llm_buf body, reply;
	uint32_t attempt;
	double t_submit, deadline, retry_at;
	bool running, waiting;
};

struct gnarl_llm_client {
	const struct gnarl_host *host;
	char *name, *url, *auth;    /* auth: the whole Authorization header */
	struct gnarl_llm_client_config cfg;
	struct curl_slist *headers;
	CURLM *multi;
	bool curl_ready, thread_started;
	pthread_t thread;

	/* shared between the host's thread and the worker, lock-free */
	struct ring submit, done;
	atomic_int breaker;         /* enum breaker; written by the worker */
	atomic_bool probe_taken;    /* HALF_OPEN: the host took the one probe */
	atomic_bool stop, kick;     /* kick: a wakeup is pending */
	atomic_uint free_count;     /* the host's n_free, for the in_flight gauge */
	atomic_uint_fast64_t calls, busy;

	/* the host's thread only */
	uint32_t *free_stack, n_free;

	/* worker only (slots[] entries belong to whoever holds their index) */
	struct slot *slots;
	uint8_t *frames;
	enum breaker bstate;
	uint32_t consecutive;
	double open_since, reopen_at, open_total_ms, last_publish;
	uint64_t count[M_COUNT];
	unsigned warned;
	uint64_t rng;
	double lat[LATENCY_WINDOW], lat_sorted[LATENCY_WINDOW];
	uint32_t lat_n, lat_pos;
	char metric_name[M_COUNT][64];
};

static void ring_push(struct ring *r, uint32_t v)
{
	unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);

	/* Never full: each of the cap >= n slots is in one place at a time. */
	r->items[t & (r->cap - 1)] = v;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

static bool ring_pop(struct ring *r, uint32_t *v)
{
	unsigned h = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (h == atomic_load_explicit(&r->tail, memory_order_acquire))
		return false;
	*v = r->items[h & (r->cap - 1)];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the host's side ------------------------------------------------------ */

static bool job_fits(const struct gnarl_llm_client *c, const struct gnarl_llm_request *req)
{
	if (!req->action_names || req->n_actions == 0 || req->n_actions > GNARL_LLM_MAX_ACTIONS ||
	    !req->state || (c->cfg.wants_frames && !req->frame))
		return false;
	for (uint32_t a = 0; a < req->n_actions; a++)
		if (!req->action_names[a] || strlen(req->action_names[a]) >= GNARL_LLM_NAME_MAX)
			return false;
	return true;
}

int gnarl_llm_client_request(struct gnarl_llm_client *c, const struct gnarl_llm_request *req)
{
	struct gnarl_llm_job *job;
	struct slot *s;
	uint8_t *frame;
	int b;

	if (!c || !req || !job_fits(c, req))
		return GNARL_EINVAL;
	b = atomic_load_explicit(&c->breaker, memory_order_acquire);
	if (c->n_free == 0 || b == OPEN ||
	    (b == HALF_OPEN && atomic_exchange_explicit(&c->probe_taken, true, memory_order_acq_rel))) {
		atomic_fetch_add_explicit(&c->busy, 1, memory_order_relaxed);
		return GNARL_EBUSY;
	}
	s = &c->slots[c->free_stack[--c->n_free]];
	atomic_store_explicit(&c->free_count, c->n_free, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);

	job = &s->job;
	frame = (uint8_t *)job->frame;
	job->env = req->env;
	job->id = req->id;
	job->state = *req->state;
	job->state.ram = NULL;
	job->state.ram_size = 0;
	job->last_suggestion = req->last_suggestion;
	job->n_actions = req->n_actions;
	for (uint32_t a = 0; a < req->n_actions; a++)
		strcpy(job->names[a], req->action_names[a]);
	if (frame && req->frame)
		memcpy(frame, req->frame, GNARL_FRAME_BYTES);
	s->t_submit = now_ms();
	ring_push(&c->submit, s->index);
	/* One wakeup per worker nap, not per request (see the worker loop). */
	if (!atomic_exchange_explicit(&c->kick, true, memory_order_seq_cst))
		curl_multi_wakeup(c->multi);
	return 0;
}

uint32_t gnarl_llm_client_poll(struct gnarl_llm_client *c, struct gnarl_llm_suggestion *out,
                               uint32_t max)
{
	uint32_t n = 0, idx;
	bool any = false;

	if (!c)
		return 0;
	while (n < max && ring_pop(&c->done, &idx)) {
		struct slot *s = &c->slots[idx];

		/* Failures too (action -1): the host learns the env is free. */
		out[n++] = (struct gnarl_llm_suggestion){s->job.env, s->action, s->job.id};
		c->free_stack[c->n_free++] = idx;
		any = true;
	}
	if (any)
		atomic_store_explicit(&c->free_count, c->n_free, memory_order_relaxed);
	return n;
}

/* ---- worker: telemetry ---------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double percentile(struct gnarl_llm_client *c, double p)
{
	uint32_t rank;

	if (!c->lat_n)
		return 0;
	rank = (uint32_t)ceil(p * c->lat_n);  /* nearest rank */
	return c->lat_sorted[(rank ? rank : 1) - 1];
}

static void publish(struct gnarl_llm_client *c, double now)
{
	double value[M_COUNT];
	unsigned n_free = atomic_load_explicit(&c->free_count, memory_order_relaxed);

	c->count[M_CALLS] = atomic_load_explicit(&c->calls, memory_order_relaxed);
	c->count[M_BUSY] = atomic_load_explicit(&c->busy, memory_order_relaxed);
	memcpy(c->lat_sorted, c->lat, c->lat_n * sizeof(double));
	qsort(c->lat_sorted, c->lat_n, sizeof(double), cmp_double);
	for (int m = 0; m < M_COUNT; m++)
		value[m] = (double)c->count[m];
	value[M_P50] = percentile(c, 0.50);
	value[M_P95] = percentile(c, 0.95);
	value[M_IN_FLIGHT] = (double)(c->cfg.max_in_flight - n_free);
	value[M_BREAKER_OPEN] = c->bstate != CLOSED;
	value[M_BREAKER_OPEN_MS] = c->open_total_ms + (c->bstate != CLOSED ? now - c->open_since : 0);
	for (int m = 0; m < M_COUNT; m++)
		c->host->metric(c->host, c->metric_name[m], value[m]);
	c->last_publish = now;
}

static void record_latency(struct gnarl_llm_client *c, double ms)
{
	c->lat[c->lat_pos] = ms;
	c->lat_pos = (c->lat_pos + 1) % LATENCY_WINDOW;
	if (c->lat_n < LATENCY_WINDOW)
		c->lat_n++;
}

static void warn_once(struct gnarl_llm_client *c, unsigned cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn_once(struct gnarl_llm_client *c, unsigned cls, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->warned & cls) {
		c->host->log(c->host, GNARL_LOG_DEBUG, "%s", msg);
		return;
	}
	c->warned |= cls;
	c->host->log(c->host, GNARL_LOG_WARN, "%s (further failures like this are counted in %s/*, "
	             "not logged)", msg, c->name);
}

/* ---- worker: breaker and slot endings -------------------------------------- */

static void breaker_set(struct gnarl_llm_client *c, enum breaker b)
{
	/* The probe flag first: a host that sees HALF_OPEN must see it clear. */
	if (b == HALF_OPEN)
		atomic_store_explicit(&c->probe_taken, false, memory_order_seq_cst);
	atomic_store_explicit(&c->breaker, (int)b, memory_order_seq_cst);
	c->bstate = b;
}

/* Hand the slot back to the host: with a suggestion (done) or without. */
static void release(struct gnarl_llm_client *c, struct slot *s, bool done)
{
	if (!done)
		s->action = -1;
	ring_push(&c->done, s->index);
}

/* The request ended without a reply from the server. */
static void fail(struct gnarl_llm_client *c, struct slot *s, double now, const char *why)
{
	c->count[M_FAILURES]++;
	c->consecutive++;
	if (c->bstate == CLOSED && c->consecutive >= c->cfg.breaker_failures) {
		breaker_set(c, OPEN);
		c->open_since = now;
		c->reopen_at = now + c->cfg.breaker_cooldown_ms;
		c->count[M_BREAKER_OPENS]++;
		c->host->log(c->host, GNARL_LOG_WARN,
		             "circuit breaker open: %u consecutive failed requests to %s (last: %s); "
		             "no calls for %u ms, training goes on without suggestions",
		             c->consecutive, c->url, why, c->cfg.breaker_cooldown_ms);
	} else if (c->bstate != CLOSED) {
		/* The probe (or a late request) failed: stay open, quietly. */
		breaker_set(c, OPEN);
		c->reopen_at = now + c->cfg.breaker_cooldown_ms;
	}
	release(c, s, false);
}

/* The server answered (2xx): the endpoint works, whatever the content. */
static void answered(struct gnarl_llm_client *c, double now)
{
	c->consecutive = 0;
	if (c->bstate == CLOSED)
		return;
	breaker_set(c, CLOSED);
	c->open_total_ms += now - c->open_since;
	c->host->log(c->host, GNARL_LOG_INFO,
	             "circuit breaker closed: %s answers again (open for %.0f ms)", c->url,
	             now - c->open_since);
}

static void finish_reply(struct gnarl_llm_client *c, struct slot *s, double now)
{
	bool truncated;

	s->action = gnarl_llm_reply_read(s->reply.data, s->reply.len, s->job.n_actions,
	                                 (const char(*)[GNARL_LLM_NAME_MAX])s->job.names, &truncated);
	record_latency(c, now - s->t_submit);
	answered(c, now);
	if (truncated)
		c->count[M_TRUNCATED]++;
	if (s->action >= 0) {
		c->count[M_SUCCESSES]++;
		release(c, s, true);
	} else {
		c->count[M_PARSE_FAILURES]++;
		c->host->log(c->host, GNARL_LOG_DEBUG, "reply for env %u has no usable action%s",
		             s->job.env, truncated ? " (truncated by max_tokens)" : "");
		release(c, s, false);
	}
}

/* ---- worker: transfers ------------------------------------------------------ */

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;

	if (s->reply.len + size * n > REPLY_MAX || gnarl_llm_buf_append(&s->reply, data, size * n) < 0)
		return 0;  /* aborts the transfer: a transport error */
	return size * n;
}

static void start_attempt(struct gnarl_llm_client *c, struct slot *s, double now)
{
	double left = s->deadline - now;
	CURL *e = s->easy;

	if (left < 1) {
		c->count[M_TIMEOUTS]++;
		warn_once(c, W_TIMEOUT, "request to %s timed out after %u ms", c->url,
		          c->cfg.timeout_ms);
		fail(c, s, now, "timed out");
		return;
	}
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, c->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body.data);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "gnarl/" GNARL_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
	gnarl_llm_buf_clear(&s->reply);
	s->attempt++;
	s->waiting = false;
	s->running = true;
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		s->running = false;
		c->count[M_TRANSPORT_ERRORS]++;
		fail(c, s, now, "could not start the transfer");
	}
}

static void begin(struct gnarl_llm_client *c, struct slot *s, double now)
{
	char err[GNARL_ERR_SIZE];

	s->attempt = 0;
	s->deadline = s->t_submit + c->cfg.timeout_ms;
	gnarl_llm_buf_clear(&s->body);
	if (c->cfg.body(c->cfg.body_ctx, &s->job, &s->body, err) < 0) {
		warn_once(c, W_BODY, "could not build a request: %s", err);
		release(c, s, false);  /* a local problem: not the endpoint's failure */
		return;
	}
	start_attempt(c, s, now);
}

/* Backoff before attempt `attempt + 1`: base * 2^(attempt-1), doubled for
 * 503 (overloaded), plus up to 25% jitter, at least Retry-After. */
static double backoff_ms(struct gnarl_llm_client *c, uint32_t attempt, long status,
                         curl_off_t retry_after)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
	double d = c->cfg.retry_backoff_ms * (double)(1u << (attempt > 10 ? 10 : attempt - 1));

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	if (status == 503)
		d *= 2;
	d *= 1.0 + 0.25 * (double)(z >> 11) / 9007199254740992.0;
	if (retry_after >= 0 && retry_after * 1000.0 > d)
		d = retry_after * 1000.0;
	return d;
}

static void http_error(struct gnarl_llm_client *c, struct slot *s, long status,
                       curl_off_t retry_after, double now)
{
	bool quota = status == 429 && gnarl_llm_reply_is_quota(s->reply.data, s->reply.len);
	bool retryable = !quota && (status == 429 || status == 500 || status == 502 ||
	                            status == 503 || status == 504);
	char why[128];

	c->count[M_HTTP_ERRORS]++;
	if (retryable && s->attempt <= c->cfg.max_retries) {
		double d = backoff_ms(c, s->attempt, status, retry_after);

		if (now + d < s->deadline) {
			c->count[M_RETRIES]++;
			s->waiting = true;
			s->retry_at = now + d;
			return;
		}
	}
	snprintf(why, sizeof(why), "HTTP %ld", status);
	if (quota)
		warn_once(c, W_QUOTA, "%s answers 429 insufficient_quota: the account's quota is "
		          "used up; not retrying", c->url);
	else
		warn_once(c, W_HTTP, "%s answers HTTP %ld%s", c->url, status,
		          status == 401 || status == 403 ? " (check the key named by api_key_env)"
		          : status == 404 ? " (check endpoint and model)" : "");
	fail(c, s, now, why);
}

static void complete(struct gnarl_llm_client *c, CURL *e, CURLcode res, double now)
{
	curl_off_t retry_after = -1;
	struct slot *s;
	long status = 0;
	char *priv = NULL;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
	s = (struct slot *)(void *)priv;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after);
	curl_multi_remove_handle(c->multi, e);
	s->running = false;
	if (res == CURLE_OPERATION_TIMEDOUT) {
		c->count[M_TIMEOUTS]++;
		warn_once(c, W_TIMEOUT, "request to %s timed out after %u ms", c->url,
		          c->cfg.timeout_ms);
		fail(c, s, now, "timed out");
	} else if (res != CURLE_OK) {
		c->count[M_TRANSPORT_ERRORS]++;
		warn_once(c, W_TRANSPORT, "request to %s failed: %s", c->url, curl_easy_strerror(res));
		fail(c, s, now, curl_easy_strerror(res));
	} else if (status >= 200 && status < 300) {
		finish_reply(c, s, now);
	} else {
		http_error(c, s, status, retry_after, now);
	}
}

/* ---- worker: the loop -------------------------------------------------------- */

static int next_wait_ms(struct gnarl_llm_client *c, double now)
{
	double due = now + WAIT_MAX_MS;

	for (uint32_t i = 0; i < c->cfg.max_in_flight; i++)
		if (c->slots[i].waiting && c->slots[i].retry_at < due)
			due = c->slots[i].retry_at;
	if (c->bstate == OPEN && c->reopen_at < due)
		due = c->reopen_at;
	if (c->last_publish + PUBLISH_EVERY_MS < due)
		due = c->last_publish + PUBLISH_EVERY_MS;
	return due <= now ? 0 : (int)(due - now) + 1;
}

/* Guidance is best-effort and training is not: make this thread yield the
 * CPU to the trainer's threads when cores are scarce (nice +10 relative to
 * the process), so that waking it to send a request does not preempt the
 * step loop.  Failure is harmless. */
static void lower_priority(void)
{
#ifdef __linux__
	id_t tid = (id_t)gettid();
	int nice;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, tid);
	if (errno == 0)
		setpriority(PRIO_PROCESS, tid, nice + 10 > 19 ? 19 : nice + 10);
#endif
}

static void *worker(void *arg)
{
	struct gnarl_llm_client *c = arg;

	lower_priority();
	for (;;) {
		CURLMsg *msg;
		uint32_t idx;
		double now;
		bool changed = false;
		int running, left;

		if (atomic_load_explicit(&c->stop, memory_order_acquire))
			break;
		/* Clear the kick before draining: a request queued after the
		 * drain then finds it clear and wakes the next nap. */
		atomic_store_explicit(&c->kick, false, memory_order_seq_cst);
		now = now_ms();
		while (ring_pop(&c->submit, &idx))
			begin(c, &c->slots[idx], now);
		for (uint32_t i = 0; i < c->cfg.max_in_flight; i++)
			if (c->slots[i].waiting && c->slots[i].retry_at <= now)
				start_attempt(c, &c->slots[i], now);
		curl_multi_perform(c->multi, &running);
		now = now_ms();
		while ((msg = curl_multi_info_read(c->multi, &left))) {
			if (msg->msg == CURLMSG_DONE) {
				complete(c, msg->easy_handle, msg->data.result, now);
				changed = true;
			}
		}
		if (c->bstate == OPEN && now >= c->reopen_at)
			breaker_set(c, HALF_OPEN);
		if (changed || now - c->last_publish >= PUBLISH_EVERY_MS)
			publish(c, now);
		curl_multi_poll(c->multi, NULL, 0, next_wait_ms(c, now), NULL);
	}
	return NULL;
}

/* ---- setup --------------------------------------------------------------------- */

static int make_ring(struct ring *r, uint32_t n)
{
	r->cap = 1;
	while (r->cap < n)
		r->cap *= 2;
	r->items = calloc(r->cap, sizeof(*r->items));
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	return r->items ? 0 : -1;
}

static int make_slots(struct gnarl_llm_client *c, char err[GNARL_ERR_SIZE])
{
	uint32_t n = c->cfg.max_in_flight;

	c->slots = calloc(n, sizeof(*c->slots));
	c->free_stack = calloc(n, sizeof(*c->free_stack));
	if (c->cfg.wants_frames)
		c->frames = malloc((size_t)n * GNARL_FRAME_BYTES);
	if (!c->slots || !c->free_stack || (c->cfg.wants_frames && !c->frames) ||
	    make_ring(&c->submit, n) < 0 || make_ring(&c->done, n) < 0) {
		gnarl_llm_err(err, "%s: out of memory for %u request slots", c->name, n);
		return GNARL_ENOMEM;
	}
	/* Touch every page now, so that request() never takes a page fault
	 * (a first touch can cost milliseconds with transparent huge pages). */
	memset(c->slots, 0, (size_t)n * sizeof(*c->slots));
	if (c->frames)
		memset(c->frames, 0, (size_t)n * GNARL_FRAME_BYTES);
	for (uint32_t i = 0; i < n; i++) {
		struct slot *s = &c->slots[i];

		if (!(s->easy = curl_easy_init())) {
			gnarl_llm_err(err, "%s: curl_easy_init failed", c->name);
			return GNARL_ENOMEM;
		}
		s->index = i;
		if (c->frames)
			s->job.frame = c->frames + (size_t)i * GNARL_FRAME_BYTES;
		c->free_stack[n - 1 - i] = i;
	}
	c->n_free = n;
	atomic_store(&c->free_count, n);
	return 0;
}

static int make_headers(struct gnarl_llm_client *c, char err[GNARL_ERR_SIZE])
{
	static const char *const fixed[] = {"Content-Type: application/json",
	                                    "Accept: application/json", "Expect:"};
	struct curl_slist *l;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!(l = curl_slist_append(c->headers, fixed[i])))
			goto nomem;
		c->headers = l;
	}
	if (c->cfg.api_key && c->cfg.api_key[0]) {
		size_t n = strlen("Authorization: Bearer ") + strlen(c->cfg.api_key) + 1;

		if (!(c->auth = malloc(n)))
			goto nomem;
		snprintf(c->auth, n, "Authorization: Bearer %s", c->cfg.api_key);
		if (!(l = curl_slist_append(c->headers, c->auth)))
			goto nomem;
		c->headers = l;
	}
	return 0;
nomem:
	gnarl_llm_err(err, "%s: out of memory", c->name);
	return GNARL_ENOMEM;
}

int gnarl_llm_client_create(const struct gnarl_llm_client_config *cfg,
                            struct gnarl_llm_client **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_llm_client *c = calloc(1, sizeof(*c));
	int rc = GNARL_ENOMEM;

	*out = NULL;
	if (!c) {
		gnarl_llm_err(err, "llm client: out of memory");
		return GNARL_ENOMEM;
	}
	atomic_init(&c->breaker, CLOSED);
	atomic_init(&c->probe_taken, false);
	atomic_init(&c->stop, false);
	atomic_init(&c->kick, false);
	atomic_init(&c->free_count, 0);
	atomic_init(&c->calls, 0);
	atomic_init(&c->busy, 0);
	c->cfg = *cfg;
	c->host = cfg->host;
	c->rng = cfg->seed;
	c->cfg.api_key = NULL;  /* only the header copy is kept */
	if (!(c->name = strdup(cfg->name)) || !(c->url = strdup(cfg->url))) {
		gnarl_llm_err(err, "llm client: out of memory");
		goto fail;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		gnarl_llm_err(err, "%s: libcurl failed to initialise", c->name);
		rc = GNARL_EIO;
		goto fail;
	}
	c->curl_ready = true;
	c->cfg.api_key = cfg->api_key;
	rc = make_headers(c, err);
	c->cfg.api_key = NULL;
	if (rc < 0 || (rc = make_slots(c, err)) < 0)
		goto fail;
	if (!(c->multi = curl_multi_init())) {
		gnarl_llm_err(err, "%s: curl_multi_init failed", c->name);
		rc = GNARL_ENOMEM;
		goto fail;
	}
	for (int m = 0; m < M_COUNT; m++)
		snprintf(c->metric_name[m], sizeof(c->metric_name[m]), "%s/%s", c->name,
		         metric_names[m]);
	publish(c, now_ms());  /* every gauge exists before the first iteration */
	if (pthread_create(&c->thread, NULL, worker, c) != 0) {
		gnarl_llm_err(err, "%s: could not start the worker thread", c->name);
		rc = GNARL_EIO;
		goto fail;
	}
	c->thread_started = true;
	*out = c;
	return 0;
fail:
	gnarl_llm_client_destroy(c);
	return rc;
}

static void wipe(char *s)
{
	volatile char *p = s;

	while (p && *p)
		*p++ = 0;
}

void gnarl_llm_client_destroy(struct gnarl_llm_client *c)
{
	if (!c)
		return;
	if (c->thread_started) {
		atomic_store_explicit(&c->stop, true, memory_order_release);
		curl_multi_wakeup(c->multi);
		pthread_join(c->thread, NULL);
	}
	for (uint32_t i = 0; c->slots && i < c->cfg.max_in_flight; i++) {
		struct slot *s = &c->slots[i];

		if (s->running)
			curl_multi_remove_handle(c->multi, s->easy);
		if (s->easy)
			curl_easy_cleanup(s->easy);
		gnarl_llm_buf_free(&s->body);
		gnarl_llm_buf_free(&s->reply);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	for (struct curl_slist *l = c->headers; l; l = l->next)
		if (strncmp(l->data, "Authorization:", 14) == 0)
			wipe(l->data);
	curl_slist_free_all(c->headers);
	wipe(c->auth);
	free(c->auth);
	if (c->curl_ready)
		curl_global_cleanup();
	free(c->slots);
	free(c->free_stack);
	free(c->submit.items);
	free(c->done.items);
	free(c->frames);
	free(c->name);
	free(c->url);
	free(c);
}
