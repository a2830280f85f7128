/*
 * overworld.c - the built-in Zelda-like env plugin ("overworld"): its
 * descriptor, declared parameters and the env ops of gnarl/plugin.h.
 *
 * Entry point: gnarl_plugin_entry.  `create` reads the parameters,
 * generates one world shared read-only by all envs (overworld_gen.c) and
 * allocates every env's state in one slab; `reset` and `step` run the
 * rules (overworld_sim.c) and write straight into the host's arrays
 * (overworld_obs.c, overworld_render.c); state_size/save_state/load_state
 * carry the running episodes through checkpoints, and save_env_state/
 * load_env_state one env's (the archive of start states), both as the
 * records of overworld_state.c.
 * Invariants: reset and step never allocate or fail; a call for envs
 * [first, first+count) touches only their slab blocks and rows, so
 * disjoint ranges may run concurrently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overworld.h"

#define OW_ALIGN 64

struct overworld {
	const struct gnarl_host *host;
	struct ow_world *world;
	uint32_t n_envs, obs_dim;
	uint64_t fingerprint;  /* of the world (overworld_state.c) */
	size_t block;          /* bytes per env in the slab */
	uint8_t *slab;         /* n_envs blocks: struct ow_env, per-room arrays, RAM */
};

static const char *const action_names[OW_N_ACTIONS] = {
	"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B",
};

#define P_INT(name, def, lo, hi, help)                                                     \
	{name, GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, def, lo, hi, help, \
	 NULL}
#define P_FLOAT(name, def, lo, hi, help)                                                     \
	{name, GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, def, lo, hi, help, \
	 NULL}

static const struct gnarl_param params[] = {
	P_INT("world_seed", "1", 0, 9007199254740991.0,
	      "seed of the generated world (all envs share one world)"),
	P_INT("width", "8", 2, OW_MAX_GRID, "overworld width in screens"),
	P_INT("height", "8", 2, OW_MAX_GRID, "overworld height in screens"),
	P_INT("max_steps", "2048", 1, 100000000, "steps before an episode is truncated"),
	P_FLOAT("extra_exits", "0.25", 0, 1,
	        "chance that a screen edge off the maze's spanning tree is open too (loops)"),
	P_FLOAT("obstacle_density", "0.18", 0, 0.6,
	        "share of a screen's inner tiles that are trees, rocks or water"),
	P_FLOAT("water_share", "0.3", 0, 1, "share of obstacles that are water"),
	P_FLOAT("bush_density", "0.06", 0, 0.4, "share of a screen's inner tiles that are bushes"),
	P_FLOAT("enemies_per_screen", "1.0", 0, OW_MAX_ENEMIES,
	        "mean enemies per overworld screen (the start screen has none)"),
	P_FLOAT("dungeon_enemies", "2.0", 0, OW_MAX_ENEMIES, "mean enemies per dungeon room"),
	P_FLOAT("enemy_move_prob", "0.5", 0, 1, "chance an enemy steps to a random neighbour tile"),
	P_INT("enemy_hp", "1", 1, 8, "sword hits an enemy takes"),
	P_INT("enemy_damage", "2", 1, 80, "quarter hearts lost on touching an enemy"),
	P_INT("invuln_steps", "8", 0, 1000, "steps of invulnerability after a hit"),
	P_INT("start_hearts", "3", 1, 20, "hearts (4 quarters each) at the start"),
	P_FLOAT("drop_prob", "0.35", 0, 1, "chance a killed enemy drops a heart or a rupee"),
	P_FLOAT("bush_drop_prob", "0.1", 0, 1, "chance a cut bush drops a heart or a rupee"),
	P_FLOAT("heart_drop_share", "0.5", 0, 1, "share of drops that are hearts (else rupees)"),
	P_INT("rupee_pile", "5", 0, 999, "rupees in a cave's or the dungeon's rupee pile"),
	P_INT("sword_distance", "1", 0, 30,
	      "screens between the start and the sword's cave (0: on the start screen)"),
	P_INT("maku_distance", "3", 1, 30, "screens between the start and the Maku Tree's gate"),
	P_INT("dungeon_distance", "5", 1, 30,
	      "screens between the start and the dungeon entrance"),
	P_INT("dungeon_rooms", "5", 2, OW_MAX_DUNGEON_ROOMS, "rooms of the dungeon (group 4)"),
	P_INT("caves", "3", 0, OW_MAX_CAVES, "caves with a rupee pile, besides the sword's"),
	P_INT("talk_steps", "3", 1, 100, "steps the Maku Tree's text box stays open"),
	P_INT("view_radius", "2", 1, 4,
	      "radius of the tile window in the observation ((2r+1)^2 cells x 7 channels)"),
	{"enemies_respawn", GNARL_PARAM_BOOL, 0, 0, "false", 0, 0,
	 "killed enemies come back when Link re-enters their room (else once per episode)", NULL},
	{"export_map", GNARL_PARAM_BOOL, 0, 0, "false", 0, 0,
	 "store the generated world as world.json in the run directory (rooms, exits, tiles, "
	 "doors, items: for tools that plan on the map)", NULL},
	GNARL_PARAMS_END,
};

