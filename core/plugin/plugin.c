/*
 * plugin.c - find a plugin by name, dlopen it (RTLD_NOW | RTLD_LOCAL) and
 * check its descriptor before anyone touches it; list every plugin on the
 * search path.  The per-instance host tables are in plugin_host.c.
 *
 * Entry points: gnarl_plugin_open/close/desc/file/kind_name,
 * gnarl_plugin_scan, gnarl_plugin_scan_all, gnarl_plugin_search_text,
 * gnarl_plugin_create_failed, gnarl_plugin_env_has_state,
 * gnarl_plugin_term_has_state (plugin_host.h).
 *
 * Invariants: a struct gnarl_plugin_lib exists only for a descriptor that
 * passed every check (ABI major, sizes, kind, mandatory ops, parameter
 * table), so callers use desc->ops without further checks.  Every refusal
 * names the file; "not found" names every place looked.
 */
#include "plugin_host.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

#define MAX_DIRS 32
#define FILE_MAX 4096

/* snprintf into a path buffer; a path too long to fit is cut and then
 * simply not found. */
__attribute__((format(printf, 3, 4))) static void fmt_path(char *buf, size_t size,
                                                           const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

struct gnarl_plugin_lib {
	void *handle;
	char *file;
	const struct gnarl_plugin *desc; /* the plugin's, or &restrided */
	struct gnarl_plugin restrided;   /* its copy when params had another stride */
	struct gnarl_param *params;      /* owned: that copy's params */
};

/* The host reads arrays of these with the stride the plugin declares. */
_Static_assert(sizeof(struct gnarl_param) == GNARL_PARAM_V1_SIZE,
               "struct gnarl_param grew: tables of 1.0 plugins still have the old stride");
_Static_assert(sizeof(struct gnarl_llm_suggestion) == GNARL_LLM_SUGGESTION_V1_SIZE,
               "struct gnarl_llm_suggestion grew: 1.0 plugins still write the old size");

/* Size of each kind's ops table in ABI 1.0: up to its last 1.0 member. */
#define FN_SIZE sizeof(void (*)(void))
#define ENV_OPS_V1 (offsetof(struct gnarl_env_ops, step) + FN_SIZE)
#define REWARD_OPS_V1 (offsetof(struct gnarl_reward_ops, load) + FN_SIZE)
#define LLM_OPS_V1 (offsetof(struct gnarl_llm_ops, poll) + FN_SIZE)
#define STORAGE_OPS_V1 (offsetof(struct gnarl_storage_ops, exists) + FN_SIZE)

const char *gnarl_plugin_kind_name(enum gnarl_plugin_kind kind)
{
	switch (kind) {
	case GNARL_KIND_ENV:
		return "env";
	case GNARL_KIND_REWARD:
		return "reward";
	case GNARL_KIND_LLM:
		return "llm";
	case GNARL_KIND_STORAGE:
		return "storage";
	}
	return "unknown";
}

/* Where a plugin of this kind is listed in a config. */
static const char *kind_slot(enum gnarl_plugin_kind kind)
{
	switch (kind) {
	case GNARL_KIND_ENV:
		return "env.plugin";
	case GNARL_KIND_REWARD:
		return "rewards:";
	case GNARL_KIND_LLM:
		return "llm:";
	case GNARL_KIND_STORAGE:
		return "storage:";
	}
	return "?";
}

static const char *article(enum gnarl_plugin_kind kind)
{
	return kind == GNARL_KIND_ENV || kind == GNARL_KIND_LLM ? "an" : "a";
}

const struct gnarl_plugin *gnarl_plugin_desc(const struct gnarl_plugin_lib *lib)
{
	return lib->desc;
}

const char *gnarl_plugin_file(const struct gnarl_plugin_lib *lib)
{
	return lib->file;
}

/* The .so itself stays mapped until the process exits: unloading code
 * whose threads, atexit handlers or library constructors' allocations may
 * still be live (libmgba's are) is unsafe, and a mapped library keeps
 * sanitizer reports readable.  dlopen of the same file again is cheap. */
void gnarl_plugin_close(struct gnarl_plugin_lib *lib)
{
	if (!lib)
		return;
	free(lib->params);
	free(lib->file);
	free(lib);
}

bool gnarl_plugin_env_has_state(const struct gnarl_env_ops *ops)
{
	return ops->size >= offsetof(struct gnarl_env_ops, load_state) + sizeof(ops->load_state) &&
	       ops->state_size && ops->save_state && ops->load_state;
}

bool gnarl_plugin_term_has_state(const struct gnarl_reward_ops *ops)
{
	return ops->size >= offsetof(struct gnarl_reward_ops, load) + sizeof(ops->load) &&
	       ops->save_size && ops->save && ops->load;
}

uint32_t gnarl_plugin_suggestion_size(const struct gnarl_llm_ops *ops)
{
	return GNARL_HAS(ops, struct gnarl_llm_ops, suggestion_size) && ops->suggestion_size
	           ? ops->suggestion_size
	           : GNARL_LLM_SUGGESTION_V1_SIZE;
}

/* The stride of d's params table. */
static uint32_t param_size(const struct gnarl_plugin *d)
{
	return GNARL_HAS(d, struct gnarl_plugin, param_size) && d->param_size ? d->param_size
	                                                                      : GNARL_PARAM_V1_SIZE;
}

/* ------------------------------------------------------------------------ */
/* Checking a descriptor                                                    */

/* The name of the first mandatory op that is NULL, or NULL. */
static const char *missing_op(const struct gnarl_plugin *d)
{
	switch (d->kind) {
	case GNARL_KIND_ENV: {
		const struct gnarl_env_ops *o = d->ops.env;
		bool has_states = o->size >= offsetof(struct gnarl_env_ops, load_state) + FN_SIZE;
		bool has_env_states =
		    o->size >= offsetof(struct gnarl_env_ops, load_env_state) + FN_SIZE;
		return !o->create ? "create" : !o->destroy ? "destroy" : !o->spaces ? "spaces"
		       : !o->reset ? "reset" : !o->step ? "step"
		       : (has_states && (!o->state_size != !o->save_state ||
		                         !o->save_state != !o->load_state))
		           ? "state_size/save_state/load_state (all three or none)"
		       : (has_env_states && (!o->env_state_size != !o->save_env_state ||
		                             !o->save_env_state != !o->load_env_state))
		           ? "env_state_size/save_env_state/load_env_state (all three or none)"
		           : NULL;
	}
	case GNARL_KIND_REWARD: {
		/* destroy and episode_start are optional since 1.1. */
		const struct gnarl_reward_ops *o = d->ops.reward;
		bool has_memory = GNARL_HAS(o, struct gnarl_reward_ops, connect_memory);
		return !o->create ? "create" : !o->compute ? "compute"
		       : (!o->save_size != !o->save || !o->save != !o->load)
		           ? "save_size/save/load (all three or none)"
		       : (has_memory && !o->memory_size != !o->connect_memory)
		           ? "memory_size/connect_memory (both or none)" : NULL;
	}
	case GNARL_KIND_LLM: {
		const struct gnarl_llm_ops *o = d->ops.llm;
		return !o->create ? "create" : !o->destroy ? "destroy" : !o->request ? "request"
		       : !o->poll ? "poll" : NULL;
	}
	case GNARL_KIND_STORAGE: {
		const struct gnarl_storage_ops *o = d->ops.storage;
		return !o->create ? "create" : !o->destroy ? "destroy" : !o->put ? "put"
		       : !o->get ? "get" : !o->list ? "list" : !o->remove ? "remove"
		       : !o->exists ? "exists" : !o->schemes ? "schemes" : NULL;
	}
	}
	return "everything";
}

static int check_ops(const char *file, const struct gnarl_plugin *d, char err[GNARL_ERR_SIZE])
{
	static const size_t v1[] = {0, ENV_OPS_V1, REWARD_OPS_V1, LLM_OPS_V1, STORAGE_OPS_V1};
	const char *kind = gnarl_plugin_kind_name(d->kind);
	const char *missing;
	uint32_t size;

	/* Every member of the union is a pointer to a struct starting with
	 * its size, so any member reads it. */
	if (!d->ops.env)
		return gnarl_err(err, GNARL_EINVAL, "%s: plugin '%s' has no %s ops table (set "
		                 ".ops.%s in its descriptor)", file, d->name, kind, kind);
	size = d->ops.env->size;
	if (size < v1[d->kind])
		return gnarl_err(err, GNARL_EVERSION, "%s: plugin '%s': its %s ops table is %u "
		                 "bytes, smaller than ABI 1.0's %zu (set .size = sizeof(struct "
		                 "gnarl_%s_ops) and rebuild against this gnarl's SDK)",
		                 file, d->name, kind, size, v1[d->kind], kind);
	missing = missing_op(d);
	if (missing)
		return gnarl_err(err, GNARL_EINVAL, "%s: plugin '%s': its %s ops lack %s (a %s "
		                 "plugin must provide it)", file, d->name, kind, missing, kind);
	if (d->kind == GNARL_KIND_LLM &&
	    gnarl_plugin_suggestion_size(d->ops.llm) < GNARL_LLM_SUGGESTION_V1_SIZE)
		return gnarl_err(err, GNARL_EVERSION, "%s: plugin '%s': its suggestions are %u "
		                 "bytes, smaller than ABI 1.0's %d (set .suggestion_size = "
		                 "sizeof(struct gnarl_llm_suggestion))", file, d->name,
		                 gnarl_plugin_suggestion_size(d->ops.llm),
		                 GNARL_LLM_SUGGESTION_V1_SIZE);
	return 0;
}

/* A params table of another stride than this gnarl's (a plugin of a later
 * minor whose struct gnarl_param grew) becomes a copy of today's structs
 * (what this gnarl knows of each entry), behind a copy of the descriptor. */
static int restride(struct gnarl_plugin_lib *lib, char err[GNARL_ERR_SIZE])
{
	const struct gnarl_plugin *d = lib->desc;
	uint32_t stride = param_size(d);
	const unsigned char *at = (const unsigned char *)d->params;
	size_t n = 0;

	if (stride < GNARL_PARAM_V1_SIZE)
		return gnarl_err(err, GNARL_EVERSION, "%s: plugin '%s': its parameters are %u bytes "
		                 "each, smaller than ABI 1.0's %zu (set .param_size = sizeof(struct "
		                 "gnarl_param))", lib->file, d->name, stride,
		                 (size_t)GNARL_PARAM_V1_SIZE);
	if (stride == sizeof(struct gnarl_param) || !at)
		return 0;
	/* name is the first member: an entry's name is at its first byte. */
	while (((const struct gnarl_param *)(const void *)(at + n * stride))->name)
		n++;
	lib->params = calloc(n + 1, sizeof(*lib->params));
	if (!lib->params)
		return gnarl_err(err, GNARL_ENOMEM, "%s: out of memory", lib->file);
	for (size_t i = 0; i < n; i++)
		memcpy(&lib->params[i], at + i * stride,
		       stride < sizeof(*lib->params) ? stride : sizeof(*lib->params));
	memcpy(&lib->restrided, d, d->size < sizeof(*d) ? d->size : sizeof(*d));
	lib->restrided.params = lib->params;
	lib->desc = &lib->restrided;
	return 0;
}

static int check_desc(const char *file, struct gnarl_plugin_lib *lib, enum gnarl_plugin_kind want,
                      char err[GNARL_ERR_SIZE])
{
	const struct gnarl_plugin *d = lib->desc;
	unsigned major = d->abi_version >> 16, minor = d->abi_version & 0xffff;
	char who[FILE_MAX + 64];
	int rc;

	if (major != GNARL_ABI_MAJOR)
		return gnarl_err(err, GNARL_EVERSION, "%s: built for plugin ABI %u.%u, but this "
		                 "gnarl speaks ABI %d.%d (rebuild the plugin against this gnarl's "
		                 "SDK)", file, major, minor, GNARL_ABI_MAJOR, GNARL_ABI_MINOR);
	if (d->size < GNARL_PLUGIN_V1_SIZE)
		return gnarl_err(err, GNARL_EVERSION, "%s: its descriptor is %u bytes, smaller "
		                 "than ABI 1.0's %zu (set .size = sizeof(struct gnarl_plugin) and "
		                 "rebuild against this gnarl's SDK)", file, d->size,
		                 (size_t)GNARL_PLUGIN_V1_SIZE);
	if (d->kind < GNARL_KIND_ENV || d->kind > GNARL_KIND_STORAGE)
		return gnarl_err(err, GNARL_EINVAL, "%s: unknown plugin kind %d (env 1, reward 2, "
		                 "llm 3, storage 4)", file, (int)d->kind);
	if (!d->name || !*d->name ||
	    strspn(d->name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(d->name))
		return gnarl_err(err, GNARL_EINVAL, "%s: the plugin's name '%s' is not [a-z0-9_]+",
		                 file, d->name ? d->name : "(null)");
	if (want && d->kind != want)
		return gnarl_err(err, GNARL_EKIND, "%s: plugin '%s' is %s %s plugin, but this "
		                 "slot needs %s %s plugin (list it under %s)", file, d->name,
		                 article(d->kind), gnarl_plugin_kind_name(d->kind), article(want),
		                 gnarl_plugin_kind_name(want), kind_slot(d->kind));
	rc = check_ops(file, d, err);
	if (!rc)
		rc = restride(lib, err);
	if (rc)
		return rc;
	fmt_path(who, sizeof(who), "%s: plugin '%s'", file, d->name);
	return gnarl_config_check_table(lib->desc->params, who, err);
}

static int open_file(const char *file, enum gnarl_plugin_kind want,
                     struct gnarl_plugin_lib **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_plugin_lib *lib = calloc(1, sizeof(*lib));
	gnarl_plugin_entry_fn entry;
	int rc;

	if (!lib || !(lib->file = strdup(file))) {
		free(lib);
		return gnarl_err(err, GNARL_ENOMEM, "%s: out of memory", file);
	}
	lib->handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!lib->handle) {
		rc = gnarl_err(err, GNARL_EINVAL, "%s: cannot load: %s", file, dlerror());
		goto fail;
	}
	/* POSIX's way to turn dlsym's object pointer into a function pointer. */
	*(void **)&entry = dlsym(lib->handle, "gnarl_plugin_entry");
	if (!entry) {
		rc = gnarl_err(err, GNARL_EINVAL, "%s: not a gnarl plugin: it exports no "
		               "gnarl_plugin_entry (declare it with GNARL_PLUGIN_ENTRY(&descriptor))",
		               file);
		goto fail;
	}
	lib->desc = entry();
	if (!lib->desc) {
		rc = gnarl_err(err, GNARL_EINVAL, "%s: gnarl_plugin_entry returned no descriptor",
		               file);
		goto fail;
	}
	rc = check_desc(file, lib, want, err);
	if (rc)
		goto fail;
	*out = lib;
	return 0;
fail:
	gnarl_plugin_close(lib);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The search path                                                          */

struct search {
	int n;
	char *dir[MAX_DIRS];
	const char *why[MAX_DIRS];
};

static void add_dir(struct search *s, const char *dir, const char *why)
{
	if (!dir || !*dir || s->n == MAX_DIRS)
		return;
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->dir[i], dir))
			return;
	s->dir[s->n] = strdup(dir);
	if (s->dir[s->n])
		s->why[s->n++] = why;
}

