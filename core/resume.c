/*
 * resume.c - saving a trainer's checkpoints and loading one into a new
 * trainer (see resume.h; finding and checking one is resume_open.c).
 *
 * Entry points: gnarl_resume_create/_free, the trainer hook (saves every
 * checkpoint.every iterations), gnarl_resume_save, gnarl_resume_finish,
 * gnarl_resume_restore.
 * Invariants: a save never stops training (failures are logged and the
 * next due save tries again); a restore checks every tensor it will load
 * before copying the first byte, so a refusal leaves the learner as it
 * was; the tensors a checkpoint holds depend only on the run's state, so
 * the same state saves the same bytes.
 */
#include "resume.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "episode.h"
#include "error.h"
#include "guidance.h"
#include "log.h"
#include "plugin.h"
#include "registry.h"
#include "rollout.h"
#include "safetensors.h"
#include "storage.h"
#include "trainer.h"
#include "value.h"

#define MAX_TENSORS 512
#define MAX_METRICS 64
#define MAX_PLUGINS 64
#define FINISH_TRIES 3

/* An opaque state saved as a U8 tensor. */
struct blob {
	char name[160];
	uint8_t *data;
	size_t size, cap;
};

struct gnarl_resume {
	struct gnarl_trainer *t;
	struct gnarl_config *cfg;
	volatile sig_atomic_t *stop;
	uint64_t stop_after, every;
	struct gnarl_checkpoint_retention keep;
	char *run;                      /* the run directory's key, no trailing '/' */
	struct gnarl_tree *net_tree;
	const struct gnarl_value *network;
	char *parent;                   /* URI restored from, NULL for a fresh run */
	char *last_uri;                 /* newest checkpoint saved by this run */
	uint64_t saved_iteration;
	bool saved;
	uint32_t failures;              /* failed saves in a row */
	struct gnarl_trainer_iteration last;
	bool have_last;
	uint32_t K, C;                  /* reward terms; episode columns: the K
	                                   terms, then the LLM sources' bonuses */
	char (*term_labels)[128];       /* (C) "name", "name#2" for repeats */
	char (*metric_names)[144];      /* (C) "reward/<name>" */
	char *labels_text;              /* the C labels, one per line */
	struct gnarl_tensor *tensors;   /* (MAX_TENSORS) */
	char why[GNARL_ERR_SIZE];       /* why a restore reset the envs */
	struct blob env_blob;
	struct blob *term_blobs;        /* (K) */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
static uint32_t base_tensors(struct gnarl_resume *r)
{
	struct gnarl_trainer *t = r->t;
	struct gnarl_rollout *ro = gnarl_trainer_rollout(t);
	struct gnarl_tensor *out = r->tensors;
	uint32_t n = gnarl_trainer_tensors(t, out, MAX_TENSORS - 8);

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

static int blob_fit(struct blob *b, size_t size)
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

static bool env_has_state(const struct gnarl_env_ops *ops)
{
	return ops->size >= offsetof(struct gnarl_env_ops, load_state) + sizeof(ops->load_state) &&
	       ops->state_size && ops->save_state && ops->load_state;
}

static bool term_has_state(const struct gnarl_reward_ops *ops)
{
	return ops->size >= offsetof(struct gnarl_reward_ops, load) + sizeof(ops->load) &&
	       ops->save_size && ops->save && ops->load;
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

	if (env_has_state(ops)) {
		struct blob *b = &r->env_blob;
		int rc = blob_fit(b, ops->state_size(env));
		if (rc == 0)
			rc = ops->save_state(env, b->data, b->size);
		if (rc == 0)
			u8_view(&r->tensors[n++], b->name, b->data, b->size);
		else
			gnarl_log(GNARL_LOG_WARN, "checkpoint", "the env could not save its state (%s): "
			          "a restore will start new episodes", gnarl_strerror(rc));
	}
	for (uint32_t k = 0; k < r->K; k++) {
		const struct gnarl_rollout_reward *w = gnarl_rollout_reward(ro, k);
		struct blob *b = &r->term_blobs[k];
		int rc;

		if (!term_has_state(w->ops))
			continue;
		rc = blob_fit(b, w->ops->save_size(w->term));
		if (rc == 0)
			rc = w->ops->save(w->term, b->data, b->size);
		if (rc == 0)
			u8_view(&r->tensors[n++], b->name, b->data, b->size);
		else
			gnarl_log(GNARL_LOG_WARN, "checkpoint", "reward term '%s' could not save its "
			          "memory (%s): a restore will start it empty", w->name,
			          gnarl_strerror(rc));
	}
	return n;
}

/* ---- the manifest ------------------------------------------------------- */

static size_t add_metric(struct gnarl_checkpoint_metric *m, size_t n, const char *name,
                         double v)
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

	gnarl_episode_means(gnarl_rollout_episodes(ro), &e);
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
			out[n++] = (struct gnarl_checkpoint_plugin){gnarl_plugin_kind_name(kinds[k]),
			                                            e->desc->name, e->desc->version};
		}
	}
	return n;
}

