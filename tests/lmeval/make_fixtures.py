#!/usr/bin/env python3
"""Fixtures for tests/test_lmeval.sh: hylab's log-likelihood scoring against
lm-evaluation-harness itself (PyPI lm-eval) on the eight shared sets.

Run from the repository root, with a venv holding torch, transformers,
tokenizers and lm-eval, after `make hylab`:
    python tests/lmeval/make_fixtures.py [--data-dir ../shared/data]

1. GPT-2 BPE tokens of corpus/tinyshakespeare.txt (transformers'
   GPT2TokenizerFast on the data directory's encoder.json + vocab.bpe).
2. A tiny LlamaForCausalLM (GPT-2 vocab 50257, d_model 16, 2 layers, tied
   embeddings) trained STEPS steps in PyTorch (fp32, CPU, fixed seed).
3. `hylab import` -> tests/lmeval/model.safetensors (committed; < 4 MB), then
   `hylab export` of that checkpoint back to a Hugging Face directory: what
   lm-eval scores is hylab's own export.
4. lm-eval on the custom tasks in tests/lmeval/tasks (the shared JSONL files,
   formats as hylab's families read them), --limit LIMIT, max_length
   MAX_LENGTH (so some boolq items are cut from the left), batch size 1,
   --log_samples; twice: dtype float32 (as users run it) and float64 (lm-eval
   itself with its float32 rounding taken out).
5. tests/lmeval/expected.json: per task, per item (doc_id order): lls,
   is_greedy (one per choice; one entry for lambada), pred (argmax of lls),
   pred_norm (argmax of lls / len(choice), multiple_choice only) of lm-eval
   in float32; lls_lmeval_f64, is_greedy_lmeval_f64 of lm-eval in float64;
   and lls_f64: the same log-likelihoods of the same export computed in
   float64 by torch directly (see Float64Reference), a check independent of
   lm-eval's code.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import GPT2TokenizerFast, LlamaConfig, LlamaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STEPS, BATCH, SEQ, LR = 300, 8, 64, 3e-3
LIMIT, MAX_LENGTH = 60, 256
GREEDY = os.path.join(HERE, "greedy.jsonl")     # made by make_greedy_set
GREEDY_TASK = "language_modeling:greedy.jsonl"  # hylab's name of it (`hylab eval ... language_modeling:PATH`)
TASKS = ["hellaswag", "piqa", "arc_easy", "arc_challenge", "winogrande", "boolq", "openbookqa", "lambada_openai"]


def tokenizer(data_dir):
    d = os.path.join(data_dir, "tokenizers", "gpt2")
    return GPT2TokenizerFast(vocab=os.path.join(d, "encoder.json"), merges=os.path.join(d, "vocab.bpe"))


def train(tok, data_dir):
    text = open(os.path.join(data_dir, "corpus", "tinyshakespeare.txt"), encoding="utf-8").read()
    ids = torch.tensor(tok(text)["input_ids"], dtype=torch.long)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=50257, hidden_size=16, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, head_dim=8, rms_norm_eps=1e-5,
                      max_position_embeddings=MAX_LENGTH, tie_word_embeddings=True, rope_theta=10000.0,
                      bos_token_id=50256, eos_token_id=50256, attn_implementation="eager")
    model = LlamaForCausalLM(cfg).float()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    gen = torch.Generator().manual_seed(1)
    for step in range(STEPS):
        starts = torch.randint(0, len(ids) - SEQ - 1, (BATCH,), generator=gen)
        x = torch.stack([ids[s:s + SEQ + 1] for s in starts])
        out = model(input_ids=x[:, :-1], labels=x[:, :-1].clone())
        # labels shifted inside: predict x[t+1] from x[..t]
        out.loss.backward()
        opt.step()
        opt.zero_grad()
        if step % 50 == 0 or step == STEPS - 1:
            print(f"step {step} loss {out.loss.item():.3f}", flush=True)
    return model


class Float64Reference:
    """Per-item log-likelihoods of hylab's export in float64 (torch), with
    lm-eval's pair rule and left truncation: lm-eval itself computes the
    log-softmax and the sum over the continuation in float32, which drifts
    by up to ~1e-6 of |ll| on long continuations; this reference shows
    which side a difference comes from."""

    def __init__(self, hf_dir, data_dir):
        self.tok = GPT2TokenizerFast.from_pretrained(hf_dir)
        self.model = LlamaForCausalLM.from_pretrained(hf_dir, dtype=torch.float64).eval()
        self.data_dir = data_dir

    def pairs(self, task, doc):
        if task == GREEDY_TASK:
            return [(doc["context"], doc["continuation"])]   # target_delimiter ""
        if "choices" in doc:
            return [(doc["query"], " " + c) for c in doc["choices"]]
        if "context_options" in doc:
            return [(c, " " + doc["continuation"]) for c in doc["context_options"]]
        return [(doc["context"], " " + doc["continuation"])]

    def ll(self, context, continuation):
        n = len(context) - len(context.rstrip())
        if n:
            continuation = context[-n:] + continuation
            context = context[:-n]
        whole = self.tok(context + continuation)["input_ids"]
        ctx = self.tok(context)["input_ids"]
        cont = whole[len(ctx):]
        inp = (ctx + cont)[-(MAX_LENGTH + 1):][:-1]
        with torch.no_grad():
            lp = torch.log_softmax(self.model(torch.tensor([inp])).logits[0].double(), -1)
        L = len(inp)
        return sum(lp[L - len(cont) + j, cont[j]].item() for j in range(len(cont)))

    def lls(self, task, index):
        path = GREEDY if task == GREEDY_TASK else os.path.join(self.data_dir, "eval", task + ".jsonl")
        with open(path) as f:
            for i, line in enumerate(f):
                if i == index:
                    return [self.ll(c, k) for c, k in self.pairs(task, json.loads(line))]
        raise IndexError(index)


# Our own lines (not from any data set) for the greedy items below.
PROMPTS = [
    "KING:\nWhat say you, my good lord", "My lord, I pray you", "Now is the time of", "I will not be",
    "And so I say to thee", "The queen is in her chamber and", "Come hither, good sir, and", "What is the",
    "O, that I had", "Thou art a", "Farewell, and", "Let us go to the", "He is the son of", "I know not what",
    "Give me your hand, and", "Good morrow to you", "Why, then, the", "If it be so, I", "Where is my",
    "Here comes the", "Is this the", "Speak, for I", "Then let him", "What news from", "Away with",
    "The duke hath", "Nay, but I", "Sweet lady, you", "Sir, I have", "Come, come, you",
]


def make_greedy_set(hf_dir, path):
    """language_modeling items whose continuation is (mostly) the model's own
    greedy next token(s): every other data set leaves is_greedy false for a
    model this small. Scored with target_delimiter "" (the continuation is
    exactly the decoded tokens): per prompt the greedy next token, the
    greedy next two tokens, and a word that is not greedy."""
    tok = GPT2TokenizerFast.from_pretrained(hf_dir)
    model = LlamaForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    rows = []
    for p in PROMPTS:
        ids = tok(p)["input_ids"]
        with torch.no_grad():
            t1 = int(model(torch.tensor([ids])).logits[0, -1].argmax())
            t2 = int(model(torch.tensor([ids + [t1]])).logits[0, -1].argmax())
        w1, w2 = tok.decode([t1]), tok.decode([t2])
        rows.append({"context": p, "continuation": w1})
        rows.append({"context": p, "continuation": w1 + w2})
        rows.append({"context": p, "continuation": " pomegranate"})
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.path.join(os.path.dirname(ROOT), "shared", "data"))
    ap.add_argument("--hylab", default=os.path.join(ROOT, "hylab"))
    ap.add_argument("--keep", default=None, help="keep the work directory here")
    ap.add_argument("--skip-train", action="store_true", help="reuse the committed model.safetensors")
    ap.add_argument("--skip-lmeval", action="store_true", help="reuse lm-eval's output in the --keep directory")
    a = ap.parse_args()
    data_dir = os.path.abspath(a.data_dir)
    work = a.keep or tempfile.mkdtemp(prefix="hylab-lmeval-")
    os.makedirs(work, exist_ok=True)
    tok = tokenizer(data_dir)
    ckpt = os.path.join(HERE, "model.safetensors")
    if not a.skip_train:
        model = train(tok, data_dir)
        hf_train = os.path.join(work, "hf_train")
        model.save_pretrained(hf_train, safe_serialization=True)
        run([a.hylab, "import", hf_train, "--out", ckpt])
    hf_export = os.path.join(work, "hf_export")
    shutil.rmtree(hf_export, ignore_errors=True)
    run([a.hylab, "export", ckpt, "--out", hf_export])
    tok.save_pretrained(hf_export)

    make_greedy_set(hf_export, GREEDY)
    # task YAMLs with the data directory filled in
    inc = os.path.join(work, "tasks")
    shutil.rmtree(inc, ignore_errors=True)
    os.makedirs(inc)
    for y in glob.glob(os.path.join(HERE, "tasks", "*.yaml")):
        text = open(y).read().replace("@DATA_DIR@", data_dir).replace("@HERE@", HERE)
        open(os.path.join(inc, os.path.basename(y)), "w").write(text)
    out = os.path.join(work, "lmeval_out")
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    out64 = os.path.join(work, "lmeval_out_f64")
    if not a.skip_lmeval:
        # lm-eval as users run it (float32), and lm-eval itself in float64: its
        # pair rule, truncation and scoring with the arithmetic error taken out
        for o, dtype in ((out, "float32"), (out64, "float64")):
            run([sys.executable, "-m", "lm_eval", "--model", "hf",
                 "--model_args", f"pretrained={hf_export},dtype={dtype},max_length={MAX_LENGTH}",
                 "--tasks", ",".join("hylab_" + t for t in TASKS + ["greedy"]), "--include_path", inc,
                 "--batch_size", "1", "--device", "cpu", "--limit", str(LIMIT), "--log_samples",
                 "--output_path", o], env=env)

    ref = Float64Reference(hf_export, data_dir)
    expected = {"limit": LIMIT, "max_length": MAX_LENGTH, "lm_eval": __import__("lm_eval").__version__, "tasks": {}}
    def samples(o, t):
        files = sorted(glob.glob(os.path.join(o, "**", f"samples_hylab_{t}_*.jsonl"), recursive=True))
        if not files:
            sys.exit(f"no samples for {t} under {o}")
        items = [json.loads(line) for line in open(files[-1])]
        items.sort(key=lambda s: s["doc_id"])
        return items

    for t in TASKS + ["greedy"]:
        items = samples(out, t)
        items64 = {s["doc_id"]: s for s in samples(out64, t)}
        rows = []
        for s in items:
            resps = [r[0] for r in s["resps"]]   # [[ll, is_greedy]] per request
            lls = [float(r[0]) for r in resps]
            # log_samples writes the pairs as strings: "True" / "False"
            greedy = [r[1] in (True, "True") for r in resps]
            row = {"index": s["doc_id"], "lls": lls, "is_greedy": greedy,
                   "lls_lmeval_f64": [float(r[0][0]) for r in items64[s["doc_id"]]["resps"]],
                   "is_greedy_lmeval_f64": [r[0][1] in (True, "True") for r in items64[s["doc_id"]]["resps"]]}
            if t not in ("lambada_openai", "greedy"):
                row["pred"] = int(np.argmax(lls))
            if "choices" in s["doc"]:
                n = np.array([float(len(c)) for c in s["doc"]["choices"]])
                row["pred_norm"] = int(np.argmax(np.array(lls) / n))
            row["lls_f64"] = ref.lls(GREEDY_TASK if t == "greedy" else t, s["doc_id"])
            rows.append(row)
        expected["tasks"][GREEDY_TASK if t == "greedy" else t] = rows
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=0, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.join(HERE, "expected.json"), "and", ckpt)


if __name__ == "__main__":
    main()
