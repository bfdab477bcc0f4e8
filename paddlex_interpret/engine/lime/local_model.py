"""The weighted local linear surrogate shared by LIME-family methods."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np
from sklearn.linear_model import Ridge

from .._validation import check_positive_int

__all__ = ["check_surrogate_params", "cosine_distance_to_original", "exponential_kernel", "select_features",
           "fit_local_model", "LocalFit", "FEATURE_SELECTIONS", "SurrogateExplainer", "bootstrap_weights",
           "top_k_stability", "ridge_weights"]

FEATURE_SELECTIONS = ("auto", "highest_weights", "forward_selection", "none")


def check_surrogate_params(kernel_width, feature_selection: str, num_features) -> Tuple[float, str, Optional[int]]:
    """Validate the local model's parameters shared by image and text LIME; returns them normalised."""
    if isinstance(kernel_width, bool) or not (isinstance(kernel_width, (int, float)) and kernel_width > 0):
        raise ValueError(f"kernel_width must be a positive number, got {kernel_width!r}")
    if feature_selection not in FEATURE_SELECTIONS:
        raise ValueError(f"feature_selection must be one of {FEATURE_SELECTIONS}, got {feature_selection!r}")
    num_features = None if num_features is None else check_positive_int(num_features, "num_features")
    return float(kernel_width), feature_selection, num_features


def cosine_distance_to_original(masks: np.ndarray) -> np.ndarray:
    """Cosine distance of each binary mask row to the all-ones row (the unperturbed input).

    For a row with k of n features on, the cosine similarity to all-ones is sqrt(k / n); an
    all-zero row gets distance 1, as scikit-learn's ``cosine_distances`` gives.
    """
    n = masks.shape[1]
    k = masks.sum(axis=1, dtype=np.float64)
    return 1.0 - np.sqrt(k / n)


def exponential_kernel(distances: np.ndarray, kernel_width: float) -> np.ndarray:
    """LIME's sample weights ``sqrt(exp(-d^2 / width^2))``."""
    return np.sqrt(np.exp(-(distances ** 2) / kernel_width ** 2))


def select_features(X, y, weights, num_features: int, method: str, random_state=None) -> np.ndarray:
    """Indices of the features the final surrogate uses.

    'auto' is 'forward_selection' for at most 6 features, else 'highest_weights' (the rule of
    the LIME reference implementation); 'highest_weights' ranks by ``|coef|`` of
    Ridge(alpha=0.01) (the original row is all ones, so ``coef * x0 == coef``).
    """
    n = X.shape[1]
    if method not in FEATURE_SELECTIONS:
        raise ValueError(f"feature_selection must be one of {FEATURE_SELECTIONS}, got {method!r}")
    if method == "none" or num_features >= n:
        return np.arange(n)
    if method == "auto":
        method = "forward_selection" if num_features <= 6 else "highest_weights"
    if method == "highest_weights":
        clf = Ridge(alpha=0.01, fit_intercept=True, random_state=random_state)
        clf.fit(X, y, sample_weight=weights)
        return np.sort(np.argsort(-np.abs(clf.coef_), kind="stable")[:num_features])
    chosen = []
    clf = Ridge(alpha=0.0, fit_intercept=True, random_state=random_state)
    for _ in range(num_features):
        best, best_score = None, -np.inf
        for j in range(n):
            if j in chosen:
                continue
            cols = chosen + [j]
            clf.fit(X[:, cols], y, sample_weight=weights)
            score = clf.score(X[:, cols], y, sample_weight=weights)
            if score > best_score:
                best, best_score = j, score
        chosen.append(best)
    return np.sort(np.asarray(chosen))


def _no_response_score() -> float:
    """R^2 is undefined when the model's output never changes over the samples: NaN, with a warning."""
    warnings.warn("the model's probability did not change over the perturbed samples, so the local fit's R^2 is "
                  "undefined (reported as NaN) and every weight is about 0; hidden parts do not matter to this class, "
                  "or hide_color / num_samples should change", RuntimeWarning, stacklevel=4)
    return float("nan")


@dataclass
class LocalFit:
    weights: np.ndarray        # one per feature; unselected features get 0
    intercept: float
    score: float               # weighted R^2 of the surrogate on the samples
    local_prediction: float    # surrogate's value at the original input


def fit_local_model(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, num_features: Optional[int] = None,
                    feature_selection: str = "auto", alpha: float = 1.0, random_state=None) -> LocalFit:
    """Fit Ridge(alpha) on the selected features of X (binary masks) weighted by the kernel."""
    n = X.shape[1]
    num_features = n if num_features is None else int(num_features)
    used = select_features(X, y, sample_weight, num_features, feature_selection, random_state)
    model = Ridge(alpha=alpha, fit_intercept=True, random_state=random_state)
    Xu = X[:, used]
    model.fit(Xu, y, sample_weight=sample_weight)
    weights = np.zeros(n)
    weights[used] = model.coef_
    score = float(model.score(Xu, y, sample_weight=sample_weight)) if np.ptp(y) > 0 else _no_response_score()
    local = float(model.predict(np.ones((1, len(used))))[0])
    return LocalFit(weights, float(model.intercept_), score, local)


