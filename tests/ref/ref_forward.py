#!/usr/bin/env python3
"""Independent reference forward pass for hylab checkpoints (numpy, float64).

Reads a hylab safetensors checkpoint with nothing but struct + json + numpy,
rebuilds the model from the spec in its __metadata__ and the documented
semantics (DESIGN.md "Checkpoints": HF Llama RoPE and names, RMSNorm, SwiGLU,
state-spaces/mamba's Mamba and Mamba2 (as its plain recurrence), Hymba-style
hybrid heads, meta tokens, sliding
windows, KV sharing), and computes the logits of one token sequence. It shares
no code with hylab.

usage: ref_forward.py CKPT TOKENS [--compare LOGITS.npy] [--tol 1e-4] [--out REF.npy]
Exit status: 0 ok (and within tolerance when comparing), 1 mismatch, 2 usage/input error.
"""
import argparse
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def load_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[b:end], dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
        tensors[name] = arr.reshape(e["shape"]).astype(np.float64)
    return meta, tensors


def resolve_layers(mc):
    """Per-layer (kind, window, kv_source) from the model section of the spec."""
    pattern, n = mc["layers"], mc["n_layers"]
    attn = mc["attn"]
    window = attn.get("window", 0)
    global_layers = set(attn.get("global_layers", []))
    source = {}
    for group in attn.get("kv_share", []):
        for consumer in group[1:]:
            source[consumer] = group[0]
    layers = []
    for i in range(n):
        kind = pattern[i % len(pattern)]
        w = window if (window and i not in global_layers) else 0
        layers.append((kind, w, source.get(i, -1)))
    return layers


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


def rope(x, theta):
    """x: (T, H, hd); HF Llama rotate_half with position = row index."""
    T, _, hd = x.shape
    half = hd // 2
    inv_freq = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)   # (hd/2)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]   # (T, hd/2)
    cos = np.concatenate([np.cos(ang)] * 2, axis=-1)[:, None, :]
    sin = np.concatenate([np.sin(ang)] * 2, axis=-1)[:, None, :]
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rot * sin


def attention_mask(T, window, n_meta):
    p = np.arange(T)[:, None]
    k = np.arange(T)[None, :]
    visible = k <= p
    if window:
        visible &= (p - k < window) | (k < n_meta)
    return visible


