/*
 * cli.h - the gnarl command line: the command table (cli.c) and the
 * helpers every command shares: -c FILE / --set KEY=VALUE / --json
 * parsing, finding and loading the config, printing errors with the right
 * exit code, and printing parameter tables.
 *
 * A command is `int gnarl_cmd_<name>(int argc, char **argv)` with argv[0]
 * the command's name; it returns the process exit code (enum gnarl_exit
 * in error.h).  Messages go to stderr, --json output to stdout.  See the
 * top of cli.c for adding one.
 */
#ifndef GNARL_CLI_H
#define GNARL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include <gnarl/plugin.h>

struct gnarl_config;

#define GNARL_CLI_MAX_SETS 128

/* Options shared by commands that read a config. */
struct gnarl_cli_opts {
	const char *config;                     /* -c FILE / --config FILE; NULL: default */
	const char *sets[GNARL_CLI_MAX_SETS];   /* --set KEY=VALUE, in order (argv strings) */
	int n_sets;
	bool json;                              /* --json */
};

/* The whole command line: dispatch, `help`, `--version`, `<cmd> --help`. */
int gnarl_cli_main(int argc, char **argv);

/* If argv[*i] is a shared option, consume it (and its value, advancing
 * *i) and return 1; return 0 if it is not one; on a missing value print
 * a usage error and return -1 (the caller exits GNARL_EXIT_USAGE).
 * Accepts "-c F", "--config F", "--config=F", "--set K=V", "--set=K=V",
 * "--json". */
int gnarl_cli_option(struct gnarl_cli_opts *o, int argc, char **argv, int *i);

/* Parse argv[1..] of `command`: shared options into o, other words into
 * pos[0..max-1].  Returns how many words, or -1 after printing a usage
 * error (an unknown "-x" option, more than max words, a missing value).
 * For commands with options of their own, loop with gnarl_cli_option. */
int gnarl_cli_parse(const char *command, int argc, char **argv, struct gnarl_cli_opts *o,
                    const char **pos, int max);

/* The config file a command reads: -c FILE when given, else
 * configs/env.yaml in the current directory, else the installed configs
 * (<exe dir>/../share/gnarl/configs/env.yaml, then
 * GNARL_CONFIG_INSTALL_DIR/env.yaml).  0, or GNARL_ENOENT with a message
 * naming each place. */
int gnarl_cli_config_path(const struct gnarl_cli_opts *o, char *buf, size_t size,
                          char err[GNARL_ERR_SIZE]);

/* Find and load the config with the --set overrides; on failure print the
 * error and return its exit code (else 0). */
int gnarl_cli_load_config(const struct gnarl_cli_opts *o, struct gnarl_config **out);

/* Print "gnarl: error: <message>" on stderr and return the exit code for
 * the GNARL_E* code (gnarl_exit_code). */
int gnarl_cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "gnarl <command>: <message>" and the command's usage on stderr;
 * returns GNARL_EXIT_USAGE. */
int gnarl_cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A command's usage text from the table (NULL if it has none). */
const char *gnarl_cli_usage(const char *command);

/* Print a parameter table as aligned columns (name, type, default, range
 * or choices, flags, help), indented by `indent`. */
void gnarl_cli_print_params(FILE *f, const struct gnarl_param *table, int indent);
/* The same as a JSON array of objects (new reference; NULL on OOM). */
json_t *gnarl_cli_params_json(const struct gnarl_param *table);

/* Write a JSON value to stdout, indented, with a final newline; steals
 * the reference.  Returns 0, or GNARL_EXIT_FAILURE when it cannot. */
int gnarl_cli_print_json(json_t *value);

#endif /* GNARL_CLI_H */
