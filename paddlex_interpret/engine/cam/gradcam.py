"""Grad-CAM (Selvaraju et al. 2017): feature maps weighted by their spatially averaged gradients."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
import paddle

from ...models.base import Classifier
from .._hooks import capture_output
from ..gradients._core import check_gradient_of, objective
from ._layers import single_capture
from .base import CAMMethod

__all__ = ["GradCAM"]


class GradCAM(CAMMethod):
    """Grad-CAM: ``ReLU(sum_c w_c A_c)`` with ``w_c`` the spatial mean of ``d objective / d A_c``.

    ``A`` is the output ``(N, C, h, w)`` of ``target_layer``, as it is (also before an activation,
    as at the demo model's default ``'_bn1'``: the gradient through the activation that follows
    is then part of ``w``). The map is computed at the layer's resolution and resized bilinearly
    to the input's ``(H, W)``; a constant map (e.g. every ``w_c <= 0``) comes with a
    ``RuntimeWarning`` (see :class:`CAMMethod`).

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
    display_name = "Grad-CAM"

    def __init__(self, classifier: Classifier, target_layer: Optional[str] = None, gradient_of: str = "logit"):
        super().__init__(classifier, target_layer)
        self.gradient_of = check_gradient_of(gradient_of)

    def params(self) -> Dict[str, Any]:
        return {**super().params(), "gradient_of": self.gradient_of}

    def weights_and_activations(self, images: np.ndarray, targets: np.ndarray, name: str,
                                layer: paddle.nn.Layer) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """``w_c`` = spatial mean of the objective's gradient w.r.t. ``A_c``; ``A`` as captured."""
        # The input takes part in the graph so that A has a gradient even with frozen parameters.
        x = paddle.to_tensor(self.classifier.preprocess(images), stop_gradient=False)
        t = paddle.to_tensor(targets)
        with self.classifier.eval_context(), capture_output(layer) as captured:
            out = self.classifier.forward(x)
            features = single_capture(captured, name)
            value = objective(self.classifier, out, t, self.gradient_of)
            (grads,) = paddle.grad(value.sum(), [features], retain_graph=False, create_graph=False)
        return grads.mean(axis=[2, 3]), features.detach()
