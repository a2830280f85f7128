/*
 * trainer_parts.c - the trainer's checkpointed state (the network, PPO,
 * episode statistics, the run RNG and its counters as tensors) and the
 * parts that resume and the commands reach (see trainer.h).
 */
#include "trainer_internal.h"

#include <cblas.h>
#include <string.h>

#include "episode.h"
#include "nn.h"
#include "rollout.h"
#include "trainer_sync.h"

static void u64_tensor(struct gnarl_tensor *t, const char *name, void *data, uint64_t n)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->dtype = GNARL_DTYPE_U64;
	t->ndim = n ? 1 : 0;
	t->shape[0] = n;
	t->data = data;
}

uint32_t gnarl_trainer_tensors(struct gnarl_trainer *t, struct gnarl_tensor *out,
                               uint32_t max)
{
	uint32_t n = 0, k;

	k = gnarl_nn_tensors(t->nn, out, max);
	n += k;
	k = gnarl_ppo_tensors(t->ppo, out + (n < max ? n : max), n < max ? max - n : 0);
	n += k;
	k = gnarl_episode_tensors(gnarl_rollout_episodes(t->ro), out + (n < max ? n : max),
	                          n < max ? max - n : 0);
	n += k;
	if (n < max)
		u64_tensor(&out[n], "trainer.rng", t->rng.s, 4);
	n++;
	if (n < max)
		u64_tensor(&out[n], "trainer.iteration", &t->iteration, 0);
	n++;
	if (n < max)
		u64_tensor(&out[n], "trainer.env_steps", &t->env_steps, 0);
	n++;
	return n;
}

uint64_t gnarl_trainer_iteration_count(const struct gnarl_trainer *t)
{
	return t->iteration;
}

uint64_t gnarl_trainer_env_steps(const struct gnarl_trainer *t)
{
	return t->env_steps;
}

uint64_t gnarl_trainer_episodes(const struct gnarl_trainer *t)
{
	uint64_t n;

	return gnarl_trainer_sync_episodes(t->sync, &n, NULL)
	           ? n
	           : gnarl_episode_total(gnarl_rollout_episodes(t->ro));
}

void gnarl_trainer_episode_means(struct gnarl_trainer *t, struct gnarl_episode_means *out)
{
	if (!gnarl_trainer_sync_episodes(t->sync, NULL, out))
		gnarl_episode_means(gnarl_rollout_episodes(t->ro), out);
}

int gnarl_trainer_rank(const struct gnarl_trainer *t)
{
	return t->rank;
}

int gnarl_trainer_world_size(const struct gnarl_trainer *t)
{
	return t->world;
}

uint64_t gnarl_trainer_total_iterations(const struct gnarl_trainer *t)
{
	return t->total_iters;
}

const struct gnarl_registry *gnarl_trainer_registry(const struct gnarl_trainer *t)
{
	return t->reg;
}

struct gnarl_guidance *gnarl_trainer_guidance(struct gnarl_trainer *t)
{
	return t->guid;
}

struct gnarl_archive *gnarl_trainer_archive(struct gnarl_trainer *t)
{
	return t->archive;
}

struct gnarl_nn *gnarl_trainer_nn(struct gnarl_trainer *t)
{
	return t->nn;
}

struct gnarl_ppo *gnarl_trainer_ppo(struct gnarl_trainer *t)
{
	return t->ppo;
}

struct gnarl_rollout *gnarl_trainer_rollout(struct gnarl_trainer *t)
{
	return t->ro;
}

struct gnarl_rng *gnarl_trainer_rng(struct gnarl_trainer *t)
{
	return &t->rng;
}

struct gnarl_storage *gnarl_trainer_storage(struct gnarl_trainer *t)
{
	return t->st;
}

const char *gnarl_trainer_run_prefix(const struct gnarl_trainer *t)
{
	return t->run_prefix;
}

struct gnarl_metrics *gnarl_trainer_metrics(struct gnarl_trainer *t)
{
	return t->metrics;
}

struct gnarl_train_console *gnarl_trainer_console(struct gnarl_trainer *t)
{
	return t->console;
}

bool gnarl_trainer_has_frames(const struct gnarl_trainer *t)
{
	return t->has_frames;
}

uint32_t gnarl_trainer_learner_threads(const struct gnarl_trainer *t)
{
	int blas = openblas_get_num_threads();

	if (t->learner_threads > 1)
		return t->learner_threads;
	return blas > 1 ? (uint32_t)blas : 1;
}
