"""Area under the margin (AUM; Pleiss et al., NeurIPS 2020).

Per sample, the mean over recorded epochs of the margin ``logit[given label] - max over other
classes of logit``, taken from the logits the model produced during training. Mislabelled samples
keep a low (often negative) margin because the rest of their class pulls them towards their true
class. Suspicion = ``-AUM``.

The paper also calibrates a threshold with "threshold samples" assigned to a fake extra class;
that needs a change to the training (an extra output) and is not done here: the ranking is the
score, and :func:`aum` reports the share of samples with negative AUM as a rough cut.
"""
from __future__ import annotations

import numpy as np

from .recorder import load_dynamics
from .result import TrainingDataResult, new_result

__all__ = ["aum"]


def aum(dynamics, epochs=None, label_names=None) -> TrainingDataResult:
    """The area under the margin of every sample.

    Parameters
    ----------
    dynamics : recording folder, recorder, callback or TrainingDynamics
        Needs margins (every recording has them; :meth:`TrainingDynamics.from_arrays` without
        ``margin`` does not).
    epochs : None, int or list of int, default None
    label_names : list of str or None, default None

    Returns
    -------
    TrainingDataResult
        ``method='aum'``; scores ``aum`` and ``last_margin``; suspicion ``-aum``;
        ``params['negative_share']``.
    """
    d = load_dynamics(dynamics).select_epochs(epochs)
    seen = d.seen
    if np.all(np.isnan(d.margin[seen])):
        raise ValueError("these dynamics have no margins (built without logits); AUM needs the recorded margins")
    count = seen.sum(axis=1)
    value = np.where(seen, d.margin, 0.0).sum(axis=1) / np.maximum(count, 1)
    last = np.full(d.num_samples, np.nan)
    for e in range(d.num_epochs):
        last = np.where(seen[:, e], d.margin[:, e], last)
    return new_result("aum", d, -value, {"aum": value, "last_margin": last},
                      {"epochs": None if epochs is None else d.epochs.tolist(),
                       "negative_share": float(np.mean(value < 0))}, label_names)
