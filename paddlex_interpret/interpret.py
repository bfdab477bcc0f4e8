"""PaddleX-style free functions: ``interpret.lime(img_file, model, ...)``.

Each function takes the user's own model object (anything :func:`models.as_classifier`
accepts), explains the top-1 class (or the classes asked for), writes the figure PaddleX users
know into ``save_dir`` and returns the explanation object. They are thin: each is one call of
:func:`_run` (resolve the model -> the image as explained -> the engine method -> the figure),
with the method's parameters forwarded as they are.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy as np

from .data import ImageSource, image_name
from .engine import SuperpixelExplanation, get_method
from .engine.explanation import PixelExplanation
from .engine._validation import check_positive_int
from .evaluate.report import EvaluationReport
from .models import as_classifier

__all__ = ["lime", "normlime", "glime", "smoothgrad", "intgrad", "gradshap", "occlusion", "gradcam", "scorecam", "lrp",
           "consensus", "compare", "evaluate", "EvaluationReport", "lime_text"]

_DEFAULT_STYLES = ("heatmap", "overlay")


# -- the shared path ----------------------------------------------------------------------------------
def _prepare_save_dir(save_dir) -> Path:
    """``save_dir`` created with its parents; an error naming it if it is not a writable folder."""
    if save_dir is None:
        raise ValueError("save_dir must be a folder path")
    if not isinstance(save_dir, (str, os.PathLike)):
        raise TypeError(f"save_dir must be a folder path (str or os.PathLike) or None, got {type(save_dir).__name__}")
    path = Path(save_dir)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"save_dir exists and is not a folder: '{path}'")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(f"save_dir '{path}' cannot be created ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"save_dir '{path}' is not writable; choose another folder")
    return path


def _figure_dir(save_dir, save_figure: bool) -> Optional[Path]:
    return _prepare_save_dir(save_dir) if (save_figure and save_dir is not None) else None


def _run(model, img_file, *, save_dir, save_figure: bool, channel_order: str, explain: Callable,
         figure: Callable, figure_name: Callable, many: bool = False):
    """Resolve the model, load the image as it explains it, run ``explain(classifier, image)`` and write
    ``figure(explanation, path)`` at ``save_dir/figure_name(explanation)``. ``save_dir`` is checked
    before any model work. ``many``: ``model`` is a list of models (the first one's geometry is used)."""
    out_dir = _figure_dir(save_dir, save_figure)
    classifier = [as_classifier(m) for m in model] if many else as_classifier(model)
    first = classifier[0] if many else classifier
    image = first.image_as_explained(img_file, channel_order=channel_order)
    explanation = explain(classifier, image)
    if out_dir is not None:
        explanation.figure_path = str(figure(explanation, out_dir / figure_name(explanation)))
    return explanation


def _class_suffix(target, explanation) -> str:
    """PaddleX's names are for the top-1 class; an explicitly chosen class gets its own file."""
    return "" if target is None else f"_class{explanation.target}"


def _samples_tag(num_samples) -> str:
    """PaddleX's ``s<num_samples>`` in figure names; ``auto`` for ``num_samples='auto'``."""
    return "auto" if num_samples == "auto" else f"s{num_samples}"


def _check_counts(num_samples, batch_size) -> None:
    check_positive_int(num_samples, "num_samples", minimum=2)
    check_positive_int(batch_size, "batch_size")


def _lime_figure(show_negative: bool):
    def draw(explanation, path):
        from .vis import save_lime_figure

        return save_lime_figure(explanation, path, show_negative=show_negative)

    return draw


def _check_styles(styles, argument: str = "styles") -> tuple:
    from .vis import STYLES

    if isinstance(styles, str):
        styles = [styles]
    if not isinstance(styles, (list, tuple)):
        raise TypeError(f"{argument} must be a non-empty list of {STYLES}; got {styles!r}")
    bad = [s for s in styles if not isinstance(s, str) or s not in STYLES]
    if bad or not styles:
        if argument == "style":
            raise ValueError(f"style must be one of {STYLES}; got {styles[0] if styles else None!r}")
        raise ValueError(f"{argument} must be a non-empty list of {STYLES}; got {list(styles)}")
    return tuple(styles)


def _pixel_figure(styles):
    def draw(explanation, path):
        from .vis import pixel_figure, save_figure

        return save_figure(pixel_figure(explanation, styles=styles), path)

    return draw


def _explain_pixels(method: str, img_file, model, save_dir, target, styles, channel_order, save_figure,
                    **params) -> PixelExplanation:
    """A per-pixel method of the registry on one image, with the pixel figure."""
    styles = _check_styles(styles)
    cls = get_method(method).load()
    return _run(model, img_file, save_dir=save_dir, save_figure=save_figure, channel_order=channel_order,
                explain=lambda classifier, image: cls(classifier, **params).explain(image, target),
                figure=_pixel_figure(styles),
                figure_name=lambda e: f"{image_name(img_file)}_{e.method}{_class_suffix(target, e)}.png")


_FIGURE_DOC = """
    save_dir : path or None, default './'
        Folder for ``<image name>_<method>.png`` (the image, then one panel per style), or
        ``<image name>_<method>_class<target>.png`` when ``target`` is given; created with any
        missing parents, nothing else is written. None writes nothing.
    target : int, optional
        Class to explain; default: the top-1 class.
    styles : sequence of {'heatmap', 'overlay', 'grayscale', 'threshold'}, default ('heatmap', 'overlay')
        Panels of the figure.
    channel_order : {'rgb', 'bgr'}, default 'rgb'
        Channel order of an array ``img_file``.
    save_figure : bool, default True
        False skips the figure even when ``save_dir`` is set.

    Returns
    -------
    PixelExplanation
        ``attribution`` holds the raw map; ``figure_path`` is set when a figure was written.
"""


def _document(func):
    func.__doc__ = func.__doc__.replace("    {figure}\n", _FIGURE_DOC.lstrip("\n"))
    return func


# -- LIME family -----------------------------------------------------------------------------------
def lime(
    img_file: ImageSource,
    model,
    num_samples: Union[int, str] = 3000,
    batch_size: int = 50,
    save_dir: Union[str, os.PathLike, None] = "./",
    *,
    target: Union[None, int, Sequence[int]] = None,
    top_k: int = 1,
    max_samples: int = 3000,
    stability_target: float = 0.95,
    stability_top_k: int = 5,
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
    num_samples : int or 'auto', default 3000
        Perturbed samples (>= 2; about 10 per superpixel is a reasonable minimum). 'auto' adds
        samples in rounds until the ``stability_top_k`` most important superpixels are the same in
        ``stability_target`` of the bootstrap refits, at most ``max_samples`` (see
        :class:`~paddlex_interpret.engine.LimeImage`); the figure is then ``<name>_lime_auto.png``
        and ``explanation.params['samples_used']`` says how many were needed.
    batch_size : int, default 50
        Samples predicted at a time (bounds memory; does not change results).
    save_dir : path or None, default './'
        Folder for ``<image name>_lime_s<num_samples>.png`` (PaddleX's name), or
        ``..._s<num_samples>_class<target>.png`` when ``target`` is given. Created with any missing
        parents; nothing else is written. None writes no figure.
    target : int or list of int, optional
        Class(es) to explain; default: the ``top_k`` most probable classes.
    top_k : int, default 1
    max_samples, stability_target, stability_top_k : int, float, int; default 3000, 0.95, 5
        ``num_samples='auto'`` only.
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
    from .engine import LimeImage

    if isinstance(num_samples, str) and num_samples != "auto":
        raise TypeError(f"num_samples must be an int >= 2 or 'auto', got {num_samples!r}")
    if num_samples != "auto":
        _check_counts(num_samples, batch_size)
    auto = dict(max_samples=max_samples, stability_target=stability_target,
                stability_top_k=stability_top_k) if num_samples == "auto" else {}
    params = dict(num_samples=num_samples, batch_size=batch_size, hide_color=hide_color, segmentation=segmentation,
                  segmentation_params=segmentation_params, kernel_width=kernel_width,
                  feature_selection=feature_selection, num_features=num_features, random_state=random_state,
                  progress=progress, **auto)
    return _run(model, img_file, save_dir=save_dir, save_figure=save_figure, channel_order=channel_order,
                explain=lambda c, image: LimeImage(c, **params).explain(image, targets=target, top_k=top_k),
                figure=_lime_figure(show_negative),
                figure_name=lambda e: f"{image_name(img_file)}_lime_{_samples_tag(num_samples)}"
                                      f"{_class_suffix(target, e)}.png")


def _normlime_weights(classifier, dataset, save_dir, normlime_weights_file, assets_dir, prior_url, prior_md5,
                      algorithm, progress, random_state):
    """``(prior, weights, weights file)``: the prior assets and the global weights for ``classifier``
    (reused from the file, or computed over ``dataset`` - :func:`~.engine.lime.normlime_dataset.global_weights_for`)."""
    from .engine.lime.normlime_dataset import DEFAULT_WEIGHTS_NAME, global_weights_for
    from .priors.features import load_prior

    if assets_dir is not None and (prior_url or prior_md5):
        raise ValueError("give either assets_dir or prior_url/prior_md5, not both")
    prior = load_prior(assets_dir, url=prior_url, md5=prior_md5, progress=progress) if assets_dir is None \
        else load_prior(assets_dir)
    if normlime_weights_file is None:
        if save_dir is None:
            raise ValueError("give normlime_weights_file or save_dir: the global weights need a file")
        normlime_weights_file = _prepare_save_dir(save_dir) / DEFAULT_WEIGHTS_NAME
    weights, path = global_weights_for(classifier, dataset, normlime_weights_file, prior, algorithm=algorithm,
                                       progress=progress, random_state=random_state)
    return prior, weights, path


def normlime(img_file: ImageSource, model, dataset=None, num_samples: int = 3000, batch_size: int = 50,
             save_dir: Union[str, os.PathLike, None] = "./", normlime_weights_file=None, *,
             target: Union[None, int, Sequence[int]] = None, top_k: int = 1, algorithm: str = "paddlex",
             assets_dir=None, prior_url: Optional[str] = None, prior_md5: Optional[str] = None,
             hide_color=0, random_state: Optional[int] = None, progress: bool = True, channel_order: str = "rgb",
             save_figure: bool = True):
    """Explain a classification with NormLIME and save PaddleX's 4x5 NormLIME figure.

    Parameters
    ----------
    img_file : str, path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
    dataset : file list, folder, list of images or paddle.io.Dataset, optional
        Images to compute the global weights from (PaddleX: the test set). Not needed when
        ``normlime_weights_file`` already holds weights for this model and prior.
    num_samples : int, default 3000
    batch_size : int, default 50
    save_dir : path or None, default './'
        Folder for ``<image name>_normlime_s<num_samples>.png`` (and the default weights file).
    normlime_weights_file : path, optional
        Where the global weights are kept; default ``save_dir/normlime_weights.npz``. An existing
        file that matches the model's classes and the prior is reused (dataset may then be None);
        a stale or unreadable one is recomputed from ``dataset`` and replaced atomically.
    target, top_k : as in :func:`lime`
    algorithm : {'paddlex', 'lime_average'}, default 'paddlex'
        How the global weights are computed (see ``engine.lime.normlime``).
    assets_dir : path, optional
        A prior asset folder (e.g. made by ``paddlex-interpret build-prior``); default: download
        and cache PaddleX's assets (``prior_url`` / ``prior_md5`` override the source, as do
        ``$PADDLEX_INTERPRET_PRIOR_URL`` / ``$PADDLEX_INTERPRET_PRIOR_MD5``).
    hide_color, random_state, progress, channel_order, save_figure : as in :func:`lime`

    Returns
    -------
    NormLimeResult
        ``.lime``, ``.normlime`` and ``.combined`` explanations of the same superpixels;
        ``.weights_file`` is the global weights file used.
    """
    from .engine import NormLime

    _check_counts(num_samples, batch_size)

    def explain(classifier, image):
        prior, weights, path = _normlime_weights(classifier, dataset, save_dir, normlime_weights_file, assets_dir,
                                                 prior_url, prior_md5, algorithm, progress, random_state)
        result = NormLime(classifier, weights, prior=prior, num_samples=num_samples, batch_size=batch_size,
                          hide_color=hide_color, random_state=random_state,
                          progress=progress).explain(image, targets=target, top_k=top_k)
        result.weights_file = str(path)
        return result

    def draw(result, path):
        from .vis.normlime_figure import save_normlime_figure

        return save_normlime_figure(result, path)

    return _run(model, img_file, save_dir=save_dir, save_figure=save_figure, channel_order=channel_order,
                explain=explain, figure=draw,
                figure_name=lambda e: f"{image_name(img_file)}_normlime_s{num_samples}{_class_suffix(target, e)}.png")


def glime(img_file: ImageSource, model, dataset=None, num_samples: int = 1000, batch_size: int = 50,
          save_dir: Union[str, os.PathLike, None] = "./", normlime_weights_file=None, *,
          prior_method: str = "ridge", prior_reg_force: float = 1.0, target: Union[None, int, Sequence[int]] = None,
          top_k: int = 1, algorithm: str = "paddlex", assets_dir=None, prior_url: Optional[str] = None,
          prior_md5: Optional[str] = None, hide_color=0, random_state: Optional[int] = None,
          show_negative: bool = False, progress: bool = True, channel_order: str = "rgb",
          save_figure: bool = True) -> SuperpixelExplanation:
    """G-LIME: LIME whose local fit is pulled towards the NormLIME global weights.

    Parameters
    ----------
    img_file, model, dataset, batch_size, save_dir, normlime_weights_file, algorithm, assets_dir,
    prior_url, prior_md5 : as in :func:`normlime`
    num_samples : int, default 1000 (InterpretDL's default for G-LIME)
    prior_method : {'none', 'ridge'}, default 'ridge'
        'none' is plain LIME (no prior, no weights file needed).
    prior_reg_force : float, default 1.0
        Pull towards the prior: 0 gives the unregularised local fit, large values the prior's
        ranking.
    target, top_k, hide_color, random_state, show_negative, progress, channel_order, save_figure :
        as in :func:`lime`

    Returns
    -------
    SuperpixelExplanation
        method 'glime'; the figure is the LIME 2x5 layout, ``<image name>_glime_s<num_samples>.png``.
    """
    from .engine import GLime
    from .engine.lime.normlime import normlime_prior

    _check_counts(num_samples, batch_size)

    def explain(classifier, image):
        prior_fn = None
        if prior_method != "none":
            (stem, centres), weights, _ = _normlime_weights(classifier, dataset, save_dir, normlime_weights_file,
                                                            assets_dir, prior_url, prior_md5, algorithm, progress,
                                                            random_state)
            prior_fn = normlime_prior(weights, stem, centres)
        engine = GLime(classifier, prior=prior_fn, prior_method=prior_method, prior_reg_force=prior_reg_force,
                       num_samples=num_samples, batch_size=batch_size, hide_color=hide_color,
                       random_state=random_state, progress=progress)
        return engine.explain(image, targets=target, top_k=top_k)

    return _run(model, img_file, save_dir=save_dir, save_figure=save_figure, channel_order=channel_order,
                explain=explain, figure=_lime_figure(show_negative),
                figure_name=lambda e: f"{image_name(img_file)}_glime_s{num_samples}{_class_suffix(target, e)}.png")


# -- per-pixel methods -----------------------------------------------------------------------------
@_document
def smoothgrad(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None, n_samples: int = 50,
               noise_amount: float = 0.1, gradient_of: str = "probability", batch_size: int = 25,
               random_state: Optional[int] = None, styles: Sequence[str] = _DEFAULT_STYLES,
               channel_order: str = "rgb", save_figure: bool = True) -> PixelExplanation:
    """SmoothGrad: the input gradient averaged over noisy copies of the image.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
    n_samples : int, default 50
        Noisy copies.
    noise_amount : float, default 0.1
        Noise std as a fraction of the (normalised) input's value range.
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 25
        Copies per forward/backward pass; bounds memory, does not change results.
    random_state : int or None, default None
        Seed; None draws one and records it in ``explanation.params``.
    {figure}
    """
    return _explain_pixels("smoothgrad", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           n_samples=n_samples, noise_amount=noise_amount, gradient_of=gradient_of,
                           batch_size=batch_size, random_state=random_state)


@_document
def intgrad(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None, steps: int = 50,
            baselines=None, num_random_trials: int = 10, gradient_of: str = "probability", batch_size: int = 25,
            random_state: Optional[int] = None, styles: Sequence[str] = _DEFAULT_STYLES,
            channel_order: str = "rgb", save_figure: bool = True) -> PixelExplanation:
    """Integrated Gradients: (input - baseline) x the gradient averaged along the straight path.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
    steps : int, default 50
        Points on the path. They are spaced evenly in alpha**(1/3), densest near the baseline
        where the network's output changes fastest (completeness within 1% at 200 steps on the
        demo model; a uniform grid was 9% off).
    baselines : None, 'random' or image array, default None
        None: zeros of the normalised input; 'random': ``num_random_trials`` random images,
        averaged; an image (pixel values, as the input) is normalised like the input.
    num_random_trials : int, default 10
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 25
        Path points per forward/backward pass.
    random_state : int or None, default None
    {figure}
    """
    return _explain_pixels("intgrad", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           steps=steps, baselines=baselines, num_random_trials=num_random_trials,
                           gradient_of=gradient_of, batch_size=batch_size, random_state=random_state)


@_document
def gradshap(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None, n_samples: int = 5,
             noise_amount: float = 0.1, baselines=None, gradient_of: str = "probability", batch_size: int = 25,
             random_state: Optional[int] = None, styles: Sequence[str] = _DEFAULT_STYLES,
             channel_order: str = "rgb", save_figure: bool = True) -> PixelExplanation:
    """GradientSHAP: expected gradients at random points between noisy inputs and baselines.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
    n_samples : int, default 5
    noise_amount : float, default 0.1
    baselines : None, 'random' or image array, default None
        None: zeros of the normalised input; 'random': a new random image per sample; an
        image (pixel values) is normalised like the input.
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 25
    random_state : int or None, default None
    {figure}
    """
    return _explain_pixels("gradshap", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           n_samples=n_samples, noise_amount=noise_amount, baselines=baselines,
                           gradient_of=gradient_of, batch_size=batch_size, random_state=random_state)


@_document
def occlusion(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None,
              sliding_window_shapes=(3, 16, 16), strides=8, baselines=None,
              perturbations_per_eval: Optional[int] = None, batch_size: Optional[int] = None,
              score: str = "probability", progress: bool = True, styles: Sequence[str] = _DEFAULT_STYLES, channel_order: str = "rgb",
              save_figure: bool = True) -> PixelExplanation:
    """Occlusion: how much the class probability drops when a sliding window is covered.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
    sliding_window_shapes : (channels, height, width), default (3, 16, 16)
    strides : int or tuple, default 8
    baselines : None, number or image array, default None (zeros of the normalised input)
    perturbations_per_eval, batch_size : int, default 50 (InterpretDL: 1)
        Occluded images per forward pass (the same knob under InterpretDL's name and the name every
        other method uses; give one); memory only, not results.
    score : {'probability', 'logit'}, default 'probability'
        The output whose drop is measured.
    progress : bool, default True
    {figure}
    """
    return _explain_pixels("occlusion", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           sliding_window_shapes=sliding_window_shapes, strides=strides, baselines=baselines,
                           perturbations_per_eval=perturbations_per_eval, batch_size=batch_size, score=score,
                           progress=progress)


@_document
def gradcam(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None,
            target_layer: Optional[str] = None, gradient_of: str = "logit",
            styles: Sequence[str] = _DEFAULT_STYLES, channel_order: str = "rgb",
            save_figure: bool = True) -> PixelExplanation:
    """Grad-CAM: a layer's feature maps weighted by their mean gradient, rectified, upsampled.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
    target_layer : str, optional
        Sublayer name (see ``classifier.named_layers()``); default: the last convolutional
        feature layer. An unknown name gives an error listing valid ones.
    gradient_of : {'probability', 'logit', 'loss'}, default 'logit'
    {figure}
    """
    return _explain_pixels("gradcam", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           target_layer=target_layer, gradient_of=gradient_of)


@_document
def scorecam(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None,
             target_layer: Optional[str] = None, batch_size: int = 16, progress: bool = True,
             styles: Sequence[str] = _DEFAULT_STYLES, channel_order: str = "rgb",
             save_figure: bool = True) -> PixelExplanation:
    """Score-CAM: feature maps weighted by the class score of the input masked with each map.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
    target_layer : str, optional
        Default: the last convolutional feature layer. One forward pass per channel.
    batch_size : int, default 16
        Masked inputs per forward pass (built lazily, per batch).
    progress : bool, default True
    {figure}
    """
    return _explain_pixels("scorecam", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           target_layer=target_layer, batch_size=batch_size, progress=progress)


@_document
def lrp(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None, rule: str = "epsilon",
        styles: Sequence[str] = _DEFAULT_STYLES, channel_order: str = "rgb", save_figure: bool = True,
        **rule_params) -> PixelExplanation:
    """Layer-wise Relevance Propagation with rules on standard Paddle layers.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
    rule : {'epsilon', 'alpha_beta', 'zplus'}, default 'epsilon'
    **rule_params
        ``epsilon`` (default 0.25, relative to each layer's output RMS; ``relative_epsilon=False``
        for an absolute value), ``alpha``/``beta`` for alpha-beta, ``input_rule`` (e.g. 'zb'),
        ``batch_size``. Models with their own ``relprop()`` are used as they are.
    {figure}
    """
    return _explain_pixels("lrp", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           rule=rule, **rule_params)


# -- several methods or models ---------------------------------------------------------------------
@_document
def consensus(img_file: ImageSource, models: Sequence, *, method: str = "smoothgrad", save_dir="./",
              target: Optional[Sequence[Optional[int]]] = None, normalize: str = "max",
              method_params: Optional[Dict[str, Any]] = None, styles: Sequence[str] = _DEFAULT_STYLES,
              channel_order: str = "rgb", save_figure: bool = True) -> PixelExplanation:
    """Consensus: one method over several models; each model's map normalised, then averaged.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
        Explained at the first model's geometry (resize/crop) and fed to all models.
    models : sequence of Classifier or paddle.nn.Layer
    method : str, default 'smoothgrad'
        One of lime, smoothgrad, intgrad, gradshap, occlusion, gradcam, scorecam, lrp.
    normalize : {'max', 'sum', 'none'}, default 'max'
    method_params : dict, optional
        Keyword arguments of the method's engine class (``paddlex_interpret.engine``), e.g.
        ``{'n_samples': 10}`` for SmoothGrad; not the free function's figure options.
    target : list with one class (or None) per model, optional. Default: each model's top-1.
    {figure}
    """
    from .engine.consensus import Consensus

    styles = _check_styles(styles)
    spec = _composable(method, "method")
    models = _model_list(models)
    target = _consensus_targets(target, len(models))
    params = dict(method_params or {})
    if method == "lime":
        params.setdefault("progress", False)
    return _run(models, img_file, save_dir=save_dir, save_figure=save_figure, channel_order=channel_order, many=True,
                explain=lambda classifiers, image: Consensus(spec.load(), classifiers, normalize=normalize,
                                                             **params).explain(image, target),
                figure=_pixel_figure(styles), figure_name=lambda e: f"{image_name(img_file)}_consensus_{method}.png")


def _is_class_index(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _model_list(models) -> list:
    """``models`` as a non-empty list, or an error saying what :func:`consensus` takes."""
    from .models.base import Classifier

    if models is None or isinstance(models, (str, bytes, Classifier)) or callable(getattr(models, "forward", None)):
        raise TypeError(f"models must be a list of models (for one model pass [model]), got {type(models).__name__}")
    try:
        models = list(models)
    except TypeError:
        raise TypeError(f"models must be a list of models, got {type(models).__name__}") from None
    if not models:
        raise ValueError("models must hold at least one model")
    return models


def _consensus_targets(target, num_models: int):
    """None, or one class index (or None for that model's top-1) per model; an int applies to every model.
    Ranges are checked against each model's classes by the method."""
    if target is None:
        return None
    if _is_class_index(target):
        return [int(target)] * num_models
    if isinstance(target, (list, tuple, np.ndarray)) and all(t is None or _is_class_index(t) for t in target):
        if len(target) != num_models:
            raise ValueError(f"target must give one class per model (or None for its top-1): {num_models} "
                             f"models, got {len(target)} targets")
        return [t if t is None else int(t) for t in target]
    raise TypeError(f"target must be None, an int class index, or a list with one int class index (or None) "
                    f"per model; got {target!r}")


def _composable(name, argument: str):
    """The registry entry of a method ``compare``/``consensus`` can run, or an error naming ``argument``."""
    from .engine import method_names

    valid = method_names(composable=True)
    if not isinstance(name, str) or name not in valid:
        raise ValueError(f"unknown {argument} {name!r}; choose from {valid}")
    return get_method(name)


def compare(img_file: ImageSource, model, methods: Sequence[str] = ("lime", "gradcam", "smoothgrad", "intgrad"), *,
            save_dir="./", target: Optional[int] = None, method_params: Optional[Dict[str, Dict[str, Any]]] = None,
            lime_num_samples: int = 1000, style: str = "overlay", channel_order: str = "rgb",
            save_figure: bool = True) -> list:
    """Explain one image with several methods and draw them side by side.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
    methods : sequence of str, default ('lime', 'gradcam', 'smoothgrad', 'intgrad')
        Any of ``engine.method_names(composable=True)``: lime, smoothgrad, intgrad, gradshap,
        occlusion, gradcam, scorecam, lrp.
    save_dir : path or None, default './'
        Folder for ``<image name>_compare.png``. None writes nothing.
    target : int, optional
        Class to explain with every method; default: the top-1 class.
    method_params : dict method name -> dict, optional
        Keyword arguments of each method's engine class, e.g. ``{'lime': {'num_samples': 500}}``.
    lime_num_samples : int, default 1000
        LIME's samples when ``method_params`` does not set them (fewer than :func:`lime`'s 3000:
        a comparison runs several methods).
    style : {'heatmap', 'overlay', 'grayscale', 'threshold'}, default 'overlay'
    channel_order, save_figure : as in the other functions.

    Returns
    -------
    list
        One explanation per method, in order; each has ``figure_path`` set to the comparison figure.
    """
    _check_styles([style], "style")
    if isinstance(methods, (str, bytes)) or not hasattr(methods, "__iter__"):
        raise TypeError(f"methods must be a list of method names (e.g. ['lime', 'gradcam']), got {methods!r}")
    if target is not None and not _is_class_index(target):
        raise TypeError(f"target must be None or an int class index (compare explains one class with every "
                        f"method), got {target!r}")
    methods = list(methods)
    specs = [_composable(m, "method") for m in methods]
    if not specs:
        raise ValueError("methods must name at least one method")
    method_params = dict(method_params or {})
    unknown = set(method_params) - set(methods)
    if unknown:
        raise ValueError(f"method_params names methods not in methods: {sorted(unknown)}")
    lime_num_samples = check_positive_int(lime_num_samples, "lime_num_samples", minimum=2)

    def explain(classifier, image):
        chosen = target
        if chosen is None:
            chosen = int(np.argmax(classifier.predict_proba(image[None], batch_size=1)[0]))
        explanations = []
        for name, spec in zip(methods, specs):
            params = dict(method_params.get(name, {}))
            if name == "lime":
                params.setdefault("num_samples", lime_num_samples)
                params.setdefault("progress", False)
            explanations.append(spec.load()(classifier, **params).explain(image, chosen))
        return _Comparison(explanations)

    def draw(comparison, path):
        from .vis import comparison_figure, save_figure as write_figure

        return write_figure(comparison_figure(comparison, style=style), path)

    comparison = _run(model, img_file, save_dir=save_dir, save_figure=save_figure, channel_order=channel_order,
                      explain=explain, figure=draw, figure_name=lambda _: f"{image_name(img_file)}_compare.png")
    for exp in comparison:
        exp.figure_path = comparison.figure_path
    return list(comparison)


class _Comparison(list):
    """The explanations of :func:`compare`, with the path of their shared figure."""

    figure_path: Optional[str] = None


# -- evaluation --------------------------------------------------------------------------------------
def evaluate(explanation, model=None, metrics: Sequence[str] = ("deletion", "insertion"), *,
             save_dir=None, name: str = "image", metric_params: Optional[Dict[str, Dict[str, Any]]] = None,
             batch_size: int = 50, **inputs) -> EvaluationReport:
    """Score an explanation with evaluation metrics; optionally draw the deletion/insertion curves.

    Parameters
    ----------
    explanation : SuperpixelExplanation or PixelExplanation
        What any ``interpret.*`` function returned (or ``engine.load_explanation`` read).
    model : Classifier or paddle.nn.Layer, optional
        The explained model; needed by model-based metrics (all but the pointing games).
    metrics : sequence of str, default ('deletion', 'insertion')
        Names from :func:`paddlex_interpret.evaluate.available`.
    save_dir : path or None, default None
        If set, ``<name>_<method>_evaluation.png`` with the probability curves of the curve
        metrics (deletion, insertion, morf, lerf) is written there.
    name : str, default 'image'
        Image name used in the figure's file name.
    metric_params : dict metric name -> dict, optional
        Constructor arguments per metric, e.g. ``{'infidelity': {'sizes': (32,)}}``.
    batch_size : int, default 50
        Perturbed images per forward pass for every model-based metric (unless set per metric).
    **inputs
        Extra inputs some metrics need: ``bbox=(x1, y1, x2, y2)`` for 'point_game',
        ``mask=...`` for 'point_game_segmentation'.

    Returns
    -------
    EvaluationReport
        ``{metric: MetricResult}``; ``print(report)`` shows a table; ``report.figure_path`` is set
        when a figure was written.
    """
    from .evaluate.report import evaluate_explanation

    classifier = as_classifier(model) if model is not None else None
    report = evaluate_explanation(explanation, classifier, metrics, metric_params=metric_params,
                                  batch_size=batch_size, **inputs)
    report.figure_path = None
    if save_dir is not None:
        from .vis import save_figure
        from .vis.evaluation_figure import curve_panels, curves_figure

        curves = {n: r for n, r in report.items() if curve_panels({n: r})}
        if curves:
            path = _prepare_save_dir(save_dir) / f"{name}_{explanation.method}_evaluation.png"
            report.figure_path = str(save_figure(curves_figure(curves, explanation), path))
    return report


# -- text ------------------------------------------------------------------------------------------
def lime_text(text: str, model, tokenizer=None, num_samples: int = 1000, batch_size: int = 50,
              target: Union[None, int, Sequence[int]] = None, top_k: int = 1, mask_token: str = "unk",
              random_state: Optional[int] = None, save_dir: Union[str, os.PathLike, None] = None,
              name: str = "text", *, progress: bool = True):
    """Explain a text classification with LIME (hide tokens) and optionally save an HTML page.

    Parameters
    ----------
    text : str
        The text to explain (not empty).
    model : TextClassifier or paddle.nn.Layer
        A PaddleNLP sequence classifier (``ErnieForSequenceClassification``,
        ``BertForSequenceClassification``, ``AutoModelForSequenceClassification.from_...``) or any
        ``paddle.nn.Layer`` that maps ``input_ids`` to logits ``(batch, classes)``; or a
        :class:`paddlex_interpret.models.TextClassifier` (then ``tokenizer`` stays None). Class names
        come from ``model.config.id2label``.
    tokenizer : PaddleNLP tokenizer, default None
        The model's tokenizer; required unless ``model`` is a TextClassifier.
    num_samples : int, default 1000
        Perturbed texts (>= 2; the first is the text itself).
    batch_size : int, default 50
        Texts per forward pass (bounds memory; does not change results).
    target : int or list of int, default None
        Class(es) to explain; default: the ``top_k`` most probable classes.
    top_k : int, default 1
    mask_token : {'unk', 'pad', 'remove'}, default 'unk'
        Hidden tokens are replaced by the unknown token, replaced by padding (hidden from
        attention) or removed.
    random_state : int or None, default None
        Seed; None draws one and records it in ``explanation.params['random_state']``.
    save_dir : path or None, default None
        Folder (created with missing parents) for ``<name>_lime_text.html``, written atomically;
        nothing else is written. None writes nothing.
    name : str, default 'text'
        Stem of the HTML file name.
    progress : bool, default True (keyword only)
        Show a tqdm progress bar.

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
        Per-token weights (``.top_tokens()``, ``.weights``), probabilities, the fit's R^2
        (``.score``) and the seed; ``.html_path`` is the page written, if any.
    """
    from .engine import LimeText
    from .models import as_text_classifier
    from .vis.text_html import save_text_html

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty (or only whitespace); give the text to explain")
    if save_dir is not None and (not isinstance(name, str) or not name.strip() or name in (".", "..")
                                 or any(sep in name for sep in ("/", "\\", os.sep))):
        raise ValueError(f"name must be a non-empty file name stem without path separators, got {name!r}")
    out_dir = _prepare_save_dir(save_dir) if save_dir is not None else None
    classifier = as_text_classifier(model, tokenizer)
    engine = LimeText(classifier, num_samples=num_samples, batch_size=batch_size, mask_token=mask_token,
                      random_state=random_state, progress=progress)
    explanation = engine.explain(text, targets=target, top_k=top_k)
    if out_dir is not None:
        explanation.html_path = str(save_text_html(explanation, out_dir / f"{name}_lime_text.html"))
    return explanation
