"""Data maps (dataset cartography; Swayamdipta et al., EMNLP 2020).

Per training sample, over the recorded epochs (the probabilities the model gave during training):

* confidence  = mean of p(given label),
* variability = standard deviation of p(given label) (population form, ``ddof=0``),
* correctness = share of epochs in which the prediction equalled the given label.

Easy-to-learn samples have high confidence and low variability, ambiguous ones high variability,
hard-to-learn ones (where mislabelled samples gather) low confidence and low variability. The
suspicion score is ``1 - confidence``. Epochs in which a sample was not seen are skipped.
"""
from __future__ import annotations

import numpy as np

from .recorder import load_dynamics
from .result import TrainingDataResult, new_result

__all__ = ["data_map", "data_map_statistics"]


def data_map_statistics(dynamics):
    """``(confidence, variability, correctness)``, each ``(N,)``, of a recording."""
    d = load_dynamics(dynamics)
    seen = d.seen
    count = seen.sum(axis=1)
    if np.any(count == 0):
        raise ValueError("some samples were never recorded")
    p = np.where(seen, d.p_gold, 0.0)
    confidence = p.sum(axis=1) / count
    variability = np.sqrt((np.where(seen, (d.p_gold - confidence[:, None]) ** 2, 0.0)).sum(axis=1) / count)
    correctness = d.correct.sum(axis=1) / count
    return confidence, variability, correctness


def data_map(dynamics, epochs=None, label_names=None) -> TrainingDataResult:
    """Confidence, variability and correctness of every sample.

    Parameters
    ----------
    dynamics : recording folder, TrainingDynamicsRecorder, TrainingDynamicsCallback or TrainingDynamics
    epochs : None, int or list of int, default None
        Which epochs to use (:meth:`TrainingDynamics.select_epochs`); None = all.
    label_names : list of str or None, default None

    Returns
    -------
    TrainingDataResult
        ``method='data_map'``, scores ``confidence``, ``variability``, ``correctness``;
        suspicion ``1 - confidence``.
    """
    d = load_dynamics(dynamics).select_epochs(epochs)
    confidence, variability, correctness = data_map_statistics(d)
    return new_result("data_map", d, 1.0 - confidence,
                      {"confidence": confidence, "variability": variability, "correctness": correctness},
                      {"epochs": None if epochs is None else d.epochs.tolist()}, label_names)
