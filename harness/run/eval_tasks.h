// eval_tasks.h: the evaluation tasks of a spec (its eval entries that name a
// preset, a group or FORMAT:PATH: harness/spec.h's hl_spec_eval_task) run on
// a trained model, and checked before a sweep starts.
#ifndef HYLAB_EVAL_TASKS_H
#define HYLAB_EVAL_TASKS_H

#include <stddef.h>
#include "core/results.h"
#include "harness/spec.h"
#include "models/model.h"

// What hl_run_eval_tasks needs besides the model (its ctx).
typedef struct {
    const char *data_dir;    // NULL: HYLAB_DATA, then the default (text/datadir.h)
    int progress;            // 1: one line per task on stderr
    const char *label;       // names the run in those lines (NULL: the spec name)
    const char *samples_dir; // NULL, or each task's per-item records (tasks/eval.h samples) go to
                             // DIR/<spec_hash>.eval<E>.<task>.jsonl (E: the entry's index in the
                             // spec's eval list; task: the preset or FORMAT:PATH with characters
                             // outside [A-Za-z0-9_.-] as '_'), written whole at the end
} hl_eval_tasks_ctx;

// hl_run_opts.after_eval (harness/train/train.h); ctx is an
// hl_eval_tasks_ctx. Runs every evaluation task of spec on m, in the order
// of the eval list, with the spec's tokenizer (train.task.tokenizer) and
// max_length defaulting to train.task.seq_len, and reports each metric
// through sink with the task's name, parameters and version; a group entry
// also reports its average: task = the group, metric "avg" (the mean of its
// members' headline metrics, sem = sqrt(sum of sem^2) / k, version
// "<group>/1", params {"members": [...], "metrics": [...]}, as `hylab eval`).
// HL_OK, or the first task's error (HL_EBADINPUT: its data).
int hl_run_eval_tasks(void *ctx, hl_model *m, const hl_spec *spec, const hl_sink *sink, char *err, size_t errlen);

// Opens the spec's tokenizer and every evaluation task's data (hl_eval_open)
// with data_dir, and checks that model.vocab_size holds the tokenizer's ids:
// HL_EBADINPUT "train.task.tokenizer: ..." or "eval[i]: FILE: ..." when not.
int hl_check_eval_tasks(const hl_spec *spec, const char *data_dir, char *err, size_t errlen);

#endif
