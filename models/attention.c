// attention.c: mixer 'A', Llama-style attention (MHA/GQA, HF rotate_half
// RoPE or no positional encoding (Jamba: model.attn.rope false), causal, global or sliding window, meta-token prefix always visible,
// optional cross-layer KV sharing). Tensors (no biases):
//   self_attn.q_proj (H*hd, d), self_attn.k_proj (Hkv*hd, d),
//   self_attn.v_proj (Hkv*vd, d) [absent for KV consumers],
//   self_attn.o_proj (d, H*vd).
// The core (everything but o_proj) is shared with the hybrid layer 'H'.
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_util.h"
#include "models/attention.h"

enum { SLOT_Q, SLOT_K, SLOT_V, SLOT_O, N_SLOTS };

// ---------------------------------------------------------------- core
hl_attn_dims hl_attn_dims_of(const hl_model_config *cfg, int layer) {
    const hl_layer_plan *p = &cfg->layer[layer];
    hl_attn_dims a;
    a.d = cfg->d_model;
    a.H = cfg->attn.n_heads;
    a.Hkv = cfg->attn.n_kv_heads;
    a.hd = cfg->attn.head_dim;
    a.vd = p->v_head_dim;
    const hl_layer_type *t = hl_mixer_type(p->kind);
    if (a.vd <= 0)   // unresolved: the type's default (head_dim; d_inner / n_heads in 'H' layers)
        a.vd = t && t->default_v_head_dim ? t->default_v_head_dim(cfg) : a.hd;
    a.window = p->window;
    a.own_kv = p->kv_source < 0;
    a.theta = cfg->attn.rope_theta;
    a.no_rope = cfg->attn.no_rope;
    return a;
}

int hl_attn_check(const hl_model_config *cfg, int l, char *err, size_t errlen) {
    const hl_layer_plan *p = &cfg->layer[l];
    hl_attn_dims a = hl_attn_dims_of(cfg, l);
    if (a.H <= 0 || a.Hkv <= 0 || a.H % a.Hkv)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.n_kv_heads: must divide n_heads (got %d for %d)", a.Hkv, a.H);
    if (a.hd <= 0 || a.hd % 2 || a.vd <= 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.head_dim: must be positive and even (got %d, v_head_dim %d)", a.hd, a.vd);
    if ((int64_t)a.H * a.hd > HL_MAX_WIDTH || (int64_t)a.H * a.vd > HL_MAX_WIDTH)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.attn: n_heads * head_dim and n_heads * v_head_dim must be at most %d (got %d * %d, %d * %d)",
                       HL_MAX_WIDTH, a.H, a.hd, a.H, a.vd);
    if (p->kv_source >= 0) {
        int s = p->kv_source;
        if (s >= l || !(hl_layer_caps(cfg, s) & HL_CAP_KV) || cfg->layer[s].kv_source >= 0)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.kv_share: layer %d reads K/V of layer %d, which is not an earlier producer", l, s);
        if (hl_attn_dims_of(cfg, s).vd != a.vd)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.kv_share: layer %d and its producer %d have different v_head_dim", l, s);
    }
    return HL_OK;
}

void hl_attn_declare_qkv(const hl_model_config *cfg, int layer, hl_decl *d,
                         int slot_q, int slot_k, int slot_v) {
    hl_attn_dims a = hl_attn_dims_of(cfg, layer);
    hl_decl_layer(d, slot_q, "self_attn.q_proj.weight", "attention", 1, 2, (int64_t)a.H * a.hd, a.d, 0);
    if (!a.own_kv) return;
    hl_decl_layer(d, slot_k, "self_attn.k_proj.weight", "attention", 1, 2, (int64_t)a.Hkv * a.hd, a.d, 0);
    hl_decl_layer(d, slot_v, "self_attn.v_proj.weight", "attention", 1, 2, (int64_t)a.Hkv * a.vd, a.d, 0);
}

