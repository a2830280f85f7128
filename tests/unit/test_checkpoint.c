/*
 * test_checkpoint.c - the checkpoint store on a real local store in a
 * temporary directory: save/open/verify/load round trip, every way to name
 * a checkpoint, corruption refused with the file named, retention, latest
 * moving only after a whole checkpoint (a failed put, and SIGKILL at random
 * moments), and the compatibility diff.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH / FTW_PHYS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "checkpoint.h"
#include "error.h"
#include "hash.h"
#include "safetensors.h"
#include "storage.h"
#include "value.h"

static char err[GNARL_ERR_SIZE];

struct model {
	float w[4][3], b[4];
	int64_t step;
	uint64_t rng[4];
	struct gnarl_tensor t[4];
};

static void model_init(struct model *m, float seed)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < 12; i++)
		m->w[i / 3][i % 3] = seed + (float)i * 0.125f;
	for (int i = 0; i < 4; i++)
		m->b[i] = -seed * (float)i;
	m->step = (int64_t)seed * 7;
	for (int i = 0; i < 4; i++)
		m->rng[i] = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) + (uint64_t)seed;
	m->t[0] = (struct gnarl_tensor){"policy.0.weight", GNARL_DTYPE_F32, 2, {4, 3}, m->w};
	m->t[1] = (struct gnarl_tensor){"policy.0.bias", GNARL_DTYPE_F32, 1, {4}, m->b};
	m->t[2] = (struct gnarl_tensor){"adam.step", GNARL_DTYPE_I64, 0, {0}, &m->step};
	m->t[3] = (struct gnarl_tensor){"rng.rollout", GNARL_DTYPE_U64, 1, {4}, m->rng};
}

static const char *const actions[] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};

static const char base_yaml[] =
	"run: {name: test, seed: 3}\n"
	"env: {plugin: overworld, num_envs: 5, threads: 1, params: {max_steps: 2048}}\n"
	"policy: {hidden: [64, 64], activation: relu, shared: true}\n"
	"ppo: {learning_rate: 0.0003, normalize_obs: false}\n"
	"rewards:\n"
	"  - {plugin: room_discovery, weight: 20, params: {decay: 0.5}}\n"
	"  - {plugin: movement, weight: 0.1}\n"
	"llm: []\n";

struct fixture {
	char dir[64];
	struct gnarl_storage *st;
	struct gnarl_tree *cfg;
	struct gnarl_checkpoint_metric metrics[2];
	struct gnarl_checkpoint_rng rng;
	struct gnarl_checkpoint_plugin plugins[2];
	struct gnarl_manifest_info info;
};

static struct fixture fx;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	strcpy(fx.dir, "/tmp/gnarl-ckpt-XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	if (gnarl_storage_open(NULL, fx.dir, &fx.st, err) < 0)
		fail_msg("storage: %s", err);
	assert_int_equal(gnarl_tree_parse(base_yaml, strlen(base_yaml), "base", &fx.cfg, err), 0);
	fx.metrics[0] = (struct gnarl_checkpoint_metric){"ep_return_mean", 12.5};
	fx.metrics[1] = (struct gnarl_checkpoint_metric){"sps", NAN};
	fx.rng = (struct gnarl_checkpoint_rng){"ppo", {1, 2, 0xFFFFFFFFFFFFFFFFull, 42}};
	fx.plugins[0] = (struct gnarl_checkpoint_plugin){"env", "overworld", "1.0.0"};
	fx.plugins[1] = (struct gnarl_checkpoint_plugin){"reward", "room_discovery", "0.3.1"};
	fx.info = (struct gnarl_manifest_info){
		.iteration = 1, .env_steps = 4096, .episodes = 12, .obs_size = 151,
		.n_actions = 7, .action_names = actions, .env_plugin = "overworld",
		.env_params = gnarl_value_at(gnarl_tree_root(fx.cfg), "env.params"),
		.network = gnarl_value_at(gnarl_tree_root(fx.cfg), "policy"),
		.config = gnarl_tree_root(fx.cfg),
		.plugins = fx.plugins, .n_plugins = 2, .metrics = fx.metrics, .n_metrics = 2,
		.rngs = &fx.rng, .n_rngs = 1, .parent = NULL,
	};
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gnarl_storage_close(fx.st);
	gnarl_tree_free(fx.cfg);
	nftw(fx.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void save(uint64_t iteration, float seed, double ret,
                 const struct gnarl_checkpoint_retention *keep)
{
	struct model m;

	model_init(&m, seed);
	fx.info.iteration = iteration;
	fx.info.env_steps = iteration * 4096;
	fx.metrics[0].value = ret;
	if (gnarl_checkpoint_save(fx.st, "run1", m.t, 4, &fx.info, keep, NULL, err) < 0)
		fail_msg("save %llu: %s", (unsigned long long)iteration, err);
}

static char *path_of(const char *rel)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", fx.dir, rel);
	return buf;
}

static bool file_exists(const char *rel)
{
	struct stat sb;

	return stat(path_of(rel), &sb) == 0;
}

static int open_uri(const char *uri, unsigned flags, struct gnarl_checkpoint **ck)
{
	err[0] = '\0';
	return gnarl_checkpoint_open(NULL, fx.st, "run1", uri, flags, ck, err);
}

static void test_round_trip(void **state)
{
	struct model a, b;
	struct gnarl_checkpoint *ck = NULL;
	const struct gnarl_manifest *m;
	char *uri = NULL;
	uint64_t s[4];

	(void)state;
	model_init(&a, 3.0f);
	fx.info.iteration = 150;
	fx.info.parent = "s3://bucket/runs/old/checkpoints/checkpoint_000100";
	assert_int_equal(gnarl_checkpoint_save(fx.st, "run1", a.t, 4, &fx.info, NULL, &uri, err), 0);
	assert_non_null(strstr(uri, "run1/checkpoints/checkpoint_000150"));
	assert_true(file_exists("run1/checkpoints/checkpoint_000150/model.safetensors"));
	assert_true(file_exists("run1/checkpoints/checkpoint_000150/manifest.json"));

	if (gnarl_checkpoint_open(NULL, NULL, NULL, uri, 0, &ck, err) < 0)
		fail_msg("open: %s", err);
	m = gnarl_checkpoint_manifest(ck);
	assert_int_equal(m->format_version, GNARL_CHECKPOINT_FORMAT);
	assert_int_equal(m->iteration, 150);
	assert_int_equal(m->env_steps, 4096);
	assert_int_equal(m->episodes, 12);
	assert_int_equal(m->obs_size, 151);
	assert_int_equal(m->n_actions, 7);
	assert_string_equal(m->action_names[6], "B");
	assert_string_equal(m->env_plugin, "overworld");
	assert_string_equal(m->parent, "s3://bucket/runs/old/checkpoints/checkpoint_000100");
	assert_true(m->ep_return_mean == 12.5);
	assert_string_equal(m->gnarl_version, GNARL_VERSION);
	assert_int_equal(strlen(m->created_utc), 20);
	/* A NaN metric is saved as null and read back as the fallback. */
	assert_true(gnarl_checkpoint_metric(ck, "sps", 1.0) == 1.0);
	assert_non_null(strstr(m->json, "\"sps\": null"));
	assert_true(gnarl_checkpoint_metric(ck, "ep_return_mean", 1.0) == 12.5);
	assert_true(gnarl_checkpoint_metric(ck, "absent", -2.0) == -2.0);
	assert_int_equal(gnarl_checkpoint_rng(ck, "ppo", s), 0);
	assert_memory_equal(s, fx.rng.s, sizeof(s));
	assert_int_equal(gnarl_checkpoint_rng(ck, "nope", s), GNARL_ENOENT);
	/* The merged config and plugin versions are in the manifest. */
	assert_non_null(strstr(m->json, "\"room_discovery\""));
	assert_non_null(strstr(m->json, "\"0.3.1\""));
	assert_non_null(strstr(m->json, "\"sha256\""));

	model_init(&b, 0.0f);
	assert_int_equal(gnarl_checkpoint_load(ck, b.t, 4, GNARL_SAFETENSORS_EXACT, err), 0);
	assert_memory_equal(a.w, b.w, sizeof(a.w));
	assert_memory_equal(a.b, b.b, sizeof(a.b));
	assert_int_equal(a.step, b.step);
	assert_memory_equal(a.rng, b.rng, sizeof(a.rng));
	/* A shape mismatch loads nothing. */
	model_init(&b, 0.0f);
	b.t[1].shape[0] = 5;
	assert_int_equal(gnarl_checkpoint_load(ck, b.t, 4, 0, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "policy.0.bias"));
	assert_true(b.w[0][1] == 0.125f);
	gnarl_checkpoint_close(ck);
	free(uri);
	fx.info.parent = NULL;
}

