"""Score-CAM (Wang et al. 2020): activation maps weighted by the score of the input they mask."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
import paddle
import paddle.nn.functional as F
from tqdm.auto import tqdm

from ...models.base import Classifier
from .._hooks import capture_output
from .._validation import check_positive_int
from ..base import AttributionMethod, check_images, resolve_targets
from ..explanation import PixelExplanation
from ..gradients._core import objective
from ._layers import resolve_target_layer, single_capture, upsample

__all__ = ["ScoreCAM"]


class ScoreCAM(AttributionMethod):
    """Score-CAM: ``ReLU(sum_k s_k * up(A_k))``, gradient-free.

    ``A`` is the output ``(N, K, h, w)`` of ``target_layer``; ``up(A_k)`` is map ``k`` resized
    bilinearly to the input's ``(H, W)``. Its weight ``s_k`` is the softmax probability of the
    target class for the *masked input* ``x * M_k``, where ``x`` is the normalised network input
    and ``M_k = (up(A_k) - min) / (max - min)`` is the map min-max normalised to ``[0, 1]`` (a
    constant map gives ``M_k = 0``). Masking multiplies in normalised space, so hidden pixels
    become 0 there, i.e. the dataset's mean colour (grey 127 for the demo model), as in the
    Score-CAM paper and InterpretDL.

    One forward pass per channel and image: ``K`` can be large (1280 for the demo's head), so
    pick a layer with fewer channels when speed matters. The masked inputs are built lazily,
    ``batch_size`` at a time, under ``no_grad``; results do not depend on ``batch_size``.

    Parameters
    ----------
    classifier : Classifier
        Needs ``forward`` and ``named_layers`` (e.g. a PaddleLayerClassifier).
    target_layer : str or None, default None
        Layer name; None picks the default layer (see :func:`default_target_layer`).
    batch_size : int, default 16
        Masked inputs per forward pass.
    progress : bool, default True
        Show a tqdm progress bar over the channels.

    Attributes
    ----------
    last_lowres : ndarray (N, h, w) or None
        ``ReLU(sum_k s_k A_k)`` at the layer's resolution for the latest :meth:`attribute` call.
        Resizing is linear, so the full map equals ``ReLU(up(sum_k s_k A_k))`` and is computed so.
    """

    method = "scorecam"

    def __init__(self, classifier: Classifier, target_layer: Optional[str] = None, batch_size: int = 16,
                 progress: bool = True):
        super().__init__(classifier)
        if target_layer is not None:
            resolve_target_layer(classifier, target_layer, (1, 1))  # fail early on an unknown name
        self.target_layer = target_layer
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.progress = bool(progress)
        self.last_lowres: Optional[np.ndarray] = None
        self._resolved: Optional[str] = target_layer
        self._default_cache: dict = {}

    def params(self) -> Dict[str, Any]:
        return {"target_layer": self._resolved, "batch_size": self.batch_size}

    def explain(self, image: np.ndarray, target: Optional[int] = None) -> PixelExplanation:
        exp = super().explain(image, target)
        exp.extras["lowres"] = self.last_lowres[0]
        return exp

    def attribute(self, images: np.ndarray, targets: Union[None, int, Sequence[int]] = None) -> np.ndarray:
        """Score-CAM maps ``(N, H, W)`` float32, >= 0."""
        images = check_images(images)
        targets = resolve_targets(self.classifier, images, targets)
        name, layer = resolve_target_layer(self.classifier, self.target_layer, images.shape, self._default_cache)
        self._resolved = name
        size = images.shape[1:3]
        x = paddle.to_tensor(self.classifier.preprocess(images))

        with paddle.no_grad(), self.classifier.eval_context():
            with capture_output(layer) as captured:
                self.classifier.forward(x)
                acts = single_capture(captured, name).detach()
            n_maps = acts.shape[1]
            weighted = []
            with tqdm(total=len(images) * n_maps, desc="Score-CAM", unit="map", disable=not self.progress,
                      leave=False) as bar:
                for i in range(len(images)):
                    scores = []
                    t = paddle.to_tensor(np.full(1, targets[i], dtype=np.int64))
                    for k0 in range(0, n_maps, self.batch_size):
                        # Only this batch's maps are resized and masked: memory ~ batch_size inputs.
                        maps = upsample(acts[i:i + 1, k0:k0 + self.batch_size], size)[0]  # (B, H, W)
                        lo = maps.amin(axis=[1, 2], keepdim=True)
                        span = maps.amax(axis=[1, 2], keepdim=True) - lo
                        safe = paddle.where(span > 0, span, paddle.ones_like(span))
                        masks = paddle.where(span > 0, (maps - lo) / safe, paddle.zeros_like(maps))  # [0, 1]
                        masked = x[i:i + 1] * masks[:, None]  # (B, C, H, W)
                        out = self.classifier.forward(masked)
                        scores.append(objective(self.classifier, out, t.expand([masks.shape[0]]), "probability"))
                        bar.update(masks.shape[0])
                    s = paddle.concat(scores)
                    weighted.append((s[:, None, None] * acts[i]).sum(axis=0))
            pre = paddle.stack(weighted)  # (N, h, w), before ReLU
            self.last_lowres = F.relu(pre).numpy()
            cam = F.relu(upsample(pre[:, None], size)[:, 0])
        return cam.numpy()
