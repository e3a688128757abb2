// db.c: opening/migrating the results database, provenance, and the run
// life cycle (record sweep, plan, claim an attempt, hand it over, mark it
// failed). See db.h.
#include "db/db.h"
#include "db/db_internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------- helpers
int hl_db_fail(sqlite3 *h, const char *what, char *err, size_t errlen) {
    if (err) snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(h));
    return HL_EFAIL;
}

int hl_db_prep(hl_db *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen) {
    if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) == SQLITE_OK) return HL_OK;
    *st = NULL;
    return hl_db_fail(db->h, "database", err, errlen);
}

// Step a statement expecting no rows (or ignoring them); finalizes it.
int hl_db_step_done(hl_db *db, sqlite3_stmt *st, char *err, size_t errlen) {
    int rc = sqlite3_step(st);
    while (rc == SQLITE_ROW) rc = sqlite3_step(st);
    int ok = rc == SQLITE_DONE;
    if (!ok) hl_db_fail(db->h, "database", err, errlen);
    sqlite3_finalize(st);
    return ok ? HL_OK : HL_EFAIL;
}

int hl_db_exec(hl_db *db, const char *sql, char *err, size_t errlen) {
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) == SQLITE_OK) return HL_OK;
    if (err) snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db->h));
    sqlite3_free(msg);
    return HL_EFAIL;
}

void hl_db_rollback(hl_db *db) { sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL); }

// Did the last failure come from a write that found no space?
static int write_failed(sqlite3 *h) {
    int e = sqlite3_extended_errcode(h) & 0xff;
    return e == SQLITE_FULL || e == SQLITE_IOERR;
}

static int txn_once(hl_db *db, hl_db_txn_fn fn, void *ctx, int *full, char *err, size_t errlen) {
    int rc = hl_db_exec(db, "BEGIN IMMEDIATE", err, errlen);
    if (!rc) rc = fn(db, ctx, err, errlen);
    if (!rc) rc = hl_db_exec(db, "COMMIT", err, errlen);
    *full = rc && write_failed(db->h);
    if (rc) hl_db_rollback(db);
    return rc;
}

int hl_db_txn(hl_db *db, hl_db_txn_fn fn, void *ctx, char *err, size_t errlen) {
    int full, rc = txn_once(db, fn, ctx, &full, err, errlen);
    if (!rc || !full) return rc;
    // The WAL holds many versions of few pages: folded into the database
    // and truncated, it gives back most of the space it took.
    sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return txn_once(db, fn, ctx, &full, err, errlen);
}

