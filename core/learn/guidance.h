/*
 * guidance.h - LLM guidance, the core's side (docs/architecture.md): when to
 * ask the LLM plugins, what to do with their suggestions, and what they
 * pay.  Nothing here waits on the network: the plugins' request() and
 * poll() return at once, and a reply simply shows up in a later step.
 *
 * Dimensions: N envs, A actions, K LLM plugins (sources), P = A + 1 floats
 * of advice per observation row.
 *
 * Per step the rollout makes two calls and reads one array per source:
 *
 *     gnarl_guidance_draw(g, actions, want_frame);
 *                                             before the env step: the bonus
 *                                             for the actions chosen, and
 *                                             which envs ask which plugin;
 *                                             want_frame (N) says which envs
 *                                             must render a frame
 *     gnarl_guidance_bonus(g, k)              (N) reward term k of the step,
 *                                             named gnarl_guidance_name(g, k),
 *                                             known before the env steps
 *     ...env step, reward plugins, episode accounting, resets...
 *     gnarl_guidance_update(g, &step);        after them: expiry, replies,
 *                                             new requests, advice blocks
 *
 * and per iteration gnarl_guidance_set_iteration() before its first step
 * and gnarl_guidance_publish() before the metrics flush.
 *
 * The advice block.  Each observation row holds P floats at advice_offset:
 * a one-hot over the A actions of the env's current suggestion, then its
 * age / ttl in [0, 1).  All zeros when there is none.  It exists whether or
 * not any LLM plugin is configured (K = 0 writes zeros), so switching
 * guidance on or off never changes the observation size.
 *
 * A suggestion (one per env, from any source) is valid for its source's
 * ttl steps, and expires early when the env's (group, room) changes or its
 * episode ends.  While valid, the action taken equal to it earns its
 * source's alignment_bonus * (1 - bonus_decay)^iteration as reward term k:
 * the suggestion the policy saw in its observation when it chose, so the
 * bonus is known at draw time, before the env steps.
 *
 * Asking.  Each step, for each env and each source (sources wanting
 * frames first, as the reference did), one uniform draw against the
 * source's probability; the first source drawn asks, unless a request of
 * that env is in flight.  The draws consume the seeded RNG identically
 * every step, whatever the network does, so they are deterministic given
 * the seed.  Before a call, a per-source cache keyed by (group, room, x/32,
 * y/32) answers a situation it saw within cache_ttl_steps without one.
 * A request stops being "in flight" when it comes out of the plugin's
 * poll (every accepted request does, once: a failure as action -1), or
 * when the env's room or episode changes (a later reply is then stale:
 * cached, not used).  After a plugin refuses (in-flight cap, open
 * breaker), its draws are skipped without rendering a frame or calling it
 * until one of its requests comes back or 64 steps have passed.  No frame
 * is rendered either where the cache holds an answer for the env's cell
 * before the step (if the env leaves the cell, that draw asks nothing).
 *
 * Gauges (cumulative), "<source name>/<x>": draws, requests, refused (the
 * plugin said busy, or said so lately: skipped), cache_hits, suggestions,
 * failed (requests that came back without an action), stale,
 * alignment_hits, bonus (the current per-hit bonus).  The plugins publish
 * their own (calls, latency, breaker, ...) under the same prefix.
 *
 * Threads: every call from one thread (the rollout's).  draw and update
 * never allocate and never fail.
 */
#ifndef GNARL_GUIDANCE_H
#define GNARL_GUIDANCE_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_gauges;
struct gnarl_host_context;
struct gnarl_registry;

/* Most sources one guidance takes (K). */
#define GNARL_GUIDANCE_MAX_SOURCES 8
/* Side of a cache cell in pixels: 2 x 2 tiles of 16 px. */
#define GNARL_GUIDANCE_CELL_PX 32

/* Floats of advice per observation row for A actions. */
static inline uint32_t gnarl_guidance_advice_size(uint32_t n_actions)
{
	return n_actions + 1;
}

/* What guidance knows of the env. */
struct gnarl_guidance_spec {
	uint32_t n_envs;                   /* N */
	uint32_t n_actions;                /* A */
	const char *const *action_names;   /* A names; borrowed, must outlive g */
	bool has_game_state;               /* required when K > 0 */
	bool has_frames;                   /* required by sources wanting frames */
	uint64_t seed;                     /* of the draws */
};

/* One LLM plugin instance with its settings (the config's llm[k] entry). */
struct gnarl_guidance_source {
	const char *name;                  /* term and gauge prefix ("llm_text"); copied */
	const struct gnarl_llm_ops *ops;   /* borrowed, must outlive g */
	void *llm;                         /* the instance; borrowed unless opened by
	                                      gnarl_guidance_open */
	double probability;                /* per env per step, in [0, 1] */
	double alignment_bonus;
	double bonus_decay;                /* in [0, 1]; per iteration */
	uint32_t ttl;                      /* steps, >= 1 */
	uint32_t cache_ttl_steps;          /* 0: no cache */
};

