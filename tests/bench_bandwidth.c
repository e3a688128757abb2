// bench_bandwidth.c: decode speed against the physical limit, measured with
// the protocol of harness/run/measure.h (decode cost against context is
// tests/bench_decode.c's).
//
// 1. Copy bandwidth of this machine, measured in the same run: the best of 5
//    parallel (OpenMP, every thread) memcpy's of a 256 MiB buffer, counted
//    STREAM-style as bytes read + bytes written per second.
// 2. Batch-1 decode of d_model 1024, 8-layer A, S and H models (vocab 4096,
//    tied embeddings, SwiGLU d_ff 2816): a decoded token reads every weight
//    once, so it is memory-bandwidth bound at bandwidth / weight bytes tokens
//    per second (weights fp32: param_bytes). Printed: decode_tok_s (median of
//    3 after 1 warm-up, 16 steps after an untimed 128-token prefill), the
//    bound, and their ratio (the target is >= 50%).
// Everything is printed as measured, target met or not; exit status 1 only
// when a measurement fails.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "harness/run/measure.h"
#include "harness/spec.h"
#include "kernels/kernels.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// Copy bandwidth in bytes/s (read + write), every OpenMP thread copying its slice.
static double copy_bandwidth(void) {
    size_t n = (size_t)256 << 20;
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b) { free(a); free(b); return 0; }
    memset(a, 1, n); memset(b, 2, n);
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        #pragma omp parallel
        {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            size_t chunk = (n + (size_t)nt - 1) / (size_t)nt, lo = chunk * (size_t)id;
            size_t len = lo >= n ? 0 : (n - lo < chunk ? n - lo : chunk);
            if (len) memcpy(b + lo, a + lo, len);
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    volatile char sink = b[n / 2];
    (void)sink;
    free(a); free(b);
    return 2.0 * (double)n / best;
}

typedef struct { double decode_tok_s, decode_min, decode_max, param_bytes, state_bytes; } figs;

static void collect(void *ctx, const hl_measurement *m) {
    figs *f = ctx;
    if (!strcmp(m->kind, "decode_tok_s")) { f->decode_tok_s = m->value; f->decode_min = m->min; f->decode_max = m->max; }
    else if (!strcmp(m->kind, "param_bytes")) f->param_bytes = m->value;
    else if (!strcmp(m->kind, "state_bytes")) f->state_bytes = m->value;
}

static int measure(const char *spec_text, const char *name, figs *f) {
    char err[HL_ERR_LEN];
    hl_spec spec;
    memset(f, 0, sizeof *f);
    if (hl_spec_load_text(spec_text, name, NULL, 0, &spec, err, sizeof err)) {
        fprintf(stderr, "bench_bandwidth: %s\n", err);
        return 1;
    }
    hl_sink sink = {.ctx = f, .measurement = collect};
    hl_measure_opts o = {.backend = "cpu", .train = 0};
    int rc = hl_measure_run(&spec, &o, &sink, err, sizeof err);
    if (rc) fprintf(stderr, "bench_bandwidth: %s: %s\n", name, err);
    hl_spec_free(&spec);
    return rc != 0;
}

static const char *const LARGE =
    "{\"name\":\"%s\",\"model\":{\"vocab_size\":4096,\"d_model\":1024,\"n_layers\":8,\"layers\":\"%s\","
    "\"attn\":{\"n_heads\":16,\"n_kv_heads\":4},\"ssm\":{\"d_state\":16,\"d_conv\":4,\"expand\":2},"
    "\"ffn\":{\"type\":\"swiglu\",\"d_ff\":2816},\"tie_embeddings\":true},"
    "\"train\":{\"task\":{\"name\":\"mqar\",\"seq_len\":64,\"num_kv_pairs\":4},\"steps\":1,\"batch_size\":1},\"eval\":[],"
    "\"measure\":{\"batch\":[1],\"context\":[128],\"decode_tokens\":16,\"warmup\":1,\"repeats\":3}}";

int main(int argc, char **argv) {
    (void)argc;
    hl_blas_preinit(argv);
    hl_blas_init(0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("bench_bandwidth: %d threads, BLAS core %s, CPU %s\n", hl_blas_threads(), hl_blas_core(), hl_cpu_model());
    double bw = copy_bandwidth();
    printf("copy bandwidth (read + write, %d threads): %.2f GB/s\n", hl_blas_threads(), bw / 1e9);
    int failed = 0;
    char text[2048];
    const char *variants[][2] = {{"A", "attention"}, {"S", "mamba"}, {"H", "hybrid"}};
    printf("batch-1 decode, d_model 1024, 8 layers, fp32 weights, context 128 (+16 decoded):\n");
    printf("  %-10s %10s %12s %14s %10s\n", "model", "weights", "decode tok/s", "bound tok/s", "of bound");
    for (int v = 0; v < 3; v++) {
        figs f;
        snprintf(text, sizeof text, LARGE, variants[v][1], variants[v][0]);
        if (measure(text, variants[v][1], &f)) { failed = 1; continue; }
        double bound = bw / f.param_bytes;
        printf("  %-10s %7.1f MB %12.2f %14.2f %9.1f%%   (min %.2f, max %.2f)\n", variants[v][1], f.param_bytes / 1e6,
               f.decode_tok_s, bound, 100.0 * f.decode_tok_s / bound, f.decode_min, f.decode_max);
    }
    return failed;
}
