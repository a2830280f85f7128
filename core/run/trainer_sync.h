/*
 * trainer_sync.h - what the ranks of a data-parallel run agree on besides
 * the gradients (core/ppo.c averages those): the starting weights (the
 * config was compared in core/cmd_train.c), and after each iteration the normalisers' statistics, the
 * episode counts and means, and the learner itself (by hash).
 *
 * core/trainer.c creates one only with several processes
 * (core/dist.h).  Every function that communicates is a collective: all
 * ranks call it at the same point.
 *
 * Episode numbers: each rank counts its own finished episodes; the run's
 * count is their sum.  After a restore, rank 0 carries the checkpoint's
 * count and the others start from zero, so the sum stays the run's.
 * Episode means are over every rank's window (its last 100 episodes),
 * each rank's weighted by how many episodes its window holds.
 */
#ifndef GNARL_TRAINER_SYNC_H
#define GNARL_TRAINER_SYNC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_dist;
struct gnarl_episode;
struct gnarl_episode_means;
struct gnarl_nn;
struct gnarl_ppo;
struct gnarl_rng;
struct gnarl_value;

struct gnarl_trainer_sync;

/* For a trainer on dist (borrowed, must outlive s) whose episodes
 * have n_cols term columns.  *out owned: gnarl_trainer_sync_free().
 * GNARL_ENOMEM. */
int gnarl_trainer_sync_create(struct gnarl_dist *dist, uint32_t n_cols,
                              struct gnarl_trainer_sync **out, char err[GNARL_ERR_SIZE]);
void gnarl_trainer_sync_free(struct gnarl_trainer_sync *s); /* accepts NULL */

/* Before the first iteration of this process: nn's parameters become
 * rank 0's. */
void gnarl_trainer_sync_join(struct gnarl_trainer_sync *s, struct gnarl_nn *nn);

/* After a checkpoint wrote the learner (not a collective): its normaliser
 * statistics become the merge base; on ranks other than 0 the episode
 * history (count, window) starts empty and rng, rank 0's, is re-seeded
 * from itself and the rank. */
void gnarl_trainer_sync_restored(struct gnarl_trainer_sync *s, struct gnarl_ppo *ppo,
                                 struct gnarl_episode *ep, struct gnarl_rng *rng);

/* After each iteration's update: merge the normalisers, the episode
 * counts and means, and compare a hash of the weights and normaliser
 * statistics (a difference ends the job: the ranks would no longer train
 * one network).  Never allocates. */
void gnarl_trainer_sync_iteration(struct gnarl_trainer_sync *s, struct gnarl_ppo *ppo,
                                  struct gnarl_nn *nn, struct gnarl_episode *ep,
                                  uint64_t iteration);

/* Every rank's episode count and means as of the last sync (terms
 * borrowed from s); false before the first. */
bool gnarl_trainer_sync_episodes(const struct gnarl_trainer_sync *s, uint64_t *episodes,
                                 struct gnarl_episode_means *means);

/* True on every rank when any rank's *stop is set (then set on all). */
bool gnarl_trainer_sync_stop(struct gnarl_trainer_sync *s, volatile sig_atomic_t *stop);

/* At the end: log this rank's learner fingerprint ("rank R of K: learner
 * fnv1a64 <16 hex digits> (weights, normalisers) after iteration N") and,
 * on rank 0, what the gradient averaging cost over `updates` minibatch
 * updates. */
void gnarl_trainer_sync_report(struct gnarl_trainer_sync *s, struct gnarl_nn *nn,
                               struct gnarl_ppo *ppo, uint64_t iteration, uint64_t updates);

#endif /* GNARL_TRAINER_SYNC_H */
