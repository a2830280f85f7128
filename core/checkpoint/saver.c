/*
 * saver.c - the checkpoint writer's thread (see saver.h).
 *
 * Entry points: gnarl_saver_create/submit/drain/settle/next/free.
 *
 * Invariants: everything below `lock` is shared; the thread holds the
 * lock only to take `waiting` and to queue an outcome, never while it
 * talks to the store.  `busy` is true from the moment the thread takes a
 * checkpoint until its outcome is queued, so drain's "nothing busy,
 * nothing waiting" means every outcome is in.  `changed` is broadcast
 * whenever `waiting` is taken or an outcome is queued.  The checkpoints in
 * doubt (`doubts`) belong to the thread alone.
 */
#include "saver.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_internal.h"
#include "clock.h"
#include "error.h"

/* A checkpoint whose write failed without telling whether it landed. */
struct doubt {
	uint64_t iteration;
	char name[32];
	char *manifest; /* the text written: what landing means */
};

struct gnarl_saver {
	struct gnarl_storage *st;
	char *run;
	struct gnarl_checkpoint_retention keep;
	pthread_t thread;

	pthread_mutex_t lock;
	pthread_cond_t wake;    /* to the thread: a checkpoint waits, or quit */
	pthread_cond_t changed; /* from the thread: see the top */
	struct gnarl_checkpoint_encoded *waiting;
	bool busy, quit;
	bool settle;  /* to the thread: ask about the doubts now */
	bool failing; /* the last write failed */
	struct doubt doubts[GNARL_SAVER_DOUBTS]; /* the thread's */
	uint32_t n_doubts;
	struct gnarl_saver_outcome done[GNARL_SAVER_OUTCOMES];
	uint32_t head, count; /* ring of unread outcomes */
};

/* Queue an outcome (lock held); a full ring forgets its oldest. */
static void push_outcome(struct gnarl_saver *s, const struct gnarl_saver_outcome *o)
{
	if (s->count == GNARL_SAVER_OUTCOMES) {
		free(s->done[s->head].uri);
		s->head = (s->head + 1) % GNARL_SAVER_OUTCOMES;
		s->count--;
	}
	s->done[(s->head + s->count) % GNARL_SAVER_OUTCOMES] = *o;
	s->count++;
}

/* The waiting checkpoint, skipped (lock held). */
static void skip_waiting(struct gnarl_saver *s)
{
	struct gnarl_saver_outcome o = {.result = GNARL_SAVER_SKIPPED,
	                                .iteration = s->waiting->iteration,
	                                .encode_seconds = s->waiting->encode_seconds};

	push_outcome(s, &o);
	gnarl_checkpoint_encoded_free(s->waiting);
	s->waiting = NULL;
}

/* Remember ck's checkpoint as in doubt (thread only); a full list gives
 * up its oldest. */
static void doubt(struct gnarl_saver *s, const struct gnarl_checkpoint_encoded *ck)
{
	struct doubt *d;

	if (s->n_doubts == GNARL_SAVER_DOUBTS) {
		struct gnarl_saver_outcome o = {.result = GNARL_SAVER_LOST,
		                                .iteration = s->doubts[0].iteration};

		snprintf(o.err, sizeof(o.err), "no longer asked about (more than %d checkpoints in "
		         "doubt): look for %s/manifest.json in the store", GNARL_SAVER_DOUBTS,
		         s->doubts[0].name);
		free(s->doubts[0].manifest);
		memmove(s->doubts, s->doubts + 1, (GNARL_SAVER_DOUBTS - 1) * sizeof(*s->doubts));
		s->n_doubts--;
		pthread_mutex_lock(&s->lock);
		push_outcome(s, &o);
		pthread_mutex_unlock(&s->lock);
	}
	d = &s->doubts[s->n_doubts];
	d->iteration = ck->iteration;
	snprintf(d->name, sizeof(d->name), "%s", ck->name);
	d->manifest = strdup(ck->manifest);
	if (d->manifest)
		s->n_doubts++;
}

/* Ask the store about each checkpoint in doubt (thread only, lock not
 * held); queue what it answers. */
static void ask_doubts(struct gnarl_saver *s)
{
	uint32_t kept = 0;
	bool down = false;

	for (uint32_t i = 0; i < s->n_doubts; i++) {
		struct doubt *d = &s->doubts[i];
		struct gnarl_saver_outcome o = {.iteration = d->iteration};
		/* One unanswered question is enough: each costs the retries. */
		int rc = down ? GNARL_EIO
		              : gnarl_checkpoint_landed(s->st, s->run, d->name, d->manifest, o.err);
		char *key;

		down = rc < 0;
		if (rc < 0) {
			s->doubts[kept++] = *d;
			continue;
		}
		o.result = rc ? GNARL_SAVER_LANDED : GNARL_SAVER_LOST;
		if (rc) {
			key = gnarl_checkpoint_join3(s->run, "checkpoints", d->name);
			o.uri = key ? gnarl_checkpoint_uri_of(s->st, key) : NULL;
			free(key);
		} else {
			snprintf(o.err, sizeof(o.err), "its manifest is not in the store");
		}
		free(d->manifest);
		pthread_mutex_lock(&s->lock);
		push_outcome(s, &o);
		pthread_mutex_unlock(&s->lock);
	}
	s->n_doubts = kept;
}

