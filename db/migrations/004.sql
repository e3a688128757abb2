-- Migration 004: the protocol of each measurement (issue 8). `value` is the
-- median over `repeats` timed repetitions after `warmup` untimed ones; min
-- and max are over the same repetitions (spread = max - min). Every figure
-- records where it was measured: the backend, BLAS core, threads, CPU model
-- (/proc/cpuinfo "model name"), the protocol ("grid": the spec's
-- measure.batch x measure.context; "hymba": sequence 8192, batch 128,
-- halved on out-of-memory) and dtype_bytes, the bytes per element of the
-- weights, activations and states it timed or counted. NULL where a figure
-- has no protocol (the training loop's own train_tokens_per_s average).

ALTER TABLE measurements ADD COLUMN min REAL;
ALTER TABLE measurements ADD COLUMN max REAL;
ALTER TABLE measurements ADD COLUMN warmup INTEGER;
ALTER TABLE measurements ADD COLUMN threads INTEGER;
ALTER TABLE measurements ADD COLUMN backend TEXT;
ALTER TABLE measurements ADD COLUMN blas_core TEXT;
ALTER TABLE measurements ADD COLUMN cpu TEXT;
ALTER TABLE measurements ADD COLUMN protocol TEXT;
ALTER TABLE measurements ADD COLUMN dtype_bytes INTEGER;

PRAGMA user_version = 4;
