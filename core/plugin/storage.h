/*
 * storage.h - the core's side of storage: open a root URI with the
 * storage plugin that serves its scheme ("s3://b/p" -> s3, a path or
 * "file://" -> local), and whole-object helpers on top of the plugin ops.
 * Every file a run writes goes through here.
 */
#ifndef GNARL_STORAGE_H
#define GNARL_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_config;
struct gnarl_host_context;
struct gnarl_storage;

/* Open root_uri.  The storage plugin's params come from the config's
 * `storage.<plugin>` section (validated).  ctx may be NULL. */
int gnarl_storage_open(const struct gnarl_config *cfg, const char *root_uri,
                       struct gnarl_storage **out, char err[GNARL_ERR_SIZE]);
void gnarl_storage_close(struct gnarl_storage *st);  /* accepts NULL */
const char *gnarl_storage_root(const struct gnarl_storage *st);
const char *gnarl_storage_plugin_name(const struct gnarl_storage *st);

/* Split "s3://bucket/a/b/checkpoint_000150" into the root the plugin opens
 * and the key below it, by scheme rules (owned strings). */
int gnarl_storage_split_uri(const char *uri, char **root, char **key,
                            char err[GNARL_ERR_SIZE]);

/* The name of the storage plugin serving uri's scheme: a plain path or
 * "file://" -> "local", "<scheme>://" -> "<scheme>" (lower case). */
int gnarl_storage_plugin_for(const char *uri, char *name, size_t size,
                             char err[GNARL_ERR_SIZE]);

int gnarl_storage_put(struct gnarl_storage *st, const char *key,
                      const void *data, size_t len, char err[GNARL_ERR_SIZE]);

/* A run directory: a store and the run's key prefix in it ("" or
 * "name/"), both borrowed. */
struct gnarl_run_dir {
	struct gnarl_storage *st;
	const char *prefix;
};

/* gnarl_storage_put of key under a struct gnarl_run_dir (run_dir): the
 * service behind plugins' run_put (plugin_host.h's gnarl_run_put_fn). */
int gnarl_storage_run_put(void *run_dir, const char *key, const void *data, size_t len,
                          char err[GNARL_ERR_SIZE]);
/* Whole object into a malloc'ed buffer (*data owned by caller; a NUL is
 * appended after len bytes for convenience). */
int gnarl_storage_get(struct gnarl_storage *st, const char *key, void **data,
                      size_t *len, char err[GNARL_ERR_SIZE]);
int gnarl_storage_list(struct gnarl_storage *st, const char *prefix,
                       gnarl_list_fn each, void *ctx, char err[GNARL_ERR_SIZE]);
int gnarl_storage_remove(struct gnarl_storage *st, const char *key,
                         char err[GNARL_ERR_SIZE]);
/* 1, 0, or < 0 */
int gnarl_storage_exists(struct gnarl_storage *st, const char *key,
                         char err[GNARL_ERR_SIZE]);

#endif /* GNARL_STORAGE_H */
