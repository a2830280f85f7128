/*
 * test_llm_plugins.c - the real llm_text and llm_vision plugins against the
 * real test server process (tests/llm/server.py) on 127.0.0.1.
 *
 * Usage: test_llm_plugins <group>, group one of
 *   wire     request path, headers, JSON body, prompt filling, endpoint
 *            forms, no key in logs, the image part (checked in Python)
 *   parse    ACTION lines, JSON replies, garbage, truncated replies
 *   retry    429 + Retry-After, 500/503 retried; 400/401/404/quota not;
 *            retries exhausted; deadline
 *   breaker  opens after N failures (logged once), refuses calls, a failed
 *            probe reopens quietly, closes (logged once) when answers return
 *   flow     in-flight cap, request() never stalls on a slow or dead
 *            endpoint, destroy with requests in flight does not wait
 *   broken   replies cut short, in invalid UTF-8, or of 64 MiB: a counter
 *            each, the next request answered, memory bounded
 * Each group starts its own server and stops it by PID.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <gnarl/plugin.h>

#include "llm_fixture.h"

/* ---- retry ------------------------------------------------------------------ */

static double request_time(json_t *log, size_t i)
{
	return json_real_value(json_object_get(json_array_get(log, i), "time"));
}

static void test_retry_after_honoured(void **unused)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	json_t *log;

	(void)unused;
	fx_control("{\"script\": [{\"kind\": \"status\", \"status\": 429, \"retry_after\": 1}, "
	        "{\"kind\": \"action\", \"action\": \"B\"}], \"default\": {\"kind\": \"action\", "
	        "\"action\": \"UP\"}, \"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 0, 5, &st, -1), 0);
	assert_true(fx_wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.action, BTN_B);
	log = llm_server_log(&fx_server);
	assert_int_equal(json_array_size(log), 2);
	/* backoff is 20 ms; the server asked for 1 s */
	assert_true(request_time(log, 1) - request_time(log, 0) >= 0.99);
	json_decref(log);
	assert_int_equal((int)fx_metric(&in, "retries"), 1);
	assert_int_equal((int)fx_metric(&in, "http_errors"), 1);
	fx_inst_fini(&in);
}

static void test_retry_5xx(void **unused)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;

	(void)unused;
	fx_control("{\"script\": [{\"kind\": \"status\", \"status\": 500}, {\"kind\": \"status\", "
	        "\"status\": 503}, {\"kind\": \"action\", \"action\": \"RIGHT\"}], \"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 0, 6, &st, -1), 0);
	assert_true(fx_wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.action, RIGHT);
	assert_int_equal(llm_server_requests(&fx_server), 3);
	assert_true(fx_wait_metric(&in, "successes", 1, 2000));
	assert_int_equal((int)fx_metric(&in, "retries"), 2);
	assert_int_equal((int)fx_metric(&in, "failures"), 0);
	fx_inst_fini(&in);
}

/* One request answered by `behaviour`: expect no retry, one failure. */
static void no_retry_case(const char *behaviour)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;

	fx_control("{\"script\": [%s], \"clear_log\": true}", behaviour);
	fx_inst_init(&in, "llm_text");
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 2, 1, &st, -1), 0);
	if (!fx_wait_metric(&in, "failures", 1, 5000))
		fail_msg("%s: the request did not fail", behaviour);
	fx_expect_failed(&in, 2, 1);
	th_sleep_ms(200);  /* a retry would be due after 20-25 ms */
	assert_int_equal(in.ops->poll(in.llm, &sug, 1), 0);  /* once only */
	assert_int_equal(llm_server_requests(&fx_server), 1);
	assert_int_equal((int)fx_metric(&in, "retries"), 0);
	assert_int_equal((int)fx_metric(&in, "http_errors"), 1);
	assert_int_equal((int)fx_metric(&in, "successes"), 0);
	fx_inst_fini(&in);
}

static void test_no_retry_400(void **unused)
{
	(void)unused;
	no_retry_case("{\"kind\": \"status\", \"status\": 400}");
}

