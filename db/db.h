// db.h: the results database (SQLite) behind `hylab run --db`, query, merge
// and check. Schema: db/schema.sql (embedded in db/db_schema.c; tests/test_db.c
// checks the copies agree), forward migrations in db/migrations/NNN.sql.
//
// Every function returns HL_OK or an error code with a message in err.
// Write discipline (DESIGN.md "Database"): a run's final result (status,
// summary, metrics, measurements) is committed in ONE transaction; curves are
// streamed in small transactions while the run trains; claiming a run is
// atomic (BEGIN IMMEDIATE), so several runners can share one database.
#ifndef HYLAB_DB_H
#define HYLAB_DB_H

#include <stddef.h>
#include <sqlite3.h>
#include "../harness/results.h"

#define HL_DB_BUSY_MS 60000

typedef struct hl_db hl_db;

enum { HL_DB_CREATE = 1, HL_DB_READONLY = 2 };      // flags of hl_db_open

// Embedded schema (== db/schema.sql) and migrations (== db/migrations/NNN.sql).
typedef struct { int version; const char *file; const char *sql; } hl_db_migration;
extern const char hl_db_schema_sql[];
extern const hl_db_migration hl_db_migrations[];   // terminated by version 0
extern const int hl_db_n_migrations;
// user_version after schema.sql (version 1) and every migration.
int hl_db_latest_version(void);

// Open (and with HL_DB_CREATE create) a database: WAL, busy timeout, foreign
// keys, schema applied / migrated forward. Without HL_DB_CREATE a missing file
// is an error (HL_EBADINPUT) and nothing is created.
// The file is validated before anything is written to it: an empty file
// (unless HL_DB_CREATE), a file that is not SQLite, an SQLite file without
// the hylab tables, or a schema newer than this hylab is HL_EBADINPUT and
// the file is left byte for byte as it was.
// HL_DB_READONLY: nothing is ever written (no WAL switch, no migration; an
// older schema is read as it is); works in a directory we cannot write
// (falls back to SQLite's immutable mode when the WAL files cannot be made).
// Every connection has double-quoted string literals off (SQLite's DQS
// misfeature: "no_such_column" is an error, never a string), defensive mode
// and the busy timeout; the file name is passed as a "file:" URI.
int hl_db_open(const char *path, int flags, hl_db **out, char *err, size_t errlen);
// ATTACH the database at path AS schema on db, read-only, after validating it
// as hl_db_open(path, HL_DB_READONLY) does.
int hl_db_attach(hl_db *db, const char *path, const char *schema, char *err, size_t errlen);
void hl_db_close(hl_db *db);
sqlite3 *hl_db_sqlite(hl_db *db);
int hl_db_user_version(hl_db *db);
// Run SQL with no result rows; err gets sqlite's message on failure.
int hl_db_exec(hl_db *db, const char *sql, char *err, size_t errlen);

// ---------------------------------------------------------------- provenance
typedef struct {
    char git_commit[48];     // `git rev-parse --short HEAD` next to the binary, or "unknown"
    char host[256];
} hl_db_prov;
void hl_db_provenance(hl_db_prov *p);
// ISO-8601 UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z
void hl_db_now_iso(char out[32]);

// ---------------------------------------------------------------- sweeps and runs
int hl_db_record_sweep(hl_db *db, const char *name, const char *source_json,
                       const char *sweep_hash, long long *sweep_id, char *err, size_t errlen);
// Insert a queued run unless (sweep_id, spec_hash) exists; *run_id either way.
int hl_db_plan_run(hl_db *db, long long sweep_id, const char *sweep_name,
                   const char *variant, const char *grid_json, const char *spec_hash,
                   const char *spec_json, long long *run_id, char *err, size_t errlen);

typedef enum {
    HL_CLAIM_OK = 0,         // now ours (status running, our pid/host)
    HL_CLAIM_DONE,           // finished earlier (done or diverged) and not forced
    HL_CLAIM_BUSY,           // running under a live process (or on another host)
} hl_claim_result;

typedef struct {
    int force;               // also take done/diverged runs
    int pid;                 // recorded as the run's owner
    const hl_db_prov *prov;
    int threads;
    const char *backend;
} hl_claim_opts;

