/*
 * value.h - config trees (struct gnarl_value, from gnarl/plugin.h) owned by
 * the core: built from YAML by config.c, read by every module, lent to
 * plugins.  A tree owns all its nodes and strings; gnarl_tree_free() frees
 * everything at once.
 *
 * Reading: gnarl_value_at(root, "ppo.gamma") and the typed reads below;
 * gnarl_value_get(map, "key") (gnarl/plugin.h) for one level.
 *
 * Editing (config.c, the plugin host): the gnarl_tree_* editors allocate
 * from the tree that owns the node.  Adding an item to a map or list moves
 * that container's items, so pointers to its items taken before are stale;
 * the edited node itself stays where it is.
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
 * document gives an empty map.  Unquoted scalars are typed after expansion
 * (YAML 1.2 core schema: null, true/false, integers, floats; the rest are
 * strings); quoted scalars are strings.  "$${" writes a literal "${".
 * Errors (GNARL_ECONFIG) read "NAME:LINE:COL: what (what to do)". */
int gnarl_tree_parse(const char *text, size_t len, const char *name,
                     struct gnarl_tree **out, char err[GNARL_ERR_SIZE]);
void gnarl_tree_free(struct gnarl_tree *tree);  /* accepts NULL */
struct gnarl_value *gnarl_tree_root(struct gnarl_tree *tree);
const char *gnarl_tree_name(const struct gnarl_tree *tree);
/* Where the parser read the key naming map item `item` (an element of a
 * parsed map's items): true and *line, *column, or false when not known
 * (the item was added or copied by editing). */
bool gnarl_tree_key_position(const struct gnarl_tree *tree, const struct gnarl_value *item,
                             int *line, int *column);
/* For the parser: the keys of map items[0..n) were read at at[i] (line,
 * column).  GNARL_ENOMEM on failure. */
int gnarl_tree_note_keys(struct gnarl_tree *tree, const struct gnarl_value *items, int (*at)[2],
                         size_t n);

/* A new tree whose root is an empty map (GNARL_ENOMEM on failure). */
int gnarl_tree_create(const char *name, struct gnarl_tree **out);

/* The node at a dotted path ("ppo.gamma", "rewards.0.weight"), or NULL.
 * A component indexes a list when the node there is a list.  "" is root. */
const struct gnarl_value *gnarl_value_at(const struct gnarl_value *root,
                                         const char *path);
/* The same for editing a tree you own. */
struct gnarl_value *gnarl_tree_at(struct gnarl_value *root, const char *path);

/* Typed reads with a fallback for NULL or a different type.  FLOAT reads
 * accept INT nodes. */
int64_t gnarl_value_int(const struct gnarl_value *v, int64_t fallback);
double gnarl_value_float(const struct gnarl_value *v, double fallback);
bool gnarl_value_bool(const struct gnarl_value *v, bool fallback);
const char *gnarl_value_string(const struct gnarl_value *v, const char *fallback);

/* True for NULL pointers and null nodes. */
bool gnarl_value_is_null(const struct gnarl_value *v);

/* The type YAML gives an unquoted scalar with this text (NULL, BOOL, INT,
 * FLOAT or STRING); the emitters quote strings that would read back as
 * something else. */
enum gnarl_value_type gnarl_value_resolve(const char *text);

/* "null", "bool", "int", "float", "string", "list", "map". */
const char *gnarl_value_type_name(enum gnarl_value_type type);
/* The same for sentences: "null", "a bool", "an integer", "a float",
 * "a string", "a list", "a map". */
const char *gnarl_value_type_noun(enum gnarl_value_type type);

/* Serialise (owned result, free() it; NULL when out of memory).  Secrets
 * (GNARL_VALUE_SECRET) are written as their raw "${VAR}" text when they
 * came from the environment, else as "<redacted>", unless
 * `reveal_secrets`.  The YAML is block style (flow style for lists of
 * scalars) and parses back to an equal tree. */
char *gnarl_value_to_yaml(const struct gnarl_value *v, bool reveal_secrets);
char *gnarl_value_to_json(const struct gnarl_value *v, bool reveal_secrets);

/* Deep equality (type, value, keys in order); ignores positions, flags
 * and raw text. */
bool gnarl_value_equal(const struct gnarl_value *a, const struct gnarl_value *b);

/* ---- Editing a tree.  `node` must belong to `tree` (or be a fresh slot
 * returned by these functions).  All return NULL / GNARL_ENOMEM when out
 * of memory. ---- */

/* size zeroed bytes owned by the tree (freed with it). */
void *gnarl_tree_alloc(struct gnarl_tree *tree, size_t size);
/* Copy of s owned by the tree. */
char *gnarl_tree_strdup(struct gnarl_tree *tree, const char *s);
/* The slot for `key` in map (created as a null node at the end when
 * missing).  A null node becomes an empty map first; NULL if map is
 * neither a map nor null. */
struct gnarl_value *gnarl_tree_map_put(struct gnarl_tree *tree,
                                       struct gnarl_value *map, const char *key);
/* A new null item at the end of list (a null node becomes an empty list
 * first); NULL if list is neither. */
struct gnarl_value *gnarl_tree_list_append(struct gnarl_tree *tree,
                                           struct gnarl_value *list);
/* Replace *dst by a deep copy of src (strings copied into tree).  Positions
 * and flags are copied; dst's own position is kept when src has none. */
int gnarl_tree_copy(struct gnarl_tree *tree, struct gnarl_value *dst,
                    const struct gnarl_value *src);
/* Set a scalar in place (the node's position is kept, raw cleared). */
int gnarl_tree_set_string(struct gnarl_tree *tree, struct gnarl_value *node,
                          const char *s);
void gnarl_value_set_null(struct gnarl_value *node);
void gnarl_value_set_int(struct gnarl_value *node, int64_t i);
void gnarl_value_set_float(struct gnarl_value *node, double f);
void gnarl_value_set_bool(struct gnarl_value *node, bool b);
/* Set `flags` on node and everything below it. */
void gnarl_value_flag(struct gnarl_value *node, unsigned flags);
/* Zero the positions of node and everything below it. */
void gnarl_value_clear_positions(struct gnarl_value *node);

#endif /* GNARL_VALUE_H */
