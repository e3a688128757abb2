// runner_db.c: `hylab run --db`: record the sweep and its planned runs, then
// train each run in its own child process, which records its own result.
//
// Crash isolation: a child that dies (signal, exit without a result) leaves
// its attempt 'running'; the parent marks it failed with the reason. A runner
// killed outright leaves attempts 'running' under dead pids: the next runner
// on this host takes them over. Children die with their runner (PDEATHSIG),
// so a run is never trained twice at once. SIGINT/SIGTERM stop the runner: it
// ends its children and marks their attempts failed ("interrupted by
// SIGTERM") before it returns. Runs that another live runner on this host is
// training are waited for (and taken over if it dies) for at most --wait
// seconds. SQLite connections are never carried across fork(): the parent
// closes its connection around each fork.
#include "core/clock.h"
#include "harness/run/measure.h"
#include "harness/run/runner.h"
#include "harness/run/eval_tasks.h"
#include "harness/run/runner_internal.h"
#include "harness/train/train.h"
#include "db/db.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { J_PENDING, J_ACTIVE, J_RAN, J_SKIPPED, J_ELSEWHERE };

typedef struct {
    int idx;                 // index in the expanded sweep
    long long run_id;
    int state;
    pid_t pid;
} rjob;

typedef struct {
    const hl_sweep *sw;
    const hl_runner_opts *o;
    hl_db *db;
    hl_db_prov prov;
    rjob *jobs; int n;
    int n_active, n_finished;
    int threads;
    pid_t parent;
    int errors;
    double wait_t0;          // since when only runs busy under another runner are left (0: not now)
} rctx;

// ---------------------------------------------------------------- planning
static int plan_all(rctx *c, const char *sweep_hash, char *err, size_t errlen) {
    long long sweep_id;
    if (hl_db_exec(c->db, "BEGIN IMMEDIATE", err, errlen)) return HL_EFAIL;
    int rc = hl_db_record_sweep(c->db, c->sw->name, c->sw->source_json, sweep_hash, &sweep_id,
                                err, errlen);
    for (int k = 0; !rc && k < c->n; k++) {
        const hl_sweep_run *r = &c->sw->runs[c->jobs[k].idx];
        rc = hl_db_plan_run(c->db, sweep_id, c->sw->name, r->variant, r->grid_json, r->spec.hash,
                            r->spec.canonical_json, &c->jobs[k].run_id, err, errlen);
    }
    if (rc) { hl_db_exec(c->db, "ROLLBACK", NULL, 0); return rc; }
    return hl_db_exec(c->db, "COMMIT", err, errlen);
}

// ---------------------------------------------------------------- child
static void child_main(rctx *c, rjob *j) {
    const hl_sweep_run *r = &c->sw->runs[j->idx];
    char err[HL_ERR_LEN], path[4096];
    hl_db *db;
    hl_db_sink *sink;
    if (hl_db_open(c->o->db_path, 0, &db, err, sizeof err) ||
        hl_db_set_run_pid(db, j->run_id, (int)c->parent, (int)getpid(), err, sizeof err) ||
        hl_db_sink_new(db, j->run_id, &sink, err, sizeof err)) {
        fprintf(stderr, "hylab run: %s: %s\n", r->variant, err);
        _exit(3);
    }
    char label[2 * HL_NAME_LEN];
    snprintf(label, sizeof label, "%s %s", r->variant, r->grid_json);
    hl_eval_tasks_ctx ectx = {c->o->data_dir, c->o->jobs == 1, label, c->o->samples_dir};
    hl_run_opts opts = {c->threads, c->o->backend, hl_runner_save_path(c->o, r, path, sizeof path),
                        c->o->jobs == 1, label, c->o->data_dir, hl_run_eval_tasks, &ectx};
    hl_sink iface = hl_db_sink_iface(sink);
    hl_run_summary sum;
    memset(&sum, 0, sizeof sum);
    double t0 = hl_now_s();
    hl_train_run(&r->spec, &opts, &iface, &sum);
    hl_measure_after_train(&r->spec, c->o->backend, &iface, &sum);
    double wall = hl_now_s() - t0;
    if (hl_db_sink_error(sink) && sum.status == HL_RUN_DONE) {
        sum.status = HL_RUN_FAILED;
        sum.fail_step = sum.steps;
        snprintf(sum.error, sizeof sum.error, "recording results: %s", hl_db_sink_error(sink));
    }
    if (hl_db_finish_run(sink, &sum, wall, err, sizeof err)) {
        fprintf(stderr, "hylab run: %s: %s\n", r->variant, err);
        _exit(3);
    }
    _exit(0);
}

