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
    ktensor in[16]; int n_in;
    koutput out[4]; int n_out;
    int (*fwd)(const hl_ops *, kcase *);   // the op's status
    int (*bwd)(const hl_ops *, kcase *);
    hl_op_id op_fwd, op_bwd;               // the ops they run (support, report, tolerance)
    // shapes and options used by the callbacks
    int B, T, C, N, K, H, Hkv, hd, vd, window, n_meta, V, IC, OC, has_bias;
    float eps, theta, dloss, fd_eps, load_balance, z_loss;
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

// ------------------------------------------------------------ running on a backend
// Every op runs on backend memory: each guarded host block the case uses is
// mirrored whole (guards included) into memory from the backend's alloc
// (h2d), the op runs on the mirrors, and every block comes back (d2h), so
// the host-side checks (values, NaN, guard bytes) see what the op did on
// the backend. For the CPU backends this is memcpy; for a device backend it
// is the real transfer.
typedef struct { float *host_base, *dev_base; size_t bytes; } mirror;

// The mirror of host pointer p (a gbuf) in ms[0..*nm), made on first use.
static float *dev_of(const hl_backend *be, mirror *ms, int *nm, float *p) {
    if (!p) return NULL;
    for (int k = 0; k < *nm; k++)
        if (ms[k].host_base + GUARD == p) return ms[k].dev_base + GUARD;
    for (int k = 0; k < g_nblocks; k++)
        if (g_blocks[k].base + GUARD == p) {
            size_t bytes = (g_blocks[k].n + 2 * GUARD) * sizeof(float);
            float *d = be->alloc(bytes);
            if (!d) { fprintf(stderr, "test_kernels: %s: alloc of %zu bytes failed\n", be->name, bytes); exit(1); }
            be->h2d(d, g_blocks[k].base, bytes);
            ms[*nm] = (mirror){g_blocks[k].base, d, bytes};
            ++*nm;
            return d + GUARD;
        }
    fprintf(stderr, "test_kernels: pointer %p is not a guarded buffer\n", (void *)p);
    exit(1);
}

// Runs the case's forward (bwd 0) or backward (bwd 1) on backend be as
// above; returns the op's status.
static int call_on(const hl_backend *be, kcase *c, int bwd) {
    mirror ms[40];
    int nm = 0;
    kcase d = *c;   // the same case on the mirrors
    for (int i = 0; i < c->n_in; i++) {
        d.in[i].x = dev_of(be, ms, &nm, c->in[i].x);
        d.in[i].g = dev_of(be, ms, &nm, c->in[i].g);
    }
    for (int o = 0; o < c->n_out; o++) {
        d.out[o].y = dev_of(be, ms, &nm, c->out[o].y);
        d.out[o].r = dev_of(be, ms, &nm, c->out[o].r);
    }
    d.ids = (int32_t *)dev_of(be, ms, &nm, (float *)c->ids);
    int rc = bwd ? c->bwd(be->ops, &d) : c->fwd(be->ops, &d);
    be->sync();
    for (int k = 0; k < nm; k++) {
        be->d2h(ms[k].host_base, ms[k].dev_base, ms[k].bytes);
        be->free(ms[k].dev_base, ms[k].bytes);
    }
    return rc;
}

// Runs the backward with activation grads set to NaN (must be written) and
// parameter grads set to gbase (must be added to).
static int run_bwd(const hl_backend *be, kcase *c) {
    for (int i = 0; i < c->n_in; i++) {
        ktensor *t = &c->in[i];
        if (t->is_param) memcpy(t->g, t->gbase, t->n * sizeof(float));
        else for (size_t j = 0; j < t->n; j++) t->g[j] = NAN;
    }
    return call_on(be, c, 1);
}

static double loss_of(const kcase *c) {
    double L = 0.0;
    for (int o = 0; o < c->n_out; o++)
        if (c->out[o].r)
            for (size_t j = 0; j < c->out[o].n; j++) L += (double)c->out[o].y[j] * c->out[o].r[j];
    return L;
}

// ---- matmul: in = {inp (N, IC), weight (OC, IC), bias (OC)}, out = {out (N, OC)}
static int matmul_fwd(const hl_ops *ops, kcase *c) {
    hl_matmul_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->has_bias ? c->in[2].x : NULL,
                            c->N, c->IC, c->OC};
    return HL_OP_CALL(ops, matmul_fwd, &a);
}
static int matmul_bwd(const hl_ops *ops, kcase *c) {
    hl_matmul_bwd_args a = {c->in[0].g, c->in[1].g, c->has_bias ? c->in[2].g : NULL, c->out[0].r,
                            c->in[0].x, c->in[1].x, c->N, c->IC, c->OC};
    return HL_OP_CALL(ops, matmul_bwd, &a);
}
static void make_matmul(kcase *c, int N, int IC, int OC, int has_bias) {
    snprintf(c->name, sizeof c->name, "matmul N%d IC%d OC%d bias%d", N, IC, OC, has_bias);
    c->N = N; c->IC = IC; c->OC = OC; c->has_bias = has_bias;
    add_in(c, "inp", (size_t)N * IC, -1, 1, 0);
    add_in(c, "weight", (size_t)OC * IC, -1, 1, 1);
    if (has_bias) add_in(c, "bias", OC, -1, 1, 1);
    add_out(c, "out", (size_t)N * OC, 1);
    c->fwd = matmul_fwd; c->bwd = matmul_bwd;
    c->op_fwd = HL_OP_matmul_fwd; c->op_bwd = HL_OP_matmul_bwd;
}

// ---- embed: in = {table (V, C)}, out = {out (N, C)}
static int embed_fwd(const hl_ops *ops, kcase *c) {
    hl_embed_fwd_args a = {c->out[0].y, c->ids, c->in[0].x, c->N, c->V, c->C};
    return HL_OP_CALL(ops, embed_fwd, &a);
}
static int embed_bwd(const hl_ops *ops, kcase *c) {
    hl_embed_bwd_args a = {c->in[0].g, c->out[0].r, c->ids, c->N, c->V, c->C};
    return HL_OP_CALL(ops, embed_bwd, &a);
}
static void make_embed(kcase *c, int N, int V, int C) {
    snprintf(c->name, sizeof c->name, "embed N%d V%d C%d", N, V, C);
    c->N = N; c->V = V; c->C = C;
    c->ids = gbuf_i32(N);
    for (int i = 0; i < N; i++) c->ids[i] = (int32_t)(rnd_u32() % V); // repeats likely
    add_in(c, "table", (size_t)V * C, -1, 1, 1);
    add_out(c, "out", (size_t)N * C, 1);
    c->fwd = embed_fwd; c->bwd = embed_bwd;
    c->op_fwd = HL_OP_embed_fwd; c->op_bwd = HL_OP_embed_bwd;
}

// ---- rmsnorm: in = {inp (N, C), weight (C)}, out = {out (N, C), rstd (N)}
static int rmsnorm_fwd(const hl_ops *ops, kcase *c) {
    hl_rmsnorm_fwd_args a = {c->out[0].y, c->out[1].y, c->in[0].x, c->in[1].x, c->N, c->C, c->eps, c->K};
    return HL_OP_CALL(ops, rmsnorm_fwd, &a);
}
static int rmsnorm_bwd(const hl_ops *ops, kcase *c) {
    hl_rmsnorm_bwd_args a = {c->in[0].g, c->in[1].g, c->out[0].r, c->in[0].x, c->in[1].x,
                             c->out[1].y, c->N, c->C, c->K};
    return HL_OP_CALL(ops, rmsnorm_bwd, &a);
}
// groups (kept in K): 0 the whole row, else G groups of C/G channels.
static void make_rmsnorm_g(kcase *c, int N, int C, int groups) {
    snprintf(c->name, sizeof c->name, "rmsnorm N%d C%d groups%d", N, C, groups);
    c->N = N; c->C = C; c->eps = 1e-5f; c->K = groups;
    add_in(c, "inp", (size_t)N * C, -2, 2, 0);
    add_in(c, "weight", C, 0.5f, 1.5f, 1);
    add_out(c, "out", (size_t)N * C, 1);
    add_out(c, "rstd", (size_t)N * (groups > 1 ? groups : 1), 0);
    c->fwd = rmsnorm_fwd; c->bwd = rmsnorm_bwd;
    c->op_fwd = HL_OP_rmsnorm_fwd; c->op_bwd = HL_OP_rmsnorm_bwd;
}

// ---- rope: in = {inp (B, T, H, hd)}, out = {out}
static int rope_fwd(const hl_ops *ops, kcase *c) {
    hl_rope_args a = {c->out[0].y, c->in[0].x, c->B, c->T, c->H, c->hd, c->theta};
    return HL_OP_CALL(ops, rope_fwd, &a);
}
static int rope_bwd(const hl_ops *ops, kcase *c) {
    hl_rope_args a = {c->in[0].g, c->out[0].r, c->B, c->T, c->H, c->hd, c->theta};
    return HL_OP_CALL(ops, rope_bwd, &a);
}
static void make_rope(kcase *c, int B, int T, int H, int hd) {
    snprintf(c->name, sizeof c->name, "rope B%d T%d H%d hd%d", B, T, H, hd);
    c->B = B; c->T = T; c->H = H; c->hd = hd; c->theta = 10000.0f;
    add_in(c, "inp", (size_t)B * T * H * hd, -1, 1, 0);
    add_out(c, "out", (size_t)B * T * H * hd, 1);
    c->fwd = rope_fwd; c->bwd = rope_bwd;
    c->op_fwd = HL_OP_rope_fwd; c->op_bwd = HL_OP_rope_bwd;
}

// ---- attention: in = {q, k, v}, out = {out (B, T, H, vd), lse (B, H, T)}
static int attn_fwd(const hl_ops *ops, kcase *c) {
    hl_attn_fwd_args a = {c->out[0].y, c->out[1].y, c->in[0].x, c->in[1].x, c->in[2].x,
                          c->B, c->T, c->H, c->Hkv, c->hd, c->vd, c->window, c->n_meta};
    return HL_OP_CALL(ops, attn_fwd, &a);
}
static int attn_bwd(const hl_ops *ops, kcase *c) {
    hl_attn_bwd_args a = {c->in[0].g, c->in[1].g, c->in[2].g, c->out[0].r, c->out[0].y, c->out[1].y,
                          c->in[0].x, c->in[1].x, c->in[2].x,
                          c->B, c->T, c->H, c->Hkv, c->hd, c->vd, c->window, c->n_meta};
    return HL_OP_CALL(ops, attn_bwd, &a);
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
    c->op_fwd = HL_OP_attn_fwd; c->op_bwd = HL_OP_attn_bwd;
}

// ---- conv1d: in = {inp (B, T, C), weight (C, K), bias (C)}, out = {out (B, T, C)}
static int conv_fwd(const hl_ops *ops, kcase *c) {
    hl_conv1d_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->has_bias ? c->in[2].x : NULL,
                            c->B, c->T, c->C, c->K};
    return HL_OP_CALL(ops, conv1d_fwd, &a);
}
static int conv_bwd(const hl_ops *ops, kcase *c) {
    hl_conv1d_bwd_args a = {c->in[0].g, c->in[1].g, c->has_bias ? c->in[2].g : NULL, c->out[0].r,
                            c->in[0].x, c->in[1].x, c->B, c->T, c->C, c->K};
    return HL_OP_CALL(ops, conv1d_bwd, &a);
}
static void make_conv(kcase *c, int B, int T, int C, int K, int has_bias) {
    snprintf(c->name, sizeof c->name, "conv1d B%d T%d C%d K%d bias%d", B, T, C, K, has_bias);
    c->B = B; c->T = T; c->C = C; c->K = K; c->has_bias = has_bias;
    add_in(c, "inp", (size_t)B * T * C, -1, 1, 0);
    add_in(c, "weight", (size_t)C * K, -1, 1, 1);
    if (has_bias) add_in(c, "bias", C, -1, 1, 1);
    add_out(c, "out", (size_t)B * T * C, 1);
    c->fwd = conv_fwd; c->bwd = conv_bwd;
    c->op_fwd = HL_OP_conv1d_fwd; c->op_bwd = HL_OP_conv1d_bwd;
}

// ---- scan: in = {u, dt (B,T,C), dt_bias (C), A_log (C,N), Bm, Cm (B,T,N), D (C)}, out = {y}
static int scan_fwd(const hl_ops *ops, kcase *c) {
    hl_scan_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->in[2].x, c->in[3].x,
                          c->in[4].x, c->in[5].x, c->in[6].x, c->B, c->T, c->C, c->N};
    return HL_OP_CALL(ops, scan_fwd, &a);
}
static int scan_bwd(const hl_ops *ops, kcase *c) {
    hl_scan_bwd_args a = {c->in[0].g, c->in[1].g, c->in[4].g, c->in[5].g, c->in[2].g, c->in[3].g,
                          c->in[6].g, c->out[0].r, c->in[0].x, c->in[1].x, c->in[2].x, c->in[3].x,
                          c->in[4].x, c->in[5].x, c->in[6].x, c->B, c->T, c->C, c->N};
    return HL_OP_CALL(ops, scan_bwd, &a);
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
    c->op_fwd = HL_OP_scan_fwd; c->op_bwd = HL_OP_scan_bwd;
}
static void make_scan(kcase *c, int B, int T, int C, int N) { make_scan_dt(c, B, T, C, N, -1.5f, 1.0f); }

