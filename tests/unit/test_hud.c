/*
 * test_hud.c - core/hud.c and hud_http.c against real HTTP clients: the
 * HUD listens on an ephemeral port of 127.0.0.1 and the test fetches each
 * endpoint with libcurl (status, content type, JSON shape and values read
 * back with jansson, the PNG decoded with libpng) and follows the event
 * stream over a plain socket.  Also: the ring never holds more than M
 * iterations, the stream limit answers 503 and frees the slot of a client
 * that went away, a client that stops reading is dropped while commits
 * go on, the bind address is the only one listening, a port in use and
 * bad addresses are refused with messages, the env view forwards every
 * call and renders env 0 only when armed, and new LLM suggestions are
 * read from the advice blocks.
 */
#define _GNU_SOURCE /* strcasestr, usleep */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <png.h>

#include "error.h"
#include "hud.h"

/* A safety net against a hung test, never a measure. */
#define DEADLINE_MS 20000

static const char *const actions[] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};

#ifdef GNARL_HAVE_MICROHTTPD

static struct gnarl_hud *start(uint32_t history, uint32_t streams)
{
	struct gnarl_hud_config c = {.bind = "127.0.0.1", .history = history,
	                             .max_streams = streams, .title = "test \"run\""};
	struct gnarl_hud *h = NULL;
	char err[GNARL_ERR_SIZE];

	if (gnarl_hud_create(&c, &h, err))
		fail_msg("gnarl_hud_create: %s", err);
	assert_true(gnarl_hud_port(h) > 0);
	return h;
}

static void describe(struct gnarl_hud *h, uint32_t n_envs, uint32_t T, uint32_t K,
                     const char *const *sources, const uint32_t *ttl)
{
	struct gnarl_hud_run run = {"fake", n_envs, T, 100, 7, actions, K, sources, ttl};
	char err[GNARL_ERR_SIZE];

	assert_int_equal(gnarl_hud_describe(h, &run, err), 0);
}

/* ---- an HTTP client ------------------------------------------------------ */

struct reply {
	long status;
	char type[128];
	char *body;
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	char *q = realloc(r->body, r->len + size * n + 1);

	if (!q)
		return 0;
	memcpy(q + r->len, p, size * n);
	r->body = q;
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static struct reply get(const char *host, uint16_t port, const char *path, const char *method)
{
	struct reply r = {0};
	char url[256];
	char *type = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	assert_non_null(c);
	snprintf(url, sizeof(url), "http://%s:%u%s", host, port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)DEADLINE_MS);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		r.status = -(long)rc;
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type)
		snprintf(r.type, sizeof(r.type), "%s", type);
	curl_easy_cleanup(c);
	if (!r.body)
		r.body = calloc(1, 1);
	return r;
}

static json_t *get_json(struct gnarl_hud *h, const char *path)
{
	struct reply r = get("127.0.0.1", gnarl_hud_port(h), path, NULL);
	json_error_t e;
	json_t *j;

	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "application/json");
	j = json_loads(r.body, 0, &e);
	if (!j)
		fail_msg("%s: not JSON (%s): %.200s", path, e.text, r.body);
	free(r.body);
	return j;
}

static json_t *field(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!v)
		fail_msg("no key '%s'", k);
	return v;
}

/* ---- an event-stream client over a plain socket --------------------------- */

