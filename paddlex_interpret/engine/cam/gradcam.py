"""Grad-CAM (Selvaraju et al. 2017): feature maps weighted by their spatially averaged gradients."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
import paddle
import paddle.nn.functional as F

from ...models.base import Classifier
from .._hooks import capture_output
from ..base import AttributionMethod, check_images, resolve_targets
from ..explanation import PixelExplanation
from ..gradients._core import check_gradient_of, objective
from ._layers import resolve_target_layer, single_capture, upsample

__all__ = ["GradCAM"]


class GradCAM(AttributionMethod):
    """Grad-CAM: ``ReLU(sum_c w_c A_c)`` with ``w_c`` the spatial mean of ``d objective / d A_c``.

    ``A`` is the output ``(N, C, h, w)`` of ``target_layer``. The map is computed at the layer's
    resolution and resized bilinearly to the input's ``(H, W)``.

    Parameters
    ----------
    classifier : Classifier
        Needs a differentiable ``forward`` and ``named_layers`` (e.g. a PaddleLayerClassifier).
    target_layer : str or None, default None
        Name of the layer (as in ``classifier.named_layers()``). None picks the last layer called
        once with a 4-D output (see :func:`default_target_layer`); the name used is recorded in
        :meth:`params` after a call.
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
        The per-image objective differentiated (see ``gradients._core.objective``); the target's
        logit is the original Grad-CAM choice.

    Attributes
    ----------
    last_lowres : ndarray (N, h, w) or None
        The layer-resolution maps of the latest :meth:`attribute` call (also in
        ``explanation.extras['lowres']``).

    The model runs in eval mode (its own train/eval flags are restored after), the hook is removed
    on exit, also on error, and no gradient is left on the model's parameters.
    """

    method = "gradcam"

    def __init__(self, classifier: Classifier, target_layer: Optional[str] = None, gradient_of: str = "logit"):
        super().__init__(classifier)
        if target_layer is not None and not isinstance(target_layer, str):
            raise TypeError(f"target_layer must be a layer name (str) or None, got {type(target_layer).__name__}")
        if target_layer is not None:
            resolve_target_layer(classifier, target_layer, (1, 1))  # fail early on an unknown name
        self.target_layer = target_layer
        self.gradient_of = check_gradient_of(gradient_of)
        self.last_lowres: Optional[np.ndarray] = None
        self._resolved: Optional[str] = target_layer
        self._default_cache: dict = {}

    def params(self) -> Dict[str, Any]:
        return {"target_layer": self._resolved, "gradient_of": self.gradient_of}

    def attribute_lowres(self, images: np.ndarray,
                         targets: Union[None, int, Sequence[int]] = None) -> np.ndarray:
        """Grad-CAM maps at the target layer's resolution: ``(N, h, w)`` float32, >= 0."""
        images = check_images(images)
        targets = resolve_targets(self.classifier, images, targets)
        return self._lowres(images, targets).numpy()

    def attribute(self, images: np.ndarray, targets: Union[None, int, Sequence[int]] = None) -> np.ndarray:
        """Grad-CAM maps resized to the input: ``(N, H, W)`` float32, >= 0."""
        images = check_images(images)
        targets = resolve_targets(self.classifier, images, targets)
        lowres = self._lowres(images, targets)
        self.last_lowres = lowres.numpy()
        up = upsample(lowres[:, None], images.shape[1:3])[:, 0]
        return F.relu(up).numpy()  # bilinear weights are >= 0; relu only guards rounding

    def explain(self, image: np.ndarray, target: Optional[int] = None) -> PixelExplanation:
        exp = super().explain(image, target)
        exp.extras["lowres"] = self.last_lowres[0]
        return exp

    def _lowres(self, images: np.ndarray, targets: np.ndarray) -> paddle.Tensor:
        name, layer = resolve_target_layer(self.classifier, self.target_layer, images.shape, self._default_cache)
        self._resolved = name
        # The input takes part in the graph so that A has a gradient even with frozen parameters.
        x = paddle.to_tensor(self.classifier.preprocess(images), stop_gradient=False)
        t = paddle.to_tensor(targets)
        with self.classifier.eval_context(), capture_output(layer) as captured:
            out = self.classifier.forward(x)
            features = single_capture(captured, name)
            value = objective(self.classifier, out, t, self.gradient_of)
            (grads,) = paddle.grad(value.sum(), [features], retain_graph=False, create_graph=False)
        weights = grads.mean(axis=[2, 3], keepdim=True)
        cam = F.relu((weights * features.detach()).sum(axis=1))
        return cam.detach()
