// model_config.h: the model configuration (the spec's "model" section): what
// model code reads. Each module owns the section of its keys (core/config.h):
// the top-level model keys models/model_config.c, model.attn
// models/attention.c, model.ssm models/mamba.c, model.ffn models/ffn.c; each
// documents its keys, defaults and ranges next to its table. The "model"
// section (hl_model_section) gathers the sections the registered layer types
// declare (models/registry.c); harness/spec.c reads and writes it.
#ifndef HYLAB_MODEL_CONFIG_H
#define HYLAB_MODEL_CONFIG_H

#include "core/config.h"

// Upper limits of model sizes (they keep every count describe makes within
// int64; the others are at the sections' tables).
#define HL_MAX_LAYERS 256
#define HL_MAX_VOCAB (1 << 20)
#define HL_MAX_D_MODEL (1 << 16)
#define HL_MAX_WIDTH (1 << 18)        // d_inner, n_heads * head_dim, n_heads * v_head_dim
#define HL_MAX_CONTEXT (1 << 24)      // attn.window, measure.context, describe --context

typedef enum { HL_FFN_NONE = 0, HL_FFN_SWIGLU = 1, HL_FFN_MOE = 2 } hl_ffn_type;

typedef struct {
    int n_heads, n_kv_heads, head_dim;
    int v_head_dim;          // as written: 0 = default (head_dim; d_inner/n_heads in H layers)
    float rope_theta;
    int no_rope;             // 1: no positional encoding (Jamba's attention); spec key model.attn.rope = false
    int window;              // 0 = global everywhere
    int n_global; int global_layers[HL_MAX_LAYERS];
} hl_attn_config;

typedef struct {
    int d_state, d_conv, expand;
    int dt_rank;             // resolved: 0 in the file means ceil(d_model/16)
    int inner_norms;         // 1: RMSNorms on dt, B and C inside the scan's inputs ('S', 'H'; models/mamba.c)
    int headdim, ngroups, chunk_size;   // Mamba-2 ('M', models/mamba2.c) only
} hl_ssm_config;

// model.ffn.moe (models/ffn.c): the mixture-of-experts FFN "moe" (models/ffn_moe.c).
// All zero when no layer has a moe FFN.
typedef enum { HL_MOE_SOFTMAX_TOPK = 0, HL_MOE_SOFTMAX_TOPK_RENORM = 1 } hl_moe_router;
typedef struct {
    int n_experts, top_k;    // 1 <= top_k <= n_experts
    int d_ff;                // each expert's SwiGLU hidden size
    hl_moe_router router;    // softmax_topk (Jamba: top-k softmax weights as they are) or
                             // softmax_topk_renorm (Mixtral: divided by their sum)
    float load_balance;      // coefficient of the load-balancing loss (0 = off)
    float z_loss;            // coefficient of the router z-loss (0 = off)
    int every, offset;       // with type "moe": moe on layers l % every == offset, swiglu elsewhere
} hl_moe_config;

typedef struct {
    hl_ffn_type type;        // every layer's FFN when the pattern is empty
    int d_ff;                // 0 when no layer has a swiglu FFN
    int n_pattern;           // 0: `type` on every layer; else pattern[l % n_pattern] on layer l
    hl_ffn_type pattern[HL_MAX_LAYERS];
    hl_moe_config moe;
} hl_ffn_config;

// Per-layer facts resolved from the spec (what model code reads).
typedef struct {
    char kind;               // a registered mixer letter (models/registry.c): 'A', 'S', 'H'
    int window;              // 0 = global, else sliding window (attention-bearing layers)
    int kv_source;           // -1: own K/V (producer or unshared); else index of the producer layer
    int v_head_dim;          // resolved V head dim for this layer (0 for mixers without K/V)
    hl_ffn_type ffn;         // this layer's FFN (model.ffn.pattern, else model.ffn.type)
} hl_layer_plan;

typedef struct {
    int vocab_size, d_model, n_layers;
    char layers_pattern[HL_MAX_LAYERS + 1]; // as written, e.g. "AS"
    hl_layer_plan layer[HL_MAX_LAYERS];    // expanded, one per layer
    hl_attn_config attn;
    // attn.kv_share groups are resolved into layer[i].kv_source.
    hl_ssm_config ssm;
    int meta_tokens;
    hl_ffn_config ffn;
    int tie_embeddings;
    float norm_eps;
} hl_model_config;

// The spec's "model" section: the top-level model keys followed by the
// sections of the registered layer types (one per name: a type re-declaring a
// section with the same rows shares it) and model.ffn. Read with hl_cfg_read
// into an hl_model_config (env: NULL): every key checked, defaults filled,
// layer plans resolved and each mixer's check run; hl_cfg_write gives its
// canonical object. Built on first use.
const hl_cfg_section *hl_model_section(void);

#endif
