/*
 * test_guidance.c - core/guidance.c with scripted in-process LLM sources
 * (fake ops: replies arrive at a chosen poll, or never; request can say
 * busy), so every step is deterministic.  The real plugins against a real
 * server are tested in tests/llm/.
 *
 * Covers: the advice block (contents, age, zeros), expiry by ttl, room
 * change and reset; the alignment bonus (decision-time suggestion, its
 * source only, decay per iteration); the cache; draw rates and determinism
 * given the seed; the in-flight skip, failed requests, refusals and the
 * busy skip, frames spared where the cache answers, stale replies; frames
 * and last_suggestion in requests; reset;
 * create errors; gauges.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gauges.h"
#include "guidance.h"

#define N_MAX 64
#define A 7
#define P (A + 1)
#define ENV_OBS 5                /* floats the "env" writes before the advice */
#define STRIDE (ENV_OBS + P + 2) /* two spare floats after it, must stay put */

static const char *const names[A] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};

/* ---- a scripted LLM plugin ------------------------------------------------------ */

struct pending_reply {
	struct gnarl_llm_suggestion s;
	uint32_t due;             /* the poll number at which it is delivered */
};

struct fake {
	uint32_t delay;           /* polls until a reply (1: the next poll) */
	int32_t answer;           /* the action replied (-1: the request failed) */
	int answers_left;         /* -1: unlimited */
	bool busy;                /* request says GNARL_EBUSY */
	uint32_t polls, n_req, n_calls; /* n_calls counts refused ones too */
	struct gnarl_llm_request req[200000];
	const uint8_t *frame_seen[200000];
	struct pending_reply q[1024];
	uint32_t nq;
};

static int fake_request(void *llm, const struct gnarl_llm_request *req)
{
	struct fake *f = llm;

	f->n_calls++;
	if (f->busy)
		return GNARL_EBUSY;
	if (f->n_req < 200000) {
		f->req[f->n_req] = *req;
		f->frame_seen[f->n_req] = req->frame;
	}
	f->n_req++;
	if (f->answers_left != 0 && f->nq < 1024) {
		f->q[f->nq++] = (struct pending_reply){{req->env, f->answer, req->id},
		                                       f->polls + f->delay};
		if (f->answers_left > 0)
			f->answers_left--;
	}
	return 0;
}

static uint32_t fake_poll(void *llm, struct gnarl_llm_suggestion *out, uint32_t max)
{
	struct fake *f = llm;
	uint32_t n = 0, keep = 0;

	f->polls++;
	for (uint32_t i = 0; i < f->nq; i++) {
		if (f->q[i].due <= f->polls && n < max)
			out[n++] = f->q[i].s;
		else
			f->q[keep++] = f->q[i];
	}
	f->nq = keep;
	return n;
}

static void fake_destroy(void *llm)
{
	(void)llm;
}

static const struct gnarl_llm_ops text_ops = {
	sizeof(struct gnarl_llm_ops), 0, 0.02, 5.0, NULL, fake_destroy, fake_request, fake_poll,
	sizeof(struct gnarl_llm_suggestion),
};
static const struct gnarl_llm_ops vision_ops = {
	sizeof(struct gnarl_llm_ops), GNARL_LLM_WANTS_FRAME, 0.03, 50.0, NULL, fake_destroy,
	fake_request, fake_poll, sizeof(struct gnarl_llm_suggestion),
};

/* A later minor's plugin whose suggestions grew a field: poll writes
 * elements of its suggestion_size, and the host must read that stride. */
struct wide_suggestion {
	struct gnarl_llm_suggestion s;
	uint64_t confidence;
};

static uint32_t wide_poll(void *llm, struct gnarl_llm_suggestion *out, uint32_t max)
{
	struct gnarl_llm_suggestion got[64];
	uint32_t n = fake_poll(llm, got, max < 64 ? max : 64);

	for (uint32_t i = 0; i < n; i++)
		((struct wide_suggestion *)(void *)out)[i] = (struct wide_suggestion){got[i], ~0ull};
	return n;
}

