/*
 * rewards_bench.c - what the nine reward terms cost per env step, run as
 * the core runs them (plugin host, term.c, host memory for 1.1 terms):
 * N envs walk random trajectories of T steps over rooms, groups and
 * dungeons with kills, damage, deaths and treasures, P times over; every
 * term computes each step and starts an episode at each pass.  Given several plugin directories
 * (another build's plugins/, say, a 1.0 one), it measures them in turn,
 * round after round in one process, so they share the machine's load, and
 * prints each term's median ns per env step.  A program that prints
 * numbers, not a test.
 *
 *     rewards_bench [--envs N] [--steps T] [--passes P] [--rounds R] DIR...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnarl/plugin.h>

#include "plugin_host.h"
#include "term.h"

#define MAX_DIRS 4
#define MAX_ROUNDS 32

static const char *const terms[] = {"room_discovery", "grid_exploration", "movement",
                                    "dungeon_entry",  "combat",           "health",
                                    "death",          "milestones",       "time_penalty"};
#define K (sizeof(terms) / sizeof(terms[0]))

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* (T + 1, N) states of a random walk, different for every env. */
static struct gnarl_game_state *walk(uint32_t n, uint32_t t)
{
	struct gnarl_game_state *s = calloc((size_t)(t + 1) * n, sizeof(*s));
	uint64_t r = 12345;

	if (!s)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		s[i].size = GNARL_GAME_STATE_V1_SIZE;
		s[i].dungeon = -1;
		s[i].room = (int32_t)(i % 5);
		s[i].health = s[i].max_health = 12;
	}
	for (uint32_t k = 1; k <= t; k++)
		for (uint32_t i = 0; i < n; i++) {
			struct gnarl_game_state x = s[(size_t)(k - 1) * n + i];
			unsigned u;
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			u = (unsigned)(r >> 33);
			x.x = 8 + 16 * (int)(u % 10);
			x.y = 8 + 16 * (int)(u / 10 % 8);
			if (u % 7 == 0)
				x.room = (int)(u / 7 % 40);
			if (u % 11 == 0)
				x.group = (int)(u / 11 % 5);
			x.dungeon = x.group == 4 ? (int)(u % 2) : -1;
			x.enemies_killed += u % 13 == 0;
			x.health = (int)(u % 17 == 0 ? 0 : 4 + u % 9);
			x.deaths += u % 19 == 0;
			x.text_active = u % 23 == 0;
			if (u % 29 == 0)
				gnarl_set_treasure(&x, u % 2 ? GNARL_TREASURE_SWORD : GNARL_TREASURE_GNARLED_KEY);
			s[(size_t)k * n + i] = x;
		}
	return s;
}

/* ns per env step of one term of dir, over the walk. */
static double measure(const char *dir, const char *term, const struct gnarl_game_state *s,
                      uint32_t n, uint32_t t, uint32_t passes)
{
	struct gnarl_plugin_lib *lib;
	struct gnarl_plugin_host *host;
	struct gnarl_term *tm;
	char path[4096], err[GNARL_ERR_SIZE] = "";
	int32_t *actions = calloc(n, sizeof(*actions));
	float *out = calloc(n, sizeof(*out));
	double t0, sum = 0;

	snprintf(path, sizeof(path), "%s/%s.so", dir, term);
	if (!actions || !out || gnarl_plugin_open(path, GNARL_KIND_REWARD, NULL, &lib, err) ||
	    gnarl_plugin_host_create(lib, NULL, NULL, 1, term, &host, err) ||
	    gnarl_term_create(gnarl_plugin_desc(lib)->ops.reward, gnarl_plugin_host_table(host), n,
	                      &tm, err)) {
		fprintf(stderr, "rewards_bench: %s: %s\n", path, err);
		exit(1);
	}
	t0 = now();
	for (uint32_t pass = 0; pass < passes; pass++)
		for (uint32_t k = 1; k <= t; k++) {
			const struct gnarl_game_state *prev = s + (size_t)(k - 1) * n, *cur = prev + n;
			if (k == 1)
				for (uint32_t i = 0; i < n; i++)
					gnarl_term_episode_start(tm, i, &prev[i]);
			gnarl_term_compute(tm, 0, n, prev, cur, actions, out);
			sum += out[k % n];
		}
	t0 = now() - t0;
	if (sum != sum)
		printf("(nan)\n"); /* keeps the loop's results alive */
	gnarl_term_free(tm);
	gnarl_plugin_host_free(host);
	gnarl_plugin_close(lib);
	free(actions);
	free(out);
	return 1e9 * t0 / ((double)t * n * passes);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	uint32_t n = 16, t = 2048, passes = 20, rounds = 5, nd = 0;
	const char *dirs[MAX_DIRS];
	static double ns[MAX_DIRS][K][MAX_ROUNDS];
	struct gnarl_game_state *s;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--envs") && i + 1 < argc)
			n = (uint32_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
			t = (uint32_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--passes") && i + 1 < argc)
			passes = (uint32_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = (uint32_t)atoi(argv[++i]);
		else if (argv[i][0] != '-' && nd < MAX_DIRS)
			dirs[nd++] = argv[i];
		else {
			fprintf(stderr, "usage: rewards_bench [--envs N] [--steps T] [--passes P] "
			                "[--rounds R] DIR...\n");
			return 2;
		}
	}
	if (!nd || !n || !t || !passes || !rounds || rounds > MAX_ROUNDS || !(s = walk(n, t))) {
		fprintf(stderr, "usage: rewards_bench [--envs N] [--steps T] [--passes P] "
		                "[--rounds R<=%d] DIR...\n", MAX_ROUNDS);
		return 2;
	}
	for (uint32_t r = 0; r < rounds; r++)
		for (uint32_t d = 0; d < nd; d++)
			for (size_t k = 0; k < K; k++)
				ns[d][k][r] = measure(dirs[d], terms[k], s, n, t, passes);
	printf("ns per env step, median of %u rounds (%u envs x %u steps x %u passes), dirs in "
	       "turn:\n", rounds, n, t, passes);
	for (size_t k = 0; k < K + 1; k++) {
		printf("%-18s", k < K ? terms[k] : "(all nine)");
		for (uint32_t d = 0; d < nd; d++) {
			double v[MAX_ROUNDS];
			for (uint32_t r = 0; r < rounds; r++) {
				v[r] = 0;
				for (size_t j = 0; j < K; j++)
					v[r] += (k == K || j == k) ? ns[d][j][r] : 0;
			}
			qsort(v, rounds, sizeof(v[0]), cmp);
			printf(" %10.1f", v[rounds / 2]);
		}
		printf("\n");
	}
	free(s);
	return 0;
}