static void free_dirs(struct search *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->dir[i]);
	s->n = 0;
}

/* The lookup order of plugin.h, steps 2-4. */
static void search_dirs(const char *config_dir, struct search *s)
{
	const char *path = getenv("GNARL_PLUGIN_PATH");
	char buf[FILE_MAX], exe[FILE_MAX];
	ssize_t n;

	s->n = 0;
	while (path && *path) {
		size_t len = strcspn(path, ":");

		if (len > 0 && len < sizeof(buf)) {
			memcpy(buf, path, len);
			buf[len] = '\0';
			add_dir(s, buf, "GNARL_PLUGIN_PATH");
		}
		path += len + (path[len] == ':');
	}
	if (config_dir && *config_dir) {
		add_dir(s, config_dir, "next to the config");
		fmt_path(buf, sizeof(buf), "%s/plugins", config_dir);
		add_dir(s, buf, "next to the config");
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			fmt_path(buf, sizeof(buf), "%s/plugins", exe);
			add_dir(s, buf, "the build tree");
			fmt_path(buf, sizeof(buf), "%s/../lib/gnarl/plugins", exe);
			add_dir(s, buf, "the install");
		}
	}
	add_dir(s, GNARL_PLUGIN_INSTALL_DIR, "the install");
}

void gnarl_plugin_search_text(const char *config_dir, char *buf, size_t size)
{
	struct search s;
	size_t n = 0;

	buf[0] = '\0';
	search_dirs(config_dir, &s);
	for (int i = 0; i < s.n && n < size; i++) {
		int r = snprintf(buf + n, size - n, "%s (%s)\n", s.dir[i], s.why[i]);

		if (r > 0)
			n += (size_t)r;
	}
	free_dirs(&s);
}

