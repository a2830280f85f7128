/*
 * checkpoint.c - save, find, verify and load checkpoints through storage.
 *
 * Entry points: gnarl_checkpoint_save (= _encode + _write), gnarl_checkpoint_open (+ its
 * accessors and gnarl_checkpoint_load), gnarl_checkpoint_tag.  Keys, URI
 * resolution, retention and listing live in checkpoint_list.c (below this
 * file: it opens no checkpoint), the compatibility diff in checkpoint_diff.c.
 * Invariants:
 *  - save order is model.safetensors, manifest.json, run `latest`, root
 *    `latest`, then retention; storage puts are atomic, so every state a
 *    crash can leave has `latest` naming a checkpoint with a manifest whose
 *    checksums match.
 *  - a failed PUT may have landed (its reply was lost): a checkpoint is
 *    saved exactly when its manifest is in the store, so a failed manifest
 *    PUT is read back before it is called lost.
 *  - retention removes a checkpoint's manifest before its other files, so
 *    a half-removed checkpoint is no checkpoint; it never removes the one
 *    just saved.
 *  - open verifies every file the manifest lists before anything is handed
 *    out; load copies nothing unless every tensor matches.
 */
#include "checkpoint.h"
#include "checkpoint_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clock.h"
#include "error.h"
#include "hash.h"
#include "log.h"
#include "safetensors.h"
#include "storage.h"
#include "value.h"

#define MODEL_FILE "model.safetensors"
#define MANIFEST_FILE "manifest.json"
#define FORMAT_NAME "gnarl-checkpoint"

struct gnarl_checkpoint {
	struct gnarl_storage *st;       /* borrowed or own_st */
	struct gnarl_storage *own_st;
	char *key;                      /* checkpoint directory in st */
	struct gnarl_manifest m;
	char *uri, *manifest_text;
	json_t *root;                   /* the parsed manifest */
	char **actions;
	void *model;                    /* model.safetensors bytes */
	size_t model_len;
	struct gnarl_safetensors *sf;
};

/* ---- saving ----------------------------------------------------------- */

static json_t *value_json(const struct gnarl_value *v)
{
	char *text;
	json_t *j;

	if (!v)
		return json_null();
	text = gnarl_value_to_json(v, false);
	if (!text)
		return NULL;
	j = json_loads(text, JSON_DECODE_ANY, NULL);
	free(text);
	return j;
}

static void utc_now(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static int manifest_lists(json_t *root, const struct gnarl_manifest_info *info)
{
	json_t *actions = json_array(), *plugins = json_array(), *metrics = json_object();
	json_t *rngs = json_object();
	int rc = 0;

	rc |= json_object_set_new(root, "actions", actions);
	rc |= json_object_set_new(root, "plugins", plugins);
	rc |= json_object_set_new(root, "metrics", metrics);
	rc |= json_object_set_new(root, "rng", rngs);
	if (rc)
		return -1;
	for (uint32_t i = 0; i < info->n_actions; i++)
		rc |= json_array_append_new(actions, json_string(info->action_names[i]));
	for (size_t i = 0; i < info->n_plugins; i++)
		rc |= json_array_append_new(plugins, json_pack("{s:s?, s:s?, s:s?}",
		                            "kind", info->plugins[i].kind, "name",
		                            info->plugins[i].name, "version",
		                            info->plugins[i].version));
	for (size_t i = 0; i < info->n_metrics; i++)
		rc |= json_object_set_new(metrics, info->metrics[i].name,
		                          number_or_null(info->metrics[i].value));
	for (size_t i = 0; i < info->n_rngs; i++) {
		json_t *s = json_array();
		char hex[17];

		rc |= json_object_set_new(rngs, info->rngs[i].name, s);
		for (int k = 0; k < 4 && s; k++) {
			snprintf(hex, sizeof(hex), "%016" PRIx64, info->rngs[i].s[k]);
			rc |= json_array_append_new(s, json_string(hex));
		}
	}
	return rc ? -1 : 0;
}

/* The manifest text, or NULL (out of memory or an unserialisable value). */
static char *manifest_build(const struct gnarl_manifest_info *info, const char *sha,
                            size_t model_len)
{
	char when[32];
	json_t *root;
	char *text = NULL;

	utc_now(when);
	root = json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:i, s:o, s:{s:s?, s:o}, s:s?}",
	                 "format", FORMAT_NAME, "format_version", GNARL_CHECKPOINT_FORMAT,
	                 "gnarl_version", GNARL_VERSION, "created_utc", when,
	                 "iteration", (json_int_t)info->iteration,
	                 "env_steps", (json_int_t)info->env_steps,
	                 "episodes", (json_int_t)info->episodes,
	                 "observation_size", (int)info->obs_size,
	                 "network", value_json(info->network),
	                 "env", "plugin", info->env_plugin, "params", value_json(info->env_params),
	                 "parent", info->parent);
	if (!root || manifest_lists(root, info) < 0 ||
	    json_object_set_new(root, "files",
	                        json_pack("{s:{s:I, s:s}}", MODEL_FILE, "size",
	                                  (json_int_t)model_len, "sha256", sha)) < 0 ||
	    json_object_set_new(root, "config", value_json(info->config)) < 0)
		goto out;
	text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
