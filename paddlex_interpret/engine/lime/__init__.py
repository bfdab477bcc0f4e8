"""LIME family: the shared local surrogate, LIME for images and text, G-LIME and NormLIME.

Modules: ``local_model`` (kernel, surrogate fits, the explainer base both LIMEs share),
``lime_image``, ``lime_text``, ``glime``, ``global_weights`` (NormLIME's weights and their file),
``normlime_dataset`` (computing them over a dataset, reusing a matching file) and ``normlime``
(explaining one image with them).
"""
from .glime import GLime
from .lime_image import LimeImage
from .local_model import fit_local_model

__all__ = ["GLime", "LimeImage", "LimeText", "NormLime", "fit_local_model"]


def __getattr__(name):  # text and NormLIME load on first use
    if name == "LimeText":
        from .lime_text import LimeText

        return LimeText
    if name == "NormLime":
        from .normlime import NormLime

        return NormLime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
