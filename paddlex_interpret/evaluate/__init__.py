"""Evaluators: how far an explanation can be trusted. One module per metric; see :func:`available`.

Metric classes (imported on first use): DeletionInsertion, Deletion, Insertion, Perturbation,
MoRF, LeRF, Infidelity, PointGame, PointGameSegmentation, ModelParameterRandomization,
DataRandomizationCheck.
"""
from .base import Metric, MetricResult
from .registry import available, get_metric, metric_names, register

__all__ = ["Metric", "MetricResult", "available", "get_metric", "metric_names", "register", "EvaluationReport",
           "evaluate_explanation"]

_LAZY = {
    "DeletionInsertion": "deletion_insertion", "Deletion": "deletion_insertion", "Insertion": "deletion_insertion",
    "Perturbation": "perturbation", "MoRF": "perturbation", "LeRF": "perturbation", "Infidelity": "infidelity",
    "PointGame": "point_game", "PointGameSegmentation": "point_game",
    "ModelParameterRandomization": "sanity", "DataRandomizationCheck": "sanity",
    "EvaluationReport": "report", "evaluate_explanation": "report",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
