"""Evaluators: how far an explanation can be trusted. One module per metric; see :func:`available`."""
from .base import Metric, MetricResult, available, get_metric, register

__all__ = ["Metric", "MetricResult", "available", "get_metric", "register"]
