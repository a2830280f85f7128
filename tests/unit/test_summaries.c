/*
 * test_summaries.c - core/summaries.c: records round-trip through a real
 * local store (every field of every JSON line read back), keys unique
 * across envs, ranks and a resumed writer, and the error paths: push
 * never waits for a put (a fake S3 peer holds every PUT until the test
 * opens its gate, while the real s3 plugin waits for the answer), drops
 * counted when the queue is full, flush timing out and then draining, a
 * failing store (a file where the worker directory must go) retried,
 * dropped, logged once and recovered, and free dropping what is queued.
 */
#define _GNU_SOURCE /* timegm, RUSAGE_THREAD */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"
#include "gauges.h"
#include "storage.h"
#include "summaries.h"

#include "../integration/summaries_check.h"

static char tmp_root[256];
static struct sc_read rd;

static int make_tmp(void **state)
{
	(void)state;
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/gnarl-test-summaries.XXXXXX");
	return mkdtemp(tmp_root) ? 0 : -1;
}

static int drop_tmp(void **state)
{
	char cmd[300];

	(void)state;
	sc_read_free(&rd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	return system(cmd) == 0 ? 0 : -1;
}

static struct gnarl_storage *open_local(void)
{
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE];

	if (gnarl_storage_open(NULL, tmp_root, &st, err) != 0)
		fail_msg("open %s: %s", tmp_root, err);
	return st;
}

/* ---- round trip, keys ----------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct gnarl_storage *st = open_local();
	struct gnarl_gauges *g;
	struct gnarl_summaries *s;
	struct gnarl_summaries_stats ss;
	struct gnarl_summaries_tuning tune = {
	    .batch_records = 8, .batch_ms = 20, .retries = 0, .backoff_ms = 1};
	double t0, t1;
	uint32_t i;

	(void)state;
	assert_int_equal(gnarl_gauges_create(&g), 0);
	s = sc_create(st, "run/", 3, 64, g, &tune);
	t0 = sc_now();
	for (i = 0; i < 40; i++)
		assert_int_equal(sc_push(s, i, i % 4), 0);
	t1 = sc_now();
	sc_flush(s, 30000);
	gnarl_summaries_stats(s, &ss);
	assert_int_equal(ss.pushed, 40);
	assert_int_equal(ss.queued, 40);
	assert_int_equal(ss.written, 40);
	assert_int_equal(ss.dropped_full + ss.dropped_failed + ss.failed_writes, 0);
	assert_int_equal(ss.first_seq, 0);
	assert_true(ss.objects >= 5); /* batches of at most 8 */
	assert_float_equal(gauge(g, "summaries/written"), 40, 0);
	assert_float_equal(gauge(g, "summaries/dropped"), 0, 0);
	assert_float_equal(gauge(g, "summaries/failed_writes"), 0, 0);
	gnarl_summaries_free(s);

	sc_read_dir(st, "run/workers/worker_3/", 3, &rd);
	assert_int_equal(rd.n_lines, 40);
	assert_int_equal(rd.n_objects, ss.objects);
	for (i = 0; i < 40; i++)
		sc_check(rd.lines[i], 3, i, i, i % 4, t0, t1);
	sc_read_free(&rd);
	gnarl_gauges_free(g);
	gnarl_storage_close(st);
}

/* Two ranks with the same envs and episode numbers, then rank 0 resumed
 * twice in the same run directory: every record lands once, numbered on
 * from where its rank stopped. */
static void test_keys_unique(void **state)
{
	struct gnarl_storage *st = open_local();
	struct gnarl_summaries *a, *b;
	struct gnarl_summaries_stats ss;
	struct gnarl_summaries_tuning tune = {
	    .batch_records = 4, .batch_ms = 5, .retries = 0, .backoff_ms = 1};
	uint32_t i;

	(void)state;
	a = sc_create(st, "run/", 0, 16, NULL, &tune);
	b = sc_create(st, "run", 1, 16, NULL, &tune); /* the '/' is added */
	for (i = 0; i < 10; i++) {
		assert_int_equal(sc_push(a, i, i % 2), 0);
		assert_int_equal(sc_push(b, i, i % 2), 0);
	}
	sc_flush(a, 30000);
	sc_flush(b, 30000);
	gnarl_summaries_free(a);
	gnarl_summaries_free(b);
	for (int resume = 1; resume <= 2; resume++) {
		a = sc_create(st, "run/", 0, 16, NULL, &tune);
		gnarl_summaries_stats(a, &ss);
		assert_int_equal(ss.first_seq, 10 * resume);
		for (i = 0; i < 10; i++)
			assert_int_equal(sc_push(a, 10 * resume + i, i % 2), 0);
		sc_flush(a, 30000);
		gnarl_summaries_free(a);
	}
	sc_read_dir(st, "run/workers/worker_0/", 0, &rd);
	assert_int_equal(rd.n_lines, 30);
	for (i = 0; i < 30; i++)
		sc_check(rd.lines[i], 0, i, i, i % 2, 0, 0);
	sc_read_free(&rd);
	sc_read_dir(st, "run/workers/worker_1/", 1, &rd);
	assert_int_equal(rd.n_lines, 10);
	for (i = 0; i < 10; i++)
		sc_check(rd.lines[i], 1, i, i, i % 2, 0, 0);
	sc_read_free(&rd);
	gnarl_storage_close(st);
}

