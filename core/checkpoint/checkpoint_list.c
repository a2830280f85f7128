/*
 * checkpoint_list.c - where checkpoints are: keys and URIs, resolving
 * "latest", "tag:NAME" and paths, retention, listing and tagging.
 *
 * Entry points: gnarl_checkpoint_list/_list_free, and for checkpoint.c
 * the helpers of checkpoint_internal.h.  It opens no checkpoint: a tag,
 * which must open the checkpoint it names, is made in checkpoint.c.
 * Invariants: pointer objects (`latest`, `tags/<name>`) hold a key relative
 * to the directory that holds them, and are checked to be a plain relative
 * key before use; retention removes a manifest before the rest of its
 * checkpoint and never removes the checkpoint just saved, the last
 * keep_last, the best or a tagged one.
 */
#include "checkpoint_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "log.h"
#include "storage.h"

/* ---- keys ----------------------------------------------------------- */

char *gnarl_checkpoint_join(const char *a, const char *b)
{
	size_t na = a ? strlen(a) : 0, nb = b ? strlen(b) : 0;
	char *k = malloc(na + nb + 2);

	if (!k)
		return NULL;
	while (na && a[na - 1] == '/')
		na--;
	memcpy(k, a ? a : "", na);
	if (na && nb)
		k[na++] = '/';
	memcpy(k + na, b ? b : "", nb);
	k[na + nb] = '\0';
	return k;
}

char *gnarl_checkpoint_join3(const char *a, const char *b, const char *c)
{
	char *ab = gnarl_checkpoint_join(a, b);
	char *abc = ab ? gnarl_checkpoint_join(ab, c) : NULL;

	free(ab);
	return abc;
}

char *gnarl_checkpoint_dirname(const char *key)
{
	const char *slash = strrchr(key, '/');

	return slash ? strndup(key, (size_t)(slash - key)) : strdup("");
}

char *gnarl_checkpoint_uri_of(const struct gnarl_storage *st, const char *key)
{
	const char *root = gnarl_storage_root(st);

	if (strcmp(root, ".") == 0 && *key)
		return strdup(key);
	return gnarl_checkpoint_join(root, key);
}

/* "checkpoint_<digits>"? */
static bool is_ckpt_name(const char *s, size_t n)
{
	size_t p = sizeof(CKPT_PREFIX) - 1;

	if (n <= p || strncmp(s, CKPT_PREFIX, p) != 0)
		return false;
	for (size_t i = p; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* ---- key lists -------------------------------------------------------- */

struct keys {
	char **k;
	size_t n, cap;
};

static int keys_add(void *ctx, const char *key, uint64_t size)
{
	struct keys *ks = ctx;

	(void)size;
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? 2 * ks->cap : 64;
		char **k = realloc(ks->k, cap * sizeof(*k));

		if (!k)
			return GNARL_ENOMEM;
		ks->k = k;
		ks->cap = cap;
	}
	ks->k[ks->n] = strdup(key);
	return ks->k[ks->n++] ? 0 : GNARL_ENOMEM;
}

static void keys_free(struct keys *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		free(ks->k[i]);
	free(ks->k);
}

/* Every key under dir ("" = all). */
static int list_under(struct gnarl_storage *st, const char *dir, struct keys *ks,
                      char err[GNARL_ERR_SIZE])
{
	char *prefix = malloc(strlen(dir) + 2);
	int rc;

	if (!prefix)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	strcpy(prefix, dir);
	if (*dir && dir[strlen(dir) - 1] != '/')
		strcat(prefix, "/");
	rc = gnarl_storage_list(st, prefix, keys_add, ks, err);
	free(prefix);
	return rc;
}

/* ---- pointers --------------------------------------------------------- */

static bool plain_key(const char *s)
{
	const char *seg = s;

	if (!*s || *s == '/' || strstr(s, "://"))
		return false;
	for (;;) {
		size_t n = strcspn(seg, "/");
		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && strncmp(seg, "..", 2) == 0))
			return false;
		if (!seg[n])
			return true;
		seg += n + 1;
	}
}

