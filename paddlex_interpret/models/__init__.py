"""Model adapters: turn a user's model object into a :class:`Classifier` (images) or a
:class:`TextClassifier` (PaddleNLP sequence classifiers)."""
from __future__ import annotations

import os

from .base import Classifier, GradientsUnavailableError, LabelCountError, LabelledModel, check_overrides, eval_mode
from .paddle_layer import PaddleLayerClassifier
from .paddlenlp import Encoded, TextClassifier, Tokenized, as_text_classifier, is_text_classifier
from .static_model import StaticClassifier

__all__ = ["Classifier", "PaddleLayerClassifier", "StaticClassifier", "as_classifier", "eval_mode",
           "GradientsUnavailableError", "LabelCountError", "LabelledModel", "TextClassifier", "Tokenized", "Encoded",
           "as_text_classifier", "is_text_classifier"]

_EXPECTED = (
    "a paddle.nn.Layer image classifier (PaddleClas architectures included), a paddlex.create_model(...) "
    "object, a PaddleX model directory, a (PaddleClas config.yaml, weights.pdparams) pair, an exported model "
    "path (paddle.jit.save output, with preprocess=...), a legacy PaddleX 1.x/2.x classifier, a paddle.Model, "
    "a PaddleClas Engine, or a paddlex_interpret Classifier"
)


def _from_path(path: str, overrides: dict) -> Classifier:
    from .paddleclas import from_paddleclas_config
    from .paddlex3 import from_paddlex_model_dir, is_paddlex_model_dir, training_output_model_dir

    if is_paddlex_model_dir(path):
        return from_paddlex_model_dir(path, **overrides)
    best = training_output_model_dir(path)  # a PaddleX 3 training output folder: its best model
    if best is not None:
        return from_paddlex_model_dir(best, **overrides)
    if path.endswith((".yaml", ".yml")) and os.path.isfile(path):
        weights = overrides.pop("weights", None)
        return from_paddleclas_config(path, weights, **overrides)
    if path.endswith(".pdparams"):
        raise TypeError(
            f"{path!r} holds weights only; give the architecture too: as_classifier(('config.yaml', "
            f"'{os.path.basename(path)}')) for PaddleClas, or a paddle.nn.Layer with the weights loaded"
        )
    check_overrides(overrides, ("labels", "network", "output", "preprocess", "threads"), "an exported model")
    if "preprocess" not in overrides:
        from .inference_runner import find_static_model

        find_static_model(path)  # a clear "no model here" error comes first
        raise TypeError(
            f"{path!r} is an exported model without a PaddleX inference.yml: give preprocess=ImagePreprocess(...) "
            "(the program does not record how images were resized and normalised)"
        )
    return StaticClassifier(path, **overrides)


def as_classifier(model, **overrides) -> Classifier:
    """Wrap ``model`` in the matching adapter; the kind is recognised, not named.

    Parameters
    ----------
    model : object
        One of: a :class:`Classifier` (returned as is; no overrides); a ``paddle.nn.Layer``
        (PaddleClas architectures get PaddleClas's inference preprocessing); the result of
        ``paddlex.create_model(...)``; a path to a PaddleX model directory (``inference.yml``),
        a PaddleClas config YAML (weights via ``weights=``) or an exported model (needs
        ``preprocess=``); a tuple ``(paddleclas_config.yaml, weights.pdparams)``; a legacy PaddleX
        1.x/2.x classifier object; a ``paddle.Model``; a PaddleClas ``Engine`` (after ``engine.train()``).
    **overrides
        Adapter arguments: ``preprocess`` (ImagePreprocess), ``labels``, ``output``
        ('auto'|'logits'|'probabilities'), ``runner`` (dygraph models: 'auto'|'dygraph'|'inference'),
        ``network``/``weights`` (exported models: the dygraph twin for gradient methods),
        ``dataset`` (paddle.Model: derive preprocessing from its transforms). Which apply is
        checked per kind; an unknown one raises TypeError naming the valid ones.
    """
    if isinstance(model, Classifier):
        if overrides:
            raise TypeError(
                f"model is already a Classifier; overrides {sorted(overrides)} cannot be applied to it"
            )
        return model
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path) and not (os.path.exists(path + ".json") or os.path.exists(path + ".pdmodel")):
            raise FileNotFoundError(f"model path {path!r} does not exist")
        return _from_path(path, dict(overrides))
    if isinstance(model, tuple) and len(model) == 2 and all(isinstance(p, (str, os.PathLike)) for p in model):
        from .paddleclas import from_paddleclas_config

        return from_paddleclas_config(model[0], model[1], **overrides)

    from .paddlex3 import from_paddlex3_model, is_paddlex3_model

    if is_paddlex3_model(model):
        return from_paddlex3_model(model, **overrides)
    from .legacy_paddlex import from_legacy_paddlex, is_legacy_paddlex

    if is_legacy_paddlex(model):
        return from_legacy_paddlex(model, **overrides)
    from .hapi_model import from_paddle_model, is_paddle_model

    if is_paddle_model(model):
        return from_paddle_model(model, **overrides)
    from .paddleclas import from_paddleclas_engine, is_paddleclas_engine

    if is_paddleclas_engine(model):
        return from_paddleclas_engine(model, **overrides)
    import paddle

    if isinstance(model, paddle.nn.Layer):
        from .paddleclas import from_paddleclas_network, is_paddleclas_network

        if is_paddleclas_network(model):
            return from_paddleclas_network(model, **overrides)
        if _looks_like_text_model(model):
            raise TypeError(
                f"{type(model).__name__} is a text classifier; explain it with interpret.lime_text(text, model, "
                "tokenizer)"
            )
        check_overrides(overrides, ("labels", "output", "preprocess", "runner"), "a paddle.nn.Layer")
        return PaddleLayerClassifier(model, **overrides)
    raise TypeError(f"cannot explain a {type(model).__module__}.{type(model).__name__}: expected {_EXPECTED}")


def _looks_like_text_model(layer) -> bool:
    module = type(layer).__module__ or ""
    return module.startswith("paddlenlp.") and "SequenceClassification" in type(layer).__name__
