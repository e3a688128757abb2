// hf_config.c: Hugging Face config.json -> hylab spec (see hf_config.h).
// Each family is a list of tables; a field's first matching row says what
// it is:
//   MAP_INT / MAP_NUM / MAP_BOOL  copied to the spec path in `arg`
//   MUST                          must equal the JSON literal in `arg` (the
//                                 one value hylab computes)
//   FN                            a rule with code (checks, derived keys)
//   SKIP                          irrelevant to the computed function; `arg`
//                                 says why (the table is the documentation)
// Absent fields take the family's Hugging Face default (skeleton hooks).
#include "models/hf_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_util.h"
#include "core/status.h"

typedef struct imp imp;
typedef int (*rule_fn)(imp *c, const char *key, const cJSON *v);
typedef enum { SKIP, MAP_INT, MAP_NUM, MAP_BOOL, MUST, FN } rule_kind;

typedef struct {
    const char *key;
    rule_kind kind;
    const char *arg;   // spec path (MAP_*), JSON literal (MUST), reason (SKIP)
    rule_fn fn;        // FN only
} rule;

struct imp {
    const char *src;       // the config file, for messages
    const cJSON *cfg;
    cJSON *spec;           // {"name", "model": {...}}
    char *err; size_t errlen;
};

// ---------------------------------------------------------------- helpers
static int bad(imp *c, const char *key, const cJSON *v, const char *what) {
    char got[160];
    if (v) hl_json_brief(v, got, sizeof got);
    else snprintf(got, sizeof got, "nothing");
    return hl_fail(c->err, c->errlen, HL_EBADINPUT, "%s: %s: %s (got %s)", c->src, key, what, got);
}

static int is_int(const cJSON *v) {
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e9;
}

// Writes value (owned by the spec afterwards) at a dotted path below the spec.
static void put(imp *c, const char *dotted, cJSON *value) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", dotted);
    cJSON *obj = c->spec;
    char *save = NULL, *part = strtok_r(buf, ".", &save);
    for (char *next; (next = strtok_r(NULL, ".", &save)); part = next) {
        cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, part);
        if (!child) child = cJSON_AddObjectToObject(obj, part);
        obj = child;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, part);
    cJSON_AddItemToObject(obj, part, value);
}
static void put_num(imp *c, const char *path, double x) { put(c, path, cJSON_CreateNumber(x)); }
static void put_str(imp *c, const char *path, const char *s) { put(c, path, cJSON_CreateString(s)); }

// A config field as a number, or dflt when absent or null.
static double num_or(const imp *c, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->cfg, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

// ---------------------------------------------------------------- rules with code
// A field that must be 0 (dropout, router noise: training-time randomness hylab does not have).
static int fn_zero(imp *c, const char *key, const cJSON *v) {
    if (cJSON_IsNumber(v) && v->valuedouble == 0) return HL_OK;
    return bad(c, key, v, "not supported: hylab trains without it (needs 0)");
}

// Mistral / Mixtral / Jamba sliding_window W: the query at p sees p - W < k <= p: hylab's window W.
static int fn_window(imp *c, const char *key, const cJSON *v) {
    if (cJSON_IsNull(v)) { put_num(c, "model.attn.window", 0); return HL_OK; }
    if (!is_int(v) || v->valuedouble < 1) return bad(c, key, v, "expected null or a positive integer");
    put_num(c, "model.attn.window", v->valuedouble);
    return HL_OK;
}

// Hymba's sliding_window W shows W + 1 keys (models/attention.c): hylab's window W + 1.
static int fn_hymba_window(imp *c, const char *key, const cJSON *v) {
    if (cJSON_IsNull(v)) { put_num(c, "model.attn.window", 0); return HL_OK; }
    if (!is_int(v) || v->valuedouble < 1) return bad(c, key, v, "expected null or a positive integer");
    put_num(c, "model.attn.window", v->valuedouble + 1);
    return HL_OK;
}

// transformers 5: rope_parameters {"rope_type": "default", "rope_theta": X}.
static int fn_rope_parameters(imp *c, const char *key, const cJSON *v) {
    if (cJSON_IsNull(v)) return HL_OK;
    if (!cJSON_IsObject(v)) return bad(c, key, v, "expected an object");
    const cJSON *kv;
    cJSON_ArrayForEach(kv, v) {
        char path[160];
        snprintf(path, sizeof path, "%s.%s", key, kv->string);
        if (!strcmp(kv->string, "rope_type")) {
            if (!cJSON_IsString(kv) || strcmp(kv->valuestring, "default"))
                return bad(c, path, kv, "only \"default\" RoPE is supported");
        } else if (!strcmp(kv->string, "rope_theta")) {
            if (!cJSON_IsNumber(kv) || !(kv->valuedouble > 0)) return bad(c, path, kv, "expected a positive number");
            put_num(c, "model.attn.rope_theta", kv->valuedouble);
        } else {
            return bad(c, path, kv, "not supported");
        }
    }
    return HL_OK;
}

// "auto" (ceil(hidden_size / 16), hylab's dt_rank 0) or a positive integer.
static int fn_dt_rank(imp *c, const char *key, const cJSON *v) {
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "auto")) return HL_OK;
    if (!is_int(v) || v->valuedouble < 1) return bad(c, key, v, "expected \"auto\" or a positive integer");
    put_num(c, "model.ssm.dt_rank", v->valuedouble);
    return HL_OK;
}

