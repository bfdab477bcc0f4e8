"""Generic Attention explainability (Chefer, Gur & Wolf 2021, https://arxiv.org/abs/2103.15679),
the self-attention rules (eqs. 5-6) for ViT-style classifiers."""
from __future__ import annotations

import numpy as np

from ...models.base import Classifier
from ..gradients._core import check_gradient_of
from ._core import AttentionMapMethod, capture_attention, generic_attention_matrix
from ._text_core import TextAttentionMethod

__all__ = ["GenericAttention", "GenericAttentionText"]


class GenericAttention(AttentionMapMethod):
    """Relevance ``R = I`` updated block by block, ``R <- R + mean_h((dy/dA_l ⊙ A_l)^+) R``: the
    gradient-weighted attention of each head rectified before the heads are averaged (as the paper,
    unlike InterpretDL's GACV/GANLP, which average first). The class token's row is the map.

    Cost: one forward and one backward per image.

    Parameters
    ----------
    classifier : Classifier
        A ViT-like image classifier.
    start_layer : int, default 0
        First block used (0..number of blocks; the number of blocks leaves ``R = I``, a zero map).
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
        What ``y`` is (the paper: the class logit).
    batch_size : int, default 16
        Images per forward/backward; does not change results.
    """

    method = "generic_attention"

    def __init__(self, classifier: Classifier, start_layer: int = 0, gradient_of: str = "logit", batch_size: int = 16):
        super().__init__(classifier, start_layer=start_layer, batch_size=batch_size)
        self.gradient_of = check_gradient_of(gradient_of)

    def relevance_matrix(self, inputs, targets, layout):
        attentions, gradients, _ = capture_attention(self.classifier, self.attention, inputs, targets, layout,
                                                     self.gradient_of, gradients="all")
        return generic_attention_matrix(attentions, gradients, self.start_layer)

    def _method_params(self):
        return {"gradient_of": self.gradient_of}


class GenericAttentionText(TextAttentionMethod):
    """Generic Attention on a PaddleNLP text classifier: ``R <- R + mean_h((dy/dA ⊙ A)^+) R``, heads
    rectified before the mean (InterpretDL's GANLP averages first); the [CLS] row. One forward and
    one backward per explained class.

    Parameters
    ----------
    classifier : TextClassifier
    start_layer : int, default 0
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    """

    method = "generic_attention_text"

    def __init__(self, classifier, start_layer: int = 0, gradient_of: str = "logit"):
        super().__init__(classifier, start_layer=start_layer)
        self.gradient_of = check_gradient_of(gradient_of)

    def relevance_matrix(self, ids, target):
        attentions, gradients, _ = self.attention.run(ids, np.array([target]), gradients="all",
                                                      objective=self._objective(self.gradient_of))
        return generic_attention_matrix(attentions, gradients, self.start_layer)[0]

    def _method_params(self):
        return {"gradient_of": self.gradient_of}
