/*
 * summaries.c - per-episode summaries, written to storage by a background
 * thread (format, keys and policy: summaries.h).
 *
 * Entry points: gnarl_summaries_create/push/flush/stats/free.
 *
 * The queue is a single-producer single-consumer ring of `cap` slots
 * allocated at create (fixed fields in `slots`, the terms in one slab of
 * cap * n_terms doubles).  `tail` is written only by push, `head` only by
 * the writer; a slot between head and tail belongs to the writer, the
 * others to push.  push publishes a slot with a release store of tail,
 * the writer frees slots with a release store of head once it has copied
 * them into its text buffer, so the queue takes new records while a put
 * blocks.  push's only other effects are relaxed counter increments and
 * a clock read (vDSO): no lock, no allocation, no system call.
 *
 * Waking: push signals nothing (a futex wake from the rollout's thread
 * can hand its CPU to the writer: measured, single pushes then took up to
 * ~0.3 ms instead of ~0.1 us).  The writer looks at the queue every
 * POLL_MS instead (a few microseconds of work, ~50 times a second), and
 * writes when a batch is full, its time is up, or a flush asks.  At the
 * defaults the queue absorbs capacity - batch_records = 3072 records per
 * look, i.e. up to ~150 000 episodes/s.  The writer sleeps on `cond`;
 * flush and free take `lock` (never push) to set flush_to/stop, broadcast
 * `cond` to cut its sleep short, and wait on `cond` for `done`.
 */
#include "summaries.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "episode.h"
#include "error.h"
#include "gauges.h"
#include "log.h"
#include "storage.h"

#define WHO            "summaries"
#define POLL_MS        20   /* the writer looks at the queue this often */
#define PUBLISH_MS     1000 /* an idle writer refreshes the gauges this often */
#define MAX_BACKOFF_MS 30000
#define SEQ_DIGITS     12
#define DOUBTS         64   /* batches whose fate is asked about again */

/* One queued episode; its terms are terms[slot index * n_terms ...]. */
struct slot {
	uint64_t seq, iteration, episode, length, llm_calls, llm_hits;
	double ret, env_reward;
	struct timespec time; /* CLOCK_REALTIME at push */
	uint32_t env, rooms, dungeons, milestones;
	int32_t enemies_killed;
	bool terminated, truncated, has_state;
};

struct gnarl_summaries {
	struct gnarl_storage *st;    /* borrowed */
	struct gnarl_gauges *gauges; /* borrowed, may be NULL */
	char *dir;                   /* owned: "<run_prefix>workers/worker_<rank>/" */
	char *key;                   /* owned: the writer's key buffer */
	size_t key_size;
	char **names; /* owned: n_terms term names */
	uint32_t rank, n_terms, cap, batch, batch_ms, retries, backoff_ms;
	struct slot *slots; /* owned: (cap) */
	double *terms;      /* owned: (cap, n_terms) */
	uint64_t first_seq;

	/* producer side (push) */
	_Atomic uint64_t tail; /* queue index of the next free slot */
	_Atomic uint64_t next_seq;
	_Atomic uint64_t dropped_full;

	/* consumer side (the writer) */
	_Atomic uint64_t head; /* queue index of the oldest slot held */
	_Atomic uint64_t written, objects, failed_writes, dropped_failed, unconfirmed;

	pthread_t thread;
	bool started, sync_ok;
	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t cond;  /* done, flush_to or stop moved */
	uint64_t done;        /* queue index: records before it are handled */
	uint64_t flush_to;    /* a flush waits for records before this */
	bool stop;
	char last_err[GNARL_ERR_SIZE];

	/* writer only */
	char *buf; /* the batch's JSON lines */
	size_t len, buf_cap;
	struct {
		char *key;
		uint64_t k;
	} doubts[DOUBTS]; /* failed batches that may have landed: asked again */
	uint32_t n_doubts;
	bool losing; /* summaries are being lost (see summaries.h) */
	double losing_since;
	double last_look; /* when check_full last ran */
	uint64_t lost_at_start, failed_at_start, seen_full;
	char err[GNARL_ERR_SIZE];
};

