/*
 * s3.c - the `s3` storage plugin: objects in a bucket of any
 * S3-compatible store (AWS, MinIO, Ceph RGW), root URI
 * "s3://bucket/prefix"; key K is object "<prefix param>/<prefix>/K".
 *
 * Entry: gnarl_plugin_entry() -> storage ops.  put uploads in one PUT up
 * to multipart_threshold and in parts above it (s3_multipart.c); get
 * streams to the host's sink; list pages through ListObjectsV2 with
 * continuation tokens; remove is DELETE (a missing key is fine); exists is
 * HEAD.  Requests, signing and retries live in s3_request.c/s3_retry.c.
 *
 * Settings come from the params, else S3_ENDPOINT_URL, S3_ACCESS_KEY_ID,
 * S3_SECRET_ACCESS_KEY, S3_REGION_NAME (default us-east-1).  With an
 * endpoint, URLs are path-style (MinIO, Ceph); without one the store is
 * AWS and URLs are virtual-host style; `path_style` overrides either.
 * The secret lives only in the store's userpwd, handed to curl; no
 * message or log line contains it.
 *
 * Thread safety: after create the store is read-only except for its
 * handle pool (mutex) and jitter counter (atomic).
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A string param, else the environment variable, else NULL. */
static const char *setting(const struct gnarl_host *h, const char *param, const char *env)
{
	const char *v = gnarl_param_string(h, param, NULL);

	if (!v || !*v)
		v = env ? getenv(env) : NULL;
	return v && *v ? v : NULL;
}

/* Append path piece p (slashes trimmed) and a '/' to prefix. */
static void add_prefix(char *out, size_t size, const char *p)
{
	size_t n;

	while (p && *p == '/')
		p++;
	if (!p || !*p)
		return;
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	snprintf(out + strlen(out), size - strlen(out), "%.*s/", (int)n, p);
}

static bool bucket_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63)
		return false;
	for (; *b; b++)
		if (!islower((unsigned char)*b) && !isdigit((unsigned char)*b) && *b != '.' &&
		    *b != '-' && *b != '_')
			return false;
	return true;
}

static void s3_destroy(void *store)
{
	struct s3_store *s = store;

	if (!s)
		return;
	s3_pool_free(s);
	pthread_mutex_destroy(&s->pool_lock);
	free(s->endpoint);
	free(s->region);
	free(s->bucket);
	free(s->prefix);
	free(s->access_key);
	if (s->userpwd) /* do not leave the secret in freed memory */
		memset(s->userpwd, 0, strlen(s->userpwd));
	free(s->userpwd);
	free(s->sigv4);
	free(s);
}

static int create_bucket(struct s3_store *s, char err[GNARL_ERR_SIZE]);

/* Bucket and prefix from "s3://bucket/a/b" and the params. */
static int parse_root(struct s3_store *s, const char *root_uri, char err[GNARL_ERR_SIZE])
{
	const char *p = root_uri + 5, *slash = strchr(p, '/');
	const char *param_bucket = gnarl_param_string(s->host, "bucket", NULL);
	size_t n = slash ? (size_t)(slash - p) : strlen(p);
	size_t psize = strlen(root_uri) + 1024;

	if (n > 0) {
		s->bucket = strndup(p, n);
		if (s->bucket && param_bucket && *param_bucket && strcmp(param_bucket, s->bucket) != 0)
			return s3_fail(err, GNARL_ECONFIG,
			               "s3 storage %s: the URI names bucket '%s' but storage.s3.bucket is "
			               "'%s': remove one",
			               root_uri, s->bucket, param_bucket);
	} else if (param_bucket && *param_bucket) {
		s->bucket = strdup(param_bucket);
	} else {
		return s3_fail(err, GNARL_ECONFIG,
		               "s3 storage %s: no bucket: write s3://BUCKET/PREFIX or set "
		               "storage.s3.bucket",
		               root_uri);
	}
	s->prefix = calloc(1, psize);
	if (!s->bucket || !s->prefix)
		return s3_fail(err, GNARL_ENOMEM, "s3 storage %s: out of memory", root_uri);
	if (!bucket_ok(s->bucket))
		return s3_fail(err, GNARL_ECONFIG,
		               "s3 storage %s: '%s' is not a valid bucket name (3-63 characters of a-z, "
		               "0-9, '.', '-')",
		               root_uri, s->bucket);
	add_prefix(s->prefix, psize, gnarl_param_string(s->host, "prefix", NULL));
	add_prefix(s->prefix, psize, slash);
	return 0;
}