class SurrogateExplainer:
    """What image and text LIME share: the parameters of the local fit, the checks of ``targets`` /
    ``top_k``, the batched forward passes over the perturbed samples (with a progress bar), the
    kernel and one surrogate per explained class.

    Subclasses draw the binary masks (row 0 = the unperturbed input) and give
    ``predict(masks_batch) -> probabilities``; :meth:`_fit_surrogates` does the rest and
    :meth:`_per_class_results` returns the per-class fields every LIME explanation holds.
    """

    method = "lime"
    _progress_desc, _progress_unit = "LIME", "img"

    def __init__(self, classifier, num_samples: int, batch_size: int, kernel_width: float, feature_selection: str,
                 num_features: Optional[int], random_state: Optional[int], progress: bool):
        self.classifier = classifier
        self.num_samples = check_positive_int(num_samples, "num_samples", minimum=2)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.kernel_width, self.feature_selection, self.num_features = check_surrogate_params(
            kernel_width, feature_selection, num_features)
        self.random_state = random_state
        self.progress = progress

    def _check_request(self, targets, top_k) -> None:
        """Refuse bad ``targets`` / ``top_k`` before any forward pass."""
        if targets is not None:
            self.classifier.check_targets(targets)
            return
        k = check_positive_int(top_k, "top_k")
        if k > self.classifier.num_classes:
            raise ValueError(f"top_k={k} exceeds the number of classes ({self.classifier.num_classes})")

    def _fit_surrogates(self, masks: np.ndarray, predict, targets, top_k: int, seed: int, **context):
        """``(classes, fits, probabilities)``: the model's probabilities on every sample (``predict`` is
        called on ``batch_size`` masks at a time) and one :class:`LocalFit` per explained class.
        ``context`` is handed to :meth:`_fit_target`."""
        from tqdm.auto import tqdm

        from ...models.base import prediction_session

        probs = np.empty((len(masks), self.classifier.num_classes), dtype=np.float64)
        with prediction_session(self.classifier), tqdm(total=len(masks), desc=self._progress_desc,
                                                       unit=self._progress_unit, disable=not self.progress,
                                                       leave=False) as bar:
            for start in range(0, len(masks), self.batch_size):
                batch = masks[start:start + self.batch_size]
                probs[start:start + len(batch)] = predict(batch)
                bar.update(len(batch))
        if targets is not None:
            classes = self.classifier.check_targets(targets)
        else:
            classes = tuple(int(i) for i in np.argsort(-probs[0], kind="stable")[:int(top_k)])
        kernel = exponential_kernel(cosine_distance_to_original(masks), self.kernel_width)
        X = masks.astype(np.float64)
        fits = {t: self._fit_target(X, probs[:, t], kernel, seed, t, **context) for t in classes}
        return classes, fits, probs

    def _fit_target(self, X, y, kernel, seed, target, **context) -> LocalFit:
        """The local surrogate for one class (G-LIME overrides this to add its prior)."""
        return fit_local_model(X, y, kernel, self.num_features, self.feature_selection, random_state=seed)

    def _per_class_results(self, classes, fits, probs) -> dict:
        """The per-class fields of a LIME explanation (targets, weights, label names, ...)."""
        return dict(targets=list(classes), weights={t: f.weights for t, f in fits.items()},
                    label_names={t: self.classifier.label_name(t) for t in classes},
                    probabilities={t: float(probs[0, t]) for t in classes},
                    intercepts={t: f.intercept for t, f in fits.items()},
                    scores={t: f.score for t, f in fits.items()},
                    local_predictions={t: f.local_prediction for t, f in fits.items()})

    def _surrogate_params(self, seed: int) -> Dict[str, Any]:
        return {"num_samples": self.num_samples, "batch_size": self.batch_size, "kernel_width": self.kernel_width,
                "feature_selection": self.feature_selection, "num_features": self.num_features,
                "random_state": seed}


def ridge_weights(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """The coefficients of scikit-learn's ``Ridge(alpha, fit_intercept=True)`` fitted with
    ``sample_weight``, solved directly (weighted centring, then one Cholesky solve): the same numbers
    without the estimator's overhead, for the many refits of the bootstrap."""
    w = sample_weight / sample_weight.sum()
    Xc = X - w @ X
    yc = y - w @ y
    gram = (Xc * sample_weight[:, None]).T @ Xc
    gram[np.diag_indices_from(gram)] += alpha
    return np.linalg.solve(gram, (Xc * sample_weight[:, None]).T @ yc)


def bootstrap_weights(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, fit, rounds: int = 30,
                      seed: int = 0) -> np.ndarray:
    """Surrogate weights ``fit(X, y, sample_weight) -> LocalFit`` refitted on ``rounds`` bootstrap
    resamples of the samples (rows drawn with replacement, the unperturbed row 0 always kept):
    ``(rounds, num_features)``. Their spread is the sampling uncertainty of each weight."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0xB007,)))
    n = len(X)
    out = np.empty((rounds, X.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample may see no response; the fit warns once
        for r in range(rounds):
            rows = np.concatenate([[0], rng.integers(0, n, size=n - 1)])
            out[r] = fit(X[rows], y[rows], sample_weight[rows]).weights
    return out


def top_k_stability(weights: np.ndarray, boot: np.ndarray, k: int) -> float:
    """How stable the ``k`` largest weights are: the share of them that a bootstrap refit also ranks
    among its ``k`` largest, averaged over the refits (1.0: every refit has the same top-k set). It
    estimates the top-k agreement with a fit on many more samples (measured in docs/lime.md)."""
    k = min(int(k), weights.shape[0])
    reference = set(np.argsort(-weights, kind="stable")[:k].tolist())
    overlap = [len(set(np.argsort(-b, kind="stable")[:k].tolist()) & reference) / k for b in boot]
    return float(np.mean(overlap))
