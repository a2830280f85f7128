/*
 * rollout.c - stepping N envs through the env plugin ops (see rollout.h).
 *
 * One step: the caller's pool runs step_range for disjoint env ranges;
 * each range does, in its worker: keep the previous game states, the env
 * step, every reward term's compute, the weighted total, episode
 * accounting, and for envs that finished: keep the final observation,
 * close the episode record, reset (seed from run seed, env, episode
 * number) and start every term's episode (its memory zeroed, then its
 * episode_start: gnarl_term_episode_start).  Nothing in a range reads
 * another range's envs, so ranges may run on any thread in any order.
 *
 * With LLM guidance (G > 0 sources), the step is wrapped on the caller's
 * thread: gnarl_guidance_draw before the ranges (the alignment bonus of
 * the actions, known before the env steps, becomes terms K..K+G-1 of the
 * step, accounted like the reward plugins' terms; want_frame marks the
 * envs whose frame a request needs), gnarl_guidance_update after them
 * (replies, new requests, the advice blocks of the rows the policy reads
 * next).  Without guidance nothing of it runs and the advice blocks stay
 * the zeros they were allocated as.
 *
 * Invariants: all arrays are allocated at create (one slab for the
 * floats); the io struct is filled once, only io.actions changes per step.
 */
#include "rollout.h"

#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "episode.h"
#include "error.h"
#include "guidance.h"
#include "pool.h"
#include "rng.h"
#include "term.h"

struct gnarl_rollout {
	uint32_t N, O, K, G, threads;         /* G: guidance terms, after the K */
	uint64_t seed;
	const struct gnarl_env_ops *ops;
	void *env;
	struct gnarl_env_spaces spaces;
	struct gnarl_rollout_reward *rewards; /* (K) */
	struct gnarl_pool *pool;
	struct gnarl_episode *episodes;
	struct gnarl_env_io io;
	float *slab;
	float *obs, *final_obs;               /* (N, O); obs: own_obs or the caller's rows */
	float *own_obs;
	float *env_rewards, *total;           /* (N) */
	float *terms;                         /* (K + G, N) weighted terms of the step */
	uint8_t *dones, *want_frame;          /* (N) */
	uint8_t *frames;                      /* (N, GNARL_FRAME_BYTES) or NULL */
	struct gnarl_guidance *guidance;      /* borrowed; NULL when G = 0 */
	struct gnarl_archive *archive;        /* borrowed; NULL: normal starts only */
	struct gnarl_game_state *states, *prev; /* (N) each, or NULL */
	struct gnarl_episode_record *records; /* (N) */
};

uint64_t gnarl_rollout_reset_seed(uint64_t seed, uint32_t n, uint64_t episode)
{
	/* The constant keeps env streams apart from plugin-slot streams. */
	return gnarl_rng_derive(gnarl_rng_derive(seed ^ 0x656e762d72657365ull, n), episode);
}

static const struct gnarl_game_state *state_of(const struct gnarl_rollout *r, uint32_t n)
{
	return r->states ? &r->states[n] : NULL;
}

/* A new episode in env n: reset (or a start from the archive), terms'
 * episode_start, accounting. */
static void start_episode(struct gnarl_rollout *r, uint32_t n)
{
	uint64_t number = gnarl_episode_number(r->episodes, n);
	uint64_t seed = gnarl_rollout_reset_seed(r->seed, n, number);

	if (!gnarl_archive_start(r->archive, &r->io, n, seed))
		r->ops->reset(r->env, &r->io, n, seed);
	for (uint32_t k = 0; k < r->K; k++)
		gnarl_term_episode_start(r->rewards[k].term, n, state_of(r, n));
	gnarl_episode_begin(r->episodes, n, state_of(r, n));
}

static void step_range(struct gnarl_rollout *r, uint32_t first, uint32_t count)
{
	const uint32_t N = r->N, O = r->O;

	if (r->states)
		memcpy(r->prev + first, r->states + first, count * sizeof(*r->states));
	r->ops->step(r->env, &r->io, first, count);
	for (uint32_t k = 0; k < r->K; k++) {
		float *out = r->terms + (size_t)k * N;
		const float w = r->rewards[k].weight;
		gnarl_term_compute(r->rewards[k].term, first, count, r->prev, r->states, r->io.actions,
		                   out);
		for (uint32_t n = first; n < first + count; n++)
			out[n] *= w;
	}
	for (uint32_t k = 0; k < r->G; k++)
		memcpy(r->terms + (size_t)(r->K + k) * N + first,
		       gnarl_guidance_bonus(r->guidance, k) + first, count * sizeof(float));
	for (uint32_t n = first; n < first + count; n++) {
		float total = r->env_rewards[n];
		for (uint32_t k = 0; k < r->K + r->G; k++)
			total += r->terms[(size_t)k * N + n];
		r->total[n] = total;
		gnarl_episode_step(r->episodes, n, total, r->env_rewards[n], r->terms + n, N,
		                   state_of(r, n));
		if (!r->dones[n] && gnarl_archive_explored(r->archive, n))
			r->dones[n] = GNARL_DONE_TRUNCATED;
		if (!r->dones[n])
			continue;
		memcpy(r->final_obs + (size_t)n * O, r->obs + (size_t)n * O, O * sizeof(float));
		gnarl_episode_end(r->episodes, n, r->dones[n], &r->records[n]);
		start_episode(r, n);
	}
}

