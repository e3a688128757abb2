// cpu/ssm.c: causal depthwise conv1d and the Mamba-1 selective scan.
// conv1d: OpenMP over (batch, position) rows, vectorised over channels;
// dweight/dbias parallel over channel blocks (deterministic).
// scan: OpenMP over groups of SCAN_CG channels (one cache line of u, dt, y
// per step); the backward recomputes a group's states into a per-thread
// scratch (T, SCAN_CG, N) and walks t backwards. dBm and dCm sum over
// channels: each thread adds into its own partial (B, T, N), and the partials
// are reduced in thread order, so results depend only on the thread count.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include "kernels/cpu/cpu.h"

#define CONV_CB 64  // channels per block in dweight
#define SCAN_CG 8   // channels per scan task

// wT (K, C) = weight (C, K) transposed, so taps are contiguous over channels.
static float *transpose_taps(const float *weight, int C, int K) {
    float *wT = hl_cpu_scratch((size_t)K * C);
    for (int c = 0; c < C; c++)
        for (int j = 0; j < K; j++) wT[(size_t)j * C + c] = weight[c * K + j];
    return wT;
}

void hl_cpu_conv1d_fwd(const hl_conv1d_fwd_args *a) {
    int T = a->T, C = a->C, K = a->K;
    float *wT = transpose_taps(a->weight, C, K); // (K, C)
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < a->B; b++)
        for (int t = 0; t < T; t++) {
            float *y = a->out + ((size_t)b * T + t) * C; // (C)
            if (a->bias) memcpy(y, a->bias, sizeof(float) * C);
            else memset(y, 0, sizeof(float) * C);
            for (int j = 0; j < K; j++) {
                int src = t - K + 1 + j;
                if (src < 0) continue;
                const float *x = a->inp + ((size_t)b * T + src) * C, *w = wT + (size_t)j * C;
                #pragma omp simd
                for (int c = 0; c < C; c++) y[c] += w[c] * x[c];
            }
        }
    free(wT);
}

void hl_cpu_conv1d_bwd(const hl_conv1d_bwd_args *a) {
    int T = a->T, C = a->C, K = a->K;
    float *wT = transpose_taps(a->weight, C, K); // (K, C)
    // dinp[s] = sum_j w[j] * dout[s + K - 1 - j]
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < a->B; b++)
        for (int s = 0; s < T; s++) {
            float *dx = a->dinp + ((size_t)b * T + s) * C; // (C)
            memset(dx, 0, sizeof(float) * C);
            for (int j = 0; j < K; j++) {
                int t = s + K - 1 - j;
                if (t >= T) continue;
                const float *g = a->dout + ((size_t)b * T + t) * C, *w = wT + (size_t)j * C;
                #pragma omp simd
                for (int c = 0; c < C; c++) dx[c] += w[c] * g[c];
            }
        }
    free(wT);
    // dweight[c, j] += sum_{b,t} dout[b,t,c] x[b,t-K+1+j,c]; dbias[c] += sum dout
    int nblocks = (C + CONV_CB - 1) / CONV_CB;
    #pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * CONV_CB, c1 = c0 + CONV_CB < C ? c0 + CONV_CB : C;
        float *acc = hl_cpu_scratch((size_t)(K + 1) * CONV_CB); // (K + 1, CONV_CB): taps, then bias
        for (int b = 0; b < a->B; b++)
            for (int t = 0; t < T; t++) {
                const float *g = a->dout + ((size_t)b * T + t) * C;
                for (int j = 0; j < K; j++) {
                    int src = t - K + 1 + j;
                    if (src < 0) continue;
                    const float *x = a->inp + ((size_t)b * T + src) * C;
                    float *aj = acc + (size_t)j * CONV_CB - c0;
                    #pragma omp simd
                    for (int c = c0; c < c1; c++) aj[c] += g[c] * x[c];
                }
                float *ab = acc + (size_t)K * CONV_CB - c0;
                #pragma omp simd
                for (int c = c0; c < c1; c++) ab[c] += g[c];
            }
        for (int c = c0; c < c1; c++) {
            for (int j = 0; j < K; j++) a->dweight[c * K + j] += acc[(size_t)j * CONV_CB + c - c0];
            if (a->dbias) a->dbias[c] += acc[(size_t)K * CONV_CB + c - c0];
        }
        free(acc);
    }
}

