// cpu/decode.c: the inference-only ops (kernels.h "decoding") with OpenMP:
// cache fill over (row, position), single-query attention over (row, query
// head) with one pass of scores into per-thread scratch and the fast exp,
// conv and scan steps and the scan state over (row, channel). Float
// accumulation (the cpu backend's training ops accumulate in float too).
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include "kernels/cpu/cpu.h"

// The cache slot of position p (kernels.h: prefix, then a ring of R).
static inline size_t slot_of(int p, int n_meta, int R) {
    return p < n_meta ? (size_t)p : (size_t)n_meta + (size_t)((p - n_meta) % R);
}

void hl_cpu_cache_fill(const hl_cache_fill_args *a) {
    size_t S = (size_t)a->n_meta + a->R;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < a->B; b++)
        for (int p = 0; p < a->T; p++) {
            int n = a->lens[b];
            if (p >= n || (p >= a->n_meta && p < n - a->R)) continue;
            memcpy(a->cache + ((size_t)b * S + slot_of(p, a->n_meta, a->R)) * a->C,
                   a->src + ((size_t)b * a->T + p) * a->C, (size_t)a->C * sizeof(float));
        }
}

// The slot of the s-th visible key of a query at pos: the prefix, then
// positions pos, pos - 1, ...
static inline size_t slot_back(int s, int pos, int m, int R) {
    return s < m ? (size_t)s : slot_of(pos - (s - m), m, R);
}

// cos/sin of pos * inv_freq[i] (hd/2 each), as the cpu rope's tables: in
// double, rounded to float.
static void rope_row(float *cs, float *sn, int hd, int pos, float theta) {
    for (int i = 0; i < hd / 2; i++) {
        double ang = pos * pow(theta, -2.0 * i / hd);
        cs[i] = (float)cos(ang);
        sn[i] = (float)sin(ang);
    }
}
static inline void rotate(float *y, const float *x, const float *cs, const float *sn, int half) {
    for (int i = 0; i < half; i++) {
        float x1 = x[i], x2 = x[i + half];
        y[i] = x1 * cs[i] - x2 * sn[i];
        y[i + half] = x2 * cs[i] + x1 * sn[i];
    }
}

void hl_cpu_attn_decode(const hl_attn_decode_args *a) {
    int B = a->B, H = a->H, Hkv = a->Hkv, hd = a->hd, vd = a->vd, m = a->n_meta, R = a->R, half = hd / 2;
    size_t S = (size_t)m + R;
    float *tab = hl_cpu_scratch_raw(0, (size_t)B * hd);   // (B, hd): cos then sin per row
    for (int b = 0; b < B; b++)   // no_rope: the rotation at position 0 (cos 1, sin 0) is exactly the identity
        rope_row(tab + (size_t)b * hd, tab + (size_t)b * hd + half, hd, a->no_rope ? 0 : a->pos[b], a->theta);
    if (a->k) {
        #pragma omp parallel for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < Hkv; g++) {
                size_t at = ((size_t)b * S + slot_of(a->pos[b], m, R)) * Hkv + g;
                const float *cs = tab + (size_t)b * hd;
                rotate(a->kcache + at * hd, a->k + ((size_t)b * Hkv + g) * hd, cs, cs + half, half);
                memcpy(a->vcache + at * vd, a->v + ((size_t)b * Hkv + g) * vd, (size_t)vd * sizeof(float));
            }
    }
    float scale = 1.0f / sqrtf((float)hd);
    #pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            int pos = a->pos[b], g = h / (H / Hkv);
            // visible: the prefix, then the last nv positions pos, pos-1, ...
            int nv = pos - m + 1 < R ? pos - m + 1 : R;
            if (a->window > 0 && a->window < nv) nv = a->window;
            int n = m + nv;
            float *q = hl_cpu_scratch_raw(1, (size_t)hd + n + vd), *p = q + hd, *o = p + n;
            const float *cs = tab + (size_t)b * hd;
            rotate(q, a->q + ((size_t)b * H + h) * hd, cs, cs + half, half);
            const float *kc = a->kcache + (size_t)b * S * Hkv * hd + (size_t)g * hd;
            const float *vc = a->vcache + (size_t)b * S * Hkv * vd + (size_t)g * vd;
            float mx = -INFINITY;
            for (int s = 0; s < n; s++) {
                const float *kr = kc + slot_back(s, pos, m, R) * Hkv * hd;
                float dot = 0.0f;
                #pragma omp simd reduction(+:dot)
                for (int i = 0; i < hd; i++) dot += q[i] * kr[i];
                p[s] = dot * scale;
                mx = p[s] > mx ? p[s] : mx;
            }
            float sum = 0.0f;
            for (int s = 0; s < n; s++) { p[s] = hl_fast_expf(p[s] - mx); sum += p[s]; }
            for (int j = 0; j < vd; j++) o[j] = 0.0f;
            for (int s = 0; s < n; s++) {
                const float *vr = vc + slot_back(s, pos, m, R) * Hkv * vd;
                float w = p[s];
                #pragma omp simd
                for (int j = 0; j < vd; j++) o[j] += w * vr[j];
            }
            float *out = a->out + ((size_t)b * H + h) * vd, inv = 1.0f / sum;
            for (int j = 0; j < vd; j++) out[j] = o[j] * inv;
        }
}

