/*
 * hud_archive.c - the archive of start states on the web HUD: the
 * trainer's side formats the archive's rooms once per iteration, the
 * server's side hands a copy to /api/archive, and the page draws it as a
 * map (hud_page.c).
 *
 * Entry points: gnarl_hud_show_archive (trainer thread), and for hud.c
 * and hud_http.c gnarl_hud_archive_alloc, _free, _json.
 *
 * /api/archive: {"iteration": I, "cells": C, "rooms": [[group, room,
 * cells, visits, frontier 0/1], ...]} by group then room.  A room's place
 * on its group's 16 x 16 map is room % 16 (column) and room / 16 (row), as
 * room ids are laid out in Oracle of Seasons.
 *
 * Invariants: the buffers are allocated with the HUD; show formats into
 * the trainer's stage without the lock, then copies under it; nothing
 * here allocates after that except the HTTP thread's copy.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "error.h"
#include "hud_internal.h"

/* A room's JSON is at most 5 numbers of 20 digits and punctuation. */
#define ROOM_JSON 112
#define HUD_ARCHIVE_JSON (128 + GNARL_HUD_ARCHIVE_ROOMS * ROOM_JSON)

int gnarl_hud_archive_alloc(struct gnarl_hud *h)
{
	struct hud_archive *a = &h->archive;

	a->rooms = calloc(GNARL_HUD_ARCHIVE_ROOMS, sizeof(*a->rooms));
	a->stage = malloc(HUD_ARCHIVE_JSON);
	a->json = malloc(HUD_ARCHIVE_JSON);
	return a->rooms && a->stage && a->json ? 0 : GNARL_ENOMEM;
}

void gnarl_hud_archive_free(struct gnarl_hud *h)
{
	free(h->archive.rooms);
	free(h->archive.stage);
	free(h->archive.json);
}

void gnarl_hud_show_archive(struct gnarl_hud *h, const struct gnarl_archive *a,
                            uint64_t iteration)
{
	struct hud_archive *ha;
	struct gnarl_archive_stats st;
	uint32_t n;
	size_t len;

	if (!h || !a)
		return;
	ha = &h->archive;
	gnarl_archive_stats(a, &st);
	n = gnarl_archive_rooms(a, ha->rooms, GNARL_HUD_ARCHIVE_ROOMS);
	n = n < GNARL_HUD_ARCHIVE_ROOMS ? n : GNARL_HUD_ARCHIVE_ROOMS;
	len = (size_t)snprintf(ha->stage, HUD_ARCHIVE_JSON,
	                       "{\"iteration\":%" PRIu64 ",\"cells\":%u,\"rooms\":[", iteration,
	                       st.cells);
	for (uint32_t i = 0; i < n; i++) {
		const struct gnarl_archive_room *r = &ha->rooms[i];
		len += (size_t)snprintf(ha->stage + len, HUD_ARCHIVE_JSON - len,
		                        "%s[%" PRId32 ",%" PRId32 ",%u,%" PRIu64 ",%d]", i ? "," : "",
		                        r->group, r->room, r->cells, r->visits, r->frontier ? 1 : 0);
	}
	len += (size_t)snprintf(ha->stage + len, HUD_ARCHIVE_JSON - len, "]}\n");
	pthread_mutex_lock(&h->lock);
	memcpy(ha->json, ha->stage, len);
	ha->len = len;
	pthread_mutex_unlock(&h->lock);
}

char *gnarl_hud_archive_json(struct gnarl_hud *h, size_t *len)
{
	char *copy = NULL;

	pthread_mutex_lock(&h->lock);
	*len = h->archive.len;
	if (*len && (copy = malloc(*len)))
		memcpy(copy, h->archive.json, *len);
	pthread_mutex_unlock(&h->lock);
	return copy;
}
