/*
 * overworld_sim.c - the rules of the overworld env: one env, one step.
 *
 * Entry points: gnarl_overworld_sim_reset (start an episode from a seed),
 * gnarl_overworld_sim_step (apply one action; returns enum gnarl_done).
 *
 * Order within a step: the invulnerability timer ticks; while a text box
 * is open the world is frozen and the action ignored; otherwise Link acts
 * (move, A: talk / pick up, B: swing the sword), enemies wander, touching
 * an enemy costs `enemy_damage` quarter hearts unless invulnerable, Link
 * picks up what lies on his tile.  Health 0 terminates the episode (one
 * death); `max_steps` truncates it.  Invariants: the step never allocates
 * and draws randomness only from the env's own seeded state, so a seed and
 * an action sequence give one trajectory; the RAM image is updated here
 * (room-level parts on room change, the rest once per step).
 */
#include <string.h>

#include "overworld.h"

static bool in_room(int x, int y)
{
	return x >= 0 && y >= 0 && x < OW_COLS && y < OW_ROWS;
}

static void give_treasure(struct ow_env *e, unsigned id)
{
	e->treasures[id / 8] |= (uint8_t)(1u << (id % 8));
}

/* Load room `room`'s template as the live room, with Link at (x, y). */
static void enter_room(const struct ow_world *w, struct ow_env *e, int room, int x, int y,
                       int dir)
{
	const struct ow_room *r = &w->rooms[room];

	e->room = room;
	e->tx = x;
	e->ty = y;
	e->dir = dir;
	memcpy(e->tiles, r->tiles, OW_TILES);
	/* Bushes regrow on re-entry, as in the real game; never under Link. */
	if (e->tiles[y * OW_COLS + x] == OW_BUSH)
		e->tiles[y * OW_COLS + x] = OW_FLOOR;
	memset(e->items, 0, sizeof(e->items));
	if (r->item && !e->taken[room]) {
		e->items[0].tx = r->item_tx;
		e->items[0].ty = r->item_ty;
		e->items[0].kind = r->item;
	}
	e->n_enemies = 0;
	for (int k = 0; k < r->n_spawns; k++) {
		struct ow_enemy *m;
		int dx = r->spawn_tx[k] - x, dy = r->spawn_ty[k] - y;
		if (!w->p.enemies_respawn && (e->kill_mask[room] >> k) & 1u)
			continue;
		/* Arriving next to an enemy would be an unavoidable hit. */
		if ((dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy) <= 1)
			continue;
		m = &e->enemies[e->n_enemies++];
		m->tx = r->spawn_tx[k];
		m->ty = r->spawn_ty[k];
		m->hp = (uint8_t)w->p.enemy_hp;
		m->alive = 1;
		m->spawn = (uint8_t)k;
	}
	if (!e->visited[room]) {
		e->visited[room] = 1;
		e->n_visited++;
	}
	gnarl_overworld_obs_ram_room(w, e);
}

void gnarl_overworld_sim_reset(const struct ow_world *w, struct ow_env *e, uint64_t seed)
{
	uint64_t s = seed ^ 0x6f766572776f726cull;
	int n = w->n_rooms;

	e->rng = ow_rand(&s);
	e->max_health = e->health = 4 * w->p.start_hearts;
	e->rupees = e->sword = e->killed = e->deaths = 0;
	e->invuln = e->text = e->steps = 0;
	e->swing = 0;
	e->n_visited = 0;
	e->done = 0;
	memset(e->treasures, 0, sizeof(e->treasures));
	memset(e->visited, 0, (size_t)n);
	memset(e->kill_mask, 0, (size_t)n);
	memset(e->taken, 0, (size_t)n);
	memset(e->ram, 0, OW_RAM_SIZE);
	enter_room(w, e, w->start_room, w->start_tx, w->start_ty, GNARL_DIR_DOWN);
	gnarl_overworld_obs_ram_step(w, e);
}

static struct ow_enemy *enemy_at(struct ow_env *e, int x, int y)
{
	for (int i = 0; i < e->n_enemies; i++)
		if (e->enemies[i].alive && e->enemies[i].tx == x && e->enemies[i].ty == y)
			return &e->enemies[i];
	return NULL;
}

static void drop(struct ow_env *e, const struct ow_params *p, int x, int y, double prob)
{
	if (ow_rand_unit(&e->rng) >= prob)
		return;
	uint8_t kind = ow_rand_unit(&e->rng) < p->heart_drop_share ? OW_ITEM_HEART : OW_ITEM_RUPEE;
	for (int i = 0; i < OW_MAX_ITEMS; i++)
		if (e->items[i].kind && e->items[i].tx == x && e->items[i].ty == y)
			return;
	for (int i = 0; i < OW_MAX_ITEMS; i++) {
		if (!e->items[i].kind) {
			e->items[i].tx = (uint8_t)x;
			e->items[i].ty = (uint8_t)y;
			e->items[i].kind = kind;
			return;
		}
	}
}

