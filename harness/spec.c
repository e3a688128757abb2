// spec.c: strict spec parsing, defaults, validation, canonical form and hash.
//
// Pipeline: parse JSON -> apply "--set a.b.c=VALUE" overrides to the tree ->
// check every key against the schema below (unknown keys, duplicate keys and
// wrong types are errors) -> read values into hl_spec, filling defaults and
// checking ranges and combinations -> rebuild the full tree from the struct
// (every key present, keys sorted, compact) -> SHA-256 of that text.
// Errors read "SOURCE: json.path: what is wrong (got X)".
//
// Defaults (a key left out means exactly this; writing it gives the same hash):
//   name                    the file's base name without ".json"
//   model.vocab_size        8192
//   model.d_model           128
//   model.layers            "A" (one letter per layer: a mixer of models/registry.c,
//                           A attention, S mamba, H hybrid)
//   model.n_layers          length of model.layers (the pattern repeats cyclically)
//   model.attn.n_heads      4
//   model.attn.n_kv_heads   n_heads
//   model.attn.head_dim     d_model / n_heads (n_heads must divide d_model)
//   model.attn.v_head_dim   0 (kept as written: means head_dim in A layers,
//                           d_inner / n_heads in H layers)
//   model.attn.rope_theta   10000
//   model.attn.window       0 (global attention everywhere); W > 0: a query sees W keys, itself included (Hymba's sliding_window W sees W+1: hylab's W+1)
//   model.attn.global_layers [] (stored sorted)
//   model.attn.kv_share     [] (stored sorted by first layer)
//   model.ssm.d_state 16, d_conv 4, expand 2 (d_inner = expand * d_model)
//   model.ssm.dt_rank       0 -> ceil(d_model / 16) (stored resolved)
//   model.meta_tokens       0
//   model.ffn.type          "swiglu" ("none" also valid; "moe" not supported yet)
//   model.ffn.d_ff          4 * d_model for swiglu; always 0 for none
//   model.tie_embeddings    true
//   model.norm_eps          1e-5
//   train.task.name "mqar", seq_len 64, num_kv_pairs 4, power_a 0.01,
//              num_examples 100000, vocab_size 0 -> model.vocab_size (stored resolved)
//   train.steps 1000, batch_size 32, lr 1e-3, min_lr 0, warmup_steps 0,
//         schedule "cosine" (or "linear", "constant"), weight_decay 0.1,
//         grad_clip 1.0 (0 = off), beta1 0.9, beta2 0.999, adam_eps 1e-8,
//         seed 0, eval_every 0 (only at the end), debug_abort_step 0 (off)
//   eval                    [one entry: the training task with num_examples 1000];
//                           in each entry a missing field takes the training
//                           task's value ("task" <- train.task.name), except
//                           num_examples (1000). [] means no evaluation.
//   measure.batch [1], measure.context [512], measure.decode_tokens 64
//
// "--set" VALUE is parsed as JSON when it parses, else taken as a string;
// null removes the key (back to its default).
//
// Ranges. Lower bounds are in the code (sizes >= 1, ...). Upper bounds are
// sanity limits, generous for published models (Llama-3-405B: d_model 16384,
// d_ff 53248, 128 heads; Gemma: vocab 256000, head_dim 256) and small enough
// that every count `describe` makes fits int64 and every per-position index
// of a run fits an int; the message names the limit ("model.d_model: must be
// at most 65536 (got 1000000000)"):
//   model.vocab_size <= 2^20, d_model <= 65536, n_layers <= 256,
//   attn.n_heads, n_kv_heads <= 1024, head_dim <= 4096,
//   n_heads * head_dim and n_heads * v_head_dim <= 2^18 (HL_MAX_WIDTH),
//   attn.window <= 2^24 (HL_MAX_CONTEXT; a window that covers the context is global),
//   attn.rope_theta a normal float (>= FLT_MIN: never stored as 0),
//   ssm.d_state <= 1024, d_conv <= 256, expand <= 16, dt_rank <= 65536,
//   d_inner = expand * d_model <= 2^18, meta_tokens <= 65536, ffn.d_ff <= 2^20,
//   norm_eps in [1e-12, 1] (real models use 1e-5 or 1e-6; a float smaller than
//   ~1e-38 would be stored as 0),
//   task seq_len, num_kv_pairs <= 65536 (HL_MAX_SEQ_LEN), task vocab_size <= 2^20,
//   train.task.num_examples <= 1e9 (an index range: examples are drawn as
//   needed), eval num_examples <= 1e6 (each is evaluated),
//   train.batch_size and measure.batch <= 65536,
//   batch_size * (meta_tokens + longest seq_len) <= 2^24 positions,
//   measure.context, measure.decode_tokens <= 2^24, other integers < 2^31.
// Memory is not checked here: describe counts models far larger than a CPU
// can train. `run` also calls hl_spec_check_train_memory (bottom of this
// file) on every run: weights, gradients, AdamW moments and activations must
// fit in the machine's physical memory.
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/sha256.h"
#include "harness/spec_internal.h"
#include "harness/spec.h"
#include "models/layer.h"
#include "models/model.h"
#include "tasks/task.h"

#define PATH_LEN 256
#define MAX_EXACT_INT 9007199254740992.0  // 2^53: larger JSON integers are not exact
// Upper limits (see "Ranges" above; the HL_MAX_* ones are in spec.h).
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 4096
#define MAX_D_STATE 1024
#define MAX_D_CONV 256
#define MAX_EXPAND 16
#define MAX_D_FF (1 << 20)
#define MAX_META_TOKENS (1 << 16)
#define MIN_NORM_EPS 1e-12
#define MAX_NORM_EPS 1.0
#define MAX_BATCH (1 << 16)
#define MAX_TRAIN_EXAMPLES 1000000000LL
#define MAX_EVAL_EXAMPLES 1000000LL
#define TRY(x) do { int rc_ = (x); if (rc_ != HL_OK) return rc_; } while (0)

// ------------------------------------------------------------------ schema
typedef enum { V_OBJECT, V_INT, V_NUMBER, V_BOOL, V_STRING, V_INT_LIST, V_INT_GROUPS, V_OBJECT_LIST } value_kind;

typedef struct key_def {
    const char *name;
    value_kind kind;
    const struct key_def *fields;   // V_OBJECT: its keys; V_OBJECT_LIST: each element's keys
} key_def;

static const key_def attn_keys[] = {
    {"n_heads", V_INT, NULL}, {"n_kv_heads", V_INT, NULL}, {"head_dim", V_INT, NULL},
    {"v_head_dim", V_INT, NULL}, {"rope_theta", V_NUMBER, NULL}, {"window", V_INT, NULL},
    {"global_layers", V_INT_LIST, NULL}, {"kv_share", V_INT_GROUPS, NULL}, {NULL, 0, NULL}};
