"""PaddleX's LIME figure: a 2x5 grid (image, segmentation; five 'first n superpixels' panels)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.figure import Figure

from ..engine.explanation import SuperpixelExplanation
from .superpixels import PANEL_THRESHOLDS, draw_boundaries, paint_superpixels, select_superpixels

__all__ = ["lime_figure", "save_lime_figure"]


def superpixel_grid(explanation: SuperpixelExplanation, target: int, rows: int):
    """PaddleX's grid: ``rows`` x 5 axes (25 x 5*rows inches), row 1 the image titled with label and
    probability and the segmentation, the rest of row 1 empty. Returns ``(figure, axes)``."""
    fig = Figure(figsize=(25, 5 * rows))
    axes = fig.subplots(rows, 5)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(explanation.image)
    axes[0, 0].set_title(f"label {explanation.label_names[target]}, proba: {explanation.probabilities[target]:.3f}")
    axes[0, 1].imshow(draw_boundaries(explanation.image, explanation.segments))
    axes[0, 1].set_title(f"superpixel segmentation ({explanation.num_superpixels} superpixels)")
    return fig, axes


def lime_figure(explanation: SuperpixelExplanation, target: Optional[int] = None, show_negative: bool = False) -> Figure:
    """Build (do not show) the 2x5 LIME figure for ``target`` (default: the primary class)."""
    target = explanation.target if target is None else int(target)
    weights = explanation.weights_of(target)
    image, segments = explanation.image, explanation.segments
    name = explanation.label_names[target]

    fig, axes = superpixel_grid(explanation, target, rows=2)

    negative_order = np.argsort(weights, kind="stable")
    for ax, threshold in zip(axes[1], PANEL_THRESHOLDS):
        positive = select_superpixels(weights, segments, threshold)
        n = len(positive)
        negative = [i for i in negative_order[:n] if weights[i] < 0] if show_negative else []
        ax.imshow(paint_superpixels(image, segments, positive, negative))
        ax.set_title(f"label {name}, first {len(positive)} superpixels")
    fig.suptitle(f"{explanation.method.upper()}: green = supports the class"
                 + (", red = against it" if show_negative else "")
                 + f"; local fit R^2 = {explanation.scores.get(target, float('nan')):.3f}" + _samples_note(explanation))
    return fig


def _samples_note(explanation) -> str:
    """What ``num_samples='auto'`` did, for the title: samples used and the stability reached."""
    p = explanation.params
    if p.get("num_samples") != "auto":
        return ""
    verdict = "" if p.get("stability_reached") else f", below the {p['stability_target']:.0%} asked for"
    return (f"; auto: {p['samples_used']} samples, top {p['stability_top_k']} {p['stability']:.0%} "
            f"stable{verdict}")


def save_lime_figure(explanation: SuperpixelExplanation, path, target: Optional[int] = None,
                     show_negative: bool = False, dpi: int = 80) -> Path:
    """Write the figure as PNG atomically (no half-written file on error). Returns the path."""
    from .pixel_figure import save_figure

    return save_figure(lime_figure(explanation, target, show_negative), path, dpi=dpi)
