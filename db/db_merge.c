// db_merge.c: merging shard databases (`hylab db merge`). See db.h.
// Runs are keyed by (sweep hash, spec hash). For a run in both databases the
// better state wins (done > diverged > failed > running > queued); on a tie
// the destination's row stays. Winners are copied with their metrics, curve
// points, measurements and attempts; the whole merge of one input is one
// transaction. An input is validated and then attached read-only (only an
// input of an older schema is written to: migrated forward first).
#include "db/db.h"
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int rank(const char *status) {
    static const char *order[] = {"queued", "running", "failed", "diverged", "done"};
    for (int i = 0; i < 5; i++) if (status && !strcmp(status, order[i])) return i;
    return -1;
}

// Comma-separated columns of main.TABLE except `skip1` and `skip2`.
static char *columns(hl_db *db, const char *table, const char *skip1, const char *skip2) {
    char *sql = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q) ORDER BY cid", table);
    sqlite3_stmt *st;
    char *cols = NULL;
    if (!sql || sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) { sqlite3_free(sql); return NULL; }
    sqlite3_free(sql);
    cols = sqlite3_mprintf("%s", "");
    while (cols && sqlite3_step(st) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0);
        if (!strcmp(n, skip1) || !strcmp(n, skip2)) continue;
        char *c = sqlite3_mprintf("%s%s\"%w\"", cols, cols[0] ? ", " : "", n);
        sqlite3_free(cols);
        cols = c;
    }
    sqlite3_finalize(st);
    return cols;
}

static int exec_ids(hl_db *db, const char *sql, long long a, long long b, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(db, sql, &st, err, errlen)) return HL_EFAIL;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) > 1) sqlite3_bind_int64(st, 2, b);
    return hl_db_step_done(db, st, err, errlen);
}

static int copy_children(hl_db *db, long long dst_id, long long src_id, char *err, size_t errlen) {
    static const char *tables[] = {"metrics", "curve_points", "measurements", "attempts"};
    for (int i = 0; i < 4; i++) {
        char *cols = columns(db, tables[i], "run_id", "run_id");
        char *del = sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE run_id = ?1", tables[i]);
        char *ins = cols ? sqlite3_mprintf("INSERT INTO main.\"%w\"(run_id, %s) SELECT ?1, %s FROM"
                                           " src.\"%w\" WHERE run_id = ?2 ORDER BY rowid",
                                           tables[i], cols, cols, tables[i]) : NULL;
        int rc = (!del || !ins) ? HL_EFAIL : HL_OK;
        if (rc) snprintf(err, errlen, "out of memory merging %s", tables[i]);
        if (!rc) rc = exec_ids(db, del, dst_id, 0, err, errlen);
        if (!rc) rc = exec_ids(db, ins, dst_id, src_id, err, errlen);
        sqlite3_free(cols); sqlite3_free(del); sqlite3_free(ins);
        if (rc) return rc;
    }
    return HL_OK;
}

