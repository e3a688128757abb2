// cpu/moe.c: the mixture-of-experts routing ops (kernels.h, "mixture of
// experts"). Routing as cpu_ref; the grouping a counting sort (one pass to
// count, one to place); moving and summing rows in parallel (OpenMP over
// tokens or assignments, each output row written by one thread, so results
// do not depend on the thread count).
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu/cpu.h"

// Routing is O(n E k) next to the experts' O(n k F d) matmuls: the cpu
// backend runs cpu_ref's (the same numbers, no second copy of the rules).
void hl_cpu_moe_route_fwd(const hl_moe_route_fwd_args *a) { hl_ref_moe_route_fwd(a); }
void hl_cpu_moe_route_bwd(const hl_moe_route_bwd_args *a) { hl_ref_moe_route_bwd(a); }

void hl_cpu_moe_group(const hl_moe_group_args *a) {
    int E = a->E;
    size_t nk = (size_t)a->n * a->k;
    for (int e = 0; e <= E; e++) a->offs[e] = 0;
    for (size_t i = 0; i < nk; i++) a->offs[a->sel[i] + 1]++;
    for (int e = 0; e < E; e++) a->offs[e + 1] += a->offs[e];
    int32_t *fill = malloc(sizeof(int32_t) * ((size_t)E + 1));   // (E) next free row per expert
    memcpy(fill, a->offs, sizeof(int32_t) * E);
    for (size_t i = 0; i < nk; i++) a->rows[i] = fill[a->sel[i]]++;
    free(fill);
}

void hl_cpu_moe_dispatch_fwd(const hl_moe_dispatch_fwd_args *a) {
    size_t C = a->C;
    long nk = (long)a->n * a->k;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < nk; i++)
        memcpy(a->xs + (size_t)a->rows[i] * C, a->inp + (size_t)(i / a->k) * C, sizeof(float) * C);
}

// out[t] = sum_j w[t*k+j] * y[rows[t*k+j]] (w NULL: weights 1), j ascending
// from 0.0f; parallel over tokens.
static void sum_rows(float *out, const float *y, const float *w, const int32_t *rows, int n, int k, size_t C) {
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < n; t++) {
        float *o = out + (size_t)t * C;
        for (size_t c = 0; c < C; c++) o[c] = 0.0f;
        for (int j = 0; j < k; j++) {
            size_t i = (size_t)t * k + j;
            const float *x = y + (size_t)rows[i] * C;
            float wt = w ? w[i] : 1.0f;
            #pragma omp simd
            for (size_t c = 0; c < C; c++) o[c] += wt * x[c];
        }
    }
}

void hl_cpu_moe_dispatch_bwd(const hl_moe_dispatch_bwd_args *a) { sum_rows(a->dinp, a->dxs, NULL, a->rows, a->n, a->k, a->C); }

void hl_cpu_moe_combine_fwd(const hl_moe_combine_fwd_args *a) { sum_rows(a->out, a->y, a->w, a->rows, a->n, a->k, a->C); }

void hl_cpu_moe_combine_bwd(const hl_moe_combine_bwd_args *a) {
    size_t C = a->C;
    long nk = (long)a->n * a->k;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < nk; i++) {
        const float *g = a->dout + (size_t)(i / a->k) * C, *y = a->y + (size_t)a->rows[i] * C;
        float *dy = a->dy + (size_t)a->rows[i] * C, wt = a->w[i];
        double s = 0.0;
        #pragma omp simd reduction(+:s)
        for (size_t c = 0; c < C; c++) { s += (double)g[c] * y[c]; dy[c] = wt * g[c]; }
        a->dw[i] = (float)s;
    }
}
