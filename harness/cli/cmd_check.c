// cmd_check.c: `hylab check --db NEW --baseline OLD [--metric task.metric]...
// [--tolerance X] [--json]`: compares the metrics of matching runs and fails
// (exit 1) when any got worse by more than the tolerance.
//
// Runs match by (variant, spec_hash), else by (variant, grid); of several
// matching NEW runs the newest attempt (latest started_at) counts. A metric is
// higher-is-better unless its name contains "loss", "perplexity" or "ppl".
// A baseline run whose match failed, diverged or has not finished counts as
// a regression; runs or metrics absent from NEW are reported but do not fail
// the check, unless nothing at all was compared (an empty NEW fails).
// Both databases are opened read-only. Bad input (exit 2): a --metric in
// neither database, a baseline without done runs, a metric value that is
// not a number.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness/cli/commands.h"
#include "harness/cli/db_fmt.h"
#include "db/db.h"

#define MAX_METRICS 64

static const char *usage_text =
    "usage: hylab check --db NEW --baseline OLD [--metric task.metric]... [--tolerance X] [--json]\n"
    "  Compares each done baseline run's metrics with the matching run of NEW\n"
    "  (same variant and spec hash, else same variant and grid; of several, the\n"
    "  newest attempt, so a rerun that diverged or failed is a regression even\n"
    "  when an older copy finished). Metrics are higher-is-better unless the\n"
    "  name contains loss/perplexity/ppl. Runs and metrics missing from NEW are\n"
    "  listed; if nothing at all could be compared (e.g. NEW is empty) it fails.\n"
    "  --metric M      only these metrics (task.metric, e.g. mqar.accuracy); default all;\n"
    "                  a metric in neither database is an error\n"
    "  --tolerance X   allowed absolute worsening (default 0.02)\n"
    "  --json          the comparison as JSON instead of a table\n"
    "Exit status: 0 no regression, 1 a metric regressed, a run failed or nothing was\n"
    "compared, 2 bad input (a database missing or not hylab's, an unknown --metric, a\n"
    "baseline without done runs, a metric value that is not a number).\n";

typedef struct {
    const char *db, *baseline;
    const char *metrics[MAX_METRICS]; int n_metrics;
    double tol;
    int json, help;
} check_args;

typedef struct {
    hl_table t;
    int regressed, compared, missing_runs, missing_metrics;
    char bad_value[512];     // the first metric value that is not a number
} check_state;

static int bad(const char *fmt, const char *a) {
    fprintf(stderr, "hylab check: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 2;
}

static int parse(int argc, char **argv, check_args *a) {
    memset(a, 0, sizeof *a);
    a->tol = 0.02;
    for (int k = 1; k < argc; k++) {
        const char *o = argv[k];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { a->help = 1; return 0; }
        if (!strcmp(o, "--json")) { a->json = 1; continue; }
        if (strcmp(o, "--db") && strcmp(o, "--baseline") && strcmp(o, "--metric") && strcmp(o, "--tolerance"))
            return bad("unknown argument '%s' (see --help)", o);
        if (++k == argc) return bad("%s needs a value", o);
        const char *v = argv[k];
        if (!strcmp(o, "--db")) a->db = v;
        else if (!strcmp(o, "--baseline")) a->baseline = v;
        else if (!strcmp(o, "--metric")) {
            if (a->n_metrics == MAX_METRICS || !strchr(v, '.')) return bad("--metric wants task.metric (got '%s')", v);
            a->metrics[a->n_metrics++] = v;
        } else {
            char *end;
            a->tol = strtod(v, &end);
            if (end == v || *end || !(a->tol >= 0)) return bad("--tolerance wants a number >= 0 (got '%s')", v);
        }
    }
    if (!a->db || !a->baseline) return bad("%s", "--db NEW and --baseline OLD are required");
    return 0;
}

static int lower_is_better(const char *name) {
    return strstr(name, "loss") || strstr(name, "perplexity") || strstr(name, "ppl");
}

static int wanted(const check_args *a, const char *name) {
    if (!a->n_metrics) return 1;
    for (int i = 0; i < a->n_metrics; i++) if (!strcmp(a->metrics[i], name)) return 1;
    return 0;
}

static void add_row(check_state *s, const char *run, const char *metric, const char *base,
                    const char *new_, const char *delta, const char *verdict) {
    const char *cells[6] = {run, metric, base, new_, delta, verdict};
    unsigned char num[6] = {0, 0, 1, 1, 1, 0};
    hl_table_add_row(&s->t, cells, num);
}

static void fmt_num(double v, char *buf, size_t n) {
    if (isnan(v)) snprintf(buf, n, "nan");
    else snprintf(buf, n, "%.6g", v);
}

static const char *verdict_of(const char *name, double base, double new_, double tol) {
    if (isnan(new_) && !isnan(base)) return "REGRESSED";
    if (isnan(base) || isnan(new_)) return "ok";
    double better = lower_is_better(name) ? base - new_ : new_ - base;
    if (better < -tol) return "REGRESSED";
    if (better > tol) return "improved";
    return "ok";
}

// A metric value (NULL: NAN). Text or a blob is not a number: s->bad_value
// gets the first such value, naming its database, run and metric.
static double col_value(check_state *s, sqlite3_stmt *st, int c, const char *db, long long run,
                        const char *metric) {
    int type = sqlite3_column_type(st, c);
    if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) return sqlite3_column_double(st, c);
    if (type != SQLITE_NULL && !s->bad_value[0])
        snprintf(s->bad_value, sizeof s->bad_value, "%s: run %lld: metric %s has a value that is not a number ('%.40s')",
                 db, run, metric, type == SQLITE_TEXT ? (const char *)sqlite3_column_text(st, c) : "(blob)");
    return NAN;
}

