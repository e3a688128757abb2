// hybrid.c: mixer 'H', Hymba's parallel hybrid heads. Attention heads and a
// Mamba branch read the same normed input:
//   att = attention core (q/k/v proj, RoPE, SWA/meta, GQA, KV sharing)  (B,T,H*vd)
//   gy  = Mamba branch y * silu(z)                                       (B,T,di)
//   out = hybrid.out_proj((rmsnorm(att, beta1) + rmsnorm(gy, beta2)) / 2)
// Tensors: self_attn.{q,k,v}_proj (k/v absent for KV consumers), mamba.{in_proj,
// conv1d, x_proj, dt_proj, A_log, D} (no mamba.out_proj), hybrid.attn_norm.weight
// (beta1, H*vd), hybrid.ssm_norm.weight (beta2, di), hybrid.out_proj (d, di).
// Requires H*vd == di (hybrid_check, run by the spec parser and at create).
#include "models/attention.h"
#include "models/mamba.h"

enum { SLOT_Q, SLOT_K, SLOT_V, SLOT_MB, SLOT_ATTN_NORM = SLOT_MB + HL_MB_NSLOTS,
       SLOT_SSM_NORM, SLOT_OUT, N_SLOTS };

typedef struct {
    hl_attn_bufs attn;
    hl_mamba_bufs ssm;
    float *an;      // (B, T, H*vd) rmsnorm(att) * beta1
    float *sn;      // (B, T, di)   rmsnorm(gy) * beta2
    float *rstd_a;  // (B*T)
    float *rstd_s;  // (B*T)
    float *avg;     // (B, T, di)   (an + sn) / 2
} hybrid_bufs;

typedef struct { hl_attn_dims a; hl_mamba_dims m; } hybrid_dims;

static hybrid_dims dims_of(const hl_model_config *cfg, int layer) {
    hybrid_dims h = { hl_attn_dims_of(cfg, layer), hl_mamba_dims_of(cfg) };
    return h;
}

static void carve(const hybrid_dims *h, int B, int T, float *base, size_t *off, hybrid_bufs *b) {
    size_t n = (size_t)B * T;
    hl_attn_carve(&h->a, B, T, base, off, &b->attn);
    hl_mamba_carve(&h->m, B, T, base, off, &b->ssm);
    b->an = hl_take(base, off, n * h->a.H * h->a.vd);
    b->sn = hl_take(base, off, n * h->m.di);
    b->rstd_a = hl_take(base, off, n);
    b->rstd_s = hl_take(base, off, n);
    b->avg = hl_take(base, off, n * h->m.di);
}

static void hybrid_declare(const hl_model_config *cfg, int layer, hl_decl *d) {
    hybrid_dims h = dims_of(cfg, layer);
    hl_attn_declare_qkv(cfg, layer, d, SLOT_Q, SLOT_K, SLOT_V);
    hl_mamba_declare(cfg, d, SLOT_MB);
    hl_decl_layer(d, SLOT_ATTN_NORM, "hybrid.attn_norm.weight", "hybrid", 0, 1, (int64_t)h.a.H * h.a.vd, 0, 0);
    hl_decl_layer(d, SLOT_SSM_NORM, "hybrid.ssm_norm.weight", "hybrid", 0, 1, h.m.di, 0, 0);
    hl_decl_layer(d, SLOT_OUT, "hybrid.out_proj.weight", "hybrid", 1, 2, h.m.d, h.m.di, 0);
}

static void hybrid_init(hl_layer *L, uint64_t seed) {
    hl_init_normal(L, SLOT_Q, 0.02, seed);
    hl_init_normal(L, SLOT_K, 0.02, seed);
    hl_init_normal(L, SLOT_V, 0.02, seed);
    hl_mamba_init(L, SLOT_MB, seed);
    hl_init_const(L, SLOT_ATTN_NORM, 1.0f);
    hl_init_const(L, SLOT_SSM_NORM, 1.0f);
    hl_init_normal(L, SLOT_OUT, hl_resid_std(L->cfg), seed);
}

static size_t hybrid_act_floats(const hl_model_config *cfg, int layer, int B, int T) {
    hybrid_dims h = dims_of(cfg, layer);
    hybrid_bufs b; size_t off = 0;
    carve(&h, B, T, NULL, &off, &b);
    return off;
}

// Scratch: davg, datt, dgy (B,T,di each), dpart (B,T,d), then the larger of
// the attention core's and the Mamba branch's temporaries.
static size_t hybrid_scratch_floats(const hl_model_config *cfg, int layer, int B, int T) {
    hybrid_dims h = dims_of(cfg, layer);
    size_t n = (size_t)B * T, off = 0;
    hl_take(NULL, &off, n * h.m.di);
    hl_take(NULL, &off, n * h.a.H * h.a.vd);
    hl_take(NULL, &off, n * h.m.di);
    hl_take(NULL, &off, n * h.m.d);
    size_t sa = hl_attn_scratch_floats(&h.a, B, T), sm = hl_mamba_scratch_floats(&h.m, B, T);
    return off + (sa > sm ? sa : sm);
}

