#!/bin/sh
# test_report.sh: `hylab report` on a fixture database (tests/fixtures/report_fixture.sql
# loaded over db/schema.sql): the shipped reports write every file, regenerate
# byte-identically, PNGs have the configured size, the mean +- std in the table
# agrees with sqlite3, bad input exits 2 naming the JSON path, and no title,
# label, variant name or file name makes gnuplot run a command.
# Needs $HYLAB, the sqlite3 CLI and gnuplot (make deps); PNG checks are
# skipped without gnuplot, the command-injection checks fail without it.
HYLAB=${HYLAB:-./hylab}
. "$(dirname "$0")/lib.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/hylab_report.XXXXXX") || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
trap 'rm -rf "$T"' EXIT
if ! command -v sqlite3 >/dev/null 2>&1; then fail report "no sqlite3 CLI to build the fixture (make deps)"; finish; fi
if [ ! -x "$HYLAB" ]; then fail report "no hylab binary at $HYLAB"; finish; fi
HAVE_GP=0; command -v gnuplot >/dev/null 2>&1 && HAVE_GP=1

DB=$T/fx.db
cat db/schema.sql tests/fixtures/report_fixture.sql | sqlite3 "$DB" || { fail fixture "sqlite3 could not build it"; finish; }

run_report() {  # run_report REPORT OUTDIR -> rc in $rc, stderr in $T/err
    "$HYLAB" report --db "$DB" "$1" --out "$2" >"$T/out" 2>"$T/err"; rc=$?
}

# --- the shipped reports ------------------------------------------------------
for gen in a b; do
    run_report plots/quickstart.json "$T/$gen"; rc1=$rc
    run_report plots/training.json "$T/$gen"; rc2=$rc
    if [ $HAVE_GP = 1 ]; then
        check "report_exit_0_$gen" [ "$rc1" = 0 -a "$rc2" = 0 ]
    else
        check "report_exit_1_without_gnuplot_$gen" [ "$rc1" = 1 -a "$rc2" = 1 ]
    fi
done
cat "$T/err"

missing=""
for f in quickstart_mqar.md quickstart_mqar.tex quickstart_mqar.csv quickstart_mqar.dat quickstart_mqar.gp \
         training_loss.dat training_loss.gp training_eval_accuracy.dat training_eval_accuracy.gp; do
    [ -s "$T/a/$f" ] || missing="$missing $f"
done
check files_written [ -z "$missing" ]
[ -n "$missing" ] && echo "missing:$missing"

same=1
for f in quickstart_mqar.md quickstart_mqar.tex quickstart_mqar.csv quickstart_mqar.dat quickstart_mqar.gp \
         training_loss.dat training_loss.gp training_eval_accuracy.dat training_eval_accuracy.gp; do
    cmp -s "$T/a/$f" "$T/b/$f" || { same=0; echo "differs: $f"; }
done
check regenerate_byte_identical [ $same = 1 ]

# --- PNG / PDF ------------------------------------------------------------------
png_size() {  # prints "W H" if $1 starts with the PNG signature and an IHDR chunk
    sig=$(od -A n -t x1 -N 16 "$1" 2>/dev/null | tr -d ' \n')
    case "$sig" in 89504e470d0a1a0a0000000d49484452) ;; *) echo "bad"; return;; esac
    set -- $(od -A n -t u1 -j 16 -N 8 "$1")
    echo "$(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 )) $(( ($5 << 24) + ($6 << 16) + ($7 << 8) + $8 ))"
}
if [ $HAVE_GP = 1 ]; then
    for fig in quickstart_mqar training_loss training_eval_accuracy; do
        check "png_${fig}_800x560" [ "$(png_size "$T/a/$fig.png")" = "800 560" ]
        check "pdf_$fig" [ "$(head -c 5 "$T/a/$fig.pdf" 2>/dev/null)" = "%PDF-" ]
    done
else
    skip png "gnuplot not installed"
fi

