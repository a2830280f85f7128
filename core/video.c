/*
 * video.c - video files through FFmpeg's libraries (see video.h).
 *
 * Entry points: gnarl_video_available, _format_known, _open, _add, _close,
 * _free, _frames.
 *
 * Invariants: a video is written to "<path>.<pid>.part" and renamed to
 * path only by a close that succeeded; every failure removes the part
 * file.  FFmpeg's own messages reach the log only at error level, as
 * warnings from "ffmpeg" (its info lines, x264's statistics, would
 * otherwise land on stderr between the trainer's).
 */
#include "video.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

/* name extension -> encoders to try, in order; gif: a palette */
struct format {
	const char *ext;
	const char *encoders[2];
	bool gif;
};

static const struct format formats[] = {
	{".mp4", {"libx264", NULL}, false},
	{".m4v", {"libx264", NULL}, false},
	{".mov", {"libx264", NULL}, false},
	{".mkv", {"libx264", NULL}, false},
	{".webm", {"libvpx-vp9", "libvpx"}, false},
	{".gif", {"gif", NULL}, true},
};

static const struct format *format_of(const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		size_t e = strlen(formats[i].ext);

		if (n > e && !strcasecmp(path + n - e, formats[i].ext))
			return &formats[i];
	}
	return NULL;
}

bool gnarl_video_format_known(const char *path)
{
	return path && format_of(path) != NULL;
}

#ifndef GNARL_HAVE_FFMPEG

bool gnarl_video_available(void)
{
	return false;
}

int gnarl_video_open(const char *path, const struct gnarl_video_config *cfg,
                     struct gnarl_video **out, char err[GNARL_ERR_SIZE])
{
	(void)cfg;
	*out = NULL;
	return gnarl_err(err, GNARL_EUNSUPPORTED, "%s: this gnarl was built without FFmpeg's "
	                 "libraries, so it writes no videos: install libavcodec-dev "
	                 "libavformat-dev libswscale-dev and rebuild (or use --frames DIR for "
	                 "PNG files)", path);
}

int gnarl_video_add(struct gnarl_video *v, const uint8_t *rgb, char err[GNARL_ERR_SIZE])
{
	(void)v;
	(void)rgb;
	return gnarl_err(err, GNARL_EUNSUPPORTED, "no video support");
}

int gnarl_video_close(struct gnarl_video *v, char err[GNARL_ERR_SIZE])
{
	(void)v;
	return gnarl_err(err, GNARL_EUNSUPPORTED, "no video support");
}

void gnarl_video_free(struct gnarl_video *v)
{
	(void)v;
}

uint64_t gnarl_video_frames(const struct gnarl_video *v)
{
	(void)v;
	return 0;
}

#else

#include <pthread.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "log.h"

#define PALETTE_SLOTS 1024  /* hash of colour -> palette index (<= 255 used) */
#define TRANSPARENT 255     /* the GIF palette's clear entry: unchanged pixels */

struct gnarl_video {
	char *path, *part;
	const struct format *f;
	AVFormatContext *mux;
	AVCodecContext *enc;
	AVStream *st;
	struct SwsContext *sws;  /* RGB -> the codec's format and size; NULL for GIF */
	AVFrame *frame;
	AVPacket *pkt;
	uint32_t w, h;
	uint64_t frames;
	bool header;             /* the muxer's header is written */
	/* GIF: colours in order of appearance; past 255 the nearest is used */
	uint32_t palette[256], n_colors;
	uint32_t keys[PALETTE_SLOTS]; /* rgb | 1 << 24 when used */
	uint8_t index[PALETTE_SLOTS];
};

bool gnarl_video_available(void)
{
	return true;
}

static void ffmpeg_log(void *avcl, int level, const char *fmt, va_list vl)
{
	char line[1024];
	int prefix = 1;

	if (level > AV_LOG_ERROR)
		return;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &prefix);
	gnarl_log(GNARL_LOG_WARN, "ffmpeg", "%s", line);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void route_log(void)
{
	av_log_set_callback(ffmpeg_log);
}

