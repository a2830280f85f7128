/*
 * checkpoint_diff.c - what changes when a checkpoint is resumed under a new
 * config: allowed changes (rewards, their weights and params, LLM
 * settings, env counts, threads, workers, episode length, PPO
 * hyperparameters, ...) and refused ones (observation size, action list,
 * network shape, env plugin, observation normalisation on/off), each with
 * its field and both values.
 *
 * Entry points: gnarl_checkpoint_diff/_free/_print/_check.
 * Invariants: both configs are compared as JSON trees written by the same
 * serialiser (secrets redacted on both sides, so a secret never shows and
 * never differs); lists whose items all name a `plugin` are matched by
 * that name, so adding a reward term is one change, not a shifted list.
 * Everything not in the refused set is allowed.
 */
#include "checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "value.h"

static const char why_obs[] = "the observation is the network's input layer";
static const char why_actions[] = "the policy's outputs are the action list";
static const char why_network[] = "the saved weights have the checkpoint's network shape";
static const char why_env[] = "the policy was trained on the checkpoint's environment";
static const char why_norm[] = "the policy was trained on observations normalised (or not) "
                               "this way";

/* Config paths a checkpoint cannot change.  `fact`: with the new run's
 * facts (`now`) the fact is compared instead of the config. */
static const struct {
	const char *path, *why;
	bool fact;
} refused_paths[] = {
	{"policy", why_network, true},
	{"env.plugin", why_env, true},
	{"ppo.normalize_obs", why_norm, false},
};
#define N_REFUSED (sizeof(refused_paths) / sizeof(refused_paths[0]))

struct differ {
	struct gnarl_checkpoint_diff *d;
	size_t cap;
	bool failed;
	const char *const *skip; /* config paths reported elsewhere */
};

static char *dump(const json_t *v)
{
	/* 15 digits: 0.1 reads 0.1 (the comparison is on the values). */
	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))
	         : strdup("(none)");
}

static void add_change(struct differ *df, const char *field, const json_t *a, const json_t *b,
                       const char *why)
{
	struct gnarl_checkpoint_diff *d = df->d;
	struct gnarl_checkpoint_change *c;

	if (df->failed)
		return;
	if (d->n == df->cap) {
		size_t cap = df->cap ? 2 * df->cap : 16;
		struct gnarl_checkpoint_change *p = realloc(d->changes, cap * sizeof(*p));

		if (!p) {
			df->failed = true;
			return;
		}
		d->changes = p;
		df->cap = cap;
	}
	c = &d->changes[d->n];
	c->refused = why != NULL;
	c->why = why;
	c->field = strdup(field);
	c->before = dump(a);
	c->after = dump(b);
	d->n++;
	d->n_refused += c->refused;
	if (!c->field || !c->before || !c->after)
		df->failed = true;
}

static bool skipped(const struct differ *df, const char *path)
{
	for (size_t i = 0; df->skip && df->skip[i]; i++)
		if (strcmp(df->skip[i], path) == 0)
			return true;
	return false;
}

/* An entry's name: its `name` when set, else its plugin's. */
static const char *plugin_of(const json_t *item)
{
	const char *name = json_string_value(json_object_get(item, "name"));

	return name ? name : json_string_value(json_object_get(item, "plugin"));
}

/* Arrays whose items are all objects naming a plugin (empty ones count). */
static bool plugin_list(const json_t *a)
{
	size_t i;
	json_t *item;

	if (!json_is_array(a))
		return false;
	json_array_foreach (a, i, item)
		if (!json_is_string(json_object_get(item, "plugin")))
			return false;
	return true;
}

/* Label of item i of a plugin list: "name", or "name#2" for a repeat. */
static void item_label(char *buf, size_t size, const char *path, const json_t *a, size_t i)
{
	int nth = 1;

	for (size_t k = 0; k < i; k++)
		nth += strcmp(plugin_of(json_array_get(a, k)), plugin_of(json_array_get(a, i))) == 0;
	if (nth > 1)
		snprintf(buf, size, "%s[%s#%d]", path, plugin_of(json_array_get(a, i)), nth);
	else
		snprintf(buf, size, "%s[%s]", path, plugin_of(json_array_get(a, i)));
}

