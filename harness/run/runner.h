// runner.h: executes an expanded sweep (`hylab run`), one child process per
// run: without a database the results go to stdout as JSON lines, with one
// each child records its run into it.
#ifndef HYLAB_RUNNER_H
#define HYLAB_RUNNER_H

#include "harness/spec.h"

typedef struct {
    const char *db_path;     // NULL: run in-process, results as JSON lines on stdout
    const char *const *sets; int n_sets;  // the --set overrides (part of the sweep hash)
    int shard_i, shard_n;    // 1-based shard I of N (N = 1: everything)
    int jobs;                // children at once (>= 1)
    int threads;             // per run; 0 = all cores / jobs
    int force;               // rerun runs already done
    const char *backend;     // NULL = "cpu"
    const char *save_path;   // single-run sweeps: final weights
    const char *ckpt_dir;    // DIR/<spec_hash>.safetensors per run (created once the database is open)
    int wait_s;              // with db_path: longest wait for runs another runner on this host trains
    const char *data_dir;    // --data-dir (NULL: HYLAB_DATA, then the default; text/datadir.h)
    const char *samples_dir; // --samples-dir: each evaluation task's per-item records, DIR/<spec_hash>.eval<E>.<task>.jsonl
} hl_runner_opts;

// Is run index i (0-based, expanded order) in shard I of N?
int hl_runner_in_shard(int i, int shard_i, int shard_n);
// sha256 hex of the sweep source and the overrides: identifies a sweep.
void hl_runner_sweep_hash(const hl_sweep *sw, const char *const *sets, int n_sets, char out[65]);
// Opens (and closes) the training task and every eval task of each run of
// the shard with o->data_dir, before anything is written: a missing corpus
// or data file, an unknown tokenizer, a model vocabulary smaller than the
// tokenizer's, ... is HL_EBADINPUT with "variant 'V' GRID: JSON.PATH: what is
// wrong" (`hylab run` puts the file in front and exits 2). Opening a text task also writes its
// token cache, so runs find it.
int hl_runner_check_tasks(const hl_sweep *sw, const hl_runner_opts *o, char *err, size_t errlen);
// Run the sweep; returns the exit status: 0 all done, 1 any failed or
// diverged (or a database error, or stopped by SIGINT/SIGTERM), 2 bad input.
// Every run trains in a child process, so a crash ends only that run.
// SIGINT/SIGTERM: the children are ended and their runs marked failed
// ("interrupted by SIGTERM"); runs not started are left as they were.
int hl_runner_run(const hl_sweep *sw, const hl_runner_opts *o);

#endif
