"""Input-gradient family: SmoothGrad, Integrated Gradients, GradientSHAP."""
from .gradient_shap import GradientShap
from .integrated_gradients import IntegratedGradients
from .smoothgrad import SmoothGrad

__all__ = ["SmoothGrad", "IntegratedGradients", "GradientShap"]
