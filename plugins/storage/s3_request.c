/*
 * s3_request.c - one signed HTTP request to an S3 endpoint through
 * libcurl, and the pieces it needs: URLs (path or virtual-host style),
 * key encoding, payload hashes, a small pool of easy handles.
 *
 * Signing: CURLOPT_AWS_SIGV4 ("aws:amz:<region>:s3") with CURLOPT_USERPWD.
 * curl 7.88 signs every header in our list and uses our
 * x-amz-content-sha256 as the payload hash, so that header is always set
 * (hex SHA-256 of the body).  Pitfalls checked against Ceph RGW with
 * curl's verbose output:
 *  - a header-removal entry ("Expect:", "Content-Type:") is signed but not
 *    sent, and "Expect;" is signed under the broken name "expect;": both
 *    fail the signature.  So the list holds only headers that are sent, and
 *    the "Expect: 100-continue" curl adds to bodies over 1 MiB is left to
 *    curl: it is sent unsigned, which SigV4 allows (only SignedHeaders are
 *    checked), and the gateway answers 100 Continue at once;
 *  - a value-less query parameter is canonicalised wrongly, so queries are
 *    written complete ("uploads="), sorted and percent-encoded;
 *  - curl removes "." and ".." path segments, so such keys are refused
 *    before they get here.
 * Bodies are sent with CURLOPT_POSTFIELDS (and the method as a custom
 * request), so curl never reads from a callback and a retry simply sends
 * the same bytes again.
 *
 * Thread safety: a handle is taken from the store's pool (or made) for
 * one request and given back after; the pool is the only shared state.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "s3_internal.h"

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_Digest(len ? data : "", len, md, &n, EVP_sha256(), NULL);
	for (i = 0; i < n && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

char *s3_encode(const char *src, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(src);
	char *out = malloc(3 * n + 1), *o = out;
	const unsigned char *p;

	if (!out)
		return NULL;
	/* RFC 3986 unreserved characters stay; S3 wants everything else,
	 * UTF-8 bytes included, as %XX with upper-case hex. */
	for (p = (const unsigned char *)src; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
		    (keep_slash && *p == '/')) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *s3_object(const struct s3_store *s, const char *key)
{
	size_t a = strlen(s->prefix), b = strlen(key);
	char *o = malloc(a + b + 1);

	if (!o)
		return NULL;
	memcpy(o, s->prefix, a);
	memcpy(o + a, key, b + 1);
	return o;
}

/* The request URL (malloc'ed). */
static char *make_url(const struct s3_store *s, const char *object, const char *query)
{
	char *enc = s3_encode(object ? object : "", true), *url;
	const char *rest = strstr(s->endpoint, "://");
	size_t n;

	if (!enc || !rest) {
		free(enc);
		return NULL;
	}
	rest += 3;
	n = strlen(s->endpoint) + strlen(s->bucket) + strlen(enc) + (query ? strlen(query) : 0) + 8;
	url = malloc(n);
	if (url && s->path_style)
		snprintf(url, n, "%s/%s%s%s%s%s", s->endpoint, s->bucket, object ? "/" : "", enc,
		         query ? "?" : "", query ? query : "");
	else if (url)
		snprintf(url, n, "%.*s%s.%s/%s%s%s", (int)(rest - s->endpoint), s->endpoint, s->bucket,
		         rest, enc, query ? "?" : "", query ? query : "");
	free(enc);
	return url;
}

static CURL *handle_take(struct s3_store *s)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->pool_lock);
	if (s->pool_count > 0)
		h = s->pool[--s->pool_count];
	pthread_mutex_unlock(&s->pool_lock);
	if (h) {
		curl_easy_reset(h); /* keeps its connections and DNS cache */
		return h;
	}
	return curl_easy_init();
}

