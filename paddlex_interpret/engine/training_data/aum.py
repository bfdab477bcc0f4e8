"""Area under the margin (AUM; Pleiss et al., NeurIPS 2020).

Per sample, the mean over recorded epochs of the margin ``logit[given label] - max over other
classes of logit``, taken from the logits the model produced during training. Mislabelled samples
keep a low (often negative) margin because the rest of their class pulls them towards their true
class. Suspicion = ``-AUM``.

Without calibration the ranking is the score, and :func:`aum` reports the share of samples with
negative AUM as a rough cut. The paper's calibrated cut-off ("threshold samples") needs one
change to the user's training, which this module prepares and then evaluates:

1. :func:`aum_threshold_samples` picks a seeded random ``1/(c+1)`` of the training samples and
   gives the relabelled targets: those samples get a fake extra class ``c``;
2. the user trains a network with ``c + 1`` outputs on these targets, recording the dynamics as
   usual (the recorder sees ``c + 1`` classes and the relabelled targets);
3. :func:`aum_with_threshold` takes the 99th percentile of the threshold samples' AUM (samples
   that are mislabelled by construction) as the cut-off and flags every other sample whose AUM
   is at or below it.

The threshold samples themselves are not judged in that run; a second training with
``round=1`` uses a disjoint subset, so it judges the first run's threshold samples.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..._home import read_npz, write_npz
from .._validation import check_positive_int, resolve_seed
from .recorder import TrainingDynamics, load_dynamics
from .result import TrainingDataResult, new_result

__all__ = ["aum", "aum_threshold_samples", "aum_with_threshold", "ThresholdSamples", "load_threshold_samples"]

_KIND = "aum_threshold_samples"
_STREAM = 0x41554D  # 'AUM': salts the seed of the threshold-sample choice


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
    value = _aum_values(d)
    last = np.full(d.num_samples, np.nan)
    for e in range(d.num_epochs):
        last = np.where(seen[:, e], d.margin[:, e], last)
    return new_result("aum", d, -value, {"aum": value, "last_margin": last},
                      {"epochs": None if epochs is None else d.epochs.tolist(),
                       "negative_share": float(np.mean(value < 0))}, label_names)


def _aum_values(d: TrainingDynamics) -> np.ndarray:
    seen = d.seen
    if np.all(np.isnan(d.margin[seen])):
        raise ValueError("these dynamics have no margins (built without logits); AUM needs the recorded margins")
    return np.where(seen, d.margin, 0.0).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)


# -- threshold samples (the paper's calibrated cut-off) ----------------------------------------------------
@dataclass
class ThresholdSamples:
    """Which training samples are threshold samples in one training run, and the targets to train on.

    Attributes
    ----------
    sample_ids : ndarray (N,) int64
        All training sample ids (sorted).
    original_labels : ndarray (N,) int64
        The given labels, in ``sample_ids`` order.
    threshold_ids : ndarray (M,) int64
        The threshold samples (sorted), relabelled to the fake class.
    num_classes : int
        ``c``, the real classes; the fake class is ``c`` and the network needs ``c + 1`` outputs.
    percentile : float
        The percentile of the threshold samples' AUM used as the cut-off.
    params : dict
        ``fraction``, ``random_state``, ``round``, ``num_rounds``.
    """

    sample_ids: np.ndarray
    original_labels: np.ndarray
    threshold_ids: np.ndarray
    num_classes: int
    percentile: float = 99.0
    params: dict = field(default_factory=dict)

    @property
    def fake_class(self) -> int:
        """The index of the extra class (``num_classes``)."""
        return int(self.num_classes)

    @property
    def num_outputs(self) -> int:
        """Outputs the network trained for the calibration needs (``num_classes + 1``)."""
        return int(self.num_classes) + 1

    @property
    def labels(self) -> np.ndarray:
        """The training targets of every sample (``sample_ids`` order): the given label, or the fake
        class for threshold samples."""
        out = self.original_labels.copy()
        out[np.isin(self.sample_ids, self.threshold_ids)] = self.fake_class
        return out

    def is_threshold(self, sample_ids) -> np.ndarray:
        """Bool per id: is it a threshold sample in this run."""
        return np.isin(np.asarray(sample_ids, dtype=np.int64).reshape(-1), self.threshold_ids)

    def targets(self, sample_ids, labels=None) -> np.ndarray:
        """The training targets of a batch.

        Parameters
        ----------
        sample_ids : array-like of int, shape (B,)
            The batch's sample ids.
        labels : array-like of int or None, default None
            The batch's given labels (e.g. from the data loader); None looks them up here.

        Returns
        -------
        ndarray (B,) int64
            ``labels`` with the threshold samples set to :attr:`fake_class`.
        """
        ids = np.asarray(sample_ids, dtype=np.int64).reshape(-1)
        pos = np.searchsorted(self.sample_ids, ids)
        if np.any(pos >= len(self.sample_ids)) or np.any(self.sample_ids[np.minimum(pos, len(self.sample_ids) - 1)]
                                                         != ids):
            raise ValueError("sample_ids holds ids that are not among the training samples these threshold samples "
                             "were drawn from")
        if labels is None:
            out = self.original_labels[pos].copy()
        else:
            out = np.asarray(labels, dtype=np.int64).reshape(-1).copy()
            if len(out) != len(ids):
                raise ValueError(f"labels has {len(out)} entries, sample_ids {len(ids)}")
        out[np.isin(ids, self.threshold_ids)] = self.fake_class
        return out

    def save(self, path) -> Path:
        """Write an ``.npz`` (no pickle) atomically; returns the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        meta = {"kind": _KIND, "format_version": 1, "num_classes": int(self.num_classes),
                "percentile": float(self.percentile), "params": self.params}
        return write_npz(path, meta, {"sample_ids": self.sample_ids, "original_labels": self.original_labels,
                                      "threshold_ids": self.threshold_ids})

    @classmethod
    def load(cls, path) -> "ThresholdSamples":
        """Read a file written by :meth:`save` (``np.load(allow_pickle=False)``)."""
        meta, arrays = read_npz(path, "threshold-samples")
        if meta.get("kind") != _KIND:
            raise ValueError(f"'{path}' holds a {meta.get('kind')!r} file, not threshold samples")
        return cls(arrays["sample_ids"], arrays["original_labels"], arrays["threshold_ids"], meta["num_classes"],
                   meta["percentile"], meta["params"])


