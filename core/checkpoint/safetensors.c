/*
 * safetensors.c - write, parse, validate and load safetensors buffers.
 *
 * Entry points: gnarl_safetensors_write (tensors -> bytes),
 * gnarl_safetensors_parse (bytes -> validated index), gnarl_safetensors_load
 * (index -> caller's tensors, all or nothing).
 * Invariants: a parsed file has passed every rule of protocols.md, so its
 * entries' data pointers lie inside the buffer and never overlap; load
 * checks every requested tensor before it copies any.  Data is
 * little-endian on disk and in memory (checked at compile time).
 */
#include "safetensors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies tensor bytes as they are: it needs a little-endian machine"
#endif

#define METADATA_KEY "__metadata__"

struct dtype_info {
	const char *name;
	size_t size;
	enum gnarl_dtype dtype; /* 0: valid in the format, unknown to gnarl */
};

static const struct dtype_info dtypes[] = {
	{"BOOL", 1, 0},    {"U8", 1, GNARL_DTYPE_U8}, {"I8", 1, 0},   {"F8_E5M2", 1, 0},
	{"F8_E4M3", 1, 0}, {"I16", 2, 0},             {"U16", 2, 0},  {"F16", 2, 0},
	{"BF16", 2, 0},    {"I32", 4, GNARL_DTYPE_I32}, {"U32", 4, 0}, {"F32", 4, GNARL_DTYPE_F32},
	{"F64", 8, GNARL_DTYPE_F64}, {"I64", 8, GNARL_DTYPE_I64}, {"U64", 8, GNARL_DTYPE_U64},
};

struct gnarl_safetensors {
	size_t n;
	struct gnarl_safetensors_entry *entries; /* sorted by offsets */
	char **names;                            /* owned names, same order */
	size_t n_meta;
	char **meta_keys, **meta_values;
};

const char *gnarl_safetensors_dtype_name(enum gnarl_dtype d)
{
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (dtypes[i].dtype == d && d != 0)
			return dtypes[i].name;
	return NULL;
}

static const struct dtype_info *dtype_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (strcmp(dtypes[i].name, name) == 0)
			return &dtypes[i];
	return NULL;
}

static void format_shape(char *buf, size_t size, uint32_t ndim, const uint64_t *shape)
{
	size_t at = 0;

	at += (size_t)snprintf(buf, size, "[");
	for (uint32_t i = 0; i < ndim && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, "%s%" PRIu64, i ? ", " : "", shape[i]);
	if (at < size)
		snprintf(buf + at, size - at, "]");
}

/* ---- writing ---------------------------------------------------------- */

static int check_tensors(const struct gnarl_tensor *t, size_t n, char err[GNARL_ERR_SIZE])
{
	for (size_t i = 0; i < n; i++) {
		if (!t[i].name || !*t[i].name || strncmp(t[i].name, "__", 2) == 0)
			return gnarl_err(err, GNARL_EINVAL,
			                 "safetensors: tensor %zu has an empty or reserved name "
			                 "('%s'): names must be non-empty and not start with '__'",
			                 i, t[i].name ? t[i].name : "");
		if (!gnarl_safetensors_dtype_name(t[i].dtype))
			return gnarl_err(err, GNARL_EINVAL, "safetensors: tensor '%s' has unknown dtype %d",
			                 t[i].name, (int)t[i].dtype);
		if (t[i].ndim > GNARL_TENSOR_MAX_DIMS)
			return gnarl_err(err, GNARL_EINVAL, "safetensors: tensor '%s' has %u dims (max %d)",
			                 t[i].name, t[i].ndim, GNARL_TENSOR_MAX_DIMS);
		if (!t[i].data && gnarl_tensor_numel(&t[i]) > 0)
			return gnarl_err(err, GNARL_EINVAL, "safetensors: tensor '%s' has no data",
			                 t[i].name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(t[i].name, t[j].name) == 0)
				return gnarl_err(err, GNARL_EINVAL,
				                 "safetensors: tensor name '%s' appears twice", t[i].name);
	}
	return 0;
}

/* Layout order: element size descending, list order within a size, so
 * contiguous data keeps every tensor aligned to its element size. */
