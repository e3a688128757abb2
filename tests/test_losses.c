// test_losses.c: the losses of models/losses.h against naive references
// written here (probabilities first, logs last: a different order of
// operations from losses.c), their gradients against finite differences,
// and the refusals (bad targets, shapes, temperatures) that must be statuses.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tests/test.h"
#include "models/losses.h"

static uint64_t rng_state = 12345;
static double rnd_uniform(void) {   // [0, 1)
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}
static void fill_logits(float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * (2 * rnd_uniform() - 1));
}

// softmax(row / tau) in double, by exp and divide.
static void softmax_ref(const float *row, int V, double tau, double *p) {
    double mx = row[0], s = 0;
    for (int j = 1; j < V; j++) mx = fmax(mx, row[j]);
    for (int j = 0; j < V; j++) s += p[j] = exp((row[j] - mx) / tau);
    for (int j = 0; j < V; j++) p[j] /= s;
}

// Naive cross-entropy: mean over labelled rows of -log softmax(row)[target].
static double xent_ref(const float *lg, const int32_t *tg, int N, int V) {
    double *p = malloc(sizeof(double) * V), sum = 0;
    int n = 0;
    for (int i = 0; i < N; i++) {
        if (tg[i] == -1) continue;
        softmax_ref(lg + (size_t)i * V, V, 1.0, p);
        sum += -log(p[tg[i]]);
        n++;
    }
    free(p);
    return n ? sum / n : 0;
}

// Naive KL: tau^2 * mean_i sum_j p log(p / q).
static double kl_ref(const float *s, const float *t, int N, int V, double tau) {
    double *p = malloc(sizeof(double) * 2 * V), *q = p + V, sum = 0;
    for (int i = 0; i < N; i++) {
        softmax_ref(t + (size_t)i * V, V, tau, p);
        softmax_ref(s + (size_t)i * V, V, tau, q);
        for (int j = 0; j < V; j++) if (p[j] > 0) sum += p[j] * log(p[j] / q[j]);
    }
    free(p);
    return N ? tau * tau * sum / N : 0;
}

enum { N = 5, V = 7 };

static void test_xent(const hl_ops *ops) {
    float lg[N * V], dl[N * V], rows[N], loss;
    int32_t tg[N] = {3, -1, 0, 6, 2};
    char err[256] = "", name[96];
    int n_lab = -1;
    fill_logits(lg, N * V, 3.0);
    int rc = hl_loss_xent(ops, lg, tg, N, V, -1, rows, dl, &loss, &n_lab, err, sizeof err);
    double ref = xent_ref(lg, tg, N, V);
    snprintf(name, sizeof name, "xent_matches_reference_%s", ops->name);
    hl_check(rc == HL_OK && n_lab == 4 && fabs(loss - ref) < 1e-5 * fmax(1, fabs(ref)), name,
             "rc %d n_lab %d: %.8g vs %.8g (%s)", rc, n_lab, loss, ref, err);
    // central differences of the reference in double along each logit
    double worst = 0;
    for (int k = 0; k < N * V; k++) {
        float saved = lg[k];
        const double h = 1e-3;
        lg[k] = (float)(saved + h); double up = xent_ref(lg, tg, N, V);
        lg[k] = (float)(saved - h); double dn = xent_ref(lg, tg, N, V);
        lg[k] = saved;
        double fd = (up - dn) / (2 * h);
        worst = fmax(worst, fabs(fd - dl[k]));
    }
    snprintf(name, sizeof name, "xent_gradient_fd_%s", ops->name);
    hl_check(worst < 1e-4, name, "max |fd - analytic| %.3g", worst);
    int zero_row = 1;
    for (int j = 0; j < V; j++) zero_row &= dl[1 * V + j] == 0.0f;
    snprintf(name, sizeof name, "xent_ignored_row_has_no_gradient_%s", ops->name);
    hl_check(zero_row, name, "");
    int32_t none[N] = {-1, -1, -1, -1, -1};
    dl[0] = 1.0f;
    rc = hl_loss_xent(ops, lg, none, N, V, -1, rows, dl, &loss, &n_lab, err, sizeof err);
    int all_zero = 1;
    for (int k = 0; k < N * V; k++) all_zero &= dl[k] == 0.0f;
    snprintf(name, sizeof name, "xent_no_labels_is_zero_%s", ops->name);
    hl_check(rc == HL_OK && loss == 0.0f && n_lab == 0 && all_zero, name, "rc %d loss %g", rc, loss);
}

