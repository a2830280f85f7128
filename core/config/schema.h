/*
 * schema.h - the ONE place the core's own config keys are declared: a
 * struct gnarl_param table per section, validated by the same code as
 * plugin params (config.c).  `gnarl config keys` prints them.
 *
 * Sections and their shapes:
 *   run, env, policy, ppo, checkpoint, metrics, hud,  maps of keys
 *   log, video, archive
 *   rewards, llm                                      lists of maps
 *   storage        map: storage plugin name -> that plugin's params
 *                  (validated when the registry opens the plugin)
 *   restore        a string or null
 */
#ifndef GNARL_SCHEMA_H
#define GNARL_SCHEMA_H

#include <gnarl/plugin.h>

struct gnarl_config;

enum gnarl_schema_shape {
	GNARL_SCHEMA_MAP = 1,     /* a map checked against `table` */
	GNARL_SCHEMA_LIST,        /* a list of maps, each checked against `table` */
	GNARL_SCHEMA_PLUGIN_MAP,  /* plugin name -> params map (checked by the registry) */
	GNARL_SCHEMA_VALUE,       /* a single value declared in the root table */
};

struct gnarl_schema_section {
	const char *name;
	enum gnarl_schema_shape shape;
	const struct gnarl_param *table; /* MAP: its keys; LIST: each item's keys */
	const char *help;
};

/* All sections, in the order a config lists them; ends with name NULL. */
const struct gnarl_schema_section *gnarl_schema_sections(void);
/* The top level: one param per section (types MAP, LIST or STRING). */
const struct gnarl_param *gnarl_schema_root(void);
/* The keys of section `name` (or of each item of a list section), or NULL. */
const struct gnarl_param *gnarl_schema_table(const char *name);

/* Validate the core sections of cfg and fill their defaults: every core
 * key exists afterwards.  run.name null becomes "<env.plugin>-<UTC
 * YYYYmmdd-HHMMSS>"; rewards[i].name null becomes its plugin's name.
 * Called by gnarl_config_load. */
int gnarl_schema_check(struct gnarl_config *cfg, char err[GNARL_ERR_SIZE]);

#endif /* GNARL_SCHEMA_H */