static void step_task(void *ctx, uint32_t task, uint32_t thread)
{
	struct gnarl_rollout *r = ctx;
	uint32_t parts = r->threads < r->N ? r->threads : r->N;
	uint32_t first = (uint32_t)((uint64_t)task * r->N / parts);
	uint32_t last = (uint32_t)((uint64_t)(task + 1) * r->N / parts);

	(void)thread;
	step_range(r, first, last - first);
}

uint32_t gnarl_rollout_step(struct gnarl_rollout *r, const int32_t *actions)
{
	uint32_t parts = r->threads < r->N ? r->threads : r->N, finished = 0;

	r->io.actions = actions;
	if (r->guidance)
		gnarl_guidance_draw(r->guidance, actions, r->want_frame);
	if (parts <= 1 || gnarl_pool_threads(r->pool) <= 1)
		step_range(r, 0, r->N);
	else
		gnarl_pool_run(r->pool, step_task, r, parts);
	if (r->guidance) {
		struct gnarl_guidance_step gs = {r->dones, r->states, r->frames, r->obs, r->O,
		                                 r->spaces.obs_dim};

		gnarl_guidance_update(r->guidance, &gs);
	}
	for (uint32_t n = 0; n < r->N; n++)
		finished += r->dones[n] != 0;
	return finished;
}

void gnarl_rollout_set_archive(struct gnarl_rollout *r, struct gnarl_archive *archive)
{
	r->archive = archive;
}

void gnarl_rollout_reset_all(struct gnarl_rollout *r)
{
	memset(r->want_frame, 0, r->N);
	for (uint32_t n = 0; n < r->N; n++)
		start_episode(r, n);
	memset(r->dones, 0, r->N);
	gnarl_rollout_forget_advice(r);
}

void gnarl_rollout_forget_advice(struct gnarl_rollout *r)
{
	const uint32_t E = r->spaces.obs_dim;

	if (r->guidance) {
		gnarl_guidance_reset(r->guidance);
		gnarl_guidance_write_advice(r->guidance, r->obs, r->O, E);
		return;
	}
	for (uint32_t n = 0; n < r->N && E < r->O; n++)
		memset(r->obs + (size_t)n * r->O + E, 0, (r->O - E) * sizeof(float));
}

static int alloc_arrays(struct gnarl_rollout *r, char err[GNARL_ERR_SIZE])
{
	const size_t N = r->N, O = r->O, K = r->K + r->G;
	size_t floats = 2 * N * O + 2 * N + K * N;

	r->slab = calloc(floats, sizeof(float));
	r->dones = calloc(2 * N, 1);
	r->records = calloc(N, sizeof(*r->records));
	if (r->spaces.has_game_state) {
		r->states = calloc(2 * N, sizeof(*r->states));
		r->prev = r->states ? r->states + N : NULL;
	}
	if (gnarl_guidance_wants_frames(r->guidance)) {
		/* touched now: the first frames must not fault pages in a step */
		if ((r->frames = malloc(N * GNARL_FRAME_BYTES)))
			memset(r->frames, 0, N * GNARL_FRAME_BYTES);
	}
	if (!r->slab || !r->dones || !r->records || (r->spaces.has_game_state && !r->states) ||
	    (gnarl_guidance_wants_frames(r->guidance) && !r->frames))
		return gnarl_err(err, GNARL_ENOMEM, "rollout: out of memory for %zu envs", N);
	r->obs = r->own_obs = r->slab;
	r->final_obs = r->obs + N * O;
	r->env_rewards = r->final_obs + N * O;
	r->total = r->env_rewards + N;
	r->terms = r->total + N;
	r->want_frame = r->dones + N;
	return 0;
}

int gnarl_rollout_create(const struct gnarl_rollout_config *config,
                         const struct gnarl_env_ops *ops, void *env,
                         const struct gnarl_rollout_reward *rewards,
                         uint32_t n_rewards, struct gnarl_pool *pool,
                         struct gnarl_rollout **out, char err[GNARL_ERR_SIZE])
{
	return gnarl_rollout_create_guided(config, ops, env, rewards, n_rewards, NULL, pool, out,
	                                   err);
}

