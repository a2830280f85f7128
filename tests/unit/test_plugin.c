/*
 * test_plugin.c - the plugin host: every refusal (each message names the
 * file), the lookup order, "not found" listing every place, scanning, and
 * the per-instance host table (params with defaults, gauges, run_put,
 * create failing with the plugin's own message).  Uses the fixture plugins
 * of tests/plugins/ in GNARL_FIXTURE_DIR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "gauges.h"
#include "plugin_host.h"
#include "storage.h"
#include "term.h"
#include "value.h"

#define FIX(name) GNARL_FIXTURE_DIR "/" name ".so"

static char tmp[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmp, "/tmp/gnarl_test_pluginXXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	unsetenv("GNARL_PLUGIN_PATH");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* tmp/<sub>/<name>.so -> target */
static void link_plugin(const char *sub, const char *name, const char *target)
{
	char dir[128], file[192];

	snprintf(dir, sizeof(dir), "%s/%s", tmp, sub);
	mkdir(dir, 0755);
	snprintf(file, sizeof(file), "%s/%s.so", dir, name);
	assert_int_equal(symlink(target, file), 0);
}

static int open_err(const char *name, enum gnarl_plugin_kind kind, char err[GNARL_ERR_SIZE])
{
	struct gnarl_plugin_lib *lib = (void *)1;
	int rc = gnarl_plugin_open(name, kind, NULL, &lib, err);

	assert_null(lib);
	return rc;
}

static void test_open_good(void **state)
{
	struct gnarl_plugin_lib *lib;
	const struct gnarl_plugin *d;
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(gnarl_plugin_open(FIX("fixture_reward"), GNARL_KIND_REWARD, NULL, &lib,
	                                   err), 0);
	d = gnarl_plugin_desc(lib);
	assert_string_equal(d->name, "fixture_reward");
	assert_string_equal(d->version, "1.2.3");
	assert_int_equal(d->kind, GNARL_KIND_REWARD);
	assert_non_null(d->ops.reward->compute);
	assert_string_equal(gnarl_plugin_file(lib), FIX("fixture_reward"));
	assert_string_equal(gnarl_plugin_kind_name(d->kind), "reward");
	gnarl_plugin_close(lib);
	gnarl_plugin_close(NULL);
	/* kind 0 accepts any kind */
	assert_int_equal(gnarl_plugin_open(FIX("fixturemem"), 0, NULL, &lib, err), 0);
	assert_string_equal(gnarl_plugin_desc(lib)->ops.storage->schemes, "fixturemem");
	gnarl_plugin_close(lib);
}

