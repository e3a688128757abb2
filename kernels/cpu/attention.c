// cpu/attention.c: flash-style causal GQA attention with sliding window and
// meta prefix. Never materialises T x T scores: queries are processed in
// blocks of QB against key tiles of KB that the block can see (O(T * (W + m))
// work and memory with a window), keeping a running max and sum per query
// (online softmax). The forward saves lse; the backward recomputes the
// probabilities from it, with D_i = rowsum(dout_i * out_i).
//
// The block products are small register-blocked kernels (4 rows x 64 columns
// of accumulators, GCC vector extensions, so -march picks AVX-512 or AVX2).
// Head dims are zero-padded to multiples of 16 in per-thread scratch.
//
// Parallelism: forward over (batch, head); backward over
// (batch, kv head): each task owns dk, dv and the dq of its query-head group,
// so there are no races and results do not depend on scheduling.
#include <math.h>
#include <stdlib.h>
#include "kernels/cpu/cpu.h"

#define QB 32  // queries per block (multiple of 4)
#define KB 64  // keys per tile (4 vectors of 16)

typedef float v16 __attribute__((vector_size(64)));
static inline v16 ld16(const float *p) { v16 x; memcpy(&x, p, sizeof x); return x; }
static inline void st16(float *p, v16 x) { memcpy(p, &x, sizeof x); }
static inline int round16(int n) { return (n + 15) & ~15; }

// S (R, KB) = A (R, depth; row stride lda) @ Bt (depth, KB). R multiple of 4.
static void tile_dot(float *S, const float *A, int lda, const float *Bt, int depth, int R) {
    for (int r0 = 0; r0 < R; r0 += 4) {
        const float *a0 = A + (size_t)r0 * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        v16 c00 = {0}, c01 = {0}, c02 = {0}, c03 = {0}, c10 = {0}, c11 = {0}, c12 = {0}, c13 = {0};
        v16 c20 = {0}, c21 = {0}, c22 = {0}, c23 = {0}, c30 = {0}, c31 = {0}, c32 = {0}, c33 = {0};
        for (int d = 0; d < depth; d++) {
            const float *b = Bt + (size_t)d * KB;
            v16 b0 = ld16(b), b1 = ld16(b + 16), b2 = ld16(b + 32), b3 = ld16(b + 48);
            float s0 = a0[d], s1 = a1[d], s2 = a2[d], s3 = a3[d];
            c00 += s0 * b0; c01 += s0 * b1; c02 += s0 * b2; c03 += s0 * b3;
            c10 += s1 * b0; c11 += s1 * b1; c12 += s1 * b2; c13 += s1 * b3;
            c20 += s2 * b0; c21 += s2 * b1; c22 += s2 * b2; c23 += s2 * b3;
            c30 += s3 * b0; c31 += s3 * b1; c32 += s3 * b2; c33 += s3 * b3;
        }
        float *s = S + (size_t)r0 * KB;
        st16(s, c00); st16(s + 16, c01); st16(s + 32, c02); st16(s + 48, c03); s += KB;
        st16(s, c10); st16(s + 16, c11); st16(s + 32, c12); st16(s + 48, c13); s += KB;
        st16(s, c20); st16(s + 16, c21); st16(s + 32, c22); st16(s + 48, c23); s += KB;
        st16(s, c30); st16(s + 16, c31); st16(s + 32, c32); st16(s + 48, c33);
    }
}

