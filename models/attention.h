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
    int no_rope;      // 1: no positional encoding (model.attn.rope false)
} hl_attn_dims;

typedef struct {
    float *q;         // (B, T, H, hd) after RoPE (if any)
    float *k;         // (B, T, Hkv, hd) after RoPE (if any; own K/V only)
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
// KV cache bytes (0 for consumers): meta + R positions (R as below).
int64_t hl_attn_cache_bytes(const hl_model_config *cfg, int layer, int64_t T, int bytes);

// ---- inference state (layer.h hooks; DESIGN.md "Decoding"). A layer with
// own K/V keeps a KV cache per row: kcache (max_B, S, Hkv, hd) then vcache
// (max_B, S, Hkv, vd), S = meta + R: the meta prefix, then a ring of the
// last R positions (kernels.h "decoding"), R = the longest window among the
// producer and its consumers (max_len when one is global or the window is
// longer). Consumers keep nothing and read their producer's cache (at the
// start of the producer's state). hl_attn_cache_bytes counts the same.
size_t hl_attn_state_floats(const hl_model_config *cfg, int layer, int max_B, int max_len);
// Its parts for the state_parts hook (layer.h): K then V per row; 0 for a consumer.
int hl_attn_state_parts(const hl_model_config *cfg, int layer, int max_len, size_t *per_row, int max_parts);
// Fills the cache from the forward's saved post-RoPE K and V (b as carved for that forward).
void hl_attn_core_prefill(hl_layer *L, const hl_run *r, const hl_attn_bufs *b, const hl_decode_ctx *c);
// One token per row: b carved for (B, 1) positions; q (and own k, v) from
// inp (B, d), then attn_decode appends K/V and attends: b->att (B, H*vd).
void hl_attn_core_step(hl_layer *L, const hl_run *r, const hl_attn_bufs *b, const hl_decode_ctx *c,
                       int slot_q, int slot_k, int slot_v, const float *inp);

// the 'A' layer type (Llama/Mistral blocks in models/hf.c)
extern const hl_layer_type hl_layer_attention;
// The spec section model.attn (keys documented at its table in attention.c),
// read by every layer type with K/V ('A', 'H').
extern const hl_cfg_section hl_layer_attention_attn_section;

#endif