void hl_attn_carve(const hl_attn_dims *a, int B, int T, float *base, size_t *off, hl_attn_bufs *b) {
    size_t N = (size_t)B * T;
    b->q = hl_take(base, off, N * a->H * a->hd);
    b->k = a->own_kv ? hl_take(base, off, N * a->Hkv * a->hd) : NULL;
    b->v = a->own_kv ? hl_take(base, off, N * a->Hkv * a->vd) : NULL;
    b->att = hl_take(base, off, N * a->H * a->vd);
    b->lse = hl_take(base, off, (size_t)B * a->H * T);
}

size_t hl_attn_scratch_floats(const hl_attn_dims *a, int B, int T) {
    size_t N = (size_t)B * T, off = 0;
    hl_take(NULL, &off, N * a->H * a->hd);    // dq
    hl_take(NULL, &off, N * a->Hkv * a->hd);  // dk
    hl_take(NULL, &off, N * a->Hkv * a->vd);  // dv
    hl_take(NULL, &off, N * a->d);            // dinp partial
    return off;
}

// RoPE in place on x (B, T, H, hd) (backward: its inverse); nothing without RoPE.
static void rope(const hl_run *r, int backward, float *x, int B, int T, int H, const hl_attn_dims *d) {
    if (d->no_rope) return;
    hl_rope_args a = { .out = x, .inp = x, .B = B, .T = T, .H = H, .hd = d->hd, .theta = d->theta };
    if (backward) HL_RUN_OP(r, rope_bwd, &a); else HL_RUN_OP(r, rope_fwd, &a);
}

void hl_attn_core_forward(hl_layer *L, const hl_run *r, const hl_attn_bufs *b,
                          int slot_q, int slot_k, int slot_v, const float *inp) {
    hl_attn_dims a = hl_attn_dims_of(L->cfg, L->index);
    int N = r->B * r->T;
    // inp is (B, T, d); q is (B, T, H, hd)
    hl_linear(r, b->q, inp, L->p[slot_q], N, a.d, a.H * a.hd);
    rope(r, 0, b->q, r->B, r->T, a.H, &a);
    if (a.own_kv) {
        // k is (B, T, Hkv, hd), v is (B, T, Hkv, vd)
        hl_linear(r, b->k, inp, L->p[slot_k], N, a.d, a.Hkv * a.hd);
        rope(r, 0, b->k, r->B, r->T, a.Hkv, &a);
        hl_linear(r, b->v, inp, L->p[slot_v], N, a.d, a.Hkv * a.vd);
        L->k = b->k; L->v = b->v;
    }
    const hl_layer *src = a.own_kv ? L : L->kv_producer;
    hl_attn_fwd_args f = { .out = b->att, .lse = b->lse, .q = b->q, .k = src->k, .v = src->v,
                           .B = r->B, .T = r->T, .H = a.H, .Hkv = a.Hkv, .hd = a.hd, .vd = a.vd,
                           .window = a.window, .n_meta = r->n_meta };
    HL_RUN_OP(r, attn_fwd, &f);   // att is (B, T, H, vd)
}

