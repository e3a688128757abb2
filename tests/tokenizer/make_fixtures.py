#!/usr/bin/env python3
"""Writes tests/tokenizer/gpt2_fixtures.txt: GPT-2 token ids from Hugging Face
`tokenizers` (an independent implementation) for tests/test_tokenizer.c.

Run from the repository root with a Python that has `tokenizers`:

    /path/to/venv/bin/python tests/tokenizer/make_fixtures.py ../shared/data

The tokenizer is built from the data directory's tokenizers/gpt2/encoder.json
and vocab.bpe: BPE model + ByteLevel pre-tokenizer (add_prefix_space=False,
use_regex=True), no post-processor, i.e. exactly GPT-2.

File format (one case per line, fields separated by single spaces):
    # comment
    file PATH COUNT SHA256 K ID1 .. IDK   a data file (PATH relative to the
                                          data directory): COUNT ids in all,
                                          SHA256 of the ids as little-endian
                                          int32, the first K ids
    text HEX COUNT ID1 .. IDCOUNT         a text (its UTF-8 bytes in hex; "-"
                                          for the empty text) and all its ids
"""
import hashlib
import random
import struct
import sys

import tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers

FILES = [
    "corpus/tinyshakespeare.txt",
    "corpus/kjv.txt",
    "corpus/wikitext2_valid.txt",
    "corpus/wikitext2_test.txt",
    "recall/squad_v1.1_part_a.json",
    "eval/piqa.jsonl",
    "eval/arc_challenge.jsonl",
]
HEAD = 2000

TEXTS = [
    "",
    " ",
    "Hello world",
    "Café naïve résumé Ångström Øresund façade",
    "日本語のテキスト、中文字符。한국어 텍스트",
    "مرحبا بالعالم ١٢٣ שלום עולם",
    "e\u0301 a\u0308\u0304 Z\u0324\u0354\u0367\u0311\u0313 \u0915\u094D\u0937 \u0e01\u0e33",
    "family 👨\u200d👩\u200d👧\u200d👦 flag 🏳️\u200d🌈 thumbs 👍🏽 😀😀😀 🇫🇷",
    "a  b\t\tc\n\n\nd \n \t e   \n",
    "end with spaces   ",
    "     ",
    "\r\n\r\n  \r\n",
    "\n" * 50,
    " " * 300 + "x",
    "\t \t \n \n  x  \t\n",
    "I'm they'LL don't we've she'd you're it's 'S ''s can't 'll 'xyz",
    "’s ‘quoted’ “double” I’m they’re",
    "12345 3.14159 1,000,000 007 ١٢٣ ⅷ ² ½ 一二三",
    "<|endoftext|>",
    "hello<|endoftext|>world <|endoftext|> \n<|endoftext|>",
    "\u00a0\u2003x\u3000y\u001c z\u0085w\u2028v\u2029u\u000b\u000c t \u180e s\u200b",
    "-" * 500,
    "1" * 200,
    "http://example.com/path?q=1&r=two#frag e-mail: a.b@c.de",
    "int main(void) {\n    return x->y[3] >= 0 ? 1 : -1; // done\n}\n",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "MiXeD CaSe WoRdS ALLCAPS lowercase",
    "’'’'s '’s",
]


def random_texts():
    """Seeded random strings over several code-point ranges (valid UTF-8 only:
    Python strings without surrogates)."""
    rng = random.Random(9)
    pools = [
        (0x20, 0x7E), (0x09, 0x0D), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF),
        (0x400, 0x4FF), (0x590, 0x6FF), (0x900, 0x97F), (0x1100, 0x11FF), (0x2000, 0x206F),
        (0x2070, 0x218F), (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xACFF),
        (0xFF00, 0xFFEF), (0x1F300, 0x1F6FF), (0x10000, 0x1007F), (0x1D400, 0x1D7FF), (0x0, 0x10FFFF),
    ]
    out = []
    for k in range(12):
        chars = []
        for _ in range(1500):
            lo, hi = rng.choice(pools)
            cp = rng.randint(lo, hi)
            while 0xD800 <= cp <= 0xDFFF:
                cp = rng.randint(lo, hi)
            chars.append(chr(cp))
            if rng.random() < 0.15:
                chars.append(rng.choice([" ", "  ", "\n", "'", "'s", " 1", "\t"]))
        out.append("".join(chars))
    return out


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
    tok = Tokenizer(models.BPE.from_file(data + "/tokenizers/gpt2/encoder.json",
                                         data + "/tokenizers/gpt2/vocab.bpe"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    lines = ["# GPT-2 ids from Hugging Face tokenizers %s, made by tests/tokenizer/make_fixtures.py"
             % tokenizers.__version__]
    for path in FILES:
        with open(data + "/" + path, "rb") as f:
            text = f.read().decode("utf-8")
        ids = tok.encode(text).ids
        digest = hashlib.sha256(struct.pack("<%di" % len(ids), *ids)).hexdigest()
        head = ids[:HEAD]
        lines.append("file %s %d %s %d %s" % (path, len(ids), digest, len(head), " ".join(map(str, head))))
    for text in TEXTS + random_texts():
        ids = tok.encode(text).ids if text else []
        hexed = text.encode("utf-8").hex() or "-"
        lines.append("text %s %d%s" % (hexed, len(ids), "".join(" %d" % i for i in ids)))
    with open("tests/tokenizer/gpt2_fixtures.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
