// hf.c: Hugging Face config.json / safetensors layouts <-> hylab models. See hf.h.
#include "models/hf.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json_util.h"
#include "models/attention.h"
#include "models/checkpoint.h"
#include "models/mamba.h"

// The Mamba-2 mixer (models/mamba2.c; no header of its own: registry.c lists it).
extern const hl_layer_type hl_layer_mamba2;

#define PATH_LEN 1100

// ================================================================ config.json -> spec

// How a config key maps: ignored, copied to a spec path (int / number /
// bool), required to equal a JSON literal, or handled by a special rule.
typedef enum { R_IGNORE, R_INT, R_NUM, R_BOOL, R_EQ, R_SPECIAL } rule_kind;

typedef struct {
    const char *key;
    rule_kind kind;
    const char *arg;     // spec path (R_INT/R_NUM/R_BOOL, and what R_SPECIAL writes), JSON literal (R_EQ)
    const char *dflt;    // JSON literal written when the key is absent (NULL: none)
    int required;
} rule;

// Keys of every HF config that say nothing about the computation.
static const rule common_rules[] = {
    {"architectures", R_IGNORE, NULL, NULL, 0}, {"model_type", R_IGNORE, NULL, NULL, 0},
    {"dtype", R_IGNORE, NULL, NULL, 0}, {"torch_dtype", R_IGNORE, NULL, NULL, 0},
    {"transformers_version", R_IGNORE, NULL, NULL, 0}, {"_name_or_path", R_IGNORE, NULL, NULL, 0},
    {"bos_token_id", R_IGNORE, NULL, NULL, 0}, {"eos_token_id", R_IGNORE, NULL, NULL, 0},
    {"pad_token_id", R_IGNORE, NULL, NULL, 0}, {"initializer_range", R_IGNORE, NULL, NULL, 0},
    {"use_cache", R_IGNORE, NULL, NULL, 0}, {"vocab_size", R_INT, "model.vocab_size", NULL, 1},
    {"hidden_size", R_INT, "model.d_model", NULL, 1}, {"num_hidden_layers", R_INT, "model.n_layers", NULL, 1},
    {"hidden_act", R_EQ, "\"silu\"", NULL, 0}, {NULL, 0, NULL, NULL, 0}};

static const rule llama_rules[] = {
    {"num_attention_heads", R_INT, "model.attn.n_heads", NULL, 1},
    {"num_key_value_heads", R_INT, "model.attn.n_kv_heads", NULL, 0},
    {"head_dim", R_INT, "model.attn.head_dim", NULL, 0},
    {"intermediate_size", R_INT, "model.ffn.d_ff", NULL, 1},
    {"rope_theta", R_NUM, "model.attn.rope_theta", NULL, 0},
    {"rope_parameters", R_SPECIAL, "model.attn.rope_theta", NULL, 0},
    {"rope_scaling", R_EQ, "null", NULL, 0},
    {"rms_norm_eps", R_NUM, "model.norm_eps", "1e-6", 0},
    {"tie_word_embeddings", R_BOOL, "model.tie_embeddings", "false", 0},
    {"attention_bias", R_EQ, "false", NULL, 0}, {"mlp_bias", R_EQ, "false", NULL, 0},
    {"attention_dropout", R_IGNORE, NULL, NULL, 0}, {"max_position_embeddings", R_IGNORE, NULL, NULL, 0},
    {"pretraining_tp", R_IGNORE, NULL, NULL, 0}, {NULL, 0, NULL, NULL, 0}};

// Mistral = Llama + sliding_window (HF's default 4096; null = global).
static const rule mistral_rules[] = {
    {"sliding_window", R_SPECIAL, "model.attn.window", NULL, 0}, {NULL, 0, NULL, NULL, 0}};

static const rule mamba_rules[] = {
    {"state_size", R_INT, "model.ssm.d_state", "16", 0}, {"conv_kernel", R_INT, "model.ssm.d_conv", "4", 0},
    {"expand", R_INT, "model.ssm.expand", "2", 0}, {"time_step_rank", R_SPECIAL, "model.ssm.dt_rank", NULL, 0},
    {"intermediate_size", R_SPECIAL, NULL, NULL, 0},
    {"layer_norm_epsilon", R_NUM, "model.norm_eps", "1e-5", 0},
    {"tie_word_embeddings", R_BOOL, "model.tie_embeddings", "true", 0},
    {"use_bias", R_EQ, "false", NULL, 0}, {"use_conv_bias", R_EQ, "true", NULL, 0},
    {"residual_in_fp32", R_IGNORE, NULL, NULL, 0}, {"rescale_prenorm_residual", R_IGNORE, NULL, NULL, 0},
    {"time_step_floor", R_IGNORE, NULL, NULL, 0}, {"time_step_init_scheme", R_IGNORE, NULL, NULL, 0},
    {"time_step_max", R_IGNORE, NULL, NULL, 0}, {"time_step_min", R_IGNORE, NULL, NULL, 0},
    {"time_step_scale", R_IGNORE, NULL, NULL, 0}, {"use_associative_scan", R_IGNORE, NULL, NULL, 0},
    {"use_mambapy", R_IGNORE, NULL, NULL, 0}, {NULL, 0, NULL, NULL, 0}};

