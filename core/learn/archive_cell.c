/*
 * archive_cell.c - what a cell of the archive of start states is (see
 * archive.h): the game-state fields `archive.cell` and `archive.score` may
 * name, a state's cell key and score, and the `archive:` section checked
 * against them and against the env.
 *
 * Entry points: gnarl_archive_check, gnarl_archive_field_name, and for
 * archive.c gnarl_archive_read_config, _key, _score.
 * Invariants: a key is a pure function of the game state and the config;
 * nothing here allocates.
 */
#include "archive.h"
#include "archive_internal.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "episode.h"
#include "error.h"
#include "value.h"

/* The game-state fields a cell or the score may use. */
enum archive_field {
	F_GROUP, F_ROOM, F_DUNGEON, F_X, F_Y, F_DIRECTION, F_HEALTH, F_MAX_HEALTH, F_RUPEES,
	F_KEYS, F_SWORD_LEVEL, F_ENEMIES_KILLED, F_DEATHS, F_SEASON, F_TEXT_ACTIVE, F_MILESTONES,
	F_TREASURES, F_FRAME, F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"group", "room", "dungeon", "x", "y", "direction", "health", "max_health", "rupees",
	"keys", "sword_level", "enemies_killed", "deaths", "season", "text_active", "milestones",
	"treasures", "frame",
};

#define FIELD_LIST "group, room, dungeon, x, y, direction, health, max_health, rupees, keys, " \
                   "sword_level, enemies_killed, deaths, season, text_active, milestones, "   \
                   "treasures, frame"

const char *gnarl_archive_field_name(unsigned f)
{
	return f < F_COUNT ? field_names[f] : NULL;
}

static int field_index(const char *name)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strcmp(field_names[f], name) == 0)
			return f;
	return -1;
}

static int64_t field_value(const struct gnarl_game_state *s, int f)
{
	uint64_t h = 0xcbf29ce484222325ull;

	switch (f) {
	case F_GROUP: return s->group;
	case F_ROOM: return s->room;
	case F_DUNGEON: return s->dungeon;
	case F_X: return s->x;
	case F_Y: return s->y;
	case F_DIRECTION: return s->direction;
	case F_HEALTH: return s->health;
	case F_MAX_HEALTH: return s->max_health;
	case F_RUPEES: return s->rupees;
	case F_KEYS: return s->keys;
	case F_SWORD_LEVEL: return s->sword_level;
	case F_ENEMIES_KILLED: return s->enemies_killed;
	case F_DEATHS: return s->deaths;
	case F_SEASON: return s->season;
	case F_TEXT_ACTIVE: return s->text_active;
	case F_MILESTONES: return gnarl_episode_milestones_of(s);
	case F_TREASURES:
		for (int i = 0; i < 16; i++)
			h = (h ^ s->treasures[i]) * 0x100000001b3ull;
		return (int64_t)(h >> 1);
	default: return (int64_t)s->frame;
	}
}

/* Floor division: buckets of negative values (dungeon -1) stay apart. */
static int64_t bucket_of(int64_t v, int64_t b)
{
	int64_t q = v / b;

	return q - (v % b != 0 && v < 0);
}

void gnarl_archive_key(const struct gnarl_archive *a, const struct gnarl_game_state *s,
                       int64_t *key)
{
	for (uint32_t f = 0; f < a->F; f++)
		key[f] = bucket_of(field_value(s, a->field[f]), a->bucket[f]);
}

double gnarl_archive_score(const struct gnarl_archive *a, const struct gnarl_game_state *s)
{
	return a->score_sign * (double)field_value(s, a->score_field);
}

/* ---- the config ---------------------------------------------------------- */

static const struct gnarl_value *key(const struct gnarl_config *cfg, const char *path)
{
	return gnarl_value_at(cfg->root, path);
}

