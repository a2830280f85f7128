/*
 * trainer_sync.c - the ranks of a data-parallel run agreeing on a
 * trainer's state (see trainer_sync.h).
 *
 * Entry points: gnarl_trainer_sync_create/_free, _join (starting
 * weights), _restored, _iteration (normalisers, episodes,
 * weights hash), _episodes, _stop, _report.
 *
 * Invariants: every rank combines the same gathered rows in rank order,
 * so combined numbers are identical on every rank; the buffers are
 * allocated at create, so a sync never allocates.
 */
#include "trainer_sync.h"

#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "episode.h"
#include "error.h"
#include "log.h"
#include "nn.h"
#include "ppo.h"
#include "rng.h"
#include "tensor.h"
#include "value.h"

/* A rank's row: its episodes so far, its window's count and six means
 * (return, length, rooms, dungeons, enemies, milestones), a hash of its
 * weights (two 32-bit halves), then its n_cols term means. */
#define COLS 10
/* Re-seeding a restored rank's RNG (rank 0 keeps the checkpoint's). */
#define SEED_RANK 0x72616e6b00000000ull

struct gnarl_trainer_sync {
	struct gnarl_dist *dist;
	int rank, world;
	uint32_t n_cols;
	double *rows; /* (world + 1, COLS + n_cols): the last is ours */
	struct gnarl_episode_means means;
	double *terms; /* (n_cols) */
	uint64_t episodes;
	bool synced;
};

/* FNV-1a, 64 bits, continuing from h: a cheap fingerprint compared
 * between ranks. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* What must be the same on every rank: the weights and the normalisers'
 * statistics (each env's discounted return, ret_rms.returns, is not). */
static uint64_t learner_hash(struct gnarl_nn *nn, struct gnarl_ppo *ppo)
{
	struct gnarl_tensor v[8];
	uint32_t n = gnarl_ppo_tensors(ppo, v, 8);
	uint64_t h =
	    fnv1a(0xcbf29ce484222325ull, gnarl_nn_params(nn), gnarl_nn_size(nn) * sizeof(float));

	for (uint32_t i = 0; i < n && i < 8; i++)
		if (strcmp(v[i].name, "ret_rms.returns") != 0)
			h = fnv1a(h, v[i].data, gnarl_tensor_numel(&v[i]) * sizeof(double));
	return h;
}

int gnarl_trainer_sync_create(struct gnarl_dist *dist, uint32_t n_cols,
                              struct gnarl_trainer_sync **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_trainer_sync *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s) {
		s->dist = dist;
		s->rank = gnarl_dist_rank(dist);
		s->world = gnarl_dist_size(dist);
		s->n_cols = n_cols;
		s->rows = calloc((size_t)(s->world + 1) * (COLS + n_cols), sizeof(double));
		s->terms = calloc(n_cols + 1, sizeof(double));
	}
	if (!s || !s->rows || !s->terms) {
		gnarl_trainer_sync_free(s);
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	}
	*out = s;
	return 0;
}

void gnarl_trainer_sync_free(struct gnarl_trainer_sync *s)
{
	if (!s)
		return;
	free(s->rows);
	free(s->terms);
	free(s);
}

void gnarl_trainer_sync_join(struct gnarl_trainer_sync *s, struct gnarl_nn *nn)
{
	/* The same seed gives the same weights on the same machine; on
	 * different CPUs or BLAS builds it may not. */
	gnarl_dist_bcast_f32(s->dist, gnarl_nn_params(nn), gnarl_nn_size(nn));
}

void gnarl_trainer_sync_restored(struct gnarl_trainer_sync *s, struct gnarl_ppo *ppo,
                                 struct gnarl_episode *ep, struct gnarl_rng *rng)
{
	struct gnarl_tensor v[8];
	uint32_t n;

	gnarl_ppo_rebase_stats(ppo);
	if (s->rank == 0)
		return;
	n = gnarl_episode_tensors(ep, v, 8);
	for (uint32_t i = 0; i < n && i < 8; i++)
		if (!strcmp(v[i].name, "episode.total") || !strcmp(v[i].name, "episode.window_pos"))
			memset(v[i].data, 0, gnarl_tensor_numel(&v[i]) * sizeof(uint64_t));
	gnarl_rng_seed(rng, gnarl_rng_derive(rng->s[0] ^ rng->s[3], SEED_RANK + (uint64_t)s->rank));
}

