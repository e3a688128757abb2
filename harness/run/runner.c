// runner.c: sweep hashing, sharding, thread budget, the processes and
// signals both runners share, and the runner without a database. The
// database runner is in runner_db.c.
#include "core/sha256.h"
#include "harness/run/eval_tasks.h"
#include "harness/run/measure.h"
#include "harness/run/runner.h"
#include "harness/run/runner_internal.h"
#include "harness/train/train.h"
#include "tasks/task.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int hl_runner_in_shard(int i, int shard_i, int shard_n) {
    if (shard_n <= 1) return 1;
    return i % shard_n == shard_i - 1;
}

void hl_runner_sweep_hash(const hl_sweep *sw, const char *const *sets, int n_sets, char out[65]) {
    size_t len = strlen(sw->source_json) + 1;
    for (int i = 0; i < n_sets; i++) len += strlen(sets[i]) + 1;
    char *buf = malloc(len + 1);
    if (!buf) { hl_sha256_hex(sw->source_json, strlen(sw->source_json), out); return; }
    size_t off = 0;
    // source, then each override, each followed by a NUL: unambiguous
    memcpy(buf, sw->source_json, strlen(sw->source_json) + 1);
    off = strlen(sw->source_json) + 1;
    for (int i = 0; i < n_sets; i++) {
        size_t k = strlen(sets[i]) + 1;
        memcpy(buf + off, sets[i], k);
        off += k;
    }
    hl_sha256_hex(buf, off, out);
    free(buf);
}

int hl_runner_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int hl_runner_threads(const hl_runner_opts *o) {
    if (o->threads > 0) return o->threads;
    if (o->jobs <= 1) return 0;
    int t = hl_runner_cores() / o->jobs;
    return t < 1 ? 1 : t;
}

const char *hl_runner_status_name(hl_run_status s) {
    return s == HL_RUN_DONE ? "done" : s == HL_RUN_DIVERGED ? "diverged" : "failed";
}

// Checkpoint file for run r: --save (single run) or DIR/<hash>.safetensors.
const char *hl_runner_save_path(const hl_runner_opts *o, const hl_sweep_run *r, char *buf, size_t n) {
    if (o->save_path) return o->save_path;
    if (!o->ckpt_dir) return NULL;
    snprintf(buf, n, "%s/%s.safetensors", o->ckpt_dir, r->spec.hash);
    return buf;
}

static const char *sig_name(int sig) {
    const char *abbr = sigabbrev_np(sig);
    return abbr ? abbr : "?";
}

void hl_runner_tally_print(const hl_runner_tally *t) {
    fprintf(stderr, "hylab run: %d runs: %d done, %d failed, %d diverged, %d skipped (already finished)",
            t->total, t->done, t->failed, t->diverged, t->skipped);
    if (t->elsewhere) fprintf(stderr, ", %d still running elsewhere", t->elsewhere);
    if (t->not_started) fprintf(stderr, ", %d not started", t->not_started);
    fputc('\n', stderr);
    if (hl_runner_stop) fprintf(stderr, "hylab run: interrupted by SIG%s\n", sig_name(hl_runner_stop));
}

int hl_runner_exit_status(const hl_runner_tally *t) {
    return (t->failed || t->diverged || t->errors || hl_runner_stop) ? 1 : 0;
}

int hl_runner_make_ckpt_dir(const hl_runner_opts *o) {
    const char *dirs[2] = {o->ckpt_dir, o->samples_dir};
    for (int i = 0; i < 2; i++)
        if (dirs[i] && mkdir(dirs[i], 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "hylab run: cannot create %s: %s\n", dirs[i], strerror(errno));
            return HL_EFAIL;
        }
    return HL_OK;
}

// ---------------------------------------------------------------- processes and signals
volatile sig_atomic_t hl_runner_stop;

static void on_stop(int sig) {
    if (!hl_runner_stop) hl_runner_stop = sig;
}

void hl_runner_signals(hl_runner_sigsave *save) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;                 // no SA_RESTART: waits return EINTR
    sigemptyset(&sa.sa_mask);
    hl_runner_stop = 0;
    sigaction(SIGINT, &sa, &save->sigint);
    sigaction(SIGTERM, &sa, &save->sigterm);
    // past RLIMIT_FSIZE a write fails (EFBIG), like on a full disk, instead
    // of killing the process before it can record why its run failed
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, &save->sigxfsz);
}