static const key_def ssm_keys[] = {
    {"d_state", V_INT, NULL}, {"d_conv", V_INT, NULL}, {"expand", V_INT, NULL},
    {"dt_rank", V_INT, NULL}, {NULL, 0, NULL}};
static const key_def ffn_keys[] = {{"type", V_STRING, NULL}, {"d_ff", V_INT, NULL}, {NULL, 0, NULL}};
static const key_def model_keys[] = {
    {"vocab_size", V_INT, NULL}, {"d_model", V_INT, NULL}, {"n_layers", V_INT, NULL},
    {"layers", V_STRING, NULL}, {"attn", V_OBJECT, attn_keys}, {"ssm", V_OBJECT, ssm_keys},
    {"meta_tokens", V_INT, NULL}, {"ffn", V_OBJECT, ffn_keys},
    {"tie_embeddings", V_BOOL, NULL}, {"norm_eps", V_NUMBER, NULL}, {NULL, 0, NULL}};
static const key_def task_keys[] = {
    {"name", V_STRING, NULL}, {"seq_len", V_INT, NULL}, {"num_kv_pairs", V_INT, NULL},
    {"vocab_size", V_INT, NULL}, {"power_a", V_NUMBER, NULL}, {"num_examples", V_INT, NULL},
    {NULL, 0, NULL}};
static const key_def eval_keys[] = {
    {"task", V_STRING, NULL}, {"seq_len", V_INT, NULL}, {"num_kv_pairs", V_INT, NULL},
    {"vocab_size", V_INT, NULL}, {"power_a", V_NUMBER, NULL}, {"num_examples", V_INT, NULL},
    {NULL, 0, NULL}};
static const key_def train_keys[] = {
    {"task", V_OBJECT, task_keys}, {"steps", V_INT, NULL}, {"batch_size", V_INT, NULL},
    {"lr", V_NUMBER, NULL}, {"min_lr", V_NUMBER, NULL}, {"warmup_steps", V_INT, NULL},
    {"schedule", V_STRING, NULL}, {"weight_decay", V_NUMBER, NULL}, {"grad_clip", V_NUMBER, NULL},
    {"beta1", V_NUMBER, NULL}, {"beta2", V_NUMBER, NULL}, {"adam_eps", V_NUMBER, NULL},
    {"seed", V_INT, NULL}, {"eval_every", V_INT, NULL}, {"debug_abort_step", V_INT, NULL},
    {NULL, 0, NULL}};
static const key_def measure_keys[] = {
    {"batch", V_INT_LIST, NULL}, {"context", V_INT_LIST, NULL}, {"decode_tokens", V_INT, NULL},
    {NULL, 0, NULL}};
static const key_def top_keys[] = {
    {"name", V_STRING, NULL}, {"model", V_OBJECT, model_keys}, {"train", V_OBJECT, train_keys},
    {"eval", V_OBJECT_LIST, eval_keys}, {"measure", V_OBJECT, measure_keys}, {NULL, 0, NULL}};
static const key_def top_def = {"", V_OBJECT, top_keys};

static const char *const known_tasks[] = {"mqar", NULL};

// ------------------------------------------------------------------ errors
typedef struct { const char *source; char *err; size_t errlen; } err_ctx;

static int fail(const err_ctx *e, const char *path, const char *fmt, ...) {
    int n = snprintf(e->err, e->errlen, "%s: %s: ", e->source, path[0] ? path : "(top level)");
    if (n >= 0 && (size_t)n < e->errlen) {
        va_list ap; va_start(ap, fmt);
        vsnprintf(e->err + n, e->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return HL_EBADINPUT;
}

// Paths are short; one over PATH_LEN is cut, which only shortens a message.
static void path_printf(char *out, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    vsnprintf(out, PATH_LEN, fmt, ap);
    va_end(ap);
}

static void join_path(char *out, const char *parent, const char *key) {
    if (parent[0]) path_printf(out, "%s.%s", parent, key);
    else path_printf(out, "%s", key);
}

static void index_path(char *out, const char *parent, int i) {
    path_printf(out, "%s[%d]", parent, i);
}

// ------------------------------------------------- structural (type) checks
static int is_json_integer(const cJSON *v) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) &&
           fabs(v->valuedouble) <= MAX_EXACT_INT;
}

static int check_value(const err_ctx *e, const cJSON *v, const key_def *def, const char *path);

static const key_def *find_key(const key_def *fields, const char *name, size_t len) {
    for (const key_def *k = fields; k->name; k++)
        if (strlen(k->name) == len && !strncmp(k->name, name, len)) return k;
    return NULL;
}

static int check_object(const err_ctx *e, const cJSON *obj, const key_def *fields, const char *path) {
    char got[80], child_path[PATH_LEN];
    if (!cJSON_IsObject(obj)) {
        hl_json_brief(obj, got, sizeof got);
        return fail(e, path, "must be an object (got %s)", got);
    }
    const cJSON *dup = hl_json_find_duplicate(obj);
    if (dup) {
        join_path(child_path, path, dup->string);
        return fail(e, child_path, "duplicate key");
    }
    for (const cJSON *c = obj->child; c; c = c->next) {
        join_path(child_path, path, c->string);
        const key_def *k = find_key(fields, c->string, strlen(c->string));
        if (!k) return fail(e, child_path, "unknown key");
        TRY(check_value(e, c, k, child_path));
    }
    return HL_OK;
}

static int check_int_list(const err_ctx *e, const cJSON *v, const char *path) {
    char got[80], item_path[PATH_LEN];
    if (!cJSON_IsArray(v)) {
        hl_json_brief(v, got, sizeof got);
        return fail(e, path, "must be an array of integers (got %s)", got);
    }
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        index_path(item_path, path, i);
        if (!is_json_integer(c)) {
            hl_json_brief(c, got, sizeof got);
            return fail(e, item_path, "must be an integer (got %s)", got);
        }
    }
    return HL_OK;
}

static int check_value(const err_ctx *e, const cJSON *v, const key_def *def, const char *path) {
    char got[80], item_path[PATH_LEN];
    hl_json_brief(v, got, sizeof got);
    switch (def->kind) {
    case V_OBJECT: return check_object(e, v, def->fields, path);
    case V_INT:
        if (!is_json_integer(v)) return fail(e, path, "must be an integer (got %s)", got);
        return HL_OK;
    case V_NUMBER:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return fail(e, path, "must be a number (got %s)", got);
        return HL_OK;
    case V_BOOL:
        if (!cJSON_IsBool(v)) return fail(e, path, "must be true or false (got %s)", got);
        return HL_OK;
    case V_STRING:
        if (!cJSON_IsString(v)) return fail(e, path, "must be a string (got %s)", got);
        return HL_OK;
    case V_INT_LIST: return check_int_list(e, v, path);
    case V_INT_GROUPS: {
        if (!cJSON_IsArray(v)) return fail(e, path, "must be an array of arrays of layer indices (got %s)", got);
        int i = 0;
        for (const cJSON *c = v->child; c; c = c->next, i++) {
            index_path(item_path, path, i);
            TRY(check_int_list(e, c, item_path));
        }
        return HL_OK;
    }
    case V_OBJECT_LIST: {
        if (!cJSON_IsArray(v)) return fail(e, path, "must be an array of objects (got %s)", got);
        int i = 0;
        for (const cJSON *c = v->child; c; c = c->next, i++) {
            index_path(item_path, path, i);
            TRY(check_object(e, c, def->fields, item_path));
        }
        return HL_OK;
    }
    }
    return HL_OK;
}

