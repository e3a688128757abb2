// test_optim.c: the optimizer side of training (harness/train/optim.c): the
// learning-rate schedule against hand-computed values, global-norm gradient
// clipping, and which tensors AdamW decays.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tests/test.h"
#include "harness/train/optim.h"

static hl_train_config sched(hl_schedule kind, double lr, double min_lr, int warmup, int steps) {
    hl_train_config tc;
    memset(&tc, 0, sizeof tc);
    tc.schedule = kind; tc.lr = lr; tc.min_lr = min_lr; tc.warmup_steps = warmup; tc.steps = steps;
    return tc;
}

// Each value is exact arithmetic on the documented formula (optim.h), worked
// by hand: lr 1e-3, min_lr 1e-4, warmup 10, 110 steps, so the 100 decay
// steps 11..110 have f = (step - 11) / 100.
static int close_to(double got, double want) { return fabs(got - want) <= 1e-12 + 1e-9 * fabs(want); }

static void check_lr(const hl_train_config *tc, int step, double want, const char *name) {
    double got = hl_lr_at(tc, step);
    char what[96];
    snprintf(what, sizeof what, "lr_%s_step_%d", name, step);
    hl_check(close_to(got, want), what, "lr %.12g, want %.12g", got, want);
}

static void test_schedule(void) {
    hl_train_config cos_ = sched(HL_SCHED_COSINE, 1e-3, 1e-4, 10, 110);
    hl_train_config lin = sched(HL_SCHED_LINEAR, 1e-3, 1e-4, 10, 110);
    hl_train_config cst = sched(HL_SCHED_CONSTANT, 1e-3, 1e-4, 10, 110);
    const hl_train_config *all[3] = {&cos_, &lin, &cst};
    const char *names[3] = {"cosine", "linear", "constant"};
    for (int k = 0; k < 3; k++) {                 // warmup: lr * step / 10, the same for all
        check_lr(all[k], 1, 1e-4, names[k]);
        check_lr(all[k], 5, 5e-4, names[k]);
        check_lr(all[k], 10, 1e-3, names[k]);
        check_lr(all[k], 11, 1e-3, names[k]);     // first decay step: f = 0
    }
    check_lr(&cos_, 36, 1e-4 + 9e-4 * 0.5 * (1 + sqrt(0.5)), "cosine");   // f = 0.25
    check_lr(&cos_, 61, 5.5e-4, "cosine");                               // f = 0.5
    check_lr(&cos_, 86, 1e-4 + 9e-4 * 0.5 * (1 - sqrt(0.5)), "cosine");  // f = 0.75
    check_lr(&lin, 36, 7.75e-4, "linear");
    check_lr(&lin, 61, 5.5e-4, "linear");
    check_lr(&lin, 110, 1.09e-4, "linear");                              // f = 0.99
    check_lr(&cst, 110, 1e-3, "constant");
    // The last step still trains: f = 0.99 < 1, so lr > min_lr (with min_lr
    // 0 the old schedule gave the last step lr 0, an update of nothing).
    check_lr(&cos_, 110, 1e-4 + 9e-4 * 0.5 * (1 + cos(M_PI * 0.99)), "cosine");
    hl_train_config zero_min = sched(HL_SCHED_COSINE, 1e-3, 0, 0, 100);
    double last = hl_lr_at(&zero_min, 100);
    hl_check(last > 0 && close_to(last, 1e-3 * 0.5 * (1 + cos(M_PI * 0.99))), "lr_last_step_above_min_lr",
             "last step lr %.3g with min_lr 0", last);
    check_lr(&zero_min, 1, 1e-3, "no_warmup");     // no warmup: the first step uses lr
    hl_train_config one = sched(HL_SCHED_LINEAR, 1e-3, 0, 0, 1);
    check_lr(&one, 1, 1e-3, "single_step");
    hl_train_config long_warm = sched(HL_SCHED_COSINE, 1e-3, 0, 20, 10);  // warmup longer than the run
    check_lr(&long_warm, 10, 5e-4, "warmup_past_end");
}