// ---------------------------------------------------------------- parent
static int reopen(rctx *c) {
    char err[HL_ERR_LEN];
    if (hl_db_open(c->o->db_path, 0, &c->db, err, sizeof err) == HL_OK) return HL_OK;
    fprintf(stderr, "hylab run: %s\n", err);
    c->errors++;
    return HL_EFAIL;
}

static int launch(rctx *c, rjob *j) {
    hl_db_close(c->db);      // never carry a connection across fork()
    c->db = NULL;
    pid_t pid = hl_runner_fork();
    if (pid == 0) child_main(c, j);
    if (reopen(c)) return HL_EFAIL;
    char err[HL_ERR_LEN];
    if (pid < 0) {
        snprintf(err, sizeof err, "fork failed: %s", strerror(errno));
        hl_db_mark_failed(c->db, j->run_id, (int)c->parent, err, -1, err, sizeof err);
        j->state = J_RAN;
        return HL_OK;
    }
    j->pid = pid;
    j->state = J_ACTIVE;
    c->n_active++;
    c->wait_t0 = 0;          // busy again: a later wait starts its own clock
    return HL_OK;
}

// Claim and start pending runs while there are free slots.
static int launch_ready(rctx *c) {
    hl_claim_opts co = {c->o->force, (int)c->parent, &c->prov, c->threads,
                        c->o->backend ? c->o->backend : "cpu"};
    for (int k = 0; k < c->n && c->n_active < c->o->jobs && !hl_runner_stop; k++) {
        rjob *j = &c->jobs[k];
        if (j->state != J_PENDING) continue;
        hl_claim_result res;
        char err[HL_ERR_LEN];
        if (hl_db_claim_run(c->db, j->run_id, &co, &res, err, sizeof err)) {
            fprintf(stderr, "hylab run: claiming run %lld: %s\n", j->run_id, err);
            c->errors++;
            return HL_EFAIL;
        }
        if (res == HL_CLAIM_DONE) j->state = J_SKIPPED;
        if (res == HL_CLAIM_OK && launch(c, j)) return HL_EFAIL;
    }
    return HL_OK;
}

// The outcome of run j: what this runner's attempt gave (noting an earlier
// result that a failed --force attempt left in place), else the run's status.
static void print_status(rctx *c, rjob *j, const char *how) {
    if (!c->db && reopen(c)) return;
    hl_db_run_state st;
    char err[HL_ERR_LEN], kept[64] = "";
    const hl_sweep_run *r = &c->sw->runs[j->idx];
    if (hl_db_run_state_get(c->db, j->run_id, &st, err, sizeof err)) {
        fprintf(stderr, "hylab run: %s\n", err);
        return;
    }
    const char *status = st.status, *error = st.error;
    if (j->state == J_RAN && st.attempt_status[0]) { status = st.attempt_status; error = st.attempt_error; }
    if (j->state == J_RAN && !strcmp(status, "running")) {
        status = "failed";
        error = "could not be recorded (see above): a later runner will take the run over";
    }
    if (j->state == J_RAN && st.result_attempt && st.result_attempt != st.attempts)
        snprintf(kept, sizeof kept, "  (the result of attempt %d stays)", st.result_attempt);
    fprintf(stderr, "hylab run: [%d/%d] %-8s %s %s %.12s%s%s%s%s\n", c->n_finished, c->n, status,
            r->variant, r->grid_json, r->spec.hash, how, error[0] ? "  " : "", error, kept);
}

