/*
 * error.c - gnarl_strerror() generated from GNARL_ERRNO_MAP, the helpers
 * that fill an error buffer and return the code, and the mapping from
 * codes to the process's exit codes.
 */
#include "error.h"

#include <stdio.h>
#include <string.h>

const char *gnarl_strerror(int code)
{
	switch (code) {
	case GNARL_OK:
		return "success";
#define GNARL_ERR_TEXT(name, value, text) \
	case GNARL_##name:                    \
		return text;
		GNARL_ERRNO_MAP(GNARL_ERR_TEXT)
#undef GNARL_ERR_TEXT
	}
	return "unknown error";
}

int gnarl_err(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, GNARL_ERR_SIZE, fmt, ap);
		va_end(ap);
	}
	return code;
}

int gnarl_err_prefix(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
{
	char rest[GNARL_ERR_SIZE];
	size_t n;
	va_list ap;

	if (!err)
		return code;
	memcpy(rest, err, sizeof(rest));
	rest[sizeof(rest) - 1] = '\0';
	va_start(ap, fmt);
	vsnprintf(err, GNARL_ERR_SIZE, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (n < GNARL_ERR_SIZE - 1) {
		memcpy(err + n, rest, GNARL_ERR_SIZE - 1 - n);
		err[GNARL_ERR_SIZE - 1] = '\0';
	}
	return code;
}

int gnarl_exit_code(int code)
{
	switch (code) {
	case GNARL_OK:
		return GNARL_EXIT_OK;
	case GNARL_ECONFIG:
	case GNARL_EINVAL:
	case GNARL_EKIND:
		return GNARL_EXIT_USAGE;
	case GNARL_ECORRUPT:
	case GNARL_EINCOMPAT:
	case GNARL_EVERSION:
		return GNARL_EXIT_CHECKPOINT;
	default:
		return GNARL_EXIT_FAILURE;
	}
}
