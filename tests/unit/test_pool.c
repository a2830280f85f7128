/*
 * test_pool.c - the thread pool: every task runs once on thread i % n,
 * runs after a submitted job wait for it, the barrier holds parties
 * together for thousands of rounds, and the waits that outlast the spin
 * (a task sleeping 2 ms) still return at the right moment and are counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pool.h"

struct tally {
	uint32_t n;
	_Atomic uint32_t runs[64];
	uint32_t thread_of[64];
};

static void count(void *ctx, uint32_t task, uint32_t thread)
{
	struct tally *t = ctx;

	atomic_fetch_add(&t->runs[task], 1);
	t->thread_of[task] = thread;
}

static void test_run_mapping(void **state)
{
	char err[GNARL_ERR_SIZE];

	(void)state;
	for (uint32_t n = 1; n <= 3; n++) {
		struct gnarl_pool *p;
		assert_int_equal(gnarl_pool_create(n, &p, err), 0);
		assert_int_equal(gnarl_pool_threads(p), n);
		for (int round = 0; round < 200; round++) {
			struct tally t;
			memset(&t, 0, sizeof(t));
			gnarl_pool_run(p, count, &t, 7);
			for (uint32_t i = 0; i < 7; i++) {
				assert_int_equal(atomic_load(&t.runs[i]), 1);
				assert_int_equal(t.thread_of[i], i % n);
			}
			assert_int_equal(atomic_load(&t.runs[7]), 0);
		}
		gnarl_pool_free(p);
	}
	assert_int_equal(gnarl_pool_create(0, &(struct gnarl_pool *){NULL}, err), GNARL_EINVAL);
	gnarl_pool_free(NULL);
}

static void nap(long ns)
{
	struct timespec ts = {0, ns};

	nanosleep(&ts, NULL);
}

struct job {
	_Atomic int state;
};

static void slow_job(void *ctx, uint32_t task, uint32_t thread)
{
	struct job *j = ctx;

	assert_int_equal(task, 1);
	assert_int_equal(thread, 1);
	nap(2000000);
	atomic_store(&j->state, 1);
}

static void test_submit_wait(void **state)
{
	char err[GNARL_ERR_SIZE];
	struct gnarl_pool *p;
	struct job j = {0};
	struct tally t;
	uint64_t sleeps;

	(void)state;
	assert_int_equal(gnarl_pool_create(2, &p, err), 0);
	sleeps = gnarl_pool_sleeps(p);
	gnarl_pool_submit(p, slow_job, &j);
	assert_int_equal(atomic_load(&j.state), 0); /* returned at once */
	gnarl_pool_wait(p);
	assert_int_equal(atomic_load(&j.state), 1);
	/* The 2 ms job outlasted the caller's spin: the wait slept. */
	assert_true(gnarl_pool_sleeps(p) > sleeps);
	gnarl_pool_wait(p); /* nothing pending: returns */
	/* A run waits for a submitted job first. */
	atomic_store(&j.state, 0);
	gnarl_pool_submit(p, slow_job, &j);
	memset(&t, 0, sizeof(t));
	gnarl_pool_run(p, count, &t, 2);
	assert_int_equal(atomic_load(&j.state), 1);
	assert_int_equal(atomic_load(&t.runs[1]), 1);
	gnarl_pool_free(p);

	/* Without workers a job runs inline. */
	assert_int_equal(gnarl_pool_create(1, &p, err), 0);
	atomic_store(&j.state, 0);
	gnarl_pool_submit(p, slow_job, &j);
	assert_int_equal(atomic_load(&j.state), 1);
	gnarl_pool_free(p);
}

struct rounds {
	struct gnarl_pool_barrier b;
	_Atomic uint32_t counter;
	uint32_t bad;
	uint32_t n_rounds;
	bool slow;
};

/* Each round: both add 1, meet, and must both see 2 per finished round. */
static void meet(void *ctx, uint32_t task, uint32_t thread)
{
	struct rounds *r = ctx;

	(void)thread;
	for (uint32_t i = 0; i < r->n_rounds; i++) {
		if (r->slow && task == 1 && i % 4 == 0)
			nap(200000);
		atomic_fetch_add(&r->counter, 1);
		gnarl_pool_barrier_wait(&r->b);
		if (atomic_load(&r->counter) < 2 * (i + 1))
			r->bad++;
		gnarl_pool_barrier_wait(&r->b);
	}
}

static void test_barrier(void **state)
{
	char err[GNARL_ERR_SIZE];
	struct gnarl_pool *p;
	struct rounds r;

	(void)state;
	assert_int_equal(gnarl_pool_create(2, &p, err), 0);
	for (int slow = 0; slow < 2; slow++) {
		memset(&r, 0, sizeof(r));
		gnarl_pool_barrier_init(&r.b, 2);
		r.n_rounds = slow ? 40 : 20000;
		r.slow = slow;
		gnarl_pool_run(p, meet, &r, 2);
		assert_int_equal(atomic_load(&r.counter), 2 * r.n_rounds);
		assert_int_equal(r.bad, 0);
		/* Waiting 0.2 ms for the napping party means sleeping. */
		if (slow)
			assert_true(atomic_load(&r.b.sleeps) >= 1);
		gnarl_pool_barrier_destroy(&r.b);
	}
	/* One party: wait returns at once. */
	gnarl_pool_barrier_init(&r.b, 1);
	gnarl_pool_barrier_wait(&r.b);
	gnarl_pool_barrier_destroy(&r.b);
	gnarl_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_run_mapping),
	    cmocka_unit_test(test_submit_wait),
	    cmocka_unit_test(test_barrier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