static void test_refusals(void **state)
{
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(open_err(FIX("fixture_noentry"), GNARL_KIND_REWARD, err), GNARL_EINVAL);
	assert_string_equal(err, FIX("fixture_noentry") ": not a gnarl plugin: it exports no "
	                    "gnarl_plugin_entry (declare it with GNARL_PLUGIN_ENTRY(&descriptor))");
	assert_int_equal(open_err(FIX("fixture_abi2"), GNARL_KIND_REWARD, err), GNARL_EVERSION);
	assert_string_equal(err, FIX("fixture_abi2") ": built for plugin ABI 2.0, but this gnarl "
	                    "speaks ABI 1.1 (rebuild the plugin against this gnarl's SDK)");
	assert_int_equal(open_err(FIX("fixture_short"), GNARL_KIND_REWARD, err), GNARL_EVERSION);
	assert_non_null(strstr(err, FIX("fixture_short") ": its descriptor is 16 bytes, smaller "
	                       "than ABI 1.0's"));
	assert_int_equal(open_err(FIX("fixture_noops"), GNARL_KIND_REWARD, err), GNARL_EINVAL);
	assert_string_equal(err, FIX("fixture_noops") ": plugin 'fixture_noops' has no reward ops "
	                    "table (set .ops.reward in its descriptor)");
	assert_int_equal(open_err(FIX("fixture_shortops"), GNARL_KIND_REWARD, err),
	                 GNARL_EVERSION);
	assert_non_null(strstr(err, FIX("fixture_shortops") ": plugin 'fixture_shortops': its "
	                       "reward ops table is 8 bytes, smaller than ABI 1.0's"));
	assert_int_equal(open_err(FIX("fixture_missingop"), GNARL_KIND_REWARD, err), GNARL_EINVAL);
	assert_string_equal(err, FIX("fixture_missingop") ": plugin 'fixture_missingop': its "
	                    "reward ops lack compute (a reward plugin must provide it)");
	assert_int_equal(open_err(FIX("fixture_badparams"), GNARL_KIND_REWARD, err), GNARL_EINVAL);
	assert_string_equal(err, FIX("fixture_badparams") ": plugin 'fixture_badparams': "
	                    "parameter 'rate': default: 2.0 is out of range (use a value <= 1)");
	assert_int_equal(open_err(FIX("fixture_halfmemory"), GNARL_KIND_REWARD, err), GNARL_EINVAL);
	assert_string_equal(err, FIX("fixture_halfmemory") ": plugin 'fixture_halfmemory': its "
	                    "reward ops lack memory_size/connect_memory (both or none) (a reward "
	                    "plugin must provide it)");
	assert_int_equal(open_err(FIX("fixture_narrowparams"), GNARL_KIND_REWARD, err),
	                 GNARL_EVERSION);
	assert_string_equal(err, FIX("fixture_narrowparams") ": plugin 'fixture_narrowparams': its "
	                    "parameters are 8 bytes each, smaller than ABI 1.0's 64 (set "
	                    ".param_size = sizeof(struct gnarl_param))");
	/* Wrong kind for the slot. */
	assert_int_equal(open_err(FIX("fixture_llm"), GNARL_KIND_REWARD, err), GNARL_EKIND);
	assert_string_equal(err, FIX("fixture_llm") ": plugin 'fixture_llm' is an llm plugin, but "
	                    "this slot needs a reward plugin (list it under llm:)");
	assert_int_equal(open_err(FIX("fixture_reward"), GNARL_KIND_ENV, err), GNARL_EKIND);
	assert_string_equal(err, FIX("fixture_reward") ": plugin 'fixture_reward' is a reward "
	                    "plugin, but this slot needs an env plugin (list it under rewards:)");
	/* Not a shared object at all. */
	assert_int_equal(open_err(GNARL_SOURCE_DIR "/README.md/x.so", 0, err), GNARL_ENOENT);
	assert_int_equal(open_err("Bad-Name", 0, err), GNARL_EINVAL);
	assert_string_equal(err, "'Bad-Name' is not a plugin name ([a-z0-9_]+) nor a path to a .so");
}

static void test_not_a_library(void **state)
{
	char err[GNARL_ERR_SIZE], file[128];
	FILE *f;

	(void)state;
	snprintf(file, sizeof(file), "%s/text.so", tmp);
	f = fopen(file, "w");
	fputs("not an ELF file\n", f);
	fclose(f);
	assert_int_equal(open_err(file, 0, err), GNARL_EINVAL);
	assert_memory_equal(err, file, strlen(file));
	assert_non_null(strstr(err, ": cannot load: "));
}

