#!/bin/sh
# End-to-end `hylab generate` on the small hybrid checkpoint of
# `test_checkpoint --write-ckpt` (A, H, S layers, KV sharing, meta tokens,
# sliding window; vocabulary 48):
# - greedy tokens equal the argmax of `hylab forward`'s logits re-run on the
#   growing sequence (a different path: no inference state);
# - prompts of different lengths in one batch give the same tokens as each
#   alone (greedy) and as batches of one (sampling: a prompt's draws depend
#   on its index, not its batch); --seed reproducible, another seed differs;
# - --eos stops a prompt after that token; --out written atomically;
# - bad input exits 2 naming the file and line, with nothing written.
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
BUILD=${BUILD:-build}
PY=${HYLAB_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

if ! "$BUILD/tests/test_checkpoint" --write-ckpt "$dir/m.safetensors" >/dev/null 2>&1; then
  fail generate_make_checkpoint "$BUILD/tests/test_checkpoint --write-ckpt failed"
  finish
fi
CK="$dir/m.safetensors"

# tokens_of FILE INDEX: the generated ids of line "index": INDEX, space-separated
tokens_of() {
  "$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["index"] == int(sys.argv[2]): print(" ".join(map(str, o["tokens"])))' "$1" "$2"
}

# ---- the happy path, one prompt from a token file
echo "3 17 0 47 5 5 22 9 31 1 2 46" >"$dir/tok.txt"
"$HYLAB" generate --ckpt "$CK" --tokens "$dir/tok.txt" --max-new-tokens 6 >"$dir/one.jsonl" 2>"$dir/err"
rc=$?
MSG="exit $rc: $(cat "$dir/err"); output: $(head -c 300 "$dir/one.jsonl")"
check generate_tokens_exit_0 test "$rc" = 0
MSG="output: $(cat "$dir/one.jsonl")"
check generate_one_json_line "$PY" -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert sorted(o) == ["index", "tokens"] and o["index"] == 0 and len(o["tokens"]) == 6, o
assert all(isinstance(t, int) and 0 <= t < 48 for t in o["tokens"]), o' "$dir/one.jsonl"

# ---- greedy = argmax of `hylab forward` on the growing sequence
gen=$(tokens_of "$dir/one.jsonl" 0)
seq=$(cat "$dir/tok.txt")
bad=""
k=0
for t in $gen; do
  echo "$seq" >"$dir/grow.txt"
  "$HYLAB" forward --ckpt "$CK" --tokens "$dir/grow.txt" --out "$dir/grow.npy" 2>/dev/null || bad="$bad forward-failed-at-$k"
  want=$("$PY" -c 'import numpy, sys; print(int(numpy.load(sys.argv[1])[-1].argmax()))' "$dir/grow.npy")
  [ "$want" = "$t" ] || bad="$bad step$k:generate=$t,forward=$want"
  seq="$seq $t"
  k=$((k+1))
done
MSG="generated [$gen] differs from forward's argmax:$bad"
check generate_greedy_equals_forward_argmax test -z "$bad" -a "$k" = 6

# ---- a batch of prompts of different lengths
cat >"$dir/b.jsonl" <<'J'
{"tokens": [3, 17, 0, 47, 5, 5, 22, 9, 31, 1, 2, 46]}
{"tokens": [7]}

{"tokens": [40, 41, 42]}
{"tokens": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}
{"tokens": [30, 0, 30, 0, 30, 0, 30]}
J
"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --max-new-tokens 8 --batch-size 5 --out "$dir/b5.jsonl" 2>"$dir/err"
MSG="$(cat "$dir/err")"
check generate_batch_exit_0 test -s "$dir/b5.jsonl"
MSG="$(cat "$dir/b5.jsonl")"
check generate_batch_one_line_per_prompt "$PY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["index"] for r in rows] == [0, 1, 2, 3, 4], rows
assert all(len(r["tokens"]) == 8 for r in rows), rows' "$dir/b5.jsonl"
MSG="batch row 0 [$(tokens_of "$dir/b5.jsonl" 0)] vs --tokens [$gen] (first 6)"
check generate_batch_row_equals_tokens_file sh -c '[ "$(echo "$1" | cut -d" " -f1-6)" = "$2" ]' _ "$(tokens_of "$dir/b5.jsonl" 0)" "$gen"
bad=""
i=0
for line in 1 2 4 5 6; do
  sed -n "${line}p" "$dir/b.jsonl" | tr -d '{}[],"a-z:' >"$dir/alone.txt"
  "$HYLAB" generate --ckpt "$CK" --tokens "$dir/alone.txt" --max-new-tokens 8 --out "$dir/alone.jsonl" 2>/dev/null
  [ "$(tokens_of "$dir/alone.jsonl" 0)" = "$(tokens_of "$dir/b5.jsonl" $i)" ] ||
    bad="$bad prompt$i:alone=[$(tokens_of "$dir/alone.jsonl" 0)],batched=[$(tokens_of "$dir/b5.jsonl" $i)]"
  i=$((i+1))
done
MSG="batched generation differs from each prompt alone:$bad"
check generate_batched_equals_alone test -z "$bad"
"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --max-new-tokens 8 --batch-size 2 --out "$dir/b2.jsonl" 2>/dev/null
MSG="--batch-size 2 vs 5: $(cat "$dir/b2.jsonl") vs $(cat "$dir/b5.jsonl")"
check generate_greedy_batch_size_independent cmp -s "$dir/b2.jsonl" "$dir/b5.jsonl"

# ---- sampling: reproducible, batch-independent, seed-dependent
S="--temperature 1.5 --top-k 20 --top-p 0.95 --max-new-tokens 10"
"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" $S --seed 11 --batch-size 5 --out "$dir/s1.jsonl" 2>/dev/null
"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" $S --seed 11 --batch-size 5 --out "$dir/s2.jsonl" 2>/dev/null
"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" $S --seed 11 --batch-size 1 --out "$dir/s3.jsonl" 2>/dev/null
"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" $S --seed 12 --batch-size 5 --out "$dir/s4.jsonl" 2>/dev/null
MSG="two runs with --seed 11 differ (or none written)"
check generate_seed_reproducible sh -c 'test -s "$1" && cmp -s "$1" "$2"' _ "$dir/s1.jsonl" "$dir/s2.jsonl"
MSG="--batch-size 1 vs 5 differ under sampling: $(cat "$dir/s3.jsonl") vs $(cat "$dir/s1.jsonl")"
check generate_sampling_batch_size_independent cmp -s "$dir/s1.jsonl" "$dir/s3.jsonl"
MSG="--seed 12 gave the same tokens as --seed 11"
check generate_other_seed_differs sh -c 'test -s "$1" && ! cmp -s "$1" "$2"' _ "$dir/s4.jsonl" "$dir/s1.jsonl"
MSG="sampling gave the greedy tokens for every prompt"
check generate_sampling_not_greedy sh -c '! cmp -s "$1" "$2"' _ "$dir/s1.jsonl" "$dir/b5.jsonl"

# ---- --eos: stop after the first occurrence of the third greedy token
eos=$(echo "$gen" | cut -d' ' -f3)
want=$(echo "$gen" | tr ' ' '\n' | awk -v e="$eos" '{ print; if ($1 == e) exit }' | tr '\n' ' ' | sed 's/ $//')
"$HYLAB" generate --ckpt "$CK" --tokens "$dir/tok.txt" --max-new-tokens 6 --eos "$eos" --out "$dir/eos.jsonl" 2>/dev/null
MSG="--eos $eos: got [$(tokens_of "$dir/eos.jsonl" 0)], want [$want]"
check generate_eos_stops test "$(tokens_of "$dir/eos.jsonl" 0)" = "$want"

"$HYLAB" generate --help | grep -q -- "--max-new-tokens" && ok generate_help || fail generate_help "no usage on --help"
"$HYLAB" --help | grep -q "generate --ckpt" && ok generate_in_command_list || fail generate_in_command_list "not in hylab --help"

# ---- bad input: exit 2, the message names what is wrong, nothing written
# expect_error NAME WANT ARGS...: writes to $dir/bad.jsonl must not happen
expect_error() {
  name=$1; want=$2; shift 2
  rm -f "$dir/bad.jsonl" "$dir/bad.jsonl.tmp"
  "$HYLAB" generate "$@" --out "$dir/bad.jsonl" >"$dir/err.out" 2>&1; rc=$?
  if [ "$rc" = 2 ] && grep -qF -- "$want" "$dir/err.out" && [ ! -e "$dir/bad.jsonl" ] && [ ! -e "$dir/bad.jsonl.tmp" ]; then
    ok "$name"
  else
    fail "$name" "exit $rc, expected 2 with '$want': $(head -c 300 "$dir/err.out")"
  fi
}
badb() { printf '%s\n' '{"tokens": [1, 2]}' "$1" >"$dir/bad_in.jsonl"; }
printf '1 2\n3 48\n' >"$dir/big.txt"
expect_error generate_token_beyond_vocab "big.txt: line 2: token 3: id 48 out of range [0, 48)" --ckpt "$CK" --tokens "$dir/big.txt"
: >"$dir/empty.txt"
expect_error generate_empty_token_file "empty.txt: no tokens" --ckpt "$CK" --tokens "$dir/empty.txt"
badb '{"tokens": [5, 48]}'
expect_error generate_batch_beyond_vocab "bad_in.jsonl:2: tokens[1]: id 48 out of range [0, 48)" --ckpt "$CK" --batch "$dir/bad_in.jsonl"
badb '{"tokens": []}'
expect_error generate_batch_empty_prompt "bad_in.jsonl:2: tokens: empty prompt" --ckpt "$CK" --batch "$dir/bad_in.jsonl"
badb '{"tokens": [1, 2'
expect_error generate_batch_not_json "bad_in.jsonl:2: invalid JSON" --ckpt "$CK" --batch "$dir/bad_in.jsonl"
badb '{"toks": [1]}'
expect_error generate_batch_unknown_key "bad_in.jsonl:2: toks: unknown key" --ckpt "$CK" --batch "$dir/bad_in.jsonl"
badb '{}'
expect_error generate_batch_missing_tokens "bad_in.jsonl:2: tokens: missing" --ckpt "$CK" --batch "$dir/bad_in.jsonl"
badb '{"tokens": [1, "2"]}'
expect_error generate_batch_wrong_type "bad_in.jsonl:2: tokens[1]: expected an integer" --ckpt "$CK" --batch "$dir/bad_in.jsonl"
badb '{"tokens": [1, 2.5]}'
expect_error generate_batch_fraction "bad_in.jsonl:2: tokens[1]: expected an integer" --ckpt "$CK" --batch "$dir/bad_in.jsonl"
badb '{"tokens": [1], "tokens": [2]}'
expect_error generate_batch_duplicate_key "bad_in.jsonl:2: tokens: duplicate key" --ckpt "$CK" --batch "$dir/bad_in.jsonl"
badb '{"prompt": "hello"}'
expect_error generate_batch_text_prompt "bad_in.jsonl:2: prompt: text prompts need a tokenizer" --ckpt "$CK" --batch "$dir/bad_in.jsonl"
printf '{"tokens": [1]}\n{"tokens": [1, 2, 3]}\n' >"$dir/long.jsonl"
echo "1 2 3" >"$dir/one.txt"
# the checkpoint has 2 meta tokens: 16777214 positions; line 1 fits, line 2 does not
expect_error generate_beyond_positions "long.jsonl:2: prompt of 3 tokens + --max-new-tokens 16777212 = 16777215 positions, beyond the model's limit of 16777214" \
  --ckpt "$CK" --batch "$dir/long.jsonl" --max-new-tokens 16777212
expect_error generate_beyond_positions_token_file "one.txt: line 1: prompt of 3 tokens" --ckpt "$CK" --tokens "$dir/one.txt" --max-new-tokens 16777212
expect_error generate_max_new_out_of_range "--max-new-tokens: expected an integer in [1, 16777216]" --ckpt "$CK" --tokens "$dir/tok.txt" --max-new-tokens 0
expect_error generate_unknown_option "unknown argument '--bogus'" --ckpt "$CK" --tokens "$dir/tok.txt" --bogus 1
expect_error generate_both_inputs "one of --tokens or --batch" --ckpt "$CK" --tokens "$dir/tok.txt" --batch "$dir/b.jsonl"
expect_error generate_no_input "one of --tokens or --batch" --ckpt "$CK"
expect_error generate_top_k_greedy "top_k needs temperature > 0" --ckpt "$CK" --tokens "$dir/tok.txt" --temperature 0 --top-k 5
expect_error generate_bad_top_p "top_p must be in (0, 1]" --ckpt "$CK" --tokens "$dir/tok.txt" --top-p 1.5
expect_error generate_bad_temperature "--temperature: expected a finite number" --ckpt "$CK" --tokens "$dir/tok.txt" --temperature abc
expect_error generate_eos_beyond_vocab "--eos: id 48 out of range [0, 48)" --ckpt "$CK" --tokens "$dir/tok.txt" --eos 48
expect_error generate_bad_backend "backend" --ckpt "$CK" --tokens "$dir/tok.txt" --backend gpu9
expect_error generate_missing_ckpt "nope.safetensors" --ckpt "$dir/nope.safetensors" --tokens "$dir/tok.txt"
# --out must not replace an input
cp "$dir/tok.txt" "$dir/keep.txt"
"$HYLAB" generate --ckpt "$CK" --tokens "$dir/keep.txt" --out "$dir/keep.txt" >"$dir/err.out" 2>&1; rc=$?
MSG="exit $rc: $(cat "$dir/err.out")"
check generate_out_is_input_refused sh -c '[ "$1" = 2 ] && cmp -s "$2" "$3"' _ "$rc" "$dir/keep.txt" "$dir/tok.txt"
# an error leaves an existing --out file as it was
echo keep >"$dir/old.jsonl"
"$HYLAB" generate --ckpt "$CK" --tokens "$dir/big.txt" --out "$dir/old.jsonl" 2>/dev/null
MSG="$(cat "$dir/old.jsonl")"
check generate_error_keeps_old_out test "$(cat "$dir/old.jsonl")" = keep
# stdout gets nothing on error
"$HYLAB" generate --ckpt "$CK" --batch "$dir/bad_in.jsonl" >"$dir/stdout" 2>/dev/null
MSG="stdout: $(head -c 200 "$dir/stdout")"
check generate_error_nothing_on_stdout test ! -s "$dir/stdout"
finish
