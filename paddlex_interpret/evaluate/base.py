"""What every evaluation metric shares: its declared scope, its result type and the map it ranks pixels by."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple, Type

import numpy as np

from ..engine.maps import importance_map

__all__ = ["Metric", "MetricResult", "explanation_kind", "ranking_map"]

@dataclass
class MetricResult:
    """One metric on one explanation.

    Attributes
    ----------
    name : str
        Metric name (e.g. ``'deletion'``).
    score : float
        The headline number.
    higher_is_better : bool
    details : dict
        Everything behind the score (curves, per-step values, images if asked), numpy arrays or
        plain values.
    """

    name: str
    score: float
    higher_is_better: bool
    details: Dict[str, Any] = field(default_factory=dict)


class Metric:
    """Base class. Subclasses set the class attributes below and implement :meth:`evaluate`.

    Constructor arguments hold the metric's parameters (scikit-learn style); ``evaluate`` takes
    an explanation (and, for model-based metrics, a Classifier) and returns a MetricResult.
    """

    name: str = "metric"
    #: explanation kinds it applies to: 'superpixel' and/or 'pixel'
    applies_to: Tuple[str, ...] = ("superpixel", "pixel")
    higher_is_better: bool = True
    needs_model: bool = True
    #: extra inputs it needs beyond explanation and model, e.g. ('bbox',) or ('mask',)
    needs: Tuple[str, ...] = ()
    description: str = ""

    def evaluate(self, explanation, classifier=None, **inputs) -> MetricResult:
        raise NotImplementedError


def explanation_kind(explanation) -> str:
    """'superpixel' for LIME-family results, 'text' for token weights, 'pixel' for per-pixel maps."""
    if hasattr(explanation, "segments"):
        return "superpixel"
    if hasattr(explanation, "tokens"):
        return "text"
    return "pixel"


def ranking_map(explanation) -> np.ndarray:
    """The ``(H, W)`` importance map a metric ranks pixels by: superpixel weights painted on their
    pixels; a 2-D map (CAM, occlusion) as it is; a ``(3, H, W)`` attribution by |a| summed over
    channels (gradient methods' sign says little about importance)."""
    return importance_map(explanation, "signed", channels="abs_sum")