/* Is key "<...>/tags/<name>" or "tags/<name>"? */
static bool is_tag_key(const char *key)
{
	const char *slash = strrchr(key, '/');

	return slash && slash - key >= 4 && strncmp(slash - 4, "tags", 4) == 0 &&
	       (slash - 4 == key || slash[-5] == '/');
}

/* The key a pointer object at `key` names: relative to its directory
 * (`latest`) or to its directory's parent (tags/<name>). */
static int read_pointer(struct gnarl_storage *st, const char *key, char **target,
                        char err[GNARL_ERR_SIZE])
{
	bool tag = is_tag_key(key);
	char *text = NULL, *dir = NULL;
	size_t len;
	int rc = gnarl_storage_get(st, key, (void **)&text, &len, err);

	*target = NULL;
	if (rc < 0)
		return rc;
	while (len && isspace((unsigned char)text[len - 1]))
		text[--len] = '\0';
	if (strlen(text) != len || !plain_key(text)) {
		rc = gnarl_err(err, GNARL_ECORRUPT, "%s should name a checkpoint by a relative key "
		               "but holds '%.200s'", key, text);
		goto out;
	}
	dir = gnarl_checkpoint_dirname(key);
	if (dir && tag) {
		char *up = gnarl_checkpoint_dirname(dir);
		free(dir);
		dir = up;
	}
	*target = dir ? gnarl_checkpoint_join(dir, text) : NULL;
	rc = *target ? 0 : gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
out:
	free(dir);
	free(text);
	return rc;
}

int gnarl_checkpoint_put_pointer(struct gnarl_storage *st, const char *key,
                                 const char *target, char err[GNARL_ERR_SIZE])
{
	size_t n = strlen(target);
	char *line = malloc(n + 2);
	int rc;

	if (!line)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	memcpy(line, target, n);
	line[n] = '\n';
	rc = gnarl_storage_put(st, key, line, n + 1, err);
	free(line);
	return rc;
}

static int exists(struct gnarl_storage *st, const char *dir, const char *name,
                  char err[GNARL_ERR_SIZE])
{
	char *key = gnarl_checkpoint_join(dir, name);
	int rc = key ? gnarl_storage_exists(st, key, err)
	             : gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");

	free(key);
	return rc;
}

/* dir is a checkpoint, a run directory (its checkpoints/latest) or a run
 * root (its latest): the checkpoint directory key into *key. */
static int follow_dir(struct gnarl_storage *st, const char *dir, char **key,
                      char err[GNARL_ERR_SIZE])
{
	static const char *const pointers[] = {"checkpoints/latest", "latest"};
	char *p;
	int rc = exists(st, dir, "manifest.json", err);

	for (int i = 0; rc == 0 && i < 2; i++) {
		rc = exists(st, dir, pointers[i], err);
		if (rc <= 0)
			continue;
		p = gnarl_checkpoint_join(dir, pointers[i]);
		rc = p ? read_pointer(st, p, key, err) : GNARL_ENOMEM;
		free(p);
		return rc < 0 ? rc : 1;
	}
	if (rc < 0)
		return rc;
	*key = strdup(dir);
	return *key ? rc : GNARL_ENOMEM;
}

bool gnarl_checkpoint_tag_name_ok(const char *name)
{
	if (!name || !*name || name[0] == '.')
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.-", *c))
			return false;
	return true;
}

static int resolve_named(struct gnarl_storage *st, const char *base, const char *uri,
                         char **key, char err[GNARL_ERR_SIZE])
{
	char *where = gnarl_checkpoint_uri_of(st, base), *tag = NULL;
	int rc;

	if (!where)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	if (strcmp(uri, "latest") == 0) {
		rc = follow_dir(st, base, key, err);
		if (rc == 0)
			rc = gnarl_err(err, GNARL_ENOENT, "no checkpoint to restore: %s has no "
			               "checkpoints/latest or latest (nothing saved there yet)", where);
	} else if (!gnarl_checkpoint_tag_name_ok(uri + 4)) {
		rc = gnarl_err(err, GNARL_EINVAL, "'%s': a tag name uses letters, digits, '_', '.' "
		               "and '-'", uri);
	} else {
		tag = gnarl_checkpoint_join3(base, "tags", uri + 4);
		rc = tag ? read_pointer(st, tag, key, err) : GNARL_ENOMEM;
		if (rc == GNARL_ENOENT)
			gnarl_err(err, rc, "no tag '%s' in %s (gnarl checkpoints list shows the tags)",
			          uri + 4, where);
	}
	free(tag);
	free(where);
	return rc < 0 ? rc : 0;
}

