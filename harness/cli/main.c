// main.c: the hylab command line. Dispatches to harness/cli/cmd_*.c.
#include <stdio.h>
#include <string.h>
#include "harness/cli/commands.h"
#include "kernels/kernels.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *usage;
} command;

static const command commands[] = {
    {"run", cmd_run, "run SPEC_OR_SWEEP [--db FILE] [--set k=v]... [--shard I/N] [--jobs N] [--force] [--save FILE]"},
    {"bench", cmd_bench, "bench SPEC_OR_CKPT [--set measure.batch=[..]] [--db FILE] [--threads N]"},
    {"describe", cmd_describe, "describe SPEC [--context T]... [--dtype-bytes B] [--json] [--set k=v]..."},
    {"forward", cmd_forward, "forward --ckpt FILE --tokens FILE --out logits.npy"},
    {"generate", cmd_generate, "generate --ckpt FILE (--tokens FILE | --batch FILE.jsonl) [--max-new-tokens N] [--out FILE]"},
    {"eval", cmd_eval, "eval CKPT TASK... [--samples FILE.jsonl] [--limit N] [--db FILE] [--max-length N]"},
    {"import", cmd_import, "import HF_DIR --out FILE.safetensors        (Hugging Face -> hylab)"},
    {"import-config", cmd_import_config, "import-config CONFIG.json [--name N]      (HF config.json -> spec on stdout)"},
    {"export", cmd_export, "export FILE.safetensors --out HF_DIR        (hylab -> Hugging Face)"},
    {"query", cmd_query, "query --db FILE [--csv|--json] \"SQL\""},
    {"report", cmd_report, "report --db FILE plots/NAME.json --out DIR"},
    {"db", cmd_db, "db merge OUT.db IN.db..."},
    {"tokenize", cmd_tokenize, "tokenize --tokenizer NAME [--data-dir D] [--decode] FILE|-"},
    {"data", cmd_data, "data list|verify|fetch [--data-dir D] [--json] [--mirror URL] [PATH...]"},
    {"check", cmd_check, "check --db NEW --baseline OLD [--metric M]... [--tolerance X]"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "hylab: benchmarking and ablation suite for hybrid attention/SSM models\n\nusage:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  hylab %s\n", commands[i].usage);
    fprintf(f, "\n'hylab COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv) {
    hl_blas_preinit(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hylab: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
