"""PaddleX's NormLIME figure: a 4x5 grid (25x20 inches).

Row 1: the image (titled with the label and probability) and its superpixel segmentation.
Rows 2-4: 'LIME', 'NormLIME' and 'Combined' (LIME x NormLIME) weights, each shown as five
'first n superpixels' panels for PaddleX's thresholds (see :func:`select_superpixels`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from matplotlib.figure import Figure

from .lime_figure import superpixel_grid
from .superpixels import PANEL_THRESHOLDS, paint_superpixels, select_superpixels

__all__ = ["normlime_figure", "save_normlime_figure", "ROW_NAMES"]

ROW_NAMES = (("lime", "LIME"), ("normlime", "NormLIME"), ("combined", "Combined"))


def normlime_figure(result, target: Optional[int] = None) -> Figure:
    """Build (do not show) the 4x5 NormLIME figure of a ``NormLimeResult`` for ``target``
    (default: the primary class)."""
    base = result.lime
    target = base.target if target is None else int(target)
    image, segments = base.image, base.segments
    name = base.label_names[target]

    fig, axes = superpixel_grid(base, target, rows=4)

    for row, (attr, title) in zip(axes[1:], ROW_NAMES):
        weights = getattr(result, attr).weights_of(target)
        for ax, threshold in zip(row, PANEL_THRESHOLDS):
            chosen = select_superpixels(weights, segments, threshold)
            ax.imshow(paint_superpixels(image, segments, chosen, []))
            ax.set_title(f"{title}: first {len(chosen)} superpixels")
    fig.suptitle(f"NormLIME for label {name}: green = the superpixels shown")
    return fig


def save_normlime_figure(result, path, target: Optional[int] = None, dpi: int = 80) -> Path:
    """Write the figure as PNG atomically (no half-written file on error). Returns the path."""
    from .pixel_figure import save_figure

    return save_figure(normlime_figure(result, target), path, dpi=dpi)
