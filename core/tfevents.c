/*
 * tfevents.c - TensorBoard event files written without TensorFlow.
 *
 * Entry points: gnarl_tfevents_create/add_scalars/add_image/data/free, the CRC32C
 * helpers and the file name.  Wire format (shared/notes/protocols.md):
 *   record  = u64 len | u32 mask(crc32c(len bytes)) | data | u32 mask(crc32c(data))
 *   Event   = 1: wall_time (double, fixed64) 2: step (int64, varint)
 *             3: file_version (string) 5: summary (Summary)
 *   Summary = 1: repeated Value
 *   Value   = 1: tag (string) 2: simple_value (float, fixed32) 4: image (Image)
 *   Image   = 1: height 2: width 3: colorspace (int32, varint)
 *             4: encoded_image_string (bytes)
 * Invariant: the buffer always ends on a whole record; a record's size is
 * computed before it is written, so a failed grow appends nothing.
 */
#include "tfevents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnarl/plugin.h>

#define CRC32C_POLY_REVERSED 0x82F63B78u
#define RECORD_OVERHEAD 16 /* length, its CRC, the data's CRC */

struct gnarl_tfevents {
	uint8_t *buf;
	size_t len, cap;
};

uint32_t gnarl_tfevents_crc32c(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t crc = 0xFFFFFFFFu;

	/* Bitwise: event files are a few kB per iteration, a table buys nothing. */
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (CRC32C_POLY_REVERSED & (0u - (crc & 1u)));
	}
	return ~crc;
}

