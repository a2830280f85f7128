/*
 * resume_restore.c - loading a checkpoint into a new trainer (see
 * resume.h): gnarl_resume_restore.
 *
 * Invariants: every tensor to load is checked (by name, dtype, shape)
 * before the first byte is copied, so a refusal leaves the learner as it
 * was; what this run cannot use is skipped, never refused: the per-env
 * state when env.num_envs changed, the running episodes when the envs
 * start new ones; reward-term columns follow their names.  Data-parallel,
 * every rank loads the same checkpoint; only rank 0 may continue the
 * running episodes it holds, the others start new ones.
 */
#include "resume.h"
#include "resume_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "config.h"
#include "episode.h"
#include "error.h"
#include "log.h"
#include "plugin_host.h"
#include "registry.h"
#include "rollout.h"
#include "safetensors.h"
#include "storage.h"
#include "term.h"
#include "trainer.h"
#include "value.h"

/* Tensors whose shape is (N, ...): skipped when env.num_envs changed. */
static const char *const per_env[] = {"ret_rms.returns",       "episode.numbers", "episode.running",
                                      "episode.running_terms", "rollout.obs",     NULL};
/* The running episodes: loaded only when the envs continue them. */
static const char *const running[] = {"ret_rms.returns", "episode.running", "episode.running_terms",
                                      "rollout.obs", NULL};
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

static const struct gnarl_tensor *find_view(struct gnarl_resume *r, uint32_t n, const char *name)
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

/* The name of item j of a config's plugin list (`name`, else `plugin`),
 * "#n" appended for its n-th use (owned; NULL: no memory). */
static char *config_label(json_t *items, size_t j)
{
	json_t *it = json_array_get(items, j);
	const char *name = json_string_value(json_object_get(it, "name"));
	char label[160];
	int nth = 1;

	name = name ? name : json_string_value(json_object_get(it, "plugin"));
	name = name ? name : "?";
	for (size_t i = 0; i < j; i++) {
		json_t *o = json_array_get(items, i);
		const char *on = json_string_value(json_object_get(o, "name"));

		on = on ? on : json_string_value(json_object_get(o, "plugin"));
		nth += on && strcmp(on, name) == 0;
	}
	if (nth > 1)
		snprintf(label, sizeof(label), "%s#%d", name, nth);
	else
		snprintf(label, sizeof(label), "%s", name);
	return strdup(label);
}

static bool push(char ***out, size_t *n, size_t *cap, char *s)
{
	if (*n == *cap) {
		size_t c = 2 * *cap + 8;
		char **p = realloc(*out, c * sizeof(*p));

		if (!p) {
			free(s);
			return false;
		}
		*out = p;
		*cap = c;
	}
	(*out)[(*n)++] = s;
	return true;
}

/* Labels of a checkpoint's episode columns (owned, *n of them): its
 * "episode.term_names", or for checkpoints without it, its config's reward
 * and LLM entries in that order. */
