/*
 * cmd_plugins.c - `gnarl plugins list` (every plugin on the search path:
 * name, kind, version, path, summary; refused files as warnings) and
 * `gnarl plugins show NAME|PATH` (the descriptor and its parameter table).
 *
 * Entry point: gnarl_cmd_plugins (registered in cli.c).  Exit codes: 0;
 * 2 for a bad command line or a plugin that cannot be found or is
 * refused; 1 when no plugin is found at all.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "error.h"
#include "plugin_host.h"

int gnarl_cmd_plugins(int argc, char **argv);

const char gnarl_cmd_plugins_usage[] =
    "usage: gnarl plugins list [--json] [-c FILE]\n"
    "       gnarl plugins show NAME|PATH [--json] [-c FILE]\n"
    "\n"
    "  list   every plugin found: name, kind, version, file and summary.  Files\n"
    "         that are refused (wrong ABI, not a plugin, ...) are reported on\n"
    "         stderr with the reason.\n"
    "  show   one plugin's descriptor and parameter table: type, default, range or\n"
    "         choices, flags (required, secret) and help.  NAME is looked up like\n"
    "         a config's plugin names; PATH (containing '/' or ending in .so) is\n"
    "         loaded as given.\n"
    "\n"
    "Search order for a NAME: GNARL_PLUGIN_PATH (':'-separated), the directory\n"
    "of -c FILE and its plugins/, the build tree or install next to this gnarl,\n"
    "then the install's lib/gnarl/plugins.\n"
    "  --json     print JSON on stdout\n"
    "  -c FILE    also look next to this config\n";

struct listing {
	bool json;
	int found;
	json_t *plugins, *refused;
};

static json_t *desc_json(const struct gnarl_plugin_lib *lib)
{
	const struct gnarl_plugin *d = gnarl_plugin_desc(lib);
	json_t *o = json_object();
	char abi[32];

	snprintf(abi, sizeof(abi), "%u.%u", d->abi_version >> 16, d->abi_version & 0xffff);
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "kind", json_string(gnarl_plugin_kind_name(d->kind)));
	json_object_set_new(o, "version", json_string(d->version ? d->version : ""));
	json_object_set_new(o, "abi", json_string(abi));
	json_object_set_new(o, "path", json_string(gnarl_plugin_file(lib)));
	json_object_set_new(o, "summary", json_string(d->summary ? d->summary : ""));
	return o;
}

static void on_plugin(void *ctx, struct gnarl_plugin_lib *lib)
{
	struct listing *l = ctx;
	const struct gnarl_plugin *d = gnarl_plugin_desc(lib);

	l->found++;
	if (l->json) {
		json_array_append_new(l->plugins, desc_json(lib));
		return;
	}
	printf("%-20s %-8s %-9s %s\n%-20s %s\n", d->name, gnarl_plugin_kind_name(d->kind),
	       d->version ? d->version : "", d->summary ? d->summary : "", "",
	       gnarl_plugin_file(lib));
}

static void on_refused(void *ctx, const char *file, const char *msg)
{
	struct listing *l = ctx;
	json_t *o;

	fprintf(stderr, "gnarl: warning: refused %s\n", msg);
	if (!l->json)
		return;
	o = json_object();
	json_object_set_new(o, "path", json_string(file));
	json_object_set_new(o, "error", json_string(msg));
	json_array_append_new(l->refused, o);
}

static int list(const struct gnarl_cli_opts *o, const char *config_dir)
{
	struct listing l = {.json = o->json};
	char err[GNARL_ERR_SIZE], dirs[4096];
	json_t *out;

	if (o->json) {
		l.plugins = json_array();
		l.refused = json_array();
	} else {
		printf("%-20s %-8s %-9s %s\n", "NAME", "KIND", "VERSION", "SUMMARY / FILE");
	}
	gnarl_plugin_scan_all(config_dir, on_plugin, on_refused, &l, err);
	if (o->json) {
		out = json_object();
		json_object_set_new(out, "plugins", l.plugins);
		json_object_set_new(out, "refused", l.refused);
		if (gnarl_cli_print_json(out))
			return GNARL_EXIT_FAILURE;
	}
	if (l.found == 0) {
		gnarl_plugin_search_text(config_dir, dirs, sizeof(dirs));
		fprintf(stderr, "gnarl: error: no plugins found; searched:\n%s(build gnarl, or set "
		                "GNARL_PLUGIN_PATH)\n", dirs);
		return GNARL_EXIT_FAILURE;
	}
	return GNARL_EXIT_OK;
}

static void print_kind_extras(const struct gnarl_plugin *d)
{
	if (d->kind == GNARL_KIND_LLM)
		printf("  default probability %g per env per step, alignment bonus %g%s\n",
		       d->ops.llm->default_probability, d->ops.llm->default_alignment_bonus,
		       d->ops.llm->flags & GNARL_LLM_WANTS_FRAME ? ", wants frames" : "");
	else if (d->kind == GNARL_KIND_STORAGE)
		printf("  serves URI schemes: %s\n", d->ops.storage->schemes);
}

static int show(const struct gnarl_cli_opts *o, const char *config_dir, const char *name)
{
	struct gnarl_plugin_lib *lib;
	const struct gnarl_plugin *d;
	char err[GNARL_ERR_SIZE];
	json_t *j;
	int rc = gnarl_plugin_open(name, 0, config_dir, &lib, err);

	if (rc)
		return gnarl_cli_fail(GNARL_EINVAL, "%s", err);
	d = gnarl_plugin_desc(lib);
	if (o->json) {
		j = desc_json(lib);
		if (d->kind == GNARL_KIND_LLM) {
			json_object_set_new(j, "default_probability",
			                    json_real(d->ops.llm->default_probability));
			json_object_set_new(j, "default_alignment_bonus",
			                    json_real(d->ops.llm->default_alignment_bonus));
			json_object_set_new(j, "wants_frames",
			                    json_boolean(d->ops.llm->flags & GNARL_LLM_WANTS_FRAME));
		} else if (d->kind == GNARL_KIND_STORAGE) {
			json_object_set_new(j, "schemes", json_string(d->ops.storage->schemes));
		}
		json_object_set_new(j, "params", gnarl_cli_params_json(d->params));
		rc = gnarl_cli_print_json(j);
	} else {
		printf("%s %s (%s plugin, ABI %u.%u)\n  %s\n  file: %s\n", d->name,
		       d->version ? d->version : "", gnarl_plugin_kind_name(d->kind),
		       d->abi_version >> 16, d->abi_version & 0xffff, d->summary ? d->summary : "",
		       gnarl_plugin_file(lib));
		print_kind_extras(d);
		printf("\nparameters:\n");
		gnarl_cli_print_params(stdout, d->params, 2);
	}
	gnarl_plugin_close(lib);
	return rc;
}

int gnarl_cmd_plugins(int argc, char **argv)
{
	struct gnarl_cli_opts o = {0};
	const char *words[2] = {NULL, NULL}, *verb, *name;
	char *dir = NULL;
	int rc;

	if (gnarl_cli_parse("plugins", argc, argv, &o, words, 2) < 0)
		return GNARL_EXIT_USAGE;
	verb = words[0];
	name = words[1];
	if (o.n_sets)
		return gnarl_cli_usage_error("plugins", "--set does not apply to plugins");
	if (o.config) {
		const char *slash = strrchr(o.config, '/');

		dir = slash ? strndup(o.config, (size_t)(slash - o.config)) : strdup(".");
		if (!dir)
			return gnarl_cli_fail(GNARL_ENOMEM, "out of memory");
	}
	if (!verb)
		rc = gnarl_cli_usage_error("plugins", "say list or show NAME");
	else if (!strcmp(verb, "list") && !name)
		rc = list(&o, dir);
	else if (!strcmp(verb, "show") && name)
		rc = show(&o, dir, name);
	else if (!strcmp(verb, "show"))
		rc = gnarl_cli_usage_error("plugins", "show needs a plugin NAME or PATH");
	else if (!strcmp(verb, "list"))
		rc = gnarl_cli_usage_error("plugins", "list takes no argument ('%s')", name);
	else
		rc = gnarl_cli_usage_error("plugins", "unknown subcommand '%s'", verb);
	free(dir);
	return rc;
}