// Mixtral = Mistral (sliding_window: HF's default null = global) + a moe FFN on
// every layer. intermediate_size is the expert width. The load-balancing loss
// enters HF's training loss only with output_router_logits: hylab's
// load_balance is router_aux_loss_coef then, else 0 (router_special). Not the
// same loss: HF pools every layer's assignments and probabilities into one
// term (E sum_e mean_l f_le * mean_l P_le), hylab adds one term per moe
// layer (ffn_moe.c), so at balance HF's is top_k and hylab's n_layers * top_k.
// The coefficient is copied as is (export too).
static const rule mixtral_rules[] = {
    {"num_local_experts", R_INT, "model.ffn.moe.n_experts", NULL, 1},
    {"num_experts_per_tok", R_INT, "model.ffn.moe.top_k", "2", 0},
    {"intermediate_size", R_INT, "model.ffn.moe.d_ff", NULL, 1},
    {"router_aux_loss_coef", R_SPECIAL, "model.ffn.moe.load_balance", NULL, 0},
    {"output_router_logits", R_SPECIAL, NULL, NULL, 0},
    {"router_jitter_noise", R_EQ, "0", NULL, 0}, {NULL, 0, NULL, NULL, 0}};

// Mamba2Config (transformers) -> mixer 'M' (models/mamba2.c); absent keys take
// Mamba2Config's defaults. num_heads must be expand * hidden_size / head_dim;
// time_step_limit must be (0, inf) (no clamp of dt); time_step_rank and the
// time_step_min/max/floor initialisation ranges do not change the computation.
static const rule mamba2_rules[] = {
    {"state_size", R_INT, "model.ssm.d_state", "128", 0}, {"conv_kernel", R_INT, "model.ssm.d_conv", "4", 0},
    {"expand", R_INT, "model.ssm.expand", "2", 0}, {"head_dim", R_INT, "model.ssm.headdim", "64", 0},
    {"n_groups", R_INT, "model.ssm.ngroups", "8", 0}, {"chunk_size", R_INT, "model.ssm.chunk_size", "256", 0},
    {"num_heads", R_SPECIAL, NULL, NULL, 1}, {"time_step_limit", R_SPECIAL, NULL, NULL, 0},
    {"layer_norm_epsilon", R_NUM, "model.norm_eps", "1e-5", 0},
    {"tie_word_embeddings", R_BOOL, "model.tie_embeddings", "false", 0},
    {"use_bias", R_EQ, "false", NULL, 0}, {"use_conv_bias", R_EQ, "true", NULL, 0},
    {"rms_norm", R_EQ, "true", NULL, 0}, {"norm_before_gate", R_EQ, "false", NULL, 0},
    {"residual_in_fp32", R_IGNORE, NULL, NULL, 0}, {"rescale_prenorm_residual", R_IGNORE, NULL, NULL, 0},
    {"time_step_rank", R_IGNORE, NULL, NULL, 0}, {"time_step_floor", R_IGNORE, NULL, NULL, 0},
    {"time_step_max", R_IGNORE, NULL, NULL, 0}, {"time_step_min", R_IGNORE, NULL, NULL, 0},
    {NULL, 0, NULL, NULL, 0}};

// The family's own table (Mistral: Llama's, plus mistral_rules).
static const rule *family_rules(hl_hf_family fam) {
    return fam == HL_HF_MAMBA ? mamba_rules : fam == HL_HF_MAMBA2 ? mamba2_rules : llama_rules;
}

typedef struct {
    const char *file;            // DIR/config.json, for messages
    const cJSON *config;
    hl_hf_family family;
    cJSON *spec;
    char *err; size_t errlen;
} cfg_ctx;

static const rule *find_rule(const rule *table, const char *key) {
    for (; table && table->key; table++)
        if (!strcmp(table->key, key)) return table;
    return NULL;
}

// The rule for a key in this family (common, family, then Llama's for Mistral
// and Mixtral; Mixtral's own, then Mistral's, first).
static const rule *rule_for(hl_hf_family fam, const char *key) {
    const rule *r = find_rule(common_rules, key);
    if (!r && fam == HL_HF_MIXTRAL) r = find_rule(mixtral_rules, key);
    if (!r && (fam == HL_HF_MISTRAL || fam == HL_HF_MIXTRAL)) r = find_rule(mistral_rules, key);
    if (!r) r = find_rule(family_rules(fam), key);
    return r;
}

// Writes value (owned by the spec afterwards) at a dotted path of the spec.
static void spec_set(cJSON *spec, const char *dotted, cJSON *value) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", dotted);
    cJSON *obj = spec;
    char *save = NULL, *part = strtok_r(buf, ".", &save);
    for (char *next; (next = strtok_r(NULL, ".", &save)); part = next) {
        cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, part);
        if (!child) child = cJSON_AddObjectToObject(obj, part);
        obj = child;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, part);
    cJSON_AddItemToObject(obj, part, value);
}

static int bad_value(cfg_ctx *c, const char *key, const cJSON *v, const char *what) {
    char got[200];
    hl_json_brief(v, got, sizeof got);
    return hl_fail(c->err, c->errlen, HL_EBADINPUT, "%s: %s: %s (got %s)", c->file, key, what, got);
}

static int is_int(const cJSON *v) {
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e9;
}

// rope_parameters {"rope_type": "default", "rope_theta": X} (transformers 5).
static int rope_parameters(cfg_ctx *c, const cJSON *v) {
    if (cJSON_IsNull(v)) return HL_OK;
    if (!cJSON_IsObject(v)) return bad_value(c, "rope_parameters", v, "expected an object");
    const cJSON *kv;
    cJSON_ArrayForEach(kv, v) {
        char path[160];
        snprintf(path, sizeof path, "rope_parameters.%s", kv->string);
        if (!strcmp(kv->string, "rope_type")) {
            if (!cJSON_IsString(kv) || strcmp(kv->valuestring, "default"))
                return bad_value(c, path, kv, "only \"default\" RoPE is supported");
        } else if (!strcmp(kv->string, "rope_theta")) {
            if (!cJSON_IsNumber(kv)) return bad_value(c, path, kv, "expected a number");
            spec_set(c->spec, "model.attn.rope_theta", cJSON_CreateNumber(kv->valuedouble));
        } else {
            return bad_value(c, path, kv, "not supported");
        }
    }
    return HL_OK;
}

