// cmd_query.c: PLACEHOLDER until its owner lands the real command.
#include <stdio.h>
#include "commands.h"
int cmd_query(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hylab query: not implemented yet\n"); return 2; }
