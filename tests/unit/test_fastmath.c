/*
 * test_fastmath.c - the vectorisable exp and log (core/base/fastmath.h)
 * against double precision: within 2 ulp of the correctly rounded value
 * over their ranges, exact where the value is exact, clamped at the ends.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "fastmath.h"

/* |got - want| in units of the last place of want rounded to float. */
static double ulps(float got, double want)
{
	float w = (float)want;
	double ulp = (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);

	return fabs((double)got - want) / ulp;
}

static void test_exp(void **state)
{
	double worst = 0.0;
	float at = 0.0f;

	(void)state;
	/* ~1.7M points over the whole range, denser near 0 */
	for (float x = -87.0f; x < 88.0f; x += fabsf(x) > 1e-3f ? fabsf(x) * 1e-5f : 1e-8f) {
		double e = ulps(gnarl_fastmath_exp(x), exp((double)x));
		if (e > worst) {
			worst = e;
			at = x;
		}
	}
	if (worst > 2.0)
		fail_msg("exp: %.2f ulp at %.9g", worst, at);
	assert_true(gnarl_fastmath_exp(0.0f) == 1.0f);
	assert_true(gnarl_fastmath_exp(1.0f) == (float)exp(1.0));
	/* clamped, finite and normal */
	assert_true(gnarl_fastmath_exp(-1000.0f) == gnarl_fastmath_exp(-87.0f));
	assert_true(isnormal(gnarl_fastmath_exp(-1000.0f)));
	assert_true(isfinite(gnarl_fastmath_exp(1000.0f)));
}

static void test_log(void **state)
{
	double worst = 0.0;
	float at = 0.0f;

	(void)state;
	for (float x = 1e-37f; x < 1e37f; x *= 1.00003f) {
		double e = ulps(gnarl_fastmath_log(x), log((double)x));
		if (x != 1.0f && e > worst) {
			worst = e;
			at = x;
		}
	}
	/* every float near 1, where log is small and relative errors show */
	for (float x = 0.99f; x < 1.01f; x = nextafterf(x, 2.0f)) {
		double e = x == 1.0f ? 0.0 : ulps(gnarl_fastmath_log(x), log((double)x));
		if (e > worst) {
			worst = e;
			at = x;
		}
	}
	if (worst > 2.0)
		fail_msg("log: %.2f ulp at %.9g", worst, at);
	assert_true(gnarl_fastmath_log(1.0f) == 0.0f);
	assert_true(gnarl_fastmath_log(2.0f) == (float)log(2.0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exp),
	    cmocka_unit_test(test_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
