/*
 * value_edit.c - config trees in memory: a tree and its allocator, reading
 * (dotted lookup, typed reads, deep equality) and the gnarl_tree_* editors
 * (value.h).  The YAML parser (value.c) builds trees with these.
 *
 * Entry points: gnarl_tree_create/free/root/name, gnarl_tree_alloc,
 * gnarl_tree_strdup, and the readers and editors of value.h.
 *
 * Invariants: every byte a tree points to (nodes, item and key arrays,
 * strings) was allocated from that tree's block list and is freed only by
 * gnarl_tree_free.  Editors allocate only through gnarl_tree_alloc and
 * never free: growing a container copies its items to a new array and
 * leaves the old one allocated (stale pointers read old data, never freed
 * memory).
 */
#include "value.h"

#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct block {
	struct block *next;
	alignas(max_align_t) unsigned char data[];
};

/* Where the parser read the key of a map item (messages about a key
 * point at it, not at its value, which may start lines later). */
struct key_pos {
	const struct gnarl_value *item;
	int line, column;
};

struct gnarl_tree {
	struct block *blocks;
	char *name;
	struct gnarl_value root;
	struct key_pos *keys; /* malloc'ed: one per parsed map item */
	size_t n_keys, cap_keys;
};

/* ------------------------------------------------------------------------ */
/* Allocation                                                               */

void *gnarl_tree_alloc(struct gnarl_tree *t, size_t size)
{
	struct block *b = calloc(1, sizeof(*b) + (size ? size : 1));

	if (!b)
		return NULL;
	b->next = t->blocks;
	t->blocks = b;
	return b->data;
}

