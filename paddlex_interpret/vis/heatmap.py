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
           cmap: str = "jet", alpha: float = 0.5, keep_percentile: float = 80.0, signed: bool = False) -> np.ndarray:
    """A uint8 RGB picture of ``saliency`` (``(H, W)``) over ``image`` in one of :data:`STYLES`.

    'heatmap' colours the map; 'overlay' blends it over the image with ``alpha``; 'grayscale'
    shows it in grey levels; 'threshold' keeps the image where the map is above its
    ``keep_percentile`` and darkens the rest.

    ``signed`` maps keep evidence for (> 0) and against (< 0) the class apart: scaled to [-1, 1]
    by the ``clip_percentile`` of ``|map|`` and drawn with a diverging colour map (``cmap``
    'RdBu_r' unless given: red for, blue against, white for 0); 'overlay' blends each pixel in
    proportion to ``|map|`` so neutral pixels show the image; 'grayscale' puts 0 at mid-grey;
    'threshold' keeps the ``100 - keep_percentile`` % strongest evidence *for* the class.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if signed:
        return _render_signed(image, saliency, style, clip_percentile, "RdBu_r" if cmap == "jet" else cmap, alpha,
                              keep_percentile)
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



def _render_signed(image, saliency, style, clip_percentile, cmap, alpha, keep_percentile) -> np.ndarray:
    s = normalize_map(_resize_to(saliency, image.shape[:2]), clip_percentile, signed=True)  # [-1, 1]
    if style == "grayscale":
        return np.repeat(np.round((s + 1) * 127.5).astype(np.uint8)[..., None], 3, axis=2)
    if style == "threshold":
        positive = s[s > 0]
        keep = (s > 0) & (s >= np.percentile(positive, keep_percentile)) if positive.size else np.zeros_like(s, bool)
        out = image.astype(np.float32) * 0.15
        out[keep] = image[keep]
        return out.astype(np.uint8)
    colour = colormaps[cmap]((s + 1) / 2)[..., :3] * 255
    if style == "heatmap":
        return np.round(colour).astype(np.uint8)
    weight = (alpha * np.abs(s))[..., None]
    return np.round((1 - weight) * image.astype(np.float32) + weight * colour).astype(np.uint8)
