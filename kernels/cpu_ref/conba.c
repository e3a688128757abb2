// cpu_ref/conba.c: the Conba scan (kernels.h "Conba scan"), naive and in
// double: the oracle of conba_fwd, conba_bwd, conba_state and conba_step.
// One function runs the recurrence of one (row, channel) from a state; the
// four ops are that function over the right positions and the backward is
// its adjoint over a recomputed trajectory.
#include <math.h>
#include <stdlib.h>
#include "kernels/cpu_ref/cpu_ref.h"

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

// Where one (row, channel)'s per-position inputs are: element t of a
// (., C) array at (base + t) * C + c, of a (., N) array at (base + t) * N.
typedef struct {
    const float *u, *dt, *s, *r, *Bm, *Cm;
    size_t base;
    int C, N, c;
    double dt_bias, s_bias, D, lam, rho, gam;
    const float *A_log;   // (C, N)
} chan;

static chan chan_of(const float *u, const float *dt, const float *s, const float *r, const float *Bm,
                    const float *Cm, const float *dt_bias, const float *A_log, const float *D,
                    const float *s_bias, const float *delay, const float *gain_decay, const float *control,
                    size_t base, int C, int N, int c) {
    chan q = {u, dt, s, r, Bm, Cm, base, C, N, c, dt_bias[c], s_bias[c], D[c],
              sigm(delay[c]), sigm(gain_decay[c]), control[c], A_log};
    return q;
}

// One position t of the recurrence. State: h1 = h_{t-1}, h2 = h_{t-2} (N
// each, shifted in place), *k = k_{t-1}, *e = e_{t-1} (advanced to t).
// Returns y_t; *v_out (if non-NULL) gets v_t.
static double step_one(const chan *q, int t, double *h1, double *h2, double *k, double *e, double *v_out) {
    size_t i = (q->base + (size_t)t) * q->C + q->c, in = (q->base + (size_t)t) * q->N;
    double delta = hl_softplus(q->dt[i] + (float)q->dt_bias);
    double sig = sigm((double)q->s[i] + q->s_bias);
    double v = q->u[i] + q->gam * *k * tanh(*e);
    double y = q->D * v;
    for (int n = 0; n < q->N; n++) {
        double A = -exp((double)q->A_log[(size_t)q->c * q->N + n]);
        double h = sig * exp(delta * A) * ((1.0 - q->lam) * h1[n] + q->lam * h2[n]) + delta * q->Bm[in + n] * v;
        h2[n] = h1[n];
        h1[n] = h;
        y += q->Cm[in + n] * h;
    }
    *e = q->r[i] - y;
    *k = q->rho * *k + (1.0 - q->rho) * (*e * *e) / (1.0 + *e * *e);
    if (v_out) *v_out = v;
    return y;
}

void hl_ref_conba_fwd(const hl_conba_fwd_args *a) {
    int T = a->T, C = a->C, N = a->N;
    double *h = malloc(sizeof(double) * (2 * (size_t)N + 1)); // h1 (N), h2 (N)
    for (int b = 0; b < a->B; b++)
        for (int c = 0; c < C; c++) {
            chan q = chan_of(a->u, a->dt, a->s, a->r, a->Bm, a->Cm, a->dt_bias, a->A_log, a->D, a->s_bias,
                             a->delay, a->gain_decay, a->control, (size_t)b * T, C, N, c);
            double k = 0.0, e = 0.0;
            for (int n = 0; n < 2 * N; n++) h[n] = 0.0;
            for (int t = 0; t < T; t++)
                a->y[((size_t)b * T + t) * C + c] = (float)step_one(&q, t, h, h + N, &k, &e, NULL);
        }
    free(h);
}

