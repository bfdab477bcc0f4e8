"""Image preprocessing split the way PaddleX splits it: geometry (what is explained and drawn)
and normalisation (applied to every perturbed sample right before the network)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

__all__ = ["ImagePreprocess", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


@dataclass
class ImagePreprocess:
    """Resize by the short side (or to a fixed size), centre crop, then normalise.

    Parameters
    ----------
    resize_short : int or None, default 256
        Target length of the short side (aspect ratio kept); None keeps the size.
    resize_to : (height, width) or None, default None
        Resize to exactly this size instead (aspect ratio not kept); needs ``resize_short=None``.
    crop_size : int, (height, width) or None, default 224
        Centre crop; None keeps the resized image whole.
    mean, std : sequence of 3 floats, default ImageNet statistics
        Per-channel (RGB) normalisation applied after multiplying by ``scale``.
    scale : float, default 1/255
        Factor applied to uint8 pixels before ``mean``/``std`` (use 1.0 with 0-255 statistics).
    interpolation : str, default 'bilinear'
        One of nearest, bilinear, bicubic, area, lanczos (OpenCV semantics, as PaddleX/PaddleClas).
    channel_order : {'rgb', 'bgr'}, default 'rgb'
        Channel order the network takes. 'bgr' flips the channels before ``mean``/``std`` are
        applied (so they are given in the network's order, as PaddleClas configs with
        ``DecodeImage: to_rgb: False`` give them).
    normalize : callable or None, default None
        Replaces mean/std/scale: maps a uint8 batch ``(N, H, W, 3)`` to a float32 array
        ``(N, 3, H, W)`` (or any layout the network takes).
    """

    resize_short: Optional[int] = 256
    crop_size: Union[int, Tuple[int, int], None] = 224
    mean: Sequence[float] = IMAGENET_MEAN
    std: Sequence[float] = IMAGENET_STD
    scale: float = 1.0 / 255.0
    interpolation: str = "bilinear"
    normalize: Optional[Callable[[np.ndarray], np.ndarray]] = field(default=None, repr=False)
    # Newer fields go last so positional construction keeps working.
    resize_to: Optional[Tuple[int, int]] = None
    channel_order: str = "rgb"

    def __post_init__(self):
        if self.resize_short is not None and (
            not isinstance(self.resize_short, (int, np.integer)) or self.resize_short < 1
        ):
            raise ValueError(f"resize_short must be a positive int or None, got {self.resize_short!r}")
        if self.resize_to is not None:
            if self.resize_short is not None:
                raise ValueError("give either resize_short or resize_to, not both")
            size = tuple(int(v) for v in np.broadcast_to(np.asarray(self.resize_to), (2,)))
            if any(v < 1 for v in size):
                raise ValueError(f"resize_to must be a positive (height, width), got {self.resize_to!r}")
            self.resize_to = size
        if self.channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {self.channel_order!r}")
        if self.crop_size is not None:
            crop = (self.crop_size, self.crop_size) if np.isscalar(self.crop_size) else tuple(self.crop_size)
            if len(crop) != 2 or any(int(c) < 1 for c in crop):
                raise ValueError(f"crop_size must be a positive int or (height, width), got {self.crop_size!r}")
            self.crop_size = (int(crop[0]), int(crop[1]))
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {sorted(_INTERPOLATIONS)}, got {self.interpolation!r}"
            )
        if self.normalize is None:
            mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
            std = np.asarray(self.std, dtype=np.float32).reshape(-1)
            if mean.shape != (3,) or std.shape != (3,):
                raise ValueError(f"mean and std need 3 values (RGB), got {list(mean)} and {list(std)}")
            if np.any(std == 0):
                raise ValueError(f"std must be non-zero, got {list(std)}")
            self._mean, self._std = mean, std

    def geometry(self, image: np.ndarray) -> np.ndarray:
        """Resize and crop a uint8 RGB image: the image that is explained and drawn."""
        out = image
        if self.resize_short is not None:
            h, w = out.shape[:2]
            ratio = self.resize_short / min(h, w)
            new_w, new_h = max(1, int(round(w * ratio))), max(1, int(round(h * ratio)))
            if (new_h, new_w) != (h, w):
                out = cv2.resize(out, (new_w, new_h), interpolation=_INTERPOLATIONS[self.interpolation])
        elif self.resize_to is not None and tuple(out.shape[:2]) != self.resize_to:
            out = cv2.resize(out, self.resize_to[::-1], interpolation=_INTERPOLATIONS[self.interpolation])
        if self.crop_size is not None:
            ch, cw = self.crop_size
            h, w = out.shape[:2]
            if h < ch or w < cw:
                # Too small to crop (no resize configured): enlarge just enough, as a user would expect.
                ratio = max(ch / h, cw / w)
                out = cv2.resize(
                    out,
                    (max(cw, int(np.ceil(w * ratio))), max(ch, int(np.ceil(h * ratio)))),
                    interpolation=_INTERPOLATIONS[self.interpolation],
                )
                h, w = out.shape[:2]
            top, left = (h - ch) // 2, (w - cw) // 2
            out = out[top : top + ch, left : left + cw]
        return np.ascontiguousarray(out)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Normalise a uint8 batch ``(N, H, W, 3)`` into the network's float32 input."""
        if self.normalize is not None:
            return np.asarray(self.normalize(images), dtype=np.float32)
        x = images.astype(np.float32)
        if self.channel_order == "bgr":
            x = np.ascontiguousarray(x[..., ::-1])
        x *= np.float32(self.scale)
        x -= self._mean
        x /= self._std
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
