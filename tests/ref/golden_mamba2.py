#!/usr/bin/env python3
"""Golden fixture of Hugging Face `transformers`' Mamba2ForCausalLM for
tests/test_golden.c (run by developers only; the test reads the files).

    /tmp/venv-torch-f/bin/python tests/ref/golden_mamba2.py [OUTDIR]
    (any Python with torch 2.x and transformers >= 4.44 from PyPI)

Same protocol as tests/golden/make_fixtures.py, whose redraw() and expected()
it runs (read its docstring): a tiny random float32 Mamba2ForCausalLM with a
fixed seed, weights re-drawn after HF's init so that every tensor matters
(every norm weight, the gated norm's included, and D ~ 1 + N(0, 0.2^2); the
conv bias and dt_bias ~ N(0, 0.2^2); A_log keeps HF's init), written to
OUTDIR (default tests/fixtures/mamba2) as save_pretrained writes it
(config.json with time_step_limit as [0.0, {"__float__": "Infinity"}],
model.safetensors) plus expected.safetensors: input_ids (B, T), logits
(B, T, V), loss (1,) and grad.NAME of every parameter, for a fixed batch
(B=2, T=12).

The model: vocab 96, hidden 32, 2 layers, expand 2 (d_inner 64), head_dim 8
(8 heads), n_groups 2 (so the gated RMSNorm runs per group), state 8,
conv 4, chunk_size 5 (does not divide T = 12: HF pads the last chunk),
untied embeddings. HF runs its torch path (no CUDA kernels on CPU): the
chunked SSD in float32. The model runs in eval mode (it has no dropout; this
only keeps HF off its fused training kernel).
"""
import importlib.util
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import Mamba2Config, Mamba2ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(HERE, "..", "golden", "make_fixtures.py"))
mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mf)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "fixtures", "mamba2")
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(4321)
    ids = torch.randint(0, mf.V, (mf.B, mf.T), generator=gen)
    cfg = Mamba2Config(vocab_size=mf.V, hidden_size=32, num_hidden_layers=2, expand=2, head_dim=8, num_heads=8,
                       n_groups=2, state_size=8, conv_kernel=4, chunk_size=5, layer_norm_epsilon=1e-5,
                       use_bias=False, use_conv_bias=True, tie_word_embeddings=False, time_step_rank=2)
    model = Mamba2ForCausalLM(cfg).float()
    mf.redraw(model, gen)
    model.eval()
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True)
    gen_cfg = os.path.join(out, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)
    tensors, loss = mf.expected(model, ids)
    save_file(tensors, os.path.join(out, "expected.safetensors"))
    print(f"mamba2: loss {loss:.6f}, {sum(p.numel() for p in model.parameters())} parameters -> {out}")


if __name__ == "__main__":
    main()
