/*
 * reward_state.h - the checkpoint format every reward term of this
 * directory saves its memory in (the optional save_size/save/load reward
 * ops of gnarl/plugin.h).  Header-only, static inline: each term is one
 * .so and links nothing.
 *
 * A blob: a 56-byte header (magic "GRW1", format, the term's plugin name
 * in 32 bytes, 4 reserved, n_envs, run-level bytes, episode-memory bytes;
 * u32 each),
 * then the run-level memory, then the episode memory of all n_envs envs.
 * Numbers are in the host's byte order, as the safetensors around them
 * (gnarl runs on little-endian machines).
 *
 * Loading a blob saved with another n_envs keeps the run-level memory
 * only (the host then starts a new episode in every env); a blob of
 * another term, format or a wrong size is refused and changes nothing.
 * Terms whose only memory is one fixed-size record per env use the
 * rs_dense_* pair.
 */
#ifndef GNARL_REWARD_STATE_H
#define GNARL_REWARD_STATE_H

#include <stdio.h>
#include <string.h>

#include <gnarl/plugin.h>

#define RS_MAGIC 0x31575247u   /* "GRW1" */
#define RS_FORMAT 1u
#define RS_NAME 32
#define RS_HEADER_SIZE (4 + 4 + RS_NAME + 4 + 3 * 4)

/* What a header says, with pointers into the blob. */
struct rs_view {
	uint32_t n_envs;
	const uint8_t *run, *env;  /* env: NULL when saved with another n_envs */
	size_t run_bytes, env_bytes;
};

static inline size_t rs_size(size_t run_bytes, size_t env_bytes)
{
	return RS_HEADER_SIZE + run_bytes + env_bytes;
}

/* Write the header; returns where the run-level memory goes. */
static inline uint8_t *rs_put_header(void *buf, const char *name, uint32_t n_envs,
                                     size_t run_bytes, size_t env_bytes)
{
	uint32_t h[2] = {RS_MAGIC, RS_FORMAT};
	uint32_t tail[3] = {n_envs, (uint32_t)run_bytes, (uint32_t)env_bytes};
	size_t len = strlen(name) < RS_NAME - 1 ? strlen(name) : RS_NAME - 1;
	uint8_t *p = buf;

	memcpy(p, h, 8);
	memset(p + 8, 0, RS_NAME + 4);
	memcpy(p + 8, name, len);
	memcpy(p + 8 + RS_NAME + 4, tail, sizeof(tail));
	return p + RS_HEADER_SIZE;
}

/* Check a blob for term `name` loaded by an instance of n_envs envs. */
static inline int rs_get_header(const void *buf, size_t size, const char *name,
                                uint32_t n_envs, struct rs_view *v, char err[GNARL_ERR_SIZE])
{
	const uint8_t *p = buf;
	uint32_t h[2], tail[3];
	char saved[RS_NAME];

	if (size < RS_HEADER_SIZE) {
		snprintf(err, GNARL_ERR_SIZE, "%s: saved state of %zu bytes is too short to be one",
		         name, size);
		return GNARL_ECORRUPT;
	}
	memcpy(h, p, 8);
	memcpy(saved, p + 8, RS_NAME);
	saved[RS_NAME - 1] = '\0';
	memcpy(tail, p + 8 + RS_NAME + 4, sizeof(tail));
	if (h[0] != RS_MAGIC || strcmp(saved, name)) {
		snprintf(err, GNARL_ERR_SIZE, "%s: the saved state is not this term's (%s)", name,
		         h[0] == RS_MAGIC ? saved : "no reward-term header");
		return GNARL_ECORRUPT;
	}
	if (h[1] != RS_FORMAT) {
		snprintf(err, GNARL_ERR_SIZE, "%s: saved state format %u; this plugin reads format %u",
		         name, h[1], RS_FORMAT);
		return GNARL_EVERSION;
	}
	if (size != rs_size(tail[1], tail[2])) {
		snprintf(err, GNARL_ERR_SIZE, "%s: saved state has %zu bytes, its header says %zu "
		         "(truncated?)", name, size, rs_size(tail[1], tail[2]));
		return GNARL_ECORRUPT;
	}
	v->n_envs = tail[0];
	v->run = p + RS_HEADER_SIZE;
	v->run_bytes = tail[1];
	v->env = tail[0] == n_envs ? v->run + tail[1] : NULL;
	v->env_bytes = tail[2];
	return 0;
}

/* Terms whose memory is `per_env` bytes per env at `arr` (n_envs records). */
static inline size_t rs_dense_size(uint32_t n_envs, size_t per_env)
{
	return rs_size(0, (size_t)n_envs * per_env);
}

static inline int rs_dense_save(const char *name, uint32_t n_envs, const void *arr,
                                size_t per_env, void *buf, size_t size)
{
	if (size != rs_dense_size(n_envs, per_env))
		return GNARL_EINVAL;
	memcpy(rs_put_header(buf, name, n_envs, 0, (size_t)n_envs * per_env), arr,
	       (size_t)n_envs * per_env);
	return 0;
}

static inline int rs_dense_load(const char *name, uint32_t n_envs, void *arr, size_t per_env,
                                const void *buf, size_t size, char err[GNARL_ERR_SIZE])
{
	struct rs_view v;
	int rc = rs_get_header(buf, size, name, n_envs, &v, err);

	if (rc || !v.env)
		return rc;
	if (v.env_bytes != (size_t)n_envs * per_env) {
		snprintf(err, GNARL_ERR_SIZE, "%s: saved episode memory has %zu bytes for %u envs, %zu "
		         "expected (another plugin version?)", name, v.env_bytes, n_envs,
		         (size_t)n_envs * per_env);
		return GNARL_ECORRUPT;
	}
	memcpy(arr, v.env, v.env_bytes);
	return 0;
}

/* The three ops of a term whose `struct term` has `n_envs` and an array
 * `field` of one record per env, saved under plugin name `name`. */
#define RS_DENSE_OPS(name, field)                                                        \
	static size_t save_size(void *self)                                                \
	{                                                                                  \
		const struct term *t = self;                                                   \
		return rs_dense_size(t->n_envs, sizeof(*t->field));                            \
	}                                                                                  \
	static int save(void *self, void *buf, size_t size)                                \
	{                                                                                  \
		const struct term *t = self;                                                   \
		return rs_dense_save(name, t->n_envs, t->field, sizeof(*t->field), buf, size); \
	}                                                                                  \
	static int load(void *self, const void *buf, size_t size, char err[GNARL_ERR_SIZE]) \
	{                                                                                  \
		struct term *t = self;                                                         \
		return rs_dense_load(name, t->n_envs, t->field, sizeof(*t->field), buf, size,  \
		                     err);                                                     \
	}

#endif /* GNARL_REWARD_STATE_H */