// C (R, width; stride ldc) += A (R, depth) @ M (depth, width; stride ldm), with
// A(r, d) = A[r * ars + d * ads] (so A may be read transposed).
// R multiple of 4, width multiple of 16.
static void tile_acc(float *C, int ldc, const float *A, int ars, int ads, const float *M, int ldm,
                     int R, int depth, int width) {
    for (int r0 = 0; r0 < R; r0 += 4) {
        const float *a0 = A + (size_t)r0 * ars, *a1 = a0 + ars, *a2 = a1 + ars, *a3 = a2 + ars;
        float *y0 = C + (size_t)r0 * ldc, *y1 = y0 + ldc, *y2 = y1 + ldc, *y3 = y2 + ldc;
        int w0 = 0;
        for (; w0 + 32 <= width; w0 += 32) { // 4 rows x 32 columns
            v16 c00 = ld16(y0 + w0), c01 = ld16(y0 + w0 + 16), c10 = ld16(y1 + w0), c11 = ld16(y1 + w0 + 16);
            v16 c20 = ld16(y2 + w0), c21 = ld16(y2 + w0 + 16), c30 = ld16(y3 + w0), c31 = ld16(y3 + w0 + 16);
            for (int d = 0; d < depth; d++) {
                const float *m = M + (size_t)d * ldm + w0;
                v16 b0 = ld16(m), b1 = ld16(m + 16);
                size_t ad = (size_t)d * ads;
                float s0 = a0[ad], s1 = a1[ad], s2 = a2[ad], s3 = a3[ad];
                c00 += s0 * b0; c01 += s0 * b1; c10 += s1 * b0; c11 += s1 * b1;
                c20 += s2 * b0; c21 += s2 * b1; c30 += s3 * b0; c31 += s3 * b1;
            }
            st16(y0 + w0, c00); st16(y0 + w0 + 16, c01); st16(y1 + w0, c10); st16(y1 + w0 + 16, c11);
            st16(y2 + w0, c20); st16(y2 + w0 + 16, c21); st16(y3 + w0, c30); st16(y3 + w0 + 16, c31);
        }
        for (; w0 < width; w0 += 16) { // 4 rows x 16 columns
            v16 c0 = ld16(y0 + w0), c1 = ld16(y1 + w0), c2 = ld16(y2 + w0), c3 = ld16(y3 + w0);
            for (int d = 0; d < depth; d++) {
                v16 b = ld16(M + (size_t)d * ldm + w0);
                size_t ad = (size_t)d * ads;
                c0 += a0[ad] * b; c1 += a1[ad] * b; c2 += a2[ad] * b; c3 += a3[ad] * b;
            }
            st16(y0 + w0, c0); st16(y1 + w0, c1); st16(y2 + w0, c2); st16(y3 + w0, c3);
        }
    }
}

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

// 1 when every query of [i0, i1) sees every key of [j0, j1).
static int tile_fully_visible(int i0, int i1, int j0, int j1, int window, int n_meta) {
    return j1 - 1 <= i0 && (window == 0 || (i1 - 1) - j0 < window || j1 <= n_meta);
}

// Sets invisible scores of row i (and columns >= nk) to -INF; returns the row max.
// Row i sees keys [lo, i] and the meta keys [0, n_meta). Written here from the
// window definition in kernels.h rather than shared with cpu_ref, so that the
// parity tests compare two independent statements of the rule.
static float mask_row(float *s, int i, int j0, int nk, int full, int window, int n_meta) {
    float mx = -INFINITY;
    int lo = window ? i - window + 1 : 0;
    for (int jj = 0; jj < KB; jj++) {
        int j = j0 + jj;
        if (jj >= nk || (!full && (j > i || (j < lo && j >= n_meta)))) s[jj] = -INFINITY;
        mx = s[jj] > mx ? s[jj] : mx;
    }
    return mx;
}

// Kt (d, KB) = rows j0..j0+nk of one head (row stride rs) transposed, zero beyond nk.
static void load_keys_T(float *Kt, const float *src, int nk, size_t rs, int d) {
    for (int x = 0; x < d; x++)
        for (int jj = nk; jj < KB; jj++) Kt[x * KB + jj] = 0.0f;
    for (int jj = 0; jj < nk; jj++)
        for (int x = 0; x < d; x++) Kt[x * KB + jj] = src[jj * rs + x];
}
// Rows (nrows, dp) = nrows rows of width d (row stride rs), scaled, zero-padded to
// dp columns and to rows_pad rows.
static void load_rows(float *dst, const float *src, int nrows, int rows_pad, size_t rs, int d, int dp, float scale) {
    for (int r = 0; r < rows_pad; r++)
        for (int x = 0; x < dp; x++)
            dst[(size_t)r * dp + x] = r < nrows && x < d ? src[r * rs + x] * scale : 0.0f;
}

