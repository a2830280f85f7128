/*
 * fuzz_s3_xml.c - what an S3 server sends back that the s3 plugin reads:
 * error replies (<Error><Code><Message>, turned into gnarl's message by
 * the retry policy), ListObjectsV2 pages (<Contents><Key><Size>,
 * <IsTruncated>, <NextContinuationToken>) and <UploadId>, with the XML
 * entity decoding they share.
 *
 * The plugin's s3_xml.c and s3_retry.c are linked in; s3_perform, the
 * function that talks to the network, is replaced here by one that "receives" the
 * input, so s3_call's real retry decision and message run on it.
 *
 * Input: byte 0 picks the HTTP status, byte 1 the transfer's outcome, the
 * rest is the reply body.
 *
 * Oracles besides the sanitizers: a failure has a one-line message that
 * never holds the secret key; every listed key is a string; escaping and
 * decoding are inverses.
 */
#define _GNU_SOURCE /* memmem */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"

#define SECRET "fuzzSECRETkey/never+printed"

static const long statuses[] = {200, 206, 301, 400, 403, 404, 409, 412, 429, 500, 501, 503, 0};
static const CURLcode outcomes[] = {CURLE_OK, CURLE_OK, CURLE_OK, CURLE_OPERATION_TIMEDOUT,
                                    CURLE_COULDNT_CONNECT, CURLE_RECV_ERROR,
                                    CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING};

static const uint8_t *in_body;
static size_t in_len;
static long in_status;
static CURLcode in_rc;

int s3_perform(struct s3_store *s, const struct s3_request *rq, struct s3_reply *rp,
               uint64_t range_from, const char *if_match)
{
	(void)s;
	(void)rq;
	(void)range_from;
	(void)if_match;
	free(rp->body);
	rp->status = in_status;
	rp->curl_rc = in_rc;
	snprintf(rp->curl_err, sizeof(rp->curl_err), "%s", in_rc ? "transfer failed" : "");
	rp->body = fuzz_strndup(in_body, in_len);
	rp->len = rp->cap = in_len;
	return 0;
}

static int each_item(void *ctx, const char *key, uint64_t size)
{
	(void)size;
	FUZZ_CHECK(key != NULL, "a listed key is NULL");
	(void)strlen(key);
	++*(int *)ctx;
	return 0;
}

static void codec(const char *p, size_t n)
{
	char *text = s3_xml_decode(p, p + n), *esc, *back;

	if (!text)
		abort();
	esc = s3_xml_escape(text);
	back = esc ? s3_xml_decode(esc, esc + strlen(esc)) : NULL;
	FUZZ_CHECK(back && strcmp(back, text) == 0, "decode(escape(s)) != s for '%s'", text);
	free(text);
	free(esc);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_store s = {0};
	struct s3_request rq = {.method = "PUT", .object = "runs/x/checkpoints/latest"};
	struct s3_reply rp = {0};
	char err[GNARL_ERR_SIZE], *token = NULL, *id;
	bool truncated;
	int items = 0, rc;

	if (size < 2 || size > 256 * 1024)
		return -1;
	in_status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	in_rc = outcomes[data[1] % (sizeof(outcomes) / sizeof(outcomes[0]))];
	in_body = data + 2;
	in_len = size - 2;

	s.endpoint = "http://127.0.0.1:7480";
	s.bucket = "bucket";
	s.access_key = "GNARLFUZZACCESSKEY01";
	s.userpwd = "GNARLFUZZACCESSKEY01:" SECRET;
	s.max_retries = 0;
	err[0] = '\0';
	rc = s3_call(&s, &rq, &rp, "put", err);
	if (rc != 0) {
		FUZZ_CHECK(err[0], "a failed call without a message");
		/* (unless the server itself sent it: the fuzzer finds the
		 * string in this very comparison) */
		FUZZ_CHECK(!strstr(err, SECRET) || memmem(in_body, in_len, SECRET, strlen(SECRET)),
		           "the secret key is in a message: %s", err);
		for (const char *c = err; *c; c++)
			FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f,
			           "a control byte 0x%02x from the server in the message: %s",
			           (unsigned char)*c, err);
	}
	free(rp.body);

	rc = s3_xml_list_page((const char *)in_body, in_len, each_item, &items, &truncated,
	                      &token);
	FUZZ_CHECK(rc == 0 || rc == GNARL_EPROTO, "listing returned %d", rc);
	FUZZ_CHECK(!token || truncated, "a continuation token on a last page");
	free(token);
	id = s3_xml_text((const char *)in_body, (const char *)in_body + in_len, "UploadId");
	free(id);
	codec((const char *)in_body, in_len);
	return 0;
}