int gnarl_rollout_create_guided(const struct gnarl_rollout_config *config,
                                const struct gnarl_env_ops *ops, void *env,
                                const struct gnarl_rollout_reward *rewards,
                                uint32_t n_rewards, struct gnarl_guidance *guidance,
                                struct gnarl_pool *pool, struct gnarl_rollout **out,
                                char err[GNARL_ERR_SIZE])
{
	struct gnarl_rollout *r;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return gnarl_err(err, GNARL_ENOMEM, "rollout: out of memory");
	r->N = config->n_envs;
	r->O = config->obs_stride;
	r->K = n_rewards;
	r->seed = config->seed;
	r->threads = config->threads ? config->threads : 1;
	r->ops = ops;
	r->env = env;
	r->pool = pool;
	ops->spaces(env, &r->spaces);
	rc = GNARL_EINVAL;
	if (r->N == 0 || r->spaces.obs_dim == 0 || r->spaces.n_actions == 0) {
		gnarl_err(err, rc, "rollout: the env reports %u envs, %u observation floats and "
		                   "%u actions; all must be positive",
		          r->N, r->spaces.obs_dim, r->spaces.n_actions);
		goto fail;
	}
	if (r->O < r->spaces.obs_dim) {
		gnarl_err(err, rc, "rollout: observation stride %u is below the env's %u floats",
		          r->O, r->spaces.obs_dim);
		goto fail;
	}
	if (gnarl_guidance_count(guidance)) {
		r->guidance = guidance;
		r->G = gnarl_guidance_count(r->guidance);
		if (r->O < r->spaces.obs_dim + gnarl_guidance_advice_size(r->spaces.n_actions)) {
			gnarl_err(err, rc, "rollout: observation stride %u leaves no room for the "
			          "advice block (%u env floats + %u)", r->O, r->spaces.obs_dim,
			          gnarl_guidance_advice_size(r->spaces.n_actions));
			goto fail;
		}
	}
	r->rewards = calloc(n_rewards ? n_rewards : 1, sizeof(*r->rewards));
	if (!r->rewards) {
		rc = gnarl_err(err, GNARL_ENOMEM, "rollout: out of memory");
		goto fail;
	}
	if (n_rewards)
		memcpy(r->rewards, rewards, n_rewards * sizeof(*rewards));
	rc = alloc_arrays(r, err);
	if (rc)
		goto fail;
	rc = gnarl_episode_create(r->N, r->K + r->G, config->window ? config->window : 100,
	                          &r->episodes, err);
	if (rc)
		goto fail;
	r->io.size = sizeof(r->io);
	r->io.obs_stride = r->O;
	r->io.obs = r->obs;
	r->io.states = r->states;
	r->io.rewards = r->env_rewards;
	r->io.dones = r->dones;
	r->io.want_frame = r->want_frame;
	r->io.frames = r->frames;
	*out = r;
	return 0;
fail:
	gnarl_rollout_free(r);
	return rc;
}

void gnarl_rollout_free(struct gnarl_rollout *r)
{
	if (!r)
		return;
	gnarl_episode_free(r->episodes);
	free(r->rewards);
	free(r->slab);
	free(r->dones);
	free(r->records);
	free(r->states);
	free(r->frames);
	free(r);
}

const struct gnarl_env_spaces *gnarl_rollout_spaces(const struct gnarl_rollout *r)
{
	return &r->spaces;
}

void gnarl_rollout_set_obs_rows(struct gnarl_rollout *r, float *obs)
{
	r->obs = obs ? obs : r->own_obs;
	r->io.obs = r->obs;
}

float *gnarl_rollout_obs(struct gnarl_rollout *r)
{
	return r->obs;
}

const float *gnarl_rollout_final_obs(const struct gnarl_rollout *r)
{
	return r->final_obs;
}

const float *gnarl_rollout_rewards(const struct gnarl_rollout *r)
{
	return r->total;
}

const uint8_t *gnarl_rollout_dones(const struct gnarl_rollout *r)
{
	return r->dones;
}

const struct gnarl_game_state *gnarl_rollout_states(const struct gnarl_rollout *r)
{
	return r->states;
}

const struct gnarl_episode_record *gnarl_rollout_record(const struct gnarl_rollout *r,
                                                        uint32_t n)
{
	return &r->records[n];
}

struct gnarl_episode *gnarl_rollout_episodes(struct gnarl_rollout *r)
{
	return r->episodes;
}

uint32_t gnarl_rollout_n_rewards(const struct gnarl_rollout *r)
{
	return r->K;
}

const char *gnarl_rollout_reward_name(const struct gnarl_rollout *r, uint32_t k)
{
	return r->rewards[k].name;
}

void *gnarl_rollout_env(struct gnarl_rollout *r, const struct gnarl_env_ops **ops,
                        const struct gnarl_env_io **io)
{
	*ops = r->ops;
	*io = &r->io;
	return r->env;
}

const struct gnarl_rollout_reward *gnarl_rollout_reward(const struct gnarl_rollout *r,
                                                        uint32_t k)
{
	return &r->rewards[k];
}
