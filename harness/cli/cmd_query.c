// cmd_query.c: `hylab query --db FILE [--csv|--json] [--] "SQL"`: runs one
// read-only SQL statement against a results database (with the TEMP VIEW
// `summary`, see db/db.h) and prints the rows as an aligned table (default),
// CSV or JSON. The database is opened read-only and the SQL locked down
// (db/db_user_sql.c): a query never changes the database.
#include <stdio.h>
#include <string.h>
#include "harness/cli/commands.h"
#include "harness/cli/db_fmt.h"
#include "db/db.h"

static const char *usage_text =
    "usage: hylab query --db FILE [--csv|--json] [--] \"SQL\"\n"
    "  Runs one SQL statement on a results database and prints the rows: an\n"
    "  aligned table by default, --csv (RFC 4180) or --json (an array of objects).\n"
    "  The database is opened read-only: only reading SQL (SELECT, WITH, PRAGMAs\n"
    "  that report) is accepted, one statement at a time, and it works on a\n"
    "  database in a directory you cannot write.\n"
    "  --   ends the options: SQL that starts with '-' (a -- comment) goes after it.\n"
    "  Tables: sweeps, runs, metrics, curves, measurements; and the view\n"
    "  summary: one row per run with run_id, sweep, variant, grid, status,\n"
    "  spec_hash, spec fields as dotted columns (\"model.layers\", \"train.lr\", ...),\n"
    "  params, steps, final_train_loss, tokens_per_s, wall_s, and one column per\n"
    "  metric named \"task.metric\" (e.g. \"mqar.accuracy\"); quote dotted names.\n"
    "  Strings in SQL take single quotes; double quotes name columns, and a\n"
    "  misspelt \"task.metric\" is an error (no such column), not a string.\n"
    "Exit status: 0 ok, 2 bad input (missing database, empty or bad SQL, SQL\n"
    "that writes or has several statements), 1 the database could not be read.\n";

static int bad(const char *msg, const char *a) {
    fprintf(stderr, "hylab query: ");
    fprintf(stderr, msg, a);
    fprintf(stderr, "\n");
    return 2;
}

typedef struct { const char *db, *sql; hl_fmt fmt; int help; } query_args;

static int take_sql(query_args *a, const char *o) {
    if (a->sql) return bad("give the SQL as one argument (extra: '%s')", o);
    a->sql = o;
    return 0;
}

static int parse(int argc, char **argv, query_args *a) {
    memset(a, 0, sizeof *a);
    int k = 1;
    for (; k < argc; k++) {
        const char *o = argv[k];
        if (!strcmp(o, "--")) { k++; break; }
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { a->help = 1; return 0; }
        else if (!strcmp(o, "--csv")) a->fmt = HL_FMT_CSV;
        else if (!strcmp(o, "--json")) a->fmt = HL_FMT_JSON;
        else if (!strcmp(o, "--db")) {
            if (++k == argc) return bad("%s needs a value", o);
            a->db = argv[k];
        } else if (o[0] == '-' && o[1])
            return bad("unknown option '%s' (see --help; use -- before SQL that starts with -- or -)", o);
        else if (take_sql(a, o)) return 2;
    }
    for (; k < argc; k++) if (take_sql(a, argv[k])) return 2;
    if (!a->db) return bad("%s", "--db FILE is required");
    if (!a->sql) return bad("%s", "no SQL given");
    if (!a->sql[0]) return bad("%s", "the SQL is empty");
    return 0;
}

// Runs the one (read-only) statement of sql and prints its rows.
static int run_sql(hl_db *db, const char *sql, hl_fmt fmt) {
    sqlite3 *h = hl_db_sqlite(db);
    sqlite3_stmt *st;
    char err[1024];
    if (hl_db_prepare_one(h, sql, &st, err, sizeof err)) return bad("%s", err);
    hl_table t;
    int rc = hl_table_from_stmt(&t, st);
    if (rc == SQLITE_DONE) hl_table_print(&t, fmt, stdout);
    else rc = bad("%s", sqlite3_errmsg(h));
    hl_table_free(&t);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : rc;
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
    rc = hl_db_open(a.db, HL_DB_READONLY, &db, err, sizeof err);
    if (rc) return bad("%s", err), rc == HL_EBADINPUT ? 2 : 1;
    if (hl_db_create_summary_view(db, err, sizeof err)) {
        hl_db_close(db);
        return bad("summary view: %s", err), 1;
    }
    hl_db_lock_down(hl_db_sqlite(db));
    rc = run_sql(db, a.sql, a.fmt);
    hl_db_close(db);
    return rc;
}