// ------------------------------------------------------ "--set" overrides
int hl_spec_parse_set(const char *arg, const char *source, char **key, cJSON **value,
                      char *err, size_t errlen) {
    *key = NULL; *value = NULL;
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        snprintf(err, errlen, "%s: --set %s: expected KEY=VALUE", source, arg);
        return HL_EBADINPUT;
    }
    *key = strndup(arg, (size_t)(eq - arg));
    *value = cJSON_ParseWithOpts(eq + 1, NULL, 1);
    if (*value && *key) {
        char where[PATH_LEN];
        path_printf(where, "--set %s", *key);
        int rc = hl_json_check_numbers(eq + 1, *value, source, where, err, errlen);
        if (rc != HL_OK) {
            free(*key); cJSON_Delete(*value); *key = NULL; *value = NULL;
            return rc;
        }
    }
    if (!*value) *value = cJSON_CreateString(eq + 1);
    if (!*key || !*value) {
        free(*key); cJSON_Delete(*value); *key = NULL; *value = NULL;
        snprintf(err, errlen, "%s: --set %s: out of memory", source, arg);
        return HL_EFAIL;
    }
    return HL_OK;
}

// Walks a dotted key through the schema into *out (a copy: array elements
// have no entry of their own), failing with `where` + the prefix that is wrong.
static int resolve_dotted(const err_ctx *e, const char *dotted, const char *where, key_def *out) {
    key_def def = top_def;
    char shown[PATH_LEN];
    const char *p = dotted;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        path_printf(shown, "%s%.*s", where, (int)((size_t)(p - dotted) + len), dotted);
        if (len == 0) return fail(e, shown, "empty key component (got \"%s\")", dotted);
        if (def.kind == V_OBJECT) {
            const key_def *k = find_key(def.fields, p, len);
            if (!k) return fail(e, shown, "unknown key");
            def = *k;
        } else if (def.kind == V_OBJECT_LIST) {
            if (strspn(p, "0123456789") != len) return fail(e, shown, "expected an array index");
            def.kind = V_OBJECT;  // same fields: those of one element
        } else {
            return fail(e, shown, "unknown key (its parent is not an object)");
        }
        if (!dot) break;
        p = dot + 1;
    }
    *out = def;
    return HL_OK;
}

int hl_spec_check_override(const char *dotted, const cJSON *value, const char *source,
                           const char *where, char *err, size_t errlen) {
    err_ctx e = {source, err, errlen};
    key_def def;
    char shown[PATH_LEN];
    TRY(resolve_dotted(&e, dotted, where, &def));
    if (cJSON_IsNull(value)) return HL_OK;  // null: back to the default
    path_printf(shown, "%s%s", where, dotted);
    return check_value(&e, value, &def, shown);
}

static int is_index(const char *comp) { return comp[0] >= '0' && comp[0] <= '9'; }

// The child of `parent` named by one path component (arrays take an index).
// A missing object member is created as {} unless the next component is an
// index (arrays are never invented).
static cJSON *child_for_component(cJSON *parent, const char *comp, const char *next_comp) {
    if (cJSON_IsArray(parent)) return cJSON_GetArrayItem(parent, atoi(comp));
    if (!cJSON_IsObject(parent)) return NULL;
    cJSON *c = cJSON_GetObjectItemCaseSensitive(parent, comp);
    if (!c && !is_index(next_comp)) c = cJSON_AddObjectToObject(parent, comp);
    return c;
}

// Writes (or with null removes) `value` as member/element `comp` of node.
static int write_leaf(const err_ctx *e, cJSON *node, const char *comp, const cJSON *value, const char *shown) {
    cJSON *copy = cJSON_IsNull(value) ? NULL : cJSON_Duplicate(value, 1);
    if (!cJSON_IsNull(value) && !copy) return fail(e, shown, "out of memory");
    if (cJSON_IsArray(node)) {
        int i = atoi(comp);
        if (i >= cJSON_GetArraySize(node)) { cJSON_Delete(copy); return fail(e, shown, "index out of range (got %d)", i); }
        if (copy) cJSON_ReplaceItemInArray(node, i, copy);
        else cJSON_DeleteItemFromArray(node, i);
        return HL_OK;
    }
    if (!cJSON_IsObject(node)) { cJSON_Delete(copy); return fail(e, shown, "its parent is not an object"); }
    cJSON_DeleteItemFromObjectCaseSensitive(node, comp);
    if (copy) cJSON_AddItemToObject(node, comp, copy);
    return HL_OK;
}

int hl_spec_apply_override(cJSON *root, const char *dotted, const cJSON *value,
                           const char *source, const char *where, char *err, size_t errlen) {
    err_ctx e = {source, err, errlen};
    TRY(hl_spec_check_override(dotted, value, source, where, err, errlen));
    char *path = strdup(dotted), shown[PATH_LEN];
    if (!path) return fail(&e, dotted, "out of memory");
    cJSON *node = root;
    char *comp = path, *dot;
    int rc = HL_OK;
    while (rc == HL_OK && (dot = strchr(comp, '.'))) {
        *dot = '\0';
        path_printf(shown, "%s%s", where, path);
        cJSON *next = child_for_component(node, comp, dot + 1);
        if (!next && cJSON_IsArray(node))
            rc = fail(&e, shown, "index out of range (the array has %d entries)", cJSON_GetArraySize(node));
        else if (!next && is_index(dot + 1)) {
            path_printf(shown, "%s%s.%.*s", where, path, (int)strcspn(dot + 1, "."), dot + 1);
            rc = fail(&e, shown, "index out of range (%s has no entries to override)", path);
        } else if (!next) rc = fail(&e, shown, "must be an object to set a key inside it");
        node = next;
        *dot = '.';
        comp = dot + 1;
    }
    path_printf(shown, "%s%s", where, dotted);
    if (rc == HL_OK) rc = write_leaf(&e, node, comp, value, shown);
    free(path);
    return rc;
}

