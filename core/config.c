/*
 * config.c - load a config file, apply --set overrides and validate maps
 * of values against declared parameter tables (the core's own, in
 * schema.c, and every plugin's).
 *
 * Entry points: gnarl_config_load/free/section, gnarl_config_check_params,
 * gnarl_config_check_table, gnarl_config_param_default,
 * gnarl_config_error (config.h).
 *
 * Invariants: every message names where the value came from (file:line:col,
 * or the --set argument) and the dotted key, then says what is wrong and
 * what to do.  Values from --set and filled-in defaults carry no position
 * (line 0); gnarl_config_error finds the --set that wrote them by path.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "reference.h"
#include "schema.h"

#define PATH_MAX_LEN 512

/* snprintf for dotted paths: a path that does not fit is cut, which only
 * shortens a message. */
__attribute__((format(printf, 3, 4))) static void path_fmt(char *buf, size_t size,
                                                           const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

/* Does the --set key `set` (up to its '=') cover `path`, or lie under it? */
static bool set_matches(const char *set, const char *path)
{
	size_t n = strcspn(set, "=");
	size_t m = strlen(path);

	if (n <= m)
		return !strncmp(set, path, n) && (path[n] == '\0' || path[n] == '.');
	return !strncmp(set, path, m) && (m == 0 || set[m] == '.');
}

static void locate(const struct gnarl_config *cfg, const struct gnarl_value *node,
                   const char *path, char *buf, size_t size)
{
	if (node && node->line > 0) {
		snprintf(buf, size, "%s:%d:%d", !cfg ? "params" : cfg->path ? cfg->path : "config",
		         node->line, node->column);
		return;
	}
	for (int i = cfg ? cfg->n_sets : 0; i-- > 0;)
		if (set_matches(cfg->sets[i], path)) {
			snprintf(buf, size, "--set %s", cfg->sets[i]);
			return;
		}
	/* A filled-in default: the position of its closest written ancestor. */
	node = NULL;
	for (size_t n = 0; cfg && path[n]; n++) {
		const struct gnarl_value *v;
		char prefix[PATH_MAX_LEN];

		n += strcspn(path + n, ".");
		if (n >= sizeof(prefix))
			break;
		memcpy(prefix, path, n);
		prefix[n] = '\0';
		v = gnarl_value_at(cfg->root, prefix);
		if (!v)
			break;
		if (v->line > 0)
			node = v;
		if (!path[n])
			break;
	}
	if (node)
		snprintf(buf, size, "%s:%d:%d", cfg->path ? cfg->path : "config", node->line,
		         node->column);
	else
		snprintf(buf, size, "%s", !cfg ? "" : cfg->path ? cfg->path : "defaults");
}

/* The message about `path`, located by node or else by `at_path` (the path
 * of node, which differs for a key missing from node). */
static int verror(const struct gnarl_config *cfg, const struct gnarl_value *node,
                  const char *at_path, const char *path, char err[GNARL_ERR_SIZE],
                  const char *fmt, va_list ap)
{
	char at[PATH_MAX_LEN + 64];
	size_t n;

	if (!err)
		return GNARL_ECONFIG;
	locate(cfg, node, at_path, at, sizeof(at));
	snprintf(err, GNARL_ERR_SIZE, "%s%s%s: ", at, *at ? ": " : "", path);
	n = strlen(err);
	vsnprintf(err + n, GNARL_ERR_SIZE - n, fmt, ap);
	return GNARL_ECONFIG;
}

int gnarl_config_error(const struct gnarl_config *cfg, const struct gnarl_value *node,
                       const char *path, char err[GNARL_ERR_SIZE], const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verror(cfg, node, path, path, err, fmt, ap);
	va_end(ap);
	return rc;
}

__attribute__((format(printf, 6, 7))) static int
missing_error(const struct gnarl_config *cfg, const struct gnarl_value *node,
              const char *at_path, const char *path, char err[GNARL_ERR_SIZE],
              const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verror(cfg, node, at_path, path, err, fmt, ap);
	va_end(ap);
	return rc;
}

size_t gnarl_config_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	size_t d[40][40];

	if (n >= 40 || m >= 40)
		return n > m ? n : m;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[n][m];
}

static const struct gnarl_param *find_param(const struct gnarl_param *table, const char *name)
{
	for (; table && table->name; table++)
		if (!strcmp(table->name, name))
			return table;
	return NULL;
}

