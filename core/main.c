/* main.c - placeholder until the CLI lands (core/cli.c). */
#include <stdio.h>

#include <gnarl/version.h>

int main(void)
{
	printf("gnarl %s\n", GNARL_VERSION);
	return 0;
}
