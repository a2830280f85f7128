/*
 * test_saver.c - core/saver.c writing into the fixturemem storage plugin
 * (tests/plugins), whose `gate` holds a put until the test closes a named
 * pipe (and fails it when told), so the test knows exactly when a write
 * is in flight.  After a failed write, a checkpoint that waits is skipped
 * for a newer one; while writes succeed, a third checkpoint waits for a
 * place instead and none is skipped; saved ones are whole and `latest`;
 * outcomes come in order, one per checkpoint.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "checkpoint.h"
#include "config.h"
#include "error.h"
#include "saver.h"
#include "storage.h"

static char dir[] = "/tmp/gnarl-saver-XXXXXX";
static char gate[64];
static struct gnarl_config *cfg;
static struct gnarl_storage *st;
static char err[GNARL_ERR_SIZE];

static int setup(void **state)
{
	char set[128];
	const char *sets[] = {set};

	(void)state;
	if (!mkdtemp(dir) || setenv("GNARL_PLUGIN_PATH", GNARL_FIXTURE_DIR, 1))
		return -1;
	snprintf(gate, sizeof(gate), "%s/gate", dir);
	snprintf(set, sizeof(set), "storage.fixturemem={gate: '%s'}", gate);
	if (gnarl_config_load(GNARL_SOURCE_DIR "/configs/cartpole.yaml", sets, 1, &cfg, err) ||
	    gnarl_storage_open(cfg, "fixturemem://b", &st, err)) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gnarl_storage_close(st);
	gnarl_config_free(cfg);
	unlink(gate);
	rmdir(dir);
	return 0;
}

/* A checkpoint of `iteration` holding one tensor of four floats. */
static struct gnarl_checkpoint_encoded *checkpoint(uint64_t iteration)
{
	static float w[4];
	struct gnarl_tensor t = {"w", GNARL_DTYPE_F32, 1, {4}, w};
	struct gnarl_manifest_info info = {.iteration = iteration, .env_steps = 128 * iteration};
	struct gnarl_checkpoint_encoded *ck = NULL;

	for (int i = 0; i < 4; i++)
		w[i] = (float)iteration + 0.25f * (float)i;
	if (gnarl_checkpoint_encode(&t, 1, &info, &ck, err) < 0)
		fail_msg("encode: %s", err);
	return ck;
}

