// cmd_generate.c: hylab generate --ckpt FILE (--tokens FILE | --batch FILE.jsonl)
// Rebuilds the checkpoint's model, reads the prompts (harness/prompts.h),
// generates with an inference state (harness/generate.h) and writes one JSON
// line per prompt, {"index": i, "tokens": [generated ids]}, in prompt order,
// to --out (atomically) or standard output, only once everything succeeded.
// With --draft CKPT --lookahead K: greedy speculative decoding
// (hl_generate_spec), the same tokens as without, acceptance on stderr.
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "harness/cli/commands.h"
#include "harness/generate.h"
#include "harness/hf_io.h"
#include "harness/prompts.h"
#include "harness/spec.h"
#include "kernels/kernels.h"
#include "models/checkpoint.h"
#include "models/model.h"

#define DEFAULT_MAX_NEW 32
#define DEFAULT_BATCH 8
#define DEFAULT_LOOKAHEAD 4

typedef struct {
    const char *ckpt, *tokens, *batch_file, *out, *backend, *draft;
    int threads, max_new, batch, eos, top_k, lookahead;
    double temperature, top_p;
    uint64_t seed;
    int has_temperature;
} gen_args;

static void generate_usage(FILE *f) {
    fprintf(f,
            "usage: hylab generate --ckpt FILE.safetensors (--tokens FILE | --batch FILE.jsonl)\n"
            "                      [--max-new-tokens N] [--eos ID] [--temperature T] [--top-k K]\n"
            "                      [--top-p P] [--seed S] [--batch-size N] [--out FILE]\n"
            "                      [--backend cpu|cpu_ref] [--threads N]\n"
            "                      [--draft FILE.safetensors [--lookahead K]]\n\n"
            "Generates tokens after each prompt with the checkpoint's model (spec from the\n"
            "safetensors metadata), reusing an inference state (KV caches, SSM states)\n"
            "instead of re-running the prefix. Writes one JSON line per prompt, in order:\n"
            "  {\"index\": 0, \"tokens\": [generated ids]}\n\n"
            "  --ckpt FILE          safetensors checkpoint written by hylab (hylab run --save)\n"
            "  --tokens FILE        one prompt: whitespace-separated token ids, as in\n"
            "                       `hylab forward` ('-': standard input)\n"
            "  --batch FILE.jsonl   many prompts, one JSON object per line: {\"tokens\": [ids]}\n"
            "                       ({\"prompt\": \"text\"} needs a tokenizer: not yet)\n"
            "  --max-new-tokens N   tokens to generate per prompt, >= 1 (default %d); prompt +\n"
            "                       N must fit the model's positions (%d minus meta tokens)\n"
            "  --eos ID             stop a prompt after it generates ID (kept in its output);\n"
            "                       hylab checkpoints carry no end token, so it is an option\n"
            "  --temperature T      0: greedy, the argmax (default); > 0: sample from\n"
            "                       softmax(logits / T) (default 1 when --top-k/--top-p given)\n"
            "  --top-k K            sample among the K most probable (ties with the K-th kept)\n"
            "  --top-p P            sample among the smallest set with probability >= P, in\n"
            "                       (0, 1] (as Hugging Face's TopPLogitsWarper; after top-k)\n"
            "  --seed S             sampling seed (default 0); a prompt's tokens depend only on\n"
            "                       the seed, its index in the input and the step, not on the batch\n"
            "  --batch-size N       prompts prefilled and stepped together (default %d); prompts\n"
            "                       of different lengths are right-padded\n"
            "  --out FILE           output JSON lines (written atomically; nothing written on\n"
            "                       error); default standard output (also only on success)\n"
            "  --backend NAME       kernel backend: cpu (default) or cpu_ref\n"
            "  --threads N          threads, 0..1024 (default 0: all cores)\n"
            "  --draft FILE         speculative decoding with this draft checkpoint (same\n"
            "                       vocabulary size): it proposes K tokens, the model checks\n"
            "                       K+1 positions in one call and keeps the agreeing prefix;\n"
            "                       the output equals plain greedy decoding token for token.\n"
            "                       Greedy only (--temperature 0). Prints the acceptance rate\n"
            "  --lookahead K        draft tokens per check, 1..64 (default %d)\n\n"
            "Bad input (ids outside the vocabulary, an empty prompt, a bad batch line,\n"
            "a prompt + --max-new-tokens beyond the positions) exits 2 naming the file\n"
            "and line.\n",
            DEFAULT_MAX_NEW, HL_MAX_CONTEXT, DEFAULT_BATCH, DEFAULT_LOOKAHEAD);
}

