"""Model objects of the legacy PaddleX releases (1.x and 2.x).

PaddleX 1.x and 2.x need Paddle 2.2-2.3 and cannot be installed next to Paddle 3, so their model
objects are recognised by their documented attributes, never by importing ``paddlex``:

* **PaddleX 2.x** classifiers (``paddlex.cls.*``, ``paddlex.load_model``): ``model_type ==
  'classifier'``, ``num_classes``, ``labels``, ``net`` (a PaddleClas dygraph ``paddle.nn.Layer``),
  ``status`` ('Normal', 'Pruned', 'Quantized': ``net`` returns logits; 'Infer': ``net`` already
  ends in softmax) and ``test_transforms`` (a ``paddlex.transforms.Compose`` whose ops work on a
  sample dict ``{'image': ...}``; set only when training had an evaluation dataset).
* **PaddleX 1.x** classifiers: the same ``model_type``/``labels``/``status``/``test_transforms``,
  but the network is a static fluid Program (``test_prog`` run by ``exe`` in ``scope``). A
  Paddle 3 session cannot run such a program, so a 1.x object is only usable when it also carries
  a ``net`` (a ``paddle.nn.Layer`` with the same weights); otherwise a clear error says how to
  proceed.

The transforms are translated op by op (recognised by class name and attributes) into an
:class:`~paddlex_interpret.data.ImagePreprocess`; an op that cannot be reproduced exactly raises
:class:`~paddlex_interpret.models.transform_config.TransformConfigError` naming it.
"""
from __future__ import annotations

import warnings
from typing import List, Optional

from ..data import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess
from .base import Classifier, check_label_count, check_overrides
from .transform_config import TransformConfigError

__all__ = ["is_legacy_paddlex", "from_legacy_paddlex", "legacy_paddlex_version", "preprocess_from_legacy_transforms",
           "LegacyPaddleXError"]

_OVERRIDES = ("labels", "output", "preprocess", "runner")

# PaddleX spells interpolations the OpenCV way ('LINEAR'); some releases store cv2 constants.
_INTERP_NAMES = {"NEAREST": "nearest", "LINEAR": "bilinear", "CUBIC": "bicubic", "AREA": "area",
                 "LANCZOS4": "lanczos"}
_INTERP_CODES = {0: "nearest", 1: "bilinear", 2: "bicubic", 3: "area", 4: "lanczos"}
# Ops that do not change the pixels the network sees (ArrangeClassifier only transposes to CHW).
_NEUTRAL_OPS = {"ArrangeClassifier"}
_SUPPORTED = "Decode, ResizeByShort, Resize, CenterCrop, Normalize, ArrangeClassifier"

_DEFAULT_ASSUMPTION = (
    "ResizeByShort(short_size=256), CenterCrop(crop_size=224), Normalize(mean=[0.485, 0.456, 0.406], "
    "std=[0.229, 0.224, 0.225]) on 0-1 pixels"
)


class LegacyPaddleXError(TypeError):
    """A legacy PaddleX model object that cannot be run on Paddle 3 (e.g. a 1.x static program)."""


def _is_layer(obj) -> bool:
    import paddle

    return isinstance(obj, paddle.nn.Layer)


def legacy_paddlex_version(obj) -> Optional[int]:
    """1 or 2 for a PaddleX 1.x / 2.x model object, None for anything else.

    A 1.x object carries its static program (``test_prog``/``exe``/``scope``); a 2.x object a
    dygraph ``net`` and ``num_classes``. A ``version`` string ('1.3.11', '2.1.0'), when present,
    decides.
    """
    if _is_layer(obj) or isinstance(obj, Classifier):
        return None
    if not isinstance(getattr(obj, "model_type", None), str):
        return None
    if not (hasattr(obj, "status") and hasattr(obj, "test_transforms")):
        return None
    version = getattr(obj, "version", None)
    if isinstance(version, str) and version[:2] in ("1.", "2."):
        return int(version[0])
    if any(hasattr(obj, name) for name in ("test_prog", "exe", "scope")):
        return 1
    if hasattr(obj, "net") and hasattr(obj, "num_classes"):
        return 2
    return None


def is_legacy_paddlex(obj) -> bool:
    """True for a PaddleX 1.x or 2.x model object (any ``model_type``), recognised by its
    documented attributes (``model_type``, ``status``, ``test_transforms`` plus ``net`` or the 1.x
    static program)."""
    return legacy_paddlex_version(obj) is not None