/* The text of key in the store (NUL-terminated; owned). */
static char *text_of(const char *key)
{
	void *data = NULL;
	size_t len;
	char *t;

	if (gnarl_storage_get(st, key, &data, &len, err) < 0)
		fail_msg("get %s: %s", key, err);
	t = realloc(data, len + 1);
	t[len] = '\0';
	return t;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The next outcome must be `result` for `iteration`; its writing time. */
static double expect(struct gnarl_saver *s, enum gnarl_saver_result result, uint64_t iteration)
{
	struct gnarl_saver_outcome o;
	double seconds;

	if (!gnarl_saver_next(s, &o))
		fail_msg("no outcome; expected iteration %llu", (unsigned long long)iteration);
	assert_int_equal(o.result, result);
	assert_int_equal(o.iteration, iteration);
	if (result == GNARL_SAVER_SAVED) {
		char want[96];
		snprintf(want, sizeof(want), "fixturemem://b/run/checkpoints/checkpoint_%06llu",
		         (unsigned long long)iteration);
		assert_string_equal(o.uri, want);
		assert_true(o.seconds > 0 && isfinite(o.seconds));
	} else {
		assert_null(o.uri);
	}
	if (result == GNARL_SAVER_FAILED) {
		assert_non_null(strstr(o.err, "checkpoint_000001"));
		assert_non_null(strstr(o.err, "the gate said fail"));
	}
	seconds = o.seconds;
	free(o.uri);
	return seconds;
}

/* Open the gate for writing: returns once a put waits in it. */
static int hold_gate(void)
{
	int fd = open(gate, O_WRONLY);

	assert_true(fd >= 0);
	return fd;
}

/* The store fails: a checkpoint that waits is skipped for a newer one. */
static void test_failing_store_skips(void **state)
{
	struct gnarl_saver *s = NULL;
	struct gnarl_saver_outcome o;
	char *text;
	int fd;

	(void)state;
	assert_int_equal(mkfifo(gate, 0666), 0);
	assert_int_equal(gnarl_saver_create(st, "run", NULL, &s, err), 0);
	assert_false(gnarl_saver_next(s, &o));
	gnarl_saver_submit(s, checkpoint(1));
	fd = hold_gate();
	assert_int_equal(write(fd, "fail", 4), 4);
	close(fd);
	gnarl_saver_drain(s);
	expect(s, GNARL_SAVER_FAILED, 1);
	assert_false(gnarl_saver_next(s, &o));

	gnarl_saver_submit(s, checkpoint(2));
	fd = hold_gate(); /* 2 in flight */
	unlink(gate);     /* later puts pass */
	gnarl_saver_submit(s, checkpoint(3));
	assert_false(gnarl_saver_next(s, &o)); /* 3 waits */
	gnarl_saver_submit(s, checkpoint(4));  /* the store failed last: no waiting */
	expect(s, GNARL_SAVER_SKIPPED, 3);
	assert_false(gnarl_saver_next(s, &o)); /* 2 still in flight */
	close(fd);
	gnarl_saver_drain(s);
	expect(s, GNARL_SAVER_SAVED, 2);
	expect(s, GNARL_SAVER_SAVED, 4);
	assert_false(gnarl_saver_next(s, &o));

	/* 4 is whole and `latest`; 1 and 3 have no manifest */
	text = text_of("run/checkpoints/checkpoint_000004/manifest.json");
	assert_non_null(strstr(text, "\"iteration\": 4,"));
	assert_non_null(strstr(text, "\"env_steps\": 512,"));
	free(text);
	text = text_of("run/checkpoints/latest");
	assert_string_equal(text, "checkpoint_000004\n");
	free(text);
	assert_int_equal(
	    gnarl_storage_exists(st, "run/checkpoints/checkpoint_000001/manifest.json", err), 0);
	assert_int_equal(
	    gnarl_storage_exists(st, "run/checkpoints/checkpoint_000003/manifest.json", err), 0);
	gnarl_saver_free(s);
}

struct submitter {
	struct gnarl_saver *s;
	uint64_t iteration;
	atomic_bool returned;
};

static void *submit_main(void *arg)
{
	struct submitter *b = arg;

	gnarl_saver_submit(b->s, checkpoint(b->iteration));
	atomic_store(&b->returned, true);
	return NULL;
}

/* The store works: a third checkpoint waits for a place, none is skipped. */
static void test_working_store_waits(void **state)
{
	struct submitter b = {NULL, 7, false};
	struct gnarl_saver_outcome o;
	pthread_t th;
	double held;
	int fd;

	(void)state;
	assert_int_equal(mkfifo(gate, 0666), 0);
	assert_int_equal(gnarl_saver_create(st, "run", NULL, &b.s, err), 0);
	gnarl_saver_submit(b.s, checkpoint(5));
	fd = hold_gate(); /* 5 in flight */
	held = mono();
	unlink(gate);
	gnarl_saver_submit(b.s, checkpoint(6)); /* 6 waits */
	assert_int_equal(pthread_create(&th, NULL, submit_main, &b), 0);
	nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
	assert_false(atomic_load(&b.returned)); /* 7 waits for 6 to start */
	assert_false(gnarl_saver_next(b.s, &o));
	held = mono() - held;
	close(fd);
	pthread_join(th, NULL);
	assert_true(atomic_load(&b.returned));
	gnarl_saver_drain(b.s);
	/* Its writing time covers at least the time its put was held. */
	assert_true(expect(b.s, GNARL_SAVER_SAVED, 5) >= held);
	expect(b.s, GNARL_SAVER_SAVED, 6);
	expect(b.s, GNARL_SAVER_SAVED, 7);
	assert_false(gnarl_saver_next(b.s, &o));
	gnarl_saver_free(b.s);
}

/* Back to back into a working store: every one saved, in order. */
static void test_in_order(void **state)
{
	struct gnarl_saver *s = NULL;
	struct gnarl_saver_outcome o;
	uint64_t last = 0;
	uint32_t saved = 0, skipped = 0;

	(void)state;
	assert_int_equal(gnarl_saver_create(st, "order", NULL, &s, err), 0);
	for (uint64_t it = 10; it < 20; it++) {
		gnarl_saver_submit(s, checkpoint(it));
		while (gnarl_saver_next(s, &o)) {
			assert_true(o.iteration > last);
			last = o.iteration;
			saved += o.result == GNARL_SAVER_SAVED;
			skipped += o.result == GNARL_SAVER_SKIPPED;
			assert_int_not_equal(o.result, GNARL_SAVER_FAILED);
			free(o.uri);
		}
	}
	gnarl_saver_drain(s);
	while (gnarl_saver_next(s, &o)) {
		assert_true(o.iteration > last);
		last = o.iteration;
		saved += o.result == GNARL_SAVER_SAVED;
		skipped += o.result == GNARL_SAVER_SKIPPED;
		free(o.uri);
	}
	assert_int_equal(last, 19);
	assert_int_equal(saved, 10); /* the store works: none skipped */
	assert_int_equal(skipped, 0);
	assert_int_equal(gnarl_storage_exists(st,
	                                      "order/checkpoints/checkpoint_000019/"
	                                      "manifest.json",
	                                      err),
	                 1);
	gnarl_saver_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failing_store_skips),
	    cmocka_unit_test(test_working_store_waits),
	    cmocka_unit_test(test_in_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