static void test_lookup_order(void **state)
{
	struct gnarl_plugin_lib *lib;
	char err[GNARL_ERR_SIZE], a[160], cfgdir[128];

	(void)state;
	/* "dup" is a reward in a/, an env in cfg/plugins/ and an llm in cfg/. */
	link_plugin("a", "dup", FIX("fixture_reward"));
	link_plugin("cfg", "dup", FIX("fixture_llm"));
	link_plugin("cfg/plugins", "dup", FIX("fixture_env"));
	link_plugin("cfg/plugins", "only_in_sub", FIX("fixture_env"));
	snprintf(a, sizeof(a), "/nonexistent:%s/a", tmp);
	snprintf(cfgdir, sizeof(cfgdir), "%s/cfg", tmp);

	setenv("GNARL_PLUGIN_PATH", a, 1);
	assert_int_equal(gnarl_plugin_open("dup", 0, cfgdir, &lib, err), 0);
	assert_int_equal(gnarl_plugin_desc(lib)->kind, GNARL_KIND_REWARD);
	gnarl_plugin_close(lib);
	unsetenv("GNARL_PLUGIN_PATH");
	assert_int_equal(gnarl_plugin_open("dup", 0, cfgdir, &lib, err), 0);
	assert_int_equal(gnarl_plugin_desc(lib)->kind, GNARL_KIND_LLM);
	gnarl_plugin_close(lib);
	assert_int_equal(gnarl_plugin_open("only_in_sub", 0, cfgdir, &lib, err), 0);
	assert_int_equal(gnarl_plugin_desc(lib)->kind, GNARL_KIND_ENV);
	gnarl_plugin_close(lib);
	/* The first hit wins even when it is the wrong kind: no silent fallback. */
	setenv("GNARL_PLUGIN_PATH", a, 1);
	assert_int_equal(gnarl_plugin_open("dup", GNARL_KIND_ENV, cfgdir, &lib, err), GNARL_EKIND);
	unsetenv("GNARL_PLUGIN_PATH");
	/* An explicit path relative to the config's directory. */
	assert_int_equal(gnarl_plugin_open("plugins/dup.so", 0, cfgdir, &lib, err), 0);
	assert_int_equal(gnarl_plugin_desc(lib)->kind, GNARL_KIND_ENV);
	gnarl_plugin_close(lib);
	assert_int_equal(gnarl_plugin_open("plugins/nope.so", 0, cfgdir, &lib, err),
	                 GNARL_ENOENT);
	assert_non_null(strstr(err, "plugin file plugins/nope.so not found (nor "));
}

static void test_not_found_lists_places(void **state)
{
	struct gnarl_plugin_lib *lib;
	char err[GNARL_ERR_SIZE], path[256], want[512], text[2048];

	(void)state;
	snprintf(path, sizeof(path), "%s/p1:%s/p2", tmp, tmp);
	setenv("GNARL_PLUGIN_PATH", path, 1);
	assert_int_equal(gnarl_plugin_open("missing_thing", GNARL_KIND_REWARD, "/etc/gnarlcfg",
	                                   &lib, err), GNARL_ENOENT);
	assert_null(lib);
	assert_memory_equal(err, "plugin 'missing_thing' not found: no missing_thing.so in ", 55);
	snprintf(want, sizeof(want), "%s/p1 (GNARL_PLUGIN_PATH), %s/p2 (GNARL_PLUGIN_PATH), "
	         "/etc/gnarlcfg (next to the config), /etc/gnarlcfg/plugins (next to the config), ",
	         tmp, tmp);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "/tests/plugins (the build tree), "));
	assert_non_null(strstr(err, "/tests/../lib/gnarl/plugins (the install), "));
	assert_non_null(strstr(err, GNARL_PLUGIN_INSTALL_DIR " (the install) (build it, add its "
	                       "directory to GNARL_PLUGIN_PATH, or give the path to the .so)"));
	gnarl_plugin_search_text("/etc/gnarlcfg", text, sizeof(text));
	assert_non_null(strstr(text, "/etc/gnarlcfg/plugins (next to the config)\n"));
	unsetenv("GNARL_PLUGIN_PATH");
}

struct seen {
	int good, bad;
	char names[512];
};

static void on_good(void *ctx, struct gnarl_plugin_lib *lib)
{
	struct seen *s = ctx;

	if (strncmp(gnarl_plugin_file(lib), GNARL_FIXTURE_DIR, strlen(GNARL_FIXTURE_DIR)))
		return;
	s->good++;
	strcat(s->names, gnarl_plugin_desc(lib)->name);
	strcat(s->names, " ");
}

static void on_bad(void *ctx, const char *file, const char *msg)
{
	struct seen *s = ctx;

	if (strncmp(file, GNARL_FIXTURE_DIR, strlen(GNARL_FIXTURE_DIR)))
		return;
	assert_memory_equal(msg, file, strlen(file)); /* the refusal names the file */
	s->bad++;
}

