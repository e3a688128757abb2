// cpu/dense.c: matmul (OpenBLAS), embedding, rmsnorm, rope. OpenMP over rows;
// reductions over rows (dbias, dweight, dtable) are parallelised over the
// output columns so results do not depend on scheduling.
#include <math.h>
#include <stdlib.h>
#include <cblas.h>
#include "kernels/cpu/cpu.h"

#define COL_BLOCK 64

// dst[c] += sum_n src[n, c] (src is (N, C)), parallel over column blocks.
static void add_column_sums(float *dst, const float *src, int N, int C) {
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
    #pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        float acc[COL_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = src + (size_t)n * C;
            #pragma omp simd
            for (int c = c0; c < c1; c++) acc[c - c0] += row[c];
        }
        for (int c = c0; c < c1; c++) dst[c] += acc[c - c0];
    }
}

void hl_cpu_matmul_fwd(const hl_matmul_fwd_args *a) {
    // out (N, OC) = inp (N, IC) @ weight (OC, IC)^T (+ bias, pre-filled)
    float beta = 0.0f;
    if (a->bias) {
        #pragma omp parallel for schedule(static)
        for (int n = 0; n < a->N; n++) memcpy(a->out + (size_t)n * a->OC, a->bias, sizeof(float) * a->OC);
        beta = 1.0f;
    }
    if (a->N == 1) {   // one row (batch-1 decoding): sgemv reads the weights once, sgemm would pack them first
        cblas_sgemv(CblasRowMajor, CblasNoTrans, a->OC, a->IC, 1.0f, a->weight, a->IC, a->inp, 1, beta, a->out, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, a->N, a->OC, a->IC, 1.0f,
                a->inp, a->IC, a->weight, a->IC, beta, a->out, a->OC);
}

void hl_cpu_matmul_bwd(const hl_matmul_bwd_args *a) {
    if (a->dinp) // dinp (N, IC) = dout (N, OC) @ weight (OC, IC)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a->N, a->IC, a->OC, 1.0f,
                    a->dout, a->OC, a->weight, a->IC, 0.0f, a->dinp, a->IC);
    if (a->dweight) // dweight (OC, IC) += dout^T @ inp
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, a->OC, a->IC, a->N, 1.0f,
                    a->dout, a->OC, a->inp, a->IC, 1.0f, a->dweight, a->IC);
    if (a->dbias) add_column_sums(a->dbias, a->dout, a->N, a->OC);
}

void hl_cpu_embed_fwd(const hl_embed_fwd_args *a) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < a->N; n++)
        memcpy(a->out + (size_t)n * a->C, a->table + (size_t)a->ids[n] * a->C, sizeof(float) * a->C);
}

void hl_cpu_embed_bwd(const hl_embed_bwd_args *a) {
    // dtable (V, C) rows += dout (N, C) rows; columns split across threads,
    // rows visited in order n = 0..N-1 by every thread (deterministic).
    int C = a->C, nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
    #pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        for (int n = 0; n < a->N; n++) {
            float *dst = a->dtable + (size_t)a->ids[n] * C;
            const float *src = a->dout + (size_t)n * C;
            #pragma omp simd
            for (int c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
}

// Each row is G groups of Cg = C/G channels (G = 1: the whole row).
void hl_cpu_rmsnorm_fwd(const hl_rmsnorm_fwd_args *a) {
    int C = a->C, G = a->groups > 1 ? a->groups : 1, Cg = C / G;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < a->N; n++)
        for (int gi = 0; gi < G; gi++) {
            const float *x = a->inp + (size_t)n * C + (size_t)gi * Cg; // (Cg)
            float *y = a->out + (size_t)n * C + (size_t)gi * Cg;       // (Cg)
            const float *w = a->weight + (size_t)gi * Cg;
            float ss = 0.0f;
            #pragma omp simd reduction(+:ss)
            for (int c = 0; c < Cg; c++) ss += x[c] * x[c];
            float rstd = 1.0f / sqrtf(ss / Cg + a->eps);
            a->rstd[(size_t)n * G + gi] = rstd;
            #pragma omp simd
            for (int c = 0; c < Cg; c++) y[c] = x[c] * rstd * w[c];
        }
}