# --- table values against sqlite3 -------------------------------------------------
# mean and sample std (x100, one decimal) of MQAR accuracy over the done runs
sqlite3 -separator '|' "$DB" "SELECT variant, printf('%.1f', 100 * AVG(a)),
    printf('%.1f', 100 * sqrt((SUM(a * a) - SUM(a) * SUM(a) / COUNT(*)) / (COUNT(*) - 1))),
    printf('%.0f', AVG(t)), COUNT(*)
  FROM (SELECT r.variant AS variant, m.value AS a, r.tokens_per_s AS t FROM runs r JOIN metrics m ON m.run_id = r.id
        WHERE r.status = 'done' AND r.sweep = 'quickstart' AND m.task = 'mqar' AND m.metric = 'accuracy')
  GROUP BY variant ORDER BY variant" > "$T/expect"
nvar=0; good=0
while IFS='|' read -r variant mean std tps n; do
    nvar=$((nvar+1))
    if grep -q "^| $variant | .* | $mean ± $std | " "$T/a/quickstart_mqar.md" &&
       grep -q "^    $variant & .* & $mean \$\\\\pm\$ $std & " "$T/a/quickstart_mqar.tex" &&
       grep -q "^$variant,.*,$mean,$std,$tps" "$T/a/quickstart_mqar.csv" && [ "$n" = 2 ]; then
        good=$((good+1))
    else
        echo "expected $variant: $mean ± $std, $tps tokens/s (n=$n)"; grep "$variant" "$T/a/quickstart_mqar.md"
    fi
done < "$T/expect"
check table_mean_std_matches_sqlite3 [ $nvar = 5 -a $good = 5 ]
check table_rows_in_sweep_order [ "$(sed -n 's/^| \([a-z-]*\) | .*/\1/p' "$T/a/quickstart_mqar.md" | tr '\n' ' ')" = \
    "transformer mamba hybrid-seq hybrid-par hybrid-par-meta " ]
check tex_booktabs [ "$(grep -c -e '\\toprule' -e '\\midrule' -e '\\bottomrule' "$T/a/quickstart_mqar.tex")" = 3 ]
check md_notes_n [ "$(grep -c 'n = 2 runs per row' "$T/a/quickstart_mqar.md")" = 1 ]
# the figure's bar heights and error bars are the same means (x100) and stds
bars=$(awk '/^[0-9]/ { printf "%s %.1f %.1f\n", $2, $3, $4 }' "$T/a/quickstart_mqar.dat" | tr -d '"' | sort)
exp=$(awk -F'|' '{ print $1, $2, $3 }' "$T/expect" | sort)
check figure_bars_match_sqlite3 [ "$bars" = "$exp" ]
check logy_fitted_ticks grep -q '^set ytics ("0.5" 0.5, "1" 1, "2" 2, "5" 5)$' "$T/a/training_loss.gp"

# --- bad input: exit 2, message names the JSON path, nothing written -------------
bad() {  # bad NAME JSON EXPECTED_SUBSTRING
    printf '%s\n' "$2" > "$T/$1.json"
    "$HYLAB" report --db "$DB" "$T/$1.json" --out "$T/bad_$1" >/dev/null 2>"$T/err"; rc=$?
    if [ $rc = 2 ] && grep -qF -- "$3" "$T/err" && [ ! -e "$T/bad_$1" ]; then ok "bad_$1"
    else fail "bad_$1" "exit $rc, stderr: $(cat "$T/err")"; fi
}
bad format '{"tables":[{"name":"t","sql":"SELECT 1 AS a, 2 AS b, 3 AS c ORDER BY 1","columns":[{"name":"a"},{"name":"b"},{"name":"c","format":3}]}]}' \
    "/format.json: tables[0].columns[2].format: must be a string"
bad printf '{"tables":[{"name":"t","sql":"SELECT 1 AS a ORDER BY 1","columns":[{"name":"a","format":"%s%n"}]}]}' \
    "tables[0].columns[0].format:"
