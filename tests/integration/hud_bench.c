/*
 * hud_bench.c - what the web HUD costs the trainer: the time of one
 * iteration's gnarl_hud_set calls and gnarl_hud_commit (the scalars of
 * the default overworld run with one LLM source, its ~40 gauges, and the
 * advice scan of 16 envs), with no client, with an event stream being
 * read, with an event stream that stopped reading, and with a client
 * fetching the whole ring from /api/metrics in a loop; then the env
 * view's cost per step, and how long the server takes to answer
 * /api/metrics (a full ring) and /frame.png.  A program that prints
 * numbers, not a test.
 *
 * Iterations come every 100 us with clients (a real one takes tens of
 * milliseconds or more), back to back in the first case.
 *
 * Usage: bench_hud [ITERATIONS]   (default 20000)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "gauges.h"
#include "hud.h"

#define N 16
#define A 7
#define O_ENV 40
#define O (O_ENV + A + 1)

static const char *const actions[A] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};
static const char *const scalars[] = {
    "sps", "ep_return_mean", "ep_len_mean", "episodes", "policy_loss", "value_loss",
    "entropy", "approx_kl", "clipfrac", "explained_variance", "lr",
    "reward/room_discovery", "reward/grid_exploration", "reward/movement",
    "reward/dungeon_entry", "reward/combat", "reward/health", "reward/death",
    "reward/milestones", "reward/time_penalty", "reward/llm_text", "rooms_discovered",
    "dungeons_entered", "enemies_killed", "milestones"};
#define N_SCALARS (sizeof(scalars) / sizeof(scalars[0]))

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static atomic_bool stop_clients;

static int connect_local(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static int open_stream(uint16_t port)
{
	const char *req = "GET /api/events HTTP/1.0\r\n\r\n";
	int fd = connect_local(port);

	if (write(fd, req, strlen(req)) < 0)
		perror("write");
	return fd;
}

static void *read_stream(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];
	struct timeval tv = {0, 100000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!atomic_load(&stop_clients))
		if (read(fd, buf, sizeof(buf)) == 0)
			break;
	return NULL;
}

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	*(size_t *)ctx += size * n;
	return size * n;
}

struct fetcher {
	uint16_t port;
	const char *path;
	unsigned long count;
	size_t bytes;
	double seconds;
};

static void fetch(struct fetcher *f, CURL *c)
{
	char url[128];
	double t0 = now();

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", f->port, f->path);
	f->bytes = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f->bytes);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_perform(c);
	f->seconds += now() - t0;
	f->count++;
}

static void *hammer(void *arg)
{
	struct fetcher *f = arg;
	CURL *c = curl_easy_init();

	while (!atomic_load(&stop_clients))
		fetch(f, c);
	curl_easy_cleanup(c);
	return NULL;
}

static void stage_gauge(void *ctx, const char *name, double value)
{
	gnarl_hud_set(ctx, name, value);
}

/* One trainer iteration's HUD work: scalars, gauges, advice, commit. */
static void iteration(struct gnarl_hud *h, struct gnarl_gauges *g, float *obs, uint64_t it)
{
	struct gnarl_hud_iteration ci = {it, it * 4096, obs, O, O_ENV};

	for (size_t i = 0; i < N_SCALARS; i++)
		gnarl_hud_set(h, scalars[i], (double)it * 0.5 + (double)i);
	gnarl_gauges_each(g, stage_gauge, h);
	gnarl_hud_commit(h, &ci);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* iters iterations, one every `gap_us` (0: back to back); prints the mean,
 * median, 99th percentile and worst time of the HUD's part. */
static void run(const char *what, struct gnarl_hud *h, struct gnarl_gauges *g, float *obs,
                uint64_t *it, int iters, int gap_us)
{
	double *t = malloc((size_t)iters * sizeof(double)), total = 0;

	for (int i = 0; i < iters; i++) {
		double t0;

		/* a new suggestion now and then, as guidance would write */
		obs[(size_t)(i % N) * O + O_ENV + (size_t)(i % A)] = (i % 3) ? 0.0f : 1.0f;
		gnarl_gauges_set(g, "llm_text/suggestions", (double)i);
		t0 = now();
		iteration(h, g, obs, ++*it);
		t[i] = now() - t0;
		total += t[i];
		if (gap_us)
			usleep((useconds_t)gap_us);
	}
	qsort(t, (size_t)iters, sizeof(double), cmp_double);
	printf("%-40s %6.2f us mean %6.2f p50 %7.2f p99 %8.1f max\n", what, 1e6 * total / iters,
	       1e6 * t[iters / 2], 1e6 * t[iters * 99 / 100], 1e6 * t[iters - 1]);
	free(t);
}

static void trivial_step(void *env, const struct gnarl_env_io *io, uint32_t first,
                         uint32_t count)
{
	(void)env;
	for (uint32_t n = first; n < first + count; n++)
		io->obs[(size_t)n * io->obs_stride] += 1.0f;
}

static void trivial_spaces(void *env, struct gnarl_env_spaces *out)
{
	(void)env;
	*out = (struct gnarl_env_spaces){sizeof(*out), O_ENV, A, actions, true, true};
}

static void view_cost(struct gnarl_hud *h, float *obs)
{
	static const struct gnarl_env_ops ops = {
	    .size = sizeof(struct gnarl_env_ops), .spaces = trivial_spaces, .step = trivial_step};
	const struct gnarl_env_ops *vops;
	void *venv;
	int32_t acts[N] = {0};
	uint8_t want[N] = {0};
	struct gnarl_env_io io = {.size = sizeof(io), .obs_stride = O, .obs = obs,
	                          .actions = acts, .want_frame = want};
	char err[GNARL_ERR_SIZE];
	const int steps = 2000000;
	double t0, direct, viewed;

	if (gnarl_hud_watch_env(h, &ops, NULL, N, &vops, &venv, err)) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	t0 = now();
	for (int s = 0; s < steps; s++)
		ops.step(NULL, &io, 0, N);
	direct = now() - t0;
	t0 = now();
	for (int s = 0; s < steps; s++)
		vops->step(venv, &io, 0, N);
	viewed = now() - t0;
	printf("env view (advice scan of %d envs)           %8.1f ns per step over the env's "
	       "own %.1f ns\n", N, 1e9 * (viewed - direct) / steps, 1e9 * direct / steps);
	t0 = now();
	for (int i = 0; i < 200; i++) {
		gnarl_hud_arm_frame(h);
		vops->step(venv, &io, 0, N);
	}
	printf("arm_frame + an armed step                    %8.2f us (the env renders nothing "
	       "here)\n", 1e6 * (now() - t0) / 200);
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 20000;
	const char *src[] = {"llm_text"};
	const uint32_t ttl[] = {32};
	struct gnarl_hud_config cfg = {.bind = "127.0.0.1", .title = "bench"};
	struct gnarl_hud_run run_info = {"bench", N, 256, 1000, A, actions, 1, src, ttl};
	struct gnarl_hud *h;
	struct gnarl_gauges *g;
	float *obs = calloc((size_t)N * O, sizeof(float));
	char err[GNARL_ERR_SIZE];
	uint64_t it = 0;
	pthread_t th, th2;
	int fd, stalled;
	CURL *c;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (gnarl_gauges_create(&g) || gnarl_hud_create(&cfg, &h, err) ||
	    gnarl_hud_describe(h, &run_info, err)) {
		fprintf(stderr, "bench_hud: %s\n", err);
		return 1;
	}
	/* the gauges a run with llm_text publishes */
	const char *gauge_names[] = {"calls", "successes", "parse_failures", "truncated",
	                             "timeouts", "http_errors", "transport_errors", "retries",
	                             "busy", "failures", "latency_p50_ms", "latency_p95_ms",
	                             "in_flight", "breaker_open", "breaker_open_ms",
	                             "breaker_opens", "draws", "requests", "refused",
	                             "cache_hits", "suggestions", "failed", "stale",
	                             "alignment_hits", "bonus"};
	for (size_t i = 0; i < sizeof(gauge_names) / sizeof(gauge_names[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "llm_text/%s", gauge_names[i]);
		gnarl_gauges_set(g, name, (double)i);
	}
	gnarl_gauges_set(g, "summaries/written", 1);
	printf("bench_hud: %d iterations per case, %zu scalars + %zu gauges, N = %d envs\n",
	       iters, N_SCALARS, sizeof(gauge_names) / sizeof(gauge_names[0]) + 1, N);

	run("no client", h, g, obs, &it, iters, 0);
	run("no client, paced", h, g, obs, &it, iters, 100);

	fd = open_stream(gnarl_hud_port(h));
	pthread_create(&th, NULL, read_stream, &fd);
	usleep(100000);
	run("an event stream being read", h, g, obs, &it, iters, 100);

	stalled = open_stream(gnarl_hud_port(h));
	usleep(100000);
	run("... and one that stopped reading", h, g, obs, &it, iters, 100);
	printf("  (streams open after that: %u)\n", gnarl_hud_streams(h));

	struct fetcher f = {gnarl_hud_port(h), "/api/metrics", 0, 0, 0};
	pthread_create(&th2, NULL, hammer, &f);
	usleep(100000);
	run("... and /api/metrics fetched in a loop", h, g, obs, &it, iters, 100);
	atomic_store(&stop_clients, true);
	pthread_join(th, NULL);
	pthread_join(th2, NULL);
	close(fd);
	close(stalled);
	printf("  (/api/metrics: %lu fetches of %zu bytes (%u iterations), %.1f ms each)\n",
	       f.count, f.bytes, gnarl_hud_held(h), 1e3 * f.seconds / (double)f.count);

	view_cost(h, obs);
	iteration(h, g, obs, ++it);
	c = curl_easy_init();
	struct fetcher png = {gnarl_hud_port(h), "/frame.png", 0, 0, 0};
	fetch(&png, c);  /* the first encodes */
	printf("/frame.png: %zu bytes, %.2f ms to fetch with the encoding\n", png.bytes,
	       1e3 * png.seconds);
	curl_easy_cleanup(c);
	gnarl_hud_free(h);
	gnarl_gauges_free(g);
	free(obs);
	return 0;
}
