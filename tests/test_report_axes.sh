#!/bin/sh
# test_report_axes.sh: the architecture-axis reports of issue 10 on databases
# written by real (tiny, 2-step) runs:
#  - runs.active_params (migration 006): every run records params and
#    active_params equal to `hylab describe --json` of its own spec_json;
#    dense runs have active = total, MoE runs less; the summary view has the
#    column; an older database (version 5) reads NULL there, and a run on it
#    migrates it to version 6 and fills the column;
#  - plots/moe.json: table rows with describe's total and active counts, the
#    MQAR-vs-active and -vs-total figures at those x values, the lm figures
#    skipped (optional, no lm runs), byte-identical regeneration;
#  - plots/mixcon.json: the ratio label of a repeated pattern ("SA" x 4
#    layers = 2:2), the cache at 256K equal to describe's analytic count at
#    4 bytes per element, "Smaller" = all-attention / this, a pure SSM stack
#    flat in the figure, and a sliding-window stack (cache not affine in the
#    context) marked and left out of the figure.
# Needs $HYLAB, the sqlite3 CLI and gnuplot (make deps).
HYLAB=${HYLAB:-./hylab}
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/hylab_report_axes.XXXXXX") || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
trap 'rm -rf "$T"' EXIT
dir=$T
if ! command -v sqlite3 >/dev/null 2>&1; then fail report_axes "no sqlite3 CLI (make deps)"; finish; fi
if ! command -v gnuplot >/dev/null 2>&1; then fail report_axes "no gnuplot (make deps)"; finish; fi
if [ ! -x "$HYLAB" ]; then fail report_axes "no hylab binary at $HYLAB"; finish; fi

# A tiny base (MQAR: no data needed), measured after training at three contexts.
cat >"$T/base.json" <<'EOF'
{
  "name": "axes-base",
  "model": {"vocab_size": 64, "d_model": 16, "n_layers": 4, "layers": "A",
            "attn": {"n_heads": 2, "n_kv_heads": 2, "head_dim": 8},
            "ssm": {"d_state": 4, "d_conv": 4, "expand": 2},
            "ffn": {"type": "swiglu", "d_ff": 32}, "tie_embeddings": true},
  "train": {"task": {"name": "mqar", "seq_len": 32, "num_kv_pairs": 2}, "steps": 2, "batch_size": 4,
            "lr": 0.003, "warmup_steps": 1, "seed": 0},
  "eval": [{"task": "mqar", "seq_len": 32, "num_kv_pairs": 2, "num_examples": 16}],
  "measure": {"batch": [1], "context": [16, 32, 64], "decode_tokens": 1, "warmup": 0, "repeats": 1, "after_train": true}
}
EOF
cat >"$T/sweep.json" <<'EOF'
{
  "name": "axes",
  "base": "base.json",
  "grid": {"model.layers": ["AAAA", "SA", "SSSS"]},
  "variants": [
    {"name": "dense", "set": {"model.ffn.type": "swiglu"}},
    {"name": "moe4-every2", "set": {"model.ffn.type": "moe", "model.ffn.moe.n_experts": 4, "model.ffn.moe.top_k": 2,
                                    "model.ffn.moe.d_ff": 16, "model.ffn.moe.every": 2, "model.ffn.moe.offset": 1}}
  ]
}
EOF
DB=$T/axes.db
"$HYLAB" run "$T/sweep.json" --db "$DB" --threads 1 >"$T/out" 2>"$T/err"; rc=$?
MSG="exit $rc: $(tail -c 600 "$T/err")"
check sweep_runs [ "$rc" = 0 ]
[ "$rc" = 0 ] || finish
check db_version_6 [ "$(sqlite3 "$DB" 'PRAGMA user_version')" = 6 ]

