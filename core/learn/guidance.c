/*
 * guidance.c - LLM guidance, the core's side: per-step draws, requests to
 * the LLM plugins, their suggestions kept per env, the advice block, the
 * alignment bonus and the answer cache.  The contract is in guidance.h.
 *
 * Entry points: gnarl_guidance_create/_open/_free (setup),
 * gnarl_guidance_draw/_update (the step path), _bonus, _finished, _reset,
 * _write_advice, _set_iteration, _publish.
 *
 * Invariants: every array is allocated at create, so draw and update never
 * allocate; the RNG is consumed K times per env per step whatever happens;
 * an env has at most one request in flight (the latest of its `asked`
 * history; in_flight says whether a reply would still be used); a
 * suggestion's (group, room) is the env's current one, or it has already
 * been dropped; a source's `outstanding` is exact, because every request a
 * plugin accepted comes out of its poll once (gnarl/plugin.h).
 */
#include "guidance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gauges.h"
#include "plugin_host.h"
#include "registry.h"
#include "rng.h"
#include "value.h"

#define CACHE_SIZE 1024   /* entries per source, direct-mapped */
#define POLL_BATCH 64
#define HISTORY 4         /* recent requests per env whose replies are cached */
/* After a refusal, a source is skipped (no frame rendered, no call) until
 * one of its requests comes back or this many steps have passed: an open
 * breaker would otherwise cost a rendered frame per draw.  Counted in
 * steps, not time, so that it does not depend on the machine's speed. */
#define BUSY_RETRY_STEPS 64

/* What draw decided about the env's frame (for a source wanting frames). */
enum frame { FRAME_NONE, FRAME_DRAWN, FRAME_BUSY, FRAME_CACHED };

enum counter {
	C_DRAWS, C_REQUESTS, C_REFUSED, C_CACHE_HITS, C_SUGGESTIONS, C_FAILED, C_STALE,
	C_ALIGNMENT_HITS, C_COUNT
};

static const char *const counter_names[C_COUNT] = {
	"draws", "requests", "refused", "cache_hits", "suggestions", "failed", "stale",
	"alignment_hits",
};

/* A situation: where the env was when it asked. */
struct place {
	int32_t group, room;
	int32_t cx, cy;           /* x, y / GNARL_GUIDANCE_CELL_PX */
};

/* A request an env made: a reply to it is cached under `at`. */
struct asked {
	uint64_t id;              /* 0: none */
	int32_t src;
	struct place at;
};

struct cache_entry {
	struct place at;
	int32_t action;           /* -1: empty */
	uint64_t step;            /* update count when stored */
};

struct source {
	struct gnarl_guidance_source s;
	char name[64];
	bool wants_frame;
	float bonus_now;          /* alignment_bonus * (1 - decay)^iteration */
	float *bonus;             /* (N) this step's term */
	struct cache_entry *cache;
	uint32_t outstanding;     /* accepted, not yet out of poll */
	uint32_t full_at;         /* outstanding at the last refusal; UINT32_MAX: none */
	uint64_t refused_step;    /* when (update count) */
	uint64_t count[C_COUNT];
	char gauge[C_COUNT + 1][96];
	uint32_t stride;          /* bytes of each suggestion its poll writes */
	unsigned char *replies;   /* (POLL_BATCH, stride): poll's out */
	/* owned when opened from a registry */
	struct gnarl_plugin_host *host;
	bool owned;
};

/* The env's current suggestion. */
struct advice {
	int32_t src;              /* source index, -1: none */
	int32_t action;
	uint32_t age;             /* updates since it arrived */
	int32_t group, room;      /* where it was asked */
};

struct gnarl_guidance {
	uint32_t n, a, k;         /* N, A, K */
	const char *const *names;
	struct source src[GNARL_GUIDANCE_MAX_SOURCES];
	uint32_t order[GNARL_GUIDANCE_MAX_SOURCES]; /* draw order: frame wanters first */
	struct gnarl_gauges *gauges;
	struct gnarl_rng rng;
	uint64_t step;            /* updates so far */

