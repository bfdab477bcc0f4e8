"""Integrated Gradients on token embeddings (Sundararajan et al. 2017) for text classifiers."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...models.base import BaseTextClassifier
from .._validation import check_positive_int
from ._text_core import TextGradientMethod, accumulate, check_text_baseline, objective_values
from .integrated_gradients import path_points

__all__ = ["TextIntegratedGradients"]


class TextIntegratedGradients(TextGradientMethod):
    """``(e - b)`` times the gradient averaged along the straight path from baseline embeddings ``b``
    to the text's embeddings ``e`` (the output of the model's token-embedding layer).

    The embedding layer's output is replaced by ``b + alpha_s * (e - b)`` for every step ``s`` (a
    forward post-hook, all steps batched ``batch_size`` at a time) and ``paddle.grad`` gives the
    gradient of ``f`` (the target's probability, logit or loss) w.r.t. it::

        attribution = (e - b) * sum_s w_s * grad f(b + alpha_s * (e - b))      # (L, H)

    with the partition of :func:`~.integrated_gradients.path_points` (denser near the baseline;
    the weights sum to 1). Each token's weight is the sum over the hidden dimension (or its L2
    norm); the special tokens' share is recorded in ``params['special_tokens_attribution']``.
    Completeness, ``sum(attribution) = f(e) - f(b)``, is checked and recorded per class in
    ``params['completeness']``: ``f_input``, ``f_baseline``, ``attribution_sum``, ``gap``
    (``attribution_sum - (f_input - f_baseline)``) and ``relative_gap`` (|gap| / |f_input - f_baseline|).

    Parameters
    ----------
    classifier : TextClassifier
        A PaddleNLP sequence classifier (ERNIE, BERT, Auto...) with a token-embedding layer.
    steps : int, default 50
        Points of the Riemann sum; 200 brings completeness within 1% on small ERNIE models.
    baseline : {'pad', 'unk', 'mask', 'zero'}, default 'pad'
        The reference: the same sequence with its special tokens ([CLS], [SEP]) kept and every
        content token replaced by [PAD] (default), [UNK] or [MASK], embedded by the model's own
        layer; or zero embeddings everywhere (specials included). The attention mask is that of
        the text throughout, so [PAD] in the baseline is attended to like any token.
    reduction : {'sum', 'l2'}, default 'sum'
        Per token: the signed sum over the hidden dimension (completeness holds for it) or the L2
        norm (>= 0).
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 50
        Path points per forward/backward pass; results do not depend on it beyond float32 rounding.
    random_state : int or None, default None
        Unused by the method (it is deterministic); recorded for a uniform interface.
    progress : bool, default False
        A tqdm bar over the path points.
    """

    method = "intgrad_text"
    _progress_desc = "IG text"
    _record_name = "completeness"

    def __init__(self, classifier: BaseTextClassifier, steps: int = 50, baseline: str = "pad",
                 reduction: str = "sum", gradient_of: str = "probability", batch_size: int = 50,
                 random_state: Optional[int] = None, progress: bool = False):
        super().__init__(classifier, gradient_of, reduction, batch_size, random_state, progress)
        self.steps = check_positive_int(steps, "steps")
        self.baseline = check_text_baseline(baseline, classifier)

    def _num_points(self) -> int:
        return self.steps

    def _attribute(self, inp, target, seed, bar):
        e = inp.embeddings.astype(np.float32)
        b = inp.baseline(self.classifier, self.baseline).astype(np.float32)
        delta = (e - b)
        alphas, weights = path_points(self.steps)

        def make_points(js):
            a = alphas[js].astype(np.float32)[:, None, None]
            return b[None] + a * delta[None], weights[js][:, None, None] * delta[None].astype(np.float64)

        attribution = accumulate(self.classifier, inp.ids, target, self.steps, self.batch_size, self.gradient_of,
                                 make_points, bar)
        f_input, f_base = objective_values(self.classifier, inp.ids, np.stack([e, b]), target, self.gradient_of)
        total = float(attribution.sum())
        change = f_input - f_base
        gap = total - change
        record = {"f_input": float(f_input), "f_baseline": float(f_base), "attribution_sum": total,
                  "gap": float(gap), "relative_gap": float(abs(gap) / abs(change)) if change != 0 else
                  (0.0 if gap == 0 else float("inf"))}
        return attribution, record

    def _method_params(self):
        return {"steps": self.steps, "baseline": self.baseline}
