/*
 * cannot_run.h - what a C test does when a service or tool it needs is not
 * there: exit 77 (ctest: skipped) with the reason on a developer's
 * machine, fail under CI=true, where everything the suite needs is
 * installed (tests/integration/cannot_run.py is the same for Python).
 */
#ifndef GNARL_TEST_CANNOT_RUN_H
#define GNARL_TEST_CANNOT_RUN_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Under CI=true a missing dependency is a failure. */
static inline bool gnarl_test_on_ci(void)
{
	const char *ci = getenv("CI");

	return ci && !strcmp(ci, "true");
}

static inline void gnarl_test_cannot_run(const char *reason)
{
	if (gnarl_test_on_ci()) {
		printf("FAIL: %s (CI=true: every service and tool of the suite must be there)\n",
		       reason);
		exit(1);
	}
	printf("SKIP: %s\n", reason);
	exit(77);
}

#endif /* GNARL_TEST_CANNOT_RUN_H */
