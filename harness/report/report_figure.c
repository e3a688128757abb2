// report_figure.c: one report figure -> DIR/NAME.dat (the plotted data, one
// gnuplot index block per series, or per panel of a heatmap) and DIR/NAME.gp (a gnuplot script that
// writes NAME.png with pngcairo and NAME.pdf with pdfcairo; run from DIR).
//
// Nothing from the report file or the database can run a command in
// gnuplot: every such string (titles, labels, legend entries, category
// names) goes into the script only through gp_string, as a single-quoted
// gnuplot string, the one form in which gnuplot substitutes nothing (no
// `backticks`, no @macros, no backslash escapes; '' is a quote), with line
// breaks and other control characters made spaces (a line break would end
// the command). The numbers come from the .dat file, which gnuplot reads as
// data; the rest of the script is hylab's own text.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness/report/report.h"

typedef struct { double x, y, err; int cat, n; } point;
typedef struct { char *name; point *p; int n, cap; } series;
typedef struct {
    series *s; int ns;
    char **cats; int ncat;          // bar: x categories in order of appearance
    int has_err, skipped;           // skipped: rows without a numeric y
} figdata;

static void figdata_free(figdata *d) {
    for (int i = 0; i < d->ns; i++) { free(d->s[i].name); free(d->s[i].p); }
    for (int i = 0; i < d->ncat; i++) free(d->cats[i]);
    free(d->s); free(d->cats);
}

static int num_of(const hl_cell *c, double *v) {
    if (c->type == SQLITE_INTEGER || c->type == SQLITE_FLOAT) { *v = c->num; return 1; }
    if (c->type != SQLITE_TEXT || !c->text[0]) return 0;
    char *end; *v = strtod(c->text, &end);
    return *end == 0;
}

static const char *text_of(const hl_cell *c) { return c->type == SQLITE_NULL ? "NULL" : c->text; }

// Index of name in list (appending it when new); -1 out of memory.
static int intern(char ***list, int *n, const char *name) {
    for (int i = 0; i < *n; i++) if (!strcmp((*list)[i], name)) return i;
    char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    if (!l) return -1;
    *list = l;
    if (!(l[*n] = strdup(name))) return -1;
    return (*n)++;
}

static int series_of(figdata *d, const char *name) {
    for (int i = 0; i < d->ns; i++) if (!strcmp(d->s[i].name, name)) return i;
    series *s = realloc(d->s, (size_t)(d->ns + 1) * sizeof *s);
    if (!s) return -1;
    d->s = s;
    memset(&s[d->ns], 0, sizeof *s);
    if (!(s[d->ns].name = strdup(name))) return -1;
    return d->ns++;
}

static int add_point(series *s, point p) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        point *np = realloc(s->p, (size_t)cap * sizeof *np);
        if (!np) return -1;
        s->p = np; s->cap = cap;
    }
    s->p[s->n++] = p;
    return 0;
}

// Mean (and sample std) of the points of each series that share an x.
static int aggregate(series *s, int with_std) {
    int out = 0;
    for (int i = 0; i < s->n; i++) {
        int j = 0;
        while (j < out && !(s->p[j].x == s->p[i].x && s->p[j].cat == s->p[i].cat)) j++;
        if (j == out) { s->p[out] = s->p[i]; s->p[out].n = 1; s->p[out].err = s->p[i].y * s->p[i].y; out++; continue; }
        s->p[j].y += s->p[i].y; s->p[j].err += s->p[i].y * s->p[i].y; s->p[j].n++;
    }
    for (int j = 0; j < out; j++) {
        point *p = &s->p[j];
        double sum = p->y, sumsq = p->err, m = sum / p->n;
        p->y = m;
        double var = p->n >= 2 ? (sumsq - sum * m) / (p->n - 1) : 0;
        p->err = with_std && var > 0 ? sqrt(var) : 0;
    }
    s->n = out;
    return 0;
}

static int cmp_x(const void *a, const void *b) {
    const point *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return p->n < q->n ? -1 : p->n > q->n;   // n holds the row order: stable
}

