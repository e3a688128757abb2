// commands.h: one function per CLI command, each in harness/cli/cmd_NAME.c.
// Each takes the arguments after the command name (argv[0] is the command)
// and returns the process exit status: 0 ok, 1 failure (e.g. a run failed),
// 2 bad input (nothing written).
#ifndef HYLAB_COMMANDS_H
#define HYLAB_COMMANDS_H
int cmd_run(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_import_config(int argc, char **argv);
#endif
