// cpu/attention.c: flash-style causal GQA attention with sliding window and
// meta prefix. Never materialises T x T scores: a block of QB queries walks
// only the key tiles it can see (O(T * (W + m)) work and memory with a
// window), keeping a running max / sum per query (online softmax). The forward
// saves lse; the backward recomputes probabilities from it, with
// D_i = rowsum(dout_i * out_i).
//
// Parallelism: forward over (batch, head, query block); backward over
// (batch, kv head), each task owning its dk, dv and the dq of its query-head
// group, so there are no races and results do not depend on scheduling.
#include <math.h>
#include <stdlib.h>
#include "kernels/cpu/cpu.h"

#define QB 32  // queries per block
#define KB 64  // keys per tile

// The key ranges a query block [i0, i1) must visit: meta keys and the
// window (merged when they touch), or everything up to i1 when global.
typedef struct { int start[2], end[2], n; } key_ranges;

static key_ranges visible_keys(int i0, int i1, int window, int n_meta) {
    key_ranges r = {{0, 0}, {0, 0}, 0};
    int lo = window ? i0 - window + 1 : 0;
    if (lo <= n_meta) { r.start[0] = 0; r.end[0] = i1; r.n = 1; return r; }
    int meta_end = n_meta < i1 ? n_meta : i1;
    if (meta_end > 0) { r.start[r.n] = 0; r.end[r.n] = meta_end; r.n++; }
    r.start[r.n] = lo; r.end[r.n] = i1; r.n++;
    return r;
}

// Kt (d, KB) = rows j0..j0+nk of one head of a (B, T, Hkv, d) tensor, transposed.
static void load_transposed(float *Kt, const float *src, size_t row0, int nk, int row_stride, int d) {
    for (int jj = 0; jj < nk; jj++) {
        const float *row = src + (row0 + (size_t)jj * row_stride);
        for (int x = 0; x < d; x++) Kt[x * KB + jj] = row[x];
    }
}

// s (nk) = scaled scores of query qs (hd, already scaled) against Kt, with
// invisible keys set to -INF. Returns the max over the tile.
static float tile_scores(float *s, const float *qs, const float *Kt, int hd, int nk,
                         int i, int j0, int window, int n_meta) {
    for (int jj = 0; jj < KB; jj++) s[jj] = 0.0f;
    for (int x = 0; x < hd; x++) {
        float qx = qs[x];
        const float *kt = Kt + x * KB;
        #pragma omp simd
        for (int jj = 0; jj < KB; jj++) s[jj] += qx * kt[jj];
    }
    float mx = -INFINITY;
    for (int jj = 0; jj < nk; jj++) {
        if (!hl_attn_visible(i, j0 + jj, window, n_meta)) s[jj] = -INFINITY;
        mx = s[jj] > mx ? s[jj] : mx;
    }
    return mx;
}

typedef struct { float *Kt, *s, *p, *qs, *o, *m, *l; } fwd_scratch;

