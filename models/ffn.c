// ffn.c: the FFN choice, the spec section model.ffn (core/config.h). Keys:
//   type     "swiglu" (default), "moe" or "none", or another registered FFN
//            (models/registry.c). The FFN of every layer when `pattern` is
//            empty (with "moe" and moe.every > 1: moe on layers
//            l % every == offset, swiglu on the others).
//   pattern  [] (default): a list of FFN names repeated cyclically over the
//            layers like model.layers, e.g. ["swiglu", "none"]: swiglu on
//            even layers, none on odd ones; at most 256 entries. Left out of
//            the canonical form while empty (older specs keep their hash).
//   moe      the section model.ffn.moe, read when some layer has a moe FFN
//            (else every field 0, and left out of the canonical form):
//     n_experts     [1, 1024], default 8
//     top_k         [1, n_experts], default 2
//     d_ff          each expert's SwiGLU hidden size, default 4 * d_model, in [1, 2^20]
//     router        "softmax_topk" (default; Jamba: the top-k softmax
//                   probabilities as weights) or "softmax_topk_renorm"
//                   (Mixtral: divided by their sum)
//     load_balance  coefficient of the load-balancing loss, [0, 100], default 0 (off)
//     z_loss        coefficient of the router z-loss, [0, 100], default 0 (off)
//     every         [1, 256], default 1; with type "moe" only (else must be 1)
//     offset        [0, every), default 0
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

// ---------------------------------------------------------------- model.ffn.moe
static const char *const ROUTERS[] = {"softmax_topk", "softmax_topk_renorm"};

static int any_moe(const hl_model_config *mc) {
    for (int l = 0; l < mc->n_layers; l++)
        if ((mc->ffn.n_pattern > 0 ? mc->ffn.pattern[l % mc->ffn.n_pattern] : mc->ffn.type) == HL_FFN_MOE) return 1;
    return 0;
}

static int read_router(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj) {
    hl_model_config *mc = obj;
    const char *name = v ? v->valuestring : ROUTERS[0];
    for (int i = 0; i < 2; i++)
        if (!strcmp(name, ROUTERS[i])) { mc->ffn.moe.router = (hl_moe_router)i; return HL_OK; }
    return hl_cfg_fail(c, path, "must be \"%s\" or \"%s\" (got \"%s\")", ROUTERS[0], ROUTERS[1], name);
}

static cJSON *write_router(const void *obj) {
    return cJSON_CreateString(ROUTERS[((const hl_model_config *)obj)->ffn.moe.router]);
}

static int dflt_d_ff(const void *obj, const void *env, double *out, char *why, size_t whylen);

static int moe_finish(const hl_cfg_ctx *c, const char *path, void *obj) {
    hl_model_config *mc = obj;
    hl_moe_config *m = &mc->ffn.moe;
    char p[HL_CFG_PATH_LEN];
    if (m->top_k > m->n_experts) {
        hl_cfg_join(p, path, "top_k");
        return hl_cfg_fail(c, p, "must be at most n_experts = %d (got %d)", m->n_experts, m->top_k);
    }
    if (m->every > 1 && (mc->ffn.type != HL_FFN_MOE || mc->ffn.n_pattern > 0)) {
        hl_cfg_join(p, path, "every");
        return hl_cfg_fail(c, p, "applies with model.ffn.type \"moe\" and no pattern only: must be 1 (got %d)", m->every);
    }
    if (m->offset >= m->every) {
        hl_cfg_join(p, path, "offset");
        return hl_cfg_fail(c, p, "must be less than every = %d (got %d)", m->every, m->offset);
    }
    return HL_OK;
}

#define MOE_INT(key, field, d, lo, hi) \
    {.name = key, .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, ffn.moe.field), .dflt = d, .min = lo, .max = hi}
#define MOE_FLOAT(key, field) \
    {.name = key, .kind = HL_CFG_FLOAT, .offset = offsetof(hl_model_config, ffn.moe.field), .dflt = 0, .min = 0, .max = 100}
static const hl_cfg_key moe_keys[] = {
    MOE_INT("n_experts", n_experts, 8, 1, 1024),
    MOE_INT("top_k", top_k, 2, 1, 1024),
    {.name = "d_ff", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, ffn.moe.d_ff),
     .dflt_fn = dflt_d_ff, .min = 1, .max = MAX_D_FF},
    {.name = "router", .kind = HL_CFG_STRING, .read = read_router, .write = write_router},
    MOE_FLOAT("load_balance", load_balance),
    MOE_FLOAT("z_loss", z_loss),
    MOE_INT("every", every, 1, 1, HL_MAX_LAYERS),
    MOE_INT("offset", offset, 0, 0, HL_MAX_LAYERS - 1),
    {.name = NULL}};

static const hl_cfg_section moe_section = {.name = "moe", .keys = moe_keys, .finish = moe_finish};

// Read only when some layer has a moe FFN; else all 0.
static int read_moe(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj) {
    hl_model_config *mc = obj;
    memset(&mc->ffn.moe, 0, sizeof mc->ffn.moe);
    if (!any_moe(mc)) return HL_OK;
    return hl_cfg_read(c, &moe_section, v, path, obj, NULL);
}

// Left out when no layer has a moe FFN.
static cJSON *write_moe(const void *obj) {
    return any_moe(obj) ? hl_cfg_write(&moe_section, obj) : NULL;
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
    {.name = "moe", .kind = HL_CFG_SECTION, .section = &moe_section, .flags = HL_CFG_OMIT_DEFAULT,
     .read = read_moe, .write = write_moe},
    {.name = "d_ff", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, ffn.d_ff), .read = read_d_ff},
    {.name = NULL}};

const hl_cfg_section hl_ffn_section = {.name = "ffn", .keys = ffn_keys, .finish = finish};
