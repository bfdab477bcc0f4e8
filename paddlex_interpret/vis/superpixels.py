"""Choosing and painting the superpixels a LIME-style figure shows."""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["PANEL_THRESHOLDS", "auto_num_superpixels", "paint_superpixels", "draw_boundaries"]

# PaddleX's five panels: show superpixels until their share of positive weight exceeds each threshold.
PANEL_THRESHOLDS = (0.6, 0.7, 0.75, 0.8, 0.85)

_GREEN = np.array([0, 255, 0], dtype=np.float32)
_RED = np.array([255, 0, 0], dtype=np.float32)
_YELLOW = np.array([255, 255, 0], dtype=np.uint8)


def auto_num_superpixels(weights: np.ndarray, segments: np.ndarray, threshold: float) -> int:
    """How many of the top positive superpixels carry more than ``threshold`` of the positive weight.

    Superpixels smaller than ``H*W / num_superpixels / 8`` are skipped. If none qualifies the
    threshold is lowered by 0.1 and tried again; at 0 the answer is 5 (PaddleX's rule).
    """
    n_sp = len(weights)
    sizes = np.bincount(segments.reshape(-1), minlength=n_sp)
    min_size = segments.size / n_sp / 8
    positive = np.clip(weights, 0, None)
    total = positive.sum()
    if total <= 0:
        return 0
    share = positive / total
    order = [i for i in np.argsort(-weights, kind="stable") if weights[i] > 0 and sizes[i] >= min_size]
    while threshold > 0:
        acc = 0.0
        for n, i in enumerate(order, start=1):
            acc += share[i]
            if acc > threshold:
                return n
        threshold = round(threshold - 0.1, 10)
    return min(5, n_sp)


def draw_boundaries(image: np.ndarray, segments: np.ndarray, color=_YELLOW, only: Sequence[int] = None) -> np.ndarray:
    """Copy of ``image`` with superpixel boundaries drawn (optionally only around ``only``)."""
    from skimage.segmentation import find_boundaries

    labels = segments
    if only is not None:
        labels = np.where(np.isin(segments, list(only)), segments + 1, 0)
    edges = find_boundaries(labels, mode="inner" if only is not None else "thick")
    if only is not None:
        edges &= labels > 0
    out = image.copy()
    out[edges] = color
    return out


def paint_superpixels(image: np.ndarray, segments: np.ndarray, positive: Sequence[int],
                      negative: Sequence[int] = (), alpha: float = 0.45) -> np.ndarray:
    """Tint ``positive`` superpixels green and ``negative`` ones red, outlining both."""
    out = image.astype(np.float32)
    for ids, colour in ((positive, _GREEN), (negative, _RED)):
        if len(ids):
            sel = np.isin(segments, list(ids))
            out[sel] = (1 - alpha) * out[sel] + alpha * colour
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    chosen = list(positive) + list(negative)
    return draw_boundaries(out, segments, only=chosen) if chosen else out
