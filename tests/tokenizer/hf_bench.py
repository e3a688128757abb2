#!/usr/bin/env python3
"""Hugging Face tokenizers' side of tests/bench_tokenizer.c: GPT-2 BPE from
DATA/tokenizers/gpt2/{encoder.json,vocab.bpe} (ByteLevel pre-tokenizer,
add_prefix_space=False, as tests/tokenizer/make_fixtures.py), one thread
(RAYON_NUM_THREADS=1; one encode call per file is sequential anyway), each
file encoded REPS times as one string; prints per file

    file PATH TOKENS BEST_SECONDS

then the same with each line (its newline kept) encoded by its own call,
summing the ids:

    lines PATH TOKENS BEST_SECONDS

and a first line "version TOKENIZERS_VERSION".

    python tests/tokenizer/hf_bench.py DATA REPS PATH...
"""
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402


def main():
    data, reps, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    tok = Tokenizer(models.BPE.from_file(data + "/tokenizers/gpt2/encoder.json",
                                         data + "/tokenizers/gpt2/vocab.bpe"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    print("version", tokenizers.__version__)
    for path in paths:
        with open(data + "/" + path, "rb") as f:
            text = f.read().decode("utf-8")
        best, n = None, 0
        for _ in range(reps):
            t0 = time.perf_counter()
            n = len(tok.encode(text).ids)
            dt = time.perf_counter() - t0
            best = dt if best is None or dt < best else best
        print("file", path, n, "%.6f" % best)
        parts = text.split("\n")
        lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        best = None
        for _ in range(reps):
            t0 = time.perf_counter()
            n = 0
            for line in lines:
                n += len(tok.encode(line).ids)
            dt = time.perf_counter() - t0
            best = dt if best is None or dt < best else best
        print("lines", path, n, "%.6f" % best)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
