/*
 * fuzz_run_listing.c - what gnarl reads from a store's listing of a run
 * root: the checkpoint directory names (`gnarl checkpoints list`,
 * retention), the `latest` and `tags/<name>` pointers (`--restore latest`,
 * `tag:NAME`), the kept manifests' ep_return_mean (keep_best), and the
 * episode-summary batch names a resumed run continues its numbering after.
 * A store may hold anything: objects written by other tools, a damaged
 * pointer, a hostile name.
 *
 * Input: one object per line, "KEY" or "KEY<TAB>CONTENT" ("\n" in CONTENT
 * is a newline), written into a local store before each run.
 *
 * Oracles besides the sanitizers: retention of run/ after
 * checkpoint_000007 deletes nothing outside run/checkpoints/checkpoint_*,
 * nor checkpoint_000007 itself, nor a tagged one; the summaries writer
 * starts after the last batch already there, so no key is written twice.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "checkpoint_internal.h"
#include "log.h"
#include "storage.h"
#include "summaries.h"

#define MAX_KEYS 48

struct object {
	char key[128];
	char content[256];
	bool kept;      /* retention must not remove it */
	bool written;
};

static char root[256];
static struct gnarl_storage *st;

static void teardown(void)
{
	gnarl_storage_close(st);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[GNARL_ERR_SIZE];

	(void)argc;
	(void)argv;
	setenv("GNARL_PLUGIN_PATH", GNARL_FUZZ_PLUGIN_DIR, 0);
	gnarl_log_set_level(GNARL_LOG_ERROR);
	snprintf(root, sizeof(root), "%s/store", fuzz_dir());
	mkdir(root, 0700);
	if (gnarl_storage_open(NULL, root, &st, err)) {
		fprintf(stderr, "fuzz_run_listing: %s\n", err);
		abort();
	}
	atexit(teardown);
	return 0;
}

