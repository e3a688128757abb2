// test_kernels.c: every op of every backend against cpu_ref on random inputs
// of awkward sizes, every backward against central finite differences, guard
// bytes around every buffer, NaN checks and determinism of the cpu backward.
//
// An op is described once as a kcase (its input tensors with their gradient
// buffers, its outputs with the random weights R of the loss sum(out * R),
// and two callbacks that build the op's argument struct). The generic checks
// below then work for every op.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "tests/test.h"

// ------------------------------------------------------------ guarded buffers
#define GUARD 16
static const float SENTINEL = -7.25e33f;
typedef struct { float *base; size_t n; } gblock;
static gblock g_blocks[512];
static int g_nblocks;

// n floats with GUARD sentinel floats before and after.
static float *gbuf(size_t n) {
    float *b = malloc(sizeof(float) * (n + 2 * GUARD));
    if (!b || g_nblocks == 512) { fprintf(stderr, "test_kernels: out of memory\n"); exit(1); }
    for (size_t i = 0; i < n + 2 * GUARD; i++) b[i] = SENTINEL;
    g_blocks[g_nblocks++] = (gblock){b, n};
    return b + GUARD;
}
static int32_t *gbuf_i32(size_t n) { return (int32_t *)gbuf(n); }

static int guards_ok(void) {
    for (int k = 0; k < g_nblocks; k++)
        for (int i = 0; i < GUARD; i++)
            if (memcmp(&g_blocks[k].base[i], &SENTINEL, 4) ||
                memcmp(&g_blocks[k].base[GUARD + g_blocks[k].n + i], &SENTINEL, 4))
                return 0;
    return 1;
}
static void gfree_all(void) {
    for (int k = 0; k < g_nblocks; k++) free(g_blocks[k].base);
    g_nblocks = 0;
}

// ------------------------------------------------------------ random numbers
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_uniform(float lo, float hi) { return lo + (hi - lo) * (rnd_u32() / 4294967296.0f); }
static void fill(float *p, size_t n, float lo, float hi) { for (size_t i = 0; i < n; i++) p[i] = rnd_uniform(lo, hi); }

// ------------------------------------------------------------ comparisons
// max |a - b| / max |b| (b is the reference); 0 when both are all zero.
static double rel_err(const float *a, const float *b, size_t n) {
    double d = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d)) d = e; // NaN propagates
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return m > 0 ? d / m : d;
}
static int all_finite(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isfinite(p[i])) return 0;
    return 1;
}
static float *copy_of(const float *p, size_t n) { float *c = gbuf(n); memcpy(c, p, n * sizeof(float)); return c; }

// ------------------------------------------------------------ op cases
typedef struct kcase kcase;
typedef struct {
    const char *name;
    float *x;      // (n) the input
    float *g;      // (n) its gradient buffer
    float *gbase;  // (n) starting values of g for parameters (checks +=)
    size_t n;
    int is_param;  // 1: gradient added (+=); 0: written (=)
    float lo, hi;  // range of the random values
} ktensor;
typedef struct {
    const char *name;
    float *y;      // (n)
    float *r;      // (n) weight of y in the loss; NULL: not part of the loss
    size_t n;
} koutput;
struct kcase {
    char name[128];
    ktensor in[8]; int n_in;
    koutput out[4]; int n_out;
    void (*fwd)(const hl_ops *, kcase *);
    void (*bwd)(const hl_ops *, kcase *);
    // shapes and options used by the callbacks
    int B, T, C, N, K, H, Hkv, hd, vd, window, n_meta, V, IC, OC, has_bias;
    float eps, theta, dloss, fd_eps;
    int32_t ignore, *ids;
};

static ktensor *add_in(kcase *c, const char *name, size_t n, float lo, float hi, int is_param) {
    ktensor *t = &c->in[c->n_in++];
    *t = (ktensor){name, gbuf(n), gbuf(n), gbuf(n), n, is_param, lo, hi};
    fill(t->x, n, lo, hi);
    fill(t->gbase, n, -1, 1);
    return t;
}
static koutput *add_out(kcase *c, const char *name, size_t n, int in_loss) {
    koutput *o = &c->out[c->n_out++];
    *o = (koutput){name, gbuf(n), in_loss ? gbuf(n) : NULL, n};
    if (in_loss) fill(o->r, n, -1, 1);
    return o;
}

// Runs the backward with activation grads set to NaN (must be written) and
// parameter grads set to gbase (must be added to).
static void run_bwd(const hl_ops *ops, kcase *c) {
    for (int i = 0; i < c->n_in; i++) {
        ktensor *t = &c->in[i];
        if (t->is_param) memcpy(t->g, t->gbase, t->n * sizeof(float));
        else for (size_t j = 0; j < t->n; j++) t->g[j] = NAN;
    }
    c->bwd(ops, c);
}

