// test_golden_import.c: models that only `hylab import-config` reads (Jamba,
// Mixtral, Mamba-2) against Hugging Face transformers.
// tests/golden/make_import_fixtures.py (developers, torch + transformers)
// wrote tests/golden/{jamba,mixtral,mamba2}/: the model's config.json, its
// weights as a hylab checkpoint (spec = `hylab import-config config.json`),
// and in expected.safetensors the logits, loss and every parameter's
// gradient for a fixed batch (B 2, T 12). jamba has everything Jamba adds to
// hylab's blocks: Mamba with the inner RMSNorms on dt, B and C, attention
// without positional encoding (GQA), a MoE of 4 experts top 2 without
// renormalisation on every 2nd layer, SwiGLU elsewhere, attention at
// i % 2 == 1; mixtral a renormalised top-2 MoE on every layer; mamba2 two
// groups and a chunk (5) that does not divide T. Here, with no Python, on
// every backend:
//   the spec from today's importer equals the checkpoint's (same hash)
//   logits  max |l - l_ref| / max |l_ref|           <= 1e-4
//   loss    |L - L_ref| / |L_ref|                    <= 1e-4
//   grads   ||g - g_ref|| / ||g_ref|| per tensor     <= 1e-4
// Loss alignment as tests/test_golden.c (targets ids[b, t+1], -1 at T-1).
// Negative controls: the logits check fails once one weight of the family's
// own piece (Jamba's dt_layernorm, Mamba-2's gated norm; Mixtral's final norm)
// moves by 5%, and, for Jamba and Mixtral, with the other router (with
// renormalisation instead of without, and the reverse).
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

#define GOLDEN "tests/golden/"
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

typedef struct {
    const char *name;       // the directory under tests/golden/
    const char *perturb;    // the negative control's tensor (5% on its first element)
    int moe;                // 1: also the other router must fail (softmax_topk <-> softmax_topk_renorm)
} fixture;

// The spec of DIR/config.json as `hylab import-config --name NAME-tiny` makes it, parsed.
static int imported_spec(const fixture *fx, hl_spec *s, char *err, size_t errlen) {
    char *text = NULL, *printed = NULL, path[256], name[64];
    cJSON *json = NULL;
    snprintf(path, sizeof path, GOLDEN "%s/config.json", fx->name);
    snprintf(name, sizeof name, "%s-tiny", fx->name);
    int rc = hl_json_read_file(path, &text, err, errlen);
    if (!rc) rc = hl_hf_config_to_spec(text, path, name, &json, err, errlen);
    if (!rc && !(printed = cJSON_Print(json))) rc = HL_EFAIL;
    if (!rc) rc = hl_spec_load_text(printed, path, NULL, 0, s, err, errlen);
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
    if (rc) { hl_check(0, "golden_import_forward", "%s", err); loss = NAN; }
    free(targets);
    return loss;
}

// ||g - g_ref|| / ||g_ref|| of every parameter, by its hylab name.
static void check_grads(hl_model *m, hl_st_file *e, const char *label) {
    char err[HL_ERR_LEN], name[300];
    float *dlogits;
    hl_model_loss_buffers(m, &dlogits, NULL);
    hl_model_zero_grad(m);
    if (hl_model_backward(m, dlogits, err, sizeof err)) hl_check(0, "golden_import_backward", "%s", err);
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

static void golden(const fixture *fx, const hl_spec *spec, const char *backend, hl_st_file *e, const int32_t *ids,
                   int B, int T) {
    char err[HL_ERR_LEN], label[64], name[160], path[256];
    snprintf(label, sizeof label, "golden_%s_%s", fx->name, backend);
    snprintf(path, sizeof path, GOLDEN "%s/hylab.safetensors", fx->name);
    hl_model *m = hl_model_create(&spec->model, hl_backend_get(backend), B, T, err, sizeof err);
    int rc = m ? hl_ckpt_load(path, m, err, sizeof err) : HL_EFAIL;
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
        // negative control: one weight of the family's own piece 5% off must show
        int found = 0;
        for (int i = 0; i < hl_model_num_tensors(m); i++)
            if (!strcmp(hl_model_tensor(m, i)->name, fx->perturb)) {
                hl_model_params(m)[hl_model_tensor(m, i)->offset] *= 1.05f;
                found = 1;
            }
        forward_loss(m, ids, B, T, &logits);
        double prel = rel_max(logits, ref_logits, n_logits);
        snprintf(name, sizeof name, "%s_negative_control_fails", label);
        hl_check(found && prel > TOL, name, "%s: %s (max rel %.3g)", fx->perturb,
                 found ? "a perturbed weight still passed" : "no such tensor", prel);
    }
    if (fx->moe && ref_logits && n_logits == (size_t)B * T * spec->model.vocab_size) {
        hl_model_config other = spec->model;
        other.ffn.moe.router = other.ffn.moe.router == HL_MOE_SOFTMAX_TOPK ? HL_MOE_SOFTMAX_TOPK_RENORM
                                                                             : HL_MOE_SOFTMAX_TOPK;
        hl_model *o = hl_model_create(&other, hl_backend_get(backend), B, T, err, sizeof err);
        const float *logits;
        rc = o ? hl_ckpt_load(path, o, err, sizeof err) : HL_EFAIL;
        double orel = rc ? 0 : (forward_loss(o, ids, B, T, &logits), rel_max(logits, ref_logits, n_logits));
        snprintf(name, sizeof name, "%s_other_router_fails", label);
        hl_check(rc == HL_OK && orel > TOL, name, "%s (max rel %.3g)", rc ? err : "the other router passed", orel);
        hl_model_free(o);
    }
    free(ref_logits); free(ref_loss);
    hl_model_free(m);
}

