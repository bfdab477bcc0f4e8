"""Adapter for a plain ``paddle.nn.Layer`` image classifier with explicit preprocessing."""
from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import warnings
from typing import Optional, Sequence

import numpy as np
import paddle

from ..data import ImagePreprocess
from .base import ScoringClassifier, _validate_labels, eval_mode, first_output
from .layer_norm import exact_layer_norm

__all__ = ["PaddleLayerClassifier"]

_RUNNERS = ("auto", "dygraph", "inference")


class PaddleLayerClassifier(ScoringClassifier):
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
    runner : {'auto', 'dygraph', 'inference'}, default 'auto'
        How black-box batches (LIME, occlusion, Score-CAM, evaluations) are run. 'inference'
        exports the network once (kept in memory, re-exported if its parameters change) and runs
        it through Paddle Inference with oneDNN - several times faster on CPU. 'auto' does that
        on CPU for batches of more than one image and falls back to dygraph (with a warning) if
        the network cannot be exported; gradients always come from the dygraph network. On a GPU
        (``paddle.get_device()`` is ``'gpu:N'``) 'auto' stays in dygraph, which is fast there;
        'inference' then uses Paddle Inference's GPU path on that card (needs paddlepaddle-gpu).
    """

    def __init__(
        self,
        network: paddle.nn.Layer,
        preprocess: Optional[ImagePreprocess] = None,
        labels: Optional[Sequence[str]] = None,
        output: str = "auto",
        runner: str = "auto",
    ):
        if not isinstance(network, paddle.nn.Layer):
            raise TypeError(f"network must be a paddle.nn.Layer, got {type(network).__name__}")
        self._init_scoring(output)
        if runner not in _RUNNERS:
            raise ValueError(f"runner must be one of {_RUNNERS}, got {runner!r}")
        if preprocess is not None and not isinstance(preprocess, ImagePreprocess):
            raise TypeError(
                f"preprocess must be a paddlex_interpret.data.ImagePreprocess, got {type(preprocess).__name__}"
            )
        self.network = network
        self.preprocess = preprocess if preprocess is not None else ImagePreprocess()
        self.labels = _validate_labels(labels)
        self.runner = runner
        self._fast = None  # (parameter fingerprint, InferenceRunner) once exported
        self._fast_failed = False
        self._session: Optional[bool] = None  # None: no session; False: not checked yet; True: checked

    def __repr__(self):
        return f"PaddleLayerClassifier({type(self.network).__name__}, classes={self.num_classes})"

    def forward(self, inputs: paddle.Tensor) -> paddle.Tensor:
        """Differentiable forward on a normalised batch; returns the network's (first) output.

        The caller decides the mode; use :func:`eval_mode` to run it as in inference.
        """
        return first_output(self.network(inputs))

    @contextlib.contextmanager
    def eval_context(self):
        """Inference mode for gradient paths: eval mode (restored after) and LayerNorms with correct
        input gradients (:mod:`.layer_norm`; Paddle 3.3's CPU kernel gets them wrong)."""
        with eval_mode(self.network), exact_layer_norm(self.network):
            yield

    def named_layers(self) -> dict:
        return dict(self.network.named_sublayers())

    def clone(self) -> "PaddleLayerClassifier":
        """A classifier on a deep copy of the network (same preprocessing, labels and output kind)."""
        output = "probabilities" if self.outputs_probabilities else "logits"
        return PaddleLayerClassifier(copy.deepcopy(self.network), preprocess=self.preprocess, labels=self.labels,
                                     output=output, runner=self.runner)

    @contextlib.contextmanager
    def prediction_session(self):
        """Within the block the weights are compared with the exported copy's once, at the first fast
        batch, instead of before every batch (see :meth:`_parameter_fingerprint`)."""
        outer = self._session is None
        if outer:
            self._session = False
        try:
            yield self
        finally:
            if outer:
                self._session = None

    def _parameter_fingerprint(self) -> bytes:
        """SHA-256 over every parameter and buffer of the network: names, dtypes, shapes and the
        raw bytes of the values, so any change - a permutation of a tensor's elements, a
        ``set_value``, an optimizer step, a reloaded state dict - gives another digest.

        Paddle's in-place version counters and data pointers do not move on ``set_value`` /
        ``set_state_dict`` / optimizer steps (checked on Paddle 3.3), hence the values are read.
        Cost: one host copy plus hashing of the weights, once per predicted batch outside a
        :meth:`prediction_session` (once per session inside one): 30-40 ms for the
        demo's EfficientNet-Lite0 (247 tensors, 4.7 M values, 19 MB) on a busy 2-core CPU, against
        about 8 s for a 50-image batch (the former sum-based check took 420 ms there).
        Python attributes that change what ``forward`` computes are not parameters and are not seen.
        """
        digest = hashlib.sha256()
        tensors = itertools.chain(self.network.named_parameters(), self.network.named_buffers())
        for name, tensor in tensors:
            if tensor is None:
                continue
            values = np.ascontiguousarray(tensor.numpy())
            digest.update(f"{name}|{values.dtype.str}|{values.shape}|".encode())
            digest.update(values.reshape(-1).view(np.uint8).data)
        return digest.digest()

    def _fast_runner(self, batch: np.ndarray):
        """The Paddle Inference runner to use for ``batch``, or None for dygraph."""
        if self.runner == "dygraph" or self._fast_failed:
            return None
        if self.runner == "auto" and (
            len(batch) < 2 or "gpu" in paddle.get_device() or not self.network.parameters()
        ):
            return None
        from .inference_runner import InferenceRunner

        if self._session and self._fast is not None:
            return self._fast[1]  # checked once in this prediction session
        fingerprint = self._parameter_fingerprint()
        if self._session is False:
            self._session = True
        if self._fast is None or self._fast[0] != fingerprint:
            try:
                device = paddle.get_device() if "gpu" in paddle.get_device() else "cpu"
                self._fast = (fingerprint, InferenceRunner.from_layer(self.network, batch[:1], device=device))
            except Exception as exc:
                if self.runner == "inference":
                    raise RuntimeError(
                        f"runner='inference': {type(self.network).__name__} could not be exported with "
                        f"paddle.jit.save ({exc}); use runner='dygraph'"
                    ) from exc
                self._fast_failed = True
                warnings.warn(
                    f"{type(self.network).__name__} could not be exported for Paddle Inference ({exc}); "
                    "running it in dygraph (slower)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                return None
        return self._fast[1]

    def _batch_scores(self, batch: np.ndarray):
        if not paddle.in_dynamic_mode():
            raise RuntimeError(
                "paddle is in static-graph mode; call paddle.disable_static() before explaining a dygraph model"
            )
        fast = self._fast_runner(batch) if self._num_classes is not None else None
        if fast is not None:
            return fast(batch)
        with paddle.no_grad(), eval_mode(self.network):
            out = first_output(self.network(paddle.to_tensor(batch)))
        return out.numpy() if hasattr(out, "numpy") else out