int gnarl_resume_save(struct gnarl_resume *r, char **uri, char err[GNARL_ERR_SIZE])
{
	struct gnarl_trainer *t = r->t;
	struct gnarl_storage *st = gnarl_trainer_storage(t);
	const struct gnarl_env_spaces *sp = gnarl_rollout_spaces(gnarl_trainer_rollout(t));
	const struct gnarl_registry *reg = gnarl_trainer_registry(t);
	struct gnarl_checkpoint_metric metrics[MAX_METRICS];
	struct gnarl_checkpoint_plugin plugins[MAX_PLUGINS];
	struct gnarl_checkpoint_rng rng = {"trainer", {0}};
	struct gnarl_manifest_info info = {0};
	char *saved = NULL;
	uint32_t n;
	double t0 = now();
	int rc;

	if (uri)
		*uri = NULL;
	if (!st)
		return 0;
	n = add_blobs(r, base_tensors(r));
	memcpy(rng.s, gnarl_trainer_rng(t)->s, sizeof(rng.s));
	info.iteration = gnarl_trainer_iteration_count(t);
	info.env_steps = gnarl_trainer_env_steps(t);
	info.episodes = gnarl_trainer_episodes(t);
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
	rc = gnarl_checkpoint_save(st, r->run, r->tensors, n, &info, &r->keep, &saved, err);
	if (rc < 0)
		return rc;
	gnarl_log(GNARL_LOG_INFO, "checkpoint", "saved %s (iteration %llu, %.0f ms)", saved,
	          (unsigned long long)info.iteration, 1e3 * (now() - t0));
	free(r->last_uri);
	r->last_uri = saved;
	r->saved = true;
	r->saved_iteration = info.iteration;
	if (uri && !(*uri = strdup(saved)))
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	return 0;
}

/* Save now; a failure is logged and remembered, never returned. */
static void save_logged(struct gnarl_resume *r)
{
	char err[GNARL_ERR_SIZE];
	int rc = gnarl_resume_save(r, NULL, err);

	if (rc == 0) {
		if (r->failures)
			gnarl_log(GNARL_LOG_INFO, "checkpoint", "saving works again after %u failed "
			          "attempt(s)", r->failures);
		r->failures = 0;
		return;
	}
	r->failures++;
	gnarl_log(GNARL_LOG_ERROR, "checkpoint", "%s", err);
	gnarl_log(GNARL_LOG_WARN, "checkpoint", "checkpoint of iteration %llu NOT saved (%u in a "
	          "row); training goes on and the next checkpoint tries again; the newest saved "
	          "one is %s", (unsigned long long)gnarl_trainer_iteration_count(r->t),
	          r->failures, r->last_uri ? r->last_uri : r->parent ? r->parent : "(none yet)");
}

