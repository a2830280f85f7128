/*
 * test_registry.c - opening every plugin a config names: entries per kind,
 * params validated with defaults filled into the config, LLM defaults,
 * the storage plugin serving run.storage, seeds, host tables; and each
 * error with the config position of the slot that named the plugin.
 * Uses the fixture plugins (GNARL_FIXTURE_DIR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "plugin_host.h"
#include "registry.h"

static char path[64];

static struct gnarl_config *load(const char *text)
{
	struct gnarl_config *cfg = NULL;
	char err[GNARL_ERR_SIZE];
	int fd;

	strcpy(path, "/tmp/gnarl_test_registryXXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	if (gnarl_config_load(path, NULL, 0, &cfg, err))
		fail_msg("%s", err);
	unlink(path);
	return cfg;
}

/* Open the registry of text and expect failure; the message with the
 * config's path replaced by "F". */
static void open_err(const char *text, char out[GNARL_ERR_SIZE])
{
	struct gnarl_config *cfg = load(text);
	struct gnarl_registry *r = (void *)1;
	char err[GNARL_ERR_SIZE];

	assert_int_equal(gnarl_registry_open(cfg, &r, err), GNARL_ECONFIG);
	assert_null(r);
	assert_memory_equal(err, path, strlen(path));
	snprintf(out, GNARL_ERR_SIZE, "F%s", err + strlen(path));
	gnarl_config_free(cfg);
}

static int setup(void **state)
{
	(void)state;
	return setenv("GNARL_PLUGIN_PATH", GNARL_FIXTURE_DIR, 1);
}

static const char *const good =
    "run: {storage: 'fixturemem://bucket/runs', seed: 5}\n"
    "env:\n"
    "  plugin: fixture_env\n"
    "  params: {length: 3}\n"
    "rewards:\n"
    "  - plugin: fixture_reward\n"
    "    params: {bonus: 2}\n"
    "  - plugin: fixture_reward\n"
    "    name: second\n"
    "    weight: 0.5\n"
    "llm:\n"
    "  - plugin: fixture_llm\n"
    "  - plugin: fixture_llm\n"
    "    probability: 0.1\n"
    "storage:\n"
    "  fixturemem: {capacity: 8}\n";

static void test_open(void **state)
{
	struct gnarl_config *cfg = load(good);
	const struct gnarl_registry_entry *e, *r0, *r1;
	struct gnarl_registry *r;
	char err[GNARL_ERR_SIZE];
	char *yaml;

	(void)state;
	if (gnarl_registry_open(cfg, &r, err))
		fail_msg("%s", err);
	e = gnarl_registry_env(r);
	assert_string_equal(e->slot, "env");
	assert_string_equal(e->desc->name, "fixture_env");
	assert_int_equal(gnarl_value_int(gnarl_value_get(e->params, "length"), 0), 3);
	assert_int_equal(gnarl_registry_count(r, GNARL_KIND_ENV), 1);
	assert_int_equal(gnarl_registry_count(r, GNARL_KIND_REWARD), 2);
	assert_int_equal(gnarl_registry_count(r, GNARL_KIND_LLM), 2);
	assert_int_equal(gnarl_registry_count(r, GNARL_KIND_STORAGE), 1);
	r0 = gnarl_registry_get(r, GNARL_KIND_REWARD, 0);
	r1 = gnarl_registry_get(r, GNARL_KIND_REWARD, 1);
	assert_null(gnarl_registry_get(r, GNARL_KIND_REWARD, 2));
	assert_string_equal(r0->slot, "rewards.0");
	assert_string_equal(r0->name, "fixture_reward");
	assert_string_equal(r1->name, "second");
	assert_int_equal(r1->index, 1);
	assert_true(gnarl_value_float(gnarl_value_get(r1->section, "weight"), 0) == 0.5);
	/* Params validated, typed and completed in the config itself. */
	assert_int_equal(gnarl_value_get(r0->params, "bonus")->type, GNARL_VALUE_FLOAT);
	assert_string_equal(gnarl_value_string(gnarl_value_at(cfg->root, "rewards.1.params.mode"),
	                                       ""), "add");
	/* LLM defaults from the plugin, explicit values kept. */
	assert_true(gnarl_value_float(gnarl_value_at(cfg->root, "llm.0.probability"), 0) == 0.25);
	assert_true(gnarl_value_float(gnarl_value_at(cfg->root, "llm.0.alignment_bonus"), 0) ==
	            0.5);
	assert_true(gnarl_value_float(gnarl_value_at(cfg->root, "llm.1.probability"), 0) == 0.1);
	/* run.storage's plugin is the listed one. */
	e = gnarl_registry_storage(r, "fixturemem");
	assert_non_null(e);
	assert_int_equal(gnarl_value_int(gnarl_value_get(e->params, "capacity"), 0), 8);
	assert_null(gnarl_registry_storage(r, "local"));
	/* Every slot has its own stream. */
	assert_true(r0->seed != r1->seed);
	assert_true(gnarl_registry_env(r)->seed != r0->seed);
	yaml = gnarl_value_to_yaml(cfg->root, false);
	assert_non_null(strstr(yaml, "  - plugin: fixture_reward\n    params:\n      bonus: 2.0\n"
	                             "      mode: add\n"));
	free(yaml);
	gnarl_registry_free(r);
	gnarl_registry_free(NULL);
	gnarl_config_free(cfg);
}

