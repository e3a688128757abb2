// cpu/conba.c: the Conba scan (kernels.h "Conba scan") in float with
// OpenMP, on blocks of CB consecutive channels of one row: every per-channel
// quantity is a (CB) array and the loops over the block's channels are the
// innermost (contiguous, `omp simd`), so the serial recurrence over t runs
// CB channels at once. Forward, state and step: one task per (row, block).
// Backward: one task per block (its parameter gradients then have one
// writer), rows in turn; it recomputes the block's trajectory, keeping the
// states, decays exp(delta A), tanh(e), delta and its derivative, so the
// reverse walk computes no exponential, and adds dBm, dCm into per-thread
// partials summed in thread order (deterministic for a given thread count).
#include <math.h>
#include <omp.h>
#include <string.h>
#include "kernels/cpu/cpu.h"

#define CB 16   // channels per block

// tanh in float without libm: odd series below 0.05 in magnitude
// (truncation < 4e-11), else (1 - e) / (1 + e) with e = exp(-2|x|)
// (hl_fast_expf, ~1 ulp). Branch-free, so the block loops vectorise.
#pragma omp declare simd
static inline float fast_tanh(float x) {
    float ax = fabsf(x), x2 = x * x;
    float e = hl_fast_expf(-2.0f * ax), t = (1.0f - e) / (1.0f + e);
    float series = ax * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f)));
    float m = ax < 0.05f ? series : t;
    return x < 0 ? -m : m;
}

// softplus without libm (log1pf was a seventh of a training step):
// max(x, 0) + log1p(z), z = exp(-|x|) in (0, 1], log1p(z) = 2 atanh(q) with
// q = z / (2 + z) <= 1/3, its odd series to q^15 (truncation < 3e-9
// relative); x itself above 20 as hl_softplus. Branch-free.
#pragma omp declare simd
static inline float fast_softplus(float x) {
    float z = hl_fast_expf(-fabsf(x)), q = z / (2.0f + z), q2 = q * q;
    float p = 1.0f / 15.0f;
    p = p * q2 + 1.0f / 13.0f; p = p * q2 + 1.0f / 11.0f; p = p * q2 + 1.0f / 9.0f;
    p = p * q2 + 1.0f / 7.0f; p = p * q2 + 1.0f / 5.0f; p = p * q2 + 1.0f / 3.0f;
    p = p * q2 + 1.0f;
    float sp = (x > 0.0f ? x : 0.0f) + 2.0f * q * p;
    return x > 20.0f ? x : sp;
}

// One block: channels c0 .. c0 + cw - 1 (cw <= CB) and the per-channel
// constants, padded lanes zero-filled (they compute harmless zeros).
typedef struct {
    int c0, cw, N;
    float dtb[CB], sb[CB], D[CB], lam[CB], rho[CB], gam[CB];
} blk_consts;

// The per-channel constants of channels c0 .. c0 + cw - 1, and A (N, CB)
// into Av (padded lanes -1).
static void blk_load(blk_consts *q, float *Av, int c0, int cw, int N, const float *dt_bias, const float *s_bias,
                     const float *D, const float *delay, const float *gain_decay, const float *control,
                     const float *A_log) {
    q->c0 = c0; q->cw = cw; q->N = N;
    for (int i = 0; i < CB; i++) {
        int in = i < cw, c = c0 + i;
        q->dtb[i] = in ? dt_bias[c] : 0.0f;
        q->sb[i] = in ? s_bias[c] : 0.0f;
        q->D[i] = in ? D[c] : 0.0f;
        q->lam[i] = in ? hl_fast_sigmoid(delay[c]) : 0.0f;
        q->rho[i] = in ? hl_fast_sigmoid(gain_decay[c]) : 0.0f;
        q->gam[i] = in ? control[c] : 0.0f;
        for (int n = 0; n < N; n++) Av[(size_t)n * CB + i] = in ? -expf(A_log[(size_t)c * N + n]) : -1.0f;
    }
}

// Gathers the block's channels of one (., C) row at p (zeros past cw).
static inline void gather(float *dst, const float *p, int cw) {
    for (int i = 0; i < CB; i++) dst[i] = i < cw ? p[i] : 0.0f;
}