void hl_attn_core_backward(hl_layer *L, const hl_run *r, const hl_attn_bufs *b,
                           int slot_q, int slot_k, int slot_v,
                           float *dinp, const float *datt, const float *inp, float *scratch) {
    hl_attn_dims a = hl_attn_dims_of(L->cfg, L->index);
    int N = r->B * r->T;
    size_t off = 0;
    float *dq = hl_take(scratch, &off, (size_t)N * a.H * a.hd);    // (B, T, H, hd)
    float *dk = hl_take(scratch, &off, (size_t)N * a.Hkv * a.hd);  // (B, T, Hkv, hd)
    float *dv = hl_take(scratch, &off, (size_t)N * a.Hkv * a.vd);  // (B, T, Hkv, vd)
    float *dpart = hl_take(scratch, &off, (size_t)N * a.d);        // (B, T, d)
    const hl_layer *src = a.own_kv ? L : L->kv_producer;
    hl_attn_bwd_args g = { .dq = dq, .dk = dk, .dv = dv, .dout = datt, .out = b->att, .lse = b->lse,
                           .q = b->q, .k = src->k, .v = src->v,
                           .B = r->B, .T = r->T, .H = a.H, .Hkv = a.Hkv, .hd = a.hd, .vd = a.vd,
                           .window = a.window, .n_meta = r->n_meta };
    HL_RUN_OP(r, attn_bwd, &g);
    if (!a.own_kv) {
        // Consumer: hand dK/dV (w.r.t. the post-RoPE K and V) to the producer,
        // whose backward runs later (lower layer index) and folds them in.
        hl_add_inplace(r, L->kv_producer->dk_acc, dk, (size_t)N * a.Hkv * a.hd);
        hl_add_inplace(r, L->kv_producer->dv_acc, dv, (size_t)N * a.Hkv * a.vd);
    }
    rope(r, 1, dq, r->B, r->T, a.H, &a);
    hl_linear_bwd(r, dinp, L->g[slot_q], dq, inp, L->p[slot_q], N, a.d, a.H * a.hd);
    if (!a.own_kv) return;
    if (L->has_consumers) {
        hl_add_inplace(r, dk, L->dk_acc, (size_t)N * a.Hkv * a.hd);
        hl_add_inplace(r, dv, L->dv_acc, (size_t)N * a.Hkv * a.vd);
    }
    rope(r, 1, dk, r->B, r->T, a.Hkv, &a);
    hl_linear_bwd(r, dpart, L->g[slot_k], dk, inp, L->p[slot_k], N, a.d, a.Hkv * a.hd);
    hl_add_inplace(r, dinp, dpart, (size_t)N * a.d);
    hl_linear_bwd(r, dpart, L->g[slot_v], dv, inp, L->p[slot_v], N, a.d, a.Hkv * a.vd);
    hl_add_inplace(r, dinp, dpart, (size_t)N * a.d);
}

int64_t hl_attn_t_eff(const hl_model_config *cfg, int layer, int64_t T) {
    int W = cfg->layer[layer].window;
    int64_t t = (W > 0 && W < T) ? W : T;
    return t + cfg->meta_tokens;
}

double hl_attn_core_flops(const hl_model_config *cfg, int layer, int64_t T) {
    hl_attn_dims a = hl_attn_dims_of(cfg, layer);
    double proj = 2.0 * a.d * a.H * a.hd;
    if (a.own_kv) proj += 2.0 * a.d * a.Hkv * ((double)a.hd + a.vd);
    double te = (double)hl_attn_t_eff(cfg, layer, T);
    double scores = 2.0 * a.H * a.hd * te + 2.0 * a.H * a.vd * te;   // q.k and p.v
    return proj + scores;
}

// Positions (meta tokens excluded) producer `layer`'s KV cache keeps at
// context T: the keys its own queries and its consumers' see, i.e. the
// longest window among them, capped at T (T when any of them is global).
static int64_t cache_ring(const hl_model_config *cfg, int layer, int64_t T) {
    int64_t R = 0;
    for (int l = layer; l < cfg->n_layers; l++) {
        if (l != layer && cfg->layer[l].kv_source != layer) continue;
        int W = cfg->layer[l].window;
        int64_t r = (W > 0 && W < T) ? W : T;
        if (r > R) R = r;
    }
    return R;
}

int64_t hl_attn_cache_bytes(const hl_model_config *cfg, int layer, int64_t T, int bytes) {
    hl_attn_dims a = hl_attn_dims_of(cfg, layer);
    if (!a.own_kv) return 0;
    return (int64_t)a.Hkv * ((int64_t)a.hd + a.vd) * bytes * (cache_ring(cfg, layer, T) + cfg->meta_tokens);
}

// ---------------------------------------------------------------- inference state
size_t hl_attn_state_floats(const hl_model_config *cfg, int layer, int max_B, int max_len) {
    hl_attn_dims a = hl_attn_dims_of(cfg, layer);
    if (!a.own_kv) return 0;
    return (size_t)max_B * (size_t)(cache_ring(cfg, layer, max_len) + cfg->meta_tokens) * a.Hkv * ((size_t)a.hd + a.vd);
}

