"""Superpixel segmentation (LIME, NormLIME and the prior builder), with a small per-image cache."""
from __future__ import annotations

import collections
import hashlib
import json
import threading
from typing import Any, Callable, Dict, Optional, Union

import numpy as np

__all__ = ["segment", "SEGMENTERS", "DEFAULT_SEGMENTATION_PARAMS"]

# PaddleX's LIME: quickshift with sigma=1 and scikit-image's other defaults.
DEFAULT_SEGMENTATION_PARAMS: Dict[str, Dict[str, Any]] = {
    "quickshift": {"kernel_size": 5, "max_dist": 10, "ratio": 1.0, "sigma": 1},
    "slic": {"n_segments": 100, "compactness": 10.0, "sigma": 1, "start_label": 0},
    "felzenszwalb": {"scale": 100, "sigma": 0.8, "min_size": 50},
}


def _quickshift(image, random_state, **params):
    from skimage.segmentation import quickshift

    return quickshift(image, rng=random_state, **params)


def _slic(image, random_state, **params):
    from skimage.segmentation import slic

    return slic(image, **params)


def _felzenszwalb(image, random_state, **params):
    from skimage.segmentation import felzenszwalb

    return felzenszwalb(image, **params)


SEGMENTERS: Dict[str, Callable] = {"quickshift": _quickshift, "slic": _slic, "felzenszwalb": _felzenszwalb}

_CACHE: "collections.OrderedDict[str, np.ndarray]" = collections.OrderedDict()
_CACHE_SIZE = 16
_CACHE_LOCK = threading.Lock()


def segment(
    image: np.ndarray,
    method: Union[str, Callable[[np.ndarray], np.ndarray]] = "quickshift",
    params: Optional[Dict[str, Any]] = None,
    random_state: int = 42,
) -> np.ndarray:
    """Segment a uint8 RGB image into superpixels labelled ``0..K-1`` (int32, shape ``(H, W)``).

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8
    method : {'quickshift', 'slic', 'felzenszwalb'} or callable, default 'quickshift'
        A callable receives the image and returns an integer label map of shape (H, W).
    params : dict, optional
        Overrides of :data:`DEFAULT_SEGMENTATION_PARAMS` for a named method (or keyword
        arguments for a callable).
    random_state : int, default 42
        Seed for the segmenters that draw random numbers (quickshift's tie-breaking noise).

    Results of named methods are cached per image content and parameters.
    """
    params = dict(params or {})
    if callable(method):
        labels = np.asarray(method(image, **params))
        return _relabel(labels, image.shape[:2], getattr(method, "__name__", "segmentation"))
    if method not in SEGMENTERS:
        raise ValueError(f"unknown segmentation {method!r}; choose one of {sorted(SEGMENTERS)} or pass a callable")
    full = {**DEFAULT_SEGMENTATION_PARAMS[method], **params}
    digest = hashlib.sha1(image.tobytes())
    digest.update(repr((image.shape, method, sorted(full.items()), random_state)).encode())
    key = digest.hexdigest()
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key].copy()
    try:
        labels = SEGMENTERS[method](image, random_state, **full)
    except TypeError as exc:
        raise ValueError(f"invalid segmentation_params for {method}: {json.dumps(params, default=str)} ({exc})") from exc
    labels = _relabel(labels, image.shape[:2], method)
    with _CACHE_LOCK:
        _CACHE[key] = labels
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return labels.copy()


def _relabel(labels: np.ndarray, shape, name: str) -> np.ndarray:
    if labels.shape != tuple(shape):
        raise ValueError(f"{name} returned a label map of shape {labels.shape}, expected {tuple(shape)}")
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(shape).astype(np.int32)
