/*
 * test_metrics.c - the per-iteration report on a real local store in a
 * temporary directory: progress.csv (header fixed at the first flush,
 * exact values, empty cells), the TensorBoard event file (decoded
 * here from the record framing), upload schedules, an upload failure that
 * loses nothing, and the progress line on stderr.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH / FTW_PHYS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "metrics.h"
#include "storage.h"
#include "tfevents.h"
#include "value.h"

static char err[GNARL_ERR_SIZE];
static char dir[64];
static struct gnarl_storage *st;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/gnarl-metrics-XXXXXX");
	assert_non_null(mkdtemp(dir));
	if (gnarl_storage_open(NULL, dir, &st, err) < 0)
		fail_msg("storage: %s", err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gnarl_storage_close(st);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Whole file under the temp dir, NUL-terminated; NULL if missing. */
static char *slurp(const char *rel, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static struct gnarl_tree *section(const char *yaml)
{
	struct gnarl_tree *t = NULL;

	assert_int_equal(gnarl_tree_parse(yaml, strlen(yaml), "metrics", &t, err), 0);
	return t;
}

static void test_csv_and_events(void **state)
{
	struct gnarl_metrics *m = NULL;
	struct gnarl_tree *sec = section("{upload_every: null, tensorboard: true, episodes: false}");
	char *csv, *ev, key[300], *line;
	size_t len, off, records = 0;
	const double third = 1.0 / 3.0;

	(void)state;
	assert_int_equal(gnarl_metrics_create(gnarl_tree_root(sec), st, "run1", false, &m, err), 0);
	assert_false(gnarl_metrics_episodes(m));
	for (int it = 1; it <= 3; it++) {
		gnarl_metrics_set(m, "sps", 1000.0 * it);
		gnarl_metrics_set(m, "ep_return_mean", it == 2 ? NAN : third * it);
		if (it != 2)
			gnarl_metrics_set(m, "policy_loss", -0.0123456789012345 * it);
		if (it == 3)
			gnarl_metrics_set(m, "reward/late", 7.0); /* first seen late: TB only */
		gnarl_metrics_set(m, "reward/room_discovery", 20.0 * it);
		gnarl_metrics_set(m, "llm_text/calls", 3 + it);
		if (gnarl_metrics_flush(m, (uint64_t)it, (uint64_t)it * 4096, err) < 0)
			fail_msg("flush: %s", err);
	}
	assert_true(gnarl_metrics_get(m, "reward/late", 0) == 7.0);
	assert_true(gnarl_metrics_get(m, "nope", -1) == -1);
	assert_int_equal(gnarl_metrics_sync(m, err), 0);

	csv = slurp("run1/progress.csv", NULL);
	assert_non_null(csv);
	line = strtok(csv, "\n");
	assert_string_equal(line, "iteration,env_steps,sps,ep_return_mean,policy_loss,"
	                          "reward/room_discovery,llm_text/calls");
	line = strtok(NULL, "\n");
	assert_non_null(line);
	{
		/* Values read back exactly. */
		double it, steps, sps, ret, pl, rd, calls;
		assert_int_equal(sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf", &it, &steps, &sps, &ret,
		                        &pl, &rd, &calls), 7);
		assert_true(it == 1 && steps == 4096 && sps == 1000 && ret == third &&
		            pl == -0.0123456789012345 && rd == 20 && calls == 4);
	}
	assert_string_equal(strtok(NULL, "\n"), "2,8192,2000,nan,,40,5");
	line = strtok(NULL, "\n");
	assert_non_null(strstr(line, "3,12288,3000,1,"));
	assert_null(strtok(NULL, "\n"));
	free(csv);

	snprintf(key, sizeof(key), "run1/%s", gnarl_metrics_event_file(m));
	assert_non_null(strstr(key, "events.out.tfevents."));
	ev = slurp(key, &len);
	assert_non_null(ev);
	for (off = 0; off + 16 <= len; records++) {
		uint64_t n = 0;
		for (int i = 0; i < 8; i++)
			n |= (uint64_t)(uint8_t)ev[off + i] << (8 * i);
		assert_true(off + n + 16 <= len);
		if (records == 3)
			assert_non_null(memmem(ev + off + 12, n, "reward/late", 11));
		off += n + 16;
	}
	assert_int_equal(off, len);
	assert_int_equal(records, 4); /* file_version + 3 iterations */
	free(ev);
	gnarl_metrics_free(m);
	gnarl_tree_free(sec);
}

static void test_upload_schedules(void **state)
{
	struct gnarl_metrics *m = NULL;
	struct gnarl_tree *sec = section("{upload_every: 2}");
	struct stat sb;
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/r/progress.csv", dir);
	assert_int_equal(gnarl_metrics_create(gnarl_tree_root(sec), st, "r", false, &m, err), 0);
	gnarl_metrics_set(m, "x", 1);
	assert_int_equal(gnarl_metrics_flush(m, 1, 10, err), 0);
	assert_int_equal(stat(path, &sb), -1);
	gnarl_metrics_set(m, "x", 2);
	assert_int_equal(gnarl_metrics_flush(m, 2, 20, err), 0);
	assert_int_equal(stat(path, &sb), 0);
	gnarl_metrics_free(m);

	/* Remote with null: only sync uploads. */
	snprintf(path, sizeof(path), "%s/remote/progress.csv", dir);
	assert_int_equal(gnarl_metrics_create(NULL, st, "remote", true, &m, err), 0);
	for (int i = 1; i <= 3; i++) {
		gnarl_metrics_set(m, "x", i);
		assert_int_equal(gnarl_metrics_flush(m, (uint64_t)i, (uint64_t)i, err), 0);
	}
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(gnarl_metrics_sync(m, err), 0);
	assert_int_equal(stat(path, &sb), 0);
	gnarl_metrics_free(m);
	gnarl_tree_free(sec);
}