int hl_attn_state_parts(const hl_model_config *cfg, int layer, int max_len, size_t *per_row, int max_parts) {
    hl_attn_dims a = hl_attn_dims_of(cfg, layer);
    if (!a.own_kv || max_parts < 2) return 0;
    size_t S = (size_t)(cache_ring(cfg, layer, max_len) + cfg->meta_tokens);
    per_row[0] = S * a.Hkv * a.hd;   // K cache (max_B, S, Hkv, hd)
    per_row[1] = S * a.Hkv * a.vd;   // V cache (max_B, S, Hkv, vd)
    return 2;
}

// The KV cache of the layer whose K/V L reads, and its ring length R.
static void kv_cache_of(const hl_layer *L, const hl_decode_ctx *c, float **kc, float **vc, int *R) {
    const hl_layer *src = L->kv_producer ? L->kv_producer : L;
    hl_attn_dims a = hl_attn_dims_of(L->cfg, src->index);
    *R = (int)cache_ring(L->cfg, src->index, c->max_len);
    *kc = c->state[src->index];
    *vc = *kc + (size_t)c->max_B * (*R + L->cfg->meta_tokens) * a.Hkv * a.hd;
}

void hl_attn_core_prefill(hl_layer *L, const hl_run *r, const hl_attn_bufs *b, const hl_decode_ctx *c) {
    hl_attn_dims a = hl_attn_dims_of(L->cfg, L->index);
    if (!a.own_kv) return;
    float *kc, *vc; int R;
    kv_cache_of(L, c, &kc, &vc, &R);
    hl_cache_fill_args fk = { .cache = kc, .src = b->k, .lens = c->lens, .B = r->B, .T = r->T,
                              .C = a.Hkv * a.hd, .n_meta = r->n_meta, .R = R };
    HL_RUN_OP(r, cache_fill, &fk);
    hl_cache_fill_args fv = fk;
    fv.cache = vc; fv.src = b->v; fv.C = a.Hkv * a.vd;
    HL_RUN_OP(r, cache_fill, &fv);
}

void hl_attn_core_step(hl_layer *L, const hl_run *r, const hl_attn_bufs *b, const hl_decode_ctx *c,
                       int slot_q, int slot_k, int slot_v, const float *inp) {
    hl_attn_dims a = hl_attn_dims_of(L->cfg, L->index);
    int B = r->B;
    hl_linear(r, b->q, inp, L->p[slot_q], B, a.d, a.H * a.hd);   // (B, H, hd), RoPE in attn_decode
    if (a.own_kv) {
        hl_linear(r, b->k, inp, L->p[slot_k], B, a.d, a.Hkv * a.hd);
        hl_linear(r, b->v, inp, L->p[slot_v], B, a.d, a.Hkv * a.vd);
    }
    float *kc, *vc; int R;
    kv_cache_of(L, c, &kc, &vc, &R);
    hl_attn_decode_args d = { .out = b->att, .kcache = kc, .vcache = vc, .q = b->q,
                              .k = a.own_kv ? b->k : NULL, .v = a.own_kv ? b->v : NULL, .pos = c->pos,
                              .B = B, .H = a.H, .Hkv = a.Hkv, .hd = a.hd, .vd = a.vd,
                              .n_meta = r->n_meta, .R = R, .window = a.window, .theta = a.theta,
                              .no_rope = a.no_rope };
    HL_RUN_OP(r, attn_decode, &d);
}

// ---------------------------------------------------------------- the 'A' layer
static void attn_declare(const hl_model_config *cfg, int layer, hl_decl *d) {
    hl_attn_dims a = hl_attn_dims_of(cfg, layer);
    hl_attn_declare_qkv(cfg, layer, d, SLOT_Q, SLOT_K, SLOT_V);
    hl_decl_layer(d, SLOT_O, "self_attn.o_proj.weight", "attention", 1, 2, a.d, (int64_t)a.H * a.vd, 0);
}

