/*
 * test_gameboy_boot.c - how the gameboy env reaches its episode start, on
 * the free test cartridge through the plugin ABI (helpers in
 * gameboy_test.h): boot files (every statement, the messages of a bad line,
 * a condition that never holds, a file for another cartridge), the boot
 * cache (written, used, keyed by the file, replaced when damaged, optional,
 * a cache that cannot be written), gnarl state files (the env's own blob of
 * one env as env.params.save_state; another backend, another cartridge or
 * another emulator-state size refused), a config with no start at all, and
 * a colour-only cartridge refusing a model without colour.
 */
#include "gameboy_test.h"

#include <dirent.h>

/* A temporary directory per test, emptied and removed by rm_dir. */
static void tmp_dir(char *dir, size_t size, const char *name)
{
	snprintf(dir, size, "/tmp/gnarl-gb-%s-XXXXXX", name);
	assert_non_null(mkdtemp(dir));
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4200];

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (unlink(path))
				rm_dir(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Open one env on boot file `text` (written to dir/x.boot), plus sets. */
static int open_boot(struct gb_harness *g, const char *dir, const char *text,
                     const char *const *more, int n_more, char err[GNARL_ERR_SIZE])
{
	char path[4200], set[4300];
	const char *sets[8] = {set};

	snprintf(path, sizeof(path), "%s/x.boot", dir);
	write_text(path, text);
	snprintf(set, sizeof(set), "env.params.boot=%s", path);
	for (int k = 0; k < n_more; k++)
		sets[k + 1] = more[k];
	return gb_open(g, 1, NULL, sets, 1 + n_more, err);
}

static void expect_boot_error(const char *dir, const char *text, const char *want1,
                              const char *want2)
{
	struct gb_harness g;
	char err[GNARL_ERR_SIZE];

	assert_int_not_equal(open_boot(&g, dir, text, NULL, 0, err), 0);
	if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("boot file\n%s\nerror '%s' lacks '%s' / '%s'", text, err, want1,
		         want2 ? want2 : "");
	gb_harness_close(&g);
}

#define START "gnarl-boot 1\nwait 60\npress START 8\nwait 30\n"

static void test_boot_file_errors(void **state)
{
	static const struct {
		const char *text, *want1, *want2;
	} cases[] = {
	    {"", "the file is empty", "starts with 'gnarl-boot 1'"},
	    {"# only a comment\n\n", "starts with 'gnarl-boot 1'", NULL},
	    {"wait 60\n", "line 1", "starts with 'gnarl-boot 1'"},
	    {"gnarl-boot 2\n", "line 1", "format version 2"},
	    {"gnarl-boot 1\nwait abc\n", "line 2", "'abc' is not a number"},
	    {"gnarl-boot 1\nwait 0\n", "line 2", "out of range"},
	    {"gnarl-boot 1\n\n# x\npress JUMP 8\n", "line 4", "unknown button 'JUMP'"},
	    {"gnarl-boot 1\npress START\n", "line 2", "press wants BUTTONS FRAMES"},
	    {"gnarl-boot 1\nuntil $CC4C = 1 within 10\n", "line 2", "'=' is not a comparison"},
	    {"gnarl-boot 1\nuntil $CC4C == 1\n", "line 2", "within FRAMES"},
	    {"gnarl-boot 1\nuntil $B000 == 1 within 9\n", "line 2", "$C000-$DFFF"},
	    {"gnarl-boot 1\nuntil $CC4C == 300 within 9\n", "line 2", "one byte"},
	    {"gnarl-boot 1\nuntil $CC4C == 1 within 9 holding\n", "line 2", "holding BUTTONS"},
	    {"gnarl-boot 1\njump 3\n", "line 2", "unknown statement 'jump'"},
	    {"gnarl-boot 1\nrom md5 1234\n", "line 2", "not an MD5"},
	    {"gnarl-boot 1\nrom \"UNCLOSED\n", "line 2", "not closed"},
	};
	char dir[64];

	(void)state;
	SKIP_WITHOUT_ROM();
	tmp_dir(dir, sizeof(dir), "boot");
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		expect_boot_error(dir, cases[k].text, cases[k].want1, cases[k].want2);
	rm_dir(dir);
}

/* A condition that never holds stops create with its line, what was
 * awaited and what the byte held. */
static void test_boot_timeout(void **state)
{
	char dir[64];

	(void)state;
	SKIP_WITHOUT_ROM();
	tmp_dir(dir, sizeof(dir), "boot");
	expect_boot_error(dir, "gnarl-boot 1\nwait 60\n# the title screen\n"
	                       "until $CC4C == $12 within 100\n",
	                  "line 4: 'until $CC4C == $12 within 100' did not hold within 100 frames",
	                  "$CC4C held $00, 160 frames after power-on");
	rm_dir(dir);
}

/* A boot file for another cartridge: a message that names both and says
 * what to give instead; so does the Oracle of Seasons config on it. */
static void test_boot_other_rom(void **state)
{
	char dir[64], set[4300];
	const char *sets[] = {set};

	(void)state;
	SKIP_WITHOUT_ROM();
	tmp_dir(dir, sizeof(dir), "boot");
	expect_boot_error(dir, "gnarl-boot 1\nrom \"ZELDA DIN\" md5 d109f98637a19c57af16c5e5396a8d51"
	                       "\nwait 60\n",
	                  "the cartridge is \"GNARLTEST\"", "is for \"ZELDA DIN\", md5 d109");
	expect_boot_error(dir, "gnarl-boot 1\nrom \"GNARLTEST\" md5 00000000000000000000000000000000"
	                       "\nwait 60\n", "env.params.save_state", "env.params.boot");
	snprintf(set, sizeof(set), "env.params.rom=%s", TEST_ROM);
	expect_open_error(GNARL_SOURCE_DIR "/configs/oracle-of-seasons.yaml", sets, 1,
	                  "oracle-of-seasons.boot is for \"ZELDA DIN\"",
	                  "give an episode start for your game instead");
	rm_dir(dir);
}

/* holding and tapping: walk west to the sword in room $10, whose text box
 * A closes. */
static void test_boot_holding_tapping(void **state)
{
	struct gb_harness g;
	char dir[64], err[GNARL_ERR_SIZE];
	const struct gnarl_game_state *s;

	(void)state;
	SKIP_WITHOUT_ROM();
	tmp_dir(dir, sizeof(dir), "boot");
	if (open_boot(&g, dir, START "until $CC4C == $10 within 300 holding LEFT\n"
	                            "until $CD00 == 1 within 100\n"
	                            "until $CBA0 != 0 within 300 holding LEFT\n"
	                            "until $CBA0 == 0 within 100 tapping A\n",
	              NULL, 0, err))
		fail_msg("%s", err);
	s = &g.states[0];
	assert_int_equal(s->room, 0x10);
	assert_true(gnarl_has_treasure(s, GNARL_TREASURE_SWORD));
	assert_int_equal(s->text_active, 0);
	assert_true(s->x >= 32 && s->x < 48);  /* on the sword's tile, column 2 */
	check_against_ram(s);
	gb_harness_close(&g);
	rm_dir(dir);
}

/* boot_stop: the lines before it only (here: still on the title screen,
 * where the screen counts as changing, so the self-check is off). */
static void test_boot_stop(void **state)
{
	const char *more[] = {"env.params.boot_stop=3", "env.params.self_check=off"};
	struct gb_harness g;
	char dir[64], err[GNARL_ERR_SIZE];

	(void)state;
	SKIP_WITHOUT_ROM();
	tmp_dir(dir, sizeof(dir), "boot");
	if (open_boot(&g, dir, START, more, 2, err))
		fail_msg("%s", err);
	assert_int_equal(g.states[0].room, 0);
	assert_int_equal(g.states[0].health, 0);  /* no game yet */
	assert_true(g.states[0].flags & GNARL_STATE_TRANSITION);
	gb_harness_close(&g);
	rm_dir(dir);
}

static void cache_in(const char *dir)
{
	setenv("GNARL_CACHE_DIR", dir, 1);
}

static void test_boot_cache(void **state)
{
	const char *off[] = {"env.params.boot_cache=false"};
	struct gb_harness g;
	char dir[64], cache[64], sub[200], file[4300], err[GNARL_ERR_SIZE];
	uint8_t ram[32768];
	DIR *d;
	struct dirent *e;
	FILE *f;

	(void)state;
	SKIP_WITHOUT_ROM();
	tmp_dir(dir, sizeof(dir), "boot");
	tmp_dir(cache, sizeof(cache), "cache");
	cache_in(cache);
	snprintf(sub, sizeof(sub), "%s/gameboy", cache);

	/* First: a replay, its end state written. */
	assert_int_equal(open_boot(&g, dir, START, NULL, 0, err), 0);
	assert_non_null(strstr(g.log, "replaying boot file"));
	assert_non_null(strstr(g.log, "end state written"));
	memcpy(ram, g.states[0].ram, sizeof(ram));
	gb_harness_close(&g);
	assert_int_equal(count_files(sub), 1);
	/* Second: the cached state, the same start. */
	assert_int_equal(open_boot(&g, dir, START, NULL, 0, err), 0);
	assert_non_null(strstr(g.log, "(cached: "));
	assert_null(strstr(g.log, "replaying"));
	assert_memory_equal(ram, g.states[0].ram, sizeof(ram));
	gb_harness_close(&g);
	/* Another file is another key. */
	assert_int_equal(open_boot(&g, dir, START "# edited\n", NULL, 0, err), 0);
	assert_non_null(strstr(g.log, "replaying"));
	gb_harness_close(&g);
	assert_int_equal(count_files(sub), 2);
	/* A damaged entry: a warning, a replay, the entry written again. */
	d = opendir(sub);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(file, sizeof(file), "%s/%s", sub, e->d_name);
			f = fopen(file, "r+b");
			assert_non_null(f);
			assert_int_equal(ftruncate(fileno(f), 100), 0);
			fclose(f);
		}
	closedir(d);
	assert_int_equal(open_boot(&g, dir, START, NULL, 0, err), 0);
	assert_non_null(strstr(g.log, "warning: boot cache:"));
	assert_non_null(strstr(g.log, "end state written"));
	assert_memory_equal(ram, g.states[0].ram, sizeof(ram));
	gb_harness_close(&g);
	rm_dir(cache);

	/* boot_cache: false writes nothing; a cache that cannot be made only
	 * costs a warning. */
	tmp_dir(cache, sizeof(cache), "cache");
	cache_in(cache);
	assert_int_equal(open_boot(&g, dir, START, off, 1, err), 0);
	gb_harness_close(&g);
	assert_int_equal(count_files(cache), 0);
	cache_in("/proc/gnarl-no-such-dir");
	assert_int_equal(open_boot(&g, dir, START, NULL, 0, err), 0);
	assert_non_null(strstr(g.log, "no cache directory"));
	assert_memory_equal(ram, g.states[0].ram, sizeof(ram));
	gb_harness_close(&g);
	setenv("GNARL_CACHE_DIR", GNARL_BUILD_DIR "/test-cache", 1);
	rm_dir(cache);
	rm_dir(dir);
}

