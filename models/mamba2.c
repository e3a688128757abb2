// mamba2.c: mixer 'M', state-spaces/mamba's `Mamba2` (mamba2.py) with
// d_ssm = d_inner, no bias, conv bias, D per head, rmsnorm true,
// norm_before_gate false (PAPERS.md 5.5):
//   z, x, Bm, Cm, dt = in_proj(inp)    in_proj (2*di + 2*G*N + H, d), no bias, rows in that order
//   x, Bm, Cm = silu(conv1d([x|Bm|Cm]))  causal depthwise over the di + 2GN channels together,
//                                      weight (di + 2GN, 1, K) + bias (depthwise: the three
//                                      parts run as three convs on their weight rows)
//   y   = ssd(x, dt, dt_bias, A_log, Bm, Cm, D)   kernels.h ssd_fwd: H = di / headdim heads
//                                      of headdim channels, G groups, scalar A per head,
//                                      the chunked SSD of chunk_size positions
//   out = out_proj(rmsnorm(y * silu(z)) * norm.weight)    out_proj (d, di); the norm is over
//                                      each group of di/G channels (RMSNormGated group_size)
// Keys: model.ssm (mamba.c): d_state, d_conv, expand, headdim, ngroups,
// chunk_size (dt_rank unused). Parameters per mixer:
//   d*(2*di + 2*G*N + H) + (di + 2*G*N)*(K + 1) + 3*H + di + di*d
// (d 2560, N 128, headdim 64, expand 2, G 1, K 4: 40,214,000).
// Init (mamba2.py): A_log = log U(1, 16) per head; dt_bias = inverse softplus
// of dt ~ exp(U[log 1e-3, log 1e-1]) clamped >= 1e-4; D = 1; norm weight 1;
// conv U(+-1/sqrt(K)) (PyTorch's default); in_proj normal(0, 0.02);
// out_proj normal(0, 0.02/sqrt(2*n_layers)).
// Decoding (models/decode.h): the conv rings of x, B and C and the SSM state
// (H, headdim, N) per row; prefill fills them from the forward's saved
// activations (cache_fill, ssd_state), a step runs conv1d_step and ssd_step.
#include <math.h>
#include <stddef.h>
#include "models/mamba.h"

enum { SLOT_IN, SLOT_CONV_W, SLOT_CONV_B, SLOT_DT_B, SLOT_ALOG, SLOT_D, SLOT_NORM, SLOT_OUT, N_SLOTS };

typedef struct { int d, di, H, P, G, N, K, chunk, GN, conv; } m2_dims;

static m2_dims m2_dims_of(const hl_model_config *cfg) {
    m2_dims m;
    m.d = cfg->d_model;
    m.di = cfg->ssm.expand * cfg->d_model;
    m.P = cfg->ssm.headdim > 0 ? cfg->ssm.headdim : 1;
    m.H = m.di / m.P;
    m.G = cfg->ssm.ngroups > 0 ? cfg->ssm.ngroups : 1;
    m.N = cfg->ssm.d_state;
    m.K = cfg->ssm.d_conv;
    m.chunk = cfg->ssm.chunk_size > 0 ? cfg->ssm.chunk_size : 256;
    m.GN = m.G * m.N;
    m.conv = m.di + 2 * m.GN;
    return m;
}

// Saved activations, n = B*T rows each:
//   z, x, Bp, Cp, dt: in_proj parts (n, di | di | GN | GN | H)
//   xc, Bc, Cc: after the conv, before SiLU; xs, Bs, Cs after SiLU
//   y (n, di) ssd output; g (n, di) y * silu(z); gn (n, di) normed; rstd (n, G)
typedef struct { float *z, *x, *Bp, *Cp, *dt, *xc, *Bc, *Cc, *xs, *Bs, *Cs, *y, *g, *gn, *rstd; } m2_bufs;

