/*
 * cli_params.c - print a struct gnarl_param table for people (aligned
 * columns) and for programs (JSON): used by `gnarl plugins show` and
 * `gnarl config keys` (cli.h: gnarl_cli_print_params,
 * gnarl_cli_params_json).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "value.h"

/* "[0, 1]", ">= 1", "relu|tanh", or "". */
static void limits(const struct gnarl_param *p, char *buf, size_t size)
{
	bool lo = p->flags & GNARL_PARAM_HAS_MIN, hi = p->flags & GNARL_PARAM_HAS_MAX;

	if (p->choices)
		snprintf(buf, size, "%s", p->choices);
	else if (lo && hi)
		snprintf(buf, size, "[%g, %g]", p->min, p->max);
	else if (lo)
		snprintf(buf, size, ">= %g", p->min);
	else if (hi)
		snprintf(buf, size, "<= %g", p->max);
	else
		buf[0] = '\0';
}

static void flags(const struct gnarl_param *p, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", p->flags & GNARL_PARAM_REQUIRED ? "required" : "",
	         (p->flags & GNARL_PARAM_REQUIRED) && (p->flags & GNARL_PARAM_SECRET) ? "," : "",
	         p->flags & GNARL_PARAM_SECRET ? "secret" : "");
}

/* The default as written in the table, cut to fit a column (the JSON
 * output has it whole). */
static const char *dflt(const struct gnarl_param *p, char buf[40])
{
	const char *d = p->flags & GNARL_PARAM_REQUIRED ? "-"
	                : p->default_yaml              ? p->default_yaml
	                                               : "null";
	size_t n = strcspn(d, "\n");

	if (n <= 30)
		snprintf(buf, 40, "%.*s", (int)n, d);
	else
		snprintf(buf, 40, "%.27s...", d);
	return buf;
}

void gnarl_cli_print_params(FILE *f, const struct gnarl_param *table, int indent)
{
	int w[5] = {4, 4, 7, 5, 5};
	char type[32], lim[256], fl[32], def[40];

	if (!table || !table->name) {
		fprintf(f, "%*s(no parameters)\n", indent, "");
		return;
	}
	for (const struct gnarl_param *p = table; p->name; p++) {
		int len[5];

		gnarl_param_type_name(p, type, sizeof(type));
		limits(p, lim, sizeof(lim));
		flags(p, fl, sizeof(fl));
		len[0] = (int)strlen(p->name);
		len[1] = (int)strlen(type);
		len[2] = (int)strlen(dflt(p, def));
		len[3] = (int)strlen(lim);
		len[4] = (int)strlen(fl);
		for (int i = 0; i < 5; i++)
			w[i] = len[i] > w[i] ? len[i] : w[i];
	}
	fprintf(f, "%*s%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", indent, "", w[0], "NAME", w[1],
	        "TYPE", w[2], "DEFAULT", w[3], "RANGE", w[4], "FLAGS", "HELP");
	for (const struct gnarl_param *p = table; p->name; p++) {
		gnarl_param_type_name(p, type, sizeof(type));
		limits(p, lim, sizeof(lim));
		flags(p, fl, sizeof(fl));
		fprintf(f, "%*s%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", indent, "", w[0], p->name, w[1],
		        type, w[2], dflt(p, def), w[3], lim, w[4], fl, p->help ? p->help : "");
	}
}

/* The default as JSON (null for none or when it does not parse). */
static json_t *default_json(const struct gnarl_param *p)
{
	struct gnarl_tree *t = NULL;
	char err[GNARL_ERR_SIZE], *text;
	json_t *j = NULL;

	if (gnarl_config_param_default(p, &t, err) == 0) {
		text = gnarl_value_to_json(gnarl_tree_root(t), true);
		if (text)
			j = json_loads(text, JSON_DECODE_ANY, NULL);
		free(text);
	}
	gnarl_tree_free(t);
	return j ? j : json_null();
}

static json_t *choices_json(const char *choices)
{
	json_t *a = json_array();

	while (a && choices && *choices) {
		size_t n = strcspn(choices, "|");

		json_array_append_new(a, json_stringn(choices, n));
		choices += n + (choices[n] == '|');
	}
	return a;
}

json_t *gnarl_cli_params_json(const struct gnarl_param *table)
{
	json_t *a = json_array();
	char type[32];

	for (const struct gnarl_param *p = table; a && p && p->name; p++) {
		json_t *o = json_object();
		struct gnarl_param bare = *p;

		if (!o)
			break;
		bare.item = 0;
		json_object_set_new(o, "name", json_string(p->name));
		json_object_set_new(o, "type", json_string(gnarl_param_type_name(&bare, type,
		                                                                  sizeof(type))));
		if (p->type == GNARL_PARAM_LIST && p->item) {
			bare.type = p->item;
			json_object_set_new(o, "item", json_string(gnarl_param_type_name(
			                                   &bare, type, sizeof(type))));
		}
		json_object_set_new(o, "default", default_json(p));
		json_object_set_new(o, "required", json_boolean(p->flags & GNARL_PARAM_REQUIRED));
		json_object_set_new(o, "secret", json_boolean(p->flags & GNARL_PARAM_SECRET));
		if (p->flags & GNARL_PARAM_HAS_MIN)
			json_object_set_new(o, "min", json_real(p->min));
		if (p->flags & GNARL_PARAM_HAS_MAX)
			json_object_set_new(o, "max", json_real(p->max));
		if (p->choices)
			json_object_set_new(o, "choices", choices_json(p->choices));
		json_object_set_new(o, "help", json_string(p->help ? p->help : ""));
		json_array_append_new(a, o);
	}
	return a;
}