/* `seconds` from now on `clock`, as an absolute timespec. */
static struct timespec abs_after(clockid_t clock, double seconds)
{
	struct timespec ts;
	long ns;

	clock_gettime(clock, &ts);
	if (seconds < 0)
		seconds = 0;
	ts.tv_sec += (time_t)seconds;
	ns = ts.tv_nsec + (long)((seconds - (double)(time_t)seconds) * 1e9);
	ts.tv_sec += ns / 1000000000L;
	ts.tv_nsec = ns % 1000000000L;
	return ts;
}

static uint64_t load(const _Atomic uint64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static void add(_Atomic uint64_t *a, uint64_t n)
{
	atomic_fetch_add_explicit(a, n, memory_order_relaxed);
}

/* ---- push ---------------------------------------------------------------- */

int gnarl_summaries_push(struct gnarl_summaries *s, const struct gnarl_summaries_record *rec)
{
	const struct gnarl_episode_record *ep;
	uint64_t t, h, n;
	struct slot *sl;
	double *terms;
	uint32_t k;

	if (!s)
		return 0;
	ep = rec->ep;
	t = atomic_load_explicit(&s->tail, memory_order_relaxed);
	h = atomic_load_explicit(&s->head, memory_order_acquire);
	n = load(&s->next_seq);
	atomic_store_explicit(&s->next_seq, n + 1, memory_order_relaxed);
	if (t - h >= s->cap) {
		add(&s->dropped_full, 1);
		return GNARL_EBUSY;
	}
	sl = &s->slots[t % s->cap];
	terms = s->terms + (size_t)(t % s->cap) * s->n_terms;
	*sl = (struct slot){
	    .seq = n,
	    .iteration = rec->iteration,
	    .episode = ep->episode,
	    .length = ep->length,
	    .llm_calls = rec->llm_calls,
	    .llm_hits = rec->llm_hits,
	    .ret = ep->ret,
	    .env_reward = ep->env_reward,
	    .env = ep->env,
	    .rooms = ep->rooms,
	    .dungeons = ep->dungeons,
	    .milestones = ep->milestones,
	    .enemies_killed = ep->enemies_killed,
	    .terminated = ep->terminated,
	    .truncated = ep->truncated,
	    .has_state = ep->has_state,
	};
	clock_gettime(CLOCK_REALTIME, &sl->time);
	for (k = 0; k < s->n_terms; k++)
		terms[k] = k < ep->n_terms && ep->terms ? ep->terms[k] : 0.0;
	atomic_store_explicit(&s->tail, t + 1, memory_order_release);
	return 0;
}

/* ---- the writer: JSON lines ---------------------------------------------- */

static int append(const char *data, size_t size, void *ctx)
{
	struct gnarl_summaries *s = ctx;
	size_t cap;
	char *p;

	if (s->len + size + 1 > s->buf_cap) {
		cap = s->buf_cap ? s->buf_cap : 64 * 1024;
		while (cap < s->len + size + 1)
			cap *= 2;
		p = realloc(s->buf, cap);
		if (!p)
			return -1;
		s->buf = p;
		s->buf_cap = cap;
	}
	memcpy(s->buf + s->len, data, size);
	s->len += size;
	return 0;
}

static json_t *real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* Set key to v (a new reference); false when v is NULL or setting fails. */
static bool set(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) == 0;
}

