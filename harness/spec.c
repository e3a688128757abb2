// spec.c: strict spec parsing, defaults, validation, canonical form and hash.
//
// Pipeline: parse JSON -> apply "--set a.b.c=VALUE" overrides to the tree ->
// check every key against the schema (unknown keys, duplicate keys and
// wrong types are errors) -> read values into hl_spec, filling defaults and
// checking ranges and combinations -> rebuild the full tree from the struct
// (every key present, keys sorted, compact) -> SHA-256 of that text.
// Errors read "SOURCE: json.path: what is wrong (got X)".
//
// The schema is made of config sections (core/config.h: one table row per key
// drives its type check, default, range and canonical output), each owned by
// the module whose struct it fills and documented next to its table:
//   model                   models/model_config.c (vocab_size, d_model, layers,
//                           n_layers, meta_tokens, tie_embeddings, norm_eps)
//   model.attn              models/attention.c
//   model.ssm               models/mamba.c
//   model.ffn               models/ffn.c (type, pattern: the FFN per layer, d_ff)
//   train.task, eval[i]     tasks/task_config.c (name/task, seq_len, vocab_size,
//                           num_examples) and each task family's keys
//                           (tasks/registry.c lists the families and their files)
// The sections of models come from the layer types of models/registry.c; a
// new mixer brings its own. This file owns the rest:
//   name                    the file's base name without ".json"
//   train.steps 1000, batch_size 32, lr 1e-3, min_lr 0, warmup_steps 0,
//         schedule "cosine" (or "linear", "constant"), weight_decay 0.1,
//         grad_clip 1.0 (0 = off), beta1 0.9, beta2 0.999, adam_eps 1e-8,
//         seed 0, eval_every 0 (only at the end), debug_abort_step 0 (off),
//         teacher (absent; keys below), freeze [] (spec.h hl_train_config)
//   eval                    [one entry: the training task with num_examples 1000];
//                           in each entry a missing field takes the training
//                           task's value ("task" <- train.task.name), except
//                           num_examples (1000). [] means no evaluation.
//   measure.batch [1], measure.context [512], measure.decode_tokens 64,
//         warmup 1, repeats 3, protocol "grid" (or "hymba"), after_train false
//         (the last four are left out of the canonical spec at their
//         defaults; harness/run/measure.h says what they do)
//
// "--set" VALUE is parsed as JSON when it parses, else taken as a string;
// null removes the key (back to its default).
//
// Ranges. Lower bounds are in the tables (sizes >= 1, ...). Upper bounds are
// sanity limits, generous for published models (Llama-3-405B: d_model 16384,
// d_ff 53248, 128 heads; Gemma: vocab 256000, head_dim 256) and small enough
// that every count `describe` makes fits int64 and every per-position index
// of a run fits an int; the message names the limit ("model.d_model: must be
// at most 65536 (got 1000000000)"). The model's and the tasks' are at their
// tables; here:
//   train.batch_size and measure.batch <= 65536,
//   batch_size * (meta_tokens + longest seq_len) <= 2^24 positions,
//   measure.context, measure.decode_tokens <= 2^24, other integers < 2^31.
// Memory is not checked here: describe counts models far larger than a CPU
// can train. `run` also calls hl_spec_check_train_memory (bottom of this
// file) on every run: weights, gradients, AdamW moments and activations must
// fit in the machine's physical memory.
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/config.h"
#include "core/sha256.h"
#include "harness/spec_internal.h"
#include "harness/spec.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "tasks/task.h"

#define PATH_LEN HL_CFG_PATH_LEN
#define MAX_BATCH (1 << 16)
#define MAX_SEED 9007199254740992.0  // 2^53: larger JSON integers are not exact
#define TRY(x) do { int rc_ = (x); if (rc_ != HL_OK) return rc_; } while (0)

typedef hl_cfg_ctx err_ctx;
#define fail hl_cfg_fail
#define join_path hl_cfg_join
#define index_path hl_cfg_index

// Paths are short; one over PATH_LEN is cut, which only shortens a message.
static void path_printf(char *out, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    vsnprintf(out, PATH_LEN, fmt, ap);
    va_end(ap);
}

