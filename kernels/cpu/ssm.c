// cpu/ssm.c: causal depthwise conv1d and the Mamba-1 selective scan.
// conv1d: OpenMP over (batch, position) rows, vectorised over channels;
// dweight/dbias parallel over channel blocks (deterministic).
// scan: vectorised over blocks of 16 channels (one 64-byte vector of u, dt,
// y per step; one vector per state n, so the readout y = sum_n h*C is plain
// vector FMAs with no horizontal sums), OpenMP over (batch, channel block)
// tasks. The backward recomputes a block's states and decay factors
// exp(delta*A) into per-thread scratch (T, N, 16) each, then walks t
// backwards; dBm and dCm (sums over channels) are reduced across the 16
// lanes with a transpose-add tree. Backward tasks are (batch, channel
// partition): a task owns its rows of dBm/dCm (one partition when the batch
// alone gives every thread work; otherwise per-partition partials summed in
// partition order); parameter gradients go to per-thread partials summed in
// thread order. So results depend only on the thread count.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include "kernels/cpu/cpu.h"

#define CONV_CB 64  // channels per block in dweight
#define SCAN_CG 8   // channels per scan task

// wT (K, C) = weight (C, K) transposed, so taps are contiguous over channels.
static float *transpose_taps(const float *weight, int C, int K) {
    float *wT = hl_cpu_scratch_raw(0, (size_t)K * C);
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
    // dweight[c, j] += sum_{b,t} dout[b,t,c] x[b,t-K+1+j,c]; dbias[c] += sum dout
    int nblocks = (C + CONV_CB - 1) / CONV_CB;
    #pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * CONV_CB, c1 = c0 + CONV_CB < C ? c0 + CONV_CB : C;
        float *acc = hl_cpu_scratch(1, (size_t)(K + 1) * CONV_CB); // (K + 1, CONV_CB): taps, then bias
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
    }
}


// ---------------------------------------------------------------- scan
// 16-float vectors (GCC vector extensions: one zmm with AVX-512, two ymm with
// AVX2). FMA contraction (a*b+c in one rounding) is enabled from here on:
// the scan only (hylab builds -std=c11, which turns it off).
typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
#define SW 16 // channels per block = lanes
#pragma GCC optimize("fp-contract=fast")
#define SCAN_FN static inline __attribute__((always_inline))

SCAN_FN v16 vsplat(float x) { return (v16){0} + x; }
SCAN_FN v16 vsel(v16i m, v16 a, v16 b) { return (v16)((m & (v16i)a) | (~m & (v16i)b)); }
SCAN_FN v16 vld(const float *p) { v16 x; memcpy(&x, p, sizeof x); return x; }
SCAN_FN void vst(float *p, v16 x) { memcpy(p, &x, sizeof x); }
// First n (<= 16) floats of p; lanes beyond are `fill`.
SCAN_FN v16 vld_part(const float *p, int n, float fill) {
    if (n == SW) return vld(p);
    float t[SW];
    for (int i = 0; i < SW; i++) t[i] = i < n ? p[i] : fill;
    return vld(t);
}
SCAN_FN void vst_part(float *p, v16 x, int n) {
    if (n == SW) { vst(p, x); return; }
    float t[SW];
    vst(t, x);
    for (int i = 0; i < n; i++) p[i] = t[i];
}

// hl_fast_expf on 16 lanes for x <= 0 (every exp in the scan: delta * A and
// -|x|): same reduction and polynomial, 0 below -87.3. With AVX-512 the
// clamp, the 2^n scaling and the zeroing are one instruction each.
SCAN_FN v16 vexp_neg(v16 x) {
#ifdef __AVX512F__
    __m512 lo = _mm512_set1_ps(-87.3f);
    v16 xc = (v16)_mm512_max_ps((__m512)x, lo);
#else
    v16 lo = vsplat(-87.3f);
    v16 xc = vsel(x < lo, lo, x);
#endif
    v16 n, p;
    HL_EXP_CORE(v16, xc, n, p);
#ifdef __AVX512F__
    __mmask16 keep = _mm512_cmp_ps_mask((__m512)x, lo, _CMP_NLT_UQ); // x >= -87.3 (or NaN)
    return (v16)_mm512_maskz_scalef_ps(keep, (__m512)p, (__m512)n);
#else
    v16i bits = (__builtin_convertvector(n, v16i) + 127) << 23;
    return vsel(x < lo, vsplat(0.0f), p * (v16)bits);
#endif
}

