// cmd_forward.c: hylab forward --ckpt FILE --tokens FILE --out logits.npy
// Rebuilds the model from the spec in the checkpoint's metadata, loads its
// weights, runs one forward pass over the tokens (one sequence, all
// positions) and writes the logits (T, vocab) as a float32 .npy file.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/cli/commands.h"
#include "harness/hf_io.h"
#include "harness/prompts.h"
#include "core/npy.h"
#include "harness/spec.h"
#include "kernels/kernels.h"
#include "models/checkpoint.h"
#include "models/model.h"

typedef struct {
    const char *ckpt, *tokens, *out, *backend;
    int threads;
} forward_args;

static void forward_usage(FILE *f) {
    fprintf(f,
            "usage: hylab forward --ckpt FILE.safetensors --tokens FILE --out logits.npy\n"
            "                     [--backend cpu|cpu_ref] [--threads N]\n\n"
            "Runs the checkpoint's model (spec from the safetensors metadata) on one\n"
            "sequence of token ids and writes the logits at every position as a\n"
            "float32 .npy array of shape (T, vocab_size).\n\n"
            "  --ckpt FILE     safetensors checkpoint written by hylab (hylab run --save)\n"
            "  --tokens FILE   whitespace-separated integer token ids, each in [0, vocab)\n"
            "                  (at most 16 MiB of text); '-' reads standard input\n"
            "  --out FILE      output .npy (written atomically; nothing written on error);\n"
            "                  never the --ckpt or --tokens file\n"
            "  --backend NAME  kernel backend: cpu (default) or cpu_ref\n"
            "  --threads N     threads, 0..1024 (default 0: all cores)\n");
}

// Same file (device and inode: also through a symlink or a hard link)?
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// --out must not replace an input (the checkpoint, the token file).
static int check_out_not_input(const forward_args *a) {
    const char *inputs[2][2] = {{"--ckpt", a->ckpt}, {"--tokens", a->tokens}};
    for (int i = 0; i < 2; i++) {
        if (strcmp(inputs[i][1], "-") && same_file(a->out, inputs[i][1])) {
            fprintf(stderr, "hylab forward: --out %s is the %s file %s: it would be overwritten\n",
                    a->out, inputs[i][0], inputs[i][1]);
            return 2;
        }
    }
    return 0;
}

// Parses the command line. Returns 0 ok, 1 --help shown, 2 bad usage.
static int parse_forward_args(int argc, char **argv, forward_args *a) {
    memset(a, 0, sizeof *a);
    a->backend = "cpu";
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) { forward_usage(stdout); return 1; }
        const char **slot = !strcmp(opt, "--ckpt") ? &a->ckpt : !strcmp(opt, "--tokens") ? &a->tokens
                          : !strcmp(opt, "--out") ? &a->out : !strcmp(opt, "--backend") ? &a->backend : NULL;
        int is_threads = !strcmp(opt, "--threads");
        if (!slot && !is_threads) {
            fprintf(stderr, "hylab forward: unknown argument '%s'\n", opt);
            return 2;
        }
        if (i + 1 >= argc) { fprintf(stderr, "hylab forward: %s needs a value\n", opt); return 2; }
        const char *val = argv[++i];
        if (slot) { *slot = val; continue; }
        char *end;
        long t = strtol(val, &end, 10);
        if (!*val || *end || t < 0 || t > HL_MAX_THREADS) {
            fprintf(stderr, "hylab forward: --threads: expected an integer in [0, %d], got '%s'\n", HL_MAX_THREADS, val);
            return 2;
        }
        a->threads = (int)t;
    }
    if (!a->ckpt || !a->tokens || !a->out) {
        fprintf(stderr, "hylab forward: --ckpt, --tokens and --out are required\n");
        forward_usage(stderr);
        return 2;
    }
    return check_out_not_input(a);
}

// Builds the model, loads the weights, runs the forward, writes the logits.
static int run_forward(const forward_args *a, const hl_spec *spec, const hl_backend *be,
                       const int32_t *ids, int T, char *err, size_t errlen) {
    hl_model *m = hl_model_create(&spec->model, be, 1, T, err, errlen);
    if (!m) return HL_EFAIL;
    int rc = hl_ckpt_load(a->ckpt, m, err, errlen);
    const float *logits = NULL;
    if (rc == HL_OK) {
        rc = hl_model_forward(m, ids, 1, T, NULL, T, &logits, err, errlen);
        int64_t shape[2] = {T, spec->model.vocab_size};
        if (rc == HL_OK) rc = hl_npy_write_f32(a->out, logits, 2, shape, err, errlen);
    }
    hl_model_free(m);
    return rc;
}

int cmd_forward(int argc, char **argv) {
    forward_args a;
    int prc = parse_forward_args(argc, argv, &a);
    if (prc) return prc == 1 ? 0 : 2;
    char berr[512];
    const hl_backend *be = hl_backend_lookup(a.backend, berr, sizeof berr);
    if (!be) {
        fprintf(stderr, "hylab forward: --backend: %s\n", berr);
        return 2;
    }
    char err[HL_ERR_LEN] = "";
    hl_spec spec;
    memset(&spec, 0, sizeof spec);
    int32_t *ids = NULL;
    int T = 0;
    int rc = hl_ckpt_spec(a.ckpt, &spec, err, sizeof err);
    if (!rc) rc = hl_read_token_ids(a.tokens, spec.model.vocab_size, &ids, &T, err, sizeof err);
    if (!rc) {
        hl_blas_init(a.threads);
        rc = run_forward(&a, &spec, be, ids, T, err, sizeof err);
    }
    if (!rc)
        fprintf(stderr, "hylab forward: %d tokens -> %s (%d, %d) [%s]\n", T, a.out, T, spec.model.vocab_size,
                be->name);
    else
        fprintf(stderr, "hylab forward: %s\n", err);
    free(ids);
    hl_spec_free(&spec);
    return rc == HL_OK ? 0 : rc == HL_EBADINPUT ? 2 : 1;
}
