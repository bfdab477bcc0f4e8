"""SGD noise: full-batch gradient descent vs minibatch SGD vs Bernoulli-masked GD at equal steps.

Three runs from the same initial weights, with the same learning rate and number of steps:

* ``gd``: the gradient of the mean loss over all ``N`` training samples;
* ``sgd``: the mean loss over a minibatch of ``batch_size`` samples drawn without replacement at
  every step;
* ``masked_gd``: every sample's loss multiplied by an independent Bernoulli(``batch_size / N``)
  mask and divided by ``batch_size``: an unbiased gradient whose noise has the multiplicative,
  sample-dependent structure of SGD's noise (Wu et al., "On the noisy gradient descent that
  generalizes as SGD", ICML 2020).

Comparing their train and test curves shows how much of SGD's behaviour comes from its noise:
``masked_gd`` typically tracks ``sgd`` rather than ``gd``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

from ..._home import atomic_write
from .._validation import check_positive_int, resolve_seed

__all__ = ["sgd_noise", "SGDNoiseResult", "REGIMES"]

REGIMES = ("gd", "sgd", "masked_gd")


@dataclass
class SGDNoiseResult:
    """Curves of the three training regimes.

    Attributes
    ----------
    steps : ndarray (T,)
        The steps at which the curves were measured (0 = the initial weights).
    curves : dict regime -> dict metric -> ndarray (T,)
        Metrics ``train_loss``, ``train_accuracy`` and, with test data, ``test_loss``,
        ``test_accuracy``; plus ``gradient_noise``: the norm of (the step's gradient - the full
        gradient) at each measured step, relative to the full gradient's norm (0 for ``gd``).
    params : dict
        Every parameter, including the seed.
    """

    steps: np.ndarray
    curves: Dict[str, Dict[str, np.ndarray]]
    params: Dict[str, Any] = field(default_factory=dict)
    figure_path: Optional[str] = None

    def final(self, metric: str = "test_accuracy") -> Dict[str, float]:
        """The last value of ``metric`` per regime."""
        return {r: float(c[metric][-1]) for r, c in self.curves.items() if metric in c}

    def save(self, path) -> Path:
        """Write an ``.npz`` (no pickle) atomically."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = {f"{r}__{m}": v for r, c in self.curves.items() for m, v in c.items()}
        meta = {"kind": "sgd_noise", "params": self.params, "keys": sorted(arrays)}
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, meta=np.array(json.dumps(meta)), steps=self.steps, **arrays)
        return path

    @classmethod
    def load(cls, path) -> "SGDNoiseResult":
        with np.load(path, allow_pickle=False) as d:
            meta = json.loads(str(d["meta"]))
            if meta.get("kind") != "sgd_noise":
                raise ValueError(f"'{path}' is not an SGD-noise result")
            curves: Dict[str, Dict[str, np.ndarray]] = {}
            for key in meta["keys"]:
                r, m = key.split("__", 1)
                curves.setdefault(r, {})[m] = d[key]
            return cls(steps=d["steps"], curves=curves, params=meta["params"])


def _gradient_vector(network):
    return np.concatenate([p.grad.numpy().ravel() for p in network.parameters() if p.grad is not None]) \
        if any(p.grad is not None for p in network.parameters()) else np.zeros(0)