uint32_t gnarl_tfevents_mask(uint32_t crc)
{
	return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *put_double(uint8_t *p, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return put_le(p, bits, 8);
}

static size_t value_size(const char *tag)
{
	size_t t = strlen(tag);

	return 1 + varint_size(t) + t + 1 + 4;
}

static int reserve(struct gnarl_tfevents *ev, size_t more)
{
	size_t cap = ev->cap ? ev->cap : 4096;
	uint8_t *p;

	if (ev->len + more <= ev->cap)
		return 0;
	while (cap < ev->len + more)
		cap *= 2;
	p = realloc(ev->buf, cap);
	if (!p)
		return GNARL_ENOMEM;
	ev->buf = p;
	ev->cap = cap;
	return 0;
}

/* Frame the `data_len` bytes already written at buf+len+12 as a record. */
static void seal_record(struct gnarl_tfevents *ev, size_t data_len)
{
	uint8_t *rec = ev->buf + ev->len;

	put_le(rec, data_len, 8);
	put_le(rec + 8, gnarl_tfevents_mask(gnarl_tfevents_crc32c(rec, 8)), 4);
	put_le(rec + 12 + data_len,
	       gnarl_tfevents_mask(gnarl_tfevents_crc32c(rec + 12, data_len)), 4);
	ev->len += data_len + RECORD_OVERHEAD;
}

int gnarl_tfevents_create(double wall_time, struct gnarl_tfevents **out)
{
	static const char version[] = "brain.Event:2";
	size_t vlen = sizeof(version) - 1;
	size_t data_len = 1 + 8 + 1 + varint_size(vlen) + vlen;
	struct gnarl_tfevents *ev = calloc(1, sizeof(*ev));
	uint8_t *p;

	if (!ev || reserve(ev, data_len + RECORD_OVERHEAD) < 0) {
		gnarl_tfevents_free(ev);
		return GNARL_ENOMEM;
	}
	p = ev->buf + 12;
	*p++ = 0x09; /* field 1, fixed64 */
	p = put_double(p, wall_time);
	*p++ = 0x1A; /* field 3, length-delimited */
	p = put_varint(p, vlen);
	memcpy(p, version, vlen);
	seal_record(ev, data_len);
	*out = ev;
	return 0;
}

void gnarl_tfevents_free(struct gnarl_tfevents *ev)
{
	if (!ev)
		return;
	free(ev->buf);
	free(ev);
}

/* An Event's wall_time and step, and the tag and length of its summary;
 * returns where the summary's values go. */
static uint8_t *event_head(uint8_t *p, double wall_time, int64_t step, size_t summary_len)
{
	*p++ = 0x09; /* wall_time */
	p = put_double(p, wall_time);
	*p++ = 0x10; /* step: int64 as a varint (two's complement if negative) */
	p = put_varint(p, (uint64_t)step);
	*p++ = 0x2A; /* summary */
	return put_varint(p, summary_len);
}

int gnarl_tfevents_add_scalars(struct gnarl_tfevents *ev, double wall_time, int64_t step,
                               const char *const *tags, const float *values, size_t n)
{
	size_t summary_len = 0, data_len;
	uint8_t *p;

	for (size_t i = 0; i < n; i++) {
		size_t v = value_size(tags[i]);
		summary_len += 1 + varint_size(v) + v;
	}
	data_len = 1 + 8 + 1 + varint_size((uint64_t)step) + 1 + varint_size(summary_len) +
	           summary_len;
	if (reserve(ev, data_len + RECORD_OVERHEAD) < 0)
		return GNARL_ENOMEM;
	p = event_head(ev->buf + ev->len + 12, wall_time, step, summary_len);
	for (size_t i = 0; i < n; i++) {
		size_t t = strlen(tags[i]);
		uint32_t bits;

		*p++ = 0x0A; /* Summary.value */
		p = put_varint(p, value_size(tags[i]));
		*p++ = 0x0A; /* Value.tag */
		p = put_varint(p, t);
		memcpy(p, tags[i], t);
		p += t;
		*p++ = 0x15; /* Value.simple_value, fixed32 */
		memcpy(&bits, &values[i], sizeof(bits));
		p = put_le(p, bits, 4);
	}
	seal_record(ev, data_len);
	return 0;
}

int gnarl_tfevents_add_image(struct gnarl_tfevents *ev, double wall_time, int64_t step,
                             const char *tag, uint32_t width, uint32_t height,
                             uint32_t colorspace, const void *data, size_t len)
{
	size_t t = strlen(tag);
	size_t image_len = 1 + varint_size(height) + 1 + varint_size(width) + 1 +
	                   varint_size(colorspace) + 1 + varint_size(len) + len;
	size_t value_len = 1 + varint_size(t) + t + 1 + varint_size(image_len) + image_len;
	size_t summary_len = 1 + varint_size(value_len) + value_len;
	size_t data_len = 1 + 8 + 1 + varint_size((uint64_t)step) + 1 +
	                  varint_size(summary_len) + summary_len;
	uint8_t *p;

	if (reserve(ev, data_len + RECORD_OVERHEAD) < 0)
		return GNARL_ENOMEM;
	p = event_head(ev->buf + ev->len + 12, wall_time, step, summary_len);
	*p++ = 0x0A; /* Summary.value */
	p = put_varint(p, value_len);
	*p++ = 0x0A; /* Value.tag */
	p = put_varint(p, t);
	memcpy(p, tag, t);
	p += t;
	*p++ = 0x22; /* Value.image */
	p = put_varint(p, image_len);
	*p++ = 0x08; /* Image.height */
	p = put_varint(p, height);
	*p++ = 0x10; /* Image.width */
	p = put_varint(p, width);
	*p++ = 0x18; /* Image.colorspace */
	p = put_varint(p, colorspace);
	*p++ = 0x22; /* Image.encoded_image_string */
	p = put_varint(p, len);
	memcpy(p, data, len);
	seal_record(ev, data_len);
	return 0;
}

const void *gnarl_tfevents_data(const struct gnarl_tfevents *ev, size_t *len)
{
	*len = ev->len;
	return ev->buf;
}

int gnarl_tfevents_filename(char *buf, size_t size, int64_t unix_time, const char *hostname)
{
	int n = snprintf(buf, size, "events.out.tfevents.%010lld.%s", (long long)unix_time,
	                 hostname && *hostname ? hostname : "localhost");

	if (n < 0 || (size_t)n >= size)
		return GNARL_EINVAL;
	return n;
}