// A (cg, N) = -exp(A_log) for channels c0..c0+cg.
static void load_A(float *A, const float *A_log, int c0, int cg, int N) {
    for (int i = 0; i < cg * N; i++) A[i] = -expf(A_log[(size_t)c0 * N + i]);
}

void hl_cpu_scan_fwd(const hl_scan_fwd_args *a) {
    int T = a->T, C = a->C, N = a->N, ngroups = (C + SCAN_CG - 1) / SCAN_CG;
    #pragma omp parallel
    {
        float *A = hl_cpu_scratch((size_t)SCAN_CG * N), *h = hl_cpu_scratch((size_t)SCAN_CG * N);
        #pragma omp for schedule(static)
        for (int grp = 0; grp < ngroups; grp++) {
            int c0 = grp * SCAN_CG, cg = c0 + SCAN_CG < C ? SCAN_CG : C - c0;
            load_A(A, a->A_log, c0, cg, N);
            for (int b = 0; b < a->B; b++) {
                memset(h, 0, sizeof(float) * SCAN_CG * N);
                for (int t = 0; t < T; t++) {
                    size_t bt = (size_t)b * T + t;
                    const float *Bt = a->Bm + bt * N, *Ct = a->Cm + bt * N; // (N)
                    for (int ci = 0; ci < cg; ci++) {
                        int c = c0 + ci;
                        float delta = hl_softplus(a->dt[bt * C + c] + a->dt_bias[c]);
                        float u = a->u[bt * C + c], du = delta * u, y = 0.0f;
                        float *hc = h + (size_t)ci * N;
                        const float *Ac = A + (size_t)ci * N;
                        #pragma omp simd reduction(+:y)
                        for (int n = 0; n < N; n++) {
                            hc[n] = hl_fast_expf(delta * Ac[n]) * hc[n] + du * Bt[n];
                            y += hc[n] * Ct[n];
                        }
                        a->y[bt * C + c] = y + a->D[c] * u;
                    }
                }
            }
        }
        free(A); free(h);
    }
}

// Reverse pass of one channel c of batch b given its states hs (T, stride N);
// adds into dB/dC partials (B, T, N) and the channel's parameter sums.
typedef struct { float dD, ddt_bias; float *dA; } chan_grads; // dA (N): d A_log
static void scan_bwd_channel(const hl_scan_bwd_args *a, int b, int c, const float *hs, size_t hs_stride,
                             const float *A, float *gh, float *dBp, float *dCp, chan_grads *cgr) {
    int T = a->T, C = a->C, N = a->N;
    memset(gh, 0, sizeof(float) * N);
    for (int t = T - 1; t >= 0; t--) {
        size_t bt = (size_t)b * T + t;
        float x = a->dt[bt * C + c] + a->dt_bias[c];
        float delta = hl_softplus(x), u = a->u[bt * C + c], dy = a->dy[bt * C + c];
        const float *Bt = a->Bm + bt * N, *Ct = a->Cm + bt * N;  // (N)
        const float *h = hs + (size_t)t * hs_stride, *hprev = t ? h - hs_stride : NULL;
        float *dB = dBp + bt * N, *dC = dCp + bt * N;            // (N) partials
        float ddelta = 0.0f, du = dy * a->D[c];
        cgr->dD += dy * u;
        #pragma omp simd reduction(+:ddelta, du)
        for (int n = 0; n < N; n++) {
            float dA = hl_fast_expf(delta * A[n]), hp = hprev ? hprev[n] : 0.0f;
            float g = gh[n] + dy * Ct[n];
            dC[n] += dy * h[n];
            ddelta += g * (A[n] * dA * hp + Bt[n] * u);
            cgr->dA[n] += g * delta * dA * hp * A[n];
            dB[n] += g * delta * u;
            du += g * delta * Bt[n];
            gh[n] = g * dA;
        }
        float ddt = ddelta * hl_softplus_grad(x);
        a->du[bt * C + c] = du;
        a->ddt[bt * C + c] = ddt;
        cgr->ddt_bias += ddt;
    }
}

