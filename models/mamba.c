// mamba.c: mixer 'S', state-spaces/mamba's `Mamba` (Mamba-1) exactly:
//   x, z   = in_proj(inp)                     in_proj (2*di, d), no bias; x first
//   u      = silu(conv1d(x))                  causal depthwise, weight (di, 1, K) + bias
//   dtl, Bm, Cm = x_proj(u)                   x_proj (R + 2N, di), no bias, in that order
//   [inner norms: dtl, Bm, Cm = rmsnorm(dtl, dt_layernorm), rmsnorm(Bm, b_layernorm),
//    rmsnorm(Cm, c_layernorm)]               Jamba/Hymba's mamba_inner_layernorms
//   dt     = dt_proj.weight @ dtl             dt_proj (di, R); its bias is the scan's dt_bias
//   y      = selective_scan(u, dt, A_log, Bm, Cm, D)   softplus inside the scan
//   out    = out_proj(y * silu(z))            out_proj (d, di), no bias
// Init (state-spaces/mamba): dt_proj.weight U(+-R^-0.5); dt_proj.bias =
// inverse softplus of dt ~ exp(U[log 1e-3, log 1e-1]) clamped >= 1e-4;
// A_log[c, n] = log(n + 1); D = 1; conv1d weight and bias U(+-1/sqrt(K))
// (PyTorch's default, fan_in = K); in_proj and x_proj normal(0, 0.02) (our
// choice, as for every other linear); out_proj normal(0, 0.02/sqrt(2*n_layers)).
#include <math.h>
#include <stddef.h>
#include "models/mamba.h"

enum { SLOT_OUT = HL_MB_NSLOTS, N_SLOTS };

// ---------------------------------------------------------------- the branch
hl_mamba_dims hl_mamba_dims_of(const hl_model_config *cfg) {
    hl_mamba_dims m;
    m.d = cfg->d_model;
    m.di = cfg->ssm.expand * cfg->d_model;
    m.N = cfg->ssm.d_state;
    m.K = cfg->ssm.d_conv;
    m.R = cfg->ssm.dt_rank > 0 ? cfg->ssm.dt_rank : (cfg->d_model + 15) / 16;
    m.inner = cfg->ssm.inner_norms != 0;
    return m;
}

void hl_mamba_declare(const hl_model_config *cfg, hl_decl *d, int base) {
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    hl_decl_layer(d, base + HL_MB_IN, "mamba.in_proj.weight", "ssm", 1, 2, 2 * (int64_t)m.di, m.d, 0);
    hl_decl_layer(d, base + HL_MB_CONV_W, "mamba.conv1d.weight", "ssm", 1, 3, m.di, 1, m.K);
    hl_decl_layer(d, base + HL_MB_CONV_B, "mamba.conv1d.bias", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, base + HL_MB_XPROJ, "mamba.x_proj.weight", "ssm", 1, 2, (int64_t)m.R + 2 * (int64_t)m.N, m.di, 0);
    hl_decl_layer(d, base + HL_MB_DT_W, "mamba.dt_proj.weight", "ssm", 1, 2, m.di, m.R, 0);
    hl_decl_layer(d, base + HL_MB_DT_B, "mamba.dt_proj.bias", "ssm", 0, 1, m.di, 0, 0);
    hl_decl_layer(d, base + HL_MB_ALOG, "mamba.A_log", "ssm", 0, 2, m.di, m.N, 0);
    hl_decl_layer(d, base + HL_MB_D, "mamba.D", "ssm", 0, 1, m.di, 0, 0);
    if (!m.inner) return;
    // Jamba's names (JambaMambaMixer.dt_layernorm ...); Hymba's mixer uses the same.
    hl_decl_layer(d, base + HL_MB_DT_NORM, "mamba.dt_layernorm.weight", "ssm", 0, 1, m.R, 0, 0);
    hl_decl_layer(d, base + HL_MB_B_NORM, "mamba.b_layernorm.weight", "ssm", 0, 1, m.N, 0, 0);
    hl_decl_layer(d, base + HL_MB_C_NORM, "mamba.c_layernorm.weight", "ssm", 0, 1, m.N, 0, 0);
}

