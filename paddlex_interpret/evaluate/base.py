"""What every evaluation metric shares: a registry, its declared scope, and its result type."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple, Type

import numpy as np

__all__ = ["Metric", "MetricResult", "register", "available", "get_metric"]

_REGISTRY: Dict[str, Type["Metric"]] = {}


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


def register(cls: Type[Metric]) -> Type[Metric]:
    """Class decorator adding a metric to :func:`available`."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"a metric named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all():
    from . import deletion_insertion, infidelity, perturbation, point_game, sanity  # noqa: F401


def available() -> List[Dict[str, Any]]:
    """Every registered metric with what it applies to and whether higher is better."""
    _load_all()
    return [
        {"name": c.name, "class": c.__name__, "applies_to": c.applies_to, "higher_is_better": c.higher_is_better,
         "needs_model": c.needs_model, "needs": c.needs, "description": c.description}
        for c in sorted(_REGISTRY.values(), key=lambda c: c.name)
    ]


def get_metric(name: str) -> Type[Metric]:
    """The metric class registered as ``name``."""
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"unknown metric {name!r}; available: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def explanation_kind(explanation) -> str:
    """'superpixel' for LIME-family results, 'pixel' for per-pixel maps."""
    return "superpixel" if hasattr(explanation, "segments") else "pixel"


def ranking_map(explanation) -> np.ndarray:
    """The ``(H, W)`` importance map a metric ranks pixels by: superpixel weights painted on their
    pixels; a 2-D map (CAM, occlusion) as it is; a ``(3, H, W)`` attribution by |a| summed over
    channels (gradient methods' sign says little about importance)."""
    if explanation_kind(explanation) == "superpixel":
        return np.asarray(explanation.pixel_map(), dtype=np.float64)
    return explanation.saliency("abs_sum")
