/*
 * cmd_train.c - `gnarl train [-c FILE] [--restore URI] [--set KEY=VALUE]...`:
 * load the config, find and check the checkpoint to resume from (if any),
 * build the trainer (core/trainer.c), restore it or start fresh, and run
 * until ppo.total_steps or a signal, saving checkpoints (core/resume.c).
 *
 * Entry point: gnarl_cmd_train (registered in cli.c).  SIGINT and SIGTERM
 * set a flag that the loop reads between iterations, so the current
 * iteration finishes, a checkpoint is saved and the metrics are synced
 * before exit (code 0).  The flag is the one piece of process-wide mutable
 * state: a signal handler can reach nothing else.
 *
 * Under an MPI launcher (`mpirun -n K gnarl train ...`, core/dist.h) every
 * process runs this same command: they agree after each setup step
 * whether all of them got through it (so none waits forever for one that
 * quit), rank 0 chooses the run name and tells the others, and only rank
 * 0 reports the checkpoint's changes.  SIGUSR1, which mpirun forwards to
 * every rank, stops like SIGTERM (mpirun itself answers SIGINT and
 * SIGTERM by killing the job).
 *
 * Exit codes: 0; 2 for a bad command line or config; 3 for a checkpoint
 * that is missing, damaged, from a newer format or incompatible with the
 * config (nothing is trained then); 1 otherwise (including a final
 * checkpoint that could not be saved, and another rank's failure).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "dist.h"
#include "error.h"
#include "log.h"
#include "reference.h"
#include "resume.h"
#include "train_console.h"
#include "trainer.h"
#include "value.h"
#include "video.h"

int gnarl_cmd_train(int argc, char **argv);

const char gnarl_cmd_train_usage[] =
    "usage: gnarl train [-c FILE] [--restore URI] [--stop-after N] [--set KEY=VALUE]...\n"
    "\n"
    "Train a policy with PPO on the env the config names.  The run lives in\n"
    "<run.storage>/<run.name>/: config.yaml (the merged config), progress.csv,\n"
    "TensorBoard events and checkpoints/checkpoint_NNNNNN/ (every checkpoint.every\n"
    "iterations and at the end).  On a terminal one status line shows the progress\n"
    "(bar, steps/s, time left, return); piped, a progress line at most every\n"
    "log.every_seconds (--set log.every_seconds=0: every iteration).  At the end a\n"
    "summary names the checkpoint to resume from and the next commands.\n"
    "Ctrl-C (SIGINT), SIGTERM or SIGUSR1 finishes the current iteration, saves a\n"
    "checkpoint and stops cleanly (exit 0).\n"
    "\n"
    "Under MPI (mpirun -n K gnarl train ...) the K processes train one network:\n"
    "each steps env.num_envs envs, gradients are averaged, rank 0 writes the run\n"
    "directory and every rank its episode summaries (workers/worker_<rank>/).\n"
    "ppo.total_steps counts every rank's steps.  Stop it with SIGUSR1 to mpirun\n"
    "(forwarded to every rank) or SIGTERM to any rank.\n"
    "\n"
    "  -c FILE            the config (default configs/env.yaml, else the installed one)\n"
    "  --restore URI      resume from a checkpoint: a checkpoint or run directory,\n"
    "                     s3://..., `latest` or `tag:NAME` (in run.storage).  Without\n"
    "                     it, the RESTORE_CHECKPOINT environment variable, then the\n"
    "                     config's `restore:` key are used.  The run goes on at the\n"
    "                     next iteration with the checkpoint's weights, optimizer,\n"
    "                     normalisers, counters and RNG, in a new run directory;\n"
    "                     what the config changed is printed first, and what cannot\n"
    "                     change (observation size, actions, network, env) exits 3\n"
    "  --stop-after N     stop after iteration N, as SIGINT would (the learning-rate\n"
    "                     schedule still spans ppo.total_steps)\n"
    "  --set KEY=VALUE    override any key (--set run.seed=3 --set ppo.total_steps=1e6);\n"
    "                     repeatable\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
}

struct train_args {
	struct gnarl_cli_opts o;
	const char *restore;
	uint64_t stop_after;
};

/* An option with a value: "--name V" or "--name=V"; 1 if argv[*i] is it. */
static int valued(const char *name, int argc, char **argv, int *i, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*value = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

static int parse_args(int argc, char **argv, struct train_args *a)
{
	const char *v;
	char *end;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		int r = gnarl_cli_option(&a->o, argc, argv, &i);

		if (r < 0)
			return GNARL_EXIT_USAGE;
		if (r > 0)
			continue;
		if ((r = valued("--restore", argc, argv, &i, &a->restore)) != 0) {
			if (r < 0 || !*a->restore)
				return gnarl_cli_usage_error("train", "--restore needs a URI");
			continue;
		}
		if ((r = valued("--stop-after", argc, argv, &i, &v)) != 0) {
			a->stop_after = r > 0 ? strtoull(v, &end, 10) : 0;
			if (r < 0 || !*v || *end || a->stop_after == 0)
				return gnarl_cli_usage_error("train",
				                             "--stop-after needs an iteration "
				                             "number >= 1");
			continue;
		}
		return gnarl_cli_usage_error("train", "unexpected argument '%s'", argv[i]);
	}
	if (a->o.json)
		return gnarl_cli_usage_error("train", "--json is not an option of train");
	return 0;
}

