/*
 * config_load.c - load a config: read the YAML file, apply each --set
 * override in order, then validate the core's sections (schema.c) and
 * fill their defaults.
 *
 * Entry point: gnarl_config_load (config.h).
 *
 * Invariants: a --set value carries no position (line 0), so a message
 * about it names the --set argument (config.c finds it by path); nothing
 * is returned unless the whole config validated.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "schema.h"

#define PATH_MAX_LEN 512

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
		if (*done) /* a path cut to fit only shortens a message */
			strncat(done, ".", sizeof(done) - strlen(done) - 1);
		strncat(done, part, sizeof(done) - strlen(done) - 1);
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
	snprintf(name, sizeof(name), "--set %s", arg);
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
