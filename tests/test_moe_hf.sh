#!/bin/sh
# test_moe_hf.sh: Mixtral (Hugging Face MixtralForCausalLM) import and export
# of the moe FFN (models/hf.c), against the fixture tests/fixtures/moe/mixtral
# made by tests/ref/moe_mixtral.py with transformers (committed; no torch at
# test time, numpy only):
#  - import: the spec (moe on every layer, 4 experts, top 2, renormalised,
#    expert width = intermediate_size, load_balance 0 since
#    output_router_logits is false) and the logits of `hylab forward` on the
#    fixture's tokens against transformers' (cpu and cpu_ref, max |diff| <=
#    1e-4 * max |logit|); the comparison can fail: the same weights imported
#    with top 1 give other logits;
#  - export: config.json + model.safetensors, model_type mixtral, and the
#    tensors byte for byte the fixture's (published names, experts split:
#    block_sparse_moe.gate / experts.{e}.w1/w3/w2); re-import identical;
#  - output_router_logits true sets load_balance to router_aux_loss_coef;
#  - refused with exit 2 naming the key: router_jitter_noise != 0, a missing
#    num_local_experts, an expert tensor missing, and exports of a moe model
#    without renormalisation, with a z-loss, or with moe on every 2nd layer.
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
PY=${HYLAB_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"
FX=tests/fixtures/moe/mixtral
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# spec_of CKPT: the spec JSON in a hylab checkpoint's metadata.
spec_of() {
  "$PY" - "$1" <<'PYEOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
print(json.loads(b[8:8 + n])["__metadata__"]["spec"])
PYEOF
}
# close A.npy B.npy: max |a - b| <= 1e-4 * max |b| (prints the error).
close() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys
import numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
err = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
print(f"max |diff| {err:.3g} (max |logit| {float(np.abs(b).max()):.3g})")
sys.exit(0 if err <= 1e-4 * float(np.abs(b).max()) else 1)
PYEOF
}
close_q() { close "$@" >/dev/null 2>&1; }
# expect_fail NAME WANT CMD...: exit 2 and WANT in the output.
expect_fail() {
  name=$1; want=$2; shift 2
  "$@" >"$dir/err.out" 2>&1; rc=$?
  MSG="exit $rc (want 2 with '$want'): $(head -c 400 "$dir/err.out")"
  check "$name" sh -c '[ "$1" = 2 ] && grep -q -- "$2" "$3"' sh "$rc" "$want" "$dir/err.out"
}

# --- import and parity with transformers
"$HYLAB" import "$FX" --out "$dir/mix.st" >/dev/null 2>"$dir/err.out"; MSG="$(cat "$dir/err.out")"
check mixtral_import [ -s "$dir/mix.st" ]
spec=$(spec_of "$dir/mix.st" 2>&1)
MSG="spec: $spec"
check mixtral_import_spec sh -c 'echo "$1" | grep -q "\"moe\":{\"d_ff\":24,\"every\":1,\"load_balance\":0,\"n_experts\":4,\"offset\":0,\"router\":\"softmax_topk_renorm\",\"top_k\":2,\"z_loss\":0},\"type\":\"moe\""' sh "$spec"
for be in cpu cpu_ref; do
  "$HYLAB" forward --ckpt "$dir/mix.st" --tokens "$FX/tokens.txt" --out "$dir/$be.npy" --backend $be --threads 1 \
    >/dev/null 2>"$dir/err.out"
  MSG="$(cat "$dir/err.out") $(close "$dir/$be.npy" "$FX/expected.npy" 2>&1)"
  check "mixtral_logits_match_transformers_$be" close_q "$dir/$be.npy" "$FX/expected.npy"
  echo "#   $be: $(close "$dir/$be.npy" "$FX/expected.npy" 2>&1)"
done
mkdir "$dir/top1" && cp "$FX/model.safetensors" "$dir/top1/" &&
  sed 's/"num_experts_per_tok": 2/"num_experts_per_tok": 1/' "$FX/config.json" >"$dir/top1/config.json"
"$HYLAB" import "$dir/top1" --out "$dir/top1.st" >/dev/null 2>&1 &&
  "$HYLAB" forward --ckpt "$dir/top1.st" --tokens "$FX/tokens.txt" --out "$dir/top1.npy" --threads 1 >/dev/null 2>&1
MSG="top-1 logits $(close "$dir/top1.npy" "$FX/expected.npy" 2>&1)"
check mixtral_parity_check_can_fail sh -c '[ -s "$1" ]' sh "$dir/top1.npy" && ! close_q "$dir/top1.npy" "$FX/expected.npy"

