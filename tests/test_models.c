// test_models.c: whole-model gradient checks against central finite
// differences (cpu_ref), cpu vs cpu_ref parity, determinism, logits at
// selected positions, parameter counts, layer registry.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/test.h"
#include "models/layer.h"
#include "models/losses.h"

// ---------------------------------------------------------------- configs
typedef struct {
    const char *name, *layers;
    int d, H, Hkv, hd, window, meta, ffn_swiglu, d_ff, tied, V;
    int n_global; int global[4];
    int n_share; int share[4][3];   // groups of up to 3 consecutive layers (0-terminated after first)
    int share_len[4];
    const char *ffn_pattern;        // NULL: ffn_swiglu on every layer; else per layer, cyclic: 's' swiglu, 'n' none
    int ssm_groups;                 // model.ssm.ngroups (0: 1)
    int inner_norms, no_rope;       // model.ssm.inner_norms, model.attn.rope = false
} tiny_spec;

static hl_model_config make_cfg(const tiny_spec *s) {
    hl_model_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = s->V; c.d_model = s->d;
    c.n_layers = (int)strlen(s->layers);
    snprintf(c.layers_pattern, sizeof c.layers_pattern, "%s", s->layers);
    c.attn.n_heads = s->H; c.attn.n_kv_heads = s->Hkv; c.attn.head_dim = s->hd;
    c.attn.rope_theta = 10000.0f; c.attn.window = s->window;
    c.ssm.d_state = 4; c.ssm.d_conv = 3; c.ssm.expand = 2; c.ssm.dt_rank = 2;
    c.ssm.headdim = 4; c.ssm.ngroups = s->ssm_groups ? s->ssm_groups : 1; c.ssm.chunk_size = 3;   // Mamba-2 ('M'): chunks shorter than T
    c.ssm.inner_norms = s->inner_norms; c.attn.no_rope = s->no_rope;
    // The dt norm of 2 channels is nearly x/|x| (sharp for small rows, beyond
    // what finite differences resolve): 4 with inner norms.
    if (s->inner_norms) c.ssm.dt_rank = 4;
    c.meta_tokens = s->meta;
    c.ffn.type = s->ffn_swiglu ? HL_FFN_SWIGLU : HL_FFN_NONE; c.ffn.d_ff = s->d_ff;
    for (int i = 0; s->ffn_pattern && s->ffn_pattern[i]; i++)
        c.ffn.pattern[c.ffn.n_pattern++] = s->ffn_pattern[i] == 's' ? HL_FFN_SWIGLU : HL_FFN_NONE;
    c.tie_embeddings = s->tied; c.norm_eps = 1e-5f;
    for (int l = 0; l < c.n_layers; l++) {
        hl_layer_plan *p = &c.layer[l];
        p->kind = s->layers[l];
        p->kv_source = -1;
        p->ffn = hl_ffn_of_layer(&c, l);
        const hl_layer_type *t = hl_mixer_type(p->kind);
        int kv = t && (t->caps & HL_CAP_KV);
        p->v_head_dim = kv ? t->default_v_head_dim(&c) : 0;   // head_dim; d_inner / n_heads in H layers
        int global = 1;
        if (s->window > 0) {
            global = 0;
            for (int g = 0; g < s->n_global; g++) global |= s->global[g] == l;
        }
        p->window = (kv && !global) ? s->window : 0;
    }
    for (int g = 0; g < s->n_share; g++)
        for (int j = 1; j < s->share_len[g]; j++) c.layer[s->share[g][j]].kv_source = s->share[g][0];
    return c;
}

// A: SWA + meta + KV sharing + GQA, swiglu, untied
static const tiny_spec SPEC_A = { "attn_swa_meta_kvshare_gqa", "AAA", 16, 4, 2, 4, 3, 2, 1, 24, 0, 11,
                                  1, {0}, 1, {{1, 2}}, {2}, NULL, 0, 0, 0 };
// S: Mamba with meta tokens, no FFN, tied
static const tiny_spec SPEC_S = { "mamba_meta_noffn", "SS", 8, 0, 0, 0, 0, 2, 0, 0, 1, 9,
                                  0, {0}, 0, {{0}}, {0}, NULL, 0, 0, 0 };
// H: hybrid heads with meta, SWA, KV sharing (group of 3), swiglu, tied
static const tiny_spec SPEC_H = { "hybrid_meta_swa_kvshare", "HHHH", 12, 4, 2, 4, 3, 3, 1, 16, 1, 10,
                                  1, {0}, 1, {{1, 2, 3}}, {3}, NULL, 0, 0, 0 };
// mix: A, H, S with an A->A share through an S layer, no FFN, untied
static const tiny_spec SPEC_MIX = { "mix_AHSA", "AHSA", 16, 4, 4, 4, 4, 1, 0, 0, 0, 12,
                                    1, {1}, 1, {{0, 3}}, {2}, NULL, 0, 0, 0 };

// M: Mamba-2 with 2 groups of B/C (4 heads) and the grouped gated norm, meta tokens, swiglu
static const tiny_spec SPEC_M2G = { "mamba2_groups2_meta", "MM", 8, 0, 0, 0, 0, 2, 1, 12, 0, 9,
                                    0, {0}, 0, {{0}}, {0}, NULL, 2, 0, 0 };
// Jamba-like: inner norms on dt, B, C in S and H layers, attention without
// RoPE, GQA, meta tokens, swiglu, untied
static const tiny_spec SPEC_INNER = { "inner_norms_no_rope_SAHA", "SAHA", 8, 2, 1, 4, 0, 2, 1, 12, 0, 9,
                                      0, {0}, 0, {{0}}, {0}, NULL, 0, 1, 1 };
// C: Conba (hylab interpretation) with meta tokens, swiglu, between them an attention layer
static const tiny_spec SPEC_C = { "conba_meta_swiglu_CAC", "CAC", 8, 2, 1, 4, 0, 2, 1, 12, 0, 9,
                                  0, {0}, 0, {{0}}, {0}, NULL, 0, 0, 0 };
// FFN per layer: pattern swiglu, none over "ASA" (layer 1 has no FFN), untied
static const tiny_spec SPEC_FFN_PATTERN = { "ffn_pattern_swiglu_none", "ASA", 8, 2, 1, 4, 0, 1, 1, 12, 0, 9,
                                            0, {0}, 0, {{0}}, {0}, "sn", 0, 0, 0 };

// ---------------------------------------------------------------- helpers
typedef struct { int B, T; int32_t *tokens, *pos, *targets; int n_out; } batch;

