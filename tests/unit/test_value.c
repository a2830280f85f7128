/*
 * test_value.c - config trees: YAML typing and positions, ${VAR}
 * expansion, malformed input, lookup, editing, equality, and the YAML and
 * JSON emitters (round trip through our parser, JSON checked with jansson
 * as an independent reader, secrets redacted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "value.h"

static struct gnarl_tree *parse_ok(const char *text)
{
	struct gnarl_tree *t = NULL;
	char err[GNARL_ERR_SIZE] = "";
	int rc = gnarl_tree_parse(text, strlen(text), "t.yaml", &t, err);

	if (rc)
		fail_msg("parse failed: %s", err);
	return t;
}

static int parse_err(const char *text, char err[GNARL_ERR_SIZE])
{
	struct gnarl_tree *t = NULL;
	int rc = gnarl_tree_parse(text, strlen(text), "t.yaml", &t, err);

	assert_null(t);
	return rc;
}

static void test_scalar_types(void **state)
{
	struct gnarl_tree *t = parse_ok("a: ~\n"
	                                "b: true\n"
	                                "c: -42\n"
	                                "d: 3e-4\n"
	                                "e: hello world\n"
	                                "f: \"123\"\n"
	                                "g: 0x1f\n"
	                                "h: .inf\n"
	                                "i:\n"
	                                "j: 'true'\n"
	                                "k: !!str 7\n"
	                                "l: 1.\n"
	                                "m: 12abc\n");
	const struct gnarl_value *r = gnarl_tree_root(t);

	(void)state;
	assert_int_equal(r->type, GNARL_VALUE_MAP);
	assert_int_equal(r->count, 13);
	assert_int_equal(gnarl_value_at(r, "a")->type, GNARL_VALUE_NULL);
	assert_true(gnarl_value_bool(gnarl_value_at(r, "b"), false));
	assert_int_equal(gnarl_value_int(gnarl_value_at(r, "c"), 0), -42);
	assert_int_equal(gnarl_value_at(r, "d")->type, GNARL_VALUE_FLOAT);
	assert_true(gnarl_value_float(gnarl_value_at(r, "d"), 0) == 3e-4);
	assert_string_equal(gnarl_value_string(gnarl_value_at(r, "e"), ""), "hello world");
	assert_string_equal(gnarl_value_string(gnarl_value_at(r, "f"), ""), "123");
	assert_int_equal(gnarl_value_int(gnarl_value_at(r, "g"), 0), 31);
	assert_true(gnarl_value_float(gnarl_value_at(r, "h"), 0) > 1e308);
	assert_int_equal(gnarl_value_at(r, "i")->type, GNARL_VALUE_NULL);
	assert_string_equal(gnarl_value_string(gnarl_value_at(r, "j"), ""), "true");
	assert_string_equal(gnarl_value_string(gnarl_value_at(r, "k"), ""), "7");
	assert_int_equal(gnarl_value_at(r, "l")->type, GNARL_VALUE_FLOAT);
	assert_string_equal(gnarl_value_string(gnarl_value_at(r, "m"), ""), "12abc");
	/* Raw text is the scalar as written. */
	assert_string_equal(gnarl_value_at(r, "d")->raw, "3e-4");
	gnarl_tree_free(t);
}

static void test_positions_and_lookup(void **state)
{
	struct gnarl_tree *t = parse_ok("ppo:\n"
	                                "  gamma: 0.99\n"
	                                "rewards:\n"
	                                "  - plugin: movement\n"
	                                "    weight: 2\n"
	                                "  - {plugin: death, weight: -50}\n");
	const struct gnarl_value *r = gnarl_tree_root(t), *v;

	(void)state;
	v = gnarl_value_at(r, "ppo.gamma");
	assert_non_null(v);
	assert_int_equal(v->line, 2);
	assert_int_equal(v->column, 10);
	v = gnarl_value_at(r, "rewards.1.weight");
	assert_int_equal(gnarl_value_int(v, 0), -50);
	assert_int_equal(v->line, 6);
	assert_int_equal(v->column, 29);
	v = gnarl_value_at(r, "rewards.0");
	assert_int_equal(v->line, 4);
	assert_int_equal(v->column, 5);
	assert_null(gnarl_value_at(r, "rewards.2"));
	assert_null(gnarl_value_at(r, "rewards.x"));
	assert_null(gnarl_value_at(r, "ppo.gamma.x"));
	assert_ptr_equal(gnarl_value_at(r, ""), r);
	/* Typed reads fall back on a different type or a missing node. */
	assert_int_equal(gnarl_value_int(gnarl_value_at(r, "ppo.gamma"), 7), 7);
	assert_true(gnarl_value_float(gnarl_value_at(r, "rewards.0.weight"), 0) == 2.0);
	assert_string_equal(gnarl_value_string(NULL, "fb"), "fb");
	assert_true(gnarl_value_bool(gnarl_value_at(r, "nope"), true));
	gnarl_tree_free(t);
}

