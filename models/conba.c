// conba.c: mixer 'C', "conba (hylab interpretation)": hylab's reading of
// the Conba layer of MixCon (ECAI 2024), written from the paper's words
// (docs/conba.md quotes them; the paper's equations and code were not
// available to us). NOT the authors' code. Per layer, with di = expand *
// d_model, N = d_state, K = d_conv, R = dt_rank:
//   x, z, r = in_proj(inp)              in_proj (3*di, d), no bias; rows x | z | r;
//                                       r is the desired output of the scan (feedback reference)
//   u      = silu(conv1d(x))            causal depthwise, weight (di, 1, K) + bias
//   dtl, Bg, Bu, Cg, Cu = x_proj(u)     x_proj (R + 4N, di), no bias, rows in that order
//   Bm = silu(Bg) * Bu, Cm = silu(Cg) * Cu      the SwiGLU selective state functions
//   dt = dt_proj(dtl)                   dt_proj (di, R); its bias is the scan's dt_bias
//   s  = scale_proj(dtl)                scale_proj (di, R); its bias is the scan's s_bias
//   y  = conba_scan(u, dt, Bm, Cm, s, r; A_log, D, delay, gain_decay, control)
//                                       kernels.h "Conba scan": the selective scan with the
//                                       delayed state term, the dynamic state scale
//                                       sigmoid(s) and the adaptive error feedback
//   out = out_proj(y * silu(z))         out_proj (d, di), no bias
// Keys: model.ssm (mamba.c): d_state, d_conv, expand, dt_rank (shared with
// 'S' and 'H'). Parameters per mixer:
//   d*3*di + di*(K + 1) + (R + 4N)*di + 2*(di*R + di) + di*N + 4*di + d*di
// Init: as mamba.c for what Mamba-1 has (in_proj, the dtl rows of x_proj
// normal(0, 0.02); conv U(+-1/sqrt K); dt_proj U(+-R^-0.5), dt_bias the
// inverse softplus of exp U[log 1e-3, log 1e-1]; A_log[c, n] = log(n + 1);
// D = 1; out_proj normal(0, 0.02/sqrt(2*n_layers))); the SwiGLU rows of
// x_proj normal(0, 1/sqrt(di)) (so that Bm, Cm start at Mamba's scale
// rather than the square of a small one); scale_proj U(+-R^-0.5), s_bias
// 3 (sigmoid 0.95: the scale starts near 1); delay -2 (lam 0.12);
// gain_decay 2 (rho 0.88); control 0.1.
// Decoding (models/decode.h): per row the conv ring of x (K, di) and the
// scan state (di, 2N + 2): h_{t-1}, h_{t-2}, k_{t-1}, e_{t-1}; fixed size
// (O(1) in the context length).
#include <math.h>
#include <stddef.h>
#include "models/mamba.h"

enum { SLOT_IN, SLOT_CONV_W, SLOT_CONV_B, SLOT_XPROJ, SLOT_DT_W, SLOT_DT_B, SLOT_SC_W, SLOT_SC_B, SLOT_ALOG,
       SLOT_D, SLOT_DELAY, SLOT_GAIN_DECAY, SLOT_CONTROL, SLOT_OUT, N_SLOTS };

// Saved activations, n = B*T rows each:
//   x, z, r (n, di) in_proj parts; xc (n, di) conv output; u (n, di) silu(xc)
//   dtl (n, R); Bg, Bu, Cg, Cu (n, N) x_proj parts; Bm, Cm (n, N) their SwiGLUs
//   dt, s (n, di) dt_proj, scale_proj outputs; y (n, di) scan output; gy (n, di) y * silu(z)
typedef struct { float *x, *z, *r, *xc, *u, *dtl, *Bg, *Bu, *Cg, *Cu, *Bm, *Cm, *dt, *s, *y, *gy; } cb_bufs;

static void carve(const hl_mamba_dims *m, int B, int T, float *base, size_t *off, cb_bufs *b) {
    size_t n = (size_t)B * T;
    float **di_bufs[] = {&b->x, &b->z, &b->r, &b->xc, &b->u, &b->dt, &b->s, &b->y, &b->gy};
    float **n_bufs[] = {&b->Bg, &b->Bu, &b->Cg, &b->Cu, &b->Bm, &b->Cm};
    for (size_t i = 0; i < sizeof di_bufs / sizeof di_bufs[0]; i++) *di_bufs[i] = hl_take(base, off, n * m->di);
    for (size_t i = 0; i < sizeof n_bufs / sizeof n_bufs[0]; i++) *n_bufs[i] = hl_take(base, off, n * m->N);
    b->dtl = hl_take(base, off, n * m->R);
}