// Queries [qlo, qhi) that can see some key of the tile [j0, j0 + nk):
// from the block holding j0 up to the window's reach (all when global or
// when the tile holds meta tokens).
static void tile_query_range(int j0, int nk, int T, int window, int n_meta, int *qlo, int *qhi) {
    *qlo = j0 - j0 % QB;
    *qhi = (window == 0 || j0 < n_meta) ? T : j0 + nk - 1 + window;
    if (*qhi > T) *qhi = T;
}

// Per-thread forward scratch. Qb, O, m, l hold the whole sequence of one head.
typedef struct { float *Kt, *Vs, *S, *Qb, *O, *m, *l; } fwd_scratch;

// Online-softmax update of rows [i0, i1) (R rows padded) with the scores in S
// of the key tile at j0; S becomes the probabilities relative to the new max.
static void softmax_update(const hl_attn_fwd_args *a, int i0, int i1, int R, int j0, int nk,
                           float *S, float *O, int vdp, float *m, float *l) {
    int nq = i1 - i0, full = tile_fully_visible(i0, i1, j0, j0 + nk, a->window, a->n_meta);
    for (int r = 0; r < R; r++) {
        float *s = S + (size_t)r * KB;
        float mt = r < nq ? mask_row(s, i0 + r, j0, nk, full, a->window, a->n_meta) : -INFINITY;
        if (mt == -INFINITY) { memset(s, 0, sizeof(float) * KB); continue; }
        float mnew = mt > m[r] ? mt : m[r], corr = hl_fast_expf(m[r] - mnew), psum = 0.0f;
        #pragma omp simd reduction(+:psum)
        for (int jj = 0; jj < KB; jj++) { s[jj] = hl_fast_expf(s[jj] - mnew); psum += s[jj]; }
        l[r] = l[r] * corr + psum;
        m[r] = mnew;
        float *o = O + (size_t)r * vdp;
        #pragma omp simd
        for (int x = 0; x < vdp; x++) o[x] *= corr;
    }
}

// Forward of head h of batch b: key tiles outer (each loaded and transposed
// once), the query blocks that see a tile inner, state for all T queries.
static void attn_fwd_head(const hl_attn_fwd_args *a, int b, int h, fwd_scratch *w) {
    int T = a->T, H = a->H, Hkv = a->Hkv, hd = a->hd, vd = a->vd, hk = h / (H / Hkv);
    int vdp = round16(vd), Tp = (T + QB - 1) / QB * QB;
    load_rows(w->Qb, a->q + ((size_t)b * T * H + h) * hd, T, Tp, (size_t)H * hd, hd, hd,
              1.0f / sqrtf((float)hd));
    memset(w->O, 0, sizeof(float) * (size_t)Tp * vdp);
    for (int i = 0; i < Tp; i++) { w->m[i] = -INFINITY; w->l[i] = 0.0f; }
    for (int j0 = 0; j0 < T; j0 += KB) {
        int nk = T - j0 < KB ? T - j0 : KB, qlo, qhi;
        size_t krow0 = ((size_t)b * T + j0) * Hkv + hk;
        load_keys_T(w->Kt, a->k + krow0 * hd, nk, (size_t)Hkv * hd, hd);
        load_rows(w->Vs, a->v + krow0 * vd, nk, KB, (size_t)Hkv * vd, vd, vdp, 1.0f);
        tile_query_range(j0, nk, T, a->window, a->n_meta, &qlo, &qhi);
        for (int i0 = qlo; i0 < qhi; i0 += QB) {
            int i1 = i0 + QB < T ? i0 + QB : T, R = (i1 - i0 + 3) & ~3;
            // skip blocks that see nothing of this tile (between meta and window)
            key_ranges kr = visible_keys(i0, i1, a->window, a->n_meta);
            int touches = 0;
            for (int g = 0; g < kr.n; g++) touches |= kr.start[g] < j0 + nk && j0 < kr.end[g];
            if (!touches) continue;
            float *O = w->O + (size_t)i0 * vdp;
            tile_dot(w->S, w->Qb + (size_t)i0 * hd, hd, w->Kt, hd, R);
            softmax_update(a, i0, i1, R, j0, nk, w->S, O, vdp, w->m + i0, w->l + i0);
            tile_acc(O, vdp, w->S, KB, 1, w->Vs, vdp, R, KB, vdp); // O += P @ V
        }
    }
    for (int i = 0; i < T; i++) {
        float inv_l = 1.0f / w->l[i];
        float *out = a->out + (((size_t)b * T + i) * H + h) * vd; // (vd)
        for (int x = 0; x < vd; x++) out[x] = w->O[(size_t)i * vdp + x] * inv_l;
        a->lse[((size_t)b * H + h) * T + i] = w->m[i] + logf(w->l[i]);
    }
}