// ---- conba (models/conba.c): in = {u, dt (B,T,C), dt_bias (C), A_log (C,N),
// Bm, Cm (B,T,N), D, s (B,T,C), s_bias, r (B,T,C), delay, gain_decay,
// control (C)}, out = {y}
static int conba_fwd(const hl_ops *ops, kcase *c) {
    hl_conba_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->in[2].x, c->in[3].x, c->in[4].x, c->in[5].x,
                           c->in[6].x, c->in[7].x, c->in[8].x, c->in[9].x, c->in[10].x, c->in[11].x, c->in[12].x,
                           c->B, c->T, c->C, c->N};
    return HL_OP_CALL(ops, conba_fwd, &a);
}
static int conba_bwd(const hl_ops *ops, kcase *c) {
    hl_conba_bwd_args a = {.du = c->in[0].g, .ddt = c->in[1].g, .ds = c->in[7].g, .dr = c->in[9].g,
                           .dBm = c->in[4].g, .dCm = c->in[5].g, .ddt_bias = c->in[2].g, .dD = c->in[6].g,
                           .ds_bias = c->in[8].g, .ddelay = c->in[10].g, .dgain_decay = c->in[11].g,
                           .dcontrol = c->in[12].g, .dA_log = c->in[3].g, .dy = c->out[0].r,
                           .u = c->in[0].x, .dt = c->in[1].x, .dt_bias = c->in[2].x, .A_log = c->in[3].x,
                           .Bm = c->in[4].x, .Cm = c->in[5].x, .D = c->in[6].x, .s = c->in[7].x, .s_bias = c->in[8].x,
                           .r = c->in[9].x, .delay = c->in[10].x, .gain_decay = c->in[11].x, .control = c->in[12].x,
                           .B = c->B, .T = c->T, .C = c->C, .N = c->N};
    return HL_OP_CALL(ops, conba_bwd, &a);
}
// control: the feedback gain's range (0: no feedback, the loop's gradient
// paths silent; large: the error feedback dominates).
static void make_conba_g(kcase *c, int B, int T, int C, int N, float control) {
    snprintf(c->name, sizeof c->name, "conba B%d T%d C%d N%d control %g", B, T, C, N, control);
    c->B = B; c->T = T; c->C = C; c->N = N;
    add_in(c, "u", (size_t)B * T * C, -1, 1, 0);
    add_in(c, "dt", (size_t)B * T * C, -1.5f, 1.0f, 0);
    add_in(c, "dt_bias", C, -2, 0, 1);
    ktensor *al = add_in(c, "A_log", (size_t)C * N, 0, 1, 1);
    for (int ch = 0; ch < C; ch++)
        for (int n = 0; n < N; n++) al->x[ch * N + n] = logf((float)(n + 1)) + rnd_uniform(-0.2f, 0.2f);
    add_in(c, "Bm", (size_t)B * T * N, -1, 1, 0);
    add_in(c, "Cm", (size_t)B * T * N, -1, 1, 0);
    add_in(c, "D", C, -1, 1, 1);
    add_in(c, "s", (size_t)B * T * C, -1, 1, 0);
    add_in(c, "s_bias", C, -0.5f, 1.5f, 1);
    add_in(c, "r", (size_t)B * T * C, -1, 1, 0);
    add_in(c, "delay", C, -1.5f, 1.5f, 1);
    add_in(c, "gain_decay", C, -1, 3, 1);
    add_in(c, "control", C, -control, control, 1);
    add_out(c, "y", (size_t)B * T * C, 1);
    c->fwd = conba_fwd; c->bwd = conba_bwd;
    c->op_fwd = HL_OP_conba_fwd; c->op_bwd = HL_OP_conba_bwd;
    c->fd_eps = 2e-2f;   // the per-channel gradients are small: a wider step keeps fp32 noise out
}
static void make_conba(kcase *c, int B, int T, int C, int N) { make_conba_g(c, B, T, C, N, 1.0f); }

// ---- ssd (Mamba-2): in = {x (B,T,H,P), dt (B,T,H), dt_bias, A_log (H), Bm, Cm (B,T,G,N), D (H)}, out = {y}
static int ssd_fwd(const hl_ops *ops, kcase *c) {
    hl_ssd_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->in[2].x, c->in[3].x, c->in[4].x,
                         c->in[5].x, c->in[6].x, c->B, c->T, c->H, c->hd, c->Hkv, c->N, c->K};
    return HL_OP_CALL(ops, ssd_fwd, &a);
}
static int ssd_bwd(const hl_ops *ops, kcase *c) {
    hl_ssd_bwd_args a = {c->in[0].g, c->in[1].g, c->in[4].g, c->in[5].g, c->in[2].g, c->in[3].g, c->in[6].g,
                         c->out[0].r, c->in[0].x, c->in[1].x, c->in[2].x, c->in[3].x, c->in[4].x, c->in[5].x,
                         c->in[6].x, c->B, c->T, c->H, c->hd, c->Hkv, c->N, c->K};
    return HL_OP_CALL(ops, ssd_bwd, &a);
}
// H heads of P channels, G groups (kept in Hkv), chunk length in K.
static void make_ssd(kcase *c, int B, int T, int H, int P, int G, int N, int chunk) {
    snprintf(c->name, sizeof c->name, "ssd B%d T%d H%d P%d G%d N%d chunk%d", B, T, H, P, G, N, chunk);
    c->B = B; c->T = T; c->H = H; c->hd = P; c->Hkv = G; c->N = N; c->K = chunk;
    add_in(c, "x", (size_t)B * T * H * P, -1, 1, 0);
    add_in(c, "dt", (size_t)B * T * H, -1.5f, 1.0f, 0);
    add_in(c, "dt_bias", H, -2, 0, 1);
    ktensor *al = add_in(c, "A_log", H, 0, 1, 1);
    for (int h = 0; h < H; h++) al->x[h] = logf((float)(h % 16 + 1)) + rnd_uniform(-0.2f, 0.2f); // A = -(1..16) as mamba2
    add_in(c, "Bm", (size_t)B * T * G * N, -1, 1, 0);
    add_in(c, "Cm", (size_t)B * T * G * N, -1, 1, 0);
    add_in(c, "D", H, -1, 1, 1);
    add_out(c, "y", (size_t)B * T * H * P, 1);
    c->fwd = ssd_fwd; c->bwd = ssd_bwd;
    c->op_fwd = HL_OP_ssd_fwd; c->op_bwd = HL_OP_ssd_bwd;
}

// ---- silu / swiglu (n elements)
static int silu_fwd(const hl_ops *ops, kcase *c) {
    hl_silu_fwd_args a = {c->out[0].y, c->in[0].x, c->in[0].n};
    return HL_OP_CALL(ops, silu_fwd, &a);
}
static int silu_bwd(const hl_ops *ops, kcase *c) {
    hl_silu_bwd_args a = {c->in[0].g, c->out[0].r, c->in[0].x, c->in[0].n};
    return HL_OP_CALL(ops, silu_bwd, &a);
}
static void make_silu(kcase *c, int n) {
    snprintf(c->name, sizeof c->name, "silu n%d", n);
    add_in(c, "inp", n, -6, 6, 0);
    add_out(c, "out", n, 1);
    c->fwd = silu_fwd; c->bwd = silu_bwd;
    c->op_fwd = HL_OP_silu_fwd; c->op_bwd = HL_OP_silu_bwd;
}
static int swiglu_fwd(const hl_ops *ops, kcase *c) {
    hl_swiglu_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->in[0].n};
    return HL_OP_CALL(ops, swiglu_fwd, &a);
}
static int swiglu_bwd(const hl_ops *ops, kcase *c) {
    hl_swiglu_bwd_args a = {c->in[0].g, c->in[1].g, c->out[0].r, c->in[0].x, c->in[1].x, c->in[0].n};
    return HL_OP_CALL(ops, swiglu_bwd, &a);
}
static void make_swiglu(kcase *c, int n) {
    snprintf(c->name, sizeof c->name, "swiglu n%d", n);
    add_in(c, "gate", n, -6, 6, 0);
    add_in(c, "up", n, -2, 2, 0);
    add_out(c, "out", n, 1);
    c->fwd = swiglu_fwd; c->bwd = swiglu_bwd;
    c->op_fwd = HL_OP_swiglu_fwd; c->op_bwd = HL_OP_swiglu_bwd;
}

// ---- xent: in = {logits (N, V)}, out = {losses (N)} weighted by dloss
static int xent_fwd(const hl_ops *ops, kcase *c) {
    hl_xent_fwd_args a = {c->out[0].y, c->in[0].x, c->ids, c->N, c->V, c->ignore};
    return HL_OP_CALL(ops, xent_fwd, &a);
}
static int xent_bwd(const hl_ops *ops, kcase *c) {
    hl_xent_bwd_args a = {c->in[0].g, c->in[0].x, c->ids, c->N, c->V, c->ignore, c->dloss};
    return HL_OP_CALL(ops, xent_bwd, &a);
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
    c->op_fwd = HL_OP_xent_fwd; c->op_bwd = HL_OP_xent_bwd;
}

// A random permutation of 0 .. m-1 into rows (grouped rows of assignments, shuffled levels).
static void random_rows(int32_t *rows, int m) {
    for (int i = 0; i < m; i++) rows[i] = i;
    for (int i = m - 1; i > 0; i--) { int j = (int)(rnd_u32() % (uint32_t)(i + 1)), t = rows[i]; rows[i] = rows[j]; rows[j] = t; }
}
// ---- mixture of experts (kernels.h): n tokens in N, E experts in V, top k in
// K, router in H, width in C; sel / rows (int32) live in ids.
// moe_route: in = {logits (n, E)}, out = {w (n, k) in the loss, stats weighted
// by the coefficients (r[0] = load_balance, r[1] = z_loss, the rest 0), probs,
// lse (both saved for backward, not in the loss)}; sel in ids.
static int moe_route_fwd(const hl_ops *ops, kcase *c) {
    hl_moe_route_fwd_args a = {c->out[2].y, c->ids, c->out[0].y, c->out[3].y, c->out[1].y, c->in[0].x,
                               c->N, c->V, c->K, c->H};
    return HL_OP_CALL(ops, moe_route_fwd, &a);
}
static int moe_route_bwd(const hl_ops *ops, kcase *c) {
    hl_moe_route_bwd_args a = {c->in[0].g, c->out[0].r, c->out[2].y, c->ids, c->out[3].y, c->N, c->V, c->K, c->H,
                               c->load_balance, c->z_loss};
    return HL_OP_CALL(ops, moe_route_bwd, &a);
}
static void make_moe_route(kcase *c, int n, int E, int k, int router, float lb, float z) {
    snprintf(c->name, sizeof c->name, "moe_route n%d E%d k%d router%d lb%g z%g", n, E, k, router, lb, z);
    c->N = n; c->V = E; c->K = k; c->H = router; c->load_balance = lb; c->z_loss = z;
    c->ids = gbuf_i32((size_t)n * k);
    ktensor *lg = add_in(c, "logits", (size_t)n * E, -3, 3, 0);
    for (int t = 0; t < n; t++) {   // each row a shuffle of levels 0.6 apart (+-0.1): a step of fd_eps changes no top k
        int32_t perm[64];
        random_rows(perm, E);
        for (int e = 0; e < E; e++) lg->x[(size_t)t * E + e] = -2.0f + 0.6f * (float)perm[e] + rnd_uniform(-0.1f, 0.1f);
    }
    add_out(c, "w", (size_t)n * k, 1);
    koutput *st = add_out(c, "stats", HL_MOE_STATS(E), 1);
    for (int i = 0; i < HL_MOE_STATS(E); i++) st->r[i] = i == 0 ? lb : i == 1 ? z : 0.0f;
    add_out(c, "probs", (size_t)n * E, 0);
    add_out(c, "lse", n, 0);
    c->fwd = moe_route_fwd; c->bwd = moe_route_bwd;
    c->op_fwd = HL_OP_moe_route_fwd; c->op_bwd = HL_OP_moe_route_bwd;
}

// moe_dispatch: in = {inp (n, C)}, out = {xs (n*k, C)}.
static int moe_dispatch_fwd(const hl_ops *ops, kcase *c) {
    hl_moe_dispatch_fwd_args a = {c->out[0].y, c->in[0].x, c->ids, c->N, c->K, c->C};
    return HL_OP_CALL(ops, moe_dispatch_fwd, &a);
}
static int moe_dispatch_bwd(const hl_ops *ops, kcase *c) {
    hl_moe_dispatch_bwd_args a = {c->in[0].g, c->out[0].r, c->ids, c->N, c->K, c->C};
    return HL_OP_CALL(ops, moe_dispatch_bwd, &a);
}
static void make_moe_dispatch(kcase *c, int n, int k, int C) {
    snprintf(c->name, sizeof c->name, "moe_dispatch n%d k%d C%d", n, k, C);
    c->N = n; c->K = k; c->C = C;
    c->ids = gbuf_i32((size_t)n * k);
    random_rows(c->ids, n * k);
    add_in(c, "inp", (size_t)n * C, -1, 1, 0);
    add_out(c, "xs", (size_t)n * k * C, 1);
    c->fwd = moe_dispatch_fwd; c->bwd = moe_dispatch_bwd;
    c->op_fwd = HL_OP_moe_dispatch_fwd; c->op_bwd = HL_OP_moe_dispatch_bwd;
}
// moe_combine: in = {y (n*k, C), w (n, k)}, out = {out (n, C)}.
static int moe_combine_fwd(const hl_ops *ops, kcase *c) {
    hl_moe_combine_fwd_args a = {c->out[0].y, c->in[0].x, c->in[1].x, c->ids, c->N, c->K, c->C};
    return HL_OP_CALL(ops, moe_combine_fwd, &a);
}
static int moe_combine_bwd(const hl_ops *ops, kcase *c) {
    hl_moe_combine_bwd_args a = {c->in[0].g, c->in[1].g, c->out[0].r, c->in[0].x, c->in[1].x, c->ids, c->N, c->K, c->C};
    return HL_OP_CALL(ops, moe_combine_bwd, &a);
}
static void make_moe_combine(kcase *c, int n, int k, int C) {
    snprintf(c->name, sizeof c->name, "moe_combine n%d k%d C%d", n, k, C);
    c->N = n; c->K = k; c->C = C;
    c->ids = gbuf_i32((size_t)n * k);
    random_rows(c->ids, n * k);
    add_in(c, "y", (size_t)n * k * C, -1, 1, 0);
    add_in(c, "w", (size_t)n * k, 0, 1, 0);
    add_out(c, "out", (size_t)n * C, 1);
    c->fwd = moe_combine_fwd; c->bwd = moe_combine_bwd;
    c->op_fwd = HL_OP_moe_combine_fwd; c->op_bwd = HL_OP_moe_combine_bwd;
}