	/* per env (N) */
	int32_t *pending;         /* source drawn this step, -1: none */
	uint8_t *framed;          /* enum frame of this step's draw */
	struct place *at;         /* where each env was at the last update */
	struct advice *adv;
	int32_t *last_action;     /* last suggestion this episode, -1: none */
	bool *in_flight;          /* a reply to the latest request would be used */
	struct asked *asked;      /* (N, HISTORY) recent requests, latest at last_ask */
	uint8_t *last_ask;
	struct gnarl_guidance_episode *ep_now, *ep_done;
	uint64_t next_id;
};

/* ---- setup ------------------------------------------------------------------ */

static int check_source(const struct gnarl_guidance_spec *spec,
                        const struct gnarl_guidance_source *s, char err[GNARL_ERR_SIZE])
{
	if (!s->name || !s->ops || !s->llm)
		return gnarl_err(err, GNARL_EINVAL, "guidance: a source lacks its name, ops or "
		                 "instance");
	if (!(s->probability >= 0 && s->probability <= 1) || !(s->bonus_decay >= 0 &&
	    s->bonus_decay <= 1) || s->ttl < 1 || !isfinite(s->alignment_bonus))
		return gnarl_err(err, GNARL_ECONFIG, "guidance: %s: probability and bonus_decay "
		                 "must be in [0, 1], ttl >= 1, alignment_bonus finite", s->name);
	if (!spec->has_game_state)
		return gnarl_err(err, GNARL_ECONFIG, "llm: %s needs an env that fills the game "
		                 "state (this env has none): remove the llm section or change env",
		                 s->name);
	if ((s->ops->flags & GNARL_LLM_WANTS_FRAME) && !spec->has_frames)
		return gnarl_err(err, GNARL_ECONFIG, "llm: %s sends frames, but this env renders "
		                 "none: use llm_text instead", s->name);
	return 0;
}

static int alloc_arrays(struct gnarl_guidance *g)
{
	size_t n = g->n;

	g->pending = calloc(n, sizeof(*g->pending));
	g->framed = calloc(n, sizeof(*g->framed));
	g->at = calloc(n, sizeof(*g->at));
	g->adv = calloc(n, sizeof(*g->adv));
	g->last_action = calloc(n, sizeof(*g->last_action));
	g->in_flight = calloc(n, sizeof(*g->in_flight));
	g->asked = calloc(n * HISTORY, sizeof(*g->asked));
	g->last_ask = calloc(n, sizeof(*g->last_ask));
	g->ep_now = calloc(n, sizeof(*g->ep_now));
	g->ep_done = calloc(n, sizeof(*g->ep_done));
	if (!g->pending || !g->framed || !g->at || !g->adv || !g->last_action || !g->in_flight || !g->asked ||
	    !g->last_ask || !g->ep_now || !g->ep_done)
		return GNARL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		g->pending[i] = -1;
		g->adv[i].src = -1;
		g->last_action[i] = -1;
	}
	return 0;
}

static int add_source(struct gnarl_guidance *g, const struct gnarl_guidance_source *s)
{
	struct source *src = &g->src[g->k];

	src->s = *s;
	snprintf(src->name, sizeof(src->name), "%s", s->name);
	src->s.name = src->name;
	src->wants_frame = (s->ops->flags & GNARL_LLM_WANTS_FRAME) != 0;
	src->bonus_now = (float)s->alignment_bonus;
	src->full_at = UINT32_MAX;
	src->bonus = calloc(g->n ? g->n : 1, sizeof(*src->bonus));
	src->stride = gnarl_plugin_suggestion_size(s->ops);
	src->replies = malloc((size_t)POLL_BATCH * src->stride);
	if (!src->bonus || !src->replies)
		return GNARL_ENOMEM;
	if (s->cache_ttl_steps) {
		if (!(src->cache = malloc(CACHE_SIZE * sizeof(*src->cache))))
			return GNARL_ENOMEM;
		for (size_t i = 0; i < CACHE_SIZE; i++)
			src->cache[i].action = -1;
	}
	for (int c = 0; c <= C_COUNT; c++)
		snprintf(src->gauge[c], sizeof(src->gauge[c]), "%s/%s", s->name,
		         c < C_COUNT ? counter_names[c] : "bonus");
	g->k++;
	return 0;
}

