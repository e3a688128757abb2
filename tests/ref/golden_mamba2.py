#!/usr/bin/env python3
"""Golden fixture of Hugging Face `transformers`' Mamba2ForCausalLM for
tests/test_golden.c (run by developers only; the test reads the files).

    /tmp/venv-torch-f/bin/python tests/ref/golden_mamba2.py [OUTDIR]
    (any Python with torch 2.x and transformers >= 4.44 from PyPI)

Same protocol as tests/golden/make_fixtures.py (read its docstring): a tiny
random float32 Mamba2ForCausalLM with a fixed seed, weights re-drawn after
HF's init so that every tensor matters (linear weights ~ N(0, 1/fan_in),
embeddings ~ N(0, 0.3^2), every norm weight, the gated norm's included, and
D ~ 1 + N(0, 0.2^2), conv bias ~ N(0, 0.2^2); A_log and dt_bias keep HF's
init), written to OUTDIR (default tests/fixtures/mamba2) as save_pretrained
writes it (config.json + model.safetensors) plus expected.safetensors:
input_ids (B, T), logits (B, T, V), loss (1,) and grad.NAME of every
parameter, for a fixed batch (B=2, T=12).

The model: vocab 96, hidden 32, 2 layers, expand 2 (d_inner 64), head_dim 8
(8 heads), n_groups 2 (so the gated RMSNorm runs per group), state 8,
conv 4, chunk_size 5 (does not divide T = 12: HF pads the last chunk),
untied embeddings. HF runs its torch path (no CUDA kernels on CPU): the
chunked SSD in float32 (mamba2_chunk_scan). The model runs in eval mode (no
dropout exists; this only keeps HF off its fused training kernel).
"""
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import Mamba2Config, Mamba2ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
B, T, V = 2, 12, 96


def redraw(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("A_log") or name.endswith("dt_bias"):
                continue
            if "norm" in name or name.endswith(".D"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif "embed" in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "fixtures", "mamba2")
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(4321)
    ids = torch.randint(0, V, (B, T), generator=gen)
    cfg = Mamba2Config(vocab_size=V, hidden_size=32, num_hidden_layers=2, expand=2, head_dim=8, num_heads=8,
                       n_groups=2, state_size=8, conv_kernel=4, chunk_size=5, layer_norm_epsilon=1e-5,
                       use_bias=False, use_conv_bias=True, tie_word_embeddings=False, time_step_rank=2)
    model = Mamba2ForCausalLM(cfg).float()
    redraw(model, gen)
    model.eval()
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True)   # time_step_limit as [0.0, {"__float__": "Infinity"}]
    gen_cfg = os.path.join(out, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)
    model.zero_grad()
    res = model(input_ids=ids, labels=ids)
    res.loss.backward()
    tensors = {"input_ids": ids.clone(), "logits": res.logits.detach().float().contiguous(),
               "loss": res.loss.detach().float().reshape(1)}
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad.detach().float().contiguous()
    save_file(tensors, os.path.join(out, "expected.safetensors"))
    print(f"mamba2: loss {float(res.loss):.6f}, {sum(p.numel() for p in model.parameters())} parameters -> {out}")


if __name__ == "__main__":
    main()
