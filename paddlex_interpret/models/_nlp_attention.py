"""What the PaddleNLP attention captures (:mod:`.text_attention`, :mod:`.clip_attention`) share around one
forward with ``output_attentions=True``: PaddleNLP sets ``need_weights`` on every
``paddle.nn.MultiHeadAttention`` when asked for the maps, so the flags are saved before and restored
after, with the forward hooks removed; and the gradients of ``paddle.grad(..., allow_unused=True)``
as numpy, zeros where a map was not used.
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np

__all__ = ["need_weights_flags", "release", "dense_gradients"]


def need_weights_flags(model) -> list:
    """``[(layer, need_weights)]`` of every ``paddle.nn.MultiHeadAttention`` in ``model`` (itself included)."""
    import paddle

    return [(layer, layer.need_weights) for layer in model.sublayers(include_self=True)
            if isinstance(layer, paddle.nn.MultiHeadAttention)]


def release(handles: Sequence, flags: Sequence) -> None:
    """Remove the hooks ``handles`` and restore the ``flags`` of :func:`need_weights_flags` (in ``finally``)."""
    for handle in handles:
        handle.remove()
    for layer, flag in flags:
        layer.need_weights = flag


def dense_gradients(tensors: Sequence, grads: Sequence) -> List[np.ndarray]:
    """``grads`` (from ``paddle.grad(..., tensors, allow_unused=True)``) as numpy; float32 zeros of the
    tensor's shape where the gradient is None."""
    return [np.zeros(tuple(a.shape), np.float32) if g is None else g.numpy() for a, g in zip(tensors, grads)]
