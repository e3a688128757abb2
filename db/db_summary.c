// db_summary.c: the TEMP VIEW `summary` (one row per run, key spec fields as
// dotted columns, one column per distinct task.metric). See db.h.
#include "db.h"
#include "db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const spec_cols[] = {
    "model.layers", "model.n_layers", "model.d_model", "model.vocab_size", "model.meta_tokens",
    "model.attn.n_heads", "model.attn.n_kv_heads", "model.attn.head_dim", "model.attn.window",
    "model.ssm.d_state", "model.ssm.expand", "model.ffn.type", "model.ffn.d_ff",
    "train.task.name", "train.task.seq_len", "train.task.num_kv_pairs",
    "train.steps", "train.batch_size", "train.lr", "train.seed",
};

// Appends sqlite3_mprintf output to *sql (freed and replaced); NULL on OOM.
static char *append(char *sql, char *piece) {
    if (!sql || !piece) { sqlite3_free(sql); sqlite3_free(piece); return NULL; }
    char *r = sqlite3_mprintf("%s%s", sql, piece);
    sqlite3_free(sql);
    sqlite3_free(piece);
    return r;
}

static char *metric_cols(hl_db *db, char *sql, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(db, "SELECT DISTINCT task, metric FROM metrics ORDER BY task, metric", &st, err, errlen)) {
        sqlite3_free(sql);
        return NULL;
    }
    while (sql && sqlite3_step(st) == SQLITE_ROW) {
        const char *task = (const char *)sqlite3_column_text(st, 0);
        const char *metric = (const char *)sqlite3_column_text(st, 1);
        char name[512];
        snprintf(name, sizeof name, "%s.%s", task ? task : "", metric ? metric : "");
        sql = append(sql, sqlite3_mprintf(
            ",\n  (SELECT m.value FROM metrics m WHERE m.run_id = r.id AND m.task = %Q AND m.metric = %Q"
            " ORDER BY m.rowid DESC LIMIT 1) AS \"%w\"", task, metric, name));
    }
    sqlite3_finalize(st);
    if (!sql) snprintf(err, errlen, "out of memory building the summary view");
    return sql;
}

int hl_db_create_summary_view(hl_db *db, char *err, size_t errlen) {
    err[0] = 0;
    char *sql = sqlite3_mprintf(
        "DROP VIEW IF EXISTS temp.summary;\n"
        "CREATE TEMP VIEW summary AS SELECT\n"
        "  r.id AS run_id, r.sweep AS sweep, r.variant AS variant, r.grid_json AS grid,"
        " r.status AS status, r.spec_hash AS spec_hash");
    for (size_t i = 0; i < sizeof spec_cols / sizeof *spec_cols; i++)
        sql = append(sql, sqlite3_mprintf(",\n  json_extract(r.spec_json, '$.%s') AS \"%w\"",
                                          spec_cols[i], spec_cols[i]));
    sql = append(sql, sqlite3_mprintf(
        ",\n  r.params AS params, r.steps AS steps, r.final_train_loss AS final_train_loss,"
        " r.tokens_per_s AS tokens_per_s, r.wall_s AS wall_s, r.threads AS threads,"
        " r.blas_core AS blas_core, r.error AS error"));
    if (!sql) { snprintf(err, errlen, "out of memory building the summary view"); return HL_EFAIL; }
    sql = metric_cols(db, sql, err, errlen);
    sql = append(sql, sqlite3_mprintf("\nFROM runs r ORDER BY r.id"));
    if (!sql) { if (!err[0]) snprintf(err, errlen, "out of memory building the summary view"); return HL_EFAIL; }
    int rc = hl_db_exec(db, sql, err, errlen);
    sqlite3_free(sql);
    return rc;
}
