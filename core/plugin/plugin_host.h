/*
 * plugin_host.h - the plugin host: find a plugin by name, dlopen it
 * (RTLD_NOW | RTLD_LOCAL), check its descriptor, and give each instance
 * its own struct gnarl_host (logging, validated params, gauges, the run
 * directory).
 *
 * Lookup of a name, in order (the first hit wins):
 *   1. an explicit path (the name contains '/' or ends in ".so");
 *   2. each directory of GNARL_PLUGIN_PATH (':'-separated);
 *   3. the config file's directory and its plugins/ subdirectory;
 *   4. the install's plugin directory: <exe dir>/plugins (build tree),
 *      <exe dir>/../lib/gnarl/plugins, then GNARL_PLUGIN_INSTALL_DIR.
 * A file there is "<name>.so".  Not found: the error lists every place.
 */
#ifndef GNARL_PLUGIN_HOST_H
#define GNARL_PLUGIN_HOST_H

#include <gnarl/plugin.h>

struct gnarl_config;
struct gnarl_gauges;

struct gnarl_plugin_lib;  /* an opened .so */

/* Open plugin `name` expecting `kind` (0: any).  Refusals name the file:
 * no entry symbol, ABI major differs, descriptor smaller than v1, ops
 * table missing or smaller than its v1 size or lacking a mandatory
 * function, wrong kind, a broken parameter table.  Codes: GNARL_ENOENT
 * (not found: the message lists every place looked), GNARL_EVERSION (ABI
 * major or sizes), GNARL_EKIND (wrong kind), GNARL_EINVAL (the rest).
 * config_dir may be NULL (no "next to the config" step). */
int gnarl_plugin_open(const char *name, enum gnarl_plugin_kind kind,
                      const char *config_dir, struct gnarl_plugin_lib **out,
                      char err[GNARL_ERR_SIZE]);
/* Frees lib; the .so stays mapped until exit (never dlclose'd).  Accepts
 * NULL. */
void gnarl_plugin_close(struct gnarl_plugin_lib *lib);
const struct gnarl_plugin *gnarl_plugin_desc(const struct gnarl_plugin_lib *lib);
const char *gnarl_plugin_file(const struct gnarl_plugin_lib *lib);
const char *gnarl_plugin_kind_name(enum gnarl_plugin_kind kind);

/* Optional ops a plugin offers (all of a group, within its ops table's
 * size): an env's state_size/save_state/load_state (a checkpoint can then
 * hold its running episodes), a reward term's save_size/save/load. */
bool gnarl_plugin_env_has_state(const struct gnarl_env_ops *ops);
bool gnarl_plugin_term_has_state(const struct gnarl_reward_ops *ops);
/* The size of the suggestions an llm plugin's poll writes (ABI 1.1's
 * suggestion_size, else 1.0's): the stride of poll's `out`. */
uint32_t gnarl_plugin_suggestion_size(const struct gnarl_llm_ops *ops);

/* Call `each` for every loadable plugin in the search path (first hit per
 * name, as lookup would find it; sorted by name within a directory).  lib
 * is borrowed for the call (closed after it). */
typedef void (*gnarl_plugin_each_fn)(void *ctx, struct gnarl_plugin_lib *lib);
int gnarl_plugin_scan(const char *config_dir, gnarl_plugin_each_fn each,
                      void *ctx, char err[GNARL_ERR_SIZE]);
/* The same, also calling `bad` (may be NULL) for each .so that was refused,
 * with the refusal's message. */
typedef void (*gnarl_plugin_bad_fn)(void *ctx, const char *file, const char *message);
int gnarl_plugin_scan_all(const char *config_dir, gnarl_plugin_each_fn each,
                          gnarl_plugin_bad_fn bad, void *ctx, char err[GNARL_ERR_SIZE]);

/* The directories searched for a name, in order, one per line as
 * "<dir> (<why>)" into buf (always NUL-terminated). */
void gnarl_plugin_search_text(const char *config_dir, char *buf, size_t size);

/* After a plugin's create returned NULL: turn the plugin's own message in
 * err (clear err[0] before calling create) into "SLOT: plugin 'NAME'
 * (FILE) failed to start: MESSAGE".  Returns GNARL_ECONFIG. */
int gnarl_plugin_create_failed(const struct gnarl_plugin_lib *lib, const char *slot,
                               char err[GNARL_ERR_SIZE]);

/* The service behind a plugin's run_put: store data at key (checked:
 * relative, non-empty) under the run directory.  storage.h's
 * gnarl_storage_run_put, with a struct gnarl_run_dir as `run`. */
typedef int (*gnarl_run_put_fn)(void *run, const char *key, const void *data, size_t len,
                                char err[GNARL_ERR_SIZE]);

/* What the core lends to every instance's host table.  Every member may be
 * NULL/0 (world_size 0 counts as 1); the context itself may be NULL. */
struct gnarl_host_context {
	const struct gnarl_config *config;   /* for config_dir and messages */
	struct gnarl_gauges *gauges;         /* NULL: metric() is a no-op */
	gnarl_run_put_fn run_put;            /* NULL: run_put() fails */
	void *run;                           /* run_put's first argument */
	int rank, world_size;
};

/* The host table of one instance.  `params` must already be validated
 * against the plugin's table (gnarl_config_check_params; may be NULL for
 * all defaults); it is borrowed and must outlive the host, as must ctx's
 * members (ctx itself is copied).  `slot` names the config slot in
 * messages ("rewards.2").  The table's `param` returns the value in params,
 * else the declared default (so it works when params was checked with no
 * config, which fills no defaults), else NULL. */
struct gnarl_plugin_host;
int gnarl_plugin_host_create(const struct gnarl_plugin_lib *lib,
                             const struct gnarl_value *params,
                             const struct gnarl_host_context *ctx,
                             uint64_t seed, const char *slot,
                             struct gnarl_plugin_host **out,
                             char err[GNARL_ERR_SIZE]);
const struct gnarl_host *gnarl_plugin_host_table(const struct gnarl_plugin_host *h);
void gnarl_plugin_host_free(struct gnarl_plugin_host *h);  /* accepts NULL */

#endif /* GNARL_PLUGIN_HOST_H */