# --- export
"$HYLAB" export "$dir/mix.st" --out "$dir/mix-hf" >/dev/null 2>"$dir/err.out"; MSG="$(cat "$dir/err.out")"
check mixtral_export [ -s "$dir/mix-hf/model.safetensors" ]
MSG="files: $(ls "$dir/mix-hf" | tr '\n' ' ')"
check mixtral_export_file_set [ "$(ls "$dir/mix-hf" | tr '\n' ' ')" = "config.json model.safetensors " ]
MSG="$(cat "$dir/mix-hf/config.json")"
check mixtral_export_config sh -c 'grep -q "\"model_type\":[[:space:]]*\"mixtral\"" "$1" && grep -q "\"num_local_experts\":[[:space:]]*4" "$1" &&
  grep -q "\"num_experts_per_tok\":[[:space:]]*2" "$1" && grep -q "\"intermediate_size\":[[:space:]]*24" "$1" &&
  grep -q "\"sliding_window\":[[:space:]]*null" "$1" && grep -q "\"output_router_logits\":[[:space:]]*false" "$1"' sh "$dir/mix-hf/config.json"
MSG="the exported tensors differ from the fixture's (names, shapes or bytes)"
check mixtral_export_matches_fixture_tensors same_tensors "$FX/model.safetensors" "$dir/mix-hf/model.safetensors"
"$HYLAB" import "$dir/mix-hf" --out "$dir/mix2.st" >/dev/null 2>"$dir/err.out"; MSG="$(cat "$dir/err.out")"
check mixtral_roundtrip_identical_tensors same_tensors "$dir/mix.st" "$dir/mix2.st"

# --- the load-balancing loss
mkdir "$dir/aux" && cp "$FX/model.safetensors" "$dir/aux/" &&
  sed 's/"output_router_logits": false/"output_router_logits": true/' "$FX/config.json" >"$dir/aux/config.json"
"$HYLAB" import "$dir/aux" --out "$dir/aux.st" >/dev/null 2>&1
spec=$(spec_of "$dir/aux.st" 2>&1)
MSG="spec: $spec"
check mixtral_output_router_logits_sets_load_balance sh -c 'echo "$1" | grep -q "\"load_balance\":0.02"' sh "$spec"

# --- bad input
mkdir "$dir/jit" && cp "$FX/model.safetensors" "$dir/jit/" &&
  sed 's/"router_jitter_noise": 0.0/"router_jitter_noise": 0.1/' "$FX/config.json" >"$dir/jit/config.json"
expect_fail mixtral_jitter_refused "config.json: router_jitter_noise: not supported" "$HYLAB" import "$dir/jit" --out "$dir/o.st"
mkdir "$dir/noexp" && cp "$FX/model.safetensors" "$dir/noexp/" &&
  grep -v num_local_experts "$FX/config.json" >"$dir/noexp/config.json"
expect_fail mixtral_missing_n_experts "config.json: num_local_experts: missing" "$HYLAB" import "$dir/noexp" --out "$dir/o.st"
mkdir "$dir/gone" && cp "$FX/config.json" "$dir/gone/" &&
  "$PY" -c 'import sys; b = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(b.replace(b"experts.3.w1.", b"experts.9.w1.", 1))' \
    "$FX/model.safetensors" "$dir/gone/model.safetensors"
expect_fail mixtral_expert_tensor_missing "layers.0.block_sparse_moe.experts.3.w1.weight' missing" "$HYLAB" import "$dir/gone" --out "$dir/o.st"
moe="--set model.ffn.type=moe --set model.ffn.moe.router=softmax_topk_renorm --set model.ffn.moe.n_experts=4 --set model.ffn.moe.d_ff=16 --set model.attn.window=0
  --set model.attn.global_layers=[] --set train.steps=1 --set train.batch_size=2 --set train.eval_every=0 --set eval=[]"
for case in "router softmax_topk model.ffn.moe.router" "z_loss 0.01 model.ffn.moe.z_loss" "every 2 model.ffn.pattern"; do
  set -- $case
  # shellcheck disable=SC2086
  "$HYLAB" run sweeps/specs/mqar-tiny.json --threads 1 $moe --set "model.ffn.moe.$1=$2" --set model.ffn.d_ff=16 \
    --save "$dir/bad-$1.st" >/dev/null 2>&1
  expect_fail "mixtral_export_refuses_$1" "$3" "$HYLAB" export "$dir/bad-$1.st" --out "$dir/bad-$1-hf"
done
finish
