#!/bin/sh
# End-to-end `hylab generate --draft CKPT --lookahead K` (greedy speculative
# decoding) on the small hybrid checkpoints of `test_checkpoint`
# (--write-ckpt: A, H, S layers, KV sharing, meta tokens, sliding window;
# --write-ckpt-tied as the draft: other weights, same vocabulary 48):
# - a batch of prompts of different lengths gives exactly the tokens of plain
#   greedy `hylab generate` (every prompt, token for token), for K = 1, 3, 8
#   and with --eos; the acceptance line is printed;
# - the model as its own draft accepts every proposal (rate 1.000);
# - bad input exits 2 naming the option: --lookahead without --draft, out of
#   range, sampling with --draft, a draft with another vocabulary size.
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

if ! "$BUILD/tests/test_checkpoint" --write-ckpt "$dir/m.safetensors" >/dev/null 2>&1 ||
   ! "$BUILD/tests/test_checkpoint" --write-ckpt-tied "$dir/d.safetensors" >/dev/null 2>&1; then
  fail spec_generate_make_checkpoints "$BUILD/tests/test_checkpoint --write-ckpt(-tied) failed"
  finish
fi
CK="$dir/m.safetensors"
DR="$dir/d.safetensors"
cat >"$dir/b.jsonl" <<'EOJ'
{"tokens": [3, 17, 0, 47, 5]}
{"tokens": [9]}
{"tokens": [1, 2, 46, 22, 31, 8, 8, 40, 11]}
{"tokens": [30, 12]}
EOJ

"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --batch-size 3 --max-new-tokens 14 --out "$dir/plain.jsonl" 2>"$dir/err"
MSG="$(cat "$dir/err")"
check spec_generate_plain_exit_0 test $? = 0
for LA in 1 3 8; do
  "$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --batch-size 3 --max-new-tokens 14 \
    --draft "$DR" --lookahead $LA --out "$dir/spec$LA.jsonl" 2>"$dir/err"
  rc=$?
  MSG="exit $rc: $(cat "$dir/err")"
  check spec_generate_K${LA}_exit_0 test "$rc" = 0
  MSG="plain: $(cat "$dir/plain.jsonl") speculative: $(cat "$dir/spec$LA.jsonl")"
  check spec_generate_K${LA}_equals_plain_greedy cmp -s "$dir/plain.jsonl" "$dir/spec$LA.jsonl"
  MSG="stderr: $(cat "$dir/err")"
  check spec_generate_K${LA}_reports_acceptance grep -q "lookahead $LA: [0-9]* checks, [0-9]* of [0-9]* proposals accepted" "$dir/err"
done

# with an end token: rows stop at different blocks
"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --batch-size 4 --max-new-tokens 14 --eos 5 --out "$dir/plain_eos.jsonl" 2>/dev/null
"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --batch-size 4 --max-new-tokens 14 --eos 5 \
  --draft "$DR" --lookahead 3 --out "$dir/spec_eos.jsonl" 2>"$dir/err"
MSG="plain: $(cat "$dir/plain_eos.jsonl") speculative: $(cat "$dir/spec_eos.jsonl") $(cat "$dir/err")"
check spec_generate_eos_equals_plain_greedy cmp -s "$dir/plain_eos.jsonl" "$dir/spec_eos.jsonl"

# the model as its own draft: every proposal accepted
"$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --batch-size 3 --max-new-tokens 14 \
  --draft "$CK" --lookahead 4 --out "$dir/self.jsonl" 2>"$dir/err"
MSG="stderr: $(cat "$dir/err")"
check spec_generate_self_draft_all_accepted grep -q "proposals accepted (1.000)" "$dir/err"
MSG="plain: $(cat "$dir/plain.jsonl") self: $(cat "$dir/self.jsonl")"
check spec_generate_self_draft_equals_plain cmp -s "$dir/plain.jsonl" "$dir/self.jsonl"

# ---- bad input: exit 2 naming the option, nothing written
expect spec_generate_lookahead_needs_draft 2 "lookahead needs --draft" \
  "$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --lookahead 3
expect spec_generate_lookahead_range 2 "lookahead" \
  "$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --draft "$DR" --lookahead 0
expect spec_generate_sampling_refused 2 "draft.*temperature 0" \
  "$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --draft "$DR" --temperature 0.8
if tiny_checkpoint spec_generate_tiny "$dir/v256.safetensors"; then
  expect spec_generate_draft_vocab_mismatch 2 "draft.*model.vocab_size 256 differs" \
    "$HYLAB" generate --ckpt "$CK" --batch "$dir/b.jsonl" --draft "$dir/v256.safetensors" --out "$dir/none.jsonl"
  MSG="an output was written on error"
  check spec_generate_nothing_written test ! -e "$dir/none.jsonl"
fi
finish
