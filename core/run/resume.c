/*
 * resume.c - saving a trainer's checkpoints (see resume.h; finding and
 * checking one is resume_open.c, loading it resume_restore.c).
 *
 * Entry points: gnarl_resume_create/_free, the trainer hook (saves every
 * checkpoint.every iterations), gnarl_resume_save, gnarl_resume_finish;
 * restoring is resume_restore.c.
 * Invariants: a save never stops training (failures are logged and the
 * next due save tries again).  A periodic one is encoded in memory
 * between two iterations and written by the saver's thread (core/saver.h
 * says when training waits for it: never once the store fails), whose
 * outcomes are logged at the next iteration; the last one
 * (gnarl_resume_finish) is written after every earlier one, and waited
 * for.  A restore checks every tensor it will load before copying the
 * first byte, so a refusal leaves the learner as it was; the tensors a
 * checkpoint holds depend only on the run's state, so the same state
 * saves the same bytes.  Data-parallel, rank 0 alone saves: the learner
 * (the same on every rank), its own envs, and the run's
 * episode count and means over every rank (core/trainer_sync.h).
 */
#include "resume.h"
#include "resume_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive.h"
#include "clock.h"
#include "config.h"
#include "episode.h"
#include "error.h"
#include "guidance.h"
#include "log.h"
#include "metrics.h"
#include "plugin_host.h"
#include "registry.h"
#include "rollout.h"
#include "safetensors.h"
#include "saver.h"
#include "storage.h"
#include "term.h"
#include "trainer.h"
#include "value.h"

#define MAX_METRICS  64
#define MAX_PLUGINS  64
#define FINISH_TRIES 3

/* ---- the tensor list ---------------------------------------------------- */

static void u8_view(struct gnarl_tensor *t, const char *name, void *data, size_t size)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->dtype = GNARL_DTYPE_U8;
	t->ndim = 1;
	t->shape[0] = size;
	t->data = data;
}

/* Every view a checkpoint holds except the blobs: the trainer's learner
 * state, the running episodes, the rollout's raw observation rows. */
uint32_t gnarl_resume_base_tensors(struct gnarl_resume *r)
{
	struct gnarl_trainer *t = r->t;
	struct gnarl_rollout *ro = gnarl_trainer_rollout(t);
	struct gnarl_tensor *out = r->tensors;
	uint32_t n = gnarl_trainer_tensors(t, out, GNARL_RESUME_MAX_TENSORS - 8);

	n += gnarl_episode_running_tensors(gnarl_rollout_episodes(ro), out + n, 2);
	memset(&out[n], 0, sizeof(out[n]));
	out[n].name = "rollout.obs";
	out[n].dtype = GNARL_DTYPE_F32;
	out[n].ndim = 2;
	out[n].shape[0] = gnarl_ppo_config(gnarl_trainer_ppo(t))->N;
	out[n].shape[1] = gnarl_ppo_config(gnarl_trainer_ppo(t))->O;
	out[n].data = gnarl_rollout_obs(ro);
	u8_view(&out[n + 1], "episode.term_names", r->labels_text, strlen(r->labels_text));
	return n + 2;
}

static int blob_fit(struct gnarl_resume_blob *b, size_t size)
{
	if (size > b->cap) {
		uint8_t *p = realloc(b->data, size);
		if (!p)
			return GNARL_ENOMEM;
		b->data = p;
		b->cap = size;
	}
	b->size = size;
	return 0;
}

/* Ask the env and the terms for their state; append the blobs to the
 * list.  A plugin that cannot save costs its blob and a warning (a
 * restore then starts that part fresh), never the checkpoint. */
