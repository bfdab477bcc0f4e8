"""What the GUI offers: the models given at launch (by id) and, per model, the methods of the engine's
registry with the parameters of their free functions in :mod:`paddlex_interpret.interpret`.

Methods and parameters are derived, not listed: a method added to ``engine/registry.py`` with its
free function shows up on the page with its keyword parameters and their defaults (as the CLI's
``explain`` subcommands do). Parameters the page must not set are left out: file-system paths
(``*_dir``, ``*_file``, ``dataset``, URLs), the model arguments, dict-valued ``*_params``,
figure/output switches. Values from the page are JSON scalars (or lists of numbers) coerced to the
type of the parameter's default; the method itself validates them further.
"""
from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

__all__ = ["ModelEntry", "resolve_models", "method_catalog", "method_parameters", "coerce_params",
           "expected_samples", "ParameterError"]

#: free-function parameters never offered on the page (inputs, models, output and figure switches)
_NOT_OFFERED = {"img_file", "text", "model", "models", "tokenizer", "save_dir", "progress", "channel_order",
                "save_figure", "styles", "style", "name", "dataset", "segmentation_params", "method_params",
                "metric_params", "prior_url", "prior_md5"}
#: parameter names that could carry a file-system path or an address: never offered
_PATH_LIKE = re.compile(r"(^|_)(dir|file|path|paths|url|dataset|folder)s?($|_)")
_ID = re.compile(r"[^A-Za-z0-9_.-]+")
#: the largest integer a parameter may take from the page (bounds the work a request can ask for)
MAX_INT_PARAM = 100_000


class ParameterError(ValueError):
    """A parameter from the page that the method does not take or of the wrong type."""


@dataclass
class ModelEntry:
    """A model the server explains: its id (used by the page and the API), kind and classifier."""

    id: str
    kind: str  # 'image' or 'text'
    classifier: Any
    description: str = ""
    num_classes: Optional[int] = None
    methods: List[dict] = field(default_factory=list)

    def public(self) -> dict:
        """What the API shows about the model (never a file-system path)."""
        return {"id": self.id, "kind": self.kind, "description": self.description, "num_classes": self.num_classes,
                "methods": self.methods}


def _is_text_dir(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "tokenizer_config.json"))


def _load(source):
    """``(kind, classifier, description)`` of one model given to :func:`create_app`."""
    from ..models import as_classifier
    from ..models.base import BaseTextClassifier, Classifier

    if isinstance(source, BaseTextClassifier):
        return "text", source, type(source).__name__
    if isinstance(source, Classifier):
        return "image", source, type(source).__name__
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if source == "demo":
            from .. import demo

            return "image", demo.load_model(), "EfficientNet-Lite0 (ImageNet, the demo model)"
        if _is_text_dir(path):
            from ..models.paddlenlp import load_text_classifier  # paddlenlp only for a text model

            return "text", load_text_classifier(path), f"text classifier '{os.path.basename(path.rstrip(os.sep))}'"
        return "image", as_classifier(path), f"image classifier '{os.path.basename(path.rstrip(os.sep))}'"
    return "image", as_classifier(source), type(source).__name__


def _model_id(name: str, taken) -> str:
    base = _ID.sub("-", str(name)).strip("-.") or "model"
    base = base[:40]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def resolve_models(models) -> Dict[str, ModelEntry]:
    """``{id: ModelEntry}`` for ``models``: a mapping name -> model, a list of models (or
    ``(name, model)`` pairs), one model, or None for the demo model. A model is anything
    :func:`paddlex_interpret.models.as_classifier` accepts, a text classifier
    (:class:`~paddlex_interpret.models.base.BaseTextClassifier`), a folder written by PaddleNLP's
    ``save_pretrained`` (a text model; paddlenlp is imported only then), or ``'demo'``."""
    if models is None:
        items = [("demo", "demo")]
    elif isinstance(models, Mapping):
        items = list(models.items())
    elif isinstance(models, (list, tuple)):
        items = []
        for i, m in enumerate(models):
            if isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str):
                items.append(m)
            else:
                items.append((_default_name(m, i), m))
    else:
        items = [(_default_name(models, 0), models)]
    if not items:
        raise ValueError("models must name at least one model (None gives the demo model)")
    entries: Dict[str, ModelEntry] = {}
    for name, source in items:
        kind, classifier, description = _load(source)
        entry = ModelEntry(id=_model_id(name, entries), kind=kind, classifier=classifier, description=description)
        try:
            entry.num_classes = int(classifier.num_classes)
        except Exception as exc:  # an adapter that cannot tell without labels: the page still works
            entry.num_classes = None
            entry.description += f" (class count unknown: {exc})"
        entry.methods = method_catalog(kind, classifier)
        entries[entry.id] = entry
    return entries


