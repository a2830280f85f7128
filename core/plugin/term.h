/*
 * term.h - a reward term as the host runs it: the plugin's instance and the
 * per-env memory the host keeps for it (ABI 1.1's memory_size and
 * connect_memory): allocated here, zeroed before each episode_start, and
 * handed to checkpoints as one (N, bytes per env) array.  Terms of ABI 1.0
 * have no host memory and keep what they remember themselves (their
 * optional save_size/save/load, which checkpoints call through ops).
 *
 * Dimensions: N envs, M bytes of memory per env.
 */
#ifndef GNARL_TERM_H
#define GNARL_TERM_H

#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_term {
	const struct gnarl_reward_ops *ops; /* borrowed: the plugin's table */
	void *inst;                         /* owned: the plugin's instance */
	uint32_t n_envs;                    /* N */
	size_t memory_size;                 /* M; 0: the term has no host memory */
	unsigned char *memory;              /* owned: (N, M) zero-initialised; NULL if M is 0 */
};

/* Create an instance of the reward plugin whose ops are `ops` for n_envs
 * envs with the host table `host` (borrowed until gnarl_term_free), then
 * its memory.  When the plugin's create returns NULL: GNARL_ECONFIG with
 * the plugin's own message in err (cleared before the call, so callers can
 * say where with gnarl_plugin_create_failed).  GNARL_ENOMEM, or
 * GNARL_EINVAL when N x M does not fit in memory.  *out owned. */
int gnarl_term_create(const struct gnarl_reward_ops *ops, const struct gnarl_host *host,
                      uint32_t n_envs, struct gnarl_term **out, char err[GNARL_ERR_SIZE]);
/* Destroys the instance (when the plugin has a destroy), frees the memory.
 * Accepts NULL. */
void gnarl_term_free(struct gnarl_term *t);

/* Env n starts an episode in state s (NULL when the env has no game
 * state): its memory is zeroed, then the plugin's episode_start (if any)
 * runs.  Never allocates. */
void gnarl_term_episode_start(struct gnarl_term *t, uint32_t n, const struct gnarl_game_state *s);
/* The term's unweighted rewards of envs [first, first+count) into out
 * (indexed by env).  Never allocates. */
void gnarl_term_compute(struct gnarl_term *t, uint32_t first, uint32_t count,
                        const struct gnarl_game_state *prev, const struct gnarl_game_state *cur,
                        const int32_t *actions, float *out);

/* Copy saved memory of `rows` envs of `cols` bytes each (as saved from a
 * term's memory) into t.  0; GNARL_EINCOMPAT (nothing copied, message in
 * err) when the shape is not (N, M): another env count or plugin version. */
int gnarl_term_set_memory(struct gnarl_term *t, const void *data, uint64_t rows, uint64_t cols,
                          char err[GNARL_ERR_SIZE]);

/* Memory the in-tree terms saved before ABI 1.1: a blob of their own
 * framing (magic "GRW1", format 1, the plugin's name, n_envs, run-level
 * bytes, episode bytes, in the machine's byte order), which `plugin` (the
 * plugin's name) wrote.  When it holds no run-level memory
 * and its episode memory is exactly N x M bytes, that is the term's
 * memory today (the same records), and it is copied in: 0.  Otherwise
 * GNARL_EINCOMPAT or GNARL_ECORRUPT with the reason in err, nothing
 * copied. */
int gnarl_term_set_legacy_memory(struct gnarl_term *t, const char *plugin, const void *blob,
                                 size_t size, char err[GNARL_ERR_SIZE]);

#endif /* GNARL_TERM_H */
