/*
 * cmd_gb.c - `gnarl gb peek`: play env 0 of the config's env for a few
 * frames (or a given action sequence) and print its decoded game state,
 * so a user can check a RAM map against a running game; `--save-state`
 * keeps the state reached as a start state.  `gnarl gb check`: the env's
 * full self-check of its RAM map (the gameboy env's self_check: full) and
 * the start state's fields.
 *
 * peek creates the env the way the trainer does (registry, plugin host, one
 * env), resets it with the seed training gives env 0's first episode (or
 * --seed), plays --actions, then NOP steps until state.frame reaches
 * --frames (at most --frames steps: an env whose frame counts steps).  Every
 * game-state field is printed with its decoded value; when the env's params
 * hold a `ram_map` (the gameboy env) and the state lends its work RAM, also
 * with its address and the raw bytes there, read here independently of the
 * plugin's decoder, plus the room's collision map and the enabled enemy
 * slots (gb_view.c).  --png writes the last frame; --save-state the env's
 * saved state of its one env (its state ops: for the gameboy env a gnarl
 * state file, loadable as env.params.save_state).  The episode stopping
 * (death, time limit) ends the play there, and the output says so.
 *
 * Entry point: gnarl_cmd_gb (registered in cli.c).  Exit codes: 0; 2 for a
 * bad command line, config, plugin or RAM map (the env refuses it at
 * create; a self-check that fails); 1 otherwise (an env without game
 * state, a PNG or state that cannot be written).
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "error.h"
#include "gauges.h"
#include "gb_view.h"
#include "image.h"
#include "plugin_host.h"
#include "registry.h"
#include "rollout.h"
#include "value.h"

int gnarl_cmd_gb(int argc, char **argv);

const char gnarl_cmd_gb_usage[] =
    "usage: gnarl gb peek [-c FILE] [--set KEY=VALUE]... [--frames N] [--actions LIST]\n"
    "                     [--seed N] [--png FILE] [--save-state FILE] [--json]\n"
    "       gnarl gb check [-c FILE] [--set KEY=VALUE]... [--json]\n"
    "\n"
    "peek: start env 0 of the config's env (the gameboy env: your cartridge), play\n"
    "it, and print the decoded game state: every field with its value and, for an\n"
    "env with a ram_map, the address and the raw bytes in work RAM next to it, the\n"
    "room's collision map and the enabled enemy slots.  Use it to check a RAM map\n"
    "against a running game before training on it, and to make start states.\n"
    "\n"
    "check: run the env's whole self-check of its RAM map on the running game\n"
    "(every field in range, the joypad moving Link the right way, each reachable\n"
    "screen edge changing the room) and print the start state's fields.  A field\n"
    "that fails is named with its address and what was seen; the exit code is 2.\n"
    "\n"
    "  -c FILE          the config (default configs/env.yaml, else the installed one)\n"
    "  --set KEY=VALUE  override any key (--set env.params.save_state=my.ss)\n"
    "  --actions LIST   play these actions first: the env's action names separated by\n"
    "                   commas or spaces, NAME*K repeats (RIGHT*5,B)\n"
    "  --frames N       then step NOP until N frames since the episode start (default\n"
    "                   0: only the actions; an env without frames counts steps)\n"
    "  --seed N         reset seed (default: the one training gives env 0's first\n"
    "                   episode)\n"
    "  --png FILE       write the last frame as a 160x144 PNG\n"
    "  --save-state FILE  write the state reached: a start state for\n"
    "                   env.params.save_state (the gameboy env: a gnarl state file\n"
    "                   naming the emulator backend and the cartridge)\n"
    "  --json           print one JSON object on stdout\n";

#define MAX_ACTIONS 1000000L

struct peek {
	struct gnarl_cli_opts o;
	long frames;
	const char *actions, *png, *save;
	bool check;
	bool has_seed;
	uint64_t seed;

	struct gnarl_config *cfg;
	struct gnarl_registry *reg;
	struct gnarl_gauges *gauges;
	struct gnarl_plugin_host *host;
	const struct gnarl_registry_entry *entry;
	const struct gnarl_env_ops *ops;
	void *env;
	struct gnarl_env_spaces sp;
	float *obs;
	uint8_t *frame;
	struct gnarl_game_state state;
	int32_t action;
	float reward;
	uint8_t done, want;
	struct gnarl_env_io io;
	int32_t *seq;
	long n_seq;
	uint64_t steps;
	bool ended;
};

/* ------------------------------------------------------------------------ */
/* Command line.                                                            */