void hl_cpu_attn_fwd(const hl_attn_fwd_args *a) {
    int ntasks = a->B * a->H, hdp = round16(a->hd), vdp = round16(a->vd);
    size_t Tp = (size_t)(a->T + QB - 1) / QB * QB;
    #pragma omp parallel
    {
        fwd_scratch w;
        float *mem = hl_cpu_scratch(0, (size_t)hdp * KB + (size_t)KB * vdp + (size_t)QB * KB +
                                    Tp * a->hd + Tp * vdp + 2 * Tp);
        w.Kt = mem; w.Vs = w.Kt + (size_t)hdp * KB; w.S = w.Vs + (size_t)KB * vdp;
        w.Qb = w.S + (size_t)QB * KB; w.O = w.Qb + Tp * a->hd; w.m = w.O + Tp * vdp; w.l = w.m + Tp;
        #pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < ntasks; task++) attn_fwd_head(a, task / a->H, task % a->H, &w);
    }
}

typedef struct {
    float *Kt, *Ks, *Vt, *dK, *dV;  // key tile: (hd,KB), (KB,hdp), (vd,KB), (KB,hdp), (KB,vdp)
    float *Qb, *dOb, *P, *dS, *lse, *D;  // query block: (QB,hdp), (QB,vdp), (QB,KB) x2, (QB) x2
    float *dQ;                      // (group, Tp, hdp) dq of the task's heads
} bwd_scratch;

// One (key tile, query block) pair of head h: adds into dQ, dK, dV scratch.
static void attn_bwd_pair(const hl_attn_bwd_args *a, int b, int h, int hq, int i0, int i1,
                          int j0, int nk, int Tp, bwd_scratch *w) {
    int T = a->T, H = a->H, hd = a->hd, vd = a->vd;
    int hdp = round16(hd), vdp = round16(vd), nq = i1 - i0, R = (nq + 3) & ~3;
    float scale = 1.0f / sqrtf((float)hd);
    size_t qrow0 = ((size_t)b * T + i0) * H + h;
    load_rows(w->Qb, a->q + qrow0 * hd, nq, R, (size_t)H * hd, hd, hdp, 1.0f);
    load_rows(w->dOb, a->dout + qrow0 * vd, nq, R, (size_t)H * vd, vd, vdp, 1.0f);
    for (int r = 0; r < nq; r++) {
        const float *o = a->out + (qrow0 + (size_t)r * H) * vd, *go = w->dOb + (size_t)r * vdp;
        float d = 0.0f;
        #pragma omp simd reduction(+:d)
        for (int x = 0; x < vd; x++) d += go[x] * o[x];
        w->D[r] = d;
        w->lse[r] = a->lse[((size_t)b * H + h) * T + i0 + r];
    }
    tile_dot(w->P, w->Qb, hdp, w->Kt, hd, R);   // scores (unscaled)
    tile_dot(w->dS, w->dOb, vdp, w->Vt, vd, R); // dP = dO @ V^T
    int full = tile_fully_visible(i0, i1, j0, j0 + nk, a->window, a->n_meta);
    for (int r = 0; r < R; r++) {
        float *p = w->P + (size_t)r * KB, *ds = w->dS + (size_t)r * KB;
        if (r >= nq) { memset(p, 0, sizeof(float) * KB); memset(ds, 0, sizeof(float) * KB); continue; }
        #pragma omp simd
        for (int jj = 0; jj < KB; jj++) p[jj] *= scale;
        mask_row(p, i0 + r, j0, nk, full, a->window, a->n_meta);
        float lse = w->lse[r], D = w->D[r];
        #pragma omp simd
        for (int jj = 0; jj < KB; jj++) {
            float pj = hl_fast_expf(p[jj] - lse);
            p[jj] = pj;
            ds[jj] = pj * (ds[jj] - D) * scale;
        }
    }
    tile_acc(w->dQ + ((size_t)hq * Tp + i0) * hdp, hdp, w->dS, KB, 1, w->Ks, hdp, R, KB, hdp); // dQ += dS K
    tile_acc(w->dK, hdp, w->dS, 1, KB, w->Qb, hdp, KB, R, hdp);  // dK += dS^T Q
    tile_acc(w->dV, vdp, w->P, 1, KB, w->dOb, vdp, KB, R, vdp);  // dV += P^T dO
}

