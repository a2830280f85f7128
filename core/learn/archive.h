/*
 * archive.h - the archive of start states (Go-Explore): a bounded set of
 * cells of the game state, each holding one env's state that reached it,
 * from which episodes may start instead of from the env's normal start.
 *
 * A cell is a function of the game state declared in `archive.cell`: a map
 * of game-state fields to bucket sizes (default group, room, Link's x and
 * y in 48-pixel buckets, the milestones obtained), the cell being the tuple
 * of field / bucket.  Per cell the archive keeps one env state (the first
 * that reached it, or the best by `archive.score`), its visits (entries of
 * any env into it, starts included), how often it was chosen as a start,
 * and the run's env step when it was found.  At each reset an env starts
 * from a cell with probability `archive.start_prob`, the cell drawn with a
 * weight per `archive.weighting` (default: rarely visited and recently
 * found cells first); otherwise from the normal start.  Past
 * `archive.max_cells` the least useful cells (lowest weight, then oldest)
 * are evicted.
 *
 * Dimensions: N envs, C cells (<= max_cells), S bytes of one env's state
 * (the env's env_state_size, ABI 1.1), F fields of the cell.
 *
 * Threads: gnarl_archive_start runs on the rollout's workers for disjoint
 * envs and only reads the archive (and writes env n's slots);
 * everything else runs on the trainer's thread, never while a step runs.
 * Nothing allocates after create except the blob functions and
 * gnarl_archive_sync.  Same run seed, same archive: a draw depends only
 * on the reset seed, the observation order is env order.
 */
#ifndef GNARL_ARCHIVE_H
#define GNARL_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_config;
struct gnarl_dist;
struct gnarl_gauges;
struct gnarl_archive;

/* The `archive:` section of cfg, checked (the fields of `cell`, `score`)
 * and, when archive.enabled and ops is not NULL, the env's ops table (one
 * env's state ops): before anything is made.  GNARL_ECONFIG naming the
 * key, its place in the config and what to do. */
int gnarl_archive_check(const struct gnarl_config *cfg, const char *env_name,
                        const struct gnarl_env_ops *ops, char err[GNARL_ERR_SIZE]);

/* An archive for n_envs envs of `env` (its ops and instance, borrowed:
 * they must outlive the archive).  *out is NULL (and 0 returned) when
 * archive.enabled is false.  Refused with GNARL_ECONFIG (naming
 * archive.enabled and what to do) when the env has no game state or no
 * one-env state ops.  gauges (borrowed, may be NULL) get archive/cells,
 * archive/rooms, archive/start_share, archive/bytes, archive/milestones,
 * archive/new_cells and archive/refused at each gnarl_archive_end.
 * States for max_cells cells are allocated here (calloc: pages are
 * touched only when used). */
int gnarl_archive_create(const struct gnarl_config *cfg, const char *env_name,
                         const struct gnarl_env_ops *ops, void *env, uint32_t n_envs,
                         struct gnarl_gauges *gauges, struct gnarl_archive **out,
                         char err[GNARL_ERR_SIZE]);
void gnarl_archive_free(struct gnarl_archive *a);  /* accepts NULL */

/* Start of an iteration: the run's clock (env_steps: every rank's), the
 * weights of every cell (what gnarl_archive_start draws from until the
 * next begin) and eviction down to the cap.  NULL: nothing. */
void gnarl_archive_begin(struct gnarl_archive *a, uint64_t env_steps);
/* End of an iteration: its gauges.  NULL: nothing. */
void gnarl_archive_end(struct gnarl_archive *a);

/* Reset of env n with reset seed `seed` (any worker thread): with
 * probability start_prob, load a drawn cell's state into env n through
 * io and return true; false (a normal reset is due) otherwise, when the
 * archive is empty or NULL, or when the env refused the state (the cell
 * is dropped at the next observe, with one warning). */
bool gnarl_archive_start(struct gnarl_archive *a, const struct gnarl_env_io *io, uint32_t n,
                         uint64_t seed);

/* After env n's step (its worker): true when its episode started from a
 * cell archive.explore_steps steps ago (0: never), so the rollout ends it
 * there (truncated: the value bootstraps) and starts a new one. */
bool gnarl_archive_explored(struct gnarl_archive *a, uint32_t n);

/* After a step of every env (states: N, the game states after it, resets
 * included): count each env's entry into a cell, archive cells not seen
 * before and better ways into known ones (saving the env's state). */
void gnarl_archive_observe(struct gnarl_archive *a, const struct gnarl_game_state *states);

/* ---- what it holds ----------------------------------------------------- */

struct gnarl_archive_stats {
	uint32_t cells, rooms;         /* cells; distinct (group, room) among them */
	uint32_t max_cells;
	size_t state_bytes;            /* S, one cell's state */
	size_t bytes;                  /* gnarl_archive_save's size */
	uint32_t milestones;           /* enum gnarl_milestone bits held by any cell */
	uint64_t starts, archive_starts; /* resets so far, and those from a cell */
	uint64_t evicted, refused;     /* cells evicted; states the env refused */
};
void gnarl_archive_stats(const struct gnarl_archive *a, struct gnarl_archive_stats *out);