static int av_fail(char err[GNARL_ERR_SIZE], int code, const char *path, const char *what,
                   int averr)
{
	char why[AV_ERROR_MAX_STRING_SIZE];

	av_strerror(averr, why, sizeof(why));
	return gnarl_err(err, code, "%s: %s: %s", path, what, why);
}

/* Encoder options: quality over size, fast, and one thread (see video.h). */
static void encoder_options(const char *name, AVDictionary **o)
{
	if (!strcmp(name, "libx264")) {
		av_dict_set(o, "preset", "veryfast", 0);
		av_dict_set(o, "crf", "20", 0);
	} else if (!strncmp(name, "libvpx", 6)) {
		av_dict_set(o, "crf", "30", 0);
		av_dict_set(o, "b", "0", 0);
		av_dict_set(o, "deadline", "realtime", 0);
		av_dict_set(o, "cpu-used", "8", 0);
	}
}

static int open_encoder(struct gnarl_video *v, const struct gnarl_video_config *cfg,
                        char err[GNARL_ERR_SIZE])
{
	uint32_t fps = cfg->fps ? cfg->fps : GNARL_VIDEO_FPS;
	uint32_t scale = cfg->scale ? cfg->scale : v->f->gif ? 1 : GNARL_VIDEO_SCALE;
	const AVCodec *codec = NULL;
	AVDictionary *o = NULL;
	int rc;

	for (int i = 0; i < 2 && !codec && v->f->encoders[i]; i++)
		codec = avcodec_find_encoder_by_name(v->f->encoders[i]);
	if (!codec)
		return gnarl_err(err, GNARL_EUNSUPPORTED, "%s: this FFmpeg has no %s encoder (for "
		                 "%s files): name the video .webm (VP9) or .gif instead", v->path,
		                 v->f->encoders[0], v->f->ext);
	v->enc = avcodec_alloc_context3(codec);
	if (!v->enc)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	v->enc->width = (int)(v->w * scale);
	v->enc->height = (int)(v->h * scale);
	v->enc->time_base = (AVRational){1, (int)fps};
	v->enc->framerate = (AVRational){(int)fps, 1};
	v->enc->gop_size = (int)(2 * fps); /* a key frame every 2 s: seeking */
	v->enc->pix_fmt = v->f->gif ? AV_PIX_FMT_PAL8 : AV_PIX_FMT_YUV420P;
	v->enc->thread_count = 1;
	/* what swscale writes by default: BT.601, limited range */
	v->enc->colorspace = AVCOL_SPC_SMPTE170M;
	v->enc->color_range = AVCOL_RANGE_MPEG;
	if (v->mux->oformat->flags & AVFMT_GLOBALHEADER)
		v->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	encoder_options(codec->name, &o);
	rc = avcodec_open2(v->enc, codec, &o);
	av_dict_free(&o);
	if (rc < 0)
		return av_fail(err, GNARL_EINVAL, v->path, codec->name, rc);
	v->st = avformat_new_stream(v->mux, NULL);
	if (!v->st || avcodec_parameters_from_context(v->st->codecpar, v->enc) < 0)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	v->st->time_base = v->enc->time_base;
	v->frame = av_frame_alloc();
	v->pkt = av_packet_alloc();
	if (!v->frame || !v->pkt)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	v->frame->format = v->enc->pix_fmt;
	v->frame->width = v->enc->width;
	v->frame->height = v->enc->height;
	if (av_frame_get_buffer(v->frame, 0) < 0)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	if (!v->f->gif) {
		v->sws = sws_getContext((int)v->w, (int)v->h, AV_PIX_FMT_RGB24, v->enc->width,
		                        v->enc->height, v->enc->pix_fmt, SWS_POINT, NULL, NULL, NULL);
		if (!v->sws)
			return gnarl_err(err, GNARL_EINVAL, "%s: cannot convert %ux%u RGB frames",
			                 v->path, v->w, v->h);
	}
	return 0;
}

