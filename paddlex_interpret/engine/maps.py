"""One way to turn any explanation into an importance map, used by figures, evaluators and Consensus."""
from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["importance_map", "MAP_MODES", "CHANNEL_REDUCTIONS"]

MAP_MODES = ("signed", "absolute", "positive")
CHANNEL_REDUCTIONS = ("sum", "abs_sum", "abs_max", "l2")


def _reduce_channels(attribution: np.ndarray, channels: str) -> np.ndarray:
    if channels == "sum":
        return attribution.sum(axis=0)
    if channels == "abs_sum":
        return np.abs(attribution).sum(axis=0)
    if channels == "abs_max":
        return np.abs(attribution).max(axis=0)
    return np.sqrt((attribution ** 2).sum(axis=0))


def importance_map(explanation, mode: str = "signed", channels: str = "sum",
                   target: Optional[int] = None) -> np.ndarray:
    """The importance of every pixel (or token) of an explanation.

    First the explanation's values are brought to one per pixel: superpixel weights are painted on
    their pixels, a one-value-per-pixel map ``(H, W)`` (CAM) is taken as it is, and an attribution
    in the network's input layout ``(C, H, W)`` (gradients, occlusion, LRP) is reduced over its
    channels by ``channels``. Text explanations give one value per token. Then ``mode`` applies.

    Parameters
    ----------
    explanation : SuperpixelExplanation, PixelExplanation or TextExplanation
    mode : {'signed', 'absolute', 'positive'}, default 'signed'
        'signed' keeps evidence for (> 0) and against (< 0) the class; 'absolute' is its
        magnitude; 'positive' keeps only the evidence for the class (the rest becomes 0).
    channels : {'sum', 'abs_sum', 'abs_max', 'l2'}, default 'sum'
        How a ``(C, H, W)`` attribution becomes one value per pixel: the signed sum, the sum or the
        largest of the magnitudes, or the L2 norm (the last three are >= 0, so gradient maps,
        whose sign per channel says little, rank pixels by magnitude).
    target : int, optional
        The explained class to map (LIME-family results may hold several); default the primary one.

    Returns
    -------
    ndarray float64
        ``(H, W)`` for images, ``(num_tokens,)`` for text.
    """
    if mode not in MAP_MODES:
        raise ValueError(f"mode must be one of {MAP_MODES}, got {mode!r}")
    if channels not in CHANNEL_REDUCTIONS:
        raise ValueError(f"channels must be one of {CHANNEL_REDUCTIONS}, got {channels!r}")
    if hasattr(explanation, "weights_of"):  # LIME family: one weight per superpixel or token
        values = np.asarray(explanation.weights_of(target), dtype=np.float64)
        segments = getattr(explanation, "segments", None)
        values = values[segments] if segments is not None else values
    else:
        if target is not None and int(target) != explanation.target:
            raise KeyError(f"class {target} was not explained; explained class: {explanation.target}")
        values = np.asarray(explanation.attribution, dtype=np.float64)
        if values.ndim == 3:
            values = _reduce_channels(values, channels)
        elif values.ndim != 2:
            raise ValueError(f"attribution must be (H, W) or (C, H, W); got shape {values.shape}")
    if mode == "absolute":
        return np.abs(values)
    if mode == "positive":
        return np.clip(values, 0, None)
    return values
