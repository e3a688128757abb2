// cpu/conba.c: the Conba scan (kernels.h "Conba scan") in float with
// OpenMP. Forward, state and step: one task per (row, channel), the state
// in registers and a per-thread buffer. Backward: one task per channel (its
// parameter gradients then have one writer); each task recomputes the
// channel's trajectory per row, keeping the decays exp(delta A) (T, N) so
// the reverse walk computes no exponential of the state, and adds dBm, dCm
// into per-thread partials summed in thread order (deterministic for a
// given thread count).
#include <math.h>
#include <omp.h>
#include <string.h>
#include "kernels/cpu/cpu.h"

// tanh in float without libm (tanhf and its expm1f were a fifth of a
// training step): odd series below 0.05 in magnitude (truncation < 4e-11),
// else (1 - e) / (1 + e) with e = exp(-2|x|) (hl_fast_expf, ~1 ulp).
static inline float fast_tanh(float x) {
    float ax = fabsf(x);
    if (ax < 0.05f) {
        float x2 = x * x;
        return x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f)));
    }
    float e = hl_fast_expf(-2.0f * ax), t = (1.0f - e) / (1.0f + e);
    return x < 0 ? -t : t;
}

// The per-channel constants of the recurrence.
typedef struct { float dtb, sb, D, lam, rho, gam; } cparams;

static cparams params_of(const float *dt_bias, const float *s_bias, const float *D, const float *delay,
                         const float *gain_decay, const float *control, int c) {
    cparams p = {dt_bias[c], s_bias[c], D[c], hl_fast_sigmoid(delay[c]), hl_fast_sigmoid(gain_decay[c]),
                 control[c]};
    return p;
}

// Advances the state (h1 = h_{t-1}, h2 = h_{t-2} (N), *k, *e) by one
// position with inputs u, dt, s, r (this channel's) and Bm, Cm (N); A (N)
// holds -exp(A_log[c, :]). Returns y.
static float advance(const cparams *p, const float *A, int N, float u, float dt, float s, float r,
                     const float *Bm, const float *Cm, float *h1, float *h2, float *k, float *e) {
    float delta = hl_softplus(dt + p->dtb), sig = hl_fast_sigmoid(s + p->sb);
    float v = u + p->gam * *k * fast_tanh(*e), dv = delta * v, y = p->D * v;
    float w1 = sig * (1.0f - p->lam), w2 = sig * p->lam;
    for (int n = 0; n < N; n++) {
        float a = hl_fast_expf(delta * A[n]);
        float h = a * (w1 * h1[n] + w2 * h2[n]) + dv * Bm[n];
        h2[n] = h1[n];
        h1[n] = h;
        y += Cm[n] * h;
    }
    float err = r - y;
    *e = err;
    *k = p->rho * *k + (1.0f - p->rho) * err * err / (1.0f + err * err);
    return y;
}

// A (N) of channel c into buf.
static float *load_negexp(float *buf, const float *A_log, int c, int N) {
    for (int n = 0; n < N; n++) buf[n] = -expf(A_log[(size_t)c * N + n]);
    return buf;
}

void hl_cpu_conba_fwd(const hl_conba_fwd_args *a) {
    int T = a->T, C = a->C, N = a->N;
    #pragma omp parallel
    {
        float *buf = hl_cpu_scratch_raw(0, 3 * (size_t)N + 1);   // A, h1, h2
        #pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < a->B; b++)
            for (int c = 0; c < C; c++) {
                cparams p = params_of(a->dt_bias, a->s_bias, a->D, a->delay, a->gain_decay, a->control, c);
                float *A = load_negexp(buf, a->A_log, c, N), *h1 = buf + N, *h2 = buf + 2 * N;
                memset(h1, 0, sizeof(float) * 2 * N);
                float k = 0.0f, e = 0.0f;
                for (int t = 0; t < T; t++) {
                    size_t bt = (size_t)b * T + t, i = bt * C + c;
                    a->y[i] = advance(&p, A, N, a->u[i], a->dt[i], a->s[i], a->r[i], a->Bm + bt * N, a->Cm + bt * N,
                                      h1, h2, &k, &e);
                }
            }
    }
}