void hl_db_bind_text_or_null(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

void hl_db_bind_real_or_null(sqlite3_stmt *st, int i, double v) {
    if (v == v && v - v == 0) sqlite3_bind_double(st, i, v);  // finite
    else sqlite3_bind_null(st, i);
}

// One sqlite3_step of a one-value statement: *v the value, SQLite's code back.
static int read_int(sqlite3 *h, const char *sql, int *v) {
    sqlite3_stmt *st;
    *v = -1;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return sqlite3_errcode(h);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int(st, 0), rc = SQLITE_OK;
    else rc = sqlite3_errcode(h);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int pragma_int(sqlite3 *h, const char *sql) {
    int v;
    read_int(h, sql, &v);
    return v;
}

int hl_db_latest_version(void) {
    int v = 1;
    for (int i = 0; i < hl_db_n_migrations; i++)
        if (hl_db_migrations[i].version > v) v = hl_db_migrations[i].version;
    return v;
}

int hl_db_user_version(hl_db *db) { return pragma_int(db->h, "PRAGMA user_version"); }
sqlite3 *hl_db_sqlite(hl_db *db) { return db->h; }

// ---------------------------------------------------------------- open + migrate
static int apply_migrations(hl_db *db, char *err, size_t errlen) {
    int v = hl_db_user_version(db);
    if (v == 0) {   // validate() let through only an empty file or a schema-less hylab one
        if (hl_db_exec(db, hl_db_schema_sql, err, errlen)) return HL_EFAIL;
        v = hl_db_user_version(db);
    }
    for (int i = 0; i < hl_db_n_migrations; i++) {
        const hl_db_migration *m = &hl_db_migrations[i];
        if (m->version <= v) continue;
        if (hl_db_exec(db, m->sql, err, errlen)) return HL_EFAIL;
        v = hl_db_user_version(db);
        if (v != m->version) {
            snprintf(err, errlen, "migration %s left user_version %d (want %d)", m->file, v, m->version);
            return HL_EFAIL;
        }
    }
    return HL_OK;
}

static int migrate(hl_db *db, char *err, size_t errlen) {
    if (hl_db_user_version(db) == hl_db_latest_version()) return HL_OK;
    if (hl_db_exec(db, "BEGIN IMMEDIATE", err, errlen)) return HL_EFAIL;
    int rc = apply_migrations(db, err, errlen);
    if (rc) { hl_db_rollback(db); return rc; }
    return hl_db_exec(db, "COMMIT", err, errlen);
}

// Switching a new database to WAL needs a moment of exclusive access, and
// SQLite answers SQLITE_BUSY at once (without the busy handler) when another
// process is opening the same new file: retry for up to the busy timeout.
static int switch_to_wal(hl_db *db, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(db, "PRAGMA journal_mode = WAL", &st, err, errlen)) return HL_EFAIL;
    int ok = 0;
    for (int waited_ms = 0; !ok && waited_ms <= HL_DB_BUSY_MS; waited_ms += 10) {
        int rc = sqlite3_step(st);
        ok = rc == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
        if (ok || (rc != SQLITE_BUSY && rc != SQLITE_LOCKED && rc != SQLITE_ROW)) break;
        sqlite3_reset(st);
        usleep(10000);
    }
    if (!ok) hl_db_fail(db->h, "cannot switch to WAL mode", err, errlen);
    sqlite3_finalize(st);
    return ok ? HL_OK : HL_EFAIL;
}

static int set_pragmas(hl_db *db, char *err, size_t errlen) {
    if (hl_db_exec(db, "PRAGMA foreign_keys = ON", err, errlen)) return HL_EFAIL;
    if (switch_to_wal(db, err, errlen)) return HL_EFAIL;
    return hl_db_exec(db, "PRAGMA synchronous = NORMAL", err, errlen);
}

// "file:" URI of a path (SQLite's URI syntax: %, ?, # and bytes outside
// printable ASCII escaped; an absolute path gets an empty authority, so
// that "//x" stays a path) with a query string, e.g. "mode=ro".
static void path_uri(const char *path, const char *query, char *out, size_t n) {
    size_t k = (size_t)snprintf(out, n, "file:%s", path[0] == '/' ? "//" : "");
    for (const unsigned char *p = (const unsigned char *)path; *p && k + 4 < n; p++) {
        if (*p <= ' ' || *p >= 0x7f || strchr("%?#", *p)) k += (size_t)snprintf(out + k, n - k, "%%%02X", *p);
        else out[k++] = (char)*p;
    }
    snprintf(out + k, n - k, "%s%s", query && *query ? "?" : "", query ? query : "");
}

// Tables (or, for curves since schema version 2, a view) every version has.
static const char *const HL_TABLES[] = {"sweeps", "runs", "metrics", "curves", "measurements", NULL};

static int has_table(sqlite3 *h, const char *name) {
    char *sql = sqlite3_mprintf("SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = %Q",
                                name);
    int n = 0;
    int rc = sql ? read_int(h, sql, &n) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc == SQLITE_OK && n == 1;
}

// The first hylab table missing from the database, or NULL.
static const char *missing_table(sqlite3 *h) {
    for (int i = 0; HL_TABLES[i]; i++) if (!has_table(h, HL_TABLES[i])) return HL_TABLES[i];
    return NULL;
}

// Reads (never writes) what the file holds and refuses what is not a hylab
// database of this or an older schema version. *sqlite_rc: SQLite's code
// when the file could not be read at all. Only with HL_DB_CREATE does an
// empty file pass (to get the schema); a read-write open also takes a
// version-0 file with a runs table (made from schema.sql without its PRAGMA).
static int validate(hl_db *db, int flags, int *sqlite_rc, char *err, size_t errlen) {
    int v, tables;
    *sqlite_rc = read_int(db->h, "PRAGMA user_version", &v);
    if (!*sqlite_rc) *sqlite_rc = read_int(db->h, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &tables);
    if (*sqlite_rc == SQLITE_NOTADB) {
        snprintf(err, errlen, "%s: not a hylab database (not an SQLite file)", db->path);
        return HL_EBADINPUT;
    }
    if (*sqlite_rc) {
        snprintf(err, errlen, "%s: cannot read: %s", db->path, sqlite3_errmsg(db->h));
        return HL_EFAIL;
    }
    const char *missing = missing_table(db->h);
    int create = (flags & HL_DB_CREATE) && !(flags & HL_DB_READONLY);
    if (v == 0 && tables == 0 && create) return HL_OK;
    if (v == 0 && tables == 0) {
        snprintf(err, errlen, "%s: not a hylab database (an empty file)", db->path);
        return HL_EBADINPUT;
    }
    int legacy = v == 0 && !(flags & HL_DB_READONLY) && has_table(db->h, "runs");
    if (missing && !legacy) {
        snprintf(err, errlen, "%s: not a hylab database (no table '%s')", db->path, missing);
        return HL_EBADINPUT;
    }
    if (v > hl_db_latest_version()) {
        snprintf(err, errlen, "%s: database schema version %d is newer than this hylab (%d)",
                 db->path, v, hl_db_latest_version());
        return HL_EBADINPUT;
    }
    return HL_OK;
}

// Settings of every connection hylab opens (ATTACHed databases share them):
// double-quoted string literals off, so that a misspelt "column" is an error
// and not a string; defensive mode (no writable_schema and the like); the
// busy timeout.
static void configure(sqlite3 *h) {
    sqlite3_db_config(h, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL);
    sqlite3_db_config(h, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)NULL);
    sqlite3_db_config(h, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_busy_timeout(h, HL_DB_BUSY_MS);
}

static int db_connect(hl_db *db, const char *query, int oflags, char *err, size_t errlen) {
    path_uri(db->path, query, db->uri, sizeof db->uri);
    sqlite3_close(db->h);
    int rc = sqlite3_open_v2(db->uri, &db->h, oflags | SQLITE_OPEN_URI, NULL);
    if (rc != SQLITE_OK) {   // SQLITE_CANTOPEN: no such directory, or no permission: a bad path
        snprintf(err, errlen, "%s: %s", db->path, db->h ? sqlite3_errmsg(db->h) : "cannot open (out of memory)");
        return rc == SQLITE_CANTOPEN ? HL_EBADINPUT : HL_EFAIL;
    }
    configure(db->h);
    return HL_OK;
}

static int wal_has_data(const char *path) {
    char wal[4200];
    struct stat st;
    snprintf(wal, sizeof wal, "%s-wal", path);
    return stat(wal, &st) == 0 && st.st_size > 0;
}

// Read-only: "mode=ro", which needs the -wal and -shm files of a WAL
// database to exist or to be creatable; in a directory we cannot write
// (and with no unsaved WAL content) "immutable=1" reads the file as is.
static int open_readonly(hl_db *db, char *err, size_t errlen) {
    int sqlite_rc = 0;
    int rc = db_connect(db, "mode=ro", SQLITE_OPEN_READONLY, err, errlen);
    if (!rc) rc = validate(db, HL_DB_READONLY, &sqlite_rc, err, errlen);
    if (!rc || (sqlite_rc != SQLITE_READONLY && sqlite_rc != SQLITE_CANTOPEN)) return rc;
    if (wal_has_data(db->path)) {
        snprintf(err, errlen, "%s: cannot read: its directory is not writable and %s-wal holds data "
                 "(open it once where it can be written, to checkpoint it)", db->path, db->path);
        return HL_EFAIL;
    }
    rc = db_connect(db, "immutable=1", SQLITE_OPEN_READONLY, err, errlen);
    return rc ? rc : validate(db, HL_DB_READONLY, &sqlite_rc, err, errlen);
}

// Read-write: validated before anything is written (WAL switch, schema).
static int open_readwrite(hl_db *db, int flags, char *err, size_t errlen) {
    int sqlite_rc = 0;
    int oflags = SQLITE_OPEN_READWRITE | ((flags & HL_DB_CREATE) ? SQLITE_OPEN_CREATE : 0);
    int rc = db_connect(db, NULL, oflags, err, errlen);
    if (!rc) rc = validate(db, flags, &sqlite_rc, err, errlen);
    if (!rc) rc = set_pragmas(db, err, errlen);
    return rc ? rc : migrate(db, err, errlen);
}

int hl_db_open(const char *path, int flags, hl_db **out, char *err, size_t errlen) {
    *out = NULL;
    if (!(flags & HL_DB_CREATE) && access(path, F_OK) != 0) {
        snprintf(err, errlen, "%s: no such database", path);
        return HL_EBADINPUT;
    }
    hl_db *db = calloc(1, sizeof *db);
    if (!db) { snprintf(err, errlen, "out of memory opening %s", path); return HL_EFAIL; }
    snprintf(db->path, sizeof db->path, "%s", path);
    db->readonly = !!(flags & HL_DB_READONLY);
    int rc = db->readonly ? open_readonly(db, err, errlen) : open_readwrite(db, flags, err, errlen);
    if (rc) { hl_db_close(db); return rc; }
    *out = db;
    return HL_OK;
}

int hl_db_attach(hl_db *db, const char *path, const char *schema, char *err, size_t errlen) {
    hl_db *src;
    int rc = hl_db_open(path, HL_DB_READONLY, &src, err, errlen);
    if (rc) return rc;
    char *sql = sqlite3_mprintf("ATTACH DATABASE %Q AS \"%w\"", src->uri, schema);
    hl_db_close(src);
    rc = sql ? hl_db_exec(db, sql, err, errlen) : HL_EFAIL;
    if (!sql) snprintf(err, errlen, "out of memory attaching %s", path);
    sqlite3_free(sql);
    return rc;
}

void hl_db_close(hl_db *db) {
    if (!db) return;
    sqlite3_close(db->h);
    free(db);
}

// ---------------------------------------------------------------- provenance
void hl_db_now_iso(char out[32]) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char buf[24];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", buf, (int)(tv.tv_usec / 1000));
}