static double loss_of(const kcase *c) {
    double L = 0.0;
    for (int o = 0; o < c->n_out; o++)
        if (c->out[o].r)
            for (size_t j = 0; j < c->out[o].n; j++) L += (double)c->out[o].y[j] * c->out[o].r[j];
    return L;
}

// ---- matmul: in = {inp (N, IC), weight (OC, IC), bias (OC)}, out = {out (N, OC)}
static void matmul_fwd(const hl_ops *ops, kcase *c) {
    hl_matmul_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->has_bias ? c->in[2].x : NULL,
                            c->N, c->IC, c->OC};
    ops->matmul_fwd(&a);
}
static void matmul_bwd(const hl_ops *ops, kcase *c) {
    hl_matmul_bwd_args a = {c->in[0].g, c->in[1].g, c->has_bias ? c->in[2].g : NULL, c->out[0].r,
                            c->in[0].x, c->in[1].x, c->N, c->IC, c->OC};
    ops->matmul_bwd(&a);
}
static void make_matmul(kcase *c, int N, int IC, int OC, int has_bias) {
    snprintf(c->name, sizeof c->name, "matmul N%d IC%d OC%d bias%d", N, IC, OC, has_bias);
    c->N = N; c->IC = IC; c->OC = OC; c->has_bias = has_bias;
    add_in(c, "inp", (size_t)N * IC, -1, 1, 0);
    add_in(c, "weight", (size_t)OC * IC, -1, 1, 1);
    if (has_bias) add_in(c, "bias", OC, -1, 1, 1);
    add_out(c, "out", (size_t)N * OC, 1);
    c->fwd = matmul_fwd; c->bwd = matmul_bwd;
}

// ---- embed: in = {table (V, C)}, out = {out (N, C)}
static void embed_fwd(const hl_ops *ops, kcase *c) {
    hl_embed_fwd_args a = {c->out[0].y, c->ids, c->in[0].x, c->N, c->V, c->C};
    ops->embed_fwd(&a);
}
static void embed_bwd(const hl_ops *ops, kcase *c) {
    hl_embed_bwd_args a = {c->in[0].g, c->out[0].r, c->ids, c->N, c->V, c->C};
    ops->embed_bwd(&a);
}
static void make_embed(kcase *c, int N, int V, int C) {
    snprintf(c->name, sizeof c->name, "embed N%d V%d C%d", N, V, C);
    c->N = N; c->V = V; c->C = C;
    c->ids = gbuf_i32(N);
    for (int i = 0; i < N; i++) c->ids[i] = (int32_t)(rnd_u32() % V); // repeats likely
    add_in(c, "table", (size_t)V * C, -1, 1, 1);
    add_out(c, "out", (size_t)N * C, 1);
    c->fwd = embed_fwd; c->bwd = embed_bwd;
}

// ---- rmsnorm: in = {inp (N, C), weight (C)}, out = {out (N, C), rstd (N)}
static void rmsnorm_fwd(const hl_ops *ops, kcase *c) {
    hl_rmsnorm_fwd_args a = {c->out[0].y, c->out[1].y, c->in[0].x, c->in[1].x, c->N, c->C, c->eps};
    ops->rmsnorm_fwd(&a);
}
static void rmsnorm_bwd(const hl_ops *ops, kcase *c) {
    hl_rmsnorm_bwd_args a = {c->in[0].g, c->in[1].g, c->out[0].r, c->in[0].x, c->in[1].x,
                             c->out[1].y, c->N, c->C};
    ops->rmsnorm_bwd(&a);
}
static void make_rmsnorm(kcase *c, int N, int C) {
    snprintf(c->name, sizeof c->name, "rmsnorm N%d C%d", N, C);
    c->N = N; c->C = C; c->eps = 1e-5f;
    add_in(c, "inp", (size_t)N * C, -2, 2, 0);
    add_in(c, "weight", C, 0.5f, 1.5f, 1);
    add_out(c, "out", (size_t)N * C, 1);
    add_out(c, "rstd", N, 0);
    c->fwd = rmsnorm_fwd; c->bwd = rmsnorm_bwd;
}