static void rmsnorm(const hl_run *r, float *out, float *rstd, const float *inp, const float *w,
                    int n, int C, float eps) {
    hl_rmsnorm_fwd_args a = { .out = out, .rstd = rstd, .inp = inp, .weight = w, .N = n, .C = C, .eps = eps };
    HL_RUN_OP(r, rmsnorm_fwd, &a);
}

// out (n, d) = out_proj((rmsnorm(att) * beta1 + rmsnorm(gy) * beta2) / 2) over n positions.
static void mix_heads(hl_layer *L, const hl_run *r, const hybrid_dims *h, const hybrid_bufs *b, float *out, int n) {
    rmsnorm(r, b->an, b->rstd_a, b->attn.att, L->p[SLOT_ATTN_NORM], n, h->a.H * h->a.vd, L->cfg->norm_eps);
    rmsnorm(r, b->sn, b->rstd_s, b->ssm.gy, L->p[SLOT_SSM_NORM], n, h->m.di, L->cfg->norm_eps);
    hl_axpby_args avg = { .out = b->avg, .x = b->an, .y = b->sn, .a = 0.5f, .b = 0.5f, .n = (size_t)n * h->m.di };
    HL_RUN_OP(r, axpby, &avg);
    hl_linear(r, out, b->avg, L->p[SLOT_OUT], n, h->m.di, h->m.d);   // out (n, d)
}

static void hybrid_forward(hl_layer *L, const hl_run *r, float *out, const float *inp) {
    hybrid_dims h = dims_of(L->cfg, L->index);
    hybrid_bufs b; size_t off = 0;
    carve(&h, r->B, r->T, L->act, &off, &b);
    int n = r->B * r->T;
    hl_attn_core_forward(L, r, &b.attn, SLOT_Q, SLOT_K, SLOT_V, inp);   // att (B, T, H*vd)
    hl_mamba_forward(L, r, SLOT_MB, &b.ssm, inp);                       // gy (B, T, di)
    mix_heads(L, r, &h, &b, out, n);
}

static void hybrid_backward(hl_layer *L, const hl_run *r, float *dinp, const float *dout, const float *inp) {
    hybrid_dims h = dims_of(L->cfg, L->index);
    hybrid_bufs b; size_t off = 0;
    carve(&h, r->B, r->T, L->act, &off, &b);
    int n = r->B * r->T;
    size_t soff = 0;
    float *davg = hl_take(r->scratch, &soff, (size_t)n * h.m.di);            // (B, T, di)
    float *datt = hl_take(r->scratch, &soff, (size_t)n * h.a.H * h.a.vd);    // (B, T, H*vd)
    float *dgy = hl_take(r->scratch, &soff, (size_t)n * h.m.di);             // (B, T, di)
    float *dpart = hl_take(r->scratch, &soff, (size_t)n * h.m.d);            // (B, T, d)
    float *rest = r->scratch + soff;
    hl_linear_bwd(r, davg, L->g[SLOT_OUT], dout, b.avg, L->p[SLOT_OUT], n, h.m.di, h.m.d);
    hl_axpby_args half = { .out = davg, .x = davg, .y = davg, .a = 0.5f, .b = 0.0f, .n = (size_t)n * h.m.di };
    HL_RUN_OP(r, axpby, &half);   // d(an) = d(sn) = davg / 2
    hl_rmsnorm_bwd_args na = { .dinp = datt, .dweight = L->g[SLOT_ATTN_NORM], .dout = davg, .inp = b.attn.att,
                               .weight = L->p[SLOT_ATTN_NORM], .rstd = b.rstd_a, .N = n, .C = h.a.H * h.a.vd };
    HL_RUN_OP(r, rmsnorm_bwd, &na);
    hl_rmsnorm_bwd_args ns = { .dinp = dgy, .dweight = L->g[SLOT_SSM_NORM], .dout = davg, .inp = b.ssm.gy,
                               .weight = L->p[SLOT_SSM_NORM], .rstd = b.rstd_s, .N = n, .C = h.m.di };
    HL_RUN_OP(r, rmsnorm_bwd, &ns);
    hl_attn_core_backward(L, r, &b.attn, SLOT_Q, SLOT_K, SLOT_V, dinp, datt, inp, rest);
    hl_mamba_backward(L, r, SLOT_MB, &b.ssm, dpart, dgy, inp, rest);
    hl_add_inplace(r, dinp, dpart, (size_t)n * h.m.d);
}

