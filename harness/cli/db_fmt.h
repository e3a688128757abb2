// db_fmt.h: printing query results: aligned text table, CSV (RFC 4180), JSON.
// Shared by `hylab query` and `hylab check`.
#ifndef HYLAB_DB_FMT_H
#define HYLAB_DB_FMT_H
#include <stdio.h>
#include <sqlite3.h>

typedef enum { HL_FMT_TABLE = 0, HL_FMT_CSV = 1, HL_FMT_JSON = 2 } hl_fmt;

// Shortest decimal text that reads back as exactly v ("nan"/"inf" as is).
void hl_fmt_double(double v, char *buf, size_t n);

// An in-memory result table: cells are malloc'd strings (NULL = SQL NULL).
typedef struct {
    int ncol, nrow, cap;
    char **names;            // ncol
    char **cells;            // nrow * ncol
    unsigned char *numeric;  // nrow * ncol: 1 if the cell is a number
} hl_table;

int hl_table_init(hl_table *t, int ncol, const char *const *names);
int hl_table_add_row(hl_table *t, const char *const *cells, const unsigned char *numeric);
void hl_table_free(hl_table *t);
// Steps a prepared statement to the end, collecting its rows; SQLITE_DONE or an error code.
int hl_table_from_stmt(hl_table *t, sqlite3_stmt *st);
void hl_table_print(const hl_table *t, hl_fmt fmt, FILE *f);

#endif
