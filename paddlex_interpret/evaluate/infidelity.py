"""Infidelity (Yeh et al. 2019): does the explanation, summed over a hidden square, predict how much
the target's probability drops when that square is hidden?"""
from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from ..engine._validation import check_positive_int
from ..engine.maps import importance_map
from ._curves import (Fill, check_classifier, check_fill, check_no_extra_inputs, describe_fill, explanation_image,
                      fill_image, predict_target, resolve_target)
from .base import Metric, MetricResult, explanation_kind

__all__ = ["Infidelity"]

_REDUCE = ("sum", "abs_sum", "abs_max", "l2")


def _starts(length: int, size: int, stride: int) -> np.ndarray:
    """``0, stride, 2*stride, ...`` while the square fits, plus one flush with the far edge if missed."""
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return np.asarray(starts, dtype=np.int64)


def square_perturbations(height: int, width: int, sizes: Sequence[int], stride: int) -> np.ndarray:
    """``(M, 3)`` int array of ``(top, left, size)``: every square of every size that fits the image."""
    rows = []
    for size in sizes:
        if size > height or size > width:
            continue
        tops, lefts = _starts(height, size, stride), _starts(width, size, stride)
        t, l = np.meshgrid(tops, lefts, indexing="ij")
        rows.append(np.stack([t.ravel(), l.ravel(), np.full(t.size, size)], axis=1))
    if not rows:
        raise ValueError(f"no square of sizes {list(sizes)} fits the {height}x{width} image; give smaller sizes")
    return np.concatenate(rows, axis=0)


