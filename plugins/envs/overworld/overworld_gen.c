/*
 * overworld_gen.c - builds the overworld env's world from `world_seed` and
 * proves it can be finished.
 *
 * Entry points: gnarl_overworld_gen_world (generate, regenerating with a
 * derived seed until the world is solvable), gnarl_overworld_gen_solvable
 * (breadth-first search over every tile Link can stand on).
 *
 * The world: a W x H maze of overworld screens (a random spanning tree of
 * screen edges plus a share of extra edges, so every screen is reachable),
 * bordered by trees or rocks with 2-tile openings in the middle of each open
 * edge; one door per special screen, cut into the top border: the sword's
 * cave (a few screens from the start), the Maku Tree's gate (guarded by a
 * bush only the sword cuts), the locked dungeon entrance (opened by the
 * Gnarled Key) and plain caves with rupees.  Invariants: within every room
 * all openings, door fronts and items are connected without cutting a bush;
 * the same seed always gives the same world.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overworld.h"

#define OW_GEN_ATTEMPTS 16
#define OW_LAYOUT_TRIES 32
#define OW_MAX_KEYS 16

/* Cells the layout must keep connected and obstacle-free. */
struct keys {
	int n;
	uint8_t x[OW_MAX_KEYS], y[OW_MAX_KEYS];
};

static void key_add(struct keys *k, int x, int y)
{
	if (k->n < OW_MAX_KEYS) {
		k->x[k->n] = (uint8_t)x;
		k->y[k->n] = (uint8_t)y;
		k->n++;
	}
}

static bool key_near(const struct keys *k, int x, int y, int dist)
{
	for (int i = 0; i < k->n; i++)
		if (abs(k->x[i] - x) + abs(k->y[i] - y) <= dist)
			return true;
	return false;
}

/* Are all key cells connected over FLOOR tiles (bushes count as solid)? */
static bool keys_connected(const uint8_t *tiles, const struct keys *k)
{
	uint8_t seen[OW_TILES] = {0};
	uint8_t queue[OW_TILES];
	int head = 0, tail = 0;

	if (k->n == 0)
		return true;
	queue[tail++] = (uint8_t)(k->y[0] * OW_COLS + k->x[0]);
	seen[queue[0]] = 1;
	while (head < tail) {
		int c = queue[head++], x = c % OW_COLS, y = c / OW_COLS;
		for (int d = 0; d < 4; d++) {
			int nx = x + ow_dx[d], ny = y + ow_dy[d], n = ny * OW_COLS + nx;
			if (nx < 0 || ny < 0 || nx >= OW_COLS || ny >= OW_ROWS || seen[n] ||
			    tiles[n] != OW_FLOOR)
				continue;
			seen[n] = 1;
			queue[tail++] = (uint8_t)n;
		}
	}
	for (int i = 0; i < k->n; i++)
		if (!seen[k->y[i] * OW_COLS + k->x[i]])
			return false;
	return true;
}

static void set_tile(struct ow_room *r, int x, int y, uint8_t t)
{
	r->tiles[y * OW_COLS + x] = t;
}

/* Border of `solid` with openings where exits are open; their tiles and
 * the ones just inside become key cells. */
static void lay_border(struct ow_room *r, uint8_t solid, struct keys *k)
{
	for (int y = 0; y < OW_ROWS; y++)
		for (int x = 0; x < OW_COLS; x++)
			if (x == 0 || y == 0 || x == OW_COLS - 1 || y == OW_ROWS - 1)
				set_tile(r, x, y, solid);
	for (int d = 0; d < 4; d++) {
		if (r->exit[d] < 0)
			continue;
		for (int j = 0; j < 2; j++) {
			int x, y, ix, iy;
			if (d == GNARL_DIR_UP || d == GNARL_DIR_DOWN) {
				x = ix = 4 + j;
				y = d == GNARL_DIR_UP ? 0 : OW_ROWS - 1;
				iy = d == GNARL_DIR_UP ? 1 : OW_ROWS - 2;
			} else {
				y = iy = 3 + j;
				x = d == GNARL_DIR_LEFT ? 0 : OW_COLS - 1;
				ix = d == GNARL_DIR_LEFT ? 1 : OW_COLS - 2;
			}
			set_tile(r, x, y, OW_FLOOR);
			key_add(k, x, y);
			key_add(k, ix, iy);
		}
	}
}

