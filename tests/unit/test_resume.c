/*
 * test_resume.c - core/resume.c on real trainers (cartpole and overworld
 * plugins from GNARL_PLUGIN_PATH) saving into a temporary local store:
 * a restored trainer continues exactly as the saved one did; a changed
 * env count restores the learner and resets the envs; a checkpoint
 * missing a learner tensor is refused with the learner untouched;
 * reward-term columns follow their names when terms are added, removed
 * or reordered; an env without state ops starts new episodes, one with
 * them continues its running ones; which URI wins; a resumed run gets a
 * new directory.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH / FTW_PHYS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "checkpoint.h"
#include "config.h"
#include "episode.h"
#include "error.h"
#include "log.h"
#include "nn.h"
#include "resume.h"
#include "rollout.h"
#include "storage.h"
#include "trainer.h"
#include "value.h"

#define CARTPOLE  GNARL_SOURCE_DIR "/configs/cartpole.yaml"
#define OVERWORLD GNARL_SOURCE_DIR "/configs/env.yaml"
#define MAX_SETS  24

static char dir[64];
static char err[GNARL_ERR_SIZE];

struct run {
	struct gnarl_config *cfg;
	struct gnarl_trainer *t;
	struct gnarl_resume *r;
};

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/gnarl-resume-XXXXXX");
	assert_non_null(mkdtemp(dir));
	gnarl_log_set_level(GNARL_LOG_WARN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* A trainer on `config` in run directory <dir>/<name>, with extra sets. */
static struct run make(const char *config, const char *name, const char *const *extra)
{
	static char storage[128], rname[128];
	const char *sets[MAX_SETS] = {
	    "ppo.blas_threads=1", "env.threads=1", "metrics.episodes=false",
	    "checkpoint.every=0", storage,         rname};
	struct gnarl_trainer_options opt = {.quiet = true};
	int n = 6;
	struct run r = {0};

	snprintf(storage, sizeof(storage), "run.storage=%s", dir);
	snprintf(rname, sizeof(rname), "run.name=%s", name);
	for (; extra && *extra && n < MAX_SETS; extra++)
		sets[n++] = *extra;
	if (gnarl_config_load(config, sets, n, &r.cfg, err))
		fail_msg("config: %s", err);
	if (gnarl_trainer_create(r.cfg, &opt, &r.t, err))
		fail_msg("trainer: %s (is GNARL_PLUGIN_PATH set?)", err);
	if (gnarl_resume_create(r.t, r.cfg, NULL, 0, &r.r, err))
		fail_msg("resume: %s", err);
	return r;
}

static void drop(struct run *r)
{
	gnarl_resume_free(r->r);
	gnarl_trainer_free(r->t);
	gnarl_config_free(r->cfg);
}

static void iterate(struct run *r, int n)
{
	struct gnarl_trainer_iteration it;

	for (int i = 0; i < n; i++)
		gnarl_trainer_iterate(r->t, &it);
}

static char *save(struct run *r)
{
	char *uri = NULL;

	if (gnarl_resume_save(r->r, &uri, err))
		fail_msg("save: %s", err);
	return uri;
}

static void restore(struct run *r, const char *uri)
{
	struct gnarl_resume_point *p = NULL;

	if (gnarl_resume_open(r->cfg, uri, NULL, &p, err))
		fail_msg("open %s: %s", uri, err);
	if (gnarl_resume_restore(r->r, p, err))
		fail_msg("restore %s: %s", uri, err);
	gnarl_resume_point_free(p);
}

static float *params_copy(struct run *r)
{
	struct gnarl_nn *nn = gnarl_trainer_nn(r->t);
	size_t bytes = gnarl_nn_size(nn) * sizeof(float);
	float *p = malloc(bytes);

	memcpy(p, gnarl_nn_params(nn), bytes);
	return p;
}

static void assert_same_params(struct run *a, struct run *b)
{
	struct gnarl_nn *na = gnarl_trainer_nn(a->t), *nb = gnarl_trainer_nn(b->t);

	assert_int_equal(gnarl_nn_size(na), gnarl_nn_size(nb));
	assert_memory_equal(gnarl_nn_params(na), gnarl_nn_params(nb),
	                    gnarl_nn_size(na) * sizeof(float));
}