static int connect_to(const char *host, uint16_t port, int rcvbuf)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	inet_pton(AF_INET, host, &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

struct stream {
	int fd;
	char buf[1 << 16];
	size_t len;
	bool eof;
};

/* Read more into s->buf (waiting up to ms); false on timeout. */
static bool read_more(struct stream *s, int ms)
{
	struct pollfd p = {s->fd, POLLIN, 0};
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return false;
	if (s->len + 1 >= sizeof(s->buf)) {  /* keep the tail */
		memmove(s->buf, s->buf + sizeof(s->buf) / 2, s->len - sizeof(s->buf) / 2);
		s->len -= sizeof(s->buf) / 2;
	}
	n = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
	if (n <= 0) {
		s->eof = true;
		return false;
	}
	s->len += (size_t)n;
	s->buf[s->len] = '\0';
	return true;
}

/* Open /api/events (HTTP/1.0: no chunking) and read up to the first
 * comment; returns the stream with its headers checked. */
static void open_events(struct stream *s, uint16_t port, const char *path, int rcvbuf)
{
	char req[256];
	char *end;

	memset(s, 0, sizeof(*s));
	s->fd = connect_to("127.0.0.1", port, rcvbuf);
	assert_true(s->fd >= 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	assert_int_equal(write(s->fd, req, strlen(req)), (ssize_t)strlen(req));
	while (!(end = strstr(s->buf, "retry: 2000\n\n")))
		if (!read_more(s, DEADLINE_MS))
			fail_msg("no stream opening: %.300s", s->buf);
	assert_non_null(strstr(s->buf, " 200 "));
	assert_non_null(strcasestr(s->buf, "Content-Type: text/event-stream"));
	end += strlen("retry: 2000\n\n");
	s->len -= (size_t)(end - s->buf);
	memmove(s->buf, end, s->len + 1);
}

/* The next `data:` message as JSON (comments skipped). */
static json_t *next_event(struct stream *s)
{
	for (;;) {
		char *end = strstr(s->buf, "\n\n");
		if (end) {
			char *data = strstr(s->buf, "data: ");
			json_t *j = NULL;

			*end = '\0';
			if (data && data < end)
				j = json_loads(data + 6, 0, NULL);
			end += 2;
			s->len -= (size_t)(end - s->buf);
			memmove(s->buf, end, s->len + 1);
			if (j)
				return j;
			continue;
		}
		if (!read_more(s, DEADLINE_MS))
			return NULL;
	}
}

static void wait_streams(struct gnarl_hud *h, uint32_t want)
{
	for (int ms = 0; gnarl_hud_streams(h) != want; ms += 5) {
		if (ms > DEADLINE_MS)
			fail_msg("streams: %u, expected %u", gnarl_hud_streams(h), want);
		usleep(5000);
	}
}

static void commit(struct gnarl_hud *h, uint64_t it, double ret)
{
	struct gnarl_hud_iteration ci = {.iteration = it, .env_steps = it * 64};

	gnarl_hud_set(h, "ep_return_mean", ret);
	gnarl_hud_set(h, "reward/room_discovery", ret / 2);
	gnarl_hud_commit(h, &ci);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_page(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	struct reply r = get("127.0.0.1", gnarl_hud_port(h), "/", NULL);

	(void)state;
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "text/html; charset=utf-8");
	assert_non_null(strstr(r.body, "<canvas"));
	assert_non_null(strstr(r.body, "new EventSource(api('/api/events'"));
	assert_non_null(strstr(r.body, "fetch(api('/api/metrics'))"));
	/* self-contained: nothing is loaded from elsewhere */
	assert_null(strstr(r.body, "http://"));
	assert_null(strstr(r.body, "https://"));
	assert_null(strstr(r.body, "<script src"));
	assert_null(strstr(r.body, "<link"));
	assert_null(strstr(r.body, "@import"));
	free(r.body);
	gnarl_hud_free(h);
}

static void test_metrics(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	struct gnarl_hud_iteration ci = {0};
	json_t *j, *series;

	(void)state;
	describe(h, 4, 16, 0, NULL, NULL);
	/* before any iteration: the shape, no rows */
	j = get_json(h, "/api/metrics");
	assert_int_equal(json_integer_value(field(j, "rows")), 0);
	assert_int_equal(json_array_size(field(j, "iteration")), 0);
	assert_string_equal(json_string_value(field(j, "title")), "test \"run\"");
	assert_string_equal(json_string_value(field(j, "env")), "fake");
	assert_int_equal(json_integer_value(field(j, "capacity")), 16);
	json_decref(j);

	gnarl_hud_set(h, "ep_return_mean", 1.5);
	gnarl_hud_set(h, "policy_loss", -0.125);
	gnarl_hud_set(h, "llm_text/calls", 3);
	ci = (struct gnarl_hud_iteration){.iteration = 1, .env_steps = 64};
	gnarl_hud_commit(h, &ci);
	gnarl_hud_set(h, "llm_text/calls", 5);
	gnarl_hud_set(h, "ep_return_mean", NAN);    /* no episode ended: null */
	gnarl_hud_set(h, "reward/combat", 10.0);    /* a name first seen now */
	ci.iteration = 2;
	ci.env_steps = 128;
	gnarl_hud_commit(h, &ci);

	j = get_json(h, "/api/metrics");
	assert_int_equal(json_integer_value(field(j, "rows")), 2);
	assert_int_equal(json_integer_value(json_array_get(field(j, "iteration"), 0)), 1);
	assert_int_equal(json_integer_value(json_array_get(field(j, "iteration"), 1)), 2);
	assert_int_equal(json_integer_value(json_array_get(field(j, "env_steps"), 1)), 128);
	assert_true(json_real_value(json_array_get(field(j, "time"), 1)) > 1.6e9);
	assert_int_equal(json_array_size(field(j, "names")), 4);
	assert_string_equal(json_string_value(json_array_get(field(j, "names"), 0)),
	                    "ep_return_mean");
	series = field(j, "series");
	assert_int_equal(json_object_size(series), 4);
	assert_true(json_real_value(json_array_get(field(series, "ep_return_mean"), 0)) == 1.5);
	assert_true(json_is_null(json_array_get(field(series, "ep_return_mean"), 1)));
	/* set in iteration 1 only */
	assert_true(json_real_value(json_array_get(field(series, "policy_loss"), 0)) == -0.125);
	assert_true(json_is_null(json_array_get(field(series, "policy_loss"), 1)));
	/* first seen in iteration 2: null before */
	assert_true(json_is_null(json_array_get(field(series, "reward/combat"), 0)));
	assert_true(json_number_value(json_array_get(field(series, "reward/combat"), 1)) == 10.0);
	/* a name set in every iteration */
	assert_true(json_number_value(json_array_get(field(series, "llm_text/calls"), 0)) == 3);
	assert_true(json_number_value(json_array_get(field(series, "llm_text/calls"), 1)) == 5);
	json_decref(j);
	gnarl_hud_free(h);
}

static void test_ring_bounded(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	json_t *j, *it, *ret;

	(void)state;
	describe(h, 4, 16, 0, NULL, NULL);
	for (uint64_t i = 1; i <= 40; i++) {
		commit(h, i, (double)i);
		assert_true(gnarl_hud_held(h) <= 16);
	}
	assert_int_equal(gnarl_hud_committed(h), 40);
	assert_int_equal(gnarl_hud_held(h), 16);
	j = get_json(h, "/api/metrics");
	it = field(j, "iteration");
	ret = json_object_get(field(j, "series"), "ep_return_mean");
	assert_int_equal(json_array_size(it), 16);
	assert_int_equal(json_array_size(ret), 16);
	for (size_t k = 0; k < 16; k++) {  /* the newest 16, oldest first */
		assert_int_equal(json_integer_value(json_array_get(it, k)), 25 + k);
		assert_true(json_number_value(json_array_get(ret, k)) == (double)(25 + k));
	}
	assert_int_equal(json_integer_value(field(j, "committed")), 40);
	json_decref(j);
	j = get_json(h, "/api/metrics?last=5");
	it = field(j, "iteration");
	assert_int_equal(json_array_size(it), 5);
	assert_int_equal(json_integer_value(json_array_get(it, 0)), 36);
	assert_int_equal(json_integer_value(json_array_get(it, 4)), 40);
	json_decref(j);
	gnarl_hud_free(h);
}

static void test_events(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	struct stream *s = calloc(1, sizeof(*s));
	json_t *m;

	(void)state;
	describe(h, 4, 16, 0, NULL, NULL);
	commit(h, 1, 1.0);
	open_events(s, gnarl_hud_port(h), "/api/events", 0);
	wait_streams(h, 1);
	/* the stream starts after what was committed before it opened */
	commit(h, 2, 7.25);
	m = next_event(s);
	assert_non_null(m);
	assert_int_equal(json_integer_value(field(m, "iteration")), 2);
	assert_int_equal(json_integer_value(field(m, "env_steps")), 128);
	assert_true(json_number_value(field(field(m, "scalars"), "ep_return_mean")) == 7.25);
	assert_true(json_number_value(field(field(m, "scalars"), "reward/room_discovery")) ==
	            3.625);
	json_decref(m);
	/* one message per iteration, in order */
	commit(h, 3, 8.0);
	commit(h, 4, 9.0);
	m = next_event(s);
	assert_int_equal(json_integer_value(field(m, "iteration")), 3);
	json_decref(m);
	m = next_event(s);
	assert_int_equal(json_integer_value(field(m, "iteration")), 4);
	json_decref(m);
	close(s->fd);
	/* ?after=N replays the ring from iteration N + 1 */
	open_events(s, gnarl_hud_port(h), "/api/events?after=2", 0);
	m = next_event(s);
	assert_int_equal(json_integer_value(field(m, "iteration")), 3);
	json_decref(m);
	close(s->fd);
	free(s);
	gnarl_hud_free(h);  /* with a stream still open on the server's side */
}

/* A reconnect names the last iteration it got: the ring is replayed while
 * it holds the next one, else the stream starts at the next commit. */
static void test_events_reconnect(void **state)
{
	struct gnarl_hud *h = start(16, 4);
	struct stream *s = calloc(1, sizeof(*s)), *t = calloc(1, sizeof(*t));
	json_t *m;

	(void)state;
	describe(h, 4, 16, 0, NULL, NULL);
	for (uint64_t it = 1; it <= 40; it++)
		commit(h, it, 1.0);
	/* the whole ring (16) behind: replayed from its oldest row */
	open_events(s, gnarl_hud_port(h), "/api/events?after=24", 0);
	m = next_event(s);
	assert_int_equal(json_integer_value(field(m, "iteration")), 25);
	json_decref(m);
	/* past it (a stream that was dropped): from the next commit, and the
	 * page, seeing the gap, reloads /api/metrics */
	open_events(t, gnarl_hud_port(h), "/api/events?after=5", 0);
	commit(h, 41, 1.0); /* the stream's start was fixed before its opening */
	m = next_event(t);
	assert_non_null(m);
	assert_int_equal(json_integer_value(field(m, "iteration")), 41);
	json_decref(m);
	close(s->fd);
	close(t->fd);
	free(s);
	free(t);
	gnarl_hud_free(h);
}

static void test_stream_limit(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	struct stream *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct reply r;
	json_t *m;

	(void)state;
	describe(h, 4, 16, 0, NULL, NULL);
	open_events(a, gnarl_hud_port(h), "/api/events", 0);
	open_events(b, gnarl_hud_port(h), "/api/events", 0);
	wait_streams(h, 2);
	r = get("127.0.0.1", gnarl_hud_port(h), "/api/events", NULL);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "too many event streams"));
	free(r.body);
	/* the other endpoints still answer */
	r = get("127.0.0.1", gnarl_hud_port(h), "/api/metrics", NULL);
	assert_int_equal(r.status, 200);
	free(r.body);
	/* a client that goes away frees its slot at the next message */
	close(a->fd);
	commit(h, 1, 1.0);
	wait_streams(h, 1);
	m = next_event(b);
	assert_int_equal(json_integer_value(field(m, "iteration")), 1);
	json_decref(m);
	open_events(a, gnarl_hud_port(h), "/api/events", 0);
	wait_streams(h, 2);
	commit(h, 2, 2.0);
	m = next_event(a);
	assert_int_equal(json_integer_value(field(m, "iteration")), 2);
	json_decref(m);
	close(a->fd);
	close(b->fd);
	free(a);
	free(b);
	gnarl_hud_free(h);
}

