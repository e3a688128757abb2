// db_sink.c: an hl_sink that writes a run's results into the database, and
// the one-transaction commit of a finished run. See db.h.
#include "db/db.h"
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *task, *metric, *params_json, *version;   // version NULL: unknown
    double value, sem;
    long n;
} metric_row;

typedef struct {
    char *kind, *unit;
    int batch, repeats;
    long context;
    double value, spread;
    // the protocol (NULL / has_protocol 0: the columns stay NULL)
    int has_protocol, warmup, threads, dtype_bytes;
    double min, max;
    char *protocol, *backend, *blas_core, *cpu;
} measure_row;

struct hl_db_sink {
    hl_db *db;
    long long run_id;
    int owner_pid;
    int attempt;                  // the run's latest attempt (ours), tags the curve points
    sqlite3_stmt *curve_st;
    metric_row *metrics; int n_metrics, cap_metrics;
    measure_row *meas; int n_meas, cap_meas;
    char error[HL_ERR_LEN];
};

static void sink_error(hl_db_sink *s, const char *what) {
    if (!s->error[0]) snprintf(s->error, sizeof s->error, "%s", what);
}

static char *dup_or_null(const char *t) { return t ? strdup(t) : NULL; }

static void *grow(void *p, int *cap, int n, size_t elem) {
    if (n < *cap) return p;
    int nc = *cap ? 2 * *cap : 16;
    void *q = realloc(p, (size_t)nc * elem);
    if (q) *cap = nc;
    return q;
}

static void on_curve(void *ctx, int step, const char *split, const char *name, double value) {
    hl_db_sink *s = ctx;
    sqlite3_stmt *st = s->curve_st;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int(st, 2, s->attempt);
    sqlite3_bind_int(st, 3, step);
    sqlite3_bind_text(st, 4, split ? split : "train", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, name ? name : "?", -1, SQLITE_TRANSIENT);
    hl_db_bind_real_or_null(st, 6, value);
    if (sqlite3_step(st) != SQLITE_DONE) {
        char m[HL_ERR_LEN];
        hl_db_fail(s->db->h, "writing a curve point", m, sizeof m);
        sink_error(s, m);
    }
}

static void on_metric(void *ctx, const hl_metric *m) {
    hl_db_sink *s = ctx;
    metric_row *a = grow(s->metrics, &s->cap_metrics, s->n_metrics, sizeof *a);
    if (!a) { sink_error(s, "out of memory buffering a metric"); return; }
    s->metrics = a;
    metric_row *r = &a[s->n_metrics++];
    r->task = dup_or_null(m->task ? m->task : "?");
    r->metric = dup_or_null(m->metric ? m->metric : "?");
    r->params_json = dup_or_null(m->params_json ? m->params_json : "{}");
    r->version = m->version ? dup_or_null(m->version) : NULL;
    r->value = m->value; r->sem = m->sem; r->n = m->n;
}

static void on_measurement(void *ctx, const hl_measurement *m) {
    hl_db_sink *s = ctx;
    measure_row *a = grow(s->meas, &s->cap_meas, s->n_meas, sizeof *a);
    if (!a) { sink_error(s, "out of memory buffering a measurement"); return; }
    s->meas = a;
    measure_row *r = &a[s->n_meas++];
    r->kind = dup_or_null(m->kind ? m->kind : "?");
    r->unit = dup_or_null(m->unit);
    r->batch = m->batch; r->context = m->context; r->repeats = m->repeats;
    r->value = m->value; r->spread = m->spread;
    r->dtype_bytes = m->dtype_bytes;
    const hl_measure_protocol *p = m->protocol;
    r->has_protocol = p != NULL;
    r->protocol = r->backend = r->blas_core = r->cpu = NULL;
    if (p) {
        r->min = m->min; r->max = m->max; r->warmup = p->warmup; r->threads = p->threads;
        r->protocol = dup_or_null(p->name); r->backend = dup_or_null(p->backend);
        r->blas_core = dup_or_null(p->blas_core); r->cpu = dup_or_null(p->cpu);
    }
}

static int latest_attempt(hl_db *db, long long run_id) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT attempts FROM runs WHERE id=?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    int a = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return a;
}