// Atomically take a run: queued, failed, or running under a dead pid on this
// host (also done/diverged with force) -> running, attempts+1, started_at.
int hl_db_claim_run(hl_db *db, long long run_id, const hl_claim_opts *o,
                    hl_claim_result *res, char *err, size_t errlen);
// Hand a running run from owner old_pid to new_pid (the runner to its child).
int hl_db_set_run_pid(hl_db *db, long long run_id, int old_pid, int new_pid,
                      char *err, size_t errlen);

typedef struct {
    char status[16];         // queued/running/done/failed/diverged
    int pid;
    char host[256];
    char ended_at[32];
    char error[HL_ERR_LEN];
    int attempts;
} hl_db_run_state;
int hl_db_run_state_get(hl_db *db, long long run_id, hl_db_run_state *st, char *err, size_t errlen);
// Last curve step recorded for a run (-1 if none).
int hl_db_last_step(hl_db *db, long long run_id, int *step, char *err, size_t errlen);
// Mark a run failed (e.g. its process died) if it is still running under pid.
int hl_db_mark_failed(hl_db *db, long long run_id, int pid, const char *reason,
                      int fail_step, char *err, size_t errlen);

// ---------------------------------------------------------------- the db sink
// Curves go straight to the database (one short transaction each); metrics
// and measurements are kept in memory and written by hl_db_finish_run.
typedef struct hl_db_sink hl_db_sink;
int hl_db_sink_new(hl_db *db, long long run_id, hl_db_sink **out, char *err, size_t errlen);
hl_sink hl_db_sink_iface(hl_db_sink *s);
void hl_db_sink_free(hl_db_sink *s);
// First write error seen by the sink (sinks return void), or NULL.
const char *hl_db_sink_error(const hl_db_sink *s);
// Commit the run's result in one transaction: status/error/fail_step,
// summary, provenance times, metrics and measurements; replaces results of
// earlier attempts (their metrics, measurements and curves).
int hl_db_finish_run(hl_db_sink *s, const hl_run_summary *sum, double wall_s,
                     char *err, size_t errlen);

// ---------------------------------------------------------------- queries
// TEMP VIEW summary: one row per run: run_id, sweep, variant, grid, status,
// spec_hash, key spec fields as dotted columns ("model.layers", "train.lr",
// ...), params, steps, final_train_loss, tokens_per_s, wall_s, threads,
// blas_core, error, and one column per distinct "task.metric" (latest value).
// Creates the TEMP VIEW `summary` on any connection, read-only ones included
// (see db/db_summary.c for its columns).
int hl_summary_view_create(sqlite3 *db, char *err, size_t errlen);
int hl_db_create_summary_view(hl_db *db, char *err, size_t errlen);

// ---------------------------------------------------------------- SQL from users
// (db/db_user_sql.c) For `hylab query` and report files, on a connection
// opened with HL_DB_READONLY. hl_db_lock_down (after the summary view is
// made): an authorizer allows reading only (SELECT, functions, PRAGMAs
// that report), nothing can be attached. hl_db_prepare_one: exactly one
// statement, and a read-only one, else HL_EBADINPUT with why (nothing run).
void hl_db_lock_down(sqlite3 *h);
int hl_db_prepare_one(sqlite3 *h, const char *sql, sqlite3_stmt **st, char *err, size_t errlen);

// ---------------------------------------------------------------- merge
typedef struct { int runs_added, runs_replaced, runs_kept, sweeps_added; } hl_db_merge_stats;
// Merge database file `src` into `dst`: runs keyed by (sweep hash, spec hash);
// a done run wins over any other state; no duplicates. One transaction.
int hl_db_merge(hl_db *dst, const char *src, hl_db_merge_stats *st, char *err, size_t errlen);
// The checks hl_db_merge makes of src before it writes anything, without
// writing: a hylab database (hl_db_open's rules) and not the file dst_path.
// `db merge` runs them on every input before it creates OUT.
int hl_db_merge_check(const char *dst_path, const char *src, char *err, size_t errlen);

#endif
