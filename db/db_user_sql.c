// db_user_sql.c: SQL written by a user (`hylab query`, report files) on a
// read-only connection. See db.h. Three layers keep it from changing
// anything: the connection is read-only (hl_db_open HL_DB_READONLY), an
// authorizer lets through only reading (no writes, not even to TEMP, no
// ATTACH/DETACH, no transactions, no PRAGMA that sets something) and no
// database can be attached (which also stops VACUUM INTO); and only one
// statement is prepared, and run only if SQLite says it is read-only.
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "db/db.h"

// PRAGMAs that only report; the first group also with an argument (a table
// or index name), the second only without "= value".
static const char *const INFO_PRAGMAS[] = {"table_info", "table_xinfo", "table_list", "index_list",
    "index_info", "index_xinfo", "foreign_key_list", "database_list", "collation_list",
    "function_list", "module_list", "pragma_list", "compile_options", NULL};
static const char *const VALUE_PRAGMAS[] = {"user_version", "schema_version", "application_id",
    "page_size", "page_count", "freelist_count", "encoding", "journal_mode", "foreign_keys",
    "integrity_check", "quick_check", NULL};

static int in_list(const char *const *list, const char *name) {
    for (int i = 0; name && list[i]; i++) if (!strcasecmp(list[i], name)) return 1;
    return 0;
}

static int authorize(void *unused, int action, const char *a, const char *b, const char *schema,
                     const char *trigger) {
    (void)unused; (void)schema; (void)trigger;
    switch (action) {
    case SQLITE_SELECT: case SQLITE_READ: case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_UPDATE:   // asked while SQLite sets up a table-valued function (json_each, pragma_*);
                          // a real UPDATE of the schema table is stopped by defensive mode
        return a && !strcmp(a, "sqlite_master") ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_FUNCTION:
        return b && !strcasecmp(b, "load_extension") ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_PRAGMA:
        return in_list(INFO_PRAGMAS, a) || (!b && in_list(VALUE_PRAGMAS, a)) ? SQLITE_OK : SQLITE_DENY;
    default:
        return SQLITE_DENY;
    }
}

void hl_db_lock_down(sqlite3 *h) {
    sqlite3_limit(h, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_set_authorizer(h, authorize, NULL);
}

int hl_db_prepare_one(sqlite3 *h, const char *sql, sqlite3_stmt **st, char *err, size_t errlen) {
    const char *tail = NULL;
    *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, st, &tail) != SQLITE_OK) {
        snprintf(err, errlen, "%s%s", sqlite3_errmsg(h), sqlite3_errcode(h) != SQLITE_AUTH ? "" :
                 ": the SQL may only read the database (SELECT, WITH, PRAGMAs that report)");
        return HL_EBADINPUT;
    }
    if (!*st) {
        snprintf(err, errlen, "no SQL statement (empty, or only comments)");
        return HL_EBADINPUT;
    }
    sqlite3_stmt *more = NULL;
    int rc = tail ? sqlite3_prepare_v2(h, tail, -1, &more, NULL) : SQLITE_OK;
    sqlite3_finalize(more);
    if (rc != SQLITE_OK || more) {
        snprintf(err, errlen, "only one SQL statement allowed (more after it: '%.40s')", tail);
    } else if (!sqlite3_stmt_readonly(*st)) {
        snprintf(err, errlen, "the SQL may only read the database (SELECT, WITH, PRAGMAs that report)");
    } else {
        return HL_OK;
    }
    sqlite3_finalize(*st);
    *st = NULL;
    return HL_EBADINPUT;
}