static void handle_give(struct s3_store *s, CURL *h)
{
	pthread_mutex_lock(&s->pool_lock);
	if (s->pool_count < S3_HANDLE_POOL) {
		s->pool[s->pool_count++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

void s3_pool_free(struct s3_store *s)
{
	while (s->pool_count > 0)
		curl_easy_cleanup(s->pool[--s->pool_count]);
}

void s3_reply_clear(struct s3_reply *rp)
{
	rp->status = 0;
	rp->curl_rc = CURLE_OK;
	rp->curl_err[0] = '\0';
	rp->len = 0;
	rp->etag[0] = '\0';
	rp->sink_stopped = false;
}

void s3_reply_free(struct s3_reply *rp)
{
	free(rp->body);
	rp->body = NULL;
	rp->len = rp->cap = 0;
}

struct transfer {
	CURL *h;
	const struct s3_request *rq;
	struct s3_reply *rp;
	uint64_t skip;             /* bytes of a 200 to drop: Range was ignored */
};

static int keep(struct s3_reply *rp, const char *data, size_t n, size_t max)
{
	size_t cap;
	char *p;

	if (rp->len + n + 1 > max)
		return -1;
	if (rp->len + n + 1 > rp->cap) {
		cap = rp->cap ? rp->cap : 4096;
		while (cap < rp->len + n + 1)
			cap *= 2;
		if (!(p = realloc(rp->body, cap)))
			return -1;
		rp->body = p;
		rp->cap = cap;
	}
	memcpy(rp->body + rp->len, data, n);
	rp->len += n;
	rp->body[rp->len] = '\0';
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct transfer *t = ctx;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
	if (status / 100 == 2 && t->rq->sink) {
		if (status == 200 && t->skip > 0) { /* resumed, but sent from byte 0 */
			size_t drop = t->skip < n ? (size_t)t->skip : n;
			t->skip -= drop;
			data += drop;
			n -= drop;
			if (n == 0)
				return size * nmemb;
		}
		if (t->rq->sink(t->rq->sink_ctx, data, n) != 0) {
			t->rp->sink_stopped = true;
			return 0;
		}
		t->rp->delivered += n;
		return size * nmemb;
	}
	/* Error replies are short XML; listing pages are bounded by max-keys. */
	return keep(t->rp, data, n, status / 100 == 2 ? 64 * S3_MIB : S3_ERROR_BODY_MAX) == 0 ? n
	                                                                                      : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct transfer *t = ctx;
	size_t n = size * nmemb, i = 5;

	if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
		while (i < n && (data[i] == ' ' || data[i] == '\t'))
			i++;
		while (n > i && (data[n - 1] == '\r' || data[n - 1] == '\n' || data[n - 1] == ' '))
			n--;
		snprintf(t->rp->etag, sizeof(t->rp->etag), "%.*s", (int)(n - i), data + i);
	}
	return size * nmemb;
}

static struct curl_slist *add_header(struct curl_slist *list, bool *ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct curl_slist *add_header(struct curl_slist *list, bool *ok, const char *fmt, ...)
{
	char line[512];
	struct curl_slist *l;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l = curl_slist_append(list, line);
	if (!l)
		*ok = false;
	return l ? l : list;
}

/* Options shared by every request. */
static void set_common(struct s3_store *s, CURL *h, const char *url, struct transfer *t)
{
	long stall_s = (s->timeout_ms + 999) / 1000;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
	/* timeout_ms bounds a stall (no byte moving), not a whole transfer:
	 * a large object on a slow link is fine as long as it progresses. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->rp->curl_err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "gnarl-s3/" GNARL_VERSION);
}

int s3_perform(struct s3_store *s, const struct s3_request *rq, struct s3_reply *rp,
               uint64_t range_from, const char *if_match)
{
	struct transfer t = {.rq = rq, .rp = rp, .skip = range_from};
	struct curl_slist *hdr = NULL;
	char sha[65], *url;
	bool ok = true;
	CURL *h;

	s3_reply_clear(rp);
	url = make_url(s, rq->object, rq->query);
	h = url ? handle_take(s) : NULL;
	if (!h) {
		free(url);
		rp->curl_rc = CURLE_OUT_OF_MEMORY;
		return GNARL_ENOMEM;
	}
	t.h = h;
	s3_sha256_hex(rq->body, rq->body_len, sha);
	hdr = add_header(hdr, &ok, "x-amz-content-sha256: %s", sha);
	/* Our own Content-Type, so curl adds no form type of its own. */
	if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "POST") == 0)
		hdr = add_header(hdr, &ok, "Content-Type: application/octet-stream");
	if (rq->extra_header)
		hdr = add_header(hdr, &ok, "%s", rq->extra_header);
	if (range_from > 0)
		hdr = add_header(hdr, &ok, "Range: bytes=%llu-", (unsigned long long)range_from);
	if (if_match && *if_match)
		hdr = add_header(hdr, &ok, "If-Match: %s", if_match);
	set_common(s, h, url, &t);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	rp->curl_rc = ok ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rp->status);
	if (rp->curl_rc == CURLE_WRITE_ERROR && !rp->sink_stopped)
		rp->curl_rc = CURLE_OUT_OF_MEMORY;
	curl_slist_free_all(hdr);
	handle_give(s, h);
	free(url);
	if (rp->sink_stopped)
		return GNARL_EINTERRUPTED;
	return rp->curl_rc == CURLE_OUT_OF_MEMORY ? GNARL_ENOMEM : 0;
}