static void git_commit_near_exe(char *out, size_t n) {
    snprintf(out, n, "unknown");
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    if (strchr(exe, '\'')) return;           // keep the shell quoting trivial
    char cmd[PATH_MAX + 80];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --short HEAD 2>/dev/null", exe);
    FILE *f = popen(cmd, "r");
    if (!f) return;
    char line[64] = "";
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) snprintf(out, n, "%s", line);
    }
    pclose(f);
}

void hl_db_provenance(hl_db_prov *p) {
    git_commit_near_exe(p->git_commit, sizeof p->git_commit);
    if (gethostname(p->host, sizeof p->host) != 0) snprintf(p->host, sizeof p->host, "unknown");
    p->host[sizeof p->host - 1] = 0;
}

// ---------------------------------------------------------------- sweeps and runs
int hl_db_record_sweep(hl_db *db, const char *name, const char *source_json,
                       const char *sweep_hash, long long *sweep_id, char *err, size_t errlen) {
    sqlite3_stmt *st;
    char now[32];
    hl_db_now_iso(now);
    if (hl_db_prep(db, "INSERT OR IGNORE INTO sweeps(name, source_json, sweep_hash, created_at)"
                       " VALUES (?,?,?,?)", &st, err, errlen)) return HL_EFAIL;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, source_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, sweep_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    if (hl_db_prep(db, "SELECT id FROM sweeps WHERE sweep_hash = ?", &st, err, errlen)) return HL_EFAIL;
    sqlite3_bind_text(st, 1, sweep_hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_ROW ? HL_OK : HL_EFAIL;
    if (rc) hl_db_fail(db->h, "recording the sweep", err, errlen);
    else *sweep_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int hl_db_plan_run(hl_db *db, long long sweep_id, const char *sweep_name,
                   const char *variant, const char *grid_json, const char *spec_hash,
                   const char *spec_json, long long *run_id, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(db, "INSERT OR IGNORE INTO runs(sweep_id, sweep, variant, grid_json, spec_hash,"
                       " spec_json, status) VALUES (?,?,?,?,?,?,'queued')", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_int64(st, 1, sweep_id);
    hl_db_bind_text_or_null(st, 2, sweep_name);
    sqlite3_bind_text(st, 3, variant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, grid_json ? grid_json : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, spec_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, spec_json, -1, SQLITE_TRANSIENT);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    if (hl_db_prep(db, "SELECT id FROM runs WHERE sweep_id = ? AND spec_hash = ?", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_int64(st, 1, sweep_id);
    sqlite3_bind_text(st, 2, spec_hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_ROW ? HL_OK : HL_EFAIL;
    if (rc) hl_db_fail(db->h, "planning a run", err, errlen);
    else *run_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

// ---------------------------------------------------------------- owner processes
int hl_db_pid_alive(int pid) {
    if (pid <= 0) return 0;
    return kill(pid, 0) == 0 || errno == EPERM;
}

// Field 22 of /proc/PID/stat (start time in clock ticks after boot), or -1;
// *state: field 3 (R, S, ..., Z for a zombie).
static long long proc_start_time(int pid, char *state) {
    char path[64], buf[1024], *save = NULL;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');             // the command name may hold spaces and ')'
    if (!p) return -1;
    int field = 2;
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (++field == 3) *state = tok[0];
        if (field == 22) return strtoll(tok, NULL, 10);
    }
    return -1;
}

void hl_db_proc_id(int pid, char out[80]) {
    char state = '?';
    out[0] = 0;
    long long start = pid > 0 ? proc_start_time(pid, &state) : -1;
    if (start < 0 || state == 'Z' || state == 'X') return;   // gone, or dead and not yet reaped
    char boot[40] = "";                      // a UUID: 36 characters
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(boot, sizeof boot, f)) boot[0] = 0;
        fclose(f);
    }
    boot[strcspn(boot, "\r\n")] = 0;
    snprintf(out, 80, "%s:%lld", boot, start);
}

int hl_db_proc_alive(int pid, const char *proc_id) {
    char state = '?';
    if (!hl_db_pid_alive(pid)) return 0;
    if (proc_start_time(pid, &state) >= 0 && (state == 'Z' || state == 'X')) return 0;
    if (!proc_id || !proc_id[0]) return 1;   // recorded without an identity: cannot tell
    char now[80];
    hl_db_proc_id(pid, now);
    return !now[0] || !strcmp(now, proc_id);
}

// ---------------------------------------------------------------- run state
static int is_finished(const char *status) {
    return !strcmp(status, "done") || !strcmp(status, "diverged");
}

static void column_str(sqlite3_stmt *st, int i, char *out, size_t n) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    snprintf(out, n, "%s", t ? t : "");
}

int hl_db_run_state_get(hl_db *db, long long run_id, hl_db_run_state *s, char *err, size_t errlen) {
    sqlite3_stmt *st;
    memset(s, 0, sizeof *s);
    if (hl_db_prep(db, "SELECT r.status, r.error, r.attempts, r.result_attempt, a.status, a.error,"
                       " a.pid, a.host, a.proc_id FROM runs r LEFT JOIN attempts a"
                       " ON a.run_id = r.id AND a.attempt = r.attempts WHERE r.id = ?",
                   &st, err, errlen)) return HL_EFAIL;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE) snprintf(err, errlen, "run %lld not found", run_id);
        else hl_db_fail(db->h, "reading a run", err, errlen);
        sqlite3_finalize(st);
        return HL_EFAIL;
    }
    column_str(st, 0, s->status, sizeof s->status);
    column_str(st, 1, s->error, sizeof s->error);
    s->attempts = sqlite3_column_int(st, 2);
    s->result_attempt = sqlite3_column_int(st, 3);
    column_str(st, 4, s->attempt_status, sizeof s->attempt_status);
    column_str(st, 5, s->attempt_error, sizeof s->attempt_error);
    s->pid = sqlite3_column_int(st, 6);
    column_str(st, 7, s->host, sizeof s->host);
    column_str(st, 8, s->proc_id, sizeof s->proc_id);
    sqlite3_finalize(st);
    return HL_OK;
}

