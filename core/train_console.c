/*
 * train_console.c - gnarl train's progress and summary on stderr (see
 * train_console.h).
 *
 * Entry points: gnarl_train_console_create/free, _start, _iteration,
 * _stop, _summary.
 *
 * Invariants: the values come from the metrics after each flush
 * (gnarl_metrics_get), so the console shows what progress.csv holds; the
 * best return is the best iteration's ep_return_mean (the mean of the
 * last 100 episodes), as checkpoint.keep_best ranks checkpoints.
 */
#include "train_console.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "console.h"
#include "error.h"
#include "log.h"
#include "metrics.h"
#include "value.h"

#define TEXT_MAX 1024

struct gnarl_train_console {
	struct gnarl_console con;
	struct gnarl_console_config cfg;
	bool has_state;
	char *run_dir;            /* "<run.storage>/<run.name>" when local, else NULL */
	uint64_t iteration, total_iterations, shown, env_steps, batch;
	double final_return, best_return;
	uint64_t best_iteration;
	char last_line[TEXT_MAX]; /* the newest iteration's plain line */
};

/* A local run's directory, for tensorboard --logdir. */
static char *local_run_dir(const struct gnarl_config *cfg)
{
	const char *root = gnarl_value_string(gnarl_value_at(cfg->root, "run.storage"), "runs");
	const char *name = gnarl_value_string(gnarl_value_at(cfg->root, "run.name"), "run");
	size_t len;
	char *dir;

	if (!strncmp(root, "file://", 7))
		root += 7;
	else if (strstr(root, "://"))
		return NULL;
	len = strlen(root) + strlen(name) + 2;
	dir = malloc(len);
	if (dir)
		snprintf(dir, len, "%s%s%s", root,
		         *root && root[strlen(root) - 1] != '/' ? "/" : "", name);
	return dir;
}

int gnarl_train_console_create(const struct gnarl_config *cfg, bool has_state,
                               struct gnarl_train_console **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_train_console *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	gnarl_console_config_read(cfg, &c->cfg);
	c->has_state = has_state;
	c->run_dir = local_run_dir(cfg);
	c->final_return = c->best_return = NAN;
	*out = c;
	return 0;
}

void gnarl_train_console_free(struct gnarl_train_console *c)
{
	if (!c)
		return;
	free(c->run_dir);
	free(c);
}

void gnarl_train_console_start(struct gnarl_train_console *c, uint64_t iteration,
                               uint64_t total_iterations, uint64_t env_steps, uint64_t batch)
{
	uint64_t left = total_iterations > iteration ? total_iterations - iteration : 0;

	if (!c)
		return;
	c->iteration = c->shown = iteration;
	c->total_iterations = total_iterations;
	c->env_steps = env_steps;
	c->batch = batch;
	gnarl_console_start(&c->con, &c->cfg, env_steps, env_steps + left * batch, "steps");
}

/* " | label value" when the metric has a finite value. */
static size_t field(char *buf, size_t size, size_t at, const struct gnarl_metrics *m,
                    const char *sep, const char *label, const char *name, const char *fmt)
{
	double v = gnarl_metrics_get(m, name, NAN);
	int n;

	if (!isfinite(v) || at >= size)
		return at;
	n = snprintf(buf + at, size - at, "%s%s ", sep, label);
	at += n > 0 ? (size_t)n : 0;
	if (at < size) {
		n = snprintf(buf + at, size - at, fmt, v);
		at += n > 0 ? (size_t)n : 0;
	}
	return at;
}

static void status_text(const struct gnarl_train_console *c, const struct gnarl_metrics *m,
                        char *buf, size_t size)
{
	size_t at = gnarl_console_progress(&c->con, true, buf, size);
	int n;

	if (at < size) {
		n = snprintf(buf + at, size - at, " | iter %llu/%llu",
		             (unsigned long long)c->iteration,
		             (unsigned long long)c->total_iterations);
		at += n > 0 ? (size_t)n : 0;
	}
	at = field(buf, size, at, m, " | ", "return", "ep_return_mean", "%.1f");
	if (isfinite(c->best_return) && at < size) {
		n = snprintf(buf + at, size - at, " (best %.1f)", c->best_return);
		at += n > 0 ? (size_t)n : 0;
	}
	at = field(buf, size, at, m, " | ", "len", "ep_len_mean", "%.0f");
	if (c->has_state) {
		at = field(buf, size, at, m, " | ", "rooms", "rooms_discovered", "%.1f");
		at = field(buf, size, at, m, " ", "kills", "enemies_killed", "%.1f");
	}
	field(buf, size, at, m, " | ", "ent", "entropy", "%.3g");
}

/* The metrics line with "| 42% 1.26M/3.00M steps | ... left" after its
 * steps, where a reader of a log looks for them. */
static void plain_text(const struct gnarl_train_console *c, const struct gnarl_metrics *m,
                       char *buf, size_t size)
{
	const char *line = gnarl_metrics_line(m);
	const char *rest = strstr(line, " | ");
	char progress[256];

	rest = rest ? strstr(rest + 3, " | ") : NULL; /* after "iter N | steps S" */
	gnarl_console_progress(&c->con, false, progress, sizeof(progress));
	if (!rest)
		snprintf(buf, size, "%s | %s", line, progress);
	else
		snprintf(buf, size, "%.*s | %s%s", (int)(rest - line), line, progress, rest);
}

