/*
 * archive_io.c - the archive as bytes (checkpoints, `gnarl archive`) and
 * the merge of every rank's archive (see archive.h).
 *
 * Entry points: gnarl_archive_save, _load, _message_size, _message,
 * _merge, _sync, _digest, _info, _info_cell.
 *
 * Format 1, little-endian at any alignment (gnarl_put_u32 and friends):
 *   header (96 bytes)  "GARC", format, the env's name (32 bytes, NUL
 *                      padded), S (u64), F (u32), the score's field (u8)
 *                      and sign (i8), 2 zero bytes, the clock and the
 *                      counters starts, archive_starts, evicted (u64 each),
 *                      C and max_cells (u32)
 *   F fields (16 each) field id (u32), 0 (u32), bucket (i64)
 *   C cells            key (F x i64), group, room, x, y (i32), milestones,
 *                      0 (u32), visits, chosen, found (u64), score (f64
 *                      bits), then the env's S bytes
 * A merge's message (gnarl_archive_sync) is that, then per cell its
 * visits and chosen at the last merge (u64 each): what the rank added
 * since is the difference.  A loaded archive is everyone's base (a
 * restore loads the same checkpoint on every rank).
 * Invariants: a blob is checked whole before anything is changed; a merge
 * reads only the blobs every rank received, so every rank computes the
 * same archive.
 */
#include "archive.h"
#include "archive_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dist.h"
#include "error.h"
#include "hash.h"

#define MAGIC 0x43524147u   /* "GARC" */
#define SHARED 88           /* where what every rank of a merge shares starts (C) */
#define FORMAT 1u
#define BASE_BYTES 16       /* a cell's visits and chosen at the last merge */

static size_t cell_bytes(uint32_t F, size_t S)
{
	return (size_t)F * 8 + ARCHIVE_CELL_FIXED + S;
}

static void put_cell(const struct gnarl_archive *a, uint32_t i, uint8_t *p)
{
	const struct archive_cell *c = &a->cells[i];

	for (uint32_t f = 0; f < a->F; f++, p += 8)
		gnarl_put_u64(p, (uint64_t)a->keys[(size_t)i * a->F + f]);
	gnarl_put_u32(p, (uint32_t)c->group);
	gnarl_put_u32(p + 4, (uint32_t)c->room);
	gnarl_put_u32(p + 8, (uint32_t)c->x);
	gnarl_put_u32(p + 12, (uint32_t)c->y);
	gnarl_put_u32(p + 16, c->milestones);
	gnarl_put_u32(p + 20, 0);
	gnarl_put_u64(p + 24, c->visits);
	gnarl_put_u64(p + 32, c->chosen);
	gnarl_put_u64(p + 40, c->found);
	gnarl_put_f64(p + 48, c->score);
	memcpy(p + ARCHIVE_CELL_FIXED, a->states + (size_t)i * a->S, a->S);
}

/* A record's key into k and its metadata into c (not its hash). */
static void get_cell(const uint8_t *p, uint32_t F, int64_t *k, struct archive_cell *c)
{
	for (uint32_t f = 0; f < F; f++, p += 8)
		k[f] = (int64_t)gnarl_get_u64(p);
	memset(c, 0, sizeof(*c));
	c->group = (int32_t)gnarl_get_u32(p);
	c->room = (int32_t)gnarl_get_u32(p + 4);
	c->x = (int32_t)gnarl_get_u32(p + 8);
	c->y = (int32_t)gnarl_get_u32(p + 12);
	c->milestones = gnarl_get_u32(p + 16);
	c->visits = gnarl_get_u64(p + 24);
	c->chosen = gnarl_get_u64(p + 32);
	c->found = gnarl_get_u64(p + 40);
	c->score = gnarl_get_f64(p + 48);
}

