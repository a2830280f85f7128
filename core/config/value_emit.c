/*
 * value_emit.c - write a config tree as YAML or JSON (value.h:
 * gnarl_value_to_yaml, gnarl_value_to_json).
 *
 * Invariants: the output parses back (with value.c's parser) to a tree
 * equal to the input, except for redacted secrets: a node flagged
 * GNARL_VALUE_SECRET is written as its raw "${VAR}" text when it came from
 * the environment (so a saved config re-reads the variable, never the
 * secret) and as "<redacted>" otherwise.  Strings are quoted whenever an
 * unquoted form could read back as another type.
 */
#include "value.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *g = realloc(b->p, cap);

		if (!g) {
			b->oom = true;
			return;
		}
		b->p = g;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void pad(struct sbuf *b, int n)
{
	while (n-- > 0)
		put(b, " ", 1);
}

static char *finish(struct sbuf *b)
{
	if (b->oom || !b->p) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

/* The shortest text that reads back as exactly f, always marked as a
 * float ("1.0", "1.0e-05"), so YAML 1.1 readers agree too. */
static void fmt_float(double f, bool json, char out[64])
{
	char tmp[32], *e;

	if (isnan(f) || isinf(f)) {
		strcpy(out, json ? "null" : isnan(f) ? ".nan" : f < 0 ? "-.inf" : ".inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, f);
		if (strtod(tmp, NULL) == f) {
			/* 10.0 reads better than 1e+01: more digits, same value. */
			int exp10 = (e = strchr(tmp, 'e')) ? atoi(e + 1) : -1;

			if (exp10 >= prec && exp10 < 16)
				snprintf(tmp, sizeof(tmp), "%.*g", exp10 + 1, f);
			break;
		}
	}
	if (strchr(tmp, '.')) {
		strcpy(out, tmp);
	} else if ((e = strchr(tmp, 'e'))) {
		snprintf(out, 64, "%.*s.0%s", (int)(e - tmp), tmp, e);
	} else {
		snprintf(out, 64, "%s.0", tmp);
	}
}

static bool secret(const struct gnarl_value *v, bool reveal)
{
	/* An unset secret (null: taken from the environment) hides nothing
	 * and must stay null so the written config runs again. */
	return !reveal && (v->flags & GNARL_VALUE_SECRET) && v->type != GNARL_VALUE_NULL;
}

/* What a secret is written as. */
static const char *redacted(const struct gnarl_value *v)
{
	return v->raw && strstr(v->raw, "${") ? v->raw : "<redacted>";
}

/* ------------------------------------------------------------------------ */
/* YAML                                                                     */

static bool plain_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || s[0] == ' ' || s[n - 1] == ' ' || gnarl_value_resolve(s) != GNARL_VALUE_STRING)
		return false;
	if (!(s[0] == '_' || s[0] == '.' || s[0] == '/' || (s[0] >= 'a' && s[0] <= 'z') ||
	      (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789_-./+@= ") == n;
}

/* `vars`: write "${" as "$${" so the text does not expand when read back
 * (a redacted secret's raw "${VAR}" is written as is, to expand again). */
static void yaml_string(struct sbuf *b, const char *s, bool vars)
{
	char esc[8];

	if (plain_ok(s)) {
		puts_(b, s);
		return;
	}
	put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (vars && p[0] == '$' && p[1] == '{') {
			puts_(b, "$$");
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(b, esc, 2);
		} else if (*p == '\n') {
			puts_(b, "\\n");
		} else if (*p == '\t') {
			puts_(b, "\\t");
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			puts_(b, esc);
		} else {
			put(b, (const char *)p, 1);
		}
	}
	put(b, "\"", 1);
}

static bool is_scalar(const struct gnarl_value *v, bool reveal)
{
	return secret(v, reveal) ||
	       (v->type != GNARL_VALUE_LIST && v->type != GNARL_VALUE_MAP);
}

/* Written on one line: scalars, empty containers, lists of scalars. */
static bool flow_ok(const struct gnarl_value *v, bool reveal)
{
	if (is_scalar(v, reveal) || v->count == 0)
		return true;
	if (v->type == GNARL_VALUE_MAP)
		return false;
	for (size_t k = 0; k < v->count; k++)
		if (!is_scalar(&v->items[k], reveal))
			return false;
	return true;
}

static void json_string(struct sbuf *b, const char *s);

/* Write a scalar (or a redacted secret) in YAML or JSON; false for a
 * container, which the caller writes. */
static bool scalar(struct sbuf *b, const struct gnarl_value *v, bool json, bool reveal)
{
	char num[64];

	if (secret(v, reveal)) {
		if (json)
			json_string(b, redacted(v));
		else
			yaml_string(b, redacted(v), false);
		return true;
	}
	switch (v->type) {
	case GNARL_VALUE_NULL:
		puts_(b, "null");
		return true;
	case GNARL_VALUE_BOOL:
		puts_(b, v->as.b ? "true" : "false");
		return true;
	case GNARL_VALUE_INT:
		snprintf(num, sizeof(num), "%" PRId64, v->as.i);
		puts_(b, num);
		return true;
	case GNARL_VALUE_FLOAT:
		fmt_float(v->as.f, json, num);
		puts_(b, num);
		return true;
	case GNARL_VALUE_STRING:
		if (json)
			json_string(b, v->as.s);
		else
			yaml_string(b, v->as.s, true);
		return true;
	default:
		return false;
	}
}

static void yaml_flow(struct sbuf *b, const struct gnarl_value *v, bool reveal)
{
	if (scalar(b, v, false, reveal))
		return;
	puts_(b, v->type == GNARL_VALUE_LIST ? "[" : "{");
	for (size_t k = 0; k < v->count; k++) {
		if (k)
			puts_(b, ", ");
		if (v->type == GNARL_VALUE_MAP) {
			yaml_string(b, v->keys[k], false);
			puts_(b, ": ");
		}
		yaml_flow(b, &v->items[k], reveal);
	}
	puts_(b, v->type == GNARL_VALUE_LIST ? "]" : "}");
}

/* A non-empty map or list in block style at `indent`; when `inline_first`
 * the first line continues a "- " already written. */
static void yaml_block(struct sbuf *b, const struct gnarl_value *v, int indent,
                       bool inline_first, bool reveal)
{
	for (size_t k = 0; k < v->count; k++) {
		const struct gnarl_value *c = &v->items[k];

		if (k || !inline_first)
			pad(b, indent);
		if (v->type == GNARL_VALUE_MAP) {
			yaml_string(b, v->keys[k], false);
			puts_(b, ":");
			if (flow_ok(c, reveal)) {
				puts_(b, " ");
				yaml_flow(b, c, reveal);
				puts_(b, "\n");
			} else {
				puts_(b, "\n");
				yaml_block(b, c, indent + 2, false, reveal);
			}
		} else if (flow_ok(c, reveal)) {
			puts_(b, "- ");
			yaml_flow(b, c, reveal);
			puts_(b, "\n");
		} else if (c->type == GNARL_VALUE_MAP) {
			puts_(b, "- ");
			yaml_block(b, c, indent + 2, true, reveal);
		} else {
			puts_(b, "-\n");
			yaml_block(b, c, indent + 2, false, reveal);
		}
	}
}

char *gnarl_value_to_yaml(const struct gnarl_value *v, bool reveal_secrets)
{
	struct sbuf b = {0};

	if (!v)
		puts_(&b, "null\n");
	else if (flow_ok(v, reveal_secrets)) {
		yaml_flow(&b, v, reveal_secrets);
		puts_(&b, "\n");
	} else {
		yaml_block(&b, v, 0, false, reveal_secrets);
	}
	return finish(&b);
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */

static void json_string(struct sbuf *b, const char *s)
{
	char esc[8];

	put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			puts_(b, "\\\"");
			break;
		case '\\':
			puts_(b, "\\\\");
			break;
		case '\n':
			puts_(b, "\\n");
			break;
		case '\r':
			puts_(b, "\\r");
			break;
		case '\t':
			puts_(b, "\\t");
			break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				puts_(b, esc);
			} else {
				put(b, (const char *)p, 1);
			}
		}
	}
	put(b, "\"", 1);
}

static void json_value(struct sbuf *b, const struct gnarl_value *v, int indent, bool reveal)
{
	if (scalar(b, v, true, reveal))
		return;
	puts_(b, v->type == GNARL_VALUE_LIST ? "[" : "{");
	for (size_t k = 0; k < v->count; k++) {
		puts_(b, k ? ",\n" : "\n");
		pad(b, indent + 2);
		if (v->type == GNARL_VALUE_MAP) {
			json_string(b, v->keys[k]);
			puts_(b, ": ");
		}
		json_value(b, &v->items[k], indent + 2, reveal);
	}
	if (v->count) {
		puts_(b, "\n");
		pad(b, indent);
	}
	puts_(b, v->type == GNARL_VALUE_LIST ? "]" : "}");
}

char *gnarl_value_to_json(const struct gnarl_value *v, bool reveal_secrets)
{
	struct sbuf b = {0};

	if (!v)
		puts_(&b, "null");
	else
		json_value(&b, v, 0, reveal_secrets);
	puts_(&b, "\n");
	return finish(&b);
}
