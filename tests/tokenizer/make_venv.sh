#!/bin/sh
# Creates build/venv-bench, the Python that tests/bench_tokenizer.c runs
# tests/tokenizer/hf_bench.py with (Hugging Face `tokenizers` from PyPI).
# Usage: sh tests/tokenizer/make_venv.sh [BUILD_DIR]   (default build)
set -eu
B=${1:-build}
PY=${PYTHON:-python3}
"$PY" -m venv "$B/venv-bench"
"$B/venv-bench/bin/pip" install --quiet --upgrade pip
"$B/venv-bench/bin/pip" install --quiet tokenizers
"$B/venv-bench/bin/python" -c 'import tokenizers; print("build/venv-bench: tokenizers", tokenizers.__version__)'
