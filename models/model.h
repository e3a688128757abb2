// model.h: model assembly from a hl_model_config: layers from the registry,
// parameter arena, forward/backward through an op table, counts for describe.
//
// Sequence layout: the model runs on Tt = m + T positions, m = meta_tokens.
// Positions 0..m-1 hold the learnable meta tokens (model.memory_tokens), the
// input tokens follow at m..m+T-1 (RoPE position = index in this sequence).
// Meta tokens are never predicted: outputs/losses are only requested at input
// positions.
#ifndef HYLAB_MODEL_H
#define HYLAB_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"
#include "kernels/kernels.h"
#include "models/model_config.h"

// One parameter tensor, Hugging Face style name (DESIGN.md "Checkpoints").
typedef struct {
    char name[96];           // e.g. "model.layers.3.mamba.A_log"
    int ndim; int64_t shape[4];
    size_t numel;
    size_t offset;           // in floats, into the parameter arena
    const char *component;   // "embedding","attention","ssm","ffn","norms","meta_tokens","lm_head","hybrid"
    int weight_decay;        // 1: AdamW applies weight decay (matrices); 0: norms, biases, A_log, D, ...
} hl_tensor_info;

// Counts computed from the config alone (no allocation): used by describe,
// so a 7B spec can be described on a laptop.
typedef struct {
    int64_t params;
    int64_t by_component[8]; // indexed like hl_component_names
    int64_t active_params;   // params a token uses: params less the experts it is not routed to
    double flops_per_token;  // forward FLOPs per token at the given context
} hl_model_counts;
extern const char *const hl_component_names[8];
int hl_component_index(const char *component);

// Checks that the model code supports the config (registered layer letters,
// each layer's FFN supported and as model.ffn gives it (hl_ffn_of_layer: a
// hand-built config must fill hl_layer_plan.ffn), head/width divisibility, KV-sharing producers that exist and
// match). HL_OK, or HL_EBADINPUT with a message naming the offending key.
// (Added by the models owner: describe and create share it.)
int hl_model_check(const hl_model_config *cfg, char *err, size_t errlen);

// Declared parameter tensors of a config (no allocation of the values).
// Returns the number of tensors; *out is malloc'd. -1 (and *out NULL) when
// hl_model_check fails or memory runs out.
int hl_model_tensors(const hl_model_config *cfg, hl_tensor_info **out);
// Params by component and forward FLOPs per token at context T.
hl_model_counts hl_model_count(const hl_model_config *cfg, int64_t context);
// Inference cache bytes at context T, batch 1: KV for producers only (T
// capped at the longest window among a producer and its consumers, meta
// tokens included: what hl_infer_create allocates), SSM + conv
// state for S/H layers. bytes_per_elem: 2 for 16-bit caches.
int64_t hl_model_cache_bytes(const hl_model_config *cfg, int64_t context, int bytes_per_elem);

// What hl_model_create allocates for cfg at (max_B, max_T), in elements:
// params floats (the gradient arena is as large again), acts floats (the
// activation arena), ints int32s. All -1 when hl_model_check fails, the
// batch is impossible or memory runs out.
typedef struct { int64_t params, acts, ints; } hl_model_sizes;
hl_model_sizes hl_model_sizes_of(const hl_model_config *cfg, int max_B, int max_T);

typedef struct hl_model hl_model;

// Builds the model and allocates arenas for batches up to max_B sequences of
// up to max_T input tokens (meta tokens come on top) from backend be (its
// alloc; gradients zeroed with its zero). Every op runs on be's op table.
// Returns NULL with err.
hl_model *hl_model_create(const hl_model_config *cfg, const hl_backend *be,
                          int max_B, int max_T, char *err, size_t errlen);
void hl_model_free(hl_model *m);
const hl_backend *hl_model_backend(const hl_model *m);

// Initialise every parameter from the seed (Mamba init as state-spaces/mamba,
// normal(0, 0.02) for linear/embedding, ones for norm weights, ...): values
// are made in a host staging buffer and copied in with the backend's h2d.
// HL_OK, or HL_EFAIL when the staging buffer cannot be allocated.
int hl_model_init(hl_model *m, uint64_t seed);

// Parameter and gradient arenas (same layout, numel floats each): BACKEND
// memory (kernels.h "MEMORY"). Code outside models/ and kernels/ passes
// them to ops or copies them with the functions below, never dereferences
// them (tests on the CPU backends excepted).
float *hl_model_params(hl_model *m);
float *hl_model_grads(hl_model *m);
// Copies of the whole parameter / gradient arena (numel floats, tensor
// offsets as hl_tensor_info.offset) to or from a host buffer, through the
// backend's d2h / h2d. Return HL_OK.
int hl_model_params_to_host(hl_model *m, float *host);
int hl_model_params_from_host(hl_model *m, const float *host);
int hl_model_grads_to_host(hl_model *m, float *host);
// The first op failure (kernels.h "OP STATUS") since the last
// hl_model_forward began, through its hl_model_backward: HL_OK when every
// op succeeded, else HL_EBADINPUT / HL_EUNSUPPORTED (hl_op_error() on the
// calling thread has the op's message). Outputs are meaningless then.
int hl_model_last_status(const hl_model *m);
size_t hl_model_numel(const hl_model *m);
int hl_model_num_tensors(const hl_model *m);
const hl_tensor_info *hl_model_tensor(const hl_model *m, int i);
const hl_model_config *hl_model_cfg(const hl_model *m);
const hl_ops *hl_model_ops(const hl_model *m);   // the op table it was created with
// The batch sizes the model was created for (hl_model_create's max_B, max_T).
int hl_model_max_B(const hl_model *m);
int hl_model_max_T(const hl_model *m);

// Forward on tokens (B, T) (T input tokens; meta tokens are added inside).
// Logits are computed only at the n_out requested input positions out_pos
// (flat indices b*T + t into the input, NULL = the first n_out positions in
// order). *logits, if not NULL, receives a model-owned (n_out, vocab) buffer
// valid until the next forward. Losses are not the model's: see
// models/losses.h. Returns HL_OK, or HL_EBADINPUT with a message in err (a
// token outside [0, vocab), B/T/n_out outside the model's sizes, a position
// outside [0, B*T)); then nothing is computed and backward is refused.
int hl_model_forward(hl_model *m, const int32_t *tokens, int B, int T,
                     const int32_t *out_pos, int n_out, const float **logits,
                     char *err, size_t errlen);
// Backward of the last successful forward from dlogits (n_out, vocab), the
// gradient of the loss with respect to its logits: ADDS into the gradient
// arena (zero it with hl_model_zero_grad first). n_out = 0 adds nothing.
// HL_EBADINPUT (with err) when there was no successful forward.
int hl_model_backward(hl_model *m, const float *dlogits, char *err, size_t errlen);
// Model-owned scratch for the loss of the last forward, sized for every
// position of a full batch: dlogits (max_B*max_T, vocab) and row_losses
// (max_B*max_T). A caller may compute its loss and gradient there and pass
// dlogits to hl_model_backward; the model does not read them otherwise.
void hl_model_loss_buffers(hl_model *m, float **dlogits, float **row_losses);
// The mixer (part 0) or FFN (part 1) of layer l, as layer.h's struct hl_layer;
// NULL when the layer has no such part or l is out of range (for walks such
// as losses.h's auxiliary losses).
const struct hl_layer *hl_model_part(const hl_model *m, int l, int part);
void hl_model_zero_grad(hl_model *m);

#endif