// ---- rope: in = {inp (B, T, H, hd)}, out = {out}
static void rope_fwd(const hl_ops *ops, kcase *c) {
    hl_rope_args a = {c->out[0].y, c->in[0].x, c->B, c->T, c->H, c->hd, c->theta};
    ops->rope_fwd(&a);
}
static void rope_bwd(const hl_ops *ops, kcase *c) {
    hl_rope_args a = {c->in[0].g, c->out[0].r, c->B, c->T, c->H, c->hd, c->theta};
    ops->rope_bwd(&a);
}
static void make_rope(kcase *c, int B, int T, int H, int hd) {
    snprintf(c->name, sizeof c->name, "rope B%d T%d H%d hd%d", B, T, H, hd);
    c->B = B; c->T = T; c->H = H; c->hd = hd; c->theta = 10000.0f;
    add_in(c, "inp", (size_t)B * T * H * hd, -1, 1, 0);
    add_out(c, "out", (size_t)B * T * H * hd, 1);
    c->fwd = rope_fwd; c->bwd = rope_bwd;
}

// ---- attention: in = {q, k, v}, out = {out (B, T, H, vd), lse (B, H, T)}
static void attn_fwd(const hl_ops *ops, kcase *c) {
    hl_attn_fwd_args a = {c->out[0].y, c->out[1].y, c->in[0].x, c->in[1].x, c->in[2].x,
                          c->B, c->T, c->H, c->Hkv, c->hd, c->vd, c->window, c->n_meta};
    ops->attn_fwd(&a);
}
static void attn_bwd(const hl_ops *ops, kcase *c) {
    hl_attn_bwd_args a = {c->in[0].g, c->in[1].g, c->in[2].g, c->out[0].r, c->out[0].y, c->out[1].y,
                          c->in[0].x, c->in[1].x, c->in[2].x,
                          c->B, c->T, c->H, c->Hkv, c->hd, c->vd, c->window, c->n_meta};
    ops->attn_bwd(&a);
}
static void make_attn(kcase *c, int B, int T, int H, int Hkv, int hd, int vd, int window, int n_meta) {
    snprintf(c->name, sizeof c->name, "attn B%d T%d H%d Hkv%d hd%d vd%d W%d m%d",
             B, T, H, Hkv, hd, vd, window, n_meta);
    c->B = B; c->T = T; c->H = H; c->Hkv = Hkv; c->hd = hd; c->vd = vd;
    c->window = window; c->n_meta = n_meta;
    add_in(c, "q", (size_t)B * T * H * hd, -1.5f, 1.5f, 0);
    add_in(c, "k", (size_t)B * T * Hkv * hd, -1.5f, 1.5f, 0);
    add_in(c, "v", (size_t)B * T * Hkv * vd, -1, 1, 0);
    add_out(c, "out", (size_t)B * T * H * vd, 1);
    add_out(c, "lse", (size_t)B * H * T, 0);
    c->fwd = attn_fwd; c->bwd = attn_bwd;
}

// ---- conv1d: in = {inp (B, T, C), weight (C, K), bias (C)}, out = {out (B, T, C)}
static void conv_fwd(const hl_ops *ops, kcase *c) {
    hl_conv1d_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->has_bias ? c->in[2].x : NULL,
                            c->B, c->T, c->C, c->K};
    ops->conv1d_fwd(&a);
}
static void conv_bwd(const hl_ops *ops, kcase *c) {
    hl_conv1d_bwd_args a = {c->in[0].g, c->in[1].g, c->has_bias ? c->in[2].g : NULL, c->out[0].r,
                            c->in[0].x, c->in[1].x, c->B, c->T, c->C, c->K};
    ops->conv1d_bwd(&a);
}
static void make_conv(kcase *c, int B, int T, int C, int K, int has_bias) {
    snprintf(c->name, sizeof c->name, "conv1d B%d T%d C%d K%d bias%d", B, T, C, K, has_bias);
    c->B = B; c->T = T; c->C = C; c->K = K; c->has_bias = has_bias;
    add_in(c, "inp", (size_t)B * T * C, -1, 1, 0);
    add_in(c, "weight", (size_t)C * K, -1, 1, 1);
    if (has_bias) add_in(c, "bias", C, -1, 1, 1);
    add_out(c, "out", (size_t)B * T * C, 1);
    c->fwd = conv_fwd; c->bwd = conv_bwd;
}

