/*
 * summaries_check.h - shared by tests/unit/test_summaries.c and the S3
 * tests of core/summaries.c: deterministic episode records (case i), and
 * reading a worker's JSON-lines objects back from storage and checking
 * every field of every line against the case it came from.
 *
 * Also: the value of a gauge, and stderr captured into a file (the
 * writer's log lines).
 *
 * Header-only (static inline functions) because the unit test is one source file.
 * Uses cmocka's assertions: include <cmocka.h> first.
 */
#ifndef GNARL_SUMMARIES_CHECK_H
#define GNARL_SUMMARIES_CHECK_H

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "episode.h"
#include "gauges.h"
#include "storage.h"
#include "summaries.h"

#define SC_TERMS 3
static const char *const sc_names[SC_TERMS] = {"room_discovery", "dungeon", "death_penalty"};

/* Case i: every field differs between cases and exercises its type
 * (negative kills, all milestone masks, a NaN return, exact doubles). */
struct sc_case {
	struct gnarl_episode_record ep;
	struct gnarl_summaries_record rec;
	double terms[SC_TERMS];
};

static inline void sc_make(struct sc_case *c, uint32_t i, uint32_t env)
{
	memset(c, 0, sizeof(*c));
	c->terms[0] = i * 0.1;
	c->terms[1] = -(double)i / 7.0;
	c->terms[2] = i % 5 == 4 ? 1e300 : -0.5 * i;
	c->ep = (struct gnarl_episode_record){
	    .env = env,
	    .episode = 1000 + i / 4,
	    .ret = i % 9 == 8 ? NAN : i * 0.5 - 3.25 + 1.0 / 3.0,
	    .env_reward = 1.0 / (i + 3),
	    .length = 100 + (uint64_t)i * 3,
	    .n_terms = SC_TERMS,
	    .terms = c->terms,
	    .rooms = i % 5,
	    .dungeons = i % 2,
	    .enemies_killed = (int32_t)i - 3,
	    .milestones = i % 16,
	    .terminated = i % 3 == 0,
	    .truncated = i % 3 != 0 && i % 2 == 1,
	    .has_state = i % 4 != 3,
	};
	c->rec = (struct gnarl_summaries_record){
	    .ep = &c->ep,
	    .iteration = 7 + i / 10,
	    .llm_calls = 2ull * i,
	    .llm_hits = i,
	};
}

/* A writer for the sc_names terms; fails the test if create fails. */
static inline struct gnarl_summaries *sc_create(struct gnarl_storage *st, const char *prefix,
                                                uint32_t rank, uint32_t cap, struct gnarl_gauges *g,
                                                const struct gnarl_summaries_tuning *tune)
{
	struct gnarl_summaries *s = NULL;
	char err[GNARL_ERR_SIZE];

	if (gnarl_summaries_create(st, prefix, rank, sc_names, SC_TERMS, cap, g, tune, &s, err))
		fail_msg("create: %s", err);
	return s;
}

/* Push case i of env. */
static inline int sc_push(struct gnarl_summaries *s, uint32_t i, uint32_t env)
{
	struct sc_case c;

	sc_make(&c, i, env);
	return gnarl_summaries_push(s, &c.rec);
}

/* Flush, failing the test unless everything is handled within ms. */
static inline void sc_flush(struct gnarl_summaries *s, uint32_t ms)
{
	char err[GNARL_ERR_SIZE];

	if (gnarl_summaries_flush(s, ms, err) != 0)
		fail_msg("flush: %s", err);
}

static inline double sc_real(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_null(v))
		return NAN;
	assert_true(json_is_real(v));
	return json_real_value(v);
}

static inline int64_t sc_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static inline bool sc_bool(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_boolean(v));
	return json_is_true(v);
}

/* Equal doubles, NaN equal to NaN. */
static inline void sc_same(double got, double want)
{
	if (isnan(want))
		assert_true(isnan(got));
	else
		assert_memory_equal(&got, &want, sizeof(got));
}

/* "2025-06-01T12:00:00.123Z" -> seconds since the epoch, or -1. */
static inline double sc_time(const char *s)
{
	struct tm tm = {0};
	int ms = -1, n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 ||
	    s[n] != '\0' || strlen(s) != 24)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) + ms / 1000.0;
}

/* Line o is case i of rank `rank`, number seq, pushed in [t0, t1]
 * (realtime seconds; t1 0: no time check).  Checks every field. */
static inline void sc_check(json_t *o, uint32_t rank, uint64_t seq, uint32_t i, uint32_t env,
                            double t0, double t1)
{
	static const char *const ms[4] = {"sword", "maku_tree", "gnarled_key", "dungeon"};
	struct sc_case c;
	json_t *terms = json_object_get(o, "terms"), *m = json_object_get(o, "milestones");
	const char *when = json_string_value(json_object_get(o, "time"));
	size_t k, at = 0;
	double t;

	sc_make(&c, i, env);
	assert_int_equal(json_object_size(o), 19);
	assert_int_equal(sc_int(o, "rank"), rank);
	assert_int_equal(sc_int(o, "seq"), seq);
	assert_int_equal(sc_int(o, "iteration"), c.rec.iteration);
	assert_int_equal(sc_int(o, "env"), env);
	assert_int_equal(sc_int(o, "episode"), c.ep.episode);
	sc_same(sc_real(o, "return"), c.ep.ret);
	sc_same(sc_real(o, "env_reward"), c.ep.env_reward);
	assert_int_equal(sc_int(o, "length"), c.ep.length);
	assert_true(json_is_object(terms));
	assert_int_equal(json_object_size(terms), SC_TERMS);
	for (k = 0; k < SC_TERMS; k++)
		sc_same(sc_real(terms, sc_names[k]), c.terms[k]);
	assert_int_equal(sc_int(o, "rooms"), c.ep.rooms);
	assert_int_equal(sc_int(o, "dungeons"), c.ep.dungeons);
	assert_int_equal(sc_int(o, "enemies_killed"), c.ep.enemies_killed);
	assert_true(json_is_array(m));
	for (k = 0; k < 4; k++) {
		if (!(c.ep.milestones & (1u << k)))
			continue;
		assert_true(at < json_array_size(m));
		assert_string_equal(json_string_value(json_array_get(m, at)), ms[k]);
		at++;
	}
	assert_int_equal(json_array_size(m), at);
	assert_int_equal(sc_bool(o, "has_state"), c.ep.has_state);
	assert_int_equal(sc_int(o, "llm_calls"), c.rec.llm_calls);
	assert_int_equal(sc_int(o, "llm_hits"), c.rec.llm_hits);
	assert_int_equal(sc_bool(o, "terminated"), c.ep.terminated);
	assert_int_equal(sc_bool(o, "truncated"), c.ep.truncated);
	assert_non_null(when);
	t = sc_time(when);
	assert_true(t > 0);
	if (t1 > 0) {
		assert_true(t >= floor(t0 * 1000) / 1000);
		assert_true(t <= t1);
	}
}