/* Endpoint, region, credentials and style. */
static int parse_settings(struct s3_store *s, const char *root_uri, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *style = s->host->param(s->host, "path_style");
	const char *endpoint = setting(s->host, "endpoint", "S3_ENDPOINT_URL");
	const char *region = setting(s->host, "region", "S3_REGION_NAME");
	const char *ak = setting(s->host, "access_key", "S3_ACCESS_KEY_ID");
	const char *sk = setting(s->host, "secret_key", "S3_SECRET_ACCESS_KEY");
	size_t n;

	s->region = strdup(region ? region : S3_DEFAULT_REGION);
	if (!s->region)
		return s3_fail(err, GNARL_ENOMEM, "s3 storage: out of memory");
	if (endpoint) {
		if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
			return s3_fail(err, GNARL_ECONFIG,
			               "s3 storage %s: endpoint '%s' must start with http:// or https://",
			               root_uri, endpoint);
		s->endpoint = strdup(endpoint);
	} else {
		n = strlen(s->region) + 32;
		if ((s->endpoint = malloc(n)))
			snprintf(s->endpoint, n, "https://s3.%s.amazonaws.com", s->region);
	}
	if (!s->endpoint)
		return s3_fail(err, GNARL_ENOMEM, "s3 storage: out of memory");
	n = strlen(s->endpoint);
	while (n > 8 && s->endpoint[n - 1] == '/')
		s->endpoint[--n] = '\0';
	s->path_style = style && style->type == GNARL_VALUE_BOOL ? style->as.b : endpoint != NULL;
	if (!ak || !sk)
		return s3_fail(err, GNARL_ECONFIG,
		               "s3 storage %s: no credentials: set storage.s3.access_key and "
		               "storage.s3.secret_key, or S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY",
		               root_uri);
	n = strlen(ak) + strlen(sk) + 2;
	s->access_key = strdup(ak);
	if ((s->userpwd = malloc(n)))
		snprintf(s->userpwd, n, "%s:%s", ak, sk);
	n = strlen(s->region) + 16;
	if ((s->sigv4 = malloc(n)))
		snprintf(s->sigv4, n, "aws:amz:%s:s3", s->region);
	if (!s->access_key || !s->userpwd || !s->sigv4)
		return s3_fail(err, GNARL_ENOMEM, "s3 storage: out of memory");
	return 0;
}

