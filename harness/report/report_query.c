// report_query.c: runs report SQL into memory (hl_rows) and checks every
// statement of a report against the database before anything is written.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness/report/report.h"
#include "db/db.h"

static int rows_grow(hl_rows *r) {
    if (r->nrows < r->cap) return 0;
    int cap = r->cap ? r->cap * 2 : 64;
    hl_cell *c = realloc(r->cells, (size_t)cap * (size_t)r->ncols * sizeof *c);
    if (!c) return -1;
    r->cells = c; r->cap = cap;
    return 0;
}

static int read_row(sqlite3_stmt *st, hl_rows *r) {
    if (rows_grow(r)) return -1;
    for (int j = 0; j < r->ncols; j++) {
        hl_cell *c = &r->cells[(size_t)r->nrows * (size_t)r->ncols + (size_t)j];
        c->type = sqlite3_column_type(st, j);
        c->num = sqlite3_column_double(st, j);
        c->text = NULL;
        if (c->type != SQLITE_NULL) {
            const unsigned char *t = sqlite3_column_text(st, j);
            c->text = strdup(t ? (const char *)t : "");
            if (!c->text) return -1;
        }
    }
    r->nrows++;
    return 0;
}

int hl_rows_query(sqlite3 *db, const char *sql, hl_rows *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    sqlite3_stmt *st = NULL;
    if (hl_db_prepare_one(db, sql, &st, err, errlen)) return HL_REP_EBADINPUT;
    r->ncols = sqlite3_column_count(st);
    r->names = calloc((size_t)r->ncols + 1, sizeof *r->names);
    int rc = r->names ? HL_REP_OK : HL_REP_EFAIL;
    for (int j = 0; !rc && j < r->ncols; j++)
        if (!(r->names[j] = strdup(sqlite3_column_name(st, j)))) rc = HL_REP_EFAIL;
    int s;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW)
        if (read_row(st, r)) rc = HL_REP_EFAIL;
    if (rc) snprintf(err, errlen, "out of memory reading the result");
    else if (s != SQLITE_DONE) { snprintf(err, errlen, "%s", sqlite3_errmsg(db)); rc = HL_REP_EFAIL; }
    sqlite3_finalize(st);
    if (rc) hl_rows_free(r);
    return rc;
}

int hl_rows_col(const hl_rows *r, const char *name) {
    for (int j = 0; j < r->ncols; j++) if (!strcmp(r->names[j], name)) return j;
    return -1;
}

void hl_rows_free(hl_rows *r) {
    if (r->cells)
        for (size_t i = 0; i < (size_t)r->nrows * (size_t)r->ncols; i++) free(r->cells[i].text);
    if (r->names) for (int j = 0; j < r->ncols; j++) free(r->names[j]);
    free(r->cells); free(r->names);
    memset(r, 0, sizeof *r);
}

// Prepares sql (one read-only statement, see hl_db_prepare_one) and checks
// that each of names[] is a result column. what names the table/figure for
// messages.
static int check_sql(sqlite3 *db, const char *file, const char *what, const char *who, const char *sql, const char *const *names,
                     const char *const *keys, int n, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    char why[512];
    if (hl_db_prepare_one(db, sql, &st, why, sizeof why)) {
        snprintf(err, errlen, "%s: %s.sql: %s: %s", file, what, who, why);
        return HL_REP_EBADINPUT;
    }
    for (int i = 0; i < n; i++) {
        if (!names[i]) continue;
        int found = 0;
        for (int j = 0; j < sqlite3_column_count(st); j++)
            if (!strcmp(sqlite3_column_name(st, j), names[i])) found = 1;
        if (!found) {
            char cols[400] = ""; size_t len = 0;
            for (int j = 0; j < sqlite3_column_count(st) && len < sizeof cols - 1; j++)
                len += (size_t)snprintf(cols + len, sizeof cols - len, "%s%s", j ? ", " : "",
                                        sqlite3_column_name(st, j));
            snprintf(err, errlen, "%s: %s.%s: %s: '%s' is not a column of the result of its sql (columns: %s)",
                     file, what, keys[i], who, names[i], cols);
            sqlite3_finalize(st);
            return HL_REP_EBADINPUT;
        }
    }
    sqlite3_finalize(st);
    return HL_REP_OK;
}

static int check_table(sqlite3 *db, const char *file, int ti, const hl_rep_table *t, char *err, size_t errlen) {
    int n = 2 * t->n_cols + t->n_group_by;
    const char **names = calloc((size_t)n, sizeof *names);
    char (*keys)[48] = calloc((size_t)n, sizeof *keys);
    const char **kp = calloc((size_t)n, sizeof *kp);
    if (!names || !keys || !kp) {
        free(names); free(keys); free(kp);
        snprintf(err, errlen, "out of memory");
        return HL_REP_EFAIL;
    }
    for (int i = 0; i < t->n_cols; i++) {
        names[2 * i] = t->cols[i].name; names[2 * i + 1] = t->cols[i].std;
        snprintf(keys[2 * i], sizeof keys[0], "columns[%d].name", i);
        snprintf(keys[2 * i + 1], sizeof keys[0], "columns[%d].std", i);
    }
    for (int g = 0; g < t->n_group_by; g++) {
        names[2 * t->n_cols + g] = t->group_by[g];
        snprintf(keys[2 * t->n_cols + g], sizeof keys[0], "group_by[%d]", g);
    }
    for (int i = 0; i < n; i++) kp[i] = keys[i];
    char what[64];
    snprintf(what, sizeof what, "tables[%d]", ti);
    char who[160]; snprintf(who, sizeof who, "table '%s'", t->name);
    int rc = check_sql(db, file, what, who, t->sql, names, kp, n, err, errlen);
    free(names); free(keys); free(kp);
    return rc;
}

static int check_figure(sqlite3 *db, const char *file, int fi, const hl_rep_figure *f, char *err, size_t errlen) {
    const char *names[5] = {f->x, f->y, f->series, f->yerr, f->z};
    const char *keys[5] = {"x", "y", "series", "yerr", "z"};
    char what[64];
    snprintf(what, sizeof what, "figures[%d]", fi);
    char who[160]; snprintf(who, sizeof who, "figure '%s'", f->name);
    return check_sql(db, file, what, who, f->sql, names, keys, 5, err, errlen);
}

int hl_report_check(sqlite3 *db, const hl_report *rep, char *err, size_t errlen) {
    for (int i = 0; i < rep->n_tables; i++) {
        int rc = check_table(db, rep->path, i, &rep->tables[i], err, errlen);
        if (rc) return rc;
    }
    for (int i = 0; i < rep->n_figures; i++) {
        int rc = check_figure(db, rep->path, i, &rep->figures[i], err, errlen);
        if (rc) return rc;
    }
    return HL_REP_OK;
}
