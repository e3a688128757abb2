#!/bin/sh
# test_plugin.sh: a new mixer is one file plus one registry line
# (models/layer.h). On a copy of the tree (tracked and untracked, not ignored,
# files; the real tree is never touched) it adds models/xssm.c, a renamed copy
# of models/mamba.c with the letter 'X' (its helpers made static, the type
# renamed hl_layer_xssm), and one HL_LAYER_TYPES line in models/registry.c,
# checks with `git status` that exactly those 2 paths changed (one line in
# the registry), then builds the copy and requires:
#   - describe: the X layer is an SSM in the layer map (no attention, no K/V)
#     and kv_share naming it is refused (exit 2) as for any layer without K/V;
#   - a short `hylab run --save`, then `hylab forward` on that checkpoint;
#   - test_models (which walks the registry): finite-difference gradient and
#     cpu/cpu_ref parity checks of registry_xssm, and nothing failing.
# With BUILD=build-san the copy is built with SAN=1. Objects of $BUILD are
# copied along (mtimes kept), so only the registry and the new file compile.
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
src=$(pwd)
tree=$dir/tree
mkdir -p "$tree"

# ---------------------------------------------------------------- the copy
if ! git -C "$src" ls-files --cached --others --exclude-standard -z >"$dir/files" 2>"$dir/git.err"; then
  fail plugin_copy "the tree is not a git checkout: $(head -c 200 "$dir/git.err")"
  finish
fi
# tracked files deleted in the working tree are left out
(cd "$src" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh <"$dir/files" |
  xargs -0 cp -p --parents -t "$tree")
git_t() { git -C "$tree" -c user.name=plugin -c user.email=plugin@test -c commit.gpgsign=false "$@"; }
if git_t init -q && git_t add -A && git_t commit -qm base; then ok plugin_copy
else fail plugin_copy "git init/commit in the copy failed"; finish; fi

# ---------------------------------------------------------------- the new mixer
sed -e 's/hl_layer_mamba/hl_layer_xssm/g' \
    -e 's/^\(hl_mamba_dims\|void\|size_t\|double\|int64_t\|int\) hl_mamba_/static \1 hl_xssm_/' \
    -e 's/\([^_a-z]\)hl_mamba_\(dims_of\|declare\|init\|carve\|scratch_floats\|forward\|backward\|flops\|state_bytes\|check\|state_floats\|prefill\|step\)\b/\1hl_xssm_\2/g' \
    -e "s/'S'/'X'/g" -e 's/\.name = "mamba"/.name = "xssm"/' \
    "$tree/models/mamba.c" >"$tree/models/xssm.c"
awk '{ print } /X\(hl_layer_hybrid\)/ { print "    X(hl_layer_xssm)        /* '"'"'X'"'"' xssm.c */ \\" }' \
    "$tree/models/registry.c" >"$dir/registry.c" && cp "$dir/registry.c" "$tree/models/registry.c"
status=$(git_t status --porcelain | sort | tr '\n' ';')
MSG="git status: $status"
check plugin_two_paths_changed [ "$status" = " M models/registry.c;?? models/xssm.c;" ]
added=$(git_t diff --numstat -- models/registry.c)
MSG="registry diff: $added"
check plugin_one_registry_line [ "$(printf '%s' "$added" | cut -f1,2)" = "$(printf '1\t0')" ]
MSG="the copy still defines hl_mamba_ functions or lacks the X type"
check plugin_file_renamed sh -c "! grep -q '^[a-z].* hl_mamba_[a-z_]*(' '$tree/models/xssm.c' &&
                                 grep -q \"letter = 'X'\" '$tree/models/xssm.c'"

# ---------------------------------------------------------------- build
san=0; case "$BUILD" in *build-san) san=1 ;; esac
[ -d "$BUILD" ] && cp -rp "$BUILD" "$tree/"
# `all` is ./hylab, or build-san/hylab with SAN=1; the outer make's jobserver is not inherited
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$tree" -s SAN=$san all "$BUILD/tests/test_models" \
     >"$dir/make.out" 2>&1; then ok plugin_build
else fail plugin_build "$(tail -c 600 "$dir/make.out")"; finish; fi
HX=$tree/hylab; [ "$san" = 1 ] && HX=$tree/build-san/hylab

