"""TIDY: one suspicion ranking from several training-dynamics signals.

The rule (documented in docs/training_data.md): each signal's suspicion is turned into its
percentile rank among the samples (average ranks for ties, scaled to 0..1, 1 = most suspicious),
and TIDY's suspicion is the weighted mean of those ranks. Default signals and weights:
``confidence`` (data map, low = suspicious) 1, ``aum`` (low = suspicious) 1, ``forgetting``
(never learned first, then many events) 0.5, ``bhdf`` (detector probability) 1. Ranks make the
signals comparable whatever their scale; forgetting gets half weight because its counts tie
heavily. A signal that cannot be computed (no margins for AUM) is left out and recorded.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from .aum import aum
from .bhdf import bhdf
from .data_map import data_map
from .forgetting import forgetting_events
from .recorder import load_dynamics
from .result import TrainingDataResult, new_result

__all__ = ["tidy", "DEFAULT_WEIGHTS", "percentile_rank"]

DEFAULT_WEIGHTS = {"confidence": 1.0, "aum": 1.0, "forgetting": 0.5, "bhdf": 1.0}


def percentile_rank(values) -> np.ndarray:
    """Average rank of each value scaled to 0..1 (ties share their mean rank; one value -> 0.5)."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 1:
        return np.array([0.5])
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    start = np.cumsum(counts) - counts
    ranks = (start + (counts - 1) / 2.0)[inverse.reshape(-1)]
    return ranks / (n - 1)


def tidy(dynamics, weights: Optional[Dict[str, float]] = None, epochs=None, bhdf_weights=None,
         label_names=None) -> TrainingDataResult:
    """Combine data-map confidence, AUM, forgetting events and BHDF into one ranking.

    Parameters
    ----------
    dynamics : recording folder, recorder, callback or TrainingDynamics
    weights : dict or None, default None
        Signal -> weight among ``confidence``, ``aum``, ``forgetting``, ``bhdf``; None =
        :data:`DEFAULT_WEIGHTS`. A weight of 0 leaves a signal out.
    epochs : None, int or list of int, default None
    bhdf_weights : path or None, default None
        The BHDF detector file; None = the shipped one.
    label_names : list of str or None, default None

    Returns
    -------
    TrainingDataResult
        ``method='tidy'``; scores: every signal's raw value (``confidence``, ``variability``,
        ``correctness``, ``aum``, ``forgetting_events``, ``never_learned``,
        ``noisy_probability``) and ``<signal>_rank``; suspicion = the weighted mean rank.
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown TIDY signals {sorted(unknown)}; valid: {sorted(DEFAULT_WEIGHTS)}")
    if any((not np.isfinite(w)) or w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"weights must be finite, >= 0 and not all 0; got {weights}")
    d = load_dynamics(dynamics).select_epochs(epochs)
    parts, scores, skipped = {}, {}, []
    if weights.get("confidence", 0) > 0:
        r = data_map(d)
        parts["confidence"] = r.suspicion
        scores.update(r.scores)
    if weights.get("aum", 0) > 0:
        try:
            r = aum(d)
            parts["aum"] = r.suspicion
            scores["aum"] = r.scores["aum"]
        except ValueError:
            skipped.append("aum")
    if weights.get("forgetting", 0) > 0:
        r = forgetting_events(d)
        parts["forgetting"] = r.suspicion
        scores["forgetting_events"] = r.scores["forgetting_events"]
        scores["never_learned"] = r.scores["never_learned"]
    if weights.get("bhdf", 0) > 0:
        r = bhdf(d, weights=bhdf_weights)
        parts["bhdf"] = r.suspicion
        scores["noisy_probability"] = r.scores["noisy_probability"]
    total = sum(weights[k] for k in parts)
    suspicion = np.zeros(d.num_samples)
    for name, s in parts.items():
        rank = percentile_rank(s)
        scores[f"{name}_rank"] = rank
        suspicion += weights[name] * rank / total
    return new_result("tidy", d, suspicion, scores,
                      {"weights": {k: float(weights[k]) for k in parts}, "skipped": skipped,
                       "epochs": None if epochs is None else d.epochs.tolist()}, label_names)
