// cmd_check.c: PLACEHOLDER until its owner lands the real command.
#include <stdio.h>
#include "commands.h"
int cmd_check(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hylab check: not implemented yet\n"); return 2; }
