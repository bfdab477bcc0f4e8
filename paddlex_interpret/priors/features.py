"""The prior's view of an image: stem features per superpixel and their nearest k-means cluster.

Geometry: the prior stem was trained on 224x224 inputs, as PaddleX always used (ResizeByShort 256
+ CenterCrop 224). When the explained image has another size, the stem runs on the image resized
(bilinear) to 224x224 and its feature map is resized back (bilinear) to the image's size, so the
superpixels (grid cells or quickshift segments) are always those of the explained image.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["load_prior", "superpixel_clusters", "grid_segments", "ClusterCache", "STEM_SIZE", "GRID_SIZE"]

STEM_SIZE = 224  # the prior stem's input size (PaddleX: always 224x224)
GRID_SIZE = 10   # PaddleX's global-weights segmentation: a fixed 10x10 grid


def load_prior(assets_dir=None, **ensure_kwargs):
    """``(stem, centres)`` from a prior asset folder (default: :func:`ensure_prior_assets`)."""
    from .download import KMEANS_FILE, ensure_prior_assets
    from .kmeans import load_cluster_centres
    from .stem import PriorStem

    folder = Path(assets_dir) if assets_dir is not None else Path(ensure_prior_assets(**ensure_kwargs))
    return PriorStem.from_assets(folder), load_cluster_centres(folder / KMEANS_FILE)


def _feature_map(stem, image: np.ndarray) -> np.ndarray:
    """Stem features ``(64, H, W)`` of ``image``, computed at 224x224 (see the module docstring)."""
    import cv2

    h, w = image.shape[:2]
    if (h, w) == (STEM_SIZE, STEM_SIZE):
        return stem.feature_map(image)
    small = cv2.resize(image, (STEM_SIZE, STEM_SIZE), interpolation=cv2.INTER_LINEAR)
    fmap = stem.feature_map(small)  # (C, 224, 224)
    back = cv2.resize(np.ascontiguousarray(fmap.transpose(1, 2, 0)), (w, h), interpolation=cv2.INTER_LINEAR)
    return back.reshape(h, w, -1).transpose(2, 0, 1)


def superpixel_clusters(stem, centres, image: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Nearest k-means cluster of each superpixel ``0..segments.max()`` -> int64 array."""
    from .kmeans import assign_clusters
    from .stem import superpixel_features

    seg = np.asarray(segments)
    n = int(seg.max()) + 1
    present = np.unique(seg)
    feats = superpixel_features(_feature_map(stem, image), seg)  # rows in increasing label order
    clusters = np.zeros(n, dtype=np.int64)
    clusters[present] = assign_clusters(feats, centres)
    return clusters


def grid_segments(shape, grid: int = GRID_SIZE) -> np.ndarray:
    """A ``grid x grid`` segmentation of an ``(H, W)`` image (id = row * grid + col)."""
    h, w = int(shape[0]), int(shape[1])
    rows = np.arange(h) * grid // h
    cols = np.arange(w) * grid // w
    return (rows[:, None] * grid + cols[None, :]).astype(np.int32)


class ClusterCache:
    """:func:`superpixel_clusters` that remembers its last (image, segments) pair."""

    def __init__(self, stem, centres):
        self.stem, self.centres = stem, np.asarray(centres, dtype=np.float64)
        self._key, self._value = None, None

    def __call__(self, image, segments) -> np.ndarray:
        h = hashlib.sha1(np.ascontiguousarray(image).tobytes())
        h.update(np.ascontiguousarray(segments).tobytes())
        h.update(repr((image.shape, segments.shape)).encode())
        key = h.hexdigest()
        if key != self._key:
            self._key, self._value = key, superpixel_clusters(self.stem, self.centres, image, segments)
        return self._value
