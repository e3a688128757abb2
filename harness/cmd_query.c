// cmd_query.c: `hylab query --db FILE [--csv|--json] "SQL"`: runs SQL against
// a results database (with the TEMP VIEW `summary`, see db/db.h) and prints
// the rows as an aligned table (default), CSV or JSON.
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "db_fmt.h"
#include "../db/db.h"

static const char *usage_text =
    "usage: hylab query --db FILE [--csv|--json] \"SQL\"\n"
    "  Runs SQL on a results database and prints the rows: an aligned table by\n"
    "  default, --csv (RFC 4180) or --json (an array of objects).\n"
    "  Tables: sweeps, runs, metrics, curves, measurements; and the view\n"
    "  summary: one row per run with run_id, sweep, variant, grid, status,\n"
    "  spec_hash, spec fields as dotted columns (\"model.layers\", \"train.lr\", ...),\n"
    "  params, steps, final_train_loss, tokens_per_s, wall_s, and one column per\n"
    "  metric named \"task.metric\" (e.g. \"mqar.accuracy\"); quote dotted names.\n"
    "Exit status: 0 ok, 2 bad input (missing database, bad SQL).\n";

static int bad(const char *msg, const char *a) {
    fprintf(stderr, "hylab query: ");
    fprintf(stderr, msg, a);
    fprintf(stderr, "\n");
    return 2;
}

typedef struct { const char *db, *sql; hl_fmt fmt; int help; } query_args;

static int parse(int argc, char **argv, query_args *a) {
    memset(a, 0, sizeof *a);
    for (int k = 1; k < argc; k++) {
        const char *o = argv[k];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { a->help = 1; return 0; }
        else if (!strcmp(o, "--csv")) a->fmt = HL_FMT_CSV;
        else if (!strcmp(o, "--json")) a->fmt = HL_FMT_JSON;
        else if (!strcmp(o, "--db")) {
            if (++k == argc) return bad("%s needs a value", o);
            a->db = argv[k];
        } else if (o[0] == '-' && o[1] == '-') return bad("unknown option '%s' (see --help)", o);
        else if (a->sql) return bad("give the SQL as one argument (extra: '%s')", o);
        else a->sql = o;
    }
    if (!a->db) return bad("%s", "--db FILE is required");
    if (!a->sql) return bad("%s", "no SQL given");
    return 0;
}

// Runs every statement of sql, printing those that return columns.
static int run_sql(hl_db *db, const char *sql, hl_fmt fmt) {
    sqlite3 *h = hl_db_sqlite(db);
    const char *tail = sql;
    while (tail && *tail) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, tail, -1, &st, &tail) != SQLITE_OK)
            return bad("%s", sqlite3_errmsg(h));
        if (!st) continue;   // whitespace or a comment
        hl_table t;
        int rc = hl_table_from_stmt(&t, st);
        if (rc == SQLITE_DONE && t.ncol > 0) hl_table_print(&t, fmt, stdout);
        hl_table_free(&t);
        if (rc != SQLITE_DONE) {
            int code = bad("%s", sqlite3_errmsg(h));
            sqlite3_finalize(st);
            return code;
        }
        sqlite3_finalize(st);
    }
    return 0;
}

int cmd_query(int argc, char **argv) {
    query_args a;
    int rc = parse(argc, argv, &a);
    if (rc || a.help) {
        if (a.help) fputs(usage_text, stdout);
        return rc;
    }
    hl_db *db;
    char err[1024];
    rc = hl_db_open(a.db, 0, &db, err, sizeof err);
    if (rc) return bad("%s", err), rc == HL_EBADINPUT ? 2 : 1;
    if (hl_db_create_summary_view(db, err, sizeof err)) {
        hl_db_close(db);
        return bad("summary view: %s", err), 1;
    }
    rc = run_sql(db, a.sql, a.fmt);
    hl_db_close(db);
    return rc;
}
