/*
 * gb_speed.h - the raw speed of an emulator env's emulator, measured by the
 * env itself (the gameboy env's `measure_raw_fps` param) and read back from
 * the gauges it publishes, for `gnarl bench`: the baseline an env's frames/s
 * is compared with.
 */
#ifndef GNARL_GB_SPEED_H
#define GNARL_GB_SPEED_H

#include <gnarl/plugin.h>

struct gnarl_config;

/* What an env publishes about its emulator's speed (gauges set at create). */
struct gnarl_gb_speed {
	double raw_fps;          /* gauge <env>/raw_fps: the emulator alone, frames
	                            per CPU-second of one thread */
	double frames_per_step;  /* gauge <env>/frames_per_step (1 when absent) */
};

/* Create one instance of cfg's env (from cfg->path and cfg->sets, loaded
 * afresh: cfg is not touched) with its `measure_raw_fps` param set to
 * `frames`, read the gauges above into *out and destroy it.
 * GNARL_EUNSUPPORTED (message in err) when the env declares no
 * `measure_raw_fps` (only the gameboy env does; *out then holds 0 and 1);
 * a config, registry or create error otherwise, with its code. */
int gnarl_gb_speed_measure(const struct gnarl_config *cfg, long frames,
                           struct gnarl_gb_speed *out, char err[GNARL_ERR_SIZE]);

#endif /* GNARL_GB_SPEED_H */