// A field that repeats another one (mamba's n_layer, d_model) must agree with it.
static int same_as(imp *c, const char *key, const cJSON *v, const char *other) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(c->cfg, other);
    if (cJSON_IsNumber(v) && cJSON_IsNumber(o) && v->valuedouble == o->valuedouble) return HL_OK;
    char what[96];
    snprintf(what, sizeof what, "must equal %s", other);
    return bad(c, key, v, what);
}
static int fn_n_layer(imp *c, const char *key, const cJSON *v) { return same_as(c, key, v, "num_hidden_layers"); }
static int fn_d_model(imp *c, const char *key, const cJSON *v) { return same_as(c, key, v, "hidden_size"); }

// d_inner of the Mamba families: expand (mamba_expand) * hidden_size.
static double d_inner_of(const imp *c) {
    double e = num_or(c, "expand", num_or(c, "mamba_expand", 2));
    return e * num_or(c, "hidden_size", 0);
}

// Mamba's intermediate_size / d_inner and Hymba's conv_dim entries: d_inner.
static int fn_d_inner(imp *c, const char *key, const cJSON *v) {
    if (cJSON_IsNumber(v) && v->valuedouble == d_inner_of(c)) return HL_OK;
    return bad(c, key, v, "must equal expand * hidden_size (hylab's d_inner)");
}

// Mamba-2: num_heads = d_inner / head_dim.
static int fn_m2_heads(imp *c, const char *key, const cJSON *v) {
    double hd = num_or(c, "head_dim", 64);
    if (cJSON_IsNumber(v) && hd > 0 && v->valuedouble * hd == d_inner_of(c)) return HL_OK;
    return bad(c, key, v, "must equal expand * hidden_size / head_dim");
}

// +inf as the configs write it: Python's bare Infinity (read as the string
// "Infinity") or transformers 5's {"__float__": "Infinity"}.
static int is_plus_inf(const cJSON *v) {
    const cJSON *f = cJSON_IsObject(v) && cJSON_GetArraySize(v) == 1 ? cJSON_GetObjectItemCaseSensitive(v, "__float__") : NULL;
    if (f) v = f;
    return cJSON_IsString(v) && !strcmp(v->valuestring, "Infinity");
}

// Mamba-2's dt clamp: [0, inf] is no clamp (hylab's 'M' has none).
static int fn_dt_limit(imp *c, const char *key, const cJSON *v) {
    const cJSON *lo = cJSON_GetArrayItem(v, 0), *hi = cJSON_GetArrayItem(v, 1);
    int inf = is_plus_inf(hi);
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && cJSON_IsNumber(lo) && lo->valuedouble == 0 && inf)
        return HL_OK;
    return bad(c, key, v, "not supported: hylab's Mamba-2 does not clamp dt (needs [0.0, Infinity])");
}

// Jamba: intermediate_size is the dense SwiGLU's and each expert's hidden size.
static int fn_jamba_ff(imp *c, const char *key, const cJSON *v) {
    if (!is_int(v) || v->valuedouble < 1) return bad(c, key, v, "expected a positive integer");
    put_num(c, "model.ffn.d_ff", v->valuedouble);
    put_num(c, "model.ffn.moe.d_ff", v->valuedouble);
    return HL_OK;
}

// Read by the family's finish hook (checked there); accepted here.
static int fn_later(imp *c, const char *key, const cJSON *v) {
    if (cJSON_IsNumber(v) || cJSON_IsString(v) || cJSON_IsNull(v)) return HL_OK;
    return bad(c, key, v, "expected a number, a string or null");
}