// dt_proj.bias = softplus^-1(dt), dt = exp(U[log 1e-3, log 1e-1]) clamped >= 1e-4.
static void init_dt_bias(float *bias, int di, uint64_t seed, const char *name) {
    hl_rng rng = hl_rng_for(seed, name);
    const double lo = log(1e-3), hi = log(1e-1);
    for (int c = 0; c < di; c++) {
        double dt = exp(lo + (hi - lo) * hl_rng_uniform(&rng));
        if (dt < 1e-4) dt = 1e-4;
        bias[c] = (float)(dt + log(-expm1(-dt)));   // inverse of softplus
    }
}

void hl_mamba_init(hl_layer *L, int base, uint64_t seed) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    hl_init_normal(L, base + HL_MB_IN, 0.02, seed);
    hl_init_uniform(L, base + HL_MB_CONV_W, 1.0 / sqrt((double)m.K), seed);
    hl_init_uniform(L, base + HL_MB_CONV_B, 1.0 / sqrt((double)m.K), seed);
    hl_init_normal(L, base + HL_MB_XPROJ, 0.02, seed);
    hl_init_uniform(L, base + HL_MB_DT_W, 1.0 / sqrt((double)m.R), seed);
    init_dt_bias(L->p[base + HL_MB_DT_B], m.di, seed, L->t[base + HL_MB_DT_B]->name);
    float *A_log = L->p[base + HL_MB_ALOG];   // (di, N)
    for (int c = 0; c < m.di; c++)
        for (int n = 0; n < m.N; n++) A_log[(size_t)c * m.N + n] = (float)log((double)(n + 1));
    hl_init_const(L, base + HL_MB_D, 1.0f);
    hl_init_const(L, base + HL_MB_DT_NORM, 1.0f);   // no-ops when the inner norms are off
    hl_init_const(L, base + HL_MB_B_NORM, 1.0f);
    hl_init_const(L, base + HL_MB_C_NORM, 1.0f);
}

void hl_mamba_carve(const hl_mamba_dims *m, int B, int T, float *base, size_t *off, hl_mamba_bufs *b) {
    size_t n = (size_t)B * T;
    b->x = hl_take(base, off, n * m->di);
    b->z = hl_take(base, off, n * m->di);
    b->xc = hl_take(base, off, n * m->di);
    b->u = hl_take(base, off, n * m->di);
    b->dtl = hl_take(base, off, n * m->R);
    b->Bm = hl_take(base, off, n * m->N);
    b->Cm = hl_take(base, off, n * m->N);
    b->dt = hl_take(base, off, n * m->di);
    b->y = hl_take(base, off, n * m->di);
    b->gy = hl_take(base, off, n * m->di);
    b->dtl_raw = b->Bm_raw = b->Cm_raw = b->rstd_dt = b->rstd_B = b->rstd_C = NULL;
    if (!m->inner) return;
    b->dtl_raw = hl_take(base, off, n * m->R);
    b->Bm_raw = hl_take(base, off, n * m->N);
    b->Cm_raw = hl_take(base, off, n * m->N);
    b->rstd_dt = hl_take(base, off, n);
    b->rstd_B = hl_take(base, off, n);
    b->rstd_C = hl_take(base, off, n);
}

// Backward temporaries: dz, dy, du, ddt, dx (B,T,di) each, ddtl (B,T,R),
// dBm, dCm (B,T,N), and a (B,T,di)/(B,T,d) partial; with the inner norms
// also the gradients of x_proj's raw rows: ddtl_raw (B,T,R), dBm_raw, dCm_raw (B,T,N).
typedef struct { float *dz, *dy, *du, *ddt, *dx, *ddtl, *dBm, *dCm, *part_di, *part_d,
                 *ddtl_raw, *dBm_raw, *dCm_raw; } mamba_grads;

static void carve_grads(const hl_mamba_dims *m, int B, int T, float *base, size_t *off, mamba_grads *g) {
    size_t n = (size_t)B * T;
    g->dz = hl_take(base, off, n * m->di);
    g->dy = hl_take(base, off, n * m->di);
    g->du = hl_take(base, off, n * m->di);
    g->ddt = hl_take(base, off, n * m->di);
    g->dx = hl_take(base, off, n * m->di);
    g->ddtl = hl_take(base, off, n * m->R);
    g->dBm = hl_take(base, off, n * m->N);
    g->dCm = hl_take(base, off, n * m->N);
    g->part_di = hl_take(base, off, n * m->di);
    g->part_d = hl_take(base, off, n * m->d);
    g->ddtl_raw = g->dBm_raw = g->dCm_raw = NULL;
    if (!m->inner) return;
    g->ddtl_raw = hl_take(base, off, n * m->R);
    g->dBm_raw = hl_take(base, off, n * m->N);
    g->dCm_raw = hl_take(base, off, n * m->N);
}

