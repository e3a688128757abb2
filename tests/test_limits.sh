#!/bin/sh
# test_limits.sh: input limits through the CLI. Each case is bad input: exit
# status 2, a message naming the file or option and the limit, nothing
# written (no database, no output file):
#   - input files are read with a bound: /dev/zero as a spec, a sweep, a
#     report file or a token list; a NUL byte in a token list;
#   - --threads above HL_MAX_THREADS (run, forward);
#   - a sweep of more than 10000 runs; a run that cannot fit in memory;
#   - checkpoints: a header over 4 MiB, a NaN weight.
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
HYLAB=${HYLAB:-./hylab}
BUILD=${BUILD:-build}
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT

# expect_bad NAME WANT CMD...: CMD exits 2 within 60 s, stderr contains WANT
expect_bad() {
  name=$1; want=$2; shift 2
  timeout 60 "$@" >"$T/out" 2>"$T/err"; rc=$?
  MSG="exit $rc (want 2), stderr: $(head -c 300 "$T/err")"
  check "$name" eval '[ "$rc" = 2 ] && grep -qF -- "$want" "$T/err"'
}

cat > "$T/tiny.json" <<'EOF'
{"name": "limits-tiny",
 "model": {"vocab_size": 64, "d_model": 16, "n_layers": 1, "layers": "A",
           "attn": {"n_heads": 2, "head_dim": 8}, "ffn": {"type": "none"}},
 "train": {"task": {"name": "mqar", "seq_len": 16, "num_kv_pairs": 2, "num_examples": 64},
           "steps": 2, "batch_size": 2},
 "eval": [{"num_examples": 2}]}
EOF

# ---- bounded reads
expect_bad describe_dev_zero "/dev/zero: larger than the limit of 16777216 bytes" "$HYLAB" describe /dev/zero
expect_bad run_dev_zero "/dev/zero: larger than the limit of 16777216 bytes" "$HYLAB" run /dev/zero --db "$T/z.db"
check run_dev_zero_writes_no_db [ ! -e "$T/z.db" ]
expect_bad report_dev_zero "/dev/zero: larger than the limit of 16777216 bytes" \
  "$HYLAB" report --db "$T/none.db" /dev/zero --out "$T/rep"
printf '{"title": "t"}\000' > "$T/nul.json"
expect_bad report_nul_byte "$T/nul.json: NUL byte at offset 14" "$HYLAB" report --db "$T/none.db" "$T/nul.json" --out "$T/rep"

# ---- thread counts
expect_bad run_threads_limit "--threads wants an integer in [1, 1024] (got '1048576')" \
  "$HYLAB" run "$T/tiny.json" --threads 1048576
expect_bad run_jobs_limit "--jobs wants an integer in [1, 1024] (got '1048576')" \
  "$HYLAB" run "$T/tiny.json" --jobs 1048576 --db "$T/jobs.db"
expect_bad forward_threads_limit "--threads: expected an integer in [0, 1024]" \
  "$HYLAB" forward --ckpt x --tokens y --out z --threads 1048576

# ---- sweeps: run count and training memory, refused before the database
{
  printf '{"base": "tiny.json", "grid": {"train.seed": [0'
  i=1; while [ $i -lt 200 ]; do printf ',%d' $i; i=$((i+1)); done
  printf '], "train.steps": [0'
  i=1; while [ $i -lt 100 ]; do printf ',%d' $i; i=$((i+1)); done
  printf ']}}\n'
} > "$T/many.json"
expect_bad run_sweep_run_limit "grid: expands to 20000 runs (1 variants x 20000 grid points); a sweep has at most 10000" \
  "$HYLAB" run "$T/many.json" --db "$T/many.db"
check run_sweep_run_limit_writes_no_db [ ! -e "$T/many.db" ]
expect_bad run_memory_limit "model: training needs " "$HYLAB" run "$T/tiny.json" --db "$T/mem.db" \
  --set model.vocab_size=1048576 --set model.d_model=65536 --set model.n_layers=256 --set model.attn.n_heads=64 \
  --set model.attn.head_dim=null
check run_memory_limit_writes_no_db [ ! -e "$T/mem.db" ]

# ---- forward: token files and checkpoints
"$HYLAB" run "$T/tiny.json" --save "$T/m.safetensors" >/dev/null 2>"$T/err"
MSG="hylab run --save failed: $(head -c 300 "$T/err")"
if check forward_make_checkpoint [ -s "$T/m.safetensors" ]; then :; fi
echo "1 2 3 4" > "$T/tok.txt"
"$HYLAB" forward --ckpt "$T/m.safetensors" --tokens "$T/tok.txt" --out "$T/ok.npy" 2>"$T/err"
MSG="$(head -c 300 "$T/err")"; check forward_valid_checkpoint [ -s "$T/ok.npy" ]
expect_bad forward_tokens_dev_zero "/dev/zero: larger than the limit of 16777216 bytes" \
  "$HYLAB" forward --ckpt "$T/m.safetensors" --tokens /dev/zero --out "$T/bad.npy"
printf '1 2\0003 4\n' > "$T/nul.txt"
expect_bad forward_tokens_nul_byte "$T/nul.txt: NUL byte at offset 3" \
  "$HYLAB" forward --ckpt "$T/m.safetensors" --tokens "$T/nul.txt" --out "$T/bad.npy"

# header length N (8 bytes, little-endian) of a safetensors file
header_len() { od -An -t u8 -N 8 "$1" | tr -d ' '; }
# le64 N: N as 8 little-endian bytes
le64() { v=$1; i=0; while [ $i -lt 8 ]; do printf "\\$(printf '%03o' $((v % 256)))"; v=$((v / 256)); i=$((i+1)); done; }
n=$(header_len "$T/m.safetensors")
{
  le64 $((n + 4194304))
  head -c $((8 + n)) "$T/m.safetensors" | tail -c "$n"
  head -c 4194304 /dev/zero | tr '\0' ' '
  tail -c +$((8 + n + 1)) "$T/m.safetensors"
} > "$T/padded.safetensors"
expect_bad forward_checkpoint_header_limit "is over the limit of 4194304 bytes" \
  "$HYLAB" forward --ckpt "$T/padded.safetensors" --tokens "$T/tok.txt" --out "$T/bad.npy"
cp "$T/m.safetensors" "$T/nan.safetensors"
printf '\377\377\377\177' | dd of="$T/nan.safetensors" bs=1 seek=$((8 + n + 8)) conv=notrunc 2>/dev/null
expect_bad forward_checkpoint_nan_weight "tensor 'model.embed_tokens.weight': element 2 is NaN" \
  "$HYLAB" forward --ckpt "$T/nan.safetensors" --tokens "$T/tok.txt" --out "$T/bad.npy"
check forward_errors_write_no_output [ ! -e "$T/bad.npy" ] && [ ! -e "$T/bad.npy.tmp" ]
finish