// ---- scan: in = {u, dt (B,T,C), dt_bias (C), A_log (C,N), Bm, Cm (B,T,N), D (C)}, out = {y}
static void scan_fwd(const hl_ops *ops, kcase *c) {
    hl_scan_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->in[2].x, c->in[3].x,
                          c->in[4].x, c->in[5].x, c->in[6].x, c->B, c->T, c->C, c->N};
    ops->scan_fwd(&a);
}
static void scan_bwd(const hl_ops *ops, kcase *c) {
    hl_scan_bwd_args a = {c->in[0].g, c->in[1].g, c->in[4].g, c->in[5].g, c->in[2].g, c->in[3].g,
                          c->in[6].g, c->out[0].r, c->in[0].x, c->in[1].x, c->in[2].x, c->in[3].x,
                          c->in[4].x, c->in[5].x, c->in[6].x, c->B, c->T, c->C, c->N};
    ops->scan_bwd(&a);
}
// dt in [dt_lo, dt_hi] (plus dt_bias in [-2, 0]): softplus's input range.
static void make_scan_dt(kcase *c, int B, int T, int C, int N, float dt_lo, float dt_hi) {
    snprintf(c->name, sizeof c->name, "scan B%d T%d C%d N%d dt[%g,%g]", B, T, C, N, dt_lo, dt_hi);
    c->B = B; c->T = T; c->C = C; c->N = N;
    add_in(c, "u", (size_t)B * T * C, -1, 1, 0);
    add_in(c, "dt", (size_t)B * T * C, dt_lo, dt_hi, 0);
    add_in(c, "dt_bias", C, -2, 0, 1);
    ktensor *al = add_in(c, "A_log", (size_t)C * N, 0, 1, 1);
    for (int ch = 0; ch < C; ch++) // like Mamba's init: A = -(1..N), plus noise
        for (int n = 0; n < N; n++) al->x[ch * N + n] = logf((float)(n + 1)) + rnd_uniform(-0.2f, 0.2f);
    add_in(c, "Bm", (size_t)B * T * N, -1, 1, 0);
    add_in(c, "Cm", (size_t)B * T * N, -1, 1, 0);
    add_in(c, "D", C, -1, 1, 1);
    add_out(c, "y", (size_t)B * T * C, 1);
    c->fwd = scan_fwd; c->bwd = scan_bwd;
}
static void make_scan(kcase *c, int B, int T, int C, int N) { make_scan_dt(c, B, T, C, N, -1.5f, 1.0f); }

// ---- silu / swiglu (n elements)
static void silu_fwd(const hl_ops *ops, kcase *c) {
    hl_silu_fwd_args a = {c->out[0].y, c->in[0].x, c->in[0].n};
    ops->silu_fwd(&a);
}
static void silu_bwd(const hl_ops *ops, kcase *c) {
    hl_silu_bwd_args a = {c->in[0].g, c->out[0].r, c->in[0].x, c->in[0].n};
    ops->silu_bwd(&a);
}
static void make_silu(kcase *c, int n) {
    snprintf(c->name, sizeof c->name, "silu n%d", n);
    add_in(c, "inp", n, -6, 6, 0);
    add_out(c, "out", n, 1);
    c->fwd = silu_fwd; c->bwd = silu_bwd;
}
static void swiglu_fwd(const hl_ops *ops, kcase *c) {
    hl_swiglu_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->in[0].n};
    ops->swiglu_fwd(&a);
}
static void swiglu_bwd(const hl_ops *ops, kcase *c) {
    hl_swiglu_bwd_args a = {c->in[0].g, c->in[1].g, c->out[0].r, c->in[0].x, c->in[1].x, c->in[0].n};
    ops->swiglu_bwd(&a);
}
static void make_swiglu(kcase *c, int n) {
    snprintf(c->name, sizeof c->name, "swiglu n%d", n);
    add_in(c, "gate", n, -6, 6, 0);
    add_in(c, "up", n, -2, 2, 0);
    add_out(c, "out", n, 1);
    c->fwd = swiglu_fwd; c->bwd = swiglu_bwd;
}

// ---- xent: in = {logits (N, V)}, out = {losses (N)} weighted by dloss
static void xent_fwd(const hl_ops *ops, kcase *c) {
    hl_xent_fwd_args a = {c->out[0].y, c->in[0].x, c->ids, c->N, c->V, c->ignore};
    ops->xent_fwd(&a);
}
static void xent_bwd(const hl_ops *ops, kcase *c) {
    hl_xent_bwd_args a = {c->in[0].g, c->in[0].x, c->ids, c->N, c->V, c->ignore, c->dloss};
    ops->xent_bwd(&a);
}
static void make_xent(kcase *c, int N, int V) {
    snprintf(c->name, sizeof c->name, "xent N%d V%d", N, V);
    c->N = N; c->V = V; c->ignore = -100; c->dloss = 1.0f / 7.0f;
    c->ids = gbuf_i32(N);
    for (int i = 0; i < N; i++) c->ids[i] = i % 3 == 1 ? c->ignore : (int32_t)(rnd_u32() % V);
    add_in(c, "logits", (size_t)N * V, -5, 5, 0);
    koutput *o = add_out(c, "losses", N, 1);
    for (int i = 0; i < N; i++) o->r[i] = c->dloss; // the loss is dloss * sum(losses)
    c->fwd = xent_fwd; c->bwd = xent_bwd;
}