size_t hl_mamba_scratch_floats(const hl_mamba_dims *m, int B, int T) {
    mamba_grads g; size_t off = 0;
    carve_grads(m, B, T, NULL, &off, &g);
    return off;
}

// The branch's projections of n rows, shared by the forward and the decode
// step (which differ only in the conv and the scan between them).
// in_proj: x, z (n, di) from inp (n, d).
static void mamba_in_proj(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b, const float *inp,
                          const hl_mamba_dims *m, int n) {
    const float *W_in = L->p[base + HL_MB_IN];      // (2*di, d): rows 0..di-1 give x, then z
    hl_linear(r, b->x, inp, W_in, n, m->d, m->di);
    hl_linear(r, b->z, inp, W_in + (size_t)m->di * m->d, n, m->d, m->di);
}

// One inner norm: out (n, C) = rmsnorm(inp (n, C)) * weight (C), rstd (n).
static void inner_norm(const hl_run *r, float *out, float *rstd, const float *inp, const float *w,
                       int n, int C, float eps) {
    hl_rmsnorm_fwd_args a = { .out = out, .rstd = rstd, .inp = inp, .weight = w, .N = n, .C = C, .eps = eps };
    HL_RUN_OP(r, rmsnorm_fwd, &a);
}

// Its backward: dinp (n, C) from dout, weight gradient added to dw.
static void inner_norm_bwd(const hl_run *r, float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, const float *rstd, int n, int C) {
    hl_rmsnorm_bwd_args a = { .dinp = dinp, .dweight = dw, .dout = dout, .inp = inp, .weight = w,
                              .rstd = rstd, .N = n, .C = C };
    HL_RUN_OP(r, rmsnorm_bwd, &a);
}

// x_proj, the inner norms when on, and dt_proj: dtl (n, R), Bm, Cm (n, N)
// and dt (n, di) from u (n, di).
static void mamba_x_proj(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b,
                         const hl_mamba_dims *m, int n) {
    const float *W_x = L->p[base + HL_MB_XPROJ];    // (R + 2N, di): dt, B, C rows
    float *dtl = m->inner ? b->dtl_raw : b->dtl, *Bm = m->inner ? b->Bm_raw : b->Bm;
    float *Cm = m->inner ? b->Cm_raw : b->Cm;
    hl_linear(r, dtl, b->u, W_x, n, m->di, m->R);
    hl_linear(r, Bm, b->u, W_x + (size_t)m->R * m->di, n, m->di, m->N);
    hl_linear(r, Cm, b->u, W_x + (size_t)(m->R + m->N) * m->di, n, m->di, m->N);
    if (m->inner) {
        float eps = L->cfg->norm_eps;
        inner_norm(r, b->dtl, b->rstd_dt, dtl, L->p[base + HL_MB_DT_NORM], n, m->R, eps);
        inner_norm(r, b->Bm, b->rstd_B, Bm, L->p[base + HL_MB_B_NORM], n, m->N, eps);
        inner_norm(r, b->Cm, b->rstd_C, Cm, L->p[base + HL_MB_C_NORM], n, m->N, eps);
    }
    hl_linear(r, b->dt, b->dtl, L->p[base + HL_MB_DT_W], n, m->R, m->di);
}

void hl_mamba_forward(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b, const float *inp) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    int n = r->B * r->T;
    mamba_in_proj(L, r, base, b, inp, &m, n);
    hl_conv1d_fwd_args cv = { .out = b->xc, .inp = b->x, .weight = L->p[base + HL_MB_CONV_W],
                              .bias = L->p[base + HL_MB_CONV_B], .B = r->B, .T = r->T, .C = m.di, .K = m.K };
    HL_RUN_OP(r, conv1d_fwd, &cv);
    hl_silu_fwd_args si = { .out = b->u, .inp = b->xc, .n = (size_t)n * m.di };
    HL_RUN_OP(r, silu_fwd, &si);
    mamba_x_proj(L, r, base, b, &m, n);
    hl_scan_fwd_args sc = { .y = b->y, .u = b->u, .dt = b->dt, .dt_bias = L->p[base + HL_MB_DT_B],
                            .A_log = L->p[base + HL_MB_ALOG], .Bm = b->Bm, .Cm = b->Cm,
                            .D = L->p[base + HL_MB_D], .B = r->B, .T = r->T, .C = m.di, .N = m.N };
    HL_RUN_OP(r, scan_fwd, &sc);
    hl_swiglu_fwd_args gate = { .out = b->gy, .gate = b->z, .up = b->y, .n = (size_t)n * m.di };
    HL_RUN_OP(r, swiglu_fwd, &gate);
}

