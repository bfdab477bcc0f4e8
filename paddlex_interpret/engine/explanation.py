"""Explanation result types: what figures, evaluators and a GUI need, savable without pickle."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

__all__ = ["SuperpixelExplanation", "load_explanation"]

_FORMAT_VERSION = 1


@dataclass
class SuperpixelExplanation:
    """Per-superpixel weights for one image and one or more classes (LIME-family methods).

    Attributes
    ----------
    method : str
        Algorithm name, e.g. ``'lime'``.
    image : ndarray (H, W, 3) uint8
        The image as explained (after resize/crop).
    segments : ndarray (H, W) int32
        Superpixel id of every pixel, ``0..num_superpixels-1``.
    targets : list of int
        Explained classes, first = primary (the top-1 class unless the caller chose one).
    weights : dict int -> ndarray (num_superpixels,)
        Surrogate weight of each superpixel for each explained class.
    label_names, probabilities, intercepts, scores, local_predictions : dict int -> value
        Per explained class: name, model probability on the unperturbed image, surrogate
        intercept, weighted R^2 of the local fit, and the surrogate's value at the image.
    params : dict
        Every parameter of the run, including the seed actually used.
    figure_path : str or None
        The figure written by the task API, if any.
    """

    method: str
    image: np.ndarray
    segments: np.ndarray
    targets: List[int]
    weights: Dict[int, np.ndarray]
    label_names: Dict[int, str]
    probabilities: Dict[int, float]
    intercepts: Dict[int, float] = field(default_factory=dict)
    scores: Dict[int, float] = field(default_factory=dict)
    local_predictions: Dict[int, float] = field(default_factory=dict)
    params: Dict[str, Any] = field(default_factory=dict)
    figure_path: Optional[str] = None

    # -- convenience views on the primary class ---------------------------------------------
    @property
    def target(self) -> int:
        return self.targets[0]

    @property
    def label_name(self) -> str:
        return self.label_names[self.target]

    @property
    def probability(self) -> float:
        return self.probabilities[self.target]

    @property
    def score(self) -> float:
        """Weighted R^2 of the local fit for the primary class."""
        return self.scores.get(self.target, float("nan"))

    @property
    def num_superpixels(self) -> int:
        return int(self.segments.max()) + 1

    def _weights_of(self, target: Optional[int]) -> np.ndarray:
        target = self.target if target is None else int(target)
        if target not in self.weights:
            raise KeyError(f"class {target} was not explained; explained classes: {self.targets}")
        return self.weights[target]

    def ranked_superpixels(self, target: Optional[int] = None, positive_only: bool = False) -> np.ndarray:
        """Superpixel ids ordered by decreasing weight (by decreasing |weight| unless positive_only)."""
        w = self._weights_of(target)
        if positive_only:
            ids = np.flatnonzero(w > 0)
            return ids[np.argsort(-w[ids], kind="stable")]
        return np.argsort(-np.abs(w), kind="stable")

    def pixel_map(self, target: Optional[int] = None) -> np.ndarray:
        """The weights painted onto pixels: ``(H, W)`` float array."""
        return self._weights_of(target)[self.segments]

    # -- persistence --------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write an ``.npz`` (arrays + JSON metadata; no pickle). Returns the path written."""
        from .._home import atomic_write

        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        meta = {
            "format_version": _FORMAT_VERSION,
            "kind": "superpixel",
            "method": self.method,
            "targets": [int(t) for t in self.targets],
            "label_names": {str(k): v for k, v in self.label_names.items()},
            "probabilities": {str(k): float(v) for k, v in self.probabilities.items()},
            "intercepts": {str(k): float(v) for k, v in self.intercepts.items()},
            "scores": {str(k): float(v) for k, v in self.scores.items()},
            "local_predictions": {str(k): float(v) for k, v in self.local_predictions.items()},
            "params": self.params,
            "figure_path": self.figure_path,
        }
        arrays = {f"weights_{t}": np.asarray(w, dtype=np.float64) for t, w in self.weights.items()}
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, image=self.image, segments=self.segments,
                                    meta=np.array(json.dumps(meta, default=_json_default)), **arrays)
        return path

    @classmethod
    def load(cls, path) -> "SuperpixelExplanation":
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"explanation file not found: '{path}'")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                image, segments = data["image"], data["segments"]
                weights = {int(t): data[f"weights_{t}"] for t in meta["targets"]}
        except (KeyError, ValueError, OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"'{path}' is not a paddlex_interpret explanation file: {exc}") from exc
        if meta.get("kind") != "superpixel":
            raise ValueError(f"'{path}' holds a {meta.get('kind')!r} explanation, not a superpixel one")

        def ints(d):
            return {int(k): v for k, v in d.items()}

        return cls(method=meta["method"], image=image, segments=segments, targets=meta["targets"], weights=weights,
                   label_names=ints(meta["label_names"]), probabilities=ints(meta["probabilities"]),
                   intercepts=ints(meta["intercepts"]), scores=ints(meta["scores"]),
                   local_predictions=ints(meta["local_predictions"]), params=meta["params"],
                   figure_path=meta["figure_path"])


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def load_explanation(path):
    """Load any explanation saved by paddlex_interpret."""
    return SuperpixelExplanation.load(path)
