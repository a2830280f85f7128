/*
 * summaries.h - per-episode summaries written to the run's storage by a
 * background thread, so that a slow or dead store never stalls the
 * rollout.
 *
 * The rollout's thread hands each finished episode to
 * gnarl_summaries_push(), which copies it into a bounded queue allocated
 * at create and returns at once: it never blocks, never allocates and
 * never does I/O.  When the queue is full the record is dropped and
 * counted.  A writer thread takes queued records in batches and writes
 * each batch as one JSON-lines object (one JSON object per line, in
 * push order) through gnarl_storage_put():
 *
 *     <run_prefix>workers/worker_<rank>/episodes_<first>-<last>.jsonl
 *
 * <first> and <last> are the 12-digit, zero-padded numbers ("seq") of the
 * batch's first and last record.  seq counts every record pushed on this
 * rank, dropped ones included (a gap in the numbers is a drop), and
 * continues across resumed runs: create lists the worker's directory and
 * starts after the highest <last> found.  So keys never collide between
 * envs (one object holds many envs' records), ranks (the directory) or
 * runs resumed in the same run directory (seq only grows), and a retried
 * put rewrites the same key.
 *
 * Why batches (tests/integration/summaries_bench.c, ~450-byte records):
 * one object per record writes ~850 records/s to the local Ceph gateway
 * (~1.2 ms per PUT, whatever the size) and ~1300/s to local disk (an
 * fsync each); batches of 1024 records (~450 KB objects) write ~120 000
 * records/s to the gateway and ~175 000/s to disk.  A remote S3 costs
 * tens of ms and a billed request per PUT, and a resumed run lists the
 * worker's keys, so per-episode objects would cap a rank at a few hundred
 * episodes per second and leave millions of keys.  A batch is written
 * when `batch_records` are queued, when the oldest queued record has
 * waited `batch_ms`, or at flush: with the defaults at most one object
 * per 5 s while episodes trickle in (~17 000 a day per rank).
 *
 * One line (keys in this order; reals round-trip; a non-finite real is
 * null):
 *   {"rank":0,"seq":17,"iteration":3,"env":5,"episode":2,"return":1.5,
 *    "env_reward":0.5,"length":120,"terms":{"<name>":0.25,...},
 *    "rooms":4,"dungeons":1,"enemies_killed":2,"milestones":["sword"],
 *    "has_state":true,"llm_calls":0,"llm_hits":0,"terminated":true,
 *    "truncated":false,"time":"2025-06-01T12:00:00.123Z"}
 * `terms` are the weighted per-term sums of the episode record, named by
 * the names given at create; `milestones` names the bits of enum
 * gnarl_milestone ("sword", "maku_tree", "gnarled_key", "dungeon");
 * `time` is the UTC wall time of the push (ISO 8601, milliseconds).
 *
 * Failures: a failed put is retried `retries` times with exponential
 * backoff (backoff_ms, doubling, at most 30 s).  A put can fail and still
 * land (its reply was lost), so then the store is asked whether the batch
 * is there: it counts as written if it is, dropped if it is not, and
 * unconfirmed while the store cannot answer (asked again after the next
 * write that works; at free, still unanswered, dropped); no record counts
 * twice.  One warning line is logged when summaries start being
 * lost (a write fails, or the queue overflows) and one line when writes
 * succeed again, with how many records were dropped and writes failed
 * meanwhile.  The writer sets the gauges `summaries/written`,
 * `summaries/dropped` (queue full + dropped batches),
 * `summaries/failed_writes` (failed put attempts) and
 * `summaries/unconfirmed` after every write attempt and at least once a
 * second while idle (not while a put blocks).
 *
 * Push signals nothing (no system call at all); the writer looks at the
 * queue every 20 ms, so at the defaults the queue absorbs up to
 * capacity - batch_records = 3072 records per look (~150 000 episodes/s).
 *
 * Threads: push from one thread at a time (the rollout's); stats, flush
 * and free from any one thread, never concurrently with free.
 */
#ifndef GNARL_SUMMARIES_H
#define GNARL_SUMMARIES_H

#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_episode_record;
struct gnarl_gauges;
struct gnarl_storage;

/* A queue the trainer can use: ~1 MB with a dozen reward terms, several
 * seconds of episodes at any realistic rate. */
