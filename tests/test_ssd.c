// test_ssd.c: the Mamba-2 scan op ssd_fwd (kernels.h) of every backend
// against an independent numpy port of state-spaces/mamba's
// ssd_minimal_discrete (tests/ref/ssd_minimal.py, which also checks it
// against the plain recurrence in float64 and writes tests/fixtures/ssd/),
// for chunk lengths that divide T = 37 (1, 37), that do not (5, 8, 16) and
// that exceed it (64); and the op's refusal of groups that do not divide the
// heads. Also ssd_bwd of every backend against cpu_ref's on the fixture's
// inputs for one (batch, group) task and several (the cpu backend runs its
// products threaded in the first case, one per task in the second), chunks
// 5, 8, 16 and 64; and both ops against cpu_ref's at T 150 for chunks 100,
// 128 and 256 (longer than the cpu backend's 64-row blocks of its
// triangular products). Finite differences: tests/test_kernels.c.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/npy.h"
#include "kernels/kernels.h"
#include "tests/test.h"

#define FIX "tests/fixtures/ssd/"
enum { X, DT, DT_BIAS, A_LOG, BM, CM, DD, Y, NARR };
static const char *const NAMES[NARR] = {"x", "dt", "dt_bias", "A_log", "Bm", "Cm", "D", "y"};

typedef struct { float *h; int64_t shape[HL_NPY_MAX_DIMS]; int ndim; size_t n; } arr;

static int load(arr *a, const char *name) {
    char path[256], err[256];
    snprintf(path, sizeof path, FIX "%s.npy", name);
    int rc = hl_npy_read_f32(path, &a->h, &a->ndim, a->shape, err, sizeof err);
    if (!hl_check(rc == HL_OK, "fixture loads", "%s: %s", path, err)) return 0;
    a->n = 1;
    for (int d = 0; d < a->ndim; d++) a->n *= (size_t)a->shape[d];
    return 1;
}

static float *dev(const hl_backend *be, const float *h, size_t n) {
    float *d = be->alloc(n * sizeof(float) + 1);
    if (!d) { fprintf(stderr, "test_ssd: alloc failed\n"); exit(1); }
    if (h) be->h2d(d, h, n * sizeof(float));
    return d;
}

// ssd_bwd of backend be on host inputs h (the fixture's arrays, read with
// sizes B, G, N) and dy: writes the 7 gradients to out[0..6] (host, sizes as
// the args: dx, ddt, dBm, dCm, ddt_bias, dA_log, dD). Returns the status.
static int run_bwd(const hl_backend *be, arr *h, const float *dy, int B, int T, int H, int P, int G, int N, int chunk,
                   float *out[7], const size_t n_out[7]) {
    float *d[NARR], *g[7], *ddy = dev(be, dy, (size_t)B * T * H * P);
    for (int i = 0; i < NARR; i++) d[i] = dev(be, h[i].h, h[i].n);
    for (int k = 0; k < 7; k++) { g[k] = dev(be, NULL, n_out[k]); be->zero(g[k], n_out[k] * sizeof(float)); }
    hl_ssd_bwd_args a = {g[0], g[1], g[2], g[3], g[4], g[5], g[6], ddy, d[X], d[DT], d[DT_BIAS], d[A_LOG], d[BM],
                         d[CM], d[DD], B, T, H, P, G, N, chunk};
    int rc = HL_OP_CALL(be->ops, ssd_bwd, &a);
    be->sync();
    for (int k = 0; k < 7; k++) { be->d2h(out[k], g[k], n_out[k] * sizeof(float)); be->free(g[k], n_out[k] * sizeof(float) + 1); }
    for (int i = 0; i < NARR; i++) be->free(d[i], h[i].n * sizeof(float) + 1);
    be->free(ddy, (size_t)B * T * H * P * sizeof(float) + 1);
    return rc;
}

