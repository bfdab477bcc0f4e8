"""Turning attribution maps into pictures: heatmap, overlay, grayscale and threshold styles."""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps

__all__ = ["STYLES", "normalize_map", "render"]

STYLES = ("heatmap", "overlay", "grayscale", "threshold")


def normalize_map(saliency: np.ndarray, clip_percentile: float = 99.0, signed: bool = False) -> np.ndarray:
    """Scale to [0, 1] (or [-1, 1] if ``signed``) after clipping at ``clip_percentile`` of |values|."""
    if not 0 < clip_percentile <= 100:
        raise ValueError(f"clip_percentile must be in (0, 100], got {clip_percentile}")
    s = np.nan_to_num(np.asarray(saliency, dtype=np.float64))
    if signed:
        top = np.percentile(np.abs(s), clip_percentile)
        return np.clip(s / top, -1, 1) if top > 0 else np.zeros_like(s)
    lo = s.min()
    hi = np.percentile(s, clip_percentile)
    if hi <= lo:
        return np.zeros_like(s)
    return np.clip((s - lo) / (hi - lo), 0, 1)


def _resize_to(saliency: np.ndarray, shape) -> np.ndarray:
    if saliency.shape == tuple(shape):
        return saliency
    import cv2

    return cv2.resize(saliency.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def render(image: np.ndarray, saliency: np.ndarray, style: str = "overlay", clip_percentile: float = 99.0,
           cmap: str = "jet", alpha: float = 0.5, keep_percentile: float = 80.0) -> np.ndarray:
    """A uint8 RGB picture of ``saliency`` (``(H, W)``) over ``image`` in one of :data:`STYLES`.

    'heatmap' colours the map; 'overlay' blends it over the image with ``alpha``; 'grayscale'
    shows it in grey levels; 'threshold' keeps the image where the map is above its
    ``keep_percentile`` and darkens the rest.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    s = normalize_map(_resize_to(saliency, image.shape[:2]), clip_percentile)
    if style == "grayscale":
        return np.repeat(np.round(s * 255).astype(np.uint8)[..., None], 3, axis=2)
    if style == "threshold":
        keep = s >= np.percentile(s, keep_percentile)
        out = image.astype(np.float32) * 0.15
        out[keep] = image[keep]
        return out.astype(np.uint8)
    colour = colormaps[cmap](s)[..., :3] * 255
    if style == "heatmap":
        return np.round(colour).astype(np.uint8)
    return np.round((1 - alpha) * image.astype(np.float32) + alpha * colour).astype(np.uint8)