static int apply_set_args(const err_ctx *e, cJSON *root, const char *const *sets, int n_sets) {
    for (int i = 0; i < n_sets; i++) {
        char *key; cJSON *value;
        TRY(hl_spec_parse_set(sets[i], e->source, &key, &value, e->err, e->errlen));
        int rc = hl_spec_apply_override(root, key, value, e->source, "--set ", e->err, e->errlen);
        free(key); cJSON_Delete(value);
        if (rc != HL_OK) return rc;
    }
    return HL_OK;
}

// --------------------------------------------------------- value readers
// Types were checked already: readers only pick the value or the default.
static const cJSON *field(const cJSON *obj, const char *key) {
    return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static double number_or(const cJSON *obj, const char *key, double dflt) {
    const cJSON *v = field(obj, key);
    return v ? v->valuedouble : dflt;
}

static const char *string_or(const cJSON *obj, const char *key, const char *dflt) {
    const cJSON *v = field(obj, key);
    return v ? v->valuestring : dflt;
}

static int at_least(const err_ctx *e, const char *path, long long value, long long min) {
    if (value >= min) return HL_OK;
    if (min == 1) return fail(e, path, "must be positive (got %lld)", value);
    return fail(e, path, "must be >= %lld (got %lld)", min, value);
}

static int at_most(const err_ctx *e, const char *path, long long value, long long max) {
    if (value <= max) return HL_OK;
    return fail(e, path, "must be at most %lld (got %lld)", max, value);
}

// A product of two sizes (a layer width) within HL_MAX_WIDTH.
static int width_at_most(const err_ctx *e, const char *path, const char *what, int a, int b) {
    if ((long long)a * b <= HL_MAX_WIDTH) return HL_OK;
    return fail(e, path, "%s must be at most %d (got %d * %d)", what, HL_MAX_WIDTH, a, b);
}

// An int-typed key (an exact integer, |v| <= 2^53: checked already) in
// [min, max]; dflt when absent.
static int int_in(const err_ctx *e, const cJSON *obj, const char *parent, const char *key,
                  int dflt, int min, int max, int *out) {
    char path[PATH_LEN];
    join_path(path, parent, key);
    long long v = (long long)number_or(obj, key, dflt);
    TRY(at_least(e, path, v, min));
    TRY(at_most(e, path, v, max));
    *out = (int)v;
    return HL_OK;
}

// A float-typed value in [min, max] (min > 0: a normal float, so that no
// value is stored as 0 or a denormal).
static int float_in(const err_ctx *e, const cJSON *obj, const char *parent, const char *key,
                    double dflt, double min, double max, float *out) {
    char path[PATH_LEN];
    join_path(path, parent, key);
    double v = number_or(obj, key, dflt);
    if (!(v >= min && v <= max)) return fail(e, path, "must be in [%g, %g] (got %g)", min, max, v);
    *out = (float)v;
    return HL_OK;
}

// A double in [min, max) or [min, max] (max_inclusive), with an explanation.
static int double_in(const err_ctx *e, const cJSON *obj, const char *parent, const char *key,
                     double dflt, double min, int min_inclusive, double max, double *out) {
    char path[PATH_LEN];
    join_path(path, parent, key);
    double v = number_or(obj, key, dflt);
    int ok = (min_inclusive ? v >= min : v > min) && v <= max;
    if (!ok) {
        if (max < INFINITY) return fail(e, path, "must be in %s%g, %g%s (got %g)", min_inclusive ? "[" : "(", min, max, "]", v);
        return fail(e, path, "must be %s %g (got %g)", min_inclusive ? ">=" : ">", min, v);
    }
    *out = v;
    return HL_OK;
}

// ------------------------------------------------------------ model
// Attention-bearing: the layer's mixer declares K/V (models/layer.h).
static int has_kv(const hl_model_config *mc, int layer) { return (hl_layer_caps(mc, layer) & HL_CAP_KV) != 0; }

static int read_layers(const err_ctx *e, const cJSON *m, hl_model_config *mc) {
    const char *pattern = string_or(m, "layers", "A");
    size_t len = strlen(pattern);
    if (len == 0) return fail(e, "model.layers", "must not be empty (got \"\")");
    if (len > HL_MAX_LAYERS) return fail(e, "model.layers", "longer than %d layers (got %zu letters)", HL_MAX_LAYERS, len);
    for (size_t i = 0; i < len; i++) {
        char c = pattern[i];
        if ((c == 'M' || c == 'C') && !hl_mixer_type(c))
            return fail(e, "model.layers", "layer type '%c' is not supported yet (got \"%s\")", c, pattern);
        if (!hl_mixer_type(c)) {
            char letters[64];
            hl_mixer_letters(letters, sizeof letters);
            return fail(e, "model.layers", "bad layer letter '%c': expected %s (got \"%s\")", c, letters, pattern);
        }
    }
    memcpy(mc->layers_pattern, pattern, len + 1);
    TRY(int_in(e, m, "model", "n_layers", (int)len, 1, HL_MAX_LAYERS, &mc->n_layers));
    for (int i = 0; i < mc->n_layers; i++) {
        mc->layer[i].kind = pattern[(size_t)i % len];
        mc->layer[i].kv_source = -1;
    }
    return HL_OK;
}

static int any_attention_layer(const hl_model_config *mc) {
    for (int i = 0; i < mc->n_layers; i++) if (has_kv(mc, i)) return 1;
    return 0;
}

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

// A layer index inside a list: in range and attention-bearing.
static int check_layer_index(const err_ctx *e, const hl_model_config *mc, const char *path,
                             double value, const char *why_attention) {
    if (value < 0 || value >= mc->n_layers)
        return fail(e, path, "layer index out of range [0, %d) (got %.0f)", mc->n_layers, value);
    int i = (int)value;
    if (!has_kv(mc, i))
        return fail(e, path, "layer %d is an %c layer (%s) (got %d)", i, mc->layer[i].kind, why_attention, i);
    return HL_OK;
}

static int read_global_layers(const err_ctx *e, const cJSON *attn, hl_model_config *mc) {
    const cJSON *list = field(attn, "global_layers");
    char path[PATH_LEN];
    int seen[HL_MAX_LAYERS] = {0};
    int i = 0;
    mc->attn.n_global = 0;
    for (const cJSON *c = list ? list->child : NULL; c; c = c->next, i++) {
        index_path(path, "model.attn.global_layers", i);
        TRY(check_layer_index(e, mc, path, c->valuedouble, "global_layers names attention layers"));
        int layer = (int)c->valuedouble;
        if (seen[layer]) return fail(e, path, "duplicate layer (got %d)", layer);
        seen[layer] = 1;
        mc->attn.global_layers[mc->attn.n_global++] = layer;
    }
    qsort(mc->attn.global_layers, (size_t)mc->attn.n_global, sizeof(int), compare_ints);
    return HL_OK;
}

// One kv_share group: consecutive attention layers of one kind, none already
// in an earlier group. Consumers get kv_source = the group's first layer.
static int read_kv_share_group(const err_ctx *e, const cJSON *group, const char *gpath, int g,
                               hl_model_config *mc, int group_of[]) {
    char path[PATH_LEN], got[80];
    hl_json_brief(group, got, sizeof got);
    int n = cJSON_GetArraySize(group), j = 0, first = -1;
    if (n < 2) return fail(e, gpath, "a group needs at least 2 layers (got %s)", got);
    for (const cJSON *c = group->child; c; c = c->next, j++) {
        index_path(path, gpath, j);
        TRY(check_layer_index(e, mc, path, c->valuedouble, "kv_share groups name attention layers"));
        int layer = (int)c->valuedouble;
        if (j == 0) first = layer;
        else if (layer != first + j) return fail(e, gpath, "a group must list consecutive layers in order (got %s)", got);
        if (group_of[layer] >= 0) return fail(e, path, "layer %d is already in group %d (got %s)", layer, group_of[layer], got);
        if (mc->layer[layer].kind != mc->layer[first].kind)
            return fail(e, gpath, "a group mixes %c and %c layers (got %s)", mc->layer[first].kind, mc->layer[layer].kind, got);
        group_of[layer] = g;
        if (j > 0) mc->layer[layer].kv_source = first;
    }
    return HL_OK;
}

static int read_kv_share(const err_ctx *e, const cJSON *attn, hl_model_config *mc) {
    const cJSON *groups = field(attn, "kv_share");
    char path[PATH_LEN];
    int group_of[HL_MAX_LAYERS];
    for (int i = 0; i < HL_MAX_LAYERS; i++) group_of[i] = -1;
    int g = 0;
    for (const cJSON *c = groups ? groups->child : NULL; c; c = c->next, g++) {
        index_path(path, "model.attn.kv_share", g);
        TRY(read_kv_share_group(e, c, path, g, mc, group_of));
    }
    return HL_OK;
}

static int read_attention(const err_ctx *e, const cJSON *m, hl_model_config *mc) {
    const cJSON *attn = field(m, "attn");
    hl_attn_config *a = &mc->attn;
    TRY(int_in(e, attn, "model.attn", "n_heads", 4, 1, MAX_HEADS, &a->n_heads));
    TRY(int_in(e, attn, "model.attn", "n_kv_heads", a->n_heads, 1, MAX_HEADS, &a->n_kv_heads));
    if (a->n_heads % a->n_kv_heads)
        return fail(e, "model.attn.n_kv_heads", "must divide n_heads (got %d for %d)", a->n_kv_heads, a->n_heads);
    if (!field(attn, "head_dim") && mc->d_model % a->n_heads)
        return fail(e, "model.attn.head_dim", "default d_model / n_heads needs n_heads to divide d_model (got %d for %d)",
                    a->n_heads, mc->d_model);
    TRY(int_in(e, attn, "model.attn", "head_dim", mc->d_model / a->n_heads, 1, MAX_HEAD_DIM, &a->head_dim));
    if (a->head_dim % 2) return fail(e, "model.attn.head_dim", "must be even for RoPE (got %d)", a->head_dim);
    TRY(width_at_most(e, "model.attn.head_dim", "n_heads * head_dim", a->n_heads, a->head_dim));
    TRY(int_in(e, attn, "model.attn", "v_head_dim", 0, 0, HL_MAX_WIDTH, &a->v_head_dim));
    TRY(width_at_most(e, "model.attn.v_head_dim", "n_heads * v_head_dim", a->n_heads, a->v_head_dim));
    TRY(float_in(e, attn, "model.attn", "rope_theta", 10000.0, FLT_MIN, FLT_MAX, &a->rope_theta));
    TRY(int_in(e, attn, "model.attn", "window", 0, 0, HL_MAX_CONTEXT, &a->window));
    TRY(read_global_layers(e, attn, mc));
    TRY(read_kv_share(e, attn, mc));
    if (!any_attention_layer(mc)) {
        if (a->window > 0) return fail(e, "model.attn.window", "set but no layer has attention (got %d, layers \"%s\")", a->window, mc->layers_pattern);
        // an empty global list is fine; a non-empty one was rejected above
    }
    return HL_OK;
}

static int read_ssm(const err_ctx *e, const cJSON *m, hl_model_config *mc) {
    const cJSON *ssm = field(m, "ssm");
    hl_ssm_config *s = &mc->ssm;
    TRY(int_in(e, ssm, "model.ssm", "d_state", 16, 1, MAX_D_STATE, &s->d_state));
    TRY(int_in(e, ssm, "model.ssm", "d_conv", 4, 1, MAX_D_CONV, &s->d_conv));
    TRY(int_in(e, ssm, "model.ssm", "expand", 2, 1, MAX_EXPAND, &s->expand));
    TRY(int_in(e, ssm, "model.ssm", "dt_rank", 0, 0, HL_MAX_D_MODEL, &s->dt_rank));
    if (s->dt_rank == 0) s->dt_rank = (mc->d_model + 15) / 16;
    return width_at_most(e, "model.ssm.expand", "d_inner = expand * d_model", s->expand, mc->d_model);
}

// A module's check message ("json.path: what is wrong") behind the source.
static int module_fail(const err_ctx *e, int rc, const char *msg) {
    snprintf(e->err, e->errlen, "%s: %s", e->source, msg);
    return rc;
}

// Per-layer window and V head dim (K/V mixers: attn.v_head_dim, else the
// mixer's default), then each mixer's own checks (e.g. H: n_heads * v_head_dim == d_inner).
static int plan_layers(const err_ctx *e, hl_model_config *mc) {
    const hl_attn_config *a = &mc->attn;
    int is_global[HL_MAX_LAYERS] = {0};
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
        if (rc) return module_fail(e, rc, msg);
    }
    return HL_OK;
}

