/*
 * storage_s3_util.c - see storage_s3_util.h.  The plugin is opened with
 * dlopen and driven through its ABI exactly as the core does, with a host
 * table of our own, so these tests need nothing but the plugin and the
 * fixture's gateway.
 */
#define _POSIX_C_SOURCE 200809L

#include "storage_s3_util.h"

#include "../cannot_run.h"

#include <dlfcn.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

extern char **environ;

const char *s3t_env(const char *name)
{
	const char *v = getenv(name);

	if (!v) {
		fprintf(stderr, "%s is not set\n", name);
		abort();
	}
	return v;
}

void s3t_load_fixture(void)
{
	const char *path = getenv("GNARL_S3_ENV");
	char line[1024], *eq, *value;
	size_t n;
	FILE *f;

	if (!path)
		gnarl_test_cannot_run("GNARL_S3_ENV is not set (run through ctest, which starts the "
		                      "fixture)");
	f = fopen(path, "r");
	if (!f) {
		snprintf(line, sizeof(line), "no S3 fixture env file %s (did the s3 fixture start?)",
		         path);
		gnarl_test_cannot_run(line);
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		value = eq + 1;
		n = strlen(value);
		if (n >= 2 && value[0] == '"' && value[n - 1] == '"') { /* shell quoting */
			value[n - 1] = '\0';
			value++;
		}
		if (strcmp(line, "GNARL_S3_SKIP") == 0)
			gnarl_test_cannot_run(value);
		setenv(line, value, 1);
	}
	fclose(f);
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void th_log(const struct gnarl_host *h, enum gnarl_log_level level, const char *fmt, ...)
{
	struct test_host *t = h->host_data;
	char line[2048];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "  [plugin log %d] %s\n", (int)level, line);
	pthread_mutex_lock(&t->log_lock);
	n = strlen(line);
	if (t->log_len + n + 2 < TH_LOG_MAX) {
		memcpy(t->log + t->log_len, line, n);
		t->log_len += n;
		t->log[t->log_len++] = '\n';
		t->log[t->log_len] = '\0';
	}
	pthread_mutex_unlock(&t->log_lock);
}

static const struct gnarl_value *th_param(const struct gnarl_host *h, const char *name)
{
	const struct test_host *t = h->host_data;

	for (int i = 0; i < t->n_params; i++)
		if (strcmp(t->params[i].name, name) == 0)
			return &t->params[i].v;
	return NULL;
}

static void th_metric(const struct gnarl_host *h, const char *name, double value)
{
}

void th_init(struct test_host *t)
{
	memset(t, 0, sizeof(*t));
	t->host.size = sizeof(t->host);
	t->host.abi_version = GNARL_ABI_VERSION;
	t->host.log = th_log;
	t->host.param = th_param;
	t->host.metric = th_metric;
	t->host.seed = 12345;
	t->host.config_dir = ".";
	t->host.world_size = 1;
	t->host.host_data = t;
	pthread_mutex_init(&t->log_lock, NULL);
}

static struct th_param *slot(struct test_host *t, const char *name)
{
	for (int i = 0; i < t->n_params; i++)
		if (strcmp(t->params[i].name, name) == 0)
			return &t->params[i];
	if (t->n_params == TH_MAX_PARAMS)
		abort();
	snprintf(t->params[t->n_params].name, sizeof(t->params[0].name), "%s", name);
	return &t->params[t->n_params++];
}

void th_str(struct test_host *t, const char *name, const char *value)
{
	struct th_param *p = slot(t, name);

	snprintf(p->text, sizeof(p->text), "%s", value);
	p->v.type = GNARL_VALUE_STRING;
	p->v.as.s = p->text;
}

void th_int(struct test_host *t, const char *name, int64_t value)
{
	struct th_param *p = slot(t, name);

	p->v.type = GNARL_VALUE_INT;
	p->v.as.i = value;
}

void th_bool(struct test_host *t, const char *name, bool value)
{
	struct th_param *p = slot(t, name);

	p->v.type = GNARL_VALUE_BOOL;
	p->v.as.b = value;
}

