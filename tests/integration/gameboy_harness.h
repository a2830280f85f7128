/*
 * gameboy_harness.h - open the env a config names the way the trainer
 * does (config loader, plugin registry, per-instance host table) and own
 * the host arrays it steps in.  Shared by tests/unit/test_gameboy.c and
 * tests/integration/gameboy_bench.c; header-only (static functions).
 *
 *     struct gb_harness h;
 *     rc = gb_harness_open(&h, "configs/test-cartridge.yaml", sets, n_sets, n_envs, err);
 *     h.actions[i] = 4; h.ops->step(h.env, &h.io, i, 1); ...
 *     gb_harness_close(&h);
 *
 * The host logs to stderr; open captures what create logs into h.log.
 * Gauges the env sets (host->metric) land in h.gauges.
 */
#ifndef GNARL_GAMEBOY_HARNESS_H
#define GNARL_GAMEBOY_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnarl/plugin.h>

#include "config.h"
#include "gauges.h"
#include "plugin_host.h"
#include "registry.h"

struct gb_harness {
	struct gnarl_config *cfg;
	struct gnarl_registry *reg;
	struct gnarl_host_context ctx;
	struct gnarl_plugin_host *host;
	struct gnarl_gauges *gauges;
	const struct gnarl_env_ops *ops;
	void *env;
	uint32_t n;
	struct gnarl_env_spaces sp;
	float *obs;                       /* (n, obs_dim) */
	struct gnarl_game_state *states;  /* n */
	int32_t *actions;
	float *rewards;
	uint8_t *dones, *want, *frames;   /* frames: (n, GNARL_FRAME_BYTES) */
	struct gnarl_env_io io;
	char log[8192];                   /* stderr of create */
};

/* Run create with stderr sent to a temporary file, kept in h->log. */
static void *gb_harness_create(struct gb_harness *h, const struct gnarl_host *table,
                               char err[GNARL_ERR_SIZE])
{
	FILE *tmp = tmpfile();
	int saved = -1;
	void *env;
	size_t n = 0;

	fflush(stderr);
	if (tmp) {
		saved = dup(2);
		dup2(fileno(tmp), 2);
	}
	env = h->ops->create(table, h->n, err);
	fflush(stderr);
	if (tmp) {
		dup2(saved, 2);
		close(saved);
		rewind(tmp);
		n = fread(h->log, 1, sizeof(h->log) - 1, tmp);
		fclose(tmp);
	}
	h->log[n] = '\0';
	return env;
}

/* 0, or the config/registry/create error in err (h is then half open:
 * gb_harness_close it all the same). */
static int gb_harness_open(struct gb_harness *h, const char *config,
                           const char *const *sets, int n_sets, uint32_t n,
                           char err[GNARL_ERR_SIZE])
{
	const struct gnarl_registry_entry *e;
	int rc;

	memset(h, 0, sizeof(*h));
	err[0] = '\0';
	if ((rc = gnarl_config_load(config, sets, n_sets, &h->cfg, err)) ||
	    (rc = gnarl_registry_open(h->cfg, &h->reg, err)))
		return rc;
	if ((rc = gnarl_gauges_create(&h->gauges))) {
		snprintf(err, GNARL_ERR_SIZE, "out of memory for gauges");
		return rc;
	}
	e = gnarl_registry_env(h->reg);
	h->ctx.config = h->cfg;
	h->ctx.gauges = h->gauges;
	h->ctx.world_size = 1;
	if ((rc = gnarl_registry_host(e, &h->ctx, &h->host, err)))
		return rc;
	h->ops = e->desc->ops.env;
	h->n = n;
	h->env = gb_harness_create(h, gnarl_plugin_host_table(h->host), err);
	if (!h->env)
		return gnarl_plugin_create_failed(e->lib, e->slot, err);
	h->ops->spaces(h->env, &h->sp);
	h->obs = calloc((size_t)n * h->sp.obs_dim, sizeof(float));
	h->states = calloc(n, sizeof(*h->states));
	h->actions = calloc(n, sizeof(*h->actions));
	h->rewards = calloc(n, sizeof(*h->rewards));
	h->dones = calloc(n, 1);
	h->want = calloc(n, 1);
	h->frames = calloc(n, GNARL_FRAME_BYTES);
	if (!h->obs || !h->states || !h->actions || !h->rewards || !h->dones || !h->want ||
	    !h->frames) {
		snprintf(err, GNARL_ERR_SIZE, "out of memory for %u envs", n);
		return GNARL_ENOMEM;
	}
	h->io = (struct gnarl_env_io){
	    .size = sizeof(h->io), .obs_stride = h->sp.obs_dim, .obs = h->obs,
	    .states = h->states, .actions = h->actions, .rewards = h->rewards,
	    .dones = h->dones, .want_frame = h->want, .frames = h->frames};
	for (uint32_t i = 0; i < n; i++)
		h->ops->reset(h->env, &h->io, i, i);
	return 0;
}

static void gb_harness_close(struct gb_harness *h)
{
	if (h->env)
		h->ops->destroy(h->env);
	gnarl_plugin_host_free(h->host);
	gnarl_gauges_free(h->gauges);
	gnarl_registry_free(h->reg);
	gnarl_config_free(h->cfg);
	free(h->obs);
	free(h->states);
	free(h->actions);
	free(h->rewards);
	free(h->dones);
	free(h->want);
	free(h->frames);
	memset(h, 0, sizeof(*h));
}

#endif /* GNARL_GAMEBOY_HARNESS_H */