static void carve(const m2_dims *m, int B, int T, float *base, size_t *off, m2_bufs *b) {
    size_t n = (size_t)B * T;
    b->z = hl_take(base, off, n * m->di);
    b->x = hl_take(base, off, n * m->di);
    b->Bp = hl_take(base, off, n * m->GN);
    b->Cp = hl_take(base, off, n * m->GN);
    b->dt = hl_take(base, off, n * m->H);
    b->xc = hl_take(base, off, n * m->di);
    b->Bc = hl_take(base, off, n * m->GN);
    b->Cc = hl_take(base, off, n * m->GN);
    b->xs = hl_take(base, off, n * m->di);
    b->Bs = hl_take(base, off, n * m->GN);
    b->Cs = hl_take(base, off, n * m->GN);
    b->y = hl_take(base, off, n * m->di);
    b->g = hl_take(base, off, n * m->di);
    b->gn = hl_take(base, off, n * m->di);
    b->rstd = hl_take(base, off, n * m->G);
}

// Backward temporaries (n rows): dgn, dg, dz, dy, dxs, dxc, dx (di each), dBs, dBc, dB,
// dCs, dCc, dC (GN each), ddt (H), part (d).
typedef struct { float *dgn, *dg, *dz, *dy, *dxs, *dxc, *dx, *dBs, *dBc, *dB, *dCs, *dCc, *dC, *ddt, *part; } m2_grads;

static void carve_grads(const m2_dims *m, int B, int T, float *base, size_t *off, m2_grads *g) {
    size_t n = (size_t)B * T;
    float **di_bufs[] = {&g->dgn, &g->dg, &g->dz, &g->dy, &g->dxs, &g->dxc, &g->dx};
    for (size_t i = 0; i < sizeof di_bufs / sizeof di_bufs[0]; i++) *di_bufs[i] = hl_take(base, off, n * m->di);
    float **gn_bufs[] = {&g->dBs, &g->dBc, &g->dB, &g->dCs, &g->dCc, &g->dC};
    for (size_t i = 0; i < sizeof gn_bufs / sizeof gn_bufs[0]; i++) *gn_bufs[i] = hl_take(base, off, n * m->GN);
    g->ddt = hl_take(base, off, n * m->H);
    g->part = hl_take(base, off, n * m->d);
}

static int hl_mamba2_check(const hl_model_config *cfg, int layer, char *err, size_t errlen) {
    int rc = hl_mamba_check(cfg, layer, err, errlen);
    if (rc) return rc;
    const hl_ssm_config *s = &cfg->ssm;
    int di = s->expand * cfg->d_model;
    if (s->headdim <= 0 || di % s->headdim)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.headdim: must divide d_inner = expand * d_model = %d (got %d, layer %d)",
                       di, s->headdim, layer);
    if (s->inner_norms)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.inner_norms: not supported by Mamba-2 ('M', layer %d): "
                       "its B and C go through the conv and the gated norm, not x_proj (needs false)", layer);
    int H = di / s->headdim;
    if (s->ngroups <= 0 || H % s->ngroups)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.ngroups: must divide the %d heads (d_inner / headdim = %d / %d) (got %d, layer %d)",
                       H, di, s->headdim, s->ngroups, layer);
    return HL_OK;
}

static void m2_declare(const hl_model_config *cfg, int layer, hl_decl *d) {
    (void)layer;
    m2_dims m = m2_dims_of(cfg);
    hl_decl_layer(d, SLOT_IN, "mamba2.in_proj.weight", "ssm", 1, 2, 2 * (int64_t)m.di + 2 * (int64_t)m.GN + m.H, m.d, 0);
    hl_decl_layer(d, SLOT_CONV_W, "mamba2.conv1d.weight", "ssm", 1, 3, m.conv, 1, m.K);
    hl_decl_layer(d, SLOT_CONV_B, "mamba2.conv1d.bias", "ssm", 0, 1, m.conv, 0, 0);
    hl_decl_layer(d, SLOT_DT_B, "mamba2.dt_bias", "ssm", 0, 1, m.H, 0, 0);
    hl_decl_layer(d, SLOT_ALOG, "mamba2.A_log", "ssm", 0, 1, m.H, 0, 0);
    hl_decl_layer(d, SLOT_D, "mamba2.D", "ssm", 0, 1, m.H, 0, 0);
    hl_decl_layer(d, SLOT_NORM, "mamba2.norm.weight", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, SLOT_OUT, "mamba2.out_proj.weight", "ssm", 1, 2, m.d, m.di, 0);
}

