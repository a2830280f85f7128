/*
 * cmd_config.c - `gnarl config check` (load the config, open every plugin
 * it names and validate all params, without training), `gnarl config
 * show` (the merged config with every default, secrets redacted) and
 * `gnarl config keys` (the core's declared keys, core/schema.c) and `gnarl
 * config reference` (the reference project's and RLlib's settings and the
 * gnarl key for each, core/reference.c).
 *
 * Entry point: gnarl_cmd_config (registered in cli.c).  Exit codes: 0;
 * 2 for a bad command line, config or plugin; 1 otherwise.
 */
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "config.h"
#include "error.h"
#include "plugin_host.h"
#include "reference.h"
#include "registry.h"
#include "schema.h"

int gnarl_cmd_config(int argc, char **argv);

const char gnarl_cmd_config_usage[] =
    "usage: gnarl config check [-c FILE] [--set KEY=VALUE]... [--json]\n"
    "       gnarl config show  [-c FILE] [--set KEY=VALUE]... [--json]\n"
    "       gnarl config keys  [--json]\n"
    "       gnarl config reference [--json]\n"
    "\n"
    "  check  load the config, open every plugin it names (env, rewards, llm,\n"
    "         storage) and validate every key and every plugin's params; print OK\n"
    "         or the first error as FILE:LINE:COL: key: what is wrong (what to do)\n"
    "  show   the merged config as used: file + --set + every default, plugin\n"
    "         params included; secrets are written as their ${VAR} or <redacted>\n"
    "  keys   the core's own keys per section, with types, defaults and ranges\n"
    "  reference  the settings of the reference project (RAY_WORKERS, BATCH_SIZE,\n"
    "         new_room_discovery, ...) and of RLlib's PPO, and the gnarl key that\n"
    "         does the job of each; check names them too when a config uses one\n"
    "\n"
    "  -c FILE            the config (default configs/env.yaml, else the installed one)\n"
    "  --set KEY=VALUE    override any key; VALUE is YAML (--set policy.hidden=[64,64],\n"
    "                     --set rewards.0.weight=30); repeatable\n"
    "  --json             print JSON on stdout\n";

static json_t *entries_json(const struct gnarl_registry *r, enum gnarl_plugin_kind kind)
{
	json_t *a = json_array();

	for (size_t i = 0; i < gnarl_registry_count(r, kind); i++) {
		const struct gnarl_registry_entry *e = gnarl_registry_get(r, kind, i);
		json_t *o = json_object();

		json_object_set_new(o, "slot", json_string(e->slot));
		json_object_set_new(o, "name", json_string(e->name));
		json_object_set_new(o, "plugin", json_string(e->desc->name));
		json_object_set_new(o, "version", json_string(e->desc->version ? e->desc->version
		                                                                : ""));
		json_object_set_new(o, "path", json_string(gnarl_plugin_file(e->lib)));
		json_array_append_new(a, o);
	}
	return a;
}

static void print_names(const char *label, const struct gnarl_registry *r,
                        enum gnarl_plugin_kind kind)
{
	size_t n = gnarl_registry_count(r, kind);

	printf("  %-8s", label);
	if (!n)
		printf(" none");
	for (size_t i = 0; i < n; i++) {
		const struct gnarl_registry_entry *e = gnarl_registry_get(r, kind, i);

		printf("%s %s", i ? "," : "", e->name);
		if (strcmp(e->name, e->desc->name))
			printf(" (%s)", e->desc->name);
	}
	printf("\n");
}

static int check(const struct gnarl_cli_opts *o, const struct gnarl_config *cfg,
                 const struct gnarl_registry *r)
{
	json_t *j;

	if (!o->json) {
		printf("OK: %s\n", cfg->path);
		print_names("env", r, GNARL_KIND_ENV);
		print_names("rewards", r, GNARL_KIND_REWARD);
		print_names("llm", r, GNARL_KIND_LLM);
		print_names("storage", r, GNARL_KIND_STORAGE);
		return GNARL_EXIT_OK;
	}
	j = json_object();
	json_object_set_new(j, "ok", json_true());
	json_object_set_new(j, "config", json_string(cfg->path));
	json_object_set_new(j, "env", entries_json(r, GNARL_KIND_ENV));
	json_object_set_new(j, "rewards", entries_json(r, GNARL_KIND_REWARD));
	json_object_set_new(j, "llm", entries_json(r, GNARL_KIND_LLM));
	json_object_set_new(j, "storage", entries_json(r, GNARL_KIND_STORAGE));
	return gnarl_cli_print_json(j);
}