/* Take the item at (x, y), if any. */
static void pick_up(const struct ow_world *w, struct ow_env *e, int x, int y)
{
	for (int i = 0; i < OW_MAX_ITEMS; i++) {
		struct ow_loose *it = &e->items[i];
		if (!it->kind || it->tx != x || it->ty != y)
			continue;
		switch (it->kind) {
		case OW_ITEM_HEART:
			e->health = e->health + 4 < e->max_health ? e->health + 4 : e->max_health;
			break;
		case OW_ITEM_RUPEE:
			e->rupees = e->rupees < 999 ? e->rupees + 1 : 999;
			break;
		case OW_ITEM_RUPEES:
			e->rupees = e->rupees + w->p.rupee_pile < 999 ? e->rupees + w->p.rupee_pile : 999;
			e->taken[e->room] = 1;
			break;
		case OW_ITEM_SWORD:
			e->sword = 1;
			give_treasure(e, GNARL_TREASURE_SWORD);
			e->taken[e->room] = 1;
			break;
		}
		it->kind = OW_ITEM_NONE;
	}
}

static void move(const struct ow_world *w, struct ow_env *e, int dir)
{
	const struct ow_room *r = &w->rooms[e->room];
	int nx = e->tx + ow_dx[dir], ny = e->ty + ow_dy[dir], t;

	e->dir = dir;
	if (!in_room(nx, ny)) {
		if (r->exit[dir] >= 0)
			enter_room(w, e, r->exit[dir], (nx + OW_COLS) % OW_COLS, (ny + OW_ROWS) % OW_ROWS,
			           dir);
		return;
	}
	t = e->tiles[ny * OW_COLS + nx];
	if (t == OW_FLOOR) {
		e->tx = nx;
		e->ty = ny;
	} else if (t == OW_DOOR || (t == OW_LOCKED && ow_has_key(e))) {
		for (int i = 0; i < r->n_doors; i++) {
			const struct ow_door *d = &r->doors[i];
			if (d->tx == nx && d->ty == ny) {
				enter_room(w, e, d->to_room, d->to_tx, d->to_ty, d->to_dir);
				return;
			}
		}
	}
}

/* A: talk to the Maku Tree (which gives the Gnarled Key) or pick up the
 * item in front. */
static void press_a(const struct ow_world *w, struct ow_env *e)
{
	int fx = e->tx + ow_dx[e->dir], fy = e->ty + ow_dy[e->dir];

	if (!in_room(fx, fy))
		return;
	if (e->tiles[fy * OW_COLS + fx] == OW_MAKU) {
		e->text = w->p.talk_steps;
		give_treasure(e, GNARL_TREASURE_GNARLED_KEY);
		return;
	}
	pick_up(w, e, fx, fy);
}

/* B: with the sword, hit the enemy in front or cut the bush in front. */
static void press_b(const struct ow_world *w, struct ow_env *e)
{
	const struct ow_params *p = &w->p;
	int fx = e->tx + ow_dx[e->dir], fy = e->ty + ow_dy[e->dir];
	struct ow_enemy *m;

	if (!e->sword || !in_room(fx, fy))
		return;
	e->swing = 1;
	m = enemy_at(e, fx, fy);
	if (m) {
		if (--m->hp == 0) {
			m->alive = 0;
			e->killed++;
			e->kill_mask[e->room] |= (uint8_t)(1u << m->spawn);
			drop(e, p, fx, fy, p->drop_prob);
		}
	} else if (e->tiles[fy * OW_COLS + fx] == OW_BUSH) {
		e->tiles[fy * OW_COLS + fx] = OW_FLOOR;
		gnarl_overworld_obs_ram_tile(e, fx, fy);
		drop(e, p, fx, fy, p->bush_drop_prob);
	}
}

static void wander(const struct ow_world *w, struct ow_env *e)
{
	for (int i = 0; i < e->n_enemies; i++) {
		struct ow_enemy *m = &e->enemies[i];
		int d, nx, ny;
		if (!m->alive || ow_rand_unit(&e->rng) >= w->p.enemy_move_prob)
			continue;
		d = (int)(ow_rand(&e->rng) & 3);
		nx = m->tx + ow_dx[d];
		ny = m->ty + ow_dy[d];
		if (in_room(nx, ny) && e->tiles[ny * OW_COLS + nx] == OW_FLOOR && !enemy_at(e, nx, ny)) {
			m->tx = (uint8_t)nx;
			m->ty = (uint8_t)ny;
		}
	}
}

uint8_t gnarl_overworld_sim_step(const struct ow_world *w, struct ow_env *e, int action)
{
	uint8_t done = 0;

	e->swing = 0;
	if (e->invuln > 0)
		e->invuln--;
	if (e->text > 0) {
		e->text--;
	} else {
		int room = e->room;
		switch (action) {
		case OW_UP:
			move(w, e, GNARL_DIR_UP);
			break;
		case OW_DOWN:
			move(w, e, GNARL_DIR_DOWN);
			break;
		case OW_LEFT:
			move(w, e, GNARL_DIR_LEFT);
			break;
		case OW_RIGHT:
			move(w, e, GNARL_DIR_RIGHT);
			break;
		case OW_A:
			press_a(w, e);
			break;
		case OW_B:
			press_b(w, e);
			break;
		default:
			break;
		}
		if (e->room == room)
			wander(w, e);
		if (e->invuln == 0 && enemy_at(e, e->tx, e->ty)) {
			e->health -= w->p.enemy_damage;
			e->invuln = w->p.invuln_steps;
		}
		pick_up(w, e, e->tx, e->ty);
	}
	e->steps++;
	if (e->health <= 0) {
		e->health = 0;
		e->deaths++;
		done = GNARL_DONE_TERMINATED;
	} else if (e->steps >= w->p.max_steps) {
		done = GNARL_DONE_TRUNCATED;
	}
	e->done = done;
	gnarl_overworld_obs_ram_step(w, e);
	return done;
}
