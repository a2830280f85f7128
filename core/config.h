/*
 * config.h - the run configuration: a YAML file plus --set overrides,
 * validated against declared parameter tables (the core's own sections
 * and every plugin's `params`), with defaults filled in.
 *
 * Every key is declared somewhere.  An unknown key, a wrong type or an
 * out-of-range value is a GNARL_ECONFIG error whose message reads
 *     configs/env.yaml:12:5: ppo.gama: unknown key (did you mean 'gamma'?)
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
};

/* Load `path` (NULL: no file, defaults only), apply each "a.b=value" in
 * sets (value read as YAML) and validate the core sections.  Plugin
 * params are validated later, when the plugins are loaded
 * (gnarl_config_check_params).  *out is owned: gnarl_config_free(). */
int gnarl_config_load(const char *path, const char *const *sets, int n_sets,
                      struct gnarl_config **out, char err[GNARL_ERR_SIZE]);
void gnarl_config_free(struct gnarl_config *cfg);  /* accepts NULL */

/* A top-level section ("ppo"), or NULL. */
const struct gnarl_value *gnarl_config_section(const struct gnarl_config *cfg,
                                               const char *name);

/* Validate the map `node` against `table` and fill defaults in place.
 * `where` is the dotted path of node for messages ("rewards.2.params").
 * Marks SECRET parameters' nodes.  node may be NULL/null (an empty map). */
int gnarl_config_check_params(struct gnarl_config *cfg, struct gnarl_value *node,
                              const struct gnarl_param *table, const char *where,
                              char err[GNARL_ERR_SIZE]);

/* Parse default_yaml of a param into a value (for tables and `plugins show`). */

#endif /* GNARL_CONFIG_H */
