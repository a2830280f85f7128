/*
 * trainer.c - one process's training loop (see trainer.h).
 *
 * Entry points: gnarl_trainer_create (config -> plugins, network, PPO,
 * rollout, run directory, metrics), gnarl_trainer_start/restored,
 * gnarl_trainer_iterate (the hot loop), gnarl_trainer_run.  Reporting an
 * iteration is trainer_report.c; the checkpointed state and the parts
 * others reach, trainer_parts.c.
 *
 * Invariants: everything is allocated in create; an iteration never
 * allocates and never fails.  The run RNG (actions, minibatch shuffles)
 * is used only on this thread, in a fixed order, and every env has its own
 * seeded stream, so a run depends only on its seed and config (and,
 * data-parallel, the process count: see sync()).
 */
#include "trainer_internal.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "clock.h"
#include "config.h"
#include "dist.h"
#include "episode.h"
#include "error.h"
#include "gauges.h"
#include "guidance.h"
#include "hud.h"
#include "log.h"
#include "metrics.h"
#include "nn.h"
#include "plugin_host.h"
#include "pool.h"
#include "recorder.h"
#include "registry.h"
#include "rollout.h"
#include "storage.h"
#include "summaries.h"
#include "term.h"
#include "train_console.h"
#include "trainer_sync.h"

/* Streams of the run seed (the registry uses 1, 100+, 200+, 300+). */
#define SEED_NETWORK 10
#define SEED_RUN 11
#define SEED_GUIDANCE 12
#define SEED_RANK 0x72616e6b00000000ull /* + rank: a rank's own seed */

static const struct gnarl_value *key(const struct gnarl_trainer *t, const char *path)
{
	return gnarl_value_at(t->cfg->root, path);
}

static int64_t int_key(const struct gnarl_trainer *t, const char *path)
{
	return gnarl_value_int(key(t, path), 0);
}

static double float_key(const struct gnarl_trainer *t, const char *path)
{
	return gnarl_value_float(key(t, path), 0.0);
}

static bool bool_key(const struct gnarl_trainer *t, const char *path)
{
	return gnarl_value_bool(key(t, path), false);
}

/* ---- construction ------------------------------------------------------- */

static int open_run_dir(struct gnarl_trainer *t, char err[GNARL_ERR_SIZE])
{
	const char *root = gnarl_value_string(key(t, "run.storage"), "runs");
	const char *name = gnarl_value_string(key(t, "run.name"), "run");
	size_t len = strlen(name) + 2;
	int rc;

	t->run_prefix = malloc(len);
	if (!t->run_prefix)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	snprintf(t->run_prefix, len, "%s/", name);
	if (t->opts.no_run_dir)
		return 0;
	rc = gnarl_storage_open(t->cfg, root, &t->st, err);
	if (rc)
		return gnarl_err_prefix(err, rc, "run.storage: ");
	return 0;
}

/* The run's first file, written once its plugins and learner exist: a
 * config refused by a plugin (an env without state ops for the archive, a
 * network that does not fit) leaves no run directory behind. */
static int save_run_config(struct gnarl_trainer *t, char err[GNARL_ERR_SIZE])
{
	const char *root = gnarl_value_string(key(t, "run.storage"), "runs");
	size_t len = strlen(t->run_prefix) + sizeof("config.yaml");
	char *yaml, *k;
	int rc;

	if (!t->st || t->rank != 0)
		return 0; /* the others only write their episode summaries there */
	yaml = gnarl_value_to_yaml(t->cfg->root, false);
	k = malloc(len);
	if (!yaml || !k) {
		free(yaml);
		free(k);
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	}
	snprintf(k, len, "%sconfig.yaml", t->run_prefix);
	rc = gnarl_storage_put(t->st, k, yaml, strlen(yaml), err);
	free(yaml);
	free(k);
	if (rc)
		return gnarl_err_prefix(err, rc, "writing the run's config.yaml under %s: ", root);
	return 0;
}

