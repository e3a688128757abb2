// runner_internal.h: shared by harness/runner*.c only.
#ifndef HYLAB_RUNNER_INTERNAL_H
#define HYLAB_RUNNER_INTERNAL_H
#include <stddef.h>
#include "runner.h"
#include "results.h"

typedef struct {
    int total, done, failed, diverged, skipped, elsewhere, errors;
} hl_runner_tally;

int hl_runner_cores(void);
int hl_runner_threads(const hl_runner_opts *o);
const char *hl_runner_status_name(hl_run_status s);
const char *hl_runner_save_path(const hl_runner_opts *o, const hl_sweep_run *r, char *buf, size_t n);
void hl_runner_tally_print(const hl_runner_tally *t);
int hl_runner_exit_status(const hl_runner_tally *t);
int hl_runner_run_db(const hl_sweep *sw, const hl_runner_opts *o);

#endif
