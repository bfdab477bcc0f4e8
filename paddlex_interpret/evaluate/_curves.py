"""What the perturbation-curve metrics share: the fill, the removal order, batched model passes, AUC.

Deletion/insertion and MoRF/LeRF all walk one *removal order* over the image. That order is
stored as a ``levels`` map: an ``(H, W)`` int array, ``1..n``, giving the step at which each pixel
is removed when the most important pixels go first (level 1 = the most important group). Every
perturbed image of every curve is then "the pixels with ``lo < level <= hi`` replaced by the fill":

=========  =========================  ==========================
curve      image at step ``i``          x-axis
=========  =========================  ==========================
deletion   removed: ``level <= i``      fraction removed
insertion  kept:    ``level <= i``      fraction inserted (kept)
MoRF       = deletion                   fraction removed
LeRF       removed: ``level > n - i``   fraction removed
=========  =========================  ==========================

so a batch of perturbed images is built with one broadcast comparison, and the model runs on
``batch_size`` images at a time (memory bounded by ``batch_size``, never by the number of steps).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..engine._validation import check_positive_int
from .base import Metric, MetricResult, explanation_kind, ranking_map

__all__ = ["FILLS", "check_fill", "fill_image", "describe_fill", "check_steps", "check_classifier",
           "explanation_image", "resolve_target", "removal_levels", "CurveSpec", "run_curves", "auc",
           "predict_target", "CurveMetric"]

#: named fills; a number (grey level), an RGB triple or a uint8 image are accepted too
FILLS = ("grey", "blur", "mean")
GREY = 127  # InterpretDL's choice for removed pixels

Fill = Union[str, int, float, Sequence[float], np.ndarray]


# -- parameters ------------------------------------------------------------------------------
def check_fill(fill: Fill, sigma: float) -> None:
    """Validate a fill (see :func:`fill_image`) and the blur ``sigma``; raise naming the argument."""
    if isinstance(sigma, (bool, np.bool_)) or not isinstance(sigma, (int, float, np.integer, np.floating)):
        raise TypeError(f"sigma must be a positive number (pixels), got {sigma!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 (pixels), got {sigma}")
    if isinstance(fill, str):
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, a grey level 0-255, an (r, g, b) colour or a "
                             f"uint8 image; got {fill!r}")
        return
    if isinstance(fill, (bool, np.bool_)):
        raise TypeError("fill must be a name, a grey level, a colour or an image, got a bool")
    if isinstance(fill, (int, float, np.integer, np.floating)):
        if not 0 <= float(fill) <= 255:
            raise ValueError(f"a numeric fill is a grey level in 0..255, got {fill}")
        return
    if isinstance(fill, np.ndarray) and fill.ndim == 3:
        if fill.dtype != np.uint8 or fill.shape[-1] != 3:
            raise ValueError(f"an image fill must be uint8 (H, W, 3), got {fill.dtype} {fill.shape}")
        return
    if isinstance(fill, (tuple, list, np.ndarray)) and len(fill) == 3:
        values = np.asarray(fill, dtype=np.float64)
        if values.ndim != 1 or not np.all((values >= 0) & (values <= 255)):
            raise ValueError(f"an (r, g, b) fill needs 3 values in 0..255, got {fill!r}")
        return
    raise TypeError(f"fill must be one of {FILLS}, a grey level 0-255, an (r, g, b) colour or a uint8 image; "
                    f"got {type(fill).__name__}")


def describe_fill(fill: Fill) -> Any:
    """A JSON-friendly record of the fill (for ``details`` and cache keys)."""
    if isinstance(fill, str):
        return fill
    if isinstance(fill, np.ndarray) and fill.ndim == 3:
        import hashlib

        return f"image {list(fill.shape)} sha1:{hashlib.sha1(fill.tobytes()).hexdigest()[:12]}"
    if isinstance(fill, (int, float, np.integer, np.floating)):
        return float(fill)
    return [float(v) for v in fill]


def fill_image(fill: Fill, image: np.ndarray, sigma: float = 10.0) -> np.ndarray:
    """The fully removed image: what every removed pixel becomes (uint8 ``(H, W, 3)``).

    'grey': 127 (InterpretDL); 'blur': the image blurred by a Gaussian of ``sigma`` pixels
    (reflected borders); 'mean': the image's mean colour; a number: that grey level; an
    ``(r, g, b)`` triple: that colour; a uint8 ``(H, W, 3)`` image: that image (same size).
    Values are rounded to the nearest integer.
    """
    h, w = image.shape[:2]
    if isinstance(fill, str):
        if fill == "grey":
            return np.full((h, w, 3), GREY, dtype=np.uint8)
        if fill == "mean":
            colour = np.rint(image.reshape(-1, 3).astype(np.float64).mean(axis=0))
            return np.broadcast_to(colour.astype(np.uint8), (h, w, 3)).copy()
        import cv2

        blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigmaX=float(sigma), sigmaY=float(sigma),
                                   borderType=cv2.BORDER_REFLECT)
        return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)
    if isinstance(fill, np.ndarray) and fill.ndim == 3:
        if fill.shape != image.shape:
            raise ValueError(f"the fill image {fill.shape} does not match the explained image {image.shape}")
        return fill.copy()
    colour = np.rint(np.broadcast_to(np.asarray(fill, dtype=np.float64), (3,)))
    return np.broadcast_to(colour.astype(np.uint8), (h, w, 3)).copy()


def check_steps(steps, limit_number_generated_samples, default: Optional[int] = 20) -> Optional[int]:
    """``steps`` with InterpretDL's alias ``limit_number_generated_samples`` (they must agree if both
    are given). ``None`` means: one step per superpixel, 20 steps for pixel maps."""
    if limit_number_generated_samples is not None:
        limit = check_positive_int(limit_number_generated_samples, "limit_number_generated_samples")
        if steps is not None and steps != default and int(steps) != limit:
            raise ValueError(f"steps={steps} and limit_number_generated_samples={limit} disagree; give one")
        return limit
    if steps is None:
        return None
    return check_positive_int(steps, "steps")


def check_classifier(classifier):
    from ..models.base import Classifier

    if classifier is None:
        raise ValueError("this metric runs the model: pass the classifier the explanation was made with")
    if not isinstance(classifier, Classifier):
        raise TypeError(f"classifier must be a paddlex_interpret Classifier (see models.as_classifier), "
                        f"got {type(classifier).__name__}")
    return classifier


def check_no_extra_inputs(metric_name: str, inputs: Dict[str, Any]) -> None:
    if inputs:
        raise TypeError(f"{metric_name} takes no extra inputs; got {sorted(inputs)}")


# -- explanation -> image, target and removal order -------------------------------------------
def explanation_image(explanation) -> np.ndarray:
    image = getattr(explanation, "image", None)
    if image is None:
        raise TypeError(f"expected a SuperpixelExplanation or PixelExplanation, got {type(explanation).__name__}")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"the explanation's image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    return image


def resolve_target(explanation, target: Optional[int], classifier=None) -> int:
    """The class to evaluate: ``target`` if given (it must have been explained), else the primary one."""
    targets = [int(t) for t in explanation.targets]
    if target is None:
        target = targets[0]
    elif isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)):
        raise TypeError(f"target must be an int class index or None, got {target!r}")
    target = int(target)
    if target not in targets:
        raise ValueError(f"target={target} was not explained; explained classes: {targets}")
    if classifier is not None:
        classifier.check_class_index(target, "target")
    return target


def _ranked_units_to_levels(rank_of_unit: np.ndarray, num_units: int, steps: int) -> Tuple[np.ndarray, int]:
    """Level ``1..n`` of each unit from its rank ``0..M-1``: ``n = min(steps, M)`` groups, as even as
    integers allow (sizes differ by at most one unit), most important group first."""
    n = min(steps, num_units)
    return (rank_of_unit * n) // num_units + 1, n


def removal_levels(explanation, steps: Optional[int], target: int) -> Tuple[np.ndarray, int, str]:
    """``(levels, n, kind)``: the removal step ``1..n`` of every pixel, most important first.

    Superpixel explanations go superpixel by superpixel by *decreasing signed weight* for
    ``target`` (positive evidence first, as :func:`ranking_map` paints them); when there are more
    superpixels than ``steps`` they are grouped evenly, consecutive in rank (``steps=None``: one
    step per superpixel). Pixel explanations rank pixels by :func:`ranking_map` (``|a|`` summed
    over channels for a ``(3, H, W)`` attribution, a 2-D map as it is) and remove them in
    ``steps`` equal-count steps (``None``: 20); tied pixels keep raster order.
    """
    image = explanation_image(explanation)
    h, w = image.shape[:2]
    if explanation_kind(explanation) == "superpixel":
        segments = np.asarray(explanation.segments)
        if segments.shape != (h, w):
            raise ValueError(f"segments {segments.shape} do not match the image {image.shape[:2]}")
        weights = np.asarray(explanation.weights[target], dtype=np.float64)
        present, inverse = np.unique(segments, return_inverse=True)
        if present.min() < 0 or present.max() >= len(weights):
            raise ValueError(f"segments hold ids outside 0..{len(weights) - 1} (the weights' length)")
        order = np.argsort(-weights[present], kind="stable")  # positions into `present`
        rank = np.empty(len(present), dtype=np.int64)
        rank[order] = np.arange(len(present))
        unit_levels, n = _ranked_units_to_levels(rank, len(present), len(present) if steps is None else steps)
        levels = unit_levels[inverse.reshape(h, w)]
        return levels.astype(np.int32), n, "superpixel"
    score = np.asarray(ranking_map(explanation), dtype=np.float64)
    if score.shape != (h, w):
        raise ValueError(f"the attribution map {score.shape} does not match the image {image.shape[:2]}; "
                         "evaluate an explanation whose map has the image's size")
    if not np.all(np.isfinite(score)):
        raise ValueError("the attribution map holds NaN or infinite values")
    order = np.argsort(-score.reshape(-1), kind="stable")
    rank = np.empty(h * w, dtype=np.int64)
    rank[order] = np.arange(h * w)
    levels, n = _ranked_units_to_levels(rank, h * w, 20 if steps is None else steps)
    return levels.reshape(h, w).astype(np.int32), n, "pixel"


# -- curves ------------------------------------------------------------------------------------
class CurveSpec:
    """One curve: for each step, the ``(lo, hi]`` band of levels that is removed, and its x value."""

    def __init__(self, name: str, bands: List[Tuple[int, int]], fractions: np.ndarray):
        self.name, self.bands, self.fractions = name, bands, fractions

    @classmethod
    def make(cls, name: str, levels: np.ndarray, n: int) -> "CurveSpec":
        counts = np.bincount(levels.reshape(-1), minlength=n + 1)[: n + 1]
        cum = np.cumsum(counts) / levels.size  # cum[i] = fraction with level <= i (cum[0] = 0)
        steps = range(n + 1)
        if name in ("deletion", "morf"):
            bands, x = [(0, i) for i in steps], cum
        elif name == "insertion":
            bands, x = [(i, n) for i in steps], cum
        elif name == "lerf":
            bands, x = [(n - i, n) for i in steps], 1.0 - cum[::-1]
        else:
            raise ValueError(f"unknown curve {name!r}")
        return cls(name, [_canonical(b) for b in bands], np.asarray(x, dtype=np.float64))


def _canonical(band: Tuple[int, int]) -> Tuple[int, int]:
    lo, hi = band
    return (0, 0) if hi <= lo else (lo, hi)  # every "nothing removed" band is the same image


def _masked_batch(image, fill, levels, bands) -> np.ndarray:
    lo = np.asarray([b[0] for b in bands])[:, None, None]
    hi = np.asarray([b[1] for b in bands])[:, None, None]
    removed = (levels[None] > lo) & (levels[None] <= hi)
    return np.where(removed[..., None], fill[None], image[None])


def predict_target(classifier, images_of: Callable[[int, int], np.ndarray], total: int, target: int, batch_size: int,
                   progress: bool = False, desc: str = "") -> np.ndarray:
    """Target probabilities over ``total`` images produced batch by batch by ``images_of(start, stop)``."""
    out = np.empty(total, dtype=np.float64)
    starts = range(0, total, batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc, unit="batch")
    from ..models.base import prediction_session

    with prediction_session(classifier):
        for start in starts:
            stop = min(start + batch_size, total)
            batch = images_of(start, stop)
            probs = np.asarray(classifier.predict_proba(batch, batch_size=batch_size))
            if probs.ndim != 2 or len(probs) != stop - start:
                raise ValueError(f"predict_proba returned shape {probs.shape} for {stop - start} images")
            out[start:stop] = probs[:, target]
    return out


def run_curves(classifier, image: np.ndarray, fill: np.ndarray, levels: np.ndarray, specs: Sequence[CurveSpec],
               target: int, batch_size: int, return_images: bool = False,
               progress: bool = False) -> Dict[str, Dict[str, np.ndarray]]:
    """Probabilities of ``target`` along each curve, every distinct perturbed image run once.

    Returns ``{curve name: {'fractions', 'probabilities'[, 'images']}}``.
    """
    unique: List[Tuple[int, int]] = []
    index: Dict[Tuple[int, int], int] = {}
    for spec in specs:
        for band in spec.bands:
            if band not in index:
                index[band] = len(unique)
                unique.append(band)
    probs = predict_target(classifier, lambda a, b: _masked_batch(image, fill, levels, unique[a:b]), len(unique),
                           target, batch_size, progress=progress, desc="perturbation curves")
    out = {}
    for spec in specs:
        rows = [index[b] for b in spec.bands]
        entry = {"fractions": spec.fractions.copy(), "probabilities": probs[rows]}
        if return_images:
            entry["images"] = _masked_batch(image, fill, levels, spec.bands)
        out[spec.name] = entry
    return out


def auc(fractions: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid area under ``values`` over ``fractions`` (which run from 0 to 1): in [0, 1] for
    probabilities."""
    x = np.asarray(fractions, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) * 0.5))