static void test_no_retry_401(void **unused)
{
	(void)unused;
	no_retry_case("{\"kind\": \"status\", \"status\": 401}");
}

static void test_no_retry_404(void **unused)
{
	(void)unused;
	no_retry_case("{\"kind\": \"status\", \"status\": 404}");
}

static void test_no_retry_quota(void **unused)
{
	(void)unused;
	no_retry_case("{\"kind\": \"quota\"}");
}

static void test_retries_exhausted(void **unused)
{
	struct gnarl_game_state st;
	struct inst in;

	(void)unused;
	fx_control("{\"script\": [], \"default\": {\"kind\": \"status\", \"status\": 503}, "
	        "\"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
	th_set_int(&in.th, "max_retries", 2);
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 0, 1, &st, -1), 0);
	assert_true(fx_wait_metric(&in, "failures", 1, 5000));
	fx_expect_failed(&in, 0, 1);
	th_sleep_ms(300);
	assert_int_equal(llm_server_requests(&fx_server), 3);
	assert_int_equal((int)fx_metric(&in, "retries"), 2);
	assert_int_equal((int)fx_metric(&in, "http_errors"), 3);
	fx_inst_fini(&in);
}

static void test_retry_after_beyond_deadline(void **unused)
{
	struct gnarl_game_state st;
	struct inst in;

	(void)unused;
	/* Retry-After 30 s with a 1 s deadline: give up now, do not sleep on it
	 * (nor wait for the deadline: that would count a retry and a timeout). */
	fx_control("{\"script\": [{\"kind\": \"status\", \"status\": 429, \"retry_after\": 30}], "
	        "\"default\": {\"kind\": \"action\", \"action\": \"UP\"}, \"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
	th_set_int(&in.th, "timeout_ms", 1000);
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 0, 1, &st, -1), 0);
	assert_true(fx_wait_metric(&in, "failures", 1, 5000));
	assert_int_equal((int)fx_metric(&in, "retries"), 0);
	assert_int_equal((int)fx_metric(&in, "timeouts"), 0);
	assert_int_equal((int)fx_metric(&in, "http_errors"), 1);
	fx_expect_failed(&in, 0, 1);
	assert_int_equal(llm_server_requests(&fx_server), 1);
	fx_inst_fini(&in);
}

static void test_timeout(void **unused)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;

	(void)unused;
	fx_control("{\"script\": [{\"kind\": \"action\", \"action\": \"UP\", \"delay_ms\": 3000}], "
	        "\"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
	th_set_int(&in.th, "timeout_ms", 300);
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 3, 1, &st, -1), 0);
	assert_true(fx_wait_metric(&in, "timeouts", 1, 5000));
	assert_int_equal((int)fx_metric(&in, "failures"), 1);
	fx_expect_failed(&in, 3, 1);
	assert_int_equal(in.ops->poll(in.llm, &sug, 1), 0);
	fx_inst_fini(&in);
}

/* ---- breaker ------------------------------------------------------------------ */

/* Ask until the breaker lets one request through (its cooldown is over and
 * the worker has noticed); return ms waited, or -1 after 5 s. */
static double submit_when_admitted(struct inst *in, uint64_t id,
                                   const struct gnarl_game_state *st)
{
	double t0 = th_now_ms();

	while (th_now_ms() - t0 < 5000) {
		if (fx_submit(in, 0, id, st, -1) == 0)
			return th_now_ms() - t0;
		th_sleep_ms(5);
	}
	return -1;
}

