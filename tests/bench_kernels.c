// bench_kernels.c: kernel benchmarks (run by `make bench`). Prints the BLAS
// core and threads, sgemm GFLOP/s, the cpu / cpu_ref speed-up of the main ops
// and attention fwd+bwd GFLOP/s, all measured in this run so the ratios are
// comparable across machines.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/clock.h"
#include "kernels/kernels.h"

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
        double t0 = hl_now_s();
        b->run(ops, b);
        double dt = hl_now_s() - t0;
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
    hl_rmsnorm_fwd_args fa = {f[0], f[1], f[2], f[3], b->N, b->C, 1e-5f, 0};
    o->rmsnorm_fwd(&fa);
    hl_rmsnorm_bwd_args ba = {f[4], f[5], f[0], f[2], f[3], f[1], b->N, b->C, 0};
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

// ---- a whole training step of a model-shaped op sequence: L layers of
// pre-norm attention (RoPE, global causal) + SwiGLU, tied lm head, xent,
// adamw. Buffers are shared across layers (values are meaningless, the work
// is exactly that of a real step). Returns seconds; *flops gets matmul
// (6 * params * tokens) + attention (3 * 4 * pairs * hd) FLOPs.
typedef struct { int L, B, T, d, H, dff, V; } model_shape;

static float *zbuf(size_t n) { return rnd_buf(n, -0.05f, 0.05f); }