# -- the metric classes' shared body ------------------------------------------------------------
class CurveMetric(Metric):
    """Base of the perturbation-curve metrics: one or both of a pair of curves, chosen by ``mode``.

    Subclasses set ``curves`` (mode -> higher_is_better of that curve's AUC), ``both_name`` and
    ``combined`` (``(good, bad)``: the 'both' score is ``AUC(good) - AUC(bad)``, higher is better).
    A registered single-curve subclass sets ``fixed_mode``.
    """

    curves: Dict[str, bool] = {}
    combined: Tuple[str, str] = ("", "")
    fixed_mode: Optional[str] = None

    def __init__(self, mode: Optional[str] = None, fill: Fill = "grey", sigma: float = 10.0,
                 steps: Optional[int] = 20, batch_size: int = 50, return_images: bool = False,
                 limit_number_generated_samples: Optional[int] = None, progress: bool = False):
        modes = tuple(self.curves) + ("both",)
        if self.fixed_mode is not None:
            if mode not in (None, self.fixed_mode):
                raise ValueError(f"{type(self).__name__} computes {self.fixed_mode!r} only; got mode={mode!r} "
                                 f"(use {type(self).__mro__[1].__name__} for the other curves)")
            mode = self.fixed_mode
        elif mode is None:
            mode = "both"
        if mode not in modes:
            raise ValueError(f"mode must be one of {modes}, got {mode!r}")
        self.mode = mode
        if mode != "both":  # the instance reports as the single metric it computes
            self.name = mode
            self.higher_is_better = self.curves[mode]
        check_fill(fill, sigma)
        self.fill, self.sigma = fill, float(sigma)
        self.steps = check_steps(steps, limit_number_generated_samples)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.return_images = bool(return_images)
        self.progress = bool(progress)

    @property
    def limit_number_generated_samples(self) -> Optional[int]:
        """InterpretDL's name for :attr:`steps`."""
        return self.steps

    def params(self) -> Dict[str, Any]:
        return {"mode": self.mode, "fill": describe_fill(self.fill), "sigma": self.sigma, "steps": self.steps,
                "batch_size": self.batch_size}

    def evaluate(self, explanation, classifier=None, target: Optional[int] = None, **inputs) -> MetricResult:
        """Score ``explanation`` of ``classifier`` (for ``target``, default the explained class)."""
        check_no_extra_inputs(self.name, inputs)
        classifier = check_classifier(classifier)
        image = explanation_image(explanation)
        target = resolve_target(explanation, target, classifier)
        levels, n, kind = removal_levels(explanation, self.steps, target)
        fill = fill_image(self.fill, image, self.sigma)
        names = list(self.curves) if self.mode == "both" else [self.mode]
        specs = [CurveSpec.make(name, levels, n) for name in names]
        curves = run_curves(classifier, image, fill, levels, specs, target, self.batch_size,
                            return_images=self.return_images, progress=self.progress)
        # 'steps': the steps actually taken (fewer than asked with fewer superpixels or pixels)
        common = {**self.params(), "steps_requested": self.steps, "steps": n, "target": target, "kind": kind}
        if self.mode != "both":
            curve = curves[self.mode]
            return MetricResult(name=self.name, score=auc(curve["fractions"], curve["probabilities"]),
                                higher_is_better=self.higher_is_better, details={**curve, **common})
        details: Dict[str, Any] = {}
        for name, curve in curves.items():
            details[f"{name}_score"] = auc(curve["fractions"], curve["probabilities"])
            details.update({f"{name}_{key}": value for key, value in curve.items()})
        good, bad = self.combined
        return MetricResult(name=self.name, score=details[f"{good}_score"] - details[f"{bad}_score"],
                            higher_is_better=True, details={**details, **common})
