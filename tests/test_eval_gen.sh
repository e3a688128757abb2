#!/bin/sh
# End-to-end `hylab eval` of the generation families on a tiny checkpoint
# (trained 2 steps by `hylab run`, vocabulary 256; its greedy text mostly
# repeats the prompt's last byte, so the prompts below end differently, one
# with the stop string) with the byte tokenizer:
# - generation:PATH: contains / exact_match / f1 lines (version
#   generation/1), one sample per item whose generation equals `hylab
#   generate`'s greedy tokens for the same prompt (another path: no
#   evaluation code) decoded and cut at the first "\n"; the metrics are the
#   means of the samples' scores; --db records them with their version;
# - the key-value preset (kv_pairs_end_2048, --limit 2, --max-length 512):
#   prompts cut from the left (truncated 2), contains per answer_location;
# - the squad preset (--limit 3): squad/1 lines, samples with the SQuAD id
#   and the question cue; squad:PATH reads any SQuAD v1.1 file;
# - niah: a JSON task object with lengths and depths gives one overall
#   string_match_all and one per (length, depth) cell (niah/1); without
#   lengths the length is --max-length, else the spec's seq_len; every
#   prompt fits its length;
# - bad input (malformed line, missing answer, SQuAD JSON without data[],
#   missing file, niah depth 120, niah length too small) exits 2 naming the
#   file and line (or the setting), with no samples file and no database.
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
PY=${HYLAB_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

CK="$dir/tiny.safetensors"
tiny_checkpoint evalgen_make_checkpoint "$CK"

cat >"$dir/gen.jsonl" <<'JSONL'
{"context": "Q: What is the capital of France?\nA:", "answer": "Paris"}
{"context": "The sky is", "answers": ["blue", "grey"]}

{"context": "abc", "answer": "d"}
{"context": "line one\n", "answer": "x"}
JSONL

# ---- generation:PATH
"$HYLAB" eval "$CK" "generation:$dir/gen.jsonl" --tokenizer byte --max-length 100 --samples "$dir/s.jsonl" \
  --db "$dir/r.db" >"$dir/out" 2>"$dir/err"
rc=$?
MSG="rc $rc: $(cat "$dir/err")"; check evalgen_runs [ "$rc" = 0 ]
MSG="$(cat "$dir/out")"
check evalgen_metric_lines [ "$(grep -c '"version":"generation/1"' "$dir/out")" = 4 ]
check evalgen_metrics_named sh -c "grep -q '\"metric\":\"contains\"' '$dir/out' && grep -q '\"metric\":\"exact_match\"' '$dir/out' \
  && grep -q '\"metric\":\"f1\"' '$dir/out' && grep -q '\"metric\":\"truncated\",\"value\":0,\"n\":4' '$dir/out'"
MSG="$(cat "$dir/s.jsonl" 2>&1)"
check evalgen_samples "$PY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["index"] for r in rows] == [0, 1, 2, 3], rows
for r in rows:
    for k in ("task", "generation", "answers", "contains", "exact_match", "f1", "prompt_tail", "prompt_tokens", "truncated"):
        assert k in r, (k, r)
    assert "\n" not in r["generation"], r
assert rows[1]["answers"] == ["blue", "grey"] and rows[1]["prompt_tail"] == "The sky is" and rows[1]["prompt_tokens"] == 10
m = [json.loads(l) for l in open(sys.argv[2])]
for name, key in (("contains", "contains"), ("exact_match", "exact_match"), ("f1", "f1")):
    got = [x for x in m if x["metric"] == name][0]
    want = sum(r[key] for r in rows) / len(rows)
    assert abs(got["value"] - want) < 1e-12 and got["n"] == 4, (name, got, want)
' "$dir/s.jsonl" "$dir/out"
# the same greedy tokens through `hylab generate` (48 new tokens, cut at the first newline)
"$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.dumps({"tokens": list(json.loads(line)["context"].encode())}))' "$dir/gen.jsonl" >"$dir/prompts.jsonl"
"$HYLAB" generate --ckpt "$CK" --batch "$dir/prompts.jsonl" --max-new-tokens 48 --batch-size 1 >"$dir/g.jsonl" 2>"$dir/gerr"
MSG="$(cat "$dir/gerr" "$dir/g.jsonl")"
check evalgen_equals_hylab_generate "$PY" -c '
import json, sys
gen = [json.loads(l) for l in open(sys.argv[1])]
rows = [json.loads(l) for l in open(sys.argv[2])]
for g, r in zip(gen, rows):
    text = bytes(g["tokens"]).decode("utf-8", "replace").split("\n")[0]
    assert text == r["generation"], (text, r["generation"])
assert len(gen) == len(rows) == 4
assert len(set(r["generation"] for r in rows)) == 4, rows   # the generations differ
' "$dir/g.jsonl" "$dir/s.jsonl"
q() { "$HYLAB" query --db "$dir/r.db" --csv "$1" 2>&1 | tail -n +2; }
MSG="$(q "SELECT task, metric, version FROM metrics")"
check evalgen_db_versions [ "$(q "SELECT count(*) FROM metrics WHERE version = 'generation/1'")" = 4 ]

# ---- key-value retrieval preset: left cut, per-location results
"$HYLAB" eval "$CK" kv_pairs_end_2048 --tokenizer byte --limit 2 --max-length 512 --samples "$dir/kv.jsonl" \
  >"$dir/out" 2>"$dir/err"
rc=$?
MSG="rc $rc: $(cat "$dir/out" "$dir/err")"
check evalgen_kv_runs [ "$rc" = 0 ]
check evalgen_kv_truncated grep -q '"metric":"truncated","value":2,"n":2' "$dir/out"
check evalgen_kv_by_location "$PY" -c '
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
s = [json.loads(l) for l in open(sys.argv[2])]
loc = [x for x in m if x["metric"] == "contains" and "answer_location" in x["params"]]
assert loc and all(x["params"]["length"] == 2048 and x["version"] == "generation/1" for x in loc), loc
assert sorted(x["params"]["answer_location"] for x in loc) == sorted(set(r["answer_location"] for r in s)), (loc, s)
assert all(r["truncated"] and r["prompt_tail"].endswith("Corresponding Value: ") for r in s), s
' "$dir/out" "$dir/kv.jsonl"

# ---- squad preset and squad:PATH
"$HYLAB" eval "$CK" squad --tokenizer byte --limit 3 --max-length 256 --samples "$dir/sq.jsonl" >"$dir/out" 2>"$dir/err"
rc=$?
MSG="rc $rc: $(cat "$dir/out" "$dir/err")"
check evalgen_squad_runs [ "$rc" = 0 ]
check evalgen_squad_lines [ "$(grep -c '"version":"squad/1"' "$dir/out")" = 4 ]
MSG="$(head -c 600 "$dir/sq.jsonl")"
check evalgen_squad_samples "$PY" -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
assert len(s) == 3 and s[0]["id"] == "56be4db0acb8001400a502ec", s[0]
assert s[0]["prompt_tail"].endswith("\n\nQuestion: Which NFL team represented the AFC at Super Bowl 50?\nAnswer:")
assert "Denver Broncos" in s[0]["answers"]
' "$dir/sq.jsonl"
cat >"$dir/sq.json" <<'JSON'
{"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "Ada wrote the first program.",
 "qas": [{"id": "q1", "question": "Who wrote the first program?", "answers": [{"text": "Ada", "answer_start": 0}]}]}]}]}