static void m2_init(hl_layer *L, uint64_t seed) {
    m2_dims m = m2_dims_of(L->cfg);
    hl_init_normal(L, SLOT_IN, 0.02, seed);
    hl_init_uniform(L, SLOT_CONV_W, 1.0 / sqrt((double)m.K), seed);
    hl_init_uniform(L, SLOT_CONV_B, 1.0 / sqrt((double)m.K), seed);
    hl_rng rng = hl_rng_for(seed, L->t[SLOT_DT_B]->name);
    const double lo = log(1e-3), hi = log(1e-1);
    for (int h = 0; h < m.H; h++) {
        double dt = exp(lo + (hi - lo) * hl_rng_uniform(&rng));
        if (dt < 1e-4) dt = 1e-4;
        L->p[SLOT_DT_B][h] = (float)(dt + log(-expm1(-dt)));   // inverse of softplus
    }
    hl_rng ra = hl_rng_for(seed, L->t[SLOT_ALOG]->name);
    for (int h = 0; h < m.H; h++) L->p[SLOT_ALOG][h] = (float)log(1.0 + 15.0 * hl_rng_uniform(&ra));
    hl_init_const(L, SLOT_D, 1.0f);
    hl_init_const(L, SLOT_NORM, 1.0f);
    hl_init_normal(L, SLOT_OUT, hl_resid_std(L->cfg), seed);
}

static size_t m2_act_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    m2_dims m = m2_dims_of(cfg);
    m2_bufs b; size_t off = 0;
    carve(&m, B, T, NULL, &off, &b);
    return off;
}

static size_t m2_scratch_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    m2_dims m = m2_dims_of(cfg);
    m2_grads g; size_t off = 0;
    carve_grads(&m, B, T, NULL, &off, &g);
    return off;
}

// The rows of in_proj (2*di + 2GN + H, d) giving each part, in order z, x, B, C, dt.
static const float *w_rows(const float *W, const m2_dims *m, int part) {
    size_t row[5] = {0, (size_t)m->di, 2 * (size_t)m->di, 2 * (size_t)m->di + m->GN, 2 * (size_t)m->di + 2 * m->GN};
    return W + row[part] * m->d;
}
// The conv channel offset of part 0 (x), 1 (B), 2 (C).
static size_t conv_ch(const m2_dims *m, int part) { return part == 0 ? 0 : part == 1 ? (size_t)m->di : (size_t)m->di + m->GN; }

// The end of the mixer for n rows, after the scan wrote b->y: y * silu(z),
// the grouped gated RMSNorm, out_proj (the forward and the decode step).
static void m2_gate_norm_out(hl_layer *L, const hl_run *r, const m2_dims *m, const m2_bufs *b, int n, float *out) {
    hl_swiglu_fwd_args gate = { .out = b->g, .gate = b->z, .up = b->y, .n = (size_t)n * m->di };
    HL_RUN_OP(r, swiglu_fwd, &gate);
    hl_rmsnorm_fwd_args nm = { .out = b->gn, .rstd = b->rstd, .inp = b->g, .weight = L->p[SLOT_NORM], .N = n,
                               .C = m->di, .eps = L->cfg->norm_eps, .groups = m->G };
    HL_RUN_OP(r, rmsnorm_fwd, &nm);
    hl_linear(r, out, b->gn, L->p[SLOT_OUT], n, m->di, m->d);
}

static void m2_forward(hl_layer *L, const hl_run *r, float *out, const float *inp) {
    m2_dims m = m2_dims_of(L->cfg);
    m2_bufs b; size_t off = 0;
    carve(&m, r->B, r->T, L->act, &off, &b);
    int n = r->B * r->T;
    const float *W = L->p[SLOT_IN];
    float *pre[3] = {b.x, b.Bp, b.Cp}, *cv[3] = {b.xc, b.Bc, b.Cc}, *act[3] = {b.xs, b.Bs, b.Cs};
    int width[3] = {m.di, m.GN, m.GN};
    hl_linear(r, b.z, inp, w_rows(W, &m, 0), n, m.d, m.di);
    for (int k = 0; k < 3; k++) {
        hl_linear(r, pre[k], inp, w_rows(W, &m, k + 1), n, m.d, width[k]);
        hl_conv1d_fwd_args c = { .out = cv[k], .inp = pre[k], .weight = L->p[SLOT_CONV_W] + conv_ch(&m, k) * m.K,
                                 .bias = L->p[SLOT_CONV_B] + conv_ch(&m, k), .B = r->B, .T = r->T, .C = width[k], .K = m.K };
        HL_RUN_OP(r, conv1d_fwd, &c);
        hl_silu_fwd_args s = { .out = act[k], .inp = cv[k], .n = (size_t)n * width[k] };
        HL_RUN_OP(r, silu_fwd, &s);
    }
    hl_linear(r, b.dt, inp, w_rows(W, &m, 4), n, m.d, m.H);
    hl_ssd_fwd_args sd = { .y = b.y, .x = b.xs, .dt = b.dt, .dt_bias = L->p[SLOT_DT_B], .A_log = L->p[SLOT_ALOG],
                           .Bm = b.Bs, .Cm = b.Cs, .D = L->p[SLOT_D], .B = r->B, .T = r->T, .H = m.H, .P = m.P,
                           .G = m.G, .N = m.N, .chunk = m.chunk };
    HL_RUN_OP(r, ssd_fwd, &sd);
    m2_gate_norm_out(L, r, &m, &b, n, out);
}

