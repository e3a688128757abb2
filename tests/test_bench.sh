#!/bin/sh
# test_bench.sh: `hylab bench` (harness/run/measure.h) on a tiny mixed model
# (sliding-window and global attention with meta tokens, GQA and KV sharing,
# Mamba, the hybrid head) over a small grid: every line is JSON, every kind is
# there at every grid point with its protocol (repeats, warm-up, min <= median
# <= max, threads, BLAS core, CPU, dtype_bytes), state bytes as allocated equal
# describe's analytic count, --db records one row per printed figure with its
# protocol (a rerun replaces them), a checkpoint benches with its weights,
# `hylab run` measures after training when measure.after_train asks, and bad
# input exits 2 naming the file and JSON path with nothing written.
HYLAB=${HYLAB:-./hylab}
PY=${HYLAB_PYTHON:-python3}
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/hylab_bench.XXXXXX") || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
trap 'rm -rf "$T"' EXIT
if [ ! -x "$HYLAB" ]; then fail bench "no hylab binary at $HYLAB"; finish; fi

cat >"$T/tiny.json" <<'EOF'
{"name": "bench-tiny",
 "model": {"vocab_size": 64, "d_model": 32, "n_layers": 4, "layers": "AASH", "meta_tokens": 2,
           "attn": {"n_heads": 4, "n_kv_heads": 2, "window": 4, "global_layers": [0], "kv_share": [[0, 1]]},
           "ssm": {"d_state": 4, "d_conv": 3, "expand": 2},
           "ffn": {"type": "none"}},
 "train": {"task": {"name": "mqar", "seq_len": 16, "num_kv_pairs": 2, "num_examples": 200},
           "steps": 2, "batch_size": 2},
 "eval": [],
 "measure": {"batch": [1, 3], "context": [5, 12], "decode_tokens": 3, "warmup": 1, "repeats": 3}}
EOF

# --- figures on stdout -----------------------------------------------------------
"$HYLAB" bench "$T/tiny.json" --threads 1 >"$T/out.jsonl" 2>"$T/err"; rc=$?
MSG="exit $rc: $(cat "$T/err")"; check bench_exit_0 [ "$rc" = 0 ]
cat >"$T/check.py" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
figs = [json.loads(l) for l in lines]          # every line parses
want_kinds = ["param_bytes", "activation_bytes", "state_bytes", "state_bytes_analytic", "prefill_tok_s",
              "decode_tok_s", "decode_tok_s_per_seq", "train_tok_s", "peak_rss_bytes"]
threads, repeats, warmup = int(sys.argv[2]), 3, 1
errors = []
def err(m): errors.append(m)
pts = sorted({(f["batch"], f["context"]) for f in figs})
if pts != [(1, 5), (1, 12), (3, 5), (3, 12)]: err("grid points %s" % pts)
for p in pts:
    got = {f["kind"]: f for f in figs if (f["batch"], f["context"]) == p}
    missing = [k for k in want_kinds if k not in got]
    if missing: err("%s: missing %s" % (p, missing)); continue
    if got["state_bytes"]["value"] != got["state_bytes_analytic"]["value"]:
        err("%s: state_bytes %s != state_bytes_analytic %s" % (p, got["state_bytes"]["value"], got["state_bytes_analytic"]["value"]))
    for k, f in got.items():
        for key in ("value", "unit", "repeats", "min", "max", "dtype_bytes", "threads", "blas_core", "cpu", "protocol", "warmup"):
            if key not in f: err("%s %s: no %s" % (p, k, key))
        if f.get("dtype_bytes") != 4 or f.get("threads") != threads or f.get("protocol") != "grid" or not f.get("cpu"):
            err("%s %s: protocol fields %s" % (p, k, f))
        if not (f["min"] <= f["value"] <= f["max"]): err("%s %s: not min <= value <= max" % (p, k))
        if f["unit"] == "tok/s":
            if f["repeats"] != repeats or f["warmup"] != warmup or not f["value"] > 0:
                err("%s %s: repeats %s warmup %s value %s" % (p, k, f["repeats"], f["warmup"], f["value"]))
        elif f["unit"] != "bytes" or f["repeats"] != 1 or not f["value"] > 0:
            err("%s %s: a count %s" % (p, k, f))
    b = p[0]
    if abs(got["decode_tok_s"]["value"] - b * got["decode_tok_s_per_seq"]["value"]) > 1e-6 * got["decode_tok_s"]["value"]:
        err("%s: decode_tok_s is not batch x per-sequence" % (p,))