out:
	json_decref(root);
	return text;
}

/* 1: a whole checkpoint with the same model exists; 0: none (or only an
 * incomplete one); GNARL_EEXIST: a different one does. */
static int same_exists(struct gnarl_storage *st, const char *dir, const char *sha,
                       char err[GNARL_ERR_SIZE])
{
	char *key = gnarl_checkpoint_join(dir, MANIFEST_FILE), *text = NULL;
	json_t *root = NULL;
	const char *old;
	size_t len;
	int rc;

	if (!key)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	rc = gnarl_storage_exists(st, key, err);
	if (rc <= 0)
		goto out;
	rc = gnarl_storage_get(st, key, (void **)&text, &len, err);
	if (rc < 0)
		goto out;
	root = json_loadb(text, len, 0, NULL);
	old = json_string_value(json_object_get(json_object_get(json_object_get(root, "files"),
	                                                        MODEL_FILE), "sha256"));
	rc = old && strcmp(old, sha) == 0
	         ? 1
	         : gnarl_err(err, GNARL_EEXIST,
	                     "checkpoint %s already exists with other weights: a run directory "
	                     "holds one checkpoint per iteration (start a new run directory)", dir);
out:
	json_decref(root);
	free(text);
	free(key);
	return rc;
}

/* Move the run's `latest`, then the run root's. */
static int move_latest(struct gnarl_storage *st, const char *run, const char *name,
                       char err[GNARL_ERR_SIZE])
{
	char *key = gnarl_checkpoint_join(run, "checkpoints/latest"), *parent = NULL, *target = NULL;
	char *base = NULL;
	int rc = GNARL_ENOMEM;

	if (!key)
		goto out;
	rc = gnarl_checkpoint_put_pointer(st, key, name, err);
	if (rc < 0 || !*run)
		goto out;
	free(key);
	rc = GNARL_ENOMEM;
	parent = gnarl_checkpoint_dirname(run);
	base = parent ? strdup(run + (*parent ? strlen(parent) + 1 : 0)) : NULL;
	target = base ? gnarl_checkpoint_join3(base, "checkpoints", name) : NULL;
	key = target ? gnarl_checkpoint_join(parent, "latest") : NULL;
	if (key)
		rc = gnarl_checkpoint_put_pointer(st, key, target, err);
out:
	if (rc == GNARL_ENOMEM)
		gnarl_err(err, rc, "checkpoint: out of memory");
	free(key);
	free(parent);
	free(base);
	free(target);
	return rc;
}

void gnarl_checkpoint_encoded_free(struct gnarl_checkpoint_encoded *ck)
{
	if (!ck)
		return;
	free(ck->model);
	free(ck->manifest);
	free(ck);
}

