/*
 * dist.h - data-parallel training across processes (docs/architecture.md):
 * `mpirun -n K gnarl train ...`.
 *
 * Every rank steps its own envs and computes gradients on its own
 * rollout; gnarl_dist_average_f32 averages them (MPI_Allreduce) before
 * the one Adam step all ranks take, so the weights stay identical.  The
 * collectives below are the only communication: every rank calls the
 * same ones in the same order with the same sizes.
 *
 * A process joins an MPI job only when a launcher started it (one of
 * OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK in the environment); a plain
 * `gnarl train` makes no MPI call at all.  Without MPI (a build where CMake
 * found none, or no launcher) the object is rank 0 of 1 and every
 * collective is a no-op that leaves its data as it is.
 *
 * Threads: MPI is initialised with MPI_THREAD_FUNNELED; only the thread
 * that called gnarl_dist_init may call the collectives (the trainer's
 * thread; pool worker 0 is that thread).
 *
 * Failures: MPI's own errors abort the whole job (MPI_ERRORS_ARE_FATAL),
 * so a broken peer never leaves the others waiting forever;
 * gnarl_dist_abort does the same for gnarl's fatal errors.
 */
#ifndef GNARL_DIST_H
#define GNARL_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_dist;

/* Join the launcher's job (see above) or become rank 0 of 1.  *out owned:
 * gnarl_dist_finalize().  GNARL_EUNSUPPORTED when a launcher started
 * several processes but this build has no MPI (the message says how to
 * get one); GNARL_EIO when MPI cannot start or lacks the thread level;
 * GNARL_ENOMEM. */
int gnarl_dist_init(struct gnarl_dist **out, char err[GNARL_ERR_SIZE]);
/* Leave the job (MPI_Finalize, which waits for every rank) and free d.
 * Accepts NULL. */
void gnarl_dist_finalize(struct gnarl_dist *d);

/* This process's rank and the number of processes (NULL: 0 and 1). */
int gnarl_dist_rank(const struct gnarl_dist *d);
int gnarl_dist_size(const struct gnarl_dist *d);
/* More than one process: the collectives communicate. */
bool gnarl_dist_on(const struct gnarl_dist *d);

/* ---- collectives (all ranks, same order, same sizes) ------------------ */

/* Rank 0's string to every rank: on the others *s is freed and replaced
 * by a malloc'ed copy (owned by the caller; a rank out of memory ends the
 * job, as gnarl_dist_abort). */
void gnarl_dist_bcast_string(struct gnarl_dist *d, char **s);
/* Rank 0's x (n floats) to every rank, in place. */
void gnarl_dist_bcast_f32(struct gnarl_dist *d, float *x, size_t n);
/* x (n floats) <- the mean of every rank's x, in place; identical on
 * every rank.  Never allocates.  Its time is counted (reduce_seconds). */
void gnarl_dist_average_f32(struct gnarl_dist *d, float *x, size_t n);
/* x (n doubles) <- the mean of every rank's x, in place. */
void gnarl_dist_average_f64(struct gnarl_dist *d, double *x, size_t n);
/* all (size * n doubles) <- every rank's `mine` (n doubles), rank 0's
 * first; `mine` may be this rank's own row of `all`.  Never allocates. */
void gnarl_dist_allgather_f64(struct gnarl_dist *d, const double *mine, size_t n, double *all);
/* Every rank's `mine` (len bytes, any length per rank), concatenated in
 * rank order into a new buffer (owned: free()); lens (size entries) gets
 * each rank's length.  A rank out of memory, or more than 2 GiB in all,
 * ends the job (as gnarl_dist_abort).  Alone: a copy of mine. */
uint8_t *gnarl_dist_allgather_bytes(struct gnarl_dist *d, const void *mine, size_t len,
                                    size_t *lens);
/* True on every rank when `flag` is true on any. */
bool gnarl_dist_any(struct gnarl_dist *d, bool flag);

/* Seconds spent in gnarl_dist_average_f32 so far (waiting for the slowest
 * rank included): the cost of the gradient allreduce. */
double gnarl_dist_reduce_seconds(const struct gnarl_dist *d);

/* A fatal error that the other ranks cannot know about: log
 * "gnarl: error: rank R of K: <message>" and end the whole job
 * (MPI_Abort with `code`; a single process exits with it). */
_Noreturn void gnarl_dist_abort(struct gnarl_dist *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* GNARL_DIST_H */