static int read_ffn(const err_ctx *e, const cJSON *m, hl_model_config *mc) {
    const cJSON *ffn = field(m, "ffn");
    const char *type = string_or(ffn, "type", "swiglu");
    if (!strcmp(type, "moe")) return fail(e, "model.ffn.type", "\"moe\" is not supported yet (got \"moe\")");
    if (!strcmp(type, "none")) { mc->ffn.type = HL_FFN_NONE; mc->ffn.d_ff = 0; return HL_OK; }
    if (strcmp(type, "swiglu")) return fail(e, "model.ffn.type", "must be \"swiglu\" or \"none\" (got \"%s\")", type);
    mc->ffn.type = HL_FFN_SWIGLU;
    return int_in(e, ffn, "model.ffn", "d_ff", 4 * mc->d_model, 1, MAX_D_FF, &mc->ffn.d_ff);
}

static int read_model(const err_ctx *e, const cJSON *m, hl_model_config *mc) {
    TRY(int_in(e, m, "model", "vocab_size", 8192, 2, HL_MAX_VOCAB, &mc->vocab_size));
    TRY(int_in(e, m, "model", "d_model", 128, 1, HL_MAX_D_MODEL, &mc->d_model));
    TRY(read_layers(e, m, mc));
    TRY(read_attention(e, m, mc));
    TRY(read_ssm(e, m, mc));
    TRY(plan_layers(e, mc));
    TRY(int_in(e, m, "model", "meta_tokens", 0, 0, MAX_META_TOKENS, &mc->meta_tokens));
    TRY(read_ffn(e, m, mc));
    const cJSON *tie = field(m, "tie_embeddings");
    mc->tie_embeddings = tie ? cJSON_IsTrue(tie) : 1;
    return float_in(e, m, "model", "norm_eps", 1e-5, MIN_NORM_EPS, MAX_NORM_EPS, &mc->norm_eps);
}

