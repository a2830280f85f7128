/*
 * storage_s3_util.h - helpers of the S3 storage tests and benchmark: the
 * fixture's env file, a minimal plugin host (params, log capture), the
 * storage plugins opened straight through their ABI, raw signed requests
 * for checks the plugin API cannot make (ETags, pending multipart
 * uploads), and the fault-injection proxy process.
 */
#ifndef GNARL_STORAGE_S3_UTIL_H
#define GNARL_STORAGE_S3_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <gnarl/plugin.h>

#define TH_MAX_PARAMS 32
#define TH_LOG_MAX (256 * 1024)

struct th_param {
	char name[64];
	struct gnarl_value v;
	char text[512];
};

/* A host table with params set by the test; log lines are kept. */
struct test_host {
	struct gnarl_host host;
	struct th_param params[TH_MAX_PARAMS];
	int n_params;
	pthread_mutex_t log_lock;
	char log[TH_LOG_MAX];
	size_t log_len;
};

struct tstore {
	void *dl;
	const struct gnarl_storage_ops *ops;
	void *store;
	struct test_host th;
};

/* Read the fixture's env file ($GNARL_S3_ENV) into the environment.
 * Exits 77 (skip) with the reason when the fixture could not run. */
void s3t_load_fixture(void);
const char *s3t_env(const char *name);  /* getenv or abort */

void th_init(struct test_host *t);
void th_str(struct test_host *t, const char *name, const char *value);
void th_int(struct test_host *t, const char *name, int64_t value);
void th_bool(struct test_host *t, const char *name, bool value);

/* Load plugin `name` from the build's plugin dir; its params from t (copied). */
int tstore_open(struct tstore *ts, const char *plugin, const char *root,
                const struct test_host *t, char err[GNARL_ERR_SIZE]);
void tstore_close(struct tstore *ts);
int tstore_put(struct tstore *ts, const char *key, const void *data, size_t len,
               char err[GNARL_ERR_SIZE]);
/* Whole object (malloc'ed). */
int tstore_get(struct tstore *ts, const char *key, unsigned char **data, size_t *len,
               char err[GNARL_ERR_SIZE]);
/* Keys (one malloc'ed "key size\n" text) of a list. */
int tstore_list(struct tstore *ts, const char *prefix, char **text, size_t *count,
                char err[GNARL_ERR_SIZE]);

/* A signed request with the fixture's credentials straight to the
 * gateway: returns the HTTP status, body (malloc'ed) and ETag. */
long s3t_raw(const char *method, const char *path_query, char **body, char etag[256]);

/* Create bucket "gnarl-<kind>-<pid>" through the plugin (its name into
 * bucket); 0 or -1 with a message on stderr. */
int s3t_create_bucket(char *bucket, size_t size, const char *kind);

/* Deterministic bytes. */
void s3t_fill(unsigned char *buf, size_t len, uint64_t seed);
void s3t_sha256(const void *data, size_t len, unsigned char out[32]);

/* The fault proxy (tests/s3/fault_proxy.py) in front of the gateway. */
struct proxy {
	pid_t pid;
	int port;
	char url[64];
};
int proxy_start(struct proxy *p);
void proxy_stop(struct proxy *p);
/* Replace the plan (JSON text); 0 on success. */
int proxy_plan(const struct proxy *p, const char *json);
/* The request log as JSON text (malloc'ed); also resets it when `reset`. */
char *proxy_log(const struct proxy *p);
int proxy_reset(const struct proxy *p);
/* How many log lines contain `needle`. */
int count_lines(const char *log, const char *needle);

#endif /* GNARL_STORAGE_S3_UTIL_H */