static bool is_path(const char *name)
{
	size_t n = strlen(name);

	return strchr(name, '/') || (n > 3 && !strcmp(name + n - 3, ".so"));
}

/* An explicit path: as given, then relative to the config's directory. */
static int open_path(const char *name, enum gnarl_plugin_kind kind, const char *config_dir,
                     struct gnarl_plugin_lib **out, char err[GNARL_ERR_SIZE])
{
	char alt[FILE_MAX] = "";

	if (access(name, F_OK) == 0)
		return open_file(name, kind, out, err);
	if (name[0] != '/' && config_dir && strcmp(config_dir, ".")) {
		fmt_path(alt, sizeof(alt), "%s/%s", config_dir, name);
		if (access(alt, F_OK) == 0)
			return open_file(alt, kind, out, err);
	}
	return gnarl_err(err, GNARL_ENOENT, "plugin file %s not found%s%s%s (check the path)",
	                 name, *alt ? " (nor " : "", alt, *alt ? ")" : "");
}

static char **list_dir(const char *dir, size_t *n);

/* " (did you mean 'x'?)" for the closest plugin file name on the path. */
static void closest_name(const struct search *s, const char *name, char *buf, size_t size)
{
	size_t best = (size_t)-1, len = strlen(name);

	for (int i = 0; i < s->n; i++) {
		size_t n;
		char **names = list_dir(s->dir[i], &n);

		for (size_t k = 0; k < n; k++) {
			size_t d = gnarl_config_distance(name, names[k]);

			if (d < best && (d <= 2 || d <= len / 3) && d < len) {
				best = d;
				fmt_path(buf, size, " (did you mean '%s'?)", names[k]);
			}
			free(names[k]);
		}
		free(names);
	}
}