static int open_file(struct gnarl_video *v, char err[GNARL_ERR_SIZE])
{
	AVDictionary *o = NULL;
	int rc;

	/* the muxer reopens its url to move the index first (faststart) */
	av_free(v->mux->url);
	v->mux->url = av_strdup(v->part);
	if (!v->mux->url)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	rc = avio_open(&v->mux->pb, v->part, AVIO_FLAG_WRITE);
	if (rc < 0)
		return av_fail(err, GNARL_EIO, v->path, "cannot create the file", rc);
	if (!strcmp(v->mux->oformat->name, "mp4") || !strcmp(v->mux->oformat->name, "mov"))
		av_dict_set(&o, "movflags", "+faststart", 0);
	if (v->f->gif)
		av_dict_set(&o, "loop", "0", 0);
	rc = avformat_write_header(v->mux, &o);
	av_dict_free(&o);
	if (rc < 0)
		return av_fail(err, GNARL_EIO, v->path, "writing the header", rc);
	v->header = true;
	return 0;
}

int gnarl_video_open(const char *path, const struct gnarl_video_config *cfg,
                     struct gnarl_video **out, char err[GNARL_ERR_SIZE])
{
	const struct format *f = format_of(path);
	struct gnarl_video *v;
	size_t len = strlen(path) + 32;
	int rc;

