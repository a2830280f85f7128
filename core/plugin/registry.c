/*
 * registry.c - open every plugin a loaded config names, check its kind
 * and validate its params block (filling defaults in the config tree), and
 * keep the libraries open for the trainer (registry.h).
 *
 * Entry points: gnarl_registry_open/free/env/count/get/storage/host.
 *
 * Invariants: entries live in one array sized before the first open, so
 * pointers to entries and their slot strings never move.  Every error
 * names the config position of the slot that listed the plugin.
 */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "plugin_host.h"
#include "rng.h"
#include "storage.h"
#include "value.h"

struct item {
	struct gnarl_registry_entry e;
	char slot[96];
};

struct gnarl_registry {
	struct gnarl_config *cfg;
	size_t n, cap;
	struct item *items;
	uint64_t seed;
};

/* Open the plugin named at `name_path` (or by `name`) into a new entry for
 * `slot`, and check its params at `params_path`.  `why` (may be NULL)
 * explains a plugin the config does not name itself. */
static int open_slot(struct gnarl_registry *r, enum gnarl_plugin_kind kind, const char *slot,
                     const char *name, const char *name_path, const char *params_path,
                     const char *why, uint32_t index, uint64_t stream,
                     char err[GNARL_ERR_SIZE])
{
	struct gnarl_config *cfg = r->cfg;
	struct gnarl_value *root = gnarl_tree_root(cfg->tree);
	const struct gnarl_value *where = gnarl_value_at(root, name_path);
	struct item *it = &r->items[r->n];
	char msg[GNARL_ERR_SIZE];
	struct gnarl_value *params;
	int rc;

	if (!name)
		name = gnarl_value_string(where, "");
	rc = gnarl_plugin_open(name, kind, cfg->dir, &it->e.lib, msg);
	if (rc == GNARL_ENOMEM)
		return gnarl_err(err, rc, "out of memory");
	if (rc)
		return gnarl_config_error(cfg, where, name_path, err, "%s%s", why ? why : "", msg);
	r->n++;
	snprintf(it->slot, sizeof(it->slot), "%s", slot);
	it->e.slot = it->slot;
	it->e.index = index;
	it->e.desc = gnarl_plugin_desc(it->e.lib);
	it->e.name = it->e.desc->name;
	it->e.seed = gnarl_rng_derive(r->seed, stream);
	params = gnarl_tree_at(root, params_path);
	rc = gnarl_config_check_params(cfg, params, it->e.desc->params, params_path, err);
	if (rc)
		return rc;
	it->e.params = gnarl_value_at(root, params_path);
	it->e.section = kind == GNARL_KIND_STORAGE ? it->e.params : gnarl_value_at(root, slot);
	return 0;
}

/* An llm entry's null probability and alignment_bonus take the plugin's
 * defaults. */
static int llm_defaults(struct gnarl_registry *r, const struct item *it, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_llm_ops *ops = it->e.desc->ops.llm;
	struct gnarl_value *item = gnarl_tree_at(gnarl_tree_root(r->cfg->tree), it->slot);
	struct gnarl_value *p = gnarl_tree_at(item, "probability");
	struct gnarl_value *b = gnarl_tree_at(item, "alignment_bonus");
	char path[128];

	snprintf(path, sizeof(path), "%s.probability", it->slot);
	if (p && p->type == GNARL_VALUE_NULL) {
		if (!(ops->default_probability >= 0 && ops->default_probability <= 1))
			return gnarl_config_error(r->cfg, item, path, err, "plugin '%s' has a "
			                          "default_probability of %g, outside [0, 1] (set "
			                          "probability in the config)", it->e.desc->name,
			                          ops->default_probability);
		gnarl_value_set_float(p, ops->default_probability);
	}
	if (b && b->type == GNARL_VALUE_NULL)
		gnarl_value_set_float(b, ops->default_alignment_bonus);
	return 0;
}

/* The storage plugin serving a root URI, by core/storage.c's rule: a plain
 * path or file:// -> "local", "<scheme>://" -> the plugin named <scheme>. */
/* Each key of `storage:`.  The plugin serving run.storage is added to the
 * section first when it is not listed, so its defaults are in the config
 * and storage.c finds its params where it looks. */
static int open_storage(struct gnarl_registry *r, char err[GNARL_ERR_SIZE])
{
	struct gnarl_value *root = gnarl_tree_root(r->cfg->tree);
	const char *uri = gnarl_value_string(gnarl_value_at(root, "run.storage"), "runs");
	const struct gnarl_value *st;
	char slot[96], name[64], why[256];
	bool listed;
	int rc;

	rc = gnarl_storage_plugin_for(uri, name, sizeof(name), err);
	if (rc)
		return gnarl_err_prefix(err, rc, "run.storage: ");
	listed = gnarl_value_get(gnarl_value_at(root, "storage"), name) != NULL;
	if (!listed && !gnarl_tree_map_put(r->cfg->tree, gnarl_tree_at(root, "storage"), name))
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	st = gnarl_value_at(root, "storage");
	snprintf(why, sizeof(why), "'%s' is stored by storage plugin '%s': ", uri, name);
	for (size_t k = 0; k < st->count; k++) {
		bool implicit = !listed && !strcmp(st->keys[k], name);

		snprintf(slot, sizeof(slot), "storage.%s", st->keys[k]);
		rc = open_slot(r, GNARL_KIND_STORAGE, slot, st->keys[k],
		               implicit ? "run.storage" : slot, slot, implicit ? why : NULL,
		               (uint32_t)k, 300 + k, err);
		if (rc)
			return rc;
	}
	return 0;
}

