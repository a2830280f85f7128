/*
 * gameboy_start.c - where episodes start: a save state (gnarl's own state
 * file, or the backend's, such as mGBA's .ss), or a boot file replayed from
 * power-on whose end state is cached.
 *
 * Entry points: gnarl_gameboy_start_reach (create time), gnarl_gameboy_
 * start_blob (a one-env state blob: start-state files, the cache, the
 * run's copy).
 *
 * The boot cache.  The end state of a boot file depends only on the
 * cartridge, the file, the emulator backend and its model, so it is kept
 * under a key made of those (an MD5 of the cartridge's MD5, the file's MD5,
 * the backend's name, the model, the line the replay stops at and the
 * emulator state size), in GNARL_CACHE_DIR, else $XDG_CACHE_HOME/gnarl,
 * else ~/.cache/gnarl, as gameboy/boot-KEY.gbstate: one replay per machine,
 * shared by every run and every `gnarl gb` command, never stale (an edit of
 * the file is another key).  A cache entry that does not load is replaced;
 * a cache that cannot be written costs a warning, not the run.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "emu.h"
#include "gameboy.h"

#define CACHE_FORMAT 1

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int gnarl_gameboy_start_blob(const struct gb_state_id *id, const void *state, void **out,
                             size_t *size, char err[GNARL_ERR_SIZE])
{
	size_t n = gnarl_gameboy_state_size(1, id->state_size);
	uint8_t *b = calloc(1, n);

	*out = NULL;
	if (!b) {
		snprintf(err, GNARL_ERR_SIZE, "out of memory for a %zu-byte state", n);
		return GNARL_ENOMEM;
	}
	gnarl_gameboy_state_put_header(b, id, 1);
	memcpy(b + GB_STATE_HEADER + GB_ENV_HEADER, state, id->state_size);
	*out = b;
	*size = n;
	return 0;
}

static void state_id(const struct gb_start_spec *spec, const struct gb_emu *e,
                     struct gb_state_id *id)
{
	id->backend = e->name;
	id->rom_md5 = spec->rom->md5;
	id->rom_title = spec->rom->title;
	id->state_size = e->ops->state_size(e);
}

/* Load env 0's emulator state of a gnarl blob into e. */
static int load_blob(const struct gb_start_spec *spec, struct gb_emu *e, const void *buf,
                     size_t size, const char *what, char err[GNARL_ERR_SIZE])
{
	struct gb_state_id id;
	uint32_t n;
	size_t header, per_env;
	int rc;

	state_id(spec, e, &id);
	if ((rc = gnarl_gameboy_state_check_header(buf, size, &id, what, &n, &header, &per_env,
	                                           err)))
		return rc;
	if (n < 1) {
		snprintf(err, GNARL_ERR_SIZE, "%s holds no env", what);
		return GNARL_ECORRUPT;
	}
	if (per_env != id.state_size) {
		snprintf(err, GNARL_ERR_SIZE, "%s is an old gnarl's checkpoint state, not a whole "
		         "start state: make one with gnarl gb peek --save-state", what);
		return GNARL_EINCOMPAT;
	}
	if (!e->ops->load_state(e, (const uint8_t *)buf + header + GB_ENV_HEADER)) {
		snprintf(err, GNARL_ERR_SIZE, "%s: the %s backend refused its emulator state "
		         "(damaged file?)", what, e->name);
		return GNARL_ECORRUPT;
	}
	return 0;
}

