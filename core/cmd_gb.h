/*
 * cmd_gb.h - `gnarl gb` (core/cmd_gb.c): tools for envs that emulate a
 * cartridge, and the one piece of it other commands use: the raw emulator
 * speed the gameboy env measures for benchmarks.
 */
#ifndef GNARL_CMD_GB_H
#define GNARL_CMD_GB_H

#include <gnarl/plugin.h>

struct gnarl_config;

/* What an env publishes about its emulator's speed (gauges set at create). */
struct gnarl_cmd_gb_speed {
	double raw_fps;          /* gauge <env>/raw_fps: the emulator alone, frames
	                            per CPU-second of one thread */
	double frames_per_step;  /* gauge <env>/frames_per_step (1 when absent) */
};

/* Create one instance of cfg's env (from cfg->path and cfg->sets, loaded
 * afresh: cfg is not touched) with its `measure_raw_fps` param set to
 * `frames`, and read the gauges above.  GNARL_EUNSUPPORTED (message in
 * err) when the env declares no `measure_raw_fps` (only the gameboy env
 * does); a config, registry or create error otherwise (as their codes). */
int gnarl_cmd_gb_raw_speed(const struct gnarl_config *cfg, long frames,
                           struct gnarl_cmd_gb_speed *out, char err[GNARL_ERR_SIZE]);

#endif /* GNARL_CMD_GB_H */
