// cpu/ssd.c: the Mamba-2 scan (kernels.h, ssd_fwd/ssd_bwd) as the chunked
// SSD algorithm (state-spaces/mamba ssd_minimal_discrete) in matrix form,
// the products by OpenBLAS. Per chunk of L positions, head h of group g,
// with cum[i] = sum_{k<=i} delta_k*A (inclusive, in double) and
// E[i,j] = exp(cum[i] - cum[j]) for j <= i (0 above the diagonal):
//   CB  = C B^T                                  (L, L), once per group
//   M   = (CB o E) diag(delta)                   (L, L), per head
//   Y   = diag(exp(cum)) C s0^T + M X + D X       (L, P): inter-chunk, intra-chunk, skip
//   s1  = exp(cum[L-1]) s0 + X^T diag(w o delta) B,  w[j] = exp(cum[L-1] - cum[j])   (P, N)
// (s0: the state before the chunk; the last chunk is shorter when chunk does
// not divide T). The backward is the adjoint of these products, chunks last
// first, with dS carried backwards and the chunk-start states recomputed
// chunk-wise (pass 1):
//   dX    = M^T dY + D dY + diag(w o delta) (B dS1^T)
//   dCB   = (dY X^T o E) diag(delta)  (summed over the group's heads, then)
//   dC   += dCB B + diag(exp(cum)) dY s0,   dB += dCB^T C + diag(w o delta) X dS1
//   dS0   = exp(cum[L-1]) dS1 + dY^T diag(exp(cum)) C
//   dcum from E, exp(cum) and w; ddelta from M, w and A * reverse-cumsum(dcum).
// Tasks are (batch, group), OpenMP over them (OpenBLAS runs single-threaded
// inside; a single task leaves the region inactive so OpenBLAS threads it).
// A task owns its rows of y, dx, ddt, dBm and dCm; the per-head parameter
// gradients go to per-batch partials summed in batch order, so the sums do
// not depend on how tasks are spread over threads (a single task's products
// are split as OpenBLAS decides for its thread count).
// Decoding: ssd_state (the recurrence over a prefix) and ssd_step (one
// position), per (batch, head), OpenMP over those.
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu/cpu.h"

// softplus and its derivative (the rules of kernels.h, stated again here).
static double ssd_softplus(float x) { return x > 20.0f ? x : log1p(exp((double)x)); }
static double ssd_softplus_grad(float x) { return x > 20.0f ? 1.0 : 1.0 / (1.0 + exp(-(double)x)); }

// delta[i] = softplus(dt[i*H] + dtb) and cum[i] = sum_{k<=i} delta[k]*A for
// the L positions of a chunk (dt points at the chunk's first row of head h).
static void ssd_decay(const float *dt, int H, float dtb, double A, int L, double *delta, double *cum) {
    double acc = 0.0;
    for (int i = 0; i < L; i++) {
        delta[i] = ssd_softplus(dt[(size_t)i * H] + dtb);
        acc += delta[i] * A;
        cum[i] = acc;
    }
}

// Row-major (M, N) = op(A) (M, K) @ op(B) (K, N), C = alpha op(A) op(B) + beta C.
static void gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, size_t lda, const float *Bm,
                 size_t ldb, float beta, float *C, size_t ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                (int)lda, Bm, (int)ldb, beta, C, (int)ldc);
}

// The (L, L) matrices of a chunk (C B^T, M, dY X^T, dCB) are lower
// triangular: their products run by row blocks of SSD_BLOCK and skip the
// blocks above the diagonal (about 5/8 of the full products for L = 256).
enum { SSD_BLOCK = 64 };

// out[i, j] = a_i . b_j (K-long rows) for row block [r0, r1) and j < r1:
// every entry on or below the diagonal (some above it too; never read).
static void gemm_lower_nt(int L, int K, const float *A, size_t lda, const float *Bm, size_t ldb, float *out, size_t ldo) {
    for (int r0 = 0; r0 < L; r0 += SSD_BLOCK) {
        int r1 = r0 + SSD_BLOCK < L ? r0 + SSD_BLOCK : L;
        gemm(0, 1, r1 - r0, r1, K, 1.0f, A + (size_t)r0 * lda, lda, Bm, ldb, 0.0f, out + (size_t)r0 * ldo, ldo);
    }
}