static int bad_value(const char *opt, const char *want, const char *val) {
    fprintf(stderr, "hylab generate: %s: expected %s, got '%s'\n", opt, want, val);
    return 2;
}

// An integer option in [lo, hi].
static int int_value(const char *opt, const char *val, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (!*val || *end || errno || v < lo || v > hi) {
        char want[96];
        snprintf(want, sizeof want, "an integer in [%lld, %lld]", lo, hi);
        return bad_value(opt, want, val);
    }
    *out = v;
    return 0;
}

static int real_value(const char *opt, const char *val, double *out) {
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (!*val || *end || errno || !isfinite(v)) return bad_value(opt, "a finite number", val);
    *out = v;
    return 0;
}

// Same file (device and inode: also through a symlink or a hard link)?
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static const char *const OPTIONS[] = {"--ckpt", "--tokens", "--batch", "--out", "--backend", "--threads",
                                      "--max-new-tokens", "--batch-size", "--eos", "--top-k", "--seed",
                                      "--temperature", "--top-p", "--draft", "--lookahead"};

static int is_option(const char *opt) {
    for (size_t i = 0; i < sizeof OPTIONS / sizeof OPTIONS[0]; i++)
        if (!strcmp(opt, OPTIONS[i])) return 1;
    return 0;
}

// One known option and its value into a. Returns 0 or 2.
static int set_option(gen_args *a, const char *opt, const char *val) {
    const char **slot = !strcmp(opt, "--ckpt") ? &a->ckpt : !strcmp(opt, "--tokens") ? &a->tokens
                      : !strcmp(opt, "--batch") ? &a->batch_file : !strcmp(opt, "--out") ? &a->out
                      : !strcmp(opt, "--backend") ? &a->backend : !strcmp(opt, "--draft") ? &a->draft : NULL;
    if (slot) { *slot = val; return 0; }
    long long v = 0;
    int rc;
    if (!strcmp(opt, "--threads")) { rc = int_value(opt, val, 0, HL_MAX_THREADS, &v); a->threads = (int)v; }
    else if (!strcmp(opt, "--max-new-tokens")) { rc = int_value(opt, val, 1, HL_MAX_CONTEXT, &v); a->max_new = (int)v; }
    else if (!strcmp(opt, "--lookahead")) { rc = int_value(opt, val, 1, 64, &v); a->lookahead = (int)v; }
    else if (!strcmp(opt, "--batch-size")) { rc = int_value(opt, val, 1, 4096, &v); a->batch = (int)v; }
    else if (!strcmp(opt, "--eos")) { rc = int_value(opt, val, 0, HL_MAX_VOCAB - 1, &v); a->eos = (int)v; }
    else if (!strcmp(opt, "--top-k")) { rc = int_value(opt, val, 0, HL_MAX_VOCAB, &v); a->top_k = (int)v; }
    else if (!strcmp(opt, "--seed")) { rc = int_value(opt, val, 0, INT64_MAX, &v); a->seed = (uint64_t)v; }
    else if (!strcmp(opt, "--temperature")) { rc = real_value(opt, val, &a->temperature); a->has_temperature = 1; }
    else if (!strcmp(opt, "--top-p")) rc = real_value(opt, val, &a->top_p);
    else { fprintf(stderr, "hylab generate: unknown argument '%s'\n", opt); return 2; }
    return rc;
}

