// cpu_ref/ssd.c: the Mamba-2 scan (kernels.h, ssd_fwd/ssd_bwd) as the plain
// recurrence, one (batch, head) at a time, in double: the oracle the chunked
// SSD of the cpu backend is checked against.
#include <math.h>
#include <stdlib.h>
#include "kernels/cpu_ref/cpu_ref.h"

void hl_ref_ssd_fwd(const hl_ssd_fwd_args *a) {
    int T = a->T, H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G;
    double *s = malloc(sizeof(double) * ((size_t)P * N + 1)); // (P, N) state of one head
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < H; h++) {
            int g = h / hpg;
            for (size_t i = 0; i < (size_t)P * N; i++) s[i] = 0.0;
            double A = N ? -exp((double)a->A_log[h]) : 0.0;
            for (int t = 0; t < T; t++) {
                size_t bt = (size_t)b * T + t;
                double delta = N ? hl_softplus(a->dt[bt * H + h] + a->dt_bias[h]) : 0.0, dA = exp(delta * A);
                const float *x = a->x + (bt * H + h) * P, *Bv = a->Bm + (bt * G + g) * N, *Cv = a->Cm + (bt * G + g) * N;
                for (int p = 0; p < P; p++) {
                    double y = (double)a->D[h] * x[p];
                    for (int n = 0; n < N; n++) {
                        double *sp = &s[(size_t)p * N + n];
                        *sp = dA * *sp + delta * x[p] * Bv[n];
                        y += *sp * Cv[n];
                    }
                    a->y[(bt * H + h) * P + p] = (float)y;
                }
            }
        }
    free(s);
}

// Backward per (b, h): recompute every state s_t (T, P, N), then walk t
// backwards carrying gs = dLoss/ds_t. dBm and dCm sum over the heads of a
// group (double accumulators, written at the end).
void hl_ref_ssd_bwd(const hl_ssd_bwd_args *a) {
    int B = a->B, T = a->T, H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G;
    size_t PN = (size_t)P * N, nbn = (size_t)B * T * G * N;
    double *ss = malloc(sizeof(double) * ((size_t)T * PN + 1)); // (T, P, N) states
    double *gs = malloc(sizeof(double) * (PN + 1));             // (P, N)
    double *dB = calloc(nbn + 1, sizeof(double)), *dC = calloc(nbn + 1, sizeof(double)); // (B, T, G, N)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            int g = h / hpg;
            double A = -exp((double)a->A_log[h]);
            for (int t = 0; t < T; t++) { // recompute states
                size_t bt = (size_t)b * T + t;
                double delta = hl_softplus(a->dt[bt * H + h] + a->dt_bias[h]), dA = exp(delta * A);
                const float *x = a->x + (bt * H + h) * P, *Bv = a->Bm + (bt * G + g) * N;
                for (int p = 0; p < P; p++)
                    for (int n = 0; n < N; n++) {
                        double prev = t ? ss[(size_t)(t - 1) * PN + (size_t)p * N + n] : 0.0;
                        ss[(size_t)t * PN + (size_t)p * N + n] = dA * prev + delta * x[p] * Bv[n];
                    }
            }
            for (size_t i = 0; i < PN; i++) gs[i] = 0.0;
            double dD = 0.0, ddt_bias = 0.0, dA_log = 0.0;
            for (int t = T - 1; t >= 0; t--) {
                size_t bt = (size_t)b * T + t;
                double xin = (double)a->dt[bt * H + h] + a->dt_bias[h];
                double delta = hl_softplus((float)xin), dA = exp(delta * A), ddelta = 0.0;
                const float *x = a->x + (bt * H + h) * P, *dy = a->dy + (bt * H + h) * P;
                const float *Bv = a->Bm + (bt * G + g) * N, *Cv = a->Cm + (bt * G + g) * N;
                double *dBv = dB + (bt * G + g) * N, *dCv = dC + (bt * G + g) * N;
                for (int p = 0; p < P; p++) {
                    double dx = dy[p] * (double)a->D[h];
                    dD += (double)dy[p] * x[p];
                    for (int n = 0; n < N; n++) {
                        size_t i = (size_t)p * N + n;
                        double prev = t ? ss[(size_t)(t - 1) * PN + i] : 0.0;
                        gs[i] += (double)dy[p] * Cv[n];
                        dCv[n] += (double)dy[p] * ss[(size_t)t * PN + i];
                        ddelta += gs[i] * (A * dA * prev + (double)Bv[n] * x[p]);
                        dA_log += gs[i] * delta * dA * prev * A;
                        dBv[n] += gs[i] * delta * x[p];
                        dx += gs[i] * delta * Bv[n];
                        gs[i] *= dA;
                    }
                    a->dx[(bt * H + h) * P + p] = (float)dx;
                }
                double ddt = ddelta * hl_softplus_grad((float)xin);
                a->ddt[bt * H + h] = (float)ddt;
                ddt_bias += ddt;
            }
            a->dD[h] += (float)dD;
            a->ddt_bias[h] += (float)ddt_bias;
            a->dA_log[h] += (float)dA_log;
        }
    for (size_t i = 0; i < nbn; i++) { a->dBm[i] = (float)dB[i]; a->dCm[i] = (float)dC[i]; }
    free(ss); free(gs); free(dB); free(dC);
}

void hl_ref_ssd_state(const hl_ssd_state_args *a) {
    int T = a->T, H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G;
    size_t PN = (size_t)P * N;
    double *s = malloc(sizeof(double) * (PN + 1)); // (P, N) state of one head
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < H; h++) {
            int g = h / hpg;
            for (size_t i = 0; i < PN; i++) s[i] = 0.0;
            double A = a->lens[b] > 0 ? -exp((double)a->A_log[h]) : 0.0;
            for (int t = 0; t < a->lens[b]; t++) {
                size_t bt = (size_t)b * T + t;
                double delta = hl_softplus(a->dt[bt * H + h] + a->dt_bias[h]), dA = exp(delta * A);
                const float *x = a->x + (bt * H + h) * P, *Bv = a->Bm + (bt * G + g) * N;
                for (int p = 0; p < P; p++)
                    for (int n = 0; n < N; n++) s[(size_t)p * N + n] = dA * s[(size_t)p * N + n] + delta * x[p] * Bv[n];
            }
            float *out = a->s + ((size_t)b * H + h) * PN;
            for (size_t i = 0; i < PN; i++) out[i] = (float)s[i];
        }
    free(s);
}

void hl_ref_ssd_step(const hl_ssd_step_args *a) {
    int H = a->H, P = a->P, G = a->G, N = a->N, hpg = H / G;
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < H; h++) {
            int g = h / hpg;
            double delta = N ? hl_softplus(a->dt[(size_t)b * H + h] + a->dt_bias[h]) : 0.0;
            double dA = N ? exp(delta * -exp((double)a->A_log[h])) : 0.0;
            const float *x = a->x + ((size_t)b * H + h) * P;
            const float *Bv = a->Bm + ((size_t)b * G + g) * N, *Cv = a->Cm + ((size_t)b * G + g) * N;
            float *s = a->s + ((size_t)b * H + h) * P * N;
            for (int p = 0; p < P; p++) {
                double y = (double)a->D[h] * x[p];
                for (int n = 0; n < N; n++) {
                    double v = dA * s[(size_t)p * N + n] + delta * x[p] * Bv[n];
                    s[(size_t)p * N + n] = (float)v;
                    y += v * Cv[n];
                }
                a->y[((size_t)b * H + h) * P + p] = (float)y;
            }
        }
}