int gnarl_plugin_open(const char *name, enum gnarl_plugin_kind kind, const char *config_dir,
                      struct gnarl_plugin_lib **out, char err[GNARL_ERR_SIZE])
{
	struct search s;
	char file[FILE_MAX], looked[GNARL_ERR_SIZE] = "";
	int rc = GNARL_ENOENT;

	*out = NULL;
	if (!name || !*name)
		return gnarl_err(err, GNARL_EINVAL, "empty plugin name");
	if (is_path(name))
		return open_path(name, kind, config_dir, out, err);
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
		return gnarl_err(err, GNARL_EINVAL, "'%s' is not a plugin name ([a-z0-9_]+) nor a "
		                 "path to a .so", name);
	search_dirs(config_dir, &s);
	for (int i = 0; i < s.n; i++) {
		size_t n = strlen(looked);

		fmt_path(file, sizeof(file), "%s/%s.so", s.dir[i], name);
		if (access(file, F_OK) == 0) {
			rc = open_file(file, kind, out, err);
			break;
		}
		snprintf(looked + n, sizeof(looked) - n, "%s%s (%s)", n ? ", " : "", s.dir[i],
		         s.why[i]);
	}
	if (rc == GNARL_ENOENT) {
		char close[80] = "";

		closest_name(&s, name, close, sizeof(close));
		rc = gnarl_err(err, rc, "plugin '%s' not found%s: no %s.so in %s (build it, add "
		               "its directory to GNARL_PLUGIN_PATH, or give the path to the .so)",
		               name, close, name, *looked ? looked : "any directory");
	}
	free_dirs(&s);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Listing                                                                  */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Plugin names ("x" of "x.so") in dir, sorted; *n names, owned. */
static char **list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t cap = 0;

	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 4 || strcmp(e->d_name + len - 3, ".so"))
			continue;
		if (*n == cap) {
			char **g = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*g));

			if (!g)
				break;
			names = g;
		}
		if (!(names[*n] = strndup(e->d_name, len - 3)))
			break;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(names, *n, sizeof(*names), cmp_str);
	return names;
}