/* A client that stops reading: commits go on (none waits for it), and
 * once it is M iterations behind the server closes its stream. */
static void test_slow_client_dropped(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	struct stream *s = calloc(1, sizeof(*s));
	uint64_t last = 0, n = 0;
	char name[GNARL_HUD_NAME_MAX];
	json_t *m;

	(void)state;
	describe(h, 4, 16, 0, NULL, NULL);
	open_events(s, gnarl_hud_port(h), "/api/events", 4096);
	wait_streams(h, 1);
	/* big messages (~20 KB each) fill the socket buffers quickly */
	for (uint64_t i = 1; i <= 400; i++) {
		for (int k = 0; k < 200; k++) {
			snprintf(name, sizeof(name), "gauge_with_a_long_name_%03d/%060d", k, 0);
			gnarl_hud_set(h, name, (double)i);
		}
		commit(h, i, (double)i);
	}
	assert_int_equal(gnarl_hud_committed(h), 400);
	/* it reads what the sockets held (nothing at all when the server
	 * thread dropped it before its first write), then the server's close */
	while ((m = next_event(s))) {
		last = (uint64_t)json_integer_value(field(m, "iteration"));
		n++;
		json_decref(m);
	}
	assert_true(s->eof);
	assert_true(n < 400 && last < 400);
	wait_streams(h, 0);
	close(s->fd);
	free(s);
	gnarl_hud_free(h);
}

