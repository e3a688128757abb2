// test_db.c: the results database layer (db/db.h): schema and version,
// open errors, planning, atomic claims across processes, the db sink and
// the one-transaction finish, marking failures, merge without duplicates.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/test.h"
#include "db/db.h"

static char dir[] = "/tmp/hylab_test_db_XXXXXX";
static char err[HL_ERR_LEN];

static const char *path_in(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static long long scalar(hl_db *db, const char *sql) {
    sqlite3_stmt *st;
    long long v = -999;
    if (sqlite3_prepare_v2(hl_db_sqlite(db), sql, -1, &st, NULL) != SQLITE_OK) return -998;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static void test_embedded_schema(void) {
    char *file = read_file("db/schema.sql");
    if (!file) { hl_skip("db_schema_embedded_matches_file", "db/schema.sql not found (run from the repo root)"); return; }
    hl_check(!strcmp(file, hl_db_schema_sql), "db_schema_embedded_matches_file",
             "db/db_schema.c is out of date with db/schema.sql (regenerate it, see its header)");
    free(file);
    for (int i = 0; i < hl_db_n_migrations; i++) {
        char *m = read_file(hl_db_migrations[i].file);
        hl_check(m && !strcmp(m, hl_db_migrations[i].sql), "db_migration_embedded_matches_file",
                 "%s differs from its embedded copy", hl_db_migrations[i].file);
        free(m);
    }
}

static void test_open(void) {
    hl_db *db;
    int rc = hl_db_open(path_in("missing.db"), 0, &db, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && access(path_in("missing.db"), F_OK) != 0, "db_open_missing_no_create",
             "rc %d, file created: %d", rc, access(path_in("missing.db"), F_OK) == 0);
    FILE *f = fopen(path_in("junk.db"), "w");
    fputs("this is not a database, just some text that is long enough to look like a header.....", f);
    fclose(f);
    rc = hl_db_open(path_in("junk.db"), HL_DB_CREATE, &db, err, sizeof err);
    hl_check(rc == HL_EBADINPUT, "db_open_junk_is_bad_input", "rc %d (%s)", rc, err);
    rc = hl_db_open(path_in("a.db"), HL_DB_CREATE, &db, err, sizeof err);
    if (!hl_check(rc == HL_OK, "db_create", "%s", err)) return;
    hl_check(hl_db_user_version(db) == hl_db_latest_version() && hl_db_latest_version() >= 1,
             "db_user_version", "version %d, latest %d", hl_db_user_version(db), hl_db_latest_version());
    hl_check(scalar(db, "SELECT count(*) FROM sqlite_master WHERE type IN ('table','view') AND name IN"
                        " ('sweeps','runs','metrics','curves','measurements','attempts','curve_points')") == 7,
             "db_tables_created", "missing tables");
    hl_check(scalar(db, "SELECT journal_mode = 'wal' FROM pragma_journal_mode") == 1, "db_wal_mode", "not WAL");
    hl_check(scalar(db, "PRAGMA foreign_keys") == 1, "db_foreign_keys_on", "off");
    hl_db_exec(db, "PRAGMA user_version = 999", err, sizeof err);
    hl_db_close(db);
    rc = hl_db_open(path_in("a.db"), 0, &db, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "newer"), "db_newer_version_refused", "rc %d: %s", rc, err);
    if (!rc) hl_db_close(db);
}

static hl_db *fresh(const char *name) {
    hl_db *db = NULL;
    unlink(path_in(name));
    if (hl_db_open(path_in(name), HL_DB_CREATE, &db, err, sizeof err)) printf("open %s: %s\n", name, err);
    return db;
}

static long long plan(hl_db *db, const char *sweep_hash, const char *spec_hash) {
    long long sid = 0, rid = 0;
    if (hl_db_record_sweep(db, "s", "{}", sweep_hash, &sid, err, sizeof err) ||
        hl_db_plan_run(db, sid, "s", "v", "{}", spec_hash, "{\"train\":{\"seed\":1}}", &rid, err, sizeof err))
        printf("plan: %s\n", err);
    return rid;
}

static void test_plan(void) {
    hl_db *db = fresh("plan.db");
    if (!db) return;
    long long a = plan(db, "sw1", "h1"), b = plan(db, "sw1", "h1"), c = plan(db, "sw1", "h2");
    hl_check(a > 0 && a == b && c != a, "db_plan_unique_per_sweep_and_hash", "ids %lld %lld %lld", a, b, c);
    hl_check(scalar(db, "SELECT count(*) FROM sweeps") == 1 && scalar(db, "SELECT count(*) FROM runs WHERE status='queued'") == 2,
             "db_plan_queued", "bad counts");
    hl_db_close(db);
}

static hl_db_prov prov;

static int claim(hl_db *db, long long run, int pid, int force) {
    hl_claim_opts o = {force, pid, &prov, 1, "cpu"};
    hl_claim_result r;
    if (hl_db_claim_run(db, run, &o, &r, err, sizeof err)) { printf("claim: %s\n", err); return -1; }
    return (int)r;
}

static int dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return (int)p;
}

