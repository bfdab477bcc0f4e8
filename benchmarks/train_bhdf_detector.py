"""Build the BHDF noisy-label detector shipped as ``paddlex_interpret/resources/bhdf_detector.npz``.

Deterministic: the same settings give the same file (NumPy generators seeded from ``--seed``,
Paddle used only for autograd, no Paddle random numbers). Steps:

1. Meta-training data: ``--tasks`` synthetic classification tasks (scikit-learn
   ``make_classification``; the number of classes, class separation, size, noise rate, network
   width, learning rate and number of epochs drawn per task). Each task gets symmetric label noise
   (a flipped label is any *other* class), and a one-hidden-layer MLP (NumPy, minibatch SGD) is
   trained on the noisy labels; the p(given label) of every sample in its training minibatch is
   recorded per epoch, as :class:`TrainingDynamicsRecorder` records it.
2. The trajectories are resampled to ``--seq-len`` points
   (:func:`paddlex_interpret.engine.training_data.bhdf.trajectory_features`) and an LSTM
   (``--hidden`` units, the gate layout of ``bhdf.lstm_logits``) is trained with Adam and binary
   cross-entropy to tell flipped labels from clean ones.
3. The weights and every build parameter go into one ``.npz`` (no pickle), written atomically.

No real dataset of the benchmark (digits, Rotten Tomatoes) is used, so the benchmark measures
transfer to data the detector never saw.

    python benchmarks/train_bhdf_detector.py                  # rebuild the shipped file
    python benchmarks/train_bhdf_detector.py --output /tmp/d.npz --tasks 2 --lstm-steps 5   # quick check
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paddlex_interpret._home import atomic_write  # noqa: E402
from paddlex_interpret.engine.training_data.bhdf import DEFAULT_WEIGHTS, lstm_logits, trajectory_features  # noqa: E402

DEFAULTS = {"seed": 2022, "tasks": 36, "seq_len": 16, "hidden": 16, "lstm_steps": 1500, "lstm_batch": 512,
            "lstm_lr": 0.01}


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def task_trajectories(task_seed: int):
    """One meta-training task: ``(p_gold (N, E), is_noisy (N,))``."""
    from sklearn.datasets import make_classification

    rng = np.random.default_rng([task_seed, 1])
    k = int(rng.integers(2, 11))
    n = int(rng.integers(600, 1601))
    sep = float(rng.uniform(0.6, 2.0))
    noise = float(rng.choice([0.1, 0.2, 0.3, 0.4]))
    hidden = int(rng.choice([32, 64, 128]))
    lr = float(rng.choice([0.05, 0.1, 0.2]))
    epochs = int(rng.integers(8, 41))
    batch = int(rng.choice([16, 32, 64]))
    x, y = make_classification(n_samples=n, n_features=20, n_informative=10, n_redundant=4, n_classes=k,
                               n_clusters_per_class=2 if k <= 4 else 1, class_sep=sep, flip_y=0.0,
                               random_state=int(rng.integers(2 ** 31 - 1)))
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    flip = rng.random(n) < noise
    given = y.copy()
    given[flip] = (y[flip] + rng.integers(1, k, size=int(flip.sum()))) % k
    w1 = rng.normal(0, np.sqrt(2.0 / x.shape[1]), (x.shape[1], hidden))
    b1 = np.zeros(hidden)
    w2 = rng.normal(0, np.sqrt(1.0 / hidden), (hidden, k))
    b2 = np.zeros(k)
    p_gold = np.zeros((n, epochs))
    for e in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            h = np.maximum(x[idx] @ w1 + b1, 0)
            p = _softmax(h @ w2 + b2)
            p_gold[idx, e] = p[np.arange(len(idx)), given[idx]]
            g = p.copy()
            g[np.arange(len(idx)), given[idx]] -= 1
            g /= len(idx)
            gw2, gb2 = h.T @ g, g.sum(0)
            gh = (g @ w2.T) * (h > 0)
            gw1, gb1 = x[idx].T @ gh, gh.sum(0)
            w1 -= lr * gw1
            b1 -= lr * gb1
            w2 -= lr * gw2
            b2 -= lr * gb2
    return p_gold, flip


def train_lstm(features: np.ndarray, targets: np.ndarray, hidden: int, steps: int, batch: int, lr: float, seed: int):
    """Adam + BCE on an LSTM with the gate layout of ``bhdf.lstm_logits``; returns NumPy weights."""
    import paddle
    import paddle.nn.functional as F

    rng = np.random.default_rng([seed, 2])
    n_in = features.shape[2]
    scale = 1.0 / np.sqrt(hidden)
    init = {"w_x": rng.uniform(-scale, scale, (4 * hidden, n_in)), "w_h": rng.uniform(-scale, scale, (4 * hidden, hidden)),
            "b": np.concatenate([np.zeros(hidden), np.ones(hidden), np.zeros(2 * hidden)]),
            "head_w": rng.uniform(-scale, scale, hidden), "head_b": np.zeros(())}
    params = {k: paddle.create_parameter(list(v.shape) or [1], "float64",
                                         default_initializer=paddle.nn.initializer.Assign(v.reshape(list(v.shape) or [1])))
              for k, v in init.items()}
    opt = paddle.optimizer.Adam(learning_rate=lr, parameters=list(params.values()))
    x_all = features.astype(np.float64)
    t_all = targets.astype(np.float64)
    for step in range(steps):
        idx = rng.choice(len(x_all), size=min(batch, len(x_all)), replace=False)
        xb = paddle.to_tensor(x_all[idx])
        h = paddle.zeros([len(idx), hidden], dtype="float64")
        c = paddle.zeros([len(idx), hidden], dtype="float64")
        for t in range(xb.shape[1]):
            z = paddle.matmul(xb[:, t, :], params["w_x"], transpose_y=True) + \
                paddle.matmul(h, params["w_h"], transpose_y=True) + params["b"]
            i, f, g, o = paddle.split(z, 4, axis=1)
            c = F.sigmoid(f) * c + F.sigmoid(i) * paddle.tanh(g)
            h = F.sigmoid(o) * paddle.tanh(c)
        logit = paddle.matmul(h, params["head_w"].reshape([hidden, 1])).reshape([-1]) + params["head_b"]
        loss = F.binary_cross_entropy_with_logits(logit, paddle.to_tensor(t_all[idx]))
        loss.backward()
        opt.step()
        opt.clear_grad()
    out = {k: params[k].numpy().reshape(init[k].shape) for k in init}
    return out


def build(seed: int, tasks: int, seq_len: int, hidden: int, lstm_steps: int, lstm_batch: int, lstm_lr: float):
    """``(arrays, meta)`` of a detector built with these settings."""
    feats, targets, task_info = [], [], []
    for t in range(tasks):
        p_gold, flip = task_trajectories(seed * 1000 + t)
        feats.append(trajectory_features(p_gold, seq_len=seq_len))
        targets.append(flip)
        task_info.append({"samples": int(len(flip)), "epochs": int(p_gold.shape[1]), "noise": float(flip.mean())})
    x = np.concatenate(feats)
    y = np.concatenate(targets)
    arrays = train_lstm(x, y, hidden, lstm_steps, lstm_batch, lstm_lr, seed)
    pred = lstm_logits(x, **arrays)
    from sklearn.metrics import roc_auc_score

    build_params = {"seed": seed, "tasks": tasks, "seq_len": seq_len, "hidden": hidden, "lstm_steps": lstm_steps,
                    "lstm_batch": lstm_batch, "lstm_lr": lstm_lr}
    meta = {"kind": "bhdf_detector", "version": 1, "seq_len": seq_len, "hidden": hidden, "features": ["p_gold"],
            "build": build_params, "train_auroc": float(roc_auc_score(y, pred)), "train_samples": int(len(y)),
            "script": "benchmarks/train_bhdf_detector.py"}
    return arrays, meta


def write(path: Path, arrays: dict, meta: dict) -> Path:
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta, sort_keys=True)),
                     **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()})
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=str(DEFAULT_WEIGHTS))
    for key, value in DEFAULTS.items():
        parser.add_argument("--" + key.replace("_", "-"), type=type(value), default=value)
    args = parser.parse_args(argv)
    settings = {k: getattr(args, k) for k in DEFAULTS}
    arrays, meta = build(**settings)
    path = write(Path(args.output), arrays, meta)
    print(f"wrote {path} (train AUROC {meta['train_auroc']:.3f} on {meta['train_samples']} trajectories)")
    return path


if __name__ == "__main__":
    main()