// Advances the block's state by one position. In: u, dt, s, r (CB) of this
// position, Bt, Ct (N) its B and C rows. State: h1 = h_{t-1}, h2 = h_{t-2}
// (N, CB), k, e (CB). Out: y (CB). Scratch: the (CB) arrays of w (4 CB).
static void blk_advance(const blk_consts *q, const float *Av, const float *u, const float *dt, const float *s,
                        const float *r, const float *Bt, const float *Ct, float *h1, float *h2, float *k, float *e,
                        float *y, float *w) {
    float *delta = w, *w1 = w + CB, *w2 = w + 2 * CB, *dv = w + 3 * CB;
    #pragma omp simd
    for (int i = 0; i < CB; i++) {
        delta[i] = fast_softplus(dt[i] + q->dtb[i]);
        float sig = hl_fast_sigmoid(s[i] + q->sb[i]);
        float v = u[i] + q->gam[i] * k[i] * fast_tanh(e[i]);
        w1[i] = sig * (1.0f - q->lam[i]);
        w2[i] = sig * q->lam[i];
        dv[i] = delta[i] * v;
        y[i] = q->D[i] * v;
    }
    for (int n = 0; n < q->N; n++) {
        float *a1 = h1 + (size_t)n * CB, *a2 = h2 + (size_t)n * CB;
        const float *An = Av + (size_t)n * CB;
        float bn = Bt[n], cn = Ct[n];
        #pragma omp simd
        for (int i = 0; i < CB; i++) {
            float h = hl_fast_expf(delta[i] * An[i]) * (w1[i] * a1[i] + w2[i] * a2[i]) + dv[i] * bn;
            a2[i] = a1[i];
            a1[i] = h;
            y[i] += cn * h;
        }
    }
    #pragma omp simd
    for (int i = 0; i < CB; i++) {
        float err = r[i] - y[i];
        e[i] = err;
        k[i] = q->rho[i] * k[i] + (1.0f - q->rho[i]) * err * err / (1.0f + err * err);
    }
}

// Runs positions [0, len) of row b (rows of T positions; T = 1 for a step)
// through blk_advance from the state st (2N + 2) x CB laid out h1 (N, CB),
// h2 (N, CB), k (CB), e (CB); writes y when y_out is non-NULL.
static void blk_run(const blk_consts *q, const float *Av, const float *u, const float *dt, const float *s,
                    const float *r, const float *Bm, const float *Cm, int b, int T, int C, int len, float *st,
                    float *y_out, float *w) {
    int N = q->N, cw = q->cw;
    float *h1 = st, *h2 = st + (size_t)N * CB, *k = h2 + (size_t)N * CB, *e = k + CB;
    float *in = w + 4 * CB, *y = in + 4 * CB;   // u, dt, s, r (CB each); y (CB)
    for (int t = 0; t < len; t++) {
        size_t bt = (size_t)b * T + t, row = bt * C + q->c0;
        gather(in, u + row, cw); gather(in + CB, dt + row, cw);
        gather(in + 2 * CB, s + row, cw); gather(in + 3 * CB, r + row, cw);
        blk_advance(q, Av, in, in + CB, in + 2 * CB, in + 3 * CB, Bm + bt * N, Cm + bt * N, h1, h2, k, e, y, w);
        if (y_out) for (int i = 0; i < cw; i++) y_out[row + i] = y[i];
    }
}

// Floats of blk_run's per-thread memory: A (N, CB), state (2N + 2, CB), w (9 CB).
static size_t run_floats(int N) { return (size_t)N * CB + (2 * (size_t)N + 2) * CB + 9 * CB; }

