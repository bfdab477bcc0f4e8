"""Base class of per-pixel attribution methods (gradients, occlusion, CAM, LRP).

A method holds its parameters (constructor) and does the work in :meth:`attribute` on a batch,
one target class per image; :meth:`explain` wraps one image into a :class:`PixelExplanation`.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from ..models.base import Classifier, GradientsUnavailableError
from .explanation import PixelExplanation
from .registry import METHODS, method_names

__all__ = ["AttributionMethod", "check_images", "resolve_targets", "check_gradients"]


def check_images(images) -> np.ndarray:
    """A uint8 batch ``(N, H, W, 3)`` (a single ``(H, W, 3)`` image becomes a batch of one)."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8 or len(images) == 0:
        raise ValueError(f"expected uint8 RGB images (N, H, W, 3); got {images.dtype} {images.shape}")
    return images


def resolve_targets(classifier: Classifier, images: np.ndarray,
                    targets: Union[None, int, Sequence[int]], batch_size: int = 50) -> np.ndarray:
    """One class per image: the given ones (an int applies to all) or each image's top-1."""
    if targets is None:
        return np.argmax(classifier.predict_proba(images, batch_size=batch_size), axis=1).astype(np.int64)
    if isinstance(targets, (int, np.integer)) and not isinstance(targets, (bool, np.bool_)):
        targets = [targets] * len(images)
    targets = [classifier.check_class_index(t, "target") for t in targets]
    if len(targets) != len(images):
        raise ValueError(f"got {len(targets)} targets for {len(images)} images; give one per image")
    return np.asarray(targets, dtype=np.int64)


def check_gradients(method: str, classifier: Classifier) -> None:
    """Refuse a black-box classifier for a method the registry says needs gradients or layers, naming
    the methods that do work on it and how to get a differentiable model."""
    spec = METHODS.get(method)
    if spec is None or spec.needs == "black_box":
        return
    reason = classifier.gradients_unavailable()
    if reason:
        black_box = ", ".join(method_names(explains="image", needs="black_box"))
        others = ", ".join(n for n in method_names(explains="image") if METHODS[n].needs != "black_box")
        raise GradientsUnavailableError(
            f"{method} needs a differentiable (dygraph) model, but {reason}. Black-box methods work on it: "
            f"{black_box} and the evaluation metrics. For {others}, {classifier.gradients_remedy}")


def warn_if_constant(method: str, attribution: np.ndarray, target: int) -> None:
    """A RuntimeWarning saying why, when a map holds one value everywhere (nothing to see in it)."""
    a = np.asarray(attribution)
    if a.size and np.isfinite(a).all() and a.max() == a.min():
        warnings.warn(
            f"the {method} map for class {target} is constant ({float(a.flat[0]):g} everywhere): the model's score "
            "for the class did not react to what the method changes (e.g. a saturated probability: try "
            "gradient_of='logit', another baseline or larger windows)", RuntimeWarning, stacklevel=3)


class AttributionMethod:
    """Subclasses set ``method`` and implement :meth:`attribute` and :meth:`params`."""

    method = "attribution"
    #: True for methods that warn about constant maps themselves, with a reason of their own (CAMs)
    _warns_constant_maps = False

    def __init__(self, classifier: Classifier):
        if not isinstance(classifier, Classifier):
            raise TypeError(f"classifier must be a paddlex_interpret Classifier, got {type(classifier).__name__}")
        check_gradients(self.method, classifier)
        self.classifier = classifier

    def attribute(self, images: np.ndarray, targets: Union[None, int, Sequence[int]] = None) -> np.ndarray:
        """Attributions for a uint8 batch ``(N, H, W, 3)``: ``(N, 3, H, W)`` or ``(N, H, W)``."""
        raise NotImplementedError

    def params(self) -> Dict[str, Any]:
        """The parameters of this run (JSON-serialisable), recorded in the explanation."""
        return {}

    def explain(self, image: np.ndarray, target: Optional[int] = None) -> PixelExplanation:
        """Explain one uint8 RGB image (already at the model's geometry) for ``target`` (default top-1)."""
        images = check_images(image)
        if len(images) != 1:
            raise ValueError("explain takes one image; use attribute() for a batch")
        probs = self.classifier.predict_proba(images, batch_size=1)[0]
        target = int(np.argmax(probs)) if target is None else self.classifier.check_class_index(target, "target")
        attribution = self.attribute(images, [target])[0]
        if not self._warns_constant_maps:
            warn_if_constant(self.method, attribution, target)
        return PixelExplanation(method=self.method, image=images[0], attribution=attribution, target=target,
                                label_name=self.classifier.label_name(target), probability=float(probs[target]),
                                params=self.params())