void hl_runner_signals_restore(const hl_runner_sigsave *save) {
    sigaction(SIGINT, &save->sigint, NULL);
    sigaction(SIGTERM, &save->sigterm, NULL);
    sigaction(SIGXFSZ, &save->sigxfsz, NULL);
}

pid_t hl_runner_fork(void) {
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, &old);     // a signal now waits until the child can die of it
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(4);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return pid;
}

pid_t hl_runner_wait(pid_t pid, int *status, int block) {
    for (;;) {
        pid_t p = waitpid(pid, status, WNOHANG);
        if (p != 0 || !block) return p;
        usleep(50000);                       // polled: a signal is never missed
        if (hl_runner_stop) return 0;
    }
}

void hl_runner_exit_reason(int status, char *buf, size_t n) {
    if (WIFSIGNALED(status) && hl_runner_stop)
        snprintf(buf, n, "interrupted by SIG%s", sig_name(hl_runner_stop));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by signal %d (SIG%s)", WTERMSIG(status), sig_name(WTERMSIG(status)));
    else
        snprintf(buf, n, "run process exited with status %d before recording a result",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

// ---------------------------------------------------------------- without a database
// Each run trains in a child process, which prints its results as JSON lines
// and exits with its hl_run_status; a child that dies is reported by the
// parent (a summary line with status failed) and the sweep goes on.
static void inproc_child(const hl_sweep_run *r, const hl_runner_opts *o, int k, int n) {
    char path[4096];
    char label[2 * HL_NAME_LEN];
    snprintf(label, sizeof label, "%s %s", r->variant, r->grid_json);
    hl_eval_tasks_ctx ectx = {o->data_dir, 1, label, o->samples_dir};
    hl_run_opts opts = {hl_runner_threads(o), o->backend, hl_runner_save_path(o, r, path, sizeof path),
                        1, label, o->data_dir, hl_run_eval_tasks, &ectx};
    hl_sink sink = hl_stdout_sink();
    hl_run_summary sum;
    memset(&sum, 0, sizeof sum);
    hl_run_status st = hl_train_run(&r->spec, &opts, &sink, &sum);
    hl_measure_after_train(&r->spec, o->backend, &sink, &sum);
    st = sum.status;
    hl_print_summary_json(stdout, &r->spec, &sum);
    fflush(stdout);
    fprintf(stderr, "hylab run: [%d/%d] %-8s %s %s %.12s  %.1f s%s%s\n", k, n,
            hl_runner_status_name(st), r->variant, r->grid_json, r->spec.hash, sum.wall_s,
            st == HL_RUN_DONE ? "" : "  ", st == HL_RUN_DONE ? "" : sum.error);
    _exit((int)st);
}

// The child's status; for one that died, the failure is printed here.
static hl_run_status inproc_wait(pid_t pid, const hl_sweep_run *r, int k, int n) {
    int status, forwarded = 0;
    pid_t p;
    while ((p = hl_runner_wait(pid, &status, 1)) == 0)
        if (hl_runner_stop && !forwarded) { kill(pid, SIGTERM); forwarded = 1; }
    if (p == pid && WIFEXITED(status) && WEXITSTATUS(status) <= HL_RUN_DIVERGED)
        return (hl_run_status)WEXITSTATUS(status);
    hl_run_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.status = HL_RUN_FAILED;
    sum.final_train_loss = NAN;
    if (p == pid) hl_runner_exit_reason(status, sum.error, sizeof sum.error);
    else snprintf(sum.error, sizeof sum.error, "waiting for the run process: %s", strerror(errno));
    hl_print_summary_json(stdout, &r->spec, &sum);
    fflush(stdout);
    fprintf(stderr, "hylab run: [%d/%d] failed   %s %s %.12s  %s\n", k, n, r->variant, r->grid_json,
            r->spec.hash, sum.error);
    return HL_RUN_FAILED;
}

static void run_one_inproc(const hl_sweep_run *r, const hl_runner_opts *o, int k, int n,
                           hl_runner_tally *t) {
    fprintf(stderr, "hylab run: [%d/%d] %s %s started\n", k, n, r->variant, r->grid_json);
    pid_t pid = hl_runner_fork();
    if (pid == 0) inproc_child(r, o, k, n);
    hl_run_status st = pid > 0 ? inproc_wait(pid, r, k, n) : HL_RUN_FAILED;
    if (pid < 0) fprintf(stderr, "hylab run: [%d/%d] failed   %s %s  fork failed: %s\n", k, n, r->variant,
                         r->grid_json, strerror(errno));
    if (st == HL_RUN_DONE) t->done++;
    else if (st == HL_RUN_DIVERGED) t->diverged++;
    else t->failed++;
}

static int run_inproc(const hl_sweep *sw, const hl_runner_opts *o) {
    hl_runner_tally t = {0};
    for (int i = 0; i < sw->n_runs; i++) t.total += hl_runner_in_shard(i, o->shard_i, o->shard_n);
    if (hl_runner_make_ckpt_dir(o)) return 1;
    int k = 0;
    for (int i = 0; i < sw->n_runs; i++)
        if (hl_runner_in_shard(i, o->shard_i, o->shard_n)) {
            if (hl_runner_stop) { t.not_started++; continue; }
            run_one_inproc(&sw->runs[i], o, ++k, t.total, &t);
        }
    hl_runner_tally_print(&t);
    return hl_runner_exit_status(&t);
}

// ---------------------------------------------------------------- tasks before the runs
static int check_one_task(const hl_task_config *tc, const hl_spec *s, const char *what, const hl_sweep_run *r,
                          const hl_runner_opts *o, char *err, size_t errlen) {
    char msg[HL_ERR_LEN];
    hl_task *t;
    int vocab = tc->vocab_size > 0 ? tc->vocab_size : s->model.vocab_size;
    int rc = hl_task_open(tc, vocab, o->data_dir, s->train.seed, &t, msg, sizeof msg);
    if (rc == HL_OK) { hl_task_close(t); return HL_OK; }
    snprintf(err, errlen, "variant '%s' %s: %s: %s", r->variant, r->grid_json, what, msg);
    return rc == HL_EFAIL ? HL_EFAIL : HL_EBADINPUT;
}

// Whether run i's evaluation tasks (its tokenizer, vocabulary and
// evaluation entries) equal those of an earlier run of the shard: checked once.
static int same_eval_tasks(const hl_sweep *sw, const hl_runner_opts *o, int i) {
    const hl_spec *s = &sw->runs[i].spec;
    for (int j = 0; j < i; j++) {
        const hl_spec *p = &sw->runs[j].spec;
        if (!hl_runner_in_shard(j, o->shard_i, o->shard_n) || !p->n_eval_tasks || p->n_eval_tasks != s->n_eval_tasks ||
            strcmp(p->train.task.tokenizer, s->train.task.tokenizer) || p->model.vocab_size != s->model.vocab_size ||
            p->n_eval_entries != s->n_eval_entries)
            continue;
        int same = 1;
        for (int e = 0; same && e < s->n_eval_entries; e++)
            same = p->eval_entry[e].is_task == s->eval_entry[e].is_task &&
                   (!s->eval_entry[e].is_task || !strcmp(p->eval_tasks[p->eval_entry[e].index].json,
                                                         s->eval_tasks[s->eval_entry[e].index].json));
        if (same) return 1;
    }
    return 0;
}

int hl_runner_check_tasks(const hl_sweep *sw, const hl_runner_opts *o, char *err, size_t errlen) {
    for (int i = 0; i < sw->n_runs; i++) {
        if (!hl_runner_in_shard(i, o->shard_i, o->shard_n)) continue;
        const hl_sweep_run *r = &sw->runs[i];
        const hl_spec *s = &r->spec;
        int rc = check_one_task(&s->train.task, s, "train.task", r, o, err, errlen);
        for (int e = 0, k = 0; rc == HL_OK && e < s->n_eval_entries; e++) {
            if (s->eval_entry[e].is_task) continue;
            char what[32];
            snprintf(what, sizeof what, "eval[%d]", e);
            rc = check_one_task(&s->eval[k++], s, what, r, o, err, errlen);
        }
        if (rc == HL_OK && s->n_eval_tasks && !same_eval_tasks(sw, o, i)) {
            char msg[HL_ERR_LEN];
            rc = hl_check_eval_tasks(s, o->data_dir, msg, sizeof msg);
            if (rc) snprintf(err, errlen, "variant '%s' %s: %s", r->variant, r->grid_json, msg);
        }
        if (rc) return rc;
    }
    return HL_OK;
}

int hl_runner_run(const hl_sweep *sw, const hl_runner_opts *o) {
    hl_runner_sigsave save;
    hl_runner_signals(&save);
    int rc = o->db_path ? hl_runner_run_db(sw, o) : run_inproc(sw, o);
    hl_runner_signals_restore(&save);
    return rc;
}