int gnarl_archive_save(const struct gnarl_archive *a, void *buf, size_t size)
{
	uint8_t *p = buf;

	if (size != gnarl_archive_size(a))
		return GNARL_EINVAL;
	memset(p, 0, ARCHIVE_HEADER);
	gnarl_put_u32(p, MAGIC);
	gnarl_put_u32(p + 4, FORMAT);
	memcpy(p + 8, a->env_name, strnlen(a->env_name, ARCHIVE_ENV_NAME));
	gnarl_put_u64(p + 40, a->S);
	gnarl_put_u32(p + 48, a->F);
	p[52] = a->score_field;
	p[53] = (uint8_t)a->score_sign;
	gnarl_put_u64(p + 56, a->now);
	gnarl_put_u64(p + 64, a->starts);
	gnarl_put_u64(p + 72, a->archive_starts);
	gnarl_put_u64(p + 80, a->evicted);
	gnarl_put_u32(p + 88, a->C);
	gnarl_put_u32(p + 92, a->max_cells);
	p += ARCHIVE_HEADER;
	for (uint32_t f = 0; f < a->F; f++, p += ARCHIVE_FIELD_BYTES) {
		gnarl_put_u32(p, a->field[f]);
		gnarl_put_u32(p + 4, 0);
		gnarl_put_u64(p + 8, (uint64_t)a->bucket[f]);
	}
	for (uint32_t i = 0; i < a->C; i++, p += cell_bytes(a->F, a->S))
		put_cell(a, i, p);
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

int gnarl_archive_info(const void *buf, size_t size, struct gnarl_archive_info *out,
                       char err[GNARL_ERR_SIZE])
{
	const uint8_t *p = buf;
	uint64_t S;

	memset(out, 0, sizeof(*out));
	if (size < ARCHIVE_HEADER || gnarl_get_u32(p) != MAGIC)
		return gnarl_err(err, GNARL_ECORRUPT, "not an archive of start states (%zu bytes, "
		                 "no GARC header)", size);
	if (gnarl_get_u32(p + 4) != FORMAT)
		return gnarl_err(err, GNARL_EVERSION, "archive format %u; this gnarl reads format "
		                 "%u (upgrade gnarl, or resume without it: the archive starts empty)",
		                 gnarl_get_u32(p + 4), FORMAT);
	memcpy(out->env, p + 8, ARCHIVE_ENV_NAME);
	S = gnarl_get_u64(p + 40);
	out->F = gnarl_get_u32(p + 48);
	out->score_field = p[52];
	out->score_sign = (int8_t)p[53];
	out->now = gnarl_get_u64(p + 56);
	out->starts = gnarl_get_u64(p + 64);
	out->archive_starts = gnarl_get_u64(p + 72);
	out->evicted = gnarl_get_u64(p + 80);
	out->cells = gnarl_get_u32(p + 88);
	out->max_cells = gnarl_get_u32(p + 92);
	out->state_bytes = (size_t)S;
	if (out->F == 0 || out->F > ARCHIVE_MAX_FIELDS || S == 0 || S > ((size_t)1 << 32) ||
	    size != ARCHIVE_HEADER + (size_t)out->F * ARCHIVE_FIELD_BYTES +
	                (size_t)out->cells * cell_bytes(out->F, (size_t)S))
		return gnarl_err(err, GNARL_ECORRUPT, "a damaged archive: %zu bytes do not hold "
		                 "%u cells of %u fields and %llu-byte states", size, out->cells,
		                 out->F, (unsigned long long)S);
	for (uint32_t f = 0; f < out->F; f++) {
		const uint8_t *q = p + ARCHIVE_HEADER + (size_t)f * ARCHIVE_FIELD_BYTES;
		out->field[f] = (uint8_t)gnarl_get_u32(q);
		out->bucket[f] = (int64_t)gnarl_get_u64(q + 8);
		if (!gnarl_archive_field_name(out->field[f]) || out->bucket[f] < 1)
			return gnarl_err(err, GNARL_ECORRUPT, "a damaged archive: field %u", f);
	}
	if (!gnarl_archive_field_name(out->score_field))
		return gnarl_err(err, GNARL_ECORRUPT, "a damaged archive: score field");
	out->data = p + ARCHIVE_HEADER + (size_t)out->F * ARCHIVE_FIELD_BYTES;
	return 0;
}

void gnarl_archive_info_cell(const struct gnarl_archive_info *info, uint32_t i,
                             struct gnarl_archive_cell *out)
{
	const uint8_t *p = info->data + (size_t)i * cell_bytes(info->F, info->state_bytes);
	struct archive_cell c;

	get_cell(p, info->F, out->key, &c);
	out->group = c.group;
	out->room = c.room;
	out->x = c.x;
	out->y = c.y;
	out->milestones = c.milestones;
	out->visits = c.visits;
	out->chosen = c.chosen;
	out->found = c.found;
	out->score = c.score;
	out->state = p + (size_t)info->F * 8 + ARCHIVE_CELL_FIXED;
}

/* Can a saved archive (info) be this archive's?  The same env, state
 * size and cell declaration. */
static int compatible(const struct gnarl_archive *a, const struct gnarl_archive_info *info,
                      char err[GNARL_ERR_SIZE])
{
	bool same_cell = info->F == a->F;

	if (strncmp(info->env, a->env_name, ARCHIVE_ENV_NAME) != 0)
		return gnarl_err(err, GNARL_EINCOMPAT, "the archive holds states of env '%.32s', "
		                 "not '%s'", info->env, a->env_name);
	if (info->state_bytes != a->S)
		return gnarl_err(err, GNARL_EINCOMPAT, "the archive's states are %zu bytes; env "
		                 "'%s' saves %zu (other env params, or another version of it)",
		                 info->state_bytes, a->env_name, a->S);
	for (uint32_t f = 0; same_cell && f < a->F; f++)
		same_cell = info->field[f] == a->field[f] && info->bucket[f] == a->bucket[f];
	if (!same_cell)
		return gnarl_err(err, GNARL_EINCOMPAT, "the archive's cells were declared otherwise "
		                 "(archive.cell changed)");
	return 0;
}

/* ---- merging ------------------------------------------------------------ */

/* One cell of the union: its first record (key), its best state. */
struct entry {
	uint64_t hash;
	const uint8_t *first, *best;
	struct archive_cell cell;
};

struct merge {
	struct entry *e;
	uint32_t n, *table, mask;
	uint32_t F;
	size_t S;
};

static struct entry *merge_find(struct merge *m, uint64_t h, const int64_t *k, bool *fresh)
{
	uint32_t i = (uint32_t)h & m->mask;
	int64_t other[ARCHIVE_MAX_FIELDS];

	for (; m->table[i]; i = (i + 1) & m->mask) {
		struct entry *e = &m->e[m->table[i] - 1];
		struct archive_cell ignored;
		if (e->hash != h)
			continue;
		get_cell(e->first, m->F, other, &ignored);
		if (memcmp(other, k, m->F * sizeof(*k)) == 0) {
			*fresh = false;
			return e;
		}
	}
	m->table[i] = ++m->n;
	*fresh = true;
	return &m->e[m->n - 1];
}

/* Fold one record (rec) of a rank's archive into the union; base: its
 * visits and chosen at the last merge (NULL: a loaded archive). */
static void merge_record(struct merge *m, const uint8_t *rec, const uint8_t *base)
{
	int64_t k[ARCHIVE_MAX_FIELDS];
	struct archive_cell c;
	struct entry *e;
	uint64_t h, v0 = 0, c0 = 0;
	bool fresh;

	get_cell(rec, m->F, k, &c);
	if (base) {
		v0 = gnarl_get_u64(base);
		c0 = gnarl_get_u64(base + 8);
		v0 = v0 < c.visits ? v0 : c.visits;
		c0 = c0 < c.chosen ? c0 : c.chosen;
	}
	h = gnarl_archive_hash(k, m->F);
	e = merge_find(m, h, k, &fresh);
	if (fresh) {
		*e = (struct entry){h, rec, rec, c};
		e->cell.hash = h;
		return;
	}
	/* what this rank added since the last merge */
	e->cell.visits += c.visits - v0;
	e->cell.chosen += c.chosen - c0;
	if (c.found < e->cell.found)
		e->cell.found = c.found;
	if (c.score > e->cell.score) {
		e->best = rec;
		e->cell.score = c.score;
		e->cell.x = c.x;
		e->cell.y = c.y;
	}
}

/* Replace a's cells with entries e[0..n) in order (those with keep[i],
 * all when keep is NULL). */
static void install(struct gnarl_archive *a, const struct merge *m, const bool *keep)
{
	int64_t k[ARCHIVE_MAX_FIELDS];

	gnarl_archive_clear(a);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct entry *e = &m->e[i];
		struct archive_cell ignored;
		uint32_t slot;
		if (keep && !keep[i])
			continue;
		get_cell(e->first, m->F, k, &ignored);
		slot = gnarl_archive_append(a, e->hash, k);
		a->cells[slot] = e->cell;
		memcpy(a->states + (size_t)slot * a->S, e->best + (size_t)m->F * 8 + ARCHIVE_CELL_FIXED, a->S);
	}
}

