/*
 * cmd_archive.c - `gnarl archive list|show [URI]`: the archive of start
 * states (core/learn/archive.h) a checkpoint holds, without an env.
 *
 * Entry point: gnarl_cmd_archive (registered in cli.c).  URI: a checkpoint
 * or run directory (its latest checkpoint), s3://..., `latest` or
 * `tag:NAME` (in run.storage of the config); default `latest`.  The
 * checkpoint is verified whole (sizes, SHA-256) before its archive is
 * read.  `show` prints the summary and the rooms, `list` every cell
 * (by group, room, key).  Exit codes: 0; 2 for a bad command line; 3 for
 * a checkpoint that is missing or damaged, or one without an archive; 1
 * otherwise.  Output on stdout; --json prints JSON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archive.h"
#include "checkpoint.h"
#include "cli.h"
#include "config.h"
#include "episode.h"
#include "error.h"
#include "safetensors.h"
#include "storage.h"
#include "value.h"

int gnarl_cmd_archive(int argc, char **argv);

const char gnarl_cmd_archive_usage[] =
    "usage: gnarl archive show [URI] [--json] [-c FILE]\n"
    "       gnarl archive list [URI] [--json] [-c FILE]\n"
    "\n"
    "The archive of start states (archive.enabled) a checkpoint holds: the cells\n"
    "some env reached during training, each with a state episodes may start from.\n"
    "URI: a checkpoint directory, a run directory (its latest checkpoint), an\n"
    "s3:// URI, `latest` (the default) or `tag:NAME` (in run.storage of the config).\n"
    "  show   cells, rooms and milestones reached, bytes, starts from the archive,\n"
    "         then each room: its cells and visits\n"
    "  list   every cell: group, room, its key (field=bucket), milestones, visits,\n"
    "         times chosen as a start, env step when found, score\n";

/* An opened checkpoint and its archive. */
struct held {
	struct gnarl_checkpoint *ck;
	struct gnarl_archive_info info;
	struct gnarl_archive_cell *cells;   /* (info.cells), by group, room, key */
	size_t bytes;                       /* of the saved archive */
};

static int by_place(const void *x, const void *y)
{
	const struct gnarl_archive_cell *p = x, *q = y;

	if (p->group != q->group)
		return p->group < q->group ? -1 : 1;
	if (p->room != q->room)
		return p->room < q->room ? -1 : 1;
	for (int f = 0; f < GNARL_ARCHIVE_MAX_FIELDS; f++)
		if (p->key[f] != q->key[f])
			return p->key[f] < q->key[f] ? -1 : 1;
	return 0;
}

static int open_archive(const struct gnarl_config *cfg, const char *uri, struct held *h,
                        char err[GNARL_ERR_SIZE])
{
	const char *root = gnarl_value_string(gnarl_value_at(cfg->root, "run.storage"), "runs");
	const struct gnarl_safetensors_entry *e;
	struct gnarl_storage *st = NULL;
	int rc = 0;

	if (strcmp(uri, "latest") == 0 || strncmp(uri, "tag:", 4) == 0)
		rc = gnarl_storage_open(cfg, root, &st, err);
	if (!rc)
		rc = gnarl_checkpoint_open(cfg, st, "", uri, 0, &h->ck, err);
	gnarl_storage_close(st);
	if (rc)
		return rc;
	e = gnarl_safetensors_find(gnarl_checkpoint_tensors(h->ck), GNARL_ARCHIVE_TENSOR);
	if (!e || e->dtype != GNARL_DTYPE_U8 || e->ndim != 1)
		return gnarl_err(err, GNARL_ENOENT, "%s holds no archive of start states (it was "
		                 "trained with archive.enabled: false)",
		                 gnarl_checkpoint_manifest(h->ck)->uri);
	h->bytes = (size_t)(e->end - e->begin);
	rc = gnarl_archive_info(e->data, h->bytes, &h->info, err);
	if (rc)
		return gnarl_err_prefix(err, rc, "%s: ", gnarl_checkpoint_manifest(h->ck)->uri);
	h->cells = calloc(h->info.cells + 1, sizeof(*h->cells));
	if (!h->cells)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < h->info.cells; i++)
		gnarl_archive_info_cell(&h->info, i, &h->cells[i]);
	qsort(h->cells, h->info.cells, sizeof(*h->cells), by_place);
	return 0;
}

/* "sword,maku_tree" into buf ("-" for none). */
static const char *milestone_names(uint32_t m, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k < GNARL_MILESTONE_COUNT; k++)
		if (m >> k & 1)
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
			                        len ? "," : "", gnarl_episode_milestone_name(k));
	return len ? buf : "-";
}