// ------------------------------------------------------------ generic checks
static char g_label[320];
static const char *label(const kcase *c, const char *what) {
    snprintf(g_label, sizeof g_label, "%s: %s", c->name, what);
    return g_label;
}

// cpu vs cpu_ref: outputs, gradients, NaN, guards, determinism of backward.
static void check_parity(const hl_ops *ops, const hl_ops *ref, kcase *c) {
    char what[160];
    c->fwd(ref, c);
    float *ref_out[4];
    for (int o = 0; o < c->n_out; o++) ref_out[o] = copy_of(c->out[o].y, c->out[o].n);
    run_bwd(ref, c);
    float *ref_g[8];
    for (int i = 0; i < c->n_in; i++) ref_g[i] = copy_of(c->in[i].g, c->in[i].n);

    c->fwd(ops, c);
    for (int o = 0; o < c->n_out; o++) {
        double e = rel_err(c->out[o].y, ref_out[o], c->out[o].n);
        int fin = all_finite(c->out[o].y, c->out[o].n);
        snprintf(what, sizeof what, "%s fwd %s matches cpu_ref", ops->name, c->out[o].name);
        hl_check(fin && e < 1e-5, label(c, what), "rel err %.3g, finite %d", e, fin);
    }
    run_bwd(ops, c);
    float *g1[8];
    for (int i = 0; i < c->n_in; i++) {
        double e = rel_err(c->in[i].g, ref_g[i], c->in[i].n);
        int fin = all_finite(c->in[i].g, c->in[i].n);
        snprintf(what, sizeof what, "%s bwd d%s matches cpu_ref", ops->name, c->in[i].name);
        hl_check(fin && e < 1e-5, label(c, what), "rel err %.3g, finite %d", e, fin);
        g1[i] = copy_of(c->in[i].g, c->in[i].n);
    }
    run_bwd(ops, c);
    int same = 1;
    for (int i = 0; i < c->n_in; i++) same &= !memcmp(g1[i], c->in[i].g, c->in[i].n * sizeof(float));
    snprintf(what, sizeof what, "%s bwd deterministic", ops->name);
    hl_check(same, label(c, what), "two backward calls differ");
    snprintf(what, sizeof what, "%s guard bytes intact", ops->name);
    hl_check(guards_ok(), label(c, what), "a buffer was overrun");
}

// Relative error of an analytical gradient element against a numerical one.
static double grad_err(double num, double ana, double gmax) {
    double den = fmax(fmax(fabs(num), fabs(ana)), fmax(1e-2 * gmax, 1e-6));
    return fabs(num - ana) / den;
}

#define FD_SAMPLES 6
// Central finite differences of loss = sum(out * R) for a few elements of
// every input (always including the largest gradient). Also checks that a
// gradient 5% off at that element would have been caught. An element whose
// analytical gradient is exactly zero is compared like any other: it passes
// only when |FD| <= tol * max(1e-2 * gmax, 1e-6) (an absolute tolerance). An
// input whose analytical gradient is exactly zero EVERYWHERE fails both
// checks: the comparison would be vacuous (the loss does not depend on the
// input, or backward never wrote its gradient). Returns the worst relative
// error (infinity for such an input); records checks only when record is set.
static double check_fd(const hl_ops *ops, kcase *c, double tol, int record) {
    double worst_all = 0.0;
    char what[160];
    c->fwd(ops, c);
    run_bwd(ops, c);
    for (int i = 0; i < c->n_in; i++) {
        ktensor *t = &c->in[i];
        float *ana = gbuf(t->n); // (n) analytical gradient
        double gmax = 0.0;
        size_t imax = 0;
        for (size_t j = 0; j < t->n; j++) {
            ana[j] = t->is_param ? t->g[j] - t->gbase[j] : t->g[j];
            if (fabs(ana[j]) > gmax) { gmax = fabs(ana[j]); imax = j; }
        }
        double worst = 0.0, worst_num = 0, worst_ana = 0, num_at_max = 0, num_abs_max = 0;
        for (int s = 0; s <= FD_SAMPLES; s++) {
            size_t j = s == FD_SAMPLES ? imax : rnd_u32() % t->n;
            float x0 = t->x[j];
            float xp = x0 + c->fd_eps, xm = x0 - c->fd_eps;
            t->x[j] = xp; c->fwd(ops, c); double Lp = loss_of(c);
            t->x[j] = xm; c->fwd(ops, c); double Lm = loss_of(c);
            t->x[j] = x0;
            double num = (Lp - Lm) / ((double)xp - xm);
            double e = grad_err(num, ana[j], gmax);
            if (!(e <= worst)) { worst = e; worst_num = num; worst_ana = ana[j]; }
            if (j == imax) num_at_max = num;
            num_abs_max = fmax(num_abs_max, fabs(num));
        }
        int all_zero = gmax == 0 && !isnan(worst);
        if (all_zero) worst = INFINITY;
        if (!(worst <= worst_all)) worst_all = worst;
        if (!record) continue;
        snprintf(what, sizeof what, "%s d%s vs finite differences", ops->name, t->name);
        if (all_zero)
            hl_check(0, label(c, what), "analytical gradient exactly zero everywhere (largest |FD| %.3g): nothing to compare", num_abs_max);
        else
            hl_check(worst < tol, label(c, what), "rel err %.3g (num %.6g, ana %.6g)", worst, worst_num, worst_ana);
        double wrong = grad_err(num_at_max, ana[imax] * 1.05, gmax);
        snprintf(what, sizeof what, "%s d%s FD check catches a 5%% error", ops->name, t->name);
        hl_check(wrong > tol, label(c, what), "rel err of wrong gradient only %.3g", wrong);
    }
    c->fwd(ops, c); // leave outputs consistent with the inputs
    return worst_all;
}

