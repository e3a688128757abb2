#!/bin/sh
# test_describe.sh: `hylab describe` numbers against the published ones:
# Llama-2-7B 6,738,415,616 parameters and 128 GiB of 16-bit KV cache at 256K
# (Jamba paper), Hymba-1.5B ~1.52B parameters and ~79 MiB of cache at 8K.
HYLAB=${HYLAB:-./hylab}
P=0; F=0
check() {  # check NAME CONDITION-EXIT-STATUS DETAIL
  if [ "$2" = 0 ]; then echo "ok $1"; P=$((P+1)); else echo "FAIL $1: $3"; F=$((F+1)); fi
}
# value of "KEY":NUMBER in the JSON before "layers" (after an optional prefix pattern)
num() { printf '%s' "$1" | sed 's/"layers":.*//' | sed -n "s/.*$2\"$3\":\([0-9.e+-]*\).*/\1/p"; }
between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x != "" && x + 0 >= lo && x + 0 <= hi) }'; }

out=$("$HYLAB" describe sweeps/specs/llama2-7b.json --json --context 262144 --dtype-bytes 2); rc=$?
check describe_llama_runs "$rc" "exit $rc"
p=$(num "$out" "" params)
check llama2_7b_params "$([ "$p" = 6738415616 ]; echo $?)" "got '$p'"
c=$(num "$out" "\"cache_bytes\":{" 262144)
check llama2_7b_kv_cache_256k "$([ "$c" = 137438953472 ]; echo $?)" "got '$c'"

out=$("$HYLAB" describe sweeps/specs/hymba-1.5b.json --json --context 8192); rc=$?
check describe_hymba_runs "$rc" "exit $rc"
p=$(num "$out" "" params)
between "$p" 1504800000 1535200000; check hymba_1_5b_params_within_1pct "$?" "got '$p'"
c=$(num "$out" "\"cache_bytes\":{" 8192)
between "$c" 81788928 83886080; check hymba_1_5b_cache_8k_79mib "$?" "got '$c' (want 78..80 MiB)"
m=$(num "$out" "\"params_by_component\":{.*" meta_tokens)
check hymba_meta_tokens_param "$([ "$m" = 204800 ]; echo $?)" "got '$m'"
# exactly nvidia/Hymba-1.5B-Base's safetensors total (1,522,797,824), which
# includes the Mamba inner norms on dt (100), B and C (16 each) of 32 layers
check hymba_1_5b_params_exact_with_inner_norms "$([ "$p" = 1522797824 ]; echo $?)" "got '$p'"
out=$("$HYLAB" describe sweeps/specs/hymba-1.5b.json --json --set model.ssm.inner_norms=false)
p2=$(num "$out" "" params)
check hymba_inner_norms_are_4224_params "$([ "$p2" = $((1522797824 - 4224)) ]; echo $?)" "got '$p2'"

# Jamba v0.1 as shipped (MoE, no RoPE, inner norms): 51.57B total (PAPERS.md
# 5.4), 12.11B active; Mixtral-8x7B 46,702,792,704 total, 12.9B active
out=$("$HYLAB" describe sweeps/specs/jamba-v0.1.json --json); rc=$?
p=$(num "$out" "" params); a=$(num "$out" "" active_params)
check jamba_v0_1_spec_params "$([ "$rc" = 0 ] && [ "$p" = 51570323328 ] && [ "$a" = 12110311296 ]; echo $?)" "exit $rc, params '$p', active '$a'"
out=$("$HYLAB" describe sweeps/specs/mixtral-8x7b.json --json); rc=$?
p=$(num "$out" "" params); a=$(num "$out" "" active_params)
check mixtral_8x7b_spec_params "$([ "$rc" = 0 ] && [ "$p" = 46702792704 ] && [ "$a" = 12879925248 ]; echo $?)" "exit $rc, params '$p', active '$a'"

# Jamba layout (dense stand-in: MoE not modelled yet): 4 attention layers of
# 8 KV heads give 4 GiB of KV at 256K, plus 28 Mamba states (~9 MB)
out=$("$HYLAB" describe sweeps/specs/jamba-v0.1-dense.json --json --context 262144); rc=$?
c=$(num "$out" "\"cache_bytes\":{" 262144)
between "$c" 4294967296 4311744512; check jamba_cache_256k_4gib "$?" "exit $rc, got '$c'"

# Jamba v0.1 with its MoE (16 experts, top 2, on every 2nd layer from 1):
# 52B parameters, 12B active (Lieber et al. 2024, table 1; HF counts 51.57B)
out=$("$HYLAB" describe sweeps/specs/jamba-v0.1-dense.json --json --set model.ffn.type=moe \
  --set model.ffn.moe.n_experts=16 --set model.ffn.moe.top_k=2 --set model.ffn.moe.every=2 \
  --set model.ffn.moe.offset=1 --set model.ffn.moe.d_ff=14336); rc=$?
p=$(num "$out" "" params); a=$(num "$out" "" active_params)
between "$p" 51000000000 52100000000 && between "$a" 11800000000 12200000000
check jamba_moe_params_52b_active_12b "$?" "exit $rc, params '$p', active '$a'"