static void after_iteration(void *ctx, struct gnarl_trainer *t,
                            const struct gnarl_trainer_iteration *it)
{
	struct gnarl_resume *r = ctx;

	(void)t;
	r->last = *it;
	r->have_last = true;
	if (r->stop && r->stop_after && it->iteration >= r->stop_after && !*r->stop) {
		gnarl_log(GNARL_LOG_INFO, NULL, "--stop-after %llu: stopping",
		          (unsigned long long)r->stop_after);
		*r->stop = 1;
	}
	if (r->every && it->iteration % r->every == 0)
		save_logged(r);
}

int gnarl_resume_finish(struct gnarl_resume *r, char err[GNARL_ERR_SIZE])
{
	uint64_t it = gnarl_trainer_iteration_count(r->t);
	int rc = 0;

	if (!gnarl_trainer_storage(r->t) || (r->saved && r->saved_iteration == it) ||
	    (it == 0 && !r->parent))
		return 0;
	for (int k = 0; k < FINISH_TRIES; k++) {
		if (k) {
			gnarl_log(GNARL_LOG_WARN, "checkpoint", "%s; trying again in %d s", err, k);
			nanosleep(&(struct timespec){k, 0}, NULL);
		}
		rc = gnarl_resume_save(r, NULL, err);
		if (rc == 0)
			return 0;
	}
	return gnarl_err_prefix(err, rc, "the checkpoint of iteration %llu (the end of the run) "
	                        "could not be saved; the newest saved checkpoint is %s: ",
	                        (unsigned long long)it,
	                        r->last_uri ? r->last_uri : r->parent ? r->parent : "(none)");
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
		if (k < r->K)
			snprintf(r->term_blobs[k].name, sizeof(r->term_blobs[k].name), "reward.%s",
			         r->term_labels[k]);
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
                        volatile sig_atomic_t *stop, uint64_t stop_after,
                        struct gnarl_resume **out, char err[GNARL_ERR_SIZE])
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
	r->tensors = calloc(MAX_TENSORS, sizeof(*r->tensors));
	r->term_labels = calloc(r->C + 1, sizeof(*r->term_labels));
	r->metric_names = calloc(r->C + 1, sizeof(*r->metric_names));
	r->term_blobs = calloc(r->K + 1, sizeof(*r->term_blobs));
	if (!r->run || !r->network || !r->tensors || !r->term_labels || !r->metric_names ||
	    !r->term_blobs || label_terms(r) < 0) {
		gnarl_resume_free(r);
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	}
	if (gnarl_trainer_tensors(t, r->tensors, 0) + 8 + r->K > MAX_TENSORS) {
		gnarl_resume_free(r);
		return gnarl_err(err, GNARL_EINVAL, "checkpoint: more than %d tensors to save (a "
		                 "network this deep or this many reward terms)", MAX_TENSORS);
	}
	snprintf(r->env_blob.name, sizeof(r->env_blob.name), "env.state");
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
	for (uint32_t k = 0; r->term_blobs && k < r->K; k++)
		free(r->term_blobs[k].data);
	free(r->term_blobs);
	free(r->env_blob.data);
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

/* ---- restoring ---------------------------------------------------------- */

/* Tensors whose shape is (N, ...): skipped when env.num_envs changed. */
static const char *const per_env[] = {"ret_rms.returns", "episode.numbers", "episode.running",
                                      "episode.running_terms", "rollout.obs", NULL};
/* The running episodes: loaded only when the envs continue them. */
static const char *const running[] = {"ret_rms.returns", "episode.running",
                                      "episode.running_terms", "rollout.obs", NULL};
/* Tensors with a column per reward term: matched by term name. */
static const char *const per_term[] = {"episode.window_terms", "episode.running_terms",
                                       "episode.term_names", NULL};

static bool named(const char *name, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(name, *set) == 0)
			return true;
	return false;
}