// ---------------------------------------------------------------- attempts
int hl_db_end_attempt(hl_db *db, long long run_id, int attempt, int pid, const char *status,
                      const char *error, int fail_step, int *changed, char *err, size_t errlen) {
    sqlite3_stmt *st;
    char now[32];
    hl_db_now_iso(now);
    if (hl_db_prep(db, "UPDATE attempts SET status=?1, error=?2, ended_at=?3, fail_step=?7"
                       " WHERE run_id=?4 AND attempt=?5 AND status='running' AND pid=?6", &st, err, errlen))
        return HL_EFAIL;
    if (fail_step >= 0) sqlite3_bind_int(st, 7, fail_step);
    sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
    hl_db_bind_text_or_null(st, 2, error);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, run_id);
    sqlite3_bind_int(st, 5, attempt);
    sqlite3_bind_int(st, 6, pid);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    *changed = sqlite3_changes(db->h);
    return HL_OK;
}

int hl_db_drop_points(hl_db *db, long long run_id, int keep_attempt, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(db, "DELETE FROM curve_points WHERE run_id=? AND attempt IS NOT ?", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_int64(st, 1, run_id);
    if (keep_attempt >= 0) sqlite3_bind_int(st, 2, keep_attempt);
    else sqlite3_bind_null(st, 2);
    return hl_db_step_done(db, st, err, errlen);
}

int hl_db_delete_results(hl_db *db, long long run_id, char *err, size_t errlen) {
    static const char *sqls[] = {"DELETE FROM metrics WHERE run_id=?",
                                 "DELETE FROM measurements WHERE run_id=?"};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st;
        if (hl_db_prep(db, sqls[i], &st, err, errlen)) return HL_EFAIL;
        sqlite3_bind_int64(st, 1, run_id);
        if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    }
    return HL_OK;
}