static int create_plugins(struct gnarl_trainer *t, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_registry_entry *e = gnarl_registry_env(t->reg);
	int rc;

	t->env_ops = e->desc->ops.env;
	if (gnarl_registry_host(e, &t->ctx, &t->env_host, err))
		return GNARL_ECONFIG;
	err[0] = '\0';
	t->env = t->env_ops->create(gnarl_plugin_host_table(t->env_host), t->N, err);
	if (!t->env)
		return gnarl_plugin_create_failed(e->lib, e->slot, err);
	t->n_terms = (uint32_t)gnarl_registry_count(t->reg, GNARL_KIND_REWARD);
	t->terms = calloc(t->n_terms + 1, sizeof(*t->terms));
	t->rewards = calloc(t->n_terms + 1, sizeof(*t->rewards));
	if (!t->terms || !t->rewards)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < t->n_terms; i++) {
		struct term *tm = &t->terms[i];
		e = gnarl_registry_get(t->reg, GNARL_KIND_REWARD, i);
		if (gnarl_registry_host(e, &t->ctx, &tm->host, err))
			return GNARL_ECONFIG;
		rc = gnarl_term_create(e->desc->ops.reward, gnarl_plugin_host_table(tm->host), t->N,
		                       &tm->term, err);
		if (rc == GNARL_ECONFIG)
			return gnarl_plugin_create_failed(e->lib, e->slot, err);
		if (rc)
			return gnarl_err_prefix(err, rc, "%s: ", e->slot);
		snprintf(tm->metric, sizeof(tm->metric), "reward/%s", e->name);
		t->rewards[i].name = e->name;
		t->rewards[i].term = tm->term;
		t->rewards[i].weight = (float)gnarl_value_float(gnarl_value_get(e->section, "weight"),
		                                                1.0);
	}
	return 0;
}

static int network_spec(struct gnarl_trainer *t, const struct gnarl_env_spaces *sp,
                        struct gnarl_nn_spec *spec, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *hidden = key(t, "policy.hidden");
	const char *act = gnarl_value_string(key(t, "policy.activation"), "relu");
	uint32_t B = (uint32_t)int_key(t, "ppo.minibatch_size");

	memset(spec, 0, sizeof(*spec));
	if (!hidden || hidden->type != GNARL_VALUE_LIST)
		return gnarl_config_error(t->cfg, hidden, "policy.hidden", err,
		                          "expected a list of layer widths");
	spec->inputs = sp->obs_dim + sp->n_actions + 1;
	spec->n_actions = sp->n_actions;
	if (hidden->count > GNARL_NN_MAX_HIDDEN)
		return gnarl_config_error(t->cfg, hidden, "policy.hidden", err,
		                          "%zu layers; at most %d are supported", hidden->count,
		                          GNARL_NN_MAX_HIDDEN);
	spec->n_hidden = (uint32_t)hidden->count;
	for (size_t i = 0; i < hidden->count; i++)
		spec->hidden[i] = (uint32_t)gnarl_value_int(&hidden->items[i], 0);
	spec->activation = !strcmp(act, "tanh") ? GNARL_NN_TANH : GNARL_NN_RELU;
	spec->shared = bool_key(t, "policy.shared");
	spec->max_batch = B > t->N ? B : t->N;
	return 0;
}

