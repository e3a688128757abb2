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
#include "core/clock.h"
#include "models/decode.h"
#include "models/layer.h"

enum { CTX_SHORT = 1024, CTX_LONG = 16384, WARM = 8, STEPS = 48, D = 64, V = 256, WINDOW = 256, META = 4,
       BIG_WARM = 3, BIG_STEPS = 15 };

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
static int time_decode(hl_model *m, int ctx, int warm, int steps, timing *t) {
    char err[512];
    hl_infer *s = hl_infer_create(m, 1, ctx + warm + steps, err, sizeof err);
    if (!s) { fprintf(stderr, "bench_decode: %s\n", err); return 0; }
    int32_t *prompt = malloc(sizeof(int32_t) * ctx), tok = 1;
    for (int i = 0; i < ctx; i++) prompt[i] = (int32_t)((i * 2654435761u) % V);
    const float *lg;
    double t0 = hl_now_s();
    int rc = hl_infer_prefill(s, prompt, 1, ctx, NULL, &lg, err, sizeof err);
    t->prefill_s = hl_now_s() - t0;
    double *dt = malloc(sizeof(double) * steps);
    for (int i = 0; !rc && i < warm + steps; i++) {
        t0 = hl_now_s();
        rc = hl_infer_step(s, &tok, &lg, err, sizeof err);
        if (i >= warm) dt[i - warm] = hl_now_s() - t0;
        tok = (int32_t)((tok * 31 + 7) % V);
    }
    if (rc) fprintf(stderr, "bench_decode: %s\n", err);
    qsort(dt, steps, sizeof dt[0], cmp_double);
    t->median = dt[steps / 2]; t->min = dt[0]; t->max = dt[steps - 1];
    free(prompt); free(dt);
    hl_infer_free(s);
    return !rc;
}

// ---------------------------------------------------------------- against the memory bandwidth
// Batch-1 decode reads every weight once per token, so its ceiling is the
// memory bandwidth / the weight bytes. Copy bandwidth as STREAM counts it
// (bytes read + bytes written per second), OpenMP over chunks, best of 5, on
// 2 x 256 MiB (far beyond the caches).
static double copy_bandwidth(void) {
    size_t n = (size_t)256 << 20;
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b) { free(a); free(b); return 0; }
    memset(a, 1, n); memset(b, 2, n);
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = hl_now_s();
        #pragma omp parallel for schedule(static)
        for (int c = 0; c < 64; c++) memcpy(b + (size_t)c * (n / 64), a + (size_t)c * (n / 64), n / 64);
        double dt = hl_now_s() - t0;
        if (dt < best) best = dt;
    }
    free(a); free(b);
    return 2.0 * (double)n / best;
}

// d_model 1024, 8 layers of `kind`, SwiGLU FFN d_ff 4096, vocab 8192 tied;
// A/H: 16 heads of 64 (H: V head dim d_inner / 16), global; S/H: d_state 16, expand 2.
static hl_model_config big_config_of(char kind) {
    hl_model_config c = config_of(kind, 0);
    c.vocab_size = 8192; c.d_model = 1024; c.n_layers = 8; c.tie_embeddings = 1;
    memset(c.layers_pattern, kind, 8);
    c.layers_pattern[8] = 0;
    c.attn.n_heads = 16; c.attn.n_kv_heads = 16; c.attn.head_dim = 64;
    c.ssm.dt_rank = 64;
    c.meta_tokens = 0;
    c.ffn.type = HL_FFN_SWIGLU; c.ffn.d_ff = 4096;
    for (int l = 0; l < c.n_layers; l++) {
        c.layer[l].kind = kind;
        c.layer[l].kv_source = -1;
        c.layer[l].ffn = HL_FFN_SWIGLU;
        c.layer[l].window = 0;
        const hl_layer_type *t = hl_mixer_type(kind);
        c.layer[l].v_head_dim = (t->caps & HL_CAP_KV) ? t->default_v_head_dim(&c) : 0;
    }
    return c;
}

// Decode tokens/s of the three 1024 x 8 models at a 16-token context as a
// fraction of bandwidth / weight bytes. Returns 1 when every one reaches 50%.
static int bench_bandwidth(void) {
    double bw = copy_bandwidth();
    printf("bench_decode: copy bandwidth %.2f GB/s (STREAM copy: read + write bytes, best of 5 over 2 x 256 MiB)\n", bw / 1e9);
    printf("  batch-1 decode, d_model 1024, 8 layers, SwiGLU d_ff 4096, vocab 8192 tied, context 16, %d warm-up + %d timed steps:\n",
           BIG_WARM, BIG_STEPS);
    const char kinds[] = {'A', 'S', 'H'};
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        hl_model_config c = big_config_of(kinds[k]);
        char err[512];
        hl_model *m = hl_model_create(&c, hl_backend_get("cpu"), 1, 16, err, sizeof err);
        if (!m) { fprintf(stderr, "bench_decode: %s\n", err); return 0; }
        hl_model_init(m, 1);
        timing t;
        if (!time_decode(m, 16, BIG_WARM, BIG_STEPS, &t)) return 0;
        double wbytes = (double)hl_model_numel(m) * sizeof(float), tok_s = 1.0 / t.median;
        double frac = tok_s * wbytes / bw;
        ok &= frac >= 0.5;
        printf("  %c: %.1f MB of weights, %.2f ms/token (median; [%.2f, %.2f]), %.1f tok/s = %.0f%% of bandwidth / weight bytes"
               " (%.1f tok/s) (target >= 50%%: %s)\n", kinds[k], wbytes / 1e6, 1e3 * t.median, 1e3 * t.min, 1e3 * t.max,
               tok_s, 100 * frac, bw / wbytes, frac >= 0.5 ? "met" : "NOT MET");
        hl_model_free(m);
    }
    return ok;
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
        if (!time_decode(m, CTX_SHORT, WARM, STEPS, &a) || !time_decode(m, CTX_LONG, WARM, STEPS, &b)) return 2;
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
    int bw_ok = bench_bandwidth();
    printf("bench_decode: batch-1 decode at >= 50%% of the bandwidth limit for A, S and H: %s\n", bw_ok ? "yes" : "NO");
    return 0;
}
