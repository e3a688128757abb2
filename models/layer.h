// layer.h: the layer vtable. A layer type is ONE file in models/ exporting
// one hl_layer_type; models/registry.c lists them (adding a type = one file +
// one registry line; tests/test_plugin.sh proves it). Mixers: 'A' attention.c,
// 'S' mamba.c, 'H' hybrid.c. Code outside a module never switches on its
// letter: it asks the type's capabilities (HL_CAP_*) and hooks.
// FFNs: "swiglu" ffn_swiglu.c, "moe" ffn_moe.c; "none" has no entry (the block then has no FFN
// and no FFN norm). The FFN is chosen per layer (model.ffn.pattern, models/ffn.c).
// Spec keys: each type lists the config sections it reads (core/config.h;
// model.attn is attention.c's, model.ssm mamba.c's); the "model" section
// gathers them from the registry (models/model_config.c), one per name: a
// section declared again with the same rows (a renamed copy of a module) is
// the same section.
//
// A block is pre-norm residual, assembled by model.c:
//   x += mixer(rmsnorm(x, input_layernorm))
//   x += ffn(rmsnorm(x, post_attention_layernorm))        (when ffn != none)
// A layer type only sees the normed input: forward writes out = f(inp),
// backward writes dinp from dout (gradient convention of kernels.h: parameter
// gradients +=, activation gradients =).
//
// Everything goes through the hl_ops table in hl_run: layer code never calls
// a backend directly and never allocates (saved activations live in L->act,
// temporaries in r->scratch, both carved from the model's arenas). Every op
// call is HL_RUN_OP (or a helper below that takes the run): an op's failure
// status (kernels.h) is recorded in *r->status, the first one sticks, and
// the model returns it (hl_model_last_status).
#ifndef HYLAB_LAYER_H
#define HYLAB_LAYER_H

#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"
#include "models/model.h"

#define HL_LAYER_MAX_SLOTS 24
#define HL_LAYER_MAX_SECTIONS 4

// HL_PART_NORMS: a block's input_layernorm (slot 0) / post_attention_layernorm (slot 1).
typedef enum { HL_PART_MIXER = 0, HL_PART_FFN = 1, HL_PART_NORMS = 2 } hl_part;

// ---------------------------------------------------------------- declaring tensors
// A growing list of tensor infos plus who owns each one (layer, part, slot).
// Model-level tensors (embedding, final norm, ...) have layer -1.
typedef struct {
    hl_tensor_info *infos;
    int *owner_layer, *owner_part, *owner_slot;
    int n, cap;
    int cur_layer; hl_part cur_part;  // set by the caller before declare()
    int failed;                       // out of memory while growing
} hl_decl;

// Adds "model.layers.{cur_layer}.{suffix}" with the given shape (ndim <= 3).
void hl_decl_layer(hl_decl *d, int slot, const char *suffix, const char *component,
                   int weight_decay, int ndim, int64_t d0, int64_t d1, int64_t d2);
// Adds a model-level tensor with its full name (owner layer -1).
void hl_decl_global(hl_decl *d, int slot, const char *name, const char *component,
                    int weight_decay, int ndim, int64_t d0, int64_t d1);
void hl_decl_free(hl_decl *d);

// ---------------------------------------------------------------- a layer instance
typedef struct hl_layer hl_layer;
struct hl_layer {
    const struct hl_layer_type *type;
    const hl_model_config *cfg;
    int index;                               // layer index in the model
    float *p[HL_LAYER_MAX_SLOTS];            // parameters by slot, NULL if not declared
    float *g[HL_LAYER_MAX_SLOTS];            // their gradients (same layout)
    const hl_tensor_info *t[HL_LAYER_MAX_SLOTS]; // their infos (names seed the init)
    float *act;                              // saved activations, act_floats(max_B, max_T) floats
    // KV sharing (attention-bearing mixers only):
    hl_layer *kv_producer;                   // NULL: own K/V; else the layer whose K/V we read
    const float *k, *v;                      // own K/V after forward: post-RoPE K (B,T,Hkv,hd), V (B,T,Hkv,vd)
    int has_consumers;                       // own K/V read by later layers
    float *dk_acc, *dv_acc;                  // then: dK/dV added by consumers' backward (zeroed by the model)
};

// What forward/backward get besides the layer.
typedef struct {
    const hl_ops *ops;
    int B, T;          // T = positions including the n_meta meta tokens
    int n_meta;
    float *scratch;    // >= scratch_floats(cfg, layer, B, T) floats, shared by all layers
    int *status;       // HL_OK until an op fails; then that op's status (the first failure sticks)
} hl_run;

// Records status rc of an op run under r (the first failure sticks); returns rc.
static inline int hl_run_rc(const hl_run *r, int rc) {
    if (rc != HL_OK && *r->status == HL_OK) *r->status = rc;
    return rc;
}
// Runs op `op` of r's table with argument pointer `args`, recording its status.
#define HL_RUN_OP(r, op, args) hl_run_rc((r), HL_OP_CALL((r)->ops, op, args))

