"""Occlusion (Zeiler & Fergus 2014): how much the target's score drops when a window is hidden."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm.auto import tqdm

from ...models.base import Classifier, prediction_session, softmax
from .._validation import check_positive_int
from ..base import AttributionMethod, check_images, resolve_targets

__all__ = ["Occlusion", "SCORES", "DEFAULT_BATCH_SIZE"]

SCORES = ("probability", "logit")
#: Occluded inputs per forward when neither batch_size nor perturbations_per_eval is given. InterpretDL
#: sends one window per forward (64 s for 729 windows on the demo model); 50 a forward takes 16 s.
DEFAULT_BATCH_SIZE = 50

Baselines = Union[None, int, float, np.ndarray]


def _int_tuple(value, name: str, lengths=(2, 3)) -> Tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return (check_positive_int(value, name),)
    if not isinstance(value, (tuple, list)) or len(value) not in lengths:
        kinds = " or ".join(f"a tuple of {n}" for n in lengths)
        raise TypeError(f"{name} must be {kinds} positive ints, got {value!r}")
    return tuple(check_positive_int(v, name) for v in value)


def _batch_knob(batch_size, perturbations_per_eval) -> int:
    """Occluded inputs per forward: ``batch_size`` (every method's name) or ``perturbations_per_eval``
    (InterpretDL's and Captum's), default :data:`DEFAULT_BATCH_SIZE`."""
    if batch_size is not None and perturbations_per_eval is not None and batch_size != perturbations_per_eval:
        raise ValueError(f"batch_size={batch_size!r} and perturbations_per_eval={perturbations_per_eval!r} name the "
                         "same knob; give one of them")
    if batch_size is not None:
        return check_positive_int(batch_size, "batch_size")
    if perturbations_per_eval is not None:
        return check_positive_int(perturbations_per_eval, "perturbations_per_eval")
    return DEFAULT_BATCH_SIZE


def _window_starts(length: int, window: int, stride: int) -> np.ndarray:
    """Starts ``0, s, 2s, ...`` that fit, plus one window flush with the end if the grid misses it."""
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return np.asarray(starts, dtype=np.int64)


def _interval_masks(starts: np.ndarray, window: int, length: int) -> np.ndarray:
    """``(len(starts), length)`` booleans: element ``i`` lies in ``[start, start + window)``."""
    idx = np.arange(length)
    return (idx[None, :] >= starts[:, None]) & (idx[None, :] < starts[:, None] + window)


class Occlusion(AttributionMethod):
    """Occlusion: slide a window over the input, hide it, record the drop of the target's score.

    The attribution of an input element is the mean, over the windows that cover it, of
    ``score(x) - score(x with the window replaced by the baseline)``; positive where hiding the
    element lowers the target's score. Windows run over the *normalised* network input
    ``(C, H, W)`` on the grid ``0, stride, 2*stride, ...`` of each axis, plus one window flush
    with the far edge where the grid does not end there, so every element is covered and every
    window has the full shape.

    Parameters
    ----------
    classifier : Classifier
        Any classifier: those that score batches themselves (dygraph layers, exported and PaddleX
        models) are run black-box, through Paddle Inference where available; others need a
        ``forward`` (no gradient is taken).
    sliding_window_shapes : (c, h, w) or (h, w), default (3, 16, 16)
        Window shape in the normalised input; ``(h, w)`` spans all channels.
    strides : int, (h, w) or (c, h, w), default 8
        Step between windows; an int or ``(h, w)`` steps channels by the window's depth. A stride
        larger than the window along an axis is an error (it would leave elements never hidden).
    baselines : None, number or uint8 image(s), default None
        What hidden elements become. None: 0 in normalised space (the dataset's mean colour for
        mean/std normalisation, grey 127 for the demo model). A number: a grey level 0-255 in
        pixel space (rounded), normalised with ``classifier.preprocess``. A uint8 image
        ``(H, W, 3)`` (for every input) or batch ``(N, H, W, 3)`` (one per input) in pixel space,
        same geometry as the inputs, normalised with ``classifier.preprocess``.
    perturbations_per_eval : int, default 50
        Occluded inputs per forward pass (memory ~ this many inputs); results do not depend on it
        beyond float rounding. ``batch_size`` is the same knob under the name every other method
        uses; give one of the two.
    score : {'probability', 'logit'}, default 'probability'
        The target's softmax probability or its logit (log-probability for a network that
        outputs probabilities).
    progress : bool, default True
        Show a tqdm progress bar over the windows.

    Notes
    -----
    :meth:`attribute` returns ``(N, C, H, W)`` float32 (C = 3 for RGB networks).
    """

    method = "occlusion"

    def __init__(self, classifier: Classifier, sliding_window_shapes: Sequence[int] = (3, 16, 16),
                 strides: Union[int, Sequence[int]] = 8, baselines: Baselines = None,
                 perturbations_per_eval: Optional[int] = None, score: str = "probability", progress: bool = True,
                 batch_size: Optional[int] = None):
        super().__init__(classifier)
        window = _int_tuple(sliding_window_shapes, "sliding_window_shapes")
        if len(window) == 1:
            raise TypeError(f"sliding_window_shapes must be (c, h, w) or (h, w), got {sliding_window_shapes!r}")
        stride = _int_tuple(strides, "strides", lengths=(2, 3))
        if len(stride) == 1:
            stride = stride * 2
        if len(stride) == 3 and len(window) == 2:
            raise ValueError("strides has a channel step but sliding_window_shapes spans all channels; "
                             "give sliding_window_shapes as (c, h, w)")
        self.sliding_window_shapes = window
        self.strides = stride
        self._check_baselines(baselines)
        self.baselines = baselines
        self.perturbations_per_eval = _batch_knob(batch_size, perturbations_per_eval)
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        self.score = score
        self.progress = bool(progress)

    # -- parameters ---------------------------------------------------------------------------
    @staticmethod
    def _check_baselines(baselines):
        if baselines is None:
            return
        if isinstance(baselines, (bool, np.bool_)):
            raise TypeError("baselines must be None, a grey level 0-255 or a uint8 image, got a bool")
        if isinstance(baselines, (int, float, np.integer, np.floating)):
            if not 0 <= float(baselines) <= 255:
                raise ValueError(f"a scalar baseline is a grey level in 0..255, got {baselines}")
            return
        if not isinstance(baselines, np.ndarray):
            raise TypeError(f"baselines must be None, a grey level 0-255 or a uint8 image, got "
                            f"{type(baselines).__name__}")
        if baselines.dtype != np.uint8 or baselines.ndim not in (3, 4) or baselines.shape[-1] != 3:
            raise ValueError(f"an image baseline must be uint8 (H, W, 3) or (N, H, W, 3); got "
                             f"{baselines.dtype} {baselines.shape}")

    def params(self) -> Dict[str, Any]:
        if self.baselines is None or not isinstance(self.baselines, np.ndarray):
            baselines = self.baselines if self.baselines is None else float(self.baselines)
        else:
            baselines = f"image {list(self.baselines.shape)}"
        return {"sliding_window_shapes": list(self.sliding_window_shapes), "strides": list(self.strides),
                "baselines": baselines, "perturbations_per_eval": self.perturbations_per_eval,
                "batch_size": self.perturbations_per_eval,
                "score": self.score}

    def _baseline_inputs(self, images: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Normalised baselines ``(1 or N, C, H, W)``."""
        b = self.baselines
        if b is None:
            return np.zeros((1,) + x.shape[1:], dtype=np.float32)
        if not isinstance(b, np.ndarray):
            grey = np.full((1,) + images.shape[1:], int(round(float(b))), dtype=np.uint8)
            return np.asarray(self.classifier.preprocess(grey), dtype=np.float32)
        b = b[None] if b.ndim == 3 else b
        if b.shape[1:] != images.shape[1:] or len(b) not in (1, len(images)):
            raise ValueError(f"baselines {b.shape} do not match the images {images.shape}: give one "
                             "(H, W, 3) image or one per input image, at the inputs' geometry")
        return np.asarray(self.classifier.preprocess(b), dtype=np.float32)

    def _windows(self, shape) -> Tuple[Tuple[np.ndarray, ...], Tuple[int, int, int]]:
        C, H, W = shape
        window = self.sliding_window_shapes
        window = (C,) + window if len(window) == 2 else window
        stride = self.strides if len(self.strides) == 3 else (window[0],) + self.strides
        for axis, n, w, s in zip(("channels", "height", "width"), (C, H, W), window, stride):
            if w > n:
                raise ValueError(f"the occlusion window {window} is larger than the input {(C, H, W)} "
                                 f"along {axis}; pass a smaller sliding_window_shapes")
            if s > w:
                raise ValueError(f"strides {stride} exceed the window {window} along {axis}: some "
                                 "elements would never be occluded")
        starts = tuple(_window_starts(n, w, s) for n, w, s in zip((C, H, W), window, stride))
        return starts, window

    # -- the work -----------------------------------------------------------------------------
    def attribute(self, images: np.ndarray, targets: Union[None, int, Sequence[int]] = None) -> np.ndarray:
        """Occlusion attributions ``(N, C, H, W)`` float32 for a uint8 batch ``(N, H, W, 3)``."""
        images = check_images(images)
        targets = resolve_targets(self.classifier, images, targets)
        x = np.ascontiguousarray(self.classifier.preprocess(images), dtype=np.float32)
        if x.ndim != 4:
            raise ValueError(f"occlusion needs a (N, C, H, W) network input, preprocess gave {x.shape}")
        base = self._baseline_inputs(images, x)
        starts, window = self._windows(x.shape[1:])
        grid = tuple(len(s) for s in starts)
        n_windows = int(np.prod(grid))
        C, H, W = x.shape[1:]
        per_eval = self.perturbations_per_eval

        # How many windows cover each element: a product of per-axis counts.
        counts = [_interval_masks(s, w, n).sum(axis=0) for s, w, n in zip(starts, window, (C, H, W))]
        coverage = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]

        total = np.zeros(x.shape, dtype=np.float64)
        with prediction_session(self.classifier):
            original = np.concatenate([
                self._scores(x[i:i + per_eval], targets[i:i + per_eval]) for i in range(0, len(x), per_eval)
            ])
            with tqdm(total=len(x) * n_windows, desc="Occlusion", unit="window", disable=not self.progress,
                      leave=False) as bar:
                # Each (image, window) pair is one occluded input; take them per_eval at a time.
                for k0 in range(0, len(x) * n_windows, per_eval):
                    pair = np.arange(k0, min(k0 + per_eval, len(x) * n_windows))
                    img, win = np.divmod(pair, n_windows)
                    ci, hi, wi = np.unravel_index(win, grid)
                    mc = _interval_masks(starts[0][ci], window[0], C)  # (P, C)
                    mh = _interval_masks(starts[1][hi], window[1], H)  # (P, H)
                    mw = _interval_masks(starts[2][wi], window[2], W)  # (P, W)
                    hide = mc[:, :, None, None] & mh[:, None, :, None] & mw[:, None, None, :]
                    occluded = np.where(hide, base[img if len(base) > 1 else np.zeros_like(img)], x[img])
                    delta = original[img] - self._scores(occluded, targets[img])
                    for i in np.unique(img):
                        sel = img == i
                        total[i] += np.einsum("p,pc,ph,pw->chw", delta[sel], mc[sel].astype(np.float64),
                                              mh[sel].astype(np.float64), mw[sel].astype(np.float64))
                    bar.update(len(pair))
        return (total / coverage).astype(np.float32)

    def _scores(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The target's probability or logit (log-probability for networks that output probabilities)."""
        raw = self.classifier.scores_for_inputs(inputs)
        chosen_raw = raw[np.arange(len(raw)), targets]
        if self.classifier.outputs_probabilities:
            return np.log(np.clip(chosen_raw, 1e-12, None)) if self.score == "logit" else chosen_raw
        if self.score == "logit":
            return chosen_raw
        return softmax(raw)[np.arange(len(raw)), targets]