static void test_failed_upload_loses_nothing(void **state)
{
	struct gnarl_metrics *m = NULL;
	char path[300], blocker[320], *csv;
	int rows = 0;

	(void)state;
	/* A non-empty directory where progress.csv goes makes its put fail. */
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(mkdir(path, 0777), 0);
	snprintf(path, sizeof(path), "%s/f/progress.csv", dir);
	assert_int_equal(mkdir(path, 0777), 0);
	snprintf(blocker, sizeof(blocker), "%s/x", path);
	fclose(fopen(blocker, "w"));
	assert_int_equal(gnarl_metrics_create(NULL, st, "f", false, &m, err), 0);
	gnarl_metrics_set(m, "x", 1);
	assert_true(gnarl_metrics_flush(m, 1, 1, err) < 0);
	assert_non_null(strstr(err, "progress.csv"));
	/* not tried again at the next due flush: no error, the store is not
	 * asked (GNARL_METRICS_RETRY_S) */
	gnarl_metrics_set(m, "x", 2);
	assert_int_equal(gnarl_metrics_flush(m, 2, 2, err), 0);
	assert_int_equal(remove(blocker), 0);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(gnarl_metrics_sync(m, err), 0);
	csv = slurp("f/progress.csv", NULL);
	assert_non_null(csv);
	for (char *p = csv; (p = strchr(p, '\n')); p++)
		rows++;
	assert_int_equal(rows, 3); /* header + both iterations */
	assert_non_null(strstr(csv, "\n1,1,"));
	assert_non_null(strstr(csv, "\n2,2,"));
	free(csv);
	gnarl_metrics_free(m);
}

/* The line is made, not printed (core/train_console.c prints it when
 * due): nothing reaches stderr, and the line holds every group. */
static void test_progress_line(void **state)
{
	struct gnarl_metrics *m = NULL;
	FILE *tmp = tmpfile();
	int saved = dup(2);
	const char *text;

	(void)state;
	assert_int_equal(gnarl_metrics_create(NULL, NULL, NULL, false, &m, err), 0);
	assert_string_equal(gnarl_metrics_line(m), "");
	gnarl_metrics_set(m, "ep_return_mean", 123.456);
	gnarl_metrics_set(m, "ep_len_mean", 456);
	gnarl_metrics_set(m, "policy_loss", -0.0125);
	gnarl_metrics_set(m, "value_loss", 0.5);
	gnarl_metrics_set(m, "reward/room_discovery", 12.25);
	gnarl_metrics_set(m, "reward/movement", 0.5);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	assert_int_equal(gnarl_metrics_flush(m, 7, 28672, err), 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(ftell(tmp), 0);
	fclose(tmp);
	text = gnarl_metrics_line(m);
	assert_non_null(strstr(text, "iter 7 | steps 28672 |"));
	assert_non_null(strstr(text, "return 123.46 len 456.0"));
	assert_non_null(strstr(text, "pi -0.0125 v 0.5"));
	assert_non_null(strstr(text, "| reward room_discovery 12.2 movement 0.5"));
	assert_null(gnarl_metrics_event_file(m));
	gnarl_metrics_free(m);
}

static void test_tensorboard_off(void **state)
{
	struct gnarl_metrics *m = NULL;
	struct gnarl_tree *sec = section("{tensorboard: false}");
	char *csv;

	(void)state;
	assert_int_equal(gnarl_metrics_create(gnarl_tree_root(sec), st, "", false, &m, err), 0);
	assert_null(gnarl_metrics_event_file(m));
	assert_true(gnarl_metrics_episodes(m));
	gnarl_metrics_set(m, "x", 1);
	/* A float's value is written as the float it is, a double as itself. */
	gnarl_metrics_set(m, "f", (double)0.1f);
	gnarl_metrics_set(m, "g", (double)(1.0f / 3.0f));
	gnarl_metrics_set(m, "d", 1.0 / 3.0);
	assert_int_equal(gnarl_metrics_flush(m, 1, 1, err), 0);
	assert_int_equal(gnarl_metrics_sync(m, err), 0);
	csv = slurp("progress.csv", NULL);
	assert_non_null(csv);
	if (!strstr(csv, "\n1,1,1,0.1,0.33333334,0.3333333333333333,nan\n"))
		fail_msg("progress.csv:\n%s", csv);
	free(csv);
	gnarl_metrics_free(m);
	gnarl_tree_free(sec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_csv_and_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_schedules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_upload_loses_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_progress_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tensorboard_off, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