JSON
"$HYLAB" eval "$CK" "squad:$dir/sq.json" --tokenizer byte --max-length 128 >"$dir/out" 2>"$dir/err"
MSG="$(cat "$dir/out" "$dir/err")"
check evalgen_squad_path grep -q '"task":"squad:sq.json","metric":"contains","value":[0-9.e-]*,"n":1,' "$dir/out"

# ---- niah: grid from a task object; default length = --max-length
"$HYLAB" eval "$CK" '{"task": "niah_multikey", "lengths": [700, 900], "depths": [0, 100], "samples": 1, "max_new_tokens": 16}' \
  --tokenizer byte --max-length 900 --samples "$dir/n.jsonl" >"$dir/out" 2>"$dir/err"
rc=$?
MSG="rc $rc: $(cat "$dir/out" "$dir/err")"
check evalgen_niah_runs [ "$rc" = 0 ]
check evalgen_niah_grid "$PY" -c '
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
s = [json.loads(l) for l in open(sys.argv[2])]
sm = [x for x in m if x["metric"] == "string_match_all"]
assert len(sm) == 5 and all(x["version"] == "niah/1" for x in sm), sm
assert sm[0]["params"]["lengths"] == [700, 900] and sm[0]["n"] == 4, sm[0]
cells = sorted((x["params"]["length"], x["params"]["depth"]) for x in sm[1:])
assert cells == [(700, 0), (700, 100), (900, 0), (900, 100)], cells
assert all(x["params"]["needle"] == "multikey" for x in sm[1:])
assert len(s) == 4 and all(r["prompt_tokens"] + 16 <= r["length"] and not r["truncated"] for r in s), s
assert all(0 <= r["string_match_all"] <= 100 and len(r["answers"]) == 1 for r in s)
mean = sum(r["string_match_all"] for r in s) / 4
assert abs(sm[0]["value"] - mean) < 1e-9, (sm[0], mean)
' "$dir/out" "$dir/n.jsonl"
"$HYLAB" eval "$CK" '{"task": "niah_single", "depths": [50], "samples": 2, "max_new_tokens": 8}' \
  --tokenizer byte --max-length 450 --samples "$dir/n2.jsonl" >"$dir/out" 2>"$dir/err"
