/*
 * bench_llm.c - what the LLM plugins cost the training loop, measured
 * against the real test server process.  A benchmark, not a test: it
 * prints numbers and asserts nothing.
 *
 * Prints, for llm_text and llm_vision:
 *   poll() with nothing finished (the common case, once per step)
 *   request() accepted (copy into a slot + wake the worker) and request()
 *   refused (at the in-flight cap), per call
 *   the longest request() and poll() call while the server answers after
 *   500 ms, over a loop that asks as fast as a training loop would
 * Usage: bench_llm [seconds for the stall loop, default 5]
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnarl/plugin.h>

#include "llm_server.h"
#include "llm_test_host.h"

static const char *const actions[] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};
static uint8_t frame[GNARL_FRAME_BYTES];
static struct gnarl_game_state state;
static struct llm_server server;

/* Make every later reply wait 500 ms. */
static void control_delay(const char *url)
{
	(void)url;
	llm_server_control(&server, "{\"default\": {\"kind\": \"action\", \"action\": \"UP\", "
	                            "\"delay_ms\": 500}}");
}

struct plug {
	void *so;
	const struct gnarl_llm_ops *ops;
	void *llm;
	struct test_host th;
};

static int open_plug(struct plug *p, const char *name, const char *url, int max_in_flight)
{
	char err[GNARL_ERR_SIZE];
	const struct gnarl_plugin *d;

	th_init(&p->th, 1);
	th_set_string(&p->th, "endpoint", url);
	th_set_int(&p->th, "max_in_flight", max_in_flight);
	if (!(d = th_load(name, &p->so)))
		return -1;
	p->ops = d->ops.llm;
	if (!(p->llm = p->ops->create(&p->th.host, 64, err))) {
		fprintf(stderr, "%s: %s\n", name, err);
		return -1;
	}
	return 0;
}

static void close_plug(struct plug *p)
{
	p->ops->destroy(p->llm);
	dlclose(p->so);
	th_fini(&p->th);
}

static int ask(struct plug *p, uint64_t id)
{
	struct gnarl_llm_request req = {sizeof(req), (uint32_t)(id % 64), id, &state,
	                                frame, -1, 7, actions};

	return p->ops->request(p->llm, &req);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void costs(const char *name, const char *url)
{
	struct gnarl_llm_suggestion out[64];
	struct plug p;
	const int n_poll = 2000000, n_busy = 1000000;
	double t0, accepted_us[2000];
	int accepted = 0;

	if (open_plug(&p, name, url, 8) < 0)
		return;
	t0 = th_now_ms();
	for (int i = 0; i < n_poll; i++)
		p.ops->poll(p.llm, out, 64);
	printf("%-10s poll() with nothing finished: %8.1f ns/call\n", name,
	       (th_now_ms() - t0) * 1e6 / n_poll);

	for (uint64_t id = 0; accepted < 2000; id++) {
		double a = th_now_ms();
		int rc = ask(&p, id);
		double b = th_now_ms();

		if (rc == 0)
			accepted_us[accepted++] = (b - a) * 1e3;
		p.ops->poll(p.llm, out, 64);
	}
	qsort(accepted_us, (size_t)accepted, sizeof(double), cmp_double);
	printf("%-10s request() accepted:           %8.1f ns/call median, p90 %.1f ns (%d "
	       "calls)\n", name, accepted_us[accepted / 2] * 1e3,
	       accepted_us[accepted * 9 / 10] * 1e3, accepted);

	control_delay(url);
	for (int i = 0; i < 8; i++)
		ask(&p, 1000000 + (uint64_t)i);
	t0 = th_now_ms();
	for (int i = 0; i < n_busy; i++)
		ask(&p, (uint64_t)i);
	printf("%-10s request() refused (at cap):   %8.1f ns/call\n", name,
	       (th_now_ms() - t0) * 1e6 / n_busy);
	close_plug(&p);
}

#define MAX_SAMPLES 40000000

/* The p-th percentile (0..1) of sorted v[n], nearest rank. */
static double pct(const double *v, long n, double p)
{
	long k = (long)(p * (double)n + 0.5);

	return v[k >= n ? n - 1 : k];
}

static void stall(const char *name, const char *url, double seconds)
{
	struct gnarl_llm_suggestion out[64];
	struct plug p;
	double *req_us = malloc(sizeof(double) * MAX_SAMPLES), max_poll = 0, end;
	long calls = 0, accepted = 0, suggestions = 0;
	uint64_t id = 0;

	if (!req_us || open_plug(&p, name, url, 8) < 0) {
		free(req_us);
		return;
	}
	end = th_now_ms() + seconds * 1000;
	while (th_now_ms() < end && calls < MAX_SAMPLES) {
		double a = th_now_ms(), b, c;

		accepted += ask(&p, id++) == 0;
		b = th_now_ms();
		suggestions += p.ops->poll(p.llm, out, 64);
		c = th_now_ms();
		req_us[calls++] = (b - a) * 1e3;
		if (c - b > max_poll)
			max_poll = c - b;
	}
	close_plug(&p);
	qsort(req_us, (size_t)calls, sizeof(double), cmp_double);
	printf("%-10s server delay 500 ms, %.0f s: %ld request() calls, %ld accepted, %ld "
	       "suggestions\n", name, seconds, calls, accepted, suggestions);
	printf("%-10s   request() wall time: p50 %.3f us, p99 %.3f us, p99.9 %.3f us, "
	       "p99.99 %.1f us, max %.3f ms; max poll() %.3f ms\n", name, pct(req_us, calls, 0.5),
	       pct(req_us, calls, 0.99), pct(req_us, calls, 0.999), pct(req_us, calls, 0.9999),
	       req_us[calls - 1] / 1e3, max_poll);
	free(req_us);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5.0;

	memset(frame, 0x55, sizeof(frame));
	state.size = GNARL_GAME_STATE_V1_SIZE;
	state.dungeon = -1;
	state.health = state.max_health = 12;
	if (llm_server_start(&server, NULL) < 0)
		return 1;
	for (int k = 0; k < 2; k++) {
		const char *name = k ? "llm_vision" : "llm_text";

		llm_server_control(&server, "{\"default\": {\"kind\": \"action\", \"action\": \"UP\"}, "
		                            "\"clear_log\": true}");
		costs(name, server.base);
		control_delay(server.base);
		stall(name, server.base, seconds);
	}
	llm_server_stop(&server);
	return 0;
}