static void test_claim_states(void) {
    hl_db *db = fresh("claim.db");
    if (!db) return;
    long long run = plan(db, "sw", "h");
    hl_check(claim(db, run, getpid(), 0) == HL_CLAIM_OK, "db_claim_queued", "not claimed");
    hl_check(claim(db, run, getpid(), 0) == HL_CLAIM_BUSY, "db_claim_running_live_pid_busy", "claimed twice");
    int dead = dead_pid();
    hl_check(hl_db_set_run_pid(db, run, getpid(), dead, err, sizeof err) == HL_OK, "db_set_run_pid", "%s", err);
    hl_check(claim(db, run, getpid(), 0) == HL_CLAIM_OK, "db_claim_running_dead_pid", "dead owner kept it");
    hl_check(scalar(db, "SELECT attempts FROM runs") == 2, "db_claim_counts_attempts", "attempts %lld",
             scalar(db, "SELECT attempts FROM runs"));
    hl_check(hl_db_mark_failed(db, run, getpid(), "killed by signal 9 (SIGKILL) at step ~3", 3, err, sizeof err) == HL_OK &&
             scalar(db, "SELECT status='failed' AND fail_step=3 AND error LIKE 'killed%' FROM runs") == 1,
             "db_mark_failed", "%s", err);
    hl_check(scalar(db, "SELECT fail_step FROM attempts WHERE attempt=2") == 3 &&
             scalar(db, "SELECT fail_step IS NULL FROM attempts WHERE attempt=1") == 1,
             "db_mark_failed_attempt_fail_step", "attempt fail_step %lld",
             scalar(db, "SELECT fail_step FROM attempts WHERE attempt=2"));
    hl_check(claim(db, run, getpid(), 0) == HL_CLAIM_OK, "db_claim_failed_retried", "failed run not retried");
    hl_db_close(db);
}

// K processes race to claim R runs; each keeps its pid alive until all are
// done, so exactly R claims must succeed in total.
static void test_claim_atomic(void) {
    enum { K = 4, R = 12 };
    hl_db *db = fresh("race.db");
    if (!db) return;
    long long ids[R];
    for (int i = 0; i < R; i++) { char h[16]; snprintf(h, sizeof h, "h%d", i); ids[i] = plan(db, "sw", h); }
    hl_db_close(db);
    int barrier[2], results[2];
    if (pipe(barrier) || pipe(results)) return;
    pid_t kids[K];
    for (int k = 0; k < K; k++) {
        fflush(stdout);
        kids[k] = fork();
        if (kids[k] == 0) {
            close(barrier[1]);
            hl_db *d;
            int n = 0;
            if (hl_db_open(path_in("race.db"), 0, &d, err, sizeof err)) _exit(255);
            for (int i = 0; i < R; i++) n += claim(d, ids[i], getpid(), 0) == HL_CLAIM_OK;
            hl_db_close(d);
            unsigned char c = (unsigned char)n;
            if (write(results[1], &c, 1) != 1) _exit(255);
            char x;
            while (read(barrier[0], &x, 1) > 0) {}   // stay alive until the parent says so
            _exit(0);
        }
    }
    close(barrier[0]); close(results[1]);
    int total = 0;
    unsigned char c;
    for (int k = 0; k < K; k++) if (read(results[0], &c, 1) == 1) total += c;
    close(barrier[1]);
    for (int k = 0; k < K; k++) waitpid(kids[k], NULL, 0);
    close(results[0]);
    hl_check(total == R, "db_claim_atomic_across_processes", "%d claims for %d runs", total, R);
}

