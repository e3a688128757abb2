// spec.h: the user's JSON spec, parsed strictly into plain structs.
//
// Contract (../shared/DESIGN.md "Spec"): unknown keys, wrong types,
// out-of-range values and impossible combinations are errors naming the file
// and JSON path, e.g.
//   "spec.json: model.attn.n_kv_heads: must divide n_heads (got 3 for 4)"
// and the CLI exits with status 2 having written nothing. After defaults are
// filled the spec is printed canonically (sorted keys, compact) and hashed
// (SHA-256 hex of the canonical text): the hash identifies a run.
#ifndef HYLAB_SPEC_H
#define HYLAB_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/status.h"

// Upper limits of spec sizes (the full list with reasons is at the top of
// harness/spec.c). They keep every count describe makes within int64 and
// every per-position index of a run within int.
#define HL_MAX_LAYERS 256
#define HL_MAX_VOCAB (1 << 20)
#define HL_MAX_D_MODEL (1 << 16)
#define HL_MAX_WIDTH (1 << 18)        // d_inner, n_heads * head_dim, n_heads * v_head_dim
#define HL_MAX_CONTEXT (1 << 24)      // attn.window, measure.context, describe --context
#define HL_MAX_SEQ_LEN (1 << 16)      // a task's seq_len
#define HL_MAX_BATCH_TOKENS (1 << 24) // batch_size * (meta_tokens + longest seq_len)
#define HL_MAX_EVAL 16
#define HL_MAX_MEASURE 16

typedef enum { HL_FFN_NONE = 0, HL_FFN_SWIGLU = 1, HL_FFN_MOE = 2 } hl_ffn_type;
typedef enum { HL_SCHED_COSINE = 0, HL_SCHED_LINEAR = 1, HL_SCHED_CONSTANT = 2 } hl_schedule;

typedef struct {
    int n_heads, n_kv_heads, head_dim;
    int v_head_dim;          // as written: 0 = default (head_dim; d_inner/n_heads in H layers)
    float rope_theta;
    int window;              // 0 = global everywhere
    int n_global; int global_layers[HL_MAX_LAYERS];
} hl_attn_config;

typedef struct {
    int d_state, d_conv, expand;
    int dt_rank;             // resolved: 0 in the file means ceil(d_model/16)
} hl_ssm_config;

typedef struct {
    hl_ffn_type type;
    int d_ff;
} hl_ffn_config;

// Per-layer facts resolved from the spec (what model code reads).
typedef struct {
    char kind;               // 'A', 'S', 'H'
    int window;              // 0 = global, else sliding window (attention-bearing layers)
    int kv_source;           // -1: own K/V (producer or unshared); else index of the producer layer
    int v_head_dim;          // resolved V head dim for this layer (0 for 'S')
} hl_layer_plan;

typedef struct {
    int vocab_size, d_model, n_layers;
    char layers_pattern[HL_MAX_LAYERS + 1]; // as written, e.g. "AS"
    hl_layer_plan layer[HL_MAX_LAYERS];    // expanded, one per layer
    hl_attn_config attn;
    // attn.kv_share groups are resolved into layer[i].kv_source.
    hl_ssm_config ssm;
    int meta_tokens;
    hl_ffn_config ffn;
    int tie_embeddings;
    float norm_eps;
} hl_model_config;

// A task invocation: the training task or one eval entry.
typedef struct {
    char name[32];           // "mqar"
    int seq_len;
    int num_kv_pairs;
    int vocab_size;          // 0 = the model's vocab_size
    double power_a;          // MQAR gap distribution (Zoology default 0.01)
    long num_examples;       // train: size of the training set (default 100000); eval: test examples (default 1000)
} hl_task_config;

typedef struct {
    hl_task_config task;
    int steps, batch_size;
    double lr, min_lr;       // min_lr: floor of the schedule (default 0)
    int warmup_steps;
    hl_schedule schedule;
    double weight_decay, grad_clip;  // grad_clip 0 = off
    double beta1, beta2, adam_eps;   // defaults 0.9, 0.999, 1e-8 (PyTorch AdamW)
    uint64_t seed;
    int eval_every;          // 0 = only at the end
    int debug_abort_step;    // test-only: raise SIGABRT at this step (0 = off)
} hl_train_config;

typedef struct {
    int n_batch; int batch[HL_MAX_MEASURE];
    int n_context; int context[HL_MAX_MEASURE];
    int decode_tokens;
} hl_measure_config;

typedef struct {
    char name[HL_NAME_LEN];
    hl_model_config model;
    hl_train_config train;
    int n_eval; hl_task_config eval[HL_MAX_EVAL];
    hl_measure_config measure;
    char *canonical_json;    // malloc'd; sorted keys, defaults filled, compact
    char hash[65];           // SHA-256 hex of canonical_json
} hl_spec;

// Parse a spec from a file, applying "--set key=value" overrides (dotted
// paths; the value is parsed as JSON, falling back to a plain string).
// Returns HL_OK, or HL_EBADINPUT with err = "FILE: json.path: what is wrong".
int hl_spec_load_file(const char *path, const char *const *sets, int n_sets,
                      hl_spec *out, char *err, size_t errlen);
// Same from text already in memory; `source` names it in messages.
int hl_spec_load_text(const char *text, const char *source,
                      const char *const *sets, int n_sets,
                      hl_spec *out, char *err, size_t errlen);
void hl_spec_free(hl_spec *s);

// Whether training s fits in this machine's physical memory: weights,
// gradients and AdamW moments (16 bytes per parameter) plus activations and
// batches at train.batch_size x the longest seq_len (as hl_train_run
// allocates them). Loading a spec only checks sizes against the limits above
// (describe counts models far larger than a CPU can train); `run` checks this
// for every run before it writes anything. HL_OK, or HL_EBADINPUT with
// "SOURCE: model: training needs 1.1 TiB: ...; this machine has 23.4 GiB of memory".
int hl_spec_check_train_memory(const hl_spec *s, const char *source, char *err, size_t errlen);

// ---------------------------------------------------------------- sweeps
// A sweep file {"name", "base": path-or-object, "variants": [{"name","set"}],
// "grid": {"dotted.key": [values...]}} expands to variants x grid points
// (cartesian product, grid keys in sorted order, values in file order).
// A plain spec file loads as a sweep of one run (variant = spec name).
// Sweeps are loaded to be run: besides validation (a key repeated anywhere in
// the file is an error), a sweep expands to at most 10000 runs (counted
// before expanding) and every run must fit in memory for training
// (hl_spec_check_train_memory). Errors name the file and JSON path.
typedef struct {
    char variant[HL_NAME_LEN];
    char *grid_json;         // malloc'd, e.g. {"train.seed":1}; "{}" when no grid
    hl_spec spec;
} hl_sweep_run;

typedef struct {
    char name[HL_NAME_LEN];
    int is_sweep;            // 0 when the file was a plain spec
    char *source_json;       // malloc'd: the sweep file as read (canonical)
    int n_runs;
    hl_sweep_run *runs;
} hl_sweep;

int hl_sweep_load_file(const char *path, const char *const *sets, int n_sets,
                       hl_sweep *out, char *err, size_t errlen);
void hl_sweep_free(hl_sweep *s);

#endif