/* ------------------------------------------------------------------------ */
/* gnarl state files.                                                       */

/* The env's saved state of its one env, after `moves`, written to path. */
static void save_after(const char *moves, const char *path, uint8_t *ram)
{
	struct gb_harness g;
	size_t size;
	uint8_t *buf;
	FILE *f;

	gb_must_open(&g, 1, NULL, 0);
	gb_run(&g, 0, moves);
	memcpy(ram, g.states[0].ram, 32768);
	size = g.ops->state_size(g.env);
	buf = malloc(size);
	assert_int_equal(g.ops->save_state(g.env, buf, size), 0);
	f = fopen(path, "wb");
	assert_int_equal(fwrite(buf, 1, size, f), size);
	fclose(f);
	free(buf);
	gb_harness_close(&g);
}

/* Change `len` bytes at `at` of the file. */
static void patch(const char *path, long at, const void *bytes, size_t len)
{
	FILE *f = fopen(path, "r+b");

	assert_non_null(f);
	assert_int_equal(fseek(f, at, SEEK_SET), 0);
	assert_int_equal(fwrite(bytes, 1, len, f), len);
	fclose(f);
}

static void test_state_files(void **state)
{
	struct gb_harness g;
	char dir[64], path[4200], set[4300], err[GNARL_ERR_SIZE];
	const char *sets[] = {set, "env.params.reset_noop_max=0"};
	uint8_t ram[32768], other[32];

	(void)state;
	SKIP_WITHOUT_ROM();
	tmp_dir(dir, sizeof(dir), "state");
	snprintf(path, sizeof(path), "%s/room12.gbstate", dir);
	snprintf(set, sizeof(set), "env.params.save_state=%s", path);
	save_after("RRRRRNN", path, ram);
	assert_int_equal(gb_open(&g, 2, NULL, sets, 2, err), 0);
	assert_non_null(strstr(g.log, "episodes start from the gnarl state"));
	assert_int_equal(g.states[1].room, 0x12);
	/* The start is the saved machine plus the one frame that draws it. */
	assert_int_equal(g.states[1].x, ram[0x1000 + 0x0D]);
	assert_memory_equal(&g.states[1].ram[0x0C00], &ram[0x0C00], 0x0100); /* $CC00-$CCFF */
	gb_harness_close(&g);

	/* Another backend, another cartridge, another state size. */
	memset(other, 0, sizeof(other));
	memcpy(other, "libretro", 8);
	patch(path, 24, other, 32);
	expect_open_error(NULL, sets, 2, "saved by the libretro emulator backend",
	                  "this run uses libmgba");
	save_after("N", path, ram);
	patch(path, 56, "0123456789abcdef0123456789abcdef", 32);
	expect_open_error(NULL, sets, 2, "saved on another cartridge",
	                  "md5 0123456789abcdef0123456789abcdef");
	save_after("N", path, ram);
	patch(path, 16, "\x01\x00\x00\x00", 4);
	expect_open_error(NULL, sets, 2, "emulator states", "another version of the emulator");
	write_text(path, "GBST");
	expect_open_error(NULL, sets, 2, "is not a gnarl Game Boy state", path);
	rm_dir(dir);
}

