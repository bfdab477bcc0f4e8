"""Model adapters: turn a user's model object into a :class:`Classifier`."""
from __future__ import annotations

from .base import Classifier
from .paddle_layer import PaddleLayerClassifier, eval_mode

__all__ = ["Classifier", "PaddleLayerClassifier", "as_classifier", "eval_mode"]


def as_classifier(model, **overrides) -> Classifier:
    """Wrap ``model`` in the matching adapter.

    Parameters
    ----------
    model : Classifier or paddle.nn.Layer
        A Classifier is returned as is (``overrides`` must then be empty); a ``paddle.nn.Layer``
        becomes a :class:`PaddleLayerClassifier`.
    **overrides
        Adapter arguments such as ``preprocess``, ``labels`` or ``output``.
    """
    if isinstance(model, Classifier):
        if overrides:
            raise TypeError(
                f"model is already a Classifier; overrides {sorted(overrides)} cannot be applied to it"
            )
        return model
    import paddle

    if isinstance(model, paddle.nn.Layer):
        unknown = set(overrides) - {"preprocess", "labels", "output"}
        if unknown:
            raise TypeError(
                f"unknown overrides {sorted(unknown)} for a paddle.nn.Layer; valid: labels, output, preprocess"
            )
        return PaddleLayerClassifier(model, **overrides)
    raise TypeError(
        f"cannot explain a {type(model).__module__}.{type(model).__name__}: expected a "
        "paddlex_interpret Classifier or a paddle.nn.Layer image classifier"
    )
