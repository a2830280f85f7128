/*
 * storage.c - the core's side of storage.  gnarl_storage_open() picks the
 * storage plugin serving a root URI's scheme (a plain path or "file://" ->
 * "local", "s3://" -> "s3", any other "<scheme>://" -> the plugin named
 * after the scheme), validates its `storage.<plugin>` params, lends it a
 * host table and opens the store.  The other entry points check keys and
 * forward to the plugin's ops; gnarl_storage_get() gathers a whole object.
 *
 * Invariants: after open a struct gnarl_storage is read-only, so its calls
 * may run from several threads at once (plugins are thread-safe by the ABI
 * contract).  Keys are relative, '/'-separated, never empty, never start
 * with '/', and contain no empty, "." or ".." segment.
 */
#include "storage.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "plugin_host.h"
#include "value.h"

struct gnarl_storage {
	char *root;                      /* owned copy of the root URI */
	char *plugin;                    /* owned: the plugin's name */
	struct gnarl_plugin_lib *lib;
	struct gnarl_plugin_host *host;
	const struct gnarl_storage_ops *ops; /* borrowed from lib */
	void *store;                     /* the plugin's instance */
};

/* Length of the URI scheme before "://", or 0 when uri is a plain path.
 * A scheme is a letter followed by letters, digits, '+', '-' or '.'. */
static size_t scheme_len(const char *uri)
{
	size_t n = 0;

	if (!isalpha((unsigned char)uri[0]))
		return 0;
	while (isalnum((unsigned char)uri[n]) || uri[n] == '+' || uri[n] == '-' ||
	       uri[n] == '.')
		n++;
	return strncmp(uri + n, "://", 3) == 0 ? n : 0;
}

int gnarl_storage_plugin_for(const char *uri, char *name, size_t size,
                             char err[GNARL_ERR_SIZE])
{
	size_t n = scheme_len(uri);
	size_t i;

	if (n == 0 || (n == 4 && strncmp(uri, "file", 4) == 0)) {
		snprintf(name, size, "local");
		return 0;
	}
	if (n >= size)
		return gnarl_err(err, GNARL_EINVAL, "storage URI '%s': scheme too long", uri);
	for (i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)uri[i]);
	name[n] = '\0';
	return 0;
}