/* "group=0 room=17 x=2 y=1 milestones=1" into buf. */
static const char *key_text(const struct gnarl_archive_info *info,
                            const struct gnarl_archive_cell *c, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (uint32_t f = 0; f < info->F; f++)
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s=%" PRId64,
		                        f ? " " : "", gnarl_archive_field_name(info->field[f]),
		                        c->key[f]);
	return buf;
}

static uint32_t rooms_and_milestones(const struct held *h, uint32_t *milestones)
{
	uint32_t rooms = 0;

	*milestones = 0;
	for (uint32_t i = 0; i < h->info.cells; i++) {
		const struct gnarl_archive_cell *c = &h->cells[i];
		rooms += i == 0 || c->group != h->cells[i - 1].group || c->room != h->cells[i - 1].room;
		*milestones |= c->milestones;
	}
	return rooms;
}

static json_t *cell_json(const struct held *h, const struct gnarl_archive_cell *c)
{
	json_t *key = json_object(), *ms = json_array();

	for (uint32_t f = 0; f < h->info.F; f++)
		json_object_set_new(key, gnarl_archive_field_name(h->info.field[f]),
		                    json_integer(c->key[f]));
	for (unsigned k = 0; k < GNARL_MILESTONE_COUNT; k++)
		if (c->milestones >> k & 1)
			json_array_append_new(ms, json_string(gnarl_episode_milestone_name(k)));
	return json_pack("{s:i, s:i, s:o, s:o, s:I, s:I, s:I, s:f}", "group", c->group, "room",
	                 c->room, "key", key, "milestones", ms, "visits", (json_int_t)c->visits,
	                 "chosen", (json_int_t)c->chosen, "found", (json_int_t)c->found, "score",
	                 c->score);
}

static int list(const struct held *h, bool json)
{
	char key[512], ms[128];

	if (json) {
		json_t *arr = json_array();
		for (uint32_t i = 0; i < h->info.cells; i++)
			json_array_append_new(arr, cell_json(h, &h->cells[i]));
		return gnarl_cli_print_json(arr);
	}
	printf("%-5s %-4s  %-44s %-30s %8s %7s %12s %10s\n", "GROUP", "ROOM", "KEY", "MILESTONES",
	       "VISITS", "CHOSEN", "FOUND (STEP)", "SCORE");
	for (uint32_t i = 0; i < h->info.cells; i++) {
		const struct gnarl_archive_cell *c = &h->cells[i];
		printf("%-5d 0x%02x  %-44s %-30s %8" PRIu64 " %7" PRIu64 " %12" PRIu64 " %10g\n",
		       c->group, (unsigned)c->room & 0xff, key_text(&h->info, c, key, sizeof(key)),
		       milestone_names(c->milestones, ms, sizeof(ms)), c->visits, c->chosen, c->found,
		       c->score);
	}
	return 0;
}

/* The rooms: one object per (group, room), cells in order. */
static json_t *rooms_json(const struct held *h)
{
	json_t *arr = json_array();

	for (uint32_t i = 0; i < h->info.cells;) {
		const struct gnarl_archive_cell *c = &h->cells[i];
		uint64_t visits = 0;
		uint32_t n = 0;
		for (; i < h->info.cells && h->cells[i].group == c->group && h->cells[i].room == c->room;
		     i++, n++)
			visits += h->cells[i].visits;
		json_array_append_new(arr, json_pack("{s:i, s:i, s:i, s:I}", "group", c->group, "room",
		                                     c->room, "cells", n, "visits",
		                                     (json_int_t)visits));
	}
	return arr;
}

static json_t *summary_json(const struct held *h)
{
	const struct gnarl_manifest *m = gnarl_checkpoint_manifest(h->ck);
	uint32_t milestones, rooms = rooms_and_milestones(h, &milestones);
	json_t *cell = json_object(), *ms = json_array();
	char score[64];

	for (uint32_t f = 0; f < h->info.F; f++)
		json_object_set_new(cell, gnarl_archive_field_name(h->info.field[f]),
		                    json_integer(h->info.bucket[f]));
	for (unsigned k = 0; k < GNARL_MILESTONE_COUNT; k++)
		if (milestones >> k & 1)
			json_array_append_new(ms, json_string(gnarl_episode_milestone_name(k)));
	snprintf(score, sizeof(score), "%s%s", h->info.score_sign < 0 ? "-" : "",
	         gnarl_archive_field_name(h->info.score_field));
	return json_pack("{s:s, s:I, s:I, s:s, s:o, s:s, s:i, s:i, s:i, s:o, s:I, s:I, s:I, s:I, "
	                 "s:I, s:o}",
	                 "checkpoint", m->uri, "iteration", (json_int_t)m->iteration, "env_steps",
	                 (json_int_t)m->env_steps, "env", h->info.env, "cell", cell, "score", score,
	                 "cells", (int)h->info.cells, "max_cells", (int)h->info.max_cells, "rooms",
	                 (int)rooms, "milestones", ms, "bytes", (json_int_t)h->bytes,
	                 "state_bytes", (json_int_t)h->info.state_bytes, "starts",
	                 (json_int_t)h->info.starts, "archive_starts",
	                 (json_int_t)h->info.archive_starts, "evicted",
	                 (json_int_t)h->info.evicted, "rooms_list", rooms_json(h));
}