static const char *reference_owner(const struct gnarl_reference_key *ref)
{
	return strcmp(ref->source, "rllib") ? "the reference project's" : "RLlib's";
}

/* A key no table declares: what to use instead when it is the reference
 * project's or RLlib's (reference.h), else the closest declared one. */
static int unknown_key(const struct gnarl_config *cfg, const struct gnarl_value *v,
                       const char *path, const char *key, const struct gnarl_param *table,
                       char err[GNARL_ERR_SIZE])
{
	const struct gnarl_reference_key *ref = gnarl_reference_find(key);
	const char *best = NULL;
	size_t best_d = (size_t)-1, len = strlen(key);
	char known[600] = "";

	if (ref && !strncmp(ref->use, "nothing: ", 9))
		return gnarl_config_error(cfg, v, path, err, "unknown key: %s is %s %s: gnarl needs "
		                          "none (%s)", ref->name, reference_owner(ref), ref->what,
		                          ref->use + 9);
	if (ref)
		return gnarl_config_error(cfg, v, path, err, "unknown key: %s is %s %s: use %s",
		                          ref->name, reference_owner(ref), ref->what, ref->use);
	for (const struct gnarl_param *p = table; p && p->name; p++) {
		size_t d = gnarl_config_distance(key, p->name);

		if (d < best_d) {
			best_d = d;
			best = p->name;
		}
		if (strlen(known) + strlen(p->name) + 3 < sizeof(known)) {
			if (*known)
				strcat(known, ", ");
			strcat(known, p->name);
		}
	}
	if (best && (best_d <= 2 || best_d <= len / 3) && best_d < len)
		return gnarl_config_error(cfg, v, path, err, "unknown key (did you mean '%s'?)",
		                          best);
	if (!*known)
		return gnarl_config_error(cfg, v, path, err,
		                          "unknown key (this section takes no keys)");
	return gnarl_config_error(cfg, v, path, err, "unknown key (valid keys: %s)", known);
}

/* ------------------------------------------------------------------------ */
/* Checking one value against its declaration                               */

static const char *expected(enum gnarl_param_type t)
{
	switch (t) {
	case GNARL_PARAM_BOOL:
		return "true or false";
	case GNARL_PARAM_INT:
		return "an integer";
	case GNARL_PARAM_FLOAT:
		return "a number";
	case GNARL_PARAM_STRING:
		return "a string";
	case GNARL_PARAM_LIST:
		return "a list";
	case GNARL_PARAM_MAP:
		return "a map";
	}
	return "a value";
}

static void describe(const struct gnarl_value *v, char *buf, size_t size)
{
	if (v->raw && !(v->flags & GNARL_VALUE_SECRET) && v->type != GNARL_VALUE_LIST &&
	    v->type != GNARL_VALUE_MAP && v->type != GNARL_VALUE_NULL)
		snprintf(buf, size, "%s%.60s%s", v->type == GNARL_VALUE_STRING ? "'" : "",
		         v->raw, v->type == GNARL_VALUE_STRING ? "'" : "");
	else
		snprintf(buf, size, "%s", gnarl_value_type_noun(v->type));
}

/* `item`: v is an item of list param p, so p's default is no example. */
static int type_error(const struct gnarl_config *cfg, const struct gnarl_value *v,
                      const char *path, enum gnarl_param_type want, const struct gnarl_param *p,
                      bool item, char err[GNARL_ERR_SIZE])
{
	char got[100];

	describe(v, got, sizeof(got));
	if (want == GNARL_PARAM_STRING && (v->flags & GNARL_VALUE_SECRET))
		return gnarl_config_error(cfg, v, path, err, "expected a string, got %s (quote it)",
		                          got);
	if (want == GNARL_PARAM_STRING && v->type != GNARL_VALUE_LIST &&
	    v->type != GNARL_VALUE_MAP)
		return gnarl_config_error(cfg, v, path, err, "expected a string, got %s "
		                          "(quote it: \"%s\")", got, v->raw ? v->raw : "");
	if (p && !item && p->default_yaml && strcmp(p->default_yaml, "null"))
		return gnarl_config_error(cfg, v, path, err, "expected %s, got %s (the default "
		                          "is %s)", expected(want), got, p->default_yaml);
	return gnarl_config_error(cfg, v, path, err, "expected %s, got %s%s%s%s",
	                          expected(want), got, p && p->help ? " (" : "",
	                          p && p->help ? p->help : "", p && p->help ? ")" : "");
}