static void ppo_config(struct gnarl_trainer *t, const struct gnarl_env_spaces *sp,
                       struct gnarl_ppo_config *c)
{
	memset(c, 0, sizeof(*c));
	c->T = t->T;
	c->N = t->N;
	c->O_env = sp->obs_dim;
	c->O = sp->obs_dim + sp->n_actions + 1;
	c->epochs = (uint32_t)int_key(t, "ppo.epochs");
	c->minibatch = (uint32_t)int_key(t, "ppo.minibatch_size");
	c->learning_rate = float_key(t, "ppo.learning_rate");
	c->lr_linear = !strcmp(gnarl_value_string(key(t, "ppo.lr_schedule"), ""), "linear");
	c->gamma = float_key(t, "ppo.gamma");
	c->gae_lambda = float_key(t, "ppo.gae_lambda");
	c->clip_coef = float_key(t, "ppo.clip_coef");
	c->value_clip = float_key(t, "ppo.value_clip");
	c->ent_coef = float_key(t, "ppo.ent_coef");
	c->vf_coef = float_key(t, "ppo.vf_coef");
	c->max_grad_norm = float_key(t, "ppo.max_grad_norm");
	c->target_kl = float_key(t, "ppo.target_kl"); /* null reads as 0: off */
	c->norm_adv = bool_key(t, "ppo.norm_adv");
	c->normalize_obs = bool_key(t, "ppo.normalize_obs");
	c->normalize_reward = bool_key(t, "ppo.normalize_reward");
	c->obs_clip = float_key(t, "ppo.obs_clip");
	c->reward_clip = float_key(t, "ppo.reward_clip");
	c->adam_eps = float_key(t, "ppo.adam_eps");
	c->threads = t->learner_threads;
	/* Worker 1 is idle while acting unless it steps envs. */
	c->overlap_values = t->learner_threads >= 2 && int_key(t, "env.threads") <= 1;
	c->dist = t->world > 1 ? t->dist : NULL; /* alone: the plain update, bit for bit */
}

/* ppo.blas_threads: the learner's threads (0: one per core OpenBLAS
 * sees).  With 2 or more the update runs on two threads: a separate
 * actor and critic each on its own, a shared network by splitting each
 * large product's rows (core/nn.h); OpenBLAS, which the largest products
 * go to, then runs single-threaded per call beside a separate actor and
 * critic and with n threads for a shared network. */
static void blas_threads(struct gnarl_trainer *t, bool shared)
{
	int64_t n = int_key(t, "ppo.blas_threads");

	if (n == 0)
		n = openblas_get_num_procs();
	t->learner_threads = n >= 2 ? 2 : 1;
	openblas_set_num_threads(n >= 2 && !shared ? 1 : (int)n);
}

/* The seed of what differs between ranks (env resets, actions and
 * shuffles, LLM draws): rank 0 keeps the run seed, so one process under
 * mpirun is a plain run. */
static uint64_t rank_seed(const struct gnarl_trainer *t, uint64_t seed)
{
	return t->rank == 0 ? seed : gnarl_rng_derive(seed, SEED_RANK + (uint64_t)t->rank);
}

/* The web HUD: what the run is, and env 0's frames through a view of the
 * env (*ops, *env on entry: the recorder's view or the env) that the
 * rollout steps in its place (*ops, *env on return: unchanged when the
 * HUD is off). */
static int watch_hud(struct gnarl_trainer *t, const struct gnarl_env_spaces *sp,
                     const struct gnarl_env_ops **ops, void **env, char err[GNARL_ERR_SIZE])
{
	const char *names[GNARL_GUIDANCE_MAX_SOURCES];
	uint32_t ttl[GNARL_GUIDANCE_MAX_SOURCES], K = gnarl_guidance_count(t->guid);
	int rc;

	for (uint32_t k = 0; k < K && k < GNARL_GUIDANCE_MAX_SOURCES; k++) {
		const struct gnarl_registry_entry *e = gnarl_registry_get(t->reg, GNARL_KIND_LLM, k);
		names[k] = gnarl_guidance_name(t->guid, k);
		ttl[k] = (uint32_t)gnarl_value_int(gnarl_value_get(e->section, "ttl"), 0);
	}
	struct gnarl_hud_run run = {gnarl_registry_env(t->reg)->name, t->N, t->T, t->total_iters,
	                            sp->n_actions, sp->action_names, K, names, ttl};

	rc = gnarl_hud_describe(t->hud, &run, err);
	return rc ? rc : gnarl_hud_watch_env(t->hud, *ops, *env, t->N, ops, env, err);
}

