/*
 * s3_retry.c - the S3 plugin's retry policy and its error messages.
 *
 * Retried (up to max_retries more attempts, sleeping retry_base_ms * 2^n,
 * capped at 30 s, with jitter in [d/2, d] so clients that failed together
 * do not come back together): no connection, timeouts, a connection cut
 * mid-reply, HTTP 500/502/503/504, 429, and S3's 400 RequestTimeout,
 * BadDigest and XAmzContentSHA256Mismatch (a body damaged on the way).
 * Never retried: other 4xx (400, 403, 404...), which the same request
 * would only get again.  A GET cut after some bytes reached the sink
 * resumes with Range from the next byte, pinned to the first reply's ETag
 * with If-Match, so the sink never sees a byte twice or a mix of versions.
 *
 * Messages name the endpoint, the object and what to do; the secret key
 * never appears (only the key id, in the 403 message).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3_internal.h"

#define BACKOFF_CAP_MS 30000L

int s3_fail(char err[GNARL_ERR_SIZE], int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, GNARL_ERR_SIZE, fmt, ap);
	va_end(ap);
	return code;
}

bool s3_retryable(CURLcode rc, long status, const char *code)
{
	switch (rc) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
	if (status == 429 || status == 500 || status == 502 || status == 503 || status == 504)
		return true;
	/* 400s that another attempt can pass: a slow client, and a body that
	 * did not arrive as signed (damaged on the way). */
	return status == 400 && code &&
	       (strcmp(code, "RequestTimeout") == 0 || strcmp(code, "BadDigest") == 0 ||
	        strcmp(code, "XAmzContentSHA256Mismatch") == 0);
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

long s3_backoff_ms(struct s3_store *s, int attempt)
{
	long d = s->retry_base_ms;
	uint64_t r = splitmix64(s->seed + atomic_fetch_add(&s->draws, 1));

	for (int i = 0; i < attempt && d < BACKOFF_CAP_MS; i++)
		d *= 2;
	if (d > BACKOFF_CAP_MS)
		d = BACKOFF_CAP_MS;
	return d / 2 + (long)(r % (uint64_t)(d / 2 + 1));
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The server's words go into a log line: control bytes (a newline, a
 * terminal escape) from a broken or hostile reply become '?'. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* The final failure of rq as a GNARL_E* code and a message. */
