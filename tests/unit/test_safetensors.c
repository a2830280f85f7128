/*
 * test_safetensors.c - round trip of every dtype gnarl uses, scalar and
 * empty tensors, metadata; all-or-nothing loads; and one crafted bad file
 * per validation rule, each refused with a message saying what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "safetensors.h"

static char err[GNARL_ERR_SIZE];

struct fixture {
	float w[2][3];
	double scalar;
	int32_t empty[1];
	uint8_t bytes[5];
	int64_t steps[2];
	uint64_t rng[4];
	struct gnarl_tensor t[6];
};

static void fill(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 6; i++)
		f->w[i / 3][i % 3] = (float)i * 0.5f - 1.25f;
	f->scalar = 3.141592653589793;
	for (int i = 0; i < 5; i++)
		f->bytes[i] = (uint8_t)(200 + i);
	f->steps[0] = -5;
	f->steps[1] = INT64_MAX;
	for (int i = 0; i < 4; i++)
		f->rng[i] = 0xF000000000000001ull * (uint64_t)(i + 1);
	/* U8 first and I32 empty between, so layout must reorder for alignment. */
	f->t[0] = (struct gnarl_tensor){"bytes", GNARL_DTYPE_U8, 1, {5}, f->bytes};
	f->t[1] = (struct gnarl_tensor){"policy.w", GNARL_DTYPE_F32, 2, {2, 3}, f->w};
	f->t[2] = (struct gnarl_tensor){"empty", GNARL_DTYPE_I32, 1, {0}, f->empty};
	f->t[3] = (struct gnarl_tensor){"scalar", GNARL_DTYPE_F64, 0, {0}, &f->scalar};
	f->t[4] = (struct gnarl_tensor){"steps", GNARL_DTYPE_I64, 1, {2}, f->steps};
	f->t[5] = (struct gnarl_tensor){"rng", GNARL_DTYPE_U64, 2, {1, 4}, f->rng};
}

static void test_round_trip(void **state)
{
	struct fixture a, b;
	struct gnarl_safetensors_meta meta[] = {{"format", "pt"}, {"producer", "gnarl test"}};
	struct gnarl_safetensors *sf = NULL;
	void *buf = NULL, *buf2 = NULL;
	size_t len, len2;
	uint64_t hlen = 0;

	(void)state;
	fill(&a);
	assert_int_equal(gnarl_safetensors_write(a.t, 6, meta, 2, &buf, &len, err), 0);
	for (int i = 0; i < 8; i++)
		hlen |= (uint64_t)((uint8_t *)buf)[i] << (8 * i);
	assert_int_equal((8 + hlen) % 8, 0);
	assert_int_equal(((char *)buf)[8 + hlen - 1] == ' ' || ((char *)buf)[8 + hlen - 1] == '}', 1);
	assert_int_equal(gnarl_safetensors_parse(buf, len, "x", &sf, err), 0);
	assert_int_equal(gnarl_safetensors_count(sf), 6);
	assert_string_equal(gnarl_safetensors_metadata(sf, "format"), "pt");
	assert_string_equal(gnarl_safetensors_metadata(sf, "producer"), "gnarl test");
	assert_null(gnarl_safetensors_metadata(sf, "nope"));
	for (size_t i = 0; i < 6; i++) {
		const struct gnarl_safetensors_entry *e = gnarl_safetensors_entry(sf, i);
		assert_int_equal(e->begin % e->elem_size, 0);
		assert_int_equal(((uintptr_t)e->data - (uintptr_t)buf) % e->elem_size, 0);
	}
	assert_string_equal(gnarl_safetensors_find(sf, "policy.w")->dtype_name, "F32");
	assert_int_equal(gnarl_safetensors_find(sf, "scalar")->ndim, 0);
	assert_int_equal(gnarl_safetensors_find(sf, "rng")->shape[1], 4);
	memset(&b, 0, sizeof(b));
	fill(&b);
	memset(b.w, 0, sizeof(b.w));
	b.scalar = 0;
	memset(b.bytes, 0, sizeof(b.bytes));
	memset(b.steps, 0, sizeof(b.steps));
	memset(b.rng, 0, sizeof(b.rng));
	assert_int_equal(gnarl_safetensors_load(sf, b.t, 6, GNARL_SAFETENSORS_EXACT, err), 0);
	assert_memory_equal(a.w, b.w, sizeof(a.w));
	assert_true(a.scalar == b.scalar);
	assert_memory_equal(a.bytes, b.bytes, sizeof(a.bytes));
	assert_memory_equal(a.steps, b.steps, sizeof(a.steps));
	assert_memory_equal(a.rng, b.rng, sizeof(a.rng));
	/* Same input, same bytes. */
	assert_int_equal(gnarl_safetensors_write(a.t, 6, meta, 2, &buf2, &len2, err), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	gnarl_safetensors_free(sf);
	free(buf);
	free(buf2);
}

static void test_load_is_all_or_nothing(void **state)
{
	struct fixture a, b;
	struct gnarl_safetensors *sf = NULL;
	struct gnarl_tensor extra;
	void *buf = NULL;
	size_t len;

	(void)state;
	fill(&a);
	assert_int_equal(gnarl_safetensors_write(a.t, 6, NULL, 0, &buf, &len, err), 0);
	assert_int_equal(gnarl_safetensors_parse(buf, len, "x", &sf, err), 0);
	fill(&b);
	memset(b.w, 0x7F, sizeof(b.w));
	memset(b.rng, 0x7F, sizeof(b.rng));
	/* The last tensor asks for a different shape: nothing may be copied. */
	b.t[5].shape[1] = 3;
	assert_int_equal(gnarl_safetensors_load(sf, b.t, 6, 0, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "'rng'"));
	assert_non_null(strstr(err, "[1, 4]"));
	assert_non_null(strstr(err, "[1, 3]"));
	for (size_t i = 0; i < sizeof(b.w); i++)
		assert_int_equal(((uint8_t *)b.w)[i], 0x7F);
	/* Wrong dtype. */
	b.t[5].shape[1] = 4;
	b.t[5].dtype = GNARL_DTYPE_I64;
	assert_int_equal(gnarl_safetensors_load(sf, b.t, 6, 0, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "U64"));
	b.t[5].dtype = GNARL_DTYPE_U64;
	/* Missing tensor. */
	extra = (struct gnarl_tensor){"not.there", GNARL_DTYPE_F32, 0, {0}, &b.scalar};
	assert_int_equal(gnarl_safetensors_load(sf, &extra, 1, 0, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "'not.there' is missing"));
	/* A subset loads without EXACT, not with it. */
	assert_int_equal(gnarl_safetensors_load(sf, b.t, 2, 0, err), 0);
	assert_memory_equal(a.w, b.w, sizeof(a.w));
	assert_int_equal(gnarl_safetensors_load(sf, b.t, 2, GNARL_SAFETENSORS_EXACT, err),
	                 GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "nothing here expects"));
	gnarl_safetensors_free(sf);
	free(buf);
}