/* Which of the union's cells to keep when there are more than the cap:
 * the most useful, in the archive's own order.  keep: (m->n) flags;
 * r: (m->n) scratch. */
static void choose(struct gnarl_archive *a, const struct merge *m, struct archive_rank *r,
                   bool *keep)
{
	uint32_t drop = m->n - a->max_cells;

	for (uint32_t i = 0; i < m->n; i++) {
		keep[i] = true;
		r[i] = (struct archive_rank){gnarl_archive_weight(a, &m->e[i].cell),
		                             m->e[i].cell.found, i};
	}
	qsort(r, m->n, sizeof(*r), gnarl_archive_by_usefulness);
	for (uint32_t i = 0; i < drop; i++)
		keep[r[i].slot] = false;
	a->evicted += drop;
}

/* The union of saved archives infos[0..count) (checked) into a; bases[r]:
 * archive r's cells' bases (NULL: none). */
static int merge_blobs(struct gnarl_archive *a, const struct gnarl_archive_info *infos,
                       const uint8_t *const *bases, uint32_t count, char err[GNARL_ERR_SIZE])
{
	struct merge m = {.F = a->F, .S = a->S};
	size_t total = 0, T = 2;
	struct archive_rank *rank;
	bool *keep;
	int rc = 0;

	for (uint32_t r = 0; r < count; r++)
		total += infos[r].cells;
	while (T < 2 * total + 2)
		T *= 2;
	m.mask = (uint32_t)(T - 1);
	m.e = malloc((total ? total : 1) * sizeof(*m.e));
	m.table = calloc(T, sizeof(*m.table));
	keep = malloc(total ? total : 1);
	rank = malloc((total ? total : 1) * sizeof(*rank));
	if (!m.e || !m.table || !keep || !rank) {
		rc = gnarl_err(err, GNARL_ENOMEM, "archive: out of memory merging %zu cells", total);
		goto out;
	}
	for (uint32_t r = 0; r < count; r++)
		for (uint32_t i = 0; i < infos[r].cells; i++)
			merge_record(&m, infos[r].data + (size_t)i * cell_bytes(a->F, a->S),
			             bases && bases[r] ? bases[r] + (size_t)i * BASE_BYTES : NULL);
	for (uint32_t i = 0; i < m.n; i++) {
		m.e[i].cell.merged_visits = m.e[i].cell.visits;
		m.e[i].cell.merged_chosen = m.e[i].cell.chosen;
	}
	if (m.n > a->max_cells)
		choose(a, &m, rank, keep);
	install(a, &m, m.n > a->max_cells ? keep : NULL);
out:
	free(m.e);
	free(m.table);
	free(keep);
	free(rank);
	return rc;
}