static void test_read_only(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	uint16_t port = gnarl_hud_port(h);
	const char *methods[] = {"POST", "PUT", "DELETE", "PATCH"};
	struct reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		r = get("127.0.0.1", port, "/api/metrics", methods[i]);
		assert_int_equal(r.status, 405);
		free(r.body);
	}
	r = get("127.0.0.1", port, "/nothing", NULL);
	assert_int_equal(r.status, 404);
	free(r.body);
	gnarl_hud_free(h);
}

static void test_bind(void **state)
{
	struct gnarl_hud_config c = {.bind = "127.0.0.2"};
	struct gnarl_hud *h = NULL, *h2 = NULL;
	char err[GNARL_ERR_SIZE];
	struct reply r;
	int fd;

	(void)state;
	assert_int_equal(gnarl_hud_create(&c, &h, err), 0);
	r = get("127.0.0.2", gnarl_hud_port(h), "/api/metrics", NULL);
	assert_int_equal(r.status, 200);
	free(r.body);
	/* nothing listens on the port of another address */
	fd = connect_to("127.0.0.1", gnarl_hud_port(h), 0);
	assert_int_equal(fd, -1);
	/* the port is taken on that address: refused, naming the port */
	c.port = gnarl_hud_port(h);
	assert_int_equal(gnarl_hud_create(&c, &h2, err), GNARL_EBUSY);
	assert_null(h2);
	{
		char want[64];
		snprintf(want, sizeof(want), "hud: port %u on 127.0.0.2 is already in use", c.port);
		assert_non_null(strstr(err, want));
	}
	gnarl_hud_free(h);
	/* addresses that are not this machine's, or not addresses */
	c.port = 0;
	c.bind = "192.0.2.1";  /* TEST-NET-1 */
	c.public = true;       /* (without it, or a token, refused before: test_hud_token) */
	assert_int_equal(gnarl_hud_create(&c, &h2, err), GNARL_EINVAL);
	assert_non_null(strstr(err, "192.0.2.1 is not an address of this machine"));
	c.bind = "example.invalid";
	assert_int_equal(gnarl_hud_create(&c, &h2, err), GNARL_EINVAL);
	assert_non_null(strstr(err, "is not an IP address"));
	assert_null(h2);
	/* NULL: every call is a no-op */
	gnarl_hud_set(NULL, "x", 1);
	gnarl_hud_commit(NULL, &(struct gnarl_hud_iteration){0});
	assert_false(gnarl_hud_arm_frame(NULL));
	gnarl_hud_free(NULL);
}