// Full treatment of one case on every backend.
static void run_case(kcase *c, const hl_ops *ref, const hl_ops *cpu, int do_fd) {
    if (c->fd_eps == 0) c->fd_eps = 1e-2f;
    check_parity(cpu, ref, c);
    if (do_fd) {
        check_fd(ref, c, 1e-2, 1);
        check_fd(cpu, c, 1e-2, 1);
    }
    gfree_all();
}

// ------------------------------------------------------------ special checks
static void test_attn_window_equals_global(const hl_ops *ops) {
    int B = 2, T = 29, H = 6, Hkv = 2, hd = 12, vd = 20;
    for (int m = 0; m <= 3; m += 3) {
        kcase g = {0}, w = {0};
        make_attn(&g, B, T, H, Hkv, hd, vd, 0, m);
        make_attn(&w, B, T, H, Hkv, hd, vd, T + 5, m);
        memcpy(w.in[0].x, g.in[0].x, g.in[0].n * 4);
        memcpy(w.in[1].x, g.in[1].x, g.in[1].n * 4);
        memcpy(w.in[2].x, g.in[2].x, g.in[2].n * 4);
        memcpy(w.out[0].r, g.out[0].r, g.out[0].n * 4);
        g.fwd(ops, &g); w.fwd(ops, &w);
        double e = rel_err(w.out[0].y, g.out[0].y, g.out[0].n);
        char what[96];
        snprintf(what, sizeof what, "%s attn window >= T equals global (m %d)", ops->name, m);
        hl_check(e < 1e-6, what, "rel err %.3g", e);
        run_bwd(ops, &g); run_bwd(ops, &w);
        double eq = rel_err(w.in[0].g, g.in[0].g, g.in[0].n), ek = rel_err(w.in[1].g, g.in[1].g, g.in[1].n);
        snprintf(what, sizeof what, "%s attn bwd window >= T equals global (m %d)", ops->name, m);
        hl_check(eq < 1e-6 && ek < 1e-6, what, "rel err dq %.3g dk %.3g", eq, ek);
        gfree_all();
    }
}

static void test_xent_ignores_rows(const hl_ops *ops) {
    kcase c = {0};
    make_xent(&c, 11, 23);
    c.fwd(ops, &c); run_bwd(ops, &c);
    int ok = 1, labelled_positive = 1;
    for (int n = 0; n < c.N; n++) {
        if (c.ids[n] == c.ignore) {
            ok &= c.out[0].y[n] == 0.0f;
            for (int v = 0; v < c.V; v++) ok &= c.in[0].g[(size_t)n * c.V + v] == 0.0f;
        } else labelled_positive &= c.out[0].y[n] > 0.0f;
    }
    char what[96];
    snprintf(what, sizeof what, "%s xent ignored rows have zero loss and gradient", ops->name);
    hl_check(ok && labelled_positive, what, "ignored ok %d, labelled losses positive %d", ok, labelled_positive);
    gfree_all();
}