static uint64_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static double rnd_normal(void) {
    double u1 = (rnd() + 1.0) / 4294967297.0, u2 = rnd() / 4294967296.0;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

// Labelled subset of positions in scrambled order, one target ignored.
static batch make_batch(int B, int T, int V) {
    batch b = { B, T, malloc(sizeof(int32_t) * B * T), malloc(sizeof(int32_t) * B * T),
                malloc(sizeof(int32_t) * B * T), 0 };
    for (int i = 0; i < B * T; i++) b.tokens[i] = (int32_t)(rnd() % (uint32_t)V);
    for (int i = B * T - 1; i >= 0; i -= 2) b.pos[b.n_out++] = i;     // every other position, reversed
    b.pos[b.n_out++] = 0;
    for (int i = 0; i < b.n_out; i++) b.targets[i] = (int32_t)(rnd() % (uint32_t)V);
    b.targets[1] = -1;
    return b;
}
static void free_batch(batch *b) { free(b->tokens); free(b->pos); free(b->targets); }

static hl_model *make_model(const hl_model_config *c, const hl_backend *be, int B, int T) {
    char err[512];
    hl_model *m = hl_model_create(c, be, B, T, err, sizeof err);
    if (!m) { printf("create failed: %s\n", err); return NULL; }
    hl_model_init(m, 7);
    // move off the init's special values (norms 1, D 1, zeros) so every path matters
    float *p = hl_model_params(m);
    for (size_t i = 0; i < hl_model_numel(m); i++) p[i] += (float)(0.2 * rnd_normal());   // ~1/sqrt(d): O(1) activations
    // dt biases near 0 (delta ~ softplus(0) ~ 0.7) so the scan depends strongly
    // on dt, B, C: with the Mamba init (delta ~ 0.01) their gradients sit at
    // the level of fp32 finite-difference noise.
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        if (strstr(t->name, "dt_proj.bias"))
            for (size_t j = 0; j < t->numel; j++) p[t->offset + j] = (float)(0.5 * rnd_normal());
    }
    return m;
}

// Forward to logits, then the cross-entropy of losses.h (its gradient into
// dlogits when not NULL). NAN when either refuses (reported as a failure).
static double loss_and_dlogits(hl_model *m, const batch *b, float *dlogits) {
    char err[512];
    const float *logits;
    float *row_losses, loss;
    hl_model_loss_buffers(m, NULL, &row_losses);
    int rc = hl_model_forward(m, b->tokens, b->B, b->T, b->pos, b->n_out, &logits, err, sizeof err);
    if (!rc) rc = hl_loss_xent(hl_model_ops(m), logits, b->targets, b->n_out, hl_model_cfg(m)->vocab_size, -1,
                               row_losses, dlogits, &loss, NULL, err, sizeof err);
    if (rc) { hl_check(0, "loss_of", "%s", err); return NAN; }
    return loss;
}

// The mean of the per-row losses summed in double: hl_loss_xent's float mean
// is quantised at its ulp (2.4e-7 at a loss of 2.5), which finite
// differences divide by 12 eps; the rows' own rounding averages out.
static double loss_of(hl_model *m, const batch *b) {
    float *row_losses;
    if (isnan(loss_and_dlogits(m, b, NULL))) return NAN;
    hl_model_loss_buffers(m, NULL, &row_losses);
    double sum = 0;
    int n = 0;
    for (int i = 0; i < b->n_out; i++)
        if (b->targets[i] != -1) { sum += row_losses[i]; n++; }
    return n ? sum / n : 0.0;
}

// 4-point central difference of the loss along unit direction v of tensor t
// (error O(eps^4)).
static double fd_along(hl_model *m, const batch *b, const hl_tensor_info *t, const float *v, double eps) {
    float *p = hl_model_params(m) + t->offset;
    float *saved = malloc(t->numel * sizeof(float));
    memcpy(saved, p, t->numel * sizeof(float));
    const double steps[4] = { 2, 1, -1, -2 }, coef[4] = { -1, 8, -8, 1 };
    double fd = 0;
    for (int s = 0; s < 4; s++) {
        for (size_t i = 0; i < t->numel; i++) p[i] = saved[i] + (float)(steps[s] * eps * v[i]);
        fd += coef[s] * loss_of(m, b);
    }
    memcpy(p, saved, t->numel * sizeof(float));
    free(saved);
    return fd / (12 * eps);
}

static const double GRAD_TOL = 2e-2;
// The absolute floor on |g.v| in the relative error. The float forward's
// rounding puts noise of about 3e-5 on a finite-difference derivative of the
// loss (measured: Conba's scale_proj.bias along its own gradient, |g| 2.3e-4,
// 2.8e-5 apart across random draws); a floor of 2e-3 keeps that under
// GRAD_TOL while an error of 4e-5 on a vanishing derivative, or 2% on a
// large one, still fails.
static const double FD_FLOOR = 2e-3;

// Compares the analytic g.v with finite differences. fp32 forces a trade-off:
// a large eps suffers curvature (sharp softmax, exp in the scan), a small one
// rounding noise; so eps = 5e-3 is tried first and 2e-3 when it misses. A
// wrong gradient misses at both. Returns the relative error (absolute floor
// FD_FLOOR on the magnitude).
static double dir_check(hl_model *m, const batch *b, const hl_tensor_info *t, const float *grad,
                        const float *v, double *an_out, double *fd_out) {
    double an = 0;
    for (size_t i = 0; i < t->numel; i++) an += (double)grad[i] * v[i];
    const double eps[2] = { 5e-3, 2e-3 };
    double best = INFINITY;
    *fd_out = NAN;
    for (int k = 0; k < 2 && best >= GRAD_TOL; k++) {
        double fd = fd_along(m, b, t, v, eps[k]);
        double e = fabs(fd - an) / (fmax(fabs(fd), fabs(an)) + FD_FLOOR);
        if (!(e >= best)) { best = e; *fd_out = fd; }
    }
    *an_out = an;
    return best;
}

static void unit_random(float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) { v[i] = (float)rnd_normal(); s += (double)v[i] * v[i]; }
    for (size_t i = 0; i < n; i++) v[i] = (float)(v[i] / sqrt(s));
}
static void unit_along(float *v, const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    if (s == 0) { unit_random(v, n); return; }
    for (size_t i = 0; i < n; i++) v[i] = (float)(g[i] / sqrt(s));
}

// (g/|g| + r)/norm with r a random unit vector: the derivative stays of the
// order of |g| (well above fp32 noise) while errors orthogonal to g still
// show through the random part.
static void unit_mixed(float *v, const float *g, size_t n) {
    float *r = malloc(n * sizeof(float));
    unit_random(r, n);
    unit_along(v, g, n);
    double s = 0;
    for (size_t i = 0; i < n; i++) { v[i] += r[i]; s += (double)v[i] * v[i]; }
    for (size_t i = 0; i < n; i++) v[i] = (float)(v[i] / sqrt(s));
    free(r);
}

// Worst relative error over every tensor, two directions each (mixed and
// along the analytic gradient). grads: analytic gradient arena to compare.
static double grad_check_all(hl_model *m, const batch *b, const float *grads, char *worst, size_t wl) {
    double worst_err = 0;
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        const float *g = grads + t->offset;
        float *v = malloc(t->numel * sizeof(float));
        for (int dir = 0; dir < 2; dir++) {
            if (dir == 0) unit_mixed(v, g, t->numel); else unit_along(v, g, t->numel);
            double an, fd, e = dir_check(m, b, t, g, v, &an, &fd);
            if (e > worst_err) {
                worst_err = e;
                snprintf(worst, wl, "%s (%s dir): analytic %.6g vs fd %.6g", t->name,
                         dir ? "grad" : "mixed", an, fd);
            }
        }
        free(v);
    }
    return worst_err;
}