static void attn_init(hl_layer *L, uint64_t seed) {
    hl_init_normal(L, SLOT_Q, 0.02, seed);
    hl_init_normal(L, SLOT_K, 0.02, seed);
    hl_init_normal(L, SLOT_V, 0.02, seed);
    hl_init_normal(L, SLOT_O, hl_resid_std(L->cfg), seed);
}

static size_t attn_act_floats(const hl_model_config *cfg, int layer, int B, int T) {
    hl_attn_dims a = hl_attn_dims_of(cfg, layer);
    hl_attn_bufs b; size_t off = 0;
    hl_attn_carve(&a, B, T, NULL, &off, &b);
    return off;
}

static size_t attn_scratch_floats(const hl_model_config *cfg, int layer, int B, int T) {
    hl_attn_dims a = hl_attn_dims_of(cfg, layer);
    size_t off = 0;
    hl_take(NULL, &off, (size_t)B * T * a.H * a.vd);   // datt
    return off + hl_attn_scratch_floats(&a, B, T);
}

static void attn_forward(hl_layer *L, const hl_run *r, float *out, const float *inp) {
    hl_attn_dims a = hl_attn_dims_of(L->cfg, L->index);
    hl_attn_bufs b; size_t off = 0;
    hl_attn_carve(&a, r->B, r->T, L->act, &off, &b);
    hl_attn_core_forward(L, r, &b, SLOT_Q, SLOT_K, SLOT_V, inp);
    // out is (B, T, d) = att (B, T, H*vd) @ o_proj^T
    hl_linear(r, out, b.att, L->p[SLOT_O], r->B * r->T, a.H * a.vd, a.d);
}

static void attn_backward(hl_layer *L, const hl_run *r, float *dinp, const float *dout, const float *inp) {
    hl_attn_dims a = hl_attn_dims_of(L->cfg, L->index);
    hl_attn_bufs b; size_t off = 0;
    hl_attn_carve(&a, r->B, r->T, L->act, &off, &b);
    int N = r->B * r->T;
    size_t soff = 0;
    float *datt = hl_take(r->scratch, &soff, (size_t)N * a.H * a.vd);   // (B, T, H*vd)
    hl_linear_bwd(r, datt, L->g[SLOT_O], dout, b.att, L->p[SLOT_O], N, a.H * a.vd, a.d);
    hl_attn_core_backward(L, r, &b, SLOT_Q, SLOT_K, SLOT_V, dinp, datt, inp, r->scratch + soff);
}

static size_t attn_state_floats(const hl_model_config *cfg, int layer, int max_B, int max_len) {
    return hl_attn_state_floats(cfg, layer, max_B, max_len);
}

static int attn_state_parts(const hl_model_config *cfg, int layer, int max_B, int max_len, size_t *per_row,
                            int max_parts) {
    (void)max_B;
    return hl_attn_state_parts(cfg, layer, max_len, per_row, max_parts);
}

static void attn_state_prefill(hl_layer *L, const hl_run *r, const hl_decode_ctx *c) {
    hl_attn_dims a = hl_attn_dims_of(L->cfg, L->index);
    hl_attn_bufs b; size_t off = 0;
    hl_attn_carve(&a, r->B, r->T, L->act, &off, &b);
    hl_attn_core_prefill(L, r, &b, c);
}

static void attn_state_step(hl_layer *L, const hl_run *r, const hl_decode_ctx *c, float *out, const float *inp) {
    hl_attn_dims a = hl_attn_dims_of(L->cfg, L->index);
    hl_attn_bufs b; size_t off = 0;
    hl_attn_carve(&a, r->B, 1, L->act, &off, &b);
    hl_attn_core_step(L, r, &b, c, SLOT_Q, SLOT_K, SLOT_V, inp);
    hl_linear(r, out, b.att, L->p[SLOT_O], r->B, a.H * a.vd, a.d);
}

static double attn_flops(const hl_model_config *cfg, int layer, int64_t T) {
    hl_attn_dims a = hl_attn_dims_of(cfg, layer);
    return hl_attn_core_flops(cfg, layer, T) + 2.0 * a.H * a.vd * a.d;
}

