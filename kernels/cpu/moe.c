// cpu/moe.c: the mixture-of-experts routing ops (kernels.h, "mixture of
// experts"). Per-token work runs in parallel (OpenMP over tokens or
// assignments); the sums over tokens (statistics, counts) are serial in
// token order, so results do not depend on the thread count. The grouping
// is a counting sort (one pass to count, one to place).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu/cpu.h"

// One token's softmax, top k and weights (the rules of kernels.h, as cpu_ref
// computes them); returns lse and the entropy in *ent.
static double route_row(const float *lg, float *pr, int32_t *sel, float *w, int E, int k, int router, double *ent) {
    double mx = lg[0], s = 0.0, h = 0.0;
    for (int e = 1; e < E; e++) if (lg[e] > mx) mx = lg[e];
    for (int e = 0; e < E; e++) s += exp((double)lg[e] - mx);
    double lse = mx + log(s);
    for (int e = 0; e < E; e++) {
        double p = exp((double)lg[e] - lse);
        pr[e] = (float)p;
        if (p > 0) h -= p * ((double)lg[e] - lse);
    }
    double sum = 0.0;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < E; e++) {
            int taken = 0;
            for (int i = 0; i < j; i++) taken |= sel[i] == e;
            if (!taken && (best < 0 || pr[e] > pr[best])) best = e;
        }
        sel[j] = best;
        sum += pr[best];
    }
    for (int j = 0; j < k; j++)
        w[j] = router == HL_MOE_ROUTER_TOPK_RENORM ? (float)(pr[sel[j]] / sum) : pr[sel[j]];
    *ent = h;
    return lse;
}

void hl_cpu_moe_route_fwd(const hl_moe_route_fwd_args *a) {
    int n = a->n, E = a->E, k = a->k;
    double *rowv = (double *)(void *)hl_cpu_scratch_raw(0, 4 * (size_t)n + 2);   // (n, 2): lse^2, entropy
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < n; t++) {
        double ent, lse = route_row(a->logits + (size_t)t * E, a->probs + (size_t)t * E, a->sel + (size_t)t * k,
                                    a->w + (size_t)t * k, E, k, a->router, &ent);
        a->lse[t] = (float)lse;
        rowv[2 * (size_t)t] = lse * lse;
        rowv[2 * (size_t)t + 1] = ent;
    }
    for (int i = 0; i < HL_MOE_STATS(E); i++) a->stats[i] = 0.0f;
    if (n == 0) return;
    double *cnt = calloc(2 * (size_t)E + 1, sizeof(double)), *P = cnt + E, z = 0.0, ent = 0.0;   // (E) each
    for (int t = 0; t < n; t++) {
        for (int j = 0; j < k; j++) cnt[a->sel[(size_t)t * k + j]] += 1.0;
        for (int e = 0; e < E; e++) P[e] += a->probs[(size_t)t * E + e];
        z += rowv[2 * (size_t)t];
        ent += rowv[2 * (size_t)t + 1];
    }
    double bal = 0.0;
    for (int e = 0; e < E; e++) {
        a->stats[3 + e] = (float)(cnt[e] / n);
        a->stats[3 + E + e] = (float)(P[e] / n);
        bal += (cnt[e] / n) * (P[e] / n);
    }
    a->stats[0] = (float)(E * bal);
    a->stats[1] = (float)(z / n);
    a->stats[2] = (float)(ent / n);
    free(cnt);
}

