/*
 * test_hud_token.c - the HUD beyond this machine (core/hud.c, hud_http.c):
 * a bind beyond loopback needs hud.token or hud.public; with a token every
 * request must carry it (Bearer header or ?token=), and no reply - page,
 * API, event stream, errors, headers - ever contains it.  Replies are read
 * raw from a socket, headers included.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "hud.h"
#include "value.h"

#define TOKEN "s3cr3t-hud-token-0123456789"

/* The whole reply (headers and body) to `request`, sent raw to 127.0.0.1;
 * read until the server closes, or for an event stream until its first
 * message has come.  Owned: free(). */
static char *ask(uint16_t port, const char *fmt, ...)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	char req[1024], *buf = calloc(1, 1 << 20);
	size_t len = 0;
	va_list ap;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_non_null(buf);
	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		/* A bound on a hang, not a timing assertion. */
		if (poll(&p, 1, 60000) <= 0)
			fail_msg("no reply to %s", req);
		n = recv(fd, buf + len, (1 << 20) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "text/event-stream") && strstr(buf, "\r\n\r\n") &&
		    strstr(strstr(buf, "\r\n\r\n") + 4, "\n\n"))
			break;
	}
	close(fd);
	return buf;
}

static int status_of(const char *reply)
{
	int status = 0;

	assert_int_equal(sscanf(reply, "HTTP/1.%*d %d", &status), 1);
	return status;
}

static struct gnarl_hud *start(const char *bind, const char *token, bool public, int want,
                               char err[GNARL_ERR_SIZE])
{
	struct gnarl_hud_config c = {.bind = bind, .token = token, .public = public};
	struct gnarl_hud *h = NULL;

	assert_int_equal(gnarl_hud_create(&c, &h, err), want);
	return h;
}

static void test_beyond_loopback_needs_a_token(void **state)
{
	char err[GNARL_ERR_SIZE];
	struct gnarl_hud *h;

	(void)state;
	/* Every interface, no token: refused before anything listens. */
	for (int i = 0; i < 2; i++) {
		const char *bind = i ? "::" : "0.0.0.0";

		assert_null(start(bind, NULL, false, GNARL_EINVAL, err));
		assert_non_null(strstr(err, "reaches beyond this machine"));
		assert_non_null(strstr(err, "hud.token"));
		assert_non_null(strstr(err, "hud.public: true"));
		assert_null(start(bind, "", false, GNARL_EINVAL, err)); /* empty: none */
	}
	/* Loopback needs nothing; beyond it, a token or the explicit opt-in. */
	h = start("127.0.0.1", NULL, false, 0, err);
	gnarl_hud_free(h);
	h = start("::1", NULL, false, 0, err);
	gnarl_hud_free(h);
	h = start("localhost", NULL, false, 0, err);
	gnarl_hud_free(h);
	h = start("0.0.0.0", TOKEN, false, 0, err);
	gnarl_hud_free(h);
	h = start("0.0.0.0", NULL, true, 0, err);
	gnarl_hud_free(h);
}

