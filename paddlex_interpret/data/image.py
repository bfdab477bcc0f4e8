"""Reading images from files, arrays and PIL objects into uint8 RGB arrays."""
from __future__ import annotations

import os
import re
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
        (uint8, uint16, bool, or float in ``[0, 1]``; any memory layout, views included); or a
        PIL image. EXIF orientation is applied to files and PIL images; grayscale is repeated to
        three channels; an alpha channel is dropped (as ``cv2.imread`` does, so the model sees
        what its own predictor sees); palette, CMYK, YCbCr, LAB and HSV images are converted to
        RGB with Pillow; 16-bit images (files, PIL images and uint16 arrays) are scaled to 8 bits
        as ``v >> 8`` (the high byte).

        32-bit float files (PIL mode ``'F'``, e.g. float TIFFs) have no fixed range, so their
        values ``v`` are read by the smallest range that holds them all: ``[0, 1]`` ->
        ``round(255 * v)``; ``[0, 255]`` -> ``round(v)`` (8-bit levels); ``[0, 65535]`` ->
        ``floor(v / 256)`` (16-bit levels, as the 16-bit path); anything else (negative values,
        or above 65535) is stretched, ``round(255 * (v - min) / (max - min))`` (a constant
        such image is black). NaN or infinite
        values are an error. (Float *arrays* must lie in ``[0, 1]``; pass uint8 for 0-255 data.)

        Multi-frame files (animated GIF, WebP or PNG, multi-page TIFF) are read at their first
        frame; a PIL image is read at the frame it is at. Files over Pillow's decompression-bomb
        limit (``PIL.Image.MAX_IMAGE_PIXELS``) are refused as Pillow refuses them.
    channel_order : {'rgb', 'bgr'}, default 'rgb'
        Channel order of a 3- or 4-channel *array* source (files and PIL images carry their own).
        Use 'bgr' for arrays read with OpenCV.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ValueError
        The file is not a readable image or is over Pillow's decompression-bomb limit (the
        message names the path, its pixel count and the limit), or the array has an unsupported
        shape, dtype or value range.
    TypeError
        ``source`` is none of the types above.
    """
    if channel_order not in ("rgb", "bgr"):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return _from_pil(_open_file(path), f"image '{path}'")
    if isinstance(source, Image.Image):
        return _from_pil(ImageOps.exif_transpose(source), "PIL image")
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
    """The first frame of the image file ``path``, EXIF orientation applied, fully loaded."""
    if not path.exists():
        raise FileNotFoundError(f"image file not found: '{path}'")
    if path.is_dir():
        raise ValueError(f"expected an image file, got a directory: '{path}'")
    try:
        with Image.open(path) as img:
            img.load()  # a multi-frame file is at (and only decodes) its first frame
            return ImageOps.exif_transpose(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # the error above twice the limit, the warning between the limit and twice it when a warnings
        # filter turns it into an error
        raise ValueError(_bomb_message(path, exc)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValueError(f"cannot read image '{path}': {exc}") from exc


def _bomb_message(path: Path, exc: Exception) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = int(found.group(1)) if found else None
    limit = Image.MAX_IMAGE_PIXELS
    size = f"{pixels} pixels" if pixels is not None else "more pixels than the limit allows"
    over = ("more than twice PIL.Image.MAX_IMAGE_PIXELS" if isinstance(exc, Image.DecompressionBombError)
            else "more than PIL.Image.MAX_IMAGE_PIXELS")
    example = pixels if pixels is not None else "a larger number"
    return (f"image '{path}' has {size}, {over} = {limit}: Pillow refuses it as a possible decompression "
            f"bomb. If you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS (e.g. "
            f"PIL.Image.MAX_IMAGE_PIXELS = {example}) or set it to None before loading it")


def _from_pil(img: Image.Image, what: str = "image") -> np.ndarray:
    """A uint8 RGB array of a PIL image; ``what`` names the source in errors."""
    if img.width < 1 or img.height < 1:
        raise ValueError(f"{what} is empty (0 pixels)")
    mode = img.mode
    try:
        if mode.startswith("I;16"):  # any byte order: native uint16, then the high byte
            return _from_array(np.asarray(img).astype(np.uint16), "rgb")
        if mode == "I":
            return _from_array(np.asarray(img), "rgb")
        if mode == "F":
            return _from_array(_float_file_to_uint8(np.asarray(img, dtype=np.float64)), "rgb")
        if mode in ("P", "PA", "RGBA", "RGBa", "LA", "La"):
            return np.ascontiguousarray(np.asarray(img.convert("RGBA"))[:, :, :3])
        if mode != "RGB":
            img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, 1, L, RGBX, ...
    except ValueError as exc:
        raise ValueError(f"{what} (mode {mode!r}) cannot be read as RGB: {exc}") from None
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _float_file_to_uint8(arr: np.ndarray) -> np.ndarray:
    """8-bit levels of a float (mode 'F') image by the rule in :func:`load_image`."""
    if not np.all(np.isfinite(arr)):
        raise ValueError("float image contains NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= 0 and hi <= 1:
        out = np.round(arr * 255)
    elif lo >= 0 and hi <= 255:
        out = np.round(arr)
    elif lo >= 0 and hi <= 65535:
        out = np.floor(arr / 256)
    elif hi > lo:
        out = np.round((arr - lo) * (255.0 / (hi - lo)))
    else:  # a constant image outside [0, 65535]
        out = np.zeros_like(arr)
    return np.clip(out, 0, 255).astype(np.uint8)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:  # uint16 in either byte order
        return (arr.astype(np.uint16) >> 8).astype(np.uint8)
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
    raise ValueError(f"unsupported image dtype {arr.dtype}; valid: uint8, uint16 (or other integers in "
                     "0..65535), bool, or float in [0, 1]")


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