static int build_learner(struct gnarl_trainer *t, char err[GNARL_ERR_SIZE])
{
	struct gnarl_env_spaces sp = {0};
	struct gnarl_nn_spec spec;
	struct gnarl_ppo_config pc;
	struct gnarl_rollout_config roc;
	uint64_t seed = (uint64_t)int_key(t, "run.seed"), own = rank_seed(t, seed);
	uint32_t env_threads = (uint32_t)int_key(t, "env.threads");
	const struct gnarl_env_ops *env_ops;
	void *env;
	int rc;

	t->env_ops->spaces(t->env, &sp);
	t->has_state = sp.has_game_state;
	t->has_frames = sp.has_frames;
	rc = network_spec(t, &sp, &spec, err);
	if (rc)
		return rc;
	blas_threads(t, spec.shared);
	rc = gnarl_pool_create(env_threads > t->learner_threads ? env_threads : t->learner_threads,
	                       &t->pool, err);
	if (!rc)
		rc = gnarl_nn_create(&spec, gnarl_rng_derive(seed, SEED_NETWORK), &t->nn, err);
	if (rc)
		return rc;
	ppo_config(t, &sp, &pc);
	rc = gnarl_ppo_create(&pc, t->nn, t->pool, &t->ppo, err);
	if (rc)
		return gnarl_err_prefix(err, GNARL_ECONFIG, "%s: ",
		                        t->cfg->path ? t->cfg->path : "config");
	struct gnarl_guidance_spec gs = {t->N, sp.n_actions, sp.action_names, sp.has_game_state,
	                                 sp.has_frames, gnarl_rng_derive(own, SEED_GUIDANCE)};

	rc = t->opts.no_guidance ? 0 : gnarl_guidance_open(t->reg, &t->ctx, &gs, &t->guid, err);
	if (rc)
		return rc;
	roc = (struct gnarl_rollout_config){t->N, pc.O, own, env_threads, 100};
	env_ops = t->env_ops;
	env = t->env;
	/* videos: rank 0 of a run with a run directory */
	if (!t->opts.quiet && !t->opts.no_run_dir && t->rank == 0)
		rc = gnarl_recorder_open(t->cfg, t->st, t->run_prefix, t->env_ops, t->env, t->N,
		                         &env_ops, &env, &t->rec, err);
	if (!rc)
		rc = watch_hud(t, &sp, &env_ops, &env, err);
	if (rc)
		return rc;
	rc = gnarl_rollout_create_guided(&roc, env_ops, env, t->rewards, t->n_terms, t->guid,
	                                 t->pool, &t->ro, err);
	if (rc)
		return gnarl_err_prefix(err, rc, "env '%s': ", gnarl_registry_env(t->reg)->name);
	/* Unnormalised observations go straight into the learner's buffer:
	 * between iterations the rollout's rows are next_obs (what resets,
	 * state loads and checkpoints see), during one step t + 1's row. */
	t->direct_obs = !pc.normalize_obs;
	if (t->direct_obs)
		gnarl_rollout_set_obs_rows(t->ro, gnarl_ppo_buffer(t->ppo)->next_obs);
	gnarl_rng_seed(&t->rng, gnarl_rng_derive(own, SEED_RUN));
	/* the archive loads states into the env itself, not the HUD's view */
	rc = t->opts.no_archive ? 0
	                        : gnarl_archive_create(t->cfg, gnarl_registry_env(t->reg)->name,
	                                               t->env_ops, t->env, t->N, t->gauges,
	                                               &t->archive, err);
	gnarl_rollout_set_archive(t->ro, t->archive);
	return rc;
}

/* Episode summaries (metrics.episodes) on a background writer. */
static int open_summaries(struct gnarl_trainer *t, char err[GNARL_ERR_SIZE])
{
	uint32_t k = gnarl_guidance_count(t->guid);
	const char **names;
	int rc;

	/* metrics.episodes; ranks other than 0 have no metrics object */
	if (!t->st || (t->metrics ? !gnarl_metrics_episodes(t->metrics)
	                          : t->rank == 0 ||
	                                !gnarl_value_bool(key(t, "metrics.episodes"), true)))
		return 0;
	names = calloc(t->n_terms + k + 1, sizeof(*names));
	if (!names)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < t->n_terms; i++)
		names[i] = t->rewards[i].name;
	for (uint32_t i = 0; i < k; i++)  /* the rollout's terms after the rewards' */
		names[t->n_terms + i] = gnarl_guidance_name(t->guid, i);
	rc = gnarl_summaries_create(t->st, t->run_prefix, (uint32_t)t->rank, names, t->n_terms + k,
	                            GNARL_SUMMARIES_DEFAULT_CAPACITY, t->gauges, NULL,
	                            &t->summaries, err);
	free(names);
	return rc;
}