def attention_core(h, W, prefix, mc, window, n_meta, shared_kv):
    """Returns (att (T, H*vd), (k, v)) with k, v post-RoPE (T, Hkv, hd/vd)."""
    a = mc["attn"]
    H, Hkv, hd = a["n_heads"], a["n_kv_heads"], a["head_dim"]
    T = h.shape[0]
    # model.attn.rope false (Jamba): no positional encoding at all
    pos = (lambda y: rope(y, a["rope_theta"])) if a.get("rope", True) else (lambda y: y)
    q = pos((h @ W[prefix + "self_attn.q_proj.weight"].T).reshape(T, H, hd))
    if shared_kv is None:
        k = pos((h @ W[prefix + "self_attn.k_proj.weight"].T).reshape(T, Hkv, hd))
        v = (h @ W[prefix + "self_attn.v_proj.weight"].T).reshape(T, Hkv, -1)
    else:
        k, v = shared_kv
    mask = attention_mask(T, window, n_meta)
    group = H // Hkv
    outs = []
    for head in range(H):
        kh, vh = k[:, head // group, :], v[:, head // group, :]
        s = (q[:, head, :] @ kh.T) / np.sqrt(hd)
        s = np.where(mask, s, -np.inf)
        s = np.exp(s - s.max(axis=1, keepdims=True))
        outs.append((s / s.sum(axis=1, keepdims=True)) @ vh)
    return np.concatenate(outs, axis=1), (k, v)


def mamba_branch(h, W, prefix, mc):
    """state-spaces/mamba Mamba up to (not including) out_proj: y * silu(z)."""
    s = mc["ssm"]
    N = s["d_state"]
    d = mc["d_model"]
    R = s.get("dt_rank", 0) or -(-d // 16)
    T = h.shape[0]
    xz = h @ W[prefix + "mamba.in_proj.weight"].T
    di = xz.shape[1] // 2
    x, z = xz[:, :di], xz[:, di:]
    cw = W[prefix + "mamba.conv1d.weight"][:, 0, :]          # (di, K)
    K = cw.shape[1]
    xp = np.concatenate([np.zeros((K - 1, di)), x], axis=0)
    xc = W[prefix + "mamba.conv1d.bias"] + sum(cw[:, j] * xp[j:j + T] for j in range(K))
    u = silu(xc)
    dbc = u @ W[prefix + "mamba.x_proj.weight"].T
    dtl, Bm, Cm = dbc[:, :R], dbc[:, R:R + N], dbc[:, R + N:]
    if s.get("inner_norms", False):   # Jamba's / Hymba's RMSNorms on dt, B, C
        eps = mc.get("norm_eps", 1e-5)
        dtl = rmsnorm(dtl, W[prefix + "mamba.dt_layernorm.weight"], eps)
        Bm = rmsnorm(Bm, W[prefix + "mamba.b_layernorm.weight"], eps)
        Cm = rmsnorm(Cm, W[prefix + "mamba.c_layernorm.weight"], eps)
    delta = softplus(dtl @ W[prefix + "mamba.dt_proj.weight"].T + W[prefix + "mamba.dt_proj.bias"])
    A = -np.exp(W[prefix + "mamba.A_log"])                     # (di, N)
    D = W[prefix + "mamba.D"]
    state = np.zeros((di, N))
    y = np.zeros((T, di))
    for t in range(T):
        state = np.exp(delta[t][:, None] * A) * state + (delta[t] * u[t])[:, None] * Bm[t][None, :]
        y[t] = state @ Cm[t] + D * u[t]
    return y * silu(z)


def mamba2_mixer(h, W, prefix, mc):
    """state-spaces/mamba Mamba2 (d_ssm = d_inner, rmsnorm, norm_before_gate False)
    with the scan as its plain recurrence per head (not the chunked SSD)."""
    s = mc["ssm"]
    N, G, P = s["d_state"], s.get("ngroups", 1), s.get("headdim", 64)
    di = s["expand"] * mc["d_model"]
    H, T = di // P, h.shape[0]
    zxbcdt = h @ W[prefix + "mamba2.in_proj.weight"].T          # (T, 2di + 2GN + H)
    z, xbc, dt = zxbcdt[:, :di], zxbcdt[:, di:2 * di + 2 * G * N], zxbcdt[:, 2 * di + 2 * G * N:]
    cw = W[prefix + "mamba2.conv1d.weight"][:, 0, :]            # (di + 2GN, K)
    K = cw.shape[1]
    xp = np.concatenate([np.zeros((K - 1, xbc.shape[1])), xbc], axis=0)
    xbc = silu(W[prefix + "mamba2.conv1d.bias"] + sum(cw[:, j] * xp[j:j + T] for j in range(K)))
    x = xbc[:, :di].reshape(T, H, P)
    Bm = xbc[:, di:di + G * N].reshape(T, G, N)
    Cm = xbc[:, di + G * N:].reshape(T, G, N)
    delta = softplus(dt + W[prefix + "mamba2.dt_bias"])          # (T, H)
    A = -np.exp(W[prefix + "mamba2.A_log"])                      # (H)
    D = W[prefix + "mamba2.D"]
    state = np.zeros((H, P, N))
    y = np.zeros((T, H, P))
    for t in range(T):
        for hh in range(H):
            g = hh // (H // G)
            state[hh] = np.exp(delta[t, hh] * A[hh]) * state[hh] + delta[t, hh] * np.outer(x[t, hh], Bm[t, g])
            y[t, hh] = state[hh] @ Cm[t, g] + D[hh] * x[t, hh]
    y = (y.reshape(T, di) * silu(z)).reshape(T, G, di // G)     # gated, then RMSNorm per group
    y = y / np.sqrt(np.mean(y * y, axis=-1, keepdims=True) + mc.get("norm_eps", 1e-5))
    y = y.reshape(T, di) * W[prefix + "mamba2.norm.weight"]
    return y @ W[prefix + "mamba2.out_proj.weight"].T


def forward(meta, W, tokens):
    spec = json.loads(meta["spec"])
    mc = spec["model"]
    eps = mc.get("norm_eps", 1e-5)
    m = mc.get("meta_tokens", 0)
    x = W["model.embed_tokens.weight"][tokens]
    if m:
        x = np.concatenate([W["model.memory_tokens"], x], axis=0)
    kv = {}
    for i, (kind, window, src) in enumerate(resolve_layers(mc)):
        p = "model.layers.%d." % i
        h = rmsnorm(x, W[p + "input_layernorm.weight"], eps)
        if kind in "AH":
            att, kv[i] = attention_core(h, W, p, mc, window, m, kv[src] if src >= 0 else None)
        if kind == "A":
            out = att @ W[p + "self_attn.o_proj.weight"].T
        elif kind == "S":
            out = mamba_branch(h, W, p, mc) @ W[p + "mamba.out_proj.weight"].T
        elif kind == "M":
            out = mamba2_mixer(h, W, p, mc)
        elif kind == "H":
            gy = mamba_branch(h, W, p, mc)
            fused = (rmsnorm(att, W[p + "hybrid.attn_norm.weight"], eps) +
                     rmsnorm(gy, W[p + "hybrid.ssm_norm.weight"], eps)) / 2
            out = fused @ W[p + "hybrid.out_proj.weight"].T
        else:
            raise SystemExit("ref_forward: layer kind %r not implemented" % kind)
        x = x + out
        if mc["ffn"]["type"] == "swiglu":
            h = rmsnorm(x, W[p + "post_attention_layernorm.weight"], eps)
            g = h @ W[p + "mlp.gate_proj.weight"].T
            up = h @ W[p + "mlp.up_proj.weight"].T
            x = x + (silu(g) * up) @ W[p + "mlp.down_proj.weight"].T
        elif mc["ffn"]["type"] != "none":
            raise SystemExit("ref_forward: ffn %r not implemented" % mc["ffn"]["type"])
    x = rmsnorm(x, W["model.norm.weight"], eps)[m:]
    head = W["model.embed_tokens.weight"] if mc.get("tie_embeddings", True) else W["lm_head.weight"]
    return x @ head.T


def load_npy(path):
    with open(path, "rb") as f:
        blob = f.read()
    assert blob[:6] == b"\x93NUMPY", "not a .npy file"
    return np.load(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("tokens")
    ap.add_argument("--compare", help="hylab logits .npy to compare with")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--out", help="write the reference logits here (float32 .npy)")
    args = ap.parse_args()
    meta, W = load_safetensors(args.ckpt)
    with open(args.tokens) as f:
        tokens = np.array([int(t) for t in f.read().split()], dtype=np.int64)
    ref = forward(meta, W, tokens)
    if args.out:
        np.save(args.out, ref.astype(np.float32))
    if not args.compare:
        print("ref_forward: logits", ref.shape)
        return 0
    got = load_npy(args.compare)
    if got.shape != ref.shape or got.dtype != np.float32:
        print("ref_forward: hylab logits have shape %s dtype %s, reference %s float32"
              % (got.shape, got.dtype, ref.shape))
        return 1
    diff = float(np.max(np.abs(got.astype(np.float64) - ref)))
    scale = float(np.max(np.abs(ref)))
    ok = diff < args.tol and np.all(np.isfinite(got))
    print("ref_forward: max |hylab - reference| = %.3g (max |logit| %.3g, tol %g): %s"
          % (diff, scale, args.tol, "ok" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