static void test_env_expansion(void **state)
{
	struct gnarl_tree *t;
	const struct gnarl_value *r;
	char err[GNARL_ERR_SIZE];

	(void)state;
	setenv("GNARL_TEST_WORD", "sesame", 1);
	setenv("GNARL_TEST_NUM", "17", 1);
	unsetenv("GNARL_TEST_UNSET");
	t = parse_ok("a: ${GNARL_TEST_WORD}\n"
	             "b: x-${GNARL_TEST_WORD}-y\n"
	             "c: ${GNARL_TEST_UNSET:-5}\n"
	             "d: ${GNARL_TEST_NUM}\n"
	             "e: \"${GNARL_TEST_NUM}\"\n"
	             "f: $${GNARL_TEST_WORD}\n"
	             "g: ${GNARL_TEST_UNSET:-}\n");
	r = gnarl_tree_root(t);
	assert_string_equal(gnarl_value_at(r, "a")->as.s, "sesame");
	assert_string_equal(gnarl_value_at(r, "a")->raw, "${GNARL_TEST_WORD}");
	assert_string_equal(gnarl_value_at(r, "b")->as.s, "x-sesame-y");
	assert_int_equal(gnarl_value_int(gnarl_value_at(r, "c"), 0), 5);
	assert_int_equal(gnarl_value_int(gnarl_value_at(r, "d"), 0), 17);
	assert_string_equal(gnarl_value_string(gnarl_value_at(r, "e"), ""), "17");
	assert_string_equal(gnarl_value_string(gnarl_value_at(r, "f"), ""), "${GNARL_TEST_WORD}");
	assert_int_equal(gnarl_value_at(r, "g")->type, GNARL_VALUE_NULL);
	gnarl_tree_free(t);

	assert_int_equal(parse_err("x: 1\nkey: ${GNARL_TEST_UNSET}\n", err), GNARL_ECONFIG);
	assert_string_equal(err, "t.yaml:2:6: environment variable GNARL_TEST_UNSET is not set "
	                         "(export it, or write ${GNARL_TEST_UNSET:-default})");
	assert_int_equal(parse_err("key: ${1BAD}\n", err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "t.yaml:1:6: malformed variable reference"));
	assert_int_equal(parse_err("key: ${OPEN\n", err), GNARL_ECONFIG);
}

static void test_malformed(void **state)
{
	char err[GNARL_ERR_SIZE];

	(void)state;
	assert_int_equal(parse_err("ppo:\n  gamma: [0.9, 0.8\nrun: x\n", err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "t.yaml:3:"));
	assert_non_null(strstr(err, "malformed YAML"));
	assert_int_equal(parse_err("a: 1\n b: 2\n", err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "t.yaml:2:3: malformed YAML: mapping values are not allowed"));
	assert_int_equal(parse_err("a: 1\nb: 2\na: 3\n", err), GNARL_ECONFIG);
	assert_string_equal(err, "t.yaml:3:1: duplicate key 'a' (first at line 1; keep one)");
	assert_int_equal(parse_err("a: 1\n---\nb: 2\n", err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "t.yaml:2:1: a second YAML document"));
	assert_int_equal(parse_err("a: 99999999999999999999\n", err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "does not fit in 64 bits"));
	assert_int_equal(parse_err("? [a, b]\n: 1\n", err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "a key must be a plain name"));
	assert_int_equal(parse_err("a: *nothing\n", err), GNARL_ECONFIG);
	assert_int_equal(parse_err("a: !!int abc\n", err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "t.yaml:1:4: tag"));
	assert_int_equal(parse_err("a: !custom x\n", err), GNARL_ECONFIG);
	assert_non_null(strstr(err, "unsupported tag"));
}

