/*
 * archive.c - the archive of start states (see archive.h): the draw of a
 * start cell at reset, the observation of every env after a step, the
 * cells' table, weights and eviction.  What a cell is (the config) is
 * archive_cell.c; bytes, loading and merging are archive_io.c.
 *
 * Entry points: gnarl_archive_create, _free, _begin, _end, _start,
 * _explored, _observe, _stats, _rooms, _merge_every.
 *
 * Invariants: slots 0..C-1 are the cells (archive_internal.h); the draw
 * table (cum) is rebuilt only in begin and read by start on the workers,
 * which write nothing shared (only env n's pending/refused/starts slots);
 * observe, begin and eviction run on the trainer's thread between steps.
 * A cell's weight depends only on its visits, when it was found and the
 * clock, so every rank of a merged archive evicts the same cells.
 */
#include "archive.h"
#include "archive_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "episode.h"
#include "error.h"
#include "gauges.h"
#include "log.h"
#include "rng.h"
#include "value.h"

/* Draw streams of a reset seed (gnarl_rollout_reset_seed's). */
#define SEED_ARCHIVE 0x61726368ull
/* The frontier on the HUD's map: rooms of this many most likely cells. */
#define FRONTIER_CELLS 16

static const struct gnarl_value *key(const struct gnarl_config *cfg, const char *path)
{
	return gnarl_value_at(cfg->root, path);
}

/* ---- create ---------------------------------------------------------------- */

static int alloc_all(struct gnarl_archive *a)
{
	size_t T = 2;

	while (T < 2 * (size_t)a->max_cells)
		T *= 2;
	a->table_mask = (uint32_t)(T - 1);
	a->cells = calloc(a->max_cells, sizeof(*a->cells));
	a->keys = calloc((size_t)a->max_cells * a->F, sizeof(*a->keys));
	a->states = calloc(a->max_cells, a->S);
	a->table = calloc(T, sizeof(*a->table));
	a->cum = calloc(a->max_cells, sizeof(*a->cum));
	a->rank = calloc(a->max_cells, sizeof(*a->rank));
	a->env_hash = calloc(a->N, sizeof(*a->env_hash));
	a->pending = malloc(a->N * sizeof(*a->pending));
	a->refused = malloc(a->N * sizeof(*a->refused));
	a->env_starts = calloc(a->N, sizeof(*a->env_starts));
	a->explored = calloc(a->N, sizeof(*a->explored));
	a->from_archive = calloc(a->N, sizeof(*a->from_archive));
	a->env_err = calloc(a->N, sizeof(*a->env_err));
	if (!a->cells || !a->keys || !a->states || !a->table || !a->cum || !a->rank || !a->env_hash ||
	    !a->pending || !a->refused || !a->env_starts || !a->env_err ||
	    !a->explored || !a->from_archive)
		return GNARL_ENOMEM;
	for (uint32_t n = 0; n < a->N; n++)
		a->pending[n] = a->refused[n] = -1;
	return 0;
}

int gnarl_archive_create(const struct gnarl_config *cfg, const char *env_name,
                         const struct gnarl_env_ops *ops, void *env, uint32_t n_envs,
                         struct gnarl_gauges *gauges, struct gnarl_archive **out,
                         char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *on = key(cfg, "archive.enabled");
	struct gnarl_env_spaces sp = {.size = sizeof(sp)};
	struct gnarl_archive *a;
	int rc;

	*out = NULL;
	if (!gnarl_value_bool(on, false))
		return 0;
	rc = gnarl_archive_check(cfg, env_name, ops, err);
	if (rc)
		return rc;
	ops->spaces(env, &sp);
	if (!sp.has_game_state)
		return gnarl_config_error(cfg, on, "archive.enabled", err, "env '%s' reports no game "
		                          "state, and the archive's cells are a function of it: set "
		                          "archive.enabled: false", env_name);
	a = calloc(1, sizeof(*a));
	if (!a)
		return gnarl_err(err, GNARL_ENOMEM, "archive: out of memory");
	rc = gnarl_archive_read_config(cfg, a, err);
	if (rc)
		goto fail;
	snprintf(a->env_name, sizeof(a->env_name), "%s", env_name);
	a->ops = ops;
	a->env = env;
	a->N = n_envs;
	a->S = ops->env_state_size(env);
	a->gauges = gauges;
	if (a->S == 0) {
		rc = gnarl_err(err, GNARL_EINVAL, "archive: env '%s' reports 0-byte env states",
		               env_name);
		goto fail;
	}
	rc = alloc_all(a);
	if (rc) {
		gnarl_err(err, rc, "archive: out of memory for %u cells of %zu bytes (lower "
		          "archive.max_cells)", a->max_cells, a->S);
		goto fail;
	}
	*out = a;
	return 0;
fail:
	gnarl_archive_free(a);
	return rc;
}