/* What the rollout hands to gnarl_guidance_update.  Arrays are (N) rows,
 * borrowed for the call. */
struct gnarl_guidance_step {
	const uint8_t *dones;              /* non-zero: the episode ended (the env
	                                      has been reset since) */
	const struct gnarl_game_state *states; /* now: after the step, or the new
	                                      episode's first state after a reset */
	const uint8_t *frames;             /* (N, GNARL_FRAME_BYTES), showing states;
	                                      rows valid where want_frame was set;
	                                      may be NULL when no source wants frames */
	float *obs;                        /* (N, obs_stride): the rows the policy
	                                      reads next; the advice block is written */
	uint32_t obs_stride;
	uint32_t advice_offset;            /* offset + P <= obs_stride */
};

/* The counts of one env's finished episode. */
struct gnarl_guidance_episode {
	uint32_t requests;                 /* calls made */
	uint32_t cache_hits;               /* answered by the cache */
	uint32_t suggestions;              /* replies that became the env's suggestion */
	uint32_t alignment_hits;           /* steps the action matched a suggestion */
};

struct gnarl_guidance;

/* Guidance over K sources (K may be 0: the advice block stays zero).  The
 * sources array is copied.  gauges may be NULL.  Errors (GNARL_EINVAL,
 * GNARL_ECONFIG, GNARL_ENOMEM) name the source.  *out owned:
 * gnarl_guidance_free(), which destroys nothing it did not open. */
int gnarl_guidance_create(const struct gnarl_guidance_spec *spec,
                          const struct gnarl_guidance_source *sources, uint32_t n_sources,
                          struct gnarl_gauges *gauges, struct gnarl_guidance **out,
                          char err[GNARL_ERR_SIZE]);

/* Create an instance of every llm entry of the registry (entries' sections
 * hold probability, alignment_bonus, bonus_decay, ttl, cache_ttl_steps with
 * defaults filled) and guidance over them.  ctx is borrowed and must outlive g (its gauges receive the
 * gauges).  The instances and their hosts are owned by g. */
int gnarl_guidance_open(const struct gnarl_registry *reg, const struct gnarl_host_context *ctx,
                        const struct gnarl_guidance_spec *spec, struct gnarl_guidance **out,
                        char err[GNARL_ERR_SIZE]);

void gnarl_guidance_free(struct gnarl_guidance *g);  /* accepts NULL */

/* Sources (K) and the name of source k (borrowed; "llm_text").  g may be
 * NULL (K = 0). */
uint32_t gnarl_guidance_count(const struct gnarl_guidance *g);
/* Whether some source sends frames (the env must render into a frames
 * array, (N, GNARL_FRAME_BYTES)). */
bool gnarl_guidance_wants_frames(const struct gnarl_guidance *g);
const char *gnarl_guidance_name(const struct gnarl_guidance *g, uint32_t k);

/* Before the env step, with the actions (N) the policy chose: set the
 * bonus terms of the step (gnarl_guidance_bonus), draw, and write
 * want_frame[n] = 1 for envs whose request will need a frame, 0 for the
 * others (want_frame may be NULL when no source wants frames; the caller
 * may set more flags afterwards). */
void gnarl_guidance_draw(struct gnarl_guidance *g, const int32_t *actions, uint8_t *want_frame);

/* After the env step, the reward plugins and the resets: see the top. */
void gnarl_guidance_update(struct gnarl_guidance *g, const struct gnarl_guidance_step *step);

/* (N) source k's reward term of the last draw (0 where no bonus);
 * borrowed, overwritten by the next draw. */
const float *gnarl_guidance_bonus(const struct gnarl_guidance *g, uint32_t k);

/* Write every env's advice block now (e.g. after the first resets, before
 * the first update). */
void gnarl_guidance_write_advice(const struct gnarl_guidance *g, float *obs, uint32_t obs_stride,
                                 uint32_t advice_offset);

/* The counts of env n's most recently finished episode (read them after
 * the update whose dones[n] ended it). */
void gnarl_guidance_finished(const struct gnarl_guidance *g, uint32_t n,
                             struct gnarl_guidance_episode *out);

/* Every env starts a new episode (the rollout reset them all): forget the
 * suggestions, the requests in flight (their replies will be stale) and
 * the running episodes' counts.  Then write the advice blocks. */
void gnarl_guidance_reset(struct gnarl_guidance *g);

/* Iteration `iteration` starts (0-based, continuing after a restore): the
 * bonus becomes alignment_bonus * (1 - bonus_decay)^iteration. */
void gnarl_guidance_set_iteration(struct gnarl_guidance *g, uint64_t iteration);

/* Set the gauges (once per iteration; they are also set at create). */
void gnarl_guidance_publish(const struct gnarl_guidance *g);

#endif /* GNARL_GUIDANCE_H */
