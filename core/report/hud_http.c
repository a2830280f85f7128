/*
 * hud_http.c - the web HUD's server (see hud.h): libmicrohttpd on its own
 * internal polling thread, plus a notifier thread that wakes the event
 * streams.
 *
 * Entry points: gnarl_hud_http_start/stop (from hud.c), gnarl_hud_available,
 * gnarl_hud_now (the HUD's clock, both sides).
 *
 * Invariants: the HUD's lock is held only to copy (a ring column, one
 * row, the frame), never while formatting, encoding or calling into MHD,
 * so a commit waits microseconds at most.  An event stream with nothing
 * to send is suspended (MHD would otherwise poll it in a busy loop) and
 * resumed by the notifier after a commit, or every PING_S seconds for a
 * keep-alive comment that also finds clients that went away.  A stream
 * that falls M iterations behind is closed; one whose socket stops taking
 * data times out after TIMEOUT_S.  Stop: close the streams' door
 * (closing), join the notifier, resume what is suspended, stop MHD.
 */
#include "hud_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "image.h"
#include "log.h"

double gnarl_hud_now(const struct gnarl_hud *h)
{
	return h->clock ? h->clock(h->clock_ctx) : gnarl_clock_monotonic();
}

#ifdef GNARL_HAVE_MICROHTTPD

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define PING_S 15          /* keep-alive comment on an idle stream */
#define TIMEOUT_S 30       /* a connection that moves no data is closed */
#define CONNECTIONS 64     /* at once, streams included */
#define PER_ADDRESS 16     /* from one address: a slow client (slowloris)
                              or a crowd behind one address cannot take
                              every connection */
#define WANT_FRAMES_MS 30000 /* frames are rendered this long after a look */

bool gnarl_hud_available(void)
{
	return true;
}

/* ---- a growing text buffer (HTTP thread only) ---------------------------- */