static double model_step(const hl_ops *o, model_shape s, double *flops, int reps) {
    int N = s.B * s.T, d = s.d, dff = s.dff, V = s.V, hd = d / s.H;
    size_t Nd = (size_t)N * d, Nf = (size_t)N * dff;
    float *x = zbuf(Nd), *xn = zbuf(Nd), *rstd = zbuf(N), *q = zbuf(Nd), *k = zbuf(Nd), *v = zbuf(Nd);
    float *att = zbuf(Nd), *lse = zbuf(N * s.H), *tmp = zbuf(Nd), *g = zbuf(Nf), *u = zbuf(Nf), *hh = zbuf(Nf);
    float *logits = zbuf((size_t)N * V), *losses = zbuf(N);
    float *dx = zbuf(Nd), *dxn = zbuf(Nd), *dq = zbuf(Nd), *dk = zbuf(Nd), *dv = zbuf(Nd), *datt = zbuf(Nd);
    float *dg = zbuf(Nf), *du = zbuf(Nf), *dhh = zbuf(Nf);
    size_t w_attn = (size_t)d * d, w_ffn = (size_t)dff * d;
    size_t nparams = (size_t)V * d + (size_t)s.L * (4 * w_attn + 3 * w_ffn + 2 * d) + d;
    float *params = zbuf(nparams), *grads = zbuf(nparams), *m = zbuf(nparams), *vv = zbuf(nparams);
    for (size_t i = 0; i < nparams; i++) vv[i] = fabsf(vv[i]);
    int32_t *ids = malloc(sizeof(int32_t) * N), *tg = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) { ids[i] = (i * 31) % V; tg[i] = (i * 17) % V; }
    float *emb = params, *demb = grads, *lw = params + (size_t)V * d; // layer weights follow
    float *Wq = lw, *Wk = Wq + w_attn, *Wv = Wk + w_attn, *Wo = Wv + w_attn, *Wg = Wo + w_attn;
    float *Wu = Wg + w_ffn, *Wd = Wu + w_ffn, *n1 = Wd + w_ffn, *n2 = n1 + d;
    size_t off = (size_t)(lw - params);
    float *dWq = grads + off, *dWk = dWq + w_attn, *dWv = dWk + w_attn, *dWo = dWv + w_attn;
    float *dWg = dWo + w_attn, *dWu = dWg + w_ffn, *dWd = dWu + w_ffn, *dn1 = dWd + w_ffn, *dn2 = dn1 + d;
    double best = 1e30;
    for (int rep = 0; rep <= reps; rep++) {
        double t0 = hl_now_s();
        hl_embed_fwd_args ea = {x, ids, emb, N, V, d}; o->embed_fwd(&ea);
        for (int l = 0; l < s.L; l++) { // forward (same weights for every layer)
            hl_rmsnorm_fwd_args r1 = {xn, rstd, x, n1, N, d, 1e-5f, 0}; o->rmsnorm_fwd(&r1);
            hl_matmul_fwd_args mq = {q, xn, Wq, NULL, N, d, d}, mk = {k, xn, Wk, NULL, N, d, d}, mv = {v, xn, Wv, NULL, N, d, d};
            o->matmul_fwd(&mq); o->matmul_fwd(&mk); o->matmul_fwd(&mv);
            hl_rope_args rq = {q, q, s.B, s.T, s.H, hd, 10000.0f}, rk = {k, k, s.B, s.T, s.H, hd, 10000.0f};
            o->rope_fwd(&rq); o->rope_fwd(&rk);
            hl_attn_fwd_args aa = {att, lse, q, k, v, s.B, s.T, s.H, s.H, hd, hd, 0, 0}; o->attn_fwd(&aa);
            hl_matmul_fwd_args mo = {tmp, att, Wo, NULL, N, d, d}; o->matmul_fwd(&mo);
            hl_axpby_args res = {x, x, tmp, 1.0f, 1.0f, Nd}; o->axpby(&res);
            hl_rmsnorm_fwd_args r2 = {xn, rstd, x, n2, N, d, 1e-5f, 0}; o->rmsnorm_fwd(&r2);
            hl_matmul_fwd_args mg = {g, xn, Wg, NULL, N, d, dff}, mu = {u, xn, Wu, NULL, N, d, dff};
            o->matmul_fwd(&mg); o->matmul_fwd(&mu);
            hl_swiglu_fwd_args sw = {hh, g, u, Nf}; o->swiglu_fwd(&sw);
            hl_matmul_fwd_args md = {tmp, hh, Wd, NULL, N, dff, d}; o->matmul_fwd(&md);
            o->axpby(&res);
        }
        hl_rmsnorm_fwd_args rf = {xn, rstd, x, n1, N, d, 1e-5f, 0}; o->rmsnorm_fwd(&rf);
        hl_matmul_fwd_args ml = {logits, xn, emb, NULL, N, d, V}; o->matmul_fwd(&ml);
        hl_xent_fwd_args xa = {losses, logits, tg, N, V, -100}; o->xent_fwd(&xa);
        // backward
        hl_xent_bwd_args xb = {logits, logits, tg, N, V, -100, 1.0f / N}; o->xent_bwd(&xb);
        hl_matmul_bwd_args mlb = {dxn, demb, NULL, logits, xn, emb, N, d, V}; o->matmul_bwd(&mlb);
        hl_rmsnorm_bwd_args rfb = {dx, dn1, dxn, x, n1, rstd, N, d, 0}; o->rmsnorm_bwd(&rfb);
        hl_axpby_args acc_dx = {dx, dx, tmp, 1.0f, 1.0f, Nd}, acc_dxn = {dxn, dxn, tmp, 1.0f, 1.0f, Nd};
        for (int l = s.L - 1; l >= 0; l--) {
            hl_matmul_bwd_args bd = {dhh, dWd, NULL, dx, hh, Wd, N, dff, d}; o->matmul_bwd(&bd);
            hl_swiglu_bwd_args sb = {dg, du, dhh, g, u, Nf}; o->swiglu_bwd(&sb);
            hl_matmul_bwd_args bg = {dxn, dWg, NULL, dg, xn, Wg, N, d, dff}, bu = {tmp, dWu, NULL, du, xn, Wu, N, d, dff};
            o->matmul_bwd(&bg); o->matmul_bwd(&bu); o->axpby(&acc_dxn);
            hl_rmsnorm_bwd_args r2b = {tmp, dn2, dxn, x, n2, rstd, N, d, 0}; o->rmsnorm_bwd(&r2b);
            o->axpby(&acc_dx);
            hl_matmul_bwd_args bo = {datt, dWo, NULL, dx, att, Wo, N, d, d}; o->matmul_bwd(&bo);
            hl_attn_bwd_args ab = {dq, dk, dv, datt, att, lse, q, k, v, s.B, s.T, s.H, s.H, hd, hd, 0, 0};
            o->attn_bwd(&ab);
            hl_rope_args rqb = {dq, dq, s.B, s.T, s.H, hd, 10000.0f}, rkb = {dk, dk, s.B, s.T, s.H, hd, 10000.0f};
            o->rope_bwd(&rqb); o->rope_bwd(&rkb);
            hl_matmul_bwd_args bq = {dxn, dWq, NULL, dq, xn, Wq, N, d, d}, bk = {tmp, dWk, NULL, dk, xn, Wk, N, d, d};
            hl_matmul_bwd_args bv = {tmp, dWv, NULL, dv, xn, Wv, N, d, d};
            o->matmul_bwd(&bq); o->matmul_bwd(&bk); o->axpby(&acc_dxn); o->matmul_bwd(&bv); o->axpby(&acc_dxn);
            hl_rmsnorm_bwd_args r1b = {tmp, dn1, dxn, x, n1, rstd, N, d, 0}; o->rmsnorm_bwd(&r1b);
            o->axpby(&acc_dx);
        }
        hl_embed_bwd_args eb = {demb, dx, ids, N, V, d}; o->embed_bwd(&eb);
        hl_adamw_args ad = {params, m, vv, grads, nparams, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1}; o->adamw(&ad);
        double dt = hl_now_s() - t0;
        if (rep > 0 && dt < best) best = dt; // rep 0 is a warm-up
    }
    double pairs = (double)s.B * s.H * s.T * (s.T + 1) / 2.0;
    double mm_params = (double)V * d + (double)s.L * (4 * w_attn + 3 * w_ffn);
    *flops = 6.0 * mm_params * N + s.L * 3.0 * 4.0 * pairs * hd;
    float *all[] = {x, xn, rstd, q, k, v, att, lse, tmp, g, u, hh, logits, losses, dx, dxn, dq, dk, dv,
                    datt, dg, du, dhh, params, grads, m, vv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    free(ids); free(tg);
    return best;
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
                double t0 = hl_now_s(); cpu->attn_fwd(&fa);
                double t1 = hl_now_s(); cpu->attn_bwd(&ba);
                double t2 = hl_now_s();
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

    printf("\n-- training step of a model-shaped op sequence on cpu\n");
    model_shape ms = {8, 8, 512, 256, 4, 1024, 8192};
    double flops, ts = model_step(cpu, ms, &flops, 2);
    double gf_now = hl_blas_sgemm_gflops(1024, 5);
    printf("8 layers d256 H4 dff1024 V8192, B8 T512: %.1f ms/step, %.1f GFLOP/s = %.0f%% of sgemm "
           "(sgemm re-measured now: %.1f GFLOP/s, %.0f%%)\n",
           ts * 1e3, flops / ts * 1e-9, 100 * flops / ts * 1e-9 / gf, gf_now, 100 * flops / ts * 1e-9 / gf_now);
    return 0;
}
