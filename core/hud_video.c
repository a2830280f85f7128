/*
 * hud_video.c - the web HUD's episode video (see hud.h): the latest video
 * the trainer recorded (core/recorder.h), served at /video.
 *
 * Entry points: gnarl_hud_video (trainer thread), gnarl_hud_http_video
 * (HTTP thread), gnarl_hud_video_seq_locked, gnarl_hud_video_release.
 *
 * Invariants: a published video is never written again; the HUD holds one
 * reference to the latest and each response serving one holds another,
 * all counted under the HUD's lock, so a video being sent survives a newer
 * one and the bytes are never copied under the lock.  The last reference
 * frees it, outside the lock.
 */
#include "hud_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef GNARL_HAVE_MICROHTTPD
#include <microhttpd.h>
#endif

/* Drop a reference (lock held); the video to free, if it was the last. */
static struct hud_video *unref(struct hud_video *v)
{
	return v && --v->refs == 0 ? v : NULL;
}

void gnarl_hud_video(struct gnarl_hud *h, uint64_t iteration, const char *mime,
                     const void *data, size_t len)
{
	struct hud_video *v, *gone;

	if (!h || !data || !len)
		return;
	v = malloc(sizeof(*v) + len);
	if (!v)
		return; /* the previous video stays */
	v->hud = h;
	v->refs = 1;
	v->iteration = iteration;
	snprintf(v->mime, sizeof(v->mime), "%s", mime);
	v->len = len;
	memcpy(v->data, data, len);
	pthread_mutex_lock(&h->lock);
	v->seq = h->video ? h->video->seq + 1 : 1;
	gone = unref(h->video);
	h->video = v;
	pthread_mutex_unlock(&h->lock);
	free(gone);
}

uint64_t gnarl_hud_video_seq_locked(const struct gnarl_hud *h)
{
	return h->video ? h->video->seq : 0;
}

void gnarl_hud_video_release(struct gnarl_hud *h)
{
	struct hud_video *gone;

	pthread_mutex_lock(&h->lock);
	gone = unref(h->video);
	h->video = NULL;
	pthread_mutex_unlock(&h->lock);
	free(gone);
}

#ifdef GNARL_HAVE_MICROHTTPD

/* MHD is done with a response: its reference goes. */
static void served(void *cls)
{
	struct hud_video *v = cls;
	struct gnarl_hud *h = v->hud;
	struct hud_video *gone;

	pthread_mutex_lock(&h->lock);
	gone = unref(v);
	pthread_mutex_unlock(&h->lock);
	free(gone);
}

int gnarl_hud_http_video(struct gnarl_hud *h, void *connection)
{
	static const char none[] = "no episode video yet (the run records one every "
	                           "video.every iterations; 0 is off)\n";
	struct MHD_Connection *c = connection;
	struct MHD_Response *r;
	struct hud_video *v;
	enum MHD_Result ok;

	pthread_mutex_lock(&h->lock);
	v = h->video;
	if (v)
		v->refs++;
	pthread_mutex_unlock(&h->lock);
	if (!v) {
		r = MHD_create_response_from_buffer(sizeof(none) - 1, (void *)none,
		                                    MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
		ok = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
		MHD_destroy_response(r);
		return ok;
	}
	r = MHD_create_response_from_buffer_with_free_callback_cls(v->len, v->data, served, v);
	if (!r) {
		served(v);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, v->mime);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ok = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ok;
}

#endif
