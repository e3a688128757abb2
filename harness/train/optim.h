// optim.h: the optimizer side of a training step: learning-rate schedule,
// global-norm gradient clipping and AdamW over a model's tensors.
#ifndef HYLAB_OPTIM_H
#define HYLAB_OPTIM_H

#include <stddef.h>
#include "harness/spec.h"
#include "kernels/kernels.h"
#include "models/model.h"

// Learning rate of optimizer step `step` (1-based, 1..tc->steps). With
// s = step - 1 and W = warmup_steps:
//   s <  W: lr * (s + 1) / W                          (linear warmup, ends at lr)
//   s >= W: min_lr + (lr - min_lr) * shape(f), f = (s - W) / (steps - W)
//           shape = 0.5 * (1 + cos(pi f)) (cosine), 1 - f (linear), 1 (constant)
// f runs over [0, 1) across the decay steps: the first decay step uses lr and
// the decay would reach min_lr at step steps + 1, so every step, the last
// included, trains with an lr above min_lr (when lr > min_lr).
double hl_lr_at(const hl_train_config *tc, int step);

// Host reference versions (g on the host):
// The L2 norm of n gradients (accumulated in double).
double hl_grad_global_norm(const float *g, size_t n);
// Global-norm clipping: when clip > 0 and norm > clip, scales g by
// clip / norm (the clipped norm is clip); otherwise leaves g unchanged.
// Returns the scale applied (1 when unchanged).
double hl_clip_grads(float *g, size_t n, double norm, double clip);

// The optimizer state of one model, owned through the model's backend:
// AdamW moments m, v (numel floats each, backend memory, zeroed at create)
// and a host staging buffer (HL_NORM_CHUNK floats) for the gradient norm.
#define HL_NORM_CHUNK 16384   // 64 KB: stays in cache between the copy and the sum
typedef struct { const hl_backend *be; float *m, *v; float *host; size_t n; } hl_adam_state;
// HL_OK, or HL_EFAIL (out of memory; nothing left allocated).
int hl_adam_create(hl_adam_state *st, hl_model *m);
void hl_adam_free(hl_adam_state *st);

// Device-side versions on the model's gradient arena (backend memory).
// The norm: the gradients are copied to st->host chunk by chunk with the
// backend's d2h and summed there in order (the same double sum as
// hl_grad_global_norm, bit for bit; a device backend pays one gradient-sized
// copy per step, ~2 ms per 100 MB on PCIe 5, until a reduction op earns its
// place). Clipping scales the
// gradients in place with the axpby op (scale * g + 0 * g: bitwise equal to
// g * scale for finite g); returns the op status and the scale in *scale.
double hl_model_grad_norm(hl_model *m, hl_adam_state *st);
int hl_model_clip_grads(hl_model *m, double norm, double clip, double *scale);

// train.freeze: zeroes the gradients of the tensors matching tc's patterns
// (spec.h hl_train_frozen) with the backend's zero; call after the backward,
// before the norm. Nothing without patterns.
void hl_zero_frozen_grads(hl_model *m, const hl_train_config *tc);

// One AdamW step (1-based step for the bias correction) over every tensor
// of m with its gradient, tensor by tensor, with the adamw op of the model's
// backend: weight decay tc->weight_decay
// applies only to the tensors whose hl_tensor_info.weight_decay is set
// (matrices: linear weights, embedding, lm_head, conv1d weight), not to norm
// weights, biases, A_log, D or the meta tokens (see models/model.c). Tensors
// frozen by train.freeze are skipped (no update, no weight decay).
// Returns HL_OK or the first failing op's status (hl_op_error()).
int hl_adamw_step(hl_model *m, hl_adam_state *st, const hl_train_config *tc, double lr, int step);

#endif
