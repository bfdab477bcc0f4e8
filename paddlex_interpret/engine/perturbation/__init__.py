"""Perturbation family: attributions from the model's response to hiding parts of the input."""
from .occlusion import Occlusion

__all__ = ["Occlusion"]
