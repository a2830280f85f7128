/*
 * test_gameboy_backends.c - the gameboy env's two emulators play the same
 * game: libmgba and Gambatte (its libretro core) from the same start under
 * the same actions give the same RAM-derived game state, step by step.
 *
 * What is checked: on the free test cartridge, every decoded field of
 * struct gnarl_game_state, the whole observation and the episode ends, at
 * every step of a scripted walk (six rooms, the dungeon, a kill, the
 * sword, a hit, a death) and of a long random one.  On the real game (opt-in:
 * GNARL_OOS_ROM names your Oracle of Seasons ROM; one line and a skip
 * otherwise): both replay the boot file from power-on to free play, then
 * walk through Horon Village, compared at every step.  Needs both
 * emulators: without Gambatte's core the tests skip, and fail under
 * CI=true (gameboy_test.h).
 */
#include "gameboy_test.h"

#define OOS_CONFIG GNARL_SOURCE_DIR "/configs/oracle-of-seasons.yaml"

/* The fields of the game state both emulators must agree on, and where
 * they first do not (NULL: they agree). */
static const char *first_difference(const struct gnarl_game_state *a,
                                    const struct gnarl_game_state *b)
{
#define SAME(f)                                                                \
	if (a->f != b->f)                                                          \
		return #f;
	SAME(group) SAME(room) SAME(dungeon) SAME(x) SAME(y) SAME(direction)
	SAME(health) SAME(max_health) SAME(rupees) SAME(keys) SAME(sword_level)
	SAME(enemies_killed) SAME(deaths) SAME(text_active) SAME(menu_open)
	SAME(season) SAME(enemies_visible) SAME(frame)
#undef SAME
	if (memcmp(a->treasures, b->treasures, sizeof(a->treasures)))
		return "treasures";
	return NULL;
}

/* Step both envs (one each) through `acts` (action indices), comparing at
 * every step; `first` numbers the first of them in messages.  Returns the
 * steps taken. */
static int play_alike(struct gb_harness *m, struct gb_harness *r, const int *acts, int n,
                      const char *label, int first)
{
	for (int k = 0; k < n; k++) {
		const char *diff;

		m->actions[0] = r->actions[0] = acts[k];
		m->ops->step(m->env, &m->io, 0, 1);
		r->ops->step(r->env, &r->io, 0, 1);
		diff = first_difference(&m->states[0], &r->states[0]);
		if (diff)
			fail_msg("%s, step %d (action %d): libmgba and gambatte differ in %s "
			         "(room %d/%d, x %d/%d, y %d/%d)", label, first + k, acts[k], diff,
			         m->states[0].room, r->states[0].room, m->states[0].x,
			         r->states[0].x, m->states[0].y, r->states[0].y);
		if (memcmp(m->obs, r->obs, m->sp.obs_dim * sizeof(float)))
			fail_msg("%s, step %d: the observations differ", label, first + k);
		assert_int_equal(m->dones[0], r->dones[0]);
		if (m->dones[0]) {
			m->ops->reset(m->env, &m->io, 0, (uint64_t)k);
			r->ops->reset(r->env, &r->io, 0, (uint64_t)k);
		}
	}
	return n;
}

static int parse_actions(const char *seq, int *acts, int max)
{
	int n = 0;

	for (; *seq && n < max; seq++)
		acts[n++] = action_of(*seq);
	return n;
}

static void open_both(struct gb_harness *m, struct gb_harness *r, const char *config,
                      const char *const *sets, int n_sets)
{
	char err[GNARL_ERR_SIZE];

	if (gb_open_on("libmgba", m, 1, config, sets, n_sets, err))
		fail_msg("libmgba: %s", err);
	if (gb_open_on("gambatte", r, 1, config, sets, n_sets, err))
		fail_msg("gambatte: %s", err);
	assert_int_equal(m->sp.obs_dim, r->sp.obs_dim);
}

#define SKIP_WITHOUT_BOTH()                                                   \
	do {                                                                      \
		if (!rom_available() || !emulator_available("gambatte"))              \
			skip();                                                           \
	} while (0)