static bool same_shape(const struct gnarl_safetensors_entry *e, const struct gnarl_tensor *t)
{
	if (!e || e->dtype != t->dtype || e->ndim != t->ndim)
		return false;
	for (uint32_t i = 0; i < t->ndim; i++)
		if (e->shape[i] != t->shape[i])
			return false;
	return true;
}

static const struct gnarl_tensor *find_view(struct gnarl_resume *r, uint32_t n,
                                            const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(r->tensors[i].name, name) == 0)
			return &r->tensors[i];
	return NULL;
}

/* Did the diff change anything under `prefix` (a field or its subfields)? */
static const char *changed_under(const struct gnarl_checkpoint_diff *d, const char *prefix)
{
	size_t n = strlen(prefix);

	for (size_t i = 0; i < d->n; i++) {
		const char *f = d->changes[i].field;
		if (strncmp(f, prefix, n) == 0 && (f[n] == '\0' || f[n] == '.'))
			return f;
	}
	return NULL;
}

static bool term_params_changed(const struct gnarl_checkpoint_diff *d, const char *label)
{
	char prefix[192];

	snprintf(prefix, sizeof(prefix), "rewards[%s].params", label);
	return changed_under(d, prefix) != NULL;
}

/* Labels of a checkpoint's episode columns: its "episode.term_names", or
 * for checkpoints without it, its config's reward and LLM entries. */
static char **old_labels(const struct gnarl_checkpoint *ck, uint32_t *n)
{
	const struct gnarl_safetensors_entry *e =
	    gnarl_safetensors_find(gnarl_checkpoint_tensors(ck), "episode.term_names");
	json_t *root = NULL, *cfg;
	char **out = NULL;
	size_t count = 0, cap = 0;

	if (e && e->dtype == GNARL_DTYPE_U8) {
		const char *p = (const char *)e->data, *end = p + (e->end - e->begin);
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (count == cap && !(out = realloc(out, (cap = 2 * cap + 8) * sizeof(*out))))
				return NULL;
			out[count++] = strndup(p, len);
			p += len + 1;
		}
	} else {
		root = json_loads(gnarl_checkpoint_manifest(ck)->json, 0, NULL);
		cfg = json_object_get(root, "config");
		for (int list = 0; list < 2; list++) {
			json_t *items = json_object_get(cfg, list ? "llm" : "rewards");
			for (size_t j = 0; j < json_array_size(items); j++) {
				json_t *it = json_array_get(items, j);
				const char *name = json_string_value(json_object_get(it, "name"));
				char label[160];
				int nth = 1;

				name = name ? name : json_string_value(json_object_get(it, "plugin"));
				for (size_t i = 0; name && i < j; i++) {
					json_t *o = json_array_get(items, i);
					const char *on = json_string_value(json_object_get(o, "name"));
					on = on ? on : json_string_value(json_object_get(o, "plugin"));
					nth += on && strcmp(on, name) == 0;
				}
				snprintf(label, sizeof(label), nth > 1 ? "%s#%d" : "%s", name ? name : "?",
				         nth);
				if (count == cap &&
				    !(out = realloc(out, (cap = 2 * cap + 8) * sizeof(*out))))
					break;
				out[count++] = strdup(label);
			}
		}
		json_decref(root);
	}
	*n = (uint32_t)count;
	return out ? out : calloc(1, sizeof(*out));
}

/* map[k]: the checkpoint's column of this run's column k (-1: new).  True
 * when the columns are the same, in the same order. */
static bool map_terms(struct gnarl_resume *r, const struct gnarl_checkpoint *ck, int32_t *map,
                      uint32_t *old_k)
{
	uint32_t n = 0;
	char **old = old_labels(ck, &n);
	bool same = n == r->C;

	*old_k = n;
	for (uint32_t k = 0; k < r->C; k++) {
		map[k] = -1;
		for (uint32_t j = 0; old && j < n && map[k] < 0; j++)
			if (old[j] && strcmp(old[j], r->term_labels[k]) == 0)
				map[k] = (int32_t)j;
		same = same && map[k] == (int32_t)k;
	}
	for (uint32_t j = 0; old && j < n; j++)
		free(old[j]);
	free(old);
	return same;
}