void hl_cpu_conba_state(const hl_conba_state_args *a) {
    int T = a->T, C = a->C, N = a->N;
    size_t S = 2 * (size_t)N + 2;
    #pragma omp parallel
    {
        float *buf = hl_cpu_scratch_raw(0, (size_t)N + 1);
        #pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < a->B; b++)
            for (int c = 0; c < C; c++) {
                float *st = a->st + ((size_t)b * C + c) * S;
                memset(st, 0, sizeof(float) * S);
                if (a->lens[b] == 0) continue;
                cparams p = params_of(a->dt_bias, a->s_bias, a->D, a->delay, a->gain_decay, a->control, c);
                float *A = load_negexp(buf, a->A_log, c, N);
                for (int t = 0; t < a->lens[b]; t++) {
                    size_t bt = (size_t)b * T + t, i = bt * C + c;
                    advance(&p, A, N, a->u[i], a->dt[i], a->s[i], a->r[i], a->Bm + bt * N, a->Cm + bt * N,
                            st, st + N, &st[2 * N], &st[2 * N + 1]);
                }
            }
    }
}

void hl_cpu_conba_step(const hl_conba_step_args *a) {
    int C = a->C, N = a->N;
    size_t S = 2 * (size_t)N + 2;
    #pragma omp parallel
    {
        float *buf = hl_cpu_scratch_raw(0, (size_t)N + 1);
        #pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < a->B; b++)
            for (int c = 0; c < C; c++) {
                float *st = a->st + ((size_t)b * C + c) * S;
                cparams p = params_of(a->dt_bias, a->s_bias, a->D, a->delay, a->gain_decay, a->control, c);
                size_t i = (size_t)b * C + c;
                a->y[i] = advance(&p, load_negexp(buf, a->A_log, c, N), N, a->u[i], a->dt[i], a->s[i], a->r[i],
                                  a->Bm + (size_t)b * N, a->Cm + (size_t)b * N, st, st + N, &st[2 * N], &st[2 * N + 1]);
            }
    }
}

