// test_golden.c: golden tests against Hugging Face transformers (in the style
// of llm.c's test_gpt2.c). tests/golden/make_fixtures.py (developers, torch +
// transformers) wrote tiny random LlamaForCausalLM (GQA, untied) and
// MambaForCausalLM directories (and tests/ref/golden_mamba2.py a
// Mamba2ForCausalLM one, tests/fixtures/mamba2: 2 groups, chunk 5 not
// dividing T) and, in expected.safetensors, the logits, the
// loss and the gradient of every parameter for a fixed batch (B=2, T=12).
// Here, with no Python: each directory goes through hylab's Hugging Face
// import (hl_hf_open, what `hylab import` runs), forward + loss + backward
// on every backend, and
//   logits  max |l - l_ref| / max |l_ref|            <= 1e-4
//   loss    |L - L_ref| / |L_ref|                     <= 1e-4
//   grads   ||g - g_ref|| / ||g_ref|| per tensor      <= 1e-4 (max abs printed)
// Loss alignment: HF shifts labels inside the model (logits[:, t] predicts
// ids[:, t+1], mean over B*(T-1)); hylab takes one target per output
// position, so targets are ids[b, t+1] for t < T-1 and -1 (ignored) at T-1.
// Negative control: the same check after one weight moves slightly must fail.
// llama_mixed (sharded, layer 0 F16, layer 1 BF16) must import to the
// llama weights rounded to those dtypes.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cJSON.h>
#include "tests/test.h"
#include "harness/hf_io.h"
#include "models/checkpoint.h"
#include "models/losses.h"

#define GOLDEN "tests/golden/"
#define TOL 1e-4

typedef struct {
    hl_st_file f;
    int B, T;
    int32_t *ids;
} expected_file;

// Reads a whole F32 tensor of the expected file (malloc'd), or NULL.
static float *read_f32(expected_file *e, const char *name, size_t *numel) {
    const hl_st_tensor *t = hl_st_find(&e->f, name);
    char err[HL_ERR_LEN];
    if (!t || strcmp(t->dtype, "F32")) return NULL;
    float *v = malloc(hl_st_numel(t) * sizeof *v + 1);
    if (v && hl_st_read(&e->f, t, v, err, sizeof err)) { free(v); v = NULL; }
    if (numel) *numel = (size_t)hl_st_numel(t);
    return v;
}

static int open_expected(const char *fixture, expected_file *e) {
    char path[256], err[HL_ERR_LEN];
    snprintf(path, sizeof path, "%s%s/expected.safetensors", strchr(fixture, '/') ? "" : GOLDEN, fixture);
    if (hl_st_open(path, &e->f, err, sizeof err)) { printf("# %s\n", err); return -1; }
    const hl_st_tensor *t = hl_st_find(&e->f, "input_ids");
    if (!t || strcmp(t->dtype, "I64") || t->ndim != 2) return -1;
    e->B = (int)t->shape[0];
    e->T = (int)t->shape[1];
    int64_t *raw = malloc((size_t)e->B * e->T * sizeof *raw);
    e->ids = malloc((size_t)e->B * e->T * sizeof *e->ids);
    int rc = !raw || !e->ids || hl_st_read(&e->f, t, raw, err, sizeof err);
    for (int i = 0; !rc && i < e->B * e->T; i++) e->ids[i] = (int32_t)raw[i];
    free(raw);
    return rc ? -1 : 0;
}

// max |a - b| / max |b|.
static double max_rel(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return s > 0 ? d / s : d;
}

// Forward to logits, then the cross-entropy of losses.h with HF's label
// alignment (and its gradient into the model's dlogits buffer, for
// check_grads); returns the loss (NAN on a refusal), *logits the model's.
static float forward(hl_model *m, const expected_file *e, const float **logits) {
    int n = e->B * e->T;
    char err[512];
    float loss = NAN, *dlogits, *row_losses;
    hl_model_loss_buffers(m, &dlogits, &row_losses);
    int32_t *targets = malloc((size_t)n * sizeof *targets);
    for (int b = 0; b < e->B; b++)
        for (int t = 0; t < e->T; t++)
            targets[b * e->T + t] = t + 1 < e->T ? e->ids[b * e->T + t + 1] : -1;
    int rc = hl_model_forward(m, e->ids, e->B, e->T, NULL, n, logits, err, sizeof err);
    if (!rc) rc = hl_loss_xent(hl_model_ops(m), *logits, targets, n, hl_model_cfg(m)->vocab_size, -1,
                               row_losses, dlogits, &loss, NULL, err, sizeof err);
    if (rc) { hl_check(0, "golden_forward", "%s", err); loss = NAN; }
    free(targets);
    return loss;
}

