/*
 * fuzz_hud_http.c - the HUD's request handling, end to end: a real HUD
 * (libmicrohttpd on 127.0.0.1, a ring of iterations that has wrapped, LLM
 * sources, a token) answers each input over a real socket.  What is the
 * HUD's own is the method check, the routing by path, the query values
 * (?last=, ?after=, ?token=), the Last-Event-ID and Authorization headers,
 * and the replies built from them; libmicrohttpd parses the HTTP framing.
 *
 * Input: the request line's method and target ("GET /api/metrics?last=5"),
 * then zero or more header lines, as text.  The harness frames it as an
 * HTTP/1.1 request with "Connection: close".
 *
 * Oracles besides the sanitizers: every request gets an HTTP status line;
 * the token never appears in a reply; a 200 from /api/metrics or /api/llm
 * is one valid JSON object; nothing but GET and HEAD gets a 2xx.
 */
#define _GNU_SOURCE /* memmem */
#include "fuzz.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "hud.h"
#include "log.h"

#define TOKEN "fuzz-token-7d3f9a1c2b"
#define REPLY_MAX (4u << 20)

static struct gnarl_hud *hud;
static uint16_t port;
static char *reply;
static uint64_t iteration;

static void commit(void)
{
	struct gnarl_hud_iteration it = {.iteration = iteration + 1,
	                                 .env_steps = (iteration + 1) * 64};

	iteration++;

	gnarl_hud_set(hud, "ep_return_mean", iteration % 7 ? (double)iteration : NAN);
	gnarl_hud_set(hud, "reward/room_discovery", -1.5 * (double)iteration);
	gnarl_hud_set(hud, "llm_text/calls", (double)(iteration / 3));
	gnarl_hud_commit(hud, &it);
}

static void teardown(void)
{
	gnarl_hud_free(hud);
	free(reply);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const actions[] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};
	static const char *const sources[] = {"llm_vision", "llm_text"};
	static const uint32_t ttl[] = {32, 16};
	struct gnarl_hud_config c = {.bind = "127.0.0.1", .port = 0, .history = 16, .series = 8,
	                             .max_streams = 2, .title = "fuzz-run", .token = TOKEN};
	struct gnarl_hud_run run = {.env = "overworld", .n_envs = 4, .rollout_steps = 16,
	                            .total_iterations = 100, .n_actions = 7,
	                            .action_names = actions, .n_sources = 2,
	                            .source_names = sources, .source_ttl = ttl};
	char err[GNARL_ERR_SIZE];

	(void)argc;
	(void)argv;
	gnarl_log_set_level(GNARL_LOG_ERROR);
	if (gnarl_hud_create(&c, &hud, err) || gnarl_hud_describe(hud, &run, err)) {
		fprintf(stderr, "fuzz_hud_http: %s\n", err);
		abort();
	}
	port = gnarl_hud_port(hud);
	/* More iterations than the ring holds: ?after= may point before it. */
	for (int i = 0; i < 20; i++)
		commit();
	reply = malloc(REPLY_MAX + 1);
	if (!reply)
		abort();
	atexit(teardown);
	return 0;
}

static int connect_hud(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("fuzz_hud_http: connect");
		abort();
	}
	/* Close with a reset: a million connections in TIME_WAIT would use
	 * up the ephemeral ports (a campaign's connect then fails). */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){1, 0}, sizeof(struct linger));
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the server closed early: its reply says why */
		p += w;
		n -= (size_t)w;
	}
}

/* Read until the server closes (every reply but a stream's: the request
 * says Connection: close) or, for an event stream, until its first message
 * has come.  The wait is long: on a loaded machine a reply can pause for
 * seconds, and a reply cut by the harness would fail the JSON oracle. */
static size_t read_reply(int fd)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, 60000) <= 0) {
			fprintf(stderr, "fuzz_hud_http: no reply for 60 s (%zu bytes so far)\n", len);
			abort(); /* a hung server is a finding */
		}
		r = recv(fd, reply + len, REPLY_MAX - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		reply[len] = '\0';
		if (len == REPLY_MAX)
			break;
		/* An event stream: its headers and a first message. */
		if (strstr(reply, "text/event-stream") && strstr(reply, "\r\n\r\n") &&
		    strstr(strstr(reply, "\r\n\r\n") + 4, "\n\n"))
			break;
	}
	reply[len] = '\0';
	return len;
}

static void check_reply(const char *method, const char *target, size_t len)
{
	const char *body = strstr(reply, "\r\n\r\n");
	size_t path_len;
	int status = 0;

	if (len == 0)
		return; /* MHD refused the framing outright (e.g. a bad method token) */
	FUZZ_CHECK(sscanf(reply, "HTTP/1.%*d %d", &status) == 1, "no status line: %.80s", reply);
	FUZZ_CHECK(!memmem(reply, len, TOKEN, strlen(TOKEN)), "the token is in a reply:\n%s",
	           reply);
	if (status / 100 == 2)
		FUZZ_CHECK(!strcmp(method, "GET") || !strcmp(method, "HEAD"),
		           "%s answered %d", method, status);
	path_len = strcspn(target, "?");
	if (status == 200 && body && !strcmp(method, "GET") &&
	    ((path_len == 12 && !strncmp(target, "/api/metrics", 12)) ||
	     (path_len == 8 && !strncmp(target, "/api/llm", 8)))) {
		json_error_t jerr;
		json_t *j = json_loads(body + 4, 0, &jerr);

		FUZZ_CHECK(json_is_object(j), "%s: not a JSON object (%s): %.200s", target,
		           jerr.text, body + 4);
		json_decref(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *line_end, method[32] = "", *target, req[8192];
	size_t n, len;
	int fd;

	if (size > 4096)
		return -1;
	text = fuzz_strndup(data, size);
	line_end = strchr(text, '\n');
	if (line_end)
		*line_end = '\0';
	/* "METHOD TARGET": the method is a token; the rest is the target. */
	if (sscanf(text, "%31s", method) != 1 || !(target = strchr(text, ' '))) {
		free(text);
		return 0;
	}
	target++;
	n = (size_t)snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method,
	                     target);
	for (char *h = line_end ? line_end + 1 : NULL; h && *h && n < sizeof(req);) {
		char *e = strchr(h, '\n');

		if (e)
			*e = '\0';
		if (*h)
			n += (size_t)snprintf(req + n, sizeof(req) - n, "%s\r\n", h);
		h = e ? e + 1 : NULL;
	}
	if (n < sizeof(req))
		n += (size_t)snprintf(req + n, sizeof(req) - n, "Connection: close\r\n\r\n");
	if (n >= sizeof(req)) {
		free(text);
		return -1;
	}
	fd = connect_hud();
	send_all(fd, req, n);
	len = read_reply(fd);
	close(fd);
	check_reply(method, target, len);
	/* Closed streams are noticed at the next message: send one. */
	commit();
	free(text);
	return 0;
}
