/*
 * log.c - the trainer's human-readable messages, all on stderr.
 *
 * Entry points: gnarl_log(), gnarl_logv(), gnarl_log_set_level(),
 * gnarl_log_get_level(), gnarl_log_status(), gnarl_log_status_end().
 *
 * Invariants: every line is formatted into a local buffer first and written
 * with one stdio call, so concurrent threads (plugins log from their own
 * threads) never interleave within a line.  The level is the one piece of
 * process-wide state: set once at startup (or read from GNARL_LOG_LEVEL at
 * first use) and read atomically afterwards.  The status line is the
 * other: stderr is one per process, and so is what stands at its bottom.
 * It is read and written only with stderr's own stdio lock held
 * (flockfile), so erasing it, writing a line and drawing it again is one
 * step that no other writer of stderr can split.
 */
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_LINE_MAX 4096
#define STATUS_MAX 1024

/* "\r" to the line's start, ESC [ K: erase to its end. */
#define ERASE_LINE "\r\033[K"

static atomic_int log_level = GNARL_LOG_INFO;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static char status[STATUS_MAX]; /* shown at stderr's bottom; "" none (under flockfile) */

static void log_init(void)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	const char *env = getenv("GNARL_LOG_LEVEL");

	if (!env)
		return;
	for (int i = 0; i < 4; i++)
		if (strncasecmp(env, names[i], strlen(names[i])) == 0)
			atomic_store(&log_level, i);
}

void gnarl_log_set_level(enum gnarl_log_level level)
{
	pthread_once(&log_once, log_init);
	atomic_store(&log_level, (int)level);
}

enum gnarl_log_level gnarl_log_get_level(void)
{
	pthread_once(&log_once, log_init);
	return (enum gnarl_log_level)atomic_load(&log_level);
}

void gnarl_logv(enum gnarl_log_level level, const char *who, const char *fmt, va_list ap)
{
	static const char *const tags[] = {"error: ", "warning: ", "", "debug: "};
	char line[LOG_LINE_MAX];
	size_t n = 0;
	int r;

	if ((int)level > (int)gnarl_log_get_level())
		return;
	if (level < GNARL_LOG_ERROR || level > GNARL_LOG_DEBUG)
		level = GNARL_LOG_ERROR;
	/* Info lines from the core read as plain progress text; everything
	 * else says who speaks and how loudly. */
	if (who && *who)
		r = snprintf(line, sizeof(line), "gnarl[%s]: %s", who, tags[level]);
	else if (level != GNARL_LOG_INFO)
		r = snprintf(line, sizeof(line), "gnarl: %s", tags[level]);
	else
		r = 0;
	if (r > 0)
		n = (size_t)r < sizeof(line) ? (size_t)r : sizeof(line) - 1;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	/* Strip the caller's trailing newlines; one is added below. */
	while (n > 0 && line[n - 1] == '\n')
		n--;
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	line[n] = '\0';
	flockfile(stderr);
	if (status[0])
		fputs(ERASE_LINE, stderr);
	fputs(line, stderr);
	if (status[0])
		fputs(status, stderr);
	fflush(stderr);
	funlockfile(stderr);
}

void gnarl_log_status(const char *text)
{
	if (gnarl_log_get_level() < GNARL_LOG_INFO)
		return;
	flockfile(stderr);
	snprintf(status, sizeof(status), "%s", text);
	/* A newline in it would leave the first part behind at every redraw. */
	status[strcspn(status, "\r\n")] = '\0';
	fputs(ERASE_LINE, stderr);
	fputs(status, stderr);
	fflush(stderr);
	funlockfile(stderr);
}

void gnarl_log_status_end(bool keep)
{
	flockfile(stderr);
	if (status[0])
		fputs(keep ? "\n" : ERASE_LINE, stderr);
	status[0] = '\0';
	fflush(stderr);
	funlockfile(stderr);
}

void gnarl_log(enum gnarl_log_level level, const char *who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gnarl_logv(level, who, fmt, ap);
	va_end(ap);
}
