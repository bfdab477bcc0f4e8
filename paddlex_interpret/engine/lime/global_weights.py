"""NormLIME's global weights: per class, a distribution over the prior's k-means clusters.

Stored as ``.npz`` (arrays + JSON metadata, never pickle); PaddleX's own ``normlime_weights*.npy``
files are read with a restricted unpickler. Fingerprints of the class names and the k-means
centres tell when weights are stale.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..._home import read_npz, write_npz

__all__ = ["GlobalWeights", "centres_fingerprint", "labels_fingerprint", "label_list"]

_FORMAT = "paddlex_interpret.normlime_weights"
_FORMAT_VERSION = 1


def centres_fingerprint(centres) -> str:
    """sha256 of the k-means centres (float64, C order, shape included)."""
    c = np.ascontiguousarray(np.asarray(centres, dtype=np.float64))
    h = hashlib.sha256(repr(c.shape).encode())
    h.update(c.tobytes())
    return h.hexdigest()


def label_list(classifier) -> List[str]:
    return [classifier.label_name(i) for i in range(classifier.num_classes)]


def labels_fingerprint(label_names: Sequence[str]) -> str:
    """sha256 of the class names (their number and order included)."""
    return hashlib.sha256(json.dumps([str(x) for x in label_names]).encode()).hexdigest()


@dataclass
class GlobalWeights:
    """NormLIME's global weights: for each class, a distribution over the prior's clusters.

    Attributes
    ----------
    weights : ndarray (num_classes, num_clusters) float64
        Row ``c`` is class ``c``'s weight of each cluster (non-negative, sums to 1).
    algorithm : {'paddlex', 'lime_average'}
    label_names : list of str
        The classifier's class names (indices as strings when it has none).
    centres_sha256, labels_sha256 : str
        Fingerprints of the k-means centres and of the class names the weights were computed
        with (stale detection, see :meth:`matches`).
    num_images : int
        Dataset images used.
    class_counts : ndarray (num_classes,) int64
        How often each class was the predicted (explained) class.
    params : dict
        Other settings of the run (e.g. LIME parameters, random_state).
    """

    weights: np.ndarray
    algorithm: str
    label_names: List[str]
    centres_sha256: str
    labels_sha256: str = ""
    num_images: int = 0
    class_counts: Optional[np.ndarray] = None
    params: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=np.float64)
        if self.weights.ndim != 2 or 0 in self.weights.shape:
            raise ValueError(f"global weights must be a non-empty (num_classes, num_clusters) array, "
                             f"got shape {self.weights.shape}")
        self.label_names = [str(x) for x in self.label_names]
        if len(self.label_names) != self.weights.shape[0]:
            raise ValueError(f"{len(self.label_names)} label names for {self.weights.shape[0]} classes")
        if not self.labels_sha256:
            self.labels_sha256 = labels_fingerprint(self.label_names)
        if self.class_counts is None:
            self.class_counts = np.zeros(self.num_classes, dtype=np.int64)
        self.class_counts = np.asarray(self.class_counts, dtype=np.int64)

    @property
    def num_classes(self) -> int:
        return int(self.weights.shape[0])

    @property
    def num_clusters(self) -> int:
        return int(self.weights.shape[1])

    def class_weights(self, target: int) -> np.ndarray:
        """Cluster weights of class ``target`` -> ``(num_clusters,)``."""
        if not 0 <= int(target) < self.num_classes:
            raise ValueError(f"class {target} is out of range for global weights of {self.num_classes} classes")
        return self.weights[int(target)]

    # -- PaddleX's own weights files ------------------------------------------------------
    @classmethod
    def from_paddlex_dict(cls, weights: Dict[Any, Dict[Any, float]], classifier, centres) -> "GlobalWeights":
        """Global weights from PaddleX's ``{class: {cluster: weight}}`` layout, for ``classifier``
        and the k-means ``centres`` they were computed with. Classes missing from the dict get
        the uniform ``1/K``; each row is renormalised to sum to 1."""
        k = int(np.asarray(centres).shape[0])
        out = np.full((classifier.num_classes, k), 1.0 / k)
        for label, row in dict(weights).items():
            c = int(label)
            if not 0 <= c < classifier.num_classes:
                raise ValueError(f"PaddleX weights name class {c}, the classifier has {classifier.num_classes}")
            vec = np.zeros(k)
            for cluster, w in dict(row).items():
                if not 0 <= int(cluster) < k:
                    raise ValueError(f"PaddleX weights name cluster {int(cluster)}, the prior has {k}")
                vec[int(cluster)] = float(w)
            if not np.isfinite(vec).all() or (vec < 0).any() or vec.sum() <= 0:
                raise ValueError(f"PaddleX weights of class {c} are not a non-negative distribution")
            out[c] = vec / vec.sum()
        return cls(weights=out, algorithm="paddlex", label_names=label_list(classifier),
                   centres_sha256=centres_fingerprint(centres), params={"source": "paddlex_dict"})

    @classmethod
    def from_paddlex_file(cls, path, classifier, centres) -> "GlobalWeights":
        """Read PaddleX's ``normlime_weights*.npy`` (``np.save`` of a ``{class: {cluster: weight}}``
        dict, e.g. ``normlime_weights_imagenet_resnet50vc.npy`` of the prior assets) with the
        restricted unpickler of :mod:`paddlex_interpret.priors.kmeans` (no code can run), then
        :meth:`from_paddlex_dict`. ValueError naming the file if it is not such a file."""
        from ...priors.kmeans import _RestrictedUnpickler

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"PaddleX NormLIME weights file not found: '{path}'")
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                reader = {(1, 0): np.lib.format.read_array_header_1_0,
                          (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if reader is None:
                    raise ValueError(f"unsupported .npy version {version}")
                shape, _, dtype = reader(f)
                if dtype != np.dtype(object) or shape != ():
                    raise ValueError(f"expected a pickled dict, found a {dtype} array of shape {shape}")
                obj = _RestrictedUnpickler(f).load()
            table = obj.item() if isinstance(obj, np.ndarray) else obj
            if not isinstance(table, dict):
                raise ValueError(f"holds a {type(table).__name__}, not a dict")
        except Exception as exc:
            raise ValueError(f"'{path}' is not a PaddleX NormLIME weights file ({exc})") from None
        gw = cls.from_paddlex_dict(table, classifier, centres)
        gw.params["source"] = str(path)
        return gw

    # -- staleness --------------------------------------------------------------------------
    def mismatch(self, classifier, centres) -> Optional[str]:
        """Why these weights do not fit ``classifier`` and ``centres`` (None if they do)."""
        if classifier.num_classes != self.num_classes:
            return f"computed for {self.num_classes} classes, the classifier has {classifier.num_classes}"
        if labels_fingerprint(label_list(classifier)) != self.labels_sha256:
            return "computed for other class names than the classifier's"
        c = np.asarray(centres)
        if c.ndim != 2 or c.shape[0] != self.num_clusters:
            return f"computed for {self.num_clusters} clusters, the prior has {c.shape[0] if c.ndim == 2 else '?'}"
        if centres_fingerprint(c) != self.centres_sha256:
            return "computed with other prior k-means centres"
        return None

    def matches(self, classifier, centres) -> bool:
        """True if the weights were computed for this classifier's classes and these centres."""
        return self.mismatch(classifier, centres) is None

    # -- persistence ------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write an ``.npz`` archive (the weight and count arrays + JSON metadata; no pickle), atomically,
        under the name given (``.npz`` is added to a name without a suffix: ``'w'`` -> ``'w.npz'``, while
        PaddleX's ``'normlime_weights.npy'`` stays that name). Returns the path written."""
        path = Path(path)
        if not path.suffix:
            path = path.with_name(path.name + ".npz")
        meta = {
            "format": _FORMAT, "format_version": _FORMAT_VERSION, "algorithm": self.algorithm,
            "num_classes": self.num_classes, "num_clusters": self.num_clusters,
            "label_names": self.label_names, "centres_sha256": self.centres_sha256,
            "labels_sha256": self.labels_sha256, "num_images": int(self.num_images), "params": self.params,
        }
        return write_npz(path, meta, {"weights": self.weights, "class_counts": self.class_counts})

    @classmethod
    def load(cls, path) -> "GlobalWeights":
        """Read a file written by :meth:`save`; ValueError (naming the file) if it is not one or
        is corrupt, FileNotFoundError if it does not exist."""
        meta, arrays = read_npz(path, "NormLIME weights")
        try:
            weights = np.array(arrays["weights"], dtype=np.float64)
            counts = np.array(arrays["class_counts"])
        except KeyError as exc:
            raise ValueError(f"'{path}' is not a readable NormLIME weights file (no {exc} array)") from None
        problem = _check_loaded(meta, weights, counts)
        if problem:
            raise ValueError(f"'{path}' is not a valid NormLIME weights file: {problem}")
        return cls(weights=weights, algorithm=meta["algorithm"], label_names=meta["label_names"],
                   centres_sha256=meta["centres_sha256"], labels_sha256=meta["labels_sha256"],
                   num_images=int(meta.get("num_images", 0)), class_counts=counts, params=meta.get("params", {}))


def _check_loaded(meta, weights, counts) -> Optional[str]:
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        return "missing or wrong 'format' marker"
    if meta.get("format_version") != _FORMAT_VERSION:
        return f"unsupported format_version {meta.get('format_version')!r}"
    for key in ("algorithm", "label_names", "centres_sha256", "labels_sha256", "num_classes", "num_clusters"):
        if key not in meta:
            return f"metadata lacks {key!r}"
    if weights.ndim != 2 or weights.shape != (meta["num_classes"], meta["num_clusters"]):
        return f"weights have shape {weights.shape}, metadata says ({meta['num_classes']}, {meta['num_clusters']})"
    if len(meta["label_names"]) != weights.shape[0] or counts.shape != (weights.shape[0],):
        return "label names / class counts do not match the number of classes"
    if not np.isfinite(weights).all() or (weights < 0).any():
        return "weights contain negative, NaN or infinite values"
    if not np.allclose(weights.sum(axis=1), 1.0, atol=1e-6):
        return "a class's weights do not sum to 1"
    if labels_fingerprint(meta["label_names"]) != meta["labels_sha256"]:
        return "label names do not match their fingerprint"
    return None
