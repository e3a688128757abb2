// model_config.c: the spec's "model" section (core/config.h), its top-level
// keys, and the resolution of per-layer plans. Keys (the nested sections are
// documented at their tables: model.attn models/attention.c, model.ssm
// models/mamba.c, model.ffn models/ffn.c):
//   vocab_size      8192, in [2, 2^20]
//   d_model         128, in [1, 65536]
//   layers          "A": one letter per layer, a mixer of models/registry.c
//                   (A attention, S mamba, H hybrid), at most 256 letters
//   n_layers        length of layers (the pattern repeats cyclically), in [1, 256]
//   attn, ssm, ...  the sections of the registered layer types, in registry order
//   meta_tokens     0, in [0, 65536]
//   ffn             models/ffn.c
//   tie_embeddings  true
//   norm_eps        1e-5, in [1e-12, 1] (real models use 1e-5 or 1e-6; a
//                   float smaller than ~1e-38 would be stored as 0)
// After every key: each layer's window and V head dim (K/V mixers:
// attn.v_head_dim, else the mixer's default), then each mixer's own check
// hook (e.g. H: n_heads * v_head_dim == d_inner).
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/layer.h"

#define MAX_META_TOKENS (1 << 16)
#define MAX_ROWS (16 + HL_LAYER_MAX_SECTIONS * 8)

static int read_layers(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj) {
    hl_model_config *mc = obj;
    const char *pattern = v ? v->valuestring : "A";
    size_t len = strlen(pattern);
    if (len == 0) return hl_cfg_fail(c, path, "must not be empty (got \"\")");
    if (len > HL_MAX_LAYERS) return hl_cfg_fail(c, path, "longer than %d layers (got %zu letters)", HL_MAX_LAYERS, len);
    for (size_t i = 0; i < len; i++) {
        char ch = pattern[i];
        if ((ch == 'M' || ch == 'C') && !hl_mixer_type(ch))
            return hl_cfg_fail(c, path, "layer type '%c' is not supported yet (got \"%s\")", ch, pattern);
        if (!hl_mixer_type(ch)) {
            char letters[64];
            hl_mixer_letters(letters, sizeof letters);
            return hl_cfg_fail(c, path, "bad layer letter '%c': expected %s (got \"%s\")", ch, letters, pattern);
        }
    }
    memcpy(mc->layers_pattern, pattern, len + 1);
    return HL_OK;
}

static int dflt_n_layers(const void *obj, const void *env, double *out, char *why, size_t whylen) {
    (void)env; (void)why; (void)whylen;
    *out = (double)strlen(((const hl_model_config *)obj)->layers_pattern);
    return HL_OK;
}

static const hl_cfg_key n_layers_key = {
    .name = "n_layers", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, n_layers),
    .dflt_fn = dflt_n_layers, .min = 1, .max = HL_MAX_LAYERS};

// n_layers, then each layer's mixer from the pattern (no K/V sharing yet).
static int read_n_layers(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj) {
    hl_model_config *mc = obj;
    int rc = hl_cfg_read_key(c, &n_layers_key, v, path, obj, NULL);
    if (rc != HL_OK) return rc;
    size_t len = strlen(mc->layers_pattern);
    for (int i = 0; i < mc->n_layers; i++) {
        mc->layer[i].kind = mc->layers_pattern[(size_t)i % len];
        mc->layer[i].kv_source = -1;
    }
    return HL_OK;
}

// A module's check message ("json.path: what is wrong") behind the source.
static int module_fail(const hl_cfg_ctx *c, int rc, const char *msg) {
    snprintf(c->err, c->errlen, "%s: %s", c->source, msg);
    return rc;
}

