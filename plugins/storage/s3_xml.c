/*
 * s3_xml.c - the little XML the S3 plugin reads: error replies
 * (<Error><Code><Message>), ListObjectsV2 pages (<Contents><Key><Size>,
 * <IsTruncated>, <NextContinuationToken>) and <UploadId>.
 *
 * Not a general XML parser: S3 replies are flat, machine-written
 * documents.  It finds elements by exact tag name (with or without
 * attributes, and the self-closing form), skips the XML declaration and
 * comments by never matching them, and decodes the five named entities
 * and numeric character references.  Every scan is bounded by `end`;
 * nothing reads past the reply.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"

/* memmem is not POSIX: a bounded search of our own. */
static const char *find(const char *p, const char *end, const char *s, size_t n)
{
	for (; p && (size_t)(end - p) >= n; p++) {
		p = memchr(p, s[0], (size_t)(end - p));
		if (!p || (size_t)(end - p) < n)
			return NULL;
		if (memcmp(p, s, n) == 0)
			return p;
	}
	return NULL;
}

const char *s3_xml_next(const char *p, const char *end, const char *tag, const char **inner,
                        const char **inner_end)
{
	size_t n = strlen(tag);
	const char *gt, *close;

	while (p && p < end) {
		p = find(p, end, "<", 1);
		if (!p || (size_t)(end - p) < n + 2)
			return NULL;
		/* "<Tag>", "<Tag attr=...>" or "<Tag/>", not "<TagLonger>". */
		if (memcmp(p + 1, tag, n) != 0 ||
		    (p[n + 1] != '>' && p[n + 1] != ' ' && p[n + 1] != '/' && p[n + 1] != '\t' &&
		     p[n + 1] != '\r' && p[n + 1] != '\n')) {
			p++;
			continue;
		}
		gt = find(p + n + 1, end, ">", 1);
		if (!gt)
			return NULL;
		if (gt[-1] == '/') {
			*inner = *inner_end = gt + 1;
			return gt + 1;
		}
		/* The closing tag: S3 does not nest an element in one of its
		 * own name, so the first "</Tag>" closes it. */
		for (close = gt + 1;; close += 2) {
			close = find(close, end, "</", 2);
			if (!close || (size_t)(end - close) < n + 3)
				return NULL;
			if (memcmp(close + 2, tag, n) == 0 && close[n + 2] == '>')
				break;
		}
		*inner = gt + 1;
		*inner_end = close;
		return close + n + 3;
	}
	return NULL;
}

/* Append code point cp as UTF-8; returns bytes written (0 if invalid). */
static size_t put_utf8(char *o, unsigned long cp)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decode one entity at p ("&...;"): bytes written to o, *used = length
 * consumed; 0 when it is not an entity we know (copied as is). */
static size_t entity(const char *p, const char *end, char *o, size_t *used)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	const char *semi = find(p, end, ";", 1);
	unsigned long cp = 0;
	const char *q;
	size_t i;

	if (!semi || semi - p > 12)
		return 0;
	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t n = strlen(named[i].name);
		if ((size_t)(semi + 1 - p) == n && memcmp(p, named[i].name, n) == 0) {
			*o = named[i].c;
			*used = n;
			return 1;
		}
	}
	if (p[1] != '#' || semi - p < 3)
		return 0;
	if (p[2] == 'x' || p[2] == 'X') {
		for (q = p + 3; q < semi; q++) {
			int d = (*q >= '0' && *q <= '9') ? *q - '0'
			        : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10
			        : (*q >= 'A' && *q <= 'F') ? *q - 'A' + 10
			                                   : -1;
			if (d < 0 || q == p + 3 + 6)
				return 0;
			cp = cp * 16 + (unsigned long)d;
		}
		if (semi == p + 3)
			return 0;
	} else {
		for (q = p + 2; q < semi; q++) {
			if (*q < '0' || *q > '9' || q == p + 2 + 7)
				return 0;
			cp = cp * 10 + (unsigned long)(*q - '0');
		}
	}
	*used = (size_t)(semi + 1 - p);
	return put_utf8(o, cp);
}

char *s3_xml_decode(const char *p, const char *end)
{
	/* Decoding never lengthens: "&#x10FFFF;" (10) -> 4 bytes. */
	char *out = malloc((size_t)(end - p) + 1), *o = out;
	size_t used, n;

	if (!out)
		return NULL;
	while (p < end) {
		if (*p == '&' && (n = entity(p, end, o, &used)) > 0) {
			o += n;
			p += used;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

char *s3_xml_text(const char *p, const char *end, const char *tag)
{
	const char *a, *b;

	if (!s3_xml_next(p, end, tag, &a, &b))
		return NULL;
	return s3_xml_decode(a, b);
}

char *s3_xml_escape(const char *text)
{
	size_t n = 0;
	const char *p;
	char *out, *o;

	for (p = text; *p; p++)
		n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : *p == '"' ? 6 : 1;
	out = o = malloc(n + 1);
	if (!out)
		return NULL;
	for (p = text; *p; p++) {
		const char *rep = *p == '&' ? "&amp;"
		                  : *p == '<' ? "&lt;"
		                  : *p == '>' ? "&gt;"
		                  : *p == '"' ? "&quot;"
		                              : NULL;
		if (rep) {
			memcpy(o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

int s3_xml_list_page(const char *body, size_t len, s3_list_item_fn each, void *ctx,
                     bool *truncated, char **next_token)
{
	const char *end = body + len, *p = body, *a, *b;
	char *key, *size, *flag;
	int rc = 0;

	*truncated = false;
	*next_token = NULL;
	/* Top-level fields first: a <Key> inside <Contents> never matches
	 * these names. */
	flag = s3_xml_text(body, end, "IsTruncated");
	*truncated = flag && strcmp(flag, "true") == 0;
	free(flag);
	if (*truncated)
		*next_token = s3_xml_text(body, end, "NextContinuationToken");
	while ((p = s3_xml_next(p, end, "Contents", &a, &b))) {
		key = s3_xml_text(a, b, "Key");
		size = s3_xml_text(a, b, "Size");
		if (!key || !size) {
			free(key);
			free(size);
			return GNARL_EPROTO;
		}
		rc = each(ctx, key, strtoull(size, NULL, 10));
		free(key);
		free(size);
		if (rc != 0)
			return GNARL_EINTERRUPTED;
	}
	return 0;
}
