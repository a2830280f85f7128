/*
 * term.c - a reward term as the host runs it: create and destroy through
 * the plugin's ops (destroy optional since ABI 1.1), and the per-env memory
 * of ABI 1.1 terms, which the host owns.
 *
 * Entry points: gnarl_term_create/free, gnarl_term_episode_start,
 * gnarl_term_compute, gnarl_term_set_memory,
 * gnarl_term_set_legacy_memory (term.h).
 *
 * Invariants: memory is N blocks of M bytes, zeroed at creation and before
 * each episode_start, handed to the plugin once (connect_memory) before
 * anything else runs; env n's block is touched by the host only in
 * gnarl_term_episode_start(n), so disjoint env ranges may run on several
 * threads.  Loading saved memory copies all of it or none.
 */
#include "term.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* GRW1: the private framing the in-tree reward terms saved their memory
 * in before ABI 1.1 (the former plugins/rewards/reward_state.h): a 56-byte
 * header, then the run-level memory, then the episode memory of every
 * env. */
#define LEGACY_MAGIC 0x31575247u /* "GRW1" */
#define LEGACY_FORMAT 1u
#define LEGACY_NAME 32
#define LEGACY_HEADER (4 + 4 + LEGACY_NAME + 4 + 3 * 4)

int gnarl_term_create(const struct gnarl_reward_ops *ops, const struct gnarl_host *host,
                      uint32_t n_envs, struct gnarl_term **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_term *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	t->ops = ops;
	t->n_envs = n_envs;
	err[0] = '\0';
	t->inst = ops->create(host, n_envs, err);
	if (!t->inst) {
		free(t);
		return GNARL_ECONFIG;
	}
	if (GNARL_HAS(ops, struct gnarl_reward_ops, connect_memory) && ops->memory_size)
		t->memory_size = ops->memory_size(t->inst);
	if (t->memory_size) {
		if (n_envs && t->memory_size > SIZE_MAX / n_envs) {
			rc = gnarl_err(err, GNARL_EINVAL, "the term asks for %zu bytes of memory per "
			               "env, too much for %u envs", t->memory_size, n_envs);
			goto fail;
		}
		t->memory = calloc(n_envs ? n_envs : 1, t->memory_size);
		if (!t->memory) {
			rc = gnarl_err(err, GNARL_ENOMEM, "out of memory for %u envs x %zu bytes of "
			               "the term's memory", n_envs, t->memory_size);
			goto fail;
		}
		ops->connect_memory(t->inst, t->memory);
	}
	*out = t;
	return 0;
fail:
	gnarl_term_free(t);
	return rc;
}

void gnarl_term_free(struct gnarl_term *t)
{
	if (!t)
		return;
	if (t->inst && t->ops->destroy)
		t->ops->destroy(t->inst);
	free(t->memory);
	free(t);
}

void gnarl_term_episode_start(struct gnarl_term *t, uint32_t n, const struct gnarl_game_state *s)
{
	if (t->memory)
		memset(t->memory + (size_t)n * t->memory_size, 0, t->memory_size);
	if (t->ops->episode_start)
		t->ops->episode_start(t->inst, n, s);
}

void gnarl_term_compute(struct gnarl_term *t, uint32_t first, uint32_t count,
                        const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                        const int32_t *actions, float *out)
{
	t->ops->compute(t->inst, first, count, prev, cur, actions, out);
}

int gnarl_term_set_memory(struct gnarl_term *t, const void *data, uint64_t rows, uint64_t cols,
                          char err[GNARL_ERR_SIZE])
{
	if (rows != t->n_envs || cols != t->memory_size)
		return gnarl_err(err, GNARL_EINCOMPAT, "the saved memory is %llu envs x %llu bytes, "
		                 "this run's %u x %zu", (unsigned long long)rows,
		                 (unsigned long long)cols, t->n_envs, t->memory_size);
	if (t->memory)
		memcpy(t->memory, data, (size_t)rows * t->memory_size);
	return 0;
}

int gnarl_term_set_legacy_memory(struct gnarl_term *t, const char *plugin, const void *blob,
                                 size_t size, char err[GNARL_ERR_SIZE])
{
	const unsigned char *p = blob;
	uint32_t head[2], tail[3];
	char name[LEGACY_NAME];

	if (size < LEGACY_HEADER)
		return gnarl_err(err, GNARL_ECORRUPT, "%zu bytes: too short for the GRW1 framing of terms before ABI 1.1",
		                 size);
	memcpy(head, p, sizeof(head));
	memcpy(name, p + 8, LEGACY_NAME);
	name[LEGACY_NAME - 1] = '\0';
	memcpy(tail, p + 8 + LEGACY_NAME + 4, sizeof(tail));
	if (head[0] != LEGACY_MAGIC || head[1] != LEGACY_FORMAT || strcmp(name, plugin))
		return gnarl_err(err, GNARL_EINCOMPAT, "not the memory of '%s' in the GRW1 "
		                 "framing", plugin);
	if (size != LEGACY_HEADER + (size_t)tail[1] + tail[2])
		return gnarl_err(err, GNARL_ECORRUPT, "%zu bytes, its header says %zu (truncated?)",
		                 size, LEGACY_HEADER + (size_t)tail[1] + tail[2]);
	if (tail[1] || !t->memory || tail[0] != t->n_envs ||
	    tail[2] != (uint64_t)t->n_envs * t->memory_size)
		return gnarl_err(err, GNARL_EINCOMPAT, "it was saved before ABI 1.1 in a form this "
		                 "version does not read (%u bytes for %u envs, not %u records of "
		                 "%zu bytes)", tail[2], tail[0], t->n_envs, t->memory_size);
	memcpy(t->memory, p + LEGACY_HEADER, tail[2]);
	return 0;
}
