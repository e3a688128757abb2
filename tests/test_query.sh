#!/bin/sh
# End-to-end tests of `hylab query` (table/CSV/JSON, the summary view, errors,
# and that no SQL can change the database) and `hylab check` (regressions
# against a baseline database). Databases are altered with the sqlite3 CLI.
set -u
HYLAB=${HYLAB:-./hylab}
S=tests/specs/runner
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
sql() { sqlite3 "$1" "$2"; }   # sql DB SQL: changes a test database
command -v sqlite3 >/dev/null || { fail query_setup "no sqlite3 CLI (make deps)"; finish; }

db=$dir/q.db
"$HYLAB" run $S/sweep.json --db "$db" --threads 1 >/dev/null 2>"$dir/run.err"; rc=$?
MSG="exit $rc: $(tail -n 3 "$dir/run.err")"
check query_setup_sweep_ran [ $rc = 0 ]

# ---------------------------------------------------------------- formats
"$HYLAB" query --db "$db" "SELECT 1 AS n, 'a b' AS s, NULL AS z, 2.5 AS x UNION ALL SELECT 10, 'c', 3, 0.25" >"$dir/t.txt"; rc=$?
printf 'n   s    z  x\n--  ---  -  ----\n 1  a b      2.5\n10  c    3  0.25\n' >"$dir/t.want"
MSG="got: $(cat "$dir/t.txt")"
check query_table_aligned sh -c "[ $rc = 0 ] && cmp -s '$dir/t.txt' '$dir/t.want'"
"$HYLAB" query --db "$db" --csv "SELECT 1 AS n, 'x,y' AS s, 'say \"hi\"' AS q, NULL AS z, 0.1 AS f" >"$dir/c.txt"
printf 'n,s,q,z,f\n1,"x,y","say ""hi""",,0.1\n' >"$dir/c.want"
MSG="got: $(cat "$dir/c.txt")"
check query_csv_rfc4180 cmp -s "$dir/c.txt" "$dir/c.want"
"$HYLAB" query --db "$db" --json "SELECT 1 AS n, 'a\"b' AS s, NULL AS z, 0.5 AS f" >"$dir/j.txt"
printf '[\n {"n": 1, "s": "a\\"b", "z": null, "f": 0.5}\n]\n' >"$dir/j.want"
MSG="got: $(cat "$dir/j.txt")"
check query_json_objects cmp -s "$dir/j.txt" "$dir/j.want"
"$HYLAB" query --db "$db" --json "SELECT 1 WHERE 0" >"$dir/e.txt"
MSG="got: $(cat "$dir/e.txt")"
check query_json_empty [ "$(cat "$dir/e.txt")" = "[]" ]

# ---------------------------------------------------------------- summary view
cols=$("$HYLAB" query --db "$db" --csv "SELECT * FROM summary LIMIT 0")
missing=""
for c in run_id sweep variant status spec_hash model.layers model.d_model model.n_layers model.meta_tokens \
         model.attn.window model.ffn.type train.seed train.lr train.steps params tokens_per_s wall_s mqar.accuracy; do
  echo ",$cols," | grep -q ",$c," || missing="$missing $c"
done
MSG="missing:$missing (have: $cols)"
check query_summary_columns [ -z "$missing" ]
got=$("$HYLAB" query --db "$db" --csv 'SELECT variant, "model.layers", "train.seed", "model.d_model", "mqar.accuracy" IS NOT NULL FROM summary ORDER BY variant, "train.seed"' | tail -n +2 | tr '\n' ' ')
MSG="got: $got"
check query_summary_values [ "$got" = "attn,A,0,16,1 attn,A,1,16,1 hybrid,AS,0,16,1 hybrid,AS,1,16,1 " ]

# ---------------------------------------------------------------- errors
"$HYLAB" query --db "$db" "SELEC nonsense" 2>"$dir/err"; rc=$?
MSG="exit $rc: $(cat "$dir/err")"
check query_bad_sql_exit2 sh -c "[ $rc = 2 ] && grep -q 'syntax error' '$dir/err'"
"$HYLAB" query --db "$dir/none.db" "SELECT 1" 2>/dev/null; rc=$?
check query_missing_db_exit2_not_created [ $rc = 2 -a ! -e "$dir/none.db" ]
"$HYLAB" query "SELECT 1" 2>/dev/null; rc=$?
check query_no_db_option_exit2 [ $rc = 2 ]

