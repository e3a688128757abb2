#!/usr/bin/env python3
"""Checks that `hylab export` of an all-M (Mamba-2) model writes a Hugging
Face directory that transformers' Mamba2ForCausalLM loads and runs to the same
logits as `hylab forward` (max rel <= 1e-4), with the protocol of
tests/golden/check_export_transformers.py (whose check() it runs): a few
training steps with `hylab run --save`, export, AutoModelForCausalLM.

    /tmp/venv-torch-f/bin/python tests/ref/check_export_mamba2.py [--hylab ./hylab]
    (torch, transformers >= 4.44, numpy; not part of `make test`)

The spec: 2 groups (per-group gated norm), headdim 8, d_state 8, chunk 5
(does not divide the 16 tokens), untied. Exit status 0 pass, 1 mismatch,
2 when torch/transformers are missing.
"""
import argparse
import importlib.util
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "check_export_transformers", os.path.join(HERE, "..", "golden", "check_export_transformers.py"))
cet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cet)   # exits 2 itself when torch/transformers are missing

MAMBA2 = {"layers": "M", "ssm": {"d_state": 8, "d_conv": 4, "expand": 2, "headdim": 8, "ngroups": 2,
                                  "chunk_size": 5},
          "ffn": {"type": "none"}, "tie_embeddings": False}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hylab", default="./hylab")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ok = cet.check(os.path.abspath(args.hylab), tmp, "mamba2", MAMBA2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