/* Scatter obstacles over the interior until the key cells connect; after
 * OW_LAYOUT_TRIES failures the interior stays bare (always connected). */
static void lay_interior(struct ow_room *r, const struct keys *k, const uint8_t *fixed,
                         double obstacles, double water_share, double bushes, uint8_t solid,
                         uint64_t *rng)
{
	uint8_t saved[OW_TILES];

	memcpy(saved, r->tiles, sizeof(saved));
	for (int attempt = 0; attempt <= OW_LAYOUT_TRIES; attempt++) {
		memcpy(r->tiles, saved, sizeof(saved));
		for (int y = 1; y < OW_ROWS - 1; y++) {
			for (int x = 1; x < OW_COLS - 1; x++) {
				int c = y * OW_COLS + x;
				double u = ow_rand_unit(rng);
				if (fixed[c] || key_near(k, x, y, 0) || attempt == OW_LAYOUT_TRIES)
					continue;
				if (u < obstacles)
					r->tiles[c] = ow_rand_unit(rng) < water_share ? OW_WATER : solid;
				else if (u < obstacles + bushes)
					r->tiles[c] = OW_BUSH;
			}
		}
		if (keys_connected(r->tiles, k))
			return;
	}
}

/* Pick up to `want` enemy spawn cells on floor away from the key cells. */
static void place_spawns(struct ow_room *r, const struct keys *k, double per_room,
                         uint64_t *rng)
{
	int want = (int)per_room;

	if (ow_rand_unit(rng) < per_room - want)
		want++;
	if (want > OW_MAX_ENEMIES)
		want = OW_MAX_ENEMIES;
	r->n_spawns = 0;
	for (int tries = 0; tries < 64 && r->n_spawns < want; tries++) {
		int x = 1 + ow_rand_below(rng, OW_COLS - 2), y = 1 + ow_rand_below(rng, OW_ROWS - 2);
		bool taken = false;
		if (r->tiles[y * OW_COLS + x] != OW_FLOOR || key_near(k, x, y, 1) ||
		    (r->item && abs(x - r->item_tx) + abs(y - r->item_ty) <= 1))
			continue;
		for (int i = 0; i < r->n_spawns; i++)
			taken |= r->spawn_tx[i] == x && r->spawn_ty[i] == y;
		if (taken)
			continue;
		r->spawn_tx[r->n_spawns] = (uint8_t)x;
		r->spawn_ty[r->n_spawns] = (uint8_t)y;
		r->n_spawns++;
	}
}

static void add_door(struct ow_room *r, int x, int y, int to_room, int to_x, int to_y, int dir)
{
	struct ow_door *d = &r->doors[r->n_doors++];

	d->tx = (uint8_t)x;
	d->ty = (uint8_t)y;
	d->to_room = (int16_t)to_room;
	d->to_tx = (uint8_t)to_x;
	d->to_ty = (uint8_t)to_y;
	d->to_dir = (uint8_t)dir;
}

static int find_set(int *parent, int i)
{
	while (parent[i] != i)
		i = parent[i] = parent[parent[i]];
	return i;
}

/* A random spanning tree of the screen grid, then extra edges. */
static void carve_maze(struct ow_world *w, uint64_t *rng)
{
	const struct ow_params *p = &w->p;
	int n = p->width * p->height, n_edges = 0;
	int parent[OW_MAX_GRID * OW_MAX_GRID];
	int edges[2 * OW_MAX_GRID * OW_MAX_GRID];

	for (int i = 0; i < n; i++)
		parent[i] = i;
	for (int i = 0; i < n; i++) {
		if (i % p->width + 1 < p->width)
			edges[n_edges++] = i * 2;          /* to the right */
		if (i / p->width + 1 < p->height)
			edges[n_edges++] = i * 2 + 1;      /* downwards */
	}
	for (int i = n_edges - 1; i > 0; i--) {
		int j = ow_rand_below(rng, i + 1), t = edges[i];
		edges[i] = edges[j];
		edges[j] = t;
	}
	for (int i = 0; i < n_edges; i++) {
		int a = edges[i] / 2, right = !(edges[i] & 1);
		int b = right ? a + 1 : a + p->width;
		int ra = find_set(parent, a), rb = find_set(parent, b);
		if (ra == rb && ow_rand_unit(rng) >= p->extra_exits)
			continue;
		parent[ra] = rb;
		w->rooms[a].exit[right ? GNARL_DIR_RIGHT : GNARL_DIR_DOWN] = (int16_t)b;
		w->rooms[b].exit[right ? GNARL_DIR_LEFT : GNARL_DIR_UP] = (int16_t)a;
	}
}