static int collect(const hl_rows *r, const hl_rep_figure *f, figdata *d, char *err, size_t errlen) {
    int xi = hl_rows_col(r, f->x), yi = hl_rows_col(r, f->y);
    int si = f->series ? hl_rows_col(r, f->series) : -1, ei = f->yerr ? hl_rows_col(r, f->yerr) : -1;
    if (xi < 0 || yi < 0 || (f->series && si < 0) || (f->yerr && ei < 0)) {
        snprintf(err, errlen, "a column named by the figure is missing from the result");
        return HL_REP_EBADINPUT;
    }
    d->has_err = f->yerr || f->agg == HL_AGG_MEAN_STD;
    for (int i = 0; i < r->nrows; i++) {
        point p = {0, 0, 0, 0, i};
        if (!num_of(hl_rows_at(r, i, yi), &p.y)) { d->skipped++; continue; }
        const hl_cell *xc = hl_rows_at(r, i, xi);
        if (f->kind == HL_FIG_BAR) {
            if ((p.cat = intern(&d->cats, &d->ncat, text_of(xc))) < 0) goto oom;
            p.x = p.cat;
        } else if (!num_of(xc, &p.x)) {
            if (xc->type == SQLITE_NULL) { d->skipped++; continue; }
            snprintf(err, errlen, "x column '%s' is not numeric (row %d: '%s'); use kind \"bar\" for "
                     "categories", f->x, i + 1, text_of(xc));
            return HL_REP_EBADINPUT;
        }
        if (ei >= 0 && !num_of(hl_rows_at(r, i, ei), &p.err)) p.err = 0;
        int s = series_of(d, si >= 0 ? text_of(hl_rows_at(r, i, si)) : "");
        if (s < 0 || add_point(&d->s[s], p)) goto oom;
    }
    for (int s = 0; s < d->ns; s++) {
        series *ser = &d->s[s];
        if (f->agg != HL_AGG_NONE) aggregate(ser, f->agg == HL_AGG_MEAN_STD);
        else if (f->kind == HL_FIG_BAR)
            for (int i = 0; i < ser->n; i++)
                for (int j = 0; j < i; j++)
                    if (ser->p[i].cat == ser->p[j].cat) {
                        snprintf(err, errlen, "several rows for x '%s'%s%s%s: set \"aggregate\" "
                                 "(mean or mean_std) or reduce them in the sql",
                                 d->cats[ser->p[i].cat], f->series ? " in series '" : "",
                                 f->series ? ser->name : "", f->series ? "'" : "");
                        return HL_REP_EBADINPUT;
                    }
        if (f->kind == HL_FIG_LINE) {
            for (int i = 0; i < ser->n; i++) ser->p[i].n = i;
            qsort(ser->p, (size_t)ser->n, sizeof *ser->p, cmp_x);
        }
    }
    return HL_REP_OK;
oom:
    snprintf(err, errlen, "out of memory");
    return HL_REP_EFAIL;
}

// ---- .dat ---------------------------------------------------------------

static double bar_width(int ns) { return 0.8 / (ns > 0 ? ns : 1); }
static double bar_pos(int cat, int s, int ns) { return cat + (s - (ns - 1) / 2.0) * bar_width(ns); }

static int is_control(char c) { return (unsigned char)c < 0x20 || c == 0x7f; }

// Text for a line of its own (a .dat/.gp comment, a .dat field): control
// characters become spaces; with quote, a quoted field in which that quote
// character becomes an apostrophe.
static void line_text(FILE *f, const char *s, char quote) {
    if (quote) fputc(quote, f);
    for (; *s; s++) fputc(is_control(*s) ? ' ' : quote && *s == quote ? '\'' : *s, f);
    if (quote) fputc(quote, f);
}

// A string in the gnuplot script: single-quoted (see the top of this file).
static void gp_string(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(is_control(*s) ? ' ' : *s, f);
    }
    fputc('\'', f);
}

// "# generated by hylab report from FILE (figure NAME)", first line of both files.
static void generated_by(FILE *f, const hl_report *rep, const hl_rep_figure *fig) {
    const char *base = strrchr(rep->path, '/') ? strrchr(rep->path, '/') + 1 : rep->path;
    fputs("# generated by hylab report from ", f);
    line_text(f, base, 0);
    fprintf(f, " (figure %s)\n", fig->name);
}