/* Does the space-separated list `schemes` contain `scheme`? */
static bool has_scheme(const char *schemes, const char *scheme)
{
	size_t n = strlen(scheme);
	const char *p = schemes;

	while (p && *p) {
		while (*p == ' ')
			p++;
		if (strncmp(p, scheme, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p = strchr(p, ' ');
	}
	return false;
}

/* The validated `storage.<plugin>` node of cfg, or NULL (all defaults:
 * the host table falls back to the declared ones).  The API takes the
 * config as const, but validation fills defaults in place exactly as for
 * every other plugin slot, and repeating it on a validated node changes
 * nothing; storage is opened from one thread at setup. */
static int storage_params(const struct gnarl_storage *st, const struct gnarl_config *cfg,
                          const struct gnarl_param *table, struct gnarl_value **out,
                          char err[GNARL_ERR_SIZE])
{
	struct gnarl_value *node = NULL;
	char where[96];

	snprintf(where, sizeof(where), "storage.%s", st->plugin);
	if (cfg && cfg->root)
		node = (struct gnarl_value *)gnarl_value_at(cfg->root, where);
	*out = node;
	if (!node)
		return 0;
	return gnarl_config_check_params((struct gnarl_config *)cfg, node, table, where, err);
}

int gnarl_storage_open(const struct gnarl_config *cfg, const char *root_uri,
                       struct gnarl_storage **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_storage *st;
	struct gnarl_host_context ctx = {0};
	const struct gnarl_plugin *desc;
	struct gnarl_value *params = NULL;
	char name[64], scheme[64], slot[80];
	size_t n;
	int rc;

	*out = NULL;
	if (!root_uri || !*root_uri)
		return gnarl_err(err, GNARL_EINVAL,
		                 "storage: empty root URI (give a path, file://PATH or s3://BUCKET/PREFIX)");
	rc = gnarl_storage_plugin_for(root_uri, name, sizeof(name), err);
	if (rc < 0)
		return rc;
	n = scheme_len(root_uri);
	snprintf(scheme, sizeof(scheme), "%.*s", n ? (int)n : 4, n ? root_uri : "file");

	st = calloc(1, sizeof(*st));
	if (!st)
		return gnarl_err(err, GNARL_ENOMEM, "storage %s: out of memory", root_uri);
	st->root = strdup(root_uri);
	st->plugin = strdup(name);
	if (!st->root || !st->plugin) {
		rc = gnarl_err(err, GNARL_ENOMEM, "storage %s: out of memory", root_uri);
		goto fail;
	}
	rc = gnarl_plugin_open(name, GNARL_KIND_STORAGE, cfg ? cfg->dir : NULL, &st->lib, err);
	if (rc < 0) {
		gnarl_err_prefix(err, rc, "storage %s: no plugin for scheme '%s': ", root_uri, scheme);
		goto fail;
	}
	desc = gnarl_plugin_desc(st->lib);
	st->ops = desc->ops.storage;
	if (!has_scheme(st->ops->schemes, scheme)) {
		rc = gnarl_err(err, GNARL_EKIND,
		               "storage %s: plugin '%s' (%s) serves schemes '%s', not '%s'", root_uri,
		               name, gnarl_plugin_file(st->lib), st->ops->schemes ? st->ops->schemes : "",
		               scheme);
		goto fail;
	}
	rc = storage_params(st, cfg, desc->params, &params, err);
	if (rc < 0)
		goto fail;
	ctx.config = cfg;
	ctx.world_size = 1;
	snprintf(slot, sizeof(slot), "storage.%s", name);
	rc = gnarl_plugin_host_create(st->lib, params, &ctx, 0, slot, &st->host, err);
	if (rc < 0)
		goto fail;
	err[0] = '\0';
	st->store = st->ops->create(gnarl_plugin_host_table(st->host), root_uri, err);
	if (!st->store) {
		rc = gnarl_err_prefix(err, GNARL_ECONFIG, "%s: plugin '%s' (%s) could not open %s: ",
		                      slot, name, gnarl_plugin_file(st->lib), root_uri);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	gnarl_storage_close(st);
	return rc;
}

void gnarl_storage_close(struct gnarl_storage *st)
{
	if (!st)
		return;
	if (st->store)
		st->ops->destroy(st->store);
	gnarl_plugin_host_free(st->host);
	gnarl_plugin_close(st->lib);
	free(st->plugin);
	free(st->root);
	free(st);
}

const char *gnarl_storage_root(const struct gnarl_storage *st)
{
	return st->root;
}

const char *gnarl_storage_plugin_name(const struct gnarl_storage *st)
{
	return st->plugin;
}

/* Keys: relative, '/'-separated, no empty, "." or ".." segment.  A prefix
 * (for list) may be empty and may end with '/'. */
static int check_key(const struct gnarl_storage *st, const char *key, bool is_prefix,
                     char err[GNARL_ERR_SIZE])
{
	const char *seg = key, *end;
	size_t n;

	if (!key)
		return gnarl_err(err, GNARL_EINVAL, "storage %s: NULL key", st->root);
	if (!*key && is_prefix)
		return 0;
	if (!*key || key[0] == '/')
		return gnarl_err(err, GNARL_EINVAL,
		                 "storage %s: key '%s' must be relative and non-empty", st->root, key);
	for (;;) {
		end = strchr(seg, '/');
		n = end ? (size_t)(end - seg) : strlen(seg);
		if (!end && n == 0 && is_prefix)
			return 0;
		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return gnarl_err(err, GNARL_EINVAL,
			                 "storage %s: key '%s' has an empty, '.' or '..' segment", st->root,
			                 key);
		if (!end)
			return 0;
		seg = end + 1;
	}
}

/* A plugin that failed without a message still gets one. */
static int plugin_failed(const struct gnarl_storage *st, int rc, const char *what, const char *key,
                         char err[GNARL_ERR_SIZE])
{
	if (rc < 0 && err && !err[0])
		gnarl_err(err, rc, "storage %s: %s '%s': %s", st->root, what, key, gnarl_strerror(rc));
	return rc;
}

int gnarl_storage_put(struct gnarl_storage *st, const char *key, const void *data, size_t len,
                      char err[GNARL_ERR_SIZE])
{
	int rc = check_key(st, key, false, err);

	if (rc < 0)
		return rc;
	err[0] = '\0';
	rc = st->ops->put(st->store, key, data, len, err);
	return plugin_failed(st, rc, "put", key, err);
}

int gnarl_storage_run_put(void *run_dir, const char *key, const void *data, size_t len,
                          char err[GNARL_ERR_SIZE])
{
	const struct gnarl_run_dir *run = run_dir;
	size_t n = strlen(run->prefix);
	const char *sep = n && run->prefix[n - 1] != '/' ? "/" : "";
	size_t size = n + strlen(key) + 2;
	char *full = malloc(size);
	int rc;

	if (!full)
		return gnarl_err(err, GNARL_ENOMEM, "run_put %s: out of memory", key);
	snprintf(full, size, "%s%s%s", run->prefix, sep, key);
	rc = gnarl_storage_put(run->st, full, data, len, err);
	free(full);
	return rc;
}

struct gather {
	char *data;
	size_t len, cap;
};

static int gather_sink(void *ctx, const void *data, size_t len)
{
	struct gather *g = ctx;
	size_t cap;
	char *p;

	if (len >= (size_t)-1 / 2 - g->len)
		return -1;
	if (g->len + len + 1 > g->cap) {
		cap = g->cap ? g->cap : 4096;
		while (cap < g->len + len + 1)
			cap *= 2;
		p = realloc(g->data, cap);
		if (!p)
			return -1;
		g->data = p;
		g->cap = cap;
	}
	memcpy(g->data + g->len, data, len);
	g->len += len;
	return 0;
}

int gnarl_storage_get(struct gnarl_storage *st, const char *key, void **data, size_t *len,
                      char err[GNARL_ERR_SIZE])
{
	struct gather g = {0};
	int rc = check_key(st, key, false, err);

	*data = NULL;
	*len = 0;
	if (rc < 0)
		return rc;
	err[0] = '\0';
	rc = st->ops->get(st->store, key, gather_sink, &g, err);
	if (rc == GNARL_EINTERRUPTED) /* only our sink aborts: it ran out of memory */
		rc = gnarl_err(err, GNARL_ENOMEM, "storage %s: get '%s': out of memory after %zu bytes",
		               st->root, key, g.len);
	if (rc < 0) {
		free(g.data);
		return plugin_failed(st, rc, "get", key, err);
	}
	if (!g.data && gather_sink(&g, "", 0) < 0)
		return gnarl_err(err, GNARL_ENOMEM, "storage %s: get '%s': out of memory", st->root,
		                 key);
	g.data[g.len] = '\0';
	*data = g.data;
	*len = g.len;
	return 0;
}

int gnarl_storage_list(struct gnarl_storage *st, const char *prefix, gnarl_list_fn each, void *ctx,
                       char err[GNARL_ERR_SIZE])
{
	int rc = check_key(st, prefix ? prefix : "", true, err);

	if (rc < 0)
		return rc;
	err[0] = '\0';
	rc = st->ops->list(st->store, prefix ? prefix : "", each, ctx, err);
	return plugin_failed(st, rc, "list", prefix ? prefix : "", err);
}

int gnarl_storage_remove(struct gnarl_storage *st, const char *key, char err[GNARL_ERR_SIZE])
{
	int rc = check_key(st, key, false, err);

	if (rc < 0)
		return rc;
	err[0] = '\0';
	rc = st->ops->remove(st->store, key, err);
	return plugin_failed(st, rc, "remove", key, err);
}

int gnarl_storage_exists(struct gnarl_storage *st, const char *key, char err[GNARL_ERR_SIZE])
{
	int rc = check_key(st, key, false, err);

	if (rc < 0)
		return rc;
	err[0] = '\0';
	rc = st->ops->exists(st->store, key, err);
	return plugin_failed(st, rc, "exists", key, err);
}

/*
 * Split a URI naming one object (or checkpoint directory) into the root
 * the plugin opens (everything up to the last '/') and the key (the last
 * segment): "s3://b/runs/x/checkpoints/checkpoint_000150" ->
 * "s3://b/runs/x/checkpoints" + "checkpoint_000150"; "ckpt" -> "." +
 * "ckpt"; "/ckpt" -> "/" + "ckpt".  Trailing slashes are ignored.  An
 * object URI needs a key: "s3://b" alone is an error.
 */
int gnarl_storage_split_uri(const char *uri, char **root, char **key, char err[GNARL_ERR_SIZE])
{
	size_t n, len, body;
	const char *slash;
	char *r = NULL, *k = NULL;

	*root = NULL;
	*key = NULL;
	if (!uri || !*uri)
		return gnarl_err(err, GNARL_EINVAL, "storage: empty URI");
	n = scheme_len(uri);
	body = n ? n + 3 : 0;
	len = strlen(uri);
	while (len > body + 1 && uri[len - 1] == '/')
		len--;
	slash = NULL;
	for (size_t i = len; i > body; i--) {
		if (uri[i - 1] == '/') {
			slash = uri + i - 1;
			break;
		}
	}
	/* "s3://bucket" has no key; "file:///x" splits at the path's '/'. */
	if (n && !(n == 4 && strncmp(uri, "file", 4) == 0) && (!slash || slash == uri + body))
		return gnarl_err(err, GNARL_EINVAL,
		                 "storage URI '%s' names no object below its bucket (expected %.*s://BUCKET/KEY)",
		                 uri, (int)n, uri);
	if (!slash) {
		r = strdup(n ? "file://." : ".");
		k = strndup(uri + body, len - body);
	} else if (slash == uri + body) {
		r = strndup(uri, body + 1);
		k = strndup(slash + 1, len - (size_t)(slash + 1 - uri));
	} else {
		r = strndup(uri, (size_t)(slash - uri));
		k = strndup(slash + 1, len - (size_t)(slash + 1 - uri));
	}
	if (!r || !k) {
		free(r);
		free(k);
		return gnarl_err(err, GNARL_ENOMEM, "storage: out of memory");
	}
	if (!*k || strcmp(k, ".") == 0 || strcmp(k, "..") == 0) {
		free(r);
		free(k);
		return gnarl_err(err, GNARL_EINVAL, "storage URI '%s' names no object", uri);
	}
	*root = r;
	*key = k;
	return 0;
}
