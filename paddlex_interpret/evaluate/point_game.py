"""Pointing game: does an explanation point at the annotated object? (Zhang et al. 2016,
https://arxiv.org/abs/1608.00507; measures as InterpretDL's ``PointGame``/``PointGameSegmentation``).

Both metrics need no model: they compare the explanation's ``(H, W)`` ranking map (see
:func:`~paddlex_interpret.evaluate.base.ranking_map`) with a ground truth region of the explained
image, a bounding box (:class:`PointGame`) or a binary mask (:class:`PointGameSegmentation`).
"""
from __future__ import annotations

import numbers
from typing import Optional, Sequence

import numpy as np

from .base import Metric, MetricResult, ranking_map

__all__ = ["PointGame", "PointGameSegmentation", "bbox_mask", "pointing_scores"]


def _as_map(explanation) -> np.ndarray:
    """The ``(H, W)`` map of an explanation object, or a 2-D array given directly."""
    if isinstance(explanation, np.ndarray):
        if explanation.ndim != 2:
            raise ValueError(f"an explanation given as an array must be a (H, W) map; got shape {explanation.shape}")
        exp_map = np.asarray(explanation, dtype=np.float64)
    else:
        exp_map = np.asarray(ranking_map(explanation), dtype=np.float64)
    if not np.all(np.isfinite(exp_map)):
        raise ValueError("the explanation map holds NaN or infinite values")
    return exp_map


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a number in [0, 1] (a fraction of the map's maximum), got {threshold!r}")
    return float(threshold)


def bbox_mask(bbox: Sequence[int], shape) -> np.ndarray:
    """Boolean ``(H, W)`` mask of a box ``(x1, y1, x2, y2)``: columns ``x1 <= x < x2``, rows ``y1 <= y < y2``.

    Raises ValueError for a malformed box or one that is not inside an image of ``shape``.
    """
    h, w = int(shape[0]), int(shape[1])
    try:
        values = list(bbox)
    except TypeError:
        raise TypeError(f"bbox must be a sequence (x1, y1, x2, y2), got {bbox!r}") from None
    if len(values) != 4:
        raise ValueError(f"bbox must have 4 values (x1, y1, x2, y2), got {len(values)}: {bbox!r}")
    coords = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or float(v) != int(v):
            raise ValueError(f"bbox coordinates must be integer pixel positions, got {bbox!r}")
        coords.append(int(v))
    x1, y1, x2, y2 = coords
    if not (x1 < x2 and y1 < y2):
        raise ValueError(f"bbox (x1, y1, x2, y2) = {tuple(coords)} is empty or inverted: need x1 < x2 and y1 < y2")
    if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
        raise ValueError(
            f"bbox (x1, y1, x2, y2) = {tuple(coords)} is not inside the explained image ({w} wide, {h} high): "
            f"need 0 <= x1 < x2 <= {w} and 0 <= y1 < y2 <= {h}. The box is in the pixel coordinates of the "
            f"image as explained (explanation.image, after resize/crop); map or clip annotations of the original "
            f"photo first"
        )
    mask = np.zeros((h, w), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def _check_mask(mask, shape) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.shape != tuple(shape):
        raise ValueError(
            f"mask has shape {mask.shape} but the explanation map is {tuple(shape)} (height, width); the mask "
            f"must cover the image as explained (explanation.image, after resize/crop)"
        )
    if mask.dtype != bool:
        if not np.issubdtype(mask.dtype, np.number) or not np.all(np.isin(mask, (0, 1))):
            raise ValueError("mask must be binary (bool or 0/1 values); threshold a soft or label mask first")
        mask = mask.astype(bool)
    if not mask.any():
        raise ValueError("mask has no positive pixel: there is nothing to point at")
    return mask


def pointing_scores(exp_map: np.ndarray, region: np.ndarray, threshold: float = 0.25) -> dict:
    """Precision, recall, F1 of the pixels at or above ``threshold * max(map)`` w.r.t. ``region``,
    ROC-AUC and average precision of the map as a score of ``region``, and the pointing-game hit.

    ``region`` is a boolean map of the same shape. A map without any positive value selects no
    pixel (precision = recall = F1 = 0). ROC-AUC and AP are NaN when ``region`` covers the whole
    image (there are no negative pixels to rank below).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    exp_map = np.asarray(exp_map, dtype=np.float64)
    region = np.asarray(region, dtype=bool)
    peak = float(exp_map.max())
    selected = exp_map >= threshold * peak if peak > 0 else np.zeros_like(region)
    true_pos = int(np.count_nonzero(selected & region))
    n_selected = int(np.count_nonzero(selected))
    n_region = int(np.count_nonzero(region))
    precision = true_pos / n_selected if n_selected else 0.0
    recall = true_pos / n_region if n_region else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    y, s = region.ravel(), exp_map.ravel()
    if y.all() or not y.any():
        auc = ap = float("nan")
    else:
        auc = float(roc_auc_score(y, s))
        ap = float(average_precision_score(y, s))
    return {
        "precision": float(precision), "recall": float(recall), "f1_score": float(f1),
        "auc_score": auc, "ap_score": ap,
        "hit": bool(region.ravel()[int(np.argmax(s))]),
        "threshold": float(threshold), "threshold_value": float(threshold * peak),
        "selected_pixels": n_selected, "region_pixels": n_region,
    }


class _PointingBase(Metric):
    applies_to = ("superpixel", "pixel")
    higher_is_better = True
    needs_model = False

    def __init__(self, threshold: float = 0.25):
        self.threshold = _check_threshold(threshold)

    def _result(self, exp_map, region, extra) -> MetricResult:
        details = pointing_scores(exp_map, region, self.threshold)
        details.update(extra)
        return MetricResult(name=self.name, score=details["f1_score"], higher_is_better=True, details=details)


class PointGame(_PointingBase):
    """Alignment of an explanation with a bounding box (InterpretDL's ``PointGame``).

    The explanation's ranking map is thresholded at ``threshold * max(map)``: pixels at or above
    it are "selected". Precision (selected pixels inside the box / selected), recall (selected
    inside / box pixels) and their F1 depend on the threshold; the ROC-AUC and the average
    precision of the map as a score of "inside the box" (``sklearn.metrics``) do not. ``hit``
    is the classic pointing game: whether the map's maximum (the first one in raster order) lies
    in the box. ``score`` is the F1; ``details`` hold every number (``precision``, ``recall``,
    ``f1_score``, ``auc_score``, ``ap_score``, ``hit``, ...).

    Parameters
    ----------
    threshold : float in [0, 1], default 0.25
        Fraction of the map's maximum above which a pixel counts as pointed at (as InterpretDL).

    Notes
    -----
    ``evaluate(explanation, classifier=None, bbox=(x1, y1, x2, y2))``: ``explanation`` is a
    Pixel/SuperpixelExplanation (or a ``(H, W)`` array). The box is given in the pixel
    coordinates of the image as explained (``explanation.image``, i.e. after resize and crop):
    ``x`` is the column, ``y`` the row, ``(x1, y1)`` the top-left corner (included) and
    ``(x2, y2)`` the bottom-right corner (excluded), like Python slicing
    ``image[y1:y2, x1:x2]``. A box reaching outside the image raises ValueError.
    """

    name = "point_game"
    needs = ("bbox",)
    description = "precision/recall/F1 of the map's top pixels (>= 0.25 max) and ROC-AUC/AP w.r.t. a bounding box"

    def evaluate(self, explanation, classifier=None, bbox: Optional[Sequence[int]] = None, **inputs) -> MetricResult:
        if inputs:
            raise TypeError(f"point_game got unexpected inputs {sorted(inputs)}; it takes bbox=(x1, y1, x2, y2)")
        if bbox is None:
            raise ValueError("point_game needs bbox=(x1, y1, x2, y2) in the explained image's pixel coordinates")
        exp_map = _as_map(explanation)
        region = bbox_mask(bbox, exp_map.shape)
        return self._result(exp_map, region, {"bbox": tuple(int(v) for v in bbox)})


class PointGameSegmentation(_PointingBase):
    """Alignment of an explanation with a binary segmentation mask (InterpretDL's
    ``PointGameSegmentation``): the measures of :class:`PointGame` with the mask as the region.

    ``evaluate(explanation, classifier=None, mask=...)``: ``mask`` is a bool or 0/1 array of the
    explanation map's shape ``(H, W)`` (``(H, W, 1)`` is accepted), aligned with the image as
    explained. A mask of another shape, with other values, or without any positive pixel raises
    ValueError. ``score`` is the F1.
    """

    name = "point_game_segmentation"
    needs = ("mask",)
    description = "precision/recall/F1 of the map's top pixels (>= 0.25 max) and ROC-AUC/AP w.r.t. a binary mask"

    def evaluate(self, explanation, classifier=None, mask=None, **inputs) -> MetricResult:
        if inputs:
            raise TypeError(f"point_game_segmentation got unexpected inputs {sorted(inputs)}; it takes mask=...")
        if mask is None:
            raise ValueError("point_game_segmentation needs mask=... (a binary (H, W) array of the explained image)")
        exp_map = _as_map(explanation)
        region = _check_mask(mask, exp_map.shape)
        return self._result(exp_map, region, {})