static int show(const struct gnarl_cli_opts *o, const struct gnarl_config *cfg)
{
	char *text = o->json ? gnarl_value_to_json(cfg->root, false)
	                     : gnarl_value_to_yaml(cfg->root, false);

	if (!text)
		return gnarl_cli_fail(GNARL_ENOMEM, "out of memory");
	if (!o->json)
		printf("# %s%s, with every default filled in\n", cfg->path,
		       cfg->n_sets ? " + --set" : "");
	fputs(text, stdout);
	free(text);
	return GNARL_EXIT_OK;
}

static int keys(const struct gnarl_cli_opts *o)
{
	const struct gnarl_schema_section *s;
	json_t *j;

	if (!o->json) {
		for (s = gnarl_schema_sections(); s->name; s++) {
			printf("%s%s: %s\n", s == gnarl_schema_sections() ? "" : "\n", s->name,
			       s->help);
			if (s->shape == GNARL_SCHEMA_LIST)
				printf("  (a list; each item has these keys)\n");
			if (s->table)
				gnarl_cli_print_params(stdout, s->table, 2);
		}
		return GNARL_EXIT_OK;
	}
	j = json_object();
	for (s = gnarl_schema_sections(); s->name; s++)
		json_object_set_new(j, s->name, s->table ? gnarl_cli_params_json(s->table)
		                                         : json_string(s->help));
	return gnarl_cli_print_json(j);
}

static int reference(const struct gnarl_cli_opts *o)
{
	const struct gnarl_reference_key *k;
	json_t *a;

	if (!o->json) {
		for (k = gnarl_reference_keys(); k->name; k++)
			printf("%-24s %-9s %s\n%24s %9s -> %s\n", k->name, k->source, k->what, "", "",
			       k->use);
		return GNARL_EXIT_OK;
	}
	a = json_array();
	for (k = gnarl_reference_keys(); a && k->name; k++) {
		json_t *e = json_object();

		json_object_set_new(e, "name", json_string(k->name));
		json_object_set_new(e, "source", json_string(k->source));
		json_object_set_new(e, "what", json_string(k->what));
		json_object_set_new(e, "use", json_string(k->use));
		json_object_set_new(e, "environment", json_boolean(k->environment));
		json_array_append_new(a, e);
	}
	return gnarl_cli_print_json(a);
}

/* On --json, a failure is also a JSON document on stdout. */
static int failed(const struct gnarl_cli_opts *o, int code, const char *msg)
{
	json_t *j;

	if (o->json) {
		j = json_object();
		json_object_set_new(j, "ok", json_false());
		json_object_set_new(j, "error", json_string(msg));
		gnarl_cli_print_json(j);
	}
	return gnarl_cli_fail(code, "%s", msg);
}

int gnarl_cmd_config(int argc, char **argv)
{
	struct gnarl_cli_opts o = {0};
	struct gnarl_config *cfg = NULL;
	struct gnarl_registry *r = NULL;
	const char *verb = NULL;
	char err[GNARL_ERR_SIZE], path[4096];
	int rc;

	if (gnarl_cli_parse("config", argc, argv, &o, &verb, 1) < 0)
		return GNARL_EXIT_USAGE;
	if (!verb)
		return gnarl_cli_usage_error("config", "say check, show, keys or reference");
	if (!strcmp(verb, "keys"))
		return keys(&o);
	if (!strcmp(verb, "reference"))
		return reference(&o);
	if (strcmp(verb, "check") && strcmp(verb, "show"))
		return gnarl_cli_usage_error("config", "unknown subcommand '%s'", verb);
	if (!strcmp(verb, "check"))
		gnarl_reference_warn_environment();
	rc = gnarl_cli_config_path(&o, path, sizeof(path), err);
	if (!rc)
		rc = gnarl_config_load(path, o.sets, o.n_sets, &cfg, err);
	if (!rc)
		rc = gnarl_registry_open(cfg, &r, err);
	if (!rc)
		rc = gnarl_archive_check(cfg, gnarl_registry_env(r)->name,
		                         gnarl_registry_env(r)->desc->ops.env, err);
	if (rc)
		rc = failed(&o, rc == GNARL_ENOENT ? GNARL_ECONFIG : rc, err);
	else if (!strcmp(verb, "check"))
		rc = check(&o, cfg, r);
	else
		rc = show(&o, cfg);
	gnarl_registry_free(r);
	gnarl_config_free(cfg);
	return rc;
}
