"""SmoothGrad (Smilkov et al. 2017, http://arxiv.org/abs/1706.03825)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...models.base import Classifier
from .._validation import check_positive_int
from ._core import GradientMethod, accumulate_gradients, check_noise_amount, noise_scales, sample_rng

__all__ = ["SmoothGrad"]


class SmoothGrad(GradientMethod):
    """The input gradient averaged over noisy copies of the image.

    For each image ``x`` (normalised network input) and sample ``k < n_samples``::

        x_k = x + sigma * z_k,    sigma = noise_amount * (x.max() - x.min()),  z_k ~ N(0, I)
        attribution = mean_k  d f(x_k) / d x_k

    where ``f`` is the target's probability, logit or loss (``gradient_of``). The noisy copies are
    built and sent through the network ``batch_size`` at a time, so memory does not grow with
    ``n_samples`` (this covers InterpretDL's ``SmoothGradInterpreterV2``).

    Parameters
    ----------
    classifier : Classifier
        Needs a differentiable ``forward``.
    n_samples : int, default 50
        Noisy copies per image.
    noise_amount : float, default 0.1
        Noise std as a fraction of the image's value range in the normalised input space.
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 25
        Noisy copies per forward/backward pass. Results do not depend on it beyond float32
        rounding of the network.
    random_state : int or None, default None
        Seed. ``z_k`` is drawn from a generator seeded by ``(seed, k)`` only, so results do not
        depend on ``batch_size`` or on the other images of a batch. None draws a fresh seed each
        call, recorded in ``params()['random_state']``.
    """

    method = "smoothgrad"

    def __init__(self, classifier: Classifier, n_samples: int = 50, noise_amount: float = 0.1,
                 gradient_of: str = "probability", batch_size: int = 25, random_state: Optional[int] = None):
        super().__init__(classifier, gradient_of, batch_size, random_state)
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.noise_amount = check_noise_amount(noise_amount)

    def _attribute(self, images, inputs, targets, seed):
        sigmas = noise_scales(inputs, self.noise_amount)
        shape = inputs.shape[1:]

        def make_points(i, ks):
            noise = np.stack([sample_rng(seed, k).standard_normal(shape, dtype=np.float32) for k in ks])
            return inputs[i] + sigmas[i] * noise, None

        return accumulate_gradients(self.classifier, targets, self.n_samples, self.batch_size, self.gradient_of,
                                    make_points)

    def _method_params(self):
        return {"n_samples": self.n_samples, "noise_amount": self.noise_amount}
