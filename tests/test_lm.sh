#!/bin/sh
# The lm family through `hylab run` on the shared corpus (HYLAB_DATA, the
# Makefile's ../shared/data; a missing corpus is a failure, not a skip):
#  - a short training run with the byte tokenizer lowers the validation loss
#    (the same spec at 0 steps against 80 steps), and reports loss,
#    perplexity and bits_per_byte (= loss / ln 2 for bytes) with version lm/1
#    in the database;
#  - --data-dir reaches the task (HYLAB_DATA unset), and the token cache
#    ($HYLAB_CACHE) is written once for several runs;
#  - bad input exits 2 naming the file or JSON path, with nothing written (no
#    database created): missing corpus, empty corpus, a corpus too short for
#    seq_len, unknown tokenizer, model vocabulary smaller than the tokenizer's;
#  - spec eval entries naming evaluation tasks (a preset, the commonsense
#    group) run after training and are recorded with version, limit and
#    max_length, the group with its average; an entry's key order does not
#    change the spec hash; bad entries exit 2 naming the JSON path (a key of
#    another family, an unknown key or task, a missing FORMAT:PATH file, no
#    tokenizer in the spec, an evaluation key in an MQAR entry);
#  - specs without the new keys keep their hash (tokenizer, corpus and
#    val_fraction are left out of the canonical spec at their defaults).
set -u
HYLAB=${HYLAB:-./hylab}
PY=${HYLAB_PYTHON:-/usr/bin/python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
export HYLAB_CACHE="$dir/cache"
DATA=${HYLAB_DATA:-}

if [ -z "$DATA" ] || [ ! -f "$DATA/corpus/tinyshakespeare.txt" ]; then
  fail data_dir_has_the_corpus "no corpus/tinyshakespeare.txt in HYLAB_DATA='$DATA' (the Makefile sets it to ../shared/data)"
  finish
fi

cat >"$dir/lm.json" <<'EOF'
{"name": "lm-byte", "model": {"vocab_size": 256, "d_model": 64, "n_layers": 2, "layers": "A",
  "attn": {"n_heads": 2}, "ffn": {"d_ff": 128}, "tie_embeddings": true},
 "train": {"task": {"name": "lm", "corpus": "corpus/tinyshakespeare.txt", "tokenizer": "byte", "seq_len": 128},
   "steps": 80, "batch_size": 8, "lr": 3e-3},
 "eval": [{"num_examples": 40}]}
EOF
value() { grep "\"metric\":\"$2\"" "$1" | sed 's/.*"value":\([0-9.e+-]*\).*/\1/'; }

"$HYLAB" run "$dir/lm.json" --threads 1 --set train.steps=0 >"$dir/s0.out" 2>"$dir/s0.err"
"$HYLAB" run "$dir/lm.json" --threads 1 --db "$dir/lm.db" >"$dir/s80.out" 2>"$dir/s80.err"
l0=$(value "$dir/s0.out" loss)
l80=$(sqlite3 "$dir/lm.db" "SELECT value FROM metrics WHERE task='lm' AND metric='loss'")
bpb=$(sqlite3 "$dir/lm.db" "SELECT value FROM metrics WHERE task='lm' AND metric='bits_per_byte'")
ver=$(sqlite3 "$dir/lm.db" "SELECT group_concat(DISTINCT version) FROM metrics WHERE task='lm'")
n=$(sqlite3 "$dir/lm.db" "SELECT n FROM metrics WHERE task='lm' AND metric='loss'")
MSG="loss at 0 steps '$l0', after 80 '$l80': $(tail -n 2 "$dir/s80.err")"
check lm_validation_loss_decreases awk "BEGIN{exit !(\"$l0\" + 0 > 5 && \"$l80\" + 0 < \"$l0\" - 1.5)}"
echo "# lm-byte validation loss: $l0 at step 0, $l80 at step 80 (bpb $bpb)"
MSG="bpb '$bpb', loss '$l80'"
check lm_bits_per_byte_is_loss_over_ln2 awk "BEGIN{d = $bpb - $l80 / log(2); exit !(d < 1e-6 && d > -1e-6)}"
MSG="version '$ver', n '$n'"
check lm_metrics_version_and_count test "$ver" = "lm/1" -a "$n" = $((40 * 128))
MSG="$(ls "$dir/cache" 2>&1)"
check lm_cache_one_file_for_two_runs test "$(ls "$dir/cache" | grep -c '^tokens-')" = 1

# --data-dir, HYLAB_DATA unset
mkdir -p "$dir/data/corpus"
head -c 20000 "$DATA/corpus/tinyshakespeare.txt" >"$dir/data/corpus/tinyshakespeare.txt"
env -u HYLAB_DATA "$HYLAB" run "$dir/lm.json" --threads 1 --set train.steps=2 --data-dir "$dir/data" \
  >"$dir/dd.out" 2>"$dir/dd.err"
MSG=$(tail -n 2 "$dir/dd.err")
check lm_data_dir_option grep -q '"windows":15' "$dir/dd.out"
env -u HYLAB_DATA HOME="$dir/home" XDG_DATA_HOME= "$HYLAB" run "$dir/lm.json" --threads 1 >"$dir/nd.out" 2>"$dir/nd.err"
rc=$?
MSG="rc $rc: $(cat "$dir/nd.err")"
check lm_default_data_dir_named test $rc = 2 -a ! -s "$dir/nd.out" -a -n "$(grep "$dir/home/.local/share/hylab/corpus/tinyshakespeare.txt: missing" "$dir/nd.err")"

# bad input: exit 2, the file or the JSON path named, no database written
bad() {  # NAME WANT SET...
  name=$1; want=$2; shift 2
  "$HYLAB" run "$dir/lm.json" --db "$dir/bad.db" "$@" >"$dir/bad.out" 2>"$dir/bad.err"
  rc=$?
  MSG="rc $rc, stderr: $(cat "$dir/bad.err")"
  check "$name" sh -c "test $rc = 2 && ! test -e '$dir/bad.db' && ! test -s '$dir/bad.out' && grep -qF -- \"\$1\" '$dir/bad.err'" _ "$want"
}
: >"$dir/empty.txt"
head -c 1000 "$DATA/corpus/tinyshakespeare.txt" >"$dir/short.txt"
bad lm_bad_missing_corpus "corpus/none.txt: missing (needed by lm" --set train.task.corpus=corpus/none.txt
bad lm_bad_empty_corpus "$dir/empty.txt: empty corpus" --set train.task.corpus="$dir/empty.txt"
bad lm_bad_short_corpus "each part needs at least seq_len + 1 = 129" --set train.task.corpus="$dir/short.txt"
bad lm_bad_unknown_tokenizer "train.task.tokenizer: unknown tokenizer (got \"nope\"" --set train.task.tokenizer=nope
bad lm_bad_no_tokenizer "train.task.tokenizer: lm needs a tokenizer" --set train.task.tokenizer=null
bad lm_bad_no_corpus "train.task.corpus: lm needs a corpus file" --set train.task.corpus=null
bad lm_bad_vocab "train.task: vocab_size: the model's vocabulary (200) is smaller than tokenizer byte's (256)" \
  --set model.vocab_size=200
bad lm_bad_val_fraction "train.task.val_fraction: must be in (0, 1)" --set train.task.val_fraction=1

# gpt2: bits_per_byte counts the UTF-8 bytes of the scored tokens (several per
# token): bpb * ln 2 * bytes = loss * tokens, bytes > 2 x tokens on English text
"$HYLAB" run "$dir/lm.json" --threads 1 --db "$dir/g.db" --set train.steps=1 --set train.task.tokenizer=gpt2 \
  --set model.vocab_size=50257 --set model.d_model=16 --set model.attn.n_heads=1 --set 'eval=[{"num_examples": 4}]' \
  >"$dir/g.out" 2>"$dir/g.err"
g=$(sqlite3 "$dir/g.db" "SELECT group_concat(metric || '=' || value || '/' || n, ' ') FROM metrics WHERE task = 'lm'")
MSG="$g $(tail -n 2 "$dir/g.err")"
check lm_gpt2_bits_per_byte sh -c "sqlite3 '$dir/g.db' \"SELECT 1 FROM metrics l JOIN metrics b ON b.run_id = l.run_id
  WHERE l.metric = 'loss' AND b.metric = 'bits_per_byte' AND l.n = 4 * 128 AND b.n > 2 * l.n
  AND abs(b.value * 0.6931471805599453 * b.n - l.value * l.n) < 1e-9 * l.value * l.n\" | grep -q 1"
bad lm_bad_vocab_gpt2 "train.task: vocab_size: the model's vocabulary (256) is smaller than tokenizer gpt2's (50257)" \
  --set train.task.tokenizer=gpt2

# eval entries naming evaluation tasks: run on the trained model, recorded
# with version and settings; a group adds its average
cat >"$dir/ev.json" <<'EOF'
{"name": "lm-ev", "model": {"vocab_size": 256, "d_model": 32, "n_layers": 1, "layers": "A",
  "attn": {"n_heads": 2}, "ffn": {"d_ff": 64}, "tie_embeddings": true},
 "train": {"task": {"name": "lm", "corpus": "corpus/tinyshakespeare.txt", "tokenizer": "byte", "seq_len": 64},
   "steps": 2, "batch_size": 4},
 "eval": [{"num_examples": 4}, {"task": "hellaswag", "limit": 3, "max_length": 512},
          {"task": "commonsense", "limit": 2, "max_length": 512}]}
EOF
"$HYLAB" run "$dir/ev.json" --threads 1 --db "$dir/ev.db" --samples-dir "$dir/samples" >"$dir/ev.out" 2>"$dir/ev.err"
q() { sqlite3 "$dir/ev.db" "$1"; }
# --samples-dir: one file per evaluation task, DIR/<spec_hash>.eval<E>.<task>.jsonl,
# one record per item (multiple choice: index, lls, pred, gold, ...)
h=$(q "SELECT spec_hash FROM runs")
MSG="$(ls "$dir/samples" 2>&1 | tr '\n' ' ')"
check eval_samples_dir_files sh -c "[ \$(ls '$dir/samples' | wc -l) = 6 ] && [ \$(wc -l < '$dir/samples/$h.eval1.hellaswag.jsonl') = 3 ] &&
  [ \$(wc -l < '$dir/samples/$h.eval2.hellaswag.jsonl') = 2 ] && [ \$(wc -l < '$dir/samples/$h.eval2.piqa.jsonl') = 2 ]"
MSG="$(head -c 300 "$dir/samples/$h.eval1.hellaswag.jsonl")"
check eval_samples_dir_records "$PY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["index"] for r in rows] == [0, 1, 2], rows
assert all(len(r["lls"]) == 4 and r["pred"] in range(4) and "gold" in r for r in rows), rows' "$dir/samples/$h.eval1.hellaswag.jsonl"
MSG="$(tail -n 3 "$dir/ev.err"); $(q "SELECT task, metric, n, version, params_json FROM metrics" | head -5)"
check eval_task_metrics_recorded test "$(q "SELECT n || ' ' || version || ' ' || json_extract(params_json, '$.limit') || ' ' ||
  json_extract(params_json, '$.max_length') FROM metrics WHERE task = 'hellaswag' AND metric = 'acc_norm' ORDER BY rowid LIMIT 1")" = "3 multiple_choice/1 3 512"
MSG="$(q "SELECT task, metric, value, n, version, params_json FROM metrics WHERE task = 'commonsense'")"
check eval_group_average test "$(q "SELECT n || ' ' || version || ' ' || json_array_length(params_json, '$.members') FROM metrics
  WHERE task = 'commonsense' AND metric = 'avg'")" = "10 commonsense/1 5"
avg=$(q "SELECT value FROM metrics WHERE task = 'commonsense'")
want=$(q "SELECT AVG(value) FROM metrics WHERE (task, metric) IN (VALUES ('arc_easy','acc'), ('arc_challenge','acc_norm'),
  ('piqa','acc'), ('winogrande','acc'), ('hellaswag','acc_norm')) AND json_extract(params_json, '$.limit') = 2")
MSG="avg '$avg', the members' mean '$want'"
check eval_group_average_value awk "BEGIN{d = \"$avg\" - \"$want\"; exit !(\"$avg\" != \"\" && d < 1e-12 && d > -1e-12)}"
MSG=$(q "SELECT DISTINCT version FROM metrics WHERE task = 'lm'")
check eval_lm_entry_kept test "$MSG" = "lm/1"
# the canonical form keeps an evaluation entry as written, keys sorted: the
# same entry with its keys in another order is the same spec
spec_hash() { "$HYLAB" run "$dir/ev.json" --threads 1 --set train.steps=0 --set "eval=$1" 2>/dev/null |
              sed -n 's/.*"spec_hash":"\([0-9a-f]*\)".*/\1/p'; }
h1=$(spec_hash '[{"task":"piqa","limit":1,"max_length":512}]')
h2=$(spec_hash '[{"max_length":512,"limit":1,"task":"piqa"}]')
h3=$(spec_hash '[{"max_length":512,"limit":2,"task":"piqa"}]')
MSG="'$h1' '$h2' '$h3'"
check eval_entry_canonical_key_order test -n "$h1" -a "$h1" = "$h2" -a "$h1" != "$h3"

# bad eval entries: exit 2 before anything runs, naming the JSON path
badev() {  # NAME WANT EVAL-JSON [SET...]
  name=$1; want=$2; ev=$3; shift 3
  "$HYLAB" run "$dir/ev.json" --db "$dir/bad.db" --set "eval=$ev" "$@" >"$dir/bad.out" 2>"$dir/bad.err"
  rc=$?
  MSG="rc $rc, stderr: $(cat "$dir/bad.err")"
  check "$name" sh -c "test $rc = 2 && ! test -e '$dir/bad.db' && ! test -s '$dir/bad.out' && grep -qF -- \"\$1\" '$dir/bad.err'" _ "$want"
}
badev eval_bad_limit "eval[1].limit: must be" '[{"num_examples": 4}, {"task": "hellaswag", "limit": -1}]'
badev eval_bad_key_of_other_family "eval[0].needle: not a setting of task hellaswag" '[{"task": "hellaswag", "needle": "single"}]'
badev eval_bad_unknown_key "eval[0].bogus: unknown key" '[{"task": "hellaswag", "bogus": 1}]'
badev eval_bad_unknown_task "eval[0].task: unknown task (got \"hellaswagg\"" '[{"task": "hellaswagg"}]'
badev eval_bad_group_key "eval[0].limit: must be" '[{"task": "commonsense", "limit": -2}]'
badev eval_bad_missing_file "eval[0]: $DATA/nope.jsonl: missing (needed by multiple_choice:nope.jsonl" \
  '[{"task": "multiple_choice:nope.jsonl"}]'
badev eval_bad_no_tokenizer "eval[0].task: an evaluation task needs the spec's tokenizer" '[{"task": "piqa"}]' \
  --set 'train.task={"name": "mqar", "seq_len": 64}'
badev eval_bad_mqar_entry_eval_key "eval[0].limit: unknown key" '[{"task": "mqar", "limit": 3}]' \
  --set 'train.task={"name": "mqar", "seq_len": 64}'

# specs without the new keys keep their hash: recorded with the build before
# issue 9 (commit fcc46d4) for sweeps/specs/mqar-tiny.json at 0 steps, no eval
h=$("$HYLAB" run sweeps/specs/mqar-tiny.json --set train.steps=0 --set 'eval=[]' 2>/dev/null |
    sed -n 's/.*"spec_hash":"\([0-9a-f]*\)".*/\1/p')
MSG="got '$h'"
check lm_keys_leave_other_spec_hashes test "$h" = b33b526ba006529366ce9c8f37cb93fdc796504d90fe7b5e860264762a248a34
finish