// ------------------------------------------------------------ per-op report
// Every (backend, op) ends "ok" (every check of it passed), "unsupported"
// (the op is NULL or the backend's support query says no: not a failure)
// or "FAILED"; a supported op that no check ran is a failure of the walk.
enum { R_UNTESTED, R_OK, R_UNSUPPORTED, R_FAILED };
#define MAX_BACKENDS 8
static int g_report[MAX_BACKENDS][HL_OP_COUNT];

// Registry index of be, or -1 for the ad-hoc backends the meta-tests build.
static int be_index(const hl_backend *be) {
    for (int i = 0; i < hl_backend_count() && i < MAX_BACKENDS; i++)
        if (hl_backend_at(i) == be) return i;
    return -1;
}
// Records the outcome ok of a check of op on be; returns ok.
static int rec(const hl_backend *be, hl_op_id op, int ok) {
    int b = be_index(be);
    if (b >= 0 && g_report[b][op] != R_FAILED) g_report[b][op] = ok ? R_OK : R_FAILED;
    return ok;
}
static void rec_unsupported(const hl_backend *be, hl_op_id op) {
    int b = be_index(be);
    if (b >= 0 && g_report[b][op] == R_UNTESTED) g_report[b][op] = R_UNSUPPORTED;
}

// ------------------------------------------------------------ tolerances
// Largest relative error (max |x - ref| / max |ref|) of an op's outputs
// (forward ops) or gradients (backward ops) against cpu_ref, by op. cpu_ref
// itself must match exactly (its second run through the mirrors is the same
// code on the same inputs). Why each value:
//   matmul: OpenBLAS sgemm sums in float in its own blocking order vs
//     cpu_ref's double sums: ~sqrt(IC) * 2^-24 * |terms| / |result| for the
//     IC <= 130 here, measured below 1e-6; 1e-5 leaves cancellation room.
//   embed: a copy (forward) / scatter-add of the same floats in the same
//     order (backward): exact in practice; 1e-6 allows an order change.
//   rmsnorm, rope: float vs double for a C-long sum of squares (rmsnorm) or
//     sin/cos of float vs double angles up to T = 300 rad (rope): 1e-5.
//   attention: online softmax with fast exp (~1 ulp) and float
//     accumulation over up to 130 keys vs exact double: 1e-5.
//   conv1d: K = 4 products in float: 1e-6.
//   scan: float state over T steps with fast exp; the backward recomputes
//     states and sums over T in float: 1e-5.
//   ssd: the chunked SSD (float sums over a chunk and over N) against the
//     double recurrence; the backward recomputes float states from chunk
//     checkpoints: 1e-5.
//   silu, swiglu: fast exp sigmoid (~2 ulp): 1e-6.
//   xent: log-sum-exp in float (fast exp) over V up to 1003 vs double: 1e-5.
//   adamw, axpby: a few float operations per element: 1e-6.
//   decoding (inference only: no backward, no finite differences):
//     cache_fill copies (exact: 0); attn_decode as attention (fast exp,
//     float sums over up to 50 keys): 1e-5; conv1d_step K products: 1e-6;
//     scan_state, scan_step as scan: 1e-5; ssd_state, ssd_step as ssd: 1e-5.
//   conba: float state and feedback loop over T steps (fast exp, tanhf)
//     vs double; the backward recomputes the float trajectory and sums over
//     T in float: 1e-5; conba_state, conba_step as conba: 1e-5.
typedef struct { double tol; } op_tol;
static const op_tol g_tol[HL_OP_COUNT] = {
    [HL_OP_matmul_fwd] = {1e-5},  [HL_OP_matmul_bwd] = {1e-5},
    [HL_OP_embed_fwd] = {1e-6},   [HL_OP_embed_bwd] = {1e-6},
    [HL_OP_rmsnorm_fwd] = {1e-5}, [HL_OP_rmsnorm_bwd] = {1e-5},
    [HL_OP_rope_fwd] = {1e-5},    [HL_OP_rope_bwd] = {1e-5},
    [HL_OP_attn_fwd] = {1e-5},    [HL_OP_attn_bwd] = {1e-5},
    [HL_OP_conv1d_fwd] = {1e-6},  [HL_OP_conv1d_bwd] = {1e-6},
    [HL_OP_scan_fwd] = {1e-5},    [HL_OP_scan_bwd] = {1e-5},
    [HL_OP_silu_fwd] = {1e-6},    [HL_OP_silu_bwd] = {1e-6},
    [HL_OP_swiglu_fwd] = {1e-6},  [HL_OP_swiglu_bwd] = {1e-6},
    [HL_OP_xent_fwd] = {1e-5},    [HL_OP_xent_bwd] = {1e-5},
    [HL_OP_adamw] = {1e-6},       [HL_OP_axpby] = {1e-6},
    // inference-only ops (no backward, so no FD check; see test_attn_decode):
    [HL_OP_cache_fill] = {0.0},   [HL_OP_attn_decode] = {1e-5},
    [HL_OP_conv1d_step] = {1e-6}, [HL_OP_scan_state] = {1e-5},   [HL_OP_scan_step] = {1e-5},
    [HL_OP_ssd_fwd] = {1e-5},     [HL_OP_ssd_bwd] = {1e-5},
    [HL_OP_ssd_state] = {1e-5},   [HL_OP_ssd_step] = {1e-5},
    // mixture of experts: cpu runs cpu_ref's routing (exact: 0 measured, 1e-6
    // leaves a backend its own order); group and dispatch move integers and
    // rows (exact); combine and dispatch_bwd sum k rows in the same order,
    // combine_bwd's dot products run in another order: 1e-6.
    [HL_OP_moe_route_fwd] = {1e-6}, [HL_OP_moe_route_bwd] = {1e-6}, [HL_OP_moe_group] = {0.0},
    [HL_OP_moe_dispatch_fwd] = {0.0}, [HL_OP_moe_dispatch_bwd] = {1e-6},
    [HL_OP_moe_combine_fwd] = {1e-6}, [HL_OP_moe_combine_bwd] = {1e-6},
    [HL_OP_conba_fwd] = {1e-5},   [HL_OP_conba_bwd] = {1e-5},
    [HL_OP_conba_state] = {1e-5}, [HL_OP_conba_step] = {1e-5},
};
static double tol_of(const hl_backend *be, hl_op_id op) { return !strcmp(be->name, "cpu_ref") ? 0.0 : g_tol[op].tol; }
// The worst error seen per op (printed with the report, for tuning the table).
static double g_worst[MAX_BACKENDS][HL_OP_COUNT];
static void note_err(const hl_backend *be, hl_op_id op, double e) {
    int b = be_index(be);
    if (b >= 0 && !(e <= g_worst[b][op])) g_worst[b][op] = e;
}

// ------------------------------------------------------------ generic checks
static char g_label[320];
static const char *label(const kcase *c, const char *what) {
    snprintf(g_label, sizeof g_label, "%s: %s", c->name, what);
    return g_label;
}

// be vs cpu_ref: status, outputs, gradients, NaN, guards, determinism of backward.
static void check_parity(const hl_backend *be, const hl_backend *ref, kcase *c) {
    char what[160];
    if (!hl_backend_supports(be, c->op_fwd)) {
        rec_unsupported(be, c->op_fwd);
        rec_unsupported(be, c->op_bwd);
        printf("# %s: %s unsupported on %s\n", c->name, hl_op_names[c->op_fwd], be->name);
        return;
    }
    call_on(ref, c, 0);
    float *ref_out[4];
    for (int o = 0; o < c->n_out; o++) ref_out[o] = copy_of(c->out[o].y, c->out[o].n);
    run_bwd(ref, c);
    float *ref_g[16];
    for (int i = 0; i < c->n_in; i++) ref_g[i] = copy_of(c->in[i].g, c->in[i].n);

    int rc = call_on(be, c, 0);
    snprintf(what, sizeof what, "%s fwd status ok", be->name);
    rec(be, c->op_fwd, hl_check(rc == HL_OK, label(c, what), "status %d: %s", rc, hl_op_error()));
    for (int o = 0; o < c->n_out; o++) {
        double e = rel_err(c->out[o].y, ref_out[o], c->out[o].n), tol = tol_of(be, c->op_fwd);
        int fin = all_finite(c->out[o].y, c->out[o].n);
        note_err(be, c->op_fwd, e);
        snprintf(what, sizeof what, "%s fwd %s matches cpu_ref", be->name, c->out[o].name);
        rec(be, c->op_fwd, hl_check(fin && e <= tol, label(c, what), "rel err %.3g > %.3g, finite %d", e, tol, fin));
    }
    if (!hl_backend_supports(be, c->op_bwd)) {
        rec_unsupported(be, c->op_bwd);
        printf("# %s: %s unsupported on %s\n", c->name, hl_op_names[c->op_bwd], be->name);
    } else {
        rc = run_bwd(be, c);
        snprintf(what, sizeof what, "%s bwd status ok", be->name);
        rec(be, c->op_bwd, hl_check(rc == HL_OK, label(c, what), "status %d: %s", rc, hl_op_error()));
        float *g1[16];
        for (int i = 0; i < c->n_in; i++) {
            double e = rel_err(c->in[i].g, ref_g[i], c->in[i].n), tol = tol_of(be, c->op_bwd);
            int fin = all_finite(c->in[i].g, c->in[i].n);
            note_err(be, c->op_bwd, e);
            snprintf(what, sizeof what, "%s bwd d%s matches cpu_ref", be->name, c->in[i].name);
            rec(be, c->op_bwd, hl_check(fin && e <= tol, label(c, what), "rel err %.3g > %.3g, finite %d", e, tol, fin));
            g1[i] = copy_of(c->in[i].g, c->in[i].n);
        }
        run_bwd(be, c);
        int same = 1;
        for (int i = 0; i < c->n_in; i++) same &= !memcmp(g1[i], c->in[i].g, c->in[i].n * sizeof(float));
        snprintf(what, sizeof what, "%s bwd deterministic", be->name);
        rec(be, c->op_bwd, hl_check(same, label(c, what), "two backward calls differ"));
    }
    snprintf(what, sizeof what, "%s guard bytes intact", be->name);
    rec(be, c->op_fwd, hl_check(guards_ok(), label(c, what), "a buffer was overrun"));
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
static double check_fd(const hl_backend *be, kcase *c, double tol, int record) {
    double worst_all = 0.0;
    char what[160];
    if (!hl_backend_supports(be, c->op_fwd) || !hl_backend_supports(be, c->op_bwd)) return 0.0;
    call_on(be, c, 0);
    run_bwd(be, c);
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
            t->x[j] = xp; call_on(be, c, 0); double Lp = loss_of(c);
            t->x[j] = xm; call_on(be, c, 0); double Lm = loss_of(c);
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
        snprintf(what, sizeof what, "%s d%s vs finite differences", be->name, t->name);
        if (all_zero)
            rec(be, c->op_bwd, hl_check(0, label(c, what), "analytical gradient exactly zero everywhere (largest |FD| %.3g): nothing to compare", num_abs_max));
        else
            rec(be, c->op_bwd, hl_check(worst < tol, label(c, what), "rel err %.3g (num %.6g, ana %.6g)", worst, worst_num, worst_ana));
        double wrong = grad_err(num_at_max, ana[imax] * 1.05, gmax);
        snprintf(what, sizeof what, "%s d%s FD check catches a 5%% error", be->name, t->name);
        hl_check(wrong > tol, label(c, what), "rel err of wrong gradient only %.3g", wrong);
    }
    call_on(be, c, 0); // leave outputs consistent with the inputs
    return worst_all;
}

// Full treatment of one case on every registered backend.
static void run_case(kcase *c, int do_fd) {
    const hl_backend *ref = hl_backend_get("cpu_ref");
    if (c->fd_eps == 0) c->fd_eps = 1e-2f;
    for (int b = 0; b < hl_backend_count(); b++) {
        check_parity(hl_backend_at(b), ref, c);
        if (do_fd) check_fd(hl_backend_at(b), c, 1e-2, 1);
    }
    gfree_all();
}

// ------------------------------------------------------------ backend buffers
// n floats of backend memory holding a copy of host h / copied back and freed.
static float *dev_copy(const hl_backend *be, const float *h, size_t n) {
    float *d = be->alloc(n * sizeof(float));
    if (!d) { fprintf(stderr, "test_kernels: %s: alloc failed\n", be->name); exit(1); }
    be->h2d(d, h, n * sizeof(float));
    return d;
}
static void dev_back(const hl_backend *be, float *h, float *d, size_t n) {
    be->sync();
    be->d2h(h, d, n * sizeof(float));
    be->free(d, n * sizeof(float));
}

