"""GradientSHAP (Lundberg & Lee 2017, http://papers.nips.cc/paper/7062), as InterpretDL and Captum."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...models.base import Classifier
from .._validation import check_positive_int
from ._core import (GradientMethod, accumulate_gradients, check_baselines, check_noise_amount, describe_baselines,
                    noise_scales, normalised_baselines, random_baseline, sample_rng)

__all__ = ["GradientShap"]


class GradientShap(GradientMethod):
    """Expected gradients at random points between a noisy input and a baseline.

    For each image ``x`` (normalised network input), its baseline ``b`` and sample
    ``k < n_samples``, with ``f`` the target's probability, logit or loss (``gradient_of``)::

        x_k     = x + sigma * z_k,   sigma = noise_amount * (x.max() - x.min()),  z_k ~ N(0, I)
        alpha_k ~ U(0, 1)
        p_k     = b_k + alpha_k * (x_k - b_k)
        attribution = mean_k  grad f(p_k) * (x_k - b_k)

    This is a one-sample-per-draw Monte Carlo estimate of Integrated Gradients averaged over
    input noise (and over baselines when they are random). Samples go through the network
    ``batch_size`` at a time.

    Parameters
    ----------
    classifier : Classifier
        Needs a differentiable ``forward``.
    n_samples : int, default 5
        Draws ``(z_k, alpha_k[, b_k])`` per image.
    noise_amount : float, default 0.1
        Noise std as a fraction of the image's value range in the normalised input space.
    baselines : None, 'random' or array, default None
        None: zeros of the normalised input (as InterpretDL). 'random': a new uniform-random uint8
        image (pixel values 0-255, normalised with ``classifier.preprocess``) for every sample,
        i.e. the expectation over a uniform baseline distribution. An array: images in pixel space
        (uint8, or floats in [0, 255]) at the explained size, ``(H, W, 3)`` for all images or
        ``(N, H, W, 3)`` one per image, normalised with ``classifier.preprocess``.
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 25
        Samples per forward/backward pass; results do not depend on it beyond float32 rounding.
    random_state : int or None, default None
        Seed. Sample ``k`` draws, from a generator seeded by ``(seed, k)`` only and in this order,
        ``alpha_k``, then ``z_k``, then (for 'random') ``b_k``; the draws do not depend on
        ``batch_size`` or the other images of a batch. None draws a fresh seed each call,
        recorded in ``params()['random_state']``.
    """

    method = "gradshap"

    def __init__(self, classifier: Classifier, n_samples: int = 5, noise_amount: float = 0.1, baselines=None,
                 gradient_of: str = "probability", batch_size: int = 25, random_state: Optional[int] = None):
        super().__init__(classifier, gradient_of, batch_size, random_state)
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.noise_amount = check_noise_amount(noise_amount)
        self.baselines = check_baselines(baselines, allow_random=True)

    def _attribute(self, images, inputs, targets, seed):
        sigmas = noise_scales(inputs, self.noise_amount)
        shape = inputs.shape[1:]
        random = isinstance(self.baselines, str)
        fixed = None if random else normalised_baselines(self.classifier, self.baselines, images, inputs)

        def make_points(i, ks):
            points, factors = [], []
            for k in ks:
                rng = sample_rng(seed, k)
                alpha = np.float32(rng.random())
                x_noisy = inputs[i] + sigmas[i] * rng.standard_normal(shape, dtype=np.float32)
                b = random_baseline(self.classifier, rng, images.shape[1:3]) if random else fixed[i]
                if b.shape != shape:
                    raise ValueError(f"random baselines normalise to shape {b.shape}, the images to {shape}")
                delta = x_noisy - b
                points.append(b + alpha * delta)
                factors.append(delta.astype(np.float64))
            return np.stack(points), np.stack(factors)

        return accumulate_gradients(self.classifier, targets, self.n_samples, self.batch_size, self.gradient_of,
                                    make_points)

    def _method_params(self):
        return {"n_samples": self.n_samples, "noise_amount": self.noise_amount,
                "baselines": describe_baselines(self.baselines)}