static void m2_backward(hl_layer *L, const hl_run *r, float *dinp, const float *dout, const float *inp) {
    m2_dims m = m2_dims_of(L->cfg);
    m2_bufs b; size_t off = 0;
    carve(&m, r->B, r->T, L->act, &off, &b);
    m2_grads g; size_t goff = 0;
    carve_grads(&m, r->B, r->T, r->scratch, &goff, &g);
    int n = r->B * r->T;
    size_t ndi = (size_t)n * m.di;
    const float *W = L->p[SLOT_IN];
    float *gW = L->g[SLOT_IN];
    hl_linear_bwd(r, g.dgn, L->g[SLOT_OUT], dout, b.gn, L->p[SLOT_OUT], n, m.di, m.d);
    hl_rmsnorm_bwd_args nm = { .dinp = g.dg, .dweight = L->g[SLOT_NORM], .dout = g.dgn, .inp = b.g,
                               .weight = L->p[SLOT_NORM], .rstd = b.rstd, .N = n, .C = m.di, .groups = m.G };
    HL_RUN_OP(r, rmsnorm_bwd, &nm);
    hl_swiglu_bwd_args gate = { .dgate = g.dz, .dup = g.dy, .dout = g.dg, .gate = b.z, .up = b.y, .n = ndi };
    HL_RUN_OP(r, swiglu_bwd, &gate);
    hl_ssd_bwd_args sd = { .dx = g.dxs, .ddt = g.ddt, .dBm = g.dBs, .dCm = g.dCs, .ddt_bias = L->g[SLOT_DT_B],
                           .dA_log = L->g[SLOT_ALOG], .dD = L->g[SLOT_D], .dy = g.dy, .x = b.xs, .dt = b.dt,
                           .dt_bias = L->p[SLOT_DT_B], .A_log = L->p[SLOT_ALOG], .Bm = b.Bs, .Cm = b.Cs,
                           .D = L->p[SLOT_D], .B = r->B, .T = r->T, .H = m.H, .P = m.P, .G = m.G, .N = m.N,
                           .chunk = m.chunk };
    HL_RUN_OP(r, ssd_bwd, &sd);
    // dinp: z and dt parts, then x, B, C through SiLU and the conv
    hl_linear_bwd(r, dinp, gW, g.dz, inp, W, n, m.d, m.di);
    hl_linear_bwd(r, g.part, gW + (size_t)(w_rows(W, &m, 4) - W), g.ddt, inp, w_rows(W, &m, 4), n, m.d, m.H);
    hl_add_inplace(r, dinp, g.part, (size_t)n * m.d);
    float *dact[3] = {g.dxs, g.dBs, g.dCs}, *dcv[3] = {g.dxc, g.dBc, g.dCc}, *dpre[3] = {g.dx, g.dB, g.dC};
    const float *pre[3] = {b.x, b.Bp, b.Cp}, *cv[3] = {b.xc, b.Bc, b.Cc};
    int width[3] = {m.di, m.GN, m.GN};
    for (int k = 0; k < 3; k++) {
        hl_silu_bwd_args s = { .dinp = dcv[k], .dout = dact[k], .inp = cv[k], .n = (size_t)n * width[k] };
        HL_RUN_OP(r, silu_bwd, &s);
        hl_conv1d_bwd_args c = { .dinp = dpre[k], .dweight = L->g[SLOT_CONV_W] + conv_ch(&m, k) * m.K,
                                 .dbias = L->g[SLOT_CONV_B] + conv_ch(&m, k), .dout = dcv[k], .inp = pre[k],
                                 .weight = L->p[SLOT_CONV_W] + conv_ch(&m, k) * m.K, .B = r->B, .T = r->T,
                                 .C = width[k], .K = m.K };
        HL_RUN_OP(r, conv1d_bwd, &c);
        const float *Wk = w_rows(W, &m, k + 1);
        hl_linear_bwd(r, g.part, gW + (size_t)(Wk - W), dpre[k], inp, Wk, n, m.d, width[k]);
        hl_add_inplace(r, dinp, g.part, (size_t)n * m.d);
    }
}