// Parses the command line. Returns 0 ok, 1 --help shown, 2 bad usage.
static int parse_generate_args(int argc, char **argv, gen_args *a) {
    memset(a, 0, sizeof *a);
    a->backend = "cpu";
    a->max_new = DEFAULT_MAX_NEW;
    a->batch = DEFAULT_BATCH;
    a->eos = -1;
    a->top_p = 1;
    a->lookahead = -1;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) { generate_usage(stdout); return 1; }
        if (!is_option(opt)) { fprintf(stderr, "hylab generate: unknown argument '%s'\n", opt); return 2; }
        if (i + 1 >= argc) { fprintf(stderr, "hylab generate: %s needs a value\n", opt); return 2; }
        if (set_option(a, opt, argv[++i])) return 2;
    }
    if (!a->ckpt || (!a->tokens == !a->batch_file)) {
        fprintf(stderr, "hylab generate: --ckpt and one of --tokens or --batch are required\n");
        generate_usage(stderr);
        return 2;
    }
    if (a->lookahead > 0 && !a->draft) {
        fprintf(stderr, "hylab generate: --lookahead needs --draft\n");
        return 2;
    }
    if (a->lookahead < 0) a->lookahead = DEFAULT_LOOKAHEAD;
    if (!a->has_temperature && (a->top_k > 0 || a->top_p != 1)) a->temperature = 1;
    if (a->draft && a->temperature != 0) {
        fprintf(stderr, "hylab generate: --draft: only greedy speculative decoding (--temperature 0) is implemented\n");
        return 2;
    }
    hl_sample_opts so = {a->temperature, a->top_k, a->top_p, a->seed};
    const char *bad = hl_sample_check(&so);
    if (bad) { fprintf(stderr, "hylab generate: --temperature/--top-k/--top-p: %s\n", bad); return 2; }
    const char *in = a->tokens ? a->tokens : a->batch_file;
    const char *inputs[3] = {a->ckpt, in, a->draft ? a->draft : "-"};
    for (int i = 0; a->out && i < 3; i++) {
        if (strcmp(inputs[i], "-") && same_file(a->out, inputs[i])) {
            fprintf(stderr, "hylab generate: --out %s is the input file %s: it would be overwritten\n", a->out,
                    inputs[i]);
            return 2;
        }
    }
    return 0;
}

// Every prompt + max_new must fit the model's positions; an eos id must be
// in the vocabulary. Lines are named as the readers name them ("t.txt: line
// 2", "b.jsonl:2").
static int check_prompts(const gen_args *a, const hl_model_config *cfg, const hl_prompts *p, char *err,
                         size_t errlen) {
    const char *in = a->tokens ? a->tokens : a->batch_file;
    int64_t limit = (int64_t)HL_MAX_CONTEXT - cfg->meta_tokens;
    int extra = a->draft ? a->lookahead + 2 : 0;   // a speculative block runs K+1 positions past the last token
    if (a->eos >= cfg->vocab_size)
        return hl_fail(err, errlen, HL_EBADINPUT, "--eos: id %d out of range [0, %d) (the checkpoint's vocabulary)",
                       a->eos, cfg->vocab_size);
    for (int i = 0; i < p->n; i++) {
        if ((int64_t)p->p[i].n + a->max_new + extra > limit)
            return hl_fail(err, errlen, HL_EBADINPUT,
                           "%s%s%d: prompt of %d tokens + --max-new-tokens %d%s = %lld positions, beyond the "
                           "model's limit of %lld (%d minus %d meta tokens)",
                           in, a->tokens ? ": line " : ":", p->p[i].line, p->p[i].n, a->max_new,
                           extra ? " + --lookahead + 2" : "",
                           (long long)p->p[i].n + a->max_new + extra,
                           (long long)limit, HL_MAX_CONTEXT, cfg->meta_tokens);
    }
    return HL_OK;
}

// The output text: one JSON line per prompt. malloc'd, NULL when out of memory.
static char *format_output(const hl_gen_out *g, int n) {
    size_t cap = 64, len = 0;
    for (int i = 0; i < n; i++) cap += 40 + (size_t)g[i].n * 12;
    char *s = malloc(cap);
    if (!s) return NULL;
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(s + len, cap - len, "{\"index\": %d, \"tokens\": [", i);
        for (int j = 0; j < g[i].n; j++)
            len += (size_t)snprintf(s + len, cap - len, "%s%d", j ? ", " : "", (int)g[i].ids[j]);
        len += (size_t)snprintf(s + len, cap - len, "]}\n");
    }
    return s;
}

static int write_text(FILE *fp, void *text) { return fputs(text, fp) == EOF; }

// The draft checkpoint's model for speculative decoding, sized as the
// target: NULL with err (HL_EBADINPUT-worthy messages name --draft).
static hl_model *load_draft(const gen_args *a, const hl_model_config *target, const hl_backend *be, int max_B,
                            int max_T, int *rc, char *err, size_t errlen) {
    hl_spec ds;
    memset(&ds, 0, sizeof ds);
    hl_model *d = NULL;
    *rc = hl_ckpt_spec(a->draft, &ds, err, errlen);
    if (*rc == HL_OK && ds.model.vocab_size != target->vocab_size)
        *rc = hl_fail(err, errlen, HL_EBADINPUT, "--draft %s: model.vocab_size %d differs from the checkpoint's %d",
                      a->draft, ds.model.vocab_size, target->vocab_size);
    if (*rc == HL_OK && !(d = hl_model_create(&ds.model, be, max_B, max_T, err, errlen))) *rc = HL_EFAIL;
    if (*rc == HL_OK) *rc = hl_ckpt_load(a->draft, d, err, errlen);
    if (*rc != HL_OK) { hl_model_free(d); d = NULL; }
    hl_spec_free(&ds);
    return d;
}