bad unknown_key '{"figures":[{"name":"f","sql":"SELECT 1 AS x, 2 AS y ORDER BY 1","kind":"line","x":"x","y":"y","colour":"red"}]}' \
    "figures[0].colour: unknown key"
bad kind '{"figures":[{"name":"f","sql":"SELECT 1 AS x, 2 AS y ORDER BY 1","kind":"pie","x":"x","y":"y"}]}' \
    "figures[0].kind: 'pie' is not one of line, bar, scatter"
bad sql '{"tables":[{"name":"mytab","sql":"SELECT nope FROM runs ORDER BY 1","columns":[{"name":"nope"}]}]}' \
    "tables[0].sql: table 'mytab': no such column: nope"
bad column '{"figures":[{"name":"myfig","sql":"SELECT 1 AS x, 2 AS y ORDER BY 1","kind":"line","x":"x","y":"acc"}]}' \
    "figures[0].y: figure 'myfig': 'acc' is not a column"
bad order '{"tables":[{"name":"t","sql":"SELECT variant FROM runs","columns":[{"name":"variant"}]}]}' \
    "tables[0].sql: must have an ORDER BY"
bad agg '{"tables":[{"name":"t","sql":"SELECT variant, params FROM runs ORDER BY 1","group_by":"variant","columns":[{"name":"variant"},{"name":"params"}]}]}' \
    "tables[0].columns[1].agg: required"
bad write '{"tables":[{"name":"t","sql":"DELETE FROM runs RETURNING id ORDER BY 1","columns":[{"name":"id"}]}]}' \
    "tables[0].sql"
bad json '{"tables": [' "invalid JSON"
bad dup_key '{"tables":[{"name":"t","sql":"SELECT 1 AS a ORDER BY 1","columns":[{"name":"a","label":"A","label":"B"}]}]}' \
    "tables[0].columns[0].label: duplicate key"
bad dup_top '{"tables":[{"name":"t","sql":"SELECT 1 AS a ORDER BY 1","columns":[{"name":"a"}]}],"tables":[]}' \
    "/dup_top.json: tables: duplicate key"
bad dup_figure '{"figures":[{"name":"f","sql":"SELECT 1 AS x, 2 AS y ORDER BY 1","kind":"line","x":"x","y":"y","y":"x"}]}' \
    "figures[0].y: duplicate key"
# double-quoted string literals are off: a misspelt metric column is an error
bad dqs_column '{"tables":[{"name":"t","sql":"SELECT variant, \"mqar.acuracy\" AS acc FROM summary ORDER BY 1","columns":[{"name":"acc"}]}]}' \
    "no such column: mqar.acuracy"
bad dqs_figure '{"figures":[{"name":"f","sql":"SELECT \"train.sed\" AS x, params AS y FROM summary ORDER BY 1","kind":"line","x":"x","y":"y"}]}' \
    "no such column: train.sed"
bad two_statements '{"tables":[{"name":"t","sql":"SELECT 1 AS a ORDER BY 1; SELECT 2","columns":[{"name":"a"}]}]}' \
    "tables[0].sql: table 't': only one"

"$HYLAB" report --db "$T/none.db" plots/quickstart.json --out "$T/nodb" >/dev/null 2>"$T/err"; rc=$?
check missing_db_exit_2 [ $rc = 2 -a ! -e "$T/nodb" -a ! -e "$T/none.db" ]
"$HYLAB" report --db "$DB" --out "$T/x" >/dev/null 2>&1; rc=$?
check missing_report_arg_exit_2 [ $rc = 2 ]
check help sh -c '"$1" report --help | grep -q "usage: hylab report"' sh "$HYLAB"

# --- no gnuplot: tables still written, says so, exit 1 ---------------------------
HYLAB_GNUPLOT=$T/no-such-gnuplot "$HYLAB" report --db "$DB" plots/quickstart.json --out "$T/nogp" >/dev/null 2>"$T/err"; rc=$?
check no_gnuplot_exit_1 [ $rc = 1 -a -s "$T/nogp/quickstart_mqar.md" -a -s "$T/nogp/quickstart_mqar.gp" -a ! -e "$T/nogp/quickstart_mqar.png" ]
check no_gnuplot_message grep -q "gnuplot not found" "$T/err"