static int attn_default_v_head_dim(const hl_model_config *cfg) { return cfg->attn.head_dim; }

const hl_layer_type hl_layer_attention = {
    .letter = 'A', .name = "attention", .part = HL_PART_MIXER, .caps = HL_CAP_KV,
    .sections = {&hl_layer_attention_attn_section},
    .default_v_head_dim = attn_default_v_head_dim, .check = hl_attn_check,
    .declare = attn_declare, .init = attn_init,
    .act_floats = attn_act_floats, .scratch_floats = attn_scratch_floats,
    .forward = attn_forward, .backward = attn_backward,
    .flops = attn_flops, .cache_bytes = hl_attn_cache_bytes,
    .state_floats = attn_state_floats, .state_prefill = attn_state_prefill, .state_step = attn_state_step,
    .state_parts = attn_state_parts,
};

// ---------------------------------------------------------------- spec section model.attn
// Keys (offsets in hl_model_config; read after model.layers and n_layers):
//   n_heads        4, in [1, 1024]
//   n_kv_heads     n_heads, in [1, 1024]; must divide n_heads
//   head_dim       d_model / n_heads (n_heads must divide d_model), in [1, 4096];
//                  even (RoPE); n_heads * head_dim <= 2^18 (HL_MAX_WIDTH)
//   v_head_dim     0, in [0, 2^18] (kept as written: 0 means head_dim in A
//                  layers, d_inner / n_heads in H layers); n_heads * v_head_dim <= 2^18
//   rope_theta     10000, a normal float (>= FLT_MIN: never stored as 0)
//   rope           true; false: no positional encoding at all (Jamba's
//                  attention layers); left out of the canonical spec while
//                  true (older specs keep their hash); rope_theta is then unused
//   window         0 (global attention everywhere), in [0, 2^24] (HL_MAX_CONTEXT);
//                  W > 0: a query sees W keys, itself included (Hymba's
//                  sliding_window W sees W+1: hylab's W+1); needs a K/V layer
//   global_layers  [] (stored sorted): K/V layers that stay global
//   kv_share       [] (stored sorted by first layer): groups of consecutive K/V
//                  layers of one kind; later layers read the first one's K/V
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 4096

static int has_kv(const hl_model_config *mc, int layer) { return (hl_layer_caps(mc, layer) & HL_CAP_KV) != 0; }

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

// A layer index inside a list: in range and attention-bearing.
static int check_layer_index(const hl_cfg_ctx *c, const hl_model_config *mc, const char *path,
                             double value, const char *why_attention) {
    if (value < 0 || value >= mc->n_layers)
        return hl_cfg_fail(c, path, "layer index out of range [0, %d) (got %.0f)", mc->n_layers, value);
    int i = (int)value;
    if (!has_kv(mc, i))
    {
        char k = mc->layer[i].kind;   // "an S layer", "a C layer": the letter as it is read aloud
        return hl_cfg_fail(c, path, "layer %d is a%s %c layer (%s) (got %d)", i, strchr("AEFHILMNORSX", k) ? "n" : "",
                           k, why_attention, i);
    }
    return HL_OK;
}

static int read_global_layers(const hl_cfg_ctx *c, const cJSON *list, const char *lpath, void *obj) {
    hl_model_config *mc = obj;
    char path[HL_CFG_PATH_LEN];
    int seen[HL_MAX_LAYERS] = {0};
    int i = 0;
    mc->attn.n_global = 0;
    for (const cJSON *e = list ? list->child : NULL; e; e = e->next, i++) {
        hl_cfg_index(path, lpath, i);
        int rc = check_layer_index(c, mc, path, e->valuedouble, "global_layers names attention layers");
        if (rc != HL_OK) return rc;
        int layer = (int)e->valuedouble;
        if (seen[layer]) return hl_cfg_fail(c, path, "duplicate layer (got %d)", layer);
        seen[layer] = 1;
        mc->attn.global_layers[mc->attn.n_global++] = layer;
    }
    qsort(mc->attn.global_layers, (size_t)mc->attn.n_global, sizeof(int), compare_ints);
    return HL_OK;
}

