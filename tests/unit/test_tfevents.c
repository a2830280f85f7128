/*
 * test_tfevents.c - CRC32C against published vectors, the record framing,
 * and an event decoded back by a small protobuf reader written here from
 * the wire-format rules (independent of the encoder's code).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tfevents.h"

static uint64_t le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void test_crc32c_vectors(void **state)
{
	uint8_t buf[32];

	(void)state;
	assert_int_equal(gnarl_tfevents_crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(gnarl_tfevents_crc32c("", 0), 0);
	/* RFC 3720 B.4 (iSCSI): 32 zero bytes, 32 0xFF bytes, 0x00..0x1F. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(gnarl_tfevents_crc32c(buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(gnarl_tfevents_crc32c(buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(gnarl_tfevents_crc32c(buf, 32), 0x46DD794Eu);
}

static void test_mask(void **state)
{
	(void)state;
	assert_int_equal(gnarl_tfevents_mask(0), 0xa282ead8u);
	/* ((0x12345678 >> 15) | (0x12345678 << 17)) + 0xa282ead8, mod 2^32. */
	assert_int_equal(gnarl_tfevents_mask(0x12345678u), 0x4f730f40u);
}

/* Check one record at p (bytes left: avail); return its data and length. */
static const uint8_t *record(const uint8_t *p, size_t avail, size_t *data_len)
{
	uint64_t n;

	assert_true(avail >= 16);
	n = le(p, 8);
	assert_true(n + 16 <= avail);
	assert_int_equal(le(p + 8, 4), gnarl_tfevents_mask(gnarl_tfevents_crc32c(p, 8)));
	assert_int_equal(le(p + 12 + n, 4), gnarl_tfevents_mask(gnarl_tfevents_crc32c(p + 12, n)));
	*data_len = (size_t)n;
	return p + 12;
}

static void test_first_record_is_file_version(void **state)
{
	struct gnarl_tfevents *ev = NULL;
	const uint8_t *file, *d;
	size_t len, n;
	double wall;

	(void)state;
	assert_int_equal(gnarl_tfevents_create(1700000000.25, &ev), 0);
	file = gnarl_tfevents_data(ev, &len);
	d = record(file, len, &n);
	assert_int_equal(len, n + 16);
	/* 0x09 wall_time fixed64, then 0x1A file_version length-delimited. */
	assert_int_equal(d[0], 0x09);
	memcpy(&wall, d + 1, 8);
	assert_true(wall == 1700000000.25);
	assert_int_equal(d[9], 0x1A);
	assert_int_equal(d[10], 13);
	assert_memory_equal(d + 11, "brain.Event:2", 13);
	assert_int_equal(n, 24);
	gnarl_tfevents_free(ev);
}

static void test_scalar_event_bytes(void **state)
{
	/* Event{wall_time 1.5, step 300, summary{value{tag "a", simple_value 2}}}
	 * assembled by hand from the protobuf rules. */
	static const uint8_t want[] = {
		0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, /* 1: double 1.5 */
		0x10, 0xAC, 0x02,                   /* 2: varint 300 */
		0x2A, 0x0A,                         /* 5: Summary, 10 bytes */
		0x0A, 0x08,                         /* Summary.1: Value, 8 bytes */
		0x0A, 0x01, 'a',                    /* Value.1: tag */
		0x15, 0, 0, 0, 0x40,                /* Value.2: float 2.0 */
	};
	const char *tags[] = {"a"};
	float values[] = {2.0f};
	struct gnarl_tfevents *ev = NULL;
	const uint8_t *file, *d;
	size_t len, n, first;

	(void)state;
	assert_int_equal(gnarl_tfevents_create(0, &ev), 0);
	gnarl_tfevents_data(ev, &first);
	assert_int_equal(gnarl_tfevents_add_scalars(ev, 1.5, 300, tags, values, 1), 0);
	file = gnarl_tfevents_data(ev, &len);
	d = record(file + first, len - first, &n);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(d, want, sizeof(want));
	gnarl_tfevents_free(ev);
}

static uint64_t varint(const uint8_t **p)
{
	uint64_t v = 0;
	int shift = 0;

	while (**p & 0x80) {
		v |= (uint64_t)(**p & 0x7F) << shift;
		shift += 7;
		(*p)++;
	}
	v |= (uint64_t)**p << shift;
	(*p)++;
	return v;
}

/* Decode a Summary's values and compare with tags/values. */
static void check_summary(const uint8_t *p, const uint8_t *end, const char *const *tags,
                          const float *values, size_t n)
{
	size_t k = 0;

	while (p < end) {
		const uint8_t *vend;
		uint64_t vlen;

		assert_int_equal(*p++, 0x0A);
		vlen = varint(&p);
		vend = p + vlen;
		assert_true(k < n);
		while (p < vend) {
			uint8_t key = *p++;
			if (key == 0x0A) {
				uint64_t t = varint(&p);
				assert_int_equal(t, strlen(tags[k]));
				assert_memory_equal(p, tags[k], t);
				p += t;
			} else {
				float f;
				assert_int_equal(key, 0x15);
				memcpy(&f, p, 4);
				assert_true(f == values[k]);
				p += 4;
			}
		}
		k++;
	}
	assert_int_equal(k, n);
}

static void test_many_events_decode(void **state)
{
	const char *tags[] = {"ep_return_mean", "reward/room_discovery", "losses/value_loss"};
	float values[3];
	struct gnarl_tfevents *ev = NULL;
	const uint8_t *file;
	size_t len, n, off;
	int count = 0;

	(void)state;
	assert_int_equal(gnarl_tfevents_create(10, &ev), 0);
	for (int it = 0; it < 50; it++) {
		for (int k = 0; k < 3; k++)
			values[k] = (float)(it * 3 + k) * 0.25f - 7.0f;
		assert_int_equal(gnarl_tfevents_add_scalars(ev, 10 + it, (int64_t)it * 4096, tags,
		                                            values, 3), 0);
	}
	file = gnarl_tfevents_data(ev, &len);
	(void)record(file, len, &n);
	off = n + 16;
	while (off < len) {
		const uint8_t *d = record(file + off, len - off, &n), *q = d;
		uint64_t step, slen;

		assert_int_equal(*q++, 0x09);
		q += 8;
		assert_int_equal(*q++, 0x10);
		step = varint(&q);
		assert_int_equal(step, (uint64_t)count * 4096);
		assert_int_equal(*q++, 0x2A);
		slen = varint(&q);
		assert_ptr_equal(q + slen, d + n);
		for (int k = 0; k < 3; k++)
			values[k] = (float)(count * 3 + k) * 0.25f - 7.0f;
		check_summary(q, q + slen, tags, values, 3);
		off += n + 16;
		count++;
	}
	assert_int_equal(off, len);
	assert_int_equal(count, 50);
	gnarl_tfevents_free(ev);
}

static void test_filename(void **state)
{
	char buf[128], small[20];

	(void)state;
	assert_true(gnarl_tfevents_filename(buf, sizeof(buf), 1700000000, "box") > 0);
	assert_string_equal(buf, "events.out.tfevents.1700000000.box");
	assert_true(gnarl_tfevents_filename(buf, sizeof(buf), 42, "h") > 0);
	assert_string_equal(buf, "events.out.tfevents.0000000042.h");
	assert_int_equal(gnarl_tfevents_filename(small, sizeof(small), 42, "h"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_first_record_is_file_version),
		cmocka_unit_test(test_scalar_event_bytes),
		cmocka_unit_test(test_many_events_decode),
		cmocka_unit_test(test_filename),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
