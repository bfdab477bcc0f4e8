"""PaddleX-style free functions: ``interpret.lime(img_file, model, ...)``.

Each function takes the user's own model object (anything :func:`models.as_classifier`
accepts), explains the top-1 class (or the classes asked for), writes the figure PaddleX users
know into ``save_dir`` and returns the explanation object.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Union

from .data import ImageSource, image_name
from .engine import LimeImage, SuperpixelExplanation
from .engine._validation import check_positive_int
from .models import as_classifier

__all__ = ["lime"]


def _prepare_save_dir(save_dir) -> Path:
    if save_dir is None:
        raise ValueError("save_dir must be a folder path")
    path = Path(save_dir)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"save_dir exists and is not a folder: '{path}'")
    path.mkdir(parents=True, exist_ok=True)
    return path


def lime(
    img_file: ImageSource,
    model,
    num_samples: int = 3000,
    batch_size: int = 50,
    save_dir: Union[str, os.PathLike, None] = "./",
    *,
    target: Union[None, int, Sequence[int]] = None,
    top_k: int = 1,
    hide_color: Union[int, float, Sequence[float], str] = 0,
    segmentation: Union[str, Callable] = "quickshift",
    segmentation_params: Optional[Dict[str, Any]] = None,
    kernel_width: float = 0.25,
    num_features: Optional[int] = None,
    feature_selection: str = "auto",
    show_negative: bool = False,
    random_state: Optional[int] = None,
    progress: bool = True,
    channel_order: str = "rgb",
    save_figure: bool = True,
) -> SuperpixelExplanation:
    """Explain a classification with LIME and save PaddleX's LIME figure.

    Parameters
    ----------
    img_file : str, path, numpy array or PIL.Image
        The image. Arrays are RGB unless ``channel_order='bgr'``.
    model : Classifier or paddle.nn.Layer
        The user's model (see :func:`paddlex_interpret.models.as_classifier`).
    num_samples : int, default 3000
        Perturbed samples (>= 2; about 10 per superpixel is a reasonable minimum).
    batch_size : int, default 50
        Samples predicted at a time (bounds memory; does not change results).
    save_dir : path or None, default './'
        Folder for ``<image name>_lime_s<num_samples>.png`` (created if missing; nothing else is
        written). None writes no figure.
    target : int or list of int, optional
        Class(es) to explain; default: the ``top_k`` most probable classes.
    top_k : int, default 1
    hide_color : number, (r, g, b) or 'mean', default 0
        Fill of hidden superpixels (PaddleX: black; InterpretDL: 'mean').
    segmentation, segmentation_params : see :class:`paddlex_interpret.engine.LimeImage`
        Default: quickshift with PaddleX's parameters.
    kernel_width : float, default 0.25
    num_features : int or None, default None (all superpixels)
    feature_selection : {'auto', 'highest_weights', 'forward_selection', 'none'}, default 'auto'
    show_negative : bool, default False
        Also paint superpixels that speak against the class, in red.
    random_state : int or None, default None
        Seed; None draws one and records it in ``explanation.params['random_state']``.
    progress : bool, default True
        Progress bar over the samples.
    channel_order : {'rgb', 'bgr'}, default 'rgb'
        Channel order of an array ``img_file``.
    save_figure : bool, default True
        False skips the figure even when ``save_dir`` is set.

    Returns
    -------
    SuperpixelExplanation
        With ``figure_path`` set when a figure was written.
    """
    num_samples = check_positive_int(num_samples, "num_samples", minimum=2)
    batch_size = check_positive_int(batch_size, "batch_size")
    classifier = as_classifier(model)
    out_dir = _prepare_save_dir(save_dir) if (save_figure and save_dir is not None) else None
    image = classifier.image_as_explained(img_file, channel_order=channel_order)
    engine = LimeImage(
        classifier, num_samples=num_samples, batch_size=batch_size, hide_color=hide_color,
        segmentation=segmentation, segmentation_params=segmentation_params, kernel_width=kernel_width,
        feature_selection=feature_selection, num_features=num_features, random_state=random_state,
        progress=progress,
    )
    explanation = engine.explain(image, targets=target, top_k=top_k)
    if out_dir is not None:
        from .vis import save_lime_figure

        path = out_dir / f"{image_name(img_file)}_lime_s{num_samples}.png"
        explanation.figure_path = str(save_lime_figure(explanation, path, show_negative=show_negative))
    return explanation