// Backward temporaries: dgy, dz, dy, du, ddt, ds, dr, dx, part_di (n, di);
// ddtl, part_R (n, R); dBm, dCm, dBg, dBu, dCg, dCu (n, N); part_d (n, d).
typedef struct { float *dgy, *dz, *dy, *du, *ddt, *ds, *dr, *dx, *part_di, *ddtl, *part_R,
                 *dBm, *dCm, *dBg, *dBu, *dCg, *dCu, *part_d; } cb_grads;

static void carve_grads(const hl_mamba_dims *m, int B, int T, float *base, size_t *off, cb_grads *g) {
    size_t n = (size_t)B * T;
    float **di_bufs[] = {&g->dgy, &g->dz, &g->dy, &g->du, &g->ddt, &g->ds, &g->dr, &g->dx, &g->part_di};
    float **n_bufs[] = {&g->dBm, &g->dCm, &g->dBg, &g->dBu, &g->dCg, &g->dCu};
    for (size_t i = 0; i < sizeof di_bufs / sizeof di_bufs[0]; i++) *di_bufs[i] = hl_take(base, off, n * m->di);
    for (size_t i = 0; i < sizeof n_bufs / sizeof n_bufs[0]; i++) *n_bufs[i] = hl_take(base, off, n * m->N);
    g->ddtl = hl_take(base, off, n * m->R);
    g->part_R = hl_take(base, off, n * m->R);
    g->part_d = hl_take(base, off, n * m->d);
}

static void cb_declare(const hl_model_config *cfg, int layer, hl_decl *d) {
    (void)layer;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    hl_decl_layer(d, SLOT_IN, "conba.in_proj.weight", "ssm", 1, 2, 3 * (int64_t)m.di, m.d, 0);
    hl_decl_layer(d, SLOT_CONV_W, "conba.conv1d.weight", "ssm", 1, 3, m.di, 1, m.K);
    hl_decl_layer(d, SLOT_CONV_B, "conba.conv1d.bias", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, SLOT_XPROJ, "conba.x_proj.weight", "ssm", 1, 2, (int64_t)m.R + 4 * (int64_t)m.N, m.di, 0);
    hl_decl_layer(d, SLOT_DT_W, "conba.dt_proj.weight", "ssm", 1, 2, m.di, m.R, 0);
    hl_decl_layer(d, SLOT_DT_B, "conba.dt_proj.bias", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, SLOT_SC_W, "conba.scale_proj.weight", "ssm", 1, 2, m.di, m.R, 0);
    hl_decl_layer(d, SLOT_SC_B, "conba.scale_proj.bias", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, SLOT_ALOG, "conba.A_log", "ssm", 0, 2, m.di, m.N, 0);
    hl_decl_layer(d, SLOT_D, "conba.D", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, SLOT_DELAY, "conba.delay", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, SLOT_GAIN_DECAY, "conba.gain_decay", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, SLOT_CONTROL, "conba.control", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, SLOT_OUT, "conba.out_proj.weight", "ssm", 1, 2, m.d, m.di, 0);
}