static const cJSON *field(const cJSON *obj, const char *key) {
    return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

// ------------------------------------------------------------------ train
static int read_schedule(const err_ctx *e, const cJSON *v, const char *path, void *obj) {
    hl_train_config *tc = obj;
    const char *sched = v ? v->valuestring : "cosine";
    if (!strcmp(sched, "cosine")) tc->schedule = HL_SCHED_COSINE;
    else if (!strcmp(sched, "linear")) tc->schedule = HL_SCHED_LINEAR;
    else if (!strcmp(sched, "constant")) tc->schedule = HL_SCHED_CONSTANT;
    else return fail(e, path, "must be \"cosine\", \"linear\" or \"constant\" (got \"%s\")", sched);
    return HL_OK;
}

static cJSON *write_schedule(const void *obj) {
    hl_schedule s = ((const hl_train_config *)obj)->schedule;
    return cJSON_CreateString(s == HL_SCHED_LINEAR ? "linear" : s == HL_SCHED_CONSTANT ? "constant" : "cosine");
}

static const hl_cfg_key min_lr_key = {.name = "min_lr", .kind = HL_CFG_DOUBLE, .offset = offsetof(hl_train_config, min_lr),
                                       .flags = HL_CFG_NO_RANGE};

// min_lr is a floor of the schedule: in [0, lr] (lr is read before it).
static int read_min_lr(const err_ctx *e, const cJSON *v, const char *path, void *obj) {
    const hl_train_config *tc = obj;
    TRY(hl_cfg_read_key(e, &min_lr_key, v, path, obj, NULL));
    if (!(tc->min_lr >= 0 && tc->min_lr <= tc->lr)) return fail(e, path, "must be in [0, %g] (got %g)", tc->lr, tc->min_lr);
    return HL_OK;
}

// ---------------------------------------------------------- train.teacher
// Keys (spec.h hl_teacher_config): ckpt (required, non-empty), kl_weight
// 0.1, ce_weight 1 (>= 0, not both 0), temperature 1 (> 0). The files are
// checked by hl_spec_check_teacher (bottom of this file), not here: loading
// a spec (describe, check) opens no checkpoint.
#define TEACHER_NUM(key, field, d, fl) \
    {.name = key, .kind = HL_CFG_DOUBLE, .offset = offsetof(hl_train_config, teacher.field), .dflt = d, .min = 0, \
     .max = 1e6, .flags = fl}
static const hl_cfg_key teacher_keys[] = {
    {.name = "ckpt", .kind = HL_CFG_STRING, .offset = offsetof(hl_train_config, teacher.ckpt),
     .capacity = HL_TEACHER_PATH_LEN, .dflt_text = ""},
    TEACHER_NUM("kl_weight", kl_weight, 0.1, 0),
    TEACHER_NUM("ce_weight", ce_weight, 1.0, 0),
    TEACHER_NUM("temperature", temperature, 1.0, HL_CFG_MIN_EXCLUSIVE),
    {.name = NULL}};

static int teacher_finish(const err_ctx *e, const char *path, void *obj) {
    const hl_teacher_config *t = &((hl_train_config *)obj)->teacher;
    char p[PATH_LEN];
    join_path(p, path, "ckpt");
    if (!t->ckpt[0]) return fail(e, p, "the teacher's hylab checkpoint is required (a .safetensors file)");
    if (t->kl_weight == 0 && t->ce_weight == 0) {
        join_path(p, path, "kl_weight");
        return fail(e, p, "kl_weight and ce_weight are both 0: the loss would be 0");
    }
    return HL_OK;
}
static const hl_cfg_section teacher_section = {.name = "teacher", .keys = teacher_keys, .finish = teacher_finish};

// Absent: no teacher (all 0).
static int read_teacher(const err_ctx *e, const cJSON *v, const char *path, void *obj) {
    hl_train_config *tc = obj;
    memset(&tc->teacher, 0, sizeof tc->teacher);
    if (!v) return HL_OK;
    TRY(hl_cfg_read(e, &teacher_section, v, path, obj, NULL));
    tc->teacher.on = 1;
    return HL_OK;
}

// Left out without a teacher (old specs keep their hash).
static cJSON *write_teacher(const void *obj) {
    return ((const hl_train_config *)obj)->teacher.on ? hl_cfg_write(&teacher_section, obj) : NULL;
}

// ----------------------------------------------------------- train.freeze
static int read_freeze(const err_ctx *e, const cJSON *v, const char *path, void *obj) {
    hl_train_config *tc = obj;
    char item[PATH_LEN];
    int n = v ? cJSON_GetArraySize(v) : 0, i = 0;
    tc->n_freeze = 0;
    if (n > HL_MAX_FREEZE) return fail(e, path, "at most %d patterns (got %d)", HL_MAX_FREEZE, n);
    for (const cJSON *x = v ? v->child : NULL; x; x = x->next, i++) {
        index_path(item, path, i);
        size_t len = strlen(x->valuestring);
        if (len == 0 || len >= HL_FREEZE_LEN)
            return fail(e, item, "a pattern has 1 to %d characters (got %zu)", HL_FREEZE_LEN - 1, len);
        memcpy(tc->freeze[i], x->valuestring, len + 1);
    }
    tc->n_freeze = n;
    return HL_OK;
}

// Empty: left out (HL_CFG_OMIT_DEFAULT).
static cJSON *write_freeze(const void *obj) {
    const hl_train_config *tc = obj;
    if (tc->n_freeze == 0) return NULL;
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < tc->n_freeze; i++) cJSON_AddItemToArray(a, cJSON_CreateString(tc->freeze[i]));
    return a;
}