static void diff_node(struct differ *df, const char *path, const json_t *a, const json_t *b,
                      const char *why);

static void diff_plugin_lists(struct differ *df, const char *path, const json_t *a,
                              const json_t *b, const char *why)
{
	char la[512], lb[512];
	size_t na = json_array_size(a), nb = json_array_size(b);
	bool *matched = calloc(nb + 1, sizeof(bool));

	if (!matched) {
		df->failed = true;
		return;
	}
	for (size_t i = 0; i < na; i++) {
		size_t j;

		item_label(la, sizeof(la), path, a, i);
		for (j = 0; j < nb; j++) {
			item_label(lb, sizeof(lb), path, b, j);
			if (!matched[j] && strcmp(la, lb) == 0)
				break;
		}
		if (j < nb) {
			matched[j] = true;
			diff_node(df, la, json_array_get(a, i), json_array_get(b, j), why);
		} else {
			add_change(df, la, json_array_get(a, i), NULL, why);
		}
	}
	for (size_t j = 0; j < nb; j++) {
		if (matched[j])
			continue;
		item_label(lb, sizeof(lb), path, b, j);
		add_change(df, lb, NULL, json_array_get(b, j), why);
	}
	free(matched);
}

static void diff_node(struct differ *df, const char *path, const json_t *a, const json_t *b,
                      const char *why)
{
	char sub[512];
	const char *key;
	json_t *v;

	if (skipped(df, path) || (a && b && json_equal(a, b)) || (!a && !b))
		return;
	if (json_is_object(a) && json_is_object(b)) {
		json_object_foreach ((json_t *)a, key, v) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
			diff_node(df, sub, v, json_object_get(b, key), why);
		}
		json_object_foreach ((json_t *)b, key, v) {
			if (json_object_get(a, key))
				continue;
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
			diff_node(df, sub, NULL, v, why);
		}
		return;
	}
	if (plugin_list(a) && plugin_list(b)) {
		diff_plugin_lists(df, path, a, b, why);
		return;
	}
	add_change(df, *path ? path : "(config)", a, b, why);
}

static json_t *value_json(const struct gnarl_value *v)
{
	char *text = v ? gnarl_value_to_json(v, false) : NULL;
	json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;

	free(text);
	return j;
}

/* A node of a JSON tree at a dotted path, or NULL. */
static json_t *at(json_t *root, const char *path)
{
	char part[128];

	while (root && *path) {
		size_t n = strcspn(path, ".");
		snprintf(part, sizeof(part), "%.*s", (int)n, path);
		root = json_object_get(root, part);
		path += n + (path[n] == '.');
	}
	return root;
}

/* The new run's facts against the manifest's. */
static void diff_facts(struct differ *df, json_t *old, const struct gnarl_manifest_info *now)
{
	json_t *obs = json_integer(now->obs_size), *acts = json_array(), *net;
	json_t *env = now->env_plugin ? json_string(now->env_plugin) : NULL;

	for (uint32_t i = 0; acts && i < now->n_actions; i++)
		json_array_append_new(acts, json_string(now->action_names[i]));
	if (!obs || !acts) {
		df->failed = true;
	} else {
		if (!json_equal(json_object_get(old, "observation_size"), obs))
			add_change(df, "observation size", json_object_get(old, "observation_size"),
			           obs, why_obs);
		if (!json_equal(json_object_get(old, "actions"), acts))
			add_change(df, "action list", json_object_get(old, "actions"), acts,
			           why_actions);
	}
	/* A fact the checkpoint or the new run does not state is not compared
	 * (nor a key of the network the checkpoint's gnarl did not record). */
	net = now->network ? value_json(now->network) : NULL;
	if (net && json_is_object(json_object_get(old, "network"))) {
		const char *k;
		json_t *v, *tmp;

		json_object_foreach_safe (net, tmp, k, v)
			if (!json_object_get(json_object_get(old, "network"), k))
				json_object_del(net, k);
		diff_node(df, "network", json_object_get(old, "network"), net, why_network);
	}
	if (env && json_is_string(at(old, "env.plugin")))
		diff_node(df, "env plugin", at(old, "env.plugin"), env, why_env);
	json_decref(obs);
	json_decref(acts);
	json_decref(net);
	json_decref(env);
}