static void test_scan(void **state)
{
	struct seen s = {0};
	char err[GNARL_ERR_SIZE];

	(void)state;
	setenv("GNARL_PLUGIN_PATH", GNARL_FIXTURE_DIR, 1);
	assert_int_equal(gnarl_plugin_scan_all(NULL, on_good, on_bad, &s, err), 0);
	assert_string_equal(s.names, "fixture_createfail fixture_env fixture_llm fixture_reward "
	                             "fixture_v10_rooms fixture_wideparams fixturemem ");
	assert_int_equal(s.good, 7);
	assert_int_equal(s.bad, 10); /* the refusal fixtures and fixture_env_halfstate */
	unsetenv("GNARL_PLUGIN_PATH");
}

static double gauge_value;

static void read_gauge(void *ctx, const char *name, double value)
{
	if (!strcmp(name, ctx))
		gauge_value = value;
}

static void test_host_table(void **state)
{
	struct gnarl_plugin_lib *lib;
	struct gnarl_plugin_host *ph;
	struct gnarl_gauges *g;
	struct gnarl_tree *t;
	const struct gnarl_host *h;
	const struct gnarl_plugin *d;
	struct gnarl_host_context ctx = {0};
	char err[GNARL_ERR_SIZE];
	void *term;

	(void)state;
	assert_int_equal(gnarl_plugin_open(FIX("fixture_reward"), GNARL_KIND_REWARD, NULL, &lib,
	                                   err), 0);
	d = gnarl_plugin_desc(lib);
	assert_int_equal(gnarl_tree_parse("bonus: 3\nsizes: [4]\n", 20, "p", &t, err), 0);
	assert_int_equal(gnarl_config_check_params(NULL, gnarl_tree_root(t), d->params, "params",
	                                           err), 0);
	assert_int_equal(gnarl_gauges_create(&g), 0);
	ctx.gauges = g;
	ctx.rank = 2;
	ctx.world_size = 4;
	assert_int_equal(gnarl_plugin_host_create(lib, gnarl_tree_root(t), &ctx, 99, "rewards.0",
	                                          &ph, err), 0);
	h = gnarl_plugin_host_table(ph);
	assert_int_equal(h->size, sizeof(struct gnarl_host));
	assert_int_equal(h->abi_version, GNARL_ABI_VERSION);
	assert_true(gnarl_param_float(h, "bonus", 0) == 3.0);
	assert_int_equal(h->param(h, "bonus")->type, GNARL_VALUE_FLOAT);
	assert_int_equal(gnarl_value_int(&h->param(h, "sizes")->items[0], 0), 4);
	/* Declared defaults stand behind params checked without a config. */
	assert_string_equal(gnarl_param_string(h, "mode", ""), "add");
	assert_false(gnarl_param_bool(h, "verbose", true));
	assert_null(h->param(h, "token"));  /* optional, null by default */
	assert_null(h->param(h, "undeclared"));
	assert_int_equal(h->seed, 99);
	assert_int_equal(h->rank, 2);
	assert_int_equal(h->world_size, 4);
	assert_string_equal(h->config_dir, ".");
	/* run_put needs the run's storage. */
	assert_int_equal(h->run_put(h, "x", "y", 1, err), GNARL_EUNSUPPORTED);
	assert_string_equal(err, "fixture_reward: this process has no run storage (run_put works "
	                         "during training only)");
	/* The plugin's create logs and sets a gauge through the table. */
	term = d->ops.reward->create(h, 4, err);
	assert_non_null(term);
	gnarl_gauges_each(g, read_gauge, "fixture_reward/created");
	assert_true(gauge_value == 1.0);
	d->ops.reward->destroy(term);
	gnarl_plugin_host_free(ph);
	gnarl_plugin_host_free(NULL);
	/* No params at all: every default. */
	assert_int_equal(gnarl_plugin_host_create(lib, NULL, NULL, 0, NULL, &ph, err), 0);
	h = gnarl_plugin_host_table(ph);
	assert_true(gnarl_param_float(h, "bonus", 0) == 1.5);
	assert_int_equal(h->world_size, 1);
	gnarl_plugin_host_free(ph);
	gnarl_gauges_free(g);
	gnarl_tree_free(t);
	gnarl_plugin_close(lib);
}

