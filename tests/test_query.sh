#!/bin/sh
# End-to-end tests of `hylab query` (table/CSV/JSON, the summary view, errors)
# and `hylab check` (regressions against a baseline database).
set -u
HYLAB=${HYLAB:-./hylab}
S=tests/specs/runner
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"

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

# ---------------------------------------------------------------- check
"$HYLAB" check --db "$db" --baseline "$db" >"$dir/same.txt" 2>&1; rc=$?
MSG="exit $rc: $(tail -n 3 "$dir/same.txt")"
check check_same_db_passes [ $rc = 0 ]
cp "$db" "$dir/worse.db"
"$HYLAB" query --db "$dir/worse.db" "UPDATE metrics SET value = value - 0.5 WHERE metric = 'accuracy' AND run_id = 1" >/dev/null
"$HYLAB" check --db "$dir/worse.db" --baseline "$db" >"$dir/worse.txt" 2>&1; rc=$?
n=$(grep -c REGRESSED "$dir/worse.txt")
MSG="exit $rc, $n regressed lines: $(cat "$dir/worse.txt")"
check check_detects_accuracy_drop [ $rc = 1 -a "$n" = 1 ]
"$HYLAB" check --db "$dir/worse.db" --baseline "$db" --tolerance 0.6 >/dev/null 2>&1; rc=$?
check check_tolerance [ $rc = 0 ]
"$HYLAB" check --db "$dir/worse.db" --baseline "$db" --metric mqar.loss >/dev/null 2>&1; rc=$?
check check_metric_filter [ $rc = 0 ]
cp "$db" "$dir/lossy.db"
"$HYLAB" query --db "$dir/lossy.db" "UPDATE metrics SET value = value + 1 WHERE metric = 'loss'" >/dev/null
"$HYLAB" check --db "$dir/lossy.db" --baseline "$db" --json >"$dir/lossy.json" 2>/dev/null; rc=$?
n=$(grep -c '"verdict": "REGRESSED"' "$dir/lossy.json")
MSG="exit $rc, $n regressed: $(head -c 400 "$dir/lossy.json")"
check check_loss_is_lower_better [ $rc = 1 -a "$n" = 4 ]
"$HYLAB" query --db "$dir/lossy.db" "UPDATE metrics SET value = value - 2 WHERE metric = 'loss'" >/dev/null
"$HYLAB" check --db "$dir/lossy.db" --baseline "$db" >/dev/null 2>&1; rc=$?
check check_improvement_passes [ $rc = 0 ]
cp "$db" "$dir/fewer.db"
"$HYLAB" query --db "$dir/fewer.db" "DELETE FROM runs WHERE id = 2" >/dev/null
"$HYLAB" check --db "$dir/fewer.db" --baseline "$db" >"$dir/fewer.txt" 2>&1; rc=$?
MSG="exit $rc: $(cat "$dir/fewer.txt")"
check check_reports_missing_run sh -c "[ $rc = 0 ] && grep -q 'run missing' '$dir/fewer.txt'"
"$HYLAB" check --db "$db" --baseline "$dir/none.db" >/dev/null 2>&1; rc=$?
check check_missing_baseline_exit2 [ $rc = 2 -a ! -e "$dir/none.db" ]

finish