void hl_cpu_moe_route_bwd(const hl_moe_route_bwd_args *a) {
    int n = a->n, E = a->E, k = a->k;
    double *lb = calloc((size_t)E + 1, sizeof(double));   // (E) d(load_balance * balance) / d probs[t, e]
    for (size_t i = 0; i < (size_t)n * k; i++) lb[a->sel[i]] += 1.0;
    for (int e = 0; e < E; e++) lb[e] = (double)a->load_balance * E * (lb[e] / n) / n;
    #pragma omp parallel
    {
        double *dp = malloc(sizeof(double) * ((size_t)E + 1));   // (E)
        #pragma omp for schedule(static)
        for (int t = 0; t < n; t++) {
            const float *pr = a->probs + (size_t)t * E, *dw = a->dw + (size_t)t * k;
            const int32_t *sel = a->sel + (size_t)t * k;
            memcpy(dp, lb, sizeof(double) * E);
            if (a->router == HL_MOE_ROUTER_TOPK_RENORM) {
                double S = 0.0, q = 0.0;
                for (int j = 0; j < k; j++) { S += pr[sel[j]]; q += (double)dw[j] * pr[sel[j]]; }
                for (int j = 0; j < k; j++) dp[sel[j]] += dw[j] / S - q / (S * S);
            } else {
                for (int j = 0; j < k; j++) dp[sel[j]] += dw[j];
            }
            double s = 0.0, zg = 2.0 * a->z_loss * a->lse[t] / n;
            for (int e = 0; e < E; e++) s += pr[e] * dp[e];
            for (int e = 0; e < E; e++) a->dlogits[(size_t)t * E + e] = (float)(pr[e] * (dp[e] - s) + zg * pr[e]);
        }
        free(dp);
    }
    free(lb);
}

void hl_cpu_moe_group(const hl_moe_group_args *a) {
    int E = a->E;
    size_t nk = (size_t)a->n * a->k;
    for (int e = 0; e <= E; e++) a->offs[e] = 0;
    for (size_t i = 0; i < nk; i++) a->offs[a->sel[i] + 1]++;
    for (int e = 0; e < E; e++) a->offs[e + 1] += a->offs[e];
    int32_t *fill = malloc(sizeof(int32_t) * ((size_t)E + 1));   // (E) next free row per expert
    memcpy(fill, a->offs, sizeof(int32_t) * E);
    for (size_t i = 0; i < nk; i++) a->rows[i] = fill[a->sel[i]]++;
    free(fill);
}

void hl_cpu_moe_dispatch_fwd(const hl_moe_dispatch_fwd_args *a) {
    size_t C = a->C;
    long nk = (long)a->n * a->k;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < nk; i++)
        memcpy(a->xs + (size_t)a->rows[i] * C, a->inp + (size_t)(i / a->k) * C, sizeof(float) * C);
}

void hl_cpu_moe_dispatch_bwd(const hl_moe_dispatch_bwd_args *a) {
    size_t C = a->C;
    int k = a->k;
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < a->n; t++) {
        float *d = a->dinp + (size_t)t * C;
        for (size_t c = 0; c < C; c++) d[c] = 0.0f;
        for (int j = 0; j < k; j++) {
            const float *x = a->dxs + (size_t)a->rows[(size_t)t * k + j] * C;
            #pragma omp simd
            for (size_t c = 0; c < C; c++) d[c] += x[c];
        }
    }
}

void hl_cpu_moe_combine_fwd(const hl_moe_combine_fwd_args *a) {
    size_t C = a->C;
    int k = a->k;
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < a->n; t++) {
        float *o = a->out + (size_t)t * C;
        for (size_t c = 0; c < C; c++) o[c] = 0.0f;
        for (int j = 0; j < k; j++) {
            size_t i = (size_t)t * k + j;
            const float *y = a->y + (size_t)a->rows[i] * C, wt = a->w[i];
            #pragma omp simd
            for (size_t c = 0; c < C; c++) o[c] += wt * y[c];
        }
    }
}

void hl_cpu_moe_combine_bwd(const hl_moe_combine_bwd_args *a) {
    size_t C = a->C;
    long nk = (long)a->n * a->k;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < nk; i++) {
        const float *g = a->dout + (size_t)(i / a->k) * C, *y = a->y + (size_t)a->rows[i] * C;
        float *dy = a->dy + (size_t)a->rows[i] * C, wt = a->w[i];
        double s = 0.0;
        #pragma omp simd reduction(+:s)
        for (size_t c = 0; c < C; c++) { s += (double)g[c] * y[c]; dy[c] = wt * g[c]; }
        a->dw[i] = (float)s;
    }
}