/* One room of the archive, for the HUD's map. */
struct gnarl_archive_room {
	int32_t group, room;
	uint32_t cells;
	uint64_t visits;               /* its cells' visits */
	bool frontier;                 /* holds one of the most likely start cells */
};
/* Up to max rooms by (group, room); returns how many there are. */
uint32_t gnarl_archive_rooms(const struct gnarl_archive *a, struct gnarl_archive_room *out,
                             uint32_t max);

/* ---- as bytes: checkpoints, merges, `gnarl archive` -------------------- */

/* The U8 tensor of a checkpoint's model.safetensors holding the archive. */
#define GNARL_ARCHIVE_TENSOR "archive"

/* Bytes of the archive saved now, and the save itself (size exactly
 * that; little-endian, versioned: see archive_io.c). */
size_t gnarl_archive_size(const struct gnarl_archive *a);
int gnarl_archive_save(const struct gnarl_archive *a, void *buf, size_t size);
/* Replace the archive's cells with a saved archive's (a checkpoint's):
 * saving it again gives the same bytes, and it is the base of the next
 * merge.
 * Refused, leaving the archive as it was: GNARL_ECORRUPT (damaged),
 * GNARL_EVERSION (a newer format), GNARL_EINCOMPAT (another env, another
 * state size or another cell declaration: err says which). */
int gnarl_archive_load(struct gnarl_archive *a, const void *buf, size_t size,
                       char err[GNARL_ERR_SIZE]);

/* A saved archive read without an env (`gnarl archive`, checks): views
 * into the bytes it was read from (borrowed: valid while they are). */
#define GNARL_ARCHIVE_MAX_FIELDS 24
struct gnarl_archive_info {
	char env[33];                  /* the env's name */
	size_t state_bytes;            /* S */
	uint32_t F;
	uint8_t field[GNARL_ARCHIVE_MAX_FIELDS];  /* gnarl_archive_field_name */
	int64_t bucket[GNARL_ARCHIVE_MAX_FIELDS];
	uint8_t score_field;
	int8_t score_sign;             /* -1: lower is better */
	uint64_t now;                  /* the run's env steps when saved */
	uint64_t starts, archive_starts, evicted;
	uint32_t cells, max_cells;
	const uint8_t *data;           /* the cells */
};
struct gnarl_archive_cell {
	int64_t key[GNARL_ARCHIVE_MAX_FIELDS]; /* field / bucket, per field */
	int32_t group, room, x, y;
	uint32_t milestones;           /* enum gnarl_milestone */
	uint64_t visits, chosen, found;
	double score;                  /* sign * the score field */
	const uint8_t *state;          /* S bytes */
};
/* Check a saved archive whole and describe it.  GNARL_ECORRUPT,
 * GNARL_EVERSION (err says what to do). */
int gnarl_archive_info(const void *buf, size_t size, struct gnarl_archive_info *out,
                       char err[GNARL_ERR_SIZE]);
/* Cell i < info->cells. */
void gnarl_archive_info_cell(const struct gnarl_archive_info *info, uint32_t i,
                             struct gnarl_archive_cell *out);
/* The name of game-state field f of a cell or score ("room"), NULL past
 * the last. */
const char *gnarl_archive_field_name(unsigned f);

/* What a rank sends in a merge: the saved archive, then what each cell
 * held at the last merge (or load), so the merge adds only what this rank
 * added since. */
size_t gnarl_archive_message_size(const struct gnarl_archive *a);
int gnarl_archive_message(const struct gnarl_archive *a, void *buf, size_t size);
/* The merge of gnarl_archive_sync on `count` messages (one after the other
 * in `messages`, lens: each one's length), in that order, into a (whose
 * own cells are replaced: pass its own message among them to keep them).
 * Errors leave a as it was. */
int gnarl_archive_merge(struct gnarl_archive *a, const uint8_t *messages, const size_t *lens,
                        uint32_t count, char err[GNARL_ERR_SIZE]);
/* Data-parallel: every rank's archive merged into the same archive on
 * every rank (collective: all ranks call it at the same iteration).  The
 * union of the cells, in rank order; a cell several ranks hold keeps the
 * best state (ties: the lowest rank's), the sum of the visits each rank
 * added since the last merge, the earliest find; then eviction to the
 * cap.  Deterministic: the same inputs give the same bytes everywhere.
 * Returns 0, or GNARL_ENOMEM / GNARL_ECORRUPT (the archive unchanged;
 * every rank gets the same result).  *seconds (may be NULL): its time. */
int gnarl_archive_sync(struct gnarl_archive *a, struct gnarl_dist *d, double *seconds,
                       char err[GNARL_ERR_SIZE]);
/* SHA-256 (hex) of the saved archive from its cell count on: what every
 * rank of a merge holds alike (the clock and counters before it are each
 * rank's own).  0, GNARL_ENOMEM or GNARL_EIO. */
int gnarl_archive_digest(const struct gnarl_archive *a, char hex[65]);
/* Iterations between merges (archive.merge_every). */
uint32_t gnarl_archive_merge_every(const struct gnarl_archive *a);

#endif /* GNARL_ARCHIVE_H */