/* Copy the checkpoint's per-term columns into view t (rows x K) by map;
 * columns of new terms are zero.  False when the saved rows differ. */
static bool remap(const struct gnarl_safetensors_entry *e, const struct gnarl_tensor *t,
                  const int32_t *map, uint32_t K, uint32_t old_k)
{
	double *dst = t->data, v;

	if (!e || e->dtype != GNARL_DTYPE_F64 || e->ndim != 2 || e->shape[0] != t->shape[0] ||
	    e->shape[1] != old_k)
		return false;
	for (uint64_t row = 0; row < t->shape[0]; row++)
		for (uint32_t k = 0; k < K; k++) {
			v = 0.0;
			if (map[k] >= 0)
				memcpy(&v, e->data + (row * old_k + (uint64_t)map[k]) * sizeof(double),
				       sizeof(v));
			dst[row * K + k] = v;
		}
	return true;
}

/* NULL when the envs can continue their running episodes, else why not
 * (into r->why). */
static const char *reset_reason(struct gnarl_resume *r, const struct gnarl_resume_point *p,
                                uint32_t n, bool same_n)
{
	const struct gnarl_safetensors *sf = gnarl_checkpoint_tensors(p->ck);
	const struct gnarl_safetensors_entry *num = gnarl_safetensors_find(sf, "episode.numbers");
	const struct gnarl_registry_entry *env = gnarl_registry_env(gnarl_trainer_registry(r->t));
	const struct gnarl_env_ops *ops;
	const struct gnarl_env_io *io;
	const char *f;

	gnarl_rollout_env(gnarl_trainer_rollout(r->t), &ops, &io);
	if (!env_has_state(ops))
		snprintf(r->why, sizeof(r->why), "env plugin '%s' cannot save its state",
		         env->desc->name);
	else if (!gnarl_safetensors_find(sf, "env.state"))
		snprintf(r->why, sizeof(r->why), "the checkpoint holds no env state");
	else if (!same_n)
		snprintf(r->why, sizeof(r->why), "env.num_envs changed from %llu to %llu",
		         num ? (unsigned long long)num->shape[0] : 0ull,
		         (unsigned long long)gnarl_ppo_config(gnarl_trainer_ppo(r->t))->N);
	else if ((f = changed_under(p->diff, "env.params")))
		snprintf(r->why, sizeof(r->why), "the env's params changed (%s)", f);
	else if (!same_shape(gnarl_safetensors_find(sf, "episode.running"),
	                     find_view(r, n, "episode.running")) ||
	         !same_shape(gnarl_safetensors_find(sf, "rollout.obs"),
	                     find_view(r, n, "rollout.obs")))
		snprintf(r->why, sizeof(r->why), "the checkpoint holds no running episodes");
	else {
		for (uint32_t k = 0; k < r->K; k++)
			if (term_params_changed(p->diff, r->term_labels[k])) {
				snprintf(r->why, sizeof(r->why), "reward term '%s' has new params",
				         r->term_labels[k]);
				return r->why;
			}
		return NULL;
	}
	return r->why;
}

/* The store's root the run directory lives in ("" without storage). */
static const char *run_root(const struct gnarl_resume *r)
{
	struct gnarl_storage *st = gnarl_trainer_storage(r->t);
	const char *root = st ? gnarl_storage_root(st) : "";

	return strcmp(root, ".") == 0 ? "" : root;
}

/* Give each reward term its saved memory, matched by name; fresh[k] is
 * set for terms that start empty (new, params changed, nothing saved). */
