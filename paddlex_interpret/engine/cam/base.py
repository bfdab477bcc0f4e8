"""What Grad-CAM and Score-CAM share: the target layer, ``ReLU(sum_k w_k A_k)`` at the layer's
resolution, its upsampling to the input, and a warning instead of a silently constant map."""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import paddle
import paddle.nn.functional as F

from ...models.base import Classifier
from ..base import AttributionMethod, check_images, resolve_targets
from ..explanation import PixelExplanation
from ._layers import resolve_target_layer, upsample

__all__ = ["CAMMethod"]


class CAMMethod(AttributionMethod):
    """Base of the class-activation-map methods: ``ReLU(sum_k w_k A_k)``, resized to the input.

    ``A`` is the output ``(N, K, h, w)`` of ``target_layer`` (or what a subclass makes of it) and
    ``w`` one weight per image and channel. A subclass implements only
    :meth:`weights_and_activations`; this class resolves the layer (the default one is cached per
    input size), forms the map at the layer's resolution, resizes it bilinearly to the input's
    ``(H, W)`` and keeps the low-resolution maps in :attr:`last_lowres` and
    ``explanation.extras['lowres']``.

    A map that comes out constant (e.g. all zero because every channel weight is <= 0) is
    returned as it is, with a ``RuntimeWarning`` saying why and suggesting another layer.

    Parameters
    ----------
    classifier : Classifier
        Needs ``forward`` and ``named_layers`` (e.g. a PaddleLayerClassifier).
    target_layer : str or None, default None
        Name of the layer (as in ``classifier.named_layers()``); an unknown name fails here, with
        the valid names. None picks the last layer called once with a 4-D output (see
        :func:`default_target_layer`); the name used is recorded in :meth:`params` after a call.

    Attributes
    ----------
    last_lowres : ndarray (N, h, w) or None
        The layer-resolution maps of the latest :meth:`attribute` call.
    """

    method = "cam"
    _warns_constant_maps = True
    #: The method's name in warnings.
    display_name = "CAM"
    #: False: the full map is ``ReLU(up(ReLU(sum)))``, the low-resolution map resized (Grad-CAM).
    #: True: ``ReLU(up(sum))``, the weighted sum of the resized maps, rectified (Score-CAM). The two
    #: are equal when the sum is >= 0 everywhere (bilinear weights are >= 0).
    upsample_before_relu = False

    def __init__(self, classifier: Classifier, target_layer: Optional[str] = None):
        super().__init__(classifier)
        if target_layer is not None and not isinstance(target_layer, str):
            raise TypeError(f"target_layer must be a layer name (str) or None, got {type(target_layer).__name__}")
        if target_layer is not None:
            resolve_target_layer(classifier, target_layer, (1, 1))  # fail early on an unknown name
        self.target_layer = target_layer
        self.last_lowres: Optional[np.ndarray] = None
        self._resolved: Optional[str] = target_layer
        self._default_cache: dict = {}

    def params(self) -> Dict[str, Any]:
        """``{'target_layer': name used}``; subclasses add their own parameters."""
        return {"target_layer": self._resolved}

    def weights_and_activations(self, images: np.ndarray, targets: np.ndarray, name: str,
                                layer: paddle.nn.Layer) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """``(w, A)``: channel weights ``(N, K)`` and the activations ``(N, K, h, w)`` they weight,
        for checked uint8 ``images`` and one target per image, at layer ``layer`` called ``name``."""
        raise NotImplementedError

    def attribute_lowres(self, images: np.ndarray,
                         targets: Union[None, int, Sequence[int]] = None) -> np.ndarray:
        """The maps at the target layer's resolution: ``(N, h, w)`` float32, >= 0."""
        images = check_images(images)
        targets = resolve_targets(self.classifier, images, targets)
        pre, why = self._weighted_sum(images, targets)
        lowres = F.relu(pre).numpy()
        self._warn_if_constant(lowres, why)
        return lowres

    def attribute(self, images: np.ndarray, targets: Union[None, int, Sequence[int]] = None) -> np.ndarray:
        """The maps resized to the input: ``(N, H, W)`` float32, >= 0."""
        images = check_images(images)
        targets = resolve_targets(self.classifier, images, targets)
        pre, why = self._weighted_sum(images, targets)
        lowres = F.relu(pre)
        self.last_lowres = lowres.numpy()
        up = upsample((pre if self.upsample_before_relu else lowres)[:, None], images.shape[1:3])[:, 0]
        cam = F.relu(up).numpy()  # after a ReLU'd map this only guards rounding
        self._warn_if_constant(cam, why)
        return cam

    def explain(self, image: np.ndarray, target: Optional[int] = None) -> PixelExplanation:
        exp = super().explain(image, target)
        exp.extras["lowres"] = self.last_lowres[0]
        return exp

    # -- internals -------------------------------------------------------------------------------
    def _layer(self, image_shape: Sequence[int]) -> Tuple[str, paddle.nn.Layer]:
        name, layer = resolve_target_layer(self.classifier, self.target_layer, image_shape, self._default_cache)
        self._resolved = name
        return name, layer

    def _weighted_sum(self, images: np.ndarray, targets: np.ndarray) -> Tuple[paddle.Tensor, list]:
        """``sum_k w_k A_k`` ``(N, h, w)`` (before the ReLU) and, per image, why ``ReLU`` of it is
        constant (None where it is not)."""
        name, layer = self._layer(images.shape)
        weights, acts = self.weights_and_activations(images, targets, name, layer)
        weights, acts = weights.detach(), acts.detach()
        pre = (weights[:, :, None, None] * acts).sum(axis=1)
        lowres = np.maximum(pre.numpy(), 0)
        return pre, [self._why_constant(w, a, c, name) for w, a, c in zip(weights.numpy(), acts.numpy(), lowres)]

    def _why_constant(self, weights: np.ndarray, acts: np.ndarray, cam: np.ndarray, name: str) -> Optional[str]:
        """Why one image's map ``cam`` is constant, or None when it is not."""
        if cam.size and cam.max() > cam.min():
            return None
        k = len(weights)
        flat = acts.reshape(k, -1)
        varying = flat.max(axis=1) > flat.min(axis=1)
        if not varying.any():
            value = f" ({float(flat.max()):g})" if flat.size and flat.max() == flat.min() else ""
            return f"each of the {k} activation maps at layer {name!r} is spatially constant{value}"
        if (weights[varying] <= 0).all():
            largest = float(weights[varying].max())
            return (f"all channel weights were <= 0 at layer {name!r} "
                    f"({int(varying.sum())} non-constant maps of {k}, largest weight {largest:.3g})")
        if cam.size and cam.max() > 0:
            return f"the weighted sum of the {k} channels at layer {name!r} is the same at every position"
        negative = float((acts < 0).mean())
        hint = (f", {100 * negative:.0f}% of them < 0: the layer may be read before its activation"
                if negative > 0.5 else "")
        return (f"the weighted sum of the {k} channels at layer {name!r} was <= 0 everywhere "
                f"(weights in [{float(weights.min()):.3g}, {float(weights.max()):.3g}], "
                f"activations in [{float(acts.min()):.3g}, {float(acts.max()):.3g}]{hint})")

    def _warn_if_constant(self, maps: np.ndarray, why: list) -> None:
        flat = maps.reshape(len(maps), -1)
        constant = [i for i in range(len(maps)) if flat.shape[1] == 0 or flat[i].max() == flat[i].min()]
        if not constant:
            return
        i = constant[0]
        reason = why[i] or "the map is flat at the layer's resolution"
        which = f"image {i}" if len(constant) == 1 else f"images {constant}"
        value = float(flat[i, 0]) if flat.shape[1] else 0.0
        warnings.warn(
            f"{self.display_name} map of {which} is constant ({value:g} everywhere): {reason}; "
            "try another target_layer",
            RuntimeWarning,
            stacklevel=3,
        )