static void check_bwd(arr *h, int B, int T, int H, int P, int G, int N, int chunk) {
    static const char *const gnames[7] = {"dx", "ddt", "dBm", "dCm", "ddt_bias", "dA_log", "dD"};
    size_t n_out[7] = {(size_t)B * T * H * P, (size_t)B * T * H, (size_t)B * T * G * N, (size_t)B * T * G * N,
                       (size_t)H, (size_t)H, (size_t)H};
    float *dy = malloc(sizeof(float) * n_out[0]);   // (B, T, H, P)
    for (size_t i = 0; i < n_out[0]; i++) dy[i] = (float)sin(0.37 * (double)i + 0.5);
    float *ref[7], *got[7];
    for (int k = 0; k < 7; k++) { ref[k] = malloc(sizeof(float) * n_out[k]); got[k] = malloc(sizeof(float) * n_out[k]); }
    int rc_ref = run_bwd(hl_backend_get("cpu_ref"), h, dy, B, T, H, P, G, N, chunk, ref, n_out);
    for (int bi = 0; bi < hl_backend_count(); bi++) {
        const hl_backend *be = hl_backend_at(bi);
        if (!strcmp(be->name, "cpu_ref")) continue;
        int rc = run_bwd(be, h, dy, B, T, H, P, G, N, chunk, got, n_out);
        for (int k = 0; k < 7; k++) {
            double e = 0.0, m = 0.0;
            for (size_t i = 0; i < n_out[k]; i++) {
                double diff = fabs((double)got[k][i] - ref[k][i]);
                if (!(diff <= e)) e = diff;
                if (fabs(ref[k][i]) > m) m = fabs(ref[k][i]);
            }
            e = m > 0 ? e / m : e;
            char what[160];
            snprintf(what, sizeof what, "%s ssd_bwd %s (B %d G %d chunk %d) equals cpu_ref's", be->name, gnames[k], B, G,
                     chunk);
            hl_check(rc == HL_OK && rc_ref == HL_OK && m > 0 && e <= 1e-5, what, "status %d/%d, rel err %.3g (max %.3g)",
                     rc, rc_ref, e, m);
        }
    }
    for (int k = 0; k < 7; k++) { free(ref[k]); free(got[k]); }
    free(dy);
}

// ssd_fwd of every backend against cpu_ref's on inputs h (sizes as given).
static void check_fwd(arr *h, int B, int T, int H, int P, int G, int N, int chunk) {
    size_t n = (size_t)B * T * H * P;
    float *ref = malloc(sizeof(float) * n), *got = malloc(sizeof(float) * n);   // (B, T, H, P)
    int rc[2] = {0, 0};
    for (int bi = 0; bi < hl_backend_count(); bi++) {
        const hl_backend *be = hl_backend_at(bi);
        int is_ref = !strcmp(be->name, "cpu_ref");
        if (bi > 0 && is_ref) continue;
        float *d[NARR];
        for (int i = 0; i < NARR; i++) d[i] = dev(be, i == Y ? NULL : h[i].h, h[i].n);
        hl_ssd_fwd_args f = {d[Y], d[X], d[DT], d[DT_BIAS], d[A_LOG], d[BM], d[CM], d[DD], B, T, H, P, G, N, chunk};
        rc[!is_ref] = HL_OP_CALL(be->ops, ssd_fwd, &f);
        be->sync();
        be->d2h(is_ref ? ref : got, d[Y], n * sizeof(float));
        for (int i = 0; i < NARR; i++) be->free(d[i], h[i].n * sizeof(float) + 1);
        if (is_ref) continue;
        double e = 0.0, m = 0.0;
        for (size_t i = 0; i < n; i++) {
            if (!(fabs((double)got[i] - ref[i]) <= e)) e = fabs((double)got[i] - ref[i]);
            if (fabs(ref[i]) > m) m = fabs(ref[i]);
        }
        char what[160];
        snprintf(what, sizeof what, "%s ssd_fwd (B %d T %d G %d chunk %d) equals cpu_ref's", be->name, B, T, G, chunk);
        hl_check(rc[0] == HL_OK && rc[1] == HL_OK && m > 0 && e / m <= 1e-5, what, "status %d/%d, rel err %.3g",
                 rc[0], rc[1], m > 0 ? e / m : e);
    }
    free(ref); free(got);
}

// Deterministic inputs of ssd_fwd in the fixture's layout (B, T, H, P, G, N
// as given): x, Bm, Cm ~ U(-1, 1), dt ~ U(-3, 1), dt_bias ~ U(-1, 0),
// A_log ~ U(0, 2) (A up to -7.4: states decay within a chunk), D ~ U(0.5, 1.5).
static void synthetic(arr *h, int B, int T, int H, int P, int G, int N) {
    size_t n[NARR] = {(size_t)B * T * H * P, (size_t)B * T * H, (size_t)H, (size_t)H, (size_t)B * T * G * N,
                      (size_t)B * T * G * N, (size_t)H, (size_t)B * T * H * P};
    float lo[NARR] = {-1, -3, -1, 0, -1, -1, 0.5f, 0}, hi[NARR] = {1, 1, 0, 2, 1, 1, 1.5f, 0};
    uint32_t r = 12345u;
    for (int k = 0; k < NARR; k++) {
        h[k].n = n[k];
        h[k].h = malloc(sizeof(float) * n[k]);
        for (size_t i = 0; i < n[k]; i++) {
            r = r * 1664525u + 1013904223u;
            h[k].h[i] = lo[k] + (hi[k] - lo[k]) * (float)(r >> 8) / 16777216.0f;
        }
    }
}

