// cpu/ssd.c: the Mamba-2 scan (kernels.h, ssd_fwd/ssd_bwd).
// Forward: the chunked SSD algorithm (state-spaces/mamba ssd_minimal_discrete)
// per (batch, head), OpenMP over those tasks. Within a chunk of L positions
// with cum[i] = sum_{j<=i} delta_j*A (inclusive):
//   y_i = D x_i + exp(cum[i]) * C_i . s_prev                  (inter-chunk)
//       + sum_{j<=i} (C_i . B_j) exp(cum[i] - cum[j]) delta_j x_j   (intra, the masked quadratic form)
//   s   = exp(cum[L-1]) s_prev + sum_j exp(cum[L-1] - cum[j]) delta_j x_j B_j^T
// (the last chunk is shorter when chunk does not divide T).
// Backward: the adjoint of the recurrence with states checkpointed at chunk
// starts: per chunk (last first) the chunk's states are recomputed from its
// checkpoint, then t walks backwards. Tasks are (batch, group): a task owns
// its rows of dBm/dCm (summed over the group's heads in head order); the
// per-head parameter gradients go to per-batch partials summed in batch
// order, so results do not depend on the thread count.
// The chunked (matmul-form) backward is not written yet.
// Decoding: ssd_state (the recurrence over a prefix) and ssd_step (one
// position), per (batch, head), OpenMP over those.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu/cpu.h"

// softplus and its derivative (the rules of kernels.h, stated again here).
static double ssd_softplus(float x) { return x > 20.0f ? x : log1p(exp((double)x)); }
static double ssd_softplus_grad(float x) { return x > 20.0f ? 1.0 : 1.0 / (1.0 + exp(-(double)x)); }

void hl_cpu_ssd_fwd(const hl_ssd_fwd_args *a) {
    int T = a->T, H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G, Lc = a->chunk < T ? a->chunk : T;
    if (Lc < 1) return; // T == 0
    #pragma omp parallel
    {
        double *cum = malloc(sizeof(double) * Lc);               // (L)
        float *M = malloc(sizeof(float) * (size_t)Lc * Lc);       // (L, L) masked C_i.B_j decay
        float *xd = malloc(sizeof(float) * (size_t)Lc * P);       // (L, P) delta * x
        float *s = malloc(sizeof(float) * ((size_t)P * N + 1));   // (P, N) state
        #pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < a->B; b++)
            for (int h = 0; h < H; h++) {
                int g = h / hpg;
                double A = N ? -exp((double)a->A_log[h]) : 0.0;
                memset(s, 0, sizeof(float) * (size_t)P * N);
                for (int c0 = 0; c0 < T; c0 += Lc) {
                    int L = T - c0 < Lc ? T - c0 : Lc;
                    double acc = 0.0;
                    for (int i = 0; i < L; i++) {
                        size_t bt = (size_t)b * T + c0 + i;
                        double delta = N ? ssd_softplus(a->dt[bt * H + h] + a->dt_bias[h]) : 0.0;
                        acc += delta * A;
                        cum[i] = acc;
                        const float *x = a->x + (bt * H + h) * P;
                        for (int p = 0; p < P; p++) xd[(size_t)i * P + p] = (float)(delta * x[p]);
                    }
                    for (int i = 0; i < L; i++) {
                        const float *Ci = a->Cm + (((size_t)b * T + c0 + i) * G + g) * N;
                        for (int j = 0; j <= i; j++) {
                            const float *Bj = a->Bm + (((size_t)b * T + c0 + j) * G + g) * N;
                            float cb = 0.0f;
                            for (int n = 0; n < N; n++) cb += Ci[n] * Bj[n];
                            M[(size_t)i * Lc + j] = cb * (float)exp(cum[i] - cum[j]);
                        }
                    }
                    for (int i = 0; i < L; i++) {
                        size_t bt = (size_t)b * T + c0 + i;
                        const float *x = a->x + (bt * H + h) * P, *Ci = a->Cm + (bt * G + g) * N;
                        float *y = a->y + (bt * H + h) * P, ecum = (float)exp(cum[i]);   // (P) accumulated in place
                        for (int p = 0; p < P; p++) {
                            float off = 0.0f;
                            const float *sp = s + (size_t)p * N;
                            #pragma omp simd reduction(+:off)
                            for (int n = 0; n < N; n++) off += Ci[n] * sp[n];
                            y[p] = a->D[h] * x[p] + ecum * off;
                        }
                        for (int j = 0; j <= i; j++) {   // the diagonal block, row i: sum_j M[i,j] xd[j, :]
                            float mij = M[(size_t)i * Lc + j];
                            const float *xj = xd + (size_t)j * P;
                            #pragma omp simd
                            for (int p = 0; p < P; p++) y[p] += mij * xj[p];
                        }
                    }
                    float etot = (float)exp(cum[L - 1]);
                    for (size_t k = 0; k < (size_t)P * N; k++) s[k] *= etot;
                    for (int j = 0; j < L; j++) {
                        const float *Bj = a->Bm + (((size_t)b * T + c0 + j) * G + g) * N;
                        float w = (float)exp(cum[L - 1] - cum[j]);
                        for (int p = 0; p < P; p++) {
                            float wx = w * xd[(size_t)j * P + p];
                            float *sp = s + (size_t)p * N;
                            for (int n = 0; n < N; n++) sp[n] += wx * Bj[n];
                        }
                    }
                }
            }
        free(cum); free(M); free(xd); free(s);
    }
}