static size_t *layout_order(const struct gnarl_tensor *t, size_t n)
{
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	size_t k = 0;

	if (!order)
		return NULL;
	for (size_t size = 8; size >= 1; size /= 2)
		for (size_t i = 0; i < n; i++)
			if (gnarl_dtype_size(t[i].dtype) == size)
				order[k++] = i;
	return order;
}

static json_t *build_header(const struct gnarl_tensor *t, const size_t *order, size_t n,
                            const struct gnarl_safetensors_meta *meta, size_t n_meta,
                            uint64_t *data_len)
{
	json_t *root = json_object(), *m;
	uint64_t at = 0;

	if (!root)
		return NULL;
	if (n_meta) {
		m = json_object();
		if (json_object_set_new(root, METADATA_KEY, m) < 0)
			goto fail;
		for (size_t i = 0; i < n_meta; i++)
			if (json_object_set_new(m, meta[i].key, json_string(meta[i].value)) < 0)
				goto fail;
	}
	for (size_t k = 0; k < n; k++) {
		const struct gnarl_tensor *x = &t[order[k]];
		uint64_t bytes = gnarl_tensor_numel(x) * gnarl_dtype_size(x->dtype);
		json_t *shape = json_array();

		for (uint32_t d = 0; d < x->ndim; d++)
			json_array_append_new(shape, json_integer((json_int_t)x->shape[d]));
		if (json_object_set_new(root, x->name,
		                        json_pack("{s:s, s:o, s:[I,I]}", "dtype",
		                                  gnarl_safetensors_dtype_name(x->dtype), "shape",
		                                  shape, "data_offsets", (json_int_t)at,
		                                  (json_int_t)(at + bytes))) < 0)
			goto fail;
		at += bytes;
	}
	*data_len = at;
	return root;
fail:
	json_decref(root);
	return NULL;
}

int gnarl_safetensors_write(const struct gnarl_tensor *t, size_t n,
                            const struct gnarl_safetensors_meta *meta, size_t n_meta,
                            void **out, size_t *out_len, char err[GNARL_ERR_SIZE])
{
	size_t *order = NULL, hlen, padded, total;
	json_t *root = NULL;
	char *text = NULL;
	uint8_t *buf = NULL, *p;
	uint64_t data_len = 0;
	int rc;

	rc = check_tensors(t, n, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n_meta; i++)
		if (!meta[i].key || !meta[i].value)
			return gnarl_err(err, GNARL_EINVAL, "safetensors: metadata entry %zu is NULL", i);
	rc = gnarl_err(err, GNARL_ENOMEM, "safetensors: out of memory building the header");
	order = layout_order(t, n);
	if (!order)
		goto cleanup;
	root = build_header(t, order, n, meta, n_meta, &data_len);
	text = root ? json_dumps(root, JSON_COMPACT) : NULL;
	if (!text)
		goto cleanup;
	hlen = strlen(text);
	padded = (hlen + 8 + 7) / 8 * 8 - 8;
	total = 8 + padded + (size_t)data_len;
	buf = malloc(total);
	if (!buf)
		goto cleanup;
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
	memcpy(buf + 8, text, hlen);
	memset(buf + 8 + hlen, ' ', padded - hlen);
	p = buf + 8 + padded;
	for (size_t k = 0; k < n; k++) {
		const struct gnarl_tensor *x = &t[order[k]];
		size_t bytes = (size_t)(gnarl_tensor_numel(x) * gnarl_dtype_size(x->dtype));

		if (bytes)
			memcpy(p, x->data, bytes);
		p += bytes;
	}
	*out = buf;
	*out_len = total;
	buf = NULL;
	rc = 0;
cleanup:
	free(buf);
	free(text);
	json_decref(root);
	free(order);
	return rc;
}

/* ---- parsing ---------------------------------------------------------- */

void gnarl_safetensors_free(struct gnarl_safetensors *sf)
{
	if (!sf)
		return;
	for (size_t i = 0; i < sf->n; i++)
		free(sf->names[i]);
	for (size_t i = 0; i < sf->n_meta; i++) {
		free(sf->meta_keys[i]);
		free(sf->meta_values[i]);
	}
	free(sf->names);
	free(sf->entries);
	free(sf->meta_keys);
	free(sf->meta_values);
	free(sf);
}

