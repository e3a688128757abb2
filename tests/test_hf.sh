#!/bin/sh
# `hylab import` / `hylab export` (Hugging Face directories) end to end:
# round trips import -> export -> import give bit-identical tensors for the
# golden Llama and Mamba fixtures (tests/golden/), exports hold exactly
# config.json + model.safetensors with the right model_type, and bad inputs
# (missing config.json, unknown model_type, unsupported or unknown config
# fields, truncated safetensors, a shard index pointing outside, a hybrid or
# meta-token model to export, a non-empty output directory) exit 2 naming the
# file and field, with nothing written. The numbers themselves are checked
# against transformers by test_golden (import) and, where torch is
# installed, tests/golden/check_export_transformers.py (export).
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
BUILD=${BUILD:-build}
PY=${HYLAB_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"
G=tests/golden
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT


# expect_fail NAME WANT OUT CMD...: exit 2, stderr contains WANT, OUT not created.
expect_fail() {
  name=$1; want=$2; out=$3; shift 3
  "$@" >"$dir/err.out" 2>&1; rc=$?
  if [ "$rc" = 2 ] && grep -q -- "$want" "$dir/err.out" && [ ! -e "$out" ] && [ ! -e "$out.tmp" ]; then
    ok "$name"; echo "#   $(head -n 1 "$dir/err.out")"
  else
    fail "$name" "exit $rc, expected 2 with '$want' and no $out: $(head -c 300 "$dir/err.out")"
  fi
}

# --- round trips
for m in llama mamba; do
  "$HYLAB" import "$G/$m" --out "$dir/$m.st" 2>"$dir/err.out"; MSG="$(cat "$dir/err.out")"
  check "hf_import_$m" [ -s "$dir/$m.st" ]
  "$HYLAB" export "$dir/$m.st" --out "$dir/$m-hf" 2>"$dir/err.out"; MSG="$(cat "$dir/err.out")"
  check "hf_export_$m" [ -s "$dir/$m-hf/model.safetensors" ]
  MSG="files: $(ls "$dir/$m-hf" | tr '\n' ' ')"
  check "hf_export_${m}_file_set" [ "$(ls "$dir/$m-hf" | tr '\n' ' ')" = "config.json model.safetensors " ]
  MSG="$(cat "$dir/$m-hf/config.json")"
  check "hf_export_${m}_model_type" grep -q "\"model_type\":[[:space:]]*\"$m\"" "$dir/$m-hf/config.json"
  "$HYLAB" import "$dir/$m-hf" --out "$dir/$m-2.st" 2>"$dir/err.out"
  MSG="$(cat "$dir/err.out")"
  check "hf_roundtrip_${m}_identical_tensors" same_tensors "$dir/$m.st" "$dir/$m-2.st"
  MSG="the HF file's tensors differ from the fixture's"
  check "hf_export_${m}_matches_fixture" same_tensors "$G/$m/model.safetensors" "$dir/$m-hf/model.safetensors"
done
"$HYLAB" import "$G/llama_mixed" --out "$dir/mixed.st" 2>"$dir/err.out"; MSG="$(cat "$dir/err.out")"
check hf_import_sharded_f16_bf16 [ -s "$dir/mixed.st" ]

# --- usage
"$HYLAB" import --help >"$dir/help.out" 2>&1; MSG="exit $?"
check hf_import_help grep -q "usage: hylab import HF_DIR --out" "$dir/help.out"
"$HYLAB" export --help >"$dir/help.out" 2>&1; MSG="exit $?"
check hf_export_help grep -q "usage: hylab export FILE.safetensors --out HF_DIR" "$dir/help.out"
expect_fail hf_import_needs_out "needs a source and --out" "$dir/none.st" "$HYLAB" import "$G/llama"

# --- bad HF directories (each a copy of the llama or mamba fixture with one change)
# bad_dir NAME FIXTURE SED_EXPR: $dir/NAME, the fixture with config.json edited.
bad_dir() {
  mkdir -p "$dir/$1" && cp "$G/$2"/config.json "$G/$2"/model.safetensors "$dir/$1/" &&
    sed "$3" "$G/$2/config.json" >"$dir/$1/config.json"
}
mkdir "$dir/empty"
expect_fail hf_import_missing_config "empty/config.json" "$dir/o.st" "$HYLAB" import "$dir/empty" --out "$dir/o.st"
bad_dir gpt2 llama 's/"model_type": "llama"/"model_type": "gpt2"/'
expect_fail hf_import_unknown_model_type "config.json: model_type: not supported" "$dir/o.st" \
  "$HYLAB" import "$dir/gpt2" --out "$dir/o.st"
bad_dir rope llama 's/"rope_parameters": {/"rope_scaling": {"type": "linear", "factor": 2.0}, "rope_parameters": {/'
expect_fail hf_import_rope_scaling "config.json: rope_scaling: not supported" "$dir/o.st" \
  "$HYLAB" import "$dir/rope" --out "$dir/o.st"
bad_dir ropetype llama 's/"rope_type": "default"/"rope_type": "yarn"/'
expect_fail hf_import_rope_type "config.json: rope_parameters.rope_type" "$dir/o.st" \
  "$HYLAB" import "$dir/ropetype" --out "$dir/o.st"
bad_dir bias llama 's/"attention_bias": false/"attention_bias": true/'
expect_fail hf_import_attention_bias "config.json: attention_bias: not supported" "$dir/o.st" \
  "$HYLAB" import "$dir/bias" --out "$dir/o.st"
bad_dir gelu llama 's/"hidden_act": "silu"/"hidden_act": "gelu"/'
expect_fail hf_import_hidden_act "config.json: hidden_act: not supported" "$dir/o.st" \
  "$HYLAB" import "$dir/gelu" --out "$dir/o.st"
bad_dir unknown llama 's/"vocab_size": 96/"vocab_size": 96, "qk_layernorm": true/'
expect_fail hf_import_unknown_key "config.json: qk_layernorm: not supported" "$dir/o.st" \
  "$HYLAB" import "$dir/unknown" --out "$dir/o.st"
bad_dir kvheads llama 's/"num_key_value_heads": 2/"num_key_value_heads": 3/'
expect_fail hf_import_spec_check "config.json: model.attn.n_kv_heads: must divide n_heads (got 3 for 4) (config.json: num_key_value_heads)" "$dir/o.st" \
  "$HYLAB" import "$dir/kvheads" --out "$dir/o.st"
bad_dir mbias mamba 's/"use_bias": false/"use_bias": true/'
expect_fail hf_import_mamba_use_bias "config.json: use_bias: not supported" "$dir/o.st" \
  "$HYLAB" import "$dir/mbias" --out "$dir/o.st"
bad_dir minter mamba 's/"intermediate_size": 64/"intermediate_size": 96/'
expect_fail hf_import_mamba_intermediate "config.json: intermediate_size: must equal expand" "$dir/o.st" \
  "$HYLAB" import "$dir/minter" --out "$dir/o.st"
bad_dir trunc llama 's/x/x/'
head -c 60000 "$G/llama/model.safetensors" >"$dir/trunc/model.safetensors"
expect_fail hf_import_truncated_safetensors "trunc/model.safetensors: .*truncated" "$dir/o.st" \
  "$HYLAB" import "$dir/trunc" --out "$dir/o.st"
bad_dir shape llama 's/"intermediate_size": 64/"intermediate_size": 48/'
expect_fail hf_import_shape_mismatch "model.layers.0.mlp.gate_proj.weight': shape" "$dir/o.st" \
  "$HYLAB" import "$dir/shape" --out "$dir/o.st"
mkdir "$dir/index" && cp "$G/llama/config.json" "$dir/index/" &&
  printf '{"metadata": {}, "weight_map": {"lm_head.weight": "../model.safetensors"}}' >"$dir/index/model.safetensors.index.json"
expect_fail hf_import_index_outside "model.safetensors.index.json: weight_map.lm_head.weight" "$dir/o.st" \
  "$HYLAB" import "$dir/index" --out "$dir/o.st"

# --- bad exports
if "$BUILD/tests/test_checkpoint" --write-ckpt "$dir/hybrid.st" >/dev/null 2>&1; then
  expect_fail hf_export_hybrid "hybrid.st (metadata spec): model.layers: " "$dir/hyb-hf" \
    "$HYLAB" export "$dir/hybrid.st" --out "$dir/hyb-hf"
else
  fail hf_export_hybrid "$BUILD/tests/test_checkpoint --write-ckpt failed"
fi
# Jamba's pieces have no Llama / Mamba equivalent: attention without RoPE, the
# inner norms on dt, B and C (models/hf.c hl_hf_export_family)
for c in "norope AA model.attn.rope=false model.attn.rope: Llama, Mistral and Mixtral rotate" \
         "inner SS model.ssm.inner_norms=true model.ssm.inner_norms: Hugging Face's Mamba and Mamba2 have no"; do
  set -- $c; name=$1 layers=$2 key=$3; shift 3
  if "$HYLAB" run tests/specs/runner/tiny.json --set model.layers="\"$layers\"" --set "$key" --set train.steps=1 \
       --set 'eval=[]' --threads 1 --save "$dir/$name.st" >/dev/null 2>&1; then
    expect_fail "hf_export_refuses_$name" "$*" "$dir/$name-hf" "$HYLAB" export "$dir/$name.st" --out "$dir/$name-hf"
  else
    fail "hf_export_refuses_$name" "hylab run --save of the $name checkpoint failed"
  fi
done
mkdir "$dir/full" && echo keep >"$dir/full/keep.txt"
"$HYLAB" export "$dir/llama.st" --out "$dir/full" >"$dir/err.out" 2>&1; rc=$?
MSG="exit $rc: $(cat "$dir/err.out"); files: $(ls "$dir/full" | tr '\n' ' ')"
check hf_export_refuses_non_empty_dir [ "$rc" = 2 ] && grep -q "full: exists and is not empty" "$dir/err.out" &&
  [ "$(ls "$dir/full")" = keep.txt ]
expect_fail hf_export_missing_ckpt "nope.st" "$dir/nope-hf" "$HYLAB" export "$dir/nope.st" --out "$dir/nope-hf"

finish