// Hymba: -1 means "the default" (attn_hidden_size = hidden_size, kq_head_dim =
// hidden_size / heads, v_head_dim = kq_head_dim); else a positive integer.
static int minus1_or_int(imp *c, const char *key, const cJSON *v, const char *path) {
    if (cJSON_IsNumber(v) && v->valuedouble == -1) return HL_OK;
    if (!is_int(v) || v->valuedouble < 1) return bad(c, key, v, "expected -1 or a positive integer");
    if (path) put_num(c, path, v->valuedouble);
    return HL_OK;
}
static int fn_kq_head_dim(imp *c, const char *key, const cJSON *v) { return minus1_or_int(c, key, v, "model.attn.head_dim"); }
static int fn_v_head_dim(imp *c, const char *key, const cJSON *v) { return minus1_or_int(c, key, v, "model.attn.v_head_dim"); }
static int fn_attn_hidden(imp *c, const char *key, const cJSON *v) {
    int rc = minus1_or_int(c, key, v, NULL);
    if (rc || v->valuedouble == -1) return rc;
    double kq = num_or(c, "kq_head_dim", -1), H = num_or(c, "num_attention_heads", 0);
    double want = kq > 0 ? kq * H : num_or(c, "hidden_size", 0);
    return v->valuedouble == want ? HL_OK : bad(c, key, v, "must equal num_attention_heads * kq_head_dim");
}

static int fn_kq_norm(imp *c, const char *key, const cJSON *v) {
    if (cJSON_IsNull(v) || (cJSON_IsString(v) && !strcmp(v->valuestring, "none"))) return HL_OK;
    return bad(c, key, v, "not supported: hylab has no norm on q and k (needs \"none\" or null)");
}

// A list of layer indices (or null) copied to a spec path.
static int int_list(imp *c, const char *key, const cJSON *v, const char *path) {
    if (cJSON_IsNull(v)) return HL_OK;
    if (!cJSON_IsArray(v)) return bad(c, key, v, "expected a list of layer indices or null");
    const cJSON *e;
    cJSON_ArrayForEach(e, v) if (!is_int(e)) return bad(c, key, v, "expected integers");
    put(c, path, cJSON_Duplicate(v, 1));
    return HL_OK;
}
static int fn_global_idx(imp *c, const char *key, const cJSON *v) { return int_list(c, key, v, "model.attn.global_layers"); }

// Hymba's kv_reuse_group: groups of consecutive layers = hylab's kv_share (checked by the spec parser).
static int fn_kv_groups(imp *c, const char *key, const cJSON *v) {
    if (cJSON_IsNull(v)) return HL_OK;
    if (!cJSON_IsArray(v)) return bad(c, key, v, "expected a list of layer groups or null");
    const cJSON *g, *e;
    cJSON_ArrayForEach(g, v) {
        if (!cJSON_IsArray(g)) return bad(c, key, v, "expected lists of layer indices");
        cJSON_ArrayForEach(e, g) if (!is_int(e)) return bad(c, key, v, "expected integers");
    }
    put(c, "model.attn.kv_share", cJSON_Duplicate(v, 1));
    return HL_OK;
}

// Hymba's conv_dim {"0": d_inner, ...}: every layer's conv width is d_inner.
static int fn_conv_dim(imp *c, const char *key, const cJSON *v) {
    if (!cJSON_IsObject(v)) return bad(c, key, v, "expected an object {layer: width}");
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        char path[160];
        snprintf(path, sizeof path, "%s.%s", key, e->string);
        if (fn_d_inner(c, path, e)) return HL_EBADINPUT;
    }
    return HL_OK;
}

// Hymba's layer_type: every layer "h" (parallel hybrid heads, hylab's 'H').
static int fn_layer_type(imp *c, const char *key, const cJSON *v) {
    if (!cJSON_IsArray(v)) return bad(c, key, v, "expected a list of layer types");
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, v) {
        char path[160];
        snprintf(path, sizeof path, "%s[%d]", key, i++);
        if (!cJSON_IsString(e) || strcmp(e->valuestring, "h"))
            return bad(c, path, e, "only \"h\" (hybrid heads, hylab's 'H') is supported");
    }
    if (i != (int)num_or(c, "num_hidden_layers", -1)) return bad(c, key, v, "must list num_hidden_layers entries");
    return HL_OK;
}

// ---------------------------------------------------------------- the tables
#define END {NULL, SKIP, NULL, NULL}
#define WHY_META "metadata: names, versions, loader hints"
#define WHY_TOKENS "special token ids: data, not the network"
#define WHY_INIT "initialisation of a new model: not the function of given weights"
#define WHY_RUNTIME "a runtime switch of the transformers forward (caching, outputs, kernels)"
#define WHY_PRECISION "numeric precision of the released kernels (hylab computes in f32)"
#define WHY_CONTEXT "the context length trained or allowed: no parameter or operation depends on it"

