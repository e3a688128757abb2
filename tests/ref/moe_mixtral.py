#!/usr/bin/env python3
"""Mixtral fixture for the MoE importer (run by developers only).

    /tmp/venv-torch-f/bin/python tests/ref/moe_mixtral.py
    (any Python with torch 2.x and transformers from PyPI; made with 5.x)

Builds a tiny random float32 MixtralForCausalLM with a fixed seed and writes,
under tests/fixtures/moe/mixtral/:

  config.json         the model's config (model_type "mixtral"), as
                      save_pretrained writes it
  model.safetensors   the weights under the PUBLISHED Mixtral names
                      (mistralai/Mixtral-8x7B-v0.1): per layer
                      block_sparse_moe.gate.weight (E, d) and
                      block_sparse_moe.experts.{e}.w1/w3/w2.weight
                      ((F, d), (F, d), (d, F)); transformers 5 keeps the
                      experts fused in memory (mlp.experts.gate_up_proj
                      (E, 2F, d), gate rows first; mlp.experts.down_proj
                      (E, d, F)) and converts on load, which this script
                      checks by loading the written directory back
  tokens.txt          one sequence of T token ids (hylab forward --tokens)
  expected.npy        F32 (T, V): the model's logits on it (transformers,
                      eval mode: no router jitter)
  router.npy          I64 (L, T, k): the experts each layer chose per token
                      (documentation for a failing test; the logits differ
                      when a choice differs)
  grads.safetensors   F32 "loss" (1,): HF's causal-LM loss with labels = the
                      tokens (mean cross-entropy of logits[t] against
                      token[t+1], t < T-1; no aux loss: output_router_logits
                      is false) and "grad.<hylab name>": its gradient for
                      every parameter under hylab's names and layout (experts
                      stacked: mlp.experts.gate_proj/up_proj (E, F, d),
                      down_proj (E, d, F); the router mlp.router.weight), so
                      tests/test_moe.c compares without any renaming

With --check-export DIR (a directory written by `hylab export` from the
imported fixture) it writes nothing and instead checks that transformers
loads DIR and gives the fixture's logits (the export side of the parity):

    ./hylab import tests/fixtures/moe/mixtral --out /tmp/m.st
    ./hylab export /tmp/m.st --out /tmp/m-hf
    /tmp/venv-torch-f/bin/python tests/ref/moe_mixtral.py --check-export /tmp/m-hf

Weights: linear ~ N(0, 1/fan_in), embeddings ~ N(0, 0.3^2), norms ~ 1 +
N(0, 0.2^2), the router ~ N(0, 4/fan_in) so that its top-k choices are far
from ties. Well under 1 MB.
"""
import os
import shutil
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import MixtralConfig, MixtralForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "moe", "mixtral")
T, V = 16, 96


def published_state(model):
    """The model's tensors under the published Mixtral names."""
    sd, out = model.state_dict(), {}
    F = model.config.intermediate_size
    for k, v in sd.items():
        if ".mlp.experts.gate_up_proj" in k:
            pre = k.split(".mlp.")[0]
            for e in range(v.shape[0]):
                out[f"{pre}.block_sparse_moe.experts.{e}.w1.weight"] = v[e, :F].clone()
                out[f"{pre}.block_sparse_moe.experts.{e}.w3.weight"] = v[e, F:].clone()
        elif ".mlp.experts.down_proj" in k:
            pre = k.split(".mlp.")[0]
            for e in range(v.shape[0]):
                out[f"{pre}.block_sparse_moe.experts.{e}.w2.weight"] = v[e].clone()
        elif ".mlp.gate.weight" in k:
            out[k.replace(".mlp.gate.", ".block_sparse_moe.gate.")] = v.clone()
        else:
            out[k] = v.clone().contiguous()
    return out