def load_threshold_samples(path) -> ThresholdSamples:
    """Read a :class:`ThresholdSamples` file."""
    return ThresholdSamples.load(path)


def aum_threshold_samples(labels, num_classes: Optional[int] = None, *, sample_ids=None,
                          fraction: Optional[float] = None, random_state: int = 0, round: int = 0,
                          percentile: float = 99.0) -> ThresholdSamples:
    """Pick the threshold samples of one calibration run and give the relabelled targets.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        The given labels of all training samples.
    num_classes : int or None, default None
        ``c``; None = ``max(labels) + 1``.
    sample_ids : array-like of int or None, default None
        The samples' ids as the recorder sees them (non-negative, distinct); None = ``0..N-1``.
    fraction : float or None, default None
        Share of samples made threshold samples; None = ``1 / (c + 1)`` (the paper's choice,
        the size of an average class).
    random_state : int, default 0
        Seed of the random choice (recorded in ``params``).
    round : int, default 0
        Which of the disjoint subsets of a seeded permutation to take: run ``round=0`` and
        ``round=1`` (same seed) to judge every sample of the first run's threshold set in the
        second run.
    percentile : float, default 99.0
        The percentile of the threshold samples' AUM taken as the cut-off (paper: 99).

    Returns
    -------
    ThresholdSamples
        ``.labels`` / ``.targets(ids)`` are the training targets; train ``.num_outputs`` outputs.
    """
    y = np.asarray(labels).reshape(-1)
    if y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        raise TypeError("labels must be a non-empty array of integer class indices")
    if y.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    c = int(y.max()) + 1 if num_classes is None else check_positive_int(num_classes, "num_classes", minimum=2)
    if y.max() >= c:
        raise ValueError(f"labels must lie in 0..{c - 1} (num_classes={c}), got a label {int(y.max())}")
    ids = np.arange(len(y)) if sample_ids is None else np.asarray(sample_ids).reshape(-1)
    if (len(ids) != len(y) or not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0
            or len(np.unique(ids)) != len(ids)):
        raise ValueError(f"sample_ids must be {len(y)} distinct non-negative integers (one per label)")
    if fraction is None:
        fraction = 1.0 / (c + 1)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) or not 0 < fraction < 1:
        raise ValueError(f"fraction must be a number in (0, 1), got {fraction!r}")
    if (isinstance(percentile, bool) or not isinstance(percentile, (int, float, np.floating))
            or not 0 < percentile <= 100):
        raise ValueError(f"percentile must be a number in (0, 100], got {percentile!r}")
    seed = resolve_seed(random_state)
    count = int(np.floor(len(y) * float(fraction)))
    if count < 1:
        raise ValueError(f"fraction={fraction} of {len(y)} samples selects no threshold sample; use a larger fraction")
    num_rounds = len(y) // count
    round = check_positive_int(round, "round", minimum=0)
    if round >= num_rounds:
        raise ValueError(f"round must be in 0..{num_rounds - 1} (disjoint subsets of {count} of {len(y)} samples), "
                         f"got {round}")
    order = np.argsort(ids, kind="stable")
    ids, y = ids[order].astype(np.int64), y[order].astype(np.int64)
    # a stream of its own: np.random.default_rng(seed) is what samplers commonly use (RecordingBatchSampler
    # included), and the same permutation would put all threshold samples in the first batches of epoch 0
    chosen = np.random.default_rng([seed, _STREAM]).permutation(len(y))[round * count:(round + 1) * count]
    return ThresholdSamples(ids, y, np.sort(ids[chosen]), c, float(percentile),
                            {"fraction": float(fraction), "random_state": seed, "round": round,
                             "num_rounds": num_rounds})


