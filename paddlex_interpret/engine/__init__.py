"""Algorithms, one module per method, grouped by family. They see only the ``models.base`` interfaces.

Families: ``lime`` (LimeImage, LimeText, GLime, NormLime), ``gradients`` (SmoothGrad,
IntegratedGradients, GradientShap), ``perturbation`` (Occlusion), ``cam`` (GradCAM, ScoreCAM),
``lrp`` (LRP), and ``consensus``. :func:`get_method` / :func:`available` read the one method table
(:mod:`.registry`); the classes are imported on first use so that importing one family stays cheap.

``training_data`` (recorder, data maps, forgetting events, AUM, BHDF, TIDY, SGD noise) explains a
model through its training set, not one input, so it is not in the method table; import it as
``paddlex_interpret.engine.training_data``.
"""
from .explanation import PixelExplanation, SuperpixelExplanation, TextExplanation, load_explanation
from .maps import MAP_MODES, importance_map
from .registry import METHODS, MethodSpec, available, get_method, method_names

__all__ = ["PixelExplanation", "SuperpixelExplanation", "TextExplanation", "load_explanation", "importance_map",
           "MAP_MODES", "MethodSpec", "METHODS", "available", "get_method", "method_names", "LimeImage",
           "LimeText", "GLime", "NormLime", "SmoothGrad", "IntegratedGradients", "GradientShap", "Occlusion",
           "GradCAM", "ScoreCAM", "LRP", "Consensus"]

_CLASSES = {spec.target.split(":")[1]: spec for spec in METHODS.values()}


def __getattr__(name):
    if name in _CLASSES:
        return _CLASSES[name].load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