static void test_names_resolve(void **state)
{
	struct gnarl_checkpoint *ck = NULL;
	char uri[600], *tagged = NULL;

	(void)state;
	save(1, 1.0f, 1.0, NULL);
	save(2, 2.0f, 2.0, NULL);
	/* latest, from the run directory and from the run root. */
	assert_int_equal(open_uri("latest", GNARL_CHECKPOINT_MANIFEST_ONLY, &ck), 0);
	assert_int_equal(gnarl_checkpoint_manifest(ck)->iteration, 2);
	gnarl_checkpoint_close(ck);
	assert_int_equal(gnarl_checkpoint_open(NULL, fx.st, "", "latest", 0, &ck, err), 0);
	assert_int_equal(gnarl_checkpoint_manifest(ck)->iteration, 2);
	gnarl_checkpoint_close(ck);
	/* A run directory path, the storage root path, a manifest path. */
	snprintf(uri, sizeof(uri), "%s/run1", fx.dir);
	assert_int_equal(open_uri(uri, 0, &ck), 0);
	assert_int_equal(gnarl_checkpoint_manifest(ck)->iteration, 2);
	gnarl_checkpoint_close(ck);
	assert_int_equal(open_uri(fx.dir, 0, &ck), 0);
	assert_int_equal(gnarl_checkpoint_manifest(ck)->iteration, 2);
	gnarl_checkpoint_close(ck);
	snprintf(uri, sizeof(uri), "%s/run1/checkpoints/checkpoint_000001/manifest.json", fx.dir);
	assert_int_equal(open_uri(uri, 0, &ck), 0);
	assert_int_equal(gnarl_checkpoint_manifest(ck)->iteration, 1);
	gnarl_checkpoint_close(ck);
	/* Tags: written in the run and beside it. */
	snprintf(uri, sizeof(uri), "%s/run1/checkpoints/checkpoint_000001", fx.dir);
	assert_int_equal(gnarl_checkpoint_tag(NULL, NULL, NULL, uri, "exploration_mastered_iter1",
	                                      &tagged, err), 0);
	assert_true(file_exists("run1/tags/exploration_mastered_iter1"));
	assert_true(file_exists("tags/exploration_mastered_iter1"));
	assert_int_equal(open_uri("tag:exploration_mastered_iter1", 0, &ck), 0);
	assert_int_equal(gnarl_checkpoint_manifest(ck)->iteration, 1);
	gnarl_checkpoint_close(ck);
	assert_int_equal(gnarl_checkpoint_open(NULL, fx.st, NULL, "tag:exploration_mastered_iter1",
	                                       0, &ck, err), 0);
	gnarl_checkpoint_close(ck);
	assert_int_equal(open_uri("tag:nope", 0, &ck), GNARL_ENOENT);
	assert_non_null(strstr(err, "no tag 'nope'"));
	assert_int_equal(open_uri("tag:../x", 0, &ck), GNARL_EINVAL);
	assert_int_equal(gnarl_checkpoint_tag(NULL, NULL, NULL, uri, ".hidden", NULL, err),
	                 GNARL_EINVAL);
	assert_int_equal(gnarl_checkpoint_open(NULL, NULL, NULL, "latest", 0, &ck, err),
	                 GNARL_EINVAL);
	assert_int_equal(gnarl_checkpoint_open(NULL, fx.st, "empty", "latest", 0, &ck, err),
	                 GNARL_ENOENT);
	assert_non_null(strstr(err, "nothing saved"));
	free(tagged);
}