// ------------------------------------------------------------ special checks
static void test_attn_window_equals_global(const hl_backend *be) {
    if (!hl_backend_supports(be, HL_OP_attn_fwd) || !hl_backend_supports(be, HL_OP_attn_bwd)) return;
    int B = 2, T = 29, H = 6, Hkv = 2, hd = 12, vd = 20;
    for (int m = 0; m <= 3; m += 3) {
        kcase g = {0}, w = {0};
        make_attn(&g, B, T, H, Hkv, hd, vd, 0, m);
        make_attn(&w, B, T, H, Hkv, hd, vd, T + 5, m);
        memcpy(w.in[0].x, g.in[0].x, g.in[0].n * 4);
        memcpy(w.in[1].x, g.in[1].x, g.in[1].n * 4);
        memcpy(w.in[2].x, g.in[2].x, g.in[2].n * 4);
        memcpy(w.out[0].r, g.out[0].r, g.out[0].n * 4);
        call_on(be, &g, 0); call_on(be, &w, 0);
        double e = rel_err(w.out[0].y, g.out[0].y, g.out[0].n);
        char what[96];
        snprintf(what, sizeof what, "%s attn window >= T equals global (m %d)", be->name, m);
        rec(be, HL_OP_attn_fwd, hl_check(e < 1e-6, what, "rel err %.3g", e));
        run_bwd(be, &g); run_bwd(be, &w);
        double eq = rel_err(w.in[0].g, g.in[0].g, g.in[0].n), ek = rel_err(w.in[1].g, g.in[1].g, g.in[1].n);
        snprintf(what, sizeof what, "%s attn bwd window >= T equals global (m %d)", be->name, m);
        rec(be, HL_OP_attn_bwd, hl_check(eq < 1e-6 && ek < 1e-6, what, "rel err dq %.3g dk %.3g", eq, ek));
        gfree_all();
    }
}

static void test_xent_ignores_rows(const hl_backend *be) {
    if (!hl_backend_supports(be, HL_OP_xent_fwd) || !hl_backend_supports(be, HL_OP_xent_bwd)) return;
    kcase c = {0};
    make_xent(&c, 11, 23);
    call_on(be, &c, 0); run_bwd(be, &c);
    int ok = 1, labelled_positive = 1;
    for (int n = 0; n < c.N; n++) {
        if (c.ids[n] == c.ignore) {
            ok &= c.out[0].y[n] == 0.0f;
            for (int v = 0; v < c.V; v++) ok &= c.in[0].g[(size_t)n * c.V + v] == 0.0f;
        } else labelled_positive &= c.out[0].y[n] > 0.0f;
    }
    char what[96];
    snprintf(what, sizeof what, "%s xent ignored rows have zero loss and gradient", be->name);
    rec(be, HL_OP_xent_bwd, hl_check(ok && labelled_positive, what, "ignored ok %d, labelled losses positive %d", ok, labelled_positive));
    gfree_all();
}

static void test_adamw(const hl_backend *be, const hl_backend *ref) {
    if (!hl_backend_supports(be, HL_OP_adamw)) { rec_unsupported(be, HL_OP_adamw); return; }
    size_t n = 1001;
    float *p0 = gbuf(n), *m0 = gbuf(n), *v0 = gbuf(n), *g = gbuf(n);
    fill(p0, n, -1, 1); fill(m0, n, -0.1f, 0.1f); fill(v0, n, 0, 0.01f); fill(g, n, -1, 1);
    float *p[2], *m[2], *v[2];
    const hl_backend *bes[2] = {ref, be};
    int rc[2];
    for (int k = 0; k < 2; k++) {
        p[k] = copy_of(p0, n); m[k] = copy_of(m0, n); v[k] = copy_of(v0, n);
        float *dp = dev_copy(bes[k], p[k], n), *dm = dev_copy(bes[k], m[k], n), *dv = dev_copy(bes[k], v[k], n),
              *dg = dev_copy(bes[k], g, n);
        hl_adamw_args a = {dp, dm, dv, dg, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 3};
        rc[k] = HL_OP_CALL(bes[k]->ops, adamw, &a);
        dev_back(bes[k], p[k], dp, n); dev_back(bes[k], m[k], dm, n); dev_back(bes[k], v[k], dv, n);
        bes[k]->free(dg, n * sizeof(float));
    }
    double e = fmax(rel_err(p[1], p[0], n), fmax(rel_err(m[1], m[0], n), rel_err(v[1], v[0], n)));
    note_err(be, HL_OP_adamw, e);
    char what[96];
    snprintf(what, sizeof what, "%s adamw matches cpu_ref", be->name);
    rec(be, HL_OP_adamw, hl_check(rc[0] == HL_OK && rc[1] == HL_OK && e <= tol_of(be, HL_OP_adamw) &&
                                  all_finite(p[1], n) && guards_ok(), what, "rel err %.3g, status %d", e, rc[1]));
    // one hand-computed element: step 1, m = v = 0, wd 0 -> p -= lr * sign(g) (approx)
    float h[4] = {0.5f, 0.0f, 0.0f, -2.0f};   // p, m, v, g
    float *d = dev_copy(be, h, 4);
    hl_adamw_args a1 = {d, d + 1, d + 2, d + 3, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1};
    int rc1 = HL_OP_CALL(be->ops, adamw, &a1);
    dev_back(be, h, d, 4);
    snprintf(what, sizeof what, "%s adamw first step moves by lr", be->name);
    rec(be, HL_OP_adamw, hl_check(rc1 == HL_OK && fabsf(h[0] - 0.6f) < 1e-6f, what, "p %.9g, want 0.6", h[0]));
    gfree_all();
}

static void test_axpby(const hl_backend *be, const hl_backend *ref) {
    if (!hl_backend_supports(be, HL_OP_axpby)) { rec_unsupported(be, HL_OP_axpby); return; }
    size_t n = 1001;
    float *x = gbuf(n), *y = gbuf(n), *o[2];
    fill(x, n, -1, 1); fill(y, n, -1, 1);
    const hl_backend *bes[2] = {ref, be};
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        o[k] = gbuf(n);
        float *dx = dev_copy(bes[k], x, n), *dy = dev_copy(bes[k], y, n), *dout = dev_copy(bes[k], o[k], n);
        hl_axpby_args a = {dout, dx, dy, 0.7f, -1.3f, n};
        ok &= HL_OP_CALL(bes[k]->ops, axpby, &a) == HL_OK;
        dev_back(bes[k], o[k], dout, n);
        bes[k]->free(dx, n * sizeof(float)); bes[k]->free(dy, n * sizeof(float));
    }
    float *xa = copy_of(x, n); // in place: out aliases x
    float *dxa = dev_copy(be, xa, n), *dy = dev_copy(be, y, n);
    hl_axpby_args ai = {dxa, dxa, dy, 0.7f, -1.3f, n};
    ok &= HL_OP_CALL(be->ops, axpby, &ai) == HL_OK;
    dev_back(be, xa, dxa, n);
    be->free(dy, n * sizeof(float));
    double e = fmax(rel_err(o[1], o[0], n), rel_err(xa, o[0], n));
    note_err(be, HL_OP_axpby, e);
    char what[96];
    snprintf(what, sizeof what, "%s axpby matches cpu_ref (also in place)", be->name);
    rec(be, HL_OP_axpby, hl_check(ok && e <= tol_of(be, HL_OP_axpby) && guards_ok(), what, "rel err %.3g, status ok %d", e, ok));
    gfree_all();
}

// ------------------------------------------------------------ decoding ops
// The inference-only ops have no backward (nothing to check by finite
// differences): each runs on every backend and is checked against the
// training op it continues, computed by cpu_ref (the oracle): attn_decode
// over a cache_fill'ed ring against attn_fwd at the row's position, a run of
// conv1d_step against conv1d_fwd, scan_state + scan_step against scan_fwd;
// and against itself on cpu_ref (the table's tolerance).

// Backend copies of host arrays for one op call; dcall_end copies every one
// back (outputs, and inputs unchanged) and frees it.
typedef struct { const hl_backend *be; float *h[16], *d[16]; size_t n[16]; int k; } dcall;
static void *dput(dcall *c, void *h, size_t n) {
    c->h[c->k] = h; c->n[c->k] = n; c->d[c->k] = dev_copy(c->be, h, n);
    return c->d[c->k++];
}
static void dcall_end(dcall *c) {
    for (int i = 0; i < c->k; i++) dev_back(c->be, c->h[i], c->d[i], c->n[i]);
    c->k = 0;
}

// Rows pos[b] of x (B, T, W) into out (B, W).
static void rows_at(float *out, const float *x, const int32_t *pos, int B, int T, int W) {
    for (int b = 0; b < B; b++) memcpy(out + (size_t)b * W, x + ((size_t)b * T + pos[b]) * W, (size_t)W * sizeof(float));
}

// attn_decode on be for queries at pos[b] (row 0 at T-1, row 1 at T-2) over a
// ring of R filled from the rotated K/V of the earlier positions; out (B, H,
// vd) and the caches. own: k/v given (appended by the op) or the cache filled
// to pos[b] inclusive first (a consumer).
typedef struct { int T, window, n_meta, R, own, no_rope; } dec_attn_cfg;   // no_rope: attention without RoPE
enum { DA_B = 2, DA_H = 6, DA_HKV = 2, DA_HD = 12, DA_VD = 10 };
static int attn_decode_on(const hl_backend *be, const dec_attn_cfg *g, const float *q, const float *k,
                          const float *v, const float *garbage_k, const float *garbage_v,
                          float *out, float *kc, float *vc) {
    int B = DA_B, T = g->T, S = g->n_meta + g->R;
    size_t nk = (size_t)B * T * DA_HKV * DA_HD;
    float *kr = copy_of(k, nk);
    int32_t pos[DA_B] = {T - 1, T - 2}, lens[DA_B];
    for (int b = 0; b < B; b++) lens[b] = g->own ? pos[b] : pos[b] + 1;
    memcpy(kc, garbage_k, (size_t)B * S * DA_HKV * DA_HD * sizeof(float));
    memcpy(vc, garbage_v, (size_t)B * S * DA_HKV * DA_VD * sizeof(float));
    float *qs = gbuf((size_t)B * DA_H * DA_HD), *ks = gbuf((size_t)B * DA_HKV * DA_HD), *vs = gbuf((size_t)B * DA_HKV * DA_VD);
    rows_at(qs, q, pos, B, T, DA_H * DA_HD);
    rows_at(ks, k, pos, B, T, DA_HKV * DA_HD);
    rows_at(vs, v, pos, B, T, DA_HKV * DA_VD);
    dcall c = {.be = be};
    float *dkr = dput(&c, kr, nk);
    hl_rope_args ro = {dkr, dkr, B, T, DA_HKV, DA_HD, 10000.0f};
    int rc = g->no_rope ? HL_OK : HL_OP_CALL(be->ops, rope_fwd, &ro);
    float *dkc = dput(&c, kc, (size_t)B * S * DA_HKV * DA_HD), *dvc = dput(&c, vc, (size_t)B * S * DA_HKV * DA_VD);
    int32_t *dl = dput(&c, lens, B);
    hl_cache_fill_args fk = {dkc, dkr, dl, B, T, DA_HKV * DA_HD, g->n_meta, g->R};
    hl_cache_fill_args fv = {dvc, dput(&c, (float *)v, nk / DA_HD * DA_VD), dl, B, T, DA_HKV * DA_VD, g->n_meta, g->R};
    rc = rc ? rc : HL_OP_CALL(be->ops, cache_fill, &fk);
    rc = rc ? rc : HL_OP_CALL(be->ops, cache_fill, &fv);
    hl_attn_decode_args a = {dput(&c, out, (size_t)B * DA_H * DA_VD), dkc, dvc, dput(&c, qs, (size_t)B * DA_H * DA_HD),
                             g->own ? dput(&c, ks, (size_t)B * DA_HKV * DA_HD) : NULL,
                             g->own ? dput(&c, vs, (size_t)B * DA_HKV * DA_VD) : NULL, dput(&c, pos, B),
                             B, DA_H, DA_HKV, DA_HD, DA_VD, g->n_meta, g->R, g->window, 10000.0f, g->no_rope};
    rc = rc ? rc : HL_OP_CALL(be->ops, attn_decode, &a);
    dcall_end(&c);
    return rc;
}

