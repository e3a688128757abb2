-- Migration 005: the version of the task that produced each metric (issue 9).
-- A task's version ("mqar/1", "multiple_choice/1", "niah/1") changes when its
-- examples or its scoring change; numbers of different versions are not
-- comparable. NULL for metrics recorded before this migration.

ALTER TABLE metrics ADD COLUMN version TEXT;

PRAGMA user_version = 5;
