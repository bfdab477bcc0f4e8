"""Class-activation-map family: Grad-CAM and Score-CAM on an intermediate layer's feature maps."""
from ._layers import default_target_layer
from .base import CAMMethod
from .gradcam import GradCAM
from .scorecam import ScoreCAM

__all__ = ["CAMMethod", "GradCAM", "ScoreCAM", "default_target_layer"]