static void test_attn_decode(const hl_backend *be, const hl_backend *ref) {
    if (!hl_backend_supports(be, HL_OP_attn_decode) || !hl_backend_supports(be, HL_OP_cache_fill)) {
        rec_unsupported(be, HL_OP_attn_decode); rec_unsupported(be, HL_OP_cache_fill); return;
    }
    const dec_attn_cfg cfgs[] = {   // T, window, n_meta, R, own, no_rope
        {12, 0, 0, 12, 1, 0}, {12, 0, 2, 12, 1, 0}, {12, 4, 2, 4, 1, 0}, {12, 4, 3, 11, 1, 0}, {13, 4, 2, 4, 0, 0},
        {5, 8, 2, 8, 1, 0}, {9, 1, 1, 1, 1, 0}, {12, 0, 3, 12, 0, 0}, {40, 7, 2, 7, 1, 0},
        {12, 0, 2, 12, 1, 1}, {13, 4, 2, 4, 0, 1}, {40, 7, 2, 7, 1, 1}};
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        const dec_attn_cfg *g = &cfgs[i];
        int B = DA_B, T = g->T, S = g->n_meta + g->R;
        size_t nq = (size_t)B * T * DA_H * DA_HD, nk = (size_t)B * T * DA_HKV * DA_HD, nv = (size_t)B * T * DA_HKV * DA_VD;
        size_t nkc = (size_t)B * S * DA_HKV * DA_HD, nvc = (size_t)B * S * DA_HKV * DA_VD, no = (size_t)B * DA_H * DA_VD;
        float *q = gbuf(nq), *k = gbuf(nk), *v = gbuf(nv), *gk = gbuf(nkc), *gv = gbuf(nvc);
        fill(q, nq, -1, 1); fill(k, nk, -1, 1); fill(v, nv, -1, 1); fill(gk, nkc, -5, 5); fill(gv, nvc, -5, 5);
        // the oracle: rope_fwd + attn_fwd on cpu_ref over the whole sequence
        float *qr = copy_of(q, nq), *kr = copy_of(k, nk), *full = gbuf((size_t)B * T * DA_H * DA_VD), *lse = gbuf((size_t)B * DA_H * T);
        hl_rope_args rq = {qr, qr, B, T, DA_H, DA_HD, 10000.0f}, rk = {kr, kr, B, T, DA_HKV, DA_HD, 10000.0f};
        hl_attn_fwd_args f = {full, lse, qr, kr, v, B, T, DA_H, DA_HKV, DA_HD, DA_VD, g->window, g->n_meta};
        if (!g->no_rope) { HL_OP_CALL(ref->ops, rope_fwd, &rq); HL_OP_CALL(ref->ops, rope_fwd, &rk); }
        HL_OP_CALL(ref->ops, attn_fwd, &f);
        int32_t pos[DA_B] = {T - 1, T - 2};
        float *want = gbuf(no);
        rows_at(want, full, pos, B, T, DA_H * DA_VD);
        float *out = gbuf(no), *kc = gbuf(nkc), *vc = gbuf(nvc), *out_r = gbuf(no), *kc_r = gbuf(nkc), *vc_r = gbuf(nvc);
        int rc = attn_decode_on(be, g, q, k, v, gk, gv, out, kc, vc);
        int rc_r = attn_decode_on(ref, g, q, k, v, gk, gv, out_r, kc_r, vc_r);
        double e_fwd = rel_err(out, want, no), e_par = rel_err(out, out_r, no);
        double e_cache = rel_err(vc, vc_r, nvc);   // V as given (K went through each backend's rope)
        note_err(be, HL_OP_attn_decode, e_par); note_err(be, HL_OP_cache_fill, e_cache);
        char what[200];
        snprintf(what, sizeof what, "%s attn_decode T %d window %d meta %d ring %d %s%s equals attn_fwd at the position",
                 be->name, T, g->window, g->n_meta, g->R, g->own ? "own K/V" : "consumer", g->no_rope ? " no RoPE" : "");
        rec(be, HL_OP_attn_decode, hl_check(rc == HL_OK && e_fwd <= 1e-5 && e_par <= tol_of(be, HL_OP_attn_decode) && guards_ok(),
                                            what, "status %d, rel err vs attn_fwd %.3g, vs cpu_ref %.3g", rc, e_fwd, e_par));
        snprintf(what, sizeof what, "%s cache_fill (T %d meta %d ring %d) matches cpu_ref", be->name, T, g->n_meta, g->R);
        rec(be, HL_OP_cache_fill, hl_check(rc_r == HL_OK && e_cache <= tol_of(be, HL_OP_cache_fill), what, "rel err %.3g", e_cache));
        gfree_all();
    }
}

// conv1d_step from a zeroed state over t = 0..T-1 gives conv1d_fwd's rows.
static void test_conv1d_step(const hl_backend *be, const hl_backend *ref) {
    if (!hl_backend_supports(be, HL_OP_conv1d_step)) { rec_unsupported(be, HL_OP_conv1d_step); return; }
    enum { B = 2, T = 11, C = 13, K = 4 };
    float *x = gbuf(B * T * C), *w = gbuf(C * K), *bias = gbuf(C), *full = gbuf(B * T * C);
    fill(x, B * T * C, -1, 1); fill(w, C * K, -1, 1); fill(bias, C, -1, 1);
    hl_conv1d_fwd_args f = {full, x, w, bias, B, T, C, K};
    HL_OP_CALL(ref->ops, conv1d_fwd, &f);
    double e_fwd = 0, e_par = 0;
    int rc = HL_OK;
    float *state[2] = {gbuf(B * K * C), gbuf(B * K * C)};
    memset(state[0], 0, B * K * C * sizeof(float)); memset(state[1], 0, B * K * C * sizeof(float));
    const hl_backend *bes[2] = {be, ref};
    for (int t = 0; t < T; t++) {
        int32_t pos[B] = {t, t};
        float *xt = gbuf(B * C), *want = gbuf(B * C), *out[2] = {gbuf(B * C), gbuf(B * C)};
        rows_at(xt, x, pos, B, T, C);
        rows_at(want, full, pos, B, T, C);
        for (int k = 0; k < 2; k++) {
            dcall c = {.be = bes[k]};
            hl_conv1d_step_args a = {dput(&c, out[k], B * C), dput(&c, state[k], B * K * C), dput(&c, xt, B * C),
                                     dput(&c, w, C * K), dput(&c, bias, C), dput(&c, pos, B), B, C, K};
            int r = HL_OP_CALL(bes[k]->ops, conv1d_step, &a);
            rc = rc ? rc : r;
            dcall_end(&c);
        }
        e_fwd = fmax(e_fwd, rel_err(out[0], want, B * C));
        e_par = fmax(e_par, rel_err(out[0], out[1], B * C));
    }
    note_err(be, HL_OP_conv1d_step, e_par);
    char what[160];
    snprintf(what, sizeof what, "%s conv1d_step from zeros equals conv1d_fwd at every position", be->name);
    rec(be, HL_OP_conv1d_step, hl_check(rc == HL_OK && e_fwd <= 1e-6 && e_par <= tol_of(be, HL_OP_conv1d_step) && guards_ok(),
                                        what, "status %d, rel err vs conv1d_fwd %.3g, vs cpu_ref %.3g", rc, e_fwd, e_par));
    gfree_all();
}

// scan_state after k positions (row 1: k - 1), then scan_step to the end,
// gives scan_fwd's outputs.
static void test_scan_decode(const hl_backend *be, const hl_backend *ref) {
    if (!hl_backend_supports(be, HL_OP_scan_state) || !hl_backend_supports(be, HL_OP_scan_step)) {
        rec_unsupported(be, HL_OP_scan_state); rec_unsupported(be, HL_OP_scan_step); return;
    }
    enum { B = 2, T = 13, C = 21, N = 5 };
    float *u = gbuf(B * T * C), *dt = gbuf(B * T * C), *dtb = gbuf(C), *Al = gbuf(C * N), *Bm = gbuf(B * T * N),
          *Cm = gbuf(B * T * N), *D = gbuf(C), *full = gbuf(B * T * C);
    fill(u, B * T * C, -1, 1); fill(dt, B * T * C, -1.5f, 1.0f); fill(dtb, C, -0.5f, 0.5f); fill(Al, C * N, -1, 1.5f);
    fill(Bm, B * T * N, -1, 1); fill(Cm, B * T * N, -1, 1); fill(D, C, -1, 1);
    hl_scan_fwd_args f = {full, u, dt, dtb, Al, Bm, Cm, D, B, T, C, N};
    HL_OP_CALL(ref->ops, scan_fwd, &f);
    const hl_backend *bes[2] = {be, ref};
    const int ks[] = {1, 5, T};
    for (int ki = 0; ki < 3; ki++) {
        int32_t lens[B] = {ks[ki], ks[ki] - 1};
        float *h[2] = {gbuf(B * C * N), gbuf(B * C * N)};
        int rc = HL_OK;
        double e_fwd = 0, e_par = 0, e_state = 0;
        for (int k = 0; k < 2; k++) {
            dcall c = {.be = bes[k]};
            hl_scan_state_args a = {dput(&c, h[k], B * C * N), dput(&c, u, B * T * C), dput(&c, dt, B * T * C), dput(&c, dtb, C),
                                    dput(&c, Al, C * N), dput(&c, Bm, B * T * N), dput(&c, lens, B), B, T, C, N};
            int r = HL_OP_CALL(bes[k]->ops, scan_state, &a);
            rc = rc ? rc : r;
            dcall_end(&c);
        }
        e_state = rel_err(h[0], h[1], B * C * N);
        for (int t = 0; t + lens[1] < T; t++) {
            int32_t pos[B] = {lens[0] + t < T ? lens[0] + t : T - 1, lens[1] + t};
            int rows = lens[0] + t < T ? B : 1;   // row 0 ends first: then only row 1's outputs are checked
            float *ut = gbuf(B * C), *dtt = gbuf(B * C), *Bt = gbuf(B * N), *Ct = gbuf(B * N), *want = gbuf(B * C);
            rows_at(ut, u, pos, B, T, C); rows_at(dtt, dt, pos, B, T, C); rows_at(Bt, Bm, pos, B, T, N);
            rows_at(Ct, Cm, pos, B, T, N); rows_at(want, full, pos, B, T, C);
            float *y[2] = {gbuf(B * C), gbuf(B * C)};
            for (int k = 0; k < 2; k++) {
                dcall c = {.be = bes[k]};
                hl_scan_step_args a = {dput(&c, y[k], B * C), dput(&c, h[k], B * C * N), dput(&c, ut, B * C), dput(&c, dtt, B * C),
                                       dput(&c, dtb, C), dput(&c, Al, C * N), dput(&c, Bt, B * N), dput(&c, Ct, B * N),
                                       dput(&c, D, C), B, C, N};
                int r = HL_OP_CALL(bes[k]->ops, scan_step, &a);
                rc = rc ? rc : r;
                dcall_end(&c);
            }
            for (int b = B - rows; b < B; b++) {   // rows whose position is still inside the sequence
                e_fwd = fmax(e_fwd, rel_err(y[0] + b * C, want + b * C, C));
                e_par = fmax(e_par, rel_err(y[0] + b * C, y[1] + b * C, C));
            }
        }
        note_err(be, HL_OP_scan_state, e_state); note_err(be, HL_OP_scan_step, e_par);
        char what[160];
        snprintf(what, sizeof what, "%s scan_state (lens %d, %d) matches cpu_ref", be->name, lens[0], lens[1]);
        rec(be, HL_OP_scan_state, hl_check(rc == HL_OK && e_state <= tol_of(be, HL_OP_scan_state), what, "rel err %.3g", e_state));
        snprintf(what, sizeof what, "%s scan_state + scan_step from (lens %d, %d) equal scan_fwd", be->name, lens[0], lens[1]);
        rec(be, HL_OP_scan_step, hl_check(rc == HL_OK && e_fwd <= 1e-5 && e_par <= tol_of(be, HL_OP_scan_step) && guards_ok(),
                                          what, "status %d, rel err vs scan_fwd %.3g, vs cpu_ref %.3g", rc, e_fwd, e_par));
    }
    gfree_all();
}

// ssd_state after k positions (row 1: k - 1), then ssd_step to the end,
// gives ssd_fwd's outputs (Mamba-2's decoding, as test_scan_decode).
static void test_ssd_decode(const hl_backend *be, const hl_backend *ref) {
    if (!hl_backend_supports(be, HL_OP_ssd_state) || !hl_backend_supports(be, HL_OP_ssd_step)) {
        rec_unsupported(be, HL_OP_ssd_state); rec_unsupported(be, HL_OP_ssd_step); return;
    }
    enum { B = 2, T = 13, H = 4, P = 3, G = 2, N = 5, C = H * P, GN = G * N };
    float *x = gbuf(B * T * C), *dt = gbuf(B * T * H), *dtb = gbuf(H), *Al = gbuf(H), *Bm = gbuf(B * T * GN),
          *Cm = gbuf(B * T * GN), *D = gbuf(H), *full = gbuf(B * T * C);
    fill(x, B * T * C, -1, 1); fill(dt, B * T * H, -1.5f, 1.0f); fill(dtb, H, -0.5f, 0.5f); fill(Al, H, -1, 1.5f);
    fill(Bm, B * T * GN, -1, 1); fill(Cm, B * T * GN, -1, 1); fill(D, H, -1, 1);
    hl_ssd_fwd_args f = {full, x, dt, dtb, Al, Bm, Cm, D, B, T, H, P, G, N, 4};
    HL_OP_CALL(ref->ops, ssd_fwd, &f);
    const hl_backend *bes[2] = {be, ref};
    const int ks[] = {1, 5, T};
    for (int ki = 0; ki < 3; ki++) {
        int32_t lens[B] = {ks[ki], ks[ki] - 1};
        float *s[2] = {gbuf(B * C * N), gbuf(B * C * N)};
        int rc = HL_OK;
        double e_fwd = 0, e_par = 0, e_state = 0;
        for (int k = 0; k < 2; k++) {
            dcall c = {.be = bes[k]};
            hl_ssd_state_args a = {dput(&c, s[k], B * C * N), dput(&c, x, B * T * C), dput(&c, dt, B * T * H), dput(&c, dtb, H),
                                   dput(&c, Al, H), dput(&c, Bm, B * T * GN), dput(&c, lens, B), B, T, H, P, G, N};
            int r = HL_OP_CALL(bes[k]->ops, ssd_state, &a);
            rc = rc ? rc : r;
            dcall_end(&c);
        }
        e_state = rel_err(s[0], s[1], B * C * N);
        for (int t = 0; t + lens[1] < T; t++) {
            int32_t pos[B] = {lens[0] + t < T ? lens[0] + t : T - 1, lens[1] + t};
            int rows = lens[0] + t < T ? B : 1;   // row 0 ends first: then only row 1's outputs are checked
            float *xt = gbuf(B * C), *dtt = gbuf(B * H), *Bt = gbuf(B * GN), *Ct = gbuf(B * GN), *want = gbuf(B * C);
            rows_at(xt, x, pos, B, T, C); rows_at(dtt, dt, pos, B, T, H); rows_at(Bt, Bm, pos, B, T, GN);
            rows_at(Ct, Cm, pos, B, T, GN); rows_at(want, full, pos, B, T, C);
            float *y[2] = {gbuf(B * C), gbuf(B * C)};
            for (int k = 0; k < 2; k++) {
                dcall c = {.be = bes[k]};
                hl_ssd_step_args a = {dput(&c, y[k], B * C), dput(&c, s[k], B * C * N), dput(&c, xt, B * C), dput(&c, dtt, B * H),
                                      dput(&c, dtb, H), dput(&c, Al, H), dput(&c, Bt, B * GN), dput(&c, Ct, B * GN),
                                      dput(&c, D, H), B, H, P, G, N};
                int r = HL_OP_CALL(bes[k]->ops, ssd_step, &a);
                rc = rc ? rc : r;
                dcall_end(&c);
            }
            for (int b = B - rows; b < B; b++) {
                e_fwd = fmax(e_fwd, rel_err(y[0] + b * C, want + b * C, C));
                e_par = fmax(e_par, rel_err(y[0] + b * C, y[1] + b * C, C));
            }
        }
        note_err(be, HL_OP_ssd_state, e_state); note_err(be, HL_OP_ssd_step, e_par);
        char what[160];
        snprintf(what, sizeof what, "%s ssd_state (lens %d, %d) matches cpu_ref", be->name, lens[0], lens[1]);
        rec(be, HL_OP_ssd_state, hl_check(rc == HL_OK && e_state <= tol_of(be, HL_OP_ssd_state), what, "rel err %.3g", e_state));
        snprintf(what, sizeof what, "%s ssd_state + ssd_step from (lens %d, %d) equal ssd_fwd", be->name, lens[0], lens[1]);
        rec(be, HL_OP_ssd_step, hl_check(rc == HL_OK && e_fwd <= 1e-5 && e_par <= tol_of(be, HL_OP_ssd_step) && guards_ok(),
                                         what, "status %d, rel err vs ssd_fwd %.3g, vs cpu_ref %.3g", rc, e_fwd, e_par));
    }
    gfree_all();
}