int gnarl_plugin_scan_all(const char *config_dir, gnarl_plugin_each_fn each,
                          gnarl_plugin_bad_fn bad, void *ctx, char err[GNARL_ERR_SIZE])
{
	struct search s;
	char **seen = NULL, file[FILE_MAX], msg[GNARL_ERR_SIZE];
	size_t n_seen = 0;
	int rc = 0;

	search_dirs(config_dir, &s);
	for (int i = 0; i < s.n && !rc; i++) {
		size_t n;
		char **names = list_dir(s.dir[i], &n);

		for (size_t k = 0; k < n; k++) {
			struct gnarl_plugin_lib *lib;
			bool dup = false;
			char **g;

			for (size_t j = 0; j < n_seen && !dup; j++)
				dup = !strcmp(seen[j], names[k]);
			if (dup || !(g = realloc(seen, (n_seen + 1) * sizeof(*g)))) {
				free(names[k]);
				continue;
			}
			seen = g;
			seen[n_seen++] = names[k];
			fmt_path(file, sizeof(file), "%s/%s.so", s.dir[i], names[k]);
			if (open_file(file, 0, &lib, msg) == 0) {
				each(ctx, lib);
				gnarl_plugin_close(lib);
			} else if (bad) {
				bad(ctx, file, msg);
			}
		}
		free(names);
	}
	for (size_t j = 0; j < n_seen; j++)
		free(seen[j]);
	free(seen);
	free_dirs(&s);
	(void)err;
	return rc;
}

int gnarl_plugin_scan(const char *config_dir, gnarl_plugin_each_fn each, void *ctx,
                      char err[GNARL_ERR_SIZE])
{
	return gnarl_plugin_scan_all(config_dir, each, NULL, ctx, err);
}

int gnarl_plugin_create_failed(const struct gnarl_plugin_lib *lib, const char *slot,
                               char err[GNARL_ERR_SIZE])
{
	if (!err)
		return GNARL_ECONFIG;
	if (!err[0])
		snprintf(err, GNARL_ERR_SIZE, "(the plugin gave no reason)");
	return gnarl_err_prefix(err, GNARL_ECONFIG, "%s: plugin '%s' (%s) failed to start: ",
	                        slot ? slot : "?", lib->desc->name, lib->file);
}