/* A parameter's validated value from the host, else its declared default
 * (so every number is written once, in the table above). */
static double num(const struct gnarl_host *h, const char *name)
{
	const struct gnarl_value *v = h->param(h, name);

	if (v && v->type == GNARL_VALUE_INT)
		return (double)v->as.i;
	if (v && v->type == GNARL_VALUE_FLOAT)
		return v->as.f;
	if (v && v->type == GNARL_VALUE_BOOL)
		return v->as.b;
	for (const struct gnarl_param *p = params; p->name; p++)
		if (!strcmp(p->name, name))
			return strcmp(p->default_yaml, "true") ? strtod(p->default_yaml, NULL) : 1.0;
	return 0.0;
}

static void read_params(const struct gnarl_host *h, struct ow_params *p)
{
	const struct gnarl_value *seed = h->param(h, "world_seed");

	p->world_seed = seed && seed->type == GNARL_VALUE_INT ? (uint64_t)seed->as.i
	                                                      : (uint64_t)num(h, "world_seed");
	p->width = (int)num(h, "width");
	p->height = (int)num(h, "height");
	p->max_steps = (int)num(h, "max_steps");
	p->extra_exits = num(h, "extra_exits");
	p->obstacle_density = num(h, "obstacle_density");
	p->water_share = num(h, "water_share");
	p->bush_density = num(h, "bush_density");
	p->enemies_per_screen = num(h, "enemies_per_screen");
	p->dungeon_enemies = num(h, "dungeon_enemies");
	p->enemy_move_prob = num(h, "enemy_move_prob");
	p->enemy_hp = (int)num(h, "enemy_hp");
	p->enemy_damage = (int)num(h, "enemy_damage");
	p->invuln_steps = (int)num(h, "invuln_steps");
	p->start_hearts = (int)num(h, "start_hearts");
	p->drop_prob = num(h, "drop_prob");
	p->bush_drop_prob = num(h, "bush_drop_prob");
	p->heart_drop_share = num(h, "heart_drop_share");
	p->rupee_pile = (int)num(h, "rupee_pile");
	p->sword_distance = (int)num(h, "sword_distance");
	p->maku_distance = (int)num(h, "maku_distance");
	p->dungeon_distance = (int)num(h, "dungeon_distance");
	p->dungeon_rooms = (int)num(h, "dungeon_rooms");
	p->caves = (int)num(h, "caves");
	p->talk_steps = (int)num(h, "talk_steps");
	p->view_radius = (int)num(h, "view_radius");
	p->enemies_respawn = num(h, "enemies_respawn") != 0.0;
	p->export_map = num(h, "export_map") != 0.0;
}

static size_t round_up(size_t n)
{
	return (n + OW_ALIGN - 1) / OW_ALIGN * OW_ALIGN;
}

static struct ow_env *env_at(const struct overworld *ow, uint32_t i)
{
	return (struct ow_env *)(void *)(ow->slab + ow->block * i);
}

