// ffn.c: the FFN choice, the spec section model.ffn (core/config.h). Keys:
//   type     "swiglu" (default) or "none", or another registered FFN
//            (models/registry.c); "moe" is not supported yet. The FFN of
//            every layer when `pattern` is empty.
//   pattern  [] (default): a list of FFN names repeated cyclically over the
//            layers like model.layers, e.g. ["swiglu", "none"]: swiglu on
//            even layers, none on odd ones; at most 256 entries. Left out of
//            the canonical form while empty (older specs keep their hash).
//   d_ff     swiglu's hidden size: 4 * d_model by default, in [1, 2^20]; always
//            0 (whatever is written) when no layer has a swiglu FFN.
// The section resolves each layer's FFN into model.layer[l].ffn.
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "models/layer.h"

#define MAX_D_FF (1 << 20)

// An FFN name at `path`: known, and supported by the model code.
static int ffn_of_name(const hl_cfg_ctx *c, const char *path, const char *name, hl_ffn_type *out, int in_list) {
    char known[128];
    if (hl_ffn_from_name(name, out) != 0) {
        hl_ffn_names(known, sizeof known, !in_list);
        if (in_list) return hl_cfg_fail(c, path, "unknown FFN \"%s\" (known: %s)", name, known);
        return hl_cfg_fail(c, path, "must be %s (got \"%s\")", known, name);
    }
    if (!hl_ffn_supported(*out)) return hl_cfg_fail(c, path, "\"%s\" is not supported yet (got \"%s\")", name, name);
    return HL_OK;
}

static int read_type(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj) {
    hl_model_config *mc = obj;
    return ffn_of_name(c, path, v ? v->valuestring : "swiglu", &mc->ffn.type, 0);
}

static cJSON *write_type(const void *obj) {
    return cJSON_CreateString(hl_ffn_name(((const hl_model_config *)obj)->ffn.type));
}

static int read_pattern(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj) {
    hl_model_config *mc = obj;
    char item[HL_CFG_PATH_LEN];
    int n = v ? cJSON_GetArraySize(v) : 0, i = 0;
    if (n > HL_MAX_LAYERS) return hl_cfg_fail(c, path, "at most %d entries (got %d)", HL_MAX_LAYERS, n);
    for (const cJSON *e = v ? v->child : NULL; e; e = e->next, i++) {
        hl_cfg_index(item, path, i);
        int rc = ffn_of_name(c, item, e->valuestring, &mc->ffn.pattern[i], 1);
        if (rc != HL_OK) return rc;
    }
    mc->ffn.n_pattern = n;
    return HL_OK;
}

// Empty: left out (HL_CFG_OMIT_DEFAULT).
static cJSON *write_pattern(const void *obj) {
    const hl_model_config *mc = obj;
    if (mc->ffn.n_pattern == 0) return NULL;
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < mc->ffn.n_pattern; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(hl_ffn_name(mc->ffn.pattern[i])));
    return a;
}

static int dflt_d_ff(const void *obj, const void *env, double *out, char *why, size_t whylen) {
    (void)env; (void)why; (void)whylen;
    *out = 4.0 * ((const hl_model_config *)obj)->d_model;
    return HL_OK;
}

static const hl_cfg_key d_ff_key = {
    .name = "d_ff", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, ffn.d_ff),
    .dflt_fn = dflt_d_ff, .min = 1, .max = MAX_D_FF};

// d_ff applies when some layer has a swiglu FFN; else it is 0.
static int read_d_ff(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj) {
    hl_model_config *mc = obj;
    int any = 0;
    for (int l = 0; l < mc->n_layers; l++) any |= hl_ffn_of_layer(mc, l) == HL_FFN_SWIGLU;
    if (!any) { mc->ffn.d_ff = 0; return HL_OK; }
    return hl_cfg_read_key(c, &d_ff_key, v, path, obj, NULL);
}

static int finish(const hl_cfg_ctx *c, const char *path, void *obj) {
    (void)c; (void)path;
    hl_model_config *mc = obj;
    for (int l = 0; l < mc->n_layers; l++) mc->layer[l].ffn = hl_ffn_of_layer(mc, l);
    return HL_OK;
}

static const hl_cfg_key ffn_keys[] = {
    {.name = "type", .kind = HL_CFG_STRING, .read = read_type, .write = write_type},
    {.name = "pattern", .kind = HL_CFG_STRING_LIST, .flags = HL_CFG_OMIT_DEFAULT, .read = read_pattern, .write = write_pattern},
    {.name = "d_ff", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, ffn.d_ff), .read = read_d_ff},
    {.name = NULL}};

const hl_cfg_section hl_ffn_section = {.name = "ffn", .keys = ffn_keys, .finish = finish};