// ---------------------------------------------------------------- claim
typedef struct {
    long long run_id;
    const hl_claim_opts *o;
    hl_claim_result res;
} claim_ctx;

// *stale: the latest attempt is 'running' under an owner that is gone.
static hl_claim_result decide_claim(const hl_db_run_state *s, const hl_claim_opts *o, int *stale) {
    int running = !strcmp(s->attempt_status, "running");
    // an owner on another host cannot be checked from here
    int live = running && (strcmp(s->host, o->prov->host) != 0 || hl_db_proc_alive(s->pid, s->proc_id));
    *stale = running && !live;
    if (is_finished(s->status) && !o->force) return HL_CLAIM_DONE;
    return live ? HL_CLAIM_BUSY : HL_CLAIM_OK;
}

static int close_stale(hl_db *db, long long run_id, const hl_db_run_state *s, char *err, size_t errlen) {
    char why[HL_ERR_LEN];
    int changed;
    snprintf(why, sizeof why, "abandoned: its process (pid %d on %s) is gone", s->pid, s->host);
    return hl_db_end_attempt(db, run_id, s->attempts, s->pid, "failed", why, -1, &changed, err, errlen);
}

// Binds pid's proc_id (NULL when it cannot be read) to parameter i.
static void bind_proc_id(sqlite3_stmt *st, int i, int pid) {
    char proc[80];
    hl_db_proc_id(pid, proc);
    hl_db_bind_text_or_null(st, i, proc[0] ? proc : NULL);
}

