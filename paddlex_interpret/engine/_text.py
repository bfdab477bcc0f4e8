"""What every text method does before its own work: check the text, tokenize it, refuse a text with no
tokens, predict it once and choose the classes to explain (``targets``, or the ``top_k`` most probable).

The model is reached only through :class:`~paddlex_interpret.models.base.BaseTextClassifier`
(``encode``, ``predict_proba``, ``num_classes``, ``check_targets``).
"""
from __future__ import annotations

from typing import List, NamedTuple, Sequence, Union

import numpy as np

from ..models.base import BaseTextClassifier
from ._validation import check_positive_int

__all__ = ["EncodedText", "TextPrediction", "encode_text", "choose_classes", "predict_text"]

Targets = Union[None, int, Sequence[int]]


class EncodedText(NamedTuple):
    """A text as the tokenizer cuts it: content tokens (str), their ids (int), whether it was cut."""

    tokens: List[str]
    ids: List[int]
    truncated: bool


class TextPrediction(NamedTuple):
    """:class:`EncodedText` plus the model's class probabilities on the text and the classes to explain."""

    tokens: List[str]
    ids: List[int]
    truncated: bool
    #: ``(num_classes,)`` probabilities of the text itself
    probs: np.ndarray
    #: the classes to explain, in order
    classes: List[int]

    @property
    def encoded(self) -> EncodedText:
        return EncodedText(self.tokens, self.ids, self.truncated)


def encode_text(classifier: BaseTextClassifier, text) -> EncodedText:
    """``text`` tokenized by ``classifier.encode``; errors if it is not a str, is empty (or only
    whitespace), or gives no tokens."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty (or only whitespace); give the text to explain")
    tokens, ids, truncated = classifier.encode(text)
    tokens, ids = [str(t) for t in tokens], [int(i) for i in ids]
    if not ids:
        raise ValueError(f"text {text!r} gives no tokens with this tokenizer")
    return EncodedText(tokens, ids, bool(truncated))


def choose_classes(classifier: BaseTextClassifier, probs: np.ndarray, targets: Targets = None,
                   top_k: int = 1) -> List[int]:
    """The classes to explain: ``targets`` checked by ``classifier.check_targets``, or (``targets`` None)
    the ``top_k`` most probable classes of ``probs`` (ties: the lower class first)."""
    if targets is not None:
        return list(classifier.check_targets(targets))
    top_k = check_positive_int(top_k, "top_k")
    if top_k > classifier.num_classes:
        raise ValueError(f"top_k={top_k} exceeds the model's {classifier.num_classes} classes")
    return [int(c) for c in np.argsort(-probs, kind="stable")[:top_k]]


def predict_text(classifier: BaseTextClassifier, text, targets: Targets = None, top_k: int = 1) -> TextPrediction:
    """:func:`encode_text`, one forward pass of the text (``predict_proba``, batch of 1) and
    :func:`choose_classes` on its probabilities."""
    encoded = encode_text(classifier, text)
    probs = classifier.predict_proba([encoded.ids], batch_size=1)[0]
    return TextPrediction(*encoded, probs, choose_classes(classifier, probs, targets, top_k))
