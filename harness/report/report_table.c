// report_table.c: one report table -> DIR/NAME.md, DIR/NAME.tex, DIR/NAME.csv.
// Rows come from the SQL in its ORDER BY order; with group_by, rows with
// equal keys are reduced (first, mean, mean_std, ...) and groups keep the
// order of their first row, so the output is a function of the database.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness/report/report.h"

// Formatted value and std (NULL: none) for Markdown/LaTeX, and for CSV
// (where "si" and "int" become plain numbers that spreadsheets can read).
typedef struct { char *val, *sd, *csv, *csv_sd; } dcell;

typedef struct {
    int nrows, ncols;
    dcell *cells;
    int n_min, n_max;                       // rows per group (mean_std columns)
    int has_mean_std;
} dtable;

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

// Numeric value of a cell; 0 if NULL or text that is not a number.
static int cell_num(const hl_cell *c, double *v, int *is_int) {
    *is_int = c->type == SQLITE_INTEGER;
    if (c->type == SQLITE_INTEGER || c->type == SQLITE_FLOAT) { *v = c->num; return 1; }
    if (c->type == SQLITE_TEXT && c->text[0]) {
        char *end;
        *v = strtod(c->text, &end);
        return *end == 0;
    }
    return 0;
}

static char *fmt_cell(const hl_cell *c, const char *format) {
    double v; int is_int;
    if (c->type == SQLITE_NULL) return NULL;
    if (c->type == SQLITE_TEXT && !(format && cell_num(c, &v, &is_int))) return dupstr(c->text);
    if (c->type == SQLITE_BLOB) return dupstr("(blob)");
    cell_num(c, &v, &is_int);
    char buf[128];
    hl_report_format_num(v, is_int, format, buf, sizeof buf);
    return dupstr(buf);
}

static char *fmt_num(double v, int is_int, const char *format) {
    char buf[128];
    hl_report_format_num(v, is_int, format, buf, sizeof buf);
    return dupstr(buf);
}

typedef struct { double sum, sumsq, min, max; int n, all_int; } accum;

static void acc_rows(const hl_rows *r, const int *rows, int nr, int col, accum *a) {
    memset(a, 0, sizeof *a);
    a->all_int = 1;
    for (int i = 0; i < nr; i++) {
        double v; int is_int;
        if (!cell_num(hl_rows_at(r, rows[i], col), &v, &is_int)) continue;
        if (!a->n || v < a->min) a->min = v;
        if (!a->n || v > a->max) a->max = v;
        a->sum += v; a->n++; a->all_int &= is_int;
    }
    double mean = a->n ? a->sum / a->n : 0;
    for (int i = 0; i < nr; i++) {
        double v; int is_int;
        if (cell_num(hl_rows_at(r, rows[i], col), &v, &is_int)) a->sumsq += (v - mean) * (v - mean);
    }
}

// Sample standard deviation (n - 1); NAN below two values.
static double acc_std(const accum *a) { return a->n >= 2 ? sqrt(a->sumsq / (a->n - 1)) : NAN; }

// Reduces one column over the rows of a group into a display cell.
static void reduce(const hl_rows *r, const int *rows, int nr, const hl_rep_column *col, int ci, int si,
                   dcell *out, dtable *dt) {
    accum a; acc_rows(r, rows, nr, ci, &a);
    const char *f = col->format;
    switch (col->agg) {
    case HL_AGG_NONE: case HL_AGG_FIRST:
        out->val = fmt_cell(hl_rows_at(r, rows[0], ci), f);
        if (si >= 0) out->sd = fmt_cell(hl_rows_at(r, rows[0], si), f);
        return;
    case HL_AGG_COUNT: out->val = fmt_num(a.n, 1, f); return;
    default: break;
    }
    if (!a.n) return;
    double mean = a.sum / a.n;
    switch (col->agg) {
    case HL_AGG_MEAN:
        out->val = fmt_num(mean, 0, f);
        if (si >= 0) { accum s; acc_rows(r, rows, nr, si, &s); if (s.n) out->sd = fmt_num(s.sum / s.n, 0, f); }
        break;
    case HL_AGG_STD: if (a.n >= 2) out->val = fmt_num(acc_std(&a), 0, f); break;
    case HL_AGG_MEAN_STD:
        out->val = fmt_num(mean, 0, f);
        if (a.n >= 2) out->sd = fmt_num(acc_std(&a), 0, f);
        if (!dt->has_mean_std || a.n < dt->n_min) dt->n_min = a.n;
        if (!dt->has_mean_std || a.n > dt->n_max) dt->n_max = a.n;
        dt->has_mean_std = 1;
        break;
    case HL_AGG_MIN: out->val = fmt_num(a.min, a.all_int, f); break;
    case HL_AGG_MAX: out->val = fmt_num(a.max, a.all_int, f); break;
    case HL_AGG_SUM: out->val = fmt_num(a.sum, a.all_int, f); break;
    default: break;
    }
}

