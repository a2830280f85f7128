/*
 * reference.h - the settings of the reference project (the Ray/RLlib
 * Zelda trainer gnarl's users come from) and of RLlib's PPO, each with
 * the gnarl key that does its job.  A config key that gnarl does not
 * declare but this table knows is still an error (exit 2); the message
 * names the gnarl key to use instead (config.c), and `gnarl config keys
 * --reference` prints the table (the README's is checked against it).
 */
#ifndef GNARL_REFERENCE_H
#define GNARL_REFERENCE_H

#include <stdbool.h>

struct gnarl_reference_key {
	const char *name;   /* as the reference (or RLlib) spells it */
	const char *source; /* "reference" or "rllib" */
	const char *what;   /* what it set there: "worker count (Ray rollout workers)" */
	const char *use;    /* what to use in gnarl */
	bool environment;   /* the reference read it from the environment */
};

/* Every entry, ending with name NULL. */
const struct gnarl_reference_key *gnarl_reference_keys(void);
/* The entry named `name` (any case), or NULL. */
const struct gnarl_reference_key *gnarl_reference_find(const char *name);
/* A warning for each setting the reference read from the environment
 * that is set in this one (gnarl does not read it): what to use instead.
 * Returns how many. */
int gnarl_reference_warn_environment(void);

#endif /* GNARL_REFERENCE_H */
