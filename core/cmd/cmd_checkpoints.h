/*
 * cmd_checkpoints.h - the `gnarl checkpoints` command (list, show, tag,
 * diff), called by the command table in cli.c.
 */
#ifndef GNARL_CMD_CHECKPOINTS_H
#define GNARL_CMD_CHECKPOINTS_H

/* argv[0] is "checkpoints"; returns the process exit code (enum
 * gnarl_exit in error.h). */
int gnarl_cmd_checkpoints(int argc, char **argv);

#endif /* GNARL_CMD_CHECKPOINTS_H */
