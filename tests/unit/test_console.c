/*
 * test_console.c - core/console.c and the status line of core/log.c: the
 * formats (durations, counts, the progress text), when an update is due
 * (plain lines at most every every_seconds, the first and last always),
 * and the bytes the status line writes: every line logged while it is up
 * is written above it (erase, line, redraw), and its end leaves it as a
 * line or erases it.  The console in a real terminal is
 * tests/integration/console_test.py's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "log.h"

#define ERASE "\r\033[K"

/* Run fn with stderr going to a file; its bytes in buf. */
static size_t capture(void (*fn)(void), char *buf, size_t size)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, size - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return n;
}

static void durations(void **state)
{
	char b[32];

	(void)state;
	gnarl_console_duration(0.25, b, sizeof(b));
	assert_string_equal(b, "250ms");
	gnarl_console_duration(12.34, b, sizeof(b));
	assert_string_equal(b, "12.3s");
	gnarl_console_duration(245, b, sizeof(b));
	assert_string_equal(b, "4m05s");
	gnarl_console_duration(3725, b, sizeof(b));
	assert_string_equal(b, "1h02m");
	gnarl_console_duration(3 * 86400 + 4 * 3600 + 5, b, sizeof(b));
	assert_string_equal(b, "3d04h");
	gnarl_console_duration(NAN, b, sizeof(b));
	assert_string_equal(b, "?");
}

static void counts(void **state)
{
	char b[32];

	(void)state;
	gnarl_console_count(950, b, sizeof(b));
	assert_string_equal(b, "950");
	gnarl_console_count(2.371, b, sizeof(b));
	assert_string_equal(b, "2.37");
	gnarl_console_count(12345, b, sizeof(b));
	assert_string_equal(b, "12.3k");
	gnarl_console_count(1260000, b, sizeof(b));
	assert_string_equal(b, "1.26M");
	gnarl_console_count(3e6, b, sizeof(b));
	assert_string_equal(b, "3.00M");
	gnarl_console_count(999.7, b, sizeof(b));
	assert_string_equal(b, "1.00k");
	gnarl_console_count(INFINITY, b, sizeof(b));
	assert_string_equal(b, "?");
}

static void progress_text(void **state)
{
	struct gnarl_console_config cfg = {10.0, false};
	struct gnarl_console c;
	char b[256];

	(void)state;
	gnarl_console_start(&c, &cfg, 1000, 3000000, "steps");
	c.start -= 10.0; /* ten seconds ago */
	gnarl_console_due(&c, 1001000, false);
	gnarl_console_progress(&c, true, b, sizeof(b));
	/* 1M steps in 10 s: 100k/s, 2M left: 20 s */
	assert_non_null(strstr(b, "[======>             ]  33% 1.00M/3.00M steps"));
	assert_non_null(strstr(b, "| 100k steps/s | 20.0s left"));
	gnarl_console_progress(&c, false, b, sizeof(b));
	assert_int_equal(b[0], ' '); /* "  33% ...": no bar */
	gnarl_console_due(&c, 3000000, true);
	gnarl_console_progress(&c, true, b, sizeof(b));
	assert_non_null(strstr(b, "[====================] 100% 3.00M/3.00M steps"));
	assert_non_null(strstr(b, "| 0s left"));
}

static void due(void **state)
{
	struct gnarl_console_config every = {0.0, false}, seldom = {3600.0, false};
	struct gnarl_console c;

	(void)state;
	/* status_line false: plain lines even on a terminal */
	gnarl_console_start(&c, &every, 0, 10, "episodes");
	assert_false(gnarl_console_tty(&c));
	for (uint64_t i = 1; i <= 3; i++) {
		assert_true(gnarl_console_due(&c, i, false));
		gnarl_console_show(&c, NULL, NULL);
	}
	gnarl_console_start(&c, &seldom, 0, 10, "episodes");
	assert_true(gnarl_console_due(&c, 1, false)); /* the first */
	gnarl_console_show(&c, NULL, NULL);
	assert_false(gnarl_console_due(&c, 2, false));
	assert_false(gnarl_console_due(&c, 3, false));
	assert_true(gnarl_console_due(&c, 10, true)); /* the last */
	c.last_shown -= 3600.0;
	assert_true(gnarl_console_due(&c, 4, false)); /* an hour later */
}

static void with_status(void)
{
	gnarl_log(GNARL_LOG_INFO, NULL, "before");
	gnarl_log_status("[==> ] 10%");
	gnarl_log_status("[===>] 20%\nhidden");
	gnarl_log(GNARL_LOG_WARN, "x", "a warning");
	gnarl_log_status_end(true);
	gnarl_log(GNARL_LOG_INFO, NULL, "after");
	gnarl_log_status("gone");
	gnarl_log_status_end(false);
	gnarl_log_status_end(false); /* none: nothing */
}

static void status_line(void **state)
{
	char out[1024];

	(void)state;
	capture(with_status, out, sizeof(out));
	assert_string_equal(out, "before\n"
	                         ERASE "[==> ] 10%"
	                         ERASE "[===>] 20%"          /* cut at the newline */
	                         ERASE "gnarl[x]: warning: a warning\n[===>] 20%"
	                         "\n"                         /* kept as a line */
	                         "after\n"
	                         ERASE "gone" ERASE);
}

static void quiet_status(void)
{
	gnarl_log_set_level(GNARL_LOG_WARN);
	gnarl_log_status("not shown");
	gnarl_log(GNARL_LOG_WARN, NULL, "shown");
	gnarl_log_status_end(true);
	gnarl_log_set_level(GNARL_LOG_INFO);
}

static void status_below_info(void **state)
{
	char out[256];

	(void)state;
	capture(quiet_status, out, sizeof(out));
	assert_string_equal(out, "gnarl: warning: shown\n");
}

static void program_name(void **state)
{
	char b[4096], want[4200], cwd[4096], dir[4096];
	char *old = strdup(getenv("PATH") ? getenv("PATH") : "");
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	(void)state;
	assert_true(n > 0);
	dir[n] = '\0';
	*strrchr(dir, '/') = '\0';
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	setenv("PATH", dir, 1); /* on PATH: the bare name */
	gnarl_console_program(b, sizeof(b));
	assert_string_equal(b, "test_console");
	setenv("PATH", "/nowhere", 1);
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(chdir(".."), 0); /* below the current directory: relative */
	gnarl_console_program(b, sizeof(b));
	snprintf(want, sizeof(want), "%s/test_console", strrchr(dir, '/') + 1);
	assert_string_equal(b, want);
	assert_int_equal(chdir("/proc"), 0); /* elsewhere: absolute */
	gnarl_console_program(b, sizeof(b));
	snprintf(want, sizeof(want), "%s/test_console", dir);
	assert_string_equal(b, want);
	assert_int_equal(chdir(cwd), 0);
	setenv("PATH", old, 1);
	free(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(durations),     cmocka_unit_test(counts),
	    cmocka_unit_test(progress_text), cmocka_unit_test(due),
	    cmocka_unit_test(status_line),   cmocka_unit_test(status_below_info),
	    cmocka_unit_test(program_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