static void write_dat(FILE *f, const hl_report *rep, const hl_rep_figure *fig, const figdata *d) {
    generated_by(f, rep, fig);
    fprintf(f, "# one block per series (gnuplot 'index N'); columns: %s\n",
            fig->kind == HL_FIG_BAR ? "bar_position category y yerr" : "x y yerr");
    if (d->skipped) fprintf(f, "# %d rows without a numeric y (or x) left out\n", d->skipped);
    for (int s = 0; s < d->ns; s++) {
        if (s) fputs("\n\n", f);
        fprintf(f, "# series %d: ", s);
        line_text(f, d->s[s].name[0] ? d->s[s].name : "(all rows)", 0);
        fputc('\n', f);
        for (int i = 0; i < d->s[s].n; i++) {
            const point *p = &d->s[s].p[i];
            if (fig->kind == HL_FIG_BAR) {
                fprintf(f, "%.6g ", bar_pos(p->cat, s, d->ns));
                line_text(f, d->cats[p->cat], '"');
                fprintf(f, " %.9g %.9g\n", p->y, p->err);
            } else {
                fprintf(f, "%.9g %.9g %.9g\n", p->x, p->y, p->err);
            }
        }
    }
}

// ---- .gp ----------------------------------------------------------------

// Okabe-Ito colours (colour-blind safe), with distinct dashes and points.
static const char *const COLORS[8] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                      "#E69F00", "#56B4E9", "#000000", "#999999"};
static const int DASHES[8] = {1, 2, 4, 5, 3, 1, 2, 4};
static const int POINTS[8] = {7, 5, 9, 13, 11, 6, 4, 8};

static void gp_styles(FILE *f) {
    for (int i = 0; i < 8; i++)
        fprintf(f, "set linetype %d lc rgb '%s' lw 2 dt %d pt %d\n", i + 1, COLORS[i], DASHES[i], POINTS[i]);
    fputs("set linetype cycle 8\n", f);
}

static int max_len(char **v, int n);

// Legend. "above": a horizontal key just above the plot (below the title),
// with room made in the top margin, so that it never covers data.
static void gp_key(FILE *f, const hl_rep_figure *fig, const figdata *d) {
    const char *legend = fig->legend;
    if (!fig->series || !strcmp(legend, "none")) {
        fprintf(f, "unset key\nset tmargin %s\n", fig->title ? "3" : "1.5");
        return;
    }
    int ml = 1;
    for (int s = 0; s < d->ns; s++) { int l = (int)strlen(d->s[s].name); if (l > ml) ml = l; }
    if (!strcmp(legend, "above")) {
        // about 70 characters fit across at 10pt in the 5in-wide PDF (and more in the PNG)
        int cols = 70 * fig->width / 800 / (ml + 7);
        if (cols < 1) cols = 1;
        if (cols > d->ns) cols = d->ns;
        int rows = (d->ns + cols - 1) / cols;
        fprintf(f, "set key at graph 0.5, 1.0 center bottom horizontal maxcols %d reverse Left "
                "samplen 2.5 spacing 1.15 width 2 height 0.6\n", cols);
        fprintf(f, "set tmargin %.2f\n", (fig->title ? 2.2 : 0.6) + 1.2 * rows + 0.5);
        if (fig->title) fprintf(f, "set title offset 0, %.2f\n", 1.2 * rows + 0.3);
        return;
    }
    if (!strcmp(legend, "below")) fputs("set key outside bottom center horizontal", f);
    else if (!strcmp(legend, "right")) fputs("set key outside right top vertical", f);
    else fprintf(f, "set key inside %s vertical opaque", legend);
    fputs(" reverse Left samplen 2.5 spacing 1.15 width 1\n", f);
}

static void gp_range(FILE *f, const char *axis, const int has[2], const double r[2], const char *deflt) {
    if (!has[0] && !has[1]) { if (deflt) fprintf(f, "set %srange %s\n", axis, deflt); return; }
    fprintf(f, "set %srange [", axis);
    if (has[0]) fprintf(f, "%.9g", r[0]); else fputc('*', f);
    fputc(':', f);
    if (has[1]) fprintf(f, "%.9g", r[1]); else fputc('*', f);
    fputs("]\n", f);
}

static int max_len(char **v, int n) {
    int m = 0;
    for (int i = 0; i < n; i++) { int l = (int)strlen(v[i]); if (l > m) m = l; }
    return m;
}

