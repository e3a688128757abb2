// attention.h: the attention core shared by 'A' (attention.c) and 'H'
// (hybrid.c): q/k/v projections, RoPE, causal (sliding-window, meta-prefix)
// GQA attention, KV sharing. The output projection is the caller's.
#ifndef HYLAB_ATTENTION_H
#define HYLAB_ATTENTION_H

#include "models/layer.h"

typedef struct {
    int d;            // d_model
    int H, Hkv, hd;   // query heads, KV heads, Q/K head dim
    int vd;           // V head dim of this layer
    int window;       // 0 = global
    int own_kv;       // 1: has k_proj/v_proj (producer or unshared); 0: consumer
    float theta;
} hl_attn_dims;

typedef struct {
    float *q;         // (B, T, H, hd) after RoPE
    float *k;         // (B, T, Hkv, hd) after RoPE (own K/V only)
    float *v;         // (B, T, Hkv, vd) (own K/V only)
    float *att;       // (B, T, H, vd) attention output
    float *lse;       // (B, H, T)
} hl_attn_bufs;

hl_attn_dims hl_attn_dims_of(const hl_model_config *cfg, int layer);
// The attention part of a KV type's check (layer.h): GQA, head dims, widths, KV sharing.
int hl_attn_check(const hl_model_config *cfg, int layer, char *err, size_t errlen);
// Declares self_attn.q_proj (and k_proj, v_proj when own_kv) at the given slots.
void hl_attn_declare_qkv(const hl_model_config *cfg, int layer, hl_decl *d,
                         int slot_q, int slot_k, int slot_v);
// Carves the saved buffers from base at *off (base NULL: counting only).
void hl_attn_carve(const hl_attn_dims *a, int B, int T, float *base, size_t *off, hl_attn_bufs *b);
size_t hl_attn_scratch_floats(const hl_attn_dims *a, int B, int T);
// inp is (B, T, d); fills b->q/k/v/att/lse; own K/V are published in L->k, L->v.
void hl_attn_core_forward(hl_layer *L, const hl_run *r, const hl_attn_bufs *b,
                          int slot_q, int slot_k, int slot_v, const float *inp);
// datt is (B, T, H*vd); writes dinp (B, T, d); consumers add dK/dV into the
// producer's dk_acc/dv_acc, producers fold theirs in. scratch as above.
void hl_attn_core_backward(hl_layer *L, const hl_run *r, const hl_attn_bufs *b,
                           int slot_q, int slot_k, int slot_v,
                           float *dinp, const float *datt, const float *inp, float *scratch);
// Keys visible to the token at context T: T + m global, min(T, W) + m SWA.
int64_t hl_attn_t_eff(const hl_model_config *cfg, int layer, int64_t T);
// FLOPs per token of the q/k/v projections and the score/value products.
double hl_attn_core_flops(const hl_model_config *cfg, int layer, int64_t T);
// KV cache bytes (0 for consumers).
int64_t hl_attn_cache_bytes(const hl_model_config *cfg, int layer, int64_t T, int bytes);

// the 'A' layer type (Llama/Mistral blocks in models/hf.c)
extern const hl_layer_type hl_layer_attention;
// The spec section model.attn (keys documented at its table in attention.c),
// read by every layer type with K/V ('A', 'H').
extern const hl_cfg_section hl_layer_attention_attn_section;

#endif
