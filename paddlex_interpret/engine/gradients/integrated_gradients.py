"""Integrated Gradients (Sundararajan et al. 2017, https://arxiv.org/abs/1703.01365)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...models.base import Classifier
from .._validation import check_positive_int
from ._core import (GradientMethod, accumulate_gradients, check_baselines, describe_baselines,
                    normalised_baselines, random_baseline, sample_rng)

__all__ = ["IntegratedGradients"]


class IntegratedGradients(GradientMethod):
    """``(x - b)`` times the gradient averaged along the straight path from a baseline ``b`` to ``x``.

    With ``f`` the target's probability, logit or loss (``gradient_of``) and everything in the
    network's normalised input space, the path integral is approximated by the midpoint rule::

        attribution = (x - b) * (1 / steps) * sum_{s < steps} grad f(b + (s + 0.5) / steps * (x - b))

    The midpoint rule's error falls as ``1 / steps**2``, so completeness,
    ``sum(attribution) = f(x) - f(b)``, holds closely (within 1% at ``steps=200`` on a real
    ImageNet network). The ``steps`` path points (times the baselines) go through the network
    ``batch_size`` at a time.

    Parameters
    ----------
    classifier : Classifier
        Needs a differentiable ``forward``.
    steps : int, default 50
        Points of the Riemann (midpoint) sum.
    baselines : None, 'random' or array, default None
        None: zeros of the normalised input (as InterpretDL). 'random': ``num_random_trials``
        uniform-random uint8 images (pixel values 0-255) normalised with ``classifier.preprocess``;
        the attributions of the trials are averaged. An array: images in pixel space (uint8, or
        floats in [0, 255]) at the explained size, ``(H, W, 3)`` for all images or
        ``(N, H, W, 3)`` one per image, normalised with ``classifier.preprocess``.
    num_random_trials : int, default 10
        Random baselines, used when ``baselines='random'``.
    gradient_of : {'probability', 'logit', 'loss'}, default 'probability'
    batch_size : int, default 25
        Path points per forward/backward pass; results do not depend on it beyond float32
        rounding of the network.
    random_state : int or None, default None
        Seed of the random baselines: trial ``t`` is drawn from a generator seeded by
        ``(seed, t)``, shared by every image of a batch. None draws a fresh seed each call,
        recorded in ``params()['random_state']``.
    """

    method = "intgrad"

    def __init__(self, classifier: Classifier, steps: int = 50, baselines=None, num_random_trials: int = 10,
                 gradient_of: str = "probability", batch_size: int = 25, random_state: Optional[int] = None):
        super().__init__(classifier, gradient_of, batch_size, random_state)
        self.steps = check_positive_int(steps, "steps")
        self.baselines = check_baselines(baselines, allow_random=True)
        self.num_random_trials = check_positive_int(num_random_trials, "num_random_trials")

    def _attribute(self, images, inputs, targets, seed):
        if isinstance(self.baselines, str):  # 'random': one baseline per trial, shared by all images
            trials = self.num_random_trials
            shared = np.stack([random_baseline(self.classifier, sample_rng(seed, t), images.shape[1:3])
                               for t in range(trials)])
            if shared.shape[1:] != inputs.shape[1:]:
                raise ValueError(f"random baselines normalise to shape {shared.shape[1:]}, "
                                 f"the images to {inputs.shape[1:]}")

            def baseline(i, t):
                return shared[t]
        else:
            trials = 1
            per_image = normalised_baselines(self.classifier, self.baselines, images, inputs)

            def baseline(i, t):
                return per_image[i]

        steps = self.steps
        alphas = (np.arange(steps, dtype=np.float64) + 0.5) / steps

        def make_points(i, js):
            # sample j of image i = step (j % steps) of trial (j // steps)
            points, factors = [], []
            for t in np.unique(js // steps):
                a = alphas[js[js // steps == t] % steps].astype(np.float32)
                b = baseline(i, t)
                delta = inputs[i] - b
                points.append(b + a.reshape((-1,) + (1,) * delta.ndim) * delta)
                factors.append(np.broadcast_to(delta.astype(np.float64), (len(a),) + delta.shape))
            return np.concatenate(points), np.concatenate(factors)

        return accumulate_gradients(self.classifier, targets, trials * steps, self.batch_size, self.gradient_of,
                                    make_points)

    def _method_params(self):
        return {"steps": self.steps, "baselines": describe_baselines(self.baselines),
                "num_random_trials": self.num_random_trials}
