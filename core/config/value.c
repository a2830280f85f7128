/*
 * value.c - config trees: YAML (libyaml's event parser) into struct
 * gnarl_value nodes with 1-based line/column on every node, ${VAR} and
 * ${VAR:-default} expansion, and YAML 1.2 core-schema typing.  A tree's
 * memory, reading and editing are in value_edit.c, the emitters in
 * value_emit.c.
 *
 * Entry points: gnarl_tree_parse, gnarl_value_resolve (value.h).
 *
 * Invariants: the parser allocates only through gnarl_tree_alloc and
 * gnarl_tree_strdup, so the tree it returns owns every byte it points to.
 */
#include "value.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "error.h"

#define MAX_DEPTH 64
#define MAX_NODES 1000000 /* bounds alias expansion ("billion laughs") */

/* ------------------------------------------------------------------------ */
/* Scalars: ${VAR} expansion and YAML 1.2 core-schema typing                */

/* Expand ${VAR} and ${VAR:-default} in s into a malloc'ed string. */
static int expand(const char *s, char **out, const char *where, char err[GNARL_ERR_SIZE])
{
	size_t cap = strlen(s) + 1, n = 0;
	char *d = malloc(cap);

	if (!d)
		return GNARL_ENOMEM;
	while (*s) {
		const char *piece = s, *val = NULL;
		size_t len = 1;

		if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
			piece = "${";
			len = 2;
			s += 3;
		} else if (s[0] == '$' && s[1] == '{') {
			const char *name = s + 2, *end = strchr(name, '}');
			const char *dflt = NULL;
			size_t nlen = 0;
			char var[256];

			while (isalnum((unsigned char)name[nlen]) || name[nlen] == '_')
				nlen++;
			if (!end || nlen == 0 || isdigit((unsigned char)name[0]) ||
			    nlen >= sizeof(var) ||
			    (name + nlen != end && strncmp(name + nlen, ":-", 2) != 0)) {
				free(d);
				return gnarl_err(err, GNARL_ECONFIG,
				                 "%s: malformed variable reference '%.40s' "
				                 "(write ${NAME} or ${NAME:-default})",
				                 where, s);
			}
			if (name + nlen != end)
				dflt = name + nlen + 2;
			memcpy(var, name, nlen);
			var[nlen] = '\0';
			val = getenv(var);
			if (val && *val) {
				piece = val;
				len = strlen(val);
			} else if (dflt) {
				piece = dflt;
				len = (size_t)(end - dflt);
			} else {
				free(d);
				return gnarl_err(err, GNARL_ECONFIG,
				                 "%s: environment variable %s is %s (export it, "
				                 "or write ${%s:-default})",
				                 where, var, val ? "empty" : "not set", var);
			}
			s = end + 1;
		} else {
			s++;
		}
		if (n + len + 1 > cap) {
			char *g;

			cap = (n + len + 1) * 2;
			g = realloc(d, cap);
			if (!g) {
				free(d);
				return GNARL_ENOMEM;
			}
			d = g;
		}
		memcpy(d + n, piece, len);
		n += len;
	}
	d[n] = '\0';
	*out = d;
	return 0;
}

static bool is_null_text(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int bool_text(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	return -1;
}

/* 1: an integer (in *i), 0: not an integer, -1: an integer out of range. */
static int int_text(const char *s, int64_t *i)
{
	const char *p = s;
	int base = 10;
	char *end;
	long long v;

	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && p[1] == 'x' && s == p) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] == 'o' && s == p) {
		base = 8;
		p += 2;
	}
	if (!*p)
		return 0;
	for (const char *q = p; *q; q++)
		if (!(base == 16 ? isxdigit((unsigned char)*q)
		                 : *q >= '0' && *q < '0' + base))
			return 0;
	errno = 0;
	v = strtoll(base == 10 ? s : p, &end, base);
	if (errno == ERANGE)
		return -1;
	*i = v;
	return 1;
}

static bool float_text(const char *s, double *f)
{
	const char *p = s;
	bool digits = false;

	if (*p == '-' || *p == '+')
		p++;
	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
		*f = *s == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (s == p && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
		*f = NAN;
		return true;
	}
	while (isdigit((unsigned char)*p)) {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p)
		return false;
	*f = strtod(s, NULL);
	return true;
}

