/*
 * checkpoint.h - the checkpoint store: save a run's tensors and manifest
 * through storage, find a checkpoint by URI, verify and load it, compare it
 * with a new config, keep the ones worth keeping.
 *
 * Layout under a run directory (run_prefix in the store):
 *   checkpoints/checkpoint_NNNNNN/model.safetensors   tensors (safetensors)
 *   checkpoints/checkpoint_NNNNNN/manifest.json       written last
 *   checkpoints/latest       "checkpoint_NNNNNN": the newest whole checkpoint
 *   tags/<name>              "checkpoints/checkpoint_NNNNNN": never deleted
 * and beside the run directories (the store's run root, dirname of
 * run_prefix):
 *   latest                   "<run>/checkpoints/checkpoint_NNNNNN"
 *   tags/<name>              "<run>/checkpoints/checkpoint_NNNNNN"
 * Pointer objects hold one line, a key relative to the directory holding
 * `latest` or `tags/`, so a run directory can be copied elsewhere whole.
 *
 * A checkpoint exists when its manifest.json exists.  Saving writes the
 * model, then the manifest, then moves the run's `latest`, then the root
 * `latest`; each put is atomic, so a crash at any moment leaves `latest`
 * naming a whole checkpoint.
 */
#ifndef GNARL_CHECKPOINT_H
#define GNARL_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <gnarl/plugin.h>

#include "hash.h"
#include "tensor.h"

struct gnarl_config;
struct gnarl_storage;

/* The manifest format this gnarl writes and the newest it reads. */
#define GNARL_CHECKPOINT_FORMAT 1

struct gnarl_checkpoint_plugin {
	const char *kind;              /* "env", "reward", "llm", "storage" */
	const char *name;
	const char *version;
};

struct gnarl_checkpoint_metric {
	const char *name;              /* "ep_return_mean" decides "best" */
	double value;                  /* NaN is written as null */
};

struct gnarl_checkpoint_rng {
	const char *name;              /* "rollout", "ppo", ... */
	uint64_t s[4];                 /* struct gnarl_rng's state */
};

/* What the manifest records besides the tensors.  Every pointer is
 * borrowed for the duration of the call; NULL/0 fields are written as
 * null/empty. */
struct gnarl_manifest_info {
	uint64_t iteration, env_steps, episodes;
	uint32_t obs_size;
	uint32_t n_actions;
	const char *const *action_names;
	const char *env_plugin;               /* the env plugin's name */
	const struct gnarl_value *env_params; /* its validated params */
	const struct gnarl_value *network;    /* the network's shape (a map:
	                                         hidden sizes, activation, layout) */
	const struct gnarl_value *config;     /* the merged config (secrets redacted) */
	const struct gnarl_checkpoint_plugin *plugins;
	size_t n_plugins;
	const struct gnarl_checkpoint_metric *metrics;
	size_t n_metrics;
	const struct gnarl_checkpoint_rng *rngs;
	size_t n_rngs;
	const char *parent;                   /* URI of the checkpoint resumed from */
};

/* Retention after a save: the last keep_last (0: all), the best by
 * ep_return_mean when keep_best, and every tagged one survive. */
struct gnarl_checkpoint_retention {
	uint32_t keep_last;
	bool keep_best;
};

/* Save tensors t[0..n) and the manifest as checkpoint_<info->iteration>
 * under run_prefix ("" or NULL: the store's root is the run directory),
 * move `latest`, then apply `keep` (NULL: keep everything).  *out_uri
 * (may be NULL) receives the checkpoint's URI (owned, free()).  The same
 * iteration saved again with the same tensors succeeds without rewriting;
 * with other tensors it is GNARL_EEXIST.  A storage failure returns its
 * error and leaves `latest` where it was; once the manifest is in place
 * the checkpoint is saved, and a failure to move `latest` or of retention
 * only logs a warning. */
int gnarl_checkpoint_save(struct gnarl_storage *st, const char *run_prefix,
                          const struct gnarl_tensor *t, size_t n,
                          const struct gnarl_manifest_info *info,
                          const struct gnarl_checkpoint_retention *keep, char **out_uri,
                          char err[GNARL_ERR_SIZE]);

/* gnarl_checkpoint_save in two halves, so the slow one can run on another
 * thread (core/saver.h): encode copies everything the checkpoint holds
 * into memory (the tensors and info may change right after), write puts
 * it into the store as gnarl_checkpoint_save does. */
