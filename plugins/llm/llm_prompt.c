/*
 * llm_prompt.c - prompt templates, the room name table and the reply parser.
 *
 * Entry points: gnarl_llm_template_compile/_render/_free,
 * gnarl_llm_rooms_create/_find/_free, gnarl_llm_reply_parse/_read/_is_quota.
 * Invariant: a compiled template holds only known placeholders, so render
 * cannot fail except for memory.  Render and parse run on the worker
 * thread; compile and the room table are built at create.
 */
#define _POSIX_C_SOURCE 200809L

#include "llm_prompt.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

enum field {
	F_LITERAL = 0,
	F_ACTIONS, F_LOCATION, F_GROUP, F_GROUP_NAME, F_ROOM, F_ROOM_NAME, F_DUNGEON,
	F_X, F_Y, F_DIRECTION, F_HEALTH, F_MAX_HEALTH, F_HEARTS, F_RUPEES, F_KEYS,
	F_SWORD, F_ITEMS, F_ENEMIES, F_SEASON, F_LAST,
};

static const struct {
	const char *name;
	enum field field;
} fields[] = {
	{"actions", F_ACTIONS},       {"location", F_LOCATION},   {"group", F_GROUP},
	{"group_name", F_GROUP_NAME}, {"room", F_ROOM},           {"room_name", F_ROOM_NAME},
	{"dungeon", F_DUNGEON},       {"x", F_X},                 {"y", F_Y},
	{"direction", F_DIRECTION},   {"health", F_HEALTH},       {"max_health", F_MAX_HEALTH},
	{"hearts", F_HEARTS},         {"rupees", F_RUPEES},       {"keys", F_KEYS},
	{"sword", F_SWORD},           {"items", F_ITEMS},         {"enemies", F_ENEMIES},
	{"season", F_SEASON},         {"last_suggestion", F_LAST},
};

struct segment {
	enum field field;
	size_t start, len;  /* F_LITERAL: bytes of text */
};

struct gnarl_llm_template {
	char *text;  /* literals with "{{" / "}}" already folded */
	size_t n;
	struct segment *seg;
};

static int add_segment(struct gnarl_llm_template *t, enum field f, size_t start, size_t len)
{
	struct segment *s;

	if (f == F_LITERAL && len == 0)
		return 0;
	if (f == F_LITERAL && t->n && t->seg[t->n - 1].field == F_LITERAL &&
	    t->seg[t->n - 1].start + t->seg[t->n - 1].len == start) {
		t->seg[t->n - 1].len += len;
		return 0;
	}
	s = realloc(t->seg, (t->n + 1) * sizeof(*s));
	if (!s)
		return -1;
	t->seg = s;
	t->seg[t->n++] = (struct segment){f, start, len};
	return 0;
}

static int lookup_field(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i].name) == len && memcmp(fields[i].name, name, len) == 0)
			return (int)fields[i].field;
	return -1;
}

int gnarl_llm_template_compile(const char *text, const char *param,
                               struct gnarl_llm_template **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_llm_template *t = calloc(1, sizeof(*t));
	size_t n = strlen(text), w = 0;

	if (!t || !(t->text = malloc(n + 1)))
		goto nomem;
	for (size_t i = 0; i < n;) {
		const char *close;
		int f;

		if ((text[i] == '{' || text[i] == '}') && text[i + 1] == text[i]) {
			t->text[w] = text[i];
			if (add_segment(t, F_LITERAL, w++, 1) < 0)
				goto nomem;
			i += 2;
			continue;
		}
		if (text[i] == '}') {
			gnarl_llm_err(err, "%s: unmatched '}' at offset %zu (write '}}' for a brace)", param,
			        i);
			goto fail;
		}
		if (text[i] != '{') {
			t->text[w] = text[i++];
			if (add_segment(t, F_LITERAL, w++, 1) < 0)
				goto nomem;
			continue;
		}
		close = strchr(text + i + 1, '}');
		f = close ? lookup_field(text + i + 1, (size_t)(close - text - i - 1)) : -1;
		if (f < 0) {
			gnarl_llm_err(err,
			        "%s: unknown placeholder '%.*s' at offset %zu (known: {actions}, "
			        "{location}, {group}, {group_name}, {room}, {room_name}, {dungeon}, "
			        "{x}, {y}, {direction}, {health}, {max_health}, {hearts}, {rupees}, "
			        "{keys}, {sword}, {items}, {enemies}, {season}, {last_suggestion}; "
			        "'{{' for a brace)",
			        param, close ? (int)(close - text - i + 1) : 1, text + i, i);
			goto fail;
		}
		if (add_segment(t, (enum field)f, 0, 0) < 0)
			goto nomem;
		i = (size_t)(close - text) + 1;
	}
	t->text[w] = '\0';
	*out = t;
	return 0;
nomem:
	gnarl_llm_err(err, "%s: out of memory compiling the template", param);
fail:
	gnarl_llm_template_free(t);
	return -1;
}

