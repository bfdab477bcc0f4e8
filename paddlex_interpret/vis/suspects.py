"""The most suspicious training samples of a training-data analysis: an image grid (given vs
predicted label) or, for text, an HTML list with every string escaped."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
from matplotlib.figure import Figure

from .._home import atomic_write
from ..engine._validation import check_positive_int
from .pixel_figure import save_figure

__all__ = ["suspects_figure", "save_suspects_figure", "suspects_html", "save_suspects_html"]


def _lookup(samples, sample_id: int):
    return samples(sample_id) if callable(samples) else samples[sample_id]


def _name(label_names, label: int) -> str:
    label = int(label)
    if label_names is not None and 0 <= label < len(label_names):
        return str(label_names[label])
    return str(label)


def suspects_figure(result, images: Union[Sequence, Callable], k: int = 16, columns: int = 8,
                    label_names: Optional[Sequence[str]] = None) -> Figure:
    """A grid of the ``k`` most suspicious image samples, each titled ``given -> predicted``.

    Parameters
    ----------
    result : TrainingDataResult
    images : sequence or callable
        ``images[sample_id]`` (or ``images(sample_id)``): an ``(H, W)`` grey or ``(H, W, 3)``
        image (uint8, or float in 0..1).
    k : int, default 16
    columns : int, default 8
    label_names : list of str or None, default None
        Defaults to the result's ``label_names``.
    """
    k = min(check_positive_int(k, "k"), result.num_samples)
    columns = min(check_positive_int(columns, "columns"), k)
    names = label_names if label_names is not None else result.label_names
    order = result.ranking()[:k]
    rows = int(np.ceil(k / columns))
    fig = Figure(figsize=(1.6 * columns, 1.9 * rows))
    axes = np.atleast_1d(fig.subplots(rows, columns)).reshape(-1)
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, order):
        img = np.asarray(_lookup(images, int(result.sample_ids[i])))
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        given, pred = int(result.given_labels[i]), int(result.predicted_labels[i])
        ax.set_title(f"#{int(result.sample_ids[i])}\n{_name(names, given)} -> {_name(names, pred)}", fontsize=8,
                     color="red" if given != pred else "black")
    fig.suptitle(f"{result.method}: top {k} suspects (given -> predicted)", fontsize=10)
    return fig


def save_suspects_figure(result, images, path, **options) -> Path:
    """Write :func:`suspects_figure` as PNG atomically; returns the path."""
    return save_figure(suspects_figure(result, images, **options), Path(path), dpi=100)


def suspects_html(result, texts: Union[Sequence[str], Callable], k: int = 50,
                  label_names: Optional[Sequence[str]] = None, title: Optional[str] = None) -> str:
    """A self-contained HTML page (no script) listing the ``k`` most suspicious text samples with
    their given and predicted labels and suspicion; every text and name is HTML-escaped."""
    k = min(check_positive_int(k, "k"), result.num_samples)
    names = label_names if label_names is not None else result.label_names
    esc = html.escape
    rows = []
    for rank, i in enumerate(result.ranking()[:k], start=1):
        sid = int(result.sample_ids[i])
        given, pred = int(result.given_labels[i]), int(result.predicted_labels[i])
        rows.append(f"<li><span class=\"meta\">#{sid} &middot; given <b>{esc(_name(names, given))}</b> &middot; "
                    f"predicted <b>{esc(_name(names, pred))}</b> &middot; suspicion {float(result.suspicion[i]):.3f}"
                    f"</span><div class=\"text\">{esc(str(_lookup(texts, sid)))}</div></li>")
    heading = esc(title or f"{result.method}: the {k} most suspicious training texts")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + heading + "</title>"
            "<style>body{font-family:sans-serif;max-width:56em;margin:2em auto;padding:0 1em;color:#222}"
            "li{margin:0 0 1em}.meta{color:#555;font-size:.9em}.text{border:1px solid #ddd;border-radius:6px;"
            "padding:.5em .8em;margin-top:.3em;white-space:pre-wrap}</style></head><body>"
            f"<h1>{heading}</h1><ol>" + "".join(rows) + "</ol></body></html>\n")


def save_suspects_html(result, texts, path, **options) -> Path:
    """Write :func:`suspects_html` atomically (UTF-8); returns the path."""
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(suspects_html(result, texts, **options), encoding="utf-8")
    return path