def _interpolation(op, name: str, source: str) -> str:
    interp = getattr(op, "interp", "LINEAR")
    if isinstance(interp, str) and interp.upper() in _INTERP_NAMES:
        return _INTERP_NAMES[interp.upper()]
    if isinstance(interp, int) and not isinstance(interp, bool) and interp in _INTERP_CODES:
        return _INTERP_CODES[interp]
    raise TransformConfigError(
        f"{source}: {name}(interp={interp!r}) cannot be reproduced (a random or unknown interpolation); "
        "pass preprocess=ImagePreprocess(...) explicitly"
    )


def _three(values, what: str, source: str) -> List[float]:
    try:
        out = [float(v) for v in values]
    except TypeError:
        out = [float(values)] * 3
    if len(out) != 3:
        raise TransformConfigError(f"{source}: {what} needs 3 values (one per channel), got {values!r}")
    return out


def _normalize_fields(op, source: str) -> dict:
    """scale/mean/std such that ``(x * scale - mean) / std`` equals the op's output on 0-255 pixels.

    2.x: ``x = (x - min_val) / (max_val - min_val)`` when ``is_scale``, then ``(x - mean) / std``.
    1.x: ``x / 255`` then ``(x - mean) / std`` (min_val/max_val honoured if an object has them).
    """
    mean = _three(getattr(op, "mean", IMAGENET_MEAN), "Normalize.mean", source)
    std = _three(getattr(op, "std", IMAGENET_STD), "Normalize.std", source)
    if any(s == 0 for s in std):
        raise TransformConfigError(f"{source}: Normalize.std must be non-zero, got {std}")
    if not getattr(op, "is_scale", True):
        return dict(scale=1.0, mean=tuple(mean), std=tuple(std))
    lo = _three(getattr(op, "min_val", None) or (0.0, 0.0, 0.0), "Normalize.min_val", source)
    hi = _three(getattr(op, "max_val", None) or (255.0, 255.0, 255.0), "Normalize.max_val", source)
    span = [h - l for h, l in zip(hi, lo)]
    if any(s == 0 for s in span):
        raise TransformConfigError(f"{source}: Normalize max_val - min_val must be non-zero, got {span}")
    rate = [1.0 / s for s in span]
    if all(r == rate[0] for r in rate):
        # (x - lo) * r - mean == x * r - (mean + lo * r)
        return dict(scale=rate[0], mean=tuple(m + l * rate[0] for m, l in zip(mean, lo)), std=tuple(std))
    # Per-channel ranges: ((x - lo) r - mean) / std == (x - (lo + mean / r)) / (std / r)
    return dict(
        scale=1.0,
        mean=tuple(l + m / r for l, m, r in zip(lo, mean, rate)),
        std=tuple(s / r for s, r in zip(std, rate)),
    )


def _op_list(transforms, source: str) -> list:
    ops = getattr(transforms, "transforms", transforms)
    if isinstance(ops, (list, tuple)):
        return list(ops)
    raise TransformConfigError(
        f"{source}: expected a PaddleX Compose (with a .transforms list) or a list of transforms, "
        f"got {type(transforms).__name__}; pass preprocess=ImagePreprocess(...) explicitly"
    )