void gnarl_llm_template_free(struct gnarl_llm_template *t)
{
	if (!t)
		return;
	free(t->text);
	free(t->seg);
	free(t);
}

static const char *group_name(int32_t group)
{
	static const char *const names[] = {"overworld", "Subrosia", "Maku Tree", "indoors"};

	if (group >= 0 && group < 4)
		return names[group];
	return group >= GNARL_GROUP_DUNGEON ? "dungeon" : "unknown";
}

static int put_quarters(struct gnarl_llm_buf *b, int32_t quarters)
{
	/* Quarter hearts as hearts: 11 -> "2.75", 12 -> "3". */
	static const char *const frac[] = {"", ".25", ".5", ".75"};
	int32_t q = quarters < 0 ? 0 : quarters;

	return gnarl_llm_buf_printf(b, "%d%s", (int)(q / 4), frac[q % 4]);
}

static int put_items(struct gnarl_llm_buf *b, const struct gnarl_game_state *s)
{
	bool any = false;

	for (unsigned id = 0; id < 128; id++) {
		const char *sep = any ? ", " : "";
		int rc;

		if (!gnarl_has_treasure(s, id))
			continue;
		if (id == GNARL_TREASURE_SWORD)
			rc = gnarl_llm_buf_printf(b, "%ssword", sep);
		else if (id == GNARL_TREASURE_GNARLED_KEY)
			rc = gnarl_llm_buf_printf(b, "%sGnarled Key", sep);
		else
			rc = gnarl_llm_buf_printf(b, "%streasure 0x%02x", sep, id);
		if (rc < 0)
			return -1;
		any = true;
	}
	return any ? 0 : gnarl_llm_buf_puts(b, "none");
}

static int put_location(struct gnarl_llm_buf *b, const struct gnarl_llm_prompt_input *in)
{
	const struct gnarl_game_state *s = in->state;
	const char *name = gnarl_llm_rooms_find(in->rooms, s->group, s->room);

	if (name)
		return gnarl_llm_buf_printf(b, "%s (%s, room 0x%02x)", name, group_name(s->group),
		                            (unsigned)s->room);
	return gnarl_llm_buf_printf(b, "%s room 0x%02x", group_name(s->group), (unsigned)s->room);
}