// Per token: matmuls 2*d*(2di + 2GN + H) + 2*di*d; conv 2*(di + 2GN)*K; the
// scan as its recurrence, 5*di*N: per state element the update dA*s +
// (delta*x)*B as 3 and the readout s*C accumulate as 2 (exp(delta*A) is once
// per head, not per element as in Mamba-1's 6*di*N). DECISION: the count is
// the recurrence's, not the chunked SSD's that the cpu backend runs, so it
// does not move with chunk_size (an implementation knob that leaves the
// function unchanged) and S and M compare like for like. The chunked
// forward does about (4N + L)*di + L*G*N per token (C s0^T and the state
// update 2*di*N each, the masked M X and C B^T over the lower triangle of an
// L = chunk_size block); at the defaults (L = 256 = 2N) that is 1.2x the
// recurrence's (d 2560, N 128: 3.96M vs 3.28M per token), both under 5% of
// the mixer's 84M. Elementwise ops (SiLU, gate, norm, softplus) ignored.
static double m2_flops(const hl_model_config *cfg, int layer, int64_t T) {
    (void)layer; (void)T;
    m2_dims m = m2_dims_of(cfg);
    return 2.0 * m.d * (2.0 * m.di + 2.0 * m.GN + m.H) + 2.0 * m.di * m.d + 2.0 * m.conv * m.K + 5.0 * m.di * m.N;
}

// The decode state the recurrent form will keep: conv (di + 2GN) x K and SSM H x headdim x N.
static int64_t m2_cache_bytes(const hl_model_config *cfg, int layer, int64_t T, int bytes) {
    (void)layer; (void)T;
    m2_dims m = m2_dims_of(cfg);
    return ((int64_t)m.conv * m.K + (int64_t)m.H * m.P * m.N) * bytes;
}

// ---------------------------------------------------------------- inference state
// Per row: the conv rings of x (K, di), B (K, GN) and C (K, GN) (slot p % K
// holds the pre-conv input of position p), then the SSM state (H, P, N).
// Laid out as four parts (max_B, per_row) back to back (layer.h state_parts).
static size_t m2_state_floats(const hl_model_config *cfg, int layer, int max_B, int max_len) {
    (void)layer; (void)max_len;
    m2_dims m = m2_dims_of(cfg);
    return (size_t)max_B * ((size_t)m.K * m.conv + (size_t)m.H * m.P * m.N);
}

static int m2_state_parts(const hl_model_config *cfg, int layer, int max_B, int max_len, size_t *per_row,
                          int max_parts) {
    (void)layer; (void)max_B; (void)max_len;
    m2_dims m = m2_dims_of(cfg);
    if (max_parts < 4) return 0;
    per_row[0] = (size_t)m.K * m.di;            // conv ring of x
    per_row[1] = (size_t)m.K * m.GN;            // conv ring of B
    per_row[2] = (size_t)m.K * m.GN;            // conv ring of C
    per_row[3] = (size_t)m.H * m.P * m.N;       // SSM state
    return 4;
}

// The four parts of a state made for max_B rows: rings[3] and the SSM state.
static float *m2_state_split(const m2_dims *m, float *state, int max_B, float *rings[3]) {
    rings[0] = state;
    rings[1] = rings[0] + (size_t)max_B * m->K * m->di;
    rings[2] = rings[1] + (size_t)max_B * m->K * m->GN;
    return rings[2] + (size_t)max_B * m->K * m->GN;
}