void hl_cpu_conv1d_step(const hl_conv1d_step_args *a) {
    int C = a->C, K = a->K;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < a->B; b++) {
        int pos = a->pos[b];
        float *st = a->state + (size_t)b * K * C;   // (K, C) ring
        memcpy(st + (size_t)(pos % K) * C, a->inp + (size_t)b * C, (size_t)C * sizeof(float));
        float *y = a->out + (size_t)b * C;
        for (int c = 0; c < C; c++) y[c] = a->bias ? a->bias[c] : 0.0f;
        for (int j = 0; j < K; j++) {
            int slot = (((pos - K + 1 + j) % K) + K) % K;
            const float *x = st + (size_t)slot * C;
            for (int c = 0; c < C; c++) y[c] += a->weight[c * K + j] * x[c];
        }
    }
}

static inline float softplus(float x) { return x > 20.0f ? x : log1pf(hl_fast_expf(x)); }

void hl_cpu_scan_state(const hl_scan_state_args *a) {
    int T = a->T, C = a->C, N = a->N;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < a->B; b++)
        for (int c = 0; c < C; c++) {
            float *h = a->h + ((size_t)b * C + c) * N;
            for (int n = 0; n < N; n++) h[n] = 0.0f;
            for (int t = 0; t < a->lens[b]; t++) {
                size_t bt = (size_t)b * T + t;
                float delta = softplus(a->dt[bt * C + c] + a->dt_bias[c]), du = delta * a->u[bt * C + c];
                const float *Bm = a->Bm + bt * N;
                for (int n = 0; n < N; n++)
                    h[n] = hl_fast_expf(delta * -expf(a->A_log[c * N + n])) * h[n] + du * Bm[n];
            }
        }
}

void hl_cpu_scan_step(const hl_scan_step_args *a) {
    int C = a->C, N = a->N;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < a->B; b++)
        for (int c = 0; c < C; c++) {
            size_t bc = (size_t)b * C + c;
            float delta = softplus(a->dt[bc] + a->dt_bias[c]), u = a->u[bc], du = delta * u, y = a->D[c] * u;
            float *h = a->h + bc * N;
            const float *Bm = a->Bm + (size_t)b * N, *Cm = a->Cm + (size_t)b * N;
            for (int n = 0; n < N; n++) {
                h[n] = hl_fast_expf(delta * -expf(a->A_log[c * N + n])) * h[n] + du * Bm[n];
                y += h[n] * Cm[n];
            }
            a->y[bc] = y;
        }
}