static void gp_bar_axes(FILE *f, const hl_rep_figure *fig, const figdata *d) {
    fputs("set xtics (", f);
    for (int c = 0; c < d->ncat; c++) {
        if (c) fputs(", ", f);
        gp_string(f, d->cats[c]);
        fprintf(f, " %d", c);
    }
    // rotate the category names when they would not fit side by side
    double slot = (fig->width - 150.0) / (d->ncat ? d->ncat : 1), need = max_len(d->cats, d->ncat) * 9.0;
    fprintf(f, ") scale 0%s\n", need > slot * 0.95 ? " rotate by 30 right" : "");
    fprintf(f, "set xrange [-0.6:%.1f]\n", d->ncat - 0.4);
    int neg = 0;
    for (int s = 0; s < d->ns; s++) for (int i = 0; i < d->s[s].n; i++) neg |= d->s[s].p[i].y < 0;
    gp_range(f, "y", fig->has_yrange, fig->yrange, fig->logy || neg ? NULL : "[0:*]");
    fprintf(f, "set boxwidth %.6g absolute\n", bar_width(d->ns) * 0.92);
    fputs("set style fill solid 0.85 border lc rgb '#333333'\nset grid noxtics ytics\n", f);
}

static void gp_plot_bar(FILE *f, const hl_rep_figure *fig, const figdata *d) {
    fputs("plot \\\n", f);
    for (int s = 0; s < d->ns; s++) {
        if (s) fputs(", \\\n", f);
        if (!fig->series) fprintf(f, "  '%s.dat' index %d using 1:3:($0+1) with boxes dt solid lc variable notitle", fig->name, s);
        else {
            fprintf(f, "  '%s.dat' index %d using 1:3 with boxes lt %d dt solid title ", fig->name, s, s + 1);
            gp_string(f, d->s[s].name);
        }
        if (d->has_err)
            fprintf(f, ", \\\n  '%s.dat' index %d using 1:($3-$4):(0):(2*$4) with vectors heads "
                    "size screen 0.008,90 dt solid lc rgb '#222222' lw 1.5 notitle", fig->name, s);
    }
    fputc('\n', f);
}

static void gp_plot_xy(FILE *f, const hl_rep_figure *fig, const figdata *d) {
    fputs("plot \\\n", f);
    int first = 1;
    if (fig->kind == HL_FIG_LINE && d->has_err)     // shaded mean +- std bands under the lines
        for (int s = 0; s < d->ns; s++, first = 0)
            fprintf(f, "%s  '%s.dat' index %d using 1:(%s):($2+$3) with filledcurves lt %d "
                    "fs transparent solid 0.18 noborder notitle", first ? "" : ", \\\n", fig->name, s,
                    fig->logy ? "$2-$3 > 0 ? $2-$3 : $2" : "$2-$3", s + 1);
    for (int s = 0; s < d->ns; s++, first = 0) {
        fputs(first ? "" : ", \\\n", f);
        if (fig->kind == HL_FIG_LINE) {
            int pi = d->s[s].n > 12 ? d->s[s].n / 8 : 1;
            fprintf(f, "  '%s.dat' index %d using 1:2 with linespoints lt %d pi %d", fig->name, s, s + 1, pi);
        } else if (d->has_err)
            fprintf(f, "  '%s.dat' index %d using 1:2:3 with yerrorbars lt %d dt solid", fig->name, s, s + 1);
        else
            fprintf(f, "  '%s.dat' index %d using 1:2 with points lt %d ps 1.3", fig->name, s, s + 1);
        if (fig->series) { fputs(" title ", f); gp_string(f, d->s[s].name); }
        else fputs(" notitle", f);
    }
    fputc('\n', f);
}

// Data extent on one axis (y includes the error bars; only positive values).
static int extent(const figdata *d, int y, double *lo, double *hi) {
    int n = 0;
    for (int s = 0; s < d->ns; s++)
        for (int i = 0; i < d->s[s].n; i++) {
            const point *p = &d->s[s].p[i];
            double v[3] = {y ? p->y : p->x, y ? p->y - p->err : 0, y ? p->y + p->err : 0};
            for (int k = 0; k < (y ? 3 : 1); k++) {
                if (!(v[k] > 0) || !isfinite(v[k])) continue;
                if (!n || v[k] < *lo) *lo = v[k];
                if (!n || v[k] > *hi) *hi = v[k];
                n++;
            }
        }
    return n;
}