int hl_train_frozen(const hl_train_config *tc, const char *name) {
    for (int i = 0; i < tc->n_freeze; i++)
        if (fnmatch(tc->freeze[i], name, 0) == 0) return 1;
    return 0;
}

// Every pattern matches a tensor of the model; some tensor stays trainable.
static int check_freeze(const err_ctx *e, const hl_spec *s) {
    const hl_train_config *tc = &s->train;
    if (tc->n_freeze == 0) return HL_OK;
    hl_tensor_info *t;
    int n = hl_model_tensors(&s->model, &t);
    if (n < 0) return fail(e, "model", "the model code cannot build this config");
    int rc = HL_OK, frozen = 0;
    for (int j = 0; j < n; j++) frozen += hl_train_frozen(tc, t[j].name);
    for (int i = 0; rc == HL_OK && i < tc->n_freeze; i++) {
        int hit = 0;
        for (int j = 0; j < n && !hit; j++) hit = fnmatch(tc->freeze[i], t[j].name, 0) == 0;
        char item[PATH_LEN];
        index_path(item, "train.freeze", i);
        if (!hit) rc = fail(e, item, "matches no tensor of the model (names as \"%s\"; got \"%s\")", t[0].name, tc->freeze[i]);
    }
    if (rc == HL_OK && frozen == n) rc = fail(e, "train.freeze", "freezes all %d tensors: nothing would train", n);
    free(t);
    return rc;
}

#define TRAIN_INT(key, field, d, lo, hi) \
    {.name = key, .kind = HL_CFG_INT, .offset = offsetof(hl_train_config, field), .dflt = d, .min = lo, .max = hi}
#define TRAIN_NUM(key, field, d, lo, hi, fl) \
    {.name = key, .kind = HL_CFG_DOUBLE, .offset = offsetof(hl_train_config, field), .dflt = d, .min = lo, .max = hi, .flags = fl}
