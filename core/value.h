/*
 * value.h - config trees (struct gnarl_value, from gnarl/plugin.h) owned by
 * the core: built from YAML by config.c, read by every module, lent to
 * plugins.  A tree owns all its nodes and strings; gnarl_tree_free() frees
 * everything at once.
 */
#ifndef GNARL_VALUE_H
#define GNARL_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include <gnarl/plugin.h>

struct gnarl_tree;  /* opaque owner of a value tree */

/* Parse YAML text into a tree ("name" is used in messages: a file path or
 * "--set"); ${VAR} and ${VAR:-default} in scalars are expanded from the
 * environment (the text as written is kept in value->raw).  An empty
 * document gives an empty map. */
int gnarl_tree_parse(const char *text, size_t len, const char *name,
                     struct gnarl_tree **out, char err[GNARL_ERR_SIZE]);
void gnarl_tree_free(struct gnarl_tree *tree);  /* accepts NULL */
struct gnarl_value *gnarl_tree_root(struct gnarl_tree *tree);
const char *gnarl_tree_name(const struct gnarl_tree *tree);

/* The node at a dotted path ("ppo.gamma", "rewards.0.weight"), or NULL. */
const struct gnarl_value *gnarl_value_at(const struct gnarl_value *root,
                                         const char *path);

/* Typed reads with a fallback for NULL or a different type.  FLOAT reads
 * accept INT nodes. */
int64_t gnarl_value_int(const struct gnarl_value *v, int64_t fallback);
double gnarl_value_float(const struct gnarl_value *v, double fallback);
bool gnarl_value_bool(const struct gnarl_value *v, bool fallback);
const char *gnarl_value_string(const struct gnarl_value *v, const char *fallback);

/* Serialise (owned result, free() it).  Secrets (GNARL_VALUE_SECRET) are
 * written as their raw "${VAR}" text when they came from the environment,
 * else as "<redacted>", unless `reveal_secrets`. */
char *gnarl_value_to_yaml(const struct gnarl_value *v, bool reveal_secrets);
char *gnarl_value_to_json(const struct gnarl_value *v, bool reveal_secrets);

/* Deep equality (type, value, keys in order); ignores positions. */
bool gnarl_value_equal(const struct gnarl_value *a, const struct gnarl_value *b);

#endif /* GNARL_VALUE_H */