static void flip_byte(const char *rel, long at)
{
	FILE *f = fopen(path_of(rel), "r+b");
	int c;

	assert_non_null(f);
	fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
	c = fgetc(f);
	fseek(f, -1, SEEK_CUR);
	fputc(c ^ 0x01, f);
	fclose(f);
}

static void write_file(const char *rel, const void *data, size_t len)
{
	FILE *f = fopen(path_of(rel), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_corruption_is_refused(void **state)
{
	struct gnarl_checkpoint *ck = NULL;
	const char *model = "run1/checkpoints/checkpoint_000001/model.safetensors";
	const char *manifest = "run1/checkpoints/checkpoint_000001/manifest.json";
	char uri[600];
	struct stat sb;

	(void)state;
	save(1, 1.0f, 1.0, NULL);
	snprintf(uri, sizeof(uri), "%s/run1/checkpoints/checkpoint_000001", fx.dir);
	/* A flipped byte in the data. */
	flip_byte(model, -3);
	assert_int_equal(open_uri(uri, 0, &ck), GNARL_ECORRUPT);
	assert_null(ck);
	assert_non_null(strstr(err, "checksum mismatch"));
	assert_non_null(strstr(err, "checkpoint_000001/model.safetensors"));
	/* The manifest alone still reads (list/show work on a damaged one). */
	assert_int_equal(open_uri(uri, GNARL_CHECKPOINT_MANIFEST_ONLY, &ck), 0);
	gnarl_checkpoint_close(ck);
	flip_byte(model, -3);
	assert_int_equal(open_uri(uri, 0, &ck), 0);
	gnarl_checkpoint_close(ck);
	/* Truncated. */
	assert_int_equal(stat(path_of(model), &sb), 0);
	assert_int_equal(truncate(path_of(model), sb.st_size - 10), 0);
	assert_int_equal(open_uri(uri, 0, &ck), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "model.safetensors"));
	assert_non_null(strstr(err, "truncated"));
	/* Missing manifest: not a checkpoint. */
	assert_int_equal(remove(path_of(manifest)), 0);
	assert_int_equal(open_uri(uri, 0, &ck), GNARL_ENOENT);
	assert_non_null(strstr(err, "has no manifest.json"));
	/* Missing path. */
	snprintf(uri, sizeof(uri), "%s/run1/checkpoints/checkpoint_000777", fx.dir);
	assert_int_equal(open_uri(uri, 0, &ck), GNARL_ENOENT);
}

static void test_bad_manifests(void **state)
{
	struct gnarl_checkpoint *ck = NULL;
	const char *manifest = "run1/checkpoints/checkpoint_000001/manifest.json";
	const char *model = "run1/checkpoints/checkpoint_000001/model.safetensors";
	char uri[600], text[1024], *orig;
	/* A well-formed safetensors file that breaks a rule (a gap). */
	static const char bad_st[] = "\x38\0\0\0\0\0\0\0" /* 56 header bytes */
		"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}   "
		"xy";
	FILE *f;
	long len;

	(void)state;
	save(1, 1.0f, 1.0, NULL);
	snprintf(uri, sizeof(uri), "%s/run1/checkpoints/checkpoint_000001", fx.dir);
	f = fopen(path_of(manifest), "rb");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	orig = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(orig, 1, (size_t)len, f), (size_t)len);
	fclose(f);

	/* A newer format is refused with a way out. */
	snprintf(text, sizeof(text), "{\"format\": \"gnarl-checkpoint\", \"format_version\": %d, "
	         "\"gnarl_version\": \"9.0.0\"}", GNARL_CHECKPOINT_FORMAT + 1);
	write_file(manifest, text, strlen(text));
	assert_int_equal(open_uri(uri, 0, &ck), GNARL_EVERSION);
	assert_non_null(strstr(err, "upgrade gnarl"));
	assert_non_null(strstr(err, "9.0.0"));
	/* Not JSON, and not ours. */
	write_file(manifest, "{\"format\": ", 11);
	assert_int_equal(open_uri(uri, 0, &ck), GNARL_ECORRUPT);
	assert_non_null(strstr(err, "manifest.json"));
	write_file(manifest, "{\"format\": \"x\", \"format_version\": 1}", 36);
	assert_int_equal(open_uri(uri, 0, &ck), GNARL_ECORRUPT);
	/* A model whose checksum matches but which breaks the format. */
	{
		char sha[65];
		char *p = strstr(orig, "\"sha256\": \""), *q;
		size_t size_at;

		assert_non_null(p);
		write_file(model, bad_st, sizeof(bad_st) - 1);
		assert_int_equal(gnarl_hash_sha256_hex(bad_st, sizeof(bad_st) - 1, sha, err), 0);
		memcpy(p + 11, sha, 64);
		q = strstr(orig, "\"size\": ");
		assert_non_null(q);
		size_at = (size_t)(q - orig) + 8;
		static char big[65536];

		snprintf(big, sizeof(big), "%.*s%zu%s", (int)size_at, orig, sizeof(bad_st) - 1,
		         strchr(orig + size_at, ','));
		write_file(manifest, big, strlen(big));
		assert_int_equal(open_uri(uri, 0, &ck), GNARL_ECORRUPT);
		if (!strstr(err, "model.safetensors") || !strstr(err, "gap"))
			fail_msg("message: %s", err);
	}
	free(orig);
}

