/*
 * pool.h - a small persistent thread pool for the step path: the caller
 * plus n-1 workers run `n_tasks` tasks of one function and the call
 * returns when all are done.  Task i always runs on thread i % n, so work
 * placement is deterministic; results must not depend on it anyway.
 *
 * Workers spin for a while after a run (the next one usually follows
 * within microseconds), then sleep on a condition variable; the caller
 * waiting for workers does the same on a shorter clock.  Runs never
 * allocate and never fail.
 */
#ifndef GNARL_POOL_H
#define GNARL_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_pool;

/* Runs task `task` on thread `thread` (0 = the caller). */
typedef void (*gnarl_pool_fn)(void *ctx, uint32_t task, uint32_t thread);

/* n_threads counts the caller: 1 means no worker thread at all (runs are
 * plain loops).  *out is owned: gnarl_pool_free().  GNARL_EINVAL for 0 or
 * more than 256 threads, GNARL_ENOMEM/GNARL_EIO when threads cannot start. */
int gnarl_pool_create(uint32_t n_threads, struct gnarl_pool **out,
                      char err[GNARL_ERR_SIZE]);
void gnarl_pool_free(struct gnarl_pool *p);  /* accepts NULL; joins workers */
uint32_t gnarl_pool_threads(const struct gnarl_pool *p);

/* Run fn(ctx, i, i % n) for i in [0, n_tasks); returns when all are done.
 * Not reentrant: one run at a time per pool, from one caller thread. */
void gnarl_pool_run(struct gnarl_pool *p, gnarl_pool_fn fn, void *ctx,
                    uint32_t n_tasks);

/* Start fn(ctx, 1, 1) on worker thread 1 and return at once; the caller
 * goes on with its own work and calls gnarl_pool_wait before touching what
 * the job touches.  Needs a pool of >= 2 threads (else it runs fn inline).
 * One job at a time; gnarl_pool_run waits for an unfinished one first. */
void gnarl_pool_submit(struct gnarl_pool *p, gnarl_pool_fn fn, void *ctx);
void gnarl_pool_wait(struct gnarl_pool *p);

/* How many times the caller waited for workers longer than the spin and
 * slept: a sign that another process holds the cores. */
uint64_t gnarl_pool_sleeps(const struct gnarl_pool *p);

/* A barrier for tasks of one run that must meet (e.g. the actor and
 * critic halves of an update exchanging gradient norms).  All n parties
 * call wait; it returns when the n-th arrives.  Reusable.  Waiters spin
 * for a few tens of microseconds, then sleep, so a party descheduled by
 * another process gets a core instead of watching its partner spin. */
struct gnarl_pool_barrier {
	_Atomic uint32_t arrived;
	_Atomic uint32_t phase;
	_Atomic uint32_t sleepers;
	_Atomic uint64_t sleeps;      /* waits that outlasted the spin */
	uint32_t n;                   /* parties; may change between uses */
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

void gnarl_pool_barrier_init(struct gnarl_pool_barrier *b, uint32_t n);
void gnarl_pool_barrier_destroy(struct gnarl_pool_barrier *b);
void gnarl_pool_barrier_wait(struct gnarl_pool_barrier *b);

#endif /* GNARL_POOL_H */
