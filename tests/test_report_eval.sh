#!/bin/sh
# test_report_eval.sh: the evaluation reports (plots/commonsense.json,
# recall.json, needle.json, and inference.json's commonsense and recall
# columns) on a fixture database (tests/fixtures/report_eval_fixture.sql over
# db/schema.sql and its migrations):
#  - every file is written and regenerates byte-identically;
#  - the commonsense table names each task's metric in its header, shows the
#    versions and an average that agrees with sqlite3; the failed run's
#    metrics are left out;
#  - the recall table has contains, exact_match and f1 per (variant, task);
#  - the needle heatmap: one panel per variant, a full length x depth grid in
#    the .dat (NaN where a cell was not measured), gnuplot `with image`, the
#    PNG drawn; a cell's value is the mean over the variant's runs;
#  - heatmap keys are checked (z required, yerr/log axes refused, z only for
#    heatmaps: exit 2 naming the JSON path; several rows for one cell without
#    "aggregate": exit 1 naming the cell, as a bar chart's);
#  - no panel name or title makes gnuplot run a command.
# Needs $HYLAB, the sqlite3 CLI and gnuplot (make deps).
HYLAB=${HYLAB:-./hylab}
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/hylab_report_eval.XXXXXX") || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
trap 'rm -rf "$T"' EXIT
if ! command -v sqlite3 >/dev/null 2>&1; then fail report_eval "no sqlite3 CLI to build the fixture (make deps)"; finish; fi
if ! command -v gnuplot >/dev/null 2>&1; then fail report_eval "no gnuplot (make deps)"; finish; fi
DB=$T/fx.db
cat db/schema.sql db/migrations/0*.sql tests/fixtures/report_eval_fixture.sql | sqlite3 "$DB" ||
    { fail fixture "sqlite3 could not build it"; finish; }

for gen in a b; do
    rcs=
    for r in commonsense recall needle inference; do
        "$HYLAB" report --db "$DB" plots/$r.json --out "$T/$gen" >"$T/out" 2>"$T/err"; rcs="$rcs $?"
    done
    MSG="exit statuses$rcs: $(cat "$T/err")"
    check "eval_reports_exit_0_$gen" [ "$rcs" = " 0 0 0 0" ]
done
missing= ; differ=
for f in commonsense.md commonsense.tex commonsense.csv commonsense_avg.dat commonsense_avg.gp recall.md recall.tex \
         recall.csv needle.md needle.csv needle.dat needle.gp inference_table.md; do
    [ -s "$T/a/$f" ] || missing="$missing $f"
    cmp -s "$T/a/$f" "$T/b/$f" || differ="$differ $f"
done
MSG="missing:$missing"; check eval_report_files_written [ -z "$missing" ]
MSG="differ:$differ"; check eval_report_regenerate_byte_identical [ -z "$differ" ]
MSG="no PNG"; check needle_png_drawn [ -s "$T/a/needle.png" ]