/* A key a store could hold that is also a plain relative path here. */
static bool usable(const char *k)
{
	if (!*k || *k == '/' || k[strlen(k) - 1] == '/' || strstr(k, "//") || strstr(k, ".."))
		return false;
	for (const char *p = k; *p; p++)
		if (!(*p == '/' || *p == '.' || *p == '_' || *p == '-' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return !strstr(k, ".gnarl-tmp"); /* the local store's own temporaries */
}

static bool write_object(const char *key, const char *content)
{
	char path[512], *slash;

	snprintf(path, sizeof(path), "%s/%s", root, key);
	for (slash = path + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		if (mkdir(path, 0700) != 0 && access(path, X_OK) != 0) {
			*slash = '/';
			return false;
		}
		*slash = '/';
	}
	FILE *f = fopen(path, "wb");

	if (!f)
		return false; /* a directory of that name already */
	fputs(content, f);
	fclose(f);
	return true;
}

/* The last seq of a batch key exactly as gnarl names them, else -1. */
static long long batch_last(const char *key)
{
	const char *base = strrchr(key, '/');
	size_t i;

	/* "episodes_" 12 digits "-" 12 digits ".jsonl", directly in the
	 * worker's folder (the writer lists "<folder>/episodes_": a batch name
	 * one folder deeper is not one of its batches) */
	if (strncmp(key, "run/workers/worker_0/", 21) || base != key + 20 ||
	    strlen(base + 1) != 40 || strcmp(base + 1 + 34, ".jsonl") || strncmp(base + 1, "episodes_", 9) ||
	    base[1 + 21] != '-')
		return -1;
	for (i = 0; i < 12; i++)
		if (base[1 + 9 + i] < '0' || base[1 + 9 + i] > '9' || base[1 + 22 + i] < '0' ||
		    base[1 + 22 + i] > '9')
			return -1;
	return strtoll(base + 1 + 22, NULL, 10);
}

static size_t load(const uint8_t *data, size_t size, struct object *obj)
{
	char *text = fuzz_strndup(data, size), *line, *save = NULL;
	size_t n = 0;

	for (line = strtok_r(text, "\n", &save); line && n < MAX_KEYS;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t'), *content = tab ? tab + 1 : "";

		if (tab)
			*tab = '\0';
		if (strlen(line) >= sizeof(obj[n].key) || !usable(line))
			continue;
		for (char *p = content; (p = strstr(p, "\\n")); p++) {
			p[0] = '\n';
			memmove(p + 1, p + 2, strlen(p + 2) + 1);
		}
		snprintf(obj[n].key, sizeof(obj[n].key), "%s", line);
		snprintf(obj[n].content, sizeof(obj[n].content), "%s", content);
		obj[n].written = write_object(line, content);
		n++;
	}
	free(text);
	return n;
}

static void listings(void)
{
	static const char *const uris[][2] = {{"run", "latest"}, {"", "latest"}, {"run", "tag:best"}};
	struct gnarl_checkpoint_entry *list = NULL;
	struct gnarl_checkpoint *ck = NULL;
	char err[GNARL_ERR_SIZE];
	size_t n = 0;

	if (gnarl_checkpoint_list(st, "", &list, &n, err) == 0)
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(list[i].uri && list[i].key, "a listed checkpoint without a key");
	gnarl_checkpoint_list_free(list, n);
	for (size_t i = 0; i < 3; i++) {
		err[0] = '\0';
		if (gnarl_checkpoint_open(NULL, st, uris[i][0], uris[i][1],
		                          GNARL_CHECKPOINT_MANIFEST_ONLY, &ck, err) != 0)
			FUZZ_CHECK(err[0], "%s refused without a message", uris[i][1]);
		gnarl_checkpoint_close(ck);
		ck = NULL;
	}
}

static void summaries(const struct object *obj, size_t n)
{
	struct gnarl_summaries *s = NULL;
	struct gnarl_summaries_stats stats;
	char err[GNARL_ERR_SIZE];
	long long last = -1;

	for (size_t i = 0; i < n; i++)
		if (obj[i].written && batch_last(obj[i].key) > last)
			last = batch_last(obj[i].key);
	if (gnarl_summaries_create(st, "run", 0, NULL, 0, 4, NULL, NULL, &s, err) != 0)
		return;
	gnarl_summaries_stats(s, &stats);
	FUZZ_CHECK((long long)stats.first_seq > last, "the writer starts at seq %llu, but a batch "
	           "ending at %lld is there", (unsigned long long)stats.first_seq, last);
	gnarl_summaries_free(s);
}

static void retention(struct object *obj, size_t n)
{
	struct gnarl_checkpoint_retention keep = {.keep_last = 2, .keep_best = true};
	char err[GNARL_ERR_SIZE], path[sizeof(root) + sizeof(obj->key) + 2];

	for (size_t i = 0; i < n; i++)
		obj[i].kept = strncmp(obj[i].key, "run/checkpoints/checkpoint_", 27) ||
		              !strncmp(obj[i].key, "run/checkpoints/checkpoint_000007/", 34);
	/* A tag ("run/tags/x" holding "checkpoints/checkpoint_N") keeps its
	 * checkpoint. */
	for (size_t t = 0; t < n; t++) {
		char dir[300];
		size_t len;

		if (!obj[t].written || strncmp(obj[t].key, "run/tags/", 9))
			continue;
		len = strcspn(obj[t].content, "\n");
		snprintf(dir, sizeof(dir), "run/%.*s/", (int)len, obj[t].content);
		for (size_t i = 0; i < n; i++)
			if (!strncmp(obj[i].key, dir, strlen(dir)))
				obj[i].kept = true;
	}
	(void)gnarl_checkpoint_prune(st, "run", "checkpoint_000007", &keep, err);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%.255s/%.127s", root, obj[i].key);
		FUZZ_CHECK(!obj[i].written || !obj[i].kept || access(path, F_OK) == 0,
		           "retention removed %s", obj[i].key);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct object obj[MAX_KEYS];
	size_t n;

	if (size > 16 * 1024)
		return -1;
	fuzz_clear(root);
	memset(obj, 0, sizeof(obj));
	(void)mkdir(root, 0700);
	n = load(data, size, obj);
	listings();
	summaries(obj, n);
	retention(obj, n);
	return 0;
}
