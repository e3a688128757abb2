#!/bin/sh
# End-to-end `hylab eval` on a tiny checkpoint (trained 2 steps by `hylab
# run`, vocabulary 256) with the byte tokenizer:
# - FORMAT:PATH runs: one JSON line per metric with version and params,
#   --samples one line per item (index, lls, pred, pred_norm, gold,
#   truncated), --db records a run (variant = checkpoint file name, status
#   done, metrics with their version); a second evaluation replaces it,
#   another checkpoint file of the same spec gets its own run;
# - the commonsense group on the shared data (--limit 3) prints its five
#   members and "avg" = the mean of their headline metrics;
# - --max-length cuts items (counted), --skip-truncated skips them;
# - bad input (malformed line, gold out of range, one choice, missing key,
#   missing file, unknown task, no tokenizer, tokenizer larger than the
#   model) exits 2 naming the file and line, with no samples file and no
#   database written.
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
PY=${HYLAB_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

CK="$dir/tiny.safetensors"
tiny_checkpoint eval_make_checkpoint "$CK"

cat >"$dir/mc.jsonl" <<'JSONL'
{"query": "The cat sat on the", "choices": ["mat", "dog", "moon"], "gold": 0}
{"query": "One two", "choices": ["three", "four"], "gold": 0}

{"query": "Question: what comes after a?\n", "choices": ["b", "z"], "gold": 0}
JSONL

# ---- happy path
"$HYLAB" eval "$CK" "multiple_choice:$dir/mc.jsonl" --tokenizer byte --samples "$dir/s.jsonl" \
  --db "$dir/r.db" >"$dir/out" 2>"$dir/err"
rc=$?
MSG="rc $rc: $(cat "$dir/err")"; check eval_runs [ "$rc" = 0 ]
MSG="$(cat "$dir/out")"; check eval_metric_lines [ "$(grep -c '"version":"multiple_choice/1"' "$dir/out")" = 4 ]
check eval_metrics_named sh -c "grep -q '\"metric\":\"acc\"' '$dir/out' && grep -q '\"metric\":\"acc_norm\"' '$dir/out' \
  && grep -q '\"metric\":\"acc_bytes\"' '$dir/out' && grep -q '\"metric\":\"truncated\"' '$dir/out'"
MSG="$(cat "$dir/s.jsonl" 2>&1)"
check eval_samples_lines [ "$(wc -l <"$dir/s.jsonl")" = 3 ]
check eval_samples_fields "$PY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for i, r in enumerate(rows):
    assert r["index"] == i and r["task"] == "multiple_choice:mc.jsonl", r
    assert len(r["lls"]) == len(r["is_greedy"]) and r["pred"] == max(range(len(r["lls"])), key=lambda k: (r["lls"][k], -k))
    for k in ("pred_norm", "gold", "truncated"): assert k in r, k
' "$dir/s.jsonl"
check eval_acc_from_samples "$PY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
acc = sum(r["pred"] == r["gold"] for r in rows) / len(rows)
m = [json.loads(l) for l in open(sys.argv[2])]
got = [x for x in m if x["metric"] == "acc"][0]
assert abs(got["value"] - acc) < 1e-12 and got["n"] == 3, (got, acc)
' "$dir/s.jsonl" "$dir/out"
q() { "$HYLAB" query --db "$dir/r.db" --csv "$1" 2>&1 | tail -n +2; }
MSG="$(q "SELECT variant, status FROM runs")"
check eval_db_run [ "$(q "SELECT variant || ' ' || status FROM runs")" = "tiny.safetensors done" ]
MSG="$(q "SELECT task, metric, version FROM metrics")"
check eval_db_metrics [ "$(q "SELECT count(*) FROM metrics WHERE version = 'multiple_choice/1'")" = 4 ]
"$HYLAB" eval "$CK" "multiple_choice:$dir/mc.jsonl" --tokenizer byte --db "$dir/r.db" >/dev/null 2>&1
MSG="$(q "SELECT * FROM runs")"
check eval_db_again_replaces [ "$(q "SELECT count(*) FROM runs")" = 1 ] && [ "$(q "SELECT count(*) FROM metrics")" = 4 ]
cp "$CK" "$dir/other.safetensors"
"$HYLAB" eval "$dir/other.safetensors" "multiple_choice:$dir/mc.jsonl" --tokenizer byte --db "$dir/r.db" >/dev/null 2>&1
MSG="$(q "SELECT run_id, variant FROM runs")"
check eval_db_other_checkpoint_own_run [ "$(q "SELECT group_concat(variant, ' ') FROM (SELECT variant FROM runs ORDER BY variant)")" = "other.safetensors tiny.safetensors" ]

# ---- truncation: --max-length 16 cuts the first and third items
"$HYLAB" eval "$CK" "multiple_choice:$dir/mc.jsonl" --tokenizer byte --max-length 16 >"$dir/out" 2>"$dir/err"
MSG="$(cat "$dir/out" "$dir/err")"
check eval_truncated_counted grep -q '"metric":"truncated","value":2,"n":3' "$dir/out"
"$HYLAB" eval "$CK" "multiple_choice:$dir/mc.jsonl" --tokenizer byte --max-length 16 --skip-truncated >"$dir/out" 2>"$dir/err"
MSG="$(cat "$dir/out" "$dir/err")"
check eval_skipped_counted sh -c "grep -q '\"metric\":\"skipped\",\"value\":2,\"n\":3' '$dir/out' && grep -q '\"metric\":\"acc\",\"value\":[0-9.e-]*,\"n\":1,' '$dir/out'"

# ---- the commonsense group on the shared data
if [ -n "${HYLAB_DATA:-}" ]; then
  "$HYLAB" eval "$CK" commonsense --tokenizer byte --limit 3 --max-length 64 >"$dir/cs" 2>"$dir/err"
  rc=$?
  MSG="rc $rc: $(cat "$dir/err")"; check eval_commonsense_runs [ "$rc" = 0 ]
  MSG="$(cat "$dir/cs")"
  check eval_commonsense_avg "$PY" -c '
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
head = {"arc_easy": "acc", "arc_challenge": "acc_norm", "piqa": "acc", "winogrande": "acc", "hellaswag": "acc_norm"}
vals = [[x["value"] for x in m if x["task"] == t and x["metric"] == k][0] for t, k in head.items()]
avg = [x for x in m if x["task"] == "commonsense" and x["metric"] == "avg"][0]
assert abs(avg["value"] - sum(vals) / 5) < 1e-12, (avg, vals)
assert avg["params"]["members"] == list(head), avg
assert all(x["n"] == 3 for x in m if x["metric"] == "acc"), m
' "$dir/cs"
else
  fail eval_commonsense "HYLAB_DATA is not set (the shared data directory)"
fi

# ---- bad input: exit 2, message naming file and line, nothing written
bad() {  # NAME WANT ARGS...
  name=$1; want=$2; shift 2
  rm -f "$dir/bad.db" "$dir/bad_s.jsonl"
  "$HYLAB" eval "$@" --samples "$dir/bad_s.jsonl" --db "$dir/bad.db" >"$dir/out" 2>"$dir/err"
  rc=$?
  MSG="rc $rc: $(cat "$dir/err")"
  check "$name" sh -c "[ $rc = 2 ] && grep -q -- '$want' '$dir/err' && [ ! -e '$dir/bad.db' ] && [ ! -e '$dir/bad_s.jsonl' ] && [ ! -s '$dir/out' ]"
}
badfile() {  # NAME WANT LINE2
  printf '%s\n%s\n' '{"query": "q", "choices": ["a", "b"], "gold": 0}' "$3" >"$dir/b.jsonl"
  bad "$1" "$2" "$CK" "multiple_choice:$dir/mc.jsonl" "multiple_choice:$dir/b.jsonl" --tokenizer byte
}
badfile eval_bad_malformed 'b.jsonl: line 2: not valid JSON' '{"query": "q", "choices": ["a", "b"], "gold": 0'
badfile eval_bad_gold 'b.jsonl: line 2: gold 5 is outside the 2 choices' '{"query": "q", "choices": ["a", "b"], "gold": 5}'
badfile eval_bad_one_choice 'b.jsonl: line 2: key "choices": 1 entry, at least 2 needed' '{"query": "q", "choices": ["a"], "gold": 0}'
badfile eval_bad_empty_choice 'b.jsonl: line 2: key "choices": choice 1 is empty' '{"query": "q", "choices": ["a", ""], "gold": 0}'
badfile eval_bad_missing_key 'b.jsonl: line 2: missing key "gold"' '{"query": "q", "choices": ["a", "b"]}'
bad eval_bad_missing_file 'nope.jsonl: missing' "$CK" "multiple_choice:$dir/nope.jsonl" --tokenizer byte
bad eval_bad_unknown_task "unknown task .nosuch. (known: hellaswag" "$CK" nosuch --tokenizer byte
bad eval_bad_no_tokenizer 'names no tokenizer' "$CK" "multiple_choice:$dir/mc.jsonl"
bad eval_bad_unknown_tokenizer 'unknown' "$CK" "multiple_choice:$dir/mc.jsonl" --tokenizer nosuch
bad eval_bad_max_length 'max-length' "$CK" "multiple_choice:$dir/mc.jsonl" --tokenizer byte --max-length 0
bad eval_bad_ckpt 'nope.safetensors' "$dir/nope.safetensors" "multiple_choice:$dir/mc.jsonl" --tokenizer byte
if "$HYLAB" run tests/specs/runner/tiny.json --set train.steps=1 --save "$dir/v64.safetensors" >/dev/null 2>&1; then
  bad eval_bad_vocab 'more than the model' "$dir/v64.safetensors" "multiple_choice:$dir/mc.jsonl" --tokenizer byte
else
  fail eval_bad_vocab "could not make the vocabulary-64 checkpoint"
fi
finish