// softplus(x) = max(x, 0) + log1p(e), e = exp(-|x|) in (0, 1], with
// log1p(e) = 2 atanh(s), s = e / (2 + e) in (0, 1/3]: the odd series to s^15
// (truncation < 3e-9 relative); x itself above 20 as in hl_softplus.
// *grad = d softplus / dx = sigmoid(x) = (x >= 0 ? 1 : e) / (1 + e).
SCAN_FN v16 vsoftplus(v16 x, v16 *grad) {
    v16 zero = vsplat(0.0f), one = vsplat(1.0f);
    v16i neg = x < zero, big = x > 20.0f;
    v16 e = vexp_neg(vsel(neg, x, -x));
    v16 s = e / (e + 2.0f), z = s * s;
    v16 p = vsplat(1.0f / 15);
    p = p * z + 1.0f / 13; p = p * z + 1.0f / 11; p = p * z + 1.0f / 9;
    p = p * z + 1.0f / 7;  p = p * z + 1.0f / 5;  p = p * z + 1.0f / 3;
    p = p * z + 1.0f;
    v16 l1p = 2.0f * s * p;
    if (grad) *grad = vsel(big, one, vsel(neg, e, one) / (one + e));
    return vsel(big, x, vsel(neg, zero, x) + l1p);
}

// Transpose-add of 16 vectors: lane n of the result = sum of the lanes of v[n].
SCAN_FN v16 vreduce16(const v16 *v) {
    const v16i m1l = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
    const v16i m1h = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
    const v16i m2l = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27};
    const v16i m2h = {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31};
    const v16i m3l = {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29};
    const v16i m3h = {2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31};
    const v16i m4l = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    const v16i m4h = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    v16 r1[8], r2[4], r3[2];
    for (int i = 0; i < 8; i++)
        r1[i] = __builtin_shuffle(v[2 * i], v[2 * i + 1], m1l) + __builtin_shuffle(v[2 * i], v[2 * i + 1], m1h);
    for (int i = 0; i < 4; i++)
        r2[i] = __builtin_shuffle(r1[2 * i], r1[2 * i + 1], m2l) + __builtin_shuffle(r1[2 * i], r1[2 * i + 1], m2h);
    for (int i = 0; i < 2; i++)
        r3[i] = __builtin_shuffle(r2[2 * i], r2[2 * i + 1], m3l) + __builtin_shuffle(r2[2 * i], r2[2 * i + 1], m3h);
    return __builtin_shuffle(r3[0], r3[1], m4l) + __builtin_shuffle(r3[0], r3[1], m4h);
}

// out[n] += sum of the lanes of v[n], n < N.
SCAN_FN void add_lane_sums(float *out, const v16 *v, int N) {
    for (int k = 0; k < N; k += SW) {
        int cnt = N - k < SW ? N - k : SW;
        v16 r;
        if (cnt == SW) r = vreduce16(v + k);
        else {
            v16 tmp[SW];
            for (int i = 0; i < SW; i++) tmp[i] = i < cnt ? v[k + i] : vsplat(0.0f);
            r = vreduce16(tmp);
        }
        vst_part(out + k, vld_part(out + k, cnt, 0.0f) + r, cnt);
    }
}

// Av (N) lane i = A[c0 + i, n] = -exp(A_log); padded lanes -1.
static void load_A(v16 *Av, const float *A_log, int c0, int cw, int N) {
    for (int n = 0; n < N; n++) {
        float t[SW];
        for (int i = 0; i < SW; i++) t[i] = i < cw ? -expf(A_log[(size_t)(c0 + i) * N + n]) : -1.0f;
        Av[n] = vld(t);
    }
}

// Forward of channels c0..c0+cw of batch b. N is a constant where inlined
// with one (states then live in registers).
SCAN_FN void scan_fwd_block(const hl_scan_fwd_args *a, int b, int c0, int N, const v16 *Av) {
    int T = a->T, C = a->C, cw = C - c0 < SW ? C - c0 : SW;
    v16 bias = vld_part(a->dt_bias + c0, cw, 0.0f), D = vld_part(a->D + c0, cw, 0.0f);
    v16 h[N];
    for (int n = 0; n < N; n++) h[n] = vsplat(0.0f);
    for (int t = 0; t < T; t++) {
        size_t bt = (size_t)b * T + t, row = bt * C + c0;
        const float *Bt = a->Bm + bt * N, *Ct = a->Cm + bt * N; // (N)
        v16 u = vld_part(a->u + row, cw, 0.0f);
        v16 delta = vsoftplus(vld_part(a->dt + row, cw, 0.0f) + bias, NULL), du = delta * u;
        v16 y[2] = {D * u, vsplat(0.0f)}; // two sums: shorter dependency chain
        #pragma GCC unroll 16
        for (int n = 0; n < N; n++) {
            h[n] = vexp_neg(delta * Av[n]) * h[n] + du * Bt[n];
            y[n & 1] += h[n] * Ct[n];
        }
        vst_part(a->y + row, y[0] + y[1], cw);
    }
}