void hl_cpu_conba_fwd(const hl_conba_fwd_args *a) {
    int T = a->T, C = a->C, N = a->N, nblk = (C + CB - 1) / CB;
    #pragma omp parallel
    {
        float *mem = hl_cpu_scratch_raw(0, run_floats(N));
        float *Av = mem, *st = Av + (size_t)N * CB, *w = st + (2 * (size_t)N + 2) * CB;
        blk_consts q;
        #pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < a->B; b++)
            for (int blk = 0; blk < nblk; blk++) {
                int c0 = blk * CB, cw = C - c0 < CB ? C - c0 : CB;
                blk_load(&q, Av, c0, cw, N, a->dt_bias, a->s_bias, a->D, a->delay, a->gain_decay, a->control, a->A_log);
                memset(st, 0, sizeof(float) * (2 * (size_t)N + 2) * CB);
                blk_run(&q, Av, a->u, a->dt, a->s, a->r, a->Bm, a->Cm, b, T, C, T, st, a->y, w);
            }
    }
}

// The state of channel c (2N + 2 floats: h1 (N), h2 (N), k, e) to or from
// lane i of a block state (2N + 2, CB).
static void lane_to_state(float *dst, const float *st, int i, int N) {
    for (int j = 0; j < 2 * N + 2; j++) dst[j] = st[(size_t)j * CB + i];
}
static void state_to_lane(float *st, const float *src, int i, int N) {
    for (int j = 0; j < 2 * N + 2; j++) st[(size_t)j * CB + i] = src[j];
}

// The scan of T positions (rows b stop at lens[b], or all T with lens NULL)
// from the state in st_io (load) or from zero, writing the state after it to
// st_io (B, C, 2N + 2) and, with y, the outputs: conba_state and conba_step.
// a holds the sequence and channel inputs as conba_state's fields.
static void run_from_state(const hl_conba_state_args *a, int T, int load, float *y, float *st_io) {
    int C = a->C, N = a->N, nblk = (C + CB - 1) / CB;
    size_t S = 2 * (size_t)N + 2;
    #pragma omp parallel
    {
        float *mem = hl_cpu_scratch_raw(0, run_floats(N));
        float *Av = mem, *st = Av + (size_t)N * CB, *w = st + S * CB;
        blk_consts q;
        #pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < a->B; b++)
            for (int blk = 0; blk < nblk; blk++) {
                int c0 = blk * CB, cw = C - c0 < CB ? C - c0 : CB;
                blk_load(&q, Av, c0, cw, N, a->dt_bias, a->s_bias, a->D, a->delay, a->gain_decay, a->control, a->A_log);
                memset(st, 0, sizeof(float) * S * CB);
                for (int i = 0; load && i < cw; i++) state_to_lane(st, st_io + ((size_t)b * C + c0 + i) * S, i, N);
                blk_run(&q, Av, a->u, a->dt, a->s, a->r, a->Bm, a->Cm, b, T, C, a->lens ? a->lens[b] : T, st, y, w);
                for (int i = 0; i < cw; i++) lane_to_state(st_io + ((size_t)b * C + c0 + i) * S, st, i, N);
            }
    }
}

void hl_cpu_conba_state(const hl_conba_state_args *a) { run_from_state(a, a->T, 0, NULL, a->st); }

void hl_cpu_conba_step(const hl_conba_step_args *a) {
    hl_conba_state_args s = { .u = a->u, .dt = a->dt, .s = a->s, .r = a->r, .Bm = a->Bm, .Cm = a->Cm,
                              .dt_bias = a->dt_bias, .s_bias = a->s_bias, .D = a->D, .delay = a->delay,
                              .gain_decay = a->gain_decay, .control = a->control, .A_log = a->A_log,
                              .lens = NULL, .B = a->B, .T = 1, .C = a->C, .N = a->N };
    run_from_state(&s, 1, 1, a->y, a->st);
}

// The backward's per-thread memory for rows of T positions: hs (T + 2, N,
// CB) states (row t + 2 is h_t), dec (T, N, CB) decays, then (T + 1, CB)
// arrays k, e, tanh(e) (entry t + 1 is position t's, entry 0 the zeros of
// t = -1), delta, d delta / d dt, sig, v; the adjoints gh (3, N, CB); and
// (CB) accumulators and temporaries (16 of them).
typedef struct { float *hs, *dec, *ks, *es, *ths, *dl, *dlg, *sg, *vs, *gh, *acc; } bwd_mem;

