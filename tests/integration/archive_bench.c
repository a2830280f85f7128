/*
 * archive_bench.c - what the archive of start states (core/learn/archive.h) does
 * and costs, without a learner: N envs of a config's env play uniformly
 * random actions through the real rollout (core/rollout.c: reward terms,
 * episode accounting, resets), with the config's archive.
 *
 *     archive_bench [-c CONFIG] [--set KEY=VALUE]... [--steps N] [--report N]
 *
 * Prints, every --report env steps: the archive's cells, rooms and the
 * milestones some env reached, the share of episodes started from the
 * archive, and env steps per second; then the archive's own time per env
 * step (besides the loads at resets, which replace resets), the bytes of a
 * cell's state and of the whole archive, and the time of a merge of the
 * archive with a copy of itself (what gnarl_archive_sync does per rank, the
 * allgather aside).
 * `--set archive.start_prob=0` gives the same walk with normal starts only
 * (cells recorded, never started from): the reach of plain random play.
 * A program that prints numbers, not a test (the suite runs a short one).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive.h"
#include "config.h"
#include "episode.h"
#include "error.h"
#include "plugin_host.h"
#include "registry.h"
#include "rng.h"
#include "rollout.h"
#include "term.h"
#include "value.h"

#define MAX_TERMS 32
#define MAX_SETS 64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct bench {
	struct gnarl_config *cfg;
	struct gnarl_registry *reg;
	struct gnarl_plugin_host *hosts[MAX_TERMS + 1];
	const struct gnarl_env_ops *ops;
	void *env;
	struct gnarl_rollout_reward rewards[MAX_TERMS];
	uint32_t K, N;
	struct gnarl_rollout *ro;
	struct gnarl_archive *archive;
};

static void *make(struct bench *b, const struct gnarl_registry_entry *e, uint32_t slot,
                  char err[GNARL_ERR_SIZE])
{
	struct gnarl_host_context ctx = {.config = b->cfg, .world_size = 1};

	if (gnarl_registry_host(e, &ctx, &b->hosts[slot], err))
		return NULL;
	if (e->desc->kind == GNARL_KIND_ENV)
		return e->desc->ops.env->create(gnarl_plugin_host_table(b->hosts[slot]), b->N, err);
	/* A term: the instance and its per-env memory, as the trainer makes it. */
	struct gnarl_term *t = NULL;

	if (gnarl_term_create(e->desc->ops.reward, gnarl_plugin_host_table(b->hosts[slot]), b->N,
	                      &t, err))
		return NULL;
	return t;
}

static int setup(struct bench *b, const char *path, const char **sets, int n_sets,
                 char err[GNARL_ERR_SIZE])
{
	const struct gnarl_registry_entry *e;
	struct gnarl_env_spaces sp = {.size = sizeof(sp)};
	int rc = gnarl_config_load(path, sets, n_sets, &b->cfg, err);

	if (!rc)
		rc = gnarl_registry_open(b->cfg, &b->reg, err);
	if (rc)
		return rc;
	b->N = (uint32_t)gnarl_value_int(gnarl_value_at(b->cfg->root, "env.num_envs"), 16);
	e = gnarl_registry_env(b->reg);
	b->ops = e->desc->ops.env;
	if (!(b->env = make(b, e, 0, err)))
		return GNARL_ECONFIG;
	b->K = (uint32_t)gnarl_registry_count(b->reg, GNARL_KIND_REWARD);
	if (b->K > MAX_TERMS)
		return gnarl_err(err, GNARL_EINVAL, "more than %d reward terms", MAX_TERMS);
	for (uint32_t k = 0; k < b->K; k++) {
		e = gnarl_registry_get(b->reg, GNARL_KIND_REWARD, k);
		b->rewards[k] = (struct gnarl_rollout_reward){e->name, NULL, 1.0f};
		if (!(b->rewards[k].term = make(b, e, k + 1, err)))
			return GNARL_ECONFIG;
	}
	b->ops->spaces(b->env, &sp);
	struct gnarl_rollout_config rc_ = {b->N, sp.obs_dim + sp.n_actions + 1, 1, 1, 100};
	rc = gnarl_rollout_create(&rc_, b->ops, b->env, b->rewards, b->K, NULL, &b->ro, err);
	if (!rc)
		rc = gnarl_archive_create(b->cfg, gnarl_registry_env(b->reg)->name, b->ops, b->env,
		                          b->N, NULL, &b->archive, err);
	if (!rc && !b->archive)
		rc = gnarl_err(err, GNARL_EINVAL, "archive.enabled is false: set it (--set "
		                                  "archive.enabled=true)");
	gnarl_rollout_set_archive(b->ro, b->archive);
	return rc;
}