// Mistral's sliding_window W: keys p - W < k <= p, hylab's window W as is.
static int sliding_window(cfg_ctx *c, const cJSON *v) {
    if (cJSON_IsNull(v)) { spec_set(c->spec, "model.attn.window", cJSON_CreateNumber(0)); return HL_OK; }
    if (!is_int(v) || v->valuedouble < 1) return bad_value(c, "sliding_window", v, "expected null or a positive integer");
    spec_set(c->spec, "model.attn.window", cJSON_CreateNumber(v->valuedouble));
    return HL_OK;
}

// "auto" (= ceil(hidden_size / 16), hylab's dt_rank 0) or an integer.
static int time_step_rank(cfg_ctx *c, const cJSON *v) {
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "auto")) return HL_OK;
    if (!is_int(v) || v->valuedouble < 1) return bad_value(c, "time_step_rank", v, "expected \"auto\" or a positive integer");
    spec_set(c->spec, "model.ssm.dt_rank", cJSON_CreateNumber(v->valuedouble));
    return HL_OK;
}

// Mamba's intermediate_size must be expand * hidden_size (d_inner).
static int mamba_intermediate(cfg_ctx *c, const cJSON *v) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(c->config, "hidden_size");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(c->config, "expand");
    double want = (cJSON_IsNumber(h) ? h->valuedouble : 0) * (cJSON_IsNumber(e) ? e->valuedouble : 2);
    if (!cJSON_IsNumber(v) || v->valuedouble != want)
        return bad_value(c, "intermediate_size", v, "must equal expand * hidden_size");
    return HL_OK;
}

// Mixtral's router_aux_loss_coef (a number >= 0) and output_router_logits (a
// bool): checked here; model.ffn.moe.load_balance is set by map_config once
// both are known.
static int router_special(cfg_ctx *c, const char *key, const cJSON *v) {
    if (!strcmp(key, "output_router_logits"))
        return cJSON_IsBool(v) ? HL_OK : bad_value(c, key, v, "expected true or false");
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? HL_OK : bad_value(c, key, v, "expected a number >= 0");
}

// A config number (default dflt when absent).
static double config_num(const cfg_ctx *c, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->config, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

// Mamba-2's num_heads must be d_inner / head_dim (expand * hidden_size / head_dim).
static int mamba2_num_heads(cfg_ctx *c, const cJSON *v) {
    double di = config_num(c, "expand", 2) * config_num(c, "hidden_size", 0), hd = config_num(c, "head_dim", 64);
    if (!is_int(v) || hd <= 0 || v->valuedouble * hd != di)
        return bad_value(c, "num_heads", v, "must equal expand * hidden_size / head_dim");
    return HL_OK;
}

// An infinite upper bound as config files spell it: JSON has no infinity, so
// transformers 5 writes {"__float__": "Infinity"}, others "Infinity" or a
// number >= 1e30. (A bare Infinity token is not JSON: the parser refuses it.)
static int is_inf_bound(const cJSON *v) {
    const cJSON *f = cJSON_IsObject(v) && cJSON_GetArraySize(v) == 1 ? cJSON_GetObjectItemCaseSensitive(v, "__float__") : NULL;
    if (f) v = f;
    if (cJSON_IsString(v)) return !strcmp(v->valuestring, "Infinity") || !strcmp(v->valuestring, "inf");
    return cJSON_IsNumber(v) && v->valuedouble >= 1e30;
}

// Mamba-2's time_step_limit: only (0, inf), no clamp of dt.
static int mamba2_time_step_limit(cfg_ctx *c, const cJSON *v) {
    const cJSON *lo = cJSON_GetArrayItem(v, 0), *hi = cJSON_GetArrayItem(v, 1);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsNumber(lo) || lo->valuedouble != 0.0 ||
        !is_inf_bound(hi))
        return bad_value(c, "time_step_limit", v, "not supported: hylab does not clamp dt (needs [0.0, inf])");
    return HL_OK;
}

static int special(cfg_ctx *c, const char *key, const cJSON *v) {
    if (!strcmp(key, "router_aux_loss_coef") || !strcmp(key, "output_router_logits")) return router_special(c, key, v);
    if (!strcmp(key, "rope_parameters")) return rope_parameters(c, v);
    if (!strcmp(key, "num_heads")) return mamba2_num_heads(c, v);
    if (!strcmp(key, "time_step_limit")) return mamba2_time_step_limit(c, v);
    if (!strcmp(key, "sliding_window")) return sliding_window(c, v);
    if (!strcmp(key, "time_step_rank")) return time_step_rank(c, v);
    return mamba_intermediate(c, v);
}

// Applies one rule to the config's value v of key.
static int apply_rule(cfg_ctx *c, const rule *r, const char *key, const cJSON *v) {
    switch (r->kind) {
    case R_IGNORE: return HL_OK;
    case R_SPECIAL: return special(c, key, v);
    case R_EQ: {
        cJSON *want = cJSON_Parse(r->arg);
        int same = want && cJSON_Compare(want, v, 1);
        cJSON_Delete(want);
        if (same) return HL_OK;
        char what[96];
        snprintf(what, sizeof what, "not supported: hylab needs %s", r->arg);
        return bad_value(c, key, v, what);
    }
    case R_INT:
        if (cJSON_IsNull(v) && !r->required) return HL_OK;   // HF: null = default
        if (!is_int(v)) return bad_value(c, key, v, "expected an integer");
        break;
    case R_NUM:
        if (!cJSON_IsNumber(v)) return bad_value(c, key, v, "expected a number");
        break;
    case R_BOOL:
        if (!cJSON_IsBool(v)) return bad_value(c, key, v, "expected true or false");
        break;
    }
    spec_set(c->spec, r->arg, cJSON_Duplicate(v, 1));
    return HL_OK;
}

