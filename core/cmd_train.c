/*
 * cmd_train.c - `gnarl train [-c FILE] [--set KEY=VALUE]...`: load the
 * config, build the trainer (core/trainer.c) and run it until
 * ppo.total_steps or a signal.
 *
 * Entry point: gnarl_cmd_train (registered in cli.c).  SIGINT and SIGTERM
 * set a flag that the loop reads between iterations, so the current
 * iteration finishes and the metrics are synced before exit (code 0).
 * The flag is the one piece of process-wide mutable state: a signal
 * handler can reach nothing else.
 */
#include <signal.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "error.h"
#include "trainer.h"

int gnarl_cmd_train(int argc, char **argv);

const char gnarl_cmd_train_usage[] =
    "usage: gnarl train [-c FILE] [--set KEY=VALUE]...\n"
    "\n"
    "Train a policy with PPO on the env the config names.  The run lives in\n"
    "<run.storage>/<run.name>/: config.yaml (the merged config), progress.csv and\n"
    "TensorBoard events; a progress line per iteration goes to stderr.  Ctrl-C\n"
    "(SIGINT) or SIGTERM finishes the current iteration and stops cleanly.\n"
    "\n"
    "  -c FILE            the config (default configs/env.yaml, else the installed one)\n"
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
}

int gnarl_cmd_train(int argc, char **argv)
{
	struct gnarl_cli_opts o = {0};
	struct gnarl_config *cfg = NULL;
	struct gnarl_trainer *t = NULL;
	char err[GNARL_ERR_SIZE] = "";
	int rc;

	if (gnarl_cli_parse("train", argc, argv, &o, NULL, 0) < 0)
		return GNARL_EXIT_USAGE;
	if (o.json)
		return gnarl_cli_usage_error("train", "--json is not an option of train");
	rc = gnarl_cli_load_config(&o, &cfg);
	if (rc)
		return rc;
	rc = gnarl_trainer_create(cfg, NULL, &t, err);
	if (rc) {
		rc = gnarl_cli_fail(rc, "%s", err);
		goto out;
	}
	install_handlers();
	gnarl_trainer_start(t);
	rc = gnarl_trainer_run(t, &stop_requested, err);
	rc = rc ? gnarl_cli_fail(rc, "%s", err) : GNARL_EXIT_OK;
out:
	gnarl_trainer_free(t);
	gnarl_config_free(cfg);
	return rc;
}