static void load_terms(struct gnarl_resume *r, const struct gnarl_resume_point *p,
                       const int32_t *map, bool *fresh)
{
	const struct gnarl_safetensors *sf = gnarl_checkpoint_tensors(p->ck);
	struct gnarl_rollout *ro = gnarl_trainer_rollout(r->t);
	char err[GNARL_ERR_SIZE];

	for (uint32_t k = 0; k < r->K; k++) {
		const struct gnarl_rollout_reward *w = gnarl_rollout_reward(ro, k);
		const struct gnarl_safetensors_entry *e =
		    gnarl_safetensors_find(sf, r->term_blobs[k].name);
		int rc;

		fresh[k] = true;
		if (map[k] < 0) {
			gnarl_log(GNARL_LOG_INFO, "resume", "reward term '%s' is new in this run: it "
			          "starts with empty memory", r->term_labels[k]);
			continue;
		}
		if (!term_has_state(w->ops) || !e)
			continue;
		if (term_params_changed(p->diff, r->term_labels[k])) {
			gnarl_log(GNARL_LOG_INFO, "resume", "reward term '%s' has new params: its saved "
			          "memory is not loaded", r->term_labels[k]);
			continue;
		}
		err[0] = '\0';
		rc = e->dtype == GNARL_DTYPE_U8 && e->ndim == 1
		         ? w->ops->load(w->term, e->data, (size_t)(e->end - e->begin), err)
		         : GNARL_ECORRUPT;
		if (rc < 0) {
			gnarl_log(GNARL_LOG_WARN, "resume", "reward term '%s' refused its saved memory "
			          "(%s): it starts empty", r->term_labels[k],
			          err[0] ? err : gnarl_strerror(rc));
			continue;
		}
		fresh[k] = false;
	}
}

/* Envs continue: the env's state, then new episodes for the terms that
 * start empty.  GNARL_* when the env refuses its state (nothing changed
 * in the rollout then but the observation rows, which a reset rewrites). */
static int continue_envs(struct gnarl_resume *r, const struct gnarl_resume_point *p,
                         const bool *fresh)
{
	const struct gnarl_safetensors_entry *e =
	    gnarl_safetensors_find(gnarl_checkpoint_tensors(p->ck), "env.state");
	struct gnarl_rollout *ro = gnarl_trainer_rollout(r->t);
	const struct gnarl_game_state *states;
	const struct gnarl_env_ops *ops;
	const struct gnarl_env_io *io;
	void *env = gnarl_rollout_env(ro, &ops, &io);
	uint32_t N = gnarl_ppo_config(gnarl_trainer_ppo(r->t))->N;
	char err[GNARL_ERR_SIZE] = "";
	int rc;

	rc = e->dtype == GNARL_DTYPE_U8 && e->ndim == 1
	         ? ops->load_state(env, io, e->data, (size_t)(e->end - e->begin), err)
	         : GNARL_ECORRUPT;
	if (rc < 0) {
		snprintf(r->why, sizeof(r->why), "the env refused its saved state (%.700s)",
		         err[0] ? err : gnarl_strerror(rc));
		return rc;
	}
	states = gnarl_rollout_states(ro);
	for (uint32_t k = 0; k < r->K; k++) {
		const struct gnarl_rollout_reward *w = gnarl_rollout_reward(ro, k);
		if (!fresh[k] || !w->ops->episode_start)
			continue;
		for (uint32_t n = 0; n < N; n++)
			w->ops->episode_start(w->term, n, states ? &states[n] : NULL);
	}
	return 0;
}

/* The views to load (into load[]), skipping what this run cannot use. */
static uint32_t plan_load(struct gnarl_resume *r, const struct gnarl_safetensors *sf,
                          uint32_t n, bool same_n, bool same_terms, bool exact,
                          struct gnarl_tensor *load)
{
	uint32_t nl = 0;

	for (uint32_t i = 0; i < n; i++) {
		const char *name = r->tensors[i].name;

		if ((named(name, per_term) && !same_terms) || (named(name, running) && !exact) ||
		    (named(name, per_env) && !same_n))
			continue;
		if ((named(name, running) || strcmp(name, "episode.term_names") == 0) &&
		    !gnarl_safetensors_find(sf, name))
			continue; /* checkpoints from before these were saved */
		load[nl++] = r->tensors[i];
	}
	return nl;
}

