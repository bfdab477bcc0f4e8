"""``paddle.Model`` (the high-level API, ``paddle.hapi.model.Model``) image classifiers.

The wrapped ``model.network`` is explained. Its preprocessing is given explicitly
(``preprocess=``) or read from a dataset whose ``transform``/``transforms`` is a
``paddle.vision.transforms.Compose`` of ``Resize``, ``CenterCrop``, ``ToTensor``, ``Normalize``
and ``Transpose``. Those ops are reproduced exactly as ``paddle.vision`` runs them (checked
against Paddle 3.3):

* ``Resize(size)``: an int resizes the short side to ``size`` and the long side to
  ``int(size * long / short)`` (truncated, and nothing is done when the short side already has
  that length); a pair is a fixed ``(height, width)``. Default interpolation 'bilinear'. On
  numpy images OpenCV resizes, on PIL images PIL does (results differ), so the dataset's image
  type matters: it is found by looking at the image the dataset hands to its transform.
* ``CenterCrop(size)``: offsets ``int(round((h - th) / 2))`` (Python rounding, half to even).
* ``ToTensor(data_format='CHW')``: uint8 -> float32 / 255 (float input is not scaled), HWC -> CHW.
* ``Normalize(mean, std, data_format='CHW', to_rgb=False)``: ``(x - mean) / std`` on whatever
  values it receives - 0-1 after ``ToTensor``, 0-255 before it (then with ``data_format='HWC'``);
  ``to_rgb`` reverses the channels of an HWC array first.
* ``Transpose(order=(2, 0, 1))``: HWC -> CHW without scaling.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from ..data import ImagePreprocess
from .base import Classifier, LabelCountError, check_overrides
from .transform_config import TransformConfigError

__all__ = ["is_paddle_model", "from_paddle_model", "preprocess_from_vision_transforms", "PaddleVisionPreprocess"]

_OVERRIDES = ("labels", "output", "preprocess", "runner")
_CV2_INTERPOLATIONS = ("nearest", "bilinear", "area", "bicubic", "lanczos")
_PIL_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "box", "lanczos", "hamming")
_BACKENDS = ("cv2", "pil")
_SUPPORTED = "Resize, CenterCrop, ToTensor, Normalize, Transpose"
_AUGMENTATIONS = {"ColorJitter", "BrightnessTransform", "ContrastTransform", "SaturationTransform",
                  "HueTransform", "Grayscale", "Pad"}
_LABEL_ATTRIBUTES = ("classes", "class_names", "label_names", "labels", "label_list")


def is_paddle_model(obj) -> bool:
    """True for ``paddle.Model`` instances (``paddle.hapi.model.Model``)."""
    try:
        from paddle.hapi.model import Model
    except ImportError:  # pragma: no cover - paddle always has hapi
        return False
    return isinstance(obj, Model)


@dataclass(repr=False)
class PaddleVisionPreprocess(ImagePreprocess):
    """An :class:`ImagePreprocess` whose geometry replays ``paddle.vision`` ``Resize`` and
    ``CenterCrop`` ops exactly (their size rounding and, for PIL images, PIL's resampling).

    Parameters
    ----------
    geometry_ops : tuple, default ()
        ``('resize', size, interpolation)`` (``size`` an int short side or ``(height, width)``)
        and ``('center_crop', (height, width))`` entries, applied in order.
    backend : {'cv2', 'pil'}, default 'cv2'
        Image type the dataset feeds its transforms: 'cv2' for numpy arrays (OpenCV resizing),
        'pil' for PIL images (PIL resizing).
    scale, mean, std, channel_order, normalize
        As in :class:`ImagePreprocess` (the normalisation after the geometry). ``resize_short``,
        ``resize_to`` and ``crop_size`` are set from ``geometry_ops`` (the final fixed size, if
        any, is kept in ``crop_size``/``resize_to``); values passed for them are ignored.
    """

    geometry_ops: tuple = ()
    backend: str = "cv2"

    def __post_init__(self):
        if self.backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}, got {self.backend!r}")
        allowed = _PIL_INTERPOLATIONS if self.backend == "pil" else _CV2_INTERPOLATIONS
        ops = []
        for op in self.geometry_ops:
            if op[0] == "resize":
                _, size, interpolation = op
                if interpolation not in allowed:
                    raise ValueError(f"interpolation {interpolation!r} is not one of {allowed} ({self.backend})")
                size = int(size) if np.isscalar(size) else (int(size[0]), int(size[1]))
                ops.append(("resize", size, interpolation))
            elif op[0] == "center_crop":
                ops.append(("center_crop", (int(op[1][0]), int(op[1][1]))))
            else:
                raise ValueError(f"unknown geometry op {op!r}")
        self.geometry_ops = tuple(ops)
        # Informational fields (the base class reads crop_size/resize_to to probe the network).
        self.resize_short, self.resize_to, self.crop_size = None, None, None
        if ops and ops[-1][0] == "center_crop":
            self.crop_size = ops[-1][1]
        elif ops and not np.isscalar(ops[-1][1]):
            self.resize_to = ops[-1][1]
        interpolations = [op[2] for op in ops if op[0] == "resize"]
        self.interpolation = interpolations[-1] if interpolations and interpolations[-1] in (
            "nearest", "bilinear", "bicubic", "area", "lanczos") else "bilinear"
        super().__post_init__()

    def __repr__(self):
        steps = ", ".join(
            f"Resize({op[1]!r}, {op[2]!r})" if op[0] == "resize" else f"CenterCrop({op[1]!r})"
            for op in self.geometry_ops
        )
        if self.normalize is not None:
            norm = f"normalize={self.normalize!r}"
        else:
            norm = (f"scale={self.scale!r}, mean={tuple(self.mean)!r}, std={tuple(self.std)!r}, "
                    f"channel_order={self.channel_order!r}")
        return f"PaddleVisionPreprocess([{steps}], backend={self.backend!r}, {norm})"

    def geometry(self, image: np.ndarray) -> np.ndarray:
        """Apply the ``Resize``/``CenterCrop`` ops as ``paddle.vision`` does (uint8 RGB in and out)."""
        from paddle.vision.transforms import functional as F

        out = image
        if self.backend == "pil":
            from PIL import Image

            out = Image.fromarray(np.ascontiguousarray(image))
        for op in self.geometry_ops:
            if op[0] == "resize":
                out = F.resize(out, op[1], op[2])
            else:
                h, w = (out.size[1], out.size[0]) if self.backend == "pil" else out.shape[:2]
                if h < op[1][0] or w < op[1][1]:
                    raise ValueError(
                        f"the image is {h}x{w} at CenterCrop{op[1]}, smaller than the crop; "
                        "resize it first (the dataset transform would return a wrong crop too)"
                    )
                out = F.center_crop(out, op[1])
        return np.ascontiguousarray(np.asarray(out))


class _ChannelsLastNormalize:
    """``(x[..., flip] * scale - mean) / std`` on a uint8 batch, kept NHWC (for HWC networks)."""

    def __init__(self, scale: float, mean, std, channel_order: str):
        self.scale = np.float32(scale)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.channel_order = channel_order

    def __repr__(self):
        return (f"channels_last(scale={float(self.scale)!r}, mean={self.mean.tolist()!r}, "
                f"std={self.std.tolist()!r}, channel_order={self.channel_order!r})")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = images.astype(np.float32)
        if self.channel_order == "bgr":
            x = np.ascontiguousarray(x[..., ::-1])
        x *= self.scale
        x -= self.mean
        x /= self.std
        return x


def _three(values, what: str, source: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, 3)
    if arr.shape != (3,):
        raise TransformConfigError(f"{source}: {what} needs 3 values (one per channel), got {values!r}")
    return arr


def _augmentation_error(name: str, source: str) -> TransformConfigError:
    return TransformConfigError(
        f"{source}: transform {name!r} is a random training augmentation (or changes the pixels in a way "
        "that cannot be reproduced); give the evaluation dataset (dataset=...), or preprocess=ImagePreprocess(...) "
        "explicitly"
    )


def preprocess_from_vision_transforms(transform, backend: str = "cv2",
                                      source: str = "dataset transform") -> PaddleVisionPreprocess:
    """Translate a ``paddle.vision.transforms.Compose`` (or one transform) into a preprocessing.

    Parameters
    ----------
    transform : paddle.vision.transforms.Compose or BaseTransform
        Ops understood: ``Resize``, ``CenterCrop`` (before any conversion), ``ToTensor``,
        ``Normalize``, ``Transpose``; exact classes only. Anything else raises
        :class:`TransformConfigError` naming the op.
    backend : {'cv2', 'pil'}, default 'cv2'
        The image type the transform receives: numpy uint8 RGB arrays ('cv2') or PIL RGB images.
    source : str, default 'dataset transform'
        Name used in error messages.

    Returns
    -------
    PaddleVisionPreprocess
        NCHW output with ``scale``/``mean``/``std``/``channel_order``, or an NHWC ``normalize``
        callable when the transforms end in HWC layout.
    """
    import paddle.vision.transforms as T

    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if isinstance(transform, T.Compose) or (
        hasattr(transform, "transforms") and isinstance(transform.transforms, (list, tuple))
    ):
        ops = list(transform.transforms)
    else:
        ops = [transform]
    allowed = _PIL_INTERPOLATIONS if backend == "pil" else _CV2_INTERPOLATIONS
    geometry: List[tuple] = []
    kind = backend  # 'cv2'/'pil' (raw image), 'numpy' (float array), 'tensor'
    layout = "HWC"
    is_uint8 = True
    divided = False  # ToTensor divided uint8 pixels by 255
    a, b = np.ones(3), np.zeros(3)  # output = a * input + b per channel, in the current channel order
    flipped = False
    for op in ops:
        name = type(op).__name__
        raw = kind in _BACKENDS and is_uint8 and layout == "HWC"
        if type(op) is T.Resize:
            if not raw:
                raise TransformConfigError(
                    f"{source}: Resize comes after the image was converted (ToTensor/Normalize/Transpose); "
                    "this cannot be reproduced - pass preprocess=ImagePreprocess(...) explicitly"
                )
            if not isinstance(op.interpolation, str) or op.interpolation not in allowed:
                raise TransformConfigError(
                    f"{source}: Resize(interpolation={op.interpolation!r}) is not one of {allowed} for "
                    f"{'PIL' if backend == 'pil' else 'numpy (OpenCV)'} images"
                )
            size = op.size
            if not isinstance(size, (int, np.integer)):
                size = tuple(int(v) for v in size)
            geometry.append(("resize", size, op.interpolation))
        elif type(op) is T.CenterCrop:
            if not raw:
                raise TransformConfigError(
                    f"{source}: CenterCrop comes after the image was converted (ToTensor/Normalize/Transpose); "
                    "this cannot be reproduced - pass preprocess=ImagePreprocess(...) explicitly"
                )
            size = (op.size, op.size) if isinstance(op.size, (int, np.integer)) else tuple(op.size)
            geometry.append(("center_crop", (int(size[0]), int(size[1]))))
        elif type(op) is T.ToTensor:
            if kind == "tensor":
                raise TransformConfigError(f"{source}: ToTensor is applied twice; pass preprocess=... explicitly")
            if layout != "HWC":
                raise TransformConfigError(
                    f"{source}: ToTensor after Transpose would transpose a CHW array again; pass preprocess=..."
                )
            if op.data_format not in ("CHW", "HWC"):
                raise TransformConfigError(f"{source}: ToTensor(data_format={op.data_format!r}) is not CHW or HWC")
            if is_uint8:
                a, b, divided = a / 255.0, b / 255.0, True
            is_uint8, kind, layout = False, "tensor", op.data_format
        elif type(op) is T.Normalize:
            if op.data_format not in ("CHW", "HWC") or op.data_format != layout:
                raise TransformConfigError(
                    f"{source}: Normalize(data_format={op.data_format!r}) receives a {layout} image here "
                    "(the transform itself would fail or broadcast wrongly); pass preprocess=... explicitly"
                )
            mean = _three(op.mean, "Normalize.mean", source)
            std = _three(op.std, "Normalize.std", source)
            if np.any(std == 0):
                raise TransformConfigError(f"{source}: Normalize.std must be non-zero, got {list(std)}")
            if op.to_rgb and kind != "tensor":  # paddle ignores to_rgb on tensors
                if layout != "HWC":
                    raise TransformConfigError(
                        f"{source}: Normalize(to_rgb=True) on a CHW array flips the width, not the channels; "
                        "pass preprocess=... explicitly"
                    )
                a, b, flipped = a[::-1].copy(), b[::-1].copy(), not flipped
            a, b = a / std, (b - mean) / std
            is_uint8 = False
            if kind != "tensor":
                kind = "numpy"
        elif type(op) is T.Transpose:
            order = tuple(int(v) for v in op.order)
            if order == (2, 0, 1) and layout == "HWC":
                layout = "CHW"
            elif order == (1, 2, 0) and layout == "CHW":
                layout = "HWC"
            else:
                raise TransformConfigError(
                    f"{source}: Transpose(order={order}) on a {layout} image is not supported; pass preprocess=..."
                )
            if kind != "tensor":
                kind = "numpy"
        elif name.startswith("Random") or name in _AUGMENTATIONS:
            raise _augmentation_error(name, source)
        else:
            raise TransformConfigError(
                f"{source}: transform {name!r} is not supported (supported: {_SUPPORTED}); "
                "pass preprocess=ImagePreprocess(...) explicitly"
            )
    if is_uint8:
        raise TransformConfigError(
            f"{source}: the transforms never convert the image to float (no ToTensor or Normalize); "
            "pass preprocess=ImagePreprocess(...) explicitly"
        )
    scale = 1.0 / 255.0 if divided else 1.0
    a_scaled = a / scale  # output = a_scaled * (x * scale) + b  ->  (x * scale - mean) / std
    mean, std = tuple(float(v) for v in -b / a_scaled), tuple(float(v) for v in 1.0 / a_scaled)
    channel_order = "bgr" if flipped else "rgb"
    if layout == "CHW":
        return PaddleVisionPreprocess(geometry_ops=tuple(geometry), backend=backend, scale=scale, mean=mean,
                                      std=std, channel_order=channel_order)
    return PaddleVisionPreprocess(geometry_ops=tuple(geometry), backend=backend,
                                  normalize=_ChannelsLastNormalize(scale, mean, std, channel_order))


class _InputProbe:
    """Stands in for a dataset's transform for one item and records what the dataset feeds it.

    Attribute reads it does not have itself go to the wrapped transform, for datasets that look
    at their transform (``self.transform.transforms``) while loading an item.
    """

    def __init__(self, inner):
        self.inner = inner
        self.seen = None

    def __call__(self, data):
        if self.seen is None:
            self.seen = data[0] if isinstance(data, (tuple, list)) and data else data
        return self.inner(data)

    def __getattr__(self, name):
        if name == "inner":  # not set yet (copy/pickle protocols): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


# What reading ``dataset[0]`` raises when the dataset simply cannot be probed that way: no item 0
# (empty, or keyed by something else), not indexable, an abstract __getitem__, a dataset that does
# not accept the probe in place of its transform, or files that are not on this machine (a
# dataset passed only for its transform). Anything else is a real error of the dataset and propagates.
_CANNOT_PROBE = (LookupError, TypeError, AttributeError, NotImplementedError, OSError)


def _describe_input(sample) -> Tuple[Optional[str], Optional[str]]:
    """(backend, problem) for a raw image handed to a transform."""
    from PIL import Image

    if isinstance(sample, Image.Image):
        if sample.mode != "RGB":
            return "pil", f"PIL images in mode {sample.mode!r} (expected 'RGB')"
        return "pil", None
    if isinstance(sample, np.ndarray):
        if sample.dtype != np.uint8:
            return "cv2", f"{sample.dtype} arrays (expected uint8 pixels 0-255)"
        if sample.ndim != 3 or sample.shape[-1] != 3:
            return "cv2", f"arrays of shape {sample.shape} (expected (H, W, 3) RGB)"
        return "cv2", None
    return None, f"{type(sample).__module__}.{type(sample).__name__} objects (expected numpy arrays or PIL images)"


def _dataset_transform(dataset):
    """(transform, attribute name or None) of a dataset; a transform passed directly is allowed."""
    import paddle.vision.transforms as T

    if isinstance(dataset, (T.Compose, T.BaseTransform)):
        return dataset, None
    for attr in ("transform", "transforms"):
        value = getattr(dataset, attr, None)
        if value is not None:
            return value, attr
    return None, None


def _image_backend(dataset, attr, source: str) -> Tuple[Optional[str], Optional[str]]:
    """Find the image type ``dataset`` hands its transform by running one item with a probe.

    Returns ``(backend or None, why it could not be seen or None)``. Errors that only mean the
    item cannot be read this way (:data:`_CANNOT_PROBE`) give ``None`` and the reason (or, when
    the probe saw the image before the error, the backend). Any other error raised while reading
    ``dataset[0]`` propagates as it is, with a note saying what was being done - unless the image
    the probe saw is unusable, which is then reported as a :class:`TransformConfigError`.
    """
    probe = _InputProbe(getattr(dataset, attr))
    failure = None
    try:
        setattr(dataset, attr, probe)
        dataset[0]
    except Exception as exc:
        failure = exc
    finally:
        setattr(dataset, attr, probe.inner)
    backend = None
    if probe.seen is not None:
        backend, problem = _describe_input(probe.seen)
        if problem:
            raise TransformConfigError(
                f"{source}: the dataset feeds its transform {problem}; its preprocessing cannot be reproduced "
                "from uint8 RGB images - pass preprocess=ImagePreprocess(...) explicitly"
            ) from failure
    if failure is not None and not isinstance(failure, _CANNOT_PROBE):
        failure.add_note(
            f"(raised by {type(dataset).__name__}[0], which paddlex_interpret reads to see which images "
            f"{source} receives; fix the dataset, or pass image_backend='cv2' / 'pil' or "
            "preprocess=ImagePreprocess(...) so that it is not read)"
        )
        raise failure
    if backend is not None:
        return backend, None
    declared = getattr(dataset, "backend", None)
    if declared in _BACKENDS:
        return declared, None
    if failure is not None:
        return None, f"{type(dataset).__name__}[0] raised {type(failure).__name__}: {failure}"
    return None, f"{type(dataset).__name__}[0] did not call its {attr}"


def _dataset_labels(dataset) -> Tuple[Optional[List[str]], Optional[str]]:
    """Class names when a dataset obviously has them (``classes`` of DatasetFolder, ...)."""
    for attr in _LABEL_ATTRIBUTES:
        value = getattr(dataset, attr, None)
        if (isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value)
                and len(set(value)) == len(value)):
            return list(value), f"dataset.{attr}"
    mapping = getattr(dataset, "class_to_idx", None)
    if (isinstance(mapping, dict) and mapping and all(isinstance(k, str) for k in mapping)
            and sorted(mapping.values()) == list(range(len(mapping)))):
        names = sorted(mapping, key=mapping.get)
        return names, "dataset.class_to_idx"
    return None, None


def from_paddle_model(obj, dataset=None, *, image_backend: Optional[str] = None, **overrides) -> Classifier:
    """Wrap a ``paddle.Model`` in a :class:`PaddleLayerClassifier` around ``obj.network``.

    Parameters
    ----------
    obj : paddle.Model
        A high-level API model (prepared/trained or not); its ``network`` is explained and its
        train/eval flags are left as they are.
    dataset : paddle.io.Dataset or paddle.vision.transforms.Compose, optional
        The evaluation dataset; its ``transform`` (or ``transforms``) gives the preprocessing
        (see :func:`preprocess_from_vision_transforms`) and its ``classes`` (or ``class_names``,
        ``label_names``, ``labels``, ``label_list`` - a list of distinct strings - or
        ``class_to_idx``) the label names. One item is read to see whether the dataset hands its
        transform numpy arrays or PIL images. Images are taken to be RGB, as paddle.vision's
        loaders give them. A Compose may be passed directly. Not needed when ``preprocess`` is
        given.
    image_backend : {'cv2', 'pil'} or None, default None
        Image type the dataset feeds its transform: 'cv2' for numpy uint8 RGB arrays, 'pil'
        for PIL images (they resize differently). None detects it (falling back to 'cv2' with a
        warning when it cannot be seen and the transforms resize).
    **overrides
        ``preprocess`` (an :class:`ImagePreprocess`, wins over ``dataset``), ``labels``
        (default: from ``dataset``, else None), ``output`` (default 'auto') and ``runner``
        (default 'auto'); see :class:`PaddleLayerClassifier`.

    Raises
    ------
    TypeError
        ``obj`` is not a ``paddle.Model``, unknown override keys, or neither ``preprocess`` nor
        ``dataset`` is given.
    TransformConfigError
        The dataset's transforms cannot be reproduced exactly (random augmentations included).
    LabelCountError
        The label names (given or from the dataset) do not match the network's outputs
        (checked eagerly with one forward pass).
    """
    from .paddle_layer import PaddleLayerClassifier

    check_overrides(overrides, _OVERRIDES, "a paddle.Model")
    if not is_paddle_model(obj):
        raise TypeError(f"expected a paddle.Model (paddle.hapi.model.Model), got {type(obj).__name__}")
    if image_backend is not None and image_backend not in _BACKENDS:
        raise ValueError(f"image_backend must be one of {_BACKENDS} or None, got {image_backend!r}")
    network = obj.network

    preprocess = overrides.pop("preprocess", None)
    if preprocess is None:
        if dataset is None:
            raise TypeError(
                "from_paddle_model needs the model's preprocessing: give preprocess=ImagePreprocess(...) or "
                "dataset=<the evaluation dataset whose transform the model was trained with>"
            )
        transform, attr = _dataset_transform(dataset)
        if transform is None:
            raise TypeError(
                f"dataset {type(dataset).__name__} has no transform/transforms attribute to read the "
                "preprocessing from; give preprocess=ImagePreprocess(...)"
            )
        source = f"{type(dataset).__name__}.{attr}" if attr else type(dataset).__name__
        backend, unseen = image_backend, None
        if backend is None and attr is not None:
            backend, unseen = _image_backend(dataset, attr, source)
        preprocess = preprocess_from_vision_transforms(transform, backend=backend or "cv2", source=source)
        if backend is None and any(op[0] == "resize" for op in preprocess.geometry_ops):
            why = f" ({unseen})" if unseen else ""
            warnings.warn(
                f"could not see which images {source} receives{why}; assuming numpy uint8 RGB arrays (OpenCV "
                "resizing). Pass image_backend='pil' if the dataset loads PIL images",
                UserWarning,
                stacklevel=2,
            )

    labels = overrides.pop("labels", None)
    label_source = "labels"
    if labels is None and dataset is not None:
        labels, label_source = _dataset_labels(dataset)
    classifier = PaddleLayerClassifier(network, preprocess=preprocess, labels=labels, **overrides)
    if labels is not None:
        try:
            classifier.num_classes  # one forward on a black image; checks the label count now
        except LabelCountError as exc:
            raise LabelCountError(f"{label_source}: {exc}") from None
    return classifier
