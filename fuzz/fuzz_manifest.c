/*
 * fuzz_manifest.c - a checkpoint's manifest.json as a restore reads it:
 * `latest` resolved, the manifest parsed and checked (format, version,
 * fields, the files it lists with their sizes and SHA-256), its metrics
 * and RNG states read, the diff against a new config (the config
 * snapshot inside the manifest), and the run listed as `gnarl checkpoints
 * list` does.
 *
 * Input: the manifest's text.  The checkpoint directory around it is a
 * real one (fuzz/data/tiny/model.safetensors, written by
 * fuzz/gen_corpus.sh), so an input naming that file's size and SHA-256
 * gets past verification; the seeds do.
 *
 * Oracles besides the sanitizers: a refusal has a message, an opened
 * checkpoint has the directory it was opened from and a name for each
 * action, and everything listed has a URI.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "config.h"
#include "log.h"
#include "resume.h"
#include "storage.h"

#define CKPT "tiny/checkpoints/checkpoint_000002"

static char manifest[1024];
static struct gnarl_config *cfg;
static struct gnarl_storage *st;
static struct gnarl_resume_facts facts;
static FILE *devnull;

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		abort();
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void mkdirs(const char *root, const char *rel)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0700);
			*s = '/';
		}
	mkdir(p, 0700);
}

static void teardown(void)
{
	gnarl_resume_facts_clear(&facts);
	gnarl_storage_close(st);
	gnarl_config_free(cfg);
	if (devnull)
		fclose(devnull);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char root[256], sets[4][600], err[GNARL_ERR_SIZE], path[1024];
	const char *set_ptrs[4];
	void *model;
	size_t len;

	(void)argc;
	(void)argv;
	setenv("GNARL_PLUGIN_PATH", GNARL_FUZZ_PLUGIN_DIR, 0); /* campaign.sh may point elsewhere */
	gnarl_log_set_level(GNARL_LOG_ERROR);
	snprintf(root, sizeof(root), "%s/runs", fuzz_dir());
	mkdirs(root, CKPT);
	model = slurp(GNARL_FUZZ_SOURCE_DIR "/fuzz/data/tiny/model.safetensors", &len);
	snprintf(path, sizeof(path), "%s/" CKPT "/model.safetensors", root);
	fuzz_write(path, model, len);
	free(model);
	snprintf(path, sizeof(path), "%s/tiny/checkpoints/latest", root);
	fuzz_write(path, "checkpoint_000002\n", 18);
	snprintf(path, sizeof(path), "%s/latest", root);
	fuzz_write(path, CKPT "\n", strlen(CKPT) + 1);
	snprintf(manifest, sizeof(manifest), "%s/" CKPT "/manifest.json", root);

	/* The config the seeds were trained with, as a resume would see it. */
	snprintf(sets[0], sizeof(sets[0]), "run.storage=%s", root);
	snprintf(sets[1], sizeof(sets[1]), "policy.hidden=[4]");
	snprintf(sets[2], sizeof(sets[2]), "run.name=tiny2");
	snprintf(sets[3], sizeof(sets[3]), "env.num_envs=2");
	for (int i = 0; i < 4; i++)
		set_ptrs[i] = sets[i];
	if (gnarl_config_load(GNARL_FUZZ_SOURCE_DIR "/configs/cartpole.yaml", set_ptrs, 4, &cfg,
	                      err) ||
	    gnarl_resume_facts(cfg, &facts, err) || gnarl_storage_open(cfg, root, &st, err)) {
		fprintf(stderr, "fuzz_manifest: setup: %s\n", err);
		abort();
	}
	devnull = fopen("/dev/null", "w");
	atexit(teardown);
	return 0;
}

static void use(struct gnarl_checkpoint *ck)
{
	const struct gnarl_manifest *m = gnarl_checkpoint_manifest(ck);
	struct gnarl_checkpoint_diff *d = NULL;
	char err[GNARL_ERR_SIZE];
	uint64_t s[4];

	FUZZ_CHECK(m->uri && strstr(m->uri, CKPT), "opened from elsewhere: %s", m->uri);
	for (uint32_t a = 0; a < m->n_actions; a++)
		FUZZ_CHECK(m->action_names[a] != NULL, "action %u has no name", a);
	(void)strlen(m->gnarl_version);
	(void)strlen(m->created_utc);
	(void)strlen(m->env_plugin);
	(void)gnarl_checkpoint_metric(ck, "ep_return_mean", NAN);
	(void)gnarl_checkpoint_rng(ck, "trainer", s);
	if (gnarl_checkpoint_diff(ck, cfg->root, &facts.info, &d, err) == 0) {
		gnarl_checkpoint_diff_print(d, devnull);
		if (gnarl_checkpoint_diff_check(d, err) != 0)
			FUZZ_CHECK(err[0], "a refused diff without a message");
	} else {
		FUZZ_CHECK(err[0], "a failed diff without a message");
	}
	gnarl_checkpoint_diff_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gnarl_checkpoint *ck = NULL;
	struct gnarl_checkpoint_entry *list = NULL;
	char err[GNARL_ERR_SIZE];
	size_t n = 0;
	int rc;

	if (size > 256 * 1024)
		return -1;
	fuzz_write(manifest, data, size);
	err[0] = '\0';
	rc = gnarl_checkpoint_open(cfg, st, "", "latest", 0, &ck, err);
	if (rc == 0)
		use(ck);
	else
		FUZZ_CHECK(err[0], "a refused checkpoint without a message (code %d)", rc);
	err[0] = '\0';
	if (gnarl_checkpoint_list(st, "", &list, &n, err) == 0) {
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(list[i].uri && list[i].key, "a listed checkpoint without a uri");
	} else {
		FUZZ_CHECK(err[0], "a failed listing without a message");
	}
	gnarl_checkpoint_list_free(list, n);
	gnarl_checkpoint_close(ck);
	return 0;
}