// Every key known and mapped; required ones present; defaults of absent ones.
static int map_config(cfg_ctx *c) {
    const cJSON *kv;
    cJSON_ArrayForEach(kv, c->config) {
        const rule *r = rule_for(c->family, kv->string);
        if (!r)
            return bad_value(c, kv->string, kv, "not supported (a key hylab's importer does not know)");
        int rc = apply_rule(c, r, kv->string, kv);
        if (rc) return rc;
    }
    const rule *tables[4] = {common_rules, family_rules(c->family),
                             c->family == HL_HF_MISTRAL || c->family == HL_HF_MIXTRAL ? mistral_rules : NULL,
                             c->family == HL_HF_MIXTRAL ? mixtral_rules : NULL};
    for (int t = 0; t < 4; t++)
        for (const rule *r = tables[t]; r && r->key; r++) {
            if (cJSON_GetObjectItemCaseSensitive(c->config, r->key)) continue;
            if (r->required)
                return hl_fail(c->err, c->errlen, HL_EBADINPUT, "%s: %s: missing", c->file, r->key);
            if (r->dflt) spec_set(c->spec, r->arg, cJSON_Parse(r->dflt));
        }
    if (c->family == HL_HF_MISTRAL && !cJSON_GetObjectItemCaseSensitive(c->config, "sliding_window"))
        spec_set(c->spec, "model.attn.window", cJSON_CreateNumber(4096));
    if (c->family == HL_HF_MIXTRAL) {   // the aux loss is HF's training loss only with output_router_logits
        const cJSON *on = cJSON_GetObjectItemCaseSensitive(c->config, "output_router_logits");
        const cJSON *coef = cJSON_GetObjectItemCaseSensitive(c->config, "router_aux_loss_coef");
        double lb = cJSON_IsTrue(on) ? (coef ? coef->valuedouble : 0.001) : 0.0;   // HF's default coefficient 0.001
        spec_set(c->spec, "model.ffn.moe.load_balance", cJSON_CreateNumber(lb));
    }
    return HL_OK;
}

static int family_of(cfg_ctx *c, const cJSON *mt) {
    static const char *const names[] = {"llama", "mistral", "mamba", "mixtral", "mamba2"};
    for (int i = 0; i < 5; i++)
        if (cJSON_IsString(mt) && !strcmp(mt->valuestring, names[i])) { c->family = (hl_hf_family)i; return HL_OK; }
    if (!mt) return hl_fail(c->err, c->errlen, HL_EBADINPUT, "%s: model_type: missing", c->file);
    return bad_value(c, "model_type", mt, "not supported (llama, mistral, mixtral, mamba or mamba2)");
}

// The fixed part of the spec of a family; the name from the directory.
static void spec_skeleton(cfg_ctx *c, const char *dir) {
    char name[HL_NAME_LEN];
    hl_json_basename(dir, name, sizeof name);
    int plain = name[0] != 0;
    for (const char *p = name; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p)) plain = 0;
    cJSON_AddStringToObject(c->spec, "name", plain ? name : "hf-import");
    int mamba = c->family == HL_HF_MAMBA || c->family == HL_HF_MAMBA2;
    char layers[2] = { c->family == HL_HF_MAMBA2 ? hl_layer_mamba2.letter : mamba ? hl_layer_mamba.letter
                       : hl_layer_attention.letter, 0 };
    spec_set(c->spec, "model.layers", cJSON_CreateString(layers));
    spec_set(c->spec, "model.ffn.type", cJSON_CreateString(mamba ? "none" : c->family == HL_HF_MIXTRAL ? "moe" : "swiglu"));
    if (c->family == HL_HF_MIXTRAL) spec_set(c->spec, "model.ffn.moe.router", cJSON_CreateString("softmax_topk_renorm"));
    if (!mamba) return;
    // No attention layer: n_heads 1 keeps the (unused) attention defaults
    // valid for any hidden_size.
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(c->config, "hidden_size");
    if (cJSON_IsNumber(h) && (int)h->valuedouble % 4) spec_set(c->spec, "model.attn.n_heads", cJSON_CreateNumber(1));
}

const char *hl_hf_config_field(hl_hf_family family, const char *spec_path) {
    const rule *tables[4] = {common_rules, family == HL_HF_MIXTRAL ? mixtral_rules : NULL, family_rules(family),
                             family == HL_HF_MISTRAL || family == HL_HF_MIXTRAL ? mistral_rules : NULL};
    for (int t = 0; t < 4; t++)
        for (const rule *r = tables[t]; r && r->key; r++)
            if (r->kind != R_EQ && r->arg && !strcmp(r->arg, spec_path)) return r->key;
    return NULL;
}

int hl_hf_spec_from_config(const char *dir, char **spec_json, hl_hf_family *family,
                           char *err, size_t errlen) {
    char file[PATH_LEN];
    snprintf(file, sizeof file, "%s/config.json", dir);
    *spec_json = NULL;
    char *text = NULL;
    cJSON *config = NULL;
    int rc = hl_read_text_file(file, HL_MAX_INPUT_BYTES, &text, NULL, err, errlen);
    if (!rc) rc = hl_json_parse(text, file, &config, err, errlen);
    free(text);
    if (rc) return rc;
    cfg_ctx c = {file, config, HL_HF_LLAMA, cJSON_CreateObject(), err, errlen};
    if (!cJSON_IsObject(config)) rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: not a JSON object", file);
    if (!rc) rc = family_of(&c, cJSON_GetObjectItemCaseSensitive(config, "model_type"));
    if (!rc) { spec_skeleton(&c, dir); rc = map_config(&c); }
    if (!rc) {
        *spec_json = cJSON_PrintUnformatted(c.spec);
        if (!*spec_json) rc = hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", file);
    }
    *family = c.family;
    cJSON_Delete(c.spec);
    cJSON_Delete(config);
    return rc;
}