/* Type an unquoted scalar's (expanded) text into v. */
static int resolve_plain(struct gnarl_tree *t, struct gnarl_value *v, const char *s,
                         const char *where, char err[GNARL_ERR_SIZE])
{
	int b = bool_text(s), r;
	int64_t i;
	double f;

	if (is_null_text(s)) {
		v->type = GNARL_VALUE_NULL;
	} else if (b >= 0) {
		v->type = GNARL_VALUE_BOOL;
		v->as.b = b;
	} else if ((r = int_text(s, &i)) != 0) {
		if (r < 0)
			return gnarl_err(err, GNARL_ECONFIG,
			                 "%s: integer %s does not fit in 64 bits "
			                 "(write it as a float: %s.0)",
			                 where, s, s);
		v->type = GNARL_VALUE_INT;
		v->as.i = i;
	} else if (float_text(s, &f)) {
		v->type = GNARL_VALUE_FLOAT;
		v->as.f = f;
	} else {
		v->type = GNARL_VALUE_STRING;
		v->as.s = gnarl_tree_strdup(t, s);
		if (!v->as.s)
			return GNARL_ENOMEM;
	}
	return 0;
}

enum gnarl_value_type gnarl_value_resolve(const char *text)
{
	int64_t i;
	double f;

	if (is_null_text(text))
		return GNARL_VALUE_NULL;
	if (bool_text(text) >= 0)
		return GNARL_VALUE_BOOL;
	if (int_text(text, &i) != 0)
		return GNARL_VALUE_INT;
	if (float_text(text, &f))
		return GNARL_VALUE_FLOAT;
	return GNARL_VALUE_STRING;
}

/* ------------------------------------------------------------------------ */
/* The parser                                                               */

struct anchor {
	char *name;
	struct gnarl_value v;
};

struct parser {
	yaml_parser_t yp;
	struct gnarl_tree *t;
	char *err;
	struct anchor *anchors;
	size_t n_anchors;
	size_t nodes;
	int depth;
};

/* A growable list of items (and keys) while a collection is parsed. */
struct vec {
	struct gnarl_value *items;
	char **keys;
	int (*at)[2]; /* each key's line and column */
	size_t n, cap;
};

static int parse_node(struct parser *p, yaml_event_t *ev, struct gnarl_value *out);

static void position(struct parser *p, yaml_mark_t m, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%zu:%zu", gnarl_tree_name(p->t), m.line + 1, m.column + 1);
}

static int next_event(struct parser *p, yaml_event_t *ev)
{
	char at[300];

	if (yaml_parser_parse(&p->yp, ev))
		return 0;
	if (p->yp.error == YAML_MEMORY_ERROR)
		return GNARL_ENOMEM;
	position(p, p->yp.problem_mark, at, sizeof(at));
	return gnarl_err(p->err, GNARL_ECONFIG,
	                 "%s: malformed YAML: %s%s%s (check the indentation, colons and "
	                 "quotes on this line and the one above)",
	                 at, p->yp.problem ? p->yp.problem : "syntax error",
	                 p->yp.context ? ", " : "", p->yp.context ? p->yp.context : "");
}

static int vec_push(struct vec *v, char *key, yaml_mark_t key_at, struct gnarl_value **slot)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		struct gnarl_value *items = realloc(v->items, cap * sizeof(*items));
		char **keys;
		int(*at)[2];

		if (!items)
			return GNARL_ENOMEM;
		v->items = items;
		keys = realloc(v->keys, cap * sizeof(*keys));
		if (!keys)
			return GNARL_ENOMEM;
		v->keys = keys;
		at = realloc(v->at, cap * sizeof(*at));
		if (!at)
			return GNARL_ENOMEM;
		v->at = at;
		v->cap = cap;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	v->keys[v->n] = key;
	v->at[v->n][0] = (int)key_at.line + 1;
	v->at[v->n][1] = (int)key_at.column + 1;
	*slot = &v->items[v->n++];
	return 0;
}

/* Move the vec's items into tree memory as out's children. */
static int vec_finish(struct parser *p, struct vec *v, struct gnarl_value *out, bool map)
{
	struct gnarl_value *items = gnarl_tree_alloc(p->t, v->n * sizeof(*items));
	char **keys = NULL;

	if (!items)
		return GNARL_ENOMEM;
	if (v->n)
		memcpy(items, v->items, v->n * sizeof(*items));
	if (map) {
		keys = gnarl_tree_alloc(p->t, v->n * sizeof(*keys));
		if (!keys || gnarl_tree_note_keys(p->t, items, v->at, v->n))
			return GNARL_ENOMEM;
		if (v->n)
			memcpy(keys, v->keys, v->n * sizeof(*keys));
	}
	out->items = items;
	out->keys = (const char *const *)keys;
	out->count = v->n;
	return 0;
}

