/*
 * cmd_checkpoints.c - `gnarl checkpoints list|show|tag|diff`: look at,
 * name and compare checkpoints without training.
 *
 * Entry point: gnarl_cmd_checkpoints(argc, argv), argv[0] = "checkpoints".
 * URIs: a checkpoint or run directory path, s3://..., or "latest" and
 * "tag:NAME", which resolve in the run root (`run.storage` of the config
 * given with -c, default "runs").  Exit codes: 0; 2 for a bad command
 * line or config; 3 (GNARL_EXIT_CHECKPOINT) for a checkpoint that is
 * missing, damaged, from a newer format, or (diff) refused by the new
 * config; 1 otherwise.  Human output on stdout (it is the command's
 * result); --json prints JSON instead.
 */
#include "cmd_checkpoints.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "checkpoint.h"
#include "cli.h"
#include "config.h"
#include "error.h"
#include "resume.h"
#include "storage.h"
#include "value.h"

static const char usage[] =
	"usage: gnarl checkpoints list [RUN|URI] [--json] [-c FILE]\n"
	"       gnarl checkpoints show URI [--json] [-c FILE]\n"
	"       gnarl checkpoints tag URI NAME [-c FILE]\n"
	"       gnarl checkpoints diff URI [-c FILE] [--set KEY=VALUE]...\n"
	"\n"
	"URI: a checkpoint directory (runs/x/checkpoints/checkpoint_000150), a run\n"
	"directory (its latest checkpoint), an s3:// URI, `latest` or `tag:NAME`\n"
	"(looked up in run.storage of the config, default runs/).\n"
	"  list   checkpoints of a run or of every run: iteration, time, env steps,\n"
	"         ep_return_mean, tags (* marks a run's latest)\n"
	"  show   a checkpoint's manifest, after verifying its files\n"
	"  tag    name a checkpoint; retention never deletes a tagged one\n"
	"  diff   what would change on resume with the config (exit 3 if refused); the\n"
	"         config's env is created once to compare its observation size and actions\n";

struct args {
	struct gnarl_cli_opts o;
	const char *verb, *pos[2];
	int n_pos;
};

/* 0, or an exit code after a usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	if (argc < 2)
		return gnarl_cli_usage_error("checkpoints", "which command? (list, show, tag, diff)");
	a->verb = argv[1];
	for (int i = 2; i < argc; i++) {
		int r = gnarl_cli_option(&a->o, argc, argv, &i);

		if (r < 0)
			return GNARL_EXIT_USAGE;
		if (r > 0)
			continue;
		if (argv[i][0] == '-' && argv[i][1])
			return gnarl_cli_usage_error("checkpoints", "unknown option '%s'", argv[i]);
		if (a->n_pos == 2)
			return gnarl_cli_usage_error("checkpoints", "unexpected argument '%s'", argv[i]);
		a->pos[a->n_pos++] = argv[i];
	}
	return 0;
}

/* Checkpoint commands exit 3 for a checkpoint that is not there either. */
static int fail(int rc, const char *err)
{
	return gnarl_cli_fail(rc == GNARL_ENOENT ? GNARL_ECORRUPT : rc, "%s", err);
}

/* The run root of the config (owned store). */
static int open_root(const struct gnarl_config *cfg, struct gnarl_storage **st,
                     char err[GNARL_ERR_SIZE])
{
	const char *root = gnarl_value_string(gnarl_value_at(cfg->root, "run.storage"), "runs");

	return gnarl_storage_open(cfg, root, st, err);
}

static bool local_path_exists(const char *p)
{
	struct stat sb;

	return strstr(p, "://") == NULL && stat(p, &sb) == 0;
}

static void print_entries(const struct gnarl_checkpoint_entry *e, size_t n, bool json)
{
	if (json) {
		json_t *arr = json_array();
		char *text;

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack(
				"{s:s, s:I, s:I, s:I, s:o, s:s, s:s?, s:b}", "uri", e[i].uri,
				"iteration", (json_int_t)e[i].iteration, "env_steps",
				(json_int_t)e[i].env_steps, "episodes", (json_int_t)e[i].episodes,
				"ep_return_mean",
				isfinite(e[i].ep_return_mean) ? json_real(e[i].ep_return_mean) : json_null(),
				"created_utc", e[i].created_utc, "tags", e[i].tags, "latest", e[i].latest));
		text = json_dumps(arr, JSON_INDENT(2));
		if (text)
			puts(text);
		free(text);
		json_decref(arr);
		return;
	}
	if (!n) {
		printf("no checkpoints\n");
		return;
	}
	printf("  %9s  %-20s  %12s  %14s  %-20s  %s\n", "ITERATION", "TIME (UTC)", "ENV STEPS",
	       "EP_RETURN_MEAN", "TAGS", "URI");
	for (size_t i = 0; i < n; i++)
		printf("%c %9llu  %-20s  %12llu  %14.4g  %-20s  %s\n", e[i].latest ? '*' : ' ',
		       (unsigned long long)e[i].iteration, e[i].created_utc,
		       (unsigned long long)e[i].env_steps, e[i].ep_return_mean,
		       e[i].tags ? e[i].tags : "-", e[i].uri);
}