static void test_write_refusals(void **state)
{
	struct fixture a;
	void *buf = NULL;
	size_t len;

	(void)state;
	fill(&a);
	a.t[2].name = "bytes";
	assert_int_equal(gnarl_safetensors_write(a.t, 6, NULL, 0, &buf, &len, err), GNARL_EINVAL);
	assert_non_null(strstr(err, "twice"));
	fill(&a);
	a.t[0].name = "__metadata__";
	assert_int_equal(gnarl_safetensors_write(a.t, 6, NULL, 0, &buf, &len, err), GNARL_EINVAL);
	fill(&a);
	a.t[0].dtype = (enum gnarl_dtype)99;
	assert_int_equal(gnarl_safetensors_write(a.t, 6, NULL, 0, &buf, &len, err), GNARL_EINVAL);
	assert_null(buf);
	/* No tensors at all is a valid (empty) file. */
	assert_int_equal(gnarl_safetensors_write(NULL, 0, NULL, 0, &buf, &len, err), 0);
	assert_int_equal(len, 16);
	assert_memory_equal((char *)buf + 8, "{}      ", 8);
	free(buf);
}

/* A file from header text and n_data bytes of data (header padded). */
static uint8_t *craft(const char *header, size_t n_data, size_t *len)
{
	size_t h = strlen(header), padded = (h + 8 + 7) / 8 * 8 - 8;
	uint8_t *buf = calloc(1, 8 + padded + n_data + 1);

	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
	memcpy(buf + 8, header, h);
	memset(buf + 8 + h, ' ', padded - h);
	for (size_t i = 0; i < n_data; i++)
		buf[8 + padded + i] = (uint8_t)i;
	*len = 8 + padded + n_data;
	return buf;
}

static void expect_bad(const char *header, size_t n_data, const char *words)
{
	struct gnarl_safetensors *sf = NULL;
	size_t len;
	uint8_t *buf = craft(header, n_data, &len);

	err[0] = '\0';
	assert_int_equal(gnarl_safetensors_parse(buf, len, "m.st", &sf, err), GNARL_ECORRUPT);
	assert_null(sf);
	if (!strstr(err, words) || strncmp(err, "m.st: ", 6) != 0)
		fail_msg("message '%s' lacks '%s'", err, words);
	free(buf);
}

