// db.c: opening/migrating the results database, provenance, and the run
// life cycle (record sweep, plan, claim, mark failed). See db.h.
#include "db.h"
#include "db_internal.h"

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

static const char *const HL_TABLES[] = {"sweeps", "runs", "metrics", "curves", "measurements", NULL};

static int has_table(sqlite3 *h, const char *name) {
    char *sql = sqlite3_mprintf("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = %Q", name);
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

int hl_db_pid_alive(int pid) {
    if (pid <= 0) return 0;
    return kill(pid, 0) == 0 || errno == EPERM;
}

int hl_db_run_state_get(hl_db *db, long long run_id, hl_db_run_state *s, char *err, size_t errlen) {
    sqlite3_stmt *st;
    memset(s, 0, sizeof *s);
    if (hl_db_prep(db, "SELECT status, pid, host, ended_at, error, attempts FROM runs WHERE id = ?",
                   &st, err, errlen)) return HL_EFAIL;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE) snprintf(err, errlen, "run %lld not found", run_id);
        else hl_db_fail(db->h, "reading a run", err, errlen);
        sqlite3_finalize(st);
        return HL_EFAIL;
    }
    const char *t;
    if ((t = (const char *)sqlite3_column_text(st, 0))) snprintf(s->status, sizeof s->status, "%s", t);
    s->pid = sqlite3_column_int(st, 1);
    if ((t = (const char *)sqlite3_column_text(st, 2))) snprintf(s->host, sizeof s->host, "%s", t);
    if ((t = (const char *)sqlite3_column_text(st, 3))) snprintf(s->ended_at, sizeof s->ended_at, "%s", t);
    if ((t = (const char *)sqlite3_column_text(st, 4))) snprintf(s->error, sizeof s->error, "%s", t);
    s->attempts = sqlite3_column_int(st, 5);
    sqlite3_finalize(st);
    return HL_OK;
}

static hl_claim_result decide_claim(const hl_db_run_state *s, const hl_claim_opts *o) {
    if (!strcmp(s->status, "queued") || !strcmp(s->status, "failed")) return HL_CLAIM_OK;
    if (!strcmp(s->status, "done") || !strcmp(s->status, "diverged"))
        return o->force ? HL_CLAIM_OK : HL_CLAIM_DONE;
    // running: take it over only when its process is known to be gone
    if (strcmp(s->host, o->prov->host) != 0) return HL_CLAIM_BUSY;
    return hl_db_pid_alive(s->pid) ? HL_CLAIM_BUSY : HL_CLAIM_OK;
}

static int take_run(hl_db *db, long long run_id, const hl_claim_opts *o, char *err, size_t errlen) {
    sqlite3_stmt *st;
    char now[32];
    hl_db_now_iso(now);
    if (hl_db_prep(db, "UPDATE runs SET status='running', pid=?, host=?, git_commit=?, threads=?,"
                       " backend=?, started_at=?, ended_at=NULL, wall_s=NULL, error=NULL,"
                       " fail_step=NULL, attempts=attempts+1 WHERE id=?", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_int(st, 1, o->pid);
    sqlite3_bind_text(st, 2, o->prov->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, o->prov->git_commit, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, o->threads);
    hl_db_bind_text_or_null(st, 5, o->backend);
    sqlite3_bind_text(st, 6, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, run_id);
    return hl_db_step_done(db, st, err, errlen);
}

int hl_db_claim_run(hl_db *db, long long run_id, const hl_claim_opts *o,
                    hl_claim_result *res, char *err, size_t errlen) {
    if (hl_db_exec(db, "BEGIN IMMEDIATE", err, errlen)) return HL_EFAIL;
    hl_db_run_state s;
    int rc = hl_db_run_state_get(db, run_id, &s, err, errlen);
    if (!rc) {
        *res = decide_claim(&s, o);
        if (*res == HL_CLAIM_OK) rc = take_run(db, run_id, o, err, errlen);
    }
    if (rc) { hl_db_rollback(db); return rc; }
    return hl_db_exec(db, "COMMIT", err, errlen);
}

int hl_db_set_run_pid(hl_db *db, long long run_id, int old_pid, int new_pid,
                      char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (hl_db_prep(db, "UPDATE runs SET pid=? WHERE id=? AND status='running' AND pid=?",
                   &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_int(st, 1, new_pid);
    sqlite3_bind_int64(st, 2, run_id);
    sqlite3_bind_int(st, 3, old_pid);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    if (sqlite3_changes(db->h) == 1) return HL_OK;
    snprintf(err, errlen, "run %lld is no longer running under pid %d", run_id, old_pid);
    return HL_EFAIL;
}

int hl_db_last_step(hl_db *db, long long run_id, int *step, char *err, size_t errlen) {
    sqlite3_stmt *st;
    *step = -1;
    if (hl_db_prep(db, "SELECT step FROM curves WHERE run_id=? ORDER BY rowid DESC LIMIT 1",
                   &st, err, errlen)) return HL_EFAIL;
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) == SQLITE_ROW) *step = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return HL_OK;
}

static int mark_failed_row(hl_db *db, long long run_id, int pid, const char *reason,
                           int fail_step, int *changed, char *err, size_t errlen) {
    sqlite3_stmt *st;
    char now[32];
    hl_db_now_iso(now);
    if (hl_db_prep(db, "UPDATE runs SET status='failed', error=?, fail_step=?, ended_at=?,"
                       " wall_s=(julianday(?) - julianday(started_at)) * 86400.0"
                       " WHERE id=? AND status='running' AND pid=?", &st, err, errlen))
        return HL_EFAIL;
    sqlite3_bind_text(st, 1, reason, -1, SQLITE_TRANSIENT);
    if (fail_step >= 0) sqlite3_bind_int(st, 2, fail_step);
    else sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, run_id);
    sqlite3_bind_int(st, 6, pid);
    if (hl_db_step_done(db, st, err, errlen)) return HL_EFAIL;
    *changed = sqlite3_changes(db->h);
    return HL_OK;
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

int hl_db_mark_failed(hl_db *db, long long run_id, int pid, const char *reason,
                      int fail_step, char *err, size_t errlen) {
    if (hl_db_exec(db, "BEGIN IMMEDIATE", err, errlen)) return HL_EFAIL;
    int changed = 0;
    int rc = mark_failed_row(db, run_id, pid, reason, fail_step, &changed, err, errlen);
    // results of an earlier (forced-over) attempt must not survive a failure
    if (!rc && changed) rc = hl_db_delete_results(db, run_id, err, errlen);
    if (rc) { hl_db_rollback(db); return rc; }
    return hl_db_exec(db, "COMMIT", err, errlen);
}