static json_t *record_json(const struct gnarl_summaries *s, const struct slot *r,
                           const double *terms)
{
	json_t *o = json_object(), *t = json_object(), *m = json_array();
	struct tm tm;
	char when[64];
	bool ok = o && t && m;
	uint32_t k;

	for (k = 0; ok && k < s->n_terms; k++)
		ok = set(t, s->names[k], real_or_null(terms[k]));
	for (k = 0; ok && k < GNARL_MILESTONE_COUNT; k++)
		if (r->milestones & (1u << k))
			ok = json_array_append_new(m, json_string(gnarl_episode_milestone_name(k))) == 0;
	gmtime_r(&r->time.tv_sec, &tm);
	k = (uint32_t)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + k, sizeof(when) - k, ".%03ldZ", r->time.tv_nsec / 1000000L);
	ok = ok && set(o, "rank", json_integer(s->rank)) &&
	     set(o, "seq", json_integer((json_int_t)r->seq)) &&
	     set(o, "iteration", json_integer((json_int_t)r->iteration)) &&
	     set(o, "env", json_integer(r->env)) &&
	     set(o, "episode", json_integer((json_int_t)r->episode)) &&
	     set(o, "return", real_or_null(r->ret)) &&
	     set(o, "env_reward", real_or_null(r->env_reward)) &&
	     set(o, "length", json_integer((json_int_t)r->length)) &&
	     set(o, "terms", json_incref(t)) && set(o, "rooms", json_integer(r->rooms)) &&
	     set(o, "dungeons", json_integer(r->dungeons)) &&
	     set(o, "enemies_killed", json_integer(r->enemies_killed)) &&
	     set(o, "milestones", json_incref(m)) &&
	     set(o, "has_state", json_boolean(r->has_state)) &&
	     set(o, "llm_calls", json_integer((json_int_t)r->llm_calls)) &&
	     set(o, "llm_hits", json_integer((json_int_t)r->llm_hits)) &&
	     set(o, "terminated", json_boolean(r->terminated)) &&
	     set(o, "truncated", json_boolean(r->truncated)) && set(o, "time", json_string(when));
	json_decref(t);
	json_decref(m);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Queue entries [h, h + k) as JSON lines into s->buf. */
static int format_batch(struct gnarl_summaries *s, uint64_t h, uint64_t k)
{
	uint64_t i;
	json_t *o;
	int rc;

	s->len = 0;
	for (i = h; i < h + k; i++) {
		o = record_json(s, &s->slots[i % s->cap],
		                s->terms + (size_t)(i % s->cap) * s->n_terms);
		rc = o ? json_dump_callback(o, append, s, JSON_COMPACT | JSON_PRESERVE_ORDER) : -1;
		json_decref(o);
		if (rc < 0 || append("\n", 1, s) < 0)
			return GNARL_ENOMEM;
	}
	return 0;
}

/* ---- the writer: counters, gauges, outage lines --------------------------- */

static uint64_t dropped_total(const struct gnarl_summaries *s)
{
	return load(&s->dropped_full) + load(&s->dropped_failed);
}

static void publish(struct gnarl_summaries *s)
{
	if (!s->gauges)
		return;
	gnarl_gauges_set(s->gauges, "summaries/written", (double)load(&s->written));
	gnarl_gauges_set(s->gauges, "summaries/dropped", (double)dropped_total(s));
	gnarl_gauges_set(s->gauges, "summaries/failed_writes", (double)load(&s->failed_writes));
	gnarl_gauges_set(s->gauges, "summaries/unconfirmed", (double)load(&s->unconfirmed));
}

/* Summaries started being lost at `since` (a failed write, or `why` for
 * a full queue). */
static void losing(struct gnarl_summaries *s, const char *why, double since)
{
	if (s->losing)
		return;
	/* Counted from the last look at push's drops: the drops that
	 * revealed the loss, or happened while the failing put ran, are its. */
	s->losing = true;
	s->losing_since = since;
	s->lost_at_start = s->seen_full + load(&s->dropped_failed);
	s->failed_at_start = load(&s->failed_writes);
	if (why)
		gnarl_log(GNARL_LOG_WARN, WHO,
		          "episode summary queue full (%u records): dropping summaries until the "
		          "writer catches up with storage %s (%s)",
		          s->cap, gnarl_storage_root(s->st), why);
	else
		gnarl_log(GNARL_LOG_WARN, WHO,
		          "writing episode summaries failed: %s; each batch is retried %u times, "
		          "then dropped, until storage works again",
		          s->err, s->retries);
}

