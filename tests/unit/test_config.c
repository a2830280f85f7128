/*
 * test_config.c - loading, --set, the core schema and parameter checking:
 * every error class with the exact message (file, line, column, dotted
 * key, did-you-mean), ${VAR} expansion, defaults, secrets.
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
#include "schema.h"

static char path[64];

/* Write text to a fresh temporary config file (path in `path`). */
static const char *write_config(const char *text)
{
	int fd;

	strcpy(path, "/tmp/gnarl_test_configXXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static struct gnarl_config *load_ok(const char *text, const char *const *sets, int n)
{
	struct gnarl_config *cfg = NULL;
	char err[GNARL_ERR_SIZE] = "";
	int rc = gnarl_config_load(text ? write_config(text) : NULL, sets, n, &cfg, err);

	if (text)
		unlink(path);
	if (rc)
		fail_msg("load failed: %s", err);
	return cfg;
}

/* Load and expect failure; err gets the message with the temp path
 * replaced by "F" so tests can compare whole messages. */
static int load_err(const char *text, const char *const *sets, int n, char err[GNARL_ERR_SIZE])
{
	struct gnarl_config *cfg = NULL;
	char raw[GNARL_ERR_SIZE];
	const char *p;
	int rc = gnarl_config_load(text ? write_config(text) : NULL, sets, n, &cfg, raw);

	if (text)
		unlink(path);
	assert_null(cfg);
	p = text ? strstr(raw, path) : NULL;
	if (p)
		snprintf(err, GNARL_ERR_SIZE, "%.*sF%s", (int)(p - raw), raw, p + strlen(path));
	else
		snprintf(err, GNARL_ERR_SIZE, "%s", raw);
	return rc;
}

#define AT(cfg, key) gnarl_value_at((cfg)->root, key)

static void test_defaults(void **state)
{
	struct gnarl_config *cfg = load_ok(NULL, NULL, 0);
	const struct gnarl_value *hidden = AT(cfg, "policy.hidden");

	(void)state;
	assert_true(gnarl_value_float(AT(cfg, "ppo.gamma"), 0) == 0.99);
	assert_int_equal(AT(cfg, "ppo.learning_rate")->type, GNARL_VALUE_FLOAT);
	assert_true(gnarl_value_float(AT(cfg, "ppo.learning_rate"), 0) == 3e-4);
	assert_int_equal(gnarl_value_int(AT(cfg, "ppo.total_steps"), 0), 10000000);
	assert_int_equal(gnarl_value_int(AT(cfg, "ppo.rollout_steps"), 0), 256);
	assert_int_equal(AT(cfg, "ppo.target_kl")->type, GNARL_VALUE_NULL);
	assert_int_equal(hidden->count, 3);
	assert_int_equal(gnarl_value_int(&hidden->items[2], 0), 256);
	assert_string_equal(gnarl_value_string(AT(cfg, "env.plugin"), ""), "overworld");
	assert_int_equal(gnarl_value_int(AT(cfg, "env.num_envs"), 0), 16);
	assert_string_equal(gnarl_value_string(AT(cfg, "run.storage"), ""), "runs");
	assert_int_equal(gnarl_value_int(AT(cfg, "run.seed"), 0), 1);
	assert_int_equal(gnarl_value_int(AT(cfg, "checkpoint.every"), 0), 50);
	assert_int_equal(gnarl_value_int(AT(cfg, "checkpoint.keep_last"), 0), 5);
	assert_int_equal(gnarl_value_int(AT(cfg, "hud.port"), -1), 0);
	assert_int_equal(AT(cfg, "restore")->type, GNARL_VALUE_NULL);
	assert_int_equal(AT(cfg, "rewards")->type, GNARL_VALUE_LIST);
	assert_int_equal(AT(cfg, "storage")->type, GNARL_VALUE_MAP);
	/* run.name: "<env plugin>-<UTC YYYYmmdd-HHMMSS>" */
	const char *name = gnarl_value_string(AT(cfg, "run.name"), "");
	assert_int_equal(strlen(name), strlen("overworld-20250101-120000"));
	assert_memory_equal(name, "overworld-", 10);
	assert_ptr_equal(gnarl_config_section(cfg, "ppo"), AT(cfg, "ppo"));
	assert_null(gnarl_config_section(cfg, "nope"));
	assert_string_equal(cfg->dir, ".");
	gnarl_config_free(cfg);
}

static void test_file_values(void **state)
{
	struct gnarl_config *cfg = load_ok("run:\n"
	                                   "  name: demo\n"
	                                   "env:\n"
	                                   "  plugin: plugins/my_env.so\n"
	                                   "  params: {size: 8}\n"
	                                   "rewards:\n"
	                                   "  - plugin: movement\n"
	                                   "    weight: 2\n"
	                                   "  - plugin: death\n"
	                                   "    name: dying\n"
	                                   "llm:\n"
	                                   "  - plugin: llm_text\n"
	                                   "    probability: 0.02\n"
	                                   "storage:\n"
	                                   "  s3: {endpoint: x}\n"
	                                   "  local:\n"
	                                   "ppo: {gamma: 1}\n",
	                                   NULL, 0);

	(void)state;
	assert_string_equal(gnarl_value_string(AT(cfg, "run.name"), ""), "demo");
	assert_int_equal(gnarl_value_int(AT(cfg, "env.params.size"), 0), 8);
	/* FLOAT params given as integers arrive as FLOAT. */
	assert_int_equal(AT(cfg, "rewards.0.weight")->type, GNARL_VALUE_FLOAT);
	assert_true(AT(cfg, "rewards.0.weight")->as.f == 2.0);
	assert_true(AT(cfg, "rewards.1.weight")->as.f == 1.0);
	assert_int_equal(AT(cfg, "ppo.gamma")->type, GNARL_VALUE_FLOAT);
	/* A term's name defaults to its plugin's. */
	assert_string_equal(gnarl_value_string(AT(cfg, "rewards.0.name"), ""), "movement");
	assert_string_equal(gnarl_value_string(AT(cfg, "rewards.1.name"), ""), "dying");
	assert_int_equal(AT(cfg, "rewards.0.params")->type, GNARL_VALUE_MAP);
	assert_int_equal(gnarl_value_int(AT(cfg, "llm.0.ttl"), 0), 32);
	assert_int_equal(AT(cfg, "llm.0.alignment_bonus")->type, GNARL_VALUE_NULL);
	assert_int_equal(AT(cfg, "storage.local")->type, GNARL_VALUE_MAP);
	assert_non_null(cfg->path);
	assert_string_equal(cfg->dir, "/tmp");
	gnarl_config_free(cfg);

	/* A path names the run (and a term) by the plugin's file name. */
	cfg = load_ok("env: {plugin: plugins/my_env.so}\nrewards: [{plugin: x/my_term.so}]\n",
	              NULL, 0);
	assert_memory_equal(gnarl_value_string(AT(cfg, "run.name"), ""), "my_env-", 7);
	assert_string_equal(gnarl_value_string(AT(cfg, "rewards.0.name"), ""), "my_term");
	gnarl_config_free(cfg);
	/* An empty file is all defaults. */
	cfg = load_ok("", NULL, 0);
	assert_int_equal(gnarl_value_int(AT(cfg, "ppo.epochs"), 0), 10);
	gnarl_config_free(cfg);
}

static void test_errors(void **state)
{
	char err[GNARL_ERR_SIZE];

	(void)state;
	/* Misspelt key: the closest declared name, at the key itself (an
	 * editor jumps there), not at its value. */
	assert_int_equal(load_err("ppo:\n  gama: 0.9\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:3: ppo.gama: unknown key (did you mean 'gamma'?)");
	assert_int_equal(load_err("rnu: {seed: 2}\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:1:1: rnu: unknown key (did you mean 'run'?)");
	/* A misspelt section whose value starts on the next line. */
	assert_int_equal(load_err("run: {seed: 1}\n\nchekpoint:\n  every: 5\n", NULL, 0, err),
	                 GNARL_ECONFIG);
	assert_string_equal(err, "F:3:1: chekpoint: unknown key (did you mean 'checkpoint'?)");
	assert_int_equal(load_err("ppo:\n  clip:\n    - 1\n", NULL, 0, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "F:2:3: ppo.clip: unknown key"));
	/* Nothing close: the valid keys. */
	assert_int_equal(load_err("hud:\n  colour: red\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:3: hud.colour: unknown key (valid keys: port, bind, token, "
	                         "public)");
	/* A duplicate key names the line of the first one. */
	assert_int_equal(load_err("ppo:\n  gamma:\n    0.9\n  gamma: 0.8\n", NULL, 0, err),
	                 GNARL_ECONFIG);
	assert_non_null(strstr(err, "F:4:3: duplicate key 'gamma' (first at line 2"));
	/* Wrong type. */
	assert_int_equal(load_err("ppo:\n  epochs: ten\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:11: ppo.epochs: expected an integer, got 'ten' "
	                         "(the default is 10)");
	assert_int_equal(load_err("ppo:\n  norm_adv: 1\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:13: ppo.norm_adv: expected true or false, got 1 "
	                         "(the default is true)");
	assert_int_equal(load_err("run:\n  name: [a]\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:9: run.name: expected a string, got a list (run "
	                         "directory name under storage; null: <env plugin>-<UTC "
	                         "YYYYmmdd-HHMMSS>)");
	assert_int_equal(load_err("run:\n  name: 123\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:9: run.name: expected a string, got 123 (quote it: "
	                         "\"123\")");
	assert_int_equal(load_err("ppo: 5\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:1:6: ppo: expected a map, got 5 (the default is {})");
	/* Out of range. */
	assert_int_equal(load_err("ppo:\n  gamma: 1.5\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:10: ppo.gamma: 1.5 is out of range (use a value "
	                         "between 0 and 1)");
	assert_int_equal(load_err("env:\n  num_envs: 0\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:13: env.num_envs: 0 is out of range (use a value >= 1)");
	assert_int_equal(load_err("policy:\n  hidden: [64, 0]\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:16: policy.hidden.1: 0 is out of range (use a value "
	                         ">= 1)");
	assert_int_equal(load_err("policy:\n  hidden: [64, x]\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:16: policy.hidden.1: expected an integer, got 'x' (widths "
	                         "of the hidden layers)");
	assert_int_equal(load_err("hud: {port: 70000}\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:1:13: hud.port: 70000 is out of range (use a value "
	                         "between 0 and 65535)");
	/* Not one of the choices. */
	assert_int_equal(load_err("policy:\n  activation: gelu\n", NULL, 0, err),
	                 GNARL_ECONFIG);
	assert_string_equal(err, "F:2:15: policy.activation: 'gelu' is not one of relu|tanh");
	/* A required key missing: the position of its map. */
	assert_int_equal(load_err("rewards:\n  - weight: 2\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:5: rewards.0.plugin: missing (required: reward plugin: "
	                         "a name or a path to a .so)");
	assert_int_equal(load_err("rewards:\n  - movement\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:5: rewards.0: expected a map, got 'movement' (reward "
	                         "terms: [{plugin, name, weight, params}])");
	assert_int_equal(load_err("rewards: {plugin: x}\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:1:10: rewards: expected a list, got a map (the default is "
	                         "[])");
	assert_int_equal(load_err("storage:\n  S3: {}\n", NULL, 0, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "F:2:7: storage.S3: 'S3' is not a plugin name"));
	assert_int_equal(load_err("storage:\n  s3: 5\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:2:7: storage.s3: expected a map of the s3 plugin's params, "
	                         "got an integer");
	/* Malformed YAML, a non-map file, a missing file. */
	assert_int_equal(load_err("ppo:\n  gamma: 0.9\n   epochs: 3\n", NULL, 0, err),
	                 GNARL_ECONFIG);
	assert_non_null(strstr(err, "F:3:10: malformed YAML: mapping values are not allowed"));
	assert_int_equal(load_err("- a\n- b\n", NULL, 0, err), GNARL_ECONFIG);
	assert_string_equal(err, "F:1:1: the config must be a map of sections (run:, env:, "
	                         "rewards:, ppo:, ...), not a list");
	struct gnarl_config *cfg = NULL;
	assert_int_equal(gnarl_config_load("/nonexistent/x.yaml", NULL, 0, &cfg, err),
	                 GNARL_ECONFIG);
	assert_string_equal(err, "/nonexistent/x.yaml: cannot read the config: No such file or "
	                         "directory (check the path given with -c)");
}

static void test_set(void **state)
{
	const char *sets[] = {"ppo.gamma=0.9", "policy.hidden=[64,64]", "rewards.0.weight=30",
	                      "rewards.1.plugin=death", "run.name=", "env.params.size=4",
	                      "llm.0={plugin: llm_text, ttl: 8}"};
	struct gnarl_config *cfg = load_ok("rewards:\n  - plugin: movement\n", sets, 7);
	const struct gnarl_value *h = AT(cfg, "policy.hidden");

	(void)state;
	assert_true(gnarl_value_float(AT(cfg, "ppo.gamma"), 0) == 0.9);
	assert_int_equal(h->count, 2);
	assert_int_equal(gnarl_value_int(&h->items[1], 0), 64);
	assert_int_equal(AT(cfg, "rewards.0.weight")->type, GNARL_VALUE_FLOAT);
	assert_true(AT(cfg, "rewards.0.weight")->as.f == 30.0);
	assert_string_equal(gnarl_value_string(AT(cfg, "rewards.0.plugin"), ""), "movement");
	/* One past the end appends. */
	assert_string_equal(gnarl_value_string(AT(cfg, "rewards.1.plugin"), ""), "death");
	/* "run.name=" is null: the default name. */
	assert_memory_equal(gnarl_value_string(AT(cfg, "run.name"), ""), "overworld-", 10);
	assert_int_equal(gnarl_value_int(AT(cfg, "env.params.size"), 0), 4);
	assert_int_equal(gnarl_value_int(AT(cfg, "llm.0.ttl"), 0), 8);
	assert_int_equal(cfg->n_sets, 7);
	assert_string_equal(cfg->sets[1], "policy.hidden=[64,64]");
	gnarl_config_free(cfg);
}

static void test_set_errors(void **state)
{
	const char *s1[] = {"ppo.gamma=2"}, *s2[] = {"ppo.gama=0.9"}, *s3[] = {"rewards.5.x=1"},
	           *s4[] = {"ppo"}, *s5[] = {"ppo.gamma.x=1"}, *s6[] = {"policy.hidden=[64,"},
	           *s7[] = {"rewards.0.weight=heavy"}, *s8[] = {"rewards.0.weight=2"};
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(load_err("ppo: {gamma: 0.5}\n", s1, 1, err), GNARL_ECONFIG);
	assert_string_equal(err, "--set ppo.gamma=2: ppo.gamma: 2 is out of range (use a "
	                         "value between 0 and 1)");
	assert_int_equal(load_err(NULL, s2, 1, err), GNARL_ECONFIG);
	assert_string_equal(err, "--set ppo.gama=0.9: ppo.gama: unknown key (did you mean "
	                         "'gamma'?)");
	assert_int_equal(load_err(NULL, s3, 1, err), GNARL_ECONFIG);
	assert_string_equal(err, "--set rewards.5.x=1: rewards is a list of 0 items; '5' is not "
	                         "an index from 0 to 0");
	assert_int_equal(load_err(NULL, s4, 1, err), GNARL_ECONFIG);
	assert_string_equal(err, "--set ppo: expected KEY=VALUE (e.g. --set ppo.gamma=0.98)");
	assert_int_equal(load_err("ppo: {gamma: 0.5}\n", s5, 1, err), GNARL_ECONFIG);
	assert_string_equal(err, "--set ppo.gamma.x=1: ppo.gamma is a float, not a map or list");
	assert_int_equal(load_err(NULL, s6, 1, err), GNARL_ECONFIG);
	assert_memory_equal(err, "--set policy.hidden=[64,:", 25);
	assert_non_null(strstr(err, "malformed YAML"));
	assert_int_equal(load_err("rewards:\n  - plugin: x\n", s7, 1, err), GNARL_ECONFIG);
	assert_string_equal(err, "--set rewards.0.weight=heavy: rewards.0.weight: expected a "
	                         "number, got 'heavy' (the default is 1.0)");
	/* Appending an item without its required key names the --set. */
	assert_int_equal(load_err(NULL, s8, 1, err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "--set rewards.0.weight=2: rewards.0.plugin: missing"));
	(void)s8;
}

static void test_env_vars(void **state)
{
	struct gnarl_config *cfg;
	char err[GNARL_ERR_SIZE];

	(void)state;
	unsetenv("GNARL_TEST_SEED");
	unsetenv("GNARL_TEST_UNSET");
	cfg = load_ok("run:\n  seed: ${GNARL_TEST_SEED:-7}\n  name: run-${GNARL_TEST_SEED:-x}\n",
	              NULL, 0);
	assert_int_equal(gnarl_value_int(AT(cfg, "run.seed"), 0), 7);
	assert_string_equal(gnarl_value_string(AT(cfg, "run.name"), ""), "run-x");
	gnarl_config_free(cfg);

	setenv("GNARL_TEST_SEED", "42", 1);
	cfg = load_ok("run:\n  seed: ${GNARL_TEST_SEED:-7}\n  name: ${GNARL_TEST_SEED}\n", NULL, 0);
	assert_int_equal(gnarl_value_int(AT(cfg, "run.seed"), 0), 42);
	/* A string param reads ${VAR} as text even when it looks like a number. */
	assert_string_equal(gnarl_value_string(AT(cfg, "run.name"), ""), "42");
	assert_string_equal(AT(cfg, "run.name")->raw, "${GNARL_TEST_SEED}");
	gnarl_config_free(cfg);
	unsetenv("GNARL_TEST_SEED");

	assert_int_equal(load_err("run:\n  storage: ${GNARL_TEST_UNSET}/runs\n", NULL, 0, err),
	                 GNARL_ECONFIG);
	assert_string_equal(err, "F:2:12: environment variable GNARL_TEST_UNSET is not set "
	                         "(export it, or write ${GNARL_TEST_UNSET:-default})");
}

static const struct gnarl_param table[] = {
    {"api_key", GNARL_PARAM_STRING, 0, GNARL_PARAM_SECRET, "null", 0, 0, "the key", NULL},
    {"rate", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, "0.5", 0, 1,
     "a rate", NULL},
    {"mode", GNARL_PARAM_STRING, 0, 0, "fast", 0, 0, "how", "fast|slow"},
    {"sizes", GNARL_PARAM_LIST, GNARL_PARAM_INT, GNARL_PARAM_HAS_MIN, "[1]", 1, 0, "sizes",
     NULL},
    {"count", GNARL_PARAM_INT, 0, GNARL_PARAM_REQUIRED, NULL, 0, 0, "how many", NULL},
    {"extra", GNARL_PARAM_MAP, 0, 0, "{}", 0, 0, "anything", NULL},
    GNARL_PARAMS_END,
};

static void test_plugin_params(void **state)
{
	struct gnarl_config *cfg;
	struct gnarl_value *params;
	char err[GNARL_ERR_SIZE], *yaml, *json;

	(void)state;
	setenv("GNARL_TEST_KEY", "sk-very-secret-value", 1);
	cfg = load_ok("env:\n  params:\n    api_key: ${GNARL_TEST_KEY}\n    count: 3\n",
	              NULL, 0);
	params = gnarl_tree_at(cfg->tree ? gnarl_tree_root(cfg->tree) : NULL, "env.params");
	assert_int_equal(gnarl_config_check_params(cfg, params, table, "env.params", err), 0);
	/* Defaults filled, typed as declared. */
	assert_int_equal(gnarl_value_at(params, "rate")->type, GNARL_VALUE_FLOAT);
	assert_true(gnarl_value_at(params, "rate")->as.f == 0.5);
	assert_string_equal(gnarl_value_string(gnarl_value_at(params, "mode"), ""), "fast");
	assert_int_equal(gnarl_value_int(gnarl_value_at(params, "sizes.0"), 0), 1);
	assert_int_equal(gnarl_value_at(params, "extra")->type, GNARL_VALUE_MAP);
	/* Idempotent: checking again is fine. */
	assert_int_equal(gnarl_config_check_params(cfg, params, table, "env.params", err), 0);
	/* The secret is flagged and never emitted. */
	assert_true(gnarl_value_at(params, "api_key")->flags & GNARL_VALUE_SECRET);
	assert_string_equal(gnarl_value_at(params, "api_key")->as.s, "sk-very-secret-value");
	yaml = gnarl_value_to_yaml(cfg->root, false);
	json = gnarl_value_to_json(cfg->root, false);
	assert_null(strstr(yaml, "sk-very"));
	assert_null(strstr(json, "sk-very"));
	assert_non_null(strstr(yaml, "api_key: \"${GNARL_TEST_KEY}\""));
	assert_non_null(strstr(json, "\"api_key\": \"${GNARL_TEST_KEY}\""));
	free(yaml);
	free(json);
	gnarl_config_free(cfg);

	/* A message about a secret never quotes it. */
	cfg = load_ok("env: {params: {count: 1, api_key: 1234567}}\n", NULL, 0);
	params = gnarl_tree_at(gnarl_tree_root(cfg->tree), "env.params");
	assert_int_equal(gnarl_config_check_params(cfg, params, table, "env.params", err),
	                 GNARL_ECONFIG);
	assert_string_equal(err + strlen(cfg->path), ":1:35: env.params.api_key: expected a "
	                                             "string, got an integer (quote it)");
	gnarl_config_free(cfg);

	/* Errors in plugin params name the key under its slot. */
	cfg = load_ok("rewards:\n  - plugin: x\n    params:\n      rat: 0.1\n      count: 1\n",
	              NULL, 0);
	params = gnarl_tree_at(gnarl_tree_root(cfg->tree), "rewards.0.params");
	assert_int_equal(gnarl_config_check_params(cfg, params, table, "rewards.0.params", err),
	                 GNARL_ECONFIG);
	assert_string_equal(err + strlen(cfg->path), ":4:7: rewards.0.params.rat: unknown key "
	                                             "(did you mean 'rate'?)");
	gnarl_config_free(cfg);
	cfg = load_ok("env: {params: {count: 1, mode: medium}}\n", NULL, 0);
	params = gnarl_tree_at(gnarl_tree_root(cfg->tree), "env.params");
	assert_int_equal(gnarl_config_check_params(cfg, params, table, "env.params", err),
	                 GNARL_ECONFIG);
	assert_string_equal(err + strlen(cfg->path), ":1:32: env.params.mode: 'medium' is not "
	                                             "one of fast|slow");
	gnarl_config_free(cfg);
	unlink(path);
}

static void test_params_without_config(void **state)
{
	struct gnarl_tree *t;
	struct gnarl_value *r;
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(gnarl_tree_parse("count: 2\nrate: 1\n", 17, "x", &t, err), 0);
	r = gnarl_tree_root(t);
	assert_int_equal(gnarl_config_check_params(NULL, r, table, "params", err), 0);
	assert_int_equal(gnarl_value_at(r, "rate")->type, GNARL_VALUE_FLOAT);
	assert_null(gnarl_value_at(r, "mode")); /* no tree to own defaults */
	gnarl_tree_free(t);

	assert_int_equal(gnarl_tree_parse("count: 2\nrate: 3\n", 17, "x", &t, err), 0);
	assert_int_equal(gnarl_config_check_params(NULL, gnarl_tree_root(t), table, "params",
	                                           err), GNARL_ECONFIG);
	assert_string_equal(err, "params:2:7: params.rate: 3 is out of range (use a value "
	                         "between 0 and 1)");
	gnarl_tree_free(t);
	assert_int_equal(gnarl_config_check_params(NULL, NULL, table, "params", err),
	                 GNARL_ECONFIG);
	assert_string_equal(err, "params.count: missing (required: how many)");
}

static void test_tables(void **state)
{
	static const struct gnarl_param dup[] = {
	    {"a", GNARL_PARAM_INT, 0, 0, "1", 0, 0, "", NULL},
	    {"a", GNARL_PARAM_INT, 0, 0, "1", 0, 0, "", NULL},
	    GNARL_PARAMS_END,
	};
	static const struct gnarl_param range[] = {
	    {"a", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MAX, "2", 0, 1, "", NULL},
	    GNARL_PARAMS_END,
	};
	static const struct gnarl_param both[] = {
	    {"a", GNARL_PARAM_INT, 0, GNARL_PARAM_REQUIRED, "1", 0, 0, "", NULL},
	    GNARL_PARAMS_END,
	};
	static const struct gnarl_param name[] = {
	    {"Bad-Name", GNARL_PARAM_INT, 0, 0, "1", 0, 0, "", NULL},
	    GNARL_PARAMS_END,
	};
	static const struct gnarl_param type[] = {
	    {"a", GNARL_PARAM_INT, 0, 0, "x", 0, 0, "", NULL},
	    GNARL_PARAMS_END,
	};
	struct gnarl_tree *t;
	char err[GNARL_ERR_SIZE], buf[32];

	(void)state;
	assert_int_equal(gnarl_config_check_table(table, "p", err), 0);
	assert_int_equal(gnarl_config_check_table(gnarl_schema_root(), "core", err), 0);
	for (const struct gnarl_schema_section *s = gnarl_schema_sections(); s->name; s++)
		if (s->table)
			assert_int_equal(gnarl_config_check_table(s->table, s->name, err), 0);
	assert_int_equal(gnarl_config_check_table(dup, "p", err), GNARL_EINVAL);
	assert_string_equal(err, "p: parameter 'a' is declared twice");
	assert_int_equal(gnarl_config_check_table(range, "p", err), GNARL_EINVAL);
	assert_string_equal(err, "p: parameter 'a': default: 2 is out of range (use a value <= 1)");
	assert_int_equal(gnarl_config_check_table(both, "p", err), GNARL_EINVAL);
	assert_int_equal(gnarl_config_check_table(name, "p", err), GNARL_EINVAL);
	assert_int_equal(gnarl_config_check_table(type, "p", err), GNARL_EINVAL);
	assert_non_null(strstr(err, "expected an integer, got 'x'"));

	assert_int_equal(gnarl_config_param_default(&table[3], &t, err), 0);
	assert_int_equal(gnarl_tree_root(t)->type, GNARL_VALUE_LIST);
	gnarl_tree_free(t);
	assert_int_equal(gnarl_config_param_default(&table[4], &t, err), 0);
	assert_int_equal(gnarl_tree_root(t)->type, GNARL_VALUE_NULL);
	gnarl_tree_free(t);
	assert_string_equal(gnarl_param_type_name(&table[3], buf, sizeof(buf)), "list of int");
	assert_int_equal(gnarl_config_distance("gama", "gamma"), 1);
	assert_int_equal(gnarl_config_distance("gmama", "gamma"), 1);
	assert_int_equal(gnarl_config_distance("", "abc"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),  cmocka_unit_test(test_file_values),
	    cmocka_unit_test(test_errors),    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_set_errors), cmocka_unit_test(test_env_vars),
	    cmocka_unit_test(test_plugin_params), cmocka_unit_test(test_params_without_config),
	    cmocka_unit_test(test_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
