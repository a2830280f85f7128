/*
 * tensor.h - a named view of a numeric array, the unit a checkpoint saves
 * (safetensors) and restores.  Modules with state to save (the learner's
 * parameters, Adam moments, normalisers; reward plugins' blobs) describe
 * it as a list of these views; the data stays where it lives.
 */
#ifndef GNARL_TENSOR_H
#define GNARL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

enum gnarl_dtype {
	GNARL_DTYPE_F32 = 1,
	GNARL_DTYPE_F64,
	GNARL_DTYPE_I32,
	GNARL_DTYPE_I64,
	GNARL_DTYPE_U64,
	GNARL_DTYPE_U8,
};

#define GNARL_TENSOR_MAX_DIMS 4

struct gnarl_tensor {
	const char *name;          /* borrowed, e.g. "policy.layers.0.weight" */
	enum gnarl_dtype dtype;
	uint32_t ndim;             /* 0 for a scalar */
	uint64_t shape[GNARL_TENSOR_MAX_DIMS];
	void *data;                /* borrowed; read on save, written on load */
};

/* Bytes of one element of dtype; 0 for an unknown dtype. */
static inline size_t gnarl_dtype_size(enum gnarl_dtype d)
{
	switch (d) {
	case GNARL_DTYPE_F32:
	case GNARL_DTYPE_I32:
		return 4;
	case GNARL_DTYPE_F64:
	case GNARL_DTYPE_I64:
	case GNARL_DTYPE_U64:
		return 8;
	case GNARL_DTYPE_U8:
		return 1;
	}
	return 0;
}

/* Elements in t (1 for a scalar). */
static inline uint64_t gnarl_tensor_numel(const struct gnarl_tensor *t)
{
	uint64_t n = 1;
	for (uint32_t i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

#endif /* GNARL_TENSOR_H */
