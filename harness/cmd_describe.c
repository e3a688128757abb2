// cmd_describe.c: PLACEHOLDER until its owner lands the real command.
#include <stdio.h>
#include "commands.h"
int cmd_describe(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hylab describe: not implemented yet\n"); return 2; }
