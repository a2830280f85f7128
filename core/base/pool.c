/*
 * pool.c - the persistent thread pool (see pool.h).
 *
 * A run publishes (fn, ctx, n_tasks) and bumps `generation`; workers that
 * see a new generation run their tasks and count themselves into `done`.
 * The caller runs thread 0's tasks and then waits until every worker has
 * checked in.  Every wait spins first and then sleeps on a condition
 * variable: idle workers spin for IDLE_SPIN_NS (training alternates runs
 * every few hundred microseconds, so a busy pool never pays for a wake-up),
 * a caller or barrier waiting for a partner spins for WAIT_SPIN_NS (the
 * partner is usually microseconds away; if it was descheduled, sleeping
 * frees this core for it).
 *
 * Sleeping without lost wake-ups: a sleeper increments `sleepers` under the
 * lock and re-checks its condition; a waker changes the condition and then
 * reads `sleepers` (both seq_cst), and broadcasts under the lock when it is
 * non-zero.  One of the two always sees the other.
 */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"

#define POOL_MAX_THREADS 256
#define IDLE_SPIN_NS 200000ull
#define WAIT_SPIN_NS 50000ull

struct worker {
	struct gnarl_pool *pool;
	uint32_t index;
	pthread_t thread;
};

struct gnarl_pool {
	uint32_t n;                  /* threads including the caller */
	gnarl_pool_fn fn;
	void *ctx;
	uint32_t n_tasks;
	_Atomic uint64_t generation; /* bumped per run */
	_Atomic uint32_t done;       /* workers finished with this run */
	_Atomic bool stop;
	_Atomic uint32_t sleepers;   /* workers waiting for a run */
	_Atomic uint32_t caller_sleeps;
	uint64_t caller_slept;       /* gnarl_pool_sleeps */
	pthread_mutex_t lock;
	pthread_cond_t wake;         /* workers: a run or stop */
	pthread_cond_t finished;     /* caller: every worker is done */
	struct worker *workers;      /* n - 1 */
	uint32_t started;
	bool pending;                /* a run is out: submitted, not yet waited for */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Spin while *v == old for up to `ns`; true when it changed. */
static bool spin32(_Atomic uint32_t *v, uint32_t old, uint64_t ns)
{
	uint64_t start = 0;

	for (uint32_t spins = 1;; spins++) {
		if (atomic_load_explicit(v, memory_order_acquire) != old)
			return true;
		cpu_relax();
		if (spins % 256)
			continue;
		if (!start)
			start = gnarl_clock_monotonic_ns();
		else if (gnarl_clock_monotonic_ns() - start > ns)
			return false;
	}
}

static void run_tasks(struct gnarl_pool *p, uint32_t thread)
{
	for (uint32_t i = thread; i < p->n_tasks; i += p->n)
		p->fn(p->ctx, i, thread);
}

/* Wait until generation differs from seen or stop is set. */
static uint64_t wait_generation(struct gnarl_pool *p, uint64_t seen)
{
	uint64_t g, start = 0;

	for (uint32_t spins = 1;; spins++) {
		g = atomic_load_explicit(&p->generation, memory_order_acquire);
		if (g != seen || atomic_load(&p->stop))
			return g;
		cpu_relax();
		if (spins % 256)
			continue;
		if (!start)
			start = gnarl_clock_monotonic_ns();
		else if (gnarl_clock_monotonic_ns() - start > IDLE_SPIN_NS)
			break;
	}
	pthread_mutex_lock(&p->lock);
	atomic_fetch_add(&p->sleepers, 1);
	while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
		pthread_cond_wait(&p->wake, &p->lock);
	atomic_fetch_sub(&p->sleepers, 1);
	pthread_mutex_unlock(&p->lock);
	return g;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct gnarl_pool *p = w->pool;
	uint64_t seen = 0;

	for (;;) {
		seen = wait_generation(p, seen);
		if (atomic_load(&p->stop))
			break;
		run_tasks(p, w->index);
		if (atomic_fetch_add(&p->done, 1) + 2 == p->n && atomic_load(&p->caller_sleeps)) {
			pthread_mutex_lock(&p->lock);
			pthread_cond_broadcast(&p->finished);
			pthread_mutex_unlock(&p->lock);
		}
	}
	return NULL;
}

int gnarl_pool_create(uint32_t n_threads, struct gnarl_pool **out,
                      char err[GNARL_ERR_SIZE])
{
	struct gnarl_pool *p;
	int rc;

	*out = NULL;
	if (n_threads == 0 || n_threads > POOL_MAX_THREADS)
		return gnarl_err(err, GNARL_EINVAL,
		                 "thread pool: %u threads asked, use 1 to %d", n_threads,
		                 POOL_MAX_THREADS);
	p = calloc(1, sizeof(*p));
	if (!p)
		return gnarl_err(err, GNARL_ENOMEM, "thread pool: out of memory");
	p->n = n_threads;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->finished, NULL);
	if (n_threads > 1) {
		p->workers = calloc(n_threads - 1, sizeof(*p->workers));
		if (!p->workers) {
			gnarl_pool_free(p);
			return gnarl_err(err, GNARL_ENOMEM, "thread pool: out of memory");
		}
	}
	for (uint32_t i = 0; i + 1 < n_threads; i++) {
		p->workers[i].pool = p;
		p->workers[i].index = i + 1;
		rc = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
		if (rc) {
			gnarl_pool_free(p);
			return gnarl_err(err, GNARL_EIO,
			                 "thread pool: cannot start thread %u of %u: %s", i + 2,
			                 n_threads, strerror(rc));
		}
		p->started++;
	}
	*out = p;
	return 0;
}

