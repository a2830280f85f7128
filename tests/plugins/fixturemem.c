/*
 * fixturemem.c - a good storage plugin for the registry's tests: an
 * in-memory store of at most 64 objects serving the "fixturemem" scheme.
 * With `gate` naming a named pipe that exists, a put first reads the pipe
 * to its end (so a test holds a put in flight for as long as it keeps
 * the pipe open for writing) and fails when it read "fail".
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnarl/plugin.h>

static const struct gnarl_param params[] = {
	{"capacity", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN, "64", 1, 64, "objects kept", NULL},
	{"secret_key", GNARL_PARAM_STRING, 0, GNARL_PARAM_SECRET, "null", 0, 0, "a secret",
	 NULL},
	{"gate", GNARL_PARAM_STRING, 0, 0, "null", 0, 0, "a named pipe each put reads first",
	 NULL},
	GNARL_PARAMS_END,
};

struct object {
	char *key;
	void *data;
	size_t len;
};

struct store {
	pthread_mutex_t lock; /* storage ops come from several threads */
	char *gate;
	size_t n, cap;
	struct object o[64];
};

static void *create(const struct gnarl_host *host, const char *root_uri,
                    char err[GNARL_ERR_SIZE])
{
	struct store *s = calloc(1, sizeof(*s));

	(void)root_uri;
	(void)err;
	if (s) {
		const char *gate = gnarl_param_string(host, "gate", NULL);
		pthread_mutex_init(&s->lock, NULL);
		s->cap = (size_t)gnarl_param_int(host, "capacity", 64);
		s->gate = gate ? strdup(gate) : NULL;
	}
	return s;
}

static void destroy(void *store)
{
	struct store *s = store;

	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->o[i].key);
		free(s->o[i].data);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->gate);
	free(s);
}

static struct object *find(struct store *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->o[i].key, key))
			return &s->o[i];
	return NULL;
}

/* The gate (see the top): 0 to go on, GNARL_EIO when it said "fail". */
static int pass_gate(const struct store *s)
{
	char buf[16] = "";
	ssize_t n, got = 0;
	int fd = s->gate ? open(s->gate, O_RDONLY) : -1;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	return strncmp(buf, "fail", 4) == 0 ? GNARL_EIO : 0;
}

static int put_locked(struct store *s, const char *key, const void *data, size_t len)
{
	struct object *o = find(s, key);
	void *copy = malloc(len ? len : 1);

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

static int put(void *store, const char *key, const void *data, size_t len,
               char err[GNARL_ERR_SIZE])
{
	struct store *s = store;
	int rc = pass_gate(s);

	if (rc) {
		strcpy(err, "fixturemem: the gate said fail");
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	rc = put_locked(s, key, data, len);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int get(void *store, const char *key, gnarl_sink_fn sink, void *ctx,
               char err[GNARL_ERR_SIZE])
{
	struct store *s = store;
	struct object *o;
	int rc;

	(void)err;
	pthread_mutex_lock(&s->lock);
	o = find(s, key);
	rc = !o ? GNARL_ENOENT : sink(ctx, o->data, o->len) ? GNARL_EINTERRUPTED : 0;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int list(void *store, const char *prefix, gnarl_list_fn each, void *ctx,
                char err[GNARL_ERR_SIZE])
{
	struct store *s = store;

	(void)err;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++)
		if (!strncmp(s->o[i].key, prefix, strlen(prefix)))
			each(ctx, s->o[i].key, s->o[i].len);
	pthread_mutex_unlock(&s->lock);
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
	struct store *s = store;
	int rc;

	(void)err;
	pthread_mutex_lock(&s->lock);
	rc = find(s, key) != NULL;
	pthread_mutex_unlock(&s->lock);
	return rc;
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