static int insert_attempt(hl_db *db, long long run_id, int attempt, const hl_claim_opts *o,
                          const char *now, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(db, "INSERT INTO attempts(run_id, attempt, status, host, pid, proc_id, git_commit,"
                       " started_at) VALUES (?,?,'running',?,?,?,?,?)", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, attempt);
    sqlite3_bind_text(st, 3, o->prov->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, o->pid);
    bind_proc_id(st, 5, o->pid);
    sqlite3_bind_text(st, 6, o->prov->git_commit, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, now, -1, SQLITE_TRANSIENT);
    return hl_db_step_done(db, st, err, errlen);
}

// The row shows the new attempt: running, no result (the failed one goes).
static int show_attempt(hl_db *db, long long run_id, int attempt, const hl_claim_opts *o,
                        const char *now, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(db, "UPDATE runs SET status='running', pid=?, host=?, git_commit=?, threads=?,"
                       " backend=?, started_at=?, ended_at=NULL, wall_s=NULL, error=NULL,"
                       " fail_step=NULL, result_attempt=NULL, attempts=? WHERE id=?", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_int(st, 1, o->pid);
    sqlite3_bind_text(st, 2, o->prov->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, o->prov->git_commit, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, o->threads);
    hl_db_bind_text_or_null(st, 5, o->backend);
    sqlite3_bind_text(st, 6, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 7, attempt);
    sqlite3_bind_int64(st, 8, run_id);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    if (hl_db_delete_results(db, run_id, err, errlen)) return HL_EFAIL;
    return hl_db_drop_points(db, run_id, -1, err, errlen);
}

// A done/diverged run keeps its result while the new attempt runs.
static int count_attempt(hl_db *db, long long run_id, int attempt, int result_attempt,
                         char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(db, "UPDATE runs SET attempts=? WHERE id=?", &st, err, errlen)) return HL_EFAIL;
    sqlite3_bind_int(st, 1, attempt);
    sqlite3_bind_int64(st, 2, run_id);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    return hl_db_drop_points(db, run_id, result_attempt, err, errlen);
}

