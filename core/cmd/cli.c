/*
 * cli.c - the gnarl command line: the command table, `gnarl help
 * [command]`, `gnarl --version`, `gnarl <command> --help`, and the helpers
 * commands share (cli.h).
 *
 * Adding a command `foo`:
 *   1. write core/cmd_foo.c defining  int gnarl_cmd_foo(int argc, char **argv)
 *      (argv[0] is "foo"; return an enum gnarl_exit code; declare it first
 *      in the file or in core/cmd_foo.h, for -Wmissing-prototypes);
 *   2. add ONE line to GNARL_COMMANDS below:
 *          X(foo, "one-line summary", gnarl_cmd_foo_usage)
 *      The third field is the usage text: define
 *          const char gnarl_cmd_foo_usage[] = "usage: gnarl foo ...\n...";
 *      in cmd_foo.c (the table declares it), or write NULL when the command
 *      prints its own usage on --help (gnarl help foo then runs foo --help).
 * Use gnarl_cli_option() for -c/--set/--json, gnarl_cli_load_config() to
 * read the config, gnarl_cli_fail() for errors.
 *
 * Invariants: help and version go to stdout (they are what was asked
 * for); usage errors go to stderr with exit code 2.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnarl/version.h>

#include "config.h"
#include "error.h"
#include "log.h"

#define GNARL_COMMANDS(X)                                                               \
	X(train, "train a policy with PPO on the config's env", gnarl_cmd_train_usage)  \
	X(eval, "play episodes with a trained or the random policy", gnarl_cmd_eval_usage) \
	X(bench, "measure env, learner and end-to-end speed against the FLOP bound",    \
	  gnarl_cmd_bench_usage)                                                         \
	X(plugins, "list plugins, show a plugin's parameters", gnarl_cmd_plugins_usage) \
	X(config, "check a config and its plugins' params; show the merged config",     \
	  gnarl_cmd_config_usage)                                                        \
	X(gb, "peek at a cartridge env's decoded game state and RAM", gnarl_cmd_gb_usage) \
	X(checkpoints, "list, show, tag and compare checkpoints", NULL)                 \
	X(archive, "show the archive of start states a checkpoint holds", gnarl_cmd_archive_usage)

/* Each line declares its command and usage text (unused when NULL). */
#define DECLARE(name, summary, usage)                \
	int gnarl_cmd_##name(int argc, char **argv); \
	extern const char gnarl_cmd_##name##_usage[];
GNARL_COMMANDS(DECLARE)
#undef DECLARE

struct command {
	const char *name;
	const char *summary;
	const char *usage;
	int (*run)(int argc, char **argv);
};

#define ENTRY(name, summary, usage) {#name, summary, usage, gnarl_cmd_##name},
static const struct command commands[] = {GNARL_COMMANDS(ENTRY)};
#undef ENTRY

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

const char *gnarl_cli_usage(const char *command)
{
	const struct command *c = find(command);

	return c ? c->usage : NULL;
}

static void overview(FILE *f)
{
	fprintf(f, "gnarl %s - reinforcement learning for Zelda-like games, with plugins\n\n"
	           "usage: gnarl <command> [options]\n"
	           "       gnarl help [command]     (or gnarl <command> --help)\n"
	           "       gnarl --version\n\ncommands:\n",
	        GNARL_VERSION);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nMost commands read a config: -c FILE (default configs/env.yaml, else the "
	           "installed\none) and --set KEY=VALUE (any key, value read as YAML, "
	           "repeatable).\n\nexit codes: 0 ok, 1 failure, 2 bad command line or config, "
	           "3 checkpoint\nincompatible or corrupt.  Messages go to stderr, --json output "
	           "to stdout.\n");
}

/* `gnarl help [command]` and `gnarl <command> --help`. */
static int help(const char *name)
{
	const struct command *c;
	char *argv[3];

	if (!name) {
		overview(stdout);
		return GNARL_EXIT_OK;
	}
	c = find(name);
	if (!c) {
		fprintf(stderr, "gnarl: unknown command '%s'\n\n", name);
		overview(stderr);
		return GNARL_EXIT_USAGE;
	}
	if (c->usage) {
		fputs(c->usage, stdout);
		return GNARL_EXIT_OK;
	}
	argv[0] = (char *)c->name;
	argv[1] = (char *)"--help";
	argv[2] = NULL;
	return c->run(2, argv);
}

/* Does the command line ask for help (skipping option values)? */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
		if (!strcmp(argv[i], "--set") || !strcmp(argv[i], "-c") ||
		    !strcmp(argv[i], "--config"))
			i++;
	}
	return false;
}

int gnarl_cli_main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		overview(stderr);
		return GNARL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") ||
	    !strcmp(argv[1], "version")) {
		printf("gnarl %s (plugin ABI %d.%d)\n", GNARL_VERSION, GNARL_ABI_MAJOR,
		       GNARL_ABI_MINOR);
		return GNARL_EXIT_OK;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help(argc > 2 ? argv[2] : NULL);
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "gnarl: unknown command '%s' (gnarl help lists them)\n", argv[1]);
		return GNARL_EXIT_USAGE;
	}
	if (wants_help(argc - 1, argv + 1))
		return help(c->name);
	return c->run(argc - 1, argv + 1);
}