// ================================================================ tensor names

// hylab -> HF renames of the Mamba layout, applied in order (first match each).
static const char *const mamba_names[][2] = {
    {"model.embed_tokens.", "backbone.embeddings."}, {"model.norm.", "backbone.norm_f."},
    {"model.layers.", "backbone.layers."}, {".input_layernorm.", ".norm."}, {".mamba.", ".mixer."},
    {".mamba2.", ".mixer."}};

// Mixtral: the router (the stacked experts: expert_part below).
static const char *const mixtral_names[][2] = {{".mlp.router.weight", ".block_sparse_moe.gate.weight"}};

void hl_hf_tensor_name(hl_hf_family family, const char *hylab_name, char *out, size_t outlen) {
    char a[256], b[256], *cur = a, *next = b;
    snprintf(a, sizeof a, "%s", hylab_name);
    int mamba = family == HL_HF_MAMBA || family == HL_HF_MAMBA2;   // Mamba2ForCausalLM: the same names
    const char *const (*names)[2] = mamba ? mamba_names : family == HL_HF_MIXTRAL ? mixtral_names : NULL;
    size_t n_names = mamba ? sizeof mamba_names / sizeof mamba_names[0]
                   : family == HL_HF_MIXTRAL ? sizeof mixtral_names / sizeof mixtral_names[0] : 0;
    for (size_t i = 0; i < n_names; i++) {
        const char *at = strstr(cur, names[i][0]);
        if (!at) continue;
        int head = (int)(at - cur);
        memcpy(next, cur, (size_t)head);
        snprintf(next + head, sizeof a - (size_t)head, "%s%s", names[i][1], at + strlen(names[i][0]));
        char *t = cur; cur = next; next = t;
    }
    snprintf(out, outlen, "%s", cur);
}

// Mixtral keeps one tensor per expert where hylab stacks them: hylab's
// model.layers.{i}.mlp.experts.{gate,up,down}_proj (E, rows, cols) is HF's
// model.layers.{i}.block_sparse_moe.experts.{e}.{w1,w3,w2}.weight (rows,
// cols), e < E. Returns E and writes part e's HF name for such a tensor;
// 0 for any other tensor or family.
static int expert_part(hl_hf_family family, const hl_tensor_info *info, int e, char *out, size_t outlen) {
    static const char *const proj[][2] = {{".mlp.experts.gate_proj", "w1"}, {".mlp.experts.up_proj", "w3"},
                                          {".mlp.experts.down_proj", "w2"}};
    if (family != HL_HF_MIXTRAL || info->ndim != 3) return 0;
    for (int i = 0; i < 3; i++) {
        const char *at = strstr(info->name, proj[i][0]);
        if (!at || at[strlen(proj[i][0])]) continue;
        snprintf(out, outlen, "%.*s.block_sparse_moe.experts.%d.%s.weight", (int)(at - info->name), info->name, e, proj[i][1]);
        return (int)info->shape[0];
    }
    return 0;
}

// ================================================================ reading weights

// The open safetensors files of a directory.
typedef struct {
    int n;
    hl_st_file *files;
    char **used;                 // per file, per tensor: consumed by a model tensor
} shard_set;

static void shards_close(shard_set *s) {
    for (int i = 0; i < s->n; i++) { hl_st_close(&s->files[i]); free(s->used[i]); }
    free(s->files);
    free(s->used);
    memset(s, 0, sizeof *s);
}

static int shard_add(shard_set *s, const char *dir, const char *name, char *err, size_t errlen) {
    for (int i = 0; i < s->n; i++) {
        const char *base = strrchr(s->files[i].path, '/');
        if (!strcmp(base ? base + 1 : s->files[i].path, name)) return HL_OK;
    }
    hl_st_file *f = realloc(s->files, (size_t)(s->n + 1) * sizeof *f);
    if (f) s->files = f;
    char **u = realloc(s->used, (size_t)(s->n + 1) * sizeof *u);
    if (u) s->used = u;
    if (!f || !u) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", dir);
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = hl_st_open(path, &s->files[s->n], err, errlen);
    if (rc) return rc;
    s->used[s->n] = calloc((size_t)s->files[s->n].n + 1, 1);
    s->n++;
    return s->used[s->n - 1] ? HL_OK : hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path);
}

// Opens the shards listed by model.safetensors.index.json's weight_map.
static int open_index(shard_set *s, const char *dir, const char *index, char *err, size_t errlen) {
    char *text = NULL;
    cJSON *root = NULL;
    int rc = hl_read_text_file(index, HL_MAX_INPUT_BYTES, &text, NULL, err, errlen);
    if (!rc) rc = hl_json_parse(text, index, &root, err, errlen);
    free(text);
    const cJSON *map = rc ? NULL : cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!rc && !cJSON_IsObject(map))
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: weight_map: missing or not an object", index);
    const cJSON *kv;
    if (!rc) cJSON_ArrayForEach(kv, map) {
        if (!cJSON_IsString(kv) || !kv->valuestring[0] || strchr(kv->valuestring, '/') ||
            !strcmp(kv->valuestring, "..") || !strcmp(kv->valuestring, ".")) {
            char got[200];
            hl_json_brief(kv, got, sizeof got);
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: weight_map.%s: expected a file name in the directory (got %s)",
                         index, kv->string, got);
        }
        if (!rc) rc = shard_add(s, dir, kv->valuestring, err, errlen);
        if (rc) break;
    }
    cJSON_Delete(root);
    return rc;
}