// A log axis fitted to the data (gnuplot's autoscale extends it to whole
// decades, which wastes most of the plot for a loss between 0.3 and 4), with
// ticks at 1, 2, 5 (or 1..9) x 10^k when whole decades would give too few.
static void gp_log_axis(FILE *f, const char *axis, const figdata *d, int user_range) {
    fprintf(f, "set logscale %s\n", axis);
    double lo = 0, hi = 0;
    if (user_range || !extent(d, axis[0] == 'y', &lo, &hi)) return;
    double pad = pow(hi / lo, 0.04);
    if (pad < 1.02) pad = 1.02;
    lo /= pad; hi *= pad;
    fprintf(f, "set %srange [%.6g:%.6g]\n", axis, lo, hi);
    static const int sets[3][10] = {{1, 0}, {1, 2, 5, 0}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 0}};
    for (int k = 0; k < 3; k++) {
        int n = 0;
        char buf[2048]; size_t len = 0;
        for (int e = (int)floor(log10(lo)); e <= (int)ceil(log10(hi)) && len < sizeof buf - 64; e++)
            for (int j = 0; sets[k][j]; j++) {
                double t = sets[k][j] * pow(10, e);
                if (t < lo || t > hi) continue;
                len += (size_t)snprintf(buf + len, sizeof buf - len, "%s\"%g\" %.6g", n ? ", " : "", t, t);
                n++;
            }
        if (n >= 3 || (k == 2 && n >= 2)) { fprintf(f, "set %stics (%s)\n", axis, buf); return; }
    }
    // less than a factor of ~2: evenly spaced round values, as on a linear axis
    double raw = (hi - lo) / 4, mag = pow(10, floor(log10(raw))), step = 10 * mag;
    static const double nice[] = {1, 2, 2.5, 5};
    for (int j = 3; j >= 0; j--) if (nice[j] * mag >= raw) step = nice[j] * mag;
    fprintf(f, "set %stics (", axis);
    int n = 0;
    for (double t = ceil(lo / step) * step; t <= hi && n < 20; t += step, n++)
        fprintf(f, "%s\"%g\" %.6g", n ? ", " : "", t, t);
    fputs(")\n", f);
}

static void gp_no_data(FILE *f) {
    fputs("unset logscale\nset xrange [0:1]\nset yrange [0:1]\nset format x ''\nset format y ''\n"
          "unset key\nset label 1 'no data' at graph 0.5, 0.5 center font ',18' tc rgb '#666666'\n"
          "plot 2 notitle\n", f);
}

static void gp_terminal(FILE *f, const hl_rep_figure *fig, int pdf) {
    // PNG: pixels as configured; PDF: the same shape at 160 px per inch
    if (pdf) fprintf(f, "set terminal pdfcairo size %.3gin,%.3gin noenhanced font 'Sans,10' linewidth 0.8 rounded\n"
                     "set output '%s.pdf'\nset pointsize 0.55\n", fig->width / 160.0, fig->height / 160.0, fig->name);
    else fprintf(f, "set terminal pngcairo size %d,%d noenhanced font 'Sans,%d' linewidth 1.2 rounded\n"
                 "set output '%s.png'\nset pointsize 1.1\n", fig->width, fig->height, fig->width >= 700 ? 13 : 11, fig->name);
}

static void write_gp(FILE *f, const hl_report *rep, const hl_rep_figure *fig, const figdata *d) {
    generated_by(f, rep, fig);
    fprintf(f, "# edit and rerun in this directory: gnuplot %s.gp\n", fig->name);
    fputs("set encoding utf8\n", f);
    gp_terminal(f, fig, 0);
    gp_styles(f);
    fputs("set border 3 lw 1.2\nset tics nomirror out\nset grid lt 1 lw 0.8 lc rgb '#e0e0e0'\nset errorbars 1.5\nset pointintervalbox 0\n", f);
    if (fig->title) { fputs("set title ", f); gp_string(f, fig->title); fputc('\n', f); }
    fputs("set xlabel ", f); gp_string(f, fig->xlabel);
    fputs("\nset ylabel ", f); gp_string(f, fig->ylabel); fputc('\n', f);
    int npts = 0;
    for (int s = 0; s < d->ns; s++) npts += d->s[s].n;
    if (!npts) gp_no_data(f);
    else {
        gp_key(f, fig, d);
        if (fig->logx) gp_log_axis(f, "x", d, fig->has_xrange[0] || fig->has_xrange[1]);
        if (fig->logy) gp_log_axis(f, "y", d, fig->has_yrange[0] || fig->has_yrange[1]);
        if (fig->kind == HL_FIG_BAR) { gp_bar_axes(f, fig, d); gp_plot_bar(f, fig, d); }
        else {
            gp_range(f, "x", fig->has_xrange, fig->xrange, NULL);
            gp_range(f, "y", fig->has_yrange, fig->yrange, NULL);
            gp_plot_xy(f, fig, d);
        }
    }
    gp_terminal(f, fig, 1);
    fputs("replot\nunset output\n", f);
}