// One kv_share group: consecutive attention layers of one kind, none already
// in an earlier group. Consumers get kv_source = the group's first layer.
static int read_kv_share_group(const hl_cfg_ctx *c, const cJSON *group, const char *gpath, int g,
                               hl_model_config *mc, int group_of[]) {
    char path[HL_CFG_PATH_LEN], got[80];
    hl_json_brief(group, got, sizeof got);
    int n = cJSON_GetArraySize(group), j = 0, first = -1;
    if (n < 2) return hl_cfg_fail(c, gpath, "a group needs at least 2 layers (got %s)", got);
    for (const cJSON *e = group->child; e; e = e->next, j++) {
        hl_cfg_index(path, gpath, j);
        int rc = check_layer_index(c, mc, path, e->valuedouble, "kv_share groups name attention layers");
        if (rc != HL_OK) return rc;
        int layer = (int)e->valuedouble;
        if (j == 0) first = layer;
        else if (layer != first + j) return hl_cfg_fail(c, gpath, "a group must list consecutive layers in order (got %s)", got);
        if (group_of[layer] >= 0) return hl_cfg_fail(c, path, "layer %d is already in group %d (got %s)", layer, group_of[layer], got);
        if (mc->layer[layer].kind != mc->layer[first].kind)
            return hl_cfg_fail(c, gpath, "a group mixes %c and %c layers (got %s)", mc->layer[first].kind, mc->layer[layer].kind, got);
        group_of[layer] = g;
        if (j > 0) mc->layer[layer].kv_source = first;
    }
    return HL_OK;
}

static int read_kv_share(const hl_cfg_ctx *c, const cJSON *groups, const char *lpath, void *obj) {
    char path[HL_CFG_PATH_LEN];
    int group_of[HL_MAX_LAYERS];
    for (int i = 0; i < HL_MAX_LAYERS; i++) group_of[i] = -1;
    int g = 0;
    for (const cJSON *e = groups ? groups->child : NULL; e; e = e->next, g++) {
        hl_cfg_index(path, lpath, g);
        int rc = read_kv_share_group(c, e, path, g, obj, group_of);
        if (rc != HL_OK) return rc;
    }
    return HL_OK;
}

// The groups from the layers' kv_source, sorted by first layer.
static cJSON *write_kv_share(const void *obj) {
    const hl_model_config *mc = obj;
    cJSON *groups = cJSON_CreateArray();
    for (int p = 0; groups && p < mc->n_layers; p++) {
        if (mc->layer[p].kv_source >= 0 || p + 1 >= mc->n_layers || mc->layer[p + 1].kv_source != p) continue;
        cJSON *g = cJSON_CreateArray();
        cJSON_AddItemToArray(g, cJSON_CreateNumber(p));
        for (int k = p + 1; k < mc->n_layers && mc->layer[k].kv_source == p; k++)
            cJSON_AddItemToArray(g, cJSON_CreateNumber(k));
        cJSON_AddItemToArray(groups, g);
    }
    return groups;
}

static int dflt_n_kv_heads(const void *obj, const void *env, double *out, char *why, size_t whylen) {
    (void)env; (void)why; (void)whylen;
    *out = ((const hl_model_config *)obj)->attn.n_heads;
    return HL_OK;
}

static int dflt_head_dim(const void *obj, const void *env, double *out, char *why, size_t whylen) {
    const hl_model_config *mc = obj;
    (void)env;
    if (mc->d_model % mc->attn.n_heads)
        return hl_fail(why, whylen, HL_EBADINPUT, "default d_model / n_heads needs n_heads to divide d_model (got %d for %d)",
                       mc->attn.n_heads, mc->d_model);
    *out = mc->d_model / mc->attn.n_heads;
    return HL_OK;
}