static void test_sink(void) {
    hl_db *db = fresh("sink.db"), *other = NULL;
    if (!db) return;
    long long run = plan(db, "sw", "h");
    claim(db, run, getpid(), 0);
    hl_db_sink *s;
    if (!hl_check(hl_db_sink_new(db, run, &s, err, sizeof err) == HL_OK, "db_sink_new", "%s", err)) return;
    hl_sink k = hl_db_sink_iface(s);
    for (int step = 1; step <= 5; step++) k.curve(k.ctx, step, "train", "loss", 5.0 - step);
    hl_metric m = {"mqar", "accuracy", 0.75, 100, 0.01, "{\"seq_len\":16}", "mqar/1"};
    k.metric(k.ctx, &m);
    hl_measurement me = {.kind = "train_tokens_per_s", .batch = 8, .context = 16, .value = 1000,
                         .unit = "tokens/s", .repeats = 5, .spread = NAN};
    k.measurement(k.ctx, &me);
    // a figure with its protocol (migration 004's columns)
    hl_measure_protocol pr = {.name = "grid", .warmup = 2, .threads = 3, .backend = "cpu",
                              .blas_core = "Haswell", .cpu = "Test CPU"};
    hl_measurement md = {.kind = "decode_tok_s", .batch = 4, .context = 64, .value = 812.5, .unit = "tok/s",
                         .repeats = 5, .spread = 30.2, .min = 790.1, .max = 820.3, .dtype_bytes = 4,
                         .protocol = &pr};
    k.measurement(k.ctx, &md);
    hl_db_open(path_in("sink.db"), 0, &other, err, sizeof err);
    hl_check(other && scalar(other, "SELECT count(*) FROM curve_points") == 5 && scalar(other, "SELECT count(*) FROM metrics") == 0,
             "db_sink_curves_stream_metrics_wait", "curve points %lld metrics %lld",
             scalar(other, "SELECT count(*) FROM curve_points"), scalar(other, "SELECT count(*) FROM metrics"));
    hl_run_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.status = HL_RUN_DONE; sum.steps = 5; sum.final_train_loss = 0.5; sum.tokens_per_s = 1000;
    sum.threads = 1; sum.params = 42;
    snprintf(sum.backend, sizeof sum.backend, "cpu");
    snprintf(sum.blas_core, sizeof sum.blas_core, "SkylakeX");
    hl_check(hl_db_finish_run(s, &sum, 1.5, err, sizeof err) == HL_OK, "db_finish_run", "%s", err);
    hl_db_sink_free(s);
    hl_check(scalar(other, "SELECT count(*) FROM runs WHERE status='done' AND params=42 AND blas_core='SkylakeX'"
                           " AND ended_at IS NOT NULL AND wall_s = 1.5") == 1 &&
             scalar(other, "SELECT count(*) FROM metrics WHERE value = 0.75 AND n = 100 AND version = 'mqar/1'") == 1 &&
             scalar(other, "SELECT count(*) FROM measurements WHERE spread IS NULL AND min IS NULL AND protocol IS NULL"
                           " AND dtype_bytes IS NULL AND warmup IS NULL") == 1,
             "db_finish_writes_result", "row/metrics/measurements wrong");
    hl_check(scalar(other, "SELECT count(*) FROM measurements WHERE kind='decode_tok_s' AND batch=4 AND context=64"
                           " AND value=812.5 AND min=790.1 AND max=820.3 AND repeats=5 AND warmup=2 AND threads=3"
                           " AND backend='cpu' AND blas_core='Haswell' AND cpu='Test CPU' AND protocol='grid'"
                           " AND dtype_bytes=4") == 1,
             "db_measurement_protocol_recorded", "the protocol columns of a measurement are not as given");
    // a forced rerun replaces metrics and curves of the earlier attempt
    claim(db, run, getpid(), 1);
    hl_db_sink_new(db, run, &s, err, sizeof err);
    k = hl_db_sink_iface(s);
    for (int step = 1; step <= 3; step++) k.curve(k.ctx, step, "train", "loss", 1.0);
    m.value = 0.8;
    k.metric(k.ctx, &m);
    hl_db_finish_run(s, &sum, 1.0, err, sizeof err);
    hl_db_sink_free(s);
    hl_check(scalar(other, "SELECT count(*) FROM curves") == 3 && scalar(other, "SELECT count(*) FROM metrics") == 1 &&
             scalar(other, "SELECT value = 0.8 FROM metrics") == 1 && scalar(other, "SELECT attempts FROM runs") == 2,
             "db_force_rerun_replaces_results", "curves %lld metrics %lld",
             scalar(other, "SELECT count(*) FROM curves"), scalar(other, "SELECT count(*) FROM metrics"));
    hl_db_close(other);
    hl_db_close(db);
}

