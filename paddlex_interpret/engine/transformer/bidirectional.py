"""Bidirectional explanations of transformers (Chen, Li, Yu, Dou & Xiong 2022, "Beyond intuition:
rethinking token attributions inside transformers", https://openreview.net/forum?id=rm0zIzlhcX)."""
from __future__ import annotations

import numpy as np

from ...models.base import Classifier
from .._validation import check_positive_int
from ..gradients._core import check_gradient_of
from ._core import (AttentionMapMethod, bt_head_matrix, bt_token_matrix, capture_attention,
                    last_layer_integrated_gradients, token_norm_ratio)
from ._text_core import TextAttentionMethod

__all__ = ["Bidirectional", "BidirectionalText", "BT_MODES"]

BT_MODES = ("head", "token")


class Bidirectional(AttentionMapMethod):
    """Attentional perception times reasoning feedback.

    Perception ``P``, from ``R = I`` block by block (``start_layer`` on), ``R <- R + Ã_l R``:

    * ``mode='head'``: ``Ã_l = sum_h I_h A_h`` with head weights ``I_h = mean|A_h^T dA_h|``
      normalised to sum to 1 (``dA_h`` the gradient of the objective w.r.t. the head's attention);
    * ``mode='token'``: ``Ã_l = mean_h(A_h) diag(||Z W_v W_o|| / ||Z||)``, ``Z`` the block's
      attention input, ``W_v`` / ``W_o`` its value and output projections.

    Feedback: the rectified, head-averaged integrated gradient of the last block's attention (as
    :class:`~paddlex_interpret.engine.transformer.tam.TAM`). The map is the class token's row of
    ``P ⊙ feedback``. Unlike InterpretDL's BT it takes batches.

    Cost: head mode ``1 + steps`` forwards and ``1 + steps`` backwards per image; token mode
    ``1 + steps`` forwards and ``steps`` backwards.

    Parameters
    ----------
    classifier : Classifier
        A ViT-like image classifier.
    mode : {'head', 'token'}, default 'head'
    start_layer : int, default 0
        First block of the perception (0..number of blocks).
    steps : int, default 20
        Points of the integrated gradient.
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
        (InterpretDL: 'probability' for images, whose gradients vanish on a confident model)
    batch_size : int, default 16
    progress : bool, default False
    """

    method = "bidirectional"

    def __init__(self, classifier: Classifier, mode: str = "head", start_layer: int = 0, steps: int = 20,
                 gradient_of: str = "logit", batch_size: int = 16, progress: bool = False):
        super().__init__(classifier, start_layer=start_layer, batch_size=batch_size)
        if mode not in BT_MODES:
            raise ValueError(f"mode must be one of {BT_MODES}, got {mode!r}")
        self.mode = mode
        self.steps = check_positive_int(steps, "steps")
        self.gradient_of = check_gradient_of(gradient_of)
        self.progress = bool(progress)

    def relevance_matrix(self, inputs, targets, layout):
        if self.mode == "head":
            attentions, gradients, _ = capture_attention(self.classifier, self.attention, inputs, targets, layout,
                                                         self.gradient_of, gradients="all")
            perception = bt_head_matrix(attentions, gradients, self.start_layer)
        else:
            attentions, _, extra = capture_attention(self.classifier, self.attention, inputs, None, layout,
                                                     values=True)
            weights = self.attention.proj_weights()
            ratios = [token_norm_ratio(z, v, w) for z, v, w in zip(extra["block_inputs"], extra["values"], weights)]
            perception = bt_token_matrix(attentions, ratios, self.start_layer)
        feedback = last_layer_integrated_gradients(self.classifier, self.attention, inputs, targets, layout,
                                                   self.gradient_of, self.steps, self.batch_size, self.progress,
                                                   self.method)
        return perception * feedback.clip(min=0).mean(axis=1)

    def _method_params(self):
        return {"mode": self.mode, "steps": self.steps, "gradient_of": self.gradient_of}


class BidirectionalText(TextAttentionMethod):
    """BT on a PaddleNLP text classifier (head or token mode, see :class:`Bidirectional`); ``Z`` is the
    input of each layer's ``self_attn.v_proj``, the integrated gradient scales the token embeddings.

    Parameters
    ----------
    classifier : TextClassifier
    mode : {'head', 'token'}, default 'head'
    start_layer : int, default 0
    steps : int, default 20
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    batch_size : int, default 16
    progress : bool, default False
    """

    method = "bidirectional_text"

    def __init__(self, classifier, mode: str = "head", start_layer: int = 0, steps: int = 20,
                 gradient_of: str = "logit", batch_size: int = 16, progress: bool = False):
        super().__init__(classifier, start_layer=start_layer, batch_size=batch_size, progress=progress)
        if mode not in BT_MODES:
            raise ValueError(f"mode must be one of {BT_MODES}, got {mode!r}")
        self.mode = mode
        self.steps = check_positive_int(steps, "steps")
        self.gradient_of = check_gradient_of(gradient_of)

    def relevance_matrix(self, ids, target):
        if self.mode == "head":
            attentions, gradients, _ = self.attention.run(ids, np.array([target]), gradients="all",
                                                          objective=self._objective(self.gradient_of))
            perception = bt_head_matrix(attentions, gradients, self.start_layer)[0]
        else:
            attentions, _, extra = self.attention.run(ids, values=True)
            ratios = [token_norm_ratio(z, v, w) for z, v, w in
                      zip(extra["block_inputs"], extra["values"], self.attention.proj_weights())]
            perception = bt_token_matrix(attentions, ratios, self.start_layer)[0]
        feedback = self.integrated_last_gradients(ids, target, self.gradient_of, self.steps)
        return perception * np.clip(feedback, 0, None).mean(axis=0)

    def _method_params(self):
        return {"mode": self.mode, "steps": self.steps, "gradient_of": self.gradient_of}
