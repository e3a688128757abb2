#!/bin/sh
# hylab's log-likelihood scoring equals lm-evaluation-harness's. The tiny
# GPT-2-vocabulary Llama checkpoint tests/lmeval/model.safetensors is
# evaluated by `hylab eval` on the eight shared sets (the first LIMIT items,
# max_length 256: some boolq items are cut from the left) and on our own
# small language_modeling set tests/lmeval/greedy.jsonl, whose continuations
# are mostly the model's greedy words (so is_greedy = true is compared too).
# Every item's log-likelihoods, greedy flags and predictions are compared
# with lm-eval's own, run in float32 and in float64 (tests/lmeval/expected.json;
# tolerances in tests/lmeval/compare.py: 1e-4 against lm-eval in float64).
# tests/lmeval/make_fixtures.py made the fixtures by running PyPI lm-eval on
# hylab's Hugging Face export of the checkpoint.
# Standard-library Python only. Needs the data directory (HYLAB_DATA) with
# the eval sets and the GPT-2 tokenizer files.
# Prints "N passed, N failed, N skipped" last.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
HYLAB=${HYLAB:-./hylab} PY=${HYLAB_PYTHON:-/usr/bin/python3} dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

if [ -z "${HYLAB_DATA:-}" ]; then
  fail lmeval_data "HYLAB_DATA is not set (the shared data directory)"
  finish
fi
LIMIT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["limit"])' tests/lmeval/expected.json)
"$HYLAB" eval tests/lmeval/model.safetensors lm_eval8 "{\"task\": \"language_modeling:$PWD/tests/lmeval/greedy.jsonl\", \"target_delimiter\": \"\"}" --tokenizer gpt2 --limit "$LIMIT" --max-length 256 \
  --samples "$dir/s.jsonl" >"$dir/out" 2>"$dir/err"
rc=$?
MSG="rc $rc: $(cat "$dir/err")"; check lmeval_hylab_eval_runs [ "$rc" = 0 ]
"$PY" tests/lmeval/compare.py tests/lmeval/expected.json "$dir/s.jsonl" >"$dir/cmp" 2>&1
cat "$dir/cmp" | grep -v '^ok \|^FAIL '
while read -r line; do
  case "$line" in
    "ok "*) ok "${line#ok }" ;;
    "FAIL "*) n=${line#FAIL }; fail "${n%%:*}" "${n#*: }" ;;
  esac
done <"$dir/cmp"
MSG="$(cat "$dir/cmp")"
check lmeval_nine_tasks [ "$(grep -c '^ok lmeval_\|^FAIL lmeval_' "$dir/cmp")" = 9 ]
MSG="$(grep -c '"is_greedy":true' "$dir/s.jsonl") greedy items"
check lmeval_greedy_true_covered [ "$(grep -c '"is_greedy":true' "$dir/s.jsonl")" -ge 20 ]
MSG="$(grep '^boolq' "$dir/cmp")"
check lmeval_boolq_truncation_covered sh -c "grep '^boolq' '$dir/cmp' | grep -qv ' 0 truncated'"
finish