static int parse_scalar(struct parser *p, yaml_event_t *ev, struct gnarl_value *out)
{
	const char *text = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	char at[300], *s = NULL;
	int rc;

	position(p, ev->start_mark, at, sizeof(at));
	out->raw = gnarl_tree_strdup(p->t, text);
	if (!out->raw)
		return GNARL_ENOMEM;
	rc = expand(text, &s, at, p->err);
	if (rc)
		return rc;
	if (tag && strcmp(tag, YAML_STR_TAG) == 0) {
		plain = false;
	} else if (tag && strcmp(tag, "!") != 0) {
		const char *want = NULL;

		rc = resolve_plain(p->t, out, s, at, p->err);
		if (!strcmp(tag, YAML_INT_TAG))
			want = out->type == GNARL_VALUE_INT ? NULL : "an integer";
		else if (!strcmp(tag, YAML_FLOAT_TAG))
			want = out->type == GNARL_VALUE_FLOAT || out->type == GNARL_VALUE_INT
			           ? NULL : "a float";
		else if (!strcmp(tag, YAML_BOOL_TAG))
			want = out->type == GNARL_VALUE_BOOL ? NULL : "true or false";
		else if (!strcmp(tag, YAML_NULL_TAG))
			want = out->type == GNARL_VALUE_NULL ? NULL : "null";
		else
			want = "";
		if (!rc && want && !*want)
			rc = gnarl_err(p->err, GNARL_ECONFIG,
			               "%s: unsupported tag %s (remove it; gnarl reads "
			               "plain YAML)", at, tag);
		else if (!rc && want)
			rc = gnarl_err(p->err, GNARL_ECONFIG, "%s: tag %s needs %s, got '%s'",
			               at, tag, want, s);
		if (!rc && !strcmp(tag, YAML_FLOAT_TAG) && out->type == GNARL_VALUE_INT)
			gnarl_value_set_float(out, (double)out->as.i);
		free(s);
		return rc;
	}
	if (plain) {
		rc = resolve_plain(p->t, out, s, at, p->err);
	} else {
		out->type = GNARL_VALUE_STRING;
		out->as.s = gnarl_tree_strdup(p->t, s);
		rc = out->as.s ? 0 : GNARL_ENOMEM;
	}
	free(s);
	return rc;
}

static int parse_collection(struct parser *p, yaml_event_t *start, struct gnarl_value *out)
{
	bool map = start->type == YAML_MAPPING_START_EVENT;
	yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	struct vec v = {0};
	yaml_event_t ev;
	char at[300];
	int rc = 0;

	out->type = map ? GNARL_VALUE_MAP : GNARL_VALUE_LIST;
	if (++p->depth > MAX_DEPTH) {
		position(p, start->start_mark, at, sizeof(at));
		return gnarl_err(p->err, GNARL_ECONFIG, "%s: nested more than %d levels deep",
		                 at, MAX_DEPTH);
	}
	for (;;) {
		struct gnarl_value *slot;
		char *key = NULL;
		yaml_mark_t key_at = {0};

		if ((rc = next_event(p, &ev)))
			break;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			break;
		}
		if (map) {
			position(p, ev.start_mark, at, sizeof(at));
			if (ev.type != YAML_SCALAR_EVENT) {
				rc = gnarl_err(p->err, GNARL_ECONFIG,
				               "%s: a key must be a plain name, not a list or map",
				               at);
				yaml_event_delete(&ev);
				break;
			}
			key = gnarl_tree_strdup(p->t, (const char *)ev.data.scalar.value);
			key_at = ev.start_mark;
			for (size_t k = 0; key && k < v.n; k++)
				if (!strcmp(v.keys[k], key)) {
					rc = gnarl_err(p->err, GNARL_ECONFIG,
					               "%s: duplicate key '%s' (first at line %d; "
					               "keep one)", at, key, v.at[k][0]);
					break;
				}
			yaml_event_delete(&ev);
			if (!key)
				rc = GNARL_ENOMEM;
			if (rc || (rc = next_event(p, &ev)))
				break;
		}
		rc = vec_push(&v, key, key_at, &slot);
		if (!rc)
			rc = parse_node(p, &ev, slot);
		yaml_event_delete(&ev);
		if (rc)
			break;
	}
	p->depth--;
	if (!rc)
		rc = vec_finish(p, &v, out, map);
	free(v.items);
	free(v.keys);
	free(v.at);
	return rc;
}