/* Push drops since the last look start (or prolong) a loss. */
static bool check_full(struct gnarl_summaries *s)
{
	uint64_t full = load(&s->dropped_full);
	double prev = s->last_look;

	s->last_look = gnarl_clock_monotonic();
	if (full == s->seen_full)
		return false;
	losing(s, "episodes finish faster than summaries are written", prev);
	s->seen_full = full;
	return true;
}

/* A batch of k records that `check` says is in the store (1) or not (0). */
static void settle_batch(struct gnarl_summaries *s, const char *key, uint64_t k, int check)
{
	if (check == 1) {
		add(&s->written, k);
		add(&s->objects, 1);
		gnarl_log(GNARL_LOG_INFO, WHO, "%s: its writes failed, but the batch is in the store: "
		          "its %llu summaries count as written", key, (unsigned long long)k);
	} else {
		add(&s->dropped_failed, k);
	}
}

/* Ask the store about every batch in doubt; those it cannot answer stay
 * (or, when `last`, count as dropped, said so). */
static void ask_doubts(struct gnarl_summaries *s, bool last)
{
	char err[GNARL_ERR_SIZE] = "";
	uint32_t kept = 0;
	uint64_t given_up = 0;
	bool down = false;

	for (uint32_t i = 0; i < s->n_doubts; i++) {
		/* One unanswered question is enough: each costs the plugin's
		 * retries. */
		int rc = down ? GNARL_EIO : gnarl_storage_exists(s->st, s->doubts[i].key, err);

		down = rc < 0;
		if (rc < 0 && !last) {
			s->doubts[kept++] = s->doubts[i];
			continue;
		}
		atomic_fetch_sub_explicit(&s->unconfirmed, s->doubts[i].k, memory_order_relaxed);
		if (rc < 0)
			given_up += s->doubts[i].k;
		settle_batch(s, s->doubts[i].key, s->doubts[i].k, rc);
		free(s->doubts[i].key);
	}
	s->n_doubts = kept;
	if (given_up)
		gnarl_log(GNARL_LOG_WARN, WHO, "%llu summaries whose writes failed could not be "
		          "checked in the store at shutdown (%s): they count as dropped, though some "
		          "may be there", (unsigned long long)given_up, err);
}

static void recovered(struct gnarl_summaries *s);

/* The last attempt at s->key (k records) failed: a failed PUT may have
 * landed, so ask; a store that cannot answer leaves it in doubt. */
static void after_failure(struct gnarl_summaries *s, uint64_t k)
{
	char err[GNARL_ERR_SIZE];
	int rc = gnarl_storage_exists(s->st, s->key, err);

	if (rc >= 0) {
		settle_batch(s, s->key, k, rc);
		if (rc == 1)
			recovered(s); /* it answered, and it had taken the batch */
		return;
	}
	if (s->n_doubts == DOUBTS) {
		/* The oldest doubt is given up: counted as dropped. */
		atomic_fetch_sub_explicit(&s->unconfirmed, s->doubts[0].k, memory_order_relaxed);
		settle_batch(s, s->doubts[0].key, s->doubts[0].k, 0);
		free(s->doubts[0].key);
		memmove(s->doubts, s->doubts + 1, (DOUBTS - 1) * sizeof(s->doubts[0]));
		s->n_doubts--;
	}
	s->doubts[s->n_doubts].key = strdup(s->key);
	s->doubts[s->n_doubts].k = k;
	if (!s->doubts[s->n_doubts].key) {
		add(&s->dropped_failed, k);
		return;
	}
	s->n_doubts++;
	add(&s->unconfirmed, k);
}