	*out = NULL;
	if (!f)
		return gnarl_err(err, GNARL_EUNSUPPORTED, "%s: not a video name gnarl writes: end "
		                 "it in .mp4 (H.264), .webm (VP9) or .gif", path);
	if (!cfg->width || !cfg->height)
		return gnarl_err(err, GNARL_EINVAL, "%s: frames of %ux%u pixels", path, cfg->width,
		                 cfg->height);
	pthread_once(&log_once, route_log);
	v = calloc(1, sizeof(*v));
	if (!v)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	v->f = f;
	v->w = cfg->width;
	v->h = cfg->height;
	v->path = strdup(path);
	v->part = malloc(len);
	if (!v->path || !v->part) {
		rc = gnarl_err(err, GNARL_ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(v->part, len, "%s.%ld.part", path, (long)getpid());
	rc = avformat_alloc_output_context2(&v->mux, NULL, NULL, path);
	if (rc < 0) {
		rc = av_fail(err, GNARL_EUNSUPPORTED, path, "no muxer for this name", rc);
		goto fail;
	}
	rc = open_encoder(v, cfg, err);
	if (!rc)
		rc = open_file(v, err);
	if (rc)
		goto fail;
	*out = v;
	return 0;
fail:
	gnarl_video_free(v);
	return rc;
}

/* The palette index of colour rgb (24 bits), added if new. */
static uint8_t colour(struct gnarl_video *v, uint32_t rgb)
{
	uint32_t slot = (rgb * 2654435761u) >> 22, best = 0, best_d = UINT32_MAX;

	for (;; slot = (slot + 1) % PALETTE_SLOTS) {
		if (v->keys[slot] == (rgb | 1u << 24))
			return v->index[slot];
		if (!v->keys[slot])
			break;
	}
	if (v->n_colors < TRANSPARENT) {
		v->palette[v->n_colors] = 0xFF000000u | rgb;
		v->keys[slot] = rgb | 1u << 24;
		v->index[slot] = (uint8_t)v->n_colors;
		return (uint8_t)v->n_colors++;
	}
	for (uint32_t i = 0; i < v->n_colors; i++) { /* full: the nearest (not remembered) */
		int dr = (int)(rgb >> 16) - (int)(v->palette[i] >> 16 & 255);
		int dg = (int)(rgb >> 8 & 255) - (int)(v->palette[i] >> 8 & 255);
		int db = (int)(rgb & 255) - (int)(v->palette[i] & 255);
		uint32_t d = (uint32_t)(dr * dr + dg * dg + db * db);

		if (d < best_d) {
			best_d = d;
			best = i;
		}
	}
	return (uint8_t)best;
}

static void palettize(struct gnarl_video *v, const uint8_t *rgb)
{
	uint32_t *pal = (uint32_t *)v->frame->data[1];

	for (uint32_t y = 0; y < v->h; y++) {
		uint8_t *row = v->frame->data[0] + (size_t)y * (size_t)v->frame->linesize[0];

		for (uint32_t x = 0; x < v->w; x++, rgb += 3)
			row[x] = colour(v, (uint32_t)rgb[0] << 16 | (uint32_t)rgb[1] << 8 | rgb[2]);
	}
	memset(pal, 0, 256 * sizeof(*pal)); /* TRANSPARENT is clear */
	memcpy(pal, v->palette, v->n_colors * sizeof(*pal));
}

/* Send a frame (NULL: flush) and write every packet that comes out. */
static int encode(struct gnarl_video *v, const AVFrame *frame, char err[GNARL_ERR_SIZE])
{
	int rc = avcodec_send_frame(v->enc, frame);

	if (rc < 0)
		return av_fail(err, GNARL_EIO, v->path, "encoding", rc);
	for (;;) {
		rc = avcodec_receive_packet(v->enc, v->pkt);
		if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
			return 0;
		if (rc < 0)
			return av_fail(err, GNARL_EIO, v->path, "encoding", rc);
		/* every frame lasts one tick: without it, MP4's last frame had no
		 * duration and readers dropped it when it fell on a whole second */
		v->pkt->duration = 1;
		av_packet_rescale_ts(v->pkt, v->enc->time_base, v->st->time_base);
		v->pkt->stream_index = v->st->index;
		rc = av_interleaved_write_frame(v->mux, v->pkt);
		if (rc < 0)
			return av_fail(err, GNARL_EIO, v->path, "writing", rc);
	}
}

int gnarl_video_add(struct gnarl_video *v, const uint8_t *rgb, char err[GNARL_ERR_SIZE])
{
	if (av_frame_make_writable(v->frame) < 0)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	if (v->f->gif) {
		palettize(v, rgb);
	} else {
		const uint8_t *src[1] = {rgb};
		const int stride[1] = {(int)(3 * v->w)};

		sws_scale(v->sws, src, stride, 0, (int)v->h, v->frame->data, v->frame->linesize);
	}
	v->frame->pts = (int64_t)v->frames++;
	return encode(v, v->frame, err);
}

int gnarl_video_close(struct gnarl_video *v, char err[GNARL_ERR_SIZE])
{
	int rc = 0;

	if (!v->frames)
		rc = gnarl_err(err, GNARL_EINVAL, "%s: a video without frames", v->path);
	if (!rc)
		rc = encode(v, NULL, err);
	if (!rc && (rc = av_write_trailer(v->mux)) < 0)
		rc = av_fail(err, GNARL_EIO, v->path, "finishing the file", rc);
	v->header = false;
	if (!rc && (rc = avio_closep(&v->mux->pb)) < 0)
		rc = av_fail(err, GNARL_EIO, v->path, "closing the file", rc);
	if (!rc && rename(v->part, v->path) != 0)
		rc = gnarl_err(err, GNARL_EIO, "%s: cannot rename %s into place: %s", v->path,
		               v->part, strerror(errno));
	gnarl_video_free(v); /* after a rename, the part file is gone already */
	return rc;
}

void gnarl_video_free(struct gnarl_video *v)
{
	if (!v)
		return;
	if (v->mux) {
		if (v->header)
			av_write_trailer(v->mux);
		if (v->mux->pb)
			avio_closep(&v->mux->pb);
		avformat_free_context(v->mux);
	}
	if (v->part)
		unlink(v->part);
	avcodec_free_context(&v->enc);
	sws_freeContext(v->sws);
	av_frame_free(&v->frame);
	av_packet_free(&v->pkt);
	free(v->path);
	free(v->part);
	free(v);
}

uint64_t gnarl_video_frames(const struct gnarl_video *v)
{
	return v->frames;
}

#endif