/* What a worker directory held. */
struct sc_read {
	json_t *lines[4096]; /* by seq - base (owned references) */
	uint64_t base;
	size_t n_lines, n_objects;
};

struct sc_keys {
	char (*keys)[160];
	size_t n, max;
};

static inline int sc_key(void *ctx, const char *key, uint64_t size)
{
	struct sc_keys *k = ctx;

	(void)size;
	assert_true(k->n < k->max);
	snprintf(k->keys[k->n++], 160, "%s", key);
	return 0;
}

/* Read every object under dir ("run/workers/worker_0/"): each must be
 * "<dir>episodes_<first>-<last>.jsonl" holding lines with seq first..last
 * in increasing order, rank `rank`; each seq may appear only once.  Lines
 * go to r->lines[seq - r->base]. */
static inline void sc_read_dir(struct gnarl_storage *st, const char *dir, uint32_t rank,
                               struct sc_read *r)
{
	static char keys[1024][160];
	struct sc_keys k = {keys, 0, 1024};
	char err[GNARL_ERR_SIZE];
	size_t i, dl = strlen(dir);

	if (gnarl_storage_list(st, dir, sc_key, &k, err) != 0)
		fail_msg("list %s: %s", dir, err);
	for (i = 0; i < k.n; i++) {
		unsigned long long first, last;
		uint64_t prev = 0;
		bool any = false;
		char *data, *line, *save = NULL;
		size_t len;
		int end = 0;

		assert_true(sscanf(keys[i] + dl, "episodes_%12llu-%12llu.jsonl%n", &first, &last,
		                   &end) == 2);
		assert_int_equal(strlen(keys[i] + dl), 9 + 12 + 1 + 12 + 6);
		assert_int_equal(keys[i][dl + end], '\0');
		if (gnarl_storage_get(st, keys[i], (void **)&data, &len, err) != 0)
			fail_msg("get %s: %s", keys[i], err);
		assert_true(len > 0 && data[len - 1] == '\n');
		for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			json_error_t je;
			json_t *o = json_loads(line, 0, &je);
			uint64_t seq;

			if (!o)
				fail_msg("%s: not JSON (%s): %s", keys[i], je.text, line);
			seq = (uint64_t)sc_int(o, "seq");
			assert_int_equal(sc_int(o, "rank"), rank);
			assert_true(seq >= first && seq <= last);
			assert_true(!any || seq > prev);
			assert_int_equal(!any, seq == first);
			any = true;
			prev = seq;
			assert_true(seq >= r->base && seq - r->base < 4096);
			assert_null(r->lines[seq - r->base]);
			r->lines[seq - r->base] = o;
			r->n_lines++;
		}
		assert_true(any);
		assert_int_equal(prev, last);
		free(data);
		r->n_objects++;
	}
}

static inline void sc_read_free(struct sc_read *r)
{
	for (size_t i = 0; i < 4096; i++)
		json_decref(r->lines[i]);
	memset(r, 0, sizeof(*r));
}

struct gauge_find {
	const char *name;
	double value;
	int found;
};

static inline void gauge_each(void *ctx, const char *name, double value)
{
	struct gauge_find *f = ctx;

	if (!strcmp(name, f->name)) {
		f->value = value;
		f->found++;
	}
}

static inline double gauge(struct gnarl_gauges *g, const char *name)
{
	struct gauge_find f = {name, 0, 0};

	gnarl_gauges_each(g, gauge_each, &f);
	assert_int_equal(f.found, 1);
	return f.value;
}

/* stderr capture (the writer's log lines) */
struct capture {
	int saved;
	char path[300];
};

/* Send stderr to <dir>/stderr.txt until capture_end. */
static inline void capture_start(struct capture *c, const char *dir)
{
	int fd;

	snprintf(c->path, sizeof(c->path), "%s/stderr.txt", dir);
	fflush(stderr);
	c->saved = fcntl(2, F_DUPFD_CLOEXEC, 3); /* not inherited by processes started meanwhile */
	fd = open(c->path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	assert_true(c->saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
}

/* Stop capturing; the text (malloc'ed), also echoed to the real stderr. */
static inline char *capture_end(struct capture *c)
{
	FILE *f;
	char *text = calloc(1, 65536);

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	f = fopen(c->path, "r");
	assert_non_null(f);
	assert_non_null(text);
	fread(text, 1, 65535, f);
	fclose(f);
	fputs(text, stderr);
	return text;
}

static inline int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static inline double sc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif /* GNARL_SUMMARIES_CHECK_H */