static void test_breaker(void **unused)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	int busy = 0;

	(void)unused;
	fx_control("{\"script\": [], \"default\": {\"kind\": \"status\", \"status\": 500}, "
	        "\"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
	th_set_int(&in.th, "max_retries", 0);
	th_set_int(&in.th, "breaker_failures", 3);
	th_set_int(&in.th, "breaker_cooldown_ms", 600);
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal((int)fx_metric(&in, "breaker_open"), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fx_submit(&in, 0, (uint64_t)i, &st, -1), 0);
		assert_true(fx_wait_metric(&in, "failures", i + 1, 5000));
		fx_expect_failed(&in, 0, (uint64_t)i);
	}
	assert_true(fx_wait_metric(&in, "breaker_open", 1, 2000));
	assert_int_equal((int)fx_metric(&in, "breaker_opens"), 1);
	assert_int_equal(th_log_count(&in.th, "circuit breaker open"), 1);
	/* Open: refused at once, nothing reaches the fx_server. */
	for (int i = 0; i < 10; i++)
		busy += fx_submit(&in, 1, 100 + (uint64_t)i, &st, -1) == GNARL_EBUSY;
	assert_int_equal(busy, 10);
	th_sleep_ms(100);
	assert_int_equal(llm_server_requests(&fx_server), 3);

	/* After the cooldown one probe goes through; it fails: open again, quietly. */
	assert_true(submit_when_admitted(&in, 200, &st) >= 0);
	assert_int_equal(fx_submit(&in, 0, 201, &st, -1), GNARL_EBUSY);  /* one probe only */
	assert_true(fx_wait_metric(&in, "failures", 4, 5000));
	fx_expect_failed(&in, 0, 200);
	assert_int_equal(fx_submit(&in, 0, 202, &st, -1), GNARL_EBUSY);
	assert_int_equal(llm_server_requests(&fx_server), 4);
	assert_int_equal(th_log_count(&in.th, "circuit breaker open"), 1);

	/* The server recovers: the next probe closes the breaker. */
	fx_control("{\"default\": {\"kind\": \"action\", \"action\": \"LEFT\"}}");
	assert_true(submit_when_admitted(&in, 300, &st) >= 0);
	assert_true(fx_wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.id, 300);
	assert_int_equal(sug.action, LEFT);
	assert_true(fx_wait_metric(&in, "successes", 1, 2000));
	assert_int_equal((int)fx_metric(&in, "breaker_open"), 0);
	assert_int_equal(th_log_count(&in.th, "circuit breaker closed"), 1);
	assert_int_equal(th_log_count(&in.th, "circuit breaker open"), 1);
	/* open from the 3rd failure to the good probe: two cooldowns at least */
	assert_true(fx_metric(&in, "breaker_open_ms") >= 1200);
	/* Closed: calls flow again. */
	assert_int_equal(fx_submit(&in, 0, 301, &st, -1), 0);
	assert_true(fx_wait_suggestion(&in, &sug, 5000));
	assert_int_equal(sug.id, 301);
	fx_inst_fini(&in);
}

/* ---- flow --------------------------------------------------------------------- */

static void test_in_flight_cap(void **unused)
{
	struct gnarl_llm_suggestion sug[4];
	struct gnarl_game_state st;
	struct inst in;
	uint32_t got = 0;

	(void)unused;
	fx_control("{\"script\": [], \"default\": {\"kind\": \"action\", \"action\": \"UP\", "
	        "\"delay_ms\": 300}, \"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
	th_set_int(&in.th, "max_in_flight", 2);
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 0, 1, &st, -1), 0);
	assert_int_equal(fx_submit(&in, 1, 2, &st, -1), 0);
	assert_int_equal(fx_submit(&in, 2, 3, &st, -1), GNARL_EBUSY);
	assert_true(fx_wait_metric(&in, "in_flight", 2, 2000));
	/* Finished but unpolled suggestions still hold their slots. */
	assert_true(fx_wait_metric(&in, "successes", 2, 5000));
	assert_int_equal(fx_submit(&in, 2, 4, &st, -1), GNARL_EBUSY);
	for (double end = th_now_ms() + 2000; got < 2 && th_now_ms() < end;)
		got += in.ops->poll(in.llm, sug + got, 4 - got);
	assert_int_equal(got, 2);
	assert_int_equal(sug[0].id + sug[1].id, 3);
	assert_int_equal(fx_submit(&in, 2, 5, &st, -1), 0);
	assert_true(fx_wait_metric(&in, "busy", 2, 1000));
	fx_inst_fini(&in);
}