// conba_state after k positions (row 1: k - 1), then conba_step to the end,
// gives conba_fwd's outputs (the Conba mixer's decoding, as test_scan_decode).
static void test_conba_decode(const hl_backend *be, const hl_backend *ref) {
    if (!hl_backend_supports(be, HL_OP_conba_state) || !hl_backend_supports(be, HL_OP_conba_step)) {
        rec_unsupported(be, HL_OP_conba_state); rec_unsupported(be, HL_OP_conba_step); return;
    }
    enum { B = 2, T = 13, C = 6, N = 5, S = 2 * N + 2 };
    float *u = gbuf(B * T * C), *dt = gbuf(B * T * C), *s = gbuf(B * T * C), *r = gbuf(B * T * C);
    float *Bm = gbuf(B * T * N), *Cm = gbuf(B * T * N), *Al = gbuf(C * N), *full = gbuf(B * T * C);
    float *dtb = gbuf(C), *D = gbuf(C), *sb = gbuf(C), *dl = gbuf(C), *gd = gbuf(C), *ct = gbuf(C);
    fill(u, B * T * C, -1, 1); fill(dt, B * T * C, -1.5f, 1.0f); fill(s, B * T * C, -2, 2); fill(r, B * T * C, -1, 1);
    fill(Bm, B * T * N, -1, 1); fill(Cm, B * T * N, -1, 1); fill(Al, C * N, 0, 1.5f);
    fill(dtb, C, -2, 0); fill(D, C, -1, 1); fill(sb, C, 0, 3); fill(dl, C, -3, 1); fill(gd, C, -1, 3); fill(ct, C, -1, 1);
    hl_conba_fwd_args f = {full, u, dt, dtb, Al, Bm, Cm, D, s, sb, r, dl, gd, ct, B, T, C, N};
    HL_OP_CALL(ref->ops, conba_fwd, &f);
    const hl_backend *bes[2] = {be, ref};
    const int ks[] = {1, 2, 6, T};
    for (int ki = 0; ki < 4; ki++) {
        int32_t lens[B] = {ks[ki], ks[ki] - 1};
        float *st[2] = {gbuf(B * C * S), gbuf(B * C * S)};
        int rc = HL_OK;
        double e_fwd = 0, e_par = 0, e_state = 0;
        for (int k = 0; k < 2; k++) {
            dcall c = {.be = bes[k]};
            hl_conba_state_args a = {dput(&c, st[k], B * C * S), dput(&c, u, B * T * C), dput(&c, dt, B * T * C),
                                     dput(&c, s, B * T * C), dput(&c, r, B * T * C), dput(&c, Bm, B * T * N),
                                     dput(&c, Cm, B * T * N), dput(&c, dtb, C), dput(&c, Al, C * N), dput(&c, D, C),
                                     dput(&c, sb, C), dput(&c, dl, C), dput(&c, gd, C), dput(&c, ct, C),
                                     dput(&c, lens, B), B, T, C, N};
            int rr = HL_OP_CALL(bes[k]->ops, conba_state, &a);
            rc = rc ? rc : rr;
            dcall_end(&c);
        }
        e_state = rel_err(st[0], st[1], B * C * S);
        for (int t = 0; t + lens[1] < T; t++) {
            int32_t pos[B] = {lens[0] + t < T ? lens[0] + t : T - 1, lens[1] + t};
            int rows = lens[0] + t < T ? B : 1;   // row 0 ends first: then only row 1's outputs are checked
            float *ut = gbuf(B * C), *dtt = gbuf(B * C), *sr = gbuf(B * C), *rt = gbuf(B * C);
            float *Bt = gbuf(B * N), *Ct = gbuf(B * N), *want = gbuf(B * C);
            rows_at(ut, u, pos, B, T, C); rows_at(dtt, dt, pos, B, T, C); rows_at(sr, s, pos, B, T, C);
            rows_at(rt, r, pos, B, T, C); rows_at(Bt, Bm, pos, B, T, N); rows_at(Ct, Cm, pos, B, T, N);
            rows_at(want, full, pos, B, T, C);
            float *y[2] = {gbuf(B * C), gbuf(B * C)};
            for (int k = 0; k < 2; k++) {
                dcall c = {.be = bes[k]};
                hl_conba_step_args a = {dput(&c, y[k], B * C), dput(&c, st[k], B * C * S), dput(&c, ut, B * C),
                                        dput(&c, dtt, B * C), dput(&c, sr, B * C), dput(&c, rt, B * C),
                                        dput(&c, Bt, B * N), dput(&c, Ct, B * N), dput(&c, dtb, C), dput(&c, Al, C * N),
                                        dput(&c, D, C), dput(&c, sb, C), dput(&c, dl, C), dput(&c, gd, C),
                                        dput(&c, ct, C), B, C, N};
                int rr = HL_OP_CALL(bes[k]->ops, conba_step, &a);
                rc = rc ? rc : rr;
                dcall_end(&c);
            }
            for (int b = B - rows; b < B; b++) {
                e_fwd = fmax(e_fwd, rel_err(y[0] + b * C, want + b * C, C));
                e_par = fmax(e_par, rel_err(y[0] + b * C, y[1] + b * C, C));
            }
        }
        note_err(be, HL_OP_conba_state, e_state); note_err(be, HL_OP_conba_step, e_par);
        char what[160];
        snprintf(what, sizeof what, "%s conba_state (lens %d, %d) matches cpu_ref", be->name, lens[0], lens[1]);
        rec(be, HL_OP_conba_state, hl_check(rc == HL_OK && e_state <= tol_of(be, HL_OP_conba_state), what, "rel err %.3g", e_state));
        snprintf(what, sizeof what, "%s conba_state + conba_step from (lens %d, %d) equal conba_fwd", be->name, lens[0], lens[1]);
        rec(be, HL_OP_conba_step, hl_check(rc == HL_OK && e_fwd <= 1e-5 && e_par <= tol_of(be, HL_OP_conba_step) && guards_ok(),
                                           what, "status %d, rel err vs conba_fwd %.3g, vs cpu_ref %.3g", rc, e_fwd, e_par));
    }
    gfree_all();
}

// A backend that is cpu_ref with its op table replaced (for the meta-tests).
static hl_backend with_ops(const hl_ops *ops) {
    hl_backend b = *hl_backend_get("cpu_ref");
    b.ops = ops;
    return b;
}

// The finite-difference machinery must be able to fail: a deliberately wrong
// backward (silu gradient without the x*(1-s) term) has to be caught.
static int bad_silu_bwd(const hl_silu_bwd_args *a) {
    for (size_t i = 0; i < a->n; i++) a->dinp[i] = a->dout[i] / (1.0f + expf(-a->inp[i]));
    return HL_OK;
}
static void test_fd_can_fail(void) {
    hl_ops bad = hl_ops_cpu_ref;
    bad.silu_bwd = bad_silu_bwd;
    hl_backend be = with_ops(&bad);
    kcase c = {0};
    make_silu(&c, 64);
    c.fd_eps = 1e-2f;
    double err = check_fd(&be, &c, 1e-2, 0);
    hl_check(err > 1e-2, "finite differences catch a wrong backward", "wrong silu backward passed (err %.3g)", err);
    gfree_all();
}

// Planted bugs in the router's backward: dropping the load-balance term, or
// the renormalisation's cross term (treating renorm weights as plain top-k
// weights), must each be caught by the finite differences.
static int moe_route_bwd_no_lb(const hl_moe_route_bwd_args *a) {
    hl_moe_route_bwd_args b = *a;
    b.load_balance = 0.0f;
    return hl_ops_cpu_ref.moe_route_bwd(&b);
}
static int moe_route_bwd_no_renorm(const hl_moe_route_bwd_args *a) {
    hl_moe_route_bwd_args b = *a;
    b.router = HL_MOE_ROUTER_TOPK;
    return hl_ops_cpu_ref.moe_route_bwd(&b);
}
static void test_fd_catches_moe_route(void) {
    for (int bug = 0; bug < 2; bug++) {
        hl_ops bad = hl_ops_cpu_ref;
        bad.moe_route_bwd = bug ? moe_route_bwd_no_renorm : moe_route_bwd_no_lb;
        hl_backend be = with_ops(&bad);
        kcase c = {0};
        make_moe_route(&c, 9, 6, 2, HL_MOE_ROUTER_TOPK_RENORM, 2.0f, 0.0f);
        c.fd_eps = 1e-2f;
        double err = check_fd(&be, &c, 1e-2, 0);
        hl_check(err > 1e-2, bug ? "finite differences catch moe_route_bwd without the renorm term"
                                 : "finite differences catch moe_route_bwd without the load-balance term",
                 "wrong router backward passed (err %.3g)", err);
        gfree_all();
    }
}

// An input whose analytical gradient is exactly zero everywhere must fail the
// FD check, whether FD sees the input (backward forgot dbias) or not (forward
// and backward both ignore the bias: zero against zero, nothing checked).
static int no_bias_matmul_fwd(const hl_matmul_fwd_args *a) {
    hl_matmul_fwd_args b = *a;
    b.bias = NULL;
    return hl_ops_cpu_ref.matmul_fwd(&b);
}
static int no_dbias_matmul_bwd(const hl_matmul_bwd_args *a) {
    hl_matmul_bwd_args b = *a;
    b.dbias = NULL;
    return hl_ops_cpu_ref.matmul_bwd(&b);
}
static void test_fd_zero_gradient(void) {
    for (int ignored = 0; ignored <= 1; ignored++) {
        hl_ops bad = hl_ops_cpu_ref;
        bad.matmul_bwd = no_dbias_matmul_bwd;
        if (ignored) bad.matmul_fwd = no_bias_matmul_fwd;
        hl_backend be = with_ops(&bad);
        kcase c = {0};
        make_matmul(&c, 5, 7, 3, 1);
        c.fd_eps = 1e-2f;
        double err = check_fd(&be, &c, 1e-2, 0);
        hl_check(err > 1e-2, ignored ? "finite differences fail a gradient that is zero against a zero FD"
                                     : "finite differences fail an exactly-zero gradient against a nonzero FD",
                 "zero dbias passed (err %.3g)", err);
        gfree_all();
    }
}

// matmul backward with frozen weights / no dinp: only the requested grads.
static void test_matmul_optional_grads(const hl_backend *be, const hl_backend *ref) {
    if (!hl_backend_supports(be, HL_OP_matmul_bwd)) return;
    kcase c = {0};
    make_matmul(&c, 9, 21, 17, 1);
    float *db[2];
    const hl_backend *bes[2] = {ref, be};
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        db[k] = copy_of(c.in[2].gbase, c.in[2].n);
        float *ddb = dev_copy(bes[k], db[k], c.in[2].n), *dout = dev_copy(bes[k], c.out[0].r, c.out[0].n),
              *dinp = dev_copy(bes[k], c.in[0].x, c.in[0].n), *dw = dev_copy(bes[k], c.in[1].x, c.in[1].n);
        hl_matmul_bwd_args a = {NULL, NULL, ddb, dout, dinp, dw, c.N, c.IC, c.OC};
        ok &= HL_OP_CALL(bes[k]->ops, matmul_bwd, &a) == HL_OK;
        dev_back(bes[k], db[k], ddb, c.in[2].n);
        bes[k]->free(dout, c.out[0].n * sizeof(float)); bes[k]->free(dinp, c.in[0].n * sizeof(float));
        bes[k]->free(dw, c.in[1].n * sizeof(float));
    }
    char what[96];
    snprintf(what, sizeof what, "%s matmul bwd with dinp = dweight = NULL", be->name);
    rec(be, HL_OP_matmul_bwd, hl_check(ok && rel_err(db[1], db[0], c.in[2].n) < 1e-5 && guards_ok(), what, "dbias mismatch"));
    gfree_all();
}

// ------------------------------------------------------------ op statuses
// Invalid arguments give HL_EBADINPUT (message from hl_op_error) and write
// nothing; sizes of 0 are valid; a NULL op gives HL_EUNSUPPORTED.
static void status_check(const hl_backend *be, hl_op_id op, int rc, int want, int untouched, const char *what,
                         const char *msg_part) {
    char name[200];
    snprintf(name, sizeof name, "%s %s: %s", be->name, hl_op_names[op], what);
    int msg_ok = want == HL_OK || strstr(hl_op_error(), msg_part) != NULL;
    rec(be, op, hl_check(rc == want && untouched && msg_ok, name, "status %d (want %d), output untouched %d, message '%s'",
                         rc, want, untouched, hl_op_error()));
}

