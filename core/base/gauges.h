/*
 * gauges.h - named values that plugins and core modules set at any time
 * ("llm_text/calls") and that metrics writes once per iteration.  A small
 * mutex-protected table; names are copied.
 */
#ifndef GNARL_GAUGES_H
#define GNARL_GAUGES_H

#include <stddef.h>

struct gnarl_gauges;

int gnarl_gauges_create(struct gnarl_gauges **out);
void gnarl_gauges_free(struct gnarl_gauges *g);  /* accepts NULL */
/* Thread-safe.  Silently ignores new names past the table's capacity (256). */
void gnarl_gauges_set(struct gnarl_gauges *g, const char *name, double value);
/* Snapshot in first-set order: calls each(ctx, name, value).  Thread-safe. */
void gnarl_gauges_each(struct gnarl_gauges *g,
                       void (*each)(void *ctx, const char *name, double value),
                       void *ctx);

#endif /* GNARL_GAUGES_H */