// Per-layer window and V head dim, then each mixer's own checks.
static int plan_layers(const hl_cfg_ctx *c, const char *path, void *obj) {
    hl_model_config *mc = obj;
    const hl_attn_config *a = &mc->attn;
    int is_global[HL_MAX_LAYERS] = {0};
    (void)path;
    for (int g = 0; g < a->n_global; g++) is_global[a->global_layers[g]] = 1;
    for (int i = 0; i < mc->n_layers; i++) {
        hl_layer_plan *l = &mc->layer[i];
        const hl_layer_type *t = hl_mixer_type(l->kind);
        int kv = (t->caps & HL_CAP_KV) != 0;
        l->window = (kv && !is_global[i]) ? a->window : 0;
        l->v_head_dim = !kv ? 0 : a->v_head_dim ? a->v_head_dim : t->default_v_head_dim(mc);
    }
    for (int i = 0; i < mc->n_layers; i++) {
        const hl_layer_type *t = hl_mixer_type(mc->layer[i].kind);
        char msg[HL_ERR_LEN];
        int rc = t->check ? t->check(mc, i, msg, sizeof msg) : HL_OK;
        if (rc) return module_fail(c, rc, msg);
    }
    return HL_OK;
}

#define MODEL_INT(key, field, d, lo, hi) \
    {.name = key, .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, field), .dflt = d, .min = lo, .max = hi}
static const hl_cfg_key head_keys[] = {
    MODEL_INT("vocab_size", vocab_size, 8192, 2, HL_MAX_VOCAB),
    MODEL_INT("d_model", d_model, 128, 1, HL_MAX_D_MODEL),
    {.name = "layers", .kind = HL_CFG_STRING, .offset = offsetof(hl_model_config, layers_pattern),
     .capacity = HL_MAX_LAYERS + 1, .read = read_layers},
    {.name = "n_layers", .kind = HL_CFG_INT, .offset = offsetof(hl_model_config, n_layers), .read = read_n_layers},
    {.name = NULL}};
static const hl_cfg_key tail_keys[] = {
    MODEL_INT("meta_tokens", meta_tokens, 0, 0, MAX_META_TOKENS),
    {.name = "ffn", .kind = HL_CFG_SECTION, .section = &hl_ffn_section},
    {.name = "tie_embeddings", .kind = HL_CFG_BOOL, .offset = offsetof(hl_model_config, tie_embeddings), .dflt = 1},
    {.name = "norm_eps", .kind = HL_CFG_FLOAT, .offset = offsetof(hl_model_config, norm_eps),
     .dflt = 1e-5, .min = 1e-12, .max = 1.0},
    {.name = NULL}};

static hl_cfg_key model_keys[MAX_ROWS];
static hl_cfg_section model_section = {.name = "model", .keys = model_keys, .finish = plan_layers};

static int add_row(int n, const hl_cfg_key *k) {
    if (n + 1 >= MAX_ROWS) {
        fprintf(stderr, "hylab: models/model_config.c: more than %d model keys\n", MAX_ROWS - 1);
        abort();
    }
    for (int r = 0; r < n; r++)
        if (!strcmp(model_keys[r].name, k->name)) {
            fprintf(stderr, "hylab: models/model_config.c: two model keys named \"%s\"\n", k->name);
            abort();
        }
    model_keys[n] = *k;
    return n + 1;
}

// The registered types' sections, one row per name. Two different sections
// under one name are a programming error of a module: reported and aborted
// on first use (tests/test_models.c walks the registry).
static int add_type_sections(int n) {
    for (int i = 0; hl_layer_types[i]; i++)
        for (int s = 0; s < HL_LAYER_MAX_SECTIONS && hl_layer_types[i]->sections[s]; s++) {
            const hl_cfg_section *sec = hl_layer_types[i]->sections[s];
            const hl_cfg_key *have = NULL;
            for (int r = 0; r < n && !have; r++)
                if (!strcmp(model_keys[r].name, sec->name)) have = &model_keys[r];
            if (have && have->kind == HL_CFG_SECTION && hl_cfg_same_section(have->section, sec)) continue;
            if (have) {
                fprintf(stderr, "hylab: layer type \"%s\" declares a section \"%s\" that differs from an earlier one\n",
                        hl_layer_types[i]->name, sec->name);
                abort();
            }
            hl_cfg_key row = {.name = sec->name, .kind = HL_CFG_SECTION, .section = sec};
            n = add_row(n, &row);
        }
    return n;
}

static void build_model_section(void) {
    int n = 0;
    for (const hl_cfg_key *k = head_keys; k->name; k++) n = add_row(n, k);
    n = add_type_sections(n);
    for (const hl_cfg_key *k = tail_keys; k->name; k++) n = add_row(n, k);
    model_keys[n].name = NULL;
}

const hl_cfg_section *hl_model_section(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build_model_section);
    return &model_section;
}