static void test_clipping(void) {
    float g[5] = {3, 0, -4, 0, 0}, want[5];
    double norm = hl_grad_global_norm(g, 5);
    hl_check(norm == 5.0, "global_norm", "norm %g, want 5", norm);
    float scale = (float)(1.0 / 5.0);
    for (int i = 0; i < 5; i++) want[i] = g[i] * scale;
    double s = hl_clip_grads(g, 5, norm, 1.0);
    hl_check(!memcmp(g, want, sizeof g) && fabs(hl_grad_global_norm(g, 5) - 1.0) < 1e-6 && fabs(s - 0.2) < 1e-7,
             "clip_scales_by_clip_over_norm", "g = %g %g %g, scale %g", g[0], g[1], g[2], s);
    float h[3] = {0.3f, -0.4f, 0.0f}, h0[3];
    memcpy(h0, h, sizeof h);
    s = hl_clip_grads(h, 3, hl_grad_global_norm(h, 3), 1.0);      // norm 0.5 < 1: untouched
    hl_check(!memcmp(h, h0, sizeof h) && s == 1.0, "clip_leaves_small_gradients", "changed below the threshold");
    float big[2] = {30, 40}, big0[2] = {30, 40};
    s = hl_clip_grads(big, 2, 50.0, 0.0);                         // clip 0 = off
    hl_check(!memcmp(big, big0, sizeof big) && s == 1.0, "clip_zero_is_off", "clipped with grad_clip 0");
    s = hl_clip_grads(big, 2, 50.0, 50.0);                        // at the threshold: untouched
    hl_check(!memcmp(big, big0, sizeof big), "clip_at_threshold_untouched", "clipped at norm == clip");
}

// Which tensors decay: matrices (every *_proj weight, the embedding, an
// untied lm_head, the conv1d weight); not norm weights, biases, A_log, D or
// the meta tokens. A model with every layer kind, meta tokens, SwiGLU and an
// untied head covers every tensor kind.
static int should_decay(const char *name) {
    static const char *const decayed[] = {"_proj.weight", "embed_tokens.weight", "lm_head.weight", "conv1d.weight"};
    size_t n = strlen(name);
    for (int i = 0; i < 4; i++) {
        size_t k = strlen(decayed[i]);
        if (n >= k && !strcmp(name + n - k, decayed[i])) return 1;
    }
    return 0;
}

static const char *const SPEC =
    "{\"model\": {\"vocab_size\": 1201, \"d_model\": 16, \"layers\": \"ASH\", \"meta_tokens\": 2,"
    " \"attn\": {\"n_heads\": 2, \"head_dim\": 8}, \"ssm\": {\"d_state\": 4, \"expand\": 2},"
    " \"tie_embeddings\": false},"
    " \"train\": {\"task\": {\"seq_len\": 16, \"num_kv_pairs\": 2}}, \"eval\": []}";