// What the inference-state hooks get (models/decode.c builds it).
typedef struct {
    float *const *state;   // [layer index]: that layer's state_floats(cfg, l, max_B, max_len)
                           // floats of backend memory (NULL when 0); a KV consumer reads
                           // its producer's (whose KV cache starts the producer's state)
    int max_B, max_len;    // the sizes the states were made for
    const int32_t *lens;   // prefill: (B) model positions filled per row, meta tokens
                           // included; backend memory
    const int32_t *pos;    // step: (B) model position of each row's token; backend memory
} hl_decode_ctx;

// Capabilities a type declares (hl_layer_type.caps), asked instead of letters.
#define HL_CAP_KV       1u  // has K/V (attention): model.attn.window, global_layers and
                            // kv_share apply to it; its V head dim is resolved per layer
#define HL_CAP_STATE    2u  // has a recurrent state (an SSM)
#define HL_CAP_AUX_LOSS 4u  // adds an auxiliary loss (hook aux_loss; ffn_moe.c)

typedef struct hl_layer_type {
    char letter;       // 'A', 'S', 'H' for mixers; 0 for FFNs
    const char *name;  // "attention", "mamba", "hybrid", "swiglu"
    hl_part part;
    unsigned caps;     // HL_CAP_* bits
    hl_ffn_type ffn;   // FFN types: the value model.ffn.type/pattern names it by (name)
    // The spec sections this type reads (model.attn, model.ssm), NULL-terminated.
    const hl_cfg_section *sections[HL_LAYER_MAX_SECTIONS];
    // HL_CAP_KV types: the layer's V head dim when model.attn.v_head_dim is 0. NULL otherwise.
    int (*default_v_head_dim)(const hl_model_config *cfg);
    // The type's own checks of a resolved config at layer `layer`: HL_OK, or
    // HL_EBADINPUT with "json.path: what is wrong (got X)". NULL: nothing to check.
    int (*check)(const hl_model_config *cfg, int layer, char *err, size_t errlen);
    // Declares the parameter tensors of layer `layer` (no allocation of values).
    void (*declare)(const hl_model_config *cfg, int layer, hl_decl *d);
    // Fills every declared slot; a pure function of (seed, tensor names).
    void (*init)(hl_layer *L, uint64_t seed);
    // Floats of saved activations / backward temporaries for B sequences of T positions.
    size_t (*act_floats)(const hl_model_config *cfg, int layer, int B, int T);
    size_t (*scratch_floats)(const hl_model_config *cfg, int layer, int B, int T);
    // out, inp, dout, dinp are (B, T, d_model).
    void (*forward)(hl_layer *L, const hl_run *r, float *out, const float *inp);
    void (*backward)(hl_layer *L, const hl_run *r, float *dinp, const float *dout, const float *inp);
    // Forward FLOPs of this part for one token at context T (convention in model.c).
    double (*flops)(const hl_model_config *cfg, int layer, int64_t T);
    // Inference cache bytes at context T, batch 1.
    int64_t (*cache_bytes)(const hl_model_config *cfg, int layer, int64_t T, int bytes_per_elem);
    // ---- inference state (models/decode.h, DESIGN.md "Decoding"). A mixer
    // owns its state (KV cache, conv and SSM state) and these three hooks;
    // NULL in FFNs (position-wise: nothing to keep). hl_infer_create
    // refuses a model with a mixer that lacks them.
    // Floats of state for max_B sequences of up to max_len input positions
    // (meta tokens on top); for max_B = 1 exactly cache_bytes(cfg, layer,
    // max_len, 4) / 4 (tests/test_decode.c checks it).
    size_t (*state_floats)(const hl_model_config *cfg, int layer, int max_B, int max_len);
    // Right after the ordinary forward over the prompts (r: that forward's B
    // and T, L->act holding its saved activations): sets row b's state to
    // the state after the first c->lens[b] model positions. The state was
    // zeroed before.
    void (*state_prefill)(hl_layer *L, const hl_run *r, const hl_decode_ctx *c);
    // One token per row: inp and out are (B, d) (r->T == 1), row b's token
    // at model position c->pos[b]; reads the state and advances it by that
    // token. Temporaries come from L->act and r->scratch as in forward.
    void (*state_step)(hl_layer *L, const hl_run *r, const hl_decode_ctx *c, float *out, const float *inp);
    // The layout of that state, for hl_infer_fork (decode.h): the
    // state_floats(cfg, layer, max_B, max_len) floats are n parts back to
    // back, part i being (max_B, per_row[i]) floats, row-major by sequence
    // (row b's floats of part i are one run of per_row[i]). Writes per_row[0..n)
    // and returns n (0: no state of its own, e.g. a KV consumer; at most
    // max_parts); max_B * the sum of per_row equals state_floats
    // (tests/test_decode.c checks it). NULL: the state cannot be forked.
    int (*state_parts)(const hl_model_config *cfg, int layer, int max_B, int max_len, size_t *per_row,
                       int max_parts);
    // HL_CAP_AUX_LOSS types: the layer's auxiliary loss from the last forward
    // (its gradient is added by its own backward); summed by hl_loss_aux
    // (losses.h). NULL otherwise.
    double (*aux_loss)(const hl_layer *L);
    // Parameters of this part that one token does not use (a mixture of
    // experts: the n_experts - top_k experts it is not routed to); counted by
    // hl_model_count's active_params. NULL: 0 (every parameter is used).
    int64_t (*inactive_params)(const hl_model_config *cfg, int layer);
    // Statistics of the last forward for the training curves (the moe FFN:
    // its router's load balance, entropy and per-expert fractions): writes
    // statistic i's name (e.g. "entropy", "frac.e5") and value and returns 1;
    // 0 when i is past the last. harness/train records them at the loss
    // curve's cadence as "<type name>.L<layer>.<name>" (split "train").
    // NULL: none.
    int (*stat)(const hl_layer *L, int i, char *name, size_t len, double *value);
} hl_layer_type;