/* Every rank's rows -> the run's count and means (weighted by count). */
static void combine(struct gnarl_trainer_sync *s, const double *all, uint64_t iteration)
{
	const size_t V = COLS + s->n_cols;
	struct gnarl_episode_means *m = &s->means;
	double total = 0.0, count = 0.0, sum[6] = {0};

	memset(s->terms, 0, s->n_cols * sizeof(double));
	for (int r = 0; r < s->world; r++) {
		const double *row = all + (size_t)r * V;
		if (row[8] != all[8] || row[9] != all[9])
			gnarl_dist_abort(
			    s->dist, GNARL_EXIT_FAILURE,
			    "after iteration %llu the weights or normalisers of rank %d "
			    "differ from rank 0's: the ranks no longer train one "
			    "network (do they run the same gnarl build on the same "
			    "kind of CPU?)",
			    (unsigned long long)iteration, r);
		total += row[0];
		count += row[1];
		for (int i = 0; i < 6; i++)
			sum[i] += row[1] * row[2 + i];
		for (uint32_t k = 0; k < s->n_cols; k++)
			s->terms[k] += row[1] * row[COLS + k];
	}
	memset(m, 0, sizeof(*m));
	m->count = (uint32_t)count;
	m->terms = s->terms;
	if (count > 0.0) {
		m->ret = sum[0] / count;
		m->length = sum[1] / count;
		m->rooms = sum[2] / count;
		m->dungeons = sum[3] / count;
		m->enemies_killed = sum[4] / count;
		m->milestones = sum[5] / count;
		for (uint32_t k = 0; k < s->n_cols; k++)
			s->terms[k] /= count;
	}
	s->episodes = (uint64_t)total;
	s->synced = true;
}

void gnarl_trainer_sync_iteration(struct gnarl_trainer_sync *s, struct gnarl_ppo *ppo,
                                  struct gnarl_nn *nn, struct gnarl_episode *ep, uint64_t iteration)
{
	const size_t V = COLS + s->n_cols;
	double *mine = s->rows + (size_t)s->world * V;
	struct gnarl_episode_means e;
	uint64_t h;

	gnarl_ppo_merge_stats(ppo);
	h = learner_hash(nn, ppo);
	gnarl_episode_means(ep, &e);
	mine[0] = (double)gnarl_episode_total(ep);
	mine[1] = e.count;
	mine[2] = e.ret;
	mine[3] = e.length;
	mine[4] = e.rooms;
	mine[5] = e.dungeons;
	mine[6] = e.enemies_killed;
	mine[7] = e.milestones;
	mine[8] = (double)(h >> 32);
	mine[9] = (double)(h & 0xffffffffu);
	for (uint32_t k = 0; k < s->n_cols; k++)
		mine[COLS + k] = e.count ? e.terms[k] : 0.0;
	gnarl_dist_allgather_f64(s->dist, mine, V, s->rows);
	combine(s, s->rows, iteration);
}

bool gnarl_trainer_sync_episodes(const struct gnarl_trainer_sync *s, uint64_t *episodes,
                                 struct gnarl_episode_means *means)
{
	if (!s || !s->synced)
		return false;
	if (episodes)
		*episodes = s->episodes;
	if (means)
		*means = s->means;
	return true;
}

bool gnarl_trainer_sync_stop(struct gnarl_trainer_sync *s, volatile sig_atomic_t *stop)
{
	if (!gnarl_dist_any(s->dist, stop && *stop))
		return false;
	if (stop)
		*stop = 1;
	return true;
}

void gnarl_trainer_sync_report(struct gnarl_trainer_sync *s, struct gnarl_nn *nn,
                               struct gnarl_ppo *ppo, uint64_t iteration, uint64_t updates)
{
	double red = gnarl_dist_reduce_seconds(s->dist);

	gnarl_log(GNARL_LOG_INFO, NULL,
	          "rank %d of %d: learner fnv1a64 %016llx (weights, normalisers) after "
	          "iteration %llu",
	          s->rank, s->world, (unsigned long long)learner_hash(nn, ppo),
	          (unsigned long long)iteration);
	if (s->rank == 0 && updates)
		gnarl_log(GNARL_LOG_INFO, NULL,
		          "gradient allreduce: %.3f ms per minibatch update (%zu floats, %llu "
		          "updates, %.2f s in all; waits for slower ranks included)",
		          1e3 * red / (double)updates, gnarl_nn_size(nn),
		          (unsigned long long)updates, red);
}
