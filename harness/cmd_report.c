// cmd_report.c: PLACEHOLDER until its owner lands the real command.
#include <stdio.h>
#include "commands.h"
int cmd_report(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hylab report: not implemented yet\n"); return 2; }