struct gnarl_checkpoint_encoded {
	uint64_t iteration;
	char name[32];                 /* "checkpoint_NNNNNN" */
	void *model;                   /* model.safetensors bytes */
	size_t model_len;
	char sha256[GNARL_HASH_SHA256_HEX]; /* of model, hex */
	char *manifest;                /* manifest.json text */
	double encode_seconds;         /* what encoding took */
};

/* *out owned: gnarl_checkpoint_encoded_free().  GNARL_EINVAL, GNARL_ENOMEM. */
int gnarl_checkpoint_encode(const struct gnarl_tensor *t, size_t n,
                            const struct gnarl_manifest_info *info,
                            struct gnarl_checkpoint_encoded **out, char err[GNARL_ERR_SIZE]);

/* What a write did beyond its return code.  A store can fail a request it
 * carried out (the reply was lost, or came too late): after a failed
 * manifest PUT the write reads the manifest back, and a checkpoint whose
 * manifest landed whole is saved (logged as such). */
struct gnarl_checkpoint_written {
	char *uri;          /* saved: the checkpoint's URI (owned, free()) */
	bool unconfirmed;   /* failed while its manifest was being put, and the
	                       store could not be asked whether it landed:
	                       gnarl_checkpoint_landed() later says */
	bool latest_stale;  /* saved, but moving `latest` failed: `latest` still
	                       names an earlier checkpoint (writing the same
	                       checkpoint again moves it) */
};

/* out may be NULL.  The same codes as gnarl_checkpoint_save. */
int gnarl_checkpoint_write(struct gnarl_storage *st, const char *run_prefix,
                           const struct gnarl_checkpoint_encoded *ck,
                           const struct gnarl_checkpoint_retention *keep,
                           struct gnarl_checkpoint_written *out, char err[GNARL_ERR_SIZE]);

/* Whether checkpoint `name` ("checkpoint_000060") of run `run_prefix` is in
 * the store: its manifest is there, holding exactly `manifest` when that
 * is not NULL (the manifest is written last, so then the checkpoint is
 * whole).  1 yes, 0 no, < 0 the store could not tell (err says why). */
int gnarl_checkpoint_landed(struct gnarl_storage *st, const char *run_prefix, const char *name,
                            const char *manifest, char err[GNARL_ERR_SIZE]);
void gnarl_checkpoint_encoded_free(struct gnarl_checkpoint_encoded *ck); /* accepts NULL */

/* The manifest of an opened checkpoint (borrowed from it). */
struct gnarl_manifest {
	int64_t format_version;
	const char *uri;                /* the resolved checkpoint directory */
	const char *gnarl_version;
	const char *created_utc;        /* "2026-11-29T19:42:13Z" */
	uint64_t iteration, env_steps, episodes;
	uint32_t obs_size;
	uint32_t n_actions;
	const char *const *action_names;
	const char *env_plugin;         /* "" when unknown */
	const char *parent;             /* NULL when none */
	double ep_return_mean;          /* NaN when not recorded */
	const char *json;               /* the manifest text as stored */
};

enum gnarl_checkpoint_open_flags {
	/* Read and check the manifest only (list, show, diff): no model is
	 * read, and gnarl_checkpoint_load refuses. */
	GNARL_CHECKPOINT_MANIFEST_ONLY = 1 << 0,
};

struct gnarl_checkpoint;

/* Open the checkpoint that `uri` names:
 *   a checkpoint directory ("runs/x/checkpoints/checkpoint_000150",
 *     "s3://b/runs/x/checkpoints/checkpoint_000150", its manifest.json),
 *   a run directory or a run root (its `latest`),
 *   "latest" or "tag:NAME": resolved in st under base (a run directory or
 *     the run root; "" or NULL is the store's root); st NULL refuses them.
 * Other stores are opened with cfg's storage settings (cfg may be NULL).
 * Then: read the manifest (a newer format is GNARL_EVERSION), read every
 * file it lists, check each size and SHA-256 and validate the safetensors.
 * Failures name the file and what is wrong: GNARL_ENOENT (missing path or
 * manifest), GNARL_ECORRUPT (checksum, truncation, malformed),
 * GNARL_EVERSION.  Nothing is loaded into the caller's memory here. */
int gnarl_checkpoint_open(const struct gnarl_config *cfg, struct gnarl_storage *st,
                          const char *base, const char *uri, unsigned flags,
                          struct gnarl_checkpoint **out, char err[GNARL_ERR_SIZE]);
void gnarl_checkpoint_close(struct gnarl_checkpoint *ck);  /* accepts NULL */

const struct gnarl_manifest *gnarl_checkpoint_manifest(const struct gnarl_checkpoint *ck);
/* Metric `name` recorded at save time, or fallback. */
double gnarl_checkpoint_metric(const struct gnarl_checkpoint *ck, const char *name,
                               double fallback);