static int shards_open(shard_set *s, const char *dir, char *err, size_t errlen) {
    char index[PATH_LEN];
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    memset(s, 0, sizeof *s);
    int rc = access(index, F_OK) == 0 ? open_index(s, dir, index, err, errlen)
                                      : shard_add(s, dir, "model.safetensors", err, errlen);
    if (!rc && s->n == 0) rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: weight_map names no file", index);
    if (rc) shards_close(s);
    return rc;
}

// The tensor of that HF name in any shard (its file in *fi), or NULL.
static const hl_st_tensor *shards_find(const shard_set *s, const char *name, int *fi) {
    for (int i = 0; i < s->n; i++) {
        const hl_st_tensor *t = hl_st_find(&s->files[i], name);
        if (t) { *fi = i; return t; }
    }
    return NULL;
}

// Loads one HF tensor `name` of shape (ndim, shape) from the shards into dst:
// present, right shape, finite.
static int load_named(shard_set *s, const char *name, int ndim, const int64_t *shape, float *dst,
                      char *err, size_t errlen) {
    int fi = 0;
    const hl_st_tensor *t = shards_find(s, name, &fi);
    if (!t) return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s' missing (the model has it)", s->files[0].path, name);
    hl_st_file *f = &s->files[fi];
    int same = t->ndim == ndim;
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= (size_t)shape[d];
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == shape[d];
    if (!same)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': shape does not match config.json", f->path, name);
    s->used[fi][t - f->tensors] = 1;
    int rc = hl_st_read_f32(f, t, dst, err, errlen);
    for (size_t i = 0; !rc && i < numel; i++)
        if (!isfinite(dst[i]))
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': element %zu is not finite", f->path, name, i);
    return rc;
}

// Loads one model tensor: under its HF name, or (Mixtral's experts) stacked
// from its E per-expert tensors.
static int load_tensor(shard_set *s, hl_hf_family fam, const hl_tensor_info *info, float *dst,
                       char *err, size_t errlen) {
    char name[256];
    int parts = expert_part(fam, info, 0, name, sizeof name);
    for (int e = 0; e < parts; e++) {
        expert_part(fam, info, e, name, sizeof name);
        size_t per = (size_t)info->shape[1] * info->shape[2];
        int rc = load_named(s, name, 2, info->shape + 1, dst + (size_t)e * per, err, errlen);
        if (rc) return rc;
    }
    if (parts) return HL_OK;
    hl_hf_tensor_name(fam, info->name, name, sizeof name);
    return load_named(s, name, info->ndim, info->shape, dst, err, errlen);
}

// A tied lm_head.weight in the files (some writers keep it) must equal the
// embedding (as loaded into the host staging arena `host`).
static int check_tied_head(shard_set *s, hl_model *m, const float *host, int fi, const hl_st_tensor *t,
                           char *err, size_t errlen) {
    const hl_tensor_info *emb = hl_model_tensor(m, 0);
    if (hl_st_numel(t) != emb->numel)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor 'lm_head.weight': shape differs from the tied embedding",
                       s->files[fi].path);
    float *v = malloc(emb->numel * sizeof *v + 1);
    if (!v) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", s->files[fi].path);
    int rc = hl_st_read_f32(&s->files[fi], t, v, err, errlen);
    if (!rc && memcmp(v, host + emb->offset, emb->numel * sizeof *v))
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor 'lm_head.weight' differs from the embedding, but "
                     "config.json says tie_word_embeddings", s->files[fi].path);
    free(v);
    return rc;
}

// Every tensor of the files consumed (or a tied head equal to the embedding).
static int check_extra(shard_set *s, hl_model *m, const float *host, char *err, size_t errlen) {
    for (int fi = 0; fi < s->n; fi++)
        for (int j = 0; j < s->files[fi].n; j++) {
            const hl_st_tensor *t = &s->files[fi].tensors[j];
            if (s->used[fi][j]) continue;
            if (!strcmp(t->name, "lm_head.weight") && hl_model_cfg(m)->tie_embeddings) {
                int rc = check_tied_head(s, m, host, fi, t, err, errlen);
                if (rc) return rc;
                continue;
            }
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: unexpected tensor '%s' (not a parameter of this model)",
                           s->files[fi].path, t->name);
        }
    return HL_OK;
}

int hl_hf_load_weights(const char *dir, hl_hf_family family, hl_model *m, char *err, size_t errlen) {
    shard_set s;
    int rc = shards_open(&s, dir, err, errlen);
    if (rc) return rc;
    // read into a host staging arena, copied to the model's backend at the end
    float *host = malloc((hl_model_numel(m) ? hl_model_numel(m) : 1) * sizeof *host);
    if (!host) rc = hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", dir);
    for (int i = 0; i < hl_model_num_tensors(m) && !rc; i++) {
        const hl_tensor_info *info = hl_model_tensor(m, i);
        rc = load_tensor(&s, family, info, host + info->offset, err, errlen);
    }
    if (!rc) rc = check_extra(&s, m, host, err, errlen);
    if (!rc) rc = hl_model_params_from_host(m, host);
    free(host);
    shards_close(&s);
    return rc;
}

// ================================================================ export

// Hugging Face blocks all have the same FFN: model.ffn.pattern must give `want` to every layer.
static int hf_ffn_per_layer(const hl_model_config *cfg, hl_ffn_type want, char *err, size_t errlen) {
    for (int l = 0; l < cfg->n_layers; l++)
        if (cfg->layer[l].ffn != want)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.ffn.pattern: layer %d has FFN \"%s\"; every layer needs \"%s\"",
                           l, hl_ffn_name(cfg->layer[l].ffn), hl_ffn_name(want));
    return HL_OK;
}

