#!/bin/sh
# `hylab import` / `hylab export` of Hugging Face Mamba2ForCausalLM
# directories (model_type "mamba2" <-> mixer 'M', models/hf.c): the golden
# fixture tests/fixtures/mamba2 (tests/ref/golden_mamba2.py) imports to an
# all-M spec with its head_dim, n_groups, chunk_size, state_size; import ->
# export -> import gives identical tensors and the fixture's own file; and
# configs hylab cannot express
# (num_heads != expand * hidden_size / head_dim, a time_step_limit that
# clamps dt; (0, inf) imports in the spellings JSON allows, rms_norm false, norm_before_gate true, use_bias true, an
# unknown key) exit 2 naming the field, nothing written. The numbers are
# checked against transformers by test_golden (import; it also checks that
# absent keys take Mamba2Config's defaults) and, where torch is
# installed, tests/ref/check_export_mamba2.py (export).
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
PY=${HYLAB_PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/lib.sh"
FX=tests/fixtures/mamba2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# tensors_of FILE: name, dtype, shape and a digest of the bytes of every tensor (sorted).
tensors_of() {
  "$PY" - "$1" <<'EOF'
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
for k in sorted(h):
    v = h[k]
    print(k, v["dtype"], v["shape"], hashlib.sha256(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]).hexdigest())
EOF
}

# --- import, spec, round trip
"$HYLAB" import "$FX" --out "$dir/m2.st" 2>"$dir/err"; MSG="$(cat "$dir/err")"
check hf_mamba2_import [ -s "$dir/m2.st" ]
MSG="spec: $("$PY" -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])["__metadata__"]["spec"][:600])' "$dir/m2.st" 2>&1)"
check hf_mamba2_spec_is_all_M "$PY" -c '
import json, struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
h = json.loads(b[8:8 + n])
m = json.loads(h.pop("__metadata__")["spec"])["model"]
s = m["ssm"]
params = sum(eval("*".join(map(str, v["shape"])) or "1") for v in h.values())
ok = (m["layers"] == "M" and m["n_layers"] == 2 and m["ffn"]["type"] == "none" and s["headdim"] == 8
      and s["ngroups"] == 2 and s["chunk_size"] == 5 and s["d_state"] == 8 and s["d_conv"] == 4
      and s["expand"] == 2 and m["tie_embeddings"] is False and params == 22224)
sys.exit(0 if ok else 1)' "$dir/m2.st"
"$HYLAB" export "$dir/m2.st" --out "$dir/m2-hf" 2>"$dir/err"; MSG="$(cat "$dir/err")"
check hf_mamba2_export [ -s "$dir/m2-hf/model.safetensors" ]
MSG="$(cat "$dir/m2-hf/config.json")"
check hf_mamba2_export_config "$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
sys.exit(0 if c["model_type"] == "mamba2" and c["architectures"] == ["Mamba2ForCausalLM"] and c["num_heads"] == 8
         and c["head_dim"] == 8 and c["n_groups"] == 2 and c["chunk_size"] == 5 and c["state_size"] == 8 else 1)' \
  "$dir/m2-hf/config.json"
"$HYLAB" import "$dir/m2-hf" --out "$dir/m2b.st" 2>"$dir/err"
tensors_of "$dir/m2.st" >"$dir/a.txt"; tensors_of "$dir/m2b.st" >"$dir/b.txt"; MSG="$(diff "$dir/a.txt" "$dir/b.txt" | head -5)"
check hf_mamba2_roundtrip_identical_tensors sh -c '[ -s "$1" ] && cmp -s "$1" "$2"' sh "$dir/a.txt" "$dir/b.txt"
tensors_of "$FX/model.safetensors" >"$dir/f.txt"; tensors_of "$dir/m2-hf/model.safetensors" >"$dir/e.txt"
MSG="$(diff "$dir/f.txt" "$dir/e.txt" | head -5)"
check hf_mamba2_export_matches_fixture sh -c '[ -s "$1" ] && cmp -s "$1" "$2"' sh "$dir/f.txt" "$dir/e.txt"

# --- configs hylab cannot express: exit 2 naming the field, nothing written
# bad_dir NAME SED_EXPR: $dir/NAME, the fixture with config.json edited.
bad_dir() {
  mkdir -p "$dir/$1" && cp "$FX/model.safetensors" "$dir/$1/" && sed "$2" "$FX/config.json" >"$dir/$1/config.json"
}
# bad NAME WANT: import of $dir/NAME exits 2 with WANT in the message and no output file.
bad() {
  expect "$1" 2 "$2" "$HYLAB" import "$dir/$1" --out "$dir/$1.st"
  MSG="$dir/$1.st was written"; check "$1_nothing_written" [ ! -e "$dir/$1.st" ]
}
bad_dir hf_mamba2_num_heads 's/"num_heads": 8/"num_heads": 4/'
bad hf_mamba2_num_heads "config.json: num_heads: must equal expand \* hidden_size / head_dim (got 4)"
# json_dir NAME PY: $dir/NAME, the fixture with config.json set by the Python statement PY on dict c.
json_dir() {
  mkdir -p "$dir/$1" && cp "$FX/model.safetensors" "$dir/$1/" &&
    "$PY" -c "import json, sys; c = json.load(open(sys.argv[1])); $2; json.dump(c, open(sys.argv[2], 'w'))" \
      "$FX/config.json" "$dir/$1/config.json"
}
json_dir hf_mamba2_dt_limit 'c["time_step_limit"] = [0.0, 0.1]'
bad hf_mamba2_dt_limit "config.json: time_step_limit: not supported: hylab does not clamp dt"
json_dir hf_mamba2_dt_floor 'c["time_step_limit"] = [0.001, {"__float__": "Infinity"}]'
bad hf_mamba2_dt_floor "config.json: time_step_limit: not supported: hylab does not clamp dt"
# the spellings of (0, inf) that JSON allows import: transformers 5's (the fixture's), a string, a huge number
for v in '"Infinity"' '1e300'; do
  json_dir "inf_$v" "c['time_step_limit'] = [0.0, $v]"
  "$HYLAB" import "$dir/inf_$v" --out "$dir/inf.st" 2>"$dir/err"; MSG="$(cat "$dir/err")"
  check "hf_mamba2_time_step_limit_inf_$v" [ -s "$dir/inf.st" ]
  rm -f "$dir/inf.st"
done
MSG="$(cat "$FX/config.json")"
check hf_mamba2_fixture_has_transformers_inf grep -q '"__float__": "Infinity"' "$FX/config.json"
bad_dir hf_mamba2_rms_norm 's/"n_groups": 2,/"n_groups": 2, "rms_norm": false,/'
bad hf_mamba2_rms_norm "config.json: rms_norm: not supported: hylab needs true"
bad_dir hf_mamba2_norm_before_gate 's/"n_groups": 2,/"n_groups": 2, "norm_before_gate": true,/'
bad hf_mamba2_norm_before_gate "config.json: norm_before_gate: not supported: hylab needs false"
bad_dir hf_mamba2_use_bias 's/"use_bias": false/"use_bias": true/'
bad hf_mamba2_use_bias "config.json: use_bias: not supported"
bad_dir hf_mamba2_unknown_key 's/"n_groups": 2,/"n_groups": 2, "D_has_hdim": true,/'
bad hf_mamba2_unknown_key "config.json: D_has_hdim: not supported (a key hylab's importer does not know)"
bad_dir hf_mamba2_groups 's/"n_groups": 2/"n_groups": 3/'
bad hf_mamba2_groups "model.ssm.ngroups: must divide the 8 heads"
finish