// Backward of kv head hk of batch b: every key tile against the query blocks
// (of the group's query heads) that can see it.
static void attn_bwd_task(const hl_attn_bwd_args *a, int b, int hk, int Tp, bwd_scratch *w) {
    int T = a->T, H = a->H, Hkv = a->Hkv, hd = a->hd, vd = a->vd, group = H / Hkv;
    int hdp = round16(hd), vdp = round16(vd);
    memset(w->dQ, 0, sizeof(float) * (size_t)group * Tp * hdp);
    for (int j0 = 0; j0 < T; j0 += KB) {
        int nk = T - j0 < KB ? T - j0 : KB;
        size_t krow0 = ((size_t)b * T + j0) * Hkv + hk;
        load_keys_T(w->Kt, a->k + krow0 * hd, nk, (size_t)Hkv * hd, hd);
        load_keys_T(w->Vt, a->v + krow0 * vd, nk, (size_t)Hkv * vd, vd);
        load_rows(w->Ks, a->k + krow0 * hd, nk, KB, (size_t)Hkv * hd, hd, hdp, 1.0f);
        memset(w->dK, 0, sizeof(float) * KB * hdp);
        memset(w->dV, 0, sizeof(float) * KB * vdp);
        int qlo, qhi;
        tile_query_range(j0, nk, T, a->window, a->n_meta, &qlo, &qhi);
        for (int hq = 0; hq < group; hq++)
            for (int i0 = qlo; i0 < qhi; i0 += QB) {
                int i1 = i0 + QB < T ? i0 + QB : T;
                attn_bwd_pair(a, b, hk * group + hq, hq, i0, i1, j0, nk, Tp, w);
            }
        for (int jj = 0; jj < nk; jj++) {
            memcpy(a->dk + (krow0 + (size_t)jj * Hkv) * hd, w->dK + (size_t)jj * hdp, sizeof(float) * hd);
            memcpy(a->dv + (krow0 + (size_t)jj * Hkv) * vd, w->dV + (size_t)jj * vdp, sizeof(float) * vd);
        }
    }
    for (int hq = 0; hq < group; hq++)
        for (int i = 0; i < T; i++)
            memcpy(a->dq + (((size_t)b * T + i) * H + hk * group + hq) * hd,
                   w->dQ + ((size_t)hq * Tp + i) * hdp, sizeof(float) * hd);
}

void hl_cpu_attn_bwd(const hl_attn_bwd_args *a) {
    int hdp = round16(a->hd), vdp = round16(a->vd), group = a->H / a->Hkv;
    int Tp = (a->T + QB - 1) / QB * QB, ntasks = a->B * a->Hkv;
    #pragma omp parallel
    {
        bwd_scratch w;
        size_t sizes[] = {(size_t)hdp * KB, (size_t)KB * hdp, (size_t)vdp * KB, (size_t)KB * hdp,
                          (size_t)KB * vdp, (size_t)QB * hdp, (size_t)QB * vdp, (size_t)QB * KB,
                          (size_t)QB * KB, QB, QB,
                          (size_t)group * Tp * hdp};
        float **ptrs[] = {&w.Kt, &w.Ks, &w.Vt, &w.dK, &w.dV, &w.Qb, &w.dOb, &w.P, &w.dS,
                          &w.lse, &w.D, &w.dQ};
        size_t total = 0;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
        float *mem = hl_cpu_scratch(0, total), *p = mem;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) { *ptrs[i] = p; p += sizes[i]; }
        #pragma omp for schedule(static)
        for (int task = 0; task < ntasks; task++) attn_bwd_task(a, task / a->Hkv, task % a->Hkv, Tp, &w);
    }
}
