"""The result of a training-data analysis: one row per training sample, with scores.

Saved as ``.npz`` (arrays + JSON metadata, no pickle) and written as CSV (sample id, given label,
predicted label, suspicion, rank, then every score), both atomically.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..._home import atomic_write, read_npz, write_npz
from .._validation import check_positive_int

__all__ = ["TrainingDataResult", "load_training_data_result"]

_KIND = "training_data"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class TrainingDataResult:
    """Per-sample scores of a training-data method.

    Attributes
    ----------
    method : str
        ``'data_map'``, ``'forgetting'``, ``'aum'``, ``'bhdf'`` or ``'tidy'``.
    sample_ids, given_labels, predicted_labels : ndarray (N,) int64
        The samples (sorted by id), their given labels and the prediction at their last
        recorded epoch.
    suspicion : ndarray (N,) float64
        Higher = more likely mislabelled or harmful; :meth:`ranking` sorts by it.
    scores : dict str -> ndarray (N,)
        The method's per-sample statistics (e.g. ``confidence``, ``variability``, ``correctness``).
    params : dict
        Every parameter of the analysis.
    label_names : list of str or None
        Class names for the CSV (``given_name``, ``predicted_name`` columns).
    """

    method: str
    sample_ids: np.ndarray
    given_labels: np.ndarray
    predicted_labels: np.ndarray
    suspicion: np.ndarray
    scores: Dict[str, np.ndarray] = field(default_factory=dict)
    params: Dict[str, Any] = field(default_factory=dict)
    label_names: Optional[List[str]] = None
    figure_path: Optional[str] = None
    csv_path: Optional[str] = None

    @property
    def num_samples(self) -> int:
        return len(self.sample_ids)

    def ranking(self) -> np.ndarray:
        """Row positions, most suspicious first (ties keep sample-id order)."""
        return np.argsort(-np.asarray(self.suspicion, dtype=np.float64), kind="stable")

    def top(self, k: int = 20) -> np.ndarray:
        """The ``k`` most suspicious sample ids."""
        return self.sample_ids[self.ranking()[:check_positive_int(k, "k")]]

    def flagged(self) -> np.ndarray:
        """Sample ids over a calibrated cut-off (score ``flagged``, e.g. AUM with threshold samples),
        most suspicious first."""
        if "flagged" not in self.scores:
            raise ValueError(f"this {self.method} result has no cut-off (no 'flagged' score); AUM with threshold "
                             "samples (aum_with_threshold / find_label_errors(threshold_samples=...)) has one")
        order = self.ranking()
        return self.sample_ids[order][np.asarray(self.scores["flagged"])[order] > 0]

    def score_of(self, name: str) -> np.ndarray:
        if name not in self.scores:
            raise KeyError(f"no score {name!r} in this {self.method} result; scores: {sorted(self.scores)}")
        return self.scores[name]

    # -- files ------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write an ``.npz`` (no pickle) atomically; returns the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        meta = {"kind": _KIND, "format_version": 1, "method": self.method, "params": self.params,
                "label_names": self.label_names, "scores": sorted(self.scores), "figure_path": self.figure_path,
                "csv_path": self.csv_path}
        arrays = {f"score_{k}": np.asarray(v) for k, v in self.scores.items()}
        return write_npz(path, meta, {"sample_ids": self.sample_ids, "given_labels": self.given_labels,
                                      "predicted_labels": self.predicted_labels, "suspicion": self.suspicion,
                                      **arrays})

    @classmethod
    def load(cls, path) -> "TrainingDataResult":
        """Read a file written by :meth:`save` (``np.load(allow_pickle=False)``)."""
        meta, arrays = read_npz(path, "training-data result")
        if meta.get("kind") != _KIND:
            raise ValueError(f"'{path}' holds a {meta.get('kind')!r} result, not a training-data one")
        return cls(method=meta["method"], sample_ids=arrays["sample_ids"], given_labels=arrays["given_labels"],
                   predicted_labels=arrays["predicted_labels"], suspicion=arrays["suspicion"],
                   scores={k: arrays[f"score_{k}"] for k in meta["scores"]}, params=meta["params"],
                   label_names=meta["label_names"], figure_path=meta["figure_path"], csv_path=meta["csv_path"])

    def to_csv(self, path, sort: bool = True) -> Path:
        """Write the table as CSV (UTF-8, atomically): ``rank, sample_id, given_label,
        predicted_label, [given_name, predicted_name,] suspicion, <scores...>``.

        Parameters
        ----------
        path : path
            The CSV file (``.csv`` added if missing).
        sort : bool, default True
            Most suspicious first; False keeps sample-id order.

        Returns
        -------
        Path
            The file written.

        Notes
        -----
        Class names are quoted by the csv module; a name that a spreadsheet would read as a
        formula (starting with ``= + - @``) is prefixed with ``'``.
        """
        path = Path(path)
        if path.suffix != ".csv":
            path = path.with_name(path.name + ".csv")
        order = self.ranking() if sort else np.arange(self.num_samples)
        rank = np.empty(self.num_samples, np.int64)
        rank[self.ranking()] = np.arange(1, self.num_samples + 1)
        names = sorted(self.scores)
        header = ["rank", "sample_id", "given_label", "predicted_label"]
        if self.label_names:
            header += ["given_name", "predicted_name"]
        header += ["suspicion"] + names
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for i in order:
            row = [int(rank[i]), int(self.sample_ids[i]), int(self.given_labels[i]), int(self.predicted_labels[i])]
            if self.label_names:
                row += [_cell(self._name(self.given_labels[i])), _cell(self._name(self.predicted_labels[i]))]
            row += [_number(self.suspicion[i])] + [_number(self.scores[n][i]) for n in names]
            writer.writerow(row)
        with atomic_write(path) as tmp:
            tmp.write_text(buf.getvalue(), encoding="utf-8")
        self.csv_path = str(path)
        return path

    def _name(self, label) -> str:
        label = int(label)
        return self.label_names[label] if 0 <= label < len(self.label_names) else str(label)


def _cell(text: str) -> str:
    text = str(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _number(value) -> str:
    value = float(value)
    return "" if np.isnan(value) else repr(value)


def load_training_data_result(path) -> TrainingDataResult:
    """Read a :class:`TrainingDataResult` file."""
    return TrainingDataResult.load(path)


def new_result(method: str, dynamics, suspicion, scores: Dict[str, np.ndarray], params: dict,
               label_names: Optional[Sequence[str]] = None) -> TrainingDataResult:
    """A result for ``dynamics`` (shared by the method modules)."""
    if label_names is not None:
        label_names = [str(n) for n in label_names]
        if len(label_names) != dynamics.num_classes:
            raise ValueError(f"label_names has {len(label_names)} names, the recording {dynamics.num_classes} classes")
    return TrainingDataResult(method=method, sample_ids=dynamics.sample_ids.copy(), given_labels=dynamics.labels.copy(),
                              predicted_labels=dynamics.last_predicted, suspicion=np.asarray(suspicion, np.float64),
                              scores={k: np.asarray(v) for k, v in scores.items()},
                              params={"num_epochs": int(dynamics.num_epochs), **params}, label_names=label_names)