static int parse_args(int argc, char **argv, struct peek *p)
{
	const char *verb = NULL;

	p->frames = -1;
	for (int i = 1; i < argc; i++) {
		int rc = gnarl_cli_option(&p->o, argc, argv, &i);
		const char *a = argv[i];

		if (rc < 0)
			return GNARL_EXIT_USAGE;
		if (rc > 0)
			continue;
		if ((!strcmp(a, "--frames") || !strcmp(a, "--actions") || !strcmp(a, "--png") ||
		     !strcmp(a, "--seed") || !strcmp(a, "--save-state")) && i + 1 >= argc)
			return gnarl_cli_usage_error("gb", "%s needs a value", a);
		if (!strcmp(a, "--frames")) {
			char *end;

			p->frames = strtol(argv[++i], &end, 10);
			if (!*argv[i] || *end || p->frames < 0 || p->frames > 100000000L)
				return gnarl_cli_usage_error("gb", "--frames wants a whole number "
				                             "0..100000000, not '%s'", argv[i]);
		} else if (!strcmp(a, "--actions")) {
			p->actions = argv[++i];
		} else if (!strcmp(a, "--png")) {
			p->png = argv[++i];
		} else if (!strcmp(a, "--save-state")) {
			p->save = argv[++i];
		} else if (!strcmp(a, "--seed")) {
			char *end;

			p->seed = strtoull(argv[++i], &end, 0);
			if (!*argv[i] || *end || argv[i][0] == '-')
				return gnarl_cli_usage_error("gb", "--seed wants a whole number, not '%s'",
				                             argv[i]);
			p->has_seed = true;
		} else if (a[0] == '-') {
			return gnarl_cli_usage_error("gb", "unknown option %s", a);
		} else if (!verb) {
			verb = a;
		} else {
			return gnarl_cli_usage_error("gb", "unexpected argument '%s'", a);
		}
	}
	if (!verb)
		return gnarl_cli_usage_error("gb", "say what to do: peek or check");
	if (strcmp(verb, "peek") && strcmp(verb, "check"))
		return gnarl_cli_usage_error("gb", "unknown subcommand '%s' (peek or check)", verb);
	p->check = !strcmp(verb, "check");
	if (p->check && (p->actions || p->frames >= 0 || p->png || p->save || p->has_seed))
		return gnarl_cli_usage_error("gb", "check takes -c, --set and --json only (it checks "
		                             "from the start state)");
	return 0;
}

static int action_index(const struct peek *p, const char *name, size_t len)
{
	for (uint32_t a = 0; a < p->sp.n_actions; a++)
		if (strlen(p->sp.action_names[a]) == len &&
		    !strncasecmp(p->sp.action_names[a], name, len))
			return (int)a;
	return -1;
}

/* Read --actions ("RIGHT*5, B up") into out (NULL: only count and check).
 * Returns how many actions, or -1 after a usage error. */
static long scan_actions(const struct peek *p, int32_t *out)
{
	const char *s = p->actions;
	char names[512] = "";
	long n = 0;

	for (uint32_t a = 0; a < p->sp.n_actions; a++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
		         a ? ", " : "", p->sp.action_names[a]);
	while (s && *s) {
		size_t len;
		long reps = 1;
		int a;

		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		len = strcspn(s, ",* \t\n");
		if ((a = action_index(p, s, len)) < 0)
			return gnarl_cli_usage_error("gb", "--actions: unknown action '%.*s' (the "
			                             "env's actions: %s)", (int)len, s, names), -1;
		s += len;
		if (*s == '*') {
			char *end;

			reps = strtol(s + 1, &end, 10);
			if (end == s + 1 || reps < 1 || reps > MAX_ACTIONS - n)
				return gnarl_cli_usage_error("gb", "--actions: '*' wants a count "
				                             "1..%ld after %s (%ld actions at most)",
				                             MAX_ACTIONS, p->sp.action_names[a],
				                             MAX_ACTIONS), -1;
			s = end;
		}
		if (n + reps > MAX_ACTIONS)
			return gnarl_cli_usage_error("gb", "--actions: more than %ld actions",
			                             MAX_ACTIONS), -1;
		while (reps-- > 0) {
			if (out)
				out[n] = a;
			n++;
		}
	}
	return n;
}