static uint32_t add_blobs(struct gnarl_resume *r, uint32_t n)
{
	struct gnarl_rollout *ro = gnarl_trainer_rollout(r->t);
	const struct gnarl_env_ops *ops;
	const struct gnarl_env_io *io;
	void *env = gnarl_rollout_env(ro, &ops, &io);

	if (gnarl_plugin_env_has_state(ops)) {
		struct gnarl_resume_blob *b = &r->env_blob;
		int rc = blob_fit(b, ops->state_size(env));
		if (rc == 0)
			rc = ops->save_state(env, b->data, b->size);
		if (rc == 0)
			u8_view(&r->tensors[n++], b->name, b->data, b->size);
		else
			gnarl_log(GNARL_LOG_WARN, "checkpoint",
			          "the env could not save its state (%s): "
			          "a restore will start new episodes",
			          gnarl_strerror(rc));
	}
	if (gnarl_trainer_archive(r->t)) {
		const struct gnarl_archive *a = gnarl_trainer_archive(r->t);
		struct gnarl_resume_blob *b = &r->archive_blob;
		int rc = blob_fit(b, gnarl_archive_size(a));
		if (rc == 0)
			rc = gnarl_archive_save(a, b->data, b->size);
		if (rc == 0)
			u8_view(&r->tensors[n++], b->name, b->data, b->size);
		else
			gnarl_log(GNARL_LOG_WARN, "checkpoint", "the archive of start states could not be "
			          "saved (%s): a restore will start it empty", gnarl_strerror(rc));
	}
	for (uint32_t k = 0; k < r->K; k++) {
		const struct gnarl_rollout_reward *w = gnarl_rollout_reward(ro, k);
		struct gnarl_resume_blob *b = &r->term_blobs[k];
		int rc;

		if (w->term->memory) {
			memset(&r->tensors[n], 0, sizeof(r->tensors[n]));
			r->tensors[n].name = r->term_memory_names[k];
			r->tensors[n].dtype = GNARL_DTYPE_U8;
			r->tensors[n].ndim = 2;
			r->tensors[n].shape[0] = w->term->n_envs;
			r->tensors[n].shape[1] = w->term->memory_size;
			r->tensors[n++].data = w->term->memory;
		}
		if (!gnarl_plugin_term_has_state(w->term->ops))
			continue;
		rc = blob_fit(b, w->term->ops->save_size(w->term->inst));
		if (rc == 0)
			rc = w->term->ops->save(w->term->inst, b->data, b->size);
		if (rc == 0)
			u8_view(&r->tensors[n++], b->name, b->data, b->size);
		else
			gnarl_log(GNARL_LOG_WARN, "checkpoint",
			          "reward term '%s' could not save its "
			          "memory (%s): a restore will start it empty",
			          w->name, gnarl_strerror(rc));
	}
	return n;
}

/* ---- the manifest ------------------------------------------------------- */

static size_t add_metric(struct gnarl_checkpoint_metric *m, size_t n, const char *name, double v)
{
	if (n < MAX_METRICS)
		m[n++] = (struct gnarl_checkpoint_metric){name, v};
	return n;
}

/* Metrics at save time: the episode window (what ep_return_mean means in
 * progress.csv) and the last update's statistics. */
static size_t metrics_of(struct gnarl_resume *r, struct gnarl_checkpoint_metric *m)
{
	struct gnarl_rollout *ro = gnarl_trainer_rollout(r->t);
	struct gnarl_episode_means e;
	const struct gnarl_ppo_stats *p = &r->last.ppo;
	size_t n = 0;

	gnarl_trainer_episode_means(r->t, &e);
	n = add_metric(m, n, "ep_return_mean", e.count ? e.ret : NAN);
	n = add_metric(m, n, "ep_len_mean", e.count ? e.length : NAN);
	n = add_metric(m, n, "episodes", (double)gnarl_trainer_episodes(r->t));
	for (uint32_t k = 0; k < r->C; k++)
		n = add_metric(m, n, r->metric_names[k], e.count ? e.terms[k] : NAN);
	if (gnarl_rollout_spaces(ro)->has_game_state) {
		n = add_metric(m, n, "rooms_discovered", e.count ? e.rooms : NAN);
		n = add_metric(m, n, "dungeons_entered", e.count ? e.dungeons : NAN);
		n = add_metric(m, n, "enemies_killed", e.count ? e.enemies_killed : NAN);
		n = add_metric(m, n, "milestones", e.count ? e.milestones : NAN);
	}
	if (r->have_last) {
		n = add_metric(m, n, "policy_loss", p->policy_loss);
		n = add_metric(m, n, "value_loss", p->value_loss);
		n = add_metric(m, n, "entropy", p->entropy);
		n = add_metric(m, n, "approx_kl", p->approx_kl);
		n = add_metric(m, n, "clipfrac", p->clipfrac);
		n = add_metric(m, n, "explained_variance", p->explained_variance);
		n = add_metric(m, n, "lr", p->lr);
	}
	return n;
}

