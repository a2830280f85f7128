/*
 * storage_s3_faults_test.c - the `s3` plugin's error paths against real
 * processes: tests/s3/fault_proxy.py on 127.0.0.1 forwards to the
 * fixture's Ceph gateway and injects 503/429/500 replies, 4xx replies, cut
 * downloads, stalls and a failing multipart part on request; and the
 * gateway itself is stopped and restarted (tests/s3/gateway.sh) while a
 * put retries.  The proxy's request log shows how many attempts the
 * plugin made.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage_s3_util.h"

extern char **environ;

static char bucket[64];
static struct proxy proxy;

/* A store behind the proxy with fast retries. */
static void open_proxied(struct tstore *ts, struct test_host *t)
{
	char root[128], err[GNARL_ERR_SIZE];

	th_str(t, "endpoint", proxy.url);
	th_int(t, "retry_base_ms", 20);
	snprintf(root, sizeof(root), "s3://%s/f", bucket);
	if (tstore_open(ts, "s3", root, t, err) != 0)
		fail_msg("open %s: %s", root, err);
	assert_int_equal(proxy_reset(&proxy), 0);
}

static void plan(const char *fmt, ...)
{
	char json[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	assert_int_equal(proxy_plan(&proxy, json), 0);
}

static int seen(const char *needle)
{
	char *log = proxy_log(&proxy);
	int n = count_lines(log, needle);

	free(log);
	return n;
}

static void test_retry_503_then_success(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], line[128];
	unsigned char *data;
	size_t len;

	th_init(&t);
	open_proxied(&ts, &t);
	plan("[{\"match\": \"PUT /%s/f/r503\", \"status\": 503, \"code\": \"SlowDown\", "
	     "\"times\": 2}]",
	     bucket);
	assert_int_equal(tstore_put(&ts, "r503", "payload", 7, err), 0);
	snprintf(line, sizeof(line), "PUT /%s/f/r503 -> ", bucket);
	assert_int_equal(seen(line), 3);
	snprintf(line, sizeof(line), "PUT /%s/f/r503 -> 503", bucket);
	assert_int_equal(seen(line), 2);
	/* 429 once on the read: retried too. */
	plan("[{\"match\": \"GET /%s/f/r503\", \"status\": 429, \"code\": \"TooManyRequests\"}]",
	     bucket);
	assert_int_equal(tstore_get(&ts, "r503", &data, &len, err), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(data, "payload", 7);
	free(data);
	snprintf(line, sizeof(line), "GET /%s/f/r503 -> 429", bucket);
	assert_int_equal(seen(line), 1);
	tstore_close(&ts);
}

static void test_give_up_after_max_retries(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], line[128];

	th_init(&t);
	th_int(&t, "max_retries", 3);
	open_proxied(&ts, &t);
	plan("[{\"match\": \"PUT /%s/f/r500\", \"status\": 500, \"code\": \"InternalError\", "
	     "\"times\": 100}]",
	     bucket);
	assert_int_equal(tstore_put(&ts, "r500", "x", 1, err), GNARL_EAGAIN);
	assert_non_null(strstr(err, "HTTP 500 (S3 said: InternalError: injected by fault_proxy)"));
	assert_non_null(strstr(err, "gave up after 4 attempts"));
	snprintf(line, sizeof(line), "PUT /%s/f/r500 -> 500", bucket);
	assert_int_equal(seen(line), 4);
	tstore_close(&ts);
}

static void test_no_retry_on_4xx(void **state)
{
	static const struct {
		int status;
		const char *code;
		int rc;
	} cases[] = {{400, "InvalidArgument", GNARL_EPROTO},
	             {403, "AccessDenied", GNARL_EACCES},
	             {404, "NoSuchKey", GNARL_ENOENT}};
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], line[128];

	th_init(&t);
	open_proxied(&ts, &t);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(proxy_reset(&proxy), 0);
		plan("[{\"match\": \"PUT /%s/f/r4xx\", \"status\": %d, \"code\": \"%s\", "
		     "\"times\": 10}]",
		     bucket, cases[i].status, cases[i].code);
		assert_int_equal(tstore_put(&ts, "r4xx", "x", 1, err), cases[i].rc);
		assert_non_null(strstr(err, cases[i].code));
		snprintf(line, sizeof(line), "PUT /%s/f/r4xx -> ", bucket);
		assert_int_equal(seen(line), 1);
	}
	tstore_close(&ts);
}