static size_t bwd_carve(float *base, int T, int N, bwd_mem *m) {
    size_t off = 0, tn = (size_t)N * CB, t1 = ((size_t)T + 1) * CB;
#define TAKE(f, n) do { if (m) m->f = base + off; off += (n); } while (0)
    TAKE(hs, ((size_t)T + 2) * tn); TAKE(dec, (size_t)T * tn);
    TAKE(ks, t1); TAKE(es, t1); TAKE(ths, t1); TAKE(dl, t1); TAKE(dlg, t1); TAKE(sg, t1); TAKE(vs, t1);
    TAKE(gh, 3 * tn); TAKE(acc, 16 * CB);
#undef TAKE
    return off;
}

// Row b of one block backwards (q, Av loaded); dB, dC: this thread's (T, N)
// partials of row b; the block's parameter gradients accumulate in the
// lanes of m->acc (rows 0..5: dD, ddt_bias, ds_bias, dlam, drho, dgam) and
// dAl (N, CB) (d/dA_log before the factor A).
static void bwd_block_row(const hl_conba_bwd_args *a, const blk_consts *q, const float *Av, int b, const bwd_mem *m,
                          float *dAl, float *dB, float *dC) {
    int T = a->T, C = a->C, N = a->N, cw = q->cw, c0 = q->c0;
    size_t tn = (size_t)N * CB;
    float *tmp = m->acc + 6 * CB;   // (CB) x 10: inputs and per-position scratch
    float *u = tmp, *dt = tmp + CB, *s = tmp + 2 * CB, *r = tmp + 3 * CB;
    memset(m->hs, 0, sizeof(float) * 2 * tn);
    memset(m->ks, 0, sizeof(float) * CB); memset(m->es, 0, sizeof(float) * CB); memset(m->ths, 0, sizeof(float) * CB);
    for (int t = 0; t < T; t++) {   // the trajectory, as blk_advance computes it
        size_t bt = (size_t)b * T + t, row = bt * C + c0;
        gather(u, a->u + row, cw); gather(dt, a->dt + row, cw); gather(s, a->s + row, cw); gather(r, a->r + row, cw);
        float *dl = m->dl + (size_t)t * CB, *dlg = m->dlg + (size_t)t * CB, *sg = m->sg + (size_t)t * CB;
        float *vs = m->vs + (size_t)t * CB, *y = tmp + 4 * CB;
        const float *kp = m->ks + (size_t)t * CB, *tp = m->ths + (size_t)t * CB;
        #pragma omp simd
        for (int i = 0; i < CB; i++) {
            float x = dt[i] + q->dtb[i];
            dl[i] = fast_softplus(x);
            dlg[i] = x > 20.0f ? 1.0f : hl_fast_sigmoid(x);   // d softplus / dx, as hl_softplus_grad
            sg[i] = hl_fast_sigmoid(s[i] + q->sb[i]);
            vs[i] = u[i] + q->gam[i] * kp[i] * tp[i];
            y[i] = q->D[i] * vs[i];
        }
        const float *Bt = a->Bm + bt * N, *Ct = a->Cm + bt * N;
        for (int n = 0; n < N; n++) {
            const float *h1 = m->hs + (size_t)(t + 1) * tn + (size_t)n * CB, *h2 = m->hs + (size_t)t * tn + (size_t)n * CB;
            float *h = m->hs + (size_t)(t + 2) * tn + (size_t)n * CB, *at = m->dec + (size_t)t * tn + (size_t)n * CB;
            const float *An = Av + (size_t)n * CB;
            float bn = Bt[n], cn = Ct[n];
            #pragma omp simd
            for (int i = 0; i < CB; i++) {
                at[i] = hl_fast_expf(dl[i] * An[i]);
                h[i] = sg[i] * at[i] * ((1.0f - q->lam[i]) * h1[i] + q->lam[i] * h2[i]) + dl[i] * vs[i] * bn;
                y[i] += cn * h[i];
            }
        }
        float *kn = m->ks + (size_t)(t + 1) * CB, *en = m->es + (size_t)(t + 1) * CB, *tn1 = m->ths + (size_t)(t + 1) * CB;
        #pragma omp simd
        for (int i = 0; i < CB; i++) {
            float err = r[i] - y[i];
            en[i] = err;
            tn1[i] = fast_tanh(err);
            kn[i] = q->rho[i] * kp[i] + (1.0f - q->rho[i]) * err * err / (1.0f + err * err);
        }
    }
    float *gh0 = m->gh, *gh1 = gh0 + tn, *gh2 = gh1 + tn;   // adjoints of h_t, h_{t+1}, h_{t+2}
    memset(m->gh, 0, sizeof(float) * 3 * tn);
    float *gk1 = tmp + 4 * CB, *gv1 = tmp + 5 * CB, *gy = tmp + 6 * CB, *gv = tmp + 7 * CB, *ddel = tmp + 8 * CB,
          *dsig = tmp + 9 * CB;
    float *dD = m->acc, *ddtb = m->acc + CB, *dsb = m->acc + 2 * CB, *dlam = m->acc + 3 * CB, *drho = m->acc + 4 * CB,
          *dgam = m->acc + 5 * CB;
    memset(gk1, 0, sizeof(float) * CB); memset(gv1, 0, sizeof(float) * CB);
    float c1[CB], c2[CB], ge[CB];
    for (int t = T - 1; t >= 0; t--) {
        size_t bt = (size_t)b * T + t, row = bt * C + c0;
        const float *et = m->es + (size_t)(t + 1) * CB, *kt = m->ks + (size_t)(t + 1) * CB, *tau = m->ths + (size_t)(t + 1) * CB;
        const float *kp = m->ks + (size_t)t * CB, *tp = m->ths + (size_t)t * CB;
        const float *dl = m->dl + (size_t)t * CB, *sg = m->sg + (size_t)t * CB, *vs = m->vs + (size_t)t * CB;
        gather(gy, a->dy + row, cw);
        #pragma omp simd
        for (int i = 0; i < CB; i++) {
            float den = 1.0f + et[i] * et[i];
            float gk = q->rho[i] * gk1[i] + gv1[i] * q->gam[i] * tau[i];
            ge[i] = gk * (1.0f - q->rho[i]) * 2.0f * et[i] / (den * den) + gv1[i] * q->gam[i] * kt[i] * (1.0f - tau[i] * tau[i]);
            gy[i] -= ge[i];
            gv[i] = gy[i] * q->D[i];
            drho[i] += gk * (kp[i] - et[i] * et[i] / den);
            gk1[i] = gk;
            c1[i] = t + 1 < T ? m->sg[(size_t)(t + 1) * CB + i] * (1.0f - q->lam[i]) : 0.0f;
            c2[i] = t + 2 < T ? m->sg[(size_t)(t + 2) * CB + i] * q->lam[i] : 0.0f;
            ddel[i] = 0.0f;
            dsig[i] = 0.0f;
        }
        const float *Bt = a->Bm + bt * N, *Ct = a->Cm + bt * N;
        for (int n = 0; n < N; n++) {
            size_t nb = (size_t)n * CB;
            const float *h = m->hs + (size_t)(t + 2) * tn + nb, *hp1 = m->hs + (size_t)(t + 1) * tn + nb;
            const float *hp2 = m->hs + (size_t)t * tn + nb, *at = m->dec + (size_t)t * tn + nb, *An = Av + nb;
            const float *a1 = m->dec + (size_t)(t + 1 < T ? t + 1 : t) * tn + nb;
            const float *a2 = m->dec + (size_t)(t + 2 < T ? t + 2 : t) * tn + nb;
            float *g0 = gh0 + nb, *g1 = gh1 + nb, *g2 = gh2 + nb, *dA = dAl + nb;
            float bn = Bt[n], cn = Ct[n], sc = 0.0f, sb = 0.0f;
            #pragma omp simd reduction(+ : sc, sb)
            for (int i = 0; i < CB; i++) {
                float g = gy[i] * cn + g1[i] * c1[i] * a1[i] + g2[i] * c2[i] * a2[i];
                g0[i] = g;
                float mix = (1.0f - q->lam[i]) * hp1[i] + q->lam[i] * hp2[i], gam_ = g * at[i] * mix;
                gv[i] += g * dl[i] * bn;
                sc += gy[i] * h[i];
                sb += g * dl[i] * vs[i];
                dsig[i] += gam_;
                ddel[i] += gam_ * sg[i] * An[i] + g * bn * vs[i];
                dA[i] += gam_ * sg[i] * dl[i];
                dlam[i] += g * sg[i] * at[i] * (hp2[i] - hp1[i]);
            }
            dC[(size_t)t * N + n] += sc;
            dB[(size_t)t * N + n] += sb;
        }
        const float *dlg = m->dlg + (size_t)t * CB;
        float ddt[CB], ds[CB];
        #pragma omp simd
        for (int i = 0; i < CB; i++) {
            ddt[i] = ddel[i] * dlg[i];
            ds[i] = dsig[i] * sg[i] * (1.0f - sg[i]);
            ddtb[i] += ddt[i];
            dsb[i] += ds[i];
            dD[i] += gy[i] * vs[i];
            dgam[i] += gv[i] * kp[i] * tp[i];
            gv1[i] = gv[i];
        }
        for (int i = 0; i < cw; i++) {
            a->du[row + i] = gv[i];
            a->dr[row + i] = ge[i];
            a->ddt[row + i] = ddt[i];
            a->ds[row + i] = ds[i];
        }
        float *rot = gh2; gh2 = gh1; gh1 = gh0; gh0 = rot;
    }
}

