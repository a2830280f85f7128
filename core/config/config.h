/*
 * config.h - the run configuration: a YAML file plus --set overrides,
 * validated against declared parameter tables (the core's own sections,
 * core/schema.c, and every plugin's `params`), with defaults filled in.
 *
 * Every key is declared somewhere.  An unknown key, a wrong type or an
 * out-of-range value is a GNARL_ECONFIG error whose message reads
 *     configs/env.yaml:12:3: ppo.gama: unknown key (did you mean 'gamma'?)
 * (an unknown key is located at the key, anything else at the value)
 * A value that came from the command line says where instead:
 *     --set ppo.gamma=2: ppo.gamma: 2 is out of range (must be between 0 and 1)
 *
 * Reading a loaded config: every core key is present after load (defaults
 * filled), so
 *     const struct gnarl_value *ppo = gnarl_config_section(cfg, "ppo");
 *     double gamma = gnarl_value_float(gnarl_value_get(ppo, "gamma"), 0.99);
 *     int64_t steps = gnarl_value_int(gnarl_value_at(cfg->root, "ppo.total_steps"), 0);
 * Plugin params are filled when the registry opens the plugins.
 */
#ifndef GNARL_CONFIG_H
#define GNARL_CONFIG_H

#include <stdbool.h>

#include "value.h"

struct gnarl_config {
	char *path;               /* owned; the config file, NULL when none */
	char *dir;                /* owned; its directory, "." when none */
	struct gnarl_tree *tree;  /* owned; the merged, validated config */
	const struct gnarl_value *root; /* borrowed from tree */
	char **sets;              /* owned; the --set arguments applied, as given */
	int n_sets;
};

/* Load `path` (NULL: no file, defaults only), apply each "a.b=value" in
 * sets (value read as YAML; "a.b=" sets null; a numeric component indexes
 * a list, and the index one past the end appends) and validate the core
 * sections, filling their defaults.  Plugin params are validated later,
 * when the plugins are loaded (core/registry.h).  *out is owned:
 * gnarl_config_free().  Errors are GNARL_ECONFIG (or GNARL_ENOMEM). */
int gnarl_config_load(const char *path, const char *const *sets, int n_sets,
                      struct gnarl_config **out, char err[GNARL_ERR_SIZE]);
void gnarl_config_free(struct gnarl_config *cfg);  /* accepts NULL */

/* A top-level section ("ppo"), or NULL. */
const struct gnarl_value *gnarl_config_section(const struct gnarl_config *cfg,
                                               const char *name);

/* Validate the map `node` against `table` and fill defaults in place.
 * `where` is the dotted path of node for messages ("rewards.2.params").
 * Marks SECRET parameters' nodes; turns INT values of FLOAT params into
 * FLOAT.  node may be NULL or null (an empty map).  A null value counts as
 * absent (its default applies).
 * cfg may be NULL (tests validating a plugin's params without a config):
 * messages then say "params:LINE:COL" (or just the key when the node has
 * no position), and defaults are not inserted (there
 * is no tree to own them); the plugin host supplies them anyway. */
int gnarl_config_check_params(struct gnarl_config *cfg, struct gnarl_value *node,
                              const struct gnarl_param *table, const char *where,
                              char err[GNARL_ERR_SIZE]);

/* Check a parameter table itself (a plugin's): names [a-z0-9_]+ and
 * unique, types known, REQUIRED xor a default, every default parses and
 * satisfies its own type, range and choices.  `who` prefixes messages. */
int gnarl_config_check_table(const struct gnarl_param *table, const char *who,
                             char err[GNARL_ERR_SIZE]);

/* Parse default_yaml of a param into a new tree whose root is the default
 * (null when there is none), typed as the param says (INT -> FLOAT for
 * FLOAT params).  For tables and `plugins show`. */
int gnarl_config_param_default(const struct gnarl_param *p, struct gnarl_tree **out,
                               char err[GNARL_ERR_SIZE]);

/* Format a config error about `node` at dotted `path` into err and return
 * GNARL_ECONFIG: "FILE:LINE:COL: path: <fmt...>", or "--set a.b=v: path:
 * ..." for values from the command line.  node may be NULL (then the
 * position is the file's, or the --set's that made path). */
int gnarl_config_error(const struct gnarl_config *cfg, const struct gnarl_value *node,
                       const char *path, char err[GNARL_ERR_SIZE], const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* "bool", "int", "float", "string", "list", "map"; "list of int" etc.
 * into buf for LIST params with an item type. */
const char *gnarl_param_type_name(const struct gnarl_param *p, char *buf, size_t size);

/* Optimal-string-alignment edit distance (typo distance), for "did you
 * mean". */
size_t gnarl_config_distance(const char *a, const char *b);

#endif /* GNARL_CONFIG_H */
