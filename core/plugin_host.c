/*
 * plugin_host.c - the struct gnarl_host each plugin instance receives at
 * `create`: logging prefixed with the plugin's name, its validated params
 * (with declared defaults behind them), gauges, the run's storage, its
 * seed, the config's directory and the MPI rank.
 *
 * Entry points: gnarl_plugin_host_create/table/free (plugin.h).
 *
 * Invariants: the host table is the first member of struct
 * gnarl_plugin_host and host_data points back at it, so every callback
 * finds its instance without globals.  Callbacks never allocate except
 * run_put's key (setup-time only); log and metric are thread-safe because
 * gnarl_log and the gauges are.
 */
#include "plugin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "gauges.h"
#include "log.h"
#include "storage.h"
#include "value.h"

struct gnarl_plugin_host {
	struct gnarl_host table;
	const struct gnarl_plugin *desc;
	const struct gnarl_value *params; /* borrowed, validated */
	struct gnarl_tree *defaults;      /* owned: declared defaults missing from params */
	struct gnarl_host_context ctx;
	char *slot;
	char *run_prefix;
};

static struct gnarl_plugin_host *self(const struct gnarl_host *host)
{
	return host->host_data;
}

__attribute__((format(printf, 3, 4))) static void host_log(const struct gnarl_host *host,
                                                           enum gnarl_log_level level,
                                                           const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gnarl_logv(level, self(host)->desc->name, fmt, ap);
	va_end(ap);
}

static const struct gnarl_value *host_param(const struct gnarl_host *host, const char *name)
{
	struct gnarl_plugin_host *h = self(host);
	const struct gnarl_value *v;
	const struct gnarl_param *p;

	for (p = h->desc->params; p && p->name; p++)
		if (!strcmp(p->name, name))
			break;
	if (!p || !p->name)
		return NULL;
	v = gnarl_value_get(h->params, name);
	if (v && v->type != GNARL_VALUE_NULL)
		return v;
	v = gnarl_value_get(gnarl_tree_root(h->defaults), name);
	return v && v->type != GNARL_VALUE_NULL ? v : NULL;
}

static void host_metric(const struct gnarl_host *host, const char *name, double value)
{
	gnarl_gauges_set(self(host)->ctx.gauges, name, value);
}

static int host_run_put(const struct gnarl_host *host, const char *key, const void *data,
                        size_t len, char err[GNARL_ERR_SIZE])
{
	struct gnarl_plugin_host *h = self(host);
	char *full;
	size_t n;
	int rc;

	if (!h->ctx.run_storage)
		return gnarl_err(err, GNARL_EUNSUPPORTED, "%s: this process has no run storage "
		                 "(run_put works during training only)", h->desc->name);
	if (!key || !*key || key[0] == '/')
		return gnarl_err(err, GNARL_EINVAL, "%s: run_put: bad key '%s' (relative, "
		                 "'/'-separated)", h->desc->name, key ? key : "(null)");
	n = strlen(h->run_prefix) + strlen(key) + 2;
	full = malloc(n);
	if (!full)
		return gnarl_err(err, GNARL_ENOMEM, "%s: run_put: out of memory", h->desc->name);
	/* the trainer's prefix ends in '/' ("<run.name>/"); a bare one may not */
	snprintf(full, n, "%s%s%s", h->run_prefix,
	         *h->run_prefix && h->run_prefix[strlen(h->run_prefix) - 1] != '/' ? "/" : "", key);
	rc = gnarl_storage_put(h->ctx.run_storage, full, data, len, err);
	free(full);
	return rc;
}

/* Defaults of every declared param that params lacks (or has as null). */
static int fill_defaults(struct gnarl_plugin_host *h, char err[GNARL_ERR_SIZE])
{
	struct gnarl_value *root;
	int rc = gnarl_tree_create("defaults", &h->defaults);

	if (rc)
		return gnarl_err(err, rc, "out of memory");
	root = gnarl_tree_root(h->defaults);
	for (const struct gnarl_param *p = h->desc->params; p && p->name; p++) {
		const struct gnarl_value *v = gnarl_value_get(h->params, p->name);
		struct gnarl_tree *t;
		struct gnarl_value *slot;

		if (v && v->type != GNARL_VALUE_NULL)
			continue;
		rc = gnarl_config_param_default(p, &t, err);
		if (rc)
			return rc;
		slot = gnarl_tree_map_put(h->defaults, root, p->name);
		rc = slot ? gnarl_tree_copy(h->defaults, slot, gnarl_tree_root(t)) : GNARL_ENOMEM;
		gnarl_tree_free(t);
		if (rc)
			return gnarl_err(err, rc, "out of memory");
		if (p->flags & GNARL_PARAM_SECRET)
			gnarl_value_flag(slot, GNARL_VALUE_SECRET);
	}
	return 0;
}

int gnarl_plugin_host_create(const struct gnarl_plugin_lib *lib, const struct gnarl_value *params,
                             const struct gnarl_host_context *ctx, uint64_t seed,
                             const char *slot, struct gnarl_plugin_host **out,
                             char err[GNARL_ERR_SIZE])
{
	struct gnarl_plugin_host *h = calloc(1, sizeof(*h));
	int rc;

	*out = NULL;
	if (!h)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	h->desc = gnarl_plugin_desc(lib);
	h->params = params;
	if (ctx)
		h->ctx = *ctx;
	h->slot = strdup(slot ? slot : h->desc->name);
	h->run_prefix = strdup(h->ctx.run_prefix ? h->ctx.run_prefix : "");
	if (!h->slot || !h->run_prefix) {
		rc = gnarl_err(err, GNARL_ENOMEM, "out of memory");
		goto fail;
	}
	if (params && params->type != GNARL_VALUE_MAP && params->type != GNARL_VALUE_NULL) {
		rc = gnarl_err(err, GNARL_EINVAL, "%s: params must be a map", h->slot);
		goto fail;
	}
	rc = fill_defaults(h, err);
	if (rc) {
		gnarl_err_prefix(err, rc, "%s: ", h->slot);
		goto fail;
	}
	h->table.size = sizeof(h->table);
	h->table.abi_version = GNARL_ABI_VERSION;
	h->table.log = host_log;
	h->table.param = host_param;
	h->table.metric = host_metric;
	h->table.run_put = host_run_put;
	h->table.seed = seed;
	h->table.config_dir = h->ctx.config && h->ctx.config->dir ? h->ctx.config->dir : ".";
	h->table.rank = h->ctx.rank;
	h->table.world_size = h->ctx.world_size > 0 ? h->ctx.world_size : 1;
	h->table.host_data = h;
	*out = h;
	return 0;
fail:
	gnarl_plugin_host_free(h);
	return rc;
}

const struct gnarl_host *gnarl_plugin_host_table(const struct gnarl_plugin_host *h)
{
	return &h->table;
}

void gnarl_plugin_host_free(struct gnarl_plugin_host *h)
{
	if (!h)
		return;
	gnarl_tree_free(h->defaults);
	free(h->slot);
	free(h->run_prefix);
	free(h);
}