// Y = beta Y + Mx X for Mx (L, L) lower triangular (zero above the diagonal
// where a row block reads it), X (L, n).
static void gemm_lower_nn(int L, int n, const float *Mx, size_t ldm, const float *X, size_t ldx, float beta, float *Y,
                          size_t ldy) {
    for (int r0 = 0; r0 < L; r0 += SSD_BLOCK) {
        int r1 = r0 + SSD_BLOCK < L ? r0 + SSD_BLOCK : L;
        gemm(0, 0, r1 - r0, n, r1, 1.0f, Mx + (size_t)r0 * ldm, ldm, X, ldx, beta, Y + (size_t)r0 * ldy, ldy);
    }
}

// Y = beta Y + Mx^T X for Mx (L, L) lower triangular (zero above the
// diagonal where a block reads it), X (L, n): row block [c0, c1) of Y reads
// rows c0..L-1 of Mx and X.
static void gemm_upper_tn(int L, int n, const float *Mx, size_t ldm, const float *X, size_t ldx, float beta, float *Y,
                          size_t ldy) {
    for (int c0 = 0; c0 < L; c0 += SSD_BLOCK) {
        int c1 = c0 + SSD_BLOCK < L ? c0 + SSD_BLOCK : L;
        gemm(1, 0, c1 - c0, n, L - c0, 1.0f, Mx + (size_t)c0 * ldm + c0, ldm, X + (size_t)c0 * ldx, ldx, beta,
             Y + (size_t)c0 * ldy, ldy);
    }
}

// y = D x for every head (N == 0: no state).
static void ssd_skip_only(const hl_ssd_fwd_args *a) {
    size_t n = (size_t)a->B * a->T * a->H;
    #pragma omp parallel for schedule(static)
    for (size_t r = 0; r < n; r++)
        for (int p = 0; p < a->P; p++) a->y[r * a->P + p] = a->D[r % a->H] * a->x[r * a->P + p];
}

