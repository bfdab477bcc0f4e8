"""Deletion and insertion over tokens (AOPC; Samek et al. 2017, DeYoung et al. 2020) for text explanations."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..engine._validation import check_positive_int
from ._text_common import check_level, check_mask_token, check_text_inputs, expand_keeps, probabilities_of, \
    unit_ranking
from .base import Metric, MetricResult

__all__ = ["TextDeletion", "TextInsertion"]


class _TokenCurve(Metric):
    applies_to = ("text",)
    needs_model = True
    higher_is_better = True
    _insert = False

    def __init__(self, mask_token: str = "unk", max_steps: Optional[int] = None, batch_size: int = 50,
                 level: str = "token"):
        self.mask_token = check_mask_token(mask_token)
        self.level = check_level(level)
        self.max_steps = None if max_steps is None else check_positive_int(max_steps, "max_steps")
        self.batch_size = check_positive_int(batch_size, "batch_size")

    def evaluate(self, explanation, classifier=None, target: Optional[int] = None, **inputs) -> MetricResult:
        explanation, classifier = check_text_inputs(explanation, classifier, self.name)
        target = explanation.target if target is None else int(target)
        order, members = unit_ranking(explanation, target, self.level)
        n = len(order)
        counts = np.arange(n + 1)
        if self.max_steps is not None and self.max_steps < n:
            counts = np.unique(np.round(np.linspace(0, n, self.max_steps + 1)).astype(int))
        keeps = np.zeros((len(counts), n), dtype=bool)
        for row, k in enumerate(counts):
            if self._insert:
                keeps[row, order[:k]] = True
            else:
                keeps[row] = True
                keeps[row, order[:k]] = False
        keeps = expand_keeps(keeps, members, explanation.num_tokens)
        curve = probabilities_of(classifier, explanation.token_ids, keeps, target, self.mask_token, self.batch_size)
        reference = curve[0]
        aopc = float(np.mean(reference - curve) if not self._insert else np.mean(curve - reference))
        x = counts / n
        auc = float(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(x)))  # trapezoids under p(fraction)
        return MetricResult(self.name, aopc, self.higher_is_better,
                            {"counts": counts, "probabilities": curve, "auc": auc, "target": target,
                             "ranking": order, "mask_token": self.mask_token,
                             "level": self.level})


class TextDeletion(_TokenCurve):
    """Hide the tokens in the explanation's order (highest weight first), one more per step, and
    watch the target's probability fall. Score: AOPC, the mean over steps ``k = 0..n`` of
    ``p(text) - p(text without the top k tokens)`` (higher = the ranking finds what matters);
    ``details['auc']`` is the area under the probability curve (lower is better).

    Parameters
    ----------
    mask_token : {'unk', 'pad', 'mask', 'remove'}, default 'unk'
        How hidden tokens are hidden.
    max_steps : int or None, default None
        At most this many steps (evenly spaced token counts); None: one step per token.
    batch_size : int, default 50
        Texts per forward pass.
    level : {'token', 'word'}, default 'token'
        Rank and hide tokens, or words (all tokens of a word together, ranked by the word weights).
    """

    name = "text_deletion"
    description = "AOPC of deleting tokens in ranking order: mean drop of the class probability"


class TextInsertion(_TokenCurve):
    """Start with every token hidden and reveal them in the explanation's order. Score: AOPC, the mean
    over steps of ``p(top k tokens only) - p(nothing)`` (higher is better). Parameters as
    :class:`TextDeletion`."""

    name = "text_insertion"
    description = "AOPC of inserting tokens in ranking order into an empty text: mean rise of the probability"
    _insert = True
