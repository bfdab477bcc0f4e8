"""The attention methods on text (PaddleNLP ERNIE/BERT): the same math as :mod:`._core` on the
attention maps the model returns with ``output_attentions=True``, read at the [CLS] row (position 0,
which the models' pooler reads) for the content tokens, as a
:class:`~paddlex_interpret.engine.explanation.TextExplanation`.

The model is reached only through :func:`~paddlex_interpret.models.base.text_attention_model`.
"""
from __future__ import annotations

from typing import Dict, Sequence, Union

import numpy as np

from ...models.base import BaseTextClassifier, text_attention_model
from .._text import predict_text
from .._validation import check_positive_int
from ..explanation import TextExplanation
from ._core import check_start_layer, midpoints

__all__ = ["TextAttentionMethod"]


class TextAttentionMethod:
    """Base of the attention methods on text: subclasses implement :meth:`relevance_matrix` (``(S, S)``
    for one content-id sequence and one class) and :meth:`_method_params`."""

    method = "attention_text"
    _start_layer_margin = 0
    #: the row the relevance is read at: the [CLS] token the pooler of ERNIE/BERT reads
    readout_row = 0

    def __init__(self, classifier: BaseTextClassifier, start_layer: int = 0, batch_size: int = 16,
                 progress: bool = False):
        if not isinstance(classifier, BaseTextClassifier):
            raise TypeError(f"classifier must be a text classifier (models.as_text_classifier), got "
                            f"{type(classifier).__name__}")
        self.classifier = classifier
        self.attention = text_attention_model(classifier)
        self.start_layer = check_start_layer(start_layer, self.attention.num_layers,
                                             self.attention.num_layers - self._start_layer_margin)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        self.progress = bool(progress)

    # -- subclasses ---------------------------------------------------------------------------------
    def relevance_matrix(self, ids: Sequence[int], target: int) -> np.ndarray:
        raise NotImplementedError

    def _method_params(self) -> dict:
        return {}

    def params(self) -> dict:
        return {**self._method_params(), "start_layer": self.start_layer, "batch_size": self.batch_size,
                "readout_row": self.readout_row}

    # -- shared pieces ------------------------------------------------------------------------------
    def _objective(self, gradient_of: str):
        from ..gradients._core import objective

        return lambda logits, targets: objective(self.classifier, logits, targets, gradient_of)

    def integrated_last_gradients(self, ids: Sequence[int], target: int, gradient_of: str, steps: int) -> np.ndarray:
        """Mean over ``alpha_s = (s + 0.5) / steps`` of the gradient w.r.t. the last layer's attention
        with the token embeddings scaled by ``alpha_s`` (zero baseline): ``(H, S, S)`` float64."""
        alphas = midpoints(steps)
        chunks = range(0, steps, self.batch_size)
        if self.progress:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc=f"{self.method} integrated gradients", unit="batch")
        total = None
        for start in chunks:
            part = alphas[start:start + self.batch_size]
            _, grads, _ = self.attention.run(ids, np.full(len(part), int(target)), gradients="last",
                                             embedding_scales=part, objective=self._objective(gradient_of))
            g = grads[0].astype(np.float64).sum(axis=0)
            total = g if total is None else total + g
        return total / steps

    # -- the run ------------------------------------------------------------------------------------
    def explain(self, text: str, targets: Union[None, int, Sequence[int]] = None, top_k: int = 1) -> TextExplanation:
        """Explain the classification of ``text`` for ``targets`` (default: the ``top_k`` most probable)."""
        tokens, ids, truncated, probs, classes = predict_text(self.classifier, text, targets, top_k)
        start = self.classifier.content_start(len(ids))
        content = slice(start, start + len(ids))
        weights: Dict[int, np.ndarray] = {}
        special: Dict[str, float] = {}
        for c in classes:
            row = np.asarray(self.relevance_matrix(ids, c), dtype=np.float64)[self.readout_row]
            weights[c] = row[content].copy()
            outside = np.ones(len(row), dtype=bool)
            outside[content] = False
            special[str(c)] = float(row[outside].sum())
        labels = list(self.classifier.labels)
        offsets = self.classifier.token_offsets(text, tokens) if hasattr(self.classifier, "token_offsets") else None
        return TextExplanation(
            method=self.method, text=text, tokens=tokens, token_ids=ids, targets=classes, weights=weights,
            label_names={c: labels[c] for c in classes}, probabilities={c: float(probs[c]) for c in classes},
            class_names=labels, class_probabilities=np.asarray(probs, dtype=np.float64).copy(),
            params={**self.params(), "truncated": bool(truncated), "special_tokens_relevance": special},
            offsets=None if offsets is None else [tuple(o) for o in offsets])