// A product of two sizes (a layer width) within HL_MAX_WIDTH.
static int width_at_most(const hl_cfg_ctx *c, const char *path, const char *what, int a, int b) {
    if ((long long)a * b <= HL_MAX_WIDTH) return HL_OK;
    return hl_cfg_fail(c, path, "%s must be at most %d (got %d * %d)", what, HL_MAX_WIDTH, a, b);
}

static int attn_finish(const hl_cfg_ctx *c, const char *path, void *obj) {
    const hl_model_config *mc = obj;
    const hl_attn_config *a = &mc->attn;
    char p[HL_CFG_PATH_LEN];
    hl_cfg_join(p, path, "n_kv_heads");
    if (a->n_heads % a->n_kv_heads) return hl_cfg_fail(c, p, "must divide n_heads (got %d for %d)", a->n_kv_heads, a->n_heads);
    hl_cfg_join(p, path, "head_dim");
    if (a->head_dim % 2) return hl_cfg_fail(c, p, "must be even for RoPE (got %d)", a->head_dim);
    int rc = width_at_most(c, p, "n_heads * head_dim", a->n_heads, a->head_dim);
    hl_cfg_join(p, path, "v_head_dim");
    if (rc == HL_OK) rc = width_at_most(c, p, "n_heads * v_head_dim", a->n_heads, a->v_head_dim);
    if (rc != HL_OK) return rc;
    int any = 0;
    for (int i = 0; i < mc->n_layers; i++) any |= has_kv(mc, i);
    hl_cfg_join(p, path, "window");
    if (!any && a->window > 0)   // an empty global list is fine; a non-empty one was refused already
        return hl_cfg_fail(c, p, "set but no layer has attention (got %d, layers \"%s\")", a->window, mc->layers_pattern);
    return HL_OK;
}

// model.attn.rope (a bool, true when absent) stored inverted as attn.no_rope,
// so that a config built field by field keeps RoPE.
static int read_rope(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj) {
    (void)c; (void)path;   // the schema check has made v a bool
    ((hl_model_config *)obj)->attn.no_rope = v && cJSON_IsFalse(v);
    return HL_OK;
}

static cJSON *write_rope(const void *obj) {
    return ((const hl_model_config *)obj)->attn.no_rope ? cJSON_CreateFalse() : NULL;
}

#define ATTN_INT(key, field, d, lo, hi) \
    {.name = key, .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, attn.field), .dflt = d, .min = lo, .max = hi}
static const hl_cfg_key attn_keys[] = {
    ATTN_INT("n_heads", n_heads, 4, 1, MAX_HEADS),
    {.name = "n_kv_heads", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, attn.n_kv_heads),
     .dflt_fn = dflt_n_kv_heads, .min = 1, .max = MAX_HEADS},
    {.name = "head_dim", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, attn.head_dim),
     .dflt_fn = dflt_head_dim, .min = 1, .max = MAX_HEAD_DIM},
    ATTN_INT("v_head_dim", v_head_dim, 0, 0, HL_MAX_WIDTH),
    {.name = "rope_theta", .kind = HL_CFG_FLOAT, .offset = offsetof(hl_model_config, attn.rope_theta),
     .dflt = 10000.0, .min = FLT_MIN, .max = FLT_MAX},
    {.name = "rope", .kind = HL_CFG_BOOL, .dflt = 1, .read = read_rope, .write = write_rope, .flags = HL_CFG_OMIT_DEFAULT},
    ATTN_INT("window", window, 0, 0, HL_MAX_CONTEXT),
    {.name = "global_layers", .kind = HL_CFG_INT_LIST, .offset = offsetof(hl_model_config, attn.global_layers),
     .count_offset = offsetof(hl_model_config, attn.n_global), .capacity = HL_MAX_LAYERS, .read = read_global_layers},
    {.name = "kv_share", .kind = HL_CFG_INT_GROUPS, .read = read_kv_share, .write = write_kv_share},
    {.name = NULL}};

const hl_cfg_section hl_layer_attention_attn_section = {.name = "attn", .keys = attn_keys, .finish = attn_finish};