int gnarl_guidance_create(const struct gnarl_guidance_spec *spec,
                          const struct gnarl_guidance_source *sources, uint32_t n_sources,
                          struct gnarl_gauges *gauges, struct gnarl_guidance **out,
                          char err[GNARL_ERR_SIZE])
{
	struct gnarl_guidance *g;
	uint32_t j = 0;
	int rc;

	*out = NULL;
	if (!spec || spec->n_actions == 0 || (n_sources && !spec->action_names))
		return gnarl_err(err, GNARL_EINVAL, "guidance: needs the env's actions");
	if (n_sources > GNARL_GUIDANCE_MAX_SOURCES)
		return gnarl_err(err, GNARL_ECONFIG, "llm: %u plugins configured, at most %d",
		                 n_sources, GNARL_GUIDANCE_MAX_SOURCES);
	for (uint32_t i = 0; i < n_sources; i++)
		if ((rc = check_source(spec, &sources[i], err)) < 0)
			return rc;
	if (!(g = calloc(1, sizeof(*g))))
		return gnarl_err(err, GNARL_ENOMEM, "guidance: out of memory");
	g->n = spec->n_envs;
	g->a = spec->n_actions;
	g->names = spec->action_names;
	g->gauges = gauges;
	g->next_id = 1;
	gnarl_rng_seed(&g->rng, spec->seed);
	rc = alloc_arrays(g);
	for (uint32_t i = 0; rc == 0 && i < n_sources; i++)
		rc = add_source(g, &sources[i]);
	if (rc < 0) {
		gnarl_guidance_free(g);
		return gnarl_err(err, rc, "guidance: out of memory for %u envs", spec->n_envs);
	}
	for (uint32_t i = 0; i < g->k; i++)  /* frames first, then the rest, stable */
		if (g->src[i].wants_frame)
			g->order[j++] = i;
	for (uint32_t i = 0; i < g->k; i++)
		if (!g->src[i].wants_frame)
			g->order[j++] = i;
	gnarl_guidance_publish(g);
	*out = g;
	return 0;
}