/* Saved after 3 iterations, restored into a fresh trainer: 3 more
 * iterations of each give the same weights, counters and episodes, bit
 * for bit (the envs continue mid-episode from their saved states). */
static void test_exact_continuation(void **state)
{
	const char *sets[] = {"ppo.total_steps=20480", "ppo.normalize_obs=true",
	                      "ppo.normalize_reward=true", NULL};
	struct run a = make(CARTPOLE, "exact_a", sets), b;
	char *uri;

	(void)state;
	gnarl_trainer_start(a.t);
	iterate(&a, 3);
	uri = save(&a);
	b = make(CARTPOLE, "exact_b", sets);
	restore(&b, uri);
	assert_int_equal(gnarl_trainer_iteration_count(b.t), 3);
	assert_same_params(&a, &b);
	iterate(&a, 3);
	iterate(&b, 3);
	assert_same_params(&a, &b);
	assert_int_equal(gnarl_trainer_env_steps(b.t), 6 * 512);
	assert_int_equal(gnarl_trainer_episodes(b.t), gnarl_trainer_episodes(a.t));
	assert_memory_equal(gnarl_rollout_obs(gnarl_trainer_rollout(a.t)),
	                    gnarl_rollout_obs(gnarl_trainer_rollout(b.t)), 4 * 7 * sizeof(float));
	free(uri);
	drop(&a);
	drop(&b);
}

/* 4 -> 8 envs: the learner is restored, the per-env state is not (new
 * episodes, numbered from 0), and the plan follows the new batch size. */
static void test_more_envs(void **state)
{
	const char *sets_a[] = {"ppo.total_steps=20480", NULL};
	const char *sets_b[] = {"ppo.total_steps=20480", "env.num_envs=8", NULL};
	struct run a = make(CARTPOLE, "envs_a", sets_a), b;
	struct gnarl_episode *ep;
	float *saved;
	char *uri;

	(void)state;
	gnarl_trainer_start(a.t);
	iterate(&a, 4);
	uri = save(&a);
	saved = params_copy(&a);
	b = make(CARTPOLE, "envs_b", sets_b);
	restore(&b, uri);
	assert_memory_equal(gnarl_nn_params(gnarl_trainer_nn(b.t)), saved,
	                    gnarl_nn_size(gnarl_trainer_nn(b.t)) * sizeof(float));
	assert_int_equal(gnarl_trainer_iteration_count(b.t), 4);
	assert_int_equal(gnarl_trainer_env_steps(b.t), 4 * 512);
	assert_int_equal(gnarl_trainer_episodes(b.t), gnarl_trainer_episodes(a.t));
	ep = gnarl_rollout_episodes(gnarl_trainer_rollout(b.t));
	for (uint32_t n = 0; n < 8; n++)
		assert_int_equal(gnarl_episode_number(ep, n), 0);
	/* (20480 - 2048) / (8 x 128) = 18 more iterations. */
	assert_int_equal(gnarl_trainer_total_iterations(b.t), 4 + 18);
	free(saved);
	free(uri);
	drop(&a);
	drop(&b);
}

/* A checkpoint that lacks a learner tensor is refused before anything is
 * copied: the new trainer keeps its own weights. */
static void test_missing_tensor_refused(void **state)
{
	const char *sets[] = {"ppo.total_steps=20480", NULL};
	struct run a = make(CARTPOLE, "miss_a", sets), b;
	struct gnarl_tensor t[128];
	struct gnarl_storage *st;
	struct gnarl_resume_point *p = NULL;
	const char *actions[] = {"LEFT", "RIGHT"};
	struct gnarl_manifest_info info = {.iteration = 7,
	                                   .obs_size = 4,
	                                   .n_actions = 2,
	                                   .action_names = actions,
	                                   .env_plugin = "cartpole"};
	uint32_t n, k = 0;
	float *before;
	char path[256];

	(void)state;
	gnarl_trainer_start(a.t);
	iterate(&a, 1);
	n = gnarl_trainer_tensors(a.t, t, 128);
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(t[i].name, "adam.step") != 0)
			t[k++] = t[i];
	assert_int_equal(gnarl_storage_open(NULL, dir, &st, err), 0);
	info.config = a.cfg->root;
	assert_int_equal(gnarl_checkpoint_save(st, "partial", t, k, &info, NULL, NULL, err), 0);
	gnarl_storage_close(st);
	b = make(CARTPOLE, "miss_b", sets);
	before = params_copy(&b);
	snprintf(path, sizeof(path), "%s/partial/checkpoints/checkpoint_000007", dir);
	assert_int_equal(gnarl_resume_open(b.cfg, path, NULL, &p, err), 0);
	assert_int_equal(gnarl_resume_restore(b.r, p, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "adam.step"));
	assert_memory_equal(gnarl_nn_params(gnarl_trainer_nn(b.t)), before,
	                    gnarl_nn_size(gnarl_trainer_nn(b.t)) * sizeof(float));
	assert_int_equal(gnarl_trainer_iteration_count(b.t), 0);
	gnarl_resume_point_free(p);
	free(before);
	drop(&a);
	drop(&b);
}