/* ---- a fake env with frames ------------------------------------------------ */

struct fake_env {
	uint32_t N;
	bool frames;
	uint32_t steps, resets, saves, loads;
	uint8_t flags_seen[8];      /* want_frame of the last step */
	const uint8_t *frames_seen; /* io->frames of the last step */
};

static void fake_spaces(void *env, struct gnarl_env_spaces *out)
{
	struct fake_env *e = env;

	*out = (struct gnarl_env_spaces){sizeof(*out), 2, 7, actions, e->frames, false};
}

static void fake_reset(void *env, const struct gnarl_env_io *io, uint32_t index, uint64_t seed)
{
	(void)io;
	(void)index;
	(void)seed;
	((struct fake_env *)env)->resets++;
}

/* Frames: pixel (x, y) of env n after step s = (x + s, y + n, 7 * n). */
static void fake_step(void *env, const struct gnarl_env_io *io, uint32_t first, uint32_t count)
{
	struct fake_env *e = env;

	e->steps++;
	e->frames_seen = io->frames;
	for (uint32_t n = first; n < first + count && n < sizeof(e->flags_seen); n++) {
		e->flags_seen[n] = io->want_frame ? io->want_frame[n] : 0;
		if (!io->want_frame || !io->want_frame[n])
			continue;
		uint8_t *f = io->frames + (size_t)n * GNARL_FRAME_BYTES;
		for (uint32_t y = 0; y < GNARL_FRAME_HEIGHT; y++)
			for (uint32_t x = 0; x < GNARL_FRAME_WIDTH; x++) {
				uint8_t *p = f + ((size_t)y * GNARL_FRAME_WIDTH + x) * 3;
				p[0] = (uint8_t)(x + e->steps);
				p[1] = (uint8_t)(y + n);
				p[2] = (uint8_t)(7 * n);
			}
	}
}

static size_t fake_state_size(void *env)
{
	(void)env;
	return 12;
}

static int fake_save(void *env, void *buf, size_t size)
{
	((struct fake_env *)env)->saves++;
	memset(buf, 0xab, size);
	return 0;
}

static int fake_load(void *env, const struct gnarl_env_io *io, const void *buf, size_t size,
                     char err[GNARL_ERR_SIZE])
{
	(void)io;
	(void)buf;
	(void)err;
	((struct fake_env *)env)->loads++;
	return size == 12 ? 0 : GNARL_EINVAL;
}

static const struct gnarl_env_ops fake_ops = {
    .size = sizeof(struct gnarl_env_ops),
    .spaces = fake_spaces,
    .reset = fake_reset,
    .step = fake_step,
    .state_size = fake_state_size,
    .save_state = fake_save,
    .load_state = fake_load,
};

/* The PNG decoded: width, height and RGB pixels (owned by the caller). */
static uint8_t *decode_png(const char *data, size_t len, uint32_t *w, uint32_t *h)
{
	png_image img;
	uint8_t *px;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, data, len))
		fail_msg("not a PNG: %s", img.message);
	img.format = PNG_FORMAT_RGB;
	px = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(px);
	if (!png_image_finish_read(&img, NULL, px, 0, NULL))
		fail_msg("PNG decode: %s", img.message);
	*w = img.width;
	*h = img.height;
	return px;
}

/* The frame timing's clock, moved by the test (microseconds). */
static _Atomic int64_t fake_us = 1000000;

static double fake_clock(void *ctx)
{
	(void)ctx;
	return (double)atomic_load(&fake_us) / 1e6;
}