static int put_field(struct gnarl_llm_buf *b, enum field f, const struct gnarl_llm_prompt_input *in)
{
	static const char *const dirs[] = {"up", "right", "down", "left"};
	static const char *const seasons[] = {"spring", "summer", "autumn", "winter"};
	const struct gnarl_game_state *s = in->state;
	const char *room_name;

	switch (f) {
	case F_ACTIONS:
		for (uint32_t a = 0; a < in->n_actions; a++)
			if (gnarl_llm_buf_printf(b, "%s%s", a ? ", " : "", in->names[a]) < 0)
				return -1;
		return 0;
	case F_LOCATION:
		return put_location(b, in);
	case F_GROUP:
		return gnarl_llm_buf_printf(b, "%d", (int)s->group);
	case F_GROUP_NAME:
		return gnarl_llm_buf_puts(b, group_name(s->group));
	case F_ROOM:
		return gnarl_llm_buf_printf(b, "0x%02x", (unsigned)s->room);
	case F_ROOM_NAME:
		room_name = gnarl_llm_rooms_find(in->rooms, s->group, s->room);
		return gnarl_llm_buf_puts(b, room_name ? room_name : "unknown");
	case F_DUNGEON:
		if (s->dungeon < 0)
			return gnarl_llm_buf_puts(b, "none");
		return gnarl_llm_buf_printf(b, "%d", (int)s->dungeon);
	case F_X:
		return gnarl_llm_buf_printf(b, "%d", (int)s->x);
	case F_Y:
		return gnarl_llm_buf_printf(b, "%d", (int)s->y);
	case F_DIRECTION:
		return gnarl_llm_buf_puts(b, s->direction >= 0 && s->direction < 4
		                                 ? dirs[s->direction] : "unknown");
	case F_HEALTH:
		return put_quarters(b, s->health);
	case F_MAX_HEALTH:
		return put_quarters(b, s->max_health);
	case F_HEARTS:
		if (put_quarters(b, s->health) < 0 || gnarl_llm_buf_puts(b, "/") < 0)
			return -1;
		return put_quarters(b, s->max_health);
	case F_RUPEES:
		return gnarl_llm_buf_printf(b, "%d", (int)s->rupees);
	case F_KEYS:
		return gnarl_llm_buf_printf(b, "%d", (int)s->keys);
	case F_SWORD:
		if (s->sword_level <= 0)
			return gnarl_llm_buf_puts(b, "none");
		return gnarl_llm_buf_printf(b, "level %d", (int)s->sword_level);
	case F_ITEMS:
		return put_items(b, s);
	case F_ENEMIES:
		return gnarl_llm_buf_printf(b, "%d", (int)s->enemies_visible);
	case F_SEASON:
		return gnarl_llm_buf_puts(b, s->season < 4 ? seasons[s->season] : "unknown");
	case F_LAST:
		if (in->last_suggestion < 0 || (uint32_t)in->last_suggestion >= in->n_actions)
			return gnarl_llm_buf_puts(b, "none");
		return gnarl_llm_buf_puts(b, in->names[in->last_suggestion]);
	case F_LITERAL:
		break;
	}
	return 0;
}

int gnarl_llm_template_render(const struct gnarl_llm_template *t,
                              const struct gnarl_llm_prompt_input *in, struct gnarl_llm_buf *out)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct segment *s = &t->seg[i];
		int rc = s->field == F_LITERAL ? gnarl_llm_buf_append(out, t->text + s->start, s->len)
		                               : put_field(out, s->field, in);

		if (rc < 0)
			return -1;
	}
	return gnarl_llm_buf_reserve(out, 0);
}

/* ---- room names ---------------------------------------------------------- */

struct room_name {
	int32_t group, room;
	char *name;
};

struct gnarl_llm_rooms {
	size_t n;
	struct room_name *items;
};

static bool parse_room_key(const char *key, int32_t *group, int32_t *room)
{
	char *end;
	long g, r;

	errno = 0;
	g = strtol(key, &end, 0);
	if (end == key || (*end != '/' && *end != ':') || errno)
		return false;
	key = end + 1;
	r = strtol(key, &end, 0);
	if (end == key || *end != '\0' || errno || g < 0 || g > 255 || r < 0 || r > 0xffff)
		return false;
	*group = (int32_t)g;
	*room = (int32_t)r;
	return true;
}

int gnarl_llm_rooms_create(const struct gnarl_value *map, struct gnarl_llm_rooms **out,
                           char err[GNARL_ERR_SIZE])
{
	struct gnarl_llm_rooms *r = calloc(1, sizeof(*r));

	if (!r)
		goto nomem;
	if (map && map->type != GNARL_VALUE_NULL) {
		if (map->type != GNARL_VALUE_MAP) {
			gnarl_llm_err(err, "room_names:%d:%d: expected a map of \"<group>/<room>\": name",
			        map->line, map->column);
			goto fail;
		}
		r->items = calloc(map->count ? map->count : 1, sizeof(*r->items));
		if (!r->items)
			goto nomem;
		for (size_t k = 0; k < map->count; k++) {
			const struct gnarl_value *v = &map->items[k];
			struct room_name *it = &r->items[r->n];

			if (!parse_room_key(map->keys[k], &it->group, &it->room)) {
				gnarl_llm_err(err,
				        "room_names:%d:%d: key '%s' is not \"<group>/<room>\" "
				        "(e.g. \"0/0x12\")",
				        v->line, v->column, map->keys[k]);
				goto fail;
			}
			if (v->type != GNARL_VALUE_STRING) {
				gnarl_llm_err(err, "room_names:%d:%d: the name of '%s' must be a string",
				        v->line, v->column, map->keys[k]);
				goto fail;
			}
			if (!(it->name = strdup(v->as.s)))
				goto nomem;
			r->n++;
		}
	}
	*out = r;
	return 0;
nomem:
	gnarl_llm_err(err, "room_names: out of memory");
fail:
	gnarl_llm_rooms_free(r);
	return -1;
}