static float *backward_copy(hl_model *m, const batch *b, double *loss) {
    char err[512];
    float *dlogits;
    hl_model_loss_buffers(m, &dlogits, NULL);
    hl_model_zero_grad(m);
    *loss = loss_and_dlogits(m, b, dlogits);
    if (hl_model_backward(m, dlogits, err, sizeof err)) hl_check(0, "backward", "%s", err);
    float *g = malloc(hl_model_numel(m) * sizeof(float));
    memcpy(g, hl_model_grads(m), hl_model_numel(m) * sizeof(float));
    return g;
}

static int find_tensor(hl_model *m, const char *name) {
    for (int i = 0; i < hl_model_num_tensors(m); i++)
        if (!strcmp(hl_model_tensor(m, i)->name, name)) return i;
    return -1;
}

// ---------------------------------------------------------------- tests
static void test_gradients(const tiny_spec *s, int corrupt) {
    hl_model_config c = make_cfg(s);
    const int B = 2, T = 7;
    hl_model *m = make_model(&c, hl_backend_get("cpu_ref"), B, T);
    char name[128];
    snprintf(name, sizeof name, "grad_fd_%s", s->name);
    if (!m) { hl_check(0, name, "model create failed"); return; }
    batch b = make_batch(B, T, c.vocab_size);
    double loss;
    float *g = backward_copy(m, &b, &loss);
    char worst[256] = "";
    double err = grad_check_all(m, &b, g, worst, sizeof worst);
    printf("# %s: worst rel err %.3g at %s\n", s->name, err, worst);
    hl_check(isfinite(loss) && err < GRAD_TOL, name, "loss %g, worst rel err %.3g at %s", loss, err, worst);
    if (corrupt) {
        // The check must be able to fail: corrupt one entry of the K
        // producer's gradient (what a lost consumer dK would look like).
        int i = find_tensor(m, "model.layers.1.self_attn.k_proj.weight");
        const hl_tensor_info *t = hl_model_tensor(m, i);
        double nrm = 0;
        for (size_t j = 0; j < t->numel; j++) nrm += (double)g[t->offset + j] * g[t->offset + j];
        float *gi = &g[t->offset + 3];
        *gi += (float)(copysign(0.3, *gi) * sqrt(nrm));   // same sign: the error shows along g
        double err2 = grad_check_all(m, &b, g, worst, sizeof worst);
        printf("# %s corrupted: worst rel err %.3g at %s\n", s->name, err2, worst);
        snprintf(name, sizeof name, "grad_fd_detects_corruption_%s", s->name);
        hl_check(err2 > GRAD_TOL, name, "corrupted gradient passed (worst %.3g)", err2);
    }
    free(g);
    free_batch(&b);
    hl_model_free(m);
}

// cpu vs cpu_ref: same parameters, loss and gradients within 1e-4 relative.
static void test_parity(const tiny_spec *s) {
    hl_model_config c = make_cfg(s);
    const int B = 2, T = 9;
    char name[128];
    snprintf(name, sizeof name, "parity_cpu_vs_cpu_ref_%s", s->name);
    hl_model *ref = make_model(&c, hl_backend_get("cpu_ref"), B, T);
    hl_model *fast = make_model(&c, hl_backend_get("cpu"), B, T);
    if (!ref || !fast) { hl_check(0, name, "create failed"); return; }
    memcpy(hl_model_params(fast), hl_model_params(ref), hl_model_numel(ref) * sizeof(float));
    batch b = make_batch(B, T, c.vocab_size);
    double l_ref, l_fast;
    float *g_ref = backward_copy(ref, &b, &l_ref), *g_fast = backward_copy(fast, &b, &l_fast);
    double worst = fabs(l_ref - l_fast) / fabs(l_ref);
    char where[128] = "loss";
    for (int i = 0; i < hl_model_num_tensors(ref); i++) {
        const hl_tensor_info *t = hl_model_tensor(ref, i);
        double mx = 0, diff = 0;
        for (size_t j = 0; j < t->numel; j++) {
            mx = fmax(mx, fabs(g_ref[t->offset + j]));
            diff = fmax(diff, fabs(g_ref[t->offset + j] - g_fast[t->offset + j]));
        }
        double e = diff / (mx + 1e-6);
        if (e > worst) { worst = e; snprintf(where, sizeof where, "%s", t->name); }
    }
    hl_check(worst < 1e-4, name, "rel diff %.3g at %s (loss %g vs %g)", worst, where, l_ref, l_fast);
    free(g_ref); free(g_fast); free_batch(&b);
    hl_model_free(ref); hl_model_free(fast);
}

// Two forwards bit-identical; logits at selected positions equal the rows
// of the all-positions forward.
static void test_forward_properties(const tiny_spec *s, const hl_backend *ops) {
    hl_model_config c = make_cfg(s);
    const int B = 2, T = 6, V = c.vocab_size;
    char name[128];
    hl_model *m = make_model(&c, ops, B, T);
    snprintf(name, sizeof name, "deterministic_%s_%s", ops->name, s->name);
    if (!m) { hl_check(0, name, "create failed"); return; }
    batch b = make_batch(B, T, V);
    const float *lg;
    hl_model_forward(m, b.tokens, B, T, NULL, B * T, &lg, NULL, 0);
    float *all = malloc(sizeof(float) * B * T * V);
    memcpy(all, lg, sizeof(float) * B * T * V);
    hl_model_forward(m, b.tokens, B, T, NULL, B * T, &lg, NULL, 0);
    hl_check(!memcmp(all, lg, sizeof(float) * B * T * V), name, "two forwards differ");
    hl_model_forward(m, b.tokens, B, T, b.pos, b.n_out, &lg, NULL, 0);
    double worst = 0;
    for (int i = 0; i < b.n_out; i++)
        for (int v = 0; v < V; v++)
            worst = fmax(worst, fabs(lg[(size_t)i * V + v] - all[(size_t)b.pos[i] * V + v]));
    snprintf(name, sizeof name, "selected_logits_match_all_%s_%s", ops->name, s->name);
    hl_check(worst < 1e-5, name, "max abs diff %.3g", worst);
    // a smaller batch than max_B gives the same rows as the full batch
    hl_model_forward(m, b.tokens + T, 1, T, NULL, T, &lg, NULL, 0);
    worst = 0;
    for (int i = 0; i < T * V; i++) worst = fmax(worst, fabs(lg[i] - all[(size_t)T * V + i]));
    snprintf(name, sizeof name, "batch_independent_%s_%s", ops->name, s->name);
    hl_check(worst < 1e-5, name, "max abs diff %.3g", worst);
    free(all); free_batch(&b); hl_model_free(m);
}

