/*
 * recorder.h - videos of training episodes (`video.every`): every N
 * iterations, env 0's next whole episode is recorded as it is trained on
 * (sampled actions, as SB3's video recorder does with a training env) and
 * becomes
 *
 *     <run>/videos/iter_NNNNNN.mp4   (video.format; NNNNNN: the iteration
 *                                     the episode ended in), through storage
 *     an animated GIF in TensorBoard (tag video/episode, IMAGES tab; every
 *                                     2nd frame at half the rate, 160x144:
 *                                     a preview, a quarter of the size)
 *     the HUD's video of the latest episode
 *
 * Frames are rendered by env 0 only while it records, through a view of
 * the env (as the HUD's): the rollout steps the view in the env's place.
 * The thread stepping env 0 copies each frame into a ring of QUEUE
 * slots; an encoder thread of its own writes the video files (FFmpeg,
 * one thread: core/video.h) and stores the result.  A full ring makes
 * env 0's thread wait for the encoder (no frame is dropped).
 *
 * The trainer's side, on its thread:
 *
 *     gnarl_recorder_arm(r, iteration)     before each iteration
 *     gnarl_recorder_finished(r, ret, n)   env 0's episode ended (its return)
 *     gnarl_recorder_poll(r, &v)           after it: a finished video
 *     gnarl_recorder_drain(r)              at the end: wait until what is
 *                                          queued is encoded (then poll)
 *
 * Every function accepts r == NULL and then does nothing (video.every 0).
 */
#ifndef GNARL_RECORDER_H
#define GNARL_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

struct gnarl_config;
struct gnarl_storage;
struct gnarl_recorder;

/* A finished video, borrowed until the next poll or free. */
struct gnarl_recorder_video {
	uint64_t iteration;        /* the episode ended in it */
	const char *uri;           /* where the video file went ("runs/x/videos/...") */
	const char *mime;          /* "video/mp4", "video/webm" */
	const uint8_t *data;       /* the video file */
	size_t len;
	const uint8_t *gif;        /* the TensorBoard GIF (160x144, every 2nd
	                              frame); NULL: none */
	size_t gif_len;
	uint64_t frames;
	double ret;                /* the episode's return; NAN: cut at video.max_frames */
	const char *error;         /* non-NULL: it failed (why); the rest is unset */
};

/* What can be checked before the env exists: video.every without FFmpeg
 * (a config error located at it).  0 or GNARL_ECONFIG. */
int gnarl_recorder_check(const struct gnarl_config *cfg, char err[GNARL_ERR_SIZE]);
/* The recorder the config asks for (video.*): *out NULL when video.every
 * is 0.  Errors, located at video.every: an env that renders no frames,
 * a build without FFmpeg.  st and run_prefix borrowed (NULL st: videos
 * are encoded but stored nowhere).  *view_ops and *view_env stand for
 * (ops, env) of n_envs envs, to step instead of them; they live as long
 * as *out (ops and env themselves when *out is NULL). */
int gnarl_recorder_open(const struct gnarl_config *cfg, struct gnarl_storage *st,
                        const char *run_prefix, const struct gnarl_env_ops *ops, void *env,
                        uint32_t n_envs, const struct gnarl_env_ops **view_ops,
                        void **view_env, struct gnarl_recorder **out,
                        char err[GNARL_ERR_SIZE]);
/* Stops the encoder (a video under way is dropped).  Accepts NULL. */
void gnarl_recorder_free(struct gnarl_recorder *r);

/* Iteration `iteration` + 1 is about to run: record env 0's next
 * episode when iteration is a multiple of video.every (and none is under
 * way). */
void gnarl_recorder_arm(struct gnarl_recorder *r, uint64_t iteration);
/* Env 0's episode ended with return `ret` after `length` steps (the
 * trainer's thread, after the step). */
void gnarl_recorder_finished(struct gnarl_recorder *r, double ret, uint64_t length);
/* A video finished since the last poll: true and *out filled. */
bool gnarl_recorder_poll(struct gnarl_recorder *r, struct gnarl_recorder_video *out);
/* Wait until the encoder has taken every queued frame and end: a video
 * whose episode ended is then stored and ready for poll (a recording
 * still under way stays unfinished and is dropped by free). */
void gnarl_recorder_drain(struct gnarl_recorder *r);

#endif /* GNARL_RECORDER_H */
