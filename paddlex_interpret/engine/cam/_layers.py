"""Choosing and checking the layer a CAM method reads, and upsampling its maps to the input."""
from __future__ import annotations

import contextlib
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F

from ...models.base import Classifier
from .._hooks import find_layer

__all__ = ["default_target_layer", "resolve_target_layer", "single_capture", "upsample", "record_consumers",
           "following_activation", "ELEMENTWISE_ACTIVATIONS"]

#: Activation modules applied value by value (same shape in and out): the ones Score-CAM applies to
#: a layer's output when that output goes into one of them next.
ELEMENTWISE_ACTIVATIONS = tuple(
    getattr(paddle.nn, name) for name in (
        "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "CELU", "SELU", "GELU", "Silu", "Swish", "Mish",
        "Hardswish", "Hardsigmoid", "Hardtanh", "Sigmoid", "Tanh", "Softplus", "ThresholdedReLU",
    ) if hasattr(paddle.nn, name)
)


def _image_hw(image_shape: Sequence[int]) -> Tuple[int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 4:  # a uint8 batch (N, H, W, 3)
        shape = shape[1:]
    if len(shape) not in (2, 3) or min(shape[:2]) < 1:
        raise ValueError(f"image_shape must be (H, W), (H, W, 3) or (N, H, W, 3); got {image_shape!r}")
    return shape[0], shape[1]


def default_target_layer(classifier: Classifier, image_shape: Sequence[int]) -> str:
    """Name of the layer a CAM method reads when none is given.

    One forward pass on a black image of ``image_shape`` (the image as explained: ``(H, W)``,
    ``(H, W, 3)`` or a batch shape) runs with a temporary post-hook on every sublayer; the hooks
    are removed afterwards, also on error. The answer is the last layer, in the order the layers
    finish, whose output is a 4-D ``(N, C, h, w)`` tensor with ``h, w > 1`` and that is called
    exactly once in the forward. Modules called several times (a shared activation applied after
    several convolutions) are skipped: their captured output would be ambiguous.

    For EfficientNet-Lite0 (the demo model) this is ``'_bn1'``, the 1280-channel 7x7 head before
    its (shared) ReLU6; for a ``Sequential`` feature extractor it is the ``Sequential`` itself.
    """
    h, w = _image_hw(image_shape)
    layers: Dict[str, paddle.nn.Layer] = classifier.named_layers()
    calls: Dict[str, int] = {}
    order: List[Tuple[str, Optional[tuple]]] = []

    def make_hook(name):
        def hook(_layer, _inputs, output):
            calls[name] = calls.get(name, 0) + 1
            out = output[0] if isinstance(output, (tuple, list)) and len(output) else output
            shape = tuple(out.shape) if isinstance(out, paddle.Tensor) else None
            order.append((name, shape))

        return hook

    x = paddle.to_tensor(classifier.preprocess(np.zeros((1, h, w, 3), dtype=np.uint8)))
    handles = []
    try:
        for name, layer in layers.items():
            handles.append(layer.register_forward_post_hook(make_hook(name)))
        with paddle.no_grad(), classifier.eval_context():
            classifier.forward(x)
    finally:
        for handle in handles:
            handle.remove()

    for name, shape in reversed(order):
        if calls[name] == 1 and shape is not None and len(shape) == 4 and shape[2] > 1 and shape[3] > 1:
            return name
    raise ValueError(
        f"{type(classifier).__name__} has no sublayer called once with a 4-D (N, C, h, w) output "
        "(h, w > 1) for a CAM; pass target_layer= explicitly "
        f"(layers: {', '.join(list(layers)[-30:]) or 'none'})"
    )


def resolve_target_layer(classifier: Classifier, target_layer: Optional[str], image_shape: Sequence[int],
                         cache: Optional[dict] = None) -> Tuple[str, paddle.nn.Layer]:
    """``(name, layer)`` of the given layer name (checked with a helpful error) or the default one."""
    layers = classifier.named_layers()
    if target_layer is None:
        key = _image_hw(image_shape)
        if cache is not None and key in cache:
            name = cache[key]
        else:
            name = default_target_layer(classifier, image_shape)
            if cache is not None:
                cache[key] = name
    else:
        if not isinstance(target_layer, str):
            raise TypeError(f"target_layer must be a layer name (str) or None, got {type(target_layer).__name__}")
        name = target_layer
    return name, find_layer(layers, name)


def single_capture(captured: list, name: str) -> paddle.Tensor:
    """The one 4-D tensor a hook captured during a forward, or a clear error."""
    if len(captured) == 0:
        raise ValueError(f"target layer {name!r} was not called in the forward pass; choose another layer")
    if len(captured) > 1:
        raise ValueError(
            f"target layer {name!r} was called {len(captured)} times in one forward pass (a shared module); "
            "choose a layer that is called once"
        )
    out = captured[0]
    if not isinstance(out, paddle.Tensor) or out.ndim != 4:
        shape = tuple(out.shape) if isinstance(out, paddle.Tensor) else type(out).__name__
        raise ValueError(f"target layer {name!r} must output a 4-D (N, C, h, w) tensor, got {shape}")
    return out


def upsample(maps: paddle.Tensor, size: Tuple[int, int]) -> paddle.Tensor:
    """Bilinear resize (half-pixel centres, as OpenCV) of ``(N, K, h, w)`` maps to ``size``."""
    if tuple(maps.shape[2:]) == tuple(size):
        return maps
    return F.interpolate(maps, size=list(size), mode="bilinear", align_corners=False)


@contextlib.contextmanager
def record_consumers(named_layers: Dict[str, paddle.nn.Layer],
                     captured: list) -> Iterator[List[Tuple[str, paddle.nn.Layer]]]:
    """Yield a list that receives ``(name, layer)`` of every sublayer called, during a forward, with
    the tensor ``captured[0]`` (a :func:`capture_output` list) as one of its inputs. Temporary
    pre-hooks on every sublayer; all removed on exit, also on error."""
    consumers: List[Tuple[str, paddle.nn.Layer]] = []

    def make_hook(name, layer):
        def hook(_layer, inputs):
            if captured and any(item is captured[0] for item in inputs):
                consumers.append((name, layer))

        return hook

    handles = []
    try:
        for name, layer in named_layers.items():
            handles.append(layer.register_forward_pre_hook(make_hook(name, layer)))
        yield consumers
    finally:
        for handle in handles:
            handle.remove()


def following_activation(consumers: List[Tuple[str, paddle.nn.Layer]]) -> Optional[Tuple[str, paddle.nn.Layer]]:
    """The element-wise activation module that is the only module fed the layer's output, or None
    (several consumers, another kind of layer, or a functional activation the hooks cannot see)."""
    if len(consumers) == 1 and isinstance(consumers[0][1], ELEMENTWISE_ACTIVATIONS):
        return consumers[0]
    return None
