#!/usr/bin/env python3
"""Parameter counts of the HF config fixtures (tests/fixtures/hf_configs) as
transformers builds them, on the meta device (no memory): an independent
check of the numbers tests/test_import_config.sh expects from `hylab
describe` after `hylab import-config`. Not run by the tests (it needs torch
and transformers); run by hand:
    /path/to/venv/bin/python tests/ref/hf_config_counts.py
Hymba is not in transformers (its modeling code is remote): skipped here."""
import glob, json, os, re, sys

import torch
import transformers

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "hf_configs")

def load(path):
    text = open(path).read()
    return json.loads(text)  # Python's json reads the bare Infinity itself

for path in sorted(glob.glob(os.path.join(HERE, "*.json"))):
    cfg = load(path)
    mt = cfg["model_type"]
    if mt == "hymba":
        print(f"{os.path.basename(path)}: skipped (remote code)")
        continue
    conf = transformers.AutoConfig.for_model(**cfg)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(conf)
    n = sum(p.numel() for p in model.parameters())
    print(f"{os.path.basename(path)}: {n}")
