/*
 * hud.h - the web HUD (docs/architecture.md): a read-only HTTP server on its
 * own thread (libmicrohttpd) that shows a run live: the curves of every
 * scalar of the last M iterations, per-term rewards, the current frame of
 * env 0 and the recent LLM suggestions.
 *
 *     /              one self-contained HTML page (inline JS, <canvas>)
 *     /api/metrics   JSON: the last M iterations of every scalar
 *                    (?last=K: only the newest K)
 *     /api/events    Server-Sent Events: one message per iteration
 *     /frame.png     the latest frame of env 0 (404 when the env renders
 *                    none, 503 until the first one)
 *     /api/llm       JSON: recent LLM suggestions
 *     /video         the latest episode video (video.every; 404 before one)
 *     /api/archive   JSON: the archive of start states, room by room
 *
 * Nothing a client sends changes anything (GET and HEAD only).  With a
 * token, a request without it gets 401; the token is never part of a
 * reply (the page reads it from its own URL).  Memory is
 * bounded: a ring of M iterations of at most S scalars, at most
 * `max_streams` event streams (more get 503), one frame.
 *
 * The trainer's side, on one thread, once per iteration:
 *
 *     gnarl_hud_set(h, name, value)   ... for every scalar (no lock)
 *     gnarl_hud_commit(h, &it)        copy into the ring under a short
 *                                     lock, wake the event streams
 *
 * and, for frames, gnarl_hud_watch_env() once at setup and
 * gnarl_hud_arm_frame() before the step that should render one.  None of
 * these allocates, fails or waits on a client: a client that does not keep
 * up is dropped.  Every function accepts h == NULL and then does nothing,
 * so the trainer calls them whether or not the HUD is on.
 */
#ifndef GNARL_HUD_H
#define GNARL_HUD_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_config;

/* Defaults of gnarl_hud_config's zero fields. */
#define GNARL_HUD_HISTORY 2048 /* M: iterations kept */
#define GNARL_HUD_SERIES 256   /* S: scalars kept (names past it are ignored) */
#define GNARL_HUD_STREAMS 8    /* event streams at once */
#define GNARL_HUD_NAME_MAX 96  /* bytes of a scalar name, with the NUL */
#define GNARL_HUD_TOKEN_MIN 16 /* characters of a hud.token */

struct gnarl_hud_config {
	const char *bind;      /* numeric IPv4/IPv6 address or "localhost";
	                          NULL: 127.0.0.1.  Copied. */
	uint16_t port;         /* 0: any free port (see gnarl_hud_port) */
	uint32_t history;      /* M; 0: GNARL_HUD_HISTORY */
	uint32_t series;       /* S; 0: GNARL_HUD_SERIES */
	uint32_t max_streams;  /* 0: GNARL_HUD_STREAMS */
	const char *title;     /* page title ("overworld-20250101-120000");
	                          NULL: "gnarl".  Copied. */
	const char *token;     /* every request must carry it (Authorization:
	                          Bearer, or ?token=); NULL or "": none.  Copied,
	                          never logged or sent. */
	bool public;           /* serve a non-loopback bind without a token */
	double (*clock)(void *ctx); /* monotonic seconds for the frame timing;
	                               NULL: the system's (tests pass their own,
	                               called from the trainer's and the server's
	                               threads) */
	void *clock_ctx;
};

/* What the run is, for the page (all copied; every field optional). */
struct gnarl_hud_run {
	const char *env;                  /* env plugin name */
	uint32_t n_envs, rollout_steps;   /* N, T */
	uint64_t total_iterations;
	uint32_t n_actions;               /* A */
	const char *const *action_names;  /* A names, for suggestions */
	uint32_t n_sources;               /* K LLM sources (0: guidance off) */
	const char *const *source_names;  /* K names ("llm_text") */
	const uint32_t *source_ttl;       /* K ttls in steps */
};

/* One iteration to commit. */
struct gnarl_hud_iteration {
	uint64_t iteration, env_steps;
	const float *obs;                 /* (N, obs_stride) rows with advice
	                                     blocks at advice_offset (guidance.h),
	                                     borrowed for the call; NULL: none */
	uint32_t obs_stride, advice_offset;
};

struct gnarl_hud;

/* Bind cfg->bind:cfg->port and start serving.  The address is checked
 * before anything else starts: a port in use, an address that is not this
 * machine's, a privileged port, a malformed address, an address beyond
 * loopback with neither a token nor `public` each get a message saying so
 * and what to do (GNARL_EBUSY, GNARL_EINVAL, GNARL_EACCES, GNARL_EIO).  Built without libmicrohttpd: GNARL_EUNSUPPORTED.
 * *out owned: gnarl_hud_free(). */