static void test_empty_and_aliases(void **state)
{
	struct gnarl_tree *t = parse_ok("");
	const struct gnarl_value *r = gnarl_tree_root(t);

	(void)state;
	assert_int_equal(r->type, GNARL_VALUE_MAP);
	assert_int_equal(r->count, 0);
	gnarl_tree_free(t);
	t = parse_ok("# only a comment\n");
	assert_int_equal(gnarl_tree_root(t)->type, GNARL_VALUE_MAP);
	gnarl_tree_free(t);

	t = parse_ok("base: &b {x: 1, y: [2, 3]}\ncopy: *b\n");
	r = gnarl_tree_root(t);
	assert_true(gnarl_value_equal(gnarl_value_at(r, "base"), gnarl_value_at(r, "copy")));
	/* A copy, not a shared node: editing one leaves the other. */
	gnarl_value_set_int(gnarl_tree_at(gnarl_tree_root(t), "copy.x"), 9);
	assert_int_equal(gnarl_value_int(gnarl_value_at(r, "base.x"), 0), 1);
	gnarl_tree_free(t);
}

static void test_equal(void **state)
{
	struct gnarl_tree *a = parse_ok("x: 1\ny: [1, 2.0, s]\n");
	struct gnarl_tree *b = parse_ok("x: 1\ny: [1, 2.0, \"s\"]\n");
	struct gnarl_tree *c = parse_ok("y: [1, 2.0, s]\nx: 1\n");
	struct gnarl_tree *d = parse_ok("x: 1.0\ny: [1, 2.0, s]\n");

	(void)state;
	assert_true(gnarl_value_equal(gnarl_tree_root(a), gnarl_tree_root(b)));
	assert_false(gnarl_value_equal(gnarl_tree_root(a), gnarl_tree_root(c)));
	assert_false(gnarl_value_equal(gnarl_tree_root(a), gnarl_tree_root(d)));
	assert_false(gnarl_value_equal(gnarl_tree_root(a), NULL));
	gnarl_tree_free(a);
	gnarl_tree_free(b);
	gnarl_tree_free(c);
	gnarl_tree_free(d);
}

static void test_edit(void **state)
{
	struct gnarl_tree *t = parse_ok("m: {a: 1}\nl: [1]\nn:\n");
	struct gnarl_tree *src = parse_ok("{deep: [x, {y: 2}]}");
	struct gnarl_value *r = gnarl_tree_root(t), *v;

	(void)state;
	v = gnarl_tree_map_put(t, gnarl_tree_at(r, "m"), "b");
	assert_non_null(v);
	assert_int_equal(v->type, GNARL_VALUE_NULL);
	gnarl_value_set_int(v, 2);
	assert_ptr_equal(gnarl_tree_map_put(t, gnarl_tree_at(r, "m"), "a"),
	                 gnarl_tree_at(r, "m.a"));
	assert_int_equal(gnarl_value_int(gnarl_value_at(r, "m.b"), 0), 2);
	v = gnarl_tree_list_append(t, gnarl_tree_at(r, "l"));
	assert_int_equal(gnarl_tree_set_string(t, v, "two"), 0);
	assert_string_equal(gnarl_value_string(gnarl_value_at(r, "l.1"), ""), "two");
	/* A null node becomes a container on first use. */
	v = gnarl_tree_map_put(t, gnarl_tree_at(r, "n"), "k");
	assert_non_null(v);
	assert_int_equal(gnarl_value_at(r, "n")->type, GNARL_VALUE_MAP);
	assert_null(gnarl_tree_map_put(t, gnarl_tree_at(r, "l.0"), "k"));
	assert_null(gnarl_tree_list_append(t, gnarl_tree_at(r, "m")));
	/* Deep copy survives freeing the source. */
	assert_int_equal(gnarl_tree_copy(t, v, gnarl_tree_root(src)), 0);
	gnarl_tree_free(src);
	assert_int_equal(gnarl_value_int(gnarl_value_at(r, "n.k.deep.1.y"), 0), 2);
	assert_string_equal(gnarl_value_string(gnarl_value_at(r, "n.k.deep.0"), ""), "x");
	gnarl_tree_free(t);
}

static const char *const tricky =
    "strings:\n"
    "  plain: hello\n"
    "  looks_bool: 'true'\n"
    "  looks_int: '123'\n"
    "  looks_null: 'null'\n"
    "  empty: ''\n"
    "  colon: 'a: b'\n"
    "  hash: 'a #b'\n"
    "  lead_dash: '- x'\n"
    "  newline: \"two\\nlines\"\n"
    "  quote: 'say \"hi\"'\n"
    "  unicode: 'caf\xc3\xa9'\n"
    "  dollar: '$${HOME}'\n"
    "numbers: [0, -1, 1.0, 0.1, 3e-4, 1e+300, 2.5e-10, .inf, -.inf]\n"
    "nested:\n"
    "  - {a: 1, b: [x, y]}\n"
    "  - [1, [2, 3]]\n"
    "  - {}\n"
    "  - []\n"
    "  - null\n"
    "  - {deep: {deeper: {deepest: true}}}\n"
    "'key with space': 1\n"
    "'0': zero\n";