def preprocess_from_legacy_transforms(transforms, version: int = 2, source: str = "test_transforms") -> ImagePreprocess:
    """Translate PaddleX 1.x/2.x classification transforms into an :class:`ImagePreprocess`.

    Parameters
    ----------
    transforms : Compose or list
        ``model.test_transforms``: a PaddleX ``Compose`` (its ``.transforms`` list is read) or a list.
    version : {1, 2}, default 2
        PaddleX major version; it decides how ``Resize.target_size`` pairs are read
        (2.x: ``[height, width]``, 1.x: ``[width, height]``).
    source : str, default 'test_transforms'
        Name used in error messages.

    Understood ops (by class name): ``Decode(to_rgb)``, one resize (``ResizeByShort(short_size,
    max_size=-1, interp)`` or ``Resize(target_size, interp, keep_ratio=False)``), then
    ``CenterCrop(crop_size)``, then ``Normalize(mean, std, min_val, max_val, is_scale)`` and
    ``ArrangeClassifier``. Anything else - random augmentations, ``ResizeByLong``, ``Padding``,
    ``ResizeByShort(max_size>0)``, ``Resize(keep_ratio=True)``, ``interp='RANDOM'``, ops in another
    order - raises :class:`TransformConfigError` naming the op.
    """
    fields: dict = dict(resize_short=None, resize_to=None, crop_size=None, interpolation="bilinear",
                        channel_order="rgb")
    decode = getattr(transforms, "decode_image", None)  # some 2.x Compose objects decode themselves
    if decode is not None and type(decode).__name__ == "Decode":
        fields["channel_order"] = "rgb" if getattr(decode, "to_rgb", True) else "bgr"
    stage = 0  # 0: nothing yet, 1: resized, 2: cropped, 3: normalised
    normalize = None
    for op in _op_list(transforms, source):
        name = type(op).__name__
        if name in _NEUTRAL_OPS:
            continue

        def order_error(what):
            return TransformConfigError(
                f"{source}: {name} comes after {what}; this order cannot be reproduced (expected Decode, "
                "one resize, CenterCrop, Normalize); pass preprocess=ImagePreprocess(...) explicitly"
            )

        if name == "Decode":
            if stage:
                raise order_error("other image ops")
            fields["channel_order"] = "rgb" if getattr(op, "to_rgb", True) else "bgr"
        elif name in ("ResizeByShort", "Resize"):
            if stage >= 1:
                raise order_error({1: "another resize", 2: "CenterCrop", 3: "Normalize"}[stage])
            fields["interpolation"] = _interpolation(op, name, source)
            if name == "ResizeByShort":
                max_size = getattr(op, "max_size", -1)
                if max_size is not None and max_size > 0:
                    raise TransformConfigError(
                        f"{source}: ResizeByShort(max_size={max_size}) caps the long side depending on each "
                        "image's shape, which cannot be reproduced; pass preprocess=ImagePreprocess(...) explicitly"
                    )
                fields["resize_short"] = int(op.short_size)
            else:
                if getattr(op, "keep_ratio", False):
                    raise TransformConfigError(
                        f"{source}: Resize(keep_ratio=True) cannot be reproduced; "
                        "pass preprocess=ImagePreprocess(...) explicitly"
                    )
                size = op.target_size
                if isinstance(size, (list, tuple)):
                    if len(size) != 2:
                        raise TransformConfigError(f"{source}: Resize.target_size={size!r} is not [h, w]")
                    h, w = (size[0], size[1]) if version >= 2 else (size[1], size[0])
                else:
                    h = w = size
                fields["resize_to"] = (int(h), int(w))
            stage = 1
        elif name == "CenterCrop":
            if stage >= 2:
                raise order_error({2: "another CenterCrop", 3: "Normalize"}[stage])
            crop = getattr(op, "crop_size", 224)
            if isinstance(crop, (list, tuple)):
                raise TransformConfigError(
                    f"{source}: CenterCrop(crop_size={crop!r}) is not an int side length; "
                    "pass preprocess=ImagePreprocess(...) explicitly"
                )
            fields["crop_size"] = int(crop)
            stage = 2
        elif name == "Normalize":
            if stage >= 3:
                raise order_error("another Normalize")
            normalize = _normalize_fields(op, source)
            stage = 3
        else:
            raise TransformConfigError(
                f"{source}: transform {name!r} is not supported (supported: {_SUPPORTED}); "
                "pass preprocess=ImagePreprocess(...) explicitly"
            )
    if normalize is None:
        raise TransformConfigError(
            f"{source}: no Normalize transform found; pass preprocess=ImagePreprocess(...) explicitly"
        )
    return ImagePreprocess(**fields, **normalize)


def _model_labels(obj) -> Optional[List[str]]:
    labels = getattr(obj, "labels", None)
    if labels is None or isinstance(labels, str) or len(labels) == 0:
        return None
    return [str(x) for x in labels]


def _class_count(obj) -> Optional[int]:
    count = getattr(obj, "num_classes", None)
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return count
    labels = _model_labels(obj)
    return len(labels) if labels else None


def _v1_program_error(obj) -> LegacyPaddleXError:
    return LegacyPaddleXError(
        f"{type(obj).__name__} is a PaddleX 1.x model: its network is a static fluid Program (test_prog) "
        "executed by a Paddle 2.x executor, and a Paddle 3 session cannot run 1.x programs. To explain it: "
        "(a) retrain or export the model with PaddleX 3 and pass the PaddleX 3 model (or its model "
        "directory); or (b) build the same architecture from PaddleClas "
        "(paddleclas.ppcls.arch.backbone.<Arch>(class_num=N)), load the 1.x weights into it and pass that "
        "network with preprocess=ImagePreprocess(...) and labels=model.labels"
    )