// The child is gone: if its attempt is still 'running', record why it failed.
static void record_exit(rctx *c, rjob *j, int status) {
    char err[HL_ERR_LEN], reason[HL_ERR_LEN], why[256];
    hl_db_run_state st;
    if (!c->db && reopen(c)) return;
    if (hl_db_run_state_get(c->db, j->run_id, &st, err, sizeof err)) {
        fprintf(stderr, "hylab run: %s\n", err);
        c->errors++;
        return;
    }
    if (strcmp(st.attempt_status, "running") != 0) return;
    int step = -1;
    hl_db_last_step(c->db, j->run_id, &step, err, sizeof err);
    hl_runner_exit_reason(status, why, sizeof why);
    if (step >= 0) snprintf(reason, sizeof reason, "%s at step ~%d", why, step);
    else snprintf(reason, sizeof reason, "%s before its first step", why);
    int pid = st.pid == (int)c->parent ? (int)c->parent : (int)j->pid;
    if (hl_db_mark_failed(c->db, j->run_id, pid, reason, step, err, sizeof err)) {
        fprintf(stderr, "hylab run: marking run %lld failed (%s): %s\n", j->run_id, reason, err);
        c->errors++;
    }
}

static void reap_one(rctx *c, int block) {
    int status;
    pid_t p = hl_runner_wait(-1, &status, block);
    if (p <= 0) return;
    for (int k = 0; k < c->n; k++) {
        rjob *j = &c->jobs[k];
        if (j->state != J_ACTIVE || j->pid != p) continue;
        j->state = J_RAN;
        c->n_active--;
        c->n_finished++;
        record_exit(c, j, status);
        print_status(c, j, "");
        return;
    }
}

static int n_pending(const rctx *c) {
    int n = 0;
    for (int k = 0; k < c->n; k++) n += c->jobs[k].state == J_PENDING;
    return n;
}

// Pending runs left are busy under another live runner: runs on this host
// are waited for (and taken over if their runner dies); others are left.
static void drop_foreign(rctx *c) {
    for (int k = 0; k < c->n; k++) {
        rjob *j = &c->jobs[k];
        hl_db_run_state st;
        char err[HL_ERR_LEN];
        if (j->state != J_PENDING) continue;
        if (hl_db_run_state_get(c->db, j->run_id, &st, err, sizeof err) == HL_OK &&
            !strcmp(st.attempt_status, "running") && strcmp(st.host, c->prov.host) != 0)
            j->state = J_ELSEWHERE;
    }
}

// Only runs busy under another runner on this host are left: wait for them,
// but no longer than --wait seconds. Returns 1 when it gives up.
static int give_up_waiting(rctx *c) {
    int pending = n_pending(c);
    if (!c->wait_t0) {
        c->wait_t0 = hl_now_s();
        fprintf(stderr, "hylab run: waiting for %d run%s that another runner on this host is training"
                " (at most %d s, --wait)\n", pending, pending == 1 ? "" : "s", c->o->wait_s);
    }
    if (hl_now_s() - c->wait_t0 < c->o->wait_s) return 0;
    for (int k = 0; k < c->n; k++) {
        rjob *j = &c->jobs[k];
        hl_db_run_state st;
        char err[HL_ERR_LEN];
        if (j->state != J_PENDING) continue;
        j->state = J_ELSEWHERE;
        if (hl_db_run_state_get(c->db, j->run_id, &st, err, sizeof err)) continue;
        const hl_sweep_run *r = &c->sw->runs[j->idx];
        fprintf(stderr, "hylab run: %s %s %.12s: still running under pid %d (attempt %d); not waiting"
                " longer than %d s (--wait): run again later to pick it up if it fails\n",
                r->variant, r->grid_json, r->spec.hash, st.pid, st.attempts, c->o->wait_s);
    }
    return 1;
}

static void stop_children(rctx *c) {
    for (int k = 0; k < c->n; k++)
        if (c->jobs[k].state == J_ACTIVE) kill(c->jobs[k].pid, SIGTERM);
}

