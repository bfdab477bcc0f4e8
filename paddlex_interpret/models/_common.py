"""The smallest shared pieces of the model layer (the error for black-box models, eval mode, the
class scores of an output), kept below :mod:`.base` so that the capture modules it reaches lazily
(:mod:`.attention`, :mod:`.text_attention`, :mod:`.clip_attention`) can use them without an import
cycle. :mod:`.base` re-exports them; import them from there."""
from __future__ import annotations

import contextlib

__all__ = ["GradientsUnavailableError", "eval_mode", "first_output"]


class GradientsUnavailableError(TypeError):
    """The model is black-box (e.g. an exported static model); the method needs gradients or layers."""


@contextlib.contextmanager
def eval_mode(layer):
    """Put a ``paddle.nn.Layer`` in eval mode and restore every sublayer's own train/eval flag on exit."""
    saved = [(sub, sub.training) for sub in layer.sublayers(include_self=True)]
    layer.eval()
    try:
        yield layer
    finally:
        for sub, training in saved:
            sub.training = training


def first_output(out):
    """The class scores of a model's output: a tensor as is; a dict's ``'logits'``/``'output'``/``'out'``
    entry (else its first value); an output object's ``.logits``; a tuple's or list's first item."""
    if isinstance(out, dict):
        for key in ("logits", "output", "out"):
            if key in out:
                return out[key]
        return next(iter(out.values()))
    if getattr(out, "logits", None) is not None:
        return out.logits
    if isinstance(out, (list, tuple)):
        return out[0]
    return out
