// cpu_ref/dense.c: naive matmul, embedding, rmsnorm, rope. Obviously correct,
// never optimised; sums accumulate in double.
#include <math.h>
#include <string.h>
#include "kernels/cpu_ref/cpu_ref.h"

void hl_ref_matmul_fwd(const hl_matmul_fwd_args *a) {
    // out (N, OC) = inp (N, IC) @ weight (OC, IC)^T + bias (OC)
    for (int n = 0; n < a->N; n++)
        for (int o = 0; o < a->OC; o++) {
            double s = a->bias ? a->bias[o] : 0.0;
            for (int i = 0; i < a->IC; i++)
                s += (double)a->inp[(size_t)n * a->IC + i] * a->weight[(size_t)o * a->IC + i];
            a->out[(size_t)n * a->OC + o] = (float)s;
        }
}

void hl_ref_matmul_bwd(const hl_matmul_bwd_args *a) {
    int N = a->N, IC = a->IC, OC = a->OC;
    if (a->dinp) // dinp (N, IC) = dout (N, OC) @ weight (OC, IC)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < IC; i++) {
                double s = 0.0;
                for (int o = 0; o < OC; o++)
                    s += (double)a->dout[(size_t)n * OC + o] * a->weight[(size_t)o * IC + i];
                a->dinp[(size_t)n * IC + i] = (float)s;
            }
    if (a->dweight) // dweight (OC, IC) += dout^T (OC, N) @ inp (N, IC)
        for (int o = 0; o < OC; o++)
            for (int i = 0; i < IC; i++) {
                double s = 0.0;
                for (int n = 0; n < N; n++)
                    s += (double)a->dout[(size_t)n * OC + o] * a->inp[(size_t)n * IC + i];
                a->dweight[(size_t)o * IC + i] += (float)s;
            }
    if (a->dbias) // dbias (OC) += column sums of dout
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int n = 0; n < N; n++) s += a->dout[(size_t)n * OC + o];
            a->dbias[o] += (float)s;
        }
}

void hl_ref_embed_fwd(const hl_embed_fwd_args *a) {
    // out (N, C) rows copied from table (V, C)
    for (int n = 0; n < a->N; n++)
        memcpy(a->out + (size_t)n * a->C, a->table + (size_t)a->ids[n] * a->C,
               sizeof(float) * a->C);
}

void hl_ref_embed_bwd(const hl_embed_bwd_args *a) {
    for (int n = 0; n < a->N; n++)
        for (int c = 0; c < a->C; c++)
            a->dtable[(size_t)a->ids[n] * a->C + c] += a->dout[(size_t)n * a->C + c];
}

// Each row is G groups of Cg = C/G channels (G = 1: the whole row).
void hl_ref_rmsnorm_fwd(const hl_rmsnorm_fwd_args *a) {
    int G = a->groups > 1 ? a->groups : 1, Cg = a->C / G;
    for (int n = 0; n < a->N; n++)
        for (int gi = 0; gi < G; gi++) {
            size_t base = (size_t)n * a->C + (size_t)gi * Cg;
            const float *x = a->inp + base; // (Cg)
            double ss = 0.0;
            for (int c = 0; c < Cg; c++) ss += (double)x[c] * x[c];
            float rstd = (float)(1.0 / sqrt(ss / Cg + a->eps));
            a->rstd[(size_t)n * G + gi] = rstd;
            for (int c = 0; c < Cg; c++)
                a->out[base + c] = x[c] * rstd * a->weight[gi * Cg + c];
        }
}

void hl_ref_rmsnorm_bwd(const hl_rmsnorm_bwd_args *a) {
    // per group of Cg channels: y_c = x_c r w_c, r = (mean x^2 + eps)^-1/2
    // dx_c = r w_c g_c - x_c r^3 / Cg * sum_j g_j w_j x_j ; dw_c += g_c x_c r
    int G = a->groups > 1 ? a->groups : 1, Cg = a->C / G;
    for (int n = 0; n < a->N; n++)
        for (int gi = 0; gi < G; gi++) {
            size_t base = (size_t)n * a->C + (size_t)gi * Cg;
            const float *x = a->inp + base, *g = a->dout + base, *w = a->weight + (size_t)gi * Cg; // (Cg)
            double r = a->rstd[(size_t)n * G + gi], dot = 0.0;
            for (int c = 0; c < Cg; c++) dot += (double)g[c] * w[c] * x[c];
            for (int c = 0; c < Cg; c++) {
                a->dinp[base + c] = (float)(r * w[c] * g[c] - x[c] * r * r * r * dot / Cg);
                a->dweight[gi * Cg + c] += (float)((double)g[c] * x[c] * r);
            }
        }
}

// Rotates every head of (B, T, H, hd) by +angle (sign 1) or -angle (sign -1).
static void rope_rotate(const hl_rope_args *a, double sign) {
    int half = a->hd / 2;
    for (int b = 0; b < a->B; b++)
        for (int t = 0; t < a->T; t++)
            for (int h = 0; h < a->H; h++) {
                size_t off = (((size_t)b * a->T + t) * a->H + h) * a->hd;
                for (int i = 0; i < half; i++) {
                    double inv_freq = pow(a->theta, -2.0 * i / a->hd);
                    double ang = t * inv_freq;
                    double cs = cos(ang), sn = sign * sin(ang);
                    double x1 = a->inp[off + i], x2 = a->inp[off + i + half];
                    a->out[off + i] = (float)(x1 * cs - x2 * sn);
                    a->out[off + i + half] = (float)(x2 * cs + x1 * sn);
                }
            }
}

void hl_ref_rope_fwd(const hl_rope_args *a) { rope_rotate(a, 1.0); }
void hl_ref_rope_bwd(const hl_rope_args *a) { rope_rotate(a, -1.0); }