// Programming errors are statuses with a message, never NaN logits; a
// refused forward leaves nothing for backward.
static void test_bad_inputs(void) {
    hl_model_config c = make_cfg(&SPEC_A);
    const int B = 2, T = 6, V = c.vocab_size;
    hl_model *m = make_model(&c, hl_backend_get("cpu"), B, T);
    if (!m) { hl_check(0, "bad_inputs_create", "create failed"); return; }
    batch b = make_batch(B, T, V);
    char err[512] = "";
    const float *lg;
    float *dl;
    hl_model_loss_buffers(m, &dl, NULL);
    int rc = hl_model_forward(m, b.tokens, B, T, b.pos, b.n_out, &lg, err, sizeof err);
    hl_check(rc == HL_OK, "good_forward_ok", "%s", err);
    b.tokens[3] = V;
    rc = hl_model_forward(m, b.tokens, B, T, b.pos, b.n_out, &lg, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "token") && strstr(err, "position 3"), "bad_token_is_status",
             "rc %d: %s", rc, err);
    rc = hl_model_backward(m, dl, err, sizeof err);
    hl_check(rc == HL_EBADINPUT, "backward_after_refused_forward", "rc %d", rc);
    b.tokens[3] = -1;
    rc = hl_model_forward(m, b.tokens, B, T, b.pos, b.n_out, &lg, err, sizeof err);
    hl_check(rc == HL_EBADINPUT, "negative_token_is_status", "rc %d", rc);
    b.tokens[3] = 0;
    b.pos[0] = B * T;
    rc = hl_model_forward(m, b.tokens, B, T, b.pos, b.n_out, &lg, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "out_pos"), "bad_position_is_status", "rc %d: %s", rc, err);
    rc = hl_model_forward(m, b.tokens, B + 1, T, NULL, T, &lg, err, sizeof err);
    hl_check(rc == HL_EBADINPUT, "batch_over_max_is_status", "rc %d", rc);
    free_batch(&b); hl_model_free(m);
}

// The auxiliary-loss hook walks every mixer and FFN (hl_model_part); no
// registered module declares HL_CAP_AUX_LOSS yet, so the sum is 0.
static void test_aux_loss(const tiny_spec *s) {
    hl_model_config c = make_cfg(s);
    hl_model *m = make_model(&c, hl_backend_get("cpu"), 1, 4);
    char name[128], err[256] = "";
    if (!m) return;
    int parts = 0, aux = 0;
    for (int l = 0; l < c.n_layers + 1; l++)
        for (int part = HL_PART_MIXER; part <= HL_PART_FFN; part++) {
            const hl_layer *L = hl_model_part(m, l, part);
            if (!L) continue;
            parts++;
            aux += (L->type->caps & HL_CAP_AUX_LOSS) != 0;
        }
    int want = c.n_layers * (c.ffn.type == HL_FFN_NONE ? 1 : 2);
    float loss = 1.0f;
    int rc = hl_loss_aux(m, &loss, err, sizeof err);
    snprintf(name, sizeof name, "aux_loss_walk_%s", s->name);
    hl_check(rc == HL_OK && parts == want && aux == 0 && loss == 0.0f, name,
             "rc %d: %d parts (want %d), %d with aux loss, sum %g %s", rc, parts, want, aux, loss, err);
    hl_model_free(m);
}

static void test_counts(const tiny_spec *s) {
    hl_model_config c = make_cfg(s);
    hl_tensor_info *t;
    int n = hl_model_tensors(&c, &t);
    int64_t sum = 0, comp = 0;
    for (int i = 0; i < n; i++) sum += (int64_t)t[i].numel;
    hl_model_counts k = hl_model_count(&c, 64);
    for (int i = 0; i < 8; i++) comp += k.by_component[i];
    char name[128];
    snprintf(name, sizeof name, "counts_%s", s->name);
    hl_check(n > 0 && k.params == sum && comp == sum && k.flops_per_token > 0,
             name, "tensors %d, sum %lld, count %lld, by component %lld", n, (long long)sum, (long long)k.params, (long long)comp);
    hl_model *m = hl_model_create(&c, hl_backend_get("cpu_ref"), 1, 4, (char[256]){0}, 256);
    snprintf(name, sizeof name, "numel_matches_count_%s", s->name);
    hl_check(m && (int64_t)hl_model_numel(m) == sum, name, "numel %zu vs %lld", m ? hl_model_numel(m) : 0, (long long)sum);
    hl_model_free(m);
    free(t);
}

// Logits (B*T, V) at every position of one batch (n_out = B*T), malloc'd; NULL on failure.
static float *all_logits(hl_model *m, const batch *b, int V) {
    char err[256];
    const float *lg;
    int32_t *pos = malloc(sizeof(int32_t) * b->B * b->T);
    for (int i = 0; i < b->B * b->T; i++) pos[i] = i;
    float *out = NULL;
    if (hl_model_forward(m, b->tokens, b->B, b->T, pos, b->B * b->T, &lg, err, sizeof err) == HL_OK) {
        size_t n = (size_t)b->B * b->T * V;
        out = malloc(n * sizeof(float));
        memcpy(out, lg, n * sizeof(float));
    }
    free(pos);
    return out;
}

