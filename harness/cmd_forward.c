// cmd_forward.c: PLACEHOLDER until its owner lands the real command.
#include <stdio.h>
#include "commands.h"
int cmd_forward(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hylab forward: not implemented yet\n"); return 2; }