static void test_frame(void **state)
{
	struct gnarl_hud_config c = {.bind = "127.0.0.1", .history = 16, .max_streams = 2,
	                             .clock = fake_clock};
	struct gnarl_hud *h = NULL;
	struct fake_env fe = {.N = 3, .frames = true};
	const struct gnarl_env_ops *ops;
	void *env;
	char err[GNARL_ERR_SIZE];
	int32_t acts[3] = {0};
	uint8_t want[3] = {0, 0, 0};
	uint8_t *rows = calloc(3, GNARL_FRAME_BYTES);
	struct gnarl_env_io io = {.size = sizeof(io), .actions = acts, .want_frame = want};
	struct gnarl_env_spaces sp;
	struct reply r;
	uint32_t w, ht;
	uint8_t *px;
	uint8_t blob[12];

	(void)state;
	assert_int_equal(gnarl_hud_create(&c, &h, err), 0);
	describe(h, 3, 16, 0, NULL, NULL);
	assert_int_equal(gnarl_hud_watch_env(h, &fake_ops, &fe, 3, &ops, &env, err), 0);
	assert_ptr_not_equal(ops, &fake_ops);
	/* everything is forwarded */
	ops->spaces(env, &sp);
	assert_int_equal(sp.n_actions, 7);
	ops->reset(env, &io, 1, 5);
	assert_int_equal(fe.resets, 1);
	assert_int_equal(ops->state_size(env), 12);
	assert_int_equal(ops->save_state(env, blob, sizeof(blob)), 0);
	assert_int_equal(ops->load_state(env, &io, blob, sizeof(blob), err), 0);
	assert_int_equal(fe.saves, 1);
	assert_int_equal(fe.loads, 1);
	r = get("127.0.0.1", gnarl_hud_port(h), "/frame.png", NULL);
	assert_int_equal(r.status, 503);  /* none yet */
	free(r.body);
	/* unarmed: the env is asked for no frame */
	ops->step(env, &io, 0, 3);
	assert_int_equal(fe.flags_seen[0], 0);
	assert_null(fe.frames_seen);
	/* armed (the first frame is always due): env 0 only, once */
	assert_true(gnarl_hud_arm_frame(h));
	ops->step(env, &io, 0, 3);
	assert_int_equal(fe.flags_seen[0], 1);
	assert_int_equal(fe.flags_seen[1], 0);
	assert_int_equal(fe.flags_seen[2], 0);
	commit(h, 1, 1.0);
	ops->step(env, &io, 0, 3);
	assert_int_equal(fe.flags_seen[0], 0);
	r = get("127.0.0.1", gnarl_hud_port(h), "/frame.png", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "image/png");
	px = decode_png(r.body, r.len, &w, &ht);
	assert_int_equal(w, 160);
	assert_int_equal(ht, 144);
	assert_int_equal(px[0], 2);                                  /* step 2 */
	assert_int_equal(px[((size_t)143 * 160 + 159) * 3 + 0], (uint8_t)(159 + 2));
	assert_int_equal(px[((size_t)143 * 160 + 159) * 3 + 1], 143); /* env 0 */
	free(px);
	free(r.body);
	/* frames a quarter second apart, by the HUD's clock: not due at once,
	 * nor 0.2 s later, due at 0.25 s */
	assert_false(gnarl_hud_arm_frame(h));
	atomic_fetch_add(&fake_us, 200000);
	assert_false(gnarl_hud_arm_frame(h));
	atomic_fetch_add(&fake_us, 50000);
	/* when the caller wants frames too (vision LLM): other envs keep their
	 * flags, env 0's row is the caller's and the HUD copies it */
	assert_true(gnarl_hud_arm_frame(h));
	io.frames = rows;
	want[2] = 1;
	ops->step(env, &io, 0, 3);
	assert_ptr_equal(fe.frames_seen, rows);
	assert_int_equal(fe.flags_seen[0], 1);
	assert_int_equal(fe.flags_seen[1], 0);
	assert_int_equal(fe.flags_seen[2], 1);
	assert_int_equal(rows[2 * GNARL_FRAME_BYTES + 2], 14);       /* env 2 rendered */
	commit(h, 2, 2.0);
	r = get("127.0.0.1", gnarl_hud_port(h), "/frame.png", NULL);
	assert_int_equal(r.status, 200);
	px = decode_png(r.body, r.len, &w, &ht);
	assert_int_equal(px[0], 4);                                  /* step 4 */
	assert_int_equal(px[2], 0);                                  /* env 0's row */
	free(px);
	free(r.body);
	/* Frames stop 30 s after the last look at the page or /frame.png (the
	 * GET above), and start again with the next look. */
	atomic_fetch_add(&fake_us, 29000000);
	assert_true(gnarl_hud_arm_frame(h));
	ops->step(env, &io, 0, 3);
	commit(h, 3, 3.0);
	atomic_fetch_add(&fake_us, 2000000);
	assert_false(gnarl_hud_arm_frame(h));
	r = get("127.0.0.1", gnarl_hud_port(h), "/frame.png", NULL);
	free(r.body);
	assert_true(gnarl_hud_arm_frame(h));
	ops->step(env, &io, 0, 3);
	free(rows);
	gnarl_hud_free(h);
}