int tstore_open(struct tstore *ts, const char *plugin, const char *root,
                const struct test_host *t, char err[GNARL_ERR_SIZE])
{
	char path[512];
	gnarl_plugin_entry_fn entry;
	const struct gnarl_plugin *desc;

	memset(ts, 0, sizeof(*ts));
	memcpy(&ts->th, t, sizeof(*t));
	ts->th.host.host_data = &ts->th;
	for (int i = 0; i < ts->th.n_params; i++)
		if (ts->th.params[i].v.type == GNARL_VALUE_STRING)
			ts->th.params[i].v.as.s = ts->th.params[i].text;
	pthread_mutex_init(&ts->th.log_lock, NULL);
	snprintf(path, sizeof(path), "%s/%s.so", GNARL_PLUGIN_DIR, plugin);
	ts->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!ts->dl) {
		snprintf(err, GNARL_ERR_SIZE, "dlopen %.400s: %.500s", path, dlerror());
		return GNARL_EIO;
	}
	*(void **)&entry = dlsym(ts->dl, "gnarl_plugin_entry");
	desc = entry ? entry() : NULL;
	if (!desc || desc->kind != GNARL_KIND_STORAGE) {
		snprintf(err, GNARL_ERR_SIZE, "%.500s: not a storage plugin", path);
		return GNARL_EKIND;
	}
	ts->ops = desc->ops.storage;
	err[0] = '\0';
	ts->store = ts->ops->create(&ts->th.host, root, err);
	return ts->store ? 0 : GNARL_EIO;
}

void tstore_close(struct tstore *ts)
{
	if (ts->ops && ts->store)
		ts->ops->destroy(ts->store);
	if (ts->dl)
		dlclose(ts->dl);
	ts->store = NULL;
	ts->dl = NULL;
}

int tstore_put(struct tstore *ts, const char *key, const void *data, size_t len,
               char err[GNARL_ERR_SIZE])
{
	err[0] = '\0';
	return ts->ops->put(ts->store, key, data, len, err);
}

struct buf {
	unsigned char *data;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		unsigned char *p = realloc(b->data, cap);
		if (!p)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return 0;
}

static int sink(void *ctx, const void *data, size_t len)
{
	return buf_add(ctx, data, len);
}

int tstore_get(struct tstore *ts, const char *key, unsigned char **data, size_t *len,
               char err[GNARL_ERR_SIZE])
{
	struct buf b = {0};
	int rc;

	err[0] = '\0';
	buf_add(&b, "", 0);
	rc = ts->ops->get(ts->store, key, sink, &b, err);
	if (rc < 0) {
		free(b.data);
		return rc;
	}
	*data = b.data;
	*len = b.len;
	return 0;
}

struct listing {
	struct buf text;
	size_t count;
};

static int list_each(void *ctx, const char *key, uint64_t size)
{
	struct listing *l = ctx;
	char line[2048];

	snprintf(line, sizeof(line), "%s %llu\n", key, (unsigned long long)size);
	l->count++;
	return buf_add(&l->text, line, strlen(line));
}

int tstore_list(struct tstore *ts, const char *prefix, char **text, size_t *count,
                char err[GNARL_ERR_SIZE])
{
	struct listing l = {0};
	int rc;

	err[0] = '\0';
	buf_add(&l.text, "", 0);
	rc = ts->ops->list(ts->store, prefix, list_each, &l, err);
	*text = (char *)l.text.data;
	*count = l.count;
	return rc;
}

static size_t raw_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	return buf_add(ctx, data, size * nmemb) == 0 ? size * nmemb : 0;
}

static size_t raw_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	char *etag = ctx;
	size_t n = size * nmemb;

	if (n > 6 && strncasecmp(data, "ETag: ", 6) == 0)
		snprintf(etag, 256, "%.*s", (int)strcspn(data + 6, "\r\n"), data + 6);
	return n;
}

