/*
 * resume_internal.h - what resume.c (saving) and resume_restore.c
 * (loading) share: the checkpointing state of a run and the list of
 * tensors a checkpoint holds.
 */
#ifndef GNARL_RESUME_INTERNAL_H
#define GNARL_RESUME_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "checkpoint.h"
#include "tensor.h"
#include "trainer.h"

struct gnarl_saver;

#define GNARL_RESUME_MAX_TENSORS 512

/* An opaque state saved as a U8 tensor. */
struct gnarl_resume_blob {
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
	char *run; /* the run directory's key, no trailing '/' */
	struct gnarl_tree *net_tree;
	const struct gnarl_value *network;
	char *parent;   /* URI restored from, NULL for a fresh run */
	char *last_uri; /* newest checkpoint saved by this run */
	uint64_t saved_iteration;
	uint32_t failures; /* failed saves in a row */
	uint32_t skipped;  /* checkpoints skipped since the last save */
	bool unconfirmed;  /* the last synchronous save failed without telling
	                      whether its manifest landed */
	bool latest_stale; /* the last synchronous save left `latest` behind */
	struct gnarl_saver *saver; /* writes the periodic checkpoints; NULL
	                              without storage and on ranks other than 0 */
	struct gnarl_trainer_iteration last;
	bool have_last;
	uint32_t K, C;                /* reward terms; episode columns: the K
	                                 terms, then the LLM sources' bonuses */
	char (*term_labels)[128];     /* (C) "name", "name#2" for repeats */
	char (*metric_names)[144];    /* (C) "reward/<name>" */
	char *labels_text;            /* the C labels, one per line */
	struct gnarl_tensor *tensors; /* (GNARL_RESUME_MAX_TENSORS) */
	char why[GNARL_ERR_SIZE];     /* why a restore reset the envs */
	struct gnarl_resume_blob env_blob;
	struct gnarl_resume_blob archive_blob; /* the archive of start states */
	struct gnarl_resume_blob *term_blobs; /* (K) */
	char (*term_memory_names)[168];       /* (K) "reward.<label>.memory": the
	                                         host memory of 1.1 terms */
};

/* Fill r->tensors with every view a checkpoint holds except the reward
 * terms' memory and the opaque blobs (env.state, reward.<name>): the
 * trainer's learner state, the running episodes, the rollout's raw
 * observations, the episode column labels.  Returns the count. */
uint32_t gnarl_resume_base_tensors(struct gnarl_resume *r);
#endif /* GNARL_RESUME_INTERNAL_H */