/* RNG state `name` into s; GNARL_ENOENT if the manifest has none. */
int gnarl_checkpoint_rng(const struct gnarl_checkpoint *ck, const char *name, uint64_t s[4]);
/* The validated tensors (borrowed), NULL when opened MANIFEST_ONLY. */
const struct gnarl_safetensors *gnarl_checkpoint_tensors(const struct gnarl_checkpoint *ck);

/* Copy the checkpoint's tensors into t[0..n) by name (flags: enum
 * gnarl_safetensors_flags).  All or nothing: a missing tensor or a
 * dtype/shape mismatch is GNARL_EINCOMPAT naming it, and nothing is
 * written. */
int gnarl_checkpoint_load(const struct gnarl_checkpoint *ck, const struct gnarl_tensor *t,
                          size_t n, unsigned flags, char err[GNARL_ERR_SIZE]);

/* ---- compatibility ------------------------------------------------------ */

struct gnarl_checkpoint_change {
	bool refused;
	char *field;                   /* "rewards[room_discovery].weight", "observation size" */
	char *before, *after;          /* JSON text; "(none)" when absent */
	const char *why;               /* refusals: what cannot change (static) */
};

struct gnarl_checkpoint_diff {
	size_t n, n_refused;
	struct gnarl_checkpoint_change *changes; /* allowed and refused, in field order */
};

/* Compare the checkpoint with a new config (its merged tree) and, when
 * `now` is not NULL, with the new run's facts (obs_size, actions, network,
 * env plugin; the rest of `now` is ignored).  Without `now`, the network
 * and env plugin come from the config (`policy`, `env.plugin`) and the
 * observation size and actions are not compared.  Refused: observation
 * size, action list, network shape, env plugin, `ppo.normalize_obs`;
 * everything else is allowed.  Lists of plugin entries (rewards, llm) are
 * matched by entry name (`name`, else `plugin`), so an added term is one
 * change.  *out owned: gnarl_checkpoint_diff_free(). */
int gnarl_checkpoint_diff(const struct gnarl_checkpoint *ck, const struct gnarl_value *config,
                          const struct gnarl_manifest_info *now,
                          struct gnarl_checkpoint_diff **out, char err[GNARL_ERR_SIZE]);
void gnarl_checkpoint_diff_free(struct gnarl_checkpoint_diff *d);  /* accepts NULL */
/* The diff as a few readable lines ("  + rewards[dungeon_entry]: ...");
 * "  (no changes)" when empty. */
void gnarl_checkpoint_diff_print(const struct gnarl_checkpoint_diff *d, FILE *f);
/* 0 when nothing is refused, else GNARL_EINCOMPAT with a message naming
 * the first refused field and both values. */
int gnarl_checkpoint_diff_check(const struct gnarl_checkpoint_diff *d,
                                char err[GNARL_ERR_SIZE]);

/* ---- listing and tags ----------------------------------------------------- */

struct gnarl_checkpoint_entry {
	char *uri;                     /* the checkpoint directory */
	char *key;                     /* its key in the store */
	uint64_t iteration, env_steps, episodes;
	double ep_return_mean;         /* NaN when not recorded */
	char *created_utc;
	char *tags;                    /* "a,b" or NULL */
	bool latest;                   /* its run's `latest` names it */
};

/* Every whole checkpoint under prefix (a run directory or a run root; ""
 * or NULL: the whole store), by run then iteration.  Manifests are read,
 * models are not.  *out owned: gnarl_checkpoint_list_free(). */
int gnarl_checkpoint_list(struct gnarl_storage *st, const char *prefix,
                          struct gnarl_checkpoint_entry **out, size_t *n,
                          char err[GNARL_ERR_SIZE]);
void gnarl_checkpoint_list_free(struct gnarl_checkpoint_entry *e, size_t n);

/* Tag the checkpoint `uri` (resolved as by gnarl_checkpoint_open, and
 * verified whole) as `name` ([A-Za-z0-9_.-], not starting with '.'): writes
 * tags/<name> in its run directory (so retention keeps it) and beside it
 * (so "tag:NAME" resolves from the run root).  *out_uri (may be NULL)
 * receives the checkpoint's URI. */
int gnarl_checkpoint_tag(const struct gnarl_config *cfg, struct gnarl_storage *st,
                         const char *base, const char *uri, const char *name, char **out_uri,
                         char err[GNARL_ERR_SIZE]);

#endif /* GNARL_CHECKPOINT_H */
