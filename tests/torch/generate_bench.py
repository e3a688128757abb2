#!/usr/bin/env python3
"""Greedy generation speed: `hylab generate` against Hugging Face transformers
on the same model and the same cores.

    VENV/bin/python tests/torch/generate_bench.py [--hylab ./hylab] [--threads 1]
        [--prompt-len 32] [--new 64] [--batches 1,8] [--repeats 3]
    (needs torch, transformers and numpy: python3 -m venv VENV &&
     VENV/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu &&
     VENV/bin/pip install transformers numpy; developer-run, not in `make test`)

The model: a small all-attention hylab model (Llama layout: GQA, SwiGLU,
untied), its weights from a one-step `hylab run --save`, exported with `hylab
export` to a Hugging Face Llama directory that transformers loads
(AutoModelForCausalLM, float32, eager attention). For each batch size B, B
prompts of --prompt-len random ids; both sides generate greedily with a
cache (transformers: generate(do_sample=False, use_cache=True), a DynamicCache;
hylab: `hylab generate --batch-size B`), --new tokens and, to separate the
prefill and the process start, 1 token. Each of the four is run once to warm
up, then --repeats times round-robin (load on a shared machine hits all
alike); figures are given from the fastest run (min: least disturbed) and
the median. hylab's times are whole processes (checkpoint load included),
transformers' the generate() call.
  decode tok/s = B * (new - 1) / (t(new) - t(1))   (per batch, all rows)
  end-to-end tok/s = B * new / t(new)
It prints a setup line (versions, path, threads, CPU, model), then one JSON
line per batch size with both sides' figures and the ratios hylab /
transformers (ratio_decode_min, ratio_end_to_end_min, ..._median), and
says how many generated tokens agree (greedy on near-ties may differ in
float rounding; it is reported, not required). --d-model and --layers
scale the model (heads: d_model / 32, KV heads half of them, d_ff 2.75 *
d_model rounded to 64). Exit status 2 when torch/transformers are missing.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
except ImportError as e:
    print(f"generate_bench: needs torch, transformers and numpy ({e})", file=sys.stderr)
    sys.exit(2)

MODEL = {"vocab_size": 512, "d_model": 256, "n_layers": 4, "layers": "A", "norm_eps": 1e-5,
         "attn": {"n_heads": 8, "n_kv_heads": 4}, "ffn": {"type": "swiglu", "d_ff": 704},
         "tie_embeddings": False}
TRAIN = {"task": {"name": "mqar", "seq_len": 32, "num_kv_pairs": 2}, "steps": 1, "batch_size": 2,
         "lr": 1e-3, "warmup_steps": 0, "eval_every": 0}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_head():
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unknown"


def run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"generate_bench: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def timings(fns, repeats):
    """Times each of fns (name -> callable) `repeats` times after one warm-up
    each, round-robin (a burst of load on the shared machine hits every one
    alike). Returns name -> (min s, median s, output of the last run)."""
    outs, ts = {}, {k: [] for k in fns}
    for k, fn in fns.items():
        outs[k] = fn()
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            outs[k] = fn()
            ts[k].append(time.perf_counter() - t0)
    return {k: (min(ts[k]), statistics.median(ts[k]), outs[k]) for k in fns}


def hylab_generate(hylab, ckpt, batch_file, B, new, threads):
    out = run(hylab, "generate", "--ckpt", ckpt, "--batch", batch_file, "--max-new-tokens", str(new),
              "--batch-size", str(B), "--threads", str(threads))
    return [json.loads(line)["tokens"] for line in out.splitlines()]


def hf_generate(model, ids, new):
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                             do_sample=False, use_cache=True, pad_token_id=0, eos_token_id=None)
    return out[:, ids.shape[1]:].tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hylab", default="./hylab")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    a = ap.parse_args()
    MODEL.update(d_model=a.d_model, n_layers=a.layers,
                 attn={"n_heads": a.d_model // 32, "n_kv_heads": max(1, a.d_model // 64)},
                 ffn={"type": "swiglu", "d_ff": (a.d_model * 11 // 4 + 63) // 64 * 64})
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        spec = {"name": "generate-bench", "model": MODEL, "train": TRAIN, "eval": []}
        spec_path, ckpt, hf_dir = (os.path.join(tmp, s) for s in ("spec.json", "m.safetensors", "hf"))
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        run(a.hylab, "run", spec_path, "--save", ckpt, "--db", os.path.join(tmp, "r.db"), "--threads", str(a.threads))
        run(a.hylab, "export", ckpt, "--out", hf_dir)
        model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32,
                                                     attn_implementation="eager").eval()
        setup = {"torch": torch.__version__, "transformers": transformers.__version__,
                 "hf_path": "generate(do_sample=False, use_cache=True), DynamicCache, eager attention, float32",
                 "threads": a.threads, "cpu": cpu_model(), "hylab_commit": git_head(),
                 "model": MODEL, "prompt_len": a.prompt_len, "new_tokens": a.new, "repeats": a.repeats}
        print(json.dumps({"setup": setup}))
        for B in (int(x) for x in a.batches.split(",")):
            prompts = rng.integers(0, MODEL["vocab_size"], size=(B, a.prompt_len))
            batch_file = os.path.join(tmp, f"b{B}.jsonl")
            with open(batch_file, "w") as f:
                for p in prompts:
                    f.write(json.dumps({"tokens": [int(t) for t in p]}) + "\n")
            ids = torch.tensor(prompts, dtype=torch.long)
            t = timings({"h1": lambda: hylab_generate(a.hylab, ckpt, batch_file, B, 1, a.threads),
                         "hn": lambda: hylab_generate(a.hylab, ckpt, batch_file, B, a.new, a.threads),
                         "t1": lambda: hf_generate(model, ids, 1),
                         "tn": lambda: hf_generate(model, ids, a.new)}, a.repeats)
            htoks, ttoks = t["hn"][2], t["tn"][2]
            agree = sum(x == y for hr, tr in zip(htoks, ttoks) for x, y in zip(hr, tr))

            def side(n1, nn):
                r = {}
                for j, stat in ((0, "min"), (1, "median")):
                    t1, tn = t[n1][j], t[nn][j]
                    r[stat] = {"decode_tok_s": B * (a.new - 1) / (tn - t1), "end_to_end_tok_s": B * a.new / tn,
                               "t_new_s": tn, "t_1_s": t1}
                return r
            row = {"batch": B, "hylab": side("h1", "hn"), "transformers": side("t1", "tn"),
                   "tokens_agree": f"{agree}/{B * a.new}"}
            for stat in ("min", "median"):
                h, tr = row["hylab"][stat], row["transformers"][stat]
                row[f"ratio_decode_{stat}"] = h["decode_tok_s"] / tr["decode_tok_s"]
                row[f"ratio_end_to_end_{stat}"] = h["end_to_end_tok_s"] / tr["end_to_end_tok_s"]
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