int gnarl_archive_load(struct gnarl_archive *a, const void *buf, size_t size,
                       char err[GNARL_ERR_SIZE])
{
	struct gnarl_archive_info info;
	int rc = gnarl_archive_info(buf, size, &info, err);

	if (!rc)
		rc = compatible(a, &info, err);
	if (rc)
		return rc;
	/* a blob of itself: the same merge, so a cap lower than the saved
	 * archive's evicts its least useful cells */
	a->now = info.now;
	rc = merge_blobs(a, &info, NULL, 1, err);
	if (rc)
		return rc;
	if (info.score_field != a->score_field || info.score_sign != a->score_sign)
		for (uint32_t i = 0; i < a->C; i++)  /* another score: the next entry re-scores */
			a->cells[i].score = -INFINITY;
	a->starts = info.starts;
	a->archive_starts = info.archive_starts;
	a->evicted += info.evicted;
	for (uint32_t n = 0; n < a->N; n++) {
		a->env_hash[n] = 0;
		a->pending[n] = a->refused[n] = -1;
	}
	a->n_cum = 0;
	return 0;
}

size_t gnarl_archive_message_size(const struct gnarl_archive *a)
{
	return gnarl_archive_size(a) + (size_t)a->C * BASE_BYTES;
}

int gnarl_archive_message(const struct gnarl_archive *a, void *buf, size_t size)
{
	uint8_t *p = (uint8_t *)buf + gnarl_archive_size(a);

	if (size != gnarl_archive_message_size(a))
		return GNARL_EINVAL;
	gnarl_archive_save(a, buf, gnarl_archive_size(a));
	for (uint32_t i = 0; i < a->C; i++, p += BASE_BYTES) {
		gnarl_put_u64(p, a->cells[i].merged_visits);
		gnarl_put_u64(p + 8, a->cells[i].merged_chosen);
	}
	return 0;
}