/* A checkpoint that is not there is as unusable as a damaged one. */
static int checkpoint_fail(int rc, const char *err)
{
	return gnarl_cli_fail(rc == GNARL_ENOENT ? GNARL_ECORRUPT : rc, "%s", err);
}

/* Find, verify and check the checkpoint named by --restore,
 * RESTORE_CHECKPOINT or `restore:`; *p stays NULL without one.  0, or an
 * exit code after printing the error. */
static int open_restore(struct gnarl_config *cfg, const struct train_args *a, bool rank0,
                        struct gnarl_resume_point **p)
{
	char err[GNARL_ERR_SIZE] = "";
	const char *source, *uri = gnarl_resume_uri(cfg, a->restore, &source);
	int rc;

	*p = NULL;
	if (!uri)
		return 0;
	if (strcmp(source, "--restore") != 0 && rank0)
		gnarl_log(GNARL_LOG_INFO, NULL, "restoring %s (from %s)", uri, source);
	/* Every rank loads the checkpoint; rank 0 tells what changed. */
	rc = gnarl_resume_open(cfg, uri, rank0 ? stderr : NULL, p, err);
	if (rc < 0)
		return checkpoint_fail(rc, err);
	if (!rank0)
		return 0; /* rank 0 chooses the run directory */
	rc = gnarl_resume_new_run_name(cfg, *p, err);
	if (rc < 0) {
		gnarl_resume_point_free(*p);
		*p = NULL;
		return gnarl_cli_fail(rc, "%s", err);
	}
	return 0;
}

/* Data-parallel: did this rank (exit code *rc) or another fail the last
 * step?  Every rank learns it at the same point and stops; one that did
 * not fail says why it stops.  Alone: *rc != 0. */
static bool any_failed(struct gnarl_dist *d, int *rc)
{
	if (!gnarl_dist_any(d, *rc != 0))
		return false;
	if (*rc == 0)
		*rc = gnarl_cli_fail(GNARL_EINTERRUPTED,
		                     "rank %d of %d stops: another rank failed "
		                     "(its message says why)",
		                     gnarl_dist_rank(d), gnarl_dist_size(d));
	return true;
}

/* Data-parallel: run.name is rank 0's (its default holds the UTC time,
 * and a resumed run's depends on what rank 0's storage holds). */
static int share_run_name(struct gnarl_config *cfg, struct gnarl_dist *d)
{
	struct gnarl_value *node = gnarl_tree_at(gnarl_tree_root(cfg->tree), "run.name");
	char *name;
	int rc;

	if (!gnarl_dist_on(d) || !node)
		return 0;
	name = strdup(gnarl_value_string(node, "run"));
	if (!name)
		gnarl_dist_abort(d, GNARL_EXIT_FAILURE, "out of memory");
	gnarl_dist_bcast_string(d, &name);
	rc = gnarl_tree_set_string(cfg->tree, node, name) < 0
	         ? gnarl_cli_fail(GNARL_ENOMEM, "out of memory")
	         : 0;
	free(name);
	return rc;
}

/* Data-parallel: every rank must train the same config (run.name is
 * rank 0's by now), else their collectives would not match.  Compared
 * before anything is created, so a refusal leaves no run directory. */
