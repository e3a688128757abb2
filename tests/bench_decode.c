// bench_decode.c: per-token decode time (models/decode.h, cpu backend) at
// context 1K and 16K for a Mamba model, a sliding-window attention model and
// a global attention model of the same widths, measured in this run and
// printed as ratios (run by `make bench`). Targets: S and SWA within 1.3x
// (their state does not grow), global attention grows (it reads every
// cached key). The protocol is printed with the numbers: threads, BLAS core,
// warm-up steps, timed steps, median and min/max per token; the prefill
// (the ordinary forward over the prompt) is timed apart and never counted.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/decode.h"
#include "models/layer.h"

enum { CTX_SHORT = 1024, CTX_LONG = 16384, WARM = 8, STEPS = 48, D = 64, V = 256, WINDOW = 256, META = 4 };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Two layers of `kind` ('A' or 'S'), d_model 64, no FFN; A: 1 head of 64,
// window W (0: global), META meta tokens.
static hl_model_config config_of(char kind, int window) {
    hl_model_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = V; c.d_model = D; c.n_layers = 2;
    snprintf(c.layers_pattern, sizeof c.layers_pattern, "%c%c", kind, kind);
    c.attn.n_heads = 1; c.attn.n_kv_heads = 1; c.attn.head_dim = D; c.attn.rope_theta = 10000.0f;
    c.attn.window = window;
    c.ssm.d_state = 16; c.ssm.d_conv = 4; c.ssm.expand = 2; c.ssm.dt_rank = 4;
    c.meta_tokens = kind == 'A' ? META : 0;
    c.ffn.type = HL_FFN_NONE;
    c.norm_eps = 1e-5f;
    for (int l = 0; l < c.n_layers; l++) {
        c.layer[l].kind = kind;
        c.layer[l].kv_source = -1;
        c.layer[l].ffn = HL_FFN_NONE;
        c.layer[l].v_head_dim = kind == 'A' ? D : 0;
        c.layer[l].window = kind == 'A' ? window : 0;
    }
    return c;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct { double median, min, max, prefill_s; } timing;

// Prefill a prompt of ctx tokens, WARM untimed steps, then STEPS timed ones.
static int time_decode(hl_model *m, int ctx, timing *t) {
    char err[512];
    hl_infer *s = hl_infer_create(m, 1, ctx + WARM + STEPS, err, sizeof err);
    if (!s) { fprintf(stderr, "bench_decode: %s\n", err); return 0; }
    int32_t *prompt = malloc(sizeof(int32_t) * ctx), tok = 1;
    for (int i = 0; i < ctx; i++) prompt[i] = (int32_t)((i * 2654435761u) % V);
    const float *lg;
    double t0 = now_s();
    int rc = hl_infer_prefill(s, prompt, 1, ctx, NULL, &lg, err, sizeof err);
    t->prefill_s = now_s() - t0;
    double dt[STEPS];
    for (int i = 0; !rc && i < WARM + STEPS; i++) {
        t0 = now_s();
        rc = hl_infer_step(s, &tok, &lg, err, sizeof err);
        if (i >= WARM) dt[i - WARM] = now_s() - t0;
        tok = (int32_t)((tok * 31 + 7) % V);
    }
    if (rc) fprintf(stderr, "bench_decode: %s\n", err);
    qsort(dt, STEPS, sizeof dt[0], cmp_double);
    t->median = dt[STEPS / 2]; t->min = dt[0]; t->max = dt[STEPS - 1];
    free(prompt);
    hl_infer_free(s);
    return !rc;
}

int main(int argc, char **argv) {
    (void)argc;
    hl_blas_preinit(argv);
    hl_blas_init(0);
    printf("bench_decode: backend cpu, %d threads, BLAS core %s; batch 1, d_model %d, 2 layers, no FFN, vocab %d;\n"
           "  per model: prefill the prompt (timed apart), %d warm-up steps, %d timed steps; ms per token (median [min, max])\n",
           hl_blas_threads(), hl_blas_core(), D, V, WARM, STEPS);
    struct { const char *name; char kind; int window; int grows; } models[] = {
        {"S (Mamba)", 'S', 0, 0}, {"SWA (W=256, 4 meta)", 'A', WINDOW, 0}, {"global attention", 'A', 0, 1}};
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        hl_model_config c = config_of(models[i].kind, models[i].window);
        char err[512];
        hl_model *m = hl_model_create(&c, hl_backend_get("cpu"), 1, CTX_LONG, err, sizeof err);
        if (!m) { fprintf(stderr, "bench_decode: %s\n", err); return 2; }
        hl_model_init(m, 1);
        timing a, b;
        if (!time_decode(m, CTX_SHORT, &a) || !time_decode(m, CTX_LONG, &b)) return 2;
        double ratio = b.median / a.median;
        int met = models[i].grows ? ratio > 1.3 : ratio <= 1.3;
        ok &= met;
        printf("%-22s ctx %5d: %.4f [%.4f, %.4f] ms  ctx %5d: %.4f [%.4f, %.4f] ms  16K/1K %.2fx (%s %s)"
               "  prefill %.2f s / %.2f s  state %lld / %lld bytes\n",
               models[i].name, CTX_SHORT, 1e3 * a.median, 1e3 * a.min, 1e3 * a.max, CTX_LONG, 1e3 * b.median,
               1e3 * b.min, 1e3 * b.max, ratio, models[i].grows ? "target > 1.3x:" : "target <= 1.3x:",
               met ? "met" : "NOT MET", a.prefill_s, b.prefill_s,
               (long long)hl_model_cache_bytes(&c, CTX_SHORT + WARM + STEPS, 4),
               (long long)hl_model_cache_bytes(&c, CTX_LONG + WARM + STEPS, 4));
        hl_model_free(m);
    }
    printf("bench_decode: decode cost flat for S and SWA, growing for global attention: %s\n", ok ? "yes" : "NO");
    return 0;
}
