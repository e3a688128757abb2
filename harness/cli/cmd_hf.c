// cmd_hf.c: hylab import HF_DIR --out FILE.safetensors
//           hylab export FILE.safetensors --out HF_DIR
// Hugging Face checkpoints <-> hylab checkpoints (harness/hf_io.h).
#include <stdio.h>
#include <string.h>

#include "harness/cli/commands.h"
#include "harness/hf_io.h"

static void import_usage(FILE *f) {
    fprintf(f,
            "usage: hylab import HF_DIR --out FILE.safetensors\n\n"
            "Converts a Hugging Face checkpoint directory into a hylab checkpoint.\n"
            "HF_DIR holds config.json and model.safetensors, or shards listed by\n"
            "model.safetensors.index.json; tensors may be F32, F16 or BF16 (stored\n"
            "as F32). Layouts: llama and mistral (LlamaForCausalLM,\n"
            "MistralForCausalLM: every layer attention \"A\" + SwiGLU; Mistral's\n"
            "sliding_window W becomes model.attn.window W) and mamba\n"
            "(MambaForCausalLM: every layer \"S\", ffn none). The spec built from\n"
            "config.json is validated and stored canonically in the checkpoint.\n"
            "A config value hylab cannot express (rope_scaling, attention_bias,\n"
            "hidden_act other than silu, Mamba use_bias, an unknown key) is an\n"
            "error naming the field: exit status 2, nothing written.\n\n"
            "  --out FILE   the hylab checkpoint to write (atomically)\n");
}

static void export_usage(FILE *f) {
    fprintf(f,
            "usage: hylab export FILE.safetensors --out HF_DIR\n\n"
            "Writes a hylab checkpoint as a Hugging Face directory (config.json +\n"
            "model.safetensors, float32) that transformers loads: an all-\"A\" model\n"
            "with a SwiGLU FFN as LlamaForCausalLM (MistralForCausalLM with a\n"
            "sliding window in every layer), an all-\"S\" model with ffn none as\n"
            "MambaForCausalLM. Anything else (hybrid layer patterns, meta tokens,\n"
            "KV sharing, global_layers with a window, v_head_dim != head_dim) is an\n"
            "error naming the spec key: exit status 2, nothing written.\n\n"
            "  --out HF_DIR  output directory: created, or an existing empty one\n");
}

// Parses "SRC --out DST" (either order). 0 ok, 1 --help shown, 2 bad usage.
static int parse_src_out(const char *cmd, int argc, char **argv, void (*usage)(FILE *),
                         const char **src, const char **out) {
    *src = *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 1; }
        if (!strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) { fprintf(stderr, "hylab %s: --out needs a value\n", cmd); return 2; }
            *out = argv[++i];
        } else if (argv[i][0] == '-' || *src) {
            fprintf(stderr, "hylab %s: unexpected argument '%s'\n", cmd, argv[i]);
            return 2;
        } else {
            *src = argv[i];
        }
    }
    if (*src && *out) return 0;
    fprintf(stderr, "hylab %s: needs a source and --out\n", cmd);
    usage(stderr);
    return 2;
}

// Runs fn(src, out) and reports; the exit status of the command.
static int run_hf(const char *cmd, int argc, char **argv, void (*usage)(FILE *),
                  int (*fn)(const char *, const char *, char *, size_t)) {
    const char *src, *out;
    int prc = parse_src_out(cmd, argc, argv, usage, &src, &out);
    if (prc) return prc == 1 ? 0 : 2;
    char err[HL_ERR_LEN] = "";
    int rc = fn(src, out, err, sizeof err);
    if (rc) {
        fprintf(stderr, "hylab %s: %s\n", cmd, err);
        return rc == HL_EBADINPUT ? 2 : 1;
    }
    fprintf(stderr, "hylab %s: %s -> %s\n", cmd, src, out);
    return 0;
}

int cmd_import(int argc, char **argv) { return run_hf("import", argc, argv, import_usage, hl_hf_import); }
int cmd_export(int argc, char **argv) { return run_hf("export", argc, argv, export_usage, hl_hf_export_ckpt); }