int gnarl_guidance_open(const struct gnarl_registry *reg, const struct gnarl_host_context *ctx,
                        const struct gnarl_guidance_spec *spec, struct gnarl_guidance **out,
                        char err[GNARL_ERR_SIZE])
{
	struct gnarl_guidance_source src[GNARL_GUIDANCE_MAX_SOURCES];
	struct gnarl_plugin_host *hosts[GNARL_GUIDANCE_MAX_SOURCES] = {0};
	size_t k = gnarl_registry_count(reg, GNARL_KIND_LLM);
	int rc = 0;

	*out = NULL;
	if (k > GNARL_GUIDANCE_MAX_SOURCES)
		return gnarl_err(err, GNARL_ECONFIG, "llm: %zu plugins configured, at most %d", k,
		                 GNARL_GUIDANCE_MAX_SOURCES);
	memset(src, 0, sizeof(src));
	for (size_t i = 0; i < k && rc == 0; i++) {
		const struct gnarl_registry_entry *e = gnarl_registry_get(reg, GNARL_KIND_LLM, i);
		const struct gnarl_llm_ops *ops = e->desc->ops.llm;
		const struct gnarl_value *sec = e->section;

		src[i] = (struct gnarl_guidance_source){
			.name = e->name,
			.ops = ops,
			.probability = gnarl_value_float(gnarl_value_get(sec, "probability"),
			                                 ops->default_probability),
			.alignment_bonus = gnarl_value_float(gnarl_value_get(sec, "alignment_bonus"),
			                                     ops->default_alignment_bonus),
			.bonus_decay = gnarl_value_float(gnarl_value_get(sec, "bonus_decay"), 0),
			.ttl = (uint32_t)gnarl_value_int(gnarl_value_get(sec, "ttl"), 32),
			.cache_ttl_steps =
			    (uint32_t)gnarl_value_int(gnarl_value_get(sec, "cache_ttl_steps"), 0),
		};
		rc = gnarl_registry_host(e, ctx, &hosts[i], err);
		if (rc == 0) {
			err[0] = '\0';
			src[i].llm = ops->create(gnarl_plugin_host_table(hosts[i]), spec->n_envs, err);
			if (!src[i].llm)
				rc = gnarl_plugin_create_failed(e->lib, e->slot, err);
		}
	}
	if (rc == 0)
		rc = gnarl_guidance_create(spec, src, (uint32_t)k, ctx ? ctx->gauges : NULL, out, err);
	if (rc == 0) {
		for (size_t i = 0; i < k; i++) {
			(*out)->src[i].host = hosts[i];
			(*out)->src[i].owned = true;
		}
		return 0;
	}
	for (size_t i = 0; i < k; i++) {
		if (src[i].llm)
			src[i].ops->destroy(src[i].llm);
		gnarl_plugin_host_free(hosts[i]);
	}
	return rc;
}

void gnarl_guidance_free(struct gnarl_guidance *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < g->k; i++) {
		struct source *s = &g->src[i];

		if (s->owned) {
			s->s.ops->destroy(s->s.llm);
			gnarl_plugin_host_free(s->host);
		}
		free(s->bonus);
		free(s->cache);
		free(s->replies);
	}
	free(g->pending);
	free(g->framed);
	free(g->at);
	free(g->adv);
	free(g->last_action);
	free(g->in_flight);
	free(g->asked);
	free(g->last_ask);
	free(g->ep_now);
	free(g->ep_done);
	free(g);
}

uint32_t gnarl_guidance_count(const struct gnarl_guidance *g)
{
	return g ? g->k : 0;
}

bool gnarl_guidance_wants_frames(const struct gnarl_guidance *g)
{
	for (uint32_t i = 0; g && i < g->k; i++)
		if (g->src[i].wants_frame)
			return true;
	return false;
}

const char *gnarl_guidance_name(const struct gnarl_guidance *g, uint32_t k)
{
	return g && k < g->k ? g->src[k].name : NULL;
}

const float *gnarl_guidance_bonus(const struct gnarl_guidance *g, uint32_t k)
{
	return g && k < g->k ? g->src[k].bonus : NULL;
}

void gnarl_guidance_finished(const struct gnarl_guidance *g, uint32_t n,
                             struct gnarl_guidance_episode *out)
{
	if (g && n < g->n)
		*out = g->ep_done[n];
	else
		memset(out, 0, sizeof(*out));
}

void gnarl_guidance_set_iteration(struct gnarl_guidance *g, uint64_t iteration)
{
	for (uint32_t i = 0; g && i < g->k; i++) {
		struct source *s = &g->src[i];

		s->bonus_now = (float)(s->s.alignment_bonus *
		                       pow(1.0 - s->s.bonus_decay, (double)iteration));
	}
}

void gnarl_guidance_publish(const struct gnarl_guidance *g)
{
	if (!g || !g->gauges)
		return;
	for (uint32_t i = 0; i < g->k; i++) {
		const struct source *s = &g->src[i];

		for (int c = 0; c < C_COUNT; c++)
			gnarl_gauges_set(g->gauges, s->gauge[c], (double)s->count[c]);
		gnarl_gauges_set(g->gauges, s->gauge[C_COUNT], s->bonus_now);
	}
}

