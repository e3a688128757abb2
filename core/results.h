// results.h: what a run reports and where it goes. The training/eval code
// (harness/train/train.h) reports through a sink; `hylab run` without --db prints
// JSON lines to stdout, with --db the sink writes to SQLite (db/db.h: curves
// stream, metrics and the summary are committed in one transaction at the
// end of the run).
#ifndef HYLAB_RESULTS_H
#define HYLAB_RESULTS_H

#include "core/status.h"

typedef struct {
    const char *task;        // "mqar"
    const char *metric;      // "accuracy", "loss", ...
    double value;
    long n;                  // examples (or labelled positions) it averages over
    double sem;              // standard error of the mean, NAN when not meaningful
    const char *params_json; // task parameters, e.g. {"num_kv_pairs":4,"seq_len":64}
    const char *version;     // the task's version, e.g. "mqar/1" (NULL: unknown; db/migrations/005.sql)
} hl_metric;

// How a measurement was taken (harness/run/measure.h): the figure is the
// median of `repeats` timed repetitions after `warmup` untimed ones.
typedef struct {
    const char *name;        // "grid" (measure.batch x measure.context) or "hymba"
    int warmup;
    int threads;             // BLAS/OpenMP threads
    const char *backend;     // "cpu", "cpu_ref"
    const char *blas_core;   // OpenBLAS core ("Haswell", ...)
    const char *cpu;         // /proc/cpuinfo "model name"
} hl_measure_protocol;

typedef struct {
    const char *kind;        // "train_tokens_per_s", "decode_tok_s", "peak_rss_bytes", ...
    int batch; long context;
    double value; const char *unit;
    int repeats; double spread;  // spread: max - min (NAN: not meaningful)
    // Added with the protocol (db/migrations/004.sql). A figure without a
    // protocol (protocol NULL: the training loop's own average) records
    // NULL for these; min/max are then ignored.
    double min, max;         // over the repeats; value is their median
    int dtype_bytes;         // bytes per element timed or counted (0: unknown)
    const hl_measure_protocol *protocol;
} hl_measurement;

typedef enum { HL_RUN_DONE = 0, HL_RUN_FAILED = 1, HL_RUN_DIVERGED = 2 } hl_run_status;

typedef struct {
    hl_run_status status;
    char error[HL_ERR_LEN];  // reason when failed/diverged ("loss is NaN at step 17")
    int steps;               // optimizer steps done
    int fail_step;           // failed/diverged: the step at which the run stopped
                             // (a step that failed is not counted in steps)
    double final_train_loss;
    double tokens_per_s;     // training tokens (input positions) per second
    double wall_s;
    char backend[16];
    char blas_core[32];
    int threads;
    long long params;
    long long active_params; // params one token uses (MoE: less the experts it is not
                             // routed to; = params without MoE); 0: unknown (NULL in the db)
} hl_run_summary;

typedef struct hl_sink {
    void *ctx;
    void (*curve)(void *ctx, int step, const char *split, const char *name, double value);
    void (*metric)(void *ctx, const hl_metric *m);
    void (*measurement)(void *ctx, const hl_measurement *m);
} hl_sink;

#endif