/* Env steps of one iteration: every rank's. */
static uint64_t batch(const struct gnarl_trainer *t)
{
	return (uint64_t)t->world * t->N * t->T;
}

/* Sizes that would only fail after the run directory exists. */
static int check_sizes(struct gnarl_trainer *t, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *mb = key(t, "ppo.minibatch_size");
	const struct gnarl_value *hidden = key(t, "policy.hidden");

	if ((uint64_t)gnarl_value_int(mb, 0) > (uint64_t)t->N * t->T)
		return gnarl_config_error(t->cfg, mb, "ppo.minibatch_size", err,
		                          "%lld is larger than the batch (ppo.rollout_steps x "
		                          "env.num_envs = %llu); lower it",
		                          (long long)gnarl_value_int(mb, 0),
		                          (unsigned long long)t->N * t->T);
	if (hidden && hidden->type == GNARL_VALUE_LIST && hidden->count > GNARL_NN_MAX_HIDDEN)
		return gnarl_config_error(t->cfg, hidden, "policy.hidden", err,
		                          "%zu layers; at most %d are supported", hidden->count,
		                          GNARL_NN_MAX_HIDDEN);
	if (t->total_iters == 0)
		return gnarl_config_error(t->cfg, key(t, "ppo.total_steps"), "ppo.total_steps", err,
		                          "fewer steps than one rollout (ppo.rollout_steps x "
		                          "env.num_envs%s = %llu); raise it",
		                          t->world > 1 ? " x processes" : "",
		                          (unsigned long long)batch(t));
	return 0;
}

int gnarl_trainer_create(struct gnarl_config *cfg, const struct gnarl_trainer_options *opts,
                         struct gnarl_trainer **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_trainer *t;
	uint64_t total;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	t->cfg = cfg;
	if (opts)
		t->opts = *opts;
	t->dist = t->opts.dist;
	t->rank = gnarl_dist_rank(t->dist);
	t->world = gnarl_dist_size(t->dist);
	t->N = (uint32_t)int_key(t, "env.num_envs");
	t->T = (uint32_t)int_key(t, "ppo.rollout_steps");
	total = t->opts.total_steps ? t->opts.total_steps : (uint64_t)int_key(t, "ppo.total_steps");
	t->total_iters = total / batch(t);
	rc = check_sizes(t, err);
	if (!rc && !t->opts.quiet)
		rc = gnarl_recorder_check(cfg, err);
	if (!rc)
		rc = gnarl_registry_open(cfg, &t->reg, err);
	if (!rc && !t->opts.no_archive)
		rc = gnarl_archive_check(cfg, gnarl_registry_env(t->reg)->name,
		                         gnarl_registry_env(t->reg)->desc->ops.env, err);
	/* before the run directory: a port in use leaves none behind */
	if (!rc && !t->opts.quiet && !t->opts.no_run_dir && t->rank == 0)
		rc = gnarl_hud_open(cfg, &t->hud, err);
	if (!rc)
		rc = gnarl_gauges_create(&t->gauges);
	if (!rc)
		rc = open_run_dir(t, err);
	if (rc)
		goto fail;
	t->run_dir = (struct gnarl_run_dir){t->st, t->run_prefix};
	t->ctx = (struct gnarl_host_context){cfg, t->gauges, t->st ? gnarl_storage_run_put : NULL,
	                                     &t->run_dir, t->rank, t->world};
	rc = create_plugins(t, err);
	if (!rc)
		rc = build_learner(t, err);
	if (!rc)
		rc = save_run_config(t, err);
	if (!rc && t->world > 1)
		rc = gnarl_trainer_sync_create(t->dist, t->n_terms + gnarl_guidance_count(t->guid),
		                               &t->sync, err);
	if (!rc && !t->opts.quiet && t->rank == 0)
		rc = gnarl_metrics_create(gnarl_config_section(cfg, "metrics"), t->st, t->run_prefix,
		                          t->st && strcmp(gnarl_storage_plugin_name(t->st), "local"),
		                          &t->metrics, err);
	if (!rc && t->metrics)
		rc = gnarl_train_console_create(cfg, t->has_state, &t->console, err);
	if (!rc)
		rc = open_summaries(t, err);
	if (rc)
		goto fail;
	*out = t;
	return 0;
fail:
	if (rc == GNARL_ENOMEM && !err[0])
		gnarl_err(err, rc, "out of memory");
	gnarl_trainer_free(t);
	return rc;
}

