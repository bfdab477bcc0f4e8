"""Algorithms, one module per method, grouped by family. They see only ``models.base.Classifier``.

Families: ``lime`` (LimeImage), ``gradients`` (SmoothGrad, IntegratedGradients, GradientShap),
``perturbation`` (Occlusion), ``cam`` (GradCAM, ScoreCAM), ``lrp`` (LRP), and ``consensus``.
Subpackages are imported on use so that importing one family stays cheap.
"""
from .explanation import PixelExplanation, SuperpixelExplanation, load_explanation
from .lime import LimeImage

__all__ = ["LimeImage", "PixelExplanation", "SuperpixelExplanation", "load_explanation"]

_LAZY = {
    "SmoothGrad": "gradients", "IntegratedGradients": "gradients", "GradientShap": "gradients",
    "Occlusion": "perturbation", "GradCAM": "cam", "ScoreCAM": "cam", "LRP": "lrp", "Consensus": "consensus",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
