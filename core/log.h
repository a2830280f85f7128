/*
 * log.h - the trainer's messages.  Everything human-readable goes to
 * stderr (stdout is for --json output); lines are written whole, so
 * threads do not interleave within a line.  On a terminal a long command
 * may keep one status line at the bottom (core/console.h decides when):
 * every line logged meanwhile is written above it.
 */
#ifndef GNARL_LOG_H
#define GNARL_LOG_H

#include <stdbool.h>

#include <gnarl/plugin.h>

/* Lines above `level` are dropped (default GNARL_LOG_INFO; GNARL_LOG_LEVEL
 * in the environment, "error".."debug", overrides at first use). */
void gnarl_log_set_level(enum gnarl_log_level level);
enum gnarl_log_level gnarl_log_get_level(void);

/* One line, prefixed "gnarl: " for errors and warnings ("gnarl: error: ").
 * `who` (may be NULL) names the plugin or module: "gnarl[s3]: ...". */
void gnarl_log(enum gnarl_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gnarl_logv(enum gnarl_log_level level, const char *who, const char *fmt,
                va_list ap);

/* The status line: `text` (one line, no newline) replaces it in place at
 * the bottom of stderr, and every line logged afterwards is written above
 * it (the status is cleared, the line written, the status drawn again)
 * until gnarl_log_status_end.  Only for a terminal: the caller checks.
 * Dropped, like info lines, when the level is below GNARL_LOG_INFO. */
void gnarl_log_status(const char *text);
/* Take the status line away: `keep` leaves its last text as an ordinary
 * line, else it is erased.  Nothing when there is none. */
void gnarl_log_status_end(bool keep);

#endif /* GNARL_LOG_H */
