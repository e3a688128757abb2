// db_fmt.c: result tables printed as aligned text, CSV or JSON. See db_fmt.h.
#include "harness/cli/db_fmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void hl_fmt_double(double v, char *buf, size_t n) {
    if (isnan(v)) { snprintf(buf, n, "nan"); return; }
    if (isinf(v)) { snprintf(buf, n, v > 0 ? "inf" : "-inf"); return; }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static char *dup(const char *s) { return s ? strdup(s) : NULL; }

int hl_table_init(hl_table *t, int ncol, const char *const *names) {
    memset(t, 0, sizeof *t);
    t->ncol = ncol;
    t->names = calloc((size_t)(ncol ? ncol : 1), sizeof *t->names);
    if (!t->names) return -1;
    for (int c = 0; c < ncol; c++) t->names[c] = dup(names[c] ? names[c] : "");
    return 0;
}

int hl_table_add_row(hl_table *t, const char *const *cells, const unsigned char *numeric) {
    if (t->nrow == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cells, (size_t)cap * (size_t)(t->ncol ? t->ncol : 1) * sizeof *c);
        if (!c) return -1;
        t->cells = c;
        unsigned char *u = realloc(t->numeric, (size_t)cap * (size_t)(t->ncol ? t->ncol : 1));
        if (!u) return -1;
        t->numeric = u;
        t->cap = cap;
    }
    for (int c = 0; c < t->ncol; c++) {
        t->cells[t->nrow * t->ncol + c] = dup(cells[c]);
        t->numeric[t->nrow * t->ncol + c] = numeric[c];
    }
    t->nrow++;
    return 0;
}

void hl_table_free(hl_table *t) {
    for (int c = 0; c < t->ncol; c++) free(t->names[c]);
    for (int i = 0; i < t->nrow * t->ncol; i++) free(t->cells[i]);
    free(t->names); free(t->cells); free(t->numeric);
    memset(t, 0, sizeof *t);
}

static void cell_text(sqlite3_stmt *st, int c, char *buf, size_t n, const char **out, unsigned char *num) {
    int type = sqlite3_column_type(st, c);
    *num = type == SQLITE_INTEGER || type == SQLITE_FLOAT;
    if (type == SQLITE_NULL) { *out = NULL; return; }
    if (type == SQLITE_INTEGER) { snprintf(buf, n, "%lld", (long long)sqlite3_column_int64(st, c)); *out = buf; return; }
    if (type == SQLITE_FLOAT) { hl_fmt_double(sqlite3_column_double(st, c), buf, n); *out = buf; return; }
    *out = (const char *)sqlite3_column_text(st, c);
}

int hl_table_from_stmt(hl_table *t, sqlite3_stmt *st) {
    int ncol = sqlite3_column_count(st);
    const char **names = calloc((size_t)(ncol ? ncol : 1), sizeof *names);
    const char **cells = calloc((size_t)(ncol ? ncol : 1), sizeof *cells);
    unsigned char *num = calloc((size_t)(ncol ? ncol : 1), 1);
    char (*bufs)[40] = calloc((size_t)(ncol ? ncol : 1), sizeof *bufs);
    int rc = SQLITE_NOMEM;
    if (names && cells && num && bufs) {
        for (int c = 0; c < ncol; c++) names[c] = sqlite3_column_name(st, c);
        rc = hl_table_init(t, ncol, names) ? SQLITE_NOMEM : SQLITE_ROW;
    }
    while (rc == SQLITE_ROW && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < ncol; c++) cell_text(st, c, bufs[c], sizeof bufs[c], &cells[c], &num[c]);
        if (hl_table_add_row(t, cells, num)) rc = SQLITE_NOMEM;
    }
    free(names); free(cells); free(num); free(bufs);
    return rc;
}

// ---------------------------------------------------------------- printing
// Text tables show floats with 6 significant digits (CSV/JSON keep them exact).
static char *short_floats(const hl_table *t) {
    char *view = calloc((size_t)(t->nrow * t->ncol + 1), 24);
    if (!view) return NULL;
    for (int i = 0; i < t->nrow * t->ncol; i++) {
        const char *s = t->cells[i];
        if (s && t->numeric[i] && strpbrk(s, ".eE")) snprintf(view + 24 * i, 24, "%.6g", strtod(s, NULL));
    }
    return view;
}

static const char *text_cell(const hl_table *t, const char *view, int i) {
    return view && view[24 * i] ? view + 24 * i : t->cells[i];
}

static void print_text(const hl_table *t, FILE *f) {
    char *view = short_floats(t);
    size_t *w = calloc((size_t)(t->ncol ? t->ncol : 1), sizeof *w);
    if (!w) { free(view); return; }
    for (int c = 0; c < t->ncol; c++) w[c] = strlen(t->names[c]);
    for (int r = 0; r < t->nrow; r++)
        for (int c = 0; c < t->ncol; c++) {
            const char *s = text_cell(t, view, r * t->ncol + c);
            if (s && strlen(s) > w[c]) w[c] = strlen(s);
        }
    for (int c = 0; c < t->ncol; c++)
        fprintf(f, "%s%-*s", c ? "  " : "", c + 1 < t->ncol ? (int)w[c] : 0, t->names[c]);
    fputc('\n', f);
    for (int c = 0; c < t->ncol; c++) {
        fprintf(f, "%s", c ? "  " : "");
        for (size_t k = 0; k < w[c]; k++) fputc('-', f);
    }
    fputc('\n', f);
    for (int r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) {
            const char *s = text_cell(t, view, r * t->ncol + c);
            int right = t->numeric[r * t->ncol + c];
            int width = right || c + 1 < t->ncol ? (int)w[c] : 0;   // no trailing blanks
            fprintf(f, right ? "%s%*s" : "%s%-*s", c ? "  " : "", width, s ? s : "");
        }
        fputc('\n', f);
    }
    free(w);
    free(view);
}

static void csv_field(const char *s, FILE *f) {
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && (!s[0] || s[strlen(s) - 1] != ' ')) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void print_csv(const hl_table *t, FILE *f) {
    for (int c = 0; c < t->ncol; c++) { if (c) fputc(',', f); csv_field(t->names[c], f); }
    fputc('\n', f);
    for (int r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) { if (c) fputc(',', f); csv_field(t->cells[r * t->ncol + c], f); }
        fputc('\n', f);
    }
}

static void json_string(const char *s, FILE *f) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p == '\r') fputs("\\r", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_value(const char *s, int numeric, FILE *f) {
    if (!s) { fputs("null", f); return; }
    if (!numeric) { json_string(s, f); return; }
    if (strstr(s, "nan") || strstr(s, "inf")) fputs("null", f);  // JSON has no NaN/inf
    else fputs(s, f);
}

static void print_json(const hl_table *t, FILE *f) {
    fputc('[', f);
    for (int r = 0; r < t->nrow; r++) {
        fputs(r ? ",\n {" : "\n {", f);
        for (int c = 0; c < t->ncol; c++) {
            if (c) fputs(", ", f);
            json_string(t->names[c], f);
            fputs(": ", f);
            json_value(t->cells[r * t->ncol + c], t->numeric[r * t->ncol + c], f);
        }
        fputc('}', f);
    }
    fputs(t->nrow ? "\n]\n" : "]\n", f);
}

void hl_table_print(const hl_table *t, hl_fmt fmt, FILE *f) {
    if (fmt == HL_FMT_CSV) print_csv(t, f);
    else if (fmt == HL_FMT_JSON) print_json(t, f);
    else print_text(t, f);
}