/* ------------------------------------------------------------------------ */
/* Shared options                                                           */

int gnarl_cli_option(struct gnarl_cli_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *value = NULL;
	bool is_set = false;

	if (!strcmp(a, "--json")) {
		o->json = true;
		return 1;
	}
	if (!strncmp(a, "--set=", 6) || !strncmp(a, "--config=", 9)) {
		is_set = a[2] == 's';
		value = strchr(a, '=') + 1;
	} else if (!strcmp(a, "--set") || !strcmp(a, "-c") || !strcmp(a, "--config")) {
		is_set = !strcmp(a, "--set");
		if (*i + 1 >= argc) {
			fprintf(stderr, "gnarl %s: %s needs a value (%s)\n", argv[0], a,
			        is_set ? "--set KEY=VALUE" : "-c FILE");
			return -1;
		}
		value = argv[++*i];
	} else {
		return 0;
	}
	if (!is_set) {
		o->config = value;
		return 1;
	}
	if (o->n_sets == GNARL_CLI_MAX_SETS) {
		fprintf(stderr, "gnarl %s: more than %d --set options\n", argv[0],
		        GNARL_CLI_MAX_SETS);
		return -1;
	}
	o->sets[o->n_sets++] = value;
	return 1;
}

int gnarl_cli_parse(const char *command, int argc, char **argv, struct gnarl_cli_opts *o,
                    const char **pos, int max)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		int rc = gnarl_cli_option(o, argc, argv, &i);

		if (rc < 0)
			return -1;
		if (rc > 0)
			continue;
		if (argv[i][0] == '-' && argv[i][1]) {
			gnarl_cli_usage_error(command, "unknown option %s", argv[i]);
			return -1;
		}
		if (n == max) {
			gnarl_cli_usage_error(command, "unexpected argument '%s'", argv[i]);
			return -1;
		}
		pos[n++] = argv[i];
	}
	return n;
}

int gnarl_cli_config_path(const struct gnarl_cli_opts *o, char *buf, size_t size,
                          char err[GNARL_ERR_SIZE])
{
	char exe[4096], shared[4200];
	ssize_t n;

	if (o->config) {
		snprintf(buf, size, "%s", o->config);
		return 0;
	}
	if (access("configs/env.yaml", F_OK) == 0) {
		snprintf(buf, size, "configs/env.yaml");
		return 0;
	}
	shared[0] = '\0';
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(shared, sizeof(shared), "%s/../share/gnarl/configs/env.yaml", exe);
		if (access(shared, F_OK) == 0) {
			snprintf(buf, size, "%s", shared);
			return 0;
		}
	}
	if (access(GNARL_CONFIG_INSTALL_DIR "/env.yaml", F_OK) == 0) {
		snprintf(buf, size, "%s", GNARL_CONFIG_INSTALL_DIR "/env.yaml");
		return 0;
	}
	return gnarl_err(err, GNARL_ENOENT, "no config given and none found: looked for "
	                 "configs/env.yaml here, %s and %s (pass -c FILE)", shared,
	                 GNARL_CONFIG_INSTALL_DIR "/env.yaml");
}

int gnarl_cli_load_config(const struct gnarl_cli_opts *o, struct gnarl_config **out)
{
	char path[4096], err[GNARL_ERR_SIZE];
	int rc = gnarl_cli_config_path(o, path, sizeof(path), err);

	*out = NULL;
	if (!rc)
		rc = gnarl_config_load(path, o->sets, o->n_sets, out, err);
	if (rc == GNARL_ENOENT)
		rc = GNARL_ECONFIG;
	return rc ? gnarl_cli_fail(rc, "%s", err) : GNARL_EXIT_OK;
}

int gnarl_cli_fail(int code, const char *fmt, ...)
{
	char msg[GNARL_ERR_SIZE + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gnarl_log(GNARL_LOG_ERROR, NULL, "%s", msg); /* above a status line, if one is up */
	return gnarl_exit_code(code ? code : GNARL_EINVAL);
}

int gnarl_cli_usage_error(const char *command, const char *fmt, ...)
{
	const char *usage = gnarl_cli_usage(command);
	va_list ap;

	fprintf(stderr, "gnarl %s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (usage)
		fprintf(stderr, "\n%s", usage);
	return GNARL_EXIT_USAGE;
}

int gnarl_cli_print_json(json_t *value)
{
	int rc;

	if (!value)
		return gnarl_cli_fail(GNARL_ENOMEM, "out of memory");
	/* 16 digits: 0.1 prints as 0.1, not 0.10000000000000001. */
	rc = json_dumpf(value, stdout,
	                JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
	json_decref(value);
	if (rc)
		return gnarl_cli_fail(GNARL_EIO, "cannot write JSON to stdout");
	fputc('\n', stdout);
	return GNARL_EXIT_OK;
}
