/*
 * episode.h - per-env episode accounting and the finished-episode record.
 *
 * Everything except the returns is computed from game states, so the
 * numbers do not depend on which reward plugins are configured:
 * rooms discovered = distinct (group, room), dungeons entered = distinct
 * dungeon >= 0, enemies killed = the game's counter at the end minus at
 * the start, milestones = enum gnarl_milestone conditions that became true
 * during the episode.  Envs without game state report zeros there.
 *
 * Threads: begin/step/end touch only env `env`'s slot, so pool workers may
 * call them for disjoint envs at once.  add/means/counters are for the
 * main thread.  Nothing allocates after create.
 */
#ifndef GNARL_EPISODE_H
#define GNARL_EPISODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "tensor.h"

enum gnarl_milestone {
	GNARL_MILESTONE_SWORD = 1 << 0,       /* treasure GNARL_TREASURE_SWORD */
	GNARL_MILESTONE_MAKU_TREE = 1 << 1,   /* group GNARL_GROUP_MAKU_TREE reached */
	GNARL_MILESTONE_GNARLED_KEY = 1 << 2, /* treasure GNARL_TREASURE_GNARLED_KEY */
	GNARL_MILESTONE_DUNGEON = 1 << 3,     /* inside a dungeon (dungeon >= 0) */
	GNARL_MILESTONE_COUNT = 4             /* milestone k is bit 1 << k */
};

/* One finished episode.  `terms` is borrowed from the tracker: valid
 * until the same env finishes its next episode. */
struct gnarl_episode_record {
	uint32_t env;
	uint64_t episode;         /* the env's episode number, from 0 */
	double ret;               /* sum of rewards: env-native + weighted terms */
	double env_reward;        /* sum of env-native rewards */
	uint64_t length;          /* steps */
	uint32_t n_terms;
	const double *terms;      /* (n_terms) sums of weight_i * term_i */
	uint32_t rooms;           /* distinct (group, room) visited */
	uint32_t dungeons;        /* distinct dungeons entered */
	int32_t enemies_killed;
	uint32_t milestones;      /* enum gnarl_milestone mask */
	bool terminated, truncated;
	bool has_state;           /* the env fills game states */
};

/* Means over the last `window` finished episodes. */
struct gnarl_episode_means {
	uint32_t count;           /* episodes in the window (0: means are 0) */
	double ret, length;
	double rooms, dungeons, enemies_killed, milestones; /* milestones: count */
	const double *terms;      /* (n_terms), borrowed from the tracker */
};

struct gnarl_episode;

/* n_terms reward terms; window > 0 (100 for the usual metrics).  *out
 * owned: gnarl_episode_free(). */
int gnarl_episode_create(uint32_t n_envs, uint32_t n_terms, uint32_t window,
                         struct gnarl_episode **out, char err[GNARL_ERR_SIZE]);
void gnarl_episode_free(struct gnarl_episode *e);  /* accepts NULL */

/* Env `env` starts an episode in `state` (NULL: no game state). */
void gnarl_episode_begin(struct gnarl_episode *e, uint32_t env,
                         const struct gnarl_game_state *state);
/* One step of env: total reward, env-native reward, the weighted terms
 * (terms[k * stride], k < n_terms), the state after the step (or NULL). */
void gnarl_episode_step(struct gnarl_episode *e, uint32_t env, float total,
                        float env_reward, const float *terms, size_t stride,
                        const struct gnarl_game_state *state);
/* End env's episode with its done flags: fill rec, count the episode. */
void gnarl_episode_end(struct gnarl_episode *e, uint32_t env, uint8_t dones,
                       struct gnarl_episode_record *rec);

/* Main thread: put a finished record into the window. */
void gnarl_episode_add(struct gnarl_episode *e, const struct gnarl_episode_record *rec);
void gnarl_episode_means(struct gnarl_episode *e, struct gnarl_episode_means *out);
/* Episodes added so far (all envs). */
uint64_t gnarl_episode_total(const struct gnarl_episode *e);
/* The number of env's running episode (its reset seed derives from it). */
uint64_t gnarl_episode_number(const struct gnarl_episode *e, uint32_t env);

/* Checkpoint state (views, written in place on restore):
 *   "episode.numbers"       U64 (N): each env's running episode number
 *   "episode.total"         U64 scalar: episodes finished
 *   "episode.window"        F64 (window, 6): the last episodes' return,
 *                           length, rooms, dungeons, enemies, milestones
 *   "episode.window_terms"  F64 (window, n_terms): their term sums
 *   "episode.window_pos"    U64 (2): rows in use, next row to write
 * With another env count or other reward terms on resume, the shapes of
 * numbers and window_terms differ: skip them (rows are then zeros).
 * Returns how many exist (5). */
uint32_t gnarl_episode_tensors(struct gnarl_episode *e, struct gnarl_tensor *out,
                               uint32_t max);

/* The running episodes, so a resumed run continues them exactly (views,
 * written in place on restore):
 *   "episode.running"        U64 (N, GNARL_EPISODE_RUNNING_WORDS): each
 *                            env's accumulators as 8-byte words: return and
 *                            env reward (doubles' bits), length, the 32
 *                            words of the rooms set, rooms, dungeons set,
 *                            enemy counter at start and now (signed),
 *                            milestones at start and now, has-state flag
 *   "episode.running_terms"  F64 (N, n_terms): their weighted term sums
 * Both depend on N (and the second on the terms): with other shapes on
 * resume, the envs start new episodes instead.  Returns how many exist (2). */
#define GNARL_EPISODE_RUNNING_WORDS 42
uint32_t gnarl_episode_running_tensors(struct gnarl_episode *e, struct gnarl_tensor *out,
                                       uint32_t max);

/* The name of milestone k (bit 1 << k, k < GNARL_MILESTONE_COUNT) in
 * metrics, summaries and eval output: "sword", "maku_tree", ... */
const char *gnarl_episode_milestone_name(unsigned k);

/* Milestones (enum gnarl_milestone) that hold in state s. */
uint32_t gnarl_episode_milestones_of(const struct gnarl_game_state *s);

#endif /* GNARL_EPISODE_H */