/* Screen distances from the start over open edges. */
static void screen_distances(const struct ow_world *w, int *dist)
{
	int queue[OW_MAX_GRID * OW_MAX_GRID], head = 0, tail = 0;

	for (int i = 0; i < w->n_overworld; i++)
		dist[i] = -1;
	dist[w->start_room] = 0;
	queue[tail++] = w->start_room;
	while (head < tail) {
		int r = queue[head++];
		for (int d = 0; d < 4; d++) {
			int n = w->rooms[r].exit[d];
			if (n >= 0 && dist[n] < 0) {
				dist[n] = dist[r] + 1;
				queue[tail++] = n;
			}
		}
	}
}

/* The free screen whose distance is closest to `want` (random among ties). */
static int pick_screen(const struct ow_world *w, const int *dist, const uint8_t *used, int want,
                       uint64_t *rng)
{
	int best = -1, best_gap = 1 << 30, ties = 0;

	for (int i = 0; i < w->n_overworld; i++) {
		int gap = abs(dist[i] - want);
		if (used[i])
			continue;
		if (gap < best_gap) {
			best_gap = gap;
			best = i;
			ties = 1;
		} else if (gap == best_gap && ow_rand_below(rng, ++ties) == 0) {
			best = i;
		}
	}
	return best;
}

static int new_room(struct ow_world *w, int group, int id, int gx, int gy, int dungeon)
{
	struct ow_room *r = &w->rooms[w->n_rooms];

	memset(r, 0, sizeof(*r));
	for (int d = 0; d < 4; d++)
		r->exit[d] = -1;
	r->group = (uint8_t)group;
	r->id = (uint8_t)id;
	r->gx = (uint8_t)gx;
	r->gy = (uint8_t)gy;
	r->dungeon = (int8_t)dungeon;
	return w->n_rooms++;
}

/* An overworld screen, with the door (kind OW_DOOR or OW_LOCKED) at
 * door_col of the top border when door_col >= 0. */
static void lay_screen(struct ow_world *w, int room, int door_col, uint8_t door_kind,
                       bool guarded, uint64_t *rng)
{
	const struct ow_params *p = &w->p;
	struct ow_room *r = &w->rooms[room];
	uint8_t solid = ow_rand_unit(rng) < 0.7 ? OW_TREE : OW_ROCK;
	uint8_t fixed[OW_TILES] = {0};
	struct keys k = {0};

	lay_border(r, solid, &k);
	if (room == w->start_room) {
		key_add(&k, w->start_tx, w->start_ty);
	}
	if (door_col >= 0) {
		set_tile(r, door_col, 0, door_kind);
		if (guarded) {
			set_tile(r, door_col, 1, OW_BUSH);
			set_tile(r, door_col - 1, 1, solid);
			set_tile(r, door_col + 1, 1, solid);
			fixed[1 * OW_COLS + door_col] = 1;
			fixed[1 * OW_COLS + door_col - 1] = 1;
			fixed[1 * OW_COLS + door_col + 1] = 1;
			key_add(&k, door_col, 2);
		} else {
			key_add(&k, door_col, 1);
		}
	}
	lay_interior(r, &k, fixed, p->obstacle_density, p->water_share, p->bush_density, solid,
	             rng);
	if (room != w->start_room)
		place_spawns(r, &k, p->enemies_per_screen, rng);
}

