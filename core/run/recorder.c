/*
 * recorder.c - videos of training episodes (see recorder.h).
 *
 * Entry points: gnarl_recorder_check, _open/free, _arm, _finished, _poll,
 * _drain.
 *
 * Threads.  The trainer's thread arms and ends recordings; the thread
 * stepping env 0 (a pool thread, inside the rollout) renders its frames
 * into the ring: the two never run at once (the rollout joins its
 * threads before the trainer goes on), so `state` needs no lock.  The
 * ring (items, head, tail) and the finished result are shared with the
 * encoder thread under `lock`; a slot is the producer's until it is
 * published (head++), then the encoder's until it is done with it
 * (tail++).  The encoder writes the files in a temporary directory of its
 * own, stores the video through storage (which may be called from any
 * thread) and leaves the result for the trainer's next poll.
 */
#include "recorder.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "plugin_host.h"
#include "resume.h"
#include "storage.h"
#include "value.h"
#include "video.h"

#define QUEUE 64            /* frames between env 0 and the encoder (4.4 MB) */
#define GIF_STRIDE 2        /* TensorBoard's GIF: every 2nd frame, at half the rate */

enum state {
	IDLE,       /* not recording */
	ARMED,      /* recording from env 0's next reset */
	RECORDING,  /* every step of env 0 renders into the ring */
	ENDED,      /* the episode (or video.max_frames) ended; its end not queued yet */
};

struct item {
	bool end;              /* the end of the video: close it (no frame) */
	uint64_t iteration;    /* of the end */
	double ret;
};

/* A finished video: owned buffers. */
struct result {
	uint64_t iteration, frames;
	double ret;
	char *uri;
	uint8_t *data, *gif;
	size_t len, gif_len;
	char error[GNARL_ERR_SIZE];
	bool failed;
};

struct gnarl_recorder {
	/* settings */
	uint64_t every, max_frames;
	struct gnarl_video_config vc;
	bool tensorboard;
	const char *ext, *mime;  /* ".mp4", "video/mp4" */
	struct gnarl_storage *st;
	const char *prefix;
	char dir[4096];          /* the encoder's temporary directory */
	char *video_path, *gif_path;

	/* the env view (see hud.c's, which it mirrors) */
	struct gnarl_env_ops ops;
	const struct gnarl_env_ops *env_ops;
	void *env;
	uint8_t *flags;          /* (N) want_frame of a recording step */

	/* trainer's and env 0's thread, never at once */
	enum state state;
	uint64_t iteration, frames;

	/* shared, under lock */
	pthread_mutex_t lock;
	pthread_cond_t not_full, not_empty;
	uint8_t *slots;          /* (QUEUE, GNARL_FRAME_BYTES) */
	struct item items[QUEUE];
	uint64_t head, tail;
	bool quit;
	struct result done;      /* the newest finished video */
	bool has_done;

	/* encoder thread */
	pthread_t thread;
	bool started;
	struct gnarl_video *video, *gif;
	uint64_t encoded;        /* frames of the video under way */
	struct result work;

	/* trainer's thread: the result handed out by the last poll */
	struct result taken;
};

static void result_clear(struct result *x)
{
	free(x->uri);
	free(x->data);
	free(x->gif);
	memset(x, 0, sizeof(*x));
}

/* ---- the producer: env 0's thread and the trainer's ------------------------- */