int gnarl_checkpoint_encode(const struct gnarl_tensor *t, size_t n,
                            const struct gnarl_manifest_info *info,
                            struct gnarl_checkpoint_encoded **out, char err[GNARL_ERR_SIZE])
{
	static const struct gnarl_safetensors_meta meta[] = {{"format", "pt"}};
	struct gnarl_checkpoint_encoded *ck;
	double t0;
	int rc;

	*out = NULL;
	t0 = gnarl_clock_monotonic();
	if ((info->n_actions && !info->action_names) || (info->n_plugins && !info->plugins) ||
	    (info->n_metrics && !info->metrics) || (info->n_rngs && !info->rngs))
		return gnarl_err(err, GNARL_EINVAL, "saving checkpoint: the manifest info has a "
		                 "count without its array");
	ck = calloc(1, sizeof(*ck));
	if (!ck)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	ck->iteration = info->iteration;
	snprintf(ck->name, sizeof(ck->name), "checkpoint_%06" PRIu64, info->iteration);
	rc = gnarl_safetensors_write(t, n, meta, 1, &ck->model, &ck->model_len, err);
	if (rc == 0)
		rc = gnarl_hash_sha256_hex(ck->model, ck->model_len, ck->sha256, err);
	if (rc == 0 && !(ck->manifest = manifest_build(info, ck->sha256, ck->model_len)))
		rc = gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	if (rc < 0) {
		gnarl_err_prefix(err, rc, "saving checkpoint %s: ", ck->name);
		gnarl_checkpoint_encoded_free(ck);
		return rc;
	}
	ck->encode_seconds = gnarl_clock_monotonic() - t0;
	*out = ck;
	return 0;
}

int gnarl_checkpoint_landed(struct gnarl_storage *st, const char *run_prefix, const char *name,
                            const char *manifest, char err[GNARL_ERR_SIZE])
{
	char *key = gnarl_checkpoint_join3(run_prefix ? run_prefix : "", "checkpoints", name);
	char *full = key ? gnarl_checkpoint_join(key, MANIFEST_FILE) : NULL, *text = NULL;
	size_t len = 0;
	int rc;

	if (!full) {
		rc = gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
		goto out;
	}
	rc = gnarl_storage_get(st, full, (void **)&text, &len, err);
	if (rc == GNARL_ENOENT)
		rc = 0;
	else if (rc == 0)
		rc = !manifest || (len == strlen(manifest) && memcmp(text, manifest, len) == 0);
out:
	free(text);
	free(full);
	free(key);
	return rc;
}

/* The manifest's PUT failed: did it land anyway?  Decides what the write
 * reports (err gets what was found). */
static int manifest_failed(struct gnarl_storage *st, const char *run,
                           const struct gnarl_checkpoint_encoded *ck, const char *dir, int rc,
                           struct gnarl_checkpoint_written *out, char err[GNARL_ERR_SIZE])
{
	char why[GNARL_ERR_SIZE], check[GNARL_ERR_SIZE];
	int landed;

	snprintf(why, sizeof(why), "%s", err);
	landed = gnarl_checkpoint_landed(st, run, ck->name, ck->manifest, check);
	if (landed == 1) {
		gnarl_log(GNARL_LOG_WARN, "checkpoint", "%s: the store failed the manifest's write "
		          "(%s), but reading it back shows it landed whole: the checkpoint is saved",
		          dir, why);
		return 0;
	}
	if (landed == 0)
		return gnarl_err(err, rc, "%s (read back: its manifest is not in the store, so the "
		                 "checkpoint does not exist)", why);
	if (out)
		out->unconfirmed = true;
	return gnarl_err(err, rc, "%s (and reading the manifest back failed too, so whether it "
	                 "landed is not known yet: %s)", why, check);
}