static const double *window_terms(struct run *r, uint64_t *rows, uint64_t *cols)
{
	struct gnarl_tensor t[8];

	gnarl_episode_tensors(gnarl_rollout_episodes(gnarl_trainer_rollout(r->t)), t, 8);
	assert_string_equal(t[3].name, "episode.window_terms");
	*rows = t[3].shape[0];
	*cols = t[3].shape[1];
	return t[3].data;
}

/* Terms are matched by name: [room_discovery, movement] saved, restored as
 * [movement, dungeon_entry, room_discovery]: each column of the episode
 * window follows its term, the new one is zero. */
static void test_terms_by_name(void **state)
{
	const char *common[] = {"env.num_envs=4",
	                        "ppo.rollout_steps=64",
	                        "ppo.minibatch_size=64",
	                        "ppo.epochs=1",
	                        "policy.hidden=[16]",
	                        "env.params.max_steps=20",
	                        "ppo.total_steps=100000",
	                        NULL,
	                        NULL,
	                        NULL,
	                        NULL};
	const char *a_sets[] = {"rewards=[{plugin: room_discovery}, {plugin: movement}]"};
	const char *b_sets[] = {"rewards=[{plugin: movement}, {plugin: dungeon_entry}, "
	                        "{plugin: room_discovery}]"};
	struct run a, b;
	const double *wa, *wb;
	uint64_t ra, ca, rb, cb;
	char *uri;

	(void)state;
	common[7] = a_sets[0];
	a = make(OVERWORLD, "terms_a", common);
	gnarl_trainer_start(a.t);
	iterate(&a, 2);
	uri = save(&a);
	common[7] = b_sets[0];
	b = make(OVERWORLD, "terms_b", common);
	restore(&b, uri);
	wa = window_terms(&a, &ra, &ca);
	wb = window_terms(&b, &rb, &cb);
	assert_int_equal(ca, 2);
	assert_int_equal(cb, 3);
	assert_int_equal(ra, rb);
	bool paid = false;
	for (uint64_t i = 0; i < ra * ca; i++)
		paid = paid || wa[i] != 0.0;
	assert_true(paid); /* episodes finished and were paid */
	for (uint64_t i = 0; i < ra; i++) {
		assert_true(wb[i * 3 + 0] == wa[i * 2 + 1]);
		assert_true(wb[i * 3 + 1] == 0.0);
		assert_true(wb[i * 3 + 2] == wa[i * 2 + 0]);
	}
	free(uri);
	drop(&a);
	drop(&b);
}

/* Episode lengths of the running episodes (word 2 of episode.running). */
static void running_lengths(struct run *r, uint64_t *out, uint32_t n)
{
	struct gnarl_tensor t[2];

	gnarl_episode_running_tensors(gnarl_rollout_episodes(gnarl_trainer_rollout(r->t)), t, 2);
	assert_int_equal(t[0].shape[0], n);
	for (uint32_t i = 0; i < n; i++)
		out[i] = ((const uint64_t *)t[0].data)[i * GNARL_EPISODE_RUNNING_WORDS + 2];
}

/* An env without state ops (the fixture env, episodes of 1000 steps) is
 * reset on restore: the running episodes start again at length 0, while
 * the learner and the episode numbers are restored.  Cartpole, which has
 * them, keeps its running episodes' lengths. */
