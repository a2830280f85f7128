/*
 * video.h - episodes as video files, encoded by FFmpeg's libraries
 * (libavcodec, libavformat, libswscale; optional: without them every
 * open fails with GNARL_EUNSUPPORTED and a message saying what to
 * install).
 *
 * The container and codec follow the file name's extension:
 *
 *     .mp4 .m4v .mov .mkv   H.264 (libx264), yuv420p: browsers' <video>,
 *                           common players; .mp4 with its index first
 *                           (faststart), so it plays while it loads
 *     .webm                 VP9 (libvpx-vp9), yuv420p
 *     .gif                  GIF, palette of the video's first 256 colours
 *                           (Game Boy frames have at most 56), looping
 *
 * Frames are RGB (3 bytes per pixel, rows top to bottom), scaled by an
 * integer factor with nearest-neighbour sampling: at 2x each Game Boy
 * pixel is a 2 x 2 block, so 4:2:0 chroma keeps its colour exact.
 *
 * The file is written under a temporary name next to `path` and renamed
 * at close: a reader never sees half a video.  One encoder thread
 * (thread_count 1): a video never competes with training for cores.
 */
#ifndef GNARL_VIDEO_H
#define GNARL_VIDEO_H

#include <stdbool.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#define GNARL_VIDEO_FPS 30
#define GNARL_VIDEO_SCALE 2

struct gnarl_video_config {
	uint32_t width, height; /* of the frames added */
	uint32_t fps;           /* frames per second of playback; 0: GNARL_VIDEO_FPS */
	uint32_t scale;         /* integer upscale; 0: GNARL_VIDEO_SCALE (GIF: 1) */
};

struct gnarl_video;

/* Whether this build writes videos (FFmpeg's libraries were found). */
bool gnarl_video_available(void);
/* Whether `path`'s extension names a format written here (see the top). */
bool gnarl_video_format_known(const char *path);

/* Start a video at `path` (copied).  GNARL_EUNSUPPORTED: built without
 * FFmpeg, an unknown extension, or an encoder this FFmpeg lacks;
 * GNARL_EIO: the file cannot be created; GNARL_EINVAL: a size the codec
 * refuses.  *out owned: close or free it. */
int gnarl_video_open(const char *path, const struct gnarl_video_config *cfg,
                     struct gnarl_video **out, char err[GNARL_ERR_SIZE]);
/* Encode one frame (width x height x 3 bytes, borrowed for the call). */
int gnarl_video_add(struct gnarl_video *v, const uint8_t *rgb, char err[GNARL_ERR_SIZE]);
/* Finish the file (trailer, rename into place) and free v, which is
 * gone whatever the result.  A video without frames is an error. */
int gnarl_video_close(struct gnarl_video *v, char err[GNARL_ERR_SIZE]);
/* Abandon v: the temporary file is removed.  Accepts NULL. */
void gnarl_video_free(struct gnarl_video *v);
/* Frames added so far. */
uint64_t gnarl_video_frames(const struct gnarl_video *v);

#endif /* GNARL_VIDEO_H */