static void cb_init(hl_layer *L, uint64_t seed) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    hl_init_normal(L, SLOT_IN, 0.02, seed);
    hl_init_uniform(L, SLOT_CONV_W, 1.0 / sqrt((double)m.K), seed);
    hl_init_uniform(L, SLOT_CONV_B, 1.0 / sqrt((double)m.K), seed);
    // x_proj: one normal(0, 1) stream scaled per block: the dtl rows to
    // std 0.02, the four SwiGLU blocks to 1/sqrt(di)
    float *W_x = L->p[SLOT_XPROJ];
    size_t dtl_n = (size_t)m.R * m.di, all = dtl_n + (size_t)4 * m.N * m.di;
    hl_init_normal(L, SLOT_XPROJ, 1.0, seed);
    for (size_t i = 0; i < all; i++) W_x[i] *= (float)(i < dtl_n ? 0.02 : 1.0 / sqrt((double)m.di));
    hl_init_uniform(L, SLOT_DT_W, 1.0 / sqrt((double)m.R), seed);
    hl_rng rng = hl_rng_for(seed, L->t[SLOT_DT_B]->name);
    const double lo = log(1e-3), hi = log(1e-1);
    for (int c = 0; c < m.di; c++) {
        double dt = exp(lo + (hi - lo) * hl_rng_uniform(&rng));
        if (dt < 1e-4) dt = 1e-4;
        L->p[SLOT_DT_B][c] = (float)(dt + log(-expm1(-dt)));   // inverse of softplus
    }
    hl_init_uniform(L, SLOT_SC_W, 1.0 / sqrt((double)m.R), seed);
    hl_init_const(L, SLOT_SC_B, 3.0f);
    for (int c = 0; c < m.di; c++)
        for (int n = 0; n < m.N; n++) L->p[SLOT_ALOG][(size_t)c * m.N + n] = (float)log((double)(n + 1));
    hl_init_const(L, SLOT_D, 1.0f);
    hl_init_const(L, SLOT_DELAY, -2.0f);
    hl_init_const(L, SLOT_GAIN_DECAY, 2.0f);
    hl_init_const(L, SLOT_CONTROL, 0.1f);
    hl_init_normal(L, SLOT_OUT, hl_resid_std(L->cfg), seed);
}

static size_t cb_act_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    cb_bufs b; size_t off = 0;
    carve(&m, B, T, NULL, &off, &b);
    return off;
}

static size_t cb_scratch_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    cb_grads g; size_t off = 0;
    carve_grads(&m, B, T, NULL, &off, &g);
    return off;
}

// Row block `part` of in_proj (0 x, 1 z, 2 r): (di, d).
static const float *in_rows(const hl_layer *L, const hl_mamba_dims *m, int part) {
    return L->p[SLOT_IN] + (size_t)part * m->di * m->d;
}

// The x_proj blocks in row order: dtl (R rows), Bg, Bu, Cg, Cu (N rows each).
static size_t xrow(const hl_mamba_dims *m, int block) {
    return (block == 0 ? 0 : (size_t)m->R + (size_t)(block - 1) * m->N) * m->di;
}

// in_proj of n rows: x, z, r from inp (n, d). Shared by forward and step.
static void cb_in_proj(hl_layer *L, const hl_run *r, const cb_bufs *b, const float *inp, const hl_mamba_dims *m, int n) {
    hl_linear(r, b->x, inp, in_rows(L, m, 0), n, m->d, m->di);
    hl_linear(r, b->z, inp, in_rows(L, m, 1), n, m->d, m->di);
    hl_linear(r, b->r, inp, in_rows(L, m, 2), n, m->d, m->di);
}

// From u (n, di): dtl, the SwiGLU selective functions Bm, Cm, dt and s.
static void cb_x_proj(hl_layer *L, const hl_run *r, const cb_bufs *b, const hl_mamba_dims *m, int n) {
    const float *W_x = L->p[SLOT_XPROJ];
    float *parts[5] = {b->dtl, b->Bg, b->Bu, b->Cg, b->Cu};
    for (int k = 0; k < 5; k++) hl_linear(r, parts[k], b->u, W_x + xrow(m, k), n, m->di, k == 0 ? m->R : m->N);
    hl_swiglu_fwd_args sb = { .out = b->Bm, .gate = b->Bg, .up = b->Bu, .n = (size_t)n * m->N };
    HL_RUN_OP(r, swiglu_fwd, &sb);
    hl_swiglu_fwd_args sc = { .out = b->Cm, .gate = b->Cg, .up = b->Cu, .n = (size_t)n * m->N };
    HL_RUN_OP(r, swiglu_fwd, &sc);
    hl_linear(r, b->dt, b->dtl, L->p[SLOT_DT_W], n, m->R, m->di);
    hl_linear(r, b->s, b->dtl, L->p[SLOT_SC_W], n, m->R, m->di);
}