// The inner norms add R + 2N weights per S/H layer under Jamba's names; the
// attention without RoPE changes the logits (same weights) and leaves every
// count alone; with RoPE off, attention-only logits do not depend on where a
// repeated pair of tokens sits (no position information reaches them).
static void test_inner_norms_and_no_rope(void) {
    uint64_t outer = rng_state;   // leave the later tests' random draws as they were
    hl_model_config on = make_cfg(&SPEC_INNER);
    hl_model_config off = on;
    off.ssm.inner_norms = 0;
    int64_t d = hl_model_count(&on, 16).params - hl_model_count(&off, 16).params;
    int R = on.ssm.dt_rank, N = on.ssm.d_state;
    hl_check(d == 2 * (R + 2 * N), "inner_norms_params_2_layers", "got %lld want %d", (long long)d, 2 * (R + 2 * N));
    hl_model *m = hl_model_create(&on, hl_backend_get("cpu_ref"), 1, 4, (char[256]){0}, 256);
    if (!hl_check(m != NULL, "inner_norms_create", "failed")) return;
    const char *names[] = { "model.layers.0.mamba.dt_layernorm.weight", "model.layers.0.mamba.b_layernorm.weight",
                            "model.layers.2.mamba.c_layernorm.weight" };
    int64_t want[] = { R, N, N };
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        int t = find_tensor(m, names[i]);
        ok &= t >= 0 && (int64_t)hl_model_tensor(m, t)->numel == want[i];
    }
    hl_check(ok && find_tensor(m, "model.layers.1.mamba.dt_layernorm.weight") < 0, "inner_norms_names_S_H_only",
             "missing or misplaced dt/b/c_layernorm");
    hl_model_free(m);

    hl_model_config rope = on;
    rope.attn.no_rope = 0;
    hl_check(hl_model_count(&rope, 16).params == hl_model_count(&on, 16).params, "no_rope_same_params", "counts differ");
    const int B = 1, T = 6;
    batch b = make_batch(B, T, on.vocab_size);
    uint64_t saved = rng_state;
    hl_model *a = make_model(&on, hl_backend_get("cpu_ref"), B, T);
    rng_state = saved;
    hl_model *r = make_model(&rope, hl_backend_get("cpu_ref"), B, T);
    float *la = a ? all_logits(a, &b, on.vocab_size) : NULL, *lr = r ? all_logits(r, &b, on.vocab_size) : NULL;
    double diff = 0;
    for (int i = 0; la && lr && i < B * T * on.vocab_size; i++) diff = fmax(diff, fabs(la[i] - lr[i]));
    hl_check(la && lr && diff > 1e-4, "no_rope_changes_logits", "max |diff| %g", diff);
    free(la); free(lr);
    hl_model_free(a); hl_model_free(r);

    // one attention layer, no meta: tokens (x, y, x, y, ...) give the same logits at
    // every y position without RoPE (causal attention over a multiset of keys that
    // is the same up to multiplicity), and different ones with RoPE
    tiny_spec s1 = SPEC_INNER;
    s1.layers = "A"; s1.meta = 0;
    hl_model_config c1 = make_cfg(&s1);
    for (int withrope = 0; withrope < 2; withrope++) {
        c1.attn.no_rope = !withrope;
        hl_model *m1 = make_model(&c1, hl_backend_get("cpu_ref"), 1, T);
        batch xy = make_batch(1, T, c1.vocab_size);
        for (int t = 0; t < T; t++) xy.tokens[t] = t % 2 ? 5 : 3;
        float *l = m1 ? all_logits(m1, &xy, c1.vocab_size) : NULL;
        double dd = 0;
        for (int v = 0; l && v < c1.vocab_size; v++) dd = fmax(dd, fabs(l[1 * c1.vocab_size + v] - l[5 * c1.vocab_size + v]));
        if (withrope) hl_check(l && dd > 1e-4, "rope_sees_position", "max |diff| %g", dd);
        else hl_check(l && dd < 1e-5, "no_rope_position_free", "max |diff| %g", dd);
        free(l); free_batch(&xy); hl_model_free(m1);
    }
    free_batch(&b);
    rng_state = outer;
}

// Hand-computed cache bytes and attention FLOPs growth.
static void test_cache_and_flops(void) {
    hl_model_config c = make_cfg(&SPEC_H);   // d 12, Hkv 2, hd 4, vd 6, W 3, meta 3, share {1,2,3}
    // layer 0 global: 2*(4+6)*2 bytes*(10+3); layer 1 SWA producer: 2*(4+6)*2*(3+3);
    // consumers 2, 3: nothing; SSM state of 4 layers: (24*4 + 24*3)*2 each
    int64_t want = 2 * 10 * 2 * 13 + 2 * 10 * 2 * 6 + 4 * (24 * 4 + 24 * 3) * 2;
    int64_t got = hl_model_cache_bytes(&c, 10, 2);
    hl_check(got == want, "cache_bytes_hybrid_by_hand", "got %lld want %lld", (long long)got, (long long)want);
    c = make_cfg(&SPEC_A);   // H 4, hd 4, vd 4, W 3, only layer 0 global
    double dflops = hl_model_count(&c, 20).flops_per_token - hl_model_count(&c, 10).flops_per_token;
    hl_check(dflops == 2.0 * 4 * (4 + 4) * 10, "flops_grow_with_global_context_only", "delta %g", dflops);
    c = make_cfg(&SPEC_S);
    hl_check(hl_model_count(&c, 10).flops_per_token == hl_model_count(&c, 1000).flops_per_token &&
             hl_model_cache_bytes(&c, 10, 4) == hl_model_cache_bytes(&c, 100000, 4),
             "ssm_cost_independent_of_context", "S-only model depends on T");
}

static void test_names_and_init(void) {
    hl_model_config c = make_cfg(&SPEC_H);
    hl_model *m = hl_model_create(&c, hl_backend_get("cpu_ref"), 1, 4, (char[256]){0}, 256);
    if (!hl_check(m != NULL, "hybrid_create", "failed")) return;
    hl_check(find_tensor(m, "model.layers.1.self_attn.k_proj.weight") >= 0 &&
             find_tensor(m, "model.layers.2.self_attn.k_proj.weight") < 0 &&
             find_tensor(m, "model.layers.3.self_attn.v_proj.weight") < 0 &&
             find_tensor(m, "model.layers.0.hybrid.attn_norm.weight") >= 0 &&
             find_tensor(m, "model.layers.0.mamba.out_proj.weight") < 0 &&
             find_tensor(m, "model.memory_tokens") >= 0 && find_tensor(m, "lm_head.weight") < 0,
             "hf_names_kv_consumers_tied", "unexpected tensor set");
    hl_model_init(m, 3);
    float *p = hl_model_params(m);
    const hl_tensor_info *alog = hl_model_tensor(m, find_tensor(m, "model.layers.0.mamba.A_log"));
    const hl_tensor_info *dtb = hl_model_tensor(m, find_tensor(m, "model.layers.0.mamba.dt_proj.bias"));
    int ok = fabsf(p[alog->offset + 3] - logf(4.0f)) < 1e-6f;
    for (size_t i = 0; i < dtb->numel; i++) {   // softplus(bias) in [1e-3, 1e-1]
        double dt = log1p(exp(p[dtb->offset + i]));
        ok &= dt > 0.9e-3 && dt < 1.1e-1;
    }
    hl_check(ok, "mamba_init_A_log_dt_bias", "A_log or dt bias outside the state-spaces/mamba init");
    float *copy = malloc(hl_model_numel(m) * sizeof(float));
    memcpy(copy, p, hl_model_numel(m) * sizeof(float));
    hl_model_init(m, 3);
    int same = !memcmp(copy, p, hl_model_numel(m) * sizeof(float));
    hl_model_init(m, 4);
    hl_check(same && memcmp(copy, p, hl_model_numel(m) * sizeof(float)), "init_pure_function_of_seed",
             "same seed differs or different seed equal");
    free(copy);
    hl_model_free(m);
}

static void test_registry(void) {
    int n = hl_layer_type_count(), ok = n >= 4;
    for (int i = 0; i < n; i++) {
        const hl_layer_type *t = hl_layer_types[i];
        ok &= t->declare && t->init && t->forward && t->backward && t->flops && t->cache_bytes &&
              t->act_floats && t->scratch_floats;
    }
    hl_check(ok && hl_mixer_type('A') && hl_mixer_type('S') && hl_mixer_type('H') && !hl_mixer_type('Z') &&
             hl_ffn_layer_type(HL_FFN_SWIGLU) && !hl_ffn_layer_type(HL_FFN_NONE),
             "registry_complete", "%d types", n);
}