void gnarl_train_console_iteration(struct gnarl_train_console *c, const struct gnarl_metrics *m,
                                   uint64_t iteration, uint64_t env_steps)
{
	char status[TEXT_MAX];
	double ret;
	bool last, due;

	if (!c || !m)
		return;
	c->iteration = iteration;
	c->env_steps = env_steps;
	ret = gnarl_metrics_get(m, "ep_return_mean", NAN);
	if (isfinite(ret)) {
		c->final_return = ret;
		if (!(ret <= c->best_return)) { /* NaN best: the first */
			c->best_return = ret;
			c->best_iteration = iteration;
		}
	}
	last = iteration >= c->total_iterations;
	due = gnarl_console_due(&c->con, env_steps, last);
	if (!c->con.tty) /* kept: a stop prints the newest (gnarl_train_console_stop) */
		plain_text(c, m, c->last_line, sizeof(c->last_line));
	if (!due)
		return;
	if (c->con.tty)
		status_text(c, m, status, sizeof(status));
	gnarl_console_show(&c->con, status, c->last_line);
	c->shown = iteration;
}

void gnarl_train_console_stop(struct gnarl_train_console *c)
{
	if (!c)
		return;
	if (!c->con.tty && c->shown != c->iteration && c->last_line[0])
		gnarl_log(GNARL_LOG_INFO, NULL, "%s", c->last_line);
	c->shown = c->iteration;
	gnarl_console_end(&c->con);
}

/* s quoted for a POSIX shell when it needs it. */
static void quoted(char *buf, size_t size, const char *s)
{
	size_t at = 0;

	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	                    "_./=:,+-@%") == strlen(s)) {
		snprintf(buf, size, "%s", s);
		return;
	}
	if (size < 3) {
		buf[0] = '\0';
		return;
	}
	buf[at++] = '\'';
	for (; *s && at + 5 < size; s++) {
		if (*s == '\'') { /* close, an escaped quote, open again */
			memcpy(buf + at, "'\\''", 4);
			at += 4;
		} else {
			buf[at++] = *s;
		}
	}
	buf[at++] = '\'';
	buf[at] = '\0';
}

/* " -c FILE --set K=V ..." of this run, but for the budget and the run's
 * name (a resumed run gets a new one; eval makes none). */
static void options(char *buf, size_t size, const struct gnarl_train_console_end *end)
{
	char q[1024];
	size_t at = 0;

	buf[0] = '\0';
	if (end->config) {
		quoted(q, sizeof(q), end->config);
		at += (size_t)snprintf(buf, size, " -c %s", q);
	}
	for (int i = 0; i < end->n_sets && at < size; i++) {
		if (!strncmp(end->sets[i], "ppo.total_steps=", 16) ||
		    !strncmp(end->sets[i], "run.name=", 9))
			continue;
		quoted(q, sizeof(q), end->sets[i]);
		at += (size_t)snprintf(buf + at, size - at, " --set %s", q);
	}
}

void gnarl_train_console_summary(const struct gnarl_train_console *c,
                                 const struct gnarl_train_console_end *end)
{
	char took[32], rate[32], opts[2048], ck[1100], prog[512];
	double elapsed, steps;

	if (!c)
		return;
	elapsed = gnarl_console_elapsed(&c->con);
	steps = (double)(c->env_steps - c->con.start_done); /* this process's */
	gnarl_console_duration(elapsed, took, sizeof(took));
	gnarl_console_count(elapsed > 0 ? steps / elapsed : NAN, rate, sizeof(rate));
	gnarl_log(GNARL_LOG_INFO, NULL, "%s: iteration %llu of %llu, %llu env steps, %llu episodes",
	          end->stopped ? "stopped" : "done", (unsigned long long)c->iteration,
	          (unsigned long long)c->total_iterations, (unsigned long long)c->env_steps,
	          (unsigned long long)end->episodes);
	gnarl_log(GNARL_LOG_INFO, NULL, "  time        %s (%s steps/s)", took, rate);
	if (isfinite(c->final_return))
		gnarl_log(GNARL_LOG_INFO, NULL,
		          "  return      %.2f at the end, best %.2f (iteration %llu; mean of the "
		          "last 100 episodes)",
		          c->final_return, c->best_return, (unsigned long long)c->best_iteration);
	if (!end->checkpoint) {
		gnarl_log(GNARL_LOG_INFO, NULL, "  checkpoint  none saved");
		return;
	}
	gnarl_log(GNARL_LOG_INFO, NULL, "  checkpoint  %s", end->checkpoint);
	gnarl_console_program(prog, sizeof(prog));
	options(opts, sizeof(opts), end);
	quoted(ck, sizeof(ck), end->checkpoint);
	gnarl_log(GNARL_LOG_INFO, NULL, "next:");
	gnarl_log(GNARL_LOG_INFO, NULL, "  %s eval%s --restore %s --episodes 100", prog, opts, ck);
	if (end->video)
		gnarl_log(GNARL_LOG_INFO, NULL, "  %s eval%s --restore %s --episodes 1 --video "
		          "episode.mp4", prog, opts, ck);
	gnarl_log(GNARL_LOG_INFO, NULL, "  %s train%s --restore %s --set ppo.total_steps=%llu",
	          prog, opts, ck, (unsigned long long)(2 * c->env_steps));
	if (c->run_dir) {
		quoted(ck, sizeof(ck), c->run_dir);
		gnarl_log(GNARL_LOG_INFO, NULL, "  tensorboard --logdir %s", ck);
	}
}