typedef struct heatdata heatdata;
static void heat_write_dat(FILE *f, const hl_report *rep, const hl_rep_figure *fig, const heatdata *h);
static void heat_write_gp(FILE *f, const hl_report *rep, const hl_rep_figure *fig, const heatdata *h);

// DIR/NAME.EXT (dat or gp) of a figure's data d, or of a heatmap's h (d NULL).
static int write_file(const char *dir, const char *name, const char *ext, const hl_report *rep,
                      const hl_rep_figure *fig, const figdata *d, const heatdata *h, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "wb");
    if (!f) { snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno)); return HL_REP_EFAIL; }
    int dat = !strcmp(ext, "dat");
    if (h) { if (dat) heat_write_dat(f, rep, fig, h); else heat_write_gp(f, rep, fig, h); }
    else if (dat) write_dat(f, rep, fig, d);
    else write_gp(f, rep, fig, d);
    int bad = ferror(f);
    if (fclose(f) || bad) { snprintf(err, errlen, "%s: write failed", path); return HL_REP_EFAIL; }
    return HL_REP_OK;
}

// ---- heatmap -------------------------------------------------------------
// x and y are categories (their text; sorted numerically when every value is
// a number, else in order of first appearance), z the cell value (mean of the
// rows of a cell with aggregate "mean"; one row per cell otherwise), series
// one panel each (gnuplot multiplot, `with image`, the value printed in each
// cell). Missing cells are NaN in the .dat and left blank.
struct heatdata {
    char **xs, **ys, **panels; int nx, ny, np;
    double *sum; int *cnt;          // (np, ny, nx)
    int skipped;
};

static void heat_free(heatdata *h) {
    for (int i = 0; i < h->nx; i++) free(h->xs[i]);
    for (int i = 0; i < h->ny; i++) free(h->ys[i]);
    for (int i = 0; i < h->np; i++) free(h->panels[i]);
    free(h->xs); free(h->ys); free(h->panels); free(h->sum); free(h->cnt);
}

static int cmp_num_text(const void *a, const void *b) {
    double x = strtod(*(char *const *)a, NULL), y = strtod(*(char *const *)b, NULL);
    return x < y ? -1 : x > y;
}

// Sorts the categories numerically when each is a number.
static void sort_if_numeric(char **v, int n) {
    for (int i = 0; i < n; i++) {
        char *end;
        strtod(v[i], &end);
        if (!v[i][0] || *end) return;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_num_text);
}

static int find_text(char **v, int n, const char *s) {
    for (int i = 0; i < n; i++) if (!strcmp(v[i], s)) return i;
    return -1;
}