static void test_run_put(void **state)
{
	struct gnarl_plugin_lib *lib;
	struct gnarl_plugin_host *ph;
	struct gnarl_storage *st;
	struct gnarl_run_dir run;
	struct gnarl_host_context ctx = {0};
	const struct gnarl_host *h;
	char err[GNARL_ERR_SIZE], file[160], buf[16] = "";
	FILE *f;

	(void)state;
	/* The local storage plugin is built in every gnarl tree. */
	if (access(GNARL_BUILD_DIR "/plugins/local.so", F_OK) != 0)
		fail_msg("%s/plugins/local.so is not built", GNARL_BUILD_DIR);
	setenv("GNARL_PLUGIN_PATH", GNARL_BUILD_DIR "/plugins", 1);
	assert_int_equal(gnarl_storage_open(NULL, tmp, &st, err), 0);
	assert_int_equal(gnarl_plugin_open(FIX("fixture_reward"), 0, NULL, &lib, err), 0);
	run = (struct gnarl_run_dir){st, "myrun"};
	ctx.run_put = gnarl_storage_run_put;
	ctx.run = &run;
	assert_int_equal(gnarl_plugin_host_create(lib, NULL, &ctx, 0, "rewards.0", &ph, err), 0);
	h = gnarl_plugin_host_table(ph);
	assert_int_equal(h->run_put(h, "notes/a.txt", "hello", 5, err), 0);
	snprintf(file, sizeof(file), "%s/myrun/notes/a.txt", tmp);
	f = fopen(file, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "hello");
	assert_int_equal(h->run_put(h, "/abs", "x", 1, err), GNARL_EINVAL);
	gnarl_plugin_host_free(ph);
	/* the trainer's prefix ends in '/' ("<run.name>/"): one '/', not two */
	run = (struct gnarl_run_dir){st, "trainer/"};
	assert_int_equal(gnarl_plugin_host_create(lib, NULL, &ctx, 0, "rewards.0", &ph, err), 0);
	h = gnarl_plugin_host_table(ph);
	assert_int_equal(h->run_put(h, "b.txt", "hi", 2, err), 0);
	snprintf(file, sizeof(file), "%s/trainer/b.txt", tmp);
	assert_int_equal(access(file, F_OK), 0);
	gnarl_plugin_host_free(ph);
	gnarl_plugin_close(lib);
	gnarl_storage_close(st);
	unsetenv("GNARL_PLUGIN_PATH");
}

/* What env 0 of a term made from lib with params `yaml` pays for a step
 * from room 1 to room 2 after an episode started in room 1. */
static float pay_once(struct gnarl_plugin_lib *lib, const char *yaml)
{
	struct gnarl_game_state s[2] = {{.size = GNARL_GAME_STATE_V1_SIZE, .room = 1},
	                                {.size = GNARL_GAME_STATE_V1_SIZE, .room = 2}};
	struct gnarl_plugin_host *ph;
	struct gnarl_term *t;
	struct gnarl_tree *params;
	char err[GNARL_ERR_SIZE] = "";
	int32_t action = 0;
	float out = -1;

	assert_int_equal(gnarl_tree_parse(yaml, strlen(yaml), "params", &params, err), 0);
	if (gnarl_config_check_params(NULL, gnarl_tree_root(params), gnarl_plugin_desc(lib)->params,
	                              "params", err) ||
	    gnarl_plugin_host_create(lib, gnarl_tree_root(params), NULL, 1, "rewards.0", &ph, err) ||
	    gnarl_term_create(gnarl_plugin_desc(lib)->ops.reward, gnarl_plugin_host_table(ph), 1, &t,
	                      err))
		fail_msg("%s", err);
	assert_int_equal(t->memory_size, 0);
	gnarl_term_episode_start(t, 0, &s[0]);
	gnarl_term_compute(t, 0, 1, &s[0], &s[1], &action, &out);
	gnarl_term_free(t);
	gnarl_plugin_host_free(ph);
	gnarl_tree_free(params);
	return out;
}

