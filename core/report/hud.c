/*
 * hud.c - the web HUD's trainer side (see hud.h): the stage the trainer
 * fills without a lock, the commit that copies it into the ring under a
 * short one, the env view that renders env 0's frame on request, and the
 * scan of the advice blocks that finds new LLM suggestions.  The server
 * is hud_http.c, the page hud_page.c.
 *
 * Entry points: gnarl_hud_create/open/free, _describe, _watch_env, _arm_frame,
 * _set, _commit, and the counters.
 *
 * Invariants: everything is allocated in create/describe/watch_env; set,
 * commit, arm_frame and the view's step never allocate, fail or wait for
 * anything but the lock, which no one holds across I/O.  A series slot is
 * filled with NaN before its name is published, so rows older than the
 * series read as null.
 */
#include "hud.h"

#include <arpa/inet.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "error.h"
#include "hud_internal.h"
#include "plugin_host.h"

/* Frames while someone looks: at most this many per second. */
#define FRAME_INTERVAL_S 0.25

static int alloc_state(struct gnarl_hud *h)
{
	const size_t M = h->M, S = h->S;

	h->stage = calloc(S, sizeof(*h->stage));
	h->staged = calloc(S, 1);
	h->names = calloc(S, sizeof(*h->names));
	h->iter = calloc(M, sizeof(*h->iter));
	h->steps = calloc(M, sizeof(*h->steps));
	h->wall = calloc(M, sizeof(*h->wall));
	h->vals = malloc(S * M * sizeof(*h->vals));
	h->frame = calloc(1, GNARL_FRAME_BYTES);
	h->frame_stage = calloc(1, GNARL_FRAME_BYTES);
	h->frame_scratch = calloc(1, GNARL_FRAME_BYTES);
	h->streams = calloc(h->max_streams, sizeof(*h->streams));
	/* One event message holds every series: name, value, punctuation. */
	h->msg_cap = 256 + S * (GNARL_HUD_NAME_MAX + 40);
	if (!h->stage || !h->staged || !h->names || !h->iter || !h->steps || !h->wall ||
	    !h->vals || !h->frame || !h->frame_stage || !h->frame_scratch || !h->streams ||
	    gnarl_hud_archive_alloc(h))
		return GNARL_ENOMEM;
	for (uint32_t i = 0; i < h->max_streams; i++) {
		h->streams[i].hud = h;
		h->streams[i].msg = malloc(h->msg_cap);
		h->streams[i].row.vals = calloc(S, sizeof(double));
		if (!h->streams[i].msg || !h->streams[i].row.vals)
			return GNARL_ENOMEM;
	}
	return 0;
}

/* Whether bind only reaches this machine (127.0.0.0/8, ::1, localhost).
 * What is not an address at all counts as loopback here: listening on it
 * fails with its own message. */
static bool is_loopback(const char *bind)
{
	unsigned char a[16];

	if (!strcmp(bind, "localhost"))
		return true;
	if (inet_pton(AF_INET, bind, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, bind, a) == 1) {
		static const unsigned char one[16] = {[15] = 1};
		static const unsigned char v4[12] = {[10] = 0xff, [11] = 0xff};

		return !memcmp(a, one, 16) || (!memcmp(a, v4, 12) && a[12] == 127);
	}
	return true;
}

