"""The Classifier abstraction every algorithm talks to."""
from __future__ import annotations

import abc
from typing import List, Optional, Sequence

import numpy as np

from ..data import ImagePreprocess, ImageSource, load_image

__all__ = ["Classifier"]


class Classifier(abc.ABC):
    """An image classifier as the algorithms see it.

    Subclasses wrap one framework's model object. They know the preprocessing and the label
    names, and give a no-grad batch predictor plus a differentiable forward. They never keep the
    wrapped model in another mode, on another device or with hooks attached after a call returns.
    """

    preprocess: ImagePreprocess
    labels: Optional[List[str]] = None

    @property
    @abc.abstractmethod
    def num_classes(self) -> int:
        """Number of output classes."""

    @abc.abstractmethod
    def predict_proba(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        """Class probabilities ``(N, num_classes)`` for uint8 RGB images ``(N, H, W, 3)``
        that already have the explained geometry (see :meth:`image_as_explained`)."""

    def forward(self, inputs):
        """Differentiable forward: normalised ``paddle.Tensor`` ``(N, 3, H, W)`` -> logits."""
        raise NotImplementedError(f"{type(self).__name__} has no differentiable forward")

    def eval_context(self):
        """Context manager running the model in inference mode (eval), restoring its modes after."""
        raise NotImplementedError(f"{type(self).__name__} has no differentiable model")

    def named_layers(self) -> dict:
        """``{name: layer}`` of the model's sublayers, for methods that look inside (CAM, LRP)."""
        raise NotImplementedError(f"{type(self).__name__} exposes no layers")

    def image_as_explained(self, source: ImageSource, channel_order: str = "rgb") -> np.ndarray:
        """Load ``source`` and apply the geometric part of the preprocessing (uint8 RGB)."""
        return self.preprocess.geometry(load_image(source, channel_order=channel_order))

    def label_name(self, class_index: int) -> str:
        """Human-readable name of ``class_index`` (the index itself if no names are known)."""
        self.check_class_index(class_index)
        if self.labels:
            return str(self.labels[int(class_index)])
        return str(int(class_index))

    def check_class_index(self, class_index, argument: str = "target") -> int:
        """Validate a class index and return it as int; raise ValueError naming ``argument``."""
        if isinstance(class_index, (bool, np.bool_)) or not isinstance(class_index, (int, np.integer)):
            raise TypeError(f"{argument} must be an int class index, got {class_index!r}")
        if not 0 <= int(class_index) < self.num_classes:
            raise ValueError(
                f"{argument}={int(class_index)} is out of range: the model has {self.num_classes} "
                f"classes (valid: 0..{self.num_classes - 1})"
            )
        return int(class_index)

    def top_classes(self, image: np.ndarray, k: int = 5) -> List[tuple]:
        """``[(class_index, name, probability), ...]`` for the k most probable classes."""
        probs = self.predict_proba(image[None], batch_size=1)[0]
        order = np.argsort(-probs, kind="stable")[:k]
        return [(int(i), self.label_name(int(i)), float(probs[i])) for i in order]


def _validate_labels(labels: Optional[Sequence[str]]) -> Optional[List[str]]:
    if labels is None:
        return None
    if isinstance(labels, str):
        raise TypeError("labels must be a sequence of class names, not a single string")
    return [str(x) for x in labels]