static size_t plugins_of(const struct gnarl_registry *reg, struct gnarl_checkpoint_plugin *out)
{
	static const enum gnarl_plugin_kind kinds[] = {GNARL_KIND_ENV, GNARL_KIND_REWARD,
	                                               GNARL_KIND_LLM, GNARL_KIND_STORAGE};
	size_t n = 0;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t count = kinds[k] == GNARL_KIND_ENV ? 1 : gnarl_registry_count(reg, kinds[k]);
		for (size_t i = 0; i < count && n < MAX_PLUGINS; i++) {
			const struct gnarl_registry_entry *e =
			    kinds[k] == GNARL_KIND_ENV ? gnarl_registry_env(reg)
			                               : gnarl_registry_get(reg, kinds[k], i);
			out[n++] = (struct gnarl_checkpoint_plugin){
			    gnarl_plugin_kind_name(kinds[k]), e->desc->name, e->desc->version};
		}
	}
	return n;
}

/* Everything a checkpoint of the run's current state holds, copied into
 * memory: the learner may move on right after. */
static int encode(struct gnarl_resume *r, struct gnarl_checkpoint_encoded **ck,
                  char err[GNARL_ERR_SIZE])
{
	struct gnarl_trainer *t = r->t;
	const struct gnarl_env_spaces *sp = gnarl_rollout_spaces(gnarl_trainer_rollout(t));
	const struct gnarl_registry *reg = gnarl_trainer_registry(t);
	struct gnarl_checkpoint_metric metrics[MAX_METRICS];
	struct gnarl_checkpoint_plugin plugins[MAX_PLUGINS];
	struct gnarl_checkpoint_rng rng = {"trainer", {0}};
	struct gnarl_manifest_info info = {0};
	uint64_t episodes = gnarl_trainer_episodes(t);
	uint32_t n;

	n = add_blobs(r, gnarl_resume_base_tensors(r));
	/* The run's count, every rank's episodes (rank 0's own alone). */
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(r->tensors[i].name, "episode.total") == 0)
			r->tensors[i].data = &episodes;
	memcpy(rng.s, gnarl_trainer_rng(t)->s, sizeof(rng.s));
	info.iteration = gnarl_trainer_iteration_count(t);
	info.env_steps = gnarl_trainer_env_steps(t);
	info.episodes = episodes;
	info.obs_size = sp->obs_dim;
	info.n_actions = sp->n_actions;
	info.action_names = sp->action_names;
	info.env_plugin = gnarl_registry_env(reg)->desc->name;
	info.env_params = gnarl_registry_env(reg)->params;
	info.network = r->network;
	info.config = r->cfg->root;
	info.plugins = plugins;
	info.n_plugins = plugins_of(reg, plugins);
	info.metrics = metrics;
	info.n_metrics = metrics_of(r, metrics);
	info.rngs = &rng;
	info.n_rngs = 1;
	info.parent = r->parent;
	return gnarl_checkpoint_encode(r->tensors, n, &info, ck, err);
}

/* Checkpoint `uri` (owned) of `iteration` is saved: log it; it is the
 * newest.  where: "" or ", in the background". */
static void saved(struct gnarl_resume *r, uint64_t iteration, char *uri, double write_s,
                  double encode_s, const char *where)
{
	gnarl_log(GNARL_LOG_INFO, "checkpoint",
	          "saved %s (iteration %llu%s: %.0f ms writing, %.1f ms encoding)", uri,
	          (unsigned long long)iteration, where, 1e3 * write_s, 1e3 * encode_s);
	free(r->last_uri);
	r->last_uri = uri;
	r->saved_iteration = iteration;
}

int gnarl_resume_save(struct gnarl_resume *r, char **uri, char err[GNARL_ERR_SIZE])
{
	struct gnarl_storage *st = gnarl_trainer_storage(r->t);
	struct gnarl_checkpoint_encoded *ck = NULL;
	struct gnarl_checkpoint_written w = {0};
	double t0;
	int rc;

	if (uri)
		*uri = NULL;
	if (!st || gnarl_trainer_rank(r->t) != 0)
		return 0;
	rc = encode(r, &ck, err);
	t0 = gnarl_clock_monotonic();
	if (rc == 0)
		rc = gnarl_checkpoint_write(st, r->run, ck, &r->keep, &w, err);
	r->unconfirmed = rc < 0 && w.unconfirmed;
	r->latest_stale = rc == 0 && w.latest_stale;
	if (rc == 0)
		saved(r, ck->iteration, w.uri, gnarl_clock_monotonic() - t0, ck->encode_seconds,
		      "");
	gnarl_checkpoint_encoded_free(ck);
	if (rc < 0)
		return rc;
	if (uri && !(*uri = strdup(r->last_uri)))
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	return 0;
}

