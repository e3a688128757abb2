// cpu_ref/decode.c: the naive inference-only ops (kernels.h "decoding"):
// cache fill, single-query attention over a ring KV cache, conv and scan
// steps, the scan state at a row's length. Double accumulation throughout.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu_ref/cpu_ref.h"

// The cache slot of position p (kernels.h: prefix, then a ring of R).
static size_t ring_slot(int p, int n_meta, int R) {
    return p < n_meta ? (size_t)p : (size_t)n_meta + (size_t)((p - n_meta) % R);
}

void hl_ref_cache_fill(const hl_cache_fill_args *a) {
    size_t S = (size_t)a->n_meta + a->R;
    for (int b = 0; b < a->B; b++) {
        int n = a->lens[b];
        for (int p = 0; p < n; p++) {
            if (p >= a->n_meta && p < n - a->R) continue;   // fell out of the ring
            memcpy(a->cache + ((size_t)b * S + ring_slot(p, a->n_meta, a->R)) * a->C,
                   a->src + ((size_t)b * a->T + p) * a->C, (size_t)a->C * sizeof(float));
        }
    }
}

// x (hd) rotated by RoPE at position p into out (hd), as rope_fwd does.
static void rope_at(double *out, const float *x, int hd, int p, float theta) {
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        double ang = p * pow(theta, -2.0 * i / hd);
        double cs = cos(ang), sn = sin(ang), x1 = x[i], x2 = x[i + half];
        out[i] = (double)(float)(x1 * cs - x2 * sn);
        out[i + half] = (double)(float)(x2 * cs + x1 * sn);
    }
}

void hl_ref_attn_decode(const hl_attn_decode_args *a) {
    int H = a->H, Hkv = a->Hkv, hd = a->hd, vd = a->vd, m = a->n_meta, R = a->R;
    size_t S = (size_t)m + R;
    double *rq = malloc(sizeof(double) * hd), *p = malloc(sizeof(double) * (S + 1));
    size_t *slots = malloc(sizeof(size_t) * (S + 1));   // the visible slots of a row
    for (int b = 0; b < a->B; b++) {
        int pos = a->pos[b];
        size_t slot = ring_slot(pos, m, R);
        if (a->k)
            for (int g = 0; g < Hkv; g++) {
                rope_at(rq, a->k + ((size_t)b * Hkv + g) * hd, hd, a->no_rope ? 0 : pos, a->theta);
                float *kc = a->kcache + (((size_t)b * S + slot) * Hkv + g) * hd;
                for (int i = 0; i < hd; i++) kc[i] = (float)rq[i];
                memcpy(a->vcache + (((size_t)b * S + slot) * Hkv + g) * vd, a->v + ((size_t)b * Hkv + g) * vd,
                       (size_t)vd * sizeof(float));
            }
        // visible: the prefix, then positions pos, pos-1, ... back to the window
        int n = 0;
        while (n < m) { slots[n] = (size_t)n; n++; }
        for (int k = pos; k >= m && pos - k < R && (a->window == 0 || pos - k < a->window); k--) slots[n++] = ring_slot(k, m, R);
        for (int h = 0; h < H; h++) {
            int g = h / (H / Hkv);
            rope_at(rq, a->q + ((size_t)b * H + h) * hd, hd, a->no_rope ? 0 : pos, a->theta);  // no_rope: identity
            double mx = -INFINITY, sum = 0.0, scale = 1.0 / sqrt((double)hd);
            for (int s = 0; s < n; s++) {
                const float *kc = a->kcache + (((size_t)b * S + slots[s]) * Hkv + g) * hd;
                double dot = 0.0;
                for (int i = 0; i < hd; i++) dot += rq[i] * kc[i];
                p[s] = dot * scale;
                if (p[s] > mx) mx = p[s];
            }
            for (int s = 0; s < n; s++) { p[s] = exp(p[s] - mx); sum += p[s]; }
            float *o = a->out + ((size_t)b * H + h) * vd;
            for (int j = 0; j < vd; j++) {
                double acc = 0.0;
                for (int s = 0; s < n; s++) acc += p[s] * a->vcache[(((size_t)b * S + slots[s]) * Hkv + g) * vd + j];
                o[j] = (float)(acc / sum);
            }
        }
    }
    free(rq); free(p); free(slots);
}

void hl_ref_conv1d_step(const hl_conv1d_step_args *a) {
    int C = a->C, K = a->K;
    for (int b = 0; b < a->B; b++) {
        int pos = a->pos[b];
        float *st = a->state + (size_t)b * K * C;   // (K, C)
        memcpy(st + (size_t)(pos % K) * C, a->inp + (size_t)b * C, (size_t)C * sizeof(float));
        for (int c = 0; c < C; c++) {
            double s = a->bias ? a->bias[c] : 0.0;
            for (int j = 0; j < K; j++) {
                int src = pos - K + 1 + j;   // position; negative ones are the zeroed slots
                int slot = ((src % K) + K) % K;
                s += (double)a->weight[c * K + j] * st[(size_t)slot * C + c];
            }
            a->out[(size_t)b * C + c] = (float)s;
        }
    }
}

void hl_ref_scan_state(const hl_scan_state_args *a) {
    int T = a->T, C = a->C, N = a->N;
    double *h = malloc(sizeof(double) * (N ? N : 1));
    for (int b = 0; b < a->B; b++)
        for (int c = 0; c < C; c++) {
            for (int n = 0; n < N; n++) h[n] = 0.0;
            for (int t = 0; t < a->lens[b]; t++) {
                size_t bt = (size_t)b * T + t;
                float delta = hl_softplus(a->dt[bt * C + c] + a->dt_bias[c]);
                float u = a->u[bt * C + c];
                for (int n = 0; n < N; n++) {
                    double A = -exp((double)a->A_log[c * N + n]);
                    h[n] = exp(delta * A) * h[n] + (double)delta * a->Bm[bt * N + n] * u;
                }
            }
            for (int n = 0; n < N; n++) a->h[((size_t)b * C + c) * N + n] = (float)h[n];
        }
    free(h);
}

void hl_ref_scan_step(const hl_scan_step_args *a) {
    int C = a->C, N = a->N;
    for (int b = 0; b < a->B; b++)
        for (int c = 0; c < C; c++) {
            size_t bc = (size_t)b * C + c;
            float delta = hl_softplus(a->dt[bc] + a->dt_bias[c]);
            float u = a->u[bc];
            double y = (double)a->D[c] * u;
            for (int n = 0; n < N; n++) {
                double A = -exp((double)a->A_log[c * N + n]);
                double h = exp(delta * A) * a->h[bc * N + n] + (double)delta * a->Bm[(size_t)b * N + n] * u;
                a->h[bc * N + n] = (float)h;
                y += h * a->Cm[(size_t)b * N + n];
            }
            a->y[bc] = (float)y;
        }
}
