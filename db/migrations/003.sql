-- Migration 003: attempts.fail_step, the step at which an attempt failed or
-- diverged: the training loop's own record (hl_run_summary.fail_step: the
-- step whose forward, loss or backward returned an error, or whose loss or
-- gradient norm was not finite), or, for a process that died, the last step
-- its curves reached. NULL for done and running attempts, and where unknown.
-- runs.fail_step shows the result attempt's value; neither is parsed out of
-- an error message any more. Earlier failed attempts take the run's value
-- when they are its result attempt.

ALTER TABLE attempts ADD COLUMN fail_step INTEGER;
UPDATE attempts SET fail_step = (SELECT r.fail_step FROM runs AS r
                                 WHERE r.id = attempts.run_id AND r.result_attempt = attempts.attempt)
    WHERE status IN ('failed', 'diverged');

PRAGMA user_version = 3;