# --- empty results, escaping, grouped bars, scatter --------------------------------
cat > "$T/misc.json" <<'EOF'
{"tables": [
  {"name": "empty", "sql": "SELECT variant FROM runs WHERE 0 ORDER BY 1", "columns": [{"name": "variant"}]},
  {"name": "esc", "title": "Loss_rate & 50% of #runs", "sql": "SELECT 'a_b' AS k, 0.5 AS v ORDER BY 1",
   "columns": [{"name": "k", "label": "key_name"}, {"name": "v", "label": "Share (%)", "format": "pct"}]},
  {"name": "sqlstd", "sql": "SELECT variant, AVG(tokens_per_s) AS m, 12.345 AS s FROM runs WHERE status = 'done' GROUP BY variant ORDER BY MIN(id)",
   "columns": [{"name": "variant"}, {"name": "m", "std": "s", "format": "%.1f"}]}],
 "figures": [
  {"name": "nodata", "kind": "line", "sql": "SELECT step, value FROM curves WHERE 0 ORDER BY 1", "x": "step", "y": "value",
   "xlabel": "Step", "ylabel": "Value (a.u.)", "size": [640, 480]},
  {"name": "optional_empty", "kind": "line", "optional": true, "sql": "SELECT step, value FROM curves WHERE 0 ORDER BY 1", "x": "step", "y": "value"},
  {"name": "grouped", "kind": "bar", "sql": "SELECT \"model.layers\" AS layers, variant, 100 * \"mqar.accuracy\" AS acc FROM summary WHERE status = 'done' ORDER BY run_id",
   "x": "layers", "y": "acc", "series": "variant", "aggregate": "mean_std", "xlabel": "Layer pattern", "ylabel": "MQAR accuracy (%)", "legend": "above"},
  {"name": "scatter", "kind": "scatter", "sql": "SELECT variant, params / 1e6 AS p, 100 * \"mqar.accuracy\" AS acc FROM summary WHERE status = 'done' ORDER BY run_id",
   "x": "p", "y": "acc", "series": "variant", "aggregate": "mean_std", "xlabel": "Parameters (M)", "ylabel": "MQAR accuracy (%)", "legend": "right", "size": [700, 400]}]}
EOF
"$HYLAB" report --db "$DB" "$T/misc.json" --out "$T/m" >/dev/null 2>"$T/err"; rc=$?
[ $HAVE_GP = 1 ] && check misc_exit_0 [ $rc = 0 ] || check misc_exit_1_without_gnuplot [ $rc = 1 ]
check empty_table_note grep -q "No data" "$T/m/empty.md"
check empty_table_tex grep -q 'multicolumn{1}{c}' "$T/m/empty.tex"
check empty_table_csv [ "$(cat "$T/m/empty.csv")" = "$(printf 'variant\r')" ]
check tex_escapes grep -q 'Loss\\_rate \\& 50\\% of \\#runs' "$T/m/esc.tex"
check tex_escapes_cells grep -q '^    a\\_b & 50.0 \\\\$' "$T/m/esc.tex"
check md_sql_std grep -q '^| transformer | 41280.5 ± 12.3 |$' "$T/m/sqlstd.md"
check optional_figure_skipped [ ! -e "$T/m/optional_empty.gp" ]
check grouped_bar_series [ "$(grep -c '^# series' "$T/m/grouped.dat")" = 5 ]
if [ $HAVE_GP = 1 ]; then
    check png_nodata_640x480 [ "$(png_size "$T/m/nodata.png")" = "640 480" ]
    check png_grouped [ "$(png_size "$T/m/grouped.png")" = "800 560" ]
    check png_scatter_700x400 [ "$(png_size "$T/m/scatter.png")" = "700 400" ]
    # a user can edit and rerun the script where it lies
    (cd "$T/m" && rm -f scatter.png && gnuplot scatter.gp 2>/dev/null) && check gp_rerun [ -s "$T/m/scatter.png" ]
