#!/bin/sh
# test_import_config.sh: `hylab import-config` on the published Hugging Face
# configs in tests/fixtures/hf_configs (README.md there says where each comes
# from): the spec parses, `hylab describe` counts exactly the published
# parameters, the structural keys come out as the families define them, and
# bad input exits 2 naming the file and the field with nothing on stdout.
#
# Where each expected count comes from (all equal the sum of the shapes
# transformers builds for the fixture on the meta device:
# tests/ref/hf_config_counts.py, run by hand; Hymba is remote code):
#   Llama-2-7B        6,738,415,616   Meta's model card / HF safetensors total
#   Mistral-7B-v0.1   7,241,732,096   HF safetensors metadata (7.24B)
#   Mixtral-8x7B      46,702,792,704  ../shared/PAPERS.md 5.4 (HF safetensors total)
#                     active 12,879,925,248 = total - 32 layers * 6 idle experts
#                     * 3 * 14336 * 4096 ("12.9B active", Mistral's post)
#   mamba-130m-hf     129,135,360     HF safetensors metadata (129M)
#   mamba-2.8b-hf     2,768,345,600   HF safetensors metadata (2.77B)
#   Jamba-v0.1        51,570,323,328  PAPERS.md 5.4: 51.57B; with the inner
#                     norms (28 Mamba layers * (256 + 16 + 16)); active
#                     12,110,311,296 = total - 16 MoE layers * 14 idle experts
#                     * 3 * 14336 * 4096 (the paper's "12B active")
#   Hymba-1.5B-Base   1,522,797,824   HF safetensors metadata of
#                     nvidia/Hymba-1.5B-Base (1.52B), which counts the inner
#                     norms: 32 layers * (100 + 16 + 16) = 4,224 of it
#   Mamba-Codestral   7,285,403,648   transformers' Mamba2ForCausalLM of the
#                     fixture (meta device); 64 * the Mamba-2 mixer of
#                     PAPERS.md 5.5 at d 4096, G 8, N 128 + norms + embeddings
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
HYLAB=${HYLAB:-./hylab}
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
FIX=tests/fixtures/hf_configs

# value of "KEY":NUMBER in describe's JSON before "layers"
num() { printf '%s' "$1" | sed 's/"layers":.*//' | sed -n "s/.*\"$2\":\([0-9.e+-]*\).*/\1/p"; }

# import FIXTURE -> $dir/FIXTURE.spec.json; describe it -> $desc
counts() {  # counts FIXTURE PARAMS [ACTIVE]
  f=$1
  "$HYLAB" import-config "$FIX/$f.json" >"$dir/$f.spec.json" 2>"$dir/err"
  rc=$?
  MSG="exit $rc: $(head -c 300 "$dir/err")"; check "import_${f}_exit_0" [ "$rc" = 0 ]
  desc=$("$HYLAB" describe "$dir/$f.spec.json" --json 2>"$dir/err")
  p=$(num "$desc" params); a=$(num "$desc" active_params)
  MSG="params '$p' (want $2): $(head -c 300 "$dir/err")"; check "import_${f}_params_$2" [ "$p" = "$2" ]
  want_a=${3:-$2}
  MSG="active '$a' (want $want_a)"; check "import_${f}_active_$want_a" [ "$a" = "$want_a" ]
}
counts llama-2-7b 6738415616
counts mistral-7b-v0.1 7241732096
counts mixtral-8x7b-v0.1 46702792704 12879925248
counts mamba-130m-hf 129135360
counts mamba-2.8b-hf 2768345600
counts jamba-v0.1 51570323328 12110311296
counts hymba-1.5b-base 1522797824
counts mamba-codestral-7b-v0.1 7285403648

