"""Figures for per-pixel explanations and the multi-method comparison."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..engine.explanation import PixelExplanation
from ..engine.maps import importance_map
from ..engine.registry import METHODS
from .heatmap import render

__all__ = ["pixel_figure", "comparison_figure", "save_figure", "saliency_of", "figure_mode"]

_SIGNED_KEY = "; red: for, blue: against"


def figure_mode(explanation) -> str:
    """How a figure draws ``explanation``: the method's ``figure_map`` in the registry ('signed',
    'absolute' or 'positive'); 'positive' for methods the registry does not know."""
    spec = METHODS.get(getattr(explanation, "method", None))
    return spec.figure_map if spec is not None else "positive"


def saliency_of(explanation) -> np.ndarray:
    """The ``(H, W)`` map a figure shows (:func:`~paddlex_interpret.engine.importance_map` in the
    method's :func:`figure_mode`): signed maps (Occlusion, Integrated Gradients, GradientSHAP, LRP)
    with their channels summed, raw gradients (SmoothGrad) as |a| summed over channels, CAM and
    Consensus maps as they are, LIME's superpixels by their positive weights."""
    mode = figure_mode(explanation)
    return importance_map(explanation, mode, channels="abs_sum" if mode != "signed" else "sum")


def _image_and_panels(explanation, panels: int, panel_inches: float):
    """A one-row figure: the image (titled with label and probability) and ``panels`` empty axes."""
    fig = Figure(figsize=(panel_inches * (1 + panels), panel_inches + 0.6))
    axes = np.atleast_1d(fig.subplots(1, 1 + panels))
    for ax in axes:
        ax.axis("off")
    axes[0].imshow(explanation.image)
    axes[0].set_title(f"label {explanation.label_name}, proba: {explanation.probability:.3f}")
    return fig, axes[1:]


def pixel_figure(explanation: PixelExplanation, styles: Sequence[str] = ("heatmap", "overlay"),
                 clip_percentile: float = 99.0) -> Figure:
    """The image (titled with label and probability) followed by one panel per style."""
    saliency = saliency_of(explanation)
    signed = figure_mode(explanation) == "signed"
    fig, axes = _image_and_panels(explanation, len(styles), 5)
    for ax, style in zip(axes, styles):
        ax.imshow(render(explanation.image, saliency, style, clip_percentile, signed=signed))
        ax.set_title(f"{explanation.method} ({style}{_SIGNED_KEY if signed else ''})")
    return fig


def comparison_figure(explanations: Sequence, style: str = "overlay", clip_percentile: float = 99.0) -> Figure:
    """One row: the image, then each explanation's map (all for the same image)."""
    if not explanations:
        raise ValueError("comparison_figure needs at least one explanation")
    fig, axes = _image_and_panels(explanations[0], len(explanations), 4)
    for ax, exp in zip(axes, explanations):
        signed = figure_mode(exp) == "signed"
        ax.imshow(render(exp.image, saliency_of(exp), style, clip_percentile, signed=signed))
        ax.set_title(exp.method + (_SIGNED_KEY if signed else ""))
    return fig


def save_figure(fig: Figure, path, dpi: int = 80) -> Path:
    """Write ``fig`` as PNG atomically. Returns the path."""
    from .._home import atomic_write

    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path