void hl_cpu_scan_bwd(const hl_scan_bwd_args *a) {
    int B = a->B, T = a->T, C = a->C, N = a->N, ngroups = (C + SCAN_CG - 1) / SCAN_CG;
    size_t btn = (size_t)B * T * N;
    int nthreads = omp_get_max_threads();
    float *partials = hl_cpu_scratch(2 * btn * nthreads); // per thread: dB (B,T,N), dC (B,T,N)
    int used_threads = 1;
    #pragma omp parallel num_threads(nthreads)
    {
        int tid = omp_get_thread_num();
        #pragma omp single
        used_threads = omp_get_num_threads();
        float *dBp = partials + 2 * btn * tid, *dCp = dBp + btn;
        float *hs = hl_cpu_scratch((size_t)T * SCAN_CG * N); // (T, SCAN_CG, N) states
        float *A = hl_cpu_scratch((size_t)SCAN_CG * N), *gh = hl_cpu_scratch(N);
        float *dA = hl_cpu_scratch((size_t)SCAN_CG * N);
        #pragma omp for schedule(static)
        for (int grp = 0; grp < ngroups; grp++) {
            int c0 = grp * SCAN_CG, cg = c0 + SCAN_CG < C ? SCAN_CG : C - c0;
            size_t stride = (size_t)SCAN_CG * N; // hs row stride over t
            load_A(A, a->A_log, c0, cg, N);
            memset(dA, 0, sizeof(float) * SCAN_CG * N);
            float dD[SCAN_CG] = {0}, ddt_bias[SCAN_CG] = {0};
            for (int b = 0; b < B; b++) {
                for (int t = 0; t < T; t++) { // recompute the group's states
                    size_t bt = (size_t)b * T + t;
                    const float *Bt = a->Bm + bt * N;
                    for (int ci = 0; ci < cg; ci++) {
                        int c = c0 + ci;
                        float delta = hl_softplus(a->dt[bt * C + c] + a->dt_bias[c]);
                        float du = delta * a->u[bt * C + c];
                        float *h = hs + t * stride + (size_t)ci * N;
                        const float *hp = t ? h - stride : NULL, *Ac = A + (size_t)ci * N;
                        #pragma omp simd
                        for (int n = 0; n < N; n++)
                            h[n] = hl_fast_expf(delta * Ac[n]) * (hp ? hp[n] : 0.0f) + du * Bt[n];
                    }
                }
                for (int ci = 0; ci < cg; ci++) {
                    chan_grads cgr = {0.0f, 0.0f, dA + (size_t)ci * N};
                    scan_bwd_channel(a, b, c0 + ci, hs + (size_t)ci * N, stride, A + (size_t)ci * N,
                                     gh, dBp, dCp, &cgr);
                    dD[ci] += cgr.dD;
                    ddt_bias[ci] += cgr.ddt_bias;
                }
            }
            for (int ci = 0; ci < cg; ci++) {
                a->dD[c0 + ci] += dD[ci];
                a->ddt_bias[c0 + ci] += ddt_bias[ci];
                for (int n = 0; n < N; n++) a->dA_log[(size_t)(c0 + ci) * N + n] += dA[(size_t)ci * N + n];
            }
        }
        free(hs); free(A); free(gh); free(dA);
    }
    // dBm, dCm (B, T, N) = sum of the partials in thread order
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < btn; i++) {
        float sb = 0.0f, sc = 0.0f;
        for (int th = 0; th < used_threads; th++) { sb += partials[2 * btn * th + i]; sc += partials[2 * btn * th + btn + i]; }
        a->dBm[i] = sb; a->dCm[i] = sc;
    }
    free(partials);
}
