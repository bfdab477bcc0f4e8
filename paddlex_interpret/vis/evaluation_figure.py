"""The probability curves of curve metrics (deletion, insertion, MoRF, LeRF)."""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
from matplotlib.figure import Figure

from .pixel_figure import figure_mode, saliency_of
from .heatmap import render

__all__ = ["curves_figure", "curve_panels"]


def curve_panels(results: Dict[str, object]) -> List[Tuple[str, np.ndarray, np.ndarray, float, bool]]:
    """``(name, fractions, probabilities, score, higher_is_better)`` for every curve in ``results``,
    including both curves of the two-curve metrics (keys prefixed with the curve's name)."""
    panels = []
    for name, result in results.items():
        d = result.details
        if "fractions" in d and "probabilities" in d:
            panels.append((name, d["fractions"], d["probabilities"], result.score, result.higher_is_better))
        for curve, higher in (("deletion", False), ("insertion", True), ("morf", False), ("lerf", True)):
            if f"{curve}_fractions" in d and f"{curve}_probabilities" in d:
                panels.append((curve, d[f"{curve}_fractions"], d[f"{curve}_probabilities"],
                               d.get(f"{curve}_score", float("nan")), higher))
    return panels


def curves_figure(results: Dict[str, object], explanation) -> Figure:
    """The explained image with its map, then one axes per curve (probability vs fraction)."""
    panels = curve_panels(results)
    fig = Figure(figsize=(5 * (1 + len(panels)), 4.6))
    axes = np.atleast_1d(fig.subplots(1, 1 + len(panels)))
    axes[0].imshow(render(explanation.image, saliency_of(explanation), "overlay",
                          signed=figure_mode(explanation) == "signed"))
    axes[0].set_title(f"{explanation.method}: {explanation.label_name}")
    axes[0].axis("off")
    for ax, (name, x, y, score, higher_is_better) in zip(axes[1:], panels):
        x, y = np.asarray(x), np.asarray(y)
        ax.plot(x, y, marker="o", markersize=3)
        ax.fill_between(x, y, alpha=0.2)
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, 1)
        ax.set_xlabel("fraction of the image changed")
        ax.set_ylabel(f"probability of '{explanation.label_name}'")
        better = "higher" if higher_is_better else "lower"
        ax.set_title(f"{name}: AUC {score:.3f} ({better} is better)")
        ax.grid(alpha=0.3)
    return fig
