/*
 * clock.h - the core's clocks, in seconds as a double (and nanoseconds for
 * the pool's spin waits).  Monotonic for durations and rates, since it never
 * jumps; wall time only for timestamps a reader compares with dates.
 * Plugins keep their own (they build against the SDK alone).
 */
#ifndef GNARL_CLOCK_H
#define GNARL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline double gnarl_clock_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline uint64_t gnarl_clock_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Seconds since the Unix epoch. */
static inline double gnarl_clock_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
