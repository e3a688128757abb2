// test_golden_jamba.c: a tiny Jamba against Hugging Face transformers'
// JambaForCausalLM. tests/golden/make_jamba_fixture.py (developers, torch +
// transformers) wrote tests/golden/jamba/: its config.json, the weights as a
// hylab checkpoint (spec = `hylab import-config config.json`), and in
// expected.safetensors the logits, loss and every parameter's gradient for a
// fixed batch (B 2, T 12). The model has everything Jamba adds to hylab's
// blocks: Mamba with the inner RMSNorms on dt, B and C, attention without
// positional encoding (GQA), a MoE of 4 experts top 2 without
// renormalisation on every 2nd layer, dense SwiGLU elsewhere, attention at
// i % 2 == 1. Here, with no Python, on every backend:
//   the spec from today's importer equals the checkpoint's (same hash)
//   logits  max |l - l_ref| / max |l_ref|           <= 1e-4
//   loss    |L - L_ref| / |L_ref|                    <= 1e-4
//   grads   ||g - g_ref|| / ||g_ref|| per tensor     <= 1e-4
// Loss alignment as tests/test_golden.c (targets ids[b, t+1], -1 at T-1).
// Negative control: the logits check fails once one dt_layernorm weight
// moves by 5%.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tests/test.h"
#include "core/json_util.h"
#include "core/safetensors.h"
#include "harness/spec.h"
#include "models/checkpoint.h"
#include "models/hf_config.h"
#include "models/losses.h"

#define DIR "tests/golden/jamba/"
#define TOL 1e-4

// A whole F32 tensor of the expected file (malloc'd) and its size, or NULL.
static float *tensor_f32(hl_st_file *f, const char *name, size_t *numel) {
    const hl_st_tensor *t = hl_st_find(f, name);
    char err[HL_ERR_LEN];
    if (!t || strcmp(t->dtype, "F32")) return NULL;
    float *v = malloc(hl_st_numel(t) * sizeof *v + 1);
    if (v && hl_st_read(f, t, v, err, sizeof err)) { free(v); v = NULL; }
    if (numel) *numel = (size_t)hl_st_numel(t);
    return v;
}

// max |a - b| / max |b| over n values.
static double rel_max(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return s > 0 ? d / s : d;
}

// The spec of config.json as `hylab import-config` makes it, parsed; HL_OK or a message in err.
static int imported_spec(hl_spec *s, char *err, size_t errlen) {
    char *text = NULL, *printed = NULL;
    cJSON *json = NULL;
    int rc = hl_json_read_file(DIR "config.json", &text, err, errlen);
    if (!rc) rc = hl_hf_config_to_spec(text, DIR "config.json", "jamba-tiny", &json, err, errlen);
    if (!rc && !(printed = cJSON_Print(json))) rc = HL_EFAIL;
    if (!rc) rc = hl_spec_load_text(printed, DIR "config.json", NULL, 0, s, err, errlen);
    free(text); free(printed); cJSON_Delete(json);
    return rc;
}

// Forward over every position, then hylab's cross-entropy with HF's shifted
// targets (its gradient into the model's dlogits); the loss, NAN on a refusal.
static float forward_loss(hl_model *m, const int32_t *ids, int B, int T, const float **logits) {
    char err[HL_ERR_LEN];
    float loss = NAN, *dlogits, *rows;
    hl_model_loss_buffers(m, &dlogits, &rows);
    int32_t *targets = malloc((size_t)B * T * sizeof *targets);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) targets[b * T + t] = t + 1 < T ? ids[b * T + t + 1] : -1;
    int rc = hl_model_forward(m, ids, B, T, NULL, B * T, logits, err, sizeof err);
    if (!rc) rc = hl_loss_xent(hl_model_ops(m), *logits, targets, B * T, hl_model_cfg(m)->vocab_size, -1, rows,
                               dlogits, &loss, NULL, err, sizeof err);
    if (rc) { hl_check(0, "jamba_forward", "%s", err); loss = NAN; }
    free(targets);
    return loss;
}

// ||g - g_ref|| / ||g_ref|| of every parameter, by its hylab name.
static void check_grads(hl_model *m, hl_st_file *e, const char *label) {
    char err[HL_ERR_LEN], name[300];
    float *dlogits;
    hl_model_loss_buffers(m, &dlogits, NULL);
    hl_model_zero_grad(m);
    if (hl_model_backward(m, dlogits, err, sizeof err)) hl_check(0, "jamba_backward", "%s", err);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *info = hl_model_tensor(m, i);
        char key[300];
        snprintf(key, sizeof key, "grad.%s", info->name);
        size_t numel = 0;
        float *ref = tensor_f32(e, key, &numel);
        const float *g = hl_model_grads(m) + info->offset;
        double d2 = 0, r2 = 0;
        for (size_t k = 0; ref && numel == info->numel && k < numel; k++) {
            double d = (double)g[k] - ref[k];
            d2 += d * d; r2 += (double)ref[k] * ref[k];
        }
        double rel = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
        snprintf(name, sizeof name, "%s_grad_%s", label, info->name);
        hl_check(ref && numel == info->numel && rel <= TOL, name, "rel %.3g (%s)", rel, ref ? "compared" : "no reference");
        if (rel >= worst) { worst = rel; worst_name = info->name; }
        free(ref);
    }
    printf("# %s: grads of %d tensors, worst rel %.2e (%s)\n", label, hl_model_num_tensors(m), worst, worst_name);
}