// The matching NEW run: by spec hash, else by grid; 0 if none. Of several,
// the newest attempt (latest started_at; never started ones last).
static long long match_run(sqlite3 *h, sqlite3_stmt *b, char *status, size_t n) {
    static const char *sqls[] = {
        "SELECT id, status FROM main.runs WHERE variant = ?1 AND spec_hash = ?2"
        " ORDER BY started_at IS NULL, started_at DESC, id DESC LIMIT 1",
        "SELECT id, status FROM main.runs WHERE variant = ?1 AND grid_json = ?3"
        " ORDER BY started_at IS NULL, started_at DESC, id DESC LIMIT 1"};
    long long id = 0;
    for (int i = 0; i < 2 && !id; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, sqls[i], -1, &st, NULL) != SQLITE_OK) return 0;
        for (int p = 1; p <= 3; p++)
            if (sqlite3_bind_parameter_index(st, p == 1 ? "?1" : p == 2 ? "?2" : "?3"))
                sqlite3_bind_value(st, p, sqlite3_column_value(b, p));
        if (sqlite3_step(st) == SQLITE_ROW) {
            id = sqlite3_column_int64(st, 0);
            snprintf(status, n, "%s", (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
    }
    return id;
}

static double new_value(sqlite3 *h, const check_args *a, check_state *s, long long run, sqlite3_stmt *m,
                        const char *name, int *found) {
    sqlite3_stmt *st;
    double v = NAN;
    *found = 0;
    if (sqlite3_prepare_v2(h, "SELECT value FROM main.metrics WHERE run_id = ?1 AND task = ?2 AND metric = ?3"
                              " ORDER BY params_json = ?4 DESC, rowid DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return v;
    sqlite3_bind_int64(st, 1, run);
    for (int p = 0; p < 3; p++) sqlite3_bind_value(st, p + 2, sqlite3_column_value(m, p));
    if (sqlite3_step(st) == SQLITE_ROW) { v = col_value(s, st, 0, a->db, run, name); *found = 1; }
    sqlite3_finalize(st);
    return v;
}

static void compare_metrics(sqlite3 *h, const check_args *a, check_state *s, long long base_run,
                            long long new_run, const char *label) {
    sqlite3_stmt *m;
    if (sqlite3_prepare_v2(h, "SELECT task, metric, params_json, value FROM base.metrics WHERE run_id = ?"
                              " ORDER BY rowid", -1, &m, NULL) != SQLITE_OK) return;
    sqlite3_bind_int64(m, 1, base_run);
    while (sqlite3_step(m) == SQLITE_ROW) {
        char name[256], bs[32], ns[32], ds[32];
        snprintf(name, sizeof name, "%s.%s", sqlite3_column_text(m, 0), sqlite3_column_text(m, 1));
        if (!wanted(a, name)) continue;
        double bv = col_value(s, m, 3, a->baseline, base_run, name);
        int found;
        double nv = new_value(h, a, s, new_run, m, name, &found);
        fmt_num(bv, bs, sizeof bs);
        if (!found) { s->missing_metrics++; add_row(s, label, name, bs, NULL, NULL, "missing"); continue; }
        fmt_num(nv, ns, sizeof ns);
        fmt_num(nv - bv, ds, sizeof ds);
        const char *v = verdict_of(name, bv, nv, a->tol);
        s->compared++;
        s->regressed += !strcmp(v, "REGRESSED");
        add_row(s, label, name, bs, ns, ds, v);
    }
    sqlite3_finalize(m);
}

static void check_run(sqlite3 *h, const check_args *a, check_state *s, sqlite3_stmt *b) {
    char label[512], status[16] = "";
    const char *grid = (const char *)sqlite3_column_text(b, 3);
    snprintf(label, sizeof label, "%s%s%s", sqlite3_column_text(b, 1),
             grid && strcmp(grid, "{}") ? " " : "", grid && strcmp(grid, "{}") ? grid : "");
    long long new_run = match_run(h, b, status, sizeof status);
    if (!new_run) { s->missing_runs++; add_row(s, label, "", NULL, NULL, NULL, "run missing"); return; }
    if (strcmp(status, "done") != 0) {
        char v[40];
        snprintf(v, sizeof v, "REGRESSED (run %s)", status);
        s->regressed++;
        add_row(s, label, "", NULL, NULL, NULL, v);
        return;
    }
    compare_metrics(h, a, s, sqlite3_column_int64(b, 0), new_run, label);
}

static int count(sqlite3 *h, const char *sql) {
    sqlite3_stmt *st;
    int n = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

// Each --metric must be in NEW or BASELINE: 2 and a message naming it and
// listing the metrics there, else 0.
static int check_metric_names(sqlite3 *h, const check_args *a) {
    static const char *q = "SELECT group_concat(name, ', ') FROM (SELECT DISTINCT task || '.' || metric AS name"
                           " FROM (SELECT task, metric FROM main.metrics UNION SELECT task, metric FROM base.metrics)"
                           " ORDER BY name)";
    for (int i = 0; i < a->n_metrics; i++) {
        char *sql = sqlite3_mprintf("SELECT count(*) FROM (SELECT task, metric FROM main.metrics UNION ALL"
                                    " SELECT task, metric FROM base.metrics) WHERE task || '.' || metric = %Q",
                                    a->metrics[i]);
        int n = sql ? count(h, sql) : -1;
        sqlite3_free(sql);
        if (n > 0) continue;
        sqlite3_stmt *st;
        const char *have = NULL;
        if (sqlite3_prepare_v2(h, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            have = (const char *)sqlite3_column_text(st, 0);
        fprintf(stderr, "hylab check: --metric %s: no such metric in %s or %s (metrics there: %s)\n",
                a->metrics[i], a->db, a->baseline, have ? have : "none");
        sqlite3_finalize(st);
        return 2;
    }
    return 0;
}

static int run_check(hl_db *db, const check_args *a, check_state *s) {
    sqlite3 *h = hl_db_sqlite(db);
    const char *names[6] = {"run", "metric", "baseline", "new", "delta", "verdict"};
    hl_table_init(&s->t, 6, names);
    int rc = check_metric_names(h, a);
    if (rc) return rc;
    if (count(h, "SELECT count(*) FROM base.runs WHERE status = 'done'") <= 0)
        return bad("%s: no done runs to compare against", a->baseline);
    sqlite3_stmt *b;
    if (sqlite3_prepare_v2(h, "SELECT id, variant, spec_hash, grid_json FROM base.runs WHERE status = 'done'"
                              " ORDER BY id", -1, &b, NULL) != SQLITE_OK)
        return bad("%s", sqlite3_errmsg(h));
    while (sqlite3_step(b) == SQLITE_ROW) check_run(h, a, s, b);
    sqlite3_finalize(b);
    return s->bad_value[0] ? bad("%s", s->bad_value) : 0;
}

// 0 passed, 1 failed (a regression, or nothing compared at all).
static int verdict(hl_db *db, const check_args *a, const check_state *s) {
    hl_table_print(&s->t, a->json ? HL_FMT_JSON : HL_FMT_TABLE, stdout);
    fprintf(stderr, "hylab check: %d metrics compared (tolerance %g): %d regressed; %d runs and %d metrics missing in %s\n",
            s->compared, a->tol, s->regressed, s->missing_runs, s->missing_metrics, a->db);
    if (s->regressed) return 1;
    if (s->compared) return 0;
    int runs = count(hl_db_sqlite(db), "SELECT count(*) FROM main.runs");
    fprintf(stderr, "hylab check: FAILED: nothing was compared (%s)\n",
            runs == 0 ? "the new database has no runs" : "no baseline run or metric has a match in the new database");
    return 1;
}

int cmd_check(int argc, char **argv) {
    check_args a;
    int rc = parse(argc, argv, &a);
    if (rc || a.help) { if (a.help) fputs(usage_text, stdout); return rc; }
    hl_db *db;
    char err[1024];
    if ((rc = hl_db_open(a.db, HL_DB_READONLY, &db, err, sizeof err)))
        return bad("%s", err), rc == HL_EBADINPUT ? 2 : 1;
    check_state s;
    memset(&s, 0, sizeof s);
    if ((rc = hl_db_attach(db, a.baseline, "base", err, sizeof err))) {
        bad("%s", err);
        rc = rc == HL_EBADINPUT ? 2 : 1;
    }
    if (!rc) rc = run_check(db, &a, &s);
    if (!rc) rc = verdict(db, &a, &s);
    hl_table_free(&s.t);
    hl_db_close(db);
    return rc;
}