/* A write succeeded: the loss is over unless push still drops; the
 * store answers again, so it can say what became of the doubts. */
static void recovered(struct gnarl_summaries *s)
{
	if (s->n_doubts)
		ask_doubts(s, false);
	if (check_full(s) || !s->losing)
		return;
	s->losing = false;
	gnarl_log(GNARL_LOG_INFO, WHO,
	          "episode summaries are written to %s again after %.1f s: %llu summaries "
	          "dropped and %llu writes failed meanwhile",
	          gnarl_storage_root(s->st), gnarl_clock_monotonic() - s->losing_since,
	          (unsigned long long)(dropped_total(s) - s->lost_at_start),
	          (unsigned long long)(load(&s->failed_writes) - s->failed_at_start));
}

/* ---- the writer: waiting and writing ------------------------------------- */

/* Sleep until `deadline` (monotonic seconds), or until flush or free
 * asks (they change flush_to or stop under lock, then broadcast). */
static void sleep_until(struct gnarl_summaries *s, uint64_t h, double deadline)
{
	struct timespec ts = abs_after(CLOCK_MONOTONIC, deadline - gnarl_clock_monotonic());

	pthread_mutex_lock(&s->lock);
	if (!s->stop && s->flush_to <= h)
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	pthread_mutex_unlock(&s->lock);
}

/* Back off before retry `attempt`; false when told to stop meanwhile. */
static bool backoff(struct gnarl_summaries *s, uint32_t attempt)
{
	uint64_t ms = (uint64_t)s->backoff_ms << (attempt < 20 ? attempt : 20);
	struct timespec ts =
	    abs_after(CLOCK_MONOTONIC, (double)(ms < MAX_BACKOFF_MS ? ms : MAX_BACKOFF_MS) / 1e3);
	bool stop;

	pthread_mutex_lock(&s->lock);
	while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
		;
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return !stop;
}

/* Write s->buf (k records) at s->key: retries, then drop. */
static void put_batch(struct gnarl_summaries *s, uint64_t k)
{
	uint32_t attempt;
	double t0;

	for (attempt = 0;; attempt++) {
		t0 = gnarl_clock_monotonic();
		if (gnarl_storage_put(s->st, s->key, s->buf, s->len, s->err) == 0) {
			add(&s->written, k);
			add(&s->objects, 1);
			recovered(s);
			return;
		}
		losing(s, NULL, t0);
		add(&s->failed_writes, 1);
		pthread_mutex_lock(&s->lock);
		memcpy(s->last_err, s->err, sizeof(s->last_err));
		pthread_mutex_unlock(&s->lock);
		publish(s);
		if (attempt >= s->retries || !backoff(s, attempt))
			break;
	}
	after_failure(s, k);
}