/* The growing metrics files go with each checkpoint (for a remote store
 * with metrics.upload_every null, their only uploads before exit).  Only
 * after a save that worked: a store that just refused the checkpoint is
 * not kept busy again; the files stay in memory for the next one. */
static void sync_metrics(struct gnarl_resume *r)
{
	struct gnarl_metrics *m = gnarl_trainer_metrics(r->t);
	char err[GNARL_ERR_SIZE];

	if (m && gnarl_metrics_sync(m, err) < 0)
		gnarl_log(GNARL_LOG_WARN, "metrics", "%s", err);
}

/* A checkpoint that failed: `perhaps` when whether it landed is not known
 * yet (the saver asks again once the store answers). */
static void not_saved(struct gnarl_resume *r, uint64_t iteration, const char *why, bool perhaps)
{
	r->failures++;
	gnarl_log(GNARL_LOG_ERROR, "checkpoint", "%s", why);
	gnarl_log(GNARL_LOG_WARN, "checkpoint",
	          "checkpoint of iteration %llu %sNOT saved (%u in a row)%s; training goes on and "
	          "the next checkpoint tries again; the newest saved one is %s",
	          (unsigned long long)iteration, perhaps ? "perhaps " : "", r->failures,
	          perhaps ? ": the store could not be asked whether its manifest landed (it is "
	                    "asked again once the store answers)"
	                  : "",
	          r->last_uri ? r->last_uri
	          : r->parent ? r->parent
	                      : "(none yet)");
}

/* What the saver's thread did with the checkpoints handed to it, logged
 * here, on the trainer's thread, in order. */
static void take_outcomes(struct gnarl_resume *r)
{
	struct gnarl_saver_outcome o;

	while (r->saver && gnarl_saver_next(r->saver, &o)) {
		switch (o.result) {
		case GNARL_SAVER_SAVED:
			saved(r, o.iteration, o.uri, o.seconds, o.encode_seconds,
			      ", in the background");
			if (r->failures)
				gnarl_log(GNARL_LOG_INFO, "checkpoint",
				          "saving works again after %u failed attempt(s) and %u "
				          "checkpoint(s) skipped meanwhile",
				          r->failures, r->skipped);
			r->failures = 0;
			r->skipped = 0;
			sync_metrics(r);
			break;
		case GNARL_SAVER_FAILED:
		case GNARL_SAVER_UNCONFIRMED:
			not_saved(r, o.iteration, o.err, o.result == GNARL_SAVER_UNCONFIRMED);
			break;
		case GNARL_SAVER_SKIPPED:
			/* one line per outage: each would say the same */
			if (r->skipped++ == 0)
				gnarl_log(GNARL_LOG_WARN, "checkpoint",
				          "checkpoint of iteration %llu skipped: the store is still "
				          "failing to write an earlier one; checkpoints due meanwhile are "
				          "skipped (and counted) until a save works",
				          (unsigned long long)o.iteration);
			break;
		case GNARL_SAVER_LANDED:
			gnarl_log(GNARL_LOG_INFO, "checkpoint",
			          "checkpoint of iteration %llu, perhaps NOT saved earlier, is in the "
			          "store whole: %s (its write landed though the store failed to say so)",
			          (unsigned long long)o.iteration, o.uri ? o.uri : "");
			if (o.uri && o.iteration > r->saved_iteration)
				saved(r, o.iteration, o.uri, 0, o.encode_seconds, ", found in the store");
			else
				free(o.uri);
			break;
		case GNARL_SAVER_LOST:
			gnarl_log(GNARL_LOG_WARN, "checkpoint",
			          "checkpoint of iteration %llu, perhaps NOT saved earlier, is lost: %s",
			          (unsigned long long)o.iteration, o.err);
			break;
		}
	}
}