/* What a hammer run saw. */
struct hammer {
	int accepted, suggestions, failures;
	int max_out;               /* most requests accepted and not yet back, after a poll */
	int empty_polls_out;       /* polls that gave nothing while requests were out */
	double max_request_ms, max_poll_ms;
	uint8_t seen[1 << 16];     /* times each request id came out of poll */
};

/* Take what poll() gives: each id must be one we had accepted, seen once. */
static void hammer_take(struct hammer *h, const struct gnarl_llm_suggestion *sug, uint32_t n,
                        const uint8_t *accepted)
{
	for (uint32_t i = 0; i < n; i++) {
		if (sug[i].id >= sizeof(h->seen) || !accepted[sug[i].id])
			fail_msg("poll gave request %llu, which was never accepted",
			         (unsigned long long)sug[i].id);
		if (h->seen[sug[i].id]++)
			fail_msg("request %llu came out of poll twice", (unsigned long long)sug[i].id);
		if (sug[i].env != sug[i].id % 4)
			fail_msg("request %llu came back for env %u", (unsigned long long)sug[i].id,
			         sug[i].env);
		if (sug[i].action >= 0)
			h->suggestions++;
		else
			h->failures++;
	}
}

/* Call request() and poll() like a fast training loop for `ms`, recording
 * the longest single call; then poll (up to drain_ms) until every accepted
 * request has come out. */
static void hammer(struct inst *in, int ms, int drain_ms, struct hammer *h)
{
	static uint8_t accepted[1 << 16];
	struct gnarl_game_state st;
	struct gnarl_llm_suggestion sug[16];
	uint64_t id = 0;

	fx_state_init(&st);
	memset(h, 0, sizeof(*h));
	memset(accepted, 0, sizeof(accepted));
	for (double end = th_now_ms() + ms; th_now_ms() < end && id < sizeof(accepted);) {
		double t0 = th_now_ms(), t1, t2;
		uint32_t got;

		if (fx_submit(in, (uint32_t)(id % 4), id, &st, -1) == 0) {
			accepted[id] = 1;
			h->accepted++;
		}
		id++;
		t1 = th_now_ms();
		got = in->ops->poll(in->llm, sug, 16);
		t2 = th_now_ms();
		hammer_take(h, sug, got, accepted);
		if (h->accepted - h->suggestions - h->failures > h->max_out)
			h->max_out = h->accepted - h->suggestions - h->failures;
		if (got == 0 && h->accepted > h->suggestions + h->failures)
			h->empty_polls_out++;
		if (t1 - t0 > h->max_request_ms)
			h->max_request_ms = t1 - t0;
		if (t2 - t1 > h->max_poll_ms)
			h->max_poll_ms = t2 - t1;
		th_sleep_ms(1);
	}
	for (double end = th_now_ms() + drain_ms;
	     h->suggestions + h->failures < h->accepted && th_now_ms() < end; th_sleep_ms(2))
		hammer_take(h, sug, in->ops->poll(in->llm, sug, 16), accepted);
	if (h->suggestions + h->failures != h->accepted)
		fail_msg("%d requests accepted, %d came out of poll", h->accepted,
		         h->suggestions + h->failures);
}

