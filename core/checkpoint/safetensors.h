/*
 * safetensors.h - the safetensors format (shared/notes/protocols.md):
 * write a list of tensors to one buffer, parse and fully validate a buffer
 * that may be truncated or hostile, and load tensors by name into a
 * caller's list, all or nothing.
 */
#ifndef GNARL_SAFETENSORS_H
#define GNARL_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "tensor.h"

/* Readers refuse a header longer than this (as the reference reader does). */
#define GNARL_SAFETENSORS_MAX_HEADER 100000000u
/* Most dimensions a tensor of a parsed file may have. */
#define GNARL_SAFETENSORS_MAX_DIMS 8

/* One `__metadata__` entry (both strings borrowed). */
struct gnarl_safetensors_meta {
	const char *key;
	const char *value;
};

/* Serialise tensors t[0..n) and the metadata into a new buffer (*out,
 * owned by the caller: free()).  Tensors are laid out by element size,
 * largest first, in list order within a size, so every tensor is aligned
 * to its element size; the header is padded with spaces to a multiple of
 * 8.  Same input, same bytes.  Refuses (GNARL_EINVAL) an empty or
 * duplicate name, a name starting with "__", an unknown dtype, a NULL
 * data pointer for a non-empty tensor. */
int gnarl_safetensors_write(const struct gnarl_tensor *t, size_t n,
                            const struct gnarl_safetensors_meta *meta, size_t n_meta,
                            void **out, size_t *out_len, char err[GNARL_ERR_SIZE]);

/* One tensor of a parsed file. */
struct gnarl_safetensors_entry {
	const char *name;              /* owned by the parsed file */
	const char *dtype_name;        /* "F32", "BF16", ... (static) */
	enum gnarl_dtype dtype;        /* 0 for a valid dtype gnarl has no enum for */
	size_t elem_size;              /* bytes per element */
	uint32_t ndim;
	uint64_t shape[GNARL_SAFETENSORS_MAX_DIMS];
	uint64_t begin, end;           /* data_offsets, relative to the data */
	const uint8_t *data;           /* borrowed from the parsed buffer */
};

struct gnarl_safetensors;  /* a parsed, validated file */

/* Parse and validate buf[0..len) (borrowed: it must outlive *out).  Checks:
 * length prefix present, header length <= GNARL_SAFETENSORS_MAX_HEADER and
 * within the buffer, header is one well-formed JSON object (UTF-8, no
 * duplicate keys), `__metadata__` (optional) maps strings to strings, every
 * other key is a tensor with exactly dtype (a safetensors dtype), shape
 * (non-negative integers, at most GNARL_SAFETENSORS_MAX_DIMS) and
 * data_offsets ([begin, end], begin <= end), end - begin equal to the
 * shape's size, offsets contiguous from 0 without gap or overlap, and the
 * buffer exactly as long as header plus data.  Any failure is
 * GNARL_ECORRUPT (GNARL_ENOMEM for memory) with a message saying what is
 * wrong; `what` (e.g. the file's URI, may be NULL) prefixes it. */
int gnarl_safetensors_parse(const void *buf, size_t len, const char *what,
                            struct gnarl_safetensors **out, char err[GNARL_ERR_SIZE]);
void gnarl_safetensors_free(struct gnarl_safetensors *sf);  /* accepts NULL */

/* Tensors in data order (ascending offsets). */
size_t gnarl_safetensors_count(const struct gnarl_safetensors *sf);
const struct gnarl_safetensors_entry *gnarl_safetensors_entry(const struct gnarl_safetensors *sf,
                                                              size_t i);
/* The entry named `name`, or NULL. */
const struct gnarl_safetensors_entry *gnarl_safetensors_find(const struct gnarl_safetensors *sf,
                                                             const char *name);
/* The `__metadata__` value of key (borrowed), or NULL. */
const char *gnarl_safetensors_metadata(const struct gnarl_safetensors *sf, const char *key);

enum gnarl_safetensors_flags {
	/* The file must hold no tensor other than those asked for. */
	GNARL_SAFETENSORS_EXACT = 1 << 0,
};

/* Copy the file's tensors into t[0..n) by name.  Every t[i] must exist in
 * the file with the same dtype and shape; with GNARL_SAFETENSORS_EXACT the
 * file must hold nothing else.  Everything is checked before the first
 * byte is copied: on failure (GNARL_EINCOMPAT, message names the tensor
 * and both shapes/dtypes) no t[i].data was touched. */
int gnarl_safetensors_load(const struct gnarl_safetensors *sf, const struct gnarl_tensor *t,
                           size_t n, unsigned flags, char err[GNARL_ERR_SIZE]);

/* The safetensors name of a gnarl dtype ("F32"), or NULL. */
const char *gnarl_safetensors_dtype_name(enum gnarl_dtype d);

#endif /* GNARL_SAFETENSORS_H */
