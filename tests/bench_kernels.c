// bench_kernels.c: kernel benchmarks (run by `make bench`). Prints the BLAS
// core and threads, sgemm GFLOP/s, the cpu / cpu_ref speed-up of the main ops
// and attention fwd+bwd GFLOP/s, all measured in this run so the ratios are
// comparable across machines.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels/kernels.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *rnd_buf(size_t n, float lo, float hi) {
    float *p = malloc(sizeof(float) * n);
    if (!p) { fprintf(stderr, "bench_kernels: out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)rand() / (float)RAND_MAX;
    return p;
}

// One benchmark problem: fixed shapes, buffers, and a callback running the op.
typedef struct bench bench;
struct bench {
    const char *name;
    void (*run)(const hl_ops *, bench *);
    float *buf[16];
    int32_t *ids;
    int B, T, C, N, K, H, Hkv, hd, vd, V, IC, OC, window;
};

// Best wall time of `reps` calls (after one warm-up).
static double time_best(const hl_ops *ops, bench *b, int reps) {
    b->run(ops, b);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        b->run(ops, b);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

// ---- problems (buffers allocated lazily by size)
static void run_matmul(const hl_ops *o, bench *b) {
    float **f = b->buf;
    hl_matmul_fwd_args fa = {f[0], f[1], f[2], f[3], b->N, b->IC, b->OC};
    o->matmul_fwd(&fa);
    hl_matmul_bwd_args ba = {f[4], f[5], f[6], f[0], f[1], f[2], b->N, b->IC, b->OC};
    o->matmul_bwd(&ba);
}
static void run_rmsnorm(const hl_ops *o, bench *b) {
    float **f = b->buf;
    hl_rmsnorm_fwd_args fa = {f[0], f[1], f[2], f[3], b->N, b->C, 1e-5f};
    o->rmsnorm_fwd(&fa);
    hl_rmsnorm_bwd_args ba = {f[4], f[5], f[0], f[2], f[3], f[1], b->N, b->C};
    o->rmsnorm_bwd(&ba);
}
static void run_rope(const hl_ops *o, bench *b) {
    hl_rope_args a = {b->buf[0], b->buf[1], b->B, b->T, b->H, b->hd, 10000.0f};
    o->rope_fwd(&a);
    o->rope_bwd(&a);
}
static void run_attn(const hl_ops *o, bench *b) {
    float **f = b->buf;
    hl_attn_fwd_args fa = {f[0], f[1], f[2], f[3], f[4], b->B, b->T, b->H, b->Hkv, b->hd, b->vd, b->window, 0};
    o->attn_fwd(&fa);
    hl_attn_bwd_args ba = {f[5], f[6], f[7], f[8], f[0], f[1], f[2], f[3], f[4],
                           b->B, b->T, b->H, b->Hkv, b->hd, b->vd, b->window, 0};
    o->attn_bwd(&ba);
}
static void run_conv(const hl_ops *o, bench *b) {
    float **f = b->buf;
    hl_conv1d_fwd_args fa = {f[0], f[1], f[2], f[3], b->B, b->T, b->C, b->K};
    o->conv1d_fwd(&fa);
    hl_conv1d_bwd_args ba = {f[4], f[5], f[6], f[0], f[1], f[2], b->B, b->T, b->C, b->K};
    o->conv1d_bwd(&ba);
}
static void run_scan(const hl_ops *o, bench *b) {
    float **f = b->buf;
    hl_scan_fwd_args fa = {f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], b->B, b->T, b->C, b->N};
    o->scan_fwd(&fa);
    hl_scan_bwd_args ba = {f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[0],
                           f[1], f[2], f[3], f[4], f[5], f[6], f[7], b->B, b->T, b->C, b->N};
    o->scan_bwd(&ba);
}
static void run_swiglu(const hl_ops *o, bench *b) {
    float **f = b->buf;
    size_t n = (size_t)b->N * b->C;
    hl_swiglu_fwd_args fa = {f[0], f[1], f[2], n};
    o->swiglu_fwd(&fa);
    hl_swiglu_bwd_args ba = {f[3], f[4], f[0], f[1], f[2], n};
    o->swiglu_bwd(&ba);
}
static void run_xent(const hl_ops *o, bench *b) {
    float **f = b->buf;
    hl_xent_fwd_args fa = {f[0], f[1], b->ids, b->N, b->V, -100};
    o->xent_fwd(&fa);
    hl_xent_bwd_args ba = {f[2], f[1], b->ids, b->N, b->V, -100, 1.0f / b->N};
    o->xent_bwd(&ba);
}
static void run_adamw(const hl_ops *o, bench *b) {
    float **f = b->buf;
    hl_adamw_args a = {f[0], f[1], f[2], f[3], (size_t)b->N, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 10};
    o->adamw(&a);
}

// Allocates n[i] floats for buf[i] (n terminated by 0).
static void alloc_bufs(bench *b, const size_t *n) {
    for (int i = 0; n[i]; i++) b->buf[i] = rnd_buf(n[i], -1, 1);
}
static void free_bench(bench *b) {
    for (int i = 0; i < 16; i++) { free(b->buf[i]); b->buf[i] = NULL; }
    free(b->ids); b->ids = NULL;
}

static void make_attn(bench *b, int B, int T, int H, int hd, int window) {
    memset(b, 0, sizeof *b);
    b->name = "attention"; b->run = run_attn;
    b->B = B; b->T = T; b->H = H; b->Hkv = H; b->hd = hd; b->vd = hd; b->window = window;
    size_t q = (size_t)B * T * H * hd, l = (size_t)B * H * T;
    size_t n[] = {q, l, q, q, q, q, q, q, q, 0}; // out lse q k v dq dk dv dout
    alloc_bufs(b, n);
}

// Visible (query, key) pairs of causal attention with a window.
static double attn_pairs(int T, int window) {
    double p = 0;
    for (int i = 0; i < T; i++) p += window && window < i + 1 ? window : i + 1;
    return p;
}

static void speedup_row(const char *name, bench *b, const hl_ops *ref, const hl_ops *cpu, int reps) {
    double tr = time_best(ref, b, 1), tc = time_best(cpu, b, reps);
    printf("%-34s cpu_ref %9.3f ms   cpu %8.3f ms   speed-up %7.1fx\n", name, tr * 1e3, tc * 1e3, tr / tc);
    free_bench(b);
}

int main(int argc, char **argv) {
    (void)argc;
    hl_blas_preinit(argv);
    hl_blas_init(0);
    const hl_ops *ref = hl_ops_get("cpu_ref"), *cpu = hl_ops_get("cpu");
    printf("BLAS core: %s, threads: %d\n", hl_blas_core(), hl_blas_threads());
    double gf = hl_blas_sgemm_gflops(1024, 5);
    printf("sgemm 1024^3: %.1f GFLOP/s\n", gf);

    printf("\n-- cpu vs cpu_ref (fwd+bwd unless noted)\n");
    bench b;
    memset(&b, 0, sizeof b); b.run = run_matmul; b.N = 512; b.IC = 256; b.OC = 256;
    { size_t n[] = {512 * 256, 512 * 256, 256 * 256, 256, 512 * 256, 256 * 256, 256, 0}; alloc_bufs(&b, n); }
    speedup_row("matmul N512 256->256 +bias", &b, ref, cpu, 5);
    memset(&b, 0, sizeof b); b.run = run_rmsnorm; b.N = 4096; b.C = 256;
    { size_t n[] = {4096 * 256, 4096, 4096 * 256, 256, 4096 * 256, 256, 0}; alloc_bufs(&b, n); }
    speedup_row("rmsnorm N4096 C256", &b, ref, cpu, 5);
    memset(&b, 0, sizeof b); b.run = run_rope; b.B = 8; b.T = 512; b.H = 4; b.hd = 64;
    { size_t n[] = {8 * 512 * 256, 8 * 512 * 256, 0}; alloc_bufs(&b, n); }
    speedup_row("rope fwd+bwd B8 T512 H4 hd64", &b, ref, cpu, 5);
    make_attn(&b, 1, 512, 4, 64, 0);
    speedup_row("attention B1 T512 H4 hd64 global", &b, ref, cpu, 5);
    make_attn(&b, 1, 512, 4, 64, 128);
    speedup_row("attention B1 T512 H4 hd64 W128", &b, ref, cpu, 5);
    memset(&b, 0, sizeof b); b.run = run_conv; b.B = 8; b.T = 512; b.C = 512; b.K = 4;
    { size_t x = 8 * 512 * 512, n[] = {x, x, 512 * 4, 512, x, 512 * 4, 512, 0}; alloc_bufs(&b, n); }
    speedup_row("conv1d B8 T512 C512 K4", &b, ref, cpu, 5);
    memset(&b, 0, sizeof b); b.run = run_scan; b.B = 2; b.T = 512; b.C = 512; b.N = 16;
    { size_t x = 2 * 512 * 512, s = 2 * 512 * 16;
      size_t n[] = {x, x, x, 512, 512 * 16, s, s, 512, x, x, s, s, 512, 512 * 16, 512, 0}; alloc_bufs(&b, n); }
    for (int c = 0; c < 512 * 16; c++) b.buf[4][c] = logf(1.0f + c % 16);
    speedup_row("scan B2 T512 C512 N16", &b, ref, cpu, 5);
    memset(&b, 0, sizeof b); b.run = run_swiglu; b.N = 4096; b.C = 1024;
    { size_t x = 4096 * 1024, n[] = {x, x, x, x, x, 0}; alloc_bufs(&b, n); }
    speedup_row("swiglu 4096x1024", &b, ref, cpu, 5);
    memset(&b, 0, sizeof b); b.run = run_xent; b.N = 1024; b.V = 8192;
    { size_t x = 1024 * 8192, n[] = {1024, x, x, 0}; alloc_bufs(&b, n); }
    b.ids = malloc(sizeof(int32_t) * 1024);
    for (int i = 0; i < 1024; i++) b.ids[i] = (i * 7919) % 8192;
    speedup_row("xent N1024 V8192", &b, ref, cpu, 5);
    memset(&b, 0, sizeof b); b.run = run_adamw; b.N = 4 << 20;
    { size_t x = 4 << 20, n[] = {x, x, x, x, 0}; alloc_bufs(&b, n); }
    for (size_t i = 0; i < (size_t)b.N; i++) b.buf[2][i] = fabsf(b.buf[2][i]);
    speedup_row("adamw 4M params", &b, ref, cpu, 5);

    printf("\n-- attention fwd+bwd on cpu (B8 T512 H4 hd64), GFLOP/s vs sgemm\n");
    const int windows[] = {0, 128};
    for (int w = 0; w < 2; w++) {
        make_attn(&b, 8, 512, 4, 64, windows[w]);
        double tf = 0, tb = 0;
        { // time forward and backward separately (best of 5)
            hl_attn_fwd_args fa = {b.buf[0], b.buf[1], b.buf[2], b.buf[3], b.buf[4], 8, 512, 4, 4, 64, 64, windows[w], 0};
            hl_attn_bwd_args ba = {b.buf[5], b.buf[6], b.buf[7], b.buf[8], b.buf[0], b.buf[1], b.buf[2], b.buf[3],
                                   b.buf[4], 8, 512, 4, 4, 64, 64, windows[w], 0};
            cpu->attn_fwd(&fa); cpu->attn_bwd(&ba);
            tf = tb = 1e30;
            for (int r = 0; r < 5; r++) {
                double t0 = now_s(); cpu->attn_fwd(&fa);
                double t1 = now_s(); cpu->attn_bwd(&ba);
                double t2 = now_s();
                if (t1 - t0 < tf) tf = t1 - t0;
                if (t2 - t1 < tb) tb = t2 - t1;
            }
        }
        double pairs = 8.0 * 4 * attn_pairs(512, windows[w]);
        double ff = pairs * 4 * 64, fb = pairs * 10 * 64; // fwd: QK + PV; bwd: 5 products
        printf("attention %-10s fwd %7.2f ms %6.1f GFLOP/s   bwd %7.2f ms %6.1f GFLOP/s   "
               "fwd+bwd %6.1f GFLOP/s = %4.0f%% of sgemm\n",
               windows[w] ? "window128" : "global", tf * 1e3, ff / tf * 1e-9, tb * 1e3, fb / tb * 1e-9,
               (ff + fb) / (tf + tb) * 1e-9, 100 * (ff + fb) / (tf + tb) * 1e-9 / gf);
        free_bench(&b);
    }
    return 0;
}