int gnarl_checkpoint_diff(const struct gnarl_checkpoint *ck, const struct gnarl_value *config,
                          const struct gnarl_manifest_info *now,
                          struct gnarl_checkpoint_diff **out, char err[GNARL_ERR_SIZE])
{
	const char *skip[N_REFUSED + 2];
	struct differ df = {0};
	json_t *old = json_loads(gnarl_checkpoint_manifest(ck)->json, 0, NULL);
	json_t *oldcfg = json_object_get(old, "config");
	json_t *newcfg = config ? value_json(config) : NULL;

	*out = NULL;
	df.d = calloc(1, sizeof(*df.d));
	if (!old || !df.d || (config && !newcfg)) {
		df.failed = true;
		goto out;
	}
	if (now)
		diff_facts(&df, old, now);
	for (size_t i = 0; i < N_REFUSED; i++) {
		const char *p = refused_paths[i].path;

		skip[i] = p;
		if (!(now && refused_paths[i].fact) && json_is_object(oldcfg) && newcfg)
			diff_node(&df, p, at(oldcfg, p), at(newcfg, p), refused_paths[i].why);
	}
	skip[N_REFUSED] = "restore";
	skip[N_REFUSED + 1] = NULL;
	df.skip = skip;
	if (json_is_object(oldcfg) && json_is_object(newcfg))
		diff_node(&df, "", oldcfg, newcfg, NULL);
out:
	json_decref(old);
	json_decref(newcfg);
	if (df.failed) {
		gnarl_checkpoint_diff_free(df.d);
		return gnarl_err(err, GNARL_ENOMEM, "checkpoint diff: out of memory or an "
		                 "unreadable config");
	}
	*out = df.d;
	return 0;
}

void gnarl_checkpoint_diff_free(struct gnarl_checkpoint_diff *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->changes[i].field);
		free(d->changes[i].before);
		free(d->changes[i].after);
	}
	free(d->changes);
	free(d);
}

void gnarl_checkpoint_diff_print(const struct gnarl_checkpoint_diff *d, FILE *f)
{
	if (!d->n) {
		fprintf(f, "  (no changes)\n");
		return;
	}
	for (size_t i = 0; i < d->n; i++) {
		const struct gnarl_checkpoint_change *c = &d->changes[i];
		bool added = strcmp(c->before, "(none)") == 0, removed = strcmp(c->after, "(none)") == 0;

		if (c->refused)
			fprintf(f, "  ! %s: %.200s -> %.200s  (refused: %s)\n", c->field, c->before,
			        c->after, c->why);
		else if (added)
			fprintf(f, "  + %s: %.200s\n", c->field, c->after);
		else if (removed)
			fprintf(f, "  - %s: %.200s\n", c->field, c->before);
		else
			fprintf(f, "  ~ %s: %.200s -> %.200s\n", c->field, c->before, c->after);
	}
}

int gnarl_checkpoint_diff_check(const struct gnarl_checkpoint_diff *d, char err[GNARL_ERR_SIZE])
{
	for (size_t i = 0; i < d->n; i++) {
		const struct gnarl_checkpoint_change *c = &d->changes[i];

		if (c->refused)
			return gnarl_err(err, GNARL_EINCOMPAT,
			                 "cannot resume: %s changed from %.200s to %.200s (%s); restore "
			                 "with a config that keeps it, or start a fresh run",
			                 c->field, c->before, c->after, c->why);
	}
	return 0;
}