an = {p: f["value"] for f in figs for p in [(f["batch"], f["context"])] if f["kind"] == "state_bytes_analytic"}
if an and an[(3, 12)] != 3 * an[(1, 12)]: err("analytic state is not batch x one sequence's")
for e in errors: print(e)
print(len(figs))
EOF
"$PY" "$T/check.py" "$T/out.jsonl" 1 >"$T/chk" 2>&1; rc=$?
MSG=$(cat "$T/chk"); check bench_json_kinds_protocol [ "$rc" = 0 -a "$(wc -l <"$T/chk")" = 1 ]
nfig=$(tail -n 1 "$T/chk")
grep -q '"kind":"state_bytes"' "$T/out.jsonl"; check bench_has_state_bytes [ $? = 0 ]

# describe's analytic count for one sequence at context 12 equals the bench's state_bytes
d=$("$HYLAB" describe "$T/tiny.json" --json --context 12 --dtype-bytes 4 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["cache_bytes"]["12"])')
s=$("$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    f = json.loads(l)
    if f["kind"] == "state_bytes" and f["batch"] == 1 and f["context"] == 12: print(int(f["value"]))' "$T/out.jsonl")
MSG="describe $d, bench $s"; check state_bytes_equal_describe [ -n "$d" -a "$d" = "$s" ]

# --- --db -------------------------------------------------------------------------
"$HYLAB" bench "$T/tiny.json" --threads 1 --no-train --set 'measure.batch=[1]' --set 'measure.context=[6]' \
    --db "$T/b.db" >"$T/out2.jsonl" 2>"$T/err"; rc=$?
MSG="exit $rc: $(cat "$T/err")"; check bench_db_exit_0 [ "$rc" = 0 ]
n_out=$(wc -l <"$T/out2.jsonl")
q() { "$HYLAB" query --db "$T/b.db" --csv "$1" | tail -n 1; }
MSG="printed $n_out, rows $(q 'SELECT count(*) FROM measurements')"
check bench_db_rows_equal_figures [ "$n_out" = 8 -a "$(q 'SELECT count(*) FROM measurements')" = "$n_out" ]
MSG=$(q "SELECT group_concat(kind) FROM measurements WHERE NOT (batch=1 AND context=6 AND dtype_bytes=4 AND threads=1 AND protocol='grid' AND cpu <> '' AND backend='cpu' AND min <= value AND value <= max)")
check bench_db_protocol_columns [ "$(q "SELECT count(*) FROM measurements WHERE batch=1 AND context=6 AND dtype_bytes=4 AND threads=1 AND protocol='grid' AND cpu <> '' AND backend='cpu' AND min <= value AND value <= max")" = 8 ]
check bench_db_no_train_figure [ "$(q "SELECT count(*) FROM measurements WHERE kind='train_tok_s'")" = 0 ]
check bench_db_run_done [ "$(q "SELECT count(*) FROM runs WHERE sweep='bench' AND variant='bench-tiny' AND status='done'")" = 1 ]
"$HYLAB" bench "$T/tiny.json" --threads 1 --no-train --set 'measure.batch=[1]' --set 'measure.context=[6]' \
    --db "$T/b.db" >/dev/null 2>&1
check bench_db_rerun_replaces [ "$(q 'SELECT count(*) FROM measurements')" = 8 -a "$(q 'SELECT count(*) FROM runs')" = 1 ]

# --- a checkpoint -------------------------------------------------------------------
"$HYLAB" run "$T/tiny.json" --save "$T/tiny.safetensors" >/dev/null 2>"$T/err"
"$HYLAB" bench "$T/tiny.safetensors" --threads 1 --no-train --set 'measure.batch=[1]' --set 'measure.context=[4]' \
    >"$T/out3.jsonl" 2>"$T/err"; rc=$?
MSG="exit $rc: $(cat "$T/err")"; check bench_checkpoint [ "$rc" = 0 -a "$(wc -l <"$T/out3.jsonl")" = 8 ]

# --- measure.after_train in `hylab run` --------------------------------------------
"$HYLAB" run "$T/tiny.json" --set measure.after_train=true --set 'measure.batch=[1]' --set 'measure.context=[4]' \
    --db "$T/r.db" >/dev/null 2>"$T/err"; rc=$?
n=$("$HYLAB" query --db "$T/r.db" --csv "SELECT count(*) FROM measurements WHERE protocol='grid'" | tail -n 1)
MSG="exit $rc, $n protocol rows: $(cat "$T/err")"; check run_after_train_records [ "$rc" = 0 -a "$n" = 9 ]
"$HYLAB" run "$T/tiny.json" --db "$T/r0.db" >/dev/null 2>&1
n=$("$HYLAB" query --db "$T/r0.db" --csv "SELECT count(*) FROM measurements WHERE protocol IS NOT NULL" | tail -n 1)
MSG="$n rows"; check run_without_after_train_measures_nothing [ "$n" = 0 ]
# the new keys are left out of the canonical spec at their defaults
h0=$("$HYLAB" describe "$T/tiny.json" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["spec_hash"])')
h1=$("$HYLAB" describe "$T/tiny.json" --json --set measure.after_train=false --set measure.protocol=grid | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["spec_hash"])')
h2=$("$HYLAB" describe "$T/tiny.json" --json --set measure.after_train=true | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["spec_hash"])')
MSG="$h0 $h1 $h2"; check measure_defaults_keep_hash [ -n "$h0" -a "$h0" = "$h1" -a "$h0" != "$h2" ]

# --- Hymba's protocol: context 8192, batch 128 halved until it fits -----------------
cat >"$T/hymba.json" <<'EOF2'
{"name": "hy", "model": {"vocab_size": 32, "d_model": 16, "n_layers": 1, "layers": "S", "ffn": {"type": "none"}},
 "train": {"task": {"name": "mqar", "seq_len": 16, "num_kv_pairs": 2, "num_examples": 200}, "steps": 1, "batch_size": 1},
 "eval": [], "measure": {"protocol": "hymba", "decode_tokens": 1, "warmup": 0, "repeats": 1}}
EOF2
HYLAB_DEBUG_MEMORY_BYTES=60000000 "$HYLAB" bench "$T/hymba.json" --threads 1 >"$T/hy.jsonl" 2>"$T/hyerr"; rc=$?
halvings=$(grep -c "halving the batch" "$T/hyerr")
"$PY" -c 'import json,sys
figs = [json.loads(l) for l in open(sys.argv[1])]
want = 128 >> int(sys.argv[2])
ok = figs and all(f["batch"] == want and f["context"] == 8192 and f["protocol"] == "hymba" for f in figs) \
     and not any(f["kind"] == "train_tok_s" for f in figs) and any(f["kind"] == "decode_tok_s" for f in figs)
sys.exit(0 if ok and 0 < want < 128 else 1)' "$T/hy.jsonl" "$halvings"
MSG="exit $rc, $halvings halvings: $(cat "$T/hyerr") $(head -c 300 "$T/hy.jsonl")"; check hymba_protocol_halves_batch [ $? = 0 -a "$rc" = 0 ]

# --- the inference report renders from the bench database ---------------------------
"$HYLAB" report --db "$T/b.db" plots/inference.json --out "$T/rep" >"$T/rout" 2>&1; rc=$?
MSG="exit $rc: $(cat "$T/rout")"; check inference_report_renders [ "$rc" = 0 -o "$rc" = 1 ]
MSG="$(cat "$T/rep/inference_table.md" 2>/dev/null)"
check inference_table_row [ "$(grep -c '^| bench-tiny | AASH |' "$T/rep/inference_table.md" 2>/dev/null)" = 1 ]
check inference_figure_data [ -s "$T/rep/inference_decode.dat" -a -s "$T/rep/inference_cache.dat" ]

# --- bad input: exit 2, the file and path named, nothing written ---------------------
bad() {  # bad NAME PATTERN ARGS...
    bname=$1; pat=$2; shift 2
    rm -f "$T/bad.db"
    "$HYLAB" bench "$@" --db "$T/bad.db" >"$T/bout" 2>"$T/berr"; rc=$?
    MSG="exit $rc, stderr: $(cat "$T/berr")"
    check "bad_$bname" [ "$rc" = 2 -a ! -e "$T/bad.db" -a ! -s "$T/bout" ]
    grep -q -- "$pat" "$T/berr"; MSG="no '$pat' in: $(cat "$T/berr")"; check "bad_${bname}_message" [ $? = 0 ]
}
bad missing_file "$T/nope.json" "$T/nope.json"
bad batch_zero "measure.batch\[0\]" "$T/tiny.json" --set 'measure.batch=[0]'
bad protocol "measure.protocol" "$T/tiny.json" --set measure.protocol=fast
bad repeats_zero "measure.repeats" "$T/tiny.json" --set measure.repeats=0
bad threads "--threads" "$T/tiny.json" --threads many
bad ckpt_model_key "only measure" "$T/tiny.safetensors" --set model.d_model=64
bad too_big "does not fit\|needs .* GiB" "$T/tiny.json" --set 'measure.batch=[65536]' --set 'measure.context=[16777216]'
"$HYLAB" bench --help | grep -q "decode_tok_s"; check bench_help [ $? = 0 ]
finish
