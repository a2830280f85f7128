/*
 * pool.c - the persistent thread pool (see pool.h).
 *
 * A run publishes (fn, ctx, n_tasks) and bumps `generation`; workers that
 * see a new generation run their tasks and count themselves into `done`.
 * The caller runs thread 0's tasks and then spins until every worker has
 * checked in.  Workers spin on `generation` for SPIN_NS after each run
 * (training alternates runs every few microseconds) and only then sleep on
 * the condition variable, so a busy pool never pays for a futex wake-up and
 * an idle pool burns no CPU.  Invariant: fields of a run are written before
 * the release-store of `generation` and read after its acquire-load.
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

#define POOL_MAX_THREADS 256
/* How long an idle worker spins before sleeping. */
#define SPIN_NS 2000000ull

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
	_Atomic uint32_t sleepers;   /* workers inside pthread_cond_wait */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct worker *workers;      /* n - 1 */
	uint32_t started;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void run_tasks(struct gnarl_pool *p, uint32_t thread)
{
	for (uint32_t i = thread; i < p->n_tasks; i += p->n)
		p->fn(p->ctx, i, thread);
}

/* Wait until generation differs from seen or stop is set; spin first. */
static uint64_t wait_generation(struct gnarl_pool *p, uint64_t seen)
{
	uint64_t g, start = 0;
	uint32_t spins = 0;

	for (;;) {
		g = atomic_load_explicit(&p->generation, memory_order_acquire);
		if (g != seen || atomic_load(&p->stop))
			return g;
		cpu_relax();
		if (++spins % 1024)
			continue;
		if (!start)
			start = now_ns();
		else if (now_ns() - start > SPIN_NS)
			break;
		/* Oversubscribed machines: let the thread we wait for run. */
		sched_yield();
	}
	pthread_mutex_lock(&p->lock);
	atomic_fetch_add(&p->sleepers, 1);
	/* seq_cst on sleepers and generation (here and in gnarl_pool_run): the
	 * caller either sees sleepers > 0 and broadcasts, or we see its bump. */
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
		atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
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
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->workers);
	free(p);
}

uint32_t gnarl_pool_threads(const struct gnarl_pool *p)
{
	return p ? p->n : 1;
}

void gnarl_pool_run(struct gnarl_pool *p, gnarl_pool_fn fn, void *ctx,
                    uint32_t n_tasks)
{
	uint32_t workers, spins = 0;

	if (!p || p->n == 1 || n_tasks <= 1) {
		for (uint32_t i = 0; i < n_tasks; i++)
			fn(ctx, i, 0);
		return;
	}
	workers = p->n - 1;
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
	run_tasks(p, 0);
	while (atomic_load_explicit(&p->done, memory_order_acquire) != workers) {
		cpu_relax();
		if (++spins % 4096 == 0)
			sched_yield();
	}
}

void gnarl_pool_barrier_init(struct gnarl_pool_barrier *b, uint32_t n)
{
	atomic_init(&b->arrived, 0);
	atomic_init(&b->phase, 0);
	b->n = n;
}

void gnarl_pool_barrier_wait(struct gnarl_pool_barrier *b)
{
	uint32_t phase = atomic_load_explicit(&b->phase, memory_order_acquire);
	uint32_t spins = 0;

	if (b->n <= 1)
		return;
	if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1 == b->n) {
		atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
		atomic_fetch_add_explicit(&b->phase, 1, memory_order_release);
		return;
	}
	while (atomic_load_explicit(&b->phase, memory_order_acquire) == phase) {
		cpu_relax();
		if (++spins % 4096 == 0)
			sched_yield();
	}
}
