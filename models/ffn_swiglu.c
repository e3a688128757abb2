// ffn_swiglu.c: FFN "swiglu", Llama MLP: out = down(silu(gate(x)) * up(x)).
// Tensors (no biases): mlp.gate_proj (F, d), mlp.up_proj (F, d),
// mlp.down_proj (d, F). Init normal(0, 0.02); down_proj 0.02/sqrt(2*n_layers).
#include "models/layer.h"

enum { SLOT_GATE, SLOT_UP, SLOT_DOWN, N_SLOTS };

typedef struct {
    float *gate;  // (B, T, F) gate_proj(x)
    float *up;    // (B, T, F) up_proj(x)
    float *h;     // (B, T, F) silu(gate) * up
} ffn_bufs;

static void carve(int d_ff, int B, int T, float *base, size_t *off, ffn_bufs *b) {
    size_t n = (size_t)B * T * d_ff;
    b->gate = hl_take(base, off, n);
    b->up = hl_take(base, off, n);
    b->h = hl_take(base, off, n);
}

static void ffn_declare(const hl_model_config *cfg, int layer, hl_decl *d) {
    (void)layer;
    int64_t F = cfg->ffn.d_ff, C = cfg->d_model;
    hl_decl_layer(d, SLOT_GATE, "mlp.gate_proj.weight", "ffn", 1, 2, F, C, 0);
    hl_decl_layer(d, SLOT_UP, "mlp.up_proj.weight", "ffn", 1, 2, F, C, 0);
    hl_decl_layer(d, SLOT_DOWN, "mlp.down_proj.weight", "ffn", 1, 2, C, F, 0);
}

static void ffn_init(hl_layer *L, uint64_t seed) {
    hl_init_normal(L, SLOT_GATE, 0.02, seed);
    hl_init_normal(L, SLOT_UP, 0.02, seed);
    hl_init_normal(L, SLOT_DOWN, hl_resid_std(L->cfg), seed);
}

static size_t ffn_act_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    ffn_bufs b; size_t off = 0;
    carve(cfg->ffn.d_ff, B, T, NULL, &off, &b);
    return off;
}

// Scratch: dh, dgate, dup (B,T,F each), dpart (B,T,d).
static size_t ffn_scratch_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    size_t n = (size_t)B * T, off = 0;
    for (int i = 0; i < 3; i++) hl_take(NULL, &off, n * cfg->ffn.d_ff);
    hl_take(NULL, &off, n * cfg->d_model);
    return off;
}

static void ffn_forward(hl_layer *L, const hl_run *r, float *out, const float *inp) {
    int F = L->cfg->ffn.d_ff, C = L->cfg->d_model, n = r->B * r->T;
    ffn_bufs b; size_t off = 0;
    carve(F, r->B, r->T, L->act, &off, &b);
    hl_linear(r, b.gate, inp, L->p[SLOT_GATE], n, C, F);
    hl_linear(r, b.up, inp, L->p[SLOT_UP], n, C, F);
    hl_swiglu_fwd_args s = { .out = b.h, .gate = b.gate, .up = b.up, .n = (size_t)n * F };
    HL_RUN_OP(r, swiglu_fwd, &s);
    hl_linear(r, out, b.h, L->p[SLOT_DOWN], n, F, C);   // out (B, T, d)
}

static void ffn_backward(hl_layer *L, const hl_run *r, float *dinp, const float *dout, const float *inp) {
    int F = L->cfg->ffn.d_ff, C = L->cfg->d_model, n = r->B * r->T;
    ffn_bufs b; size_t off = 0;
    carve(F, r->B, r->T, L->act, &off, &b);
    size_t soff = 0;
    float *dh = hl_take(r->scratch, &soff, (size_t)n * F);      // (B, T, F)
    float *dgate = hl_take(r->scratch, &soff, (size_t)n * F);   // (B, T, F)
    float *dup = hl_take(r->scratch, &soff, (size_t)n * F);     // (B, T, F)
    float *dpart = hl_take(r->scratch, &soff, (size_t)n * C);   // (B, T, d)
    hl_linear_bwd(r, dh, L->g[SLOT_DOWN], dout, b.h, L->p[SLOT_DOWN], n, F, C);
    hl_swiglu_bwd_args s = { .dgate = dgate, .dup = dup, .dout = dh, .gate = b.gate, .up = b.up, .n = (size_t)n * F };
    HL_RUN_OP(r, swiglu_bwd, &s);
    hl_linear_bwd(r, dinp, L->g[SLOT_GATE], dgate, inp, L->p[SLOT_GATE], n, C, F);
    hl_linear_bwd(r, dpart, L->g[SLOT_UP], dup, inp, L->p[SLOT_UP], n, C, F);
    hl_add_inplace(r, dinp, dpart, (size_t)n * C);
}

static double ffn_flops(const hl_model_config *cfg, int layer, int64_t T) {
    (void)layer; (void)T;
    return 6.0 * cfg->d_model * cfg->ffn.d_ff;
}

static int64_t ffn_cache_bytes(const hl_model_config *cfg, int layer, int64_t T, int bytes) {
    (void)cfg; (void)layer; (void)T; (void)bytes;
    return 0;
}

const hl_layer_type hl_layer_ffn_swiglu = {
    .letter = 0, .name = "swiglu", .part = HL_PART_FFN, .ffn = HL_FFN_SWIGLU,
    .declare = ffn_declare, .init = ffn_init,
    .act_floats = ffn_act_floats, .scratch_floats = ffn_scratch_floats,
    .forward = ffn_forward, .backward = ffn_backward,
    .flops = ffn_flops, .cache_bytes = ffn_cache_bytes,
    .state_floats = NULL, .state_prefill = NULL, .state_step = NULL,
};