/* Open the store a checkpoint URI lives in: one level above its run
 * directory when the URI has the form <run>/checkpoints/checkpoint_N, so
 * the run's tags and the run root are reachable. */
static int open_uri_store(const struct gnarl_config *cfg, const char *uri,
                          struct gnarl_storage **st, char **key, char err[GNARL_ERR_SIZE])
{
	char *copy = strdup(uri), *root = NULL, *k = NULL, *p, *hit = NULL;
	size_t n;
	int rc = GNARL_ENOMEM;

	if (!copy)
		goto out;
	n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	for (int i = 0; i < 2; i++) {
		const char *file = i ? "/model.safetensors" : "/manifest.json";
		size_t f = strlen(file);
		if (n > f && strcmp(copy + n - f, file) == 0)
			copy[n -= f] = '\0';
	}
	for (p = strstr(copy, "/" CKPT_DIR CKPT_PREFIX); p; p = strstr(p + 1, "/" CKPT_DIR))
		hit = p;
	if (hit && hit > copy && is_ckpt_name(hit + sizeof(CKPT_DIR), strlen(hit + sizeof(CKPT_DIR)))) {
		*hit = '\0';
		rc = gnarl_storage_split_uri(copy, &root, &k, err);
		if (rc == 0) {
			char *full = gnarl_checkpoint_join(k, hit + 1);
			free(k);
			k = full;
		} else {
			/* The run directory is a bucket's root: open it as is. */
			root = strdup(copy);
			k = strdup(hit + 1);
		}
		*hit = '/';
	} else {
		rc = gnarl_storage_split_uri(copy, &root, &k, err);
		if (rc < 0)
			goto out;
	}
	rc = GNARL_ENOMEM;
	if (!root || !k)
		goto out;
	rc = gnarl_storage_open(cfg, root, st, err);
	if (rc < 0)
		goto out;
	*key = k;
	k = NULL;
out:
	if (rc == GNARL_ENOMEM)
		gnarl_err(err, rc, "checkpoint: out of memory");
	free(copy);
	free(root);
	free(k);
	return rc;
}

int gnarl_checkpoint_resolve(const struct gnarl_config *cfg, struct gnarl_storage *st,
                             const char *base, const char *uri,
                             struct gnarl_storage **st_out, struct gnarl_storage **own_out,
                             char **key_out, char err[GNARL_ERR_SIZE])
{
	char *dir = NULL;
	int rc;

	*own_out = NULL;
	*key_out = NULL;
	if (!uri || !*uri)
		return gnarl_err(err, GNARL_EINVAL, "checkpoint: empty URI (give a checkpoint path, "
		                 "s3:// URI, latest or tag:NAME)");
	if (strcmp(uri, "latest") == 0 || strncmp(uri, "tag:", 4) == 0) {
		if (!st)
			return gnarl_err(err, GNARL_EINVAL, "checkpoint '%s': no run storage to look in "
			                 "(give a checkpoint path or URI)", uri);
		*st_out = st;
		rc = resolve_named(st, base ? base : "", uri, key_out, err);
	} else {
		rc = open_uri_store(cfg, uri, own_out, &dir, err);
		*st_out = *own_out;
		if (rc == 0)
			rc = follow_dir(*own_out, dir, key_out, err);
		free(dir);
	}
	if (rc < 0) {
		gnarl_storage_close(*own_out);
		*own_out = NULL;
		free(*key_out);
		*key_out = NULL;
		return rc;
	}
	return 0;
}