static void attn_fwd_block(const hl_attn_fwd_args *a, int b, int h, int i0, int i1, fwd_scratch *w) {
    int T = a->T, H = a->H, Hkv = a->Hkv, hd = a->hd, vd = a->vd, hk = h / (H / Hkv);
    float scale = 1.0f / sqrtf((float)hd);
    for (int r = 0; r < i1 - i0; r++) { w->m[r] = -INFINITY; w->l[r] = 0.0f; }
    for (int x = 0; x < (i1 - i0) * vd; x++) w->o[x] = 0.0f;
    key_ranges kr = visible_keys(i0, i1, a->window, a->n_meta);
    for (int g = 0; g < kr.n; g++)
        for (int j0 = kr.start[g]; j0 < kr.end[g]; j0 += KB) {
            int nk = kr.end[g] - j0 < KB ? kr.end[g] - j0 : KB;
            size_t krow0 = (((size_t)b * T + j0) * Hkv + hk);
            load_transposed(w->Kt, a->k, krow0 * hd, nk, Hkv * hd, hd);
            for (int i = i0; i < i1; i++) {
                int r = i - i0;
                const float *q = a->q + (((size_t)b * T + i) * H + h) * hd; // (hd)
                for (int x = 0; x < hd; x++) w->qs[x] = q[x] * scale;
                float mt = tile_scores(w->s, w->qs, w->Kt, hd, nk, i, j0, a->window, a->n_meta);
                if (mt == -INFINITY) continue;
                float mnew = mt > w->m[r] ? mt : w->m[r];
                float corr = hl_fast_expf(w->m[r] - mnew), psum = 0.0f;
                float *o = w->o + (size_t)r * vd; // (vd)
                #pragma omp simd reduction(+:psum)
                for (int jj = 0; jj < nk; jj++) { w->p[jj] = hl_fast_expf(w->s[jj] - mnew); psum += w->p[jj]; }
                w->l[r] = w->l[r] * corr + psum;
                w->m[r] = mnew;
                #pragma omp simd
                for (int x = 0; x < vd; x++) o[x] *= corr;
                for (int jj = 0; jj < nk; jj++) {
                    float pj = w->p[jj];
                    if (pj == 0.0f) continue;
                    const float *v = a->v + (krow0 + (size_t)jj * Hkv) * vd; // (vd)
                    #pragma omp simd
                    for (int x = 0; x < vd; x++) o[x] += pj * v[x];
                }
            }
        }
    for (int i = i0; i < i1; i++) {
        int r = i - i0;
        float inv_l = 1.0f / w->l[r];
        float *out = a->out + (((size_t)b * T + i) * H + h) * vd; // (vd)
        for (int x = 0; x < vd; x++) out[x] = w->o[(size_t)r * vd + x] * inv_l;
        a->lse[((size_t)b * H + h) * T + i] = w->m[r] + logf(w->l[r]);
    }
}

void hl_cpu_attn_fwd(const hl_attn_fwd_args *a) {
    int nqb = (a->T + QB - 1) / QB, ntasks = a->B * a->H * nqb;
    #pragma omp parallel
    {
        fwd_scratch w;
        float *mem = hl_cpu_scratch((size_t)a->hd * KB + 2 * KB + a->hd + (size_t)QB * a->vd + 2 * QB);
        w.Kt = mem; w.s = w.Kt + (size_t)a->hd * KB; w.p = w.s + KB; w.qs = w.p + KB;
        w.o = w.qs + a->hd; w.m = w.o + (size_t)QB * a->vd; w.l = w.m + QB;
        #pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < ntasks; task++) {
            int qb = task % nqb, bh = task / nqb;
            int i0 = qb * QB, i1 = i0 + QB < a->T ? i0 + QB : a->T;
            attn_fwd_block(a, bh / a->H, bh % a->H, i0, i1, &w);
        }
        free(mem);
    }
}

typedef struct { float *Kt, *Vt, *s, *dp, *qs, *Drow; } bwd_scratch;