int main(void) {
    arr a[NARR];
    for (int i = 0; i < NARR; i++)
        if (!load(&a[i], NAMES[i])) return hl_test_done();
    int B = (int)a[X].shape[0], T = (int)a[X].shape[1], H = (int)a[X].shape[2], P = (int)a[X].shape[3];
    int G = (int)a[BM].shape[2], N = (int)a[BM].shape[3];
    hl_check(a[X].ndim == 4 && a[BM].ndim == 4 && a[Y].n == a[X].n && a[DT].n == (size_t)B * T * H && T == 37,
             "fixture shapes", "B %d T %d H %d P %d G %d N %d", B, T, H, P, G, N);
    const int chunks[] = {1, 5, 8, 16, 37, 64};
    float *y = malloc(sizeof(float) * a[Y].n);   // (B, T, H, P)
    for (int bi = 0; bi < hl_backend_count(); bi++) {
        const hl_backend *be = hl_backend_at(bi);
        float *d[NARR];
        for (int i = 0; i < NARR; i++) d[i] = dev(be, i == Y ? NULL : a[i].h, a[i].n);
        for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
            hl_ssd_fwd_args f = {d[Y], d[X], d[DT], d[DT_BIAS], d[A_LOG], d[BM], d[CM], d[DD],
                                 B, T, H, P, G, N, chunks[k]};
            int rc = HL_OP_CALL(be->ops, ssd_fwd, &f);
            be->sync();
            be->d2h(y, d[Y], a[Y].n * sizeof(float));
            double e = 0.0, m = 0.0;
            for (size_t i = 0; i < a[Y].n; i++) {
                double diff = fabs((double)y[i] - a[Y].h[i]);
                if (!(diff <= e)) e = diff;
                if (fabs(a[Y].h[i]) > m) m = fabs(a[Y].h[i]);
            }
            e /= m;
            char what[160];
            snprintf(what, sizeof what, "%s ssd_fwd chunk %d equals numpy ssd_minimal_discrete", be->name, chunks[k]);
            hl_check(rc == HL_OK && e <= 1e-5, what, "status %d (%s), rel err %.3g", rc, hl_op_error(), e);
        }
        // G = 3 does not divide H = 4: refused, nothing written
        float sentinel = -3.5f;
        be->h2d(d[Y], &sentinel, sizeof sentinel);
        hl_ssd_fwd_args bad = {d[Y], d[X], d[DT], d[DT_BIAS], d[A_LOG], d[BM], d[CM], d[DD], B, T, H, P, 3, N, 8};
        int rc = HL_OP_CALL(be->ops, ssd_fwd, &bad);
        float back = 0.0f;
        be->d2h(&back, d[Y], sizeof back);
        char what[160];
        snprintf(what, sizeof what, "%s ssd_fwd refuses G not dividing H", be->name);
        hl_check(rc == HL_EBADINPUT && strstr(hl_op_error(), "not a multiple of G") && back == sentinel, what,
                 "status %d, '%s'", rc, hl_op_error());
        hl_ssd_fwd_args zero_chunk = {d[Y], d[X], d[DT], d[DT_BIAS], d[A_LOG], d[BM], d[CM], d[DD], B, T, H, P, G, N, 0};
        rc = HL_OP_CALL(be->ops, ssd_fwd, &zero_chunk);
        snprintf(what, sizeof what, "%s ssd_fwd refuses chunk 0", be->name);
        hl_check(rc == HL_EBADINPUT && strstr(hl_op_error(), "chunk"), what, "status %d, '%s'", rc, hl_op_error());
        for (int i = 0; i < NARR; i++) be->free(d[i], a[i].n * sizeof(float) + 1);
    }
    free(y);
    // backward: one task (B 1, G 1: the fixture's Bm/Cm read as one group) and several
    const int bchunks[] = {5, 8, 16, 64};
    for (size_t k = 0; k < sizeof bchunks / sizeof bchunks[0]; k++) {
        check_bwd(a, 1, T, H, P, 1, N, bchunks[k]);
        check_bwd(a, B, T, H, P, G, N, bchunks[k]);
    }
    // chunks longer than the cpu backend's 64-row blocks of the triangular
    // products (T 150: chunk 100 = blocks 64 + 36 then a 50-long chunk;
    // chunk 128 = 2 blocks then 22; chunk 256 > T), one task and several
    arr syn[NARR];
    synthetic(syn, 2, 150, 4, 8, 2, 16);
    const int lchunks[] = {100, 128, 256};
    for (size_t k = 0; k < sizeof lchunks / sizeof lchunks[0]; k++) {
        check_fwd(syn, 2, 150, 4, 8, 2, 16, lchunks[k]);
        check_fwd(syn, 1, 150, 4, 8, 1, 16, lchunks[k]);
        check_bwd(syn, 2, 150, 4, 8, 2, 16, lchunks[k]);
        check_bwd(syn, 1, 150, 4, 8, 1, 16, lchunks[k]);
    }
    for (int i = 0; i < NARR; i++) free(syn[i].h);
    for (int i = 0; i < NARR; i++) free(a[i].h);
    return hl_test_done();
}