static void test_bad_configs(void) {
    char err[256] = "";
    hl_model_config c = make_cfg(&SPEC_MIX);
    c.layer[3].kv_source = 2;   // an S layer as producer
    hl_check(hl_model_create(&c, hl_backend_get("cpu_ref"), 1, 4, err, sizeof err) == NULL && strstr(err, "kv_share"),
             "reject_ssm_kv_producer", "err '%s'", err);
    c = make_cfg(&SPEC_A);
    c.attn.n_kv_heads = 3;
    hl_check(hl_model_check(&c, err, sizeof err) == HL_EBADINPUT && strstr(err, "n_kv_heads"),
             "reject_bad_gqa", "err '%s'", err);
    // widths whose int products overflow (configs built without the spec's limits)
    c = make_cfg(&SPEC_A);
    c.attn.head_dim = 1 << 30;
    for (int l = 0; l < c.n_layers; l++) c.layer[l].v_head_dim = 1 << 30;
    hl_check(hl_model_check(&c, err, sizeof err) == HL_EBADINPUT && strstr(err, "must be at most 262144"),
             "reject_attention_width_overflow", "err '%s'", err);
    c = make_cfg(&SPEC_S);
    c.d_model = 1 << 20; c.ssm.expand = 4096;
    hl_check(hl_model_check(&c, err, sizeof err) == HL_EBADINPUT && strstr(err, "d_inner"),
             "reject_d_inner_overflow", "err '%s'", err);
}

// Counting is int64 throughout: x_proj has dt_rank + 2 * d_state rows, which
// overflows an int at d_state 2^30 (describe only counts, so nothing is built).
static void test_count_overflow(void) {
    hl_model_config c = make_cfg(&SPEC_S);
    c.ssm.d_state = 1 << 30;
    hl_tensor_info *t;
    int n = hl_model_tensors(&c, &t);
    int64_t di = (int64_t)c.ssm.expand * c.d_model, want = ((int64_t)c.ssm.dt_rank + 2 * ((int64_t)1 << 30)) * di;
    int found = 0;
    for (int i = 0; i < n; i++)
        if (strstr(t[i].name, "x_proj")) found += t[i].shape[0] * t[i].shape[1] == want && (int64_t)t[i].numel == want;
    free(t);
    hl_check(n > 0 && found == c.n_layers, "x_proj_count_is_int64", "%d of %d layers right", found, c.n_layers);
    hl_model_counts k = hl_model_count(&c, 64);
    hl_check(k.params > want * c.n_layers && k.flops_per_token > 6.0 * di * (1 << 30), "model_count_is_int64",
             "params %lld flops %g", (long long)k.params, k.flops_per_token);
}

// Every mixer in the registry gets a 2-layer gradient and parity check
// (layer i+1 shares layer i's K/V where the type has attention), so a new
// layer type is checked without editing this file.
static void test_registry_walk(void) {
    for (int i = 0; hl_layer_types[i]; i++) {
        const hl_layer_type *t = hl_layer_types[i];
        if (t->part != HL_PART_MIXER) continue;
        char layers[3] = { t->letter, t->letter, 0 }, name[64];
        snprintf(name, sizeof name, "registry_%s", t->name);
        tiny_spec s = { name, layers, 8, 2, 1, 4, 3, 2, 1, 12, i % 2, 7, 0, {0}, 0, {{0}}, {0}, NULL, 0, 0, 0 };
        hl_model_config c = make_cfg(&s);
        if (t->caps & HL_CAP_KV) { s.n_share = 1; s.share[0][0] = 0; s.share[0][1] = 1; s.share_len[0] = 2; }
        c = make_cfg(&s);
        if (hl_model_check(&c, NULL, 0) != HL_OK) {   // a type this generic config cannot build
            s.n_share = 0;
            c = make_cfg(&s);
        }
        test_gradients(&s, 0);
        test_parity(&s);
    }
}

// model.ffn.pattern: block l has an FFN (mlp tensors and its norm) exactly
// when the pattern gives it one; a plan that disagrees with model.ffn is refused.
static void test_ffn_pattern(void) {
    hl_model_config c = make_cfg(&SPEC_FFN_PATTERN);
    hl_tensor_info *t;
    int n = hl_model_tensors(&c, &t), mlp[3] = {0}, norm2[3] = {0};
    for (int i = 0; i < n; i++) {
        int l;
        if (sscanf(t[i].name, "model.layers.%d.", &l) != 1 || l < 0 || l > 2) continue;
        mlp[l] += strstr(t[i].name, ".mlp.") != NULL;
        norm2[l] += strstr(t[i].name, "post_attention_layernorm") != NULL;
    }
    free(t);
    hl_check(n > 0 && mlp[0] == 3 && mlp[1] == 0 && mlp[2] == 3 && norm2[0] == 1 && norm2[1] == 0 && norm2[2] == 1,
             "ffn_pattern_tensors", "mlp %d %d %d, post norms %d %d %d", mlp[0], mlp[1], mlp[2], norm2[0], norm2[1], norm2[2]);
    hl_check(c.layer[1].ffn == HL_FFN_NONE && c.layer[2].ffn == HL_FFN_SWIGLU, "ffn_pattern_plan", "%d %d",
             (int)c.layer[1].ffn, (int)c.layer[2].ffn);
    char err[256] = "";
    c.layer[1].ffn = HL_FFN_SWIGLU;
    int rc = hl_model_check(&c, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "layer 1's plan has FFN swiglu, model.ffn gives none"),
             "ffn_pattern_plan_must_match", "rc %d: %s", rc, err);
}

// Every registered type's sections are in the "model" section (one per name).
static void test_model_sections(void) {
    const hl_cfg_section *m = hl_model_section();
    for (int i = 0; hl_layer_types[i]; i++)
        for (int j = 0; j < HL_LAYER_MAX_SECTIONS && hl_layer_types[i]->sections[j]; j++) {
            const hl_cfg_section *sec = hl_layer_types[i]->sections[j];
            const hl_cfg_key *k = hl_cfg_find(m, sec->name, strlen(sec->name));
            char name[96];
            snprintf(name, sizeof name, "model_section_has_%s_%s", hl_layer_types[i]->name, sec->name);
            hl_check(k && k->kind == HL_CFG_SECTION && hl_cfg_same_section(k->section, sec), name, "missing or different");
        }
    hl_check(hl_cfg_find(m, "ffn", 3) != NULL, "model_section_has_ffn", "");
}

// Forward, cross-entropy (losses.h, through the model's op table) and
// backward of batch b: the first failing status, its message in err.
static int fwd_loss_bwd(hl_model *m, const batch *b, char *err, size_t errlen) {
    const float *logits;
    float *row_losses, *dlogits, loss;
    hl_model_loss_buffers(m, &dlogits, &row_losses);
    int rc = hl_model_forward(m, b->tokens, b->B, b->T, b->pos, b->n_out, &logits, err, errlen);
    if (!rc) rc = hl_loss_xent(hl_model_ops(m), logits, b->targets, b->n_out, hl_model_cfg(m)->vocab_size, -1,
                               row_losses, dlogits, &loss, NULL, err, errlen);
    if (!rc) rc = hl_model_backward(m, dlogits, err, errlen);
    return rc;
}