# --- runs.active_params against describe ---------------------------------------
# describe_of ID: describe --json of run ID's own spec_json -> $T/d.json
describe_of() {
    sqlite3 "$DB" "SELECT spec_json FROM runs WHERE id = $1" >"$T/spec$1.json"
    "$HYLAB" describe "$T/spec$1.json" --json --dtype-bytes 4 --context 262144 >"$T/d.json" 2>>"$T/err"
}
jkey() {  # jkey KEY FILE: the integer after the top-level "KEY": (the first one) of describe --json
    sed -n "s/^{[^[]*\"$1\":\([0-9]*\).*/\1/p" "$2"
}
has() {  # has STRING SUB...: every SUB occurs in STRING (literally)
    h=$1; shift
    for sub in "$@"; do case "$h" in *"$sub"*) ;; *) return 1;; esac; done
}
bad_counts= ; n_moe=0 ; n_dense=0 ; moe_order=
for id in $(sqlite3 "$DB" "SELECT id FROM runs ORDER BY id"); do
    describe_of "$id"
    p=$(jkey params "$T/d.json"); a=$(jkey active_params "$T/d.json")
    row=$(sqlite3 "$DB" "SELECT params || ' ' || active_params || ' ' || variant FROM runs WHERE id = $id")
    set -- $row
    [ -n "$p" ] && [ "$1" = "$p" ] && [ "$2" = "$a" ] || bad_counts="$bad_counts run$id(db $1/$2, describe $p/$a)"
    case $3 in
        dense) n_dense=$((n_dense + 1)); [ "$1" = "$2" ] || moe_order="$moe_order dense-run$id" ;;
        moe*) n_moe=$((n_moe + 1)); [ "$2" -lt "$1" ] || moe_order="$moe_order moe-run$id" ;;
    esac
done
MSG="mismatches:$bad_counts"
check active_params_equal_describe [ -z "$bad_counts" ]
MSG="dense $n_dense, moe $n_moe runs; wrong order:$moe_order"
check active_params_dense_total_moe_less [ "$n_dense" = 3 -a "$n_moe" = 3 -a -z "$moe_order" ]
out=$("$HYLAB" query --db "$DB" --csv "SELECT COUNT(*) FROM summary WHERE active_params IS NOT NULL AND active_params <= params" 2>&1)
MSG="query: $out"
check summary_view_active_params [ "$(echo "$out" | tail -n 1)" = 6 ]

# --- an older database: NULL when read, migrated and filled by a run ----------
OLD=$T/old.db
cat db/schema.sql db/migrations/002.sql db/migrations/003.sql db/migrations/004.sql db/migrations/005.sql | sqlite3 "$OLD"
out=$("$HYLAB" query --db "$OLD" --csv "SELECT COUNT(*) FROM summary WHERE active_params IS NULL" 2>&1); rc=$?
MSG="exit $rc: $out"
check old_db_summary_reads [ "$rc" = 0 -a "$(echo "$out" | tail -n 1)" = 0 ]
"$HYLAB" run "$T/base.json" --db "$OLD" --threads 1 --set model.ffn.type=moe --set model.ffn.moe.n_experts=2 \
    --set model.ffn.moe.top_k=1 --set model.ffn.moe.d_ff=16 --set measure.after_train=false >"$T/out" 2>"$T/err"; rc=$?
got=$(sqlite3 "$OLD" "PRAGMA user_version; SELECT params - active_params FROM runs" | tr '\n' ' ')
# 4 MoE layers, 1 of 2 experts unused per token: 4 * 1 * 3 * 16 * 16 inactive
MSG="exit $rc, user_version and params - active_params: $got $(tail -c 300 "$T/err")"
check old_db_migrated_and_filled [ "$rc" = 0 -a "$got" = "6 3072 " ]

# --- plots/moe.json --------------------------------------------------------------
for gen in a b; do
    "$HYLAB" report --db "$DB" plots/moe.json --out "$T/moe_$gen" >"$T/out" 2>"$T/err"; rc=$?
    MSG="exit $rc: $(cat "$T/err")"
    check "moe_report_exit_0_$gen" [ "$rc" = 0 ]