static void main_loop(rctx *c) {
    for (;;) {
        if (hl_runner_stop || launch_ready(c)) break;
        int pending = n_pending(c);
        if (!pending && !c->n_active) return;
        if (c->n_active == c->o->jobs || (c->n_active && !pending)) { reap_one(c, 1); continue; }
        drop_foreign(c);
        if (c->n_active) reap_one(c, 0);
        else if (n_pending(c) && give_up_waiting(c)) return;
        usleep(200000);
    }
    // stopped by a signal or a database error: end and collect the children
    if (hl_runner_stop) stop_children(c);
    while (c->n_active) reap_one(c, 1);
}

// ---------------------------------------------------------------- summary
static void count_status(hl_runner_tally *t, const char *status) {
    if (!strcmp(status, "done")) t->done++;
    else if (!strcmp(status, "diverged")) t->diverged++;
    else if (!strcmp(status, "failed")) t->failed++;
    else if (!strcmp(status, "queued")) t->not_started++;
    else t->elsewhere++;
}

// Runs this runner trained count by their attempt's outcome (one it could
// not record counts as failed, never as running elsewhere); the others by
// the run's state now.
static void tally(rctx *c, hl_runner_tally *t) {
    memset(t, 0, sizeof *t);
    t->total = c->n;
    t->errors = c->errors;
    for (int k = 0; k < c->n; k++) {
        rjob *j = &c->jobs[k];
        hl_db_run_state st;
        char err[HL_ERR_LEN];
        if (hl_db_run_state_get(c->db, j->run_id, &st, err, sizeof err)) { t->errors++; continue; }
        int attempt_running = !strcmp(st.attempt_status, "running");
        if (j->state == J_SKIPPED) {
            t->skipped++;
            t->diverged += !strcmp(st.status, "diverged");
            print_status(c, j, "  (skipped: already finished)");
        } else if (j->state == J_RAN) {
            count_status(t, attempt_running || !st.attempt_status[0] ? "failed" : st.attempt_status);
        } else {
            count_status(t, attempt_running ? "running" : st.status);
        }
    }
}

static int init_jobs(rctx *c) {
    c->jobs = calloc((size_t)(c->sw->n_runs ? c->sw->n_runs : 1), sizeof *c->jobs);
    if (!c->jobs) return HL_EFAIL;
    for (int i = 0; i < c->sw->n_runs; i++)
        if (hl_runner_in_shard(i, c->o->shard_i, c->o->shard_n))
            c->jobs[c->n++] = (rjob){i, 0, J_PENDING, 0};
    return HL_OK;
}

int hl_runner_run_db(const hl_sweep *sw, const hl_runner_opts *o) {
    rctx c;
    memset(&c, 0, sizeof c);
    c.sw = sw; c.o = o; c.parent = getpid(); c.threads = hl_runner_threads(o);
    char err[HL_ERR_LEN], sweep_hash[65];
    hl_runner_sweep_hash(sw, o->sets, o->n_sets, sweep_hash);
    hl_db_provenance(&c.prov);
    if (init_jobs(&c)) { fprintf(stderr, "hylab run: out of memory\n"); return 1; }
    int rc = hl_db_open(o->db_path, HL_DB_CREATE, &c.db, err, sizeof err);
    if (!rc) rc = plan_all(&c, sweep_hash, err, sizeof err);
    if (rc) {
        fprintf(stderr, "hylab run: %s\n", err);
        hl_db_close(c.db);
        free(c.jobs);
        return rc == HL_EBADINPUT ? 2 : 1;
    }
    if (hl_runner_make_ckpt_dir(o)) { hl_db_close(c.db); free(c.jobs); return 1; }
    fprintf(stderr, "hylab run: sweep %s (%.12s): %d runs in %s, %d at a time, %d threads each\n",
            sw->name, sweep_hash, c.n, o->db_path, o->jobs, c.threads ? c.threads : hl_runner_cores());
    main_loop(&c);
    hl_runner_tally t;
    if (!c.db && reopen(&c)) { free(c.jobs); return 1; }
    tally(&c, &t);
    hl_runner_tally_print(&t);
    hl_db_close(c.db);
    free(c.jobs);
    return hl_runner_exit_status(&t);
}