static void test_weight_decay(void) {
    hl_spec spec;
    char err[512];
    if (!hl_check(hl_spec_load_text(SPEC, "test_optim", NULL, 0, &spec, err, sizeof err) == HL_OK,
                  "wd_spec_loads", "%s", err)) return;
    hl_model *m = hl_model_create(&spec.model, hl_backend_get("cpu_ref"), 1, 4, err, sizeof err);
    if (!hl_check(m != NULL, "wd_model_builds", "%s", err)) { hl_spec_free(&spec); return; }
    hl_model_init(m, 3);
    int wrong = 0, n_decay = 0, n_plain = 0, kinds = 0;
    const char *bad = "";
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        if (!!t->weight_decay != should_decay(t->name)) { wrong++; bad = t->name; }
        if (t->weight_decay) n_decay++; else n_plain++;
        kinds |= strstr(t->name, "memory_tokens") ? 1 : strstr(t->name, "A_log") ? 2 : strstr(t->name, "mamba.D") ? 4
               : strstr(t->name, "bias") ? 8 : strstr(t->name, "norm") ? 16 : strstr(t->name, "conv1d.weight") ? 32 : 0;
    }
    hl_check(!wrong && kinds == 63 && n_decay > 0 && n_plain > 0, "wd_flags_matrices_only",
             "%d tensors flagged wrongly (e.g. %s); kinds seen %#x", wrong, bad, kinds);

    // AdamW with zero gradients moves only by the decay: p <- p (1 - lr wd)
    // on the flagged tensors, and leaves the others bit for bit; on every
    // registered backend, the optimizer state allocated through it and the
    // parameters read back through its copies.
    size_t n = hl_model_numel(m);
    float *p = malloc(n * sizeof(float)), *p0 = malloc(n * sizeof(float)), *q = malloc(n * sizeof(float));
    hl_model_params_to_host(m, p0);
    hl_model_free(m);
    hl_train_config tc = sched(HL_SCHED_CONSTANT, 0.1, 0, 0, 1);
    tc.weight_decay = 0.5; tc.beta1 = 0.9; tc.beta2 = 0.999; tc.adam_eps = 1e-8;
    for (int b = 0; b < hl_backend_count(); b++) {
        const hl_backend *be = hl_backend_at(b);
        char what[96];
        snprintf(what, sizeof what, "adamw_state_allocates_%s", be->name);
        hl_adam_state st;
        m = hl_model_create(&spec.model, be, 1, 4, err, sizeof err);
        if (!hl_check(m && hl_adam_create(&st, m) == HL_OK, what, "model or optimizer state not allocated")) {
            hl_model_free(m);
            continue;
        }
        hl_model_params_from_host(m, p0);
        hl_model_zero_grad(m);
        snprintf(what, sizeof what, "adamw_step_status_ok_%s", be->name);
        hl_check(hl_adamw_step(m, &st, &tc, 0.1, 1) == HL_OK, what, "%s", hl_op_error());
        hl_model_params_to_host(m, p);
        int off = 0;
        for (int i = 0; i < hl_model_num_tensors(m); i++) {
            const hl_tensor_info *t = hl_model_tensor(m, i);
            for (size_t j = t->offset; j < t->offset + t->numel; j++) {
                float want = t->weight_decay ? p0[j] * 0.95f : p0[j];
                off += t->weight_decay ? fabsf(p[j] - want) > 4e-7f * fabsf(p0[j]) : p[j] != want;  // a few ulps
            }
        }
        snprintf(what, sizeof what, "adamw_decays_flagged_tensors_only_%s", be->name);
        hl_check(!off, what, "%d parameters moved otherwise than by p*(1 - lr*wd) on flagged tensors", off);
        // the device-side norm and clip equal the host reference bit for bit
        for (size_t j = 0; j < n; j++) p[j] = (float)(j % 7) - 3.0f + 0.01f * (float)(j % 13);
        be->h2d(hl_model_grads(m), p, n * sizeof(float));
        double want_norm = hl_grad_global_norm(p, n), got_norm = hl_model_grad_norm(m, &st), scale = 0;
        hl_clip_grads(p, n, want_norm, 1.0);
        int rc = hl_model_clip_grads(m, got_norm, 1.0, &scale);
        hl_model_grads_to_host(m, q);
        snprintf(what, sizeof what, "grad_norm_spans_several_chunks_%s", be->name);
        hl_check(n > 2 * HL_NORM_CHUNK && n % HL_NORM_CHUNK, what, "%zu parameters", n);
        snprintf(what, sizeof what, "grad_norm_and_clip_through_backend_%s", be->name);
        hl_check(rc == HL_OK && got_norm == want_norm && scale < 1 && !memcmp(p, q, n * sizeof(float)), what,
                 "norm %.17g vs %.17g, rc %d, clipped grads %s", got_norm, want_norm, rc,
                 memcmp(p, q, n * sizeof(float)) ? "differ" : "equal");
        hl_adam_free(&st);
        hl_model_free(m);
    }
    free(p0); free(p); free(q);
    hl_spec_free(&spec);
}

int main(void) {
    test_schedule();
    test_clipping();
    test_weight_decay();
    return hl_test_done();
}