static const hl_cfg_key train_keys[] = {
    {.name = "task", .kind = HL_CFG_SECTION, .offset = offsetof(hl_train_config, task), .section_fn = hl_task_train_section},
    TRAIN_INT("steps", steps, 1000, 0, INT_MAX),
    TRAIN_INT("batch_size", batch_size, 32, 1, MAX_BATCH),
    TRAIN_NUM("lr", lr, 1e-3, 0, INFINITY, HL_CFG_MIN_EXCLUSIVE),
    {.name = "min_lr", .kind = HL_CFG_DOUBLE, .offset = offsetof(hl_train_config, min_lr), .read = read_min_lr},
    TRAIN_INT("warmup_steps", warmup_steps, 0, 0, INT_MAX),
    {.name = "schedule", .kind = HL_CFG_STRING, .read = read_schedule, .write = write_schedule},
    TRAIN_NUM("weight_decay", weight_decay, 0.1, 0, INFINITY, 0),
    TRAIN_NUM("grad_clip", grad_clip, 1.0, 0, INFINITY, 0),
    TRAIN_NUM("beta1", beta1, 0.9, 0, 1, HL_CFG_MAX_EXCLUSIVE),
    TRAIN_NUM("beta2", beta2, 0.999, 0, 1, HL_CFG_MAX_EXCLUSIVE),
    TRAIN_NUM("adam_eps", adam_eps, 1e-8, 0, INFINITY, HL_CFG_MIN_EXCLUSIVE),
    {.name = "seed", .kind = HL_CFG_U64, .offset = offsetof(hl_train_config, seed), .dflt = 0, .min = 0, .max = MAX_SEED},
    TRAIN_INT("eval_every", eval_every, 0, 0, INT_MAX),
    TRAIN_INT("debug_abort_step", debug_abort_step, 0, 0, INT_MAX),
    {.name = "teacher", .kind = HL_CFG_SECTION, .section = &teacher_section, .flags = HL_CFG_OMIT_DEFAULT,
     .read = read_teacher, .write = write_teacher},
    {.name = "freeze", .kind = HL_CFG_STRING_LIST, .flags = HL_CFG_OMIT_DEFAULT, .read = read_freeze, .write = write_freeze},
    {.name = NULL}};
static const hl_cfg_section train_section = {.name = "train", .keys = train_keys};

// ------------------------------------------------------------------ measure
static int read_positive_list(const err_ctx *e, const cJSON *list, const char *path, int dflt, int max,
                              int *values, int *count) {
    char item[PATH_LEN];
    if (!list) { values[0] = dflt; *count = 1; return HL_OK; }
    int n = cJSON_GetArraySize(list), i = 0;
    if (n > HL_MAX_MEASURE) return fail(e, path, "at most %d entries (got %d)", HL_MAX_MEASURE, n);
    for (const cJSON *c = list->child; c; c = c->next, i++) {
        index_path(item, path, i);
        if (c->valuedouble < 1) return fail(e, item, "must be a positive int (got %.0f)", c->valuedouble);
        if (c->valuedouble > max) return fail(e, item, "must be at most %d (got %.0f)", max, c->valuedouble);
        values[i] = (int)c->valuedouble;
    }
    *count = n;
    return HL_OK;
}

static int read_batch(const err_ctx *e, const cJSON *v, const char *path, void *obj) {
    hl_measure_config *mc = obj;
    return read_positive_list(e, v, path, 1, MAX_BATCH, mc->batch, &mc->n_batch);
}

static int read_context(const err_ctx *e, const cJSON *v, const char *path, void *obj) {
    hl_measure_config *mc = obj;
    return read_positive_list(e, v, path, 512, HL_MAX_CONTEXT, mc->context, &mc->n_context);
}

static const hl_cfg_key protocol_key = {.name = "protocol", .kind = HL_CFG_STRING,
    .offset = offsetof(hl_measure_config, protocol), .capacity = sizeof ((hl_measure_config *)0)->protocol,
    .dflt_text = "grid"};

static int read_protocol(const err_ctx *e, const cJSON *v, const char *path, void *obj) {
    hl_measure_config *mc = obj;
    if (v && strcmp(v->valuestring, "grid") && strcmp(v->valuestring, "hymba"))
        return fail(e, path, "must be \"grid\" or \"hymba\" (got \"%.64s\")", v->valuestring);
    return hl_cfg_read_key(e, &protocol_key, v, path, mc, NULL);
}