char *gnarl_tree_strdup(struct gnarl_tree *t, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = gnarl_tree_alloc(t, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

void gnarl_tree_free(struct gnarl_tree *t)
{
	struct block *b, *next;

	if (!t)
		return;
	for (b = t->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(t->keys);
	free(t->name);
	free(t);
}

static struct gnarl_tree *tree_new(const char *name)
{
	struct gnarl_tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->name = strdup(name ? name : "");
	if (!t->name) {
		free(t);
		return NULL;
	}
	t->root.type = GNARL_VALUE_MAP;
	return t;
}

int gnarl_tree_create(const char *name, struct gnarl_tree **out)
{
	*out = tree_new(name);
	return *out ? 0 : GNARL_ENOMEM;
}

struct gnarl_value *gnarl_tree_root(struct gnarl_tree *t)
{
	return t ? &t->root : NULL;
}

const char *gnarl_tree_name(const struct gnarl_tree *t)
{
	return t ? t->name : NULL;
}

int gnarl_tree_note_keys(struct gnarl_tree *t, const struct gnarl_value *items, int (*at)[2],
                         size_t n)
{
	if (t->n_keys + n > t->cap_keys) {
		size_t cap = t->cap_keys ? t->cap_keys : 64;
		struct key_pos *k;

		while (cap < t->n_keys + n)
			cap *= 2;
		k = realloc(t->keys, cap * sizeof(*k));
		if (!k)
			return GNARL_ENOMEM;
		t->keys = k;
		t->cap_keys = cap;
	}
	for (size_t i = 0; i < n; i++)
		t->keys[t->n_keys++] = (struct key_pos){&items[i], at[i][0], at[i][1]};
	return 0;
}

bool gnarl_tree_key_position(const struct gnarl_tree *t, const struct gnarl_value *item,
                             int *line, int *column)
{
	for (size_t k = t ? t->n_keys : 0; k-- > 0;)
		if (t->keys[k].item == item) {
			*line = t->keys[k].line;
			*column = t->keys[k].column;
			return true;
		}
	return false;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

struct gnarl_value *gnarl_tree_at(struct gnarl_value *root, const char *path)
{
	struct gnarl_value *v = root;

	while (v && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		struct gnarl_value *next = NULL;

		if (v->type == GNARL_VALUE_MAP) {
			for (size_t k = 0; k < v->count; k++)
				if (strlen(v->keys[k]) == n && !strncmp(v->keys[k], path, n)) {
					next = (struct gnarl_value *)&v->items[k];
					break;
				}
		} else if (v->type == GNARL_VALUE_LIST && n > 0 && n < 10 &&
		           strspn(path, "0123456789") >= n) {
			size_t idx = strtoul(path, NULL, 10);

			if (idx < v->count)
				next = (struct gnarl_value *)&v->items[idx];
		}
		v = next;
		path += n;
		if (*path == '.')
			path++;
	}
	return v;
}

const struct gnarl_value *gnarl_value_at(const struct gnarl_value *root, const char *path)
{
	return gnarl_tree_at((struct gnarl_value *)root, path);
}

int64_t gnarl_value_int(const struct gnarl_value *v, int64_t fallback)
{
	return v && v->type == GNARL_VALUE_INT ? v->as.i : fallback;
}

double gnarl_value_float(const struct gnarl_value *v, double fallback)
{
	if (v && v->type == GNARL_VALUE_FLOAT)
		return v->as.f;
	return v && v->type == GNARL_VALUE_INT ? (double)v->as.i : fallback;
}

bool gnarl_value_bool(const struct gnarl_value *v, bool fallback)
{
	return v && v->type == GNARL_VALUE_BOOL ? v->as.b : fallback;
}

const char *gnarl_value_string(const struct gnarl_value *v, const char *fallback)
{
	return v && v->type == GNARL_VALUE_STRING ? v->as.s : fallback;
}

bool gnarl_value_is_null(const struct gnarl_value *v)
{
	return !v || v->type == GNARL_VALUE_NULL;
}

const char *gnarl_value_type_name(enum gnarl_value_type type)
{
	static const char *const names[] = {"null", "bool",  "int", "float",
	                                    "string", "list", "map"};

	return (unsigned)type < 7 ? names[type] : "unknown";
}

const char *gnarl_value_type_noun(enum gnarl_value_type type)
{
	static const char *const nouns[] = {"null", "a bool", "an integer", "a float",
	                                    "a string", "a list", "a map"};

	return (unsigned)type < 7 ? nouns[type] : "an unknown value";
}

bool gnarl_value_equal(const struct gnarl_value *a, const struct gnarl_value *b)
{
	if (!a || !b)
		return a == b;
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case GNARL_VALUE_NULL:
		return true;
	case GNARL_VALUE_BOOL:
		return a->as.b == b->as.b;
	case GNARL_VALUE_INT:
		return a->as.i == b->as.i;
	case GNARL_VALUE_FLOAT:
		return a->as.f == b->as.f || (isnan(a->as.f) && isnan(b->as.f));
	case GNARL_VALUE_STRING:
		return !strcmp(a->as.s, b->as.s);
	case GNARL_VALUE_LIST:
	case GNARL_VALUE_MAP:
		if (a->count != b->count)
			return false;
		for (size_t k = 0; k < a->count; k++) {
			if (a->type == GNARL_VALUE_MAP && strcmp(a->keys[k], b->keys[k]))
				return false;
			if (!gnarl_value_equal(&a->items[k], &b->items[k]))
				return false;
		}
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------------ */
/* Editing                                                                  */

/* Grow a container by one null item (and key); returns the new slot. */
static struct gnarl_value *grow(struct gnarl_tree *t, struct gnarl_value *c, const char *key)
{
	struct gnarl_value *items = gnarl_tree_alloc(t, (c->count + 1) * sizeof(*items));
	const char **keys = NULL;

	if (!items)
		return NULL;
	if (c->count)
		memcpy(items, c->items, c->count * sizeof(*items));
	if (key) {
		keys = gnarl_tree_alloc(t, (c->count + 1) * sizeof(*keys));
		if (!keys)
			return NULL;
		if (c->count)
			memcpy(keys, c->keys, c->count * sizeof(*keys));
		keys[c->count] = gnarl_tree_strdup(t, key);
		if (!keys[c->count])
			return NULL;
		c->keys = keys;
	}
	c->items = items;
	return &items[c->count++];
}

struct gnarl_value *gnarl_tree_map_put(struct gnarl_tree *t, struct gnarl_value *map,
                                       const char *key)
{
	if (map->type == GNARL_VALUE_NULL) {
		gnarl_value_set_null(map);
		map->type = GNARL_VALUE_MAP;
	}
	if (map->type != GNARL_VALUE_MAP)
		return NULL;
	for (size_t k = 0; k < map->count; k++)
		if (!strcmp(map->keys[k], key))
			return (struct gnarl_value *)&map->items[k];
	return grow(t, map, key);
}

struct gnarl_value *gnarl_tree_list_append(struct gnarl_tree *t, struct gnarl_value *list)
{
	if (list->type == GNARL_VALUE_NULL) {
		gnarl_value_set_null(list);
		list->type = GNARL_VALUE_LIST;
	}
	if (list->type != GNARL_VALUE_LIST)
		return NULL;
	return grow(t, list, NULL);
}

int gnarl_tree_copy(struct gnarl_tree *t, struct gnarl_value *dst, const struct gnarl_value *src)
{
	struct gnarl_value v = *src;
	struct gnarl_value *items;
	const char **keys = NULL;

	if (!src->line && !src->column) {
		v.line = dst->line;
		v.column = dst->column;
	}
	memset(v.reserved, 0, sizeof(v.reserved));
	if (src->raw && !(v.raw = gnarl_tree_strdup(t, src->raw)))
		return GNARL_ENOMEM;
	if (src->type == GNARL_VALUE_STRING && !(v.as.s = gnarl_tree_strdup(t, src->as.s)))
		return GNARL_ENOMEM;
	if (src->type == GNARL_VALUE_LIST || src->type == GNARL_VALUE_MAP) {
		items = gnarl_tree_alloc(t, src->count * sizeof(*items));
		if (!items)
			return GNARL_ENOMEM;
		if (src->type == GNARL_VALUE_MAP) {
			keys = gnarl_tree_alloc(t, src->count * sizeof(*keys));
			if (!keys)
				return GNARL_ENOMEM;
		}
		for (size_t k = 0; k < src->count; k++) {
			int rc = gnarl_tree_copy(t, &items[k], &src->items[k]);

			if (rc)
				return rc;
			if (keys && !(keys[k] = gnarl_tree_strdup(t, src->keys[k])))
				return GNARL_ENOMEM;
		}
		v.items = items;
		v.keys = keys;
	}
	*dst = v;
	return 0;
}

/* Keep the node's position and flags, drop its content. */
void gnarl_value_set_null(struct gnarl_value *node)
{
	int line = node->line, column = node->column;
	unsigned flags = node->flags;

	memset(node, 0, sizeof(*node));
	node->line = line;
	node->column = column;
	node->flags = flags;
}

int gnarl_tree_set_string(struct gnarl_tree *t, struct gnarl_value *node, const char *s)
{
	char *d = gnarl_tree_strdup(t, s);

	if (!d)
		return GNARL_ENOMEM;
	gnarl_value_set_null(node);
	node->type = GNARL_VALUE_STRING;
	node->as.s = d;
	return 0;
}

void gnarl_value_set_int(struct gnarl_value *node, int64_t i)
{
	gnarl_value_set_null(node);
	node->type = GNARL_VALUE_INT;
	node->as.i = i;
}

void gnarl_value_set_float(struct gnarl_value *node, double f)
{
	const char *raw = node->raw;

	gnarl_value_set_null(node);
	node->type = GNARL_VALUE_FLOAT;
	node->as.f = f;
	node->raw = raw; /* an int promoted to float keeps its text */
}

void gnarl_value_set_bool(struct gnarl_value *node, bool b)
{
	gnarl_value_set_null(node);
	node->type = GNARL_VALUE_BOOL;
	node->as.b = b;
}

void gnarl_value_flag(struct gnarl_value *node, unsigned flags)
{
	node->flags |= flags;
	for (size_t k = 0; k < node->count; k++)
		gnarl_value_flag((struct gnarl_value *)&node->items[k], flags);
}

void gnarl_value_clear_positions(struct gnarl_value *node)
{
	node->line = node->column = 0;
	for (size_t k = 0; k < node->count; k++)
		gnarl_value_clear_positions((struct gnarl_value *)&node->items[k]);
}