// Op statuses reach the model's caller: with any one op missing from the
// backend (NULL: HL_EUNSUPPORTED), a forward + loss + backward of a model
// that uses every op but adamw and the decoding ops (kernels.h; their
// statuses through prefill and step: tests/test_decode.c) returns that status with a message naming the
// op, so no call site in the model, a layer or the loss drops a status; a
// clean run is HL_OK, and a backward failure sticks (hl_model_last_status)
// until the next forward starts clean.
static void test_op_status_reaches_caller(void) {
    tiny_spec every = SPEC_MIX;   // every mixer: SPEC_MIX plus Mamba-2 (ssd_fwd, ssd_bwd) and Conba (conba_fwd, conba_bwd)
    every.layers = "AHSAMC";
    hl_model_config c = make_cfg(&every);
    c.ffn.moe = (hl_moe_config){ .n_experts = 3, .top_k = 2, .d_ff = 8, .router = HL_MOE_SOFTMAX_TOPK_RENORM,
                                 .load_balance = 0.01f, .z_loss = 0.001f, .every = 1 };
    c.ffn.type = HL_FFN_MOE; c.ffn.moe.every = 2; c.ffn.moe.offset = 1; c.ffn.n_pattern = 0; c.ffn.d_ff = 8;   // and moe FFNs (the moe_* ops), swiglu between
    for (int l = 0; l < c.n_layers; l++) c.layer[l].ffn = hl_ffn_of_layer(&c, l);
    const int B = 2, T = 5;
    char err[1024] = "";
    batch b = make_batch(B, T, c.vocab_size);
    const hl_backend *ref = hl_backend_get("cpu_ref");
    hl_model *clean = make_model(&c, ref, B, T);
    int crc = clean ? fwd_loss_bwd(clean, &b, err, sizeof err) : -1;
    hl_check(crc == HL_OK && hl_model_last_status(clean) == HL_OK, "op_status_ok_on_a_clean_run", "status %d: %s", crc, err);
    hl_model_free(clean);
    int missed = 0;
    char which[512] = "";
    for (int op = 0; op < HL_OP_COUNT; op++) {
        hl_ops ops = *ref->ops;
#define HL_NULL_OP(p, name, T) if (op == HL_OP_##name) ops.name = NULL;
        HL_OP_LIST(HL_NULL_OP, _)
#undef HL_NULL_OP
        hl_backend be = *ref;
        be.ops = &ops;
        hl_model *m = make_model(&c, &be, B, T);
        if (!m) { missed++; continue; }
        err[0] = 0;
        int decoding = op == HL_OP_cache_fill || op == HL_OP_attn_decode || op == HL_OP_conv1d_step ||
                       op == HL_OP_scan_state || op == HL_OP_scan_step || op == HL_OP_ssd_state ||
                       op == HL_OP_ssd_step || op == HL_OP_conba_state || op == HL_OP_conba_step;   // test_decode.c checks those
        int rc = fwd_loss_bwd(m, &b, err, sizeof err), want = op == HL_OP_adamw || decoding ? HL_OK : HL_EUNSUPPORTED;
        if (rc != want || (rc && !strstr(err, hl_op_names[op]))) {
            missed++;
            size_t len = strlen(which);
            snprintf(which + len, sizeof which - len, " %s(status %d)", hl_op_names[op], rc);
        }
        hl_model_free(m);
    }
    hl_check(!missed, "op_status_of_every_op_reaches_the_model_caller", "not propagated:%s", which);
    // a backward failure sticks until the next forward
    hl_ops ops = *ref->ops;
    ops.matmul_bwd = NULL;
    hl_backend be = *ref;
    be.ops = &ops;
    hl_model *m = make_model(&c, &be, B, T);
    int rc = fwd_loss_bwd(m, &b, err, sizeof err);
    int after_bwd = hl_model_last_status(m), named = strstr(err, "matmul_bwd") != NULL;
    const float *lg;
    int next = hl_model_forward(m, b.tokens, B, T, b.pos, b.n_out, &lg, err, sizeof err);
    hl_check(rc == HL_EUNSUPPORTED && named && after_bwd == HL_EUNSUPPORTED &&
             next == HL_OK && hl_model_last_status(m) == HL_OK,
             "op_status_of_backward_sticks_until_next_forward", "backward %d (last %d), next forward %d (last %d)",
             rc, after_bwd, next, hl_model_last_status(m));
    hl_model_free(m);
    free_batch(&b);
}

// One Conba mixer at d_model 2560, d_state 16, expand 2, d_conv 4, dt_rank
// 160, by hand (models/conba.c's formula): parameters d*3di 39,321,600 +
// di*(K+1) 25,600 + (R+4N)*di 1,146,880 + 2*(di*R+di) 1,648,640 + di*N 81,920
// + 4*di 20,480 + d*di 13,107,200 = 55,352,320; cache (K*di + di*(2N+2))
// floats, at 2 bytes 389,120 at any context; FLOPs per token 2*(d*3di +
// di*(R+4N) + 2*R*di + di*d) + 2*di*K + 10*di*N = 111,288,320.
static void test_conba_counts(void) {
    tiny_spec s = SPEC_C;
    s.layers = "C";
    hl_model_config c = make_cfg(&s);
    c.d_model = 2560; c.ssm.d_state = 16; c.ssm.expand = 2; c.ssm.d_conv = 4; c.ssm.dt_rank = 160;
    int ssm = -1;
    for (int i = 0; i < 8; i++) if (hl_component_names[i] && !strcmp(hl_component_names[i], "ssm")) ssm = i;
    hl_model_counts n = hl_model_count(&c, 4096);
    const hl_layer_type *t = hl_mixer_type('C');
    hl_check(ssm >= 0 && n.by_component[ssm] == 55352320, "conba_params_by_hand", "ssm params %lld",
             ssm >= 0 ? (long long)n.by_component[ssm] : -1LL);
    hl_check(t && t->cache_bytes(&c, 0, 1024, 2) == 389120 && t->cache_bytes(&c, 0, 262144, 2) == 389120,
             "conba_cache_bytes_by_hand_independent_of_context", "%lld", t ? (long long)t->cache_bytes(&c, 0, 1024, 2) : -1LL);
    hl_check(t && t->flops(&c, 0, 4096) == 111288320.0, "conba_flops_by_hand", "%.0f", t ? t->flops(&c, 0, 4096) : -1.0);
}

