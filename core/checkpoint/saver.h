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
 * A failed write may have landed (core/checkpoint.h): one whose manifest
 * could not be read back is UNCONFIRMED, and the thread asks the store
 * again after each write that works (and at gnarl_saver_settle), queuing
 * LANDED or LOST for it then.
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
	GNARL_SAVER_FAILED,      /* not in the store; err says why; `latest` did not move */
	GNARL_SAVER_SKIPPED,     /* replaced by a newer one while the store failed */
	GNARL_SAVER_UNCONFIRMED, /* failed, and whether its manifest landed is not
	                            known: LANDED or LOST follows */
	GNARL_SAVER_LANDED,      /* an UNCONFIRMED one is in the store, whole */
	GNARL_SAVER_LOST,        /* an UNCONFIRMED one is not (or is no longer
	                            asked about: err says which) */
};

struct gnarl_saver_outcome {
	enum gnarl_saver_result result;
	uint64_t iteration;
	char *uri;                /* SAVED, LANDED: the checkpoint (owned by the reader) */
	bool latest_stale;        /* SAVED: `latest` could not be moved to it */
	double seconds;           /* SAVED, FAILED, UNCONFIRMED: time writing it */
	double encode_seconds;    /* time encoding it (on the owner's thread) */
	char err[GNARL_ERR_SIZE]; /* FAILED, UNCONFIRMED, LOST */
};

/* Checkpoints in doubt asked about again; past it the oldest is given up
 * (reported LOST, saying so). */
#define GNARL_SAVER_DOUBTS 16

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
/* Ask the store now about every UNCONFIRMED checkpoint and wait for the
 * answers (queued as outcomes; those it still cannot answer stay). */
void gnarl_saver_settle(struct gnarl_saver *s);
/* Pop the oldest unread outcome into *out; false when there is none. */
bool gnarl_saver_next(struct gnarl_saver *s, struct gnarl_saver_outcome *out);
/* Wait for the checkpoint being written, skip one that waits, stop the
 * thread and free everything (unread outcomes too).  Accepts NULL. */
void gnarl_saver_free(struct gnarl_saver *s);

#endif /* GNARL_SAVER_H */