static const hl_cfg_key measure_keys[] = {
    {.name = "batch", .kind = HL_CFG_INT_LIST, .offset = offsetof(hl_measure_config, batch),
     .count_offset = offsetof(hl_measure_config, n_batch), .capacity = HL_MAX_MEASURE, .read = read_batch},
    {.name = "context", .kind = HL_CFG_INT_LIST, .offset = offsetof(hl_measure_config, context),
     .count_offset = offsetof(hl_measure_config, n_context), .capacity = HL_MAX_MEASURE, .read = read_context},
    {.name = "decode_tokens", .kind = HL_CFG_INT, .offset = offsetof(hl_measure_config, decode_tokens),
     .dflt = 64, .min = 0, .max = HL_MAX_CONTEXT},
    {.name = "warmup", .kind = HL_CFG_INT, .offset = offsetof(hl_measure_config, warmup),
     .dflt = 1, .min = 0, .max = 1000, .flags = HL_CFG_OMIT_DEFAULT},
    {.name = "repeats", .kind = HL_CFG_INT, .offset = offsetof(hl_measure_config, repeats),
     .dflt = 3, .min = 1, .max = 1000, .flags = HL_CFG_OMIT_DEFAULT},
    {.name = "protocol", .kind = HL_CFG_STRING, .offset = offsetof(hl_measure_config, protocol),
     .capacity = sizeof ((hl_measure_config *)0)->protocol, .dflt_text = "grid", .flags = HL_CFG_OMIT_DEFAULT,
     .read = read_protocol},
    {.name = "after_train", .kind = HL_CFG_BOOL, .offset = offsetof(hl_measure_config, after_train),
     .dflt = 0, .flags = HL_CFG_OMIT_DEFAULT},
    {.name = NULL}};
static const hl_cfg_section measure_section = {.name = "measure", .keys = measure_keys};

// ------------------------------------------------------------------ the whole spec
// Entries naming a training family: every key, defaults filled; entries
// naming an evaluation task: as written (keys sorted by the canonical form).
static cJSON *write_evals(const void *obj) {
    const hl_spec *s = obj;
    cJSON *evals = cJSON_CreateArray();
    for (int i = 0; evals && i < s->n_eval_entries; i++) {
        int k = s->eval_entry[i].index;
        cJSON *e = s->eval_entry[i].is_task ? cJSON_Parse(s->eval_tasks[k].json)
                                            : hl_cfg_write(hl_task_eval_section(), &s->eval[k]);
        if (!e) { cJSON_Delete(evals); return NULL; }
        cJSON_AddItemToArray(evals, e);
    }
    return evals;
}

// The schema of one "eval" entry for the schema check and --set paths: the
// keys of a training family's entry (tasks/task_config.c) and those of an
// evaluation task (tasks/eval_config.c), one row per name. read_evals then
// checks each entry against its own section.
static hl_cfg_key eval_any_keys[64];
static hl_cfg_section eval_any_section = {.name = "eval", .keys = eval_any_keys};

static void build_eval_any(void) {
    int n = 0;
    const hl_cfg_section *parts[2] = {hl_task_eval_section(), hl_eval_section()};
    for (int p = 0; p < 2; p++)
        for (const hl_cfg_key *k = parts[p]->keys; k->name; k++) {
            int have = 0;
            for (int r = 0; r < n; r++) have |= !strcmp(eval_any_keys[r].name, k->name);
            if (have || n + 1 >= (int)(sizeof eval_any_keys / sizeof *eval_any_keys)) continue;
            eval_any_keys[n] = *k;
            eval_any_keys[n].read = NULL;   // never read through this section
            eval_any_keys[n].write = NULL;
            n++;
        }
    eval_any_keys[n].name = NULL;
}

static pthread_once_t eval_any_once = PTHREAD_ONCE_INIT;

static const hl_cfg_section *eval_entry_section(void) {
    pthread_once(&eval_any_once, build_eval_any);
    return &eval_any_section;
}