// Every family.
static const rule common_rules[] = {
    {"architectures", SKIP, WHY_META, NULL}, {"model_type", SKIP, "read first: selects the table", NULL},
    {"_name_or_path", SKIP, WHY_META, NULL}, {"transformers_version", SKIP, WHY_META, NULL},
    {"auto_map", SKIP, WHY_META, NULL}, {"torch_dtype", SKIP, "storage dtype of the weights", NULL},
    {"dtype", SKIP, "storage dtype of the weights", NULL},
    {"bos_token_id", SKIP, WHY_TOKENS, NULL}, {"eos_token_id", SKIP, WHY_TOKENS, NULL},
    {"pad_token_id", SKIP, WHY_TOKENS, NULL},
    {"initializer_range", SKIP, WHY_INIT, NULL}, {"use_cache", SKIP, WHY_RUNTIME, NULL},
    {"vocab_size", MAP_INT, "model.vocab_size", NULL}, {"hidden_size", MAP_INT, "model.d_model", NULL},
    {"num_hidden_layers", MAP_INT, "model.n_layers", NULL}, {"hidden_act", MUST, "\"silu\"", NULL},
    END};

// Llama-style attention and norms (llama, mistral, mixtral, jamba, hymba).
static const rule attn_rules[] = {
    {"num_attention_heads", MAP_INT, "model.attn.n_heads", NULL},
    {"num_key_value_heads", MAP_INT, "model.attn.n_kv_heads", NULL},
    {"head_dim", MAP_INT, "model.attn.head_dim", NULL},
    {"rms_norm_eps", MAP_NUM, "model.norm_eps", NULL},
    {"tie_word_embeddings", MAP_BOOL, "model.tie_embeddings", NULL},
    {"attention_bias", MUST, "false", NULL}, {"mlp_bias", MUST, "false", NULL},
    {"attention_dropout", FN, NULL, fn_zero},
    {"max_position_embeddings", SKIP, WHY_CONTEXT, NULL},
    {"pretraining_tp", SKIP, "tensor-parallel slicing of the same matmuls", NULL},
    END};

static const rule rope_rules[] = {
    {"rope_theta", MAP_NUM, "model.attn.rope_theta", NULL}, {"rope_scaling", MUST, "null", NULL},
    {"rope_parameters", FN, NULL, fn_rope_parameters}, END};

static const rule llama_rules[] = {{"intermediate_size", MAP_INT, "model.ffn.d_ff", NULL}, END};

static const rule mistral_rules[] = {
    {"intermediate_size", MAP_INT, "model.ffn.d_ff", NULL}, {"sliding_window", FN, NULL, fn_window}, END};

static const rule mixtral_rules[] = {
    {"intermediate_size", MAP_INT, "model.ffn.moe.d_ff", NULL}, {"sliding_window", FN, NULL, fn_window},
    {"num_local_experts", MAP_INT, "model.ffn.moe.n_experts", NULL},
    {"num_experts_per_tok", MAP_INT, "model.ffn.moe.top_k", NULL},
    {"router_aux_loss_coef", MAP_NUM, "model.ffn.moe.load_balance", NULL},
    {"router_jitter_noise", FN, NULL, fn_zero},
    {"output_router_logits", SKIP, WHY_RUNTIME, NULL}, END};

// Mamba and Mamba-2 (state-spaces' HF ports).
static const rule ssm_hf_rules[] = {
    {"state_size", MAP_INT, "model.ssm.d_state", NULL}, {"conv_kernel", MAP_INT, "model.ssm.d_conv", NULL},
    {"expand", MAP_INT, "model.ssm.expand", NULL}, {"intermediate_size", FN, NULL, fn_d_inner},
    {"d_inner", FN, NULL, fn_d_inner}, {"n_layer", FN, NULL, fn_n_layer}, {"d_model", FN, NULL, fn_d_model},
    {"layer_norm_epsilon", MAP_NUM, "model.norm_eps", NULL},
    {"tie_word_embeddings", MAP_BOOL, "model.tie_embeddings", NULL},
    {"use_bias", MUST, "false", NULL}, {"use_conv_bias", MUST, "true", NULL}, {"rms_norm", MUST, "true", NULL},
    {"ssm_cfg", MUST, "{}", NULL},
    {"residual_in_fp32", SKIP, WHY_PRECISION, NULL}, {"fused_add_norm", SKIP, "kernel fusion of the same norm", NULL},
    {"pad_vocab_size_multiple", SKIP, "already applied: vocab_size is the padded size", NULL},
    {"rescale_prenorm_residual", SKIP, WHY_INIT, NULL}, {"time_step_floor", SKIP, WHY_INIT, NULL},
    {"time_step_init_scheme", SKIP, WHY_INIT, NULL}, {"time_step_max", SKIP, WHY_INIT, NULL},
    {"time_step_min", SKIP, WHY_INIT, NULL}, {"time_step_scale", SKIP, WHY_INIT, NULL},
    {"use_associative_scan", SKIP, WHY_RUNTIME, NULL}, {"use_mambapy", SKIP, WHY_RUNTIME, NULL},
    END};