# Jamba-v0.1 within 0.1% of the published 51.57B (the exact figure above is ours)
p=$(num "$("$HYLAB" describe "$dir/jamba-v0.1.spec.json" --json)" params)
MSG="got '$p'"; check jamba_within_0_1pct_of_51_57b awk -v x="$p" 'BEGIN { exit !(x >= 51.57e9 * 0.999 && x <= 51.57e9 * 1.001) }'

# the structure each family defines (grep on the printed spec)
has() {  # has NAME FIXTURE PATTERN...: every pattern in the spec of FIXTURE (whitespace squeezed)
  n=$1 f=$2; shift 2
  tr -d ' \t\n' <"$dir/$f.spec.json" >"$dir/flat"
  for pat in "$@"; do
    if ! grep -qF -- "$pat" "$dir/flat"; then fail "$n" "no $pat in $(head -c 400 "$dir/flat")"; return; fi
  done
  ok "$n"
}
has jamba_layout jamba-v0.1 '"layers":"SSSSASSS"' '"rope":false' '"inner_norms":true' '"router":"softmax_topk"' \
  '"every":2' '"offset":1' '"n_experts":16' '"top_k":2' '"load_balance":0.001' '"dt_rank":256'
has mixtral_moe mixtral-8x7b-v0.1 '"type":"moe"' '"router":"softmax_topk_renorm"' '"n_experts":8' \
  '"load_balance":0.02' '"rope_theta":1000000' '"window":0'
has mistral_window mistral-7b-v0.1 '"window":4096' '"n_kv_heads":8'
has mamba_layout mamba-130m-hf '"layers":"S"' '"type":"none"' '"dt_rank":48' '"tie_embeddings":true'
has mamba2_layout mamba-codestral-7b-v0.1 '"layers":"M"' '"headdim":64' '"ngroups":8' '"chunk_size":256' '"d_state":128'
# Hymba: sliding_window 1024 is hylab's 1025 (attention.c); static NTK base
# 10000 * (2 * 8192 / 2048 - 1) ^ (64 / 62) = 74534.83...
has hymba_layout hymba-1.5b-base '"layers":"H"' '"window":1025' '"meta_tokens":128' '"global_layers":[0,15,31]' \
  '"kv_share":[[1,2],' '[16,17,18]' '"v_head_dim":128' '"inner_norms":true' '"dt_rank":100' '"rope_theta":74534.83'
# the imported Jamba and Mixtral describe the same layers as the shipped specs
for pair in "jamba-v0.1 jamba-v0.1" "mixtral-8x7b-v0.1 mixtral-8x7b"; do
  set -- $pair
  a=$("$HYLAB" describe "$dir/$1.spec.json" --json | sed 's/.*"layers"://')
  b=$("$HYLAB" describe "sweeps/specs/$2.json" --json | sed 's/.*"layers"://')
  MSG="layer maps differ"; check "import_$1_matches_sweeps_specs_$2" [ -n "$a" ] && [ "$a" = "$b" ]
done

# --name; the default name is the file's
"$HYLAB" import-config "$FIX/llama-2-7b.json" --name my-llama >"$dir/out" 2>&1
MSG="$(head -c 200 "$dir/out")"; check import_name_option grep -q '"name":[[:space:]]*"my-llama"' "$dir/out"
MSG="$(head -c 200 "$dir/llama-2-7b.spec.json")"; check import_default_name grep -q '"name":[[:space:]]*"llama-2-7b"' "$dir/llama-2-7b.spec.json"
mkdir -p "$dir/Some-Model_1.0" && cp "$FIX/llama-2-7b.json" "$dir/Some-Model_1.0/config.json"
"$HYLAB" import-config "$dir/Some-Model_1.0/config.json" >"$dir/out" 2>&1
MSG="$(head -c 200 "$dir/out")"; check import_name_of_a_config_json_is_its_directory grep -q '"name":[[:space:]]*"Some-Model_1.0"' "$dir/out"
MSG="no usage"; check import_help sh -c '"$1" import-config --help | grep -q "model_type"' sh "$HYLAB"