static void test_adamw_axpby(const hl_ops *ops, const hl_ops *ref) {
    size_t n = 1001;
    float *p0 = gbuf(n), *m0 = gbuf(n), *v0 = gbuf(n), *g = gbuf(n);
    fill(p0, n, -1, 1); fill(m0, n, -0.1f, 0.1f); fill(v0, n, 0, 0.01f); fill(g, n, -1, 1);
    float *p[2], *m[2], *v[2];
    const hl_ops *be[2] = {ref, ops};
    for (int k = 0; k < 2; k++) {
        p[k] = copy_of(p0, n); m[k] = copy_of(m0, n); v[k] = copy_of(v0, n);
        hl_adamw_args a = {p[k], m[k], v[k], g, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 3};
        be[k]->adamw(&a);
    }
    double e = fmax(rel_err(p[1], p[0], n), fmax(rel_err(m[1], m[0], n), rel_err(v[1], v[0], n)));
    char what[96];
    snprintf(what, sizeof what, "%s adamw matches cpu_ref", ops->name);
    hl_check(e < 1e-6 && all_finite(p[1], n) && guards_ok(), what, "rel err %.3g", e);
    // one hand-computed element: step 1, m = v = 0, wd 0 -> p -= lr * sign(g) (approx)
    float pp = 0.5f, mm = 0.0f, vv = 0.0f, gg = -2.0f;
    hl_adamw_args a1 = {&pp, &mm, &vv, &gg, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1};
    ops->adamw(&a1);
    snprintf(what, sizeof what, "%s adamw first step moves by lr", ops->name);
    hl_check(fabsf(pp - 0.6f) < 1e-6f, what, "p %.9g, want 0.6", pp);

    float *x = gbuf(n), *y = gbuf(n), *o[2];
    fill(x, n, -1, 1); fill(y, n, -1, 1);
    for (int k = 0; k < 2; k++) {
        o[k] = gbuf(n);
        hl_axpby_args a = {o[k], x, y, 0.7f, -1.3f, n};
        be[k]->axpby(&a);
    }
    float *xa = copy_of(x, n); // in place: out aliases x
    hl_axpby_args ai = {xa, xa, y, 0.7f, -1.3f, n};
    ops->axpby(&ai);
    snprintf(what, sizeof what, "%s axpby matches cpu_ref (also in place)", ops->name);
    hl_check(rel_err(o[1], o[0], n) < 1e-6 && rel_err(xa, o[0], n) < 1e-6 && guards_ok(), what, "mismatch");
    gfree_all();
}

// The finite-difference machinery must be able to fail: a deliberately wrong
// backward (silu gradient without the x*(1-s) term) has to be caught.
static int bad_silu_bwd(const hl_silu_bwd_args *a) {
    for (size_t i = 0; i < a->n; i++) a->dinp[i] = a->dout[i] / (1.0f + expf(-a->inp[i]));
    return HL_OK;
}
static void test_fd_can_fail(const hl_ops *ref) {
    hl_ops bad = *ref;
    bad.silu_bwd = bad_silu_bwd;
    kcase c = {0};
    make_silu(&c, 64);
    c.fd_eps = 1e-2f;
    double err = check_fd(&bad, &c, 1e-2, 0);
    hl_check(err > 1e-2, "finite differences catch a wrong backward", "wrong silu backward passed (err %.3g)", err);
    gfree_all();
}

// An input whose analytical gradient is exactly zero everywhere must fail the
// FD check, whether FD sees the input (backward forgot dbias) or not (forward
// and backward both ignore the bias: zero against zero, nothing checked).
static const hl_ops *g_ref_ops;
static int no_bias_matmul_fwd(const hl_matmul_fwd_args *a) {
    hl_matmul_fwd_args b = *a;
    b.bias = NULL;
    return g_ref_ops->matmul_fwd(&b);
}
static int no_dbias_matmul_bwd(const hl_matmul_bwd_args *a) {
    hl_matmul_bwd_args b = *a;
    b.dbias = NULL;
    return g_ref_ops->matmul_bwd(&b);
}
static void test_fd_zero_gradient(const hl_ops *ref) {
    g_ref_ops = ref;
    for (int ignored = 0; ignored <= 1; ignored++) {
        hl_ops bad = *ref;
        bad.matmul_bwd = no_dbias_matmul_bwd;
        if (ignored) bad.matmul_fwd = no_bias_matmul_fwd;
        kcase c = {0};
        make_matmul(&c, 5, 7, 3, 1);
        c.fd_eps = 1e-2f;
        double err = check_fd(&bad, &c, 1e-2, 0);
        hl_check(err > 1e-2, ignored ? "finite differences fail a gradient that is zero against a zero FD"
                                     : "finite differences fail an exactly-zero gradient against a nonzero FD",
                 "zero dbias passed (err %.3g)", err);
        gfree_all();
    }
}

