// cpu_ref/ssm.c: naive causal depthwise conv1d and Mamba-1 selective scan.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu_ref/cpu_ref.h"

void hl_ref_conv1d_fwd(const hl_conv1d_fwd_args *a) {
    int T = a->T, C = a->C, K = a->K;
    for (int b = 0; b < a->B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) {
                double s = a->bias ? a->bias[c] : 0.0;
                for (int j = 0; j < K; j++) {
                    int src = t - K + 1 + j;
                    if (src >= 0) s += (double)a->weight[c * K + j] * a->inp[((size_t)b * T + src) * C + c];
                }
                a->out[((size_t)b * T + t) * C + c] = (float)s;
            }
}

void hl_ref_conv1d_bwd(const hl_conv1d_bwd_args *a) {
    int T = a->T, C = a->C, K = a->K;
    for (int b = 0; b < a->B; b++)
        for (int s = 0; s < T; s++)
            for (int c = 0; c < C; c++) {
                // input position s feeds outputs t = s + K - 1 - j
                double d = 0.0;
                for (int j = 0; j < K; j++) {
                    int t = s + K - 1 - j;
                    if (t < T) d += (double)a->weight[c * K + j] * a->dout[((size_t)b * T + t) * C + c];
                }
                a->dinp[((size_t)b * T + s) * C + c] = (float)d;
            }
    for (int c = 0; c < C; c++) {
        for (int j = 0; j < K; j++) {
            double d = 0.0;
            for (int b = 0; b < a->B; b++)
                for (int t = 0; t < T; t++) {
                    int src = t - K + 1 + j;
                    if (src >= 0)
                        d += (double)a->dout[((size_t)b * T + t) * C + c] * a->inp[((size_t)b * T + src) * C + c];
                }
            a->dweight[c * K + j] += (float)d;
        }
        if (a->dbias) {
            double d = 0.0;
            for (int b = 0; b < a->B; b++)
                for (int t = 0; t < T; t++) d += a->dout[((size_t)b * T + t) * C + c];
            a->dbias[c] += (float)d;
        }
    }
}

void hl_ref_scan_fwd(const hl_scan_fwd_args *a) {
    int T = a->T, C = a->C, N = a->N;
    double *h = malloc(sizeof(double) * N); // (N) state of one channel
    for (int b = 0; b < a->B; b++)
        for (int c = 0; c < C; c++) {
            for (int n = 0; n < N; n++) h[n] = 0.0;
            for (int t = 0; t < T; t++) {
                size_t bt = (size_t)b * T + t;
                float delta = hl_softplus(a->dt[bt * C + c] + a->dt_bias[c]);
                float u = a->u[bt * C + c];
                double y = (double)a->D[c] * u;
                for (int n = 0; n < N; n++) {
                    double A = -exp((double)a->A_log[c * N + n]);
                    h[n] = exp(delta * A) * h[n] + (double)delta * a->Bm[bt * N + n] * u;
                    y += h[n] * a->Cm[bt * N + n];
                }
                a->y[bt * C + c] = (float)y;
            }
        }
    free(h);
}

// Backward per (b, c): recompute all states h_t (T, N), then walk t backwards
// carrying gh = dLoss/dh_t.
void hl_ref_scan_bwd(const hl_scan_bwd_args *a) {
    int B = a->B, T = a->T, C = a->C, N = a->N;
    double *hs = malloc(sizeof(double) * (size_t)T * N); // (T, N) states
    double *gh = malloc(sizeof(double) * N);              // (N)
    double *dBm = calloc((size_t)B * T * N, sizeof(double)), *dCm = calloc((size_t)B * T * N, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            for (int t = 0; t < T; t++) { // recompute states
                size_t bt = (size_t)b * T + t;
                double delta = hl_softplus(a->dt[bt * C + c] + a->dt_bias[c]);
                for (int n = 0; n < N; n++) {
                    double A = -exp((double)a->A_log[c * N + n]);
                    double prev = t ? hs[(size_t)(t - 1) * N + n] : 0.0;
                    hs[(size_t)t * N + n] = exp(delta * A) * prev + delta * a->Bm[bt * N + n] * a->u[bt * C + c];
                }
            }
            for (int n = 0; n < N; n++) gh[n] = 0.0;
            double dD = 0.0, ddt_bias = 0.0;
            for (int t = T - 1; t >= 0; t--) {
                size_t bt = (size_t)b * T + t;
                double x = (double)a->dt[bt * C + c] + a->dt_bias[c];
                double delta = hl_softplus((float)x), u = a->u[bt * C + c], dy = a->dy[bt * C + c];
                double du = dy * a->D[c], ddelta = 0.0;
                dD += dy * u;
                for (int n = 0; n < N; n++) {
                    double A = -exp((double)a->A_log[c * N + n]);
                    double dA = exp(delta * A);
                    double prev = t ? hs[(size_t)(t - 1) * N + n] : 0.0;
                    double Bv = a->Bm[bt * N + n];
                    gh[n] += dy * a->Cm[bt * N + n];
                    dCm[bt * N + n] += dy * hs[(size_t)t * N + n];
                    ddelta += gh[n] * (A * dA * prev + Bv * u);
                    a->dA_log[c * N + n] += (float)(gh[n] * delta * dA * prev * A);
                    dBm[bt * N + n] += gh[n] * delta * u;
                    du += gh[n] * delta * Bv;
                    gh[n] *= dA;
                }
                double ddt = ddelta * hl_softplus_grad((float)x);
                a->du[bt * C + c] = (float)du;
                a->ddt[bt * C + c] = (float)ddt;
                ddt_bias += ddt;
            }
            a->dD[c] += (float)dD;
            a->ddt_bias[c] += (float)ddt_bias;
        }
    for (size_t i = 0; i < (size_t)B * T * N; i++) { a->dBm[i] = (float)dBm[i]; a->dCm[i] = (float)dCm[i]; }
    free(hs); free(gh); free(dBm); free(dCm);
}