void hl_ref_conba_state(const hl_conba_state_args *a) {
    int T = a->T, C = a->C, N = a->N;
    double *h = malloc(sizeof(double) * (2 * (size_t)N + 1));
    for (int b = 0; b < a->B; b++)
        for (int c = 0; c < C; c++) {
            double k = 0.0, e = 0.0;
            for (int n = 0; n < 2 * N; n++) h[n] = 0.0;
            if (a->lens[b] > 0) {
                chan q = chan_of(a->u, a->dt, a->s, a->r, a->Bm, a->Cm, a->dt_bias, a->A_log, a->D, a->s_bias,
                                 a->delay, a->gain_decay, a->control, (size_t)b * T, C, N, c);
                for (int t = 0; t < a->lens[b]; t++) step_one(&q, t, h, h + N, &k, &e, NULL);
            }
            float *st = a->st + ((size_t)b * C + c) * (2 * (size_t)N + 2);
            for (int n = 0; n < 2 * N; n++) st[n] = (float)h[n];
            st[2 * N] = (float)k;
            st[2 * N + 1] = (float)e;
        }
    free(h);
}

void hl_ref_conba_step(const hl_conba_step_args *a) {
    int C = a->C, N = a->N;
    double *h = malloc(sizeof(double) * (2 * (size_t)N + 1));
    for (int b = 0; b < a->B; b++)
        for (int c = 0; c < C; c++) {
            chan q = chan_of(a->u, a->dt, a->s, a->r, a->Bm, a->Cm, a->dt_bias, a->A_log, a->D, a->s_bias,
                             a->delay, a->gain_decay, a->control, (size_t)b, C, N, c);
            float *st = a->st + ((size_t)b * C + c) * (2 * (size_t)N + 2);
            for (int n = 0; n < 2 * N; n++) h[n] = st[n];
            double k = st[2 * N], e = st[2 * N + 1];
            a->y[(size_t)b * C + c] = (float)step_one(&q, 0, h, h + N, &k, &e, NULL);
            for (int n = 0; n < 2 * N; n++) st[n] = (float)h[n];
            st[2 * N] = (float)k;
            st[2 * N + 1] = (float)e;
        }
    free(h);
}

