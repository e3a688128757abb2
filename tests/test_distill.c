// test_distill.c: the distillation loss of train.teacher (models/losses.h
// hl_loss_distill): its value against a naive reference written here
// (probabilities first, logs last), its gradient against central finite
// differences of that reference (N > HL_DISTILL_ROWS, so that the KL's
// block-by-block scaling is exercised, with ignored targets), and, through
// two real models built from one spec and seed: a student equal to its
// teacher has KL 0, a zero KL gradient on the logits and zero parameter
// gradients after the backward; a student that differs has KL > 0 and
// nonzero parameter gradients (so the zero above is not vacuous). Refusals
// (negative weight, bad temperature) are statuses.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tests/test.h"
#include "harness/spec.h"
#include "models/losses.h"
#include "models/model.h"

static uint64_t rng_state = 777;
static double rnd_uniform(void) {   // [0, 1)
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

// softmax(row / tau) in double, by exp and divide.
static void softmax_ref(const float *row, int V, double tau, double *p) {
    double mx = row[0], s = 0;
    for (int j = 1; j < V; j++) mx = fmax(mx, row[j]);
    for (int j = 0; j < V; j++) s += p[j] = exp((row[j] - mx) / tau);
    for (int j = 0; j < V; j++) p[j] /= s;
}

// Naive kl_w * tau^2 * mean_i KL(p_i || q_i) + ce_w * mean over labelled rows
// of -log q1_i[target] (q1: student softmax at temperature 1); *kl, *ce the terms.
static double distill_ref(const float *s, const float *t, const int32_t *tg, int N, int V, double kl_w,
                          double ce_w, double tau, double *kl, double *ce) {
    double *p = malloc(sizeof(double) * 2 * V), *q = p + V, ksum = 0, csum = 0;
    int lab = 0;
    for (int i = 0; i < N; i++) {
        softmax_ref(t + (size_t)i * V, V, tau, p);
        softmax_ref(s + (size_t)i * V, V, tau, q);
        for (int j = 0; j < V; j++) if (p[j] > 0) ksum += p[j] * log(p[j] / q[j]);
        if (tg[i] < 0) continue;
        softmax_ref(s + (size_t)i * V, V, 1.0, q);
        csum += -log(q[tg[i]]);
        lab++;
    }
    free(p);
    *kl = tau * tau * ksum / N;
    *ce = lab ? csum / lab : 0;
    return kl_w * *kl + ce_w * *ce;
}

enum { N = 150, V = 9 };   // 150 rows: blocks of 64, 64, 22

static void test_loss_and_gradient(void) {
    static float s[N * V], t[N * V], d[N * V], rows[N], scratch[HL_DISTILL_ROWS * V];
    int32_t tg[N];
    for (int i = 0; i < N * V; i++) { s[i] = (float)(4 * rnd_uniform() - 2); t[i] = (float)(4 * rnd_uniform() - 2); }
    for (int i = 0; i < N; i++) tg[i] = i % 7 == 3 ? -1 : (int32_t)(rnd_uniform() * V);
    char err[256] = "", name[96];
    const double cases[3][3] = {{0.1, 1.0, 1.0}, {1.0, 0.0, 2.0}, {0.5, 0.25, 0.5}};   // kl_w, ce_w, tau
    for (int c = 0; c < 3; c++) {
        double kw = cases[c][0], cw = cases[c][1], tau = cases[c][2], rkl, rce;
        float loss, kl, ce;
        int rc = hl_loss_distill(&hl_ops_cpu, s, t, tg, N, V, -1, kw, cw, tau, rows, d, scratch, &loss, &kl, &ce,
                                 err, sizeof err);
        double ref = distill_ref(s, t, tg, N, V, kw, cw, tau, &rkl, &rce);
        snprintf(name, sizeof name, "distill_matches_reference_case%d", c);
        hl_check(rc == HL_OK && rkl > 0 && fabs(loss - ref) < 1e-5 * fmax(1, ref) && fabs(kl - rkl) < 1e-5 * fmax(1, rkl) &&
                 fabs(ce - rce) < 1e-5 * fmax(1, rce), name, "rc %d %s: loss %.8g vs %.8g, kl %.8g vs %.8g, ce %.8g vs %.8g",
                 rc, err, loss, ref, kl, rkl, ce, rce);
        double worst = 0, gmax = 0, k1, c1;
        for (int i = 0; i < N * V; i++) {
            float saved = s[i];
            const double h = 1e-3;
            s[i] = (float)(saved + h); double up = distill_ref(s, t, tg, N, V, kw, cw, tau, &k1, &c1);
            s[i] = (float)(saved - h); double dn = distill_ref(s, t, tg, N, V, kw, cw, tau, &k1, &c1);
            s[i] = saved;
            worst = fmax(worst, fabs((up - dn) / (2 * h) - d[i]));
            gmax = fmax(gmax, fabs(d[i]));
        }
        snprintf(name, sizeof name, "distill_gradient_fd_case%d", c);
        hl_check(worst < 1e-5 && gmax > 1e-4, name, "max |fd - analytic| %.3g (largest gradient %.3g)", worst, gmax);
    }
    float loss;
    int rc = hl_loss_distill(&hl_ops_cpu, s, t, tg, N, V, -1, -0.1, 1.0, 1.0, rows, d, scratch, &loss, NULL, NULL,
                             err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "weights"), "distill_negative_weight_is_status", "rc %d: %s", rc, err);
    rc = hl_loss_distill(&hl_ops_cpu, s, t, tg, N, V, -1, 0.1, 1.0, 0.0, rows, d, scratch, &loss, NULL, NULL,
                         err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "temperature"), "distill_zero_temperature_is_status", "rc %d: %s", rc, err);
}