// A run finished (done, with one metric) or left in another state.
static void add_run(hl_db *db, const char *spec_hash, const char *final, double acc) {
    long long run = plan(db, "sweepX", spec_hash);
    claim(db, run, getpid(), 0);
    if (!strcmp(final, "queued")) {
        char sql[100];
        snprintf(sql, sizeof sql, "UPDATE runs SET status='queued' WHERE id=%lld", run);
        hl_db_exec(db, sql, err, sizeof err);
        return;
    }
    if (!strcmp(final, "failed")) { hl_db_mark_failed(db, run, getpid(), "boom", 1, err, sizeof err); return; }
    hl_db_sink *s;
    hl_db_sink_new(db, run, &s, err, sizeof err);
    hl_sink k = hl_db_sink_iface(s);
    k.curve(k.ctx, 1, "train", "loss", 2.0);
    hl_metric m = {"mqar", "accuracy", acc, 10, NAN, "{}", "mqar/1"};
    k.metric(k.ctx, &m);
    hl_run_summary sum;
    memset(&sum, 0, sizeof sum);
    hl_db_finish_run(s, &sum, 1.0, err, sizeof err);
    hl_db_sink_free(s);
}

static void test_merge(void) {
    hl_db *a = fresh("m_a.db"), *b = fresh("m_b.db"), *out = fresh("m_out.db");
    if (!a || !b || !out) return;
    add_run(a, "x", "done", 0.5);
    add_run(a, "y", "failed", 0);
    add_run(b, "y", "done", 0.9);
    add_run(b, "z", "queued", 0);
    hl_db_close(a); hl_db_close(b);
    hl_db_merge_stats st;
    int rc = hl_db_merge(out, path_in("m_a.db"), &st, err, sizeof err);
    if (!rc) rc = hl_db_merge(out, path_in("m_b.db"), &st, err, sizeof err);
    if (!rc) rc = hl_db_merge(out, path_in("m_a.db"), &st, err, sizeof err);   // again: no duplicates
    if (!rc) rc = hl_db_merge(out, path_in("m_b.db"), &st, err, sizeof err);
    hl_check(rc == HL_OK, "db_merge_ok", "%s", err);
    hl_check(scalar(out, "SELECT count(*) FROM runs") == 3 && scalar(out, "SELECT count(*) FROM sweeps") == 1,
             "db_merge_no_duplicates", "runs %lld sweeps %lld", scalar(out, "SELECT count(*) FROM runs"),
             scalar(out, "SELECT count(*) FROM sweeps"));
    hl_check(scalar(out, "SELECT count(*) FROM runs WHERE status='done'") == 2 &&
             scalar(out, "SELECT m.value = 0.9 FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.spec_hash='y'") == 1 &&
             scalar(out, "SELECT count(*) FROM metrics") == 2 && scalar(out, "SELECT count(*) FROM curves") == 2,
             "db_merge_done_wins_with_children", "wrong merged content");
    hl_check(hl_db_merge(out, path_in("m_out.db"), &st, err, sizeof err) == HL_EBADINPUT, "db_merge_into_itself_refused", "accepted");
    hl_check(hl_db_create_summary_view(out, err, sizeof err) == HL_OK &&
             scalar(out, "SELECT count(*) FROM summary WHERE \"mqar.accuracy\" IS NOT NULL AND \"train.seed\" = 1") == 2,
             "db_summary_view", "%s", err);
    hl_db_close(out);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) ? -1 : (long)st.st_size;
}

