/*
 * fixturemem.c - a good storage plugin for the registry's tests: an
 * in-memory store of at most 64 objects serving the "fixturemem" scheme.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

static const struct gnarl_param params[] = {
	{"capacity", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN, "64", 1, 64, "objects kept", NULL},
	{"secret_key", GNARL_PARAM_STRING, 0, GNARL_PARAM_SECRET, "null", 0, 0, "a secret",
	 NULL},
	GNARL_PARAMS_END,
};

struct object {
	char *key;
	void *data;
	size_t len;
};

struct store {
	size_t n, cap;
	struct object o[64];
};

static void *create(const struct gnarl_host *host, const char *root_uri,
                    char err[GNARL_ERR_SIZE])
{
	struct store *s = calloc(1, sizeof(*s));

	(void)root_uri;
	(void)err;
	if (s)
		s->cap = (size_t)gnarl_param_int(host, "capacity", 64);
	return s;
}

static void destroy(void *store)
{
	struct store *s = store;

	for (size_t i = 0; s && i < s->n; i++) {
		free(s->o[i].key);
		free(s->o[i].data);
	}
	free(s);
}

static struct object *find(struct store *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->o[i].key, key))
			return &s->o[i];
	return NULL;
}

static int put(void *store, const char *key, const void *data, size_t len,
               char err[GNARL_ERR_SIZE])
{
	struct store *s = store;
	struct object *o = find(s, key);
	void *copy = malloc(len ? len : 1);

	(void)err;
	if (!copy)
		return GNARL_ENOMEM;
	memcpy(copy, data, len);
	if (!o) {
		if (s->n == s->cap) {
			free(copy);
			return GNARL_ENOMEM;
		}
		o = &s->o[s->n++];
		o->key = strdup(key);
	}
	free(o->data);
	o->data = copy;
	o->len = len;
	return 0;
}

static int get(void *store, const char *key, gnarl_sink_fn sink, void *ctx,
               char err[GNARL_ERR_SIZE])
{
	struct object *o = find(store, key);

	(void)err;
	if (!o)
		return GNARL_ENOENT;
	return sink(ctx, o->data, o->len) ? GNARL_EINTERRUPTED : 0;
}

static int list(void *store, const char *prefix, gnarl_list_fn each, void *ctx,
                char err[GNARL_ERR_SIZE])
{
	struct store *s = store;

	(void)err;
	for (size_t i = 0; i < s->n; i++)
		if (!strncmp(s->o[i].key, prefix, strlen(prefix)))
			each(ctx, s->o[i].key, s->o[i].len);
	return 0;
}

static int remove_(void *store, const char *key, char err[GNARL_ERR_SIZE])
{
	(void)store;
	(void)key;
	(void)err;
	return GNARL_EUNSUPPORTED;
}

static int exists(void *store, const char *key, char err[GNARL_ERR_SIZE])
{
	(void)err;
	return find(store, key) != NULL;
}

static const struct gnarl_storage_ops ops = {
	.size = sizeof(struct gnarl_storage_ops),
	.schemes = "fixturemem",
	.create = create,
	.destroy = destroy,
	.put = put,
	.get = get,
	.list = list,
	.remove = remove_,
	.exists = exists,
};

static const struct gnarl_plugin plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_STORAGE,
	.name = "fixturemem",
	.version = "0.0.1",
	.summary = "test fixture: objects in memory",
	.params = params,
	.ops.storage = &ops,
};

GNARL_PLUGIN_ENTRY(&plugin)