/* Neither a save state nor a boot file: say what to set. */
static void test_no_start(void **state)
{
	const char *sets[] = {"env.params.boot=null"};

	(void)state;
	SKIP_WITHOUT_ROM();
	expect_open_error(NULL, sets, 1, "no episode start for \"GNARLTEST\"",
	                  "env.params.save_state");
}

/* A colour-only cartridge ($143 = $C0) refuses DMG, MGB and SGB. */
static void test_colour_only(void **state)
{
	char dir[64], rom[4200], set_rom[4300], boot[4300];
	const char *dmg[] = {set_rom, boot, "env.params.model=DMG"};
	const char *cgb[] = {set_rom, boot, "env.params.model=CGB"};
	uint8_t h[0x150], sum = 0;
	struct gb_harness g;
	char err[GNARL_ERR_SIZE];
	FILE *in, *out;
	int c;

	(void)state;
	SKIP_WITHOUT_ROM();
	tmp_dir(dir, sizeof(dir), "rom");
	snprintf(rom, sizeof(rom), "%s/colour.gbc", dir);
	in = fopen(TEST_ROM, "rb");
	out = fopen(rom, "wb");
	assert_non_null(in);
	assert_non_null(out);
	while ((c = fgetc(in)) != EOF)
		fputc(c, out);
	fclose(in);
	fclose(out);
	in = fopen(rom, "rb");
	assert_int_equal(fread(h, 1, sizeof(h), in), sizeof(h));
	fclose(in);
	h[0x143] = 0xC0;
	for (int i = 0x134; i <= 0x14C; i++)
		sum = (uint8_t)(sum - h[i] - 1);
	patch(rom, 0x143, &h[0x143], 1);
	patch(rom, 0x14D, &sum, 1);
	snprintf(set_rom, sizeof(set_rom), "env.params.rom=%s", rom);
	snprintf(boot, sizeof(boot), "env.params.boot=%s/configs/test-cartridge.boot",
	         GNARL_SOURCE_DIR);
	expect_open_error(NULL, dmg, 3, "params.model: DMG", "Game Boy Color cartridge only");
	assert_int_equal(gb_open(&g, 1, NULL, cgb, 3, err), 0);
	gb_harness_close(&g);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_boot_file_errors),
	    cmocka_unit_test(test_boot_timeout),
	    cmocka_unit_test(test_boot_other_rom),
	    cmocka_unit_test(test_boot_holding_tapping),
	    cmocka_unit_test(test_boot_stop),
	    cmocka_unit_test(test_boot_cache),
	    cmocka_unit_test(test_state_files),
	    cmocka_unit_test(test_no_start),
	    cmocka_unit_test(test_colour_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