def aum_with_threshold(dynamics, threshold_samples, epochs=None, label_names: Optional[Sequence[str]] = None
                       ) -> TrainingDataResult:
    """AUM with the paper's calibrated cut-off, from a training run on the relabelled targets.

    Parameters
    ----------
    dynamics : recording folder, recorder, callback or TrainingDynamics
        Recorded while training ``threshold_samples.num_outputs`` outputs on
        ``threshold_samples.labels`` (the threshold samples recorded with the fake class).
    threshold_samples : ThresholdSamples or path
        From :func:`aum_threshold_samples` (or its saved file).
    epochs : None, int or list of int, default None
    label_names : list of str or None, default None
        The ``c`` real class names (the fake class is added as ``'(threshold class)'``).

    Returns
    -------
    TrainingDataResult
        ``method='aum'`` over the judged samples only (the threshold samples are left out);
        scores ``aum``, ``last_margin`` and ``flagged`` (1.0 at or below the cut-off);
        suspicion ``-aum``; ``params['threshold']``, ``params['num_flagged']`` and the
        threshold-sample parameters. :meth:`TrainingDataResult.flagged` lists the flagged ids.
    """
    if isinstance(threshold_samples, (str, os.PathLike)):
        threshold_samples = load_threshold_samples(threshold_samples)
    if not isinstance(threshold_samples, ThresholdSamples):
        raise TypeError("threshold_samples must be a ThresholdSamples (from aum_threshold_samples) or its .npz file, "
                        f"got {type(threshold_samples).__name__}")
    ts = threshold_samples
    d = load_dynamics(dynamics).select_epochs(epochs)
    if d.num_classes != ts.num_outputs:
        raise ValueError(f"the recording has {d.num_classes} classes; a threshold-sample run records "
                         f"{ts.num_outputs} (the {ts.num_classes} classes plus the fake class {ts.fake_class})")
    if not np.array_equal(d.sample_ids, ts.sample_ids):
        raise ValueError(f"the recording holds {d.num_samples} samples that are not the {len(ts.sample_ids)} the "
                         "threshold samples were drawn from")
    if not np.array_equal(d.labels, ts.labels):
        wrong = int(np.sum(d.labels != ts.labels))
        raise ValueError(f"{wrong} recorded labels differ from threshold_samples.labels: record the relabelled "
                         "targets (threshold samples with the fake class), as the network was trained on them")
    value = _aum_values(d)
    is_threshold = ts.is_threshold(d.sample_ids)
    threshold = float(np.percentile(value[is_threshold], ts.percentile))
    keep = ~is_threshold
    judged = TrainingDynamics(d.sample_ids[keep], d.labels[keep], d.epochs, d.p_gold[keep], d.margin[keep],
                              d.predicted[keep], d.num_classes, None if d.logits is None else d.logits[keep],
                              source=d.source)
    last = np.full(judged.num_samples, np.nan)
    for e in range(judged.num_epochs):
        last = np.where(judged.seen[:, e], judged.margin[:, e], last)
    flagged = (value[keep] <= threshold).astype(np.float64)
    if label_names is not None:
        label_names = [str(n) for n in label_names]
        if len(label_names) != ts.num_classes:
            raise ValueError(f"label_names has {len(label_names)} names, expected the {ts.num_classes} real classes")
        label_names = label_names + ["(threshold class)"]
    return new_result("aum", judged, -value[keep], {"aum": value[keep], "last_margin": last, "flagged": flagged},
                      {"epochs": None if epochs is None else d.epochs.tolist(), "threshold": threshold,
                       "percentile": ts.percentile, "num_flagged": int(flagged.sum()),
                       "num_threshold_samples": int(is_threshold.sum()), "threshold_samples": ts.params,
                       "negative_share": float(np.mean(value[keep] < 0))}, label_names)