void gnarl_archive_free(struct gnarl_archive *a)
{
	if (!a)
		return;
	free(a->cells);
	free(a->keys);
	free(a->states);
	free(a->table);
	free(a->cum);
	free(a->rank);
	free(a->env_hash);
	free(a->pending);
	free(a->refused);
	free(a->env_starts);
	free(a->explored);
	free(a->from_archive);
	free(a->env_err);
	free(a);
}

uint32_t gnarl_archive_merge_every(const struct gnarl_archive *a)
{
	return a->merge_every;
}

/* ---- the cells' table ------------------------------------------------------ */

uint64_t gnarl_archive_hash(const int64_t *key, uint32_t F)
{
	uint64_t h = 0x61726368697665ull;

	for (uint32_t f = 0; f < F; f++) {
		uint64_t x = h ^ (uint64_t)key[f];
		h = gnarl_rng_splitmix(&x);
	}
	return h ? h : 1; /* 0 means "no cell" in env_hash */
}

int32_t gnarl_archive_find(const struct gnarl_archive *a, uint64_t hash, const int64_t *key)
{
	for (uint32_t i = (uint32_t)hash & a->table_mask;; i = (i + 1) & a->table_mask) {
		uint32_t slot = a->table[i];
		if (slot == 0)
			return -1;
		slot--;
		if (a->cells[slot].hash == hash &&
		    memcmp(&a->keys[(size_t)slot * a->F], key, a->F * sizeof(*key)) == 0)
			return (int32_t)slot;
	}
}

/* The table position holding slot. */
static uint32_t position_of(const struct gnarl_archive *a, uint32_t slot)
{
	uint32_t i = (uint32_t)a->cells[slot].hash & a->table_mask;

	while (a->table[i] != slot + 1)
		i = (i + 1) & a->table_mask;
	return i;
}

uint32_t gnarl_archive_append(struct gnarl_archive *a, uint64_t hash, const int64_t *key)
{
	uint32_t slot = a->C++, i = (uint32_t)hash & a->table_mask;

	memset(&a->cells[slot], 0, sizeof(a->cells[slot]));
	a->cells[slot].hash = hash;
	memcpy(&a->keys[(size_t)slot * a->F], key, a->F * sizeof(*key));
	while (a->table[i])
		i = (i + 1) & a->table_mask;
	a->table[i] = slot + 1;
	return slot;
}

/* Remove the cell at slot: backward-shift deletion in the table, then
 * the last cell moves into the slot. */
static void remove_cell(struct gnarl_archive *a, uint32_t slot)
{
	uint32_t i = position_of(a, slot), last = a->C - 1;

	for (uint32_t j = (i + 1) & a->table_mask; a->table[j]; j = (j + 1) & a->table_mask) {
		uint32_t home = (uint32_t)a->cells[a->table[j] - 1].hash & a->table_mask;
		/* move j back to i unless its home lies cyclically in (i, j] */
		if (((j - home) & a->table_mask) >= ((j - i) & a->table_mask)) {
			a->table[i] = a->table[j];
			i = j;
		}
	}
	a->table[i] = 0;
	if (slot != last) {
		a->table[position_of(a, last)] = slot + 1;
		a->cells[slot] = a->cells[last];
		memcpy(&a->keys[(size_t)slot * a->F], &a->keys[(size_t)last * a->F],
		       a->F * sizeof(*a->keys));
		memcpy(a->states + slot * a->S, a->states + (size_t)last * a->S, a->S);
	}
	a->C--;
}

void gnarl_archive_clear(struct gnarl_archive *a)
{
	memset(a->table, 0, ((size_t)a->table_mask + 1) * sizeof(*a->table));
	a->C = 0;
	a->n_cum = 0;
}

/* ---- weights and eviction ---------------------------------------------- */

