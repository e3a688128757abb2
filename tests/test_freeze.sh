#!/bin/sh
# test_freeze.sh: train.freeze (harness/train/optim.c hl_zero_frozen_grads,
# hl_adamw_step; harness/spec.c check_freeze). From the same seed, the
# initial weights (train.steps 0) are saved, then 4 steps with layer 0 and
# the embedding frozen, then 4 steps without freezing:
#  - with freeze, every tensor matching a pattern is bit-identical to its
#    initial value (no update, no weight decay) and every other tensor moved;
#  - without freeze, those same tensors moved (so the check is not vacuous);
#  - the canonical spec without freeze has no "freeze" key;
#  - a pattern that matches no tensor, or patterns freezing every tensor,
#    exit 2 naming train.freeze.
# Python ($PY, else HYLAB_PYTHON, else Debian's python3) compares the files.
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"

spec=sweeps/specs/mqar-tiny.json
common="--threads 1 --set train.batch_size=4 --set eval=[] --set train.lr=0.01"
pats='["model.layers.0.*","model.embed_tokens.weight"]'
# shellcheck disable=SC2086
"$HYLAB" run $spec $common --set train.steps=0 --save "$dir/init.safetensors" >/dev/null 2>"$dir/err"
# shellcheck disable=SC2086
"$HYLAB" run $spec $common --set train.steps=4 --set "train.freeze=$pats" --save "$dir/frozen.safetensors" \
  >"$dir/frozen.out" 2>"$dir/err"
# shellcheck disable=SC2086
"$HYLAB" run $spec $common --set train.steps=4 --save "$dir/free.safetensors" >"$dir/free.out" 2>"$dir/err"

# compare A B: "frozen_same moved_other" for the patterns' tensors of B vs A
compare() {
  "${PY:-${HYLAB_PYTHON:-/usr/bin/python3}}" - "$1" "$2" <<'EOF'
import fnmatch, json, struct, sys
def load(p):
    b = open(p, "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
a, b = load(sys.argv[1]), load(sys.argv[2])
pats = ["model.layers.0.*", "model.embed_tokens.weight"]
frozen = [k for k in a if any(fnmatch.fnmatchcase(k, p) for p in pats)]
others = [k for k in a if k not in frozen]
print(len(frozen), sum(a[k] == b[k] for k in frozen), len(others), sum(a[k] != b[k] for k in others))
EOF
}
r=$(compare "$dir/init.safetensors" "$dir/frozen.safetensors" 2>&1)
MSG="frozen run: (frozen, of them unchanged, others, of them moved) = $r"
# shellcheck disable=SC2086
check frozen_tensors_unchanged sh -c 'set -- $1; [ "$#" = 4 ] && [ "$1" -gt 1 ] && [ "$2" = "$1" ] && [ "$4" = "$3" ]' sh "$r"
r=$(compare "$dir/init.safetensors" "$dir/free.safetensors" 2>&1)
MSG="free run: (frozen, of them unchanged, others, of them moved) = $r"
# shellcheck disable=SC2086
check unfrozen_run_moves_them sh -c 'set -- $1; [ "$#" = 4 ] && [ "$2" = 0 ] && [ "$4" = "$3" ]' sh "$r"
h1=$(sed -n 's/.*"spec_hash":"\([0-9a-f]*\)".*/\1/p' "$dir/free.out")
# shellcheck disable=SC2086
"$HYLAB" run $spec $common --set train.steps=4 --set train.freeze=null >"$dir/null.out" 2>"$dir/err"
h2=$(sed -n 's/.*"spec_hash":"\([0-9a-f]*\)".*/\1/p' "$dir/null.out")
h3=$(sed -n 's/.*"spec_hash":"\([0-9a-f]*\)".*/\1/p' "$dir/frozen.out")
MSG="hashes: no freeze $h1, freeze null $h2, freeze $h3"
check no_freeze_same_hash sh -c '[ -n "$1" ] && [ "$1" = "$2" ] && [ "$1" != "$3" ]' sh "$h1" "$h2" "$h3"

# shellcheck disable=SC2086
expect freeze_matches_nothing 2 'train.freeze\[1\]: matches no tensor of the model' \
  "$HYLAB" run $spec $common --set 'train.freeze=["model.layers.0.*","nope*"]'
# shellcheck disable=SC2086
expect freeze_everything 2 'train.freeze: freezes all 12 tensors' \
  "$HYLAB" run $spec $common --set 'train.freeze=["model.*"]'
# shellcheck disable=SC2086
expect freeze_empty_pattern 2 'train.freeze\[0\]: a pattern has 1 to 127 characters' \
  "$HYLAB" run $spec $common --set 'train.freeze=[""]'
finish