static int remember_anchor(struct parser *p, const char *name, const struct gnarl_value *v)
{
	struct anchor *a = realloc(p->anchors, (p->n_anchors + 1) * sizeof(*a));

	if (!a)
		return GNARL_ENOMEM;
	p->anchors = a;
	a[p->n_anchors].name = strdup(name);
	if (!a[p->n_anchors].name)
		return GNARL_ENOMEM;
	a[p->n_anchors++].v = *v;
	return 0;
}

static size_t count_nodes(const struct gnarl_value *v)
{
	size_t n = 1;

	for (size_t k = 0; k < v->count; k++)
		n += count_nodes(&v->items[k]);
	return n;
}

/* One node starting at event ev (which the caller deletes). */
static int parse_node(struct parser *p, yaml_event_t *ev, struct gnarl_value *out)
{
	const char *anchor = NULL;
	char at[300];
	int rc;

	out->line = (int)ev->start_mark.line + 1;
	out->column = (int)ev->start_mark.column + 1;
	if (++p->nodes > MAX_NODES) {
		position(p, ev->start_mark, at, sizeof(at));
		return gnarl_err(p->err, GNARL_ECONFIG, "%s: more than %d nodes", at, MAX_NODES);
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		rc = parse_scalar(p, ev, out);
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		rc = parse_collection(p, ev, out);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		rc = parse_collection(p, ev, out);
		break;
	case YAML_ALIAS_EVENT:
		for (size_t a = p->n_anchors; a-- > 0;)
			if (!strcmp(p->anchors[a].name, (const char *)ev->data.alias.anchor)) {
				p->nodes += count_nodes(&p->anchors[a].v);
				if (p->nodes > MAX_NODES)
					break;
				return gnarl_tree_copy(p->t, out, &p->anchors[a].v);
			}
		position(p, ev->start_mark, at, sizeof(at));
		return gnarl_err(p->err, GNARL_ECONFIG, "%s: unknown or too large alias *%s",
		                 at, (const char *)ev->data.alias.anchor);
	default:
		position(p, ev->start_mark, at, sizeof(at));
		return gnarl_err(p->err, GNARL_ECONFIG, "%s: malformed YAML (unexpected event)",
		                 at);
	}
	if (!rc && anchor)
		rc = remember_anchor(p, anchor, out);
	return rc;
}

static int parse_document(struct parser *p)
{
	yaml_event_t ev;
	int rc, docs = 0;
	char at[300];

	for (;;) {
		if ((rc = next_event(p, &ev)))
			return rc;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				position(p, ev.start_mark, at, sizeof(at));
				yaml_event_delete(&ev);
				return gnarl_err(p->err, GNARL_ECONFIG,
				                 "%s: a second YAML document (a config is one "
				                 "document: remove the '---')", at);
			}
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_ALIAS_EVENT:
			rc = parse_node(p, &ev, gnarl_tree_root(p->t));
			if (!rc && ev.type == YAML_SCALAR_EVENT &&
			    gnarl_tree_root(p->t)->type == GNARL_VALUE_NULL &&
			    !*ev.data.scalar.value && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
				gnarl_tree_root(p->t)->type = GNARL_VALUE_MAP; /* empty document */
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc)
			return rc;
	}
}

int gnarl_tree_parse(const char *text, size_t len, const char *name, struct gnarl_tree **out,
                     char err[GNARL_ERR_SIZE])
{
	struct parser p = {.err = err};
	int rc;

	*out = NULL;
	if (gnarl_tree_create(name, &p.t))
		return gnarl_err(err, GNARL_ENOMEM, "out of memory parsing %s", name);
	if (!yaml_parser_initialize(&p.yp)) {
		gnarl_tree_free(p.t);
		return gnarl_err(err, GNARL_ENOMEM, "out of memory parsing %s", name);
	}
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);
	rc = parse_document(&p);
	yaml_parser_delete(&p.yp);
	for (size_t a = 0; a < p.n_anchors; a++)
		free(p.anchors[a].name);
	free(p.anchors);
	if (rc) {
		if (rc == GNARL_ENOMEM)
			gnarl_err(err, rc, "out of memory parsing %s", name);
		gnarl_tree_free(p.t);
		return rc;
	}
	*out = p.t;
	return 0;
}
