// results.h: where a run's results go. The training/eval code reports
// through a sink; `hylab run` without --db prints JSON lines to stdout, with
// --db the sink writes to SQLite (curves stream, metrics and the summary are
// committed in one transaction at the end of the run).
#ifndef HYLAB_RESULTS_H
#define HYLAB_RESULTS_H

#include "spec.h"

typedef struct {
    const char *task;        // "mqar"
    const char *metric;      // "accuracy", "loss", ...
    double value;
    long n;                  // examples (or labelled positions) it averages over
    double sem;              // standard error of the mean, NAN when not meaningful
    const char *params_json; // task parameters, e.g. {"num_kv_pairs":4,"seq_len":64}
} hl_metric;

typedef struct {
    const char *kind;        // "train_tokens_per_s", "peak_rss_bytes", ...
    int batch; long context;
    double value; const char *unit;
    int repeats; double spread;
} hl_measurement;

typedef enum { HL_RUN_DONE = 0, HL_RUN_FAILED = 1, HL_RUN_DIVERGED = 2 } hl_run_status;

typedef struct {
    hl_run_status status;
    char error[HL_ERR_LEN];  // reason when failed/diverged ("loss is NaN at step 17")
    int steps;               // optimizer steps done
    double final_train_loss;
    double tokens_per_s;     // training tokens (input positions) per second
    double wall_s;
    char backend[16];
    char blas_core[32];
    int threads;
    long long params;
} hl_run_summary;

typedef struct hl_sink {
    void *ctx;
    void (*curve)(void *ctx, int step, const char *split, const char *name, double value);
    void (*metric)(void *ctx, const hl_metric *m);
    void (*measurement)(void *ctx, const hl_measurement *m);
} hl_sink;

typedef struct {
    int threads;             // 0 = all cores
    const char *backend;     // "cpu" (default) or "cpu_ref"
    const char *save_path;   // safetensors file for the final weights, or NULL
    int progress;            // 1: progress line on stderr
    const char *label;       // names the run in progress lines (NULL: the spec name)
} hl_run_opts;

// Train and evaluate one spec. Always fills *sum; returns sum->status.
hl_run_status hl_train_run(const hl_spec *spec, const hl_run_opts *opts,
                           const hl_sink *sink, hl_run_summary *sum);

// A sink that prints one JSON object per line to stdout (no --db).
hl_sink hl_stdout_sink(void);

// The run summary as one JSON line: name, spec_hash, status, steps,
// final_train_loss, tokens_per_s, wall_s, params, backend, blas_core,
// threads (+ error when not done). `hylab run` without --db prints it last.
#include <stdio.h>
void hl_print_summary_json(FILE *f, const hl_spec *spec, const hl_run_summary *s);

#endif