void hl_cpu_rmsnorm_bwd(const hl_rmsnorm_bwd_args *a) {
    int C = a->C, G = a->groups > 1 ? a->groups : 1, Cg = C / G;
    // per group: dx_c = r w_c g_c - x_c r^3 / Cg * sum_j g_j w_j x_j
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < a->N; n++)
        for (int gi = 0; gi < G; gi++) {
            size_t base = (size_t)n * C + (size_t)gi * Cg;
            const float *x = a->inp + base, *g = a->dout + base, *w = a->weight + (size_t)gi * Cg; // (Cg)
            float *dx = a->dinp + base;                                                             // (Cg)
            float r = a->rstd[(size_t)n * G + gi], dot = 0.0f;
            #pragma omp simd reduction(+:dot)
            for (int c = 0; c < Cg; c++) dot += g[c] * w[c] * x[c];
            float k = r * r * r * dot / Cg;
            #pragma omp simd
            for (int c = 0; c < Cg; c++) dx[c] = r * w[c] * g[c] - x[c] * k;
        }
    // dweight_c += sum_n g[n,c] x[n,c] r[n, group of c], parallel over column blocks
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
    #pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
        float acc[COL_BLOCK] = {0};
        for (int n = 0; n < a->N; n++) {
            const float *x = a->inp + (size_t)n * C, *g = a->dout + (size_t)n * C;
            const float *r = a->rstd + (size_t)n * G;
            if (G == 1) {
                float r0 = r[0];
                #pragma omp simd
                for (int c = c0; c < c1; c++) acc[c - c0] += g[c] * x[c] * r0;
            } else {
                for (int c = c0; c < c1; c++) acc[c - c0] += g[c] * x[c] * r[c / Cg];
            }
        }
        for (int c = c0; c < c1; c++) a->dweight[c] += acc[c - c0];
    }
}

// cos/sin of t * inv_freq[i], computed in double: tables (T, hd/2).
static void rope_tables(int T, int hd, float theta, float *cos_t, float *sin_t) {
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        double inv_freq = pow(theta, -2.0 * i / hd);
        for (int t = 0; t < T; t++) {
            cos_t[(size_t)t * half + i] = (float)cos(t * inv_freq);
            sin_t[(size_t)t * half + i] = (float)sin(t * inv_freq);
        }
    }
}

// Rotates (B, T, H, hd) by +angle (sign 1, forward) or -angle (sign -1).
static void rope_rotate(const hl_rope_args *a, float sign) {
    int T = a->T, H = a->H, hd = a->hd, half = hd / 2;
    float *cos_t = hl_cpu_scratch_raw(0, 2 * (size_t)T * half), *sin_t = cos_t + (size_t)T * half;
    rope_tables(T, hd, a->theta, cos_t, sin_t);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < a->B; b++)
        for (int t = 0; t < T; t++) {
            const float *cs = cos_t + (size_t)t * half, *sn = sin_t + (size_t)t * half; // (half)
            for (int h = 0; h < H; h++) {
                size_t off = (((size_t)b * T + t) * H + h) * hd;
                const float *x = a->inp + off;
                float *y = a->out + off; // may alias x: each element read before written
                #pragma omp simd
                for (int i = 0; i < half; i++) {
                    float x1 = x[i], x2 = x[i + half], s = sign * sn[i];
                    y[i] = x1 * cs[i] - x2 * s;
                    y[i + half] = x2 * cs[i] + x1 * s;
                }
            }
        }
}

void hl_cpu_rope_fwd(const hl_rope_args *a) { rope_rotate(a, 1.0f); }
void hl_cpu_rope_bwd(const hl_rope_args *a) { rope_rotate(a, -1.0f); }
