#!/usr/bin/env python3
"""Prints the expected values of tests/test_eval_gen.c's NORM table: for each
(prediction, gold) pair, the normalised prediction, exact match and F1 as the
official SQuAD v1.1 evaluation script (evaluate-v1.1.py) computes them. The
three functions below are copied from that script unchanged. Standard library
only: python3 tests/eval_gen/squad_norm.py"""
import collections
import json
import re
import string


def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


CASES = [
    ("The Denver Broncos!", "Denver Broncos"),
    ("  an apple a day, the\tbest  ", "apple day best"),
    ("Théâtre de l'Odéon", "THÉÂTRE DE LODÉON"),
    ("the cat the cat sat", "cat sat on the mat"),
    ("another theme", "another theme"),
    ("a_b the_c", "ab thec"),
    ("ΑΘΗΝΑ", "αθηνα"),
    ("МОСКВА и", "москва И"),
    ("\u00a0the\u2003end\u3000", "end"),
    ("", "anything"),
    ("the", ""),
    ("Beyoncé's 2003 album", "beyonces 2003 album"),
    ("1,000 (approx.)", "1000 approx"),
    ("théa the", "théa"),
    ("x\u2013the\u2013y", "x y"),
]

for p, g in CASES:
    print(json.dumps([p, g, normalize_answer(p), float(exact_match_score(p, g)), f1_score(p, g)]))

# tests/test_eval_gen.c's UTF8 table: bytes -> Python's decode("utf-8", "replace"), as hex
UTF8 = [b"ok", b"\xe2\x82", b"\xe2\x82A", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80",
        b"\xf4\x90\x80\x80", b"\x80\x80", b"a\xffb", b"\xe0\x80\xaf", b"\xe0\xa0", b"caf\xc3\xa9\xc3"]
for b in UTF8:
    print(b.hex(), b.decode("utf-8", "replace").encode().hex())