/* A one-room cave (group 3) behind a door of screen `screen`. */
static int make_cave(struct ow_world *w, int screen, int index, uint8_t item, uint64_t *rng)
{
	int door_col = ow_rand_unit(rng) < 0.5 ? 1 + ow_rand_below(rng, 2) : 7 + ow_rand_below(rng, 2);
	int cave = new_room(w, GNARL_GROUP_INDOORS, OW_CAVE_ROOM_BASE + index, index, 0, -1);
	struct ow_room *r = &w->rooms[cave];
	uint8_t fixed[OW_TILES] = {0};
	struct keys k = {0};

	lay_border(r, OW_WALL, &k);
	set_tile(r, 4, OW_ROWS - 1, OW_DOOR);
	key_add(&k, 4, OW_ROWS - 2);
	r->item = item;
	r->item_tx = (uint8_t)(2 + ow_rand_below(rng, OW_COLS - 4));
	r->item_ty = (uint8_t)(1 + ow_rand_below(rng, 3));
	key_add(&k, r->item_tx, r->item_ty);
	lay_interior(r, &k, fixed, w->p.obstacle_density * 0.5, 0.0, 0.0, OW_ROCK, rng);
	add_door(r, 4, OW_ROWS - 1, screen, door_col, 1, GNARL_DIR_DOWN);
	lay_screen(w, screen, door_col, OW_DOOR, false, rng);
	add_door(&w->rooms[screen], door_col, 0, cave, 4, OW_ROWS - 2, GNARL_DIR_UP);
	return cave;
}

/* The Maku Tree's grove (group 2) behind a bush-guarded gate. */
static void make_maku(struct ow_world *w, uint64_t *rng)
{
	int door_col = ow_rand_unit(rng) < 0.5 ? 1 + ow_rand_below(rng, 2) : 7 + ow_rand_below(rng, 2);
	int room = new_room(w, GNARL_GROUP_MAKU_TREE, OW_MAKU_ROOM_ID, 0, 0, -1);
	struct ow_room *r = &w->rooms[room];
	struct keys k = {0};

	lay_border(r, OW_TREE, &k);
	for (int y = 1; y <= 2; y++)
		for (int x = 4; x <= 5; x++)
			set_tile(r, x, y, OW_MAKU);
	set_tile(r, 4, OW_ROWS - 1, OW_DOOR);
	add_door(r, 4, OW_ROWS - 1, w->maku_screen, door_col, 1, GNARL_DIR_DOWN);
	w->maku_room = room;
	lay_screen(w, w->maku_screen, door_col, OW_DOOR, true, rng);
	add_door(&w->rooms[w->maku_screen], door_col, 0, room, 4, OW_ROWS - 2, GNARL_DIR_UP);
}

/* The dungeon (group 4): rooms grown as a tree on a 4 x 4 grid from an
 * entrance on the bottom row; the last room grown holds a rupee pile. */
