"""NormLIME (Ahern et al. 2019) as PaddleX and InterpretDL compute it.

Two steps:

1. :func:`compute_global_weights` -- over a dataset, learn for every class a distribution over the
   prior's k-means clusters (:class:`GlobalWeights`, savable without pickle). Superpixels are
   described by the prior's ResNet50_vc stem features and mapped to their nearest k-means centre
   (see :mod:`paddlex_interpret.priors`).

   * ``algorithm='paddlex'`` (PaddleX's ``precompute_global_classifier``): each image at the
     classifier's explained geometry, predicted class = argmax of ``predict_proba``, a fixed
     10x10 grid of superpixels, ``x`` = binary presence vector of clusters over the grid cells.
     A multinomial ``LogisticRegression(max_iter=1000)`` of the predicted class on ``x``; each
     class row ``w`` becomes ``softmax(10 * (w - max w))`` (binary problem: ``+coef`` for the
     second class, ``-coef`` for the first). Classes never predicted get the uniform ``1/K``;
     fewer than two predicted classes give uniform weights for every class.
   * ``algorithm='lime_average'`` (InterpretDL's NormLIMECVInterpreter): LIME (quickshift) on
     every image for its predicted class; each superpixel's weight ``w_i`` contributes
     ``w_i^2 / ||w||_1`` to (class, cluster of the superpixel); the global weight is the mean over
     occurrences, normalised per class to sum to 1 (classes never seen: uniform).

2. :class:`NormLime` -- explain one image: LIME on quickshift superpixels, each superpixel also
   gets the global weight of its cluster for the class (NormLIME), and the product of both is
   PaddleX's "Combined" panel. The result is a :class:`NormLimeResult` of three aligned
   :class:`~paddlex_interpret.engine.explanation.SuperpixelExplanation` objects.

Geometry: the prior stem was trained on 224x224 inputs, as PaddleX always used (ResizeByShort 256
+ CenterCrop 224). When the explained image has another size, the stem runs on the image resized
(bilinear) to 224x224 and its feature map is resized back (bilinear) to the image's size, so the
superpixels (grid cells or quickshift segments) are always those of the explained image.

:func:`normlime_prior` turns global weights into the ``prior(image, segments, target)`` callable
that :class:`~paddlex_interpret.engine.lime.glime.GLime` takes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from tqdm.auto import tqdm

from ...data.datasets import dataset_size, iter_dataset_images
from ..explanation import SuperpixelExplanation, _json_default
from .lime_image import LimeImage, _check_image

__all__ = [
    "GlobalWeights",
    "NormLime",
    "NormLimeResult",
    "compute_global_weights",
    "normlime_prior",
    "load_prior",
    "superpixel_clusters",
    "grid_segments",
    "centres_fingerprint",
    "labels_fingerprint",
    "ALGORITHMS",
    "STEM_SIZE",
    "GRID_SIZE",
]

ALGORITHMS = ("paddlex", "lime_average")
STEM_SIZE = 224  # the prior stem's input size (PaddleX: always 224x224)
GRID_SIZE = 10   # PaddleX's global-weights segmentation: a fixed 10x10 grid
_FORMAT = "paddlex_interpret.normlime_weights"
_FORMAT_VERSION = 1


# --- fingerprints -------------------------------------------------------------------------------

def centres_fingerprint(centres) -> str:
    """sha256 of the k-means centres (float64, C order, shape included)."""
    c = np.ascontiguousarray(np.asarray(centres, dtype=np.float64))
    h = hashlib.sha256(repr(c.shape).encode())
    h.update(c.tobytes())
    return h.hexdigest()


def _label_list(classifier) -> List[str]:
    return [classifier.label_name(i) for i in range(classifier.num_classes)]


def labels_fingerprint(label_names: Sequence[str]) -> str:
    """sha256 of the class names (their number and order included)."""
    return hashlib.sha256(json.dumps([str(x) for x in label_names]).encode()).hexdigest()


# --- global weights -----------------------------------------------------------------------------

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

    def as_paddlex_dict(self) -> Dict[int, Dict[int, float]]:
        """``{class: {cluster: weight}}``, the layout PaddleX saved."""
        return {c: {k: float(w) for k, w in enumerate(row)} for c, row in enumerate(self.weights)}

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
        return cls(weights=out, algorithm="paddlex", label_names=_label_list(classifier),
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
        if labels_fingerprint(_label_list(classifier)) != self.labels_sha256:
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
        """Write an ``.npz`` (the weight and count arrays + JSON metadata; no pickle), atomically.
        Returns the path written (``.npz`` is appended if missing)."""
        from ..._home import atomic_write

        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        meta = {
            "format": _FORMAT, "format_version": _FORMAT_VERSION, "algorithm": self.algorithm,
            "num_classes": self.num_classes, "num_clusters": self.num_clusters,
            "label_names": self.label_names, "centres_sha256": self.centres_sha256,
            "labels_sha256": self.labels_sha256, "num_images": int(self.num_images), "params": self.params,
        }
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, meta=np.array(json.dumps(meta, default=_json_default)),
                                    weights=self.weights, class_counts=self.class_counts)
        return path

    @classmethod
    def load(cls, path) -> "GlobalWeights":
        """Read a file written by :meth:`save`; ValueError (naming the file) if it is not one or
        is corrupt, FileNotFoundError if it does not exist."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"NormLIME weights file not found: '{path}'")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                weights = np.array(data["weights"], dtype=np.float64)
                counts = np.array(data["class_counts"])
        except Exception as exc:  # zip / npy / json errors of a truncated or foreign file
            raise ValueError(f"'{path}' is not a readable NormLIME weights file "
                             f"({type(exc).__name__}: {exc})") from None
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