/* ---- retention -------------------------------------------------------- */

struct ckdir {
	char name[64];
	uint64_t iteration;
	bool complete, keep;
	double ret;
};

static int by_iteration_desc(const void *a, const void *b)
{
	const struct ckdir *x = a, *y = b;

	return x->iteration < y->iteration ? 1 : x->iteration > y->iteration ? -1 : 0;
}

/* Gather the checkpoint directories named in keys under `prefix`. */
static size_t gather_dirs(const struct keys *ks, const char *prefix, struct ckdir *dirs)
{
	size_t n = 0, pl = strlen(prefix);

	for (size_t i = 0; i < ks->n; i++) {
		const char *rest = ks->k[i] + pl, *slash = strchr(rest, '/');
		size_t len = slash ? (size_t)(slash - rest) : 0, j;

		if (!slash || len >= sizeof(dirs[0].name) || !is_ckpt_name(rest, len))
			continue;
		for (j = 0; j < n && strncmp(dirs[j].name, rest, len) != 0; j++)
			;
		if (j == n) {
			memset(&dirs[n], 0, sizeof(dirs[n]));
			memcpy(dirs[n].name, rest, len);
			dirs[n].iteration = strtoull(rest + sizeof(CKPT_PREFIX) - 1, NULL, 10);
			dirs[n++].ret = NAN;
		}
		if (strcmp(slash + 1, "manifest.json") == 0)
			dirs[j].complete = true;
	}
	return n;
}

static double manifest_return(struct gnarl_storage *st, const char *key)
{
	char *text = NULL;
	size_t len;
	double r = NAN;
	json_t *root, *v;

	char err[GNARL_ERR_SIZE];

	if (gnarl_storage_get(st, key, (void **)&text, &len, err) < 0)
		return NAN;
	root = json_loadb(text, len, 0, NULL);
	v = json_object_get(json_object_get(root, "metrics"), "ep_return_mean");
	if (json_is_number(v))
		r = json_number_value(v);
	json_decref(root);
	free(text);
	return r;
}

/* Mark checkpoints that tags/ of the run names. */
static void mark_tagged(struct gnarl_storage *st, const char *run, struct ckdir *dirs, size_t n)
{
	struct keys tags = {0};
	char *dir = gnarl_checkpoint_join(run, "tags"), *target, *want;
	char err[GNARL_ERR_SIZE]; /* a tag that cannot be read protects nothing */

	if (dir && list_under(st, dir, &tags, err) == 0) {
		for (size_t i = 0; i < tags.n; i++) {
			if (read_pointer(st, tags.k[i], &target, err) < 0)
				continue;
			for (size_t j = 0; j < n; j++) {
				want = gnarl_checkpoint_join3(run, "checkpoints", dirs[j].name);
				if (want && strcmp(want, target) == 0)
					dirs[j].keep = true;
				free(want);
			}
			free(target);
		}
	}
	keys_free(&tags);
	free(dir);
}

/* Remove every key of checkpoint dir `name`, its manifest first. */
static int remove_dir(struct gnarl_storage *st, const struct keys *ks, const char *prefix,
                      const char *name, char err[GNARL_ERR_SIZE])
{
	size_t pl = strlen(prefix), nl = strlen(name);
	int rc = 0;

	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		for (size_t i = 0; i < ks->n && rc == 0; i++) {
			const char *rest = ks->k[i] + pl;
			bool manifest;

			if (strncmp(rest, name, nl) != 0 || rest[nl] != '/')
				continue;
			manifest = strcmp(rest + nl + 1, "manifest.json") == 0;
			if (manifest == (pass == 0))
				rc = gnarl_storage_remove(st, ks->k[i], err);
		}
	}
	return rc;
}

