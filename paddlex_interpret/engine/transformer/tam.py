"""Transition Attention Maps (Yuan, Li, Xiong, Cao & Dou 2021, "Explaining information flow inside
vision transformers using Markov chain", https://openreview.net/forum?id=TT-cf6QSDaQ)."""
from __future__ import annotations

from ...models.base import Classifier
from .._validation import check_positive_int
from ..gradients._core import check_gradient_of
from ._core import AttentionMapMethod, capture_attention, last_layer_integrated_gradients, tam_matrix
from ._text_core import TextAttentionMethod

__all__ = ["TAM", "TAMText"]


class TAM(AttentionMapMethod):
    """The attention as a Markov chain's transitions: the last block's head-averaged attention is
    carried back to ``start_layer`` with the residual (``s <- s A_l + s``), then weighted by the
    rectified, head-averaged integrated gradient of the last block's attention (the gradient averaged
    over ``steps`` inputs ``alpha * x``, alpha at the midpoints of [0, 1], zero baseline in the
    network's input space). The class token's row is the map.

    Cost: ``1 + steps`` forwards and ``steps`` backwards per image.

    Parameters
    ----------
    classifier : Classifier
        A ViT-like image classifier.
    start_layer : int, default 0
        Earliest block the state is carried back to (0..number of blocks - 1).
    steps : int, default 20
        Points of the integrated gradient.
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
        InterpretDL uses 'probability' for images; its gradients vanish on a confident model (a
        probability near 1 is flat). On the known-answer ViT of the tests (mean top probability 0.7)
        both give a 100% pointing game.
    batch_size : int, default 16
        Scaled inputs per forward/backward; does not change results.
    progress : bool, default False
        A tqdm bar over the batches of the integrated gradient.
    """

    method = "tam"
    _start_layer_margin = 1

    def __init__(self, classifier: Classifier, start_layer: int = 0, steps: int = 20,
                 gradient_of: str = "logit", batch_size: int = 16, progress: bool = False):
        super().__init__(classifier, start_layer=start_layer, batch_size=batch_size)
        self.steps = check_positive_int(steps, "steps")
        self.gradient_of = check_gradient_of(gradient_of)
        self.progress = bool(progress)

    def relevance_matrix(self, inputs, targets, layout):
        attentions, _, _ = capture_attention(self.classifier, self.attention, inputs, None, layout)
        integrated = last_layer_integrated_gradients(self.classifier, self.attention, inputs, targets, layout,
                                                     self.gradient_of, self.steps, self.batch_size,
                                                     self.progress, self.method)
        return tam_matrix(attentions, integrated, self.start_layer)

    def _method_params(self):
        return {"steps": self.steps, "gradient_of": self.gradient_of}


class TAMText(TextAttentionMethod):
    """Transition Attention Maps on a PaddleNLP text classifier; the integrated gradient scales the
    token embeddings (the embedding layer's output) by ``alpha``. ``1 + steps`` forwards and ``steps``
    backwards per explained class.

    Parameters
    ----------
    classifier : TextClassifier
    start_layer : int, default 0
        0..number of layers - 1.
    steps : int, default 20
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    batch_size : int, default 16
        Scaled copies per forward/backward.
    progress : bool, default False
    """

    method = "tam_text"
    _start_layer_margin = 1

    def __init__(self, classifier, start_layer: int = 0, steps: int = 20, gradient_of: str = "logit",
                 batch_size: int = 16, progress: bool = False):
        super().__init__(classifier, start_layer=start_layer, batch_size=batch_size, progress=progress)
        self.steps = check_positive_int(steps, "steps")
        self.gradient_of = check_gradient_of(gradient_of)

    def relevance_matrix(self, ids, target):
        attentions, _, _ = self.attention.run(ids)
        integrated = self.integrated_last_gradients(ids, target, self.gradient_of, self.steps)
        return tam_matrix(attentions, integrated[None], self.start_layer)[0]

    def _method_params(self):
        return {"steps": self.steps, "gradient_of": self.gradient_of}