#define T2(a, b) "{\"a\":" a ",\"b\":" b "}"
#define F32(shape, b, e) "{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" b "," e "]}"

static void test_crafted_files(void **state)
{
	struct gnarl_safetensors *sf = NULL;
	size_t len;
	uint8_t *buf;

	(void)state;
	/* The control: the same shapes, valid, parse. */
	buf = craft(T2(F32("[2]", "0", "8"), F32("[3]", "8", "20")), 20, &len);
	assert_int_equal(gnarl_safetensors_parse(buf, len, "m.st", &sf, err), 0);
	gnarl_safetensors_free(sf);
	sf = NULL;

	/* Truncated: one byte short, and shorter than the length prefix. */
	assert_int_equal(gnarl_safetensors_parse(buf, len - 1, "m.st", &sf, err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(gnarl_safetensors_parse(buf, 5, "m.st", &sf, err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(gnarl_safetensors_parse(buf, 8 + 10, "m.st", &sf, err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "truncated"));
	/* A flipped header byte: the ':' after "a" becomes ';'. */
	buf[8 + 4] ^= 0x01;
	assert_int_equal(gnarl_safetensors_parse(buf, len, "m.st", &sf, err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "not a valid JSON object"));
	/* Header length far past the limit. */
	buf[8 + 4] ^= 0x01;
	buf[3] = 0x10; /* 0x10000000 + ... > 100,000,000 */
	assert_int_equal(gnarl_safetensors_parse(buf, len, "m.st", &sf, err), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "exceeds the limit"));
	assert_null(sf);
	free(buf);

	/* Trailing bytes after the last tensor. */
	expect_bad(T2(F32("[2]", "0", "8"), F32("[3]", "8", "20")), 24, "trailing");
	expect_bad(T2(F32("[2]", "0", "8"), F32("[3]", "12", "24")), 24, "gap of 4 bytes");
	expect_bad(T2(F32("[2]", "0", "8"), F32("[3]", "4", "16")), 16, "overlaps");
	expect_bad(T2(F32("[2]", "4", "12"), F32("[1]", "12", "16")), 16, "gap of 4 bytes");
	expect_bad("{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
	           "unknown dtype F33");
	expect_bad(T2(F32("[2]", "0", "8"), F32("[3]", "8", "16")), 16, "needs 12 bytes");
	expect_bad("{\"a\":" F32("[2]", "0", "8") ",\"a\":" F32("[2]", "8", "16") "}", 16,
	           "not a valid JSON object");
	expect_bad(T2(F32("[-2]", "0", "8"), F32("[2]", "8", "16")), 16, "non-negative");
	expect_bad(T2(F32("[2.0]", "0", "8"), F32("[2]", "8", "16")), 16, "non-negative");
	expect_bad(T2(F32("[2]", "8", "0"), F32("[2]", "8", "16")), 16, "begin <= end");
	expect_bad(T2(F32("[2]", "0", "8"), "{\"dtype\":\"F32\",\"shape\":[2]}"), 8, "exactly");
	expect_bad(T2(F32("[2]", "0", "8"),
	              "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16],\"x\":1}"),
	           16, "exactly");
	expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
	expect_bad("[1,2]", 0, "does not start with");
	expect_bad("{\"a\":1", 0, "not a valid JSON object");
	expect_bad("{\"a\":" F32("[4294967296,4294967296,4294967296]", "0", "8") "}", 8,
	           "overflows");
	expect_bad("{\"a\":" F32("[1,1,1,1,1,1,1,1,1]", "0", "4") "}", 4, "at most 8");
}

static void test_empty_and_scalar_tensors(void **state)
{
	struct gnarl_safetensors *sf = NULL;
	size_t len;
	/* Zero-size tensors may sit anywhere along the way. */
	uint8_t *buf = craft("{\"z\":{\"dtype\":\"BF16\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
	                     "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
	                     "\"y\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[4,4]}}",
	                     4, &len);

	(void)state;
	assert_int_equal(gnarl_safetensors_parse(buf, len, "m.st", &sf, err), 0);
	assert_int_equal(gnarl_safetensors_count(sf), 3);
	assert_int_equal(gnarl_safetensors_find(sf, "z")->dtype, 0);
	assert_string_equal(gnarl_safetensors_find(sf, "z")->dtype_name, "BF16");
	assert_int_equal(gnarl_safetensors_find(sf, "s")->ndim, 0);
	gnarl_safetensors_free(sf);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_load_is_all_or_nothing),
		cmocka_unit_test(test_write_refusals),
		cmocka_unit_test(test_crafted_files),
		cmocka_unit_test(test_empty_and_scalar_tensors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
