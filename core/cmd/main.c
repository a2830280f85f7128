/*
 * main.c - the gnarl executable: everything is in the command table of
 * cli.c (gnarl help lists the commands).
 */
#include "cli.h"

int main(int argc, char **argv)
{
	return gnarl_cli_main(argc, argv);
}