# ---------------------------------------------------------------- describe
cat >"$dir/x.json" <<'EOF'
{
  "name": "plugin-x",
  "model": {
    "vocab_size": 32, "d_model": 16, "layers": "AX",
    "attn": {"n_heads": 2, "head_dim": 8, "window": 4},
    "ssm": {"d_state": 4, "d_conv": 3, "expand": 2},
    "ffn": {"type": "swiglu", "d_ff": 24}
  },
  "train": {
    "task": {"name": "mqar", "seq_len": 12, "num_kv_pairs": 2, "num_examples": 64},
    "steps": 3, "batch_size": 4, "lr": 3e-3, "seed": 0
  },
  "eval": [{"task": "mqar", "seq_len": 12, "num_kv_pairs": 2, "num_examples": 8}]
}
EOF
"$HX" describe "$dir/x.json" >"$dir/describe.txt" 2>&1; rc=$?
# layer map rows "INDEX KIND ATTENTION KV FFN PARAMS": X has neither attention nor K/V
ssm_row() {
  [ "$rc" = 0 ] &&
  awk '$1 == "1" && $2 == "X" && $3 == "-" && $4 == "-" { x = 1 } $1 == "0" && $2 == "A" && $3 == "SWA(4)" { a = 1 }
       END { exit !(x && a) }' "$dir/describe.txt"
}
MSG="exit $rc: $(head -c 600 "$dir/describe.txt")"
check plugin_describe_ssm_row ssm_row
"$HX" describe --json "$dir/x.json" >"$dir/describe.json" 2>&1
MSG="$(head -c 600 "$dir/describe.json")"
check plugin_describe_json grep -q '"index":1,"kind":"X","window":0,"kv":"none"' "$dir/describe.json"
"$HX" describe "$dir/x.json" --set 'model.attn.kv_share=[[0,1]]' >"$dir/share.txt" 2>&1; rc=$?
share_refused() { [ "$rc" = 2 ] && grep -q 'kv_share\[0\]\[1\]: layer 1 is an X layer' "$dir/share.txt"; }
MSG="exit $rc: $(head -c 400 "$dir/share.txt")"
check plugin_kv_share_refused share_refused

# ---------------------------------------------------------------- run, forward
"$HX" run "$dir/x.json" --threads 1 --save "$dir/x.safetensors" >"$dir/run.out" 2>&1; rc=$?
run_done() { [ "$rc" = 0 ] && [ -s "$dir/x.safetensors" ] && grep -q '"summary":true.*"status":"done"' "$dir/run.out"; }
MSG="exit $rc: $(tail -c 600 "$dir/run.out")"
check plugin_run run_done
echo "1 5 9 2 30 7" >"$dir/tok.txt"
"$HX" forward --ckpt "$dir/x.safetensors" --tokens "$dir/tok.txt" --out "$dir/logits.npy" --threads 1 \
  >"$dir/fwd.out" 2>&1; rc=$?
# float32 .npy of shape (6, 32): a 128-byte header, then 6 * 32 * 4 bytes
forward_ok() {
  [ "$rc" = 0 ] && [ -f "$dir/logits.npy" ] && head -c 128 "$dir/logits.npy" | grep -q "'shape': (6, 32)" &&
  [ "$(wc -c <"$dir/logits.npy")" = $((128 + 6 * 32 * 4)) ]
}
MSG="exit $rc, $( (wc -c <"$dir/logits.npy") 2>/dev/null) bytes: $(head -c 400 "$dir/fwd.out")"
check plugin_forward forward_ok

# ---------------------------------------------------------------- gradient checks
"$tree/$BUILD/tests/test_models" >"$dir/models.out" 2>&1; rc=$?
grads_ok() {
  [ "$rc" = 0 ] && grep -q '^ok grad_fd_registry_xssm$' "$dir/models.out" &&
  grep -q '^ok parity_cpu_vs_cpu_ref_registry_xssm$' "$dir/models.out"
}
MSG="exit $rc: $(grep -v '^ok' "$dir/models.out" | tail -c 600)"
check plugin_grad_fd grads_ok
finish
