/*
 * formats_gen.c - writes files for the independent Python readers
 * (formats_tfevents.py, formats_safetensors.py): a run directory with
 * progress.csv and a TensorBoard event file written through
 * core/metrics.c, and a checkpoint saved through core/checkpoint.c, all
 * on a local store, plus expected.json saying what each should hold.
 *
 * Usage: formats_gen OUTDIR [CONFIG]
 * With CONFIG, the checkpoint's manifest records that merged config (and
 * its policy section and env plugin), as the trainer's would.
 * Values come from simple formulas so the expectations are exact.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "config.h"
#include "error.h"
#include "metrics.h"
#include "registry.h"
#include "storage.h"

#define ITERATIONS 40

static const char *const names[] = {"ep_return_mean", "ep_len_mean", "policy_loss",
                                    "value_loss", "reward/room_discovery", "losses/approx_kl"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static double scalar(int it, size_t k)
{
	/* Mixed magnitudes and signs; negatives and tiny values included. */
	return (k % 2 ? -1.0 : 1.0) * (double)(it + 1) * pow(10.0, (double)k - 3.0) + 0.1 * (double)k;
}

static int write_metrics(struct gnarl_storage *st, FILE *exp, char err[GNARL_ERR_SIZE])
{
	struct gnarl_metrics *m = NULL;
	int rc = gnarl_metrics_create(NULL, st, "run", false, &m, err);

	if (rc < 0)
		return rc;
	fprintf(exp, "\"scalars\": [");
	for (int it = 1; it <= ITERATIONS && rc == 0; it++) {
		uint64_t steps = (uint64_t)it * 4096u + (it == ITERATIONS ? 5000000000ull : 0);

		gnarl_metrics_set(m, "sps", 1000.0 + it);
		for (size_t k = 0; k < N_NAMES; k++) {
			gnarl_metrics_set(m, names[k], scalar(it, k));
			fprintf(exp, "%s[\"%s\", %" PRIu64 ", %.17g]", it == 1 && k == 0 ? "" : ", ",
			        names[k], steps, scalar(it, k));
		}
		rc = gnarl_metrics_flush(m, (uint64_t)it, steps, err);
	}
	fprintf(exp, "],\n\"iterations\": %d,\n\"event_file\": \"run/%s\",\n", ITERATIONS,
	        gnarl_metrics_event_file(m));
	if (rc == 0)
		rc = gnarl_metrics_sync(m, err);
	gnarl_metrics_free(m);
	return rc;
}

static int write_checkpoint(struct gnarl_storage *st, const struct gnarl_config *cfg, FILE *exp,
                            char err[GNARL_ERR_SIZE])
{
	/* O: the overworld's observation size at its default view_radius, so
	 * `checkpoints diff` against the same config finds no change. */
	enum { O = 204, H = 256 };
	static float w[H][O], b[H];
	static double d[3];
	static int32_t i32[2][3][4];
	static int64_t i64[5];
	static uint64_t u64[4];
	static uint8_t u8[7];
	static float scalar0, empty[1];
	struct gnarl_tensor t[] = {
		{"policy.trunk.0.weight", GNARL_DTYPE_F32, 2, {H, O}, w},
		{"policy.trunk.0.bias", GNARL_DTYPE_F32, 1, {H}, b},
		{"obs_norm.var", GNARL_DTYPE_F64, 1, {3}, d},
		{"blob.i32", GNARL_DTYPE_I32, 3, {2, 3, 4}, i32},
		{"adam.step", GNARL_DTYPE_I64, 1, {5}, i64},
		{"rng.rollout", GNARL_DTYPE_U64, 1, {4}, u64},
		{"reward.room_discovery.state", GNARL_DTYPE_U8, 1, {7}, u8},
		{"scalar", GNARL_DTYPE_F32, 0, {0}, &scalar0},
		{"empty", GNARL_DTYPE_F32, 2, {0, 3}, empty},
	};
	static const char *const actions[] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};
	struct gnarl_manifest_info info = {.iteration = 150, .env_steps = 614400, .episodes = 300,
	                                   .obs_size = O, .n_actions = 7, .action_names = actions,
	                                   .env_plugin = "overworld"};
	struct gnarl_checkpoint_metric ret = {"ep_return_mean", 123.25};
	char *uri = NULL;
	int rc;

	info.metrics = &ret;
	info.n_metrics = 1;
	if (cfg) {
		info.config = cfg->root;
		info.network = gnarl_value_at(cfg->root, "policy");
		info.env_params = gnarl_value_at(cfg->root, "env.params");
		info.env_plugin = gnarl_value_string(gnarl_value_at(cfg->root, "env.plugin"), "?");
	}
	/* The formulas formats_safetensors.py recomputes with numpy. */
	for (int r = 0; r < H; r++) {
		b[r] = (float)r * -0.5f;
		for (int c = 0; c < O; c++)
			w[r][c] = (float)(r * O + c) * 0.25f - 1000.0f;
	}
	for (int k = 0; k < 3; k++)
		d[k] = 1.0 / (k + 3);
	for (int k = 0; k < 24; k++)
		(&i32[0][0][0])[k] = k * 1000003 - 7;
	for (int k = 0; k < 5; k++)
		i64[k] = (int64_t)k * -3000000000LL;
	for (int k = 0; k < 4; k++)
		u64[k] = 0xFFFFFFFFFFFFFFFFull - (uint64_t)k;
	for (int k = 0; k < 7; k++)
		u8[k] = (uint8_t)(250 + k);
	scalar0 = 3.5f;
	rc = gnarl_checkpoint_save(st, "run", t, sizeof(t) / sizeof(t[0]), &info, NULL, &uri, err);
	if (rc == 0)
		fprintf(exp, "\"checkpoint\": \"run/checkpoints/checkpoint_000150\"\n");
	free(uri);
	return rc;
}

int main(int argc, char **argv)
{
	char err[GNARL_ERR_SIZE], path[4096];
	struct gnarl_storage *st = NULL;
	struct gnarl_config *cfg = NULL;
	struct gnarl_registry *reg = NULL;
	FILE *exp;
	int rc;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: formats_gen OUTDIR [CONFIG]\n");
		return 2;
	}
	/* The registry fills every plugin's defaults into the config, as the
	 * trainer does before it records the config in a manifest. */
	rc = argc == 3 ? gnarl_config_load(argv[2], NULL, 0, &cfg, err) : 0;
	if (rc == 0 && cfg)
		rc = gnarl_registry_open(cfg, &reg, err);
	if (rc == 0)
		rc = gnarl_storage_open(NULL, argv[1], &st, err);
	if (rc < 0) {
		fprintf(stderr, "formats_gen: %s\n", err);
		gnarl_registry_free(reg);
		gnarl_config_free(cfg);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/expected.json", argv[1]);
	exp = fopen(path, "w");
	if (!exp) {
		fprintf(stderr, "formats_gen: cannot write %s (does OUTDIR exist?)\n", path);
		gnarl_storage_close(st);
		gnarl_registry_free(reg);
		gnarl_config_free(cfg);
		return 1;
	}
	fprintf(exp, "{\n");
	rc = write_metrics(st, exp, err);
	if (rc == 0)
		rc = write_checkpoint(st, cfg, exp, err);
	fprintf(exp, "}\n");
	fclose(exp);
	gnarl_storage_close(st);
	gnarl_registry_free(reg);
	gnarl_config_free(cfg);
	if (rc < 0) {
		fprintf(stderr, "formats_gen: %s\n", err);
		return 1;
	}
	return 0;
}
