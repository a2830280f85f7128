/*
 * gb_speed.c - gnarl_gb_speed_measure (gb_speed.h): ask the config's env to
 * measure its emulator alone and read the answer from its gauges.
 *
 * The core links no emulator: the gameboy env does the measuring (a
 * throw-away libmgba core at create, gameboy.c) and publishes
 * gameboy/raw_fps and gameboy/frames_per_step; this file creates one env
 * instance with `measure_raw_fps` set, on its own copy of the config and
 * its own gauges, and reads them back.  Any env publishing <name>/raw_fps
 * and <name>/frames_per_step the same way is measured alike.
 */
#include "gb_speed.h"

#include <string.h>

#include "config.h"
#include "error.h"
#include "gauges.h"
#include "plugin_host.h"
#include "registry.h"
#include "value.h"

static void on_gauge(void *ctx, const char *name, double value)
{
	struct gnarl_gb_speed *s = ctx;
	const char *slash = strchr(name, '/');

	if (slash && !strcmp(slash, "/raw_fps"))
		s->raw_fps = value;
	else if (slash && !strcmp(slash, "/frames_per_step"))
		s->frames_per_step = value;
}

int gnarl_gb_speed_measure(const struct gnarl_config *cfg, long frames,
                           struct gnarl_gb_speed *out, char err[GNARL_ERR_SIZE])
{
	struct gnarl_config *c = NULL;
	struct gnarl_registry *reg = NULL;
	struct gnarl_gauges *gauges = NULL;
	struct gnarl_plugin_host *host = NULL;
	const struct gnarl_registry_entry *e = NULL;
	struct gnarl_host_context ctx = {0};
	struct gnarl_value *node;
	void *env = NULL;
	int rc;

	*out = (struct gnarl_gb_speed){0.0, 1.0};
	err[0] = '\0';
	/* A copy of the config this function may edit. */
	rc = gnarl_config_load(cfg->path, (const char *const *)cfg->sets, cfg->n_sets, &c, err);
	if (!rc)
		rc = gnarl_registry_open(c, &reg, err);
	if (!rc && (rc = gnarl_gauges_create(&gauges)))
		gnarl_err(err, rc, "out of memory for gauges");
	if (rc)
		goto out;
	e = gnarl_registry_env(reg);
	/* The registry filled the env's defaults: the key exists if declared. */
	node = gnarl_tree_at(gnarl_tree_root(c->tree), "env.params.measure_raw_fps");
	if (!node || node->type != GNARL_VALUE_INT) {
		rc = gnarl_err(err, GNARL_EUNSUPPORTED, "env '%s' does not measure its emulator's "
		               "raw speed (no measure_raw_fps param)", e->desc->name);
		goto out;
	}
	gnarl_value_set_int(node, frames);
	ctx = (struct gnarl_host_context){.config = c, .gauges = gauges, .world_size = 1};
	if ((rc = gnarl_registry_host(e, &ctx, &host, err)))
		goto out;
	env = e->desc->ops.env->create(gnarl_plugin_host_table(host), 1, err);
	if (!env) {
		rc = gnarl_plugin_create_failed(e->lib, e->slot, err);
		goto out;
	}
	gnarl_gauges_each(gauges, on_gauge, out);
	if (out->raw_fps <= 0.0)
		rc = gnarl_err(err, GNARL_EIO, "env '%s' published no %s/raw_fps gauge",
		               e->desc->name, e->desc->name);
out:
	if (env)
		e->desc->ops.env->destroy(env);
	gnarl_plugin_host_free(host);
	gnarl_gauges_free(gauges);
	gnarl_registry_free(reg);
	gnarl_config_free(c);
	return rc;
}
