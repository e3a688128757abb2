-- Migration 002: attempts. A run is tried once per claim ("attempt"); the
-- runs row shows the result of one attempt, runs.result_attempt, and a newer
-- attempt replaces it only when it finishes: a forced rerun that is killed
-- leaves the earlier result (status, summary, metrics, curves) in place.
--   attempts      one row per attempt: its owner process and how it ended.
--                 The owner is identified by host + pid + proc_id (boot id
--                 and process start time), so that a reused pid is not taken
--                 for a live owner.
--   curve_points  every curve point, tagged with the attempt that wrote it
--                 (the former curves table).
--   curves        a view: the points of each run's result attempt only.

CREATE TABLE IF NOT EXISTS attempts (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,        -- 1, 2, ...: runs.attempts is the latest
    status      TEXT NOT NULL CHECK (status IN ('running','done','failed','diverged')),
    host        TEXT,
    pid         INTEGER,                 -- the owner: the runner, then its child
    proc_id     TEXT,                    -- the owner's boot id:start time; NULL if unknown
    git_commit  TEXT,
    started_at  TEXT,
    ended_at    TEXT,
    error       TEXT,                    -- why it failed/diverged
    PRIMARY KEY (run_id, attempt)
);

-- The attempt whose result the row shows (status done/failed/diverged);
-- NULL while queued or while the first attempt (or a retry of a failed
-- one) runs.
ALTER TABLE runs ADD COLUMN result_attempt INTEGER;
UPDATE runs SET result_attempt = attempts WHERE status IN ('done', 'failed', 'diverged');
INSERT INTO attempts(run_id, attempt, status, host, pid, git_commit, started_at, ended_at, error)
    SELECT id, attempts, status, host, pid, git_commit, started_at, ended_at, error
    FROM runs WHERE attempts > 0 AND status <> 'queued';

ALTER TABLE curves RENAME TO curve_points;
ALTER TABLE curve_points ADD COLUMN attempt INTEGER;
UPDATE curve_points SET attempt = (SELECT attempts FROM runs WHERE runs.id = curve_points.run_id);
DROP INDEX IF EXISTS curves_run;
CREATE INDEX IF NOT EXISTS curve_points_run ON curve_points(run_id, attempt);

CREATE VIEW IF NOT EXISTS curves AS
    SELECT c.run_id, c.step, c.split, c.name, c.value
    FROM curve_points AS c JOIN runs AS r ON r.id = c.run_id
    WHERE c.attempt = r.result_attempt;

PRAGMA user_version = 2;
