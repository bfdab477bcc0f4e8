"""Score-CAM (Wang et al. 2020): activation maps weighted by the score of the input they mask."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F
from tqdm.auto import tqdm

from ...models.base import Classifier
from .._hooks import capture_output
from .._validation import check_positive_int
from ..gradients._core import objective
from ._layers import following_activation, record_consumers, single_capture, upsample
from .base import CAMMethod

__all__ = ["ScoreCAM"]


class ScoreCAM(CAMMethod):
    """Score-CAM: ``ReLU(sum_k s_k * up(A_k))``, gradient-free.

    ``A`` ``(N, K, h, w)`` holds the activation maps read at ``target_layer``: its output, or, when
    that output goes into an element-wise activation module and nothing else (a ``ReLU``,
    ``ReLU6``, ``Swish``, ... module; see ``ELEMENTWISE_ACTIVATIONS``), that activation applied to
    it, i.e. the activation maps the network itself computes next. ``up(A_k)`` is map ``k``
    resized bilinearly to the input's ``(H, W)``. Its weight ``s_k`` is the softmax probability of
    the target class for the *masked input* ``x * M_k``, where ``x`` is the normalised network
    input and ``M_k = (up(A_k) - min) / (max - min)`` is the map min-max normalised to ``[0, 1]``
    (a constant map gives ``M_k = 0``). Masking multiplies in normalised space, so hidden pixels
    become 0 there, i.e. the dataset's mean colour (grey 127 for the demo model), as in the
    Score-CAM paper and InterpretDL.

    Why the activation: the paper weights activation maps, the outputs of a nonlinearity. The
    default layer of the demo model (EfficientNet-Lite0), ``'_bn1'``, is the batch norm *before*
    the head's ReLU6 (the ReLU6 module is shared with the stem, so it cannot be the target layer
    itself). Read raw there, 94% of its values are negative (the largest value of the median
    channel is -1.35 on the cat photo) while every ``s_k`` is a probability > 0 (0.27 to 0.68
    there), so ``sum_k s_k A_k`` was negative at every position (-4646 to -2992) and the map all
    zero, on every photo tried. After the ReLU6 818 of the 1280 channels are 0 and the map peaks
    on the cat. A layer whose output goes elsewhere (e.g. ``'_blocks.7'``, a block's linear
    bottleneck, or an activation called as a function, which hooks cannot see) is read as it is.
    The module applied is in :attr:`last_activation`.

    The weights are the probabilities themselves, as in the authors' code. The paper's
    "increase of confidence" subtracts the probability of a baseline input (here the all-grey
    one); that adds ``-p_baseline * sum_k A_k`` to the map, which on the cat photo is tiny
    (``p_baseline`` = 0.001, the two maps correlate at 1.00), and is not done.

    One forward pass per channel and image, skipped for a channel that is 0 everywhere (its term
    is 0 whatever its score; 462 passes instead of 1280 at ``'_bn1'`` on the cat photo, about 45 s
    on a 2-core CPU). Pick a layer with fewer channels when speed matters. The masked inputs are
    built lazily, ``batch_size`` at a time, under ``no_grad``; results do not depend on
    ``batch_size``. A map that comes out constant (e.g. no channel positive anywhere) comes with a
    ``RuntimeWarning`` saying why (see :class:`CAMMethod`).

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
    last_activation : str or None
        Name of the activation module applied to the layer's output in the latest call.
    """

    method = "scorecam"
    display_name = "Score-CAM"
    upsample_before_relu = True

    def __init__(self, classifier: Classifier, target_layer: Optional[str] = None, batch_size: int = 16,
                 progress: bool = True):
        super().__init__(classifier, target_layer)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.progress = bool(progress)
        self.last_activation: Optional[str] = None

    def params(self) -> Dict[str, Any]:
        return {**super().params(), "batch_size": self.batch_size}

    def weights_and_activations(self, images: np.ndarray, targets: np.ndarray, name: str,
                                layer: paddle.nn.Layer) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """``s_k`` = target probability of the input masked by ``A_k``; ``A`` = the layer's output,
        after the activation module it goes into, if any."""
        size = images.shape[1:3]
        x = paddle.to_tensor(self.classifier.preprocess(images))
        with paddle.no_grad(), self.classifier.eval_context():
            with capture_output(layer) as captured, \
                    record_consumers(self.classifier.named_layers(), captured) as consumers:
                self.classifier.forward(x)
                acts = single_capture(captured, name).detach()
            activation = following_activation(consumers)
            self.last_activation = activation[0] if activation else None
            if activation is not None:  # the activation maps the network computes from this output
                acts = activation[1](acts)
            # Channels that are 0 everywhere add nothing to the map: no forward pass for them.
            live = [np.flatnonzero(np.abs(a).reshape(len(a), -1).max(axis=1) > 0) for a in acts.numpy()]
            weights = np.zeros(acts.shape[:2], dtype=np.float32)
            with tqdm(total=sum(len(k) for k in live), desc="Score-CAM", unit="map", disable=not self.progress,
                      leave=False) as bar:
                for i, channels in enumerate(live):
                    t = paddle.to_tensor(np.full(1, targets[i], dtype=np.int64))
                    for k0 in range(0, len(channels), self.batch_size):
                        # Only this batch's maps are resized and masked: memory ~ batch_size inputs.
                        ks = channels[k0:k0 + self.batch_size]
                        maps = upsample(paddle.index_select(acts[i:i + 1], paddle.to_tensor(ks), axis=1), size)[0]
                        lo = maps.amin(axis=[1, 2], keepdim=True)
                        span = maps.amax(axis=[1, 2], keepdim=True) - lo
                        safe = paddle.where(span > 0, span, paddle.ones_like(span))
                        masks = paddle.where(span > 0, (maps - lo) / safe, paddle.zeros_like(maps))  # [0, 1]
                        out = self.classifier.forward(x[i:i + 1] * masks[:, None])  # (B, C, H, W) masked inputs
                        weights[i, ks] = objective(self.classifier, out, t.expand([len(ks)]), "probability").numpy()
                        bar.update(len(ks))
        return paddle.to_tensor(weights), acts