int hl_db_sink_new(hl_db *db, long long run_id, hl_db_sink **out, char *err, size_t errlen) {
    hl_db_sink *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return HL_EFAIL; }
    s->db = db; s->run_id = run_id; s->owner_pid = (int)getpid();
    s->attempt = latest_attempt(db, run_id);
    if (s->attempt < 0 ||
        hl_db_prep(db, "INSERT INTO curve_points(run_id, attempt, step, split, name, value)"
                       " VALUES (?,?,?,?,?,?)", &s->curve_st, err, errlen)) {
        if (s->attempt < 0) hl_db_fail(db->h, "reading the run's attempt", err, errlen);
        hl_db_sink_free(s);
        return HL_EFAIL;
    }
    *out = s;
    return HL_OK;
}

hl_sink hl_db_sink_iface(hl_db_sink *s) {
    hl_sink k = {s, on_curve, on_metric, on_measurement};
    return k;
}

const char *hl_db_sink_error(const hl_db_sink *s) { return s->error[0] ? s->error : NULL; }

void hl_db_sink_free(hl_db_sink *s) {
    if (!s) return;
    sqlite3_finalize(s->curve_st);
    for (int i = 0; i < s->n_metrics; i++) {
        free(s->metrics[i].task); free(s->metrics[i].metric); free(s->metrics[i].params_json); free(s->metrics[i].version);
    }
    for (int i = 0; i < s->n_meas; i++) {
        measure_row *r = &s->meas[i];
        free(r->kind); free(r->unit); free(r->protocol); free(r->backend); free(r->blas_core); free(r->cpu);
    }
    free(s->metrics); free(s->meas); free(s);
}

// ---------------------------------------------------------------- finish
static const char *status_name(hl_run_status st) {
    return st == HL_RUN_DONE ? "done" : st == HL_RUN_DIVERGED ? "diverged" : "failed";
}

// The run row takes the attempt's result and its provenance.
static int update_run(hl_db_sink *s, const hl_run_summary *sum, double wall_s, char *err, size_t errlen) {
    sqlite3_stmt *st;
    char now[32];
    hl_db_now_iso(now);
    if (hl_db_prep(s->db, "UPDATE runs SET status=?, error=?, fail_step=?, steps=?, final_train_loss=?,"
                          " tokens_per_s=?, params=?, backend=?, blas_core=?, threads=?, ended_at=?,"
                          " wall_s=?, active_params=?15, result_attempt=?14, (host, pid, git_commit, started_at) ="
                          " (SELECT host, pid, git_commit, started_at FROM attempts"
                          "  WHERE run_id=?13 AND attempt=?14) WHERE id=?13", &st, err, errlen))
        return HL_EFAIL;
    int done = sum->status == HL_RUN_DONE;
    sqlite3_bind_text(st, 1, status_name(sum->status), -1, SQLITE_STATIC);
    hl_db_bind_text_or_null(st, 2, done ? NULL : (sum->error[0] ? sum->error : "failed"));
    if (done) sqlite3_bind_null(st, 3);
    else sqlite3_bind_int(st, 3, sum->fail_step);
    sqlite3_bind_int(st, 4, sum->steps);
    hl_db_bind_real_or_null(st, 5, sum->final_train_loss);
    hl_db_bind_real_or_null(st, 6, sum->tokens_per_s);
    sqlite3_bind_int64(st, 7, sum->params);
    hl_db_bind_text_or_null(st, 8, sum->backend[0] ? sum->backend : NULL);
    hl_db_bind_text_or_null(st, 9, sum->blas_core[0] ? sum->blas_core : NULL);
    sqlite3_bind_int(st, 10, sum->threads);
    sqlite3_bind_text(st, 11, now, -1, SQLITE_TRANSIENT);
    hl_db_bind_real_or_null(st, 12, wall_s);
    sqlite3_bind_int64(st, 13, s->run_id);
    sqlite3_bind_int(st, 14, s->attempt);
    if (sum->active_params > 0) sqlite3_bind_int64(st, 15, sum->active_params);
    else sqlite3_bind_null(st, 15);
    return hl_db_step_done(s->db, st, err, errlen);
}

