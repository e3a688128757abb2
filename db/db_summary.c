// db_summary.c: the TEMP VIEW `summary` that `hylab query` and report SQL
// can use, so that common questions need no joins. One row per run with
//   run_id, sweep, variant, grid (grid_json), status, spec_hash, error, params,
//   active_params (NULL on a database older than migration 006), steps,
//   final_train_loss, tokens_per_s, wall_s, backend, blas_core, threads,
//   one column per leaf of the spec named by its dotted path ("model.layers",
//   "train.seed"; arrays such as "eval" hold their JSON text), and
//   one column per metric named "task.metric" ("mqar.accuracy") holding the
//   run's last recorded value of that metric (a run that records one metric
//   with several params_json: use the metrics table to tell them apart).
// The view's columns are fixed when it is created (from the runs and metrics
// present then); it lives in the connection's temp schema, so it also works
// on a database opened read-only (reports).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/db.h"

typedef struct { char *s; size_t len, cap; int oom; } sbuf;

static void sb_add(sbuf *b, const char *s) {
    size_t n = strlen(s);
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + n;
        char *p = realloc(b->s, cap);
        if (!p) { b->oom = 1; return; }
        b->s = p; b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

// Appends s quoted with q (' for strings, " for identifiers), doubling q.
static void sb_quoted(sbuf *b, const char *s, char q) {
    char one[2] = {q, 0}, two[3] = {q, q, 0};
    sb_add(b, one);
    for (const char *p = s; *p; p++) {
        if (*p == q) sb_add(b, two);
        else { char c[2] = {*p, 0}; sb_add(b, c); }
    }
    sb_add(b, one);
}

// Column names taken so far (to skip a metric that collides with a spec key).
typedef struct { char **v; int n, cap; } names;

static int names_add(names *ns, const char *s) {
    for (int i = 0; i < ns->n; i++) if (!strcmp(ns->v[i], s)) return 0;
    if (ns->n == ns->cap) {
        int cap = ns->cap ? 2 * ns->cap : 64;
        char **p = realloc(ns->v, (size_t)cap * sizeof *p);
        if (!p) return -1;
        ns->v = p; ns->cap = cap;
    }
    if (!(ns->v[ns->n] = strdup(s))) return -1;
    ns->n++;
    return 1;
}

static void names_free(names *ns) {
    for (int i = 0; i < ns->n; i++) free(ns->v[i]);
    free(ns->v);
}

static const char *const RUN_COLS[] = {"sweep", "variant", "status", "spec_hash", "error", "params",
    "steps", "final_train_loss", "tokens_per_s", "wall_s", "backend", "blas_core", "threads", NULL};

static int add_spec_cols(sqlite3 *db, sbuf *b, names *ns) {
    const char *q = "SELECT DISTINCT j.fullkey FROM runs, json_tree(runs.spec_json) AS j "
                    "WHERE json_valid(runs.spec_json) AND j.type <> 'object' "
                    "AND j.fullkey NOT LIKE '%[%' ORDER BY j.fullkey";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) return -1;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *path = (const char *)sqlite3_column_text(st, 0);
        // json_tree quotes some labels ($.model."d_model"): the column name drops the quotes
        char name[512];
        size_t n = 0;
        if (!path || strncmp(path, "$.", 2) || strlen(path) >= sizeof name) continue;
        for (const char *p = path + 2; *p; p++) if (*p != '"') name[n++] = *p;
        name[n] = 0;
        if (names_add(ns, name) <= 0) continue;
        sb_add(b, ", CASE WHEN json_valid(r.spec_json) THEN json_extract(r.spec_json, ");
        sb_quoted(b, path, '\'');
        sb_add(b, ") END AS ");
        sb_quoted(b, name, '"');
    }
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : -1;
}

static int add_metric_cols(sqlite3 *db, sbuf *b, names *ns) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT DISTINCT task, metric FROM metrics ORDER BY task, metric",
                           -1, &st, NULL) != SQLITE_OK) return -1;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *task = (const char *)sqlite3_column_text(st, 0);
        const char *metric = (const char *)sqlite3_column_text(st, 1);
        if (!task || !metric) continue;
        char col[512];
        snprintf(col, sizeof col, "%s.%s", task, metric);
        if (names_add(ns, col) <= 0) continue;
        sb_add(b, ", (SELECT m.value FROM metrics AS m WHERE m.run_id = r.id AND m.task = ");
        sb_quoted(b, task, '\'');
        sb_add(b, " AND m.metric = ");
        sb_quoted(b, metric, '\'');
        sb_add(b, " ORDER BY m.rowid DESC LIMIT 1) AS ");
        sb_quoted(b, col, '"');
    }
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : -1;
}

// 1 if table (of the main schema) has a column called col, else 0.
static int has_column(sqlite3 *db, const char *table, const char *col) {
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

int hl_summary_view_create(sqlite3 *db, char *err, size_t errlen) {
    sbuf b = {0};
    names ns = {0};
    sb_add(&b, "DROP VIEW IF EXISTS temp.summary; CREATE TEMP VIEW summary AS SELECT r.id AS run_id");
    names_add(&ns, "run_id");
    names_add(&ns, "grid");
    sb_add(&b, ", r.grid_json AS grid");
    for (int i = 0; RUN_COLS[i]; i++) {
        names_add(&ns, RUN_COLS[i]);
        sb_add(&b, ", r."); sb_add(&b, RUN_COLS[i]); sb_add(&b, " AS "); sb_add(&b, RUN_COLS[i]);
    }
    // active_params came with migration 006: a read-only open of an older
    // database still gets the column, as NULL
    names_add(&ns, "active_params");
    sb_add(&b, has_column(db, "runs", "active_params") ? ", r.active_params AS active_params"
                                                       : ", NULL AS active_params");
    int rc = add_spec_cols(db, &b, &ns);
    if (!rc) rc = add_metric_cols(db, &b, &ns);
    sb_add(&b, " FROM runs AS r ORDER BY r.id");
    if (!rc && b.oom) { snprintf(err, errlen, "summary view: out of memory"); rc = -1; }
    else if (rc) snprintf(err, errlen, "summary view: %s", sqlite3_errmsg(db));
    char *msg = NULL;
    if (!rc && sqlite3_exec(db, b.s, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "summary view: %s", msg ? msg : sqlite3_errmsg(db));
        rc = -1;
    }
    sqlite3_free(msg);
    free(b.s);
    names_free(&ns);
    return rc ? HL_EFAIL : HL_OK;
}

int hl_db_create_summary_view(hl_db *db, char *err, size_t errlen) {
    return hl_summary_view_create(hl_db_sqlite(db), err, errlen);
}
