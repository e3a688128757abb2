#!/usr/bin/env python3
"""Independent numpy port of state-spaces/mamba ssd_minimal_discrete (Mamba-2's
chunked SSD, mamba_ssm/modules/ssd_minimal.py), for tests/test_ssd.c.

Writes deterministic inputs of the op ssd_fwd (kernels/kernels.h) and its
output y computed two ways that share no code with hylab: the chunked SSD
(segsum, the four einsum steps of ssd_minimal_discrete, T padded to a chunk
multiple) and the plain recurrence; exits 1 if they disagree by more than
1e-9 (float64). The arrays go, as float32 .npy, to OUTDIR (default
tests/fixtures/ssd): x (B,T,H,P), dt (B,T,H) before bias and softplus,
dt_bias (H), A_log (H), Bm, Cm (B,T,G,N), D (H), y (B,T,H,P).

usage: ssd_minimal.py [OUTDIR]   (/usr/bin/python3 with numpy)
"""
import os
import sys

import numpy as np


def segsum(x):
    """x (..., L) -> (..., L, L): out[i, j] = sum_{j < k <= i} x[k], -inf above the diagonal."""
    L = x.shape[-1]
    xr = np.repeat(x[..., None], L, axis=-1)              # (..., L, L): xr[i, j] = x[i]
    xr = np.where(np.tril(np.ones((L, L), bool), -1), xr, 0.0)
    out = np.cumsum(xr, axis=-2)
    return np.where(np.tril(np.ones((L, L), bool), 0), out, -np.inf)


def ssd_minimal_discrete(X, A, Bm, Cm, block_len):
    """X (b, t, h, p) already times dt, A (b, t, h) = dt * A_head, Bm, Cm (b, t, h, n);
    t a multiple of block_len. Returns Y (b, t, h, p) and the final state (b, h, p, n)."""
    b, t, h, p = X.shape
    c = t // block_len
    X = X.reshape(b, c, block_len, h, p)
    A = A.reshape(b, c, block_len, h).transpose(0, 3, 1, 2)         # (b, h, c, l)
    Bm = Bm.reshape(b, c, block_len, h, -1)
    Cm = Cm.reshape(b, c, block_len, h, -1)
    A_cumsum = np.cumsum(A, axis=-1)
    # 1. intra-chunk (diagonal blocks)
    L = np.exp(segsum(A))
    Y_diag = np.einsum("bclhn,bcshn,bhcls,bcshp->bclhp", Cm, Bm, L, X)
    # 2. the state at the end of each chunk
    decay_states = np.exp(A_cumsum[:, :, :, -1:] - A_cumsum)
    states = np.einsum("bclhn,bhcl,bclhp->bchpn", Bm, decay_states, X)
    # 3. inter-chunk recurrence (initial state zero)
    states = np.concatenate([np.zeros_like(states[:, :1]), states], axis=1)
    A_last = np.pad(A_cumsum[:, :, :, -1], ((0, 0), (0, 0), (1, 0)))
    decay_chunk = np.exp(segsum(A_last))
    new_states = np.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states, final_state = new_states[:, :-1], new_states[:, -1]
    # 4. state -> output
    state_decay_out = np.exp(A_cumsum)
    Y_off = np.einsum("bclhn,bchpn,bhcl->bclhp", Cm, states, state_decay_out)
    return (Y_diag + Y_off).reshape(b, t, h, p), final_state


def softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


def recurrence(x, delta, A, Bh, Ch):
    b, t, h, p = x.shape
    s = np.zeros((b, h, p, Bh.shape[-1]))
    y = np.zeros_like(x)
    for i in range(t):
        s = np.exp(delta[:, i, :] * A)[:, :, None, None] * s + \
            (delta[:, i, :, None] * x[:, i])[..., None] * Bh[:, i, :, None, :]
        y[:, i] = np.einsum("bhpn,bhn->bhp", s, Ch[:, i])
    return y


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/ssd"
    rng = np.random.default_rng(20261201)
    B, T, H, P, G, N = 2, 37, 4, 8, 2, 16
    f32 = lambda a: a.astype(np.float32)
    x = f32(rng.uniform(-1, 1, (B, T, H, P)))
    dt = f32(rng.uniform(-1.5, 1.0, (B, T, H)))
    dt_bias = f32(rng.uniform(-2, 0, H))
    A_log = f32(np.log(np.arange(1, H + 1)) + rng.uniform(-0.2, 0.2, H))
    Bm = f32(rng.uniform(-1, 1, (B, T, G, N)))
    Cm = f32(rng.uniform(-1, 1, (B, T, G, N)))
    D = f32(rng.uniform(-1, 1, H))
    X, dtb, Al, Bd, Cd, Dd = (a.astype(np.float64) for a in (x, dt, A_log, Bm, Cm, D))
    delta = softplus(dtb + dt_bias.astype(np.float64))               # (B, T, H)
    A = -np.exp(Al)                                                   # (H)
    Bh = np.repeat(Bd, H // G, axis=2)                                # (B, T, H, N): head h reads group h // (H/G)
    Ch = np.repeat(Cd, H // G, axis=2)
    block = 8                                                         # 37 = 4 * 8 + 5: pad to 40
    Tp = -(-T // block) * block
    pad = lambda a: np.pad(a, [(0, 0), (0, Tp - T)] + [(0, 0)] * (a.ndim - 2))
    Y, _ = ssd_minimal_discrete(pad(X * delta[..., None]), pad(delta * A), pad(Bh), pad(Ch), block)
    y = Y[:, :T] + Dd[None, None, :, None] * X
    y_rec = recurrence(X, delta, A, Bh, Ch) + Dd[None, None, :, None] * X
    err = np.abs(y - y_rec).max() / np.abs(y_rec).max()
    print(f"ssd_minimal_discrete vs recurrence: rel err {err:.3g}")
    if not err < 1e-9:
        return 1
    os.makedirs(out, exist_ok=True)
    for name, a in dict(x=x, dt=dt, dt_bias=dt_bias, A_log=A_log, Bm=Bm, Cm=Cm, D=D, y=f32(y)).items():
        np.save(os.path.join(out, name + ".npy"), a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