// Builds the model, loads the weights, generates, writes the output.
static int run_generate(const gen_args *a, const hl_spec *spec, const hl_backend *be, const hl_prompts *p,
                        char *err, size_t errlen) {
    hl_gen_opts o = {a->max_new, a->eos, a->batch, {a->temperature, a->top_k, a->top_p, a->seed}};
    int max_B, max_T, max_len;
    hl_gen_sizes(p, &o, &max_B, &max_T, &max_len);
    hl_model *m = hl_model_create(&spec->model, be, max_B, max_T, err, errlen);
    if (!m) return HL_EFAIL;
    hl_gen_out *g = calloc((size_t)p->n, sizeof *g);
    int rc = g ? hl_ckpt_load(a->ckpt, m, err, errlen) : hl_fail(err, errlen, HL_EFAIL, "out of memory");
    hl_model *d = rc == HL_OK && a->draft ? load_draft(a, &spec->model, be, max_B, max_T, &rc, err, errlen) : NULL;
    hl_spec_stats st;
    if (rc == HL_OK && d) {
        rc = hl_generate_spec(m, d, p, &o, a->lookahead, g, &st, err, errlen);
        if (rc == HL_OK)
            fprintf(stderr, "hylab generate: speculative, lookahead %d: %lld checks, %lld of %lld proposals accepted (%.3f), "
                    "%.2f tokens per check\n", a->lookahead, (long long)st.blocks, (long long)st.accepted,
                    (long long)st.drafted, st.drafted ? (double)st.accepted / (double)st.drafted : 0.0,
                    st.blocks ? (double)st.emitted / (double)st.blocks : 0.0);
    } else if (rc == HL_OK) rc = hl_generate(m, p, &o, g, err, errlen);
    hl_model_free(d);
    char *text = rc == HL_OK ? format_output(g, p->n) : NULL;
    if (rc == HL_OK && !text) rc = hl_fail(err, errlen, HL_EFAIL, "out of memory");
    if (rc == HL_OK && a->out) rc = hl_write_atomic(a->out, write_text, text, err, errlen);
    else if (rc == HL_OK && (fputs(text, stdout) == EOF || fflush(stdout)))
        rc = hl_fail(err, errlen, HL_EFAIL, "standard output: write failed: %s", strerror(errno));
    free(text);
    for (int i = 0; g && i < p->n; i++) free(g[i].ids);
    free(g);
    hl_model_free(m);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    gen_args a;
    int prc = parse_generate_args(argc, argv, &a);
    if (prc) return prc == 1 ? 0 : 2;
    char berr[512];
    const hl_backend *be = hl_backend_lookup(a.backend, berr, sizeof berr);
    if (!be) {
        fprintf(stderr, "hylab generate: --backend: %s\n", berr);
        return 2;
    }
    char err[HL_ERR_LEN] = "";
    hl_spec spec;
    memset(&spec, 0, sizeof spec);
    hl_prompts p = {NULL, 0};
    int rc = hl_ckpt_spec(a.ckpt, &spec, err, sizeof err);
    if (!rc)
        rc = a.tokens ? hl_prompts_read_tokens(a.tokens, spec.model.vocab_size, &p, err, sizeof err)
                      : hl_prompts_read_jsonl(a.batch_file, spec.model.vocab_size, &p, err, sizeof err);
    if (!rc) rc = check_prompts(&a, &spec.model, &p, err, sizeof err);
    if (!rc) {
        hl_blas_init(a.threads);
        rc = run_generate(&a, &spec, be, &p, err, sizeof err);
    }
    if (!rc)
        fprintf(stderr, "hylab generate: %d prompt%s -> %s [%s]\n", p.n, p.n == 1 ? "" : "s",
                a.out ? a.out : "standard output", be->name);
    else
        fprintf(stderr, "hylab generate: %s\n", err);
    hl_prompts_free(&p);
    hl_spec_free(&spec);
    return rc == HL_OK ? 0 : rc == HL_EBADINPUT ? 2 : 1;
}