void hl_mamba_backward(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b,
                       float *dinp, const float *dgy, const float *inp, float *scratch) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    int n = r->B * r->T;
    size_t ndi = (size_t)n * m.di, off = 0;
    mamba_grads g;
    carve_grads(&m, r->B, r->T, scratch, &off, &g);
    const float *W_in = L->p[base + HL_MB_IN], *W_x = L->p[base + HL_MB_XPROJ];
    float *gW_in = L->g[base + HL_MB_IN], *gW_x = L->g[base + HL_MB_XPROJ];
    size_t x_rows_B = (size_t)m.R * m.di, x_rows_C = (size_t)(m.R + m.N) * m.di;

    hl_swiglu_bwd_args gate = { .dgate = g.dz, .dup = g.dy, .dout = dgy, .gate = b->z, .up = b->y, .n = ndi };
    HL_RUN_OP(r, swiglu_bwd, &gate);
    hl_scan_bwd_args sc = { .du = g.du, .ddt = g.ddt, .dBm = g.dBm, .dCm = g.dCm,
                            .ddt_bias = L->g[base + HL_MB_DT_B], .dA_log = L->g[base + HL_MB_ALOG],
                            .dD = L->g[base + HL_MB_D], .dy = g.dy,
                            .u = b->u, .dt = b->dt, .dt_bias = L->p[base + HL_MB_DT_B],
                            .A_log = L->p[base + HL_MB_ALOG], .Bm = b->Bm, .Cm = b->Cm,
                            .D = L->p[base + HL_MB_D], .B = r->B, .T = r->T, .C = m.di, .N = m.N };
    HL_RUN_OP(r, scan_bwd, &sc);
    // du collects the scan's direct term plus the three x_proj paths.
    hl_linear_bwd(r, g.ddtl, L->g[base + HL_MB_DT_W], g.ddt, b->dtl, L->p[base + HL_MB_DT_W], n, m.R, m.di);
    if (m.inner) {   // back through the inner norms to x_proj's raw rows
        inner_norm_bwd(r, g.ddtl_raw, L->g[base + HL_MB_DT_NORM], g.ddtl, b->dtl_raw, L->p[base + HL_MB_DT_NORM],
                       b->rstd_dt, n, m.R);
        inner_norm_bwd(r, g.dBm_raw, L->g[base + HL_MB_B_NORM], g.dBm, b->Bm_raw, L->p[base + HL_MB_B_NORM],
                       b->rstd_B, n, m.N);
        inner_norm_bwd(r, g.dCm_raw, L->g[base + HL_MB_C_NORM], g.dCm, b->Cm_raw, L->p[base + HL_MB_C_NORM],
                       b->rstd_C, n, m.N);
        g.ddtl = g.ddtl_raw; g.dBm = g.dBm_raw; g.dCm = g.dCm_raw;
    }
    hl_linear_bwd(r, g.part_di, gW_x, g.ddtl, b->u, W_x, n, m.di, m.R);
    hl_add_inplace(r, g.du, g.part_di, ndi);
    hl_linear_bwd(r, g.part_di, gW_x + x_rows_B, g.dBm, b->u, W_x + x_rows_B, n, m.di, m.N);
    hl_add_inplace(r, g.du, g.part_di, ndi);
    hl_linear_bwd(r, g.part_di, gW_x + x_rows_C, g.dCm, b->u, W_x + x_rows_C, n, m.di, m.N);
    hl_add_inplace(r, g.du, g.part_di, ndi);
    // through SiLU and the conv: dxc reuses ddt (no longer needed)
    float *dxc = g.ddt;
    hl_silu_bwd_args si = { .dinp = dxc, .dout = g.du, .inp = b->xc, .n = ndi };
    HL_RUN_OP(r, silu_bwd, &si);
    hl_conv1d_bwd_args cv = { .dinp = g.dx, .dweight = L->g[base + HL_MB_CONV_W],
                              .dbias = L->g[base + HL_MB_CONV_B], .dout = dxc, .inp = b->x,
                              .weight = L->p[base + HL_MB_CONV_W], .B = r->B, .T = r->T, .C = m.di, .K = m.K };
    HL_RUN_OP(r, conv1d_bwd, &cv);
    hl_linear_bwd(r, dinp, gW_in, g.dx, inp, W_in, n, m.d, m.di);
    hl_linear_bwd(r, g.part_d, gW_in + (size_t)m.di * m.d, g.dz, inp, W_in + (size_t)m.di * m.d, n, m.d, m.di);
    hl_add_inplace(r, dinp, g.part_d, (size_t)n * m.d);
}