static int range_check(const struct gnarl_config *cfg, const struct gnarl_value *v,
                       const char *path, const struct gnarl_param *p, char err[GNARL_ERR_SIZE])
{
	double x = v->type == GNARL_VALUE_INT ? (double)v->as.i : v->as.f;
	bool lo = p->flags & GNARL_PARAM_HAS_MIN, hi = p->flags & GNARL_PARAM_HAS_MAX;
	char got[100];

	if ((!lo || x >= p->min) && (!hi || x <= p->max))
		return 0;
	describe(v, got, sizeof(got));
	if (lo && hi)
		return gnarl_config_error(cfg, v, path, err, "%s is out of range (use a value "
		                          "between %g and %g)", got, p->min, p->max);
	if (lo)
		return gnarl_config_error(cfg, v, path, err, "%s is out of range (use a value "
		                          ">= %g)", got, p->min);
	return gnarl_config_error(cfg, v, path, err, "%s is out of range (use a value <= %g)",
	                          got, p->max);
}

/* A scalar from ${VAR} that typed as a number or bool, read as a string. */
static int as_string(struct gnarl_config *cfg, struct gnarl_value *v)
{
	char buf[64];

	if (!cfg)
		return 1;
	if (v->type == GNARL_VALUE_INT)
		snprintf(buf, sizeof(buf), "%lld", (long long)v->as.i);
	else if (v->type == GNARL_VALUE_FLOAT)
		snprintf(buf, sizeof(buf), "%.17g", v->as.f);
	else if (v->type == GNARL_VALUE_BOOL)
		snprintf(buf, sizeof(buf), "%s", v->as.b ? "true" : "false");
	else
		return 1;
	const char *raw = v->raw;
	if (gnarl_tree_set_string(cfg->tree, v, buf))
		return GNARL_ENOMEM;
	v->raw = raw;
	return 0;
}

/* Check a scalar-or-container v against type `t` with p's range/choices. */
static int check_typed(struct gnarl_config *cfg, struct gnarl_value *v, const char *path,
                       enum gnarl_param_type t, const struct gnarl_param *p, bool item,
                       char err[GNARL_ERR_SIZE])
{
	switch (t) {
	case GNARL_PARAM_BOOL:
		return v->type == GNARL_VALUE_BOOL ? 0 : type_error(cfg, v, path, t, p, item, err);
	case GNARL_PARAM_INT:
		if (v->type != GNARL_VALUE_INT)
			return type_error(cfg, v, path, t, p, item, err);
		return range_check(cfg, v, path, p, err);
	case GNARL_PARAM_FLOAT:
		if (v->type == GNARL_VALUE_INT)
			gnarl_value_set_float(v, (double)v->as.i);
		if (v->type != GNARL_VALUE_FLOAT)
			return type_error(cfg, v, path, t, p, item, err);
		return range_check(cfg, v, path, p, err);
	case GNARL_PARAM_STRING:
		if (v->type != GNARL_VALUE_STRING && v->raw && strstr(v->raw, "${")) {
			int rc = as_string(cfg, v);

			if (rc < 0)
				return rc;
		}
		if (v->type != GNARL_VALUE_STRING)
			return type_error(cfg, v, path, t, p, item, err);
		if (p->choices) {
			const char *c = p->choices;
			size_t n = strlen(v->as.s);

			while (c) {
				if (!strncmp(c, v->as.s, n) && (c[n] == '|' || !c[n]))
					return 0;
				c = strchr(c, '|');
				c = c ? c + 1 : NULL;
			}
			return gnarl_config_error(cfg, v, path, err, "'%s' is not one of %s",
			                          v->flags & GNARL_VALUE_SECRET ? "<redacted>"
			                                                        : v->as.s,
			                          p->choices);
		}
		return 0;
	case GNARL_PARAM_LIST:
		return v->type == GNARL_VALUE_LIST ? 0 : type_error(cfg, v, path, t, p, item, err);
	case GNARL_PARAM_MAP:
		return v->type == GNARL_VALUE_MAP ? 0 : type_error(cfg, v, path, t, p, item, err);
	}
	return gnarl_config_error(cfg, v, path, err, "declared with an unknown type %d", (int)t);
}