static void cb_forward(hl_layer *L, const hl_run *r, float *out, const float *inp) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    cb_bufs b; size_t off = 0;
    carve(&m, r->B, r->T, L->act, &off, &b);
    int n = r->B * r->T;
    cb_in_proj(L, r, &b, inp, &m, n);
    hl_conv1d_fwd_args cv = { .out = b.xc, .inp = b.x, .weight = L->p[SLOT_CONV_W], .bias = L->p[SLOT_CONV_B],
                              .B = r->B, .T = r->T, .C = m.di, .K = m.K };
    HL_RUN_OP(r, conv1d_fwd, &cv);
    hl_silu_fwd_args si = { .out = b.u, .inp = b.xc, .n = (size_t)n * m.di };
    HL_RUN_OP(r, silu_fwd, &si);
    cb_x_proj(L, r, &b, &m, n);
    hl_conba_fwd_args sc = { .y = b.y, .u = b.u, .dt = b.dt, .dt_bias = L->p[SLOT_DT_B], .A_log = L->p[SLOT_ALOG],
                             .Bm = b.Bm, .Cm = b.Cm, .D = L->p[SLOT_D], .s = b.s, .s_bias = L->p[SLOT_SC_B],
                             .r = b.r, .delay = L->p[SLOT_DELAY], .gain_decay = L->p[SLOT_GAIN_DECAY],
                             .control = L->p[SLOT_CONTROL], .B = r->B, .T = r->T, .C = m.di, .N = m.N };
    HL_RUN_OP(r, conba_fwd, &sc);
    hl_swiglu_fwd_args gate = { .out = b.gy, .gate = b.z, .up = b.y, .n = (size_t)n * m.di };
    HL_RUN_OP(r, swiglu_fwd, &gate);
    hl_linear(r, out, b.gy, L->p[SLOT_OUT], n, m.di, m.d);
}

static void cb_backward(hl_layer *L, const hl_run *r, float *dinp, const float *dout, const float *inp) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    cb_bufs b; size_t off = 0;
    carve(&m, r->B, r->T, L->act, &off, &b);
    cb_grads g; size_t goff = 0;
    carve_grads(&m, r->B, r->T, r->scratch, &goff, &g);
    int n = r->B * r->T;
    size_t ndi = (size_t)n * m.di, nN = (size_t)n * m.N;
    const float *W_x = L->p[SLOT_XPROJ];
    float *gW_x = L->g[SLOT_XPROJ];

    hl_linear_bwd(r, g.dgy, L->g[SLOT_OUT], dout, b.gy, L->p[SLOT_OUT], n, m.di, m.d);
    hl_swiglu_bwd_args gate = { .dgate = g.dz, .dup = g.dy, .dout = g.dgy, .gate = b.z, .up = b.y, .n = ndi };
    HL_RUN_OP(r, swiglu_bwd, &gate);
    hl_conba_bwd_args sc = { .du = g.du, .ddt = g.ddt, .ds = g.ds, .dr = g.dr, .dBm = g.dBm, .dCm = g.dCm,
                             .ddt_bias = L->g[SLOT_DT_B], .dD = L->g[SLOT_D], .ds_bias = L->g[SLOT_SC_B],
                             .ddelay = L->g[SLOT_DELAY], .dgain_decay = L->g[SLOT_GAIN_DECAY],
                             .dcontrol = L->g[SLOT_CONTROL], .dA_log = L->g[SLOT_ALOG], .dy = g.dy,
                             .u = b.u, .dt = b.dt, .dt_bias = L->p[SLOT_DT_B], .A_log = L->p[SLOT_ALOG],
                             .Bm = b.Bm, .Cm = b.Cm, .D = L->p[SLOT_D], .s = b.s, .s_bias = L->p[SLOT_SC_B],
                             .r = b.r, .delay = L->p[SLOT_DELAY], .gain_decay = L->p[SLOT_GAIN_DECAY],
                             .control = L->p[SLOT_CONTROL], .B = r->B, .T = r->T, .C = m.di, .N = m.N };
    HL_RUN_OP(r, conba_bwd, &sc);
    hl_swiglu_bwd_args sb = { .dgate = g.dBg, .dup = g.dBu, .dout = g.dBm, .gate = b.Bg, .up = b.Bu, .n = nN };
    HL_RUN_OP(r, swiglu_bwd, &sb);
    hl_swiglu_bwd_args scg = { .dgate = g.dCg, .dup = g.dCu, .dout = g.dCm, .gate = b.Cg, .up = b.Cu, .n = nN };
    HL_RUN_OP(r, swiglu_bwd, &scg);
    // dtl collects dt_proj's and scale_proj's paths
    hl_linear_bwd(r, g.ddtl, L->g[SLOT_DT_W], g.ddt, b.dtl, L->p[SLOT_DT_W], n, m.R, m.di);
    hl_linear_bwd(r, g.part_R, L->g[SLOT_SC_W], g.ds, b.dtl, L->p[SLOT_SC_W], n, m.R, m.di);
    hl_add_inplace(r, g.ddtl, g.part_R, (size_t)n * m.R);
    // du collects the scan's direct term and the five x_proj blocks
    const float *dparts[5] = {g.ddtl, g.dBg, g.dBu, g.dCg, g.dCu};
    for (int k = 0; k < 5; k++) {
        hl_linear_bwd(r, g.part_di, gW_x + xrow(&m, k), dparts[k], b.u, W_x + xrow(&m, k), n, m.di, k == 0 ? m.R : m.N);
        hl_add_inplace(r, g.du, g.part_di, ndi);
    }
    float *dxc = g.ddt;   // ddt is no longer needed
    hl_silu_bwd_args si = { .dinp = dxc, .dout = g.du, .inp = b.xc, .n = ndi };
    HL_RUN_OP(r, silu_bwd, &si);
    hl_conv1d_bwd_args cv = { .dinp = g.dx, .dweight = L->g[SLOT_CONV_W], .dbias = L->g[SLOT_CONV_B], .dout = dxc,
                              .inp = b.x, .weight = L->p[SLOT_CONV_W], .B = r->B, .T = r->T, .C = m.di, .K = m.K };
    HL_RUN_OP(r, conv1d_bwd, &cv);
    // dinp = in_proj^T [dx | dz | dr]
    const float *din[3] = {g.dx, g.dz, g.dr};
    for (int k = 0; k < 3; k++) {
        float *dst = k == 0 ? dinp : g.part_d;
        hl_linear_bwd(r, dst, L->g[SLOT_IN] + (size_t)k * m.di * m.d, din[k], inp, in_rows(L, &m, k), n, m.d, m.di);
        if (k > 0) hl_add_inplace(r, dinp, g.part_d, (size_t)n * m.d);
    }
}

