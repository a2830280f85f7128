/*
 * metrics.h - what a run reports, once per iteration: a progress line on
 * stderr, a row of progress.csv and a TensorBoard event file, both kept in
 * the run directory through storage.
 *
 * Use: set every scalar of the iteration with gnarl_metrics_set(), then
 * gnarl_metrics_flush().  The CSV's columns are the names set before the
 * first flush plus the gauges (core/gauges.h) present then; names first
 * seen later go to TensorBoard only.  Files are uploaded every
 * `metrics.upload_every` iterations (null: every iteration for a local run,
 * only at gnarl_metrics_sync() for a remote one) and at gnarl_metrics_sync().
 */
#ifndef GNARL_METRICS_H
#define GNARL_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_storage;
struct gnarl_gauges;

struct gnarl_metrics;

/* `section` is the validated `metrics:` config section (may be NULL for
 * defaults).  st and run_prefix say where the run directory is; st may be
 * NULL (nothing is written, the progress line still is).  gauges may be
 * NULL.  `remote` selects the upload default (see above). */
int gnarl_metrics_create(const struct gnarl_value *section, struct gnarl_storage *st,
                         const char *run_prefix, bool remote,
                         struct gnarl_gauges *gauges, struct gnarl_metrics **out,
                         char err[GNARL_ERR_SIZE]);
void gnarl_metrics_free(struct gnarl_metrics *m);  /* accepts NULL */

/* Set scalar `name` for the current iteration ("ep_return_mean",
 * "reward/room_discovery", ...).  Names are copied. */
void gnarl_metrics_set(struct gnarl_metrics *m, const char *name, double value);
/* The latest value set for name in any iteration; fallback if never. */
double gnarl_metrics_get(const struct gnarl_metrics *m, const char *name, double fallback);

/* End iteration `iteration` at `env_steps`: progress line, CSV row, event,
 * and an upload when due.  An upload failure is returned (with a message)
 * but loses nothing: the next sync retries with the whole files. */
int gnarl_metrics_flush(struct gnarl_metrics *m, uint64_t iteration, uint64_t env_steps,
                        char err[GNARL_ERR_SIZE]);
/* Upload progress.csv and the event file now. */
int gnarl_metrics_sync(struct gnarl_metrics *m, char err[GNARL_ERR_SIZE]);

#endif /* GNARL_METRICS_H */