int gnarl_hud_create(const struct gnarl_hud_config *cfg, struct gnarl_hud **out,
                     char err[GNARL_ERR_SIZE]);
/* The HUD a config asks for (hud.port, hud.bind, hud.token, hud.public;
 * titled with run.name): *out NULL when hud.port is 0.  Errors as
 * gnarl_hud_create's, located at the config's hud.port, hud.bind or
 * hud.token (GNARL_ECONFIG, or GNARL_ENOMEM). */
int gnarl_hud_open(const struct gnarl_config *cfg, struct gnarl_hud **out,
                   char err[GNARL_ERR_SIZE]);
/* Stop the server (open streams end) and free everything.  Accepts NULL. */
void gnarl_hud_free(struct gnarl_hud *h);

/* The port it listens on (the chosen one when cfg->port was 0). */
uint16_t gnarl_hud_port(const struct gnarl_hud *h);
/* Whether this build has the HUD (libmicrohttpd). */
bool gnarl_hud_available(void);

/* Describe the run (call once, before the first commit).  GNARL_ENOMEM. */
int gnarl_hud_describe(struct gnarl_hud *h, const struct gnarl_hud_run *run,
                       char err[GNARL_ERR_SIZE]);

/* Frames of env 0 and LLM suggestions as they come.  Returns ops and an
 * instance that stand for (ops, env) of n_envs envs: every call is
 * forwarded; a step after gnarl_hud_arm_frame() also renders env 0's
 * frame for the HUD (into the env's own frames row when the caller asked
 * for frames anyway); and with LLM sources, each step first reads its
 * envs' advice blocks (guidance.h) in io->obs, so a suggestion that comes
 * and goes within an iteration is still seen.  Hand them to the rollout
 * instead of the env's; they live as long as h.  Call after
 * gnarl_hud_describe.  When h is NULL, or the env renders no frames and
 * there are no LLM sources, the outputs are ops and env themselves.
 * GNARL_ENOMEM. */
int gnarl_hud_watch_env(struct gnarl_hud *h, const struct gnarl_env_ops *ops, void *env,
                        uint32_t n_envs, const struct gnarl_env_ops **view_ops,
                        void **view_env, char err[GNARL_ERR_SIZE]);
/* Before a step: ask for env 0's frame in that step when one is due (none
 * rendered yet, or a client looked at frames lately and the last is older
 * than a quarter second).  Returns whether it asked. */
bool gnarl_hud_arm_frame(struct gnarl_hud *h);

/* Stage scalar `name` of the current iteration (copied).  Trainer thread. */
void gnarl_hud_set(struct gnarl_hud *h, const char *name, double value);
/* Publish the staged scalars (names not set: null; the trainer stages
 * the gauges too, and a source's "<name>/suggestions" and
 * "<name>/cache_hits" say which source answered), new suggestions and a frame rendered since the last commit, then clear the
 * stage.  Trainer thread. */
void gnarl_hud_commit(struct gnarl_hud *h, const struct gnarl_hud_iteration *it);

/* The latest episode video (a whole file: `mime` "video/mp4" or
 * "video/webm", copied), served at /video; the page shows it and each
 * event message counts videos ("video": N).  Trainer thread, once per
 * video: it allocates, and on failure the previous video stays. */
void gnarl_hud_video(struct gnarl_hud *h, uint64_t iteration, const char *mime,
                     const void *data, size_t len);
/* The archive of start states (core/learn/archive.h; NULL: none) as the page's
 * map at /api/archive: its rooms, cells and visits, the frontier.  Call
 * before gnarl_hud_commit; trainer thread; never allocates. */
struct gnarl_archive;
#define GNARL_HUD_ARCHIVE_ROOMS 2048 /* rooms shown (every group of the game) */
void gnarl_hud_show_archive(struct gnarl_hud *h, const struct gnarl_archive *a,
                            uint64_t iteration);

/* Counters, for tests and the benchmark: iterations committed so far,
 * iterations held in the ring (<= M), open event streams. */
uint64_t gnarl_hud_committed(struct gnarl_hud *h);
uint32_t gnarl_hud_held(struct gnarl_hud *h);
uint32_t gnarl_hud_streams(struct gnarl_hud *h);

#endif /* GNARL_HUD_H */