void gnarl_pool_free(struct gnarl_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (uint32_t i = 0; i < p->started; i++)
		pthread_join(p->workers[i].thread, NULL);
	pthread_cond_destroy(&p->finished);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->workers);
	free(p);
}

uint32_t gnarl_pool_threads(const struct gnarl_pool *p)
{
	return p ? p->n : 1;
}

/* Publish a run of n_tasks tasks to the workers. */
static void publish(struct gnarl_pool *p, gnarl_pool_fn fn, void *ctx, uint32_t n_tasks)
{
	p->fn = fn;
	p->ctx = ctx;
	p->n_tasks = n_tasks;
	atomic_store_explicit(&p->done, 0, memory_order_relaxed);
	atomic_fetch_add(&p->generation, 1);
	if (atomic_load(&p->sleepers)) {
		pthread_mutex_lock(&p->lock);
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->lock);
	}
	p->pending = true;
}

void gnarl_pool_wait(struct gnarl_pool *p)
{
	const uint32_t workers = p ? p->n - 1 : 0;

	if (!p || !p->pending)
		return;
	for (uint32_t d; (d = atomic_load(&p->done)) != workers;) {
		if (spin32(&p->done, d, WAIT_SPIN_NS))
			continue;
		p->caller_slept++;
		pthread_mutex_lock(&p->lock);
		atomic_fetch_add(&p->caller_sleeps, 1);
		while (atomic_load(&p->done) != workers)
			pthread_cond_wait(&p->finished, &p->lock);
		atomic_fetch_sub(&p->caller_sleeps, 1);
		pthread_mutex_unlock(&p->lock);
	}
	p->pending = false;
}

void gnarl_pool_run(struct gnarl_pool *p, gnarl_pool_fn fn, void *ctx,
                    uint32_t n_tasks)
{
	if (!p || p->n == 1 || n_tasks <= 1) {
		gnarl_pool_wait(p);
		for (uint32_t i = 0; i < n_tasks; i++)
			fn(ctx, i, 0);
		return;
	}
	gnarl_pool_wait(p);
	publish(p, fn, ctx, n_tasks);
	run_tasks(p, 0);
	gnarl_pool_wait(p);
}

void gnarl_pool_submit(struct gnarl_pool *p, gnarl_pool_fn fn, void *ctx)
{
	if (!p || p->n == 1) {
		fn(ctx, 1, 1);
		return;
	}
	gnarl_pool_wait(p);
	/* Two tasks: task 0 is the caller's and is never run; task 1 is
	 * worker 1's. */
	publish(p, fn, ctx, 2);
}

uint64_t gnarl_pool_sleeps(const struct gnarl_pool *p)
{
	return p ? p->caller_slept : 0;
}

void gnarl_pool_barrier_init(struct gnarl_pool_barrier *b, uint32_t n)
{
	atomic_init(&b->arrived, 0);
	atomic_init(&b->phase, 0);
	atomic_init(&b->sleepers, 0);
	atomic_init(&b->sleeps, 0);
	b->n = n;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->wake, NULL);
}

void gnarl_pool_barrier_destroy(struct gnarl_pool_barrier *b)
{
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->lock);
}

void gnarl_pool_barrier_wait(struct gnarl_pool_barrier *b)
{
	uint32_t phase = atomic_load(&b->phase);

	if (b->n <= 1)
		return;
	if (atomic_fetch_add(&b->arrived, 1) + 1 == b->n) {
		atomic_store(&b->arrived, 0);
		atomic_fetch_add(&b->phase, 1);
		if (atomic_load(&b->sleepers)) {
			pthread_mutex_lock(&b->lock);
			pthread_cond_broadcast(&b->wake);
			pthread_mutex_unlock(&b->lock);
		}
		return;
	}
	if (spin32(&b->phase, phase, WAIT_SPIN_NS))
		return;
	atomic_fetch_add(&b->sleeps, 1);
	pthread_mutex_lock(&b->lock);
	atomic_fetch_add(&b->sleepers, 1);
	while (atomic_load(&b->phase) == phase)
		pthread_cond_wait(&b->wake, &b->lock);
	atomic_fetch_sub(&b->sleepers, 1);
	pthread_mutex_unlock(&b->lock);
}