static void make_dungeon(struct ow_world *w, uint64_t *rng)
{
	const struct ow_params *p = &w->p;
	int grid[OW_DUNGEON_GRID][OW_DUNGEON_GRID];
	int first = w->n_rooms, count = 1;
	int door_col = ow_rand_unit(rng) < 0.5 ? 1 + ow_rand_below(rng, 2) : 7 + ow_rand_below(rng, 2);
	int ex = 1 + ow_rand_below(rng, 2), ey = OW_DUNGEON_GRID - 1;

	memset(grid, 0xff, sizeof(grid));
	grid[ey][ex] = new_room(w, GNARL_GROUP_DUNGEON, ey * 8 + ex, ex, ey, OW_DUNGEON_INDEX);
	for (int tries = 0; count < p->dungeon_rooms && tries < 1000; tries++) {
		struct ow_room *from = &w->rooms[first + ow_rand_below(rng, count)];
		int d = ow_rand_below(rng, 4), nx = from->gx + ow_dx[d], ny = from->gy + ow_dy[d];
		int fi = (int)(from - w->rooms), ni;
		if (nx < 0 || ny < 0 || nx >= OW_DUNGEON_GRID || ny >= OW_DUNGEON_GRID || grid[ny][nx] >= 0)
			continue;
		ni = new_room(w, GNARL_GROUP_DUNGEON, ny * 8 + nx, nx, ny, OW_DUNGEON_INDEX);
		grid[ny][nx] = ni;
		w->rooms[fi].exit[d] = (int16_t)ni;
		w->rooms[ni].exit[(d + 2) % 4] = (int16_t)fi;
		count++;
	}
	for (int i = first; i < first + count; i++) {
		struct ow_room *r = &w->rooms[i];
		uint8_t fixed[OW_TILES] = {0};
		struct keys k = {0};
		lay_border(r, OW_WALL, &k);
		if (i == first) {
			set_tile(r, 4, OW_ROWS - 1, OW_DOOR);
			key_add(&k, 4, OW_ROWS - 2);
			add_door(r, 4, OW_ROWS - 1, w->dungeon_screen, door_col, 1, GNARL_DIR_DOWN);
		}
		if (i == first + count - 1 && count > 1) {
			r->item = OW_ITEM_RUPEES;
			r->item_tx = (uint8_t)(2 + ow_rand_below(rng, OW_COLS - 4));
			r->item_ty = (uint8_t)(2 + ow_rand_below(rng, OW_ROWS - 4));
			key_add(&k, r->item_tx, r->item_ty);
		}
		lay_interior(r, &k, fixed, p->obstacle_density * 0.5, 0.0, 0.0, OW_ROCK, rng);
		place_spawns(r, &k, p->dungeon_enemies, rng);
	}
	w->dungeon_first = first;
	lay_screen(w, w->dungeon_screen, door_col, OW_LOCKED, false, rng);
	add_door(&w->rooms[w->dungeon_screen], door_col, 0, first, 4, OW_ROWS - 2, GNARL_DIR_UP);
}

/* False when the grid has too few screens for the quest's places. */
static bool generate_once(struct ow_world *w, uint64_t seed)
{
	const struct ow_params *p = &w->p;
	uint64_t rng = seed;
	int dist[OW_MAX_GRID * OW_MAX_GRID];
	uint8_t used[OW_MAX_GRID * OW_MAX_GRID] = {0};
	int n_caves = 0;

	w->n_rooms = 0;
	w->n_overworld = p->width * p->height;
	for (int i = 0; i < w->n_overworld; i++)
		new_room(w, GNARL_GROUP_OVERWORLD, (i / p->width) * 16 + i % p->width, i % p->width,
		         i / p->width, -1);
	carve_maze(w, &rng);
	w->start_room = ow_rand_below(&rng, w->n_overworld);
	w->start_tx = 4;
	w->start_ty = 4;
	screen_distances(w, dist);
	used[w->start_room] = p->sword_distance > 0;
	w->sword_screen = p->sword_distance > 0
	                      ? pick_screen(w, dist, used, p->sword_distance, &rng)
	                      : w->start_room;
	if (w->sword_screen < 0)
		return false;
	used[w->start_room] = used[w->sword_screen] = 1;
	w->maku_screen = pick_screen(w, dist, used, p->maku_distance, &rng);
	if (w->maku_screen < 0)
		return false;
	used[w->maku_screen] = 1;
	w->dungeon_screen = pick_screen(w, dist, used, p->dungeon_distance, &rng);
	if (w->dungeon_screen < 0)
		return false;
	used[w->dungeon_screen] = 1;

	make_maku(w, &rng);
	w->sword_cave = make_cave(w, w->sword_screen, n_caves++, OW_ITEM_SWORD, &rng);
	for (int i = 0; i < p->caves; i++) {
		int s = pick_screen(w, dist, used, ow_rand_below(&rng, w->n_overworld), &rng);
		if (s < 0)
			break;
		used[s] = 1;
		make_cave(w, s, n_caves++, OW_ITEM_RUPEES, &rng);
	}
	make_dungeon(w, &rng);
	for (int i = 0; i < w->n_overworld; i++)
		if (!used[i] || (i == w->start_room && i != w->sword_screen))
			lay_screen(w, i, -1, 0, false, &rng);
	return true;
}