// ||g - g_ref|| / ||g_ref|| of every parameter, by its HF name.
static void check_grads(hl_model *m, hl_hf_family fam, expected_file *e, const char *label) {
    char err[512];
    float *dlogits;
    hl_model_loss_buffers(m, &dlogits, NULL);
    hl_model_zero_grad(m);
    if (hl_model_backward(m, dlogits, err, sizeof err)) hl_check(0, "golden_backward", "%s", err);
    int n_grad = 0;
    for (int j = 0; j < e->f.n; j++) n_grad += !strncmp(e->f.tensors[j].name, "grad.", 5);
    char name[400];
    double worst = 0, worst_abs = 0;
    const char *worst_name = "";
    snprintf(name, sizeof name, "%s_every_parameter_has_a_reference_grad", label);
    hl_check(n_grad == hl_model_num_tensors(m), name, "%d reference grads, %d model tensors", n_grad,
             hl_model_num_tensors(m));
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *info = hl_model_tensor(m, i);
        char hf[256], key[300];
        hl_hf_tensor_name(fam, info->name, hf, sizeof hf);
        snprintf(key, sizeof key, "grad.%s", hf);
        size_t numel = 0;
        float *ref = read_f32(e, key, &numel);
        const float *g = hl_model_grads(m) + info->offset;
        double d2 = 0, r2 = 0, dmax = 0;
        for (size_t k = 0; ref && numel == info->numel && k < numel; k++) {
            double d = (double)g[k] - ref[k];
            d2 += d * d; r2 += (double)ref[k] * ref[k]; dmax = fmax(dmax, fabs(d));
        }
        double rel = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
        snprintf(name, sizeof name, "%s_grad_%s", label, hf);
        hl_check(ref && numel == info->numel && rel <= TOL, name, "rel %.3g, max abs %.3g (%s)", rel, dmax,
                 ref ? "compared" : "no reference");
        if (rel >= worst) { worst = rel; worst_name = info->name; }
        worst_abs = fmax(worst_abs, dmax);
        free(ref);
    }
    printf("# %s: grads of %d tensors: worst rel %.2e (%s), max abs %.2e\n", label, hl_model_num_tensors(m),
           worst, worst_name, worst_abs);
}

static void golden(const char *fixture, const char *backend) {
    char dir[256], err[HL_ERR_LEN], label[96], name[160];
    const char *base = strrchr(fixture, '/');
    snprintf(dir, sizeof dir, "%s%s", base ? "" : GOLDEN, fixture);
    snprintf(label, sizeof label, "golden_%s_%s", base ? base + 1 : fixture, backend);
    expected_file e;
    memset(&e, 0, sizeof e);
    hl_spec spec;
    hl_model *m = NULL;
    hl_hf_family fam;
    int ok = hl_check(open_expected(fixture, &e) == 0, label, "cannot read %s/expected.safetensors", dir);
    if (ok) {
        int rc = hl_hf_open(dir, hl_backend_get(backend), e.B, e.T, &spec, &m, &fam, err, sizeof err);
        snprintf(name, sizeof name, "%s_import", label);
        ok = hl_check(rc == HL_OK, name, "%s", err);
    }
    size_t n_logits = 0;
    float *ref_logits = ok ? read_f32(&e, "logits", &n_logits) : NULL;
    float *ref_loss = ok ? read_f32(&e, "loss", NULL) : NULL;
    if (ok && ref_logits && ref_loss && n_logits == (size_t)e.B * e.T * spec.model.vocab_size) {
        const float *logits;
        float loss = forward(m, &e, &logits);
        double lrel = max_rel(logits, ref_logits, n_logits), srel = fabs(loss - ref_loss[0]) / fabs(ref_loss[0]);
        printf("# %s: logits max rel %.2e, loss %.6f vs %.6f (rel %.2e)\n", label, lrel, loss, ref_loss[0], srel);
        snprintf(name, sizeof name, "%s_logits", label);
        hl_check(lrel <= TOL, name, "max rel %.3g > %g", lrel, TOL);
        snprintf(name, sizeof name, "%s_loss", label);
        hl_check(srel <= TOL, name, "%.7g vs %.7g (rel %.3g)", loss, ref_loss[0], srel);
        check_grads(m, fam, &e, label);
        // Negative control: the final norm's first weight moves by 5%.
        const hl_tensor_info *norm = NULL;
        for (int i = 0; i < hl_model_num_tensors(m); i++)
            if (!strcmp(hl_model_tensor(m, i)->name, "model.norm.weight")) norm = hl_model_tensor(m, i);
        hl_model_params(m)[norm->offset] *= 1.05f;
        forward(m, &e, &logits);
        double prel = max_rel(logits, ref_logits, n_logits);
        snprintf(name, sizeof name, "%s_negative_control_fails", label);
        hl_check(prel > TOL, name, "a perturbed weight still passed the logits check (max rel %.3g)", prel);
    } else if (ok) {
        snprintf(name, sizeof name, "%s_expected", label);
        hl_check(0, name, "logits/loss missing or of the wrong size in expected.safetensors");
    }
    free(ref_logits);
    free(ref_loss);
    if (m) { hl_model_free(m); hl_spec_free(&spec); }
    if (e.f.fp) hl_st_close(&e.f);
    free(e.ids);
}

// Round to bf16 (nearest even), as torch's .to(bfloat16).
static float round_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

