// losses.h: losses on the logits the model returns (hl_model_forward), apart
// from the model: cross-entropy with an ignore index, KL to a soft target
// with a temperature (distillation), and the hook that sums modules'
// auxiliary losses. The harness joins them: forward -> logits -> loss and
// dlogits -> hl_model_backward(dlogits).
//
// Every loss checks its inputs and returns HL_OK, or HL_EBADINPUT with a
// message (a target outside [0, V), a bad shape): a programming error is a
// status, never a NaN that would pass for divergence. Losses read and write
// the buffers they are given (host memory for the CPU backends).
#ifndef HYLAB_LOSSES_H
#define HYLAB_LOSSES_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"
#include "kernels/kernels.h"
#include "models/model.h"

// Cross-entropy over N rows of logits (N, V) against targets (N): row i's
// loss is logsumexp(logits_i) - logits_i[targets_i], rows whose target is
// ignore_index count 0. *loss = (float)(sum of row losses in double / n_lab),
// the mean over the n_lab labelled rows (0 when there are none). Computed by
// the op table's xent_fwd into row_losses (N, written); when dlogits (N, V)
// is not NULL it receives d(*loss)/d(logits) through xent_bwd with weight
// 1/n_lab per row (all zero when n_lab is 0). *n_lab (if not NULL) receives
// the count. HL_EBADINPUT when N < 0, V <= 0 or a target is neither
// ignore_index nor in [0, V).
int hl_loss_xent(const hl_ops *ops, const float *logits, const int32_t *targets, int N, int V,
                 int32_t ignore_index, float *row_losses, float *dlogits, float *loss, int *n_lab,
                 char *err, size_t errlen);

// Distillation loss with temperature tau > 0 (Hinton, Vinyals and Dean 2015,
// "Distilling the Knowledge in a Neural Network", section 2; the same
// convention as MOHAWK's logit distillation, Bick et al. 2024):
//   p_i = softmax(teacher_i / tau), q_i = softmax(student_i / tau)
//   *loss = tau^2 * (1/N) * sum_i KL(p_i || q_i)
//         = tau^2 * (1/N) * sum_i sum_j p_ij (log p_ij - log q_ij)
// (the tau^2 keeps the gradient's scale independent of tau). Gradient with
// respect to the student logits (dstudent (N, V), written, when not NULL):
//   dstudent_ij = (tau / N) * (q_ij - p_ij).
// Computed in double per row (log-softmax with the row max subtracted).
// N = 0 gives loss 0. HL_EBADINPUT when N < 0, V <= 0 or tau is not > 0 and finite.
int hl_loss_kl(const float *student, const float *teacher, int N, int V, double tau,
               float *dstudent, float *loss, char *err, size_t errlen);

// Distillation (train.teacher): over N rows of student and teacher logits
// (N, V each) and targets (N),
//   *loss = kl_weight * KL + ce_weight * CE
// with KL = hl_loss_kl(student, teacher, N, V, tau) (tau^2 scaling, the mean
// over ALL N rows, ignore_index or not) and CE = hl_loss_xent's mean over the
// labelled rows; *kl and *ce (not NULL) receive the two terms unweighted.
// dlogits (N, V; NULL: no gradient) receives d(*loss)/d(student): the
// cross-entropy's gradient (ce_weight * xent_bwd) plus kl_weight times the
// KL's, the latter computed in blocks of rows in scratch (HL_DISTILL_ROWS x V
// floats, the caller's) so that no second (N, V) buffer is needed.
// row_losses (N) as for hl_loss_xent. Errors as hl_loss_xent and
// hl_loss_kl; HL_EBADINPUT when a weight is negative or not finite.
#define HL_DISTILL_ROWS 64
int hl_loss_distill(const hl_ops *ops, const float *student, const float *teacher, const int32_t *targets,
                    int N, int V, int32_t ignore_index, double kl_weight, double ce_weight, double tau,
                    float *row_losses, float *dlogits, float *scratch, float *loss, float *kl, float *ce,
                    char *err, size_t errlen);

// Auxiliary losses of the model's modules after a forward: the sum over the
// mixers and FFNs that declare HL_CAP_AUX_LOSS of their aux_loss hook
// (layer.h; the moe FFN, models/ffn_moe.c, has one); 0 when none does. A module's
// aux loss enters the total with weight 1 and its gradient is added by the
// module's own backward. *loss receives the sum; HL_EBADINPUT when a module
// declares the capability without the hook.
int hl_loss_aux(const hl_model *m, float *loss, char *err, size_t errlen);

#endif