static void test_retention(void **state)
{
	struct gnarl_checkpoint_retention keep = {.keep_last = 2, .keep_best = true};
	static const double returns[] = {5, 50, 10, 20, 30, 40, 35};
	char uri[600];
	char name[128];

	(void)state;
	save(1, 1.0f, returns[0], &keep);
	save(2, 2.0f, returns[1], &keep);
	save(3, 3.0f, returns[2], &keep);
	snprintf(uri, sizeof(uri), "%s/run1/checkpoints/checkpoint_000003", fx.dir);
	assert_int_equal(gnarl_checkpoint_tag(NULL, NULL, NULL, uri, "keepme", NULL, err), 0);
	/* A crash left an incomplete directory behind. */
	mkdir(path_of("run1/checkpoints/checkpoint_000002x"), 0777);
	mkdir(path_of("run1/checkpoints/checkpoint_000004"), 0777);
	write_file("run1/checkpoints/checkpoint_000004/model.safetensors", "junk", 4);
	for (int i = 5; i <= 7; i++)
		save((uint64_t)i, (float)i, returns[i - 1], &keep);
	for (int i = 1; i <= 7; i++) {
		bool kept = i == 2 /* best */ || i == 3 /* tagged */ || i >= 6 /* last 2 */;

		snprintf(name, sizeof(name), "run1/checkpoints/checkpoint_%06d/manifest.json", i);
		if (file_exists(name) != kept)
			fail_msg("checkpoint %d: kept %d, expected %d", i, !kept, kept);
		snprintf(name, sizeof(name), "run1/checkpoints/checkpoint_%06d/model.safetensors", i);
		assert_int_equal(file_exists(name), kept);
	}
	/* Something that is not a checkpoint directory is left alone. */
	assert_true(file_exists("run1/checkpoints/checkpoint_000002x"));
}

