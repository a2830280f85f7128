/*
 * saver.h - checkpoints written on a thread of their own, so a slow or
 * unreachable store never holds up training (core/resume.c hands it each
 * periodic checkpoint, encoded in memory by gnarl_checkpoint_encode).
 *
 * One checkpoint is written at a time, in the order handed over, and one
 * more may wait.  When a third comes while one waits:
 *   - the store works (its last write succeeded, or none was tried yet):
 *     submit waits until the waiting one's write starts.  Every
 *     checkpoint is saved; training waits only when writes take longer
 *     than checkpoint.every iterations, never longer than saving there
 *     and then would have.
 *   - the store fails (its last write failed): the waiting one is skipped
 *     (reported so) and the new one waits in its place, so an outage
 *     never holds up training.
 * What became of each checkpoint (saved, failed, skipped) is queued for
 * the owner, who reads it on its own thread with gnarl_saver_next() and
 * does the logging.
 *
 * Threads: create, submit, drain, next and free are called by one thread
 * (the trainer's); the storage plugin is called from the saver's thread
 * (storage ops may be called from several threads at once: sdk/README.md).
 */
#ifndef GNARL_SAVER_H
#define GNARL_SAVER_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "checkpoint.h"

struct gnarl_storage;
struct gnarl_saver;

/* What became of one checkpoint. */
enum gnarl_saver_result {
	GNARL_SAVER_SAVED,
	GNARL_SAVER_FAILED,  /* err says why; `latest` did not move */
	GNARL_SAVER_SKIPPED, /* replaced by a newer one while the store failed */
};

struct gnarl_saver_outcome {
	enum gnarl_saver_result result;
	uint64_t iteration;
	char *uri;                /* SAVED: the checkpoint (owned by the reader) */
	double seconds;           /* SAVED, FAILED: time writing it */
	double encode_seconds;    /* time encoding it (on the owner's thread) */
	char err[GNARL_ERR_SIZE]; /* FAILED */
};

/* Outcomes kept until read; past it the oldest are forgotten (the owner
 * reads them every iteration). */
#define GNARL_SAVER_OUTCOMES 16

/* Write into st (borrowed, must outlive s) under run directory `run`
 * (copied), applying `keep` after each save.  Starts the thread.
 * *out owned: gnarl_saver_free().  GNARL_ENOMEM, GNARL_EIO (no thread). */
int gnarl_saver_create(struct gnarl_storage *st, const char *run,
                       const struct gnarl_checkpoint_retention *keep, struct gnarl_saver **out,
                       char err[GNARL_ERR_SIZE]);
/* Hand ck over (s owns it from now on).  Waits only as said above. */
void gnarl_saver_submit(struct gnarl_saver *s, struct gnarl_checkpoint_encoded *ck);
/* Wait until every checkpoint handed over is written or has failed. */
void gnarl_saver_drain(struct gnarl_saver *s);
/* Pop the oldest unread outcome into *out; false when there is none. */
bool gnarl_saver_next(struct gnarl_saver *s, struct gnarl_saver_outcome *out);
/* Wait for the checkpoint being written, skip one that waits, stop the
 * thread and free everything (unread outcomes too).  Accepts NULL. */
void gnarl_saver_free(struct gnarl_saver *s);

#endif /* GNARL_SAVER_H */