static int cmd_list(const struct gnarl_config *cfg, const struct args *a, char err[GNARL_ERR_SIZE])
{
	struct gnarl_checkpoint_entry *e = NULL;
	struct gnarl_storage *st = NULL;
	const char *where = a->pos[0];
	char *path = NULL;
	size_t n = 0;
	int rc;

	if (!where) {
		rc = open_root(cfg, &st, err);
	} else {
		/* A bare run name is looked up in the run root. */
		if (!local_path_exists(where) && !strstr(where, "://")) {
			const char *root = gnarl_value_string(gnarl_value_at(cfg->root, "run.storage"),
			                                      "runs");
			path = malloc(strlen(root) + strlen(where) + 2);
			if (!path)
				return fail(GNARL_ENOMEM, "out of memory");
			sprintf(path, "%s/%s", root, where);
			if (!local_path_exists(path) && !strstr(path, "://")) {
				free(path);
				gnarl_err(err, GNARL_ENOENT, "no run or directory '%s' (nor %s/%s)", where,
				          root, where);
				return fail(GNARL_ENOENT, err);
			}
			where = path;
		}
		rc = gnarl_storage_open(cfg, where, &st, err);
	}
	if (rc == 0)
		rc = gnarl_checkpoint_list(st, "", &e, &n, err);
	if (rc == 0)
		print_entries(e, n, a->o.json);
	gnarl_checkpoint_list_free(e, n);
	gnarl_storage_close(st);
	free(path);
	return rc < 0 ? fail(rc, err) : 0;
}

/* Open a checkpoint named on the command line. */
static int open_ck(const struct gnarl_config *cfg, const char *uri, unsigned flags,
                   struct gnarl_checkpoint **ck, char err[GNARL_ERR_SIZE])
{
	struct gnarl_storage *st = NULL;
	int rc = 0;

	if (strcmp(uri, "latest") == 0 || strncmp(uri, "tag:", 4) == 0)
		rc = open_root(cfg, &st, err);
	if (rc == 0)
		rc = gnarl_checkpoint_open(cfg, st, "", uri, flags, ck, err);
	gnarl_storage_close(st);
	return rc;
}

static void print_json_field(const char *label, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	printf("%-16s %s\n", label, text ? text : "?");
	free(text);
}

static void print_manifest(const struct gnarl_manifest *m, const char *integrity)
{
	json_t *root = json_loads(m->json, 0, NULL), *v;
	const char *key;
	char *text;

	printf("%-16s %s\n", "checkpoint", m->uri);
	printf("%-16s %s\n", "integrity", integrity);
	printf("%-16s %lld (gnarl %s)\n", "format", (long long)m->format_version, m->gnarl_version);
	printf("%-16s %s\n", "created", m->created_utc);
	printf("%-16s %llu\n", "iteration", (unsigned long long)m->iteration);
	printf("%-16s %llu\n", "env steps", (unsigned long long)m->env_steps);
	printf("%-16s %llu\n", "episodes", (unsigned long long)m->episodes);
	printf("%-16s %g\n", "ep_return_mean", m->ep_return_mean);
	printf("%-16s %u\n", "observation size", m->obs_size);
	print_json_field("actions", json_object_get(root, "actions"));
	print_json_field("network", json_object_get(root, "network"));
	print_json_field("env", json_object_get(root, "env"));
	printf("%-16s %s\n", "parent", m->parent ? m->parent : "(none)");
	printf("plugins:\n");
	for (size_t i = 0; i < json_array_size(json_object_get(root, "plugins")); i++) {
		v = json_array_get(json_object_get(root, "plugins"), i);
		printf("  %-8s %-24s %s\n", json_string_value(json_object_get(v, "kind")),
		       json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "version")));
	}
	printf("metrics:\n");
	json_object_foreach (json_object_get(root, "metrics"), key, v) {
		text = json_dumps(v, JSON_ENCODE_ANY);
		printf("  %-30s %s\n", key, text ? text : "?");
		free(text);
	}
	printf("files:\n");
	json_object_foreach (json_object_get(root, "files"), key, v)
		printf("  %-20s %10lld bytes  sha256 %s\n", key,
		       (long long)json_integer_value(json_object_get(v, "size")),
		       json_string_value(json_object_get(v, "sha256")));
	text = json_dumps(json_object_get(root, "config"), JSON_INDENT(2) | JSON_ENCODE_ANY);
	printf("config:\n%s\n", text ? text : "null");
	free(text);
	json_decref(root);
}

