/*
 * console.c - progress of a long command on stderr (see console.h): a
 * status line on a terminal, plain lines at a bounded rate otherwise.
 *
 * Entry points: gnarl_console_config_read, _start, _due, _tty, _show,
 * _end, _progress, _rate, _elapsed, and the formatting helpers _duration,
 * _count, _program.
 *
 * Invariants: the struct lives with the caller; nothing allocates.  The
 * status line is drawn through gnarl_log_status (log.c), which keeps every
 * other message above it; plain lines are info lines of gnarl_log.
 */
#include "console.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "value.h"

#define STATUS_INTERVAL_S 0.1 /* redraws of the status line, at most */
#define BAR_WIDTH 20
#define STATUS_COLUMNS 512    /* longest status line drawn */

void gnarl_console_config_read(const struct gnarl_config *cfg, struct gnarl_console_config *out)
{
	const struct gnarl_value *root = cfg ? cfg->root : NULL;

	out->every_seconds = gnarl_value_float(gnarl_value_at(root, "log.every_seconds"),
	                                       GNARL_CONSOLE_EVERY_SECONDS);
	out->status_line = gnarl_value_bool(gnarl_value_at(root, "log.status_line"), true);
}

/* A terminal that can move back to the line's start and erase it. */
static bool status_terminal(void)
{
	const char *term = getenv("TERM");

	return isatty(STDERR_FILENO) && !(term && !strcmp(term, "dumb"));
}

void gnarl_console_start(struct gnarl_console *c, const struct gnarl_console_config *cfg,
                         uint64_t done, uint64_t total, const char *unit)
{
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	c->tty = cfg->status_line && status_terminal();
	c->unit = unit;
	c->start_done = c->done = done;
	c->total = total;
	c->start = gnarl_clock_monotonic();
	c->last_shown = -1.0;
}

bool gnarl_console_due(struct gnarl_console *c, uint64_t done, bool last)
{
	double t = gnarl_clock_monotonic();
	double every = c->tty ? STATUS_INTERVAL_S : c->cfg.every_seconds;

	c->done = done;
	if (last || c->last_shown < 0.0 || every <= 0.0)
		return true;
	return t - c->last_shown >= every;
}

bool gnarl_console_tty(const struct gnarl_console *c)
{
	return c->tty;
}

/* Columns of the terminal on stderr (80 when it does not say). */
static size_t columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

void gnarl_console_show(struct gnarl_console *c, const char *status, const char *line)
{
	c->last_shown = gnarl_clock_monotonic();
	if (c->tty && status) {
		char cut[STATUS_COLUMNS];
		size_t width = columns();

		/* one column short: a line that fills the last one wraps on
		 * some terminals, and the redraw would then leave it behind */
		width = width > 1 ? width - 1 : 1;
		snprintf(cut, width < sizeof(cut) ? width + 1 : sizeof(cut), "%s", status);
		gnarl_log_status(cut);
	} else if (!c->tty && line) {
		gnarl_log(GNARL_LOG_INFO, NULL, "%s", line);
	}
}

void gnarl_console_end(struct gnarl_console *c)
{
	if (c->tty)
		gnarl_log_status_end(true);
}

double gnarl_console_elapsed(const struct gnarl_console *c)
{
	return gnarl_clock_monotonic() - c->start;
}

double gnarl_console_rate(const struct gnarl_console *c)
{
	double dt = gnarl_console_elapsed(c);

	return dt > 0.0 ? (double)(c->done - c->start_done) / dt : NAN;
}

size_t gnarl_console_progress(const struct gnarl_console *c, bool bar, char *buf, size_t size)
{
	double frac = c->total ? (double)c->done / (double)c->total : 1.0;
	double rate = gnarl_console_rate(c);
	char done[32], total[32], speed[32], left[32];
	size_t at = 0;
	int n;

	frac = frac < 0.0 ? 0.0 : frac > 1.0 ? 1.0 : frac;
	if (bar && size > BAR_WIDTH + 3) {
		int full = (int)(frac * BAR_WIDTH);

		buf[at++] = '[';
		for (int i = 0; i < BAR_WIDTH; i++)
			buf[at++] = i < full ? '=' : i == full ? '>' : ' ';
		buf[at++] = ']';
		buf[at++] = ' ';
		buf[at] = '\0';
	}
	gnarl_console_count((double)c->done, done, sizeof(done));
	gnarl_console_count((double)c->total, total, sizeof(total));
	gnarl_console_count(rate, speed, sizeof(speed));
	if (isfinite(rate) && rate > 0.0 && c->done < c->total)
		gnarl_console_duration((double)(c->total - c->done) / rate, left, sizeof(left));
	else
		snprintf(left, sizeof(left), c->done >= c->total ? "0s" : "?");
	n = snprintf(buf + at, size > at ? size - at : 0, "%3.0f%% %s/%s %s | %s %s/s | %s left",
	             100.0 * frac, done, total, c->unit, isfinite(rate) ? speed : "?", c->unit,
	             left);
	return at + (n > 0 ? (size_t)n : 0);
}

void gnarl_console_duration(double s, char *buf, size_t size)
{
	if (!isfinite(s) || s < 0.0)
		snprintf(buf, size, "?");
	else if (s < 1.0)
		snprintf(buf, size, "%.0fms", 1e3 * s);
	else if (s < 60.0)
		snprintf(buf, size, "%.1fs", s);
	else if (s < 3600.0)
		snprintf(buf, size, "%dm%02ds", (int)(s / 60.0), (int)fmod(s, 60.0));
	else if (s < 86400.0)
		snprintf(buf, size, "%dh%02dm", (int)(s / 3600.0), (int)fmod(s / 60.0, 60.0));
	else
		snprintf(buf, size, "%dd%02dh", (int)(s / 86400.0), (int)fmod(s / 3600.0, 24.0));
}

void gnarl_console_count(double v, char *buf, size_t size)
{
	static const char suffix[] = " kMGTP";
	int k = 0;

	if (!isfinite(v)) {
		snprintf(buf, size, "?");
		return;
	}
	while (fabs(v) >= 999.5 && k < 5) {
		v /= 1000.0;
		k++;
	}
	if (k == 0) /* a count as it is; a rate such as 2.37 with its decimals */
		snprintf(buf, size, v == floor(v) ? "%.0f" : "%.3g", v);
	else
		snprintf(buf, size, fabs(v) < 9.995 ? "%.2f%c" : fabs(v) < 99.95 ? "%.1f%c" : "%.0f%c",
		         v, suffix[k]);
}

/* Whether directory dir is one of PATH's. */
static bool on_path(const char *dir)
{
	const char *p = getenv("PATH");
	size_t n = strlen(dir);

	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && !strncmp(p, dir, n))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

void gnarl_console_program(char *buf, size_t size)
{
	char exe[4096], cwd[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	size_t len;

	if (n <= 0) {
		snprintf(buf, size, "gnarl");
		return;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	*slash = '\0';
	if (on_path(exe[0] ? exe : "/")) {
		snprintf(buf, size, "%s", slash + 1);
		return;
	}
	*slash = '/';
	len = getcwd(cwd, sizeof(cwd)) ? strlen(cwd) : 0;
	if (len > 1 && !strncmp(exe, cwd, len) && exe[len] == '/')
		snprintf(buf, size, "%s", exe + len + 1);
	else
		snprintf(buf, size, "%s", exe);
}