int gnarl_overworld_gen_world(const struct ow_params *p, struct ow_world *w,
                              char err[GNARL_ERR_SIZE])
{
	uint64_t seed = p->world_seed;

	memset(w, 0, sizeof(*w));
	w->p = *p;
	for (int attempt = 1; attempt <= OW_GEN_ATTEMPTS; attempt++) {
		w->attempts = attempt;
		if (generate_once(w, seed) && gnarl_overworld_gen_solvable(w))
			return 0;
		seed = ow_rand(&seed) ^ p->world_seed;
	}
	snprintf(err, GNARL_ERR_SIZE,
	         "overworld: no solvable world after %d attempts from world_seed %llu "
	         "(width %d, height %d); try another world_seed or lower obstacle_density",
	         OW_GEN_ATTEMPTS, (unsigned long long)p->world_seed, p->width, p->height);
	return GNARL_ECONFIG;
}

/* Breadth-first search over (room, tile) with the given items; true when
 * `goal` says a reached cell is the goal. */
typedef bool (*goal_fn)(const struct ow_world *w, int room, int x, int y);

static bool reach(const struct ow_world *w, bool sword, bool key, goal_fn goal)
{
	size_t cells = (size_t)w->n_rooms * OW_TILES;
	uint8_t *seen = calloc(cells, 1);
	int32_t *queue = malloc(cells * sizeof(*queue));
	size_t head = 0, tail = 0;
	bool found = false;

	if (!seen || !queue)
		goto done;
	queue[tail++] = w->start_room * OW_TILES + w->start_ty * OW_COLS + w->start_tx;
	seen[queue[0]] = 1;
	while (head < tail && !found) {
		int c = queue[head++], room = c / OW_TILES, x = c % OW_TILES % OW_COLS;
		int y = c % OW_TILES / OW_COLS;
		const struct ow_room *r = &w->rooms[room];
		found = goal(w, room, x, y);
		for (int d = 0; d < 4 && !found; d++) {
			int nx = x + ow_dx[d], ny = y + ow_dy[d], nr = room, t, n;
			if (nx < 0 || ny < 0 || nx >= OW_COLS || ny >= OW_ROWS) {
				if (r->exit[d] < 0)
					continue;
				nr = r->exit[d];
				nx = (nx + OW_COLS) % OW_COLS;
				ny = (ny + OW_ROWS) % OW_ROWS;
			}
			t = w->rooms[nr].tiles[ny * OW_COLS + nx];
			if (t == OW_DOOR || (t == OW_LOCKED && key)) {
				for (int i = 0; i < w->rooms[nr].n_doors; i++) {
					const struct ow_door *dr = &w->rooms[nr].doors[i];
					if (dr->tx == nx && dr->ty == ny) {
						nr = dr->to_room;
						nx = dr->to_tx;
						ny = dr->to_ty;
					}
				}
			} else if (!(t == OW_FLOOR || (t == OW_BUSH && sword))) {
				continue;
			}
			n = nr * OW_TILES + ny * OW_COLS + nx;
			if (!seen[n]) {
				seen[n] = 1;
				queue[tail++] = n;
			}
		}
	}
done:
	free(seen);
	free(queue);
	return found;
}

static bool at_sword(const struct ow_world *w, int room, int x, int y)
{
	const struct ow_room *r = &w->rooms[room];
	return room == w->sword_cave && r->item == OW_ITEM_SWORD && r->item_tx == x &&
	       r->item_ty == y;
}

static bool by_maku(const struct ow_world *w, int room, int x, int y)
{
	const struct ow_room *r = &w->rooms[room];
	if (room != w->maku_room)
		return false;
	for (int d = 0; d < 4; d++) {
		int nx = x + ow_dx[d], ny = y + ow_dy[d];
		if (nx >= 0 && ny >= 0 && nx < OW_COLS && ny < OW_ROWS &&
		    r->tiles[ny * OW_COLS + nx] == OW_MAKU)
			return true;
	}
	return false;
}

static bool in_dungeon(const struct ow_world *w, int room, int x, int y)
{
	return room == w->dungeon_first;
}

bool gnarl_overworld_gen_solvable(const struct ow_world *w)
{
	/* Each step of the quest is reachable, and only with what the step
	 * before it gives: the sword, then the Maku Tree, then the dungeon. */
	return reach(w, false, false, at_sword) && !reach(w, false, false, by_maku) &&
	       reach(w, true, false, by_maku) && !reach(w, true, false, in_dungeon) &&
	       reach(w, true, true, in_dungeon);
}