static void test_latest_moves_only_when_whole(void **state)
{
	struct gnarl_checkpoint *ck = NULL;
	struct model m;

	(void)state;
	save(1, 1.0f, 1.0, NULL);
	model_init(&m, 2.0f);
	fx.info.iteration = 2;
	/* A directory where the manifest should go makes its put fail. */
	assert_int_equal(mkdir(path_of("run1/checkpoints/checkpoint_000002"), 0777), 0);
	assert_int_equal(mkdir(path_of("run1/checkpoints/checkpoint_000002/manifest.json"), 0777), 0);
	write_file("run1/checkpoints/checkpoint_000002/manifest.json/x", "x", 1);
	assert_true(gnarl_checkpoint_save(fx.st, "run1", m.t, 4, &fx.info, NULL, NULL, err) < 0);
	assert_non_null(strstr(err, "checkpoint_000002"));
	assert_int_equal(open_uri("latest", 0, &ck), 0);
	assert_int_equal(gnarl_checkpoint_manifest(ck)->iteration, 1);
	gnarl_checkpoint_close(ck);
	/* Same with the model's put failing. */
	assert_int_equal(mkdir(path_of("run1/checkpoints/checkpoint_000003"), 0777), 0);
	assert_int_equal(mkdir(path_of("run1/checkpoints/checkpoint_000003/model.safetensors"), 0777),
	                 0);
	write_file("run1/checkpoints/checkpoint_000003/model.safetensors/x", "x", 1);
	fx.info.iteration = 3;
	assert_true(gnarl_checkpoint_save(fx.st, "run1", m.t, 4, &fx.info, NULL, NULL, err) < 0);
	assert_false(file_exists("run1/checkpoints/checkpoint_000003/manifest.json"));
	assert_int_equal(open_uri("latest", 0, &ck), 0);
	assert_int_equal(gnarl_checkpoint_manifest(ck)->iteration, 1);
	gnarl_checkpoint_close(ck);
	/* Once the obstacle is gone the same save goes through. */
	assert_int_equal(remove(path_of("run1/checkpoints/checkpoint_000002/manifest.json/x")), 0);
	assert_int_equal(remove(path_of("run1/checkpoints/checkpoint_000002/manifest.json")), 0);
	fx.info.iteration = 2;
	assert_int_equal(gnarl_checkpoint_save(fx.st, "run1", m.t, 4, &fx.info, NULL, NULL, err), 0);
	assert_int_equal(open_uri("latest", 0, &ck), 0);
	assert_int_equal(gnarl_checkpoint_manifest(ck)->iteration, 2);
	gnarl_checkpoint_close(ck);
	/* The same iteration again: same weights is fine, others are refused. */
	assert_int_equal(gnarl_checkpoint_save(fx.st, "run1", m.t, 4, &fx.info, NULL, NULL, err), 0);
	m.b[0] += 1.0f;
	assert_int_equal(gnarl_checkpoint_save(fx.st, "run1", m.t, 4, &fx.info, NULL, NULL, err),
	                 GNARL_EEXIST);
}