static const rule mamba_rules[] = {{"time_step_rank", FN, NULL, fn_dt_rank}, END};

static const rule mamba2_rules[] = {
    {"head_dim", MAP_INT, "model.ssm.headdim", NULL}, {"n_groups", MAP_INT, "model.ssm.ngroups", NULL},
    {"chunk_size", MAP_INT, "model.ssm.chunk_size", NULL}, {"num_heads", FN, NULL, fn_m2_heads},
    {"time_step_limit", FN, NULL, fn_dt_limit},
    {"time_step_rank", SKIP, "unused by Mamba-2 (dt comes straight from in_proj)", NULL},
    {"norm_before_gate", SKIP, "unused by transformers' Mamba2 (MambaRMSNormGated gates before the norm, as hylab's 'M')", NULL},
    END};

// The Mamba of Jamba and Hymba (JambaMambaMixer, HymbaBlock's mamba).
static const rule mamba_in_hybrid_rules[] = {
    {"mamba_d_state", MAP_INT, "model.ssm.d_state", NULL}, {"mamba_d_conv", MAP_INT, "model.ssm.d_conv", NULL},
    {"mamba_expand", MAP_INT, "model.ssm.expand", NULL}, {"mamba_dt_rank", FN, NULL, fn_dt_rank},
    {"mamba_conv_bias", MUST, "true", NULL}, {"mamba_proj_bias", MUST, "false", NULL},
    {"mamba_inner_layernorms", MAP_BOOL, "model.ssm.inner_norms", NULL},
    {"use_mamba_kernels", SKIP, WHY_RUNTIME, NULL},
    {"output_router_logits", SKIP, WHY_RUNTIME, NULL},
    {"calc_logits_for_entire_prompt", SKIP, WHY_RUNTIME, NULL},
    {"num_logits_to_keep", SKIP, WHY_RUNTIME, NULL},
    {"n_ctx", SKIP, WHY_CONTEXT, NULL},
    {"use_associative_scan", SKIP, WHY_RUNTIME, NULL}, {"use_mambapy", SKIP, WHY_RUNTIME, NULL},
    END};

static const rule jamba_rules[] = {
    {"intermediate_size", FN, NULL, fn_jamba_ff}, {"sliding_window", FN, NULL, fn_window},
    {"attn_layer_period", FN, NULL, fn_later}, {"attn_layer_offset", FN, NULL, fn_later},
    {"expert_layer_period", MAP_INT, "model.ffn.moe.every", NULL},
    {"expert_layer_offset", MAP_INT, "model.ffn.moe.offset", NULL},
    {"num_experts", MAP_INT, "model.ffn.moe.n_experts", NULL},
    {"num_experts_per_tok", MAP_INT, "model.ffn.moe.top_k", NULL},
    {"router_aux_loss_coef", MAP_NUM, "model.ffn.moe.load_balance", NULL},
    END};

static const rule hymba_rules[] = {
    {"intermediate_size", MAP_INT, "model.ffn.d_ff", NULL}, {"mlp_hidden_act", MUST, "\"silu\"", NULL},
    {"sliding_window", FN, NULL, fn_hymba_window},
    {"attn_hidden_size", FN, NULL, fn_attn_hidden}, {"kq_head_dim", FN, NULL, fn_kq_head_dim},
    {"v_head_dim", FN, NULL, fn_v_head_dim}, {"kq_norm", FN, NULL, fn_kq_norm},
    {"rope", MAP_BOOL, "model.attn.rope", NULL}, {"rope_theta", MAP_NUM, "model.attn.rope_theta", NULL},
    {"rope_type", FN, NULL, fn_later},
    {"orig_max_position_embeddings", FN, NULL, fn_later},   // with rope_type "ntk" (finish)
    {"max_position_embeddings", FN, NULL, fn_later},
    {"num_memory_tokens", MAP_INT, "model.meta_tokens", NULL},
    {"memory_tokens_interspersed_every", MUST, "0", NULL},
    {"kv_reuse_group", FN, NULL, fn_kv_groups}, {"kv_reuse_every_i_layer", MUST, "-1", NULL},
    {"kv_weight_reuse", MUST, "false", NULL}, {"global_attn_idx", FN, NULL, fn_global_idx},
    {"num_mamba", MUST, "1", NULL}, {"conv_dim", FN, NULL, fn_conv_dim}, {"layer_type", FN, NULL, fn_layer_type},
    {"num_experts", MUST, "1", NULL}, {"num_experts_per_tok", MUST, "1", NULL},
    {"router_aux_loss_coef", SKIP, "no experts (num_experts is 1)", NULL},
    {"attn_implementation", SKIP, WHY_RUNTIME, NULL}, {"attn_implementation_new", SKIP, WHY_RUNTIME, NULL},
    {"seq_length", SKIP, WHY_CONTEXT, NULL},
    END};