done
missing=
for f in moe_density.md moe_density.tex moe_density.csv moe_mqar_vs_active.dat moe_mqar_vs_active.png \
         moe_mqar_vs_total.dat moe_mqar_vs_total.png; do
    [ -s "$T/moe_a/$f" ] || missing="$missing $f"
done
MSG="missing:$missing"
check moe_report_files [ -z "$missing" ]
check moe_report_lm_figures_skipped [ ! -e "$T/moe_a/moe_loss_vs_active.dat" -a ! -e "$T/moe_a/moe_loss_vs_total.dat" ]
differ=
for f in moe_density.md moe_density.tex moe_density.csv moe_mqar_vs_active.dat moe_mqar_vs_active.gp \
         moe_mqar_vs_total.dat moe_mqar_vs_total.gp; do
    cmp -s "$T/moe_a/$f" "$T/moe_b/$f" || differ="$differ $f"
done
MSG="differ:$differ"
check moe_report_byte_identical [ -z "$differ" ]
# The table groups by variant: every MoE run has the same counts (first run's).
moe_id=$(sqlite3 "$DB" "SELECT MIN(id) FROM runs WHERE variant = 'moe4-every2'")
describe_of "$moe_id"
p=$(jkey params "$T/d.json"); a=$(jkey active_params "$T/d.json")
commas() { printf "%s" "$1" | rev | sed 's/\([0-9]\{3\}\)/\1,/g; s/,$//' | rev; }
line=$(grep '^| moe4-every2 ' "$T/moe_a/moe_density.md")
MSG="row: $line (describe $p / $a)"
check moe_table_total_and_active has "$line" "| $(commas "$p") | $(commas "$a") |"
check moe_table_ffn_column has "$line" "MoE 4 x 16 top-2, every 2 from 1"
# the scatter's x values: the active counts of the dense and MoE runs of the first grid point
xa=$(awk '!/^#/ && NF >= 2 {print $1}' "$T/moe_a/moe_mqar_vs_active.dat" | tr '\n' ' ')
xt=$(awk '!/^#/ && NF >= 2 {print $1}' "$T/moe_a/moe_mqar_vs_total.dat" | tr '\n' ' ')
MSG="active x: $xa; total x: $xt (describe $p / $a)"
check moe_figures_x_values has "$xa $xt" "$a " "$p "

# --- plots/mixcon.json --------------------------------------------------------
"$HYLAB" report --db "$DB" plots/mixcon.json --out "$T/mc" >"$T/out" 2>"$T/err"; rc=$?
MSG="exit $rc: $(cat "$T/err")"
check mixcon_report_exit_0 [ "$rc" = 0 ]
missing=
for f in mixcon_quality.md mixcon_quality.csv mixcon_cache.md mixcon_cache.csv mixcon_cache.dat mixcon_cache.png \
         mixcon_quality_mqar.dat mixcon_quality_mqar.png; do
    [ -s "$T/mc/$f" ] || missing="$missing $f"
