// cpu/pointwise.c: silu, swiglu, softmax cross-entropy, adamw, axpby.
// OpenMP over elements or rows; inner loops vectorise (hl_fast_expf).
#include <math.h>
#include "kernels/cpu/cpu.h"

void hl_cpu_silu_fwd(const hl_silu_fwd_args *a) {
    float *out = a->out;
    const float *inp = a->inp; // may alias out
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < a->n; i++) out[i] = inp[i] * hl_fast_sigmoid(inp[i]);
}

void hl_cpu_silu_bwd(const hl_silu_bwd_args *a) {
    float *dinp = a->dinp;
    const float *dout = a->dout, *inp = a->inp;
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < a->n; i++) {
        float x = inp[i], s = hl_fast_sigmoid(x);
        dinp[i] = dout[i] * s * (1.0f + x * (1.0f - s));
    }
}

void hl_cpu_swiglu_fwd(const hl_swiglu_fwd_args *a) {
    float *out = a->out;
    const float *gate = a->gate, *up = a->up;
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < a->n; i++) out[i] = gate[i] * hl_fast_sigmoid(gate[i]) * up[i];
}

void hl_cpu_swiglu_bwd(const hl_swiglu_bwd_args *a) {
    float *dgate = a->dgate, *dup = a->dup;
    const float *dout = a->dout, *gate = a->gate, *up = a->up;
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < a->n; i++) {
        float g = gate[i], s = hl_fast_sigmoid(g), d = dout[i], u = up[i];
        dup[i] = d * g * s;
        dgate[i] = d * u * s * (1.0f + g * (1.0f - s));
    }
}

// log-sum-exp of one row (V): max, then a vectorised sum of exps.
static float row_lse(const float *row, int V) {
    float mx = row[0];
    #pragma omp simd reduction(max:mx)
    for (int j = 0; j < V; j++) mx = row[j] > mx ? row[j] : mx;
    float s = 0.0f;
    #pragma omp simd reduction(+:s)
    for (int j = 0; j < V; j++) s += hl_fast_expf(row[j] - mx);
    return mx + logf(s);
}

void hl_cpu_xent_fwd(const hl_xent_fwd_args *a) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < a->N; n++) {
        const float *row = a->logits + (size_t)n * a->V; // (V)
        int32_t t = a->targets[n];
        a->losses[n] = t == a->ignore_index ? 0.0f : row_lse(row, a->V) - row[t];
    }
}

void hl_cpu_xent_bwd(const hl_xent_bwd_args *a) {
    int V = a->V;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < a->N; n++) {
        const float *row = a->logits + (size_t)n * V; // (V)
        float *drow = a->dlogits + (size_t)n * V;     // (V)
        int32_t t = a->targets[n];
        if (t == a->ignore_index) { memset(drow, 0, sizeof(float) * V); continue; }
        float lse = row_lse(row, V), w = a->dloss;
        #pragma omp simd
        for (int j = 0; j < V; j++) drow[j] = hl_fast_expf(row[j] - lse) * w;
        drow[t] -= w;
    }
}

void hl_cpu_adamw(const hl_adamw_args *a) {
    float bc1 = (float)(1.0 - pow(a->beta1, a->step)), bc2 = (float)(1.0 - pow(a->beta2, a->step));
    float b1 = a->beta1, b2 = a->beta2, lr = a->lr, eps = a->eps, wd = a->weight_decay;
    float *p = a->params, *m = a->m, *v = a->v;
    const float *g = a->grads;
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < a->n; i++) {
        float mi = b1 * m[i] + (1.0f - b1) * g[i];
        float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi; v[i] = vi;
        p[i] -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * p[i]);
    }
}

void hl_cpu_axpby(const hl_axpby_args *a) {
    float *out = a->out, s = a->a, t = a->b;
    const float *x = a->x, *y = a->y; // out may alias x or y (same index only)
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < a->n; i++) out[i] = s * x[i] + t * y[i];
}