// ---------------------------------------------------------------- registry (registry.c)
extern const hl_layer_type *const hl_layer_types[];   // NULL-terminated
int hl_layer_type_count(void);
const hl_layer_type *hl_mixer_type(char letter);       // NULL if unknown
const hl_layer_type *hl_ffn_layer_type(hl_ffn_type t); // NULL for none (and unsupported)
int hl_ffn_supported(hl_ffn_type t);                   // 1 for none and the registered FFNs
// An FFN name of the spec: "none" or a registered FFN's name ("moe" is one). 0 and *out set, or -1 when unknown.
int hl_ffn_from_name(const char *name, hl_ffn_type *out);
const char *hl_ffn_name(hl_ffn_type t);                // "none", "swiglu", "moe"
// The supported FFN names as "swiglu, none" (quoted: "\"swiglu\" or \"none\"").
void hl_ffn_names(char *out, size_t n, int quoted);
// The FFN of layer `layer`: model.ffn.pattern cycled over layers, else
// model.ffn.type; type "moe" with model.ffn.moe.every > 1 gives moe on layers
// l % every == offset and swiglu on the others (Jamba's e = 2).
hl_ffn_type hl_ffn_of_layer(const hl_model_config *cfg, int layer);
// The spec section model.ffn (models/ffn.c): type, pattern, d_ff.
extern const hl_cfg_section hl_ffn_section;
// Capabilities of the mixer at layer `layer` (0 when its letter is unknown).
unsigned hl_layer_caps(const hl_model_config *cfg, int layer);
// The registered mixer letters as "A, S or H" (for messages).
void hl_mixer_letters(char *out, size_t n);

// ---------------------------------------------------------------- helpers (layer.c)
// Carves n floats (rounded up to 16) from base at *off; base NULL only counts.
float *hl_take(float *base, size_t *off, size_t n);

// Initial values from the generator of core/rng.h, one stream per (seed, tensor name).
void hl_fill_normal(float *p, size_t n, double std, uint64_t seed, const char *name);
void hl_fill_uniform(float *p, size_t n, double bound, uint64_t seed, const char *name); // U(-bound, bound)
void hl_fill_const(float *p, size_t n, float value);
// Slot versions: no-ops when the slot was not declared.
void hl_init_normal(hl_layer *L, int slot, double std, uint64_t seed);
void hl_init_uniform(hl_layer *L, int slot, double bound, uint64_t seed);
void hl_init_const(hl_layer *L, int slot, float value);
// Std of residual-output projections (o_proj, down_proj, out_proj): GPT-2 style.
double hl_resid_std(const hl_model_config *cfg);

// Op helpers: run under r (status recorded as HL_RUN_OP; returned too).
// out (N, OC) = inp (N, IC) @ w^T, no bias.
int hl_linear(const hl_run *r, float *out, const float *inp, const float *w, int N, int IC, int OC);
// dinp (N, IC) written, dw (OC, IC) added.
int hl_linear_bwd(const hl_run *r, float *dinp, float *dw, const float *dout, const float *inp,
                  const float *w, int N, int IC, int OC);
// out += x through the op table (n floats).
int hl_add_inplace(const hl_run *r, float *out, const float *x, size_t n);

// ---------------------------------------------------------------- model-level decoding (model.c)
// For models/decode.c. After a successful hl_model_forward over prompts:
// every mixer captures its state (state_prefill) under that forward's sizes.
// HL_OK or the first op failure (with err).
int hl_model_capture_state(hl_model *m, const hl_decode_ctx *c, char *err, size_t errlen);
// One token per row (tokens: B host ids, already checked): the blocks run
// with each mixer's state_step, then the final norm and head: *logits is
// the model's (B, vocab) logits buffer (backend memory). HL_OK or the first
// op failure (with err). Backward is refused after it.
int hl_model_decode_step(hl_model *m, const hl_decode_ctx *c, const int32_t *tokens, int B,
                         const float **logits, char *err, size_t errlen);

#endif