void hl_cpu_scan_fwd(const hl_scan_fwd_args *a) {
    int N = a->N, nblk = (a->C + SW - 1) / SW, ntasks = a->B * nblk;
    #pragma omp parallel
    {
        v16 *Av = (v16 *)hl_cpu_scratch_raw(0, (size_t)N * SW);
        #pragma omp for schedule(static)
        for (int task = 0; task < ntasks; task++) {
            int b = task / nblk, c0 = task % nblk * SW, cw = a->C - c0 < SW ? a->C - c0 : SW;
            load_A(Av, a->A_log, c0, cw, N);
            if (N == 16) scan_fwd_block(a, b, c0, 16, Av);
            else scan_fwd_block(a, b, c0, N, Av);
        }
    }
}

// Per-thread backward scratch of one block: states hs and decays dAs (T, N)
// vectors each; per step delta, softplus', u, dy (T, 4) vectors.
typedef struct { v16 *hs, *dAs, *tv; } bwd_block_scratch;
// Per-thread parameter-gradient partials per channel block: d A_log (N), dD,
// d dt_bias: (nblk, N + 2) vectors.

// Backward of channels c0..c0+cw of batch b: adds into dBr, dCr (T, N) (the
// rows of batch b of dBm/dCm or of a partial) and the block's parameter
// partials pg (N + 2 vectors); writes du, ddt.
SCAN_FN void scan_bwd_block(const hl_scan_bwd_args *a, int b, int c0, int N, const v16 *Av,
                            bwd_block_scratch *w, float *dBr, float *dCr, v16 *pg) {
    int T = a->T, C = a->C, cw = C - c0 < SW ? C - c0 : SW;
    v16 bias = vld_part(a->dt_bias + c0, cw, 0.0f), D = vld_part(a->D + c0, cw, 0.0f);
    v16 h[N];
    for (int n = 0; n < N; n++) h[n] = vsplat(0.0f);
    for (int t = 0; t < T; t++) { // recompute states and decays
        size_t bt = (size_t)b * T + t, row = bt * C + c0;
        const float *Bt = a->Bm + bt * N; // (N)
        v16 sg, u = vld_part(a->u + row, cw, 0.0f);
        v16 delta = vsoftplus(vld_part(a->dt + row, cw, 0.0f) + bias, &sg), du = delta * u;
        v16 *tv = w->tv + (size_t)t * 4, *hs = w->hs + (size_t)t * N, *dAs = w->dAs + (size_t)t * N;
        tv[0] = delta; tv[1] = sg; tv[2] = u; tv[3] = vld_part(a->dy + row, cw, 0.0f);
        #pragma GCC unroll 16
        for (int n = 0; n < N; n++) {
            v16 dA = vexp_neg(delta * Av[n]);
            h[n] = dA * h[n] + du * Bt[n];
            hs[n] = h[n];
            dAs[n] = dA;
        }
    }
    v16 *gh = h; // reused: gradient w.r.t. the state, flowing backwards
    for (int n = 0; n < N; n++) gh[n] = vsplat(0.0f);
    v16 *dAl = pg, dD = vsplat(0.0f), dbias = vsplat(0.0f);
    v16 dBv[N], dCv[N];
    for (int t = T - 1; t >= 0; t--) {
        size_t bt = (size_t)b * T + t, row = bt * C + c0;
        const float *Bt = a->Bm + bt * N, *Ct = a->Cm + bt * N; // (N)
        const v16 *tv = w->tv + (size_t)t * 4, *hs = w->hs + (size_t)t * N, *dAs = w->dAs + (size_t)t * N;
        v16 delta = tv[0], sg = tv[1], u = tv[2], dy = tv[3], du = delta * u;
        v16 s[2] = {vsplat(0.0f), vsplat(0.0f)}, dd[2] = {vsplat(0.0f), vsplat(0.0f)}; // two sums each
        #pragma GCC unroll 16
        for (int n = 0; n < N; n++) {
            v16 hp = t ? hs[n - N] : vsplat(0.0f), dA = dAs[n];
            v16 g = gh[n] + dy * Ct[n];
            v16 q = g * dA * hp;
            dCv[n] = dy * hs[n];
            dBv[n] = g * du;
            dd[n & 1] += Av[n] * q;
            dAl[n] += delta * q;
            s[n & 1] += g * Bt[n];
            gh[n] = g * dA;
        }
        add_lane_sums(dCr + (size_t)t * N, dCv, N);
        add_lane_sums(dBr + (size_t)t * N, dBv, N);
        v16 ss = s[0] + s[1], ddt = (dd[0] + dd[1] + u * ss) * sg;
        vst_part(a->du + row, dy * D + delta * ss, cw);
        vst_part(a->ddt + row, ddt, cw);
        dD += dy * u;
        dbias += ddt;
    }
    pg[N] += dD;
    pg[N + 1] += dbias;
}