static void *s3_create(const struct gnarl_host *host, const char *root_uri,
                       char err[GNARL_ERR_SIZE])
{
	struct s3_store *s;

	if (strncmp(root_uri, "s3://", 5) != 0) {
		s3_fail(err, GNARL_EINVAL, "s3 storage: '%s' is not an s3://BUCKET/PREFIX URI",
		        root_uri);
		return NULL;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		s3_fail(err, GNARL_EIO, "s3 storage: libcurl failed to initialise: %s",
		        curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		s3_fail(err, GNARL_ENOMEM, "s3 storage: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->pool_lock, NULL);
	s->host = host;
	s->seed = host->seed;
	atomic_init(&s->draws, 0);
	s->connect_timeout_ms = (long)gnarl_param_int(host, "connect_timeout_ms",
	                                              S3_DEFAULT_CONNECT_TIMEOUT_MS);
	s->timeout_ms = (long)gnarl_param_int(host, "timeout_ms", S3_DEFAULT_TIMEOUT_MS);
	s->max_retries = (int)gnarl_param_int(host, "max_retries", S3_DEFAULT_MAX_RETRIES);
	s->retry_base_ms = (long)gnarl_param_int(host, "retry_base_ms", S3_DEFAULT_RETRY_BASE_MS);
	s->multipart_threshold = (uint64_t)gnarl_param_int(host, "multipart_threshold",
	                                                   (int64_t)S3_DEFAULT_MULTIPART_THRESHOLD);
	s->part_size = (uint64_t)gnarl_param_int(host, "part_size", (int64_t)S3_DEFAULT_PART_SIZE);
	s->list_page_size = (long)gnarl_param_int(host, "list_page_size",
	                                          S3_DEFAULT_LIST_PAGE_SIZE);
	if (parse_root(s, root_uri, err) < 0 || parse_settings(s, root_uri, err) < 0)
		goto fail;
	if (gnarl_param_bool(host, "create_bucket", false) && create_bucket(s, err) < 0)
		goto fail;
	host->log(host, GNARL_LOG_DEBUG, "s3://%s/%s at %s (%s style, region %s, key id %s)",
	          s->bucket, s->prefix, s->endpoint, s->path_style ? "path" : "virtual-host",
	          s->region, s->access_key);
	return s;
fail:
	s3_destroy(s);
	return NULL;
}

/* PUT the bucket; one that exists already and is ours is fine. */
static int create_bucket(struct s3_store *s, char err[GNARL_ERR_SIZE])
{
	char body[256];
	struct s3_request rq = {.method = "PUT"};
	struct s3_reply rp = {0};
	char *code;
	int rc;

	/* Outside us-east-1, AWS wants the region in the body. */
	if (strcmp(s->region, "us-east-1") != 0) {
		snprintf(body, sizeof(body),
		         "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
		         "</CreateBucketConfiguration>",
		         s->region);
		rq.body = body;
		rq.body_len = strlen(body);
	}
	rc = s3_call(s, &rq, &rp, "create bucket", err);
	if (rc < 0 && rp.status == 409) {
		code = rp.body ? s3_xml_text(rp.body, rp.body + rp.len, "Code") : NULL;
		if (code && strcmp(code, "BucketAlreadyOwnedByYou") == 0)
			rc = 0;
		free(code);
	}
	s3_reply_free(&rp);
	return rc;
}

static bool key_ok(const char *key, bool is_prefix)
{
	const char *seg = key;

	if (key[0] == '/' || (!*key && !is_prefix))
		return false;
	while (*seg) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);

		/* curl would fold "." and ".." away; "//" is legal in S3 but
		 * never written by gnarl, so refuse it as a likely mistake. */
		if ((n == 0 && (end || !is_prefix)) || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		if (!end)
			break;
		seg = end + 1;
	}
	return true;
}

/* The object key of a valid key (malloc'ed into *object). */
static int object_of(const struct s3_store *s, const char *key, char **object,
                     char err[GNARL_ERR_SIZE])
{
	if (!key_ok(key, false))
		return s3_fail(err, GNARL_EINVAL, "s3 storage s3://%s/%s: invalid key '%s'", s->bucket,
		               s->prefix, key);
	if (!(*object = s3_object(s, key)))
		return s3_fail(err, GNARL_ENOMEM, "s3 storage: out of memory");
	return 0;
}

static int s3_put(void *store, const char *key, const void *data, size_t len,
                  char err[GNARL_ERR_SIZE])
{
	struct s3_store *s = store;
	struct s3_request rq = {.method = "PUT", .body = data, .body_len = len};
	struct s3_reply rp = {0};
	char *object;
	int rc;

	if ((rc = object_of(s, key, &object, err)) < 0)
		return rc;
	if (len > s->multipart_threshold) {
		rc = s3_multipart_put(s, object, data, len, err);
	} else {
		rq.object = object;
		rc = s3_call(s, &rq, &rp, "put", err);
		s3_reply_free(&rp);
	}
	free(object);
	return rc;
}

static int s3_get(void *store, const char *key, gnarl_sink_fn sink, void *ctx,
                  char err[GNARL_ERR_SIZE])
{
	struct s3_store *s = store;
	struct s3_request rq = {.method = "GET", .sink = sink, .sink_ctx = ctx};
	struct s3_reply rp = {0};
	char *object;
	int rc;

	if ((rc = object_of(s, key, &object, err)) < 0)
		return rc;
	rq.object = object;
	rc = s3_call(s, &rq, &rp, "get", err);
	s3_reply_free(&rp);
	free(object);
	return rc;
}

struct list_ctx {
	size_t skip;            /* length of the store prefix to strip */
	gnarl_list_fn each;
	void *ctx;
	char *last;             /* last key reported: pages must go forward */
	bool disorder;
};

static int list_item(void *c, const char *key, uint64_t size)
{
	struct list_ctx *l = c;
	char *copy;

	if (strlen(key) < l->skip)
		return 0;
	if (l->last && strcmp(key, l->last) <= 0) {
		l->disorder = true;
		return 1;
	}
	if (!(copy = strdup(key)))
		return 1;
	free(l->last);
	l->last = copy;
	return l->each(l->ctx, key + l->skip, size);
}

/* The sorted, encoded query of one ListObjectsV2 page (malloc'ed). */
static char *list_query(const struct s3_store *s, const char *full_prefix, const char *token)
{
	char *ep = s3_encode(full_prefix, false), *et = token ? s3_encode(token, false) : NULL;
	size_t n = (ep ? strlen(ep) : 0) + (et ? strlen(et) : 0) + 96;
	char *q = ep && (et || !token) ? malloc(n) : NULL;

	if (q)
		snprintf(q, n, "%s%s%slist-type=2&max-keys=%ld&prefix=%s", et ? "continuation-token=" : "",
		         et ? et : "", et ? "&" : "", s->list_page_size, ep);
	free(ep);
	free(et);
	return q;
}

static int s3_list(void *store, const char *prefix, gnarl_list_fn each, void *ctx,
                   char err[GNARL_ERR_SIZE])
{
	struct s3_store *s = store;
	struct list_ctx l = {.skip = strlen(s->prefix), .each = each, .ctx = ctx};
	struct s3_request rq = {.method = "GET"};
	struct s3_reply rp = {0};
	char *full, *query = NULL, *token = NULL;
	bool truncated = true;
	int rc = 0, pages = 0;

	if (!key_ok(prefix, true))
		return s3_fail(err, GNARL_EINVAL, "s3 storage s3://%s/%s: invalid prefix '%s'",
		               s->bucket, s->prefix, prefix);
	if (!(full = s3_object(s, prefix)))
		return s3_fail(err, GNARL_ENOMEM, "s3 storage: out of memory");
	while (rc == 0 && truncated) {
		free(query);
		if (!(query = list_query(s, full, token))) {
			rc = s3_fail(err, GNARL_ENOMEM, "s3 storage: out of memory");
			break;
		}
		rq.query = query;
		rc = s3_call(s, &rq, &rp, "list", err);
		if (rc < 0)
			break;
		free(token);
		rc = s3_xml_list_page(rp.body ? rp.body : "", rp.len, list_item, &l, &truncated,
		                      &token);
		pages++;
		if (rc == GNARL_EINTERRUPTED && l.disorder)
			rc = s3_fail(err, GNARL_EPROTO,
			             "%s listed s3://%s/%s out of order (page %d): refusing a listing "
			             "that may skip keys",
			             s->endpoint, s->bucket, full, pages);
		else if (rc == GNARL_EINTERRUPTED)
			rc = s3_fail(err, rc, "listing s3://%s/%s: stopped by the caller", s->bucket, full);
		else if (rc < 0)
			rc = s3_fail(err, rc, "%s sent a malformed listing of s3://%s/%s (page %d)",
			             s->endpoint, s->bucket, full, pages);
		else if (truncated && (!token || !*token))
			rc = s3_fail(err, GNARL_EPROTO,
			             "%s sent a truncated listing of s3://%s/%s without a continuation "
			             "token (page %d)",
			             s->endpoint, s->bucket, full, pages);
	}
	s3_reply_free(&rp);
	free(l.last);
	free(token);
	free(query);
	free(full);
	return rc;
}

static int s3_remove(void *store, const char *key, char err[GNARL_ERR_SIZE])
{
	struct s3_store *s = store;
	struct s3_request rq = {.method = "DELETE"};
	struct s3_reply rp = {0};
	char *object, *code = NULL;
	int rc;

	if ((rc = object_of(s, key, &object, err)) < 0)
		return rc;
	rq.object = object;
	rc = s3_call(s, &rq, &rp, "remove", err);
	/* Removing a missing key succeeds; a missing bucket does not. */
	if (rc == GNARL_ENOENT && rp.body)
		code = s3_xml_text(rp.body, rp.body + rp.len, "Code");
	if (rc == GNARL_ENOENT && (!code || strcmp(code, "NoSuchBucket") != 0))
		rc = 0;
	free(code);
	s3_reply_free(&rp);
	free(object);
	return rc;
}

static int s3_exists(void *store, const char *key, char err[GNARL_ERR_SIZE])
{
	struct s3_store *s = store;
	struct s3_request rq = {.method = "HEAD"};
	struct s3_reply rp = {0};
	char *object;
	int rc;

	if ((rc = object_of(s, key, &object, err)) < 0)
		return rc;
	rq.object = object;
	rc = s3_call(s, &rq, &rp, "exists", err);
	s3_reply_free(&rp);
	free(object);
	if (rc == GNARL_ENOENT) {
		err[0] = '\0';
		return 0;
	}
	return rc < 0 ? rc : 1;
}

static const struct gnarl_param s3_params[] = {
	{.name = "endpoint", .type = GNARL_PARAM_STRING, .default_yaml = "null",
	 .help = "http(s)://host:port of an S3-compatible server; unset: S3_ENDPOINT_URL, else AWS"},
	{.name = "region", .type = GNARL_PARAM_STRING, .default_yaml = "null",
	 .help = "signing region; unset: S3_REGION_NAME, else " S3_DEFAULT_REGION},
	{.name = "bucket", .type = GNARL_PARAM_STRING, .default_yaml = "null",
	 .help = "bucket, when the URI names none (s3:///prefix)"},
	{.name = "prefix", .type = GNARL_PARAM_STRING, .default_yaml = "null",
	 .help = "key prefix inside the bucket, before the URI's own"},
	{.name = "access_key", .type = GNARL_PARAM_STRING, .flags = GNARL_PARAM_SECRET,
	 .default_yaml = "null", .help = "access key id; unset: S3_ACCESS_KEY_ID"},
	{.name = "secret_key", .type = GNARL_PARAM_STRING, .flags = GNARL_PARAM_SECRET,
	 .default_yaml = "null", .help = "secret access key; unset: S3_SECRET_ACCESS_KEY"},
	{.name = "path_style", .type = GNARL_PARAM_BOOL, .default_yaml = "null",
	 .help = "http://host/bucket/key URLs; unset: true with an endpoint, false for AWS"},
	{.name = "create_bucket", .type = GNARL_PARAM_BOOL, .default_yaml = "false",
	 .help = "create the bucket when the store is opened (one we own already is fine)"},
	{.name = "connect_timeout_ms", .type = GNARL_PARAM_INT,
	 .flags = GNARL_PARAM_HAS_MIN, .min = 1,
	 .default_yaml = STR(S3_DEFAULT_CONNECT_TIMEOUT_MS), .help = "connection timeout"},
	{.name = "timeout_ms", .type = GNARL_PARAM_INT, .flags = GNARL_PARAM_HAS_MIN, .min = 1000,
	 .default_yaml = STR(S3_DEFAULT_TIMEOUT_MS),
	 .help = "give up on a request that moves no byte for this long (whole seconds)"},
	{.name = "max_retries", .type = GNARL_PARAM_INT,
	 .flags = GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, .min = 0, .max = 30,
	 .default_yaml = STR(S3_DEFAULT_MAX_RETRIES),
	 .help = "retries after connection errors, timeouts, 500/502/503/504 and 429"},
	{.name = "retry_base_ms", .type = GNARL_PARAM_INT, .flags = GNARL_PARAM_HAS_MIN, .min = 1,
	 .default_yaml = STR(S3_DEFAULT_RETRY_BASE_MS),
	 .help = "first backoff; doubles per retry (capped at 30 s), with jitter"},
	{.name = "multipart_threshold", .type = GNARL_PARAM_INT, .flags = GNARL_PARAM_HAS_MIN,
	 .min = 5.0 * S3_MIB, .default_yaml = "16777216",
	 .help = "objects larger than this many bytes are uploaded in parts"},
	{.name = "part_size", .type = GNARL_PARAM_INT,
	 .flags = GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, .min = 5.0 * S3_MIB,
	 .max = 5.0 * 1024 * S3_MIB, .default_yaml = "8388608",
	 .help = "bytes per multipart part (grown to stay within 10,000 parts)"},
	{.name = "list_page_size", .type = GNARL_PARAM_INT,
	 .flags = GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX, .min = 1, .max = 1000,
	 .default_yaml = STR(S3_DEFAULT_LIST_PAGE_SIZE), .help = "keys per ListObjectsV2 page"},
	GNARL_PARAMS_END,
};

static const struct gnarl_storage_ops s3_ops = {
	.size = sizeof(struct gnarl_storage_ops),
	.schemes = "s3",
	.create = s3_create,
	.destroy = s3_destroy,
	.put = s3_put,
	.get = s3_get,
	.list = s3_list,
	.remove = s3_remove,
	.exists = s3_exists,
};

static const struct gnarl_plugin s3_plugin = {
	.abi_version = GNARL_ABI_VERSION,
	.size = sizeof(struct gnarl_plugin),
	.kind = GNARL_KIND_STORAGE,
	.name = "s3",
	.version = "1.0.0",
	.summary = "objects in an S3-compatible bucket (AWS, MinIO, Ceph) over libcurl with SigV4",
	.params = s3_params,
	.ops.storage = &s3_ops,
};

GNARL_PLUGIN_ENTRY(&s3_plugin)