static const struct gnarl_llm_ops wide_ops = {
	sizeof(struct gnarl_llm_ops), 0, 0.02, 5.0, NULL, fake_destroy, fake_request, wide_poll,
	sizeof(struct wide_suggestion),
};

/* ---- a tiny world to step ------------------------------------------------------- */

struct world {
	uint32_t n;
	struct gnarl_guidance *g;
	struct gnarl_gauges *gauges;
	struct gnarl_game_state st[N_MAX];
	float obs[N_MAX * STRIDE];
	int32_t act[N_MAX];
	uint8_t dones[N_MAX];
	uint8_t want[N_MAX];
	uint8_t *frames;
};

static struct fake *fake_new(int32_t answer, uint32_t delay, int answers)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->answer = answer;
	f->delay = delay;
	f->answers_left = answers;
	return f;
}

static struct gnarl_guidance_source source(const char *name, const struct gnarl_llm_ops *ops,
                                           struct fake *f, double p)
{
	return (struct gnarl_guidance_source){
		.name = name, .ops = ops, .llm = f, .probability = p,
		.alignment_bonus = ops->default_alignment_bonus, .bonus_decay = 0, .ttl = 4,
		.cache_ttl_steps = 0,
	};
}

static void world_init(struct world *w, uint32_t n, const struct gnarl_guidance_source *src,
                       uint32_t k, uint64_t seed)
{
	struct gnarl_guidance_spec spec = {n, A, names, true, true, seed};
	char err[GNARL_ERR_SIZE];

	memset(w, 0, sizeof(*w));
	w->n = n;
	for (uint32_t i = 0; i < n; i++) {
		w->st[i].size = GNARL_GAME_STATE_V1_SIZE;
		w->st[i].room = 0x12;
		w->st[i].x = 40;
		w->st[i].y = 40;
	}
	for (size_t i = 0; i < N_MAX * STRIDE; i++)
		w->obs[i] = 7.0f;  /* what the "env" wrote; only the advice block may change */
	w->frames = calloc(n, GNARL_FRAME_BYTES);
	assert_non_null(w->frames);
	assert_int_equal(gnarl_gauges_create(&w->gauges), 0);
	if (gnarl_guidance_create(&spec, src, k, w->gauges, &w->g, err) != 0)
		fail_msg("create: %s", err);
}

static void world_fini(struct world *w)
{
	gnarl_guidance_free(w->g);
	gnarl_gauges_free(w->gauges);
	free(w->frames);
}

/* One step: draw, (the env would step here), update. */
static void step(struct world *w)
{
	struct gnarl_guidance_step s = {w->dones, w->st, w->frames, w->obs, STRIDE, ENV_OBS};

	gnarl_guidance_draw(w->g, w->act, w->want);
	gnarl_guidance_update(w->g, &s);
	memset(w->dones, 0, sizeof(w->dones));
}

static const float *advice(const struct world *w, uint32_t n)
{
	return w->obs + (size_t)n * STRIDE + ENV_OBS;
}

/* Advice of env n is the one-hot of `action` with age `age`/ttl, or all 0
 * for action -1; and the env's own floats are untouched. */
static void check_advice(const struct world *w, uint32_t n, int32_t action, float age)
{
	const float *row = w->obs + (size_t)n * STRIDE;

	for (int i = 0; i < ENV_OBS; i++)
		assert_true(row[i] == 7.0f);
	for (int i = 0; i < A; i++)
		if (advice(w, n)[i] != (i == action ? 1.0f : 0.0f))
			fail_msg("env %u advice[%d] = %g, want one-hot of %d", n, i, advice(w, n)[i],
			         action);
	if (advice(w, n)[A] != (action >= 0 ? age : 0.0f))
		fail_msg("env %u age %g, want %g", n, advice(w, n)[A], action >= 0 ? age : 0.0f);
	assert_true(row[ENV_OBS + P] == 7.0f && row[ENV_OBS + P + 1] == 7.0f);
}

struct gauge_probe {
	const char *name;
	double value;
	bool found;
};

static void probe_each(void *ctx, const char *name, double value)
{
	struct gauge_probe *p = ctx;

	if (strcmp(p->name, name) == 0) {
		p->value = value;
		p->found = true;
	}
}