void hl_cpu_scan_bwd(const hl_scan_bwd_args *a) {
    int B = a->B, T = a->T, C = a->C, N = a->N, nblk = (C + SW - 1) / SW;
    int nthreads = omp_get_max_threads();
    // channel partitions: enough (batch, partition) tasks for every thread
    int P = (2 * nthreads + B - 1) / B;
    if (P > nblk) P = nblk;
    if (P < 1) P = 1;
    size_t btn = (size_t)B * T * N, npg = (size_t)nblk * (N + 2) * SW;
    // dB, dC for partition p: the outputs themselves (P = 1) or partials
    float *parts = P > 1 ? hl_cpu_scratch(0, 2 * btn * P) : NULL;
    float *pgs = hl_cpu_scratch(1, npg * nthreads); // per-thread parameter partials
    int ntasks = B * P;
    #pragma omp parallel num_threads(nthreads)
    {
        int tid = omp_get_thread_num();
        float *mem = hl_cpu_scratch_raw(2, (size_t)T * (2 * N + 4) * SW + (size_t)N * SW);
        bwd_block_scratch w = {(v16 *)mem, (v16 *)mem + (size_t)T * N, (v16 *)mem + (size_t)2 * T * N};
        v16 *Av = (v16 *)mem + (size_t)T * (2 * N + 4);
        v16 *pg = (v16 *)(pgs + npg * tid);
        #pragma omp for schedule(static)
        for (int task = 0; task < ntasks; task++) {
            int b = task / P, p = task % P;
            int blk0 = (int)((long)nblk * p / P), blk1 = (int)((long)nblk * (p + 1) / P);
            float *dBr, *dCr;
            if (P == 1) { dBr = a->dBm + (size_t)b * T * N; dCr = a->dCm + (size_t)b * T * N; }
            else { dBr = parts + 2 * btn * p + (size_t)b * T * N; dCr = dBr + btn; }
            if (P == 1) {
                memset(dBr, 0, sizeof(float) * T * N);
                memset(dCr, 0, sizeof(float) * T * N);
            }
            for (int blk = blk0; blk < blk1; blk++) {
                int c0 = blk * SW, cw = C - c0 < SW ? C - c0 : SW;
                load_A(Av, a->A_log, c0, cw, N);
                v16 *pgb = pg + (size_t)blk * (N + 2);
                if (N == 16) scan_bwd_block(a, b, c0, 16, Av, &w, dBr, dCr, pgb);
                else scan_bwd_block(a, b, c0, N, Av, &w, dBr, dCr, pgb);
            }
        }
    }
    if (P > 1) { // dBm, dCm = sum of the partition partials in order
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < btn; i++) {
            float sb = 0.0f, sc = 0.0f;
            for (int p = 0; p < P; p++) { sb += parts[2 * btn * p + i]; sc += parts[2 * btn * p + btn + i]; }
            a->dBm[i] = sb; a->dCm[i] = sc;
        }
    }
    // parameter gradients: per-thread partials in thread order, then * A for A_log
    #pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * SW, cw = C - c0 < SW ? C - c0 : SW;
        for (int i = 0; i < cw; i++) {
            int c = c0 + i;
            for (int n = 0; n < N + 2; n++) {
                float sum = 0.0f;
                for (int th = 0; th < nthreads; th++) sum += pgs[npg * th + ((size_t)blk * (N + 2) + n) * SW + i];
                if (n < N) a->dA_log[(size_t)c * N + n] += sum * -expf(a->A_log[(size_t)c * N + n]);
                else if (n == N) a->dD[c] += sum;
                else a->ddt_bias[c] += sum;
            }
        }
    }
}
