"""Preprocessing from the transform lists of PaddleClas configs (``Infer.transforms``) and
PaddleX 3 ``inference.yml`` files (``PreProcess.transform_ops``)."""
from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Optional

from ..data import ImagePreprocess

__all__ = ["preprocess_from_ops", "TransformConfigError"]

# PaddleX spells interpolations the OpenCV way, PaddleClas in lower case.
_INTERPOLATION_NAMES = {
    "nearest": "nearest", "linear": "bilinear", "bilinear": "bilinear", "cubic": "bicubic",
    "bicubic": "bicubic", "area": "area", "lanczos": "lanczos", "lanczos4": "lanczos",
}
# Ops that do not change the pixels the network sees.
_NEUTRAL_OPS = {"ToCHWImage", "ToTensor", "ToBatch", "ReadImage"}


class TransformConfigError(ValueError):
    """A transform list holds an op this package cannot reproduce."""


def _number(value, what: str) -> float:
    """Config numbers may be strings such as ``'1.0/255.0'`` (PaddleClas writes scale so)."""
    if isinstance(value, str):
        try:
            parts = value.replace(" ", "").split("/")
            if len(parts) == 1:
                return float(parts[0])
            if len(parts) == 2:
                return float(Fraction(parts[0]) / Fraction(parts[1]))
        except (ValueError, ZeroDivisionError):
            pass
        raise TransformConfigError(f"{what}={value!r} is not a number")
    return float(value)


def _size(value, what: str):
    """``int`` -> square; ``[w, h]`` (PaddleClas/PaddleX order) -> ``(h, w)``."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise TransformConfigError(f"{what}={value!r}: expected an int or [width, height]")
        return int(value[1]), int(value[0])
    return int(value), int(value)


def preprocess_from_ops(ops: Iterable, source: str = "the config") -> ImagePreprocess:
    """Build an :class:`ImagePreprocess` from a list of ``{OpName: {args}}`` entries.

    Understood: DecodeImage (to_rgb), ResizeImage (resize_short or size; interpolation;
    backend cv2), CropImage (size), NormalizeImage (scale, mean, std, order hwc/chw/''),
    ToCHWImage. Anything else raises :class:`TransformConfigError` naming the op, so a model is
    never explained with preprocessing that differs from the one it was trained with.
    """
    kwargs = dict(resize_short=None, crop_size=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), scale=1.0)
    seen_normalize = False
    interpolation: Optional[str] = None
    for entry in ops or []:
        if isinstance(entry, str):
            name, args = entry, {}
        elif isinstance(entry, dict) and len(entry) == 1:
            name, args = next(iter(entry.items()))
            args = args or {}
        else:
            raise TransformConfigError(f"{source}: cannot read transform entry {entry!r}")
        if name in _NEUTRAL_OPS:
            continue
        if name == "DecodeImage":
            kwargs["channel_order"] = "rgb" if args.get("to_rgb", True) else "bgr"
        elif name == "ResizeImage":
            backend = str(args.get("backend", "cv2")).lower()
            if backend != "cv2":
                raise TransformConfigError(
                    f"{source}: ResizeImage backend {backend!r} is not supported (only cv2); "
                    "give preprocess=ImagePreprocess(...) explicitly"
                )
            if args.get("interpolation") is not None:
                key = str(args["interpolation"]).lower()
                if key not in _INTERPOLATION_NAMES:
                    raise TransformConfigError(
                        f"{source}: ResizeImage interpolation {args['interpolation']!r} is not one of "
                        f"{sorted(_INTERPOLATION_NAMES)}"
                    )
                interpolation = _INTERPOLATION_NAMES[key]
            if args.get("resize_short"):
                kwargs["resize_short"] = int(args["resize_short"])
            elif args.get("size"):
                kwargs["resize_to"] = _size(args["size"], "ResizeImage.size")
            else:
                raise TransformConfigError(f"{source}: ResizeImage needs resize_short or size, got {args}")
        elif name == "CropImage":
            kwargs["crop_size"] = _size(args.get("size", 224), "CropImage.size")
        elif name == "NormalizeImage":
            order = str(args.get("order", "") or "").lower()
            if order not in ("", "chw", "hwc"):
                raise TransformConfigError(f"{source}: NormalizeImage order {order!r} is not supported")
            if int(args.get("channel_num", 3)) != 3:
                raise TransformConfigError(f"{source}: NormalizeImage channel_num must be 3")
            kwargs["scale"] = _number(args.get("scale", 1.0 / 255.0), "NormalizeImage.scale")
            kwargs["mean"] = tuple(_number(v, "NormalizeImage.mean") for v in args.get("mean", (0.485, 0.456, 0.406)))
            kwargs["std"] = tuple(_number(v, "NormalizeImage.std") for v in args.get("std", (0.229, 0.224, 0.225)))
            seen_normalize = True
        else:
            raise TransformConfigError(
                f"{source}: transform {name!r} is not supported (supported: DecodeImage, ResizeImage, CropImage, "
                "NormalizeImage, ToCHWImage); give preprocess=ImagePreprocess(...) explicitly"
            )
    if not seen_normalize:
        raise TransformConfigError(f"{source}: no NormalizeImage transform found")
    if interpolation:
        kwargs["interpolation"] = interpolation
    return ImagePreprocess(**kwargs)
