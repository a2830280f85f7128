/*
 * llm_test_host.h - a stand-in for the core's plugin host, for driving the
 * LLM plugins directly in tests: parameters set by the test, gauges kept in
 * a table the test reads, log lines kept so a test can assert what was (and
 * what was never) logged, and dlopen of a plugin from the build's plugin
 * directory.
 */
#ifndef GNARL_LLM_TEST_HOST_H
#define GNARL_LLM_TEST_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#define TH_MAX_PARAMS 32
#define TH_MAX_METRICS 64
#define TH_LOG_SIZE (256 * 1024)

struct th_param {
	char name[64];
	struct gnarl_value value;
	char *text;                /* STRING values: owned copy */
};

struct th_metric {
	char name[64];
	double value;
};

struct test_host {
	struct gnarl_host host;    /* first: plugins get &th->host */
	pthread_mutex_t lock;
	struct th_param params[TH_MAX_PARAMS];
	int n_params;
	struct th_metric metrics[TH_MAX_METRICS];
	int n_metrics;
	char log[TH_LOG_SIZE];
	size_t log_len;
	bool echo;                 /* also print log lines on stderr */
};

void th_init(struct test_host *th, uint64_t seed);
void th_fini(struct test_host *th);
void th_set_int(struct test_host *th, const char *name, int64_t v);
void th_set_float(struct test_host *th, const char *name, double v);
void th_set_string(struct test_host *th, const char *name, const char *v);
/* Forget every parameter set so far. */
void th_clear(struct test_host *th);
/* A value the test owns (maps); borrowed until th_fini. */
void th_set_value(struct test_host *th, const char *name, const struct gnarl_value *v);

/* The latest value of gauge name, or -1 when never set. */
double th_metric(struct test_host *th, const char *name);
/* How many log lines contain needle. */
int th_log_count(struct test_host *th, const char *needle);
/* Wait (polling every 2 ms) until gauge name >= value; false on timeout. */
bool th_wait_metric(struct test_host *th, const char *name, double value, int timeout_ms);

/* dlopen <plugin dir>/<name>.so (GNARL_PLUGIN_PATH's first directory, else
 * the build's plugins/) and return its descriptor; *handle for dlclose. */
const struct gnarl_plugin *th_load(const char *name, void **handle);

double th_now_ms(void);
void th_sleep_ms(int ms);

#endif /* GNARL_LLM_TEST_HOST_H */
