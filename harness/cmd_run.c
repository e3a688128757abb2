// cmd_run.c: PLACEHOLDER until its owner lands the real command.
#include <stdio.h>
#include "commands.h"
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hylab run: not implemented yet\n"); return 2; }