int gnarl_checkpoint_prune(struct gnarl_storage *st, const char *run, const char *current,
                           const struct gnarl_checkpoint_retention *keep,
                           char err[GNARL_ERR_SIZE])
{
	char *prefix = gnarl_checkpoint_join(run, CKPT_DIR), *mkey;
	uint64_t cur_it = strtoull(current + sizeof(CKPT_PREFIX) - 1, NULL, 10);
	struct keys ks = {0};
	struct ckdir *dirs = NULL;
	size_t n, kept = 0, best = SIZE_MAX;
	int rc;

	if (!prefix)
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	rc = gnarl_storage_list(st, prefix, keys_add, &ks, err);
	dirs = rc == 0 ? calloc(ks.n + 1, sizeof(*dirs)) : NULL;
	if (rc < 0 || !dirs)
		goto out;
	n = gather_dirs(&ks, prefix, dirs);
	qsort(dirs, n, sizeof(*dirs), by_iteration_desc);
	mark_tagged(st, run, dirs, n);
	for (size_t i = 0; i < n; i++) {
		if (!dirs[i].complete)
			continue;
		if (keep->keep_last == 0 || kept++ < keep->keep_last)
			dirs[i].keep = true;
		if (strcmp(dirs[i].name, current) == 0)
			dirs[i].keep = true;
		if (!keep->keep_best)
			continue;
		mkey = gnarl_checkpoint_join3(prefix, dirs[i].name, "manifest.json");
		dirs[i].ret = mkey ? manifest_return(st, mkey) : NAN;
		free(mkey);
		if (isfinite(dirs[i].ret) && (best == SIZE_MAX || dirs[i].ret > dirs[best].ret))
			best = i;
	}
	if (best != SIZE_MAX)
		dirs[best].keep = true;
	for (size_t i = 0; i < n && rc == 0; i++) {
		/* Incomplete directories older than this save are what a crash
		 * left behind; newer ones may be someone else's save in flight. */
		if (dirs[i].keep || (!dirs[i].complete && dirs[i].iteration >= cur_it))
			continue;
		rc = remove_dir(st, &ks, prefix, dirs[i].name, err);
	}
out:
	if (rc == 0 && !dirs)
		rc = gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	free(dirs);
	keys_free(&ks);
	free(prefix);
	return rc;
}

/* ---- listing ---------------------------------------------------------- */

void gnarl_checkpoint_list_free(struct gnarl_checkpoint_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++) {
		free(e[i].uri);
		free(e[i].key);
		free(e[i].created_utc);
		free(e[i].tags);
	}
	free(e);
}

/* Does key end in "<...>checkpoints/checkpoint_N/manifest.json"?  The
 * checkpoint directory's key into *dir. */
static bool manifest_key(const char *key, char **dir)
{
	static const char tail[] = "/manifest.json";
	size_t n = strlen(key), t = sizeof(tail) - 1;
	const char *end = key + n - t, *name;

	if (n <= t || strcmp(end, tail) != 0)
		return false;
	for (name = end; name > key && name[-1] != '/'; name--)
		;
	if (!is_ckpt_name(name, (size_t)(end - name)) || (size_t)(name - key) < 12 ||
	    strncmp(name - 12, CKPT_DIR, 12) != 0 || (name - 12 > key && name[-13] != '/'))
		return false;
	*dir = strndup(key, (size_t)(end - key));
	return *dir != NULL;
}

static int entry_from_manifest(struct gnarl_storage *st, char *dir,
                               struct gnarl_checkpoint_entry *e, char err[GNARL_ERR_SIZE])
{
	char *mkey = gnarl_checkpoint_join(dir, "manifest.json"), *text = NULL;
	size_t len;
	json_t *root = NULL, *v;
	int rc;

	memset(e, 0, sizeof(*e));
	e->key = dir;
	e->ep_return_mean = NAN;
	rc = mkey ? gnarl_storage_get(st, mkey, (void **)&text, &len, err) : GNARL_ENOMEM;
	if (rc < 0)
		goto out;
	root = json_loadb(text, len, 0, NULL);
	e->iteration = (uint64_t)json_integer_value(json_object_get(root, "iteration"));
	e->env_steps = (uint64_t)json_integer_value(json_object_get(root, "env_steps"));
	e->episodes = (uint64_t)json_integer_value(json_object_get(root, "episodes"));
	v = json_object_get(json_object_get(root, "metrics"), "ep_return_mean");
	if (json_is_number(v))
		e->ep_return_mean = json_number_value(v);
	v = json_object_get(root, "created_utc");
	e->created_utc = strdup(json_is_string(v) ? json_string_value(v) : "?");
	e->uri = gnarl_checkpoint_uri_of(st, dir);
	rc = e->created_utc && e->uri ? 0 : GNARL_ENOMEM;
out:
	if (rc == GNARL_ENOMEM)
		gnarl_err(err, rc, "checkpoint: out of memory");
	json_decref(root);
	free(text);
	free(mkey);
	return rc;
}

