/*
 * episode.c - per-env episode accumulators and the window of finished
 * episodes behind ep_return_mean and friends (see episode.h).
 *
 * Rooms and dungeons are counted from states without GNARL_STATE_TRANSITION
 * (mid-transition the room may be the next one before Link is).
 * Rooms are a 2048-bit set per env keyed by (group & 7) << 8 | (room &
 * 255): every group of Oracle of Seasons fits, and a bit set needs no
 * allocation and no probing on the step path.  Dungeons are a 64-bit set
 * of dungeon & 63.  Term sums live in one slab (N, n_terms).  The window
 * is a ring of plain doubles, (window, WCOLS) and (window, n_terms), so a
 * checkpoint can save it as two tensors and ep_return_mean continues
 * across a resume.
 */
#include "episode.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define ROOM_BITS 2048

/* Columns of a window row. */
enum { W_RET, W_LEN, W_ROOMS, W_DUNGEONS, W_KILLS, W_MILESTONES, WCOLS };

/* An env's running episode.  Every field is 8 bytes wide, so the slots
 * have no padding and are saved as one (N, GNARL_EPISODE_RUNNING_WORDS)
 * U64 array: a resumed run continues its episodes exactly. */
struct slot {
	double ret, env_reward;
	uint64_t length;
	uint64_t rooms_set[ROOM_BITS / 64];
	uint64_t rooms;
	uint64_t dungeons_set;
	int64_t kills_start, kills;
	uint64_t milestones_start, milestones;
	uint64_t has_state;
};

_Static_assert(sizeof(struct slot) == GNARL_EPISODE_RUNNING_WORDS * sizeof(uint64_t),
               "struct slot must stay an array of 8-byte words");

struct gnarl_episode {
	uint32_t n_envs, n_terms, window;
	struct slot *slots;
	double *terms;            /* (N, n_terms) running sums */
	double *done_terms;       /* (N, n_terms) sums of each env's last finished episode */
	double *ring;             /* (window, WCOLS) finished episodes */
	double *ring_terms;       /* (window, n_terms) their term sums */
	double *mean_terms;       /* (n_terms) */
	uint64_t ring_pos[2];     /* episodes in the ring, next row to write */
	uint64_t total;
	uint64_t *numbers;        /* (N) each env's running episode number */
};

int gnarl_episode_create(uint32_t n_envs, uint32_t n_terms, uint32_t window,
                         struct gnarl_episode **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_episode *e;
	size_t nt = (size_t)n_terms;

	*out = NULL;
	if (n_envs == 0 || window == 0)
		return gnarl_err(err, GNARL_EINVAL, "episodes: need at least one env and a window");
	e = calloc(1, sizeof(*e));
	if (!e)
		return gnarl_err(err, GNARL_ENOMEM, "episodes: out of memory");
	e->n_envs = n_envs;
	e->n_terms = n_terms;
	e->window = window;
	e->slots = calloc(n_envs, sizeof(*e->slots));
	e->terms = calloc(2 * n_envs * nt + window * nt + nt + 1, sizeof(double));
	e->ring = calloc((size_t)window * WCOLS, sizeof(*e->ring));
	e->numbers = calloc(n_envs, sizeof(*e->numbers));
	if (!e->slots || !e->terms || !e->ring || !e->numbers) {
		gnarl_episode_free(e);
		return gnarl_err(err, GNARL_ENOMEM, "episodes: out of memory for %u envs", n_envs);
	}
	e->done_terms = e->terms + n_envs * nt;
	e->ring_terms = e->done_terms + n_envs * nt;
	e->mean_terms = e->ring_terms + window * nt;
	*out = e;
	return 0;
}

void gnarl_episode_free(struct gnarl_episode *e)
{
	if (!e)
		return;
	free(e->slots);
	free(e->terms);
	free(e->ring);
	free(e->numbers);
	free(e);
}

const char *gnarl_episode_milestone_name(unsigned k)
{
	static const char *const names[GNARL_MILESTONE_COUNT] = {"sword", "maku_tree",
	                                                         "gnarled_key", "dungeon"};

	return k < GNARL_MILESTONE_COUNT ? names[k] : "?";
}

