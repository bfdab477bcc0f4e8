"""Correct input gradients through ``paddle.nn.LayerNorm`` on Paddle 3.3's CPU kernel.

Paddle 3.3.1's CPU ``layer_norm`` returns a wrong gradient w.r.t. its input whenever the scale is
not 1, i.e. for every trained LayerNorm (21% relative error on one LayerNorm(8) with scales in
[0.5, 2]; 2-7% per layer on a trained ERNIE, which left Integrated Gradients 4% short of
completeness at any number of steps; 45% on the attention gradient of a two-block ViT). While the
hooks of :func:`exact_layer_norm_hooks` are in place every LayerNorm's output is recomputed from
elementary ops: the same values up to float32 rounding, a correct backward pass. Every gradient
path of the adapters (image networks, PaddleNLP models, attention capture) runs under them.
"""
from __future__ import annotations

import contextlib

__all__ = ["exact_layer_norm_hooks", "exact_layer_norm"]


def _elementary_layer_norm(x, layer):
    """``layer``'s LayerNorm of ``x`` from mean, variance, scale and shift."""
    import paddle

    axes = list(range(x.ndim - len(layer._normalized_shape), x.ndim))
    centred = x - x.mean(axis=axes, keepdim=True)
    out = centred / paddle.sqrt((centred * centred).mean(axis=axes, keepdim=True) + layer._epsilon)
    if layer.weight is not None:
        out = out * layer.weight
    if layer.bias is not None:
        out = out + layer.bias
    return out


def exact_layer_norm_hooks(network) -> list:
    """Forward post-hooks on every ``paddle.nn.LayerNorm`` of ``network`` that replace its output by
    :func:`_elementary_layer_norm`; the caller removes them (``handle.remove()``)."""
    import paddle

    return [layer.register_forward_post_hook(lambda lyr, inputs, _output: _elementary_layer_norm(inputs[0], lyr))
            for layer in network.sublayers(include_self=True)
            if isinstance(layer, paddle.nn.LayerNorm) and hasattr(layer, "_normalized_shape")]


@contextlib.contextmanager
def exact_layer_norm(network):
    """Within the block ``network``'s LayerNorms have correct input gradients; hooks removed after."""
    handles = exact_layer_norm_hooks(network)
    try:
        yield network
    finally:
        for handle in handles:
            handle.remove()
