/*
 * registry.h - every plugin a config names, opened and checked before
 * anything runs: env.plugin, each rewards[i].plugin, each llm[i].plugin,
 * each key of `storage:`, and the storage plugin serving run.storage's
 * scheme.  Kinds are checked, each params block is validated against the
 * plugin's table with defaults filled in (in the config tree), and the
 * libraries stay open until gnarl_registry_free.
 *
 * `gnarl config check` uses it; the trainer creates its instances from the
 * entries:
 *
 *     const struct gnarl_registry_entry *e = gnarl_registry_get(r, GNARL_KIND_REWARD, i);
 *     struct gnarl_plugin_host *host;
 *     rc = gnarl_registry_host(e, &ctx, &host, err);
 *     err[0] = '\0';
 *     void *term = e->desc->ops.reward->create(gnarl_plugin_host_table(host), n_envs, err);
 *     if (!term)
 *             rc = gnarl_plugin_create_failed(e->lib, e->slot, err);
 */
#ifndef GNARL_REGISTRY_H
#define GNARL_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_config;
struct gnarl_host_context;
struct gnarl_plugin_host;
struct gnarl_plugin_lib;

struct gnarl_registry;

/* One opened plugin in one config slot.  All pointers are borrowed from
 * the registry (and the config) and valid until gnarl_registry_free. */
struct gnarl_registry_entry {
	const char *slot;                 /* "env", "rewards.2", "llm.0", "storage.s3" */
	const char *name;                 /* rewards: the term's name (reward/<name> in
	                                     logs); else the plugin's name */
	uint32_t index;                   /* position within its kind (rewards.2 -> 2) */
	struct gnarl_plugin_lib *lib;
	const struct gnarl_plugin *desc;
	const struct gnarl_value *section; /* the slot's map (rewards.2: weight, ...); for
	                                      env the `env` section; for storage the params */
	const struct gnarl_value *params; /* validated, defaults filled */
	uint64_t seed;                    /* gnarl_rng_derive(run.seed, stream): env 1,
	                                     rewards 100+i, llm 200+i, storage 300+i */
};

/* Open and check every plugin cfg names (see above).  LLM entries get
 * `probability` and `alignment_bonus` filled from the plugin's defaults
 * when the config says null.  Errors are GNARL_ECONFIG (GNARL_ENOMEM) and
 * say where in the config the plugin is named:
 *     configs/env.yaml:9:13: rewards.1.plugin: plugin 'movment' not found: ... */
int gnarl_registry_open(struct gnarl_config *cfg, struct gnarl_registry **out,
                        char err[GNARL_ERR_SIZE]);
void gnarl_registry_free(struct gnarl_registry *r);  /* accepts NULL */

/* The env entry (always present after a successful open). */
const struct gnarl_registry_entry *gnarl_registry_env(const struct gnarl_registry *r);
/* Entries of one kind in config order: count, then 0..count-1 (NULL past
 * the end).  Storage entries: each `storage:` key, then run.storage's
 * plugin if it was not listed. */
size_t gnarl_registry_count(const struct gnarl_registry *r, enum gnarl_plugin_kind kind);
const struct gnarl_registry_entry *gnarl_registry_get(const struct gnarl_registry *r,
                                                      enum gnarl_plugin_kind kind, size_t i);
/* The storage entry for plugin `name`, or NULL. */
const struct gnarl_registry_entry *gnarl_registry_storage(const struct gnarl_registry *r,
                                                          const char *name);

/* A host table for an instance of entry e (gnarl_plugin_host_create with
 * the entry's params, seed and slot). */
int gnarl_registry_host(const struct gnarl_registry_entry *e,
                        const struct gnarl_host_context *ctx,
                        struct gnarl_plugin_host **out, char err[GNARL_ERR_SIZE]);

#endif /* GNARL_REGISTRY_H */