// matmul backward with frozen weights / no dinp: only the requested grads.
static void test_matmul_optional_grads(const hl_ops *ops, const hl_ops *ref) {
    kcase c = {0};
    make_matmul(&c, 9, 21, 17, 1);
    float *db[2];
    const hl_ops *be[2] = {ref, ops};
    for (int k = 0; k < 2; k++) {
        db[k] = copy_of(c.in[2].gbase, c.in[2].n);
        hl_matmul_bwd_args a = {NULL, NULL, db[k], c.out[0].r, c.in[0].x, c.in[1].x, c.N, c.IC, c.OC};
        be[k]->matmul_bwd(&a);
    }
    char what[96];
    snprintf(what, sizeof what, "%s matmul bwd with dinp = dweight = NULL", ops->name);
    hl_check(rel_err(db[1], db[0], c.in[2].n) < 1e-5 && guards_ok(), what, "dbias mismatch");
    gfree_all();
}

static void test_blas_setup(void) {
    hl_blas_init(0);
    const char *core = hl_blas_core();
    hl_check(core && core[0] && hl_blas_threads() >= 1, "BLAS core and threads reported",
             "core '%s', threads %d", core ? core : "(null)", hl_blas_threads());
    printf("# BLAS core %s, %d threads\n", core, hl_blas_threads());
}

int main(void) {
    const hl_ops *ref = hl_ops_get("cpu_ref"), *cpu = hl_ops_get("cpu");
    if (!hl_check(ref && cpu, "backends cpu_ref and cpu exist", "hl_ops_get failed")) return hl_test_done();
    hl_check(!hl_ops_get("nope"), "unknown backend gives NULL", "got a table");

    kcase c;
#define CASE(make_call, fd) do { memset(&c, 0, sizeof c); make_call; run_case(&c, ref, cpu, fd); } while (0)
    CASE(make_matmul(&c, 7, 45, 19, 1), 1);
    CASE(make_matmul(&c, 5, 13, 9, 0), 1);
    CASE(make_matmul(&c, 67, 130, 77, 1), 0);
    CASE(make_embed(&c, 23, 11, 37), 1);
    CASE(make_rmsnorm(&c, 13, 45), 1);
    CASE(make_rope(&c, 2, 9, 3, 10), 1);
    CASE(make_rope(&c, 1, 300, 2, 18), 0);
    // attention: GQA 6/2, odd T, hd/vd not multiples of 8, windows and meta
    const int attn_cfg[][4] = { // T, window, n_meta, fd
        {37, 0, 0, 1}, {37, 5, 0, 1}, {37, 50, 0, 0}, {37, 0, 3, 0}, {37, 7, 3, 1},
        {37, 1, 2, 1}, {70, 13, 4, 0}, {70, 0, 0, 0}, {130, 40, 5, 0}};
    for (size_t i = 0; i < sizeof attn_cfg / sizeof attn_cfg[0]; i++)
        CASE(make_attn(&c, 2, attn_cfg[i][0], 6, 2, 12, 20, attn_cfg[i][1], attn_cfg[i][2]), attn_cfg[i][3]);
    CASE(make_attn(&c, 1, 33, 4, 4, 16, 16, 9, 0), 1); // MHA
    CASE(make_conv(&c, 2, 19, 13, 4, 1), 1);
    CASE(make_conv(&c, 3, 5, 21, 4, 0), 1);
    CASE(make_scan(&c, 2, 17, 11, 5), 1);
    CASE(make_scan(&c, 1, 61, 19, 16), 0);
    // the fast scan's channel blocks of 16: tails, several blocks, B = 1
    // (channel partitions), N not a multiple of 16, N > 16, wide dt range
    CASE(make_scan(&c, 3, 23, 37, 16), 0);
    CASE(make_scan(&c, 1, 40, 70, 20), 0);
    CASE(make_scan(&c, 2, 9, 16, 32), 1);
    CASE(make_scan_dt(&c, 2, 30, 48, 16, -30.0f, 30.0f), 0);
    CASE(make_silu(&c, 101), 1);
    CASE(make_swiglu(&c, 101), 1);
    CASE(make_xent(&c, 9, 37), 1);
    CASE(make_xent(&c, 5, 1003), 0);
#undef CASE
    test_attn_window_equals_global(ref);
    test_attn_window_equals_global(cpu);
    test_xent_ignores_rows(ref);
    test_xent_ignores_rows(cpu);
    test_adamw_axpby(cpu, ref);
    test_fd_can_fail(ref);
    test_fd_zero_gradient(ref);
    test_matmul_optional_grads(cpu, ref);
    test_blas_setup();
    return hl_test_done();
}
