/*
 * archive_internal.h - what archive.c (cells, draws, eviction),
 * archive_cell.c (what a cell is) and archive_io.c (bytes, loading,
 * merging) share: the archive's struct, its
 * cells and the few helpers both call.
 *
 * Cells are dense: slots 0..C-1 are in use, their keys in keys (C, F) and
 * their states in states (C, S); removing a cell moves the last one into
 * its slot.  table is an open-addressing hash table (linear probing,
 * power-of-two size, at least twice max_cells) of slot + 1, 0 empty.
 */
#ifndef GNARL_ARCHIVE_INTERNAL_H
#define GNARL_ARCHIVE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "archive.h"

struct gnarl_config;

#define ARCHIVE_MAX_FIELDS GNARL_ARCHIVE_MAX_FIELDS
#define ARCHIVE_ENV_NAME 32    /* bytes of the env's name in a saved archive */

enum archive_weighting { W_RARE_RECENT, W_RARE, W_RECENT, W_UNIFORM };

struct archive_cell {
	uint64_t hash;
	int32_t group, room, x, y;    /* where its state is (the HUD's map) */
	uint32_t milestones;          /* enum gnarl_milestone of its state */
	uint64_t visits, chosen;
	uint64_t merged_visits, merged_chosen; /* at the last merge */
	uint64_t found;               /* the run's env steps when found */
	double score;                 /* sign * the score field (higher: better) */
};

/* A cell's place in the eviction order. */
struct archive_rank {
	double weight;
	uint64_t found;
	uint32_t slot;
};

struct gnarl_archive {
	/* what a cell is, and how cells are kept and drawn */
	uint32_t F;
	uint8_t field[ARCHIVE_MAX_FIELDS];   /* enum archive_field */
	int64_t bucket[ARCHIVE_MAX_FIELDS];
	uint8_t score_field;
	int8_t score_sign;
	bool keep_best;
	enum archive_weighting weighting;
	double start_prob, recent_steps;
	uint32_t max_cells, merge_every, explore_steps;
	char env_name[ARCHIVE_ENV_NAME];
	/* the env */
	const struct gnarl_env_ops *ops;
	void *env;
	uint32_t N;
	size_t S;
	struct gnarl_gauges *gauges;
	/* the cells */
	uint32_t C, table_mask;
	struct archive_cell *cells;   /* (max_cells) */
	int64_t *keys;                /* (max_cells, F) */
	uint8_t *states;              /* (max_cells, S) */
	uint32_t *table;              /* (table_mask + 1) */
	double *cum;                  /* (max_cells) cumulative weights of the draw */
	struct archive_rank *rank;    /* (max_cells) eviction's scratch */
	uint32_t n_cum;
	/* per env: written by its worker in start, read by observe */
	uint64_t *env_hash;           /* (N) the cell the env is in (0: none yet) */
	int32_t *pending;             /* (N) slot it started from, -1 */
	int32_t *refused;             /* (N) slot whose state it refused, -1 */
	uint32_t *env_starts;         /* (N) resets since the last observe */
	uint32_t *explored;           /* (N) steps since its start from a cell */
	bool *from_archive;           /* (N) its episode started from a cell */
	char (*env_err)[GNARL_ERR_SIZE]; /* (N) why it refused */
	/* the clock and counters */
	uint64_t now;                 /* the run's env steps at the last begin */
	uint64_t starts, archive_starts, evicted, refused_total;
	uint64_t iter_starts, iter_archive_starts, iter_new;
	bool warned_refused;
};

/* archive_cell.c: the config into a's cell declaration, score and
 * numbers (GNARL_ECONFIG naming the key); a state's key (F values) and
 * score (higher: better). */
int gnarl_archive_read_config(const struct gnarl_config *cfg, struct gnarl_archive *a,
                              char err[GNARL_ERR_SIZE]);
void gnarl_archive_key(const struct gnarl_archive *a, const struct gnarl_game_state *s,
                       int64_t *key);
double gnarl_archive_score(const struct gnarl_archive *a, const struct gnarl_game_state *s);

/* The saved form's fixed sizes (archive_io.c has the format). */
#define ARCHIVE_HEADER 96
#define ARCHIVE_FIELD_BYTES 16
#define ARCHIVE_CELL_FIXED 56 /* a cell's bytes besides its key and state */

/* The hash of a key of F fields. */
uint64_t gnarl_archive_hash(const int64_t *key, uint32_t F);
/* The slot of the cell with this key, or -1. */
int32_t gnarl_archive_find(const struct gnarl_archive *a, uint64_t hash, const int64_t *key);
/* A new cell at slot C (the caller checked C < max_cells), in the table;
 * its fields other than the key zeroed.  Returns its slot. */
uint32_t gnarl_archive_append(struct gnarl_archive *a, uint64_t hash, const int64_t *key);
/* A cell's weight in the draw (archive.weighting, at the clock a->now). */
double gnarl_archive_weight(const struct gnarl_archive *a, const struct archive_cell *c);
/* qsort order of struct archive_rank: least useful first (lower weight,
 * then found earlier, then the later slot). */
int gnarl_archive_by_usefulness(const void *x, const void *y);
/* Forget every cell. */
void gnarl_archive_clear(struct gnarl_archive *a);
/* Evict the least useful cells until at most `keep` remain. */
void gnarl_archive_evict_to(struct gnarl_archive *a, uint32_t keep);

#endif /* GNARL_ARCHIVE_INTERNAL_H */
