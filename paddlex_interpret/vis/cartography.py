"""The data-map ("cartography") scatter: confidence vs variability, coloured by correctness."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.figure import Figure

from .pixel_figure import save_figure

__all__ = ["cartography_figure", "save_cartography_figure"]


def cartography_figure(result, highlight=None, title: Optional[str] = None, max_points: int = 20000,
                       random_state: int = 0) -> Figure:
    """Scatter of each training sample: x = variability, y = confidence, colour = correctness.

    Parameters
    ----------
    result : TrainingDataResult
        A ``data_map`` or ``tidy`` result (scores ``confidence``, ``variability``, ``correctness``).
    highlight : array-like of int or None, default None
        Sample ids to ring in red (e.g. known flipped labels, or the top suspects).
    title : str or None, default None
    max_points : int, default 20000
        At most this many points are drawn (a seeded random subset; highlighted ones always).
    random_state : int, default 0
        Seed of that subset.
    """
    for name in ("confidence", "variability", "correctness"):
        if name not in result.scores:
            raise ValueError(f"a cartography figure needs the score {name!r}; give a data_map or tidy result "
                             f"(this {result.method} result has {sorted(result.scores)})")
    conf = np.asarray(result.scores["confidence"], np.float64)
    var = np.asarray(result.scores["variability"], np.float64)
    corr = np.asarray(result.scores["correctness"], np.float64)
    n = len(conf)
    marked = np.isin(result.sample_ids, np.asarray([] if highlight is None else highlight, dtype=np.int64))
    shown = np.arange(n)
    if n > max_points:
        rng = np.random.default_rng(random_state)
        shown = np.union1d(rng.choice(n, size=max_points, replace=False), np.flatnonzero(marked))
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    sc = ax.scatter(var[shown], conf[shown], c=corr[shown], cmap="viridis", vmin=0, vmax=1, s=10, alpha=0.75,
                    linewidths=0)
    if marked.any():
        ax.scatter(var[marked], conf[marked], s=36, facecolors="none", edgecolors="red", linewidths=0.9,
                   label=f"highlighted ({int(marked.sum())})")
        ax.legend(loc="upper right")
    cbar = fig.colorbar(sc, ax=ax)
    cbar.set_label("correctness (share of epochs correct)")
    ax.set_xlabel("variability (std of p(given label) over epochs)")
    ax.set_ylabel("confidence (mean p(given label))")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.text(0.01, 0.98, "easy to learn", transform=ax.transAxes, va="top", fontsize=9, color="#444")
    ax.text(0.99, 0.02, "hard to learn (low confidence, low variability:\nlabel errors gather here)",
            transform=ax.transAxes, va="bottom", ha="right", fontsize=9, color="#444")
    ax.text(0.99, 0.5, "ambiguous", transform=ax.transAxes, ha="right", fontsize=9, color="#444")
    ax.set_title(title or f"data map of {n} training samples")
    ax.grid(alpha=0.3)
    return fig


def save_cartography_figure(result, path, **options) -> Path:
    """Write :func:`cartography_figure` as PNG atomically; returns the path."""
    return save_figure(cartography_figure(result, **options), Path(path), dpi=100)