/* ---- the step path ------------------------------------------------------------- */

static struct place place_of(const struct gnarl_game_state *s);
static const struct cache_entry *cached(const struct gnarl_guidance *g, struct source *s,
                                        const struct place *p);

/* Source s refused lately and none of its requests came back since. */
static bool saturated(const struct gnarl_guidance *g, const struct source *s)
{
	return s->full_at != UINT32_MAX && s->outstanding >= s->full_at &&
	       g->step < s->refused_step + BUSY_RETRY_STEPS;
}

/* The alignment bonus of the actions against the advice the policy saw
 * (the advice blocks written by the last update). */
static void pay(struct gnarl_guidance *g, const int32_t *actions)
{
	for (uint32_t k = 0; k < g->k; k++)
		memset(g->src[k].bonus, 0, g->n * sizeof(float));
	for (uint32_t n = 0; n < g->n; n++) {
		const struct advice *a = &g->adv[n];
		struct source *src;

		if (a->src < 0 || actions[n] != a->action)
			continue;
		src = &g->src[a->src];
		src->bonus[n] = src->bonus_now;
		src->count[C_ALIGNMENT_HITS]++;
		g->ep_now[n].alignment_hits++;
	}
}

void gnarl_guidance_draw(struct gnarl_guidance *g, const int32_t *actions, uint8_t *want_frame)
{
	if (g->k == 0) {
		if (want_frame)
			memset(want_frame, 0, g->n);
		return;
	}
	pay(g, actions);
	for (uint32_t n = 0; n < g->n; n++) {
		int32_t pick = -1;

		for (uint32_t j = 0; j < g->k; j++) {
			uint32_t i = g->order[j];
			double u = gnarl_rng_double(&g->rng);  /* always drawn: determinism */

			if (pick < 0 && u < g->src[i].s.probability)
				pick = (int32_t)i;
		}
		if (pick >= 0) {
			g->src[pick].count[C_DRAWS]++;
			if (g->in_flight[n])
				pick = -1;  /* one question per env at a time */
		}
		g->pending[n] = pick;
		g->framed[n] = FRAME_NONE;
		if (pick >= 0 && g->src[pick].wants_frame) {
			/* Rendering costs the step loop (~16 us in the overworld):
			 * none for a plugin known busy, nor where the cache will
			 * most likely answer (the env stays in its cell). */
			if (saturated(g, &g->src[pick]))
				g->framed[n] = FRAME_BUSY;
			else if (cached(g, &g->src[pick], &g->at[n]))
				g->framed[n] = FRAME_CACHED;
			else
				g->framed[n] = FRAME_DRAWN;
		}
		if (want_frame)
			want_frame[n] = g->framed[n] == FRAME_DRAWN;
	}
}

static struct place place_of(const struct gnarl_game_state *s)
{
	/* floor division, so that -1 px is cell -1, not cell 0 */
	int32_t c = GNARL_GUIDANCE_CELL_PX;

	return (struct place){s->group, s->room, s->x >= 0 ? s->x / c : (s->x - c + 1) / c,
	                      s->y >= 0 ? s->y / c : (s->y - c + 1) / c};
}

static bool same_place(const struct place *a, const struct place *b)
{
	return a->group == b->group && a->room == b->room && a->cx == b->cx && a->cy == b->cy;
}

static struct cache_entry *cache_slot(const struct source *s, const struct place *p)
{
	uint64_t h = (uint64_t)(uint32_t)p->group * 0x9e3779b97f4a7c15ull;

	h ^= (uint64_t)(uint32_t)p->room * 0xc2b2ae3d27d4eb4full;
	h ^= (uint64_t)(uint32_t)p->cx * 0x165667b19e3779f9ull;
	h ^= (uint64_t)(uint32_t)p->cy * 0x27d4eb2f165667c5ull;
	h ^= h >> 29;
	return &s->cache[(h * 0xbf58476d1ce4e5b9ull >> 40) & (CACHE_SIZE - 1)];
}

