"""Class-activation-map family: Grad-CAM and Score-CAM on an intermediate layer's feature maps."""
from ._layers import default_target_layer
from .gradcam import GradCAM
from .scorecam import ScoreCAM

__all__ = ["GradCAM", "ScoreCAM", "default_target_layer"]
