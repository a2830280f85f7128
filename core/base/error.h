/*
 * error.h - error codes, messages and process exit codes.
 *
 * Functions that can fail return 0 or a negative GNARL_E* code (the table
 * is GNARL_ERRNO_MAP in gnarl/plugin.h, shared with plugins).  The message
 * lives in a caller-provided buffer of GNARL_ERR_SIZE bytes, filled by
 * gnarl_err(), which returns the code so a failure is one line:
 *
 *     return gnarl_err(err, GNARL_ECONFIG, "%s:%d:%d: unknown key '%s'", ...);
 */
#ifndef GNARL_ERROR_H
#define GNARL_ERROR_H

#include <gnarl/plugin.h>

/* Exit codes of the gnarl command. */
enum gnarl_exit {
	GNARL_EXIT_OK = 0,
	GNARL_EXIT_FAILURE = 1,   /* anything else */
	GNARL_EXIT_USAGE = 2,     /* bad command line or config */
	GNARL_EXIT_CHECKPOINT = 3 /* checkpoint incompatible or corrupt */
};

/* Short text of a GNARL_E* code ("configuration error"); never NULL. */
const char *gnarl_strerror(int code);

/* Format a message into err (which may be NULL) and return code. */
int gnarl_err(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message in err with a formatted context
 * ("loading plugin x: " + err); returns code. */
int gnarl_err_prefix(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The exit code for a GNARL_E* code: 0 for 0; GNARL_EXIT_USAGE for
 * ECONFIG, EINVAL and EKIND (bad command line, config or plugin choice);
 * GNARL_EXIT_CHECKPOINT for ECORRUPT, EINCOMPAT and EVERSION (data that
 * cannot be used as it is); GNARL_EXIT_FAILURE for everything else. */
int gnarl_exit_code(int code);

#endif /* GNARL_ERROR_H */