def sgd_noise(network, x_train, y_train, x_test=None, y_test=None, *, steps: int = 200, learning_rate: float = 0.1,
              batch_size: int = 32, regimes: Sequence[str] = REGIMES, eval_every: int = 10,
              random_state: Optional[int] = 0, progress: bool = True) -> SGDNoiseResult:
    """Train copies of ``network`` with GD, SGD and Bernoulli-masked GD for ``steps`` steps each.

    The network's weights and train/eval flags are restored afterwards (each run starts from the
    weights it had on entry). Cross-entropy loss on the network's outputs (logits), plain SGD
    updates (``paddle.optimizer.SGD``).

    Parameters
    ----------
    network : paddle.nn.Layer
        A classifier returning logits ``(B, K)``.
    x_train, y_train : array-like
        The whole training set (inputs as the network takes them; integer labels).
    x_test, y_test : array-like or None, default None
        Held-out data for test curves.
    steps : int, default 200
    learning_rate : float, default 0.1
    batch_size : int, default 32
        SGD's minibatch size, and the expected number of unmasked samples of ``masked_gd``.
    regimes : sequence of str, default ('gd', 'sgd', 'masked_gd')
    eval_every : int, default 10
        Measure the curves every this many steps (and at steps 0 and ``steps``).
    random_state : int or None, default 0
        Seed of the minibatches and masks (NumPy); recorded. Dropout, if any, uses Paddle's own
        generator.
    progress : bool, default True

    Returns
    -------
    SGDNoiseResult
    """
    import paddle
    import paddle.nn.functional as F

    if not isinstance(network, paddle.nn.Layer):
        raise TypeError(f"network must be a paddle.nn.Layer, got {type(network).__name__}")
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    eval_every = check_positive_int(eval_every, "eval_every")
    if not (isinstance(learning_rate, (int, float)) and np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    regimes = tuple(regimes)
    bad = [r for r in regimes if r not in REGIMES]
    if bad or not regimes:
        raise ValueError(f"regimes must be a non-empty subset of {REGIMES}, got {regimes}")
    x = np.asarray(x_train, dtype=np.float32)
    y = np.asarray(y_train).astype(np.int64).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"x_train has {len(x)} samples but y_train {len(y)}")
    n = len(y)
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the {n} training samples")
    has_test = x_test is not None and y_test is not None
    if has_test:
        xt = paddle.to_tensor(np.asarray(x_test, dtype=np.float32))
        yt = paddle.to_tensor(np.asarray(y_test).astype(np.int64).reshape(-1))
    seed = resolve_seed(random_state)
    xs, ys = paddle.to_tensor(x), paddle.to_tensor(y)
    saved_state = {k: v.numpy().copy() for k, v in network.state_dict().items()}
    saved_flags = [(sub, sub.training) for sub in network.sublayers(include_self=True)]
    measured = sorted(set(list(range(0, steps + 1, eval_every)) + [steps]))
    curves: Dict[str, Dict[str, list]] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps * len(regimes), desc="sgd_noise")

    def losses(inputs, labels):
        return F.cross_entropy(network(inputs), labels, reduction="none").reshape([-1])

    def full_gradient():
        network.clear_gradients()
        losses(xs, ys).mean().backward()
        g = _gradient_vector(network)
        network.clear_gradients()
        return g

    def evaluate(c, noise):
        network.eval()
        with paddle.no_grad():
            out = network(xs)
            c["train_loss"].append(float(F.cross_entropy(out, ys).item()))
            c["train_accuracy"].append(float((out.argmax(axis=1) == ys).astype("float32").mean().item()))
            if has_test:
                out = network(xt)
                c["test_loss"].append(float(F.cross_entropy(out, yt).item()))
                c["test_accuracy"].append(float((out.argmax(axis=1) == yt).astype("float32").mean().item()))
        c["gradient_noise"].append(noise)
        network.train()

    try:
        for k, regime in enumerate(regimes):
            network.set_state_dict({name: paddle.to_tensor(v) for name, v in saved_state.items()})
            network.train()
            rng = np.random.default_rng([seed, k])
            optimizer = paddle.optimizer.SGD(learning_rate=float(learning_rate), parameters=network.parameters())
            c = {m: [] for m in ("train_loss", "train_accuracy", "gradient_noise")
                 + (("test_loss", "test_accuracy") if has_test else ())}
            evaluate(c, 0.0)
            for step in range(1, steps + 1):
                if regime == "gd":
                    loss = losses(xs, ys).mean()
                elif regime == "sgd":
                    idx = paddle.to_tensor(rng.choice(n, size=batch_size, replace=False).astype(np.int64))
                    loss = losses(paddle.gather(xs, idx), paddle.gather(ys, idx)).mean()
                else:
                    mask = paddle.to_tensor((rng.random(n) < batch_size / n).astype(np.float32))
                    loss = (losses(xs, ys) * mask).sum() / batch_size
                record = step in measured
                if record and regime != "gd":
                    reference = full_gradient()
                loss.backward()
                if record:
                    if regime == "gd":
                        noise = 0.0
                    else:
                        g = _gradient_vector(network)
                        noise = float(np.linalg.norm(g - reference) / max(np.linalg.norm(reference), 1e-12))
                optimizer.step()
                optimizer.clear_grad()
                if record:
                    evaluate(c, noise)
                if bar is not None:
                    bar.update(1)
            curves[regime] = {m: np.asarray(v, dtype=np.float64) for m, v in c.items()}
    finally:
        network.clear_gradients()
        network.set_state_dict({name: paddle.to_tensor(v) for name, v in saved_state.items()})
        for sub, training in saved_flags:
            sub.training = training
        if bar is not None:
            bar.close()
    params = {"steps": steps, "learning_rate": float(learning_rate), "batch_size": batch_size,
              "regimes": list(regimes), "eval_every": eval_every, "random_state": seed, "num_train": n,
              "num_test": int(len(yt)) if has_test else 0}
    return SGDNoiseResult(steps=np.asarray(measured, np.int64), curves=curves, params=params)