// name and eval are read by read_spec (the name's default is the file's; eval
// entries inherit from train.task).
static const hl_cfg_key top_keys[] = {
    {.name = "name", .kind = HL_CFG_STRING, .offset = offsetof(hl_spec, name), .capacity = HL_NAME_LEN},
    {.name = "model", .kind = HL_CFG_SECTION, .offset = offsetof(hl_spec, model), .section_fn = hl_model_section},
    {.name = "train", .kind = HL_CFG_SECTION, .offset = offsetof(hl_spec, train), .section = &train_section},
    {.name = "eval", .kind = HL_CFG_SECTION_LIST, .section_fn = eval_entry_section, .write = write_evals},
    {.name = "measure", .kind = HL_CFG_SECTION, .offset = offsetof(hl_spec, measure), .section = &measure_section},
    {.name = NULL}};
static const hl_cfg_section top_section = {.name = "", .keys = top_keys};
static const hl_cfg_key top_def = {.name = "", .kind = HL_CFG_SECTION, .section = &top_section};

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
// Walks a dotted key through the schema into *out (a copy: array elements
// have no row of their own), failing with `where` + the prefix that is wrong.
static int resolve_dotted(const err_ctx *e, const char *dotted, const char *where, hl_cfg_key *out) {
    hl_cfg_key def = top_def;
    char shown[PATH_LEN];
    const char *p = dotted;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        path_printf(shown, "%s%.*s", where, (int)((size_t)(p - dotted) + len), dotted);
        if (len == 0) return fail(e, shown, "empty key component (got \"%s\")", dotted);
        if (def.kind == HL_CFG_SECTION) {
            const hl_cfg_key *k = hl_cfg_find(hl_cfg_child(&def), p, len);
            if (!k) return fail(e, shown, "unknown key");
            def = *k;
        } else if (def.kind == HL_CFG_SECTION_LIST) {
            if (strspn(p, "0123456789") != len) return fail(e, shown, "expected an array index");
            hl_cfg_key element = {.name = "", .kind = HL_CFG_SECTION, .section = hl_cfg_child(&def)};
            def = element;  // the keys of one element
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
    err_ctx e = {source, err, errlen, NULL};
    hl_cfg_key def;
    char shown[PATH_LEN];
    TRY(resolve_dotted(&e, dotted, where, &def));
    if (cJSON_IsNull(value)) return HL_OK;  // null: back to the default
    path_printf(shown, "%s%s", where, dotted);
    return hl_cfg_check_value(&e, value, &def, shown);
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
    err_ctx e = {source, err, errlen, NULL};
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

// ------------------------------------------------------------ canonical form
static int finish_canonical(const err_ctx *e, hl_spec *s) {
    cJSON *tree = hl_cfg_write(&top_section, s);
    s->canonical_json = tree ? hl_json_canonical(tree) : NULL;
    cJSON_Delete(tree);
    if (!s->canonical_json) return fail(e, "(canonical form)", "out of memory");
    hl_sha256_hex(s->canonical_json, strlen(s->canonical_json), s->hash);
    return HL_OK;
}

// ------------------------------------------------------------ entry points
static int read_name(const err_ctx *e, const cJSON *root, const char *default_name, hl_spec *s) {
    const cJSON *v = field(root, "name");
    const char *name = v ? v->valuestring : default_name;
    if (!name[0]) return fail(e, "name", "must not be empty (got \"\")");
    if (strlen(name) >= HL_NAME_LEN) return fail(e, "name", "longer than %d characters", HL_NAME_LEN - 1);
    snprintf(s->name, sizeof s->name, "%s", name);
    return HL_OK;
}

// An entry naming an evaluation task: a preset or FORMAT:PATH read with its
// section, or a group expanded into its members (each read as the entry with
// "task" replaced); the entry's text is kept as its canonical form.
static int read_eval_task(const err_ctx *e, const cJSON *c, const char *path, hl_spec *s) {
    char p[PATH_LEN];
    hl_spec_eval_task *t = &s->eval_tasks[s->n_eval_tasks];
    memset(t, 0, sizeof *t);
    s->n_eval_tasks++;   // counted at once: hl_spec_free frees what was read
    TRY(hl_cfg_check(e, c, hl_eval_section(), path));
    if (!s->train.task.tokenizer[0]) {
        hl_cfg_join(p, path, "task");
        return fail(e, p, "an evaluation task needs the spec's tokenizer: set train.task.tokenizer (byte or gpt2)");
    }
    const cJSON *task = field(c, "task");
    const hl_eval_group *g = hl_eval_group_find(task->valuestring);
    int n = 1;
    if (g) for (n = 0; g->members[n]; n++) {}
    t->cfg = calloc((size_t)n, sizeof *t->cfg);
    cJSON *copy = cJSON_Duplicate(c, 1);
    t->json = hl_json_canonical(c);
    if (!t->cfg || !copy || !t->json) { cJSON_Delete(copy); return fail(e, path, "out of memory"); }
    if (g) snprintf(t->group, sizeof t->group, "%s", g->name);
    int rc = HL_OK;
    for (int i = 0; i < n && rc == HL_OK; i++) {
        if (g) cJSON_ReplaceItemInObjectCaseSensitive(copy, "task", cJSON_CreateString(g->members[i]));
        rc = hl_cfg_read(e, hl_eval_section(), copy, path, &t->cfg[i], NULL);
        if (rc == HL_OK) t->n++;
    }
    cJSON_Delete(copy);
    return rc;
}

// Eval entries: an entry whose "task" is an evaluation task (a preset, a
// group or FORMAT:PATH: tasks/eval_config.h) is read by read_eval_task;
// the others name a training family: missing keys from the training task,
// num_examples 1000.
static int read_evals(const err_ctx *e, const cJSON *list, hl_spec *s) {
    hl_task_config dflt = s->train.task;
    dflt.num_examples = 1000;
    if (!list) {
        s->n_eval = s->n_eval_entries = 1;
        s->eval[0] = dflt;
        s->eval_entry[0].is_task = 0; s->eval_entry[0].index = 0;
        return HL_OK;
    }
    int n = cJSON_GetArraySize(list);
    if (n > HL_MAX_EVAL) return fail(e, "eval", "at most %d entries (got %d)", HL_MAX_EVAL, n);
    char path[PATH_LEN];
    int i = 0;
    for (const cJSON *c = list->child; c; c = c->next, i++) {
        index_path(path, "eval", i);
        const cJSON *task = field(c, "task");
        int is_task = cJSON_IsString(task) && hl_eval_task_known(task->valuestring);
        s->eval_entry[i].is_task = is_task;
        s->eval_entry[i].index = is_task ? s->n_eval_tasks : s->n_eval;
        s->n_eval_entries = i + 1;
        if (is_task) { TRY(read_eval_task(e, c, path, s)); continue; }
        if (cJSON_IsString(task) && !hl_task_family_find(task->valuestring)) {
            char p[PATH_LEN], fams[128], evals[1024];
            hl_cfg_join(p, path, "task");
            hl_task_family_names(fams, sizeof fams);
            hl_eval_task_names(evals, sizeof evals);
            return fail(e, p, "unknown task (got \"%s\"; training families: %s; evaluation tasks: %s)",
                        task->valuestring, fams, evals);
        }
        TRY(hl_cfg_check(e, c, hl_task_eval_section(), path));
        TRY(hl_cfg_read(e, hl_task_eval_section(), c, path, &s->eval[s->n_eval], &dflt));
        s->n_eval++;
    }
    return HL_OK;
}

int hl_spec_longest_seq_len(const hl_spec *s) {
    int T = s->train.task.seq_len;
    for (int i = 0; i < s->n_eval; i++) if (s->eval[i].seq_len > T) T = s->eval[i].seq_len;
    for (int i = 0; i < s->n_eval_tasks; i++)
        for (int k = 0; k < s->eval_tasks[i].n; k++) {
            const hl_eval_config *c = &s->eval_tasks[i].cfg[k];
            if (c->max_length > T) T = c->max_length;
            for (int j = 0; j < c->n_lengths; j++) if (c->lengths[j] > T) T = c->lengths[j];
        }
    return T;
}

// The longest sequence a run feeds the model: the training task's or an eval's.
static int longest_seq_len(const hl_spec *s) { return hl_spec_longest_seq_len(s); }

// Training and eval batches hold batch_size x (meta_tokens + seq_len) positions.
static int check_batch_tokens(const err_ctx *e, const hl_spec *s) {
    int B = s->train.batch_size, Tt = s->model.meta_tokens + longest_seq_len(s);
    if ((long long)B * Tt <= HL_MAX_BATCH_TOKENS) return HL_OK;
    return fail(e, "train.batch_size", "batch_size * (meta_tokens + longest seq_len) must be at most %d positions (got %d * %d)",
                HL_MAX_BATCH_TOKENS, B, Tt);
}

static int read_spec(const err_ctx *e, const cJSON *root, const char *default_name, hl_spec *s) {
    err_ctx with_vocab = *e;
    with_vocab.env = &s->model.vocab_size;   // tasks resolve vocab_size 0 to the model's
    TRY(read_name(e, root, default_name, s));
    TRY(hl_cfg_read(e, hl_model_section(), field(root, "model"), "model", &s->model, NULL));
    TRY(hl_cfg_read(&with_vocab, &train_section, field(root, "train"), "train", &s->train, NULL));
    TRY(read_evals(&with_vocab, field(root, "eval"), s));
    TRY(check_batch_tokens(e, s));
    TRY(check_freeze(e, s));
    TRY(hl_cfg_read(e, &measure_section, field(root, "measure"), "measure", &s->measure, NULL));
    return finish_canonical(e, s);
}

int hl_spec_check_tree(const cJSON *root, const char *source, char *err, size_t errlen) {
    err_ctx e = {source, err, errlen, NULL};
    return hl_cfg_check_value(&e, root, &top_def, "");
}

int hl_spec_from_tree(cJSON *root, const char *source, const char *default_name,
                      const char *const *sets, int n_sets, hl_spec *out,
                      char *err, size_t errlen) {
    err_ctx e = {source, err, errlen, NULL};
    memset(out, 0, sizeof *out);
    char got[80];
    if (!cJSON_IsObject(root)) {
        hl_json_brief(root, got, sizeof got);
        return fail(&e, "", "a spec must be a JSON object (got %s)", got);
    }
    int rc = apply_set_args(&e, root, sets, n_sets);
    if (rc == HL_OK) rc = hl_cfg_check(&e, root, &top_section, "");
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
    for (int i = 0; i < s->n_eval_tasks; i++) {
        free(s->eval_tasks[i].cfg);
        free(s->eval_tasks[i].json);
    }
    s->n_eval_tasks = 0;
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
    err_ctx e = {source, err, errlen, NULL};
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

// ------------------------------------------------------------ train.teacher
int hl_spec_check_teacher(const hl_spec *s, const char *source, char *err, size_t errlen) {
    err_ctx e = {source, err, errlen, NULL};
    const hl_teacher_config *t = &s->train.teacher;
    if (!t->on) return HL_OK;
    const char *key = "train.teacher.ckpt";
    char why[HL_ERR_LEN / 2], *json = NULL;
    if (hl_ckpt_read_spec(t->ckpt, &json, why, sizeof why) != HL_OK)
        return fail(&e, key, "cannot read the teacher checkpoint: %s", why);
    hl_spec ts;
    int rc = hl_spec_load_text(json, t->ckpt, NULL, 0, &ts, why, sizeof why);
    free(json);
    if (rc != HL_OK) return fail(&e, key, "the teacher checkpoint's spec does not load: %s", why);
    const hl_model_config *tm = &ts.model, *sm = &s->model;
    if (tm->vocab_size != sm->vocab_size)
        rc = fail(&e, key, "the teacher's model.vocab_size %d differs from the student's %d (%s)", tm->vocab_size,
                  sm->vocab_size, t->ckpt);
    else if (tm->d_model != sm->d_model)
        rc = fail(&e, key, "the teacher's model.d_model %d differs from the student's %d (%s)", tm->d_model,
                  sm->d_model, t->ckpt);
    hl_spec_free(&ts);
    return rc;
}