void hl_cpu_conba_bwd(const hl_conba_bwd_args *a) {
    int B = a->B, T = a->T, C = a->C, N = a->N, nblk = (C + CB - 1) / CB;
    int nthreads = omp_get_max_threads();
    size_t btn = (size_t)B * T * N;
    float *parts = hl_cpu_scratch(0, 2 * btn * nthreads + 1);   // per thread: dBm, dCm (B, T, N)
    #pragma omp parallel num_threads(nthreads)
    {
        int tid = omp_get_thread_num();
        size_t mn = bwd_carve(NULL, T, N, NULL);
        float *mem = hl_cpu_scratch_raw(1, mn + 2 * (size_t)N * CB + 1);
        bwd_mem m;
        bwd_carve(mem, T, N, &m);
        float *Av = mem + mn, *dAl = Av + (size_t)N * CB;
        float *dB = parts + 2 * btn * tid, *dC = dB + btn;
        blk_consts q;
        #pragma omp for schedule(static)
        for (int blk = 0; blk < nblk; blk++) {
            int c0 = blk * CB, cw = C - c0 < CB ? C - c0 : CB;
            blk_load(&q, Av, c0, cw, N, a->dt_bias, a->s_bias, a->D, a->delay, a->gain_decay, a->control, a->A_log);
            memset(m.acc, 0, sizeof(float) * 6 * CB);
            memset(dAl, 0, sizeof(float) * (size_t)N * CB);
            for (int b = 0; b < B; b++)
                bwd_block_row(a, &q, Av, b, &m, dAl, dB + (size_t)b * T * N, dC + (size_t)b * T * N);
            for (int i = 0; i < cw; i++) {
                int c = c0 + i;
                float lam = q.lam[i], rho = q.rho[i];
                a->dD[c] += m.acc[i];
                a->ddt_bias[c] += m.acc[CB + i];
                a->ds_bias[c] += m.acc[2 * CB + i];
                a->ddelay[c] += m.acc[3 * CB + i] * lam * (1.0f - lam);
                a->dgain_decay[c] += m.acc[4 * CB + i] * rho * (1.0f - rho);
                a->dcontrol[c] += m.acc[5 * CB + i];
                for (int n = 0; n < N; n++) a->dA_log[(size_t)c * N + n] += dAl[(size_t)n * CB + i] * Av[(size_t)n * CB + i];
            }
        }
    }
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < btn; i++) {
        float sb = 0.0f, sc = 0.0f;
        for (int th = 0; th < nthreads; th++) { sb += parts[2 * btn * th + i]; sc += parts[2 * btn * th + btn + i]; }
        a->dBm[i] = sb;
        a->dCm[i] = sc;
    }
}