/* Uploads still pending for objects under prefix, straight from the gateway. */
static int pending_uploads(const char *key)
{
	char path[256], etag[256], *body, needle[256];
	int n = 0;

	snprintf(path, sizeof(path), "/%s?uploads=", bucket);
	assert_int_equal(s3t_raw("GET", path, &body, etag), 200);
	snprintf(needle, sizeof(needle), "<Key>%s</Key>", key);
	for (const char *p = body; (p = strstr(p, needle)); p++)
		n++;
	free(body);
	return n;
}

static void test_multipart_failure_aborts(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], line[128];
	size_t size = 12u << 20;
	unsigned char *in = malloc(size), *out, a[32], b[32];
	size_t len;

	s3t_fill(in, size, 7);
	th_init(&t);
	th_int(&t, "multipart_threshold", 5 << 20);
	th_int(&t, "part_size", 5 << 20);
	open_proxied(&ts, &t);
	/* Part 2 is refused for good: the upload must be aborted. */
	plan("[{\"match\": \"partNumber=2&\", \"status\": 400, \"code\": \"InvalidPart\"}]");
	assert_int_equal(tstore_put(&ts, "abort.bin", in, size, err), GNARL_EPROTO);
	assert_non_null(strstr(err, "upload of part 2"));
	snprintf(line, sizeof(line), "DELETE /%s/f/abort.bin?uploadId=", bucket);
	assert_int_equal(seen(line), 1);
	assert_int_equal(seen("partNumber=3&"), 0);
	assert_int_equal(pending_uploads("f/abort.bin"), 0);
	assert_int_equal(ts.ops->exists(ts.store, "abort.bin", err), 0);

	/* Part 2 fails twice with 503, then goes: retried, completed. */
	assert_int_equal(proxy_reset(&proxy), 0);
	plan("[{\"match\": \"partNumber=2&\", \"status\": 503, \"code\": \"SlowDown\", "
	     "\"times\": 2}]");
	assert_int_equal(tstore_put(&ts, "abort.bin", in, size, err), 0);
	assert_int_equal(seen("partNumber=2&"), 3);
	assert_int_equal(pending_uploads("f/abort.bin"), 0);
	assert_int_equal(tstore_get(&ts, "abort.bin", &out, &len, err), 0);
	assert_int_equal(len, size);
	s3t_sha256(in, size, a);
	s3t_sha256(out, len, b);
	assert_memory_equal(a, b, 32);
	free(out);
	free(in);
	tstore_close(&ts);
}

static void test_cut_download_resumes(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], line[128];
	size_t size = 3u << 20;
	unsigned char *in = malloc(size), *out;
	size_t len;

	s3t_fill(in, size, 11);
	th_init(&t);
	open_proxied(&ts, &t);
	assert_int_equal(tstore_put(&ts, "cut.bin", in, size, err), 0);
	/* Two replies cut short: the sink gets each byte once, in order. */
	plan("[{\"match\": \"GET /%s/f/cut.bin\", \"action\": \"cut\", \"after_bytes\": 1000000, "
	     "\"times\": 2}]",
	     bucket);
	assert_int_equal(tstore_get(&ts, "cut.bin", &out, &len, err), 0);
	assert_int_equal(len, size);
	assert_memory_equal(out, in, size);
	snprintf(line, sizeof(line), "GET /%s/f/cut.bin -> ", bucket);
	assert_int_equal(seen(line), 3);
	assert_int_equal(seen("cut at"), 2);
	free(out);
	free(in);
	tstore_close(&ts);
}