/* Source s's valid cache entry for place p, or NULL. */
static const struct cache_entry *cached(const struct gnarl_guidance *g, struct source *s,
                                        const struct place *p)
{
	const struct cache_entry *c;

	if (!s->cache)
		return NULL;
	c = cache_slot(s, p);
	if (c->action < 0 || !same_place(&c->at, p) || g->step - c->step > s->s.cache_ttl_steps)
		return NULL;
	return c;
}

static void install(struct gnarl_guidance *g, uint32_t n, uint32_t k, int32_t action,
                    int32_t group, int32_t room)
{
	g->adv[n] = (struct advice){(int32_t)k, action, 0, group, room};
	g->last_action[n] = action;
}

static struct asked *latest(const struct gnarl_guidance *g, uint32_t n)
{
	return &g->asked[(size_t)n * HISTORY + g->last_ask[n]];
}

/* Ageing and expiry, episode ends. */
static void settle(struct gnarl_guidance *g, const struct gnarl_guidance_step *st)
{
	for (uint32_t n = 0; n < g->n; n++) {
		const struct gnarl_game_state *s = &st->states[n];
		struct advice *a = &g->adv[n];

		if (a->src >= 0 && (++a->age >= g->src[a->src].s.ttl || st->dones[n] ||
		                    s->group != a->group || s->room != a->room))
			a->src = -1;
		if (st->dones[n]) {
			g->ep_done[n] = g->ep_now[n];
			memset(&g->ep_now[n], 0, sizeof(g->ep_now[n]));
			g->last_action[n] = -1;
			g->in_flight[n] = false;
		} else if (g->in_flight[n] && (s->group != latest(g, n)->at.group ||
		                               s->room != latest(g, n)->at.room)) {
			g->in_flight[n] = false;  /* a reply would be about another room */
		}
	}
}

static void take_reply(struct gnarl_guidance *g, uint32_t k, const struct gnarl_llm_suggestion *r)
{
	struct source *src = &g->src[k];
	const struct asked *q = NULL;
	uint32_t n = r->env;

	if (src->outstanding)
		src->outstanding--;
	if (r->action < 0 || (uint32_t)r->action >= g->a)
		src->count[C_FAILED]++;
	for (uint32_t i = 0; n < g->n && r->id && i < HISTORY; i++)
		if (g->asked[(size_t)n * HISTORY + i].id == r->id)
			q = &g->asked[(size_t)n * HISTORY + i];
	if (!q || q->src != (int32_t)k) {
		src->count[C_STALE]++;  /* from a request too old to place */
		return;
	}
	if (r->action < 0 || (uint32_t)r->action >= g->a) {
		if (q == latest(g, n))
			g->in_flight[n] = false;  /* finished without a suggestion */
		return;
	}
	if (src->cache) {
		struct cache_entry *c = cache_slot(src, &q->at);

		*c = (struct cache_entry){q->at, r->action, g->step};
	}
	if (q != latest(g, n) || !g->in_flight[n]) {
		src->count[C_STALE]++;  /* the env moved on: another room, episode or request */
		return;
	}
	g->in_flight[n] = false;
	install(g, n, k, r->action, q->at.group, q->at.room);
	src->count[C_SUGGESTIONS]++;
	g->ep_now[n].suggestions++;
}

static void poll_all(struct gnarl_guidance *g)
{
	for (uint32_t k = 0; k < g->k; k++) {
		struct source *src = &g->src[k];
		uint32_t got;

		/* Read with the plugin's stride: its suggestions may be of
		 * another minor's size (what this gnarl knows of each is read). */
		do {
			got = src->s.ops->poll(src->s.llm, (void *)src->replies, POLL_BATCH);
			for (uint32_t i = 0; i < got; i++) {
				struct gnarl_llm_suggestion r = {0};
				memcpy(&r, src->replies + (size_t)i * src->stride,
				       src->stride < sizeof(r) ? src->stride : sizeof(r));
				take_reply(g, k, &r);
			}
		} while (got == POLL_BATCH);
	}
}