// ---------------------------------------------------------------- inference state
size_t hl_mamba_state_floats(const hl_model_config *cfg, int max_B) {
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    return (size_t)max_B * m.di * ((size_t)m.K + m.N);
}

void hl_mamba_prefill(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b,
                      const hl_decode_ctx *c, float *state) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    float *conv = state, *h = state + (size_t)c->max_B * m.K * m.di;
    hl_cache_fill_args f = { .cache = conv, .src = b->x, .lens = c->lens, .B = r->B, .T = r->T,
                             .C = m.di, .n_meta = 0, .R = m.K };
    HL_RUN_OP(r, cache_fill, &f);
    hl_scan_state_args s = { .h = h, .u = b->u, .dt = b->dt, .dt_bias = L->p[base + HL_MB_DT_B],
                             .A_log = L->p[base + HL_MB_ALOG], .Bm = b->Bm, .lens = c->lens,
                             .B = r->B, .T = r->T, .C = m.di, .N = m.N };
    HL_RUN_OP(r, scan_state, &s);
}

void hl_mamba_step(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b,
                   const hl_decode_ctx *c, float *state, const float *inp) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    int B = r->B;
    float *conv = state, *h = state + (size_t)c->max_B * m.K * m.di;
    mamba_in_proj(L, r, base, b, inp, &m, B);
    hl_conv1d_step_args cv = { .out = b->xc, .state = conv, .inp = b->x, .weight = L->p[base + HL_MB_CONV_W],
                               .bias = L->p[base + HL_MB_CONV_B], .pos = c->pos, .B = B, .C = m.di, .K = m.K };
    HL_RUN_OP(r, conv1d_step, &cv);
    hl_silu_fwd_args si = { .out = b->u, .inp = b->xc, .n = (size_t)B * m.di };
    HL_RUN_OP(r, silu_fwd, &si);
    mamba_x_proj(L, r, base, b, &m, B);
    hl_scan_step_args sc = { .y = b->y, .h = h, .u = b->u, .dt = b->dt, .dt_bias = L->p[base + HL_MB_DT_B],
                             .A_log = L->p[base + HL_MB_ALOG], .Bm = b->Bm, .Cm = b->Cm,
                             .D = L->p[base + HL_MB_D], .B = B, .C = m.di, .N = m.N };
    HL_RUN_OP(r, scan_step, &sc);
    hl_swiglu_fwd_args gate = { .out = b->gy, .gate = b->z, .up = b->y, .n = (size_t)B * m.di };
    HL_RUN_OP(r, swiglu_fwd, &gate);
}

// Per token: matmuls 2*(d*2di + di*(R+2N) + R*di); conv 2*di*K; scan 6*di*N
// (per state element: exp(delta*A) counted as 1, the update dA*h + (delta*u)*B
// as 3, the readout h*C accumulate as 2). Elementwise ops (SiLU, gate) ignored.
double hl_mamba_flops(const hl_model_config *cfg) {
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    double mm = 2.0 * ((double)m.d * 2 * m.di + (double)m.di * ((double)m.R + 2.0 * m.N) + (double)m.R * m.di);
    return mm + 2.0 * m.di * m.K + 6.0 * m.di * m.N;   // the inner norms (O(R + 2N)) are ignored
}

int64_t hl_mamba_state_bytes(const hl_model_config *cfg, int bytes) {
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    return ((int64_t)m.di * m.N + (int64_t)m.di * m.K) * bytes;
}