void hl_cpu_ssd_bwd(const hl_ssd_bwd_args *a) {
    int B = a->B, T = a->T, H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G, Lc = a->chunk < T ? a->chunk : T;
    if (Lc < 1 || B == 0 || H == 0) return;
    int nck = (T + Lc - 1) / Lc;
    size_t PN = (size_t)P * N;
    double *part = calloc((size_t)B * H * 3, sizeof(double)); // (B, H, 3): dD, ddt_bias, dA_log per batch
    #pragma omp parallel
    {
        float *ck = malloc(sizeof(float) * ((size_t)nck * PN + 1));  // (nck, P, N) state before each chunk
        float *ss = malloc(sizeof(float) * ((size_t)Lc * PN + 1));   // (L, P, N) the chunk's states
        float *gs = malloc(sizeof(float) * (PN + 1));                 // (P, N) dLoss/ds_t
        #pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < G; g++) {
                for (int t = 0; t < T; t++) {
                    size_t r = (((size_t)b * T + t) * G + g) * N;
                    memset(a->dBm + r, 0, sizeof(float) * N);
                    memset(a->dCm + r, 0, sizeof(float) * N);
                }
                for (int h = g * hpg; h < (g + 1) * hpg; h++) {
                    double A = -exp((double)a->A_log[h]), dD = 0.0, ddt_bias = 0.0, dA_log = 0.0;
                    // pass 1: the checkpoints
                    float *s = ss;  // (P, N) running state (ss is free until pass 2)
                    memset(s, 0, sizeof(float) * PN);
                    for (int t = 0; t < T; t++) {
                        if (t % Lc == 0) memcpy(ck + (size_t)(t / Lc) * PN, s, sizeof(float) * PN);
                        size_t bt = (size_t)b * T + t;
                        double delta = ssd_softplus(a->dt[bt * H + h] + a->dt_bias[h]);
                        float dA = (float)exp(delta * A);
                        const float *x = a->x + (bt * H + h) * P, *Bv = a->Bm + (bt * G + g) * N;
                        for (int p = 0; p < P; p++) {
                            float dx = (float)delta * x[p];
                            for (int n = 0; n < N; n++) s[(size_t)p * N + n] = dA * s[(size_t)p * N + n] + dx * Bv[n];
                        }
                    }
                    // pass 2: chunks last first
                    memset(gs, 0, sizeof(float) * PN);
                    for (int c = nck - 1; c >= 0; c--) {
                        int c0 = c * Lc, L = T - c0 < Lc ? T - c0 : Lc;
                        for (int i = 0; i < L; i++) {
                            size_t bt = (size_t)b * T + c0 + i;
                            double delta = ssd_softplus(a->dt[bt * H + h] + a->dt_bias[h]);
                            float dA = (float)exp(delta * A);
                            const float *x = a->x + (bt * H + h) * P, *Bv = a->Bm + (bt * G + g) * N;
                            const float *prev = i ? ss + (size_t)(i - 1) * PN : ck + (size_t)c * PN;
                            float *cur = ss + (size_t)i * PN;
                            for (int p = 0; p < P; p++) {
                                float dx = (float)delta * x[p];
                                for (int n = 0; n < N; n++) cur[(size_t)p * N + n] = dA * prev[(size_t)p * N + n] + dx * Bv[n];
                            }
                        }
                        for (int i = L - 1; i >= 0; i--) {
                            size_t bt = (size_t)b * T + c0 + i;
                            float xin = a->dt[bt * H + h] + a->dt_bias[h];
                            double delta = ssd_softplus(xin), dA = exp(delta * A), ddelta = 0.0;
                            const float *x = a->x + (bt * H + h) * P, *dy = a->dy + (bt * H + h) * P;
                            const float *Bv = a->Bm + (bt * G + g) * N, *Cv = a->Cm + (bt * G + g) * N;
                            float *dBv = a->dBm + (bt * G + g) * N, *dCv = a->dCm + (bt * G + g) * N;
                            const float *prev = i ? ss + (size_t)(i - 1) * PN : ck + (size_t)c * PN;
                            const float *cur = ss + (size_t)i * PN;
                            float fdA = (float)dA, fdelta = (float)delta;
                            for (int p = 0; p < P; p++) {
                                // per row p: sprev = sum_n gs*s_{t-1}, sB = sum_n gs*B (gs after adding dy*C)
                                float dyp = dy[p], dxp = fdelta * x[p], sprev = 0.0f, sB = 0.0f;
                                float *gp = gs + (size_t)p * N;
                                const float *pp = prev + (size_t)p * N, *cp = cur + (size_t)p * N;
                                dD += (double)dyp * x[p];
                                #pragma omp simd reduction(+:sprev, sB)
                                for (int n = 0; n < N; n++) {
                                    float gk = gp[n] + dyp * Cv[n];
                                    dCv[n] += dyp * cp[n];
                                    sprev += gk * pp[n];
                                    sB += gk * Bv[n];
                                    dBv[n] += gk * dxp;
                                    gp[n] = gk * fdA;
                                }
                                ddelta += A * dA * sprev + (double)x[p] * sB;
                                dA_log += delta * dA * sprev * A;
                                a->dx[(bt * H + h) * P + p] = dyp * a->D[h] + fdelta * sB;
                            }
                            double ddt = ddelta * ssd_softplus_grad(xin);
                            a->ddt[bt * H + h] = (float)ddt;
                            ddt_bias += ddt;
                        }
                    }
                    double *pp = part + ((size_t)b * H + h) * 3;
                    pp[0] = dD; pp[1] = ddt_bias; pp[2] = dA_log;
                }
            }
        free(ck); free(ss); free(gs);
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