// Per token: matmuls 2*(d*3di + di*(R + 4N) + 2*R*di + di*d); conv 2*di*K;
// the SwiGLUs and the per-channel feedback are elementwise (ignored, as
// mamba.c ignores its gate); scan 10*di*N (per state element: the decay
// exp 1, the delayed mix (1-lam) h1 + lam h2 3, the scale and decay 2, the
// input delta*Bm*v 2, the readout accumulate 2).
static double cb_flops(const hl_model_config *cfg, int layer, int64_t T) {
    (void)layer; (void)T;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    double mm = 2.0 * ((double)m.d * 3 * m.di + (double)m.di * ((double)m.R + 4.0 * m.N) + 2.0 * m.R * m.di +
                       (double)m.di * m.d);
    return mm + 2.0 * m.di * m.K + 10.0 * m.di * m.N;
}

// ---------------------------------------------------------------- inference state
// Per row: the conv ring of x (K, di) (slot p % K holds position p), then
// the scan state (di, 2N + 2) (kernels.h conba_state). Two parts (max_B,
// per_row) back to back (layer.h state_parts).
static size_t row_floats(const hl_mamba_dims *m, int part) {
    return part == 0 ? (size_t)m->K * m->di : (size_t)m->di * (2 * (size_t)m->N + 2);
}

static int64_t cb_cache_bytes(const hl_model_config *cfg, int layer, int64_t T, int bytes) {
    (void)layer; (void)T;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    return (int64_t)(row_floats(&m, 0) + row_floats(&m, 1)) * bytes;
}

static size_t cb_state_floats(const hl_model_config *cfg, int layer, int max_B, int max_len) {
    (void)layer; (void)max_len;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    return (size_t)max_B * (row_floats(&m, 0) + row_floats(&m, 1));
}

static int cb_state_parts(const hl_model_config *cfg, int layer, int max_B, int max_len, size_t *per_row,
                          int max_parts) {
    (void)layer; (void)max_B; (void)max_len;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    if (max_parts < 2) return 0;
    per_row[0] = row_floats(&m, 0);
    per_row[1] = row_floats(&m, 1);
    return 2;
}

