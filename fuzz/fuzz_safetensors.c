/*
 * fuzz_safetensors.c - model.safetensors as a restore reads it: parse and
 * validate a whole file (length prefix, JSON header, dtypes, shapes,
 * offsets), then look every tensor up and load them all by name.
 *
 * Input: the file's bytes.
 *
 * Oracles besides the sanitizers: every tensor of an accepted file lies
 * inside the buffer and matches its shape; loading copies exactly those
 * bytes; and the tensors written back out parse to the same tensors.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

static uint64_t numel(const struct gnarl_safetensors_entry *e)
{
	uint64_t n = 1;

	for (uint32_t d = 0; d < e->ndim; d++)
		n *= e->shape[d];
	return n;
}

/* Write the loaded tensors back and parse the result: same names,
 * shapes and bytes. */
static void round_trip(const struct gnarl_tensor *t, size_t n)
{
	char err[GNARL_ERR_SIZE];
	struct gnarl_safetensors *back = NULL;
	void *buf = NULL;
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		if (!t[i].name[0] || !strncmp(t[i].name, "__", 2))
			return; /* names the writer refuses by design */
	FUZZ_CHECK(gnarl_safetensors_write(t, n, NULL, 0, &buf, &len, err) == 0,
	           "tensors that parsed do not write: %s", err);
	FUZZ_CHECK(gnarl_safetensors_parse(buf, len, "written", &back, err) == 0,
	           "a file gnarl wrote does not parse: %s", err);
	FUZZ_CHECK(gnarl_safetensors_count(back) == n, "%zu tensors written, %zu read",
	           n, gnarl_safetensors_count(back));
	for (size_t i = 0; i < n; i++) {
		const struct gnarl_safetensors_entry *e = gnarl_safetensors_find(back, t[i].name);
		size_t bytes;

		FUZZ_CHECK(e && e->ndim == t[i].ndim, "tensor '%s' lost its shape", t[i].name);
		bytes = (size_t)(e->end - e->begin);
		FUZZ_CHECK(bytes == 0 || memcmp(e->data, t[i].data, bytes) == 0,
		           "tensor '%s' changed its bytes", t[i].name);
	}
	gnarl_safetensors_free(back);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[GNARL_ERR_SIZE];
	struct gnarl_safetensors *sf = NULL;
	struct gnarl_tensor *t = NULL;
	size_t n, k = 0;
	bool all_known = true;

	if (gnarl_safetensors_parse(data, size, "fuzz.safetensors", &sf, err) != 0) {
		FUZZ_CHECK(err[0], "a refusal without a message");
		return 0;
	}
	n = gnarl_safetensors_count(sf);
	t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct gnarl_safetensors_entry *e = gnarl_safetensors_entry(sf, i);
		uint64_t bytes = e->end - e->begin;

		FUZZ_CHECK(e->begin <= e->end && e->end <= size, "tensor '%s' [%llu, %llu) "
		           "lies outside a %zu-byte file", e->name, (unsigned long long)e->begin,
		           (unsigned long long)e->end, size);
		FUZZ_CHECK(bytes == numel(e) * e->elem_size, "tensor '%s' is %llu bytes for its "
		           "shape", e->name, (unsigned long long)bytes);
		FUZZ_CHECK(bytes == 0 || (e->data >= data && e->data + bytes <= data + size),
		           "tensor '%s' points outside the buffer", e->name);
		FUZZ_CHECK(gnarl_safetensors_find(sf, e->name) == e, "'%s' is not found by name",
		           e->name);
		if (!e->dtype || e->ndim > GNARL_TENSOR_MAX_DIMS) {
			all_known = false;
			continue;
		}
		t[k].name = e->name;
		t[k].dtype = e->dtype;
		t[k].ndim = e->ndim;
		memcpy(t[k].shape, e->shape, e->ndim * sizeof(e->shape[0]));
		t[k].data = malloc(bytes ? bytes : 1);
		if (!t[k].data)
			abort();
		memset(t[k].data, 0xA5, bytes);
		k++;
	}
	(void)gnarl_safetensors_metadata(sf, "format");
	FUZZ_CHECK(gnarl_safetensors_load(sf, t, k, all_known ? GNARL_SAFETENSORS_EXACT : 0,
	                                  err) == 0,
	           "its own tensors do not load: %s", err);
	for (size_t i = 0; i < k; i++) {
		const struct gnarl_safetensors_entry *e = gnarl_safetensors_find(sf, t[i].name);
		size_t bytes = (size_t)(e->end - e->begin);

		FUZZ_CHECK(bytes == 0 || memcmp(t[i].data, e->data, bytes) == 0,
		           "loading '%s' copied other bytes", t[i].name);
	}
	round_trip(t, k);
	for (size_t i = 0; i < k; i++)
		free(t[i].data);
	free(t);
	gnarl_safetensors_free(sf);
	return 0;
}