// The state: the attention's KV cache first (consumers find it at the
// start), then the Mamba branch's conv and SSM state.
static size_t hybrid_state_floats(const hl_model_config *cfg, int layer, int max_B, int max_len) {
    return hl_attn_state_floats(cfg, layer, max_B, max_len) + hl_mamba_state_floats(cfg, max_B);
}

// Its parts: the attention's (K, V; none for a KV consumer), then the Mamba branch's (conv, SSM).
static int hybrid_state_parts(const hl_model_config *cfg, int layer, int max_B, int max_len, size_t *per_row,
                              int max_parts) {
    int n = hl_attn_state_parts(cfg, layer, max_len, per_row, max_parts);
    return n + hl_layer_mamba.state_parts(cfg, layer, max_B, max_len, per_row + n, max_parts - n);
}

static float *ssm_state(const hl_layer *L, const hl_decode_ctx *c) {
    return c->state[L->index] + hl_attn_state_floats(L->cfg, L->index, c->max_B, c->max_len);
}

static void hybrid_state_prefill(hl_layer *L, const hl_run *r, const hl_decode_ctx *c) {
    hybrid_dims h = dims_of(L->cfg, L->index);
    hybrid_bufs b; size_t off = 0;
    carve(&h, r->B, r->T, L->act, &off, &b);
    hl_attn_core_prefill(L, r, &b.attn, c);
    hl_mamba_prefill(L, r, SLOT_MB, &b.ssm, c, ssm_state(L, c));
}

// The two branches of the step, then the head mix of hybrid_forward on (B, 1).
static void hybrid_state_step(hl_layer *L, const hl_run *r, const hl_decode_ctx *c, float *out, const float *inp) {
    hybrid_dims h = dims_of(L->cfg, L->index);
    hybrid_bufs b; size_t off = 0;
    carve(&h, r->B, 1, L->act, &off, &b);
    hl_attn_core_step(L, r, &b.attn, c, SLOT_Q, SLOT_K, SLOT_V, inp);
    hl_mamba_step(L, r, SLOT_MB, &b.ssm, c, ssm_state(L, c), inp);
    mix_heads(L, r, &h, &b, out, r->B);
}

static double hybrid_flops(const hl_model_config *cfg, int layer, int64_t T) {
    hybrid_dims h = dims_of(cfg, layer);
    return hl_attn_core_flops(cfg, layer, T) + hl_mamba_flops(cfg) + 2.0 * h.m.di * h.m.d;
}

static int64_t hybrid_cache_bytes(const hl_model_config *cfg, int layer, int64_t T, int bytes) {
    return hl_attn_cache_bytes(cfg, layer, T, bytes) + hl_mamba_state_bytes(cfg, bytes);
}

// V head dim d_inner / n_heads (Hymba), so that the attention output meets the SSM's.
static int hybrid_default_v_head_dim(const hl_model_config *cfg) {
    int H = cfg->attn.n_heads;
    return H > 0 ? cfg->ssm.expand * cfg->d_model / H : cfg->attn.head_dim;
}

static int hybrid_check(const hl_model_config *cfg, int layer, char *err, size_t errlen) {
    int rc = hl_mamba_check(cfg, layer, err, errlen);
    if (!rc) rc = hl_attn_check(cfg, layer, err, errlen);
    if (rc) return rc;
    int H = cfg->attn.n_heads, vd = hl_attn_dims_of(cfg, layer).vd, d_inner = cfg->ssm.expand * cfg->d_model;
    if (cfg->attn.v_head_dim == 0 && d_inner % H)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.v_head_dim: H layers need n_heads to divide d_inner = expand * d_model (got %d for %d)",
                       H, d_inner);
    if ((long long)H * vd != d_inner)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.v_head_dim: H layers need n_heads * v_head_dim == d_inner = expand * d_model (got %d * %d != %d)",
                       H, vd, d_inner);
    return HL_OK;
}

const hl_layer_type hl_layer_hybrid = {
    .letter = 'H', .name = "hybrid", .part = HL_PART_MIXER, .caps = HL_CAP_KV | HL_CAP_STATE,
    .sections = {&hl_layer_attention_attn_section, &hl_layer_mamba_ssm_section},
    .default_v_head_dim = hybrid_default_v_head_dim, .check = hybrid_check,
    .declare = hybrid_declare, .init = hybrid_init,
    .act_floats = hybrid_act_floats, .scratch_floats = hybrid_scratch_floats,
    .forward = hybrid_forward, .backward = hybrid_backward,
    .flops = hybrid_flops, .cache_bytes = hybrid_cache_bytes,
    .state_floats = hybrid_state_floats, .state_prefill = hybrid_state_prefill, .state_step = hybrid_state_step,
    .state_parts = hybrid_state_parts,
};
