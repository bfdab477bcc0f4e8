"""LIME family: superpixel segmentation, the local surrogate, LIME for images and G-LIME."""
from .glime import GLime
from .lime_image import LimeImage
from .local_model import fit_local_model
from .segmentation import segment

__all__ = ["GLime", "LimeImage", "fit_local_model", "segment"]
