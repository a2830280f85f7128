/*
 * console.h - how a long command (gnarl train, gnarl eval) shows its
 * progress on stderr.  On a terminal: one status line redrawn in place
 * (core/log.h keeps every other message above it), at most ten times a
 * second.  Piped or redirected: a plain line at most every
 * `log.every_seconds` (0: at every update), the first and the last always.
 *
 *     struct gnarl_console c;
 *     gnarl_console_start(&c, &cfg, done, total, "steps");
 *     for each unit of work:
 *         if (gnarl_console_due(&c, done, last))
 *             gnarl_console_show(&c, status_text, line_text);
 *     gnarl_console_end(&c);
 *
 * The caller builds the text only when something is due, and builds the
 * kind gnarl_console_tty() asks for.  Nothing here allocates or fails.
 */
#ifndef GNARL_CONSOLE_H
#define GNARL_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gnarl_config;

#define GNARL_CONSOLE_EVERY_SECONDS 10.0 /* log.every_seconds's default */

struct gnarl_console_config {
	double every_seconds; /* plain lines: at most one per this long; 0: every update */
	bool status_line;     /* on a terminal, a status line (false: plain lines there too) */
};

struct gnarl_console {
	struct gnarl_console_config cfg;
	bool tty;                /* the status line is in use */
	const char *unit;        /* "steps", "episodes" (borrowed) */
	uint64_t start_done, total, done;
	double start, last_shown; /* monotonic seconds; last_shown < 0: never */
};

/* log.every_seconds and log.status_line of a loaded config. */
void gnarl_console_config_read(const struct gnarl_config *cfg, struct gnarl_console_config *out);

/* Begin: `done` of `total` units are done already (a resumed run). */
void gnarl_console_start(struct gnarl_console *c, const struct gnarl_console_config *cfg,
                         uint64_t done, uint64_t total, const char *unit);
/* Record `done`; true when it should be shown now (`last`: the final
 * update, always shown). */
bool gnarl_console_due(struct gnarl_console *c, uint64_t done, bool last);
/* Whether the status line is in use (else plain lines). */
bool gnarl_console_tty(const struct gnarl_console *c);
/* Show the status line (text is cut to the terminal's width) or log the
 * plain line, whichever is in use; either text may be NULL when not. */
void gnarl_console_show(struct gnarl_console *c, const char *status, const char *line);
/* The status line, if any, stays on screen as an ordinary line. */
void gnarl_console_end(struct gnarl_console *c);

/* "[=========>          ]  42% 1.26M/3.00M steps | 17.2k steps/s | 1m42s
 * left": the bar is left out when `bar` is false.  Returns strlen. */
size_t gnarl_console_progress(const struct gnarl_console *c, bool bar, char *buf,
                              size_t size);
/* Units per second since the start (NAN before any time passed). */
double gnarl_console_rate(const struct gnarl_console *c);
/* Seconds since the start. */
double gnarl_console_elapsed(const struct gnarl_console *c);

/* "850ms", "12.3s", "4m05s", "1h02m", "3d04h". */
void gnarl_console_duration(double seconds, char *buf, size_t size);
/* "950", "2.37", "12.3k", "1.26M", "4.10G". */
void gnarl_console_count(double v, char *buf, size_t size);
/* How to name this program in a command the user may paste: "gnarl" when
 * its directory is on PATH, else its path relative to the current
 * directory when it lies below it ("build/gnarl"), else absolute. */
void gnarl_console_program(char *buf, size_t size);

#endif /* GNARL_CONSOLE_H */