void hl_cpu_ssd_fwd(const hl_ssd_fwd_args *a) {
    int B = a->B, T = a->T, H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G, Lc = a->chunk < T ? a->chunk : T;
    if (Lc < 1 || B == 0 || H == 0 || P == 0) return;
    if (N == 0) { ssd_skip_only(a); return; }
    size_t HP = (size_t)H * P, GN = (size_t)G * N, PN = (size_t)P * N, LL = (size_t)Lc * Lc;
    #pragma omp parallel for collapse(2) schedule(dynamic) if (B * G > 1)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++) {
            size_t dbl = ((size_t)4 * Lc + 15) / 16 * 16;   // two double arrays, in floats
            float *mem = hl_cpu_scratch_raw(0, dbl + 2 * LL + (size_t)Lc * N + (size_t)hpg * PN);
            double *delta = (double *)mem, *cum = delta + Lc;   // (Lc) each, first: aligned for double
            float *CB = mem + dbl, *Mh = CB + LL;    // (Lc, Lc) each
            float *Bw = Mh + LL;                     // (Lc, N) w*delta*B
            float *S = Bw + (size_t)Lc * N;          // (hpg, P, N) the group's states, zero at t = 0
            memset(S, 0, sizeof(float) * hpg * PN);
            for (int c0 = 0; c0 < T; c0 += Lc) {
                int L = T - c0 < Lc ? T - c0 : Lc;
                size_t row0 = (size_t)b * T + c0;
                const float *Cc = a->Cm + (row0 * G + g) * N, *Bc = a->Bm + (row0 * G + g) * N;  // (L, N), ld GN
                gemm_lower_nt(L, N, Cc, GN, Bc, GN, CB, Lc);
                for (int h = g * hpg; h < (g + 1) * hpg; h++) {
                    float *s = S + (size_t)(h - g * hpg) * PN;                     // (P, N)
                    const float *xc = a->x + (row0 * H + h) * P;                   // (L, P), ld HP
                    float *yc = a->y + (row0 * H + h) * P;                         // (L, P), ld HP
                    double A = -exp((double)a->A_log[h]);
                    ssd_decay(a->dt + row0 * H + h, H, a->dt_bias[h], A, L, delta, cum);
                    if (c0 > 0) gemm(0, 1, L, P, N, 1.0f, Cc, GN, s, N, 0.0f, yc, HP);   // C s0^T
                    for (int i = 0; i < L; i++) {
                        float e = c0 > 0 ? (float)exp(cum[i]) : 0.0f, Dh = a->D[h];
                        float *yi = yc + (size_t)i * HP;
                        const float *xi = xc + (size_t)i * HP;
                        if (c0 > 0) for (int p = 0; p < P; p++) yi[p] = e * yi[p] + Dh * xi[p];
                        else for (int p = 0; p < P; p++) yi[p] = Dh * xi[p];
                        float *mi = Mh + (size_t)i * Lc;
                        const float *cbi = CB + (size_t)i * Lc;
                        double ci = cum[i];
                        #pragma omp simd
                        for (int j = 0; j <= i; j++) mi[j] = cbi[j] * hl_fast_expf((float)(ci - cum[j])) * (float)delta[j];
                        for (int j = i + 1; j < L; j++) mi[j] = 0.0f;
                    }
                    gemm_lower_nn(L, P, Mh, Lc, xc, HP, 1.0f, yc, HP);                // + M X
                    if (c0 + L < T) {                                                 // the state for the next chunk
                        double last = cum[L - 1];
                        for (int j = 0; j < L; j++) {
                            float w = (float)(exp(last - cum[j]) * delta[j]);
                            const float *bj = Bc + (size_t)j * GN;
                            float *bw = Bw + (size_t)j * N;
                            for (int n = 0; n < N; n++) bw[n] = w * bj[n];
                        }
                        gemm(1, 0, P, N, L, 1.0f, xc, HP, Bw, N, (float)exp(last), s, N);
                    }
                }
            }
        }
}

// The backward with N == 0 or P == 0 (no state): dx = D dy, ddt = 0, dD.
static void ssd_bwd_skip_only(const hl_ssd_bwd_args *a, int b, int g, double *part) {
    int T = a->T, H = a->H, P = a->P, hpg = H / a->G;
    for (int h = g * hpg; h < (g + 1) * hpg; h++) {
        double dD = 0.0;
        for (int t = 0; t < T; t++) {
            size_t r = ((size_t)b * T + t) * H + h;
            for (int p = 0; p < P; p++) {
                a->dx[r * P + p] = a->dy[r * P + p] * a->D[h];
                dD += (double)a->dy[r * P + p] * a->x[r * P + p];
            }
            a->ddt[r] = 0.0f;
        }
        part[((size_t)b * H + h) * 3] = dD;
    }
}