// The planted bug of the Conba mixer: cpu_ref's conba_bwd with one of its
// gradient paths broken; the model-level finite-difference check must
// notice each (-1: no bug, the same model passes). 0: the adaptive gain's
// decay gradient 30% too large; 1: the delayed term's gradient lost
// (ddelay not added). (The gradient of the feedback reference r shares
// in_proj with x and z; its loss is caught at the op: test_kernels.c's
// finite differences of conba_bwd, dr included.)
static int g_planted;
static int conba_bwd_planted(const hl_conba_bwd_args *a) {
    size_t bytes = sizeof(float) * (size_t)a->C;
    float *gd0 = malloc(bytes), *dl0 = malloc(bytes);   // the gradients before the op adds to them
    memcpy(gd0, a->dgain_decay, bytes);
    memcpy(dl0, a->ddelay, bytes);
    int rc = hl_ops_cpu_ref.conba_bwd(a);
    if (g_planted == 0)
        for (int c = 0; c < a->C; c++) a->dgain_decay[c] = gd0[c] + 1.3f * (a->dgain_decay[c] - gd0[c]);
    if (g_planted == 1) memcpy(a->ddelay, dl0, bytes);
    free(gd0);
    free(dl0);
    return rc;
}

// At init the Conba terms are small (delay logit -2, control 0.1): their
// gradients sit near fp32 noise in a model-level finite difference. This
// sets them where every path carries weight (lam = rho = 0.5, the state
// scale sigmoid(s) around 0.5, control 1) so
// the checks below can see each one.
static void conba_activate(hl_model *m) {
    float *p = hl_model_params(m);
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        if (strstr(t->name, "conba.in_proj.weight"))
            for (size_t j = 0; j < t->numel; j++) p[t->offset + j] *= 3.0f;
        float v = strstr(t->name, "conba.control") ? 1.0f : 0.0f;
        if (!strstr(t->name, "conba.delay") && !strstr(t->name, "conba.gain_decay") && !strstr(t->name, "conba.control") &&
            !strstr(t->name, "conba.scale_proj.bias"))
            continue;
        for (size_t j = 0; j < t->numel; j++) p[t->offset + j] = v;
    }
}

// The worst finite-difference error over the tensors whose name holds
// `part` (both directions of grad_check_all; dir_check's test with steps
// 2e-3, then 1e-3: with the terms activated the loss curves too sharply
// for dir_check's 5e-3, and the gradients are large enough for fp32).
static double tensors_err(hl_model *m, const batch *b, const float *grads, const char *part, char *worst, size_t wl) {
    double w = 0;
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        if (!strstr(t->name, part)) continue;
        float *v = malloc(t->numel * sizeof(float));
        for (int dir = 0; dir < 2; dir++) {
            if (dir == 0) unit_mixed(v, grads + t->offset, t->numel); else unit_along(v, grads + t->offset, t->numel);
            double an = 0, fd = NAN, e = INFINITY;
            for (size_t j = 0; j < t->numel; j++) an += (double)grads[t->offset + j] * v[j];
            const double eps[2] = { 2e-3, 1e-3 };   // the activated terms curve sharply: small steps
            for (int k = 0; k < 2 && e >= GRAD_TOL; k++) {
                double f = fd_along(m, b, t, v, eps[k]), ek = fabs(f - an) / (fmax(fabs(f), fabs(an)) + 1e-3);
                if (!(ek >= e)) { e = ek; fd = f; }
            }
            if (e > w) { w = e; snprintf(worst, wl, "%s: analytic %.6g vs fd %.6g", t->name, an, fd); }
        }
        free(v);
    }
    return w;
}

// Each planted bug shows at the tensors it touches, which pass without it.
static void test_conba_planted_bugs(void) {
    hl_model_config c = make_cfg(&SPEC_C);
    const int B = 2, T = 7;
    const char *what[2] = {"gain_decay_gradient_30pct", "delay_gradient_lost"};
    const char *where[2] = {"conba.gain_decay", "conba.delay"};
    for (g_planted = -1; g_planted < 2; g_planted++) {
        hl_ops ops = *hl_backend_get("cpu_ref")->ops;
        ops.conba_bwd = conba_bwd_planted;
        hl_backend be = *hl_backend_get("cpu_ref");
        be.ops = &ops;
        hl_model *m = make_model(&c, &be, B, T);
        if (!m) { hl_check(0, "conba_planted_bugs", "model create failed"); continue; }
        conba_activate(m);
        batch b = make_batch(B, T, c.vocab_size);
        double loss;
        float *g = backward_copy(m, &b, &loss);
        for (int k = 0; k < 2; k++) {
            if (g_planted >= 0 && k != g_planted) continue;
            char name[160], worst[256] = "";
            double err = tensors_err(m, &b, g, where[k], worst, sizeof worst);
            printf("# conba %s, %s: worst rel err %.3g at %s\n", g_planted < 0 ? "no bug" : what[g_planted], where[k],
                   err, worst);
            if (g_planted < 0) {
                snprintf(name, sizeof name, "grad_fd_conba_active_terms_%s", where[k]);
                hl_check(err < GRAD_TOL, name, "worst rel err %.3g at %s", err, worst);
            } else {
                snprintf(name, sizeof name, "grad_fd_detects_conba_%s", what[k]);
                hl_check(err > 5 * GRAD_TOL, name, "planted bug passed the check (worst %.3g at %s)", err, worst);
            }
        }
        free(g);
        free_batch(&b);
        hl_model_free(m);
    }
}

int main(void) {
    const char *seed = getenv("HL_TEST_SEED");   // stress runs: other random draws
    if (seed) rng_state = strtoull(seed, NULL, 10);
    test_registry();
    test_registry_walk();
    test_bad_inputs();
    test_model_sections();
    test_ffn_pattern();
    test_counts(&SPEC_FFN_PATTERN);
    test_gradients(&SPEC_FFN_PATTERN, 0);
    test_parity(&SPEC_FFN_PATTERN);
    test_bad_configs();
    test_count_overflow();
    test_names_and_init();
    test_cache_and_flops();
    test_op_status_reaches_caller();
    const tiny_spec *specs[] = { &SPEC_A, &SPEC_S, &SPEC_H, &SPEC_MIX, &SPEC_M2G, &SPEC_INNER, &SPEC_C };
    const int n_specs = (int)(sizeof specs / sizeof specs[0]);
    for (int i = 0; i < n_specs; i++) test_counts(specs[i]);
    for (int i = 0; i < n_specs; i++) test_aux_loss(specs[i]);
    test_inner_norms_and_no_rope();
    test_gradients(&SPEC_A, 1);
    test_gradients(&SPEC_S, 0);
    test_gradients(&SPEC_H, 1);
    test_gradients(&SPEC_MIX, 0);
    test_gradients(&SPEC_M2G, 0);
    test_gradients(&SPEC_C, 0);
    test_conba_planted_bugs();
    test_conba_counts();
    test_gradients(&SPEC_INNER, 1);   // layer 1 is an A producer: the corruption check applies
    for (int i = 0; i < n_specs; i++) test_parity(specs[i]);
    for (int i = 0; i < n_specs; i++) {
        test_forward_properties(specs[i], hl_backend_get("cpu_ref"));
        test_forward_properties(specs[i], hl_backend_get("cpu"));
    }
    return hl_test_done();
}