static int show(const struct held *h, bool json)
{
	json_t *o = summary_json(h), *v;
	char ms[128];
	uint32_t milestones;
	size_t i;
	const char *key;

	if (!o)
		return gnarl_cli_fail(GNARL_ENOMEM, "out of memory");
	if (json)
		return gnarl_cli_print_json(o);
	rooms_and_milestones(h, &milestones);
	printf("%-16s %s (iteration %lld, env step %lld)\n", "checkpoint",
	       json_string_value(json_object_get(o, "checkpoint")),
	       (long long)json_integer_value(json_object_get(o, "iteration")),
	       (long long)json_integer_value(json_object_get(o, "env_steps")));
	printf("%-16s %s\n", "env", h->info.env);
	printf("%-16s", "cell");
	json_object_foreach (json_object_get(o, "cell"), key, v)
		printf(" %s/%lld", key, (long long)json_integer_value(v));
	printf("\n%-16s %s (%s is better)\n", "score",
	       json_string_value(json_object_get(o, "score")),
	       h->info.score_sign < 0 ? "lower" : "higher");
	printf("%-16s %u of at most %u (%llu evicted so far)\n", "cells", h->info.cells,
	       h->info.max_cells, (unsigned long long)h->info.evicted);
	printf("%-16s %lld\n", "rooms", (long long)json_integer_value(json_object_get(o, "rooms")));
	printf("%-16s %s\n", "milestones", milestone_names(milestones, ms, sizeof(ms)));
	printf("%-16s %zu (%zu per cell's state)\n", "bytes", h->bytes, h->info.state_bytes);
	printf("%-16s %llu of %llu episodes started from a cell (the saving rank's)\n", "starts",
	       (unsigned long long)h->info.archive_starts, (unsigned long long)h->info.starts);
	printf("rooms:\n  %-5s %-4s  %6s %10s\n", "GROUP", "ROOM", "CELLS", "VISITS");
	json_array_foreach (json_object_get(o, "rooms_list"), i, v)
		printf("  %-5lld 0x%02llx  %6lld %10lld\n",
		       (long long)json_integer_value(json_object_get(v, "group")),
		       (long long)json_integer_value(json_object_get(v, "room")) & 0xff,
		       (long long)json_integer_value(json_object_get(v, "cells")),
		       (long long)json_integer_value(json_object_get(v, "visits")));
	json_decref(o);
	return 0;
}

int gnarl_cmd_archive(int argc, char **argv)
{
	struct gnarl_cli_opts o = {0};
	struct gnarl_config *cfg = NULL;
	struct held h = {0};
	char err[GNARL_ERR_SIZE], path[4096];
	const char *pos[2] = {NULL, NULL};
	int n, rc;

	n = gnarl_cli_parse("archive", argc, argv, &o, pos, 2);
	if (n < 0)
		return GNARL_EXIT_USAGE;
	if (n == 0)
		return gnarl_cli_usage_error("archive", "which command? (show, list)");
	if (strcmp(pos[0], "show") && strcmp(pos[0], "list"))
		return gnarl_cli_usage_error("archive", "unknown command '%s'", pos[0]);
	/* the config only names run.storage: the defaults do without a file */
	if (o.config || gnarl_cli_config_path(&o, path, sizeof(path), err) == 0)
		rc = gnarl_cli_load_config(&o, &cfg);
	else
		rc = gnarl_config_load(NULL, o.sets, o.n_sets, &cfg, err) < 0
		         ? gnarl_cli_fail(GNARL_ECONFIG, "%s", err)
		         : 0;
	if (rc)
		return rc;
	rc = open_archive(cfg, pos[1] ? pos[1] : "latest", &h, err);
	if (rc < 0)
		rc = gnarl_cli_fail(rc == GNARL_ENOENT ? GNARL_ECORRUPT : rc, "%s", err);
	else
		rc = strcmp(pos[0], "show") == 0 ? show(&h, o.json) : list(&h, o.json);
	free(h.cells);
	gnarl_checkpoint_close(h.ck);
	gnarl_config_free(cfg);
	return rc;
}