/* The next free slot (waits for the encoder while the ring is full). */
static uint8_t *slot(struct gnarl_recorder *r)
{
	uint8_t *s;

	pthread_mutex_lock(&r->lock);
	while (r->head - r->tail == QUEUE && !r->quit)
		pthread_cond_wait(&r->not_full, &r->lock);
	s = r->slots + (r->head % QUEUE) * (size_t)GNARL_FRAME_BYTES;
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void publish(struct gnarl_recorder *r, struct item it)
{
	pthread_mutex_lock(&r->lock);
	while (r->head - r->tail == QUEUE && !r->quit) /* an end item needs a place too */
		pthread_cond_wait(&r->not_full, &r->lock);
	r->items[r->head % QUEUE] = it;
	r->head++;
	pthread_cond_signal(&r->not_empty);
	pthread_mutex_unlock(&r->lock);
}

/* io with env 0's frame asked for, rendered into `frame`: into the
 * caller's frames row when it has frames (copied after the call), else
 * straight into frame. */
static void render_io(struct gnarl_recorder *r, const struct gnarl_env_io *io, uint32_t count,
                      uint8_t *frame, struct gnarl_env_io *w)
{
	*w = *io;
	if (io->frames && io->want_frame)
		memcpy(r->flags, io->want_frame, count);
	else
		memset(r->flags, 0, count);
	r->flags[0] = 1;
	w->want_frame = r->flags;
	w->frames = io->frames ? io->frames : frame;
}

static void view_destroy(void *env)
{
	(void)env;  /* the env belongs to whoever created it */
}

static void view_spaces(void *env, struct gnarl_env_spaces *out)
{
	struct gnarl_recorder *r = env;

	r->env_ops->spaces(r->env, out);
}

static void view_reset(void *env, const struct gnarl_env_io *io, uint32_t index, uint64_t seed)
{
	struct gnarl_recorder *r = env;
	struct gnarl_env_io w;
	uint8_t *frame;

	if (index != 0 || r->state != ARMED) {
		r->env_ops->reset(r->env, io, index, seed);
		return;
	}
	frame = slot(r);
	render_io(r, io, 1, frame, &w);
	r->env_ops->reset(r->env, &w, index, seed);
	if (io->frames)
		memcpy(frame, io->frames, GNARL_FRAME_BYTES);
	r->state = RECORDING;
	r->frames = 1;
	publish(r, (struct item){false, r->iteration, NAN});
}

static void view_step(void *env, const struct gnarl_env_io *io, uint32_t first, uint32_t count)
{
	struct gnarl_recorder *r = env;
	struct gnarl_env_io w;
	uint8_t *frame;

	if (first != 0 || count == 0 || r->state != RECORDING) {
		r->env_ops->step(r->env, io, first, count);
		return;
	}
	frame = slot(r);
	render_io(r, io, count, frame, &w);
	r->env_ops->step(r->env, &w, first, count);
	if (io->frames)
		memcpy(frame, io->frames, GNARL_FRAME_BYTES);
	publish(r, (struct item){false, r->iteration, NAN});
	r->frames++;
	if (io->dones[0] || r->frames >= r->max_frames)
		r->state = ENDED;
}

static size_t view_state_size(void *env)
{
	struct gnarl_recorder *r = env;

	return r->env_ops->state_size(r->env);
}

static int view_save_state(void *env, void *buf, size_t size)
{
	struct gnarl_recorder *r = env;

	return r->env_ops->save_state(r->env, buf, size);
}

static int view_load_state(void *env, const struct gnarl_env_io *io, const void *buf,
                           size_t size, char err[GNARL_ERR_SIZE])
{
	struct gnarl_recorder *r = env;

	return r->env_ops->load_state(r->env, io, buf, size, err);
}

/* ---- the encoder's thread --------------------------------------------------- */

static int read_file(const char *path, uint8_t **data, size_t *len, char err[GNARL_ERR_SIZE])
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return gnarl_err(err, GNARL_EIO, "%s: %s", path, strerror(errno));
	n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
	*data = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!*data || fseek(f, 0, SEEK_SET) != 0 || fread(*data, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(*data);
		*data = NULL;
		return gnarl_err(err, GNARL_EIO, "reading %s back", path);
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

static int begin_video(struct gnarl_recorder *r, char err[GNARL_ERR_SIZE])
{
	struct gnarl_video_config gc = r->vc;
	int rc = gnarl_video_open(r->video_path, &r->vc, &r->video, err);

	gc.scale = 1; /* TensorBoard's GIF: the frames as they are, half of them */
	gc.fps = (r->vc.fps + GIF_STRIDE - 1) / GIF_STRIDE;
	if (!rc && r->tensorboard)
		rc = gnarl_video_open(r->gif_path, &gc, &r->gif, err);
	return rc;
}

/* Close the files, read them back and store the video. */
static int end_video(struct gnarl_recorder *r, struct result *x, char err[GNARL_ERR_SIZE])
{
	struct gnarl_video *v = r->video, *g = r->gif;
	char key[512];
	int rc;

	r->video = r->gif = NULL;
	r->encoded = 0;
	x->frames = gnarl_video_frames(v);
	rc = gnarl_video_close(v, err);
	if (g) {
		if (rc)
			gnarl_video_free(g);
		else
			rc = gnarl_video_close(g, err);
	}
	if (!rc)
		rc = read_file(r->video_path, &x->data, &x->len, err);
	if (!rc && r->tensorboard)
		rc = read_file(r->gif_path, &x->gif, &x->gif_len, err);
	if (rc)
		return rc;
	snprintf(key, sizeof(key), "%svideos/iter_%06llu%s", r->prefix,
	         (unsigned long long)x->iteration, r->ext);
	if (r->st && (rc = gnarl_storage_put(r->st, key, x->data, x->len, err)))
		return gnarl_err_prefix(err, rc, "storing the video %s: ", key);
	x->uri = malloc(strlen(key) + 1024);
	if (!x->uri)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	if (r->st) {
		const char *root = gnarl_storage_root(r->st);
		size_t n = strlen(root);

		snprintf(x->uri, strlen(key) + 1024, "%s%s%s", root,
		         n && root[n - 1] != '/' ? "/" : "", key);
	} else {
		snprintf(x->uri, strlen(key) + 1024, "%s", r->video_path);
	}
	return 0;
}

/* One item: a frame for the video under way (started by its first frame),
 * or its end.  A failure drops the rest of that video. */
static void encode_item(struct gnarl_recorder *r, const struct item *it, const uint8_t *frame)
{
	struct result *x = &r->work;
	int rc = 0;

	if (!it->end) {
		if (x->failed)
			return;
		if (!r->video)
			rc = begin_video(r, x->error);
		if (!rc)
			rc = gnarl_video_add(r->video, frame, x->error);
		if (!rc && r->gif && r->encoded % GIF_STRIDE == 0)
			rc = gnarl_video_add(r->gif, frame, x->error);
		r->encoded++;
		if (rc) {
			gnarl_video_free(r->video);
			gnarl_video_free(r->gif);
			r->video = r->gif = NULL;
			r->encoded = 0;
			x->failed = true;
		}
		return;
	}
	x->iteration = it->iteration;
	x->ret = it->ret;
	if (!x->failed && r->video && end_video(r, x, x->error))
		x->failed = true;
	if (!x->failed && !x->data) /* an end without frames: nothing to show */
		snprintf(x->error, sizeof(x->error), "a recorded episode without frames");
	x->failed = x->failed || !x->data;
	pthread_mutex_lock(&r->lock);
	result_clear(&r->done); /* not polled yet: the newer one wins */
	r->done = *x;
	r->has_done = true;
	pthread_mutex_unlock(&r->lock);
	memset(x, 0, sizeof(*x));
}

static void *encoder(void *arg)
{
	struct gnarl_recorder *r = arg;

	for (;;) {
		struct item it;
		const uint8_t *frame;

		pthread_mutex_lock(&r->lock);
		while (r->tail == r->head && !r->quit)
			pthread_cond_wait(&r->not_empty, &r->lock);
		if (r->quit) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		it = r->items[r->tail % QUEUE];
		frame = r->slots + (r->tail % QUEUE) * (size_t)GNARL_FRAME_BYTES;
		pthread_mutex_unlock(&r->lock);
		encode_item(r, &it, frame);
		pthread_mutex_lock(&r->lock);
		r->tail++;
		pthread_cond_signal(&r->not_full);
		pthread_mutex_unlock(&r->lock);
	}
	gnarl_video_free(r->video); /* a video under way is dropped */
	gnarl_video_free(r->gif);
	return NULL;
}

/* ---- setup ------------------------------------------------------------------ */

/* video.* into r; the files' names in a temporary directory. */
static int settings(struct gnarl_recorder *r, const struct gnarl_config *cfg,
                    char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *root = cfg->root;
	const char *format = gnarl_value_string(gnarl_value_at(root, "video.format"), "mp4");
	const char *tmp = getenv("TMPDIR");
	size_t n;

	r->max_frames = (uint64_t)gnarl_value_int(gnarl_value_at(root, "video.max_frames"), 4096);
	r->vc = (struct gnarl_video_config){
	    GNARL_FRAME_WIDTH, GNARL_FRAME_HEIGHT,
	    (uint32_t)gnarl_value_int(gnarl_value_at(root, "video.fps"), GNARL_VIDEO_FPS),
	    (uint32_t)gnarl_value_int(gnarl_value_at(root, "video.scale"), GNARL_VIDEO_SCALE)};
	r->tensorboard = gnarl_value_bool(gnarl_value_at(root, "video.tensorboard"), true);
	r->ext = !strcmp(format, "webm") ? ".webm" : ".mp4";
	r->mime = !strcmp(format, "webm") ? "video/webm" : "video/mp4";
	snprintf(r->dir, sizeof(r->dir), "%s/gnarl-video-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(r->dir)) {
		int e = errno;

		r->dir[0] = '\0';
		return gnarl_err(err, GNARL_EIO, "video: cannot make a temporary directory under "
		                 "%s: %s (set TMPDIR)", tmp && *tmp ? tmp : "/tmp", strerror(e));
	}
	n = strlen(r->dir) + 32;
	r->video_path = malloc(n);
	r->gif_path = malloc(n);
	if (!r->video_path || !r->gif_path)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	snprintf(r->video_path, n, "%s/episode%s", r->dir, r->ext);
	snprintf(r->gif_path, n, "%s/episode.gif", r->dir);
	return 0;
}

/* Open and drop a video of each kind now: an encoder this FFmpeg lacks
 * stops the run before it starts, not at the first recording. */
static int try_encoders(struct gnarl_recorder *r, char err[GNARL_ERR_SIZE])
{
	struct gnarl_video *v = NULL;
	int rc = gnarl_video_open(r->video_path, &r->vc, &v, err);

	gnarl_video_free(v);
	v = NULL;
	if (!rc && r->tensorboard)
		rc = gnarl_video_open(r->gif_path, &r->vc, &v, err);
	gnarl_video_free(v);
	return rc;
}

static void make_view(struct gnarl_recorder *r, const struct gnarl_env_ops *ops, void *env)
{
	r->env_ops = ops;
	r->env = env;
	r->ops = (struct gnarl_env_ops){
	    .size = sizeof(r->ops),
	    .destroy = view_destroy,
	    .spaces = view_spaces,
	    .reset = view_reset,
	    .step = view_step,
	};
	if (gnarl_plugin_env_has_state(ops)) {
		r->ops.state_size = view_state_size;
		r->ops.save_state = view_save_state;
		r->ops.load_state = view_load_state;
	}
}

int gnarl_recorder_check(const struct gnarl_config *cfg, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *every = gnarl_value_at(cfg->root, "video.every");

	if (gnarl_value_int(every, 0) > 0 && !gnarl_video_available())
		return gnarl_config_error(cfg, every, "video.every", err, "this gnarl was built "
		                          "without FFmpeg's libraries, so it records no videos: set "
		                          "video.every to 0, or install libavcodec-dev "
		                          "libavformat-dev libswscale-dev and rebuild");
	return 0;
}

int gnarl_recorder_open(const struct gnarl_config *cfg, struct gnarl_storage *st,
                        const char *run_prefix, const struct gnarl_env_ops *ops, void *env,
                        uint32_t n_envs, const struct gnarl_env_ops **view_ops,
                        void **view_env, struct gnarl_recorder **out,
                        char err[GNARL_ERR_SIZE])
{
	const struct gnarl_value *every = gnarl_value_at(cfg->root, "video.every");
	struct gnarl_env_spaces sp = {.size = sizeof(sp)};
	struct gnarl_recorder *r;
	int rc;

	*out = NULL;
	*view_ops = ops;
	*view_env = env;
	if (gnarl_value_int(every, 0) <= 0)
		return 0;
	ops->spaces(env, &sp);
	if (!sp.has_frames)
		return gnarl_config_error(cfg, every, "video.every", err, "this env renders no "
		                          "frames, so there is nothing to record: set video.every "
		                          "to 0");
	rc = gnarl_recorder_check(cfg, err);
	if (rc)
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->not_full, NULL);
	pthread_cond_init(&r->not_empty, NULL);
	r->every = (uint64_t)gnarl_value_int(every, 0);
	r->st = st;
	r->prefix = run_prefix ? run_prefix : "";
	r->flags = calloc(n_envs ? n_envs : 1, 1);
	r->slots = malloc((size_t)QUEUE * GNARL_FRAME_BYTES);
	rc = r->flags && r->slots ? settings(r, cfg, err) : gnarl_err(err, GNARL_ENOMEM,
	                                                              "out of memory");
	if (!rc)
		rc = try_encoders(r, err);
	if (!rc && pthread_create(&r->thread, NULL, encoder, r) != 0)
		rc = gnarl_err(err, GNARL_ENOMEM, "video: cannot start the encoder's thread");
	if (rc) {
		gnarl_recorder_free(r);
		return gnarl_err_prefix(err, rc, "video: ");
	}
	r->started = true;
	make_view(r, ops, env);
	*view_ops = &r->ops;
	*view_env = r;
	*out = r;
	return 0;
}

void gnarl_recorder_free(struct gnarl_recorder *r)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->lock);
		r->quit = true;
		pthread_cond_broadcast(&r->not_empty);
		pthread_cond_broadcast(&r->not_full);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	result_clear(&r->work);
	result_clear(&r->done);
	result_clear(&r->taken);
	if (r->video_path)
		unlink(r->video_path);
	if (r->gif_path)
		unlink(r->gif_path);
	if (r->dir[0])
		rmdir(r->dir);
	free(r->video_path);
	free(r->gif_path);
	free(r->flags);
	free(r->slots);
	pthread_cond_destroy(&r->not_full);
	pthread_cond_destroy(&r->not_empty);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- the trainer's side ----------------------------------------------------- */

