-- hylab results database, schema version 1.
-- Applied by db/db.c on open when user_version is 0; later versions add
-- forward migrations in db/migrations/NNN.sql and bump user_version.
-- Conventions: times are ISO-8601 UTC text; JSON columns hold compact JSON.
-- Version 2 (db/migrations/002.sql) adds the attempts table and
-- runs.result_attempt, and renames curves to curve_points (each point tagged
-- with its attempt) behind a view `curves` that shows each run's result only.
-- Version 3 (db/migrations/003.sql) adds attempts.fail_step, the step at
-- which an attempt failed or diverged (runs.fail_step: the result attempt's).
-- Version 4 (db/migrations/004.sql) adds each measurement's protocol:
-- min, max, warmup, threads, backend, blas_core, cpu, protocol, dtype_bytes.
-- Version 5 (db/migrations/005.sql) adds metrics.version. Version 6
-- (db/migrations/006.sql) adds runs.active_params (MoE: params a token uses).

PRAGMA user_version = 1;

CREATE TABLE IF NOT EXISTS sweeps (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    source_json  TEXT NOT NULL,          -- the sweep (or spec) file as read, canonical
    sweep_hash   TEXT NOT NULL UNIQUE,   -- sha256 of source_json + overrides
    created_at   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS runs (
    id            INTEGER PRIMARY KEY,
    sweep_id      INTEGER REFERENCES sweeps(id),
    sweep         TEXT,                  -- sweep name (denormalised for queries)
    variant       TEXT NOT NULL,
    grid_json     TEXT NOT NULL DEFAULT '{}',
    spec_hash     TEXT NOT NULL,
    spec_json     TEXT NOT NULL,         -- full canonical spec, defaults filled
    status        TEXT NOT NULL CHECK (status IN ('queued','running','done','failed','diverged')),
    error         TEXT,                  -- reason when failed/diverged
    fail_step     INTEGER,               -- step at which it failed/diverged
    attempts      INTEGER NOT NULL DEFAULT 0,
    git_commit    TEXT,
    host          TEXT,
    pid           INTEGER,
    backend       TEXT,
    blas_core     TEXT,
    threads       INTEGER,
    params        INTEGER,
    steps         INTEGER,
    final_train_loss REAL,
    tokens_per_s  REAL,
    started_at    TEXT,
    ended_at      TEXT,
    wall_s        REAL,
    UNIQUE (sweep_id, spec_hash)
);
CREATE INDEX IF NOT EXISTS runs_hash ON runs(spec_hash);

CREATE TABLE IF NOT EXISTS metrics (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task        TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       REAL,
    n           INTEGER,
    sem         REAL,                    -- standard error of the mean, NULL if not meaningful
    params_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id);

-- version 2: renamed curve_points (+ attempt); curves is then a view
CREATE TABLE IF NOT EXISTS curves (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step    INTEGER NOT NULL,
    split   TEXT NOT NULL,               -- 'train', 'eval'
    name    TEXT NOT NULL,               -- 'loss', 'lr', 'accuracy', ...
    value   REAL
);
CREATE INDEX IF NOT EXISTS curves_run ON curves(run_id);

CREATE TABLE IF NOT EXISTS measurements (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    batch    INTEGER,
    context  INTEGER,
    value    REAL,
    unit     TEXT,
    repeats  INTEGER,
    spread   REAL
);
CREATE INDEX IF NOT EXISTS measurements_run ON measurements(run_id);
