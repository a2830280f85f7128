/*
 * s3_internal.h - what the files of the `s3` storage plugin share:
 *   s3.c            descriptor, params, create/destroy, the storage ops
 *   s3_request.c    URLs, key encoding, SigV4 through libcurl, one attempt
 *   s3_retry.c      the retry policy (what is retried, backoff + jitter)
 *                   and turning a final failure into a message
 *   s3_multipart.c  multipart upload with abort on failure
 *   s3_xml.c        minimal XML reading (errors, listings, upload ids)
 * Nothing here is exported from the .so.
 */
#ifndef GNARL_S3_INTERNAL_H
#define GNARL_S3_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include <gnarl/plugin.h>

#define S3_MIB (1024u * 1024u)
#define S3_MIN_PART_SIZE (5ull * S3_MIB)         /* S3's minimum but for the last */
#define S3_MAX_PART_SIZE (5ull * 1024 * S3_MIB)  /* 5 GiB */
#define S3_MAX_PARTS 10000
#define S3_HANDLE_POOL 8                         /* idle easy handles kept */
#define S3_ERROR_BODY_MAX (64 * 1024)            /* bytes of an error reply kept */

/* Defaults (also the declared params' default_yaml). */
#define S3_DEFAULT_REGION "us-east-1"
#define S3_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define S3_DEFAULT_TIMEOUT_MS 30000
#define S3_DEFAULT_MAX_RETRIES 4
#define S3_DEFAULT_RETRY_BASE_MS 200
#define S3_DEFAULT_MULTIPART_THRESHOLD (16ull * S3_MIB)
#define S3_DEFAULT_PART_SIZE (8ull * S3_MIB)
#define S3_DEFAULT_LIST_PAGE_SIZE 1000

struct s3_store {
	const struct gnarl_host *host;
	char *endpoint;        /* "http://127.0.0.1:7480": scheme://host[:port][/path], no '/' at end */
	char *region;
	char *bucket;
	char *prefix;          /* "" or "a/b/": prepended to every key */
	char *access_key;      /* the key id: may be named in messages */
	char *userpwd;         /* "ACCESS:SECRET": secret, never printed */
	char *sigv4;           /* "aws:amz:<region>:s3" */
	bool path_style;
	long connect_timeout_ms, timeout_ms, retry_base_ms;
	int max_retries;
	uint64_t multipart_threshold, part_size;
	long list_page_size;
	uint64_t seed;
	atomic_uint_fast64_t draws;        /* jitter RNG: splitmix64(seed + draws++) */
	pthread_mutex_t pool_lock;         /* guards pool[] */
	CURL *pool[S3_HANDLE_POOL];        /* idle handles: they keep connections */
	int pool_count;
};

/* One HTTP request.  object: the full object key (store prefix included),
 * unencoded, or NULL for the bucket itself.  query: already sorted and
 * percent-encoded ("uploads=", "partNumber=1&uploadId=..."), or NULL. */
struct s3_request {
	const char *method;            /* GET PUT HEAD DELETE POST */
	const char *object;
	const char *query;
	const void *body;              /* borrowed; len bytes */
	size_t body_len;
	const char *extra_header;      /* one more "Name: value" to sign, or NULL */
	gnarl_sink_fn sink;            /* GET: 2xx bytes go here; NULL: kept in reply */
	void *sink_ctx;
};

/* What came back from one request (after the retries). */
struct s3_reply {
	long status;                   /* 0: no HTTP answer (see curl_rc) */
	CURLcode curl_rc;
	char curl_err[CURL_ERROR_SIZE];
	char *body;                    /* owned: non-sink bodies and error bodies */
	size_t len, cap;
	char etag[256];                /* the ETag header, quotes included */
	uint64_t delivered;            /* bytes handed to the sink (GET) */
	bool sink_stopped;             /* the sink returned non-zero */
	int attempts;
};

/* s3_request.c */
int s3_perform(struct s3_store *s, const struct s3_request *rq, struct s3_reply *rp,
               uint64_t range_from, const char *if_match);
void s3_reply_clear(struct s3_reply *rp);
void s3_reply_free(struct s3_reply *rp);
void s3_pool_free(struct s3_store *s);
void s3_sha256_hex(const void *data, size_t len, char out[65]);
/* Percent-encode src into a malloc'ed string; keep '/' when keep_slash. */
char *s3_encode(const char *src, bool keep_slash);
/* Object key of `key` below the store's prefix (malloc'ed), or NULL. */
char *s3_object(const struct s3_store *s, const char *key);

/* s3_retry.c */
/* Run rq with retries; 0 on a 2xx, else the failure's GNARL_E* code with
 * a message (what, which object, what to do) in err.  `what` names the
 * operation ("put", "get"...).  404 leaves rp->status == 404 and returns
 * GNARL_ENOENT with a NoSuchKey/NoSuchBucket message. */
int s3_call(struct s3_store *s, const struct s3_request *rq, struct s3_reply *rp,
            const char *what, char err[GNARL_ERR_SIZE]);
bool s3_retryable(CURLcode rc, long status, const char *code);
long s3_backoff_ms(struct s3_store *s, int attempt);
int s3_fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* s3_multipart.c */
int s3_multipart_put(struct s3_store *s, const char *object, const void *data, size_t len,
                     char err[GNARL_ERR_SIZE]);
uint64_t s3_part_size(const struct s3_store *s, uint64_t len);

/* s3_xml.c */
/* The text of the first <tag> in [p, end), entity-decoded, malloc'ed;
 * NULL when absent (or out of memory). */
char *s3_xml_text(const char *p, const char *end, const char *tag);
/* Find the next element <tag>...</tag> at or after p: its content in
 * [*inner, *inner_end); returns the position after it, or NULL. */
const char *s3_xml_next(const char *p, const char *end, const char *tag, const char **inner,
                        const char **inner_end);
/* Decode XML entities of [p, end) into a malloc'ed string. */
char *s3_xml_decode(const char *p, const char *end);
/* Escape text for an XML element (malloc'ed). */
char *s3_xml_escape(const char *text);

/* One page of ListObjectsV2: each Contents' Key and Size, IsTruncated and
 * NextContinuationToken (malloc'ed, NULL when none).  0, GNARL_EPROTO for
 * a <Contents> without Key or Size, GNARL_EINTERRUPTED when `each`
 * returned non-zero (the rest of the page is skipped). */
typedef int (*s3_list_item_fn)(void *ctx, const char *key, uint64_t size);
int s3_xml_list_page(const char *body, size_t len, s3_list_item_fn each, void *ctx,
                     bool *truncated, char **next_token);

#endif /* GNARL_S3_INTERNAL_H */
