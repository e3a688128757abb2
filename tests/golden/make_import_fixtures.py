#!/usr/bin/env python3
"""Golden fixtures for `hylab import-config` from Hugging Face `transformers`
(run by developers only; needs torch 2.x, transformers >= 4.44 and a built
./hylab):

    /path/to/venv/bin/python tests/golden/make_import_fixtures.py

Builds tiny random float32 models with fixed seeds, one per family that
only import-config reads (no `hylab import` layout exists for them):

  jamba    JambaForCausalLM, 4 layers: Mamba at even, attention at odd layers
           (attn_layer_period 2, offset 1); MoE of 4 experts, top 2, at odd
           layers (expert_layer_period 2, offset 1), SwiGLU elsewhere; the
           Mamba inner RMSNorms on dt, B and C; attention without positional
           encoding; GQA; untied
  mixtral  MixtralForCausalLM, 2 layers, 4 experts top 2 (renormalised), GQA
  mamba2   Mamba2ForCausalLM, 2 layers, 4 heads of 8, 2 groups, d_state 8,
           chunk 5 (does not divide T = 12), untied

and writes under tests/golden/<name>/:

  config.json            the model's config as save_pretrained writes it
  hylab.safetensors      the same weights as a hylab checkpoint: F32 under
                         hylab's names, the spec of `hylab import-config
                         config.json --name <name>-tiny` in
                         __metadata__["spec"]. Names: HF's except Jamba's
                         pre_ff_layernorm -> post_attention_layernorm,
                         feed_forward -> mlp, final_layernorm -> norm;
                         Mixtral's mlp.gate -> mlp.router; the experts' fused
                         gate_up_proj (E, 2F, d) split into
                         mlp.experts.gate_proj / up_proj (E, F, d); Mamba-2's
                         backbone.embeddings -> model.embed_tokens,
                         backbone.layers.{i}.norm -> input_layernorm,
                         .mixer. -> .mamba2., backbone.norm_f -> model.norm.
  expected.safetensors   input_ids I64 (B, T); logits F32 (B, T, V); loss
                         F32 (1,) (HF's shifted causal-LM loss, no router aux
                         loss: router_aux_loss_coef 0); grad.NAME F32 for
                         every parameter under its hylab name.

Weights are re-drawn after HF's init so every tensor matters, by
tests/golden/make_fixtures.py's redraw(): linear ~ N(0, 1/fan_in),
embeddings ~ N(0, 0.3^2), norm weights and D ~ 1 + N(0, 0.2^2), biases
(Mamba-2's dt_bias too) ~ N(0, 0.2^2); A_log and dt_proj.bias keep HF's init. tests/test_golden_import.c checks hylab against them.
"""
import json
import os
import shutil
import subprocess
import sys

import torch
from safetensors.torch import save_file
from transformers import (JambaConfig, JambaForCausalLM, Mamba2Config, Mamba2ForCausalLM, MixtralConfig,
                          MixtralForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import redraw   # noqa: E402  (the same non-trivial weights as the other golden fixtures)
ROOT = os.path.dirname(os.path.dirname(HERE))
B, T, V = 2, 12, 96


def hylab_name(name):
    """HF name -> hylab name (see the module docstring); experts handled by the caller."""
    for old, new in ((".pre_ff_layernorm.", ".post_attention_layernorm."), (".feed_forward.", ".mlp."),
                     ("model.final_layernorm.", "model.norm."), (".mlp.gate.weight", ".mlp.router.weight"),
                     ("backbone.embeddings.", "model.embed_tokens."), ("backbone.norm_f.", "model.norm."),
                     ("backbone.layers.", "model.layers."), (".mixer.", ".mamba2.")):
        name = name.replace(old, new)
    if name.startswith("model.layers.") and name.endswith(".norm.weight") and ".mamba2." not in name:
        name = name[: -len("norm.weight")] + "input_layernorm.weight"
    return name


def hylab_tensors(named, F):
    """HF name -> tensor  to  hylab name -> tensor."""
    out = {}
    for name, t in named.items():
        t = t.detach().float().contiguous()
        n = hylab_name(name)
        if n.endswith("mlp.experts.gate_up_proj"):
            base = n[: -len("gate_up_proj")]
            out[base + "gate_proj"] = t[:, :F, :].contiguous()
            out[base + "up_proj"] = t[:, F:, :].contiguous()
        else:
            out[n] = t
    return out


def models():
    """(name, model, expert width) of each fixture."""
    jamba = JambaConfig(vocab_size=V, hidden_size=16, intermediate_size=24, num_hidden_layers=4,
                        num_attention_heads=4, num_key_value_heads=2, attn_layer_period=2, attn_layer_offset=1,
                        expert_layer_period=2, expert_layer_offset=1, num_experts=4, num_experts_per_tok=2,
                        mamba_d_state=4, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=2,
                        router_aux_loss_coef=0.0, tie_word_embeddings=False, rms_norm_eps=1e-6)
    mixtral = MixtralConfig(vocab_size=V, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
                            router_aux_loss_coef=0.0, tie_word_embeddings=False)
    mamba2 = Mamba2Config(vocab_size=V, hidden_size=16, num_hidden_layers=2, state_size=8, expand=2, head_dim=8,
                          num_heads=4, n_groups=2, chunk_size=5, tie_word_embeddings=False)
    yield "jamba", JambaForCausalLM(jamba), 24
    yield "mixtral", MixtralForCausalLM(mixtral), 24
    yield "mamba2", Mamba2ForCausalLM(mamba2), 0


def write(name, model, F, seed):
    out_dir = os.path.join(HERE, name)
    model = model.float().eval()
    gen = torch.Generator().manual_seed(seed)
    redraw(model, gen)
    ids = torch.randint(0, V, (B, T), generator=gen)
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    model.config.save_pretrained(out_dir)   # config.json only
    spec = subprocess.run([os.path.join(ROOT, "hylab"), "import-config", os.path.join(out_dir, "config.json"),
                           "--name", name + "-tiny"], check=True, capture_output=True, text=True).stdout
    params = dict(model.named_parameters())
    weights = hylab_tensors(params, F)
    save_file(weights, os.path.join(out_dir, "hylab.safetensors"),
              metadata={"format": "pt", "producer": "tests/golden/make_import_fixtures.py", "spec": spec})
    expected = {"input_ids": ids.to(torch.int64), "logits": out.logits.detach().float().contiguous(),
                "loss": out.loss.detach().float().reshape(1)}
    for n, g in hylab_tensors({n: p.grad for n, p in params.items()}, F).items():
        expected["grad." + n] = g
    save_file(expected, os.path.join(out_dir, "expected.safetensors"))
    print("wrote", out_dir, "loss", float(out.loss), "tensors", len(weights), file=sys.stderr)


def main():
    torch.manual_seed(0)
    for i, (name, model, F) in enumerate(models()):
        write(name, model, F, 1234 + i)


if __name__ == "__main__":
    main()
