// cmd_db.c: PLACEHOLDER until its owner lands the real command.
#include <stdio.h>
#include "commands.h"
int cmd_db(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hylab db: not implemented yet\n"); return 2; }