/* A periodic checkpoint: encoded now, written by the saver's thread. */
static void save_in_background(struct gnarl_resume *r)
{
	struct gnarl_checkpoint_encoded *ck;
	char err[GNARL_ERR_SIZE];

	if (!r->saver)
		return;
	if (encode(r, &ck, err) < 0)
		not_saved(r, gnarl_trainer_iteration_count(r->t), err, false);
	else
		gnarl_saver_submit(r->saver, ck);
}

static void after_iteration(void *ctx, struct gnarl_trainer *t,
                            const struct gnarl_trainer_iteration *it)
{
	struct gnarl_resume *r = ctx;

	(void)t;
	take_outcomes(r);
	r->last = *it;
	r->have_last = true;
	if (r->stop && r->stop_after && it->iteration >= r->stop_after && !*r->stop) {
		gnarl_log(GNARL_LOG_INFO, NULL, "--stop-after %llu: stopping",
		          (unsigned long long)r->stop_after);
		*r->stop = 1;
	}
	if (r->every && it->iteration % r->every == 0)
		save_in_background(r);
}

int gnarl_resume_finish(struct gnarl_resume *r, char err[GNARL_ERR_SIZE])
{
	uint64_t it = gnarl_trainer_iteration_count(r->t);
	int rc = 0;

	if (r->saver) {
		gnarl_saver_drain(r->saver);
		take_outcomes(r);
	}
	if (!gnarl_trainer_storage(r->t) || gnarl_trainer_rank(r->t) != 0 ||
	    (r->last_uri && r->saved_iteration == it) || (it == 0 && !r->parent))
		goto settle;
	for (int k = 0; k < FINISH_TRIES; k++) {
		if (k) {
			gnarl_log(GNARL_LOG_WARN, "checkpoint", "%s; trying again in %d s",
			          rc ? err : "`latest` was not moved", k);
			nanosleep(&(struct timespec){k, 0}, NULL);
		}
		/* Tried again, the same checkpoint is not rewritten when it is
		 * in the store already (it landed, or only `latest` failed). */
		rc = gnarl_resume_save(r, NULL, err);
		if (rc == 0 && !r->latest_stale)
			break;
	}
	if (rc < 0)
		return gnarl_err_prefix(
		    err, rc,
		    "the checkpoint of iteration %llu (the end of the run) could not be saved%s; "
		    "the newest saved checkpoint is %s: ",
		    (unsigned long long)it,
		    r->unconfirmed ? " (its manifest may have landed: the store could not be asked; "
		                     "look for it before you restore)"
		                   : "",
		    r->last_uri ? r->last_uri
		    : r->parent ? r->parent
		                : "(none)");
settle:
	/* The last chance to say what became of checkpoints in doubt. */
	if (r->saver) {
		gnarl_saver_settle(r->saver);
		take_outcomes(r);
	}
	return 0;
}

const char *gnarl_resume_last_uri(const struct gnarl_resume *r)
{
	return r->last_uri;
}

/* ---- create / free ------------------------------------------------------ */

/* The name of episode column k: reward term k, then the LLM sources. */
static const char *column_name(struct gnarl_resume *r, uint32_t k)
{
	struct gnarl_rollout *ro = gnarl_trainer_rollout(r->t);

	return k < r->K ? gnarl_rollout_reward_name(ro, k)
	                : gnarl_guidance_name(gnarl_trainer_guidance(r->t), k - r->K);
}

/* Column labels as the compatibility diff names entries: the name, and
 * "name#2" for its second use; the blob names of the reward terms. */
static int label_terms(struct gnarl_resume *r)
{
	size_t len = 1, at = 0;

	for (uint32_t k = 0; k < r->C; k++) {
		const char *name = column_name(r, k);
		int nth = 1;

		for (uint32_t j = k < r->K ? 0 : r->K; j < k; j++)
			nth += strcmp(column_name(r, j), name) == 0;
		if (nth > 1)
			snprintf(r->term_labels[k], sizeof(r->term_labels[k]), "%s#%d", name, nth);
		else
			snprintf(r->term_labels[k], sizeof(r->term_labels[k]), "%s", name);
		snprintf(r->metric_names[k], sizeof(r->metric_names[k]), "reward/%s", name);
		if (k < r->K) {
			snprintf(r->term_blobs[k].name, sizeof(r->term_blobs[k].name), "reward.%s",
			         r->term_labels[k]);
			snprintf(r->term_memory_names[k], sizeof(r->term_memory_names[k]),
			         "reward.%s.memory", r->term_labels[k]);
		}
		len += strlen(r->term_labels[k]) + 1;
	}
	r->labels_text = malloc(len);
	if (!r->labels_text)
		return GNARL_ENOMEM;
	r->labels_text[0] = '\0';
	for (uint32_t k = 0; k < r->C; k++)
		at += (size_t)sprintf(r->labels_text + at, "%s\n", r->term_labels[k]);
	return 0;
}