static void test_instances(void **state)
{
	struct gnarl_config *cfg = load(good);
	const struct gnarl_registry_entry *e;
	struct gnarl_plugin_host *host;
	struct gnarl_registry *r;
	struct gnarl_game_state prev[2] = {{0}}, cur[2] = {{0}};
	int32_t actions[2] = {0, 0};
	float out[2];
	char err[GNARL_ERR_SIZE];
	void *term;

	(void)state;
	assert_int_equal(gnarl_registry_open(cfg, &r, err), 0);
	e = gnarl_registry_get(r, GNARL_KIND_REWARD, 0);
	assert_int_equal(gnarl_registry_host(e, NULL, &host, err), 0);
	assert_int_equal(gnarl_plugin_host_table(host)->seed, e->seed);
	term = e->desc->ops.reward->create(gnarl_plugin_host_table(host), 2, err);
	assert_non_null(term);
	cur[1].rupees = 3;
	e->desc->ops.reward->compute(term, 0, 2, prev, cur, actions, out);
	assert_true(out[0] == 0.0f);
	assert_true(out[1] == 6.0f); /* bonus 2 from the config, 3 rupees */
	e->desc->ops.reward->destroy(term);
	gnarl_plugin_host_free(host);
	gnarl_registry_free(r);
	gnarl_config_free(cfg);
}

static void test_unlisted_storage(void **state)
{
	struct gnarl_config *cfg = load("env: {plugin: fixture_env}\n"
	                                "run: {storage: 'fixturemem://b'}\n");
	const struct gnarl_registry_entry *e;
	struct gnarl_registry *r;
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(gnarl_registry_open(cfg, &r, err), 0);
	e = gnarl_registry_storage(r, "fixturemem");
	assert_non_null(e);
	assert_string_equal(e->slot, "storage.fixturemem");
	/* Added to the config with its defaults, where storage.c looks. */
	assert_int_equal(gnarl_value_int(gnarl_value_at(cfg->root, "storage.fixturemem.capacity"),
	                                 0), 64);
	gnarl_registry_free(r);
	gnarl_config_free(cfg);
}

static void test_errors(void **state)
{
	char err[GNARL_ERR_SIZE];
	const char *head = "run: {storage: 'fixturemem://b'}\nenv: {plugin: fixture_env}\n";
	char text[512];

	(void)state;
	snprintf(text, sizeof(text), "%srewards:\n  - plugin: fixture_reward\n  - plugin: nope\n",
	         head);
	open_err(text, err);
	assert_non_null(strstr(err, "F:5:13: rewards.1.plugin: plugin 'nope' not found: no "
	                        "nope.so in " GNARL_FIXTURE_DIR " (GNARL_PLUGIN_PATH), /tmp (next "
	                        "to the config), /tmp/plugins (next to the config), ") == err
	                    ? err : NULL);
	snprintf(text, sizeof(text), "%srewards:\n  - plugin: fixture_llm\n", head);
	open_err(text, err);
	assert_string_equal(err, "F:4:13: rewards.0.plugin: " GNARL_FIXTURE_DIR "/fixture_llm.so: "
	                    "plugin 'fixture_llm' is an llm plugin, but this slot needs a reward "
	                    "plugin (list it under llm:)");
	open_err("run: {storage: 'fixturemem://b'}\nenv: {plugin: fixture_reward}\n", err);
	assert_string_equal(err, "F:2:15: env.plugin: " GNARL_FIXTURE_DIR "/fixture_reward.so: "
	                    "plugin 'fixture_reward' is a reward plugin, but this slot needs an env "
	                    "plugin (list it under rewards:)");
	snprintf(text, sizeof(text), "%srewards:\n  - plugin: fixture_reward\n    params:\n"
	         "      bonnus: 3\n", head);
	open_err(text, err);
	assert_string_equal(err, "F:6:7: rewards.0.params.bonnus: unknown key (did you mean "
	                    "'bonus'?)");
	snprintf(text, sizeof(text), "%srewards:\n  - plugin: fixture_reward\n    params: "
	         "{bonus: lots}\n", head);
	open_err(text, err);
	assert_string_equal(err, "F:5:21: rewards.0.params.bonus: expected a number, got 'lots' "
	                    "(the default is 1.5)");
	snprintf(text, sizeof(text), "%srewards:\n  - plugin: fixture_reward\n    params: "
	         "{bonus: 101}\n", head);
	open_err(text, err);
	assert_string_equal(err, "F:5:21: rewards.0.params.bonus: 101 is out of range (use a value "
	                    "between 0 and 100)");
	snprintf(text, sizeof(text), "%srewards:\n  - plugin: fixture_createfail\n", head);
	open_err(text, err);
	assert_string_equal(err, "F:4:5: rewards.0.params.answer: missing (required: must be 42)");
	snprintf(text, sizeof(text), "%sllm:\n  - plugin: fixture_abi2\n", head);
	open_err(text, err);
	assert_string_equal(err, "F:4:13: llm.0.plugin: " GNARL_FIXTURE_DIR "/fixture_abi2.so: "
	                    "built for plugin ABI 2.0, but this gnarl speaks ABI 1.1 (rebuild the "
	                    "plugin against this gnarl's SDK)");
	open_err("env: {plugin: fixture_env}\nrun: {storage: 'zzz://b/c'}\n", err);
	assert_memory_equal(err, "F:2:16: run.storage: 'zzz://b/c' is stored by storage plugin "
	                    "'zzz': plugin 'zzz' not found: no zzz.so in ", 98);
	snprintf(text, sizeof(text), "%sstorage:\n  fixture_env: {}\n", head);
	open_err(text, err);
	assert_non_null(strstr(err, "F:4:16: storage.fixture_env: " GNARL_FIXTURE_DIR
	                        "/fixture_env.so: plugin 'fixture_env' is an env plugin, but "
	                        "this slot needs a storage plugin"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open),
	    cmocka_unit_test(test_instances),
	    cmocka_unit_test(test_unlisted_storage),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