static void test_same_game_on_test_cartridge(void **state)
{
	enum { RANDOM = 2000 };
	/* Episodes from the start state (room $11): north into room $01, through
	 * its cave door into the dungeon (room $05) and on into its west room
	 * ($04); east into room $12, its enemy killed with the sword, then west
	 * across two rooms onto the sword in room $10; east again to wait for
	 * the enemy, hit by it until Link dies.  Every room change draws the new room with the LCD off. */
	static const char *const script[] = {
	    "UUUUULUUUUUULLLLLLDDDD",
	    "RRRRRRNNNNBBBBLLLLLLLLLLLLLLLLLLLLLLLLLLLL",
	    "RRRRRRNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN",
	};
	const char *sets[] = {"env.params.max_steps=300"};
	struct gb_harness m, r;
	int acts[RANDOM], n, kills = 0, deaths = 0, dungeon = 0, sword = 0, hit = 0;
	int rooms = 0, step = 0;
	bool seen[2][256] = {{false}};
	uint64_t rng = 7;

	(void)state;
	SKIP_WITHOUT_BOTH();
	open_both(&m, &r, NULL, sets, 1);
	for (size_t e = 0; e < sizeof(script) / sizeof(script[0]); e++) {
		m.ops->reset(m.env, &m.io, 0, e);
		r.ops->reset(r.env, &r.io, 0, e);
		assert_null(first_difference(&m.states[0], &r.states[0]));
		assert_memory_equal(m.obs, r.obs, m.sp.obs_dim * sizeof(float));
		n = parse_actions(script[e], acts, RANDOM);
		for (int k = 0; k < n; k++) {
			const struct gnarl_game_state *s = &m.states[0];

			play_alike(&m, &r, &acts[k], 1, "scripted walk", step++);
			if (s->enemies_killed > kills)
				kills = s->enemies_killed;
			dungeon |= s->dungeon == 0;
			sword |= gnarl_has_treasure(s, GNARL_TREASURE_SWORD);
			hit |= s->health < s->max_health;
			rooms += !seen[s->group == 4][s->room];
			seen[s->group == 4][s->room] = true;
			deaths += m.dones[0] == GNARL_DONE_TERMINATED;
		}
	}
	/* The script went where it says. */
	assert_true(kills >= 1);
	assert_true(dungeon);
	assert_true(sword);
	assert_true(hit);
	assert_int_equal(deaths, 1);
	assert_int_equal(rooms, 6); /* $11 $01 $12 $10, the dungeon's $05 $04 */
	for (int k = 0; k < RANDOM; k++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		acts[k] = (int)((rng >> 33) % 7);
	}
	m.ops->reset(m.env, &m.io, 0, 99);
	r.ops->reset(r.env, &r.io, 0, 99);
	play_alike(&m, &r, acts, RANDOM, "random walk", 0);
	gb_harness_close(&r);
	gb_harness_close(&m);
}

/* ------------------------------------------------------------------------ */
/* The real game (opt-in).                                                  */

/* A walk through Horon Village from the boot file's end (free play in
 * winter, room $B6): west, north, east across the screen, south, then the
 * two item buttons. */
static const char *const route[] = {
	"L*8", "U*6", "R*14", "D*6", "A", "N*4", "B", "N*4",
};

static int route_actions(int *acts, int max)
{
	int n = 0;

	for (size_t k = 0; k < sizeof(route) / sizeof(route[0]); k++) {
		int times = route[k][1] == '*' ? atoi(route[k] + 2) : 1;

		for (int t = 0; t < times && n < max; t++)
			acts[n++] = action_of(route[k][0]);
	}
	return n;
}

static void test_same_game_on_real_rom(void **state)
{
	const char *rom = getenv("GNARL_OOS_ROM");
	char set_rom[4200];
	/* Both replay configs/oracle-of-seasons.boot from power-on; nothing
	 * made from the ROM is cached. */
	const char *sets[] = {set_rom, "env.params.save_state=null", "env.params.boot_cache=false",
	                      "env.params.max_steps=100000"};
	struct gb_harness m, r;
	int acts[512], n, x0, room0;

	(void)state;
	if (!rom || !*rom) {
		fprintf(stderr, "skipped: set GNARL_OOS_ROM to your Oracle of Seasons ROM to "
		                "compare the emulators on the real game\n");
		skip();
	}
	SKIP_WITHOUT_BOTH();
	snprintf(set_rom, sizeof(set_rom), "env.params.rom=%s", rom);
	open_both(&m, &r, OOS_CONFIG, sets, 4);
	assert_null(first_difference(&m.states[0], &r.states[0]));
	assert_memory_equal(m.obs, r.obs, m.sp.obs_dim * sizeof(float));
	x0 = m.states[0].x;
	room0 = m.states[0].room;
	n = route_actions(acts, 512);
	play_alike(&m, &r, acts, n, "the real game's walk", 0);
	/* Both walked the same way: every step compared above. */
	assert_true(m.states[0].x != x0 || m.states[0].room != room0);
	gb_harness_close(&r);
	gb_harness_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_game_on_test_cartridge),
	    cmocka_unit_test(test_same_game_on_real_rom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