int gnarl_hud_create(const struct gnarl_hud_config *cfg, struct gnarl_hud **out,
                     char err[GNARL_ERR_SIZE])
{
	const char *bind = cfg->bind ? cfg->bind : "127.0.0.1";
	bool token = cfg->token && cfg->token[0];
	struct gnarl_hud *h;
	int rc;

	*out = NULL;
	if (!gnarl_hud_available())
		return gnarl_err(err, GNARL_EUNSUPPORTED, "this gnarl was built without "
		                 "libmicrohttpd, so it has no web HUD: set hud.port to 0, or "
		                 "install libmicrohttpd-dev and rebuild");
	if (!token && !cfg->public && !is_loopback(bind))
		return gnarl_err(err, GNARL_EINVAL, "hud: %s reaches beyond this machine and the HUD "
		                 "has no token, so anyone who can reach the port would see the run: "
		                 "set hud.token (at least 16 characters, e.g. token: "
		                 "${GNARL_HUD_TOKEN}), or hud.public: true to serve it to anyone, or "
		                 "bind 127.0.0.1 and forward the port (ssh -L)", bind);
	h = calloc(1, sizeof(*h));
	if (!h)
		return gnarl_err(err, GNARL_ENOMEM, "hud: out of memory");
	h->listen_fd = -1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	h->M = cfg->history ? cfg->history : GNARL_HUD_HISTORY;
	h->S = cfg->series ? cfg->series : GNARL_HUD_SERIES;
	h->max_streams = cfg->max_streams ? cfg->max_streams : GNARL_HUD_STREAMS;
	h->port = cfg->port;
	snprintf(h->bind, sizeof(h->bind), "%s", bind);
	h->title = strdup(cfg->title ? cfg->title : "gnarl");
	h->token = token ? strdup(cfg->token) : NULL;
	h->clock = cfg->clock;
	h->clock_ctx = cfg->clock_ctx;
	h->page = gnarl_hud_page(&h->page_len);
	rc = h->title && h->page && (h->token || !token) ? alloc_state(h) : GNARL_ENOMEM;
	if (rc) {
		gnarl_err(err, rc, "hud: out of memory for %u iterations of %u scalars", h->M, h->S);
		goto fail;
	}
	rc = gnarl_hud_http_start(h, err);
	if (rc)
		goto fail;
	*out = h;
	return 0;
fail:
	gnarl_hud_free(h);
	return rc;
}

int gnarl_hud_open(const struct gnarl_config *cfg, struct gnarl_hud **out,
                   char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *port = gnarl_value_at(cfg->root, "hud.port");
	const struct gnarl_value *bind = gnarl_value_at(cfg->root, "hud.bind");
	const struct gnarl_value *token = gnarl_value_at(cfg->root, "hud.token");
	struct gnarl_hud_config c = {
	    .bind = gnarl_value_string(bind, "127.0.0.1"),
	    .port = (uint16_t)gnarl_value_int(port, 0),
	    .title = gnarl_value_string(gnarl_value_at(cfg->root, "run.name"), "gnarl"),
	    .token = gnarl_value_string(token, NULL),
	    .public = gnarl_value_bool(gnarl_value_at(cfg->root, "hud.public"), false),
	};
	char why[GNARL_ERR_SIZE];
	const char *msg;
	int rc;

	*out = NULL;
	if (c.port == 0)
		return 0;
	/* An empty token (an unset ${GNARL_HUD_TOKEN:-}) is no token. */
	if (c.token && c.token[0] && strlen(c.token) < GNARL_HUD_TOKEN_MIN)
		return gnarl_config_error(cfg, token, "hud.token", err, "the token has %zu "
		                          "characters: use at least %d (e.g. the output of "
		                          "`openssl rand -hex 16`)", strlen(c.token),
		                          GNARL_HUD_TOKEN_MIN);
	rc = gnarl_hud_create(&c, out, why);
	if (rc == 0 || rc == GNARL_ENOMEM)
		return rc ? gnarl_err(err, rc, "%s", why) : 0;
	msg = strncmp(why, "hud: ", 5) ? why : why + 5;  /* the location names it */
	if (rc == GNARL_EINVAL)
		return gnarl_config_error(cfg, bind, "hud.bind", err, "%s", msg);
	return gnarl_config_error(cfg, port, "hud.port", err, "%s", msg);
}

static void free_strings(char **s, uint32_t n)
{
	for (uint32_t i = 0; s && i < n; i++)
		free(s[i]);
	free(s);
}