static void test_requests_carry_the_token(void **state)
{
	static const char *const paths[] = {"/", "/api/metrics", "/api/llm", "/frame.png",
	                                    "/api/events", "/nothing"};
	char err[GNARL_ERR_SIZE], *r;
	struct gnarl_hud *h = start("0.0.0.0", TOKEN, false, 0, err);
	uint16_t port = gnarl_hud_port(h);
	struct gnarl_hud_iteration it = {.iteration = 1, .env_steps = 64};

	(void)state;
	gnarl_hud_set(h, "ep_return_mean", 1.5);
	gnarl_hud_commit(h, &it);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *p = paths[i];
		/* (no env renders frames here: /frame.png is 404) */
		int want = !strcmp(p, "/nothing") || !strcmp(p, "/frame.png") ? 404 : 200;

		/* Without it, with a wrong one, a prefix of it, or another
		 * scheme: 401, and the reply says how to pass it. */
		r = ask(port, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", p);
		assert_int_equal(status_of(r), 401);
		assert_non_null(strstr(r, "WWW-Authenticate: Bearer"));
		assert_non_null(strstr(r, "?token=<token>"));
		assert_null(strstr(r, TOKEN));
		free(r);
		r = ask(port, "GET %s?token=s3cr3t-hud-token-0123456788 HTTP/1.1\r\nHost: x\r\n"
		              "Connection: close\r\n\r\n", p);
		assert_int_equal(status_of(r), 401);
		free(r);
		r = ask(port, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cr3t\r\n"
		              "Connection: close\r\n\r\n", p);
		assert_int_equal(status_of(r), 401);
		free(r);
		r = ask(port, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " TOKEN "\r\n"
		              "Connection: close\r\n\r\n", p);
		assert_int_equal(status_of(r), 401);
		free(r);
		/* With it, as the page sends it and as a script would. */
		r = ask(port, "GET %s?token=" TOKEN " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		        p);
		assert_int_equal(status_of(r), want);
		assert_null(strstr(r, TOKEN));
		free(r);
		r = ask(port, "GET %s?last=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
		              "\r\nConnection: close\r\n\r\n", p);
		assert_int_equal(status_of(r), want);
		assert_null(strstr(r, TOKEN));
		free(r);
	}
	/* The page reads the token from its own URL: it holds no copy. */
	r = ask(port, "GET /?token=" TOKEN " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, "new URLSearchParams(location.search).get('token')"));
	free(r);
	/* A write is still refused, and says nothing of the token either. */
	r = ask(port, "POST /api/metrics?token=" TOKEN " HTTP/1.1\r\nHost: x\r\n"
	              "Content-Length: 0\r\nConnection: close\r\n\r\n");
	assert_int_equal(status_of(r), 405);
	assert_null(strstr(r, TOKEN));
	free(r);
	gnarl_hud_free(h);
}

static int load(const char *yaml, struct gnarl_config **cfg, char err[GNARL_ERR_SIZE])
{
	char path[] = "/tmp/gnarl-hud-token-XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	rc = gnarl_config_load(path, NULL, 0, cfg, err);
	unlink(path);
	return rc;
}

static void test_config(void **state)
{
	struct gnarl_config *cfg = NULL;
	struct gnarl_hud *h = NULL;
	char err[GNARL_ERR_SIZE], *yaml;

	(void)state;
	/* From the environment, as the README shows; never in a copy. */
	setenv("GNARL_TEST_HUD_TOKEN", TOKEN, 1);
	assert_int_equal(load("hud: {port: 0, bind: 0.0.0.0, token: \"${GNARL_TEST_HUD_TOKEN}\"}\n",
	                      &cfg, err), 0);
	assert_string_equal(gnarl_value_string(gnarl_value_at(cfg->root, "hud.token"), ""), TOKEN);
	yaml = gnarl_value_to_yaml(cfg->root, false);
	assert_null(strstr(yaml, TOKEN));
	assert_non_null(strstr(yaml, "${GNARL_TEST_HUD_TOKEN}"));
	free(yaml);
	gnarl_config_free(cfg);
	/* Written literally: redacted in copies. */
	assert_int_equal(load("hud: {token: " TOKEN "}\n", &cfg, err), 0);
	yaml = gnarl_value_to_json(cfg->root, false);
	assert_null(strstr(yaml, TOKEN));
	free(yaml);
	gnarl_config_free(cfg);
	/* Beyond loopback without one: located at hud.bind. */
	assert_int_equal(load("hud:\n  port: 1\n  bind: 0.0.0.0\n", &cfg, err), 0);
	assert_int_equal(gnarl_hud_open(cfg, &h, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, ":3:9: hud.bind: 0.0.0.0 reaches beyond this machine"));
	gnarl_config_free(cfg);
	/* A short token: located at hud.token, its length named, not it. */
	assert_int_equal(load("hud:\n  port: 1\n  bind: 0.0.0.0\n  token: short\n", &cfg, err), 0);
	assert_int_equal(gnarl_hud_open(cfg, &h, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, ":4:10: hud.token: the token has 5 characters: use at least 16"));
	assert_null(strstr(err, "short"));
	gnarl_config_free(cfg);
	/* The opt-in. */
	assert_int_equal(load("hud: {port: 0, bind: 0.0.0.0, public: true}\n", &cfg, err), 0);
	assert_true(gnarl_value_bool(gnarl_value_at(cfg->root, "hud.public"), false));
	gnarl_config_free(cfg);
	unsetenv("GNARL_TEST_HUD_TOKEN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_beyond_loopback_needs_a_token),
	    cmocka_unit_test(test_requests_carry_the_token),
	    cmocka_unit_test(test_config),
	};

	if (!gnarl_hud_available()) {
		/* Nothing to test in a build without the HUD; CI builds it. */
		const char *ci = getenv("CI");

		fprintf(stderr, "test_hud_token: this build has no HUD (libmicrohttpd)\n");
		return ci && !strcmp(ci, "true");
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
