/*
 * fastmath.h - exp, expm1 and log without branches or errno, so that
 * loops calling them vectorise (libm's expf and logf are calls the
 * compiler cannot vectorise in ISO C mode).  Both are within 2 ulp of the correctly
 * rounded value (tests/unit/test_ppo.c checks them against double
 * precision) and give the same bits every time.
 */
#ifndef GNARL_FASTMATH_H
#define GNARL_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* x = k ln2 + r for x in [-87, 88]: returns e^r - 1 and sets *scale =
 * 2^k.  A two-part ln2 (Cody-Waite) and the degree-7 Taylor polynomial
 * of e^r - 1, which never adds the leading 1, so expm1 keeps its relative
 * accuracy for small x; adding and subtracting 1.5 * 2^23 rounds to an
 * integer where floorf would not vectorise. */
static inline float gnarl_fastmath_exp_reduce(float x, float *scale)
{
	const float round_magic = 12582912.0f;
	float k = (x * 1.4426950408889634f + round_magic) - round_magic;
	float r = fmaf(k, -0.693145751953125f, x);
	r = fmaf(k, -1.428606765330187e-06f, r);
	float q = fmaf(r, 1.0f / 5040.0f, 1.0f / 720.0f);
	q = fmaf(r, q, 1.0f / 120.0f);
	q = fmaf(r, q, 1.0f / 24.0f);
	q = fmaf(r, q, 1.0f / 6.0f);
	q = fmaf(r, q, 0.5f);
	int32_t bits = ((int32_t)k + 127) << 23;

	memcpy(scale, &bits, sizeof(*scale));
	return fmaf(r * r, q, r);
}

/* e^x, x clamped to [-87, 88] (no infinities, no denormals). */
static inline float gnarl_fastmath_exp(float x)
{
	float scale, er1 = gnarl_fastmath_exp_reduce(x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x,
	                                             &scale);

	return fmaf(scale, er1, scale);
}

/* e^x - 1 for x in [-87, 88] (2^k - 1 is exact for k >= -24). */
static inline float gnarl_fastmath_expm1(float x)
{
	float scale, er1 = gnarl_fastmath_exp_reduce(x, &scale);

	return fmaf(scale, er1, scale - 1.0f);
}

/* log x for normal x > 0.  x = 2^e f with f in [sqrt(1/2), sqrt(2)),
 * log f = 2 atanh(u) = 2 (u + u^3/3 + ... + u^11/11), u = (f-1)/(f+1),
 * |u| <= 0.172; e ln2 is added in two parts. */
static inline float gnarl_fastmath_log(float x)
{
	int32_t bits, fbits;
	float f;

	memcpy(&bits, &x, sizeof(bits));
	fbits = (bits & 0x007fffff) | 0x3f800000; /* f in [1, 2) */
	memcpy(&f, &fbits, sizeof(f));
	int32_t high = f > 1.41421356f;
	float e = (float)((bits >> 23) - 127 + high);
	f = high ? 0.5f * f : f;
	float u = (f - 1.0f) / (f + 1.0f), u2 = u * u;
	float s = fmaf(u2, 1.0f / 11.0f, 1.0f / 9.0f);
	s = fmaf(u2, s, 1.0f / 7.0f);
	s = fmaf(u2, s, 1.0f / 5.0f);
	s = fmaf(u2, s, 1.0f / 3.0f);
	float lf = fmaf(2.0f * u * u2, s, 2.0f * u);
	return fmaf(e, 0.693145751953125f, fmaf(e, 1.428606765330187e-06f, lf));
}

#endif /* GNARL_FASTMATH_H */
