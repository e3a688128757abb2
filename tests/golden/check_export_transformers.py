#!/usr/bin/env python3
"""Checks that `hylab export` writes Hugging Face directories that
`transformers` loads and runs to the same logits as `hylab forward`.

    /work/venv-torch/bin/python tests/golden/check_export_transformers.py [--hylab ./hylab]
    (any Python with torch, transformers >= 4.40 and numpy; not part of
    `make test`, which has no torch: there tests/test_golden.c checks the
    import direction against committed transformers fixtures)

For each of three small specs (Llama: attention-only, GQA, untied; Mistral:
the same with a sliding window of 5 over 16 tokens; Mamba: all-S, tied), it
trains a few steps with `hylab run --save`, exports with `hylab export`, loads
the directory with AutoModelForCausalLM (float32, eager attention) and
compares the logits of one token sequence with `hylab forward`:
max |l_hf - l_hylab| / max |l_hylab| <= 1e-4. Exit status 0 when all pass,
1 on a mismatch, 2 when torch/transformers are missing (it says so).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM
except ImportError as e:  # not installed here: say so, fail
    print(f"check_export_transformers: needs torch, transformers and numpy ({e})", file=sys.stderr)
    sys.exit(2)

TOL = 1e-4
MODEL = {"vocab_size": 64, "d_model": 32, "n_layers": 2, "norm_eps": 1e-5}
SPECS = {
    "llama": {"layers": "A", "attn": {"n_heads": 4, "n_kv_heads": 2, "rope_theta": 500.0},
              "ffn": {"type": "swiglu", "d_ff": 48}, "tie_embeddings": False},
    "mistral": {"layers": "A", "attn": {"n_heads": 4, "n_kv_heads": 2, "window": 5},
                "ffn": {"type": "swiglu", "d_ff": 48}, "tie_embeddings": False},
    "mamba": {"layers": "S", "ssm": {"d_state": 8, "d_conv": 4, "expand": 2},
              "ffn": {"type": "none"}, "tie_embeddings": True},
}
TRAIN = {"task": {"name": "mqar", "seq_len": 16, "num_kv_pairs": 2}, "steps": 20, "batch_size": 8,
         "lr": 3e-3, "warmup_steps": 2, "eval_every": 0}


def run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"check_export_transformers: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")


def check(hylab, tmp, name, model):
    spec = {"name": f"export-{name}", "model": {**MODEL, **model}, "train": TRAIN,
            "eval": [{"task": "mqar", "seq_len": 16, "num_kv_pairs": 2, "num_examples": 16}]}
    spec_path, ckpt, hf_dir = (os.path.join(tmp, name + s) for s in (".json", ".safetensors", "-hf"))
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    run(hylab, "run", spec_path, "--save", ckpt)
    run(hylab, "export", ckpt, "--out", hf_dir)
    tokens = np.random.default_rng(0).integers(0, MODEL["vocab_size"], 16)
    tok_path, out = os.path.join(tmp, name + ".tokens"), os.path.join(tmp, name + ".npy")
    with open(tok_path, "w") as f:
        f.write(" ".join(map(str, tokens)))
    run(hylab, "forward", "--ckpt", ckpt, "--tokens", tok_path, "--out", out, "--backend", "cpu_ref")
    ours = np.load(out)
    hf = AutoModelForCausalLM.from_pretrained(hf_dir, torch_dtype=torch.float32, attn_implementation="eager")
    with torch.no_grad():
        theirs = hf(torch.tensor(tokens)[None]).logits[0].numpy()
    rel = float(np.abs(theirs - ours).max() / np.abs(ours).max())
    ok = rel <= TOL
    print(f"{'ok' if ok else 'FAIL'} export_{name}: {type(hf).__name__}, logits max rel {rel:.2e} (tolerance {TOL})")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hylab", default="./hylab")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [check(os.path.abspath(args.hylab), tmp, n, m) for n, m in SPECS.items()]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