int hl_mamba_check(const hl_model_config *cfg, int layer, char *err, size_t errlen) {
    if (cfg->ssm.expand <= 0 || cfg->ssm.d_state <= 0 || cfg->ssm.d_conv <= 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm: expand, d_state and d_conv must be positive (layer %d)", layer);
    if ((int64_t)cfg->ssm.expand * cfg->d_model > HL_MAX_WIDTH)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.expand: d_inner = expand * d_model must be at most %d (got %d * %d)",
                       HL_MAX_WIDTH, cfg->ssm.expand, cfg->d_model);
    return HL_OK;
}

// ---------------------------------------------------------------- the 'S' layer
static void mamba_declare(const hl_model_config *cfg, int layer, hl_decl *d) {
    (void)layer;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    hl_mamba_declare(cfg, d, 0);
    hl_decl_layer(d, SLOT_OUT, "mamba.out_proj.weight", "ssm", 1, 2, m.d, m.di, 0);
}

static void mamba_init(hl_layer *L, uint64_t seed) {
    hl_mamba_init(L, 0, seed);
    hl_init_normal(L, SLOT_OUT, hl_resid_std(L->cfg), seed);
}

static size_t mamba_act_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    hl_mamba_bufs b; size_t off = 0;
    hl_mamba_carve(&m, B, T, NULL, &off, &b);
    return off;
}

static size_t mamba_scratch_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    size_t off = 0;
    hl_take(NULL, &off, (size_t)B * T * m.di);   // dgy
    return off + hl_mamba_scratch_floats(&m, B, T);
}

static void mamba_forward(hl_layer *L, const hl_run *r, float *out, const float *inp) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    hl_mamba_bufs b; size_t off = 0;
    hl_mamba_carve(&m, r->B, r->T, L->act, &off, &b);
    hl_mamba_forward(L, r, 0, &b, inp);
    // out (B, T, d) = gy (B, T, di) @ out_proj^T
    hl_linear(r, out, b.gy, L->p[SLOT_OUT], r->B * r->T, m.di, m.d);
}

static void mamba_backward(hl_layer *L, const hl_run *r, float *dinp, const float *dout, const float *inp) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    hl_mamba_bufs b; size_t off = 0;
    hl_mamba_carve(&m, r->B, r->T, L->act, &off, &b);
    int n = r->B * r->T;
    size_t soff = 0;
    float *dgy = hl_take(r->scratch, &soff, (size_t)n * m.di);   // (B, T, di)
    hl_linear_bwd(r, dgy, L->g[SLOT_OUT], dout, b.gy, L->p[SLOT_OUT], n, m.di, m.d);
    hl_mamba_backward(L, r, 0, &b, dinp, dgy, inp, r->scratch + soff);
}

static double mamba_flops(const hl_model_config *cfg, int layer, int64_t T) {
    (void)layer; (void)T;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    return hl_mamba_flops(cfg) + 2.0 * m.di * m.d;
}

static int64_t mamba_cache_bytes(const hl_model_config *cfg, int layer, int64_t T, int bytes) {
    (void)layer; (void)T;
    return hl_mamba_state_bytes(cfg, bytes);
}


// ---------------------------------------------------------------- spec section model.ssm
// Keys (offsets in hl_model_config), read by every layer type with a Mamba
// branch ('S', 'H'):
//   d_state  16, in [1, 1024]
//   d_conv   4, in [1, 256]
//   expand   2, in [1, 16]; d_inner = expand * d_model <= 2^18 (HL_MAX_WIDTH)
//   dt_rank  0, in [0, 65536]; 0 means ceil(d_model / 16) (stored resolved)
//   inner_norms  false: RMSNorms (weight, eps model.norm_eps) on x_proj's dt
//            (R), B and C (N) rows before dt_proj and the scan (Jamba's and
//            Hymba's mamba_inner_layernorms); left out of the canonical spec
//            while false (older specs keep their hash). 'S' and 'H' only:
//            Mamba-2 ('M') does not read it.
// and, read by Mamba-2 ('M', models/mamba2.c) only, left out of the
// canonical spec while at their defaults (so older specs keep their hash):
//   headdim     64, in [1, 65536]; must divide d_inner (mamba2.c's check)
//   ngroups     1, in [1, 65536]; must divide d_inner / headdim
//   chunk_size  256, in [1, 65536]: the SSD chunk length of training
static int ssm_finish(const hl_cfg_ctx *c, const char *path, void *obj) {
    hl_model_config *mc = obj;
    char p[HL_CFG_PATH_LEN];
    if (mc->ssm.dt_rank == 0) mc->ssm.dt_rank = (mc->d_model + 15) / 16;
    hl_cfg_join(p, path, "expand");
    if ((long long)mc->ssm.expand * mc->d_model > HL_MAX_WIDTH)
        return hl_cfg_fail(c, p, "d_inner = expand * d_model must be at most %d (got %d * %d)",
                           HL_MAX_WIDTH, mc->ssm.expand, mc->d_model);
    return HL_OK;
}