def _occluded_batch(image: np.ndarray, fill: np.ndarray, squares: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    top, left, size = squares[:, 0, None], squares[:, 1, None], squares[:, 2, None]
    rows = np.arange(h)[None, :]
    cols = np.arange(w)[None, :]
    in_rows = (rows >= top) & (rows < top + size)
    in_cols = (cols >= left) & (cols < left + size)
    hidden = in_rows[:, :, None] & in_cols[:, None, :]
    return np.where(hidden[..., None], fill[None], image[None])


def _square_sums(phi: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """Sum of ``phi`` over each square, from a summed-area table (no per-square mask)."""
    table = np.zeros((phi.shape[0] + 1, phi.shape[1] + 1), dtype=np.float64)
    table[1:, 1:] = phi.cumsum(axis=0).cumsum(axis=1)
    t, l, s = squares[:, 0], squares[:, 1], squares[:, 2]
    return table[t + s, l + s] - table[t, l + s] - table[t + s, l] + table[t, l]


class Infidelity(Metric):
    """Infidelity with the optimal-scale normalisation of the official implementation (lower is better).

    Perturbations ``I`` are squares of each size in ``sizes`` on a ``stride`` grid (plus one
    square flush with the far edges where the grid misses them), hidden by setting their pixels
    to the ``fill``. For each, ``delta_f = f(x) - f(x with the square hidden)`` with ``f`` the
    target's probability, and ``I . phi`` is the explanation summed over the square's pixels.
    The score is::

        beta  = E[(I . phi) * delta_f] / E[(I . phi)^2]
        infid = E[(beta * (I . phi) - delta_f)^2]

    so it does not depend on the explanation's scale (or sign convention, beyond its direction).
    A constant-zero explanation scores ``E[delta_f^2]``.

    Pixel units: ``phi`` holds one value per pixel of the explained image, and ``I`` is the 0/1
    indicator of the hidden square, so ``phi`` is read as "the drop in the score this pixel
    accounts for". Superpixel explanations give each pixel its superpixel's signed weight for the
    target; a 2-D map (CAM, occlusion) is used as it is; a ``(3, H, W)`` attribution is reduced over
    channels by ``reduce`` - by default with its sign ('sum', the explanation's ``pixel_map``),
    because an attribution that decomposes a score difference over input elements (integrated
    gradients or GradientSHAP with the fill as baseline, LRP) gives a pixel the sum of its
    channels, and a pixel whose removal raises the score must count negatively. ``'abs_sum'``
    reproduces the ranking map the curve metrics use. Raw gradients (saliency, SmoothGrad) are
    compared as they are, as InterpretDL does; they are not multiplied by ``x - fill``.

    Parameters
    ----------
    sizes : sequence of int, default (32, 64, 128)
        Square sides in pixels; sizes larger than the image are skipped (an error if none fits).
    stride : int, default 8
        Grid step between squares (the official implementation uses 1; InterpretDL 8).
    fill : 'grey' | 'blur' | 'mean' | number | (r, g, b) | uint8 image, default 'grey' (127)
        What hidden pixels become (as in the curve metrics).
    sigma : float, default 10
        Blur width in pixels for ``fill='blur'``.
    reduce : {'sum', 'abs_sum', 'abs_max', 'l2'}, default 'sum'
        Channel reduction of ``(3, H, W)`` attributions.
    batch_size : int, default 50
        Images per model pass; scores do not depend on it.
    cache_size : int, default 8
        Images whose model responses are kept. ``f`` on all hidden-square images does not depend
        on the explanation, so it is computed once per (image bytes, target, sizes, stride, fill,
        classifier) and reused by later calls on other explanations of the same image. Call
        :meth:`clear_cache` after changing the model's weights.
    progress : bool, default False
        Show a progress bar over the batches.

    Notes
    -----
    :meth:`evaluate` ``(explanation, classifier, target=None)`` returns a :class:`MetricResult`
    with details ``beta``, ``relative`` (the score divided by ``E[delta_f^2]``: the share of the
    score drops the scaled explanation fails to predict, 0 = perfect, 1 = no better than zero),
    ``num_perturbations``, ``cached`` (whether the model responses came from the cache),
    ``squares`` ``(M, 3)`` (top, left, size), ``score_drops`` (``delta_f``) and
    ``explanation_sums`` (``I . phi``).
    """

    name = "infidelity"
    higher_is_better = False
    description = ("Mean squared error between the optimally scaled explanation summed over hidden squares "
                   "and the target probability's drop (lower is better)")

    def __init__(self, sizes: Sequence[int] = (32, 64, 128), stride: int = 8, fill: Fill = "grey",
                 sigma: float = 10.0, reduce: str = "sum", batch_size: int = 50, cache_size: int = 8,
                 progress: bool = False):
        if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, (bool, np.bool_)):
            sizes = (sizes,)
        if not isinstance(sizes, (tuple, list)) or not sizes:
            raise TypeError(f"sizes must be a non-empty sequence of positive ints, got {sizes!r}")
        self.sizes = tuple(check_positive_int(s, "sizes") for s in sizes)
        self.stride = check_positive_int(stride, "stride")
        check_fill(fill, sigma)
        self.fill, self.sigma = fill, float(sigma)
        if reduce not in _REDUCE:
            raise ValueError(f"reduce must be one of {_REDUCE}, got {reduce!r}")
        self.reduce = reduce
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.cache_size = check_positive_int(cache_size, "cache_size", minimum=0)
        self.progress = bool(progress)
        self._cache: "OrderedDict[tuple, Tuple[Any, float, np.ndarray]]" = OrderedDict()

    def params(self) -> Dict[str, Any]:
        return {"sizes": list(self.sizes), "stride": self.stride, "fill": describe_fill(self.fill),
                "sigma": self.sigma, "reduce": self.reduce, "batch_size": self.batch_size}

    def clear_cache(self) -> None:
        """Forget every cached model response."""
        self._cache.clear()

    # -- pieces ---------------------------------------------------------------------------------
    def explanation_map(self, explanation, target: int) -> np.ndarray:
        """``phi``: the explanation as one signed value per pixel (see the class notes)."""
        if explanation_kind(explanation) == "superpixel":
            return importance_map(explanation, target=target)
        return importance_map(explanation, channels=self.reduce)

    def _key(self, image: np.ndarray, target: int, classifier) -> tuple:
        digest = hashlib.sha256(image.tobytes()).hexdigest()
        return (digest, image.shape, target, self.sizes, self.stride, repr(describe_fill(self.fill)), self.sigma,
                id(classifier))

    def _responses(self, image, target, classifier, squares) -> Tuple[float, np.ndarray, bool]:
        """``(f(x), f(x with each square hidden), cached)``."""
        key = self._key(image, target, classifier)
        entry = self._cache.get(key)
        if entry is not None and entry[0]() is classifier:
            self._cache.move_to_end(key)
            return entry[1], entry[2], True
        fill = fill_image(self.fill, image, self.sigma)

        def images_of(start, stop):  # row 0: the image itself; row i: square i - 1 hidden
            lo = max(start - 1, 0)
            batch = _occluded_batch(image, fill, squares[lo:stop - 1])
            return np.concatenate([image[None], batch]) if start == 0 else batch

        probs = predict_target(classifier, images_of, len(squares) + 1, target, self.batch_size,
                               progress=self.progress, desc="infidelity")
        f_x, f_hidden = float(probs[0]), probs[1:]
        if self.cache_size:
            self._cache[key] = (weakref.ref(classifier), f_x, f_hidden)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return f_x, f_hidden, False

    def evaluate(self, explanation, classifier=None, target: Optional[int] = None, **inputs) -> MetricResult:
        """Infidelity of ``explanation`` for ``classifier`` (``target``: default the explained class)."""
        check_no_extra_inputs(self.name, inputs)
        classifier = check_classifier(classifier)
        image = explanation_image(explanation)
        target = resolve_target(explanation, target, classifier)
        phi = self.explanation_map(explanation, target)
        if phi.shape != image.shape[:2]:
            raise ValueError(f"the explanation map {phi.shape} does not match the image {image.shape[:2]}")
        if not np.all(np.isfinite(phi)):
            raise ValueError("the explanation map holds NaN or infinite values")
        squares = square_perturbations(image.shape[0], image.shape[1], self.sizes, self.stride)
        f_x, f_hidden, cached = self._responses(image, target, classifier, squares)
        drops = f_x - f_hidden
        sums = _square_sums(phi, squares)
        power = float(np.mean(sums * sums))
        beta = float(np.mean(sums * drops)) / power if power > 0 else 0.0
        score = float(np.mean((beta * sums - drops) ** 2))
        drop_power = float(np.mean(drops * drops))
        relative = score / drop_power if drop_power > 0 else float("nan")
        details = {"beta": beta, "relative": relative, "num_perturbations": len(squares), "cached": cached,
                   "target": target, "probability": f_x, "squares": squares, "score_drops": drops,
                   "explanation_sums": sums, **self.params()}
        return MetricResult(name=self.name, score=score, higher_is_better=False, details=details)