# bad input: exit 2, stderr names the file and the field, stdout empty
# CASE, FIXTURE, sed expression making it bad, fragment of the message after "FILE: " (tab-separated)
TAB=$(printf '\t')
while IFS="$TAB" read -r bad fixture expr what; do
  sed "$expr" "$FIX/$fixture.json" >"$dir/$bad.json"
  expect "bad_$bad" 2 "" "$HYLAB" import-config "$dir/$bad.json"
  MSG="stderr lacks '$dir/$bad.json: $what': $(head -c 300 "$dir/err")"
  check "bad_${bad}_names_file_and_field" grep -qF -- "$dir/$bad.json: $what" "$dir/err"
  MSG="wrote to stdout: $(head -c 200 "$dir/out")"; check "bad_${bad}_stdout_empty" [ ! -s "$dir/out" ]
done <<EOF
unknown_model_type	llama-2-7b	s/"model_type": "llama"/"model_type": "gpt2"/	model_type: not supported (known: llama
missing_model_type	llama-2-7b	/"model_type"/d	model_type: missing
unknown_field	llama-2-7b	s/"pretraining_tp": 1,/"pretraining_tp": 1, "qk_layernorm": true,/	qk_layernorm: not supported
rope_scaling	llama-2-7b	s/"rope_scaling": null/"rope_scaling": {"type": "linear", "factor": 2.0}/	rope_scaling: not supported
hidden_act	llama-2-7b	s/"hidden_act": "silu"/"hidden_act": "gelu"/	hidden_act: not supported
missing_required	llama-2-7b	/"intermediate_size"/d	intermediate_size: missing
malformed_json	llama-2-7b	s/"vocab_size": 32000/"vocab_size": 32000,/	invalid JSON at line
mixtral_router_jitter	mixtral-8x7b-v0.1	s/"router_aux_loss_coef": 0.02,/"router_aux_loss_coef": 0.02, "router_jitter_noise": 0.1,/	router_jitter_noise: not supported
mamba2_dt_limit	mamba-codestral-7b-v0.1	s/Infinity/10.0/	time_step_limit: not supported
mamba2_num_heads	mamba-codestral-7b-v0.1	s/"num_heads": 128/"num_heads": 64/	num_heads: must equal
mamba_use_bias	mamba-130m-hf	s/"use_bias": false/"use_bias": true/	use_bias: not supported
jamba_attn_offset	jamba-v0.1	s/"attn_layer_offset": 4/"attn_layer_offset": 8/	attn_layer_offset: expected an integer in [0, attn_layer_period)
jamba_proj_bias	jamba-v0.1	s/"mamba_proj_bias": false/"mamba_proj_bias": true/	mamba_proj_bias: not supported
jamba_rope_theta	jamba-v0.1	s/"mamba_d_conv": 4,/"mamba_d_conv": 4, "rope_theta": 10000,/	rope_theta: not supported
hymba_layer_type	hymba-1.5b-base	s/"h",/"m",/	layer_type[0]: only "h"
hymba_rope_type	hymba-1.5b-base	s/"rope_type": "ntk"/"rope_type": "yarn"/	rope_type: only null
EOF
# a value the importer passes on but the spec parser refuses: the parser's message, still exit 2
sed 's/"num_key_value_heads": 32/"num_key_value_heads": 5/' "$FIX/llama-2-7b.json" >"$dir/kv5.json"
expect bad_spec_after_import 2 "$dir/kv5.json (imported): model.attn.n_kv_heads: must divide" "$HYLAB" import-config "$dir/kv5.json"
MSG="wrote to stdout: $(head -c 200 "$dir/out")"; check bad_spec_after_import_stdout_empty [ ! -s "$dir/out" ]
expect bad_missing_file 2 "$dir/nope.json" "$HYLAB" import-config "$dir/nope.json"
expect bad_no_argument 2 usage "$HYLAB" import-config

finish
