"""Forgetting events (Toneva et al., ICLR 2019).

A forgetting event is a transition from correct (prediction = given label) at one presentation of
a sample to wrong at its next presentation. Presentations are the recorded epochs in which the
sample was seen, in order. A sample that is never classified correctly is *never learned*: its
``forgetting_events`` is ``-1`` and ``never_learned`` is 1.

Examples: correctness 1,0,1,0,1,0 over six epochs has 3 events; 0,1,0,1,0,1 has 2; 1,1,1,1 has
0 (unforgettable); 0,0,0,0 is never learned.

Suspicion: the number of events, and ``num_epochs`` (more than any possible count, which is at
most ``num_epochs // 2``) for never-learned samples, so they rank first, as in the paper, where
they count as forgotten infinitely often.
"""
from __future__ import annotations

import numpy as np

from .recorder import load_dynamics
from .result import TrainingDataResult, new_result

__all__ = ["forgetting_events", "count_forgetting_events"]


def count_forgetting_events(correct, seen=None):
    """``(events, first_learned)`` per row of a ``(N, E)`` correctness array: the number of
    correct -> wrong transitions between consecutive presentations (-1 if never correct) and the
    first epoch position with a correct prediction (-1 if none)."""
    correct = np.asarray(correct, dtype=bool)
    seen = np.ones_like(correct) if seen is None else np.asarray(seen, dtype=bool)
    n = correct.shape[0]
    events = np.zeros(n, np.int64)
    first = np.full(n, -1, np.int64)
    previous = np.zeros(n, dtype=bool)
    has_previous = np.zeros(n, dtype=bool)
    for e in range(correct.shape[1]):
        s = seen[:, e]
        c = correct[:, e] & s
        events += (s & has_previous & previous & ~c).astype(np.int64)
        first[(first < 0) & c] = e
        previous = np.where(s, c, previous)
        has_previous |= s
    events[first < 0] = -1
    return events, first


def forgetting_events(dynamics, epochs=None, label_names=None) -> TrainingDataResult:
    """Forgetting events of every sample.

    Parameters
    ----------
    dynamics : recording folder, recorder, callback or TrainingDynamics
    epochs : None, int or list of int, default None
        Which epochs to use; None = all.
    label_names : list of str or None, default None

    Returns
    -------
    TrainingDataResult
        ``method='forgetting'``; scores ``forgetting_events`` (-1 = never learned),
        ``never_learned`` (0/1), ``first_learned_epoch`` (-1 = never); suspicion as in the
        module docstring.
    """
    d = load_dynamics(dynamics).select_epochs(epochs)
    events, first = count_forgetting_events(d.correct, d.seen)
    never = events < 0
    first_epoch = np.where(first >= 0, d.epochs[np.maximum(first, 0)], -1)
    suspicion = np.where(never, float(d.num_epochs), events.astype(np.float64))
    return new_result("forgetting", d, suspicion,
                      {"forgetting_events": events, "never_learned": never.astype(np.int64),
                       "first_learned_epoch": first_epoch},
                      {"epochs": None if epochs is None else d.epochs.tolist()}, label_names)