def _default_name(model, index: int) -> str:
    if isinstance(model, str) and model == "demo":
        return "demo"
    if isinstance(model, (str, os.PathLike)):
        return os.path.basename(os.fspath(model).rstrip(os.sep)) or f"model{index + 1}"
    return f"model{index + 1}"


def _kind_of(default) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, tuple) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default):
        return "tuple"
    if default is None:
        return "optional"
    return ""


def method_parameters(method: str) -> List[dict]:
    """``[{name, default, type}]``: the keyword parameters of ``method``'s free function the page may set."""
    from .. import interpret
    from ..engine import get_method

    sig = inspect.signature(getattr(interpret, get_method(method).function))
    params = []
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i == 0 or name in _NOT_OFFERED or _PATH_LIKE.search(name) or name.endswith("_params"):
            continue
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.default is p.empty:
            continue
        kind = _kind_of(p.default)
        if not kind:
            continue
        default = list(p.default) if isinstance(p.default, tuple) else p.default
        params.append({"name": name, "default": default, "type": kind,
                       "text_ok": kind in ("int", "float") and "str" in str(p.annotation),
                       "list_ok": kind in ("int", "float") and (p.annotation is p.empty or any(
                           w in str(p.annotation) for w in ("Sequence", "Tuple", "tuple")))})
    return params


def _why_not(spec, classifier) -> Optional[str]:
    """Why the page cannot run ``spec`` on ``classifier`` (None when it can)."""
    from .. import interpret

    function = getattr(interpret, spec.function, None)
    if not callable(function):
        return f"no free function interpret.{spec.function} yet"
    sig = inspect.signature(function)
    if "dataset" in sig.parameters:
        return "needs a dataset and prior assets (files): use the command line or interpret." + spec.function
    if "models" in sig.parameters:
        return "needs several models: use the command line or interpret." + spec.function
    if classifier is not None and spec.explains == "image" and spec.needs != "black_box":
        reason = classifier.gradients_unavailable() if hasattr(classifier, "gradients_unavailable") else None
        if reason:
            return f"needs gradients: {reason}"
    if classifier is not None and spec.needs == "attention":
        from ..models.base import attention_model, text_attention_model

        try:
            (text_attention_model if spec.explains == "text" else attention_model)(classifier)
        except TypeError as exc:  # AttentionUnavailableError: not a transformer; names what applies
            return str(exc)
    return None


def method_catalog(kind: str, classifier=None) -> List[dict]:
    """The registry's methods for a ``kind`` ('image' / 'text') model, in table order, each
    ``{name, summary, figure, needs, available, reason, params}``; ``available`` is False (and
    ``reason`` says why) for a method the page cannot run on ``classifier`` (when given)."""
    from ..engine import available

    out = []
    for spec in available(explains=kind):
        reason = _why_not(spec, classifier)
        out.append({"name": spec.name, "summary": spec.summary, "figure": spec.figure, "needs": spec.needs,
                    "available": reason is None, "reason": reason,
                    "params": method_parameters(spec.name) if reason is None else []})
    return out