/* ---- a fake S3 peer whose PUTs wait for a gate --------------------------- */

struct peer {
	int lfd, port;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open, stop;
	int puts;
	char bodies[256 * 1024];
	size_t len;
};

/* The Content-Length of a request head (0 when absent). */
static size_t content_length(const char *head, const char *end)
{
	const char *l;

	for (l = strstr(head, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
		if (strncasecmp(l + 2, "content-length:", 15) == 0)
			return strtoul(l + 17, NULL, 10);
	return 0;
}

static int read_request(struct peer *p, int fd, char *buf, size_t size)
{
	size_t have = 0, need;
	char *end = NULL;
	ssize_t n;

	while (!end) {
		n = read(fd, buf + have, size - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	need = (size_t)(end + 4 - buf) + content_length(buf, end);
	assert_true(need < size);
	while (have < need) {
		n = read(fd, buf + have, need - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	buf[have] = '\0';
	if (strncmp(buf, "PUT ", 4) == 0) {
		pthread_mutex_lock(&p->lock);
		p->puts++;
		pthread_cond_broadcast(&p->cond);
		while (!p->open && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		assert_true(p->len + (have - (size_t)(end + 4 - buf)) < sizeof(p->bodies));
		memcpy(p->bodies + p->len, end + 4, have - (size_t)(end + 4 - buf));
		p->len += have - (size_t)(end + 4 - buf);
		pthread_mutex_unlock(&p->lock);
	}
	return 0;
}

static void answer(int fd, const char *req)
{
	static const char list[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
	                           "<IsTruncated>false</IsTruncated></ListBucketResult>";
	const char *body = strncmp(req, "GET ", 4) == 0 ? list : "";
	char head[256];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nETag: \"0\"\r\n"
	                 "Content-Type: application/xml\r\n\r\n",
	                 strlen(body));

	if (write(fd, head, (size_t)n) != n || write(fd, body, strlen(body)) < 0)
		return;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	struct pollfd fds[16];
	static char buf[256 * 1024];
	nfds_t n = 1, i;

	fds[0] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		pthread_mutex_unlock(&p->lock);
		if (poll(fds, n, 20) <= 0)
			continue;
		if ((fds[0].revents & POLLIN) && n < 16)
			fds[n++] =
			    (struct pollfd){.fd = accept(p->lfd, NULL, NULL), .events = POLLIN};
		for (i = 1; i < n; i++) {
			if (!fds[i].revents)
				continue;
			if (read_request(p, fds[i].fd, buf, sizeof(buf)) < 0) {
				close(fds[i].fd);
				fds[i--] = fds[--n];
				continue;
			}
			answer(fds[i].fd, buf);
		}
	}
	for (i = 1; i < n; i++)
		close(fds[i].fd);
	return NULL;
}

static void peer_start(struct peer *p)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	memset(p, 0, sizeof(*p));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(p->lfd, 16), 0);
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &len), 0);
	p->port = ntohs(a.sin_port);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_gate(struct peer *p, bool open)
{
	pthread_mutex_lock(&p->lock);
	p->open = open;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Wait (at most 30 s, a guard against a hang) until n PUTs arrived. */
static void peer_wait_puts(struct peer *p, int n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	pthread_mutex_lock(&p->lock);
	while (p->puts < n && pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
		;
	assert_true(p->puts >= n);
	pthread_mutex_unlock(&p->lock);
}

static void peer_stop(struct peer *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	close(p->lfd);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

/* The s3 plugin, told to wait 10 minutes for an answer, on the peer. */
static struct gnarl_storage *open_peer(const struct peer *p, struct gnarl_config **cfg)
{
	struct gnarl_storage *st = NULL;
	char err[GNARL_ERR_SIZE], path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/s3.yaml", tmp_root);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "storage:\n  s3:\n    endpoint: http://127.0.0.1:%d\n    access_key: fakekey\n"
	        "    secret_key: fakesecret\n    timeout_ms: 600000\n    max_retries: 0\n",
	        p->port);
	fclose(f);
	if (gnarl_config_load(path, NULL, 0, cfg, err) != 0)
		fail_msg("config: %s", err);
	if (gnarl_storage_open(*cfg, "s3://fake/runs", &st, err) != 0)
		fail_msg("open: %s", err);
	return st;
}

static void test_push_never_blocks(void **state)
{
	static struct peer p;
	struct gnarl_config *cfg = NULL;
	struct gnarl_storage *st;
	struct gnarl_gauges *g;
	struct gnarl_summaries *s;
	struct gnarl_summaries_stats ss;
	struct gnarl_summaries_tuning tune = {
	    .batch_records = 1, .batch_ms = 0, .retries = 0, .backoff_ms = 1};
	struct capture cap;
	char err[GNARL_ERR_SIZE], *log, *line, *save = NULL;
	int busy = 0, seen[101] = {0}, rcs[101];
	struct rusage ru0, ru1;
	uint32_t i;

	(void)state;
	peer_start(&p);
	st = open_peer(&p, &cfg);
	assert_int_equal(gnarl_gauges_create(&g), 0);
	s = sc_create(st, "run/", 0, 16, g, &tune);
	capture_start(&cap, tmp_root);
	assert_int_equal(sc_push(s, 0, 0), 0);
	peer_wait_puts(&p, 1); /* the writer now waits for the peer, holding record 0 */

	/* The put is held for as long as the gate is closed: each push
	 * returning at all shows it does not wait for the writer, and the
	 * thread never gave up its CPU (a voluntary context switch is a
	 * sleep: a lock, a wait, blocking I/O). */
	assert_int_equal(getrusage(RUSAGE_THREAD, &ru0), 0);
	for (i = 1; i <= 100; i++)
		rcs[i] = sc_push(s, i, i % 3);
	assert_int_equal(getrusage(RUSAGE_THREAD, &ru1), 0);
	assert_int_equal(ru1.ru_nvcsw - ru0.ru_nvcsw, 0);
	for (i = 1; i <= 100; i++) {
		busy += rcs[i] == GNARL_EBUSY;
		assert_int_equal(rcs[i], i <= 16 ? 0 : GNARL_EBUSY);
	}
	assert_int_equal(busy, 84);
	gnarl_summaries_stats(s, &ss);
	assert_int_equal(ss.pushed, 101);
	assert_int_equal(ss.queued, 17);
	assert_int_equal(ss.dropped_full, 84);
	assert_int_equal(ss.written, 0);

	/* flush gives up, bounded, while the peer holds the put */
	assert_int_equal(gnarl_summaries_flush(s, 50, err), GNARL_ETIMEDOUT);
	assert_non_null(strstr(err, "17 still queued"));

	peer_gate(&p, true);
	sc_flush(s, 30000);
	gnarl_summaries_stats(s, &ss);
	assert_int_equal(ss.written, 17);
	assert_int_equal(ss.dropped_full, 84);
	assert_int_equal(ss.dropped_failed + ss.failed_writes, 0);
	assert_float_equal(gauge(g, "summaries/written"), 17, 0);
	assert_float_equal(gauge(g, "summaries/dropped"), 84, 0);
	assert_float_equal(gauge(g, "summaries/failed_writes"), 0, 0);
	gnarl_summaries_free(s);
	log = capture_end(&cap);
	assert_int_equal(count(log, "episode summary queue full (16 records)"), 1);
	assert_int_equal(count(log, "84 summaries dropped and 0 writes failed meanwhile"), 1);
	free(log);

	/* What the peer received: records 0..16, each once, nothing else. */
	p.bodies[p.len] = '\0';
	for (line = strtok_r(p.bodies, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);
		int64_t seq;

		assert_non_null(o);
		seq = sc_int(o, "seq");
		assert_true(seq >= 0 && seq <= 16);
		sc_check(o, 0, (uint64_t)seq, (uint32_t)seq, (uint32_t)seq % 3, 0, 0);
		seen[seq]++;
		json_decref(o);
	}
	for (i = 0; i <= 16; i++)
		assert_int_equal(seen[i], 1);
	peer_stop(&p);
	gnarl_storage_close(st);
	gnarl_config_free(cfg);
	gnarl_gauges_free(g);
}

/* ---- a failing store -------------------------------------------------------- */

/* "run/workers" is a file, so no put under it can succeed. */
static void test_failing_store(void **state)
{
	struct gnarl_storage *st = open_local();
	struct gnarl_gauges *g;
	struct gnarl_summaries *s;
	struct gnarl_summaries_stats ss;
	struct gnarl_summaries_tuning tune = {
	    .batch_records = 4, .batch_ms = 60000, .retries = 2, .backoff_ms = 1};
	struct capture cap;
	char path[300], *log;
	uint32_t i;
	FILE *f;

	(void)state;
	assert_int_equal(gnarl_gauges_create(&g), 0);
	s = sc_create(st, "run/", 0, 16, g, &tune);
	snprintf(path, sizeof(path), "%s/run", tmp_root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/run/workers", tmp_root);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);

	capture_start(&cap, tmp_root);
	for (i = 0; i < 4; i++)
		assert_int_equal(sc_push(s, i, 0), 0);
	sc_flush(s, 30000); /* drained: every record handled, here by dropping */
	gnarl_summaries_stats(s, &ss);
	assert_int_equal(ss.failed_writes, 3); /* one batch, tried 1 + 2 times */
	assert_int_equal(ss.dropped_failed, 4);
	assert_int_equal(ss.written, 0);
	assert_float_equal(gauge(g, "summaries/dropped"), 4, 0);
	assert_float_equal(gauge(g, "summaries/failed_writes"), 3, 0);

	assert_int_equal(unlink(path), 0); /* storage works again */
	for (i = 4; i < 8; i++)
		assert_int_equal(sc_push(s, i, 1), 0);
	sc_flush(s, 30000);
	gnarl_summaries_stats(s, &ss);
	assert_int_equal(ss.written, 4);
	assert_int_equal(ss.failed_writes, 3);
	assert_float_equal(gauge(g, "summaries/written"), 4, 0);
	gnarl_summaries_free(s);
	log = capture_end(&cap);
	assert_int_equal(count(log, "writing episode summaries failed"), 1);
	assert_int_equal(count(log, "run/workers/worker_0/episodes_000000000000-000000000003"), 1);
	assert_int_equal(count(log, "4 summaries dropped and 3 writes failed meanwhile"), 1);
	free(log);

	sc_read_dir(st, "run/workers/worker_0/", 0, &rd);
	assert_int_equal(rd.n_lines, 4);
	assert_int_equal(rd.n_objects, 1);
	for (i = 4; i < 8; i++)
		sc_check(rd.lines[i], 0, i, i, 1, 0, 0);
	sc_read_free(&rd);
	gnarl_gauges_free(g);
	gnarl_storage_close(st);
}

/* free without flush: queued records are dropped, said, never written. */
static void test_free_drops_queued(void **state)
{
	struct gnarl_storage *st = open_local();
	struct gnarl_summaries *s;
	struct gnarl_summaries_tuning tune = {
	    .batch_records = 8, .batch_ms = 60000, .retries = 0, .backoff_ms = 1};
	struct capture cap;
	char err[GNARL_ERR_SIZE], *log;

	(void)state;
	s = sc_create(st, "run/", 5, 16, NULL, &tune);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(sc_push(s, i, 0), 0);
	capture_start(&cap, tmp_root);
	gnarl_summaries_free(s);
	log = capture_end(&cap);
	assert_int_equal(count(log, "3 episode summaries were still queued at shutdown"), 1);
	free(log);
	assert_int_equal(gnarl_storage_exists(st, "run/workers/worker_5", err), 0);
	gnarl_storage_close(st);
}

static void test_bad_arguments(void **state)
{
	struct gnarl_storage *st = open_local();
	struct gnarl_summaries *s = (void *)1;
	const char *dup[2] = {"room", "room"};
	char err[GNARL_ERR_SIZE];
	struct sc_case c;

	(void)state;
	assert_int_equal(
	    gnarl_summaries_create(st, "r/", 0, sc_names, SC_TERMS, 0, NULL, NULL, &s, err),
	    GNARL_EINVAL);
	assert_null(s);
	assert_int_equal(gnarl_summaries_create(st, "r/", 0, dup, 2, 8, NULL, NULL, &s, err),
	                 GNARL_EINVAL);
	assert_non_null(strstr(err, "two reward terms are named 'room'"));
	assert_null(s);
	/* summaries off: the trainer may keep a NULL writer */
	sc_make(&c, 0, 0);
	assert_int_equal(gnarl_summaries_push(NULL, &c.rec), 0);
	assert_int_equal(gnarl_summaries_flush(NULL, 0, err), 0);
	gnarl_summaries_free(NULL);
	gnarl_storage_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, make_tmp, drop_tmp),
	    cmocka_unit_test_setup_teardown(test_keys_unique, make_tmp, drop_tmp),
	    cmocka_unit_test_setup_teardown(test_push_never_blocks, make_tmp, drop_tmp),
	    cmocka_unit_test_setup_teardown(test_failing_store, make_tmp, drop_tmp),
	    cmocka_unit_test_setup_teardown(test_free_drops_queued, make_tmp, drop_tmp),
	    cmocka_unit_test_setup_teardown(test_bad_arguments, make_tmp, drop_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