// ------------------------------------------------------------ tasks
// Reads a task; missing fields come from `dflt`. name_key is "name"
// (train.task) or "task" (eval entries).
static int read_task(const err_ctx *e, const cJSON *t, const char *path, const char *name_key,
                     const hl_task_config *dflt, long long max_examples, int model_vocab, hl_task_config *out) {
    char p[PATH_LEN];
    const char *name = string_or(t, name_key, dflt->name);
    join_path(p, path, name_key);
    int known = 0;
    for (int i = 0; known_tasks[i]; i++) known |= !strcmp(known_tasks[i], name);
    if (!known) return fail(e, p, "unknown task (got \"%s\"; known: mqar)", name);
    snprintf(out->name, sizeof out->name, "%s", name);
    TRY(int_in(e, t, path, "seq_len", dflt->seq_len, 1, HL_MAX_SEQ_LEN, &out->seq_len));
    TRY(int_in(e, t, path, "num_kv_pairs", dflt->num_kv_pairs, 1, HL_MAX_SEQ_LEN, &out->num_kv_pairs));
    TRY(int_in(e, t, path, "vocab_size", dflt->vocab_size, 0, HL_MAX_VOCAB, &out->vocab_size));
    if (out->vocab_size == 0) out->vocab_size = model_vocab;
    join_path(p, path, "vocab_size");
    if (out->vocab_size > model_vocab)
        return fail(e, p, "must be <= model.vocab_size: the model cannot embed larger token ids (got %d for %d)",
                    out->vocab_size, model_vocab);
    TRY(double_in(e, t, path, "power_a", dflt->power_a, 0, 0, INFINITY, &out->power_a));
    double n = number_or(t, "num_examples", (double)dflt->num_examples);
    join_path(p, path, "num_examples");
    TRY(at_least(e, p, (long long)n, 1));
    TRY(at_most(e, p, (long long)n, max_examples));
    out->num_examples = (long)n;
    if (!strcmp(out->name, "mqar")) {
        char why[HL_ERR_LEN / 2];
        if (hl_mqar_check(out, out->vocab_size, why, sizeof why) != HL_OK) {
            // hl_mqar_check names the field first: "seq_len: must be even ..."
            char *colon = strstr(why, ": ");
            if (!colon) return fail(e, path, "MQAR: %s", why);
            *colon = '\0';
            join_path(p, path, why);
            return fail(e, p, "MQAR: %s", colon + 2);
        }
    }
    return HL_OK;
}

static int read_evals(const err_ctx *e, const cJSON *list, const hl_task_config *train_task,
                      int model_vocab, hl_spec *s) {
    hl_task_config dflt = *train_task;
    dflt.num_examples = 1000;
    if (!list) { s->n_eval = 1; s->eval[0] = dflt; return HL_OK; }
    int n = cJSON_GetArraySize(list);
    if (n > HL_MAX_EVAL) return fail(e, "eval", "at most %d entries (got %d)", HL_MAX_EVAL, n);
    char path[PATH_LEN];
    int i = 0;
    for (const cJSON *c = list->child; c; c = c->next, i++) {
        index_path(path, "eval", i);
        TRY(read_task(e, c, path, "task", &dflt, MAX_EVAL_EXAMPLES, model_vocab, &s->eval[i]));
    }
    s->n_eval = n;
    return HL_OK;
}

// ------------------------------------------------------------ train, measure
static int adam_beta(const err_ctx *e, const cJSON *t, const char *key, double dflt, double *out) {
    char path[PATH_LEN];
    join_path(path, "train", key);
    *out = number_or(t, key, dflt);
    if (!(*out >= 0 && *out < 1)) return fail(e, path, "must be in [0, 1) (got %g)", *out);
    return HL_OK;
}

static int read_train(const err_ctx *e, const cJSON *t, int model_vocab, hl_train_config *tc) {
    const hl_task_config task_default = {"mqar", 64, 4, 0, 0.01, 100000};
    TRY(read_task(e, field(t, "task"), "train.task", "name", &task_default, MAX_TRAIN_EXAMPLES, model_vocab, &tc->task));
    TRY(int_in(e, t, "train", "steps", 1000, 0, INT_MAX, &tc->steps));
    TRY(int_in(e, t, "train", "batch_size", 32, 1, MAX_BATCH, &tc->batch_size));
    TRY(double_in(e, t, "train", "lr", 1e-3, 0, 0, INFINITY, &tc->lr));
    TRY(double_in(e, t, "train", "min_lr", 0, 0, 1, tc->lr, &tc->min_lr));
    TRY(int_in(e, t, "train", "warmup_steps", 0, 0, INT_MAX, &tc->warmup_steps));
    const char *sched = string_or(t, "schedule", "cosine");
    if (!strcmp(sched, "cosine")) tc->schedule = HL_SCHED_COSINE;
    else if (!strcmp(sched, "linear")) tc->schedule = HL_SCHED_LINEAR;
    else if (!strcmp(sched, "constant")) tc->schedule = HL_SCHED_CONSTANT;
    else return fail(e, "train.schedule", "must be \"cosine\", \"linear\" or \"constant\" (got \"%s\")", sched);
    TRY(double_in(e, t, "train", "weight_decay", 0.1, 0, 1, INFINITY, &tc->weight_decay));
    TRY(double_in(e, t, "train", "grad_clip", 1.0, 0, 1, INFINITY, &tc->grad_clip));
    TRY(adam_beta(e, t, "beta1", 0.9, &tc->beta1));
    TRY(adam_beta(e, t, "beta2", 0.999, &tc->beta2));
    TRY(double_in(e, t, "train", "adam_eps", 1e-8, 0, 0, INFINITY, &tc->adam_eps));
    double seed = number_or(t, "seed", 0);
    if (seed < 0) return fail(e, "train.seed", "must be >= 0 (got %.0f)", seed);
    tc->seed = (uint64_t)seed;
    TRY(int_in(e, t, "train", "eval_every", 0, 0, INT_MAX, &tc->eval_every));
    return int_in(e, t, "train", "debug_abort_step", 0, 0, INT_MAX, &tc->debug_abort_step);
}

