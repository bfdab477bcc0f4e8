"""SmoothGrad on token embeddings (Smilkov et al. 2017) for text classifiers."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...models.base import BaseTextClassifier
from .._validation import check_positive_int
from ._text_core import TextGradientMethod, accumulate, check_noise_amount, sample_rng

__all__ = ["TextSmoothGrad", "embedding_spread"]


def embedding_spread(embeddings: np.ndarray) -> float:
    """The standard deviation of all entries of the content tokens' embeddings ``(n, H)`` (their
    spread; not their mean, which is near zero for trained embeddings)."""
    return float(np.std(np.asarray(embeddings, dtype=np.float64)))


class TextSmoothGrad(TextGradientMethod):
    """The gradient w.r.t. the token embeddings averaged over noisy copies, times the embeddings.

    For the text's embeddings ``e`` (the token-embedding layer's output) and sample ``k``::

        e_k = e + sigma * z_k  on the content tokens (special tokens kept),   z_k ~ N(0, I)
        sigma = noise_amount * std(e over the content tokens)
        attribution = e * mean_k grad f(e_k)     (multiply_by_input=True, default)
                    =     mean_k grad f(e_k)     (multiply_by_input=False)

    reduced per token by the sum over the hidden dimension or its L2 norm. The embedding layer's
    output is replaced by ``e_k`` through a forward post-hook, ``batch_size`` copies at a time.
    Gradient times input is the default because a token's raw gradient says how the score would
    change if the token's vector moved, not how much the token contributes; for a bag-of-words model
    the raw gradient is the same for every token.

    Parameters
    ----------
    classifier : TextClassifier
    n_samples : int, default 50
        Noisy copies.
    noise_amount : float, default 0.1
        Noise std as a fraction of the embeddings' standard deviation.
    multiply_by_input : bool, default True
    reduction : {'sum', 'l2'}, default 'sum'
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 50
        Copies per forward/backward pass; results do not depend on it beyond float32 rounding.
    random_state : int or None, default None
        Seed: ``z_k`` comes from a generator seeded by ``(seed, k)`` only, so results do not depend
        on ``batch_size``. None draws one, recorded in ``params['random_state']``.
    progress : bool, default False
    """

    method = "smoothgrad_text"
    _progress_desc = "SmoothGrad text"
    _record_name = "noise"

    def __init__(self, classifier: BaseTextClassifier, n_samples: int = 50, noise_amount: float = 0.1,
                 multiply_by_input: bool = True, reduction: str = "sum", gradient_of: str = "probability",
                 batch_size: int = 50, random_state: Optional[int] = None, progress: bool = False):
        super().__init__(classifier, gradient_of, reduction, batch_size, random_state, progress)
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.noise_amount = check_noise_amount(noise_amount)
        if not isinstance(multiply_by_input, (bool, np.bool_)):
            raise TypeError(f"multiply_by_input must be True or False, got {multiply_by_input!r}")
        self.multiply_by_input = bool(multiply_by_input)

    def _num_points(self) -> int:
        return self.n_samples

    def _attribute(self, inp, target, seed, bar):
        e = inp.embeddings.astype(np.float32)
        sigma = np.float32(self.noise_amount * embedding_spread(e[inp.content]))
        n = e[inp.content].shape

        def make_points(ks):
            points = np.repeat(e[None], len(ks), axis=0)
            noise = np.stack([sample_rng(seed, int(k)).standard_normal(n, dtype=np.float32) for k in ks])
            points[:, inp.content] += sigma * noise
            return points, None

        mean_grad = accumulate(self.classifier, inp.ids, target, self.n_samples, self.batch_size, self.gradient_of,
                               make_points, bar) / self.n_samples
        attribution = mean_grad * e.astype(np.float64) if self.multiply_by_input else mean_grad
        return attribution, {"noise_std": float(sigma)}

    def _method_params(self):
        return {"n_samples": self.n_samples, "noise_amount": self.noise_amount,
                "multiply_by_input": self.multiply_by_input}
