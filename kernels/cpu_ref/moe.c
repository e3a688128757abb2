// cpu_ref/moe.c: the mixture-of-experts routing ops (kernels.h, "mixture of
// experts"), naive: one token at a time, sums in double.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu_ref/cpu_ref.h"

void hl_ref_moe_route_fwd(const hl_moe_route_fwd_args *a) {
    int n = a->n, E = a->E, k = a->k;
    double ent = 0.0, z = 0.0;
    for (int i = 0; i < HL_MOE_STATS(E); i++) a->stats[i] = 0.0f;
    for (int t = 0; t < n; t++) {
        const float *lg = a->logits + (size_t)t * E;
        float *pr = a->probs + (size_t)t * E, *w = a->w + (size_t)t * k;
        int32_t *sel = a->sel + (size_t)t * k;
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
        for (int j = 0; j < k; j++) {   // selection by the stored float probs
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
            w[j] = a->router == HL_MOE_ROUTER_TOPK_RENORM ? (float)(pr[sel[j]] / sum) : pr[sel[j]];
        a->lse[t] = (float)lse;
        z += lse * lse;
        ent += h;
    }
    if (n == 0) return;
    double bal = 0.0;
    for (int e = 0; e < E; e++) {
        double cnt = 0.0, P = 0.0;
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < k; j++) cnt += a->sel[(size_t)t * k + j] == e;
            P += a->probs[(size_t)t * E + e];
        }
        a->stats[3 + e] = (float)(cnt / n);
        a->stats[3 + E + e] = (float)(P / n);
        bal += (cnt / n) * (P / n);
    }
    a->stats[0] = (float)(E * bal);
    a->stats[1] = (float)(z / n);
    a->stats[2] = (float)(ent / n);
}

void hl_ref_moe_route_bwd(const hl_moe_route_bwd_args *a) {
    int n = a->n, E = a->E, k = a->k;
    double *cnt = calloc((size_t)E + 1, sizeof(double)), *dp = malloc(sizeof(double) * ((size_t)E + 1));   // (E) each
    for (size_t i = 0; i < (size_t)n * k; i++) cnt[a->sel[i]] += 1.0;
    for (int t = 0; t < n; t++) {
        const float *pr = a->probs + (size_t)t * E, *dw = a->dw + (size_t)t * k;
        const int32_t *sel = a->sel + (size_t)t * k;
        for (int e = 0; e < E; e++) dp[e] = (double)a->load_balance * E * (cnt[e] / n) / n;
        if (a->router == HL_MOE_ROUTER_TOPK_RENORM) {   // w_j = p_j / S: dp_i += dw_i / S - sum_j dw_j p_j / S^2
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
    free(cnt); free(dp);
}

void hl_ref_moe_group(const hl_moe_group_args *a) {
    int E = a->E;
    size_t nk = (size_t)a->n * a->k;
    for (int e = 0; e <= E; e++) a->offs[e] = 0;
    for (size_t i = 0; i < nk; i++) a->offs[a->sel[i] + 1]++;
    for (int e = 0; e < E; e++) a->offs[e + 1] += a->offs[e];
    for (int e = 0; e < E; e++) {   // expert by expert: its assignments in order
        int32_t r = a->offs[e];
        for (size_t i = 0; i < nk; i++)
            if (a->sel[i] == e) a->rows[i] = r++;
    }
}

void hl_ref_moe_dispatch_fwd(const hl_moe_dispatch_fwd_args *a) {
    size_t C = a->C;
    for (size_t i = 0; i < (size_t)a->n * a->k; i++)
        memcpy(a->xs + (size_t)a->rows[i] * C, a->inp + i / a->k * C, sizeof(float) * C);
}

void hl_ref_moe_dispatch_bwd(const hl_moe_dispatch_bwd_args *a) {
    size_t C = a->C;
    for (int t = 0; t < a->n; t++)
        for (size_t c = 0; c < C; c++) {
            float s = 0.0f;
            for (int j = 0; j < a->k; j++) s += a->dxs[(size_t)a->rows[(size_t)t * a->k + j] * C + c];
            a->dinp[(size_t)t * C + c] = s;
        }
}

void hl_ref_moe_combine_fwd(const hl_moe_combine_fwd_args *a) {
    size_t C = a->C;
    for (int t = 0; t < a->n; t++)
        for (size_t c = 0; c < C; c++) {
            float s = 0.0f;
            for (int j = 0; j < a->k; j++) {
                size_t i = (size_t)t * a->k + j;
                s += a->w[i] * a->y[(size_t)a->rows[i] * C + c];
            }
            a->out[(size_t)t * C + c] = s;
        }
}

void hl_ref_moe_combine_bwd(const hl_moe_combine_bwd_args *a) {
    size_t C = a->C;
    for (size_t i = 0; i < (size_t)a->n * a->k; i++) {
        const float *g = a->dout + i / a->k * C, *y = a->y + (size_t)a->rows[i] * C;
        float *dy = a->dy + (size_t)a->rows[i] * C;
        double s = 0.0;
        for (size_t c = 0; c < C; c++) { s += (double)g[c] * y[c]; dy[c] = a->w[i] * g[c]; }
        a->dw[i] = (float)s;
    }
}