static char **old_labels(const struct gnarl_checkpoint *ck, uint32_t *n)
{
	const struct gnarl_safetensors_entry *e =
	    gnarl_safetensors_find(gnarl_checkpoint_tensors(ck), "episode.term_names");
	char **out = NULL;
	size_t count = 0, cap = 0;

	if (e && e->dtype == GNARL_DTYPE_U8) {
		const char *p = (const char *)e->data, *end = p + (e->end - e->begin);

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

			if (!push(&out, &count, &cap, strndup(p, len)))
				break;
			p += len + 1;
		}
	} else {
		json_t *root = json_loads(gnarl_checkpoint_manifest(ck)->json, 0, NULL);
		json_t *cfg = json_object_get(root, "config");

		for (int list = 0; list < 2; list++) {
			json_t *items = json_object_get(cfg, list ? "llm" : "rewards");

			for (size_t j = 0; j < json_array_size(items); j++)
				if (!push(&out, &count, &cap, config_label(items, j)))
					break;
		}
		json_decref(root);
	}
	*n = (uint32_t)count;
	return out;
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
				memcpy(&v,
				       e->data + (row * old_k + (uint64_t)map[k]) * sizeof(double),
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
	if (gnarl_trainer_rank(r->t) != 0)
		snprintf(r->why, sizeof(r->why),
		         "rank %d of a data-parallel run (a checkpoint "
		         "holds rank 0's envs only)",
		         gnarl_trainer_rank(r->t));
	else if (!gnarl_plugin_env_has_state(ops))
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

/* The name reward term k's plugin declares. */
static const char *plugin_name(const struct gnarl_resume *r, uint32_t k)
{
	return gnarl_registry_get(gnarl_trainer_registry(r->t), GNARL_KIND_REWARD, k)->desc->name;
}

/* Term k's host memory (ABI 1.1) from the checkpoint: its tensor, or for
 * checkpoints from before ABI 1.1 the blob its in-tree plugin wrote in its own
 * framing, when that holds the same records.  true when loaded; false with
 * a line saying why the term starts empty. */
static bool load_memory(struct gnarl_resume *r, const struct gnarl_safetensors *sf, uint32_t k,
                        const struct gnarl_rollout_reward *w)
{
	const struct gnarl_safetensors_entry *e = gnarl_safetensors_find(sf, r->term_memory_names[k]);
	const struct gnarl_safetensors_entry *old = gnarl_safetensors_find(sf, r->term_blobs[k].name);
	char err[GNARL_ERR_SIZE] = "";
	int rc;

	if (e && e->ndim == 2 && e->shape[0] != w->term->n_envs)
		return false; /* another env count: every env starts an episode anyway */
	if (e)
		rc = e->dtype == GNARL_DTYPE_U8 && e->ndim == 2
		         ? gnarl_term_set_memory(w->term, e->data, e->shape[0], e->shape[1], err)
		         : gnarl_err(err, GNARL_ECORRUPT, "%s is not a (envs, bytes) U8 tensor",
		                     e->name);
	else if (old && old->dtype == GNARL_DTYPE_U8 && old->ndim == 1)
		rc = gnarl_term_set_legacy_memory(w->term, plugin_name(r, k), old->data,
		                                  (size_t)(old->end - old->begin), err);
	else
		rc = gnarl_err(err, GNARL_ENOENT, "the checkpoint holds none");
	if (rc == 0)
		return true;
	gnarl_log(GNARL_LOG_INFO, "resume", "reward term '%s' starts with empty memory: %s",
	          r->term_labels[k], err);
	return false;
}

/* Give each reward term its saved memory, matched by name; fresh[k] is
 * set for terms that start empty (new, params changed, nothing saved).
 * A term keeps its memory through ABI 1.1's host memory, through its own
 * save/load (1.0), or both. */
static void load_terms(struct gnarl_resume *r, const struct gnarl_resume_point *p,
                       const int32_t *map, bool *fresh)
{
	const struct gnarl_safetensors *sf = gnarl_checkpoint_tensors(p->ck);
	struct gnarl_rollout *ro = gnarl_trainer_rollout(r->t);
	char err[GNARL_ERR_SIZE];

	for (uint32_t k = 0; k < r->K; k++) {
		const struct gnarl_rollout_reward *w = gnarl_rollout_reward(ro, k);
		const struct gnarl_reward_ops *ops = w->term->ops;
		const struct gnarl_safetensors_entry *e =
		    gnarl_safetensors_find(sf, r->term_blobs[k].name);
		int rc;

		fresh[k] = true;
		if (map[k] < 0) {
			gnarl_log(GNARL_LOG_INFO, "resume",
			          "reward term '%s' is new in this run: it "
			          "starts with empty memory",
			          r->term_labels[k]);
			continue;
		}
		if (!gnarl_plugin_term_has_state(ops) && !w->term->memory)
			continue;
		if (term_params_changed(p->diff, r->term_labels[k])) {
			gnarl_log(GNARL_LOG_INFO, "resume",
			          "reward term '%s' has new params: its saved "
			          "memory is not loaded",
			          r->term_labels[k]);
			continue;
		}
		if (w->term->memory && !load_memory(r, sf, k, w))
			continue;
		if (!gnarl_plugin_term_has_state(ops) || !e) {
			fresh[k] = !w->term->memory;
			continue;
		}
		err[0] = '\0';
		rc = e->dtype == GNARL_DTYPE_U8 && e->ndim == 1
		         ? ops->load(w->term->inst, e->data, (size_t)(e->end - e->begin), err)
		         : GNARL_ECORRUPT;
		if (rc < 0) {
			gnarl_log(GNARL_LOG_WARN, "resume",
			          "reward term '%s' refused its saved memory "
			          "(%s): it starts empty",
			          r->term_labels[k], err[0] ? err : gnarl_strerror(rc));
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
		if (!fresh[k])
			continue;
		for (uint32_t n = 0; n < N; n++)
			gnarl_term_episode_start(w->term, n, states ? &states[n] : NULL);
	}
	return 0;
}

/* The archive of start states: the checkpoint's when this run keeps one
 * and it fits (same env, state size, cells), else an empty one; said
 * once, by rank 0 (every rank loads the same). */
static void load_archive(struct gnarl_resume *r, const struct gnarl_resume_point *p)
{
	const struct gnarl_safetensors_entry *e =
	    gnarl_safetensors_find(gnarl_checkpoint_tensors(p->ck), GNARL_ARCHIVE_TENSOR);
	struct gnarl_archive *a = gnarl_trainer_archive(r->t);
	bool say = gnarl_trainer_rank(r->t) == 0;
	struct gnarl_archive_stats st;
	char err[GNARL_ERR_SIZE] = "";
	int rc;

	if (!a) {
		if (e && say)
			gnarl_log(GNARL_LOG_INFO, "archive", "the checkpoint's archive of start states "
			          "is not used: archive.enabled is false in this run");
		return;
	}
	if (!e) {
		if (say)
			gnarl_log(GNARL_LOG_INFO, "archive", "the checkpoint holds no archive of start "
			          "states: the archive starts empty");
		return;
	}
	rc = e->dtype == GNARL_DTYPE_U8 && e->ndim == 1
	         ? gnarl_archive_load(a, e->data, (size_t)(e->end - e->begin), err)
	         : gnarl_err(err, GNARL_ECORRUPT, "not a byte tensor");
	gnarl_archive_stats(a, &st);
	if (rc < 0 && say)
		gnarl_log(GNARL_LOG_WARN, "archive", "the checkpoint's archive of start states is not "
		          "loaded (%s): the archive starts empty", err);
	else if (say)
		gnarl_log(GNARL_LOG_INFO, "archive", "archive of start states from the checkpoint: "
		          "%u cells in %u rooms", st.cells, st.rooms);
}

/* The views to load (into load[]), skipping what this run cannot use. */
static uint32_t plan_load(struct gnarl_resume *r, const struct gnarl_safetensors *sf, uint32_t n,
                          bool same_n, bool same_terms, bool exact, struct gnarl_tensor *load)
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
	uint32_t n = gnarl_resume_base_tensors(r), nl, old_k = 0;
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
	load_archive(r, p);
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
	if (gnarl_trainer_rank(r->t) == 0)
		gnarl_log(GNARL_LOG_INFO, NULL,
		          "resumed at iteration %llu (env steps %llu, episodes "
		          "%llu) in %s%s%s; %s%s",
		          (unsigned long long)gnarl_trainer_iteration_count(r->t) + 1,
		          (unsigned long long)gnarl_trainer_env_steps(r->t),
		          (unsigned long long)gnarl_trainer_episodes(r->t), run_root(r),
		          *run_root(r) ? "/" : "", r->run,
		          why ? "envs start new episodes: "
		              : "envs continue their running episodes",
		          why ? why : "");
	if (gnarl_trainer_done(r->t) && gnarl_trainer_rank(r->t) == 0)
		gnarl_log(
		    GNARL_LOG_WARN, NULL,
		    "nothing left to train: the checkpoint is at env "
		    "step %llu and ppo.total_steps is %lld (raise it to train on)",
		    (unsigned long long)gnarl_trainer_env_steps(r->t),
		    (long long)gnarl_value_int(gnarl_value_at(r->cfg->root, "ppo.total_steps"), 0));
	rc = r->parent ? 0 : gnarl_err(err, GNARL_ENOMEM, "out of memory");
out:
	free(load);
	free(map);
	free(fresh);
	return rc;
}
