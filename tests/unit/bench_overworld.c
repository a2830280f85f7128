/*
 * bench_overworld.c - micro-benchmark of the overworld env plugin alone:
 * loads overworld.so through the ABI, steps N envs with random actions on
 * one thread (resetting finished episodes, writing observations and game
 * states as a rollout does) and prints env steps per second; then the cost
 * of rendering a frame.  A program that prints numbers, not a test.
 *
 *     bench_overworld [--envs N] [--steps TOTAL] [--frames] [path/to/overworld.so]
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnarl/plugin.h>

/* No params given: the plugin uses its declared defaults. */
static const struct gnarl_value *param(const struct gnarl_host *h, const char *name)
{
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *path = GNARL_PLUGIN_FILE;
	uint32_t n = 64;
	long total = 20000000;
	int frames = 0;
	char err[GNARL_ERR_SIZE] = "";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--envs") && i + 1 < argc)
			n = (uint32_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
			total = atol(argv[++i]);
		else if (!strcmp(argv[i], "--frames"))
			frames = 1;
		else
			path = argv[i];
	}
	void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		fprintf(stderr, "bench_overworld: %s\n", dlerror());
		return 1;
	}
	gnarl_plugin_entry_fn entry;
	*(void **)&entry = dlsym(so, "gnarl_plugin_entry");
	const struct gnarl_plugin *desc = entry();
	struct gnarl_host host = {.size = sizeof(host), .abi_version = GNARL_ABI_VERSION,
	                          .param = param, .seed = 1};
	const struct gnarl_env_ops *ops = desc->ops.env;
	void *env = ops->create(&host, n, err);
	if (!env) {
		fprintf(stderr, "bench_overworld: %s\n", err);
		return 1;
	}
	struct gnarl_env_spaces sp;
	ops->spaces(env, &sp);
	float *obs = calloc((size_t)n * sp.obs_dim, sizeof(float));
	struct gnarl_game_state *st = calloc(n, sizeof(*st));
	int32_t *act = calloc(n, sizeof(*act));
	int32_t *table = malloc(65536 * sizeof(*table));
	float *rew = calloc(n, sizeof(float));
	uint8_t *done = calloc(n, 1), *want = calloc(n, 1), *rgb = calloc(n, GNARL_FRAME_BYTES);
	struct gnarl_env_io io = {sizeof(io), sp.obs_dim, obs, st, act, rew, done, want, rgb};
	uint64_t r = 42, episodes = 0;
	long steps = 0, rounds = total / n;

	for (int i = 0; i < 65536; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		table[i] = (int32_t)((r >> 33) % sp.n_actions);
	}
	want[0] = (uint8_t)frames;
	for (uint32_t i = 0; i < n; i++)
		ops->reset(env, &io, i, i);
	double t0 = now();
	for (long t = 0; t < rounds; t++) {
		for (uint32_t i = 0; i < n; i++)
			act[i] = table[(t * n + i) & 65535];
		ops->step(env, &io, 0, n);
		for (uint32_t i = 0; i < n; i++)
			if (done[i]) {
				ops->reset(env, &io, i, (uint64_t)t * n + i);
				episodes++;
			}
		steps += n;
	}
	double dt = now() - t0;
	double sps = (double)steps / dt;
	printf("overworld: %u envs, obs %u floats, %ld steps in %.3f s: %.0f env steps/s "
	       "(%.1f ns/step, one thread%s), %llu episodes\n",
	       n, sp.obs_dim, steps, dt, (double)steps / dt, 1e9 * dt / (double)steps,
	       frames ? ", env 0 rendering every step" : "", (unsigned long long)episodes);
	/* Rendering alone: every env renders every step. */
	memset(want, 1, n);
	long fsteps = 0;
	t0 = now();
	while (now() - t0 < 0.5) {
		for (uint32_t i = 0; i < n; i++)
			act[i] = table[(fsteps + i) & 65535];
		ops->step(env, &io, 0, n);
		for (uint32_t i = 0; i < n; i++)
			if (done[i])
				ops->reset(env, &io, i, (uint64_t)fsteps + i);
		fsteps += n;
	}
	dt = now() - t0;
	printf("overworld: with a frame every step: %.0f env steps/s (%.1f us/frame)\n",
	       (double)fsteps / dt, 1e6 * dt / (double)fsteps);
	/* The figures must be measurements: finite, positive, and rendering
	 * every frame no faster than stepping alone (the same steps plus the
	 * frames; a quarter of slack for the machine's noise). */
	if (!(isfinite(sps) && sps > 0 && fsteps > 0 && episodes > 0 &&
	      (double)fsteps / dt <= 1.25 * sps)) {
		fprintf(stderr, "bench_overworld: inconsistent figures: %.0f steps/s, %.0f with "
		        "frames, %llu episodes\n", sps, (double)fsteps / dt,
		        (unsigned long long)episodes);
		return 1;
	}
	ops->destroy(env);
	free(obs);
	free(st);
	free(act);
	free(table);
	free(rew);
	free(done);
	free(want);
	free(rgb);
	dlclose(so);
	return 0;
}