static void test_reset_without_state_ops(void **state)
{
	const char *sets[] = {"env.plugin=" GNARL_FIXTURE_DIR "/fixture_env.so",
	                      "env.params={length: 1000}", "ppo.total_steps=20480", NULL};
	struct run a = make(CARTPOLE, "nostate_a", sets), b;
	uint64_t la[4], lb[4];
	char *uri;

	(void)state;
	gnarl_trainer_start(a.t);
	iterate(&a, 2);
	running_lengths(&a, la, 4);
	assert_int_equal(la[0], 256); /* 2 x 128 steps, no episode ended */
	uri = save(&a);
	b = make(CARTPOLE, "nostate_b", sets);
	restore(&b, uri);
	assert_same_params(&a, &b);
	assert_int_equal(gnarl_trainer_iteration_count(b.t), 2);
	running_lengths(&b, lb, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(lb[i], 0);
	free(uri);
	drop(&a);
	drop(&b);
}

static void test_running_episodes_continue(void **state)
{
	const char *sets[] = {"ppo.total_steps=20480", NULL};
	struct run a = make(CARTPOLE, "cont_a", sets), b;
	uint64_t la[4], lb[4];
	bool mid = false;
	char *uri;

	(void)state;
	gnarl_trainer_start(a.t);
	iterate(&a, 2);
	running_lengths(&a, la, 4);
	uri = save(&a);
	b = make(CARTPOLE, "cont_b", sets);
	restore(&b, uri);
	running_lengths(&b, lb, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(lb[i], la[i]);
		mid = mid || la[i] > 0;
	}
	assert_true(mid);
	free(uri);
	drop(&a);
	drop(&b);
}

static void test_uri_precedence(void **state)
{
	struct gnarl_config *cfg;
	const char *sets[] = {"restore=from_config"};
	const char *source;

	(void)state;
	assert_int_equal(gnarl_config_load(CARTPOLE, sets, 1, &cfg, err), 0);
	unsetenv("RESTORE_CHECKPOINT");
	assert_string_equal(gnarl_resume_uri(cfg, NULL, &source), "from_config");
	setenv("RESTORE_CHECKPOINT", "from_env", 1);
	assert_string_equal(gnarl_resume_uri(cfg, NULL, &source), "from_env");
	assert_string_equal(source, "RESTORE_CHECKPOINT");
	assert_string_equal(gnarl_resume_uri(cfg, "from_flag", &source), "from_flag");
	setenv("RESTORE_CHECKPOINT", "", 1);
	assert_string_equal(gnarl_resume_uri(cfg, "", &source), "from_config");
	unsetenv("RESTORE_CHECKPOINT");
	gnarl_config_free(cfg);
	assert_int_equal(gnarl_config_load(CARTPOLE, NULL, 0, &cfg, err), 0);
	assert_null(gnarl_resume_uri(cfg, NULL, &source));
	gnarl_config_free(cfg);
}

/* Resuming into a run directory that exists picks <name>-from<iteration>,
 * then -2, ... */
static void test_new_run_directory(void **state)
{
	const char *sets[] = {"ppo.total_steps=20480", NULL};
	struct run a = make(CARTPOLE, "dirs", sets), b;
	struct gnarl_resume_point *p = NULL;
	char *uri;

	(void)state;
	gnarl_trainer_start(a.t);
	iterate(&a, 2);
	uri = save(&a);
	for (int k = 0; k < 2; k++) {
		struct gnarl_config *cfg;
		char storage[128];
		const char *s[] = {storage, "run.name=dirs"};

		snprintf(storage, sizeof(storage), "run.storage=%s", dir);
		assert_int_equal(gnarl_config_load(CARTPOLE, s, 2, &cfg, err), 0);
		assert_int_equal(gnarl_resume_open(cfg, uri, NULL, &p, err), 0);
		assert_int_equal(gnarl_resume_new_run_name(cfg, p, err), 0);
		assert_string_equal(gnarl_value_string(gnarl_value_at(cfg->root, "run.name"), ""),
		                    k == 0 ? "dirs-from2" : "dirs-from2-2");
		if (k == 0) {
			b = make(CARTPOLE, "dirs-from2", sets); /* takes the name */
			drop(&b);
		}
		gnarl_resume_point_free(p);
		gnarl_config_free(cfg);
	}
	free(uri);
	drop(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_exact_continuation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_more_envs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_tensor_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_terms_by_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_without_state_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_running_episodes_continue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uri_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_run_directory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