static void destroy(void *self)
{
	struct overworld *ow = self;

	if (!ow)
		return;
	free(ow->slab);
	free(ow->world);
	free(ow);
}

/* world.json in the run directory; a failure costs a warning (the env
 * plays the same without it). */
static void export_map(const struct gnarl_host *host, const struct ow_world *w)
{
	char why[GNARL_ERR_SIZE] = "out of memory";
	char *json;
	size_t len;

	if (gnarl_overworld_map_json(w, &json, &len) == 0 &&
	    host->run_put(host, "world.json", json, len, why) == 0) {
		free(json);
		return;
	}
	free(json);
	if (host->log)
		host->log(host, GNARL_LOG_WARN, "export_map: world.json not stored: %s", why);
}

static void *create(const struct gnarl_host *host, uint32_t n_envs, char err[GNARL_ERR_SIZE])
{
	struct overworld *ow = calloc(1, sizeof(*ow));
	struct ow_params p;
	size_t per_room;

	if (!ow) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: out of memory");
		return NULL;
	}
	ow->host = host;
	ow->n_envs = n_envs;
	read_params(host, &p);
	ow->world = malloc(sizeof(*ow->world));
	if (!ow->world) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: out of memory for the world");
		goto fail;
	}
	if (gnarl_overworld_gen_world(&p, ow->world, err) < 0)
		goto fail;
	ow->obs_dim = gnarl_overworld_obs_dim(&p);
	ow->fingerprint = gnarl_overworld_state_fingerprint(ow->world);
	/* Per env: the struct, visited / kill_mask / taken, the RAM image. */
	per_room = round_up(3 * (size_t)ow->world->n_rooms);
	ow->block = round_up(sizeof(struct ow_env)) + per_room + OW_RAM_SIZE;
	ow->slab = aligned_alloc(OW_ALIGN, ow->block * (n_envs ? n_envs : 1));
	if (!ow->slab) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: out of memory for %u envs (%zu bytes each)",
		         n_envs, ow->block);
		goto fail;
	}
	memset(ow->slab, 0, ow->block * (n_envs ? n_envs : 1));
	for (uint32_t i = 0; i < n_envs; i++) {
		struct ow_env *e = env_at(ow, i);
		uint8_t *rooms = (uint8_t *)e + round_up(sizeof(*e));
		e->visited = rooms;
		e->kill_mask = rooms + ow->world->n_rooms;
		e->taken = rooms + 2 * ow->world->n_rooms;
		e->ram = rooms + per_room;
		gnarl_overworld_sim_reset(ow->world, e, host->seed + i);
	}
	if (p.export_map && host->rank == 0)
		export_map(host, ow->world);
	if (host->log)
		host->log(host, GNARL_LOG_DEBUG,
		          "world %llu: %d x %d screens, %d rooms, start screen %d, sword cave on "
		          "screen %d, Maku Tree gate on %d, dungeon on %d (attempt %d)",
		          (unsigned long long)p.world_seed, p.width, p.height, ow->world->n_rooms,
		          ow->world->start_room, ow->world->sword_screen, ow->world->maku_screen,
		          ow->world->dungeon_screen, ow->world->attempts);
	return ow;
fail:
	destroy(ow);
	return NULL;
}

static void spaces(void *self, struct gnarl_env_spaces *out)
{
	const struct overworld *ow = self;

	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->obs_dim = ow->obs_dim;
	out->n_actions = OW_N_ACTIONS;
	out->action_names = action_names;
	out->has_frames = true;
	out->has_game_state = true;
}

static void write_outputs(const struct overworld *ow, const struct gnarl_env_io *io, uint32_t i)
{
	const struct ow_env *e = env_at(ow, i);

	if (io->obs)
		gnarl_overworld_obs_write(ow->world, e, io->obs + (size_t)i * io->obs_stride);
	if (io->states)
		gnarl_overworld_obs_state(ow->world, e, &io->states[i]);
	if (io->want_frame && io->frames && io->want_frame[i])
		gnarl_overworld_render_frame(ow->world, e, io->frames + (size_t)i * GNARL_FRAME_BYTES);
}