/* A message: the archive (into info) and its cells' bases. */
static int read_message(const struct gnarl_archive *a, const uint8_t *p, size_t len,
                        struct gnarl_archive_info *info, const uint8_t **base,
                        char err[GNARL_ERR_SIZE])
{
	size_t cells = len >= ARCHIVE_HEADER ? gnarl_get_u32(p + 88) : 0;
	size_t bases = cells * BASE_BYTES;
	int rc;

	if (len < ARCHIVE_HEADER + bases)
		return gnarl_err(err, GNARL_ECORRUPT, "a %zu-byte merge message is too short", len);
	rc = gnarl_archive_info(p, len - bases, info, err);
	if (!rc)
		rc = compatible(a, info, err);
	*base = p + len - bases;
	return rc;
}

int gnarl_archive_merge(struct gnarl_archive *a, const uint8_t *messages, const size_t *lens,
                        uint32_t count, char err[GNARL_ERR_SIZE])
{
	struct gnarl_archive_info *infos = calloc(count ? count : 1, sizeof(*infos));
	const uint8_t **bases = calloc(count ? count : 1, sizeof(*bases));
	size_t off = 0;
	int rc = infos && bases ? 0 : gnarl_err(err, GNARL_ENOMEM, "archive: out of memory for a "
	                                       "merge");

	for (uint32_t r = 0; r < count && !rc; off += lens[r], r++) {
		rc = read_message(a, messages + off, lens[r], &infos[r], &bases[r], err);
		if (rc)
			gnarl_err_prefix(err, rc, "archive %u of the merge: ", r);
	}
	if (!rc)
		rc = merge_blobs(a, infos, bases, count, err);
	free(infos);
	free(bases);
	return rc;
}

int gnarl_archive_sync(struct gnarl_archive *a, struct gnarl_dist *d, double *seconds,
                       char err[GNARL_ERR_SIZE])
{
	double t0 = gnarl_clock_monotonic();
	int K = gnarl_dist_size(d), rc;
	size_t size = gnarl_archive_message_size(a), *lens = calloc((size_t)K, sizeof(*lens));
	uint8_t *mine = malloc(size), *all;

	/* every rank must take part in the allgather, whatever happens here */
	if (!lens || !mine)
		gnarl_dist_abort(d, GNARL_EXIT_FAILURE, "archive: out of memory for a merge");
	gnarl_archive_message(a, mine, size);
	all = gnarl_dist_allgather_bytes(d, mine, size, lens);
	rc = gnarl_archive_merge(a, all, lens, (uint32_t)K, err);
	free(all);
	free(mine);
	free(lens);
	if (seconds)
		*seconds = gnarl_clock_monotonic() - t0;
	return rc;
}

int gnarl_archive_digest(const struct gnarl_archive *a, char hex[65])
{
	size_t size = gnarl_archive_size(a);
	uint8_t *buf = malloc(size);
	int rc;

	if (!buf)
		return GNARL_ENOMEM;
	gnarl_archive_save(a, buf, size);
	rc = gnarl_hash_sha256_hex(buf + SHARED, size - SHARED, hex, NULL);
	free(buf);
	return rc;
}
