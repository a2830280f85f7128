/*
 * s3_multipart.c - multipart upload of one object held in memory:
 * initiate (POST ?uploads=), upload parts in order (PUT
 * ?partNumber=N&uploadId=...), complete (POST ?uploadId=... with the
 * parts' ETags).  Each request goes through s3_call's retries.  On any
 * failure the upload is aborted (DELETE ?uploadId=...) so no orphan parts
 * stay billed in the bucket; the first error is the one reported.
 *
 * Part size: the `part_size` param (>= 5 MiB), doubled until the object
 * fits in S3's 10,000 parts.  The object appears whole at complete, so a
 * reader never sees a part of it.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"

uint64_t s3_part_size(const struct s3_store *s, uint64_t len)
{
	uint64_t part = s->part_size < S3_MIN_PART_SIZE ? S3_MIN_PART_SIZE : s->part_size;

	while ((len + part - 1) / part > S3_MAX_PARTS && part < S3_MAX_PART_SIZE)
		part *= 2;
	return part;
}

/* "partNumber=N&uploadId=ID" or "uploadId=ID" (id percent-encoded). */
static char *upload_query(const char *enc_id, unsigned part)
{
	size_t n = strlen(enc_id) + 40;
	char *q = malloc(n);

	if (!q)
		return NULL;
	if (part)
		snprintf(q, n, "partNumber=%u&uploadId=%s", part, enc_id);
	else
		snprintf(q, n, "uploadId=%s", enc_id);
	return q;
}

/* Append to a growing string; false when out of memory. */
static bool append(char **buf, size_t *len, size_t *cap, const char *text)
{
	size_t n = strlen(text);

	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap * 2 : 1024;
		char *p;
		while (c < *len + n + 1)
			c *= 2;
		if (!(p = realloc(*buf, c)))
			return false;
		*buf = p;
		*cap = c;
	}
	memcpy(*buf + *len, text, n + 1);
	*len += n;
	return true;
}

static int initiate(struct s3_store *s, const char *object, char **upload_id,
                    char err[GNARL_ERR_SIZE])
{
	struct s3_request rq = {.method = "POST", .object = object, .query = "uploads="};
	struct s3_reply rp = {0};
	int rc = s3_call(s, &rq, &rp, "multipart initiate", err);

	if (rc == 0) {
		*upload_id = rp.body ? s3_xml_text(rp.body, rp.body + rp.len, "UploadId") : NULL;
		if (!*upload_id || !**upload_id)
			rc = s3_fail(err, GNARL_EPROTO,
			             "%s answered a multipart initiate of s3://%s/%s without an UploadId",
			             s->endpoint, s->bucket, object);
	}
	s3_reply_free(&rp);
	return rc;
}

/* Upload every part, adding <Part> entries to the completion document. */
static int upload_parts(struct s3_store *s, const char *object, const char *enc_id,
                        const char *data, size_t len, char **doc, size_t *doc_len,
                        size_t *doc_cap, char err[GNARL_ERR_SIZE])
{
	uint64_t part = s3_part_size(s, len), off;
	struct s3_reply rp = {0};
	char line[64], *etag, *query;
	unsigned n = 0;
	int rc = 0;

	for (off = 0; off < len || (len == 0 && n == 0); off += part) {
		struct s3_request rq = {.method = "PUT", .object = object, .body = data + off,
		                        .body_len = len - off < part ? len - off : part};
		n++;
		if (!(query = upload_query(enc_id, n)))
			return s3_fail(err, GNARL_ENOMEM, "multipart upload: out of memory");
		rq.query = query;
		snprintf(line, sizeof(line), "upload of part %u", n);
		rc = s3_call(s, &rq, &rp, line, err);
		free(query);
		if (rc < 0)
			break;
		if (!rp.etag[0]) {
			rc = s3_fail(err, GNARL_EPROTO, "%s returned no ETag for part %u of s3://%s/%s",
			             s->endpoint, n, s->bucket, object);
			break;
		}
		etag = s3_xml_escape(rp.etag);
		snprintf(line, sizeof(line), "<Part><PartNumber>%u</PartNumber><ETag>", n);
		if (!etag || !append(doc, doc_len, doc_cap, line) ||
		    !append(doc, doc_len, doc_cap, etag) ||
		    !append(doc, doc_len, doc_cap, "</ETag></Part>")) {
			free(etag);
			rc = s3_fail(err, GNARL_ENOMEM, "multipart upload: out of memory");
			break;
		}
		free(etag);
		if (len == 0)
			break;
	}
	s3_reply_free(&rp);
	return rc;
}

static int complete(struct s3_store *s, const char *object, const char *enc_id, const char *doc,
                    size_t doc_len, char err[GNARL_ERR_SIZE])
{
	struct s3_request rq = {.method = "POST", .object = object, .body = doc,
	                        .body_len = doc_len};
	struct s3_reply rp = {0};
	char *query = upload_query(enc_id, 0), *code;
	int rc;

	if (!query)
		return s3_fail(err, GNARL_ENOMEM, "multipart upload: out of memory");
	rq.query = query;
	rc = s3_call(s, &rq, &rp, "multipart complete", err);
	/* S3 may answer 200 and still report an error in the body. */
	if (rc == 0 && rp.body && (code = s3_xml_text(rp.body, rp.body + rp.len, "Code"))) {
		rc = s3_fail(err, GNARL_EIO, "%s could not complete the multipart upload of s3://%s/%s: %s",
		             s->endpoint, s->bucket, object, code);
		free(code);
	}
	s3_reply_free(&rp);
	free(query);
	return rc;
}

static void abort_upload(struct s3_store *s, const char *object, const char *enc_id)
{
	struct s3_request rq = {.method = "DELETE", .object = object};
	struct s3_reply rp = {0};
	char *query = upload_query(enc_id, 0);
	char err[GNARL_ERR_SIZE];

	if (!query)
		return;
	rq.query = query;
	if (s3_call(s, &rq, &rp, "multipart abort", err) < 0)
		s->host->log(s->host, GNARL_LOG_WARN,
		             "could not abort a failed multipart upload (its parts may stay in the "
		             "bucket until a lifecycle rule removes them): %s",
		             err);
	s3_reply_free(&rp);
	free(query);
}

int s3_multipart_put(struct s3_store *s, const char *object, const void *data, size_t len,
                     char err[GNARL_ERR_SIZE])
{
	char *upload_id = NULL, *enc_id = NULL, *doc = NULL;
	size_t doc_len = 0, doc_cap = 0;
	int rc;

	rc = initiate(s, object, &upload_id, err);
	if (rc < 0)
		goto out;
	if (!(enc_id = s3_encode(upload_id, false))) {
		rc = s3_fail(err, GNARL_ENOMEM, "multipart upload: out of memory");
		goto abort;
	}
	if (!append(&doc, &doc_len, &doc_cap, "<CompleteMultipartUpload>")) {
		rc = s3_fail(err, GNARL_ENOMEM, "multipart upload: out of memory");
		goto abort;
	}
	rc = upload_parts(s, object, enc_id, data, len, &doc, &doc_len, &doc_cap, err);
	if (rc < 0)
		goto abort;
	if (!append(&doc, &doc_len, &doc_cap, "</CompleteMultipartUpload>")) {
		rc = s3_fail(err, GNARL_ENOMEM, "multipart upload: out of memory");
		goto abort;
	}
	rc = complete(s, object, enc_id, doc, doc_len, err);
	if (rc == 0)
		goto out;
abort:
	abort_upload(s, object, enc_id ? enc_id : upload_id);
out:
	free(doc);
	free(enc_id);
	free(upload_id);
	return rc;
}