static void test_no_frames(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	struct fake_env fe = {.N = 2, .frames = false};
	const struct gnarl_env_ops *ops;
	void *env;
	char err[GNARL_ERR_SIZE];
	struct reply r;

	(void)state;
	assert_int_equal(gnarl_hud_watch_env(h, &fake_ops, &fe, 2, &ops, &env, err), 0);
	assert_ptr_equal(ops, &fake_ops);  /* nothing to wrap */
	assert_ptr_equal(env, &fe);
	assert_false(gnarl_hud_arm_frame(h));
	r = get("127.0.0.1", gnarl_hud_port(h), "/frame.png", NULL);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "renders no frames"));
	free(r.body);
	gnarl_hud_free(h);
}

/* ---- LLM suggestions --------------------------------------------------------- */

#define O_ENV 2
#define O (O_ENV + 7 + 1)

static void advise(float *obs, uint32_t n, int action, float age)
{
	float *row = obs + (size_t)n * O + O_ENV;

	memset(row, 0, 8 * sizeof(float));
	if (action >= 0) {
		row[action] = 1;
		row[7] = age;
	}
}

static void commit_obs(struct gnarl_hud *h, uint64_t it, const float *obs)
{
	struct gnarl_hud_iteration ci = {it, it * 64, obs, O, O_ENV};

	gnarl_hud_commit(h, &ci);
}

static void test_llm(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	const char *src[] = {"llm_text"};
	const uint32_t ttl[] = {32};
	float obs[4 * O] = {0};
	json_t *j, *s, *e;

	(void)state;
	describe(h, 4, 8, 1, src, ttl);
	j = get_json(h, "/api/llm");
	assert_true(json_is_true(field(j, "enabled")));
	assert_int_equal(json_array_size(field(j, "suggestions")), 0);
	assert_string_equal(json_string_value(field(json_array_get(field(j, "sources"), 0),
	                                             "name")), "llm_text");
	json_decref(j);
	advise(obs, 1, 3, 4.0f / 32);
	commit_obs(h, 1, obs);
	advise(obs, 1, 3, 12.0f / 32);  /* the same suggestion, older: not new */
	advise(obs, 2, 5, 0);           /* new */
	commit_obs(h, 2, obs);
	j = get_json(h, "/api/llm");
	assert_int_equal(json_integer_value(field(j, "iteration")), 2);
	assert_int_equal(json_integer_value(field(j, "active")), 2);
	s = field(j, "suggestions");
	assert_int_equal(json_array_size(s), 2);
	e = json_array_get(s, 0);  /* newest first */
	assert_int_equal(json_integer_value(field(e, "env")), 2);
	assert_string_equal(json_string_value(field(e, "action")), "A");
	assert_string_equal(json_string_value(field(e, "source")), "llm_text");
	assert_int_equal(json_integer_value(field(e, "age")), 0);
	assert_int_equal(json_integer_value(field(e, "iteration")), 2);
	e = json_array_get(s, 1);
	assert_int_equal(json_integer_value(field(e, "env")), 1);
	assert_string_equal(json_string_value(field(e, "action")), "LEFT");
	assert_int_equal(json_integer_value(field(e, "age")), 4 + 8);  /* T = 8 later */
	json_decref(j);
	/* the same action arriving again (younger) is new; expiry is not */
	advise(obs, 1, 3, 1.0f / 32);
	advise(obs, 2, -1, 0);
	commit_obs(h, 3, obs);
	j = get_json(h, "/api/llm");
	assert_int_equal(json_integer_value(field(j, "active")), 1);
	assert_int_equal(json_integer_value(field(j, "total")), 3);
	assert_int_equal(json_integer_value(field(json_array_get(field(j, "suggestions"), 0),
	                                          "env")), 1);
	json_decref(j);
	gnarl_hud_free(h);
}

/* The counters guidance publishes each iteration, as the trainer stages
 * them: llm_text's suggestions and cache hits, llm_vision's suggestions. */
static void counters(struct gnarl_hud *h, double text, double text_hits, double vision)
{
	gnarl_hud_set(h, "llm_text/suggestions", text);
	gnarl_hud_set(h, "llm_text/cache_hits", text_hits);
	gnarl_hud_set(h, "llm_vision/suggestions", vision);
}