static int add_tag(struct gnarl_checkpoint_entry *e, const char *name)
{
	size_t have = e->tags ? strlen(e->tags) : 0, n = strlen(name);
	char *t;

	if (e->tags) {
		/* The run's tag and its copy beside the run name the same thing. */
		for (const char *p = e->tags; (p = strstr(p, name)); p += n)
			if ((p == e->tags || p[-1] == ',') && (p[n] == ',' || !p[n]))
				return 0;
	}
	t = realloc(e->tags, have + n + 2);
	if (!t)
		return GNARL_ENOMEM;
	if (have)
		t[have++] = ',';
	memcpy(t + have, name, n + 1);
	e->tags = t;
	return 0;
}

/* Apply `latest` and tags/<name> pointers found in ks to the entries. */
static void mark_pointers(struct gnarl_storage *st, const struct keys *ks,
                          struct gnarl_checkpoint_entry *e, size_t n)
{
	for (size_t i = 0; i < ks->n; i++) {
		const char *k = ks->k[i], *slash = strrchr(k, '/');
		const char *name = slash ? slash + 1 : k;
		bool latest = strcmp(name, "latest") == 0 && slash && slash - k >= 11 &&
		              strncmp(slash - 11, "checkpoints", 11) == 0;
		bool tag = is_tag_key(k);
		char *target, err[GNARL_ERR_SIZE];

		if ((!latest && !tag) || read_pointer(st, k, &target, err) < 0)
			continue;
		for (size_t j = 0; j < n; j++) {
			if (strcmp(e[j].key, target) != 0)
				continue;
			if (latest)
				e[j].latest = true;
			else
				add_tag(&e[j], name);
		}
		free(target);
	}
}

static int by_key(const void *a, const void *b)
{
	const struct gnarl_checkpoint_entry *x = a, *y = b;
	size_t dx = (size_t)(strrchr(x->key, '/') - x->key);
	size_t dy = (size_t)(strrchr(y->key, '/') - y->key);

	/* Same run: by iteration, so checkpoint_1000000 sorts last. */
	if (dx == dy && strncmp(x->key, y->key, dx) == 0 && x->iteration != y->iteration)
		return x->iteration < y->iteration ? -1 : 1;
	return strcmp(x->key, y->key);
}

int gnarl_checkpoint_list(struct gnarl_storage *st, const char *prefix,
                          struct gnarl_checkpoint_entry **out, size_t *n,
                          char err[GNARL_ERR_SIZE])
{
	struct keys ks = {0};
	struct gnarl_checkpoint_entry *e = NULL;
	size_t count = 0;
	char *dir;
	int rc;

	*out = NULL;
	*n = 0;
	rc = list_under(st, prefix ? prefix : "", &ks, err);
	if (rc == 0 && !(e = calloc(ks.n + 1, sizeof(*e))))
		rc = gnarl_err(err, GNARL_ENOMEM, "checkpoint: out of memory");
	for (size_t i = 0; i < ks.n && rc == 0; i++) {
		if (!manifest_key(ks.k[i], &dir))
			continue;
		rc = entry_from_manifest(st, dir, &e[count++], err);
	}
	if (rc == 0) {
		mark_pointers(st, &ks, e, count);
		qsort(e, count, sizeof(*e), by_key);
		*out = e;
		*n = count;
		e = NULL;
	}
	gnarl_checkpoint_list_free(e, count);
	keys_free(&ks);
	return rc;
}
