"""Algorithms, one module per method, grouped by family. They see only ``models.base.Classifier``."""
from .explanation import SuperpixelExplanation, load_explanation
from .lime import LimeImage

__all__ = ["LimeImage", "SuperpixelExplanation", "load_explanation"]
