/*
 * gnarl/reward.h - a reward term in a few lines, on gnarl/plugin.h (ABI
 * 1.1).  Header-only, C11: a term built with it links nothing.
 *
 * A term is its parameters, what it pays one env for one step, and one
 * declaration:
 *
 *     #include <gnarl/reward.h>
 *
 *     #define PARAMS(X) \
 *             X(float, per_step, FLOAT, -0.0001, -1e6, 1e6, "paid every step")
 *     GNARL_REWARD_PARAMS(PARAMS)
 *
 *     static float pay(const struct params *p, void *memory,
 *                      const struct gnarl_game_state *prev,
 *                      const struct gnarl_game_state *cur, int32_t action)
 *     {
 *             return p->per_step;
 *     }
 *
 *     GNARL_REWARD(time_penalty, "1.1.0", "a small cost per step", pay, NULL, 0)
 *
 * GNARL_REWARD_PARAMS(LIST) declares `struct params`, one field per
 * parameter, and the table the host validates the config against.  Each
 * entry of LIST is
 *     X(c_type, name, TYPE, default, min, max, help)
 * with TYPE one of FLOAT, INT, BOOL (min and max bound FLOAT and INT
 * values; write 0, 0 for BOOL).  The default is written once: the table
 * holds its text ("-0.0001", "true") and the field is read as that value.
 * The field is the value cast to c_type (float, double, int32_t, bool...).
 *
 * GNARL_REWARD(name, version, summary, pay, start, memory_bytes) declares
 * the rest: the plugin's descriptor, its entry point, create and destroy
 * (the params read into a struct params), and the ops that call
 *   pay    float pay(const struct params *p, void *memory,
 *                    const struct gnarl_game_state *prev,
 *                    const struct gnarl_game_state *cur, int32_t action)
 *          the unweighted reward of one env's step prev -> cur.  Called for
 *          disjoint env ranges from several threads: touch only `memory`.
 *   start  NULL, or void start(const struct params *p, void *memory,
 *                              const struct gnarl_game_state *state)
 *          an env starts an episode in `state` (NULL when the env has no
 *          game state); its memory is already zeroed.
 *   memory_bytes  the bytes of memory the host keeps for each env, an
 *          expression of `p` (the params): 0 (none; memory is NULL),
 *          sizeof(struct my_env_memory), or a function of p.  Plain data,
 *          a whole number of its largest member's alignment (sizeof of a
 *          struct is): the host zeroes it when an episode starts and saves
 *          and restores it with checkpoints.
 *
 * What GNARL_REWARD declares is static and named gnarl_reward_*_ (and
 * struct gnarl_reward_term_), so use it once per file.  A term that needs
 * more (memory across episodes, its own create) writes its ops with
 * gnarl/plugin.h alone; GNARL_REWARD_PARAMS works there too.
 */
#ifndef GNARL_REWARD_H
#define GNARL_REWARD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gnarl/plugin.h"

#if defined(__GNUC__)
#define GNARL_UNUSED_ __attribute__((unused))
#else
#define GNARL_UNUSED_
#endif

/* ---- parameters --------------------------------------------------------- */

#define GNARL_REWARD_FLAGS_FLOAT_ (GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX)
#define GNARL_REWARD_FLAGS_INT_ (GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX)
#define GNARL_REWARD_FLAGS_BOOL_ 0
#define GNARL_REWARD_GET_FLOAT_ gnarl_param_float
#define GNARL_REWARD_GET_INT_ gnarl_param_int
#define GNARL_REWARD_GET_BOOL_ gnarl_param_bool