static void test_stall_times_out_and_retries(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], line[128];
	unsigned char *out;
	size_t len;

	th_init(&t);
	th_int(&t, "timeout_ms", 1000);
	open_proxied(&ts, &t);
	assert_int_equal(tstore_put(&ts, "stall", "abc", 3, err), 0);
	plan("[{\"match\": \"GET /%s/f/stall\", \"action\": \"hang\", \"seconds\": 4}]", bucket);
	assert_int_equal(tstore_get(&ts, "stall", &out, &len, err), 0);
	assert_int_equal(len, 3);
	free(out);
	snprintf(line, sizeof(line), "GET /%s/f/stall -> hang", bucket);
	assert_int_equal(seen(line), 1);
	snprintf(line, sizeof(line), "GET /%s/f/stall -> 200", bucket);
	assert_int_equal(seen(line), 1);
	/* Stalled every time: a timeout error naming the endpoint. */
	th_int(&t, "max_retries", 1);
	tstore_close(&ts);
	open_proxied(&ts, &t);
	plan("[{\"match\": \"GET /%s/f/stall\", \"action\": \"hang\", \"seconds\": 3, "
	     "\"times\": 2}]",
	     bucket);
	assert_int_equal(tstore_get(&ts, "stall", &out, &len, err), GNARL_ETIMEDOUT);
	assert_non_null(strstr(err, proxy.url));
	tstore_close(&ts);
}

static int run_script(const char *verb, const char *delay, pid_t *pid)
{
	char script[4096];
	char *argv[] = {script, (char *)verb, (char *)s3t_env("GNARL_S3_DIR"), (char *)delay, NULL};

	snprintf(script, sizeof(script), "%s/tests/s3/gateway.sh", GNARL_SOURCE_DIR);
	return posix_spawn(pid, script, NULL, NULL, argv, environ);
}

/* The real gateway goes away and comes back while a put retries. */
static void test_gateway_restart(void **state)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], root[128];
	unsigned char *out;
	size_t len;
	pid_t stopper, starter;
	int status;

	th_init(&t);
	th_int(&t, "max_retries", 10);
	th_int(&t, "retry_base_ms", 200);
	snprintf(root, sizeof(root), "s3://%s/restart", bucket);
	assert_int_equal(tstore_open(&ts, "s3", root, &t, err), 0);
	assert_int_equal(tstore_put(&ts, "before", "1", 1, err), 0);
	assert_int_equal(run_script("stop", NULL, &stopper), 0);
	assert_int_equal(waitpid(stopper, &status, 0), stopper);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Down now: back in 1.5 s, while the put below keeps retrying. */
	assert_int_equal(run_script("start", "1.5", &starter), 0);
	assert_int_equal(tstore_put(&ts, "after", "22", 2, err), 0);
	assert_int_equal(waitpid(starter, &status, 0), starter);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(tstore_get(&ts, "after", &out, &len, err), 0);
	assert_int_equal(len, 2);
	free(out);
	assert_int_equal(tstore_get(&ts, "before", &out, &len, err), 0); /* nothing lost */
	assert_int_equal(len, 1);
	free(out);
	assert_non_null(strstr(ts.th.log, "retrying"));
	tstore_close(&ts);
}

static int setup(void **state)
{
	if (s3t_create_bucket(bucket, sizeof(bucket), "faults") < 0)
		return -1;
	if (proxy_start(&proxy) != 0) {
		fprintf(stderr, "could not start tests/s3/fault_proxy.py\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	proxy_stop(&proxy);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_503_then_success),
		cmocka_unit_test(test_give_up_after_max_retries),
		cmocka_unit_test(test_no_retry_on_4xx),
		cmocka_unit_test(test_multipart_failure_aborts),
		cmocka_unit_test(test_cut_download_resumes),
		cmocka_unit_test(test_stall_times_out_and_retries),
		cmocka_unit_test(test_gateway_restart),
	};

	s3t_load_fixture();
	return cmocka_run_group_tests_name("storage_s3_faults", tests, setup, teardown);
}