def from_legacy_paddlex(obj, **overrides) -> Classifier:
    """Wrap a PaddleX 1.x/2.x classifier object in a :class:`PaddleLayerClassifier`.

    Parameters
    ----------
    obj : PaddleX 2.x classifier, or PaddleX 1.x classifier with a ``net``
        The object returned by ``paddlex.cls.<Arch>(...)``/``paddlex.load_model(...)``; its ``net``
        (a ``paddle.nn.Layer``) is explained. ``model_type`` must be ``'classifier'``.
    **overrides
        ``preprocess`` (an :class:`ImagePreprocess`; default: translated from
        ``obj.test_transforms``, or PaddleX's ImageNet defaults - resize short side 256, centre
        crop 224, ImageNet mean/std on 0-1 pixels - with a warning when the model has none),
        ``labels`` (default ``obj.labels``; must have ``num_classes`` names), ``output``
        (default 'probabilities' for ``status == 'Infer'``, whose ``net`` ends in softmax, else
        'logits') and ``runner`` (default 'auto'); see :class:`PaddleLayerClassifier`.

    Raises
    ------
    TypeError
        Unknown override keys, an object that is not a legacy PaddleX model, or a ``model_type``
        other than 'classifier'.
    LegacyPaddleXError
        A PaddleX 1.x model without a usable ``net`` (its static program cannot run on Paddle 3),
        or a 2.x model whose ``net`` is not a ``paddle.nn.Layer``.
    TransformConfigError
        ``test_transforms`` holds an op that cannot be reproduced exactly (give ``preprocess=``).
    LabelCountError
        ``labels`` does not have ``num_classes`` names.

    Notes
    -----
    PaddleX 1.x resizes float32 images, whereas the explained image is uint8 (resized with
    OpenCV's uint8 arithmetic): for 1.x models with a resize op the pixels the network sees differ
    from PaddleX 1.x's by less than one grey level before normalisation.
    """
    from .paddle_layer import PaddleLayerClassifier

    check_overrides(overrides, _OVERRIDES, "a PaddleX model")
    version = legacy_paddlex_version(obj)
    if version is None:
        raise TypeError(
            f"{type(obj).__name__} is not a PaddleX 1.x/2.x model object (expected model_type, status, "
            "test_transforms and net)"
        )
    if obj.model_type != "classifier":
        raise TypeError(
            f"PaddleX model_type {obj.model_type!r} is not supported: only image classifiers "
            "(model_type='classifier') can be explained"
        )
    net = getattr(obj, "net", None)
    if not _is_layer(net):
        if version == 1:
            raise _v1_program_error(obj)
        raise LegacyPaddleXError(
            f"{type(obj).__name__} (PaddleX 2.x) has no usable network: net is "
            f"{type(net).__name__}, expected a paddle.nn.Layer; load the model with paddlex.load_model "
            "or pass its network as a paddle.nn.Layer with preprocess=..."
        )

    preprocess = overrides.pop("preprocess", None)
    if preprocess is None:
        transforms = getattr(obj, "test_transforms", None)
        if transforms is None:
            warnings.warn(
                f"{type(obj).__name__} has no test_transforms (it was trained without an evaluation "
                f"dataset); assuming PaddleX's default classifier evaluation transforms: {_DEFAULT_ASSUMPTION}. "
                "Pass preprocess=ImagePreprocess(...) if the model was trained otherwise",
                UserWarning,
                stacklevel=2,
            )
            preprocess = ImagePreprocess()
        else:
            preprocess = preprocess_from_legacy_transforms(
                transforms, version=version, source=f"PaddleX {version}.x test_transforms"
            )

    labels = overrides.pop("labels", None)
    label_source = "labels"
    if labels is None:
        labels, label_source = _model_labels(obj), "model.labels"
    count = _class_count(obj)
    if not isinstance(labels, str):
        check_label_count(labels, count, label_source, "the model has")

    output = overrides.pop("output", None)
    if output is None:
        output = "probabilities" if getattr(obj, "status", "Normal") == "Infer" else "logits"
    return PaddleLayerClassifier(net, preprocess=preprocess, labels=labels, output=output, **overrides)
