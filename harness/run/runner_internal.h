// runner_internal.h: shared by harness/run/runner*.c only.
#ifndef HYLAB_RUNNER_INTERNAL_H
#define HYLAB_RUNNER_INTERNAL_H
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include "harness/run/runner.h"
#include "harness/train/train.h"

typedef struct {
    int total, done, failed, diverged, skipped, elsewhere, not_started, errors;
} hl_runner_tally;

// SIGINT/SIGTERM set hl_runner_stop to the signal's number (the handler does
// nothing else); the runners check it between runs and while they wait, end
// their children and record why. SIGXFSZ is ignored (writes fail instead).
extern volatile sig_atomic_t hl_runner_stop;
typedef struct { struct sigaction sigint, sigterm, sigxfsz; } hl_runner_sigsave;
void hl_runner_signals(hl_runner_sigsave *save);
void hl_runner_signals_restore(const hl_runner_sigsave *save);
// fork() for a run: the child has the default SIGINT/SIGTERM actions and dies
// with its parent (PDEATHSIG); stdout/stderr are flushed first.
pid_t hl_runner_fork(void);
// waitpid(pid, status, WNOHANG); with block, until a child ends or a stop
// signal came (then 0).
pid_t hl_runner_wait(pid_t pid, int *status, int block);
// Why a run process ended without a result ("killed by signal 6 (SIGABRT)",
// "interrupted by SIGTERM" when the runner was stopped, "... exited with status 3 ...").
void hl_runner_exit_reason(int status, char *buf, size_t n);
// Create --ckpt-dir (once the database has been checked); prints the error.
int hl_runner_make_ckpt_dir(const hl_runner_opts *o);   // and --samples-dir

int hl_runner_cores(void);
int hl_runner_threads(const hl_runner_opts *o);
const char *hl_runner_status_name(hl_run_status s);
const char *hl_runner_save_path(const hl_runner_opts *o, const hl_sweep_run *r, char *buf, size_t n);
void hl_runner_tally_print(const hl_runner_tally *t);
int hl_runner_exit_status(const hl_runner_tally *t);
int hl_runner_run_db(const hl_sweep *sw, const hl_runner_opts *o);

#endif