// Backward per (b, c): the trajectory is recomputed (hs (T + 2, N) with two
// zero rows in front, k and e (T + 1) with k_{-1} = e_{-1} = 0 in front, v
// (T)), then walked backwards carrying the adjoints of h_{t+1}, h_{t+2},
// k_{t+1} and v_{t+1} (docs/conba.md writes the adjoint out).
void hl_ref_conba_bwd(const hl_conba_bwd_args *a) {
    int B = a->B, T = a->T, C = a->C, N = a->N;
    size_t btn = (size_t)B * T * N;
    double *hs = calloc((size_t)(T + 2) * N + 1, sizeof(double));   // (T + 2, N): row t + 2 is h_t
    double *ks = malloc(sizeof(double) * (size_t)(T + 1));          // (T + 1): entry t + 1 is k_t
    double *es = malloc(sizeof(double) * (size_t)(T + 1));          // (T + 1): entry t + 1 is e_t
    double *vs = malloc(sizeof(double) * (size_t)(T + 1));          // (T)
    double *g1 = calloc((size_t)N + 1, sizeof(double)), *g2 = calloc((size_t)N + 1, sizeof(double));
    double *g0 = calloc((size_t)N + 1, sizeof(double));             // (N) each: adjoints of h_t, h_{t+1}, h_{t+2}
    double *dBm = calloc(btn + 1, sizeof(double)), *dCm = calloc(btn + 1, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            chan q = chan_of(a->u, a->dt, a->s, a->r, a->Bm, a->Cm, a->dt_bias, a->A_log, a->D, a->s_bias,
                             a->delay, a->gain_decay, a->control, (size_t)b * T, C, N, c);
            double *h = calloc(2 * (size_t)N + 1, sizeof(double));
            double k = 0.0, e = 0.0;
            ks[0] = es[0] = 0.0;
            for (int t = 0; t < T; t++) {
                step_one(&q, t, h, h + N, &k, &e, &vs[t]);
                for (int n = 0; n < N; n++) hs[(size_t)(t + 2) * N + n] = h[n];
                ks[t + 1] = k;
                es[t + 1] = e;
            }
            free(h);
            for (int n = 0; n < N; n++) g1[n] = g2[n] = 0.0;
            double gk1 = 0.0, gv1 = 0.0;   // adjoints of k_{t+1}... carried: of k_{t+1} and v_{t+1}
            double dD = 0.0, ddtb = 0.0, dsb = 0.0, dlam = 0.0, drho = 0.0, dgam = 0.0;
            double lam = q.lam, rho = q.rho, gam = q.gam;
            for (int t = T - 1; t >= 0; t--) {
                size_t bt = (size_t)b * T + t, i = bt * C + c;
                double x = (double)a->dt[i] + a->dt_bias[c];
                double delta = hl_softplus((float)x), sig = sigm((double)a->s[i] + q.s_bias);
                double et = es[t + 1], kt = ks[t + 1], kp = ks[t], ep = es[t], v = vs[t];
                double tau = tanh(et), den = 1.0 + et * et;
                // k_t feeds k_{t+1} (rho) and v_{t+1} (gam tanh(e_t)); e_t feeds k_t and v_{t+1}
                double gk = rho * gk1 + gv1 * gam * tau;
                double ge = gk * (1.0 - rho) * 2.0 * et / (den * den) + gv1 * gam * kt * (1.0 - tau * tau);
                double gy = a->dy[i] - ge;
                double gv = gy * q.D, ddelta = 0.0, dsig = 0.0;
                // the adjoints of h_{t+1}, h_{t+2} reach h_t through their decay coefficients
                double sig1 = 0.0, dl1 = 0.0, sig2 = 0.0, dl2 = 0.0;
                if (t + 1 < T) {
                    size_t i1 = i + C;
                    sig1 = sigm((double)a->s[i1] + q.s_bias);
                    dl1 = hl_softplus(a->dt[i1] + a->dt_bias[c]);
                }
                if (t + 2 < T) {
                    size_t i2 = i + 2 * (size_t)C;
                    sig2 = sigm((double)a->s[i2] + q.s_bias);
                    dl2 = hl_softplus(a->dt[i2] + a->dt_bias[c]);
                }
                for (int n = 0; n < N; n++) {
                    double A = -exp((double)a->A_log[(size_t)c * N + n]);
                    double gh = gy * a->Cm[bt * N + n];
                    if (t + 1 < T) gh += g1[n] * sig1 * exp(dl1 * A) * (1.0 - lam);
                    if (t + 2 < T) gh += g2[n] * sig2 * exp(dl2 * A) * lam;
                    g0[n] = gh;
                    double hp1 = hs[(size_t)(t + 1) * N + n], hp2 = hs[(size_t)t * N + n];
                    double m = (1.0 - lam) * hp1 + lam * hp2, dA = exp(delta * A), Bv = a->Bm[bt * N + n];
                    gv += gh * delta * Bv;
                    dCm[bt * N + n] += gy * hs[(size_t)(t + 2) * N + n];
                    dBm[bt * N + n] += gh * delta * v;
                    dsig += gh * dA * m;
                    ddelta += gh * (sig * dA * m * A + Bv * v);
                    a->dA_log[(size_t)c * N + n] += (float)(gh * sig * dA * m * delta * A);
                    dlam += gh * sig * dA * (hp2 - hp1);
                }
                double ddt = ddelta * hl_softplus_grad((float)x), ds = dsig * sig * (1.0 - sig);
                a->du[i] = (float)gv;
                a->dr[i] = (float)ge;
                a->ddt[i] = (float)ddt;
                a->ds[i] = (float)ds;
                ddtb += ddt;
                dsb += ds;
                dD += gy * v;
                dgam += gv * kp * tanh(ep);
                drho += gk * (kp - et * et / den);
                double *tmp = g2; g2 = g1; g1 = g0; g0 = tmp;
                gk1 = gk;
                gv1 = gv;
            }
            a->dD[c] += (float)dD;
            a->ddt_bias[c] += (float)ddtb;
            a->ds_bias[c] += (float)dsb;
            a->ddelay[c] += (float)(dlam * lam * (1.0 - lam));
            a->dgain_decay[c] += (float)(drho * rho * (1.0 - rho));
            a->dcontrol[c] += (float)dgam;
        }
    for (size_t i = 0; i < btn; i++) { a->dBm[i] = (float)dBm[i]; a->dCm[i] = (float)dCm[i]; }
    free(hs); free(ks); free(es); free(vs); free(g0); free(g1); free(g2); free(dBm); free(dCm);
}
