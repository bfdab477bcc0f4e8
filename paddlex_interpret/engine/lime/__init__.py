"""LIME family: superpixel segmentation, the local surrogate, and LIME for images."""
from .lime_image import LimeImage
from .local_model import fit_local_model
from .segmentation import segment

__all__ = ["LimeImage", "fit_local_model", "segment"]
