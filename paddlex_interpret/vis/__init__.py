"""Figures and HTML views of explanations. Nothing here ever calls ``plt.show()``."""
from .heatmap import STYLES, normalize_map, render
from .lime_figure import lime_figure, save_lime_figure
from .pixel_figure import comparison_figure, figure_mode, pixel_figure, saliency_of, save_figure
from .text_html import explanation_to_html, explanations_to_html, save_text_comparison_html, save_text_html

__all__ = ["STYLES", "normalize_map", "render", "lime_figure", "save_lime_figure", "pixel_figure",
           "comparison_figure", "figure_mode", "saliency_of", "save_figure", "explanation_to_html", "save_text_html",
           "explanations_to_html", "save_text_comparison_html"]