rc=$?
MSG="rc $rc: $(cat "$dir/out" "$dir/err")"
check evalgen_niah_default_length sh -c "[ $rc = 0 ] && grep -q '\"length\":450,\"depth\":50' '$dir/out'"

# without --max-length the context is the spec's train.task.seq_len (600 here), and so is niah's length
CK6="$dir/ctx600.safetensors"
"$HYLAB" run tests/specs/runner/tiny.json --set model.vocab_size=1024 --set train.task.seq_len=600 \
  --set train.steps=1 --save "$CK6" >/dev/null 2>&1
"$HYLAB" eval "$CK6" '{"task": "niah_single", "depths": [50], "samples": 1, "max_new_tokens": 8}' \
  --tokenizer byte >"$dir/out" 2>"$dir/err"
rc=$?
MSG="rc $rc: $(cat "$dir/out" "$dir/err")"
check evalgen_niah_default_spec_length sh -c "[ $rc = 0 ] && grep -q '\"length\":600,\"depth\":50' '$dir/out'"

# ---- bad input: exit 2, the file and line named, nothing written
bad() {  # bad NAME WANT TASK [ARGS...]
  name=$1; want=$2; shift 2
  rm -f "$dir/bs.jsonl" "$dir/b.db"
  "$HYLAB" eval "$CK" "$@" --tokenizer byte --max-length 128 --samples "$dir/bs.jsonl" --db "$dir/b.db" \
    >"$dir/out" 2>"$dir/err"
  rc=$?
  MSG="rc $rc: $(cat "$dir/err")"
  check "$name" sh -c "[ $rc = 2 ] && grep -qF -- '$want' '$dir/err' && [ ! -e '$dir/bs.jsonl' ] && [ ! -e '$dir/b.db' ]"
}
printf '{"context": "a", "answer": "b"}\n{"context": "a",\n' >"$dir/b1.jsonl"
bad evalgen_bad_json_line "b1.jsonl: line 2:" "generation:$dir/b1.jsonl"
printf '{"context": "a", "answer": "b"}\n\n{"context": "a"}\n' >"$dir/b2.jsonl"
bad evalgen_bad_missing_answer "b2.jsonl: line 3: missing key \"answer\"" "generation:$dir/b2.jsonl"
printf '{"version": "1.1"}\n' >"$dir/b3.json"
bad evalgen_bad_squad_no_data "b3.json: data: missing (not SQuAD v1.1 JSON)" "squad:$dir/b3.json"
bad evalgen_bad_missing_file "no_such.jsonl: missing" "generation:longctx/no_such.jsonl"
bad evalgen_bad_niah_depth "depths" '{"task": "niah_single", "depths": [50, 120]}'
bad evalgen_bad_niah_length "niah_single: lengths: 100 tokens cannot hold the prompt template" '{"task": "niah_single", "lengths": [100]}'
finish