static int read_positive_list(const err_ctx *e, const cJSON *m, const char *key, int dflt, int max,
                              int *values, int *count) {
    const cJSON *list = field(m, key);
    char path[PATH_LEN], item[PATH_LEN];
    join_path(path, "measure", key);
    if (!list) { values[0] = dflt; *count = 1; return HL_OK; }
    int n = cJSON_GetArraySize(list), i = 0;
    if (n > HL_MAX_MEASURE) return fail(e, path, "at most %d entries (got %d)", HL_MAX_MEASURE, n);
    for (const cJSON *c = list->child; c; c = c->next, i++) {
        index_path(item, path, i);
        if (c->valuedouble < 1) return fail(e, item, "must be a positive int (got %.0f)", c->valuedouble);
        TRY(at_most(e, item, (long long)c->valuedouble, max));
        values[i] = (int)c->valuedouble;
    }
    *count = n;
    return HL_OK;
}

static int read_measure(const err_ctx *e, const cJSON *m, hl_measure_config *mc) {
    TRY(read_positive_list(e, m, "batch", 1, MAX_BATCH, mc->batch, &mc->n_batch));
    TRY(read_positive_list(e, m, "context", 512, HL_MAX_CONTEXT, mc->context, &mc->n_context));
    return int_in(e, m, "measure", "decode_tokens", 64, 0, HL_MAX_CONTEXT, &mc->decode_tokens);
}

// ------------------------------------------------------------ canonical form
// The shortest decimal that reads back as the same float, as a double, so
// that 1e-5 prints "1e-05" and not the float's exact binary value.
static double float_as_decimal(float f) {
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f) return strtod(buf, NULL);
    }
    return (double)f;
}

static cJSON *int_array(const int *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *kv_share_groups(const hl_model_config *mc) {
    cJSON *groups = cJSON_CreateArray();
    for (int p = 0; groups && p < mc->n_layers; p++) {
        if (mc->layer[p].kv_source >= 0 || p + 1 >= mc->n_layers || mc->layer[p + 1].kv_source != p) continue;
        cJSON *g = cJSON_CreateArray();
        cJSON_AddItemToArray(g, cJSON_CreateNumber(p));
        for (int c = p + 1; c < mc->n_layers && mc->layer[c].kv_source == p; c++)
            cJSON_AddItemToArray(g, cJSON_CreateNumber(c));
        cJSON_AddItemToArray(groups, g);
    }
    return groups;
}

static cJSON *model_json(const hl_model_config *mc) {
    cJSON *m = cJSON_CreateObject(), *a = cJSON_CreateObject(), *s = cJSON_CreateObject(), *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "vocab_size", mc->vocab_size);
    cJSON_AddNumberToObject(m, "d_model", mc->d_model);
    cJSON_AddNumberToObject(m, "n_layers", mc->n_layers);
    cJSON_AddStringToObject(m, "layers", mc->layers_pattern);
    cJSON_AddNumberToObject(a, "n_heads", mc->attn.n_heads);
    cJSON_AddNumberToObject(a, "n_kv_heads", mc->attn.n_kv_heads);
    cJSON_AddNumberToObject(a, "head_dim", mc->attn.head_dim);
    cJSON_AddNumberToObject(a, "v_head_dim", mc->attn.v_head_dim);
    cJSON_AddNumberToObject(a, "rope_theta", float_as_decimal(mc->attn.rope_theta));
    cJSON_AddNumberToObject(a, "window", mc->attn.window);
    cJSON_AddItemToObject(a, "global_layers", int_array(mc->attn.global_layers, mc->attn.n_global));
    cJSON_AddItemToObject(a, "kv_share", kv_share_groups(mc));
    cJSON_AddItemToObject(m, "attn", a);
    cJSON_AddNumberToObject(s, "d_state", mc->ssm.d_state);
    cJSON_AddNumberToObject(s, "d_conv", mc->ssm.d_conv);
    cJSON_AddNumberToObject(s, "expand", mc->ssm.expand);
    cJSON_AddNumberToObject(s, "dt_rank", mc->ssm.dt_rank);
    cJSON_AddItemToObject(m, "ssm", s);
    cJSON_AddNumberToObject(m, "meta_tokens", mc->meta_tokens);
    cJSON_AddStringToObject(f, "type", mc->ffn.type == HL_FFN_NONE ? "none" : mc->ffn.type == HL_FFN_MOE ? "moe" : "swiglu");
    cJSON_AddNumberToObject(f, "d_ff", mc->ffn.d_ff);
    cJSON_AddItemToObject(m, "ffn", f);
    cJSON_AddBoolToObject(m, "tie_embeddings", mc->tie_embeddings);
    cJSON_AddNumberToObject(m, "norm_eps", float_as_decimal(mc->norm_eps));
    return m;
}

static cJSON *task_json(const hl_task_config *t, const char *name_key) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, name_key, t->name);
    cJSON_AddNumberToObject(o, "seq_len", t->seq_len);
    cJSON_AddNumberToObject(o, "num_kv_pairs", t->num_kv_pairs);
    cJSON_AddNumberToObject(o, "vocab_size", t->vocab_size);
    cJSON_AddNumberToObject(o, "power_a", t->power_a);
    cJSON_AddNumberToObject(o, "num_examples", (double)t->num_examples);
    return o;
}

static const char *schedule_name(hl_schedule s) {
    return s == HL_SCHED_LINEAR ? "linear" : s == HL_SCHED_CONSTANT ? "constant" : "cosine";
}

static cJSON *train_json(const hl_train_config *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "task", task_json(&t->task, "name"));
    cJSON_AddNumberToObject(o, "steps", t->steps);
    cJSON_AddNumberToObject(o, "batch_size", t->batch_size);
    cJSON_AddNumberToObject(o, "lr", t->lr);
    cJSON_AddNumberToObject(o, "min_lr", t->min_lr);
    cJSON_AddNumberToObject(o, "warmup_steps", t->warmup_steps);
    cJSON_AddStringToObject(o, "schedule", schedule_name(t->schedule));
    cJSON_AddNumberToObject(o, "weight_decay", t->weight_decay);
    cJSON_AddNumberToObject(o, "grad_clip", t->grad_clip);
    cJSON_AddNumberToObject(o, "beta1", t->beta1);
    cJSON_AddNumberToObject(o, "beta2", t->beta2);
    cJSON_AddNumberToObject(o, "adam_eps", t->adam_eps);
    cJSON_AddNumberToObject(o, "seed", (double)t->seed);
    cJSON_AddNumberToObject(o, "eval_every", t->eval_every);
    cJSON_AddNumberToObject(o, "debug_abort_step", t->debug_abort_step);
    return o;
}

