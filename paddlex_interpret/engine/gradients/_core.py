"""What every input-gradient method shares: the objective and its gradient w.r.t. the input,
argument checks, per-sample random numbers, baselines, and the chunked gradient loop."""
from __future__ import annotations

import numbers
from typing import Callable, Optional, Tuple, Union

import numpy as np
import paddle
import paddle.nn.functional as F

from ...models.base import Classifier
from .._validation import check_positive_int, resolve_seed
from ..base import AttributionMethod, check_images, resolve_targets

__all__ = [
    "GRADIENT_OF", "check_gradient_of", "objective", "input_gradients",
    "check_noise_amount", "noise_scales", "sample_rng", "check_baselines", "describe_baselines",
    "normalised_baselines", "random_baseline", "accumulate_gradients", "GradientMethod",
]

GRADIENT_OF = ("probability", "logit", "loss")


def check_gradient_of(value: str) -> str:
    if not isinstance(value, str) or value not in GRADIENT_OF:
        raise ValueError(f"gradient_of must be one of {GRADIENT_OF}, got {value!r}")
    return value


def objective(classifier: Classifier, outputs: paddle.Tensor, targets: paddle.Tensor, gradient_of: str) -> paddle.Tensor:
    """Per-sample scalar to differentiate: the target's probability, logit, or cross-entropy loss.

    For a network that already outputs probabilities, 'logit' is the log-probability.
    """
    probs_out = bool(getattr(classifier, "outputs_probabilities", False))
    one_hot = F.one_hot(targets, outputs.shape[1]).astype(outputs.dtype)
    if gradient_of == "logit":
        chosen = (outputs * one_hot).sum(axis=1)
        return paddle.log(chosen.clip(min=1e-12)) if probs_out else chosen
    probs = outputs if probs_out else F.softmax(outputs, axis=1)
    p = (probs * one_hot).sum(axis=1)
    return p if gradient_of == "probability" else -paddle.log(p.clip(min=1e-12))


def input_gradients(classifier: Classifier, inputs: np.ndarray, targets: np.ndarray,
                    gradient_of: str = "probability") -> Tuple[np.ndarray, np.ndarray]:
    """Gradients of the objective w.r.t. normalised inputs ``(N, 3, H, W)`` and the objective values.

    Runs in eval mode (the model's own modes are restored after) and leaves no gradient on the
    model's parameters.
    """
    x = paddle.to_tensor(np.ascontiguousarray(inputs, dtype=np.float32), stop_gradient=False)
    t = paddle.to_tensor(np.asarray(targets, dtype=np.int64))
    with classifier.eval_context():
        out = classifier.forward(x)
        value = objective(classifier, out, t, gradient_of)
        (grad,) = paddle.grad(value.sum(), [x], retain_graph=False, create_graph=False)
    return grad.numpy(), value.numpy()