/* Records before queue index `to` are handled: wake flush. */
static void handled(struct gnarl_summaries *s, uint64_t to)
{
	publish(s);
	pthread_mutex_lock(&s->lock);
	s->done = to;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Take up to one batch from h (of t - h queued), write it; the new head. */
static uint64_t write_next(struct gnarl_summaries *s, uint64_t h, uint64_t t)
{
	uint64_t k = t - h < s->batch ? t - h : s->batch;
	uint64_t first = s->slots[h % s->cap].seq, last = s->slots[(h + k - 1) % s->cap].seq;
	int rc = format_batch(s, h, k);

	atomic_store_explicit(&s->head, h + k, memory_order_release);
	snprintf(s->key, s->key_size, "%sepisodes_%0*llu-%0*llu.jsonl", s->dir, SEQ_DIGITS,
	         (unsigned long long)first, SEQ_DIGITS, (unsigned long long)last);
	if (rc == 0) {
		put_batch(s, k);
	} else {
		gnarl_err(s->err, rc, "out of memory formatting %llu episode summaries",
		          (unsigned long long)k);
		losing(s, NULL, gnarl_clock_monotonic());
		add(&s->dropped_failed, k);
	}
	handled(s, h + k);
	return h + k;
}

/* Stopping: what is still queued is lost. */
static void drop_rest(struct gnarl_summaries *s, uint64_t h, uint64_t t)
{
	ask_doubts(s, true);
	if (t > h) {
		add(&s->dropped_failed, t - h);
		atomic_store_explicit(&s->head, t, memory_order_release);
		gnarl_log(GNARL_LOG_WARN, WHO,
		          "%llu episode summaries were still queued at shutdown and are lost",
		          (unsigned long long)(t - h));
	}
	if (s->losing)
		gnarl_log(
		    GNARL_LOG_WARN, WHO,
		    "episode summaries to %s were still being lost at shutdown: %llu summaries "
		    "dropped and %llu writes failed in the last %.1f s",
		    gnarl_storage_root(s->st),
		    (unsigned long long)(dropped_total(s) - s->lost_at_start),
		    (unsigned long long)(load(&s->failed_writes) - s->failed_at_start),
		    gnarl_clock_monotonic() - s->losing_since);
	handled(s, t);
}

static void *writer_main(void *arg)
{
	struct gnarl_summaries *s = arg;
	uint64_t h = 0, t;
	double deadline = 0, published = 0, now;
	bool waiting = false, stop, flush;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		stop = s->stop;
		flush = s->flush_to > h;
		pthread_mutex_unlock(&s->lock);
		check_full(s);
		t = atomic_load_explicit(&s->tail, memory_order_acquire);
		if (stop) {
			drop_rest(s, h, t);
			return NULL;
		}
		now = gnarl_clock_monotonic();
		if (t == h) {
			if (now - published >= PUBLISH_MS / 1e3) {
				publish(s);
				published = now;
			}
			sleep_until(s, h, now + POLL_MS / 1e3);
			continue;
		}
		if (!flush && t - h < s->batch) {
			if (!waiting) {
				waiting = true;
				deadline = now + s->batch_ms / 1e3;
			}
			if (now < deadline) {
				sleep_until(s, h,
				            deadline < now + POLL_MS / 1e3 ? deadline
				                                           : now + POLL_MS / 1e3);
				continue;
			}
		}
		waiting = false;
		h = write_next(s, h, t);
	}
}

/* ---- create / flush / stats / free ---------------------------------------- */

struct scan {
	uint64_t next;
};

/* A key "<dir>episodes_<first>-<last>.jsonl" as write_next names them
 * (SEQ_DIGITS digits each): continue after <last>.  Anything else in the
 * directory (another tool's object, "-1", a 20-digit number that would
 * wrap next to 0) is not a batch and is ignored. */
static int scan_key(void *ctx, const char *key, uint64_t size)
{
	static const char head[] = "episodes_", tail[] = ".jsonl";
	struct scan *sc = ctx;
	const char *base = strrchr(key, '/'), *p;
	uint64_t last = 0;

	(void)size;
	base = base ? base + 1 : key;
	if (strlen(base) != sizeof(head) - 1 + 2 * SEQ_DIGITS + 1 + sizeof(tail) - 1 ||
	    strncmp(base, head, sizeof(head) - 1) || base[sizeof(head) - 1 + SEQ_DIGITS] != '-' ||
	    strcmp(base + sizeof(head) + 2 * SEQ_DIGITS, tail))
		return 0;
	for (p = base + sizeof(head) - 1; p < base + sizeof(head) - 1 + 2 * SEQ_DIGITS + 1; p++)
		if (p != base + sizeof(head) - 1 + SEQ_DIGITS && (*p < '0' || *p > '9'))
			return 0;
	for (p = base + sizeof(head) + SEQ_DIGITS; p < base + sizeof(head) + 2 * SEQ_DIGITS; p++)
		last = last * 10 + (uint64_t)(*p - '0');
	if (last >= sc->next)
		sc->next = last + 1;
	return 0;
}