uint32_t gnarl_episode_milestones_of(const struct gnarl_game_state *s)
{
	uint32_t m = 0;

	if (gnarl_has_treasure(s, GNARL_TREASURE_SWORD))
		m |= GNARL_MILESTONE_SWORD;
	if (s->group == GNARL_GROUP_MAKU_TREE)
		m |= GNARL_MILESTONE_MAKU_TREE;
	if (gnarl_has_treasure(s, GNARL_TREASURE_GNARLED_KEY))
		m |= GNARL_MILESTONE_GNARLED_KEY;
	if (s->dungeon >= 0)
		m |= GNARL_MILESTONE_DUNGEON;
	return m;
}

/* Fold state s into the slot's sets. */
static void visit(struct slot *sl, const struct gnarl_game_state *s)
{
	uint32_t key = ((uint32_t)s->group & 7u) << 8 | ((uint32_t)s->room & 255u);
	uint64_t bit = 1ull << (key % 64);

	if (!(sl->rooms_set[key / 64] & bit)) {
		sl->rooms_set[key / 64] |= bit;
		sl->rooms++;
	}
	if (s->dungeon >= 0)
		sl->dungeons_set |= 1ull << ((uint32_t)s->dungeon & 63u);
	sl->kills = s->enemies_killed;
	sl->milestones |= gnarl_episode_milestones_of(s);
}

void gnarl_episode_begin(struct gnarl_episode *e, uint32_t env,
                         const struct gnarl_game_state *state)
{
	struct slot *sl = &e->slots[env];

	memset(sl, 0, sizeof(*sl));
	memset(e->terms + (size_t)env * e->n_terms, 0, e->n_terms * sizeof(double));
	if (!state)
		return;
	sl->has_state = 1;
	sl->kills_start = state->enemies_killed;
	sl->milestones_start = gnarl_episode_milestones_of(state);
	visit(sl, state);
}

void gnarl_episode_step(struct gnarl_episode *e, uint32_t env, float total,
                        float env_reward, const float *terms, size_t stride,
                        const struct gnarl_game_state *state)
{
	struct slot *sl = &e->slots[env];
	double *sum = e->terms + (size_t)env * e->n_terms;

	sl->ret += total;
	sl->env_reward += env_reward;
	sl->length++;
	for (uint32_t k = 0; k < e->n_terms; k++)
		sum[k] += terms[k * stride];
	/* Mid-transition the room may not be Link's yet: counted once he is. */
	if (state && sl->has_state && !(state->flags & GNARL_STATE_TRANSITION))
		visit(sl, state);
}

void gnarl_episode_end(struct gnarl_episode *e, uint32_t env, uint8_t dones,
                       struct gnarl_episode_record *rec)
{
	struct slot *sl = &e->slots[env];
	double *done_terms = e->done_terms + (size_t)env * e->n_terms;

	memcpy(done_terms, e->terms + (size_t)env * e->n_terms, e->n_terms * sizeof(double));
	memset(rec, 0, sizeof(*rec));
	rec->env = env;
	rec->episode = e->numbers[env];
	rec->ret = sl->ret;
	rec->env_reward = sl->env_reward;
	rec->length = sl->length;
	rec->n_terms = e->n_terms;
	rec->terms = done_terms;
	rec->has_state = sl->has_state != 0;
	if (sl->has_state) {
		rec->rooms = (uint32_t)sl->rooms;
		rec->dungeons = (uint32_t)__builtin_popcountll(sl->dungeons_set);
		rec->enemies_killed = (int32_t)(sl->kills - sl->kills_start);
		rec->milestones = (uint32_t)(sl->milestones & ~sl->milestones_start);
	}
	rec->terminated = dones & GNARL_DONE_TERMINATED;
	rec->truncated = dones & GNARL_DONE_TRUNCATED;
	e->numbers[env]++;
}