/* Other minors of ABI 1: a plugin built against the frozen 1.0 header
 * (tests/plugins/abi-1.0) and one of a later minor whose parameter
 * entries are wider (param_size) load, and their tables read right. */
static void test_other_minors(void **state)
{
	struct gnarl_plugin_lib *lib;
	const struct gnarl_plugin *d;
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(gnarl_plugin_open(FIX("fixture_v10_rooms"), GNARL_KIND_REWARD, NULL, &lib,
	                                   err), 0);
	d = gnarl_plugin_desc(lib);
	assert_int_equal(d->abi_version, 1u << 16);
	assert_int_equal(d->size, GNARL_PLUGIN_V1_SIZE);
	assert_int_equal(d->ops.reward->size,
	                 offsetof(struct gnarl_reward_ops, load) + sizeof(void (*)(void)));
	assert_string_equal(d->params[0].default_yaml, "3");
	assert_null(d->params[1].name);
	assert_true(pay_once(lib, "{}") == 3.0f);
	assert_true(pay_once(lib, "{new_room: 8}") == 8.0f);
	gnarl_plugin_close(lib);

	assert_int_equal(gnarl_plugin_open(FIX("fixture_wideparams"), GNARL_KIND_REWARD, NULL, &lib,
	                                   err), 0);
	d = gnarl_plugin_desc(lib);
	assert_string_equal(d->params[0].name, "speed");
	assert_string_equal(d->params[0].default_yaml, "2.5");
	assert_true(d->params[0].max == 10);
	assert_string_equal(d->params[1].name, "count");
	assert_string_equal(d->params[1].default_yaml, "7");
	assert_string_equal(d->params[2].name, "mode");
	assert_string_equal(d->params[2].choices, "a|b|c");
	assert_null(d->params[3].name);
	assert_true(pay_once(lib, "{}") == 17.5f);
	assert_true(pay_once(lib, "{speed: 4, count: 2}") == 8.0f);
	gnarl_plugin_close(lib);
}

static void test_create_fails(void **state)
{
	struct gnarl_plugin_lib *lib;
	struct gnarl_plugin_host *ph;
	const struct gnarl_plugin *d;
	struct gnarl_tree *t;
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(gnarl_plugin_open(FIX("fixture_createfail"), GNARL_KIND_REWARD, NULL,
	                                   &lib, err), 0);
	d = gnarl_plugin_desc(lib);
	/* Its REQUIRED param, missing. */
	assert_int_equal(gnarl_config_check_params(NULL, NULL, d->params, "rewards.0.params", err),
	                 GNARL_ECONFIG);
	assert_string_equal(err, "rewards.0.params.answer: missing (required: must be 42)");
	assert_int_equal(gnarl_tree_parse("answer: 41", 10, "p", &t, err), 0);
	assert_int_equal(gnarl_config_check_params(NULL, gnarl_tree_root(t), d->params, "p", err),
	                 0);
	assert_int_equal(gnarl_plugin_host_create(lib, gnarl_tree_root(t), NULL, 0, "rewards.0",
	                                          &ph, err), 0);
	err[0] = '\0';
	assert_null(d->ops.reward->create(gnarl_plugin_host_table(ph), 1, err));
	assert_int_equal(gnarl_plugin_create_failed(lib, "rewards.0", err), GNARL_ECONFIG);
	assert_string_equal(err, "rewards.0: plugin 'fixture_createfail' ("
	                    FIX("fixture_createfail") ") failed to start: answer must be 42, got 41");
	err[0] = '\0';
	gnarl_plugin_create_failed(lib, "rewards.0", err);
	assert_non_null(strstr(err, "failed to start: (the plugin gave no reason)"));
	gnarl_plugin_host_free(ph);
	gnarl_tree_free(t);
	gnarl_plugin_close(lib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_a_library, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_found_lists_places, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_put, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_minors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
