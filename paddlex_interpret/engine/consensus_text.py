"""Consensus for text (Li et al. 2021): one text method over several text models, each model's word
weights normalised, then averaged. Models may have different tokenizers: they meet at the word level."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..models.base import BaseTextClassifier
from .explanation import TextExplanation
from .text_words import check_segmentation

__all__ = ["TextConsensus", "NORMALIZATIONS"]

NORMALIZATIONS = ("max", "sum", "none")


class TextConsensus:
    """Explain one text with ``method`` under every classifier and average the normalised word weights.

    Each model's explanation (of its own top-1 class, or of ``targets``) is taken at the word level
    (:meth:`TextExplanation.word_weights`, the default rule or ``segmentation``), divided by its
    largest absolute word weight (``normalize='max'``), by the sum of absolute word weights
    (``'sum'``) or left as is (``'none'``), and the models' word weights are averaged. The result is
    a :class:`TextExplanation` whose tokens are the words (``offsets`` = the words' spans);
    ``params['per_model']`` keeps each model's normalised word weights, method and class.

    Parameters
    ----------
    method : class
        A text method class of :mod:`paddlex_interpret.engine` (e.g. ``TextIntegratedGradients``);
        built once per classifier with ``method_params``.
    classifiers : sequence of TextClassifier
    normalize : {'max', 'sum', 'none'}, default 'max'
    segmentation : list of str, optional
        The text's words (e.g. ``jieba.lcut(text)``); default: the default word rule.
    **method_params
        Passed to ``method``.
    """

    method = "consensus_text"

    def __init__(self, method, classifiers: Sequence[BaseTextClassifier], normalize: str = "max",
                 segmentation: Optional[Sequence[str]] = None, **method_params: Any):
        if isinstance(classifiers, (BaseTextClassifier, str, bytes)) or not hasattr(classifiers, "__iter__"):
            raise TypeError("classifiers must be a list of TextClassifier objects (for one model pass [classifier])")
        classifiers = list(classifiers)
        if not classifiers or not all(isinstance(c, BaseTextClassifier) for c in classifiers):
            raise TypeError("classifiers must be a non-empty list of TextClassifier objects")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.method_class = method
        self.classifiers = classifiers
        self.normalize = normalize
        self.segmentation = check_segmentation(segmentation, "segmentation")
        self.method_params = dict(method_params)

    def _normalised(self, weights: np.ndarray) -> np.ndarray:
        if self.normalize == "none":
            return weights
        scale = np.abs(weights).max() if self.normalize == "max" else np.abs(weights).sum()
        return weights / scale if scale > 0 else weights

    def explain(self, text: str, targets: Optional[Sequence[Optional[int]]] = None) -> TextExplanation:
        """Explain ``text``; ``targets``: None (each model's top-1) or one class (or None) per model."""
        if targets is not None and len(targets) != len(self.classifiers):
            raise ValueError(f"targets must give one class (or None) per model: {len(self.classifiers)} models, "
                             f"got {len(targets)}")
        per_model: List[Dict[str, Any]] = []
        words = spans = None
        total = None
        first = None
        for i, classifier in enumerate(self.classifiers):
            target = None if targets is None else targets[i]
            exp = self.method_class(classifier, **self.method_params).explain(text, targets=target)
            if self.segmentation is not None:
                exp = exp.with_segmentation(self.segmentation)
            w = self._normalised(exp.word_weights())
            if words is None:
                words, spans, first = exp.words, exp.word_offsets, exp
            elif exp.word_offsets != spans:
                raise ValueError(f"model {i} sees other words in the text than model 0 ({exp.words} vs {words}); "
                                 "is one of them cutting the text at its max_length?")
            total = w if total is None else total + w
            per_model.append({"method": exp.method, "target": exp.target, "label_name": exp.label_name,
                              "probability": exp.probability, "word_weights": w.tolist()})
        mean = total / len(self.classifiers)
        c = first.target
        return TextExplanation(
            method=self.method, text=text, tokens=list(words), token_ids=[-1] * len(words), targets=[c],
            weights={c: mean}, label_names={c: first.label_name}, probabilities={c: first.probability},
            class_names=list(first.class_names), class_probabilities=np.asarray(first.class_probabilities).copy(),
            params={"method": getattr(self.method_class, "method", str(self.method_class)),
                    "normalize": self.normalize, "num_models": len(self.classifiers), "per_model": per_model,
                    "method_params": self.method_params},
            offsets=[tuple(s) for s in spans], segmentation=self.segmentation)
