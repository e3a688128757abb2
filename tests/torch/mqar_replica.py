#!/usr/bin/env python3
"""PyTorch replica of hylab's MQAR training (developer-run, not in make test).

Trains the model of a hylab spec (attention-only 'A' layers, global or
sliding-window, FFN none or SwiGLU, tied or untied head, no meta tokens) with hylab's
recipe on hylab's data, and prints one JSON line per seed with the test
accuracy. Everything is matched to hylab, not borrowed from it:

  data      tests/torch/mqar_data.py, a port of tasks/mqar.c checked against
            tests/fixtures/mqar_examples.txt (which test_tasks.c checks
            against hylab): step s trains on examples (s-1)*B .. s*B-1 (mod
            num_examples) of the run's seed; the test set is examples
            0..n-1 drawn with HL_TEST_SEED, whatever the run's seed
  init      models/layer.c's generator ported bit for bit (splitmix64 stream
            per (seed, tensor name), Box-Muller), so a run starts from
            hylab's weights: the step-1 loss matches hylab's to float32 noise
  model     models/model.c + attention.c: pre-norm RMSNorm blocks, HF
            rotate_half RoPE, causal softmax(q k^T / sqrt(hd)), GQA, final
            norm, logits only at the labelled (query) positions, mean CE;
            a window W lets query t see keys t-W+1..t (hl_attn_visible)
  recipe    harness/train.c + optim.c: hl_lr_at's warmup/cosine/linear
            schedule, global-norm clipping (norm in float64), AdamW with
            decay on the matrices only, bias-corrected, eps outside the sqrt
  eval      accuracy = argmax == label over all labelled test positions

usage: mqar_replica.py SPEC [--set key=value]... [--seeds 0,1,2] [--threads 1]
                       [--check-golden FILE] [--attention]
--set takes hylab's dotted keys (JSON values), e.g. --set train.steps=2000.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqar_data  # noqa: E402

# ------------------------------------------------------------------ spec
DEFAULTS = {
    "model": {"vocab_size": 8192, "d_model": 128, "layers": "A", "meta_tokens": 0,
              "attn": {"n_heads": 4, "rope_theta": 10000.0, "window": 0},
              "ffn": {"type": "swiglu"}, "tie_embeddings": True, "norm_eps": 1e-5},
    "train": {"task": {"name": "mqar", "seq_len": 64, "num_kv_pairs": 4, "power_a": 0.01,
                       "num_examples": 100000, "vocab_size": 0},
              "steps": 1000, "batch_size": 32, "lr": 1e-3, "min_lr": 0.0, "warmup_steps": 0,
              "schedule": "cosine", "weight_decay": 0.1, "grad_clip": 1.0, "beta1": 0.9,
              "beta2": 0.999, "adam_eps": 1e-8, "seed": 0, "eval_every": 0},
}


def merged(dflt, given):
    out = dict(dflt)
    for k, v in given.items():
        out[k] = merged(dflt[k], v) if isinstance(v, dict) and isinstance(dflt.get(k), dict) else v
    return out


def load_spec(path, sets):
    spec = json.load(open(path))
    for s in sets:
        key, _, val = s.partition("=")
        try:
            val = json.loads(val)
        except ValueError:
            pass
        node, parts = spec, key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = val
    spec["model"] = merged(DEFAULTS["model"], spec.get("model", {}))
    spec["train"] = merged(DEFAULTS["train"], spec.get("train", {}))
    m, t = spec["model"], spec["train"]
    a = m["attn"]
    m.setdefault("n_layers", len(m["layers"]))
    a.setdefault("n_kv_heads", a["n_heads"])
    a.setdefault("head_dim", m["d_model"] // a["n_heads"])
    a["v_head_dim"] = a.get("v_head_dim") or a["head_dim"]
    if m["ffn"]["type"] == "swiglu":
        m["ffn"].setdefault("d_ff", 4 * m["d_model"])
    if t["task"]["vocab_size"] == 0:
        t["task"]["vocab_size"] = m["vocab_size"]
    evals = spec.get("eval")
    if evals is None:
        evals = [{}]
    spec["eval"] = [merged(dict(t["task"], num_examples=1000), e) for e in evals]
    layers = "".join(m["layers"][i % len(m["layers"])] for i in range(m["n_layers"]))
    if set(layers) != {"A"} or m["meta_tokens"] or a.get("kv_share"):
        raise SystemExit("mqar_replica.py: only attention 'A' layers without meta tokens or KV sharing")
    # per-layer window (harness/spec.c): window W everywhere but the global layers
    m["windows"] = [0 if l in a.get("global_layers", []) else a["window"] for l in range(m["n_layers"])]
    if m["ffn"]["type"] not in ("none", "swiglu"):
        raise SystemExit("mqar_replica.py: ffn.type must be none or swiglu")
    return spec


# ------------------------------------------------------------------ init (models/layer.c)
M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def mix64_np(z):
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hylab_normal(n, std, seed, name):
    """hl_fill_normal(p, n, std, seed, name), bit for bit (up to libm)."""
    h = 0xCBF29CE484222325
    for c in name.encode():
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    s = ((seed ^ 0x5851F42D4C957F2D) + mqar_data.GOLDEN) & 0xFFFFFFFFFFFFFFFF
    r0 = mqar_data.mix64(s) ^ h
    k = np.arange(1, 2 * n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        state = np.uint64(r0) + k * np.uint64(mqar_data.GOLDEN)
    u = (mix64_np(state) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    u1, u2 = 1.0 - u[0::2], u[1::2]
    return (std * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)).astype(np.float32)


# ------------------------------------------------------------------ model
class Replica(torch.nn.Module):
    def __init__(self, spec, seed):
        super().__init__()
        m = spec["model"]
        a = m["attn"]
        self.V, self.d, self.L = m["vocab_size"], m["d_model"], m["n_layers"]
        self.H, self.Hkv, self.hd, self.vd = a["n_heads"], a["n_kv_heads"], a["head_dim"], a["v_head_dim"]
        self.theta, self.eps, self.tied = a["rope_theta"], m["norm_eps"], m["tie_embeddings"]
        self.ffn = m["ffn"]["type"] == "swiglu"
        self.windows = m["windows"]
        resid = 0.02 / math.sqrt(2.0 * self.L)
        self.decay = {}  # name -> weight decay flag (hl_tensor_info.weight_decay)

        def normal(name, shape, std):
            p = torch.nn.Parameter(torch.from_numpy(hylab_normal(int(np.prod(shape)), std, seed, name)).view(*shape))
            self.decay[name] = True
            return p

        def ones(name, n):
            self.decay[name] = False
            return torch.nn.Parameter(torch.ones(n))

        P = {}
        P["model.embed_tokens.weight"] = normal("model.embed_tokens.weight", (self.V, self.d), 0.02)
        for l in range(self.L):
            pre = "model.layers.%d." % l
            P[pre + "input_layernorm.weight"] = ones(pre + "input_layernorm.weight", self.d)
            for proj, rows, std in (("q", self.H * self.hd, 0.02), ("k", self.Hkv * self.hd, 0.02),
                                    ("v", self.Hkv * self.vd, 0.02)):
                n = pre + "self_attn.%s_proj.weight" % proj
                P[n] = normal(n, (rows, self.d), std)
            n = pre + "self_attn.o_proj.weight"
            P[n] = normal(n, (self.d, self.H * self.vd), resid)
            if self.ffn:
                F = m["ffn"]["d_ff"]
                P[pre + "post_attention_layernorm.weight"] = ones(pre + "post_attention_layernorm.weight", self.d)
                for n, shape, std in (("mlp.gate_proj.weight", (F, self.d), 0.02), ("mlp.up_proj.weight", (F, self.d), 0.02),
                                      ("mlp.down_proj.weight", (self.d, F), resid)):
                    P[pre + n] = normal(pre + n, shape, std)
        P["model.norm.weight"] = ones("model.norm.weight", self.d)
        if not self.tied:
            P["lm_head.weight"] = normal("lm_head.weight", (self.V, self.d), 0.02)
        self.probs = {}  # layer -> attention probabilities of the last forward
        self.names = list(P)
        self.params = torch.nn.ParameterList([P[n] for n in self.names])
        self.P = P

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x):  # x (B, T, h, hd), HF rotate_half
        T, hd = x.shape[1], x.shape[3]
        inv = self.theta ** (-torch.arange(0, hd // 2, dtype=torch.float64) * 2.0 / hd)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        cos = torch.cos(ang).float()[None, :, None, :]
        sin = torch.sin(ang).float()[None, :, None, :]
        x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    def attention(self, l, x):
        P, pre = self.P, "model.layers.%d.self_attn." % l
        B, T, _ = x.shape
        q = self.rope((x @ P[pre + "q_proj.weight"].T).view(B, T, self.H, self.hd))
        k = self.rope((x @ P[pre + "k_proj.weight"].T).view(B, T, self.Hkv, self.hd))
        v = (x @ P[pre + "v_proj.weight"].T).view(B, T, self.Hkv, self.vd)
        rep = self.H // self.Hkv
        k, v = k.repeat_interleave(rep, dim=2), v.repeat_interleave(rep, dim=2)
        s = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(self.hd)
        mask = torch.ones(T, T, dtype=torch.bool).tril()   # key s visible from query t: s <= t
        if self.windows[l] > 0:                              # and t - s < W: W keys, the query included
            mask &= ~torch.ones(T, T, dtype=torch.bool).tril(-self.windows[l])
        p = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1)   # (B, H, T, T)
        self.probs[l] = p.detach()
        att = torch.einsum("bhts,bshd->bthd", p, v).reshape(B, T, self.H * self.vd)
        return att @ P[pre + "o_proj.weight"].T

    def forward(self, tokens, pos):
        """tokens (B, T) long; pos: flat b*T+t of the scored positions. Returns logits (n, V)."""
        P = self.P
        x = P["model.embed_tokens.weight"][tokens]
        for l in range(self.L):
            pre = "model.layers.%d." % l
            x = x + self.attention(l, self.rms(x, P[pre + "input_layernorm.weight"]))
            if self.ffn:
                h = self.rms(x, P[pre + "post_attention_layernorm.weight"])
                g = h @ P[pre + "mlp.gate_proj.weight"].T
                x = x + (torch.nn.functional.silu(g) * (h @ P[pre + "mlp.up_proj.weight"].T)) @ P[pre + "mlp.down_proj.weight"].T
        h = self.rms(x.reshape(-1, self.d)[pos], P["model.norm.weight"])
        head = P["model.embed_tokens.weight"] if self.tied else P["lm_head.weight"]
        return h @ head.T


# ------------------------------------------------------------------ recipe (harness/optim.c)
def lr_at(t, step):
    s, W = step - 1, t["warmup_steps"]
    if s < W:
        return t["lr"] * (s + 1) / W
    if t["schedule"] == "constant":
        return t["lr"]
    decay = t["steps"] - W
    f = min((s - W) / decay, 1.0) if decay > 0 else 1.0
    shape = 0.5 * (1 + math.cos(math.pi * f)) if t["schedule"] == "cosine" else 1 - f
    return t["min_lr"] + (t["lr"] - t["min_lr"]) * shape


def batch(task, vocab, seed, split, first, rows):
    x, y = mqar_data.task_fill(task, vocab, seed, split, first, rows)
    x, y = torch.tensor(x), torch.tensor(y).view(-1)
    pos = (y != mqar_data.IGNORE).nonzero().view(-1)
    return x, pos, y[pos]


def evaluate(model, task, vocab, B):
    correct = labelled = 0
    with torch.no_grad():
        for first in range(0, task["num_examples"], B):
            rows = min(B, task["num_examples"] - first)
            x, pos, lab = batch(task, vocab, 0, mqar_data.TEST, first, rows)
            pred = model(x, pos).argmax(-1)
            correct += int((pred == lab).sum())
            labelled += len(lab)
    return correct / labelled


def attention_report(model, task, vocab):
    """Where the heads look, on 256 test examples: layer 0's attention from each
    context value to the key just before it, and the last layer's attention
    from the query positions split into [the queried pair's key, its value,
    the other values, the other keys, the query region]. Per head."""
    x, pos, lab = batch(task, vocab, 0, mqar_data.TEST, 0, 256)
    kv = task["num_kv_pairs"]
    with torch.no_grad():
        model(x, pos)
    p0, pl = model.probs[0], model.probs[model.L - 1]
    vals = list(range(1, 2 * kv, 2))
    prev_key = torch.stack([p0[:, :, t, t - 1] for t in vals], -1).mean((0, 2))
    cats, n = torch.zeros(model.H, 5), 0
    for b, t in ((int(q) // x.shape[1], int(q) % x.shape[1]) for q in pos):
        i = [int(x[b, 2 * j]) for j in range(kv)].index(int(x[b, t]))
        row = pl[b, :, t]                                   # (H, T)
        keys, values = row[:, 0:2 * kv:2].sum(-1), row[:, 1:2 * kv:2].sum(-1)
        cats += torch.stack([row[:, 2 * i], row[:, 2 * i + 1], values - row[:, 2 * i + 1],
                             keys - row[:, 2 * i], 1 - keys - values], -1)
        n += 1
    return {"layer0_value_to_its_key": [round(float(v), 3) for v in prev_key],
            "last_layer_from_queries": [[round(float(v), 3) for v in c] for c in cats / n]}


def train(spec, seed, report=False):
    t = dict(spec["train"], seed=seed)
    task, B = t["task"], t["batch_size"]
    torch.manual_seed(seed)
    model = Replica(spec, seed)
    groups = [{"params": [model.P[n] for n in model.names if model.decay[n]], "weight_decay": t["weight_decay"]},
              {"params": [model.P[n] for n in model.names if not model.decay[n]], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=t["lr"], betas=(t["beta1"], t["beta2"]), eps=t["adam_eps"])
    res = {"seed": seed, "evals": {}, "loss_at": {}}
    t0 = time.time()
    for step in range(1, t["steps"] + 1):
        x, pos, lab = batch(task, task["vocab_size"], seed, mqar_data.TRAIN, (step - 1) * B, B)
        loss = torch.nn.functional.cross_entropy(model(x, pos), lab)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        grads = [p.grad for p in model.params]
        norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
        if not (math.isfinite(norm) and math.isfinite(loss.item())):
            res["diverged_at"] = step
            break
        if t["grad_clip"] > 0 and norm > t["grad_clip"]:
            scale = torch.tensor(t["grad_clip"] / norm, dtype=torch.float32)
            for g in grads:
                g.mul_(scale)
        for gr in opt.param_groups:
            gr["lr"] = lr_at(t, step)
        opt.step()
        if step in (1, 5, 10, 25, 50, 100):   # early losses, to set beside hylab's curve
            res["loss_at"][step] = round(loss.item(), 5)
        if t["eval_every"] and step % t["eval_every"] == 0 and step != t["steps"]:
            res["evals"][step] = round(evaluate(model, spec["eval"][0], spec["eval"][0]["vocab_size"], B), 4)
    res["final_train_loss"] = loss.item()
    res["accuracy"] = evaluate(model, spec["eval"][0], spec["eval"][0]["vocab_size"], B)
    res["wall_s"] = round(time.time() - t0, 1)
    if report:
        res["attention"] = attention_report(model, spec["eval"][0], spec["eval"][0]["vocab_size"])
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--attention", action="store_true", help="add where the heads look after training (attention_report)")
    ap.add_argument("--check-golden", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "..", "fixtures", "mqar_examples.txt"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n = mqar_data.check_golden(args.check_golden)
    print("# data port reproduces %d golden hylab examples" % n, file=sys.stderr)
    spec = load_spec(args.spec, args.set)
    for seed in (int(s) for s in args.seeds.split(",")):
        print(json.dumps(train(spec, seed, args.attention)), flush=True)


if __name__ == "__main__":
    main()