/* Child: save forever, one checkpoint per iteration, until killed; one
 * byte on `done` after each save. */
static void saver(uint64_t first, int done)
{
	struct gnarl_checkpoint_retention keep = {.keep_last = 2, .keep_best = true};
	struct model m;

	for (uint64_t it = first;; it++) {
		model_init(&m, (float)it);
		fx.info.iteration = it;
		fx.metrics[0].value = (double)(it % 17);
		if (gnarl_checkpoint_save(fx.st, "run1", m.t, 4, &fx.info, &keep, NULL, err) < 0)
			_exit(3);
		if (write(done, "s", 1) != 1)
			_exit(4);
	}
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* SIGKILL at a random point of a save, 100 times: after `round % 4`
 * finished saves (none, in some rounds), then after a random share of the
 * last save's duration (measured here, so the point falls inside the
 * next save however loaded the machine is).  `latest` must always open,
 * verify and hold the weights of its iteration, and never go back. */
static void test_sigkill_during_saves(void **state)
{
	uint64_t x = 12345, last = 0;
	int opened = 0;

	(void)state;
	for (int round = 0; round < 100; round++) {
		struct gnarl_checkpoint *ck = NULL;
		struct model m, want;
		int pipefd[2], saves = round % 4, status;
		double t = mono(), took = 0;
		char c;
		pid_t pid;

		assert_int_equal(pipe(pipefd), 0);
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pipefd[0]);
			saver((uint64_t)round * 100000 + 1, pipefd[1]);
		}
		close(pipefd[1]);
		for (int k = 0; k < saves; k++) {
			assert_int_equal(read(pipefd[0], &c, 1), 1);
			took = mono() - t;
			t += took;
		}
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		if (saves) {
			double at = took * (double)(x >> 11) / 9007199254740992.0;
			struct timespec ts = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};

			nanosleep(&ts, NULL);
		}
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		close(pipefd[0]);
		assert_true(WIFSIGNALED(status));
		if (open_uri("latest", 0, &ck) == GNARL_ENOENT && last == 0 && saves == 0)
			continue; /* killed before the first save finished */
		if (!ck)
			fail_msg("round %d: latest does not open: %s", round, err);
		model_init(&m, 0.0f);
		assert_int_equal(gnarl_checkpoint_load(ck, m.t, 4, GNARL_SAFETENSORS_EXACT, err), 0);
		model_init(&want, (float)gnarl_checkpoint_manifest(ck)->iteration);
		assert_memory_equal(m.w, want.w, sizeof(m.w));
		assert_true(gnarl_checkpoint_manifest(ck)->iteration >= last);
		/* A round that finished saves moved latest into its own range. */
		if (saves)
			assert_true(gnarl_checkpoint_manifest(ck)->iteration >=
			            (uint64_t)round * 100000 + (uint64_t)saves);
		last = gnarl_checkpoint_manifest(ck)->iteration;
		opened++;
		gnarl_checkpoint_close(ck);
	}
	/* Only round 0 may have nothing to open (killed before its first save). */
	assert_true(opened >= 99);
}