#define GNARL_REWARD_FIELD_(c_type, id, TYPE, def, lo, hi, text) c_type id;
#define GNARL_REWARD_ROW_(c_type, id, TYPE, def, lo, hi, text)                           \
	{.name = #id, .type = GNARL_PARAM_##TYPE, .flags = GNARL_REWARD_FLAGS_##TYPE##_,     \
	 .default_yaml = #def, .min = (lo), .max = (hi), .help = (text)},
#define GNARL_REWARD_READ_(c_type, id, TYPE, def, lo, hi, text)                          \
	p->id = (c_type)GNARL_REWARD_GET_##TYPE##_(host, #id, def);

#define GNARL_REWARD_PARAMS(LIST)                                                        \
	struct params {                                                                  \
		LIST(GNARL_REWARD_FIELD_)                                                \
		char gnarl_end_; /* a struct has a member even with no params */         \
	};                                                                               \
	static const struct gnarl_param gnarl_reward_params_[] = {                       \
		LIST(GNARL_REWARD_ROW_) GNARL_PARAMS_END};                               \
	static void gnarl_reward_read_(const struct gnarl_host *host, struct params *p)  \
	{                                                                                \
		(void)host;                                                              \
		(void)p;                                                                 \
		LIST(GNARL_REWARD_READ_)                                                 \
	}

/* ---- the term ----------------------------------------------------------- */

/* An op that is NULL when `fn` is (NULL or 0), else `wrapper`. */
#define GNARL_REWARD_IF_SET_(fn, wrapper, type)                                           \
	_Generic((fn), void *: (type)0, int: (type)0, default: (wrapper))

#define GNARL_REWARD(NAME, VERSION, SUMMARY, PAY, START, MEMORY_BYTES)                     \
	struct gnarl_reward_term_ {                                                        \
		struct params p;                                                           \
		size_t memory_size;                                                        \
		unsigned char *memory;                                                     \
	};                                                                                 \
	static void (*const gnarl_reward_start_fn_)(const struct params *, void *,         \
	                                            const struct gnarl_game_state *) = START; \
	static void *gnarl_reward_create_(const struct gnarl_host *host, uint32_t n_envs,  \
	                                  char err[GNARL_ERR_SIZE])                        \
	{                                                                                  \
		struct gnarl_reward_term_ *t =                                             \
		    (struct gnarl_reward_term_ *)calloc(1, sizeof(*t));                    \
		const struct params *p;                                                    \
		(void)n_envs;                                                              \
		if (!t) {                                                                  \
			snprintf(err, GNARL_ERR_SIZE, "%s: out of memory", #NAME);          \
			return NULL;                                                       \
		}                                                                          \
		gnarl_reward_read_(host, &t->p);                                           \
		p = &t->p;                                                                 \
		t->memory_size = (size_t)(MEMORY_BYTES);                                   \
		(void)p;                                                                   \
		return t;                                                                  \
	}                                                                                  \
	static void gnarl_reward_destroy_(void *term)                                      \
	{                                                                                  \
		free(term);                                                                \
	}                                                                                  \
	static unsigned char *gnarl_reward_memory_(const struct gnarl_reward_term_ *t,     \
	                                           uint32_t i)                             \
	{                                                                                  \
		return t->memory ? t->memory + (size_t)i * t->memory_size : NULL;          \
	}                                                                                  \
	GNARL_UNUSED_ static void gnarl_reward_episode_start_(                             \
	    void *term, uint32_t index, const struct gnarl_game_state *state)             \
	{                                                                                  \
		const struct gnarl_reward_term_ *t = (const struct gnarl_reward_term_ *)term; \
		gnarl_reward_start_fn_(&t->p, gnarl_reward_memory_(t, index), state);       \
	}                                                                                  \
	static void gnarl_reward_compute_(void *term, uint32_t first, uint32_t count,      \
	                                  const struct gnarl_game_state *prev,             \
	                                  const struct gnarl_game_state *cur,              \
	                                  const int32_t *actions, float *out)              \
	{                                                                                  \
		const struct gnarl_reward_term_ *t = (const struct gnarl_reward_term_ *)term; \
		for (uint32_t i = first; i < first + count; i++)                           \
			out[i] = PAY(&t->p, gnarl_reward_memory_(t, i), &prev[i], &cur[i],  \
			             actions[i]);                                          \
	}                                                                                  \
	static size_t gnarl_reward_memory_size_(void *term)                                \
	{                                                                                  \
		return ((const struct gnarl_reward_term_ *)term)->memory_size;             \
	}                                                                                  \
	static void gnarl_reward_connect_memory_(void *term, void *memory)                 \
	{                                                                                  \
		((struct gnarl_reward_term_ *)term)->memory = (unsigned char *)memory;     \
	}                                                                                  \
	static const struct gnarl_reward_ops gnarl_reward_ops_ = {                         \
	    .size = sizeof(struct gnarl_reward_ops),                                       \
	    .create = gnarl_reward_create_,                                                \
	    .destroy = gnarl_reward_destroy_,                                              \
	    .episode_start = GNARL_REWARD_IF_SET_(                                         \
	        START, gnarl_reward_episode_start_,                                        \
	        void (*)(void *, uint32_t, const struct gnarl_game_state *)),              \
	    .compute = gnarl_reward_compute_,                                              \
	    .memory_size = gnarl_reward_memory_size_,                                      \
	    .connect_memory = gnarl_reward_connect_memory_,                                \
	};                                                                                 \
	static const struct gnarl_plugin gnarl_reward_plugin_ = {                          \
	    .abi_version = GNARL_ABI_VERSION,                                              \
	    .size = sizeof(struct gnarl_plugin),                                           \
	    .kind = GNARL_KIND_REWARD,                                                     \
	    .name = #NAME,                                                                 \
	    .version = VERSION,                                                            \
	    .summary = SUMMARY,                                                            \
	    .params = gnarl_reward_params_,                                                \
	    .ops.reward = &gnarl_reward_ops_,                                              \
	    .param_size = sizeof(struct gnarl_param),                                      \
	};                                                                                 \
	GNARL_PLUGIN_ENTRY(&gnarl_reward_plugin_)

#endif /* GNARL_REWARD_H */