void gnarl_trainer_free(struct gnarl_trainer *t)
{
	if (!t)
		return;
	gnarl_rollout_free(t->ro);
	gnarl_archive_free(t->archive);
	gnarl_hud_free(t->hud);
	gnarl_recorder_free(t->rec);
	gnarl_guidance_free(t->guid);
	gnarl_ppo_free(t->ppo);
	gnarl_nn_free(t->nn);
	gnarl_pool_free(t->pool);
	for (uint32_t i = 0; t->terms && i < t->n_terms; i++) {
		gnarl_term_free(t->terms[i].term);
		gnarl_plugin_host_free(t->terms[i].host);
	}
	free(t->terms);
	free(t->rewards);
	if (t->env)
		t->env_ops->destroy(t->env);
	gnarl_plugin_host_free(t->env_host);
	gnarl_summaries_free(t->summaries);
	gnarl_train_console_free(t->console);
	gnarl_metrics_free(t->metrics);
	gnarl_storage_close(t->st);
	free(t->run_prefix);
	gnarl_gauges_free(t->gauges);
	gnarl_registry_free(t->reg);
	gnarl_trainer_sync_free(t->sync);
	free(t);
}

/* ---- the loop ----------------------------------------------------------- */

static void reset_envs(struct gnarl_trainer *t)
{
	gnarl_rollout_reset_all(t->ro);
	gnarl_ppo_set_obs(t->ppo, gnarl_rollout_obs(t->ro));
	t->start_time = gnarl_clock_monotonic();
	t->start_steps = t->env_steps;
}

/* The console counts from here (a restored run: from its iteration). */
static void start_console(struct gnarl_trainer *t)
{
	gnarl_train_console_start(t->console, t->iteration, t->total_iters, t->env_steps,
	                          batch(t));
}

void gnarl_trainer_start(struct gnarl_trainer *t)
{
	const char *root = t->st ? gnarl_storage_root(t->st) : "";
	size_t len = strlen(root);

	reset_envs(t);
	start_console(t);
	if (!t->opts.quiet && t->rank == 0)
		gnarl_log(GNARL_LOG_INFO, NULL,
		          "starting fresh: %s%s%s, env %s x %u%s, %llu iterations of %llu steps", root,
		          len && root[len - 1] != '/' ? "/" : "",
		          t->st ? t->run_prefix : "(no run directory)",
		          gnarl_registry_env(t->reg)->name, t->N,
		          t->world > 1 ? " on each process" : "", (unsigned long long)t->total_iters,
		          (unsigned long long)batch(t));
}

/* After a restore: the iterations left at this run's batch size (which
 * may differ from the saved run's). */
static void replan(struct gnarl_trainer *t)
{
	uint64_t total = t->opts.total_steps ? t->opts.total_steps
	                                     : (uint64_t)int_key(t, "ppo.total_steps");

	t->total_iters = t->iteration +
	                 (total > t->env_steps ? (total - t->env_steps) / batch(t) : 0);
}

/* After a restore, data-parallel: see gnarl_trainer_sync_restored. */
static void rejoin(struct gnarl_trainer *t)
{
	if (t->sync)
		gnarl_trainer_sync_restored(t->sync, t->ppo, gnarl_rollout_episodes(t->ro), &t->rng);
}

/* Data-parallel, before the first iteration: the ranks' configs and
 * starting weights (gnarl_trainer_sync_join).  Not in start or restored:
 * the caller may still have to learn whether every rank got that far. */