# ---------------------------------------------------------------- query cannot change the database
# Each statement must be refused (exit 2) with the database file and its -wal
# byte for byte as before, and no file made by VACUUM INTO or ATTACH.
# (on a fresh copy each, so that every statement is shown on its own)
victim=$dir/victim.db
snap() { cat "$victim" "$victim-wal" 2>/dev/null | cksum; }
for stmt in "DROP TABLE runs" "DELETE FROM runs" "UPDATE runs SET status = 'failed'" \
    "INSERT INTO sweeps(name, source_json, sweep_hash, created_at) VALUES ('x', '{}', 'x', 'x')" \
    "REPLACE INTO metrics(run_id, task, metric, value) VALUES (1, 'mqar', 'accuracy', 1)" \
    "DELETE FROM runs RETURNING id" "WITH x AS (SELECT 1) DELETE FROM metrics" \
    "PRAGMA writable_schema = ON" "PRAGMA writable_schema" "PRAGMA user_version = 99" \
    "PRAGMA journal_mode = DELETE" "PRAGMA wal_checkpoint(TRUNCATE)" "PRAGMA foreign_keys = OFF" \
    "ATTACH DATABASE '$dir/attached.db' AS a" "ATTACH DATABASE '$victim' AS a; DELETE FROM a.runs" "VACUUM INTO '$dir/vacuumed.db'" "VACUUM" \
    "CREATE TABLE t(a)" "CREATE TEMP TABLE t(a)" "CREATE INDEX i ON runs(variant)" \
    "ALTER TABLE runs ADD COLUMN z" "DROP VIEW summary" "REINDEX" "ANALYZE" "BEGIN" \
    "SELECT 1; DROP TABLE metrics" "DELETE FROM metrics; SELEC broken" "BEGIN; DELETE FROM runs; COMMIT" \
    "SELECT load_extension('libc.so.6')"; do
  rm -f "$victim"* "$dir/attached.db" "$dir/vacuumed.db"; cp "$db" "$victim"
  before=$(snap)
  "$HYLAB" query --db "$victim" "$stmt" >"$dir/out" 2>"$dir/err"; rc=$?
  after=$(snap)
  made=$(ls "$dir/attached.db" "$dir/vacuumed.db" 2>/dev/null)
  MSG="exit $rc, database changed: $([ "$before" = "$after" ] && echo no || echo YES), files made: '$made': $(cat "$dir/err")"
  check "query_refuses: $stmt" [ $rc = 2 -a "$before" = "$after" -a -z "$made" -a ! -s "$dir/out" ]
done
got=$("$HYLAB" query --db "$db" --csv "SELECT count(*) FROM runs; -- a trailing comment")
MSG="got: $got"
check query_one_statement_with_trailing_comment [ "$(echo "$got" | tail -n 1)" = 4 ]
got=$("$HYLAB" query --db "$db" --csv "SELECT count(*) FROM json_each('[1,2,3]') JOIN pragma_table_info('runs') ON 1" | tail -n 1)
MSG="got: $got"
check query_table_valued_functions [ "$got" -gt 60 ]
"$HYLAB" query --db "$db" "PRAGMA table_info(runs)" >/dev/null; rc=$?
check query_pragma_table_info [ $rc = 0 ]