static struct gnarl_checkpoint_change *find_change(struct gnarl_checkpoint_diff *d,
                                                   const char *field)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->changes[i].field, field) == 0)
			return &d->changes[i];
	return NULL;
}

static struct gnarl_checkpoint_diff *diff_with(const char *yaml,
                                               const struct gnarl_manifest_info *now)
{
	struct gnarl_checkpoint *ck = NULL;
	struct gnarl_tree *t = NULL;
	struct gnarl_checkpoint_diff *d = NULL;

	assert_int_equal(open_uri("latest", GNARL_CHECKPOINT_MANIFEST_ONLY, &ck), 0);
	assert_int_equal(gnarl_tree_parse(yaml, strlen(yaml), "new", &t, err), 0);
	assert_int_equal(gnarl_checkpoint_diff(ck, gnarl_tree_root(t), now, &d, err), 0);
	gnarl_tree_free(t);
	gnarl_checkpoint_close(ck);
	return d;
}

static void test_diff(void **state)
{
	static const char resumed[] =
		"run: {name: test2, seed: 3}\n"
		"restore: latest\n"
		"env: {plugin: overworld, num_envs: 25, threads: 2, params: {max_steps: 4096}}\n"
		"policy: {hidden: [64, 64], activation: relu, shared: true}\n"
		"ppo: {learning_rate: 0.0001, normalize_obs: false}\n"
		"rewards:\n"
		"  - {plugin: dungeon_entry, weight: 200}\n"
		"  - {plugin: room_discovery, weight: 30, params: {decay: 0.5}}\n"
		"llm: [{plugin: llm_text, probability: 0.05}]\n";
	static const char reshaped[] =
		"env: {plugin: cartpole, num_envs: 5, threads: 1, params: {max_steps: 2048}}\n"
		"policy: {hidden: [128, 128], activation: relu, shared: true}\n"
		"ppo: {learning_rate: 0.0003, normalize_obs: true}\n";
	static const char *const other_actions[] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A"};
	struct gnarl_checkpoint_diff *d;
	struct gnarl_checkpoint_change *c;
	struct gnarl_manifest_info now;
	char *text = NULL;
	size_t len;
	FILE *f;

	(void)state;
	save(1, 1.0f, 1.0, NULL);
	/* The same config: nothing changes. */
	d = diff_with(base_yaml, NULL);
	assert_int_equal(d->n, 0);
	gnarl_checkpoint_diff_free(d);

	d = diff_with(resumed, NULL);
	assert_int_equal(d->n_refused, 0);
	assert_int_equal(gnarl_checkpoint_diff_check(d, err), 0);
	c = find_change(d, "rewards[room_discovery].weight");
	assert_non_null(c);
	assert_string_equal(c->before, "20");
	assert_string_equal(c->after, "30");
	c = find_change(d, "rewards[dungeon_entry]");
	assert_non_null(c);
	assert_string_equal(c->before, "(none)");
	assert_non_null(strstr(c->after, "200"));
	assert_non_null(find_change(d, "rewards[movement]"));
	assert_string_equal(find_change(d, "env.num_envs")->after, "25");
	assert_non_null(find_change(d, "env.threads"));
	assert_non_null(find_change(d, "env.params.max_steps"));
	assert_non_null(find_change(d, "ppo.learning_rate"));
	assert_non_null(find_change(d, "llm[llm_text]"));
	assert_non_null(find_change(d, "run.name"));
	assert_null(find_change(d, "restore"));
	assert_null(find_change(d, "rewards[room_discovery].params.decay"));
	f = open_memstream(&text, &len);
	gnarl_checkpoint_diff_print(d, f);
	fclose(f);
	assert_non_null(strstr(text, "  + rewards[dungeon_entry]: "));
	assert_non_null(strstr(text, "  - rewards[movement]: "));
	assert_non_null(strstr(text, "  ~ rewards[room_discovery].weight: 20 -> 30\n"));
	free(text);
	gnarl_checkpoint_diff_free(d);

	/* From the config alone: network, env plugin, normalisation refused. */
	d = diff_with(reshaped, NULL);
	assert_int_equal(d->n_refused, 3);
	c = find_change(d, "policy.hidden");
	assert_non_null(c);
	assert_true(c->refused);
	assert_string_equal(c->before, "[64,64]");
	assert_string_equal(c->after, "[128,128]");
	assert_true(find_change(d, "env.plugin")->refused);
	assert_true(find_change(d, "ppo.normalize_obs")->refused);
	assert_int_equal(gnarl_checkpoint_diff_check(d, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "policy.hidden"));
	assert_non_null(strstr(err, "[64,64]"));
	assert_non_null(strstr(err, "[128,128]"));
	gnarl_checkpoint_diff_free(d);

	/* With the new run's facts: observation size and actions too. */
	now = fx.info;
	now.obs_size = 163;
	now.action_names = other_actions;
	now.n_actions = 6;
	d = diff_with(base_yaml, &now);
	assert_int_equal(d->n_refused, 2);
	c = find_change(d, "observation size");
	assert_non_null(c);
	assert_string_equal(c->before, "151");
	assert_string_equal(c->after, "163");
	assert_true(find_change(d, "action list")->refused);
	assert_int_equal(gnarl_checkpoint_diff_check(d, err), GNARL_EINCOMPAT);
	assert_non_null(strstr(err, "observation size changed from 151 to 163"));
	gnarl_checkpoint_diff_free(d);
}