static int from_save_state(const struct gb_start_spec *spec, struct gb_emu *e,
                           char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = spec->host;
	char what[GNARL_ERR_SIZE / 4];
	void *buf = NULL;
	size_t size;
	int rc;

	snprintf(what, sizeof(what), "params.save_state '%s'", spec->save_state);
	if ((rc = gnarl_gameboy_state_read_file(spec->save_state, "params.save_state", &buf,
	                                        &size, err)))
		goto done;
	if (gnarl_gameboy_state_is_blob(buf, size)) {
		if (!(rc = load_blob(spec, e, buf, size, what, err)))
			h->log(h, GNARL_LOG_INFO, "episodes start from the gnarl state %s",
			       spec->save_state);
	} else if (e->ops->load_state_file) {
		if (!(rc = e->ops->load_state_file(e, spec->save_state, "params.save_state", err)))
			h->log(h, GNARL_LOG_INFO, "episodes start from the %s save state %s",
			       e->name, spec->save_state);
	} else {
		snprintf(err, GNARL_ERR_SIZE, "%s is not a gnarl state (make one with gnarl gb peek "
		         "--save-state FILE), and the %s backend reads no state files of its own",
		         what, e->name);
		rc = GNARL_ECONFIG;
	}
done:
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Boot files and their cache.                                              */

/* <cache>/gameboy, made if missing; false when no cache directory can be
 * named or made (*why says why). */
static bool cache_dir(char *out, size_t size, const char **why)
{
	const char *base = getenv("GNARL_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char dir[1024];
	size_t n;

	if (base && *base)
		snprintf(dir, sizeof(dir), "%s", base);
	else if (xdg && *xdg)
		snprintf(dir, sizeof(dir), "%s/gnarl", xdg);
	else if (home && *home)
		snprintf(dir, sizeof(dir), "%s/.cache/gnarl", home);
	else {
		*why = "neither GNARL_CACHE_DIR, XDG_CACHE_HOME nor HOME is set";
		return false;
	}
	n = (size_t)snprintf(out, size, "%s/gameboy", dir);
	if (n >= size) {
		*why = "the cache directory's path is too long";
		return false;
	}
	/* mkdir -p, one component at a time. */
	for (char *p = out + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(out, 0755) && errno != EEXIST) {
				*why = strerror(errno);
				*p = c;
				return false;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	return true;
}

static int cache_key(const struct gb_start_spec *spec, const struct gnarl_gameboy_boot *b,
                     const struct gb_emu *e, char key[33])
{
	char text[512];
	int n = snprintf(text, sizeof(text), "gnarl boot cache %d\nbackend %s\nmodel %s\n"
	                 "rom %s\nboot %s\nstop %d\nstate %zu\n", CACHE_FORMAT, e->name,
	                 spec->model, spec->rom->md5, gnarl_gameboy_boot_md5(b), spec->boot_stop,
	                 e->ops->state_size(e));

	return gnarl_gameboy_md5_hex(text, (size_t)n, key);
}

/* The cached end state, if there is one that loads. */
static bool from_cache(const struct gb_start_spec *spec, struct gb_emu *e, const char *path)
{
	const struct gnarl_host *h = spec->host;
	char err[GNARL_ERR_SIZE];
	void *buf = NULL;
	size_t size;
	struct stat st;
	bool ok;

	if (stat(path, &st))
		return false;
	ok = !gnarl_gameboy_state_read_file(path, "boot cache", &buf, &size, err) &&
	     !load_blob(spec, e, buf, size, path, err);
	if (!ok)
		h->log(h, GNARL_LOG_WARN, "boot cache: %s (replaying the boot file and writing "
		       "it again)", err);
	free(buf);
	return ok;
}

static void to_cache(const struct gb_start_spec *spec, struct gb_emu *e, const char *path)
{
	const struct gnarl_host *h = spec->host;
	char err[GNARL_ERR_SIZE];
	struct gb_state_id id;
	void *state = NULL, *blob = NULL;
	size_t size;

	state_id(spec, e, &id);
	state = malloc(id.state_size);
	if (!state || !e->ops->save_state(e, state))
		snprintf(err, GNARL_ERR_SIZE, "%s cannot save a state", e->name);
	else if (!gnarl_gameboy_start_blob(&id, state, &blob, &size, err) &&
	         !gnarl_gameboy_state_write_file(path, blob, size, err))
		h->log(h, GNARL_LOG_INFO, "boot cache: end state written to %s", path);
	else
		h->log(h, GNARL_LOG_WARN, "boot cache: %s (runs will replay the boot file)", err);
	free(state);
	free(blob);
}

static int from_boot(const struct gb_start_spec *spec, struct gb_emu *e,
                     char err[GNARL_ERR_SIZE])
{
	const struct gnarl_host *h = spec->host;
	struct gnarl_gameboy_boot *b = NULL;
	char wanted[256], key[33], path[1200];
	const char *why = NULL;
	bool cached = false;
	long frames = 0;
	double t0;
	int rc;

	if ((rc = gnarl_gameboy_boot_load(spec->boot, "params.boot", &b, err)))
		return rc;
	if (!gnarl_gameboy_boot_rom_ok(b, spec->rom, wanted, sizeof(wanted))) {
		snprintf(err, GNARL_ERR_SIZE, "params.rom: the cartridge is \"%s\" (md5 %s), but the "
		         "boot file %s is for %s: give an episode start for your game instead, "
		         "either env.params.save_state (a state made with gnarl gb peek --save-state "
		         "FILE, or in mGBA) or env.params.boot (a boot file of your own; see "
		         "configs/README.md)", spec->rom->title, spec->rom->md5, spec->boot, wanted);
		rc = GNARL_ECONFIG;
		goto done;
	}
	if (spec->cache && !cache_key(spec, b, e, key)) {
		char dir[1024];

		if (cache_dir(dir, sizeof(dir), &why)) {
			snprintf(path, sizeof(path), "%s/boot-%s.gbstate", dir, key);
			cached = true;
		} else {
			h->log(h, GNARL_LOG_WARN, "boot cache: no cache directory (%s): replaying "
			       "the boot file", why);
		}
	}
	if (cached && from_cache(spec, e, path)) {
		h->log(h, GNARL_LOG_INFO, "episodes start at the end of boot file %s (cached: %s)",
		       spec->boot, path);
		goto done;
	}
	h->log(h, GNARL_LOG_INFO, "replaying boot file %s from power-on%s", spec->boot,
	       spec->boot_stop > 0 ? " (up to its boot_stop line)" : "");
	t0 = now();
	if ((rc = gnarl_gameboy_boot_run(b, e, spec->boot_stop, NULL, NULL, &frames, err)))
		goto done;
	h->log(h, GNARL_LOG_INFO, "boot file replayed: %ld frames in %.1f s", frames, now() - t0);
	if (cached)
		to_cache(spec, e, path);
done:
	gnarl_gameboy_boot_free(b);
	return rc;
}

int gnarl_gameboy_start_reach(const struct gb_start_spec *spec, struct gb_emu *e,
                              char err[GNARL_ERR_SIZE])
{
	if (spec->save_state)
		return from_save_state(spec, e, err);
	if (spec->boot)
		return from_boot(spec, e, err);
	snprintf(err, GNARL_ERR_SIZE, "params: no episode start for \"%s\"%s%s%s: set "
	         "env.params.save_state (a state of your game: play it with gnarl gb peek "
	         "--actions ... --save-state FILE, or save one in mGBA) or env.params.boot (a "
	         "boot file that plays from power-on; see configs/README.md)%s",
	         spec->rom->title, spec->rom->known ? " (" : "",
	         spec->rom->known ? spec->rom->known : "", spec->rom->known ? ")" : "",
	         spec->rom->known ? "; configs/oracle-of-seasons.yaml sets boot: "
	                            "oracle-of-seasons.boot for this cartridge" : "");
	return GNARL_ECONFIG;
}
