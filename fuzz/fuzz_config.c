/*
 * fuzz_config.c - the YAML config as `gnarl train -c FILE --set K=V` reads
 * it: the YAML parser (anchors, ${VAR} expansion, scalar typing), the
 * --set overrides, the core schema and, when every plugin the config
 * names is an in-tree plugin, the registry's validation of each plugin's
 * params block.
 *
 * Input: the config file's text, optionally followed by a line "#--set"
 * and one --set argument per line.
 *
 * Oracles besides the sanitizers: a loaded config's YAML and JSON forms
 * parse back (the YAML to an equal tree), and every refusal comes with a
 * message.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "registry.h"
#include "value.h"

#define MAX_SETS 8

static char path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The in-tree plugins of the same build, and no other .so. */
	setenv("GNARL_PLUGIN_PATH", GNARL_FUZZ_PLUGIN_DIR, 0); /* campaign.sh may point elsewhere */
	setenv("GNARL_FUZZ_VAR", "0.5", 1);
	gnarl_log_set_level(GNARL_LOG_ERROR);
	snprintf(path, sizeof(path), "%s/config.yaml", fuzz_dir());
	return 0;
}

/* A plugin named by a path would make the registry dlopen any file on
 * the machine (a feature: configs may name a .so); names only here. */
static bool names_only(const struct gnarl_value *root)
{
	static const char *const lists[] = {"rewards", "llm"};
	const struct gnarl_value *v = gnarl_value_at(root, "env.plugin");
	const char *s;

	if (v && (s = gnarl_value_string(v, NULL)) && (strchr(s, '/') || strstr(s, ".so")))
		return false;
	for (size_t k = 0; k < 2; k++) {
		const struct gnarl_value *l = gnarl_value_get(root, lists[k]);

		for (size_t i = 0; l && l->type == GNARL_VALUE_LIST && i < l->count; i++) {
			s = gnarl_value_string(gnarl_value_get(&l->items[i], "plugin"), NULL);
			if (s && (strchr(s, '/') || strstr(s, ".so")))
				return false;
		}
	}
	v = gnarl_value_get(root, "storage");
	for (size_t i = 0; v && v->type == GNARL_VALUE_MAP && i < v->count; i++)
		if (strchr(v->keys[i], '/') || strstr(v->keys[i], ".so"))
			return false;
	return true;
}

static void check_message(const char *err)
{
	size_t n = strnlen(err, GNARL_ERR_SIZE);

	FUZZ_CHECK(n > 0 && n < GNARL_ERR_SIZE, "an error without a message (or unterminated)");
}

static void check_round_trip(const struct gnarl_value *root)
{
	char err[GNARL_ERR_SIZE];
	struct gnarl_tree *back = NULL;
	char *yaml = gnarl_value_to_yaml(root, true);
	char *js = gnarl_value_to_json(root, true);
	json_error_t jerr;
	json_t *j;

	if (!yaml || !js)
		abort(); /* out of memory on a fuzz input: a leak or a bomb */
	FUZZ_CHECK(gnarl_tree_parse(yaml, strlen(yaml), "emitted", &back, err) == 0,
	           "the emitted YAML does not parse: %s\n%s", err, yaml);
	FUZZ_CHECK(gnarl_value_equal(root, gnarl_tree_root(back)),
	           "the emitted YAML reads back different:\n%s", yaml);
	j = json_loads(js, JSON_DECODE_ANY, &jerr);
	FUZZ_CHECK(j != NULL, "the emitted JSON does not parse (%s):\n%s", jerr.text, js);
	json_decref(j);
	gnarl_tree_free(back);
	free(yaml);
	free(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *parts[MAX_SETS + 2], *sets[MAX_SETS];
	size_t lens[MAX_SETS + 2], n_parts, n_sets = 0;
	char err[GNARL_ERR_SIZE];
	struct gnarl_config *cfg = NULL;
	struct gnarl_registry *reg = NULL;
	char *set_text = NULL;
	int rc;

	if (size > 64 * 1024)
		return -1; /* configs are small; big inputs only slow the search */
	n_parts = fuzz_split(data, size, "#--set", parts, lens, 2);
	fuzz_write(path, parts[0], lens[0]);
	if (n_parts == 2) {
		char *line, *save = NULL;

		set_text = fuzz_strndup(parts[1], lens[1]);
		for (line = strtok_r(set_text, "\n", &save); line && n_sets < MAX_SETS;
		     line = strtok_r(NULL, "\n", &save))
			sets[n_sets++] = line;
	}
	err[0] = '\0';
	rc = gnarl_config_load(path, sets, (int)n_sets, &cfg, err);
	if (rc) {
		check_message(err);
		goto out;
	}
	check_round_trip(cfg->root);
	if (names_only(cfg->root)) {
		err[0] = '\0';
		if (gnarl_registry_open(cfg, &reg, err) == 0)
			check_round_trip(cfg->root); /* with the plugins' defaults filled */
		else
			check_message(err);
	}
out:
	gnarl_registry_free(reg);
	gnarl_config_free(cfg);
	free(set_text);
	return 0;
}