long s3t_raw(const char *method, const char *path_query, char **body, char etag[256])
{
	char url[2048], userpwd[512], sigv4[128];
	struct curl_slist *h = NULL;
	struct buf b = {0};
	long status = 0;
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s%s", s3t_env("S3_ENDPOINT_URL"), path_query);
	snprintf(userpwd, sizeof(userpwd), "%s:%s", s3t_env("S3_ACCESS_KEY_ID"),
	         s3t_env("S3_SECRET_ACCESS_KEY"));
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", s3t_env("S3_REGION_NAME"));
	h = curl_slist_append(h, "x-amz-content-sha256: "
	                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	buf_add(&b, "", 0);
	etag[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, raw_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, etag);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (body)
		*body = (char *)b.data;
	else
		free(b.data);
	return status;
}

void s3t_fill(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)(x >> 24);
	}
}

void s3t_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	EVP_Digest(len ? data : "", len, out, &n, EVP_sha256(), NULL);
}

int proxy_start(struct proxy *p)
{
	char port_file[256], script[4096];
	const char *upstream = s3t_env("S3_ENDPOINT_URL");
	char *argv[] = {GNARL_PYTHON, script, "--upstream", (char *)upstream, "--port-file",
	                port_file, NULL};
	FILE *f;

	snprintf(script, sizeof(script), "%s/tests/s3/fault_proxy.py", GNARL_SOURCE_DIR);
	snprintf(port_file, sizeof(port_file), "/tmp/gnarl-fault-proxy.%ld.port", (long)getpid());
	unlink(port_file);
	if (posix_spawn(&p->pid, GNARL_PYTHON, NULL, NULL, argv, environ) != 0)
		return -1;
	for (int i = 0; i < 200; i++) { /* 10 s */
		if ((f = fopen(port_file, "r"))) {
			int ok = fscanf(f, "%d", &p->port) == 1;
			fclose(f);
			unlink(port_file);
			if (!ok)
				break;
			snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
			return 0;
		}
		nanosleep(&(struct timespec){0, 50000000L}, NULL);
	}
	proxy_stop(p);
	return -1;
}

void proxy_stop(struct proxy *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = 0;
}

static long control(const struct proxy *p, const char *path, const char *post, char **out)
{
	char url[256];
	struct buf b = {0};
	long status = 0;
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s%s", p->url, path);
	buf_add(&b, "", 0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (post)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (out)
		*out = (char *)b.data;
	else
		free(b.data);
	return status;
}

int proxy_plan(const struct proxy *p, const char *json)
{
	return control(p, "/__fault__/plan", json, NULL) == 200 ? 0 : -1;
}

char *proxy_log(const struct proxy *p)
{
	char *out = NULL;

	control(p, "/__fault__/log", NULL, &out);
	return out;
}

int proxy_reset(const struct proxy *p)
{
	return control(p, "/__fault__/reset", "", NULL) == 200 ? 0 : -1;
}

int count_lines(const char *log, const char *needle)
{
	int n = 0;

	/* The log is a JSON list of strings: count entries with the needle. */
	for (const char *p = log; p && (p = strstr(p, "\"")); p++) {
		const char *end = strchr(p + 1, '"');
		if (!end)
			break;
		size_t len = (size_t)(end - p - 1), nl = strlen(needle);
		for (size_t i = 0; i + nl <= len; i++)
			if (memcmp(p + 1 + i, needle, nl) == 0) {
				n++;
				break;
			}
		p = end;
	}
	return n;
}

int s3t_create_bucket(char *bucket, size_t size, const char *kind)
{
	struct test_host t;
	struct tstore ts;
	char err[GNARL_ERR_SIZE], root[128];

	snprintf(bucket, size, "gnarl-%s-%ld", kind, (long)getpid());
	snprintf(root, sizeof(root), "s3://%s", bucket);
	th_init(&t);
	th_bool(&t, "create_bucket", true);
	if (tstore_open(&ts, "s3", root, &t, err) != 0) {
		fprintf(stderr, "creating bucket %s: %s\n", bucket, err);
		tstore_close(&ts);
		return -1;
	}
	tstore_close(&ts);
	return 0;
}