/* The recording ended: its end goes to the encoder. */
static void end(struct gnarl_recorder *r, double ret)
{
	r->state = IDLE;
	publish(r, (struct item){true, r->iteration, ret});
}

void gnarl_recorder_arm(struct gnarl_recorder *r, uint64_t iteration)
{
	if (!r)
		return;
	if (r->state == ENDED) /* cut at video.max_frames: no return */
		end(r, NAN);
	r->iteration = iteration + 1;
	if (r->state == IDLE && iteration % r->every == 0)
		r->state = ARMED;
}

void gnarl_recorder_finished(struct gnarl_recorder *r, double ret, uint64_t length)
{
	if (r && r->state == ENDED && length == r->frames - 1)
		end(r, ret);
}

void gnarl_recorder_drain(struct gnarl_recorder *r)
{
	if (!r || !r->started)
		return;
	pthread_mutex_lock(&r->lock);
	while (r->tail != r->head && !r->quit)
		pthread_cond_wait(&r->not_full, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

bool gnarl_recorder_poll(struct gnarl_recorder *r, struct gnarl_recorder_video *out)
{
	struct result *x;

	if (!r)
		return false;
	pthread_mutex_lock(&r->lock);
	if (!r->has_done) {
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	result_clear(&r->taken);
	r->taken = r->done;
	memset(&r->done, 0, sizeof(r->done));
	r->has_done = false;
	pthread_mutex_unlock(&r->lock);
	x = &r->taken;
	*out = (struct gnarl_recorder_video){x->iteration, x->uri, r->mime, x->data, x->len,
	                                     x->gif, x->gif_len, x->frames, x->ret,
	                                     x->failed ? x->error : NULL};
	return true;
}