// llama_mixed = llama's weights, layer 0 in F16, layer 1 in BF16, sharded.
static void mixed_dtypes_and_shards(void) {
    hl_spec s1, s2;
    hl_model *a = NULL, *b = NULL;
    hl_hf_family fam;
    char err[HL_ERR_LEN];
    int ok = hl_check(hl_hf_open(GOLDEN "llama", hl_backend_get("cpu_ref"), 1, 1, &s1, &a, &fam, err, sizeof err) == 0,
                      "golden_llama_f32_import", "%s", err);
    ok &= hl_check(hl_hf_open(GOLDEN "llama_mixed", hl_backend_get("cpu_ref"), 1, 1, &s2, &b, &fam, err, sizeof err) == 0,
                   "golden_llama_mixed_sharded_import", "%s", err);
    if (!ok) goto out;
    // Same config.json, so the same spec apart from the name (the directory's).
    const char *m1 = strstr(s1.canonical_json, "\"model\":"), *m2 = strstr(s2.canonical_json, "\"model\":");
    const char *n1 = m1 ? strstr(m1, "\"name\":") : NULL, *n2 = m2 ? strstr(m2, "\"name\":") : NULL;
    hl_check(n1 && n2 && n1 - m1 == n2 - m2 && !strncmp(m1, m2, (size_t)(n1 - m1)), "golden_llama_mixed_same_model",
             "%s vs %s", s1.canonical_json, s2.canonical_json);
    int bad = 0, rounded = 0;
    for (int i = 0; i < hl_model_num_tensors(a); i++) {
        const hl_tensor_info *t = hl_model_tensor(a, i);
        int layer = strstr(t->name, "layers.0.") ? 0 : strstr(t->name, "layers.1.") ? 1 : -1;
        const float *x = hl_model_params(a) + t->offset, *y = hl_model_params(b) + t->offset;
        for (size_t k = 0; k < t->numel; k++) {
            float want = layer == 1 ? round_bf16(x[k]) : x[k];
            double tol = layer == 0 ? fabs(x[k]) * 0x1p-11 + 0x1p-25 : 0;   // f16: half an ulp
            bad += fabs((double)y[k] - want) > tol;
            rounded += layer >= 0 && y[k] != x[k];
        }
    }
    hl_check(bad == 0, "golden_llama_mixed_f16_bf16_values", "%d values differ from the rounded f32 weights", bad);
    hl_check(rounded > 0, "golden_llama_mixed_is_rounded", "F16/BF16 layers equal the f32 weights exactly");
out:
    if (a) { hl_model_free(a); hl_spec_free(&s1); }
    if (b) { hl_model_free(b); hl_spec_free(&s2); }
}

// A Mamba2 config.json that leaves out every optional key imports with
// Mamba2Config's defaults (n_groups 8, state_size 128, chunk_size 256,
// head_dim 64, expand 2, conv_kernel 4, untied), and a time_step_limit of
// [0, 1e300] (JSON's stand-in for inf) is accepted.
static void mamba2_config_defaults(void) {
    char dir[] = "/tmp/hylab_golden_m2_XXXXXX", path[64], err[HL_ERR_LEN];
    int ok = hl_check(mkdtemp(dir) != NULL, "golden_mamba2_defaults_tmpdir", "mkdtemp failed");
    if (!ok) return;
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{\"model_type\": \"mamba2\", \"vocab_size\": 64, \"hidden_size\": 256, \"num_hidden_layers\": 1,"
              " \"num_heads\": 8, \"time_step_limit\": [0.0, 1e300]}\n", f);
        fclose(f);
    }
    char *json = NULL;
    hl_hf_family fam;
    int rc = hl_hf_spec_from_config(dir, &json, &fam, err, sizeof err);
    cJSON *spec = rc == HL_OK ? cJSON_Parse(json) : NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(spec, "model");
    const cJSON *ssm = cJSON_GetObjectItemCaseSensitive(model, "ssm");
    static const char *const keys[] = {"ngroups", "d_state", "chunk_size", "headdim", "expand", "d_conv"};
    static const int want[] = {8, 128, 256, 64, 2, 4};
    int same = ssm != NULL && fam == HL_HF_MAMBA2;
    for (int i = 0; i < 6 && same; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ssm, keys[i]);
        same = cJSON_IsNumber(v) && v->valueint == want[i];
    }
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(model, "layers");
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(model, "tie_embeddings");
    same = same && cJSON_IsString(layers) && !strcmp(layers->valuestring, "M") && cJSON_IsFalse(tie);
    hl_check(rc == HL_OK && same, "golden_mamba2_config_defaults", "status %d (%s), spec %s", rc,
             rc ? err : "", json ? json : "(none)");
    cJSON_Delete(spec);
    free(json);
    remove(path);
    rmdir(dir);
}

int main(void) {
    hl_blas_init(1);
    const char *backends[] = {"cpu_ref", "cpu"};
    for (int i = 0; i < 2; i++) {
        golden("llama", backends[i]);
        golden("mamba", backends[i]);
        golden("tests/fixtures/mamba2", backends[i]);
    }
    mixed_dtypes_and_shards();
    mamba2_config_defaults();
    return hl_test_done();
}