double gnarl_archive_weight(const struct gnarl_archive *a, const struct archive_cell *c)
{
	double age = a->now > c->found ? (double)(a->now - c->found) : 0.0;
	double rare = 1.0 / sqrt(1.0 + (double)c->visits);
	double recent = a->recent_steps / (a->recent_steps + age);

	switch (a->weighting) {
	case W_RARE: return rare;
	case W_RECENT: return recent;
	case W_UNIFORM: return 1.0;
	default: return rare * recent;
	}
}

/* Is cell x less useful than cell y: lower weight, then found earlier,
 * then later in the slots (so the order is total and the same on every
 * rank of a merged archive). */
static bool less_useful(const struct gnarl_archive *a, uint32_t x, uint32_t y)
{
	double wx = gnarl_archive_weight(a, &a->cells[x]), wy = gnarl_archive_weight(a, &a->cells[y]);

	if (wx != wy)
		return wx < wy;
	if (a->cells[x].found != a->cells[y].found)
		return a->cells[x].found < a->cells[y].found;
	return x > y;
}

int gnarl_archive_by_usefulness(const void *x, const void *y)
{
	const struct archive_rank *p = x, *q = y;

	if (p->weight != q->weight)
		return p->weight < q->weight ? -1 : 1;
	if (p->found != q->found)
		return p->found < q->found ? -1 : 1;
	return p->slot > q->slot ? -1 : 1;
}

/* Slots in descending order: removing one moves only the last cell,
 * which is never one still to remove. */
static int by_slot_descending(const void *x, const void *y)
{
	const struct archive_rank *p = x, *q = y;

	return p->slot > q->slot ? -1 : p->slot < q->slot;
}

void gnarl_archive_evict_to(struct gnarl_archive *a, uint32_t keep)
{
	uint32_t drop;

	if (a->C <= keep)
		return;
	drop = a->C - keep;
	if (drop == 1) {
		uint32_t worst = 0;
		for (uint32_t i = 1; i < a->C; i++)
			if (less_useful(a, i, worst))
				worst = i;
		remove_cell(a, worst);
		a->evicted++;
		return;
	}
	for (uint32_t i = 0; i < a->C; i++)
		a->rank[i] = (struct archive_rank){gnarl_archive_weight(a, &a->cells[i]), a->cells[i].found, i};
	qsort(a->rank, a->C, sizeof(*a->rank), gnarl_archive_by_usefulness);
	qsort(a->rank, drop, sizeof(*a->rank), by_slot_descending);
	for (uint32_t i = 0; i < drop; i++)
		remove_cell(a, a->rank[i].slot);
	a->evicted += drop;
}

/* ---- the iteration ------------------------------------------------------ */

static void settle_starts(struct gnarl_archive *a);

static uint32_t count_rooms(const struct gnarl_archive *a, uint32_t *milestones)
{
	uint64_t seen[2048 / 64] = {0};
	uint32_t rooms = 0;

	*milestones = 0;
	for (uint32_t i = 0; i < a->C; i++) {
		const struct archive_cell *c = &a->cells[i];
		uint32_t k = (uint32_t)(c->group & 7) << 8 | (uint32_t)(c->room & 255);
		rooms += !(seen[k / 64] >> (k % 64) & 1);
		seen[k / 64] |= 1ull << (k % 64);
		*milestones |= c->milestones;
	}
	return rooms;
}

static void publish(struct gnarl_archive *a)
{
	uint32_t milestones, rooms = count_rooms(a, &milestones), reached = 0;

	for (unsigned k = 0; k < GNARL_MILESTONE_COUNT; k++)
		reached += milestones >> k & 1;
	gnarl_gauges_set(a->gauges, "archive/cells", a->C);
	gnarl_gauges_set(a->gauges, "archive/rooms", rooms);
	gnarl_gauges_set(a->gauges, "archive/milestones", reached);
	gnarl_gauges_set(a->gauges, "archive/start_share",
	                 a->iter_starts ? (double)a->iter_archive_starts / (double)a->iter_starts
	                                : 0.0);
	gnarl_gauges_set(a->gauges, "archive/new_cells", (double)a->iter_new);
	gnarl_gauges_set(a->gauges, "archive/bytes", (double)gnarl_archive_size(a));
	gnarl_gauges_set(a->gauges, "archive/refused", (double)a->refused_total);
	a->iter_starts = a->iter_archive_starts = a->iter_new = 0;
}