static int same_key(const hl_rows *r, int a, int b, const int *keys, int nk) {
    for (int k = 0; k < nk; k++) {
        const hl_cell *x = hl_rows_at(r, a, keys[k]), *y = hl_rows_at(r, b, keys[k]);
        if ((x->type == SQLITE_NULL) != (y->type == SQLITE_NULL)) return 0;
        if (x->type != SQLITE_NULL && strcmp(x->text, y->text)) return 0;
    }
    return 1;
}

// Groups rows (group id per row, in order of first appearance).
static int group_rows(const hl_rows *r, const int *keys, int nk, int *gid, int *first) {
    int ng = 0;
    for (int i = 0; i < r->nrows; i++) {
        gid[i] = -1;
        for (int g = 0; g < ng && gid[i] < 0; g++)
            if (same_key(r, i, first[g], keys, nk)) gid[i] = g;
        if (gid[i] < 0) { gid[i] = ng; first[ng++] = i; }
    }
    return ng;
}

static const char *csv_format(const char *f) {
    if (f && !strcmp(f, "si")) return "%.10g";
    if (f && !strcmp(f, "int")) return "%d";
    return f;
}

static int build(const hl_rows *r, const hl_rep_table *t, dtable *dt) {
    memset(dt, 0, sizeof *dt);
    int n = r->nrows ? r->nrows : 1;
    int *keys = calloc((size_t)t->n_group_by + 1, sizeof *keys);
    int *gid = calloc((size_t)n, sizeof *gid), *first = calloc((size_t)n, sizeof *first);
    int *members = calloc((size_t)n, sizeof *members);
    int rc = keys && gid && first && members ? 0 : -1;
    for (int k = 0; !rc && k < t->n_group_by; k++) keys[k] = hl_rows_col(r, t->group_by[k]);
    int ng = 0;
    if (!rc) {
        if (t->n_group_by) ng = group_rows(r, keys, t->n_group_by, gid, first);
        else for (int i = 0; i < r->nrows; i++) { gid[i] = i; first[i] = i; ng = r->nrows; }
    }
    dt->ncols = t->n_cols; dt->nrows = ng;
    dt->cells = calloc((size_t)(ng ? ng : 1) * (size_t)t->n_cols, sizeof *dt->cells);
    if (!dt->cells) rc = -1;
    for (int g = 0; !rc && g < ng; g++) {
        int nm = 0;
        for (int i = first[g]; i < r->nrows; i++) if (gid[i] == g) members[nm++] = i;
        for (int c = 0; c < t->n_cols; c++) {
            const hl_rep_column *col = &t->cols[c];
            int ci = hl_rows_col(r, col->name), si = col->std ? hl_rows_col(r, col->std) : -1;
            if (ci < 0) continue;
            dcell *out = &dt->cells[(size_t)g * (size_t)t->n_cols + (size_t)c], plain = {0};
            reduce(r, members, nm, col, ci, si, out, dt);
            hl_rep_column pc = *col;
            pc.format = csv_format(col->format);
            reduce(r, members, nm, &pc, ci, si, &plain, dt);
            out->csv = plain.val; out->csv_sd = plain.sd;
        }
    }
    free(keys); free(gid); free(first); free(members);
    return rc;
}