// The structure each fixture is there to check, from the checkpoint's spec.
static int has_its_pieces(const fixture *fx, const hl_model_config *mc) {
    if (!strcmp(fx->name, "jamba"))
        return !strcmp(mc->layers_pattern, "SA") && mc->attn.no_rope && mc->ssm.inner_norms &&
               mc->layer[1].ffn == HL_FFN_MOE && mc->layer[2].ffn == HL_FFN_SWIGLU &&
               mc->ffn.moe.router == HL_MOE_SOFTMAX_TOPK;
    if (!strcmp(fx->name, "mixtral"))
        return mc->layer[0].ffn == HL_FFN_MOE && mc->ffn.moe.router == HL_MOE_SOFTMAX_TOPK_RENORM &&
               mc->ffn.moe.n_experts == 4 && !mc->attn.no_rope;
    return mc->layer[0].kind == 'M' && mc->ssm.ngroups == 2 && mc->ssm.headdim == 8 && mc->ssm.chunk_size == 5;
}

static void run_fixture(const fixture *fx) {
    char err[HL_ERR_LEN], *ckpt_spec = NULL, path[256], name[128];
    hl_spec spec, imported;
    snprintf(path, sizeof path, GOLDEN "%s/hylab.safetensors", fx->name);
    int rc = hl_ckpt_read_spec(path, &ckpt_spec, err, sizeof err);
    if (!rc) rc = hl_spec_load_text(ckpt_spec, path, NULL, 0, &spec, err, sizeof err);
    free(ckpt_spec);
    snprintf(name, sizeof name, "golden_%s_checkpoint_spec", fx->name);
    if (!hl_check(rc == HL_OK, name, "%s", err)) return;
    rc = imported_spec(fx, &imported, err, sizeof err);
    snprintf(name, sizeof name, "golden_%s_import_config_gives_the_checkpoint_spec", fx->name);
    hl_check(rc == HL_OK && !strcmp(imported.hash, spec.hash), name, "%s", rc ? err : imported.canonical_json);
    if (!rc) hl_spec_free(&imported);
    snprintf(name, sizeof name, "golden_%s_spec_has_its_pieces", fx->name);
    hl_check(has_its_pieces(fx, &spec.model), name, "%s", spec.canonical_json);

    hl_st_file e;
    const hl_st_tensor *t = NULL;
    snprintf(path, sizeof path, GOLDEN "%s/expected.safetensors", fx->name);
    int opened = hl_st_open(path, &e, err, sizeof err) == HL_OK;
    if (opened) t = hl_st_find(&e, "input_ids");
    snprintf(name, sizeof name, "golden_%s_expected", fx->name);
    if (hl_check(t && !strcmp(t->dtype, "I64") && t->ndim == 2, name, "%s", err)) {
        int B = (int)t->shape[0], T = (int)t->shape[1];
        int64_t *raw = malloc((size_t)B * T * sizeof *raw);
        int32_t *ids = malloc((size_t)B * T * sizeof *ids);
        if (raw && ids && hl_st_read(&e, t, raw, err, sizeof err) == HL_OK) {
            for (int i = 0; i < B * T; i++) ids[i] = (int32_t)raw[i];
            golden(fx, &spec, "cpu_ref", &e, ids, B, T);
            golden(fx, &spec, "cpu", &e, ids, B, T);
        } else {
            hl_check(0, name, "input_ids: %s", err);
        }
        free(raw); free(ids);
    }
    if (opened) hl_st_close(&e);
    hl_spec_free(&spec);
}

int main(void) {
    static const fixture fixtures[] = {
        {"jamba", "model.layers.0.mamba.dt_layernorm.weight", 1},
        {"mixtral", "model.norm.weight", 1},   // its own piece, the router, is the other control
        {"mamba2", "model.layers.0.mamba2.norm.weight", 0},
    };
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) run_fixture(&fixtures[i]);
    return hl_test_done();
}