static int parse_actions(struct peek *p)
{
	long n = scan_actions(p, NULL);

	if (n < 0)
		return GNARL_EXIT_USAGE;
	p->seq = malloc(sizeof(*p->seq) * (size_t)(n ? n : 1));
	if (!p->seq)
		return gnarl_cli_fail(GNARL_ENOMEM, "out of memory for %ld actions", n);
	p->n_seq = scan_actions(p, p->seq);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The env.                                                                 */

static bool declares(const struct gnarl_plugin *d, const char *param)
{
	for (const struct gnarl_param *q = d->params; q && q->name; q++)
		if (!strcmp(q->name, param))
			return true;
	return false;
}

static int load(struct peek *p, char err[GNARL_ERR_SIZE])
{
	int rc = gnarl_cli_load_config(&p->o, &p->cfg);

	if (rc)
		return rc;
	if ((rc = gnarl_registry_open(p->cfg, &p->reg, err)))
		return gnarl_cli_fail(rc == GNARL_ENOENT ? GNARL_ECONFIG : rc, "%s", err);
	p->entry = gnarl_registry_env(p->reg);
	return 0;
}

/* check: the config again, with the env's self-check made full. */
static int load_for_check(struct peek *p, char err[GNARL_ERR_SIZE])
{
	if (!declares(p->entry->desc, "self_check"))
		return gnarl_cli_fail(GNARL_EUNSUPPORTED, "gnarl gb check: env '%s' has no "
		                      "self-check of a RAM map (the gameboy env has)",
		                      p->entry->desc->name);
	if (p->o.n_sets >= GNARL_CLI_MAX_SETS)
		return gnarl_cli_fail(GNARL_EINVAL, "gnarl gb check: too many --set options");
	p->o.sets[p->o.n_sets++] = "env.params.self_check=full";
	gnarl_registry_free(p->reg);
	gnarl_config_free(p->cfg);
	p->reg = NULL;
	p->cfg = NULL;
	return load(p, err);
}

static int open_env(struct peek *p)
{
	char err[GNARL_ERR_SIZE] = "";
	struct gnarl_host_context ctx = {0};
	int rc = load(p, err);

	if (rc || (p->check && (rc = load_for_check(p, err))))
		return rc;
	if ((rc = gnarl_gauges_create(&p->gauges)))
		return gnarl_cli_fail(rc, "out of memory");
	ctx = (struct gnarl_host_context){.config = p->cfg, .gauges = p->gauges,
	                                  .world_size = 1};
	if ((rc = gnarl_registry_host(p->entry, &ctx, &p->host, err)))
		return gnarl_cli_fail(rc, "%s", err);
	p->ops = p->entry->desc->ops.env;
	err[0] = '\0';
	p->env = p->ops->create(gnarl_plugin_host_table(p->host), 1, err);
	if (!p->env)
		return gnarl_cli_fail(gnarl_plugin_create_failed(p->entry->lib, p->entry->slot, err),
		                      "%s", err);
	p->sp.size = sizeof(p->sp);
	p->ops->spaces(p->env, &p->sp);
	if (!p->sp.has_game_state)
		return gnarl_cli_fail(GNARL_EUNSUPPORTED, "env '%s' fills no game state: gnarl gb "
		                      "peek needs a Zelda-like env (gameboy, overworld)",
		                      p->entry->desc->name);
	if (p->png && !p->sp.has_frames)
		return gnarl_cli_fail(GNARL_EUNSUPPORTED, "--png: env '%s' renders no frames",
		                      p->entry->desc->name);
	p->obs = calloc(p->sp.obs_dim ? p->sp.obs_dim : 1, sizeof(float));
	p->frame = calloc(1, GNARL_FRAME_BYTES);
	if (!p->obs || !p->frame)
		return gnarl_cli_fail(GNARL_ENOMEM, "out of memory");
	p->want = p->png != NULL;
	p->io = (struct gnarl_env_io){.size = sizeof(p->io), .obs_stride = p->sp.obs_dim,
	                              .obs = p->obs, .states = &p->state,
	                              .actions = &p->action, .rewards = &p->reward,
	                              .dones = &p->done, .want_frame = &p->want,
	                              .frames = p->frame};
	return 0;
}

static void step(struct peek *p, int32_t action)
{
	p->action = action;
	p->ops->step(p->env, &p->io, 0, 1);
	p->steps++;
	p->ended = p->done != 0;
}

static void play(struct peek *p)
{
	if (!p->has_seed)
		p->seed = gnarl_rollout_reset_seed(
		    (uint64_t)gnarl_value_int(gnarl_value_at(p->cfg->root, "run.seed"), 0), 0, 0);
	p->ops->reset(p->env, &p->io, 0, p->seed);
	for (long k = 0; k < p->n_seq && !p->ended; k++)
		step(p, p->seq[k]);
	/* NOP is action 0 of every Zelda-like env. */
	for (long k = 0; k < p->frames && !p->ended && p->state.frame < (uint64_t)p->frames; k++)
		step(p, 0);
}

/* ------------------------------------------------------------------------ */
/* Reading the RAM map (the gameboy env's `ram_map` param).                 */

static void hex_bytes(const uint8_t *p, long n, char *buf, size_t size)
{
	buf[0] = '\0';
	for (long i = 0; i < n && strlen(buf) + 4 < size; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%02X", i ? " " : "", p[i]);
}

/* ------------------------------------------------------------------------ */
/* The game state's fields.                                                 */

enum ftype { T_I32, T_U8, T_U64 };

static const struct field {
	const char *name;
	size_t off;
	enum ftype type;
} fields[] = {
#define F(name, type) {#name, offsetof(struct gnarl_game_state, name), type}
    F(frame, T_U64),       F(group, T_I32),          F(room, T_I32),
    F(dungeon, T_I32),     F(x, T_I32),              F(y, T_I32),
    F(direction, T_I32),   F(health, T_I32),         F(max_health, T_I32),
    F(rupees, T_I32),      F(keys, T_I32),           F(sword_level, T_I32),
    F(enemies_killed, T_I32), F(deaths, T_I32),      F(enemies_visible, T_I32),
    F(text_active, T_U8),  F(menu_open, T_U8),       F(season, T_U8),
#undef F
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static int64_t field_value(const struct gnarl_game_state *s, const struct field *f)
{
	const char *p = (const char *)s + f->off;

	if (f->type == T_U64)
		return (int64_t)*(const uint64_t *)(const void *)p;
	if (f->type == T_U8)
		return *(const uint8_t *)p;
	return *(const int32_t *)(const void *)p;
}

static const struct field *field_named(const char *name)
{
	for (size_t k = 0; k < N_FIELDS; k++)
		if (!strcmp(fields[k].name, name))
			return &fields[k];
	return NULL;
}

/* One row: where the field's bytes are and what they hold ("" if unmapped). */
struct row {
	bool mapped;
	struct gnarl_gb_loc l;
	char address[32], raw[64], notes[96];
};

static void describe(const struct peek *p, const struct gnarl_value *map, const char *name,
                     long default_width, struct row *r)
{
	const struct gnarl_value *e = gnarl_value_get(map, name);
	const struct gnarl_value *idx = gnarl_value_get(e, "index");
	const char *enc = gnarl_value_string(gnarl_value_get(e, "encoding"), "binary");
	long width = (long)gnarl_value_int(gnarl_value_get(e, "width"), default_width);
	long none = (long)gnarl_value_int(gnarl_value_get(e, "none"), -1);
	const struct field *f;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (!e || !p->state.ram)
		return;
	if (!gnarl_gb_view_locate(e, p->state.ram_size, 0, width, &r->l)) {
		snprintf(r->raw, sizeof(r->raw), "?");
		snprintf(r->notes, sizeof(r->notes), "address outside the work RAM image");
		return;
	}
	r->mapped = true;
	if (idx && idx->type == GNARL_VALUE_STRING && (f = field_named(idx->as.s))) {
		int64_t i = field_value(&p->state, f);
		long count = (long)gnarl_value_int(gnarl_value_get(e, "count"), 16);

		snprintf(r->notes, sizeof(r->notes), "entry %s = %lld of %ld from $%04lX",
		         idx->as.s, (long long)i, count, r->l.address);
		if (i < 0 || i >= count || !gnarl_gb_view_locate(e, p->state.ram_size, (long)i, width, &r->l)) {
			gnarl_gb_view_address(&r->l, r->address, sizeof(r->address));
			snprintf(r->raw, sizeof(r->raw), "-");
			n = strlen(r->notes);
			snprintf(r->notes + n, sizeof(r->notes) - n, ": none, decodes as 0");
			return;
		}
		r->l.address += (long)i;  /* the byte an indexed entry reads */
	}
	gnarl_gb_view_address(&r->l, r->address, sizeof(r->address));
	hex_bytes(p->state.ram + r->l.offset, width, r->raw, sizeof(r->raw));
	n = strlen(r->notes);
	if (strcmp(enc, "binary") || width > 1 || none >= 0)
		snprintf(r->notes + n, sizeof(r->notes) - n, "%s%s%s", n ? "; " : "", enc,
		         width > 1 ? ", little-endian" : "");
	n = strlen(r->notes);
	if (none >= 0)
		snprintf(r->notes + n, sizeof(r->notes) - n, ", %02lX = none (-1)", none);
}

static void treasure_text(const struct gnarl_game_state *s, char *buf, size_t size)
{
	buf[0] = '\0';
	for (unsigned t = 0; t < 128; t++)
		if (gnarl_has_treasure(s, t) && strlen(buf) + 24 < size)
			snprintf(buf + strlen(buf), size - strlen(buf), "%s%02X%s", buf[0] ? " " : "",
			         t, t == GNARL_TREASURE_SWORD ? " (sword)"
			            : t == GNARL_TREASURE_GNARLED_KEY ? " (Gnarled Key)" : "");
	if (!buf[0])
		snprintf(buf, size, "none");
}

/* ------------------------------------------------------------------------ */
/* Output.                                                                  */

static const char *ended_text(const struct peek *p)
{
	if (!p->ended)
		return NULL;
	return p->done & GNARL_DONE_TERMINATED ? "terminated" : "truncated";
}

static void print_gauge(void *ctx, const char *name, double value)
{
	++*(int *)ctx;
	printf("  %-28s %.6g\n", name, value);
}

static void print_text(const struct peek *p, const struct gnarl_value *map)
{
	struct gnarl_gb_grid g = gnarl_gb_view_grid(map, &p->state);
	struct gnarl_gb_slots s = gnarl_gb_view_slots(map, &p->state);
	char tre[600], addr[32];
	struct row r;
	int treasures = 0, gauges = 0;

	if (p->check)
		printf("self-check of the RAM map passed (the env's log above says what was "
		       "checked); the start state:\n\n");
	printf("env %s (%s), seed %llu: %llu step%s, frame %llu%s%s%s\n", p->entry->desc->name,
	       p->cfg->path ? p->cfg->path : "defaults", (unsigned long long)p->seed,
	       (unsigned long long)p->steps, p->steps == 1 ? "" : "s",
	       (unsigned long long)p->state.frame, p->ended ? " (the episode " : "",
	       p->ended ? ended_text(p) : "", p->ended ? " there)" : "");
	if (!map)
		printf("(no ram_map in env.params: decoded values only)\n");
	printf("\n%-16s %8s  %-14s %-18s %s\n", "field", "value", "address", "raw bytes", "notes");
	for (size_t k = 0; k < N_FIELDS; k++) {
		describe(p, map, fields[k].name, 1, &r);
		printf("%-16s %8lld  %-14s %-18s %s\n", fields[k].name,
		       (long long)field_value(&p->state, &fields[k]), r.address, r.raw, r.notes);
	}
	for (int i = 0; i < 16; i++)
		treasures += __builtin_popcount(p->state.treasures[i]);
	describe(p, map, "treasures", 16, &r);
	treasure_text(&p->state, tre, sizeof(tre));
	printf("%-16s %8d  %-14s %s\n%-16s %8s  obtained: %s\n", "treasures", treasures,
	       r.address, r.raw, "", "", tre);
	if (g.ok) {
		gnarl_gb_view_address(&g.l, addr, sizeof(addr));
		printf("\ncollisions at %s, %ld x %ld tiles%s, %ld bytes per row (%s; raw bytes "
		       "right):\n", addr, g.width, g.height, g.sized ? " (the game's size)" : "",
		       g.stride, GNARL_GB_VIEW_LEGEND);
		for (long y = 0; y < g.height; y++) {
			char line[80], hex[200];

			gnarl_gb_view_row(&p->state, &g, &s, y, line);
			hex_bytes(p->state.ram + g.l.offset + (size_t)(y * g.stride), g.stride, hex,
			          sizeof(hex));
			printf("  %-16s %s\n", line, hex);
		}
	}
	if (s.ok) {
		int shown = 0;

		gnarl_gb_view_address(&s.l, addr, sizeof(addr));
		printf("\nenemy slots at %s, %ld slots 0x%lX bytes apart (enabled ones: +00 "
		       "enabled, +01 id, +0B y, +0D x):\n", addr, s.count, s.stride);
		for (long k = 0; k < s.count; k++) {
			const uint8_t *e = gnarl_gb_view_slot(&p->state, &s, k);

			if (!e[0])
				continue;
			printf("  slot %2ld  $%04lX  enabled %02X  id %02X  y %3d  x %3d\n", k,
			       s.l.address + k * s.stride, e[0], e[1], e[0x0B], e[0x0D]);
			shown++;
		}
		if (!shown)
			printf("  none enabled\n");
	}
	printf("\ngauges the env published:\n");
	gnarl_gauges_each(p->gauges, print_gauge, &gauges);
	if (!gauges)
		printf("  none\n");
	if (p->png)
		printf("\nlast frame written to %s\n", p->png);
	if (p->save)
		printf("state written to %s (use it as env.params.save_state)\n", p->save);
}

static void json_gauge(void *ctx, const char *name, double value)
{
	json_object_set_new(ctx, name, json_real(value));
}

static json_t *row_json(json_t *o, const struct row *r)
{
	char addr[8];

	if (r->mapped) {
		snprintf(addr, sizeof(addr), "$%04lX", r->l.address);
		json_object_set_new(o, "address", json_string(addr));
		json_object_set_new(o, "bank", json_integer(r->l.bank));
	}
	if (r->raw[0])
		json_object_set_new(o, "raw", json_string(r->raw));
	if (r->notes[0])
		json_object_set_new(o, "notes", json_string(r->notes));
	return o;
}

static int print_json(const struct peek *p, const struct gnarl_value *map)
{
	struct gnarl_gb_grid g = gnarl_gb_view_grid(map, &p->state);
	struct gnarl_gb_slots s = gnarl_gb_view_slots(map, &p->state);
	json_t *j = json_object(), *f = json_object(), *t = json_array(), *o, *a;
	char addr[32];
	struct row r;

	json_object_set_new(j, "env", json_string(p->entry->desc->name));
	json_object_set_new(j, "config", p->cfg->path ? json_string(p->cfg->path) : json_null());
	json_object_set_new(j, "seed", json_integer((json_int_t)p->seed));
	json_object_set_new(j, "steps", json_integer((json_int_t)p->steps));
	json_object_set_new(j, "frame", json_integer((json_int_t)p->state.frame));
	json_object_set_new(j, "episode_ended",
	                    p->ended ? json_string(ended_text(p)) : json_false());
	if (p->check)
		json_object_set_new(j, "self_check", json_string("passed"));
	if (p->save)
		json_object_set_new(j, "saved_state", json_string(p->save));
	for (size_t k = 0; k < N_FIELDS; k++) {
		describe(p, map, fields[k].name, 1, &r);
		o = json_object();
		json_object_set_new(o, "value", json_integer(field_value(&p->state, &fields[k])));
		json_object_set_new(f, fields[k].name, row_json(o, &r));
	}
	for (unsigned id = 0; id < 128; id++)
		if (gnarl_has_treasure(&p->state, id))
			json_array_append_new(t, json_integer(id));
	describe(p, map, "treasures", 16, &r);
	o = json_object();
	json_object_set_new(o, "value", t);
	json_object_set_new(f, "treasures", row_json(o, &r));
	json_object_set_new(j, "fields", f);
	if (g.ok) {
		gnarl_gb_view_address(&g.l, addr, sizeof(addr));
		o = json_object();
		a = json_array();
		json_object_set_new(o, "address", json_string(addr));
		json_object_set_new(o, "width", json_integer(g.width));
		json_object_set_new(o, "height", json_integer(g.height));
		json_object_set_new(o, "stride", json_integer(g.stride));
		for (long y = 0; y < g.height; y++) {
			char line[80];

			gnarl_gb_view_row(&p->state, &g, &s, y, line);
			json_array_append_new(a, json_string(line));
		}
		json_object_set_new(o, "rows", a);
		json_object_set_new(j, "collisions", o);
	}
	if (s.ok) {
		a = json_array();
		for (long k = 0; k < s.count; k++) {
			const uint8_t *e = gnarl_gb_view_slot(&p->state, &s, k);

			if (!e[0])
				continue;
			o = json_object();
			json_object_set_new(o, "slot", json_integer(k));
			json_object_set_new(o, "enabled", json_integer(e[0]));
			json_object_set_new(o, "id", json_integer(e[1]));
			json_object_set_new(o, "y", json_integer(e[0x0B]));
			json_object_set_new(o, "x", json_integer(e[0x0D]));
			json_array_append_new(a, o);
		}
		json_object_set_new(j, "enemies", a);
	}
	o = json_object();
	gnarl_gauges_each(p->gauges, json_gauge, o);
	json_object_set_new(j, "gauges", o);
	json_object_set_new(j, "png", p->png ? json_string(p->png) : json_null());
	return gnarl_cli_print_json(j);
}

/* The last frame (RGB, GNARL_FRAME_*) as a PNG. */
static int write_png(const char *path, const uint8_t *rgb)
{
	char err[GNARL_ERR_SIZE];
	int rc = gnarl_image_write_png(path, rgb, GNARL_FRAME_WIDTH, GNARL_FRAME_HEIGHT, err);

	return rc ? gnarl_cli_fail(rc, "--png: %s", err) : 0;
}

/* The env's saved state of its one env, written atomically to --save-state. */
static int save_state(const struct peek *p)
{
	char err[GNARL_ERR_SIZE], *tmp = malloc(strlen(p->save) + 16);
	size_t n;
	void *buf = NULL;
	FILE *f = NULL;
	int rc;

	if (!tmp)
		return gnarl_cli_fail(GNARL_ENOMEM, "out of memory");
	if (p->ops->size < offsetof(struct gnarl_env_ops, load_state) + sizeof(p->ops->load_state) ||
	    !p->ops->state_size || !p->ops->save_state) {
		free(tmp);
		return gnarl_cli_fail(GNARL_EUNSUPPORTED, "--save-state: env '%s' cannot save its "
		                      "state", p->entry->desc->name);
	}
	n = p->ops->state_size(p->env);
	buf = malloc(n ? n : 1);
	if (!buf || (rc = p->ops->save_state(p->env, buf, n))) {
		rc = gnarl_cli_fail(buf ? rc : GNARL_ENOMEM, "--save-state: env '%s' could not save "
		                    "its state", p->entry->desc->name);
		goto done;
	}
	snprintf(tmp, strlen(p->save) + 16, "%s.tmp%ld", p->save, (long)getpid());
	f = fopen(tmp, "wb");
	if (!f || fwrite(buf, 1, n, f) != n || fclose(f) || rename(tmp, p->save)) {
		snprintf(err, sizeof(err), "--save-state: cannot write '%s': %s", p->save,
		         strerror(errno));
		if (f)
			remove(tmp);
		rc = gnarl_cli_fail(GNARL_EIO, "%s", err);
		goto done;
	}
	rc = 0;
done:
	free(buf);
	free(tmp);
	return rc;
}

static void close_env(struct peek *p)
{
	if (p->env)
		p->ops->destroy(p->env);
	gnarl_plugin_host_free(p->host);
	gnarl_gauges_free(p->gauges);
	gnarl_registry_free(p->reg);
	gnarl_config_free(p->cfg);
	free(p->obs);
	free(p->frame);
	free(p->seq);
}

int gnarl_cmd_gb(int argc, char **argv)
{
	struct peek p = {0};
	const struct gnarl_value *map;
	int rc = parse_args(argc, argv, &p);

	if (rc)
		return rc;
	if (!(rc = open_env(&p)) && !(rc = parse_actions(&p))) {
		play(&p);
		map = gnarl_value_get(p.entry->params, "ram_map");
		if (map && map->type != GNARL_VALUE_MAP)
			map = NULL;
		if ((!p.png || !(rc = write_png(p.png, p.frame))) && (!p.save || !(rc = save_state(&p))))
			rc = p.o.json ? print_json(&p, map) : (print_text(&p, map), GNARL_EXIT_OK);
	}
	close_env(&p);
	return rc;
}