static int copy_names(struct gnarl_summaries *s, const char *const *names, uint32_t n,
                      char err[GNARL_ERR_SIZE])
{
	uint32_t i, j;

	s->names = calloc(n ? n : 1, sizeof(*s->names));
	if (!s->names)
		return gnarl_err(err, GNARL_ENOMEM, "episode summaries: out of memory");
	for (i = 0; i < n; i++) {
		if (!names[i] || !names[i][0])
			return gnarl_err(err, GNARL_EINVAL,
			                 "episode summaries: reward term %u has no name", i);
		for (j = 0; j < i; j++)
			if (!strcmp(names[i], names[j]))
				return gnarl_err(
				    err, GNARL_EINVAL,
				    "episode summaries: two reward terms are named '%s' (terms %u "
				    "and %u); give each term a distinct `name`",
				    names[i], j, i);
		if (!(s->names[i] = strdup(names[i])))
			return gnarl_err(err, GNARL_ENOMEM, "episode summaries: out of memory");
		s->n_terms = i + 1;
	}
	return 0;
}

/* Sizes, names, directory, queue. */
static int setup(struct gnarl_summaries *s, const char *run_prefix, const char *const *names,
                 uint32_t n_terms, const struct gnarl_summaries_tuning *tune,
                 char err[GNARL_ERR_SIZE])
{
	size_t n = run_prefix ? strlen(run_prefix) : 0;
	int rc;

	s->batch = tune ? tune->batch_records : 1024;
	if (s->batch == 0 || s->batch > s->cap / 2)
		s->batch = s->cap / 2 ? s->cap / 2 : 1;
	s->batch_ms = tune ? tune->batch_ms : 5000;
	s->retries = tune ? tune->retries : 3;
	s->backoff_ms = tune ? tune->backoff_ms : 1000;
	rc = copy_names(s, names, n_terms, err);
	if (rc < 0)
		return rc;
	s->key_size = n + 96;
	s->dir = malloc(s->key_size);
	s->key = malloc(s->key_size);
	s->slots = malloc((size_t)s->cap * sizeof(*s->slots));
	s->terms = malloc((size_t)s->cap * (n_terms ? n_terms : 1) * sizeof(*s->terms));
	if (!s->dir || !s->key || !s->slots || !s->terms)
		return gnarl_err(err, GNARL_ENOMEM,
		                 "episode summaries: out of memory for a queue of %u records",
		                 s->cap);
	/* Written now, so push never takes the page faults of a fresh mapping. */
	memset(s->slots, 0, (size_t)s->cap * sizeof(*s->slots));
	memset(s->terms, 0, (size_t)s->cap * (n_terms ? n_terms : 1) * sizeof(*s->terms));
	snprintf(s->dir, s->key_size, "%s%sworkers/worker_%u/", n ? run_prefix : "",
	         n && run_prefix[n - 1] != '/' ? "/" : "", s->rank);
	return 0;
}

/* The next seq: after the highest found under dir. */
static int resume_seq(struct gnarl_summaries *s, char err[GNARL_ERR_SIZE])
{
	struct scan sc = {0};
	int rc;

	snprintf(s->key, s->key_size, "%sepisodes_", s->dir);
	rc = gnarl_storage_list(s->st, s->key, scan_key, &sc, err);
	if (rc < 0)
		return gnarl_err_prefix(
		    err, rc, "episode summaries: listing %s to continue numbering: ", s->dir);
	s->first_seq = sc.next;
	atomic_init(&s->next_seq, sc.next);
	return 0;
}