static void test_list(void **state)
{
	struct gnarl_checkpoint_entry *e = NULL;
	char uri[600];
	size_t n;

	(void)state;
	save(1, 1.0f, 1.5, NULL);
	save(2, 2.0f, 2.5, NULL);
	snprintf(uri, sizeof(uri), "%s/run1/checkpoints/checkpoint_000001", fx.dir);
	assert_int_equal(gnarl_checkpoint_tag(NULL, NULL, NULL, uri, "first", NULL, err), 0);
	assert_int_equal(gnarl_checkpoint_tag(NULL, NULL, NULL, uri, "alpha", NULL, err), 0);
	assert_int_equal(gnarl_checkpoint_list(fx.st, "", &e, &n, err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].iteration, 1);
	assert_int_equal(e[0].env_steps, 4096);
	assert_true(e[0].ep_return_mean == 1.5);
	assert_false(e[0].latest);
	assert_non_null(e[0].tags);
	assert_true(strcmp(e[0].tags, "alpha,first") == 0 || strcmp(e[0].tags, "first,alpha") == 0);
	assert_int_equal(e[1].iteration, 2);
	assert_true(e[1].latest);
	assert_null(e[1].tags);
	assert_string_equal(e[1].key, "run1/checkpoints/checkpoint_000002");
	gnarl_checkpoint_list_free(e, n);
	assert_int_equal(gnarl_checkpoint_list(fx.st, "run1", &e, &n, err), 0);
	assert_int_equal(n, 2);
	gnarl_checkpoint_list_free(e, n);
	assert_int_equal(gnarl_checkpoint_list(fx.st, "elsewhere", &e, &n, err), 0);
	assert_int_equal(n, 0);
	gnarl_checkpoint_list_free(e, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_manifests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_latest_moves_only_when_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_during_saves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
