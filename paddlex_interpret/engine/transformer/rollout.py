"""Attention Rollout (Abnar & Zuidema 2020, https://arxiv.org/abs/2005.00928)."""
from __future__ import annotations

from ...models.base import Classifier
from ._core import HEAD_FUSIONS, AttentionMapMethod, capture_attention, rollout_matrix
from ._text_core import TextAttentionMethod

__all__ = ["Rollout", "RolloutText"]


class Rollout(AttentionMapMethod):
    """Attention rollout: the blocks' attention, heads fused and the residual added as an identity
    (rows renormalised), multiplied from ``start_layer`` to the last block; the class token's row,
    without the special tokens, is the map. Class-agnostic (``target`` only labels the result).

    Cost: one forward per image, no backward.

    Parameters
    ----------
    classifier : Classifier
        A ViT-like image classifier (see :mod:`paddlex_interpret.models.attention`).
    start_layer : int, default 0
        First block in the product (0..number of blocks; the number of blocks gives the identity).
    head_fusion : {'mean', 'max', 'min'}, default 'mean'
        How the heads of a block are combined ('mean' is the paper's).
    batch_size : int, default 16
        Images per forward; does not change results.
    """

    method = "rollout"

    def __init__(self, classifier: Classifier, start_layer: int = 0, head_fusion: str = "mean", batch_size: int = 16):
        super().__init__(classifier, start_layer=start_layer, batch_size=batch_size)
        if head_fusion not in HEAD_FUSIONS:
            raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
        self.head_fusion = head_fusion

    def relevance_matrix(self, inputs, targets, layout):
        attentions, _, _ = capture_attention(self.classifier, self.attention, inputs, None, layout)
        return rollout_matrix(attentions, self.start_layer, self.head_fusion)

    def _method_params(self):
        return {"head_fusion": self.head_fusion}


class RolloutText(TextAttentionMethod):
    """Attention rollout on a PaddleNLP text classifier: the [CLS] row of the rollout matrix, one weight
    per content token (class-agnostic). One forward.

    Parameters
    ----------
    classifier : TextClassifier
        ERNIE/BERT-style (``output_attentions`` in its forward).
    start_layer : int, default 0
    head_fusion : {'mean', 'max', 'min'}, default 'mean'
    """

    method = "rollout_text"

    def __init__(self, classifier, start_layer: int = 0, head_fusion: str = "mean"):
        super().__init__(classifier, start_layer=start_layer)
        if head_fusion not in HEAD_FUSIONS:
            raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
        self.head_fusion = head_fusion

    def relevance_matrix(self, ids, target):
        attentions, _, _ = self.attention.run(ids)
        return rollout_matrix(attentions, self.start_layer, self.head_fusion)[0]

    def _method_params(self):
        return {"head_fusion": self.head_fusion}