static void reset(void *self, const struct gnarl_env_io *io, uint32_t index, uint64_t seed)
{
	struct overworld *ow = self;

	if (index >= ow->n_envs)
		return;
	gnarl_overworld_sim_reset(ow->world, env_at(ow, index), seed);
	write_outputs(ow, io, index);
}

static void step(void *self, const struct gnarl_env_io *io, uint32_t first, uint32_t count)
{
	struct overworld *ow = self;

	for (uint32_t i = first; i < first + count && i < ow->n_envs; i++) {
		uint8_t done = gnarl_overworld_sim_step(ow->world, env_at(ow, i), io->actions[i]);
		if (io->rewards)
			io->rewards[i] = 0.0f;
		if (io->dones)
			io->dones[i] = done;
		write_outputs(ow, io, i);
	}
}

/* ---- checkpoints: header, then one record per env (overworld_state.c) --- */

#define STATE_MAGIC 0x3153574fu   /* "OWS1" */
#define STATE_FORMAT 1u
#define STATE_HEADER 28           /* magic, format, n_envs, n_rooms, record size
                                     (u32 each), world fingerprint (u64) */

static size_t state_size(void *self)
{
	const struct overworld *ow = self;

	return STATE_HEADER + ow->n_envs * gnarl_overworld_state_env_bytes(ow->world);
}

static int save_state(void *self, void *buf, size_t size)
{
	const struct overworld *ow = self;
	const size_t rec = gnarl_overworld_state_env_bytes(ow->world);
	uint64_t fp = ow->fingerprint;
	uint8_t *p = buf;

	if (size != state_size(self))
		return GNARL_EINVAL;
	gnarl_put_u32(p, STATE_MAGIC);
	gnarl_put_u32(p + 4, STATE_FORMAT);
	gnarl_put_u32(p + 8, ow->n_envs);
	gnarl_put_u32(p + 12, (uint32_t)ow->world->n_rooms);
	gnarl_put_u32(p + 16, (uint32_t)rec);
	gnarl_put_u32(p + 20, (uint32_t)fp);
	gnarl_put_u32(p + 24, (uint32_t)(fp >> 32));
	for (uint32_t i = 0; i < ow->n_envs; i++)
		gnarl_overworld_state_save_env(ow->world, env_at(ow, i), p + STATE_HEADER + i * rec);
	return 0;
}

/* Is buf a state this instance can load?  0, or an error naming why. */
static int check_state(const struct overworld *ow, const uint8_t *p, size_t size,
                       char err[GNARL_ERR_SIZE])
{
	const size_t rec = gnarl_overworld_state_env_bytes(ow->world);
	uint64_t fp = ow->fingerprint;

	if (size < STATE_HEADER || gnarl_get_u32(p) != STATE_MAGIC) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: the saved env state (%zu bytes) is not an "
		         "overworld state", size);
		return GNARL_ECORRUPT;
	}
	if (gnarl_get_u32(p + 4) != STATE_FORMAT) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: saved env state format %u; this plugin "
		         "reads format %u (start the envs fresh)", gnarl_get_u32(p + 4), STATE_FORMAT);
		return GNARL_EVERSION;
	}
	if (gnarl_get_u32(p + 8) != ow->n_envs || gnarl_get_u32(p + 16) != rec ||
	    gnarl_get_u32(p + 20) != (uint32_t)fp || gnarl_get_u32(p + 24) != (uint32_t)(fp >> 32)) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: the saved env state is of %u envs in "
		         "another world (%u rooms); this instance has %u envs and %d rooms: same "
		         "num_envs and world params (world_seed, width, height, ...) are needed to "
		         "continue its episodes", gnarl_get_u32(p + 8), gnarl_get_u32(p + 12), ow->n_envs,
		         ow->world->n_rooms);
		return GNARL_EINCOMPAT;
	}
	if (size != state_size((void *)ow)) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: the saved env state has %zu bytes, %zu "
		         "expected (truncated?)", size, state_size((void *)ow));
		return GNARL_ECORRUPT;
	}
	for (uint32_t i = 0; i < ow->n_envs; i++)
		if (!gnarl_overworld_state_check_env(ow->world, p + STATE_HEADER + i * rec, i, err))
			return GNARL_ECORRUPT;
	return 0;
}

