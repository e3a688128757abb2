// cmd_report.c: `hylab report --db FILE plots/NAME.json --out DIR`.
// Validates the whole report (JSON, every SQL statement and the columns it
// names) before writing anything; then writes each table (.md .tex .csv) and
// each figure (.dat .gp, rendered by gnuplot to .png and .pdf).
// Exit status: 0 ok, 1 something failed to render/write (tables are still
// written when gnuplot is missing), 2 bad input (nothing written).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "harness/cli/commands.h"
#include "harness/report/report.h"
#include "db/db.h"

static void report_usage(FILE *f) {
    fputs("usage: hylab report --db FILE REPORT.json --out DIR\n\n"
          "Regenerates the tables and figures a report file (plots/NAME.json) defines from a\n"
          "results database, opened read-only. For each table: DIR/NAME.md, .tex (booktabs)\n"
          "and .csv; for each figure: DIR/NAME.dat, DIR/NAME.gp and, via gnuplot, DIR/NAME.png\n"
          "and DIR/NAME.pdf. SQL may use the TEMP VIEW summary (one row per run); each sql is\n"
          "one statement that only reads (as in hylab query). Titles, labels and names from\n"
          "the file or the database enter gnuplot scripts as plain text: nothing in them runs.\n"
          "The format is documented in plots/README.md.\n\n"
          "  --db FILE    results database (required)\n"
          "  --out DIR    output directory, created if missing (required)\n"
          "  --help       this text\n\n"
          "exit status: 0 ok; 1 a figure could not be rendered (gnuplot missing or failed);\n"
          "2 bad input (report file, SQL, missing database), nothing written\n"
          "environment: HYLAB_GNUPLOT overrides the gnuplot binary\n", f);
}

typedef struct { const char *db, *report, *out; } report_args;

static int parse_args(int argc, char **argv, report_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { report_usage(stdout); return 0; }
        if (!strcmp(argv[i], "--db") || !strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) { fprintf(stderr, "hylab report: %s needs a value\n", argv[i]); return 2; }
            if (!strcmp(argv[i], "--db")) a->db = argv[++i]; else a->out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "hylab report: unknown option '%s'\n", argv[i]); return 2;
        } else if (a->report) {
            fprintf(stderr, "hylab report: one report file at a time ('%s' and '%s')\n", a->report, argv[i]); return 2;
        } else a->report = argv[i];
    }
    if (!a->db || !a->report || !a->out) {
        fprintf(stderr, "hylab report: missing %s\n", !a->db ? "--db FILE" : !a->report ? "the report file" : "--out DIR");
        report_usage(stderr);
        return 2;
    }
    return -1;
}

// Read-only (db/db.h), with the summary view; the SQL of the report file is
// then locked down like `hylab query`'s.
static int open_db(const char *path, hl_db **db, char *err, size_t errlen) {
    int rc = hl_db_open(path, HL_DB_READONLY, db, err, errlen);
    if (rc) return rc == HL_EBADINPUT ? HL_REP_EBADINPUT : HL_REP_EFAIL;
    if (hl_db_create_summary_view(*db, err, errlen)) return HL_REP_EFAIL;
    hl_db_lock_down(hl_db_sqlite(*db));
    return HL_REP_OK;
}

static int mkdir_p(const char *dir, char *err, size_t errlen) {
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; ; s++) {
        if (*s != '/' && *s) continue;
        char c = *s; *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create: %s", p, strerror(errno));
            return HL_REP_EFAIL;
        }
        *s = c;
        if (!c) break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", dir);
        return HL_REP_EFAIL;
    }
    return HL_REP_OK;
}

static int write_tables(sqlite3 *db, const hl_report *rep, const char *out) {
    int failed = 0;
    char err[1024];
    for (int i = 0; i < rep->n_tables; i++) {
        const hl_rep_table *t = &rep->tables[i];
        int n = 0;
        if (hl_report_write_table(db, rep, t, out, &n, err, sizeof err)) {
            fprintf(stderr, "hylab report: %s\n", err); failed = 1; continue;
        }
        printf("table  %s/%s.{md,tex,csv}: %d rows\n", out, t->name, n);
        if (!n) fprintf(stderr, "hylab report: warning: table '%s' has no rows (written with a note)\n", t->name);
    }
    return failed;
}

// Writes and renders the figures. Returns 1 if any failed or gnuplot is missing.
static int write_figures(sqlite3 *db, const hl_report *rep, const char *out) {
    int failed = 0;
    char err[1024], gnuplot[4096];
    int have_gp = hl_report_find_gnuplot(gnuplot, sizeof gnuplot);
    for (int i = 0; i < rep->n_figures; i++) {
        const hl_rep_figure *f = &rep->figures[i];
        int n = 0, skipped = 0;
        if (hl_report_write_figure(db, rep, f, out, &n, &skipped, err, sizeof err)) {
            fprintf(stderr, "hylab report: %s\n", err); failed = 1; continue;
        }
        if (skipped) { printf("figure %s: no data, skipped (optional)\n", f->name); continue; }
        if (!n) fprintf(stderr, "hylab report: warning: figure '%s' has no data (drawn as 'no data')\n", f->name);
        if (!have_gp) { printf("figure %s/%s.{dat,gp}: %d points (not rendered)\n", out, f->name, n); continue; }
        if (hl_report_render(gnuplot, out, f->name, err, sizeof err)) {
            fprintf(stderr, "hylab report: figure '%s': %s\n", f->name, err); failed = 1; continue;
        }
        printf("figure %s/%s.{png,pdf,dat,gp}: %d points\n", out, f->name, n);
    }
    if (rep->n_figures && !have_gp) {
        fprintf(stderr, "hylab report: gnuplot not found (%s): tables and figure data/scripts are written, "
                "figures are not rendered; install gnuplot-nox (make deps) and rerun\n",
                getenv("HYLAB_GNUPLOT") ? "HYLAB_GNUPLOT" : "PATH");
        failed = 1;
    }
    return failed;
}

int cmd_report(int argc, char **argv) {
    report_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    hl_report rep;
    char err[8192];
    hl_db *hdb = NULL;
    sqlite3 *db = NULL;
    if ((rc = hl_report_load(a.report, &rep, err, sizeof err)) ||
        (rc = open_db(a.db, &hdb, err, sizeof err)) ||
        (rc = hl_report_check(db = hl_db_sqlite(hdb), &rep, err, sizeof err)) ||
        (rc = mkdir_p(a.out, err, sizeof err))) {
        fprintf(stderr, "hylab report: %s\n", err);
        hl_db_close(hdb);
        hl_report_free(&rep);
        return rc == HL_REP_EFAIL ? 1 : 2;
    }
    int failed = write_tables(db, &rep, a.out);
    failed |= write_figures(db, &rep, a.out);
    hl_db_close(hdb);
    hl_report_free(&rep);
    return failed ? 1 : 0;
}