static void join(struct gnarl_trainer *t)
{
	if (t->sync && !t->joined)
		gnarl_trainer_sync_join(t->sync, t->nn);
	t->joined = true;
}

void gnarl_trainer_restored(struct gnarl_trainer *t)
{
	rejoin(t);
	reset_envs(t);
	replan(t);
	start_console(t);
}

void gnarl_trainer_continued(struct gnarl_trainer *t)
{
	rejoin(t);
	gnarl_rollout_forget_advice(t->ro);  /* saved with the run's own LLM settings */
	gnarl_ppo_normalize_obs(t->ppo, gnarl_rollout_obs(t->ro), gnarl_ppo_buffer(t->ppo)->next_obs,
	                        t->N, false);
	t->start_time = gnarl_clock_monotonic();
	t->start_steps = t->env_steps;
	replan(t);
	start_console(t);
}

void gnarl_trainer_set_hook(struct gnarl_trainer *t, gnarl_trainer_hook_fn fn, void *ctx)
{
	t->hook = fn;
	t->hook_ctx = ctx;
}

/* Episodes that ended in the last step: the window, the summaries. */
static void finished(struct gnarl_trainer *t, struct gnarl_episode *ep)
{
	for (uint32_t n = 0; n < t->N; n++) {
		struct gnarl_summaries_record sr = {.iteration = t->iteration + 1};
		if (!gnarl_rollout_dones(t->ro)[n])
			continue;
		sr.ep = gnarl_rollout_record(t->ro, n);
		if (n == 0)
			gnarl_recorder_finished(t->rec, sr.ep->ret, sr.ep->length);
		if (t->guid) {
			struct gnarl_guidance_episode ge;

			gnarl_guidance_finished(t->guid, n, &ge);
			sr.llm_calls = ge.requests;
			sr.llm_hits = ge.alignment_hits;
		}
		gnarl_episode_add(ep, sr.ep);
		gnarl_summaries_push(t->summaries, &sr);
	}
}

/* Data-parallel: every rank's archive into one (the same on every rank).
 * A merge that fails (memory) leaves each rank its own archive; training
 * goes on. */
static void merge_archives(struct gnarl_trainer *t)
{
	char err[GNARL_ERR_SIZE] = "", digest[65] = "?";
	struct gnarl_archive_stats before, after;
	double seconds = 0.0;

	gnarl_archive_stats(t->archive, &before);
	if (gnarl_archive_sync(t->archive, t->dist, &seconds, err))
		gnarl_log(GNARL_LOG_WARN, "archive", "merge skipped: %s", err);
	gnarl_gauges_set(t->gauges, "archive/merge_ms", 1e3 * seconds);
	if (gnarl_log_get_level() < GNARL_LOG_DEBUG)
		return;
	gnarl_archive_stats(t->archive, &after);
	gnarl_archive_digest(t->archive, digest);
	gnarl_log(GNARL_LOG_DEBUG, "archive", "rank %d of %d: merged after iteration %llu: %u "
	          "cells here, %u in the merge (sha256 %s, %.2f ms)", t->rank, t->world,
	          (unsigned long long)t->iteration, before.cells, after.cells, digest,
	          1e3 * seconds);
}