#define BAD(...) gnarl_err(err, GNARL_ECORRUPT, __VA_ARGS__)

static int parse_metadata(struct gnarl_safetensors *sf, json_t *m, const char *what,
                          char err[GNARL_ERR_SIZE])
{
	const char *key;
	json_t *v;
	size_t n = json_object_size(m);

	if (!json_is_object(m))
		return BAD("%s: safetensors header: '__metadata__' is not an object", what);
	sf->meta_keys = calloc(n ? n : 1, sizeof(char *));
	sf->meta_values = calloc(n ? n : 1, sizeof(char *));
	if (!sf->meta_keys || !sf->meta_values)
		return gnarl_err(err, GNARL_ENOMEM, "%s: out of memory", what);
	json_object_foreach (m, key, v) {
		if (!json_is_string(v))
			return BAD("%s: safetensors header: __metadata__ value of '%s' is not a string",
			           what, key);
		sf->meta_keys[sf->n_meta] = strdup(key);
		sf->meta_values[sf->n_meta] = strdup(json_string_value(v));
		sf->n_meta++; /* counted first so that free() releases a half-made pair */
		if (!sf->meta_keys[sf->n_meta - 1] || !sf->meta_values[sf->n_meta - 1])
			return gnarl_err(err, GNARL_ENOMEM, "%s: out of memory", what);
	}
	return 0;
}

