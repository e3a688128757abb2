// db.h: the results database (SQLite) behind `hylab run --db`, query, merge
// and check. Schema: db/schema.sql (embedded in db/db_schema.c; tests/test_db.c
// checks the copies agree), forward migrations in db/migrations/NNN.sql.
//
// Every function returns HL_OK or an error code with a message in err.
// Write discipline (DESIGN.md "Database"): a run's final result (status,
// summary, metrics, measurements) is committed in ONE transaction; curves are
// streamed in small transactions while the run trains (tagged with their
// attempt, shown only once it is the result); claiming a run is atomic
// (BEGIN IMMEDIATE), so several runners can share one database.
#ifndef HYLAB_DB_H
#define HYLAB_DB_H

#include <stddef.h>
#include <sqlite3.h>
#include "core/results.h"

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
// Run fn(db, ctx, err, errlen) in one BEGIN IMMEDIATE transaction, committed
// if fn returns HL_OK. When a write fails because the disk (or the file size
// limit) is full, the WAL is checkpointed into the database and truncated,
// which frees the space its superseded page versions took, and fn is tried
// once more: a run can still be marked failed on a full disk.
typedef int (*hl_db_txn_fn)(hl_db *db, void *ctx, char *err, size_t errlen);
int hl_db_txn(hl_db *db, hl_db_txn_fn fn, void *ctx, char *err, size_t errlen);

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

// Attempts (schema version 2, db/migrations/002.sql). Each claim starts an
// attempt (runs.attempts counts them; table `attempts` has one row each, with
// its owner: host, pid and proc_id, the process's boot id and start time, so
// that a pid reused by an unrelated process is not taken for a live owner).
// The runs row shows the result of attempt runs.result_attempt: status,
// error, summary columns, metrics, measurements, and the view `curves` (the
// points of that attempt; table curve_points holds every attempt's points).
// A new attempt replaces that result only when it finishes:
//  - over a queued, failed or abandoned run, the row goes to 'running' (no
//    result shown) and the failed result's metrics and curves are dropped;
//  - over a done or diverged run (--force), the row keeps its status and
//    result while the attempt runs; if that attempt fails or is killed, the
//    row still shows the earlier result and `attempts` records the failure
//    (runs.attempts > runs.result_attempt).
typedef enum {
    HL_CLAIM_OK = 0,         // a new attempt is ours (owner: our pid/host)
    HL_CLAIM_DONE,           // finished earlier (done or diverged) and not forced
    HL_CLAIM_BUSY,           // an attempt runs under a live process (or on another host)
} hl_claim_result;

typedef struct {
    int force;               // also take done/diverged runs
    int pid;                 // recorded as the attempt's owner
    const hl_db_prov *prov;
    int threads;
    const char *backend;
} hl_claim_opts;

// Atomically start an attempt at a run: queued, failed, done/diverged with
// force, or one whose latest attempt is 'running' under a process that is
// gone (same host; pid dead or its proc_id differs): that attempt is closed as
// failed and the run taken over. attempts+1, started_at.
int hl_db_claim_run(hl_db *db, long long run_id, const hl_claim_opts *o,
                    hl_claim_result *res, char *err, size_t errlen);
// Hand the running attempt from owner old_pid to new_pid (the runner to its
// child; new_pid's proc_id is recorded).
int hl_db_set_run_pid(hl_db *db, long long run_id, int old_pid, int new_pid,
                      char *err, size_t errlen);

typedef struct {
    char status[16];         // the run: queued/running/done/failed/diverged
    char error[HL_ERR_LEN];  // the run's error (failed/diverged), or ""
    int attempts;            // attempts so far (the latest is number `attempts`)
    int result_attempt;      // the attempt whose result the row shows (0: none)
    // the latest attempt ("" and 0 when there is none):
    char attempt_status[16]; // running/done/failed/diverged
    char attempt_error[HL_ERR_LEN];
    int pid;                 // its owner process
    char host[256];
    char proc_id[80];        // the owner's identity (see hl_db_proc_id), "" if unknown
} hl_db_run_state;
int hl_db_run_state_get(hl_db *db, long long run_id, hl_db_run_state *st, char *err, size_t errlen);
// Last curve step recorded by the run's latest attempt (-1 if none).
int hl_db_last_step(hl_db *db, long long run_id, int *step, char *err, size_t errlen);
// Mark the run's latest attempt failed (e.g. its process died) if it is still
// running under pid. The run row shows the failure unless it keeps an earlier
// done/diverged result (see above); then only the attempt records it.
int hl_db_mark_failed(hl_db *db, long long run_id, int pid, const char *reason,
                      int fail_step, char *err, size_t errlen);

// A process's identity beyond its pid: "BOOT_ID:START_TIME" from
// /proc/sys/kernel/random/boot_id and field 22 of /proc/PID/stat; "" when
// it cannot be read (no such process, no /proc).
void hl_db_proc_id(int pid, char out[80]);
// Is the process pid alive and, when proc_id is known (non-empty), the same
// process that proc_id was recorded for?
int hl_db_proc_alive(int pid, const char *proc_id);

// ---------------------------------------------------------------- the db sink
// Curves go straight to curve_points, tagged with the run's latest attempt
// (one short transaction each); metrics and measurements are kept in memory
// and written by hl_db_finish_run.
typedef struct hl_db_sink hl_db_sink;
int hl_db_sink_new(hl_db *db, long long run_id, hl_db_sink **out, char *err, size_t errlen);
hl_sink hl_db_sink_iface(hl_db_sink *s);
void hl_db_sink_free(hl_db_sink *s);
// First write error seen by the sink (sinks return void), or NULL.
const char *hl_db_sink_error(const hl_db_sink *s);
// Commit the attempt's result in one transaction: the attempt's status, and
// the run's status/error/fail_step, summary, provenance, metrics and
// measurements, result_attempt; replaces the results of earlier attempts
// (their metrics, measurements and curve points). Fails, writing nothing, if
// the attempt is no longer running under the sink's process.
int hl_db_finish_run(hl_db_sink *s, const hl_run_summary *sum, double wall_s,
                     char *err, size_t errlen);

// ---------------------------------------------------------------- queries
// TEMP VIEW summary: one row per run: run_id, sweep, variant, grid, status,
// spec_hash, key spec fields as dotted columns ("model.layers", "train.lr",
// ...), params, active_params, steps, final_train_loss, tokens_per_s, wall_s, threads,
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