int gnarl_registry_open(struct gnarl_config *cfg, struct gnarl_registry **out,
                        char err[GNARL_ERR_SIZE])
{
	struct gnarl_registry *r = calloc(1, sizeof(*r));
	const struct gnarl_value *rewards = gnarl_config_section(cfg, "rewards");
	const struct gnarl_value *llm = gnarl_config_section(cfg, "llm");
	const struct gnarl_value *storage = gnarl_config_section(cfg, "storage");
	char slot[64], name_path[96], params_path[96];
	int rc;

	*out = NULL;
	if (!r)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	r->cfg = cfg;
	r->seed = (uint64_t)gnarl_value_int(gnarl_value_at(cfg->root, "run.seed"), 1);
	r->cap = 2 + (rewards ? rewards->count : 0) + (llm ? llm->count : 0) +
	         (storage ? storage->count : 0);
	r->items = calloc(r->cap, sizeof(*r->items));
	if (!r->items) {
		rc = gnarl_err(err, GNARL_ENOMEM, "out of memory");
		goto fail;
	}
	rc = open_slot(r, GNARL_KIND_ENV, "env", NULL, "env.plugin", "env.params", NULL, 0, 1, err);
	for (size_t i = 0; !rc && rewards && i < rewards->count; i++) {
		snprintf(slot, sizeof(slot), "rewards.%zu", i);
		snprintf(name_path, sizeof(name_path), "%s.plugin", slot);
		snprintf(params_path, sizeof(params_path), "%s.params", slot);
		rc = open_slot(r, GNARL_KIND_REWARD, slot, NULL, name_path, params_path, NULL,
		               (uint32_t)i, 100 + i, err);
		if (!rc)
			r->items[r->n - 1].e.name = gnarl_value_string(
			    gnarl_value_get(&rewards->items[i], "name"), r->items[r->n - 1].e.name);
	}
	for (size_t i = 0; !rc && llm && i < llm->count; i++) {
		snprintf(slot, sizeof(slot), "llm.%zu", i);
		snprintf(name_path, sizeof(name_path), "%s.plugin", slot);
		snprintf(params_path, sizeof(params_path), "%s.params", slot);
		rc = open_slot(r, GNARL_KIND_LLM, slot, NULL, name_path, params_path, NULL,
		               (uint32_t)i, 200 + i, err);
		if (!rc)
			rc = llm_defaults(r, &r->items[r->n - 1], err);
	}
	if (!rc)
		rc = open_storage(r, err);
	if (rc)
		goto fail;
	*out = r;
	return 0;
fail:
	gnarl_registry_free(r);
	return rc == GNARL_ENOMEM ? rc : GNARL_ECONFIG;
}

void gnarl_registry_free(struct gnarl_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		gnarl_plugin_close(r->items[i].e.lib);
	free(r->items);
	free(r);
}

const struct gnarl_registry_entry *gnarl_registry_env(const struct gnarl_registry *r)
{
	return gnarl_registry_get(r, GNARL_KIND_ENV, 0);
}

size_t gnarl_registry_count(const struct gnarl_registry *r, enum gnarl_plugin_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->items[i].e.desc->kind == kind;
	return n;
}

const struct gnarl_registry_entry *gnarl_registry_get(const struct gnarl_registry *r,
                                                      enum gnarl_plugin_kind kind, size_t i)
{
	for (size_t k = 0; k < r->n; k++)
		if (r->items[k].e.desc->kind == kind && i-- == 0)
			return &r->items[k].e;
	return NULL;
}

const struct gnarl_registry_entry *gnarl_registry_storage(const struct gnarl_registry *r,
                                                          const char *name)
{
	for (size_t k = 0; k < r->n; k++)
		if (r->items[k].e.desc->kind == GNARL_KIND_STORAGE &&
		    !strcmp(r->items[k].slot + strlen("storage."), name))
			return &r->items[k].e;
	return NULL;
}

int gnarl_registry_host(const struct gnarl_registry_entry *e, const struct gnarl_host_context *ctx,
                        struct gnarl_plugin_host **out, char err[GNARL_ERR_SIZE])
{
	return gnarl_plugin_host_create(e->lib, e->params, ctx, e->seed, e->slot, out, err);
}