static int same_config(const struct gnarl_config *cfg, struct gnarl_dist *d)
{
	char *mine, *rank0;
	int rc = 0;

	if (!gnarl_dist_on(d))
		return 0;
	mine = gnarl_value_to_yaml(cfg->root, false);
	rank0 = mine ? strdup(mine) : NULL;
	if (!rank0)
		gnarl_dist_abort(d, GNARL_EXIT_FAILURE, "out of memory");
	gnarl_dist_bcast_string(d, &rank0);
	if (strcmp(mine, rank0) != 0)
		rc = gnarl_cli_fail(GNARL_ECONFIG,
		                    "rank %d's config differs from rank 0's (run.name aside, which "
		                    "rank 0 chooses): every process must train the same config file "
		                    "with the same --set options",
		                    gnarl_dist_rank(d));
	free(mine);
	free(rank0);
	return rc;
}

/* What the run did and what to do next (rank 0). */
static void summary(struct gnarl_trainer *t, const struct gnarl_resume *res,
                    const struct train_args *a)
{
	struct gnarl_train_console_end end = {
	    .episodes = gnarl_trainer_episodes(t),
	    .checkpoint = gnarl_resume_last_uri(res),
	    .stopped = !gnarl_trainer_done(t),
	    .config = a->o.config,
	    .sets = a->o.sets,
	    .n_sets = a->o.n_sets,
	    .video = gnarl_video_available() && gnarl_trainer_has_frames(t),
	};

	gnarl_train_console_summary(gnarl_trainer_console(t), &end);
}

/* Start fresh or restore point (freed); 0 or an exit code. */
static int begin(struct gnarl_trainer *t, struct gnarl_resume *res,
                 struct gnarl_resume_point **point)
{
	char err[GNARL_ERR_SIZE] = "";
	int rc;

	if (!*point) {
		gnarl_trainer_start(t);
		return 0;
	}
	rc = gnarl_resume_restore(res, *point, err);
	gnarl_resume_point_free(*point);
	*point = NULL;
	return rc ? checkpoint_fail(rc, err) : 0;
}

int gnarl_cmd_train(int argc, char **argv)
{
	struct train_args a;
	struct gnarl_trainer_options opts = {0};
	struct gnarl_dist *dist = NULL;
	struct gnarl_config *cfg = NULL;
	struct gnarl_trainer *t = NULL;
	struct gnarl_resume *res = NULL;
	struct gnarl_resume_point *point = NULL;
	char err[GNARL_ERR_SIZE] = "";
	int rc, frc;

	rc = gnarl_dist_init(&dist, err);
	if (rc)
		return gnarl_cli_fail(rc, "%s", err);
	/* Data-parallel, a signal during setup (mpirun forwards SIGUSR1 to
	 * every rank) must not kill one rank: every rank stops at the first
	 * iteration instead.  Alone, Ctrl-C during setup still ends at once. */
	if (gnarl_dist_on(dist))
		install_handlers();
	rc = parse_args(argc, argv, &a);
	if (rc == 0 && gnarl_dist_rank(dist) == 0)
		gnarl_reference_warn_environment();
	if (rc == 0)
		rc = gnarl_cli_load_config(&a.o, &cfg);
	if (any_failed(dist, &rc))
		goto out;
	rc = open_restore(cfg, &a, gnarl_dist_rank(dist) == 0, &point);
	if (any_failed(dist, &rc))
		goto out;
	rc = share_run_name(cfg, dist);
	if (rc == 0)
		rc = same_config(cfg, dist);
	if (any_failed(dist, &rc))
		goto out;
	opts.dist = dist;
	rc = gnarl_trainer_create(cfg, &opts, &t, err);
	if (rc == 0)
		rc = gnarl_resume_create(t, cfg, &stop_requested, a.stop_after, &res, err);
	if (rc)
		rc = gnarl_cli_fail(rc, "%s", err);
	if (any_failed(dist, &rc))
		goto out;
	rc = begin(t, res, &point);
	if (any_failed(dist, &rc))
		goto out;
	install_handlers();
	rc = gnarl_trainer_run(t, &stop_requested, err);
	rc = rc ? gnarl_cli_fail(rc, "%s", err) : GNARL_EXIT_OK;
	/* The last iteration is saved even when the metrics failed. */
	frc = gnarl_resume_finish(res, err);
	summary(t, res, &a);
	if (frc) {
		gnarl_cli_fail(frc, "%s", err);
		rc = GNARL_EXIT_FAILURE;
	}
out:
	gnarl_resume_point_free(point);
	gnarl_resume_free(res);
	gnarl_trainer_free(t);
	gnarl_config_free(cfg);
	gnarl_dist_finalize(dist);
	return rc;
}
