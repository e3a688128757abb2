// cpu_ref/pointwise.c: naive silu, swiglu, softmax cross-entropy, adamw, axpby.
#include <math.h>
#include "kernels/cpu_ref/cpu_ref.h"

void hl_ref_silu_fwd(const hl_silu_fwd_args *a) {
    for (size_t i = 0; i < a->n; i++) { float x = a->inp[i]; a->out[i] = x * hl_sigmoid(x); }
}

void hl_ref_silu_bwd(const hl_silu_bwd_args *a) {
    // d/dx x s(x) = s(x) (1 + x (1 - s(x)))
    for (size_t i = 0; i < a->n; i++) {
        float x = a->inp[i], s = hl_sigmoid(x);
        a->dinp[i] = a->dout[i] * s * (1.0f + x * (1.0f - s));
    }
}

void hl_ref_swiglu_fwd(const hl_swiglu_fwd_args *a) {
    for (size_t i = 0; i < a->n; i++) {
        float g = a->gate[i];
        a->out[i] = g * hl_sigmoid(g) * a->up[i];
    }
}

void hl_ref_swiglu_bwd(const hl_swiglu_bwd_args *a) {
    for (size_t i = 0; i < a->n; i++) {
        float g = a->gate[i], s = hl_sigmoid(g);
        a->dup[i] = a->dout[i] * g * s;
        a->dgate[i] = a->dout[i] * a->up[i] * s * (1.0f + g * (1.0f - s));
    }
}

// log-sum-exp of one row of V logits, in double.
static double row_lse(const float *row, int V) {
    double mx = row[0], s = 0.0;
    for (int j = 1; j < V; j++) if (row[j] > mx) mx = row[j];
    for (int j = 0; j < V; j++) s += exp(row[j] - mx);
    return mx + log(s);
}

void hl_ref_xent_fwd(const hl_xent_fwd_args *a) {
    for (int n = 0; n < a->N; n++) {
        const float *row = a->logits + (size_t)n * a->V; // (V)
        int32_t t = a->targets[n];
        a->losses[n] = t == a->ignore_index ? 0.0f : (float)(row_lse(row, a->V) - row[t]);
    }
}

void hl_ref_xent_bwd(const hl_xent_bwd_args *a) {
    for (int n = 0; n < a->N; n++) {
        const float *row = a->logits + (size_t)n * a->V; // (V)
        float *drow = a->dlogits + (size_t)n * a->V;     // (V)
        int32_t t = a->targets[n];
        if (t == a->ignore_index) { for (int j = 0; j < a->V; j++) drow[j] = 0.0f; continue; }
        double lse = row_lse(row, a->V);
        for (int j = 0; j < a->V; j++)
            drow[j] = (float)((exp(row[j] - lse) - (j == t)) * a->dloss);
    }
}

void hl_ref_adamw(const hl_adamw_args *a) {
    double bc1 = 1.0 - pow(a->beta1, a->step), bc2 = 1.0 - pow(a->beta2, a->step);
    for (size_t i = 0; i < a->n; i++) {
        float g = a->grads[i];
        a->m[i] = a->beta1 * a->m[i] + (1.0f - a->beta1) * g;
        a->v[i] = a->beta2 * a->v[i] + (1.0f - a->beta2) * g * g;
        double mhat = a->m[i] / bc1, vhat = a->v[i] / bc2;
        a->params[i] -= (float)(a->lr * (mhat / (sqrt(vhat) + a->eps) + a->weight_decay * a->params[i]));
    }
}

void hl_ref_axpby(const hl_axpby_args *a) {
    for (size_t i = 0; i < a->n; i++) a->out[i] = a->a * a->x[i] + a->b * a->y[i];
}