done
MSG="missing:$missing"
check mixcon_report_files [ -z "$missing" ]
rows=$(grep -c '^| [0-9]:[0-9] ' "$T/mc/mixcon_quality.md")
MSG="quality rows: $rows"
check mixcon_quality_rows_ratio_x_variant [ "$rows" = 6 ]
# cache at 256K of the 2:2 stack ("SA" repeated) and of all-attention, from describe
sa_id=$(sqlite3 "$DB" "SELECT MIN(id) FROM runs WHERE json_extract(spec_json, '$.model.layers') = 'SA'")
aa_id=$(sqlite3 "$DB" "SELECT MIN(id) FROM runs WHERE json_extract(spec_json, '$.model.layers') = 'AAAA'")
describe_of "$sa_id"; sa=$(sed -n 's/.*"cache_bytes":{"262144":\([0-9]*\)}.*/\1/p' "$T/d.json")
describe_of "$aa_id"; aa=$(sed -n 's/.*"cache_bytes":{"262144":\([0-9]*\)}.*/\1/p' "$T/d.json")
want_sa=$(awk -v b="$sa" 'BEGIN {printf "%.2f", b / 1048576}')
want_x=$(awk -v a="$aa" -v b="$sa" 'BEGIN {printf "%.1fx", a / b}')
line=$(grep '^| 2:2 ' "$T/mc/mixcon_cache.md")
MSG="row: $line (describe: $sa bytes -> $want_sa MiB, $want_x)"
check mixcon_cache_256k_equals_describe has "$line" "| SA | 16, 32, 64 | yes |" "| $want_sa | $want_x |"
line=$(grep '^| 4:0 ' "$T/mc/mixcon_cache.md")
MSG="row: $line"
check mixcon_cache_baseline_1x has "$line" "| AAAA |" "| 1.0x |"
# the pure SSM stack: the same cache at every context of the figure
flat=$(awk '/^# / && /0:4/ {on = 1; next} /^# / {on = 0} on && NF >= 2 {print $2}' "$T/mc/mixcon_cache.dat" | sort -u | wc -l)
pts=$(awk '/^# / && /0:4/ {on = 1; next} /^# / {on = 0} on && NF >= 2' "$T/mc/mixcon_cache.dat" | wc -l)
MSG="0:4 series: $pts points, $flat distinct values: $(head -c 600 "$T/mc/mixcon_cache.dat")"
check mixcon_cache_ssm_flat [ "$pts" = 5 -a "$flat" = 1 ]

# Sliding windows: the cache stops growing at the window. Window 16 <= the
# smallest measured context: affine from there on, extrapolated, and equal to
# describe at 256K. Window 32: the points 16, 32, 64 are not on one line.
# Window 128: they are, but the line is wrong beyond 128: not extrapolated.
cat >"$T/swa.json" <<'EOF2'
{"name": "swa", "base": "base.json", "grid": {"model.attn.window": [16, 32, 128]}, "variants": [{"name": "sa", "set": {"model.layers": "SA"}}]}
EOF2
SWA=$T/swa.db
"$HYLAB" run "$T/swa.json" --db "$SWA" --threads 1 >"$T/out" 2>"$T/err"; rc=$?
"$HYLAB" report --db "$SWA" plots/mixcon.json --out "$T/swa" >"$T/out" 2>>"$T/err"; rc2=$?
MSG="exit $rc/$rc2: $(tail -c 300 "$T/err")"
check swa_runs_and_report [ "$rc" = 0 -a "$rc2" = 0 ]
DB=$SWA describe_of "$(sqlite3 "$SWA" "SELECT id FROM runs WHERE json_extract(spec_json, '$.model.attn.window') = 16")"
w16=$(sed -n 's/.*"cache_bytes":{"262144":\([0-9]*\)}.*/\1/p' "$T/d.json")
want=$(awk -v b="$w16" 'BEGIN {printf "%.2f", b / 1048576}')
line=$(grep '^| 2:2 | SA, window 16 ' "$T/swa/mixcon_cache.md")
MSG="row: $line (describe $w16 bytes -> $want MiB)"
check swa_within_window_extrapolated has "$line" "| yes |" "| $want |"
line=$(grep '^| 2:2 | SA, window 32 ' "$T/swa/mixcon_cache.md")
MSG="row: $line"
check swa_not_affine_marked has "$line" "| no: not extrapolated |"
line=$(grep '^| 2:2 | SA, window 128 ' "$T/swa/mixcon_cache.md")
MSG="row: $line"
check swa_window_beyond_measured_marked has "$line" "| no: not extrapolated |"
n=$(grep -c '^# .*window \(32\|128\)' "$T/swa/mixcon_cache.dat")
m=$(grep -c '^# .*window 16' "$T/swa/mixcon_cache.dat")
MSG="series blocks: window 16: $m, 32/128: $n: $(grep '^#' "$T/swa/mixcon_cache.dat" | head -5)"
check swa_figure_only_extrapolated [ "$m" = 1 -a "$n" = 0 ]
finish
