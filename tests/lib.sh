# lib.sh: the shell tests' counterpart of tests/test.h. Source it with
#   . "$(dirname "$0")/lib.sh"
# ok NAME, fail NAME WHY, skip NAME WHY print one line each;
# check NAME CMD... runs CMD and reports it, with $MSG as the failure detail;
# finish prints "N passed, N failed, N skipped" and exits 1 on any failure.
P=0; F=0; K=0
ok()   { echo "ok $1"; P=$((P+1)); }
fail() { echo "FAIL $1: $2"; F=$((F+1)); }
skip() { echo "skip $1: $2"; K=$((K+1)); }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "${MSG:-check failed}"; fi; MSG=; }
finish() { echo "$P passed, $F failed, $K skipped"; [ "$F" = 0 ]; exit $?; }
# expect NAME RC PATTERN CMD...: CMD exits with status RC and PATTERN (grep)
# matches its stderr, or its stdout and stderr together when EXPECT_IN=both.
# Leaves stdout in $dir/out and stderr in $dir/err ($dir: the caller's
# temporary folder).
expect() {
  n=$1 want=$2 pat=$3; shift 3
  f="$dir/err"
  if [ "${EXPECT_IN:-err}" = both ]; then f="$dir/out"; "$@" >"$dir/out" 2>&1; else "$@" >"$dir/out" 2>"$dir/err"; fi
  rc=$?
  MSG="exit $rc (want $want): $(head -c 600 "$f")"
  check "$n" sh -c '[ "$1" = "$2" ] && grep -q -- "$3" "$4"' sh "$rc" "$want" "$pat" "$f"
}
# tiny_checkpoint NAME FILE: trains tests/specs/runner/tiny.json (vocab 256,
# 2 steps) into the checkpoint FILE with $HYLAB; on failure reports NAME
# and finishes the test.
tiny_checkpoint() {
  if ! "$HYLAB" run tests/specs/runner/tiny.json --set model.vocab_size=256 --set train.steps=2 \
       --save "$2" >/dev/null 2>&1; then
    fail "$1" "hylab run --save failed"
    finish
  fi
}

# same_tensors A B: the two safetensors files hold the same tensor names,
# shapes and bytes (headers may differ, e.g. the spec's name). Python: $PY,
# else HYLAB_PYTHON, else Debian's python3 (test_hf.sh, test_moe_hf.sh).
same_tensors() {
  "${PY:-${HYLAB_PYTHON:-/usr/bin/python3}}" - "$1" "$2" <<'EOF'
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in h.items()}
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a == b and len(a) > 0 else 1)
EOF
}
