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
           "consensus", "compare", "evaluate", "EvaluationReport", "lime_text",
           "intgrad_text", "smoothgrad_text", "gradshap_text", "occlusion_text", "compare_text", "evaluate_text",
           "normlime_text", "consensus_text"]

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
    stability_target: float = 0.9,
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
        samples in rounds until the ``stability_top_k`` most important superpixels are stable (a
        bootstrap refit keeps, on average, at least ``stability_target`` of them in its own top
        ``stability_top_k``), at most ``max_samples`` (see
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
    max_samples, stability_target, stability_top_k : int, float, int; default 3000, 0.9, 5
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
    from .evaluate.base import explanation_kind
    from .evaluate.report import evaluate_explanation

    if explanation_kind(explanation) == "text":
        raise TypeError("explanation is a text explanation: score it with "
                        "interpret.evaluate_text(explanation, model, tokenizer, metrics=...) (the text metrics: "
                        "comprehensiveness, sufficiency, text_deletion, text_insertion)")
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

    out_dir, _ = _check_text_request(text, save_dir, name, None)
    classifier = as_text_classifier(model, tokenizer)
    engine = LimeText(classifier, num_samples=num_samples, batch_size=batch_size, mask_token=mask_token,
                      random_state=random_state, progress=progress)
    explanation = engine.explain(text, targets=target, top_k=top_k)
    if out_dir is not None:
        explanation.html_path = str(save_text_html(explanation, out_dir / f"{name}_lime_text.html"))
    return explanation


# -- text: gradients on token embeddings, occlusion, NormLIME, several methods ------------------------
#: target / top_k / words / save_dir / name: every text method's; with ``progress`` the ``{text_common}`` block
_TEXT_REQUEST_DOC = """
    target : int or list of int, default None
        Class(es) to explain; default: the ``top_k`` most probable classes.
    top_k : int, default 1
    words : list of str, default None
        The text's words in order for the word level (e.g. ``jieba.lcut(text)`` for Chinese);
        default: words of letters and digits, punctuation marks, one word per CJK character
        (``explanation.words``).
    save_dir : path or None, default None
        Folder (created with missing parents) for ``<name>_<method>.html``, written atomically;
        nothing else is written (but NormLIME's weights file). None writes nothing.
    name : str, default 'text'
        Stem of the HTML file name."""
_TEXT_COMMON_DOC = _TEXT_REQUEST_DOC + """
    progress : bool, default False (keyword only)
        Show a tqdm progress bar."""


def _text_document(func):
    func.__doc__ = func.__doc__.replace("    {text_common}", _TEXT_COMMON_DOC.strip("\n"))
    return func


def _check_text_request(text, save_dir, name, words):
    """Checks made before any model work: the text, the file name stem, the segmentation; the output folder."""
    from .engine.text_words import check_segmentation, segment_words

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty (or only whitespace); give the text to explain")
    if save_dir is not None and (not isinstance(name, str) or not name.strip() or name in (".", "..")
                                 or any(sep in name for sep in ("/", "\\", os.sep))):
        raise ValueError(f"name must be a non-empty file name stem without path separators, got {name!r}")
    words = check_segmentation(words)
    if words is not None:
        segment_words(text, words)
    return (_prepare_save_dir(save_dir) if save_dir is not None else None), words


def _run_text(method: str, text, model, tokenizer, target, top_k, words, save_dir, name, **params):
    """Resolve the text model (a Trainer, a layer + tokenizer, or a TextClassifier), run the registry's
    engine class ``method`` with ``params``, set the segmentation, write the HTML page."""
    from .models import as_text_classifier
    from .vis.text_html import save_text_html

    out_dir, words = _check_text_request(text, save_dir, name, words)
    classifier = as_text_classifier(model, tokenizer)
    explanation = get_method(method).load()(classifier, **params).explain(text, targets=target, top_k=top_k)
    if words is not None:
        explanation = explanation.with_segmentation(words)
    if out_dir is not None:
        explanation.html_path = str(save_text_html(explanation, out_dir / f"{name}_{method}.html"))
    return explanation


@_text_document
def intgrad_text(text: str, model, tokenizer=None, steps: int = 50, baseline: str = "pad", reduction: str = "sum",
                 gradient_of: str = "probability", batch_size: int = 50,
                 target: Union[None, int, Sequence[int]] = None, top_k: int = 1, words: Optional[Sequence[str]] = None,
                 save_dir: Union[str, os.PathLike, None] = None, name: str = "text", *, progress: bool = False):
    """Explain a text classification with Integrated Gradients on the token embeddings.

    Parameters
    ----------
    text : str
        The text to explain (not empty).
    model : TextClassifier, paddle.nn.Layer or paddlenlp Trainer
        A PaddleNLP sequence classifier (ERNIE, BERT, ``AutoModelForSequenceClassification``) with
        its ``tokenizer``, a PaddleNLP ``Trainer`` (its model and tokenizer), or a TextClassifier.
    tokenizer : PaddleNLP tokenizer, default None
        Required for a bare model.
    steps : int, default 50
        Path points (200 brings the completeness gap under 1% on small models).
    baseline : {'pad', 'unk', 'mask', 'zero'}, default 'pad'
        Keep [CLS]/[SEP] and put [PAD] / [UNK] / [MASK] at every content token, or zero embeddings.
    reduction : {'sum', 'l2'}, default 'sum'
        Per token: sum over the hidden dimension (signed) or its L2 norm.
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 50
        Path points per forward/backward pass (does not change results).
    {text_common}

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
        Per-token weights (``.top_tokens()``, ``.top_words()``); ``params['completeness']`` holds, per
        class, the scores at the text and the baseline, the attribution sum and the gap.
    """
    return _run_text("intgrad_text", text, model, tokenizer, target, top_k, words, save_dir, name, steps=steps,
                     baseline=baseline, reduction=reduction, gradient_of=gradient_of, batch_size=batch_size,
                     progress=progress)


@_text_document
def smoothgrad_text(text: str, model, tokenizer=None, n_samples: int = 50, noise_amount: float = 0.1,
                    multiply_by_input: bool = True, reduction: str = "sum", gradient_of: str = "probability",
                    batch_size: int = 50, target: Union[None, int, Sequence[int]] = None, top_k: int = 1,
                    random_state: Optional[int] = None, words: Optional[Sequence[str]] = None,
                    save_dir: Union[str, os.PathLike, None] = None, name: str = "text", *, progress: bool = False):
    """Explain a text classification with SmoothGrad on the token embeddings.

    Parameters
    ----------
    text, model, tokenizer : as in :func:`intgrad_text`.
    n_samples : int, default 50
        Noisy copies of the embeddings.
    noise_amount : float, default 0.1
        Noise std as a fraction of the standard deviation (spread) of the text's embeddings.
    multiply_by_input : bool, default True
        Weight = embeddings x mean gradient (else the mean gradient alone), reduced per token.
    reduction : {'sum', 'l2'}, default 'sum'
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 50
    random_state : int or None, default None
        Seed of the noise; None draws one and records it in ``explanation.params['random_state']``.
    {text_common}

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
    """
    return _run_text("smoothgrad_text", text, model, tokenizer, target, top_k, words, save_dir, name,
                     n_samples=n_samples, noise_amount=noise_amount, multiply_by_input=multiply_by_input,
                     reduction=reduction, gradient_of=gradient_of, batch_size=batch_size, random_state=random_state,
                     progress=progress)


@_text_document
def gradshap_text(text: str, model, tokenizer=None, n_samples: int = 50, noise_amount: float = 0.1,
                  baselines: Union[str, Sequence[str]] = ("pad", "unk", "mask"), reduction: str = "sum",
                  gradient_of: str = "probability", batch_size: int = 50,
                  target: Union[None, int, Sequence[int]] = None, top_k: int = 1, random_state: Optional[int] = None,
                  words: Optional[Sequence[str]] = None, save_dir: Union[str, os.PathLike, None] = None,
                  name: str = "text", *, progress: bool = False):
    """Explain a text classification with GradientSHAP (expected gradients) on the token embeddings.

    Parameters
    ----------
    text, model, tokenizer : as in :func:`intgrad_text`.
    n_samples : int, default 50
        Random points (one alpha, one baseline, one noise draw each).
    noise_amount : float, default 0.1
        Noise std as a fraction of the standard deviation of the text's embeddings.
    baselines : str or list of str, default ('pad', 'unk', 'mask')
        Baseline kinds drawn from (see :func:`intgrad_text`); the default keeps those the tokenizer has.
    reduction : {'sum', 'l2'}, default 'sum'
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 50
    random_state : int or None, default None
        Seed; None draws one and records it in ``explanation.params['random_state']``.
    {text_common}

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
    """
    return _run_text("gradshap_text", text, model, tokenizer, target, top_k, words, save_dir, name,
                     n_samples=n_samples, noise_amount=noise_amount, baselines=baselines, reduction=reduction,
                     gradient_of=gradient_of, batch_size=batch_size, random_state=random_state, progress=progress)


@_text_document
def occlusion_text(text: str, model, tokenizer=None, window: int = 1, stride: int = 1, mask_token: str = "unk",
                   batch_size: int = 50, target: Union[None, int, Sequence[int]] = None, top_k: int = 1,
                   words: Optional[Sequence[str]] = None, save_dir: Union[str, os.PathLike, None] = None,
                   name: str = "text", *, progress: bool = False):
    """Explain a text classification by occlusion: hide windows of tokens, watch the probability drop.

    Parameters
    ----------
    text, model, tokenizer : as in :func:`intgrad_text` (any text model: no gradients needed).
    window : int, default 1
        Tokens hidden together: 1 = leave one out, 2 / 3 = bigrams / trigrams.
    stride : int, default 1
        Step between windows.
    mask_token : {'unk', 'pad', 'mask', 'remove'}, default 'unk'
        How hidden tokens are hidden (see ``engine.perturbation.text_occlusion.TextOcclusion``).
    batch_size : int, default 50
        Occluded texts per forward pass.
    {text_common}

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
        Weight = mean drop of the class probability over the windows covering the token.
    """
    return _run_text("occlusion_text", text, model, tokenizer, target, top_k, words, save_dir, name, window=window,
                     stride=stride, mask_token=mask_token, batch_size=batch_size, progress=progress)


def _read_corpus(corpus) -> list:
    """A list of texts, or the lines (non-empty) of a UTF-8 text file."""
    if isinstance(corpus, (str, os.PathLike)):
        path = Path(corpus)
        if not path.is_file():
            raise FileNotFoundError(f"corpus {os.fspath(corpus)!r} is not a file of texts (one per line) and not a "
                                    "list of texts")
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if corpus is None:
        raise ValueError("corpus is required: a list of texts (or a text file, one per line) to learn the global "
                         "weights from")
    return list(corpus)


@_text_document
def normlime_text(text: str, model, tokenizer=None, corpus=None, weights_file=None, level: str = "word",
                  num_samples: int = 500, mask_token: str = "unk", batch_size: int = 50,
                  target: Union[None, int, Sequence[int]] = None, top_k: int = 1, random_state: Optional[int] = 0,
                  words: Optional[Sequence[str]] = None, save_dir: Union[str, os.PathLike, None] = None,
                  name: str = "text", *, progress: bool = False):
    """Explain a text with NormLIME: global word (or token) weights learnt by text LIME over a corpus.

    Parameters
    ----------
    text, model, tokenizer : as in :func:`intgrad_text`.
    corpus : list of str or path
        Texts (or a UTF-8 file, one text per line) to learn the global weights from.
    weights_file : path or None, default None
        Where the weights are kept (``.npz``): reused while they match the model's outputs, the class
        names, the corpus, ``level`` and the LIME settings, else recomputed and rewritten atomically.
        Default: ``<save_dir>/normlime_text_weights.npz`` when ``save_dir`` is set, else not stored.
    level : {'word', 'token'}, default 'word'
        Learn a weight per lower-cased word or per token.
    num_samples, mask_token, batch_size : LIME's settings for each corpus text.
    random_state : int or None, default 0
        Seed of the corpus LIME runs (text ``i`` uses ``seed + i``).
    {text_common}

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
        ``params['weights_file']`` and ``params['weights_reused']`` say where the weights are and whether
        they were reused.
    """
    from .engine.lime.normlime_text import NormLimeText, text_global_weights_for
    from .models import as_text_classifier

    out_dir, words = _check_text_request(text, save_dir, name, words)
    corpus = _read_corpus(corpus)
    if weights_file is None and out_dir is not None:
        weights_file = out_dir / "normlime_text_weights.npz"
    classifier = as_text_classifier(model, tokenizer)
    weights, reused = text_global_weights_for(classifier, corpus, weights_file, level=level, num_samples=num_samples,
                                              mask_token=mask_token, batch_size=batch_size, random_state=random_state,
                                              progress=progress)
    explanation = NormLimeText(classifier, weights).explain(text, targets=target, top_k=top_k)
    explanation.params.update({"weights_file": None if weights_file is None else str(weights_file),
                               "weights_reused": reused})
    if words is not None:
        explanation = explanation.with_segmentation(words)
    if out_dir is not None:
        from .vis.text_html import save_text_html

        explanation.html_path = str(save_text_html(explanation, out_dir / f"{name}_normlime_text.html"))
    return explanation


#: the text methods ``compare_text`` runs by default
_TEXT_COMPARE_DEFAULT = ("lime_text", "occlusion_text", "intgrad_text", "smoothgrad_text", "gradshap_text")


def compare_text(text: str, model, tokenizer=None, methods: Sequence[str] = _TEXT_COMPARE_DEFAULT, *,
                 target: Optional[int] = None, method_params: Optional[Dict[str, Dict[str, Any]]] = None,
                 level: str = "token", random_state: Optional[int] = 0, save_dir: Union[str, os.PathLike, None] = None,
                 name: str = "text") -> list:
    """Explain one text with several text methods for one class; optionally one HTML page side by side.

    Parameters
    ----------
    text, model, tokenizer : as in :func:`intgrad_text` (a Trainer works too).
    methods : sequence of str, default ('lime_text', 'occlusion_text', 'intgrad_text', 'smoothgrad_text', 'gradshap_text')
        Text methods of the registry (``engine.method_names(explains='text')``).
    target : int, optional
        The class every method explains; default: the model's top-1 class.
    method_params : dict method name -> dict, optional
        Keyword arguments of each method's engine class, e.g. ``{'intgrad_text': {'steps': 100}}``.
    level : {'token', 'word'}, default 'token'
        What the page shades.
    random_state : int or None, default 0
        Seed given to every method that takes one (unless set in ``method_params``).
    save_dir : path or None, default None
        Folder for ``<name>_compare_text.html``; None writes nothing.
    name : str, default 'text'

    Returns
    -------
    list of TextExplanation
        One per method, in order; each ``html_path`` is the shared page when one was written.
    """
    import inspect

    from .engine import method_names
    from .models import as_text_classifier
    from .vis.text_html import _check_level, save_text_comparison_html

    out_dir, _ = _check_text_request(text, save_dir, name, None)
    _check_level(level)
    if isinstance(methods, (str, bytes)) or not hasattr(methods, "__iter__"):
        raise TypeError(f"methods must be a list of text method names, got {methods!r}")
    methods = list(methods)
    valid = method_names(explains="text")
    bad = [m for m in methods if m not in valid]
    if bad or not methods:
        raise ValueError(f"methods must name text methods from {valid}; got {bad or methods}")
    method_params = dict(method_params or {})
    unknown = set(method_params) - set(methods)
    if unknown:
        raise ValueError(f"method_params names methods not in methods: {sorted(unknown)}")
    if target is not None and not _is_class_index(target):
        raise TypeError(f"target must be None or an int class index, got {target!r}")
    classifier = as_text_classifier(model, tokenizer)
    if target is None:
        tokens, ids, _ = classifier.encode(text)
        target = int(np.argmax(classifier.predict_proba([ids], batch_size=1)[0]))
    explanations = []
    for method in methods:
        cls = get_method(method).load()
        params = dict(method_params.get(method, {}))
        accepted = inspect.signature(cls).parameters
        if "random_state" in accepted:
            params.setdefault("random_state", random_state)
        if "progress" in accepted:
            params.setdefault("progress", False)
        explanations.append(cls(classifier, **params).explain(text, targets=target))
    if out_dir is not None:
        path = str(save_text_comparison_html(explanations, out_dir / f"{name}_compare_text.html", level=level))
        for exp in explanations:
            exp.html_path = path
    return explanations


def evaluate_text(explanation, model, tokenizer=None,
                  metrics: Sequence[str] = ("comprehensiveness", "sufficiency", "text_deletion", "text_insertion"), *,
                  metric_params: Optional[Dict[str, Dict[str, Any]]] = None, batch_size: int = 50) -> EvaluationReport:
    """Score a text explanation (from any text method) with the text metrics.

    Parameters
    ----------
    explanation : TextExplanation
    model, tokenizer : the explained model, as in :func:`intgrad_text` (a Trainer works too).
    metrics : sequence of str, default ('comprehensiveness', 'sufficiency', 'text_deletion', 'text_insertion')
        Metrics whose ``applies_to`` includes 'text' (see ``evaluate.available()``).
    metric_params : dict metric name -> dict, optional
        Constructor arguments per metric, e.g. ``{'comprehensiveness': {'mask_token': 'remove'}}``.
    batch_size : int, default 50
        Texts per forward pass (unless set per metric).

    Returns
    -------
    EvaluationReport
        ``{metric: MetricResult}``; ``print(report)`` shows a table.
    """
    from .engine import TextExplanation
    from .evaluate.report import evaluate_explanation
    from .models import as_text_classifier

    if not isinstance(explanation, TextExplanation):
        raise TypeError(f"explanation must be a TextExplanation (from a text method), got {type(explanation).__name__}")
    if isinstance(metrics, (str, bytes)):
        metrics = [metrics]
    return evaluate_explanation(explanation, as_text_classifier(model, tokenizer), list(metrics),
                                metric_params=metric_params, batch_size=batch_size)


def consensus_text(text: str, models: Sequence, method: str = "intgrad_text", *, normalize: str = "max",
                   target: Optional[Sequence[Optional[int]]] = None,
                   method_params: Optional[Dict[str, Any]] = None, words: Optional[Sequence[str]] = None,
                   save_dir: Union[str, os.PathLike, None] = None, name: str = "text"):
    """Consensus for text: one text method over several models; each model's word weights normalised,
    then averaged (models may have different tokenizers: they meet at the word level).

    Parameters
    ----------
    text : str
    models : sequence
        Each a TextClassifier, a PaddleNLP Trainer, or a ``(model, tokenizer)`` pair.
    method : str, default 'intgrad_text'
        A text method of the registry (``engine.method_names(explains='text')``) that needs no other
        input than the model (not normlime_text).
    normalize : {'max', 'sum', 'none'}, default 'max'
        Per model: divide the word weights by their largest |weight|, by their |sum|, or not at all.
    target : list with one class (or None) per model, optional
        Default: each model's top-1 class.
    method_params : dict, optional
        Keyword arguments of the method's engine class, e.g. ``{'steps': 100}``.
    words : list of str, optional
        The text's words in order (e.g. ``jieba.lcut(text)``).
    save_dir : path or None, default None
        Folder for ``<name>_consensus_text.html``; None writes nothing.
    name : str, default 'text'

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
        Its tokens are the words; ``params['per_model']`` holds each model's normalised word weights.
    """
    from .engine import method_names
    from .engine.consensus_text import TextConsensus
    from .models import as_text_classifier

    out_dir, words = _check_text_request(text, save_dir, name, words)
    valid = [m for m in method_names(explains="text") if m != "normlime_text"]
    if method not in valid:
        raise ValueError(f"method must be one of {valid}, got {method!r}")
    if isinstance(models, (str, bytes)) or not hasattr(models, "__iter__") or isinstance(models, tuple) and \
            len(models) == 2 and not hasattr(models[1], "__iter__"):
        raise TypeError("models must be a list of models: TextClassifiers, Trainers or (model, tokenizer) pairs")
    classifiers = [as_text_classifier(*m) if isinstance(m, tuple) else as_text_classifier(m) for m in models]
    params = dict(method_params or {})
    explanation = TextConsensus(get_method(method).load(), classifiers, normalize=normalize, segmentation=words,
                                **params).explain(text, targets=target)
    if out_dir is not None:
        from .vis.text_html import save_text_html

        explanation.html_path = str(save_text_html(explanation, out_dir / f"{name}_consensus_text.html"))
    return explanation


# -- dataset-scale jobs: a folder, a sweep, NormLIME weights ------------------------------------------
__all__ += ["explain_folder", "evaluate_folder", "normlime_weights"]

_JOB_DOC = """
    backend : {'serial', 'processes', 'ray'}, default 'serial'
        Where the items run: this process; ``workers`` local processes (spawn start method, each with
        ``threads`` CPU threads set before Paddle loads); or ``workers`` Ray actors, on the cluster
        this process joined with ``ray.init(address=...)``, else on a local Ray started (and shut
        down) for the job. Every backend gives the same results for the same ``seed``.
    workers : int, optional
        Worker processes / actors. Default: 1 for 'serial', this machine's CPUs for 'processes',
        the cluster's CPUs for 'ray'.
    threads : int, optional
        CPU threads per worker. Default: CPUs // workers (processes), 1 (Ray).
    model_overrides : dict, optional
        Plain-data adapter arguments for a model path (``labels``, ``output``, ``preprocess``,
        ``runner``, ``threads``, ``weights``); or pass a ``paddlex_interpret.batch.ModelSpec``.
    progress : bool, default True
        One progress bar for the whole job (items, failures, rate, time left).
    callback : callable, optional
        Called with each item's manifest record after it is written (raising KeyboardInterrupt
        there stops the job like Ctrl-C).
    max_in_flight : int, optional
        Items sent to workers and not yet finished (default 2 x workers): memory is bounded by it.
"""

_JOB_SEED = """
    seed : int, default 0
        Job seed. Each item's seed is derived from it and the item's key (its path relative to the
        folder; ``paddlex_interpret.batch.item_seed``) and recorded in the manifest.
"""

_JOB_INPUTS = """
    inputs : folder, glob pattern, PaddleX file list, list of image paths, or dataset
        A folder is searched recursively (hidden entries and ``save_dir`` skipped); a dataset is a
        ``paddle.io.Dataset``, a list of arrays / PIL images or an ``(N, H, W, 3)`` array (items
        are keyed ``item<index>``). An unreadable image is recorded as failed; the job goes on.
    model : path, 'demo', (config, weights), ModelSpec or model object
        A PaddleX model directory, an exported model, a PaddleClas config (weights via
        ``model_overrides``), ``'demo'`` (the demo's EfficientNet-Lite0): loaded once per worker.
        A model object (``paddle.nn.Layer``, Classifier, ...) works with ``backend='serial'`` only.
"""


def _document_job(func):
    func.__doc__ = func.__doc__.replace("    {inputs}\n", _JOB_INPUTS.lstrip("\n")).replace(
        "    {seed}\n", _JOB_SEED.lstrip("\n")).replace("    {job}\n", _JOB_DOC.lstrip("\n"))
    return func


@_document_job
def explain_folder(inputs, model, method: str = "lime", save_dir="./batch_output", *, backend: str = "serial",
                   workers: Optional[int] = None, seed: int = 0, threads: Optional[int] = None,
                   model_overrides: Optional[Dict[str, Any]] = None, progress: bool = True,
                   callback: Optional[Callable[[dict], None]] = None, max_in_flight: Optional[int] = None,
                   **method_params):
    """Explain every image of a folder (or glob, list, dataset) with one method; resumable.

    Writes, per input ``<key>`` (its path relative to the folder): ``<key>.<method>.png`` (the
    method's figure, as its free function draws it), ``<key>.<method>.npz`` (the explanation,
    ``engine.load_explanation``) and ``thumbs/<key>.<method>.jpg``; then ``index.csv`` and
    ``index.html`` (a static gallery; names and labels escaped) and ``manifest.jsonl`` (each
    item's status, parameters, seed and the sha256 of its input and outputs). Every file is written
    atomically. Running the same call again skips the items whose outputs still match the manifest
    and redoes missing, corrupt, failed or changed ones; Ctrl-C stops cleanly (the manifest lists
    exactly what was finished).

    Parameters
    ----------
    {inputs}
    method : str, default 'lime'
        An image method of the registry (``paddlex_interpret.batch.supported_methods()``).
    save_dir : path, default './batch_output'
        Output folder (created if missing). One job at a time per folder.
    {seed}
    {job}
    **method_params
        Keyword arguments of the method's free function (e.g. ``num_samples=1000`` for LIME),
        except ``random_state`` (from ``seed``) and ``save_dir``.

    Returns
    -------
    paddlex_interpret.batch.JobResult
        Counts (``done``, ``skipped``, ``failed``), every item's record, the paths of the index,
        gallery and manifest.
    """
    from .batch import explain_folder as _explain_folder

    return _explain_folder(inputs, model, method, save_dir, backend=backend, workers=workers, seed=seed,
                           threads=threads, model_overrides=model_overrides, progress=progress, callback=callback,
                           max_in_flight=max_in_flight, **method_params)


@_document_job
def evaluate_folder(inputs, model, methods: Sequence[str] = ("lime", "occlusion"),
                    metrics: Sequence[str] = ("deletion", "insertion"), save_dir="./sweep_output", *,
                    method_params: Optional[Dict[str, Dict[str, Any]]] = None,
                    metric_params: Optional[Dict[str, Dict[str, Any]]] = None, batch_size: int = 50,
                    backend: str = "serial", workers: Optional[int] = None, seed: int = 0,
                    threads: Optional[int] = None, model_overrides: Optional[Dict[str, Any]] = None,
                    progress: bool = True, callback: Optional[Callable[[dict], None]] = None,
                    max_in_flight: Optional[int] = None):
    """Evaluator sweep: every method x every metric over the inputs, as one table and one figure.

    Each image is explained with each method (its item seed, as :func:`explain_folder`) and the
    explanation is scored with :func:`evaluate`. Writes ``sweep.csv`` (one row per image x method,
    one column per metric), ``sweep_summary.csv`` (mean, std, n per method x metric),
    ``sweep.png`` and ``manifest.jsonl`` (resumable as :func:`explain_folder`).

    Parameters
    ----------
    {inputs}
    methods : sequence of str, default ('lime', 'occlusion')
        Image methods of the registry.
    metrics : sequence of str, default ('deletion', 'insertion')
        Names from ``paddlex_interpret.evaluate.metric_names()``.
    save_dir : path, default './sweep_output'
    method_params : dict method -> dict, optional
        Keyword arguments of each method's free function, e.g. ``{'lime': {'num_samples': 500}}``.
    metric_params : dict metric -> dict, optional
        Constructor arguments per metric.
    batch_size : int, default 50
        Perturbed images per forward pass of the metrics.
    {seed}
    {job}

    Returns
    -------
    paddlex_interpret.batch.JobResult
        ``extra['scores']`` ({method: {metric: {'mean', 'std', 'n'}}}) and the paths
        ``extra['table']``, ``extra['summary']``, ``extra['figure']``.
    """
    from .batch import evaluate_folder as _evaluate_folder

    return _evaluate_folder(inputs, model, methods, metrics, save_dir, method_params=method_params,
                            metric_params=metric_params, batch_size=batch_size, backend=backend, workers=workers,
                            seed=seed, threads=threads, model_overrides=model_overrides, progress=progress,
                            callback=callback, max_in_flight=max_in_flight)


@_document_job
def normlime_weights(inputs, model, assets_dir, save_dir="./normlime_output", *, algorithm: str = "paddlex",
                     lime_params: Optional[Dict[str, Any]] = None, random_state: int = 0, weights_file=None,
                     backend: str = "serial", workers: Optional[int] = None, threads: Optional[int] = None,
                     model_overrides: Optional[Dict[str, Any]] = None, progress: bool = True,
                     callback: Optional[Callable[[dict], None]] = None, max_in_flight: Optional[int] = None):
    """NormLIME's global weights over a dataset, with the per-image work spread over workers.

    The same numbers as ``engine.lime.normlime_dataset.compute_global_weights`` (the serial job):
    workers compute each image's predicted class and superpixel clusters (plus its LIME
    contributions for 'lime_average'), this process aggregates them in input order. The weights
    file can be given to :func:`normlime` / :func:`glime` as ``normlime_weights_file``.

    Parameters
    ----------
    {inputs}
    assets_dir : path
        A prior asset folder (``paddlex-interpret build-prior`` or PaddleX's downloaded assets).
    save_dir : path, default './normlime_output'
        Folder of the manifest (and of the weights file by default).
    algorithm : {'paddlex', 'lime_average'}, default 'paddlex'
    lime_params : dict, optional
        'lime_average' only: LimeImage parameters (num_samples, batch_size, ...).
    random_state : int, default 0
        Seed of the logistic regression ('paddlex') or of every image's LIME ('lime_average');
        also the job seed.
    weights_file : path, optional
        Default ``save_dir/normlime_weights.npz``; written atomically.
    {job}

    Returns
    -------
    (GlobalWeights, JobResult)
    """
    from .batch import normlime_weights as _normlime_weights

    return _normlime_weights(inputs, model, assets_dir, save_dir, algorithm=algorithm, lime_params=lime_params,
                             random_state=random_state, weights_file=weights_file, backend=backend,
                             workers=workers, threads=threads, model_overrides=model_overrides, progress=progress,
                             callback=callback, max_in_flight=max_in_flight)


# -- transformers (attention family) -----------------------------------------------------------------
_ATTENTION_MODEL_DOC = """model : Classifier or paddle.nn.Layer
        A ViT-like image classifier (PaddleClas ``ViT_*``, ``DeiT_*`` including the distilled ones,
        or anything with ``patch_embed``, a class token and ``blocks[i].attn`` with ``qkv``,
        ``attn_drop``, ``proj``); the patch grid and the special tokens are read from the model.
        Windowed (Swin) or pooled (PVT) attention is refused with the methods that apply."""


@_document
def rollout(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None, start_layer: int = 0,
            head_fusion: str = "mean", batch_size: int = 16, styles: Sequence[str] = _DEFAULT_STYLES,
            channel_order: str = "rgb", save_figure: bool = True) -> PixelExplanation:
    """Attention Rollout (Abnar & Zuidema 2020): head-fused attention plus identity, multiplied over blocks.

    Class-agnostic (``target`` only names the explained class). One forward, no backward.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
        A ViT-like classifier (see :func:`generic_attention`).
    start_layer : int, default 0
        First block in the product (0..number of blocks).
    head_fusion : {'mean', 'max', 'min'}, default 'mean'
    batch_size : int, default 16
    {figure}
    """
    return _explain_pixels("rollout", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           start_layer=start_layer, head_fusion=head_fusion, batch_size=batch_size)


@_document
def tam(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None, start_layer: int = 0,
        steps: int = 20, gradient_of: str = "logit", batch_size: int = 16, progress: bool = False,
        styles: Sequence[str] = _DEFAULT_STYLES, channel_order: str = "rgb",
        save_figure: bool = True) -> PixelExplanation:
    """Transition Attention Maps (Yuan et al. 2021): the last block's attention carried back with the
    residual, weighted by the integrated gradient of that attention.

    ``1 + steps`` forwards and ``steps`` backwards.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
        A ViT-like classifier (see :func:`generic_attention`).
    start_layer : int, default 0
        Earliest block the state is carried back to (0..number of blocks - 1).
    steps : int, default 20
        Points of the integrated gradient (inputs ``alpha * x``, alpha at the midpoints of [0, 1]).
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    batch_size : int, default 16
        Scaled inputs per forward/backward pass.
    progress : bool, default False
    {figure}
    """
    return _explain_pixels("tam", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           start_layer=start_layer, steps=steps, gradient_of=gradient_of, batch_size=batch_size,
                           progress=progress)


@_document
def generic_attention(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None,
                      start_layer: int = 0, gradient_of: str = "logit", batch_size: int = 16,
                      styles: Sequence[str] = _DEFAULT_STYLES, channel_order: str = "rgb",
                      save_figure: bool = True) -> PixelExplanation:
    """Generic Attention (Chefer et al. 2021): ``R <- R + mean_h((dy/dA ⊙ A)^+) R`` block by block.

    Heads are rectified before they are averaged, as in the paper. One forward and one backward.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    {attention_model}
    start_layer : int, default 0
        First block used (0..number of blocks; the number of blocks gives a zero map).
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    batch_size : int, default 16
    {figure}
    """
    return _explain_pixels("generic_attention", img_file, model, save_dir, target, styles, channel_order,
                           save_figure, start_layer=start_layer, gradient_of=gradient_of, batch_size=batch_size)


@_document
def bidirectional(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None, mode: str = "head",
                  start_layer: int = 0, steps: int = 20, gradient_of: str = "logit", batch_size: int = 16,
                  progress: bool = False, styles: Sequence[str] = _DEFAULT_STYLES, channel_order: str = "rgb",
                  save_figure: bool = True) -> PixelExplanation:
    """Bidirectional explanation (BT, Chen et al. 2022): attentional perception (gradient-weighted heads,
    or token norms) times the reasoning feedback (the last block's integrated gradients).

    Head mode: ``1 + steps`` forwards and backwards; token mode: ``1 + steps`` forwards, ``steps`` backwards.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
        A ViT-like classifier (see :func:`generic_attention`).
    mode : {'head', 'token'}, default 'head'
    start_layer : int, default 0
        First block of the perception (0..number of blocks).
    steps : int, default 20
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    batch_size : int, default 16
    progress : bool, default False
    {figure}
    """
    return _explain_pixels("bidirectional", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           mode=mode, start_layer=start_layer, steps=steps, gradient_of=gradient_of,
                           batch_size=batch_size, progress=progress)


@_document
def vit_gradcam(img_file: ImageSource, model, *, save_dir="./", target: Optional[int] = None, block: int = -1,
                gradient_of: str = "logit", batch_size: int = 16, styles: Sequence[str] = _DEFAULT_STYLES,
                channel_order: str = "rgb", save_figure: bool = True) -> PixelExplanation:
    """Grad-CAM on a vision transformer's patch tokens: the tokens entering ``block``, weighted by their
    mean gradient, rectified, on the patch grid read from the model (class/distillation tokens dropped).

    One forward and one backward; no model surgery.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : Classifier or paddle.nn.Layer
        A ViT-like classifier (see :func:`generic_attention`).
    block : int, default -1
        The block whose input tokens are used (default the last; the last block's output reaches the
        class through the class token only).
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    batch_size : int, default 16
    {figure}
    """
    return _explain_pixels("vit_gradcam", img_file, model, save_dir, target, styles, channel_order, save_figure,
                           block=block, gradient_of=gradient_of, batch_size=batch_size)


generic_attention.__doc__ = generic_attention.__doc__.replace("{attention_model}", _ATTENTION_MODEL_DOC)
__all__ += ["rollout", "tam", "generic_attention", "bidirectional", "vit_gradcam"]


_ATTENTION_TEXT_MODEL_DOC = """text : str
        The text to explain (not empty).
    model : TextClassifier, paddle.nn.Layer or paddlenlp Trainer
        A PaddleNLP transformer sequence classifier (ERNIE, BERT, ``AutoModelForSequenceClassification``)
        with its ``tokenizer``, a PaddleNLP ``Trainer``, or a TextClassifier. Its forward must take
        ``output_attentions`` and ``return_dict`` (no layer is replaced).
    tokenizer : PaddleNLP tokenizer, default None
        Required for a bare model."""


#: the one-pass attention methods show no progress bar: the text block without ``progress``
_ATTENTION_TEXT_ONE_PASS_DOC = _TEXT_REQUEST_DOC


def _attention_text_document(func):
    func.__doc__ = func.__doc__.replace("    {attention_text_model}", _ATTENTION_TEXT_MODEL_DOC.join(["    ", ""]))
    func.__doc__ = func.__doc__.replace("    {one_pass_common}", _ATTENTION_TEXT_ONE_PASS_DOC.strip("\n"))
    return _text_document(func)


@_attention_text_document
def rollout_text(text: str, model, tokenizer=None, start_layer: int = 0, head_fusion: str = "mean",
                 target: Union[None, int, Sequence[int]] = None, top_k: int = 1, words: Optional[Sequence[str]] = None,
                 save_dir: Union[str, os.PathLike, None] = None, name: str = "text"):
    """Explain a text classification with Attention Rollout: the [CLS] row of the layers' head-fused
    attention plus identity, multiplied (class-agnostic; one forward).

    Parameters
    ----------
    {attention_text_model}
    start_layer : int, default 0
        First layer in the product (0..number of layers).
    head_fusion : {'mean', 'max', 'min'}, default 'mean'
    {one_pass_common}

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
        Per-token relevance (>= 0; ``.top_tokens()``, ``.top_words()``); ``.html_path`` if written.
    """
    return _run_text("rollout_text", text, model, tokenizer, target, top_k, words, save_dir, name,
                     start_layer=start_layer, head_fusion=head_fusion)


@_attention_text_document
def generic_attention_text(text: str, model, tokenizer=None, start_layer: int = 0, gradient_of: str = "logit",
                           target: Union[None, int, Sequence[int]] = None, top_k: int = 1,
                           words: Optional[Sequence[str]] = None, save_dir: Union[str, os.PathLike, None] = None,
                           name: str = "text"):
    """Explain a text classification with Generic Attention (Chefer et al. 2021): ``R <- R +
    mean_h((dy/dA ⊙ A)^+) R`` layer by layer, heads rectified before the mean; the [CLS] row.

    Parameters
    ----------
    {attention_text_model}
    start_layer : int, default 0
        First layer used (0..number of layers).
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    {one_pass_common}

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
        Per-token relevance (>= 0) per explained class; ``.html_path`` if written.
    """
    return _run_text("generic_attention_text", text, model, tokenizer, target, top_k, words, save_dir, name,
                     start_layer=start_layer, gradient_of=gradient_of)


@_attention_text_document
def tam_text(text: str, model, tokenizer=None, start_layer: int = 0, steps: int = 20, gradient_of: str = "logit",
             batch_size: int = 16, target: Union[None, int, Sequence[int]] = None, top_k: int = 1,
             words: Optional[Sequence[str]] = None, save_dir: Union[str, os.PathLike, None] = None,
             name: str = "text", *, progress: bool = False):
    """Explain a text classification with Transition Attention Maps (Yuan et al. 2021): the last layer's
    attention carried back with the residual, weighted by its integrated gradient (token embeddings
    scaled by alpha).

    Parameters
    ----------
    {attention_text_model}
    start_layer : int, default 0
        Earliest layer the state is carried back to (0..number of layers - 1).
    steps : int, default 20
        Points of the integrated gradient.
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    batch_size : int, default 16
        Scaled copies per forward/backward pass.
    {text_common}

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
        Per-token relevance (>= 0) per explained class; ``.html_path`` if written.
    """
    return _run_text("tam_text", text, model, tokenizer, target, top_k, words, save_dir, name,
                     start_layer=start_layer, steps=steps, gradient_of=gradient_of, batch_size=batch_size,
                     progress=progress)


@_attention_text_document
def bidirectional_text(text: str, model, tokenizer=None, mode: str = "head", start_layer: int = 0, steps: int = 20,
                       gradient_of: str = "logit", batch_size: int = 16,
                       target: Union[None, int, Sequence[int]] = None, top_k: int = 1,
                       words: Optional[Sequence[str]] = None, save_dir: Union[str, os.PathLike, None] = None,
                       name: str = "text", *, progress: bool = False):
    """Explain a text classification with the Bidirectional explanation (BT, Chen et al. 2022):
    attentional perception (gradient-weighted heads, or token norms) times the last layer's
    integrated gradients.

    Parameters
    ----------
    {attention_text_model}
    mode : {'head', 'token'}, default 'head'
    start_layer : int, default 0
        First layer of the perception (0..number of layers).
    steps : int, default 20
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    batch_size : int, default 16
    {text_common}

    Returns
    -------
    paddlex_interpret.engine.TextExplanation
        Per-token relevance (>= 0) per explained class; ``.html_path`` if written.
    """
    return _run_text("bidirectional_text", text, model, tokenizer, target, top_k, words, save_dir, name, mode=mode,
                     start_layer=start_layer, steps=steps, gradient_of=gradient_of, batch_size=batch_size,
                     progress=progress)


def generic_attention_clip(img_file: ImageSource, model, input_ids: Sequence[Sequence[int]], *,
                           target: Optional[int] = None, texts: Optional[Sequence[str]] = None, preprocess=None,
                           start_layer: int = 0, start_layer_text: int = 0, save_dir="./",
                           styles: Sequence[str] = _DEFAULT_STYLES, channel_order: str = "rgb",
                           save_figure: bool = True) -> PixelExplanation:
    """Generic Attention (Chefer et al. 2021) for a CLIP-style image-text model: which patches of the
    image and which tokens of a text make the two match.

    Each tower gets the self-attention rule ``R <- R + mean_h((ds/dA ⊙ A)^+) R``, driven by the gradient
    of the similarity ``s = logits_per_image[0, target]``; the image map is read at the vision tower's
    class token, the text relevance at the token the text tower pools. One forward and one backward.

    Parameters
    ----------
    img_file : path, numpy array or PIL.Image
    model : paddle.nn.Layer
        A PaddleNLP ``CLIPModel`` (built from a config or loaded with ``from_pretrained``).
    input_ids : list of list of int
        The candidate texts as equal-length token-id rows from the model's tokenizer (with its
        start/end tokens; pad them to one length).
    target : int, optional
        Which text to explain (index into ``input_ids``); default: the best-matching one.
    texts : list of str, optional
        The texts, to name the explained one in the figure and ``label_name``.
    preprocess : ImagePreprocess, optional
        Default: resize and centre crop to the vision tower's ``image_size``, CLIP's mean/std.
    start_layer, start_layer_text : int, default 0
        First block used in the vision / text tower.
    save_dir : path or None, default './'
        Folder for ``<image name>_generic_attention_clip.png``; None writes nothing.
    styles : sequence of {'heatmap', 'overlay', 'grayscale', 'threshold'}, default ('heatmap', 'overlay')
    channel_order : {'rgb', 'bgr'}, default 'rgb'
        Channel order of an array ``img_file``.
    save_figure : bool, default True

    Returns
    -------
    PixelExplanation
        ``attribution`` is the image map; ``extras['text_relevance']`` the target text's per-token
        relevance (aligned with its ``input_ids`` row), ``extras['similarities']`` every text's score.
    """
    from .data import load_image
    from .engine.transformer.generic_attention_clip import GenericAttentionCLIP

    styles = _check_styles(styles)
    out_dir = _figure_dir(save_dir, save_figure)
    method = GenericAttentionCLIP(model, preprocess=preprocess, start_layer=start_layer,
                                  start_layer_text=start_layer_text)
    explanation = method.explain(load_image(img_file, channel_order=channel_order), input_ids, target=target,
                                 texts=texts)
    if out_dir is not None:
        path = out_dir / f"{image_name(img_file)}_{explanation.method}.png"
        explanation.figure_path = str(_pixel_figure(styles)(explanation, path))
    return explanation


__all__ += ["rollout_text", "generic_attention_text", "tam_text", "bidirectional_text", "generic_attention_clip"]


# -- training-data explanations ------------------------------------------------------------------------
def _check_stem(name, argument: str = "name") -> str:
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or any(
            sep in name for sep in ("/", "\\", os.sep)):
        raise ValueError(f"{argument} must be a non-empty file name stem without path separators, got {name!r}")
    return name


def data_map(dynamics, *, epochs=None, label_names: Optional[Sequence[str]] = None, save_dir=None,
             highlight=None, name: str = "training"):
    """Data map (dataset cartography) of a recorded training: confidence, variability and
    correctness of every training sample (Swayamdipta et al. 2020).

    Parameters
    ----------
    dynamics : path, TrainingDynamicsRecorder, TrainingDynamicsCallback or TrainingDynamics
        The recording folder (or the recorder / the ``paddle.Model.fit`` callback that wrote it).
    epochs : None, int or list of int, default None
        Which recorded epochs to use; an int ``n`` = the first ``n``; None = all.
    label_names : list of str or None, default None
        Class names for the CSV.
    save_dir : path or None, default None
        Folder (created) for ``<name>_data_map.png`` (the cartography scatter) and
        ``<name>_data_map.csv``, both written atomically; None writes nothing.
    highlight : array-like of int or None, default None
        Sample ids ringed in red on the figure (e.g. known label errors).
    name : str, default 'training'
        Stem of the file names.

    Returns
    -------
    paddlex_interpret.engine.training_data.TrainingDataResult
        Scores ``confidence``, ``variability``, ``correctness``; ``.figure_path``, ``.csv_path``.
    """
    from .engine.training_data import data_map as _data_map
    from .vis.cartography import save_cartography_figure

    if save_dir is not None:
        _check_stem(name)
    out_dir = _prepare_save_dir(save_dir) if save_dir is not None else None
    result = _data_map(dynamics, epochs=epochs, label_names=label_names)
    if out_dir is not None:
        result.figure_path = str(save_cartography_figure(result, out_dir / f"{name}_data_map.png", highlight=highlight))
        result.to_csv(out_dir / f"{name}_data_map.csv")
    return result


def find_label_errors(dynamics, method: str = "tidy", *, epochs=None, label_names: Optional[Sequence[str]] = None,
                      save_dir=None, images=None, texts=None, top_k: int = 32, name: str = "training",
                      bhdf_weights=None, threshold_samples=None):
    """Rank training samples by how likely their label is wrong, from recorded training dynamics.

    Parameters
    ----------
    dynamics : path, TrainingDynamicsRecorder, TrainingDynamicsCallback or TrainingDynamics
    method : {'tidy', 'aum', 'data_map', 'forgetting', 'bhdf'}, default 'tidy'
        ``tidy`` combines the others (docs/training_data.md); ``aum`` is the area under the
        margin, ``data_map`` ranks by low confidence, ``forgetting`` by forgetting events (never
        learned first), ``bhdf`` by the shipped LSTM detector.
    epochs : None, int or list of int, default None
        Which recorded epochs to use (stopping before the network memorises helps).
    label_names : list of str or None, default None
    save_dir : path or None, default None
        Folder for ``<name>_<method>.csv`` (the ranked table: sample id, given and predicted
        label, scores), ``<name>_<method>.npz`` and, with ``images``, ``<name>_<method>_suspects.png``
        (a grid of the ``top_k`` suspects, given -> predicted) or, with ``texts``,
        ``<name>_<method>_suspects.html`` (escaped list). All written atomically; None writes nothing.
    images, texts : sequence or callable, default None
        ``images[sample_id]`` / ``texts[sample_id]`` for the figure or page (at most one of them).
    top_k : int, default 32
        Suspects shown in the figure or page.
    name : str, default 'training'
    bhdf_weights : path or None, default None
        A BHDF detector file for ``bhdf`` / ``tidy``; None = the shipped one.
    threshold_samples : ThresholdSamples, path or None, default None
        With ``method='aum'``: the threshold samples the recorded training used
        (:func:`paddlex_interpret.engine.training_data.aum_threshold_samples`); the result then
        has the paper's calibrated cut-off (score ``flagged``, ``.flagged()``, ``params['threshold']``)
        and leaves the threshold samples out. None = no cut-off.

    Returns
    -------
    paddlex_interpret.engine.training_data.TrainingDataResult
        ``.ranking()``, ``.top(k)``, ``.scores``; ``.csv_path``, ``.figure_path`` if written.
    """
    from .engine.training_data import METHODS, aum_with_threshold

    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if threshold_samples is not None and method != "aum":
        raise ValueError(f"threshold_samples calibrate the AUM cut-off: use method='aum', not {method!r}")
    if images is not None and texts is not None:
        raise ValueError("give images or texts, not both")
    check_positive_int(top_k, "top_k")
    if save_dir is not None:
        _check_stem(name)
    out_dir = _prepare_save_dir(save_dir) if save_dir is not None else None
    options = {"epochs": epochs, "label_names": label_names}
    if method == "bhdf":
        options["weights"] = bhdf_weights
    elif method == "tidy":
        options["bhdf_weights"] = bhdf_weights
    if threshold_samples is not None:
        result = aum_with_threshold(dynamics, threshold_samples, **options)
    else:
        result = METHODS[method](dynamics, **options)
    if out_dir is not None:
        stem = f"{name}_{method}"
        result.to_csv(out_dir / f"{stem}.csv")
        if images is not None:
            from .vis.suspects import save_suspects_figure

            result.figure_path = str(save_suspects_figure(result, images, out_dir / f"{stem}_suspects.png", k=top_k))
        elif texts is not None:
            from .vis.suspects import save_suspects_html

            result.figure_path = str(save_suspects_html(result, texts, out_dir / f"{stem}_suspects.html", k=top_k))
        result.save(out_dir / f"{stem}.npz")
    return result


def sgd_noise(network, x_train, y_train, x_test=None, y_test=None, *, steps: int = 200, learning_rate: float = 0.1,
              batch_size: int = 32, regimes: Sequence[str] = ("gd", "sgd", "masked_gd"), eval_every: int = 10,
              random_state: Optional[int] = 0, save_dir=None, name: str = "sgd_noise", progress: bool = True):
    """Full-batch GD vs minibatch SGD vs Bernoulli-masked GD from the same weights, at equal steps.

    Parameters
    ----------
    network : paddle.nn.Layer
        A classifier returning logits; its weights and train/eval flags are left as they were.
    x_train, y_train, x_test, y_test : array-like
        Training data (the whole set; GD uses all of it per step) and optional test data.
    steps : int, default 200
    learning_rate : float, default 0.1
    batch_size : int, default 32
        SGD's batch and the expected number of unmasked samples per masked-GD step.
    regimes : sequence of str, default ('gd', 'sgd', 'masked_gd')
    eval_every : int, default 10
    random_state : int or None, default 0
        Seed of the batches and masks (recorded in ``params``).
    save_dir : path or None, default None
        Folder for ``<name>.png`` (the curves) and ``<name>.npz``; None writes nothing.
    name : str, default 'sgd_noise'
    progress : bool, default True

    Returns
    -------
    paddlex_interpret.engine.training_data.SGDNoiseResult
    """
    from .engine.training_data import sgd_noise as _sgd_noise
    from .vis.sgd_noise_figure import save_sgd_noise_figure

    if save_dir is not None:
        _check_stem(name)
    out_dir = _prepare_save_dir(save_dir) if save_dir is not None else None
    result = _sgd_noise(network, x_train, y_train, x_test, y_test, steps=steps, learning_rate=learning_rate,
                        batch_size=batch_size, regimes=regimes, eval_every=eval_every, random_state=random_state,
                        progress=progress)
    if out_dir is not None:
        result.figure_path = str(save_sgd_noise_figure(result, out_dir / f"{name}.png"))
        result.save(out_dir / f"{name}.npz")
    return result


__all__ += ["data_map", "find_label_errors", "sgd_noise"]