void gnarl_hud_free(struct gnarl_hud *h)
{
	if (!h)
		return;
	gnarl_hud_http_stop(h);
	gnarl_hud_video_release(h);
	for (uint32_t i = 0; h->streams && i < h->max_streams; i++) {
		free(h->streams[i].msg);
		free(h->streams[i].row.vals);
	}
	free(h->streams);
	free(h->stage);
	free(h->staged);
	free(h->names);
	free(h->iter);
	free(h->steps);
	free(h->wall);
	free(h->vals);
	free(h->frame);
	free(h->frame_stage);
	free(h->frame_scratch);
	gnarl_hud_archive_free(h);
	free(h->png);
	free(h->view.flags);
	free(h->adv_action);
	free(h->adv_age);
	free(h->fresh);
	free(h->source_seen);
	free(h->env_name);
	free_strings(h->action_names, h->A);
	free_strings(h->source_names, h->K);
	free(h->source_ttl);
	free(h->title);
	free(h->token);
	free(h->page);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

uint16_t gnarl_hud_port(const struct gnarl_hud *h)
{
	return h ? h->port : 0;
}

/* ---- the run ------------------------------------------------------------ */

static char **dup_strings(const char *const *s, uint32_t n)
{
	char **out = calloc(n ? n : 1, sizeof(*out));

	for (uint32_t i = 0; out && i < n; i++)
		if (!(out[i] = strdup(s && s[i] ? s[i] : "?"))) {
			free_strings(out, i);
			return NULL;
		}
	return out;
}

int gnarl_hud_describe(struct gnarl_hud *h, const struct gnarl_hud_run *run,
                       char err[GNARL_ERR_SIZE])
{
	uint32_t N = run->n_envs ? run->n_envs : 1, K = run->n_sources;
	char *env_name, **actions, **sources;
	uint32_t *ttl;
	double *seen;
	int32_t *adv_action;
	float *adv_age;
	struct hud_fresh *fresh;

	if (!h)
		return 0;
	/* built whole before the server's thread may see any of it */
	env_name = strdup(run->env ? run->env : "");
	actions = dup_strings(run->action_names, run->n_actions);
	sources = dup_strings(run->source_names, K);
	ttl = calloc(K ? K : 1, sizeof(*ttl));
	seen = calloc(K ? K : 1, sizeof(*seen));
	adv_action = malloc(N * sizeof(*adv_action));
	adv_age = calloc(N, sizeof(*adv_age));
	fresh = calloc(N, sizeof(*fresh));
	if (!env_name || !actions || !sources || !ttl || !seen || !adv_action || !adv_age ||
	    !fresh) {
		free(env_name);
		free_strings(actions, actions ? run->n_actions : 0);
		free_strings(sources, sources ? K : 0);
		free(ttl);
		free(seen);
		free(adv_action);
		free(adv_age);
		free(fresh);
		return gnarl_err(err, GNARL_ENOMEM, "hud: out of memory");
	}
	for (uint32_t k = 0; k < K; k++)
		ttl[k] = run->source_ttl ? run->source_ttl[k] : 0;
	for (uint32_t n = 0; n < N; n++)
		adv_action[n] = -1;
	pthread_mutex_lock(&h->lock);
	h->env_name = env_name;
	h->N = run->n_envs;
	h->T = run->rollout_steps;
	h->total_iterations = run->total_iterations;
	h->A = run->n_actions;
	h->action_names = actions;
	h->K = K;
	h->source_names = sources;
	h->source_ttl = ttl;
	h->source_seen = seen;
	h->adv_action = adv_action;
	h->adv_age = adv_age;
	h->fresh = fresh;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* ---- frames of env 0 ---------------------------------------------------- */

static void scan_rows(struct gnarl_hud *h, const float *obs, uint32_t stride, uint32_t offset,
                      uint32_t first, uint32_t count);

static struct gnarl_hud *hud_of(void *view)
{
	return (struct gnarl_hud *)((char *)view - offsetof(struct gnarl_hud, view));
}

static void view_destroy(void *env)
{
	(void)env;  /* the real env belongs to whoever created it */
}

static void view_spaces(void *env, struct gnarl_env_spaces *out)
{
	struct hud_view *v = env; /* &h->view */

	v->env_ops->spaces(v->env, out);
}

static void view_reset(void *env, const struct gnarl_env_io *io, uint32_t index, uint64_t seed)
{
	struct hud_view *v = env; /* &h->view */

	v->env_ops->reset(v->env, io, index, seed);
}

/* An armed step renders env 0 too: into the caller's frames row when it
 * has frames (other envs keep their own flags), else into the HUD's
 * buffer, which then is row 0 of a frames array only env 0 writes. */
static void view_step(void *env, const struct gnarl_env_io *io, uint32_t first, uint32_t count)
{
	struct hud_view *v = env; /* &h->view */
	struct gnarl_hud *h = hud_of(env);
	struct gnarl_env_io w;

	/* the advice the policy just acted on (written by the last step's
	 * guidance update; the env writes only the rows' first obs_dim) */
	if (h->K && h->fresh)
		scan_rows(h, io->obs, io->obs_stride, v->obs_dim, first, count);
	if (first != 0 || count == 0 || !v->armed) { /* only env 0's thread reads armed */
		v->env_ops->step(v->env, io, first, count);
		return;
	}
	w = *io;
	if (io->frames && io->want_frame)
		memcpy(v->flags, io->want_frame, count);
	else
		memset(v->flags, 0, count);
	v->flags[0] = 1;
	w.want_frame = v->flags;
	w.frames = io->frames ? io->frames : h->frame_stage;
	v->env_ops->step(v->env, &w, first, count);
	if (io->frames)
		memcpy(h->frame_stage, io->frames, GNARL_FRAME_BYTES);
	v->armed = false;
	v->rendered = true;
}

static size_t view_state_size(void *env)
{
	struct hud_view *v = env; /* &h->view */

	return v->env_ops->state_size(v->env);
}

static int view_save_state(void *env, void *buf, size_t size)
{
	struct hud_view *v = env; /* &h->view */

	return v->env_ops->save_state(v->env, buf, size);
}

static int view_load_state(void *env, const struct gnarl_env_io *io, const void *buf,
                           size_t size, char err[GNARL_ERR_SIZE])
{
	struct hud_view *v = env; /* &h->view */

	return v->env_ops->load_state(v->env, io, buf, size, err);
}

int gnarl_hud_watch_env(struct gnarl_hud *h, const struct gnarl_env_ops *ops, void *env,
                        uint32_t n_envs, const struct gnarl_env_ops **view_ops,
                        void **view_env, char err[GNARL_ERR_SIZE])
{
	struct gnarl_env_spaces sp = {.size = sizeof(sp)};
	struct hud_view *v;

	*view_ops = ops;
	*view_env = env;
	if (!h)
		return 0;
	ops->spaces(env, &sp);
	if ((!sp.has_frames && !h->K) || n_envs == 0)
		return 0;
	v = &h->view;
	v->flags = calloc(n_envs, 1);
	if (!v->flags)
		return gnarl_err(err, GNARL_ENOMEM, "hud: out of memory");
	v->env_ops = ops;
	v->env = env;
	v->obs_dim = sp.obs_dim;
	v->ops = (struct gnarl_env_ops){
	    .size = sizeof(v->ops),
	    .destroy = view_destroy,
	    .spaces = view_spaces,
	    .reset = view_reset,
	    .step = view_step,
	};
	if (gnarl_plugin_env_has_state(ops)) {
		v->ops.state_size = view_state_size;
		v->ops.save_state = view_save_state;
		v->ops.load_state = view_load_state;
	}
	pthread_mutex_lock(&h->lock);
	h->has_frames = sp.has_frames;
	pthread_mutex_unlock(&h->lock);
	*view_ops = &v->ops;
	*view_env = v;
	return 0;
}

bool gnarl_hud_arm_frame(struct gnarl_hud *h)
{
	double t;
	int64_t ms;

	if (!h || !h->has_frames || h->view.armed)
		return false;
	t = gnarl_hud_now(h);
	ms = atomic_load_explicit(&h->frames_wanted_until, memory_order_relaxed);
	if (h->last_frame > 0 &&
	    (t - h->last_frame < FRAME_INTERVAL_S || (double)ms < t * 1000.0))
		return false;
	h->last_frame = t;
	h->view.armed = true;
	return true;
}

/* ---- scalars ------------------------------------------------------------ */

static int32_t find(const struct gnarl_hud *h, const char *name)
{
	for (uint32_t i = 0; i < h->n_known; i++)
		if (!strcmp(h->names[i], name))
			return (int32_t)i;
	return -1;
}

/* The slot of name, adding it (NaN-filled, not yet published) if new and
 * there is room; -1 when full. */
static int32_t slot(struct gnarl_hud *h, const char *name)
{
	int32_t found = find(h, name);
	uint32_t i = h->n_known;

	if (found >= 0)
		return found;
	if (i >= h->S || strlen(name) >= GNARL_HUD_NAME_MAX)
		return -1;
	memcpy(h->names[i], name, strlen(name) + 1);
	for (uint32_t m = 0; m < h->M; m++)
		h->vals[(size_t)i * h->M + m] = NAN;
	h->n_known++;
	return (int32_t)i;
}

void gnarl_hud_set(struct gnarl_hud *h, const char *name, double value)
{
	int32_t i;

	if (!h)
		return;
	i = slot(h, name);
	if (i < 0)
		return;
	h->stage[i] = value;
	h->staged[i] = 1;
}

/* ---- suggestions -------------------------------------------------------- */

/* One env's advice block (guidance.h: one-hot of A actions, then age /
 * ttl): a suggestion is new when its action differs from the env's last
 * one, or the same action is younger than before.  The newest new one
 * since the last commit is kept with the steps seen since.  Called by the
 * thread stepping env n (the view, before each step) and at commit. */
static void scan_row(struct gnarl_hud *h, uint32_t n, const float *row)
{
	struct hud_fresh *f = &h->fresh[n];
	int32_t a = -1;

	f->since += f->set;
	for (uint32_t k = 0; k < h->A && a < 0; k++)
		if (row[k] > 0.5f)
			a = (int32_t)k;
	if (a >= 0 && (a != h->adv_action[n] || row[h->A] < h->adv_age[n]))
		*f = (struct hud_fresh){true, a, row[h->A], 0};
	h->adv_action[n] = a;
	h->adv_age[n] = a >= 0 ? row[h->A] : 0;
}

static void scan_rows(struct gnarl_hud *h, const float *obs, uint32_t stride, uint32_t offset,
                      uint32_t first, uint32_t count)
{
	for (uint32_t n = first; n < first + count && n < h->N; n++)
		scan_row(h, n, obs + (size_t)n * stride + offset);
}

/* The source of this commit's new suggestions: the only one, else the
 * only one whose suggestion or cache-hit gauges moved; -1 if unknown. */
static int32_t new_source(struct gnarl_hud *h)
{
	int32_t who = h->K == 1 ? 0 : -1;
	uint32_t moved = 0;

	for (uint32_t k = 0; k < h->K; k++) {
		char name[GNARL_HUD_NAME_MAX + 32];
		double total = 0;
		int32_t i;

		snprintf(name, sizeof(name), "%s/suggestions", h->source_names[k]);
		i = find(h, name);
		if (i >= 0 && h->staged[i] && isfinite(h->stage[i]))
			total += h->stage[i];
		snprintf(name, sizeof(name), "%s/cache_hits", h->source_names[k]);
		i = find(h, name);
		if (i >= 0 && h->staged[i] && isfinite(h->stage[i]))
			total += h->stage[i];
		if (total != h->source_seen[k]) {
			moved++;
			if (h->K > 1)
				who = (int32_t)k;
		}
		h->source_seen[k] = total;
	}
	return h->K > 1 && moved != 1 ? -1 : who;
}

/* The iteration's new suggestions (in env order) into pending; returns
 * how many envs have one now. */
static uint32_t gather(struct gnarl_hud *h, const struct gnarl_hud_iteration *it)
{
	int32_t source;
	uint32_t active = 0;

	scan_rows(h, it->obs, it->obs_stride, it->advice_offset, 0, h->N);
	source = new_source(h);
	for (uint32_t n = 0; n < h->N; n++) { /* n_pending is 0 since the last commit */
		struct hud_fresh *f = &h->fresh[n];

		active += h->adv_action[n] >= 0;
		if (!f->set)
			continue;
		/* the age in steps needs the source's ttl; without it, the steps
		 * since it was seen */
		uint32_t age = f->since + (source >= 0 ? (uint32_t)lrintf(
		                                             f->frac * (float)h->source_ttl[source])
		                                       : 0);
		h->pending[h->n_pending++ % HUD_SUGGESTIONS] = (struct hud_suggestion){
		    ++h->suggestion_seq, it->iteration, n, f->action, age, source};
		f->set = false;
	}
	return active;
}

/* ---- commit ------------------------------------------------------------- */

void gnarl_hud_commit(struct gnarl_hud *h, const struct gnarl_hud_iteration *it)
{
	uint32_t first, n_new, active = 0;
	bool advice;
	size_t row;

	if (!h)
		return;
	advice = it->obs && h->K && h->fresh;
	if (advice)
		active = gather(h, it);
	n_new = h->n_pending < HUD_SUGGESTIONS ? h->n_pending : HUD_SUGGESTIONS;
	first = h->n_pending - n_new;
	pthread_mutex_lock(&h->lock);
	row = h->count % h->M;
	h->iter[row] = it->iteration;
	h->steps[row] = it->env_steps;
	h->wall[row] = gnarl_clock_wall();
	for (uint32_t i = 0; i < h->n_known; i++)
		h->vals[(size_t)i * h->M + row] = h->staged[i] ? h->stage[i] : NAN;
	h->n_series = h->n_known;
	h->count++;
	for (uint32_t j = first; j < h->n_pending; j++)
		h->recent[h->n_recent++ % HUD_SUGGESTIONS] = h->pending[j % HUD_SUGGESTIONS];
	if (advice)
		h->active = active;
	if (h->view.rendered) {
		uint8_t *swap = h->frame;

		h->frame = h->frame_stage;
		h->frame_stage = swap;
		h->frame_seq++;
		h->frame_iteration = it->iteration;
	}
	h->notify = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	h->view.rendered = false;
	h->n_pending = 0;
	memset(h->staged, 0, h->n_known);
}

/* ---- counters ----------------------------------------------------------- */

uint64_t gnarl_hud_committed(struct gnarl_hud *h)
{
	uint64_t n;

	if (!h)
		return 0;
	pthread_mutex_lock(&h->lock);
	n = h->count;
	pthread_mutex_unlock(&h->lock);
	return n;
}

uint32_t gnarl_hud_held(struct gnarl_hud *h)
{
	uint64_t n = gnarl_hud_committed(h);

	return h && n > h->M ? h->M : (uint32_t)n;
}

uint32_t gnarl_hud_streams(struct gnarl_hud *h)
{
	uint32_t n = 0;

	if (!h)
		return 0;
	pthread_mutex_lock(&h->lock);
	for (uint32_t i = 0; i < h->max_streams; i++)
		n += h->streams[i].used;
	pthread_mutex_unlock(&h->lock);
	return n;
}