// ---------------------------------------------------------------- families
typedef struct {
    const char *model_type;
    const rule *tables[5];          // searched in order; common_rules first
    const char *required[6];        // fields without a usable default
    void (*skeleton)(imp *c);       // the fixed part and the HF defaults of absent fields
    int (*finish)(imp *c);          // after every field (NULL: nothing)
} family;

static void layers_ffn(imp *c, const char *layers, const char *ffn) {
    put_str(c, "model.layers", layers);
    put_str(c, "model.ffn.type", ffn);
}

static void sk_llama(imp *c) {
    layers_ffn(c, "A", "swiglu");
    put_num(c, "model.norm_eps", 1e-6);
    put(c, "model.tie_embeddings", cJSON_CreateFalse());
}
static void sk_mistral(imp *c) { sk_llama(c); put_num(c, "model.attn.window", 4096); }
static void sk_mixtral(imp *c) {
    sk_llama(c);
    put_str(c, "model.ffn.type", "moe");
    put_num(c, "model.norm_eps", 1e-5);
    put_num(c, "model.attn.rope_theta", 1e6);
    put_str(c, "model.ffn.moe.router", "softmax_topk_renorm");
    put_num(c, "model.ffn.moe.n_experts", 8);
    put_num(c, "model.ffn.moe.top_k", 2);
    put_num(c, "model.ffn.moe.load_balance", 0.001);
}

// A model without attention: n_heads 1 keeps the unused attention defaults
// valid for any hidden_size.
static void no_attention(imp *c) {
    double d = num_or(c, "hidden_size", 0);
    if (fmod(d, 4) != 0) put_num(c, "model.attn.n_heads", 1);
}
static void sk_mamba(imp *c) {
    layers_ffn(c, "S", "none");
    put_num(c, "model.norm_eps", 1e-5);
    put(c, "model.tie_embeddings", cJSON_CreateTrue());
    no_attention(c);
}
static void sk_mamba2(imp *c) {
    layers_ffn(c, "M", "none");
    put_num(c, "model.norm_eps", 1e-5);
    put(c, "model.tie_embeddings", cJSON_CreateFalse());
    put_num(c, "model.ssm.d_state", 128);
    put_num(c, "model.ssm.ngroups", 1);
    no_attention(c);
}
static void sk_jamba(imp *c) {
    put_str(c, "model.ffn.type", "moe");
    put_num(c, "model.norm_eps", 1e-6);
    put(c, "model.tie_embeddings", cJSON_CreateFalse());
    put(c, "model.attn.rope", cJSON_CreateFalse());   // JambaAttention applies no positional encoding
    put(c, "model.ssm.inner_norms", cJSON_CreateTrue());   // JambaMambaMixer's dt/b/c_layernorm
    put_str(c, "model.ffn.moe.router", "softmax_topk");
    put_num(c, "model.ffn.moe.n_experts", 16);
    put_num(c, "model.ffn.moe.top_k", 2);
    put_num(c, "model.ffn.moe.every", 2);
    put_num(c, "model.ffn.moe.offset", 1);
    put_num(c, "model.ffn.moe.load_balance", 0.001);
}
static void sk_hymba(imp *c) {
    layers_ffn(c, "H", "swiglu");
    put_num(c, "model.norm_eps", 1e-6);
    put(c, "model.tie_embeddings", cJSON_CreateFalse());
    put(c, "model.ssm.inner_norms", cJSON_CreateTrue());   // HymbaConfig's default mamba_inner_layernorms
    put(c, "model.attn.rope", cJSON_CreateFalse());        // HymbaConfig's default rope
}