static int explain(struct s3_store *s, const struct s3_request *rq, const struct s3_reply *rp,
                   const char *what, char err[GNARL_ERR_SIZE])
{
	const char *obj = rq->object ? rq->object : "";
	const char *end = rp->body ? rp->body + rp->len : NULL;
	char *code = rp->body ? s3_xml_text(rp->body, end, "Code") : NULL;
	char *msg = rp->body ? s3_xml_text(rp->body, end, "Message") : NULL;
	const char *c = code ? code : "";
	char said[512];
	int rc;

	/* "Code: Message", "Code" (Ceph sends empty messages) or "HTTP 403". */
	if (code && msg && *msg)
		snprintf(said, sizeof(said), "%s: %s", code, msg);
	else if (code)
		snprintf(said, sizeof(said), "%s", code);
	else
		snprintf(said, sizeof(said), "HTTP %ld", rp->status);
	printable(said);
	/* No answer, or a 2xx cut short: the transfer's error is the story. */
	if (rp->status == 0 || (rp->curl_rc != CURLE_OK && rp->status / 100 == 2)) {
		const char *why = rp->curl_err[0] ? rp->curl_err : curl_easy_strerror(rp->curl_rc);
		if (rp->curl_rc == CURLE_OPERATION_TIMEDOUT)
			rc = s3_fail(err, GNARL_ETIMEDOUT,
			             "S3 endpoint %s timed out during %s of s3://%s/%s (%s; %d attempts): "
			             "check the server and network, or raise storage.s3.timeout_ms",
			             s->endpoint, what, s->bucket, obj, why, rp->attempts);
		else if (rp->curl_rc == CURLE_COULDNT_CONNECT || rp->curl_rc == CURLE_COULDNT_RESOLVE_HOST)
			rc = s3_fail(err, GNARL_ECONN,
			             "cannot reach S3 endpoint %s for %s of s3://%s/%s (%s; %d attempts): "
			             "check storage.s3.endpoint or S3_ENDPOINT_URL and that the server runs",
			             s->endpoint, what, s->bucket, obj, why, rp->attempts);
		else
			rc = s3_fail(err, GNARL_EIO, "%s of s3://%s/%s at %s failed: %s (%d attempts)", what,
			             s->bucket, obj, s->endpoint, why, rp->attempts);
	} else if (rp->status == 403) {
		rc = s3_fail(err, GNARL_EACCES,
		             "access denied by %s for key id %s: the secret key may be wrong or the "
		             "clock skewed (S3 said: %s) during %s of s3://%s/%s",
		             s->endpoint, s->access_key, said, what, s->bucket, obj);
	} else if (rp->status == 404 && (strcmp(c, "NoSuchBucket") == 0 || !rq->object)) {
		rc = s3_fail(err, GNARL_ENOENT,
		             "bucket '%s' does not exist at %s: create it, or set `create_bucket: true` "
		             "under storage.s3 (S3 said: %s)",
		             s->bucket, s->endpoint, said);
	} else if (rp->status == 404) {
		rc = s3_fail(err, GNARL_ENOENT, "no object s3://%s/%s at %s (S3 said: %s)", s->bucket,
		             obj, s->endpoint, said);
	} else if (s3_retryable(CURLE_OK, rp->status, code)) {
		rc = s3_fail(err, GNARL_EAGAIN,
		             "%s kept answering HTTP %ld (S3 said: %s) to %s of s3://%s/%s; gave up "
		             "after %d attempts (storage.s3.max_retries)",
		             s->endpoint, rp->status, said, what, s->bucket, obj, rp->attempts);
	} else {
		rc = s3_fail(err, GNARL_EPROTO, "%s refused %s of s3://%s/%s: HTTP %ld (S3 said: %s)",
		             s->endpoint, what, s->bucket, obj, rp->status, said);
	}
	free(code);
	free(msg);
	return rc;
}

int s3_call(struct s3_store *s, const struct s3_request *rq, struct s3_reply *rp,
            const char *what, char err[GNARL_ERR_SIZE])
{
	char etag[sizeof(rp->etag)] = "";
	char *code;
	int attempt, rc;
	bool again;

	rp->delivered = 0;
	for (attempt = 0;; attempt++) {
		rc = s3_perform(s, rq, rp, rp->delivered, rp->delivered ? etag : NULL);
		rp->attempts = attempt + 1;
		if (rc == GNARL_EINTERRUPTED)
			return s3_fail(err, rc, "%s of s3://%s/%s: stopped by the caller", what, s->bucket,
			               rq->object ? rq->object : "");
		if (rc < 0)
			return s3_fail(err, rc, "%s of s3://%s/%s: out of memory", what, s->bucket,
			               rq->object ? rq->object : "");
		if (rp->curl_rc == CURLE_OK && rp->status / 100 == 2)
			return 0;
		if (rp->delivered == 0 || !etag[0])
			snprintf(etag, sizeof(etag), "%s", rp->etag);
		code = rp->body ? s3_xml_text(rp->body, rp->body + rp->len, "Code") : NULL;
		again = attempt < s->max_retries && s3_retryable(rp->curl_rc, rp->status, code) &&
		        (rp->delivered == 0 || etag[0]);
		free(code);
		if (!again)
			break;
		s->host->log(s->host, GNARL_LOG_DEBUG, "%s of s3://%s/%s: %s, retrying (%d/%d)", what,
		             s->bucket, rq->object ? rq->object : "",
		             rp->status ? "server error" : curl_easy_strerror(rp->curl_rc), attempt + 1,
		             s->max_retries);
		sleep_ms(s3_backoff_ms(s, attempt));
	}
	/* A resumed GET answered 412: the object changed under us. */
	if (rp->status == 412 && rp->delivered > 0)
		return s3_fail(err, GNARL_EIO,
		               "get of s3://%s/%s: the object changed while it was being read; read it "
		               "again", s->bucket, rq->object ? rq->object : "");
	return explain(s, rq, rp, what, err);
}
