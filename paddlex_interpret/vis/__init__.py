"""Figures and HTML views of explanations. Nothing here ever calls ``plt.show()``."""
from .lime_figure import lime_figure, save_lime_figure

__all__ = ["lime_figure", "save_lime_figure"]