// Jamba's layer pattern: attention at i % period == offset, Mamba elsewhere;
// one expert = a dense SwiGLU everywhere.
static int fin_jamba(imp *c) {
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(c->cfg, "attn_layer_period");
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(c->cfg, "attn_layer_offset");
    double p = pv ? (cJSON_IsNumber(pv) ? pv->valuedouble : -1) : 8;
    double o = ov ? (cJSON_IsNumber(ov) ? ov->valuedouble : -1) : 4;
    if (p != floor(p) || p < 1 || p > 256) return bad(c, "attn_layer_period", pv, "expected an integer in [1, 256]");
    if (o != floor(o) || o < 0 || o >= p) return bad(c, "attn_layer_offset", ov, "expected an integer in [0, attn_layer_period)");
    char layers[257];
    for (int i = 0; i < (int)p; i++) layers[i] = i == (int)o ? 'A' : 'S';
    layers[(int)p] = 0;
    put_str(c, "model.layers", layers);
    if (num_or(c, "num_experts", 16) == 1) {   // JambaMLP on every layer
        cJSON *ffn = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c->spec, "model"), "ffn");
        cJSON_DeleteItemFromObjectCaseSensitive(ffn, "moe");
        put_str(c, "model.ffn.type", "swiglu");
    }
    return HL_OK;
}

// Hymba's static NTK RoPE (modeling_hymba.py LlamaRotaryEmbedding, rope_type
// "ntk", factor 2): base * (2 * max / orig - 1) ^ (hd / (hd - 2)).
static int fin_hymba(imp *c) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(c->cfg, "rope_type");
    if (!t || cJSON_IsNull(t) || (cJSON_IsString(t) && !strcmp(t->valuestring, "default"))) return HL_OK;
    if (!cJSON_IsString(t) || strcmp(t->valuestring, "ntk"))
        return bad(c, "rope_type", t, "only null, \"default\" and \"ntk\" (static NTK scaling) are supported");
    double mx = num_or(c, "max_position_embeddings", -1), orig = num_or(c, "orig_max_position_embeddings", -1);
    if (!(orig > 0) || !(mx > 0))
        return bad(c, "orig_max_position_embeddings", cJSON_GetObjectItemCaseSensitive(c->cfg, "orig_max_position_embeddings"),
                   "rope_type \"ntk\" needs positive max_position_embeddings and orig_max_position_embeddings");
    double kq = num_or(c, "kq_head_dim", -1), H = num_or(c, "num_attention_heads", 1);
    double hd = kq > 0 ? kq : num_or(c, "hidden_size", 0) / H;
    if (!(hd > 2)) return bad(c, "kq_head_dim", cJSON_GetObjectItemCaseSensitive(c->cfg, "kq_head_dim"), "rope_type \"ntk\" needs a head dim > 2");
    double theta = num_or(c, "rope_theta", 10000);
    put_num(c, "model.attn.rope_theta", theta * pow(2.0 * mx / orig - 1.0, hd / (hd - 2)));
    return HL_OK;
}