/* archive.cell into a's fields and buckets. */
static int parse_cell(const struct gnarl_config *cfg, struct gnarl_archive *a,
                      char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *cell = key(cfg, "archive.cell");

	if (!cell || cell->type != GNARL_VALUE_MAP || cell->count == 0)
		return gnarl_config_error(cfg, cell, "archive.cell", err,
		                          "expected a map of game-state fields to bucket sizes, "
		                          "e.g. {group: 1, room: 1, x: 48, y: 48, milestones: 1}");
	if (cell->count > ARCHIVE_MAX_FIELDS)
		return gnarl_config_error(cfg, cell, "archive.cell", err, "%zu fields; at most %d",
		                          cell->count, ARCHIVE_MAX_FIELDS);
	a->F = (uint32_t)cell->count;
	for (size_t k = 0; k < cell->count; k++) {
		const struct gnarl_value *v = &cell->items[k];
		int f = field_index(cell->keys[k]);
		char path[96];

		snprintf(path, sizeof(path), "archive.cell.%s", cell->keys[k]);
		if (f < 0)
			return gnarl_config_error(cfg, v, path, err, "not a game-state field; one of "
			                          FIELD_LIST);
		if (v->type != GNARL_VALUE_INT || v->as.i < 1)
			return gnarl_config_error(cfg, v, path, err, "expected a bucket size, an "
			                          "integer >= 1 (1: the exact value)");
		if (f == F_TREASURES && v->as.i != 1)
			return gnarl_config_error(cfg, v, path, err, "treasures are a set: its bucket "
			                          "size must be 1");
		for (size_t j = 0; j < k; j++)
			if (a->field[j] == f)
				return gnarl_config_error(cfg, v, path, err, "given twice");
		a->field[k] = (uint8_t)f;
		a->bucket[k] = v->as.i;
	}
	return 0;
}

static int parse_score(const struct gnarl_config *cfg, struct gnarl_archive *a,
                       char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *v = key(cfg, "archive.score");
	const char *s = gnarl_value_string(v, "-frame");
	int f;

	a->score_sign = *s == '-' ? -1 : 1;
	f = field_index(s + (*s == '-' || *s == '+'));
	if (f < 0 || f == F_TREASURES)
		return gnarl_config_error(cfg, v, "archive.score", err, "'%s' is not a game-state "
		                          "field with an order; one of " FIELD_LIST " (except "
		                          "treasures), with '-' in front when lower is better", s);
	a->score_field = (uint8_t)f;
	return 0;
}

int gnarl_archive_read_config(const struct gnarl_config *cfg, struct gnarl_archive *a,
                              char err[GNARL_ERR_SIZE])
{
	static const char *const weightings[] = {"rare_recent", "rare", "recent", "uniform"};
	const char *w = gnarl_value_string(key(cfg, "archive.weighting"), "rare_recent");
	int rc = parse_cell(cfg, a, err);

	if (!rc)
		rc = parse_score(cfg, a, err);
	if (rc)
		return rc;
	a->keep_best = strcmp(gnarl_value_string(key(cfg, "archive.keep"), "best"), "best") == 0;
	for (int i = 0; i < 4; i++)
		if (strcmp(w, weightings[i]) == 0)
			a->weighting = (enum archive_weighting)i;
	a->start_prob = gnarl_value_float(key(cfg, "archive.start_prob"), 0.5);
	a->recent_steps = (double)gnarl_value_int(key(cfg, "archive.recent_steps"), 1000000);
	a->max_cells = (uint32_t)gnarl_value_int(key(cfg, "archive.max_cells"), 4096);
	a->merge_every = (uint32_t)gnarl_value_int(key(cfg, "archive.merge_every"), 10);
	a->explore_steps = (uint32_t)gnarl_value_int(key(cfg, "archive.explore_steps"), 0);
	return 0;
}

static bool env_has_env_states(const struct gnarl_env_ops *ops)
{
	return ops->size >= offsetof(struct gnarl_env_ops, load_env_state) +
	                        sizeof(ops->load_env_state) &&
	       ops->env_state_size && ops->save_env_state && ops->load_env_state;
}

int gnarl_archive_check(const struct gnarl_config *cfg, const char *env_name,
                        const struct gnarl_env_ops *ops, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *on = key(cfg, "archive.enabled");
	struct gnarl_archive a;
	int rc;

	memset(&a, 0, sizeof(a));
	rc = gnarl_archive_read_config(cfg, &a, err);
	if (rc || !gnarl_value_bool(on, false) || !ops)
		return rc;
	if (!env_has_env_states(ops))
		return gnarl_config_error(cfg, on, "archive.enabled", err, "env '%s' cannot save and "
		                          "load one env's state (no env_state_size/save_env_state/"
		                          "load_env_state ops, plugin ABI 1.1), so no episode can "
		                          "start from an archived state: set archive.enabled: false, "
		                          "or give the env those ops (sdk/README.md)", env_name);
	return 0;
}

