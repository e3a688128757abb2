// report.h: `hylab report`, paper-style tables and gnuplot figures from a
// results database. The report file format is documented in plots/README.md.
//
// Pipeline: hl_report_load (parse + validate the JSON, strictly, errors name
// the JSON path) -> hl_report_check (prepare every SQL statement against the
// database and check the column names it refers to; nothing is written yet)
// -> hl_report_write_table / hl_report_write_figure (one output set each).
// Library functions return HL_OK / HL_EFAIL / HL_EBADINPUT with a message.
#ifndef HYLAB_REPORT_H
#define HYLAB_REPORT_H

#include <stddef.h>
#include <sqlite3.h>
#include <cJSON.h>

enum { HL_REP_OK = 0, HL_REP_EFAIL = 1, HL_REP_EBADINPUT = 2 };

// How a table column (or a figure's y) is reduced over the rows of a group.
typedef enum {
    HL_AGG_NONE = 0, HL_AGG_FIRST, HL_AGG_MEAN, HL_AGG_STD, HL_AGG_MEAN_STD,
    HL_AGG_MIN, HL_AGG_MAX, HL_AGG_SUM, HL_AGG_COUNT
} hl_agg;

typedef struct {
    const char *name;       // result column of the SQL
    const char *std;        // optional result column holding a std: "mean ± std"
    const char *label;      // header text (escaped for each output format)
    const char *label_tex;  // optional raw LaTeX header (not escaped)
    const char *format;     // NULL, "pct", "si", "int" or one printf conversion
    char align;             // 'l', 'r' or 'c'
    hl_agg agg;             // with group_by: how to reduce the group's rows
} hl_rep_column;

typedef struct {
    const char *name, *title, *caption, *sql, *note_empty;
    const char **group_by; int n_group_by;
    hl_rep_column *cols; int n_cols;
} hl_rep_table;

typedef enum { HL_FIG_LINE = 0, HL_FIG_BAR, HL_FIG_SCATTER, HL_FIG_HEATMAP } hl_fig_kind;

typedef struct {
    const char *name, *title, *sql;
    hl_fig_kind kind;
    const char *x, *y, *series, *yerr;   // result columns (series, yerr optional)
    const char *z;                       // heatmap: the cell value column (x, y: categories;
                                         // series: one panel each)
    const char *xlabel, *ylabel, *legend, *zlabel;
    hl_agg agg;                          // NONE, MEAN or MEAN_STD over (series, x) (heatmap: (series, x, y))
    int logx, logy, optional;
    int width, height;                   // PNG pixels; PDF is width/160 inches
    int has_xrange[2], has_yrange[2];    // each end may be left automatic
    double xrange[2], yrange[2];
    int has_zrange[2];                   // heatmap: colour range (default: the data's)
    double zrange[2];
} hl_rep_figure;

typedef struct {
    cJSON *root;             // owns every string above
    const char *path;        // the report file, for messages
    const char *title;
    hl_rep_table *tables; int n_tables;
    hl_rep_figure *figures; int n_figures;
} hl_report;

// Parses and validates the report file; errors name the path:
// "plots/x.json: tables[0].columns[2].format: must be a string".
int hl_report_load(const char *path, hl_report *rep, char *err, size_t errlen);
void hl_report_free(hl_report *rep);

// A query result held in memory.
typedef struct { int type; double num; char *text; } hl_cell;  // type: SQLITE_*
typedef struct {
    int ncols, nrows, cap;
    char **names;
    hl_cell *cells;          // row-major, nrows * ncols
} hl_rows;

int hl_rows_query(sqlite3 *db, const char *sql, hl_rows *rows, char *err, size_t errlen);
int hl_rows_col(const hl_rows *rows, const char *name);   // index or -1
static inline const hl_cell *hl_rows_at(const hl_rows *r, int row, int col) {
    return &r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
}
void hl_rows_free(hl_rows *rows);

// Prepares every statement and checks that the columns named exist.
int hl_report_check(sqlite3 *db, const hl_report *rep, char *err, size_t errlen);

// Writes DIR/NAME.md, .tex and .csv. *n_rows gets the number of body rows.
int hl_report_write_table(sqlite3 *db, const hl_report *rep, const hl_rep_table *t,
                          const char *dir, int *n_rows, char *err, size_t errlen);

// Writes DIR/NAME.dat and DIR/NAME.gp (*skipped = 1 and nothing written for
// an optional figure without data). Rendering is separate: hl_report_render.
int hl_report_write_figure(sqlite3 *db, const hl_report *rep, const hl_rep_figure *f,
                           const char *dir, int *n_points, int *skipped,
                           char *err, size_t errlen);

// Finds gnuplot ($HYLAB_GNUPLOT or gnuplot on PATH). 0 if not found.
int hl_report_find_gnuplot(char *path, size_t len);
// Runs `gnuplot NAME.gp` in dir as a child process; checks its exit status.
int hl_report_render(const char *gnuplot, const char *dir, const char *name,
                     char *err, size_t errlen);

// Formats one number with a column format (see plots/README.md).
void hl_report_format_num(double v, int is_int, const char *format, char *buf, size_t len);
// Checks a column format; returns 0 if valid, else writes why.
int hl_report_check_format(const char *format, char *why, size_t len);


#endif