# --- prior features -----------------------------------------------------------------------------

def load_prior(assets_dir=None, **ensure_kwargs):
    """``(stem, centres)`` from a prior asset folder (default: :func:`ensure_prior_assets`)."""
    from ...priors import ensure_prior_assets, load_cluster_centres
    from ...priors.download import KMEANS_FILE
    from ...priors.stem import PriorStem

    folder = Path(assets_dir) if assets_dir is not None else Path(ensure_prior_assets(**ensure_kwargs))
    return PriorStem.from_assets(folder), load_cluster_centres(folder / KMEANS_FILE)


def _feature_map(stem, image: np.ndarray) -> np.ndarray:
    """Stem features ``(64, H, W)`` of ``image``, computed at 224x224 (see the module docstring)."""
    import cv2

    h, w = image.shape[:2]
    if (h, w) == (STEM_SIZE, STEM_SIZE):
        return stem.feature_map(image)
    small = cv2.resize(image, (STEM_SIZE, STEM_SIZE), interpolation=cv2.INTER_LINEAR)
    fmap = stem.feature_map(small)  # (C, 224, 224)
    back = cv2.resize(np.ascontiguousarray(fmap.transpose(1, 2, 0)), (w, h), interpolation=cv2.INTER_LINEAR)
    return back.reshape(h, w, -1).transpose(2, 0, 1)