void hl_cpu_ssd_bwd(const hl_ssd_bwd_args *a) {
    int B = a->B, T = a->T, H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G, Lc = a->chunk < T ? a->chunk : T;
    if (Lc < 1 || B == 0 || H == 0) return;
    int nck = (T + Lc - 1) / Lc;
    size_t HP = (size_t)H * P, GN = (size_t)G * N, PN = (size_t)P * N, LL = (size_t)Lc * Lc;
    double *part = calloc((size_t)B * H * 3, sizeof(double)); // (B, H, 3): dD, ddt_bias, dA_log per batch
    #pragma omp parallel for collapse(2) schedule(dynamic) if (B * G > 1)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++) {
            for (int t = 0; t < T && N > 0; t++) {
                size_t r = (((size_t)b * T + t) * G + g) * N;
                memset(a->dBm + r, 0, sizeof(float) * N);
                memset(a->dCm + r, 0, sizeof(float) * N);
            }
            if (N == 0 || P == 0) { ssd_bwd_skip_only(a, b, g, part); continue; }
            size_t dbl = (size_t)14 * Lc;   // 7 double (Lc) arrays, in floats
            float *mem = hl_cpu_scratch_raw(0, dbl + 3 * LL + 2 * (size_t)Lc * N + (size_t)Lc * P
                                               + (size_t)(nck + 1) * hpg * PN);
            double *delta = (double *)mem, *cum = delta + Lc, *dcum = cum + Lc;   // (Lc) each, first: aligned
            double *ddelta = dcum + Lc, *colq = ddelta + Lc, *rowq = colq + Lc, *ddf = rowq + Lc;
            float *CB = mem + dbl, *W = CB + LL, *dCB = W + LL;  // (Lc, Lc) each: C B^T, dY X^T then M, group's dCB
            float *tmp = dCB + LL, *Ce = tmp + (size_t)Lc * N;  // (Lc, N) each
            float *V = Ce + (size_t)Lc * N;                     // (Lc, P) B dS1^T
            float *ck = V + (size_t)Lc * P;                     // (nck, hpg, P, N) states at chunk starts
            float *dS = ck + (size_t)nck * hpg * PN;            // (hpg, P, N) dLoss/d(state after the chunk)
            memset(ck, 0, sizeof(float) * hpg * PN);            // ck[0]: the zero initial state
            memset(dS, 0, sizeof(float) * hpg * PN);            // nothing after the last chunk
            // pass 1: the states at chunk starts
            for (int c = 0; c + 1 < nck; c++) {
                int c0 = c * Lc, L = Lc;
                size_t row0 = (size_t)b * T + c0;
                const float *Bc = a->Bm + (row0 * G + g) * N;
                for (int h = g * hpg; h < (g + 1) * hpg; h++) {
                    int hh = h - g * hpg;
                    double A = -exp((double)a->A_log[h]);
                    ssd_decay(a->dt + row0 * H + h, H, a->dt_bias[h], A, L, delta, cum);
                    double last = cum[L - 1];
                    for (int j = 0; j < L; j++) {
                        float w = (float)(exp(last - cum[j]) * delta[j]);
                        for (int n = 0; n < N; n++) Ce[(size_t)j * N + n] = w * Bc[(size_t)j * GN + n];
                    }
                    float *s1 = ck + ((size_t)(c + 1) * hpg + hh) * PN;
                    memcpy(s1, ck + ((size_t)c * hpg + hh) * PN, sizeof(float) * PN);
                    gemm(1, 0, P, N, L, 1.0f, a->x + (row0 * H + h) * P, HP, Ce, N, (float)exp(last), s1, N);
                }
            }
            // pass 2: chunks last first, dS carried backwards
            for (int c = nck - 1; c >= 0; c--) {
                int c0 = c * Lc, L = T - c0 < Lc ? T - c0 : Lc;
                size_t row0 = (size_t)b * T + c0;
                const float *Cc = a->Cm + (row0 * G + g) * N, *Bc = a->Bm + (row0 * G + g) * N;   // (L, N), ld GN
                float *dCc = a->dCm + (row0 * G + g) * N, *dBc = a->dBm + (row0 * G + g) * N;
                gemm_lower_nt(L, N, Cc, GN, Bc, GN, CB, Lc);
                memset(dCB, 0, sizeof(float) * LL);
                for (int h = g * hpg; h < (g + 1) * hpg; h++) {
                    int hh = h - g * hpg;
                    const float *s0 = ck + ((size_t)c * hpg + hh) * PN;
                    float *ds = dS + (size_t)hh * PN;       // dS1 on entry, dS0 on exit
                    const float *xc = a->x + (row0 * H + h) * P, *dyc = a->dy + (row0 * H + h) * P;   // (L, P), ld HP
                    float *dxc = a->dx + (row0 * H + h) * P;
                    double A = -exp((double)a->A_log[h]), last;
                    ssd_decay(a->dt + row0 * H + h, H, a->dt_bias[h], A, L, delta, cum);
                    last = cum[L - 1];
                    for (int i = 0; i < L; i++) { dcum[i] = 0.0; colq[i] = 0.0; ddf[i] = 0.0; }
                    // intra-chunk: W = dY X^T, then W = M (for dX = M^T dY)
                    gemm_lower_nt(L, P, dyc, HP, xc, HP, W, Lc);
                    for (int i = 0; i < L; i++) {
                        float *wi = W + (size_t)i * Lc, *dcbi = dCB + (size_t)i * Lc;
                        double rq = 0.0;   // these sums cancel (dcum = rowq - colq): double
                        const float *cbi = CB + (size_t)i * Lc;
                        double ci = cum[i];
                        #pragma omp simd reduction(+:rq)
                        for (int j = 0; j <= i; j++) {
                            float e = hl_fast_expf((float)(ci - cum[j])), dj = (float)delta[j];
                            float m = cbi[j] * e, gij = wi[j];
                            double q = (double)(gij * dj) * m;
                            ddf[j] += (double)m * gij;
                            rq += q;
                            colq[j] += q;
                            dcbi[j] += gij * dj * e;
                            wi[j] = m * dj;
                        }
                        for (int j = i + 1; j < L; j++) wi[j] = 0.0f;
                        rowq[i] = rq;
                    }
                    gemm_upper_tn(L, P, W, Lc, dyc, HP, 0.0f, dxc, HP);              // dX = M^T dY
                    for (int i = 0; i < L; i++) { dcum[i] += rowq[i] - colq[i]; ddelta[i] = ddf[i]; }
                    if (c > 0) {   // inter-chunk term diag(exp(cum)) C s0^T (s0 = 0 in chunk 0)
                        gemm(0, 0, L, N, P, 1.0f, dyc, HP, s0, N, 0.0f, tmp, N);     // dY s0
                        for (int i = 0; i < L; i++) {
                            float e = (float)exp(cum[i]), dot = 0.0f;
                            const float *ci = Cc + (size_t)i * GN, *ti = tmp + (size_t)i * N;
                            float *dci = dCc + (size_t)i * GN;
                            #pragma omp simd reduction(+:dot)
                            for (int n = 0; n < N; n++) { dot += ci[n] * ti[n]; dci[n] += e * ti[n]; }
                            dcum[i] += (double)e * dot;
                        }
                    }
                    if (c < nck - 1) {   // the state passed on, s1 (dS1 = 0 after the last chunk)
                        gemm(0, 1, L, P, N, 1.0f, Bc, GN, ds, N, 0.0f, V, P);        // B dS1^T
                        gemm(0, 0, L, N, P, 1.0f, xc, HP, ds, N, 0.0f, tmp, N);      // X dS1
                        double dlast = 0.0;
                        for (int j = 0; j < L; j++) {
                            double w = exp(last - cum[j]);
                            float wd = (float)(w * delta[j]), xv = 0.0f;
                            const float *xj = xc + (size_t)j * HP, *vj = V + (size_t)j * P, *tj = tmp + (size_t)j * N;
                            float *dxj = dxc + (size_t)j * HP, *dbj = dBc + (size_t)j * GN;
                            #pragma omp simd reduction(+:xv)
                            for (int p = 0; p < P; p++) { xv += xj[p] * vj[p]; dxj[p] += wd * vj[p]; }
                            for (int n = 0; n < N; n++) dbj[n] += wd * tj[n];
                            ddelta[j] += w * xv;
                            double dw = delta[j] * xv * w;
                            dlast += dw;
                            dcum[j] -= dw;
                        }
                        if (c > 0) {
                            float sd = 0.0f;
                            #pragma omp simd reduction(+:sd)
                            for (size_t k = 0; k < PN; k++) sd += ds[k] * s0[k];
                            dlast += exp(last) * sd;
                        }
                        dcum[L - 1] += dlast;
                    }
                    if (c > 0) {   // dS0 = exp(last) dS1 + dY^T diag(exp(cum)) C
                        for (int i = 0; i < L; i++) {
                            float e = (float)exp(cum[i]);
                            for (int n = 0; n < N; n++) Ce[(size_t)i * N + n] = e * Cc[(size_t)i * GN + n];
                        }
                        gemm(1, 0, P, N, L, 1.0f, dyc, HP, Ce, N, (float)exp(last), ds, N);
                    }
                    // skip term, cum = cumsum(delta*A), softplus
                    double dD = 0.0, ddt_bias = 0.0, dA_log = 0.0, da = 0.0;
                    float Dh = a->D[h];
                    for (int i = L - 1; i >= 0; i--) {
                        const float *xi = xc + (size_t)i * HP, *dyi = dyc + (size_t)i * HP;
                        float *dxi = dxc + (size_t)i * HP, sxy = 0.0f;
                        #pragma omp simd reduction(+:sxy)
                        for (int p = 0; p < P; p++) { dxi[p] += Dh * dyi[p]; sxy += dyi[p] * xi[p]; }
                        dD += sxy;
                        da += dcum[i];
                        double dd = ddelta[i] + A * da;
                        dA_log += A * delta[i] * da;
                        size_t bt = row0 + i;
                        float xin = a->dt[bt * H + h] + a->dt_bias[h];
                        double ddt = dd * ssd_softplus_grad(xin);
                        a->ddt[bt * H + h] = (float)ddt;
                        ddt_bias += ddt;
                    }
                    double *pp = part + ((size_t)b * H + h) * 3;
                    pp[0] += dD; pp[1] += ddt_bias; pp[2] += dA_log;
                }
                gemm_lower_nn(L, N, dCB, Lc, Bc, GN, 1.0f, dCc, GN);   // dC += dCB B
                gemm_upper_tn(L, N, dCB, Lc, Cc, GN, 1.0f, dBc, GN);   // dB += dCB^T C
            }
        }
    for (int h = 0; h < H; h++) {
        double dD = 0.0, ddt_bias = 0.0, dA_log = 0.0;
        for (int b = 0; b < B; b++) {
            const double *pp = part + ((size_t)b * H + h) * 3;
            dD += pp[0]; ddt_bias += pp[1]; dA_log += pp[2];
        }
        a->dD[h] += (float)dD; a->ddt_bias[h] += (float)ddt_bias; a->dA_log[h] += (float)dA_log;
    }
    free(part);
}

