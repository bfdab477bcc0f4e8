"""Choosing and painting the superpixels a LIME-style figure shows."""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["PANEL_THRESHOLDS", "select_superpixels", "paint_superpixels", "draw_boundaries"]

# PaddleX's five panels: show superpixels until their share of positive weight exceeds each threshold.
PANEL_THRESHOLDS = (0.6, 0.7, 0.75, 0.8, 0.85)

_GREEN = np.array([0, 255, 0], dtype=np.float32)
_RED = np.array([255, 0, 0], dtype=np.float32)
_YELLOW = np.array([255, 255, 0], dtype=np.uint8)


def select_superpixels(weights: np.ndarray, segments: np.ndarray, threshold: float) -> np.ndarray:
    """Ids of the top positive superpixels that carry more than ``threshold`` of the positive weight.

    PaddleX's rule: walk the positive superpixels from the largest weight down, skipping those
    smaller than ``H*W / num_superpixels / 8`` pixels, until the walked share of the positive
    weight exceeds ``threshold``. If it never does (small superpixels hold the rest), every
    qualifying superpixel is shown, so a higher threshold never shows fewer. With no qualifying
    superpixel, the 5 largest positive weights are shown (PaddleX's fallback).
    """
    n_sp = len(weights)
    sizes = np.bincount(segments.reshape(-1), minlength=n_sp)
    positive = np.flatnonzero(weights > 0)
    if positive.size == 0:
        return positive
    order = positive[np.argsort(-weights[positive], kind="stable")]
    qualified = order[sizes[order] >= segments.size / n_sp / 8]
    if qualified.size == 0:
        return order[:5]
    share = np.cumsum(weights[qualified]) / weights[positive].sum()
    n = int(np.searchsorted(share, threshold, side="right")) + 1
    return qualified[: min(n, qualified.size)]


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
