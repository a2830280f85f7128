/*
 * resume.h - checkpoints of a training run (docs/architecture.md): what the
 * trainer saves, when, and how a new run continues from one.
 *
 * Saving.  gnarl_resume_create() attaches to a trainer; its hook saves a
 * checkpoint every `checkpoint.every` iterations, and gnarl_resume_finish()
 * saves at the end of the run (or after a signal).  A checkpoint holds
 * every learner number (gnarl_trainer_tensors), the running episodes
 * (episode.running, episode.running_terms), the rollout's raw observations
 * (rollout.obs), the env plugin's state (env.state, when it has state
 * ops) and each reward term's memory: the per-env memory the host keeps
 * for it (reward.<name>.memory, N x bytes, ABI 1.1) and what its own save
 * ops write (reward.<name>): U8 tensors hold the opaque blobs.  Memory
 * saved before ABI 1.1 in the in-tree terms' own framing is read into the
 * host's where it holds the same records (term.h).  A failed save is logged
 * and training goes on; the next due save (and the one at the end)
 * tries again, and nothing saved before is touched.
 *
 * Restoring.  gnarl_resume_open() resolves and verifies a checkpoint
 * (checksums, safetensors rules, format version) and compares it with the
 * new config and the facts of the env it names (observation size,
 * actions: the env is created once to learn them), before anything runs.
 * gnarl_resume_restore() then loads it into a new trainer, all or nothing
 * for the learner: weights, Adam, normalisers, counters, RNG.  The envs
 * continue their running episodes exactly when the env has state ops and
 * env.num_envs, the env's params and every reward term's params are
 * unchanged; otherwise they start new episodes (the log says why), and
 * the state whose shape depends on the env count is skipped.  Reward terms
 * are matched by name; one that is new, or whose params changed, starts
 * with empty memory.
 */
#ifndef GNARL_RESUME_H
#define GNARL_RESUME_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <gnarl/plugin.h>

#include "checkpoint.h"

struct gnarl_config;
struct gnarl_trainer;
struct gnarl_tree;

/* What a config's run would be: the facts a checkpoint is compared with.
 * `info` points into the struct (valid until gnarl_resume_facts_clear). */
struct gnarl_resume_facts {
	struct gnarl_manifest_info info; /* obs_size, n_actions, action_names,
	                                    env_plugin, env_params, network */
	struct gnarl_tree *tree;         /* owns network and env_params */
	char **actions;
	char *env_plugin;
};

/* Open the config's plugins, create its env once (one env) to read its
 * spaces, and describe the network from `policy`.  Errors are the
 * registry's or the env's (GNARL_ECONFIG). */
int gnarl_resume_facts(struct gnarl_config *cfg, struct gnarl_resume_facts *out,
                       char err[GNARL_ERR_SIZE]);
void gnarl_resume_facts_clear(struct gnarl_resume_facts *f); /* accepts zeroed */

/* The network a config describes, as the manifest records it (a map:
 * hidden, activation, shared, weight_layout "(in, out)"), into `tree`'s
 * new root; NULL when out of memory. */
const struct gnarl_value *gnarl_resume_network(const struct gnarl_config *cfg,
                                               struct gnarl_tree **tree);

/* Which checkpoint to restore: the flag (may be NULL), else the
 * RESTORE_CHECKPOINT environment variable, else the config's `restore`;
 * NULL for none.  Empty strings count as unset.  Borrowed. */
const char *gnarl_resume_uri(const struct gnarl_config *cfg, const char *flag, const char **source);

/* An opened, verified checkpoint and its diff against a new config. */
struct gnarl_resume_point {
	struct gnarl_checkpoint *ck;
	struct gnarl_checkpoint_diff *diff;
	struct gnarl_storage *root; /* the run root, for latest and tag:NAME */
};

/* Resolve `uri` (a checkpoint or run directory, s3://..., latest or
 * tag:NAME in run.storage), verify every file, log "RESTORING from
 * checkpoint: <uri> (iteration N)" and the changes (to `log`; NULL: log
 * neither), and refuse what cannot change.  Codes: GNARL_ENOENT (no
 * checkpoint there, or no manifest), GNARL_ECORRUPT (damaged, truncated,
 * checksum, malformed), GNARL_EVERSION (newer format),
 * GNARL_EINCOMPAT (refused change: field and both values named),
 * GNARL_ECONFIG (the new config's plugins).  *out owned:
 * gnarl_resume_point_free(). */
int gnarl_resume_open(struct gnarl_config *cfg, const char *uri, FILE *log,
                      struct gnarl_resume_point **out, char err[GNARL_ERR_SIZE]);
void gnarl_resume_point_free(struct gnarl_resume_point *p); /* accepts NULL */

/* A resumed run writes into a new run directory: when
 * <run.storage>/<run.name>/ already holds a run, set run.name to
 * "<name>-from<iteration>" (then "-2", "-3", ... until unused) and log it. */
int gnarl_resume_new_run_name(struct gnarl_config *cfg, const struct gnarl_resume_point *p,
                              char err[GNARL_ERR_SIZE]);

struct gnarl_resume;

/* Attach checkpointing to trainer t (borrowed, as is cfg; both must
 * outlive the object): reads `checkpoint.every/keep_last/keep_best` and
 * installs the trainer hook.  `stop` (may be NULL) is the run's stop
 * flag; stop_after > 0 sets it after that iteration.  *out owned:
 * gnarl_resume_free(). */
int gnarl_resume_create(struct gnarl_trainer *t, struct gnarl_config *cfg,
                        volatile sig_atomic_t *stop, uint64_t stop_after, struct gnarl_resume **out,
                        char err[GNARL_ERR_SIZE]);
void gnarl_resume_free(struct gnarl_resume *r); /* accepts NULL */

/* Load checkpoint p into the trainer (see the top) and continue after its
 * iteration; the run's manifests record p's URI as their parent.  On
 * failure (GNARL_EINCOMPAT naming the tensor) the learner is untouched. */
int gnarl_resume_restore(struct gnarl_resume *r, const struct gnarl_resume_point *p,
                         char err[GNARL_ERR_SIZE]);

/* Save a checkpoint of the trainer's current iteration now.  0, or the
 * storage's error (the run's earlier checkpoints and `latest` are
 * untouched).  *uri (may be NULL) gets the checkpoint's URI (owned). */
int gnarl_resume_save(struct gnarl_resume *r, char **uri, char err[GNARL_ERR_SIZE]);

/* At the end of the run: save the last iteration unless it is saved,
 * retrying a failed save a few times.  0, or the last error (message says
 * which checkpoint is the newest saved one). */
int gnarl_resume_finish(struct gnarl_resume *r, char err[GNARL_ERR_SIZE]);

/* The URI of the newest checkpoint this run saved (borrowed), or NULL. */
const char *gnarl_resume_last_uri(const struct gnarl_resume *r);

#endif /* GNARL_RESUME_H */