// Backward of one query block of head h against all its visible key tiles;
// adds into dq, dk, dv (zeroed by the caller).
static void attn_bwd_block(const hl_attn_bwd_args *a, int b, int h, int i0, int i1, bwd_scratch *w) {
    int T = a->T, H = a->H, Hkv = a->Hkv, hd = a->hd, vd = a->vd, hk = h / (H / Hkv);
    float scale = 1.0f / sqrtf((float)hd);
    for (int i = i0; i < i1; i++) { // D_i = rowsum(dout_i * out_i)
        size_t off = (((size_t)b * T + i) * H + h) * vd;
        float d = 0.0f;
        #pragma omp simd reduction(+:d)
        for (int x = 0; x < vd; x++) d += a->dout[off + x] * a->out[off + x];
        w->Drow[i - i0] = d;
    }
    key_ranges kr = visible_keys(i0, i1, a->window, a->n_meta);
    for (int g = 0; g < kr.n; g++)
        for (int j0 = kr.start[g]; j0 < kr.end[g]; j0 += KB) {
            int nk = kr.end[g] - j0 < KB ? kr.end[g] - j0 : KB;
            size_t krow0 = (((size_t)b * T + j0) * Hkv + hk);
            load_transposed(w->Kt, a->k, krow0 * hd, nk, Hkv * hd, hd);
            load_transposed(w->Vt, a->v, krow0 * vd, nk, Hkv * vd, vd);
            for (int i = i0; i < i1; i++) {
                size_t qrow = ((size_t)b * T + i) * H + h;
                const float *q = a->q + qrow * hd, *go = a->dout + qrow * vd; // (hd), (vd)
                float *dq = a->dq + qrow * hd;                                // (hd)
                for (int x = 0; x < hd; x++) w->qs[x] = q[x] * scale;
                float mt = tile_scores(w->s, w->qs, w->Kt, hd, nk, i, j0, a->window, a->n_meta);
                if (mt == -INFINITY) continue;
                float lse = a->lse[((size_t)b * H + h) * T + i], Di = w->Drow[i - i0];
                // dp (KB) = dout_i . v_j
                for (int jj = 0; jj < KB; jj++) w->dp[jj] = 0.0f;
                for (int x = 0; x < vd; x++) {
                    float gx = go[x];
                    const float *vt = w->Vt + x * KB;
                    #pragma omp simd
                    for (int jj = 0; jj < KB; jj++) w->dp[jj] += gx * vt[jj];
                }
                // s <- p = exp(s - lse); dp <- ds = p (dp - D_i) * scale
                #pragma omp simd
                for (int jj = 0; jj < KB; jj++) {
                    float p = hl_fast_expf(w->s[jj] - lse);
                    w->s[jj] = p;
                    w->dp[jj] = p * (w->dp[jj] - Di) * scale;
                }
                for (int jj = 0; jj < nk; jj++) {
                    float p = w->s[jj], ds = w->dp[jj];
                    if (p == 0.0f) continue;
                    size_t krow = krow0 + (size_t)jj * Hkv;
                    const float *k = a->k + krow * hd;            // (hd)
                    float *dk = a->dk + krow * hd, *dv = a->dv + krow * vd;
                    #pragma omp simd
                    for (int x = 0; x < hd; x++) { dq[x] += ds * k[x]; dk[x] += ds * q[x]; }
                    #pragma omp simd
                    for (int x = 0; x < vd; x++) dv[x] += p * go[x];
                }
            }
        }
}

// Zeroes rows of one head of a (B, T, nh, d) tensor for batch b.
static void zero_head(float *t, int b, int T, int nh, int head, int d) {
    for (int i = 0; i < T; i++) memset(t + (((size_t)b * T + i) * nh + head) * d, 0, sizeof(float) * d);
}

void hl_cpu_attn_bwd(const hl_attn_bwd_args *a) {
    int T = a->T, H = a->H, Hkv = a->Hkv, group = H / Hkv, ntasks = a->B * Hkv;
    int nqb = (T + QB - 1) / QB;
    #pragma omp parallel
    {
        bwd_scratch w;
        float *mem = hl_cpu_scratch((size_t)(a->hd + a->vd) * KB + 2 * KB + a->hd + QB);
        w.Kt = mem; w.Vt = w.Kt + (size_t)a->hd * KB; w.s = w.Vt + (size_t)a->vd * KB;
        w.dp = w.s + KB; w.qs = w.dp + KB; w.Drow = w.qs + a->hd;
        #pragma omp for schedule(static)
        for (int task = 0; task < ntasks; task++) {
            int b = task / Hkv, hk = task % Hkv;
            zero_head(a->dk, b, T, Hkv, hk, a->hd);
            zero_head(a->dv, b, T, Hkv, hk, a->vd);
            for (int h = hk * group; h < (hk + 1) * group; h++) {
                zero_head(a->dq, b, T, H, h, a->hd);
                for (int qb = 0; qb < nqb; qb++) {
                    int i0 = qb * QB, i1 = i0 + QB < T ? i0 + QB : T;
                    attn_bwd_block(a, b, h, i0, i1, &w);
                }
            }
        }
        free(mem);
    }
}