static void test_xent_refusals(void) {
    float lg[N * V], rows[N], loss = 123.0f;
    char err[256] = "";
    fill_logits(lg, N * V, 1.0);
    int32_t tg[N] = {3, -1, V, 6, 2};
    int rc = hl_loss_xent(&hl_ops_cpu, lg, tg, N, V, -1, rows, NULL, &loss, NULL, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "target 7 of row 2"), "xent_target_out_of_range_is_status",
             "rc %d: %s", rc, err);
    tg[2] = -2;
    rc = hl_loss_xent(&hl_ops_cpu, lg, tg, N, V, -1, rows, NULL, &loss, NULL, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "target -2"), "xent_negative_target_is_status", "rc %d: %s", rc, err);
    rc = hl_loss_xent(&hl_ops_cpu, lg, tg, N, 0, -1, rows, NULL, &loss, NULL, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "shape"), "xent_bad_shape_is_status", "rc %d: %s", rc, err);
}

static void test_kl(void) {
    float s[N * V], t[N * V], ds[N * V], loss;
    char err[256] = "";
    fill_logits(s, N * V, 2.0);
    fill_logits(t, N * V, 2.0);
    const double taus[3] = {1.0, 2.0, 0.5};
    for (int k = 0; k < 3; k++) {
        double tau = taus[k];
        char name[96];
        int rc = hl_loss_kl(s, t, N, V, tau, ds, &loss, err, sizeof err);
        double ref = kl_ref(s, t, N, V, tau);
        snprintf(name, sizeof name, "kl_matches_reference_tau%g", tau);
        hl_check(rc == HL_OK && ref > 0 && fabs(loss - ref) < 1e-5 * fmax(1, ref), name, "rc %d: %.8g vs %.8g", rc, loss, ref);
        double worst = 0;
        for (int i = 0; i < N * V; i++) {
            float saved = s[i];
            const double h = 1e-3;
            s[i] = (float)(saved + h); double up = kl_ref(s, t, N, V, tau);
            s[i] = (float)(saved - h); double dn = kl_ref(s, t, N, V, tau);
            s[i] = saved;
            worst = fmax(worst, fabs((up - dn) / (2 * h) - ds[i]));
        }
        snprintf(name, sizeof name, "kl_gradient_fd_tau%g", tau);
        hl_check(worst < 1e-4, name, "max |fd - analytic| %.3g", worst);
    }
    int rc = hl_loss_kl(t, t, N, V, 2.0, ds, &loss, err, sizeof err);
    double gmax = 0;
    for (int i = 0; i < N * V; i++) gmax = fmax(gmax, fabs(ds[i]));
    hl_check(rc == HL_OK && fabs(loss) < 1e-6 && gmax < 1e-7, "kl_of_itself_is_zero", "loss %.3g grad %.3g", loss, gmax);
    // tau^2 convention: a shift of every logit of a row changes nothing;
    // doubling the logits and tau gives 4x the tau-free KL
    float s2[N * V], t2[N * V];
    for (int i = 0; i < N * V; i++) { s2[i] = 2 * s[i]; t2[i] = 2 * t[i]; }
    float l1, l2;
    hl_loss_kl(s, t, N, V, 1.0, NULL, &l1, err, sizeof err);
    hl_loss_kl(s2, t2, N, V, 2.0, NULL, &l2, err, sizeof err);
    hl_check(fabs(l2 - 4 * l1) < 1e-5 * l2, "kl_tau_squared_convention", "%.8g vs 4 x %.8g", l2, l1);
    rc = hl_loss_kl(s, t, N, V, 0.0, ds, &loss, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "temperature"), "kl_bad_temperature_is_status", "rc %d: %s", rc, err);
    rc = hl_loss_kl(s, t, N, V, NAN, ds, &loss, err, sizeof err);
    hl_check(rc == HL_EBADINPUT, "kl_nan_temperature_is_status", "rc %d", rc);
    rc = hl_loss_kl(s, t, -1, V, 1.0, ds, &loss, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "shape"), "kl_bad_shape_is_status", "rc %d: %s", rc, err);
    rc = hl_loss_kl(s, t, 0, V, 1.0, ds, &loss, err, sizeof err);
    hl_check(rc == HL_OK && loss == 0.0f, "kl_no_rows_is_zero", "rc %d", rc);
}

int main(void) {
    for (int i = 0; i < hl_backend_count(); i++) test_xent(hl_backend_at(i)->ops);   // every backend
    test_xent_refusals();
    test_kl();
    return hl_test_done();
}