static void test_yaml_round_trip(void **state)
{
	struct gnarl_tree *a = parse_ok(tricky), *b;
	char *yaml = gnarl_value_to_yaml(gnarl_tree_root(a), false);

	(void)state;
	assert_non_null(yaml);
	b = parse_ok(yaml);
	if (!gnarl_value_equal(gnarl_tree_root(a), gnarl_tree_root(b)))
		fail_msg("round trip differs:\n%s", yaml);
	/* Floats are written as floats, readable by YAML 1.1 readers too. */
	assert_non_null(strstr(yaml, "[0, -1, 1.0, 0.1, 0.0003, 1.0e+300, 2.5e-10, .inf, -.inf]"));
	free(yaml);
	gnarl_tree_free(a);
	gnarl_tree_free(b);
}

static void test_json(void **state)
{
	struct gnarl_tree *t = parse_ok(tricky);
	char *text = gnarl_value_to_json(gnarl_tree_root(t), false);
	json_error_t jerr;
	json_t *j;

	(void)state;
	assert_non_null(text);
	j = json_loads(text, 0, &jerr);
	if (!j)
		fail_msg("jansson rejects our JSON (%s):\n%s", jerr.text, text);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "strings"),
	                                                      "newline")),
	                    "two\nlines");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "strings"),
	                                                      "unicode")),
	                    "caf\xc3\xa9");
	assert_true(json_real_value(json_array_get(json_object_get(j, "numbers"), 4)) == 3e-4);
	assert_true(json_is_real(json_array_get(json_object_get(j, "numbers"), 2)));
	assert_true(json_is_integer(json_array_get(json_object_get(j, "numbers"), 1)));
	assert_true(json_is_null(json_array_get(json_object_get(j, "numbers"), 7)));
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(
	    json_array_get(json_object_get(j, "nested"), 5), "deep"), "deeper"), "deepest")));
	assert_int_equal(json_integer_value(json_object_get(j, "key with space")), 1);
	json_decref(j);
	free(text);
	gnarl_tree_free(t);
}

static void test_secrets_redacted(void **state)
{
	struct gnarl_tree *t;
	struct gnarl_value *r;
	char *yaml, *json;

	(void)state;
	setenv("GNARL_TEST_SECRET", "hunter2-very-secret", 1);
	t = parse_ok("api_key: ${GNARL_TEST_SECRET}\n"
	             "password: literal-secret\n"
	             "nested: {token: [abc, def]}\n"
	             "unset: null\n"
	             "visible: fine\n");
	r = gnarl_tree_root(t);
	gnarl_value_flag(gnarl_tree_at(r, "api_key"), GNARL_VALUE_SECRET);
	gnarl_value_flag(gnarl_tree_at(r, "password"), GNARL_VALUE_SECRET);
	gnarl_value_flag(gnarl_tree_at(r, "nested.token"), GNARL_VALUE_SECRET);
	gnarl_value_flag(gnarl_tree_at(r, "unset"), GNARL_VALUE_SECRET);
	yaml = gnarl_value_to_yaml(r, false);
	json = gnarl_value_to_json(r, false);
	assert_null(strstr(yaml, "hunter2"));
	assert_null(strstr(json, "hunter2"));
	assert_null(strstr(yaml, "literal-secret"));
	assert_null(strstr(json, "literal-secret"));
	assert_null(strstr(yaml, "abc"));
	assert_non_null(strstr(yaml, "api_key: \"${GNARL_TEST_SECRET}\""));
	assert_non_null(strstr(json, "\"api_key\": \"${GNARL_TEST_SECRET}\""));
	assert_non_null(strstr(yaml, "password: \"<redacted>\""));
	/* An unset secret stays null, so the written config runs again. */
	assert_non_null(strstr(yaml, "unset: null"));
	assert_non_null(strstr(json, "\"unset\": null"));
	assert_non_null(strstr(yaml, "visible: fine"));
	free(yaml);
	free(json);
	yaml = gnarl_value_to_yaml(r, true);
	assert_non_null(strstr(yaml, "hunter2-very-secret"));
	free(yaml);
	gnarl_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalar_types),    cmocka_unit_test(test_positions_and_lookup),
	    cmocka_unit_test(test_env_expansion),   cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_empty_and_aliases), cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_edit),            cmocka_unit_test(test_yaml_round_trip),
	    cmocka_unit_test(test_json),            cmocka_unit_test(test_secrets_redacted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