static void test_slow_server_never_stalls(void **unused)
{
	static struct hammer h;
	struct inst in;

	(void)unused;
	fx_control("{\"script\": [], \"default\": {\"kind\": \"action\", \"action\": \"UP\", "
	        "\"delay_ms\": 500}, \"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
	fx_inst_create(&in);
	hammer(&in, 1500, 5000, &h);
	print_message("slow server (500 ms): %d accepted, %d suggestions, max request() %.3f ms, "
	              "max poll() %.3f ms\n", h.accepted, h.suggestions, h.max_request_ms,
	              h.max_poll_ms);
	assert_true(h.accepted >= 8);
	assert_int_equal(h.suggestions, h.accepted);
	/* Never waiting, shown by order, not by a clock: several requests were
	 * out at once (a request() that waited for its reply would leave none
	 * out), and poll() came back empty while they were (one that waited
	 * would always bring a reply).  bench_llm measures the calls' times. */
	assert_true(h.max_out >= 2);
	assert_true(h.empty_polls_out >= 1);
	fx_inst_fini(&in);
}

static void test_dead_endpoint(void **unused)
{
	static struct hammer h;
	char url[64];
	struct inst in;

	(void)unused;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", llm_dead_port());
	fx_inst_init(&in, "llm_vision");
	th_set_string(&in.th, "endpoint", url);
	th_set_int(&in.th, "breaker_failures", 5);
	th_set_int(&in.th, "breaker_cooldown_ms", 200);
	fx_inst_create(&in);
	hammer(&in, 1500, 5000, &h);
	print_message("dead endpoint: %d accepted, transport errors %.0f, breaker opens %.0f, "
	              "max request() %.3f ms, max poll() %.3f ms\n", h.accepted,
	              fx_metric(&in, "transport_errors"), fx_metric(&in, "breaker_opens"),
	              h.max_request_ms, h.max_poll_ms);
	/* Every accepted request came back once, as a failure. */
	assert_int_equal(h.suggestions, 0);
	assert_int_equal(h.failures, h.accepted);
	assert_true(fx_wait_metric(&in, "failures", h.accepted, 2000));
	assert_true(fx_metric(&in, "transport_errors") >= 5);
	assert_true(fx_metric(&in, "breaker_opens") >= 1);
	assert_true(fx_metric(&in, "busy") >= 1);
	assert_int_equal((int)fx_metric(&in, "successes"), 0);
	assert_int_equal(th_log_count(&in.th, "circuit breaker open"), 1);
	fx_inst_fini(&in);
}

static void test_destroy_in_flight(void **unused)
{
	struct gnarl_game_state st;
	struct inst in;

	(void)unused;
	/* The server holds every reply until the test releases them: destroy
	 * returning at all shows it waited for none. */
	fx_control("{\"script\": [], \"default\": {\"kind\": \"action\", \"action\": \"UP\", "
	        "\"hold\": true}, \"clear_log\": true}");
	fx_inst_init(&in, "llm_vision");
	th_set_int(&in.th, "max_in_flight", 6);
	th_set_int(&in.th, "timeout_ms", 20000);
	fx_inst_create(&in);
	fx_state_init(&st);
	for (int i = 0; i < 6; i++)
		assert_int_equal(fx_submit(&in, (uint32_t)i % 4, (uint64_t)i, &st, -1), 0);
	assert_true(llm_server_wait_requests(&fx_server, 6, 5000));
	in.ops->destroy(in.llm);
	in.llm = NULL;
	assert_int_equal(llm_server_count(&fx_server, "answered"), 0);
	fx_control("{\"release\": true, \"default\": {\"kind\": \"action\", \"action\": "
	           "\"UP\"}}");
	fx_inst_fini(&in);
}

static void test_destroy_waiting_retry(void **unused)
{
	struct gnarl_game_state st;
	struct inst in;

	(void)unused;
	/* A retry ten minutes away, longer than ctest lets this test run:
	 * destroy returning at all shows it did not wait for it. */
	fx_control("{\"script\": [], \"default\": {\"kind\": \"status\", \"status\": 429, "
	        "\"retry_after\": 590}, \"clear_log\": true}");
	fx_inst_init(&in, "llm_text");
	th_set_int(&in.th, "timeout_ms", 600000);
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 0, 1, &st, -1), 0);
	assert_true(fx_wait_metric(&in, "retries", 1, 5000));
	in.ops->destroy(in.llm);
	in.llm = NULL;
	assert_int_equal(llm_server_requests(&fx_server), 1);
	fx_inst_fini(&in);
}

/* ---- broken replies ------------------------------------------------------ */