def check_export(path):
    model = MixtralForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ids = torch.tensor([[int(t) for t in open(os.path.join(OUT, "tokens.txt")).read().split()]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float().numpy()
    err = float(np.abs(logits - np.load(os.path.join(OUT, "expected.npy"))).max())
    print(f"{path}: transformers' logits vs the fixture's: max |diff| {err:.3g}")
    if err > 1e-4:
        sys.exit("the exported directory does not reproduce the fixture's logits")


def hylab_grads(model):
    """d loss / d parameter under hylab's names and stacked layout."""
    out, F = {}, model.config.intermediate_size
    for k, p in model.named_parameters():
        g = p.grad.detach().float().clone()
        if ".mlp.experts.gate_up_proj" in k:
            pre = k.split(".mlp.")[0]
            out[f"grad.{pre}.mlp.experts.gate_proj"] = g[:, :F].contiguous()
            out[f"grad.{pre}.mlp.experts.up_proj"] = g[:, F:].contiguous()
        elif ".mlp.experts.down_proj" in k:
            out[f"grad.{k.split('.mlp.')[0]}.mlp.experts.down_proj"] = g.contiguous()
        elif ".mlp.gate.weight" in k:
            out["grad." + k.replace(".mlp.gate.", ".mlp.router.")] = g.contiguous()
        else:
            out["grad." + k] = g.contiguous()
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        return check_export(sys.argv[2])
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    cfg = MixtralConfig(vocab_size=V, hidden_size=32, intermediate_size=24, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_local_experts=4,
                        num_experts_per_tok=2, max_position_embeddings=64, rms_norm_eps=1e-5,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                        tie_word_embeddings=False, sliding_window=None, router_aux_loss_coef=0.02,
                        output_router_logits=False, router_jitter_noise=0.0, torch_dtype="float32")
    model = MixtralForCausalLM(cfg).float().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif "embed" in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("mlp.gate.weight"):
                p.copy_(torch.randn(p.shape, generator=gen) * 2 / p.shape[-1] ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)
    ids = torch.randint(0, V, (1, T), generator=gen)
    routes, gaps = [], []

    def on_gate(module, inputs, output):
        probs = torch.softmax(output[0].float(), dim=-1).sort(dim=-1, descending=True).values
        k = cfg.num_experts_per_tok
        gaps.append(float((probs[:, k - 1] - probs[:, k]).min()))
        routes.append(output[2].clone())

    hooks = [layer.mlp.gate.register_forward_hook(on_gate) for layer in model.model.layers]
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float().numpy()
    for h in hooks:
        h.remove()
    model.zero_grad()
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = hylab_grads(model)
    grads["loss"] = loss.detach().float().reshape(1).clone()
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    model.config.save_pretrained(OUT)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(OUT, extra)):
            os.remove(os.path.join(OUT, extra))
    save_file(published_state(model), os.path.join(OUT, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(OUT, "tokens.txt"), "w") as f:
        f.write(" ".join(str(int(t)) for t in ids[0]) + "\n")
    np.save(os.path.join(OUT, "expected.npy"), logits.astype(np.float32))
    np.save(os.path.join(OUT, "router.npy"), torch.stack(routes).numpy().astype(np.int64))
    save_file(grads, os.path.join(OUT, "grads.safetensors"), metadata={"format": "pt"})
    # the written directory loads back (transformers' own conversion of the published names)
    back = MixtralForCausalLM.from_pretrained(OUT, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        again = back(input_ids=ids).logits[0].float().numpy()
    err = float(np.abs(again - logits).max())
    print(f"wrote {OUT}: logits {logits.shape}, reload max |diff| {err:.3g}")
    if err > 1e-5:
        sys.exit("the published-name checkpoint does not load back to the same model")
    # the smallest gap between the k-th and the (k+1)-th router probability:
    # far above float rounding, so hylab must make the same choices
    print(f"smallest top-k probability gap over layers and tokens: {min(gaps):.3g}")
    if min(gaps) < 1e-4:
        sys.exit("a router choice is too close to a tie for a fixture; change the seed")


if __name__ == "__main__":
    main()