static void cb_state_prefill(hl_layer *L, const hl_run *r, const hl_decode_ctx *c) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    cb_bufs b; size_t off = 0;
    carve(&m, r->B, r->T, L->act, &off, &b);
    float *ring = c->state[L->index], *st = ring + (size_t)c->max_B * row_floats(&m, 0);
    hl_cache_fill_args f = { .cache = ring, .src = b.x, .lens = c->lens, .B = r->B, .T = r->T, .C = m.di,
                             .n_meta = 0, .R = m.K };
    HL_RUN_OP(r, cache_fill, &f);
    hl_conba_state_args s = { .st = st, .u = b.u, .dt = b.dt, .s = b.s, .r = b.r, .Bm = b.Bm, .Cm = b.Cm,
                              .dt_bias = L->p[SLOT_DT_B], .A_log = L->p[SLOT_ALOG], .D = L->p[SLOT_D],
                              .s_bias = L->p[SLOT_SC_B], .delay = L->p[SLOT_DELAY],
                              .gain_decay = L->p[SLOT_GAIN_DECAY], .control = L->p[SLOT_CONTROL],
                              .lens = c->lens, .B = r->B, .T = r->T, .C = m.di, .N = m.N };
    HL_RUN_OP(r, conba_state, &s);
}

// One token per row: cb_forward with conv1d_step and conba_step in place of
// the sequence ops.
static void cb_state_step(hl_layer *L, const hl_run *r, const hl_decode_ctx *c, float *out, const float *inp) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    cb_bufs b; size_t off = 0;
    carve(&m, r->B, 1, L->act, &off, &b);
    int n = r->B;
    float *ring = c->state[L->index], *st = ring + (size_t)c->max_B * row_floats(&m, 0);
    cb_in_proj(L, r, &b, inp, &m, n);
    hl_conv1d_step_args cv = { .out = b.xc, .state = ring, .inp = b.x, .weight = L->p[SLOT_CONV_W],
                               .bias = L->p[SLOT_CONV_B], .pos = c->pos, .B = n, .C = m.di, .K = m.K };
    HL_RUN_OP(r, conv1d_step, &cv);
    hl_silu_fwd_args si = { .out = b.u, .inp = b.xc, .n = (size_t)n * m.di };
    HL_RUN_OP(r, silu_fwd, &si);
    cb_x_proj(L, r, &b, &m, n);
    hl_conba_step_args sc = { .y = b.y, .st = st, .u = b.u, .dt = b.dt, .s = b.s, .r = b.r, .Bm = b.Bm, .Cm = b.Cm,
                              .dt_bias = L->p[SLOT_DT_B], .A_log = L->p[SLOT_ALOG], .D = L->p[SLOT_D],
                              .s_bias = L->p[SLOT_SC_B], .delay = L->p[SLOT_DELAY],
                              .gain_decay = L->p[SLOT_GAIN_DECAY], .control = L->p[SLOT_CONTROL],
                              .B = n, .C = m.di, .N = m.N };
    HL_RUN_OP(r, conba_step, &sc);
    hl_swiglu_fwd_args gate = { .out = b.gy, .gate = b.z, .up = b.y, .n = (size_t)n * m.di };
    HL_RUN_OP(r, swiglu_fwd, &gate);
    hl_linear(r, out, b.gy, L->p[SLOT_OUT], n, m.di, m.d);
}

// Conba reads model.ssm as S does; Jamba's/Hymba's inner norms are not part of
// its interpretation (docs/conba.md), so they are refused rather than ignored.
static int conba_check(const hl_model_config *cfg, int layer, char *err, size_t errlen) {
    int rc = hl_mamba_check(cfg, layer, err, errlen);
    if (rc) return rc;
    if (cfg->ssm.inner_norms)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.inner_norms: not supported by Conba ('C', layer %d) "
                       "(needs false)", layer);
    return HL_OK;
}

const hl_layer_type hl_layer_conba = {
    .letter = 'C', .name = "conba", .part = HL_PART_MIXER, .caps = HL_CAP_STATE,
    .sections = {&hl_layer_mamba_ssm_section},
    .default_v_head_dim = NULL, .check = conba_check,
    .declare = cb_declare, .init = cb_init,
    .act_floats = cb_act_floats, .scratch_floats = cb_scratch_floats,
    .forward = cb_forward, .backward = cb_backward,
    .flops = cb_flops, .cache_bytes = cb_cache_bytes,
    .state_floats = cb_state_floats, .state_prefill = cb_state_prefill, .state_step = cb_state_step,
    .state_parts = cb_state_parts,
};