/* Peak resident memory of this process (kB). */
static long peak_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

/* The server answers the first request with `behaviour`: it costs one
 * `counter` and a failed request, and the next request is answered as
 * usual (nothing stuck, nothing half-kept). */
static void broken_reply(const char *behaviour, const char *counter)
{
	struct gnarl_llm_suggestion sug;
	struct gnarl_game_state st;
	struct inst in;
	char ctl[512];

	snprintf(ctl, sizeof(ctl), "{\"script\": [%s], \"default\": {\"kind\": \"action\", "
	         "\"action\": \"LEFT\"}, \"clear_log\": true}", behaviour);
	fx_control(ctl);
	fx_inst_init(&in, "llm_text");
	th_set_int(&in.th, "max_retries", 0);
	fx_inst_create(&in);
	fx_state_init(&st);
	assert_int_equal(fx_submit(&in, 0, 1, &st, -1), 0);
	assert_true(fx_wait_metric(&in, counter, 1, 30000));
	fx_expect_failed(&in, 0, 1);
	assert_int_equal((int)fx_metric(&in, "successes"), 0);
	assert_int_equal(fx_submit(&in, 1, 2, &st, -1), 0);
	assert_true(fx_wait_suggestion(&in, &sug, 30000));
	assert_int_equal(sug.id, 2);
	assert_int_equal(sug.action, LEFT);
	fx_inst_fini(&in);
}

static void test_cut_reply(void **unused)
{
	(void)unused;
	broken_reply("{\"kind\": \"cut\"}", "transport_errors");
}

static void test_invalid_utf8(void **unused)
{
	(void)unused;
	broken_reply("{\"kind\": \"bad_utf8\"}", "parse_failures");
}

/* 64 MiB of reply: the plugin stops reading at its 1 MiB cap, so this
 * process's peak memory moves by far less than the reply. */
static void test_huge_reply(void **unused)
{
	long before = peak_kb();

	(void)unused;
	broken_reply("{\"kind\": \"huge\", \"mb\": 64}", "transport_errors");
	print_message("peak RSS %ld kB before a 64 MiB reply, %ld kB after\n", before, peak_kb());
	assert_true(before > 0 && peak_kb() - before < 16 * 1024);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest retry[] = {
		cmocka_unit_test(test_retry_after_honoured),
		cmocka_unit_test(test_retry_5xx),
		cmocka_unit_test(test_no_retry_400),
		cmocka_unit_test(test_no_retry_401),
		cmocka_unit_test(test_no_retry_404),
		cmocka_unit_test(test_no_retry_quota),
		cmocka_unit_test(test_retries_exhausted),
		cmocka_unit_test(test_retry_after_beyond_deadline),
		cmocka_unit_test(test_timeout),
	};
	const struct CMUnitTest breaker[] = {
		cmocka_unit_test(test_breaker),
	};
	const struct CMUnitTest flow[] = {
		cmocka_unit_test(test_in_flight_cap),
		cmocka_unit_test(test_slow_server_never_stalls),
		cmocka_unit_test(test_dead_endpoint),
		cmocka_unit_test(test_destroy_in_flight),
		cmocka_unit_test(test_destroy_waiting_retry),
	};
	const struct CMUnitTest broken[] = {
		cmocka_unit_test(test_cut_reply),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_huge_reply),
	};
	const char *group = argc > 1 ? argv[1] : "";

#define RUN(name)                                                                             \
	if (strcmp(group, #name) == 0)                                                        \
		return cmocka_run_group_tests_name("llm_" #name, name, fx_setup_server, fx_teardown_server);
	if (strcmp(group, "wire") == 0)
		return fx_run_wire();
	if (strcmp(group, "parse") == 0)
		return fx_run_parse();
	RUN(retry)
	RUN(breaker)
	RUN(flow)
	RUN(broken)
#undef RUN
	fprintf(stderr, "usage: %s wire|parse|retry|breaker|flow|broken\n", argv[0]);
	return 2;
}