static void dtable_free(dtable *dt) {
    for (int i = 0; dt->cells && i < dt->nrows * dt->ncols; i++) {
        free(dt->cells[i].val); free(dt->cells[i].sd); free(dt->cells[i].csv); free(dt->cells[i].csv_sd);
    }
    free(dt->cells);
}

// ---- writers ------------------------------------------------------------

static const char *basename_of(const char *p) { const char *s = strrchr(p, '/'); return s ? s + 1 : p; }

static void n_note(const dtable *dt, char *buf, size_t len) {
    buf[0] = 0;
    if (!dt->has_mean_std) return;
    if (dt->n_min == dt->n_max) snprintf(buf, len, "Mean ± sample std over n = %d runs per row.", dt->n_min);
    else snprintf(buf, len, "Mean ± sample std over n = %d to %d runs per row.", dt->n_min, dt->n_max);
}

static void md_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n') fputc(' ', f);
        else fputc(*s, f);
    }
}

static void write_md(FILE *f, const hl_report *rep, const hl_rep_table *t, const dtable *dt) {
    fprintf(f, "<!-- generated by hylab report from %s (table %s); do not edit -->\n\n",
            basename_of(rep->path), t->name);
    char note[128]; n_note(dt, note, sizeof note);
    if (t->title) { fputs("**", f); md_text(f, t->title); fputs(".**", f); }
    if (t->caption) { fputs(t->title ? " " : "", f); md_text(f, t->caption); }
    if (*note) fprintf(f, "%s%s", t->title || t->caption ? " " : "", note);
    if (t->title || t->caption || *note) fputs("\n\n", f);
    fputc('|', f);
    for (int c = 0; c < t->n_cols; c++) { fputc(' ', f); md_text(f, t->cols[c].label); fputs(" |", f); }
    fputs("\n|", f);
    for (int c = 0; c < t->n_cols; c++) {
        char a = t->cols[c].align;
        fputs(a == 'l' ? " :--- |" : a == 'r' ? " ---: |" : " :---: |", f);
    }
    fputc('\n', f);
    for (int r = 0; r < dt->nrows; r++) {
        fputc('|', f);
        for (int c = 0; c < t->n_cols; c++) {
            const dcell *d = &dt->cells[r * dt->ncols + c];
            fputc(' ', f);
            md_text(f, d->val ? d->val : "–");
            if (d->val && d->sd) { fputs(" ± ", f); md_text(f, d->sd); }
            fputs(" |", f);
        }
        fputc('\n', f);
    }
    if (!dt->nrows) fprintf(f, "\n_%s_\n", t->note_empty ? t->note_empty : "No data: the query returned no rows.");
}

static void tex_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '\\': fputs("\\textbackslash{}", f); break;
        case '&': case '%': case '$': case '#': case '_': case '{': case '}':
            fputc('\\', f); fputc(*s, f); break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\textasciicircum{}", f); break;
        case '\n': fputc(' ', f); break;
        default:
            if (!strncmp(s, "±", strlen("±"))) { fputs("$\\pm$", f); s += strlen("±") - 1; }
            else fputc(*s, f);
        }
    }
}

