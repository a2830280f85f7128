/*
 * log.h - the trainer's messages.  Everything human-readable goes to
 * stderr (stdout is for --json output); lines are written whole, so
 * threads do not interleave within a line.
 */
#ifndef GNARL_LOG_H
#define GNARL_LOG_H

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

#endif /* GNARL_LOG_H */
