"""Adapter for exported (static) models run by Paddle Inference: ``paddle.jit.save`` output in the
PIR ``.json`` or the legacy ``.pdmodel`` format, and PaddleX 3 model directories."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..data import ImagePreprocess
from .base import GradientsUnavailableError, ScoringClassifier, _validate_labels
from .inference_runner import InferenceRunner, find_static_model

__all__ = ["StaticClassifier"]


class StaticClassifier(ScoringClassifier):
    """An exported image classifier, run through Paddle Inference (oneDNN on CPU).

    Black-box methods (LIME, NormLIME, G-LIME, Occlusion, the perturbation metrics) work on it. Methods that
    need gradients or layers work when a dygraph ``network`` with the same weights is given; it
    is then used for those methods only.

    Parameters
    ----------
    model_path : str
        Exported model: a directory, a ``.json``/``.pdmodel`` file, or a ``paddle.jit.save`` prefix.
    preprocess : ImagePreprocess
        The preprocessing the model expects (required: an exported program does not record it).
    labels : sequence of str, optional
        Class names.
    output : {'auto', 'logits', 'probabilities'}, default 'auto'
        What the program returns; 'auto' detects probability rows (PaddleClas exports often end
        in softmax).
    network : paddle.nn.Layer, optional
        Dygraph model with the same weights, for gradient and layer methods.
    threads : int, optional
        CPU threads for Paddle Inference (default: all CPUs).
    """

    def __init__(
        self,
        model_path,
        preprocess: ImagePreprocess,
        labels: Optional[Sequence[str]] = None,
        output: str = "auto",
        network=None,
        threads: Optional[int] = None,
    ):
        if not isinstance(preprocess, ImagePreprocess):
            raise TypeError(
                "an exported model needs preprocess=ImagePreprocess(...): the program does not record how "
                f"images were resized and normalised (got {type(preprocess).__name__})"
            )
        self.model_file, self.params_file = find_static_model(model_path)
        self.preprocess = preprocess
        self.labels = _validate_labels(labels)
        self._init_scoring(output)
        self._runner = InferenceRunner(self.model_file, self.params_file, threads=threads)
        self._dygraph = None
        if network is not None:
            from .paddle_layer import PaddleLayerClassifier

            self._dygraph = PaddleLayerClassifier(network, preprocess=preprocess, labels=labels, runner="dygraph")

    def __repr__(self):
        return f"StaticClassifier({self.model_file!r}, classes={self.num_classes})"

    def _batch_scores(self, batch: np.ndarray):
        return self._runner(batch)

    def gradients_unavailable(self):
        if self._dygraph is not None:
            return None
        return (f"this is an exported static model run by Paddle Inference ({self.model_file}); Paddle gives no "
                "input gradients for loaded programs")

    gradients_remedy = ("pass the dygraph network with the same weights, e.g. a PaddleClas architecture with the "
                        "training output's best_model.pdparams: as_classifier(model, network=net), or "
                        "as_classifier(('config.yaml', 'best_model.pdparams'))")

    def _needs_dygraph(self, what: str):
        if self._dygraph is None:
            raise GradientsUnavailableError(f"{what} needs a differentiable (dygraph) model, but "
                                            f"{self.gradients_unavailable()}; {self.gradients_remedy}")
        return self._dygraph

    def clone(self):
        """A :class:`PaddleLayerClassifier` on a deep copy of the dygraph network: checks that change
        weights must see them in every forward, which the exported program would not."""
        return self._needs_dygraph("cloning").clone()

    def forward(self, inputs):
        return self._needs_dygraph("a gradient method").forward(inputs)

    def eval_context(self):
        return self._needs_dygraph("this method").eval_context()

    def named_layers(self) -> dict:
        return self._needs_dygraph("a method that looks inside the network (CAM, LRP)").named_layers()