fi

# --- nothing from the report file or the database runs a command ---------------
# Variant names (bar categories and legend entries) and titles/labels that try
# gnuplot's `backticks`, a quote that ends the string and a system command, a
# line break followed by gnuplot's "!" shell escape, $(...) and @macros; also a
# report file whose name holds a line break. Each would create a pwned* file
# (gnuplot runs in the output directory).
if [ $HAVE_GP = 0 ]; then
    fail gnuplot_injection "gnuplot is needed to show that no command runs (make deps)"
else
    cp "$DB" "$T/evil.db"
    cat > "$T/evil.sql" <<'EOF'
UPDATE runs SET variant = CASE id
  WHEN 1 THEN '`touch pwned1`'
  WHEN 3 THEN 'a"; `touch pwned2` "'
  WHEN 5 THEN 'b''; system "touch pwned3"; print '''
  WHEN 7 THEN 'c' || char(10) || '!touch pwned4' || char(10) || 'd'
  WHEN 9 THEN '$(touch pwned5) @GPVAL_TERM back\'
  ELSE variant END;
EOF
    sqlite3 "$T/evil.db" < "$T/evil.sql"
    cat > "$T/evil.json" <<'EOF'
{"title": "`touch pwned6`",
 "tables": [{"name": "t", "title": "`touch pwned7`", "sql": "SELECT variant FROM runs ORDER BY id",
             "columns": [{"name": "variant", "label": "`touch pwned8`"}]}],
 "figures": [
  {"name": "bars", "kind": "bar", "title": "`touch pwned9`", "sql": "SELECT variant, tokens_per_s FROM runs WHERE status = 'done' ORDER BY id",
   "x": "variant", "y": "tokens_per_s", "series": "variant", "aggregate": "mean",
   "xlabel": "x\"; `touch pwned10`; \"", "ylabel": "y'\n!touch pwned11\n'"},
  {"name": "lines", "kind": "line", "title": "t' . system('touch pwned12') . '",
   "sql": "SELECT r.variant AS v, c.step AS step, c.value AS value FROM curves c JOIN runs r ON r.id = c.run_id WHERE c.name = 'loss' ORDER BY r.id, c.step",
   "x": "step", "y": "value", "series": "v", "xlabel": "@GPVAL_TERM", "ylabel": "$(touch pwned13)"}]}
EOF
    evil_name=$(printf '%s/evil\n!touch pwned14\n.json' "$T")
    cp "$T/evil.json" "$evil_name"
    for rep in "$T/evil.json" "$evil_name"; do
        rm -rf "$T/evil_out"
        "$HYLAB" report --db "$T/evil.db" "$rep" --out "$T/evil_out" >"$T/out" 2>"$T/err"; rc=$?
        pwned=$(find "$T" . -maxdepth 2 -name 'pwned*' 2>/dev/null | tr '\n' ' ')
        MSG="exit $rc, files made by commands: $pwned; $(tail -n 3 "$T/err")"
        check "report_runs_no_command$( [ "$rep" = "$evil_name" ] && echo _odd_file_name)" \
            [ $rc = 0 -a -z "$pwned" -a -s "$T/evil_out/bars.png" -a -s "$T/evil_out/lines.png" ]
        rm -f $pwned
    done
    # the hostile names are still shown, as text: a legend entry in the script
    MSG="$(grep -n "touch pwned3" "$T/evil_out/bars.gp")"
    check report_hostile_name_kept_as_text grep -qF "title 'b''; system \"touch pwned3\"; print '''" "$T/evil_out/bars.gp"
fi

[ -n "$KEEP_REPORT_OUT" ] && cp -r "$T/a" "$T/m" "$KEEP_REPORT_OUT"/ 2>/dev/null
finish