// ssd_state: the recurrence per (batch, head) in float, OpenMP over those.
void hl_cpu_ssd_state(const hl_ssd_state_args *a) {
    int T = a->T, H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G;
    size_t PN = (size_t)P * N;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < H; h++) {
            int g = h / hpg;
            float *s = a->s + ((size_t)b * H + h) * PN;   // (P, N)
            memset(s, 0, sizeof(float) * PN);
            if (a->lens[b] == 0) continue;
            double A = -exp((double)a->A_log[h]);
            for (int t = 0; t < a->lens[b]; t++) {
                size_t bt = (size_t)b * T + t;
                double delta = ssd_softplus(a->dt[bt * H + h] + a->dt_bias[h]);
                float dA = (float)exp(delta * A);
                const float *x = a->x + (bt * H + h) * P, *Bv = a->Bm + (bt * G + g) * N;
                for (int p = 0; p < P; p++) {
                    float dx = (float)delta * x[p], *sp = s + (size_t)p * N;
                    for (int n = 0; n < N; n++) sp[n] = dA * sp[n] + dx * Bv[n];
                }
            }
        }
}

// ssd_step: one position per (batch, head), OpenMP over those.
void hl_cpu_ssd_step(const hl_ssd_step_args *a) {
    int H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < H; h++) {
            int g = h / hpg;
            double delta = N ? ssd_softplus(a->dt[(size_t)b * H + h] + a->dt_bias[h]) : 0.0;
            float dA = N ? (float)exp(delta * -exp((double)a->A_log[h])) : 0.0f;
            const float *x = a->x + ((size_t)b * H + h) * P;
            const float *Bv = a->Bm + ((size_t)b * G + g) * N, *Cv = a->Cm + ((size_t)b * G + g) * N;
            float *s = a->s + ((size_t)b * H + h) * P * N;
            for (int p = 0; p < P; p++) {
                float dx = (float)delta * x[p], y = a->D[h] * x[p], *sp = s + (size_t)p * N;
                for (int n = 0; n < N; n++) {
                    sp[n] = dA * sp[n] + dx * Bv[n];
                    y += sp[n] * Cv[n];
                }
                a->y[((size_t)b * H + h) * P + p] = y;
            }
        }
}
