/*
 * hud_internal.h - the HUD's state, shared by hud.c (the trainer's side:
 * staging, commit, the env view) and hud_http.c (the server's side).
 *
 * Threads and what each may touch:
 *   trainer thread   the stage (stage, staged, n_known, names of slots
 *                    >= n_series, frame_stage, view, advice tracking)
 *   everyone         the shared part, only under `lock`; held for copies,
 *                    never across I/O, encoding or a call into MHD
 *   HTTP thread      png cache, frame scratch
 *   notifier thread  resumes suspended event streams (on a commit, and
 *                    every few seconds with a keep-alive comment)
 * Names of slots < n_series never change once published, so the HTTP
 * thread may read them after reading n_series under the lock.
 */
#ifndef GNARL_HUD_INTERNAL_H
#define GNARL_HUD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "hud.h"

#define HUD_SUGGESTIONS 32 /* recent suggestions kept */

struct hud_suggestion {
	uint64_t seq;        /* 1-based order of arrival */
	uint64_t iteration;  /* seen at the end of it */
	uint32_t env;
	int32_t action;
	uint32_t age;        /* steps since it arrived, at that iteration's end */
	int32_t source;      /* -1: not known (several sources answered) */
};

/* The archive of start states as the page's map (hud_archive.c): the
 * trainer formats its rooms as JSON into `stage` (trainer thread), then
 * copies it into `json` under the lock for /api/archive. */
struct hud_archive {
	struct gnarl_archive_room *rooms;   /* (GNARL_HUD_ARCHIVE_ROOMS) trainer thread */
	char *stage;                        /* (HUD_ARCHIVE_JSON) trainer thread */
	char *json;                         /* (HUD_ARCHIVE_JSON) under lock */
	size_t len;                         /* of json; 0: no archive */
};

/* The latest episode video (hud_video.c): immutable once published,
 * freed when the HUD and every response serving it let go (refs, under
 * the HUD's lock). */
struct hud_video {
	struct gnarl_hud *hud;
	uint32_t refs;
	uint64_t seq, iteration;
	char mime[32];
	size_t len;
	uint8_t data[];
};

/* One iteration's row as an event stream copied it. */
struct hud_row {
	uint64_t iteration, env_steps, frame, suggestions, video;
	double wall;
	uint32_t S;
	double *vals;        /* (S) */
};

/* An env's newest new suggestion since the last commit. */
struct hud_fresh {
	bool set;
	int32_t action;
	float frac;          /* age / ttl when seen */
	uint32_t since;      /* steps since */
};

struct hud_stream {
	bool used, suspended, hello, ping;
	void *conn;          /* struct MHD_Connection * */
	uint64_t next;       /* commit number of the next message */
	char *msg;           /* message being sent (msg_cap bytes) */
	size_t msg_len, msg_off;
	struct hud_row row;
	struct gnarl_hud *hud;
};

struct hud_view {
	struct gnarl_env_ops ops;           /* forwards to env_ops */
	const struct gnarl_env_ops *env_ops;
	void *env;
	uint32_t obs_dim;                   /* the advice block's offset */
	uint8_t *flags;                     /* (N) want_frame of an armed step */
	bool armed, rendered;
};

struct gnarl_hud {
	/* settings, fixed after create */
	uint32_t M, S, max_streams;
	uint16_t port;
	char bind[64];
	char *token;                        /* NULL: none; secret: never sent or logged */
	double (*clock)(void *ctx);         /* NULL: CLOCK_MONOTONIC */
	void *clock_ctx;
	char *title;
	char *page;
	size_t page_len;
	size_t msg_cap;                     /* bytes of one event message */

	/* the run (gnarl_hud_describe) */
	char *env_name;
	uint32_t N, T, A, K;
	uint64_t total_iterations;
	char **action_names;                /* (A) */
	char **source_names;                /* (K) */
	uint32_t *source_ttl;               /* (K) */
	bool has_frames;

	/* trainer thread */
	double *stage;                      /* (S) */
	uint8_t *staged;                    /* (S) */
	uint32_t n_known;
	char (*names)[GNARL_HUD_NAME_MAX];  /* (S) */
	struct hud_view view;
	uint8_t *frame_stage;               /* GNARL_FRAME_BYTES */
	double last_frame;                  /* monotonic seconds of the last one */
	/* per env (N): touched by the thread stepping the env's range (the
	 * view's step) and by the trainer thread at commit */
	int32_t *adv_action;                /* last suggestion seen, -1 none */
	float *adv_age;                     /* its age / ttl then */
	struct hud_fresh *fresh;            /* newest new one since the commit */
	double *source_seen;                /* (K) suggestions + cache hits gauges */
	struct hud_suggestion pending[HUD_SUGGESTIONS];
	uint32_t n_pending;
	uint64_t suggestion_seq;

	/* shared, under lock */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	uint32_t n_series;
	uint64_t count;                     /* commits so far; row of commit c: c % M */
	uint64_t *iter, *steps;             /* (M) */
	double *wall;                       /* (M) unix seconds */
	double *vals;                       /* (S, M) */
	uint8_t *frame;                     /* GNARL_FRAME_BYTES */
	uint64_t frame_seq;                 /* 0: no frame yet */
	uint64_t frame_iteration;
	struct hud_suggestion recent[HUD_SUGGESTIONS]; /* ring by seq */
	uint64_t n_recent;                  /* suggestions ever */
	uint32_t active;                    /* envs with a suggestion now */
	struct hud_video *video;            /* the latest episode video; NULL none */
	struct hud_stream *streams;         /* (max_streams) */
	bool notify, closing;
	struct hud_archive archive;

	/* read by the trainer without the lock: monotonic ms until which a
	 * client is looking at frames */
	_Atomic int64_t frames_wanted_until;

	/* HTTP thread */
	uint8_t *frame_scratch;             /* GNARL_FRAME_BYTES */
	uint8_t *png;
	size_t png_len;
	uint64_t png_seq;

	/* server */
	void *daemon;                       /* struct MHD_Daemon * */
	int listen_fd;
	pthread_t notifier;
	bool notifier_started;
};

/* hud_http.c: bind, start the daemon and the notifier; stop them. */
int gnarl_hud_http_start(struct gnarl_hud *h, char err[GNARL_ERR_SIZE]);
void gnarl_hud_http_stop(struct gnarl_hud *h);

/* hud_video.c: answer GET /video (the latest episode video, 404 before
 * one) on an MHD connection, returning MHD's result; the seq of the
 * latest (0: none), lock held; drop h's reference (at free). */
int gnarl_hud_http_video(struct gnarl_hud *h, void *connection);
uint64_t gnarl_hud_video_seq_locked(const struct gnarl_hud *h);
void gnarl_hud_video_release(struct gnarl_hud *h);
/* hud_archive.c: its buffers (0 or GNARL_ENOMEM; free accepts what a
 * failed alloc left), and a copy of /api/archive's JSON for the HTTP
 * thread (owned; NULL when there is no archive or no memory). */
int gnarl_hud_archive_alloc(struct gnarl_hud *h);
void gnarl_hud_archive_free(struct gnarl_hud *h);
char *gnarl_hud_archive_json(struct gnarl_hud *h, size_t *len);

/* hud_page.c: the page as one string (owned by the caller), NULL on
 * ENOMEM. */
char *gnarl_hud_page(size_t *len);

/* Monotonic seconds: the config's clock, else the system's. */
double gnarl_hud_now(const struct gnarl_hud *h);

#endif /* GNARL_HUD_INTERNAL_H */