int hl_hf_export_family(const hl_model_config *cfg, hl_hf_family *family, char *err, size_t errlen) {
    // Llama/Mistral, Mamba and Mamba2 blocks are exactly the attention, mamba and mamba2 modules.
    const hl_layer_type *t = hl_mixer_type(cfg->layer[0].kind);
    int mamba = t == &hl_layer_mamba || t == &hl_layer_mamba2;
    for (int l = 0; l < cfg->n_layers; l++)
        if (hl_mixer_type(cfg->layer[l].kind) != t || (t != &hl_layer_attention && !mamba))
            return hl_fail(err, errlen, HL_EBADINPUT, "model.layers: \"%s\" has no Hugging Face equivalent "
                           "(all-A exports as Llama/Mistral, all-S as Mamba, all-M as Mamba2)", cfg->layers_pattern);
    if (cfg->meta_tokens)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.meta_tokens: %d meta tokens have no Hugging Face "
                       "Llama/Mamba equivalent", cfg->meta_tokens);
    if (cfg->ssm.inner_norms && t != &hl_layer_attention)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.inner_norms: Hugging Face's Mamba and Mamba2 have no "
                       "RMSNorms on dt, B and C (Jamba's and Hymba's do; needs false)");
    if (mamba) {
        if (cfg->ffn.type != HL_FFN_NONE)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.ffn.type: Mamba blocks have no FFN (needs \"none\")");
        if (hf_ffn_per_layer(cfg, HL_FFN_NONE, err, errlen)) return HL_EBADINPUT;
        *family = t == &hl_layer_mamba2 ? HL_HF_MAMBA2 : HL_HF_MAMBA;
        return HL_OK;
    }
    for (int l = 0; l < cfg->n_layers; l++)
        if (cfg->layer[l].kv_source >= 0)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.kv_share: KV sharing has no Llama equivalent");
    if (cfg->attn.no_rope)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.rope: Llama, Mistral and Mixtral rotate queries and "
                       "keys (needs true)");
    int moe = cfg->ffn.type == HL_FFN_MOE;
    if (cfg->ffn.type != HL_FFN_SWIGLU && !moe)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ffn.type: Llama layers need \"swiglu\" (Mixtral's \"moe\")");
    if (hf_ffn_per_layer(cfg, cfg->ffn.type, err, errlen)) return HL_EBADINPUT;
    if (moe && cfg->ffn.moe.router != HL_MOE_SOFTMAX_TOPK_RENORM)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ffn.moe.router: Mixtral renormalises its top-k weights "
                       "(needs \"softmax_topk_renorm\")");
    if (moe && cfg->ffn.moe.z_loss != 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.ffn.moe.z_loss: Mixtral has no router z-loss (needs 0)");
    if (cfg->layer[0].v_head_dim != cfg->attn.head_dim)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.v_head_dim: Llama needs v_head_dim == head_dim");
    if (cfg->attn.window && cfg->attn.n_global)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.global_layers: Mistral slides the window in every layer");
    *family = moe ? HL_HF_MIXTRAL : cfg->attn.window ? HL_HF_MISTRAL : HL_HF_LLAMA;
    return HL_OK;
}

// A float as the shortest decimal that reads back as the same float.
static double shortest(float v) {
    char buf[40];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return strtod(buf, NULL);
}

static void add_num(cJSON *o, const char *key, double v) { cJSON_AddNumberToObject(o, key, v); }

static cJSON *export_config(const hl_model_config *cfg, hl_hf_family fam) {
    static const char *const arch[] = {"LlamaForCausalLM", "MistralForCausalLM", "MambaForCausalLM",
                                       "MixtralForCausalLM", "Mamba2ForCausalLM"};
    static const char *const type[] = {"llama", "mistral", "mamba", "mixtral", "mamba2"};
    cJSON *c = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(c, "architectures");
    cJSON_AddItemToArray(a, cJSON_CreateString(arch[fam]));
    cJSON_AddStringToObject(c, "model_type", type[fam]);
    cJSON_AddStringToObject(c, "torch_dtype", "float32");
    cJSON_AddStringToObject(c, "hidden_act", "silu");
    add_num(c, "vocab_size", cfg->vocab_size);
    add_num(c, "hidden_size", cfg->d_model);
    add_num(c, "num_hidden_layers", cfg->n_layers);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", cfg->tie_embeddings);
    if (fam == HL_HF_MAMBA) {
        add_num(c, "state_size", cfg->ssm.d_state);
        add_num(c, "conv_kernel", cfg->ssm.d_conv);
        add_num(c, "expand", cfg->ssm.expand);
        add_num(c, "intermediate_size", (double)cfg->ssm.expand * cfg->d_model);
        add_num(c, "time_step_rank", cfg->ssm.dt_rank > 0 ? cfg->ssm.dt_rank : (cfg->d_model + 15) / 16);
        add_num(c, "layer_norm_epsilon", shortest(cfg->norm_eps));
        cJSON_AddBoolToObject(c, "use_bias", 0);
        cJSON_AddBoolToObject(c, "use_conv_bias", 1);
        return c;
    }
    if (fam == HL_HF_MAMBA2) {   // Mamba2Config; time_step_limit left at its (0, inf)
        add_num(c, "state_size", cfg->ssm.d_state);
        add_num(c, "conv_kernel", cfg->ssm.d_conv);
        add_num(c, "expand", cfg->ssm.expand);
        add_num(c, "head_dim", cfg->ssm.headdim);
        add_num(c, "num_heads", (double)cfg->ssm.expand * cfg->d_model / cfg->ssm.headdim);
        add_num(c, "n_groups", cfg->ssm.ngroups);
        add_num(c, "chunk_size", cfg->ssm.chunk_size);
        add_num(c, "layer_norm_epsilon", shortest(cfg->norm_eps));
        cJSON_AddBoolToObject(c, "use_bias", 0);
        cJSON_AddBoolToObject(c, "use_conv_bias", 1);
        return c;
    }
    add_num(c, "num_attention_heads", cfg->attn.n_heads);
    add_num(c, "num_key_value_heads", cfg->attn.n_kv_heads);
    add_num(c, "head_dim", cfg->attn.head_dim);
    add_num(c, "intermediate_size", fam == HL_HF_MIXTRAL ? cfg->ffn.moe.d_ff : cfg->ffn.d_ff);
    add_num(c, "rms_norm_eps", shortest(cfg->norm_eps));
    add_num(c, "rope_theta", shortest(cfg->attn.rope_theta));
    add_num(c, "max_position_embeddings", 4096);
    cJSON_AddBoolToObject(c, "attention_bias", 0);
    cJSON_AddBoolToObject(c, "mlp_bias", 0);
    if (fam == HL_HF_MISTRAL) add_num(c, "sliding_window", cfg->attn.window);
    if (fam == HL_HF_MIXTRAL) {   // sliding_window null = global; the aux loss on iff load_balance != 0
        if (cfg->attn.window) add_num(c, "sliding_window", cfg->attn.window);
        else cJSON_AddNullToObject(c, "sliding_window");
        add_num(c, "num_local_experts", cfg->ffn.moe.n_experts);
        add_num(c, "num_experts_per_tok", cfg->ffn.moe.top_k);
        // load_balance 0: HF's default coefficient, unused (transformers 5
        // wants a float here, and cJSON writes 0 as an integer); no jitter
        // (router_jitter_noise left at its default 0.0, for the same reason)
        double lb = cfg->ffn.moe.load_balance;
        add_num(c, "router_aux_loss_coef", lb != 0 ? shortest((float)lb) : 0.001);
        cJSON_AddBoolToObject(c, "output_router_logits", lb != 0);
    }
    return c;
}

