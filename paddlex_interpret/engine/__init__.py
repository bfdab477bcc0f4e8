"""Algorithms, one module per method, grouped by family. They see only ``models.base.Classifier``.

Families: ``lime`` (LimeImage), ``gradients`` (SmoothGrad, IntegratedGradients, GradientShap),
``perturbation`` (Occlusion), ``cam`` (GradCAM, ScoreCAM), ``lrp`` (LRP), and ``consensus``.
Subpackages are imported on use so that importing one family stays cheap.
"""
from .explanation import PixelExplanation, SuperpixelExplanation, load_explanation
from .lime import LimeImage

__all__ = ["LimeImage", "PixelExplanation", "SuperpixelExplanation", "load_explanation"]