def superpixel_clusters(stem, centres, image: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Nearest k-means cluster of each superpixel ``0..segments.max()`` -> int64 array."""
    from ...priors import assign_clusters
    from ...priors.stem import superpixel_features

    seg = np.asarray(segments)
    n = int(seg.max()) + 1
    present = np.unique(seg)
    feats = superpixel_features(_feature_map(stem, image), seg)  # rows in increasing label order
    clusters = np.zeros(n, dtype=np.int64)
    clusters[present] = assign_clusters(feats, centres)
    return clusters


def grid_segments(shape, grid: int = GRID_SIZE) -> np.ndarray:
    """A ``grid x grid`` segmentation of an ``(H, W)`` image (id = row * grid + col)."""
    h, w = int(shape[0]), int(shape[1])
    rows = np.arange(h) * grid // h
    cols = np.arange(w) * grid // w
    return (rows[:, None] * grid + cols[None, :]).astype(np.int32)


# --- computing global weights -------------------------------------------------------------------

def _softmax_rows(w: np.ndarray, temperature: float = 10.0) -> np.ndarray:
    z = temperature * (w - w.max(axis=1, keepdims=True))
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _paddlex_weights(x: np.ndarray, y: np.ndarray, num_classes: int, random_state) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    k = x.shape[1]
    out = np.full((num_classes, k), 1.0 / k)
    classes = np.unique(y)
    if len(classes) < 2:
        return out
    clf = LogisticRegression(max_iter=1000, random_state=random_state).fit(x, y)
    coef = clf.coef_
    if len(clf.classes_) == 2:
        coef = np.stack([-coef[0], coef[0]])
    out[clf.classes_] = _softmax_rows(coef)
    return out


def compute_global_weights(classifier, dataset, assets_dir=None, algorithm: str = "paddlex",
                           progress: bool = True, lime_params: Optional[Dict[str, Any]] = None,
                           random_state: Optional[int] = 0, prior=None) -> GlobalWeights:
    """Compute NormLIME's global weights of ``classifier`` over ``dataset``.

    Parameters
    ----------
    classifier : Classifier
    dataset : file list path, folder, list of images or paddle.io.Dataset
        See :func:`paddlex_interpret.data.datasets.iter_dataset_images`. Each image is brought to
        the classifier's explained geometry (``classifier.image_as_explained``).
    assets_dir : path or None
        The prior asset folder (``kmeans_model.pkl`` + stem parameters); None fetches / reuses the
        cache with :func:`~paddlex_interpret.priors.ensure_prior_assets`.
    algorithm : {'paddlex', 'lime_average'}, default 'paddlex'
        See the module docstring.
    progress : bool, default True
        tqdm progress bar over the dataset.
    lime_params : dict, optional
        ``'lime_average'`` only: :class:`LimeImage` parameters (num_samples, batch_size, ...).
    random_state : int or None, default 0
        Seed of the logistic regression ('paddlex') or of every LIME run ('lime_average').
    prior : (stem, centres), optional
        Already loaded prior (from :func:`load_prior`); overrides ``assets_dir``.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if lime_params and algorithm != "lime_average":
        raise ValueError("lime_params are only used by algorithm='lime_average'")
    stem, centres = prior if prior is not None else load_prior(assets_dir)
    k = int(np.asarray(centres).shape[0])
    num_classes = classifier.num_classes
    counts = np.zeros(num_classes, dtype=np.int64)
    params: Dict[str, Any] = {"random_state": random_state}

    bar = tqdm(iter_dataset_images(dataset), total=dataset_size(dataset), desc=f"NormLIME ({algorithm})",
               unit="img", disable=not progress)
    if algorithm == "paddlex":
        xs, ys = [], []
        for _, raw in bar:
            image = classifier.image_as_explained(raw)
            pred = int(np.argmax(classifier.predict_proba(image[None], batch_size=1)[0]))
            clusters = superpixel_clusters(stem, centres, image, grid_segments(image.shape[:2]))
            x = np.zeros(k)
            x[clusters] = 1.0
            xs.append(x)
            ys.append(pred)
            counts[pred] += 1
        weights = _paddlex_weights(np.asarray(xs), np.asarray(ys), num_classes, random_state)
        params.update({"grid": GRID_SIZE, "temperature": 10.0})
    else:
        lime_params = {"progress": False, **dict(lime_params or {}), "random_state": random_state}
        explainer = LimeImage(classifier, **lime_params)
        sums = np.zeros((num_classes, k))
        occurrences = np.zeros((num_classes, k))
        for _, raw in bar:
            image = classifier.image_as_explained(raw)
            exp = explainer.explain(image, top_k=1)
            t = exp.target
            w = np.asarray(exp.weights[t], dtype=np.float64)
            clusters = superpixel_clusters(stem, centres, exp.image, exp.segments)
            l1 = np.abs(w).sum()
            contrib = w ** 2 / l1 if l1 > 0 else np.zeros_like(w)
            np.add.at(sums[t], clusters, contrib)
            np.add.at(occurrences[t], clusters, 1.0)
            counts[t] += 1
        means = np.divide(sums, occurrences, out=np.zeros_like(sums), where=occurrences > 0)
        totals = means.sum(axis=1, keepdims=True)
        weights = np.where(totals > 0, means / np.where(totals > 0, totals, 1.0), 1.0 / k)
        params["lime_params"] = explainer.params(random_state if random_state is not None else 0)
    bar.close()
    n_images = int(counts.sum())
    if n_images == 0:
        raise ValueError("the dataset yielded no images")
    return GlobalWeights(weights=weights, algorithm=algorithm, label_names=_label_list(classifier),
                         centres_sha256=centres_fingerprint(centres), num_images=n_images,
                         class_counts=counts, params=params)


# --- explaining one image -----------------------------------------------------------------------

class _ClusterCache:
    """Remembers the superpixel clusters of the last (image, segments) pair."""

    def __init__(self, stem, centres):
        self.stem, self.centres = stem, np.asarray(centres, dtype=np.float64)
        self._key, self._value = None, None

    def __call__(self, image, segments) -> np.ndarray:
        h = hashlib.sha1(np.ascontiguousarray(image).tobytes())
        h.update(np.ascontiguousarray(segments).tobytes())
        h.update(repr((image.shape, segments.shape)).encode())
        key = h.hexdigest()
        if key != self._key:
            self._key, self._value = key, superpixel_clusters(self.stem, self.centres, image, segments)
        return self._value


def normlime_prior(global_weights: GlobalWeights, stem, centres) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    """``prior(image, segments, target)`` for :class:`GLime`: the global weight of each
    superpixel's cluster for ``target`` (clusters are computed once per image)."""
    clusters_of = _ClusterCache(stem, centres)
    if np.asarray(centres).shape[0] != global_weights.num_clusters:
        raise ValueError(f"the global weights have {global_weights.num_clusters} clusters, "
                         f"the prior centres {np.asarray(centres).shape[0]}")

    def prior(image, segments, target):
        return global_weights.class_weights(target)[clusters_of(np.asarray(image), np.asarray(segments))]

    return prior


@dataclass
class NormLimeResult:
    """Three aligned explanations of one image (same image, segments, targets):

    * ``lime`` -- the LIME weights (method 'lime');
    * ``normlime`` -- each superpixel's global (NormLIME) weight (method 'normlime');
    * ``combined`` -- LIME weight x NormLIME weight (method 'normlime_combined'), PaddleX's
      "Combined" panel.
    """

    lime: SuperpixelExplanation
    normlime: SuperpixelExplanation
    combined: SuperpixelExplanation

    @property
    def image(self) -> np.ndarray:
        return self.lime.image

    @property
    def segments(self) -> np.ndarray:
        return self.lime.segments

    @property
    def targets(self) -> List[int]:
        return self.lime.targets

    @property
    def target(self) -> int:
        return self.lime.target

    @property
    def figure_path(self) -> Optional[str]:
        return self.normlime.figure_path

    @figure_path.setter
    def figure_path(self, value):
        for e in (self.lime, self.normlime, self.combined):
            e.figure_path = value

    def save(self, path) -> Dict[str, Path]:
        """Write the three explanations as ``<path>_lime.npz``, ``<path>_normlime.npz`` and
        ``<path>_combined.npz`` (``path`` without ``.npz``). Returns ``{part: path}``."""
        path = Path(path)
        base = path.with_name(path.name[:-4]) if path.suffix == ".npz" else path
        return {part: getattr(self, part).save(base.with_name(f"{base.name}_{part}.npz"))
                for part in ("lime", "normlime", "combined")}

    @classmethod
    def load(cls, path) -> "NormLimeResult":
        path = Path(path)
        base = path.with_name(path.name[:-4]) if path.suffix == ".npz" else path
        return cls(*(SuperpixelExplanation.load(base.with_name(f"{base.name}_{part}.npz"))
                     for part in ("lime", "normlime", "combined")))


class NormLime:
    """Explain an image with LIME and NormLIME's global weights.

    Parameters
    ----------
    classifier : Classifier
    global_weights : GlobalWeights or path
        From :func:`compute_global_weights` or :meth:`GlobalWeights.load`.
    assets_dir : path or None
        The prior asset folder (None: :func:`~paddlex_interpret.priors.ensure_prior_assets`).
    check : bool, default True
        Raise ValueError when the global weights are stale (other classes, class names or
        prior centres than ``classifier`` / the assets).
    **lime_params
        As :class:`LimeImage` (num_samples, batch_size, hide_color, segmentation, random_state, ...).
    """

    method = "normlime"

    def __init__(self, classifier, global_weights: Union[GlobalWeights, str, Path], assets_dir=None,
                 check: bool = True, prior=None, **lime_params):
        if not isinstance(global_weights, GlobalWeights):
            global_weights = GlobalWeights.load(global_weights)
        self.classifier = classifier
        self.global_weights = global_weights
        self.stem, self.centres = prior if prior is not None else load_prior(assets_dir)
        if check:
            problem = global_weights.mismatch(classifier, self.centres)
            if problem:
                raise ValueError(f"the NormLIME global weights are stale ({problem}); recompute them with "
                                 "compute_global_weights")
        self.lime = LimeImage(classifier, **lime_params)
        self._clusters = _ClusterCache(self.stem, self.centres)

    def explain(self, image: np.ndarray, targets: Union[None, int, Sequence[int]] = None,
                top_k: int = 1) -> NormLimeResult:
        """Explain ``image`` (uint8 RGB at the classifier's geometry) for ``targets`` (default: the
        ``top_k`` most probable classes) -> :class:`NormLimeResult`."""
        image = _check_image(image)
        lime = self.lime.explain(image, targets=targets, top_k=top_k)
        clusters = self._clusters(lime.image, lime.segments)
        norm_w = {t: self.global_weights.class_weights(t)[clusters] for t in lime.targets}
        comb_w = {t: np.asarray(lime.weights[t], dtype=np.float64) * norm_w[t] for t in lime.targets}
        params = {**lime.params, "global_weights_algorithm": self.global_weights.algorithm,
                  "num_clusters": self.global_weights.num_clusters, "clusters": clusters.tolist()}
        common = dict(intercepts={}, scores={}, local_predictions={}, params=params)
        normlime = dataclasses.replace(lime, method="normlime", weights=norm_w, **common)
        combined = dataclasses.replace(lime, method="normlime_combined", weights=comb_w, **common)
        return NormLimeResult(lime=lime, normlime=normlime, combined=combined)