# ---------------------------------------------------------------- arguments and SQL text
expect query_empty_sql_exit2 2 'the SQL is empty' "$HYLAB" query --db "$db" ""
expect query_comment_only_exit2 2 'no SQL statement' "$HYLAB" query --db "$db" "  -- only a comment"
got=$("$HYLAB" query --db "$db" --csv -- "-- the number of runs
SELECT count(*) AS n FROM runs" 2>"$dir/err"); rc=$?
MSG="exit $rc, got '$got': $(cat "$dir/err")"
check query_double_dash_ends_options [ $rc = 0 -a "$got" = "$(printf 'n\n4')" ]
expect query_unknown_option_mentions_double_dash 2 'use -- before SQL' \
  "$HYLAB" query --db "$db" "-- a comment
SELECT 1"
check query_help_mentions_double_dash sh -c '"$1" query --help | grep -q -- "--   ends the options"' sh "$HYLAB"
# double-quoted string literals are off: a misspelt column is an error, not a string
expect query_misspelt_column_is_an_error 2 'no such column: mqar.acuracy' \
  "$HYLAB" query --db "$db" 'SELECT variant, "mqar.acuracy" FROM summary'
expect query_double_quotes_name_columns_only 2 'no such column: done' \
  "$HYLAB" query --db "$db" 'SELECT count(*) FROM runs WHERE status = "done"'

# ---------------------------------------------------------------- check
"$HYLAB" check --db "$db" --baseline "$db" >"$dir/same.txt" 2>&1; rc=$?
MSG="exit $rc: $(tail -n 3 "$dir/same.txt")"
check check_same_db_passes [ $rc = 0 ]
cp "$db" "$dir/worse.db"
sql "$dir/worse.db" "UPDATE metrics SET value = value - 0.5 WHERE metric = 'accuracy' AND run_id = 1"
"$HYLAB" check --db "$dir/worse.db" --baseline "$db" >"$dir/worse.txt" 2>&1; rc=$?
n=$(grep -c REGRESSED "$dir/worse.txt")
MSG="exit $rc, $n regressed lines: $(cat "$dir/worse.txt")"
check check_detects_accuracy_drop [ $rc = 1 -a "$n" = 1 ]
"$HYLAB" check --db "$dir/worse.db" --baseline "$db" --tolerance 0.6 >/dev/null 2>&1; rc=$?
check check_tolerance [ $rc = 0 ]
"$HYLAB" check --db "$dir/worse.db" --baseline "$db" --metric mqar.loss >/dev/null 2>&1; rc=$?
check check_metric_filter [ $rc = 0 ]
cp "$db" "$dir/lossy.db"
sql "$dir/lossy.db" "UPDATE metrics SET value = value + 1 WHERE metric = 'loss'"
"$HYLAB" check --db "$dir/lossy.db" --baseline "$db" --json >"$dir/lossy.json" 2>/dev/null; rc=$?
n=$(grep -c '"verdict": "REGRESSED"' "$dir/lossy.json")
MSG="exit $rc, $n regressed: $(head -c 400 "$dir/lossy.json")"
check check_loss_is_lower_better [ $rc = 1 -a "$n" = 4 ]
sql "$dir/lossy.db" "UPDATE metrics SET value = value - 2 WHERE metric = 'loss'"
"$HYLAB" check --db "$dir/lossy.db" --baseline "$db" >/dev/null 2>&1; rc=$?
check check_improvement_passes [ $rc = 0 ]
cp "$db" "$dir/fewer.db"
sql "$dir/fewer.db" "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE id = 2"
"$HYLAB" check --db "$dir/fewer.db" --baseline "$db" >"$dir/fewer.txt" 2>&1; rc=$?
MSG="exit $rc: $(cat "$dir/fewer.txt")"
check check_reports_missing_run sh -c "[ $rc = 0 ] && grep -q 'run missing' '$dir/fewer.txt'"
"$HYLAB" check --db "$db" --baseline "$dir/none.db" >/dev/null 2>&1; rc=$?
check check_missing_baseline_exit2 [ $rc = 2 -a ! -e "$dir/none.db" ]

# the newest attempt counts: a later rerun of run 1's spec (another sweep) diverged
cp "$db" "$dir/rerun.db"
sql "$dir/rerun.db" "INSERT INTO sweeps(name, source_json, sweep_hash, created_at) VALUES ('again', '{}', 'again', '2099-01-01T00:00:00.000Z');
  INSERT INTO runs(sweep_id, sweep, variant, grid_json, spec_hash, spec_json, status, error, attempts, started_at, ended_at)
  SELECT (SELECT id FROM sweeps WHERE sweep_hash = 'again'), 'again', variant, grid_json, spec_hash, spec_json,
         'diverged', 'loss is NaN at step 3', 1, '2099-01-01T00:00:00.000Z', '2099-01-01T00:00:01.000Z' FROM runs WHERE id = 1"
"$HYLAB" check --db "$dir/rerun.db" --baseline "$db" >"$dir/rerun.txt" 2>&1; rc=$?
MSG="exit $rc: $(cat "$dir/rerun.txt")"
check check_newest_attempt_diverged_fails sh -c "[ $rc = 1 ] && grep -q 'REGRESSED (run diverged)' '$dir/rerun.txt'"
# a --metric in neither database is an error naming it and listing the metrics
expect check_unknown_metric_exit2 2 'mqar.acuracy: no such metric.*(metrics there: mqar.accuracy, mqar.loss)' \
  "$HYLAB" check --db "$db" --baseline "$db" --metric mqar.acuracy
# an empty new database compares nothing: that fails
sqlite3 "$dir/empty_new.db" < db/schema.sql
expect check_empty_new_db_fails 1 'nothing was compared (the new database has no runs)' \
  "$HYLAB" check --db "$dir/empty_new.db" --baseline "$db"
expect check_baseline_without_done_runs_exit2 2 'no done runs' "$HYLAB" check --db "$db" --baseline "$dir/empty_new.db"
# a metric value that is not a number is an error, not a 0
cp "$db" "$dir/text.db"
sql "$dir/text.db" "UPDATE metrics SET value = 'n/a' WHERE run_id = 1 AND metric = 'accuracy'"
expect check_text_metric_value_exit2 2 'run 1: metric mqar.accuracy has a value that is not a number' \
  "$HYLAB" check --db "$dir/text.db" --baseline "$db"
expect check_text_baseline_value_exit2 2 'not a number' "$HYLAB" check --db "$db" --baseline "$dir/text.db"

finish
