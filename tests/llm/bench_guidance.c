/*
 * bench_guidance.c - what LLM guidance costs the step loop: draw + update
 * for N envs with the real llm_vision and llm_text plugins (reference
 * probabilities 0.03 and 0.02) asking the test server, which answers after
 * 500 ms, against the same loop with no LLM plugin (the advice block is
 * still written).  No env and no policy: this is guidance's own overhead.
 * A benchmark: it prints numbers and asserts nothing.
 *
 * Usage: bench_guidance [seconds per run, default 3] [N envs, default 30]
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gauges.h"
#include "guidance.h"
#include "rng.h"

#include "llm_server.h"
#include "llm_test_host.h"

#define A 7
static const char *const names[A] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};

struct plug {
	void *so;
	const struct gnarl_plugin *desc;
	void *llm;
	struct test_host th;
};

static int open_plug(struct plug *p, const char *name, const char *url, uint32_t n)
{
	char err[GNARL_ERR_SIZE];

	th_init(&p->th, 7);
	th_set_string(&p->th, "endpoint", url);
	if (!(p->desc = th_load(name, &p->so)))
		return -1;
	if (!(p->llm = p->desc->ops.llm->create(&p->th.host, n, err))) {
		fprintf(stderr, "%s: %s\n", name, err);
		return -1;
	}
	return 0;
}

static void close_plug(struct plug *p)
{
	p->desc->ops.llm->destroy(p->llm);
	dlclose(p->so);
	th_fini(&p->th);
}

struct probe {
	const char *name;
	double value;
};

static void probe_each(void *ctx, const char *name, double value)
{
	struct probe *p = ctx;

	if (strcmp(p->name, name) == 0)
		p->value = value;
}

static double gauge(struct gnarl_gauges *g, const char *name)
{
	struct probe p = {name, -1};

	gnarl_gauges_each(g, probe_each, &p);
	return p.value;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One run of draw + update for `seconds`; prints a line. */
static void run(const char *label, struct plug *plugs, uint32_t k, uint32_t n, double seconds)
{
	struct gnarl_guidance_source src[2];
	struct gnarl_guidance_spec spec = {n, A, names, true, true, 99};
	struct gnarl_game_state *st = calloc(n, sizeof(*st));
	uint32_t stride = 64 + A + 1;
	float *obs = calloc((size_t)n * stride, sizeof(float));
	int32_t *act = calloc(n, sizeof(*act));
	uint8_t *dones = calloc(n, 1), *want = calloc(n, 1), *frames = calloc(n, GNARL_FRAME_BYTES);
	size_t cap = 50000000, steps = 0;
	double *lat = malloc(cap * sizeof(double)), end, total = 0;
	struct gnarl_gauges *gauges;
	struct gnarl_guidance *g;
	struct gnarl_rng rng;
	char err[GNARL_ERR_SIZE];

	gnarl_gauges_create(&gauges);
	for (uint32_t i = 0; i < k; i++)
		src[i] = (struct gnarl_guidance_source){
			plugs[i].desc->name, plugs[i].desc->ops.llm, plugs[i].llm,
			plugs[i].desc->ops.llm->default_probability,
			plugs[i].desc->ops.llm->default_alignment_bonus, 0, 32, 2048};
	if (gnarl_guidance_create(&spec, src, k, gauges, &g, err) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	gnarl_rng_seed(&rng, 1);
	for (uint32_t i = 0; i < n; i++) {
		st[i].size = GNARL_GAME_STATE_V1_SIZE;
		st[i].health = st[i].max_health = 12;
	}
	end = th_now_ms() + seconds * 1000;
	while (th_now_ms() < end && steps < cap) {
		struct gnarl_guidance_step s = {dones, st, frames, obs, stride, 64};
		double t0;

		/* a wandering agent: rooms change now and then, positions often */
		for (uint32_t i = 0; i < n; i++) {
			act[i] = (int32_t)gnarl_rng_below(&rng, A);
			st[i].x = (int32_t)gnarl_rng_below(&rng, 160);
			if (gnarl_rng_below(&rng, 200) == 0)
				st[i].room = (int32_t)gnarl_rng_below(&rng, 64);
		}
		t0 = th_now_ms();
		gnarl_guidance_draw(g, act, want);
		gnarl_guidance_update(g, &s);
		lat[steps] = th_now_ms() - t0;
		total += lat[steps++];
	}
	gnarl_guidance_publish(g);
	qsort(lat, steps, sizeof(double), cmp_double);
	printf("%-28s N=%u: %zu steps, draw+update mean %.2f us, p99 %.2f us, p99.9 %.2f us, "
	       "max %.3f ms\n", label, n, steps, total * 1e3 / (double)steps,
	       lat[steps * 99 / 100] * 1e3, lat[steps * 999 / 1000] * 1e3, lat[steps - 1]);
	for (uint32_t i = 0; i < k; i++) {
		static const char *const shown[] = {"draws", "requests", "refused", "cache_hits",
		                                    "suggestions", "stale"};

		printf("%28s %-10s", "", gnarl_guidance_name(g, i));
		for (size_t j = 0; j < sizeof(shown) / sizeof(shown[0]); j++) {
			char full[96];

			snprintf(full, sizeof(full), "%s/%s", gnarl_guidance_name(g, i), shown[j]);
			printf(" %s %.0f", shown[j], gauge(gauges, full));
		}
		printf("\n");
	}
	gnarl_guidance_free(g);
	gnarl_gauges_free(gauges);
	free(st);
	free(obs);
	free(act);
	free(dones);
	free(want);
	free(frames);
	free(lat);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	uint32_t n = argc > 2 ? (uint32_t)atoi(argv[2]) : 30;
	struct llm_server server;
	struct plug plugs[2];

	if (llm_server_start(&server, "{\"kind\": \"action\", \"action\": \"UP\", "
	                              "\"delay_ms\": 500}") < 0)
		return 1;
	if (open_plug(&plugs[0], "llm_vision", server.base, n) < 0 ||
	    open_plug(&plugs[1], "llm_text", server.base, n) < 0)
		return 1;
	run("no LLM plugin", plugs, 0, n, seconds);
	run("llm_vision + llm_text", plugs, 2, n, seconds);
	close_plug(&plugs[0]);
	close_plug(&plugs[1]);
	llm_server_stop(&server);
	return 0;
}