# -- argument checks -------------------------------------------------------------------------------
def check_noise_amount(value, name: str = "noise_amount") -> float:
    """A finite real number >= 0 (the noise std as a fraction of the input's value range)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite number >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)


def noise_scales(inputs: np.ndarray, noise_amount: float) -> np.ndarray:
    """Per-image noise std ``noise_amount * (x.max() - x.min())`` of normalised inputs ``(N, ...)``."""
    flat = inputs.reshape(len(inputs), -1)
    return (noise_amount * (flat.max(axis=1).astype(np.float64) - flat.min(axis=1))).astype(np.float32)


# -- random numbers ---------------------------------------------------------------------------------
def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sample (or trial) ``index`` of a run seeded with ``seed``.

    It depends on ``(seed, index)`` only, so a sample's random numbers do not depend on the batch
    size, on the other images of the batch, or on the image's position in it. Every image of a
    batch therefore sees the same standard-normal noise pattern for sample ``index`` (scaled by
    its own noise std), which makes an image's attribution a function of (image, target, seed).
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))


# -- baselines --------------------------------------------------------------------------------------
def check_baselines(baselines, allow_random: bool = True) -> Union[None, str, np.ndarray]:
    """Validate a ``baselines`` argument: None (zeros of the normalised input), 'random' (if
    allowed) or images in pixel space, ``(H, W, 3)`` or ``(N, H, W, 3)``, values in [0, 255].

    Returns None, 'random', or a ``(B, H, W, 3)`` array (uint8 kept, anything else as float32).
    """
    valid = "None, 'random' or" if allow_random else "None or"
    if baselines is None:
        return None
    if isinstance(baselines, str):
        if allow_random and baselines == "random":
            return "random"
        raise ValueError(f"baselines must be {valid} an image array (H, W, 3) or (N, H, W, 3); got {baselines!r}")
    try:
        arr = np.asarray(baselines)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"baselines must be {valid} an image array; got {type(baselines).__name__}") from exc
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"baselines must be {valid} a numeric image array; got dtype {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] == 0:
        raise ValueError(f"baselines must be RGB images (H, W, 3) or (N, H, W, 3) in pixel space; "
                         f"got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 255:
            raise ValueError("baselines must hold pixel values in [0, 255] (they are normalised like the input)")
        arr = arr.astype(np.float32)
    return arr


def describe_baselines(baselines: Union[None, str, np.ndarray]) -> Union[None, str]:
    """JSON-friendly record of a checked ``baselines`` value (arrays by shape and dtype)."""
    if isinstance(baselines, np.ndarray):
        return f"array{tuple(baselines.shape)} {baselines.dtype}"
    return baselines


def normalised_baselines(classifier: Classifier, baselines: Optional[np.ndarray], images: np.ndarray,
                         inputs: np.ndarray) -> np.ndarray:
    """Baselines in the network's input space, one per image: ``(N, ...)`` like ``inputs``.

    None gives zeros (as InterpretDL); an array from :func:`check_baselines` must match the images'
    height and width and hold one image or one per image; it is normalised with
    ``classifier.preprocess`` exactly like the images.
    """
    if baselines is None:
        return np.zeros_like(inputs)
    if baselines.shape[1:3] != images.shape[1:3]:
        raise ValueError(f"baselines must have the images' size (H, W) = {images.shape[1:3]}; "
                         f"got {baselines.shape[1:3]}")
    if len(baselines) not in (1, len(images)):
        raise ValueError(f"baselines must hold 1 image or one per image ({len(images)}); got {len(baselines)}")
    out = np.asarray(classifier.preprocess(baselines), dtype=np.float32)
    if out.shape[1:] != inputs.shape[1:]:
        raise ValueError(f"baselines normalise to shape {out.shape[1:]}, the images to {inputs.shape[1:]}")
    return np.ascontiguousarray(np.broadcast_to(out, inputs.shape))


def random_baseline(classifier: Classifier, rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """A uniform-random uint8 image of ``size`` (H, W) in pixel space, normalised: ``(...)``."""
    pixels = rng.integers(0, 256, size=(1, size[0], size[1], 3), dtype=np.uint8)
    return np.asarray(classifier.preprocess(pixels), dtype=np.float32)[0]


# -- the chunked loop ---------------------------------------------------------------------------------
# make_points(i, js) -> (points, factors): the normalised inputs of samples ``js`` of image ``i``
# (float32 ``(len(js), ...)``) and what each gradient is multiplied by (same shape) or None.
MakePoints = Callable[[int, np.ndarray], Tuple[np.ndarray, Optional[np.ndarray]]]


def accumulate_gradients(classifier: Classifier, targets: np.ndarray, n_per_image: int, batch_size: int,
                         gradient_of: str, make_points: MakePoints) -> np.ndarray:
    """Mean over ``j < n_per_image`` of ``grad(points_ij) * factors_ij`` for every image ``i``.

    The ``N * n_per_image`` samples are enumerated image by image and sent through the model in
    chunks of ``batch_size`` (a chunk may span images), so memory is bounded by ``batch_size``
    whatever ``n_per_image``. Sums are kept in float64; the result is float64 ``(N, ...)``.
    """
    targets = np.asarray(targets, dtype=np.int64)
    n_images = len(targets)
    total = n_images * n_per_image
    sums = None
    for start in range(0, total, batch_size):
        flat = np.arange(start, min(start + batch_size, total))
        owners = flat // n_per_image
        images_in_chunk = np.unique(owners)
        points, factors = [], []
        for i in images_in_chunk:
            p, f = make_points(int(i), flat[owners == i] % n_per_image)
            points.append(p)
            factors.append(f)
        grads, _ = input_gradients(classifier, np.concatenate(points), targets[owners], gradient_of)
        grads = grads.astype(np.float64)
        if factors[0] is not None:
            grads *= np.concatenate(factors)
        if sums is None:
            sums = np.zeros((n_images,) + grads.shape[1:], dtype=np.float64)
        for i in images_in_chunk:
            sums[i] += grads[owners == i].sum(axis=0)
    return sums / n_per_image


# -- base class ------------------------------------------------------------------------------------------
class GradientMethod(AttributionMethod):
    """What SmoothGrad, Integrated Gradients and GradientSHAP share: ``gradient_of``,
    ``batch_size`` and ``random_state`` handling, and the preparation of a batch.

    Subclasses implement :meth:`_attribute` and :meth:`_method_params`. Each call of
    :meth:`attribute` resolves the seed (a fresh one when ``random_state`` is None) and keeps it in
    :attr:`last_seed`, which :meth:`params` reports as ``random_state``.
    """

    def __init__(self, classifier: Classifier, gradient_of: str, batch_size: int, random_state: Optional[int]):
        super().__init__(classifier)
        self.gradient_of = check_gradient_of(gradient_of)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if random_state is not None:
            resolve_seed(random_state)  # validate now rather than at the first call
        self.random_state = random_state
        self.last_seed: Optional[int] = None

    def attribute(self, images: np.ndarray, targets=None) -> np.ndarray:
        """Attributions ``(N, 3, H, W)`` (float32, the network's input layout) for uint8 images
        ``(N, H, W, 3)`` at the model's geometry; ``targets``: None (top-1), an int or one per image."""
        images = check_images(images)
        targets = resolve_targets(self.classifier, images, targets, batch_size=self.batch_size)
        seed = resolve_seed(self.random_state)
        self.last_seed = seed
        inputs = np.ascontiguousarray(self.classifier.preprocess(images), dtype=np.float32)
        return self._attribute(images, inputs, targets, seed).astype(np.float32)

    def _attribute(self, images: np.ndarray, inputs: np.ndarray, targets: np.ndarray, seed: int) -> np.ndarray:
        raise NotImplementedError

    def _method_params(self) -> dict:
        return {}

    def params(self) -> dict:
        seed = self.last_seed if self.last_seed is not None else self.random_state
        return {**self._method_params(), "gradient_of": self.gradient_of, "batch_size": self.batch_size,
                "random_state": seed}