static int heat_collect(const hl_rows *r, const hl_rep_figure *f, heatdata *h, char *err, size_t errlen) {
    int xi = hl_rows_col(r, f->x), yi = hl_rows_col(r, f->y), zi = hl_rows_col(r, f->z);
    int si = f->series ? hl_rows_col(r, f->series) : -1;
    if (xi < 0 || yi < 0 || zi < 0 || (f->series && si < 0)) {
        snprintf(err, errlen, "a column named by the figure is missing from the result");
        return HL_REP_EBADINPUT;
    }
    for (int i = 0; i < r->nrows; i++) {   // the categories and panels
        double z;
        if (!num_of(hl_rows_at(r, i, zi), &z)) continue;
        if (intern(&h->xs, &h->nx, text_of(hl_rows_at(r, i, xi))) < 0 ||
            intern(&h->ys, &h->ny, text_of(hl_rows_at(r, i, yi))) < 0 ||
            intern(&h->panels, &h->np, si >= 0 ? text_of(hl_rows_at(r, i, si)) : "") < 0) goto oom;
    }
    sort_if_numeric(h->xs, h->nx);
    sort_if_numeric(h->ys, h->ny);
    size_t cells = (size_t)h->np * h->nx * h->ny;
    h->sum = calloc(cells + 1, sizeof *h->sum);
    h->cnt = calloc(cells + 1, sizeof *h->cnt);
    if (!h->sum || !h->cnt) goto oom;
    for (int i = 0; i < r->nrows; i++) {
        double z;
        if (!num_of(hl_rows_at(r, i, zi), &z)) { h->skipped++; continue; }
        int x = find_text(h->xs, h->nx, text_of(hl_rows_at(r, i, xi)));
        int y = find_text(h->ys, h->ny, text_of(hl_rows_at(r, i, yi)));
        int p = find_text(h->panels, h->np, si >= 0 ? text_of(hl_rows_at(r, i, si)) : "");
        size_t c = ((size_t)p * h->ny + y) * h->nx + x;
        if (h->cnt[c] && f->agg == HL_AGG_NONE) {
            snprintf(err, errlen, "several rows for the cell x '%s', y '%s'%s%s%s: set \"aggregate\": \"mean\" "
                     "or reduce them in the sql", h->xs[x], h->ys[y], f->series ? " of panel '" : "",
                     f->series ? h->panels[p] : "", f->series ? "'" : "");
            return HL_REP_EBADINPUT;
        }
        h->sum[c] += z;
        h->cnt[c]++;
    }
    return HL_REP_OK;
oom:
    snprintf(err, errlen, "out of memory");
    return HL_REP_EFAIL;
}

static void heat_write_dat(FILE *f, const hl_report *rep, const hl_rep_figure *fig, const heatdata *h) {
    generated_by(f, rep, fig);
    fputs("# one block per panel (gnuplot 'index N'); columns: x_index y_index z (NaN: no data)\n# x categories:", f);
    for (int i = 0; i < h->nx; i++) { fputc(' ', f); line_text(f, h->xs[i], '"'); }
    fputs("\n# y categories:", f);
    for (int i = 0; i < h->ny; i++) { fputc(' ', f); line_text(f, h->ys[i], '"'); }
    fputc('\n', f);
    if (h->skipped) fprintf(f, "# %d rows without a numeric z left out\n", h->skipped);
    for (int p = 0; p < h->np; p++) {
        if (p) fputs("\n\n", f);
        fprintf(f, "# panel %d: ", p);
        line_text(f, h->panels[p][0] ? h->panels[p] : "(all rows)", 0);
        fputc('\n', f);
        for (int y = 0; y < h->ny; y++) {
            for (int x = 0; x < h->nx; x++) {
                size_t c = ((size_t)p * h->ny + y) * h->nx + x;
                if (h->cnt[c]) fprintf(f, "%d %d %.9g\n", x, y, h->sum[c] / h->cnt[c]);
                else fprintf(f, "%d %d NaN\n", x, y);
            }
            fputc('\n', f);   // gnuplot: a blank line ends a scan line of the grid
        }
    }
}

static void heat_tics(FILE *f, const char *axis, char **v, int n) {
    fprintf(f, "set %stics (", axis);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        gp_string(f, v[i]);
        fprintf(f, " %d", i);
    }
    fputs(") scale 0\n", f);
}

// The plots (after a terminal): one panel per series, in a grid of at most 3 columns.
static void heat_plots(FILE *f, const hl_rep_figure *fig, const heatdata *h) {
    if (!h->np) { gp_no_data(f); return; }
    // labels white on the darker half of the colour range
    double lo = 0, hi = 0;
    int any = 0;
    for (size_t c = 0; c < (size_t)h->np * h->nx * h->ny; c++) {
        if (!h->cnt[c]) continue;
        double v = h->sum[c] / h->cnt[c];
        if (!any || v < lo) lo = v;
        if (!any || v > hi) hi = v;
        any = 1;
    }
    if (fig->has_zrange[0]) lo = fig->zrange[0];
    if (fig->has_zrange[1]) hi = fig->zrange[1];
    double mid = (lo + hi) / 2;
    int cols = h->np < 3 ? h->np : 3, rows = (h->np + cols - 1) / cols;
    fprintf(f, "set multiplot layout %d,%d", rows, cols);
    if (fig->title) { fputs(" title ", f); gp_string(f, fig->title); }
    fputc('\n', f);
    for (int p = 0; p < h->np; p++) {
        fputs("set title ", f);
        gp_string(f, h->panels[p]);
        fprintf(f, "\nplot '%s.dat' index %d using 1:2:3 with image notitle, \\\n"
                "     '' index %d using 1:2:($3 == $3 ? sprintf('%%.1f', $3) : ''):($3 > %.9g ? 0xffffff : 0x000000) "
                "with labels font ',9' tc rgb variable notitle\n", fig->name, p, p, mid);
    }
    fputs("unset multiplot\n", f);
}