static int check_value(struct gnarl_config *cfg, struct gnarl_value *v, const char *path,
                       const struct gnarl_param *p, char err[GNARL_ERR_SIZE])
{
	char sub[PATH_MAX_LEN];
	int rc = check_typed(cfg, v, path, p->type, p, false, err);

	if (rc || p->type != GNARL_PARAM_LIST || !p->item)
		return rc;
	for (size_t k = 0; k < v->count; k++) {
		path_fmt(sub, sizeof(sub), "%s.%zu", path, k);
		rc = check_typed(cfg, (struct gnarl_value *)&v->items[k], sub, p->item, p, true,
		                 err);
		if (rc)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                   */

const char *gnarl_param_type_name(const struct gnarl_param *p, char *buf, size_t size)
{
	static const char *const names[] = {"?", "bool", "int", "float", "string", "list", "map"};
	unsigned t = (unsigned)p->type < 7 ? (unsigned)p->type : 0;
	unsigned it = (unsigned)p->item < 7 ? (unsigned)p->item : 0;

	if (p->type == GNARL_PARAM_LIST && p->item)
		snprintf(buf, size, "list of %s", names[it]);
	else
		snprintf(buf, size, "%s", names[t]);
	return buf;
}

int gnarl_config_param_default(const struct gnarl_param *p, struct gnarl_tree **out,
                               char err[GNARL_ERR_SIZE])
{
	const char *text = p->default_yaml ? p->default_yaml : "null";
	struct gnarl_value *root;
	char path[PATH_MAX_LEN];
	int rc;

	path_fmt(path, sizeof(path), "default of '%s'", p->name);
	rc = gnarl_tree_parse(text, strlen(text), path, out, err);
	if (rc)
		return rc;
	root = gnarl_tree_root(*out);
	if (root->type == GNARL_VALUE_MAP && root->count == 0 && !*text)
		root->type = GNARL_VALUE_NULL;
	gnarl_value_clear_positions(root);
	if (root->type == GNARL_VALUE_NULL)
		return 0;
	rc = check_value(NULL, root, "default", p, err);
	if (rc) {
		gnarl_tree_free(*out);
		*out = NULL;
	}
	return rc;
}

static bool valid_name(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

int gnarl_config_check_table(const struct gnarl_param *table, const char *who,
                             char err[GNARL_ERR_SIZE])
{
	for (const struct gnarl_param *p = table; p && p->name; p++) {
		struct gnarl_tree *t = NULL;
		int rc;

		if (!valid_name(p->name))
			return gnarl_err(err, GNARL_EINVAL, "%s: parameter '%s': names are "
			                 "[a-z0-9_]+", who, p->name);
		if (find_param(table, p->name) != p)
			return gnarl_err(err, GNARL_EINVAL, "%s: parameter '%s' is declared twice",
			                 who, p->name);
		if (p->type < GNARL_PARAM_BOOL || p->type > GNARL_PARAM_MAP ||
		    (p->type == GNARL_PARAM_LIST && p->item &&
		     (p->item < GNARL_PARAM_BOOL || p->item > GNARL_PARAM_MAP)))
			return gnarl_err(err, GNARL_EINVAL, "%s: parameter '%s' has an unknown "
			                 "type %d", who, p->name, (int)p->type);
		if ((p->flags & GNARL_PARAM_REQUIRED) && p->default_yaml)
			return gnarl_err(err, GNARL_EINVAL, "%s: parameter '%s' is REQUIRED and "
			                 "has a default (drop one)", who, p->name);
		rc = gnarl_config_param_default(p, &t, err);
		gnarl_tree_free(t);
		if (rc)
			return gnarl_err_prefix(err, GNARL_EINVAL, "%s: parameter '%s': ", who,
			                        p->name);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Checking a map of parameters                                             */

static int fill_default(struct gnarl_config *cfg, struct gnarl_value *node, const char *name,
                        const struct gnarl_param *p, char err[GNARL_ERR_SIZE])
{
	struct gnarl_tree *t;
	struct gnarl_value *slot;
	int rc = gnarl_config_param_default(p, &t, err);

	if (rc)
		return rc;
	slot = gnarl_tree_map_put(cfg->tree, node, name);
	rc = slot ? gnarl_tree_copy(cfg->tree, slot, gnarl_tree_root(t)) : GNARL_ENOMEM;
	if (!rc && (p->flags & GNARL_PARAM_SECRET))
		gnarl_value_flag(slot, GNARL_VALUE_SECRET);
	gnarl_tree_free(t);
	return rc;
}

static int key_index(const struct gnarl_value *map, const char *key)
{
	for (size_t k = 0; k < map->count; k++)
		if (!strcmp(map->keys[k], key))
			return (int)k;
	return -1;
}

int gnarl_config_check_params(struct gnarl_config *cfg, struct gnarl_value *node,
                              const struct gnarl_param *table, const char *where,
                              char err[GNARL_ERR_SIZE])
{
	char path[PATH_MAX_LEN];
	const char *sep = where && *where ? "." : "";
	int rc;

	where = where ? where : "";
	if (node && node->type == GNARL_VALUE_NULL)
		node->type = GNARL_VALUE_MAP; /* no items: needs no memory */
	if (node && node->type != GNARL_VALUE_MAP) {
		char got[100];

		describe(node, got, sizeof(got));
		return gnarl_config_error(cfg, node, where, err, "expected a map of parameters "
		                          "(key: value lines), got %s", got);
	}
	for (size_t k = 0; node && k < node->count; k++) {
		path_fmt(path, sizeof(path), "%s%s%s", where, sep, node->keys[k]);
		if (!find_param(table, node->keys[k]))
			return unknown_key(cfg, &node->items[k], path, node->keys[k], table, err);
	}
	for (const struct gnarl_param *p = table; p && p->name; p++) {
		int k = node ? key_index(node, p->name) : -1;
		struct gnarl_value *v = k >= 0 ? (struct gnarl_value *)&node->items[k] : NULL;

		path_fmt(path, sizeof(path), "%s%s%s", where, sep, p->name);
		if (v && v->type != GNARL_VALUE_NULL) {
			/* Flag first, so no message below quotes a secret. */
			if (p->flags & GNARL_PARAM_SECRET)
				gnarl_value_flag(v, GNARL_VALUE_SECRET);
			rc = check_value(cfg, v, path, p, err);
			if (rc)
				return rc;
			continue;
		}
		if (p->flags & GNARL_PARAM_REQUIRED)
			return missing_error(cfg, v ? v : node, v ? path : where, path, err,
			                     "missing (required: %s)", p->help ? p->help : "set it");
		if (cfg && node) {
			rc = fill_default(cfg, node, p->name, p, err);
			if (rc)
				return gnarl_err_prefix(err, rc, "%s: ", path);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */

static int read_file(const char *path, char **text, size_t *len, char err[GNARL_ERR_SIZE])
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return gnarl_err(err, GNARL_ECONFIG, "%s: cannot read the config: %s (check "
		                 "the path given with -c)", path, strerror(errno));
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *g = realloc(buf, cap = (n + 4096 + 1) * 2);

			if (!g) {
				free(buf);
				fclose(f);
				return gnarl_err(err, GNARL_ENOMEM, "%s: out of memory", path);
			}
			buf = g;
		}
		size_t r = fread(buf + n, 1, 4096, f);
		n += r;
		if (r < 4096)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return gnarl_err(err, GNARL_ECONFIG, "%s: cannot read the config: %s", path,
		                 strerror(errno));
	}
	fclose(f);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* The node that "a.b.0.c" names, created (as null) along the way. */
static int set_slot(struct gnarl_config *cfg, const char *arg, const char *key,
                    struct gnarl_value **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_value *cur = gnarl_tree_root(cfg->tree);
	char part[PATH_MAX_LEN], done[PATH_MAX_LEN] = "";

	while (*key) {
		size_t n = strcspn(key, ".");
		struct gnarl_value *next = NULL;

		if (n == 0 || n >= sizeof(part))
			return gnarl_err(err, GNARL_ECONFIG, "--set %s: empty or overlong key "
			                 "component (write --set section.key=value)", arg);
		memcpy(part, key, n);
		part[n] = '\0';
		if (cur->type == GNARL_VALUE_NULL && strspn(part, "0123456789") == n)
			cur->type = GNARL_VALUE_LIST; /* "llm.0=..." when llm is unset */
		if (cur->type == GNARL_VALUE_LIST) {
			char *end;
			unsigned long idx = strtoul(part, &end, 10);

			if (*end || part[0] == '-' || idx > cur->count)
				return gnarl_err(err, GNARL_ECONFIG, "--set %s: %s is a list of %zu "
				                 "items; '%s' is not an index from 0 to %zu", arg,
				                 done, cur->count, part, cur->count);
			next = idx < cur->count ? (struct gnarl_value *)&cur->items[idx]
			                        : gnarl_tree_list_append(cfg->tree, cur);
		} else if (cur->type == GNARL_VALUE_MAP || cur->type == GNARL_VALUE_NULL) {
			next = gnarl_tree_map_put(cfg->tree, cur, part);
		} else {
			return gnarl_err(err, GNARL_ECONFIG, "--set %s: %s is %s, not a map or "
			                 "list", arg, done, gnarl_value_type_noun(cur->type));
		}
		if (!next)
			return gnarl_err(err, GNARL_ENOMEM, "--set %s: out of memory", arg);
		path_fmt(done + strlen(done), sizeof(done) - strlen(done), "%s%s",
		         *done ? "." : "", part);
		cur = next;
		key += n;
		if (*key == '.' && !*++key)
			return gnarl_err(err, GNARL_ECONFIG, "--set %s: the key ends in '.'", arg);
	}
	*out = cur;
	return 0;
}

static int apply_set(struct gnarl_config *cfg, const char *arg, char err[GNARL_ERR_SIZE])
{
	const char *eq = strchr(arg, '=');
	struct gnarl_tree *val = NULL;
	struct gnarl_value *slot = NULL;
	char key[PATH_MAX_LEN], name[PATH_MAX_LEN + 8];
	int rc;

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key))
		return gnarl_err(err, GNARL_ECONFIG, "--set %s: expected KEY=VALUE (e.g. --set "
		                 "ppo.gamma=0.98)", arg);
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	path_fmt(name, sizeof(name), "--set %s", arg);
	rc = gnarl_tree_parse(eq + 1, strlen(eq + 1), name, &val, err);
	if (rc)
		return rc;
	if (!eq[1])
		gnarl_tree_root(val)->type = GNARL_VALUE_NULL;
	rc = set_slot(cfg, arg, key, &slot, err);
	if (!rc) {
		rc = gnarl_tree_copy(cfg->tree, slot, gnarl_tree_root(val));
		if (rc)
			gnarl_err(err, rc, "--set %s: out of memory", arg);
		else
			gnarl_value_clear_positions(slot);
	}
	gnarl_tree_free(val);
	return rc;
}

int gnarl_config_load(const char *path, const char *const *sets, int n_sets,
                      struct gnarl_config **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_config *cfg = calloc(1, sizeof(*cfg));
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!cfg)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory loading the config");
	if (path) {
		const char *slash = strrchr(path, '/');

		cfg->path = strdup(path);
		cfg->dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
		                 : strdup(".");
		rc = (!cfg->path || !cfg->dir) ? GNARL_ENOMEM : read_file(path, &text, &len, err);
		if (!rc)
			rc = gnarl_tree_parse(text, len, path, &cfg->tree, err);
		free(text);
		if (rc)
			goto fail;
	} else {
		cfg->dir = strdup(".");
		rc = cfg->dir ? gnarl_tree_create("defaults", &cfg->tree) : GNARL_ENOMEM;
		if (rc)
			goto fail;
	}
	cfg->root = gnarl_tree_root(cfg->tree);
	if (cfg->root->type == GNARL_VALUE_NULL)
		((struct gnarl_value *)cfg->root)->type = GNARL_VALUE_MAP;
	if (cfg->root->type != GNARL_VALUE_MAP) {
		rc = gnarl_err(err, GNARL_ECONFIG, "%s:%d:%d: the config must be a map of "
		               "sections (run:, env:, rewards:, ppo:, ...), not %s", path,
		               cfg->root->line, cfg->root->column,
		               gnarl_value_type_noun(cfg->root->type));
		goto fail;
	}
	cfg->sets = calloc((size_t)(n_sets > 0 ? n_sets : 1), sizeof(*cfg->sets));
	if (!cfg->sets) {
		rc = GNARL_ENOMEM;
		goto fail;
	}
	for (int i = 0; i < n_sets; i++) {
		if (!(cfg->sets[i] = strdup(sets[i]))) {
			rc = GNARL_ENOMEM;
			goto fail;
		}
		cfg->n_sets = i + 1;
		if ((rc = apply_set(cfg, sets[i], err)))
			goto fail;
	}
	rc = gnarl_schema_check(cfg, err);
	if (rc)
		goto fail;
	*out = cfg;
	return 0;
fail:
	if (rc == GNARL_ENOMEM)
		gnarl_err(err, rc, "out of memory loading the config");
	gnarl_config_free(cfg);
	return rc;
}

void gnarl_config_free(struct gnarl_config *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < cfg->n_sets; i++)
		free(cfg->sets[i]);
	free(cfg->sets);
	gnarl_tree_free(cfg->tree);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

const struct gnarl_value *gnarl_config_section(const struct gnarl_config *cfg,
                                               const char *name)
{
	return cfg ? gnarl_value_get(cfg->root, name) : NULL;
}
