/*
 * local.c - the `local` storage plugin: objects are files under a root
 * directory given as a plain path or a file:// URI ("runs",
 * "/data/runs", "file:///data/runs").
 *
 * Entry: gnarl_plugin_entry() -> storage ops put/get/list/remove/exists.
 * Invariants:
 *  - put is atomic: the bytes go to a temporary file in the target's own
 *    directory (".gnarl-tmp.*", never listed), which is fsync'ed, renamed
 *    over the target, and the directory is fsync'ed.  A reader sees the
 *    old file or the new one.  Missing parent directories are created.
 *  - Keys never leave the root: absolute keys and "." / ".." segments are
 *    refused.
 *  - The store is immutable after create except for an atomic counter, so
 *    every op may run from several threads at once.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnarl/plugin.h>

#define TMP_PREFIX ".gnarl-tmp."
#define IO_CHUNK (256 * 1024)

struct local_store {
	const struct gnarl_host *host;
	char *root;                 /* directory, no trailing '/' (except "/") */
	bool fsync;                 /* param: fsync files and directories */
	atomic_ulong tmp_counter;   /* makes temporary names unique */
};

static int fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, GNARL_ERR_SIZE, fmt, ap);
	va_end(ap);
	return code;
}

static int errno_code(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return GNARL_ENOENT;
	case EACCES:
	case EPERM:
	case EROFS:
		return GNARL_EACCES;
	case ENOMEM:
		return GNARL_ENOMEM;
	default:
		return GNARL_EIO;
	}
}

static bool key_ok(const char *key, bool is_prefix)
{
	const char *seg = key;
	size_t n;

	if (key[0] == '/')
		return false;
	if (!*key)
		return is_prefix;
	for (;;) {
		const char *end = strchr(seg, '/');

		n = end ? (size_t)(end - seg) : strlen(seg);
		if (!end && n == 0 && is_prefix)
			return true;
		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		if (!end)
			return true;
		seg = end + 1;
	}
}

/* root + "/" + key, malloc'ed; NULL when out of memory. */
static char *join(const char *root, const char *key)
{
	size_t a = strlen(root), b = strlen(key);
	bool slash = a > 0 && root[a - 1] != '/';
	char *p = malloc(a + slash + b + 1);

	if (!p)
		return NULL;
	memcpy(p, root, a);
	if (slash)
		p[a] = '/';
	memcpy(p + a + slash, key, b + 1);
	return p;
}

/* mkdir -p of every directory above `path`'s last component. */
static int make_parents(char *path)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST) {
			int e = errno;
			*p = '/';
			errno = e;
			return -1;
		}
		*p = '/';
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd, rc = 0;

	if (!dir)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || fsync(fd) < 0)
		rc = -1;
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

static void *local_create(const struct gnarl_host *host, const char *root_uri,
                          char err[GNARL_ERR_SIZE])
{
	struct local_store *s;
	const char *path = root_uri;
	size_t n;

	if (strncmp(path, "file://", 7) == 0)
		path += 7;
	if (!*path) {
		fail(err, GNARL_EINVAL, "local storage '%s': empty path", root_uri);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->root = strdup(path))) {
		free(s);
		fail(err, GNARL_ENOMEM, "local storage '%s': out of memory", root_uri);
		return NULL;
	}
	n = strlen(s->root);
	while (n > 1 && s->root[n - 1] == '/')
		s->root[--n] = '\0';
	s->host = host;
	s->fsync = gnarl_param_bool(host, "fsync", true);
	atomic_init(&s->tmp_counter, 0);
	return s;
}

static void local_destroy(void *store)
{
	struct local_store *s = store;

	if (!s)
		return;
	free(s->root);
	free(s);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len > IO_CHUNK ? IO_CHUNK : len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Open a new temporary file next to `path` (creating parents: a racing
 * remove may delete an emptied parent between mkdir and open, so retry). */
static int open_tmp(struct local_store *s, char *path, char *tmp, size_t size)
{
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	int attempt, fd = -1;

	for (attempt = 0; attempt < 5 && fd < 0; attempt++) {
		snprintf(tmp, size, "%.*s" TMP_PREFIX "%s.%ld.%lu", dir_len, path,
		         slash ? slash + 1 : path, (long)getpid(),
		         (unsigned long)atomic_fetch_add(&s->tmp_counter, 1));
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && errno == ENOENT && make_parents(path) < 0)
			return -1;
		if (fd < 0 && errno != ENOENT && errno != EEXIST)
			return -1;
	}
	return fd;
}

