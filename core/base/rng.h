/*
 * rng.h - the one random number generator of gnarl: xoshiro256** seeded
 * through splitmix64.  State lives in the caller's struct; there is no
 * hidden global RNG.  Same seed, same sequence, on every machine.
 */
#ifndef GNARL_RNG_H
#define GNARL_RNG_H

#include <stdint.h>

struct gnarl_rng {
	uint64_t s[4];
};

static inline uint64_t gnarl_rng_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void gnarl_rng_seed(struct gnarl_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = gnarl_rng_splitmix(&seed);
}

static inline uint64_t gnarl_rng_next(struct gnarl_rng *r)
{
	uint64_t *s = r->s;
	uint64_t x = s[1] * 5;
	uint64_t result = ((x << 7) | (x >> 57)) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return result;
}

/* Uniform in [0, 1) with 24 random bits. */
static inline float gnarl_rng_float(struct gnarl_rng *r)
{
	return (float)(gnarl_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double gnarl_rng_double(struct gnarl_rng *r)
{
	return (double)(gnarl_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply, no modulo bias
 * worth caring about for n << 2^32). */
static inline uint32_t gnarl_rng_below(struct gnarl_rng *r, uint32_t n)
{
	return (uint32_t)(((gnarl_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* A seed for stream `index` of a run seeded with `seed` (envs, plugins). */
static inline uint64_t gnarl_rng_derive(uint64_t seed, uint64_t index)
{
	uint64_t x = seed ^ (index * 0xd1342543de82ef95ull);
	return gnarl_rng_splitmix(&x);
}

#endif /* GNARL_RNG_H */