// One channel c of row b backwards. w: (T + 2) * N states (row t + 2 is
// h_t), T * N decays, then 7 * (T + 1) floats (k, e, tanh(e) with the t = -1
// entry first; delta, its derivative d delta / d dt, sig, v); A (N), g (3N)
// adjoints. dB, dC: this thread's (T, N) partials of row b.
static void bwd_channel(const hl_conba_bwd_args *a, int b, int c, const float *A, float *w, float *g,
                        float *dB, float *dC) {
    int T = a->T, C = a->C, N = a->N;
    cparams p = params_of(a->dt_bias, a->s_bias, a->D, a->delay, a->gain_decay, a->control, c);
    float *hs = w, *dec = hs + (size_t)(T + 2) * N, *ks = dec + (size_t)T * N, *es = ks + T + 1;
    float *ths = es + T + 1, *dl = ths + T + 1, *dlg = dl + T + 1, *sg = dlg + T + 1, *vs = sg + T + 1;
    memset(hs, 0, sizeof(float) * 2 * N);
    ks[0] = es[0] = ths[0] = 0.0f;
    for (int t = 0; t < T; t++) {   // the trajectory, as advance() computes it
        size_t bt = (size_t)b * T + t, i = bt * C + c;
        float delta = hl_softplus(a->dt[i] + p.dtb), sig = hl_fast_sigmoid(a->s[i] + p.sb);
        float v = a->u[i] + p.gam * ks[t] * ths[t], y = p.D * v;
        const float *h1 = hs + (size_t)(t + 1) * N, *h2 = hs + (size_t)t * N;
        float *h = hs + (size_t)(t + 2) * N, *at = dec + (size_t)t * N;
        for (int n = 0; n < N; n++) {
            at[n] = hl_fast_expf(delta * A[n]);
            h[n] = sig * at[n] * ((1.0f - p.lam) * h1[n] + p.lam * h2[n]) + delta * v * a->Bm[bt * N + n];
            y += a->Cm[bt * N + n] * h[n];
        }
        float err = a->r[i] - y;
        es[t + 1] = err;
        ths[t + 1] = fast_tanh(err);
        ks[t + 1] = p.rho * ks[t] + (1.0f - p.rho) * err * err / (1.0f + err * err);
        // d softplus(x) / dx = sigmoid(x); 1 above 20 as hl_softplus_grad
        dl[t] = delta; dlg[t] = a->dt[i] + p.dtb > 20.0f ? 1.0f : hl_fast_sigmoid(a->dt[i] + p.dtb);
        sg[t] = sig; vs[t] = v;
    }
    float *gh0 = g, *gh1 = g + N, *gh2 = g + 2 * N;   // adjoints of h_t, h_{t+1}, h_{t+2}
    memset(g, 0, sizeof(float) * 3 * N);
    float gk1 = 0.0f, gv1 = 0.0f, dD = 0.0f, ddtb = 0.0f, dsb = 0.0f, dlam = 0.0f, drho = 0.0f, dgam = 0.0f;
    for (int t = T - 1; t >= 0; t--) {
        size_t bt = (size_t)b * T + t, i = bt * C + c;
        float et = es[t + 1], kt = ks[t + 1], tau = ths[t + 1], den = 1.0f + et * et;
        float gk = p.rho * gk1 + gv1 * p.gam * tau;
        float ge = gk * (1.0f - p.rho) * 2.0f * et / (den * den) + gv1 * p.gam * kt * (1.0f - tau * tau);
        float gy = a->dy[i] - ge, delta = dl[t], sig = sg[t], v = vs[t];
        float c1 = t + 1 < T ? sg[t + 1] * (1.0f - p.lam) : 0.0f, c2 = t + 2 < T ? sg[t + 2] * p.lam : 0.0f;
        const float *a1 = dec + (size_t)(t + 1 < T ? t + 1 : t) * N, *a2 = dec + (size_t)(t + 2 < T ? t + 2 : t) * N;
        const float *h = hs + (size_t)(t + 2) * N, *hp1 = hs + (size_t)(t + 1) * N, *hp2 = hs + (size_t)t * N;
        const float *at = dec + (size_t)t * N, *Bv = a->Bm + bt * N, *Cv = a->Cm + bt * N;
        float *gA = a->dA_log + (size_t)c * N;
        float gv = gy * p.D, ddelta = 0.0f, dsig = 0.0f;
        for (int n = 0; n < N; n++) {
            float gh = gy * Cv[n] + gh1[n] * c1 * a1[n] + gh2[n] * c2 * a2[n];
            gh0[n] = gh;
            float m = (1.0f - p.lam) * hp1[n] + p.lam * hp2[n], gam_ = gh * at[n] * m;
            gv += gh * delta * Bv[n];
            dC[(size_t)t * N + n] += gy * h[n];
            dB[(size_t)t * N + n] += gh * delta * v;
            dsig += gam_;
            ddelta += gam_ * sig * A[n] + gh * Bv[n] * v;
            gA[n] += gam_ * sig * delta * A[n];
            dlam += gh * sig * at[n] * (hp2[n] - hp1[n]);
        }
        float ddt = ddelta * dlg[t], ds = dsig * sig * (1.0f - sig);
        a->du[i] = gv;
        a->dr[i] = ge;
        a->ddt[i] = ddt;
        a->ds[i] = ds;
        ddtb += ddt;
        dsb += ds;
        dD += gy * v;
        dgam += gv * ks[t] * ths[t];
        drho += gk * (ks[t] - et * et / den);
        float *tmp = gh2; gh2 = gh1; gh1 = gh0; gh0 = tmp;
        gk1 = gk;
        gv1 = gv;
    }
    a->dD[c] += dD;
    a->ddt_bias[c] += ddtb;
    a->ds_bias[c] += dsb;
    a->ddelay[c] += dlam * p.lam * (1.0f - p.lam);
    a->dgain_decay[c] += drho * p.rho * (1.0f - p.rho);
    a->dcontrol[c] += dgam;
}

void hl_cpu_conba_bwd(const hl_conba_bwd_args *a) {
    int B = a->B, T = a->T, C = a->C, N = a->N;
    int nthreads = omp_get_max_threads();
    size_t btn = (size_t)B * T * N;
    float *parts = hl_cpu_scratch(0, 2 * btn * nthreads + 1);   // per thread: dBm, dCm (B, T, N)
    #pragma omp parallel num_threads(nthreads)
    {
        int tid = omp_get_thread_num();
        size_t wn = (size_t)(T + 2) * N + (size_t)T * N + 7 * ((size_t)T + 1);
        float *w = hl_cpu_scratch_raw(1, wn + 4 * (size_t)N + 1);
        float *A = w + wn, *g = A + N;
        float *dB = parts + 2 * btn * tid, *dC = dB + btn;
        #pragma omp for schedule(static)
        for (int c = 0; c < C; c++) {
            load_negexp(A, a->A_log, c, N);
            for (int b = 0; b < B; b++)
                bwd_channel(a, b, c, A, w, g, dB + (size_t)b * T * N, dC + (size_t)b * T * N);
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