int gnarl_resume_create(struct gnarl_trainer *t, struct gnarl_config *cfg,
                        volatile sig_atomic_t *stop, uint64_t stop_after, struct gnarl_resume **out,
                        char err[GNARL_ERR_SIZE])
{
	struct gnarl_resume *r = calloc(1, sizeof(*r));
	const struct gnarl_value *ck = gnarl_config_section(cfg, "checkpoint");
	const char *prefix = gnarl_trainer_run_prefix(t);
	size_t plen = strlen(prefix);

	*out = NULL;
	if (!r)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	r->t = t;
	r->cfg = cfg;
	r->stop = stop;
	r->stop_after = stop_after;
	r->every = (uint64_t)gnarl_value_int(gnarl_value_get(ck, "every"), 0);
	r->keep.keep_last = (uint32_t)gnarl_value_int(gnarl_value_get(ck, "keep_last"), 5);
	r->keep.keep_best = gnarl_value_bool(gnarl_value_get(ck, "keep_best"), true);
	r->K = gnarl_rollout_n_rewards(gnarl_trainer_rollout(t));
	r->C = r->K + gnarl_guidance_count(gnarl_trainer_guidance(t));
	while (plen && prefix[plen - 1] == '/')
		plen--;
	r->run = strndup(prefix, plen);
	r->network = gnarl_resume_network(cfg, &r->net_tree);
	r->tensors = calloc(GNARL_RESUME_MAX_TENSORS, sizeof(*r->tensors));
	r->term_labels = calloc(r->C + 1, sizeof(*r->term_labels));
	r->metric_names = calloc(r->C + 1, sizeof(*r->metric_names));
	r->term_blobs = calloc(r->K + 1, sizeof(*r->term_blobs));
	r->term_memory_names = calloc(r->K + 1, sizeof(*r->term_memory_names));
	if (!r->run || !r->network || !r->tensors || !r->term_labels || !r->metric_names ||
	    !r->term_blobs || !r->term_memory_names || label_terms(r) < 0) {
		gnarl_resume_free(r);
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	}
	if (gnarl_trainer_tensors(t, r->tensors, 0) + 8 + 2 * r->K > GNARL_RESUME_MAX_TENSORS) {
		gnarl_resume_free(r);
		return gnarl_err(err, GNARL_EINVAL,
		                 "checkpoint: more than %d tensors to save (a "
		                 "network this deep or this many reward terms)",
		                 GNARL_RESUME_MAX_TENSORS);
	}
	snprintf(r->env_blob.name, sizeof(r->env_blob.name), "env.state");
	snprintf(r->archive_blob.name, sizeof(r->archive_blob.name), GNARL_ARCHIVE_TENSOR);
	if (gnarl_trainer_storage(t) && gnarl_trainer_rank(t) == 0) {
		int rc = gnarl_saver_create(gnarl_trainer_storage(t), r->run, &r->keep, &r->saver,
		                            err);
		if (rc) {
			gnarl_resume_free(r);
			return rc;
		}
	}
	gnarl_trainer_set_hook(t, after_iteration, r);
	*out = r;
	return 0;
}

void gnarl_resume_free(struct gnarl_resume *r)
{
	if (!r)
		return;
	if (r->t)
		gnarl_trainer_set_hook(r->t, NULL, NULL);
	gnarl_saver_free(r->saver);
	for (uint32_t k = 0; r->term_blobs && k < r->K; k++)
		free(r->term_blobs[k].data);
	free(r->term_blobs);
	free(r->term_memory_names);
	free(r->env_blob.data);
	free(r->archive_blob.data);
	free(r->term_labels);
	free(r->metric_names);
	free(r->labels_text);
	free(r->tensors);
	gnarl_tree_free(r->net_tree);
	free(r->parent);
	free(r->last_uri);
	free(r->run);
	free(r);
}
