"""paddlex_interpret: explain the predictions of PaddlePaddle image and text classifiers.

``from paddlex_interpret import interpret; interpret.lime("cat.jpg", model, save_dir="out")``
"""
__version__ = "0.1.0"

__all__ = ["interpret", "models", "data", "engine", "vis", "__version__"]


def __getattr__(name):  # keep ``import paddlex_interpret`` light: paddle loads on first use
    if name in ("interpret", "models", "data", "engine", "vis", "demo"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'paddlex_interpret' has no attribute {name!r}")