def _number(value, name, integer: bool):
    if isinstance(value, bool):
        raise ParameterError(f"parameter {name} must be a number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            if not integer:
                raise ParameterError(f"parameter {name} must be a number, got {value!r}") from None
            try:
                as_float = float(text)
            except ValueError:
                raise ParameterError(f"parameter {name} must be an integer, got {value!r}") from None
            if not as_float.is_integer():
                raise ParameterError(f"parameter {name} must be an integer, got {value!r}") from None
            value = int(as_float)
    if integer:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise ParameterError(f"parameter {name} must be an integer, got {value!r}")
        if abs(value) > MAX_INT_PARAM:
            raise ParameterError(f"parameter {name} must be at most {MAX_INT_PARAM} in the GUI, got {value}")
        return value
    if not isinstance(value, (int, float)):
        raise ParameterError(f"parameter {name} must be a number, got {value!r}")
    return float(value)


def _free_value(value, name):
    """A value for a parameter whose default is None: null/'' -> None, numbers, 'a,b' numbers -> tuple, text."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _number(value, name, isinstance(value, int))
    if isinstance(value, list):
        return tuple(_number(v, name, isinstance(v, int)) for v in value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 200:
            raise ParameterError(f"parameter {name} is too long")
        if "," in text:
            try:
                return tuple(_number(v, name, "." not in v and "e" not in v.lower()) for v in text.split(","))
            except ParameterError:
                return text
        for integer in (True, False):
            try:
                return _number(text, name, integer)
            except ParameterError:
                pass
        return text
    raise ParameterError(f"parameter {name} must be a number, a short text or empty, got {type(value).__name__}")


def coerce_params(method: str, given: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The page's ``given`` values for ``method``, each coerced to its parameter's type; a
    :class:`ParameterError` names an unknown parameter (listing the valid ones) or a bad value."""
    spec = {p["name"]: p for p in method_parameters(method)}
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ParameterError("params must be a JSON object {name: value}")
    out = {}
    for name, value in given.items():
        if name not in spec:
            raise ParameterError(f"method {method} has no parameter {name!r} the GUI can set; "
                                 f"valid: {sorted(spec)}")
        kind = spec[name]["type"]
        if kind == "bool":
            if not isinstance(value, bool):
                raise ParameterError(f"parameter {name} must be true or false, got {value!r}")
            out[name] = value
        elif kind in ("int", "float"):
            try:
                out[name] = _number(value, name, kind == "int")
            except ParameterError:
                listed = spec[name]["list_ok"] and (isinstance(value, list)
                                                    or (isinstance(value, str) and "," in value))
                if not (listed or (spec[name]["text_ok"] and isinstance(value, str))):
                    raise
                # e.g. num_samples='auto', hide_color='mean', strides='3,8,8' (the method checks further)
                out[name] = _free_value(value, name)
                if listed and not isinstance(out[name], tuple):
                    raise

        elif kind == "str":
            if not isinstance(value, str) or len(value) > 200:
                raise ParameterError(f"parameter {name} must be a short text, got {value!r}")
            out[name] = value
        elif kind == "tuple":
            parts = value.split(",") if isinstance(value, str) else value
            if not isinstance(parts, list) or not parts:
                raise ParameterError(f"parameter {name} must be a list of numbers like "
                                     f"{','.join(map(str, spec[name]['default']))}, got {value!r}")
            ints = all(isinstance(v, int) for v in spec[name]["default"])
            out[name] = tuple(_number(v, name, ints) for v in parts)
        else:
            out[name] = _free_value(value, name)
    return out


def expected_samples(method: str, params: Mapping[str, Any], defaults: Mapping[str, Any],
                     input_shape: Optional[tuple] = None) -> Optional[int]:
    """The number of samples the model will score for ``method`` with ``params`` (the rest at their
    ``defaults``) on an image of ``input_shape`` (H, W, C as explained), for the progress bar's
    total; None when it is not known before the run (the bar then shows the samples done). The
    counts are checked against real runs in ``tests/test_gui_api.py``."""
    value = {**defaults, **params}
    try:
        if method in ("lime", "glime", "lime_text"):  # the first sample is the unperturbed input
            n = value.get("num_samples")
            if n == "auto":
                n = value.get("max_samples")
            return int(n) if n is not None else None
        if method in ("smoothgrad", "gradshap"):  # one prediction picks the class, then the samples
            return int(value["n_samples"]) + 1
        if method == "intgrad":
            trials = int(value["num_random_trials"]) if value.get("baselines") == "random" else 1
            return int(value["steps"]) * trials + 1
        if method in ("gradcam", "lrp"):  # the class, the forward, the backward's forward
            return 3
        if method == "occlusion" and input_shape is not None:
            dims = (input_shape[2], input_shape[0], input_shape[1])
            window = tuple(int(v) for v in value["sliding_window_shapes"])
            window = (dims[0],) + window if len(window) == 2 else window
            strides = value["strides"]
            strides = (int(strides),) * 2 if isinstance(strides, (int, float)) else tuple(int(v) for v in strides)
            strides = (window[0],) + strides if len(strides) == 2 else strides
            count = 1
            for d, w, s in zip(dims, window, strides):
                starts = len(range(0, d - w + 1, s))  # a grid of starts, plus one flush with the end
                count *= starts + (0 if (starts - 1) * s == d - w else 1)
            return count + 2  # the class and the unoccluded input
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return None
