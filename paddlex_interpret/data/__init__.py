"""Image (and later text) input handling."""
from .image import ImageSource, image_name, load_image
from .transforms import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess

__all__ = ["ImageSource", "load_image", "image_name", "ImagePreprocess", "IMAGENET_MEAN", "IMAGENET_STD"]