// Files that are not hylab databases are refused before anything is written;
// read-only opens write nothing; every connection has SQLite's double-quoted
// string literals off.
static void test_open_validation(void) {
    hl_db *db = NULL;
    FILE *f = fopen(path_in("empty.db"), "w");
    if (f) fclose(f);
    int rc = hl_db_open(path_in("empty.db"), 0, &db, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "not a hylab database") && file_size(path_in("empty.db")) == 0,
             "db_open_empty_file_refused_unchanged", "rc %d, size %ld: %s", rc, file_size(path_in("empty.db")), err);
    if (!rc) hl_db_close(db);
    rc = hl_db_open(path_in("empty.db"), HL_DB_READONLY, &db, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && file_size(path_in("empty.db")) == 0, "db_open_readonly_empty_file_refused",
             "rc %d: %s", rc, err);
    if (!rc) hl_db_close(db);
    sqlite3 *h;
    if (sqlite3_open(path_in("foreign.db"), &h) == SQLITE_OK)
        sqlite3_exec(h, "CREATE TABLE notes(a); PRAGMA user_version = 3", NULL, NULL, NULL);
    sqlite3_close(h);
    char *before = read_file(path_in("foreign.db"));
    rc = hl_db_open(path_in("foreign.db"), HL_DB_CREATE, &db, err, sizeof err);
    char *after = read_file(path_in("foreign.db"));
    hl_check(rc == HL_EBADINPUT && before && after && !memcmp(before, after, 4096) &&
             access(path_in("foreign.db-wal"), F_OK) != 0, "db_open_foreign_refused_unchanged", "rc %d: %s", rc, err);
    if (!rc) hl_db_close(db);
    free(before); free(after);
    hl_db *rw = fresh("dqs.db");
    if (!rw) return;
    add_run(rw, "h", "done", 0.5);
    rc = hl_db_open(path_in("dqs.db"), HL_DB_READONLY, &db, err, sizeof err);
    if (!hl_check(rc == HL_OK, "db_open_readonly", "%s", err)) { hl_db_close(rw); return; }
    hl_check(hl_db_exec(db, "INSERT INTO sweeps(name, source_json, sweep_hash, created_at) VALUES ('a','b','c','d')",
                        err, sizeof err) != HL_OK, "db_open_readonly_refuses_writes", "insert worked");
    hl_db *both[2] = {rw, db};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(hl_db_sqlite(both[i]), "SELECT \"no_such_column\" FROM runs", -1, &st, NULL);
        sqlite3_finalize(st);
        hl_check(rc != SQLITE_OK, i ? "db_dqs_off_readonly" : "db_dqs_off_readwrite",
                 "\"no_such_column\" was taken for a string");
    }
    hl_db_close(db);
    hl_db_close(rw);
}

// ---------------------------------------------------------------- attempts (issue 6)
// One attempt: curve points 1..n (loss = value), one metric, then finished.
static void attempt_points(hl_db *db, long long run, int n, double value, hl_db_sink **out) {
    hl_db_sink *s;
    if (hl_db_sink_new(db, run, &s, err, sizeof err)) { printf("sink: %s\n", err); *out = NULL; return; }
    hl_sink k = hl_db_sink_iface(s);
    for (int step = 1; step <= n; step++) k.curve(k.ctx, step, "train", "loss", value);
    hl_metric m = {"mqar", "accuracy", value, 10, NAN, "{}", NULL};
    k.metric(k.ctx, &m);
    *out = s;
}