static int local_put(void *store, const char *key, const void *data, size_t len,
                     char err[GNARL_ERR_SIZE])
{
	struct local_store *s = store;
	char *path, *tmp = NULL;
	size_t tmp_size;
	int fd = -1, rc = 0, e;
	const char *what;

	if (!key_ok(key, false))
		return fail(err, GNARL_EINVAL, "local storage %s: invalid key '%s'", s->root, key);
	path = join(s->root, key);
	tmp_size = path ? strlen(path) + sizeof(TMP_PREFIX) + 48 : 0;
	if (!path || !(tmp = malloc(tmp_size))) {
		rc = fail(err, GNARL_ENOMEM, "local storage %s: out of memory", s->root);
		goto out;
	}
	what = "creating a temporary file for";
	fd = open_tmp(s, path, tmp, tmp_size);
	if (fd < 0)
		goto sys_fail;
	what = "writing";
	if (write_all(fd, data, len) < 0)
		goto sys_fail;
	what = "syncing";
	if (s->fsync && fsync(fd) < 0)
		goto sys_fail;
	what = "closing";
	e = close(fd);
	fd = -1;
	if (e < 0)
		goto sys_fail;
	what = "renaming the temporary file onto";
	if (rename(tmp, path) < 0)
		goto sys_fail;
	what = "syncing the directory of";
	if (s->fsync && fsync_dir_of(path) < 0)
		goto sys_fail;
	goto out;
sys_fail:
	e = errno;
	rc = fail(err, errno_code(e), "local storage: %s %s: %s", what, path, strerror(e));
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
out:
	free(tmp);
	free(path);
	return rc;
}

