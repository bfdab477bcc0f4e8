"""Reading images from files, arrays and PIL objects into uint8 RGB arrays."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageSource = Union[str, os.PathLike, np.ndarray, Image.Image]

__all__ = ["ImageSource", "load_image", "image_name"]


def load_image(source: ImageSource, channel_order: str = "rgb") -> np.ndarray:
    """Return ``source`` as a ``(H, W, 3)`` uint8 RGB array.

    Parameters
    ----------
    source : str, os.PathLike, numpy.ndarray or PIL.Image.Image
        A file path; an array of shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``
        (uint8, uint16, or float in ``[0, 1]``); or a PIL image. EXIF orientation is applied to
        files and PIL images; grayscale is repeated to three channels; an alpha channel is
        dropped (as ``cv2.imread`` does, so the model sees what its own predictor sees); 16-bit
        images are scaled to 8 bits.
    channel_order : {'rgb', 'bgr'}, default 'rgb'
        Channel order of a 3- or 4-channel *array* source (files and PIL images carry their own).
        Use 'bgr' for arrays read with OpenCV.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ValueError
        The file is not a readable image, or the array has an unsupported shape or dtype.
    """
    if channel_order not in ("rgb", "bgr"):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    if isinstance(source, (str, os.PathLike)):
        return _from_pil(_open_file(Path(source)))
    if isinstance(source, Image.Image):
        return _from_pil(ImageOps.exif_transpose(source))
    if isinstance(source, np.ndarray):
        return _from_array(source, channel_order)
    raise TypeError(
        "image must be a file path, a numpy array (H, W[, C]) or a PIL.Image, "
        f"got {type(source).__name__}"
    )


def image_name(source: ImageSource, default: str = "image") -> str:
    """File name without extension for a path source, else ``default`` (used in output names)."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).stem or default
    filename = getattr(source, "filename", None)
    if isinstance(source, Image.Image) and filename:
        return Path(filename).stem
    return default


def _open_file(path: Path) -> Image.Image:
    if not path.exists():
        raise FileNotFoundError(f"image file not found: '{path}'")
    if path.is_dir():
        raise ValueError(f"expected an image file, got a directory: '{path}'")
    try:
        with Image.open(path) as img:
            img.load()
            return ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"cannot read image '{path}': {exc}") from exc


def _from_pil(img: Image.Image) -> np.ndarray:
    if img.width < 1 or img.height < 1:
        raise ValueError("image is empty (0 pixels)")
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img)
        return _from_array(arr, "rgb")
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        return _from_array(_rescale_float(arr), "rgb")
    if mode in ("P", "PA", "RGBA", "RGBa", "LA", "La"):
        return np.ascontiguousarray(np.asarray(img.convert("RGBA"))[:, :, :3])
    if mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _rescale_float(arr: np.ndarray) -> np.ndarray:
    finite = arr[np.isfinite(arr)]
    hi = float(finite.max()) if finite.size else 1.0
    return arr / hi if hi > 1.0 else arr


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return (arr >> 8).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0:
            raise ValueError(f"integer image has negative values (dtype {arr.dtype})")
        if arr.max() <= 255:
            return arr.astype(np.uint8)
        if arr.max() <= 65535:
            return (arr.astype(np.uint32) >> 8).astype(np.uint8)
        raise ValueError(f"integer image values exceed 16 bits (dtype {arr.dtype})")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("float image contains NaN or infinite values")
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(
                "float images must lie in [0, 1]; got values in "
                f"[{float(arr.min()):.3g}, {float(arr.max()):.3g}] (pass uint8 for 0-255 data)"
            )
        return np.round(arr * 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def _from_array(arr: np.ndarray, channel_order: str) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[:, :, :3]
        if channel_order == "bgr":
            arr = arr[:, :, ::-1]
    else:
        raise ValueError(
            f"image array must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"image array is empty: shape {arr.shape}")
    return np.ascontiguousarray(_to_uint8(arr))