// The destination run matching a source run, or 0; *dst_status its status.
static int find_dst(hl_db *db, const char *sweep_hash, const char *spec_hash, long long *dst_id,
                    char *dst_status, char *err, size_t errlen) {
    sqlite3_stmt *st;
    *dst_id = 0;
    if (hl_db_prep(db, "SELECT r.id, r.status FROM main.runs r LEFT JOIN main.sweeps s ON s.id = r.sweep_id"
                       " WHERE r.spec_hash = ? AND s.sweep_hash IS ? ORDER BY r.id LIMIT 1", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_text(st, 1, spec_hash, -1, SQLITE_TRANSIENT);
    hl_db_bind_text_or_null(st, 2, sweep_hash);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *dst_id = sqlite3_column_int64(st, 0);
        snprintf(dst_status, 16, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    return HL_OK;
}

static int insert_run(hl_db *db, const char *cols, const char *sweep_hash, long long src_id,
                      long long *dst_id, char *err, size_t errlen) {
    char *sql = sqlite3_mprintf("INSERT INTO main.runs(sweep_id, %s) SELECT"
                                " (SELECT id FROM main.sweeps WHERE sweep_hash IS ?1), %s"
                                " FROM src.runs WHERE id = ?2", cols, cols);
    sqlite3_stmt *st;
    int rc = sql ? hl_db_prep(db, sql, &st, err, errlen) : HL_EFAIL;
    sqlite3_free(sql);
    if (rc) return HL_EFAIL;
    hl_db_bind_text_or_null(st, 1, sweep_hash);
    sqlite3_bind_int64(st, 2, src_id);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    *dst_id = sqlite3_last_insert_rowid(db->h);
    return HL_OK;
}

static int replace_run(hl_db *db, const char *cols, long long dst_id, long long src_id,
                       char *err, size_t errlen) {
    char *sql = sqlite3_mprintf("UPDATE main.runs SET (%s) = (SELECT %s FROM src.runs WHERE id = ?2)"
                                " WHERE id = ?1", cols, cols);
    if (!sql) { snprintf(err, errlen, "out of memory"); return HL_EFAIL; }
    int rc = exec_ids(db, sql, dst_id, src_id, err, errlen);
    sqlite3_free(sql);
    return rc;
}

static int merge_run(hl_db *db, const char *cols, sqlite3_stmt *src, hl_db_merge_stats *stats,
                     char *err, size_t errlen) {
    long long src_id = sqlite3_column_int64(src, 0);
    const char *sweep_hash = (const char *)sqlite3_column_text(src, 1);
    const char *spec_hash = (const char *)sqlite3_column_text(src, 2);
    const char *status = (const char *)sqlite3_column_text(src, 3);
    long long dst_id;
    char dst_status[16] = "";
    if (find_dst(db, sweep_hash, spec_hash, &dst_id, dst_status, err, errlen)) return HL_EFAIL;
    if (dst_id && rank(status) <= rank(dst_status)) { stats->runs_kept++; return HL_OK; }
    int rc = dst_id ? replace_run(db, cols, dst_id, src_id, err, errlen)
                    : insert_run(db, cols, sweep_hash, src_id, &dst_id, err, errlen);
    if (rc) return rc;
    if (dst_status[0]) stats->runs_replaced++;
    else stats->runs_added++;
    return copy_children(db, dst_id, src_id, err, errlen);
}

static int merge_all(hl_db *db, hl_db_merge_stats *stats, char *err, size_t errlen) {
    if (hl_db_exec(db, "INSERT OR IGNORE INTO main.sweeps(name, source_json, sweep_hash, created_at)"
                       " SELECT name, source_json, sweep_hash, created_at FROM src.sweeps ORDER BY id",
                   err, errlen)) return HL_EFAIL;
    stats->sweeps_added = sqlite3_changes(db->h);
    char *cols = columns(db, "runs", "id", "sweep_id");
    sqlite3_stmt *st;
    if (!cols || hl_db_prep(db, "SELECT r.id, s.sweep_hash, r.spec_hash, r.status FROM src.runs r"
                                " LEFT JOIN src.sweeps s ON s.id = r.sweep_id ORDER BY r.id",
                            &st, err, errlen)) {
        if (!cols) snprintf(err, errlen, "out of memory");
        sqlite3_free(cols);
        return HL_EFAIL;
    }
    int rc = HL_OK, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) rc = merge_run(db, cols, st, stats, err, errlen);
    if (!rc && step != SQLITE_DONE) rc = hl_db_fail(db->h, "reading runs", err, errlen);
    sqlite3_finalize(st);
    sqlite3_free(cols);
    return rc;
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Validates src without writing to it (and refuses dst itself); *older: its
// schema is older than this hylab's.
static int check_source(const char *dst_path, const char *src, int *older, char *err, size_t errlen) {
    *older = 0;
    if (same_file(dst_path, src)) {
        snprintf(err, errlen, "%s: cannot merge a database into itself", src);
        return HL_EBADINPUT;
    }
    hl_db *s;
    int rc = hl_db_open(src, HL_DB_READONLY, &s, err, errlen);
    if (rc) return rc;
    *older = hl_db_user_version(s) < hl_db_latest_version();
    hl_db_close(s);
    return HL_OK;
}

int hl_db_merge_check(const char *dst_path, const char *src, char *err, size_t errlen) {
    int older;
    return check_source(dst_path, src, &older, err, errlen);
}

int hl_db_merge(hl_db *dst, const char *src, hl_db_merge_stats *stats, char *err, size_t errlen) {
    memset(stats, 0, sizeof *stats);
    int older;
    hl_db *s = NULL;
    int rc = check_source(dst->path, src, &older, err, errlen);
    if (!rc && older) rc = hl_db_open(src, 0, &s, err, errlen);   // migrates it forward
    hl_db_close(s);
    if (!rc) rc = hl_db_attach(dst, src, "src", err, errlen);
    if (rc) return rc;
    rc = hl_db_exec(dst, "BEGIN IMMEDIATE", err, errlen);
    if (!rc) rc = merge_all(dst, stats, err, errlen);
    if (rc) hl_db_rollback(dst);
    else rc = hl_db_exec(dst, "COMMIT", err, errlen);
    hl_db_exec(dst, "DETACH DATABASE src", NULL, 0);
    return rc;
}