static int local_get(void *store, const char *key, gnarl_sink_fn sink, void *ctx,
                     char err[GNARL_ERR_SIZE])
{
	struct local_store *s = store;
	char *path, *buf = NULL;
	struct stat st;
	int fd = -1, rc = 0;
	ssize_t n;

	if (!key_ok(key, false))
		return fail(err, GNARL_EINVAL, "local storage %s: invalid key '%s'", s->root, key);
	path = join(s->root, key);
	if (!path || !(buf = malloc(IO_CHUNK))) {
		rc = fail(err, GNARL_ENOMEM, "local storage %s: out of memory", s->root);
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		rc = fail(err, GNARL_ENOENT, "local storage: %s is not a file (key '%s')", path, key);
		goto out;
	}
	if (fd < 0) {
		rc = fail(err, errno_code(errno), "local storage: reading %s (key '%s'): %s", path,
		          key, strerror(errno));
		goto out;
	}
	for (;;) {
		n = read(fd, buf, IO_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(err, GNARL_EIO, "local storage: reading %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (sink(ctx, buf, (size_t)n) != 0) {
			rc = fail(err, GNARL_EINTERRUPTED, "local storage: reading %s: stopped by the caller",
			          path);
			goto out;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return rc;
}

/* Keys gathered by a list, sorted before any is reported. */
struct entry {
	char *key;
	uint64_t size;
};

struct entries {
	struct entry *item;
	size_t count, cap;
};

static int entries_add(struct entries *e, const char *key, size_t key_len, uint64_t size)
{
	if (e->count == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 64;
		struct entry *n = realloc(e->item, cap * sizeof(*n));

		if (!n)
			return -1;
		e->item = n;
		e->cap = cap;
	}
	if (!(e->item[e->count].key = strndup(key, key_len)))
		return -1;
	e->item[e->count++].size = size;
	return 0;
}

static void entries_free(struct entries *e)
{
	for (size_t i = 0; i < e->count; i++)
		free(e->item[i].key);
	free(e->item);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

/* Could keys below directory key `dir` ("a/b/") start with `prefix`? */
static bool may_match(const char *dir, size_t dir_len, const char *prefix)
{
	size_t p = strlen(prefix);

	return strncmp(dir, prefix, dir_len < p ? dir_len : p) == 0;
}

/* Gather the files below path (whose key is key[0..key_len), "" or ending
 * in '/') that start with prefix.  key has room for PATH_MAX bytes. */
static int walk(const char *path, char *key, size_t key_len, const char *prefix,
                struct entries *out)
{
	DIR *d = opendir(path);
	struct dirent *de;
	struct stat st;
	int rc = 0;

	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	while (rc == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *child;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strncmp(de->d_name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0)
			continue;
		if (key_len + n + 2 > PATH_MAX) {
			errno = ENAMETOOLONG;
			rc = -1;
			break;
		}
		memcpy(key + key_len, de->d_name, n + 1);
		if (!(child = join(path, de->d_name))) {
			rc = -1;
			break;
		}
		if (lstat(child, &st) < 0) { /* removed while we walk */
			free(child);
			continue;
		}
		/* Follow symlinks to files, never into directories (no loops). */
		if (S_ISLNK(st.st_mode) && (stat(child, &st) < 0 || S_ISDIR(st.st_mode)))
			st.st_mode = 0;
		if (S_ISREG(st.st_mode) && strncmp(key, prefix, strlen(prefix)) == 0) {
			rc = entries_add(out, key, key_len + n, (uint64_t)st.st_size);
		} else if (S_ISDIR(st.st_mode)) {
			key[key_len + n] = '/';
			key[key_len + n + 1] = '\0';
			if (may_match(key, key_len + n + 1, prefix))
				rc = walk(child, key, key_len + n + 1, prefix, out);
		}
		free(child);
	}
	closedir(d);
	key[key_len] = '\0';
	return rc;
}

static int local_list(void *store, const char *prefix, gnarl_list_fn each, void *ctx,
                      char err[GNARL_ERR_SIZE])
{
	struct local_store *s = store;
	struct entries found = {0};
	const char *slash = strrchr(prefix, '/');
	size_t start_len = slash ? (size_t)(slash - prefix + 1) : 0;
	char *key = NULL, *start = NULL;
	int rc = 0;

	if (!key_ok(prefix, true))
		return fail(err, GNARL_EINVAL, "local storage %s: invalid prefix '%s'", s->root, prefix);
	/* Walk only below the deepest directory the prefix names. */
	key = malloc(PATH_MAX);
	if (!key || start_len >= PATH_MAX) {
		rc = fail(err, GNARL_ENOMEM, "local storage %s: out of memory", s->root);
		goto out;
	}
	memcpy(key, prefix, start_len);
	key[start_len] = '\0';
	start = start_len ? join(s->root, key) : strdup(s->root);
	if (!start) {
		rc = fail(err, GNARL_ENOMEM, "local storage %s: out of memory", s->root);
		goto out;
	}
	if (walk(start, key, start_len, prefix, &found) < 0) {
		rc = fail(err, errno_code(errno), "local storage: listing %s (prefix '%s'): %s",
		          s->root, prefix, strerror(errno));
		goto out;
	}
	if (found.count > 1)
		qsort(found.item, found.count, sizeof(*found.item), entry_cmp);
	for (size_t i = 0; i < found.count; i++) {
		if (each(ctx, found.item[i].key, found.item[i].size) != 0) {
			rc = fail(err, GNARL_EINTERRUPTED, "local storage %s: listing stopped by the caller",
			          s->root);
			break;
		}
	}
out:
	entries_free(&found);
	free(start);
	free(key);
	return rc;
}

static int local_remove(void *store, const char *key, char err[GNARL_ERR_SIZE])
{
	struct local_store *s = store;
	char *path, *slash;
	int rc = 0;

	if (!key_ok(key, false))
		return fail(err, GNARL_EINVAL, "local storage %s: invalid key '%s'", s->root, key);
	path = join(s->root, key);
	if (!path)
		return fail(err, GNARL_ENOMEM, "local storage %s: out of memory", s->root);
	if (unlink(path) < 0 && errno != ENOENT && errno != ENOTDIR) {
		rc = fail(err, errno_code(errno), "local storage: removing %s: %s", path,
		          strerror(errno));
		goto out;
	}
	/* Directories exist only to hold objects: drop the ones this emptied,
	 * up to the root (rmdir fails harmlessly on a non-empty one). */
	while ((slash = strrchr(path, '/')) && (size_t)(slash - path) > strlen(s->root)) {
		*slash = '\0';
		if (rmdir(path) < 0)
			break;
	}
out:
	free(path);
	return rc;
}

static int local_exists(void *store, const char *key, char err[GNARL_ERR_SIZE])
{
	struct local_store *s = store;
	struct stat st;
	char *path;
	int rc;

	if (!key_ok(key, false))
		return fail(err, GNARL_EINVAL, "local storage %s: invalid key '%s'", s->root, key);
	path = join(s->root, key);
	if (!path)
		return fail(err, GNARL_ENOMEM, "local storage %s: out of memory", s->root);
	if (stat(path, &st) == 0)
		rc = S_ISREG(st.st_mode) ? 1 : 0;
	else if (errno == ENOENT || errno == ENOTDIR)
		rc = 0;
	else
		rc = fail(err, errno_code(errno), "local storage: checking %s: %s", path,
		          strerror(errno));
	free(path);
	return rc;
}

static const struct gnarl_param local_params[] = {
	{.name = "fsync", .type = GNARL_PARAM_BOOL, .default_yaml = "true",
	 .help = "fsync each written file and its directory (turn off only for scratch runs)"},
	GNARL_PARAMS_END,
};

static const struct gnarl_storage_ops local_ops = {
	.size = sizeof(struct gnarl_storage_ops),
	.schemes = "file",
	.create = local_create,
	.destroy = local_destroy,
	.put = local_put,
	.get = local_get,
	.list = local_list,
	.remove = local_remove,
	.exists = local_exists,
};

static const struct gnarl_plugin local_plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_STORAGE,
	.name = "local",
	.version = "1.0.0",
	.summary = "objects as files under a directory (atomic put: temp file, fsync, rename)",
	.params = local_params,
	.ops.storage = &local_ops,
};

GNARL_PLUGIN_ENTRY(&local_plugin)
