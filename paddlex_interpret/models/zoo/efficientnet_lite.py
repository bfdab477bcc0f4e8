"""EfficientNet-Lite0 (Tan & Le 2019, the 'lite' variant: ReLU6, no squeeze-excitation,
fixed 32-channel stem and 1280-channel head) as a Paddle layer.

Sublayer names follow the widely used ``_conv_stem`` / ``_blocks.N`` layout so published
state dicts map one-to-one. Convolutions use TensorFlow 'SAME' padding, as the weights expect.
"""
from __future__ import annotations

import paddle
from paddle import nn

__all__ = ["EfficientNetLite0", "LITE0_STAGES"]

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

_BN = dict(momentum=0.99, epsilon=1e-3)


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


class EfficientNetLite0(nn.Layer):
    """EfficientNet-Lite0 returning logits; input 224x224 normalised as ``(x - 127) / 128``."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        self._conv_stem = _conv(3, 32, 3, stride=2)
        self._bn0 = nn.BatchNorm2D(32, **_BN)
        blocks = []
        for kernel, stride, expand, cin, cout, repeats in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(kernel, stride if i == 0 else 1, expand, cin if i == 0 else cout, cout))
        self._blocks = nn.LayerList(blocks)
        self._conv_head = _conv(320, 1280, 1)
        self._bn1 = nn.BatchNorm2D(1280, **_BN)
        self.act = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2D(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x):
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        x = paddle.flatten(self._avg_pooling(x), start_axis=1)
        return self._fc(self._dropout(x))