void gnarl_episode_add(struct gnarl_episode *e, const struct gnarl_episode_record *rec)
{
	uint64_t i = e->ring_pos[1] % e->window;
	double *row = e->ring + i * WCOLS;

	row[W_RET] = rec->ret;
	row[W_LEN] = (double)rec->length;
	row[W_ROOMS] = rec->rooms;
	row[W_DUNGEONS] = rec->dungeons;
	row[W_KILLS] = rec->enemies_killed;
	row[W_MILESTONES] = __builtin_popcount(rec->milestones);
	memcpy(e->ring_terms + i * e->n_terms, rec->terms, e->n_terms * sizeof(double));
	e->ring_pos[1] = (i + 1) % e->window;
	if (e->ring_pos[0] < e->window)
		e->ring_pos[0]++;
	e->total++;
}

void gnarl_episode_means(struct gnarl_episode *e, struct gnarl_episode_means *out)
{
	uint64_t n = e->ring_pos[0] <= e->window ? e->ring_pos[0] : e->window;
	double sum[WCOLS] = {0};

	memset(out, 0, sizeof(*out));
	memset(e->mean_terms, 0, e->n_terms * sizeof(double));
	out->terms = e->mean_terms;
	out->count = (uint32_t)n;
	if (!n)
		return;
	/* Sum in ring order from the oldest, so the mean is reproducible. */
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = (e->ring_pos[1] + e->window - n + k) % e->window;
		for (int c = 0; c < WCOLS; c++)
			sum[c] += e->ring[i * WCOLS + c];
		for (uint32_t t = 0; t < e->n_terms; t++)
			e->mean_terms[t] += e->ring_terms[i * e->n_terms + t];
	}
	out->ret = sum[W_RET] / n;
	out->length = sum[W_LEN] / n;
	out->rooms = sum[W_ROOMS] / n;
	out->dungeons = sum[W_DUNGEONS] / n;
	out->enemies_killed = sum[W_KILLS] / n;
	out->milestones = sum[W_MILESTONES] / n;
	for (uint32_t t = 0; t < e->n_terms; t++)
		e->mean_terms[t] /= n;
}

uint64_t gnarl_episode_total(const struct gnarl_episode *e)
{
	return e->total;
}

uint64_t gnarl_episode_number(const struct gnarl_episode *e, uint32_t env)
{
	return e->numbers[env];
}

static void view(struct gnarl_tensor *t, const char *name, enum gnarl_dtype dtype,
                 void *data, uint32_t ndim, uint64_t d0, uint64_t d1)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->dtype = dtype;
	t->ndim = ndim;
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->data = data;
}

uint32_t gnarl_episode_tensors(struct gnarl_episode *e, struct gnarl_tensor *out,
                               uint32_t max)
{
	struct gnarl_tensor t[5];

	view(&t[0], "episode.numbers", GNARL_DTYPE_U64, e->numbers, 1, e->n_envs, 0);
	view(&t[1], "episode.total", GNARL_DTYPE_U64, &e->total, 0, 0, 0);
	view(&t[2], "episode.window", GNARL_DTYPE_F64, e->ring, 2, e->window, WCOLS);
	view(&t[3], "episode.window_terms", GNARL_DTYPE_F64, e->ring_terms, 2, e->window,
	     e->n_terms);
	view(&t[4], "episode.window_pos", GNARL_DTYPE_U64, e->ring_pos, 1, 2, 0);
	for (uint32_t i = 0; i < 5 && i < max; i++)
		out[i] = t[i];
	return 5;
}

uint32_t gnarl_episode_running_tensors(struct gnarl_episode *e, struct gnarl_tensor *out,
                                       uint32_t max)
{
	struct gnarl_tensor t[2];

	view(&t[0], "episode.running", GNARL_DTYPE_U64, e->slots, 2, e->n_envs,
	     GNARL_EPISODE_RUNNING_WORDS);
	view(&t[1], "episode.running_terms", GNARL_DTYPE_F64, e->terms, 2, e->n_envs,
	     e->n_terms);
	for (uint32_t i = 0; i < 2 && i < max; i++)
		out[i] = t[i];
	return 2;
}