/* Two sources: the one whose counters moved answered; both moved: null. */
static void test_llm_sources(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	const char *src[] = {"llm_text", "llm_vision"};
	const uint32_t ttl[] = {32, 16};
	float obs[4 * O] = {0};
	json_t *j, *s;

	(void)state;
	describe(h, 4, 8, 2, src, ttl);
	counters(h, 0, 0, 0);
	commit_obs(h, 1, obs);
	counters(h, 0, 0, 1);
	advise(obs, 0, 1, 2.0f / 16);
	commit_obs(h, 2, obs);
	counters(h, 0, 1, 2);
	advise(obs, 3, 2, 0);
	commit_obs(h, 3, obs);
	j = get_json(h, "/api/llm");
	s = field(j, "suggestions");
	assert_int_equal(json_array_size(s), 2);
	assert_true(json_is_null(field(json_array_get(s, 0), "source")));
	assert_string_equal(json_string_value(field(json_array_get(s, 1), "source")),
	                    "llm_vision");
	assert_int_equal(json_integer_value(field(json_array_get(s, 1), "age")), 2 + 8);
	json_decref(j);
	gnarl_hud_free(h);
}

/* A suggestion that comes and goes between two commits is seen by the
 * env view, which reads the advice blocks before every step. */
static void test_llm_between_commits(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	const char *src[] = {"llm_text"};
	const uint32_t ttl[] = {32};
	struct fake_env fe = {.N = 4, .frames = false};
	float obs[4 * O] = {0};
	int32_t acts[4] = {0};
	struct gnarl_env_io io = {.size = sizeof(io), .obs_stride = O, .obs = obs, .actions = acts};
	const struct gnarl_env_ops *ops;
	void *env;
	char err[GNARL_ERR_SIZE];
	json_t *j, *e;

	(void)state;
	describe(h, 4, 8, 1, src, ttl);
	assert_int_equal(gnarl_hud_watch_env(h, &fake_ops, &fe, 4, &ops, &env, err), 0);
	assert_ptr_not_equal(ops, &fake_ops);  /* no frames, but a source */
	ops->step(env, &io, 0, 4);
	advise(obs, 2, 4, 0);        /* arrives */
	ops->step(env, &io, 0, 2);   /* two ranges, as the pool runs them */
	ops->step(env, &io, 2, 2);
	advise(obs, 2, 4, 1.0f / 32);
	ops->step(env, &io, 2, 2);
	advise(obs, 2, -1, 0);       /* expires before the iteration ends */
	ops->step(env, &io, 2, 2);
	assert_int_equal(fe.steps, 5);
	commit_obs(h, 1, obs);
	j = get_json(h, "/api/llm");
	assert_int_equal(json_integer_value(field(j, "active")), 0);
	assert_int_equal(json_array_size(field(j, "suggestions")), 1);
	e = json_array_get(field(j, "suggestions"), 0);
	assert_int_equal(json_integer_value(field(e, "env")), 2);
	assert_string_equal(json_string_value(field(e, "action")), "RIGHT");
	assert_int_equal(json_integer_value(field(e, "age")), 3);  /* steps at the commit */
	json_decref(j);
	gnarl_hud_free(h);
}

static void test_llm_off(void **state)
{
	struct gnarl_hud *h = start(16, 2);
	json_t *j;

	(void)state;
	describe(h, 4, 8, 0, NULL, NULL);
	j = get_json(h, "/api/llm");
	assert_true(json_is_false(field(j, "enabled")));
	assert_int_equal(json_array_size(field(j, "suggestions")), 0);
	json_decref(j);
	gnarl_hud_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_page),
	    cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_ring_bounded),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_events_reconnect),
	    cmocka_unit_test(test_stream_limit),
	    cmocka_unit_test(test_slow_client_dropped),
	    cmocka_unit_test(test_read_only),
	    cmocka_unit_test(test_bind),
	    cmocka_unit_test(test_frame),
	    cmocka_unit_test(test_no_frames),
	    cmocka_unit_test(test_llm),
	    cmocka_unit_test(test_llm_sources),
	    cmocka_unit_test(test_llm_between_commits),
	    cmocka_unit_test(test_llm_off),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* built without libmicrohttpd */

static void test_unavailable(void **state)
{
	struct gnarl_hud_config c = {.port = 8086};
	struct gnarl_hud *h = (void *)1;
	char err[GNARL_ERR_SIZE];

	(void)state;
	(void)actions;
	assert_false(gnarl_hud_available());
	assert_int_equal(gnarl_hud_create(&c, &h, err), GNARL_EUNSUPPORTED);
	assert_null(h);
	assert_non_null(strstr(err, "built without libmicrohttpd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_unavailable)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
