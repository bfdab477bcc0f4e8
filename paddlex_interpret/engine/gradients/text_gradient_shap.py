"""GradientSHAP on token embeddings (Lundberg & Lee 2017; expected gradients) for text classifiers."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from ...models.base import BaseTextClassifier
from .._validation import check_positive_int
from ._text_core import TEXT_BASELINES, TextGradientMethod, accumulate, check_noise_amount, check_text_baseline, \
    sample_rng
from .text_smoothgrad import embedding_spread

__all__ = ["TextGradientShap"]


class TextGradientShap(TextGradientMethod):
    """Expected gradients at random points between noisy text embeddings and baselines.

    For the text's embeddings ``e`` and sample ``k``::

        alpha_k ~ U(0, 1);  b_k drawn uniformly from ``baselines``;  z_k ~ N(0, I)
        e_k = e + sigma * z_k on the content tokens,  sigma = noise_amount * std(e over content tokens)
        attribution = mean_k grad f(b_k + alpha_k * (e_k - b_k)) * (e - b_k)

    reduced per token (sum over the hidden dimension, or L2 norm). A Monte Carlo estimate of
    Integrated Gradients averaged over baselines and input noise: ``sum(attribution)`` approaches
    ``f(e) - mean_b f(b)`` as ``n_samples`` grows and the noise shrinks.

    Parameters
    ----------
    classifier : TextClassifier
    n_samples : int, default 50
    noise_amount : float, default 0.1
        Noise std as a fraction of the embeddings' standard deviation (their spread).
    baselines : str or list of str, default ('pad', 'unk', 'mask')
        Baseline kinds of :data:`TEXT_BASELINES` (see :class:`TextIntegratedGradients`), a list or a
        comma-separated string; the default keeps the kinds the tokenizer has tokens for, any other
        kind the tokenizer lacks a token for is refused.
    reduction : {'sum', 'l2'}, default 'sum'
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 50
    random_state : int or None, default None
        Seed: sample ``k`` draws ``alpha_k``, then ``b_k``, then ``z_k`` from a generator seeded by
        ``(seed, k)`` only (independent of ``batch_size``). None draws one, recorded.
    progress : bool, default False
    """

    method = "gradshap_text"
    _progress_desc = "GradientSHAP text"
    _record_name = "noise"

    def __init__(self, classifier: BaseTextClassifier, n_samples: int = 50, noise_amount: float = 0.1,
                 baselines: Union[str, Sequence[str]] = ("pad", "unk", "mask"), reduction: str = "sum",
                 gradient_of: str = "probability", batch_size: int = 50, random_state: Optional[int] = None,
                 progress: bool = False):
        super().__init__(classifier, gradient_of, reduction, batch_size, random_state, progress)
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.noise_amount = check_noise_amount(noise_amount)
        if isinstance(baselines, str):  # one kind, or a comma-separated list (the command line)
            baselines = [b.strip() for b in baselines.split(",")]
        if not isinstance(baselines, (list, tuple)) or not baselines:
            raise ValueError(f"baselines must be one of {TEXT_BASELINES} or a non-empty list of them, "
                             f"got {baselines!r}")
        if baselines == ("pad", "unk", "mask"):  # the default: keep those this tokenizer has
            kept = [b for b in baselines if _supported(b, classifier)]
            baselines = kept or ["zero"]
        self.baselines = [check_text_baseline(b, classifier, "baselines") for b in baselines]

    def _num_points(self) -> int:
        return self.n_samples

    def _attribute(self, inp, target, seed, bar):
        e = inp.embeddings.astype(np.float32)
        refs = np.stack([inp.baseline(self.classifier, b) for b in self.baselines]).astype(np.float32)
        sigma = np.float32(self.noise_amount * embedding_spread(e[inp.content]))
        n = e[inp.content].shape

        def make_points(ks):
            points, factors = [], []
            for k in ks:
                rng = sample_rng(seed, int(k))
                alpha = np.float32(rng.random())
                b = refs[int(rng.integers(len(refs)))]
                noisy = e.copy()
                noisy[inp.content] += sigma * rng.standard_normal(n, dtype=np.float32)
                points.append(b + alpha * (noisy - b))
                factors.append((e - b).astype(np.float64))
            return np.stack(points), np.stack(factors)

        attribution = accumulate(self.classifier, inp.ids, target, self.n_samples, self.batch_size, self.gradient_of,
                                 make_points, bar) / self.n_samples
        return attribution, {"noise_std": float(sigma)}

    def _method_params(self):
        return {"n_samples": self.n_samples, "noise_amount": self.noise_amount, "baselines": list(self.baselines)}


def _supported(baseline, classifier) -> bool:
    try:
        check_text_baseline(baseline, classifier)
    except ValueError:
        return False
    return True
