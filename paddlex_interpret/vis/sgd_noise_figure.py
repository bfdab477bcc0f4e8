"""Curves of the SGD-noise comparison (GD vs SGD vs Bernoulli-masked GD)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .pixel_figure import save_figure

__all__ = ["sgd_noise_figure", "save_sgd_noise_figure"]

_TITLES = {"train_loss": "training loss", "test_loss": "test loss", "train_accuracy": "training accuracy",
           "test_accuracy": "test accuracy", "gradient_noise": "|g - full gradient| / |full gradient|"}
_NAMES = {"gd": "full-batch GD", "sgd": "minibatch SGD", "masked_gd": "Bernoulli-masked GD"}


def sgd_noise_figure(result) -> Figure:
    """One panel per metric of an :class:`~paddlex_interpret.engine.training_data.SGDNoiseResult`,
    one line per regime, against the step."""
    metrics = [m for m in ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "gradient_noise")
               if any(m in c for c in result.curves.values())]
    fig = Figure(figsize=(4.2 * len(metrics), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics):
        for regime, curves in result.curves.items():
            if metric in curves:
                ax.plot(result.steps, curves[metric], marker="o", markersize=3, label=_NAMES.get(regime, regime))
        ax.set_title(_TITLES[metric], fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    p = result.params
    fig.suptitle(f"equal steps ({p.get('steps')}), learning rate {p.get('learning_rate')}, "
                 f"batch size {p.get('batch_size')} of {p.get('num_train')}", fontsize=10)
    return fig


def save_sgd_noise_figure(result, path) -> Path:
    """Write :func:`sgd_noise_figure` as PNG atomically; returns the path."""
    return save_figure(sgd_noise_figure(result), Path(path), dpi=100)
