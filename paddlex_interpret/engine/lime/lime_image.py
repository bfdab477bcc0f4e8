"""LIME for images (Ribeiro et al. 2016) with PaddleX's defaults."""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm.auto import tqdm

from ...models.base import Classifier
from .._validation import check_positive_int, resolve_seed
from ..explanation import SuperpixelExplanation
from .local_model import check_surrogate_params, cosine_distance_to_original, exponential_kernel, fit_local_model
from .segmentation import DEFAULT_SEGMENTATION_PARAMS, segment

__all__ = ["LimeImage"]

HideColor = Union[int, float, Sequence[float], str]


class LimeImage:
    """Explain an image classifier's output with superpixel-masking LIME.

    Parameters
    ----------
    classifier : Classifier
        Supplies ``predict_proba`` on uint8 RGB batches.
    num_samples : int, default 3000
        Perturbed images (the first is the unperturbed image). About 10 per superpixel is a
        reasonable minimum.
    batch_size : int, default 50
        Images built and predicted at a time; memory is bounded by it, results do not depend on it.
    hide_color : int, float, (r, g, b) or 'mean', default 0
        Fill of hidden superpixels: a grey level or colour (PaddleX: 0, black) or 'mean' for each
        superpixel's own mean colour.
    segmentation : {'quickshift', 'slic', 'felzenszwalb'} or callable, default 'quickshift'
    segmentation_params : dict, optional
        Overrides for the segmenter (defaults: PaddleX's quickshift, ``sigma=1``).
    kernel_width : float, default 0.25
        Width of the exponential kernel on cosine distance.
    feature_selection : {'auto', 'highest_weights', 'forward_selection', 'none'}, default 'auto'
    num_features : int or None, default None
        Superpixels the surrogate may use; None uses all (as PaddleX).
    random_state : int or None, default None
        Seed for masks and segmentation; None draws one, recorded in ``explanation.params``.
    progress : bool, default True
        Show a tqdm progress bar over the samples.
    """

    method = "lime"

    def __init__(
        self,
        classifier: Classifier,
        num_samples: int = 3000,
        batch_size: int = 50,
        hide_color: HideColor = 0,
        segmentation: Union[str, Callable] = "quickshift",
        segmentation_params: Optional[Dict[str, Any]] = None,
        kernel_width: float = 0.25,
        feature_selection: str = "auto",
        num_features: Optional[int] = None,
        random_state: Optional[int] = None,
        progress: bool = True,
    ):
        if not isinstance(classifier, Classifier):
            raise TypeError(f"classifier must be a paddlex_interpret Classifier, got {type(classifier).__name__}")
        self.classifier = classifier
        self.num_samples = check_positive_int(num_samples, "num_samples", minimum=2)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.hide_color = _check_hide_color(hide_color)
        self.segmentation = segmentation
        self.segmentation_params = dict(segmentation_params or {})
        self.kernel_width, self.feature_selection, self.num_features = check_surrogate_params(
            kernel_width, feature_selection, num_features)
        self.random_state = random_state
        self.progress = progress

    # -- public -------------------------------------------------------------------------------
    def explain(self, image: np.ndarray, targets: Union[None, int, Sequence[int]] = None,
                top_k: int = 1) -> SuperpixelExplanation:
        """Explain ``image`` (uint8 RGB, already at the model's geometry).

        Parameters
        ----------
        targets : int, list of int or None
            Classes to explain; None explains the ``top_k`` most probable classes.
        top_k : int, default 1
            Used when ``targets`` is None.
        """
        image = _check_image(image)
        seed = resolve_seed(self.random_state)
        mask_seed, segment_seed = np.random.SeedSequence(seed).generate_state(2)
        segments = segment(image, self.segmentation, self.segmentation_params, random_state=int(segment_seed) % 2**31)
        n_features = int(segments.max()) + 1

        rng = np.random.default_rng(mask_seed)
        masks = rng.integers(0, 2, size=(self.num_samples, n_features), dtype=np.uint8)
        masks[0] = 1
        fill = self._fill_image(image, segments)
        probs = np.empty((self.num_samples, self.classifier.num_classes), dtype=np.float64)
        with tqdm(total=self.num_samples, desc="LIME", unit="img", disable=not self.progress, leave=False) as bar:
            for start, batch in self._perturbed_batches(image, segments, masks, fill):
                probs[start:start + len(batch)] = self.classifier.predict_proba(batch, batch_size=len(batch))
                bar.update(len(batch))

        targets = self._resolve_targets(targets, top_k, probs[0])
        kernel = exponential_kernel(cosine_distance_to_original(masks), self.kernel_width)
        X = masks.astype(np.float64)
        fits = {t: self._fit_target(X, probs[:, t], kernel, seed, t, image, segments) for t in targets}
        return SuperpixelExplanation(
            method=self.method,
            image=image,
            segments=segments,
            targets=list(targets),
            weights={t: f.weights for t, f in fits.items()},
            label_names={t: self.classifier.label_name(t) for t in targets},
            probabilities={t: float(probs[0, t]) for t in targets},
            intercepts={t: f.intercept for t, f in fits.items()},
            scores={t: f.score for t, f in fits.items()},
            local_predictions={t: f.local_prediction for t, f in fits.items()},
            params=self.params(seed),
        )

    def params(self, seed: int) -> Dict[str, Any]:
        seg = self.segmentation if isinstance(self.segmentation, str) else getattr(self.segmentation, "__name__", "callable")
        return {
            "num_samples": self.num_samples, "batch_size": self.batch_size,
            "hide_color": list(self.hide_color) if isinstance(self.hide_color, tuple) else self.hide_color,
            "segmentation": seg, "segmentation_params": self._resolved_segmentation_params(),
            "kernel_width": self.kernel_width,
            "feature_selection": self.feature_selection, "num_features": self.num_features, "random_state": seed,
        }

    # -- internals ----------------------------------------------------------------------------
    def _fit_target(self, X, y, kernel, seed, target, image, segments):
        """The local surrogate for one class (GLIME overrides this to add its prior)."""
        return fit_local_model(X, y, kernel, self.num_features, self.feature_selection, random_state=seed)

    def _resolved_segmentation_params(self) -> Dict[str, Any]:
        """The parameters the segmenter actually ran with (defaults included), for the record."""
        if isinstance(self.segmentation, str) and self.segmentation in DEFAULT_SEGMENTATION_PARAMS:
            return {**DEFAULT_SEGMENTATION_PARAMS[self.segmentation], **self.segmentation_params}
        return dict(self.segmentation_params)

    def _resolve_targets(self, targets, top_k, original_probs) -> Tuple[int, ...]:
        if targets is None:
            k = check_positive_int(top_k, "top_k")
            if k > len(original_probs):
                raise ValueError(f"top_k={k} exceeds the number of classes ({len(original_probs)})")
            return tuple(int(i) for i in np.argsort(-original_probs, kind="stable")[:k])
        if isinstance(targets, (int, np.integer)) and not isinstance(targets, (bool, np.bool_)):
            targets = [targets]
        checked = tuple(self.classifier.check_class_index(t, "target") for t in targets)
        if not checked:
            raise ValueError("target must name at least one class")
        return tuple(dict.fromkeys(checked))

    def _fill_image(self, image: np.ndarray, segments: np.ndarray) -> np.ndarray:
        if isinstance(self.hide_color, str):  # 'mean': each superpixel's own mean colour
            n = int(segments.max()) + 1
            flat = segments.reshape(-1)
            counts = np.bincount(flat, minlength=n)[:, None]
            sums = np.stack([np.bincount(flat, weights=image[..., c].reshape(-1), minlength=n) for c in range(3)], 1)
            means = np.round(sums / np.maximum(counts, 1)).astype(np.uint8)
            return means[segments]
        return np.broadcast_to(np.asarray(self.hide_color, dtype=np.uint8), image.shape)

    def _perturbed_batches(self, image, segments, masks, fill) -> Iterator[Tuple[int, np.ndarray]]:
        """Yield ``(start, images)``; each batch is built with one gather and one select."""
        for start in range(0, len(masks), self.batch_size):
            keep = masks[start:start + self.batch_size][:, segments].astype(bool)  # (B, H, W)
            yield start, np.where(keep[..., None], image, fill)


def _check_hide_color(value):
    if isinstance(value, str):
        if value != "mean":
            raise ValueError(f"hide_color must be a number, an (r, g, b) triple or 'mean'; got {value!r}")
        return value
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape not in ((), (3,)) or np.any(arr < 0) or np.any(arr > 255):
        raise ValueError(f"hide_color must be a number, an (r, g, b) triple in 0..255 or 'mean'; got {value!r}")
    return arr.item() if arr.shape == () else tuple(arr.tolist())


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"LIME explains a uint8 RGB image (H, W, 3); got {image.dtype} {image.shape}")
    return image