static void *saver_main(void *arg)
{
	struct gnarl_saver *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct gnarl_checkpoint_encoded *ck;
		struct gnarl_saver_outcome o = {.result = GNARL_SAVER_SAVED};
		struct gnarl_checkpoint_written w;
		double t0;
		int rc;

		while (!s->waiting && !s->quit && !s->settle)
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->settle) {
			pthread_mutex_unlock(&s->lock);
			ask_doubts(s);
			pthread_mutex_lock(&s->lock);
			s->settle = false;
			pthread_cond_broadcast(&s->changed);
			continue;
		}
		if (!s->waiting)
			break;
		ck = s->waiting;
		s->waiting = NULL;
		s->busy = true;
		pthread_cond_broadcast(&s->changed);
		pthread_mutex_unlock(&s->lock);

		t0 = gnarl_clock_monotonic();
		rc = gnarl_checkpoint_write(s->st, s->run, ck, &s->keep, &w, o.err);
		o.result = rc == 0 ? GNARL_SAVER_SAVED
		           : w.unconfirmed ? GNARL_SAVER_UNCONFIRMED
		                           : GNARL_SAVER_FAILED;
		o.uri = w.uri;
		o.latest_stale = w.latest_stale;
		o.iteration = ck->iteration;
		o.seconds = gnarl_clock_monotonic() - t0;
		o.encode_seconds = ck->encode_seconds;
		if (w.unconfirmed)
			doubt(s, ck);
		gnarl_checkpoint_encoded_free(ck);

		pthread_mutex_lock(&s->lock);
		push_outcome(s, &o);
		s->failing = rc != 0;
		/* The store works again: it can say what became of the doubts
		 * (still busy, so a drain waits for these answers too). */
		if (rc == 0 && s->n_doubts) {
			pthread_mutex_unlock(&s->lock);
			ask_doubts(s);
			pthread_mutex_lock(&s->lock);
		}
		s->busy = false;
		pthread_cond_broadcast(&s->changed);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int gnarl_saver_create(struct gnarl_storage *st, const char *run,
                       const struct gnarl_checkpoint_retention *keep, struct gnarl_saver **out,
                       char err[GNARL_ERR_SIZE])
{
	struct gnarl_saver *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || !(s->run = strdup(run ? run : ""))) {
		free(s);
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint saver: out of memory");
	}
	s->st = st;
	if (keep)
		s->keep = *keep;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->changed, NULL);
	if (pthread_create(&s->thread, NULL, saver_main, s)) {
		pthread_cond_destroy(&s->changed);
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s->run);
		free(s);
		return gnarl_err(err, GNARL_EIO, "checkpoint saver: cannot start its thread");
	}
	*out = s;
	return 0;
}

void gnarl_saver_submit(struct gnarl_saver *s, struct gnarl_checkpoint_encoded *ck)
{
	pthread_mutex_lock(&s->lock);
	while (s->waiting && !s->failing)
		pthread_cond_wait(&s->changed, &s->lock);
	if (s->waiting)
		skip_waiting(s);
	s->waiting = ck;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void gnarl_saver_drain(struct gnarl_saver *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->busy || s->waiting)
		pthread_cond_wait(&s->changed, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

void gnarl_saver_settle(struct gnarl_saver *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->busy || s->waiting)
		pthread_cond_wait(&s->changed, &s->lock);
	s->settle = true;
	pthread_cond_signal(&s->wake);
	while (s->settle)
		pthread_cond_wait(&s->changed, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

bool gnarl_saver_next(struct gnarl_saver *s, struct gnarl_saver_outcome *out)
{
	bool got;

	pthread_mutex_lock(&s->lock);
	got = s->count > 0;
	if (got) {
		*out = s->done[s->head];
		s->head = (s->head + 1) % GNARL_SAVER_OUTCOMES;
		s->count--;
	}
	pthread_mutex_unlock(&s->lock);
	return got;
}

void gnarl_saver_free(struct gnarl_saver *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->waiting)
		skip_waiting(s);
	s->quit = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	for (uint32_t i = 0; i < s->count; i++)
		free(s->done[(s->head + i) % GNARL_SAVER_OUTCOMES].uri);
	for (uint32_t i = 0; i < s->n_doubts; i++)
		free(s->doubts[i].manifest);
	pthread_cond_destroy(&s->changed);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->run);
	free(s);
}
