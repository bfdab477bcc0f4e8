"""The one table of evaluation metrics: names users type -> the class (imported on first use).

Metric modules import only :mod:`.base`; this table imports them, never the other way round.
:func:`register` adds a user's own :class:`~.base.Metric` subclass under its ``name``.
"""
from __future__ import annotations

import importlib
from typing import Any, Dict, List, Type

from .base import Metric

__all__ = ["METRICS", "available", "get_metric", "register", "metric_names"]

#: name -> "module:Class" (relative to ``paddlex_interpret.evaluate``)
METRICS: Dict[str, str] = {
    "deletion_insertion": "deletion_insertion:DeletionInsertion",
    "deletion": "deletion_insertion:Deletion",
    "insertion": "deletion_insertion:Insertion",
    "perturbation": "perturbation:Perturbation",
    "morf": "perturbation:MoRF",
    "lerf": "perturbation:LeRF",
    "infidelity": "infidelity:Infidelity",
    "point_game": "point_game:PointGame",
    "point_game_segmentation": "point_game:PointGameSegmentation",
    "model_randomization": "sanity:ModelParameterRandomization",
    "data_randomization": "sanity:DataRandomizationCheck",
    # text explanations
    "text_deletion": "text_deletion_insertion:TextDeletion",
    "text_insertion": "text_deletion_insertion:TextInsertion",
    "comprehensiveness": "eraser:Comprehensiveness",
    "sufficiency": "eraser:Sufficiency",
}
_USER: Dict[str, Type[Metric]] = {}


def register(cls: Type[Metric]) -> Type[Metric]:
    """Class decorator adding a user's metric to :func:`available` and :func:`get_metric`."""
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise TypeError(f"register takes a Metric subclass, got {cls!r}")
    if (cls.name in METRICS and get_metric(cls.name) is not cls) or _USER.get(cls.name, cls) is not cls:
        raise ValueError(f"a metric named {cls.name!r} is already registered")
    _USER[cls.name] = cls
    return cls


def get_metric(name: str) -> Type[Metric]:
    """The metric class called ``name``; a ValueError lists the valid names otherwise."""
    if name in _USER:
        return _USER[name]
    if not isinstance(name, str) or name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; available: {sorted(set(METRICS) | set(_USER))}")
    module, cls = METRICS[name].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)


def metric_names() -> List[str]:
    """Every metric name, sorted."""
    return sorted(set(METRICS) | set(_USER))


def available() -> List[Dict[str, Any]]:
    """Every metric with what it applies to and whether higher is better."""
    classes = [get_metric(n) for n in metric_names()]
    return [
        {"name": c.name, "class": c.__name__, "applies_to": c.applies_to, "higher_is_better": c.higher_is_better,
         "needs_model": c.needs_model, "needs": c.needs, "description": c.description}
        for c in classes
    ]
