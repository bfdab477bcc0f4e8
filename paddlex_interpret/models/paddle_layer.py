"""Adapter for a plain ``paddle.nn.Layer`` image classifier with explicit preprocessing."""
from __future__ import annotations

import contextlib
from typing import Optional, Sequence

import numpy as np
import paddle

from ..data import ImagePreprocess
from .base import Classifier, _validate_labels

__all__ = ["PaddleLayerClassifier", "softmax", "eval_mode"]

_OUTPUT_KINDS = ("auto", "logits", "probabilities")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    z = logits - logits.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


@contextlib.contextmanager
def eval_mode(layer: paddle.nn.Layer):
    """Put ``layer`` in eval mode and restore every sublayer's own train/eval flag on exit."""
    saved = [(sub, sub.training) for sub in layer.sublayers(include_self=True)]
    layer.eval()
    try:
        yield layer
    finally:
        for sub, training in saved:
            sub.training = training


class LabelCountError(ValueError):
    """The number of label names differs from the network's number of outputs."""


def _first_output(out):
    if isinstance(out, dict):
        for key in ("logits", "output", "out"):
            if key in out:
                return out[key]
        return next(iter(out.values()))
    if isinstance(out, (list, tuple)):
        return out[0]
    if hasattr(out, "logits"):
        return out.logits
    return out


class PaddleLayerClassifier(Classifier):
    """A ``paddle.nn.Layer`` that maps normalised ``(N, 3, H, W)`` images to class scores.

    Parameters
    ----------
    network : paddle.nn.Layer
        The model. Its train/eval flags are restored after every call.
    preprocess : ImagePreprocess, optional
        Default: resize short side 256, centre crop 224, ImageNet mean/std on 0-1 pixels.
    labels : sequence of str, optional
        Class names, index-aligned with the network's outputs.
    output : {'auto', 'logits', 'probabilities'}, default 'auto'
        What the network returns. 'auto' treats outputs as probabilities when every row of the
        first batch is non-negative and sums to 1 (softmax is then not applied again).
    """

    def __init__(
        self,
        network: paddle.nn.Layer,
        preprocess: Optional[ImagePreprocess] = None,
        labels: Optional[Sequence[str]] = None,
        output: str = "auto",
    ):
        if not isinstance(network, paddle.nn.Layer):
            raise TypeError(f"network must be a paddle.nn.Layer, got {type(network).__name__}")
        if output not in _OUTPUT_KINDS:
            raise ValueError(f"output must be one of {_OUTPUT_KINDS}, got {output!r}")
        if preprocess is not None and not isinstance(preprocess, ImagePreprocess):
            raise TypeError(
                f"preprocess must be a paddlex_interpret.data.ImagePreprocess, got {type(preprocess).__name__}"
            )
        self.network = network
        self.preprocess = preprocess if preprocess is not None else ImagePreprocess()
        self.labels = _validate_labels(labels)
        self._output = output
        self._num_classes: Optional[int] = None

    def __repr__(self):
        return f"PaddleLayerClassifier({type(self.network).__name__}, classes={self.num_classes})"

    @property
    def outputs_probabilities(self) -> bool:
        if self._output == "auto":
            self.num_classes  # runs one forward and settles the output kind
        return self._output == "probabilities"

    @property
    def num_classes(self) -> int:
        if self._num_classes is None:
            # Probe with a black image of the crop size (224x224 when there is no crop).
            size = self.preprocess.crop_size or (224, 224)
            try:
                self._raw_scores(np.zeros((1, size[0], size[1], 3), dtype=np.uint8))
            except LabelCountError:
                raise
            except Exception as exc:
                if self.labels is not None:  # checked against the real output at the first prediction
                    return len(self.labels)
                raise ValueError(
                    f"could not find the number of classes by running the network on a {size[0]}x{size[1]} "
                    f"image ({exc}); give labels=... or a preprocess with the network's crop_size"
                ) from exc
        return self._num_classes

    def forward(self, inputs: paddle.Tensor) -> paddle.Tensor:
        """Differentiable forward on a normalised batch; returns the network's (first) output.

        The caller decides the mode; use :func:`eval_mode` to run it as in inference.
        """
        return _first_output(self.network(inputs))

    def eval_context(self):
        return eval_mode(self.network)

    def named_layers(self) -> dict:
        return dict(self.network.named_sublayers())

    def _raw_scores(self, images: np.ndarray) -> np.ndarray:
        if not paddle.in_dynamic_mode():
            raise RuntimeError(
                "paddle is in static-graph mode; call paddle.disable_static() before explaining a dygraph model"
            )
        x = paddle.to_tensor(self.preprocess(images))
        with paddle.no_grad(), eval_mode(self.network):
            out = _first_output(self.network(x))
        scores = np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] != len(images):
            raise ValueError(
                f"the network must return scores of shape (batch, classes); got {tuple(scores.shape)}"
            )
        if self._num_classes is None:
            if self.labels is not None and len(self.labels) != scores.shape[1]:
                raise LabelCountError(
                    f"labels has {len(self.labels)} names but the network outputs {scores.shape[1]} classes"
                )
            self._num_classes = scores.shape[1]
        if self._output == "auto":
            is_prob = bool(np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3))
            self._output = "probabilities" if is_prob else "logits"
        return scores

    def predict_proba(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"predict_proba takes a uint8 batch (N, H, W, 3); got {images.dtype} {images.shape}"
            )
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        chunks = [self._raw_scores(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        scores = np.concatenate(chunks, axis=0)
        return scores if self._output == "probabilities" else softmax(scores)