static void finish_done(hl_db_sink *s) {
    hl_run_summary sum;
    memset(&sum, 0, sizeof sum);
    if (s && hl_db_finish_run(s, &sum, 1.0, err, sizeof err)) printf("finish: %s\n", err);
    hl_db_sink_free(s);
}

// A killed --force rerun keeps the earlier result: status, metrics, curves.
static void test_killed_force_rerun_keeps_result(void) {
    hl_db *db = fresh("keep.db");
    if (!db) return;
    long long run = plan(db, "sw", "h");
    hl_db_sink *s;
    claim(db, run, getpid(), 0);
    attempt_points(db, run, 5, 0.75, &s);
    finish_done(s);
    hl_check(claim(db, run, getpid(), 1) == HL_CLAIM_OK, "db_force_claims_done_run", "not claimed");
    attempt_points(db, run, 2, 0.5, &s);
    hl_check(scalar(db, "SELECT status='done' AND result_attempt=1 AND attempts=2 FROM runs") == 1 &&
             scalar(db, "SELECT count(*) || sum(value = 0.75) FROM curves") == 55,
             "db_force_rerun_running_keeps_result", "row or curves changed while the rerun runs (curves %lld)",
             scalar(db, "SELECT count(*) FROM curves"));
    hl_check(hl_db_mark_failed(db, run, getpid(), "killed by signal 9 (SIGKILL) at step ~2", 2, err, sizeof err) == HL_OK,
             "db_mark_failed_force_rerun", "%s", err);
    hl_db_sink_free(s);
    hl_check(scalar(db, "SELECT status='done' AND error IS NULL AND result_attempt=1 AND attempts=2 FROM runs") == 1 &&
             scalar(db, "SELECT count(*) FROM metrics WHERE value = 0.75") == 1 &&
             scalar(db, "SELECT count(*) || sum(value = 0.75) FROM curves") == 55 &&
             scalar(db, "SELECT count(*) FROM curve_points") == 5 &&
             scalar(db, "SELECT count(*) FROM attempts WHERE attempt=2 AND status='failed' AND error LIKE 'killed%'") == 1,
             "db_killed_force_rerun_keeps_result", "status/metrics/curves of attempt 1 lost or attempt 2 not recorded");
    hl_check(claim(db, run, getpid(), 0) == HL_CLAIM_DONE, "db_killed_force_rerun_still_done", "not skipped");
    hl_db_close(db);
}

// A run killed mid-way, then retried: the result's curves are one attempt's.
static void test_retry_curves_one_attempt(void) {
    hl_db *db = fresh("retry.db");
    if (!db) return;
    long long run = plan(db, "sw", "h");
    hl_db_sink *s;
    claim(db, run, getpid(), 0);
    attempt_points(db, run, 3, 1.0, &s);
    hl_db_mark_failed(db, run, getpid(), "killed", 3, err, sizeof err);
    hl_db_sink_free(s);
    hl_check(scalar(db, "SELECT count(*) FROM curves") == 3, "db_failed_run_shows_its_curves", "%lld points",
             scalar(db, "SELECT count(*) FROM curves"));
    claim(db, run, getpid(), 0);
    attempt_points(db, run, 4, 2.0, &s);
    hl_check(scalar(db, "SELECT count(*) FROM curves") == 0, "db_retry_running_shows_no_curves", "%lld points",
             scalar(db, "SELECT count(*) FROM curves"));
    finish_done(s);
    hl_check(scalar(db, "SELECT count(*) || sum(value = 2.0) || count(DISTINCT step) FROM curves") == 444 &&
             scalar(db, "SELECT count(*) FROM curve_points") == 4,
             "db_retry_curves_from_one_attempt", "curves %lld, points %lld",
             scalar(db, "SELECT count(*) FROM curves"), scalar(db, "SELECT count(*) FROM curve_points"));
    hl_db_close(db);
}

// A process that stays alive until the returned pipe end is closed.
static pid_t sleeper(int *release) {
    int p[2];
    if (pipe(p)) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) { char x; close(p[1]); while (read(p[0], &x, 1) > 0) {} _exit(0); }
    close(p[0]);
    *release = p[1];
    return pid;
}

