/*
 * llm_test_host.c - the test stand-in for the plugin host (see the header).
 * Thread-safe where the ABI asks: log and metric are called from plugin
 * worker threads.
 */
#define _POSIX_C_SOURCE 200809L

#include "llm_test_host.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void th_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void host_log(const struct gnarl_host *h, enum gnarl_log_level level, const char *fmt, ...)
{
	struct test_host *th = (struct test_host *)h;
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char line[2048];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "[%s] ", names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&th->lock);
	n = (int)strlen(line);
	if (th->log_len + (size_t)n + 2 < TH_LOG_SIZE) {
		memcpy(th->log + th->log_len, line, (size_t)n);
		th->log_len += (size_t)n;
		th->log[th->log_len++] = '\n';
		th->log[th->log_len] = '\0';
	}
	if (th->echo && level <= GNARL_LOG_INFO)
		fprintf(stderr, "  plugin log: %s\n", line);
	pthread_mutex_unlock(&th->lock);
}

static const struct gnarl_value *host_param(const struct gnarl_host *h, const char *name)
{
	struct test_host *th = (struct test_host *)h;

	for (int i = 0; i < th->n_params; i++)
		if (strcmp(th->params[i].name, name) == 0)
			return &th->params[i].value;
	return NULL;
}

static void host_metric(const struct gnarl_host *h, const char *name, double value)
{
	struct test_host *th = (struct test_host *)h;
	int i;

	pthread_mutex_lock(&th->lock);
	for (i = 0; i < th->n_metrics; i++)
		if (strcmp(th->metrics[i].name, name) == 0)
			break;
	if (i == th->n_metrics && i < TH_MAX_METRICS) {
		snprintf(th->metrics[i].name, sizeof(th->metrics[i].name), "%s", name);
		th->n_metrics++;
	}
	if (i < TH_MAX_METRICS)
		th->metrics[i].value = value;
	pthread_mutex_unlock(&th->lock);
}

static int host_run_put(const struct gnarl_host *h, const char *key, const void *data, size_t len,
                        char err[GNARL_ERR_SIZE])
{
	(void)h, (void)key, (void)data, (void)len;
	snprintf(err, GNARL_ERR_SIZE, "no run storage in tests");
	return GNARL_EUNSUPPORTED;
}

void th_init(struct test_host *th, uint64_t seed)
{
	memset(th, 0, sizeof(*th));
	pthread_mutex_init(&th->lock, NULL);
	th->host.size = sizeof(th->host);
	th->host.abi_version = GNARL_ABI_VERSION;
	th->host.log = host_log;
	th->host.param = host_param;
	th->host.metric = host_metric;
	th->host.run_put = host_run_put;
	th->host.seed = seed;
	th->host.config_dir = ".";
	th->host.world_size = 1;
	th->echo = getenv("GNARL_TEST_VERBOSE") != NULL;
}

void th_clear(struct test_host *th)
{
	for (int i = 0; i < th->n_params; i++)
		free(th->params[i].text);
	memset(th->params, 0, sizeof(th->params));
	th->n_params = 0;
}

void th_fini(struct test_host *th)
{
	th_clear(th);
	pthread_mutex_destroy(&th->lock);
}

static struct th_param *slot(struct test_host *th, const char *name)
{
	struct th_param *p;

	for (int i = 0; i < th->n_params; i++)
		if (strcmp(th->params[i].name, name) == 0) {
			free(th->params[i].text);
			th->params[i].text = NULL;
			return &th->params[i];
		}
	if (th->n_params == TH_MAX_PARAMS)
		abort();
	p = &th->params[th->n_params++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

void th_set_int(struct test_host *th, const char *name, int64_t v)
{
	struct th_param *p = slot(th, name);

	memset(&p->value, 0, sizeof(p->value));
	p->value.type = GNARL_VALUE_INT;
	p->value.as.i = v;
}

void th_set_float(struct test_host *th, const char *name, double v)
{
	struct th_param *p = slot(th, name);

	memset(&p->value, 0, sizeof(p->value));
	p->value.type = GNARL_VALUE_FLOAT;
	p->value.as.f = v;
}

void th_set_string(struct test_host *th, const char *name, const char *v)
{
	struct th_param *p = slot(th, name);

	memset(&p->value, 0, sizeof(p->value));
	p->text = strdup(v);
	p->value.type = GNARL_VALUE_STRING;
	p->value.as.s = p->text;
}

void th_set_value(struct test_host *th, const char *name, const struct gnarl_value *v)
{
	struct th_param *p = slot(th, name);

	p->value = *v;
}

double th_metric(struct test_host *th, const char *name)
{
	double v = -1;

	pthread_mutex_lock(&th->lock);
	for (int i = 0; i < th->n_metrics; i++)
		if (strcmp(th->metrics[i].name, name) == 0)
			v = th->metrics[i].value;
	pthread_mutex_unlock(&th->lock);
	return v;
}

int th_log_count(struct test_host *th, const char *needle)
{
	int n = 0;

	pthread_mutex_lock(&th->lock);
	for (const char *p = th->log; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	pthread_mutex_unlock(&th->lock);
	return n;
}

bool th_wait_metric(struct test_host *th, const char *name, double value, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (th_now_ms() < end) {
		if (th_metric(th, name) >= value)
			return true;
		th_sleep_ms(2);
	}
	return th_metric(th, name) >= value;
}

const struct gnarl_plugin *th_load(const char *name, void **handle)
{
	const char *env = getenv("GNARL_PLUGIN_PATH");
	char dir[1024], path[1200];
	gnarl_plugin_entry_fn entry;

	if (env && env[0]) {
		size_t n = strcspn(env, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)n, env);
	} else {
		snprintf(dir, sizeof(dir), "%s/plugins", GNARL_BUILD_DIR);
	}
	snprintf(path, sizeof(path), "%s/%s.so", dir, name);
	*handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*handle) {
		fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
		return NULL;
	}
	*(void **)&entry = dlsym(*handle, "gnarl_plugin_entry");
	return entry ? entry() : NULL;
}
