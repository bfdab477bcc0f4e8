"""The NormLIME feature extractor: the three stem convolutions of ResNet50_vc, and the
per-superpixel 128-d features that are clustered with the prior k-means model.

``PriorStem`` = three 3x3 convolutions (3->32 stride 2, 32->32, 32->64; padding 1, no bias), each
followed by BatchNorm with its stored inference statistics (epsilon 1e-5) and ReLU. Input: uint8
RGB (224x224 in NormLIME), scaled by 1/255 and normalised with the ImageNet mean/std. The
64x112x112 output is upsampled bilinearly (``align_corners=True``) back to the input size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F

from .download import PARAM_SHAPES, ensure_prior_assets
from .legacy_tensor import read_lod_tensor

__all__ = ["PriorStem", "superpixel_features", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_LAYERS = (("1", 3, 32, 2), ("2", 32, 32, 1), ("3", 32, 64, 1))
# legacy file suffix -> (sub-layer, parameter attribute)
_BN_PARAMS = {"scale": "weight", "offset": "bias", "mean": "_mean", "variance": "_variance"}


class _ConvBNReLU(paddle.nn.Layer):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv = paddle.nn.Conv2D(cin, cout, 3, stride=stride, padding=1, bias_attr=False)
        self.bn = paddle.nn.BatchNorm2D(cout, epsilon=1e-5, use_global_stats=True)

    def forward(self, x):
        bn = self.bn  # always the stored inference statistics, never updated (even after .train())
        x = F.batch_norm(self.conv(x), bn._mean, bn._variance, weight=bn.weight, bias=bn.bias,
                         training=False, epsilon=bn._epsilon, use_global_stats=True)
        return F.relu(x)


class PriorStem(paddle.nn.Layer):
    """ResNet50_vc's stem with NormLIME's prior weights (``conv1_1``..``conv1_3``)."""

    def __init__(self):
        super().__init__()
        for idx, cin, cout, stride in _LAYERS:
            setattr(self, f"conv1_{idx}", _ConvBNReLU(cin, cout, stride))
        self.eval()

    @classmethod
    def from_assets(cls, folder=None, **ensure_kwargs) -> "PriorStem":
        """Build the stem from an asset folder; by default the one :func:`ensure_prior_assets`
        returns (``ensure_kwargs`` are passed to it)."""
        if folder is None:
            folder = ensure_prior_assets(**ensure_kwargs)
        return cls().load_assets(folder)

    def _param(self, file_name: str):
        _, _, rest = file_name.partition("for_kmeans_")
        kind, idx, leaf = rest.split("_")[0], rest.split("_")[1], rest.split("_", 2)[2]
        block = getattr(self, f"conv1_{idx}")
        if kind == "conv1":
            return block.conv.weight
        return getattr(block.bn, _BN_PARAMS[leaf])

    def load_assets(self, folder) -> "PriorStem":
        """Load the 15 ``for_kmeans_*`` legacy parameter files from ``folder``."""
        folder = Path(folder)
        for name, shape in PARAM_SHAPES.items():
            value = read_lod_tensor(folder / name)
            if tuple(value.shape) != shape:
                raise ValueError(f"'{folder / name}' has shape {value.shape}, expected {shape}")
            self._param(name).set_value(np.ascontiguousarray(value, dtype=np.float32))
        return self

    def forward(self, x):
        """``x``: normalised float NCHW -> raw stem output (N, 64, H/2, W/2)."""
        return self.conv1_3(self.conv1_2(self.conv1_1(x)))

    @staticmethod
    def preprocess(images) -> paddle.Tensor:
        """uint8 RGB ``(H, W, 3)`` or ``(N, H, W, 3)`` (values 0..255) -> normalised NCHW float32."""
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"expected RGB images (H, W, 3) or (N, H, W, 3), got shape {x.shape}")
        mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)
        std = np.asarray(IMAGENET_STD, dtype=np.float32)
        x = (x.astype(np.float32) / 255.0 - mean) / std
        return paddle.to_tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    def feature_map(self, images) -> np.ndarray:
        """Stem features upsampled to the input size: ``(64, H, W)`` for one image,
        ``(N, 64, H, W)`` for a batch."""
        single = np.asarray(images).ndim == 3
        x = self.preprocess(images)
        with paddle.no_grad():
            out = self.forward(x)
            out = F.interpolate(out, size=x.shape[2:], mode="bilinear", align_corners=True)
        out = out.numpy()
        return out[0] if single else out


def superpixel_features(stem_output, segments) -> np.ndarray:
    """Per-superpixel 128-d features for the k-means prior.

    For each superpixel (in increasing label order): the stem feature at its centroid
    (``skimage.measure.regionprops``, rounded half up, as PaddleX does) concatenated with the mean
    stem feature over its pixels, then each row L2-normalised (an all-zero row stays zero).

    Parameters
    ----------
    stem_output : array (C, H, W)  -- :meth:`PriorStem.feature_map` of one image (C = 64)
    segments : int array (H, W)    -- superpixel labels (any integers)
    """
    from skimage.measure import regionprops

    fmap = np.asarray(stem_output, dtype=np.float64)
    seg = np.asarray(segments)
    if fmap.ndim != 3 or seg.shape != fmap.shape[1:]:
        raise ValueError(f"stem_output (C, H, W) {fmap.shape} and segments (H, W) {seg.shape} do not match")
    _, inverse = np.unique(seg, return_inverse=True)
    labels = inverse.reshape(seg.shape).astype(np.int64) + 1  # 1..n (regionprops ignores 0)
    n = int(labels.max())
    channels, height, width = fmap.shape
    flat = fmap.reshape(channels, -1)
    index = labels.ravel() - 1
    counts = np.bincount(index, minlength=n).astype(np.float64)
    means = np.stack([np.bincount(index, weights=flat[c], minlength=n) for c in range(channels)], axis=1)
    means /= counts[:, None]
    centre_feats = np.empty((n, channels), dtype=np.float64)
    for region in regionprops(labels):
        r = min(max(int(np.floor(region.centroid[0] + 0.5)), 0), height - 1)
        c = min(max(int(np.floor(region.centroid[1] + 0.5)), 0), width - 1)
        centre_feats[region.label - 1] = fmap[:, r, c]
    x = np.concatenate([centre_feats, means], axis=1)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)
