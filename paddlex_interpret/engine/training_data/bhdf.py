"""BHDF: a learned detector of noisy labels from training dynamics ("Beyond hand-designed
features", Jia et al., 2022, arXiv:2212.09321).

A small LSTM reads each sample's trajectory of p(given label) over the epochs and outputs the
probability that the label is wrong. The detector shipped here (``resources/bhdf_detector.npz``)
was trained in this project, on trajectories of small networks trained on synthetic
classification tasks (scikit-learn ``make_classification``) with injected symmetric label noise;
``benchmarks/train_bhdf_detector.py`` rebuilds it deterministically and records its build
parameters in the file. Nothing is downloaded; the file is read with
``np.load(allow_pickle=False)`` and the LSTM runs in NumPy.

Trajectories of any length are resampled to the detector's ``seq_len`` points (linear
interpolation over the fraction of training done), so the detector applies to recordings with
any number of epochs; epochs where a sample was not seen are skipped.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import numpy as np

from .recorder import load_dynamics
from .result import TrainingDataResult, new_result

__all__ = ["BHDFDetector", "bhdf", "trajectory_features", "DEFAULT_WEIGHTS"]

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "resources" / "bhdf_detector.npz"
_ARRAYS = ("w_x", "w_h", "b", "head_w", "head_b")


def trajectory_features(p_gold, seen=None, seq_len: int = 16) -> np.ndarray:
    """``(N, seq_len, 1)``: each row's p(given label) over its seen epochs, resampled linearly
    to ``seq_len`` points (a single seen epoch is repeated)."""
    p = np.asarray(p_gold, dtype=np.float64)
    seen = np.isfinite(p) if seen is None else np.asarray(seen, dtype=bool) & np.isfinite(p)
    out = np.empty((p.shape[0], seq_len), np.float64)
    grid = np.linspace(0.0, 1.0, seq_len)
    full = seen.all(axis=1)
    if p.shape[1] == 1:
        out[full] = p[full]
    else:
        x = np.linspace(0.0, 1.0, p.shape[1])
        idx = np.clip(np.searchsorted(x, grid, side="right") - 1, 0, p.shape[1] - 2)
        t = (grid - x[idx]) / (x[idx + 1] - x[idx])
        out[full] = p[full][:, idx] * (1 - t) + p[full][:, idx + 1] * t
    for i in np.flatnonzero(~full):
        values = p[i, seen[i]]
        if len(values) == 0:
            raise ValueError(f"sample row {i} was never recorded")
        out[i] = values[0] if len(values) == 1 else np.interp(grid, np.linspace(0, 1, len(values)), values)
    return out[:, :, None]


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def lstm_logits(features: np.ndarray, w_x, w_h, b, head_w, head_b) -> np.ndarray:
    """The detector's logit per row: an LSTM (gates input, forget, cell, output stacked in that
    order in ``w_x`` ``(4H, F)``, ``w_h`` ``(4H, H)``, ``b`` ``(4H,)``) over the sequence, then a
    linear head on the last hidden state."""
    n, steps, _ = features.shape
    hidden = w_h.shape[1]
    h = np.zeros((n, hidden))
    c = np.zeros((n, hidden))
    for t in range(steps):
        z = features[:, t, :] @ w_x.T + h @ w_h.T + b
        i, f, g, o = (z[:, k * hidden:(k + 1) * hidden] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
    return h @ head_w + head_b


class BHDFDetector:
    """The LSTM noisy-label detector.

    Parameters
    ----------
    weights : path or None, default None
        A detector file (``.npz`` written by ``benchmarks/train_bhdf_detector.py``); None = the
        shipped one.
    """

    def __init__(self, weights=None):
        path = Path(DEFAULT_WEIGHTS if weights is None else os.fspath(weights))
        if not path.is_file():
            raise FileNotFoundError(f"BHDF detector weights not found: '{path}'")
        try:
            with np.load(path, allow_pickle=False) as data:
                self.meta = json.loads(str(data["meta"]))
                arrays = {k: np.asarray(data[k], dtype=np.float64) for k in _ARRAYS}
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"'{path}' is not a BHDF detector file: {exc}") from None
        if self.meta.get("kind") != "bhdf_detector":
            raise ValueError(f"'{path}' is not a BHDF detector file (kind {self.meta.get('kind')!r})")
        self.path = path
        self.seq_len = int(self.meta["seq_len"])
        self.arrays = arrays

    def predict_logits(self, p_gold, seen=None) -> np.ndarray:
        """Detector logits ``(N,)`` for ``(N, E)`` p(given label) trajectories."""
        return lstm_logits(trajectory_features(p_gold, seen, self.seq_len), **self.arrays)

    def predict_proba(self, p_gold, seen=None) -> np.ndarray:
        """Probability ``(N,)`` that each label is wrong."""
        return _sigmoid(self.predict_logits(p_gold, seen))


def bhdf(dynamics, weights=None, epochs=None, label_names=None) -> TrainingDataResult:
    """Score every sample with the BHDF detector.

    Parameters
    ----------
    dynamics : recording folder, recorder, callback or TrainingDynamics
    weights : path or None, default None
        Detector file; None = the shipped ``resources/bhdf_detector.npz``.
    epochs : None, int or list of int, default None
    label_names : list of str or None, default None

    Returns
    -------
    TrainingDataResult
        ``method='bhdf'``; score ``noisy_probability`` (also the suspicion).
    """
    d = load_dynamics(dynamics).select_epochs(epochs)
    detector = BHDFDetector(weights)
    prob = detector.predict_proba(d.p_gold, d.seen)
    return new_result("bhdf", d, prob, {"noisy_probability": prob},
                      {"weights": str(detector.path), "detector": detector.meta.get("build", {}),
                       "epochs": None if epochs is None else d.epochs.tolist()}, label_names)