static double gauge(struct world *w, const char *name)
{
	struct gauge_probe p = {name, -1, false};

	gnarl_guidance_publish(w->g);
	gnarl_gauges_each(w->gauges, probe_each, &p);
	if (!p.found)
		fail_msg("gauge %s not set", name);
	return p.value;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_no_sources_zero_advice(void **unused)
{
	struct world w;

	(void)unused;
	world_init(&w, 3, NULL, 0, 1);
	memset(w.want, 9, sizeof(w.want));
	step(&w);
	for (uint32_t n = 0; n < 3; n++) {
		check_advice(&w, n, -1, 0);
		assert_int_equal(w.want[n], 0);
	}
	assert_int_equal(gnarl_guidance_count(w.g), 0);
	assert_int_equal(gnarl_guidance_advice_size(A), P);
	world_fini(&w);
}

static void test_advice_and_ttl(void **unused)
{
	struct fake *f = fake_new(3, 1, 1);
	struct gnarl_guidance_source src = source("llm_text", &text_ops, f, 1.0);
	struct world w;

	(void)unused;
	world_init(&w, 1, &src, 1, 1);
	step(&w);                      /* asks */
	assert_int_equal(f->n_req, 1);
	check_advice(&w, 0, -1, 0);
	step(&w);                      /* the reply arrives: age 0 */
	check_advice(&w, 0, 3, 0.0f);
	/* The env asks again (p = 1) but gets no more answers: it stays in
	 * flight, and the suggestion ages out after ttl = 4 updates. */
	step(&w);
	check_advice(&w, 0, 3, 0.25f);
	step(&w);
	check_advice(&w, 0, 3, 0.5f);
	step(&w);
	check_advice(&w, 0, 3, 0.75f);
	step(&w);
	check_advice(&w, 0, -1, 0);
	assert_int_equal(f->n_req, 2);
	assert_int_equal((int)gauge(&w, "llm_text/suggestions"), 1);
	assert_int_equal((int)gauge(&w, "llm_text/requests"), 2);
	world_fini(&w);
	free(f);
}

/* Eight envs, each told its own action by the wide plugin: all read right. */
static void test_wide_suggestions(void **unused)
{
	struct fake *f = fake_new(0, 1, -1);
	struct gnarl_guidance_source src = source("llm_text", &wide_ops, f, 1.0);
	struct world w;

	(void)unused;
	world_init(&w, 8, &src, 1, 1);
	step(&w);
	for (uint32_t i = 0; i < f->nq; i++)
		f->q[i].s.action = (int32_t)(f->q[i].s.env % A);
	step(&w);
	for (uint32_t n = 0; n < 8; n++)
		check_advice(&w, n, (int32_t)(n % A), 0.0f);
	assert_int_equal((int)gauge(&w, "llm_text/suggestions"), 8);
	world_fini(&w);
	free(f);
}

/* Install action 3 in env 0 (p = 1, one answer), then return. */
static void with_suggestion(struct world *w, struct fake **f, const struct gnarl_llm_ops *ops,
                            uint32_t ttl)
{
	struct gnarl_guidance_source src;

	*f = fake_new(3, 1, 1);
	src = source(ops == &vision_ops ? "llm_vision" : "llm_text", ops, *f, 1.0);
	src.ttl = ttl;
	src.bonus_decay = 0.5;
	world_init(w, 2, &src, 1, 1);
	step(w);
	step(w);
	check_advice(w, 0, 3, 0);
}

static void test_expiry_room_change(void **unused)
{
	struct world w;
	struct fake *f;

	(void)unused;
	with_suggestion(&w, &f, &text_ops, 100);
	w.st[0].x += 64;               /* moving inside the room keeps it */
	step(&w);
	check_advice(&w, 0, 3, 0.01f);
	w.st[0].room = 0x13;
	step(&w);
	check_advice(&w, 0, -1, 0);
	world_fini(&w);
	free(f);

	/* Same room number in another group is another room. */
	with_suggestion(&w, &f, &text_ops, 100);
	w.st[0].group = 3;
	step(&w);
	check_advice(&w, 0, -1, 0);
	world_fini(&w);
	free(f);
}

static void test_expiry_reset(void **unused)
{
	struct gnarl_guidance_episode ep;
	struct world w;
	struct fake *f;

	(void)unused;
	with_suggestion(&w, &f, &text_ops, 100);
	w.act[0] = 3;
	step(&w);                      /* an aligned step: counted in this episode */
	w.dones[0] = 1;
	step(&w);                      /* the episode ends (and was reset) */
	check_advice(&w, 0, -1, 0);
	gnarl_guidance_finished(w.g, 0, &ep);
	assert_int_equal(ep.suggestions, 1);
	assert_int_equal(ep.alignment_hits, 2);
	assert_int_equal(ep.requests, 2);
	/* The next request of the new episode knows no last suggestion. */
	step(&w);
	assert_int_equal(f->req[f->n_req - 1].env, 0);
	assert_int_equal(f->req[f->n_req - 1].last_suggestion, -1);
	world_fini(&w);
	free(f);
}

static void test_alignment_bonus(void **unused)
{
	struct gnarl_guidance_source src[2];
	struct fake *ft = fake_new(3, 1, 1), *fv = fake_new(5, 1, 0);
	struct world w;

	(void)unused;
	src[0] = source("llm_text", &text_ops, ft, 1.0);
	src[1] = source("llm_vision", &vision_ops, fv, 0.0);
	src[0].ttl = 100;
	src[0].bonus_decay = 0.5;
	world_init(&w, 2, src, 2, 1);
	assert_string_equal(gnarl_guidance_name(w.g, 0), "llm_text");
	w.act[0] = 3;
	step(&w);
	step(&w);                      /* arrives now: no suggestion at decision time */
	assert_true(gnarl_guidance_bonus(w.g, 0)[0] == 0.0f);
	check_advice(&w, 0, 3, 0);
	step(&w);                      /* action 3 matches */
	assert_true(gnarl_guidance_bonus(w.g, 0)[0] == 5.0f);
	assert_true(gnarl_guidance_bonus(w.g, 1)[0] == 0.0f);  /* not vision's suggestion */
	assert_true(gnarl_guidance_bonus(w.g, 0)[1] == 0.0f);  /* env 1 has none */
	w.act[0] = 2;
	step(&w);
	assert_true(gnarl_guidance_bonus(w.g, 0)[0] == 0.0f);
	gnarl_guidance_set_iteration(w.g, 2);  /* 5 * (1 - 0.5)^2 */
	w.act[0] = 3;
	w.st[0].room = 0x40;           /* the matching step leaves the room: still paid */
	step(&w);
	assert_true(gnarl_guidance_bonus(w.g, 0)[0] == 1.25f);
	check_advice(&w, 0, -1, 0);
	step(&w);
	assert_true(gnarl_guidance_bonus(w.g, 0)[0] == 0.0f);
	assert_int_equal((int)gauge(&w, "llm_text/alignment_hits"), 2);
	assert_true(gauge(&w, "llm_text/bonus") == 1.25);
	assert_int_equal((int)gauge(&w, "llm_vision/alignment_hits"), 0);
	world_fini(&w);
	free(ft);
	free(fv);
}

static void test_cache(void **unused)
{
	struct fake *f = fake_new(4, 1, -1);
	struct gnarl_guidance_source src = source("llm_text", &text_ops, f, 1.0);
	struct world w;

	(void)unused;
	src.cache_ttl_steps = 10;
	src.ttl = 1;                   /* suggestions last one step: each step asks again */
	world_init(&w, 2, &src, 1, 1);
	w.st[1].x = 40 + 31 - 8;       /* env 1: same 32 px cell as env 0 (40..63) */
	step(&w);                      /* update 1: both ask (ids 1 and 2) */
	assert_int_equal(f->n_req, 2);
	step(&w);                      /* update 2: replies, cached at update 2 */
	check_advice(&w, 0, 4, 0);
	check_advice(&w, 1, 4, 0);
	for (int i = 0; i < 10; i++) {
		step(&w);              /* updates 3..12: the cache answers */
		check_advice(&w, 0, 4, 0);
		check_advice(&w, 1, 4, 0);
	}
	assert_int_equal(f->n_req, 2);
	assert_int_equal((int)gauge(&w, "llm_text/cache_hits"), 20);
	step(&w);                      /* update 13: 11 steps old, too old: ask */
	assert_int_equal(f->n_req, 4);
	check_advice(&w, 0, -1, 0);
	step(&w);                      /* replies refresh the cache */
	w.st[1].x = 40 + 32;           /* env 1 moves to the next cell: a miss */
	step(&w);
	assert_int_equal(f->n_req, 5);
	assert_int_equal(f->req[4].env, 1);
	assert_int_equal((int)gauge(&w, "llm_text/cache_hits"), 21);
	world_fini(&w);
	free(f);
}

/* Run K = 2 sources (vision 0.03, text 0.02) over N = 64 envs for `steps`;
 * return a hash of every request (step, env, source) and of the advice. */
static uint64_t rates_run(uint64_t seed, uint32_t steps, uint32_t *vision, uint32_t *text,
                          uint64_t *frames_wanted, uint64_t *vision_draws,
                          uint64_t *text_draws)
{
	struct fake *fv = fake_new(1, 1, -1), *ft = fake_new(2, 1, -1);
	struct gnarl_guidance_source src[2];
	uint64_t h = 1469598103934665603ull;
	uint32_t seen_v = 0, seen_t = 0;
	struct world w;

	/* text listed first: vision must still draw first */
	src[0] = source("llm_text", &text_ops, ft, 0.02);
	src[1] = source("llm_vision", &vision_ops, fv, 0.03);
	world_init(&w, 64, src, 2, seed);
	*frames_wanted = 0;
	for (uint32_t t = 0; t < steps; t++) {
		for (uint32_t n = 0; n < 64; n++)
			w.act[n] = (int32_t)((t + n) % A);
		step(&w);
		for (uint32_t n = 0; n < 64; n++)
			*frames_wanted += w.want[n];
		for (; seen_v < fv->n_req; seen_v++) {
			h = (h ^ (t * 131u + fv->req[seen_v].env * 2u + 1)) * 1099511628211ull;
			/* the frame row of the env that asked */
			assert_ptr_equal(fv->frame_seen[seen_v],
			                 w.frames + (size_t)fv->req[seen_v].env * GNARL_FRAME_BYTES);
		}
		for (; seen_t < ft->n_req; seen_t++) {
			h = (h ^ (t * 131u + ft->req[seen_t].env * 2u)) * 1099511628211ull;
			assert_null(ft->frame_seen[seen_t]);
		}
		for (size_t i = 0; i < 64 * STRIDE; i++) {
			uint32_t bits;

			memcpy(&bits, &w.obs[i], 4);
			h = (h ^ bits) * 1099511628211ull;
		}
	}
	*vision = fv->n_req;
	*text = ft->n_req;
	*vision_draws = (uint64_t)gauge(&w, "llm_vision/draws");
	*text_draws = (uint64_t)gauge(&w, "llm_text/draws");
	world_fini(&w);
	free(fv);
	free(ft);
	return h;
}

static void test_draw_rates_and_determinism(void **unused)
{
	const uint32_t steps = 20000;
	const double cells = 64.0 * steps;
	uint32_t v1, t1, v2, t2, v3, t3;
	uint64_t fw1, fw2, fw3, vd, td, vd2, td2, vd3, td3;
	uint64_t h1 = rates_run(7, steps, &v1, &t1, &fw1, &vd, &td);
	uint64_t h2 = rates_run(7, steps, &v2, &t2, &fw2, &vd2, &td2);
	uint64_t h3 = rates_run(8, steps, &v3, &t3, &fw3, &vd3, &td3);
	/* A reply comes at the next update, after the next draw: an env that
	 * asked skips one step.  q = P(some source drawn). */
	double q = 1 - (1 - 0.03) * (1 - 0.02);
	double want_v = cells * 0.03 / (1 + q), want_t = cells * 0.97 * 0.02 / (1 + q);

	(void)unused;
	print_message("requests: vision %u (expected %.0f), text %u (expected %.0f); draws: "
	              "vision %llu (expected %.0f), text %llu (expected %.0f)\n", v1, want_v, t1,
	              want_t, (unsigned long long)vd, cells * 0.03, (unsigned long long)td,
	              cells * 0.97 * 0.02);
	assert_true(fabs(v1 - want_v) < 0.03 * want_v);
	assert_true(fabs(t1 - want_t) < 0.03 * want_t);
	assert_true(fabs((double)vd - cells * 0.03) < 0.03 * cells * 0.03);
	assert_true(fabs((double)td - cells * 0.97 * 0.02) < 0.03 * cells * 0.97 * 0.02);
	/* Every vision request and only those had a frame rendered. */
	assert_int_equal(fw1, v1);
	/* Same seed, same everything; another seed, other draws. */
	assert_true(h1 == h2 && v1 == v2 && t1 == t2 && fw1 == fw2 && vd == vd2 && td == td2);
	assert_true(h1 != h3);
	assert_true(v1 != v3 || t1 != t3);
}

static void test_in_flight_skip(void **unused)
{
	struct fake *f = fake_new(1, 1, 0);  /* never answers */
	struct gnarl_guidance_source src = source("llm_text", &text_ops, f, 1.0);
	struct world w;

	(void)unused;
	world_init(&w, 1, &src, 1, 1);
	for (int i = 0; i < 50; i++)
		step(&w);
	/* No time limit: the request is in flight until it comes back ... */
	assert_int_equal(f->n_req, 1);
	assert_int_equal((int)gauge(&w, "llm_text/draws"), 50);
	/* ... or the env leaves the room: then it asks about the new one. */
	w.st[0].room = 0x13;
	step(&w);
	step(&w);
	assert_int_equal(f->n_req, 2);
	assert_int_equal(f->req[1].state->room, 0x13);
	world_fini(&w);
	free(f);
}

static void test_failed_request(void **unused)
{
	struct fake *f = fake_new(-1, 2, -1);  /* every request fails, 2 polls later */
	struct gnarl_guidance_source src = source("llm_text", &text_ops, f, 1.0);
	struct world w;

	(void)unused;
	world_init(&w, 1, &src, 1, 1);
	step(&w);                      /* update 1 asks */
	step(&w);                      /* 2: still in flight */
	assert_int_equal(f->n_req, 1);
	step(&w);                      /* 3: the failure comes back (drawn while in flight) */
	assert_int_equal(f->n_req, 1);
	check_advice(&w, 0, -1, 0);
	assert_int_equal((int)gauge(&w, "llm_text/failed"), 1);
	step(&w);                      /* 4: free again: asks */
	assert_int_equal(f->n_req, 2);
	assert_int_equal((int)gauge(&w, "llm_text/suggestions"), 0);
	assert_int_equal((int)gauge(&w, "llm_text/stale"), 0);
	world_fini(&w);
	free(f);
}

static void test_refused_then_skipped(void **unused)
{
	struct fake *f = fake_new(2, 1, -1);
	struct gnarl_guidance_source src = source("llm_vision", &vision_ops, f, 1.0);
	struct world w;

	(void)unused;
	world_init(&w, 4, &src, 1, 1);
	f->busy = true;
	step(&w);                      /* 1: env 0 is refused; envs 1-3 are not even asked */
	assert_int_equal(f->n_calls, 1);
	assert_int_equal((int)gauge(&w, "llm_vision/refused"), 4);
	/* While the plugin is known busy, draws render no frame and call
	 * nothing, for 64 steps. */
	for (int i = 0; i < 64; i++) {
		step(&w);
		for (uint32_t n = 0; n < 4; n++)
			assert_int_equal(w.want[n], 0);
	}
	assert_int_equal(f->n_calls, 1);
	assert_int_equal((int)gauge(&w, "llm_vision/refused"), 4 * 65);
	assert_int_equal((int)gauge(&w, "llm_vision/draws"), 4 * 65);
	/* Then it asks again (a breaker may have closed), and is taken. */
	f->busy = false;
	f->delay = 1000;               /* the replies stay out */
	step(&w);
	assert_int_equal(w.want[0], 1);
	assert_int_equal(f->n_req, 4);
	assert_int_equal(f->n_calls, 5);
	/* A refusal with 4 requests out: skipped until one of them comes back. */
	f->busy = true;
	w.st[0].room = w.st[1].room = w.st[2].room = w.st[3].room = 0x30;
	step(&w);                      /* leaving the room frees the envs */
	step(&w);                      /* env 0 asks: refused; the others are skipped */
	assert_int_equal(f->n_calls, 6);
	step(&w);
	step(&w);
	assert_int_equal(f->n_calls, 6);
	f->q[0].due = f->polls + 1;    /* one reply comes back at the next poll */
	f->busy = false;
	step(&w);                      /* no frame was drawn for it: still not asked */
	assert_int_equal(f->n_calls, 6);
	step(&w);
	assert_int_equal(f->n_calls, 10);
	assert_int_equal(f->n_req, 8);
	assert_int_equal((int)gauge(&w, "llm_vision/stale"), 1);
	world_fini(&w);
	free(f);
}

static void test_cache_spares_frames(void **unused)
{
	struct fake *f = fake_new(4, 1, -1);
	struct gnarl_guidance_source src = source("llm_vision", &vision_ops, f, 1.0);
	struct gnarl_guidance_step s;
	struct world w;

	(void)unused;
	src.cache_ttl_steps = 100;
	src.ttl = 1;
	world_init(&w, 1, &src, 1, 1);
	s = (struct gnarl_guidance_step){w.dones, w.st, w.frames, w.obs, STRIDE, ENV_OBS};
	step(&w);                      /* 1: asks, with a frame */
	assert_int_equal(w.want[0], 1);
	assert_int_equal(f->n_req, 1);
	step(&w);                      /* 2: the reply, cached */
	check_advice(&w, 0, 4, 0);
	step(&w);                      /* 3: the cache knows this cell: no frame, it answers */
	assert_int_equal(w.want[0], 0);
	assert_int_equal(f->n_req, 1);
	assert_int_equal((int)gauge(&w, "llm_vision/cache_hits"), 1);
	/* The env leaves the cell during the step: no frame was drawn, so no
	 * request this time... */
	gnarl_guidance_draw(w.g, w.act, w.want);
	assert_int_equal(w.want[0], 0);
	w.st[0].x += 64;
	gnarl_guidance_update(w.g, &s);
	assert_int_equal(f->n_req, 1);
	assert_int_equal((int)gauge(&w, "llm_vision/cache_hits"), 1);
	assert_int_equal((int)gauge(&w, "llm_vision/refused"), 0);
	/* ... and the next draw, in a cell the cache does not know, renders. */
	step(&w);
	assert_int_equal(w.want[0], 1);
	assert_int_equal(f->n_req, 2);
	world_fini(&w);
	free(f);
}

static void test_reset(void **unused)
{
	struct gnarl_guidance_episode ep;
	struct world w;
	struct fake *f;

	(void)unused;
	with_suggestion(&w, &f, &text_ops, 100);
	w.act[0] = 3;
	step(&w);
	gnarl_guidance_reset(w.g);
	gnarl_guidance_write_advice(w.g, w.obs, STRIDE, ENV_OBS);
	check_advice(&w, 0, -1, 0);
	w.act[0] = 3;
	step(&w);                      /* no suggestion: no bonus */
	assert_true(gnarl_guidance_bonus(w.g, 0)[0] == 0.0f);
	w.dones[0] = 1;
	step(&w);
	gnarl_guidance_finished(w.g, 0, &ep);
	assert_int_equal(ep.alignment_hits, 0);  /* the hit before the reset is forgotten */
	world_fini(&w);
	free(f);
}

static void test_stale_reply(void **unused)
{
	struct fake *f = fake_new(6, 3, -1);  /* replies after 3 polls */
	struct gnarl_guidance_source src = source("llm_text", &text_ops, f, 1.0);
	struct world w;

	(void)unused;
	src.cache_ttl_steps = 100;
	world_init(&w, 1, &src, 1, 1);
	step(&w);                      /* update 1 asks in room 0x12 */
	w.st[0].room = 0x20;
	step(&w);                      /* 2: left the room, nothing in flight now */
	step(&w);                      /* 3: so it asks about 0x20 at once */
	assert_int_equal(f->n_req, 2);
	assert_int_equal(f->req[1].state->room, 0x20);
	step(&w);                      /* 4: the 0x12 reply arrives: not used */
	check_advice(&w, 0, -1, 0);
	assert_int_equal((int)gauge(&w, "llm_text/stale"), 1);
	step(&w);
	step(&w);                      /* 6: the 0x20 reply: used */
	check_advice(&w, 0, 6, 0);
	assert_int_equal((int)gauge(&w, "llm_text/suggestions"), 1);
	/* ... and the stale one was cached for room 0x12. */
	w.st[0].room = 0x12;
	step(&w);
	check_advice(&w, 0, 6, 0);
	assert_int_equal((int)gauge(&w, "llm_text/cache_hits"), 1);
	assert_int_equal(f->n_req, 2);
	world_fini(&w);
	free(f);
}

static void test_last_suggestion_in_requests(void **unused)
{
	struct world w;
	struct fake *f;

	(void)unused;
	with_suggestion(&w, &f, &vision_ops, 100);
	assert_int_equal(f->n_req, 2);  /* envs 0 and 1 at update 1 */
	assert_int_equal(f->req[0].last_suggestion, -1);
	step(&w);                      /* env 0 asks again, knowing the last one */
	assert_int_equal(f->n_req, 3);
	assert_int_equal(f->req[2].env, 0);
	assert_int_equal(f->req[2].last_suggestion, 3);
	assert_int_equal(f->req[2].n_actions, A);
	assert_ptr_equal(f->req[2].action_names, names);
	assert_ptr_equal(f->frame_seen[2], w.frames);
	assert_int_equal(w.want[0], 1);
	world_fini(&w);
	free(f);
}

static void test_create_errors(void **unused)
{
	struct fake *f = fake_new(0, 1, 0);
	struct gnarl_guidance_source src = source("llm_vision", &vision_ops, f, 0.5);
	struct gnarl_guidance_spec spec = {4, A, names, true, false, 1};
	struct gnarl_guidance *g = NULL;
	char err[GNARL_ERR_SIZE];

	(void)unused;
	assert_int_equal(gnarl_guidance_create(&spec, &src, 1, NULL, &g, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "llm_vision"));
	assert_non_null(strstr(err, "frames"));
	spec.has_frames = true;
	spec.has_game_state = false;
	assert_int_equal(gnarl_guidance_create(&spec, &src, 1, NULL, &g, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "game state"));
	spec.has_game_state = true;
	src.probability = 1.5;
	assert_int_equal(gnarl_guidance_create(&spec, &src, 1, NULL, &g, err), GNARL_ECONFIG);
	src.probability = 0.5;
	src.ttl = 0;
	assert_int_equal(gnarl_guidance_create(&spec, &src, 1, NULL, &g, err), GNARL_ECONFIG);
	src.ttl = 1;
	assert_int_equal(gnarl_guidance_create(&spec, &src, 1, NULL, &g, err), 0);
	/* Without game state, no sources is fine: the advice block is zeros. */
	gnarl_guidance_free(g);
	spec.has_game_state = false;
	assert_int_equal(gnarl_guidance_create(&spec, NULL, 0, NULL, &g, err), 0);
	gnarl_guidance_free(g);
	gnarl_guidance_free(NULL);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_sources_zero_advice),
		cmocka_unit_test(test_advice_and_ttl),
		cmocka_unit_test(test_wide_suggestions),
		cmocka_unit_test(test_expiry_room_change),
		cmocka_unit_test(test_expiry_reset),
		cmocka_unit_test(test_alignment_bonus),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_draw_rates_and_determinism),
		cmocka_unit_test(test_in_flight_skip),
		cmocka_unit_test(test_failed_request),
		cmocka_unit_test(test_refused_then_skipped),
		cmocka_unit_test(test_cache_spares_frames),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_stale_reply),
		cmocka_unit_test(test_last_suggestion_in_requests),
		cmocka_unit_test(test_create_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
