/*
 * resume_open.c - finding the checkpoint a run resumes from and checking
 * it against the new config before anything runs (see resume.h).
 *
 * Entry points: gnarl_resume_facts/_facts_clear, gnarl_resume_network,
 * gnarl_resume_uri, gnarl_resume_open/_point_free,
 * gnarl_resume_new_run_name.
 * Invariants: nothing here touches a trainer; a refused or damaged
 * checkpoint is reported before the new run's directory exists.
 */
#include "resume.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "plugin_host.h"
#include "registry.h"
#include "storage.h"
#include "value.h"

/* How the weights are laid out (core/nn.h): recorded so a reader of
 * model.safetensors knows a layer computes x W, not x W^T. */
#define WEIGHT_LAYOUT "(in, out): y = x W + b, the transpose of torch.nn.Linear"

static int network_into(struct gnarl_tree *tree, struct gnarl_value *map,
                        const struct gnarl_config *cfg)
{
	const struct gnarl_value *policy = gnarl_config_section(cfg, "policy");
	struct gnarl_value *v;

	v = gnarl_tree_map_put(tree, map, "hidden");
	if (!v || gnarl_tree_copy(tree, v, gnarl_value_get(policy, "hidden")) < 0)
		return GNARL_ENOMEM;
	v = gnarl_tree_map_put(tree, map, "activation");
	if (!v ||
	    gnarl_tree_set_string(
	        tree, v, gnarl_value_string(gnarl_value_get(policy, "activation"), "relu")) < 0)
		return GNARL_ENOMEM;
	v = gnarl_tree_map_put(tree, map, "shared");
	if (!v)
		return GNARL_ENOMEM;
	gnarl_value_set_bool(v, gnarl_value_bool(gnarl_value_get(policy, "shared"), true));
	v = gnarl_tree_map_put(tree, map, "weight_layout");
	if (!v || gnarl_tree_set_string(tree, v, WEIGHT_LAYOUT) < 0)
		return GNARL_ENOMEM;
	gnarl_value_clear_positions(map);
	return 0;
}

const struct gnarl_value *gnarl_resume_network(const struct gnarl_config *cfg,
                                               struct gnarl_tree **tree)
{
	*tree = NULL;
	if (gnarl_tree_create("network", tree) < 0)
		return NULL;
	if (network_into(*tree, gnarl_tree_root(*tree), cfg) < 0) {
		gnarl_tree_free(*tree);
		*tree = NULL;
		return NULL;
	}
	return gnarl_tree_root(*tree);
}

void gnarl_resume_facts_clear(struct gnarl_resume_facts *f)
{
	if (!f)
		return;
	for (uint32_t i = 0; f->actions && i < f->info.n_actions; i++)
		free(f->actions[i]);
	free(f->actions);
	free(f->env_plugin);
	gnarl_tree_free(f->tree);
	memset(f, 0, sizeof(*f));
}

/* Copy the env's spaces and the config's network into f. */
static int fill_facts(struct gnarl_resume_facts *f, const struct gnarl_config *cfg,
                      const struct gnarl_registry_entry *e, const struct gnarl_env_spaces *sp)
{
	struct gnarl_value *root, *v;

	f->env_plugin = strdup(e->desc->name);
	f->actions = calloc(sp->n_actions + 1, sizeof(char *));
	if (!f->env_plugin || !f->actions || gnarl_tree_create("facts", &f->tree) < 0)
		return GNARL_ENOMEM;
	f->info.n_actions = sp->n_actions;
	for (uint32_t i = 0; i < sp->n_actions; i++)
		if (!(f->actions[i] = strdup(sp->action_names[i] ? sp->action_names[i] : "")))
			return GNARL_ENOMEM;
	root = gnarl_tree_root(f->tree);
	v = gnarl_tree_map_put(f->tree, root, "network");
	if (!v || network_into(f->tree, v, cfg) < 0)
		return GNARL_ENOMEM;
	v = gnarl_tree_map_put(f->tree, root, "env_params");
	if (!v || (e->params && gnarl_tree_copy(f->tree, v, e->params) < 0))
		return GNARL_ENOMEM;
	f->info.obs_size = sp->obs_dim;
	f->info.action_names = (const char *const *)f->actions;
	f->info.env_plugin = f->env_plugin;
	f->info.network = gnarl_value_get(root, "network");
	f->info.env_params = gnarl_value_get(root, "env_params");
	return 0;
}

int gnarl_resume_facts(struct gnarl_config *cfg, struct gnarl_resume_facts *out,
                       char err[GNARL_ERR_SIZE])
{
	struct gnarl_host_context ctx = {cfg, NULL, NULL, NULL, 0, 1};
	struct gnarl_registry *reg = NULL;
	struct gnarl_plugin_host *host = NULL;
	const struct gnarl_registry_entry *e;
	struct gnarl_env_spaces sp = {0};
	void *env = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gnarl_registry_open(cfg, &reg, err);
	if (rc < 0)
		return rc;
	e = gnarl_registry_env(reg);
	rc = gnarl_registry_host(e, &ctx, &host, err);
	if (rc < 0)
		goto out;
	err[0] = '\0';
	env = e->desc->ops.env->create(gnarl_plugin_host_table(host), 1, err);
	if (!env) {
		rc = gnarl_plugin_create_failed(e->lib, e->slot, err);
		goto out;
	}
	e->desc->ops.env->spaces(env, &sp);
	rc = fill_facts(out, cfg, e, &sp);
	if (rc < 0)
		gnarl_err(err, rc, "out of memory");
out:
	if (env)
		e->desc->ops.env->destroy(env);
	gnarl_plugin_host_free(host);
	gnarl_registry_free(reg);
	if (rc < 0)
		gnarl_resume_facts_clear(out);
	return rc;
}

