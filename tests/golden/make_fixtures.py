#!/usr/bin/env python3
"""Golden fixtures from Hugging Face `transformers` (run by developers only).

    /work/venv-torch/bin/python tests/golden/make_fixtures.py
    (any Python with torch 2.x and transformers >= 4.40 from PyPI)

Builds tiny random float32 models with a fixed seed and writes, under
tests/golden/<name>/, the Hugging Face directory (config.json +
model.safetensors, as save_pretrained writes it) and expected.safetensors:

  input_ids   I64 (B, T)      the fixed batch (B=2, T=12)
  logits      F32 (B, T, V)   the model's logits at every position
  loss        F32 (1,)        HF's causal-LM loss with labels = input_ids: HF
                              shifts inside the model, so it is the mean
                              cross-entropy of logits[:, t] against
                              input_ids[:, t+1] over t < T-1 (B*(T-1) terms).
                              hylab's loss takes one target per output
                              position: tests/test_golden.c passes targets
                              input_ids[b, t+1] for t < T-1 and -1 (ignored)
                              at t = T-1, which is the same mean.
  grad.NAME   F32             d loss / d parameter for EVERY parameter, by its
                              HF name (tied weights appear once, under the
                              embedding's name).

Fixtures:
  llama        LlamaForCausalLM, GQA (4 heads, 2 KV heads), untied, 2 layers
  mamba        MambaForCausalLM, 2 layers, tied embeddings (HF's default)
  llama_mixed  the llama weights saved sharded (model.safetensors.index.json,
               several shards) with layer 0 in F16, layer 1 in BF16 and the
               rest F32: checks the importer's shards and dtype conversion.

The weights are re-drawn after HF's init so that every tensor matters: linear
weights ~ N(0, 1/fan_in), embeddings ~ N(0, 0.3^2), norm weights ~ 1 + N(0, 0.2^2)
(a norm bug shows), Mamba's D ~ 1 + N(0, 0.2^2); Mamba's A_log and dt_proj
bias keep HF's (state-spaces/mamba) init. Total size is well under 1 MB.
"""
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, MambaConfig, MambaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
B, T, V = 2, 12, 96


def redraw(model, gen):
    """Non-trivial weights (see the module docstring)."""
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
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def expected(model, ids):
    """Logits, HF loss and every gradient for the batch."""
    model.zero_grad()
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    tensors = {"input_ids": ids.clone(), "logits": out.logits.detach().float().contiguous(),
               "loss": out.loss.detach().float().reshape(1)}
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad.detach().float().contiguous()
    return tensors, float(out.loss.detach())


def save(model, name, ids):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d, safe_serialization=True)
    tensors, loss = expected(model, ids)
    save_file(tensors, os.path.join(d, "expected.safetensors"))
    print(f"{name}: loss {loss:.6f}, {sum(p.numel() for p in model.parameters())} parameters")


def save_mixed(model, name):
    """The same weights, sharded, layer 0 F16, layer 1 BF16, the rest F32."""
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    m = LlamaForCausalLM(model.config)
    m.load_state_dict(model.state_dict())
    m.model.layers[0].to(torch.float16)
    m.model.layers[1].to(torch.bfloat16)
    m.save_pretrained(d, safe_serialization=True, max_shard_size="40KB")
    if not os.path.exists(os.path.join(d, "model.safetensors.index.json")):
        sys.exit("make_fixtures: save_pretrained did not shard llama_mixed")
    print(f"{name}: {len([f for f in os.listdir(d) if f.endswith('.safetensors')])} shards")


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    ids = torch.randint(0, V, (B, T), generator=gen)

    llama_cfg = LlamaConfig(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                            rms_norm_eps=1e-5, max_position_embeddings=64, tie_word_embeddings=False,
                            attn_implementation="eager")
    llama = LlamaForCausalLM(llama_cfg).float()
    redraw(llama, gen)
    save(llama, "llama", ids)
    save_mixed(llama, "llama_mixed")

    mamba_cfg = MambaConfig(vocab_size=V, hidden_size=32, state_size=8, num_hidden_layers=2, expand=2,
                            conv_kernel=4, layer_norm_epsilon=1e-5, use_bias=False, use_conv_bias=True)
    mamba = MambaForCausalLM(mamba_cfg).float()
    redraw(mamba, gen)
    save(mamba, "mamba", ids)


if __name__ == "__main__":
    main()