struct text {
	char *p;
	size_t len, cap;
	bool failed;
	bool fixed;               /* p is a buffer of cap bytes that may not grow */
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		if (t->fixed) {
			t->failed = true;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 65536;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
}

/* A JSON string (names come from configs: quote what needs it). */
static void add_str(struct text *t, const char *s)
{
	add(t, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			add(t, "\\%c", c);
		else if (c < 0x20)
			add(t, "\\u%04x", c);
		else
			add(t, "%c", c);
	}
	add(t, "\"");
}

/* A JSON number, read back exactly; null for NaN and infinities (JSON has
 * neither). */
static void add_num(struct text *t, double v)
{
	char buf[32];

	if (!isfinite(v)) {
		add(t, "null");
		return;
	}
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	add(t, "%s", buf);
}

/* ---- responses ------------------------------------------------------------ */

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type,
                                void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data, mode);
	enum MHD_Result ok;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "2");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"gnarl\"");
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return send_buf(c, status, "text/plain; charset=utf-8", (void *)msg, strlen(msg),
	                MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result send_json(struct MHD_Connection *c, struct text *t)
{
	if (t->failed) {
		free(t->p);
		return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	return send_buf(c, MHD_HTTP_OK, "application/json", t->p, t->len, MHD_RESPMEM_MUST_FREE);
}

static void want_frames(struct gnarl_hud *h)
{
	atomic_store_explicit(&h->frames_wanted_until,
	                      (int64_t)(gnarl_hud_now(h) * 1000.0) + WANT_FRAMES_MS,
	                      memory_order_relaxed);
}

/* ---- /api/metrics --------------------------------------------------------- */

/* The newest `rows` commits ending before `end`, out of ring column col
 * (M values) into dst. */
static void copy_rows(const struct gnarl_hud *h, const void *col, size_t size, uint64_t end,
                      uint32_t rows, void *dst)
{
	for (uint32_t i = 0; i < rows; i++) {
		uint64_t c = end - rows + i;
		memcpy((char *)dst + i * size, (const char *)col + (c % h->M) * size, size);
	}
}

/* A consistent copy of the newest `last` commits: each column is copied
 * under its own short lock, then rows a commit overwrote meanwhile are
 * dropped (they are the oldest). */
struct snapshot {
	uint64_t end, rows, skip;   /* commits [end - rows, end), skip oldest */
	uint32_t S;
	uint64_t *iter, *steps;
	double *wall, *vals;        /* (S, rows) */
};

static int take_snapshot(struct gnarl_hud *h, uint32_t last, struct snapshot *sn)
{
	uint64_t now_count;

	memset(sn, 0, sizeof(*sn));
	pthread_mutex_lock(&h->lock);
	sn->end = h->count;
	sn->S = h->n_series;
	pthread_mutex_unlock(&h->lock);
	sn->rows = sn->end < h->M ? sn->end : h->M;
	if (last && sn->rows > last)
		sn->rows = last;
	sn->iter = malloc((sn->rows + 1) * sizeof(*sn->iter));
	sn->steps = malloc((sn->rows + 1) * sizeof(*sn->steps));
	sn->wall = malloc((sn->rows + 1) * sizeof(*sn->wall));
	sn->vals = malloc(((size_t)sn->S * sn->rows + 1) * sizeof(*sn->vals));
	if (!sn->iter || !sn->steps || !sn->wall || !sn->vals)
		return GNARL_ENOMEM;
	pthread_mutex_lock(&h->lock);
	copy_rows(h, h->iter, sizeof(*h->iter), sn->end, (uint32_t)sn->rows, sn->iter);
	copy_rows(h, h->steps, sizeof(*h->steps), sn->end, (uint32_t)sn->rows, sn->steps);
	copy_rows(h, h->wall, sizeof(*h->wall), sn->end, (uint32_t)sn->rows, sn->wall);
	pthread_mutex_unlock(&h->lock);
	for (uint32_t s = 0; s < sn->S; s++) {
		pthread_mutex_lock(&h->lock);
		copy_rows(h, h->vals + (size_t)s * h->M, sizeof(double), sn->end,
		          (uint32_t)sn->rows, sn->vals + (size_t)s * sn->rows);
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_lock(&h->lock);
	now_count = h->count;
	pthread_mutex_unlock(&h->lock);
	/* commit c overwrote the row of commit c - M */
	if (now_count > h->M && now_count - h->M > sn->end - sn->rows)
		sn->skip = now_count - h->M - (sn->end - sn->rows);
	if (sn->skip > sn->rows)
		sn->skip = sn->rows;
	return 0;
}

static void free_snapshot(struct snapshot *sn)
{
	free(sn->iter);
	free(sn->steps);
	free(sn->wall);
	free(sn->vals);
}

static void add_run(struct text *t, struct gnarl_hud *h)
{
	uint64_t total, count, frame, sugg, video;
	uint32_t N, T;
	const char *env;
	bool frames;

	pthread_mutex_lock(&h->lock);
	env = h->env_name ? h->env_name : "";  /* fixed once described */
	N = h->N;
	T = h->T;
	total = h->total_iterations;
	count = h->count;
	frames = h->has_frames;
	frame = h->frame_seq;
	sugg = h->n_recent;
	video = gnarl_hud_video_seq_locked(h);
	pthread_mutex_unlock(&h->lock);
	add(t, "\"title\":");
	add_str(t, h->title);
	add(t, ",\"env\":");
	add_str(t, env);
	add(t, ",\"n_envs\":%u,\"rollout_steps\":%u,\"total_iterations\":%llu,\"capacity\":%u,"
	       "\"committed\":%llu,\"has_frames\":%s,\"frame\":%llu,\"suggestions\":%llu,"
	       "\"video\":%llu",
	    N, T, (unsigned long long)total, h->M, (unsigned long long)count,
	    frames ? "true" : "false", (unsigned long long)frame, (unsigned long long)sugg,
	    (unsigned long long)video);
}

static enum MHD_Result api_metrics(struct gnarl_hud *h, struct MHD_Connection *c)
{
	const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last");
	uint32_t last = q ? (uint32_t)strtoul(q, NULL, 10) : 0;
	struct text t = {0};
	struct snapshot sn;
	uint64_t n;

	if (take_snapshot(h, last, &sn)) {
		free_snapshot(&sn);
		return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	n = sn.rows - sn.skip;
	add(&t, "{");
	add_run(&t, h);
	add(&t, ",\"iteration\":[");
	for (uint64_t i = sn.skip; i < sn.rows; i++)
		add(&t, "%s%llu", i > sn.skip ? "," : "", (unsigned long long)sn.iter[i]);
	add(&t, "],\"env_steps\":[");
	for (uint64_t i = sn.skip; i < sn.rows; i++)
		add(&t, "%s%llu", i > sn.skip ? "," : "", (unsigned long long)sn.steps[i]);
	add(&t, "],\"time\":[");
	for (uint64_t i = sn.skip; i < sn.rows; i++) {
		add(&t, "%s%.3f", i > sn.skip ? "," : "", sn.wall[i]);
	}
	add(&t, "],\"names\":[");
	for (uint32_t s = 0; s < sn.S; s++) {
		add(&t, "%s", s ? "," : "");
		add_str(&t, h->names[s]);
	}
	add(&t, "],\"series\":{");
	for (uint32_t s = 0; s < sn.S; s++) {
		const double *v = sn.vals + (size_t)s * sn.rows;

		add(&t, "%s", s ? "," : "");
		add_str(&t, h->names[s]);
		add(&t, ":[");
		for (uint64_t i = sn.skip; i < sn.rows; i++) {
			if (i > sn.skip)
				add(&t, ",");
			add_num(&t, v[i]);
		}
		add(&t, "]");
	}
	add(&t, "},\"rows\":%llu}\n", (unsigned long long)n);
	free_snapshot(&sn);
	return send_json(c, &t);
}

/* ---- /api/llm ------------------------------------------------------------- */

static enum MHD_Result api_llm(struct gnarl_hud *h, struct MHD_Connection *c)
{
	struct hud_suggestion rec[HUD_SUGGESTIONS];
	uint64_t n_recent, latest;
	uint32_t n, active, K, A, T;
	char **sources, **actions;
	struct text t = {0};

	pthread_mutex_lock(&h->lock);
	n_recent = h->n_recent;
	n = n_recent < HUD_SUGGESTIONS ? (uint32_t)n_recent : HUD_SUGGESTIONS;
	for (uint32_t i = 0; i < n; i++)  /* newest first */
		rec[i] = h->recent[(n_recent - 1 - i) % HUD_SUGGESTIONS];
	latest = h->count ? h->iter[(h->count - 1) % h->M] : 0;
	active = h->active;
	K = h->K;
	A = h->A;
	T = h->T;
	sources = h->source_names;  /* fixed once described */
	actions = h->action_names;
	pthread_mutex_unlock(&h->lock);
	add(&t, "{\"enabled\":%s,\"iteration\":%llu,\"active\":%u,\"total\":%llu,"
	        "\"sources\":[",
	    K ? "true" : "false", (unsigned long long)latest, active, (unsigned long long)n_recent);
	for (uint32_t k = 0; k < K; k++) {
		add(&t, "%s{\"name\":", k ? "," : "");
		add_str(&t, sources[k]);
		add(&t, ",\"ttl\":%u}", h->source_ttl[k]);
	}
	add(&t, "],\"suggestions\":[");
	for (uint32_t i = 0; i < n; i++) {
		const struct hud_suggestion *s = &rec[i];
		/* steps since it arrived (since it was seen, when the source and
		 * so the ttl that scales its age are not known) */
		uint64_t age = s->age + (latest - s->iteration) * (uint64_t)T;

		add(&t, "%s{\"seq\":%llu,\"env\":%u,\"action\":", i ? "," : "",
		    (unsigned long long)s->seq, s->env);
		add_str(&t, s->action >= 0 && (uint32_t)s->action < A ? actions[s->action] : "?");
		add(&t, ",\"source\":");
		if (s->source >= 0 && (uint32_t)s->source < K)
			add_str(&t, sources[s->source]);
		else
			add(&t, "null");
		add(&t, ",\"iteration\":%llu,\"age\":%llu}", (unsigned long long)s->iteration,
		    (unsigned long long)age);
	}
	add(&t, "]}\n");
	return send_json(c, &t);
}

/* ---- /api/archive --------------------------------------------------------- */

static enum MHD_Result api_archive(struct gnarl_hud *h, struct MHD_Connection *c)
{
	size_t len;
	char *json = gnarl_hud_archive_json(h, &len);

	if (!json)
		return send_text(c, MHD_HTTP_NOT_FOUND, "no archive of start states in this run "
		                                        "(archive.enabled is false)\n");
	return send_buf(c, MHD_HTTP_OK, "application/json", json, len, MHD_RESPMEM_MUST_FREE);
}

/* ---- /frame.png ----------------------------------------------------------- */

static enum MHD_Result frame_png(struct gnarl_hud *h, struct MHD_Connection *c)
{
	char err[GNARL_ERR_SIZE];
	uint64_t seq;
	bool has;

	want_frames(h);
	pthread_mutex_lock(&h->lock);
	has = h->has_frames;
	seq = h->frame_seq;
	if (seq && seq != h->png_seq)
		memcpy(h->frame_scratch, h->frame, GNARL_FRAME_BYTES);
	pthread_mutex_unlock(&h->lock);
	if (!has)
		return send_text(c, MHD_HTTP_NOT_FOUND, "this env renders no frames\n");
	if (!seq)
		return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no frame yet\n");
	if (seq != h->png_seq) {
		uint8_t *png;
		size_t len;

		if (gnarl_image_png(h->frame_scratch, GNARL_FRAME_WIDTH, GNARL_FRAME_HEIGHT, &png,
		                    &len, err))
			return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot encode the frame\n");
		free(h->png);
		h->png = png;
		h->png_len = len;
		h->png_seq = seq;
	}
	return send_buf(c, MHD_HTTP_OK, "image/png", h->png, h->png_len, MHD_RESPMEM_MUST_COPY);
}

/* ---- /api/events ---------------------------------------------------------- */

static void set_msg(struct hud_stream *s, const char *text)
{
	s->msg_len = strlen(text);
	memcpy(s->msg, text, s->msg_len);
	s->msg_off = 0;
}

/* Commit c's row into the stream's copy (lock held). */
static void grab_row(struct gnarl_hud *h, struct hud_stream *s, uint64_t c)
{
	size_t row = c % h->M;

	s->row.iteration = h->iter[row];
	s->row.env_steps = h->steps[row];
	s->row.wall = h->wall[row];
	s->row.frame = h->frame_seq;
	s->row.suggestions = h->n_recent;
	s->row.video = gnarl_hud_video_seq_locked(h);
	s->row.S = h->n_series;
	for (uint32_t i = 0; i < s->row.S; i++)
		s->row.vals[i] = h->vals[(size_t)i * h->M + row];
}

/* The copied row as one event into the stream's message buffer (sized
 * for S names and values; a message that would not fit is replaced by a
 * comment). */
static void format_event(struct gnarl_hud *h, struct hud_stream *s)
{
	const struct hud_row *r = &s->row;
	struct text t = {s->msg, 0, h->msg_cap, false, true};

	add(&t, "id: %llu\ndata: {\"iteration\":%llu,\"env_steps\":%llu,\"time\":%.3f,"
	        "\"frame\":%llu,\"suggestions\":%llu,\"video\":%llu,\"scalars\":{",
	    (unsigned long long)r->iteration, (unsigned long long)r->iteration,
	    (unsigned long long)r->env_steps, r->wall, (unsigned long long)r->frame,
	    (unsigned long long)r->suggestions, (unsigned long long)r->video);
	for (uint32_t i = 0; i < r->S; i++) {
		add(&t, "%s", i ? "," : "");
		add_str(&t, h->names[i]);
		add(&t, ":");
		add_num(&t, r->vals[i]);
	}
	add(&t, "}}\n\n");
	if (t.failed)
		set_msg(s, ": an iteration too large to send\n\n");
	else
		s->msg_len = t.len;
	s->msg_off = 0;
}

static ssize_t copy_out(struct hud_stream *s, char *buf, size_t max)
{
	size_t n = s->msg_len - s->msg_off;

	if (n > max)
		n = max;
	memcpy(buf, s->msg + s->msg_off, n);
	s->msg_off += n;
	return (ssize_t)n;
}

/* Whether the client closed its side: an event-stream client sends
 * nothing after its request, so a readable end of file means it left
 * (MHD would only notice when a write fails, a message later). */
static bool client_left(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	char b;

	return ci && recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct hud_stream *s = cls;
	struct gnarl_hud *h = s->hud;

	(void)pos;
	if (s->msg_off < s->msg_len)
		return copy_out(s, buf, max);
	if (client_left(s->conn))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	pthread_mutex_lock(&h->lock);
	if (h->closing) {
		pthread_mutex_unlock(&h->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (!s->hello) {
		s->hello = true;
		pthread_mutex_unlock(&h->lock);
		set_msg(s, ": gnarl hud\nretry: 2000\n\n");
		return copy_out(s, buf, max);
	}
	if (s->next < h->count) {
		if (h->count - s->next > h->M) {  /* too slow: its next row is gone */
			pthread_mutex_unlock(&h->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		grab_row(h, s, s->next++);
		pthread_mutex_unlock(&h->lock);
		format_event(h, s);
		return copy_out(s, buf, max);
	}
	if (s->ping) {
		s->ping = false;
		pthread_mutex_unlock(&h->lock);
		set_msg(s, ": ping\n\n");
		return copy_out(s, buf, max);
	}
	s->suspended = true;
	MHD_suspend_connection(s->conn);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static void sse_free(void *cls)
{
	struct hud_stream *s = cls;
	struct gnarl_hud *h = s->hud;

	pthread_mutex_lock(&h->lock);
	s->used = false;
	s->suspended = false;
	s->conn = NULL;
	pthread_mutex_unlock(&h->lock);
}

/* The commit after iteration `id`, when the ring still holds it; else
 * the next one to come (the page sees the gap and reloads /api/metrics). */
static uint64_t after_id(struct gnarl_hud *h, const char *id)
{
	uint64_t want = strtoull(id, NULL, 10);
	uint64_t held = h->count < h->M ? h->count : h->M;

	for (uint64_t c = h->count - held; c < h->count; c++)
		if (h->iter[c % h->M] > want)
			return h->iter[c % h->M] == want + 1 ? c : h->count;
	return h->count;
}

static enum MHD_Result api_events(struct gnarl_hud *h, struct MHD_Connection *c)
{
	/* A browser's reconnect names the last event it got; a page that
	 * loaded /api/metrics first says where that ended with ?after=. */
	const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
	struct hud_stream *s = NULL;
	struct MHD_Response *r;
	enum MHD_Result ok;

	want_frames(h);
	pthread_mutex_lock(&h->lock);
	for (uint32_t i = 0; i < h->max_streams && !s && !h->closing; i++)
		if (!h->streams[i].used)
			s = &h->streams[i];
	if (s) {
		s->used = true;
		s->suspended = s->hello = s->ping = false;
		s->conn = c;
		s->msg_len = s->msg_off = 0;
		s->next = last ? after_id(h, last) : after ? after_id(h, after) : h->count;
	}
	pthread_mutex_unlock(&h->lock);
	if (!s)
		return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                 "too many event streams open; close one and retry\n");
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!r) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ok = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ok;
}

/* ---- dispatch ------------------------------------------------------------- */

/* a == b in time that depends only on b's length (the token's), so the
 * time of a refusal tells nothing of how much of a guess was right. */
static bool same_secret(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	unsigned char d = na != nb;

	for (size_t i = 0; i < nb; i++)
		d |= (unsigned char)(a[i < na ? i : na] ^ b[i]);
	return d == 0;
}

/* With a token, a request carries it as "Authorization: Bearer <token>"
 * (scripts) or "?token=<token>" (the page, which reads it from its own
 * URL and adds it to every request it makes). */
static bool authorized(const struct gnarl_hud *h, struct MHD_Connection *c)
{
	const char *auth, *q;

	if (!h->token)
		return true;
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth && !strncasecmp(auth, "Bearer ", 7) && same_secret(auth + 7, h->token))
		return true;
	q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	return q && same_secret(q, h->token);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
	struct gnarl_hud *h = cls;

	(void)version;
	(void)upload;
	(void)upload_size; /* a body on a GET is ignored: the answer is queued first */
	(void)req_cls;
	if (!authorized(h, c))
		return send_text(c, MHD_HTTP_UNAUTHORIZED, "this HUD needs its token (hud.token): "
		                 "open /?token=<token>, or send Authorization: Bearer <token>\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		                 "the HUD is read-only: GET and HEAD only\n");
	if (!strcmp(url, "/")) {
		want_frames(h);
		return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", h->page, h->page_len,
		                MHD_RESPMEM_PERSISTENT);
	}
	if (!strcmp(url, "/api/metrics"))
		return api_metrics(h, c);
	if (!strcmp(url, "/api/events"))
		return api_events(h, c);
	if (!strcmp(url, "/frame.png"))
		return frame_png(h, c);
	if (!strcmp(url, "/api/llm"))
		return api_llm(h, c);
	if (!strcmp(url, "/video"))
		return (enum MHD_Result)gnarl_hud_http_video(h, c);
	if (!strcmp(url, "/api/archive"))
		return api_archive(h, c);
	return send_text(c, MHD_HTTP_NOT_FOUND, "not found: try /, /api/metrics, /api/events, "
	                                        "/frame.png, /api/llm, /video, /api/archive\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	gnarl_logv(GNARL_LOG_DEBUG, "hud", fmt, ap);
}

/* ---- the notifier --------------------------------------------------------- */

/* Resume the suspended streams (with a keep-alive comment when `ping`).
 * Called with the lock held; returns with it held. */
static void resume_streams(struct gnarl_hud *h, bool ping)
{
	struct MHD_Connection *wake[64];
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->max_streams; i++) {
		struct hud_stream *s = &h->streams[i];
		if (!s->used || !s->suspended)
			continue;
		if (n == sizeof(wake) / sizeof(wake[0])) {
			pthread_mutex_unlock(&h->lock);
			for (uint32_t j = 0; j < n; j++)
				MHD_resume_connection(wake[j]);
			pthread_mutex_lock(&h->lock);
			n = 0;
		}
		s->suspended = false;
		s->ping = s->ping || ping;
		wake[n++] = s->conn;
	}
	/* A suspended connection stays until resumed: safe to use unlocked. */
	pthread_mutex_unlock(&h->lock);
	for (uint32_t j = 0; j < n; j++)
		MHD_resume_connection(wake[j]);
	pthread_mutex_lock(&h->lock);
}

static void *notifier(void *arg)
{
	struct gnarl_hud *h = arg;

	pthread_mutex_lock(&h->lock);
	while (!h->closing) {
		bool ping = false;

		if (!h->notify) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += PING_S;
			ping = pthread_cond_timedwait(&h->wake, &h->lock, &until) == ETIMEDOUT;
		}
		if (h->closing)
			break;
		h->notify = false;
		resume_streams(h, ping);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* ---- start and stop ------------------------------------------------------- */

static int listen_on(struct gnarl_hud *h, int *family, char err[GNARL_ERR_SIZE])
{
	struct addrinfo hints = {0}, *ai = NULL;
	const char *host = !strcmp(h->bind, "localhost") ? "127.0.0.1" : h->bind;
	char port[16];
	int fd, one = 1, rc, e;
	union {
		struct sockaddr_storage ss;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} got;
	socklen_t len = sizeof(got);

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", h->port);
	if (getaddrinfo(host, port, &hints, &ai) || !ai)
		return gnarl_err(err, GNARL_EINVAL, "hud: '%s' is not an IP address: set hud.bind "
		                 "to 127.0.0.1 (this machine only, the default), ::1, or 0.0.0.0 to "
		                 "listen on every interface", h->bind);
	*family = ai->ai_family;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		freeaddrinfo(ai);
		return gnarl_err(err, GNARL_EIO, "hud: cannot create a socket: %s", strerror(e));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
	e = errno;
	freeaddrinfo(ai);
	if (rc == 0 && listen(fd, 16) == 0 && getsockname(fd, (struct sockaddr *)&got, &len) == 0) {
		h->port = ntohs(*family == AF_INET6 ? got.in6.sin6_port : got.in.sin_port);
		h->listen_fd = fd;
		return 0;
	}
	if (rc == 0)
		e = errno;
	close(fd);
	if (e == EADDRINUSE)
		return gnarl_err(err, GNARL_EBUSY, "hud: port %u on %s is already in use "
		                 "(another gnarl train with a HUD?): choose another hud.port, or 0 to "
		                 "turn the HUD off", h->port, h->bind);
	if (e == EACCES)
		return gnarl_err(err, GNARL_EACCES, "hud: port %u: permission denied (ports below "
		                 "1024 need privileges): choose a hud.port above 1023", h->port);
	if (e == EADDRNOTAVAIL)
		return gnarl_err(err, GNARL_EINVAL, "hud: %s is not an address of this machine: "
		                 "set hud.bind to 127.0.0.1, or to an address of one of its "
		                 "interfaces", h->bind);
	return gnarl_err(err, GNARL_EIO, "hud: cannot listen on %s port %u: %s", h->bind, h->port,
	                 strerror(e));
}

int gnarl_hud_http_start(struct gnarl_hud *h, char err[GNARL_ERR_SIZE])
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
	                 MHD_ALLOW_SUSPEND_RESUME;
	int family = AF_INET, rc;

	rc = listen_on(h, &family, err);
	if (rc)
		return rc;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, h->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_ADDRESS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TIMEOUT_S, MHD_OPTION_END);
	if (!h->daemon) {
		close(h->listen_fd);
		h->listen_fd = -1;
		return gnarl_err(err, GNARL_EIO, "hud: the HTTP server did not start on %s port %u",
		                 h->bind, h->port);
	}
	h->listen_fd = -1;  /* the daemon's now: MHD_stop_daemon closes it */
	if (pthread_create(&h->notifier, NULL, notifier, h)) {
		MHD_stop_daemon(h->daemon);
		h->daemon = NULL;
		return gnarl_err(err, GNARL_ENOMEM, "hud: cannot start a thread");
	}
	h->notifier_started = true;
	return 0;
}

void gnarl_hud_http_stop(struct gnarl_hud *h)
{
	pthread_mutex_lock(&h->lock);
	h->closing = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	if (h->notifier_started)
		pthread_join(h->notifier, NULL);
	h->notifier_started = false;
	if (h->daemon) {
		/* MHD must not be stopped with suspended connections. */
		pthread_mutex_lock(&h->lock);
		resume_streams(h, false);
		pthread_mutex_unlock(&h->lock);
		MHD_stop_daemon(h->daemon);
		h->daemon = NULL;
	}
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	h->listen_fd = -1;
}

#else /* no libmicrohttpd */

bool gnarl_hud_available(void)
{
	return false;
}

int gnarl_hud_http_start(struct gnarl_hud *h, char err[GNARL_ERR_SIZE])
{
	(void)h;
	return gnarl_err(err, GNARL_EUNSUPPORTED, "this gnarl was built without libmicrohttpd");
}

void gnarl_hud_http_stop(struct gnarl_hud *h)
{
	(void)h;
}

#endif