// DIR must be missing (then created: *created = 1) or an empty directory.
static int prepare_dir(const char *dir, int *created, char *err, size_t errlen) {
    *created = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot use as the output directory: %s", dir, strerror(errno));
        if (mkdir(dir, 0777) != 0)
            return hl_fail(err, errlen, HL_EFAIL, "%s: cannot create: %s", dir, strerror(errno));
        *created = 1;
        return HL_OK;
    }
    const struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty ? HL_OK : hl_fail(err, errlen, HL_EBADINPUT, "%s: exists and is not empty (refusing to overwrite)", dir);
}

static int write_text(const char *path, const char *text, char *err, size_t errlen) {
    FILE *fp = fopen(path, "w");
    if (!fp) return hl_fail(err, errlen, HL_EFAIL, "%s: cannot create: %s", path, strerror(errno));
    int bad = fputs(text, fp) < 0 || fputc('\n', fp) < 0;
    bad |= fclose(fp) != 0;
    return bad ? hl_fail(err, errlen, HL_EFAIL, "%s: write failed: %s", path, strerror(errno)) : HL_OK;
}

// model.safetensors: the parameters in model order under their HF names
// (Mixtral's stacked experts split into one tensor per expert, in expert order).
static int export_weights(hl_model *m, hl_hf_family fam, const char *path, char *err, size_t errlen) {
    int n = 0;
    char name[256];
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        int parts = expert_part(fam, hl_model_tensor(m, i), 0, name, sizeof name);
        n += parts ? parts : 1;
    }
    hl_st_tensor *t = calloc((size_t)n + 1, sizeof *t);
    float *host = malloc((hl_model_numel(m) ? hl_model_numel(m) : 1) * sizeof *host);   // host staging
    if (!t || !host) { free(t); free(host); return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path); }
    hl_model_params_to_host(m, host);
    for (int i = 0, k = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *info = hl_model_tensor(m, i);
        int parts = expert_part(fam, info, 0, name, sizeof name);
        for (int e = 0; e < parts; e++, k++) {
            expert_part(fam, info, e, t[k].name, sizeof t[k].name);
            t[k].ndim = 2;
            t[k].shape[0] = info->shape[1];
            t[k].shape[1] = info->shape[2];
            t[k].data = host + info->offset + (size_t)e * info->shape[1] * info->shape[2];
        }
        if (parts) continue;
        hl_hf_tensor_name(fam, info->name, t[k].name, sizeof t[k].name);
        t[k].ndim = info->ndim;
        for (int d = 0; d < info->ndim; d++) t[k].shape[d] = info->shape[d];
        t[k].data = host + info->offset;
        k++;
    }
    const hl_st_meta meta[1] = {{"format", "pt"}};
    int rc = hl_st_write(path, t, n, meta, 1, err, errlen);
    free(t);
    free(host);
    return rc;
}

int hl_hf_export(hl_model *m, const char *dir, char *err, size_t errlen) {
    hl_hf_family fam;
    int created = 0;
    int rc = hl_hf_export_family(hl_model_cfg(m), &fam, err, errlen);
    if (!rc) rc = prepare_dir(dir, &created, err, errlen);
    if (rc) return rc;
    char cfg_path[PATH_LEN], st_path[PATH_LEN];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    cJSON *config = export_config(hl_model_cfg(m), fam);
    char *text = config ? cJSON_Print(config) : NULL;
    cJSON_Delete(config);
    rc = text ? write_text(cfg_path, text, err, errlen) : hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", cfg_path);
    free(text);
    if (!rc) rc = export_weights(m, fam, st_path, err, errlen);
    if (rc) {
        unlink(cfg_path);
        unlink(st_path);
        if (created) rmdir(dir);
    }
    return rc;
}