static int claim_txn(hl_db *db, void *ctx, char *err, size_t errlen) {
    claim_ctx *c = ctx;
    hl_db_run_state s;
    int stale;
    if (hl_db_run_state_get(db, c->run_id, &s, err, errlen)) return HL_EFAIL;
    c->res = decide_claim(&s, c->o, &stale);
    if (stale && close_stale(db, c->run_id, &s, err, errlen)) return HL_EFAIL;
    if (c->res != HL_CLAIM_OK) return HL_OK;
    char now[32];
    hl_db_now_iso(now);
    int n = s.attempts + 1;
    if (insert_attempt(db, c->run_id, n, c->o, now, err, errlen)) return HL_EFAIL;
    if (is_finished(s.status)) return count_attempt(db, c->run_id, n, s.result_attempt, err, errlen);
    return show_attempt(db, c->run_id, n, c->o, now, err, errlen);
}

int hl_db_claim_run(hl_db *db, long long run_id, const hl_claim_opts *o,
                    hl_claim_result *res, char *err, size_t errlen) {
    claim_ctx c = {run_id, o, HL_CLAIM_BUSY};
    int rc = hl_db_txn(db, claim_txn, &c, err, errlen);
    *res = c.res;
    return rc;
}

// ---------------------------------------------------------------- hand over
typedef struct { long long run_id; int old_pid, new_pid; } handover_ctx;