static const char *SPEC =
    "{\"name\":\"distill\",\"model\":{\"vocab_size\":37,\"d_model\":16,\"n_layers\":2,\"layers\":\"AS\","
    "\"attn\":{\"n_heads\":2},\"ssm\":{\"d_state\":4},\"ffn\":{\"d_ff\":32}},"
    "\"train\":{\"task\":{\"name\":\"mqar\",\"seq_len\":16,\"num_kv_pairs\":2},\"batch_size\":2},\"eval\":[]}";

// KL gradient on the logits and parameter gradients of a student against a
// teacher; *kl the KL term, *dl_max and *g_max the largest |gradient|.
static int student_step(hl_model *st, hl_model *te, const int32_t *tok, const int32_t *tg, int B, int T,
                        float *kl, double *dl_max, double *g_max, char *err, size_t errlen) {
    const float *tl, *sl;
    float *dl, *rows, loss, ce;
    int n = B * T, V = hl_model_cfg(st)->vocab_size;
    float *scratch = malloc(sizeof(float) * HL_DISTILL_ROWS * V);
    hl_model_loss_buffers(st, &dl, &rows);
    hl_model_zero_grad(st);
    int rc = hl_model_forward(te, tok, B, T, NULL, n, &tl, err, errlen);
    if (!rc) rc = hl_model_forward(st, tok, B, T, NULL, n, &sl, err, errlen);
    if (!rc) rc = hl_loss_distill(&hl_ops_cpu, sl, tl, tg, n, V, -1, 1.0, 0.0, 2.0, rows, dl, scratch, &loss, kl, &ce,
                                  err, errlen);
    *dl_max = 0;
    for (int i = 0; !rc && i < n * V; i++) *dl_max = fmax(*dl_max, fabs(dl[i]));
    if (!rc) rc = hl_model_backward(st, dl, err, errlen);
    const float *g = hl_model_grads(st);   // the CPU backend: host memory
    *g_max = 0;
    for (size_t i = 0; !rc && i < hl_model_numel(st); i++) *g_max = fmax(*g_max, fabs(g[i]));
    free(scratch);
    return rc;
}

static void test_student_equals_teacher(void) {
    char err[512] = "";
    hl_spec spec;
    int rc = hl_spec_load_text(SPEC, "test_distill", NULL, 0, &spec, err, sizeof err);
    hl_check(rc == HL_OK, "spec_loads", "%s", err);
    if (rc) return;
    enum { B = 2, T = 16 };
    const hl_backend *be = hl_backend_lookup("cpu", err, sizeof err);
    hl_model *st = hl_model_create(&spec.model, be, B, T, err, sizeof err);
    hl_model *te = hl_model_create(&spec.model, be, B, T, err, sizeof err);
    hl_check(st && te, "models_build", "%s", err);
    if (!st || !te) { hl_model_free(st); hl_model_free(te); hl_spec_free(&spec); return; }
    int32_t tok[B * T], tg[B * T];
    for (int i = 0; i < B * T; i++) { tok[i] = (int32_t)(rnd_uniform() * 37); tg[i] = (int32_t)(rnd_uniform() * 37); }
    float kl;
    double dl_max, g_max;
    hl_model_init(st, 5);
    hl_model_init(te, 5);
    rc = student_step(st, te, tok, tg, B, T, &kl, &dl_max, &g_max, err, sizeof err);
    hl_check(rc == HL_OK && fabs(kl) < 1e-7 && dl_max == 0 && g_max == 0, "student_equal_to_teacher_kl_zero",
             "rc %d %s: kl %.3g, max |dlogits| %.3g, max |grad| %.3g", rc, err, kl, dl_max, g_max);
    hl_model_init(te, 6);   // another teacher: the same check must now see a KL and gradients
    rc = student_step(st, te, tok, tg, B, T, &kl, &dl_max, &g_max, err, sizeof err);
    hl_check(rc == HL_OK && kl > 1e-4 && dl_max > 1e-6 && g_max > 1e-6, "student_unlike_teacher_kl_positive",
             "rc %d %s: kl %.3g, max |dlogits| %.3g, max |grad| %.3g", rc, err, kl, dl_max, g_max);
    hl_model_free(st);
    hl_model_free(te);
    hl_spec_free(&spec);
}

int main(void) {
    test_loss_and_gradient();
    test_student_equals_teacher();
    return hl_test_done();
}