void gnarl_archive_begin(struct gnarl_archive *a, uint64_t env_steps)
{
	double total = 0.0;

	if (!a)
		return;
	a->now = env_steps;
	settle_starts(a);  /* before slots move: the resets since the last step */
	/* Room for the next iteration's finds without evicting one by one. */
	if (a->C > a->max_cells - a->max_cells / 16)
		gnarl_archive_evict_to(a, a->max_cells - a->max_cells / 8);
	for (uint32_t i = 0; i < a->C; i++) {
		total += gnarl_archive_weight(a, &a->cells[i]);
		a->cum[i] = total;
	}
	a->n_cum = a->C;
}

void gnarl_archive_end(struct gnarl_archive *a)
{
	if (!a)
		return;
	settle_starts(a);
	if (a->gauges)
		publish(a);
}

bool gnarl_archive_start(struct gnarl_archive *a, const struct gnarl_env_io *io, uint32_t n,
                         uint64_t seed)
{
	struct gnarl_rng rng;
	uint32_t lo = 0, hi;
	double x;

	if (!a)
		return false;
	a->env_starts[n]++;
	a->explored[n] = 0;
	a->from_archive[n] = false;
	if (a->n_cum == 0 || a->start_prob <= 0.0)
		return false;
	gnarl_rng_seed(&rng, gnarl_rng_derive(seed, SEED_ARCHIVE));
	if (gnarl_rng_double(&rng) >= a->start_prob)
		return false;
	x = gnarl_rng_double(&rng) * a->cum[a->n_cum - 1];
	hi = a->n_cum - 1;
	while (lo < hi) {     /* the first cell whose cumulative weight exceeds x */
		uint32_t mid = (lo + hi) / 2;
		if (a->cum[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo >= a->C)       /* removed since begin: a normal start */
		return false;
	if (a->ops->load_env_state(a->env, io, n, a->states + (size_t)lo * a->S, a->S,
	                           a->env_err[n]) < 0) {
		a->refused[n] = (int32_t)lo;
		return false;
	}
	a->pending[n] = (int32_t)lo;
	a->from_archive[n] = true;
	return true;
}

bool gnarl_archive_explored(struct gnarl_archive *a, uint32_t n)
{
	if (!a || !a->explore_steps || !a->from_archive[n])
		return false;
	return ++a->explored[n] >= a->explore_steps;
}

/* Starts since the last observe: counts, chosen cells, refused states
 * (their cells are dropped, the first refusal said once). */
static void settle_starts(struct gnarl_archive *a)
{
	bool drop = false;

	for (uint32_t n = 0; n < a->N; n++) {
		a->starts += a->env_starts[n];
		a->iter_starts += a->env_starts[n];
		if (a->pending[n] >= 0 && (uint32_t)a->pending[n] < a->C) {
			a->cells[a->pending[n]].chosen++;
			a->archive_starts++;
			a->iter_archive_starts++;
		}
		a->pending[n] = -1;
		drop |= a->refused[n] >= 0;
	}
	if (!drop)
		return;
	/* Highest slot first: removing a cell moves only the last one. */
	for (uint32_t i = a->C; i-- > 0;) {
		bool refused = false;
		for (uint32_t n = 0; n < a->N; n++) {
			if (a->refused[n] != (int32_t)i)
				continue;
			if (!a->warned_refused)
				gnarl_log(GNARL_LOG_WARN, "archive", "the env refused an archived state "
				          "(%s): the cell is dropped and the env starts normally (further "
				          "refusals are counted in archive/refused)", a->env_err[n]);
			a->warned_refused = true;
			refused = true;
		}
		if (refused) {
			remove_cell(a, i);
			a->refused_total++;
		}
	}
	for (uint32_t n = 0; n < a->N; n++)
		a->refused[n] = -1;
}

/* A new cell for env n in state s: evicting one when full. */
static void add_cell(struct gnarl_archive *a, uint32_t n, const struct gnarl_game_state *s,
                     uint64_t hash, const int64_t *k, double score)
{
	struct archive_cell *c;
	uint32_t slot;

	if (a->C == a->max_cells)
		gnarl_archive_evict_to(a, a->max_cells - 1);
	slot = gnarl_archive_append(a, hash, k);
	if (a->ops->save_env_state(a->env, n, a->states + (size_t)slot * a->S, a->S) < 0) {
		remove_cell(a, slot);
		return;
	}
	c = &a->cells[slot];
	c->group = s->group;
	c->room = s->room;
	c->x = s->x;
	c->y = s->y;
	c->milestones = gnarl_episode_milestones_of(s);
	c->visits = 1;
	c->found = a->now;
	c->score = score;
	a->iter_new++;
}

void gnarl_archive_observe(struct gnarl_archive *a, const struct gnarl_game_state *states)
{
	int64_t k[ARCHIVE_MAX_FIELDS];

	if (!a)
		return;
	settle_starts(a);
	for (uint32_t n = 0; n < a->N; n++) {
		const struct gnarl_game_state *s = &states[n];
		uint64_t h;
		int32_t slot;
		double score;

		gnarl_archive_key(a, s, k);
		h = gnarl_archive_hash(k, a->F);
		if (h == a->env_hash[n] && a->env_starts[n] == 0)
			continue;     /* still in the cell it entered */
		a->env_starts[n] = 0;
		a->env_hash[n] = h;
		score = gnarl_archive_score(a, s);
		slot = gnarl_archive_find(a, h, k);
		if (slot < 0) {
			add_cell(a, n, s, h, k, score);
			continue;
		}
		a->cells[slot].visits++;
		if (a->keep_best && score > a->cells[slot].score &&
		    a->ops->save_env_state(a->env, n, a->states + (size_t)slot * a->S, a->S) == 0) {
			a->cells[slot].score = score;
			a->cells[slot].x = s->x;
			a->cells[slot].y = s->y;
		}
	}
}

/* ---- what it holds ------------------------------------------------------- */

size_t gnarl_archive_size(const struct gnarl_archive *a)
{
	size_t cell = (size_t)a->F * 8 + ARCHIVE_CELL_FIXED + a->S;

	return ARCHIVE_HEADER + (size_t)a->F * ARCHIVE_FIELD_BYTES + (size_t)a->C * cell;
}

void gnarl_archive_stats(const struct gnarl_archive *a, struct gnarl_archive_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!a)
		return;
	out->cells = a->C;
	out->rooms = count_rooms(a, &out->milestones);
	out->max_cells = a->max_cells;
	out->state_bytes = a->S;
	out->bytes = gnarl_archive_size(a);
	out->starts = a->starts;
	out->archive_starts = a->archive_starts;
	out->evicted = a->evicted;
	out->refused = a->refused_total;
}

/* The weight a cell needs to be among the FRONTIER_CELLS most likely. */
static double frontier_cut(const struct gnarl_archive *a)
{
	double top[FRONTIER_CELLS];
	uint32_t n_top = 0;

	for (uint32_t i = 0; i < a->C; i++) {
		double w = gnarl_archive_weight(a, &a->cells[i]);
		uint32_t j;
		if (n_top == FRONTIER_CELLS && w <= top[n_top - 1])
			continue;
		j = n_top < FRONTIER_CELLS ? n_top++ : n_top - 1;
		for (; j > 0 && top[j - 1] < w; j--)   /* descending insertion */
			top[j] = top[j - 1];
		top[j] = w;
	}
	return n_top ? top[n_top - 1] : INFINITY;
}

uint32_t gnarl_archive_rooms(const struct gnarl_archive *a, struct gnarl_archive_room *out,
                             uint32_t max)
{
	struct gnarl_archive_room rooms[2048];   /* by (group & 7) << 8 | room & 255 */
	uint32_t n = 0;
	double cut;

	if (!a)
		return 0;
	cut = frontier_cut(a);
	memset(rooms, 0, sizeof(rooms));
	for (uint32_t i = 0; i < a->C; i++) {
		const struct archive_cell *c = &a->cells[i];
		struct gnarl_archive_room *r =
		    &rooms[(uint32_t)(c->group & 7) << 8 | (uint32_t)(c->room & 255)];
		r->group = c->group;
		r->room = c->room;
		r->cells++;
		r->visits += c->visits;
		r->frontier |= gnarl_archive_weight(a, c) >= cut;
	}
	for (uint32_t k = 0; k < 2048; k++) {
		if (rooms[k].cells == 0)
			continue;
		if (n < max)
			out[n] = rooms[k];
		n++;
	}
	return n;
}
