/*
 * train_console.h - what `gnarl train` shows on stderr while it runs and
 * when it ends (rank 0 only).
 *
 * While it runs (core/console.h): on a terminal one status line, redrawn
 * in place,
 *
 *     [=======>            ]  38% 1.15M/3.00M steps | 4.15k steps/s | 7m26s left
 *     | iter 280/732 | return 2310.5 (best 2400.1) | len 1605 | rooms 36.8
 *     kills 4.4 | ent 1.16
 *
 * (one line, cut to the terminal's width); piped or redirected, the
 * iteration's progress line (gnarl_metrics_line) with the share done and
 * the time left after its steps, at most every log.every_seconds (0:
 * every iteration), the first and the last always.  Everything else is in
 * progress.csv and TensorBoard.
 *
 * When it ends: steps, wall time, mean steps/s, the final and best mean
 * return, the checkpoint to resume from, and the next commands (eval,
 * a video, resume, tensorboard) with this run's -c and --set options.
 */
#ifndef GNARL_TRAIN_CONSOLE_H
#define GNARL_TRAIN_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_config;
struct gnarl_metrics;
struct gnarl_train_console;

/* How the run ended and how it was started, for the summary. */
struct gnarl_train_console_end {
	uint64_t episodes;
	const char *checkpoint;         /* the newest saved (borrowed); NULL: none */
	bool stopped;                   /* by a signal or --stop-after */
	const char *config;             /* -c FILE as given; NULL: the default */
	const char *const *sets;        /* --set KEY=VALUE options as given */
	int n_sets;
	bool video;                     /* the env renders frames and videos are built in */
};

/* cfg borrowed (log.*, run.storage); `has_state`: show the game's
 * counters (rooms, kills).  GNARL_ENOMEM. */
int gnarl_train_console_create(const struct gnarl_config *cfg, bool has_state,
                               struct gnarl_train_console **out, char err[GNARL_ERR_SIZE]);
void gnarl_train_console_free(struct gnarl_train_console *c); /* accepts NULL */

/* The run (re)starts at `iteration` of `total_iterations`, `env_steps`
 * done, `batch` steps per iteration. */
void gnarl_train_console_start(struct gnarl_train_console *c, uint64_t iteration,
                               uint64_t total_iterations, uint64_t env_steps, uint64_t batch);
/* After metrics m flushed `iteration`: show it when due. */
void gnarl_train_console_iteration(struct gnarl_train_console *c, const struct gnarl_metrics *m,
                                   uint64_t iteration, uint64_t env_steps);
/* The loop is over: the status line stays as a line; piped, the last
 * iteration's line is printed if it was not. */
void gnarl_train_console_stop(struct gnarl_train_console *c);
/* The summary and the next commands. */
void gnarl_train_console_summary(const struct gnarl_train_console *c,
                                 const struct gnarl_train_console_end *end);

#endif /* GNARL_TRAIN_CONSOLE_H */