static void m2_state_prefill(hl_layer *L, const hl_run *r, const hl_decode_ctx *c) {
    m2_dims m = m2_dims_of(L->cfg);
    m2_bufs b; size_t off = 0;
    carve(&m, r->B, r->T, L->act, &off, &b);
    float *rings[3], *ssm = m2_state_split(&m, c->state[L->index], c->max_B, rings);
    const float *pre[3] = {b.x, b.Bp, b.Cp};
    int width[3] = {m.di, m.GN, m.GN};
    for (int k = 0; k < 3; k++) {
        hl_cache_fill_args f = { .cache = rings[k], .src = pre[k], .lens = c->lens, .B = r->B, .T = r->T,
                                 .C = width[k], .n_meta = 0, .R = m.K };
        HL_RUN_OP(r, cache_fill, &f);
    }
    hl_ssd_state_args s = { .s = ssm, .x = b.xs, .dt = b.dt, .dt_bias = L->p[SLOT_DT_B], .A_log = L->p[SLOT_ALOG],
                            .Bm = b.Bs, .lens = c->lens, .B = r->B, .T = r->T, .H = m.H, .P = m.P, .G = m.G, .N = m.N };
    HL_RUN_OP(r, ssd_state, &s);
}

// One token per row: m2_forward with conv1d_step and ssd_step in place of the
// sequence ops.
static void m2_state_step(hl_layer *L, const hl_run *r, const hl_decode_ctx *c, float *out, const float *inp) {
    m2_dims m = m2_dims_of(L->cfg);
    m2_bufs b; size_t off = 0;
    carve(&m, r->B, 1, L->act, &off, &b);
    int n = r->B;
    const float *W = L->p[SLOT_IN];
    float *rings[3], *ssm = m2_state_split(&m, c->state[L->index], c->max_B, rings);
    float *pre[3] = {b.x, b.Bp, b.Cp}, *cv[3] = {b.xc, b.Bc, b.Cc}, *act[3] = {b.xs, b.Bs, b.Cs};
    int width[3] = {m.di, m.GN, m.GN};
    hl_linear(r, b.z, inp, w_rows(W, &m, 0), n, m.d, m.di);
    for (int k = 0; k < 3; k++) {
        hl_linear(r, pre[k], inp, w_rows(W, &m, k + 1), n, m.d, width[k]);
        hl_conv1d_step_args cs = { .out = cv[k], .state = rings[k], .inp = pre[k],
                                   .weight = L->p[SLOT_CONV_W] + conv_ch(&m, k) * m.K,
                                   .bias = L->p[SLOT_CONV_B] + conv_ch(&m, k), .pos = c->pos, .B = n, .C = width[k], .K = m.K };
        HL_RUN_OP(r, conv1d_step, &cs);
        hl_silu_fwd_args si = { .out = act[k], .inp = cv[k], .n = (size_t)n * width[k] };
        HL_RUN_OP(r, silu_fwd, &si);
    }
    hl_linear(r, b.dt, inp, w_rows(W, &m, 4), n, m.d, m.H);
    hl_ssd_step_args st = { .y = b.y, .s = ssm, .x = b.xs, .dt = b.dt, .dt_bias = L->p[SLOT_DT_B],
                            .A_log = L->p[SLOT_ALOG], .Bm = b.Bs, .Cm = b.Cs, .D = L->p[SLOT_D], .B = n, .H = m.H,
                            .P = m.P, .G = m.G, .N = m.N };
    HL_RUN_OP(r, ssd_step, &st);
    m2_gate_norm_out(L, r, &m, &b, n, out);
}

const hl_layer_type hl_layer_mamba2 = {
    .letter = 'M', .name = "mamba2", .part = HL_PART_MIXER, .caps = HL_CAP_STATE,
    .sections = {&hl_layer_mamba_ssm_section},
    .default_v_head_dim = NULL, .check = hl_mamba2_check,
    .declare = m2_declare, .init = m2_init,
    .act_floats = m2_act_floats, .scratch_floats = m2_scratch_floats,
    .forward = m2_forward, .backward = m2_backward,
    .flops = m2_flops, .cache_bytes = m2_cache_bytes,
    .state_floats = m2_state_floats, .state_prefill = m2_state_prefill, .state_step = m2_state_step,
    .state_parts = m2_state_parts,
};
