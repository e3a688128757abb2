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

// The L2 norm of n gradients (accumulated in double).
double hl_grad_global_norm(const float *g, size_t n);

// Global-norm clipping: when clip > 0 and norm > clip, scales g by
// clip / norm (the clipped norm is clip); otherwise leaves g unchanged.
// Returns the scale applied (1 when unchanged).
double hl_clip_grads(float *g, size_t n, double norm, double clip);

// AdamW moments: (numel) each, zero at the start.
typedef struct { float *m, *v; } hl_adam_state;

// One AdamW step (1-based step for the bias correction) over every tensor
// of m with its gradient, tensor by tensor: weight decay tc->weight_decay
// applies only to the tensors whose hl_tensor_info.weight_decay is set
// (matrices: linear weights, embedding, lm_head, conv1d weight), not to norm
// weights, biases, A_log, D or the meta tokens (see models/model.c).
void hl_adamw_step(const hl_ops *ops, hl_model *m, hl_adam_state *st, const hl_train_config *tc,
                   double lr, int step);

#endif
