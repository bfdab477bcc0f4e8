"""ERASER's faithfulness metrics for text (DeYoung et al. 2020, https://arxiv.org/abs/1911.03429):
comprehensiveness and sufficiency of the top-ranked tokens, averaged over several rationale sizes."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from ..engine._validation import check_positive_int
from ._text_common import check_level, check_mask_token, check_text_inputs, expand_keeps, probabilities_of, \
    unit_ranking
from .base import Metric, MetricResult

__all__ = ["Comprehensiveness", "Sufficiency", "DEFAULT_BINS"]

#: ERASER's rationale sizes: the top 1, 5, 10, 20 and 50 % of the tokens
DEFAULT_BINS = (0.01, 0.05, 0.10, 0.20, 0.50)


def _check_bins(bins) -> tuple:
    try:
        bins = tuple(float(b) for b in bins)
    except (TypeError, ValueError):
        raise TypeError(f"bins must be a sequence of fractions in (0, 1], got {bins!r}") from None
    if not bins or any(not 0 < b <= 1 for b in bins):
        raise ValueError(f"bins must be fractions in (0, 1], got {bins!r}")
    return bins


class _Eraser(Metric):
    applies_to = ("text",)
    needs_model = True
    _keep_rationale = False

    def __init__(self, bins: Sequence[float] = DEFAULT_BINS, mask_token: str = "unk", batch_size: int = 50,
                 level: str = "token"):
        self.level = check_level(level)
        self.bins = _check_bins(bins)
        self.mask_token = check_mask_token(mask_token)
        self.batch_size = check_positive_int(batch_size, "batch_size")

    def sizes(self, n: int) -> np.ndarray:
        """Tokens in the rationale per bin: ``ceil(fraction * n)`` (at least 1, at most n)."""
        return np.asarray([min(n, max(1, math.ceil(b * n - 1e-9))) for b in self.bins], dtype=np.int64)

    def evaluate(self, explanation, classifier=None, target: Optional[int] = None, **inputs) -> MetricResult:
        explanation, classifier = check_text_inputs(explanation, classifier, self.name)
        target = explanation.target if target is None else int(target)
        order, members = unit_ranking(explanation, target, self.level)
        n = len(order)
        sizes = self.sizes(n)
        keeps = np.ones((len(sizes) + 1, n), dtype=bool)  # row 0: the full text
        for row, k in enumerate(sizes, start=1):
            if self._keep_rationale:
                keeps[row] = False
                keeps[row, order[:k]] = True
            else:
                keeps[row, order[:k]] = False
        keeps = expand_keeps(keeps, members, explanation.num_tokens)
        probs = probabilities_of(classifier, explanation.token_ids, keeps, target, self.mask_token, self.batch_size)
        drops = probs[0] - probs[1:]
        return MetricResult(self.name, float(drops.mean()), self.higher_is_better,
                            {"bins": np.asarray(self.bins), "sizes": sizes, "probability": float(probs[0]),
                             "probabilities": probs[1:], "per_bin": drops, "target": target, "ranking": order,
                             "mask_token": self.mask_token, "level": self.level})


class Comprehensiveness(_Eraser):
    """How much the probability of the class drops when the top-ranked tokens are hidden:
    ``mean_b p(text) - p(text without its top b% tokens)`` over the bins (ERASER's AOPC
    comprehensiveness). Higher is better: the rationale was needed.

    Parameters
    ----------
    bins : sequence of float, default (0.01, 0.05, 0.10, 0.20, 0.50)
        Rationale sizes as fractions of the tokens (each at least one token).
    mask_token : {'unk', 'pad', 'mask', 'remove'}, default 'unk'
        How hidden tokens are hidden ('remove' deletes them, as ERASER does).
    batch_size : int, default 50
    level : {'token', 'word'}, default 'token'
        Rationales of tokens, or of words (all tokens of a word together, ranked by the word weights;
        the bins are fractions of the words).
    """

    name = "comprehensiveness"
    higher_is_better = True
    description = "ERASER comprehensiveness: probability drop when the top-ranked tokens are hidden"


class Sufficiency(_Eraser):
    """How much the probability of the class drops when only the top-ranked tokens are kept:
    ``mean_b p(text) - p(only its top b% tokens)`` over the bins (ERASER's AOPC sufficiency).
    Lower is better: the rationale alone suffices. Parameters as :class:`Comprehensiveness`."""

    name = "sufficiency"
    higher_is_better = False
    description = "ERASER sufficiency: probability drop when only the top-ranked tokens are kept"
    _keep_rationale = True