static void golden(const hl_spec *spec, const char *backend, hl_st_file *e, const int32_t *ids, int B, int T) {
    char err[HL_ERR_LEN], label[64], name[160];
    snprintf(label, sizeof label, "golden_jamba_%s", backend);
    hl_model *m = hl_model_create(&spec->model, hl_backend_get(backend), B, T, err, sizeof err);
    int rc = m ? hl_ckpt_load(DIR "hylab.safetensors", m, err, sizeof err) : HL_EFAIL;
    snprintf(name, sizeof name, "%s_load", label);
    if (!hl_check(rc == HL_OK, name, "%s", err)) { hl_model_free(m); return; }
    size_t n_logits = 0;
    float *ref_logits = tensor_f32(e, "logits", &n_logits), *ref_loss = tensor_f32(e, "loss", NULL);
    snprintf(name, sizeof name, "%s_expected", label);
    if (hl_check(ref_logits && ref_loss && n_logits == (size_t)B * T * spec->model.vocab_size, name,
                 "logits/loss missing or of the wrong size")) {
        const float *logits;
        float loss = forward_loss(m, ids, B, T, &logits);
        double lrel = rel_max(logits, ref_logits, n_logits), srel = fabs(loss - ref_loss[0]) / fabs(ref_loss[0]);
        printf("# %s: logits max rel %.2e, loss %.6f vs %.6f\n", label, lrel, loss, ref_loss[0]);
        snprintf(name, sizeof name, "%s_logits", label);
        hl_check(lrel <= TOL, name, "max rel %.3g", lrel);
        snprintf(name, sizeof name, "%s_loss", label);
        hl_check(srel <= TOL, name, "%.7g vs %.7g", loss, ref_loss[0]);
        check_grads(m, e, label);
        // negative control: one inner-norm weight 5% off must show
        for (int i = 0; i < hl_model_num_tensors(m); i++)
            if (!strcmp(hl_model_tensor(m, i)->name, "model.layers.0.mamba.dt_layernorm.weight"))
                hl_model_params(m)[hl_model_tensor(m, i)->offset] *= 1.05f;
        forward_loss(m, ids, B, T, &logits);
        double prel = rel_max(logits, ref_logits, n_logits);
        snprintf(name, sizeof name, "%s_negative_control_fails", label);
        hl_check(prel > TOL, name, "a perturbed dt_layernorm weight still passed (max rel %.3g)", prel);
    }
    free(ref_logits); free(ref_loss);
    hl_model_free(m);
}

int main(void) {
    char err[HL_ERR_LEN], *ckpt_spec = NULL;
    hl_spec spec, imported;
    int rc = hl_ckpt_read_spec(DIR "hylab.safetensors", &ckpt_spec, err, sizeof err);
    if (!rc) rc = hl_spec_load_text(ckpt_spec, DIR "hylab.safetensors", NULL, 0, &spec, err, sizeof err);
    free(ckpt_spec);
    if (!hl_check(rc == HL_OK, "jamba_checkpoint_spec", "%s", err)) return hl_test_done();
    rc = imported_spec(&imported, err, sizeof err);
    hl_check(rc == HL_OK && !strcmp(imported.hash, spec.hash), "jamba_import_config_gives_the_checkpoint_spec",
             "%s", rc ? err : imported.canonical_json);
    if (!rc) hl_spec_free(&imported);
    const hl_model_config *mc = &spec.model;
    hl_check(!strcmp(mc->layers_pattern, "SA") && mc->attn.no_rope && mc->ssm.inner_norms &&
             mc->layer[1].ffn == HL_FFN_MOE && mc->layer[2].ffn == HL_FFN_SWIGLU &&
             mc->ffn.moe.router == HL_MOE_SOFTMAX_TOPK, "jamba_spec_has_every_jamba_piece", "%s", spec.canonical_json);

    hl_st_file e;
    const hl_st_tensor *t = NULL;
    if (hl_st_open(DIR "expected.safetensors", &e, err, sizeof err) == HL_OK) t = hl_st_find(&e, "input_ids");
    if (hl_check(t && !strcmp(t->dtype, "I64") && t->ndim == 2, "jamba_expected", "%s", err)) {
        int B = (int)t->shape[0], T = (int)t->shape[1];
        int64_t *raw = malloc((size_t)B * T * sizeof *raw);
        int32_t *ids = malloc((size_t)B * T * sizeof *ids);
        if (raw && ids && hl_st_read(&e, t, raw, err, sizeof err) == HL_OK) {
            for (int i = 0; i < B * T; i++) ids[i] = (int32_t)raw[i];
            golden(&spec, "cpu_ref", &e, ids, B, T);
            golden(&spec, "cpu", &e, ids, B, T);
        } else {
            hl_check(0, "jamba_expected_ids", "%s", err);
        }
        free(raw); free(ids);
    }
    if (t) hl_st_close(&e);
    hl_spec_free(&spec);
    return hl_test_done();
}