static cJSON *spec_json(const hl_spec *s) {
    cJSON *root = cJSON_CreateObject(), *evals = cJSON_CreateArray(), *measure = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", s->name);
    cJSON_AddItemToObject(root, "model", model_json(&s->model));
    cJSON_AddItemToObject(root, "train", train_json(&s->train));
    for (int i = 0; i < s->n_eval; i++) cJSON_AddItemToArray(evals, task_json(&s->eval[i], "task"));
    cJSON_AddItemToObject(root, "eval", evals);
    cJSON_AddItemToObject(measure, "batch", int_array(s->measure.batch, s->measure.n_batch));
    cJSON_AddItemToObject(measure, "context", int_array(s->measure.context, s->measure.n_context));
    cJSON_AddNumberToObject(measure, "decode_tokens", s->measure.decode_tokens);
    cJSON_AddItemToObject(root, "measure", measure);
    return root;
}

static int finish_canonical(const err_ctx *e, hl_spec *s) {
    cJSON *tree = spec_json(s);
    s->canonical_json = tree ? hl_json_canonical(tree) : NULL;
    cJSON_Delete(tree);
    if (!s->canonical_json) return fail(e, "(canonical form)", "out of memory");
    hl_sha256_hex(s->canonical_json, strlen(s->canonical_json), s->hash);
    return HL_OK;
}

// ------------------------------------------------------------ entry points
static int read_name(const err_ctx *e, const cJSON *root, const char *default_name, hl_spec *s) {
    const char *name = string_or(root, "name", default_name);
    if (!name[0]) return fail(e, "name", "must not be empty (got \"\")");
    if (strlen(name) >= HL_NAME_LEN) return fail(e, "name", "longer than %d characters", HL_NAME_LEN - 1);
    snprintf(s->name, sizeof s->name, "%s", name);
    return HL_OK;
}

// The longest sequence a run feeds the model: the training task's or an eval's.
static int longest_seq_len(const hl_spec *s) {
    int T = s->train.task.seq_len;
    for (int i = 0; i < s->n_eval; i++) if (s->eval[i].seq_len > T) T = s->eval[i].seq_len;
    return T;
}

// Training and eval batches hold batch_size x (meta_tokens + seq_len) positions.
static int check_batch_tokens(const err_ctx *e, const hl_spec *s) {
    int B = s->train.batch_size, Tt = s->model.meta_tokens + longest_seq_len(s);
    if ((long long)B * Tt <= HL_MAX_BATCH_TOKENS) return HL_OK;
    return fail(e, "train.batch_size", "batch_size * (meta_tokens + longest seq_len) must be at most %d positions (got %d * %d)",
                HL_MAX_BATCH_TOKENS, B, Tt);
}

static int read_spec(const err_ctx *e, const cJSON *root, const char *default_name, hl_spec *s) {
    TRY(read_name(e, root, default_name, s));
    TRY(read_model(e, field(root, "model"), &s->model));
    TRY(read_train(e, field(root, "train"), s->model.vocab_size, &s->train));
    TRY(read_evals(e, field(root, "eval"), &s->train.task, s->model.vocab_size, s));
    TRY(check_batch_tokens(e, s));
    TRY(read_measure(e, field(root, "measure"), &s->measure));
    return finish_canonical(e, s);
}

int hl_spec_check_tree(const cJSON *root, const char *source, char *err, size_t errlen) {
    err_ctx e = {source, err, errlen};
    return check_value(&e, root, &top_def, "");
}

int hl_spec_from_tree(cJSON *root, const char *source, const char *default_name,
                      const char *const *sets, int n_sets, hl_spec *out,
                      char *err, size_t errlen) {
    err_ctx e = {source, err, errlen};
    memset(out, 0, sizeof *out);
    char got[80];
    if (!cJSON_IsObject(root)) {
        hl_json_brief(root, got, sizeof got);
        return fail(&e, "", "a spec must be a JSON object (got %s)", got);
    }
    int rc = apply_set_args(&e, root, sets, n_sets);
    if (rc == HL_OK) rc = check_object(&e, root, top_keys, "");
    if (rc == HL_OK) rc = read_spec(&e, root, default_name, out);
    if (rc != HL_OK) hl_spec_free(out);
    return rc;
}

int hl_spec_load_text(const char *text, const char *source,
                      const char *const *sets, int n_sets,
                      hl_spec *out, char *err, size_t errlen) {
    cJSON *root;
    char default_name[HL_NAME_LEN];
    memset(out, 0, sizeof *out);
    TRY(hl_json_parse(text, source, &root, err, errlen));
    hl_json_basename(source, default_name, sizeof default_name);
    int rc = hl_spec_from_tree(root, source, default_name, sets, n_sets, out, err, errlen);
    cJSON_Delete(root);
    return rc;
}

int hl_spec_load_file(const char *path, const char *const *sets, int n_sets,
                      hl_spec *out, char *err, size_t errlen) {
    char *text;
    memset(out, 0, sizeof *out);
    TRY(hl_json_read_file(path, &text, err, errlen));
    int rc = hl_spec_load_text(text, path, sets, n_sets, out, err, errlen);
    free(text);
    return rc;
}

void hl_spec_free(hl_spec *s) {
    if (!s) return;
    free(s->canonical_json);
    s->canonical_json = NULL;
}

// ------------------------------------------------------------ training memory
static int64_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? (int64_t)pages * page : INT64_MAX;
}

// "23.4 GiB"
static const char *bytes_text(int64_t bytes, char *buf, size_t len) {
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 6) { v /= 1024; u++; }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

int hl_spec_check_train_memory(const hl_spec *s, const char *source, char *err, size_t errlen) {
    err_ctx e = {source, err, errlen};
    int B = s->train.batch_size, T = longest_seq_len(s);
    hl_model_sizes z = hl_model_sizes_of(&s->model, B, T);
    if (z.params < 0) return fail(&e, "model", "the model code cannot build this config");
    // hl_train_run: weights, gradients, AdamW m and v (floats, params each),
    // the activation and int arenas, two batches of 4 int32 arrays of B x T
    int64_t weights = 16 * z.params, acts = 4 * (z.acts + z.ints) + 2 * 16 * (int64_t)B * T;
    int64_t need = weights + acts, have = physical_memory();
    if (need <= have) return HL_OK;
    char a[32], b[32], c[32], d[32];
    return fail(&e, weights >= acts ? "model" : "train.batch_size",
                "training needs %s: %s for the weights, gradients and AdamW moments of %lld parameters and %s of "
                "activations at batch_size %d x %d positions; this machine has %s of memory",
                bytes_text(need, a, sizeof a), bytes_text(weights, b, sizeof b), (long long)z.params,
                bytes_text(acts, c, sizeof c), B, s->model.meta_tokens + T, bytes_text(have, d, sizeof d));
}