static int cmd_show(const struct gnarl_config *cfg, const struct args *a, char err[GNARL_ERR_SIZE])
{
	struct gnarl_checkpoint *ck = NULL;
	char verify[GNARL_ERR_SIZE];
	int rc, vrc;

	if (!a->pos[0] || a->pos[1])
		return fail(GNARL_EINVAL, "checkpoints show takes one URI (see gnarl checkpoints --help)");
	/* Verify first; if that fails, still show the manifest, then say why. */
	vrc = open_ck(cfg, a->pos[0], 0, &ck, verify);
	if (vrc < 0) {
		rc = open_ck(cfg, a->pos[0], GNARL_CHECKPOINT_MANIFEST_ONLY, &ck, err);
		if (rc < 0)
			return fail(rc, err);
	}
	if (a->o.json)
		printf("%s\n", gnarl_checkpoint_manifest(ck)->json);
	else
		print_manifest(gnarl_checkpoint_manifest(ck),
		               vrc < 0 ? "FAILED (see the error below)" : "verified (sizes, SHA-256, "
		                                                           "safetensors)");
	gnarl_checkpoint_close(ck);
	return vrc < 0 ? fail(vrc, verify) : 0;
}

static int cmd_tag(const struct gnarl_config *cfg, const struct args *a, char err[GNARL_ERR_SIZE])
{
	struct gnarl_storage *st = NULL;
	char *uri = NULL;
	int rc = 0;

	if (!a->pos[0] || !a->pos[1])
		return fail(GNARL_EINVAL, "checkpoints tag takes a URI and a NAME");
	if (strcmp(a->pos[0], "latest") == 0 || strncmp(a->pos[0], "tag:", 4) == 0)
		rc = open_root(cfg, &st, err);
	if (rc == 0)
		rc = gnarl_checkpoint_tag(cfg, st, "", a->pos[0], a->pos[1], &uri, err);
	gnarl_storage_close(st);
	if (rc < 0)
		return fail(rc, err);
	printf("tagged %s as %s\n", uri, a->pos[1]);
	free(uri);
	return 0;
}

static int cmd_diff(struct gnarl_config *cfg, const struct args *a, char err[GNARL_ERR_SIZE])
{
	struct gnarl_checkpoint *ck = NULL;
	struct gnarl_checkpoint_diff *d = NULL;
	struct gnarl_resume_facts facts;
	const struct gnarl_manifest *m;
	int rc;

	if (!a->pos[0] || a->pos[1])
		return fail(GNARL_EINVAL, "checkpoints diff takes one URI");
	rc = open_ck(cfg, a->pos[0], GNARL_CHECKPOINT_MANIFEST_ONLY, &ck, err);
	if (rc < 0)
		return fail(rc, err);
	m = gnarl_checkpoint_manifest(ck);
	/* The env is created once, so its observation size and actions are
	 * compared too, as training would. */
	rc = gnarl_resume_facts(cfg, &facts, err);
	if (rc < 0) {
		gnarl_checkpoint_close(ck);
		return gnarl_cli_fail(rc, "%s", err);
	}
	rc = gnarl_checkpoint_diff(ck, cfg->root, &facts.info, &d, err);
	if (rc == 0) {
		printf("resuming %s (iteration %llu) with %s:\n", m->uri,
		       (unsigned long long)m->iteration, cfg->path ? cfg->path : "the default config");
		gnarl_checkpoint_diff_print(d, stdout);
		rc = gnarl_checkpoint_diff_check(d, err);
	}
	gnarl_checkpoint_diff_free(d);
	gnarl_checkpoint_close(ck);
	gnarl_resume_facts_clear(&facts);
	return rc < 0 ? fail(rc, err) : 0;
}

/* The config: -c FILE, else configs/env.yaml when present, else the
 * defaults (list, show and tag need only run.storage); diff needs one. */
static int load_config(const struct args *a, bool required, struct gnarl_config **cfg)
{
	char path[4096], err[GNARL_ERR_SIZE];
	int rc;

	if (required || gnarl_cli_config_path(&a->o, path, sizeof(path), err) == 0)
		return gnarl_cli_load_config(&a->o, cfg);
	rc = gnarl_config_load(NULL, a->o.sets, a->o.n_sets, cfg, err);
	return rc < 0 ? gnarl_cli_fail(rc, "%s", err) : 0;
}

int gnarl_cmd_checkpoints(int argc, char **argv)
{
	struct gnarl_config *cfg = NULL;
	char err[GNARL_ERR_SIZE];
	struct args a;
	int rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc;
	if (strcmp(a.verb, "list") && strcmp(a.verb, "show") && strcmp(a.verb, "tag") &&
	    strcmp(a.verb, "diff"))
		return gnarl_cli_usage_error("checkpoints", "unknown command '%s'", a.verb);
	rc = load_config(&a, strcmp(a.verb, "diff") == 0, &cfg);
	if (rc)
		return rc;
	if (strcmp(a.verb, "list") == 0)
		rc = cmd_list(cfg, &a, err);
	else if (strcmp(a.verb, "show") == 0)
		rc = cmd_show(cfg, &a, err);
	else if (strcmp(a.verb, "tag") == 0)
		rc = cmd_tag(cfg, &a, err);
	else
		rc = cmd_diff(cfg, &a, err);
	gnarl_config_free(cfg);
	return rc;
}