static int insert_metrics(hl_db_sink *s, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(s->db, "INSERT INTO metrics(run_id, task, metric, value, n, sem, params_json, version)"
                          " VALUES (?,?,?,?,?,?,?,?)", &st, err, errlen)) return HL_EFAIL;
    for (int i = 0; i < s->n_metrics; i++) {
        const metric_row *m = &s->metrics[i];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->run_id);
        sqlite3_bind_text(st, 2, m->task, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, m->metric, -1, SQLITE_STATIC);
        hl_db_bind_real_or_null(st, 4, m->value);
        sqlite3_bind_int64(st, 5, m->n);
        hl_db_bind_real_or_null(st, 6, m->sem);
        sqlite3_bind_text(st, 7, m->params_json, -1, SQLITE_STATIC);
        if (m->version) sqlite3_bind_text(st, 8, m->version, -1, SQLITE_STATIC);
        else sqlite3_bind_null(st, 8);
        if (sqlite3_step(st) != SQLITE_DONE) {
            hl_db_fail(s->db->h, "writing metrics", err, errlen);
            sqlite3_finalize(st);
            return HL_EFAIL;
        }
    }
    sqlite3_finalize(st);
    return HL_OK;
}

static int insert_measurements(hl_db_sink *s, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(s->db, "INSERT INTO measurements(run_id, kind, batch, context, value, unit,"
                          " repeats, spread, min, max, warmup, threads, backend, blas_core, cpu,"
                          " protocol, dtype_bytes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   &st, err, errlen))
        return HL_EFAIL;
    for (int i = 0; i < s->n_meas; i++) {
        const measure_row *m = &s->meas[i];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->run_id);
        sqlite3_bind_text(st, 2, m->kind, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, m->batch);
        sqlite3_bind_int64(st, 4, m->context);
        hl_db_bind_real_or_null(st, 5, m->value);
        hl_db_bind_text_or_null(st, 6, m->unit);
        sqlite3_bind_int(st, 7, m->repeats);
        hl_db_bind_real_or_null(st, 8, m->spread);
        if (m->has_protocol) {
            hl_db_bind_real_or_null(st, 9, m->min);
            hl_db_bind_real_or_null(st, 10, m->max);
            sqlite3_bind_int(st, 11, m->warmup);
            sqlite3_bind_int(st, 12, m->threads);
        } else {
            for (int c = 9; c <= 12; c++) sqlite3_bind_null(st, c);
        }
        hl_db_bind_text_or_null(st, 13, m->backend);
        hl_db_bind_text_or_null(st, 14, m->blas_core);
        hl_db_bind_text_or_null(st, 15, m->cpu);
        hl_db_bind_text_or_null(st, 16, m->protocol);
        if (m->dtype_bytes > 0) sqlite3_bind_int(st, 17, m->dtype_bytes);
        else sqlite3_bind_null(st, 17);
        if (sqlite3_step(st) != SQLITE_DONE) {
            hl_db_fail(s->db->h, "writing measurements", err, errlen);
            sqlite3_finalize(st);
            return HL_EFAIL;
        }
    }
    sqlite3_finalize(st);
    return HL_OK;
}

typedef struct {
    hl_db_sink *s;
    const hl_run_summary *sum;
    double wall_s;
} finish_ctx;

static int finish_txn(hl_db *db, void *ctx, char *err, size_t errlen) {
    finish_ctx *f = ctx;
    hl_db_sink *s = f->s;
    int done = f->sum->status == HL_RUN_DONE, changed = 0;
    const char *error = done ? NULL : (f->sum->error[0] ? f->sum->error : "failed");
    if (hl_db_end_attempt(db, s->run_id, s->attempt, s->owner_pid, status_name(f->sum->status), error,
                          done ? -1 : f->sum->fail_step, &changed, err, errlen)) return HL_EFAIL;
    if (!changed) {
        snprintf(err, errlen, "run %lld attempt %d is no longer owned by pid %d; result not recorded",
                 s->run_id, s->attempt, s->owner_pid);
        return HL_EFAIL;
    }
    int rc = update_run(s, f->sum, f->wall_s, err, errlen);
    if (!rc) rc = hl_db_delete_results(db, s->run_id, err, errlen);
    if (!rc) rc = hl_db_drop_points(db, s->run_id, s->attempt, err, errlen);
    if (!rc) rc = insert_metrics(s, err, errlen);
    if (!rc) rc = insert_measurements(s, err, errlen);
    return rc;
}

int hl_db_finish_run(hl_db_sink *s, const hl_run_summary *sum, double wall_s,
                     char *err, size_t errlen) {
    finish_ctx f = {s, sum, wall_s};
    return hl_db_txn(s->db, finish_txn, &f, err, errlen);
}