int gnarl_checkpoint_write(struct gnarl_storage *st, const char *run_prefix,
                           const struct gnarl_checkpoint_encoded *ck,
                           const struct gnarl_checkpoint_retention *keep,
                           struct gnarl_checkpoint_written *out, char err[GNARL_ERR_SIZE])
{
	const char *run = run_prefix ? run_prefix : "";
	char *dir = gnarl_checkpoint_join3(run, "checkpoints", ck->name), *key = NULL;
	int rc = GNARL_ENOMEM;

	if (out)
		*out = (struct gnarl_checkpoint_written){0};
	if (!dir)
		goto fail;
	rc = same_exists(st, dir, ck->sha256, err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		/* A failed model PUT needs no check: without a manifest there
		 * is no checkpoint, whatever landed. */
		key = gnarl_checkpoint_join(dir, MODEL_FILE);
		rc = key ? gnarl_storage_put(st, key, ck->model, ck->model_len, err) : GNARL_ENOMEM;
		free(key);
		key = gnarl_checkpoint_join(dir, MANIFEST_FILE);
		if (rc == 0) {
			rc = key ? gnarl_storage_put(st, key, ck->manifest, strlen(ck->manifest), err)
			         : GNARL_ENOMEM;
			if (rc < 0 && rc != GNARL_ENOMEM)
				rc = manifest_failed(st, run, ck, dir, rc, out, err);
		}
		if (rc < 0)
			goto fail;
	}
	/* Whole now: a failure from here on leaves it saved. */
	if (out && !(out->uri = gnarl_checkpoint_uri_of(st, dir))) {
		rc = GNARL_ENOMEM;
		goto fail;
	}
	rc = move_latest(st, run, ck->name, err);
	if (rc < 0) {
		gnarl_log(GNARL_LOG_WARN, "checkpoint", "%s is saved, but `latest` still names an "
		          "earlier checkpoint: moving it failed: %s", dir, err);
		if (out)
			out->latest_stale = true;
	} else if (keep && gnarl_checkpoint_prune(st, run, ck->name, keep, err) < 0) {
		gnarl_log(GNARL_LOG_WARN, "checkpoint", "retention after saving %s: %s", dir, err);
	}
	rc = 0;
	goto out;
fail:
	if (rc == GNARL_ENOMEM)
		gnarl_err(err, rc, "checkpoint: out of memory");
	gnarl_err_prefix(err, rc, "saving checkpoint %s: ", dir ? dir : ck->name);
	if (out) {
		free(out->uri);
		out->uri = NULL;
	}
out:
	free(key);
	free(dir);
	return rc;
}

int gnarl_checkpoint_save(struct gnarl_storage *st, const char *run_prefix,
                          const struct gnarl_tensor *t, size_t n,
                          const struct gnarl_manifest_info *info,
                          const struct gnarl_checkpoint_retention *keep, char **out_uri,
                          char err[GNARL_ERR_SIZE])
{
	struct gnarl_checkpoint_encoded *ck;
	struct gnarl_checkpoint_written w;
	int rc;

	if (out_uri)
		*out_uri = NULL;

	rc = gnarl_checkpoint_encode(t, n, info, &ck, err);
	if (rc == 0)
		rc = gnarl_checkpoint_write(st, run_prefix, ck, keep, &w, err);
	gnarl_checkpoint_encoded_free(ck);
	if (rc == 0 && out_uri)
		*out_uri = w.uri;
	else if (rc == 0)
		free(w.uri);
	return rc;
}

/* ---- opening ---------------------------------------------------------- */

void gnarl_checkpoint_close(struct gnarl_checkpoint *ck)
{
	if (!ck)
		return;
	gnarl_safetensors_free(ck->sf);
	free(ck->model);
	json_decref(ck->root);
	free(ck->actions);
	free(ck->manifest_text);
	free(ck->uri);
	free(ck->key);
	gnarl_storage_close(ck->own_st);
	free(ck);
}