static void write_tex(FILE *f, const hl_report *rep, const hl_rep_table *t, const dtable *dt) {
    fprintf(f, "%% generated by hylab report from %s (table %s); do not edit\n", basename_of(rep->path), t->name);
    fputs("% needs \\usepackage{booktabs}\n\\begin{table}[t]\n  \\centering\n", f);
    char note[128]; n_note(dt, note, sizeof note);
    if (t->title || t->caption || *note) {
        fputs("  \\caption{", f);
        if (t->title) { tex_text(f, t->title); fputs(".", f); }
        if (t->caption) { fputs(t->title ? " " : "", f); tex_text(f, t->caption); }
        if (*note) { fputs(t->title || t->caption ? " " : "", f); tex_text(f, note); }
        fputs("}\n", f);
    }
    fprintf(f, "  \\label{tab:%s}\n  \\begin{tabular}{", t->name);
    for (int c = 0; c < t->n_cols; c++) fputc(t->cols[c].align, f);
    fputs("}\n    \\toprule\n    ", f);
    for (int c = 0; c < t->n_cols; c++) {
        if (c) fputs(" & ", f);
        if (t->cols[c].label_tex) fputs(t->cols[c].label_tex, f);
        else tex_text(f, t->cols[c].label);
    }
    fputs(" \\\\\n    \\midrule\n", f);
    for (int r = 0; r < dt->nrows; r++) {
        fputs("    ", f);
        for (int c = 0; c < t->n_cols; c++) {
            const dcell *d = &dt->cells[r * dt->ncols + c];
            if (c) fputs(" & ", f);
            if (!d->val) { fputs("--", f); continue; }
            tex_text(f, d->val);
            if (d->sd) { fputs(" $\\pm$ ", f); tex_text(f, d->sd); }
        }
        fputs(" \\\\\n", f);
    }
    if (!dt->nrows) {
        fprintf(f, "    \\multicolumn{%d}{c}{\\emph{", t->n_cols);
        tex_text(f, t->note_empty ? t->note_empty : "No data: the query returned no rows.");
        fputs("}} \\\\\n", f);
    }
    fputs("    \\bottomrule\n  \\end{tabular}\n\\end{table}\n", f);
}

static void csv_field(FILE *f, const char *s) {
    if (!s) return;
    if (!strpbrk(s, ",\"\n\r")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) { if (*s == '"') fputc('"', f); fputc(*s, f); }
    fputc('"', f);
}

// CSV: one field per column; a column with a std gets a second field "LABEL std".
static int col_has_std(const hl_rep_column *c) { return c->std || c->agg == HL_AGG_MEAN_STD; }

static void write_csv(FILE *f, const hl_rep_table *t, const dtable *dt) {
    for (int c = 0; c < t->n_cols; c++) {
        if (c) fputc(',', f);
        csv_field(f, t->cols[c].label);
        if (col_has_std(&t->cols[c])) {
            char h[512]; snprintf(h, sizeof h, "%s std", t->cols[c].label);
            fputc(',', f); csv_field(f, h);
        }
    }
    fputs("\r\n", f);
    for (int r = 0; r < dt->nrows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            const dcell *d = &dt->cells[r * dt->ncols + c];
            if (c) fputc(',', f);
            csv_field(f, d->csv);
            if (col_has_std(&t->cols[c])) { fputc(',', f); csv_field(f, d->csv_sd); }
        }
        fputs("\r\n", f);
    }
}

typedef enum { OUT_MD, OUT_TEX, OUT_CSV } out_kind;

static int write_one(const char *dir, const hl_report *rep, const hl_rep_table *t, const dtable *dt,
                     out_kind k, char *err, size_t errlen) {
    static const char *const ext[] = {"md", "tex", "csv"};
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, t->name, ext[k]);
    FILE *f = fopen(path, "wb");
    if (!f) { snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno)); return HL_REP_EFAIL; }
    if (k == OUT_MD) write_md(f, rep, t, dt);
    else if (k == OUT_TEX) write_tex(f, rep, t, dt);
    else write_csv(f, t, dt);
    int bad = ferror(f);
    if (fclose(f) || bad) { snprintf(err, errlen, "%s: write failed", path); return HL_REP_EFAIL; }
    return HL_REP_OK;
}

int hl_report_write_table(sqlite3 *db, const hl_report *rep, const hl_rep_table *t,
                          const char *dir, int *n_rows, char *err, size_t errlen) {
    hl_rows r;
    char qerr[512];
    int rc = hl_rows_query(db, t->sql, &r, qerr, sizeof qerr);
    if (rc) { snprintf(err, errlen, "%s: table '%s': sql: %s", rep->path, t->name, qerr); return rc; }
    dtable dt;
    if (build(&r, t, &dt)) {
        snprintf(err, errlen, "table '%s': out of memory", t->name);
        hl_rows_free(&r); dtable_free(&dt);
        return HL_REP_EFAIL;
    }
    *n_rows = dt.nrows;
    for (int k = OUT_MD; !rc && k <= OUT_CSV; k++) rc = write_one(dir, rep, t, &dt, (out_kind)k, err, errlen);
    hl_rows_free(&r);
    dtable_free(&dt);
    return rc;
}