const char *gnarl_resume_uri(const struct gnarl_config *cfg, const char *flag, const char **source)
{
	const char *env = getenv("RESTORE_CHECKPOINT");
	const char *conf = gnarl_value_string(gnarl_value_at(cfg->root, "restore"), NULL);
	const char *dummy;

	if (!source)
		source = &dummy;
	if (flag && *flag) {
		*source = "--restore";
		return flag;
	}
	if (env && *env) {
		*source = "RESTORE_CHECKPOINT";
		return env;
	}
	if (conf && *conf) {
		*source = "restore: in the config";
		return conf;
	}
	*source = NULL;
	return NULL;
}

void gnarl_resume_point_free(struct gnarl_resume_point *p)
{
	if (!p)
		return;
	gnarl_checkpoint_diff_free(p->diff);
	gnarl_checkpoint_close(p->ck);
	gnarl_storage_close(p->root);
	free(p);
}

static const char *run_root(const struct gnarl_config *cfg)
{
	return gnarl_value_string(gnarl_value_at(cfg->root, "run.storage"), "runs");
}

int gnarl_resume_open(struct gnarl_config *cfg, const char *uri, FILE *log,
                      struct gnarl_resume_point **out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_resume_point *p = calloc(1, sizeof(*p));
	struct gnarl_resume_facts f = {0};
	const struct gnarl_manifest *m;
	int rc = 0;

	*out = NULL;
	if (!p)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	if (strcmp(uri, "latest") == 0 || strncmp(uri, "tag:", 4) == 0)
		rc = gnarl_storage_open(cfg, run_root(cfg), &p->root, err);
	if (rc == 0)
		rc = gnarl_checkpoint_open(cfg, p->root, "", uri, 0, &p->ck, err);
	if (rc < 0)
		goto fail;
	m = gnarl_checkpoint_manifest(p->ck);
	if (log) /* the other ranks of a data-parallel run pass none */
		gnarl_log(GNARL_LOG_INFO, NULL, "RESTORING from checkpoint: %s (iteration %llu)",
		          m->uri, (unsigned long long)m->iteration);
	rc = gnarl_resume_facts(cfg, &f, err);
	if (rc == 0)
		rc = gnarl_checkpoint_diff(p->ck, cfg->root, &f.info, &p->diff, err);
	if (rc < 0)
		goto fail;
	if (log) {
		fprintf(
		    log,
		    "changes since the checkpoint (+ added, - removed, ~ changed, ! refused):\n");
		gnarl_checkpoint_diff_print(p->diff, log);
		fflush(log);
	}
	rc = gnarl_checkpoint_diff_check(p->diff, err);
	if (rc < 0)
		goto fail;
	gnarl_resume_facts_clear(&f);
	*out = p;
	return 0;
fail:
	gnarl_resume_facts_clear(&f);
	gnarl_resume_point_free(p);
	return rc;
}

/* 1 when <name>/config.yaml exists in st. */
static int run_exists(struct gnarl_storage *st, const char *name, char err[GNARL_ERR_SIZE])
{
	size_t len = strlen(name) + 16;
	char *key = malloc(len);
	int rc;

	if (!key)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	snprintf(key, len, "%s/config.yaml", name);
	rc = gnarl_storage_exists(st, key, err);
	free(key);
	return rc;
}

int gnarl_resume_new_run_name(struct gnarl_config *cfg, const struct gnarl_resume_point *p,
                              char err[GNARL_ERR_SIZE])
{
	struct gnarl_value *node = gnarl_tree_at(gnarl_tree_root(cfg->tree), "run.name");
	const char *name = gnarl_value_string(node, "run");
	unsigned long long it = gnarl_checkpoint_manifest(p->ck)->iteration;
	struct gnarl_storage *st = NULL;
	size_t len = strlen(name) + 48;
	char *cand = malloc(len);
	int rc;

	if (!cand || !node)
		return gnarl_err(err, GNARL_ENOMEM, "out of memory");
	rc = gnarl_storage_open(cfg, run_root(cfg), &st, err);
	if (rc == 0)
		rc = run_exists(st, name, err);
	for (int k = 1; rc == 1 && k < 1000; k++) {
		if (k == 1)
			snprintf(cand, len, "%s-from%llu", name, it);
		else
			snprintf(cand, len, "%s-from%llu-%d", name, it, k);
		rc = run_exists(st, cand, err);
		if (rc == 0) {
			gnarl_log(GNARL_LOG_INFO, NULL,
			          "run directory %s/%s already holds a run: this "
			          "resumed run writes to %s/%s",
			          run_root(cfg), name, run_root(cfg), cand);
			rc = gnarl_tree_set_string(cfg->tree, node, cand) < 0
			         ? gnarl_err(err, GNARL_ENOMEM, "out of memory")
			         : 0;
			break;
		}
	}
	if (rc == 1)
		rc = gnarl_err(err, GNARL_EEXIST,
		               "run.name: %s and a thousand variants of it exist "
		               "in %s: set another run.name",
		               name, run_root(cfg));
	gnarl_storage_close(st);
	free(cand);
	return rc < 0 ? rc : 0;
}