# text output names the layer map; --help; bad specs exit 2 with the loader's message
"$HYLAB" describe sweeps/specs/hymba-1.5b.json | grep -q "consumer of 16"
check describe_text_layer_map "$?" "no 'consumer of 16' in the layer map"
"$HYLAB" describe --help | grep -q -- "--dtype-bytes"
check describe_help "$?" "no usage"
tmp=${TMPDIR:-/tmp}/hylab_describe_$$.json
echo '{"name":"bad","model":{"d_model":-1}}' > "$tmp"
err=$("$HYLAB" describe "$tmp" 2>&1 >/dev/null); rc=$?
check describe_bad_spec_exit_2 "$([ "$rc" = 2 ] && printf '%s' "$err" | grep -q "model.d_model"; echo $?)" "exit $rc, stderr '$err'"
rm -f "$tmp"
err=$("$HYLAB" describe sweeps/specs/hymba-1.5b.json --set model.attn.n_kv_heads=3 2>&1 >/dev/null); rc=$?
check describe_bad_set_exit_2 "$([ "$rc" = 2 ] && printf '%s' "$err" | grep -q "n_kv_heads"; echo $?)" "exit $rc, stderr '$err'"

# Mamba-2 ('M'): one mixer at d_model 2560, d_state 128 and the defaults
# (headdim 64, expand 2, ngroups 1, d_conv 4) is 40,214,000 parameters
# (PAPERS.md 5.5); headdim and ngroups that do not divide: exit 2 naming the key
echo '{"name":"mamba2","model":{"vocab_size":50280,"d_model":2560,"layers":"M","ssm":{"d_state":128},"ffn":{"type":"none"}}}' > "$tmp"
out=$("$HYLAB" describe "$tmp" --json); rc=$?
p=$(num "$out" "" ssm)
check mamba2_mixer_params_40214000 "$([ "$rc" = 0 ] && [ "$p" = 40214000 ]; echo $?)" "exit $rc, got '$p'"
err=$("$HYLAB" describe "$tmp" --set model.ssm.headdim=48 2>&1 >/dev/null); rc=$?
check mamba2_bad_headdim_exit_2 "$([ "$rc" = 2 ] && printf '%s' "$err" | grep -q "model.ssm.headdim: must divide"; echo $?)" "exit $rc, stderr '$err'"
err=$("$HYLAB" describe "$tmp" --set model.ssm.ngroups=3 2>&1 >/dev/null); rc=$?
check mamba2_bad_ngroups_exit_2 "$([ "$rc" = 2 ] && printf '%s' "$err" | grep -q "model.ssm.ngroups: must divide the 80 heads"; echo $?)" "exit $rc, stderr '$err'"
rm -f "$tmp"

# limits: a context past HL_MAX_CONTEXT is refused (it overflowed the int64
# cache count); a model at every size limit is still counted, with no overflow
err=$("$HYLAB" describe sweeps/specs/llama2-7b.json --context 9223372036854775000 2>&1 >/dev/null); rc=$?
check describe_context_limit "$([ "$rc" = 2 ] && printf '%s' "$err" | grep -qF "in [1, 16777216]"; echo $?)" "exit $rc, stderr '$err'"
echo '{"name":"at-limits","model":{"vocab_size":1048576,"d_model":65536,"n_layers":256,"layers":"H",
  "attn":{"n_heads":64,"head_dim":1024,"window":16777216},"ssm":{"d_state":1024,"d_conv":256,"expand":4,"dt_rank":65536},
  "meta_tokens":65536,"ffn":{"d_ff":1048576}}}' > "$tmp"
out=$("$HYLAB" describe "$tmp" --json --context 16777216 --dtype-bytes 16); rc=$?
p=$(num "$out" "" params); c=$(num "$out" "\"cache_bytes\":{" 16777216)
check describe_at_limits "$([ "$rc" = 0 ] && [ "${p:-0}" -gt 0 ] && [ "${c:-0}" -gt 0 ]; echo $?)" "exit $rc, params '$p', cache '$c'"
rm -f "$tmp"

# model.ffn.pattern: the layer map shows each layer's FFN, and a block without
# one has fewer parameters (no mlp, no post-attention norm)
set_pat='model.ffn.pattern=["swiglu","none"]'
out=$("$HYLAB" describe sweeps/specs/mqar-tiny.json --set model.ffn.type=swiglu --set "$set_pat" --set model.n_layers=4); rc=$?
rows=$(printf '%s\n' "$out" | awk '$1 ~ /^[0-3]$/ { printf "%s:%s:%s ", $1, $5, $6 }')
ffn_rows() {
  [ "$rc" = 0 ] && printf '%s' "$rows" | awk '{ for (i = 1; i <= NF; i++) { split($i, f, ":"); ffn[f[1]] = f[2]; p[f[1]] = f[3] } }
    END { exit !(ffn[0] == "swiglu" && ffn[1] == "none" && ffn[2] == "swiglu" && ffn[3] == "none" && p[0] != p[1]) }'
}
ffn_rows; check describe_ffn_per_layer "$?" "exit $rc, rows '$rows'"
out=$("$HYLAB" describe sweeps/specs/mqar-tiny.json --json --set model.ffn.type=swiglu --set "$set_pat")
printf '%s' "$out" | grep -q '"index":0,[^}]*"ffn":"swiglu"' && printf '%s' "$out" | grep -q '"index":1,[^}]*"ffn":"none"'
check describe_json_ffn_per_layer "$?" "$(printf '%s' "$out" | head -c 300)"

echo "$P passed, $F failed, 0 skipped"
[ "$F" = 0 ]