# commonsense: headers name the metric; versions; average = mean of the 8 columns (sqlite3)
md=$T/a/commonsense.md
MSG=$(sed -n 5p "$md")
check commonsense_headers_name_metrics grep -q 'ARC-e acc (%) | ARC-c acc_norm (%) | PIQA acc (%) | WinoGrande acc (%) | HellaSwag acc_norm (%) | Average (%) | Versions' "$md"
MSG=$(grep '^| transformer' "$md")
check commonsense_versions_shown grep -q '^| transformer .*| multiple_choice/1, schema/1 |$' "$md"
want=$(sqlite3 "$DB" "SELECT printf('%.1f', 100.0 * AVG(value)) FROM metrics m JOIN runs r ON r.id = m.run_id
  WHERE r.variant = 'hybrid \"x\"' AND r.status = 'done' AND (m.task, m.metric) IN (VALUES ('arc_easy','acc'),
  ('arc_challenge','acc_norm'),('piqa','acc'),('winogrande','acc'),('hellaswag','acc_norm'))")
got=$(grep '^| hybrid "x"' "$md" | awk -F'|' '{print $10}' | sed 's/ ± .*//; s/ //g')
MSG="table '$got', sqlite3 '$want'"
check commonsense_average_agrees_with_sqlite [ -n "$want" -a "$got" = "$want" ]
MSG=$(grep -c '99.0' "$md")
check commonsense_failed_run_left_out sh -c "! grep -q '99\\.0' '$md' && ! grep -q '99\\.0' '$T/a/recall.md'"
MSG=$(cat "$T/a/commonsense.md")
check commonsense_near_chance_note grep -q 'Tiny models score near chance' "$md"

# inference.json (the roadmap table): the commonsense average and recall columns
inf=$(grep '^| hybrid "x"' "$T/a/inference_table.md")
want_rc=$(sqlite3 "$DB" "SELECT 100.0 * AVG(value) FROM metrics m JOIN runs r ON r.id = m.run_id
  WHERE r.variant = 'hybrid \"x\"' AND r.status = 'done' AND m.metric = 'contains'
  AND json_extract(m.params_json, '$.answer_location') IS NULL")
got_cs=$(echo "$inf" | awk -F'|' '{print $6}' | sed 's/ ± .*//; s/ //g')
got_rc=$(echo "$inf" | awk -F'|' '{print $7}' | sed 's/ ± .*//; s/ //g')
MSG="row '$inf', commonsense '$want', recall '$want_rc'"
check inference_table_text_columns sh -c "grep -q 'MQAR acc. (%) | Commonsense avg. (%) | Recall contains (%)' '$T/a/inference_table.md' &&
  [ '$got_cs' = '$want' ] && awk 'BEGIN{d = $got_rc - $want_rc; exit !(d <= 0.051 && d >= -0.051)}'"

# recall: one row per (variant, task), the overall scores (not the breakdowns
# by answer position), the truncated count
MSG=$(cat "$T/a/recall.md")
check recall_rows sh -c "[ \$(grep -c '^| .* | \\(squad\\|kv_pairs_middle_2048\\) |' '$T/a/recall.md') = 6 ] &&
  grep -q 'contains (%) | exact_match (%) | f1 (%)' '$T/a/recall.md' &&
  grep -q '^| mamba | squad | 13.2 ± 0.4 | 3.2 ± 0.4 | 9.2 ± 0.4 | 50 | – | generation/1 |' '$T/a/recall.md' &&
  grep -q '^| mamba | kv_pairs_middle_2048 | 5.3 ± 0.4 | 1.2 ± 0.4 | 2.2 ± 0.4 | 50 | 50 | generation/1 |' '$T/a/recall.md'"

# needle: 3 panels x 3 depths x 3 lengths, scan lines separated; means over seeds
dat=$T/a/needle.dat
MSG=$(head -12 "$dat")
check needle_dat_grid sh -c "[ \$(grep -c '^# panel' '$dat') = 3 ] && [ \$(grep -c '^[0-9] [0-9] ' '$dat') = 27 ] &&
  grep -q '^# x categories: \"256\" \"512\" \"1024\"' '$dat' && grep -q '^# y categories: \"0\" \"50\" \"100\"' '$dat'"
# transformer (ord 0), length 256 (x 0), depth 50 (y 1): 100 * (1 - 0.25 - 0.125 + 0.05 * seed) -> mean 65
MSG=$(sed -n '/panel 0/,/panel 1/p' "$dat")
check needle_cell_mean sh -c "sed -n '/panel 0/,/panel 1/p' '$dat' | grep -q '^0 1 65$'"
gp=$T/a/needle.gp
MSG=$(grep -n 'multiplot\|with image\|title' "$gp" | head)
check needle_gp_image_panels sh -c "grep -q 'set multiplot layout 1,3' '$gp' && [ \$(grep -c 'with image' '$gp') = 6 ] &&
  grep -q \"set title 'hybrid \\\"x\\\"'\" '$gp' && grep -q 'set cbrange \\[0:100\\]' '$gp'"
# a missing cell is NaN and blank
sqlite3 "$DB" "DELETE FROM metrics WHERE task = 'niah_single' AND json_extract(params_json, '$.length') = 1024
  AND json_extract(params_json, '$.depth') = 100 AND run_id IN (SELECT id FROM runs WHERE variant = 'mamba')"
"$HYLAB" report --db "$DB" plots/needle.json --out "$T/c" >"$T/out" 2>"$T/err"
MSG=$(sed -n '/panel 1/,/panel 2/p' "$T/c/needle.dat")
check needle_missing_cell_nan sh -c "sed -n '/panel 1/,/panel 2/p' '$T/c/needle.dat' | grep -q '^2 2 NaN$' && [ -s '$T/c/needle.png' ]"

# heatmap keys
bad_fig() {  # NAME WANT FIGURE-JSON
    printf '{"figures": [%s]}\n' "$3" >"$T/h.json"
    "$HYLAB" report --db "$DB" "$T/h.json" --out "$T/h" >"$T/out" 2>"$T/err"; rc=$?
    MSG="rc $rc: $(cat "$T/err")"
    check "$1" sh -c "[ $rc = 2 ] && grep -qF -- \"\$1\" '$T/err' && [ ! -e '$T/h' ]" _ "$2"
}
Q='"sql": "SELECT variant, 1 AS x, 2 AS y, 3 AS z FROM runs ORDER BY id", "x": "x", "y": "y"'
bad_fig heatmap_needs_z "figures[0].z: missing (a heatmap's cell value column)" "{\"name\": \"h\", \"kind\": \"heatmap\", $Q}"
bad_fig heatmap_no_yerr "figures[0].yerr: not for a heatmap" "{\"name\": \"h\", \"kind\": \"heatmap\", $Q, \"z\": \"z\", \"yerr\": \"z\"}"
bad_fig heatmap_no_logx "figures[0].logx: not for a heatmap" "{\"name\": \"h\", \"kind\": \"heatmap\", $Q, \"z\": \"z\", \"logx\": true}"
bad_fig heatmap_no_mean_std "figures[0].aggregate: 'mean_std' is not one of mean (a heatmap has no error bars)" \
    "{\"name\": \"h\", \"kind\": \"heatmap\", $Q, \"z\": \"z\", \"aggregate\": \"mean_std\"}"
bad_fig z_only_heatmap "figures[0].z: only for kind \"heatmap\"" "{\"name\": \"h\", \"kind\": \"line\", $Q, \"z\": \"z\"}"
bad_fig heatmap_z_column "figures[0].z: figure 'h': 'zz' is not a column" "{\"name\": \"h\", \"kind\": \"heatmap\", $Q, \"z\": \"zz\"}"
# several rows for one cell: a data error found while writing (exit 1, as a bar
# chart's), the figure's files not written
printf '{"figures": [{"name": "h", "kind": "heatmap", %s, "z": "z", "series": "variant"}]}\n' "$Q" >"$T/h.json"
"$HYLAB" report --db "$DB" "$T/h.json" --out "$T/h" >"$T/out" 2>"$T/err"; rc=$?
MSG="rc $rc: $(cat "$T/err")"
check heatmap_cell_twice sh -c "[ $rc = 1 ] && grep -qF \"several rows for the cell x '1', y '2' of panel 'transformer'\" '$T/err' &&
  [ ! -e '$T/h/h.dat' ] && [ ! -e '$T/h/h.gp' ]"

# nothing in panel names or titles runs a command (gnuplot runs in the output directory)
cp "$DB" "$T/evil.db"
sqlite3 "$T/evil.db" "UPDATE runs SET variant = CASE id WHEN 1 THEN '\`touch pwned1\`' WHEN 3 THEN 'a''; system \"touch pwned2\"; print ''' WHEN 5 THEN 'c' || char(10) || '!touch pwned3' ELSE variant END"
cat >"$T/evil.json" <<'EOF'
{"figures": [{"name": "h", "kind": "heatmap", "title": "`touch pwned4`", "zlabel": "t' . system('touch pwned5') . '",
  "sql": "SELECT r.variant AS v, json_extract(m.params_json, '$.length') AS l, json_extract(m.params_json, '$.depth') AS d, m.value AS a FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.task = 'niah_single' ORDER BY r.id, l, d",
  "x": "l", "y": "d", "z": "a", "series": "v", "aggregate": "mean", "xlabel": "@GPVAL_TERM", "ylabel": "$(touch pwned6)"}]}
EOF
"$HYLAB" report --db "$T/evil.db" "$T/evil.json" --out "$T/e" >"$T/out" 2>"$T/err"; rc=$?
pwned=$(ls "$T/e" | grep pwned)
MSG="rc $rc, files: $pwned $(cat "$T/err")"
check heatmap_no_command_runs sh -c "[ $rc = 0 ] && [ -z '$pwned' ] && [ -s '$T/e/h.png' ]"
finish
