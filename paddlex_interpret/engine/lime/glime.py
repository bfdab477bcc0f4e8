"""G-LIME: LIME whose local fit is pulled towards a global prior (e.g. NormLIME weights)."""
from __future__ import annotations

from typing import Callable, Optional, Union

import numpy as np

from .lime_image import LimeImage
from .local_model import LocalFit, _no_response_score

__all__ = ["GLime", "fit_with_prior", "PRIOR_METHODS"]

PRIOR_METHODS = ("none", "ridge")
PriorSource = Union[np.ndarray, Callable[[np.ndarray, np.ndarray, int], np.ndarray]]


def fit_with_prior(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, prior: np.ndarray,
                   reg_force: float) -> LocalFit:
    """Weighted ridge regression shrunk towards ``prior`` instead of towards zero.

    On kernel-weighted, centred, column-normalised features ``Z`` (column norms ``c``) it solves
    ``v = (Z^T Z + b I)^-1 (Z^T y + b t p)`` with ``b = reg_force`` and ``p = prior * c`` (the
    prior in the same units), then returns ``w = v / c``. ``t`` scales the prior to the L1 mass of
    the unregularised local fit, so a prior of any scale (NormLIME weights sum to 1 per class,
    LIME weights are probability differences) pulls in proportion. ``b -> 0`` gives the plain
    weighted least-squares fit, ``b -> inf`` returns ``t * prior``: the prior's ranking.
    """
    if reg_force < 0 or not np.isfinite(reg_force):
        raise ValueError(f"prior_reg_force must be a finite number >= 0, got {reg_force}")
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (X.shape[1],):
        raise ValueError(f"the prior needs one weight per superpixel ({X.shape[1]}), got shape {prior.shape}")
    sw = np.sqrt(sample_weight / sample_weight.sum())
    x_mean = sample_weight @ X / sample_weight.sum()
    y_mean = sample_weight @ y / sample_weight.sum()
    Z = (X - x_mean) * sw[:, None]
    t_y = (y - y_mean) * sw
    norms = np.linalg.norm(Z, axis=0)
    norms[norms == 0] = 1.0
    Z /= norms
    gram = Z.T @ Z
    rhs = Z.T @ t_y
    free = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    p = prior * norms
    scale = np.abs(free).sum() / np.abs(p).sum() if np.abs(p).sum() > 0 else 0.0
    v = np.linalg.solve(gram + reg_force * np.eye(len(p)), rhs + reg_force * scale * p)
    weights = v / norms
    intercept = float(y_mean - x_mean @ weights)
    pred = X @ weights + intercept
    resid = ((y - pred) ** 2) @ sample_weight
    total = ((y - y_mean) ** 2) @ sample_weight
    score = float(1 - resid / total) if total > 0 else _no_response_score()
    return LocalFit(weights, intercept, score, float(weights.sum() + intercept))


class GLime(LimeImage):
    """LIME with a global prior (G-LIME, Li et al.).

    Parameters
    ----------
    classifier : Classifier
    prior : array (num_superpixels,) or callable(image, segments, target) -> array
        The prior weight of each superpixel for the explained class; a callable is asked per
        image and class (NormLIME: the global weight of each superpixel's cluster).
    prior_method : {'none', 'ridge'}, default 'ridge'
        'none' ignores the prior and is exactly LIME.
    prior_reg_force : float, default 1.0
        Strength ``b`` of the pull towards the prior (see :func:`fit_with_prior`).
    **lime_params
        As :class:`LimeImage` (num_samples, batch_size, hide_color, segmentation, ...).
    """

    method = "glime"

    def __init__(self, classifier, prior: Optional[PriorSource] = None, prior_method: str = "ridge",
                 prior_reg_force: float = 1.0, **lime_params):
        super().__init__(classifier, **lime_params)
        if prior_method not in PRIOR_METHODS:
            raise ValueError(f"prior_method must be one of {PRIOR_METHODS}, got {prior_method!r}")
        if prior_method == "ridge" and prior is None:
            raise ValueError("prior_method='ridge' needs a prior (array or callable)")
        if isinstance(prior_reg_force, bool) or not (isinstance(prior_reg_force, (int, float)) and prior_reg_force >= 0):
            raise ValueError(f"prior_reg_force must be a number >= 0, got {prior_reg_force!r}")
        self.prior, self.prior_method, self.prior_reg_force = prior, prior_method, float(prior_reg_force)

    def explain(self, image, targets=None, top_k: int = 1):
        self._priors = {}  # a callable prior is asked once per explained class (bootstrap refits reuse it)
        return super().explain(image, targets=targets, top_k=top_k)

    def _fit_target(self, X, y, kernel, seed, target, image=None, segments=None):
        if self.prior_method == "none":
            return super()._fit_target(X, y, kernel, seed, target)
        return fit_with_prior(X, y, kernel, self._prior_of(target, image, segments), self.prior_reg_force)

    def _refit(self, X, y, kernel, seed, target, image=None, segments=None):
        if self.prior_method == "none":
            return super()._refit(X, y, kernel, seed, target)
        return fit_with_prior(X, y, kernel, self._prior_of(target, image, segments), self.prior_reg_force)

    def _prior_of(self, target, image, segments) -> np.ndarray:
        if target not in self._priors:
            self._priors[target] = self.prior(image, segments, target) if callable(self.prior) else self.prior
        return self._priors[target]

    def params(self, seed):
        return {**super().params(seed), "prior_method": self.prior_method, "prior_reg_force": self.prior_reg_force}