static int handover_txn(hl_db *db, void *ctx, char *err, size_t errlen) {
    handover_ctx *h = ctx;
    sqlite3_stmt *st;
    if (hl_db_prep(db, "UPDATE attempts SET pid=?1, proc_id=?2 WHERE run_id=?3 AND status='running'"
                       " AND pid=?4 AND attempt=(SELECT attempts FROM runs WHERE id=?3)", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_int(st, 1, h->new_pid);
    bind_proc_id(st, 2, h->new_pid);
    sqlite3_bind_int64(st, 3, h->run_id);
    sqlite3_bind_int(st, 4, h->old_pid);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    if (sqlite3_changes(db->h) != 1) {
        snprintf(err, errlen, "run %lld is no longer running under pid %d", h->run_id, h->old_pid);
        return HL_EFAIL;
    }
    if (hl_db_prep(db, "UPDATE runs SET pid=?1 WHERE id=?2 AND status='running' AND pid=?3", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_int(st, 1, h->new_pid);
    sqlite3_bind_int64(st, 2, h->run_id);
    sqlite3_bind_int(st, 3, h->old_pid);
    return hl_db_step_done(db, st, err, errlen);
}

int hl_db_set_run_pid(hl_db *db, long long run_id, int old_pid, int new_pid,
                      char *err, size_t errlen) {
    handover_ctx h = {run_id, old_pid, new_pid};
    return hl_db_txn(db, handover_txn, &h, err, errlen);
}

int hl_db_last_step(hl_db *db, long long run_id, int *step, char *err, size_t errlen) {
    sqlite3_stmt *st;
    *step = -1;
    if (hl_db_prep(db, "SELECT step FROM curve_points WHERE run_id=?1"
                       " AND attempt=(SELECT attempts FROM runs WHERE id=?1) ORDER BY rowid DESC LIMIT 1",
                   &st, err, errlen)) return HL_EFAIL;
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) == SQLITE_ROW) *step = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return HL_OK;
}

// ---------------------------------------------------------------- mark failed
typedef struct {
    long long run_id;
    int pid;
    const char *reason;
    int fail_step;
} mark_ctx;

static int fail_row(hl_db *db, const mark_ctx *m, int attempt, char *err, size_t errlen) {
    sqlite3_stmt *st;
    char now[32];
    hl_db_now_iso(now);
    if (hl_db_prep(db, "UPDATE runs SET status='failed', error=?1, fail_step=?2, ended_at=?3,"
                       " wall_s=(julianday(?3) - julianday(started_at)) * 86400.0, result_attempt=?4"
                       " WHERE id=?5", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_text(st, 1, m->reason, -1, SQLITE_TRANSIENT);
    if (m->fail_step >= 0) sqlite3_bind_int(st, 2, m->fail_step);
    else sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, attempt);
    sqlite3_bind_int64(st, 5, m->run_id);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    if (hl_db_delete_results(db, m->run_id, err, errlen)) return HL_EFAIL;
    return hl_db_drop_points(db, m->run_id, attempt, err, errlen);
}

static int mark_txn(hl_db *db, void *ctx, char *err, size_t errlen) {
    mark_ctx *m = ctx;
    hl_db_run_state s;
    int changed = 0;
    if (hl_db_run_state_get(db, m->run_id, &s, err, errlen)) return HL_EFAIL;
    if (hl_db_end_attempt(db, m->run_id, s.attempts, m->pid, "failed", m->reason, m->fail_step, &changed,
                          err, errlen))
        return HL_EFAIL;
    if (!changed) return HL_OK;               // not running under pid (any more)
    // an earlier done/diverged result stays; the killed attempt's points go
    if (is_finished(s.status)) return hl_db_drop_points(db, m->run_id, s.result_attempt, err, errlen);
    return fail_row(db, m, s.attempts, err, errlen);
}

int hl_db_mark_failed(hl_db *db, long long run_id, int pid, const char *reason,
                      int fail_step, char *err, size_t errlen) {
    mark_ctx m = {run_id, pid, reason, fail_step};
    return hl_db_txn(db, mark_txn, &m, err, errlen);
}