// An owner pid that is alive again, as another process: not a live owner.
static void test_pid_reuse(void) {
    hl_db *db = fresh("reuse.db");
    if (!db) return;
    long long run = plan(db, "sw", "h");
    int release = -1;
    pid_t other = sleeper(&release);
    if (other < 0) { hl_check(0, "db_pid_reuse_setup", "fork failed"); hl_db_close(db); return; }
    claim(db, run, getpid(), 0);
    hl_check(hl_db_set_run_pid(db, run, getpid(), (int)other, err, sizeof err) == HL_OK &&
             scalar(db, "SELECT proc_id IS NOT NULL AND proc_id <> '' FROM attempts") == 1,
             "db_handover_records_proc_id", "%s", err);
    hl_check(claim(db, run, getpid(), 0) == HL_CLAIM_BUSY, "db_claim_live_owner_busy", "taken from a live owner");
    hl_db_exec(db, "UPDATE attempts SET proc_id = proc_id || '0'", err, sizeof err);   // pid reused
    hl_check(claim(db, run, getpid(), 0) == HL_CLAIM_OK &&
             scalar(db, "SELECT count(*) FROM attempts WHERE attempt=1 AND status='failed' AND error LIKE 'abandoned%'") == 1,
             "db_claim_reused_pid_taken_over", "the reused pid kept the run");
    close(release);
    waitpid(other, NULL, 0);
    hl_db_close(db);
}

// A version-1 database is migrated: results keep their curves.
static void test_migrate_v1(void) {
    sqlite3 *h;
    unlink(path_in("v1.db"));
    if (sqlite3_open(path_in("v1.db"), &h) != SQLITE_OK) return;
    sqlite3_exec(h, hl_db_schema_sql, NULL, NULL, NULL);
    sqlite3_exec(h, "INSERT INTO runs(id, variant, spec_hash, spec_json, status, attempts) VALUES"
                    " (1, 'a', 'h1', '{}', 'done', 1), (2, 'b', 'h2', '{}', 'running', 2);"
                    "INSERT INTO curves VALUES (1, 1, 'train', 'loss', 2.0), (1, 2, 'train', 'loss', 1.0),"
                    " (2, 1, 'train', 'loss', 3.0);", NULL, NULL, NULL);
    sqlite3_close(h);
    hl_db *db;
    if (!hl_check(hl_db_open(path_in("v1.db"), 0, &db, err, sizeof err) == HL_OK, "db_migrate_v1_opens", "%s", err)) return;
    hl_check(scalar(db, "SELECT count(*) FROM curves WHERE run_id=1") == 2 &&
             scalar(db, "SELECT count(*) FROM curves WHERE run_id=2") == 0 &&
             scalar(db, "SELECT count(*) FROM curve_points") == 3 &&
             scalar(db, "SELECT count(*) FROM attempts WHERE (run_id, attempt, status) IN"
                        " (VALUES (1, 1, 'done'), (2, 2, 'running'))") == 2,
             "db_migrate_v1_attempts_and_curves", "curves/attempts not carried over");
    hl_db_close(db);
}