static void teardown(struct bench *b)
{
	gnarl_rollout_free(b->ro);
	gnarl_archive_free(b->archive);
	for (uint32_t k = 0; k < b->K; k++)
		gnarl_term_free(b->rewards[k].term);
	if (b->env)
		b->ops->destroy(b->env);
	for (uint32_t i = 0; i <= b->K; i++)
		gnarl_plugin_host_free(b->hosts[i]);
	gnarl_registry_free(b->reg);
	gnarl_config_free(b->cfg);
}

static void report(const struct bench *b, uint64_t steps, double seconds)
{
	struct gnarl_archive_stats st;

	gnarl_archive_stats(b->archive, &st);
	printf("%12" PRIu64 " steps  %6u cells  %4u rooms  milestones", steps, st.cells, st.rooms);
	for (unsigned k = 0; k < GNARL_MILESTONE_COUNT; k++)
		if (st.milestones >> k & 1)
			printf(" %s", gnarl_episode_milestone_name(k));
	printf("%s  %.2f of %" PRIu64 " episodes from the archive  %.0f steps/s\n",
	       st.milestones ? "" : " -",
	       st.starts ? (double)st.archive_starts / (double)st.starts : 0.0, st.starts,
	       (double)steps / seconds);
	fflush(stdout);
}

/* A merge of the archive with a copy of itself: its time. */
static double merge_seconds(struct bench *b)
{
	size_t len = gnarl_archive_message_size(b->archive), lens[2] = {len, len};
	uint8_t *two = malloc(2 * len);
	char err[GNARL_ERR_SIZE];
	double t0, t;

	if (!two)
		return -1.0;
	gnarl_archive_message(b->archive, two, len);
	memcpy(two + len, two, len);
	t0 = now();
	if (gnarl_archive_merge(b->archive, two, lens, 2, err))
		fprintf(stderr, "archive_bench: %s\n", err);
	t = now() - t0;
	free(two);
	return t;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *sets[MAX_SETS];
	uint64_t steps = 1000000, every = 100000, done = 0, iteration_steps;
	struct bench b = {0};
	struct gnarl_archive_stats st;
	char err[GNARL_ERR_SIZE] = "";
	struct gnarl_rng rng;
	int n_sets = 0, rc;
	int32_t *actions;
	double t0, t, in_archive = 0.0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--set") && i + 1 < argc && n_sets < MAX_SETS)
			sets[n_sets++] = argv[++i];
		else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
			steps = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--report") && i + 1 < argc)
			every = strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: archive_bench [-c CONFIG] [--set KEY=VALUE]... "
			                "[--steps N] [--report N]\n");
			return 2;
		}
	}
	rc = setup(&b, path, sets, n_sets, err);
	if (rc) {
		fprintf(stderr, "archive_bench: %s\n", err);
		teardown(&b);
		return 1;
	}
	actions = calloc(b.N, sizeof(*actions));
	gnarl_rng_seed(&rng, 12345);
	iteration_steps = 256 * (uint64_t)b.N;  /* archive_begin as often as training would */
	gnarl_rollout_reset_all(b.ro);
	t0 = now();
	while (done < steps && actions) {
		const uint32_t A = gnarl_rollout_spaces(b.ro)->n_actions;
		t = now();
		if (done % iteration_steps == 0) {
			gnarl_archive_end(b.archive);
			gnarl_archive_begin(b.archive, done);
		}
		in_archive += now() - t;
		for (uint32_t n = 0; n < b.N; n++)
			actions[n] = (int32_t)gnarl_rng_below(&rng, A);
		gnarl_rollout_step(b.ro, actions);
		t = now();
		gnarl_archive_observe(b.archive, gnarl_rollout_states(b.ro));
		in_archive += now() - t;
		done += b.N;
		if (done % every < b.N)
			report(&b, done, now() - t0);
	}
	gnarl_archive_stats(b.archive, &st);
	printf("the archive's bookkeeping (observe, weights, eviction, gauges): %.0f ns per env "
	       "step\n", done ? 1e9 * in_archive / (double)done : 0.0);
	printf("state bytes per cell %zu, archive %zu bytes (%u cells), merge with a copy "
	       "%.2f ms\n", st.state_bytes, st.bytes, st.cells, 1e3 * merge_seconds(&b));
	free(actions);
	teardown(&b);
	return 0;
}
