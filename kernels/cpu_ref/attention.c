// cpu_ref/attention.c: naive causal GQA attention with sliding window and
// always-visible meta prefix. Materialises one row of scores at a time; the
// backward recomputes probabilities from scratch (ignores out and lse).
#include <math.h>
#include <stdlib.h>
#include "kernels/cpu_ref/cpu_ref.h"

// Probabilities of query (b, t, h) over keys 0..t into p (T); returns lse.
static double attn_row_probs(const float *q, const float *k, int b, int t, int h,
                             int T, int H, int Hkv, int hd, int window, int n_meta,
                             double *p) {
    int hk = h / (H / Hkv);
    const float *qv = q + (((size_t)b * T + t) * H + h) * hd; // (hd)
    double scale = 1.0 / sqrt((double)hd), mx = -INFINITY, sum = 0.0;
    for (int s = 0; s <= t; s++) {
        if (!hl_attn_visible(t, s, window, n_meta)) { p[s] = -INFINITY; continue; }
        const float *kv = k + (((size_t)b * T + s) * Hkv + hk) * hd; // (hd)
        double dot = 0.0;
        for (int i = 0; i < hd; i++) dot += (double)qv[i] * kv[i];
        p[s] = dot * scale;
        if (p[s] > mx) mx = p[s];
    }
    for (int s = 0; s <= t; s++) { p[s] = exp(p[s] - mx); sum += p[s]; }
    for (int s = 0; s <= t; s++) p[s] /= sum;
    return mx + log(sum);
}

void hl_ref_attn_fwd(const hl_attn_fwd_args *a) {
    int B = a->B, T = a->T, H = a->H, Hkv = a->Hkv, vd = a->vd;
    double *p = malloc(sizeof(double) * T); // (T) one row of probabilities
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                double lse = attn_row_probs(a->q, a->k, b, t, h, T, H, Hkv, a->hd,
                                            a->window, a->n_meta, p);
                a->lse[((size_t)b * H + h) * T + t] = (float)lse;
                int hk = h / (H / Hkv);
                float *o = a->out + (((size_t)b * T + t) * H + h) * vd; // (vd)
                for (int j = 0; j < vd; j++) {
                    double s = 0.0;
                    for (int u = 0; u <= t; u++)
                        s += p[u] * a->v[(((size_t)b * T + u) * Hkv + hk) * vd + j];
                    o[j] = (float)s;
                }
            }
    free(p);
}

void hl_ref_attn_bwd(const hl_attn_bwd_args *a) {
    int B = a->B, T = a->T, H = a->H, Hkv = a->Hkv, hd = a->hd, vd = a->vd;
    double scale = 1.0 / sqrt((double)hd);
    size_t nq = (size_t)B * T * H * hd, nk = (size_t)B * T * Hkv * hd, nv = (size_t)B * T * Hkv * vd;
    // accumulate in double, write at the end
    double *dq = calloc(nq, sizeof(double)), *dk = calloc(nk, sizeof(double));
    double *dv = calloc(nv, sizeof(double));
    double *p = malloc(sizeof(double) * T), *dp = malloc(sizeof(double) * T); // (T)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                attn_row_probs(a->q, a->k, b, t, h, T, H, Hkv, hd, a->window, a->n_meta, p);
                int hk = h / (H / Hkv);
                const float *go = a->dout + (((size_t)b * T + t) * H + h) * vd; // (vd)
                const float *qv = a->q + (((size_t)b * T + t) * H + h) * hd;    // (hd)
                double pdp = 0.0; // sum_s p_s dp_s
                for (int s = 0; s <= t; s++) {
                    const float *vv = a->v + (((size_t)b * T + s) * Hkv + hk) * vd;
                    double d = 0.0;
                    for (int j = 0; j < vd; j++) d += (double)go[j] * vv[j];
                    dp[s] = d;
                    pdp += p[s] * d;
                }
                for (int s = 0; s <= t; s++) {
                    if (p[s] == 0.0) continue;
                    size_t kvo = ((size_t)b * T + s) * Hkv + hk;
                    for (int j = 0; j < vd; j++) dv[kvo * vd + j] += p[s] * go[j];
                    double ds = p[s] * (dp[s] - pdp) * scale; // d score (pre-scale)
                    for (int i = 0; i < hd; i++) {
                        dq[(((size_t)b * T + t) * H + h) * hd + i] += ds * a->k[kvo * hd + i];
                        dk[kvo * hd + i] += ds * qv[i];
                    }
                }
            }
    for (size_t i = 0; i < nq; i++) a->dq[i] = (float)dq[i];
    for (size_t i = 0; i < nk; i++) a->dk[i] = (float)dk[i];
    for (size_t i = 0; i < nv; i++) a->dv[i] = (float)dv[i];
    free(dq); free(dk); free(dv); free(p); free(dp);
}