static void ask(struct gnarl_guidance *g, const struct gnarl_guidance_step *st, uint32_t n,
                uint32_t k)
{
	struct source *src = &g->src[k];
	const struct gnarl_game_state *s = &st->states[n];
	struct place at = place_of(s);
	const struct cache_entry *c = cached(g, src, &at);
	struct gnarl_llm_request req;

	if (c) {
		install(g, n, k, c->action, s->group, s->room);
		src->count[C_CACHE_HITS]++;
		g->ep_now[n].cache_hits++;
		return;
	}
	if (saturated(g, src) || (src->wants_frame && g->framed[n] == FRAME_BUSY)) {
		src->count[C_REFUSED]++;  /* known busy: now, or when the frame was due */
		return;
	}
	if (src->wants_frame && g->framed[n] != FRAME_DRAWN)
		return;  /* the env left the cell the cache knew: a later draw asks */
	if (src->wants_frame && !st->frames)
		return;
	req = (struct gnarl_llm_request){
		.size = sizeof(req),
		.env = n,
		.id = g->next_id,
		.state = s,
		.frame = src->wants_frame ? st->frames + (size_t)n * GNARL_FRAME_BYTES : NULL,
		.last_suggestion = g->last_action[n],
		.n_actions = g->a,
		.action_names = g->names,
	};
	if (src->s.ops->request(src->s.llm, &req) != 0) {
		src->count[C_REFUSED]++;
		src->full_at = src->outstanding;
		src->refused_step = g->step;
		return;
	}
	src->full_at = UINT32_MAX;
	src->outstanding++;
	g->last_ask[n] = (uint8_t)((g->last_ask[n] + 1) % HISTORY);
	*latest(g, n) = (struct asked){g->next_id++, (int32_t)k, at};
	g->in_flight[n] = true;
	src->count[C_REQUESTS]++;
	g->ep_now[n].requests++;
}

void gnarl_guidance_write_advice(const struct gnarl_guidance *g, float *obs, uint32_t obs_stride,
                                 uint32_t advice_offset)
{
	for (uint32_t n = 0; n < g->n; n++) {
		float *row = obs + (size_t)n * obs_stride + advice_offset;
		const struct advice *a = &g->adv[n];

		memset(row, 0, (g->a + 1) * sizeof(float));
		if (a->src >= 0) {
			row[a->action] = 1.0f;
			row[g->a] = (float)a->age / (float)g->src[a->src].s.ttl;
		}
	}
}

void gnarl_guidance_update(struct gnarl_guidance *g, const struct gnarl_guidance_step *st)
{
	g->step++;
	if (g->k) {
		settle(g, st);
		poll_all(g);
		for (uint32_t n = 0; n < g->n; n++) {
			int32_t k = g->pending[n];

			g->pending[n] = -1;
			if (k >= 0 && !g->in_flight[n])
				ask(g, st, n, (uint32_t)k);
			g->at[n] = place_of(&st->states[n]);
		}
	}
	gnarl_guidance_write_advice(g, st->obs, st->obs_stride, st->advice_offset);
}

void gnarl_guidance_reset(struct gnarl_guidance *g)
{
	for (uint32_t n = 0; n < g->n; n++) {
		g->adv[n].src = -1;
		g->pending[n] = -1;
		g->last_action[n] = -1;
		g->in_flight[n] = false;  /* a reply to an older request is stale */
		memset(&g->ep_now[n], 0, sizeof(g->ep_now[n]));
	}
	for (uint32_t k = 0; k < g->k; k++)
		memset(g->src[k].bonus, 0, g->n * sizeof(float));
}
