// losses.c: the losses of losses.h. Naive references for tests live in
// tests/test_losses.c; the cross-entropy itself runs through the op table.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "models/layer.h"
#include "models/losses.h"

int hl_loss_xent(const hl_ops *ops, const float *logits, const int32_t *targets, int N, int V,
                 int32_t ignore_index, float *row_losses, float *dlogits, float *loss, int *n_lab,
                 char *err, size_t errlen) {
    if (N < 0 || V <= 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_loss_xent: bad shape N=%d V=%d", N, V);
    int lab = 0;
    for (int i = 0; i < N; i++) {
        if (targets[i] == ignore_index) continue;
        if (targets[i] < 0 || targets[i] >= V)
            return hl_fail(err, errlen, HL_EBADINPUT, "hl_loss_xent: target %d of row %d outside [0, %d)",
                           targets[i], i, V);
        lab++;
    }
    if (n_lab) *n_lab = lab;
    *loss = 0.0f;
    if (lab == 0) {
        if (dlogits) memset(dlogits, 0, (size_t)N * V * sizeof(float));
        return HL_OK;
    }
    hl_xent_fwd_args x = { .losses = row_losses, .logits = logits, .targets = targets,
                           .N = N, .V = V, .ignore_index = ignore_index };
    int rc = HL_OP_CALL(ops, xent_fwd, &x);
    if (rc) return hl_fail(err, errlen, rc, "hl_loss_xent: %s", hl_op_error());
    double sum = 0.0;
    for (int i = 0; i < N; i++) sum += row_losses[i];
    *loss = (float)(sum / lab);
    if (dlogits) {
        hl_xent_bwd_args b = { .dlogits = dlogits, .logits = logits, .targets = targets,
                               .N = N, .V = V, .ignore_index = ignore_index, .dloss = 1.0f / (float)lab };
        rc = HL_OP_CALL(ops, xent_bwd, &b);
        if (rc) return hl_fail(err, errlen, rc, "hl_loss_xent: %s", hl_op_error());
    }
    return HL_OK;
}

// log-softmax of row / tau into out (V), in double.
static void log_softmax_t(const float *row, int V, double tau, double *out) {
    double mx = -INFINITY, s = 0.0;
    for (int j = 0; j < V; j++) if (row[j] / tau > mx) mx = row[j] / tau;
    for (int j = 0; j < V; j++) s += exp(row[j] / tau - mx);
    double lse = mx + log(s);
    for (int j = 0; j < V; j++) out[j] = row[j] / tau - lse;
}

int hl_loss_kl(const float *student, const float *teacher, int N, int V, double tau,
               float *dstudent, float *loss, char *err, size_t errlen) {
    if (N < 0 || V <= 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_loss_kl: bad shape N=%d V=%d", N, V);
    if (!(tau > 0) || !isfinite(tau))
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_loss_kl: temperature must be > 0 and finite (got %g)", tau);
    *loss = 0.0f;
    if (N == 0) return HL_OK;
    double *lp = malloc(sizeof(double) * 2 * (size_t)V), *lq = lp + V;
    if (!lp) return hl_fail(err, errlen, HL_EFAIL, "hl_loss_kl: out of memory for %d-wide rows", V);
    double total = 0.0;
    for (int i = 0; i < N; i++) {
        log_softmax_t(teacher + (size_t)i * V, V, tau, lp);
        log_softmax_t(student + (size_t)i * V, V, tau, lq);
        double kl = 0.0;
        for (int j = 0; j < V; j++) {
            double p = exp(lp[j]);
            if (p > 0) kl += p * (lp[j] - lq[j]);
            if (dstudent) dstudent[(size_t)i * V + j] = (float)(tau / N * (exp(lq[j]) - p));
        }
        total += kl;
    }
    free(lp);
    *loss = (float)(tau * tau * total / N);
    return HL_OK;
}

int hl_loss_distill(const hl_ops *ops, const float *student, const float *teacher, const int32_t *targets,
                    int N, int V, int32_t ignore_index, double kl_weight, double ce_weight, double tau,
                    float *row_losses, float *dlogits, float *scratch, float *loss, float *kl, float *ce,
                    char *err, size_t errlen) {
    if (!(kl_weight >= 0) || !(ce_weight >= 0) || !isfinite(kl_weight) || !isfinite(ce_weight))
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_loss_distill: weights must be >= 0 and finite (got kl %g, ce %g)",
                       kl_weight, ce_weight);
    float xent, kl_total = 0.0f;
    int rc = hl_loss_xent(ops, student, targets, N, V, ignore_index, row_losses, dlogits, &xent, NULL, err, errlen);
    if (rc) return rc;
    if (dlogits) for (size_t i = 0; i < (size_t)N * V; i++) dlogits[i] *= (float)ce_weight;
    // KL block by block: block b of n rows has hl_loss_kl's loss and
    // gradient with 1/n; the whole's use 1/N, so both are scaled by n/N.
    double kl_sum = 0.0;
    for (int r0 = 0; r0 < N; r0 += HL_DISTILL_ROWS) {
        int n = N - r0 < HL_DISTILL_ROWS ? N - r0 : HL_DISTILL_ROWS;
        float part;
        rc = hl_loss_kl(student + (size_t)r0 * V, teacher + (size_t)r0 * V, n, V, tau, dlogits ? scratch : NULL,
                        &part, err, errlen);
        if (rc) return rc;
        kl_sum += (double)part * n / N;
        if (!dlogits) continue;
        float *d = dlogits + (size_t)r0 * V;   // (n, V)
        double w = kl_weight * n / N;
        for (size_t i = 0; i < (size_t)n * V; i++) d[i] += (float)(w * scratch[i]);
    }
    kl_total = (float)kl_sum;
    if (kl) *kl = kl_total;
    if (ce) *ce = xent;
    *loss = (float)(kl_weight * kl_total + ce_weight * xent);
    return HL_OK;
}

// One part's aux loss (0 without the capability).
static int part_aux(const hl_layer *L, double *sum, char *err, size_t errlen) {
    if (!L || !L->type || !(L->type->caps & HL_CAP_AUX_LOSS)) return HL_OK;
    if (!L->type->aux_loss)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_loss_aux: layer %d (%s) declares HL_CAP_AUX_LOSS without an aux_loss hook",
                       L->index, L->type->name);
    *sum += L->type->aux_loss(L);
    return HL_OK;
}

int hl_loss_aux(const hl_model *m, float *loss, char *err, size_t errlen) {
    double sum = 0.0;
    int n = hl_model_cfg(m)->n_layers;
    *loss = 0.0f;
    for (int l = 0; l < n; l++) {
        int rc = part_aux(hl_model_part(m, l, HL_PART_MIXER), &sum, err, errlen);
        if (!rc) rc = part_aux(hl_model_part(m, l, HL_PART_FFN), &sum, err, errlen);
        if (rc) return rc;
    }
    *loss = (float)sum;
    return HL_OK;
}
