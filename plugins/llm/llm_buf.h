/*
 * llm_buf.h - a growable byte buffer for the LLM plugins' worker thread
 * (request bodies, prompts, encoded images, HTTP replies).  Never used on
 * the host's step path: request() and poll() only copy into fixed slots.
 * The buffer is always NUL-terminated when data != NULL.  Also the
 * plugins' one error-message helper.
 */
#ifndef GNARL_LLM_BUF_H
#define GNARL_LLM_BUF_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

struct gnarl_llm_buf {
	char *data;   /* owned; NULL until the first append */
	size_t len;   /* bytes used, excluding the terminating NUL */
	size_t cap;   /* bytes allocated */
};

/* Make room for `more` bytes plus a NUL.  0 or -1 (out of memory). */
static inline int gnarl_llm_buf_reserve(struct gnarl_llm_buf *b, size_t more)
{
	size_t need = b->len + more + 1;
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (need <= b->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

static inline int gnarl_llm_buf_append(struct gnarl_llm_buf *b, const void *data, size_t len)
{
	if (gnarl_llm_buf_reserve(b, len) < 0)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static inline int gnarl_llm_buf_puts(struct gnarl_llm_buf *b, const char *s)
{
	return gnarl_llm_buf_append(b, s, strlen(s));
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline int gnarl_llm_buf_printf(struct gnarl_llm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || gnarl_llm_buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Format a message into err (GNARL_ERR_SIZE bytes). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void gnarl_llm_err(char err[GNARL_ERR_SIZE], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, GNARL_ERR_SIZE, fmt, ap);
	va_end(ap);
}

static inline void gnarl_llm_buf_clear(struct gnarl_llm_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static inline void gnarl_llm_buf_free(struct gnarl_llm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

#endif /* GNARL_LLM_BUF_H */