// The failing step comes from the summary's column (hl_run_summary.fail_step),
// never from the message: a message that names another step, or none, does
// not change it; a done run has none.
static void test_sink_fail_step(void) {
    hl_db *db = fresh("failstep.db");
    if (!db) return;
    const char *msgs[2] = {"step 7: hl_model_forward: token -1 at position 0 outside [0, 64)",
                           "loss is NaN at step 3 (a message naming another step)"};
    for (int k = 0; k < 2; k++) {
        long long run = plan(db, "sw", k ? "h2" : "h1");
        claim(db, run, getpid(), 0);
        hl_db_sink *s;
        if (hl_db_sink_new(db, run, &s, err, sizeof err)) { hl_check(0, "db_fail_step_sink", "%s", err); return; }
        hl_run_summary sum;
        memset(&sum, 0, sizeof sum);
        sum.status = k ? HL_RUN_DIVERGED : HL_RUN_FAILED;
        sum.steps = 6; sum.fail_step = k ? 9 : 7;
        snprintf(sum.error, sizeof sum.error, "%s", msgs[k]);
        hl_db_finish_run(s, &sum, 1.0, err, sizeof err);
        hl_db_sink_free(s);
        char sql[200], name[64];
        snprintf(sql, sizeof sql, "SELECT r.fail_step = %d AND a.fail_step = %d FROM runs r JOIN attempts a"
                 " ON a.run_id = r.id AND a.attempt = r.result_attempt WHERE r.id = %lld", sum.fail_step, sum.fail_step, run);
        snprintf(name, sizeof name, "db_fail_step_column_%s", k ? "diverged" : "failed");
        hl_check(scalar(db, sql) == 1, name, "runs/attempts fail_step not %d", sum.fail_step);
    }
    long long run = plan(db, "sw", "h3");
    claim(db, run, getpid(), 0);
    hl_db_sink *s;
    hl_db_sink_new(db, run, &s, err, sizeof err);
    hl_run_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.status = HL_RUN_DONE; sum.steps = 5; sum.fail_step = 5;
    hl_db_finish_run(s, &sum, 1.0, err, sizeof err);
    hl_db_sink_free(s);
    hl_check(scalar(db, "SELECT count(*) FROM runs r JOIN attempts a ON a.run_id = r.id WHERE r.spec_hash='h3'"
                        " AND r.fail_step IS NULL AND a.fail_step IS NULL AND a.status='done'") == 1,
             "db_done_has_no_fail_step", "");
    hl_db_close(db);
}

// Version 2 -> 3: attempts gain fail_step, a failed result attempt takes the
// run's; other attempts stay NULL.
static void test_migrate_v2(void) {
    sqlite3 *h;
    unlink(path_in("v2.db"));
    if (sqlite3_open(path_in("v2.db"), &h) != SQLITE_OK) return;
    sqlite3_exec(h, hl_db_schema_sql, NULL, NULL, NULL);
    for (int i = 0; i < hl_db_n_migrations; i++)
        if (hl_db_migrations[i].version == 2) sqlite3_exec(h, hl_db_migrations[i].sql, NULL, NULL, NULL);
    sqlite3_exec(h, "INSERT INTO runs(id, variant, spec_hash, spec_json, status, fail_step, attempts, result_attempt) VALUES"
                    " (1, 'a', 'h1', '{}', 'failed', 4, 2, 2), (2, 'b', 'h2', '{}', 'done', NULL, 1, 1);"
                    "INSERT INTO attempts(run_id, attempt, status) VALUES (1, 1, 'failed'), (1, 2, 'failed'), (2, 1, 'done');",
                 NULL, NULL, NULL);
    sqlite3_close(h);
    hl_db *db;
    if (!hl_check(hl_db_open(path_in("v2.db"), 0, &db, err, sizeof err) == HL_OK, "db_migrate_v2_opens", "%s", err)) return;
    hl_check(hl_db_user_version(db) == hl_db_latest_version() && hl_db_latest_version() >= 3 &&
             scalar(db, "SELECT fail_step FROM attempts WHERE run_id=1 AND attempt=2") == 4 &&
             scalar(db, "SELECT count(*) FROM attempts WHERE fail_step IS NULL") == 2,
             "db_migrate_v2_attempt_fail_step", "version %d", hl_db_user_version(db));
    hl_db_close(db);
}

static void test_attempts(void) {
    test_sink_fail_step();
    test_migrate_v2();
    test_killed_force_rerun_keeps_result();
    test_retry_curves_one_attempt();
    test_pid_reuse();
    test_migrate_v1();
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    hl_db_provenance(&prov);
    test_embedded_schema();
    test_open();
    test_plan();
    test_claim_states();
    test_claim_atomic();
    test_sink();
    test_merge();
    test_open_validation();
    test_attempts();
    char cmd[600];
    if (getenv("KEEP")) return hl_test_done();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", dir);
    return hl_test_done();
}
