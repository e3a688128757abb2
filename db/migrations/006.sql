-- Migration 006: runs.active_params, the parameters one token uses (issue 10):
-- runs.params less the experts a mixture-of-experts FFN does not route the
-- token to (models/model.h hl_model_counts.active_params, `hylab describe
-- --json` "active_params"). Equal to params for a model without MoE. NULL
-- for runs recorded before this migration and where the writer did not know it.

ALTER TABLE runs ADD COLUMN active_params INTEGER;

PRAGMA user_version = 6;