static int all_sentinel(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++) if (memcmp(&p[i], &SENTINEL, 4)) return 0;
    return 1;
}

static void test_op_status(const hl_backend *be) {
    enum { V = 5, C = 3, N = 4 };
    float table[V * C], out[N * C], logits[N * V], losses[N];
    for (int i = 0; i < V * C; i++) table[i] = (float)i;
    for (int i = 0; i < N * V; i++) logits[i] = 0.1f * (float)i;
    // ids/targets travel as floats' bits through the float copies
    int32_t ids_bad[N] = {0, 4, 5, 1}, ids_neg[N] = {0, -1, 2, 3}, tg_bad[N] = {1, -100, 5, 0},
            tg_ok[N] = {1, -100, 4, 0};
    float *dt = dev_copy(be, table, V * C), *dl = dev_copy(be, logits, N * V);
    float *di = be->alloc(N * sizeof(int32_t));
    for (int i = 0; i < N * C; i++) out[i] = SENTINEL;
    for (int i = 0; i < N; i++) losses[i] = SENTINEL;
    float *dout = dev_copy(be, out, N * C), *dlosses = dev_copy(be, losses, N);

    be->h2d(di, ids_bad, sizeof ids_bad);
    hl_embed_fwd_args e = {dout, (const int32_t *)di, dt, N, V, C};
    int rc = HL_OP_CALL(be->ops, embed_fwd, &e);
    be->d2h(out, dout, sizeof out);
    status_check(be, HL_OP_embed_fwd, rc, HL_EBADINPUT, all_sentinel(out, N * C), "id == V refused", "ids[2]");
    be->h2d(di, ids_neg, sizeof ids_neg);
    rc = HL_OP_CALL(be->ops, embed_fwd, &e);
    be->d2h(out, dout, sizeof out);
    status_check(be, HL_OP_embed_fwd, rc, HL_EBADINPUT, all_sentinel(out, N * C), "negative id refused", "ids[1]");
    hl_embed_bwd_args eb = {dt, dout, (const int32_t *)di, N, V, C};
    rc = HL_OP_CALL(be->ops, embed_bwd, &eb);
    float t2[V * C];
    be->d2h(t2, dt, sizeof t2);
    status_check(be, HL_OP_embed_bwd, rc, HL_EBADINPUT, !memcmp(t2, table, sizeof t2), "negative id refused", "ids[1]");

    be->h2d(di, tg_bad, sizeof tg_bad);
    hl_xent_fwd_args x = {dlosses, dl, (const int32_t *)di, N, V, -100};
    rc = HL_OP_CALL(be->ops, xent_fwd, &x);
    be->d2h(losses, dlosses, sizeof losses);
    status_check(be, HL_OP_xent_fwd, rc, HL_EBADINPUT, all_sentinel(losses, N), "target == V refused", "targets[2]");
    float *dgrad = dev_copy(be, logits, N * V);
    hl_xent_bwd_args xb = {dgrad, dl, (const int32_t *)di, N, V, -100, 1.0f};
    rc = HL_OP_CALL(be->ops, xent_bwd, &xb);
    float g2[N * V];
    be->d2h(g2, dgrad, sizeof g2);
    status_check(be, HL_OP_xent_bwd, rc, HL_EBADINPUT, !memcmp(g2, logits, sizeof g2), "target == V refused", "targets[2]");
    be->h2d(di, tg_ok, sizeof tg_ok);
    rc = HL_OP_CALL(be->ops, xent_fwd, &x);
    status_check(be, HL_OP_xent_fwd, rc, HL_OK, 1, "ignore_index and in-range targets accepted", "");

    hl_matmul_fwd_args mneg = {dout, dt, dt, NULL, -1, C, C};
    rc = HL_OP_CALL(be->ops, matmul_fwd, &mneg);
    status_check(be, HL_OP_matmul_fwd, rc, HL_EBADINPUT, 1, "negative N refused", "N = -1");
    hl_matmul_fwd_args mzero = {NULL, NULL, NULL, NULL, 0, C, C};
    rc = HL_OP_CALL(be->ops, matmul_fwd, &mzero);
    status_check(be, HL_OP_matmul_fwd, rc, HL_OK, 1, "N = 0 is a valid no-op", "");
    hl_matmul_fwd_args mnull = {dout, NULL, dt, NULL, 1, C, C};
    rc = HL_OP_CALL(be->ops, matmul_fwd, &mnull);
    status_check(be, HL_OP_matmul_fwd, rc, HL_EBADINPUT, 1, "NULL input refused", "inp is NULL");
    hl_attn_fwd_args at = {dout, dout, dt, dt, dt, 1, 1, 3, 2, 1, 1, 0, 0};
    rc = HL_OP_CALL(be->ops, attn_fwd, &at);
    status_check(be, HL_OP_attn_fwd, rc, HL_EBADINPUT, 1, "H not a multiple of Hkv refused", "Hkv");
    hl_rope_args ro = {dout, dout, 1, 1, 1, 3, 10000.0f};
    rc = HL_OP_CALL(be->ops, rope_fwd, &ro);
    status_check(be, HL_OP_rope_fwd, rc, HL_EBADINPUT, 1, "odd hd refused", "even");
    hl_conv1d_fwd_args cv = {dout, dout, dt, NULL, 1, 1, 1, 0};
    rc = HL_OP_CALL(be->ops, conv1d_fwd, &cv);
    status_check(be, HL_OP_conv1d_fwd, rc, HL_EBADINPUT, 1, "K = 0 refused", "K = 0");
    hl_adamw_args ad = {dt, dt, dt, dt, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    rc = HL_OP_CALL(be->ops, adamw, &ad);
    status_check(be, HL_OP_adamw, rc, HL_EBADINPUT, 1, "step 0 refused", "step = 0");
    // decoding ops: positions and lengths are checked like ids
    int32_t one[1] = {1}, three[1] = {3}, minus[1] = {-1};
    int32_t *dpos = be->alloc(sizeof(int32_t));
    be->h2d(dpos, one, sizeof one);
    hl_attn_decode_args adec = {.out = dout, .kcache = dt, .vcache = dt, .q = dl, .pos = dpos, .B = 1, .H = 1, .Hkv = 1,
                                .hd = 2, .vd = 1, .n_meta = 2, .R = 1, .window = 0, .theta = 10000.0f};
    rc = HL_OP_CALL(be->ops, attn_decode, &adec);
    be->d2h(out, dout, sizeof out);
    status_check(be, HL_OP_attn_decode, rc, HL_EBADINPUT, all_sentinel(out, N * C), "a position inside the meta prefix refused", "pos[0]");
    adec.n_meta = 0; adec.k = dl;   // k without v
    rc = HL_OP_CALL(be->ops, attn_decode, &adec);
    status_check(be, HL_OP_attn_decode, rc, HL_EBADINPUT, 1, "k without v refused", "together");
    be->h2d(dpos, three, sizeof three);
    hl_cache_fill_args cf = {.cache = dout, .src = dt, .lens = dpos, .B = 1, .T = 2, .C = 1, .n_meta = 0, .R = 1};
    rc = HL_OP_CALL(be->ops, cache_fill, &cf);
    be->d2h(out, dout, sizeof out);
    status_check(be, HL_OP_cache_fill, rc, HL_EBADINPUT, all_sentinel(out, N * C), "a length beyond T refused", "lens[0]");
    hl_scan_state_args ss = {.h = dout, .u = dt, .dt = dt, .dt_bias = dt, .A_log = dt, .Bm = dt, .lens = dpos,
                             .B = 1, .T = 2, .C = 1, .N = 1};
    rc = HL_OP_CALL(be->ops, scan_state, &ss);
    be->d2h(out, dout, sizeof out);
    status_check(be, HL_OP_scan_state, rc, HL_EBADINPUT, all_sentinel(out, N * C), "a length beyond T refused", "lens[0]");
    be->h2d(dpos, minus, sizeof minus);
    hl_conv1d_step_args cs = {.out = dout, .state = dl, .inp = dt, .weight = dt, .pos = dpos, .B = 1, .C = 1, .K = 2};
    rc = HL_OP_CALL(be->ops, conv1d_step, &cs);
    be->d2h(out, dout, sizeof out);
    status_check(be, HL_OP_conv1d_step, rc, HL_EBADINPUT, all_sentinel(out, N * C), "a negative position refused", "pos[0]");
    hl_scan_step_args sst = {.y = dout, .h = NULL, .u = dt, .dt = dt, .dt_bias = dt, .A_log = dt, .Bm = dt, .Cm = dt,
                             .D = dt, .B = 1, .C = 1, .N = 1};
    rc = HL_OP_CALL(be->ops, scan_step, &sst);
    be->d2h(out, dout, sizeof out);
    status_check(be, HL_OP_scan_step, rc, HL_EBADINPUT, all_sentinel(out, N * C), "NULL state refused", "h is NULL");
    be->free(dpos, sizeof(int32_t));

    // an op the table lacks: HL_EUNSUPPORTED through HL_OP_CALL, and the support query says no
    hl_ops lacking = *be->ops;
    lacking.scan_bwd = NULL;
    hl_backend partial = *be;
    partial.ops = &lacking;
    hl_scan_bwd_args sb = {0};
    rc = HL_OP_CALL(partial.ops, scan_bwd, &sb);
    char name[160];
    snprintf(name, sizeof name, "%s: a NULL op is HL_EUNSUPPORTED and not supported", be->name);
    hl_check(rc == HL_EUNSUPPORTED && !hl_backend_supports(&partial, HL_OP_scan_bwd) &&
             hl_backend_supports(&partial, HL_OP_scan_fwd) && strstr(hl_op_error(), "scan_bwd"),
             name, "status %d, message '%s'", rc, hl_op_error());
    be->free(dt, sizeof table); be->free(dl, sizeof logits); be->free(di, N * sizeof(int32_t));
    be->free(dout, sizeof out); be->free(dlosses, sizeof losses); be->free(dgrad, sizeof logits);
}

// ------------------------------------------------------------ mixture-of-experts routing
// moe_route_fwd's choices (sel, int32: outside the kcase's float checks) and
// moe_group's sort, exactly as cpu_ref; rows a permutation grouped by expert
// in assignment order; ties to the lower index; bad arguments refused.
static void test_moe_group(const hl_backend *be, const hl_backend *ref) {
    enum { n = 41, E = 7, k = 3 };
    float logits[n * E], probs[2][n * E], w[2][n * k], lse[2][n], stats[2][HL_MOE_STATS(E)];
    int32_t sel[2][n * k], offs[2][E + 1], rows[2][n * k];
    for (int i = 0; i < n * E; i++) logits[i] = rnd_uniform(-3, 3);
    for (int e = 0; e < E; e++) logits[e] = 0.5f;               // row 0: all tied -> experts 0, 1, 2
    logits[E + 4] = logits[E + 2] = 9.0f;                        // row 1: a tie at the top -> 2 before 4
    const hl_backend *bes[2] = {ref, be};
    int rc = HL_OK;
    for (int b = 0; b < 2; b++) {
        dcall c = {.be = bes[b]};
        hl_moe_route_fwd_args ra = {dput(&c, probs[b], sizeof probs[b] / 4), dput(&c, sel[b], n * k),
                                    dput(&c, w[b], n * k), dput(&c, lse[b], n), dput(&c, stats[b], HL_MOE_STATS(E)),
                                    dput(&c, logits, n * E), n, E, k, HL_MOE_ROUTER_TOPK};
        hl_moe_group_args ga = {dput(&c, offs[b], E + 1), dput(&c, rows[b], n * k), ra.sel, n, E, k};
        rc |= HL_OP_CALL(bes[b]->ops, moe_route_fwd, &ra) | HL_OP_CALL(bes[b]->ops, moe_group, &ga);
        dcall_end(&c);
    }
    int perm = 1, grouped = 1, seen[n * k] = {0};
    for (int a = 0; a < n * k; a++) {
        int r = rows[1][a], e = sel[1][a];
        perm &= r >= 0 && r < n * k && !seen[r];
        if (r >= 0 && r < n * k) seen[r] = 1;
        grouped &= r >= offs[1][e] && r < offs[1][e + 1];
        for (int a2 = 0; a2 < a; a2++) grouped &= sel[1][a2] != e || rows[1][a2] < r;   // assignment order
    }
    int ties = sel[1][0] == 0 && sel[1][1] == 1 && sel[1][2] == 2 && sel[1][k] == 2 && sel[1][k + 1] == 4;
    char what[160];
    snprintf(what, sizeof what, "%s moe_route_fwd sel equals cpu_ref's, ties to the lower index", be->name);
    rec(be, HL_OP_moe_route_fwd, hl_check(rc == HL_OK && !memcmp(sel[0], sel[1], sizeof sel[0]) && ties, what,
                                          "status %d, ties ok %d", rc, ties));
    snprintf(what, sizeof what, "%s moe_group equals cpu_ref's; a permutation grouped by expert in order", be->name);
    rec(be, HL_OP_moe_group, hl_check(!memcmp(offs[0], offs[1], sizeof offs[0]) && !memcmp(rows[0], rows[1], sizeof rows[0]) &&
                                      offs[1][0] == 0 && offs[1][E] == n * k && perm && grouped && guards_ok(),
                                      what, "perm %d grouped %d offs[E] %d", perm, grouped, (int)offs[1][E]));
    // bad arguments: nothing written
    int32_t bad_sel[2] = {0, E}, out_i[E + 1], rows_bad[2] = {0, 2};
    float out_f[8];
    for (int i = 0; i <= E; i++) out_i[i] = -5;
    dcall c = {.be = be};
    hl_moe_group_args gb = {dput(&c, out_i, E + 1), dput(&c, rows[1], 2), dput(&c, bad_sel, 2), 1, E, 2};
    int rc1 = HL_OP_CALL(be->ops, moe_group, &gb);
    dcall_end(&c);
    int untouched = 1;
    for (int i = 0; i <= E; i++) untouched &= out_i[i] == -5;
    status_check(be, HL_OP_moe_group, rc1, HL_EBADINPUT, untouched, "an expert id >= E refused", "sel[1]");
    hl_moe_route_fwd_args rk = {probs[1], sel[1], w[1], lse[1], stats[1], logits, 1, 2, 3, HL_MOE_ROUTER_TOPK};
    status_check(be, HL_OP_moe_route_fwd, HL_OP_CALL(be->ops, moe_route_fwd, &rk), HL_EBADINPUT, 1, "k > E refused", "k = 3");
    rk.k = 1; rk.router = 2;
    status_check(be, HL_OP_moe_route_fwd, HL_OP_CALL(be->ops, moe_route_fwd, &rk), HL_EBADINPUT, 1, "unknown router refused", "router");
    for (int i = 0; i < 8; i++) out_f[i] = SENTINEL;
    c = (dcall){.be = be};
    hl_moe_combine_fwd_args cf = {dput(&c, out_f, 8), dput(&c, logits, 16), dput(&c, logits, 2), dput(&c, rows_bad, 2), 1, 2, 8};
    int rc2 = HL_OP_CALL(be->ops, moe_combine_fwd, &cf);
    dcall_end(&c);
    status_check(be, HL_OP_moe_combine_fwd, rc2, HL_EBADINPUT, all_sentinel(out_f, 8), "a row outside [0, n*k) refused", "rows[1]");
    gfree_all();
}

// A support query that refuses one op makes it unsupported, and the walk
// reports it so (not as a failure).
static int no_attn(hl_op_id op) { return op != HL_OP_attn_fwd && op != HL_OP_attn_bwd; }
static void test_support_query(void) {
    hl_backend be = *hl_backend_get("cpu_ref");
    be.op_supported = no_attn;
    int ok = !hl_backend_supports(&be, HL_OP_attn_fwd) && !hl_backend_supports(&be, HL_OP_attn_bwd) &&
             hl_backend_supports(&be, HL_OP_matmul_fwd);
    for (int b = 0; b < hl_backend_count(); b++)
        for (int op = 0; op < HL_OP_COUNT; op++)
            ok &= hl_backend_supports(hl_backend_at(b), (hl_op_id)op);   // the CPU backends have every op
    hl_check(ok, "support query: refused ops unsupported, CPU backends support every op", "wrong answer");
}

// ------------------------------------------------------------ memory functions
static void test_memory(const hl_backend *be) {
    char name[160];
    size_t n = 4099;   // not a multiple of anything
    float *h = malloc(n * sizeof(float)), *back = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) { h[i] = (float)i * 0.5f - 7.0f; back[i] = 1.0f; }
    float *a = be->alloc(n * sizeof(float)), *b = be->alloc(n * sizeof(float));
    void *empty = be->alloc(0);
    snprintf(name, sizeof name, "%s memory: alloc (also of 0 bytes)", be->name);
    if (!hl_check(a && b && empty && ((uintptr_t)a % 64) == 0, name, "alloc failed or not 64-byte aligned")) {
        free(h); free(back); return;
    }
    be->h2d(a, h, n * sizeof(float));
    be->zero(a, n * sizeof(float));
    be->sync();
    be->d2h(back, a, n * sizeof(float));
    int zero = 1;
    for (size_t i = 0; i < n; i++) zero &= back[i] == 0.0f;
    snprintf(name, sizeof name, "%s memory: zero after h2d gives zeros", be->name);
    hl_check(zero, name, "nonzero after zero");
    be->h2d(a, h, n * sizeof(float));
    be->d2d(b, a, n * sizeof(float));
    be->zero(a, n * sizeof(float));   // b must not alias a
    be->sync();
    be->d2h(back, b, n * sizeof(float));
    snprintf(name, sizeof name, "%s memory: h2d, d2d, d2h round trip", be->name);
    hl_check(!memcmp(back, h, n * sizeof(float)), name, "values changed on the way");
    be->d2h(back + 1, b + 7, 5 * sizeof(float));   // partial copies at offsets
    snprintf(name, sizeof name, "%s memory: copies at offsets", be->name);
    hl_check(!memcmp(back + 1, h + 7, 5 * sizeof(float)), name, "partial copy differs");
    be->h2d(a, h, 0); be->d2h(back, a, 0); be->d2d(b, a, 0); be->zero(a, 0);   // 0 bytes: nothing happens
    be->free(a, n * sizeof(float)); be->free(b, n * sizeof(float)); be->free(empty, 0); be->free(NULL, 0);
    free(h); free(back);
}