#define SSM_INT(key, field, d, hi) \
    {.name = key, .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, ssm.field), .dflt = d, .min = (d) ? 1 : 0, .max = hi}
static const hl_cfg_key ssm_keys[] = {
    SSM_INT("d_state", d_state, 16, 1024), SSM_INT("d_conv", d_conv, 4, 256), SSM_INT("expand", expand, 2, 16),
    SSM_INT("dt_rank", dt_rank, 0, HL_MAX_D_MODEL),
    {.name = "inner_norms", .kind = HL_CFG_BOOL, .offset = offsetof(hl_model_config, ssm.inner_norms), .dflt = 0,
     .flags = HL_CFG_OMIT_DEFAULT},
    {.name = "headdim", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, ssm.headdim), .dflt = 64, .min = 1,
     .max = HL_MAX_D_MODEL, .flags = HL_CFG_OMIT_DEFAULT},
    {.name = "ngroups", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, ssm.ngroups), .dflt = 1, .min = 1,
     .max = HL_MAX_D_MODEL, .flags = HL_CFG_OMIT_DEFAULT},
    {.name = "chunk_size", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, ssm.chunk_size), .dflt = 256,
     .min = 1, .max = HL_MAX_D_MODEL, .flags = HL_CFG_OMIT_DEFAULT},
    {.name = NULL}};

const hl_cfg_section hl_layer_mamba_ssm_section = {.name = "ssm", .keys = ssm_keys, .finish = ssm_finish};

static size_t mamba_state_floats(const hl_model_config *cfg, int layer, int max_B, int max_len) {
    (void)layer; (void)max_len;
    return hl_mamba_state_floats(cfg, max_B);
}

static int mamba_state_parts(const hl_model_config *cfg, int layer, int max_B, int max_len, size_t *per_row,
                             int max_parts) {
    (void)layer; (void)max_B; (void)max_len;
    hl_mamba_dims m = hl_mamba_dims_of(cfg);
    if (max_parts < 2) return 0;
    per_row[0] = (size_t)m.K * m.di;   // conv ring (max_B, K, di)
    per_row[1] = (size_t)m.di * m.N;   // SSM state (max_B, di, N)
    return 2;
}

static void mamba_state_prefill(hl_layer *L, const hl_run *r, const hl_decode_ctx *c) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    hl_mamba_bufs b; size_t off = 0;
    hl_mamba_carve(&m, r->B, r->T, L->act, &off, &b);
    hl_mamba_prefill(L, r, 0, &b, c, c->state[L->index]);
}

static void mamba_state_step(hl_layer *L, const hl_run *r, const hl_decode_ctx *c, float *out, const float *inp) {
    hl_mamba_dims m = hl_mamba_dims_of(L->cfg);
    hl_mamba_bufs b; size_t off = 0;
    hl_mamba_carve(&m, r->B, 1, L->act, &off, &b);
    hl_mamba_step(L, r, 0, &b, c, c->state[L->index], inp);
    hl_linear(r, out, b.gy, L->p[SLOT_OUT], r->B, m.di, m.d);
}

const hl_layer_type hl_layer_mamba = {
    .letter = 'S', .name = "mamba", .part = HL_PART_MIXER, .caps = HL_CAP_STATE,
    .sections = {&hl_layer_mamba_ssm_section},
    .default_v_head_dim = NULL, .check = hl_mamba_check,
    .declare = mamba_declare, .init = mamba_init,
    .act_floats = mamba_act_floats, .scratch_floats = mamba_scratch_floats,
    .forward = mamba_forward, .backward = mamba_backward,
    .flops = mamba_flops, .cache_bytes = mamba_cache_bytes,
    .state_floats = mamba_state_floats, .state_prefill = mamba_state_prefill, .state_step = mamba_state_step,
    .state_parts = mamba_state_parts,
};
