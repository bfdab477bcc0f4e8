"""How LRP sees standard Paddle layers: each linear layer as a bias-free map plus a bias, and
batch norm folded into the convolution (or linear layer) that feeds it.

Nothing here touches the user's model: weights are read, detached, and any folded or sign-split
copy is a new tensor that lives only for one attribution call.
"""
from __future__ import annotations

import functools
from typing import Callable, Dict, List, Optional, Set, Tuple

import paddle
import paddle.nn.functional as F
from paddle import nn

__all__ = ["LinearView", "layer_kind", "view_of", "fused_view", "find_fusions", "ELEMENTWISE_ACTIVATIONS"]

_CONVS = {nn.Conv1D: F.conv1d, nn.Conv2D: F.conv2d, nn.Conv3D: F.conv3d}
_AVG_POOLS = tuple(getattr(nn, n) for n in ("AvgPool1D", "AvgPool2D", "AvgPool3D", "AdaptiveAvgPool1D",
                                            "AdaptiveAvgPool2D", "AdaptiveAvgPool3D") if hasattr(nn, n))
_MAX_POOLS = tuple(getattr(nn, n) for n in ("MaxPool1D", "MaxPool2D", "MaxPool3D", "AdaptiveMaxPool1D",
                                            "AdaptiveMaxPool2D", "AdaptiveMaxPool3D") if hasattr(nn, n))
# Element-wise activations other than ReLU: LRP passes relevance through them unchanged (R_in = R_out).
# ReLU needs no hook: its own gradient already does that (z * 1[z > 0] * g = relu(z) * g).
ELEMENTWISE_ACTIVATIONS = tuple(getattr(nn, n) for n in (
    "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "GELU", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid",
    "Hardtanh", "Swish", "Silu", "Mish", "Softplus", "Softsign", "PReLU", "RReLU", "ThresholdedReLU",
    "LogSigmoid", "Tanhshrink", "Softshrink", "Hardshrink") if hasattr(nn, n))

_CHANNEL_LAST = ("NHWC", "NLC", "NDHWC")


def layer_kind(layer) -> Optional[str]:
    """'linear' (Conv1D/2D/3D, Linear), 'batchnorm' (inference-statistics batch norm), 'avgpool',
    'maxpool', 'activation' (element-wise, not ReLU) or None (left to its own gradient)."""
    if isinstance(layer, tuple(_CONVS) + (nn.Linear,)):
        return "linear"
    if _is_affine_batchnorm(layer):
        return "batchnorm"
    if isinstance(layer, _AVG_POOLS):
        return "avgpool"
    if isinstance(layer, _MAX_POOLS):
        return "maxpool"
    if isinstance(layer, ELEMENTWISE_ACTIVATIONS):
        return "activation"
    return None


def _is_affine_batchnorm(layer) -> bool:
    """Batch norm that is a fixed per-channel affine map in eval mode (running statistics)."""
    base = getattr(nn.layer.norm, "_BatchNormBase", None)
    if base is not None and isinstance(layer, base):
        return getattr(layer, "_use_global_stats", None) is not False
    if isinstance(layer, nn.BatchNorm):  # legacy API: affine in eval unless it fuses an activation
        return getattr(layer, "_act", None) in (None, "", "identity")
    return False


class LinearView:
    """A layer's map ``z = linear(x) + bias`` with the weight replaceable by its positive or
    negative part (``part`` = None, 'pos' or 'neg').

    ``fn(x, weight)`` is the bias-free map with a given weight; ``weight`` None marks a map
    without weights whose coefficients are all positive (average pooling): its 'neg' part is zero
    and :meth:`apply` then returns None.
    """

    def __init__(self, fn: Callable, weight: Optional[paddle.Tensor], bias: Optional[paddle.Tensor],
                 channel_axis: int):
        self.fn = fn
        self.channel_axis = channel_axis
        self.weights = {None: weight}
        if weight is not None:
            self.weights["pos"] = weight.clip(min=0)
            self.weights["neg"] = weight.clip(max=0)
        self.bias = bias

    def apply(self, x: paddle.Tensor, part: Optional[str] = None) -> Optional[paddle.Tensor]:
        if self.weights[None] is None:
            return None if part == "neg" else self.fn(x, None)
        return self.fn(x, self.weights[part])

    def bias_like(self, z: paddle.Tensor) -> Optional[paddle.Tensor]:
        """The bias broadcast against the output ``z`` (None when there is none)."""
        if self.bias is None:
            return None
        shape = [1] * z.ndim
        shape[self.channel_axis] = -1
        return self.bias.reshape(shape)


def _channel_axis(data_format: Optional[str]) -> int:
    return -1 if data_format in _CHANNEL_LAST else 1


def _detached(t):
    return None if t is None else t.detach()