static int load_state(void *self, const struct gnarl_env_io *io, const void *buf, size_t size,
                      char err[GNARL_ERR_SIZE])
{
	struct overworld *ow = self;
	const size_t rec = gnarl_overworld_state_env_bytes(ow->world);
	const uint8_t *p = buf;
	int rc = check_state(ow, p, size, err);

	if (rc)
		return rc;
	for (uint32_t i = 0; i < ow->n_envs; i++) {
		gnarl_overworld_state_load_env(ow->world, env_at(ow, i), p + STATE_HEADER + i * rec);
		write_outputs(ow, io, i);
	}
	return 0;
}

/* ---- one env's state: a header, then its record ------------------------- */

#define ENV_MAGIC 0x3145574fu     /* "OWE1" */
#define ENV_HEADER 16             /* magic, record size (u32 each), world
                                     fingerprint (u64) */

static size_t env_state_size(void *self)
{
	const struct overworld *ow = self;

	return ENV_HEADER + gnarl_overworld_state_env_bytes(ow->world);
}

static int save_env_state(void *self, uint32_t index, void *buf, size_t size)
{
	const struct overworld *ow = self;
	uint8_t *p = buf;

	if (index >= ow->n_envs || size != env_state_size(self))
		return GNARL_EINVAL;
	gnarl_put_u32(p, ENV_MAGIC);
	gnarl_put_u32(p + 4, (uint32_t)(size - ENV_HEADER));
	gnarl_put_u64(p + 8, ow->fingerprint);
	gnarl_overworld_state_save_env(ow->world, env_at(ow, index), p + ENV_HEADER);
	return 0;
}

static int load_env_state(void *self, const struct gnarl_env_io *io, uint32_t index,
                          const void *buf, size_t size, char err[GNARL_ERR_SIZE])
{
	struct overworld *ow = self;
	const uint8_t *p = buf;

	if (index >= ow->n_envs) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: env %u of %u", index, ow->n_envs);
		return GNARL_EINVAL;
	}
	if (size < ENV_HEADER || gnarl_get_u32(p) != ENV_MAGIC) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: a %zu-byte env state that is not an "
		         "overworld env's (no OWE1 header)", size);
		return GNARL_ECORRUPT;
	}
	if (gnarl_get_u64(p + 8) != ow->fingerprint || size != env_state_size(self) ||
	    gnarl_get_u32(p + 4) != size - ENV_HEADER) {
		snprintf(err, GNARL_ERR_SIZE, "overworld: the env state (%zu bytes) is from "
		         "another world than this one (%d rooms, world_seed %llu): same world "
		         "params (world_seed, width, height, ...) are needed", size,
		         ow->world->n_rooms, (unsigned long long)ow->world->p.world_seed);
		return GNARL_EINCOMPAT;
	}
	if (!gnarl_overworld_state_check_env(ow->world, p + ENV_HEADER, index, err))
		return GNARL_ECORRUPT;
	gnarl_overworld_state_load_env(ow->world, env_at(ow, index), p + ENV_HEADER);
	write_outputs(ow, io, index);
	return 0;
}

static const struct gnarl_env_ops ops = {
	.size = sizeof(struct gnarl_env_ops),
	.create = create,
	.destroy = destroy,
	.spaces = spaces,
	.reset = reset,
	.step = step,
	.state_size = state_size,
	.save_state = save_state,
	.load_state = load_state,
	.env_state_size = env_state_size,
	.save_env_state = save_env_state,
	.load_env_state = load_env_state,
};

static const struct gnarl_plugin descriptor = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_ENV,
	.name = "overworld",
	.version = "1.1.0",
	.summary = "procedural Zelda-like overworld: sword, Maku Tree, Gnarled Key, dungeon",
	.params = params,
	.ops.env = &ops,
};

GNARL_PLUGIN_ENTRY(&descriptor)