static void heat_write_gp(FILE *f, const hl_report *rep, const hl_rep_figure *fig, const heatdata *h) {
    generated_by(f, rep, fig);
    fprintf(f, "# edit and rerun in this directory: gnuplot %s.gp\n", fig->name);
    fputs("set encoding utf8\nset border 3 lw 1.2\nset tics nomirror out\nunset key\nset view map\n", f);
    fputs("set xlabel ", f); gp_string(f, fig->xlabel);
    fputs("\nset ylabel ", f); gp_string(f, fig->ylabel);
    fputs("\nset cblabel ", f); gp_string(f, fig->zlabel);
    fputc('\n', f);
    // colour-blind-safe sequential palette (light yellow -> dark blue), blank NaN cells
    fputs("set palette defined (0 '#ffffd9', 0.25 '#c7e9b4', 0.5 '#41b6c4', 0.75 '#225ea8', 1 '#081d58')\n", f);
    gp_range(f, "cb", fig->has_zrange, fig->zrange, NULL);
    if (h->np) {
        heat_tics(f, "x", h->xs, h->nx);
        heat_tics(f, "y", h->ys, h->ny);
        fprintf(f, "set xrange [-0.5:%.1f]\nset yrange [-0.5:%.1f]\n", h->nx - 0.5, h->ny - 0.5);
    }
    gp_terminal(f, fig, 0);
    heat_plots(f, fig, h);
    gp_terminal(f, fig, 1);   // multiplot cannot be replotted: drawn again
    heat_plots(f, fig, h);
    fputs("unset output\n", f);
}

static int write_heatmap(const hl_rows *r, const hl_report *rep, const hl_rep_figure *f, const char *dir,
                         int *n_points, int *skipped, char *err, size_t errlen) {
    heatdata h = {0};
    char e[512];
    int rc = heat_collect(r, f, &h, e, sizeof e);
    if (rc) { snprintf(err, errlen, "%s: figure '%s': %s", rep->path, f->name, e); heat_free(&h); return rc; }
    for (size_t c = 0; c < (size_t)h.np * h.nx * h.ny; c++) *n_points += h.cnt[c] > 0;
    if (!*n_points && f->optional) { *skipped = 1; heat_free(&h); return HL_REP_OK; }
    rc = write_file(dir, f->name, "dat", rep, f, NULL, &h, err, errlen);
    if (!rc) rc = write_file(dir, f->name, "gp", rep, f, NULL, &h, err, errlen);
    heat_free(&h);
    return rc;
}

int hl_report_write_figure(sqlite3 *db, const hl_report *rep, const hl_rep_figure *f,
                           const char *dir, int *n_points, int *skipped, char *err, size_t errlen) {
    hl_rows r;
    char e[512];
    *n_points = 0; *skipped = 0;
    int rc = hl_rows_query(db, f->sql, &r, e, sizeof e);
    if (rc) { snprintf(err, errlen, "%s: figure '%s': sql: %s", rep->path, f->name, e); return rc; }
    if (f->kind == HL_FIG_HEATMAP) {
        rc = write_heatmap(&r, rep, f, dir, n_points, skipped, err, errlen);
        hl_rows_free(&r);
        return rc;
    }
    figdata d = {0};
    rc = collect(&r, f, &d, e, sizeof e);
    hl_rows_free(&r);
    if (rc) {
        snprintf(err, errlen, "%s: figure '%s': %s", rep->path, f->name, e);
        figdata_free(&d);
        return rc;
    }
    for (int s = 0; s < d.ns; s++) *n_points += d.s[s].n;
    if (!*n_points && f->optional) { *skipped = 1; figdata_free(&d); return HL_REP_OK; }
    rc = write_file(dir, f->name, "dat", rep, f, &d, NULL, err, errlen);
    if (!rc) rc = write_file(dir, f->name, "gp", rep, f, &d, NULL, err, errlen);
    figdata_free(&d);
    return rc;
}