def _conv_fn(layer, x, weight):
    functional = next(f for c, f in _CONVS.items() if isinstance(layer, c))
    padding = layer._padding
    if layer._padding_mode != "zeros":
        x = F.pad(x, layer._reversed_padding_repeated_twice, mode=layer._padding_mode,
                  data_format=layer._data_format)
        padding = 0
    return functional(x, weight, bias=None, stride=layer._stride, padding=padding, dilation=layer._dilation,
                      groups=layer._groups, data_format=layer._data_format)


def _linear_fn(x, weight):
    return F.linear(x, weight)


def _scale_fn(x, weight):
    return x * weight


def _bn_affine(bn) -> Tuple[paddle.Tensor, paddle.Tensor, int]:
    """``(scale, shift, channel_axis)`` of an inference-mode batch norm: ``y = x * scale + shift``."""
    mean, var = bn._mean.detach(), bn._variance.detach()
    scale = 1.0 / paddle.sqrt(var + float(bn._epsilon))
    if getattr(bn, "weight", None) is not None:
        scale = scale * bn.weight.detach()
    shift = -mean * scale
    if getattr(bn, "bias", None) is not None:
        shift = shift + bn.bias.detach()
    return scale, shift, _bn_affine_axis(bn)


def _bn_affine_axis(bn) -> int:
    return _channel_axis(getattr(bn, "_data_format", None) or getattr(bn, "_data_layout", None))


def view_of(layer, kind: str) -> LinearView:
    """The :class:`LinearView` of one layer on its own ('linear', 'batchnorm' or 'avgpool')."""
    if kind == "avgpool":
        return LinearView(lambda x, _w: layer.forward(x), None, None, 1)
    if kind == "batchnorm":
        scale, shift, axis = _bn_affine(layer)
        return _BNView(scale, shift, axis)
    if isinstance(layer, nn.Linear):
        return LinearView(_linear_fn, layer.weight.detach(), _detached(layer.bias), -1)
    return LinearView(functools.partial(_conv_fn, layer), layer.weight.detach(), _detached(layer.bias),
                      _channel_axis(layer._data_format))


class _BNView(LinearView):
    """Batch norm alone: a diagonal map whose per-channel weight is reshaped to each input."""

    def __init__(self, scale, shift, channel_axis):
        super().__init__(_scale_fn, scale, shift, channel_axis)

    def apply(self, x, part=None):
        shape = [1] * x.ndim
        shape[self.channel_axis] = -1
        return x * self.weights[part].reshape(shape)


def fused_view(layer, bn) -> LinearView:
    """Convolution (or Linear) followed by batch norm as one layer: ``W' = W * s``, ``b' = b * s + t``
    with the batch norm's ``y = x * s + t``. New tensors only; the model keeps its weights."""
    scale, shift, _ = _bn_affine(bn)
    weight = layer.weight.detach()
    bias = shift if layer.bias is None else layer.bias.detach() * scale + shift
    if isinstance(layer, nn.Linear):  # paddle's Linear weight is (in, out)
        return LinearView(_linear_fn, weight * scale.reshape([1, -1]), bias, -1)
    folded = weight * scale.reshape([-1] + [1] * (weight.ndim - 1))  # conv weight is (out, in/groups, k...)
    return LinearView(functools.partial(_conv_fn, layer), folded, bias, _channel_axis(layer._data_format))


def _foldable(layer, bn, out_ndim: int) -> bool:
    """Whether ``bn`` normalises the channels that ``layer`` outputs."""
    bn_axis = _bn_affine_axis(bn)
    if isinstance(layer, nn.Linear):
        return out_ndim == 2  # (N, C): the features are the channels
    return _channel_axis(layer._data_format) % out_ndim == bn_axis % out_ndim


def find_fusions(calls: List[Tuple[object, str, int, int, int]]) -> Set[int]:
    """Ids of the linear layers whose output, at every call, goes straight into a batch norm
    over its channels (the pair is then folded into one layer).

    ``calls`` lists ``(layer, kind, id(input), id(output), output.ndim)`` per hooked layer call
    of one traced forward pass (tensors kept alive meanwhile, so ids are unique).
    """
    producers = {out: (layer, ndim) for layer, kind, _inp, out, ndim in calls if kind == "linear"}
    folded_outputs = set()
    for bn, kind, inp, _out, _ndim in calls:
        if kind == "batchnorm" and inp in producers and _foldable(producers[inp][0], bn, producers[inp][1]):
            folded_outputs.add(inp)
    outputs_of: Dict[int, List[int]] = {}
    for layer, kind, _inp, out, _ndim in calls:
        if kind == "linear":
            outputs_of.setdefault(id(layer), []).append(out)
    return {lid for lid, outs in outputs_of.items() if all(o in folded_outputs for o in outs)}