void gnarl_trainer_iterate(struct gnarl_trainer *t, struct gnarl_trainer_iteration *out)
{
	struct gnarl_ppo_buffer *b = gnarl_ppo_buffer(t->ppo);
	struct gnarl_episode *ep = gnarl_rollout_episodes(t->ro);
	const uint32_t N = t->N, O = gnarl_ppo_config(t->ppo)->O;
	double t0, t1, t2, reduced = gnarl_dist_reduce_seconds(t->dist);

	join(t);
	t0 = gnarl_clock_monotonic();
	gnarl_hud_arm_frame(t->hud); /* env 0's frame in the first step, if due */
	gnarl_recorder_arm(t->rec, t->iteration);
	gnarl_guidance_set_iteration(t->guid, t->iteration);
	gnarl_archive_begin(t->archive, t->env_steps);
	gnarl_ppo_begin(t->ppo);
	for (uint32_t s = 0; s < t->T; s++) {
		gnarl_ppo_act(t->ppo, s, &t->rng);
		if (t->direct_obs)
			gnarl_rollout_set_obs_rows(t->ro, s + 1 < t->T ? b->obs + (size_t)(s + 1) * N * O
			                                              : b->next_obs);
		if (gnarl_rollout_step(t->ro, b->actions + (size_t)s * N))
			finished(t, ep);
		gnarl_archive_observe(t->archive, gnarl_rollout_states(t->ro));
		gnarl_ppo_record(t->ppo, s, gnarl_rollout_rewards(t->ro), gnarl_rollout_dones(t->ro),
		                 gnarl_rollout_obs(t->ro), gnarl_rollout_final_obs(t->ro));
	}
	t1 = gnarl_clock_monotonic();
	gnarl_ppo_finish(t->ppo);
	t->iteration++;
	gnarl_ppo_update(t->ppo,
	                 gnarl_ppo_lr(gnarl_ppo_config(t->ppo), t->iteration, t->total_iters),
	                 &t->rng, &out->ppo);
	if (t->sync)
		gnarl_trainer_sync_iteration(t->sync, t->ppo, t->nn, ep, t->iteration);
	if (t->sync && t->archive && t->iteration % gnarl_archive_merge_every(t->archive) == 0)
		merge_archives(t);
	gnarl_archive_end(t->archive);
	t2 = gnarl_clock_monotonic();
	t->updates += out->ppo.minibatches;
	t->env_steps += batch(t);
	out->iteration = t->iteration;
	out->env_steps = t->env_steps;
	out->rollout_seconds = t1 - t0;
	out->learn_seconds = t2 - t1;
	out->sps = (double)batch(t) / (t2 - t0);
	out->allreduce_seconds = gnarl_dist_reduce_seconds(t->dist) - reduced;
}

bool gnarl_trainer_done(const struct gnarl_trainer *t)
{
	return t->iteration >= t->total_iters;
}

/* Stop now?  Data-parallel, every rank must answer the same: a signal
 * may reach one rank only, or the ranks between different iterations. */
static bool stopping(struct gnarl_trainer *t, volatile sig_atomic_t *stop)
{
	return t->sync ? gnarl_trainer_sync_stop(t->sync, stop) : stop && *stop;
}

int gnarl_trainer_run(struct gnarl_trainer *t, volatile sig_atomic_t *stop,
                      char err[GNARL_ERR_SIZE])
{
	struct gnarl_trainer_iteration it;
	bool ran = false;
	int rc = 0;

	join(t);
	while (!gnarl_trainer_done(t) && !stopping(t, stop)) {
		gnarl_trainer_iterate(t, &it);
		ran = true;
		/* A failed metrics upload is kept and retried (metrics.h), a row
		 * that could not be added is lost: a warning, never the run (a
		 * store that is down must not stop training). */
		if (gnarl_trainer_report(t, &it, err))
			gnarl_log(GNARL_LOG_WARN, NULL, "%s", err);
		if (t->hook)
			t->hook(t->hook_ctx, t, &it);
	}
	gnarl_train_console_stop(t->console);
	/* A video encoded after the last report is logged with it, not lost
	 * (its file is already stored). */
	if (ran) {
		gnarl_recorder_drain(t->rec);
		gnarl_trainer_take_video(t, &it);
	}
	if (t->sync && !t->opts.quiet)
		gnarl_trainer_sync_report(t->sync, t->nn, t->ppo, t->iteration, t->updates);
	if (stop && *stop && !t->opts.quiet && t->rank == 0)
		gnarl_log(GNARL_LOG_INFO, NULL, "stopped by a signal after iteration %llu (%llu env "
		                                "steps)",
		          (unsigned long long)t->iteration, (unsigned long long)t->env_steps);
	/* Summaries are best effort: a store that cannot take them costs a
	 * warning, not the run. */
	if (gnarl_summaries_flush(t->summaries, 30000, err))
		gnarl_log(GNARL_LOG_WARN, NULL, "episode summaries: %s", err);
	if (t->metrics)
		rc = gnarl_metrics_sync(t->metrics, err);
	return rc;
}
