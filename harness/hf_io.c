// hf_io.c: Hugging Face import/export of files. See hf_io.h.
#include "harness/hf_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/checkpoint.h"

int hl_ckpt_spec(const char *ckpt, hl_spec *spec, char *err, size_t errlen) {
    char *text = NULL;
    memset(spec, 0, sizeof *spec);
    int rc = hl_ckpt_read_spec(ckpt, &text, err, errlen);
    if (rc) return rc;
    char source[1100];
    snprintf(source, sizeof source, "%s (metadata spec)", ckpt);
    rc = hl_spec_load_text(text, source, NULL, 0, spec, err, errlen);
    free(text);
    return rc;
}

// A spec error "SOURCE: model.x.y: why" gets the config.json key that set
// model.x.y appended: "... (config.json: num_key_value_heads)".
static void name_config_field(hl_hf_family family, const char *source, char *err, size_t errlen) {
    size_t n = strlen(source);
    if (strncmp(err, source, n) || strncmp(err + n, ": ", 2)) return;
    char path[128];
    snprintf(path, sizeof path, "%.*s", (int)strcspn(err + n + 2, ":"), err + n + 2);
    const char *key = hl_hf_config_field(family, path);
    size_t len = strlen(err);
    if (key && len < errlen) snprintf(err + len, errlen - len, " (config.json: %s)", key);
}

int hl_hf_open(const char *dir, const hl_backend *be, int max_B, int max_T, hl_spec *spec,
               hl_model **m, hl_hf_family *family, char *err, size_t errlen) {
    char *json = NULL, source[1100];
    *m = NULL;
    memset(spec, 0, sizeof *spec);
    snprintf(source, sizeof source, "%s/config.json", dir);
    int rc = hl_hf_spec_from_config(dir, &json, family, err, errlen);
    if (!rc) {
        rc = hl_spec_load_text(json, source, NULL, 0, spec, err, errlen);
        if (rc) name_config_field(*family, source, err, errlen);
    }
    free(json);
    if (!rc) {
        *m = hl_model_create(&spec->model, be, max_B, max_T, err, errlen);
        if (!*m) rc = HL_EFAIL;
    }
    if (!rc) rc = hl_hf_load_weights(dir, *family, *m, err, errlen);
    if (rc) {
        hl_model_free(*m);
        *m = NULL;
        hl_spec_free(spec);
    }
    return rc;
}

int hl_hf_import(const char *dir, const char *out, char *err, size_t errlen) {
    hl_spec spec;
    hl_model *m;
    hl_hf_family family;
    int rc = hl_hf_open(dir, hl_backend_get("cpu_ref"), 1, 1, &spec, &m, &family, err, errlen);
    if (rc) return rc;
    rc = hl_ckpt_save(out, m, spec.canonical_json, err, errlen);
    hl_model_free(m);
    hl_spec_free(&spec);
    return rc;
}

int hl_hf_export_ckpt(const char *ckpt, const char *dir, char *err, size_t errlen) {
    hl_spec spec;
    hl_hf_family family;
    int rc = hl_ckpt_spec(ckpt, &spec, err, errlen);
    if (!rc) {
        char why[HL_ERR_LEN];
        rc = hl_hf_export_family(&spec.model, &family, why, sizeof why);
        if (rc) hl_fail(err, errlen, rc, "%s (metadata spec): %s", ckpt, why);
    }
    hl_model *m = NULL;
    if (!rc) {
        m = hl_model_create(&spec.model, hl_backend_get("cpu_ref"), 1, 1, err, errlen);
        if (!m) rc = HL_EFAIL;
    }
    if (!rc) rc = hl_ckpt_load(ckpt, m, err, errlen);
    if (!rc) rc = hl_hf_export(m, dir, err, errlen);
    hl_model_free(m);
    hl_spec_free(&spec);
    return rc;
}