static int start(struct gnarl_summaries *s, char err[GNARL_ERR_SIZE])
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca) != 0)
		return gnarl_err(err, GNARL_ENOMEM, "episode summaries: out of memory");
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0)
		return gnarl_err(err, GNARL_ENOMEM, "episode summaries: out of memory");
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		pthread_cond_destroy(&s->cond);
		return gnarl_err(err, GNARL_ENOMEM, "episode summaries: out of memory");
	}
	s->sync_ok = true;
	/* The gauges exist from the start: progress.csv's first row, which
	 * fixes its columns, may come before the writer's first look. */
	publish(s);
	rc = pthread_create(&s->thread, NULL, writer_main, s);
	if (rc != 0)
		return gnarl_err(err, GNARL_EIO,
		                 "episode summaries: starting the writer thread: %s", strerror(rc));
	s->started = true;
	return 0;
}

int gnarl_summaries_create(struct gnarl_storage *st, const char *run_prefix, uint32_t rank,
                           const char *const *term_names, uint32_t n_terms, uint32_t capacity,
                           struct gnarl_gauges *gauges, const struct gnarl_summaries_tuning *tune,
                           struct gnarl_summaries **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_summaries *s;
	int rc;

	*out = NULL;
	if (!st || capacity == 0 || (n_terms && !term_names))
		return gnarl_err(
		    err, GNARL_EINVAL,
		    "episode summaries: need a store, a queue capacity >= 1 and %u term "
		    "names",
		    n_terms);
	s = calloc(1, sizeof(*s));
	if (!s)
		return gnarl_err(err, GNARL_ENOMEM, "episode summaries: out of memory");
	s->st = st;
	s->gauges = gauges;
	s->rank = rank;
	s->cap = capacity;
	atomic_init(&s->tail, 0);
	atomic_init(&s->head, 0);
	s->last_look = gnarl_clock_monotonic();
	rc = setup(s, run_prefix, term_names, n_terms, tune, err);
	if (rc == 0)
		rc = resume_seq(s, err);
	if (rc == 0)
		rc = start(s, err);
	if (rc < 0) {
		gnarl_summaries_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int gnarl_summaries_flush(struct gnarl_summaries *s, uint32_t timeout_ms, char err[GNARL_ERR_SIZE])
{
	struct timespec ts = abs_after(CLOCK_MONOTONIC, timeout_ms / 1e3);
	uint64_t target, done;

	if (!s)
		return 0;
	target = atomic_load_explicit(&s->tail, memory_order_relaxed);
	pthread_mutex_lock(&s->lock);
	if (s->flush_to < target)
		s->flush_to = target;
	pthread_cond_broadcast(&s->cond);
	while (s->done < target && pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
		;
	done = s->done;
	if (done < target)
		gnarl_err(
		    err, GNARL_ETIMEDOUT,
		    "episode summaries: %llu still queued for %s after waiting %u ms (last write "
		    "error: %s)",
		    (unsigned long long)(target - done), gnarl_storage_root(s->st), timeout_ms,
		    s->last_err[0] ? s->last_err : "none, storage is slow");
	pthread_mutex_unlock(&s->lock);
	return done < target ? GNARL_ETIMEDOUT : 0;
}

void gnarl_summaries_stats(const struct gnarl_summaries *s, struct gnarl_summaries_stats *out)
{
	*out = (struct gnarl_summaries_stats){
	    .pushed = load(&s->next_seq) - s->first_seq,
	    .queued = load(&s->tail),
	    .dropped_full = load(&s->dropped_full),
	    .dropped_failed = load(&s->dropped_failed),
	    .written = load(&s->written),
	    .objects = load(&s->objects),
	    .failed_writes = load(&s->failed_writes),
	    .unconfirmed = load(&s->unconfirmed),
	    .first_seq = s->first_seq,
	};
}

void gnarl_summaries_free(struct gnarl_summaries *s)
{
	uint32_t i;

	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		publish(s);
	}
	if (s->sync_ok) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
	}
	for (i = 0; i < s->n_terms; i++)
		free(s->names[i]);
	free(s->names);
	free(s->slots);
	free(s->terms);
	free(s->buf);
	free(s->key);
	free(s->dir);
	free(s);
}