static int read_u64(json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* Fill e from the tensor object `v` named `name` (checks its own fields;
 * offsets against the data are checked later, all together). */
static int parse_entry(struct gnarl_safetensors_entry *e, const char *name, json_t *v,
                       const char *what, char err[GNARL_ERR_SIZE])
{
	json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape");
	json_t *off = json_object_get(v, "data_offsets");
	const struct dtype_info *info;
	uint64_t numel = 1, bytes;

	if (!json_is_object(v) || !dt || !shape || !off || json_object_size(v) != 3)
		return BAD("%s: safetensors header: tensor '%s' must be an object with exactly "
		           "dtype, shape and data_offsets", what, name);
	info = json_is_string(dt) ? dtype_by_name(json_string_value(dt)) : NULL;
	if (!info)
		return BAD("%s: safetensors header: tensor '%s' has unknown dtype %s", what, name,
		           json_is_string(dt) ? json_string_value(dt) : "(not a string)");
	if (!json_is_array(shape) || json_array_size(shape) > GNARL_SAFETENSORS_MAX_DIMS)
		return BAD("%s: safetensors header: tensor '%s' shape is not a list of at most %d "
		           "integers", what, name, GNARL_SAFETENSORS_MAX_DIMS);
	e->name = name;
	e->dtype_name = info->name;
	e->dtype = info->dtype;
	e->elem_size = info->size;
	e->ndim = (uint32_t)json_array_size(shape);
	for (uint32_t d = 0; d < e->ndim; d++) {
		if (read_u64(json_array_get(shape, d), &e->shape[d]) < 0)
			return BAD("%s: safetensors header: tensor '%s' shape[%u] is not a "
			           "non-negative integer", what, name, d);
		if (__builtin_mul_overflow(numel, e->shape[d], &numel))
			return BAD("%s: safetensors header: tensor '%s' shape overflows", what, name);
	}
	if (!json_is_array(off) || json_array_size(off) != 2 ||
	    read_u64(json_array_get(off, 0), &e->begin) < 0 ||
	    read_u64(json_array_get(off, 1), &e->end) < 0 || e->begin > e->end)
		return BAD("%s: safetensors header: tensor '%s' data_offsets must be [begin, end] "
		           "with 0 <= begin <= end", what, name);
	if (__builtin_mul_overflow(numel, (uint64_t)info->size, &bytes) ||
	    e->end - e->begin != bytes) {
		char s[128];
		format_shape(s, sizeof(s), e->ndim, e->shape);
		return BAD("%s: safetensors: tensor '%s' (%s %s) needs %" PRIu64 " bytes but its "
		           "data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64,
		           what, name, info->name, s, numel * info->size, e->begin, e->end,
		           e->end - e->begin);
	}
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const struct gnarl_safetensors_entry *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* Offsets must tile [0, data_len) exactly. */
static int check_layout(struct gnarl_safetensors *sf, const uint8_t *data, uint64_t data_len,
                        const char *what, char err[GNARL_ERR_SIZE])
{
	uint64_t at = 0;

	for (size_t i = 0; i < sf->n; i++)
		if (sf->entries[i].end > data_len)
			return BAD("%s: safetensors: tensor '%s' ends at data byte %" PRIu64 " but "
			           "only %" PRIu64 " data bytes follow the header: the file is "
			           "truncated", what, sf->entries[i].name, sf->entries[i].end, data_len);
	qsort(sf->entries, sf->n, sizeof(sf->entries[0]), by_offset);
	for (size_t i = 0; i < sf->n; i++) {
		struct gnarl_safetensors_entry *e = &sf->entries[i];

		if (e->begin > at)
			return BAD("%s: safetensors: gap of %" PRIu64 " bytes before tensor '%s' "
			           "(data bytes %" PRIu64 "..%" PRIu64 " belong to no tensor)",
			           what, e->begin - at, e->name, at, e->begin);
		if (e->begin < at)
			return BAD("%s: safetensors: tensor '%s' [%" PRIu64 ", %" PRIu64 ") overlaps "
			           "the tensor before it, which ends at %" PRIu64,
			           what, e->name, e->begin, e->end, at);
		e->data = data + e->begin;
		at = e->end;
	}
	if (at != data_len)
		return BAD("%s: safetensors: tensors end at data byte %" PRIu64 " but %" PRIu64
		           " data bytes follow the header (trailing bytes)", what, at, data_len);
	return 0;
}

static int parse_header(struct gnarl_safetensors *sf, json_t *root, const uint8_t *data,
                        uint64_t data_len, const char *what, char err[GNARL_ERR_SIZE])
{
	size_t cap = json_object_size(root);
	const char *key;
	json_t *v;
	int rc;

	sf->entries = calloc(cap ? cap : 1, sizeof(*sf->entries));
	sf->names = calloc(cap ? cap : 1, sizeof(*sf->names));
	if (!sf->entries || !sf->names)
		return gnarl_err(err, GNARL_ENOMEM, "%s: out of memory", what);
	json_object_foreach (root, key, v) {
		if (strcmp(key, METADATA_KEY) == 0) {
			rc = parse_metadata(sf, v, what, err);
			if (rc < 0)
				return rc;
			continue;
		}
		sf->names[sf->n] = strdup(key);
		if (!sf->names[sf->n])
			return gnarl_err(err, GNARL_ENOMEM, "%s: out of memory", what);
		rc = parse_entry(&sf->entries[sf->n], sf->names[sf->n], v, what, err);
		sf->n++;
		if (rc < 0)
			return rc;
	}
	return check_layout(sf, data, data_len, what, err);
}

int gnarl_safetensors_parse(const void *buf, size_t len, const char *what,
                            struct gnarl_safetensors **out, char err[GNARL_ERR_SIZE])
{
	const uint8_t *p = buf;
	struct gnarl_safetensors *sf = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	uint64_t hlen = 0;
	int rc;

	what = what ? what : "safetensors";
	if (len < 8)
		return BAD("%s: %zu bytes is too short for a safetensors file (the 8-byte header "
		           "length is missing): the file is truncated", what, len);
	for (int i = 0; i < 8; i++)
		hlen |= (uint64_t)p[i] << (8 * i);
	if (hlen > GNARL_SAFETENSORS_MAX_HEADER)
		return BAD("%s: safetensors header length %" PRIu64 " exceeds the limit of %u bytes",
		           what, hlen, GNARL_SAFETENSORS_MAX_HEADER);
	if (hlen > len - 8)
		return BAD("%s: safetensors header length is %" PRIu64 " bytes but only %zu follow: "
		           "the file is truncated", what, hlen, len - 8);
	if (hlen == 0 || p[8] != '{')
		return BAD("%s: safetensors header does not start with '{'", what);
	root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		rc = BAD("%s: safetensors header is not a valid JSON object (byte %d: %s)", what,
		         root ? 0 : jerr.position, root ? "not an object" : jerr.text);
		goto cleanup;
	}
	sf = calloc(1, sizeof(*sf));
	if (!sf) {
		rc = gnarl_err(err, GNARL_ENOMEM, "%s: out of memory", what);
		goto cleanup;
	}
	rc = parse_header(sf, root, p + 8 + hlen, len - 8 - hlen, what, err);
	if (rc < 0)
		goto cleanup;
	*out = sf;
	sf = NULL;
cleanup:
	gnarl_safetensors_free(sf);
	json_decref(root);
	return rc;
}

size_t gnarl_safetensors_count(const struct gnarl_safetensors *sf)
{
	return sf->n;
}

const struct gnarl_safetensors_entry *gnarl_safetensors_entry(const struct gnarl_safetensors *sf,
                                                              size_t i)
{
	return i < sf->n ? &sf->entries[i] : NULL;
}

const struct gnarl_safetensors_entry *gnarl_safetensors_find(const struct gnarl_safetensors *sf,
                                                             const char *name)
{
	for (size_t i = 0; i < sf->n; i++)
		if (strcmp(sf->entries[i].name, name) == 0)
			return &sf->entries[i];
	return NULL;
}

const char *gnarl_safetensors_metadata(const struct gnarl_safetensors *sf, const char *key)
{
	for (size_t i = 0; i < sf->n_meta; i++)
		if (strcmp(sf->meta_keys[i], key) == 0)
			return sf->meta_values[i];
	return NULL;
}

/* ---- loading ---------------------------------------------------------- */

static int check_match(const struct gnarl_safetensors_entry *e, const struct gnarl_tensor *t,
                       char err[GNARL_ERR_SIZE])
{
	char want[128], have[128];
	bool same = e->ndim == t->ndim;

	for (uint32_t d = 0; same && d < t->ndim; d++)
		same = e->shape[d] == t->shape[d];
	if (e->dtype == t->dtype && same)
		return 0;
	format_shape(want, sizeof(want), t->ndim, t->shape);
	format_shape(have, sizeof(have), e->ndim, e->shape);
	return gnarl_err(err, GNARL_EINCOMPAT,
	                 "tensor '%s' is %s %s in the file but %s %s is expected", t->name,
	                 e->dtype_name, have,
	                 gnarl_safetensors_dtype_name(t->dtype) ? gnarl_safetensors_dtype_name(t->dtype)
	                                                        : "?",
	                 want);
}

int gnarl_safetensors_load(const struct gnarl_safetensors *sf, const struct gnarl_tensor *t,
                           size_t n, unsigned flags, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_safetensors_entry *e;
	int rc;

	for (size_t i = 0; i < n; i++) {
		e = gnarl_safetensors_find(sf, t[i].name);
		if (!e)
			return gnarl_err(err, GNARL_EINCOMPAT, "tensor '%s' is missing from the file",
			                 t[i].name);
		rc = check_match(e, &t[i], err);
		if (rc < 0)
			return rc;
		if (!t[i].data && e->end > e->begin)
			return gnarl_err(err, GNARL_EINVAL, "tensor '%s' has no destination", t[i].name);
	}
	if (flags & GNARL_SAFETENSORS_EXACT) {
		for (size_t k = 0; k < sf->n; k++) {
			bool wanted = false;
			for (size_t i = 0; i < n && !wanted; i++)
				wanted = strcmp(sf->entries[k].name, t[i].name) == 0;
			if (!wanted)
				return gnarl_err(err, GNARL_EINCOMPAT,
				                 "the file holds tensor '%s' that nothing here expects",
				                 sf->entries[k].name);
		}
	}
	for (size_t i = 0; i < n; i++) {
		e = gnarl_safetensors_find(sf, t[i].name);
		if (e->end > e->begin)
			memcpy(t[i].data, e->data, (size_t)(e->end - e->begin));
	}
	return 0;
}
