/*
 * metrics.h - what a run reports, once per iteration: a progress line
 * (for stderr: core/train_console.c decides when it is printed), a row of
 * progress.csv and a TensorBoard event file, both kept in the run
 * directory through storage.
 *
 * Use: set every scalar of the iteration with gnarl_metrics_set(), then
 * gnarl_metrics_flush().  The CSV's columns are `iteration`, `env_steps`,
 * then the names set before the first flush, in first-set order (the
 * trainer sets the gauges of core/gauges.h too); names first seen later
 * go to TensorBoard only.  A cell is empty when its name was not set in
 * that iteration; values are written with the fewest digits that read
 * back exactly (as the same float when the value is exactly a float, else
 * as the same double; "nan" for NaN).  TensorBoard gets every name set in the
 * iteration as a scalar at step = env_steps, in
 * `events.out.tfevents.<unix time>.<hostname>` (a new file with a ".N"
 * suffix every 8 MiB so memory stays bounded).
 *
 * Uploads (whole files through gnarl_storage_put) happen every
 * `metrics.upload_every` flushes; when it is null, after every flush for
 * a local run (unless the last upload took more than a tenth of the time
 * since it started: growing files never cost more than ~10% of a run) and
 * only at gnarl_metrics_sync() for a remote one.  A failed upload loses
 * nothing: the files stay in memory and are retried whole, by the next
 * sync or by the first due flush GNARL_METRICS_RETRY_S seconds later (a
 * store that is down costs the storage plugin's retries once, not at
 * every due flush).
 */
#ifndef GNARL_METRICS_H
#define GNARL_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_storage;

#define GNARL_METRICS_RETRY_S 30.0

struct gnarl_metrics;

/* `section` is the validated `metrics:` config section (may be NULL for
 * defaults: upload_every null, tensorboard true, episodes true).  st and
 * run_prefix say where the run directory is (both borrowed, they must
 * outlive m; run_prefix "" or NULL is the store's root); st may be NULL
 * (nothing is written, the progress line is still made).
 * `remote` selects the upload default (see above). */
int gnarl_metrics_create(const struct gnarl_value *section, struct gnarl_storage *st,
                         const char *run_prefix, bool remote, struct gnarl_metrics **out,
                         char err[GNARL_ERR_SIZE]);
void gnarl_metrics_free(struct gnarl_metrics *m);  /* accepts NULL */

/* Set scalar `name` for the current iteration ("ep_return_mean",
 * "reward/room_discovery", ...).  Names are copied.  Setting "sps" is
 * optional: when unset, flush computes it from the env steps and wall time
 * since the previous flush (NaN at the first). */
void gnarl_metrics_set(struct gnarl_metrics *m, const char *name, double value);
/* The latest value set for name in any iteration; fallback if never. */
double gnarl_metrics_get(const struct gnarl_metrics *m, const char *name, double fallback);

/* End iteration `iteration` at `env_steps`: progress line (kept for
 * gnarl_metrics_line), CSV row, event, and an upload when due.  An upload failure is returned (with a message)
 * but loses nothing: the next due flush or sync retries with the whole
 * files.  GNARL_ENOMEM if a row could not be added (the row is dropped). */
int gnarl_metrics_flush(struct gnarl_metrics *m, uint64_t iteration, uint64_t env_steps,
                        char err[GNARL_ERR_SIZE]);
/* Add an image to the TensorBoard events at `step` (env steps): an
 * encoded PNG or animated GIF of width x height RGB pixels, under `tag`
 * (TensorBoard's IMAGES tab).  Written with the next upload.  0 when
 * TensorBoard is off or there is no store; GNARL_ENOMEM. */
int gnarl_metrics_add_image(struct gnarl_metrics *m, const char *tag, uint64_t step,
                            uint32_t width, uint32_t height, const void *data, size_t len);
/* The last flush's progress line (borrowed, valid until the next flush;
 * "" before the first): "iter 7 | steps 28672 | sps 3862 | return 1968.31
 * len 1826.4 | pi ... v ... ent ... kl ... | reward <term> <mean> ... |
 * llm <source> <requests> req <suggestions> sugg", groups without a
 * value left out. */
const char *gnarl_metrics_line(const struct gnarl_metrics *m);
/* Upload progress.csv and the event file(s) now. */
int gnarl_metrics_sync(struct gnarl_metrics *m, char err[GNARL_ERR_SIZE]);

/* `metrics.episodes`: whether per-episode summaries should be written. */
bool gnarl_metrics_episodes(const struct gnarl_metrics *m);
/* Name of the current event file (borrowed), or NULL when TensorBoard is
 * off or there is no storage. */
const char *gnarl_metrics_event_file(const struct gnarl_metrics *m);

#endif /* GNARL_METRICS_H */