static const family families[] = {
    {"llama", {common_rules, llama_rules, attn_rules, rope_rules, NULL},
     {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", NULL}, sk_llama, NULL},
    {"mistral", {common_rules, mistral_rules, attn_rules, rope_rules, NULL},
     {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", NULL}, sk_mistral, NULL},
    {"mixtral", {common_rules, mixtral_rules, attn_rules, rope_rules, NULL},
     {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", NULL}, sk_mixtral, NULL},
    {"mamba", {common_rules, mamba_rules, ssm_hf_rules, NULL, NULL},
     {"vocab_size", "hidden_size", "num_hidden_layers", NULL}, sk_mamba, NULL},
    {"mamba2", {common_rules, mamba2_rules, ssm_hf_rules, NULL, NULL},
     {"vocab_size", "hidden_size", "num_hidden_layers", "head_dim", NULL}, sk_mamba2, NULL},
    {"jamba", {common_rules, jamba_rules, mamba_in_hybrid_rules, attn_rules, NULL},
     {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", NULL}, sk_jamba, fin_jamba},
    {"hymba", {common_rules, hymba_rules, mamba_in_hybrid_rules, attn_rules, NULL},
     {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", NULL}, sk_hymba, fin_hymba},
};
#define N_FAMILIES ((int)(sizeof families / sizeof families[0]))

const char *hl_hf_config_families(void) { return "llama, mistral, mixtral, mamba, mamba2, jamba, hymba"; }

// ---------------------------------------------------------------- driver
static const rule *rule_for(const family *f, const char *key) {
    for (int t = 0; t < 5 && f->tables[t]; t++)
        for (const rule *r = f->tables[t]; r->key; r++)
            if (!strcmp(r->key, key)) return r;
    return NULL;
}

static int apply(imp *c, const rule *r, const char *key, const cJSON *v) {
    switch (r->kind) {
    case SKIP: return HL_OK;
    case FN: return r->fn(c, key, v);
    case MUST: {
        cJSON *want = cJSON_Parse(r->arg);
        int same = want && cJSON_Compare(want, v, 1);
        cJSON_Delete(want);
        if (same) return HL_OK;
        char what[200];
        snprintf(what, sizeof what, "not supported: hylab computes only %s", r->arg);
        return bad(c, key, v, what);
    }
    case MAP_INT:
        if (cJSON_IsNull(v)) return HL_OK;   // HF: null = the default
        if (!is_int(v)) return bad(c, key, v, "expected an integer");
        break;
    case MAP_NUM:
        if (!cJSON_IsNumber(v)) return bad(c, key, v, "expected a number");
        break;
    case MAP_BOOL:
        if (!cJSON_IsBool(v)) return bad(c, key, v, "expected true or false");
        break;
    }
    put(c, r->arg, cJSON_Duplicate(v, 1));
    return HL_OK;
}

// Python's json writes inf and nan as bare words: outside strings they
// become the strings "Infinity", "-Infinity", "NaN". Returns a malloc'd copy.
static char *quote_python_words(const char *text) {
    static const char *const words[] = {"-Infinity", "Infinity", "NaN"};
    size_t n = strlen(text);
    char *out = malloc(2 * n + 1), *o = out;
    if (!out) return NULL;
    int in_str = 0;
    for (size_t i = 0; i < n;) {
        char ch = text[i];
        if (in_str) {
            *o++ = ch; i++;
            if (ch == '\\' && i < n) *o++ = text[i++];
            else if (ch == '"') in_str = 0;
            continue;
        }
        if (ch == '"') { in_str = 1; *o++ = ch; i++; continue; }
        int hit = 0;
        for (int w = 0; w < 3 && !hit; w++) {
            size_t L = strlen(words[w]);
            if (!strncmp(text + i, words[w], L)) {
                *o++ = '"'; memcpy(o, words[w], L); o += L; *o++ = '"';
                i += L; hit = 1;
            }
        }
        if (!hit) *o++ = text[i++];
    }
    *o = 0;
    return out;
}

// The spec's name: --name, else the file's base name (its directory's for a
// file named config.json, as in a Hugging Face model directory), with
// characters outside [A-Za-z0-9._-] replaced by '-'.
static void spec_name(const char *source, const char *name, char *out, size_t outlen) {
    if (name) snprintf(out, outlen, "%s", name);
    else hl_json_basename(source, out, outlen);
    if (!name && !strcmp(out, "config")) {
        char dir[HL_NAME_LEN * 2];
        snprintf(dir, sizeof dir, "%s", source);
        char *slash = strrchr(dir, '/');
        if (slash) { *slash = 0; hl_json_basename(dir, out, outlen); }
    }
    if (!name)
        for (char *p = out; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p)) *p = '-';
    if (!out[0]) snprintf(out, outlen, "hf-import");
}

static int convert(imp *c, const family *f) {
    f->skeleton(c);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, c->cfg) {
        const rule *r = rule_for(f, kv->string);
        if (!r) {
            char what[200];
            snprintf(what, sizeof what, "not supported: a field hylab does not model for model_type %s", f->model_type);
            return bad(c, kv->string, kv, what);
        }
        int rc = apply(c, r, kv->string, kv);
        if (rc) return rc;
    }
    for (int i = 0; f->required[i]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(c->cfg, f->required[i]))
            return hl_fail(c->err, c->errlen, HL_EBADINPUT, "%s: %s: missing", c->src, f->required[i]);
    return f->finish ? f->finish(c) : HL_OK;
}

int hl_hf_config_to_spec(const char *text, const char *source, const char *name, cJSON **spec,
                         char *err, size_t errlen) {
    *spec = NULL;
    char *clean = quote_python_words(text);
    if (!clean) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", source);
    cJSON *cfg = NULL;
    int rc = hl_json_parse(clean, source, &cfg, err, errlen);
    free(clean);
    if (rc) return HL_EBADINPUT;
    imp c = {.src = source, .cfg = cfg, .spec = cJSON_CreateObject(), .err = err, .errlen = errlen};
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    const family *f = NULL;
    for (int i = 0; i < N_FAMILIES && cJSON_IsString(mt); i++)
        if (!strcmp(mt->valuestring, families[i].model_type)) f = &families[i];
    if (!cJSON_IsObject(cfg)) rc = bad(&c, "(top level)", cfg, "expected an object");
    else if (!mt) rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: model_type: missing", source);
    else if (!f) {
        char what[160];
        snprintf(what, sizeof what, "not supported (known: %s)", hl_hf_config_families());
        rc = bad(&c, "model_type", mt, what);
    } else {
        char nm[HL_NAME_LEN];
        spec_name(source, name, nm, sizeof nm);
        cJSON_AddStringToObject(c.spec, "name", nm);
        rc = convert(&c, f);
    }
    cJSON_Delete(cfg);
    if (rc) { cJSON_Delete(c.spec); return rc; }
    *spec = c.spec;
    return HL_OK;
}
