/*
 * formats_s3_checkpoint.c - the checkpoint store on a real S3 server (the
 * `s3` CTest fixture: Ceph's RADOS gateway on 127.0.0.1): save with
 * retention, open by s3:// URI, `latest` and `tag:NAME`, load, list, and a
 * tampered model refused by checksum.  Skips (77) without the fixture.
 *
 * Reads the fixture's env file named by GNARL_S3_ENV (S3_ENDPOINT_URL and
 * credentials as shell assignments).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cannot_run.h"
#include "checkpoint.h"
#include "config.h"
#include "error.h"
#include "safetensors.h"
#include "storage.h"

#define CHECK(cond)                                                                  \
	do {                                                                             \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n  last error: %s\n", __FILE__, \
			        __LINE__, #cond, err);                                           \
			exit(1);                                                                 \
		}                                                                            \
	} while (0)

static char err[GNARL_ERR_SIZE];

static void load_fixture(void)
{
	const char *path = getenv("GNARL_S3_ENV");
	char line[1024];
	FILE *f = path ? fopen(path, "r") : NULL;

	if (!f) {
		snprintf(line, sizeof(line), "no S3 fixture (GNARL_S3_ENV=%s)", path ? path : "unset");
		gnarl_test_cannot_run(line);
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *v;
		size_t n;

		line[strcspn(line, "\r\n")] = '\0';
		if (!eq)
			continue;
		*eq = '\0';
		v = eq + 1;
		n = strlen(v);
		if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
			v[n - 1] = '\0';
			v++;
		}
		if (strcmp(line, "GNARL_S3_SKIP") == 0)
			gnarl_test_cannot_run(v);
		setenv(line, v, 1);
	}
	fclose(f);
}

static float w[64][32];

static struct gnarl_tensor tensor(void)
{
	return (struct gnarl_tensor){"policy.w", GNARL_DTYPE_F32, 2, {64, 32}, w};
}

static void save(struct gnarl_storage *st, uint64_t it, double ret)
{
	static const char *const actions[] = {"NOP", "A"};
	struct gnarl_checkpoint_metric metric = {"ep_return_mean", ret};
	struct gnarl_manifest_info info = {.iteration = it, .env_steps = it * 100, .obs_size = 32,
	                                   .n_actions = 2, .action_names = actions,
	                                   .env_plugin = "cartpole", .metrics = &metric,
	                                   .n_metrics = 1};
	struct gnarl_checkpoint_retention keep = {.keep_last = 2, .keep_best = true};
	struct gnarl_tensor t = tensor();

	for (int i = 0; i < 64 * 32; i++)
		(&w[0][0])[i] = (float)it + (float)i * 0.5f;
	CHECK(gnarl_checkpoint_save(st, "run1", &t, 1, &info, &keep, NULL, err) == 0);
}

int main(void)
{
	static const char *const sets[] = {"storage.s3.create_bucket=true"};
	struct gnarl_config *cfg = NULL;
	struct gnarl_storage *st = NULL;
	struct gnarl_checkpoint *ck = NULL;
	struct gnarl_checkpoint_entry *e = NULL;
	struct gnarl_tensor t = tensor();
	char root[128], uri[256];
	size_t n;
	void *data;
	size_t len;

	load_fixture();
	snprintf(root, sizeof(root), "s3://gnarl-ckpt-%d/runs", (int)getpid());
	CHECK(gnarl_config_load(NULL, sets, 1, &cfg, err) == 0);
	CHECK(gnarl_storage_open(cfg, root, &st, err) == 0);

	/* Best (iteration 1) and the last two survive retention. */
	save(st, 1, 100.0);
	save(st, 2, 5.0);
	save(st, 3, 6.0);
	save(st, 4, 7.0);
	CHECK(gnarl_storage_exists(st, "run1/checkpoints/checkpoint_000001/manifest.json", err) == 1);
	CHECK(gnarl_storage_exists(st, "run1/checkpoints/checkpoint_000002/manifest.json", err) == 0);
	CHECK(gnarl_storage_exists(st, "run1/checkpoints/checkpoint_000002/model.safetensors", err) ==
	      0);
	CHECK(gnarl_storage_exists(st, "run1/checkpoints/checkpoint_000004/manifest.json", err) == 1);

	/* Open by s3:// URI with its own store, verify, load. */
	snprintf(uri, sizeof(uri), "%s/run1/checkpoints/checkpoint_000003", root);
	CHECK(gnarl_checkpoint_open(cfg, NULL, NULL, uri, 0, &ck, err) == 0);
	CHECK(gnarl_checkpoint_manifest(ck)->iteration == 3);
	CHECK(strcmp(gnarl_checkpoint_manifest(ck)->uri, uri) == 0);
	memset(w, 0, sizeof(w));
	CHECK(gnarl_checkpoint_load(ck, &t, 1, GNARL_SAFETENSORS_EXACT, err) == 0);
	CHECK(w[0][0] == 3.0f && w[63][31] == 3.0f + 2047 * 0.5f);
	gnarl_checkpoint_close(ck);

	/* latest from the run root, then a tag set through the s3:// URI. */
	CHECK(gnarl_checkpoint_open(cfg, st, "", "latest", 0, &ck, err) == 0);
	CHECK(gnarl_checkpoint_manifest(ck)->iteration == 4);
	gnarl_checkpoint_close(ck);
	CHECK(gnarl_checkpoint_tag(cfg, NULL, NULL, uri, "s3_tagged", NULL, err) == 0);
	CHECK(gnarl_checkpoint_open(cfg, st, "", "tag:s3_tagged", 0, &ck, err) == 0);
	CHECK(gnarl_checkpoint_manifest(ck)->iteration == 3);
	gnarl_checkpoint_close(ck);
	save(st, 5, 1.0); /* 3 is tagged: retention keeps it */
	CHECK(gnarl_storage_exists(st, "run1/checkpoints/checkpoint_000003/manifest.json", err) == 1);

	CHECK(gnarl_checkpoint_list(st, "", &e, &n, err) == 0);
	CHECK(n == 4 && e[0].iteration == 1 && e[3].iteration == 5 && e[3].latest);
	CHECK(e[1].tags && strcmp(e[1].tags, "s3_tagged") == 0 && !isnan(e[0].ep_return_mean));
	gnarl_checkpoint_list_free(e, n);

	/* A tampered model is refused, naming the file. */
	CHECK(gnarl_storage_get(st, "run1/checkpoints/checkpoint_000003/model.safetensors", &data,
	                        &len, err) == 0);
	((char *)data)[len - 1] ^= 0x40;
	CHECK(gnarl_storage_put(st, "run1/checkpoints/checkpoint_000003/model.safetensors", data, len,
	                        err) == 0);
	free(data);
	CHECK(gnarl_checkpoint_open(cfg, NULL, NULL, uri, 0, &ck, err) == GNARL_ECORRUPT);
	CHECK(strstr(err, "checksum mismatch") && strstr(err, "checkpoint_000003/model.safetensors"));

	gnarl_storage_close(st);
	gnarl_config_free(cfg);
	printf("formats_s3_checkpoint: save, retention, open by s3:// URI, latest, tag, list and "
	       "checksum refusal all good on %s\n", root);
	return 0;
}
