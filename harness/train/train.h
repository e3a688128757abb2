// train.h: training and evaluating one spec, reporting through a sink
// (core/results.h).
#ifndef HYLAB_TRAIN_H
#define HYLAB_TRAIN_H

#include <stdio.h>
#include "core/results.h"
#include "harness/spec.h"
#include "models/model.h"

typedef struct {
    int threads;             // 0 = all cores
    const char *backend;     // "cpu" (default) or "cpu_ref"
    const char *save_path;   // safetensors file for the final weights, or NULL
    int progress;            // 1: progress line on stderr
    const char *label;       // names the run in progress lines (NULL: the spec name)
    const char *data_dir;    // the data directory for tasks that read data (NULL: text/datadir.h's default)
    // Called with the trained model after the final evaluation, before the
    // weights are saved (NULL: nothing): harness/run's hl_run_eval_tasks
    // runs the spec's evaluation tasks there (harness/train cannot include
    // harness/eval). Not HL_OK: the run fails with err.
    int (*after_eval)(void *ctx, hl_model *m, const hl_spec *spec, const hl_sink *sink, char *err, size_t errlen);
    void *after_eval_ctx;
} hl_run_opts;

// Train and evaluate one spec. Always fills *sum; returns sum->status.
hl_run_status hl_train_run(const hl_spec *spec, const hl_run_opts *opts,
                           const hl_sink *sink, hl_run_summary *sum);

// A sink that prints one JSON object per line to stdout (no --db).
hl_sink hl_stdout_sink(void);

// The run summary as one JSON line: name, spec_hash, status, steps,
// final_train_loss, tokens_per_s, wall_s, params, backend, blas_core,
// threads (+ error when not done). `hylab run` without --db prints it last.
void hl_print_summary_json(FILE *f, const hl_spec *spec, const hl_run_summary *s);

#endif
