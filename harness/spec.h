// spec.h: the user's JSON spec, parsed strictly into plain structs.
//
// Contract (the keys: the list of sections at the top of harness/spec.c, each
// documented at its table in the module that owns it): unknown keys, wrong types,
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
#include "models/model_config.h"
#include "tasks/eval_config.h"
#include "tasks/task_config.h"

// Upper limits of spec sizes (reasons at the top of harness/spec.c). They keep every count describe makes within int64 and
// every per-position index of a run within int. The model's limits are in
// models/model_config.h, a task's in tasks/task_config.h.
#define HL_MAX_BATCH_TOKENS (1 << 24) // batch_size * (meta_tokens + longest seq_len)
#define HL_MAX_EVAL 16
#define HL_MAX_MEASURE 16

typedef enum { HL_SCHED_COSINE = 0, HL_SCHED_LINEAR = 1, HL_SCHED_CONSTANT = 2 } hl_schedule;

// train.teacher (issue 11, distillation): a teacher model loaded from a
// hylab checkpoint, run forward without gradients on each training batch;
// the training loss becomes kl_weight * KL(teacher || student) at
// temperature (models/losses.h hl_loss_distill: tau^2 scaling) + ce_weight
// * CE. Left out of the canonical spec when absent (on = 0), so specs
// without a teacher keep their hash. Defaults: kl_weight 0.1, ce_weight 1,
// temperature 1 (the Mamba-in-the-Llama configs, ../shared/PAPERS.md 5.6).
#define HL_TEACHER_PATH_LEN 1024
typedef struct {
    int on;                          // 1 when the spec has train.teacher
    char ckpt[HL_TEACHER_PATH_LEN];  // the teacher's hylab checkpoint (required)
    double kl_weight, ce_weight;     // >= 0 each, not both 0
    double temperature;              // > 0
} hl_teacher_config;

// train.freeze (issue 11, stage 1 of the Mamba-in-the-Llama recipe: train
// only the new layers): glob patterns (fnmatch, e.g. "model.layers.*.mlp.*")
// over the model's tensor names (models/model.h hl_tensor_info.name); a
// matching tensor's gradient is zeroed after the backward (so it counts in
// neither the gradient norm nor the clipping) and AdamW skips it (no
// update, no weight decay). Every pattern must match some tensor and some
// tensor must stay trainable. Left out of the canonical spec when empty.
#define HL_MAX_FREEZE 32
#define HL_FREEZE_LEN 128
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
    hl_teacher_config teacher;
    int n_freeze; char freeze[HL_MAX_FREEZE][HL_FREEZE_LEN];
} hl_train_config;

// Whether tensor `name` matches one of tc's train.freeze patterns.
int hl_train_frozen(const hl_train_config *tc, const char *name);

// The measure section (harness/run/measure.h takes the measurements). The
// keys after decode_tokens were added with issue 8 and are left out of the
// canonical spec at their defaults (existing hashes unchanged).
typedef struct {
    int n_batch; int batch[HL_MAX_MEASURE];
    int n_context; int context[HL_MAX_MEASURE];
    int decode_tokens;
    int warmup, repeats;     // untimed / timed repetitions per figure (default 1, 3)
    char protocol[16];       // "grid" (default): batch x context; "hymba": 8192 x 128, halved on OOM
    int after_train;         // 1: a run of `hylab run` measures after training (default 0)
} hl_measure_config;

// An entry of "eval" that names an evaluation task (tasks/eval_config.h: a
// preset, a group or FORMAT:PATH) rather than a training family: after
// training the run evaluates the model on it with the spec's tokenizer
// (train.task.tokenizer) and the data directory (harness/train/train.c).
typedef struct {
    char group[32];          // the group's name ("commonsense"), "" for one task
    int n; hl_eval_config *cfg;  // malloc'd (n): the task, or the group's members
    char *json;              // malloc'd: the entry as written (after --set), its canonical form
} hl_spec_eval_task;

typedef struct {
    char name[HL_NAME_LEN];
    hl_model_config model;
    hl_train_config train;
    // "eval": entries naming a training family (MQAR, lm: scored on its test
    // split, also during training) in eval[], those naming an evaluation
    // task in eval_tasks[]; eval_entry[] gives the list's order.
    int n_eval; hl_task_config eval[HL_MAX_EVAL];
    int n_eval_tasks; hl_spec_eval_task eval_tasks[HL_MAX_EVAL];
    int n_eval_entries; struct { int is_task, index; } eval_entry[HL_MAX_EVAL];
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

// The most positions a run feeds the model: train.task.seq_len, the eval
// entries' seq_len, and the evaluation tasks' max_length and niah lengths
// (the model is built for this many).
int hl_spec_longest_seq_len(const hl_spec *s);

// Whether training s fits in this machine's physical memory: weights,
// gradients and AdamW moments (16 bytes per parameter) plus activations and
// batches at train.batch_size x the longest seq_len (as hl_train_run
// allocates them). Loading a spec only checks sizes against the limits above
// (describe counts models far larger than a CPU can train); `run` checks this
// for every run before it writes anything. HL_OK, or HL_EBADINPUT with
// "SOURCE: model: training needs 1.1 TiB: ...; this machine has 23.4 GiB of memory".
int hl_spec_check_train_memory(const hl_spec *s, const char *source, char *err, size_t errlen);

// With train.teacher: the teacher checkpoint can be read, holds a hylab spec,
// and its model has the student's vocab_size and d_model. HL_OK (also
// without a teacher), or HL_EBADINPUT with "SOURCE: train.teacher.ckpt: ...".
// `run` calls it for every run before it writes anything (harness/sweep.c).
int hl_spec_check_teacher(const hl_spec *s, const char *source, char *err, size_t errlen);

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
