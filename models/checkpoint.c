// checkpoint.c: hylab model checkpoints on the safetensors format layer
// (core/safetensors.c). See checkpoint.h.
#include "models/checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

// ================================================================ model layer

int hl_ckpt_save(const char *path, hl_model *m, const char *spec_json, char *err, size_t errlen) {
    int n = hl_model_num_tensors(m);
    hl_st_tensor *t = calloc(n ? (size_t)n : 1, sizeof *t);
    float *params = malloc((hl_model_numel(m) ? hl_model_numel(m) : 1) * sizeof *params);   // host staging
    if (!t || !params) { free(t); free(params); return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path); }
    hl_model_params_to_host(m, params);
    for (int i = 0; i < n; i++) {
        const hl_tensor_info *info = hl_model_tensor(m, i);
        snprintf(t[i].name, sizeof t[i].name, "%s", info->name);
        t[i].ndim = info->ndim;
        for (int d = 0; d < info->ndim; d++) t[i].shape[d] = info->shape[d];
        t[i].data = params + info->offset;
    }
    hl_st_meta meta[3] = {{"format", "pt"}, {"producer", "hylab"}, {"spec", spec_json ? spec_json : ""}};
    int rc = hl_st_write(path, t, n, meta, 3, err, errlen);
    free(t);
    free(params);
    return rc;
}

static const hl_st_limits ckpt_limits = {HL_CKPT_MAX_HEADER, HL_CKPT_MAX_TENSORS};

int hl_ckpt_read_spec(const char *path, char **spec_json, char *err, size_t errlen) {
    *spec_json = NULL;
    hl_st_file f;
    int rc = hl_st_open_limited(path, &ckpt_limits, &f, err, errlen);
    if (rc) return rc;
    const char *spec = hl_st_meta_get(&f, "spec");
    if (!spec || !spec[0])
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: no spec in the header's __metadata__ (not a hylab checkpoint?)", path);
    else if (!(*spec_json = strdup(spec)))
        rc = hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path);
    hl_st_close(&f);
    return rc;
}

// Formats a shape as "[a, b, c]".
static void shape_text(char *out, size_t len, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(out, len, "[");
    for (int d = 0; d < ndim && used < len; d++)
        used += (size_t)snprintf(out + used, len - used, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (used < len) snprintf(out + used, len - used, "]");
}

// Checks one model tensor against the file's entry of that name.
static int check_model_tensor(const hl_st_file *f, const hl_tensor_info *info, char *err, size_t errlen) {
    const hl_st_tensor *t = hl_st_find(f, info->name);
    if (!t)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s' missing (the model has it; the file has %d tensors)",
                    f->path, info->name, f->n);
    if (strcmp(t->dtype, "F32") != 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': dtype %s, expected F32", f->path, info->name, t->dtype);
    int same = t->ndim == info->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == info->shape[d];
    if (!same) {
        char got[160], want[160];
        shape_text(got, sizeof got, t->ndim, t->shape);
        shape_text(want, sizeof want, info->ndim, info->shape);
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': shape %s in the file, the model expects %s",
                    f->path, info->name, got, want);
    }
    return HL_OK;
}

// Every model tensor present with the right dtype and shape; nothing extra.
static int check_model_tensors(const hl_st_file *f, hl_model *m, char *err, size_t errlen) {
    int n = hl_model_num_tensors(m);
    for (int i = 0; i < n; i++) {
        int rc = check_model_tensor(f, hl_model_tensor(m, i), err, errlen);
        if (rc) return rc;
    }
    for (int j = 0; j < f->n; j++) {
        int known = 0;
        for (int i = 0; i < n && !known; i++) known = !strcmp(f->tensors[j].name, hl_model_tensor(m, i)->name);
        if (!known)
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: unexpected tensor '%s' (not a parameter of this model)",
                        f->path, f->tensors[j].name);
    }
    return HL_OK;
}

// A weight that is NaN or infinite makes every output NaN: refuse it.
static int check_finite(const char *path, const hl_tensor_info *info, const float *v, char *err, size_t errlen) {
    for (size_t i = 0; i < info->numel; i++)
        if (!isfinite(v[i]))
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': element %zu is %s (weights must be finite)",
                           path, info->name, i, isnan(v[i]) ? "NaN" : "infinite");
    return HL_OK;
}

int hl_ckpt_load(const char *path, hl_model *m, char *err, size_t errlen) {
    hl_st_file f;
    int rc = hl_st_open_limited(path, &ckpt_limits, &f, err, errlen);
    if (rc) return rc;
    rc = check_model_tensors(&f, m, err, errlen);
    // read and checked in a host staging arena, then copied to the model's backend
    float *params = rc ? NULL : malloc((hl_model_numel(m) ? hl_model_numel(m) : 1) * sizeof *params);
    if (!rc && !params) rc = hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path);
    int n = hl_model_num_tensors(m);
    for (int i = 0; i < n && !rc; i++) {
        const hl_tensor_info *info = hl_model_tensor(m, i);
        rc = hl_st_read(&f, hl_st_find(&f, info->name), params + info->offset, err, errlen);
        if (!rc) rc = check_finite(path, info, params + info->offset, err, errlen);
    }
    if (!rc) hl_model_params_from_host(m, params);
    free(params);
    hl_st_close(&f);
    return rc;
}
