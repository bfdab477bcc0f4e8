"""Scoring one explanation with several metrics at once: every metric and input is checked before any
metric runs (an error must not come after minutes of work), then the scores are collected."""
from __future__ import annotations

import inspect
from typing import Any, Dict, Optional, Sequence

from .base import explanation_kind
from .registry import get_metric

__all__ = ["EvaluationReport", "evaluate_explanation"]


class EvaluationReport(dict):
    """``{metric name: MetricResult}`` that prints as a table (``print(report)``)."""

    figure_path: Optional[str] = None

    def table(self) -> str:
        rows = [("metric", "score", "better")] + [
            (name, f"{r.score:.4g}", "higher" if r.higher_is_better else "lower") for name, r in self.items()]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)

    def scores(self) -> Dict[str, float]:
        return {name: r.score for name, r in self.items()}

    def __str__(self):
        return self.table()


def evaluate_explanation(explanation, classifier=None, metrics: Sequence[str] = ("deletion", "insertion"),
                         metric_params: Optional[Dict[str, Dict[str, Any]]] = None, batch_size: int = 50,
                         **inputs) -> EvaluationReport:
    """Score ``explanation`` with ``metrics`` (names of :func:`~.registry.available`).

    Parameters
    ----------
    explanation : SuperpixelExplanation or PixelExplanation
    classifier : Classifier, optional
        Needed by model-based metrics (all but the pointing games).
    metrics : sequence of str, default ('deletion', 'insertion')
    metric_params : dict metric name -> dict, optional
        Constructor arguments per metric.
    batch_size : int, default 50
        Perturbed images per forward pass for every metric that takes ``batch_size`` (unless set per metric).
    **inputs
        Extra inputs some metrics need (``bbox``, ``mask``).
    """
    metric_params = dict(metric_params or {})
    unknown = set(metric_params) - set(metrics)
    if unknown:
        raise ValueError(f"metric_params names metrics not in metrics: {sorted(unknown)}")
    classes = [get_metric(m) for m in metrics]
    kind = explanation_kind(explanation)
    prepared = []
    for metric_name, cls in zip(metrics, classes):
        if kind not in cls.applies_to:
            raise ValueError(f"metric {metric_name!r} applies to {cls.applies_to} explanations, not {kind!r}")
        if cls.needs_model and classifier is None:
            raise ValueError(f"metric {metric_name!r} needs the model: evaluate(explanation, model, ...)")
        missing = [k for k in cls.needs if k not in inputs]
        if missing:
            raise ValueError(f"metric {metric_name!r} needs {missing}: pass them as keyword arguments")
        params = dict(metric_params.get(metric_name, {}))
        if "batch_size" in inspect.signature(cls).parameters:
            params.setdefault("batch_size", batch_size)
        try:
            metric = cls(**params)
        except TypeError as exc:
            raise TypeError(f"metric {metric_name!r}: {exc}; give its arguments in metric_params") from exc
        prepared.append((metric_name, cls, metric))
    unused = set(inputs) - {k for _, cls, _ in prepared for k in cls.needs}
    if unused:
        raise TypeError(f"inputs {sorted(unused)} are not needed by any of the metrics {list(metrics)}")
    report = EvaluationReport()
    for metric_name, cls, metric in prepared:
        report[metric_name] = metric.evaluate(explanation, classifier, **{k: inputs[k] for k in cls.needs})
    return report
