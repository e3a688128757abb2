#!/usr/bin/env python3
"""Golden fixture of a tiny Jamba from Hugging Face `transformers` (run by
developers only; needs torch 2.x, transformers >= 4.40 and a built ./hylab):

    /path/to/venv/bin/python tests/golden/make_jamba_fixture.py

Builds a tiny random float32 JambaForCausalLM with a fixed seed (4 layers:
Mamba at even, attention at odd layers (attn_layer_period 2, offset 1); MoE
of 4 experts, top 2, at odd layers (expert_layer_period 2, offset 1); the
Mamba inner RMSNorms on dt, B and C; attention without positional encoding;
GQA; untied) and writes under tests/golden/jamba/:

  config.json            the model's config as save_pretrained writes it
  hylab.safetensors      the same weights as a hylab checkpoint: F32 under
                         hylab's names, the spec of `hylab import-config
                         config.json` in __metadata__["spec"]. Names: Jamba's
                         own except pre_ff_layernorm -> post_attention_layernorm,
                         feed_forward -> mlp, final_layernorm -> norm, and the
                         experts' fused gate_up_proj (E, 2F, d) split into
                         mlp.experts.gate_proj / up_proj (E, F, d).
  expected.safetensors   input_ids I64 (B, T); logits F32 (B, T, V); loss
                         F32 (1,) (HF's shifted causal-LM loss, no router aux
                         loss: router_aux_loss_coef 0); grad.NAME F32 for
                         every parameter under its hylab name.

Weights are re-drawn after HF's init so every tensor matters (as
tests/golden/make_fixtures.py): linear ~ N(0, 1/fan_in), embeddings ~
N(0, 0.3^2), norm weights and D ~ 1 + N(0, 0.2^2); A_log and dt_proj.bias
keep HF's init. tests/test_golden_jamba.c checks hylab against it.
"""
import json
import os
import shutil
import subprocess
import sys

import torch
from safetensors.torch import save_file
from transformers import JambaConfig, JambaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "jamba")
B, T, V = 2, 12, 96


def redraw(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("A_log") or name.endswith("dt_proj.bias"):
                continue
            if "norm" in name or name.endswith(".D"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif "embed" in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def hylab_tensors(named, F):
    """HF name -> tensor  to  hylab name -> tensor (see the module docstring)."""
    out = {}
    for name, t in named.items():
        t = t.detach().float().contiguous()
        n = name.replace(".pre_ff_layernorm.", ".post_attention_layernorm.").replace(".feed_forward.", ".mlp.")
        n = n.replace("model.final_layernorm.", "model.norm.")
        if n.endswith("mlp.experts.gate_up_proj"):
            base = n[: -len("gate_up_proj")]
            out[base + "gate_proj"] = t[:, :F, :].contiguous()
            out[base + "up_proj"] = t[:, F:, :].contiguous()
        else:
            out[n] = t
    return out


def main():
    torch.manual_seed(0)
    cfg = JambaConfig(vocab_size=V, hidden_size=16, intermediate_size=24, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2, attn_layer_period=2, attn_layer_offset=1,
                      expert_layer_period=2, expert_layer_offset=1, num_experts=4, num_experts_per_tok=2,
                      mamba_d_state=4, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=2,
                      router_aux_loss_coef=0.0, tie_word_embeddings=False, rms_norm_eps=1e-6)
    model = JambaForCausalLM(cfg).float().eval()
    gen = torch.Generator().manual_seed(1234)
    redraw(model, gen)
    ids = torch.randint(0, V, (B, T), generator=gen)
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    model.config.save_pretrained(OUT)   # config.json only
    spec = subprocess.run([os.path.join(ROOT, "hylab"), "import-config", os.path.join(OUT, "config.json"),
                           "--name", "jamba-tiny"], check=True, capture_output=True, text=True).stdout
    params = dict(model.named_parameters())
    F = cfg.intermediate_size
    weights = hylab_tensors(params, F)
    save_file(weights, os.path.join(OUT, "hylab.safetensors"),
              metadata={"format": "pt", "producer": "tests/golden/make_jamba_fixture.py", "spec": spec})
    grads = hylab_tensors({n: p.grad for n, p in params.items()}, F)
    expected = {"input_ids": ids.to(torch.int64), "logits": out.logits.detach().float().contiguous(),
                "loss": out.loss.detach().float().reshape(1)}
    for n, g in grads.items():
        expected["grad." + n] = g
    save_file(expected, os.path.join(OUT, "expected.safetensors"))
    print("wrote", OUT, "loss", float(out.loss), "tensors", len(weights), file=sys.stderr)


if __name__ == "__main__":
    main()