#define GNARL_SUMMARIES_DEFAULT_CAPACITY 4096

/* What push copies.  Zero-initialise, set ep, and fill the rest when
 * known (the LLM counters stay 0 without LLM guidance). */
struct gnarl_summaries_record {
	const struct gnarl_episode_record *ep; /* borrowed for the call (its terms too) */
	uint64_t iteration;                    /* training iteration the episode ended in */
	uint64_t llm_calls;                    /* LLM requests made for this episode */
	uint64_t llm_hits;                     /* ... whose suggestion was followed */
};

/* Writer timing; NULL at create means the defaults in brackets. */
struct gnarl_summaries_tuning {
	uint32_t batch_records; /* write once this many are queued [1024]; 0 or
	                           more than capacity/2 is clamped to capacity/2 (>= 1) */
	uint32_t batch_ms;      /* ... or once the oldest has waited this long [5000] */
	uint32_t retries;       /* extra attempts of a failed batch [3] */
	uint32_t backoff_ms;    /* wait before the first retry, doubling [1000] */
};

/* Counters since create (all records, not bytes). */
struct gnarl_summaries_stats {
	uint64_t pushed;         /* push calls (seq of the next record, minus the start) */
	uint64_t queued;         /* accepted into the queue */
	uint64_t dropped_full;   /* refused by push: queue full */
	uint64_t dropped_failed; /* in batches dropped after their retries, or at free */
	uint64_t written;        /* in objects written */
	uint64_t objects;        /* objects written */
	uint64_t failed_writes;  /* failed put attempts */
	uint64_t unconfirmed;    /* in batches whose last write failed while the
	                            store could not say whether it landed: asked
	                            again after the next write that works, then
	                            counted as written or dropped (at free:
	                            dropped, said so, when still unanswered) */
	uint64_t first_seq;      /* seq of this writer's first record */
};

struct gnarl_summaries;

/*
 * Start a writer for rank `rank` of the run under run_prefix ("" or NULL:
 * the store's root; a missing trailing '/' is added) in st.
 * term_names: n_terms names (copied; unique), in the order of the
 * episode records' terms.  capacity: records the queue holds (>= 1;
 * GNARL_SUMMARIES_DEFAULT_CAPACITY is a good choice).  gauges may be NULL.
 * st and gauges are borrowed and must outlive the writer.  Lists
 * <run_prefix>workers/worker_<rank>/ to continue seq (the only storage
 * call made here: it fails with the store's error when the store cannot
 * be listed), allocates the queue and starts the thread.
 * *out is owned: gnarl_summaries_free().
 */
int gnarl_summaries_create(struct gnarl_storage *st, const char *run_prefix, uint32_t rank,
                           const char *const *term_names, uint32_t n_terms, uint32_t capacity,
                           struct gnarl_gauges *gauges, const struct gnarl_summaries_tuning *tune,
                           struct gnarl_summaries **out, char err[GNARL_ERR_SIZE]);

/*
 * Copy rec into the queue.  Never blocks or allocates.  Returns 0 when
 * queued, GNARL_EBUSY when the queue was full (the record is dropped and
 * counted).  s NULL (summaries off) returns 0 and does nothing.  Terms
 * beyond n_terms of create are ignored, missing ones are written as 0.
 */
int gnarl_summaries_push(struct gnarl_summaries *s, const struct gnarl_summaries_record *rec);

/*
 * Wait until every record pushed before the call is written or dropped,
 * at most timeout_ms; batches waiting for batch_records/batch_ms go out
 * at once.  0 when drained (stats say whether anything was dropped),
 * GNARL_ETIMEDOUT (err says how many are still queued and the last write
 * error) when not.  s NULL returns 0.
 */
int gnarl_summaries_flush(struct gnarl_summaries *s, uint32_t timeout_ms, char err[GNARL_ERR_SIZE]);

/* Counters, readable from any thread at any time. */
void gnarl_summaries_stats(const struct gnarl_summaries *s, struct gnarl_summaries_stats *out);

/*
 * Stop the writer and free everything.  A put in progress is finished
 * (not retried); records still queued are dropped, counted and logged:
 * call gnarl_summaries_flush() first to write them.  Sets the gauges one
 * last time.  Accepts NULL.
 */
void gnarl_summaries_free(struct gnarl_summaries *s);

#endif /* GNARL_SUMMARIES_H */