static int u64_field(json_t *root, const char *name, uint64_t *out, const char *where,
                     char err[GNARL_ERR_SIZE])
{
	json_t *v = json_object_get(root, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return gnarl_err(err, GNARL_ECORRUPT, "%s: '%s' is missing or not a non-negative "
		                 "integer", where, name);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int read_manifest_fields(struct gnarl_checkpoint *ck, const char *where,
                                char err[GNARL_ERR_SIZE])
{
	struct gnarl_manifest *m = &ck->m;
	json_t *root = ck->root, *actions = json_object_get(root, "actions"), *v;
	uint64_t obs = 0;
	int rc = 0;

	rc = rc ? rc : u64_field(root, "iteration", &m->iteration, where, err);
	rc = rc ? rc : u64_field(root, "env_steps", &m->env_steps, where, err);
	rc = rc ? rc : u64_field(root, "episodes", &m->episodes, where, err);
	rc = rc ? rc : u64_field(root, "observation_size", &obs, where, err);
	if (rc < 0)
		return rc;
	m->obs_size = (uint32_t)obs;
	if (!json_is_array(actions) || !json_is_object(json_object_get(root, "files")))
		return gnarl_err(err, GNARL_ECORRUPT, "%s: 'actions' or 'files' is missing", where);
	m->n_actions = (uint32_t)json_array_size(actions);
	ck->actions = calloc(m->n_actions + 1, sizeof(char *));
	if (!ck->actions)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	for (uint32_t i = 0; i < m->n_actions; i++) {
		ck->actions[i] = (char *)json_string_value(json_array_get(actions, i));
		if (!ck->actions[i])
			return gnarl_err(err, GNARL_ECORRUPT, "%s: actions[%u] is not a string", where, i);
	}
	m->action_names = (const char *const *)ck->actions;
	m->gnarl_version = json_string_value(json_object_get(root, "gnarl_version"));
	m->created_utc = json_string_value(json_object_get(root, "created_utc"));
	m->parent = json_string_value(json_object_get(root, "parent"));
	m->env_plugin = json_string_value(json_object_get(json_object_get(root, "env"), "plugin"));
	m->gnarl_version = m->gnarl_version ? m->gnarl_version : "?";
	m->created_utc = m->created_utc ? m->created_utc : "?";
	m->env_plugin = m->env_plugin ? m->env_plugin : "";
	v = json_object_get(json_object_get(root, "metrics"), "ep_return_mean");
	m->ep_return_mean = json_is_number(v) ? json_number_value(v) : NAN;
	return 0;
}

/* Parse and check the manifest text already in ck->manifest_text. */
static int parse_manifest(struct gnarl_checkpoint *ck, size_t len, char err[GNARL_ERR_SIZE])
{
	char where[GNARL_ERR_SIZE / 2];
	json_error_t jerr;
	json_t *fv;
	const char *fmt;

	snprintf(where, sizeof(where), "%s/%s", ck->uri, MANIFEST_FILE);
	ck->root = json_loadb(ck->manifest_text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(ck->root))
		return gnarl_err(err, GNARL_ECORRUPT, "%s is not a JSON object (line %d: %s): the "
		                 "file is damaged", where, jerr.line, ck->root ? "" : jerr.text);
	fmt = json_string_value(json_object_get(ck->root, "format"));
	fv = json_object_get(ck->root, "format_version");
	if (!fmt || strcmp(fmt, FORMAT_NAME) != 0 || !json_is_integer(fv) ||
	    json_integer_value(fv) < 1)
		return gnarl_err(err, GNARL_ECORRUPT, "%s is not a gnarl checkpoint manifest "
		                 "(format '%s', format_version missing or < 1)", where,
		                 fmt ? fmt : "(none)");
	ck->m.format_version = json_integer_value(fv);
	if (ck->m.format_version > GNARL_CHECKPOINT_FORMAT)
		return gnarl_err(err, GNARL_EVERSION,
		                 "%s has checkpoint format %" PRId64 " (written by gnarl %s); this "
		                 "gnarl %s reads formats up to %d: upgrade gnarl to restore it",
		                 where, ck->m.format_version,
		                 json_string_value(json_object_get(ck->root, "gnarl_version"))
		                     ? json_string_value(json_object_get(ck->root, "gnarl_version"))
		                     : "?",
		                 GNARL_VERSION, GNARL_CHECKPOINT_FORMAT);
	return read_manifest_fields(ck, where, err);
}

/* Read one file the manifest lists and check its size and SHA-256. */
static int verify_file(struct gnarl_checkpoint *ck, const char *name, json_t *desc,
                       void **data, size_t *len, char err[GNARL_ERR_SIZE])
{
	char sha[GNARL_HASH_SHA256_HEX], *key = gnarl_checkpoint_join(ck->key, name);
	json_t *size = json_object_get(desc, "size");
	const char *want = json_string_value(json_object_get(desc, "sha256"));
	int rc;

	*data = NULL;
	if (!key)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	if (!json_is_integer(size) || !want || strlen(want) != 64) {
		rc = gnarl_err(err, GNARL_ECORRUPT, "%s/%s: the manifest gives no size and sha256 "
		               "for %s", ck->uri, MANIFEST_FILE, name);
		goto out;
	}
	rc = gnarl_storage_get(ck->st, key, data, len, err);
	if (rc == GNARL_ENOENT)
		rc = gnarl_err(err, rc, "%s/%s is missing (the manifest lists it): the checkpoint is "
		               "damaged", ck->uri, name);
	if (rc < 0)
		goto out;
	if ((json_int_t)*len != json_integer_value(size)) {
		rc = gnarl_err(err, GNARL_ECORRUPT, "%s/%s is %zu bytes but the manifest says %"
		               JSON_INTEGER_FORMAT ": the file is %s", ck->uri, name, *len,
		               json_integer_value(size),
		               (json_int_t)*len < json_integer_value(size) ? "truncated" : "damaged");
		goto out;
	}
	rc = gnarl_hash_sha256_hex(*data, *len, sha, err);
	if (rc == 0 && strcmp(sha, want) != 0) {
		/* Bytes can be damaged on the way (a remote store): once more
		 * before the file is called corrupt. */
		free(*data);
		*data = NULL;
		rc = gnarl_storage_get(ck->st, key, data, len, err);
		if (rc == 0)
			rc = gnarl_hash_sha256_hex(*data, *len, sha, err);
		if (rc == 0 && strcmp(sha, want) == 0)
			gnarl_log(GNARL_LOG_WARN, "checkpoint", "%s/%s did not match the manifest's "
			          "SHA-256 as read, and does read again: it was damaged in transit",
			          ck->uri, name);
		else if (rc == 0)
			rc = gnarl_err(err, GNARL_ECORRUPT, "checksum mismatch in %s/%s: its SHA-256 "
			               "is %s but the manifest says %s (read twice): the file is "
			               "corrupt or was modified", ck->uri, name, sha, want);
	}
out:
	if (rc < 0) {
		free(*data);
		*data = NULL;
	}
	free(key);
	return rc;
}

static int verify_files(struct gnarl_checkpoint *ck, char err[GNARL_ERR_SIZE])
{
	json_t *files = json_object_get(ck->root, "files"), *desc;
	const char *name;
	void *data;
	size_t len;
	int rc;

	if (!json_object_get(files, MODEL_FILE))
		return gnarl_err(err, GNARL_ECORRUPT, "%s/%s lists no %s", ck->uri, MANIFEST_FILE,
		                 MODEL_FILE);
	json_object_foreach (files, name, desc) {
		if (strchr(name, '/') || name[0] == '.')
			return gnarl_err(err, GNARL_ECORRUPT, "%s/%s lists a bad file name '%s'",
			                 ck->uri, MANIFEST_FILE, name);
		rc = verify_file(ck, name, desc, &data, &len, err);
		if (rc < 0)
			return rc;
		if (strcmp(name, MODEL_FILE) == 0) {
			ck->model = data;
			ck->model_len = len;
		} else {
			free(data);
		}
	}
	return 0;
}

static int stop_at_first(void *ctx, const char *key, uint64_t size)
{
	(void)key;
	(void)size;
	*(bool *)ctx = true;
	return 1;
}

/* Does anything live under key/?  1, 0, or the list's error (a missing
 * bucket says so: the GET of a key in it only said "not found"). */
static int dir_exists(struct gnarl_storage *st, const char *key, char err[GNARL_ERR_SIZE])
{
	size_t n = strlen(key);
	char *prefix = malloc(n + 2);
	bool any = false;
	int rc;

	if (!prefix)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	memcpy(prefix, key, n);
	strcpy(prefix + n, n && key[n - 1] != '/' ? "/" : "");
	rc = gnarl_storage_list(st, prefix, stop_at_first, &any, err);
	free(prefix);
	return rc < 0 && rc != GNARL_EINTERRUPTED ? rc : any;
}

int gnarl_checkpoint_open(const struct gnarl_config *cfg, struct gnarl_storage *st,
                          const char *base, const char *uri, unsigned flags,
                          struct gnarl_checkpoint **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_checkpoint *ck = calloc(1, sizeof(*ck));
	char *key = NULL, what[GNARL_ERR_SIZE / 2];
	size_t len;
	int rc, found;

	*out = NULL;
	if (!ck)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	rc = gnarl_checkpoint_resolve(cfg, st, base, uri, &ck->st, &ck->own_st, &ck->key, err);
	if (rc < 0)
		goto out;
	rc = GNARL_ENOMEM;
	ck->uri = gnarl_checkpoint_uri_of(ck->st, ck->key);
	key = ck->uri ? gnarl_checkpoint_join(ck->key, MANIFEST_FILE) : NULL;
	if (!key)
		goto out;
	ck->m.uri = ck->uri;
	rc = gnarl_storage_get(ck->st, key, (void **)&ck->manifest_text, &len, err);
	found = rc == GNARL_ENOENT ? dir_exists(ck->st, ck->key, err) : 1;
	if (found < 0)
		rc = found;
	else if (found == 0)
		rc = gnarl_err(err, rc, "no checkpoint at %s: nothing is stored there, so it has no "
		               "manifest.json (give a checkpoint or run directory, s3:// URI, latest "
		               "or tag:NAME)", ck->uri);
	else if (rc == GNARL_ENOENT)
		rc = gnarl_err(err, rc, "checkpoint %s has no %s: it is not a checkpoint, or its save "
		               "was interrupted (see gnarl checkpoints list)", ck->uri, MANIFEST_FILE);
	if (rc < 0)
		goto out;
	ck->m.json = ck->manifest_text;
	rc = parse_manifest(ck, len, err);
	if (rc < 0 || (flags & GNARL_CHECKPOINT_MANIFEST_ONLY))
		goto out;
	rc = verify_files(ck, err);
	if (rc < 0)
		goto out;
	snprintf(what, sizeof(what), "%s/%s", ck->uri, MODEL_FILE);
	rc = gnarl_safetensors_parse(ck->model, ck->model_len, what, &ck->sf, err);
out:
	free(key);
	if (rc == GNARL_ENOMEM)
		gnarl_err(err, rc, "checkpoint: out of memory");
	if (rc < 0) {
		gnarl_checkpoint_close(ck);
		return rc;
	}
	*out = ck;
	return 0;
}

const struct gnarl_manifest *gnarl_checkpoint_manifest(const struct gnarl_checkpoint *ck)
{
	return &ck->m;
}

double gnarl_checkpoint_metric(const struct gnarl_checkpoint *ck, const char *name,
                               double fallback)
{
	json_t *v = json_object_get(json_object_get(ck->root, "metrics"), name);

	return json_is_number(v) ? json_number_value(v) : fallback;
}

int gnarl_checkpoint_rng(const struct gnarl_checkpoint *ck, const char *name, uint64_t s[4])
{
	json_t *v = json_object_get(json_object_get(ck->root, "rng"), name);
	uint64_t tmp[4];

	if (!json_is_array(v) || json_array_size(v) != 4)
		return GNARL_ENOENT;
	for (int k = 0; k < 4; k++) {
		const char *hex = json_string_value(json_array_get(v, (size_t)k));
		char *end;

		if (!hex || strlen(hex) != 16)
			return GNARL_ENOENT;
		tmp[k] = strtoull(hex, &end, 16);
		if (*end)
			return GNARL_ENOENT;
	}
	memcpy(s, tmp, sizeof(tmp));
	return 0;
}

const struct gnarl_safetensors *gnarl_checkpoint_tensors(const struct gnarl_checkpoint *ck)
{
	return ck->sf;
}

int gnarl_checkpoint_load(const struct gnarl_checkpoint *ck, const struct gnarl_tensor *t,
                          size_t n, unsigned flags, char err[GNARL_ERR_SIZE])
{
	int rc;

	if (!ck->sf)
		return gnarl_err(err, GNARL_EINVAL, "checkpoint %s was opened for its manifest only",
		                 ck->uri);
	rc = gnarl_safetensors_load(ck->sf, t, n, flags, err);
	if (rc < 0)
		gnarl_err_prefix(err, rc, "checkpoint %s: ", ck->uri);
	return rc;
}

/* ---- tags ------------------------------------------------------------- */

int gnarl_checkpoint_tag(const struct gnarl_config *cfg, struct gnarl_storage *st,
                         const char *base, const char *uri, const char *name, char **out_uri,
                         char err[GNARL_ERR_SIZE])
{
	struct gnarl_checkpoint *ck = NULL;
	struct gnarl_storage *cst;
	const char *key, *rel;
	char *run = NULL, *parent = NULL, *tkey = NULL, *target = NULL;
	int rc;

	if (out_uri)
		*out_uri = NULL;
	if (!gnarl_checkpoint_tag_name_ok(name))
		return gnarl_err(err, GNARL_EINVAL, "tag '%s': use letters, digits, '_', '.' and '-' "
		                 "(not starting with '.')", name ? name : "");
	rc = gnarl_checkpoint_open(cfg, st, base, uri, 0, &ck, err);
	if (rc < 0)
		return rc;
	cst = ck->st;
	key = ck->key;
	rel = strstr(key, CKPT_DIR CKPT_PREFIX);
	while (rel && rel != key && rel[-1] != '/')
		rel = strstr(rel + 1, CKPT_DIR CKPT_PREFIX);
	if (!rel) {
		rc = gnarl_err(err, GNARL_EINVAL, "checkpoint %s is not inside a run directory "
		               "(<run>/checkpoints/checkpoint_N): it cannot be tagged there",
		               gnarl_checkpoint_manifest(ck)->uri);
		goto out;
	}
	rc = GNARL_ENOMEM;
	run = strndup(key, rel > key ? (size_t)(rel - key - 1) : 0);
	tkey = run ? gnarl_checkpoint_join3(run, "tags", name) : NULL;
	if (!tkey)
		goto out;
	rc = gnarl_checkpoint_put_pointer(cst, tkey, rel, err);
	if (rc < 0 || !*run)
		goto out;
	/* Beside the run too, so "tag:NAME" resolves from the run root. */
	rc = GNARL_ENOMEM;
	parent = gnarl_checkpoint_dirname(run);
	free(tkey);
	tkey = parent ? gnarl_checkpoint_join3(parent, "tags", name) : NULL;
	target = tkey ? strdup(key + (*parent ? strlen(parent) + 1 : 0)) : NULL;
	if (target)
		rc = gnarl_checkpoint_put_pointer(cst, tkey, target, err);
out:
	if (rc == GNARL_ENOMEM)
		gnarl_err(err, rc, "checkpoint: out of memory");
	if (rc == 0 && out_uri && !(*out_uri = strdup(gnarl_checkpoint_manifest(ck)->uri)))
		rc = gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	free(run);
	free(parent);
	free(tkey);
	free(target);
	gnarl_checkpoint_close(ck);
	return rc;
}