void gnarl_llm_rooms_free(struct gnarl_llm_rooms *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->items[i].name);
	free(r->items);
	free(r);
}

const char *gnarl_llm_rooms_find(const struct gnarl_llm_rooms *r, int32_t group, int32_t room)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].group == group && r->items[i].room == room)
			return r->items[i].name;
	return NULL;
}

/* ---- reply parsing ------------------------------------------------------- */

static bool is_one_of(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static int32_t match_name(const char *v, size_t len, uint32_t n_actions,
                          const char (*names)[GNARL_LLM_NAME_MAX])
{
	static const char wrap[] = "\"'`*";

	/* Strip the formatting a model wraps a word in, never letters. */
	while (len && is_one_of(v[0], wrap)) {
		v++;
		len--;
	}
	while (len && is_one_of(v[len - 1], wrap))
		len--;
	if (len && v[len - 1] == '.') {
		len--;
		while (len && is_one_of(v[len - 1], wrap))
			len--;
	}
	for (uint32_t a = 0; a < n_actions; a++)
		if (len && strlen(names[a]) == len && strncasecmp(names[a], v, len) == 0)
			return (int32_t)a;
	return -1;
}

/* If line [p, end) is an ACTION line, point value and vlen at its value. */
static bool action_line(const char *p, const char *end, const char **value, size_t *vlen)
{
	while (p < end && is_one_of(*p, " \t*_#>-"))
		p++;
	if (end - p < 6 || strncasecmp(p, "action", 6) != 0)
		return false;
	p += 6;
	while (p < end && is_one_of(*p, " \t*_"))
		p++;
	if (p == end || *p != ':')
		return false;
	p++;
	while (p < end && is_one_of(*p, " \t*_"))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	*value = p;
	*vlen = (size_t)(end - p);
	return true;
}

static int32_t parse_json(const char *content, size_t len, uint32_t n_actions,
                          const char (*names)[GNARL_LLM_NAME_MAX])
{
	const char *p = content, *end = content + len;
	const char *s;
	json_t *root, *action;
	int32_t r = -1;

	while (p < end && isspace((unsigned char)*p))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	if (end - p >= 6 && memcmp(p, "```", 3) == 0 && memcmp(end - 3, "```", 3) == 0) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			return -1;
		end -= 3;
	}
	root = json_loadb(p, (size_t)(end - p), 0, NULL);
	action = json_object_get(root, "action");
	if (json_is_string(action)) {
		s = json_string_value(action);
		r = match_name(s, strlen(s), n_actions, names);
	}
	json_decref(root);
	return r;
}

int32_t gnarl_llm_reply_parse(const char *content, size_t len, bool truncated, uint32_t n_actions,
                              const char (*names)[GNARL_LLM_NAME_MAX])
{
	const char *p = content, *end = content + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		const char *value;
		size_t vlen;

		if (action_line(p, line_end, &value, &vlen)) {
			if (truncated && !nl)
				return -1;  /* the name may have been cut */
			return match_name(value, vlen, n_actions, names);
		}
		p = nl ? nl + 1 : end;
	}
	return truncated ? -1 : parse_json(content, len, n_actions, names);
}

int32_t gnarl_llm_reply_read(const char *body, size_t len, uint32_t n_actions,
                             const char (*names)[GNARL_LLM_NAME_MAX], bool *truncated)
{
	json_t *root = json_loadb(body ? body : "", len, 0, NULL);
	json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
	json_t *content = json_object_get(json_object_get(choice, "message"), "content");
	const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
	int32_t action = -1;

	*truncated = finish && strcmp(finish, "length") == 0;
	if (json_is_string(content))
		action = gnarl_llm_reply_parse(json_string_value(content), json_string_length(content),
		                               *truncated, n_actions, names);
	json_decref(root);
	return action;
}

bool gnarl_llm_reply_is_quota(const char *body, size_t len)
{
	json_t *root = json_loadb(body ? body : "", len, 0, NULL);
	json_t *e = json_object_get(root, "error");
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *code = json_string_value(json_object_get(e, "code"));
	bool quota = (type && strcmp(type, "insufficient_quota") == 0) ||
	             (code && strcmp(code, "insufficient_quota") == 0);

	json_decref(root);
	return quota;
}
