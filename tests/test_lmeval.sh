#!/bin/sh
# hylab's log-likelihood scoring equals lm-evaluation-harness's: the tiny
# GPT-2-vocabulary Llama checkpoint tests/lmeval/model.safetensors is
# evaluated by `hylab eval` on the eight shared sets (the first LIMIT items,
# max_length 256: some boolq items are cut from the left) and every item's
# log-likelihoods (within 1e-4), greedy flags and predictions are compared
# with lm-eval's own (tests/lmeval/expected.json; tests/lmeval/make_fixtures.py
# made both by running PyPI lm-eval on hylab's Hugging Face export of the
# checkpoint). Standard-library Python only. Needs the data directory
# (HYLAB_DATA) with the eval sets and the GPT-2 tokenizer files.
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
PY=${HYLAB_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

if [ -z "${HYLAB_DATA:-}" ]; then
  fail lmeval_data "HYLAB_DATA is not set (the shared data directory)"
  finish
fi
LIMIT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["limit"])' tests/lmeval/expected.json)
"$HYLAB" eval tests/lmeval/model.safetensors lm_eval8 --tokenizer gpt2 --limit "$LIMIT" --max-length 256 \
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
check lmeval_eight_tasks [ "$(grep -c '^ok lmeval_\|^FAIL lmeval_' "$dir/cmp")" = 8 ]
MSG="$(grep '^boolq' "$dir/cmp")"
check lmeval_boolq_truncation_covered sh -c "grep '^boolq' '$dir/cmp' | grep -qv ' 0 truncated'"
finish