int gnarl_resume_restore(struct gnarl_resume *r, const struct gnarl_resume_point *p,
                         char err[GNARL_ERR_SIZE])
{
	const struct gnarl_safetensors *sf = gnarl_checkpoint_tensors(p->ck);
	const struct gnarl_manifest *m = gnarl_checkpoint_manifest(p->ck);
	const struct gnarl_safetensors_entry *num = gnarl_safetensors_find(sf, "episode.numbers");
	uint32_t n = base_tensors(r), nl, old_k = 0;
	uint32_t N = gnarl_ppo_config(gnarl_trainer_ppo(r->t))->N;
	struct gnarl_tensor *load = calloc(n + 1, sizeof(*load));
	int32_t *map = calloc(r->C + 1, sizeof(*map));
	bool *fresh = calloc(r->K + 1, sizeof(*fresh));
	bool same_n = num && num->ndim == 1 && num->shape[0] == N, same_terms;
	const char *why;
	int rc;

	if (!load || !map || !fresh) {
		rc = gnarl_err(err, GNARL_ENOMEM, "out of memory");
		goto out;
	}
	same_terms = map_terms(r, p->ck, map, &old_k);
	why = reset_reason(r, p, n, same_n);
	nl = plan_load(r, sf, n, same_n, same_terms, why == NULL, load);
	rc = gnarl_checkpoint_load(p->ck, load, nl, 0, err);
	if (rc < 0)
		goto out;
	/* From here on the learner holds the checkpoint's numbers. */
	if (!same_terms) {
		remap(gnarl_safetensors_find(sf, "episode.window_terms"),
		      find_view(r, n, "episode.window_terms"), map, r->C, old_k);
		if (!why && !remap(gnarl_safetensors_find(sf, "episode.running_terms"),
		                   find_view(r, n, "episode.running_terms"), map, r->C, old_k)) {
			snprintf(r->why, sizeof(r->why), "the running term sums do not match");
			why = r->why;
		}
	}
	load_terms(r, p, map, fresh);
	if (!why && continue_envs(r, p, fresh) < 0)
		why = r->why;
	if (why) {
		const struct gnarl_tensor *ret = find_view(r, n, "ret_rms.returns");
		/* New episodes start with no discounted return. */
		memset(ret->data, 0, gnarl_tensor_numel(ret) * sizeof(double));
		gnarl_trainer_restored(r->t);
	} else {
		gnarl_trainer_continued(r->t);
	}
	free(r->parent);
	r->parent = strdup(m->uri);
	gnarl_log(GNARL_LOG_INFO, NULL, "resumed at iteration %llu (env steps %llu, episodes "
	          "%llu) in %s%s%s; %s%s",
	          (unsigned long long)gnarl_trainer_iteration_count(r->t) + 1,
	          (unsigned long long)gnarl_trainer_env_steps(r->t),
	          (unsigned long long)gnarl_trainer_episodes(r->t), run_root(r),
	          *run_root(r) ? "/" : "", r->run,
	          why ? "envs start new episodes: " : "envs continue their running episodes",
	          why ? why : "");
	if (gnarl_trainer_done(r->t))
		gnarl_log(GNARL_LOG_WARN, NULL, "nothing left to train: the checkpoint is at env "
		          "step %llu and ppo.total_steps is %lld (raise it to train on)",
		          (unsigned long long)gnarl_trainer_env_steps(r->t),
		          (long long)gnarl_value_int(gnarl_value_at(r->cfg->root, "ppo.total_steps"),
		                                     0));
	rc = r->parent ? 0 : gnarl_err(err, GNARL_ENOMEM, "out of memory");
out:
	free(load);
	free(map);
	free(fresh);
	return rc;
}
