"""Inputs: loading images, their preprocessing, superpixel segmentation and datasets."""
from .image import ImageSource, image_name, load_image
from .segmentation import DEFAULT_SEGMENTATION_PARAMS, SEGMENTERS, segment
from .transforms import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess

__all__ = ["ImageSource", "load_image", "image_name", "ImagePreprocess", "IMAGENET_MEAN", "IMAGENET_STD", "segment",
           "SEGMENTERS", "DEFAULT_SEGMENTATION_PARAMS"]
