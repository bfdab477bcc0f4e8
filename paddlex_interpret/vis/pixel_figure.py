"""Figures for per-pixel explanations and the multi-method comparison."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..engine.explanation import PixelExplanation, SuperpixelExplanation
from .heatmap import render, to_2d

__all__ = ["pixel_figure", "comparison_figure", "save_figure", "saliency_of"]


def saliency_of(explanation) -> np.ndarray:
    """The ``(H, W)`` map a figure shows: |attribution| summed over channels for gradient-type maps,
    the map itself for CAM/occlusion maps, superpixel weights (positive part) painted on pixels."""
    if isinstance(explanation, SuperpixelExplanation):
        return np.clip(explanation.pixel_map(), 0, None)
    return to_2d(explanation.attribution, "abs_sum")


def pixel_figure(explanation: PixelExplanation, styles: Sequence[str] = ("heatmap", "overlay"),
                 clip_percentile: float = 99.0) -> Figure:
    """The image (titled with label and probability) followed by one panel per style."""
    saliency = saliency_of(explanation)
    fig = Figure(figsize=(5 * (1 + len(styles)), 5.4))
    axes = np.atleast_1d(fig.subplots(1, 1 + len(styles)))
    for ax in axes:
        ax.axis("off")
    axes[0].imshow(explanation.image)
    axes[0].set_title(f"label {explanation.label_name}, proba: {explanation.probability:.3f}")
    for ax, style in zip(axes[1:], styles):
        ax.imshow(render(explanation.image, saliency, style, clip_percentile))
        ax.set_title(f"{explanation.method} ({style})")
    return fig


def comparison_figure(explanations: Sequence, style: str = "overlay", clip_percentile: float = 99.0) -> Figure:
    """One row: the image, then each explanation's map (all for the same image)."""
    if not explanations:
        raise ValueError("comparison_figure needs at least one explanation")
    first = explanations[0]
    fig = Figure(figsize=(4 * (1 + len(explanations)), 4.6))
    axes = np.atleast_1d(fig.subplots(1, 1 + len(explanations)))
    for ax in axes:
        ax.axis("off")
    axes[0].imshow(first.image)
    axes[0].set_title(f"label {first.label_name}, proba: {first.probability:.3f}")
    for ax, exp in zip(axes[1:], explanations):
        ax.imshow(render(exp.image, saliency_of(exp), style, clip_percentile))
        ax.set_title(exp.method)
    return fig


def save_figure(fig: Figure, path, dpi: int = 80) -> Path:
    """Write ``fig`` as PNG atomically. Returns the path."""
    from .._home import atomic_write

    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path