// ------------------------------------------------------------ registry
static void test_registry(void) {
    int n = hl_backend_count(), ok = n >= 2 && n <= MAX_BACKENDS && !strcmp(hl_backend_at(0)->name, "cpu_ref");
    hl_check(ok, "registry: cpu_ref first of at least 2 backends", "%d backends", n);
    char known[256];
    hl_backend_known(known, sizeof known);
    for (int i = 0; i < n; i++) {
        const hl_backend *be = hl_backend_at(i);
        char name[160], dev[256] = "", libs[256] = "";
        be->device(dev, sizeof dev);
        be->libs(libs, sizeof libs);
        printf("# backend %s: device '%s', libraries '%s'\n", be->name, dev, libs);
        int unique = 1;
        for (int j = 0; j < i; j++) unique &= strcmp(hl_backend_at(j)->name, be->name) != 0;
        snprintf(name, sizeof name, "registry: %s found by name, listed, unique, with provenance", be->name);
        hl_check(hl_backend_get(be->name) == be && hl_ops_get(be->name) == be->ops && unique &&
                 strstr(known, be->name) && !strcmp(be->ops->name, be->name) && dev[0] && libs[0] &&
                 be->alloc && be->free && be->zero && be->h2d && be->d2h && be->d2d && be->sync,
                 name, "known '%s', device '%s', libs '%s'", known, dev, libs);
    }
    char libs[256];
    hl_backend_get("cpu")->libs(libs, sizeof libs);
    hl_check(strstr(libs, "OpenBLAS") && strstr(libs, hl_blas_core()), "registry: cpu reports its BLAS core", "'%s'", libs);
    hl_backend_get("cpu_ref")->libs(libs, sizeof libs);
    hl_check(!strcmp(libs, "none"), "registry: cpu_ref uses no library", "'%s'", libs);
    hl_check(!hl_backend_get("nope") && !hl_backend_get(NULL) && !hl_ops_get("nope") && !strcmp(known, "cpu_ref, cpu"),
             "registry: unknown names give NULL; the known list names every backend", "known '%s'", known);
    int names = 1;
    for (int op = 0; op < HL_OP_COUNT; op++) names &= hl_op_index(hl_op_names[op]) == (hl_op_id)op;
    hl_check(names && hl_op_index("nope") == HL_OP_COUNT && !strcmp(hl_op_names[HL_OP_axpby], "axpby"),
             "op names and indices round-trip", "mismatch");
}

static void test_blas_setup(void) {
    hl_blas_init(0);
    const char *core = hl_blas_core();
    hl_check(core && core[0] && hl_blas_threads() >= 1, "BLAS core and threads reported",
             "core '%s', threads %d", core ? core : "(null)", hl_blas_threads());
    printf("# BLAS core %s, %d threads\n", core, hl_blas_threads());
}

// One line per op: its outcome on every backend and the worst error seen.
static void report(void) {
    static const char *const words[] = {"untested", "ok", "unsupported", "FAILED"};
    int complete = 1;
    printf("# op            ");
    for (int b = 0; b < hl_backend_count(); b++) printf(" %-24s", hl_backend_at(b)->name);
    printf("\n");
    for (int op = 0; op < HL_OP_COUNT; op++) {
        printf("# %-14s", hl_op_names[op]);
        for (int b = 0; b < hl_backend_count(); b++) {
            int r = g_report[b][op];
            complete &= r != R_UNTESTED;
            char cell[64];
            snprintf(cell, sizeof cell, "%s (err %.1e, tol %.0e)", words[r], g_worst[b][op], tol_of(hl_backend_at(b), (hl_op_id)op));
            printf(" %-24s", r == R_OK ? cell : words[r]);
        }
        printf("\n");
    }
    hl_check(complete, "every op of every backend checked or reported unsupported", "an op was never run");
}

int main(void) {
    test_registry();
    test_support_query();
    for (int b = 0; b < hl_backend_count(); b++) test_memory(hl_backend_at(b));
    const hl_backend *ref = hl_backend_get("cpu_ref");
    if (!hl_check(ref != NULL, "backend cpu_ref exists", "hl_backend_get failed")) return hl_test_done();

    kcase c;
#define CASE(make_call, fd) do { memset(&c, 0, sizeof c); make_call; run_case(&c, fd); } while (0)
    CASE(make_matmul(&c, 7, 45, 19, 1), 1);
    CASE(make_matmul(&c, 5, 13, 9, 0), 1);
    CASE(make_matmul(&c, 67, 130, 77, 1), 0);
    CASE(make_matmul(&c, 1, 45, 19, 1), 1);   // one row: the cpu forward's sgemv path (batch-1 decoding)
    CASE(make_matmul(&c, 1, 130, 77, 0), 0);
    CASE(make_embed(&c, 23, 11, 37), 1);
    CASE(make_rmsnorm_g(&c, 13, 45, 0), 1);
    CASE(make_rmsnorm_g(&c, 13, 45, 1), 0);
    CASE(make_rmsnorm_g(&c, 7, 45, 3), 1);    // Mamba-2's grouped gated norm
    CASE(make_rmsnorm_g(&c, 5, 300, 4), 0);   // groups across the cpu dweight column blocks
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
    // Mamba-2 SSD: chunks that divide T (T 24, chunk 8), that do not (T 23,
    // chunk 8 and 5), one chunk longer than T, chunk 1; groups 1, 2 and H
    CASE(make_ssd(&c, 2, 24, 4, 5, 2, 6, 8), 1);
    CASE(make_ssd(&c, 2, 23, 4, 5, 1, 6, 8), 1);
    CASE(make_ssd(&c, 1, 23, 3, 4, 3, 7, 5), 1);
    CASE(make_ssd(&c, 2, 9, 2, 3, 1, 4, 64), 1);
    CASE(make_ssd(&c, 1, 7, 2, 3, 2, 4, 1), 0);
    CASE(make_ssd(&c, 2, 70, 6, 16, 2, 32, 16), 0);
    // Conba scan: odd sizes, N 1 to 16, T 1 and 5 (the delayed term's
    // edges), no feedback (control 0), strong feedback (control 2)
    CASE(make_conba(&c, 2, 17, 11, 5), 1);
    CASE(make_conba(&c, 2, 5, 3, 2), 1);
    CASE(make_conba(&c, 2, 1, 4, 3), 0);   // T 1: r, delay, gain_decay, control reach nothing (no FD)
    CASE(make_conba_g(&c, 2, 13, 7, 4, 0.0f), 0);   // control 0: r and gain_decay reach nothing (no FD)
    CASE(make_conba_g(&c, 1, 19, 5, 6, 2.0f), 1);
    CASE(make_conba(&c, 3, 40, 37, 16), 0);
    CASE(make_conba(&c, 2, 9, 5, 1), 0);
    CASE(make_silu(&c, 101), 1);
    CASE(make_swiglu(&c, 101), 1);
    CASE(make_xent(&c, 9, 37), 1);
    CASE(make_xent(&c, 5, 1003), 0);
    // mixture of experts: both routers, with and without the aux losses, top 1 and top E
    CASE(make_moe_route(&c, 9, 6, 2, HL_MOE_ROUTER_TOPK, 0.0f, 0.0f), 1);
    CASE(make_moe_route(&c, 9, 6, 2, HL_MOE_ROUTER_TOPK_RENORM, 0.7f, 0.3f), 1);
    CASE(make_moe_route(&c, 11, 5, 1, HL_MOE_ROUTER_TOPK, 0.5f, 0.2f), 1);
    CASE(make_moe_route(&c, 7, 4, 4, HL_MOE_ROUTER_TOPK_RENORM, 0.5f, 0.0f), 1);
    CASE(make_moe_route(&c, 300, 16, 2, HL_MOE_ROUTER_TOPK, 0.01f, 0.001f), 0);
    CASE(make_moe_dispatch(&c, 13, 2, 19), 1);
    CASE(make_moe_dispatch(&c, 7, 1, 5), 1);
    CASE(make_moe_combine(&c, 13, 2, 19), 1);
    CASE(make_moe_combine(&c, 9, 3, 33), 1);
#undef CASE
    for (int b = 0; b < hl_backend_count(); b++) {
        const hl_backend *be = hl_backend_at(b);
        test_attn_window_equals_global(be);
        test_xent_ignores_rows(be);
        test_adamw(be, ref);
        test_axpby(be, ref);
        test_matmul_optional_grads(be, ref);
        test_op_status(be);
        test_attn_decode(be, ref);
        test_conv1d_step(be, ref);
        test_scan_decode(be, ref);
        test_ssd_decode(be, ref);
        test_moe_group(be, ref);
        test_conba_decode(be, ref);
    }
    test_fd_can_fail();
    test_fd_catches_moe_route();
    test_fd_zero_gradient();
    test_blas_setup();
    report();
    return hl_test_done();
}
