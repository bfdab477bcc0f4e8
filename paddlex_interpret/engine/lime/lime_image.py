"""LIME for images (Ribeiro et al. 2016) with PaddleX's defaults."""
from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from ...data.segmentation import DEFAULT_SEGMENTATION_PARAMS, segment
from ...models.base import Classifier, input_space_ok, prediction_session, softmax
from .._validation import check_positive_int, resolve_seed
from ..explanation import SuperpixelExplanation
from .local_model import (LocalFit, SurrogateExplainer, bootstrap_weights, cosine_distance_to_original,
                          exponential_kernel, ridge_weights, top_k_stability)

__all__ = ["LimeImage"]

HideColor = Union[int, float, Sequence[float], str]


class LimeImage(SurrogateExplainer):
    """Explain an image classifier's output with superpixel-masking LIME.

    Parameters
    ----------
    classifier : Classifier
        Supplies ``predict_proba`` on uint8 RGB batches.
    num_samples : int or 'auto', default 3000
        Perturbed images (the first is the unperturbed image). About 10 per superpixel is a
        reasonable minimum. 'auto' draws them in rounds of ``auto_step`` and stops as soon as the
        ``stability_top_k`` most important superpixels are stable: refitted on 30 bootstrap
        resamples (samples drawn again with replacement), the fits keep on average at least
        ``stability_target`` of them in their own top ``stability_top_k`` (this estimates the top-k
        agreement with a run on many more samples); at most ``max_samples``. The samples are the
        first ones of the fixed-count run with the same seed, so 'auto' stopping at ``n`` gives the
        weights of ``num_samples=n``. ``params`` records ``samples_used``, ``stability`` and
        ``stability_reached``; a run that hits ``max_samples`` first warns.
    max_samples, auto_step : int, default 3000, 250
        'auto' only: the cap, and the samples added per round.
    stability_target : float, default 0.9
    stability_top_k : int, default 5
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
    #: 'auto' stops when this share of the top superpixels is stable (see ``stability_target``)
    DEFAULT_STABILITY_TARGET = 0.9

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
        max_samples: int = 3000,
        auto_step: int = 250,
        stability_target: float = DEFAULT_STABILITY_TARGET,
        stability_top_k: int = 5,
    ):
        if not isinstance(classifier, Classifier):
            raise TypeError(f"classifier must be a paddlex_interpret Classifier, got {type(classifier).__name__}")
        self.auto = isinstance(num_samples, str) and num_samples == "auto"
        if isinstance(num_samples, str) and not self.auto:
            raise ValueError(f"num_samples must be an int >= 2 or 'auto', got {num_samples!r}")
        if self.auto:
            self.auto_step = check_positive_int(auto_step, "auto_step", minimum=2)
            num_samples = check_positive_int(max_samples, "max_samples", minimum=self.auto_step)
            if isinstance(stability_target, bool) or not isinstance(stability_target, (int, float)) \
                    or not 0 < stability_target <= 1:
                raise ValueError(f"stability_target must be a number in (0, 1], got {stability_target!r}")
            self.stability_target = float(stability_target)
            self.stability_top_k = check_positive_int(stability_top_k, "stability_top_k")
        super().__init__(classifier, num_samples, batch_size, kernel_width, feature_selection, num_features,
                         random_state, progress)
        self.hide_color = _check_hide_color(hide_color)
        self.segmentation = segmentation
        self.segmentation_params = dict(segmentation_params or {})

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
        self._check_request(targets, top_k)
        seed = resolve_seed(self.random_state)
        mask_seed, segment_seed = np.random.SeedSequence(seed).generate_state(2)
        segments = segment(image, self.segmentation, self.segmentation_params, random_state=int(segment_seed) % 2**31)
        n_features = int(segments.max()) + 1

        rng = np.random.default_rng(mask_seed)
        masks = rng.integers(0, 2, size=(self.num_samples, n_features), dtype=np.uint8)
        masks[0] = 1
        fill = self._fill_image(image, segments)
        predict = self._input_space_predictor(image, segments, fill)
        if predict is None:
            def predict(batch_masks):
                return self.classifier.predict_proba(self._perturbed(image, segments, batch_masks, fill),
                                                     batch_size=len(batch_masks))

        context = dict(image=image, segments=segments)
        record: Dict[str, Any] = {}
        if self.auto:
            masks = self._auto_samples(masks, predict, targets, top_k, seed, record, context)
            predict = self._replay(predict, masks)
        classes, fits, probs = self._fit_surrogates(masks, predict, targets, top_k, seed, **context)
        X, kernel = masks.astype(np.float64), exponential_kernel(cosine_distance_to_original(masks), self.kernel_width)
        intervals = {}
        for t in classes:
            boot = bootstrap_weights(X, probs[:, t], kernel, self._fitter(seed, t, context), seed=seed)
            intervals[t] = np.percentile(boot, [2.5, 97.5], axis=0).T
        return SuperpixelExplanation(method=self.method, image=image, segments=segments,
                                     **self._per_class_results(classes, fits, probs), intervals=intervals,
                                     params={**self.params(seed), **record})

    def _fitter(self, seed, target, context):
        """The surrogate fit of one class as ``fit(X, y, kernel)``, for bootstrap refits."""
        return lambda X, y, w: self._refit(X, y, w, seed, target, **context)

    def _refit(self, X, y, kernel, seed, target, **context):
        """The local fit without the bookkeeping of :meth:`_fit_target` (G-LIME adds its prior). With
        every superpixel in the fit (no feature selection) it is solved directly: the same weights."""
        if self.num_features is None or self.num_features >= X.shape[1]:
            return LocalFit(ridge_weights(X, y, kernel), float("nan"), float("nan"), float("nan"))
        return SurrogateExplainer._fit_target(self, X, y, kernel, seed, target)

    def _auto_samples(self, masks, predict, targets, top_k, seed, record, context) -> np.ndarray:
        """Predict rounds of samples until the top superpixels are stable; the masks used."""
        from tqdm.auto import tqdm

        probs = np.empty((len(masks), self.classifier.num_classes))
        bar = tqdm(total=len(masks), desc="LIME (auto)", unit="img", disable=not self.progress, leave=False)
        with prediction_session(self.classifier):
            try:
                done, stability = self._auto_rounds(masks, predict, targets, seed, context, probs, bar)
            finally:
                bar.close()
        reached = stability >= self.stability_target
        record.update(num_samples="auto", samples_used=int(done), max_samples=int(len(masks)),
                      stability=float(stability), stability_target=self.stability_target,
                      stability_top_k=self.stability_top_k, stability_reached=bool(reached))
        if not reached:
            warnings.warn(f"num_samples='auto' used all max_samples={len(masks)} samples and the top "
                          f"{self.stability_top_k} superpixels are {stability:.0%} stable (the share of them bootstrap "
                          "refits keep), "
                          f"below stability_target={self.stability_target:.0%}; raise max_samples or read the "
                          "ranking with care", RuntimeWarning, stacklevel=3)
        self._auto_probs = probs[:done]
        return masks[:done]

    def _auto_rounds(self, masks, predict, targets, seed, context, probs, bar):
        """Predict and refit round by round until stable: ``(samples done, stability reached)``."""
        done, stability, primary = 0, 0.0, None
        while done < len(masks):
            n = min(done + self.auto_step, len(masks))
            for start in range(done, n, self.batch_size):
                stop = min(start + self.batch_size, n)
                probs[start:stop] = predict(masks[start:stop])
                bar.update(stop - start)
            done = n
            if primary is None:
                primary = (self.classifier.check_targets(targets)[0] if targets is not None
                           else int(np.argmax(probs[0])))
            X = masks[:n].astype(np.float64)
            kernel = exponential_kernel(cosine_distance_to_original(masks[:n]), self.kernel_width)
            fit = self._fitter(seed, primary, context)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                weights = fit(X, probs[:n, primary], kernel).weights
            boot = bootstrap_weights(X, probs[:n, primary], kernel, fit, seed=seed)
            stability = top_k_stability(weights, boot, self.stability_top_k)
            if stability >= self.stability_target:
                break
        return done, stability

    def _replay(self, predict, masks):
        """The probabilities 'auto' already has, served in batches (no forward is repeated)."""
        probs = self._auto_probs
        offset = [0]

        def replay(batch_masks):
            out = probs[offset[0]:offset[0] + len(batch_masks)]
            offset[0] += len(batch_masks)
            return out

        return replay

    def params(self, seed: int) -> Dict[str, Any]:
        seg = self.segmentation if isinstance(self.segmentation, str) else getattr(self.segmentation, "__name__", "callable")
        auto = {"auto_step": self.auto_step} if self.auto else {}
        return {
            **self._surrogate_params(seed), **auto,
            "hide_color": list(self.hide_color) if isinstance(self.hide_color, tuple) else self.hide_color,
            "segmentation": seg, "segmentation_params": self._resolved_segmentation_params(),
        }

    # -- internals ----------------------------------------------------------------------------
    def _resolved_segmentation_params(self) -> Dict[str, Any]:
        """The parameters the segmenter actually ran with (defaults included), for the record."""
        if isinstance(self.segmentation, str) and self.segmentation in DEFAULT_SEGMENTATION_PARAMS:
            return {**DEFAULT_SEGMENTATION_PARAMS[self.segmentation], **self.segmentation_params}
        return dict(self.segmentation_params)

    def _fill_image(self, image: np.ndarray, segments: np.ndarray) -> np.ndarray:
        if isinstance(self.hide_color, str):  # 'mean': each superpixel's own mean colour
            n = int(segments.max()) + 1
            flat = segments.reshape(-1)
            counts = np.bincount(flat, minlength=n)[:, None]
            sums = np.stack([np.bincount(flat, weights=image[..., c].reshape(-1), minlength=n) for c in range(3)], 1)
            means = np.round(sums / np.maximum(counts, 1)).astype(np.uint8)
            return means[segments]
        return np.broadcast_to(np.asarray(self.hide_color, dtype=np.uint8), image.shape)

    def _input_space_predictor(self, image, segments, fill):
        """``predict(masks) -> probabilities`` that builds the perturbed batch directly in the network's
        input space: the image and the fill are normalised once and each sample selects per pixel
        between them. Exact (the normalisation is per pixel), and it saves normalising every sample.
        None when the classifier does not take normalised batches or its preprocessing is a callable."""
        if not input_space_ok(self.classifier):
            return None
        normalised = np.asarray(self.classifier.preprocess(np.stack([image, np.asarray(fill)])), dtype=np.float32)
        if normalised.ndim != 4 or normalised.shape[2:] != image.shape[:2]:
            return None
        x, hidden = normalised[0], normalised[1]
        needs_softmax = not self.classifier.outputs_probabilities

        def predict(batch_masks):
            keep = batch_masks[:, segments].astype(bool)[:, None]  # (B, 1, H, W)
            # np.where would pick a channel-last memory order here, and the runner would copy it again
            batch = np.empty((len(batch_masks),) + x.shape, dtype=np.float32)
            batch[:] = hidden
            np.copyto(batch, x, where=keep)
            scores = self.classifier.scores_for_inputs(batch)
            return softmax(scores) if needs_softmax else scores

        return predict

    @staticmethod
    def _perturbed(image, segments, masks, fill) -> np.ndarray:
        """The images of a batch of masks, built with one gather and one select."""
        keep = masks[:, segments].astype(bool)  # (B, H, W)
        return np.where(keep[..., None], image, fill)


def _check_hide_color(value):
    if isinstance(value, str):
        if value != "mean":
            raise ValueError(f"hide_color must be a number, an (r, g, b) triple or 'mean'; got {value!r}")
        return value
    flat = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if value is None or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating))
                            for v in flat):
        raise TypeError(f"hide_color must be a number, an (r, g, b) triple in 0..255 or 'mean'; got {value!r}")
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape not in ((), (3,)) or not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 255):
        raise ValueError(f"hide_color must be a number, an (r, g, b) triple in 0..255 or 'mean'; got {value!r}")
    return arr.item() if arr.shape == () else tuple(arr.tolist())


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"LIME explains a uint8 RGB image (H, W, 3); got {image.dtype} {image.shape}")
    return image
